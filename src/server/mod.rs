//! The reference server (`ocs serve`): the protocol crates wired to sockets, tasks and storage.
//!
//! This module owns the I/O and nothing else: [`sip::Engine`] is the registrar and proxy (on
//! `ocs-sip-codec`'s transaction layer), [`store::Store`] the SQLite database. [`run`] binds the
//! sockets, loads the store, and runs until the shutdown future completes (Ctrl-C for `ocs
//! serve`); then it lets transactions finish for a moment and flushes the store.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let config = ocs_stack::server::Config::default(); // loopback, ./ocs-data, demo users
//! ocs_stack::server::run(config, async { let _ = tokio::signal::ctrl_c().await; }, |_| {}).await
//! # }
//! ```

pub mod abs;
pub mod av;
pub mod mcu;
pub mod sip;
pub mod store;
pub mod web;
pub mod webconf;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use crate::sip::Message;
use crate::sip::stream::{Frame, Status, StreamDecoder};
use sip::{ConnId, Directory, Engine, EngineConfig, Peer};
use store::{Store, User};

/// The server's configuration (TOML). Every field has a default: with none at all the server
/// runs on loopback with demo users.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SIP domain.
    pub domain: String,
    /// Where the database (and later the TLS certificate) live.
    pub data_dir: PathBuf,
    /// SIP over UDP, if set (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub udp: Option<SocketAddr>,
    /// SIP over TCP, if set (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub tcp: Option<SocketAddr>,
    /// SIP over TLS, if set. The certificate is `tls-cert.pem` / `tls-key.pem` in the data
    /// directory, generated (self-signed for the domain, `ocs.<domain>`, `localhost` and
    /// `127.0.0.1`) on first start. `"off"` in the file turns it off.
    #[serde(deserialize_with = "addr_or_off")]
    pub tls: Option<SocketAddr>,
    /// HTTP for clients (the Address Book Server's files at `/abs/handler/`), if set (`"off"`
    /// in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub web: Option<SocketAddr>,
    /// HTTP where this server's MCUs take C3P from a focus elsewhere
    /// (`/LiveServer/<mcu-type>/`); keep it on loopback. The focus of this server calls its
    /// own MCUs directly.
    pub mcu: SocketAddr,
    /// MCUs of other servers this focus uses instead of its own, by type (`audio-video`,
    /// `chat`, `meeting`): the address of their C3P-over-HTTP listener.
    pub remote_mcus: std::collections::BTreeMap<String, SocketAddr>,
    /// The A/V MCU's RTP socket (its RTCP socket is bound beside it, on the same address with
    /// a port of the system's choice), if set (`"off"` in the file: no audio).
    #[serde(deserialize_with = "addr_or_off")]
    pub media: Option<SocketAddr>,
    /// The web-conferencing MCU's PSOM listener (TLS, the certificate of `tls`), if set
    /// (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub psom: Option<SocketAddr>,
    /// Authentication schemes offered to REGISTER, in order: `Digest`, `NTLM`.
    pub auth: Vec<String>,
    /// Users created on first start (when the database has none by that name).
    pub users: Vec<UserConfig>,
    /// Synthetic users for load tests: `prefix` followed by a number below `count`, all with
    /// `password`. Not stored.
    pub load_users: Option<LoadUsers>,
    /// Print every SIP message in and out.
    pub trace_sip: bool,
    /// The UDP socket's receive buffer in bytes (the system's default when unset; the kernel
    /// caps it at `net.core.rmem_max`).
    pub udp_recv_buffer: Option<usize>,
}

/// A socket address, or `"off"`.
fn addr_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

/// A user in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name (the user part of `sip:name@domain`).
    pub name: String,
    /// Password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub display: String,
}

/// Synthetic users (see [`Config::load_users`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadUsers {
    /// Name prefix.
    pub prefix: String,
    /// How many.
    pub count: u64,
    /// Their password.
    pub password: String,
}

impl Default for Config {
    fn default() -> Self {
        let demo = |name: &str, display: &str| UserConfig {
            name: name.into(),
            password: format!("{name}-Passw0rd"),
            display: display.into(),
        };
        Config {
            domain: "contoso.com".into(),
            data_dir: PathBuf::from("ocs-data"),
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tls: Some(SocketAddr::from(([127, 0, 0, 1], 5061))),
            web: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            mcu: SocketAddr::from(([127, 0, 0, 1], 0)),
            remote_mcus: std::collections::BTreeMap::new(),
            media: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            psom: Some(SocketAddr::from(([127, 0, 0, 1], 8057))),
            auth: vec!["Digest".into(), "NTLM".into()],
            users: vec![
                demo("alice", "Alice Anders"),
                demo("bob", "Bob Brown"),
                demo("carol", "Carol Chen"),
            ],
            load_users: None,
            trace_sip: false,
            udp_recv_buffer: None,
        }
    }
}

impl Config {
    /// Reads a TOML file; missing fields keep their defaults.
    ///
    /// # Errors
    /// Unreadable file, or TOML that does not fit.
    pub fn from_file(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// The users the registrar authenticates against: the database's, and synthetic ones.
#[derive(Debug, Default)]
struct Users {
    map: HashMap<String, String>,
    load: Option<LoadUsers>,
}

impl Directory for Users {
    fn password(&self, user: &str) -> Option<String> {
        if let Some(p) = self.map.get(user) {
            return Some(p.clone());
        }
        let l = self.load.as_ref()?;
        let n: u64 = user.strip_prefix(l.prefix.as_str())?.parse().ok()?;
        (n < l.count).then(|| l.password.clone())
    }
}

/// What happened, for the caller (tests, the demo): the addresses the server bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The UDP address, if any.
    pub udp: Option<SocketAddr>,
    /// The TCP address, if any.
    pub tcp: Option<SocketAddr>,
    /// The TLS address, if any.
    pub tls: Option<SocketAddr>,
    /// The web (address book) address, if any.
    pub web: Option<SocketAddr>,
    /// The MCUs' C3P address.
    pub mcu: SocketAddr,
    /// The A/V MCU's RTP and RTCP addresses, if any.
    pub media: Option<(SocketAddr, SocketAddr)>,
    /// The web-conferencing MCU's PSOM (TLS) address, if any.
    pub psom: Option<SocketAddr>,
}

enum Input {
    Message(Message, Peer),
    Connected(ConnId, mpsc::UnboundedSender<Bytes>),
    Closed(ConnId),
    /// A C3P request POSTed to an MCU: the engine answers it.
    Mcu {
        mcu: crate::cccp::uri::McuType,
        body: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<Option<Bytes>>,
    },
    /// An MCU's answer to the focus (none: the exchange failed).
    McuAnswer {
        id: u64,
        c3p: Option<Bytes>,
    },
}

/// Runs the server until `shutdown` completes. `on_bound` is told the addresses once the
/// sockets are bound (port 0 in the configuration picks a free one).
///
/// # Errors
/// Sockets that cannot be bound, a database that cannot be opened.
pub async fn run(
    config: Config,
    shutdown: impl Future<Output = ()>,
    on_bound: impl FnOnce(Bound),
) -> std::io::Result<()> {
    let io = |e: rusqlite::Error| std::io::Error::other(e.to_string());
    std::fs::create_dir_all(&config.data_dir)?;
    let mut db = Store::open(&config.data_dir.join("ocs.sqlite3")).map_err(io)?;
    for u in &config.users {
        if db
            .add_user(&User {
                name: u.name.clone(),
                password: u.password.clone(),
                display: u.display.clone(),
            })
            .map_err(io)?
        {
            tracing::info!(user = %u.name, "demo user created");
        }
    }
    let users = Users {
        map: db
            .users()
            .map_err(io)?
            .into_iter()
            .map(|u| (u.name, u.password))
            .collect(),
        load: config.load_users.clone(),
    };

    let udp = match config.udp {
        Some(a) => Some(Arc::new(bind_udp(a, config.udp_recv_buffer)?)),
        None => None,
    };
    let tcp = match config.tcp {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    let tls = match config.tls {
        Some(a) => Some((
            TcpListener::bind(a).await?,
            tls_acceptor(&config.data_dir, &config.domain)?,
        )),
        None => None,
    };
    let web = match config.web {
        Some(a) => Some(TcpListener::bind(a).await?),
        None => None,
    };
    let mcu = TcpListener::bind(config.mcu).await?;
    let psom = match config.psom {
        Some(a) => Some((
            TcpListener::bind(a).await?,
            tls_acceptor(&config.data_dir, &config.domain)?,
        )),
        None => None,
    };
    let media = match config.media {
        Some(a) => Some((
            UdpSocket::bind(a).await?,
            UdpSocket::bind(SocketAddr::new(a.ip(), 0)).await?,
        )),
        None => None,
    };
    let bound = Bound {
        udp: udp.as_ref().map(|s| s.local_addr()).transpose()?,
        tcp: tcp.as_ref().map(|l| l.local_addr()).transpose()?,
        tls: tls.as_ref().map(|(l, _)| l.local_addr()).transpose()?,
        web: web.as_ref().map(|l| l.local_addr()).transpose()?,
        mcu: mcu.local_addr()?,
        media: match &media {
            Some((a, b)) => Some((a.local_addr()?, b.local_addr()?)),
            None => None,
        },
        psom: psom.as_ref().map(|(l, _)| l.local_addr()).transpose()?,
    };
    // The address book: what the store kept, and today's book if it is not out yet.
    let mut book = abs::AddressBook::load(&db).map_err(std::io::Error::other)?;
    let directory = db.users().map_err(io)?;
    let published = book
        .publish(&mut db, &directory, &config.domain, unix_now())
        .map_err(std::io::Error::other)?;
    if !published.is_empty() {
        tracing::info!(files = published.len(), "address book published");
    }
    let local_hosts = vec![format!("ocs.{}", config.domain)];
    let ecfg = EngineConfig {
        domain: config.domain.clone(),
        local_hosts,
        udp_addr: bound.udp,
        tcp_addr: bound.tcp,
        tls_addr: bound.tls,
        auth: config.auth.clone(),
        ntlm_target: format!("ocs.{}", config.domain),
        abs_url: bound.web.map(|a| format!("http://{a}{}", web::ABS_PATH)),
        media_rtp: bound.media.map(|m| m.0),
        media_rtcp: bound.media.map(|m| m.1),
        psom_addr: bound.psom,
        remote_mcus: config
            .remote_mcus
            .iter()
            .map(|(t, a)| (crate::cccp::uri::McuType::parse(t), *a))
            .collect(),
        ..EngineConfig::default()
    };
    let t0 = Instant::now();
    let seed = os_random()?;
    let mut engine = Engine::new(ecfg, seed, t0);
    let wall = SystemTime::now();
    for b in db
        .bindings(
            wall.duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        )
        .map_err(io)?
    {
        engine.load_binding(b, wall);
    }
    // Scheduled conferences (expired ones were purged by the query).
    for c in db.conferences(unix_now()).map_err(io)? {
        match engine.restore_conference(t0, wall, &c) {
            Ok(()) => tracing::info!(focus = %c.focus, "conference restored"),
            Err(e) => tracing::warn!(focus = %c.focus, error = %e, "conference not restored"),
        }
    }

    // Checkpoints run beside the writer, once a second.
    let db_path = config.data_dir.join("ocs.sqlite3");
    // Dropping `checkpoint_stop` ends the checkpoint thread at once.
    let (checkpoint_stop, checkpoint_rx) = std::sync::mpsc::channel::<()>();
    let checkpointer = {
        let path = db_path.clone();
        std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                checkpoint_rx.recv_timeout(Duration::from_millis(1000))
            {
                if let Err(e) = store::checkpoint(&path) {
                    tracing::warn!(error = %e, "checkpoint failed");
                }
            }
        })
    };
    // The store runs on its own thread: batches in, commit tickets out.
    let (store_tx, store_rx) = std::sync::mpsc::channel::<(u64, sip::StoreOp)>();
    let (commit_tx, mut commit_rx) = mpsc::unbounded_channel::<u64>();
    let store_thread = std::thread::spawn(move || {
        while let Ok(first) = store_rx.recv() {
            let mut batch = vec![first];
            while let Ok(more) = store_rx.try_recv() {
                batch.push(more);
            }
            let last = batch.last().map_or(0, |(t, _)| *t);
            let ops: Vec<sip::StoreOp> = batch.into_iter().map(|(_, op)| op).collect();
            match db.apply(&ops) {
                Ok(()) => {
                    if commit_tx.send(last).is_err() {
                        break;
                    }
                }
                Err(e) => tracing::error!(error = %e, "store write failed; not acknowledged"),
            }
        }
    });

    let (in_tx, mut in_rx) = mpsc::channel::<Input>(65_536);
    let mut tasks = Vec::new();
    let next_conn = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let listeners = tcp
        .map(|l| (l, None))
        .into_iter()
        .chain(tls.map(|(l, a)| (l, Some(a))));
    for (listener, acceptor) in listeners {
        tasks.push(tokio::spawn(accept_loop(
            listener,
            acceptor,
            in_tx.clone(),
            next_conn.clone(),
            config.trace_sip,
        )));
    }
    let reports = av::Reports::default();
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    if let Some((a, b)) = media {
        tasks.push(tokio::spawn(av::run(a, b, media_rx, reports.clone())));
    }
    let content = abs::Files::default();
    let (webconf_tx, webconf_rx) = mpsc::unbounded_channel();
    if let Some((l, acceptor)) = psom {
        let base = bound.web.map(|a| format!("http://{a}"));
        let seed = u64::from_le_bytes(seed[16..24].try_into().unwrap_or_default());
        tasks.push(tokio::spawn(webconf::run(
            l,
            acceptor,
            webconf_rx,
            content.clone(),
            base,
            seed,
        )));
    }
    if let Some(l) = web {
        tasks.push(tokio::spawn(web::listen(
            l,
            web::Site::Web(book.files(), reports.clone(), content.clone()),
        )));
    }
    tasks.push(tokio::spawn(web::listen(
        mcu,
        web::Site::Mcu(in_tx.clone()),
    )));
    // Today's book at each change of day (UTC).
    {
        let data_dir = config.data_dir.clone();
        let domain = config.domain.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let secs = 86_400 - unix_now() % 86_400 + 60;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let data_dir = data_dir.clone();
                let domain = domain.clone();
                let moved = tokio::task::spawn_blocking(move || {
                    let r = Store::open(&data_dir.join("ocs.sqlite3"))
                        .map_err(|e| e.to_string())
                        .and_then(|mut db| {
                            let users = db.users().map_err(|e| e.to_string())?;
                            book.publish(&mut db, &users, &domain, unix_now())
                        });
                    (book, r)
                })
                .await;
                let Ok((b, r)) = moved else { break };
                book = b;
                match r {
                    Ok(files) => tracing::info!(files = files.len(), "address book published"),
                    Err(e) => tracing::error!(error = %e, "address book not published"),
                }
            }
        }));
    }
    // Kept: MCU answers come back on it, and the channel stays open without listeners.
    let in_tx_main = in_tx;
    on_bound(bound);
    tracing::info!(udp = ?bound.udp, tcp = ?bound.tcp, tls = ?bound.tls, web = ?bound.web, mcu = %bound.mcu, media = ?bound.media, psom = ?bound.psom, domain = %config.domain, "listening");

    let mut conns: HashMap<ConnId, mpsc::UnboundedSender<Bytes>> = HashMap::new();
    let mut udp_buf = vec![0u8; 65_535];
    tokio::pin!(shutdown);
    let mut stopping: Option<tokio::time::Instant> = None;
    loop {
        let deadline = engine
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let deadline = stopping.map_or(deadline, |s| deadline.min(s));
        tokio::select! {
            // UDP is read here, in the engine's task, a burst at a time: no hop to another
            // task per datagram.
            r = recv_udp(udp.as_deref(), &mut udp_buf) => {
                if let Ok((n, from)) = r {
                    let now = Instant::now();
                    let wall = SystemTime::now();
                    udp_in(&mut engine, now, wall, &udp_buf[..n], from, &users, config.trace_sip);
                    if let Some(sock) = udp.as_deref() {
                        for _ in 0..256 {
                            match sock.try_recv_from(&mut udp_buf) {
                                Ok((n, from)) => udp_in(&mut engine, now, wall, &udp_buf[..n], from, &users, config.trace_sip),
                                Err(_) => break,
                            }
                        }
                    }
                }
            },
            input = in_rx.recv() => match input {
                Some(Input::Message(m, peer)) => {
                    engine.handle(Instant::now(), SystemTime::now(), m, peer, &users);
                }
                Some(Input::Connected(c, tx)) => { conns.insert(c, tx); }
                Some(Input::Closed(c)) => { conns.remove(&c); }
                Some(Input::Mcu { mcu, body, reply }) => {
                    let answer = engine.serve_mcu(Instant::now(), &mcu, &body);
                    let _ = reply.send(answer);
                }
                Some(Input::McuAnswer { id, c3p }) => {
                    engine.mcu_answer(Instant::now(), SystemTime::now(), id, c3p.as_deref());
                }
                None => break,
            },
            Some(ticket) = commit_rx.recv() => engine.committed(Instant::now(), ticket),
            () = tokio::time::sleep_until(deadline) => {
                if stopping.is_some_and(|s| tokio::time::Instant::now() >= s) {
                    break;
                }
                engine.handle_timeout(Instant::now(), SystemTime::now(), &users);
            }
            () = &mut shutdown, if stopping.is_none() => {
                tracing::info!("stopping: letting transactions finish");
                stopping = Some(tokio::time::Instant::now() + Duration::from_secs(2));
            }
        }
        engine.pump(
            Instant::now(),
            &mut Outputs {
                udp: udp.as_deref(),
                conns: &conns,
                store: &store_tx,
                media: &media_tx,
                webconf: &webconf_tx,
                answers: &in_tx_main,
                trace: config.trace_sip,
            },
        );
        if stopping.is_some() && engine.transactions() == 0 {
            break;
        }
    }
    for t in tasks {
        t.abort();
    }
    drop(store_tx);
    let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
    drop(checkpoint_stop);
    let _ = tokio::task::spawn_blocking(move || checkpointer.join()).await;
    let _ = store::checkpoint(&db_path);
    tracing::info!(stats = ?engine.stats(), "stopped");
    Ok(())
}

/// Where the engine's outputs go in the runtime: sockets, the store thread, the media and
/// PSOM tasks, and HTTP exchanges with remote MCUs.
struct Outputs<'a> {
    udp: Option<&'a UdpSocket>,
    conns: &'a HashMap<ConnId, mpsc::UnboundedSender<Bytes>>,
    store: &'a std::sync::mpsc::Sender<(u64, sip::StoreOp)>,
    media: &'a mpsc::UnboundedSender<sip::MediaOp>,
    webconf: &'a mpsc::UnboundedSender<sip::WebConfOp>,
    answers: &'a mpsc::Sender<Input>,
    trace: bool,
}

impl sip::Sink for Outputs<'_> {
    fn transmit(&mut self, o: sip::Outbound) {
        if self.trace {
            tracing::info!(target: "sip", to = %o.peer.addr(), "out\n{}", String::from_utf8_lossy(&o.bytes));
        }
        match o.peer {
            Peer::Udp(to) => {
                if let Some(s) = self.udp {
                    let _ = s.try_send_to(&o.bytes, to);
                }
            }
            Peer::Stream { conn, .. } => {
                if let Some(c) = self.conns.get(&conn) {
                    let _ = c.send(o.bytes);
                }
            }
        }
    }

    fn store(&mut self, ticket: u64, op: sip::StoreOp) -> bool {
        // Committed on the store thread; the ticket comes back on the commit channel.
        let _ = self.store.send((ticket, op));
        false
    }

    fn media(&mut self, op: sip::MediaOp) {
        let _ = self.media.send(op);
    }

    fn webconf(&mut self, op: sip::WebConfOp) {
        let _ = self.webconf.send(op);
    }

    fn mcu(&mut self, call: sip::McuCall) {
        let tx = self.answers.clone();
        tokio::spawn(async move {
            let c3p =
                web::post_c3p(call.addr, &call.mcu, &call.body, Duration::from_secs(10)).await;
            let _ = tx.send(web::answer(call.id, c3p)).await;
        });
    }
}

/// A server running in a task of the current tokio runtime ([`spawn`]).
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub bound: Bound,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// Stops it as Ctrl-C does (transactions finish, the store is flushed) and waits.
    ///
    /// # Errors
    /// What [`run`] returned, or its task's failure.
    pub async fn stop(self) -> std::io::Result<()> {
        let _ = self.stop.send(());
        self.task.await.map_err(std::io::Error::other)?
    }
}

/// Starts [`run`] in a task and returns once its sockets are bound (tests, the demo, embedders
/// that want the server beside their own work).
///
/// # Errors
/// What [`run`] fails with before it binds (a socket in use, a database it cannot open).
pub async fn spawn(config: Config) -> std::io::Result<Running> {
    let (stop, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (bound_tx, bound_rx) = tokio::sync::oneshot::channel();
    let task = tokio::spawn(run(
        config,
        async {
            let _ = stop_rx.await;
        },
        move |b| {
            let _ = bound_tx.send(b);
        },
    ));
    match bound_rx.await {
        Ok(bound) => Ok(Running { bound, stop, task }),
        Err(_) => match task.await.map_err(std::io::Error::other)? {
            Err(e) => Err(e),
            Ok(()) => Err(std::io::Error::other("the server stopped before it bound")),
        },
    }
}

/// Seconds since the Unix epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// 32 bytes from the operating system's generator: the server's keys (Digest nonces, NTLM
/// challenges) derive from them.
fn os_random() -> std::io::Result<[u8; 32]> {
    use std::io::Read;
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut seed)?;
    Ok(seed)
}

/// The TLS acceptor, with the certificate of the data directory (generated on first start).
fn tls_acceptor(
    data_dir: &std::path::Path,
    domain: &str,
) -> std::io::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let other = |e: &dyn std::fmt::Display| std::io::Error::other(e.to_string());
    let cert_path = data_dir.join("tls-cert.pem");
    let key_path = data_dir.join("tls-key.pem");
    if !cert_path.exists() || !key_path.exists() {
        let names = vec![
            domain.to_owned(),
            format!("ocs.{domain}"),
            "localhost".to_owned(),
            "127.0.0.1".to_owned(),
        ];
        let ck = rcgen::generate_simple_self_signed(names).map_err(|e| other(&e))?;
        std::fs::write(&key_path, ck.signing_key.serialize_pem())?;
        std::fs::write(&cert_path, ck.cert.pem())?;
        tracing::info!(cert = %cert_path.display(), "self-signed TLS certificate generated");
    }
    let certs = CertificateDer::pem_file_iter(&cert_path)
        .map_err(|e| other(&e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| other(&e))?;
    let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| other(&e))?;
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| other(&e))?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| other(&e))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(cfg)))
}

/// A UDP socket with the receive buffer asked for.
fn bind_udp(addr: SocketAddr, recv_buffer: Option<usize>) -> std::io::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if let Some(n) = recv_buffer {
        sock.set_recv_buffer_size(n)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

/// A datagram for the engine (CRLF keep-alives and junk dropped).
fn udp_in(
    engine: &mut Engine,
    now: Instant,
    wall: SystemTime,
    data: &[u8],
    from: SocketAddr,
    users: &Users,
    trace: bool,
) {
    if let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) {
        if trace {
            tracing::info!(target: "sip", %from, "in\n{m}");
        }
        engine.handle(now, wall, m, Peer::Udp(from), users);
    }
}

/// Receives from the UDP socket, or never when there is none.
async fn recv_udp(
    sock: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Accepts TCP connections (TLS ones when there is an acceptor) and serves each in a task.
async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Input>,
    next: Arc<std::sync::atomic::AtomicU64>,
    trace: bool,
) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            continue;
        };
        let conn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tx = tx.clone();
        let Some(acceptor) = acceptor.clone() else {
            tokio::spawn(serve_stream(stream, addr, conn, tx, trace, false));
            continue;
        };
        tokio::spawn(async move {
            // A handshake that fails or stalls costs only its own task.
            match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream)).await {
                Ok(Ok(s)) => serve_stream(s, addr, conn, tx, trace, true).await,
                Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
            }
        });
    }
}

/// One TCP connection: frames messages in (with CRLF keep-alives answered), writes what the
/// engine sends to it.
async fn serve_stream<S>(
    stream: S,
    addr: SocketAddr,
    conn: ConnId,
    tx: mpsc::Sender<Input>,
    trace: bool,
    tls: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    if tx
        .send(Input::Connected(conn, out_tx.clone()))
        .await
        .is_err()
    {
        return;
    }
    let writer = tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
    });
    let dec = StreamDecoder::default();
    let mut buf = BytesMut::with_capacity(16 * 1024);
    let peer = Peer::Stream { conn, addr, tls };
    'read: loop {
        match rd.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        // Messages are views into one frozen chunk; a partial tail goes back to the buffer.
        let data = buf.split().freeze();
        let mut pos = 0;
        loop {
            match dec.decode(&data.slice(pos..)) {
                Ok(Status::Complete(Frame::Message(m), used)) => {
                    pos += used;
                    if trace {
                        tracing::info!(target: "sip", %addr, "in\n{m}");
                    }
                    if tx.send(Input::Message(m, peer)).await.is_err() {
                        break 'read;
                    }
                }
                Ok(Status::Complete(Frame::Ping, used)) => {
                    pos += used;
                    let _ = out_tx.send(Bytes::from_static(b"\r\n"));
                }
                Ok(Status::Complete(_, used)) => pos += used,
                Ok(Status::Partial) => break,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "closing a connection that sent a bad message");
                    break 'read;
                }
            }
        }
        buf.extend_from_slice(&data[pos..]);
    }
    writer.abort();
    let _ = tx.send(Input::Closed(conn)).await;
}
