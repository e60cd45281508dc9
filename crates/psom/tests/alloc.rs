//! Allocations, counted by a global allocator on the test's own thread: framing records in
//! (the streaming decoder, bodies borrowed) and out (into a buffer with room) allocates nothing
//! per record, payload-heavy ones included.

use ocs_psom::record::{Decoder, Operation, Record, RpcKind};
use ocs_psom::value::Value;

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

fn allocations(f: impl FnOnce()) -> usize {
    ocs_alloc_counter::count(f).1
}

#[test]
fn framing_allocates_nothing() {
    let mut wire = Vec::new();
    Operation::Rpc {
        proxy: 104,
        kind: RpcKind::Call,
        call: 1,
        method: 2,
        args: vec![Value::Blob(vec![7; 60_000])],
    }
    .encode_record(&mut wire);
    Record::Break.encode(&mut wire);
    let mut decoder = Decoder::new(1 << 20);
    let mut out = Vec::with_capacity(2 * wire.len());
    // Warm up: the decoder's buffer grows once.
    decoder.push(&wire);
    while decoder.next_record().unwrap().is_some() {}
    let n = allocations(|| {
        for _ in 0..100 {
            decoder.push(&wire);
            while let Some(r) = decoder.next_record().unwrap() {
                out.clear();
                r.encode(&mut out);
                assert!(!out.is_empty());
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations for 200 records in and out");
}

/// A client's queued bytes taken through `poll_transmit` in small pieces into one reused
/// buffer: the same bytes as one big take, no allocation, and an empty buffer is an error that
/// takes nothing.
#[test]
fn transmit_into_the_callers_buffer_allocates_nothing() {
    use ocs_psom::BufferTooSmall;
    use ocs_psom::client::{Client, Credentials};
    let creds = || Credentials {
        conference_id: "ABCD1234".into(),
        auth_id: "1".into(),
        key: vec![7; 5000],
        name: "Al".into(),
    };
    let now = std::time::Instant::now();
    let mut whole = vec![0u8; 1 << 16];
    let n = Client::new(now, creds())
        .poll_transmit(&mut whole)
        .unwrap()
        .unwrap();
    let mut c = Client::new(now, creds());
    assert_eq!(
        c.poll_transmit(&mut []),
        Err(BufferTooSmall { required: 1 })
    );
    let mut got = Vec::with_capacity(n);
    let mut piece = [0u8; 100];
    let a = allocations(|| {
        while let Ok(Some(k)) = c.poll_transmit(&mut piece) {
            got.extend_from_slice(&piece[..k]);
        }
    });
    assert_eq!(got, whole[..n], "the pieces are the bytes, in order");
    assert_eq!(a, 0, "{a} allocations");
    assert_eq!(c.poll_transmit(&mut []), Ok(None), "nothing left");
}
