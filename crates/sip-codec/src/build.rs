//! Building requests and responses, written into a caller's buffer.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;
use crate::message::Message;
use crate::name::HeaderName;

/// Builds a request or a response. Headers are written in the order added; Content-Length is
/// computed.
///
/// ```
/// use ocs_sip_codec::build::MessageBuilder;
/// let msg = MessageBuilder::request("SERVICE", "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16")
///     .header("Via", "SIP/2.0/TLS 192.0.2.7:4321;branch=z9hG4bK1")
///     .header("From", "<sip:bob@contoso.com>;tag=7d1c")
///     .header("To", "<sip:alice@contoso.com>")
///     .header("Call-ID", "0a1b2c")
///     .header("CSeq", "1 SERVICE")
///     .header("Max-Forwards", "70")
///     .body("application/cccp+xml", b"<request/>")
///     .build()
///     .unwrap();
/// assert_eq!(msg.method(), Some("SERVICE"));
/// assert_eq!(&msg.body()[..], b"<request/>");
/// msg.validate().unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct MessageBuilder<'a> {
    start: Start<'a>,
    headers: Vec<(&'a str, String)>,
    content_type: Option<&'a str>,
    body: &'a [u8],
}

#[derive(Debug, Clone)]
enum Start<'a> {
    Request {
        method: &'a str,
        uri: std::borrow::Cow<'a, str>,
    },
    Response {
        code: u16,
        reason: &'a str,
    },
}

impl<'a> MessageBuilder<'a> {
    /// A request with this method and Request-URI.
    #[must_use]
    pub fn request(method: &'a str, uri: &'a str) -> Self {
        Self::new(Start::Request {
            method,
            uri: uri.into(),
        })
    }

    /// A request whose Request-URI was computed (a dialog's remote target, say).
    #[must_use]
    pub fn request_owned(method: &'a str, uri: String) -> Self {
        Self::new(Start::Request {
            method,
            uri: uri.into(),
        })
    }

    /// A response with this status code and reason phrase.
    #[must_use]
    pub fn response(code: u16, reason: &'a str) -> Self {
        Self::new(Start::Response { code, reason })
    }

    fn new(start: Start<'a>) -> Self {
        MessageBuilder {
            start,
            headers: Vec::new(),
            content_type: None,
            body: &[],
        }
    }

    /// Adds a header line.
    #[must_use]
    pub fn header(mut self, name: &'a str, value: impl ToString) -> Self {
        self.headers.push((name, value.to_string()));
        self
    }

    /// Sets the body and its Content-Type.
    #[must_use]
    pub fn body(mut self, content_type: &'a str, body: &'a [u8]) -> Self {
        self.content_type = Some(content_type);
        self.body = body;
        self
    }

    /// Writes the message into `buf`.
    pub fn write(&self, buf: &mut impl BufMut) {
        match &self.start {
            Start::Request { method, uri } => put(buf, &[method, " ", uri, " SIP/2.0\r\n"]),
            Start::Response { code, reason } => {
                put(buf, &["SIP/2.0 ", &code.to_string(), " ", reason, "\r\n"])
            }
        }
        for (n, v) in &self.headers {
            put(buf, &[n, ": ", v, "\r\n"]);
        }
        if let Some(ct) = self.content_type {
            put(buf, &["Content-Type: ", ct, "\r\n"]);
        }
        let len = self.body.len().to_string();
        put(buf, &["Content-Length: ", &len, "\r\n\r\n"]);
        buf.put_slice(self.body);
    }

    /// Writes and parses the message, which checks it.
    pub fn build(&self) -> Result<Message, Error> {
        let mut b = BytesMut::new();
        self.write(&mut b);
        Message::parse(b.freeze())
    }
}

fn put(buf: &mut impl BufMut, parts: &[&str]) {
    for p in parts {
        buf.put_slice(p.as_bytes());
    }
}

impl Message {
    /// Starts a response to this request as RFC 3261 §8.2.6 says: the Via lines in order, From,
    /// Call-ID and CSeq copied, To copied with `to_tag` added when the request's To has no tag
    /// (not for 100 Trying, §8.2.6.1), and Record-Route copied into responses that can create a
    /// dialog (1xx above 100 and 2xx to INVITE and SUBSCRIBE, §12.1.1). The to-tag comes from the
    /// caller, which owns randomness.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use ocs_sip_codec::Message;
    /// let req = Message::parse(Bytes::from_static(b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
    ///     From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n")).unwrap();
    /// let resp = req.response(180, "Ringing", "9fxced76sl").build().unwrap();
    /// assert_eq!(resp.status(), Some(180));
    /// assert_eq!(resp.to().unwrap().tag(), Some("9fxced76sl"));
    /// ```
    #[must_use]
    pub fn response<'a>(
        &'a self,
        code: u16,
        reason: &'a str,
        to_tag: &'a str,
    ) -> MessageBuilder<'a> {
        let mut r = MessageBuilder::response(code, reason);
        let dialog_creating =
            (101..300).contains(&code) && matches!(self.method(), Some("INVITE" | "SUBSCRIBE"));
        for h in self.headers() {
            match h.kind {
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    r.headers.push((h.canonical_name(), h.value.to_string()));
                }
                HeaderName::RecordRoute if dialog_creating => {
                    r.headers.push((h.canonical_name(), h.value.to_string()));
                }
                HeaderName::To => {
                    let has_tag = self.to().map(|t| t.tag().is_some()).unwrap_or(true);
                    let v = if has_tag || code == 100 || to_tag.is_empty() {
                        h.value.to_string()
                    } else {
                        format!("{};tag={to_tag}", h.value)
                    };
                    r.headers.push(("To", v));
                }
                _ => {}
            }
        }
        r
    }

    /// The message's bytes as one shared buffer (copies head and body once).
    #[must_use]
    pub fn to_bytes(&self) -> Bytes {
        Bytes::from(self.to_vec())
    }

    /// This message with one more header line, placed right after the start line (where a
    /// signature header such as [MS-SIPAE] `Authentication-Info` goes once the rest is fixed).
    ///
    /// # Errors
    /// A name or value that makes the message unparsable (a CR or LF in the value, say).
    pub fn with_header(&self, name: &str, value: &str) -> Result<Message, Error> {
        let head = self.head();
        let line_end = head.find("\r\n").map_or(head.len(), |i| i + 2);
        let mut b = BytesMut::with_capacity(self.len() + name.len() + value.len() + 4);
        b.put_slice(&head.as_bytes()[..line_end]);
        put(&mut b, &[name, ": ", value, "\r\n"]);
        b.put_slice(&head.as_bytes()[line_end..]);
        b.put_slice(self.body());
        Message::parse(b.freeze())
    }

    /// This message without any header line of the kinds in `names` (folded lines included);
    /// the message itself, shared, when it has none. A proxy removes the credentials meant for
    /// it this way before forwarding (RFC 3261 §22.3), or a signature of the previous hop.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use ocs_sip_codec::{HeaderName, Message};
    /// let m = Message::parse(Bytes::from_static(b"MESSAGE sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
    ///     Authorization: NTLM opaque=\"1\"\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\n\
    ///     CSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\r\nhi")).unwrap();
    /// let out = m.without(&[HeaderName::Authorization]).unwrap();
    /// assert!(out.header(HeaderName::Authorization).is_none());
    /// assert_eq!(out.header_count(), m.header_count() - 1);
    /// assert_eq!(&out.body()[..], b"hi");
    /// ```
    ///
    /// # Errors
    /// None in practice (the rest of a valid message stays valid); the parse error otherwise.
    pub fn without(&self, names: &[HeaderName]) -> Result<Message, Error> {
        let headers: Vec<_> = self.headers().collect();
        if !headers.iter().any(|h| names.contains(&h.kind)) {
            return Ok(self.clone());
        }
        let head = self.head().as_bytes();
        // The header section ends with the empty line: the last header line ends 2 bytes before.
        let end = head.len().saturating_sub(2);
        let first = headers.first().map_or(end, |h| h.offset);
        let mut b = BytesMut::with_capacity(self.len());
        b.put_slice(&head[..first]);
        for (i, h) in headers.iter().enumerate() {
            let line_end = headers.get(i + 1).map_or(end, |n| n.offset);
            if !names.contains(&h.kind) {
                b.put_slice(&head[h.offset..line_end]);
            }
        }
        b.put_slice(&head[end..]);
        b.put_slice(self.body());
        Message::parse(b.freeze())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_copies_per_8_2_6() {
        let req = Message::parse(Bytes::from_static(
            b"INVITE sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP p1;branch=z9hG4bK2\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
              Record-Route: <sip:p1;lr>\r\nFrom: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 INVITE\r\n\
              Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
        ))
        .unwrap();
        let ok = req.response(200, "OK", "abc").build().unwrap();
        let vias: Vec<_> = ok.via().map(|v| v.unwrap().branch().unwrap()).collect();
        assert_eq!(vias, ["z9hG4bK2", "z9hG4bK1"]);
        assert_eq!(ok.record_routes().count(), 1);
        assert_eq!(ok.to().unwrap().tag(), Some("abc"));
        assert!(ok.max_forwards().is_none());
        ok.validate().unwrap();
        let trying = req.response(100, "Trying", "abc").build().unwrap();
        assert_eq!(trying.to().unwrap().tag(), None);
        assert_eq!(trying.record_routes().count(), 0);
    }
}
