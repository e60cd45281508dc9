//! C3P over HTTP between the Focus and the conferencing servers (MCUs).
//!
//! OCS 2007 carries C3P from the Focus to the MCU Factory and to each MCU over HTTPS (TCP 444,
//! mutual TLS) — [MS-CONFBAS] 1.4 and the OCS 2007 deployment documents name the leg ("HTTPS,
//! C3P") and the port, and OCS deployments show the MCU Factory at
//! `https://<pool>:444/LiveServer/MCUFactory/`. Nothing public says more, so the rest is
//! **this crate's choice**, kept as plain as the SIP leg:
//!
//! - `POST` of one C3P `request` document, `Content-Type: application/cccp+xml` (the SIP body
//!   type, [MS-CONFBAS] 2.2.1), `Accept: application/cccp+xml`, always with Content-Length;
//! - the C3P `response` document as the body of a `200` with the same Content-Type — a C3P
//!   failure is still a `200`, its `code="failure"` says so;
//! - the MCU Factory at [`MCU_FACTORY_PATH`], each MCU at `/LiveServer/<mcu-type>/`
//!   ([`mcu_path`]);
//! - HTTP failures mapped as [`Failure`] says, so the Focus knows whether to try another MCU.
//!
//! TLS is the embedder's: these helpers see the plain HTTP/1.1 bytes.
//!
//! ```
//! use ocs_http_focus::c3p::{C3pClient, C3pEndpoint, Incoming, Outcome};
//! use ocs_http_focus::h1::{Connection, Role};
//!
//! let (mut focus, mut mcu) = (Connection::new(Role::Client), Connection::new(Role::Server));
//! let client = C3pClient::new("pool.contoso.com:444", "/LiveServer/MCUFactory/");
//! let mut wire = Vec::new();
//! client.send(&mut focus, b"<request/>", &mut wire).unwrap();
//!
//! mcu.receive_data(&wire);
//! let mut endpoint = C3pEndpoint::new("/LiveServer/MCUFactory/");
//! let mut got = None;
//! while got.is_none() {
//!     got = endpoint.on_event(&mcu.next_event().unwrap());
//! }
//! assert_eq!(got, Some(Incoming::Request(b"<request/>".to_vec())));
//! let mut answer = Vec::new();
//! C3pEndpoint::respond(&mut mcu, b"<response/>", &mut answer).unwrap();
//!
//! focus.receive_data(&answer);
//! let mut reader = client.reader();
//! let mut outcome = None;
//! while outcome.is_none() {
//!     outcome = reader.on_event(&focus.next_event().unwrap());
//! }
//! assert_eq!(outcome, Some(Outcome::Response(b"<response/>".to_vec())));
//! ```

use crate::h1::{Connection, Event, RequestHead, SendError, decimal};

/// The media type of C3P documents, on SIP and on HTTP.
pub const CONTENT_TYPE: &str = "application/cccp+xml";
/// The MCU Factory's path (seen in OCS 2007 deployments).
pub const MCU_FACTORY_PATH: &str = "/LiveServer/MCUFactory/";
/// The port of the Focus–MCU leg (OCS 2007 port tables).
pub const DEFAULT_PORT: u16 = 444;
/// Largest C3P document accepted by default (a conference-info of a large meeting is a few
/// hundred kilobytes).
pub const DEFAULT_MAX_BODY: usize = 4 << 20;

/// The C3P path of an MCU of this type (`audio-video`, `chat`, `meeting`, `phone-conf`...):
/// our choice, `/LiveServer/<type>/`.
#[must_use]
pub fn mcu_path(mcu_type: &str) -> String {
    format!("/LiveServer/{mcu_type}/")
}

/// Why a C3P exchange over HTTP failed, and what the Focus should do (our mapping).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// 408, 429, 503, 504: the MCU is busy or unreachable for now; try another MCU, or this
    /// one after `retry_after` seconds.
    Unavailable {
        /// The status.
        status: u16,
        /// Retry-After in seconds, if given as a number.
        retry_after: Option<u32>,
    },
    /// 400, 413, 415: the MCU refused the request itself; retrying elsewhere will not help.
    Rejected {
        /// The status.
        status: u16,
    },
    /// 401, 403: the MCU does not trust this Focus (mutual TLS, configuration).
    Forbidden {
        /// The status.
        status: u16,
    },
    /// 404, 405: not a C3P endpoint at this URL.
    NotFound {
        /// The status.
        status: u16,
    },
    /// Any other status: the MCU failed.
    Failed {
        /// The status.
        status: u16,
    },
    /// A 200 whose body is not C3P, or a C3P body over the limit.
    NotC3p,
}

impl Failure {
    /// Whether another MCU (or a later retry) may succeed.
    #[must_use]
    pub fn retryable(&self) -> bool {
        matches!(self, Failure::Unavailable { .. } | Failure::Failed { .. })
    }

    fn of(status: u16, retry_after: Option<u32>) -> Failure {
        match status {
            408 | 429 | 503 | 504 => Failure::Unavailable {
                status,
                retry_after,
            },
            400 | 413 | 415 => Failure::Rejected { status },
            401 | 403 => Failure::Forbidden { status },
            404 | 405 => Failure::NotFound { status },
            _ => Failure::Failed { status },
        }
    }
}

/// The end of one C3P exchange, seen from the Focus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The C3P response document.
    Response(Vec<u8>),
    /// No C3P response.
    Failed(Failure),
}

/// The Focus side: sends C3P requests to one MCU URL.
#[derive(Debug, Clone)]
pub struct C3pClient {
    host: String,
    path: String,
    max_body: usize,
    authorization: Option<String>,
}

impl C3pClient {
    /// A client for `https://<host><path>` (`host` with its port).
    #[must_use]
    pub fn new(host: &str, path: &str) -> C3pClient {
        C3pClient {
            host: host.to_owned(),
            path: path.to_owned(),
            max_body: DEFAULT_MAX_BODY,
            authorization: None,
        }
    }

    /// Sends `Authorization: <value>` with each request (a focus proving itself to an MCU
    /// elsewhere, e.g. `Bearer <shared secret>`).
    ///
    /// ```
    /// use ocs_http_focus::c3p::C3pClient;
    /// use ocs_http_focus::h1::{Connection, Event, Role};
    /// let client = C3pClient::new("mcu:444", "/LiveServer/chat/").authorization("Bearer s3cr3t");
    /// let (mut focus, mut mcu) = (Connection::new(Role::Client), Connection::new(Role::Server));
    /// let mut wire = Vec::new();
    /// client.send(&mut focus, b"<request/>", &mut wire).unwrap();
    /// mcu.receive_data(&wire);
    /// let Event::Request(head) = mcu.next_event().unwrap() else { panic!() };
    /// assert_eq!(head.headers.get("authorization"), Some(&b"Bearer s3cr3t"[..]));
    /// ```
    #[must_use]
    pub fn authorization(mut self, value: &str) -> C3pClient {
        self.authorization = Some(value.to_owned());
        self
    }

    /// Sets the largest response document accepted.
    #[must_use]
    pub fn max_body(mut self, max: usize) -> C3pClient {
        self.max_body = max;
        self
    }

    /// Writes the whole POST carrying `c3p` (a C3P request document).
    ///
    /// # Errors
    /// The connection cannot send a request now.
    pub fn send(
        &self,
        conn: &mut Connection,
        c3p: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let mut digits = [0; 20];
        let headers: [(&str, &[u8]); 4] = [
            ("host", self.host.as_bytes()),
            ("content-type", CONTENT_TYPE.as_bytes()),
            ("accept", CONTENT_TYPE.as_bytes()),
            ("content-length", decimal(c3p.len() as u64, &mut digits)),
        ];
        let auth = self
            .authorization
            .as_deref()
            .map(|a| ("authorization", a.as_bytes()));
        conn.send_request("POST", &self.path, headers.into_iter().chain(auth), out)?;
        conn.send_data(c3p, out)?;
        conn.send_end_of_message(&[] as &[(&str, &str)], out)
    }

    /// A reader for the response to the last request sent.
    #[must_use]
    pub fn reader(&self) -> ResponseReader {
        ResponseReader {
            max_body: self.max_body,
            status: 0,
            retry_after: None,
            c3p: false,
            body: Vec::new(),
            over: false,
        }
    }
}

/// Collects the response to one C3P request from the connection's events.
#[derive(Debug, Clone)]
pub struct ResponseReader {
    max_body: usize,
    status: u16,
    retry_after: Option<u32>,
    c3p: bool,
    body: Vec<u8>,
    over: bool,
}

impl ResponseReader {
    /// Feeds one event; returns the outcome at the end of the response.
    pub fn on_event(&mut self, event: &Event<'_>) -> Option<Outcome> {
        match event {
            Event::Response(head) => {
                self.status = head.status;
                self.retry_after = head
                    .headers
                    .get("retry-after")
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.trim().parse().ok());
                self.c3p = head.headers.get("content-type").is_some_and(is_c3p);
                None
            }
            Event::Data(d) => {
                if self.body.len() + d.len() > self.max_body {
                    self.over = true;
                } else if !self.over {
                    self.body.extend_from_slice(d);
                }
                None
            }
            Event::EndOfMessage(_) => Some(match self.status {
                200 if self.c3p && !self.over => Outcome::Response(std::mem::take(&mut self.body)),
                200 => Outcome::Failed(Failure::NotC3p),
                s => Outcome::Failed(Failure::of(s, self.retry_after)),
            }),
            _ => None,
        }
    }
}

fn is_c3p(content_type: &[u8]) -> bool {
    let media = content_type.split(|&b| b == b';').next().unwrap_or(&[]);
    media
        .trim_ascii()
        .eq_ignore_ascii_case(CONTENT_TYPE.as_bytes())
}

/// Why an MCU endpoint refuses a request before reading its C3P.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reject {
    /// 404: another path.
    NotFound,
    /// 405: not POST (`Allow: POST`).
    MethodNotAllowed,
    /// 415: not `application/cccp+xml`.
    UnsupportedMediaType,
    /// 413: the document is over the limit.
    TooLarge,
}

impl Reject {
    /// The status code.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            Reject::NotFound => 404,
            Reject::MethodNotAllowed => 405,
            Reject::UnsupportedMediaType => 415,
            Reject::TooLarge => 413,
        }
    }
}

/// What an MCU endpoint got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Incoming {
    /// A C3P request document, to be answered with [`C3pEndpoint::respond`].
    Request(Vec<u8>),
    /// A request refused, to be answered with [`C3pEndpoint::reject`].
    Rejected(Reject),
}

/// The MCU side: accepts C3P POSTs at one path.
#[derive(Debug, Clone)]
pub struct C3pEndpoint {
    path: String,
    max_body: usize,
    verdict: Option<Reject>,
    body: Vec<u8>,
}

impl C3pEndpoint {
    /// An endpoint at `path`.
    #[must_use]
    pub fn new(path: &str) -> C3pEndpoint {
        C3pEndpoint {
            path: path.to_owned(),
            max_body: DEFAULT_MAX_BODY,
            verdict: None,
            body: Vec::new(),
        }
    }

    /// Checks a request head.
    ///
    /// # Errors
    /// Why the request is refused.
    pub fn check(&self, head: &RequestHead<'_>) -> Result<(), Reject> {
        let path = head.target.split('?').next().unwrap_or("");
        if path != self.path {
            return Err(Reject::NotFound);
        }
        if head.method != "POST" {
            return Err(Reject::MethodNotAllowed);
        }
        if !head.headers.get("content-type").is_some_and(is_c3p) {
            return Err(Reject::UnsupportedMediaType);
        }
        if let crate::h1::BodyLength::Length(n) = head.body
            && n > self.max_body as u64
        {
            return Err(Reject::TooLarge);
        }
        Ok(())
    }

    /// Feeds one event; returns the request (or its refusal) at its end.
    pub fn on_event(&mut self, event: &Event<'_>) -> Option<Incoming> {
        match event {
            Event::Request(head) => {
                self.verdict = self.check(head).err();
                self.body.clear();
                None
            }
            Event::Data(d) => {
                if self.verdict.is_none() {
                    if self.body.len() + d.len() > self.max_body {
                        self.verdict = Some(Reject::TooLarge);
                    } else {
                        self.body.extend_from_slice(d);
                    }
                }
                None
            }
            Event::EndOfMessage(_) => Some(match self.verdict.take() {
                Some(r) => Incoming::Rejected(r),
                None => Incoming::Request(std::mem::take(&mut self.body)),
            }),
            _ => None,
        }
    }

    /// Writes the `200` carrying the C3P response document.
    ///
    /// # Errors
    /// The connection cannot send a response now.
    pub fn respond(conn: &mut Connection, c3p: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        let mut digits = [0; 20];
        let headers: [(&str, &[u8]); 2] = [
            ("content-type", CONTENT_TYPE.as_bytes()),
            ("content-length", decimal(c3p.len() as u64, &mut digits)),
        ];
        conn.send_response(200, "OK", headers, out)?;
        conn.send_data(c3p, out)?;
        conn.send_end_of_message(&[] as &[(&str, &str)], out)
    }

    /// Writes the refusal (with `Allow: POST` for 405).
    ///
    /// # Errors
    /// The connection cannot send a response now.
    pub fn reject(conn: &mut Connection, why: Reject, out: &mut Vec<u8>) -> Result<(), SendError> {
        let allow: &[(&str, &str)] = if why == Reject::MethodNotAllowed {
            &[("allow", "POST"), ("content-length", "0")]
        } else {
            &[("content-length", "0")]
        };
        let reason = match why {
            Reject::NotFound => "Not Found",
            Reject::MethodNotAllowed => "Method Not Allowed",
            Reject::UnsupportedMediaType => "Unsupported Media Type",
            Reject::TooLarge => "Content Too Large",
        };
        conn.send_response(why.status(), reason, allow.iter().copied(), out)?;
        conn.send_end_of_message(&[] as &[(&str, &str)], out)
    }
}
