//! The web-conferencing MCU's PSOM service: a TLS listener (8057 by default), one
//! `ocs-psom` [`Server`] per conference, connections routed to theirs by the conference ID of
//! their Authenticate call ([`first_contact`]), the credentials the engine handed out in the
//! C3P addUser answers ([`WebConfOp::Authorize`]), and uploaded content stored encrypted where
//! the web listener serves it.
//!
//! Stored content (our choice): `IV (16 bytes) || AES-128-CTR(key, IV, content)`, the key
//! being the download key the PSOM server gave the participants with the URL. Whoever
//! downloads it without the key gets ciphertext.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use super::abs::Files;
use super::sip::WebConfOp;
use crate::psom::server::{
    Authorization, ConnId, FirstContact, Server, ServerConfig, ServerEvent, first_contact,
};

/// The path prefix of uploaded content on the web listener.
pub const CONTENT_PATH: &str = "/content/";
/// How long PSOM credentials handed out over C3P stay valid.
const AUTH_LIFETIME: Duration = Duration::from_secs(8 * 3600);

enum Io {
    Open(ConnId, mpsc::UnboundedSender<Vec<u8>>),
    Data(ConnId, Vec<u8>),
    Gone(ConnId),
}

/// Encrypts content for storage: `IV || AES-128-CTR(key, IV, data)`.
#[must_use]
pub fn seal(key: &[u8], iv: [u8; 16], data: &[u8]) -> Option<Vec<u8>> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key.get(..16)?, &iv).ok()?;
    let mut out = iv.to_vec();
    let at = out.len();
    out.extend_from_slice(data);
    c.apply_keystream(&mut out[at..]);
    Some(out)
}

/// Decrypts what [`seal`] stored.
#[must_use]
pub fn open(key: &[u8], stored: &[u8]) -> Option<Vec<u8>> {
    use ctr::cipher::{KeyIvInit, StreamCipher};
    let (iv, body) = stored.split_at_checked(16)?;
    let mut c = ctr::Ctr128BE::<aes::Aes128>::new_from_slices(key.get(..16)?, iv).ok()?;
    let mut out = body.to_vec();
    c.apply_keystream(&mut out);
    Some(out)
}

/// Runs the listener and the conferences until `ops` closes.
pub(super) async fn run(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    mut ops: mpsc::UnboundedReceiver<WebConfOp>,
    content: Files,
    web_base: Option<String>,
    seed: [u8; 32],
) {
    let (io_tx, mut io_rx) = mpsc::unbounded_channel::<Io>();
    let next = Arc::new(AtomicU64::new(1));
    let accept = tokio::spawn(async move {
        loop {
            let Ok((tcp, addr)) = listener.accept().await else {
                continue;
            };
            let (acceptor, io, conn) = (
                acceptor.clone(),
                io_tx.clone(),
                next.fetch_add(1, Ordering::Relaxed),
            );
            tokio::spawn(async move {
                let Ok(Ok(tls)) =
                    tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
                else {
                    tracing::debug!(%addr, "PSOM TLS handshake failed");
                    return;
                };
                let (mut rd, mut wr) = tokio::io::split(tls);
                let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
                if io.send(Io::Open(conn, out_tx)).is_err() {
                    return;
                }
                let writer = tokio::spawn(async move {
                    while let Some(b) = out_rx.recv().await {
                        if wr.write_all(&b).await.is_err() {
                            break;
                        }
                    }
                    let _ = wr.shutdown().await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    match rd.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if io.send(Io::Data(conn, buf[..n].to_vec())).is_err() {
                                break;
                            }
                        }
                    }
                }
                let _ = io.send(Io::Gone(conn));
                let _ = writer.await;
            });
        }
    });

    let mut servers: HashMap<String, Server> = HashMap::new();
    // Connections: their writer, the conference once known, the bytes before that.
    let mut writers: HashMap<ConnId, mpsc::UnboundedSender<Vec<u8>>> = HashMap::new();
    let mut out = vec![0u8; 64 * 1024];
    let mut routed: HashMap<ConnId, String> = HashMap::new();
    let mut early: HashMap<ConnId, Vec<u8>> = HashMap::new();
    // One CSPRNG for the content IVs, and a generator of its own for each conference.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_seed(seed);
    let config = |id: &str| ServerConfig {
        content_base: format!(
            "{}{CONTENT_PATH}{id}/",
            web_base.as_deref().unwrap_or("http://localhost")
        ),
        title: id.to_owned(),
        ..ServerConfig::default()
    };
    // Idle time-outs and expiries are seconds apart: a tick checks them, instead of working
    // out the earliest of every conference for every chunk received.
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            op = ops.recv() => match op {
                None => break,
                Some(WebConfOp::Authorize { conference_id, auth_id, key, user, role }) => {
                    let s = servers.entry(conference_id.clone()).or_insert_with(|| {
                        let keys = <rand::rngs::StdRng as rand::SeedableRng>::from_rng(&mut rng);
                        Server::new(&conference_id, config(&conference_id), keys)
                    });
                    s.authorize(Authorization {
                        auth_id,
                        key,
                        user: user.clone(),
                        role,
                        expires: Instant::now() + AUTH_LIFETIME,
                    });
                    tracing::info!(conference = %conference_id, %user, ?role, "web conference: credentials issued");
                }
                Some(WebConfOp::SetRole { conference_id, user, role }) => {
                    if let Some(s) = servers.get_mut(&conference_id) && s.set_role(&user, role) {
                        tracing::info!(conference = %conference_id, %user, ?role, "web conference: role changed over C3P");
                    }
                }
                Some(WebConfOp::Close { conference_id }) => {
                    if let Some(mut s) = servers.remove(&conference_id) {
                        let conns: Vec<ConnId> = routed
                            .iter()
                            .filter(|(_, c)| **c == conference_id)
                            .map(|(k, _)| *k)
                            .collect();
                        for c in conns {
                            s.disconnect(c);
                            routed.remove(&c);
                            writers.remove(&c);
                        }
                        tracing::info!(conference = %conference_id, "web conference closed");
                    }
                }
            },
            io = io_rx.recv() => match io {
                None => break,
                Some(Io::Open(c, w)) => {
                    writers.insert(c, w);
                }
                Some(Io::Gone(c)) => {
                    writers.remove(&c);
                    early.remove(&c);
                    if let Some(id) = routed.remove(&c) && let Some(s) = servers.get_mut(&id) {
                        s.disconnect(c);
                    }
                }
                Some(Io::Data(c, data)) => {
                    let now = Instant::now();
                    if let Some(id) = routed.get(&c) {
                        if let Some(s) = servers.get_mut(id) {
                            s.handle_input(now, c, &data);
                        }
                    } else {
                        let buf = early.entry(c).or_default();
                        buf.extend_from_slice(&data);
                        match first_contact(buf, &ServerConfig::default()) {
                            FirstContact::NeedMore if buf.len() < 64 * 1024 => {}
                            FirstContact::Conference(id) if servers.contains_key(&id) => {
                                let bytes = early.remove(&c).unwrap_or_default();
                                if let Some(s) = servers.get_mut(&id) {
                                    s.connect(now, c);
                                    s.handle_input(now, c, &bytes);
                                }
                                routed.insert(c, id);
                            }
                            _ => {
                                // Not PSOM, or a conference nobody was authorized for.
                                early.remove(&c);
                                writers.remove(&c);
                            }
                        }
                    }
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                for s in servers.values_mut() {
                    if s.poll_timeout().is_some_and(|t| t <= now) {
                        s.handle_timeout(now);
                    }
                }
            }
        }
        // What the servers want done.
        for s in servers.values_mut() {
            while let Ok(Some(t)) = s.poll_transmit(&mut out) {
                if let Some(w) = writers.get(&t.conn) {
                    let _ = w.send(out[..t.len].to_vec());
                }
            }
            while let Some(ev) = s.poll_event() {
                match ev {
                    ServerEvent::Joined { user, role, .. } => {
                        tracing::info!(%user, ?role, "web conference: joined over PSOM");
                    }
                    ServerEvent::Closed { conn, refusal } => {
                        tracing::debug!(conn, ?refusal, "web conference: connection closed");
                        writers.remove(&conn);
                        routed.remove(&conn);
                    }
                    ServerEvent::ContentReady {
                        name,
                        url,
                        key,
                        data,
                    } => {
                        let mut iv = [0u8; 16];
                        rand::Rng::fill_bytes(&mut rng, &mut iv);
                        let path = url
                            .find(CONTENT_PATH)
                            .map(|i| url[i..].to_owned())
                            .unwrap_or_default();
                        match (seal(&key, iv, &data), content.write()) {
                            (Some(sealed), Ok(mut files)) => {
                                tracing::info!(%name, %url, bytes = data.len(), "web conference: content stored encrypted");
                                let at = std::time::SystemTime::now()
                                    .duration_since(std::time::UNIX_EPOCH)
                                    .map_or(0, |d| d.as_secs());
                                files.insert(path, (Bytes::from(sealed), at));
                            }
                            _ => tracing::warn!(%name, "web conference: content not stored"),
                        }
                    }
                    ServerEvent::Refused { conn, refusal } => {
                        tracing::debug!(conn, ?refusal, "web conference: operation refused");
                    }
                }
            }
        }
    }
    accept.abort();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_content_opens_with_its_key_only() {
        let key = [7u8; 16];
        let sealed = seal(&key, [1; 16], b"slide deck").unwrap();
        assert_eq!(&sealed[..16], &[1; 16]);
        assert_ne!(&sealed[16..], b"slide deck");
        assert_eq!(open(&key, &sealed).unwrap(), b"slide deck");
        assert_ne!(open(&[8; 16], &sealed).unwrap(), b"slide deck");
        assert!(open(&key, &[0; 5]).is_none());
    }
}
