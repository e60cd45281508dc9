//! PSOM speed: records with typical RPC payloads encoded and decoded, against `memcpy` of the
//! same bytes in the same run (no other implementation exists to compare with); and the fan-out
//! of one presenter's slide change to 100 joined clients.
//!
//! - `upload_chunk_64k`: an Upload.Chunk RPC carrying 64 KiB (payload-heavy).
//! - `goto`: a SlideDeck.GoTo RPC (19-byte operation, the typical small call).
//! - `fanout_100`: the server handles one GoTo from the presenter and writes the notification
//!   for 100 subscribers (the transmits are drained each time).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::psom::client::{Action, Client, Credentials};
use ocs_stack::psom::meeting::Role;
use ocs_stack::psom::record::{Operation, Record, RpcKind, Status};
use ocs_stack::psom::server::{Authorization, Server, ServerConfig};
use ocs_stack::psom::value::{MarshalLimits, Value};

fn record_of(op: &Operation) -> Vec<u8> {
    let mut b = Vec::new();
    op.encode_record(&mut b);
    b
}

fn codec(c: &mut Criterion) {
    let chunk = Operation::Rpc {
        proxy: 108,
        kind: RpcKind::Call,
        call: 9,
        method: 2,
        args: vec![
            Value::U32(1),
            Value::U64(65_536),
            Value::Blob(vec![0xA5; 65_536]),
        ],
    };
    let goto = Operation::Rpc {
        proxy: 104,
        kind: RpcKind::Call,
        call: 7,
        method: 2,
        args: vec![Value::U32(3)],
    };
    for (name, op) in [("upload_chunk_64k", &chunk), ("goto", &goto)] {
        let wire = record_of(op);
        let mut g = c.benchmark_group(format!("psom/{name}"));
        g.throughput(Throughput::Bytes(wire.len() as u64));
        let mut copy = vec![0u8; wire.len()];
        g.bench_function("memcpy", |b| {
            b.iter(|| {
                copy.copy_from_slice(black_box(&wire));
                black_box(&copy);
            });
        });
        g.bench_function("decode", |b| {
            b.iter(|| {
                let Ok(Status::Complete(Record::RpcMessage { body, offset }, _)) =
                    Record::decode(black_box(&wire), 1 << 20, 0)
                else {
                    panic!()
                };
                black_box(Operation::decode(body, offset, &MarshalLimits::default()).unwrap())
            });
        });
        g.bench_function("frame only", |b| {
            b.iter(|| black_box(Record::decode(black_box(&wire), 1 << 20, 0).unwrap()));
        });
        let mut out = Vec::with_capacity(wire.len());
        g.bench_function("encode", |b| {
            b.iter(|| {
                out.clear();
                black_box(op).encode_record(&mut out);
                black_box(&out);
            });
        });
        g.finish();
    }
}

fn fanout(c: &mut Criterion) {
    let now = Instant::now();
    let mut server = Server::new(
        "BENCH001",
        ServerConfig::default(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(1),
    );
    let mut buf = vec![0u8; 1 << 16];
    let mut clients = Vec::new();
    for i in 0..101u64 {
        let id = format!("{i}");
        server.authorize(Authorization {
            auth_id: id.clone(),
            key: b"k".to_vec(),
            user: format!("sip:user{i}@contoso.com"),
            role: if i == 0 {
                Role::Presenter
            } else {
                Role::Attendee
            },
            expires: now + Duration::from_secs(86_400),
        });
        server.connect(now, i);
        let mut client = Client::new(
            now,
            Credentials {
                conference_id: "BENCH001".into(),
                auth_id: id,
                key: b"k".to_vec(),
                name: "u".into(),
            },
        );
        loop {
            let mut moved = false;
            while let Ok(Some(n)) = client.poll_transmit(&mut buf) {
                server.handle_input(now, i, &buf[..n]);
                moved = true;
            }
            while let Ok(Some(t)) = server.poll_transmit(&mut buf) {
                if t.conn == i {
                    client.handle_input(now, &buf[..t.len]).unwrap();
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        clients.push(client);
    }
    let mut presenter = clients.swap_remove(0);
    presenter
        .call(Action::LoadDeck {
            id: "deck".into(),
            slides: 1000,
        })
        .unwrap();
    let n = presenter.poll_transmit(&mut buf).unwrap().unwrap();
    server.handle_input(now, 0, &buf[..n]);
    while let Ok(Some(_)) = server.poll_transmit(&mut buf) {}
    // One GoTo record, replayed: each is a new call id for the server's purposes.
    presenter.call(Action::GoTo(5)).unwrap();
    let n = presenter.poll_transmit(&mut buf).unwrap().unwrap();
    let goto = buf[..n].to_vec();
    let mut g = c.benchmark_group("psom/fanout_100");
    g.throughput(Throughput::Elements(100));
    g.bench_function("goto to 100 clients", |b| {
        b.iter(|| {
            server.handle_input(now, 0, black_box(&goto));
            let mut bytes = 0;
            while let Ok(Some(t)) = server.poll_transmit(&mut buf) {
                bytes += t.len;
            }
            black_box(bytes)
        });
    });
    g.finish();
}

criterion_group!(benches, codec, fanout);
criterion_main!(benches);
