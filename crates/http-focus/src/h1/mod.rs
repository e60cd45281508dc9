//! Sans-IO HTTP/1.1 connections for both roles, in the manner of Python's h11 (RFC 9110,
//! RFC 9112).
//!
//! Bytes in, events out: [`Connection::receive_data`] takes what the socket read,
//! [`Connection::next_event`] returns the next [`Event`] (head, body data, end of message with
//! trailers, connection closed) or says it needs data. The `send_*` methods write the other
//! direction into a caller's buffer. The connection keeps the state of both directions, so it
//! frames each message (Content-Length, chunked, until close), honours keep-alive and
//! `Connection: close`, HTTP/1.0 peers, `Expect: 100-continue`, HEAD and the responses without
//! body (1xx, 204, 304), and lets a server read pipelined requests one exchange at a time.
//!
//! Heads are parsed by [httparse]; on top of it every framing ambiguity that request smuggling
//! lives on is an [`Error`] with its byte offset (see the variants).
//!
//! ```
//! use ocs_http_focus::h1::{Connection, Event, Role};
//!
//! let mut server = Connection::new(Role::Server);
//! server.receive_data(b"GET /abs/handler/F-0A11.lsabs HTTP/1.1\r\nHost: pool\r\n\r\n");
//! let Event::Request(req) = server.next_event()? else { panic!() };
//! assert_eq!(req.target, "/abs/handler/F-0A11.lsabs");
//! assert!(matches!(server.next_event()?, Event::EndOfMessage(_)));
//!
//! let mut wire = Vec::new();
//! server.send_response(200, "OK", [("content-length", "5")], &mut wire).unwrap();
//! server.send_data(b"hello", &mut wire).unwrap();
//! server.send_end_of_message(&[] as &[(&str, &str)], &mut wire).unwrap();
//! assert_eq!(wire, b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello");
//! # Ok::<(), ocs_http_focus::h1::Error>(())
//! ```

mod error;
mod head;
mod write;

use std::collections::VecDeque;

pub use error::{Error, SendError};
pub use head::{BodyLength, Field, Fields, MAX_HEADERS_CAP, RequestHead, ResponseHead, Version};
use head::{HeadInfo, check_line_ends, parse_request, parse_response, response_body, unfold};
use write::Seen;
pub use write::decimal;

/// The bounds every connection keeps to. The defaults suit a server facing the Internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest head (start line and fields, or trailer section), in bytes. Default 64 KiB.
    pub max_head_size: usize,
    /// Most header fields in a head or trailer section; at most [`MAX_HEADERS_CAP`].
    /// Default 100 (browsers send more than 16; see httparse issue 70).
    pub max_headers: usize,
    /// Most hexadecimal digits of a chunk size. Default 16 (a full 64-bit size).
    pub max_chunk_size_digits: usize,
    /// Longest chunk extension (after the size, before CRLF), in bytes. Default 1024.
    pub max_chunk_extension: usize,
    /// Longest body received, in bytes. Default 64 MiB.
    pub max_body_size: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head_size: 64 * 1024,
            max_headers: 100,
            max_chunk_size_digits: 16,
            max_chunk_extension: 1024,
            max_body_size: 64 * 1024 * 1024,
        }
    }
}

/// Which end of the connection this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Sends requests, receives responses.
    Client,
    /// Receives requests, sends responses.
    Server,
}

/// What [`Connection::next_event`] found.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// A request head (servers).
    Request(RequestHead<'a>),
    /// A 1xx response head (clients); the final response is still to come.
    InformationalResponse(ResponseHead<'a>),
    /// A final response head (clients).
    Response(ResponseHead<'a>),
    /// Body bytes, borrowed from the receive buffer (already de-chunked).
    Data(&'a [u8]),
    /// The message is complete; the trailer fields of a chunked body, if any.
    EndOfMessage(Fields<'a>),
    /// The peer closed the connection cleanly between messages.
    ConnectionClosed,
    /// Nothing more can be read until [`Connection::receive_data`] or
    /// [`Connection::receive_eof`] is called.
    NeedData,
    /// A server has read a whole request and waits for its response to be sent before it reads
    /// the next (pipelined) one; or the connection is to be closed ([`Connection::must_close`]).
    Paused,
}

/// The state of one direction of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Between messages.
    Idle,
    /// Inside a message (head sent or received, body going on).
    Body,
    /// A server's request direction after a whole request, until the response is done.
    Done,
    /// The last message on this connection is done; the connection is to be closed.
    MustClose,
    /// Closed.
    Closed,
    /// The peer sent something invalid; nothing more is read.
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    Size,
    Data(u64),
    Crlf,
    Trailers,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Idle,
    Length(u64),
    Chunked(Chunk),
    UntilClose,
    Done,
    MustClose,
    Closed,
    Failed(Error),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Out {
    Idle,
    Length(u64),
    Chunked,
    UntilClose,
    Done,
    MustClose,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Head {
    None,
    Request(HeadInfo),
    Response(HeadInfo, BodyLength),
    Trailers,
}

/// One request in flight: what its response's framing depends on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exchange {
    head: bool,
    connect: bool,
    http10: bool,
}

/// One HTTP/1.1 connection, either role: see the [module documentation](self).
#[derive(Debug, Clone)]
pub struct Connection {
    role: Role,
    limits: Limits,
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    fields: Vec<Field>,
    head: Head,
    head_at: usize,
    recv: Recv,
    out: Out,
    keep_alive: bool,
    eof: bool,
    body_received: u64,
    waiting_100: bool,
    /// Client: requests sent whose final response has not been read. Server: the request
    /// being answered (at most one).
    exchanges: VecDeque<Exchange>,
}

impl Connection {
    /// A connection with the default [`Limits`].
    #[must_use]
    pub fn new(role: Role) -> Connection {
        Connection::with_limits(role, Limits::default())
    }

    /// A connection with the given limits.
    #[must_use]
    pub fn with_limits(role: Role, limits: Limits) -> Connection {
        Connection {
            role,
            limits,
            buf: Vec::new(),
            pos: 0,
            base: 0,
            fields: Vec::new(),
            head: Head::None,
            head_at: 0,
            recv: Recv::Idle,
            out: Out::Idle,
            keep_alive: true,
            eof: false,
            body_received: 0,
            waiting_100: false,
            exchanges: VecDeque::new(),
        }
    }

    /// This end's role.
    #[must_use]
    pub fn role(&self) -> Role {
        self.role
    }

    /// Hands the connection bytes read from the socket. Call [`Connection::next_event`] until
    /// it answers [`Event::NeedData`] or [`Event::Paused`].
    pub fn receive_data(&mut self, data: &[u8]) {
        if self.pos == self.buf.len() {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            // Keep the unread tail at the front; the events that borrowed it are gone.
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.head_at = self.head_at.saturating_sub(self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Tells the connection that the peer closed its sending side (the socket read 0 bytes).
    pub fn receive_eof(&mut self) {
        self.eof = true;
    }

    /// Bytes received but not yet turned into events (for a server that stops reading).
    #[must_use]
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    /// The state of the peer's direction.
    #[must_use]
    pub fn their_state(&self) -> State {
        match self.recv {
            Recv::Idle => State::Idle,
            Recv::Length(_) | Recv::Chunked(_) | Recv::UntilClose => State::Body,
            Recv::Done => State::Done,
            Recv::MustClose => State::MustClose,
            Recv::Closed => State::Closed,
            Recv::Failed(_) => State::Error,
        }
    }

    /// The state of this end's direction.
    #[must_use]
    pub fn our_state(&self) -> State {
        match self.out {
            Out::Idle => State::Idle,
            Out::Length(_) | Out::Chunked | Out::UntilClose => State::Body,
            Out::Done => State::Done,
            Out::MustClose => State::MustClose,
            Out::Closed => State::Closed,
        }
    }

    /// Whether the socket is to be closed: this exchange was the last (`Connection: close`,
    /// an HTTP/1.0 peer, a body delimited by close, or an error), and both directions are done.
    #[must_use]
    pub fn must_close(&self) -> bool {
        matches!(self.recv, Recv::Failed(_) | Recv::Closed)
            || (matches!(self.out, Out::MustClose | Out::Closed)
                && matches!(self.recv, Recv::MustClose | Recv::Done | Recv::Closed))
    }

    /// Whether the connection can carry another message after the current exchange.
    #[must_use]
    pub fn keep_alive(&self) -> bool {
        self.keep_alive
    }

    /// Server: the client sent `Expect: 100-continue` and waits for a 100 (or a final
    /// response) before it sends the body. Client: the same request is waiting for its 100.
    #[must_use]
    pub fn waiting_for_100_continue(&self) -> bool {
        self.waiting_100
    }

    /// The next event from what was received.
    ///
    /// # Errors
    /// The peer broke the protocol; the same error is returned from then on, and a server
    /// may still send an error response ([`Error::status`]) before it closes.
    pub fn next_event(&mut self) -> Result<Event<'_>, Error> {
        match self.advance() {
            Ok(step) => Ok(self.event(step)),
            Err(e) => {
                let e = if matches!(self.recv, Recv::Failed(_)) {
                    e
                } else {
                    e.shift(self.base + self.pos as u64)
                };
                self.recv = Recv::Failed(e);
                self.keep_alive = false;
                Err(e)
            }
        }
    }

    fn event(&self, step: Step) -> Event<'_> {
        match step {
            Step::Head => {
                let head = &self.buf[self.head_at..];
                match self.head {
                    Head::Request(info) => {
                        Event::Request(RequestHead::view(head, &self.fields, &info))
                    }
                    Head::Response(info, body) => {
                        let view = ResponseHead::view(head, &self.fields, &info, body);
                        if info.code < 200 {
                            Event::InformationalResponse(view)
                        } else {
                            Event::Response(view)
                        }
                    }
                    Head::None | Head::Trailers => Event::NeedData,
                }
            }
            Step::Data(a, b) => Event::Data(&self.buf[a..b]),
            Step::End => match self.head {
                Head::Trailers => {
                    Event::EndOfMessage(Fields::new(&self.buf[self.head_at..], &self.fields))
                }
                _ => Event::EndOfMessage(Fields::new(&[], &[])),
            },
            Step::Closed => Event::ConnectionClosed,
            Step::NeedData => Event::NeedData,
            Step::Paused => Event::Paused,
        }
    }

    /// Moves the receive side one event on; offsets in errors are relative to `self.pos`.
    fn advance(&mut self) -> Result<Step, Error> {
        loop {
            let avail = self.buf.len() - self.pos;
            match self.recv {
                Recv::Failed(e) => return Err(e),
                Recv::Closed => return Ok(Step::Closed),
                Recv::Done => return Ok(Step::Paused),
                Recv::MustClose => {
                    if self.eof && avail == 0 {
                        self.recv = Recv::Closed;
                        return Ok(Step::Closed);
                    }
                    return Ok(Step::Paused);
                }
                Recv::Idle => {
                    if avail == 0 {
                        if self.eof {
                            self.recv = Recv::Closed;
                            return Ok(Step::Closed);
                        }
                        return Ok(Step::NeedData);
                    }
                    return match self.role {
                        Role::Server => self.read_request(),
                        Role::Client => self.read_response(),
                    };
                }
                Recv::Length(0) => return Ok(self.finish_message()),
                Recv::Length(n) => {
                    if avail == 0 {
                        return self.starved();
                    }
                    let take = n.min(avail as u64) as usize;
                    self.recv = Recv::Length(n - take as u64);
                    return Ok(self.data(take));
                }
                Recv::UntilClose => {
                    if avail > 0 {
                        self.body_received += avail as u64;
                        if self.body_received > self.limits.max_body_size {
                            return Err(self.too_large());
                        }
                        return Ok(self.data(avail));
                    }
                    if self.eof {
                        return Ok(self.finish_message());
                    }
                    return Ok(Step::NeedData);
                }
                Recv::Chunked(chunk) => match chunk {
                    Chunk::Size => {
                        let Some((size, used)) = self.chunk_size()? else {
                            return self.starved();
                        };
                        self.body_received = self.body_received.saturating_add(size);
                        if self.body_received > self.limits.max_body_size {
                            return Err(self.too_large());
                        }
                        self.pos += used;
                        self.recv = Recv::Chunked(if size == 0 {
                            Chunk::Trailers
                        } else {
                            Chunk::Data(size)
                        });
                    }
                    Chunk::Data(n) => {
                        if avail == 0 {
                            return self.starved();
                        }
                        let take = n.min(avail as u64) as usize;
                        let left = n - take as u64;
                        self.recv = Recv::Chunked(if left == 0 {
                            Chunk::Crlf
                        } else {
                            Chunk::Data(left)
                        });
                        return Ok(self.data(take));
                    }
                    Chunk::Crlf => {
                        let rest = &self.buf[self.pos..];
                        if let Some(at) = rest.iter().take(2).zip(b"\r\n").position(|(a, b)| a != b)
                        {
                            return Err(Error::MissingChunkTerminator { offset: at as u64 });
                        }
                        if avail < 2 {
                            return self.starved();
                        }
                        self.pos += 2;
                        self.recv = Recv::Chunked(Chunk::Size);
                    }
                    Chunk::Trailers => return self.read_trailers(),
                },
            }
        }
    }

    fn starved(&self) -> Result<Step, Error> {
        if self.eof {
            Err(Error::IncompleteMessage {
                offset: (self.buf.len() - self.pos) as u64,
            })
        } else {
            Ok(Step::NeedData)
        }
    }

    fn too_large(&self) -> Error {
        Error::BodyTooLarge {
            limit: self.limits.max_body_size,
            offset: 0,
        }
    }

    fn data(&mut self, take: usize) -> Step {
        let a = self.pos;
        self.pos += take;
        Step::Data(a, self.pos)
    }

    fn read_request(&mut self) -> Result<Step, Error> {
        let Some((info, method, _)) =
            parse_request(&self.buf[self.pos..], &self.limits, &mut self.fields)?
        else {
            return self.starved();
        };
        if method == "CONNECT" {
            return Err(Error::ProtocolSwitch { offset: 0 });
        }
        let head_method = method == "HEAD";
        self.head_at = self.pos;
        self.pos += info.len;
        self.head = Head::Request(info);
        self.keep_alive &= info.persistent();
        self.waiting_100 = info.expects_continue();
        self.exchanges.clear();
        self.exchanges.push_back(Exchange {
            head: head_method,
            connect: false,
            http10: info.version == Version::Http10,
        });
        self.body_received = 0;
        self.recv = match info.request_body() {
            BodyLength::Chunked => Recv::Chunked(Chunk::Size),
            BodyLength::Length(n) => Recv::Length(n),
            BodyLength::None | BodyLength::UntilClose => Recv::Length(0),
        };
        Ok(Step::Head)
    }

    fn read_response(&mut self) -> Result<Step, Error> {
        let Some(exchange) = self.exchanges.front().copied() else {
            return Err(Error::UnexpectedResponse { offset: 0 });
        };
        let Some(info) = parse_response(&self.buf[self.pos..], &self.limits, &mut self.fields)?
        else {
            return self.starved();
        };
        if info.code == 101 || (exchange.connect && (200..300).contains(&info.code)) {
            return Err(Error::ProtocolSwitch { offset: 0 });
        }
        unfold(&mut self.buf[self.pos..], &self.fields);
        self.head_at = self.pos;
        self.pos += info.len;
        let body = response_body(&info, exchange.head);
        self.head = Head::Response(info, body);
        if info.code < 200 {
            if info.code == 100 {
                self.waiting_100 = false;
            }
            return Ok(Step::Head);
        }
        self.exchanges.pop_front();
        self.waiting_100 = false;
        self.keep_alive &= info.persistent() && body != BodyLength::UntilClose;
        self.body_received = 0;
        self.recv = match body {
            BodyLength::None => Recv::Length(0),
            BodyLength::Length(n) => Recv::Length(n),
            BodyLength::Chunked => Recv::Chunked(Chunk::Size),
            BodyLength::UntilClose => Recv::UntilClose,
        };
        Ok(Step::Head)
    }

    /// Parses `chunk-size [chunk-ext] CRLF` (RFC 9112 7.1) strictly.
    fn chunk_size(&self) -> Result<Option<(u64, usize)>, Error> {
        let rest = &self.buf[self.pos..];
        let max_digits = self.limits.max_chunk_size_digits;
        let mut size = 0u64;
        let mut i = 0;
        while i < rest.len() && rest[i].is_ascii_hexdigit() {
            if i == max_digits || i == 16 {
                return Err(Error::ChunkSizeTooLong {
                    limit: max_digits.min(16),
                    offset: 0,
                });
            }
            size = (size << 4) | u64::from(char::from(rest[i]).to_digit(16).unwrap_or(0));
            i += 1;
        }
        if i == rest.len() {
            return Ok(None);
        }
        if i == 0 {
            return Err(Error::InvalidChunkSize { offset: 0 });
        }
        // Optional extension: BWS ";" ... up to CRLF, visible characters and white space only.
        let ext_start = i;
        if rest[i] == b' ' || rest[i] == b'\t' || rest[i] == b';' {
            while i < rest.len() && (rest[i] == b' ' || rest[i] == b'\t') {
                i += 1;
            }
            if i < rest.len() && rest[i] != b';' {
                // White space after the size is only allowed before an extension.
                return Err(Error::InvalidChunkSize {
                    offset: ext_start as u64,
                });
            }
            while i < rest.len() && rest[i] != b'\r' && rest[i] != b'\n' {
                if (rest[i] < 0x20 && rest[i] != b'\t') || rest[i] == 0x7f {
                    return Err(Error::InvalidChunkSize { offset: i as u64 });
                }
                i += 1;
                if i - ext_start > self.limits.max_chunk_extension {
                    return Err(Error::ChunkExtensionTooLong {
                        limit: self.limits.max_chunk_extension,
                        offset: 0,
                    });
                }
            }
            if i == rest.len() {
                return Ok(None);
            }
        }
        match rest[i] {
            b'\r' => match rest.get(i + 1) {
                None => Ok(None),
                Some(b'\n') => Ok(Some((size, i + 2))),
                Some(_) => Err(Error::BareCarriageReturn { offset: i as u64 }),
            },
            b'\n' => Err(Error::BareLineFeed { offset: i as u64 }),
            _ => Err(Error::InvalidChunkSize { offset: i as u64 }),
        }
    }

    fn read_trailers(&mut self) -> Result<Step, Error> {
        let rest = &self.buf[self.pos..];
        if rest.starts_with(b"\r\n") {
            // No trailer section: the common case costs no parse.
            self.pos += 2;
            self.fields.clear();
            self.head = Head::None;
            return Ok(self.finish_message());
        }
        let window = &rest[..rest.len().min(self.limits.max_head_size)];
        let max = self.limits.max_headers.min(MAX_HEADERS_CAP);
        // Few trailers are usual: 16 slots on the stack; only a section with more is parsed
        // again, with the full count (still on the stack).
        let mut small = [httparse::EMPTY_HEADER; 16];
        let mut large;
        let parsed = match httparse::parse_headers(window, &mut small[..max.min(16)]) {
            Err(httparse::Error::TooManyHeaders) if max > 16 => {
                large = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
                httparse::parse_headers(window, &mut large[..max])
            }
            other => other,
        };
        let (len, headers) = match parsed {
            Ok(httparse::Status::Complete((n, h))) => (n, h),
            Ok(httparse::Status::Partial) => {
                if rest.len() >= self.limits.max_head_size {
                    return Err(Error::HeadTooLarge {
                        limit: self.limits.max_head_size,
                        offset: 0,
                    });
                }
                return self.starved();
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err(Error::TooManyHeaders {
                    limit: max,
                    offset: 0,
                });
            }
            Err(e) => return Err(head::diagnose_fields(window, e)),
        };
        check_line_ends(&rest[..len])?;
        let scan = head::scan_fields(&rest[..len], headers, &mut self.fields, false)
            .map_err(|e| Error::ForbiddenTrailer { offset: e.offset() })?;
        if scan.framing.content_length.is_some() || scan.te_at.is_some() || scan.hosts > 0 {
            let at = Fields::new(&rest[..len], &self.fields)
                .iter()
                .position(|(n, _)| {
                    ["content-length", "transfer-encoding", "host"]
                        .iter()
                        .any(|f| n.eq_ignore_ascii_case(f))
                })
                .map_or(0, |i| u64::from(self.fields[i].name_offset()));
            return Err(Error::ForbiddenTrailer { offset: at });
        }
        self.head_at = self.pos;
        self.pos += len;
        self.head = Head::Trailers;
        Ok(self.finish_message())
    }

    fn finish_message(&mut self) -> Step {
        self.recv = match self.role {
            Role::Server => Recv::Done,
            Role::Client if self.keep_alive => Recv::Idle,
            Role::Client => Recv::MustClose,
        };
        if self.role == Role::Server {
            self.waiting_100 = false;
        }
        self.next_cycle();
        Step::End
    }

    /// Server: when the request is read and the response sent, start over (or close).
    fn next_cycle(&mut self) {
        if self.role == Role::Server && self.recv == Recv::Done && self.out == Out::Done {
            if self.keep_alive {
                self.recv = Recv::Idle;
                self.out = Out::Idle;
                self.exchanges.clear();
            } else {
                self.recv = Recv::MustClose;
                self.out = Out::MustClose;
            }
        }
    }

    /// Client: sends a request head. Framing comes from the fields: `Content-Length`,
    /// `Transfer-Encoding: chunked`, or neither for no body. HTTP/1.1 requires `Host`.
    ///
    /// # Errors
    /// Misuse ([`SendError`]); nothing is written then.
    pub fn send_request<N, V>(
        &mut self,
        method: &str,
        target: &str,
        headers: impl IntoIterator<Item = (N, V)>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if self.role != Role::Client {
            return Err(wrong("a request", "servers send responses"));
        }
        if self.out != Out::Idle || !self.keep_alive {
            return Err(wrong(
                "a request",
                "the previous request is not finished or was the last",
            ));
        }
        if method.is_empty()
            || !method.bytes().all(head::is_tchar)
            || target.is_empty()
            || target.bytes().any(|b| b <= b' ' || b == 0x7f)
        {
            return Err(SendError::InvalidStartLine);
        }
        let mark = out.len();
        out.extend_from_slice(method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        let seen = write::fields(headers, out).inspect_err(|_| out.truncate(mark))?;
        let fail = |out: &mut Vec<u8>, e| {
            out.truncate(mark);
            Err(e)
        };
        if !seen.host {
            return fail(out, SendError::MissingHost);
        }
        let state = match seen.framing() {
            Ok(BodyLength::Chunked) => Out::Chunked,
            Ok(BodyLength::Length(n)) => Out::Length(n),
            Ok(_) => Out::Length(0),
            Err(e) => return fail(out, e),
        };
        out.extend_from_slice(b"\r\n");
        if seen.close {
            self.keep_alive = false;
        }
        self.waiting_100 = seen.expect_continue;
        self.exchanges.push_back(Exchange {
            head: method == "HEAD",
            connect: method == "CONNECT",
            http10: false,
        });
        self.out = state;
        Ok(())
    }

    /// Server: sends a response head: a 1xx (not 101), or the final response. Framing comes
    /// from the fields; without Content-Length or Transfer-Encoding the body is chunked for an
    /// HTTP/1.1 client and delimited by close for HTTP/1.0. `Connection: close` is added when
    /// this is the connection's last exchange. After a receive error, a server may send one
    /// final (error) response and then must close.
    ///
    /// # Errors
    /// Misuse ([`SendError`]); nothing is written then.
    pub fn send_response<N, V>(
        &mut self,
        status: u16,
        reason: &str,
        headers: impl IntoIterator<Item = (N, V)>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        if self.role != Role::Server {
            return Err(wrong("a response", "clients send requests"));
        }
        let failed = matches!(self.recv, Recv::Failed(_));
        if self.out != Out::Idle || (self.exchanges.is_empty() && !failed) {
            return Err(wrong("a response", "no request is waiting for one"));
        }
        if !(100..=999).contains(&status) || status == 101 {
            return Err(wrong("this status", "protocol switching is not supported"));
        }
        if reason.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(SendError::InvalidStartLine);
        }
        let exchange = self.exchanges.front().copied().unwrap_or(Exchange {
            head: false,
            connect: false,
            http10: false,
        });
        let mark = out.len();
        out.extend_from_slice(b"HTTP/1.1 ");
        write::status(status, out);
        out.push(b' ');
        out.extend_from_slice(reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        let seen = write::fields(headers, out).inspect_err(|_| out.truncate(mark))?;
        if status < 200 {
            out.extend_from_slice(b"\r\n");
            self.waiting_100 = false;
            return Ok(());
        }
        let no_body = exchange.head || status == 204 || status == 304;
        let state = match seen.framing() {
            Err(e) => {
                out.truncate(mark);
                return Err(e);
            }
            Ok(_) if no_body => Out::Length(0),
            Ok(BodyLength::Chunked) if exchange.http10 => {
                out.truncate(mark);
                return Err(SendError::BadFraming);
            }
            Ok(BodyLength::Chunked) => Out::Chunked,
            Ok(BodyLength::Length(n)) => Out::Length(n),
            Ok(_) if exchange.http10 => {
                self.keep_alive = false;
                Out::UntilClose
            }
            Ok(_) => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Out::Chunked
            }
        };
        if seen.close || failed {
            self.keep_alive = false;
        }
        if !self.keep_alive && !seen.close {
            out.extend_from_slice(b"connection: close\r\n");
        } else if self.keep_alive && exchange.http10 && !seen.keep_alive {
            out.extend_from_slice(b"connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        self.waiting_100 = false;
        self.out = state;
        Ok(())
    }

    /// Sends body bytes of the current message (chunked: as one chunk).
    ///
    /// # Errors
    /// No message head was sent, or more bytes than Content-Length announced.
    pub fn send_data(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), SendError> {
        match self.out {
            Out::Length(n) => {
                if data.len() as u64 > n {
                    return Err(SendError::TooMuchData { announced: n });
                }
                self.out = Out::Length(n - data.len() as u64);
                out.extend_from_slice(data);
            }
            Out::Chunked => {
                if !data.is_empty() {
                    write::chunk_size(data.len(), out);
                    out.extend_from_slice(data);
                    out.extend_from_slice(b"\r\n");
                }
            }
            Out::UntilClose => out.extend_from_slice(data),
            _ => return Err(wrong("data", "no message is being sent")),
        }
        if self.role == Role::Client {
            self.waiting_100 = false;
        }
        Ok(())
    }

    /// Ends the current message, with trailer fields if it is chunked.
    ///
    /// # Errors
    /// No message is being sent, fewer bytes than Content-Length, trailers on a message that
    /// is not chunked, or an invalid trailer field.
    pub fn send_end_of_message<N, V>(
        &mut self,
        trailers: &[(N, V)],
        out: &mut Vec<u8>,
    ) -> Result<(), SendError>
    where
        N: AsRef<[u8]>,
        V: AsRef<[u8]>,
    {
        match self.out {
            Out::Length(0) | Out::UntilClose if trailers.is_empty() => {}
            Out::Length(n) if n > 0 => return Err(SendError::TooLittleData { missing: n }),
            Out::Length(_) | Out::UntilClose => return Err(SendError::TrailersNotChunked),
            Out::Chunked => {
                let mark = out.len();
                out.extend_from_slice(b"0\r\n");
                let seen = write::fields(trailers.iter().map(|(n, v)| (n, v)), out)
                    .inspect_err(|_| out.truncate(mark))?;
                if seen.framing_fields() {
                    out.truncate(mark);
                    return Err(SendError::BadFraming);
                }
                out.extend_from_slice(b"\r\n");
            }
            _ => return Err(wrong("end of message", "no message is being sent")),
        }
        if self.out == Out::UntilClose {
            self.keep_alive = false;
        }
        self.out = match self.role {
            Role::Server => Out::Done,
            Role::Client if self.keep_alive => Out::Idle,
            Role::Client => Out::MustClose,
        };
        self.next_cycle();
        Ok(())
    }

    /// Notes that this end closed the connection.
    pub fn send_connection_closed(&mut self) {
        self.out = Out::Closed;
        self.keep_alive = false;
    }

    /// Client: sends an [`http::Request`]'s head (its URI's path and query as the target, its
    /// headers as fields). The body is sent with [`Connection::send_data`].
    ///
    /// # Errors
    /// As for [`Connection::send_request`].
    pub fn send_http_request<B>(
        &mut self,
        req: &http::Request<B>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        let headers = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        self.send_request(req.method().as_str(), target, headers, out)
    }

    /// Server: sends an [`http::Response`]'s head.
    ///
    /// # Errors
    /// As for [`Connection::send_response`].
    pub fn send_http_response<B>(
        &mut self,
        resp: &http::Response<B>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let status = resp.status();
        let headers = resp
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()));
        self.send_response(
            status.as_u16(),
            status.canonical_reason().unwrap_or(""),
            headers,
            out,
        )
    }
}

fn wrong(event: &'static str, state: &'static str) -> SendError {
    SendError::WrongState { event, state }
}

#[derive(Debug, Clone, Copy)]
enum Step {
    Head,
    Data(usize, usize),
    End,
    Closed,
    NeedData,
    Paused,
}

impl Seen {
    fn framing(&self) -> Result<BodyLength, SendError> {
        match (self.content_length, self.chunked) {
            (Some(_), true) => Err(SendError::BadFraming),
            (None, true) => Ok(BodyLength::Chunked),
            (Some(n), false) => Ok(BodyLength::Length(n)),
            (None, false) if self.bad_framing => Err(SendError::BadFraming),
            (None, false) => Ok(BodyLength::None),
        }
    }

    fn framing_fields(&self) -> bool {
        self.content_length.is_some() || self.chunked || self.bad_framing || self.host
    }
}
