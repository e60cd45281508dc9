//! SIP messages (RFC 3261 §7): the start line, an index of the header lines, and the body,
//! all views into one shared buffer.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use bytes::{BufMut, Bytes};
use bytestring::ByteString;

use crate::error::{Error, Fault, ValueError};
use crate::headers::{
    self, Auth, CSeq, Contact, MediaType, NameAddr, TokenParams, TypedValue, Via,
};
use crate::name::HeaderName;
use crate::scan;
use crate::uri::Uri;

/// Limits that bound what the parser accepts. Exceeding one is an [`Error`], never a panic
/// or an unbounded allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest message, header section and body together (default 64 KiB).
    pub max_message_size: usize,
    /// Largest body by Content-Length (default 64 KiB).
    pub max_body_size: usize,
    /// Most header lines (default 128).
    pub max_headers: usize,
    /// Longest physical line, folded continuation lines counted separately (default 8 KiB).
    pub max_line_length: usize,
    /// Most parameters in one URI or header value (default 64).
    pub max_params: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 64 * 1024,
            max_body_size: 64 * 1024,
            max_headers: 128,
            max_line_length: 8 * 1024,
            max_params: 64,
        }
    }
}

/// A span of the message buffer, as 32-bit offsets to keep the header index small.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    fn new(r: Range<usize>) -> Self {
        Span {
            start: r.start as u32,
            end: r.end as u32,
        }
    }
    fn range(self) -> Range<usize> {
        self.start as usize..self.end as usize
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    name: Span,
    value: Span,
    kind: HeaderName,
}

#[derive(Debug, Clone, Copy)]
enum Start {
    Request { method: Span, uri: Span },
    Response { code: u16, reason: Span },
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "kind", rename_all = "snake_case"))]
pub enum StartLine<'a> {
    /// `Method Request-URI SIP/2.0`.
    Request {
        /// The method token, any extension method included (SERVICE, BENOTIFY...).
        method: &'a str,
        /// The Request-URI as written; [`Message::request_uri`] parses it.
        uri: &'a str,
    },
    /// `SIP/2.0 Status-Code Reason-Phrase`.
    Response {
        /// 100–699.
        code: u16,
        /// The reason phrase, possibly empty, any UTF-8.
        reason: &'a str,
    },
}

/// One header line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as written (`CSEQ`, `i`, `C%6Fntact`...).
    pub name: &'a str,
    /// The known header it is, compact forms mapped; [`HeaderName::Other`] otherwise.
    pub kind: HeaderName,
    /// The value as written, without leading and trailing white space. A folded value keeps its
    /// CRLF and indentation; the typed parsers treat them as white space.
    pub value: &'a str,
    /// Offset of the name in the message.
    pub offset: usize,
    /// Offset of the value in the message.
    pub value_offset: usize,
}

impl<'a> Header<'a> {
    /// The canonical name for known headers, the name as written otherwise.
    #[must_use]
    pub fn canonical_name(&self) -> &'a str {
        match self.kind {
            HeaderName::Other => self.name,
            k => k.as_str(),
        }
    }

    /// The values of this line: split at commas for list headers (RFC 3261 §7.3.1), the whole
    /// value otherwise. Empty list elements are yielded as empty strings.
    pub fn values(&self) -> impl Iterator<Item = (&'a str, usize)> + use<'a> {
        let list = self.kind.is_list();
        let one = (!list).then_some((self.value, self.value_offset));
        let many = list.then(|| scan::ListSplit::new(self.value, self.value_offset));
        one.into_iter().chain(many.into_iter().flatten())
    }
}

/// A parsed SIP message: requests and responses with any method, header names in any case and
/// in compact form, folded values, and the body delimited by Content-Length.
///
/// Parsing indexes the start line and every header line and reads Content-Length; everything
/// else is read on demand. All text is a view into the buffer given to the parser.
#[derive(Clone)]
pub struct Message {
    head: ByteString,
    body: Bytes,
    start: Start,
    /// Shared, so that a clone (a transaction keeping the request it passes up) costs a
    /// reference count, not a copy.
    headers: Arc<[Entry]>,
    max_params: usize,
}

/// Two messages are equal when their bytes are (head as received, then the body).
impl PartialEq for Message {
    fn eq(&self, other: &Message) -> bool {
        self.head == other.head && self.body == other.body
    }
}

impl Eq for Message {}

/// What the header section scan found.
pub(crate) struct Head {
    start: Start,
    headers: Arc<[Entry]>,
    /// Offset just past the empty line.
    end: usize,
    content_length: Option<(usize, usize)>,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// One message per datagram: without Content-Length the body is the rest of the datagram.
    Datagram,
    /// A byte stream: Content-Length is required.
    Stream,
}

impl Message {
    /// Parses one message from a datagram (UDP) with the default [`Limits`]. Content-Length, when
    /// present, delimits the body and octets after it are ignored (RFC 3261 §18.3, RFC 4475
    /// §3.1.1.8); without it the body is the rest of the datagram.
    ///
    /// ```
    /// use ocs_sip_codec::{Message, HeaderName};
    /// let msg = Message::parse(bytes::Bytes::from_static(
    ///     b"OPTIONS sip:user@example.com SIP/2.0\r\nv: SIP/2.0/UDP host;branch=z9hG4bK1\r\n\
    ///       f: <sip:a@example.com>;tag=1\r\nt: <sip:user@example.com>\r\ni: abc\r\n\
    ///       CSeq: 1 OPTIONS\r\nl: 0\r\n\r\n")).unwrap();
    /// assert_eq!(msg.method(), Some("OPTIONS"));
    /// assert_eq!(msg.header(HeaderName::CallId).unwrap().value, "abc");
    /// assert_eq!(msg.cseq().unwrap().seq, 1);
    /// ```
    pub fn parse(input: Bytes) -> Result<Message, Error> {
        Self::parse_with(input, &Limits::default())
    }

    /// [`Message::parse`] with explicit limits.
    pub fn parse_with(input: Bytes, limits: &Limits) -> Result<Message, Error> {
        if input.len() > limits.max_message_size {
            // The header section may still be within the limit with a body after it that the
            // datagram carries beyond Content-Length; only what the message uses counts.
            let head = scan_head(&input[..limits.max_message_size], limits)?;
            return Self::finish(input, head, limits, Framing::Datagram);
        }
        let head = scan_head(&input, limits)?;
        Self::finish(input, head, limits, Framing::Datagram)
    }

    fn finish(
        input: Bytes,
        head: Head,
        limits: &Limits,
        framing: Framing,
    ) -> Result<Message, Error> {
        let available = input.len() - head.end;
        let body_len = match head.content_length {
            Some((n, at)) => {
                if n > limits.max_body_size {
                    return Err(Error::BodyTooLarge {
                        declared: n,
                        limit: limits.max_body_size,
                        offset: at,
                    });
                }
                if n > available {
                    return Err(Error::BodyTruncated {
                        declared: n,
                        available,
                        offset: head.end,
                    });
                }
                n
            }
            None if framing == Framing::Stream => {
                return Err(Error::ContentLengthRequired { offset: head.end });
            }
            None => available,
        };
        let total = head.end + body_len;
        if total > limits.max_message_size {
            return Err(Error::MessageTooLarge {
                limit: limits.max_message_size,
                offset: limits.max_message_size,
            });
        }
        let head_bytes = input.slice(..head.end);
        let body = input.slice(head.end..total);
        let head_str = match ByteString::try_from(head_bytes) {
            Ok(s) => s,
            Err(_) => {
                let offset = std::str::from_utf8(&input[..head.end])
                    .err()
                    .map_or(0, |e| e.valid_up_to());
                return Err(Error::Utf8 { offset });
            }
        };
        Ok(Message {
            head: head_str,
            body,
            start: head.start,
            headers: head.headers,
            max_params: limits.max_params,
        })
    }

    /// Scans a stream buffer: `Ok(None)` when more bytes are needed, otherwise the scanned
    /// header section and the length of the whole message.
    pub(crate) fn scan_stream(
        input: &[u8],
        limits: &Limits,
    ) -> Result<Option<(Head, usize)>, Error> {
        let Some(head_end) = find_head_end(input, limits)? else {
            return Ok(None);
        };
        let head = scan_head(&input[..head_end], limits)?;
        let need = match head.content_length {
            Some((n, at)) if n > limits.max_body_size => {
                return Err(Error::BodyTooLarge {
                    declared: n,
                    limit: limits.max_body_size,
                    offset: at,
                });
            }
            Some((n, _)) => head.end + n,
            None => return Err(Error::ContentLengthRequired { offset: head.end }),
        };
        if need > limits.max_message_size {
            return Err(Error::MessageTooLarge {
                limit: limits.max_message_size,
                offset: limits.max_message_size,
            });
        }
        if input.len() < need {
            return Ok(None);
        }
        Ok(Some((head, need)))
    }

    /// Builds the message from exactly its bytes and the scan of its header section.
    pub(crate) fn from_scanned(
        input: Bytes,
        head: Head,
        limits: &Limits,
    ) -> Result<Message, Error> {
        Self::finish(input, head, limits, Framing::Stream)
    }

    /// The start line.
    #[must_use]
    pub fn start_line(&self) -> StartLine<'_> {
        match self.start {
            Start::Request { method, uri } => StartLine::Request {
                method: self.text(method),
                uri: self.text(uri),
            },
            Start::Response { code, reason } => StartLine::Response {
                code,
                reason: self.text(reason),
            },
        }
    }

    fn text(&self, s: Span) -> &str {
        self.head.get(s.range()).unwrap_or("")
    }

    /// True for requests.
    #[must_use]
    pub fn is_request(&self) -> bool {
        matches!(self.start, Start::Request { .. })
    }

    /// The method of a request.
    #[must_use]
    pub fn method(&self) -> Option<&str> {
        match self.start {
            Start::Request { method, .. } => Some(self.text(method)),
            Start::Response { .. } => None,
        }
    }

    /// The status code of a response.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self.start {
            Start::Response { code, .. } => Some(code),
            Start::Request { .. } => None,
        }
    }

    /// The parsed Request-URI of a request (`None` for responses). RFC 3261 §19.1.1 forbids
    /// `?headers` there, which is a [`Fault::HeadersNotAllowed`] error.
    pub fn request_uri(&self) -> Option<Result<Uri<'_>, Error>> {
        let Start::Request { uri, .. } = self.start else {
            return None;
        };
        let text = self.text(uri);
        Some(
            Uri::parse_at(text, uri.start as usize, self.max_params)
                .and_then(|u| match u {
                    Uri::Sip(s) if s.headers.is_some() => Err(ValueError::new(
                        Fault::HeadersNotAllowed,
                        uri.start as usize + text.find('?').unwrap_or(0),
                    )),
                    u => Ok(u),
                })
                .map_err(|e| Error::RequestUri {
                    fault: e.fault,
                    offset: e.offset,
                }),
        )
    }

    /// Every header line in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = Header<'_>> + '_ {
        self.headers.iter().map(|e| self.make_header(e))
    }

    fn make_header(&self, e: &Entry) -> Header<'_> {
        Header {
            name: self.text(e.name),
            kind: e.kind,
            value: self.text(e.value),
            offset: e.name.start as usize,
            value_offset: e.value.start as usize,
        }
    }

    /// The number of header lines.
    #[must_use]
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    /// The first line of a known header.
    #[must_use]
    pub fn header(&self, name: HeaderName) -> Option<Header<'_>> {
        self.headers
            .iter()
            .find(|e| e.kind == name)
            .map(|e| self.make_header(e))
    }

    /// Every line of a known header, in order.
    pub fn headers_named(&self, name: HeaderName) -> impl Iterator<Item = Header<'_>> + '_ {
        self.headers
            .iter()
            .filter(move |e| e.kind == name)
            .map(|e| self.make_header(e))
    }

    /// The first line of any header by name, case-insensitive (for unknown headers such as
    /// `UserAgent` or `ms-user-logon-data`). Compact forms of known names are matched too.
    #[must_use]
    pub fn header_by_name(&self, name: &str) -> Option<Header<'_>> {
        let kind = HeaderName::lookup(name);
        self.headers().find(|h| {
            h.kind == kind && (kind != HeaderName::Other || h.name.eq_ignore_ascii_case(name))
        })
    }

    /// Every value of a known header over all its lines, list values split at commas.
    pub fn values(&self, name: HeaderName) -> impl Iterator<Item = (&str, usize)> + '_ {
        self.headers_named(name).flat_map(|h| h.values())
    }

    /// The single line of a header that takes one value: error when absent or repeated.
    fn single(&self, name: HeaderName) -> Result<Header<'_>, Error> {
        let mut it = self.headers_named(name);
        let first = it.next().ok_or(Error::MissingHeader {
            header: name.as_str(),
            offset: self.head.len(),
        })?;
        if let Some(dup) = it.next() {
            return Err(Error::DuplicateHeader {
                header: name.as_str(),
                offset: dup.offset,
            });
        }
        Ok(first)
    }

    /// Every Via value, topmost first.
    pub fn via(&self) -> impl Iterator<Item = Result<Via<'_>, Error>> + '_ {
        self.typed_list(HeaderName::Via, Via::parse_at)
    }

    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via<'_>, Error> {
        // One Via value on the first line (no comma, nor a quote or bracket that could hide
        // one): parse it directly, without the list splitter.
        if let Some(h) = self.header(HeaderName::Via)
            && memchr::memchr3(b',', b'"', b'<', h.value.as_bytes()).is_none()
            && !h.value.is_empty()
        {
            return Via::parse_at(h.value, h.value_offset, self.max_params)
                .map_err(|e| e.in_header(HeaderName::Via.as_str()));
        }
        self.via().next().unwrap_or(Err(Error::MissingHeader {
            header: "Via",
            offset: self.head.len(),
        }))
    }

    fn typed_list<'s, T: 's>(
        &'s self,
        name: HeaderName,
        parse: fn(&'s str, usize, usize) -> Result<T, ValueError>,
    ) -> impl Iterator<Item = Result<T, Error>> + 's {
        let max = self.max_params;
        self.headers_named(name).flat_map(move |h| {
            headers::list_elements(h.value, h.value_offset).map(move |r| {
                r.and_then(|(v, at)| parse(v, at, max))
                    .map_err(|e| e.in_header(name.as_str()))
            })
        })
    }

    fn typed_single<'s, T>(
        &'s self,
        name: HeaderName,
        parse: impl FnOnce(&'s str, usize, usize) -> Result<T, ValueError>,
    ) -> Result<T, Error> {
        let h = self.single(name)?;
        parse(h.value, h.value_offset, self.max_params).map_err(|e| e.in_header(name.as_str()))
    }

    /// The From header.
    pub fn from(&self) -> Result<NameAddr<'_>, Error> {
        self.typed_single(HeaderName::From, |v, at, max| {
            NameAddr::parse_at(v, at, max, false)
        })
    }

    /// The To header.
    pub fn to(&self) -> Result<NameAddr<'_>, Error> {
        self.typed_single(HeaderName::To, |v, at, max| {
            NameAddr::parse_at(v, at, max, false)
        })
    }

    /// The Call-ID.
    pub fn call_id(&self) -> Result<&str, Error> {
        self.typed_single(HeaderName::CallId, |v, at, _| {
            headers::parse_call_id_at(v, at)
        })
    }

    /// The CSeq.
    pub fn cseq(&self) -> Result<CSeq<'_>, Error> {
        self.typed_single(HeaderName::CSeq, |v, at, _| CSeq::parse_at(v, at))
    }

    /// Every Contact value.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'_>, Error>> + '_ {
        self.typed_list(HeaderName::Contact, |v, at, max| {
            Contact::parse_at(v, at, max)
        })
    }

    /// Every Route value.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.typed_list(HeaderName::Route, |v, at, max| {
            NameAddr::parse_at(v, at, max, true)
        })
    }

    /// Every Record-Route value.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.typed_list(HeaderName::RecordRoute, |v, at, max| {
            NameAddr::parse_at(v, at, max, true)
        })
    }

    /// Every P-Asserted-Identity value (a sip and a tel URI may both be present).
    pub fn asserted_identities(&self) -> impl Iterator<Item = Result<NameAddr<'_>, Error>> + '_ {
        self.typed_list(HeaderName::PAssertedIdentity, |v, at, max| {
            NameAddr::parse_at(v, at, max, true)
        })
    }

    /// Max-Forwards, if present.
    pub fn max_forwards(&self) -> Option<Result<u8, Error>> {
        self.optional_single(HeaderName::MaxForwards, |v, at, max| {
            let _ = max;
            headers::parse_number_at(v, at, 255).map(|n| n as u8)
        })
    }

    /// Expires, if present.
    pub fn expires(&self) -> Option<Result<u32, Error>> {
        self.optional_single(HeaderName::Expires, |v, at, max| {
            let _ = max;
            headers::parse_number_at(v, at, u64::from(u32::MAX)).map(|n| n as u32)
        })
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Option<Result<MediaType<'_>, Error>> {
        self.optional_single(HeaderName::ContentType, |v, at, max| {
            MediaType::parse_at(v, at, max)
        })
    }

    /// Event, if present.
    pub fn event(&self) -> Option<Result<TokenParams<'_>, Error>> {
        self.optional_single(HeaderName::Event, |v, at, max| {
            TokenParams::parse_at(v, at, max)
        })
    }

    /// Every value of an authentication header (`WWW-Authenticate`, `Authorization`...): one
    /// challenge or credential per line.
    pub fn auth(&self, name: HeaderName) -> impl Iterator<Item = Result<Auth<'_>, Error>> + '_ {
        let info = matches!(
            name,
            HeaderName::AuthenticationInfo | HeaderName::ProxyAuthenticationInfo
        );
        let max = self.max_params;
        self.headers_named(name).map(move |h| {
            Auth::parse_at(h.value, h.value_offset, max, !info)
                .map_err(|e| e.in_header(name.as_str()))
        })
    }

    fn optional_single<'s, T>(
        &'s self,
        name: HeaderName,
        parse: impl FnOnce(&'s str, usize, usize) -> Result<T, ValueError>,
    ) -> Option<Result<T, Error>> {
        self.header(name).map(|_| self.typed_single(name, parse))
    }

    /// The body (exactly Content-Length bytes when that header is present).
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// The header section, start line and the closing empty line included.
    #[must_use]
    pub fn head(&self) -> &str {
        &self.head
    }

    /// The length of the whole message.
    #[must_use]
    pub fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// Always false: a message has at least a start line.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Writes the message back, byte for byte as it was parsed.
    pub fn write(&self, buf: &mut impl BufMut) {
        buf.put_slice(self.head.as_bytes());
        buf.put_slice(&self.body);
    }

    /// The message as bytes (head and body); allocates one buffer.
    #[must_use]
    pub fn to_vec(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(self.len());
        self.write(&mut v);
        v
    }

    /// The typed view of every value of every known header, in order (list headers give one
    /// item per element). Unknown headers are skipped; use [`Message::headers`] for them.
    pub fn typed_headers(
        &self,
    ) -> impl Iterator<Item = (Header<'_>, Result<TypedValue<'_>, Error>)> + '_ {
        let max = self.max_params;
        self.headers().flat_map(move |h| {
            let typed = move |r| typed_item(h, max, r);
            let list = h.kind.is_list();
            let single = (!list)
                .then(|| typed(Ok((h.value, h.value_offset))))
                .flatten();
            let many =
                list.then(|| headers::list_elements(h.value, h.value_offset).filter_map(typed));
            single.into_iter().chain(many.into_iter().flatten())
        })
    }

    /// Strict checks beyond framing: every known header's typed view parses, the Request-URI
    /// parses, headers that take one value appear once, the mandatory From, To, Call-ID, CSeq
    /// and Via are present, and a request's CSeq method equals its method. Returns the first
    /// fault. This is what `ocs decode sip` applies; RFC 4475 §3.1.2 messages fail here.
    pub fn validate(&self) -> Result<(), Error> {
        if let Some(r) = self.request_uri() {
            r?;
        }
        for (_, r) in self.typed_headers() {
            r?;
        }
        for name in [
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::MaxForwards,
            HeaderName::ContentType,
            HeaderName::Expires,
            HeaderName::MinExpires,
            HeaderName::Date,
            HeaderName::Event,
            HeaderName::SubscriptionState,
            HeaderName::ReferTo,
            HeaderName::ReferredBy,
            HeaderName::SessionExpires,
            HeaderName::MinSe,
        ] {
            match self.single(name) {
                Ok(_) | Err(Error::MissingHeader { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        let cseq = self.cseq()?;
        self.from()?;
        self.to()?;
        self.call_id()?;
        self.top_via()?;
        if let Some(m) = self.method()
            && m != cseq.method
        {
            let h = self.single(HeaderName::CSeq)?;
            return Err(Error::CSeqMismatch {
                offset: h.value_offset,
            });
        }
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("start", &self.start_line())
            .field("headers", &self.headers().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish()
    }
}

impl fmt::Display for Message {
    /// The header section, and the body when it is UTF-8.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.head)?;
        f.write_str(&String::from_utf8_lossy(&self.body))
    }
}

/// The typed view of one value of `h`, or `None` for headers without one.
fn typed_item<'m>(
    h: Header<'m>,
    max: usize,
    r: Result<(&'m str, usize), ValueError>,
) -> Option<(Header<'m>, Result<TypedValue<'m>, Error>)> {
    let name = h.kind.as_str();
    match r {
        Err(e) => Some((h, Err(e.in_header(name)))),
        Ok((v, at)) => {
            headers::parse_typed(h.kind, v, at, max).map(|r| (h, r.map_err(|e| e.in_header(name))))
        }
    }
}

/// Finds the end of the header section (just past CRLFCRLF) in a stream buffer, or `None` when
/// it has not arrived, enforcing the size limit on what was searched.
fn find_head_end(input: &[u8], limits: &Limits) -> Result<Option<usize>, Error> {
    let window = &input[..input.len().min(limits.max_message_size)];
    match memchr::memmem::find(window, b"\r\n\r\n") {
        Some(i) => Ok(Some(i + 4)),
        None if input.len() >= limits.max_message_size => Err(Error::MessageTooLarge {
            limit: limits.max_message_size,
            offset: limits.max_message_size,
        }),
        None => Ok(None),
    }
}

/// Finds the end of the line starting at `pos`: the offset of its CR. A bare CR or LF is an
/// error.
#[inline]
fn line_end(buf: &[u8], pos: usize) -> Result<Option<usize>, Error> {
    match memchr::memchr2(b'\r', b'\n', &buf[pos..]) {
        None => Ok(None),
        Some(i) => {
            let at = pos + i;
            if buf[at] == b'\n' {
                return Err(Error::BareLineEnding { offset: at });
            }
            match buf.get(at + 1) {
                Some(b'\n') => Ok(Some(at)),
                Some(_) => Err(Error::BareLineEnding { offset: at }),
                None => Ok(None),
            }
        }
    }
}

/// Collects the header index on the stack (most messages have fewer than 32 header lines) so
/// that the one allocation of a parse is the shared index itself.
struct IndexBuilder {
    inline: [Entry; 32],
    n: usize,
    spill: Vec<Entry>,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        let empty = Entry {
            name: Span { start: 0, end: 0 },
            value: Span { start: 0, end: 0 },
            kind: HeaderName::Other,
        };
        IndexBuilder {
            inline: [empty; 32],
            n: 0,
            spill: Vec::new(),
        }
    }
}

impl IndexBuilder {
    fn len(&self) -> usize {
        self.n + self.spill.len()
    }

    fn push(&mut self, e: Entry) {
        if self.n < self.inline.len() && self.spill.is_empty() {
            self.inline[self.n] = e;
            self.n += 1;
        } else {
            if self.spill.is_empty() {
                self.spill.reserve(self.n * 2);
                self.spill.extend_from_slice(&self.inline[..self.n]);
                self.n = 0;
            }
            self.spill.push(e);
        }
    }

    fn finish(self) -> Arc<[Entry]> {
        if self.spill.is_empty() {
            Arc::from(&self.inline[..self.n])
        } else {
            Arc::from(self.spill)
        }
    }
}

fn scan_head(buf: &[u8], limits: &Limits) -> Result<Head, Error> {
    let incomplete = || Error::Incomplete { offset: buf.len() };
    let first_end = line_end(buf, 0)?.ok_or_else(incomplete)?;
    if first_end > limits.max_line_length {
        return Err(Error::LineTooLong {
            limit: limits.max_line_length,
            offset: 0,
        });
    }
    let start = parse_start_line(&buf[..first_end])?;
    let mut headers = IndexBuilder::default();
    let mut content_length: Option<(usize, usize)> = None;
    let mut pos = first_end + 2;
    loop {
        match buf.get(pos) {
            None => return Err(incomplete()),
            Some(b'\r') => {
                if buf.get(pos + 1) == Some(&b'\n') {
                    return Ok(Head {
                        start,
                        headers: headers.finish(),
                        end: pos + 2,
                        content_length,
                    });
                }
                if pos + 1 >= buf.len() {
                    return Err(incomplete());
                }
                return Err(Error::BareLineEnding { offset: pos });
            }
            Some(b' ' | b'\t') => {
                // A continuation line with no header before it.
                return Err(Error::HeaderName { offset: pos });
            }
            Some(_) => {}
        }
        if headers.len() >= limits.max_headers {
            return Err(Error::TooManyHeaders {
                limit: limits.max_headers,
                offset: pos,
            });
        }
        // Name: token characters, then optional white space, then ':'.
        let name_start = pos;
        let mut i = pos;
        while i < buf.len() && scan::is_token(buf[i]) {
            i += 1;
        }
        let name_end = i;
        while i < buf.len() && scan::is_ws(buf[i]) {
            i += 1;
        }
        if name_end == name_start || buf.get(i) != Some(&b':') {
            if i >= buf.len() {
                return Err(incomplete());
            }
            return Err(Error::HeaderName { offset: i });
        }
        i += 1;
        // Value: to the end of the line, continuation lines folded in.
        let mut line_start = name_start;
        let mut end = line_end(buf, i)?.ok_or_else(incomplete)?;
        loop {
            if end - line_start > limits.max_line_length {
                return Err(Error::LineTooLong {
                    limit: limits.max_line_length,
                    offset: line_start,
                });
            }
            match buf.get(end + 2) {
                Some(b' ' | b'\t') => {
                    line_start = end + 2;
                    end = line_end(buf, end + 2)?.ok_or_else(incomplete)?;
                }
                Some(_) => break,
                None => return Err(incomplete()),
            }
        }
        // Trim LWS (folding included) around the value.
        let mut vs = i;
        let mut ve = end;
        loop {
            match buf.get(vs) {
                Some(b' ' | b'\t') if vs < ve => vs += 1,
                Some(b'\r') if vs + 2 <= ve => vs += 2,
                _ => break,
            }
        }
        while ve > vs && matches!(buf[ve - 1], b' ' | b'\t' | b'\r' | b'\n') {
            ve -= 1;
        }
        let kind = HeaderName::lookup_bytes(&buf[name_start..name_end]);
        if kind == HeaderName::ContentLength {
            let v = &buf[vs..ve];
            let n = std::str::from_utf8(v)
                .ok()
                .and_then(|s| scan::parse_u64(s).ok())
                .filter(|n| *n <= u64::from(u32::MAX))
                .ok_or(Error::Header {
                    header: "Content-Length",
                    fault: Fault::InvalidNumber,
                    offset: vs,
                })? as usize;
            if content_length.is_some() {
                // RFC 4475 §3.3.9 mcl01: framing is ambiguous, reject whatever the values.
                return Err(Error::DuplicateHeader {
                    header: "Content-Length",
                    offset: name_start,
                });
            }
            content_length = Some((n, vs));
        }
        headers.push(Entry {
            name: Span::new(name_start..name_end),
            value: Span::new(vs..ve),
            kind,
        });
        pos = end + 2;
    }
}

fn parse_start_line(line: &[u8]) -> Result<Start, Error> {
    let err = |fault, offset| Error::StartLine { fault, offset };
    if line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/") {
        // Status-Line = SIP-Version SP Status-Code SP Reason-Phrase
        let sp = memchr::memchr(b' ', line).ok_or(err(Fault::Expected(' '), line.len()))?;
        check_version(&line[..sp], 0)?;
        let code_start = sp + 1;
        let code_end = line[code_start..]
            .iter()
            .position(|&b| b == b' ')
            .map_or(line.len(), |i| code_start + i);
        let code = &line[code_start..code_end];
        if code.len() != 3
            || !code.iter().all(u8::is_ascii_digit)
            || code[0] == b'0'
            || code[0] > b'6'
        {
            return Err(err(Fault::InvalidStatusCode, code_start));
        }
        let code = code.iter().fold(0u16, |a, b| a * 10 + u16::from(b - b'0'));
        if code_end == line.len() {
            return Err(err(Fault::Expected(' '), code_end));
        }
        let reason = code_end + 1..line.len();
        if let Some(i) = line[reason.clone()]
            .iter()
            .position(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(err(Fault::InvalidCharacter, reason.start + i));
        }
        return Ok(Start::Response {
            code,
            reason: Span::new(reason),
        });
    }
    // Request-Line = Method SP Request-URI SP SIP-Version
    let m_end = line
        .iter()
        .position(|&b| !scan::is_token(b))
        .unwrap_or(line.len());
    if m_end == 0 {
        return Err(err(Fault::ExpectedToken, 0));
    }
    if line.get(m_end) != Some(&b' ') {
        return Err(err(Fault::Expected(' '), m_end));
    }
    let v_start = memchr::memrchr(b' ', line).map_or(line.len(), |i| i + 1);
    let uri = m_end + 1..v_start.saturating_sub(1).max(m_end + 1);
    check_version(&line[v_start..], v_start)?;
    if uri.is_empty() {
        return Err(err(Fault::Empty, m_end + 1));
    }
    let u = &line[uri.clone()];
    if let Some(i) = u.iter().position(|&b| b <= b' ' || b == 0x7f) {
        let fault = if scan::is_ws(u[i]) {
            Fault::WhitespaceInUri
        } else {
            Fault::InvalidCharacter
        };
        return Err(err(fault, uri.start + i));
    }
    if u[0] == b'<' {
        // RFC 4475 §3.1.2.7 ltgtruri
        return Err(err(Fault::InvalidScheme, uri.start));
    }
    Ok(Start::Request {
        method: Span::new(0..m_end),
        uri: Span::new(uri),
    })
}

fn check_version(v: &[u8], offset: usize) -> Result<(), Error> {
    if v.eq_ignore_ascii_case(b"SIP/2.0") {
        Ok(())
    } else {
        Err(Error::StartLine {
            fault: Fault::InvalidVersion,
            offset,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Message, Error> {
        Message::parse(Bytes::copy_from_slice(s.as_bytes()))
    }

    const OPTIONS: &str = "OPTIONS sip:user@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:user@example.com>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

    #[test]
    fn basic_request() {
        let m = parse(OPTIONS).unwrap();
        assert_eq!(m.header_count(), 6);
        m.validate().unwrap();
        assert_eq!(m.to_vec(), OPTIONS.as_bytes());
    }

    #[test]
    fn start_line_faults() {
        let e = parse("INVITE  sip:a@b SIP/2.0\r\n\r\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::StartLine {
                    fault: Fault::WhitespaceInUri,
                    offset: 7
                }
            ),
            "{e:?}"
        );
        let e = parse("OPTIONS sip:a@b SIP/2.0  \r\n\r\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::StartLine {
                    fault: Fault::InvalidVersion,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = parse("SIP/2.0 4294967301 big\r\n\r\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::StartLine {
                    fault: Fault::InvalidStatusCode,
                    offset: 8
                }
            ),
            "{e:?}"
        );
        let e = parse("SIP/7.0 200 OK\r\n\r\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::StartLine {
                    fault: Fault::InvalidVersion,
                    offset: 0
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn framing_faults() {
        let e = parse("OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n").unwrap_err();
        assert!(matches!(e, Error::Incomplete { .. }));
        let e = parse("OPTIONS sip:a@b SIP/2.0\nVia: x\r\n\r\n").unwrap_err();
        assert_eq!(e, Error::BareLineEnding { offset: 23 });
        let e = parse("OPTIONS sip:a@b SIP/2.0\r\nVia x\r\n\r\n").unwrap_err();
        assert_eq!(e, Error::HeaderName { offset: 29 });
        let e = parse("OPTIONS sip:a@b SIP/2.0\r\nl: 5\r\n\r\nabc").unwrap_err();
        assert_eq!(
            e,
            Error::BodyTruncated {
                declared: 5,
                available: 3,
                offset: 33
            }
        );
        let e = parse("OPTIONS sip:a@b SIP/2.0\r\nl: -5\r\n\r\n").unwrap_err();
        assert!(matches!(
            e,
            Error::Header {
                header: "Content-Length",
                ..
            }
        ));
    }

    #[test]
    fn limits_are_enforced() {
        let lim = Limits {
            max_headers: 3,
            ..Limits::default()
        };
        let e = Message::parse_with(Bytes::from_static(OPTIONS.as_bytes()), &lim).unwrap_err();
        assert!(matches!(e, Error::TooManyHeaders { limit: 3, .. }));
        let lim = Limits {
            max_line_length: 20,
            ..Limits::default()
        };
        let e = Message::parse_with(Bytes::from_static(OPTIONS.as_bytes()), &lim).unwrap_err();
        assert!(matches!(
            e,
            Error::LineTooLong {
                limit: 20,
                offset: 0
            }
        ));
        let lim = Limits {
            max_message_size: 100,
            ..Limits::default()
        };
        let e = Message::parse_with(Bytes::from_static(OPTIONS.as_bytes()), &lim).unwrap_err();
        assert!(matches!(
            e,
            Error::Incomplete { .. } | Error::MessageTooLarge { .. }
        ));
        let lim = Limits {
            max_body_size: 2,
            ..Limits::default()
        };
        let e = Message::parse_with(
            Bytes::from_static(b"M sip:a SIP/2.0\r\nl: 3\r\n\r\nabc"),
            &lim,
        )
        .unwrap_err();
        assert!(matches!(
            e,
            Error::BodyTooLarge {
                declared: 3,
                limit: 2,
                ..
            }
        ));
        let lim = Limits {
            max_params: 2,
            ..Limits::default()
        };
        let m = Message::parse_with(
            Bytes::from_static(b"M sip:a SIP/2.0\r\nv: SIP/2.0/UDP h;a;b;c\r\n\r\n"),
            &lim,
        )
        .unwrap();
        let e = m.top_via().unwrap_err();
        assert!(
            matches!(
                e,
                Error::Header {
                    header: "Via",
                    fault: Fault::TooManyParameters,
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn utf8_is_required_in_the_head() {
        let e =
            Message::parse(Bytes::from_static(b"M sip:a SIP/2.0\r\nX: \xff\r\n\r\n")).unwrap_err();
        assert_eq!(e, Error::Utf8 { offset: 20 });
        // but not in the body
        let m = Message::parse(Bytes::from_static(b"M sip:a SIP/2.0\r\nl: 1\r\n\r\n\xff")).unwrap();
        assert_eq!(&m.body()[..], b"\xff");
    }
}
