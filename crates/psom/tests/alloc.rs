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
