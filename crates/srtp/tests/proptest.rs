//! Property tests: protect → unprotect round trips for every suite, with MKI, key derivation
//! rates and both SRTCP modes; tampering is always refused; arbitrary bytes never panic.

use proptest::prelude::*;

use ocs_srtp::{MasterKey, Policy, Session, Suite, fuzzing};

fn suite() -> impl Strategy<Value = Suite> {
    (0..Suite::ALL.len()).prop_map(|i| Suite::ALL[i])
}

fn build_policy(suite: Suite, key: &[u8], mki: Option<Vec<u8>>, kdr: u32, e: bool) -> Policy {
    let mut mk =
        MasterKey::from_key_salt(suite, &key[..suite.key_len() + suite.salt_len()]).unwrap();
    if let Some(m) = mki {
        mk = mk.with_mki(&m).unwrap();
    }
    Policy::new(suite, mk)
        .with_kdr(kdr)
        .unwrap()
        .with_rtcp_encryption(e)
}

fn rtp(seq: u16, ssrc: u32, cc: u8, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80 | cc, 96];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 1, 0]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    for i in 0..cc {
        p.extend_from_slice(&[0, 0, 0, i]);
    }
    p.extend_from_slice(payload);
    p
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn round_trips(suite in suite(), key in proptest::collection::vec(any::<u8>(), 46),
                   mki in proptest::option::of(proptest::collection::vec(any::<u8>(), 1..6)),
                   kdr_exp in proptest::option::of(0u32..=24), e in any::<bool>(),
                   start in any::<u16>(), ssrc in any::<u32>(), cc in 0u8..4,
                   payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..12),
                   flip in any::<usize>()) {
        let kdr = kdr_exp.map_or(0, |n| 1u32 << n);
        let policy = build_policy(suite, &key, mki, kdr, e);
        let mut tx = Session::new();
        tx.add_outbound_template(&policy).unwrap();
        let mut rx = Session::new();
        rx.add_inbound_template(&policy).unwrap();
        for (i, payload) in payloads.iter().enumerate() {
            let seq = start.wrapping_add(i as u16);
            let plain = rtp(seq, ssrc, cc, payload);
            let mut p = plain.clone();
            tx.protect_rtp_vec(&mut p).unwrap();
            // Any flipped bit outside the clear header is refused, and leaves the state alone.
            let mut bad = p.clone();
            let at = 12 + usize::from(cc) * 4 + flip % (bad.len() - 12 - usize::from(cc) * 4);
            bad[at] ^= 1 << (flip % 8);
            prop_assert!(rx.unprotect_rtp_vec(&mut bad).is_err());
            rx.unprotect_rtp_vec(&mut p).unwrap();
            prop_assert_eq!(&p, &plain);
            let mut r = vec![0x80, 201, 0, 1];
            r.extend_from_slice(&ssrc.to_be_bytes());
            r.extend_from_slice(payload);
            let orig = r.clone();
            tx.protect_rtcp_vec(&mut r).unwrap();
            rx.unprotect_rtcp_vec(&mut r).unwrap();
            prop_assert_eq!(r, orig);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        fuzzing::srtp_unprotect(&data);
        fuzzing::srtcp_unprotect(&data);
        fuzzing::sdes_crypto(&data);
    }

    #[test]
    fn crypto_attributes_round_trip(suite in suite(), key in proptest::collection::vec(any::<u8>(), 46),
                                    tag in 0u32..1000, ms in any::<bool>()) {
        let ks = &key[..suite.key_len() + suite.salt_len()];
        let c = ocs_srtp::sdes::Crypto::new(tag, suite, ks, ms);
        let text = c.to_string();
        let back = ocs_srtp::sdes::Crypto::parse(&text).unwrap();
        prop_assert_eq!(&back, &c);
        prop_assert_eq!(back.policy().unwrap().keys().len(), 1);
    }
}
