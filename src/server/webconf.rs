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

use super::sip::WebConfOp;
use crate::psom::server::{
    Authorization, ConnId, FirstContact, Server, ServerConfig, ServerEvent, first_contact,
};

/// Uploaded content, kept on disk (encrypted, [`seal`]) in a directory of the data directory,
/// one file per URL path (named by the SHA-256 of the path: no path from the network reaches
/// the file system); only the index of paths and times is in memory.
#[derive(Debug, Clone)]
pub struct Content {
    dir: std::path::PathBuf,
    index: Arc<std::sync::RwLock<HashMap<String, u64>>>,
}

impl Content {
    /// A store in `dir` (made, the owner's only).
    ///
    /// # Errors
    /// The directory cannot be made.
    pub fn new(dir: std::path::PathBuf) -> std::io::Result<Content> {
        std::fs::create_dir_all(&dir)?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))?;
        Ok(Content {
            dir,
            index: Arc::default(),
        })
    }

    fn file(&self, path: &str) -> std::path::PathBuf {
        use sha2::Digest as _;
        let h = sha2::Sha256::digest(path.as_bytes());
        let name: String = h.iter().map(|b| format!("{b:02x}")).collect();
        self.dir.join(name)
    }

    /// Keeps `sealed` at `path` (written to disk, 0600), uploaded at `at` (Unix seconds).
    ///
    /// # Errors
    /// The file cannot be written.
    pub fn put(&self, path: &str, sealed: &[u8], at: u64) -> std::io::Result<()> {
        super::write_private(&self.file(path), sealed)?;
        if let Ok(mut i) = self.index.write() {
            i.insert(path.to_owned(), at);
        }
        Ok(())
    }

    /// The sealed bytes at `path` and when they were uploaded.
    #[must_use]
    pub fn get(&self, path: &str) -> Option<(Bytes, u64)> {
        let at = *self.index.read().ok()?.get(path)?;
        std::fs::read(self.file(path))
            .ok()
            .map(|b| (Bytes::from(b), at))
    }

    /// Forgets what a conference kept (`prefix`: its content path), files included.
    pub fn remove_prefix(&self, prefix: &str) {
        let Ok(mut i) = self.index.write() else {
            return;
        };
        let gone: Vec<String> = i
            .keys()
            .filter(|p| p.starts_with(prefix))
            .cloned()
            .collect();
        for p in gone {
            let _ = std::fs::remove_file(self.file(&p));
            i.remove(&p);
        }
    }
}

/// The path prefix of uploaded content on the web listener.
pub const CONTENT_PATH: &str = "/content/";
/// How long PSOM credentials handed out over C3P stay valid.
const AUTH_LIFETIME: Duration = Duration::from_secs(8 * 3600);

/// The limits of the PSOM service, from the configuration.
#[derive(Debug, Clone, Copy)]
pub(super) struct PsomLimits {
    /// Connections at once; past it new ones are closed at once.
    pub(super) max_connections: usize,
    /// A connection not authenticated (joined) this long after its handshake is closed.
    pub(super) auth_timeout: Duration,
    /// The largest upload.
    pub(super) max_upload: u64,
    /// Uploads kept per conference.
    pub(super) max_files: usize,
    /// Bytes kept per conference.
    pub(super) max_bytes: usize,
}

enum Io {
    Open(
        ConnId,
        mpsc::UnboundedSender<Vec<u8>>,
        Arc<tokio::sync::Notify>,
        super::transport::Proof,
    ),
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
    content: Content,
    web_base: Option<String>,
    seed: [u8; 32],
    limits: PsomLimits,
) {
    let (io_tx, mut io_rx) = mpsc::unbounded_channel::<Io>();
    let next = Arc::new(AtomicU64::new(1));
    let mut gate = super::transport::Gate::new("PSOM", limits.max_connections);
    let accept = tokio::spawn(async move {
        loop {
            let (tcp, addr, ticket) = gate.accept(&listener).await;
            let (acceptor, io, conn) = (
                acceptor.clone(),
                io_tx.clone(),
                next.fetch_add(1, Ordering::Relaxed),
            );
            tokio::spawn(async move {
                let handshake = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp));
                let tls = tokio::select! {
                    r = handshake => r,
                    () = ticket.evicted() => return,
                };
                let Ok(Ok(tls)) = tls else {
                    tracing::debug!(%addr, "PSOM TLS handshake failed");
                    return;
                };
                let (mut rd, mut wr) = tokio::io::split(tls);
                let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Vec<u8>>();
                let close = Arc::new(tokio::sync::Notify::new());
                if io
                    .send(Io::Open(conn, out_tx, close.clone(), ticket.proof()))
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
                    let _ = wr.shutdown().await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let r = tokio::select! {
                        r = rd.read(&mut buf) => r,
                        () = close.notified() => break,
                        () = ticket.evicted() => break,
                    };
                    match r {
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
    // Connections not authenticated yet, since when; and how to close any connection.
    let mut unauthenticated: HashMap<ConnId, (Instant, super::transport::Proof)> = HashMap::new();
    let mut closers: HashMap<ConnId, Arc<tokio::sync::Notify>> = HashMap::new();
    // What each conference keeps: files and bytes.
    let mut kept: HashMap<String, (usize, usize)> = HashMap::new();
    // One CSPRNG for the content IVs, and a generator of its own for each conference.
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::from_seed(seed);
    let config = |id: &str| ServerConfig {
        content_base: format!(
            "{}{CONTENT_PATH}{id}/",
            web_base.as_deref().unwrap_or("http://localhost")
        ),
        title: id.to_owned(),
        max_upload: limits.max_upload,
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
                    kept.remove(&conference_id);
                    content.remove_prefix(&format!("{CONTENT_PATH}{conference_id}/"));
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
                Some(Io::Open(c, w, close, proof)) => {
                    writers.insert(c, w);
                    closers.insert(c, close);
                    unauthenticated.insert(c, (Instant::now(), proof));
                }
                Some(Io::Gone(c)) => {
                    writers.remove(&c);
                    early.remove(&c);
                    closers.remove(&c);
                    unauthenticated.remove(&c);
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
                                if let Some(k) = closers.get(&c) {
                                    k.notify_one();
                                }
                            }
                        }
                    }
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                // Not authenticated in time: closed (a partial record held open costs
                // nothing past this).
                let late: Vec<ConnId> = unauthenticated
                    .iter()
                    .filter(|(_, (t, _))| now.duration_since(*t) >= limits.auth_timeout)
                    .map(|(c, _)| *c)
                    .collect();
                for c in late {
                    tracing::debug!(conn = c, "PSOM connection not authenticated in time: closed");
                    unauthenticated.remove(&c);
                    if let Some(id) = routed.remove(&c) && let Some(s) = servers.get_mut(&id) {
                        s.disconnect(c);
                    }
                    early.remove(&c);
                    writers.remove(&c);
                    if let Some(k) = closers.get(&c) {
                        k.notify_one();
                    }
                }
                for s in servers.values_mut() {
                    if s.poll_timeout().is_some_and(|t| t <= now) {
                        s.handle_timeout(now);
                    }
                }
            }
        }
        // What the servers want done.
        for (id, s) in servers.iter_mut() {
            while let Ok(Some(t)) = s.poll_transmit(&mut out) {
                if let Some(w) = writers.get(&t.conn) {
                    let _ = w.send(out[..t.len].to_vec());
                }
            }
            while let Some(ev) = s.poll_event() {
                match ev {
                    ServerEvent::Joined { conn, user, role } => {
                        if let Some((_, proof)) = unauthenticated.remove(&conn) {
                            proof.proven();
                        }
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
                        // The conference's quota: files and bytes kept.
                        let conference = id.clone();
                        let k = kept.entry(conference.clone()).or_default();
                        if k.0 >= limits.max_files || k.1 + data.len() > limits.max_bytes {
                            tracing::warn!(%conference, %name, files = k.0, bytes = k.1, "web conference: content quota reached; not stored");
                            continue;
                        }
                        *k = (k.0 + 1, k.1 + data.len());
                        let mut iv = [0u8; 16];
                        rand::Rng::fill_bytes(&mut rng, &mut iv);
                        let path = url
                            .find(CONTENT_PATH)
                            .map(|i| url[i..].to_owned())
                            .unwrap_or_default();
                        let at = std::time::SystemTime::now()
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs());
                        match seal(&key, iv, &data).map(|sealed| content.put(&path, &sealed, at)) {
                            Some(Ok(())) => {
                                tracing::info!(%name, %url, bytes = data.len(), "web conference: content stored encrypted on disk");
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
    fn content_is_kept_on_disk_sealed_and_forgotten_with_its_conference() {
        let dir = std::env::temp_dir().join(format!("ocs-content-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let c = Content::new(dir.clone()).unwrap();
        let key = [9u8; 16];
        let sealed = seal(&key, [2; 16], b"the quarterly slides").unwrap();
        c.put("/content/CONF1/deck.pptx", &sealed, 1000).unwrap();
        c.put("/content/CONF2/other.png", &sealed, 1001).unwrap();
        let (got, at) = c.get("/content/CONF1/deck.pptx").unwrap();
        assert_eq!(
            (open(&key, &got).unwrap().as_slice(), at),
            (&b"the quarterly slides"[..], 1000)
        );
        // On disk: one file per path, sealed, the owner's only; no name from the network.
        let files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(files.len(), 2);
        use std::os::unix::fs::PermissionsExt as _;
        for f in &files {
            let bytes = std::fs::read(f.path()).unwrap();
            assert!(!bytes.windows(9).any(|w| w == b"quarterly"));
            assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
            assert_eq!(f.file_name().len(), 64, "named by a hash");
        }
        assert!(c.get("/content/../../etc/passwd").is_none());
        c.remove_prefix("/content/CONF1/");
        assert!(c.get("/content/CONF1/deck.pptx").is_none());
        assert!(c.get("/content/CONF2/other.png").is_some());
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        let _ = std::fs::remove_dir_all(&dir);
    }

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
