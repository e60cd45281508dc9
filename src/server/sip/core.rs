//! The SIP core every application shares: the transaction layer, where each transaction's
//! messages go, this server's addresses, the tokens and keys it makes, the single output
//! queue, and store tickets with the responses held until their write is committed.
//!
//! Applications answer through [`Core::reply`] / [`Core::respond`], originate requests through
//! [`Core::originate`], and queue everything else as an [`Output`]. Nothing here knows about
//! registrations, conferences or MCUs.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use super::pool::Pool;
use super::security::Security;
use super::{EngineConfig, Output, Stats, StoreOp};
use crate::sip::Message;
use crate::sip::transaction::{Timers, TransactionLayer, Transport, TxKey};
use crate::sip::uri::Host;

/// A connection of a stream transport (TCP or TLS), numbered by the transport.
pub type ConnId = u64;

/// Where a message came from or goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Peer {
    /// A UDP address.
    Udp(SocketAddr),
    /// A TCP or TLS connection, with its remote address.
    Stream {
        /// The connection.
        conn: ConnId,
        /// The remote address.
        addr: SocketAddr,
        /// TLS rather than TCP.
        tls: bool,
    },
}

impl Peer {
    /// The remote address.
    #[must_use]
    pub fn addr(&self) -> SocketAddr {
        match *self {
            Peer::Udp(a) | Peer::Stream { addr: a, .. } => a,
        }
    }

    pub(super) fn transport(&self) -> Transport {
        match self {
            Peer::Udp(_) => Transport::Unreliable,
            Peer::Stream { .. } => Transport::Reliable,
        }
    }

    pub(super) fn via_transport(&self) -> &'static str {
        match self {
            Peer::Udp(_) => "UDP",
            Peer::Stream { tls: false, .. } => "TCP",
            Peer::Stream { tls: true, .. } => "TLS",
        }
    }
}

/// Bytes for a peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// Where.
    pub peer: Peer,
    /// The message.
    pub bytes: Bytes,
}

pub(super) fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Values nobody can predict from what the server sent before: ChaCha (`rand`'s `StdRng`)
/// seeded from the engine's seed and a label, so that each user of the seed has a stream of
/// its own.
pub(crate) struct Unpredictable(rand::rngs::StdRng);

impl Unpredictable {
    pub(crate) fn new(seed: &[u8; 32], label: &[u8]) -> Unpredictable {
        use rand::SeedableRng as _;
        Unpredictable(rand::rngs::StdRng::from_seed(super::derive_seed(
            seed, label,
        )))
    }

    /// Eight fresh bytes.
    pub(crate) fn next_bytes(&mut self) -> [u8; 8] {
        rand::Rng::next_u64(&mut self.0).to_le_bytes()
    }
}

/// The shared SIP core: see the [module documentation](self).
pub(super) struct Core {
    pub(super) cfg: EngineConfig,
    pub(super) layer: TransactionLayer,
    /// Where each transaction's messages go.
    pub(super) peers: HashMap<TxKey, Peer>,
    out: VecDeque<Output>,
    /// Responses held until their ticket is committed: (ticket, server tx, response).
    held: VecDeque<(u64, TxKey, Message)>,
    next_ticket: u64,
    /// Makes tags, branches and unpredictable values (NTLM server challenges).
    pub(super) secret: Unpredictable,
    pub(super) stats: Stats,
    /// Where the transaction layer writes what it sends (a message is at most 64 KiB; the
    /// margin covers what the layer adds).
    tx_buf: Vec<u8>,
    /// Authentication, the clients' security associations, and the signing of what we send.
    pub(super) security: Security,
    /// The other front ends, when this one is in a pool.
    pub(super) pool: Option<Pool>,
    /// The wall clock at the latest input (what a request to the pool is signed with).
    pub(super) wall: SystemTime,
}

impl Core {
    pub(super) fn new(cfg: EngineConfig, seed: &[u8; 32], now: Instant) -> Core {
        let mut layer = TransactionLayer::new(Timers::default());
        layer.max_transactions = cfg.max_transactions.max(1);
        Core {
            security: Security::new(&cfg, *seed, now),
            cfg,
            layer,
            peers: HashMap::new(),
            out: VecDeque::new(),
            held: VecDeque::new(),
            next_ticket: 1,
            // A stream of its own, apart from the Digest nonces' key.
            secret: Unpredictable::new(seed, b"ocs-engine challenges"),
            stats: Stats::default(),
            tx_buf: vec![0; 80 * 1024],
            pool: None,
            wall: UNIX_EPOCH,
        }
    }

    /// What goes to `peer`: signed for a link to another front end, sealed for a client
    /// with a security association.
    fn outgoing(&mut self, peer: &Peer, bytes: Bytes) -> Bytes {
        match &self.pool {
            Some(pool) if pool.is_link(peer) => pool.sign(peer.addr(), bytes, self.wall),
            _ => self.security.seal(peer, bytes),
        }
    }

    /// Whether `peer` is another front end of our pool.
    pub(super) fn is_pool_peer(&self, peer: &Peer) -> bool {
        self.pool.as_ref().is_some_and(|p| p.is_pool_peer(peer))
    }

    /// A fresh token (tags, branches): 64 unpredictable bits in hex.
    pub(super) fn token(&mut self) -> String {
        format!("{:016x}", u64::from_le_bytes(self.secret.next_bytes()))
    }

    /// Eight bytes nobody can predict.
    pub(super) fn unpredictable(&mut self) -> [u8; 8] {
        self.secret.next_bytes()
    }

    pub(super) fn push(&mut self, o: Output) {
        self.out.push_back(o);
    }

    pub(super) fn pop(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    /// Bytes straight to a peer, outside any transaction (a BENOTIFY, a stateless forward).
    pub(super) fn send(&mut self, peer: Peer, bytes: Bytes) {
        let bytes = self.outgoing(&peer, bytes);
        self.out
            .push_back(Output::Transmit(Outbound { peer, bytes }));
    }

    /// A write for the store; its ticket.
    pub(super) fn store(&mut self, op: StoreOp) -> u64 {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.out.push_back(Output::Store { ticket, op });
        ticket
    }

    /// Sends `resp` on the server transaction `key` once `ticket` is committed.
    pub(super) fn hold(&mut self, ticket: u64, key: TxKey, resp: Message) {
        self.held.push_back((ticket, key, resp));
    }

    /// The store has committed every write up to `ticket`: held responses go out.
    pub(super) fn committed(&mut self, now: Instant, ticket: u64) {
        while let Some((t, _, _)) = self.held.front() {
            if *t > ticket {
                break;
            }
            if let Some((_, key, resp)) = self.held.pop_front() {
                let _ = self.layer.respond(now, key, resp);
            }
        }
        self.flush_transmits();
    }

    /// The store could not commit the writes of tickets `first..=last`: the responses held
    /// for them become `500` with `Retry-After` (the client tries again), so that no later
    /// commit releases an acknowledgement of what was not stored.
    pub(super) fn store_failed(&mut self, now: Instant, first: u64, last: u64) {
        let held = std::mem::take(&mut self.held);
        for (t, key, resp) in held {
            if (first..=last).contains(&t) {
                let failed = self.layer.request(key).cloned().and_then(|req| {
                    req.response(500, "Server Internal Error", "")
                        .header("Retry-After", 5)
                        .build()
                        .ok()
                });
                if let Some(r) = failed {
                    self.stats.rejected += 1;
                    let _ = self.layer.respond(now, key, r);
                }
            } else {
                self.held.push_back((t, key, resp));
            }
        }
        self.flush_transmits();
    }

    /// Moves what the transaction layer sends into the output queue.
    pub(super) fn flush_transmits(&mut self) {
        while let Ok(Some(t)) = self.layer.poll_transmit(&mut self.tx_buf) {
            if let Some(&peer) = self.peers.get(&t.key) {
                let bytes = Bytes::copy_from_slice(&self.tx_buf[..t.len]);
                let bytes = self.outgoing(&peer, bytes);
                self.out
                    .push_back(Output::Transmit(Outbound { peer, bytes }));
            }
        }
    }

    /// Answers the server transaction `key` with `resp`.
    pub(super) fn respond(&mut self, now: Instant, key: TxKey, resp: Message) {
        if resp.status().is_some_and(|c| c >= 300) {
            self.stats.rejected += 1;
        }
        let _ = self.layer.respond(now, key, resp);
    }

    pub(super) fn reply(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        code: u16,
        reason: &str,
    ) {
        self.reply_with(now, key, req, code, reason, &[]);
    }

    pub(super) fn reply_with(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        code: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        let tag = if code > 100 {
            self.token()
        } else {
            String::new()
        };
        let mut b = req.response(code, reason, &tag);
        for (n, v) in headers {
            b = b.header(n, v);
        }
        if let Ok(r) = b.build() {
            self.respond(now, key, r);
        }
    }

    /// `403` with a `Warning` saying why (RFC 3261 §20.43; pidgin-sipe shows its text to the
    /// user instead of "no reason given"), statelessly.
    pub(super) fn forbid(&mut self, key: TxKey, req: &Message, why: &str) {
        let warning = format!("399 {} \"{why}\"", self.cfg.ntlm_target);
        self.refuse(key, req, 403, "Forbidden", &[("Warning", warning)]);
    }

    /// A final answer that keeps no transaction (challenges, refusals to peers not yet
    /// authenticated: RFC 3261 §26.3.2.4): a flood of them costs no memory.
    pub(super) fn refuse(
        &mut self,
        key: TxKey,
        req: &Message,
        code: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        let tag = self.token();
        let mut b = req.response(code, reason, &tag);
        for (n, v) in headers {
            b = b.header(n, v);
        }
        if let Ok(r) = b.build() {
            self.stats.rejected += 1;
            let _ = self.layer.respond_stateless(key, r);
        }
    }

    /// `405` with what conference and MCU URIs take.
    pub(super) fn method_not_allowed(&mut self, now: Instant, key: TxKey, req: &Message) {
        self.reply_with(
            now,
            key,
            req,
            405,
            "Method Not Allowed",
            &[(
                "Allow",
                "INVITE, ACK, BYE, CANCEL, INFO, SUBSCRIBE, SERVICE, MESSAGE".into(),
            )],
        );
    }

    /// Sends a request we originate (or forward) through a client transaction to `peer`.
    pub(super) fn originate(&mut self, now: Instant, msg: Message, peer: Peer) -> Option<TxKey> {
        let k = self.layer.send_request(now, msg, peer.transport()).ok()?;
        self.peers.insert(k, peer);
        Some(k)
    }

    /// Whether `host[:port]` names this server: the domain or one of its aliases (any port),
    /// or one of our listening addresses (address and port, 5060 when absent).
    pub(super) fn is_us(&self, host: &Host<'_>, port: Option<u16>) -> bool {
        if let Host::Domain(name) = host
            && (name.eq_ignore_ascii_case(&self.cfg.domain)
                || self
                    .cfg
                    .local_hosts
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case(name)))
        {
            return true;
        }
        self.is_our_addr(host, port.unwrap_or(5060))
    }

    /// Whether `host:port` is one of our listening addresses (by value, no text compared).
    pub(super) fn is_our_addr(&self, host: &Host<'_>, port: u16) -> bool {
        let Some(ip) = host.ip() else {
            return false;
        };
        let pool = self.pool.as_ref().map(|p| p.cfg.addr);
        [
            self.cfg.udp_addr,
            self.cfg.tcp_addr,
            self.cfg.tls_addr,
            pool,
        ]
        .iter()
        .flatten()
        .chain(&self.cfg.aliases)
        .any(|a| a.port() == port && a.ip() == ip)
    }

    /// A Request-URI with no user part naming us (OPTIONS pings, REGISTER).
    pub(super) fn request_uri_is_us(&self, req: &Message) -> bool {
        match req.request_uri() {
            Some(Ok(u)) => u
                .as_sip()
                .is_some_and(|s| s.user.is_none() && self.is_us(&s.host, s.port)),
            _ => false,
        }
    }

    /// A Request-URI whose host names us (a user of ours, a conference of ours).
    pub(super) fn request_uri_host_is_us(&self, req: &Message) -> bool {
        matches!(req.request_uri(), Some(Ok(u)) if u.as_sip().is_some_and(|s| self.is_us(&s.host, s.port)))
    }

    /// The `sent-by` of our Via on `peer`'s transport.
    pub(super) fn sent_by(&self, peer: &Peer) -> String {
        if let Some(pool) = self.pool.as_ref().filter(|p| p.is_pool_peer(peer)) {
            return pool.cfg.addr.to_string();
        }
        match peer {
            Peer::Udp(_) => self.cfg.udp_addr,
            Peer::Stream { tls: false, .. } => self.cfg.tcp_addr,
            Peer::Stream { tls: true, .. } => self.cfg.tls_addr,
        }
        .or(self.cfg.udp_addr)
        .map_or_else(|| "127.0.0.1:5060".to_owned(), |a| a.to_string())
    }

    /// A fresh branch and our `sent-by` for a request to `peer`.
    pub(super) fn hop(&mut self, peer: &Peer) -> (String, String) {
        (format!("z9hG4bK{}", self.token()), self.sent_by(peer))
    }

    /// Our Via for a request going out on `peer`'s transport, with a fresh branch.
    pub(super) fn our_via(&mut self, peer: &Peer) -> String {
        let (branch, addr) = self.hop(peer);
        format!("SIP/2.0/{} {addr};branch={branch}", peer.via_transport())
    }

    /// Our Record-Route value for `peer`'s transport, if we listen on it.
    pub(super) fn record_route(&self, peer: &Peer) -> Option<String> {
        if let Some(pool) = self.pool.as_ref().filter(|p| p.is_pool_peer(peer)) {
            return Some(pool.uri.clone());
        }
        let (addr, t) = match peer {
            Peer::Udp(_) => (self.cfg.udp_addr?, "udp"),
            Peer::Stream { tls: false, .. } => (self.cfg.tcp_addr?, "tcp"),
            Peer::Stream { tls: true, .. } => (self.cfg.tls_addr?, "tls"),
        };
        Some(format!("<sip:{addr};transport={t};lr>"))
    }
}
