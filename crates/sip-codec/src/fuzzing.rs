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
