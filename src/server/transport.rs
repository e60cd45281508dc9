//! The transports: UDP datagrams, TCP and TLS streams framed by `ocs-sip-codec`, the TLS
//! certificate.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

use super::runtime::{Input, Users};
use super::sip::{ConnId, Engine, Peer};
use crate::sip::Message;
use crate::sip::stream::{Frame, Status, StreamDecoder};

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
pub(super) fn bind_udp(addr: SocketAddr, recv_buffer: Option<usize>) -> std::io::Result<UdpSocket> {
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
pub(super) fn udp_in(
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
pub(super) async fn recv_udp(
    sock: Option<&UdpSocket>,
    buf: &mut [u8],
) -> std::io::Result<(usize, SocketAddr)> {
    match sock {
        Some(s) => s.recv_from(buf).await,
        None => std::future::pending().await,
    }
}

/// Accepts TCP connections (TLS ones when there is an acceptor) and serves each in a task.
pub(super) async fn accept_loop(
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
pub(super) async fn serve_stream<S>(
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
