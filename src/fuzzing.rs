//! Fuzzing oracles of the umbrella crate (one-line targets in `fuzz/`).

use std::time::{Duration, Instant};

use crate::media::{LegSetup, Relay};
use crate::srtp::{Policy, Session};

fn key(b: u8) -> Policy {
    // A fixed key per byte: the oracle protects with it, the relay unprotects with it.
    Policy::ms_srtp(&[b; 30]).unwrap_or_else(|_| unreachable!("30 bytes make a key"))
}

/// `av_relay`: arbitrary input into an audio mixer and a video relay of three legs. The
/// input is a sequence of chunks `leg (1 byte) | flags (1 byte) | length (1 byte) | bytes`:
/// flag bit 0 sends the bytes as SRTCP rather than SRTP, bit 1 protects them first with the
/// sender's key (so that they pass authentication and reach the RTP and RTCP parsers), bit 2
/// picks the video relay, bit 3 moves the clock a second on. Nothing panics; whatever is
/// sent decrypts under the receiver's key to RTP with the MCU's SSRC for that receiver: from
/// the mixer 160 samples of PCMU naming at most the two others, from the video relay the
/// sender's packet naming the sender, never to the sender.
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
                let plain = rx[k][to as usize - 1]
                    .unprotect_rtp(b)
                    .expect("relayed packets are protected with the receiver's key");
                let p = crate::rtcp::rtp::RtpPacket::parse(&b[..plain])
                    .expect("relayed packets are RTP");
                assert_eq!(p.ssrc(), mcu_ssrc(k, to));
                if k == 0 {
                    // The mixer: 20 ms of G.711 in the receiver's law, the others (at most
                    // two) named, out of its own timer.
                    assert!(p.csrcs().len() <= 2);
                    assert_eq!(p.payload().len(), 160);
                    assert_eq!(p.payload_type(), 0);
                } else {
                    // The video switch: the sender's packet to the others, the sender named.
                    assert_ne!(to, leg, "nobody gets his own packets");
                    assert_eq!(p.csrcs().len(), 1);
                }
            }
        }
    }
    let _ = relays[0].report();
}

/// `ice`: arbitrary datagrams into the A/V MCU's ICE agent, and through the STUN reader. The
/// first byte picks the dialect (0 [MS-ICE], 1 [MS-ICE2], 2 RFC 5245); the rest is chunks
/// `flags (1 byte) | length (1 byte) | bytes`: flag bit 0 makes the bytes a real check of the
/// participant (its USERNAME and keys, the bytes as its transaction ID) with one byte flipped
/// at the chunk's first byte unless bit 1 is set, bit 2 takes them on component 2, bits 3–4
/// pick one of four source addresses, bit 5 moves the clock 5 s on. Nothing panics; every
/// datagram the agent sends parses and checks out with the key its receiver holds, and goes
/// to an address a check came from.
pub fn ice(data: &[u8]) {
    use crate::ice::stun::{self, Message};
    use crate::ice::{Agent, Credentials, Dialect, Flavor};
    use rand::SeedableRng as _;
    let Some((&sel, mut rest)) = data.split_first() else {
        return;
    };
    let (flavor, dialect) = match sel % 3 {
        0 => (Flavor::Draft6, Dialect::Draft6),
        1 => (Flavor::Ufrag, Dialect::MsIce2),
        _ => (Flavor::Ufrag, Dialect::Rfc5245),
    };
    let mut rng = rand::rngs::StdRng::seed_from_u64(u64::from(sel));
    let (mcu_c, peer_c) = (
        Credentials::random(flavor, &mut rng),
        Credentials::random(flavor, &mut rng),
    );
    let mut mcu = Agent::new(flavor, mcu_c.clone(), vec![peer_c.clone()], [1; 32]);
    let mut peer = Agent::new(flavor, peer_c.clone(), vec![mcu_c.clone()], [2; 32]);
    peer.dialect = Some(dialect);
    let key = |c: &Credentials| match flavor {
        Flavor::Draft6 => {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD
                .decode(&c.pwd)
                .unwrap_or_default()
        }
        Flavor::Ufrag => c.pwd.as_bytes().to_vec(),
    };
    let (mcu_key, peer_key) = (key(&mcu_c), key(&peer_c));
    let addrs: [std::net::SocketAddr; 4] = [
        ([127, 0, 0, 1], 5000).into(),
        ([127, 0, 0, 1], 5001).into(),
        ([10, 0, 0, 9], 6000).into(),
        (std::net::Ipv6Addr::LOCALHOST, 7000).into(),
    ];
    let mut checked_from: Vec<std::net::SocketAddr> = Vec::new();
    let mut now = Instant::now();
    while let [flags, len, tail @ ..] = rest {
        let n = usize::from(*len).min(tail.len());
        let (bytes, next) = tail.split_at(n);
        rest = next;
        let component = if flags & 4 != 0 { 2 } else { 1 };
        let from = addrs[usize::from(flags >> 3) & 3];
        if flags & 32 != 0 {
            now += Duration::from_secs(5);
            mcu.handle_timeout(now);
        }
        let datagram = if flags & 1 != 0 {
            let mut tid = peer.transaction(dialect);
            for (t, b) in tid.iter_mut().skip(4).zip(bytes) {
                *t = *b;
            }
            let Some(mut c) = peer.our_check(dialect, component, 0, &tid) else {
                continue;
            };
            if flags & 2 == 0
                && let Some(&b) = bytes.first()
            {
                let i = usize::from(b) % c.len();
                c[i] ^= 0x20;
            }
            c
        } else {
            bytes.to_vec()
        };
        // The reader alone: anything it takes, every accessor answers.
        if let Ok(m) = Message::parse(&datagram) {
            let _ = (m.kind(), m.dialect(), m.mapped_address(), m.transaction());
            for k in m.kinds().collect::<Vec<_>>() {
                let _ = m.get(k);
            }
            let _ = m.verify(dialect, &mcu_key);
            let _ = crate::ice::local_key(&m);
        }
        if let Ok(crate::ice::Received::Check { from: f, .. }) =
            mcu.handle(now, component, from, &datagram)
        {
            checked_from.push(f);
        }
        while let Some(t) = mcu.poll_transmit() {
            assert!(checked_from.contains(&t.to), "sent to {} unasked", t.to);
            let m = Message::parse(&t.bytes).unwrap_or_else(|e| panic!("ours: {e}"));
            let receiver_key = if m.kind() == stun::BINDING_SUCCESS {
                &mcu_key
            } else {
                &peer_key
            };
            if let Err(e) = m.verify(dialect, receiver_key) {
                panic!("ours does not check out: {e}");
            }
        }
    }
}
