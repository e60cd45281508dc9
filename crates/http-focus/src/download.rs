//! Serving Address Book files and meeting content: validators, conditional requests and byte
//! ranges (RFC 9110 sections 8.8, 13 and 14), decided without I/O.
//!
//! ```
//! use ocs_http_focus::download::{evaluate, Resource};
//! use ocs_http_focus::h1::{Connection, Event, Role};
//!
//! let content = b"0123456789";
//! let res = Resource::new(content, 1_200_960_000, "application/octet-stream");
//! let mut server = Connection::new(Role::Server);
//! server.receive_data(b"GET /abs/handler/F-0A11.lsabs HTTP/1.1\r\nHost: pool\r\nRange: bytes=2-4\r\n\r\n");
//! let Event::Request(head) = server.next_event().unwrap() else { panic!() };
//! let reply = evaluate(&head, &res);
//! assert_eq!((reply.status, &content[reply.body.clone()]), (206, &b"234"[..]));
//! while !matches!(server.next_event().unwrap(), ocs_http_focus::h1::Event::Paused) {}
//! let mut out = Vec::new();
//! reply.send(&mut server, &res, &mut out).unwrap();
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("HTTP/1.1 206 Partial Content\r\n"));
//! assert!(text.contains("content-range: bytes 2-4/10\r\n"));
//! assert!(text.ends_with("content-length: 3\r\n\r\n234"));
//! ```

use std::fmt::Write as _;
use std::ops::Range;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sha1::{Digest, Sha1};

use crate::h1::{Connection, Fields, RequestHead, SendError};

/// Most ranges looked at in one Range field; more and the field is ignored (RFC 9110 14.2
/// lets a server ignore a Range it finds abusive).
pub const MAX_RANGES: usize = 16;

/// A file to serve, with its validators.
#[derive(Debug, Clone)]
pub struct Resource<'a> {
    /// The bytes.
    pub body: &'a [u8],
    /// The strong entity tag, quotes included.
    pub etag: String,
    /// Last modification, seconds since the Unix epoch.
    pub last_modified: u64,
    /// The media type.
    pub content_type: &'a str,
}

impl<'a> Resource<'a> {
    /// A resource whose ETag is derived from its bytes: `"` + the first 32 hex digits of their
    /// SHA-1 + `"` (strong: it changes whenever a byte does).
    #[must_use]
    pub fn new(body: &'a [u8], last_modified: u64, content_type: &'a str) -> Resource<'a> {
        Resource {
            body,
            etag: etag_of(body),
            last_modified,
            content_type,
        }
    }
}

/// The strong ETag of some bytes, as [`Resource::new`] makes it.
#[must_use]
pub fn etag_of(body: &[u8]) -> String {
    let digest = Sha1::digest(body);
    let mut s = String::with_capacity(34);
    s.push('"');
    for b in &digest[..16] {
        let _ = write!(s, "{b:02x}");
    }
    s.push('"');
    s
}

/// The media type for a file name: Address Book files are `application/octet-stream`
/// (our choice: no type is registered for them); meeting content by common extension.
#[must_use]
pub fn content_type_for(name: &str) -> &'static str {
    let ext = name
        .rsplit_once('.')
        .map_or("", |(_, e)| e)
        .to_ascii_lowercase();
    match ext.as_str() {
        "lsabs" | "dabs" => "application/octet-stream",
        "xml" => "application/xml",
        "htm" | "html" => "text/html",
        "txt" => "text/plain",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "ppt" => "application/vnd.ms-powerpoint",
        "pptx" => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "doc" => "application/msword",
        "docx" => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "wmv" => "video/x-ms-wmv",
        _ => "application/octet-stream",
    }
}

/// An HTTP date (IMF-fixdate) for seconds since the Unix epoch.
#[must_use]
pub fn http_date(secs: u64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Seconds since the Unix epoch of an HTTP date in any of the three forms of RFC 9110 5.6.7.
#[must_use]
pub fn parse_http_date(value: &[u8]) -> Option<u64> {
    let t = httpdate::parse_http_date(std::str::from_utf8(value).ok()?.trim()).ok()?;
    t.duration_since(SystemTime::UNIX_EPOCH)
        .ok()
        .map(|d| d.as_secs())
}

/// The decision for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// 200, 206, 304, 405, 412 or 416.
    pub status: u16,
    /// Header fields to send (Content-Length included).
    pub headers: Vec<(&'static str, String)>,
    /// The bytes of the resource the body is (for HEAD, what a GET would send).
    pub body: Range<usize>,
    /// Whether a body is sent (not for HEAD).
    pub send_body: bool,
}

impl Reply {
    /// Sends this reply on `conn`: head, the body range (none for HEAD) and the end.
    ///
    /// # Errors
    /// The connection cannot send a response now.
    pub fn send(
        &self,
        conn: &mut Connection,
        res: &Resource<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let reason = match self.status {
            200 => "OK",
            206 => "Partial Content",
            304 => "Not Modified",
            405 => "Method Not Allowed",
            412 => "Precondition Failed",
            _ => "Range Not Satisfiable",
        };
        conn.send_response(
            self.status,
            reason,
            self.headers.iter().map(|(n, v)| (*n, v.as_str())),
            out,
        )?;
        if self.send_body {
            conn.send_data(&res.body[self.body.clone()], out)?;
        }
        conn.send_end_of_message(&[] as &[(&str, &str)], out)
    }
}

/// Decides the answer to a GET or HEAD of `res`: RFC 9110 13.2.2's order of preconditions
/// (If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since), then If-Range and Range.
/// Several ranges are served when they merge into one; otherwise the whole file is sent
/// (a server may ignore Range; multipart/byteranges is not produced: our choice).
#[must_use]
pub fn evaluate(req: &RequestHead<'_>, res: &Resource<'_>) -> Reply {
    let len = res.body.len();
    let validators = || {
        vec![
            ("etag", res.etag.clone()),
            ("last-modified", http_date(res.last_modified)),
        ]
    };
    let send_body = req.method != "HEAD";
    let reply = |status, mut headers: Vec<(&'static str, String)>, body: Range<usize>| {
        headers.push(("content-length", (body.end - body.start).to_string()));
        Reply {
            status,
            headers,
            body,
            send_body,
        }
    };
    let get = req.method == "GET" || req.method == "HEAD";
    if !get {
        return reply(405, vec![("allow", "GET, HEAD".into())], 0..0);
    }
    let h = &req.headers;
    if let Some(im) = h.get("if-match") {
        if !matches_etag(im, &res.etag, true) {
            return reply(412, Vec::new(), 0..0);
        }
    } else if let Some(t) = h.get("if-unmodified-since").and_then(parse_http_date)
        && res.last_modified > t
    {
        return reply(412, Vec::new(), 0..0);
    }
    if let Some(inm) = h.get("if-none-match") {
        if matches_etag(inm, &res.etag, false) {
            return not_modified(validators());
        }
    } else if let Some(t) = h.get("if-modified-since").and_then(parse_http_date)
        && res.last_modified <= t
    {
        return not_modified(validators());
    }
    let mut headers = validators();
    headers.push(("accept-ranges", "bytes".into()));
    headers.push(("content-type", res.content_type.into()));
    if req.method == "GET"
        && let Some(range) = h.get("range")
        && if_range_holds(h, res)
    {
        match byte_range(range, len) {
            RangeAnswer::Ignore => {}
            RangeAnswer::Unsatisfiable => {
                headers.push(("content-range", format!("bytes */{len}")));
                return reply(416, headers, 0..0);
            }
            RangeAnswer::Range(r) => {
                headers.push((
                    "content-range",
                    format!("bytes {}-{}/{len}", r.start, r.end - 1),
                ));
                return reply(206, headers, r);
            }
        }
    }
    reply(200, headers, 0..len)
}

fn not_modified(headers: Vec<(&'static str, String)>) -> Reply {
    Reply {
        status: 304,
        headers,
        body: 0..0,
        send_body: false,
    }
}

/// RFC 9110 13.1.3: If-Range with an entity tag holds on a strong match, with a date on an
/// exact match of Last-Modified.
fn if_range_holds(h: &Fields<'_>, res: &Resource<'_>) -> bool {
    match h.get("if-range") {
        None => true,
        Some(v) if v.trim_ascii().starts_with(b"\"") => v.trim_ascii() == res.etag.as_bytes(),
        Some(v) => parse_http_date(v) == Some(res.last_modified),
    }
}

/// RFC 9110 8.8.3.2: `*` or a list of entity tags; weak comparison ignores `W/`.
fn matches_etag(list: &[u8], etag: &str, strong: bool) -> bool {
    let list = list.trim_ascii();
    if list == b"*" {
        return true;
    }
    list.split(|&b| b == b',').map(<[u8]>::trim_ascii).any(|t| {
        let (weak, tag) = match t.strip_prefix(b"W/") {
            Some(rest) => (true, rest),
            None => (false, t),
        };
        tag == etag.as_bytes() && !(strong && weak)
    })
}

enum RangeAnswer {
    Ignore,
    Unsatisfiable,
    Range(Range<usize>),
}

/// RFC 9110 14.1.2 `bytes=` ranges, merged; a syntax error means the field is ignored.
fn byte_range(value: &[u8], len: usize) -> RangeAnswer {
    let Some(spec) = value.trim_ascii().strip_prefix(b"bytes=") else {
        return RangeAnswer::Ignore;
    };
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for (i, part) in spec
        .split(|&b| b == b',')
        .map(<[u8]>::trim_ascii)
        .enumerate()
    {
        if i == MAX_RANGES {
            return RangeAnswer::Ignore;
        }
        let Some(dash) = part.iter().position(|&b| b == b'-') else {
            return RangeAnswer::Ignore;
        };
        let num = |s: &[u8]| -> Option<u64> {
            if s.is_empty() || s.len() > 19 || !s.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(s).ok()?.parse().ok()
        };
        let (first, last) = (&part[..dash], &part[dash + 1..]);
        let len64 = len as u64;
        let r = match (first.is_empty(), last.is_empty()) {
            (true, false) => {
                let Some(n) = num(last) else {
                    return RangeAnswer::Ignore;
                };
                if n == 0 {
                    continue;
                }
                len64.saturating_sub(n)..len64
            }
            (false, _) => {
                let Some(a) = num(first) else {
                    return RangeAnswer::Ignore;
                };
                let b = if last.is_empty() {
                    u64::MAX
                } else {
                    match num(last) {
                        Some(b) if b >= a => b,
                        _ => return RangeAnswer::Ignore,
                    }
                };
                if a >= len64 {
                    continue;
                }
                a..b.min(len64 - 1) + 1
            }
            (true, true) => return RangeAnswer::Ignore,
        };
        ranges.push(r.start as usize..r.end as usize);
    }
    if ranges.is_empty() {
        return RangeAnswer::Unsatisfiable;
    }
    ranges.sort_by_key(|r| r.start);
    let mut merged = ranges[0].clone();
    for r in &ranges[1..] {
        if r.start > merged.end {
            return RangeAnswer::Ignore;
        }
        merged.end = merged.end.max(r.end);
    }
    RangeAnswer::Range(merged)
}
