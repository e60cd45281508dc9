//! Resource lists ([RFC 4662] RLMI) and the `multipart/related` bodies ([RFC 2387]) that carry
//! them with one `msrtc-event-categories` part per resource, as a batched presence
//! subscription's NOTIFY and BENOTIFY do ([MS-PRES] 2.2.1.7).
//!
//! [RFC 4662]: https://www.rfc-editor.org/rfc/rfc4662
//! [RFC 2387]: https://www.rfc-editor.org/rfc/rfc2387

use bytes::Bytes;
use bytestring::ByteString;

use super::xml::{self, W, share};
use super::{Error, Limits, ns};

/// An RLMI `<list>`: which resources this notification is about and their state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct List {
    /// The list's URI (the subscriber's own address for an ad-hoc list).
    pub uri: ByteString,
    /// Increases with every notification of the subscription.
    pub version: u32,
    /// Whether the notification carries the full state of every resource.
    pub full_state: bool,
    /// The resources.
    pub resources: Vec<Resource>,
}

/// A `<resource>` of a list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Resource {
    /// The presentity.
    pub uri: ByteString,
    /// Its instances: one when it is subscribed, with the part that carries its state.
    pub instances: Vec<Instance>,
}

/// An `<instance>`: the subscription to one resource and where its state is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Instance {
    /// The instance id.
    pub id: ByteString,
    /// `active`, `pending` or `terminated`.
    pub state: ByteString,
    /// The Content-ID of the part with the resource's categories.
    pub cid: Option<ByteString>,
    /// Why it terminated (`rejected`, `noresource`...).
    pub reason: Option<ByteString>,
}

impl List {
    /// Parses an `application/rlmi+xml` document.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<List, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(Some(ns::RLMI), "list")?;
        let mut list = List {
            uri: share(src, root.need("list", "uri")?),
            version: root.num("list version", "version")?.unwrap_or(0),
            full_state: root
                .attr("fullState")
                .map(|v| xml::parse_bool(v, "list fullState", root.offset))
                .transpose()?
                .unwrap_or(false),
            resources: Vec::new(),
        };
        for r in root.children("resource") {
            let mut res = Resource {
                uri: share(src, r.need("resource", "uri")?),
                instances: Vec::new(),
            };
            for i in r.children("instance") {
                res.instances.push(Instance {
                    id: share(src, i.need("instance", "id")?),
                    state: share(src, i.need("instance", "state")?),
                    cid: i.attr("cid").map(|v| share(src, v)),
                    reason: i.attr("reason").map(|v| share(src, v)),
                });
            }
            list.resources.push(res);
        }
        Ok(list)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("list")
            .attr("xmlns", ns::RLMI)
            .attr("uri", &self.uri)
            .num_attr("version", self.version)
            .attr("fullState", if self.full_state { "true" } else { "false" })
            .gt();
        for r in &self.resources {
            w.open("resource").attr("uri", &r.uri);
            if r.instances.is_empty() {
                w.end_empty();
                continue;
            }
            w.gt();
            for i in &r.instances {
                w.open("instance")
                    .attr("id", &i.id)
                    .attr("state", &i.state)
                    .opt_attr("cid", i.cid.as_deref())
                    .opt_attr("reason", i.reason.as_deref())
                    .end_empty();
            }
            w.close("resource");
        }
        w.close("list");
    }
}

/// One body part of a `multipart/related` body: views of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// Its `Content-Type`, if given.
    pub content_type: Option<Bytes>,
    /// Its `Content-ID` without the angle brackets, if given.
    pub content_id: Option<Bytes>,
    /// The part's body.
    pub body: Bytes,
    /// Where the part's headers begin in the whole body.
    pub offset: usize,
}

/// The `boundary` parameter of a `multipart/*` Content-Type, unquoted.
pub fn boundary(content_type: &str) -> Option<&str> {
    let (kind, params) = content_type.split_once(';')?;
    if !kind.trim().to_ascii_lowercase().starts_with("multipart/") {
        return None;
    }
    params.split(';').find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("boundary")
            .then(|| v.trim().trim_matches('"'))
            .filter(|b| !b.is_empty() && b.len() <= 70)
    })
}

/// Splits a `multipart/*` body ([RFC 2046] §5.1) into its parts, at most `max_parts`.
///
/// [RFC 2046]: https://www.rfc-editor.org/rfc/rfc2046#section-5.1
pub fn parts(body: &Bytes, boundary: &str, max_parts: usize) -> Result<Vec<Part>, Error> {
    let delim = format!("--{boundary}");
    let b = &body[..];
    let find = |from: usize| -> Option<usize> {
        let mut at = from;
        while let Some(i) = memchr::memmem::find(&b[at..], delim.as_bytes()) {
            let p = at + i;
            if p == 0 || b[..p].ends_with(b"\n") {
                return Some(p);
            }
            at = p + 1;
        }
        None
    };
    let Some(mut at) = find(0) else {
        return Err(Error::Multipart {
            cause: "no boundary line",
            offset: 0,
        });
    };
    let mut out = Vec::new();
    loop {
        let after = at + delim.len();
        if b[after..].starts_with(b"--") {
            return Ok(out);
        }
        let Some(eol) = memchr::memchr(b'\n', &b[after..]) else {
            return Err(Error::Multipart {
                cause: "boundary line without an end",
                offset: at,
            });
        };
        let start = after + eol + 1;
        let Some(next) = find(start) else {
            return Err(Error::Multipart {
                cause: "no closing boundary",
                offset: at,
            });
        };
        if out.len() == max_parts {
            return Err(Error::Multipart {
                cause: "too many parts",
                offset: at,
            });
        }
        // The CRLF before the next boundary belongs to it.
        let mut end = next;
        if b[..end].ends_with(b"\r\n") {
            end -= 2;
        } else if b[..end].ends_with(b"\n") {
            end -= 1;
        }
        out.push(part(body, start, end.max(start))?);
        at = next;
    }
}

fn part(body: &Bytes, start: usize, end: usize) -> Result<Part, Error> {
    let b = &body[start..end];
    let (head, body_at) = if b.starts_with(b"\r\n") {
        (&b[..0], 2)
    } else if let Some(i) = memchr::memmem::find(b, b"\r\n\r\n") {
        (&b[..i], i + 4)
    } else {
        return Err(Error::Multipart {
            cause: "part without an empty line after its headers",
            offset: start,
        });
    };
    let mut p = Part {
        content_type: None,
        content_id: None,
        body: body.slice(start + body_at..end),
        offset: start,
    };
    let mut line_at = 0;
    for line in head.split(|&c| c == b'\n') {
        let line_start = start + line_at;
        line_at += line.len() + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = memchr::memchr(b':', line) else {
            return Err(Error::Multipart {
                cause: "part header without a colon",
                offset: line_start,
            });
        };
        let name = &line[..colon];
        let value = line[colon + 1..].trim_ascii();
        let value_at = line_start + (value.as_ptr() as usize - line.as_ptr() as usize);
        let v = body.slice(value_at..value_at + value.len());
        if name.eq_ignore_ascii_case(b"content-type") {
            p.content_type = Some(v);
        } else if name.eq_ignore_ascii_case(b"content-id") {
            let inner = value.strip_prefix(b"<").and_then(|v| v.strip_suffix(b">"));
            p.content_id = Some(match inner {
                Some(i) => body.slice(value_at + 1..value_at + 1 + i.len()),
                None => v,
            });
        }
    }
    Ok(p)
}

/// Writes a `multipart/related` body: each part as (Content-ID, Content-Type, body), with
/// `Content-Transfer-Encoding: binary` as [MS-PRES] shows them. Each body is followed by an
/// empty line, which [`parts`] (like any RFC 2046 reader) keeps as a trailing CRLF of the body:
/// libpurple's MIME reader, which pidgin-sipe uses, drops the last four bytes of every part.
pub fn write_related(out: &mut Vec<u8>, boundary: &str, parts: &[(&str, &str, &[u8])]) {
    for (cid, ctype, body) in parts {
        out.extend_from_slice(b"--");
        out.extend_from_slice(boundary.as_bytes());
        out.extend_from_slice(b"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <");
        out.extend_from_slice(cid.as_bytes());
        out.extend_from_slice(b">\r\nContent-Type: ");
        out.extend_from_slice(ctype.as_bytes());
        out.extend_from_slice(b"\r\n\r\n");
        out.extend_from_slice(body);
        out.extend_from_slice(b"\r\n\r\n");
    }
    out.extend_from_slice(b"--");
    out.extend_from_slice(boundary.as_bytes());
    out.extend_from_slice(b"--\r\n");
}

/// The Content-Type of a body from [`write_related`] whose first part is the RLMI list.
pub fn related_content_type(boundary: &str, start: &str) -> String {
    format!(
        "multipart/related; type=\"application/rlmi+xml\"; start=\"<{start}>\"; boundary={boundary}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_round_trip() {
        let mut body = Vec::new();
        write_related(
            &mut body,
            "abc123",
            &[
                ("id1", "application/rlmi+xml", b"<list/>"),
                ("id2", "text/plain", b"x\r\ny"),
            ],
        );
        let body = Bytes::from(body);
        let ct = related_content_type("abc123", "id1");
        let b = boundary(&ct).unwrap();
        assert_eq!(b, "abc123");
        let p = parts(&body, b, 8).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(p[0].content_id.as_deref(), Some(&b"id1"[..]));
        assert_eq!(
            p[0].content_type.as_deref(),
            Some(&b"application/rlmi+xml"[..])
        );
        assert_eq!(&p[0].body[..], b"<list/>\r\n");
        assert_eq!(&p[1].body[..], b"x\r\ny\r\n");
        assert!(matches!(
            parts(&body, b, 1),
            Err(Error::Multipart {
                cause: "too many parts",
                ..
            })
        ));
        let cut = body.slice(..body.len() - 12);
        assert!(matches!(
            parts(&cut, b, 8),
            Err(Error::Multipart {
                cause: "no closing boundary",
                ..
            })
        ));
    }
}
