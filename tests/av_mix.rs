//! The A/V MCU's audio mixer (`ocs_stack::media::Relay::new`) on virtual time, judged on the
//! decoded audio: participants built from `ocs-srtp` send G.711 of known signals, and what each
//! one receives is decoded (the G.711 decoder of `audio-codec-algorithms`, not the mixer's own)
//! and correlated against the sources. Two people talking at once are both heard by a third,
//! nobody hears himself, the sum is clipped rather than wrapped, an A-law participant gets
//! A-law, the CSRCs name the speakers, reordered packets land in place, late ones are dropped,
//! and mixing allocates nothing.

use std::time::{Duration, Instant};

use audio_codec_algorithms::{decode_alaw, decode_ulaw, encode_alaw, encode_ulaw};
use ocs_stack::media::{LegId, LegSetup, MIX_FRAME, Relay};
use ocs_stack::rtcp::rtp::RtpPacket;
use ocs_stack::srtp::{Policy, Session};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

fn key(byte: u8) -> Policy {
    Policy::ms_srtp(&[byte; 30]).unwrap()
}

/// A source signal: a tone of `hz` at `amplitude`, sample `n`.
fn tone(hz: f64, amplitude: f64, n: usize) -> i16 {
    (amplitude * (2.0 * std::f64::consts::PI * hz * n as f64 / 8000.0).sin()) as i16
}

struct Party {
    id: LegId,
    ssrc: u32,
    pt: u8,
    tx: Session,
    rx: Session,
    seq: u16,
    ts: u32,
    /// Samples sent so far (the signal's clock).
    n: usize,
    /// What it received, decoded, and each packet's (sequence number, timestamp, marker,
    /// CSRCs).
    heard: Vec<i16>,
    packets: Vec<(u16, u32, bool, Vec<u32>)>,
}

fn party(id: LegId, pt: u8, relay: &mut Relay, now: Instant) -> Party {
    let mine = key(id as u8);
    let theirs = key(0x80 + id as u8);
    let setup = LegSetup {
        inbound: Some(&mine),
        outbound: Some(&theirs),
        ssrc: 0x4D43_0000 + id as u32,
        seed: id * 7919,
        payload_type: pt,
    };
    relay.add_leg(id, setup, now, 0x1_0000_0000).unwrap();
    let mut tx = Session::new();
    tx.add_outbound_template(&mine).unwrap();
    let mut rx = Session::new();
    rx.add_inbound_template(&theirs).unwrap();
    Party {
        id,
        ssrc: 0x1000 + id as u32,
        pt,
        tx,
        rx,
        seq: 100,
        ts: 4000 * id as u32,
        n: 0,
        heard: Vec::new(),
        packets: Vec::new(),
    }
}

impl Party {
    /// Its next 20 ms of `signal`, encoded in its law and protected.
    fn speak(&mut self, signal: impl Fn(usize) -> i16) -> Vec<u8> {
        let mut p = vec![0x80, self.pt, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&self.seq.to_be_bytes());
        p[4..8].copy_from_slice(&self.ts.to_be_bytes());
        p[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        for k in 0..MIX_FRAME {
            let s = signal(self.n + k);
            p.push(if self.pt == 8 {
                encode_alaw(s)
            } else {
                encode_ulaw(s)
            });
        }
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(MIX_FRAME as u32);
        self.n += MIX_FRAME;
        let n = p.len();
        p.resize(n + 64, 0);
        let m = self.tx.protect_rtp(&mut p, n).unwrap();
        p.truncate(m);
        p
    }

    fn receive(&mut self, bytes: &[u8]) {
        let mut b = bytes.to_vec();
        let n = self.rx.unprotect_rtp(&mut b).expect("the MCU's key for us");
        let p = RtpPacket::parse(&b[..n]).unwrap();
        assert_eq!(p.ssrc(), 0x4D43_0000 + self.id as u32);
        assert_eq!(p.payload_type(), self.pt, "our own law");
        assert_eq!(p.payload().len(), MIX_FRAME);
        let decode = if self.pt == 8 {
            decode_alaw
        } else {
            decode_ulaw
        };
        self.heard.extend(p.payload().iter().map(|&b| decode(b)));
        self.packets.push((
            p.sequence_number(),
            p.timestamp(),
            p.marker(),
            p.csrcs().collect(),
        ));
    }
}

/// Runs `periods` of 20 ms: each party whose `signal(i)` is some sends its frame, then the
/// mixer runs and every packet goes to its party.
fn run(
    relay: &mut Relay,
    ps: &mut [Party],
    t0: Instant,
    periods: std::ops::Range<u32>,
    signal: impl Fn(usize, usize) -> Option<i16>,
) {
    let mut buf = [0u8; 2048];
    for tick in periods {
        let now = t0 + Duration::from_millis(20 * u64::from(tick));
        for (i, p) in ps.iter_mut().enumerate() {
            if signal(i, 0).is_some() {
                let mut pkt = p.speak(|n| signal(i, n).unwrap_or(0));
                relay.relay_rtp(now, p.id, &mut pkt).unwrap();
            }
        }
        let due = now + Duration::from_millis(1);
        while relay.poll_timeout().is_some_and(|t| t <= due) {
            relay.handle_timeout(due);
            while let Some(t) = relay.poll_transmit(due, &mut buf).unwrap() {
                if !t.rtcp {
                    let p = ps.iter_mut().find(|p| p.id == t.leg).unwrap();
                    p.receive(&buf[..t.len]);
                }
            }
        }
    }
}

/// The normalized correlation of `x` with `y` at the best lag in 0..=`max_lag` (x delayed).
fn correlation(x: &[i16], y: &[i16], max_lag: usize) -> (f64, usize) {
    let mut best = (f64::MIN, 0);
    for lag in 0..=max_lag {
        let n = x.len().saturating_sub(lag).min(y.len());
        let (mut xy, mut xx, mut yy) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let (a, b) = (f64::from(x[k + lag]), f64::from(y[k]));
            xy += a * b;
            xx += a * a;
            yy += b * b;
        }
        let c = if xx > 0.0 && yy > 0.0 {
            xy / (xx * yy).sqrt()
        } else {
            0.0
        };
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

fn source(hz: f64, amplitude: f64, len: usize) -> Vec<i16> {
    (0..len).map(|n| tone(hz, amplitude, n)).collect()
}

/// A source that does not repeat (a hash of its seed and sample number), at `amplitude`: its
/// correlation with a delayed copy peaks at one lag only.
fn noise(seed: u64, amplitude: f64, n: usize) -> i16 {
    let mut x = (seed << 32 | n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 32;
    ((x as u16 as i16) as f64 * amplitude / 32768.0) as i16
}

#[test]
fn two_speakers_at_once_are_both_heard_by_a_third() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps: Vec<Party> = (1..=3).map(|i| party(i, 0, &mut relay, t0)).collect();
    // Alice and Bob talk at once for two seconds (two independent signals); Carol listens.
    run(&mut relay, &mut ps, t0, 0..100, |i, n| {
        (i < 2).then(|| noise(i as u64, 8000.0, n))
    });
    let carol = &ps[2].heard;
    assert!(carol.len() >= 90 * MIX_FRAME, "{} samples", carol.len());
    let alice: Vec<i16> = (0..16_000).map(|n| noise(0, 8000.0, n)).collect();
    let bob: Vec<i16> = (0..16_000).map(|n| noise(1, 8000.0, n)).collect();
    let (ca, lag_a) = correlation(carol, &alice, 3 * MIX_FRAME);
    let (cb, lag_b) = correlation(carol, &bob, 3 * MIX_FRAME);
    // Each of two equal, independent signals is 1/√2 of their sum.
    assert!(ca > 0.65, "Alice in Carol's audio: {ca:.3}");
    assert!(cb > 0.65, "Bob in Carol's audio: {cb:.3}");
    assert_eq!(lag_a, lag_b, "both delayed alike");
    // What Carol heard is the sum, not a switch between them: the residual after taking
    // both out is G.711 quantization noise.
    let mixed: Vec<i16> = (0..carol.len() - lag_a)
        .map(|k| alice[k].saturating_add(bob[k]))
        .collect();
    let (c_sum, _) = correlation(&carol[lag_a..], &mixed, 0);
    assert!(c_sum > 0.99, "Carol hears Alice + Bob: {c_sum:.4}");
    // Alice hears Bob and not herself; Bob hears Alice.
    let (aa, _) = correlation(&ps[0].heard, &alice, 3 * MIX_FRAME);
    let (ab, _) = correlation(&ps[0].heard, &bob, 3 * MIX_FRAME);
    assert!(ab > 0.99, "Alice hears Bob: {ab:.3}");
    assert!(aa < 0.1, "Alice does not hear herself: {aa:.3}");
    let (ba, _) = correlation(&ps[1].heard, &alice, 3 * MIX_FRAME);
    assert!(ba > 0.99, "Bob hears Alice: {ba:.3}");
    // The CSRCs name who was mixed in: Carol's both, Alice's Bob only.
    let last = &ps[2].packets.last().unwrap().3;
    assert_eq!(last.len(), 2);
    assert!(last.contains(&ps[0].ssrc) && last.contains(&ps[1].ssrc));
    assert_eq!(ps[0].packets.last().unwrap().3, [ps[1].ssrc]);
    // One coherent stream each: sequence numbers by one, timestamps by 160, one marker.
    for p in &ps {
        for w in p.packets.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1));
            assert_eq!(w[1].1.wrapping_sub(w[0].1), MIX_FRAME as u32);
            assert!(!w[1].2);
        }
        assert!(p.packets[0].2, "the first packet starts a talk spurt");
    }
}

#[test]
fn the_loudest_speaker_is_the_first_csrc_and_silence_is_not_named() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps: Vec<Party> = (1..=4).map(|i| party(i, 0, &mut relay, t0)).collect();
    // Alice quiet, Bob loud, Carol silent; Dave listens.
    let amp = [2000.0, 12000.0, 0.0];
    run(&mut relay, &mut ps, t0, 0..20, |i, n| {
        amp.get(i).map(|&a| tone(300.0 + 200.0 * i as f64, a, n))
    });
    let csrcs = &ps[3].packets.last().unwrap().3;
    assert_eq!(csrcs, &[ps[1].ssrc, ps[0].ssrc]);
    assert_eq!(relay.dominant_speaker().map(|d| d.0), Some(2));
}

#[test]
fn a_loud_sum_is_clipped_not_wrapped() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps: Vec<Party> = (1..=3).map(|i| party(i, 0, &mut relay, t0)).collect();
    // Two near-full-scale signals in phase: their sum is twice what 16 bits hold.
    run(&mut relay, &mut ps, t0, 0..20, |i, n| {
        (i < 2).then(|| tone(200.0, 30000.0, n))
    });
    let carol = &ps[2].heard;
    let peak = carol.iter().map(|s| i32::from(*s)).max().unwrap();
    let trough = carol.iter().map(|s| i32::from(*s)).min().unwrap();
    assert!(peak > 31000 && trough < -31000, "{peak} {trough}");
    // Clipped, the sum keeps the sign of each source; wrapped, it would flip.
    let alice = source(200.0, 30000.0, 4000);
    let (c, _) = correlation(carol, &alice, 3 * MIX_FRAME);
    assert!(c > 0.9, "{c:.3}");
}

#[test]
fn an_a_law_participant_hears_a_mu_law_one() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps = vec![party(1, 0, &mut relay, t0), party(2, 8, &mut relay, t0)];
    run(&mut relay, &mut ps, t0, 0..25, |i, n| {
        (i == 0).then(|| tone(700.0, 9000.0, n))
    });
    let heard = &ps[1].heard;
    let (c, _) = correlation(heard, &source(700.0, 9000.0, 4000), 3 * MIX_FRAME);
    assert!(c > 0.99, "{c:.4}");
    assert!(ps[0].heard.is_empty(), "nobody else spoke");
}

#[test]
fn reordered_packets_land_in_place_and_late_ones_are_dropped() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps = [party(1, 0, &mut relay, t0), party(2, 0, &mut relay, t0)];
    let mut buf = [0u8; 2048];
    let signal = |n| noise(5, 9000.0, n);
    // Twenty frames, each pair swapped on the way, frame 13 held back until after frame 19.
    let mut frames: Vec<Vec<u8>> = (0..20).map(|_| ps[0].speak(signal)).collect();
    for pair in frames.chunks_mut(2) {
        pair.swap(0, 1);
    }
    let held = frames.remove(12);
    frames.push(held);
    for (k, f) in frames.iter_mut().enumerate() {
        let now = t0 + Duration::from_millis(20 * k as u64);
        relay.relay_rtp(now, 1, f).unwrap();
        while relay.poll_timeout().is_some_and(|t| t <= now) {
            relay.handle_timeout(now);
            while let Some(t) = relay.poll_transmit(now, &mut buf).unwrap() {
                if t.leg == 2 && !t.rtcp {
                    ps[1].receive(&buf[..t.len]);
                }
            }
        }
    }
    let sent: Vec<i16> = (0..3200).map(signal).collect();
    let heard = &ps[1].heard;
    let (c, lag) = correlation(heard, &sent, 3 * MIX_FRAME);
    assert!(c > 0.95, "in order again: {c:.4}");
    // Frame 13 came after its turn: a hole of silence in what Bob heard, and counted.
    let hole = &heard[lag + 13 * MIX_FRAME..lag + 14 * MIX_FRAME];
    assert!(hole.iter().all(|&s| s == 0), "the late frame is not mixed");
    let around = &heard[lag + 12 * MIX_FRAME..lag + 13 * MIX_FRAME];
    assert!(around.iter().any(|&s| s != 0));
    let alice = relay.report().into_iter().find(|r| r.leg == 1).unwrap();
    assert_eq!(alice.late, 1);
    assert_eq!(alice.received, 20);
}

#[test]
fn the_mixer_sleeps_when_nobody_sends() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps = vec![party(1, 0, &mut relay, t0), party(2, 0, &mut relay, t0)];
    run(&mut relay, &mut ps, t0, 0..5, |i, n| {
        (i == 0).then(|| tone(400.0, 5000.0, n))
    });
    let heard = ps[1].packets.len();
    assert!(heard >= 2);
    // Silence from everyone: a few periods drain the buffers, then no mix is due.
    run(&mut relay, &mut ps, t0, 5..15, |_, _| None);
    let rtcp_only = relay.poll_timeout().unwrap();
    assert!(
        rtcp_only > t0 + Duration::from_millis(500),
        "{:?}",
        rtcp_only - t0
    );
    // Alice talks again: Bob's stream goes on with a marker and the timestamps of the pause.
    run(&mut relay, &mut ps, t0, 40..50, |i, n| {
        (i == 0).then(|| tone(400.0, 5000.0, n))
    });
    let p = &ps[1].packets;
    let resumed = p.iter().skip(heard).position(|x| x.2).expect("a marker");
    let (before, after) = (&p[heard + resumed - 1], &p[heard + resumed]);
    assert!(after.1.wrapping_sub(before.1) > 20 * MIX_FRAME as u32);
}

#[test]
fn mixing_allocates_nothing() {
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps: Vec<Party> = (1..=10)
        .map(|i| party(i, (i as u8 % 2) * 8, &mut relay, t0))
        .collect();
    let mut pkts: Vec<Vec<Vec<u8>>> = (0..50)
        .map(|_| {
            ps.iter_mut()
                .map(|p| p.speak(|n| tone(300.0, 6000.0, n)))
                .collect()
        })
        .collect();
    let mut buf = [0u8; 2048];
    let mut step = |relay: &mut Relay, k: usize, frame: &mut Vec<Vec<u8>>| {
        let now = t0 + Duration::from_millis(20 * k as u64);
        let mut sent = 0;
        for (i, p) in frame.iter_mut().enumerate() {
            relay.relay_rtp(now, i as u64 + 1, p).unwrap();
        }
        while relay.poll_timeout().is_some_and(|t| t <= now) {
            relay.handle_timeout(now);
            while let Some(t) = relay.poll_transmit(now, &mut buf).unwrap() {
                sent += usize::from(!t.rtcp);
            }
        }
        sent
    };
    for (k, f) in pkts.iter_mut().take(10).enumerate() {
        step(&mut relay, k, f);
    }
    let (sent, allocations) = ocs_alloc_counter::count(|| {
        let mut sent = 0;
        for (k, f) in pkts.iter_mut().enumerate().skip(10) {
            sent += step(&mut relay, k, f);
        }
        sent
    });
    assert_eq!(allocations, 0);
    assert!(sent >= 39 * 10, "{sent} mixed packets");
}

#[test]
fn plain_rtp_legs_mix_with_srtp_ones() {
    // [MS-SDPEXT] optional encryption declined: leg 1 sends plain RTP, leg 2 (SRTP) and leg 3
    // (plain) hear it.
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let plain = |id: LegId| LegSetup {
        inbound: None,
        outbound: None,
        ssrc: 0x4D43_0000 + id as u32,
        seed: id,
        payload_type: 0,
    };
    relay.add_leg(1, plain(1), t0, 0x1_0000_0000).unwrap();
    let mut secure = party(2, 0, &mut relay, t0);
    relay.add_leg(3, plain(3), t0, 0x1_0000_0000).unwrap();
    let mut buf = [0u8; 2048];
    let mut heard3 = Vec::new();
    for k in 0..20u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x11];
        p[2..4].copy_from_slice(&(k as u16).to_be_bytes());
        p[4..8].copy_from_slice(&(k * 160).to_be_bytes());
        p.extend((0..MIX_FRAME).map(|n| encode_ulaw(noise(9, 7000.0, k as usize * 160 + n))));
        relay.relay_rtp(now, 1, &mut p).unwrap();
        while relay.poll_timeout().is_some_and(|t| t <= now) {
            relay.handle_timeout(now);
            while let Some(t) = relay.poll_transmit(now, &mut buf).unwrap() {
                match (t.leg, t.rtcp) {
                    (2, false) => secure.receive(&buf[..t.len]),
                    (3, false) => {
                        let p = RtpPacket::parse(&buf[..t.len]).expect("plain RTP");
                        heard3.extend(p.payload().iter().map(|&b| decode_ulaw(b)));
                    }
                    _ => {}
                }
            }
        }
    }
    let sent: Vec<i16> = (0..3200).map(|n| noise(9, 7000.0, n)).collect();
    let (c2, _) = correlation(&secure.heard, &sent, 3 * MIX_FRAME);
    let (c3, _) = correlation(&heard3, &sent, 3 * MIX_FRAME);
    assert!(c2 > 0.99 && c3 > 0.99, "{c2:.3} {c3:.3}");
}

#[test]
fn a_sender_whose_timestamps_stand_still_over_a_pause_is_heard_again() {
    // Timestamps from the top half of the range (the mixer's bookkeeping wraps), and a
    // sender that does not move them on over a pause: after the pause its audio is behind
    // what was mixed; with nothing buffered the mixer takes it from there.
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps = [party(1, 0, &mut relay, t0), party(2, 0, &mut relay, t0)];
    ps[0].ts = 0x9000_0000;
    run(&mut relay, &mut ps, t0, 0..10, |i, n| {
        (i == 0).then(|| noise(3, 8000.0, n))
    });
    let before = ps[1].heard.len();
    assert!(before >= 7 * MIX_FRAME);
    // 300 ms of nothing: the mixer goes to sleep (nothing buffered, whatever the
    // timestamps' half).
    run(&mut relay, &mut ps, t0, 10..25, |_, _| None);
    assert!(
        relay.poll_timeout().unwrap() > t0 + Duration::from_secs(1),
        "the mixer sleeps"
    );
    // Alice again, her timestamps where she left them (behind our clock by the pause).
    run(&mut relay, &mut ps, t0, 25..40, |i, n| {
        (i == 0).then(|| noise(3, 8000.0, n))
    });
    let after = &ps[1].heard[before..];
    assert!(
        after.len() >= 10 * MIX_FRAME,
        "heard again: {}",
        after.len()
    );
    let alice: Vec<i16> = (10 * MIX_FRAME..25 * MIX_FRAME)
        .map(|n| noise(3, 8000.0, n))
        .collect();
    // (after the two frames of the first talk still buffered and the new lead-in)
    let (c, _) = correlation(after, &alice, 8 * MIX_FRAME);
    assert!(c > 0.95, "{c:.3}");
}

#[test]
fn a_frozen_clock_is_taken_again_while_others_keep_the_mixer_awake() {
    // Bob talks throughout; Alice pauses 140 ms without moving her timestamps on: her next
    // packets are behind what was mixed, with nothing of hers buffered, so the mixer takes
    // her from there instead of dropping her as late.
    let t0 = Instant::now();
    let mut relay = Relay::new();
    let mut ps = [party(1, 0, &mut relay, t0), party(2, 0, &mut relay, t0)];
    let talk = |i: usize, n: usize| Some(noise(i as u64 + 20, 8000.0, n));
    run(&mut relay, &mut ps, t0, 0..10, talk);
    // 140 ms: behind by less than the buffer's length, so not a jump either.
    run(&mut relay, &mut ps, t0, 10..17, |i, n| {
        (i == 1).then(|| noise(21, 8000.0, n))
    });
    let before = ps[1].heard.len();
    run(&mut relay, &mut ps, t0, 17..37, talk);
    let after = &ps[1].heard[before..];
    let alice: Vec<i16> = (10 * MIX_FRAME..30 * MIX_FRAME)
        .map(|n| noise(20, 8000.0, n))
        .collect();
    let (c, _) = correlation(after, &alice, 8 * MIX_FRAME);
    assert!(c > 0.95, "bob hears alice after her pause: {c:.3}");
    let report = relay.report();
    assert!(report.iter().find(|r| r.leg == 1).unwrap().late >= 1);
}
