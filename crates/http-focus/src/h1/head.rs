//! Message heads: parsing on top of httparse, the framing checks, and borrowed views.

use std::mem::MaybeUninit;

use super::{Error, Limits};

/// The most header fields any head may carry, whatever [`Limits::max_headers`] says: the slots
/// live on the stack, uninitialised, so parsing costs nothing for the slots it does not use.
pub const MAX_HEADERS_CAP: usize = 256;

/// The HTTP version of a message (RFC 9112 2.3). Other versions are refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// HTTP/1.0: no keep-alive unless asked for, no chunked coding.
    Http10,
    /// HTTP/1.1.
    Http11,
}

impl Version {
    /// The version as written on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }
}

/// Where one header field sits in the head: offsets from the head's first byte.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Field {
    name: u32,
    name_len: u32,
    value: u32,
    value_len: u32,
}

impl Field {
    pub(crate) fn name_offset(&self) -> u32 {
        self.name
    }
}

/// The header fields (or trailer fields) of a message, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    head: &'a [u8],
    list: &'a [Field],
}

impl<'a> Fields<'a> {
    pub(crate) fn new(head: &'a [u8], list: &'a [Field]) -> Fields<'a> {
        Fields { head, list }
    }

    /// How many fields there are.
    #[must_use]
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The fields in order, as (name as written, value without surrounding white space).
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let head = self.head;
        self.list.iter().map(move |f| field_at(head, f))
    }

    /// The value of the first field of this name (compared case-insensitively).
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// The values of every field of this name, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }
}

fn field_at<'a>(head: &'a [u8], f: &Field) -> (&'a str, &'a [u8]) {
    let name = &head[f.name as usize..f.name as usize + f.name_len as usize];
    let value = &head[f.value as usize..f.value as usize + f.value_len as usize];
    // Names were checked to be tokens (ASCII) when parsed.
    (std::str::from_utf8(name).unwrap_or(""), value)
}

/// How the body of a message is delimited (RFC 9112 6.3), once the context is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body at all.
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes (responses only).
    UntilClose,
}

/// What the framing fields of a head say, before the context (method, status) is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Framing {
    pub(crate) content_length: Option<u64>,
    pub(crate) chunked: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

/// A parsed head, as offsets into the buffer it was parsed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadInfo {
    pub(crate) len: usize,
    /// Request: the method; response: the reason phrase.
    pub(crate) a: (u32, u32),
    /// Request: the target.
    pub(crate) b: (u32, u32),
    pub(crate) code: u16,
    pub(crate) version: Version,
    pub(crate) framing: Framing,
}

impl HeadInfo {
    pub(crate) fn text(head: &[u8], (at, len): (u32, u32)) -> &str {
        if len == 0 {
            return "";
        }
        std::str::from_utf8(&head[at as usize..(at + len) as usize]).unwrap_or("")
    }

    /// RFC 9112 6.3: a request without Content-Length or chunked has no body.
    pub(crate) fn request_body(&self) -> BodyLength {
        match (self.framing.chunked, self.framing.content_length) {
            (true, _) => BodyLength::Chunked,
            (false, Some(n)) => BodyLength::Length(n),
            (false, None) => BodyLength::None,
        }
    }

    pub(crate) fn expects_continue(&self) -> bool {
        self.framing.expect_continue && self.version == Version::Http11
    }

    /// Whether the connection stays open after this message, on its own say.
    pub(crate) fn persistent(&self) -> bool {
        match self.version {
            Version::Http11 => !self.framing.close,
            Version::Http10 => self.framing.keep_alive && !self.framing.close,
        }
    }
}

/// A request head, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The request target as sent (origin-form, absolute-form, authority-form or `*`).
    pub target: &'a str,
    /// The version.
    pub version: Version,
    /// The header fields.
    pub headers: Fields<'a>,
    /// How the body is delimited.
    pub body: BodyLength,
    /// Whether the client sent `Expect: 100-continue` (HTTP/1.1 only).
    pub expect_continue: bool,
    /// Whether the connection may carry another request after this exchange, on the
    /// request's own say (version and Connection).
    pub keep_alive: bool,
}

impl<'a> RequestHead<'a> {
    /// Parses a request head at the start of `buf` with every check of the connection
    /// (limits, request smuggling, Host). `fields` is reused storage for the field positions;
    /// pass the same vector each time and parsing allocates nothing once it has grown.
    ///
    /// Returns `Ok(None)` when `buf` does not hold the whole head yet, and the head with its
    /// length in bytes otherwise.
    ///
    /// ```
    /// use ocs_http_focus::h1::{BodyLength, Limits, RequestHead};
    /// let mut fields = Vec::new();
    /// let raw = b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nHost: mcu\r\nContent-Length: 5\r\n\r\nhello";
    /// let (head, len) = RequestHead::parse(raw, &Limits::default(), &mut fields)?.unwrap();
    /// assert_eq!((head.method, head.body, len), ("POST", BodyLength::Length(5), raw.len() - 5));
    /// assert_eq!(head.headers.get("host"), Some(&b"mcu"[..]));
    /// # Ok::<(), ocs_http_focus::h1::Error>(())
    /// ```
    pub fn parse(
        buf: &'a [u8],
        limits: &Limits,
        fields: &'a mut Vec<Field>,
    ) -> Result<Option<(RequestHead<'a>, usize)>, Error> {
        match parse_request(buf, limits, fields)? {
            None => Ok(None),
            Some((info, method, target)) => {
                let headers = Fields::new(&buf[..info.len], fields);
                Ok(Some((
                    RequestHead::from_parts(method, target, headers, &info),
                    info.len,
                )))
            }
        }
    }

    pub(crate) fn view(head: &'a [u8], fields: &'a [Field], info: &HeadInfo) -> RequestHead<'a> {
        RequestHead::from_parts(
            HeadInfo::text(head, info.a),
            HeadInfo::text(head, info.b),
            Fields::new(head, fields),
            info,
        )
    }

    fn from_parts(
        method: &'a str,
        target: &'a str,
        headers: Fields<'a>,
        info: &HeadInfo,
    ) -> RequestHead<'a> {
        RequestHead {
            method,
            target,
            version: info.version,
            headers,
            body: info.request_body(),
            expect_continue: info.expects_continue(),
            keep_alive: info.persistent(),
        }
    }

    /// The head as an [`http::Request`] without body, for code built on the `http` crate.
    ///
    /// # Errors
    /// When a part does not fit the `http` crate's types (it is stricter about URIs).
    pub fn to_http(&self) -> Result<http::Request<()>, http::Error> {
        let mut b = http::Request::builder()
            .method(self.method)
            .uri(self.target)
            .version(to_http_version(self.version));
        for (n, v) in self.headers.iter() {
            b = b.header(n, v);
        }
        b.body(())
    }
}

/// A response head, borrowed from the receive buffer.
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: &'a str,
    /// The version.
    pub version: Version,
    /// The header fields (obs-fold already replaced by spaces, RFC 9112 5.2).
    pub headers: Fields<'a>,
    /// How the body is delimited, given the request method this answers.
    pub body: BodyLength,
    /// Whether the connection stays open after this response, on its own say.
    pub keep_alive: bool,
}

impl<'a> ResponseHead<'a> {
    /// Parses a response head at the start of `buf`, answering a request with method
    /// `request_method` (it decides whether a body follows: HEAD, CONNECT). Obsolete line
    /// folds are replaced by spaces in `buf`, which is why it is mutable.
    ///
    /// # Errors
    /// As for [`RequestHead::parse`].
    pub fn parse(
        buf: &'a mut [u8],
        request_method: &str,
        limits: &Limits,
        fields: &'a mut Vec<Field>,
    ) -> Result<Option<(ResponseHead<'a>, usize)>, Error> {
        let Some(info) = parse_response(buf, limits, fields)? else {
            return Ok(None);
        };
        unfold(buf, fields);
        let body = response_body(&info, request_method == "HEAD");
        Ok(Some((
            ResponseHead::view(buf, fields, &info, body),
            info.len,
        )))
    }

    pub(crate) fn view(
        head: &'a [u8],
        fields: &'a [Field],
        info: &HeadInfo,
        body: BodyLength,
    ) -> ResponseHead<'a> {
        ResponseHead {
            status: info.code,
            reason: HeadInfo::text(head, info.a),
            version: info.version,
            headers: Fields::new(head, fields),
            body,
            keep_alive: info.persistent() && body != BodyLength::UntilClose,
        }
    }

    /// The head as an [`http::Response`] without body.
    ///
    /// # Errors
    /// When a part does not fit the `http` crate's types.
    pub fn to_http(&self) -> Result<http::Response<()>, http::Error> {
        let mut b = http::Response::builder()
            .status(self.status)
            .version(to_http_version(self.version));
        for (n, v) in self.headers.iter() {
            b = b.header(n, v);
        }
        b.body(())
    }
}

fn to_http_version(v: Version) -> http::Version {
    match v {
        Version::Http10 => http::Version::HTTP_10,
        Version::Http11 => http::Version::HTTP_11,
    }
}

/// RFC 9112 6.3: how a response's body is delimited.
pub(crate) fn response_body(info: &HeadInfo, to_head: bool) -> BodyLength {
    let f = info.framing;
    if to_head || (100..200).contains(&info.code) || info.code == 204 || info.code == 304 {
        BodyLength::None
    } else if f.chunked {
        BodyLength::Chunked
    } else if let Some(n) = f.content_length {
        BodyLength::Length(n)
    } else {
        BodyLength::UntilClose
    }
}

/// Parses a request head: its positions, and the method and target as httparse checked them.
pub(crate) fn parse_request<'a>(
    buf: &'a [u8],
    limits: &Limits,
    fields: &mut Vec<Field>,
) -> Result<Option<(HeadInfo, &'a str, &'a str)>, Error> {
    let max = limits.max_headers.min(MAX_HEADERS_CAP);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let mut req = httparse::Request::new(&mut []);
    let window = &buf[..buf.len().min(limits.max_head_size)];
    let parsed = req.parse_with_uninit_headers(window, &mut slots[..max]);
    let Some(len) = head_length(parsed, buf, limits, true)? else {
        return Ok(None);
    };
    let head = &buf[..len];
    let base = buf.as_ptr();
    let method = req.method.unwrap_or("");
    let target = req.path.unwrap_or("");
    let version = if req.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    request_line_ends(head, method.as_bytes())?;
    let scan = scan_fields(head, req.headers, fields, true)?;
    if version == Version::Http11 && scan.hosts == 0 {
        return Err(Error::MissingHost { offset: 0 });
    }
    if version == Version::Http10 && scan.te_at.is_some() {
        return Err(Error::UnsupportedTransferCoding {
            offset: scan.te_at.unwrap_or(0),
        });
    }
    if let Some(n) = scan.framing.content_length
        && n > limits.max_body_size
    {
        return Err(Error::BodyTooLarge {
            limit: limits.max_body_size,
            offset: scan.cl_at,
        });
    }
    let info = HeadInfo {
        len,
        a: span(base, method.as_bytes()),
        b: span(base, target.as_bytes()),
        code: 0,
        version,
        framing: scan.framing,
    };
    Ok(Some((info, method, target)))
}

pub(crate) fn parse_response(
    buf: &[u8],
    limits: &Limits,
    fields: &mut Vec<Field>,
) -> Result<Option<HeadInfo>, Error> {
    let max = limits.max_headers.min(MAX_HEADERS_CAP);
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let mut resp = httparse::Response::new(&mut []);
    let window = &buf[..buf.len().min(limits.max_head_size)];
    let mut config = httparse::ParserConfig::default();
    config.allow_obsolete_multiline_headers_in_responses(true);
    let parsed = config.parse_response_with_uninit_headers(&mut resp, window, &mut slots[..max]);
    let Some(len) = head_length(parsed, buf, limits, false)? else {
        return Ok(None);
    };
    let head = &buf[..len];
    check_line_ends(head)?;
    let reason = resp.reason.unwrap_or("");
    let version = if resp.version == Some(0) {
        Version::Http10
    } else {
        Version::Http11
    };
    let scan = scan_fields(head, resp.headers, fields, false)?;
    let code = resp.code.unwrap_or(0);
    if !(100..=999).contains(&code) {
        return Err(Error::InvalidStatusLine { offset: 9 });
    }
    if let Some(n) = scan.framing.content_length
        && n > limits.max_body_size
        && !(100..200).contains(&code)
        && code != 204
        && code != 304
    {
        return Err(Error::BodyTooLarge {
            limit: limits.max_body_size,
            offset: scan.cl_at,
        });
    }
    Ok(Some(HeadInfo {
        len,
        a: span(buf.as_ptr(), reason.as_bytes()),
        b: (0, 0),
        code,
        version,
        framing: scan.framing,
    }))
}

/// httparse's answer as ours: the head's length, `None` for more bytes, or the fault.
fn head_length(
    parsed: Result<httparse::Status<usize>, httparse::Error>,
    buf: &[u8],
    limits: &Limits,
    request: bool,
) -> Result<Option<usize>, Error> {
    match parsed {
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head_size => {
            Err(Error::HeadTooLarge {
                limit: limits.max_head_size,
                offset: 0,
            })
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(Error::TooManyHeaders {
            limit: limits.max_headers.min(MAX_HEADERS_CAP),
            offset: 0,
        }),
        Err(e) => Err(diagnose(
            &buf[..buf.len().min(limits.max_head_size)],
            request,
            e,
        )),
    }
}

fn span(base: *const u8, s: &[u8]) -> (u32, u32) {
    if s.is_empty() {
        // An empty slice may not point into the buffer (httparse gives `""` for no reason).
        return (0, 0);
    }
    ((s.as_ptr() as usize - base as usize) as u32, s.len() as u32)
}

/// httparse accepts a bare LF as a line end; HTTP/1.1 framing needs CRLF (RFC 9112 2.2 lets a
/// recipient accept LF alone, but two parsers that disagree on it can be made to see different
/// messages). A bare CR never gets past httparse.
pub(crate) fn check_line_ends(head: &[u8]) -> Result<(), Error> {
    for at in memchr::memchr_iter(b'\n', head) {
        if at == 0 || head[at - 1] != b'\r' {
            return Err(Error::BareLineFeed { offset: at as u64 });
        }
    }
    Ok(())
}

/// [`check_line_ends`] for a request head, without scanning it again: a request has no folded
/// values, so its line ends are exactly before each field name ([`scan_fields`] checks those)
/// and the final empty line, and only the empty lines httparse skips before the request line
/// can hide another.
fn request_line_ends(head: &[u8], method: &[u8]) -> Result<(), Error> {
    let base = head.as_ptr() as usize;
    let prefix = method.as_ptr() as usize - base;
    if prefix > 0 {
        check_line_ends(&head[..prefix])?;
    }
    if head.len() < 4 || &head[head.len() - 4..] != b"\r\n\r\n" {
        return check_line_ends(head);
    }
    Ok(())
}

/// Replaces the CR, LF (and so the fold) inside folded response field values by spaces.
pub(crate) fn unfold(buf: &mut [u8], fields: &[Field]) {
    for f in fields {
        let v = &mut buf[f.value as usize..(f.value + f.value_len) as usize];
        if memchr::memchr2(b'\r', b'\n', v).is_some() {
            for b in v.iter_mut() {
                if *b == b'\r' || *b == b'\n' {
                    *b = b' ';
                }
            }
        }
    }
}

#[derive(Default)]
pub(crate) struct Scan {
    pub(crate) framing: Framing,
    pub(crate) hosts: u32,
    pub(crate) te_at: Option<u64>,
    pub(crate) cl_at: u64,
}

/// Records the field positions and reads the framing fields, refusing every ambiguity.
pub(crate) fn scan_fields(
    head: &[u8],
    headers: &[httparse::Header<'_>],
    fields: &mut Vec<Field>,
    request: bool,
) -> Result<Scan, Error> {
    fields.clear();
    fields.reserve(headers.len());
    let base = head.as_ptr() as usize;
    let mut scan = Scan::default();
    for h in headers {
        let name = h.name.as_bytes();
        // Names are never empty and always inside the head; an empty value may not be.
        let name_at = (name.as_ptr() as usize).wrapping_sub(base) as u32;
        let value_at = if h.value.is_empty() {
            0
        } else {
            (h.value.as_ptr() as usize).wrapping_sub(base) as u32
        };
        fields.push(Field {
            name: name_at,
            name_len: name.len() as u32,
            value: value_at,
            value_len: h.value.len() as u32,
        });
        // Each field line follows a CRLF (the request line's or the previous field's); a
        // request has no folded values, so this is every line end but the last.
        if request && head[name_at as usize - 2] != b'\r' {
            check_line_ends(&head[..name_at as usize])?;
        }
        let at = u64::from(name_at);
        // Most fields are none of these: the length and first letter rule them out cheaply.
        match (name.len(), name.first().map_or(0, |b| b | 0x20)) {
            (4, b'h') if eq_lower(name, b"host") => {
                scan.hosts += 1;
                if request && scan.hosts > 1 {
                    return Err(Error::DuplicateHost { offset: at });
                }
            }
            (6, b'e') if eq_lower(name, b"expect") => {
                scan.framing.expect_continue |= eq_lower(trim(h.value), b"100-continue");
            }
            (10, b'c') if eq_lower(name, b"connection") => {
                for token in h.value.split(|&b| b == b',').map(trim) {
                    if eq_lower(token, b"close") {
                        scan.framing.close = true;
                    } else if eq_lower(token, b"keep-alive") {
                        scan.framing.keep_alive = true;
                    }
                }
            }
            (14, b'c') if eq_lower(name, b"content-length") => {
                if scan.te_at.is_some() {
                    return Err(Error::ContentLengthWithTransferEncoding { offset: at });
                }
                let value_at = u64::from(value_at);
                for part in h.value.split(|&b| b == b',') {
                    let n = content_length(trim(part))
                        .ok_or(Error::InvalidContentLength { offset: value_at })?;
                    match scan.framing.content_length {
                        Some(m) if m != n => {
                            return Err(Error::ConflictingContentLength { offset: value_at });
                        }
                        _ => scan.framing.content_length = Some(n),
                    }
                }
                scan.cl_at = at;
            }
            (17, b't') if eq_lower(name, b"transfer-encoding") => {
                if scan.framing.content_length.is_some() {
                    return Err(Error::ContentLengthWithTransferEncoding { offset: at });
                }
                let value_at = u64::from(value_at);
                // Exactly one coding in all, and it is chunked: anything else is a coding we
                // cannot undo or a chunked that is not final (RFC 9112 6.3 rule 4).
                for coding in h.value.split(|&b| b == b',').map(trim) {
                    if scan.framing.chunked || !eq_lower(coding, b"chunked") {
                        return Err(Error::UnsupportedTransferCoding { offset: value_at });
                    }
                    scan.framing.chunked = true;
                }
                scan.te_at = Some(at);
            }
            _ => {}
        }
    }
    Ok(scan)
}

/// Case-insensitive equality with a lower-case constant of letters, digits and `-`, eight bytes
/// at a time. Setting bit 5 maps only `A`-`Z` onto `a`-`z`, and CR (0x0D) and some other
/// controls onto `-` and the digits; neither may occur in field names or values (httparse
/// refuses them), so within a head this is exact.
fn eq_lower(a: &[u8], lower: &[u8]) -> bool {
    if a.len() != lower.len() {
        return false;
    }
    let word = |s: &[u8]| u64::from_le_bytes([s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7]]);
    let mut i = 0;
    while i + 8 <= a.len() {
        if word(&a[i..]) | 0x2020_2020_2020_2020 != word(&lower[i..]) {
            return false;
        }
        i += 8;
    }
    a[i..].iter().zip(&lower[i..]).all(|(x, y)| x | 0x20 == *y)
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|&b| b != b' ' && b != b'\t')
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t')
        .map_or(start, |e| e + 1);
    &v[start..end]
}

fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || v.len() > 19 {
        return None;
    }
    let mut n = 0u64;
    for &b in v {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u64::from(b - b'0');
    }
    Some(n)
}

/// RFC 9110 5.6.2 `tchar`.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Finds what httparse refused, and where (it reports only a kind): the first fault in byte
/// order, judged only on the bytes up to it, so that the answer does not depend on how much
/// of the stream has arrived.
pub(crate) fn diagnose(head: &[u8], request: bool, kind: httparse::Error) -> Error {
    let mut i = 0;
    if request {
        while head[i..].starts_with(b"\r\n") {
            i += 2;
        }
    }
    match start_line(head, i, request) {
        Ok(end) => field_lines(head, end, request).unwrap_or_else(|| {
            let offset = head.len() as u64;
            match kind {
                httparse::Error::HeaderName => Error::InvalidHeaderName { offset },
                httparse::Error::HeaderValue => Error::InvalidHeaderValue { offset },
                _ if request => Error::InvalidRequestLine { offset },
                _ => Error::InvalidStatusLine { offset },
            }
        }),
        Err(e) => e,
    }
}

/// [`diagnose`] for a field section on its own (a chunked body's trailers): folds refused as in
/// requests.
pub(crate) fn diagnose_fields(section: &[u8], kind: httparse::Error) -> Error {
    field_lines(section, 0, true).unwrap_or_else(|| {
        let offset = section.len() as u64;
        match kind {
            httparse::Error::HeaderValue => Error::InvalidHeaderValue { offset },
            _ => Error::InvalidHeaderName { offset },
        }
    })
}

/// A line end at `at`: CRLF, or the fault. `Ok(None)` when the bytes run out.
fn line_end(head: &[u8], at: usize) -> Result<Option<usize>, Error> {
    match (head.get(at), head.get(at + 1)) {
        (Some(b'\r'), Some(b'\n')) => Ok(Some(at + 2)),
        (Some(b'\r'), None) | (None, _) => Ok(None),
        (Some(b'\r'), Some(_)) => Err(Error::BareCarriageReturn { offset: at as u64 }),
        (Some(b'\n'), _) => Err(Error::BareLineFeed { offset: at as u64 }),
        (Some(_), _) => Err(Error::InvalidHeaderValue { offset: at as u64 }),
    }
}

/// Checks the start line from `i`; returns where the field lines begin.
fn start_line(head: &[u8], mut i: usize, request: bool) -> Result<usize, Error> {
    let fault = |at: usize| {
        let offset = at as u64;
        if request {
            Error::InvalidRequestLine { offset }
        } else {
            Error::InvalidStatusLine { offset }
        }
    };
    let version = |i: usize| -> Result<usize, Error> {
        for (k, &want) in b"HTTP/1.".iter().enumerate() {
            match head.get(i + k) {
                None => return Ok(head.len()),
                Some(&b) if b == want => {}
                Some(_) if k >= 5 => return Err(Error::UnsupportedVersion { offset: i as u64 }),
                Some(_) => return Err(fault(i + k)),
            }
        }
        match head.get(i + 7) {
            None => Ok(head.len()),
            Some(b'0' | b'1') => Ok(i + 8),
            Some(_) => Err(Error::UnsupportedVersion { offset: i as u64 }),
        }
    };
    let end_of_line = |at: usize| match line_end(head, at) {
        Ok(Some(e)) => Ok(e),
        Ok(None) => Ok(head.len()),
        Err(Error::InvalidHeaderValue { offset }) => Err(fault(offset as usize)),
        Err(e) => Err(e),
    };
    if request {
        let start = i;
        while head.get(i).is_some_and(|&b| is_tchar(b)) {
            i += 1;
        }
        match head.get(i) {
            None => return Ok(head.len()),
            Some(b' ') if i > start => i += 1,
            Some(_) => return Err(fault(i)),
        }
        let target = i;
        while head.get(i).is_some_and(|&b| b > b' ' && b < 0x7f) {
            i += 1;
        }
        match head.get(i) {
            None => return Ok(head.len()),
            Some(b' ') if i > target => i += 1,
            Some(_) => return Err(fault(i)),
        }
        i = version(i)?;
        end_of_line(i)
    } else {
        i = version(i)?;
        for k in 0..4 {
            match (k, head.get(i + k)) {
                (_, None) => return Ok(head.len()),
                (0, Some(b' ')) => {}
                (1..=3, Some(b)) if b.is_ascii_digit() => {}
                _ => return Err(fault(i + k)),
            }
        }
        i += 4;
        match head.get(i) {
            None => return Ok(head.len()),
            Some(b' ') => i += 1,
            Some(b'\r' | b'\n') => return end_of_line(i),
            Some(_) => return Err(fault(i)),
        }
        while head
            .get(i)
            .is_some_and(|&b| b != b'\r' && b != b'\n' && (b >= b' ' || b == b'\t') && b != 0x7f)
        {
            i += 1;
        }
        end_of_line(i)
    }
}

/// Checks the field lines from `at`; `None` when the bytes run out without a fault.
fn field_lines(head: &[u8], mut at: usize, request: bool) -> Option<Error> {
    let value = |mut i: usize| -> Result<Option<usize>, Error> {
        while let Some(&b) = head.get(i) {
            if b == b'\r' || b == b'\n' {
                return line_end(head, i);
            }
            if (b < 0x20 && b != b'\t') || b == 0x7f {
                return Err(Error::InvalidHeaderValue { offset: i as u64 });
            }
            i += 1;
        }
        Ok(None)
    };
    let mut after_field = false;
    loop {
        let first = *head.get(at)?;
        let next = match first {
            b'\r' | b'\n' => return line_end(head, at).err(),
            b' ' | b'\t' if request => return Some(Error::ObsFold { offset: at as u64 }),
            // A continuation needs a field to continue.
            b' ' | b'\t' if !after_field => {
                return Some(Error::InvalidHeaderName { offset: at as u64 });
            }
            b' ' | b'\t' => value(at),
            _ => {
                let mut i = at;
                while head.get(i).is_some_and(|&b| is_tchar(b)) {
                    i += 1;
                }
                match head.get(i) {
                    None => return None,
                    Some(b':') if i > at => value(i + 1),
                    Some(b' ' | b'\t') if i > at => {
                        return Some(Error::WhitespaceBeforeColon { offset: i as u64 });
                    }
                    Some(_) => return Some(Error::InvalidHeaderName { offset: i as u64 }),
                }
            }
        };
        after_field = true;
        match next {
            Ok(Some(n)) => at = n,
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}
