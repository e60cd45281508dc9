//! SIP parsing speed: `ocs-sip-codec` against rsip 0.4 and ezk-sip-types 0.6 on the same bytes,
//! in the same run.
//!
//! A "full parse" is what a proxy needs per message: the start line, every header indexed, and
//! Via (every value), From, To, CSeq, Call-ID and Contact typed. Each parser does that with its
//! own API. Messages: a 470-byte INVITE with SDP and a 361-byte REGISTER from `samples/`, the
//! 1,061-byte OCS 2007 R2 180 Ringing and RFC 4475 `longreq.dat` from `../shared/vectors/sip/`.

use std::hint::black_box;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::sip::Message;

fn vectors() -> PathBuf {
    std::env::var_os("OCS_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
        PathBuf::from,
    )
}

fn inputs() -> Vec<(&'static str, Bytes)> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |p: PathBuf| {
        Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
    };
    vec![
        ("invite_sdp_470", read(root.join("samples/invite-sdp.sip"))),
        ("register_361", read(root.join("samples/register.sip"))),
        (
            "ocs_180_ringing_1061",
            read(vectors().join("sip/ms/sipe_180_ringing_ntlm_v4_signed.sip")),
        ),
        (
            "rfc4475_longreq",
            read(vectors().join("sip/rfc4475/longreq.dat")),
        ),
    ]
}

fn ours(input: &Bytes) -> usize {
    let m = Message::parse(input.clone()).unwrap();
    let mut n = m.header_count();
    for v in m.via() {
        n += black_box(v.unwrap()).port.is_some() as usize;
    }
    n += black_box(m.from().unwrap()).params.is_empty() as usize;
    n += black_box(m.to().unwrap()).params.is_empty() as usize;
    n += black_box(m.cseq().unwrap()).seq as usize;
    n += black_box(m.call_id().unwrap()).len();
    for c in m.contacts() {
        n += black_box(c.unwrap()).address().is_some() as usize;
    }
    n
}

fn rsip_full(input: &Bytes) -> Option<usize> {
    use rsip::prelude::*;
    let m = rsip::SipMessage::try_from(input.clone()).ok()?;
    let mut n = m.headers().iter().count();
    for h in m.headers().iter() {
        match h {
            rsip::Header::Via(v) => n += black_box(v.typed().ok()?).params.len(),
            rsip::Header::Contact(c) => n += black_box(c.typed().ok()?).params.len(),
            _ => {}
        }
    }
    n += black_box(m.from_header().ok()?.typed().ok()?).params.len();
    n += black_box(m.to_header().ok()?.typed().ok()?).params.len();
    n += black_box(m.cseq_header().ok()?.typed().ok()?).seq as usize;
    n += black_box(m.call_id_header().ok()?.value()).len();
    Some(n)
}

fn ezk_full(input: &Bytes) -> Option<usize> {
    use ezk_sip_types::Headers;
    use ezk_sip_types::header::typed::{CSeq, CallID, Contact, FromTo, Via};
    use ezk_sip_types::msg::{Line, MessageLine, PullParser};
    use ezk_sip_types::parse::Parse;
    let mut parser = PullParser::new(input, 0);
    let first = parser.next()?.ok()?;
    let first = std::str::from_utf8(first).ok()?;
    let (_, line) = MessageLine::parse(input)(first).ok()?;
    let mut headers = Headers::with_capacity(16);
    for l in &mut parser {
        let l = std::str::from_utf8(l.ok()?).ok()?;
        let (_, Line { name, value }) = Line::parse(input, l).ok()?;
        headers.insert(name, value);
    }
    let _body = input.slice(parser.head_end()..);
    let mut n = line.is_request() as usize;
    n += black_box(headers.get_named::<Vec<Via>>().ok()?).len();
    n += black_box(headers.get::<FromTo>(ezk_sip_types::Name::FROM).ok()?)
        .tag
        .is_some() as usize;
    n += black_box(headers.get::<FromTo>(ezk_sip_types::Name::TO).ok()?)
        .tag
        .is_some() as usize;
    n += black_box(headers.get_named::<CSeq>().ok()?).cseq as usize;
    n += black_box(headers.get_named::<CallID>().ok()?).0.len();
    n += black_box(headers.get_named::<Vec<Contact>>().ok()?).len();
    Some(n)
}

fn parse(c: &mut Criterion) {
    for (name, input) in inputs() {
        // A parser is timed only on messages it accepts; a peer that rejects one is reported.
        ours(&input);
        let mut g = c.benchmark_group(format!("parse/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("ocs-sip-codec", |b| b.iter(|| ours(black_box(&input))));
        if rsip_full(&input).is_some() {
            g.bench_function("rsip-0.4", |b| b.iter(|| rsip_full(black_box(&input))));
        } else {
            eprintln!("parse/{name}: rsip 0.4 rejects this message; not timed");
        }
        if ezk_full(&input).is_some() {
            g.bench_function("ezk-sip-types-0.6", |b| {
                b.iter(|| ezk_full(black_box(&input)))
            });
        } else {
            eprintln!("parse/{name}: ezk-sip-types 0.6 rejects this message; not timed");
        }
        g.finish();
    }
}

/// Only what each parser does before any typed header is read: our header index, rsip's
/// `SipMessage` (headers split, untyped), ezk's line split into `Headers`. Reported beside the
/// full parse so that neither number is read alone.
fn index_only(c: &mut Criterion) {
    use rsip::prelude::*;
    for (name, input) in inputs() {
        let mut g = c.benchmark_group(format!("index/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        g.bench_function("ocs-sip-codec", |b| {
            b.iter(|| {
                Message::parse(black_box(&input).clone())
                    .unwrap()
                    .header_count()
            })
        });
        if rsip::SipMessage::try_from(input.clone()).is_ok() {
            g.bench_function("rsip-0.4", |b| {
                b.iter(|| {
                    rsip::SipMessage::try_from(black_box(&input).clone())
                        .map(|m| m.headers().iter().count())
                })
            });
        }
        g.bench_function("ezk-sip-types-0.6", |b| {
            b.iter(|| {
                use ezk_sip_types::msg::{Line, PullParser};
                let input = black_box(&input);
                let mut parser = PullParser::new(input, 0);
                let _first = parser.next();
                let mut headers = ezk_sip_types::Headers::with_capacity(16);
                for l in &mut parser {
                    let Some(l) = l.ok().and_then(|l| std::str::from_utf8(l).ok()) else {
                        break;
                    };
                    if let Ok((_, Line { name, value })) = Line::parse(input, l) {
                        headers.insert(name, value);
                    }
                }
                headers.iter().count()
            })
        });
        g.finish();
    }
}

fn write(c: &mut Criterion) {
    for (name, input) in inputs() {
        let msg = Message::parse(input.clone()).unwrap();
        let rmsg = rsip::SipMessage::try_from(input.clone()).ok();
        let mut g = c.benchmark_group(format!("write/{name}"));
        g.throughput(Throughput::Bytes(input.len() as u64));
        let mut buf = BytesMut::with_capacity(8192);
        g.bench_function("ocs-sip-codec", |b| {
            b.iter(|| {
                buf.clear();
                black_box(&msg).write(&mut buf);
                buf.len()
            })
        });
        if let Some(rmsg) = rmsg {
            g.bench_function("rsip-0.4", |b| {
                b.iter(|| black_box(&rmsg).to_string().len())
            });
        }
        g.finish();
    }
}

criterion_group!(benches, parse, index_only, write);
criterion_main!(benches);
