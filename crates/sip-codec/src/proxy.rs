//! What a stateful proxy does to the messages it relays (RFC 3261 §16): the request copied and
//! rewritten for each branch (§16.6), the top Via taken off a response going upstream (§16.7
//! step 3), the best final response chosen among the branches (§16.7 step 6), and the CANCEL
//! for a pending INVITE branch (§9.1, §16.10).
//!
//! These are pure functions of the message: the proxy's own choices — the target, its Via with
//! a fresh branch, its Record-Route values, which Route entries name it — come in as
//! arguments. Every function writes the new message into a caller's [`BufMut`] (`*_into`) or
//! returns it parsed.
//!
//! ```
//! use bytes::Bytes;
//! use ocs_sip_codec::Message;
//! use ocs_sip_codec::proxy::{self, Branch};
//!
//! let invite = Message::parse(Bytes::from_static(
//!     b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
//!       Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8\r\n\
//!       Max-Forwards: 70\r\nTo: Bob <sip:bob@biloxi.com>\r\n\
//!       From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
//!       Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n",
//! )).unwrap();
//! let branch = Branch {
//!     target: "sip:bob@192.0.2.4",
//!     via: "SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1",
//!     record_route: &["<sip:bigbox3.site3.atlanta.com;lr>"],
//!     route: &[],
//! };
//! let fwd = proxy::forward(&invite, &branch, |_| false).unwrap();
//! assert_eq!(fwd.max_forwards().unwrap().unwrap(), 69);
//! assert_eq!(fwd.via().count(), 2);
//! assert_eq!(fwd.record_routes().count(), 1);
//!
//! let cancel = proxy::cancel(&fwd).unwrap();
//! assert_eq!(cancel.cseq().unwrap().method, "CANCEL");
//! assert_eq!(cancel.top_via().unwrap().branch(), Some("z9hG4bK77ef4c2312983.1"));
//! ```

use bytes::{BufMut, BytesMut};

use crate::headers::NameAddr;
use crate::uri::Uri;
use crate::{Error, HeaderName, Message, StartLine};

/// Why a message could not be relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// A request was expected (forward, CANCEL) and this is a response, or the reverse.
    #[error("a {expected} was expected")]
    WrongKind {
        /// `"request"` or `"response"`.
        expected: &'static str,
    },
    /// Max-Forwards is 0: the request must be answered 483 (§16.3 step 3), not forwarded.
    #[error("Max-Forwards is 0 at byte {offset}: answer 483 Too Many Hops")]
    TooManyHops {
        /// Where the Max-Forwards value starts.
        offset: usize,
    },
    /// The response has a single Via: it was meant for this element, not for one upstream
    /// (§16.7 step 3).
    #[error("the response has no Via left once ours is removed")]
    NoViaLeft,
    /// A header the operation needs is missing.
    #[error("no {0} header")]
    Missing(&'static str),
    /// A header the operation reads does not parse, or the result does not parse.
    #[error(transparent)]
    Message(#[from] Error),
}

/// One branch of a forwarded request: what this proxy chose for it.
#[derive(Debug, Clone, Copy)]
pub struct Branch<'a> {
    /// The Request-URI of the copy (§16.6 step 2): a registered contact, or the Request-URI
    /// itself.
    pub target: &'a str,
    /// This proxy's Via value, with a branch unique to this branch (§16.6 step 8).
    pub via: &'a str,
    /// Record-Route values this proxy inserts, top first (§16.6 step 4); empty for none. Two
    /// when the branch leaves on another transport than the request came in on (RFC 5658).
    pub record_route: &'a [&'a str],
    /// Route values this proxy pushes on top of what is left of the request's route set, top
    /// first (§16.6 step 7): the Path of the registration the target came from (RFC 3327
    /// §5.3), or proxies its policy sends through; empty for none.
    pub route: &'a [&'a str],
}

/// The request copied and rewritten for one branch, as RFC 3261 §16.6 says: the Request-URI
/// replaced (step 2), Max-Forwards decremented or added with 70 (step 3), the Record-Route
/// values inserted on top (step 4), the leading Route entries that name this proxy removed
/// (§16.4; `is_ours` tells, for each entry's URI), the branch's Route values pushed on top of
/// the rest (step 7), this proxy's Via on top (step 8). Everything
/// else, the body included, is copied as it was.
///
/// # Errors
/// [`ProxyError::TooManyHops`] when Max-Forwards is 0; a response; a Max-Forwards or Route
/// that does not parse; a target, Via or Record-Route that makes the result unparsable.
pub fn forward(
    req: &Message,
    branch: &Branch<'_>,
    is_ours: impl Fn(&Uri<'_>) -> bool,
) -> Result<Message, ProxyError> {
    let mut out = BytesMut::with_capacity(req.len() + 256);
    forward_into(req, branch, is_ours, &mut out)?;
    Ok(Message::parse(out.freeze())?)
}

/// [`forward`], written into `buf` (nothing is written on error).
///
/// # Errors
/// As [`forward`], except that the result is not parsed back.
pub fn forward_into(
    req: &Message,
    branch: &Branch<'_>,
    is_ours: impl Fn(&Uri<'_>) -> bool,
    buf: &mut impl BufMut,
) -> Result<(), ProxyError> {
    let StartLine::Request { method, .. } = req.start_line() else {
        return Err(ProxyError::WrongKind {
            expected: "request",
        });
    };
    let max_forwards = match req.header(HeaderName::MaxForwards) {
        Some(h) => {
            let n = req.max_forwards().transpose()?.unwrap_or(70);
            if n == 0 {
                return Err(ProxyError::TooManyHops {
                    offset: h.value_offset,
                });
            }
            n - 1
        }
        None => 70,
    };
    // How many leading Route entries are ours, over every Route line (a line may hold several).
    let mut ours = 0usize;
    for r in req.routes() {
        if is_ours(&r?.uri) {
            ours += 1;
        } else {
            break;
        }
    }
    put(buf, &[method, " ", branch.target, " SIP/2.0\r\n"]);
    put(buf, &["Via: ", branch.via, "\r\n"]);
    for rr in branch.record_route {
        put(buf, &["Record-Route: ", rr, "\r\n"]);
    }
    // Above the request's own Route lines: pushed on top of its route set.
    for r in branch.route {
        put(buf, &["Route: ", r, "\r\n"]);
    }
    let mut mf_written = false;
    let mut skip = ours;
    for h in req.headers() {
        match h.kind {
            HeaderName::MaxForwards if !mf_written => {
                mf_written = true;
                put(buf, &[h.name, ": ", &max_forwards.to_string(), "\r\n"]);
            }
            HeaderName::MaxForwards => {}
            HeaderName::Route => {
                // Our leading entries go; a line left with none (or that had none) goes too.
                let mut values = h.values().map(|(v, _)| v);
                while skip > 0 && values.next().is_some() {
                    skip -= 1;
                }
                put_list(buf, h.name, values);
            }
            _ => put(buf, &[h.name, ": ", h.value, "\r\n"]),
        }
    }
    if !mf_written {
        put(buf, &["Max-Forwards: ", &max_forwards.to_string(), "\r\n"]);
    }
    buf.put_slice(b"\r\n");
    buf.put_slice(req.body());
    Ok(())
}

/// The response with its top Via value removed, for the element upstream (§16.7 step 3). The
/// other values of the first Via line stay on it.
///
/// # Errors
/// [`ProxyError::NoViaLeft`] when the response had one Via (it was for this element); a
/// request; a message without Via, or with a Via value that does not parse.
pub fn strip_top_via(resp: &Message) -> Result<Message, ProxyError> {
    let mut out = BytesMut::with_capacity(resp.len());
    strip_top_via_into(resp, &mut out)?;
    Ok(Message::parse(out.freeze())?)
}

/// [`strip_top_via`], written into `buf` (nothing is written on error).
///
/// # Errors
/// As [`strip_top_via`].
pub fn strip_top_via_into(resp: &Message, buf: &mut impl BufMut) -> Result<(), ProxyError> {
    if resp.is_request() {
        return Err(ProxyError::WrongKind {
            expected: "response",
        });
    }
    // Every Via must be one (an empty list element, say, is not): the one we remove is the
    // first of them, and the next element upstream must be where the response goes.
    for v in resp.via() {
        v?;
    }
    let vias: usize = resp
        .headers_named(HeaderName::Via)
        .map(|h| h.values().count())
        .sum();
    match vias {
        0 => return Err(ProxyError::Missing("Via")),
        1 => return Err(ProxyError::NoViaLeft),
        _ => {}
    }
    let head = resp.head();
    let first_line = head.split("\r\n").next().unwrap_or_default();
    put(buf, &[first_line, "\r\n"]);
    // The first Via value goes wherever its line is; lines left with none (or that had
    // none) go too.
    let mut removed = false;
    for h in resp.headers() {
        if h.kind == HeaderName::Via {
            let mut values = h.values().map(|(v, _)| v);
            if !removed && values.next().is_some() {
                removed = true;
            }
            put_list(buf, h.name, values);
            continue;
        }
        put(buf, &[h.name, ": ", h.value, "\r\n"]);
    }
    buf.put_slice(b"\r\n");
    buf.put_slice(resp.body());
    Ok(())
}

/// The CANCEL for a pending INVITE sent by this element (§9.1): the INVITE's Request-URI, its
/// top Via (so the CANCEL matches the branch), Call-ID, From, To and Route, and its CSeq number
/// with the method CANCEL; Max-Forwards 70, no body.
///
/// # Errors
/// Not an INVITE request; a missing or unparsable Via, From, To, Call-ID or CSeq.
pub fn cancel(invite: &Message) -> Result<Message, ProxyError> {
    let StartLine::Request { method, uri } = invite.start_line() else {
        return Err(ProxyError::WrongKind {
            expected: "request",
        });
    };
    if method != "INVITE" {
        return Err(ProxyError::WrongKind {
            expected: "request",
        });
    }
    let top_via = invite
        .header(HeaderName::Via)
        .and_then(|h| h.values().next())
        .map(|(v, _)| v)
        .ok_or(ProxyError::Missing("Via"))?;
    let seq = invite.cseq()?.seq;
    let header = |n: HeaderName, what: &'static str| {
        invite
            .header(n)
            .map(|h| h.value)
            .ok_or(ProxyError::Missing(what))
    };
    let mut out = BytesMut::with_capacity(invite.head().len());
    put(&mut out, &["CANCEL ", uri, " SIP/2.0\r\n"]);
    put(&mut out, &["Via: ", top_via, "\r\n"]);
    put(&mut out, &["Max-Forwards: 70\r\n"]);
    put(
        &mut out,
        &["From: ", header(HeaderName::From, "From")?, "\r\n"],
    );
    put(&mut out, &["To: ", header(HeaderName::To, "To")?, "\r\n"]);
    put(&mut out, &["Call-ID: ", invite.call_id()?, "\r\n"]);
    put(&mut out, &["CSeq: ", &seq.to_string(), " CANCEL\r\n"]);
    for r in invite.headers_named(HeaderName::Route) {
        put(&mut out, &["Route: ", r.value, "\r\n"]);
    }
    put(&mut out, &["Content-Length: 0\r\n\r\n"]);
    Ok(Message::parse(out.freeze())?)
}

/// Whether a final response `code` beats the best one so far, `best` (§16.7 step 6): a 6xx
/// wins over everything, else the lowest class; within a class the first one stays.
#[must_use]
pub fn beats(code: u16, best: u16) -> bool {
    if best >= 600 {
        return false;
    }
    if code >= 600 {
        return true;
    }
    code / 100 < best / 100
}

/// Whether the Route value `value` (one `name-addr`) has a URI for which `is_ours` holds.
#[must_use]
pub fn route_names(value: &str, is_ours: impl Fn(&Uri<'_>) -> bool) -> bool {
    NameAddr::parse(value).is_ok_and(|n| is_ours(&n.uri))
}

/// A header line with these list values, or nothing when there are none.
fn put_list<'a>(buf: &mut impl BufMut, name: &str, values: impl Iterator<Item = &'a str>) {
    let mut values = values.peekable();
    if values.peek().is_none() {
        return;
    }
    put(buf, &[name, ": "]);
    for (i, v) in values.enumerate() {
        if i > 0 {
            buf.put_slice(b", ");
        }
        buf.put_slice(v.as_bytes());
    }
    buf.put_slice(b"\r\n");
}

fn put(buf: &mut impl BufMut, parts: &[&str]) {
    for p in parts {
        buf.put_slice(p.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn msg(s: &str) -> Message {
        Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
    }

    fn text(m: &Message) -> String {
        String::from_utf8(m.to_vec()).unwrap()
    }

    fn host_is(name: &'static str) -> impl Fn(&Uri<'_>) -> bool {
        move |u| {
            u.as_sip()
                .is_some_and(|s| s.host.to_string().eq_ignore_ascii_case(name))
        }
    }

    /// RFC 3261 §24.2, F1 as the atlanta.com proxy holds it (its transport added `received`,
    /// §18.2.1) and F3 as it forwards it: its Via on top, Max-Forwards 69, the rest unchanged.
    #[test]
    fn rfc3261_24_2_f1_becomes_f3() {
        let f1 = msg("INVITE sip:bob@biloxi.com SIP/2.0
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
Max-Forwards: 70
To: Bob <sip:bob@biloxi.com>
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:alice@pc33.atlanta.com>
Content-Length: 0

");
        let branch = Branch {
            target: "sip:bob@biloxi.com",
            via: "SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1",
            record_route: &[],
            route: &[],
        };
        let f3 = forward(&f1, &branch, |_| false).unwrap();
        assert_eq!(
            text(&f3),
            "INVITE sip:bob@biloxi.com SIP/2.0\r
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1\r
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1\r
Max-Forwards: 69\r
To: Bob <sip:bob@biloxi.com>\r
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r
Call-ID: a84b4c76e66710\r
CSeq: 314159 INVITE\r
Contact: <sip:alice@pc33.atlanta.com>\r
Content-Length: 0\r
\r
"
        );
        // F5: the biloxi.com proxy retargets to Bob's registered contact (Max-Forwards 68).
        let f5 = forward(
            &f3,
            &Branch {
                target: "sip:bob@192.0.2.4",
                via: "SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1",
                record_route: &[],
                route: &[],
            },
            |_| false,
        )
        .unwrap();
        assert_eq!(
            f5.request_uri().unwrap().unwrap().to_string(),
            "sip:bob@192.0.2.4"
        );
        assert_eq!(f5.max_forwards().unwrap().unwrap(), 68);
        assert_eq!(f5.via().count(), 3);
    }

    /// RFC 3261 §24.2, F8 (Bob's 200 to the biloxi.com proxy) becomes F9: the top Via gone.
    #[test]
    fn rfc3261_24_2_f8_becomes_f9() {
        let f8 = msg("SIP/2.0 200 OK
Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3
Via: SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf
From: Alice <sip:alice@atlanta.com>;tag=1928301774
Call-ID: a84b4c76e66710
CSeq: 314159 INVITE
Contact: <sip:bob@192.0.2.4>
Content-Length: 0

");
        let f9 = strip_top_via(&f8).unwrap();
        let vias: Vec<String> = f9.via().map(|v| v.unwrap().to_string()).collect();
        assert_eq!(
            vias,
            [
                "SIP/2.0/UDP bigbox3.site3.atlanta.com;branch=z9hG4bK77ef4c2312983.1;received=192.0.2.2",
                "SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKnashds8;received=192.0.2.1"
            ]
        );
        assert_eq!(f9.len(), f8.len() - "Via: SIP/2.0/UDP server10.biloxi.com;branch=z9hG4bK4b43c2ff8.1;received=192.0.2.3\r\n".len());
        // F11, at the atlanta.com proxy: one Via left after ours, then none.
        let f11 = strip_top_via(&f9).unwrap();
        assert_eq!(f11.via().count(), 1);
        assert_eq!(strip_top_via(&f11), Err(ProxyError::NoViaLeft));
    }

    /// Several Via values on one line: only the first goes.
    #[test]
    fn a_via_line_with_several_values_keeps_the_rest() {
        let r = msg("SIP/2.0 180 Ringing
Via: SIP/2.0/TCP p1.example.com;branch=z9hG4bKp1, SIP/2.0/TCP u1.example.com;branch=z9hG4bKu1
To: <sip:b@example.com>;tag=2
From: <sip:a@example.com>;tag=1
Call-ID: c
CSeq: 1 INVITE
Content-Length: 0

");
        let up = strip_top_via(&r).unwrap();
        assert_eq!(
            up.header(HeaderName::Via).unwrap().value,
            "SIP/2.0/TCP u1.example.com;branch=z9hG4bKu1"
        );
    }

    /// RFC 3261 §16.12.1.1: P1 record-routes the INVITE; U1's BYE carries both proxies in
    /// Route, and P1 forwards it with its own entry popped.
    #[test]
    fn rfc3261_16_12_1_1_record_route_and_route_popping() {
        let invite = msg("INVITE sip:callee@domain.com SIP/2.0
Via: SIP/2.0/UDP u1.example.com;branch=z9hG4bKu1
Max-Forwards: 70
From: <sip:caller@example.com>;tag=1
To: <sip:callee@domain.com>
Call-ID: c16
CSeq: 1 INVITE
Contact: <sip:caller@u1.example.com>
Content-Length: 0

");
        let fwd = forward(
            &invite,
            &Branch {
                target: "sip:callee@domain.com",
                via: "SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1",
                record_route: &["<sip:p1.example.com;lr>"],
                route: &[],
            },
            host_is("p1.example.com"),
        )
        .unwrap();
        assert_eq!(
            fwd.header(HeaderName::RecordRoute).unwrap().value,
            "<sip:p1.example.com;lr>"
        );
        let bye = msg("BYE sip:callee@u2.domain.com SIP/2.0
Via: SIP/2.0/UDP u1.example.com;branch=z9hG4bKu1b
Max-Forwards: 70
Route: <sip:p1.example.com;lr>,<sip:p2.domain.com;lr>
From: <sip:caller@example.com>;tag=1
To: <sip:callee@domain.com>;tag=2
Call-ID: c16
CSeq: 2 BYE
Content-Length: 0

");
        let out = forward(
            &bye,
            &Branch {
                target: "sip:callee@u2.domain.com",
                via: "SIP/2.0/UDP p1.example.com;branch=z9hG4bKp1b",
                record_route: &[],
                route: &[],
            },
            host_is("p1.example.com"),
        )
        .unwrap();
        let routes: Vec<String> = out.routes().map(|r| r.unwrap().uri.to_string()).collect();
        assert_eq!(routes, ["sip:p2.domain.com;lr"]);
        assert_eq!(
            out.start_line(),
            StartLine::Request {
                method: "BYE",
                uri: "sip:callee@u2.domain.com"
            }
        );
        // P2 pops its own entry, the last one: no Route line is left.
        let last = forward(
            &out,
            &Branch {
                target: "sip:callee@u2.domain.com",
                via: "SIP/2.0/UDP p2.domain.com;branch=z9hG4bKp2b",
                record_route: &[],
                route: &[],
            },
            host_is("p2.domain.com"),
        )
        .unwrap();
        assert!(last.header(HeaderName::Route).is_none());
        assert_eq!(last.max_forwards().unwrap().unwrap(), 68);
    }

    /// RFC 3327 §5.3: a target registered through an edge proxy (Path) is reached through it:
    /// the Path values are pushed as Route on top of what is left of the route set, ours gone.
    #[test]
    fn a_registration_path_is_pushed_above_the_remaining_route_set() {
        let req = msg("MESSAGE sip:bob@example.com SIP/2.0
Via: SIP/2.0/TCP a.example.com;branch=z9hG4bKa
Route: <sip:p.example.com;lr>, <sip:next.example.com;lr>
Max-Forwards: 70
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: c
CSeq: 1 MESSAGE
Content-Length: 0

");
        let out = forward(
            &req,
            &Branch {
                target: "sip:bob@192.0.2.9:5062;transport=tcp",
                via: "SIP/2.0/UDP p.example.com;branch=z9hG4bKp",
                record_route: &[],
                route: &["<sip:edge1.example.com;lr>", "<sip:edge2.example.com;lr>"],
            },
            host_is("p.example.com"),
        )
        .unwrap();
        let routes: Vec<String> = out.routes().map(|r| r.unwrap().uri.to_string()).collect();
        assert_eq!(
            routes,
            [
                "sip:edge1.example.com;lr",
                "sip:edge2.example.com;lr",
                "sip:next.example.com;lr"
            ]
        );
        assert_eq!(
            out.request_uri().unwrap().unwrap().to_string(),
            "sip:bob@192.0.2.9:5062;transport=tcp"
        );
    }

    /// Our entries on separate Route lines (double record-routing, RFC 5658) all go.
    #[test]
    fn our_entries_on_several_lines_are_popped() {
        let req = msg("ACK sip:b@192.0.2.9 SIP/2.0
Via: SIP/2.0/TCP a.example.com;branch=z9hG4bKa
Route: <sip:p.example.com;transport=tcp;lr>
Route: <sip:p.example.com;transport=udp;lr>, <sip:other.example.com;lr>
Max-Forwards: 70
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: c
CSeq: 1 ACK
Content-Length: 0

");
        let out = forward(
            &req,
            &Branch {
                target: "sip:b@192.0.2.9",
                via: "SIP/2.0/UDP p.example.com;branch=z9hG4bKp",
                record_route: &[],
                route: &[],
            },
            host_is("p.example.com"),
        )
        .unwrap();
        let routes: Vec<String> = out.routes().map(|r| r.unwrap().uri.to_string()).collect();
        assert_eq!(routes, ["sip:other.example.com;lr"]);
    }

    /// §16.6 step 3: no Max-Forwards → 70 added; 0 → 483, nothing written.
    #[test]
    fn max_forwards_added_and_exhausted() {
        let b = Branch {
            target: "sip:b@example.com",
            via: "SIP/2.0/UDP p.example.com;branch=z9hG4bKp",
            record_route: &[],
            route: &[],
        };
        let none = msg("OPTIONS sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: c
CSeq: 1 OPTIONS
Content-Length: 0

");
        assert_eq!(
            forward(&none, &b, |_| false)
                .unwrap()
                .max_forwards()
                .unwrap()
                .unwrap(),
            70
        );
        let zero = msg("OPTIONS sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa
Max-Forwards: 0
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: c
CSeq: 1 OPTIONS
Content-Length: 0

");
        let mut buf = Vec::new();
        let e = forward_into(&zero, &b, |_| false, &mut buf).unwrap_err();
        assert!(
            matches!(e, ProxyError::TooManyHops { offset } if &zero.to_vec()[offset..offset + 1] == b"0")
        );
        assert!(buf.is_empty());
    }

    /// The body and unknown headers go through as they were.
    #[test]
    fn body_and_other_headers_are_copied() {
        let req = msg("MESSAGE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa
Max-Forwards: 10
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>
Call-ID: c
CSeq: 1 MESSAGE
Ms-Text-Format: text/plain; charset=UTF-8
Content-Type: text/plain
Content-Length: 5

hello");
        let out = forward(
            &req,
            &Branch {
                target: "sip:b@192.0.2.1:5070",
                via: "SIP/2.0/UDP p.example.com;branch=z9hG4bKp",
                record_route: &[],
                route: &[],
            },
            |_| false,
        )
        .unwrap();
        assert_eq!(&out.body()[..], b"hello");
        assert_eq!(
            out.header_by_name("ms-text-format").unwrap().value,
            "text/plain; charset=UTF-8"
        );
        assert_eq!(out.max_forwards().unwrap().unwrap(), 9);
    }

    /// §9.1: the CANCEL of RFC 3665 §3.9-style flows: same branch, Call-ID, From, To, Route
    /// and CSeq number.
    #[test]
    fn cancel_matches_the_invite_branch() {
        let invite = msg("INVITE sip:bob@client.biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP ss1.example.com:5060;branch=z9hG4bK2d4790.1
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;received=192.0.2.101
Max-Forwards: 69
Record-Route: <sip:ss1.example.com;lr>
Route: <sip:next.example.com;lr>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
Content-Type: application/sdp
Content-Length: 3

v=0");
        let c = cancel(&invite).unwrap();
        assert_eq!(
            text(&c),
            "CANCEL sip:bob@client.biloxi.example.com SIP/2.0\r
Via: SIP/2.0/TCP ss1.example.com:5060;branch=z9hG4bK2d4790.1\r
Max-Forwards: 70\r
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r
To: Bob <sip:bob@biloxi.example.com>\r
Call-ID: 2xTb9vxSit55XU7p8@atlanta.example.com\r
CSeq: 1 CANCEL\r
Route: <sip:next.example.com;lr>\r
Content-Length: 0\r
\r
"
        );
        let bye = msg("BYE sip:b@example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bKa
From: <sip:a@example.com>;tag=1
To: <sip:b@example.com>;tag=2
Call-ID: c
CSeq: 2 BYE
Content-Length: 0

");
        assert!(cancel(&bye).is_err());
    }

    /// §16.7 step 6.
    #[test]
    fn best_response_order() {
        assert!(beats(486, 503));
        assert!(!beats(503, 486));
        assert!(!beats(404, 486)); // same class: the first stays
        assert!(beats(603, 404));
        assert!(!beats(404, 603));
        assert!(!beats(600, 603));
        assert!(beats(302, 404));
    }
}
