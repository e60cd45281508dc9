//! Allocations, counted by a global allocator on the test's own thread: framing records in
//! (the streaming decoder, bodies borrowed) and out (into a buffer with room) allocates nothing
//! per record, payload-heavy ones included.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use ocs_psom::record::{Decoder, Operation, Record, RpcKind};
use ocs_psom::value::Value;

struct Counting;
thread_local! {
    // Per thread: the tests of this file run in parallel.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

fn bump() {
    // `try_with`: the thread-locals may be gone while a thread shuts down.
    let _ = COUNTING.try_with(|c| {
        if c.get() {
            let _ = ALLOCS.try_with(|a| a.set(a.get() + 1));
        }
    });
}

// SAFETY: forwards to the system allocator and only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    ALLOCS.with(|a| a.set(0));
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCS.with(Cell::get)
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
