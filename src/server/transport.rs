//! The transports: UDP datagrams, TCP and TLS streams framed by `ocs-sip-codec`, the TLS
//! certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::runtime::{Input, Users};
use super::sip::{ConnId, Engine, Peer};
use crate::sip::Message;
use crate::sip::stream::{Frame, StreamDecoder};

/// The TLS acceptor, with the certificate of the data directory (generated on first start).
pub(super) fn tls_acceptor(
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
        super::write_private(&key_path, ck.signing_key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, ck.cert.pem())?;
        tracing::info!(cert = %cert_path.display(), "self-signed TLS certificate generated");
    }
    // A key written before (or by hand) is made the owner's only too.
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))?;
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

/// A UDP socket with the receive buffer asked for; with `reuse_port`, one of several on the
/// same address (`SO_REUSEPORT`: the kernel spreads datagrams over them by source).
pub(super) fn bind_udp(
    addr: SocketAddr,
    recv_buffer: Option<usize>,
    reuse_port: bool,
) -> std::io::Result<UdpSocket> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )?;
    if let Some(n) = recv_buffer {
        sock.set_recv_buffer_size(n)?;
    }
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    UdpSocket::from_std(sock.into())
}

/// A TCP listener; with `reuse_port`, one of several on the same address (`SO_REUSEPORT`:
/// the kernel spreads connections over them).
pub(super) fn bind_tcp(addr: SocketAddr, reuse_port: bool) -> std::io::Result<TcpListener> {
    let sock = socket2::Socket::new(
        socket2::Domain::for_address(addr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    if reuse_port {
        sock.set_reuse_port(true)?;
    }
    sock.set_nonblocking(true)?;
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    TcpListener::from_std(sock.into())
}

/// A datagram for the engine (CRLF keep-alives and junk dropped).
pub(super) fn udp_in(
    engine: &mut Engine,
    now: Instant,
    wall: SystemTime,
    data: &[u8],
    from: SocketAddr,
    users: &Users,
    trace: bool,
) {
    match Message::parse(Bytes::copy_from_slice(data)) {
        Ok(m) => {
            if trace {
                tracing::info!(target: "sip", %from, "in\n{m}");
            }
            engine.handle(now, wall, m, Peer::Udp(from), users);
        }
        Err(_) => engine.malformed_datagram(data, Peer::Udp(from)),
    }
}

/// Receives from the UDP socket, or never when there is none.
pub(super) async fn recv_udp(
    sock: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// The limits of a stream listener (TCP or TLS), from the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct StreamLimits {
    /// Connections at once; past it new ones are closed at once.
    pub(super) max_connections: usize,
    /// A connection with nothing complete (no message, no keep-alive) for this long is closed.
    pub(super) idle: Duration,
    /// From a message's first byte to the end of its header section.
    pub(super) header: Duration,
    /// From a message's first byte (or the connection's start, for its first) to its end.
    pub(super) message: Duration,
    /// Bytes queued for a peer that does not read; past it the connection is closed.
    pub(super) write_queue: usize,
    /// The largest message (the decoder's limit); a longer partial one closes the connection.
    pub(super) max_message: usize,
}

/// What a stream connection is to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnKind {
    /// A client's, on a SIP listener.
    Client,
    /// Another front end's link, on our pool listener.
    PoolInbound,
    /// Our link to the front end whose pool listener is this address.
    PoolLink(SocketAddr),
}

/// What the engine's task holds of a connection: the queue to its writer, how much is in it,
/// and how to close it.
#[derive(Debug, Clone)]
pub(super) struct ConnHandle {
    tx: mpsc::UnboundedSender<Bytes>,
    queued: Arc<AtomicUsize>,
    limit: usize,
    close: Arc<tokio::sync::Notify>,
    /// Until the connection authenticated: what marks it so.
    proof: Option<Proof>,
}

impl ConnHandle {
    /// Queues `bytes` for the peer; a peer whose queue is past the limit (it does not read)
    /// is closed instead, and `false` comes back.
    pub(super) fn send(&self, bytes: Bytes) -> bool {
        let n = bytes.len();
        if self.queued.fetch_add(n, Ordering::Relaxed) + n > self.limit {
            self.close.notify_one();
            return false;
        }
        self.tx.send(bytes).is_ok()
    }

    /// Whether the connection is still to prove itself.
    pub(super) fn unproven(&self) -> bool {
        self.proof.is_some()
    }

    /// The connection authenticated: it keeps its place when the listener is full.
    pub(super) fn proven(&mut self) {
        if let Some(p) = self.proof.take() {
            p.proven();
        }
    }
}

/// The soft limit on open files, from `/proc/self/limits` (Linux), if it can be read.
pub(super) fn open_files_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

/// A listener's connections that have not proven themselves yet (not authenticated: no
/// security association or Digest-trusted request on a SIP stream, not joined on PSOM), by
/// accept order, each with how to close it.
#[derive(Debug, Default)]
struct Unproven {
    next: u64,
    conns: std::collections::BTreeMap<u64, Arc<tokio::sync::Notify>>,
}

/// A connection's place in its listener: held while it is served (dropping it frees the
/// place), and evicted when the listener is full and it is the oldest not proven.
#[derive(Debug)]
pub(super) struct Ticket {
    _slot: tokio::sync::OwnedSemaphorePermit,
    proof: Proof,
    evict: Arc<tokio::sync::Notify>,
}

impl Ticket {
    /// A place of its own, never evicted: for a connection this server opens (a link to
    /// another front end).
    pub(super) fn standalone() -> Option<Ticket> {
        let slot = Arc::new(tokio::sync::Semaphore::new(1))
            .try_acquire_owned()
            .ok()?;
        let unproven = Arc::new(std::sync::Mutex::new(Unproven::default()));
        Some(Ticket {
            _slot: slot,
            proof: Proof { id: 0, unproven },
            evict: Arc::new(tokio::sync::Notify::new()),
        })
    }

    /// Resolves when the listener gave this connection's place to a newer one.
    pub(super) async fn evicted(&self) {
        self.evict.notified().await;
    }

    /// What marks the connection proven (it can be handed to whoever learns it).
    pub(super) fn proof(&self) -> Proof {
        self.proof.clone()
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        // Gone: no longer a candidate for eviction.
        self.proof.leave();
    }
}

/// Marks a connection proven: it is no longer given up for a newer one.
#[derive(Debug, Clone)]
pub(super) struct Proof {
    id: u64,
    unproven: Arc<std::sync::Mutex<Unproven>>,
}

impl Proof {
    /// The connection authenticated (idempotent). A connection already chosen for eviction
    /// (the oldest unproven when a newcomer arrived) is closed all the same.
    pub(super) fn proven(&self) {
        self.leave();
    }

    fn leave(&self) {
        if let Ok(mut u) = self.unproven.lock() {
            u.conns.remove(&self.id);
        }
    }
}

/// A listener's door: at most `max` connections at once, accept errors (out of file
/// descriptors) backed off rather than retried at once. When it is full a new connection
/// takes the place of the oldest one that has not authenticated (an attacker's idle,
/// partial or slowloris connections cannot lock legitimate clients out); with none such it
/// is closed at once.
pub(super) struct Gate {
    what: &'static str,
    max: usize,
    slots: Arc<tokio::sync::Semaphore>,
    unproven: Arc<std::sync::Mutex<Unproven>>,
    refused: u64,
    evicted: u64,
}

impl Gate {
    pub(super) fn new(what: &'static str, max: usize) -> Gate {
        Gate {
            what,
            max: max.max(1),
            slots: Arc::new(tokio::sync::Semaphore::new(max.max(1))),
            unproven: Arc::default(),
            refused: 0,
            evicted: 0,
        }
    }

    /// The next connection with room for it, and its place (held while it is served).
    pub(super) async fn accept(
        &mut self,
        listener: &TcpListener,
    ) -> (tokio::net::TcpStream, SocketAddr, Ticket) {
        loop {
            let (stream, addr) = match listener.accept().await {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(listener = self.what, error = %e, "accept failed; backing off");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            };
            let slot = match self.slots.clone().try_acquire_owned() {
                Ok(slot) => Some(slot),
                Err(_) => self.evict_oldest().await,
            };
            let Some(slot) = slot else {
                self.refused += 1;
                if self.refused.is_power_of_two() {
                    tracing::warn!(listener = self.what, %addr, refused = self.refused, max = self.max, "connection limit reached, every connection authenticated");
                }
                continue;
            };
            let evict = Arc::new(tokio::sync::Notify::new());
            let id = {
                let Ok(mut u) = self.unproven.lock() else {
                    continue;
                };
                u.next += 1;
                let id = u.next;
                u.conns.insert(id, evict.clone());
                id
            };
            let proof = Proof {
                id,
                unproven: self.unproven.clone(),
            };
            return (
                stream,
                addr,
                Ticket {
                    _slot: slot,
                    proof,
                    evict,
                },
            );
        }
    }

    /// Closes the oldest connection not proven and takes its place once it is gone (within
    /// a second); `None` when every connection has authenticated.
    async fn evict_oldest(&mut self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        let victim = self.unproven.lock().ok()?.conns.pop_first()?.1;
        victim.notify_one();
        self.evicted += 1;
        if self.evicted.is_power_of_two() {
            tracing::warn!(
                listener = self.what,
                evicted = self.evicted,
                max = self.max,
                "connection limit reached: the oldest unauthenticated connections make room"
            );
        }
        tokio::time::timeout(Duration::from_secs(1), self.slots.clone().acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

/// Accepts TCP connections (TLS ones when there is an acceptor) and serves each in a task, at
/// most `limits.max_connections` at once; accept errors (out of file descriptors) are backed
/// off rather than retried at once.
pub(super) async fn accept_loop(
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    tx: mpsc::Sender<Input>,
    next: Arc<std::sync::atomic::AtomicU64>,
    trace: bool,
    limits: StreamLimits,
    kind: ConnKind,
) {
    let mut gate = Gate::new(
        if kind == ConnKind::Client {
            "SIP"
        } else {
            "pool"
        },
        limits.max_connections,
    );
    loop {
        let (stream, addr, ticket) = gate.accept(&listener).await;
        let conn = next.fetch_add(1, Ordering::Relaxed);
        let tx = tx.clone();
        let Some(acceptor) = acceptor.clone() else {
            tokio::spawn(serve_stream(
                stream, addr, conn, tx, trace, false, limits, ticket, kind,
            ));
            continue;
        };
        tokio::spawn(async move {
            // A handshake that fails or stalls costs only its own task.
            let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(stream));
            tokio::select! {
                r = handshake => match r {
                    Ok(Ok(s)) => serve_stream(s, addr, conn, tx, trace, true, limits, ticket, kind).await,
                    Ok(Err(e)) => tracing::debug!(%addr, error = %e, "TLS handshake failed"),
                    Err(_) => tracing::debug!(%addr, "TLS handshake timed out"),
                },
                () = ticket.evicted() => tracing::debug!(%addr, "TLS handshake given up for a newer connection"),
            }
        });
    }
}

/// Where `buf` has the end of a header section (`CRLF CRLF`), looking only at what was not
/// looked at before (`from`, minus the 3 bytes a terminator can straddle).
fn header_end(buf: &[u8], from: usize) -> Option<usize> {
    let start = from.saturating_sub(3);
    buf.get(start..)?
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| start + i + 4)
}

/// One TCP connection: frames messages in (with CRLF keep-alives answered), writes what the
/// engine sends to it, and closes it at the first limit it passes: idle, a header or a
/// message not finished in time, a message too long, a peer that does not read, its place
/// given to a newer connection before it authenticated.
#[allow(clippy::too_many_arguments)]
pub(super) async fn serve_stream<S>(
    stream: S,
    addr: SocketAddr,
    conn: ConnId,
    tx: mpsc::Sender<Input>,
    trace: bool,
    tls: bool,
    limits: StreamLimits,
    ticket: Ticket,
    kind: ConnKind,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Bytes>();
    let handle = ConnHandle {
        tx: out_tx,
        queued: Arc::new(AtomicUsize::new(0)),
        limit: limits.write_queue,
        close: Arc::new(tokio::sync::Notify::new()),
        proof: Some(ticket.proof()),
    };
    if tx
        .send(Input::Connected(conn, handle.clone(), kind))
        .await
        .is_err()
    {
        return;
    }
    let queued = handle.queued.clone();
    let writer = tokio::spawn(async move {
        while let Some(b) = out_rx.recv().await {
            let n = b.len();
            if wr.write_all(&b).await.is_err() {
                break;
            }
            queued.fetch_sub(n, Ordering::Relaxed);
        }
    });
    let mut dec = StreamDecoder::default();
    let mut buf = BytesMut::with_capacity(4 * 1024);
    let peer = Peer::Stream { conn, addr, tls };
    let start = tokio::time::Instant::now();
    // When the message being received started (the connection's start for the first one),
    // whether its header section is complete, and how much of the buffer has been searched
    // for its end.
    let (mut begun, mut headed, mut searched) = (Some(start), false, 0usize);
    let mut last_frame = start;
    // A link to another front end keeps itself alive: a CRLF CRLF ping (RFC 5626 §4.4.1)
    // every few seconds, well inside the far end's header and idle limits.
    let mut ping = tokio::time::interval(Duration::from_secs(4));
    let pinging = matches!(kind, ConnKind::PoolLink(_));
    let why = 'read: loop {
        let deadline = match begun {
            Some(t) if !headed => (t + limits.header).min(t + limits.message),
            Some(t) => t + limits.message,
            None => last_frame + limits.idle,
        };
        let n = tokio::select! {
            r = rd.read_buf(&mut buf) => r,
            () = tokio::time::sleep_until(deadline) => {
                break match begun {
                    Some(_) if !headed => "header not complete in time",
                    Some(_) => "message not complete in time",
                    None => "idle",
                };
            }
            () = handle.close.notified() => break "the peer does not read what it is sent",
            () = ticket.evicted() => break "its place given to a newer connection before it authenticated",
            _ = ping.tick(), if pinging => {
                let _ = handle.send(Bytes::from_static(b"\r\n\r\n"));
                continue;
            }
        };
        match n {
            Ok(0) => break "closed by the peer",
            Err(_) => break "read error",
            Ok(_) => {}
        }
        if begun.is_none() && !buf.is_empty() {
            begun = Some(tokio::time::Instant::now());
        }
        loop {
            // Until the header section is complete only the new bytes are searched: a
            // message dribbled in small pieces costs what it weighs, not its square.
            if !headed && !buf.starts_with(b"\r") {
                match header_end(&buf, searched) {
                    Some(_) => headed = true,
                    None => {
                        searched = buf.len();
                        break;
                    }
                }
            }
            match dec.decode_buf(&mut buf) {
                Ok(Some(frame)) => {
                    last_frame = tokio::time::Instant::now();
                    (headed, searched) = (false, 0);
                    begun = (!buf.is_empty()).then_some(last_frame);
                    match frame {
                        Frame::Message(m) => {
                            if trace {
                                tracing::info!(target: "sip", %addr, "in\n{m}");
                            }
                            if tx.send(Input::Message(m, peer)).await.is_err() {
                                break 'read "the engine stopped";
                            }
                        }
                        Frame::Ping => {
                            let _ = handle.send(Bytes::from_static(b"\r\n"));
                        }
                        Frame::Pong => {}
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(%addr, error = %e, "closing a connection that sent a bad message");
                    break 'read "a bad message";
                }
            }
        }
        if buf.len() > limits.max_message {
            break "a message longer than the limit";
        }
    };
    tracing::debug!(%addr, reason = why, "connection closed");
    writer.abort();
    let _ = tx.send(Input::Closed(conn)).await;
}
