//! Stream behaviour: rollover across the sequence wrap with loss and reordering, joining a
//! running stream, replay protection that moves only after authentication, key derivation
//! rates, templates, buffers and malformed input.

use ocs_srtp::{Error, Event, MasterKey, Policy, ReplayKind, Session, Suite};

fn policy(suite: Suite) -> Policy {
    let ks: Vec<u8> = (0..suite.key_len() + suite.salt_len())
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(1))
        .collect();
    Policy::new(suite, MasterKey::from_key_salt(suite, &ks).unwrap())
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn sessions(p: &Policy) -> (Session, Session) {
    let mut tx = Session::new();
    tx.add_outbound_template(p).unwrap();
    let mut rx = Session::new();
    rx.add_inbound_template(p).unwrap();
    (tx, rx)
}

#[test]
fn wrap_with_loss_and_reordering_every_suite() {
    for suite in Suite::ALL {
        let p = policy(suite);
        let (mut tx, mut rx) = sessions(&p);
        let seqs: Vec<u16> = (65_500..=65_535).chain(0..40).collect();
        let mut protected: Vec<(u16, Vec<u8>)> = seqs
            .iter()
            .map(|&s| {
                let mut pkt = rtp(s, 0x1234, &[s as u8; 50]);
                tx.protect_rtp_vec(&mut pkt).unwrap();
                (s, pkt)
            })
            .collect();
        // Reorder pairs and lose every seventh packet.
        for i in (0..protected.len() - 1).step_by(2) {
            protected.swap(i, i + 1);
        }
        for (i, (s, mut pkt)) in protected.into_iter().enumerate() {
            if i % 7 == 3 {
                continue;
            }
            rx.unprotect_rtp_vec(&mut pkt)
                .unwrap_or_else(|e| panic!("{suite} seq {s}: {e}"));
            assert_eq!(pkt, rtp(s, 0x1234, &[s as u8; 50]), "{suite}");
        }
        assert_eq!(rx.roc(0x1234), Some(1), "{suite}");
    }
}

#[test]
fn joining_a_running_stream_needs_its_roc() {
    let p = policy(Suite::AesCm128HmacSha1_80);
    let (mut tx, mut rx) = sessions(&p);
    tx.set_roc(9, 5).ok();
    let mut tx = {
        let mut t = Session::new();
        t.add_stream(9, &p).unwrap();
        t.set_roc(9, 5).unwrap();
        t
    };
    let mut pkt = rtp(100, 9, b"hello");
    tx.protect_rtp_vec(&mut pkt).unwrap();
    let mut wrong = pkt.clone();
    assert_eq!(
        rx.unprotect_rtp_vec(&mut wrong),
        Err(Error::AuthenticationFailed)
    );
    rx.set_roc(9, 5).unwrap();
    rx.unprotect_rtp_vec(&mut pkt).unwrap();
    assert_eq!(pkt, rtp(100, 9, b"hello"));
    assert_eq!(rx.roc(9), Some(5));
}

#[test]
fn forged_packets_move_nothing() {
    let p = policy(Suite::AesCm128HmacSha1_32);
    let (mut tx, mut rx) = sessions(&p);
    let mut a = rtp(10, 1, b"a");
    tx.protect_rtp_vec(&mut a).unwrap();
    rx.unprotect_rtp_vec(&mut a).unwrap();
    // A forgery far ahead: refused, and the window does not move.
    let mut f = rtp(5000, 1, b"forged");
    f.extend_from_slice(&[0; 4]);
    assert_eq!(
        rx.unprotect_rtp_vec(&mut f),
        Err(Error::AuthenticationFailed)
    );
    let mut b = rtp(11, 1, b"b");
    tx.protect_rtp_vec(&mut b).unwrap();
    rx.unprotect_rtp_vec(&mut b).unwrap();
    // Old and duplicate packets.
    let mut c = rtp(11, 1, b"b");
    tx.protect_rtp_vec(&mut c).unwrap();
    assert_eq!(
        rx.unprotect_rtp_vec(&mut c),
        Err(Error::Replay(ReplayKind::Duplicate, 11))
    );
}

#[test]
fn window_sizes() {
    let p = policy(Suite::AesCm128HmacSha1_80)
        .with_window(1024)
        .unwrap();
    let (mut tx, mut rx) = sessions(&p);
    let mut early = rtp(1, 3, b"x");
    tx.protect_rtp_vec(&mut early).unwrap();
    for s in 2..=1100u16 {
        let mut pkt = rtp(s, 3, b"x");
        tx.protect_rtp_vec(&mut pkt).unwrap();
        rx.unprotect_rtp_vec(&mut pkt).unwrap();
    }
    // Index 1 is 1,099 behind the top: outside a 1,024-packet window.
    assert_eq!(
        rx.unprotect_rtp_vec(&mut early),
        Err(Error::Replay(ReplayKind::TooOld, 1))
    );
    assert!(
        Policy::new(
            Suite::AesCm128HmacSha1_80,
            policy(Suite::AesCm128HmacSha1_80).keys()[0].clone()
        )
        .with_window(65_536)
        .is_err()
    );
}

#[test]
fn key_derivation_rate_rekeys_at_boundaries() {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        let p = policy(suite).with_kdr(16).unwrap();
        let (mut tx, mut rx) = sessions(&p);
        let mut pkts: Vec<(u16, Vec<u8>)> = (0..100u16)
            .map(|s| {
                let mut pkt = rtp(s, 4, &[1, 2, 3]);
                tx.protect_rtp_vec(&mut pkt).unwrap();
                (s, pkt)
            })
            .collect();
        // Reordering across the boundary at 16, 32...
        pkts.swap(15, 16);
        pkts.swap(31, 33);
        for (s, mut pkt) in pkts {
            rx.unprotect_rtp_vec(&mut pkt)
                .unwrap_or_else(|e| panic!("{suite} {s}: {e}"));
        }
        // With a different rate the keys differ.
        let (_, mut other) = sessions(&policy(suite).with_kdr(32).unwrap());
        let mut tx2 = Session::new();
        tx2.add_outbound_template(&p).unwrap();
        let mut late = rtp(40, 4, &[1]);
        for s in 0..40 {
            let mut x = rtp(s, 4, &[1]);
            tx2.protect_rtp_vec(&mut x).unwrap();
        }
        tx2.protect_rtp_vec(&mut late).unwrap();
        assert_eq!(
            other.unprotect_rtp_vec(&mut late),
            Err(Error::AuthenticationFailed)
        );
        // SRTCP too.
        for _ in 0..40 {
            let mut r = vec![0x80, 200, 0, 1, 0, 0, 0, 4, 9, 9, 9, 9];
            tx.protect_rtcp_vec(&mut r).unwrap();
            rx.unprotect_rtcp_vec(&mut r).unwrap();
            assert_eq!(r, [0x80, 200, 0, 1, 0, 0, 0, 4, 9, 9, 9, 9]);
        }
    }
    assert!(policy(Suite::AesCm128HmacSha1_80).with_kdr(3).is_err());
    assert!(
        policy(Suite::AesCm128HmacSha1_80)
            .with_kdr(1 << 25)
            .is_err()
    );
}

#[test]
fn templates_streams_and_events() {
    let p = policy(Suite::AesCm128HmacSha1_80);
    let mut rx = Session::new();
    let mut pkt = rtp(1, 77, b"x");
    assert_eq!(rx.unprotect_rtp_vec(&mut pkt), Err(Error::UnknownSsrc(77)));
    rx.add_inbound_template(&p).unwrap();
    let mut tx = Session::new();
    tx.add_stream(77, &p).unwrap();
    let mut pkt = rtp(1, 77, b"x");
    tx.protect_rtp_vec(&mut pkt).unwrap();
    rx.unprotect_rtp_vec(&mut pkt).unwrap();
    assert_eq!(rx.poll_event(), Some(Event::StreamCreated { ssrc: 77 }));
    assert_eq!(rx.poll_event(), None);
    assert!(rx.remove_stream(77));
    assert!(!rx.remove_stream(77));
    let mut other = rtp(2, 78, b"x");
    assert_eq!(tx.protect_rtp_vec(&mut other), Err(Error::UnknownSsrc(78)));
}

#[test]
fn csrcs_and_header_extensions() {
    for suite in Suite::ALL {
        let (mut tx, mut rx) = sessions(&policy(suite));
        // V=2, X=1, CC=2, two CSRCs, a one-byte-header extension of 2 words.
        let mut pkt = vec![0x92, 0x60, 0x00, 0x05, 0, 0, 0, 1, 0, 0, 0, 5];
        pkt.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2]);
        pkt.extend_from_slice(&[0xbe, 0xde, 0x00, 0x02, 0x22, 1, 2, 3, 0, 0, 0, 0]);
        pkt.extend_from_slice(b"payload bytes");
        let orig = pkt.clone();
        tx.protect_rtp_vec(&mut pkt).unwrap();
        assert_eq!(pkt[..32], orig[..32], "{suite}: the header stays in clear");
        rx.unprotect_rtp_vec(&mut pkt).unwrap();
        assert_eq!(pkt, orig, "{suite}");
    }
}

#[test]
fn srtcp_every_suite_with_and_without_encryption() {
    for suite in Suite::ALL {
        for e in [true, false] {
            let p = policy(suite).with_rtcp_encryption(e);
            let (mut tx, mut rx) = sessions(&p);
            for i in 0..5u8 {
                let orig = vec![0x81, 200, 0, 2, 0, 0, 0, 9, i, i, i, i];
                let mut r = orig.clone();
                tx.protect_rtcp_vec(&mut r).unwrap();
                assert_eq!(
                    r[8..12] == orig[8..12],
                    !e || suite.name().starts_with("NULL"),
                    "{suite} E={e}"
                );
                let replay = r.clone();
                rx.unprotect_rtcp_vec(&mut r).unwrap();
                assert_eq!(r, orig);
                let mut replay = replay;
                assert!(matches!(
                    rx.unprotect_rtcp_vec(&mut replay),
                    Err(Error::Replay(..))
                ));
            }
        }
    }
}

#[test]
fn buffers_and_malformed_input() {
    let p = policy(Suite::AesCm128HmacSha1_80);
    let (mut tx, mut rx) = sessions(&p);
    let pkt = rtp(1, 5, b"abc");
    let mut exact = pkt.clone();
    let len = exact.len();
    assert_eq!(
        tx.protect_rtp(&mut exact, len),
        Err(Error::BufferTooSmall { required: len + 10 })
    );
    assert_eq!(exact, pkt);
    let mut out = [0u8; 64];
    let n = tx.protect_rtp_into(&pkt, &mut out).unwrap();
    let mut plain = [0u8; 64];
    let m = rx.unprotect_rtp_into(&out[..n], &mut plain).unwrap();
    assert_eq!(&plain[..m], &pkt[..]);
    assert!(matches!(
        rx.unprotect_rtp(&mut [0x80, 0, 0]),
        Err(Error::Malformed { offset: 3, .. })
    ));
    let mut cc = [0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0];
    assert!(matches!(
        rx.unprotect_rtp(&mut cc),
        Err(Error::Malformed { offset: 12, .. })
    ));
    let mut ext = [
        0x90, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 5, 0xbe, 0xde, 0, 9, 0, 0,
    ];
    assert!(matches!(
        rx.unprotect_rtp(&mut ext),
        Err(Error::Malformed { offset: 16, .. })
    ));
    let mut short = rtp(2, 5, b"");
    assert!(matches!(
        rx.unprotect_rtp_vec(&mut short),
        Err(Error::Malformed { .. })
    ));
    assert!(matches!(
        rx.unprotect_rtcp(&mut [0x80, 200, 0]),
        Err(Error::Malformed { offset: 3, .. })
    ));
}

#[test]
fn mki_selects_the_master_key() {
    let suite = Suite::AesCm128HmacSha1_80;
    let k1 = MasterKey::from_key_salt(suite, &[1; 30])
        .unwrap()
        .with_mki(&[0, 1])
        .unwrap();
    let k2 = MasterKey::from_key_salt(suite, &[2; 30])
        .unwrap()
        .with_mki(&[0, 2])
        .unwrap();
    let p = Policy::new(suite, k1).with_key(k2).unwrap();
    let mut tx = Session::new();
    tx.add_stream(6, &p).unwrap();
    let mut rx = Session::new();
    rx.add_stream(6, &p).unwrap();
    let mut a = rtp(1, 6, b"one");
    tx.protect_rtp_vec(&mut a).unwrap();
    assert_eq!(&a[a.len() - 12..a.len() - 10], &[0, 1]);
    tx.set_active_key(6, 1).unwrap();
    let mut b = rtp(2, 6, b"two");
    tx.protect_rtp_vec(&mut b).unwrap();
    assert_eq!(&b[b.len() - 12..b.len() - 10], &[0, 2]);
    rx.unprotect_rtp_vec(&mut b).unwrap();
    rx.unprotect_rtp_vec(&mut a).unwrap();
    assert_eq!(a, rtp(1, 6, b"one"));
    let bad = MasterKey::from_key_salt(suite, &[3; 30]).unwrap();
    assert!(
        Policy::new(
            suite,
            MasterKey::from_key_salt(suite, &[1; 30])
                .unwrap()
                .with_mki(&[1])
                .unwrap()
        )
        .with_key(bad)
        .is_err()
    );
}
