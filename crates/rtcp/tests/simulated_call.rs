//! A two-party call on virtual time over a lossy, jittery link model: what the sessions
//! measure (loss, jitter, round-trip time) must match what the model injected, within the
//! tolerances stated below.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use ocs_rtcp::rtp::RtpHeader;
use ocs_rtcp::session::{Config, Event, Session};

/// A deterministic link: base one-way delay, uniform extra delay in [0, jitter), random loss.
struct Link {
    rng: u64,
    delay: Duration,
    jitter: Duration,
    loss: f64,
}

impl Link {
    fn random(&mut self) -> f64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        (self.rng >> 11) as f64 / (1u64 << 53) as f64
    }
    /// When a packet sent at `t` arrives, or None if it is lost.
    fn carry(&mut self, t: Instant, lossy: bool) -> Option<Instant> {
        if lossy && self.random() < self.loss {
            return None;
        }
        Some(t + self.delay + self.jitter.mul_f64(self.random()))
    }
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct InFlight {
    at: Reverse<Instant>,
    to_b: bool,
    rtcp: bool,
    data: Vec<u8>,
}

#[test]
fn measured_loss_jitter_and_rtt_match_the_link() {
    let t0 = Instant::now();
    let ntp0 = 0xe7a0_0000_0000_0000u64;
    let mut a = Session::new(Config::audio(0xA, "a@contoso.com"), t0, ntp0, seeded(1));
    let mut b = Session::new(Config::audio(0xB, "b@contoso.com"), t0, ntp0, seeded(2));
    // 3 % loss each way, 50 ms one-way delay, 0..30 ms uniform delay variation.
    let mut link = Link {
        rng: 0x9E37_79B9_7F4A_7C15,
        delay: Duration::from_millis(50),
        jitter: Duration::from_millis(30),
        loss: 0.03,
    };
    let mut queue: BinaryHeap<InFlight> = BinaryHeap::new();
    let mut buf = [0u8; 1500];
    let end = t0 + Duration::from_secs(120);
    let mut next_media = t0;
    let mut seq = 0u16;
    let mut now = t0;
    let mut sent_a = 0u32;
    while now < end {
        // The next thing to happen: media tick, a session timer, or a delivery.
        let mut next = next_media;
        for t in [a.poll_timeout(), b.poll_timeout()].into_iter().flatten() {
            next = next.min(t);
        }
        if let Some(f) = queue.peek() {
            next = next.min(f.at.0);
        }
        now = next;
        if now == next_media {
            // 20 ms of G.711 each way.
            for (from_a, s) in [(true, &mut a), (false, &mut b)] {
                let h = RtpHeader {
                    payload_type: 0,
                    sequence_number: seq,
                    timestamp: u32::from(seq) * 160,
                    ssrc: if from_a { 0xA } else { 0xB },
                    ..RtpHeader::default()
                };
                let n = h.write(&[0x55; 160], 0, &mut buf).unwrap();
                s.on_rtp_sent(now, &buf[..n]).unwrap();
                if from_a {
                    sent_a += 1;
                }
                if let Some(at) = link.carry(now, true) {
                    queue.push(InFlight {
                        at: Reverse(at),
                        to_b: from_a,
                        rtcp: false,
                        data: buf[..n].to_vec(),
                    });
                }
            }
            seq = seq.wrapping_add(1);
            next_media += Duration::from_millis(20);
        }
        for (to_b, s) in [(true, &mut a), (false, &mut b)] {
            s.handle_timeout(now);
            if let Some(n) = s.poll_transmit(now, &mut buf).unwrap() {
                // RTCP travels the same link but is not lost here, so that every report counts.
                let at = link.carry(now, false).unwrap();
                queue.push(InFlight {
                    at: Reverse(at),
                    to_b,
                    rtcp: true,
                    data: buf[..n].to_vec(),
                });
            }
        }
        while queue.peek().is_some_and(|f| f.at.0 <= now) {
            let f = queue.pop().unwrap();
            let s = if f.to_b { &mut b } else { &mut a };
            if f.rtcp {
                s.handle_rtcp(now, &f.data).unwrap();
            } else {
                s.handle_rtp(now, &f.data).unwrap();
            }
        }
    }
    // Loss measured by B about A: 3 % injected; over 6,000 packets the binomial standard
    // deviation is 0.22 %, so ±0.8 % is about 3.5 sigma.
    let st = b.source(0xA).expect("B received A");
    let lost = f64::from(st.cumulative_lost()) / f64::from(st.expected()) * 100.0;
    assert!((lost - 3.0).abs() < 0.8, "loss {lost:.2} %");
    assert!(st.expected() > sent_a - 5, "{} of {sent_a}", st.expected());
    // Jitter: for i.i.d. uniform [0, 30 ms) delays, E|D| = 30 / 3 = 10 ms; the estimator is an
    // exponential average of |D|, so it wanders: allow 10 ms ± 3 ms.
    let j = st.jitter_duration().as_secs_f64() * 1000.0;
    assert!((j - 10.0).abs() < 3.0, "jitter {j:.2} ms");
    // RTT seen by A through B's reports: 2 x (50 ms + U[0, 30 ms)) = 100..160 ms, mean 130.
    let rtt = a.rtt(0xB).expect("A measured an RTT").as_secs_f64() * 1000.0;
    assert!((100.0..=161.0).contains(&rtt), "rtt {rtt:.1} ms");
    // Both sides produced quality verdicts a person can read.
    let q = b.quality(0xA).unwrap();
    assert!(q.mos > 3.5 && q.mos < 4.4, "{q}");
    let mut reports = 0;
    while let Some(e) = a.poll_event() {
        if matches!(e, Event::ReportReceived { from: 0xB, .. }) {
            reports += 1;
        }
    }
    // Reports every ~5 s (randomized 0.5..1.5 and compensated): about 24 in 120 s.
    assert!((12..=40).contains(&reports), "{reports} reports");
}

/// Runs a session's timer until it sends (timer reconsideration may postpone the first try).
fn next_report(s: &mut Session, buf: &mut [u8]) -> (Instant, usize) {
    loop {
        let t = s.poll_timeout().unwrap();
        s.handle_timeout(t);
        if let Some(n) = s.poll_transmit(t, buf).unwrap() {
            return (t, n);
        }
    }
}

#[test]
fn bye_and_timeouts() {
    let t0 = Instant::now();
    let mut a = Session::new(Config::audio(0xA, "a"), t0, 1 << 32, seeded(7));
    let mut b = Session::new(Config::audio(0xB, "b"), t0, 1 << 32, seeded(8));
    let mut buf = [0u8; 512];
    // B hears one report from A, then A leaves.
    let (t, n) = next_report(&mut a, &mut buf);
    b.handle_rtcp(t, &buf[..n]).unwrap();
    assert_eq!(b.member_count(), 1);
    a.leave(t, "call ended");
    let n = a.poll_transmit(t, &mut buf).unwrap().unwrap();
    assert!(a.poll_timeout().is_none());
    b.handle_rtcp(t, &buf[..n]).unwrap();
    assert_eq!(b.member_count(), 0);
    assert!(std::iter::from_fn(|| b.poll_event()).any(|e| e
        == Event::Bye {
            ssrc: 0xA,
            reason: Some("call ended".into())
        }));
    // A member that falls silent times out after 5 intervals.
    let mut c = Session::new(Config::audio(0xC, "c"), t0, 1 << 32, seeded(9));
    let (t, n) = next_report(&mut c, &mut buf);
    b.handle_rtcp(t, &buf[..n]).unwrap();
    let mut now = t;
    let mut timed_out = false;
    for _ in 0..200 {
        now = b.poll_timeout().unwrap();
        b.handle_timeout(now);
        let _ = b.poll_transmit(now, &mut buf).unwrap();
        if std::iter::from_fn(|| b.poll_event()).any(|e| e == Event::Timeout { ssrc: 0xC }) {
            timed_out = true;
            break;
        }
    }
    assert!(timed_out);
    assert!(
        now.duration_since(t) >= Duration::from_secs(25),
        "{:?}",
        now.duration_since(t)
    );
}

#[test]
fn ms_timer_modes_and_collisions() {
    use ocs_rtcp::session::TimerMode;
    let t0 = Instant::now();
    let mut a = Session::new(Config::audio(0xA, "a"), t0, 1 << 32, seeded(3));
    let mut buf = [0u8; 512];
    let (t1, _) = next_report(&mut a, &mut buf);
    a.set_timer_mode(t1, TimerMode::PacketPairFast);
    let (t2, _) = next_report(&mut a, &mut buf);
    assert_eq!(t2 - t1, Duration::from_millis(250));
    a.set_timer_mode(t2, TimerMode::PacketTrainFast);
    let (t3, _) = next_report(&mut a, &mut buf);
    assert_eq!(t3 - t2, Duration::from_secs(1));
    // Our own SSRC from the network: a collision or a loop.
    let h = RtpHeader {
        ssrc: 0xA,
        ..RtpHeader::default()
    };
    let n = h.write(&[0; 4], 0, &mut buf).unwrap();
    a.handle_rtp(t3, &buf[..n]).unwrap();
    assert!(std::iter::from_fn(|| a.poll_event()).any(|e| e == Event::SsrcCollision { ssrc: 0xA }));
}

#[test]
fn interval_follows_bandwidth_and_members() {
    // With 5 % of 80 kbit/s = 500 bytes/s and ~100-byte reports, two members give 0.4 s:
    // the 5 s minimum (2.5 s for the first report) rules, randomized 0.5..1.5 / 1.218.
    let t0 = Instant::now();
    let mut gaps = Vec::new();
    for seed in 1..40 {
        let mut s = Session::new(Config::audio(0xA, "a"), t0, 1 << 32, seeded(seed));
        let mut buf = [0u8; 512];
        let (t1, _) = next_report(&mut s, &mut buf);
        let (t2, _) = next_report(&mut s, &mut buf);
        gaps.push((t1 - t0, t2 - t1));
    }
    let e = std::f64::consts::E - 1.5;
    for (first, next) in &gaps {
        let f = first.as_secs_f64();
        let n = next.as_secs_f64();
        assert!(
            f >= 2.5 * 0.5 / e - 1e-9 && f <= 5.0 * 1.5 / e + 1e-9,
            "first {f}"
        );
        assert!(
            n >= 5.0 * 0.5 / e - 1e-9 && n <= 5.0 * 1.5 / e + 1e-9,
            "next {n}"
        );
    }
    // The intervals are randomized, not all alike.
    assert!(gaps.windows(2).any(|w| w[0].1 != w[1].1));
}

#[test]
fn loops_and_bye_reconsideration() {
    let t0 = Instant::now();
    let mut a = Session::new(Config::audio(0xA, "a@contoso.com"), t0, 1 << 32, seeded(11));
    let mut buf = [0u8; 512];
    // Our own report comes back: a loop, not a collision.
    let (t, n) = next_report(&mut a, &mut buf);
    a.handle_rtcp(t, &buf[..n]).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(events.contains(&Event::Loop { ssrc: 0xA }), "{events:?}");
    assert!(!events.contains(&Event::SsrcCollision { ssrc: 0xA }));
    // Another endpoint with our SSRC and its own CNAME: a collision.
    let mut other = Session::new(
        Config::audio(0xA, "mallory@example.com"),
        t0,
        1 << 32,
        seeded(12),
    );
    let (t, n) = next_report(&mut other, &mut buf);
    a.handle_rtcp(t, &buf[..n]).unwrap();
    let events: Vec<Event> = std::iter::from_fn(|| a.poll_event()).collect();
    assert!(
        events.contains(&Event::SsrcCollision { ssrc: 0xA }),
        "{events:?}"
    );

    // BYE reconsideration (A.7): with 50 or more members the BYE is not sent at once.
    let mut big = Session::new(Config::audio(0xB, "b"), t0, 1 << 32, seeded(13));
    for ssrc in 1..=60u32 {
        let mut m = Session::new(
            Config::audio(0x1000 + ssrc, "m"),
            t0,
            1 << 32,
            seeded(u64::from(ssrc)),
        );
        let (t, n) = next_report(&mut m, &mut buf);
        big.handle_rtcp(t, &buf[..n]).unwrap();
    }
    assert_eq!(big.member_count(), 60);
    let now = t0 + Duration::from_secs(10);
    big.leave(now, "");
    assert!(
        big.poll_transmit(now, &mut buf).unwrap().is_none(),
        "the BYE waits for its reconsidered time"
    );
    let (t, n) = next_report(&mut big, &mut buf);
    assert!(t > now);
    let c = ocs_rtcp::packet::Compound::parse(&buf[..n], &ocs_rtcp::Limits::default()).unwrap();
    assert!(
        c.packets()
            .any(|p| p.header.packet_type == ocs_rtcp::packet::pt::BYE)
    );
    assert!(big.poll_timeout().is_none());
    // With few members it goes out at once.
    let mut small = Session::new(Config::audio(0xC, "c"), t0, 1 << 32, seeded(14));
    small.leave(t0, "bye");
    assert!(small.poll_transmit(t0, &mut buf).unwrap().is_some());
}

#[test]
fn ms_rtp_profile_extensions_ride_every_report() {
    use ocs_rtcp::msrtp::MsExtension;
    use ocs_rtcp::packet::{Compound, Kind, Limits};
    let t0 = Instant::now();
    let mut s = Session::new(Config::audio(0x11, "mcu"), t0, 0x1_0000_0000, seeded(3));
    let ext = vec![
        MsExtension::EstimatedBandwidth {
            ssrc: 0x22,
            bandwidth: 64_000,
            confidence: None,
        },
        MsExtension::PolicyServerBandwidth(80_000),
    ];
    s.set_extensions(ext.clone());
    let mut buf = [0u8; 1500];
    let (_, n) = next_report(&mut s, &mut buf);
    let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
    let rr = c.packets().next().unwrap();
    let Kind::ReceiverReport(rr) = rr.kind() else {
        panic!("an RR first")
    };
    let got: Vec<MsExtension> = rr.extensions().map(|e| e.typed()).collect();
    assert_eq!(got, ext, "written after the report blocks, read back typed");
}

/// A report that does not fit the caller's buffer is an error that changes nothing: it stays
/// due, and the report then sent is byte for byte the one a session never asked with too
/// small a buffer sends (the A.3 interval counters did not move).
#[test]
fn a_buffer_too_small_leaves_the_report_due_and_the_statistics_alone() {
    let t0 = Instant::now();
    let mk = || Session::new(Config::audio(0xA, "a@contoso.com"), t0, 1 << 32, seeded(3));
    let (mut tried, mut clean) = (mk(), mk());
    let mut pkt = [0u8; 200];
    // 50 packets from B with every fifth lost.
    for seq in 0..50u16 {
        if seq % 5 == 4 {
            continue;
        }
        let h = RtpHeader {
            payload_type: 0,
            sequence_number: seq,
            timestamp: u32::from(seq) * 160,
            ssrc: 0xB,
            ..RtpHeader::default()
        };
        let n = h.write(&[0xFF; 160], 0, &mut pkt).unwrap();
        let at = t0 + Duration::from_millis(20 * u64::from(seq));
        tried.handle_rtp(at, &pkt[..n]).unwrap();
        clean.handle_rtp(at, &pkt[..n]).unwrap();
    }
    // Both sessions see the same timeouts (same seed) until a report is due.
    let mut small = [0u8; 16];
    let due = loop {
        let due = tried.poll_timeout().unwrap();
        tried.handle_timeout(due);
        clean.handle_timeout(due);
        match tried.poll_transmit(due, &mut small) {
            Ok(None) => continue,
            Err(ocs_rtcp::Error::BufferTooSmall { .. }) => break due,
            other => panic!("{other:?}"),
        }
    };
    let (mut a, mut b) = ([0u8; 1500], [0u8; 1500]);
    let n = tried
        .poll_transmit(due, &mut a)
        .unwrap()
        .expect("still due");
    let m = clean.poll_transmit(due, &mut b).unwrap().unwrap();
    assert_eq!(a[..n], b[..m]);
    assert!(
        tried.poll_transmit(due, &mut a).unwrap().is_none(),
        "sent once"
    );
}

/// A deterministic generator for a session's interval randomization.
fn seeded(seed: u64) -> rand::rngs::StdRng {
    <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed)
}
