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
        while layer.poll_transmit().is_some() {}
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
