//! A pool of front ends (OCS 2007 Enterprise Edition): what one engine knows of the others.
//!
//! - **Where users are**: a binding registered here carries this front end's pool URI on
//!   top of its Path (RFC 3327), and the store shares it; a front end that has a request for
//!   that user pushes the Path as Route and sends it to the node on top, over the link it
//!   holds to it ([`Engine::pool_link`](super::Engine::pool_link)). That node pops itself and
//!   delivers over the user's flow.
//! - **Dialogs across nodes**: a node record-routes twice when a request crosses between a
//!   client and the pool (RFC 5658), its pool URI on the pool side, so that in-dialog
//!   requests find their way back through both nodes.
//! - **Trust**: every request sent on a link carries `Ocs-Pool-Auth: <node> <unix time>
//!   <HMAC-SHA256>` right after its request line, keyed with the pool's shared secret over
//!   the node, the time, the receiving node's pool address and the whole message without
//!   that line. A node takes requests on its pool listener only with a valid one no further
//!   than [`MAX_SKEW`] from its clock, and each signature once (a replay within the window is
//!   dropped): the user was authenticated by the node they are connected to, which asserts
//!   who sent it. Nothing from a client connection is ever trusted so. The links are plain
//!   TCP: keep the pool listeners on the pool's private network (SDP keys cross them).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::SystemTime;

use bytes::{BufMut, Bytes, BytesMut};
use hmac::{KeyInit, Mac};

use super::core::{ConnId, Peer, unix};
use crate::sip::Message;

/// The header a link's requests carry.
pub const AUTH_HEADER: &str = "Ocs-Pool-Auth";

/// How far a request's time may be from ours (either way), in seconds.
pub const MAX_SKEW: u64 = 30;

/// Signatures remembered against replay (those of the last `2 × MAX_SKEW` seconds, at most
/// this many: past it the oldest are forgotten first).
const MAX_SEEN: usize = 1 << 20;

/// A front end's place in its pool ([`crate::server::sip::EngineConfig::pool`]).
#[derive(Clone)]
pub struct PoolConfig {
    /// This node's name, unique in the pool.
    pub name: String,
    /// Where the other nodes reach it: its pool listener (SIP over TCP).
    pub addr: SocketAddr,
    /// The secret every node of the pool shares (at least 16 bytes).
    pub secret: Vec<u8>,
}

impl std::fmt::Debug for PoolConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PoolConfig")
            .field("name", &self.name)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// `bytes` as a link of the node `cfg` sends it at `wall` to the node whose pool listener is
/// `to`: a request gets the `Ocs-Pool-Auth` line after its request line; a response is
/// unchanged.
#[must_use]
pub fn sign(cfg: &PoolConfig, to: SocketAddr, bytes: Bytes, wall: SystemTime) -> Bytes {
    Pool::new(cfg.clone()).sign(to, bytes, wall)
}

/// The pool URI of the node at `addr`: what it puts in Path and Record-Route.
#[must_use]
pub fn pool_uri(addr: SocketAddr) -> String {
    format!("<sip:{addr};transport=tcp;lr>")
}

/// One engine's view of its pool: see the [module documentation](self).
pub(super) struct Pool {
    pub(super) cfg: PoolConfig,
    /// Our pool URI.
    pub(super) uri: String,
    /// The other nodes' pool addresses → the link we hold to each (none while it is down).
    links: HashMap<SocketAddr, Option<Peer>>,
    /// The connections of those links (asked of every message sent and received).
    link_conns: HashSet<ConnId>,
    /// Connections on our pool listener (from the other nodes' links).
    inbound: HashSet<ConnId>,
    /// Those that carried a request that verified.
    proven: HashSet<ConnId>,
    /// Signatures taken lately (their time, their first 16 bytes), against replay.
    seen: std::collections::VecDeque<(u64, [u8; 16])>,
    seen_set: HashSet<[u8; 16]>,
    /// The live nodes by name (from the heartbeats).
    names: HashMap<String, SocketAddr>,
    /// Conferences other nodes own, by (organizer, conference ID) → owner's name.
    conferences: HashMap<(String, String), String>,
}

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

impl Pool {
    pub(super) fn new(cfg: PoolConfig) -> Pool {
        Pool {
            uri: pool_uri(cfg.addr),
            cfg,
            links: HashMap::new(),
            link_conns: HashSet::new(),
            inbound: HashSet::new(),
            proven: HashSet::new(),
            seen: std::collections::VecDeque::new(),
            seen_set: HashSet::new(),
            names: HashMap::new(),
            conferences: HashMap::new(),
        }
    }

    /// The live nodes, by name and pool listener.
    pub(super) fn nodes(&mut self, live: &[(String, SocketAddr)]) {
        self.names = live.iter().cloned().collect();
    }

    /// The conference `key` is owned by node `owner` (`None`: by nobody else: gone, or ours).
    pub(super) fn conference(&mut self, key: (String, String), owner: Option<&str>) {
        match owner {
            Some(o) if o != self.cfg.name => {
                self.conferences.insert(key, o.to_owned());
            }
            _ => {
                self.conferences.remove(&key);
            }
        }
    }

    /// Where the conference `key` lives, if another node owns it: its name and, when it is
    /// alive, its pool listener.
    pub(super) fn conference_owner(
        &self,
        key: &(String, String),
    ) -> Option<(&str, Option<SocketAddr>)> {
        let owner = self.conferences.get(key)?;
        Some((owner.as_str(), self.names.get(owner).copied()))
    }

    /// Whether `peer` is a pool connection that carried a request that verified (it keeps
    /// its place when the listener is full).
    pub(super) fn proven(&self, peer: &Peer) -> bool {
        matches!(peer, Peer::Stream { conn, .. } if self.proven.contains(conn))
    }

    /// The link to the node at `addr` is up (`Some`) or down: either way it is a node of
    /// the pool.
    pub(super) fn link(&mut self, addr: SocketAddr, peer: Option<Peer>) {
        if let Some(Some(Peer::Stream { conn, .. })) = self.links.insert(addr, peer) {
            self.link_conns.remove(&conn);
        }
        if let Some(Peer::Stream { conn, .. }) = peer {
            self.link_conns.insert(conn);
        }
    }

    /// A connection on our pool listener.
    pub(super) fn inbound(&mut self, conn: ConnId) {
        self.inbound.insert(conn);
    }

    /// A connection closed.
    pub(super) fn closed(&mut self, conn: ConnId) {
        self.inbound.remove(&conn);
        self.proven.remove(&conn);
        self.link_conns.remove(&conn);
        for p in self.links.values_mut() {
            if matches!(p, Some(Peer::Stream { conn: c, .. }) if *c == conn) {
                *p = None;
            }
        }
    }

    /// The link to the node at `addr`, if we hold one.
    pub(super) fn link_to(&self, addr: SocketAddr) -> Option<Peer> {
        self.links.get(&addr).copied().flatten()
    }

    /// Whether `addr` is another node's pool listener.
    pub(super) fn is_node(&self, addr: SocketAddr) -> bool {
        self.links.contains_key(&addr)
    }

    /// Whether `peer` came in on our pool listener.
    pub(super) fn is_inbound(&self, peer: &Peer) -> bool {
        matches!(peer, Peer::Stream { conn, .. } if self.inbound.contains(conn))
    }

    /// Whether `peer` is one of our links to the other nodes.
    pub(super) fn is_link(&self, peer: &Peer) -> bool {
        matches!(peer, Peer::Stream { conn, .. } if self.link_conns.contains(conn))
    }

    /// Whether `peer` is another node of the pool (either way).
    pub(super) fn is_pool_peer(&self, peer: &Peer) -> bool {
        self.is_inbound(peer) || self.is_link(peer)
    }

    fn mac(&self, ts: u64, node: &str, to: SocketAddr, message: &[&[u8]]) -> HmacSha256 {
        // The secret is checked to be at least 16 bytes where it is configured; HMAC takes
        // keys of any length.
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.cfg.secret)
            .unwrap_or_else(|_| <HmacSha256 as KeyInit>::new(&Default::default()));
        m.update(b"ocs-pool\0");
        m.update(node.as_bytes());
        m.update(b"\0");
        m.update(ts.to_string().as_bytes());
        m.update(b"\0");
        m.update(to.to_string().as_bytes());
        m.update(b"\0");
        for part in message {
            m.update(part);
        }
        m
    }

    /// `bytes` (a request for a link) with our `Ocs-Pool-Auth` line after its request line;
    /// anything else unchanged.
    pub(super) fn sign(&self, to: SocketAddr, bytes: Bytes, wall: SystemTime) -> Bytes {
        if bytes.starts_with(b"SIP/2.0 ") {
            return bytes;
        }
        let Some(eol) = bytes.windows(2).position(|w| w == b"\r\n") else {
            return bytes;
        };
        let ts = unix(wall);
        let tag = self
            .mac(ts, &self.cfg.name, to, &[&bytes[..]])
            .finalize()
            .into_bytes();
        let line = format!(
            "{AUTH_HEADER}: {} {ts} {}\r\n",
            self.cfg.name,
            hex::encode(tag)
        );
        let mut out = BytesMut::with_capacity(bytes.len() + line.len());
        out.put_slice(&bytes[..eol + 2]);
        out.put_slice(line.as_bytes());
        out.put_slice(&bytes[eol + 2..]);
        out.freeze()
    }

    /// A request from our pool listener, verified: the message without its `Ocs-Pool-Auth`
    /// line and the node that sent it; `Err` with why it is refused.
    pub(super) fn verify(
        &mut self,
        m: &Message,
        peer: &Peer,
        wall: SystemTime,
    ) -> Result<(Message, String), String> {
        let bytes = m.to_bytes();
        let eol = bytes
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("no request line")?;
        let rest = &bytes[eol + 2..];
        let prefix = format!("{AUTH_HEADER}: ");
        if !rest.starts_with(prefix.as_bytes()) {
            return Err(format!("no {AUTH_HEADER} after the request line"));
        }
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("unterminated header")?;
        let value = std::str::from_utf8(&rest[prefix.len()..line_end])
            .map_err(|_| format!("{AUTH_HEADER} is not UTF-8"))?;
        let mut parts = value.split_ascii_whitespace();
        let (Some(node), Some(ts), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{AUTH_HEADER} is not `node time mac`"));
        };
        let ts: u64 = ts.parse().map_err(|_| "a time that is not a number")?;
        if unix(wall).abs_diff(ts) > MAX_SKEW {
            return Err(format!(
                "a time {}s away from ours",
                unix(wall).abs_diff(ts)
            ));
        }
        let tag = hex::decode(tag).map_err(|_| "a MAC that is not hex")?;
        let body = &rest[line_end + 2..];
        self.mac(ts, node, self.cfg.addr, &[&bytes[..eol + 2], body])
            .verify_slice(&tag)
            .map_err(|_| format!("a MAC that does not verify (node {node})"))?;
        // Each signature once.
        let mut key = [0u8; 16];
        for (k, t) in key.iter_mut().zip(&tag) {
            *k = *t;
        }
        let now = unix(wall);
        while self
            .seen
            .front()
            .is_some_and(|(t, _)| now.saturating_sub(*t) > 2 * MAX_SKEW)
            || self.seen.len() >= MAX_SEEN
        {
            if let Some((_, k)) = self.seen.pop_front() {
                self.seen_set.remove(&k);
            }
        }
        if !self.seen_set.insert(key) {
            return Err(format!("a signature seen before (node {node}): a replay"));
        }
        self.seen.push_back((ts, key));
        if let Peer::Stream { conn, .. } = peer {
            self.proven.insert(*conn);
        }
        let mut clean = BytesMut::with_capacity(bytes.len() - line_end - 2);
        clean.put_slice(&bytes[..eol + 2]);
        clean.put_slice(body);
        let clean = Message::parse(clean.freeze()).map_err(|e| e.to_string())?;
        Ok((clean, node.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(name: &str, secret: &[u8]) -> Pool {
        Pool::new(PoolConfig {
            name: name.into(),
            addr: "127.0.0.1:5070".parse().unwrap(),
            secret: secret.to_vec(),
        })
    }

    const REQ: &[u8] = b"MESSAGE sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:5070;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.com>;tag=a\r\nTo: <sip:bob@contoso.com>\r\nCall-ID: c1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 69\r\nContent-Length: 2\r\n\r\nhi";

    #[test]
    fn a_signed_request_verifies_and_comes_back_as_it_was() {
        let a = pool("fe1", b"0123456789abcdef-secret");
        let mut b = pool("fe2", b"0123456789abcdef-secret");
        let wall = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let to = b.cfg.addr;
        let signed = a.sign(to, Bytes::from_static(REQ), wall);
        assert!(
            signed
                .windows(AUTH_HEADER.len())
                .any(|w| w == AUTH_HEADER.as_bytes())
        );
        let m = Message::parse(signed.clone()).unwrap();
        let peer = Peer::Stream {
            conn: 3,
            addr: "127.0.0.1:40000".parse().unwrap(),
            tls: false,
        };
        assert!(!b.proven(&peer));
        let (clean, node) = b.verify(&m, &peer, wall).unwrap();
        assert_eq!(node, "fe1");
        assert_eq!(&clean.to_bytes()[..], REQ);
        assert!(
            b.proven(&peer),
            "a connection that carried a verified request"
        );
        // Once only: the same signed request again is a replay.
        assert!(b.verify(&m, &peer, wall).unwrap_err().contains("replay"));
        // Signed for another node: not for this one.
        let elsewhere = a.sign(
            "127.0.0.1:5999".parse().unwrap(),
            Bytes::from_static(REQ),
            wall,
        );
        let m = Message::parse(elsewhere).unwrap();
        assert!(
            b.verify(&m, &peer, wall)
                .unwrap_err()
                .contains("does not verify")
        );
        // Responses are not signed.
        let resp = Bytes::from_static(b"SIP/2.0 200 OK\r\n\r\n");
        assert_eq!(a.sign(to, resp.clone(), wall), resp);
    }

    #[test]
    fn a_changed_byte_a_stale_time_another_secret_or_no_signature_is_refused() {
        let a = pool("fe1", b"0123456789abcdef-secret");
        let mut b = pool("fe2", b"0123456789abcdef-secret");
        let wall = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_800_000_000);
        let peer = Peer::Udp("127.0.0.1:40000".parse().unwrap());
        let signed = a.sign(b.cfg.addr, Bytes::from_static(REQ), wall).to_vec();
        // Every byte of the body and of the headers after the signature line counts.
        let body_at = signed.len() - 1;
        let mut tampered = signed.clone();
        tampered[body_at] ^= 1;
        let m = Message::parse(Bytes::from(tampered)).unwrap();
        assert!(
            b.verify(&m, &peer, wall)
                .unwrap_err()
                .contains("does not verify")
        );
        let text = String::from_utf8(signed.clone()).unwrap();
        let forged = text.replace("From: <sip:alice@", "From: <sip:carol@");
        let m = Message::parse(Bytes::from(forged)).unwrap();
        assert!(b.verify(&m, &peer, wall).is_err(), "another From");
        let m = Message::parse(Bytes::from(signed.clone())).unwrap();
        let later = wall + std::time::Duration::from_secs(MAX_SKEW + 1);
        assert!(
            b.verify(&m, &peer, later)
                .unwrap_err()
                .contains("away from ours")
        );
        let mut other = pool("fe2", b"another-secret-of-16+");
        assert!(other.verify(&m, &peer, wall).is_err());
        let plain = Message::parse(Bytes::from_static(REQ)).unwrap();
        assert!(
            b.verify(&plain, &peer, wall)
                .unwrap_err()
                .contains("no Ocs-Pool-Auth")
        );
    }
}
