//! SIP transaction layer throughput: complete server transactions (request in → final response
//! out → terminated) through a layer that holds 10,000 other live transactions. Messages are
//! parsed before the timed loop (parse excluded, as the target says; the transaction layer's own
//! reading of the top Via and CSeq for matching is included); TCP, so Timers J and I are zero and
//! a transaction ends when its response is sent (non-INVITE) or its ACK arrives (INVITE). The TU
//! answers by transaction key (`respond`), as a UA does; one more case finds the transaction from
//! the response's Via (`send_response`), as a stateless-minded TU would. Memory per live
//! transaction is measured from the process's resident size while 100,000 are held, and printed.

use std::hint::black_box;
use std::time::Instant;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::sip::Message;
use ocs_stack::sip::transaction::{Timers, TransactionLayer, Transport, TxEvent};

fn request(method: &str, branch: usize) -> Message {
    Message::parse(Bytes::from(format!(
        "{method} sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
         From: <sip:alice@contoso.com>;tag=a1\r\nTo: <sip:bob@contoso.com>\r\nCall-ID: c{branch}\r\n\
         CSeq: 1 {method}\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap()
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn loaded_layer(now: Instant, n: usize, offset: usize) -> TransactionLayer {
    let mut l = TransactionLayer::new(Timers::default());
    for i in 0..n {
        l.handle_message(now, request("OPTIONS", offset + i), Transport::Reliable);
    }
    while l.poll_event().is_some() {}
    l
}

fn bench(c: &mut Criterion) {
    let now = Instant::now();
    let before = resident_bytes();
    let held = loaded_layer(now, 100_000, 10_000_000);
    let after = resident_bytes();
    println!(
        "memory per live non-INVITE server transaction (resident size, 100,000 held): {} bytes",
        (after.saturating_sub(before)) / 100_000
    );
    drop(held);

    let pairs: Vec<(Message, Message)> = (0..4096)
        .map(|i| {
            let r = request("OPTIONS", i);
            let resp = r.response(200, "OK", "t").build().unwrap();
            (r, resp)
        })
        .collect();
    let mut layer = loaded_layer(now, 10_000, 1_000_000);
    let mut out = vec![0u8; 4096];
    let mut g = c.benchmark_group("sip_transactions");
    g.throughput(Throughput::Elements(1));
    let mut i = 0;
    g.bench_function("non-INVITE server, 10,000 live", |b| {
        b.iter(|| {
            let (req, resp) = &pairs[i % pairs.len()];
            i += 1;
            layer.handle_message(now, req.clone(), Transport::Reliable);
            let Some(TxEvent::Request { key, .. }) = layer.poll_event() else {
                panic!()
            };
            layer.respond(now, key, resp.clone()).unwrap();
            black_box(layer.poll_transmit(&mut out).unwrap());
            layer.handle_timeout(now);
            let Some(TxEvent::Terminated { .. }) = layer.poll_event() else {
                panic!()
            };
        });
    });
    let mut m = 0;
    g.bench_function(
        "non-INVITE server, response matched by Via (send_response)",
        |b| {
            b.iter(|| {
                let (req, resp) = &pairs[m % pairs.len()];
                m += 1;
                layer.handle_message(now, req.clone(), Transport::Reliable);
                let Some(TxEvent::Request { .. }) = layer.poll_event() else {
                    panic!()
                };
                layer.send_response(now, resp.clone()).unwrap();
                black_box(layer.poll_transmit(&mut out).unwrap());
                layer.handle_timeout(now);
                let Some(TxEvent::Terminated { .. }) = layer.poll_event() else {
                    panic!()
                };
            });
        },
    );
    let invites: Vec<(Message, Message, Message)> = (0..4096)
        .map(|i| {
            let r = request("INVITE", 5_000_000 + i);
            let resp = r.response(486, "Busy Here", "t").build().unwrap();
            let ack = request("ACK", 5_000_000 + i);
            (r, resp, ack)
        })
        .collect();
    let mut j = 0;
    g.bench_function("INVITE server (486, ACK), 10,000 live", |b| {
        b.iter(|| {
            let (req, resp, ack) = &invites[j % invites.len()];
            j += 1;
            layer.handle_message(now, req.clone(), Transport::Reliable);
            let Some(TxEvent::Request { key, .. }) = layer.poll_event() else {
                panic!()
            };
            layer.respond(now, key, resp.clone()).unwrap();
            black_box(layer.poll_transmit(&mut out).unwrap());
            layer.handle_message(now, ack.clone(), Transport::Reliable);
            layer.handle_timeout(now);
            let Some(TxEvent::Terminated { .. }) = layer.poll_event() else {
                panic!()
            };
        });
    });
    g.finish();
    assert_eq!(layer.len(), 10_000);
}

criterion_group!(benches, bench);
criterion_main!(benches);
