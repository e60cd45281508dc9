//! Small clients of the reference server built from the protocol crates, shared by `ocs demo`,
//! the server's socket tests and the examples: a SIP user agent on one TCP connection
//! ([`UserAgent`]: requests out one at a time, C3P in SIP, incoming requests answered and kept)
//! a one-shot HTTP GET ([`http_get`]) on `ocs-http-focus`'s connection, and a PSOM session
//! over TLS with the web-conferencing MCU ([`PsomSession`]).
//!
//! ```no_run
//! # async fn run(server: std::net::SocketAddr) -> Result<(), ocs_stack::client::Fail> {
//! use ocs_stack::client::UserAgent;
//! let mut alice = UserAgent::connect(server, "alice").await?;
//! let ok = alice
//!     .request("OPTIONS", "sip:contoso.com", "ping-1", None, &[], None)
//!     .await?;
//! assert_eq!(ok.status(), Some(200));
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use crate::cccp::info::Endpoint;
use crate::cccp::message::{Body, Request, Response};
use crate::http::h1::{Connection, Event, Role as HttpRole};
use crate::sip::sipae::SecurityAssociation;
use crate::sip::stream::{Frame, Status, StreamDecoder};
use crate::sip::{HeaderName, Message};

/// What a client step fails with: any error, with its message.
pub type Fail = Box<dyn std::error::Error + Send + Sync>;

/// The [MS-SIPAE] association of a signed-in client, shared with its reader task.
type Shared = Arc<Mutex<Option<SecurityAssociation>>>;

/// Signs `bytes` (a whole message) with the association, if there is one: `Authorization`
/// with `crand`, `cnum` and `response` ([MS-SIPAE] 3.2.5.1).
fn sign(sa: &Shared, bytes: Vec<u8>, salt: u32) -> Vec<u8> {
    let Ok(mut guard) = sa.lock() else {
        return bytes;
    };
    let Some(sa) = guard.as_mut() else {
        return bytes;
    };
    let Ok(m) = Message::parse(Bytes::from(bytes.clone())) else {
        return bytes;
    };
    match sa.sign(&m, salt).and_then(|v| {
        m.with_header("Authorization", &v)
            .map_err(crate::sip::sipae::SipaeError::Message)
    }) {
        Ok(signed) => signed.to_vec(),
        Err(_) => bytes,
    }
}

/// Checks the server's `rspauth` on `m`; counts a message that is not properly signed.
fn check(sa: &Shared, m: &Message, unsigned: &AtomicUsize) {
    if let Ok(mut guard) = sa.lock()
        && let Some(sa) = guard.as_mut()
        && !matches!(m.status(), Some(100 | 401 | 407))
        && sa.verify(m).is_err()
    {
        unsigned.fetch_add(1, Ordering::Relaxed);
    }
}

/// A SIP user agent on one TCP connection: requests out one at a time, requests in answered
/// 200 (BENOTIFY and ACK not answered) and kept. Once [`UserAgent::set_association`] gives it
/// the [MS-SIPAE] association of its NTLM sign-in, it signs everything it sends and checks the
/// server's signature on everything it receives.
pub struct UserAgent {
    /// The user part of its address of record (`sip:<user>@contoso.com`).
    pub user: &'static str,
    local: SocketAddr,
    wr: Arc<tokio::sync::Mutex<OwnedWriteHalf>>,
    responses: mpsc::UnboundedReceiver<Message>,
    inbox: Arc<Mutex<Vec<Message>>>,
    cseq: u32,
    sa: Shared,
    unsigned: Arc<AtomicUsize>,
}

impl UserAgent {
    /// Connects to the server over TCP; the reader task answers incoming requests.
    ///
    /// # Errors
    /// The connection failed.
    pub async fn connect(server: SocketAddr, user: &'static str) -> Result<UserAgent, Fail> {
        let tcp = TcpStream::connect(server).await?;
        let local = tcp.local_addr()?;
        let (mut rd, wr) = tcp.into_split();
        let wr = Arc::new(tokio::sync::Mutex::new(wr));
        let (tx, responses) = mpsc::unbounded_channel();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let sa: Shared = Arc::new(Mutex::new(None));
        let unsigned = Arc::new(AtomicUsize::new(0));
        let (w2, in2, sa2, bad2) = (wr.clone(), inbox.clone(), sa.clone(), unsigned.clone());
        tokio::spawn(async move {
            let mut salt = 0x5eed_u32;
            let dec = StreamDecoder::default();
            let mut buf = BytesMut::with_capacity(16 * 1024);
            loop {
                match rd.read_buf(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                loop {
                    let data = Bytes::copy_from_slice(&buf);
                    let Ok(Status::Complete(frame, used)) = dec.decode(&data) else {
                        break;
                    };
                    let _ = buf.split_to(used);
                    let Frame::Message(m) = frame else { continue };
                    check(&sa2, &m, &bad2);
                    if !m.is_request() {
                        let _ = tx.send(m);
                        continue;
                    }
                    let method = m.method().unwrap_or_default();
                    if method != "BENOTIFY"
                        && method != "ACK"
                        && let Ok(ok) = m.response(200, "OK", "").build()
                    {
                        salt = salt.wrapping_mul(747_796_405).wrapping_add(2_891_336_453);
                        let signed = sign(&sa2, ok.to_vec(), salt);
                        let _ = w2.lock().await.write_all(&signed).await;
                    }
                    if let Ok(mut i) = in2.lock() {
                        i.push(m);
                    }
                }
            }
        });
        Ok(UserAgent {
            user,
            local,
            wr,
            responses,
            inbox,
            cseq: 0,
            sa,
            unsigned,
        })
    }

    /// From now on, signs with the association of its NTLM sign-in and checks the server's
    /// signatures.
    pub fn set_association(&mut self, sa: SecurityAssociation) {
        if let Ok(mut g) = self.sa.lock() {
            *g = Some(sa);
        }
    }

    /// How many messages from the server, since the association was set, were not signed by
    /// it (or not correctly).
    #[must_use]
    pub fn unsigned_received(&self) -> usize {
        self.unsigned.load(Ordering::Relaxed)
    }

    /// Its address of record.
    #[must_use]
    pub fn aor(&self) -> String {
        format!("sip:{}@contoso.com", self.user)
    }

    /// Sends a request; returns its final response (an INVITE's 2xx is ACKed).
    ///
    /// # Errors
    /// The connection failed or closed, or no final response within 15 s.
    pub async fn request(
        &mut self,
        method: &str,
        uri: &str,
        call: &str,
        to_tag: Option<&str>,
        headers: &[(&str, String)],
        body: Option<(&str, &[u8])>,
    ) -> Result<Message, Fail> {
        self.cseq += 1;
        let (u, local, c) = (self.user, self.local, self.cseq);
        let to_uri = if method == "REGISTER" {
            self.aor()
        } else {
            uri.to_owned()
        };
        let to = to_tag.map_or(format!("<{to_uri}>"), |t| format!("<{to_uri}>;tag={t}"));
        let mut head = format!(
            "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{call}x{c}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{u}@contoso.com>;tag={u}{call}\r\nTo: {to}\r\n\
             Call-ID: {call}\r\nCSeq: {c} {method}\r\n\
             Contact: <sip:{u}@{local};transport=tcp>\r\n"
        );
        for (n, v) in headers {
            head.push_str(&format!("{n}: {v}\r\n"));
        }
        let body = body.unwrap_or(("", b""));
        if !body.1.is_empty() {
            head.push_str(&format!("Content-Type: {}\r\n", body.0));
        }
        head.push_str(&format!("Content-Length: {}\r\n\r\n", body.1.len()));
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.1);
        let bytes = sign(&self.sa, bytes, c.wrapping_mul(2_654_435_761));
        self.wr.lock().await.write_all(&bytes).await?;
        loop {
            let r = tokio::time::timeout(Duration::from_secs(15), self.responses.recv())
                .await
                .map_err(|_| format!("{method} {uri}: no answer"))?
                .ok_or("the server closed the connection")?;
            if r.status().unwrap_or(0) < 200 {
                continue;
            }
            if method == "INVITE" && (200..300).contains(&r.status().unwrap_or(0)) {
                let to = r
                    .header(HeaderName::To)
                    .map(|h| h.value)
                    .unwrap_or_default();
                let ack = format!(
                    "ACK {uri} SIP/2.0\r\nVia: SIP/2.0/TCP {local};branch=z9hG4bK{call}a{c}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:{u}@contoso.com>;tag={u}{call}\r\nTo: {to}\r\n\
                     Call-ID: {call}\r\nCSeq: {c} ACK\r\nContent-Length: 0\r\n\r\n"
                );
                let ack = sign(&self.sa, ack.into_bytes(), c.wrapping_mul(40_503));
                self.wr.lock().await.write_all(&ack).await?;
            }
            return Ok(r);
        }
    }

    /// A C3P request in SIP: the SIP response and the C3P response in it.
    ///
    /// # Errors
    /// As [`UserAgent::request`], or a response without a C3P body.
    pub async fn c3p(
        &mut self,
        method: &str,
        uri: &str,
        call: &str,
        to_tag: Option<&str>,
        body: Body,
        mcu: Option<&str>,
    ) -> Result<(Message, Response), Fail> {
        let mut r = Request::new(u64::from(self.cseq) + 1, self.aor(), uri, body);
        r.command.mcu_uri = mcu.map(Into::into);
        let bytes = r.to_bytes();
        let sip = self
            .request(
                method,
                uri,
                call,
                to_tag,
                &[],
                Some((crate::server::sip::C3P, &bytes)),
            )
            .await?;
        let c3p = Response::parse(Bytes::copy_from_slice(sip.body())).map_err(|e| {
            format!(
                "{method} {uri}: {} without C3P: {e}",
                sip.status().unwrap_or(0)
            )
        })?;
        Ok((sip, c3p))
    }

    /// Requests received so far that match `f`, taken out of the inbox.
    #[must_use]
    pub fn take(&self, f: impl Fn(&Message) -> bool) -> Vec<Message> {
        let Ok(mut i) = self.inbox.lock() else {
            return Vec::new();
        };
        let (got, keep): (Vec<_>, Vec<_>) = i.drain(..).partition(|m| f(m));
        *i = keep;
        got
    }

    /// Waits until a request matching `f` arrives (6 s at most).
    ///
    /// # Errors
    /// It did not come.
    pub async fn wait_for(&self, f: impl Fn(&Message) -> bool + Copy) -> Result<Message, Fail> {
        for _ in 0..300 {
            if let Some(m) = self.take(f).into_iter().next() {
                return Ok(m);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Err(format!("{}: the expected request did not come", self.user).into())
    }
}

/// The To tag of a message.
///
/// # Errors
/// No To header, or no tag.
pub fn to_tag(m: &Message) -> Result<String, Fail> {
    Ok(m.to()?.tag().ok_or("no To tag")?.to_owned())
}

/// [`http_get`] as `login` (user, password): a `401` with a Digest challenge (RFC 7616) is
/// answered once with the credentials, over a fresh connection.
///
/// # Errors
/// As [`http_get`], or a challenge that does not parse.
pub async fn http_get_as(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
    login: (&str, &str),
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), Fail> {
    let first = http_get(addr, path, extra).await?;
    if first.0 != 401 {
        return Ok(first);
    }
    let www = first
        .1
        .iter()
        .find(|(n, v)| n == "www-authenticate" && v.starts_with("Digest"))
        .map(|(_, v)| v.clone())
        .ok_or("401 without a Digest challenge")?;
    let ch = crate::sip::digest::Challenge::from_auth(&crate::sip::headers::Auth::parse(&www)?)?;
    let cnonce = format!("{:016x}", std::process::id() as u64 ^ 0x9e37_79b9_7f4a_7c15);
    let auth = ch.authorization(login.0, login.1, "GET", path, &cnonce, 1);
    let mut with: Vec<(&str, &str)> = extra.to_vec();
    with.push(("authorization", auth.as_str()));
    http_get(addr, path, &with).await
}

/// One HTTP GET over a fresh connection: status, header fields, body.
///
/// # Errors
/// The connection failed or closed before the response ended, or HTTP was broken.
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    extra: &[(&str, &str)],
) -> Result<(u16, Vec<(String, String)>, Vec<u8>), Fail> {
    let mut tcp = TcpStream::connect(addr).await?;
    let mut conn = Connection::new(HttpRole::Client);
    let mut out = Vec::new();
    let host = addr.to_string();
    let mut fields: Vec<(&str, &str)> = vec![("host", host.as_str())];
    fields.extend_from_slice(extra);
    conn.send_request("GET", path, fields, &mut out)?;
    conn.send_end_of_message(&[] as &[(&str, &str)], &mut out)?;
    tcp.write_all(&out).await?;
    let (mut status, mut headers, mut body) = (0, Vec::new(), Vec::new());
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        loop {
            match conn.next_event()? {
                Event::Response(h) => {
                    status = h.status;
                    headers = h
                        .headers
                        .iter()
                        .map(|(n, v)| {
                            (
                                n.to_ascii_lowercase(),
                                String::from_utf8_lossy(v).into_owned(),
                            )
                        })
                        .collect();
                }
                Event::Data(d) => body.extend_from_slice(d),
                Event::EndOfMessage(_) => return Ok((status, headers, body)),
                Event::NeedData => break,
                Event::ConnectionClosed => return Err("connection closed".into()),
                _ => {}
            }
        }
        let n = tcp.read(&mut buf).await?;
        if n == 0 {
            conn.receive_eof();
        } else {
            conn.receive_data(&buf[..n]);
        }
    }
}

/// A PSOM client on a TLS connection to the web-conferencing MCU.
pub struct PsomSession {
    /// The TLS connection.
    pub tls: tokio_rustls::client::TlsStream<TcpStream>,
    /// The sans-IO PSOM client.
    pub client: crate::psom::client::Client,
}

impl PsomSession {
    /// Connects with the credentials of an addUser answer's `connection-info`, trusting the
    /// server's certificate (`cert_pem`, what it generated in its data directory).
    ///
    /// # Errors
    /// Missing or malformed credentials, a TLS or PSOM failure.
    pub async fn connect(
        endpoint: &Endpoint,
        cert_pem: &[u8],
        name: &str,
    ) -> Result<PsomSession, Fail> {
        use base64::Engine as _;
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, ServerName};
        let get = |k: &str| -> Result<String, Fail> {
            Ok(endpoint
                .connection_value(k)
                .ok_or_else(|| format!("no {k} in connection-info"))?
                .to_string())
        };
        let addr: SocketAddr = get("Mcu-Server-Uri")?
            .strip_prefix("psom://")
            .ok_or("Mcu-Server-Uri is not psom://")?
            .parse()?;
        let creds = crate::psom::client::Credentials {
            conference_id: get("sConferenceId")?,
            auth_id: get("sAuthId")?,
            key: base64::engine::general_purpose::STANDARD.decode(get("sKey")?)?,
            name: name.to_owned(),
        };
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(cert_pem) {
            roots.add(c?)?;
        }
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from("localhost")?, tcp)
            .await?;
        let mut p = PsomSession {
            tls,
            client: crate::psom::client::Client::new(Instant::now(), creds),
        };
        p.until(|c, _| c.joined()).await?;
        Ok(p)
    }

    /// Runs the connection until `done` says so; the events seen on the way.
    ///
    /// # Errors
    /// The connection closed or failed, PSOM broke, or 10 s passed without a byte.
    pub async fn until(
        &mut self,
        done: impl Fn(&crate::psom::client::Client, &[crate::psom::client::ClientEvent]) -> bool,
    ) -> Result<Vec<crate::psom::client::ClientEvent>, Fail> {
        let mut events = Vec::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            while let Ok(Some(n)) = self.client.poll_transmit(&mut buf) {
                self.tls.write_all(&buf[..n]).await?;
            }
            events.extend(std::iter::from_fn(|| self.client.poll_event()));
            if done(&self.client, &events) {
                return Ok(events);
            }
            let n = tokio::time::timeout(Duration::from_secs(10), self.tls.read(&mut buf))
                .await
                .map_err(|_| "PSOM: no answer")??;
            if n == 0 {
                return Err("PSOM: the server closed the connection".into());
            }
            self.client.handle_input(Instant::now(), &buf[..n])?;
        }
    }

    /// One call and its results.
    ///
    /// # Errors
    /// As [`PsomSession::until`], or the action was refused.
    pub async fn call(
        &mut self,
        action: crate::psom::client::Action,
    ) -> Result<Vec<crate::psom::value::Value>, Fail> {
        use crate::psom::client::ClientEvent;
        let id = self.client.call(action)?;
        let events = self
            .until(|_, ev| {
                ev.iter().any(|e| {
                    matches!(e, ClientEvent::Done { call, .. } | ClientEvent::Refused { call, .. } if *call == id)
                })
            })
            .await?;
        for e in events {
            match e {
                ClientEvent::Done { call, results } if call == id => return Ok(results),
                ClientEvent::Refused { call, refusal } if call == id => {
                    return Err(format!("PSOM call refused: {refusal:?}").into());
                }
                _ => {}
            }
        }
        Err("PSOM: no result".into())
    }
}
