//! Who sent each request, and [MS-SIPAE] signatures on everything we send to a client.
//!
//! **Every request is authenticated** (with authentication configured; `auth = []` turns it
//! off for load tests and says so in the log), REGISTER by the registrar's challenge and every
//! other request here, before any application sees it:
//!
//! - **NTLM clients** ([MS-SIPAE] 3.3.5): the security association made by the REGISTER
//!   handshake is kept per client — per connection for TCP/TLS, per address for UDP — and
//!   every later request must be signed by it (`Authorization: NTLM … opaque, crand, cnum,
//!   response`): signature, sequence number (no replay) and the association's realm and
//!   target are checked. An unsigned or badly signed request, or one signed by another
//!   connection's association, is answered `401` with a fresh challenge; an association older
//!   than its lifetime (8 h) is forgotten and renegotiated the same way.
//! - **Digest clients** (RFC 3261 §22.3): a request with valid `Proxy-Authorization` (or
//!   `Authorization`) credentials — the `uri` the Request-URI, `qop=auth` with a fresh nonce
//!   count — is that user's. **Our choice**: a TCP/TLS connection on which a Digest REGISTER
//!   succeeded is trusted for that user until it closes (as a proxy trusts a flow, RFC 5626),
//!   so a registered client is not challenged on every request; over UDP, where addresses
//!   can be forged, every request is challenged (`407`).
//! - Failed attempts are counted per source address and per user: past
//!   [`EngineConfig::auth_failure_limit`](super::EngineConfig) in a minute, further attempts
//!   are refused `403` with `Retry-After` (and logged) until the minute is over.
//!
//! The identity is the authenticated user, never a header: a request whose From is another
//! user of ours is refused `403` by the engine.
//!
//! **Every message to a client with an association is signed** ([`Security::seal`]): responses,
//! forwarded requests and responses, and what the server originates (NOTIFY, BENOTIFY, INFO,
//! BYE) alike get `Authentication-Info: NTLM … srand, snum, rspauth`. Challenges (`401`/`407`)
//! are not signed (the client may be renegotiating). Credentials and signatures of the previous
//! hop are removed from everything forwarded. Messages a client sends in answer (its
//! responses) must be signed too when it has an association; unsigned or badly signed ones are
//! dropped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::core::{Core, Peer};
use super::registrar::Directory;
use crate::sip::digest::{Algorithm, DigestError, DigestServer};
use crate::sip::headers::{Auth, AuthScheme};
use crate::sip::ntlm::{Credentials, TargetInfo};
use crate::sip::sipae::{NtlmSipServer, REALM, Verdict};
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};

/// The headers that carry credentials or signatures for one hop: never forwarded.
const HOP_CREDENTIALS: [HeaderName; 4] = [
    HeaderName::Authorization,
    HeaderName::ProxyAuthorization,
    HeaderName::AuthenticationInfo,
    HeaderName::ProxyAuthenticationInfo,
];

/// One client's security association.
#[derive(Debug, Clone)]
struct Association {
    opaque: String,
    since: Instant,
}

/// Failed attempts in the current minute, per key.
#[derive(Debug)]
struct Throttle<K> {
    counts: HashMap<K, (Instant, u32)>,
}

impl<K> Default for Throttle<K> {
    fn default() -> Self {
        Throttle {
            counts: HashMap::new(),
        }
    }
}

/// How many keys a throttle remembers before it forgets finished windows.
const THROTTLE_KEYS: usize = 100_000;
const WINDOW: Duration = Duration::from_secs(60);

impl<K: std::hash::Hash + Eq + Clone> Throttle<K> {
    /// Seconds until `key` may try again, if it is over `limit`.
    fn blocked(&self, now: Instant, key: &K, limit: u32) -> Option<u64> {
        let &(start, n) = self.counts.get(key)?;
        let left = (start + WINDOW).checked_duration_since(now)?;
        (n >= limit).then(|| left.as_secs().max(1))
    }

    fn fail(&mut self, now: Instant, key: K) {
        if self.counts.len() >= THROTTLE_KEYS {
            self.counts.retain(|_, (start, _)| now < *start + WINDOW);
        }
        if self.counts.len() >= THROTTLE_KEYS {
            return;
        }
        let e = self.counts.entry(key).or_insert((now, 0));
        if now >= e.0 + WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
    }
}

/// Who a request is from, when it is authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Identity {
    /// The user name (the user part of `sip:<user>@<domain>`).
    pub(super) user: String,
}

/// The security state: see the [module documentation](self).
pub(super) struct Security {
    /// Authentication is on (some scheme is configured).
    pub(super) enabled: bool,
    offers_digest: bool,
    offers_ntlm: bool,
    pub(super) ntlm: NtlmSipServer,
    digest: DigestServer,
    associations: HashMap<Peer, Association>,
    digest_flows: HashMap<Peer, String>,
    by_source: Throttle<IpAddr>,
    by_user: Throttle<String>,
    limit: u32,
    lifetime: Duration,
    domain: String,
    target: String,
    /// Salt for the signatures we make.
    snum_salt: u32,
}

fn is(scheme: &str, name: &str) -> bool {
    scheme.eq_ignore_ascii_case(name)
}

impl Security {
    pub(super) fn new(cfg: &super::EngineConfig, seed: [u8; 32], now: Instant) -> Security {
        let netbios = cfg
            .domain
            .split('.')
            .next()
            .unwrap_or("OCS")
            .to_ascii_uppercase();
        Security {
            enabled: !cfg.auth.is_empty(),
            offers_digest: cfg.auth.iter().any(|s| is(s, "Digest")),
            offers_ntlm: cfg.auth.iter().any(|s| is(s, "NTLM")),
            ntlm: NtlmSipServer::new(&cfg.ntlm_target, TargetInfo::new("OCS", &netbios)),
            digest: DigestServer::new(
                &cfg.domain,
                super::derive_seed(&seed, b"ocs digest nonces"),
                Duration::from_secs(300),
                now,
            ),
            associations: HashMap::new(),
            digest_flows: HashMap::new(),
            by_source: Throttle::default(),
            by_user: Throttle::default(),
            limit: cfg.auth_failure_limit.max(1),
            lifetime: cfg.sa_lifetime,
            domain: cfg.domain.clone(),
            target: cfg.ntlm_target.clone(),
            snum_salt: 0,
        }
    }

    /// How many clients have a security association.
    pub(super) fn associations(&self) -> usize {
        self.associations.len()
    }

    /// A connection closed: its association and its Digest trust end with it.
    pub(super) fn closed(&mut self, conn: super::ConnId) {
        let on = |p: &Peer| matches!(p, Peer::Stream { conn: c, .. } if *c == conn);
        let ntlm = &mut self.ntlm;
        self.associations.retain(|p, a| {
            let keep = !on(p);
            if !keep {
                ntlm.remove(&a.opaque);
            }
            keep
        });
        self.digest_flows.retain(|p, _| !on(p));
    }

    /// The user name in an NTLM or Digest user field: `DOMAIN\user`, `user@domain` or `user`.
    fn bare(&self, who: &str) -> String {
        let who = who.rsplit('\\').next().unwrap_or(who);
        match who.rsplit_once('@') {
            Some((u, d)) if d.eq_ignore_ascii_case(&self.domain) => u.to_owned(),
            _ => who.to_owned(),
        }
    }

    /// The bytes of `msg` for `peer`: credentials of the previous hop removed and, when
    /// `peer` has an association, signed (challenges excepted).
    pub(super) fn seal(&mut self, peer: &Peer, bytes: Bytes) -> Bytes {
        if !self.enabled {
            return bytes;
        }
        let Ok(msg) = Message::parse(bytes.clone()) else {
            return bytes;
        };
        let Ok(clean) = msg.without(&HOP_CREDENTIALS) else {
            return bytes;
        };
        let challenge = matches!(clean.status(), Some(401 | 407));
        let Some(a) = self.associations.get(peer).filter(|_| !challenge) else {
            return if clean.len() == msg.len() {
                bytes
            } else {
                clean.to_bytes()
            };
        };
        self.snum_salt = self
            .snum_salt
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add(0x7F4A_7C15);
        match self.ntlm.sign_response(&a.opaque, &clean, self.snum_salt) {
            Ok(info) => clean
                .with_header("Authentication-Info", &info)
                .map_or_else(|_| clean.to_bytes(), |m| m.to_bytes()),
            // The association is gone (renegotiated): send unsigned; the client challenges.
            Err(_) => clean.to_bytes(),
        }
    }

    /// Whether a response (or ACK) from `peer` may be taken: a client with an association must
    /// have signed it.
    pub(super) fn accept_from(&mut self, msg: &Message, peer: &Peer) -> bool {
        if !self.enabled {
            return true;
        }
        let Some(a) = self.associations.get(peer) else {
            return true;
        };
        let opaque = a.opaque.clone();
        matches!(
            self.ntlm.handle(msg, HeaderName::Authorization, [0; 8], "", |_, _| None),
            Verdict::Verified { opaque: o, .. } if o == opaque
        )
    }

    fn throttled(&self, now: Instant, ip: Option<IpAddr>, user: Option<&str>) -> Option<u64> {
        ip.and_then(|ip| self.by_source.blocked(now, &ip, self.limit))
            .or_else(|| user.and_then(|u| self.by_user.blocked(now, &u.to_owned(), self.limit)))
    }

    fn failed(&mut self, now: Instant, ip: Option<IpAddr>, user: Option<&str>, why: &str) {
        if let Some(ip) = ip {
            self.by_source.fail(now, ip);
        }
        if let Some(u) = user {
            let u = self.bare(u);
            self.by_user.fail(now, u);
        }
        tracing::warn!(source = ?ip, user = ?user, reason = why, "authentication failed");
    }

    fn challenges(
        &mut self,
        now: Instant,
        proxy: bool,
        stale: bool,
    ) -> Vec<(&'static str, String)> {
        let name = if proxy {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let mut v = Vec::new();
        if self.offers_digest {
            v.push((name, self.digest.challenge(now, Algorithm::Md5, stale)));
        }
        if self.offers_ntlm && !proxy {
            v.push((name, self.ntlm_challenge()));
        }
        v
    }

    fn ntlm_challenge(&self) -> String {
        format!(
            "NTLM realm=\"{REALM}\", targetname=\"{}\", version=3",
            self.target
        )
    }
}

/// Authenticates `req` (server transaction `key`); `register` for the registrar (401 and
/// `WWW-Authenticate`; credentials always required). On failure the request is answered
/// (401/407 challenge, 403) and `None` comes back.
pub(super) fn authenticate(
    core: &mut Core,
    now: Instant,
    key: TxKey,
    req: &Message,
    users: &dyn Directory,
    register: bool,
) -> Option<Identity> {
    let peer = core.peers.get(&key).copied();
    let ip = peer.map(|p| p.addr().ip());
    let creds: Vec<(HeaderName, Auth<'_>)> =
        [HeaderName::Authorization, HeaderName::ProxyAuthorization]
            .into_iter()
            .flat_map(|h| req.auth(h).flatten().map(move |a| (h, a)))
            .collect();
    let claimed = creds.iter().find_map(|(_, a)| a.params.get("username"));
    if let Some(retry) = core.security.throttled(now, ip, claimed) {
        tracing::warn!(source = ?ip, user = ?claimed, "authentication throttled");
        core.reply_with(
            now,
            key,
            req,
            403,
            "Too Many Failed Attempts",
            &[("Retry-After", retry.to_string())],
        );
        return None;
    }
    // NTLM ([MS-SIPAE]): the handshake, or a request signed by an association.
    if core.security.offers_ntlm
        && let Some((header, _)) = creds
            .iter()
            .find(|(_, a)| a.scheme() == Some(AuthScheme::Ntlm))
    {
        let header = *header;
        let challenge = core.unpredictable();
        let opaque = core.token()[..8].to_ascii_uppercase();
        let sec = &mut core.security;
        let domain = sec.domain.clone();
        let lookup = |u: &str, _d: &str| {
            let u = u.strip_suffix(&format!("@{domain}")).unwrap_or(u);
            users
                .password(u)
                .map(|p| Credentials::new(u, "", &p).nt_hash())
        };
        let verdict = sec.ntlm.handle(req, header, challenge, &opaque, lookup);
        let (code, www) = if header == HeaderName::ProxyAuthorization {
            (407, "Proxy-Authenticate")
        } else {
            (401, "WWW-Authenticate")
        };
        match verdict {
            Verdict::Challenge(c) => {
                core.reply_with(now, key, req, code, "Unauthorized", &[(www, c)]);
                return None;
            }
            Verdict::Authenticated { opaque, user } => {
                let user = sec.bare(&user);
                if let Some(p) = peer {
                    if let Some(old) = sec
                        .associations
                        .insert(p, Association { opaque, since: now })
                    {
                        sec.ntlm.remove(&old.opaque);
                    }
                }
                return Some(Identity { user });
            }
            Verdict::Verified { opaque, user } => {
                let mine = peer.and_then(|p| sec.associations.get(&p));
                let fresh = mine.is_some_and(|a| now.duration_since(a.since) < sec.lifetime);
                // A stream's requests must be signed by its own association; a UDP client's
                // address may change.
                let bound = match (peer, mine) {
                    (Some(Peer::Stream { .. }), Some(a)) => a.opaque == opaque,
                    (Some(Peer::Stream { .. }), None) => false,
                    _ => true,
                };
                if bound && (fresh || !matches!(peer, Some(Peer::Stream { .. }))) {
                    return Some(Identity {
                        user: sec.bare(&user),
                    });
                }
                if !fresh && let Some(p) = peer {
                    // Expired: renegotiate.
                    if let Some(a) = sec.associations.remove(&p) {
                        sec.ntlm.remove(&a.opaque);
                    }
                }
                let c = sec.ntlm_challenge();
                core.reply_with(now, key, req, code, "Unauthorized", &[(www, c)]);
                return None;
            }
            Verdict::Rejected(e) => {
                let why = e.to_string();
                let signed = creds.iter().any(|(_, a)| {
                    a.params.get("response").is_some() || a.params.get("crand").is_some()
                });
                sec.failed(now, ip, None, &why);
                core.stats.auth_failures += 1;
                if signed {
                    // §3.3.5: a bad signature gets a fresh challenge.
                    let c = core.security.ntlm_challenge();
                    core.reply_with(now, key, req, code, "Unauthorized", &[(www, c)]);
                } else {
                    core.reply(now, key, req, 403, "Forbidden");
                }
                return None;
            }
        }
    }
    // Digest (RFC 3261 §22).
    if core.security.offers_digest
        && let Some((_, a)) = creds
            .iter()
            .find(|(_, a)| a.scheme() == Some(AuthScheme::Digest))
    {
        let method = req.method().unwrap_or_default();
        let ruri = match req.start_line() {
            crate::sip::StartLine::Request { uri, .. } => uri,
            crate::sip::StartLine::Response { .. } => "",
        };
        // The `uri` must be the Request-URI; with `digest_uri_next_hop` (sipp's spelling: the
        // address it sends to) a URI without user naming this server is taken too.
        let given = a.params.get("uri").unwrap_or_default();
        let names_us = crate::sip::uri::Uri::parse(given).ok().is_some_and(|u| {
            u.as_sip()
                .is_some_and(|s| s.user.is_none() && core.is_us(&s.host, s.port))
        });
        let same = given == ruri || (core.cfg.digest_uri_next_hop && names_us);
        let sec = &mut core.security;
        let r = sec
            .digest
            .verify_with(now, a, method, |_| same, |u| users.password(u));
        match r {
            Ok(user) => {
                let user = sec.bare(&user);
                if let Some(p @ Peer::Stream { .. }) = peer {
                    sec.digest_flows.insert(p, user.clone());
                }
                return Some(Identity { user });
            }
            Err(e @ (DigestError::Stale | DigestError::Spent)) => {
                let c = sec.challenges(now, !register, e == DigestError::Stale);
                let code = if register { 401 } else { 407 };
                core.reply_with(now, key, req, code, "Unauthorized", &c);
                return None;
            }
            Err(e) => {
                sec.failed(now, ip, claimed, &e.to_string());
                core.stats.auth_failures += 1;
                core.reply(now, key, req, 403, "Forbidden");
                return None;
            }
        }
    }
    // No credentials.
    let sec = &mut core.security;
    if !register && let Some(user) = peer.and_then(|p| sec.digest_flows.get(&p)) {
        return Some(Identity { user: user.clone() });
    }
    if peer.is_some_and(|p| sec.associations.contains_key(&p)) || !sec.offers_digest {
        // An NTLM client that did not sign, or NTLM only: the [MS-SIPAE] challenge.
        let c = sec.ntlm_challenge();
        core.reply_with(
            now,
            key,
            req,
            401,
            "Unauthorized",
            &[("WWW-Authenticate", c)],
        );
        return None;
    }
    let c = sec.challenges(now, !register, false);
    let code = if register { 401 } else { 407 };
    let reason = if register {
        "Unauthorized"
    } else {
        "Proxy Authentication Required"
    };
    core.reply_with(now, key, req, code, reason, &c);
    None
}
