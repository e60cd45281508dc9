//! The SIP engine of the reference server: applications over one sans-IO SIP core.
//!
//! ```text
//!                       ┌──────────────────────── Engine ─────────────────────────┐
//!  handle(message) ───▶ │ core: transaction layer, peers, tokens, store tickets    │
//!  handle_timeout()     │   │ route(request) — one line per application:           │
//!  committed(ticket)    │   ├─ registrar      REGISTER, Digest/NTLM, bindings      │
//!  mcu_answer(id)       │   ├─ provisioning   vnd-microsoft-provisioning-v2        │
//!                       │   ├─ conference     focus factory, focus, subscriptions  │
//!                       │   ├─ presence       contact lists, categories, watchers  │
//!                       │   ├─ sessions       IM and A/V MCU sessions, chat relay  │
//!                       │   └─ proxy          everything else: forking proxy       │
//!                       │ mcus (server::mcu): C3P service of the A/V, IM and       │
//!                       │   meeting MCUs — a direct call from the focus            │
//!  poll_output() ◀───── │ one queue: Transmit, Store, Media, WebConf, Mcu          │
//!  poll_timeout()       └──────────────────────────────────────────────────────────┘
//! ```
//!
//! It owns no socket and reads no clock: the transport tasks hand it parsed messages with the
//! peer they came from, the runtime hands it the time, and everything it wants done leaves
//! through [`Engine::poll_output`] as one [`Output`]. Each application is a module with its
//! own state ([`registrar`](self) bindings, proxy forwards, the focus and its
//! subscriptions, the MCU sessions); they share only the [core](self) — transactions, where
//! each goes, tokens, this server's addresses — and each request goes to exactly one of them
//! by [`Engine`]'s routing. Adding an application is one module and one line in `route`.
//!
//! ## Order of calls
//!
//! 1. Feed an input: [`Engine::handle`] (a parsed message), [`Engine::handle_timeout`] (when
//!    [`Engine::poll_timeout`] is due), [`Engine::committed`] (the store committed a ticket),
//!    [`Engine::mcu_answer`] (a remote MCU answered an [`Output::Mcu`]).
//! 2. After **every** input, drain [`Engine::poll_output`] until it returns `None` — or call
//!    [`Engine::pump`] with a [`Sink`], which does that and commits synchronous store writes.
//!    Outputs come in the order they were made: a relay change before the SIP answer that
//!    announces it, a store write before the response held for it.
//! 3. Ask [`Engine::poll_timeout`] again and sleep until then or the next input.
//!
//! A `200 OK` that changed bindings or a conference is held until the store says the change
//! is committed ([`Engine::committed`]): what is acknowledged is on disk. The runtime
//! (`server::run`) and the tests (virtual time, [`Recorder`]) use the same pump.

mod conference;
pub(crate) mod core;
pub mod kerberos;
pub mod pool;
mod presence;
mod provisioning;
mod proxy;
mod registrar;
mod security;
mod sessions;

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

pub use self::core::{ConnId, Outbound, Peer};
pub use crate::server::mcu::{MediaLeg, MediaOp, WebConfOp};
pub use conference::C3P;
pub use pool::PoolConfig;
pub use presence::PresenceLimits;
pub use registrar::{Binding, ClearPasswords, Directory};

use self::core::Core;
use crate::cccp::info::ConferenceInfo;
use crate::cccp::uri::{McuType, UriKind};
use crate::server::mcu::{McuConfig, Mcus};
use crate::sip::Message;
use crate::sip::transaction::{TxEvent, TxKey};
use conference::{Conferencing, Cx};
use presence::Presence;
use proxy::Proxy;
use registrar::Registrar;
use sessions::Sessions;

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
    /// Keep a user's contact list and roaming data ([MS-PRES]): the `contactList` and the
    /// `roamingData` (containers, subscribers, static categories) documents.
    Roaming {
        /// The user, `sip:user@domain`.
        aor: String,
        /// Its `contactList` document.
        contacts: String,
        /// Its `roamingData` document.
        data: String,
    },
}

/// A conference as the store keeps it ([`StoreOp::Schedule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConference {
    /// The focus URI.
    pub focus: String,
    /// The scheduling record: a `conference-info` document
    /// ([`Scheduled::info`](crate::cccp::focus::Scheduled)).
    pub info: String,
    /// The conference key.
    pub key: [u8; 16],
    /// When it expires, seconds since the Unix epoch (expired ones are purged).
    pub expires_at: u64,
}

/// A C3P request for a remote MCU, for the runtime to POST over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McuCall {
    /// Its id, for [`Engine::mcu_answer`].
    pub id: u64,
    /// The MCU type (its HTTP path is `/LiveServer/<type>/`).
    pub mcu: McuType,
    /// Where that MCU listens.
    pub addr: SocketAddr,
    /// The C3P request document.
    pub body: Bytes,
}

/// Everything the engine wants done, in the order it decided it.
#[derive(Debug, Clone)]
pub enum Output {
    /// Bytes for a peer.
    Transmit(Outbound),
    /// A write for the store; once committed, tell [`Engine::committed`] its ticket.
    Store {
        /// Tickets increase; committing one commits every earlier one.
        ticket: u64,
        /// The write.
        op: StoreOp,
    },
    /// A change for the A/V MCU's media relay.
    Media(MediaOp),
    /// A change for the web-conferencing MCU's PSOM service.
    WebConf(WebConfOp),
    /// C3P for a remote MCU; its answer goes to [`Engine::mcu_answer`].
    Mcu(McuCall),
}

/// Where [`Engine::pump`] puts the outputs.
pub trait Sink {
    /// Bytes for a peer.
    fn transmit(&mut self, out: Outbound);
    /// A write for the store. Return `true` when it is committed on return (an in-memory
    /// store), `false` when the commit is reported later through [`Engine::committed`].
    fn store(&mut self, ticket: u64, op: StoreOp) -> bool;
    /// A change for the media relay.
    fn media(&mut self, op: MediaOp);
    /// A change for the PSOM service.
    fn webconf(&mut self, op: WebConfOp);
    /// C3P for a remote MCU.
    fn mcu(&mut self, call: McuCall);
}

/// A [`Sink`] that keeps everything and commits every store write at once (unless
/// `defer_commits`): the engine on virtual time, for tests and for embedding without a
/// database.
#[derive(Debug, Default)]
pub struct Recorder {
    /// Leave store writes uncommitted: the caller reports them to [`Engine::committed`] (a
    /// slow store, or a test of what waits for the commit).
    pub defer_commits: bool,
    /// Bytes sent, in order.
    pub sent: Vec<Outbound>,
    /// Store writes, with their tickets.
    pub stored: Vec<(u64, StoreOp)>,
    /// Relay changes.
    pub media: Vec<MediaOp>,
    /// PSOM service changes.
    pub webconf: Vec<WebConfOp>,
    /// Calls to remote MCUs.
    pub mcu: Vec<McuCall>,
}

impl Sink for Recorder {
    fn transmit(&mut self, out: Outbound) {
        self.sent.push(out);
    }
    fn store(&mut self, ticket: u64, op: StoreOp) -> bool {
        self.stored.push((ticket, op));
        !self.defer_commits
    }
    fn media(&mut self, op: MediaOp) {
        self.media.push(op);
    }
    fn webconf(&mut self, op: WebConfOp) {
        self.webconf.push(op);
    }
    fn mcu(&mut self, call: McuCall) {
        self.mcu.push(call);
    }
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
    /// Authentication schemes offered, in order (`Digest`, `NTLM`); none disables it (every
    /// request then acts as its From: for load tests only).
    pub auth: Vec<String>,
    /// Failed authentications per source address, and per user, in a minute before further
    /// attempts are refused (`403` with `Retry-After`) until the minute ends.
    pub auth_failure_limit: u32,
    /// Requests without credentials taken per source address and second (each costs a
    /// challenge); past it they are answered `503` with `Retry-After`. 0: no limit.
    pub unauthenticated_per_second: u32,
    /// Transactions at once (each UDP one lives 32 s after its answer); past it new requests
    /// are answered `503` statelessly.
    pub max_transactions: usize,
    /// Take a Digest `uri` that names this server (no user part) as well as the Request-URI:
    /// sipp's `[authentication]` writes the address it sends to. Off by default.
    pub digest_uri_next_hop: bool,
    /// How long an [MS-SIPAE] security association lives before it is renegotiated
    /// (§3.2.2: at most eight hours).
    pub sa_lifetime: std::time::Duration,
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
    /// MCUs in another process, reached with C3P over HTTP at these addresses (path
    /// `/LiveServer/<type>/`); every other MCU type is served in this process by a direct
    /// call.
    pub remote_mcus: Vec<(McuType, SocketAddr)>,
    /// The presence application's limits (contacts, groups, publications, batch size).
    pub presence: PresenceLimits,
    /// Whether the A/V MCU's media must be SRTP.
    pub media_srtp: crate::server::mcu::SrtpPolicy,
    /// This front end's place in a pool of them, if it is in one.
    pub pool: Option<PoolConfig>,
    /// Other addresses that name this server (a load balancer's in front of it).
    pub aliases: Vec<SocketAddr>,
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
            auth_failure_limit: 10,
            digest_uri_next_hop: false,
            unauthenticated_per_second: 2000,
            max_transactions: 200_000,
            sa_lifetime: std::time::Duration::from_secs(8 * 3600),
            min_expires: 60,
            max_expires: 7200,
            ntlm_target: "ocs.contoso.com".into(),
            abs_url: None,
            media_rtp: None,
            media_rtcp: None,
            psom_addr: None,
            remote_mcus: Vec::new(),
            presence: PresenceLimits::default(),
            media_srtp: crate::server::mcu::SrtpPolicy::Required,
            pool: None,
            aliases: Vec::new(),
        }
    }
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
    /// Failed authentications (wrong password, bad signature).
    pub auth_failures: u64,
    /// Messages dropped because a client with a security association did not sign them.
    pub unsigned_dropped: u64,
    /// Requests without credentials refused by the per-source rate.
    pub rate_limited: u64,
}

/// A seed of its own for one user of the engine's seed (the focus's generator, the PSOM
/// service's): SHA-256 of the seed and a label, so that no two share a stream.
#[must_use]
pub fn derive_seed(seed: &[u8; 32], label: &[u8]) -> [u8; 32] {
    use sha2::Digest as _;
    sha2::Sha256::new()
        .chain_update(seed)
        .chain_update(label)
        .finalize()
        .into()
}

/// Which application a request goes to.
enum Route {
    Registrar,
    Options,
    Cancel,
    Conference(crate::cccp::uri::ConferenceUri),
    McuSession(crate::cccp::uri::ConferenceUri),
    Provisioning,
    Presence,
    Proxy,
}

/// The SIP engine: see the [module documentation](self).
pub struct Engine {
    core: Core,
    registrar: Registrar,
    proxy: Proxy,
    conference: Conferencing,
    sessions: Sessions,
    mcus: Mcus,
    presence: Presence,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("domain", &self.core.cfg.domain)
            .field("transactions", &self.core.layer.len())
            .finish_non_exhaustive()
    }
}

/// Splits the engine into the conferencing application and what it works with.
macro_rules! conferencing {
    ($e:expr) => {{
        let Engine {
            core,
            conference,
            sessions,
            mcus,
            ..
        } = $e;
        (
            conference,
            Cx {
                core,
                sessions,
                mcus,
            },
        )
    }};
}

impl Engine {
    /// A new engine; `seed` makes its tags, branches, nonces and keys (from the runtime's
    /// random generator), `now` starts its clock.
    #[must_use]
    pub fn new(cfg: EngineConfig, seed: [u8; 32], now: Instant) -> Engine {
        let mcus = Mcus::new(
            McuConfig {
                media_rtp: cfg.media_rtp,
                media_rtcp: cfg.media_rtcp,
                psom: cfg.psom_addr,
                srtp: cfg.media_srtp,
            },
            &seed,
        );
        let remote_mcus = cfg.remote_mcus.clone();
        let presence = Presence::new(cfg.presence.clone());
        let pool = cfg.pool.clone().map(pool::Pool::new);
        let mut core = Core::new(cfg, &seed, now);
        core.pool = pool;
        let focus = crate::cccp::focus::Focus::new(
            crate::cccp::focus::FocusConfig {
                mcus: vec![McuType::AudioVideo, McuType::Chat, McuType::Meeting],
                ..crate::cccp::focus::FocusConfig::default()
            },
            <rand::rngs::StdRng as rand::SeedableRng>::from_seed(derive_seed(
                &seed,
                b"ocs focus keys",
            )),
        );
        Engine {
            registrar: Registrar::new(),
            core,
            proxy: Proxy::default(),
            conference: Conferencing::new(focus, remote_mcus),
            sessions: Sessions::default(),
            mcus,
            presence,
        }
    }

    /// Loads a user's contact list and roaming data from the store (at start-up).
    ///
    /// # Errors
    /// A document that does not parse.
    pub fn load_roaming(&mut self, aor: &str, contacts: &str, data: &str) -> Result<(), String> {
        self.presence.load(aor, contacts, data)
    }

    /// Another front end of the pool stored `aor`'s contact list and roaming data (the
    /// store's announcement): this engine's copy becomes that one, its endpoints' live
    /// publications kept.
    ///
    /// # Errors
    /// Documents that do not parse; the copy is left as it was.
    pub fn remote_roaming(&mut self, aor: &str, contacts: &str, data: &str) -> Result<(), String> {
        self.presence.refresh(aor, contacts, data)
    }

    /// A user's contact list as its owner gets it (`None` for a user without one).
    #[must_use]
    pub fn contact_list(&self, aor: &str) -> Option<crate::sip::presence::ContactList> {
        self.presence.contact_list(aor)
    }

    /// The counters.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.core.stats
    }

    /// Live transactions.
    #[must_use]
    pub fn transactions(&self) -> usize {
        self.core.layer.len()
    }

    /// Loads a binding from the store at start-up (expired ones are skipped).
    pub fn load_binding(&mut self, b: Binding, wall: SystemTime) {
        self.registrar.load_binding(b, wall);
    }

    /// The live bindings of `aor` at `wall`.
    #[must_use]
    pub fn bindings(&self, aor: &str, wall: SystemTime) -> Vec<&Binding> {
        self.registrar.bindings(aor, wall)
    }

    /// Schedules a conference the store kept (at start-up). Expired ones are refused.
    ///
    /// # Errors
    /// What [`Focus::restore`](crate::cccp::focus::Focus::restore) refuses, or a record that
    /// does not parse.
    pub fn restore_conference(
        &mut self,
        now: Instant,
        wall: SystemTime,
        stored: &StoredConference,
    ) -> Result<(), String> {
        let (conference, mut cx) = conferencing!(self);
        let r = conference.restore(&mut cx, now, wall, stored);
        self.core.flush_transmits();
        r
    }

    /// How many bindings are live at `wall` (every user's counted: call it now and then).
    #[must_use]
    pub fn live_bindings(&self, wall: SystemTime) -> usize {
        self.registrar.live(wall)
    }

    /// How many conferences the focus runs.
    #[must_use]
    pub fn conference_count(&self) -> usize {
        self.conference.focus.conference_count()
    }

    /// The state of a conference, by focus URI.
    #[must_use]
    pub fn conference(&self, focus_uri: &str) -> Option<&ConferenceInfo> {
        self.conference.focus.conference(focus_uri)
    }

    /// Serves one C3P request POSTed to this process's MCU of type `mcu` (the runtime's MCU
    /// listener, for a focus elsewhere). Returns the C3P response document, or `None` for a
    /// body that is not a C3P request (HTTP 400).
    pub fn serve_mcu(&mut self, now: Instant, mcu: &McuType, body: &[u8]) -> Option<Bytes> {
        let answer = self.mcus.serve(mcu, body);
        let (_, mut cx) = conferencing!(self);
        conference::drain_mcus(&mut cx, now);
        self.core.flush_transmits();
        answer
    }

    /// The answer of a remote MCU to [`McuCall`] `id`: the C3P response document, or `None`
    /// when the exchange failed (connection, HTTP status, time-out).
    pub fn mcu_answer(&mut self, now: Instant, wall: SystemTime, id: u64, answer: Option<&[u8]>) {
        self.core.wall = wall;
        let (conference, mut cx) = conferencing!(self);
        conference.mcu_answer(&mut cx, now, wall, id, answer);
        self.core.flush_transmits();
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
        self.core.wall = wall;
        // A request from another front end carries the pool's signature, or is refused.
        let message = match &mut self.core.pool {
            Some(pool) if message.is_request() && pool.is_pool_peer(&peer) => {
                match pool.verify(&message, &peer, wall) {
                    Ok((m, _node)) => m,
                    Err(why) => {
                        self.core.stats.auth_failures += 1;
                        tracing::warn!(peer = %peer.addr(), %why, "a request on the pool listener refused");
                        return;
                    }
                }
            }
            _ => message,
        };
        // A client with a security association signs what it answers too ([MS-SIPAE] 3.3.5).
        if !message.is_request() && !self.core.security.accept_from(&message, &peer) {
            self.core.stats.unsigned_dropped += 1;
            return;
        }
        // RFC 3261 §18.2.1: the peer is kept with the server transaction; the response goes
        // back there.
        let from = message.is_request().then_some(peer);
        self.core
            .layer
            .handle_message(now, message, peer.transport());
        self.drain(now, wall, from, users);
    }

    /// A datagram that does not parse as a message: if its header section does (the fault is
    /// its body, e.g. a Content-Length past the datagram's end, RFC 3261 §18.3), a request is
    /// answered `400` statelessly; anything else is dropped.
    pub fn malformed_datagram(&mut self, data: &[u8], peer: Peer) {
        let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") else {
            return;
        };
        let head = String::from_utf8_lossy(&data[..end]);
        let mut fixed = String::with_capacity(end + 24);
        for line in head.split("\r\n") {
            let name = line.split(':').next().unwrap_or("").trim();
            if name.eq_ignore_ascii_case("content-length") || name.eq_ignore_ascii_case("l") {
                continue;
            }
            fixed.push_str(line);
            fixed.push_str("\r\n");
        }
        fixed.push_str("Content-Length: 0\r\n\r\n");
        let Ok(m) = Message::parse(Bytes::from(fixed)) else {
            return;
        };
        if !m.is_request() || m.method() == Some("ACK") {
            return;
        }
        let warning = format!(
            "399 {} \"the body does not match Content-Length\"",
            self.core.cfg.ntlm_target
        );
        if let Ok(r) = m
            .response(400, "Bad Request", "")
            .header("Warning", warning)
            .build()
        {
            self.core.send(peer, r.to_bytes());
        }
    }

    /// A TCP or TLS connection closed: its security association ends with it.
    pub fn closed(&mut self, conn: ConnId) {
        self.core.security.closed(conn);
        self.presence.closed(conn);
        if let Some(p) = &mut self.core.pool {
            p.closed(conn);
        }
    }

    /// The link to the front end whose pool listener is `addr` is up (`Some`: the
    /// connection we opened) or down (`None`). Nodes the engine was never told of are not
    /// of the pool.
    pub fn pool_link(&mut self, addr: SocketAddr, link: Option<Peer>) {
        if let Some(p) = &mut self.core.pool {
            p.link(addr, link);
        }
    }

    /// A connection on this front end's pool listener: its requests must carry the pool's
    /// signature ([`pool`]), and are trusted as the other node asserts them.
    pub fn pool_inbound(&mut self, conn: ConnId) {
        if let Some(p) = &mut self.core.pool {
            p.inbound(conn);
        }
    }

    /// The live nodes of the pool by name (the heartbeats), for the conferences they own.
    pub fn pool_nodes(&mut self, live: &[(String, SocketAddr)]) {
        if let Some(p) = &mut self.core.pool {
            p.nodes(live);
        }
    }

    /// The pool's store announced that node `owner` wrote the conference at `focus` (`None`:
    /// the conference is gone). Requests for a conference another node owns go there.
    pub fn remote_conference(&mut self, focus: &str, owner: Option<&str>) {
        let Ok(uri) = crate::cccp::uri::ConferenceUri::parse(focus) else {
            return;
        };
        if let Some(p) = &mut self.core.pool {
            p.conference(uri.key(), owner);
        }
    }

    /// A binding the pool's shared store announced, stored (`Some`) or deleted. Feed every
    /// announcement, this node's own writes included, in the order the store committed
    /// them: the store is the truth.
    pub fn remote_binding(&mut self, aor: &str, contact: &str, b: Option<Binding>) {
        let Some(pool) = &self.core.pool else {
            return;
        };
        let own = pool.uri.clone();
        self.registrar.remote(&own, aor, contact, b);
    }

    /// Accepts [MS-SIPAE] Kerberos from now on (offered first in every challenge), with the
    /// acceptor of the service principal `sip/<ntlm_target>`.
    #[cfg(feature = "kerberos")]
    pub fn set_kerberos(&mut self, acceptor: kerberos::KerberosAcceptor) {
        self.core.security.set_kerberos(acceptor);
    }

    /// How many clients have an [MS-SIPAE] security association.
    #[must_use]
    pub fn associations(&self) -> usize {
        self.core.security.associations()
    }

    /// Whether requests from `peer` are authenticated: it has a security association, or
    /// its stream carried a request verified with Digest.
    pub fn trusts(&self, peer: &Peer) -> bool {
        self.core.security.trusts(peer) || self.core.pool.as_ref().is_some_and(|p| p.proven(peer))
    }

    /// Fires due timers.
    pub fn handle_timeout(&mut self, now: Instant, wall: SystemTime, users: &dyn Directory) {
        self.core.wall = wall;
        self.core.layer.handle_timeout(now);
        self.drain(now, wall, None, users);
        let (conference, mut cx) = conferencing!(self);
        conference.conference_timeout(&mut cx, now, wall);
        self.presence
            .timeout(&mut self.core, &self.registrar, now, wall);
        self.core.flush_transmits();
    }

    /// When [`Engine::handle_timeout`] is next due.
    #[must_use = "without it the timers never fire"]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        [
            self.core.layer.poll_timeout(),
            self.conference.poll_timeout(),
            self.presence.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next thing to do; drain it after every input (see the
    /// [order of calls](self#order-of-calls)).
    #[must_use = "an output left in the queue is a message never sent or a write never made"]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.pop()
    }

    /// Drains [`Engine::poll_output`] into `sink`; a store write the sink commits at once is
    /// reported to [`Engine::committed`] here, and what that releases is drained too.
    pub fn pump(&mut self, now: Instant, sink: &mut impl Sink) {
        while let Some(o) = self.poll_output() {
            match o {
                Output::Transmit(t) => sink.transmit(t),
                Output::Store { ticket, op } => {
                    if sink.store(ticket, op) {
                        self.committed(now, ticket);
                    }
                }
                Output::Media(op) => sink.media(op),
                Output::WebConf(op) => sink.webconf(op),
                Output::Mcu(call) => sink.mcu(call),
            }
        }
    }

    /// The store has committed every write up to `ticket`: held responses go out.
    pub fn committed(&mut self, now: Instant, ticket: u64) {
        self.core.committed(now, ticket);
        self.presence.committed(&mut self.core, now, ticket);
        self.core.flush_transmits();
    }

    /// The store could not commit the writes of tickets `first..=last` (a batch): the
    /// responses held for them are answered `500` instead, and what waited for them is not
    /// announced. Report it before any later ticket's [`Engine::committed`].
    pub fn store_failed(&mut self, now: Instant, first: u64, last: u64) {
        self.core.store_failed(now, first, last);
        self.presence.store_failed(first, last);
        self.core.flush_transmits();
    }

    fn drain(&mut self, now: Instant, wall: SystemTime, from: Option<Peer>, users: &dyn Directory) {
        while let Some(ev) = self.core.layer.poll_event() {
            match ev {
                TxEvent::Request { key, message } => {
                    if let Some(p) = from {
                        self.core.peers.insert(key, p);
                    }
                    self.request(now, wall, key, message, users);
                }
                TxEvent::Response { key, message } if self.presence.owns(&key) => {
                    self.presence.notify_answered(key, message.status());
                }
                TxEvent::Response { key, message } => {
                    self.proxy.response(&mut self.core, now, key, message);
                }
                // The ACK of a 2xx from the focus or an MCU ends there.
                TxEvent::Ack { message, .. }
                    if message.call_id().is_ok_and(|c| self.sessions.contains(c)) => {}
                // ACK cannot be challenged; from a client with an association it must be
                // signed, or it is dropped.
                TxEvent::Ack { message, .. }
                    if from.is_some_and(|p| !self.core.security.accept_from(&message, &p)) =>
                {
                    self.core.stats.unsigned_dropped += 1;
                }
                TxEvent::Ack { message, .. } => {
                    self.proxy
                        .forward_ack(&mut self.core, &self.registrar, wall, message);
                }
                TxEvent::Cancelled { key } => self.proxy.cancel_branches(&mut self.core, now, key),
                TxEvent::StrayResponse { message } => {
                    self.proxy.stray_response(&mut self.core, now, message);
                }
                TxEvent::Timeout { key } | TxEvent::TransportError { key }
                    if self.presence.owns(&key) =>
                {
                    self.presence.notify_answered(key, None);
                }
                TxEvent::Timeout { key } | TxEvent::TransportError { key } => {
                    self.proxy.branch_failed(&mut self.core, now, key, 408);
                }
                TxEvent::Terminated { key } => {
                    // Its last message may still be queued (a zero Timer J ends a transaction
                    // as it answers): send before forgetting where to.
                    self.core.flush_transmits();
                    self.core.peers.remove(&key);
                    self.presence.notify_done(&key);
                    self.proxy.terminated(key);
                }
                TxEvent::Overloaded { message } => {
                    if let (Some(p), Ok(r)) = (
                        from,
                        message
                            .response(503, "Service Unavailable", "")
                            .header("Retry-After", 5)
                            .build(),
                    ) {
                        self.core.send(p, r.to_bytes());
                    }
                }
                _ => {}
            }
        }
        self.core.flush_transmits();
    }

    /// Whether the From of `req` is `sip:<user>@<our domain>`.
    fn sent_by_user(&self, req: &Message, user: &str) -> bool {
        let Ok(from) = req.from() else { return false };
        from.uri.as_sip().is_some_and(|s| {
            self.core.is_us(&s.host, s.port) && s.user.is_some_and(|u| u.eq_ignore_ascii_case(user))
        })
    }

    /// Which application serves `req` (one line each).
    fn route(&self, req: &Message) -> Route {
        let method = req.method().unwrap_or_default();
        if method == "REGISTER" {
            return Route::Registrar;
        }
        if method == "OPTIONS" && self.core.request_uri_is_us(req) {
            return Route::Options;
        }
        if method == "CANCEL" {
            return Route::Cancel;
        }
        if let Some(uri) = conference::conference_uri(&self.core, req) {
            return match uri.kind {
                UriKind::Mcu(_) => Route::McuSession(uri),
                _ => Route::Conference(uri),
            };
        }
        if method == "SUBSCRIBE" && provisioning::is_provisioning(&self.core, req) {
            return Route::Provisioning;
        }
        if self.presence.serves(&self.core, req) {
            return Route::Presence;
        }
        Route::Proxy
    }

    fn request(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        users: &dyn Directory,
    ) {
        if req.validate().is_err() {
            return self.core.reply(now, key, &req, 400, "Bad Request");
        }
        let route = self.route(&req);
        // Every request but REGISTER (the registrar's own challenge), a ping of the server
        // and CANCEL (which cannot be challenged, RFC 3261 §22.1) is authenticated here, and
        // its From must be the authenticated user — unless another front end of the pool
        // sends it (signed: it authenticated the user, and asserts who sent it).
        let from_pool = self
            .core
            .peers
            .get(&key)
            .is_some_and(|p| self.core.is_pool_peer(p));
        if from_pool && matches!(route, Route::Registrar) {
            return self.core.reply(now, key, &req, 403, "Forbidden");
        }
        if self.core.security.enabled
            && !from_pool
            && !matches!(route, Route::Registrar | Route::Options | Route::Cancel)
        {
            let Some(who) = security::authenticate(&mut self.core, now, key, &req, users, false)
            else {
                return;
            };
            if !self.sent_by_user(&req, &who.user) {
                tracing::warn!(user = %who.user, from = ?req.from().map(|f| f.uri.to_string()).ok(), "From is not the authenticated user");
                return self
                    .core
                    .forbid(key, &req, "From is not the authenticated user");
            }
        }
        // A conference another front end of the pool owns (and this one does not run):
        // there.
        // (The pool's table first: without a pool, or for a conference no other node owns,
        // nothing more is looked up.)
        if let Route::Conference(uri) | Route::McuSession(uri) = &route
            && uri.conference_id.is_some()
            && let Some((owner, addr)) = self
                .core
                .pool
                .as_ref()
                .and_then(|p| p.conference_owner(&uri.key()))
            && self
                .conference
                .focus
                .conference(&uri.to_focus().to_string())
                .is_none()
        {
            let Some(addr) = addr else {
                tracing::warn!(%owner, "a conference whose front end is not alive");
                return self
                    .core
                    .reply(now, key, &req, 480, "Temporarily Unavailable");
            };
            return self
                .proxy
                .forward_to_node(&mut self.core, now, key, req, addr);
        }
        match route {
            Route::Registrar => {
                let before = self.core.stats.registered;
                self.registrar
                    .register(&mut self.core, now, wall, key, &req, users);
                // Only a REGISTER the registrar accepted (authenticated, bindings changed)
                // tells presence an endpoint came or went.
                if self.core.stats.registered != before {
                    self.presence
                        .registered(&mut self.core, &self.registrar, now, wall, &req);
                }
            }
            Route::Options => self.core.reply_with(
                now,
                key,
                &req,
                200,
                "OK",
                &[(
                    "Allow",
                    "INVITE, ACK, BYE, CANCEL, OPTIONS, REGISTER, MESSAGE, INFO, SUBSCRIBE, NOTIFY, BENOTIFY".into(),
                )],
            ),
            // The transaction layer reported the INVITE (Cancelled); this answers the CANCEL.
            Route::Cancel => self.core.reply(now, key, &req, 200, "OK"),
            Route::Conference(uri) => {
                let (conference, mut cx) = conferencing!(self);
                conference.request(&mut cx, now, wall, key, req, uri);
            }
            Route::McuSession(uri) => {
                let (conference, mut cx) = conferencing!(self);
                conference.mcu_session(&mut cx, now, wall, key, req, uri);
            }
            Route::Provisioning => provisioning::answer(&mut self.core, now, key, &req),
            Route::Presence => {
                self.presence
                    .request(&mut self.core, &self.registrar, now, wall, key, &req, users);
            }
            Route::Proxy => {
                self.proxy
                    .forward(&mut self.core, &self.registrar, now, wall, key, req);
            }
        }
    }
}
