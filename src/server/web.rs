//! HTTP for the reference server, on `ocs-http-focus`'s sans-IO HTTP/1.1 connection:
//!
//! - the web listener: Address Book Server files at `/abs/handler/<file>` (GET and HEAD,
//!   strong ETags, `If-None-Match` / `If-Modified-Since` → 304, `Range` → 206, through
//!   [`crate::http::download::evaluate`]), and the A/V MCU's per-participant audio quality as
//!   JSON at `/av/quality`, and web-conference content (stored encrypted) at `/content/…`;
//! - the MCU listener: the in-process MCUs' C3P endpoints at `/LiveServer/<mcu-type>/`, each
//!   request handed to the SIP engine's task and answered with its C3P response;
//! - [`post_c3p`]: the focus's side, one POST over a fresh loopback connection.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};

use super::abs::Files;
use super::av::Reports;
use super::runtime::Input;
use crate::cccp::uri::McuType;
use crate::http::c3p::{C3pClient, C3pEndpoint, Incoming, Outcome, Reject, mcu_path};
use crate::http::download::{Reply, Resource, content_type_for, evaluate};
use crate::http::h1::{Connection, Event, Role};

/// The path prefix of the address-book files.
pub const ABS_PATH: &str = "/abs/handler/";
/// The A/V MCU's quality reports.
pub const QUALITY_PATH: &str = "/av/quality";
/// How long an idle HTTP connection is kept.
const IDLE: Duration = Duration::from_secs(30);

/// HTTP Digest (RFC 7616) for the address book and the quality reports, against the same
/// users as SIP: as OCS, whose Address Book Server download is authenticated with the user's
/// own credentials.
pub(super) struct WebAuth {
    digest: std::sync::Mutex<crate::sip::digest::DigestServer>,
    users: std::sync::Arc<dyn super::sip::Directory + Send + Sync>,
    realm: String,
    epoch: std::time::Instant,
}

impl WebAuth {
    pub(super) fn new(
        realm: &str,
        key: [u8; 32],
        users: std::sync::Arc<dyn super::sip::Directory + Send + Sync>,
    ) -> WebAuth {
        let epoch = std::time::Instant::now();
        WebAuth {
            digest: std::sync::Mutex::new(crate::sip::digest::DigestServer::new(
                realm,
                key,
                Duration::from_secs(300),
                epoch,
            )),
            users,
            realm: realm.to_owned(),
            epoch,
        }
    }

    /// The user the request's credentials prove, or the `WWW-Authenticate` value to answer
    /// `401` with.
    fn check(
        &self,
        method: &str,
        target: &str,
        authorization: Option<&[u8]>,
    ) -> Result<String, String> {
        use crate::sip::digest::{Algorithm, DigestError};
        let now = std::time::Instant::now().max(self.epoch);
        let Ok(mut d) = self.digest.lock() else {
            return Err(String::new());
        };
        let stale = match authorization
            .and_then(|a| std::str::from_utf8(a).ok())
            .map(crate::sip::headers::Auth::parse)
        {
            Some(Ok(a)) => {
                let (realm, users) = (&self.realm, &self.users);
                match d.verify_ha1(
                    now,
                    &a,
                    method,
                    |u| u == target,
                    |u, alg| users.digest_ha1(u, realm, alg),
                ) {
                    Ok(user) => return Ok(user),
                    Err(e) => {
                        tracing::warn!(error = %e, %target, "HTTP authentication failed");
                        matches!(e, DigestError::Stale)
                    }
                }
            }
            _ => false,
        };
        Err(d.challenge(now, Algorithm::Md5, stale))
    }
}

/// What a listener serves.
#[derive(Clone)]
pub(super) enum Site {
    /// Address-book files, the A/V MCU's reports, uploaded web-conference content (stored
    /// encrypted, by path); the first two behind HTTP Digest when authentication is on.
    Web(
        Files,
        Reports,
        super::webconf::Content,
        Option<std::sync::Arc<WebAuth>>,
        Scrape,
    ),
    /// The MCUs' C3P endpoints, served by the engine's task, for a focus that sends
    /// `Authorization: Bearer <this secret>`.
    Mcu(mpsc::Sender<Input>, std::sync::Arc<str>),
}

/// `/metrics`: the figures, and the token a scraper must send (none: loopback only).
#[derive(Clone)]
pub(super) struct Scrape {
    pub(super) metrics: std::sync::Arc<super::metrics::Metrics>,
    pub(super) token: Option<std::sync::Arc<str>>,
}

/// Where the metrics are served.
pub const METRICS_PATH: &str = "/metrics";

/// Accepts connections and serves each in a task.
pub(super) async fn listen(listener: TcpListener, site: Site) {
    loop {
        let Ok((stream, addr)) = listener.accept().await else {
            continue;
        };
        let site = site.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(stream, addr, site).await {
                tracing::debug!(%addr, error = %e, "HTTP connection ended");
            }
        });
    }
}

/// What to do once the current request is read.
enum Pending {
    None,
    /// `401` with this challenge.
    Unauthorized(String),
    File(Reply, Bytes, u64, &'static str),
    Mcu(Result<McuType, Reject>, C3pEndpoint),
}

async fn serve(mut stream: TcpStream, peer: SocketAddr, site: Site) -> std::io::Result<()> {
    let mut conn = Connection::new(Role::Server);
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::new();
    let mut pending = Pending::None;
    loop {
        // Everything the bytes so far give.
        loop {
            let mut incoming = None;
            let mut ended = false;
            match conn.next_event() {
                Ok(Event::Request(head)) => {
                    let path = head.target.split('?').next().unwrap_or("");
                    let protected = path == QUALITY_PATH || path.starts_with(ABS_PATH);
                    let denied = match &site {
                        Site::Web(_, _, _, Some(auth), _) if protected => auth
                            .check(head.method, head.target, head.headers.get("authorization"))
                            .err(),
                        _ => None,
                    };
                    pending = match &site {
                        _ if denied.is_some() => Pending::Unauthorized(denied.unwrap_or_default()),
                        Site::Web(.., scrape) if path == METRICS_PATH => {
                            let allowed = match &scrape.token {
                                Some(t) => bearer_is(head.headers.get("authorization"), t),
                                None => peer.ip().is_loopback(),
                            };
                            if allowed {
                                let text = Bytes::from(scrape.metrics.render());
                                let ct = "text/plain; version=0.0.4";
                                let reply = evaluate(&head, &Resource::new(&text, 0, ct));
                                Pending::File(reply, text, 0, ct)
                            } else {
                                tracing::warn!(%peer, "/metrics refused");
                                Pending::Unauthorized("Bearer realm=\"ocs-metrics\"".into())
                            }
                        }
                        Site::Web(_, _, content, _, _)
                            if head.target.starts_with(super::webconf::CONTENT_PATH) =>
                        {
                            let path = head.target.split('?').next().unwrap_or("");
                            match content.get(path) {
                                Some((body, at)) => {
                                    let ct = "application/octet-stream";
                                    let reply = evaluate(&head, &Resource::new(&body, at, ct));
                                    Pending::File(reply, body, at, ct)
                                }
                                None => Pending::None,
                            }
                        }
                        Site::Web(_, reports, _, _, _)
                            if head.target.split('?').next() == Some(QUALITY_PATH) =>
                        {
                            let json = Bytes::from(quality_json(reports));
                            let reply =
                                evaluate(&head, &Resource::new(&json, 0, "application/json"));
                            Pending::File(reply, json, 0, "application/json")
                        }
                        Site::Web(files, ..) => {
                            let path = head.target.split('?').next().unwrap_or("");
                            let name = path.strip_prefix(ABS_PATH).unwrap_or("");
                            let file = (!name.is_empty() && !name.contains('/'))
                                .then(|| {
                                    files.read().ok()?.get(&name.to_ascii_lowercase()).cloned()
                                })
                                .flatten();
                            match file {
                                Some((body, at)) => {
                                    let ct = content_type_for(name);
                                    let reply = evaluate(&head, &Resource::new(&body, at, ct));
                                    Pending::File(reply, body, at, ct)
                                }
                                None => Pending::None,
                            }
                        }
                        Site::Mcu(_, secret)
                            if !bearer_is(head.headers.get("authorization"), secret) =>
                        {
                            tracing::warn!(target = %head.target, "C3P to the MCU listener without its secret");
                            Pending::Unauthorized("Bearer realm=\"ocs-mcu\"".into())
                        }
                        Site::Mcu(..) => {
                            let path = head.target.split('?').next().unwrap_or("");
                            let t = path
                                .strip_prefix("/LiveServer/")
                                .and_then(|p| p.strip_suffix('/'))
                                .map(McuType::parse)
                                .filter(|t| !matches!(t, McuType::Other(_)))
                                .ok_or(Reject::NotFound);
                            let mut ep = C3pEndpoint::new(path);
                            let _ = ep.on_event(&Event::Request(head));
                            Pending::Mcu(t, ep)
                        }
                    };
                }
                Ok(ev @ Event::Data(_)) => {
                    if let Pending::Mcu(_, ep) = &mut pending {
                        let _ = ep.on_event(&ev);
                    }
                }
                Ok(ev @ Event::EndOfMessage(_)) => {
                    if let Pending::Mcu(_, ep) = &mut pending {
                        incoming = ep.on_event(&ev);
                    }
                    ended = true;
                }
                Ok(Event::NeedData) => break,
                Ok(Event::Paused | Event::ConnectionClosed) => {
                    if conn.must_close() || conn.their_state() == crate::http::h1::State::Closed {
                        stream.write_all(&out).await?;
                        return Ok(());
                    }
                    break;
                }
                Ok(_) => {}
                Err(e) => {
                    let status = e.status();
                    let _ = conn.send_response(
                        status,
                        "Bad Request",
                        [("content-length", "0"), ("connection", "close")],
                        &mut out,
                    );
                    let _ = conn.send_end_of_message(&[] as &[(&str, &str)], &mut out);
                    stream.write_all(&out).await?;
                    return Ok(());
                }
            }
            if !ended {
                continue;
            }
            match std::mem::replace(&mut pending, Pending::None) {
                Pending::File(reply, body, at, ct) => {
                    let res = Resource::new(&body, at, ct);
                    reply
                        .send(&mut conn, &res, &mut out)
                        .map_err(std::io::Error::other)?;
                }
                Pending::Unauthorized(challenge) => {
                    conn.send_response(
                        401,
                        "Unauthorized",
                        [
                            ("www-authenticate", challenge.as_str()),
                            ("content-length", "0"),
                        ],
                        &mut out,
                    )
                    .map_err(std::io::Error::other)?;
                    conn.send_end_of_message(&[] as &[(&str, &str)], &mut out)
                        .map_err(std::io::Error::other)?;
                }
                Pending::None => {
                    conn.send_response(404, "Not Found", [("content-length", "0")], &mut out)
                        .map_err(std::io::Error::other)?;
                    conn.send_end_of_message(&[] as &[(&str, &str)], &mut out)
                        .map_err(std::io::Error::other)?;
                }
                Pending::Mcu(t, _) => {
                    let answer = match (t, incoming, &site) {
                        (Err(r), _, _) | (_, Some(Incoming::Rejected(r)), _) => Err(r),
                        (Ok(t), Some(Incoming::Request(body)), Site::Mcu(tx, _)) => {
                            let (reply, rx) = oneshot::channel();
                            let sent = tx
                                .send(Input::Mcu {
                                    mcu: t,
                                    body,
                                    reply,
                                })
                                .await;
                            match (sent, rx.await) {
                                (Ok(()), Ok(Some(c3p))) => Ok(c3p),
                                _ => Err(Reject::UnsupportedMediaType),
                            }
                        }
                        _ => Err(Reject::NotFound),
                    };
                    match answer {
                        Ok(c3p) => C3pEndpoint::respond(&mut conn, &c3p, &mut out),
                        Err(r) => C3pEndpoint::reject(&mut conn, r, &mut out),
                    }
                    .map_err(std::io::Error::other)?;
                }
            }
            stream.write_all(&out).await?;
            out.clear();
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
        match tokio::time::timeout(IDLE, stream.read(&mut buf)).await {
            Ok(Ok(0)) => conn.receive_eof(),
            Ok(Ok(n)) => conn.receive_data(&buf[..n]),
            Ok(Err(e)) => return Err(e),
            Err(_) => return Ok(()),
        }
    }
}

/// Whether an `Authorization` value is `Bearer <secret>` (compared in constant time).
fn bearer_is(value: Option<&[u8]>, secret: &str) -> bool {
    let Some(given) = value.and_then(|v| v.strip_prefix(b"Bearer ")) else {
        return false;
    };
    let want = secret.as_bytes();
    given.len() == want.len()
        && given
            .iter()
            .zip(want)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// POSTs one C3P request to the MCU of type `mcu` at `addr` (with `Authorization: Bearer
/// <secret>` when given) and returns the C3P response document; `None` when the exchange
/// fails or takes longer than `timeout`.
pub async fn post_c3p(
    addr: SocketAddr,
    mcu: &McuType,
    body: &[u8],
    secret: Option<&str>,
    timeout: Duration,
) -> Option<Vec<u8>> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await.ok()?;
        let mut conn = Connection::new(Role::Client);
        let mut client = C3pClient::new(&addr.to_string(), &mcu_path(mcu.as_str()));
        if let Some(s) = secret {
            client = client.authorization(&format!("Bearer {s}"));
        }
        let mut out = Vec::new();
        client.send(&mut conn, body, &mut out).ok()?;
        stream.write_all(&out).await.ok()?;
        let mut reader = client.reader();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            loop {
                match conn.next_event() {
                    Ok(Event::NeedData) => break,
                    Ok(ev) => match reader.on_event(&ev) {
                        Some(Outcome::Response(c3p)) => return Some(c3p),
                        Some(Outcome::Failed(f)) => {
                            tracing::warn!(failure = ?f, mcu = mcu.as_str(), "C3P to the MCU failed");
                            return None;
                        }
                        None => {
                            if matches!(ev, Event::ConnectionClosed) {
                                return None;
                            }
                        }
                    },
                    Err(_) => return None,
                }
            }
            match stream.read(&mut buf).await.ok()? {
                0 => conn.receive_eof(),
                n => conn.receive_data(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(timeout, exchange).await.ok().flatten()
}

/// The MCU's answer for the focus task, typed for [`Input::McuAnswer`].
pub(super) fn answer(id: u64, c3p: Option<Vec<u8>>) -> Input {
    Input::McuAnswer {
        id,
        c3p: c3p.map(Bytes::from),
    }
}

/// The reports as JSON: `{ "<conference>": [ { "user", "leg", "ssrc", "received", "lost",
/// "loss_percent", "jitter_ms", "rtt_ms", "mos", "relayed", "late", "ice": null | {
/// "selected", "selected_rtcp", "answers", "consent" } } ] }`.
fn quality_json(reports: &Reports) -> Vec<u8> {
    let mut out = serde_json::Map::new();
    if let Ok(r) = reports.lock() {
        for (conf, rows) in r.iter() {
            let rows: Vec<serde_json::Value> = rows
                .iter()
                .map(|row| {
                    let (user, r) = (&row.user, &row.report);
                    let q = r.quality.as_ref();
                    let ice = row.ice.map(|i| {
                        serde_json::json!({
                            "selected": i.selected.map(|a| a.to_string()),
                            "selected_rtcp": i.selected_rtcp.map(|a| a.to_string()),
                            "answers": i.answers,
                            "consent": i.consent,
                        })
                    });
                    serde_json::json!({
                        "user": user,
                        "leg": r.leg,
                        "ssrc": r.ssrc,
                        "received": r.received,
                        "lost": r.lost,
                        "loss_percent": q.map(|q| q.loss_percent),
                        "jitter_ms": q.map(|q| q.jitter.as_secs_f64() * 1000.0),
                        "rtt_ms": q.and_then(|q| q.rtt).map(|t| t.as_secs_f64() * 1000.0),
                        "mos": q.map(|q| q.mos),
                        "relayed": r.relayed,
                        "late": r.late,
                        "ice": ice,
                    })
                })
                .collect();
            out.insert(conf.clone(), serde_json::Value::Array(rows));
        }
    }
    serde_json::to_vec_pretty(&serde_json::Value::Object(out)).unwrap_or_default()
}
