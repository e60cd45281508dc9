//! Fuzzing oracles of the umbrella crate (one-line targets in `fuzz/`).

use std::time::{Duration, Instant};

use crate::media::{LegSetup, Relay};
use crate::srtp::{Policy, Session};

fn key(b: u8) -> Policy {
    // A fixed key per byte: the oracle protects with it, the relay unprotects with it.
    Policy::ms_srtp(&[b; 30]).unwrap_or_else(|_| unreachable!("30 bytes make a key"))
}

/// `av_relay`: arbitrary input into an audio relay and a video relay of three legs. The
/// input is a sequence of chunks `leg (1 byte) | flags (1 byte) | length (1 byte) | bytes`:
/// flag bit 0 sends the bytes as SRTCP rather than SRTP, bit 1 protects them first with the
/// sender's key (so that they pass authentication and reach the RTP and RTCP parsers), bit 2
/// picks the video relay, bit 3 moves the clock a second on. Nothing panics; whatever is
/// relayed decrypts under the receiver's key to RTP with the MCU's SSRC for that receiver and
/// the sender's SSRC as first CSRC.
pub fn av_relay(data: &[u8]) {
    let mut now = Instant::now();
    let mut relays = [Relay::new(), Relay::video()];
    // The MCU's key and SSRC toward leg `id` of relay `k` (0 audio, 1 video).
    let out_key = |k: usize, id: u8| key(0x80 | ((k as u8) << 4) | id);
    let mcu_ssrc = |k: usize, id: u64| 0x100 * (k as u32 + 1) + id as u32;
    let mut tx: Vec<Session> = Vec::new();
    // What each leg receives from each relay, under the MCU's key for it: [relay][leg].
    let mut rx: [Vec<Session>; 2] = [Vec::new(), Vec::new()];
    for id in 1..=3u8 {
        for (k, r) in relays.iter_mut().enumerate() {
            let (i, o) = (key(id), out_key(k, id));
            let setup = LegSetup {
                inbound: Some(&i),
                outbound: Some(&o),
                ssrc: mcu_ssrc(k, u64::from(id)),
                seed: u64::from(id),
                payload_type: 0,
            };
            if r.add_leg(u64::from(id), setup, now, 1 << 32).is_err() {
                return;
            }
            let mut x = Session::new();
            if x.add_inbound_template(&out_key(k, id)).is_err() {
                return;
            }
            rx[k].push(x);
        }
        let mut t = Session::new();
        if t.add_outbound_template(&key(id)).is_err() {
            return;
        }
        tx.push(t);
    }
    let mut rest = data;
    let mut buf = vec![0u8; 400];
    let mut out = vec![0u8; 2048];
    while let [leg, flags, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, more) = tail.split_at(n);
        rest = more;
        let leg = u64::from(leg % 4); // 0 is an unknown leg
        if flags & 8 != 0 {
            now += Duration::from_secs(1);
        }
        buf[..n].copy_from_slice(bytes);
        let mut m = n;
        if flags & 2 != 0 && leg != 0 {
            let s = &mut tx[leg as usize - 1];
            let r = if flags & 1 != 0 {
                s.protect_rtcp(&mut buf, n)
            } else {
                s.protect_rtp(&mut buf, n)
            };
            match r {
                Ok(len) => m = len,
                Err(_) => continue,
            }
        }
        let k = usize::from(flags & 4 != 0);
        let relay = &mut relays[k];
        if flags & 1 != 0 {
            let _ = relay.handle_rtcp(now, leg, &mut buf[..m]);
        } else {
            let _ = relay.relay_rtp(now, leg, &mut buf[..m]);
        }
        let dominant = relays[0].dominant_speaker().map(|d| d.0);
        relays[1].set_dominant(dominant);
        for (k, r) in relays.iter_mut().enumerate() {
            r.handle_timeout(now);
            while let Ok(Some(t)) = r.poll_transmit(now, &mut out) {
                let to = t.leg;
                let b = &mut out[..t.len];
                if t.rtcp {
                    rx[k][to as usize - 1].unprotect_rtcp(b).expect(
                        "reports and key frame requests are protected with the receiver's key",
                    );
                    continue;
                }
                assert_ne!(to, leg, "nobody gets his own packets");
                let plain = rx[k][to as usize - 1]
                    .unprotect_rtp(b)
                    .expect("relayed packets are protected with the receiver's key");
                let p = crate::rtcp::rtp::RtpPacket::parse(&b[..plain])
                    .expect("relayed packets are RTP");
                assert_eq!(p.ssrc(), mcu_ssrc(k, to));
                assert_eq!(p.csrcs().len(), 1);
            }
        }
    }
    let _ = relays[0].report();
}
