//! The SIP core of the reference server: a registrar and a stateful proxy on top of
//! `ocs-sip-codec`'s transaction layer. It owns no socket and reads no clock: the transport
//! tasks hand it parsed messages with the peer they came from, the runtime hands it the time,
//! and it hands back bytes for peers ([`Engine::poll_outbound`]) and writes for the store
//! ([`Engine::poll_store`]). A `200 OK` to a REGISTER that changed bindings is held until the
//! store says the change is committed ([`Engine::committed`]): what is acknowledged is on disk.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;

use crate::sip::build::MessageBuilder;
use crate::sip::digest::{Algorithm, DigestError, DigestServer};
use crate::sip::headers::{Auth, AuthScheme};
use crate::sip::ntlm::TargetInfo;
use crate::sip::sipae::{NtlmSipServer, Verdict};
use crate::sip::transaction::{Timers, TransactionLayer, Transport, TxEvent, TxKey};
use crate::sip::uri::{Host, Uri};
use crate::sip::{HeaderName, Message, StartLine};

mod conf;
pub use conf::{C3P, McuCall, MediaLeg, MediaOp, StoredConference, WebConfOp};

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

    fn transport(&self) -> Transport {
        match self {
            Peer::Udp(_) => Transport::Unreliable,
            Peer::Stream { .. } => Transport::Reliable,
        }
    }

    fn via_transport(&self) -> &'static str {
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

/// One registered contact ([RFC 3261 §10.3]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address of record, `sip:user@domain`.
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// `+sip.instance`, if the UA gave one.
    pub instance: Option<String>,
    /// Seconds since the Unix epoch at which it ends.
    pub expires_at: u64,
    /// The REGISTER's Call-ID and CSeq (for ordering refreshes).
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// The connection it registered over, for connection-oriented clients (not persisted).
    pub flow: Option<Peer>,
}

impl Binding {
    /// The GRUU of an instance, as OCS writes it: the AOR with `;opaque=user:epid:<id>;gruu`.
    #[must_use]
    pub fn gruu(&self) -> Option<String> {
        let instance = self.instance.as_deref()?;
        let id: String = instance
            .trim_matches(|c| c == '"' || c == '<' || c == '>')
            .trim_start_matches("urn:uuid:")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Some(format!("{};opaque=user:epid:{id};gruu", self.aor))
    }
}

/// A write for the store, identified by a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Insert or replace the binding (AOR, contact).
    Bind(Binding),
    /// Remove the binding (AOR, contact).
    Unbind {
        /// The address of record.
        aor: String,
        /// The contact URI.
        contact: String,
    },
    /// Keep a conference (created, or its description changed), or forget it (`None`).
    Schedule {
        /// The focus URI.
        focus: String,
        /// The record, or `None` once it is deleted.
        conference: Option<StoredConference>,
    },
}

/// The users the registrar knows.
pub trait Directory {
    /// The password of `user` in our domain, if there is such a user.
    fn password(&self, user: &str) -> Option<String>;
}

/// Registrar and proxy settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Our SIP domain (the Request-URI host of REGISTER, the AORs' host).
    pub domain: String,
    /// Other host names that mean "this server" (aliases of the domain, the server's FQDN);
    /// our listening addresses count too, with their ports.
    pub local_hosts: Vec<String>,
    /// The address we put in Via and Record-Route for each transport.
    pub udp_addr: Option<SocketAddr>,
    /// For TCP.
    pub tcp_addr: Option<SocketAddr>,
    /// For TLS.
    pub tls_addr: Option<SocketAddr>,
    /// Authentication schemes offered, in order (`Digest`, `NTLM`); none disables it.
    pub auth: Vec<String>,
    /// The shortest registration accepted (423 below).
    pub min_expires: u32,
    /// The longest granted.
    pub max_expires: u32,
    /// The NTLM target name (`targetname`), the server's FQDN.
    pub ntlm_target: String,
    /// The Address Book Server's base URL (`…/abs/handler/`), given to clients in in-band
    /// provisioning ([MS-SIPREGE] `absInternalServerUrl`).
    pub abs_url: Option<String>,
    /// The A/V MCU's media sockets (RTP, RTCP) given in its SDP answers; without them the
    /// A/V MCU takes no audio.
    pub media_rtp: Option<SocketAddr>,
    /// Its RTCP socket.
    pub media_rtcp: Option<SocketAddr>,
    /// The web-conferencing MCU's PSOM listener (TLS), given to participants in the addUser
    /// answer's `connection-info`.
    pub psom_addr: Option<SocketAddr>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            domain: "contoso.com".into(),
            local_hosts: Vec::new(),
            udp_addr: None,
            tcp_addr: None,
            tls_addr: None,
            auth: vec!["Digest".into()],
            min_expires: 60,
            max_expires: 7200,
            ntlm_target: "ocs.contoso.com".into(),
            abs_url: None,
            media_rtp: None,
            media_rtcp: None,
            psom_addr: None,
        }
    }
}

/// A request we forward, and what came back on its branches.
#[derive(Debug)]
struct Forward {
    /// The client transactions, with the request each sent and whether it ended.
    branches: Vec<(TxKey, Message, bool)>,
    /// The best final response so far.
    best: Option<Message>,
    /// A 2xx went up: the rest are done.
    answered: bool,
}

/// Counters the runtime reports.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    /// REGISTERs answered 200.
    pub registered: u64,
    /// Requests forwarded (each branch counted).
    pub forwarded: u64,
    /// Requests answered with an error by us.
    pub rejected: u64,
}

/// The SIP core: see the [module documentation](self).
pub struct Engine {
    cfg: EngineConfig,
    layer: TransactionLayer,
    digest: DigestServer,
    ntlm: NtlmSipServer,
    bindings: HashMap<String, Vec<Binding>>,
    /// Contact URI → the connection it registered over, for the bindings that have one (an
    /// in-dialog request names the contact, not the AOR).
    flows: HashMap<String, Peer>,
    /// Where each transaction's messages go.
    peers: HashMap<TxKey, Peer>,
    forwards: HashMap<TxKey, Forward>,
    /// Client transaction → the server transaction it serves.
    branch_of: HashMap<TxKey, TxKey>,
    out: VecDeque<Outbound>,
    store: VecDeque<(u64, StoreOp)>,
    /// Responses held until their ticket is committed: (ticket, server tx, response).
    held: VecDeque<(u64, TxKey, Message)>,
    next_ticket: u64,
    counter: u64,
    seed: u64,
    /// Keys the HMAC that makes unpredictable values (NTLM server challenges).
    secret: [u8; 32],
    stats: Stats,
    /// The focus, its sessions and subscriptions, the MCUs.
    conf: conf::Conferencing,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("domain", &self.cfg.domain)
            .field("transactions", &self.layer.len())
            .field("aors", &self.bindings.len())
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Where a SIP URI points: its host (an address), port and transport.
fn target_of(uri: &Uri<'_>) -> Option<(SocketAddr, bool)> {
    let s = uri.as_sip()?;
    let ip = match s.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(a),
        Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        Host::Ipv6(a) => a.parse().ok()?,
        Host::Domain(_) => return None,
    };
    let tcp = s
        .params
        .value("transport")
        .is_some_and(|t| t.eq_ignore_ascii_case("tcp") || t.eq_ignore_ascii_case("tls"));
    Some((SocketAddr::new(ip, s.port.unwrap_or(5060)), tcp))
}

/// This message with its first Via value removed (a response going upstream).
fn strip_top_via(msg: &Message) -> Option<Message> {
    let mut out = String::with_capacity(msg.len());
    let head = msg.head();
    let first_line = head.split("\r\n").next()?;
    out.push_str(first_line);
    out.push_str("\r\n");
    let mut done = false;
    for h in msg.headers() {
        if !done && h.kind == HeaderName::Via {
            done = true;
            let rest: Vec<&str> = h.values().skip(1).map(|(v, _)| v).collect();
            if !rest.is_empty() {
                out.push_str("Via: ");
                out.push_str(&rest.join(", "));
                out.push_str("\r\n");
            }
            continue;
        }
        push_header(&mut out, h.name, h.value);
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(msg.body());
    Message::parse(Bytes::from(bytes)).ok()
}

fn push_header(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push_str("\r\n");
}

impl Engine {
    /// A new engine; `seed` makes its tags, branches, nonces and keys (from the runtime's
    /// random generator), `now` starts its clock.
    #[must_use]
    pub fn new(cfg: EngineConfig, seed: [u8; 32], now: Instant) -> Engine {
        let ntlm_target = cfg.ntlm_target.clone();
        let netbios = cfg
            .domain
            .split('.')
            .next()
            .unwrap_or("OCS")
            .to_ascii_uppercase();
        Engine {
            digest: DigestServer::new(&cfg.domain, seed, Duration::from_secs(300), now),
            ntlm: NtlmSipServer::new(&ntlm_target, TargetInfo::new("OCS", &netbios)),
            cfg,
            layer: TransactionLayer::new(Timers::default()),
            bindings: HashMap::new(),
            flows: HashMap::new(),
            peers: HashMap::new(),
            forwards: HashMap::new(),
            branch_of: HashMap::new(),
            out: VecDeque::new(),
            store: VecDeque::new(),
            held: VecDeque::new(),
            next_ticket: 1,
            counter: 0,
            seed: u64::from_le_bytes(seed[..8].try_into().unwrap_or_default()),
            // A key of its own, apart from the Digest nonces' key.
            secret: {
                use sha2::Digest as _;
                sha2::Sha256::new()
                    .chain_update(seed)
                    .chain_update(b"ocs-engine challenges")
                    .finalize()
                    .into()
            },
            stats: Stats::default(),
            conf: conf::Conferencing::new(crate::cccp::focus::Focus::new(
                crate::cccp::focus::FocusConfig {
                    mcus: vec![
                        crate::cccp::uri::McuType::AudioVideo,
                        crate::cccp::uri::McuType::Chat,
                        crate::cccp::uri::McuType::Meeting,
                    ],
                    ..crate::cccp::focus::FocusConfig::default()
                },
                u64::from_le_bytes(seed[8..16].try_into().unwrap_or_default()),
            )),
        }
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Live transactions.
    #[must_use]
    pub fn transactions(&self) -> usize {
        self.layer.len()
    }

    /// Loads a binding from the store at start-up (expired ones are skipped).
    pub fn load_binding(&mut self, b: Binding, wall: SystemTime) {
        if b.expires_at > unix(wall) {
            self.bindings.entry(b.aor.clone()).or_default().push(b);
        }
    }

    /// The live bindings of `aor` at `wall`.
    #[must_use]
    pub fn bindings(&self, aor: &str, wall: SystemTime) -> Vec<&Binding> {
        let now = unix(wall);
        self.bindings
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default()
    }

    /// A fresh token (tags, branches): a counter mixed with the seed.
    /// Eight bytes nobody can predict from what the server sent before: HMAC-SHA-256 of a
    /// counter under the engine's secret.
    fn unpredictable(&mut self) -> [u8; 8] {
        use hmac::{Hmac, KeyInit, Mac};
        self.counter += 1;
        let Ok(mut m) = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(&self.secret) else {
            return self.counter.to_le_bytes();
        };
        m.update(b"ocs-engine");
        m.update(&self.counter.to_le_bytes());
        let out = m.finalize().into_bytes();
        let mut b = [0u8; 8];
        b.copy_from_slice(&out[..8]);
        b
    }

    fn token(&mut self) -> String {
        self.counter += 1;
        let mut x = self.counter ^ self.seed;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        format!("{x:016x}")
    }

    /// A message from `peer`.
    pub fn handle(
        &mut self,
        now: Instant,
        wall: SystemTime,
        message: Message,
        peer: Peer,
        users: &dyn Directory,
    ) {
        if message.is_request() {
            // RFC 3261 §18.2.1: note where it came from in received / rport terms by keeping the
            // peer with the server transaction; the response goes back there.
            self.layer.handle_message(now, message, peer.transport());
            self.drain(now, wall, Some(peer), users);
        } else {
            self.layer.handle_message(now, message, peer.transport());
            self.drain(now, wall, None, users);
        }
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime, users: &dyn Directory) {
        self.layer.handle_timeout(now);
        self.drain(now, wall, None, users);
        self.conference_timeout(now, wall);
        self.flush_transmits();
    }

    /// When [`Engine::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        let tx = self.layer.poll_timeout();
        match self.conf.poll_timeout() {
            Some(c) => Some(tx.map_or(c, |t| t.min(c))),
            None => tx,
        }
    }

    /// The next bytes to send.
    #[must_use]
    pub fn poll_outbound(&mut self) -> Option<Outbound> {
        self.out.pop_front()
    }

    /// The next write for the store, with its ticket.
    #[must_use]
    pub fn poll_store(&mut self) -> Option<(u64, StoreOp)> {
        self.store.pop_front()
    }

    /// The store has committed every write up to `ticket`: held responses go out.
    pub fn committed(&mut self, now: Instant, ticket: u64) {
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

    fn flush_transmits(&mut self) {
        while let Some(t) = self.layer.poll_transmit() {
            if let Some(&peer) = self.peers.get(&t.key) {
                self.out.push_back(Outbound {
                    peer,
                    bytes: t.message.to_bytes(),
                });
            }
        }
    }

    fn drain(&mut self, now: Instant, wall: SystemTime, from: Option<Peer>, users: &dyn Directory) {
        while let Some(ev) = self.layer.poll_event() {
            match ev {
                TxEvent::Request { key, message } => {
                    if let Some(p) = from {
                        self.peers.insert(key, p);
                    }
                    self.request(now, wall, key, message, users);
                }
                TxEvent::Response { key, message } => self.response(now, key, message),
                // The ACK of a 2xx from the focus or an MCU ends there.
                TxEvent::Ack { message, .. } if self.is_our_session(&message) => {}
                TxEvent::Ack { message, .. } => self.forward_stateless(wall, message),
                TxEvent::Cancelled { key } => self.cancel_branches(now, key),
                TxEvent::StrayResponse { message } => self.stray_response(message),
                TxEvent::Timeout { key } | TxEvent::TransportError { key } => {
                    self.branch_failed(now, key, 408);
                }
                TxEvent::Terminated { key } => {
                    // Its last message may still be queued (a zero Timer J ends a transaction
                    // as it answers): send before forgetting where to.
                    self.flush_transmits();
                    self.peers.remove(&key);
                    self.branch_of.remove(&key);
                }
                TxEvent::Overloaded { message } => {
                    if let (Some(p), Ok(r)) = (
                        from,
                        message
                            .response(503, "Service Unavailable", "")
                            .header("Retry-After", 5)
                            .build(),
                    ) {
                        self.out.push_back(Outbound {
                            peer: p,
                            bytes: r.to_bytes(),
                        });
                    }
                }
                _ => {}
            }
        }
        self.flush_transmits();
    }

    fn reply(&mut self, now: Instant, key: TxKey, req: &Message, code: u16, reason: &str) {
        self.reply_with(now, key, req, code, reason, &[]);
    }

    fn reply_with(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        code: u16,
        reason: &str,
        headers: &[(&str, String)],
    ) {
        if code >= 300 {
            self.stats.rejected += 1;
        }
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
            let _ = self.layer.respond(now, key, r);
        }
    }

    /// Whether `host[:port]` names this server: the domain or one of its aliases (any port),
    /// or one of our listening addresses (address and port, 5060 when absent).
    fn is_us(&self, host: &Host<'_>, port: Option<u16>) -> bool {
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
    fn is_our_addr(&self, host: &Host<'_>, port: u16) -> bool {
        let Some(ip) = host.ip() else {
            return false;
        };
        [self.cfg.udp_addr, self.cfg.tcp_addr, self.cfg.tls_addr]
            .iter()
            .flatten()
            .any(|a| a.port() == port && a.ip() == ip)
    }

    fn request(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        users: &dyn Directory,
    ) {
        let method = req.method().unwrap_or_default().to_owned();
        if req.validate().is_err() {
            return self.reply(now, key, &req, 400, "Bad Request");
        }
        if method == "REGISTER" {
            return self.register(now, wall, key, &req, users);
        }
        if method == "OPTIONS" && self.request_uri_is_us(&req) {
            return self.reply_with(
                now,
                key,
                &req,
                200,
                "OK",
                &[(
                    "Allow",
                    "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, INFO, SUBSCRIBE, NOTIFY, BENOTIFY".into(),
                )],
            );
        }
        if method == "CANCEL" {
            // The transaction layer reported the INVITE (Cancelled); this answers the CANCEL.
            return self.reply(now, key, &req, 200, "OK");
        }
        if let Some(uri) = conf::conference_uri(self, &req) {
            return self.conference_request(now, wall, key, req, uri);
        }
        if method == "SUBSCRIBE" && self.is_provisioning(&req) {
            return self.provisioning(now, key, &req);
        }
        self.proxy(now, wall, key, req);
    }

    /// A Request-URI with no user part naming us (OPTIONS pings, REGISTER).
    fn request_uri_is_us(&self, req: &Message) -> bool {
        match req.request_uri() {
            Some(Ok(u)) => u
                .as_sip()
                .is_some_and(|s| s.user.is_none() && self.is_us(&s.host, s.port)),
            _ => false,
        }
    }

    /// An in-band provisioning SUBSCRIBE ([MS-SIPREGE] 2.2.2.1): to the user's own AOR,
    /// `Event: vnd-microsoft-provisioning-v2`.
    fn is_provisioning(&self, req: &Message) -> bool {
        let event = req.event().and_then(Result::ok);
        event.is_some_and(|e| {
            e.value
                .eq_ignore_ascii_case("vnd-microsoft-provisioning-v2")
        }) && matches!(req.request_uri(), Some(Ok(u)) if u.as_sip().is_some_and(|s| self.is_us(&s.host, s.port)))
    }

    /// Answers in-band provisioning as [MS-SIPREGE] 4.2.2 shows: a `200 OK` carrying the
    /// provisioning groups, the subscription terminated at once (`Expires: 0`). The
    /// `ServerConfiguration` group gives the Address Book Server's URL and the user's focus
    /// factory.
    fn provisioning(&mut self, now: Instant, key: TxKey, req: &Message) {
        let accept_ok = req.values(HeaderName::Accept).next().is_none()
            || req.values(HeaderName::Accept).any(|(v, _)| {
                v.trim()
                    .eq_ignore_ascii_case("application/vnd-microsoft-roaming-provisioning-v2+xml")
            });
        if !accept_ok {
            return self.reply(now, key, req, 406, "Not Acceptable");
        }
        let user = req
            .to()
            .ok()
            .and_then(|t| t.uri.as_sip().and_then(|s| s.user.map(str::to_owned)));
        let Some(user) = user else {
            return self.reply(now, key, req, 400, "Bad Request");
        };
        let domain = &self.cfg.domain;
        let abs = self.cfg.abs_url.clone().unwrap_or_default();
        let body = format!(
            "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
             <provisionGroup name=\"ServerConfiguration\">\
             <absInternalServerUrl>{abs}</absInternalServerUrl>\
             <absExternalServerUrl>{abs}</absExternalServerUrl>\
             <organization>{domain}</organization>\
             <focusFactoryUri>sip:{user}@{domain};gruu;opaque=app:conf:focusfactory</focusFactoryUri>\
             </provisionGroup></provisionGroupList>"
        );
        let tag = self.token();
        let cseq = req.cseq().map_or(1, |c| c.seq);
        let Ok(ok) = req
            .response(200, "OK", &tag)
            .header("Expires", 0)
            .header("Event", "vnd-microsoft-provisioning-v2")
            .header("subscription-state", "terminated;expires=0")
            .header("ms-piggyback-cseq", cseq)
            .header("Supported", "ms-benotify, ms-piggyback-first-notify")
            .body(
                "application/vnd-microsoft-roaming-provisioning-v2+xml",
                body.as_bytes(),
            )
            .build()
        else {
            return self.reply(now, key, req, 500, "Server Internal Error");
        };
        let _ = self.layer.respond(now, key, ok);
    }

    fn register(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: &Message,
        users: &dyn Directory,
    ) {
        let Some(Ok(ruri)) = req.request_uri() else {
            return self.reply(now, key, req, 400, "Bad Request");
        };
        let ours = ruri.as_sip().is_some_and(|s| self.is_us(&s.host, s.port));
        if !ours {
            return self.reply(now, key, req, 404, "Not Found");
        }
        let Ok(to) = req.to() else {
            return self.reply(now, key, req, 400, "Bad Request");
        };
        let Some((user, to_ours)) = to
            .uri
            .as_sip()
            .and_then(|s| Some((s.user?.to_owned(), self.is_us(&s.host, s.port))))
        else {
            return self.reply(now, key, req, 400, "Bad Request");
        };
        if !to_ours {
            return self.reply(now, key, req, 404, "Not Found");
        }
        let aor = format!("sip:{user}@{}", self.cfg.domain);
        // Authentication.
        let mut auth_info = None;
        if !self.cfg.auth.is_empty() {
            match self.authenticate(now, key, req, users) {
                Ok((who, info)) => {
                    if !who.eq_ignore_ascii_case(&user)
                        && !who
                            .rsplit('\\')
                            .next()
                            .is_some_and(|u| u.eq_ignore_ascii_case(&user))
                    {
                        return self.reply(now, key, req, 403, "Forbidden");
                    }
                    auth_info = info;
                }
                Err(()) => return,
            }
        }
        // Bindings (RFC 3261 §10.3 steps 6-8).
        let header_expires = req.expires().and_then(Result::ok);
        let call_id = req.call_id().unwrap_or_default().to_owned();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let contacts: Vec<_> = req.contacts().flatten().collect();
        let mut ops = Vec::new();
        let wildcard = contacts
            .iter()
            .any(|c| matches!(c, crate::sip::headers::Contact::Wildcard));
        let now_s = unix(wall);
        if wildcard {
            if contacts.len() != 1 || header_expires != Some(0) {
                return self.reply(now, key, req, 400, "Bad Request");
            }
            for b in self.bindings.remove(&aor).unwrap_or_default() {
                self.flows.remove(&b.contact);
                ops.push(StoreOp::Unbind {
                    aor: aor.clone(),
                    contact: b.contact,
                });
            }
        } else {
            let existing = self.bindings.entry(aor.clone()).or_default();
            let flows = &mut self.flows;
            existing.retain(|b| {
                let live = b.expires_at > now_s;
                if !live {
                    flows.remove(&b.contact);
                }
                live
            });
            let mut changes: Vec<(String, Option<Binding>)> = Vec::new();
            for c in &contacts {
                let Some(addr) = c.address() else { continue };
                let uri = addr.uri.to_string();
                let expires = c
                    .expires()
                    .and_then(Result::ok)
                    .or(header_expires)
                    .unwrap_or(3600);
                if expires != 0 && expires < self.cfg.min_expires {
                    let min = self.cfg.min_expires.to_string();
                    return self.reply_with(
                        now,
                        key,
                        req,
                        423,
                        "Interval Too Brief",
                        &[("Min-Expires", min)],
                    );
                }
                if let Some(old) = existing.iter().find(|b| b.contact == uri)
                    && old.call_id == call_id
                    && cseq <= old.cseq
                {
                    return self.reply(now, key, req, 500, "Server Internal Error");
                }
                let binding = (expires != 0).then(|| Binding {
                    aor: aor.clone(),
                    contact: uri.clone(),
                    instance: c.sip_instance().map(str::to_owned),
                    expires_at: now_s + u64::from(expires.min(self.cfg.max_expires)),
                    call_id: call_id.clone(),
                    cseq,
                    flow: self
                        .peers
                        .get(&key)
                        .copied()
                        .filter(|p| matches!(p, Peer::Stream { .. })),
                });
                changes.push((uri, binding));
            }
            for (uri, binding) in changes {
                existing.retain(|b| b.contact != uri);
                match binding.as_ref().and_then(|b| b.flow) {
                    Some(flow) => self.flows.insert(uri.clone(), flow),
                    None => self.flows.remove(&uri),
                };
                match binding {
                    Some(b) => {
                        existing.push(b.clone());
                        ops.push(StoreOp::Bind(b));
                    }
                    None => ops.push(StoreOp::Unbind {
                        aor: aor.clone(),
                        contact: uri,
                    }),
                }
            }
        }
        // The 200 lists every current binding.
        let tag = self.token();
        let mut b = req.response(200, "OK", &tag);
        let live: Vec<Binding> = self.bindings(&aor, wall).into_iter().cloned().collect();
        for bnd in &live {
            let mut v = format!(
                "<{}>;expires={}",
                bnd.contact,
                bnd.expires_at.saturating_sub(now_s)
            );
            if let Some(i) = &bnd.instance {
                v.push_str(";+sip.instance=");
                v.push_str(i);
            }
            if let Some(g) = bnd.gruu() {
                v.push_str(&format!(";gruu=\"{g}\""));
            }
            b = b.header("Contact", v);
        }
        // [MS-CONMGMT] 2.2.1: a client that offers keep-alives learns ours (hop by hop, every
        // 300 s; no TCP keep-alive needed from it).
        if req.header(HeaderName::MsKeepAlive).is_some() {
            b = b.header(
                "ms-keep-alive",
                "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300",
            );
        }
        let Ok(mut ok) = b.build() else {
            return self.reply(now, key, req, 500, "Server Internal Error");
        };
        if let Some((opaque, _)) = auth_info
            && let Ok(info) = self.ntlm.sign_response(&opaque, &ok, self.counter as u32)
            && let Ok(signed) = ok.with_header("Authentication-Info", &info)
        {
            ok = signed;
        }
        self.stats.registered += 1;
        if ops.is_empty() {
            let _ = self.layer.respond(now, key, ok);
            return;
        }
        let mut ticket = 0;
        for op in ops {
            ticket = self.next_ticket;
            self.next_ticket += 1;
            self.store.push_back((ticket, op));
        }
        self.held.push_back((ticket, key, ok));
    }

    /// Checks the credentials of `req`; on failure answers it (401/403) and returns `Err`.
    /// On success, the user and, for NTLM, the association to sign the response with.
    #[allow(clippy::type_complexity)]
    fn authenticate(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        users: &dyn Directory,
    ) -> Result<(String, Option<(String, ())>), ()> {
        let creds: Vec<Auth<'_>> = req.auth(HeaderName::Authorization).flatten().collect();
        if let Some(a) = creds
            .iter()
            .find(|a| a.scheme() == Some(AuthScheme::Digest))
        {
            let method = req.method().unwrap_or_default();
            match self.digest.verify(a, method, now, |u| users.password(u)) {
                Ok(user) => return Ok((user, None)),
                Err(DigestError::Stale) => {
                    self.challenge(now, key, req, true);
                    return Err(());
                }
                Err(_) => {
                    self.reply(now, key, req, 403, "Forbidden");
                    return Err(());
                }
            }
        }
        if creds.iter().any(|a| a.scheme() == Some(AuthScheme::Ntlm))
            && self.cfg.auth.iter().any(|s| s.eq_ignore_ascii_case("NTLM"))
        {
            let challenge = self.unpredictable();
            let opaque = self.token()[..8].to_ascii_uppercase();
            let lookup = |u: &str, _d: &str| {
                users
                    .password(u)
                    .map(|p| crate::sip::ntlm::Credentials::new(u, "", &p).nt_hash())
            };
            return match self.ntlm.handle(
                req,
                HeaderName::Authorization,
                challenge,
                &opaque,
                lookup,
            ) {
                Verdict::Challenge(c) => {
                    self.reply_with(
                        now,
                        key,
                        req,
                        401,
                        "Unauthorized",
                        &[("WWW-Authenticate", c)],
                    );
                    Err(())
                }
                Verdict::Authenticated { opaque, user } | Verdict::Verified { opaque, user } => {
                    Ok((user, Some((opaque, ()))))
                }
                Verdict::Rejected(_) => {
                    self.reply(now, key, req, 403, "Forbidden");
                    Err(())
                }
            };
        }
        self.challenge(now, key, req, false);
        Err(())
    }

    fn challenge(&mut self, now: Instant, key: TxKey, req: &Message, stale: bool) {
        let mut headers = Vec::new();
        for scheme in self.cfg.auth.clone() {
            if scheme.eq_ignore_ascii_case("Digest") {
                headers.push((
                    "WWW-Authenticate",
                    self.digest.challenge(now, Algorithm::Md5, stale),
                ));
            } else if scheme.eq_ignore_ascii_case("NTLM") {
                headers.push((
                    "WWW-Authenticate",
                    format!(
                        "NTLM realm=\"{}\", targetname=\"{}\", version=3",
                        crate::sip::sipae::REALM,
                        self.cfg.ntlm_target
                    ),
                ));
            }
        }
        self.reply_with(now, key, req, 401, "Unauthorized", &headers);
    }

    /// Our Via for a request going out on `peer`'s transport, with a fresh branch.
    fn our_via(&mut self, peer: &Peer) -> String {
        let addr = self.sent_by(peer);
        let branch = self.token();
        format!(
            "SIP/2.0/{} {addr};branch=z9hG4bK{branch}",
            peer.via_transport()
        )
    }

    fn record_route(&self, peer: &Peer) -> Option<String> {
        let (addr, t) = match peer {
            Peer::Udp(_) => (self.cfg.udp_addr?, "udp"),
            Peer::Stream { tls: false, .. } => (self.cfg.tcp_addr?, "tcp"),
            Peer::Stream { tls: true, .. } => (self.cfg.tls_addr?, "tls"),
        };
        Some(format!("<sip:{addr};transport={t};lr>"))
    }

    /// Whether a Route value names this server.
    fn route_is_us(&self, value: &str) -> bool {
        crate::sip::headers::NameAddr::parse(value)
            .ok()
            .is_some_and(|n| {
                n.uri
                    .as_sip()
                    .is_some_and(|s| self.is_our_addr(&s.host, s.port.unwrap_or(5060)))
            })
    }

    /// The targets of a request: the Request-URI's registered contacts when it names a user of
    /// ours, else the Request-URI itself.
    fn targets(
        &self,
        req: &Message,
        wall: SystemTime,
    ) -> Result<Vec<(String, Peer)>, (u16, &'static str)> {
        let Some(Ok(uri)) = req.request_uri() else {
            return Err((400, "Bad Request"));
        };
        let sip = uri.as_sip().ok_or((416, "Unsupported URI Scheme"))?;
        if self.is_us(&sip.host, sip.port) {
            let user = sip.user.ok_or((404, "Not Found"))?;
            let aor = format!("sip:{user}@{}", self.cfg.domain);
            // A GRUU reaches one instance.
            let epid = sip
                .params
                .value("opaque")
                .and_then(|o| o.strip_prefix("user:epid:"));
            let found: Vec<(String, Peer)> = self
                .bindings(&aor, wall)
                .into_iter()
                .filter(|b| epid.is_none_or(|e| b.gruu().is_some_and(|g| g.contains(e))))
                .filter_map(|b| {
                    let peer = b.flow.or_else(|| {
                        Uri::parse(&b.contact)
                            .ok()
                            .and_then(|u| target_of(&u))
                            .map(|(addr, _tcp)| Peer::Udp(addr))
                    })?;
                    Some((b.contact.clone(), peer))
                })
                .collect();
            if found.is_empty() {
                return Err(if self.bindings.contains_key(&aor) {
                    (480, "Temporarily Unavailable")
                } else {
                    (404, "Not Found")
                });
            }
            return Ok(found);
        }
        let (addr, _tcp) = target_of(&uri).ok_or((404, "Not Found"))?;
        // A contact of ours reached over its registration flow, if it has one.
        let uri = uri.to_string();
        let peer = self.flows.get(&uri).copied().unwrap_or(Peer::Udp(addr));
        Ok(vec![(uri, peer)])
    }

    /// The request rewritten for one branch (RFC 3261 §16.6): Request-URI, our Via on top,
    /// Max-Forwards less one, our Route popped, Record-Route added for dialog-creating
    /// requests.
    fn rewrite(
        &mut self,
        req: &Message,
        target: &str,
        peer: &Peer,
        from: Option<&Peer>,
    ) -> Option<Message> {
        let StartLine::Request { method, .. } = req.start_line() else {
            return None;
        };
        let mut out = String::with_capacity(req.len() + 128);
        out.push_str(method);
        out.push(' ');
        out.push_str(target);
        out.push_str(" SIP/2.0\r\n");
        let via = self.our_via(peer);
        push_header(&mut out, "Via", &via);
        if matches!(method, "INVITE" | "SUBSCRIBE" | "REFER")
            && let Some(rr) = self.record_route(peer)
        {
            push_header(&mut out, "Record-Route", &rr);
            // Between two transports, record-route twice (RFC 5658): the callee's side on top,
            // then the caller's, so that each end reaches us over its own transport.
            if let Some(inbound) = from.filter(|f| f.via_transport() != peer.via_transport())
                && let Some(rr_in) = self.record_route(inbound)
            {
                push_header(&mut out, "Record-Route", &rr_in);
            }
        }
        let mut mf_seen = false;
        let mut popping = true;
        for h in req.headers() {
            match h.kind {
                HeaderName::MaxForwards => {
                    mf_seen = true;
                    let n: u32 = h.value.trim().parse().unwrap_or(70);
                    push_header(&mut out, h.name, &n.saturating_sub(1).to_string());
                }
                HeaderName::Route => {
                    // Every leading entry that is ours (two after double record-routing, maybe
                    // on separate lines).
                    let keep: Vec<&str> = h
                        .values()
                        .map(|(v, _)| v)
                        .skip_while(|v| popping && self.route_is_us(v))
                        .collect();
                    if !keep.is_empty() {
                        popping = false;
                        push_header(&mut out, h.name, &keep.join(", "));
                    }
                }
                _ => push_header(&mut out, h.name, h.value),
            }
        }
        if !mf_seen {
            push_header(&mut out, "Max-Forwards", "69");
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(req.body());
        Message::parse(Bytes::from(bytes)).ok()
    }

    fn proxy(&mut self, now: Instant, wall: SystemTime, key: TxKey, req: Message) {
        if req.max_forwards().and_then(Result::ok) == Some(0) {
            return self.reply(now, key, &req, 483, "Too Many Hops");
        }
        // A request that already went through us on this branch is a loop (§16.3 step 4).
        let top_branch = req.top_via().ok().and_then(|t| t.branch());
        let looped = req.via().flatten().skip(1).any(|v| {
            v.port.is_some_and(|p| self.is_our_addr(&v.host, p)) && v.branch() == top_branch
        });
        if looped {
            return self.reply(now, key, &req, 482, "Loop Detected");
        }
        let targets = match self.targets(&req, wall) {
            Ok(t) => t,
            Err((code, reason)) => return self.reply(now, key, &req, code, reason),
        };
        let mut branches = Vec::new();
        for (target, peer) in targets {
            let inbound = self.peers.get(&key).copied();
            let Some(fwd) = self.rewrite(&req, &target, &peer, inbound.as_ref()) else {
                continue;
            };
            match self.layer.send_request(now, fwd.clone(), peer.transport()) {
                Ok(ck) => {
                    self.peers.insert(ck, peer);
                    self.branch_of.insert(ck, key);
                    branches.push((ck, fwd, false));
                    self.stats.forwarded += 1;
                }
                Err(_) => continue,
            }
        }
        if branches.is_empty() {
            return self.reply(now, key, &req, 503, "Service Unavailable");
        }
        self.forwards.insert(
            key,
            Forward {
                branches,
                best: None,
                answered: false,
            },
        );
    }

    /// A response on one of our client transactions.
    fn response(&mut self, now: Instant, ck: TxKey, resp: Message) {
        let Some(&sk) = self.branch_of.get(&ck) else {
            return;
        };
        let code = resp.status().unwrap_or(0);
        if code == 100 {
            return;
        }
        let Some(up) = strip_top_via(&resp) else {
            return;
        };
        let Some(f) = self.forwards.get_mut(&sk) else {
            // The forward is over; a 2xx retransmission still goes up statelessly.
            if (200..300).contains(&code) {
                self.stray_response(resp);
            }
            return;
        };
        if code < 200 {
            let _ = self.layer.respond(now, sk, up);
            return;
        }
        if let Some(b) = f.branches.iter_mut().find(|b| b.0 == ck) {
            b.2 = true;
        }
        if (200..300).contains(&code) {
            f.answered = true;
            // Every 2xx goes up (§16.7 step 5); the other branches are cancelled.
            let _ = self.layer.respond(now, sk, up);
            self.cancel_branches(now, sk);
        } else if f
            .best
            .as_ref()
            .is_none_or(|b| better(code, b.status().unwrap_or(0)))
        {
            f.best = Some(up);
        }
        self.finish_if_done(now, sk);
    }

    fn finish_if_done(&mut self, now: Instant, sk: TxKey) {
        let Some(f) = self.forwards.get(&sk) else {
            return;
        };
        if !f.branches.iter().all(|b| b.2) {
            return;
        }
        if let Some(f) = self.forwards.remove(&sk)
            && !f.answered
            && let Some(best) = f.best
        {
            let _ = self.layer.respond(now, sk, best);
        }
    }

    /// A branch gave up (timeout, transport error): it counts as a 408 (§16.7 step 2).
    fn branch_failed(&mut self, now: Instant, ck: TxKey, code: u16) {
        let Some(&sk) = self.branch_of.get(&ck) else {
            return;
        };
        let Some(f) = self.forwards.get_mut(&sk) else {
            return;
        };
        let Some(b) = f.branches.iter_mut().find(|b| b.0 == ck) else {
            return;
        };
        b.2 = true;
        let req = b.1.clone();
        if f.best
            .as_ref()
            .is_none_or(|r| better(code, r.status().unwrap_or(0)))
            && let Some(upreq) = self.layer.request(sk).cloned()
            && let Ok(r) = upreq.response(code, "Request Timeout", "").build()
        {
            f.best = Some(r);
        }
        drop(req);
        self.finish_if_done(now, sk);
    }

    /// CANCEL every unfinished branch of the forward served by `sk` (§16.10).
    fn cancel_branches(&mut self, now: Instant, sk: TxKey) {
        let Some(f) = self.forwards.get(&sk) else {
            return;
        };
        let pending: Vec<(TxKey, Message)> = f
            .branches
            .iter()
            .filter(|b| !b.2)
            .map(|b| (b.0, b.1.clone()))
            .collect();
        for (ck, req) in pending {
            if req.method() != Some("INVITE") {
                continue;
            }
            let Some(cancel) = cancel_for(&req) else {
                continue;
            };
            let Some(&peer) = self.peers.get(&ck) else {
                continue;
            };
            if let Ok(k) = self.layer.send_request(now, cancel, peer.transport()) {
                self.peers.insert(k, peer);
            }
        }
    }

    /// An ACK for a 2xx (or any request outside a transaction) forwarded without state.
    fn forward_stateless(&mut self, wall: SystemTime, req: Message) {
        let targets = match self.targets(&req, wall) {
            Ok(t) => t,
            Err(_) => return,
        };
        if let Some((target, peer)) = targets.into_iter().next()
            && let Some(fwd) = self.rewrite(&req, &target, &peer, None)
        {
            self.stats.forwarded += 1;
            self.out.push_back(Outbound {
                peer,
                bytes: fwd.to_bytes(),
            });
        }
    }

    /// A response for no transaction of ours: if its top Via is ours, it goes to the next Via
    /// (received/rport first, §18.2.2).
    fn stray_response(&mut self, resp: Message) {
        let Some(up) = strip_top_via(&resp) else {
            return;
        };
        let Ok(via) = up.top_via() else {
            return;
        };
        let sent_by = match via.host {
            Host::Ipv4(a) => Some(std::net::IpAddr::V4(a)),
            _ => None,
        };
        let ip = via.received().and_then(|r| r.parse().ok()).or(sent_by);
        let port = via.rport().flatten().or(via.port).unwrap_or(5060);
        if let Some(ip) = ip {
            self.out.push_back(Outbound {
                peer: Peer::Udp(SocketAddr::new(ip, port)),
                bytes: up.to_bytes(),
            });
        }
    }
}

/// Whether a final `code` beats the best so far (§16.7 step 6): 6xx first, then the lowest
/// class.
fn better(code: u16, best: u16) -> bool {
    if best >= 600 {
        return false;
    }
    if code >= 600 {
        return true;
    }
    code / 100 < best / 100
}

/// The CANCEL for a forwarded INVITE (§9.1): its Request-URI, top Via, Call-ID, From, To,
/// Route, and the CSeq number with CANCEL.
fn cancel_for(invite: &Message) -> Option<Message> {
    let StartLine::Request { uri, .. } = invite.start_line() else {
        return None;
    };
    let seq = invite.cseq().ok()?.seq;
    let mut b = MessageBuilder::request("CANCEL", uri)
        .header("Via", invite.header(HeaderName::Via)?.value)
        .header("Max-Forwards", "70")
        .header("From", invite.header(HeaderName::From)?.value)
        .header("To", invite.header(HeaderName::To)?.value)
        .header("Call-ID", invite.call_id().ok()?)
        .header("CSeq", format!("{seq} CANCEL"));
    for r in invite.headers_named(HeaderName::Route) {
        b = b.header("Route", r.value);
    }
    b.build().ok()
}
