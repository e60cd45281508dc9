//! What the `ocs` tool does, as functions that tests and embedders can call.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::sip::sdp::{Candidate, Crypto, Fmtp, Rtcp, RtpMap, SessionDescription};
use crate::sip::{Error, Fault, HeaderName, Message, StartLine};

/// Reads hex text, ignoring ASCII white space. A bad digit is reported with its offset in the
/// text.
pub fn from_hex(text: &[u8]) -> Result<Vec<u8>, String> {
    let mut digits = Vec::with_capacity(text.len());
    let mut offsets = Vec::with_capacity(text.len());
    for (i, &b) in text.iter().enumerate() {
        if !b.is_ascii_whitespace() {
            digits.push(b);
            offsets.push(i);
        }
    }
    hex::decode(&digits).map_err(|e| match e {
        hex::FromHexError::InvalidHexCharacter { index, .. } => {
            format!("invalid hex digit at byte {}", offsets[index])
        }
        _ => format!("odd number of hex digits at byte {}", text.len()),
    })
}

/// Strictly decodes a SIP message to JSON: start line, every header in order (name as written,
/// canonical name, raw value, typed views of the known ones) and the body.
pub fn decode_sip(input: Bytes) -> Result<Value, Error> {
    let msg = Message::parse(input)?;
    msg.validate()?;
    let mut out = serde_json::Map::new();
    match msg.start_line() {
        StartLine::Request { method, uri } => {
            out.insert("kind".into(), json!("request"));
            out.insert("method".into(), json!(method));
            out.insert("request_uri".into(), json!(uri));
            if let Some(Ok(u)) = msg.request_uri() {
                out.insert("request_uri_typed".into(), json!(u));
            }
        }
        StartLine::Response { code, reason } => {
            out.insert("kind".into(), json!("response"));
            out.insert("status".into(), json!(code));
            out.insert("reason".into(), json!(reason));
        }
    }
    let mut typed = msg.typed_headers().peekable();
    let mut headers = Vec::with_capacity(msg.header_count());
    for h in msg.headers() {
        let mut entry = json!({
            "name": h.name,
            "canonical": h.canonical_name(),
            "value": h.value,
            "offset": h.offset,
        });
        let mut views = Vec::new();
        while let Some((th, _)) = typed.peek() {
            if th.offset != h.offset {
                break;
            }
            if let Some((_, Ok(v))) = typed.next() {
                views.push(json!(v));
            }
        }
        if h.kind != HeaderName::Other {
            entry["typed"] = Value::Array(views);
        }
        headers.push(entry);
    }
    out.insert("headers".into(), Value::Array(headers));
    let security = sip_security(&msg);
    if !security.is_empty() {
        out.insert("security".into(), Value::Array(security));
    }
    let body = msg.body();
    let mut b = json!({ "length": body.len() });
    if let Some(Ok(ct)) = msg.content_type() {
        b["content_type"] = json!(format!("{}/{}", ct.top, ct.sub));
    }
    if let Ok(text) = std::str::from_utf8(body) {
        b["text"] = json!(text);
    }
    if let Some(ct) = msg.header(HeaderName::ContentType).map(|h| h.value)
        && is_presence(ct)
    {
        b["presence"] = match decode_presence(body.clone()) {
            Ok(v) => v,
            Err(e) => json!({ "error": e.to_string() }),
        };
    }
    out.insert("body".into(), b);
    Ok(Value::Object(out))
}

/// The [MS-SIPAE] view of a message's authentication headers: scheme, realm, target,
/// association, the NTLM token inside `gssapi-data` decoded, and for signed messages the exact
/// signature input the MAC covers.
fn sip_security(msg: &Message) -> Vec<Value> {
    use crate::sip::sign::{SignatureContext, signature_input};
    use crate::sip::sipae::{Protocol, SecurityHeader};
    let mut out = Vec::new();
    for name in crate::sip::sipae::AUTH_HEADERS {
        for auth in msg.auth(name).flatten() {
            let Ok(h) = SecurityHeader::from_auth(&auth) else {
                continue;
            };
            let mut v = json!({
                "header": name.as_str(),
                "protocol": h.protocol.as_str(),
                "realm": h.realm,
                "targetname": h.target_name,
                "version": h.version,
                "opaque": h.opaque,
                "sts_uri": h.sts_uri,
                "rand": h.rand,
                "num": h.num,
                "signature": h.signature.as_deref().map(hex_lower),
            });
            if let Some(token) = h.gssapi_data.as_deref() {
                v["gssapi_data_length"] = json!(token.len());
                if h.protocol == Protocol::Ntlm && !token.is_empty() {
                    v["ntlm"] =
                        ntlm_json(token).unwrap_or_else(|e| json!({ "error": e.to_string() }));
                }
            }
            // A signature header without `version` belongs to an association whose version was
            // agreed earlier; OCS 2007 R2 signs with 3 or 4, which read the same fields.
            if let Some(ctx) = SignatureContext::from_auth(&auth, 3) {
                let mut input = Vec::new();
                if signature_input(msg, &ctx, &mut input).is_ok() {
                    v["signature_input_version"] = json!(ctx.version);
                    v["signature_input"] = json!(String::from_utf8_lossy(&input));
                }
            }
            out.push(v);
        }
    }
    out
}

fn hex_lower(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The names of the NTLM negotiate flags set in `f`.
fn ntlm_flag_names(f: u32) -> Vec<&'static str> {
    use crate::sip::ntlm::flags as F;
    [
        (F::UNICODE, "UNICODE"),
        (F::OEM, "OEM"),
        (F::REQUEST_TARGET, "REQUEST_TARGET"),
        (F::SIGN, "SIGN"),
        (F::SEAL, "SEAL"),
        (F::DATAGRAM, "DATAGRAM"),
        (F::LM_KEY, "LM_KEY"),
        (F::NTLM, "NTLM"),
        (F::ANONYMOUS, "ANONYMOUS"),
        (F::ALWAYS_SIGN, "ALWAYS_SIGN"),
        (F::TARGET_TYPE_DOMAIN, "TARGET_TYPE_DOMAIN"),
        (F::TARGET_TYPE_SERVER, "TARGET_TYPE_SERVER"),
        (F::EXTENDED_SESSIONSECURITY, "EXTENDED_SESSIONSECURITY"),
        (F::TARGET_INFO, "TARGET_INFO"),
        (F::VERSION, "VERSION"),
        (F::NEGOTIATE_128, "128"),
        (F::KEY_EXCH, "KEY_EXCH"),
        (F::NEGOTIATE_56, "56"),
    ]
    .into_iter()
    .filter(|(bit, _)| f & bit != 0)
    .map(|(_, n)| n)
    .collect()
}

/// An NTLM NEGOTIATE, CHALLENGE or AUTHENTICATE message ([MS-NLMP] 2.2.1) as JSON.
fn ntlm_json(token: &[u8]) -> Result<Value, crate::sip::ntlm::NtlmError> {
    use crate::sip::ntlm::{AuthenticateMessage, ChallengeMessage, NtlmError, TargetInfo};
    match token.get(8) {
        Some(1) => {
            let n = crate::sip::ntlm::NegotiateMessage::parse(token)?;
            Ok(json!({
                "message": "NEGOTIATE",
                "flags": format!("{:#010x}", n.flags),
                "flag_names": ntlm_flag_names(n.flags),
                "domain": n.domain,
                "workstation": n.workstation,
            }))
        }
        Some(2) => {
            let c = ChallengeMessage::parse(token)?;
            let pairs: Vec<Value> = c
                .target_info
                .pairs
                .iter()
                .map(|(id, v)| {
                    let value = match *id {
                        TargetInfo::TIMESTAMP => json!(
                            v.as_slice()
                                .try_into()
                                .map(u64::from_le_bytes)
                                .unwrap_or_default()
                        ),
                        1..=5 => json!(c.target_info.name(*id)),
                        _ => json!(hex_lower(v)),
                    };
                    json!({ "id": id, "value": value })
                })
                .collect();
            Ok(json!({
                "message": "CHALLENGE",
                "flags": format!("{:#010x}", c.flags),
                "flag_names": ntlm_flag_names(c.flags),
                "target_name": c.target_name,
                "server_challenge": hex_lower(&c.server_challenge),
                "target_info": pairs,
            }))
        }
        Some(3) => {
            let a = AuthenticateMessage::parse(token)?;
            let blob = a.nt_response.get(16..);
            Ok(json!({
                "message": "AUTHENTICATE",
                "flags": format!("{:#010x}", a.flags),
                "flag_names": ntlm_flag_names(a.flags),
                "user": a.user,
                "domain": a.domain,
                "workstation": a.workstation,
                "lm_response": hex_lower(&a.lm_response),
                "nt_proof": a.nt_response.get(..16).map(hex_lower),
                "ntlmv2": a.nt_response.len() > 24,
                "client_time": blob.and_then(|b| b.get(8..16)).map(|t| u64::from_le_bytes(t.try_into().unwrap_or_default())),
                "client_challenge": blob.and_then(|b| b.get(16..24)).map(hex_lower),
                "encrypted_session_key": hex_lower(&a.encrypted_session_key),
            }))
        }
        _ => Err(NtlmError::WrongMessage {
            expected: "NEGOTIATE, CHALLENGE or AUTHENTICATE",
            offset: 8,
        }),
    }
}

/// Decodes an NTLM token ([MS-NLMP]): base64 text as found in `gssapi-data` (the quotes and a
/// `gssapi-data=` prefix may stay), or the raw bytes.
pub fn decode_ntlm(input: &[u8]) -> Result<Value, crate::sip::ntlm::NtlmError> {
    use base64::Engine as _;
    let text = std::str::from_utf8(input).ok().map(|t| {
        t.trim()
            .trim_start_matches("gssapi-data=")
            .trim_matches('"')
            .to_owned()
    });
    let bytes = text
        .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
        .unwrap_or_else(|| input.to_vec());
    ntlm_json(&bytes)
}

/// Decodes a session description to JSON, with typed views of the attributes this stack uses
/// (`rtpmap`, `fmtp`, `rtcp`, `candidate`, `crypto`). A malformed typed attribute is an error.
pub fn decode_sdp(input: &[u8]) -> Result<Value, Error> {
    let text = std::str::from_utf8(input).map_err(|e| Error::Sdp {
        line: '?',
        fault: Fault::InvalidCharacter,
        offset: e.valid_up_to(),
    })?;
    let sd = SessionDescription::parse(text)?;
    let mut v = json!(sd);
    let typed = |attrs: &[crate::sip::sdp::Attribute<'_>]| -> Result<Vec<Value>, Error> {
        let mut out = Vec::new();
        for a in attrs {
            let Some(val) = a.value else { continue };
            let at = |fault: Fault| Error::Sdp {
                line: 'a',
                fault,
                offset: a.offset,
            };
            let t = match a.name {
                "rtpmap" => json!({ "rtpmap": RtpMap::parse(val).map_err(at)? }),
                "fmtp" => json!({ "fmtp": Fmtp::parse(val).map_err(at)? }),
                "rtcp" => json!({ "rtcp": Rtcp::parse(val).map_err(at)? }),
                "candidate" => json!({ "candidate": Candidate::parse(val).map_err(at)? }),
                "crypto" => json!({ "crypto": Crypto::parse(val).map_err(at)? }),
                _ => continue,
            };
            out.push(t);
        }
        Ok(out)
    };
    v["typed_attributes"] = Value::Array(typed(&sd.attributes)?);
    for (i, m) in sd.media.iter().enumerate() {
        v["media"][i]["typed_attributes"] = Value::Array(typed(&m.attributes)?);
        if let Some(d) = m.direction() {
            v["media"][i]["direction"] = json!(d);
        }
    }
    Ok(v)
}

/// Decodes an RTP packet to JSON.
pub fn decode_rtp(input: &[u8]) -> Result<Value, crate::rtcp::Error> {
    let p = crate::rtcp::rtp::RtpPacket::parse(input)?;
    let mut v = json!({
        "version": 2,
        "padding": p.padding(),
        "marker": p.marker(),
        "payload_type": p.payload_type(),
        "sequence_number": p.sequence_number(),
        "timestamp": p.timestamp(),
        "ssrc": p.ssrc(),
        "csrcs": p.csrcs().collect::<Vec<_>>(),
        "header_len": p.header_len(),
        "payload_len": p.payload().len(),
        "padding_len": p.padding_len(),
    });
    if let Some(e) = p.extension() {
        v["extension"] = json!({
            "profile": format!("{:#06x}", e.profile),
            "elements": e.elements().map(|el| json!({ "id": el.id, "data": hex::encode(el.data) })).collect::<Vec<_>>(),
        });
    }
    Ok(v)
}

/// Decodes a STUN message ([MS-ICE] draft 6, [MS-ICE2], RFC 5389) to JSON: type, the dialect
/// it is written in, the transaction, and every attribute (the ICE ones typed, USERNAME as text
/// where it is UTF-8, addresses decoded, the rest in hex). With `key` (the password, or for
/// [MS-ICE] its base64), whether MESSAGE-INTEGRITY and FINGERPRINT check out.
///
/// # Errors
/// The message does not parse (what and where).
pub fn decode_stun(input: &[u8], key: Option<&str>) -> Result<Value, crate::ice::stun::StunError> {
    use crate::ice::stun::{Dialect, Message, attr};
    let m = Message::parse(input)?;
    let dialect = m.dialect();
    let name = |k: u16| match k {
        attr::MAPPED_ADDRESS => "MAPPED-ADDRESS",
        attr::USERNAME => "USERNAME",
        attr::MESSAGE_INTEGRITY => "MESSAGE-INTEGRITY",
        attr::ERROR_CODE => "ERROR-CODE",
        attr::XOR_MAPPED_ADDRESS => "XOR-MAPPED-ADDRESS",
        attr::PRIORITY => "PRIORITY",
        attr::USE_CANDIDATE => "USE-CANDIDATE",
        attr::FINGERPRINT => "FINGERPRINT",
        attr::ICE_CONTROLLED => "ICE-CONTROLLED",
        attr::ICE_CONTROLLING => "ICE-CONTROLLING",
        attr::CANDIDATE_IDENTIFIER => "CANDIDATE-IDENTIFIER",
        attr::MS_IMPLEMENTATION_VERSION => "MS-IMPLEMENTATION-VERSION",
        0x8022 => "SOFTWARE",
        _ => "unknown",
    };
    let attrs: Vec<Value> = m
        .kinds()
        .map(|k| {
            let v = m.get(k).unwrap_or_default();
            let mut a = json!({ "type": format!("{k:#06x}"), "name": name(k), "length": v.len() });
            match k {
                attr::USERNAME | 0x8022 => match std::str::from_utf8(v) {
                    Ok(t) => a["text"] = json!(t.trim_end_matches('\0')),
                    Err(_) => a["hex"] = json!(hex::encode(v)),
                },
                attr::PRIORITY | attr::MS_IMPLEMENTATION_VERSION if v.len() == 4 => {
                    a["value"] = json!(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
                }
                attr::MAPPED_ADDRESS | attr::XOR_MAPPED_ADDRESS => {
                    a["address"] = json!(m.mapped_address().map(|x| x.to_string()));
                }
                _ => a["hex"] = json!(hex::encode(v)),
            }
            a
        })
        .collect();
    let mut v = json!({
        "type": format!("{:#06x}", m.kind()),
        "dialect": match dialect {
            Dialect::Rfc5245 => "rfc5245",
            Dialect::MsIce2 => "ms-ice2",
            Dialect::Draft6 => "ms-ice-draft6",
        },
        "magic_cookie": m.has_cookie(),
        "transaction": hex::encode(m.transaction()),
        "length": input.len(),
        "attributes": attrs,
    });
    if let Some(k) = key {
        let bytes = match dialect {
            Dialect::Draft6 => {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(k.trim())
                    .unwrap_or_else(|_| k.as_bytes().to_vec())
            }
            _ => k.as_bytes().to_vec(),
        };
        v["integrity"] = match m.verify(dialect, &bytes) {
            Ok(()) => json!("ok"),
            Err(e) => json!(e.to_string()),
        };
    }
    Ok(v)
}

/// Decodes a compound (or reduced-size) RTCP packet to JSON, every packet and field.
pub fn decode_rtcp(input: &[u8]) -> Result<Value, crate::rtcp::Error> {
    use crate::rtcp::feedback::{Message, fir_entries, nack_lost, sli_entries, tmmb_entries};
    use crate::rtcp::packet::{Compound, Kind, ReportBlock};
    use crate::rtcp::xr::Xr;
    let c = Compound::parse(input, &crate::rtcp::Limits::default())?;
    let block = |r: ReportBlock| {
        json!({ "ssrc": r.ssrc, "fraction_lost": r.fraction_lost, "cumulative_lost": r.cumulative_lost,
                "highest_seq": r.highest_seq, "jitter": r.jitter, "lsr": r.lsr, "dlsr": r.dlsr })
    };
    let ext = |e: crate::rtcp::msrtp::ProfileExtension<'_>| json!({ "type": e.ext_type, "data": hex::encode(e.data), "typed": format!("{:?}", e.typed()) });
    let mut packets = Vec::new();
    for p in c.packets() {
        let mut v = json!({ "offset": p.offset, "packet_type": p.header.packet_type, "count": p.header.count,
                            "length": p.header.length, "padding": p.header.padding });
        match p.kind() {
            Kind::SenderReport(sr) => {
                v["kind"] = json!("SR");
                v["ssrc"] = json!(sr.ssrc());
                v["ntp"] = json!(sr.ntp());
                v["rtp_timestamp"] = json!(sr.rtp_timestamp());
                v["packet_count"] = json!(sr.packet_count());
                v["octet_count"] = json!(sr.octet_count());
                v["reports"] = json!(sr.reports().map(block).collect::<Vec<_>>());
                v["ms_extensions"] = json!(sr.extensions().map(ext).collect::<Vec<_>>());
            }
            Kind::ReceiverReport(rr) => {
                v["kind"] = json!("RR");
                v["ssrc"] = json!(rr.ssrc());
                v["reports"] = json!(rr.reports().map(block).collect::<Vec<_>>());
                v["ms_extensions"] = json!(rr.extensions().map(ext).collect::<Vec<_>>());
            }
            Kind::SourceDescription(s) => {
                v["kind"] = json!("SDES");
                v["chunks"] = json!(s.chunks().map(|(ssrc, items)| json!({
                    "ssrc": ssrc,
                    "items": items.map(|i| json!({ "type": i.item_type, "prefix": String::from_utf8_lossy(i.prefix),
                                                   "value": String::from_utf8_lossy(i.value) })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>());
            }
            Kind::Goodbye(b) => {
                v["kind"] = json!("BYE");
                v["sources"] = json!(b.sources().collect::<Vec<_>>());
                v["reason"] = json!(b.reason().map(String::from_utf8_lossy));
            }
            Kind::App(a) => {
                v["kind"] = json!("APP");
                v["ssrc"] = json!(a.ssrc());
                v["name"] = json!(String::from_utf8_lossy(&a.name()));
                v["data"] = json!(hex::encode(a.data()));
            }
            Kind::Feedback(f) => {
                v["kind"] = json!(if f.transport { "RTPFB" } else { "PSFB" });
                v["fmt"] = json!(f.fmt);
                v["sender_ssrc"] = json!(f.sender_ssrc());
                v["media_ssrc"] = json!(f.media_ssrc());
                v["fci"] = json!(hex::encode(f.fci()));
                v["message"] = match f.message() {
                    Message::Nack(fci) => {
                        json!({ "nack_lost": nack_lost(fci).collect::<Vec<_>>() })
                    }
                    Message::Tmmbr(fci) | Message::Tmmbn(fci) => {
                        json!({ "entries": tmmb_entries(fci).map(|(s, b, o)| json!([s, b, o])).collect::<Vec<_>>() })
                    }
                    Message::Fir(fci) => {
                        json!({ "fir": fir_entries(fci).map(|(s, n)| json!([s, n])).collect::<Vec<_>>() })
                    }
                    Message::Sli(fci) => {
                        json!({ "sli": sli_entries(fci).map(|(a, b, c)| json!([a, b, c])).collect::<Vec<_>>() })
                    }
                    Message::TransportCc(t) => {
                        json!({ "base_sequence": t.base_sequence(), "status_count": t.status_count(),
                        "reference_time": t.reference_time(), "feedback_count": t.feedback_count(),
                        "statuses": t.statuses().map(|s| format!("{s:?}")).collect::<Vec<_>>(), "deltas": t.deltas().collect::<Vec<_>>() })
                    }
                    other => json!(format!("{other:?}")),
                };
            }
            Kind::ExtendedReport(x) => {
                v["kind"] = json!("XR");
                v["ssrc"] = json!(x.ssrc());
                v["blocks"] = json!(x.blocks().map(|b| json!({ "block_type": b.block_type, "type_specific": b.type_specific,
                    "data": hex::encode(b.data), "typed": match b.typed() { Xr::Unknown => Value::Null, t => json!(format!("{t:?}")) } })).collect::<Vec<_>>());
            }
            _ => {
                v["kind"] = json!("unknown");
                v["body"] = json!(hex::encode(p.body));
            }
        }
        packets.push(v);
    }
    Ok(json!({ "packets": packets }))
}

/// Decodes a presence or contact-list body ([MS-PRES], [MS-SIP] roaming) to JSON, the document
/// recognised by its root element: `contactList`/`contactDelta`, `roamingList`, `roamingData`,
/// `publish`, `batchSub`, `categories`, `setContainerMembers`, `setSubscribers`, a SOAP
/// `Envelope`, an RLMI `list`, a 2005 `presentity`; a body that starts with a boundary line is a
/// `multipart/related` one, each part decoded by its Content-Type. The `state` of every
/// category comes typed beside its content.
pub fn decode_presence(input: Bytes) -> Result<Value, crate::sip::presence::Error> {
    use crate::sip::presence::{self as p, Limits};
    let limits = Limits::default();
    if input.starts_with(b"--") {
        let line_end = input
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(input.len());
        let boundary = String::from_utf8_lossy(&input[2..line_end]).into_owned();
        let mut parts = Vec::new();
        for part in p::rlmi::parts(&input, &boundary, 256)? {
            let ct = part
                .content_type
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            let cid = part
                .content_id
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            let value = match decode_presence(part.body.clone()) {
                Ok(v) => v,
                Err(e) => json!({ "error": e.to_string() }),
            };
            parts.push(json!({ "content_type": ct, "content_id": cid, "offset": part.offset, "document": value }));
        }
        return Ok(json!({ "kind": "multipart/related", "boundary": boundary, "parts": parts }));
    }
    let text = p::text(input)?;
    let root = root_name(&text);
    let categories = |c: &p::Categories| -> Value {
        let states: Vec<Value> = c
            .categories
            .iter()
            .map(|cat| match cat.state(&limits) {
                Ok(Some(s)) => json!({ "state": s, "band": s.availability.map(|a| format!("{:?}", p::Availability::from_number(a))) }),
                _ => Value::Null,
            })
            .collect();
        json!({ "document": c, "states": states })
    };
    let (kind, value) = match root {
        "contactList" | "contactDelta" => (root, json!(p::ContactList::parse(&text, &limits)?)),
        "roamingList" => (root, json!(p::RoamingList::parse(&text, &limits)?)),
        "roamingData" => {
            let d = p::RoamingData::parse(&text, &limits)?;
            let cats = d.categories.as_ref().map(categories);
            (root, json!({ "document": d, "categories": cats }))
        }
        "publish" => {
            let d = p::Publish::parse(&text, &limits)?;
            let states: Vec<Value> = d
                .publications
                .iter()
                .map(|x| json!(x.state(&limits).ok().flatten()))
                .collect();
            (root, json!({ "document": d, "states": states }))
        }
        "batchSub" => (root, json!(p::BatchSubscribe::parse(&text, &limits)?)),
        "categories" => (root, categories(&p::Categories::parse(&text, &limits)?)),
        "setContainerMembers" => (root, json!(p::SetContainerMembers::parse(&text, &limits)?)),
        "setSubscribers" => (root, json!(p::SetSubscriber::parse(&text, &limits)?)),
        "Envelope" => ("soap", json!(p::soap::Request::parse(&text, &limits)?)),
        "list" => ("rlmi", json!(p::rlmi::List::parse(&text, &limits)?)),
        "presentity" => {
            let d = p::soap::Presentity::parse(&text, &limits)?;
            let a = d.availability_2007();
            (root, json!({ "document": d, "availability_2007": a }))
        }
        _ => {
            // Let the parser that matches nothing say what was found and where.
            return Err(p::Categories::parse(&text, &limits).err().unwrap_or(
                p::Error::UnexpectedElement {
                    expected: "a presence document",
                    found: root.to_owned(),
                    offset: 0,
                },
            ));
        }
    };
    Ok(json!({ "kind": kind, "value": value }))
}

/// The local name of a document's root element (after any declaration and comments).
fn root_name(text: &str) -> &str {
    let mut rest = text;
    while let Some(i) = rest.find('<') {
        rest = &rest[i + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name = rest
            .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
            .next()
            .unwrap_or("");
        return name.rsplit(':').next().unwrap_or(name);
    }
    ""
}

/// Whether a SIP body of this Content-Type is one [`decode_presence`] reads.
fn is_presence(content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    [
        "application/vnd-microsoft-roaming-contacts+xml",
        "application/vnd-microsoft-roaming-self+xml",
        "application/msrtc-category-publish+xml",
        "application/msrtc-setcontainermembers+xml",
        "application/msrtc-presence-setsubscriber+xml",
        "application/msrtc-adrl-categorylist+xml",
        "application/msrtc-event-categories+xml",
        "application/rlmi+xml",
        "application/soap+xml",
        "text/xml+msrtc.pidf",
    ]
    .iter()
    .any(|t| ct.starts_with(t))
        || (ct.starts_with("multipart/related") && ct.contains("rlmi"))
}

/// Decodes a C3P request or response, or a conference-info document, to JSON: every field of
/// the typed model (text with entities resolved), extension content kept, under `"kind"`.
pub fn decode_cccp(input: Bytes) -> Result<Value, crate::cccp::Error> {
    use crate::cccp::Error as E;
    use crate::cccp::info::ConferenceInfo;
    use crate::cccp::message::Message;
    let (kind, value) = match Message::parse(input.clone()) {
        Ok(Message::Request(r)) => ("request", json!(r)),
        Ok(Message::Response(r)) => ("response", json!(r)),
        Err(E::UnexpectedRoot { offset, .. }) => match ConferenceInfo::parse(input) {
            Ok(ci) => ("conference-info", json!(ci)),
            Err(E::UnexpectedRoot { .. }) => {
                return Err(E::UnexpectedRoot {
                    expected: "request, response (C3P) or conference-info",
                    offset,
                });
            }
            Err(e) => return Err(e),
        },
        Err(e) => return Err(e),
    };
    let mut out = serde_json::Map::new();
    out.insert("kind".into(), json!(kind));
    if let Value::Object(fields) = value {
        out.extend(fields);
    }
    Ok(Value::Object(out))
}

/// Decodes HTTP/1.1 messages (requests, or responses when the input starts with `HTTP/`) to
/// JSON, with the strictness of a server: start line, fields in order, the body de-chunked
/// (text when it is UTF-8, hex otherwise) and the trailers. One message gives an object,
/// several (pipelined) an object with `messages`. The input ends where the file ends.
pub fn decode_http(input: &[u8]) -> Result<Value, crate::http::h1::Error> {
    use crate::http::h1::{Connection, Event, Role};
    let response = input.starts_with(b"HTTP/");
    let mut conn = Connection::new(if response { Role::Client } else { Role::Server });
    if response {
        // A client reads responses to its requests: as many GETs as could be answered.
        let mut sink = Vec::new();
        for _ in 0..=input.len() / 16 {
            let _ = conn.send_request("GET", "/", [("host", "decode")], &mut sink);
            let _ = conn.send_end_of_message(&[] as &[(&str, &str)], &mut sink);
        }
    }
    conn.receive_data(input);
    conn.receive_eof();
    let fields = |f: crate::http::h1::Fields<'_>| -> Vec<Value> {
        f.iter()
            .map(|(n, v)| json!({"name": n, "value": String::from_utf8_lossy(v)}))
            .collect()
    };
    let mut messages = Vec::new();
    let mut current = serde_json::Map::new();
    let mut body = Vec::new();
    let mut sink = Vec::new();
    loop {
        match conn.next_event()? {
            Event::Request(h) => {
                current.insert("kind".into(), json!("request"));
                current.insert("method".into(), json!(h.method));
                current.insert("target".into(), json!(h.target));
                current.insert("version".into(), json!(h.version.as_str()));
                current.insert("headers".into(), json!(fields(h.headers)));
                current.insert("framing".into(), json!(format!("{:?}", h.body)));
            }
            Event::InformationalResponse(h) | Event::Response(h) => {
                current.insert("kind".into(), json!("response"));
                current.insert("version".into(), json!(h.version.as_str()));
                current.insert("status".into(), json!(h.status));
                current.insert("reason".into(), json!(h.reason));
                current.insert("headers".into(), json!(fields(h.headers)));
                current.insert("framing".into(), json!(format!("{:?}", h.body)));
                if h.status < 200 {
                    messages.push(Value::Object(std::mem::take(&mut current)));
                }
            }
            Event::Data(d) => body.extend_from_slice(d),
            Event::EndOfMessage(t) => {
                current.insert("body_length".into(), json!(body.len()));
                match std::str::from_utf8(&body) {
                    Ok(text) => current.insert("body".into(), json!(text)),
                    Err(_) => current.insert("body_hex".into(), json!(hex::encode(&body))),
                };
                current.insert("trailers".into(), json!(fields(t)));
                body.clear();
                messages.push(Value::Object(std::mem::take(&mut current)));
            }
            Event::Paused => {
                // Answer so that the next pipelined request is read.
                let _ = conn.send_response(
                    204,
                    "No Content",
                    std::iter::empty::<(&str, &str)>(),
                    &mut sink,
                );
                if conn
                    .send_end_of_message(&[] as &[(&str, &str)], &mut sink)
                    .is_err()
                    || conn.must_close()
                {
                    break;
                }
            }
            Event::ConnectionClosed | Event::NeedData => break,
        }
    }
    Ok(match messages.len() {
        1 => messages.remove(0),
        _ => json!({ "messages": messages }),
    })
}

/// Decodes an Address Book Server file ([MS-ABS]) to JSON: the header, the attribute table
/// and every contact with its values named.
pub fn decode_abs(input: &[u8]) -> Result<Value, crate::http::abs::AbsError> {
    use crate::http::abs::{AbsFile, FileName, Value as V};
    let file = AbsFile::parse(input)?;
    let h = &file.header;
    let name = if h.kind == crate::http::abs::FileKind::Full {
        FileName::full(h.day, false)
    } else {
        FileName::delta(h.kind, h.base_day, h.day, false)
    };
    let attributes: Vec<Value> = file
        .attributes
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "flags": format!("{:#010x}", a.flags),
                "name": a.name,
                "client_field": format!("{:?}", a.client_field()),
                "type": a.kind().map(|k| format!("{k:?}")),
            })
        })
        .collect();
    let contacts: Vec<Value> = file
        .contacts
        .iter()
        .map(|c| {
            let values: Vec<Value> = c
                .values
                .iter()
                .map(|(id, v)| {
                    let name = file
                        .attributes
                        .iter()
                        .find(|a| a.id == u16::from(*id))
                        .map(|a| a.name.as_str());
                    let value = match v {
                        V::String(s) => json!(s),
                        V::MultiString(l) => json!(l),
                        V::Binary(b) => json!(hex::encode(b)),
                        V::Integer(n) => json!(n),
                    };
                    json!({"id": id, "name": name, "value": value})
                })
                .collect();
            json!({
                "guid": hex::encode(c.guid),
                "change": format!("{:?}", c.change),
                "values": values,
            })
        })
        .collect();
    Ok(json!({
        "kind": format!("{:?}", h.kind),
        "file_name": name.to_string().trim_end_matches(".lsabs"),
        "base_day": h.base_day,
        "day": h.day,
        "date": crate::http::download::http_date(crate::http::abs::unix_from_day(h.day)),
        "use_normalization_rules": h.use_normalization_rules,
        "normalization_rules_length": file.normalization_rules.len(),
        "attributes": attributes,
        "contacts": contacts,
    }))
}

/// Decodes a PSOM record stream ([MS-PSOM], layout as `crates/psom/PROTOCOL.md` says) to
/// JSON: each record with its offset, RpcMessage bodies as operations with their marshaled
/// arguments. Interface and method names follow this crate's proxy numbering (client ids;
/// server ids are their negatives).
pub fn decode_psom(input: &[u8]) -> Result<Value, crate::psom::Error> {
    use crate::psom::record::{Decoder, Operation, Record};
    use crate::psom::value::MarshalLimits;
    let mut decoder = Decoder::new(usize::MAX);
    decoder.push(input);
    let mut records = Vec::new();
    let mut offset = 0u64;
    while let Some(record) = decoder.next_record()? {
        let mut entry = match record {
            Record::Close { reason, text } => {
                json!({"type": "Close", "reason": reason, "text": text})
            }
            Record::SetChannel { channel } => json!({"type": "SetChannel", "channel": channel}),
            Record::Break => json!({"type": "Break"}),
            Record::RpcOpen {
                channel,
                conn_mgr,
                version,
            } => json!({
                "type": "RPCOpen", "channel": channel, "conn_mgr_proxy": conn_mgr, "version": version,
            }),
            Record::RpcMessage { body, offset } => {
                let op = Operation::decode(body, offset, &MarshalLimits::default())?;
                json!({"type": "RpcMessage", "operation": psom_operation(&op)})
            }
        };
        entry["offset"] = json!(offset);
        offset = input.len() as u64 - decoder.pending() as u64;
        records.push(entry);
    }
    if decoder.pending() > 0 {
        return Err(crate::psom::Error::Truncated {
            what: "record",
            offset,
        });
    }
    Ok(json!({ "records": records }))
}

fn psom_operation(op: &crate::psom::record::Operation) -> Value {
    use crate::psom::interface::Interface;
    use crate::psom::record::Operation;
    let iface = |proxy: i32| {
        let p = proxy.abs();
        match p {
            1 => Some(Interface::ConnMgr),
            2 => Some(Interface::Meeting),
            p if p > 100 => u16::try_from(p - 100).ok().and_then(Interface::from_id),
            _ => None,
        }
    };
    match op {
        Operation::ConnectChild {
            parent,
            connect,
            child,
            interface,
        } => json!({
            "op": if *connect { "ConnectChild" } else { "DisconnectChild" },
            "parent": parent, "child": child, "interface": interface,
            "interface_name": Interface::from_id(*interface).map(|i| format!("{i:?}")),
        }),
        Operation::OpenClose { proxy, open } => json!({
            "op": "OpenClose", "proxy": proxy, "open": open,
            "interface_name": iface(*proxy).map(|i| format!("{i:?}")),
        }),
        Operation::Rpc {
            proxy,
            kind,
            call,
            method,
            args,
        } => {
            let name = iface(*proxy)
                .and_then(|i| i.method(*method))
                .map(|m| m.name);
            json!({
                "op": "Rpc", "proxy": proxy, "kind": format!("{kind:?}"), "call": call,
                "method": method, "interface_name": iface(*proxy).map(|i| format!("{i:?}")),
                "method_name": name,
                "args": args.iter().map(psom_value).collect::<Vec<_>>(),
            })
        }
    }
}

fn psom_value(v: &crate::psom::value::Value) -> Value {
    use crate::psom::value::Value as V;
    match v {
        V::Null => Value::Null,
        V::I8(n) => json!(n),
        V::I16(n) => json!(n),
        V::I32(n) => json!(n),
        V::I64(n) => json!(n),
        V::U8(n) => json!(n),
        V::U16(n) => json!(n),
        V::U32(n) => json!(n),
        V::U64(n) => json!(n),
        V::Bool(b) => json!(b),
        V::String(s) => json!(s),
        V::Blob(b) => json!({"blob": hex::encode(b)}),
        V::Array(items) => Value::Array(items.iter().map(psom_value).collect()),
        V::Struct(fields) => json!({"struct": fields.iter().map(psom_value).collect::<Vec<_>>()}),
        V::Guid(g) => json!({"guid": hex::encode(g)}),
        V::Time(t) => json!({"filetime": t}),
        V::Object(p) => json!({"object": p}),
    }
}

/// The options of `ocs srtp`.
#[derive(Debug, Clone)]
pub struct SrtpOptions {
    /// Protect (true) or unprotect.
    pub protect: bool,
    /// SRTCP instead of SRTP.
    pub rtcp: bool,
    /// The suite name.
    pub suite: String,
    /// Base64 key || salt.
    pub key: String,
    /// MKI in hex.
    pub mki: Option<String>,
    /// MKI length in bytes.
    pub mki_len: Option<usize>,
    /// Replay window.
    pub window: usize,
}

/// Builds the policy of `ocs srtp` from its options.
pub fn srtp_policy(o: &SrtpOptions) -> Result<crate::srtp::Policy, String> {
    use crate::srtp::{MasterKey, Policy, Suite};
    use base64::Engine;
    let suite: Suite = o
        .suite
        .parse()
        .map_err(|e: crate::srtp::UnknownSuite| e.to_string())?;
    let key_salt = base64::engine::general_purpose::STANDARD
        .decode(o.key.trim())
        .map_err(|e| format!("--key is not base64: {e}"))?;
    let mut mk = MasterKey::from_key_salt(suite, &key_salt).map_err(|e| e.to_string())?;
    if let (Some(mki), Some(len)) = (&o.mki, o.mki_len) {
        let v = hex::decode(mki.trim_start_matches("0x"))
            .map_err(|e| format!("--mki is not hex: {e}"))?;
        if v.len() > len {
            return Err(format!(
                "--mki has {} bytes, more than --mki-len {len}",
                v.len()
            ));
        }
        let mut padded = vec![0u8; len - v.len()];
        padded.extend_from_slice(&v);
        mk = mk.with_mki(&padded).map_err(|e| e.to_string())?;
    }
    Policy::new(suite, mk)
        .with_window(o.window)
        .map_err(|e| e.to_string())
}

/// `ocs srtp`: one hex packet per input line, one output line per packet: the hex result or
/// `ERR <kind>`. Blank lines are skipped. All packets share one session.
pub fn srtp(
    o: &SrtpOptions,
    input: impl std::io::BufRead,
    mut out: impl std::io::Write,
) -> Result<(), String> {
    use crate::srtp::{Error as E, Session};
    let policy = srtp_policy(o)?;
    let mut session = Session::new();
    if o.protect {
        session.add_outbound_template(&policy)
    } else {
        session.add_inbound_template(&policy)
    }
    .map_err(|e| e.to_string())?;
    let mut buf = Vec::with_capacity(2048);
    for line in input.lines() {
        let line = line.map_err(|e| e.to_string())?;
        let text = line.trim();
        if text.is_empty() {
            continue;
        }
        let result = match from_hex(text.as_bytes()) {
            Err(_) => Err("hex".to_string()),
            Ok(packet) => {
                buf.clear();
                buf.extend_from_slice(&packet);
                let r = match (o.protect, o.rtcp) {
                    (true, false) => session.protect_rtp_vec(&mut buf),
                    (true, true) => session.protect_rtcp_vec(&mut buf),
                    (false, false) => session.unprotect_rtp_vec(&mut buf),
                    (false, true) => session.unprotect_rtcp_vec(&mut buf),
                };
                r.map(|()| hex::encode(&buf)).map_err(|e| {
                    match e {
                        E::AuthenticationFailed => "auth",
                        E::Replay(..) => "replay",
                        E::UnknownSsrc(_) => "unknown-ssrc",
                        E::UnknownMki => "unknown-mki",
                        E::KeyExhausted => "key-exhausted",
                        E::Malformed { .. } => "malformed",
                        E::BufferTooSmall { .. } => "buffer",
                        _ => "policy",
                    }
                    .to_string()
                })
            }
        };
        let written = match result {
            Ok(h) => writeln!(out, "{h}"),
            Err(kind) => writeln!(out, "ERR {kind}"),
        };
        written.map_err(|e| e.to_string())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srtp_lines() {
        let mut o = SrtpOptions {
            protect: true,
            rtcp: false,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            key: "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz".into(),
            mki: None,
            mki_len: None,
            window: 128,
        };
        let input = "80000001000000000000000a01020304\n\nzz\n";
        let mut out = Vec::new();
        srtp(&o, input.as_bytes(), &mut out).unwrap();
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].len(), (16 + 10) * 2);
        assert_eq!(lines[1], "ERR hex");
        o.protect = false;
        let twice = format!("{}\n{}\n", lines[0], lines[0]);
        let mut back = Vec::new();
        srtp(&o, twice.as_bytes(), &mut back).unwrap();
        assert_eq!(
            String::from_utf8(back).unwrap(),
            "80000001000000000000000a01020304\nERR replay\n"
        );
    }

    #[test]
    fn cccp_json_has_every_field() {
        let v = decode_cccp(Bytes::from_static(
            br#"<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" to="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH" from="sip:c@b" requestId="3"><modifyConferenceLock><conferenceKeys confEntity="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH"/><locked>true</locked></modifyConferenceLock></request>"#,
        ))
        .unwrap();
        assert_eq!(v["kind"], "request");
        assert_eq!(v["request_id"], 3);
        assert_eq!(v["command"]["body"]["ModifyConferenceLock"]["locked"], true);
        let ci = decode_cccp(Bytes::from_static(
            br#"<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="x" version="2"><conference-description><subject>A &amp; B</subject></conference-description></conference-info>"#,
        ))
        .unwrap();
        assert_eq!(ci["kind"], "conference-info");
        assert_eq!(ci["description"]["subject"], "A & B");
        let e = decode_cccp(Bytes::from_static(b"<other/>")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "expected root element request, response (C3P) or conference-info at byte 0"
        );
    }

    #[test]
    fn hex_input() {
        assert_eq!(from_hex(b"41 42\n43").unwrap(), b"ABC");
        assert_eq!(
            from_hex(b"41 4x").unwrap_err(),
            "invalid hex digit at byte 4"
        );
    }

    #[test]
    fn sip_json_has_every_header_and_typed_views() {
        let v = decode_sip(Bytes::from_static(
            b"MESSAGE sip:b@h SIP/2.0\r\nv: SIP/2.0/TLS h;branch=z9hG4bK1, SIP/2.0/UDP g\r\n\
              f: <sip:a@h>;tag=1\r\nt: <sip:b@h>\r\ni: c\r\nCSeq: 1 MESSAGE\r\nX-Odd: 1\r\n\
              c: text/plain\r\nl: 2\r\n\r\nhi",
        ))
        .unwrap();
        assert_eq!(v["kind"], "request");
        assert_eq!(v["headers"][0]["name"], "v");
        assert_eq!(v["headers"][0]["canonical"], "Via");
        assert_eq!(v["headers"][0]["typed"].as_array().unwrap().len(), 2);
        assert_eq!(v["headers"][0]["typed"][0]["value"]["transport"], "TLS");
        assert!(v["headers"][5].get("typed").is_none());
        assert_eq!(v["body"]["text"], "hi");
        assert_eq!(v["body"]["content_type"], "text/plain");
    }

    #[test]
    fn sip_errors_carry_offsets() {
        let e = decode_sip(Bytes::from_static(
            b"OPTIONS sip:a SIP/2.0\r\nCSeq: x\r\n\r\n",
        ))
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid CSeq header: invalid number at byte 29"
        );
    }
}
