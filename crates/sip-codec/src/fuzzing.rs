//! Entry points for the fuzz targets in `fuzz/` and for replaying their corpora under
//! `cargo test`. Each runs a parser and everything a caller might do with its result; none may
//! panic, whatever the bytes.

use bytes::{Bytes, BytesMut};

use crate::message::Message;
use crate::sdp::{Candidate, Crypto, Fmtp, Rtcp, RtpMap, SessionDescription};
use crate::stream::{Frame, StreamDecoder};

/// Datagram parse, strict validation and every typed view.
pub fn message(data: &[u8]) {
    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let _ = m.validate();
    for (_, v) in m.typed_headers() {
        if let Ok(v) = v {
            let _ = v.to_string();
        }
    }
    let _ = m.request_uri();
    for v in m.via().flatten() {
        let _ = (
            v.branch(),
            v.rport(),
            v.received(),
            v.ms_received_port(),
            v.branched(),
        );
    }
    for c in m.contacts().flatten() {
        let _ = (c.expires(), c.q(), c.methods().count(), c.sip_instance());
    }
    let mut out = Vec::new();
    m.write(&mut out);
    assert_eq!(out.len(), m.len());
}

/// The stream decoder fed in chunk sizes taken from the first input bytes; it must find the
/// same messages as one feed of the whole input. Keep-alives are compared by the bytes they
/// used: a ping whose halves arrive apart is two pongs, by design.
pub fn stream(data: &[u8]) {
    let (sizes, body) = data.split_at(data.len().min(4));
    let whole = collect(body, &[body.len().max(1)]);
    let sizes: Vec<usize> = sizes.iter().map(|s| usize::from(*s % 64) + 1).collect();
    let chunked = collect(body, if sizes.is_empty() { &[1] } else { &sizes });
    // A decode error may end either run early, at the same message.
    let n = whole.len().min(chunked.len());
    assert_eq!(whole[..n], chunked[..n]);
}

fn collect(data: &[u8], sizes: &[usize]) -> Vec<Vec<u8>> {
    let mut dec = StreamDecoder::default();
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = data;
    let mut i = 0;
    while !rest.is_empty() {
        let k = sizes[i % sizes.len()].min(rest.len());
        i += 1;
        buf.extend_from_slice(&rest[..k]);
        rest = &rest[k..];
        loop {
            match dec.decode_buf(&mut buf) {
                Ok(Some(Frame::Message(m))) => out.push(m.to_vec()),
                Ok(Some(Frame::Ping)) => extend_crlf(&mut out, 4),
                Ok(Some(Frame::Pong)) => extend_crlf(&mut out, 2),
                Ok(None) => break,
                Err(_) => return out,
            }
        }
    }
    out
}

/// Keep-alive CRLFs between two messages count as one run.
fn extend_crlf(out: &mut Vec<Vec<u8>>, n: usize) {
    match out.last_mut() {
        Some(last) if last.iter().all(|b| *b == b'\r' || *b == b'\n') => {
            last.extend(std::iter::repeat_n(b"\r\n", n / 2).flatten())
        }
        _ => out.push(b"\r\n".repeat(n / 2)),
    }
}

/// SDP parse, every typed attribute, and write-back.
pub fn sdp(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(sd) = SessionDescription::parse(text) else {
        return;
    };
    let attrs = sd
        .attributes
        .iter()
        .chain(sd.media.iter().flat_map(|m| m.attributes.iter()));
    for a in attrs {
        let Some(v) = a.value else { continue };
        match a.name {
            "rtpmap" => drop(RtpMap::parse(v)),
            "fmtp" => drop(Fmtp::parse(v)),
            "rtcp" => drop(Rtcp::parse(v)),
            "candidate" => drop(Candidate::parse(v)),
            "crypto" => {
                if let Ok(c) = Crypto::parse(v) {
                    for k in &c.keys {
                        let _ = (k.key_salt(), k.lifetime());
                    }
                    let _ = c.to_string();
                }
            }
            _ => {}
        }
    }
    let written = sd.to_string();
    let again = SessionDescription::parse(&written).expect("written SDP parses");
    assert_eq!(again.to_string(), written);
}

/// Target `sip_transactions`: the bytes drive a transaction layer: each step takes a byte for
/// what happens (a request sent, a request or response received, a response sent by the TU, a
/// transport error, time passing) and more for its details; a step of kind 7 feeds the rest of
/// a length-prefixed chunk as a raw received message. Nothing panics, and once the TU has
/// answered every request and time has run past every timer, no transaction is left.
pub fn transactions(data: &[u8]) {
    use std::time::{Duration, Instant};

    use crate::transaction::{Timers, TransactionLayer, Transport, TxEvent, TxKey};

    const METHODS: [&str; 6] = ["INVITE", "OPTIONS", "ACK", "CANCEL", "BYE", "SUBSCRIBE"];
    let mut out = vec![0u8; crate::Limits::default().max_message_size + 1024];
    const CODES: [u16; 8] = [100, 180, 183, 200, 202, 302, 486, 603];
    let make = |method: &str, branch: u8, response: Option<u16>| -> Option<Message> {
        let branch = if branch % 5 == 4 {
            format!("old{branch}")
        } else {
            format!("z9hG4bK{}", branch % 4)
        };
        let text = match response {
            None => format!(
                "{method} sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a:5060;branch={branch}\r\nFrom: <sip:a@h>;tag=1\r\n\
                 To: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
            ),
            Some(code) => format!(
                "SIP/2.0 {code} R\r\nVia: SIP/2.0/UDP a:5060;branch={branch}\r\nFrom: <sip:a@h>;tag=1\r\n\
                 To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
            ),
        };
        Message::parse(Bytes::from(text)).ok()
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut layer = TransactionLayer::new(Timers::default());
    let mut servers: Vec<Message> = Vec::new();
    let mut i = 0;
    let byte = |i: &mut usize| -> u8 {
        let b = data.get(*i).copied().unwrap_or(0);
        *i += 1;
        b
    };
    while i < data.len() {
        let op = byte(&mut i);
        let (a, b) = (byte(&mut i), byte(&mut i));
        let method = METHODS[usize::from(a) % METHODS.len()];
        let transport = if b & 0x80 != 0 {
            Transport::Reliable
        } else {
            Transport::Unreliable
        };
        match op % 8 {
            0 => {
                if let Some(m) = make(method, b, None) {
                    let _ = layer.send_request(now, m, transport);
                }
            }
            1 => {
                if let Some(m) = make(method, b, None) {
                    layer.handle_message(now, m, transport);
                }
            }
            2 => {
                if let Some(req) = servers.get(usize::from(a) % servers.len().max(1))
                    && let Ok(resp) = req
                        .response(CODES[usize::from(b) % CODES.len()], "R", "t")
                        .build()
                {
                    let _ = layer.send_response(now, resp);
                }
            }
            3 => {
                if let Some(m) = make(method, b, Some(CODES[usize::from(a) % CODES.len()])) {
                    layer.handle_message(now, m, transport);
                }
            }
            4 => layer.handle_transport_error(TxKey(u64::from(a))),
            5 | 6 => {
                now += Duration::from_millis(u64::from(a) * 256 + u64::from(b));
                layer.handle_timeout(now);
            }
            _ => {
                let start = i.min(data.len());
                let len = usize::from(a).min(data.len() - start);
                if let Ok(m) = Message::parse(Bytes::copy_from_slice(&data[start..start + len])) {
                    layer.handle_message(now, m, transport);
                }
                i += len;
            }
        }
        while let Some(e) = layer.poll_event() {
            if let TxEvent::Request { message, .. } = e {
                servers.push(message);
            }
        }
        while layer
            .poll_transmit(&mut out)
            .expect("what the layer sends fits a buffer of the message size limit")
            .is_some()
        {}
        let _ = layer.poll_timeout();
    }
    for req in &servers {
        if let Ok(resp) = req.response(500, "Server Error", "t").build() {
            let _ = layer.send_response(now, resp);
        }
    }
    layer.handle_timeout(now + Duration::from_secs(200));
    assert!(
        layer.is_empty(),
        "{} transactions never terminate",
        layer.len()
    );
}

/// Target `sip_auth`: the bytes as an NTLM CHALLENGE and AUTHENTICATE message (parsed, and a
/// parsed one written and parsed again to the same fields), as an AUTHENTICATE checked by a
/// server, and as a SIP message whose [MS-SIPAE] headers are typed and whose signed requests go
/// through a server holding an association.
pub fn auth(data: &[u8]) {
    use crate::name::HeaderName;
    use crate::ntlm::{
        AuthenticateMessage, ChallengeMessage, Credentials, NtlmClient, NtlmServer, TargetInfo,
    };
    use crate::sipae::{NtlmSipServer, SecurityHeader};

    if let Ok(c) = ChallengeMessage::parse(data) {
        let again = ChallengeMessage::parse(&c.to_bytes()).expect("our own CHALLENGE");
        assert_eq!(
            (
                &again.target_name,
                again.server_challenge,
                &again.target_info
            ),
            (&c.target_name, c.server_challenge, &c.target_info)
        );
        let client = NtlmClient::new(Credentials::new("u", "d", "p"), "w");
        let _ = client.authenticate(data, [1; 8], [2; 16]);
    }
    if let Ok(n) = crate::ntlm::NegotiateMessage::parse(data) {
        let again = crate::ntlm::NegotiateMessage::parse(&n.to_bytes()).expect("our own NEGOTIATE");
        assert_eq!(
            again.flags & crate::ntlm::flags::SIGN,
            n.flags & crate::ntlm::flags::SIGN
        );
    }
    if let Ok(a) = AuthenticateMessage::parse(data) {
        let again = AuthenticateMessage::parse(&a.to_bytes()).expect("our own AUTHENTICATE");
        assert_eq!(
            (
                &again.nt_response,
                &again.user,
                &again.domain,
                &again.workstation
            ),
            (&a.nt_response, &a.user, &a.domain, &a.workstation)
        );
    }
    let server = NtlmServer::new(TargetInfo::new("S", "D"));
    let challenge = server.challenge([3; 8], 0);
    let hash = Credentials::new("u", "d", "p").nt_hash();
    let _ = server.accept(&challenge, data, |_, _| Some(hash));

    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    for name in crate::sipae::AUTH_HEADERS {
        let _ = SecurityHeader::all(&m, name);
    }
    let mut sip = NtlmSipServer::new("fe", TargetInfo::new("S", "D"));
    for _ in 0..3 {
        let _ = sip.handle(&m, HeaderName::Authorization, [4; 8], "OP", |_, _| {
            Some(hash)
        });
    }
}

/// Target `sip_dialogs`: chunks of the input (an op byte, a 16-bit little-endian length),
/// parsed as messages, go into a UAC
/// dialog set of an INVITE, a UAS dialog, a subscriber and a notifier, with time passing and
/// in-dialog requests built between them. Nothing panics; every built request parses; local
/// CSeq numbers only grow.
pub fn dialogs(data: &[u8]) {
    use std::time::{Duration, Instant};

    use crate::dialog::{Dialog, DialogSet};
    use crate::subscription::{Notifier, Subscriber};

    let parse = |s: &str| Message::parse(Bytes::from(s.replace('\n', "\r\n"))).ok();
    let (Some(invite), Some(subscribe)) = (
        parse(
            "INVITE sip:b@h SIP/2.0\nVia: SIP/2.0/TCP a;branch=z9hG4bK1\nFrom: <sip:a@h>;tag=1\n\
             To: <sip:b@h>\nCall-ID: c\nCSeq: 1 INVITE\nContact: <sip:a@a>\nContent-Length: 0\n\n",
        ),
        parse(
            "SUBSCRIBE sip:b@h SIP/2.0\nVia: SIP/2.0/TCP a;branch=z9hG4bK2\nFrom: <sip:a@h>;tag=1\n\
             To: <sip:b@h>\nCall-ID: c\nCSeq: 1 SUBSCRIBE\nEvent: conference\nExpires: 60\n\
             Supported: ms-benotify\nContact: <sip:a@a>\nContent-Length: 0\n\n",
        ),
    ) else {
        return;
    };
    let t0 = Instant::now();
    let mut now = t0;
    let mut set = DialogSet::new(invite.clone());
    let Ok(ok) = invite
        .response(200, "OK", "2")
        .header("Contact", "<sip:b@b>")
        .build()
    else {
        return;
    };
    let Ok(mut uas) = Dialog::uas(&invite, &ok) else {
        return;
    };
    let Ok(mut sub) = Subscriber::new(t0, subscribe.clone()) else {
        return;
    };
    let Ok(sub_ok) = subscribe
        .response(202, "Accepted", "3")
        .header("Contact", "<sip:b@b>")
        .header("Supported", "ms-benotify")
        .build()
    else {
        return;
    };
    let Ok(mut notifier) = Notifier::accept(t0, &subscribe, &sub_ok, false) else {
        return;
    };
    let mut i = 0;
    let mut last_seq = 0;
    while i + 3 <= data.len() {
        let (op, len) = (
            data[i],
            usize::from(u16::from_le_bytes([data[i + 1], data[i + 2]])),
        );
        i += 3;
        let chunk = &data[i..(i + len).min(data.len())];
        i += len;
        let m = Message::parse(Bytes::copy_from_slice(chunk)).ok();
        match op % 8 {
            0 => {
                if let Some(m) = &m {
                    let _ = set.handle_response(now, m);
                }
            }
            1 => {
                if let Some(m) = &m {
                    let _ = uas.handle_request(m);
                    let _ = uas.handle_response(now, m);
                }
            }
            2 => {
                if let Some(m) = &m {
                    let _ = sub.handle_response(now, m);
                    let _ = sub.handle_notify(now, m);
                }
            }
            3 => {
                if let Some(m) = &m {
                    let _ = notifier.handle_subscribe(now, m, 3600);
                }
            }
            4 => {
                now += Duration::from_secs(u64::from(op) * 4);
                uas.handle_timeout(now);
                sub.handle_timeout(now);
                notifier.handle_timeout(now);
                while uas.poll_event().is_some() || sub.poll_event().is_some() {}
                while notifier.poll_event().is_some() {}
                for k in 0..set.dialogs().len() {
                    if let Some(d) = set.dialog_mut(k) {
                        d.handle_timeout(now);
                        while d.poll_event().is_some() {}
                    }
                }
            }
            5 => {
                let b = uas.request("BYE", "z9hG4bKb", "b").build();
                assert!(b.is_ok(), "built BYE: {b:?}");
                let seq = uas.local_seq();
                assert!(seq > last_seq);
                last_seq = seq;
            }
            6 => {
                if let Some(b) = sub.refresh(now, u32::from(op), "z9hG4bKr", "a") {
                    let _ = b.build();
                }
                let _ = notifier.notify(now, "z9hG4bKn", "b").build();
            }
            _ => {
                for k in 0..set.dialogs().len() {
                    if let Some(d) = set.dialog_mut(k) {
                        let _ = d.request("INFO", "z9hG4bKi", "a").build();
                        let _ = d.ack(&invite, "z9hG4bKa", "a").build();
                        let _ = d.target_and_routes();
                    }
                }
            }
        }
    }
}

/// The proxy rules on any message: a request forwarded on a branch (a Route entry of ours
/// popped when the input's first byte says so) keeps its method, body and every header but
/// Max-Forwards and Route; the forward's top Via is ours; a response loses exactly its top
/// Via; a CANCEL of an INVITE matches its branch. Whatever succeeds parses back.
pub fn proxy(data: &[u8]) {
    use crate::HeaderName;
    use crate::proxy::{Branch, ProxyError, beats, cancel, forward, strip_top_via};
    let (flags, data) = data.split_first().unwrap_or((&0, data));
    let Ok(m) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let pop_all = flags & 1 == 1;
    let rr = ["<sip:192.0.2.99;transport=tcp;lr>"];
    let path = ["<sip:192.0.2.98;transport=tcp;lr>"];
    let pushed = flags & 4 == 4;
    let branch = Branch {
        target: "sip:fuzz@192.0.2.1:5070",
        via: "SIP/2.0/TCP 192.0.2.99;branch=z9hG4bKfuzz",
        record_route: if flags & 2 == 2 { &rr } else { &[] },
        route: if pushed { &path } else { &[] },
    };
    match forward(&m, &branch, |_| pop_all) {
        Ok(f) => {
            assert_eq!(f.method(), m.method());
            assert_eq!(f.body(), m.body());
            assert_eq!(
                f.top_via().ok().and_then(|v| v.branch()),
                Some("z9hG4bKfuzz")
            );
            if pop_all && !pushed {
                assert!(f.header(HeaderName::Route).is_none());
            }
            if pushed {
                let top = f
                    .routes()
                    .next()
                    .and_then(Result::ok)
                    .map(|r| r.uri.to_string());
                assert_eq!(top.as_deref(), Some("sip:192.0.2.98;transport=tcp;lr"));
            }
            let kept = |x: &Message| {
                x.headers()
                    .filter(|h| {
                        !matches!(
                            h.kind,
                            HeaderName::MaxForwards | HeaderName::Route | HeaderName::Via
                        )
                    })
                    .count()
            };
            assert_eq!(kept(&f), kept(&m) + branch.record_route.len());
            if m.method() == Some("INVITE")
                && let Ok(c) = cancel(&f)
            {
                assert_eq!(
                    c.top_via().ok().and_then(|v| v.branch()),
                    Some("z9hG4bKfuzz")
                );
            }
        }
        Err(ProxyError::TooManyHops { offset }) => assert!(offset < m.len()),
        Err(_) => {}
    }
    if let Ok(up) = strip_top_via(&m) {
        // Counted as values (a malformed list may type-parse otherwise): exactly one less.
        let vias = |x: &Message| x.values(HeaderName::Via).count();
        assert_eq!(vias(&up) + 1, vias(&m));
        assert_eq!(up.body(), m.body());
    }
    let code = m.status().unwrap_or(500);
    let _ = (beats(code, 486), beats(486, code));
}

/// The presence bodies ([`crate::presence`]): the first byte picks the document, the rest is
/// parsed; whatever parses is written and must parse again to the same value.
#[cfg(feature = "presence")]
pub fn presence(data: &[u8]) {
    use crate::presence::{self as p, Limits};
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let limits = Limits {
        max_elements: 2_000,
        ..Limits::default()
    };
    let body = Bytes::copy_from_slice(rest);
    if kind % 12 == 11 {
        if let Ok(parts) = p::rlmi::parts(&body, "b0", 64) {
            for part in parts {
                assert!(part.body.len() <= body.len());
            }
        }
        return;
    }
    let Ok(src) = p::text(body) else {
        return;
    };
    macro_rules! round_trip {
        ($t:ty) => {
            if let Ok(v) = <$t>::parse(&src, &limits) {
                let mut out = Vec::new();
                v.write(&mut out);
                let again = bytestring::ByteString::try_from(out).expect("written as UTF-8");
                let w = <$t>::parse(&again, &limits).expect("what we write parses");
                assert_eq!(w, v);
            }
        };
    }
    match kind % 12 {
        0 => round_trip!(p::ContactList),
        1 => round_trip!(p::RoamingList),
        2 => round_trip!(p::RoamingData),
        3 => {
            if let Ok(v) = p::Publish::parse(&src, &limits) {
                for publication in &v.publications {
                    let _ = publication.state(&limits);
                }
            }
            round_trip!(p::Publish)
        }
        4 => round_trip!(p::BatchSubscribe),
        5 => {
            if let Ok(v) = p::Categories::parse(&src, &limits) {
                for c in &v.categories {
                    let _ = c.state(&limits);
                }
            }
            round_trip!(p::Categories)
        }
        6 => round_trip!(p::SetContainerMembers),
        7 => round_trip!(p::SetSubscriber),
        8 => round_trip!(p::soap::Request),
        9 => round_trip!(p::rlmi::List),
        _ => round_trip!(p::soap::Presentity),
    }
}
