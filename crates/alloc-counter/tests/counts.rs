//! The counter counts: a test that trusts it to say 0 must see it say more than 0 too.

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

#[test]
fn counts_allocations_on_this_thread() {
    let (v, n) = ocs_alloc_counter::count(|| {
        let mut v = Vec::with_capacity(4);
        v.extend_from_slice(&[1u8; 100]);
        v
    });
    assert_eq!((v.len(), n), (100, 2), "one allocation, one reallocation");
    let ((), n) = ocs_alloc_counter::count(|| {});
    assert_eq!(n, 0);
}
