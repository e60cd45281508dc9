//! The runtime: sockets bound, the store loaded, the engine driven by tokio until shutdown.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::metrics::{Metrics, Observed};
use super::pool::PoolEvent;
use super::sip::{self, ConnId, Directory, Engine, EngineConfig, Peer};
use super::store::{self, Secrets, Store, User};
use super::transport::{
    ConnHandle, ConnKind, StreamLimits, accept_loop, bind_tcp, bind_udp, open_files_limit,
    recv_udp, tls_acceptor, udp_in,
};
use super::{Bound, Config, LoadUsers, av, web, webconf};
use super::{UserConfig, abs::AddressBook};
use crate::sip::Message;
use crate::sip::digest::Algorithm;
use std::sync::atomic::Ordering::Relaxed;

/// The users the registrar authenticates against: the database's (their [`Secrets`]), and
/// synthetic ones (hashed from the configured password when asked).
#[derive(Debug, Default)]
pub(super) struct Users {
    map: HashMap<String, Secrets>,
    load: Option<LoadUsers>,
    realm: String,
}

impl Users {
    fn load_password(&self, user: &str) -> Option<&str> {
        let l = self.load.as_ref()?;
        let n: u64 = user.strip_prefix(l.prefix.as_str())?.parse().ok()?;
        (n < l.count).then_some(l.password.as_str())
    }
}

impl Directory for Users {
    fn digest_ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<String> {
        if let Some(k) = self.map.get(user) {
            return k.ha1(realm, algorithm);
        }
        let p = self.load_password(user).filter(|_| realm == self.realm)?;
        Some(crate::sip::digest::ha1(algorithm, user, realm, p))
    }

    fn nt_hash(&self, user: &str) -> Option<[u8; 16]> {
        if let Some(k) = self.map.get(user) {
            return Some(k.nt_hash);
        }
        let p = self.load_password(user)?;
        Some(crate::sip::ntlm::Credentials::new(user, "", p).nt_hash())
    }

    fn users(&self) -> Vec<String> {
        self.map.keys().cloned().collect()
    }
}

pub(super) enum Input {
    Message(Message, Peer),
    Connected(ConnId, ConnHandle, ConnKind),
    Closed(ConnId),
    /// From the pool's watcher: the live nodes, bindings other nodes wrote.
    Pool(PoolEvent),
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
    std::fs::create_dir_all(&config.data_dir)?;
    {
        // The owner's only: the database, the TLS key and the uploads live here.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&config.data_dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let location = store::Location::from_setting(config.database.as_deref(), &config.data_dir);
    let pool = match &config.pool {
        Some(p) => {
            if !matches!(location, store::Location::Postgres(_)) {
                return Err(std::io::Error::other(
                    "[pool] needs `database` to be the pool's PostgreSQL",
                ));
            }
            Some(p.engine_config().map_err(std::io::Error::other)?)
        }
        None => None,
    };
    // Every call of the store blocks (and PostgreSQL's client must not run inside the
    // runtime): it is opened and read on a blocking thread, then lives on its own thread.
    let loaded = {
        let at = location.clone();
        let domain = config.domain.clone();
        let create = config.users.clone();
        tokio::task::spawn_blocking(move || load(&at, &domain, &create))
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| std::io::Error::other(format!("{}: {e}", location.redacted())))?
    };
    tracing::info!(store = %location.redacted(), users = loaded.users.len(), "store opened");
    let Loaded {
        db,
        users: directory,
        bindings,
        roaming,
        conferences,
        owners,
        mut book,
    } = loaded;
    // The store runs on its own thread: batches in, commit tickets out.
    let (store_tx, store_rx) = std::sync::mpsc::channel::<(u64, sip::StoreOp)>();
    // Each batch's outcome: its first and last ticket, and whether it is committed.
    let (commit_tx, mut commit_rx) = mpsc::unbounded_channel::<(u64, u64, bool)>();
    let metrics = Arc::new(Metrics::default());
    let store_thread = {
        let location = location.clone();
        let metrics = metrics.clone();
        let node = pool.as_ref().map(|p| p.name.clone());
        std::thread::spawn(move || {
            store_writer(
                db,
                &location,
                node.as_deref(),
                &store_rx,
                &commit_tx,
                &metrics,
            );
        })
    };
    let users = Arc::new(Users {
        map: directory.into_iter().map(|u| (u.name, u.secrets)).collect(),
        load: config.load_users.clone(),
        realm: config.domain.clone(),
    });

    let udp = match config.udp {
        Some(a) => Some(Arc::new(bind_udp(
            a,
            config.udp_recv_buffer,
            config.reuse_port,
        )?)),
        None => None,
    };
    let pool_listener = match &pool {
        Some(p) => Some(TcpListener::bind(p.addr).await?),
        None => None,
    };
    let tcp = match config.tcp {
        Some(a) => Some(bind_tcp(a, config.reuse_port)?),
        None => None,
    };
    let tls = match config.tls {
        Some(a) => Some((
            bind_tcp(a, config.reuse_port)?,
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
    let local_hosts = vec![format!("ocs.{}", config.domain)];
    let ecfg = EngineConfig {
        domain: config.domain.clone(),
        local_hosts,
        udp_addr: bound.udp,
        tcp_addr: bound.tcp,
        tls_addr: bound.tls,
        auth: config.auth.clone(),
        auth_failure_limit: config.auth_failure_limit,
        sa_lifetime: Duration::from_secs(config.sa_lifetime_hours.clamp(1, 8) * 3600),
        digest_uri_next_hop: config.digest_uri_next_hop,
        unauthenticated_per_second: config.unauthenticated_per_second,
        max_transactions: config.max_transactions,
        ntlm_target: format!("ocs.{}", config.domain),
        abs_url: bound.web.map(|a| format!("http://{a}{}", web::ABS_PATH)),
        media_rtp: bound.media.map(|m| m.0),
        media_rtcp: bound.media.map(|m| m.1),
        psom_addr: bound.psom,
        media_srtp: config.media_srtp,
        pool: pool.clone(),
        aliases: config.aliases.clone(),
        remote_mcus: config
            .remote_mcus
            .iter()
            .map(|(t, a)| (crate::cccp::uri::McuType::parse(t), *a))
            .collect(),
        ..EngineConfig::default()
    };
    if config.auth.is_empty() {
        tracing::warn!(
            "authentication is off: every request acts as its From (for load tests only)"
        );
    }
    let t0 = Instant::now();
    let seed = os_random()?;
    // The address book and the quality reports ask for the same credentials as SIP.
    let web_auth = (!config.auth.is_empty()).then(|| {
        let users: Arc<dyn Directory + Send + Sync> = users.clone();
        Arc::new(web::WebAuth::new(
            &config.domain,
            sip::derive_seed(&seed, b"ocs web digest"),
            users,
        ))
    });
    let mut engine = Engine::new(ecfg, seed, t0);
    if let Some(keytab) = &config.kerberos_keytab {
        #[cfg(feature = "kerberos")]
        {
            let service = format!("sip/ocs.{}", config.domain);
            let acceptor = sip::kerberos::KerberosAcceptor::new(keytab, &service)
                .map_err(|e| std::io::Error::other(format!("Kerberos: {e}")))?;
            engine.set_kerberos(acceptor);
            tracing::info!(%service, keytab = %keytab.display(), "Kerberos accepted");
        }
        #[cfg(not(feature = "kerberos"))]
        return Err(std::io::Error::other(format!(
            "kerberos_keytab {} is set but this build has no `kerberos` feature",
            keytab.display()
        )));
    }
    let wall = SystemTime::now();
    for b in bindings {
        engine.load_binding(b, wall);
    }
    // Contact lists, containers, subscribers and static categories.
    for (aor, contacts, data) in roaming {
        if let Err(e) = engine.load_roaming(&aor, &contacts, &data) {
            tracing::warn!(%aor, error = %e, "roaming data not loaded");
        }
    }
    // Scheduled conferences (expired ones were purged by the query); in a pool, only this
    // node's: the others' live on their owners.
    let mine = |focus: &str| match (&pool, owners.get(focus)) {
        (Some(p), Some(Some(owner))) => *owner == p.name,
        _ => true,
    };
    for c in conferences.into_iter().filter(|c| mine(&c.focus)) {
        match engine.restore_conference(t0, wall, &c) {
            Ok(()) => tracing::info!(focus = %c.focus, "conference restored"),
            Err(e) => tracing::warn!(focus = %c.focus, error = %e, "conference not restored"),
        }
    }

    // SQLite: checkpoints run beside the writer, once a second. Dropping `checkpoint_stop`
    // ends the checkpoint thread at once.
    let (checkpoint_stop, checkpoint_rx) = std::sync::mpsc::channel::<()>();
    let checkpointer = match &location {
        store::Location::Sqlite(path) => {
            let path = path.clone();
            Some(std::thread::spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    checkpoint_rx.recv_timeout(Duration::from_millis(1000))
                {
                    if let Err(e) = store::checkpoint(&path) {
                        tracing::warn!(error = %e, "checkpoint failed");
                    }
                }
            }))
        }
        store::Location::Postgres(_) => None,
    };

    let (in_tx, mut in_rx) = mpsc::channel::<Input>(65_536);
    let mut tasks = Vec::new();
    let next_conn = Arc::new(std::sync::atomic::AtomicU64::new(1));
    let listeners = tcp
        .map(|l| (l, None))
        .into_iter()
        .chain(tls.map(|(l, a)| (l, Some(a))));
    // Each listener's connections: as configured, within the open-files limit (with room for
    // the sockets, the store and the other listener).
    let fd_room = open_files_limit().map_or(usize::MAX, |n| n.saturating_sub(128) / 2);
    let limits = StreamLimits {
        max_connections: config.max_connections.min(fd_room).max(1),
        idle: Duration::from_secs(config.idle_timeout_secs.max(1)),
        header: Duration::from_secs(config.header_timeout_secs.max(1)),
        message: Duration::from_secs(config.message_timeout_secs.max(1)),
        write_queue: config.write_queue_bytes.max(64 * 1024),
        max_message: crate::sip::Limits::default().max_message_size,
    };
    if limits.max_connections < config.max_connections {
        tracing::warn!(
            max_connections = limits.max_connections,
            configured = config.max_connections,
            "connections per listener lowered to fit the open-files limit"
        );
    }
    for (listener, acceptor) in listeners {
        tasks.push(tokio::spawn(accept_loop(
            listener,
            acceptor,
            in_tx.clone(),
            next_conn.clone(),
            config.trace_sip,
            limits,
            ConnKind::Client,
        )));
    }
    // The pool: its listener, the watcher on the shared database, links made as nodes
    // come alive.
    if let (Some(l), Some(p), store::Location::Postgres(db)) = (pool_listener, &pool, &location) {
        tasks.push(tokio::spawn(accept_loop(
            l,
            None,
            in_tx.clone(),
            next_conn.clone(),
            config.trace_sip,
            limits,
            ConnKind::PoolInbound,
        )));
        let (db, me, tx) = (db.clone(), p.clone(), in_tx.clone());
        std::thread::spawn(move || super::pool::watch(&db, &me, &tx));
    }
    let mut links: HashMap<SocketAddr, tokio::task::JoinHandle<()>> = HashMap::new();
    // The connection each link holds now.
    let mut link_conns: HashMap<SocketAddr, ConnId> = HashMap::new();
    let reports = av::Reports::default();
    let (media_tx, media_rx) = mpsc::unbounded_channel();
    if let Some((a, b)) = media {
        tasks.push(tokio::spawn(av::run(a, b, media_rx, reports.clone())));
    }
    let content = webconf::Content::new(config.data_dir.join("content"))?;
    let (webconf_tx, webconf_rx) = mpsc::unbounded_channel();
    if let Some((l, acceptor)) = psom {
        let base = bound.web.map(|a| format!("http://{a}"));
        let seed = sip::derive_seed(&seed, b"ocs webconf keys");
        tasks.push(tokio::spawn(webconf::run(
            l,
            acceptor,
            webconf_rx,
            content.clone(),
            base,
            seed,
            webconf::PsomLimits {
                max_connections: limits.max_connections,
                auth_timeout: Duration::from_secs(config.psom_auth_timeout_secs.max(1)),
                max_upload: config.psom_max_upload_bytes,
                max_files: config.psom_max_files,
                max_bytes: config.psom_max_conference_bytes,
            },
        )));
    }
    if let Some(l) = web {
        tasks.push(tokio::spawn(web::listen(
            l,
            web::Site::Web(
                book.files(),
                reports.clone(),
                content.clone(),
                web_auth.clone(),
                web::Scrape {
                    metrics: metrics.clone(),
                    token: config.metrics_token.as_deref().map(|t| Arc::from(t.trim())),
                },
            ),
        )));
    }
    // The MCU listener takes C3P only from a focus that knows its secret: an addUser answer
    // carries PSOM credentials.
    let mcu_secret = match &config.mcu_secret {
        Some(s) => s.clone(),
        None => mcu_secret(&config.data_dir, &seed)?,
    };
    tasks.push(tokio::spawn(web::listen(
        mcu,
        web::Site::Mcu(in_tx.clone(), Arc::from(mcu_secret.as_str())),
    )));
    // Today's book at each change of day (UTC).
    {
        let location = location.clone();
        let domain = config.domain.clone();
        tasks.push(tokio::spawn(async move {
            loop {
                let secs = 86_400 - unix_now() % 86_400 + 60;
                tokio::time::sleep(Duration::from_secs(secs)).await;
                let location = location.clone();
                let domain = domain.clone();
                let moved = tokio::task::spawn_blocking(move || {
                    let r = location
                        .open()
                        .map_err(|e| e.to_string())
                        .and_then(|mut db| {
                            let users = db.users().map_err(|e| e.to_string())?;
                            book.publish(&mut *db, &users, &domain, unix_now())
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

    let mut conns: HashMap<ConnId, ConnHandle> = HashMap::new();
    let mut udp_buf = vec![0u8; 65_535];
    tokio::pin!(shutdown);
    let mut stopping: Option<tokio::time::Instant> = None;
    let mut last_observed = Instant::now();
    loop {
        let deadline = engine
            .poll_timeout()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600));
        let deadline = stopping.map_or(deadline, |s| deadline.min(s));
        // The metrics are refreshed at least once a second, busy or idle.
        let deadline = deadline.min(tokio::time::Instant::from_std(
            last_observed + Duration::from_secs(1),
        ));
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
                    engine.handle(Instant::now(), SystemTime::now(), m, peer, &*users);
                    // A connection that authenticated keeps its place when the listener is
                    // full; until then it is the first given up for a newer one.
                    if let Peer::Stream { conn, .. } = peer
                        && let Some(c) = conns.get_mut(&conn)
                        && c.unproven()
                        && engine.trusts(&peer)
                    {
                        c.proven();
                    }
                }
                Some(Input::Connected(c, tx, kind)) => {
                    conns.insert(c, tx);
                    match kind {
                        ConnKind::PoolInbound => engine.pool_inbound(c),
                        ConnKind::PoolLink(addr) if links.contains_key(&addr) => {
                            link_conns.insert(addr, c);
                            engine.pool_link(addr, Some(Peer::Stream { conn: c, addr, tls: false }));
                        }
                        // A link that connected as its node was given up: closed at once.
                        ConnKind::PoolLink(_) => { conns.remove(&c); }
                        ConnKind::Client => {}
                    }
                }
                Some(Input::Pool(PoolEvent::Conference { focus, owner })) => {
                    engine.remote_conference(&focus, owner.as_deref());
                }
                Some(Input::Pool(PoolEvent::Nodes(live))) => {
                    engine.pool_nodes(&live);
                    links.retain(|addr, task| {
                        let alive = live.iter().any(|(_, a)| a == addr);
                        if !alive {
                            task.abort();
                            // An aborted link says nothing more: its connection is closed
                            // here (its writer ends with the handle).
                            if let Some(c) = link_conns.remove(addr) {
                                conns.remove(&c);
                                engine.closed(c);
                            }
                            engine.pool_link(*addr, None);
                        }
                        alive
                    });
                    for (_, addr) in live {
                        if links.contains_key(&addr) {
                            continue;
                        }
                        // Known as a node from now on, reachable once its link is up.
                        engine.pool_link(addr, None);
                        links.insert(addr, tokio::spawn(super::pool::link(
                            addr, in_tx_main.clone(), next_conn.clone(), config.trace_sip, limits,
                        )));
                    }
                }
                Some(Input::Pool(PoolEvent::Roaming { by, aor, contacts, data })) => {
                    if let Err(e) = engine.remote_roaming(&aor, &contacts, &data) {
                        tracing::warn!(%by, %aor, error = %e, "pool: roaming data not taken");
                    }
                }
                Some(Input::Pool(PoolEvent::Binding { by, aor, contact, binding })) => {
                    tracing::trace!(%by, %aor, %contact, set = binding.is_some(), "pool: binding announced");
                    engine.remote_binding(&aor, &contact, binding.map(|b| *b));
                }
                Some(Input::Closed(c)) => {
                    conns.remove(&c);
                    link_conns.retain(|_, l| *l != c);
                    engine.closed(c);
                }
                Some(Input::Mcu { mcu, body, reply }) => {
                    let answer = engine.serve_mcu(Instant::now(), &mcu, &body);
                    let _ = reply.send(answer);
                }
                Some(Input::McuAnswer { id, c3p }) => {
                    engine.mcu_answer(Instant::now(), SystemTime::now(), id, c3p.as_deref());
                }
                None => break,
            },
            Some((first, last, ok)) = commit_rx.recv() => {
                if ok {
                    engine.committed(Instant::now(), last);
                } else {
                    engine.store_failed(Instant::now(), first, last);
                }
            }
            () = tokio::time::sleep_until(deadline) => {
                if stopping.is_some_and(|s| tokio::time::Instant::now() >= s) {
                    break;
                }
                engine.handle_timeout(Instant::now(), SystemTime::now(), &*users);
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
                metrics: &metrics,
                remote_secret: config.remote_mcu_secret.as_deref(),
                trace: config.trace_sip,
            },
        );
        if last_observed.elapsed() >= Duration::from_secs(1) {
            last_observed = Instant::now();
            observe(&metrics, &engine, &conns, &in_rx, &reports);
        }
        if stopping.is_some() && engine.transactions() == 0 {
            break;
        }
    }
    observe(&metrics, &engine, &conns, &in_rx, &reports);
    for t in tasks.into_iter().chain(links.into_values()) {
        t.abort();
    }
    drop(store_tx);
    let _ = tokio::task::spawn_blocking(move || store_thread.join()).await;
    drop(checkpoint_stop);
    if let Some(c) = checkpointer {
        let _ = tokio::task::spawn_blocking(move || c.join()).await;
    }
    if let store::Location::Sqlite(path) = &location {
        let _ = store::checkpoint(path);
    }
    tracing::info!(stats = ?engine.stats(), "stopped");
    Ok(())
}

/// Where the engine's outputs go in the runtime: sockets, the store thread, the media and
/// PSOM tasks, and HTTP exchanges with remote MCUs.
struct Outputs<'a> {
    udp: Option<&'a UdpSocket>,
    conns: &'a HashMap<ConnId, ConnHandle>,
    store: &'a std::sync::mpsc::Sender<(u64, sip::StoreOp)>,
    media: &'a mpsc::UnboundedSender<sip::MediaOp>,
    webconf: &'a mpsc::UnboundedSender<sip::WebConfOp>,
    answers: &'a mpsc::Sender<Input>,
    metrics: &'a Metrics,
    /// What the MCUs elsewhere require of this focus.
    remote_secret: Option<&'a str>,
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
        self.metrics.store_sent.fetch_add(1, Relaxed);
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
        let secret = self.remote_secret.map(str::to_owned);
        tokio::spawn(async move {
            let timeout = Duration::from_secs(10);
            let c3p =
                web::post_c3p(call.addr, &call.mcu, &call.body, secret.as_deref(), timeout).await;
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

/// The MCU listener's shared secret: `mcu-secret` in the data directory (the owner's only),
/// made on first start from the server's random seed.
fn mcu_secret(dir: &std::path::Path, seed: &[u8; 32]) -> std::io::Result<String> {
    let path = dir.join("mcu-secret");
    if let Ok(s) = std::fs::read_to_string(&path)
        && !s.trim().is_empty()
    {
        return Ok(s.trim().to_owned());
    }
    let bytes = sip::derive_seed(seed, b"ocs mcu listener secret");
    let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    super::write_private(&path, secret.as_bytes())?;
    Ok(secret)
}

/// What the store holds at start-up.
struct Loaded {
    db: Box<dyn Store>,
    users: Vec<User>,
    bindings: Vec<sip::Binding>,
    roaming: Vec<(String, String, String)>,
    conferences: Vec<sip::StoredConference>,
    /// Each conference's owner (a store shared by a pool).
    owners: HashMap<String, Option<String>>,
    book: AddressBook,
}

/// Opens the store, converts clear passwords of an old database, creates the configured users
/// it lacks, publishes today's address book if it is not out yet, and reads what the engine
/// starts from. Blocks.
fn load(location: &store::Location, domain: &str, create: &[UserConfig]) -> Result<Loaded, String> {
    let e = |e: store::Error| e.to_string();
    let mut db = location.open().map_err(e)?;
    let converted = db.hash_clear_passwords(domain).map_err(e)?;
    if converted > 0 {
        tracing::info!(
            users = converted,
            "clear passwords replaced by their hashes"
        );
    }
    for u in create {
        let user = User {
            name: u.name.clone(),
            secrets: Secrets::new(&u.name, domain, &u.password),
            display: u.display.clone(),
        };
        if db.add_user(&user).map_err(e)? {
            tracing::info!(user = %u.name, "user created");
        }
    }
    let users = db.users().map_err(e)?;
    // The address book: what the store kept, and today's book if it is not out yet.
    let mut book = AddressBook::load(&mut *db)?;
    let published = book.publish(&mut *db, &users, domain, unix_now())?;
    if !published.is_empty() {
        tracing::info!(files = published.len(), "address book published");
    }
    Ok(Loaded {
        bindings: db.bindings(unix_now()).map_err(e)?,
        roaming: db.roaming().map_err(e)?,
        conferences: db.conferences(unix_now()).map_err(e)?,
        owners: db.conference_owners().map_err(e)?.into_iter().collect(),
        users,
        book,
        db,
    })
}

/// The store's thread: each batch of the writes queued meanwhile is one transaction; its last
/// ticket goes back once it is committed. A batch that fails is tried again on a new
/// connection (a PostgreSQL server restarted, a connection cut): every write is idempotent
/// (an upsert or a delete), so a batch whose commit was cut off in flight is safe to repeat.
/// One that still fails is reported as failed: the engine answers what waited for it `500`.
fn store_writer(
    mut db: Box<dyn Store>,
    location: &store::Location,
    node: Option<&str>,
    rx: &std::sync::mpsc::Receiver<(u64, sip::StoreOp)>,
    commits: &mpsc::UnboundedSender<(u64, u64, bool)>,
    metrics: &Metrics,
) {
    if let Some(n) = node {
        db.set_node(n);
    }
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let first = batch.first().map_or(0, |(t, _)| *t);
        let last = batch.last().map_or(0, |(t, _)| *t);
        let ops: Vec<sip::StoreOp> = batch.into_iter().map(|(_, op)| op).collect();
        let mut result = db.apply(&ops);
        for wait in [100, 500, 2000] {
            let Err(e) = &result else { break };
            tracing::warn!(error = %e, ops = ops.len(), "store write failed; reconnecting");
            std::thread::sleep(Duration::from_millis(wait));
            match location.open() {
                Ok(mut fresh) => {
                    if let Some(n) = node {
                        fresh.set_node(n);
                    }
                    db = fresh;
                    result = db.apply(&ops);
                }
                Err(e) => result = Err(e),
            }
        }
        // Counted as done either way: the gauge is of writes still waiting.
        metrics.store_committed.fetch_add(ops.len() as u64, Relaxed);
        match result {
            Ok(()) => {
                metrics.store_batches.fetch_add(1, Relaxed);
                if commits.send((first, last, true)).is_err() {
                    break;
                }
            }
            Err(e) => {
                metrics.store_failures.fetch_add(1, Relaxed);
                tracing::error!(error = %e, ops = ops.len(), "store write failed; not acknowledged");
                // The engine answers what waited for it with an error: no later commit may
                // release it.
                if commits.send((first, last, false)).is_err() {
                    break;
                }
            }
        }
    }
}

/// Copies the engine's figures to the metrics (once a second: the bindings are counted).
fn observe(
    metrics: &Metrics,
    engine: &Engine,
    conns: &HashMap<ConnId, ConnHandle>,
    inputs: &mpsc::Receiver<Input>,
    reports: &av::Reports,
) {
    metrics.observe(&Observed {
        stats: engine.stats(),
        bindings: engine.live_bindings(SystemTime::now()) as u64,
        transactions: engine.transactions() as u64,
        conferences: engine.conference_count() as u64,
        associations: engine.associations() as u64,
        connections: conns.len() as u64,
        input_queue: inputs.len() as u64,
    });
    if let Ok(r) = reports.lock() {
        metrics.set_media_legs(r.values().map(|v| v.len() as u64).sum());
    }
}
