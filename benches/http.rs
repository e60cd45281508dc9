//! HTTP speed: `ocs-http-focus` against bare httparse in the same run.
//!
//! - `head/kittyhell`: the ~700-byte request of the httparse and picohttpparser benches.
//!   `httparse` = bare `httparse::Request::parse` with 16 slots (as httparse's own bench);
//!   `parse` = `RequestHead::parse`: the same parse plus every check of the connection
//!   (line ends, framing fields, smuggling defences, Host) and the field positions kept;
//!   `connection` = a whole server cycle on one connection: bytes in, the request and end of
//!   message out, and an empty 204 written back.
//! - `chunked/1MiB`: a 1 MiB body in 8 KiB chunks received by a server connection, events
//!   drained; the floor is a loop of `httparse::parse_chunk_size` over the same bytes.
//! - `abs/parse_10000`: a full Address Book file of 10,000 contacts (7 attributes each).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::http::abs::{AbsFile, Attribute, Change, Contact, FileKind, Header, Value};
use ocs_stack::http::h1::{Connection, Event, Limits, RequestHead, Role};

/// The request of the httparse and picohttpparser benches (shared with the allocation test).
const KITTYHELL: &[u8] = include_bytes!("../crates/http-focus/tests/data/kittyhell.http");

/// The empty 204 that lets the server read the next request.
fn answer(server: &mut Connection, out: &mut Vec<u8>) {
    out.clear();
    server
        .send_response(204, "No Content", std::iter::empty::<(&str, &str)>(), out)
        .unwrap();
    server
        .send_end_of_message(&[] as &[(&str, &str)], out)
        .unwrap();
}

fn head(c: &mut Criterion) {
    let mut g = c.benchmark_group("head/kittyhell");
    g.throughput(Throughput::Bytes(KITTYHELL.len() as u64));
    g.bench_function("httparse", |b| {
        b.iter(|| {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            black_box(req.parse(black_box(KITTYHELL)).unwrap());
        });
    });
    let limits = Limits::default();
    let mut fields = Vec::new();
    g.bench_function("parse", |b| {
        b.iter(|| {
            let parsed = RequestHead::parse(black_box(KITTYHELL), &limits, &mut fields).unwrap();
            black_box(parsed.map(|(h, n)| (h.headers.len(), n)));
        });
    });
    let mut server = Connection::new(Role::Server);
    let mut out = Vec::with_capacity(256);
    g.bench_function("connection", |b| {
        b.iter(|| {
            server.receive_data(black_box(KITTYHELL));
            let Ok(Event::Request(h)) = server.next_event() else {
                panic!()
            };
            black_box(h.headers.len());
            let Ok(Event::EndOfMessage(_)) = server.next_event() else {
                panic!()
            };
            answer(&mut server, &mut out);
            black_box(&out);
        });
    });
    g.finish();
}

fn chunked(c: &mut Criterion) {
    let head = b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nHost: pool:444\r\nTransfer-Encoding: chunked\r\n\r\n";
    let mut body = Vec::new();
    for i in 0..128u32 {
        body.extend_from_slice(b"2000\r\n");
        body.extend(std::iter::repeat_n(i as u8, 8192));
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(b"0\r\n\r\n");
    let mut g = c.benchmark_group("chunked/1MiB");
    g.throughput(Throughput::Bytes(1 << 20));
    g.bench_function("parse_chunk_size loop", |b| {
        b.iter(|| {
            let mut at = 0;
            let mut total = 0usize;
            loop {
                let httparse::Status::Complete((used, size)) =
                    httparse::parse_chunk_size(black_box(&body[at..])).unwrap()
                else {
                    panic!()
                };
                at += used + size as usize;
                total += size as usize;
                if size == 0 {
                    break;
                }
                at += 2;
            }
            black_box(total)
        });
    });
    let mut server = Connection::new(Role::Server);
    let mut out = Vec::with_capacity(256);
    // Fed in 64 KiB reads, as from a socket.
    g.bench_function("connection", |b| {
        b.iter(|| {
            server.receive_data(head);
            let mut total = 0;
            let mut reads = body.chunks(64 * 1024);
            loop {
                match server.next_event().unwrap() {
                    Event::Data(d) => total += d.len(),
                    Event::NeedData => server.receive_data(reads.next().unwrap()),
                    Event::Paused => break,
                    _ => {}
                }
            }
            answer(&mut server, &mut out);
            black_box(total)
        });
    });
    g.finish();
}

fn abs_file() -> Vec<u8> {
    let names = [
        (1, 0x0100_0000, "givenName"),
        (2, 0x0200_0000, "sn"),
        (3, 0x0300_0000, "displayName"),
        (5, 0x0400_0000, "title"),
        (6, 0x0600_0000, "company"),
        (8, 0x0800_0000, "msRTCSIP-PrimaryUserAddress"),
        (9, 0x0900_0000, "telephoneNumber"),
    ];
    let contacts = (0..10_000u32)
        .map(|i| {
            let mut guid = [0; 16];
            guid[..4].copy_from_slice(&i.to_be_bytes());
            Contact {
                guid,
                change: Change::Present,
                values: vec![
                    (1, Value::String(format!("Given{i}"))),
                    (2, Value::String(format!("Surname{i}"))),
                    (3, Value::String(format!("Given{i} Surname{i}"))),
                    (5, Value::String("Development Manager".into())),
                    (6, Value::String("Contoso".into())),
                    (8, Value::String(format!("sip:user{i}@contoso.com"))),
                    (9, Value::String(format!("+1 (425) 555-{:04}", i % 10_000))),
                ],
            }
        })
        .collect();
    AbsFile {
        header: Header::new(FileKind::Full, 0x0A11, 0x0A11),
        normalization_rules: Vec::new(),
        attributes: names
            .iter()
            .map(|(id, flags, name)| Attribute {
                id: *id,
                flags: *flags,
                name: (*name).into(),
            })
            .collect(),
        contacts,
    }
    .to_bytes()
    .unwrap()
}

fn abs(c: &mut Criterion) {
    let bytes = abs_file();
    let mut g = c.benchmark_group("abs");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.sample_size(30);
    g.bench_function("parse_10000", |b| {
        b.iter(|| black_box(AbsFile::parse(black_box(&bytes)).unwrap().contacts.len()));
    });
    let file = AbsFile::parse(&bytes).unwrap();
    let mut out = Vec::with_capacity(bytes.len());
    g.bench_function("write_10000", |b| {
        b.iter(|| {
            out.clear();
            file.write(&mut out).unwrap();
            black_box(out.len())
        });
    });
    g.finish();
}

criterion_group!(benches, head, chunked, abs);
criterion_main!(benches);
