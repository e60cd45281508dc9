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
use crate::sip::ntlm::TargetInfo;
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
#[derive(Debug)]
struct Association {
    opaque: String,
    since: Instant,
    /// Who it authenticated.
    #[cfg_attr(not(feature = "kerberos"), allow(dead_code))]
    user: String,
    kind: Kind,
}

/// What signs for an association.
#[derive(Debug)]
enum Kind {
    /// NTLM: the session lives in [`NtlmSipServer`], found by `opaque`.
    Ntlm,
    /// Kerberos: the GSSAPI context, our `snum`, the client's `cnum`s seen.
    #[cfg(feature = "kerberos")]
    Kerberos(Box<KerberosSa>),
}

#[cfg(feature = "kerberos")]
#[derive(Debug)]
struct KerberosSa {
    ctx: super::kerberos::KerberosContext,
    snum: u32,
    window: crate::sip::sipae::ReplayWindow,
}

#[cfg(feature = "kerberos")]
impl KerberosSa {
    fn input(msg: &Message, rand: &str, num: &str, target: &str) -> Option<Vec<u8>> {
        let ctx = crate::sip::sign::SignatureContext {
            scheme: "Kerberos",
            rand,
            num,
            realm: REALM,
            target_name: target,
            version: 3,
        };
        let mut input = Vec::with_capacity(256);
        crate::sip::sign::signature_input(msg, &ctx, &mut input).ok()?;
        Some(input)
    }

    /// The `Authentication-Info` value signing `msg` ([MS-SIPREGE]'s Kerberos 200 OK shape).
    fn sign(&mut self, opaque: &str, target: &str, msg: &Message, salt: u32) -> Option<String> {
        self.snum = self.snum.wrapping_add(1).max(1);
        let (rand, num) = (format!("{salt:08X}"), self.snum.to_string());
        let mic = self
            .ctx
            .get_mic(&Self::input(msg, &rand, &num, target)?)
            .ok()?;
        Some(format!(
            "Kerberos rspauth=\"{}\", srand=\"{rand}\", snum=\"{num}\", opaque=\"{opaque}\", qop=\"auth\", targetname=\"{target}\", realm=\"{REALM}\"",
            crate::sip::sipae::hex_upper(&mic)
        ))
    }

    /// Checks the client's signature on `msg` in `header` (`crand`, `cnum`, `response`).
    fn verify(&mut self, opaque: &str, target: &str, msg: &Message, header: HeaderName) -> bool {
        let Ok(all) = crate::sip::sipae::SecurityHeader::all(msg, header) else {
            return false;
        };
        let Some(h) = all.into_iter().find(|h| {
            h.protocol == crate::sip::sipae::Protocol::Kerberos
                && h.opaque.as_deref() == Some(opaque)
        }) else {
            return false;
        };
        let (Some(rand), Some(num), Some(sig)) = (h.rand, h.num, h.signature) else {
            return false;
        };
        if h.realm != REALM || h.target_name != target {
            return false;
        }
        Self::input(msg, &rand, &num.to_string(), target)
            .is_some_and(|input| self.ctx.verify_mic(&input, &sig).is_ok())
            && self.window.check_and_set(num).is_ok()
    }
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

/// Requests without credentials per source in the current second.
#[derive(Debug, Default)]
struct Rate {
    counts: HashMap<IpAddr, (Instant, u32)>,
}

impl Rate {
    /// Counts one for `ip`; whether it is within `limit` a second (0: no limit).
    fn take(&mut self, now: Instant, ip: IpAddr, limit: u32) -> bool {
        if limit == 0 {
            return true;
        }
        if self.counts.len() >= THROTTLE_KEYS {
            self.counts
                .retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(1));
        }
        let e = self.counts.entry(ip).or_insert((now, 0));
        if now.duration_since(e.0) >= Duration::from_secs(1) {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= limit
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
    offers_kerberos: bool,
    #[cfg(feature = "kerberos")]
    kerberos: Option<super::kerberos::KerberosAcceptor>,
    pub(super) ntlm: NtlmSipServer,
    digest: DigestServer,
    associations: HashMap<Peer, Association>,
    digest_flows: HashMap<Peer, String>,
    by_source: Throttle<IpAddr>,
    by_user: Throttle<String>,
    unauthenticated: Rate,
    unauthenticated_limit: u32,
    limit: u32,
    lifetime: Duration,
    domain: String,
    target: String,
    /// Salt for the signatures we make.
    snum_salt: u32,
}

/// Whether the header section of a message may carry credentials or a signature (an
/// `...Authorization` or `...Authentication-Info` line, any case).
fn carries_credentials(bytes: &[u8]) -> bool {
    let head = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(bytes, |end| &bytes[..end]);
    head.windows(12)
        .any(|w| w[..6].eq_ignore_ascii_case(b"uthori") || w.eq_ignore_ascii_case(b"uthenticatio"))
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
            offers_kerberos: false,
            #[cfg(feature = "kerberos")]
            kerberos: None,
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
            unauthenticated: Rate::default(),
            unauthenticated_limit: cfg.unauthenticated_per_second,
            limit: cfg.auth_failure_limit.max(1),
            lifetime: cfg.sa_lifetime,
            domain: cfg.domain.clone(),
            target: cfg.ntlm_target.clone(),
            snum_salt: 0,
        }
    }

    /// Accepts Kerberos with this acceptor (the keytab of `sip/<server>`), offered first.
    #[cfg(feature = "kerberos")]
    pub(super) fn set_kerberos(&mut self, acceptor: super::kerberos::KerberosAcceptor) {
        self.kerberos = Some(acceptor);
        self.offers_kerberos = true;
        self.enabled = true;
    }

    /// The Kerberos `targetname`: the service principal, `sip/` and the server's FQDN.
    fn kerberos_target(&self) -> String {
        format!("sip/{}", self.target)
    }

    /// How many clients have a security association.
    pub(super) fn associations(&self) -> usize {
        self.associations.len()
    }

    /// Whether `peer` has an association or a Digest-trusted flow.
    pub(super) fn trusts(&self, peer: &Peer) -> bool {
        self.associations.contains_key(peer) || self.digest_flows.contains_key(peer)
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
        // Most messages need nothing: no association to sign for, no credentials to strip.
        // A scan of the bytes is cheaper than the parse and rebuild.
        if !self.associations.contains_key(peer) && !carries_credentials(&bytes) {
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
        let (salt, opaque) = (self.snum_salt, a.opaque.clone());
        let info = match self.associations.get_mut(peer).map(|a| &mut a.kind) {
            Some(Kind::Ntlm) => self.ntlm.sign_response(&opaque, &clean, salt).ok(),
            #[cfg(feature = "kerberos")]
            Some(Kind::Kerberos(k)) => {
                k.sign(&opaque, &format!("sip/{}", self.target), &clean, salt)
            }
            None => None,
        };
        match info {
            Some(info) => clean
                .with_header("Authentication-Info", &info)
                .map_or_else(|_| clean.to_bytes(), |m| m.to_bytes()),
            // The association is gone (renegotiated): send unsigned; the client challenges.
            None => clean.to_bytes(),
        }
    }

    /// Whether a response (or ACK) from `peer` may be taken: a client with an association must
    /// have signed it.
    pub(super) fn accept_from(&mut self, msg: &Message, peer: &Peer) -> bool {
        if !self.enabled {
            return true;
        }
        #[cfg(feature = "kerberos")]
        let target = self.kerberos_target();
        let Some(a) = self.associations.get_mut(peer) else {
            return true;
        };
        let opaque = a.opaque.clone();
        match &mut a.kind {
            Kind::Ntlm => matches!(
                self.ntlm.handle(msg, HeaderName::Authorization, [0; 8], "", |_, _| None),
                Verdict::Verified { opaque: o, .. } if o == opaque
            ),
            #[cfg(feature = "kerberos")]
            Kind::Kerberos(k) => k.verify(&opaque, &target, msg, HeaderName::Authorization),
        }
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
        if self.offers_kerberos && !proxy {
            v.push((name, self.kerberos_challenge()));
        }
        if self.offers_digest {
            v.push((name, self.digest.challenge(now, Algorithm::Md5, stale)));
        }
        if self.offers_ntlm && !proxy {
            v.push((name, self.ntlm_challenge()));
        }
        v
    }

    fn kerberos_challenge(&self) -> String {
        format!(
            "Kerberos realm=\"{REALM}\", targetname=\"{}\", version=3",
            self.kerberos_target()
        )
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
        let warning = format!("399 {} \"too many failed attempts\"", core.cfg.ntlm_target);
        core.refuse(
            key,
            req,
            403,
            "Too Many Failed Attempts",
            &[("Retry-After", retry.to_string()), ("Warning", warning)],
        );
        return None;
    }
    // Kerberos ([MS-SIPAE] 3.3.5.2): one leg, or a request signed by its association.
    #[cfg(feature = "kerberos")]
    if core.security.offers_kerberos
        && let Some((header, _)) = creds
            .iter()
            .find(|(_, a)| a.scheme() == Some(AuthScheme::Kerberos))
    {
        return kerberos(core, now, key, req, *header, peer, ip);
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
            users.nt_hash(u)
        };
        let verdict = sec.ntlm.handle(req, header, challenge, &opaque, lookup);
        let (code, www) = if header == HeaderName::ProxyAuthorization {
            (407, "Proxy-Authenticate")
        } else {
            (401, "WWW-Authenticate")
        };
        match verdict {
            Verdict::Challenge(c) => {
                core.refuse(key, req, code, "Unauthorized", &[(www, c)]);
                return None;
            }
            Verdict::Authenticated { opaque, user } => {
                let user = sec.bare(&user);
                let fresh = Association {
                    opaque,
                    since: now,
                    user: user.clone(),
                    kind: Kind::Ntlm,
                };
                if let Some(p) = peer
                    && let Some(old) = sec.associations.insert(p, fresh)
                {
                    sec.ntlm.remove(&old.opaque);
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
                core.refuse(key, req, code, "Unauthorized", &[(www, c)]);
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
                    core.refuse(key, req, code, "Unauthorized", &[(www, c)]);
                } else {
                    core.forbid(key, req, "authentication failed");
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
        let realm = core.cfg.domain.clone();
        let sec = &mut core.security;
        let r = sec.digest.verify_ha1(
            now,
            a,
            method,
            |_| same,
            |u, alg| users.digest_ha1(u, &realm, alg),
        );
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
                core.refuse(key, req, code, "Unauthorized", &c);
                return None;
            }
            Err(e) => {
                sec.failed(now, ip, claimed, &e.to_string());
                core.stats.auth_failures += 1;
                core.forbid(key, req, "authentication failed");
                return None;
            }
        }
    }
    // No credentials.
    let sec = &mut core.security;
    if !register && let Some(user) = peer.and_then(|p| sec.digest_flows.get(&p)) {
        return Some(Identity { user: user.clone() });
    }
    // Requests without credentials cost a challenge each: at most so many per source and
    // second, the rest answered 503 (a transaction must end) with nothing else done.
    if let Some(ip) = ip
        && !sec.unauthenticated.take(now, ip, sec.unauthenticated_limit)
    {
        core.stats.rate_limited += 1;
        core.refuse(
            key,
            req,
            503,
            "Service Unavailable",
            &[("Retry-After", "1".into())],
        );
        return None;
    }
    if let Some(a) = peer.and_then(|p| sec.associations.get(&p)) {
        // A client with an association that did not sign: its protocol's challenge again.
        let c = match a.kind {
            Kind::Ntlm => sec.ntlm_challenge(),
            #[cfg(feature = "kerberos")]
            Kind::Kerberos(_) => sec.kerberos_challenge(),
        };
        core.refuse(key, req, 401, "Unauthorized", &[("WWW-Authenticate", c)]);
        return None;
    }
    // REGISTER, or [MS-SIPAE] only: 401 with every scheme (Kerberos first); a proxy's 407
    // carries Digest.
    let proxy = !register && sec.offers_digest;
    let c = sec.challenges(now, proxy, false);
    let (code, reason) = if proxy {
        (407, "Proxy Authentication Required")
    } else {
        (401, "Unauthorized")
    };
    core.refuse(key, req, code, reason, &c);
    None
}

/// The Kerberos half of [`authenticate`]: the AP-REQ of the one-leg handshake accepted (the
/// association made, named by a fresh `opaque` the signed 200 tells the client), or a request
/// signed by the association verified.
#[cfg(feature = "kerberos")]
fn kerberos(
    core: &mut Core,
    now: Instant,
    key: TxKey,
    req: &Message,
    header: HeaderName,
    peer: Option<Peer>,
    ip: Option<IpAddr>,
) -> Option<Identity> {
    use crate::sip::sipae::{Protocol, SecurityHeader};
    let (code, www) = if header == HeaderName::ProxyAuthorization {
        (407, "Proxy-Authenticate")
    } else {
        (401, "WWW-Authenticate")
    };
    let refuse = |core: &mut Core, why: &str| {
        core.security.failed(now, ip, None, why);
        core.stats.auth_failures += 1;
        let c = core.security.kerberos_challenge();
        core.refuse(key, req, code, "Unauthorized", &[(www, c)]);
        None
    };
    let h = SecurityHeader::all(req, header)
        .ok()
        .and_then(|all| all.into_iter().find(|h| h.protocol == Protocol::Kerberos));
    let target = core.security.kerberos_target();
    let Some(h) = h.filter(|h| h.target_name == target) else {
        return refuse(core, "Kerberos credentials malformed or for another target");
    };
    let sec = &mut core.security;
    // A request signed by the association of this client.
    if let Some(opaque) = h.opaque {
        let lifetime = sec.lifetime;
        let verified = peer
            .and_then(|p| sec.associations.get_mut(&p))
            .and_then(|a| {
                let fresh = a.opaque == opaque && now.duration_since(a.since) < lifetime;
                let ok = match &mut a.kind {
                    Kind::Kerberos(k) => fresh && k.verify(&opaque, &target, req, header),
                    Kind::Ntlm => false,
                };
                ok.then(|| a.user.clone())
            });
        if let Some(user) = verified {
            return Some(Identity { user });
        }
        if let Some(p) = peer {
            sec.associations.remove(&p);
        }
        return refuse(core, "bad Kerberos signature");
    }
    // The AP-REQ (the whole initial GSS token).
    let token = h.gssapi_data.unwrap_or_default();
    let Some(accepted) = sec.kerberos.as_ref().map(|k| k.accept(&token)) else {
        return refuse(core, "Kerberos is not configured");
    };
    let acc = match accepted {
        Ok(acc) => acc,
        Err(e) => return refuse(core, &e.to_string()),
    };
    let user = sec.bare(acc.principal.split('@').next().unwrap_or_default());
    let opaque = core.token()[..8].to_ascii_uppercase();
    let sec = &mut core.security;
    if let Some(p) = peer {
        if let Some(old) = sec.associations.remove(&p)
            && matches!(old.kind, Kind::Ntlm)
        {
            sec.ntlm.remove(&old.opaque);
        }
        sec.associations.insert(
            p,
            Association {
                opaque,
                since: now,
                user: user.clone(),
                kind: Kind::Kerberos(Box::new(KerberosSa {
                    ctx: acc.context,
                    snum: 0,
                    window: crate::sip::sipae::ReplayWindow::default(),
                })),
            },
        );
    }
    Some(Identity { user })
}

#[cfg(test)]
mod tests {
    use super::carries_credentials;

    #[test]
    fn credentials_are_found_in_any_case_and_only_in_the_head() {
        let with =
            |h: &str| format!("MESSAGE sip:b@h SIP/2.0\r\n{h}: x\r\nTo: <sip:b@h>\r\n\r\nbody");
        for h in [
            "Authorization",
            "PROXY-AUTHORIZATION",
            "authentication-info",
            "Proxy-Authentication-Info",
        ] {
            assert!(carries_credentials(with(h).as_bytes()), "{h}");
        }
        assert!(!carries_credentials(with("Subject").as_bytes()));
        let in_body = "MESSAGE sip:b@h SIP/2.0\r\nTo: <sip:b@h>\r\n\r\nAuthorization: in the body";
        assert!(!carries_credentials(in_body.as_bytes()));
        assert!(!carries_credentials(b"short"));
    }
}
