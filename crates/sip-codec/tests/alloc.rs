//! Proves the hot paths allocate nothing beyond the header index: a counting global allocator
//! watches a full parse (start line, every header indexed, Via, From, To, CSeq, Call-ID and
//! Contact typed), a stream decode, and a write-back.

use bytes::{Bytes, BytesMut};
use std::time::Instant;

use ocs_sip_codec::Message;
use ocs_sip_codec::stream::{Status, StreamDecoder};
use ocs_sip_codec::transaction::{Timers, TransactionLayer, Transport, TxEvent};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

use ocs_alloc_counter::count;

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/TLS client.atlanta.example.com:5061;branch=z9hG4bK74bf9;received=192.0.2.101\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl;epid=8248ca9ebb\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tls>;+sip.instance=\"<urn:uuid:4233FD41>\"\r\n\
Supported: gruu-10, ms-benotify\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

// One test function, so that no other test's allocations run concurrently with the counts.
#[test]
fn hot_paths_allocate_only_the_header_index() {
    let input = Bytes::from_static(INVITE);
    let (msg, n) = count(|| {
        let m = Message::parse(input.clone()).unwrap();
        let via = m.top_via().unwrap();
        let from = m.from().unwrap();
        let to = m.to().unwrap();
        let cseq = m.cseq().unwrap();
        let call_id = m.call_id().unwrap();
        let contact = m.contacts().next().unwrap().unwrap();
        assert_eq!(via.branch(), Some("z9hG4bK74bf9"));
        assert_eq!(from.tag(), Some("9fxced76sl"));
        assert!(to.tag().is_none());
        assert_eq!(cseq.seq, 1);
        assert!(!call_id.is_empty());
        assert!(contact.sip_instance().is_some());
        for _ in m.headers() {}
        m
    });
    assert_eq!(
        n, 1,
        "a full parse allocates the header index and nothing else"
    );

    // Stream decoding of the same bytes: again only the index.
    let dec = StreamDecoder::default();
    let (st, n) = count(|| dec.decode(&input).unwrap());
    assert!(matches!(st, Status::Complete(_, _)));
    assert_eq!(n, 1);
    drop(st);

    // Writing into a buffer with room allocates nothing.
    let mut out = BytesMut::with_capacity(1024);
    let ((), n) = count(|| msg.write(&mut out));
    assert_eq!(n, 0);
    assert_eq!(&out[..], INVITE);

    // Every typed view of every header: still nothing beyond what parse took.
    let (k, n) = count(|| msg.validate().map(|()| msg.header_count()));
    assert_eq!(k.unwrap(), 10);
    assert_eq!(n, 0, "strict validation allocates nothing");

    // A server transaction, request in to final response out (TCP: Timer J is zero), once the
    // layer's tables have grown: one allocation, the match key shared by the transaction and
    // its index. Cloning a parsed message copies no bytes and allocates nothing.
    let (clone, n) = count(|| msg.clone());
    assert_eq!(n, 0, "a Message clone shares its index");
    drop(clone);
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    let pairs: Vec<(Message, Message)> = (0..64)
        .map(|i| {
            let r = Message::parse(Bytes::from(format!(
                "OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{i}\r\n\
                 From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c{i}\r\nCSeq: 1 OPTIONS\r\n\
                 Content-Length: 0\r\n\r\n"
            )))
            .unwrap();
            let ok = r.response(200, "OK", "t").build().unwrap();
            (r, ok)
        })
        .collect();
    // What the layer sends is written into one reused buffer: the transmit allocates nothing.
    let mut out = vec![0u8; 4096];
    let mut run = |layer: &mut TransactionLayer, (req, ok): &(Message, Message)| {
        layer.handle_message(t0, req.clone(), Transport::Reliable);
        let Some(TxEvent::Request { key, .. }) = layer.poll_event() else {
            panic!("no request event")
        };
        layer.respond(t0, key, ok.clone()).unwrap();
        let t = layer.poll_transmit(&mut out).unwrap().unwrap();
        assert!(out[..t.len].starts_with(b"SIP/2.0 200"));
        assert!(matches!(
            layer.poll_event(),
            Some(TxEvent::Terminated { .. })
        ));
    };
    for p in &pairs {
        run(&mut layer, p); // grows the tables
    }
    let ((), n) = count(|| {
        for p in &pairs {
            run(&mut layer, p);
        }
    });
    assert_eq!(n, 64, "one allocation per transaction");
    assert!(layer.is_empty());
}
