//! Entry points for the fuzz targets in `fuzz/` and for replaying their inputs under
//! `cargo test`: arbitrary bytes against keyed sessions of every suite. None may panic.

use crate::policy::{MasterKey, Policy};
use crate::sdes::Crypto;
use crate::session::Session;
use crate::suite::Suite;

fn session(suite: Suite, mki: bool) -> Option<Session> {
    let ks: Vec<u8> = (0..suite.key_len() + suite.salt_len())
        .map(|i| i as u8)
        .collect();
    let mut mk = MasterKey::from_key_salt(suite, &ks).ok()?;
    if mki {
        mk = mk.with_mki(&[0xe1, 0xf9]).ok()?;
    }
    let p = Policy::new(suite, mk)
        .with_kdr(if mki { 0 } else { 1 << 8 })
        .ok()?;
    let mut s = Session::new();
    s.add_inbound_template(&p).ok()?;
    Some(s)
}

/// The first byte picks the suite and MKI use; the rest is an SRTP packet, unprotected twice
/// (the second time must be refused, or be an error again).
pub fn srtp_unprotect(data: &[u8]) {
    let Some((&sel, pkt)) = data.split_first() else {
        return;
    };
    let suite = Suite::ALL[usize::from(sel) % Suite::ALL.len()];
    let Some(mut s) = session(suite, sel & 0x80 != 0) else {
        return;
    };
    let mut a = pkt.to_vec();
    if s.unprotect_rtp(&mut a).is_ok() {
        let mut b = pkt.to_vec();
        assert!(s.unprotect_rtp(&mut b).is_err(), "a replay was accepted");
    }
}

/// As [`srtp_unprotect`], for SRTCP.
pub fn srtcp_unprotect(data: &[u8]) {
    let Some((&sel, pkt)) = data.split_first() else {
        return;
    };
    let suite = Suite::ALL[usize::from(sel) % Suite::ALL.len()];
    let Some(mut s) = session(suite, sel & 0x80 != 0) else {
        return;
    };
    let mut a = pkt.to_vec();
    if s.unprotect_rtcp(&mut a).is_ok() {
        let mut b = pkt.to_vec();
        assert!(s.unprotect_rtcp(&mut b).is_err(), "a replay was accepted");
    }
}

/// An `a=crypto` value: parse, build the policy, write back, parse again.
pub fn sdes_crypto(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(c) = Crypto::parse(text) else { return };
    let _ = c.policy();
    let again = Crypto::parse(&c.to_string()).expect("written crypto attribute parses");
    assert_eq!(again, c);
}
