//! Zero heap allocations per packet: a counting global allocator watches protect and unprotect
//! of RTP and RTCP for every suite, once the streams exist.

use ocs_srtp::{MasterKey, Policy, Session, Suite};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

#[test]
fn no_allocation_per_packet() {
    for suite in Suite::ALL {
        let ks: Vec<u8> = (0..suite.key_len() + suite.salt_len())
            .map(|i| i as u8)
            .collect();
        let policy = Policy::new(suite, MasterKey::from_key_salt(suite, &ks).unwrap());
        let mut tx = Session::new();
        tx.add_stream(0x42, &policy).unwrap();
        let mut rx = Session::new();
        rx.add_stream(0x42, &policy).unwrap();
        let mut buf = vec![0u8; 1500];
        let mut rbuf = vec![0u8; 1500];
        let ((), n) = ocs_alloc_counter::count(|| {
            for seq in 0..300u16 {
                buf[..12].copy_from_slice(&[
                    0x80,
                    0,
                    (seq >> 8) as u8,
                    seq as u8,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0,
                    0x42,
                ]);
                let n = tx.protect_rtp(&mut buf, 172).unwrap();
                let m = rx.unprotect_rtp(&mut buf[..n]).unwrap();
                assert_eq!(m, 172);
                rbuf[..8].copy_from_slice(&[0x80, 201, 0, 1, 0, 0, 0, 0x42]);
                let n = tx.protect_rtcp(&mut rbuf, 80).unwrap();
                let m = rx.unprotect_rtcp(&mut rbuf[..n]).unwrap();
                assert_eq!(m, 80);
            }
        });
        assert_eq!(n, 0, "{suite}: allocations during 300 packets each way");
    }
}
