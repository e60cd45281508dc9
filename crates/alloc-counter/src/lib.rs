//! A counting global allocator for the tests that prove hot paths allocate nothing. Test-only
//! (`publish = false`): the one place with `unsafe`, which the libraries forbid.
//!
//! ```ignore
//! #[global_allocator]
//! static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;
//!
//! let (_, n) = ocs_alloc_counter::count(|| hot_path());
//! assert_eq!(n, 0);
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes allocated and not yet freed, all threads together.
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// The heap bytes in use now (allocated through [`Counting`] and not freed), all threads.
pub fn live_bytes() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Forwards to the system allocator and counts allocations made on a thread while [`count`]
/// runs there (tests run in parallel: other threads are not counted).
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
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
        LIVE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        bump();
        LIVE.fetch_add(n, Ordering::Relaxed);
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

/// Runs `f` and returns its result with the number of allocations (and reallocations) it made
/// on this thread. Needs [`Counting`] as the test's `#[global_allocator]`.
pub fn count<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNTING.with(|c| c.set(true));
    let before = ALLOCS.with(Cell::get);
    let r = f();
    let n = ALLOCS.with(Cell::get) - before;
    COUNTING.with(|c| c.set(false));
    (r, n)
}
