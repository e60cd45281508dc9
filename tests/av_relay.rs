//! The A/V MCU's relay (`ocs_stack::media`) with participants built from `ocs-srtp` and
//! `ocs-rtcp`, on virtual time: each one keyed apart, the dominant speaker relayed to the others
//! as one stream per receiver with the speaker as first CSRC, replays refused, RTCP both ways
//! giving loss, jitter, RTT and MOS per participant (a lossy one visibly worse), and no
//! allocation per relayed packet.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use ocs_stack::media::{LegId, LegSetup, Relay, RelayError};
use ocs_stack::rtcp::rtp::RtpPacket;
use ocs_stack::rtcp::session::{Config, Session as Rtcp};
use ocs_stack::srtp::{Policy, Session};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

/// Everything the relay has to send now: (leg, bytes, RTCP or not).
fn sent(relay: &mut Relay, now: Instant) -> Vec<(LegId, Vec<u8>, bool)> {
    let mut buf = [0u8; 2048];
    let mut out = Vec::new();
    while let Some(t) = relay.poll_transmit(now, &mut buf).unwrap() {
        out.push((t.leg, buf[..t.len].to_vec(), t.rtcp));
    }
    out
}

/// Relays one RTP packet; the SRTP packets it sends, by leg.
fn relay_one(
    relay: &mut Relay,
    now: Instant,
    from: LegId,
    pkt: &mut [u8],
) -> Result<Vec<(LegId, Vec<u8>)>, RelayError> {
    relay.relay_rtp(now, from, pkt)?;
    Ok(sent(relay, now)
        .into_iter()
        .filter(|t| !t.2)
        .map(|(leg, b, _)| (leg, b))
        .collect())
}

/// The MCU's SSRC toward leg `id`.
fn mcu_ssrc(id: LegId) -> u32 {
    0x4D43_0000 + id as u32
}

fn key(byte: u8) -> Policy {
    Policy::ms_srtp(&[byte; 30]).unwrap()
}

struct Party {
    id: LegId,
    ssrc: u32,
    /// What it sends with (its key) and what it receives with (the MCU's key for it).
    tx: Session,
    rx: Session,
    rtcp: Rtcp,
    seq: u16,
    ts: u32,
    /// Received: (SSRC, first CSRC, sequence number, marker, timestamp).
    got: Vec<(u32, u32, u16, bool, u32)>,
}

fn party(id: LegId, relay: &mut Relay, now: Instant) -> Party {
    let mine = key(id as u8);
    let theirs = key(0x80 + id as u8);
    let setup = LegSetup {
        inbound: Some(&mine),
        outbound: Some(&theirs),
        ssrc: mcu_ssrc(id),
        seed: id,
        payload_type: 0,
    };
    relay.add_leg(id, setup, now, 0x1_0000_0000).unwrap();
    let mut tx = Session::new();
    tx.add_outbound_template(&mine).unwrap();
    let mut rx = Session::new();
    rx.add_inbound_template(&theirs).unwrap();
    let ssrc = 0x1000 + id as u32;
    Party {
        id,
        ssrc,
        tx,
        rx,
        rtcp: Rtcp::new(
            Config::audio(ssrc, &format!("p{id}")),
            now,
            0x1_0000_0000,
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(id + 7),
        ),
        seq: 1,
        ts: 0,
        got: Vec::new(),
    }
}

impl Party {
    /// Its next 20 ms of PCMU, loud or silent, protected.
    fn speak(&mut self, now: Instant, loud: bool) -> Vec<u8> {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        p[2..4].copy_from_slice(&self.seq.to_be_bytes());
        p[4..8].copy_from_slice(&self.ts.to_be_bytes());
        p[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        p.extend((0..160).map(|i| if loud { (i % 32) as u8 } else { 0xFF }));
        self.rtcp.on_rtp_sent(now, &p).unwrap();
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        let n = p.len();
        p.resize(n + 64, 0);
        let m = self.tx.protect_rtp(&mut p, n).unwrap();
        p.truncate(m);
        p
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let mut b = bytes.to_vec();
        let n = self.rx.unprotect_rtp(&mut b).expect("the MCU's key for us");
        let p = RtpPacket::parse(&b[..n]).unwrap();
        let csrc = p.csrcs().next().expect("the speaker as CSRC");
        self.got.push((
            p.ssrc(),
            csrc,
            p.sequence_number(),
            p.marker(),
            p.timestamp(),
        ));
        assert_eq!(p.payload().len(), 160);
        self.rtcp.handle_rtp(now, &b[..n]).unwrap();
    }
}

#[test]
fn the_dominant_speaker_reaches_every_other_participant() {
    let t0 = Instant::now();
    let mut relay = Relay::switching();
    let mut ps: Vec<Party> = (1..=3).map(|i| party(i, &mut relay, t0)).collect();
    let mut last_a = Vec::new();
    // One second of Alice talking, then Bob takes over.
    for tick in 0..100u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(tick));
        for i in 0..3 {
            let loud = if tick < 50 { i == 0 } else { i == 1 };
            let mut pkt = ps[i].speak(now, loud);
            if i == 0 {
                last_a = pkt.clone();
            }
            let out = relay_one(&mut relay, now, ps[i].id, &mut pkt).unwrap();
            for (to, b) in out {
                assert_ne!(to, ps[i].id, "nobody hears himself");
                let r = ps.iter_mut().find(|p| p.id == to).unwrap();
                r.receive(now, &b);
            }
        }
    }
    assert_eq!(relay.dominant_speaker(), Some((2, ps[1].ssrc)));
    // Carol heard Alice, then Bob, as one stream: the MCU's SSRC, continuous sequence
    // numbers and timestamps, the marker at each new speaker.
    let carol = &ps[2].got;
    assert!(carol.iter().all(|g| g.0 == mcu_ssrc(3)));
    let speakers: Vec<u32> = carol.iter().map(|g| g.1).collect();
    let switch = speakers
        .iter()
        .position(|&s| s == ps[1].ssrc)
        .expect("Bob was heard");
    assert!(speakers[..switch].iter().all(|&s| s == ps[0].ssrc));
    assert!(speakers[switch..].iter().all(|&s| s == ps[1].ssrc));
    assert!((50..70).contains(&switch), "after the hold time: {switch}");
    for w in carol.windows(2) {
        assert_eq!(w[1].2, w[0].2.wrapping_add(1), "sequence numbers run on");
        assert!(
            w[1].4.wrapping_sub(w[0].4) >= 160,
            "timestamps move forward"
        );
    }
    let markers: Vec<usize> = carol
        .iter()
        .enumerate()
        .filter(|(_, g)| g.3)
        .map(|(i, _)| i)
        .collect();
    assert_eq!(markers, [0, switch]);
    // Alice got Bob only; Bob got Alice only.
    assert!(
        ps[0]
            .got
            .iter()
            .all(|g| g.1 == ps[1].ssrc && g.0 == mcu_ssrc(1))
    );
    assert!(ps[1].got.iter().all(|g| g.1 == ps[0].ssrc));
    // A replayed packet is refused, and nothing is sent.
    let now = t0 + Duration::from_secs(3);
    let r = relay_one(&mut relay, now, 1, &mut last_a);
    assert!(matches!(r, Err(RelayError::Srtp { leg: 1, .. })), "{r:?}");
    assert!(sent(&mut relay, now).is_empty(), "nothing is sent");
    // A packet under another participant's key is refused too.
    let mut forged = ps[1].speak(now, true);
    assert!(relay_one(&mut relay, now, 1, &mut forged).is_err());
}

/// How many reports in an RTCP compound carry the MCU's [MS-RTP] extensions: Policy Server
/// Bandwidth, and Estimated Bandwidth about `ssrc` at G.711's rate (64 kbit/s of payload,
/// 80 with headers) once it has sent.
fn ms_extensions(rtcp: &[u8], ssrc: u32) -> usize {
    use ocs_stack::rtcp::msrtp::MsExtension;
    use ocs_stack::rtcp::packet::{Compound, Kind, Limits};
    let c = Compound::parse(rtcp, &Limits::default()).unwrap();
    let mut n = 0;
    for p in c.packets() {
        let ext: Vec<MsExtension> = match p.kind() {
            Kind::SenderReport(r) => r.extensions().map(|e| e.typed()).collect(),
            Kind::ReceiverReport(r) => r.extensions().map(|e| e.typed()).collect(),
            _ => continue,
        };
        assert!(
            ext.contains(&MsExtension::PolicyServerBandwidth(80_000)),
            "{ext:?}"
        );
        for e in &ext {
            if let MsExtension::EstimatedBandwidth {
                ssrc: s, bandwidth, ..
            } = e
            {
                assert_eq!(*s, ssrc);
                assert!((50_000..100_000).contains(bandwidth), "{bandwidth}");
            }
        }
        n += 1;
    }
    n
}

#[test]
fn rtcp_both_ways_gives_each_participant_its_quality() {
    let t0 = Instant::now();
    let mut relay = Relay::switching();
    let mut ps: Vec<Party> = (1..=3).map(|i| party(i, &mut relay, t0)).collect();
    // RTCP from the participants reaches the MCU 30 ms late.
    let mut late: VecDeque<(Instant, LegId, Vec<u8>)> = VecDeque::new();
    let mut buf = vec![0u8; 1500];
    let mut extensions_seen = 0;
    for tick in 0..750u32 {
        let now = t0 + Duration::from_millis(20 * u64::from(tick));
        // Five seconds each: Alice, Bob, Carol.
        let speaker = (tick / 250) as usize;
        for i in 0..3 {
            let mut pkt = ps[i].speak(now, i == speaker);
            // Carol's uplink loses every 8th packet.
            if i == 2 && tick % 8 == 0 {
                continue;
            }
            let out = relay_one(&mut relay, now, ps[i].id, &mut pkt).unwrap();
            for (to, b) in out {
                ps.iter_mut().find(|p| p.id == to).unwrap().receive(now, &b);
            }
        }
        // The MCU's reports, straight to the participants.
        relay.handle_timeout(now);
        let reports = sent(&mut relay, now);
        assert!(reports.iter().all(|r| r.2), "only reports");
        for (to, mut b, _) in reports {
            let p = ps.iter_mut().find(|p| p.id == to).unwrap();
            let n = p.rx.unprotect_rtcp(&mut b).unwrap();
            extensions_seen += ms_extensions(&b[..n], p.ssrc);
            p.rtcp.handle_rtcp(now, &b[..n]).unwrap();
        }
        // The participants' reports, 30 ms on the way.
        for p in &mut ps {
            if p.rtcp.poll_timeout().is_some_and(|t| t <= now) {
                p.rtcp.handle_timeout(now);
            }
            while let Some(n) = p.rtcp.poll_transmit(now, &mut buf[..1400]).unwrap() {
                let m = p.tx.protect_rtcp(&mut buf, n).unwrap();
                late.push_back((now + Duration::from_millis(30), p.id, buf[..m].to_vec()));
            }
        }
        while late.front().is_some_and(|(t, _, _)| *t <= now) {
            let (_, from, mut b) = late.pop_front().unwrap();
            relay.handle_rtcp(now, from, &mut b).unwrap();
        }
    }
    assert!(
        extensions_seen >= 3,
        "the MCU's reports carry [MS-RTP] extensions"
    );
    let report = relay.report();
    assert_eq!(report.len(), 3);
    for r in &report {
        let q = r.quality.as_ref().expect("a quality estimate");
        let rtt = q
            .rtt
            .expect("a round-trip time from the participant's reports");
        assert!(
            (Duration::from_millis(20)..Duration::from_millis(80)).contains(&rtt),
            "leg {}: {rtt:?}",
            r.leg
        );
    }
    let clean = report[0].quality.as_ref().unwrap();
    let lossy = report[2].quality.as_ref().unwrap();
    assert_eq!(report[0].lost, 0);
    assert!(
        (90..=96).contains(&report[2].lost),
        "one in eight of 750: {}",
        report[2].lost
    );
    assert!((lossy.loss_percent - 12.5).abs() < 0.5, "{lossy:?}");
    assert!(
        lossy.mos + 0.5 < clean.mos,
        "the lossy one is visibly worse: {} against {}",
        lossy.mos,
        clean.mos
    );
    let relayed: u64 = report.iter().map(|r| r.relayed).sum();
    assert!(
        relayed > 2 * 700,
        "each speaker reached the two others: {relayed}"
    );
}

#[test]
fn relaying_allocates_nothing_per_packet() {
    let t0 = Instant::now();
    let mut relay = Relay::switching();
    let mut ps: Vec<Party> = (1..=10).map(|i| party(i, &mut relay, t0)).collect();
    // Pre-built packets, and a warm-up that creates every stream and member.
    let mut packets: Vec<Vec<u8>> = (0..400)
        .map(|k| ps[0].speak(t0 + Duration::from_millis(20 * k), true))
        .collect();
    let mut sent_n = 0usize;
    for (k, p) in packets.iter_mut().take(50).enumerate() {
        let now = t0 + Duration::from_millis(20 * k as u64);
        sent_n += relay_one(&mut relay, now, 1, p).unwrap().len();
    }
    let mut out = [0u8; 2048];
    let (relayed, allocations) = ocs_alloc_counter::count(|| {
        let mut n = 0;
        for (k, p) in packets.iter_mut().enumerate().skip(50) {
            let now = t0 + Duration::from_millis(20 * k as u64);
            relay.relay_rtp(now, 1, p).unwrap();
            while let Some(t) = relay.poll_transmit(now, &mut out).unwrap() {
                assert!(t.len > 160 && !t.rtcp);
                n += 1;
            }
        }
        n
    });
    assert_eq!(sent_n, 50 * 9);
    assert_eq!(relayed, 350 * 9, "each packet to the nine others");
    assert_eq!(allocations, 0, "no allocation per relayed packet");
    ps.clear();
}

/// A video packet of `ssrc`: 1,000 bytes of payload, the marker on the last packet of a frame.
fn video_packet(tx: &mut Session, ssrc: u32, seq: u16, ts: u32, last: bool) -> Vec<u8> {
    let mut p = vec![0x80, if last { 0x80 | 121 } else { 121 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(std::iter::repeat_n(0x5A, 1000));
    let n = p.len();
    p.resize(n + 64, 0);
    let m = tx.protect_rtp(&mut p, n).unwrap();
    p.truncate(m);
    p
}

#[test]
fn video_follows_the_dominant_speaker_and_asks_for_a_key_frame() {
    use ocs_stack::rtcp::packet::{Compound, Kind, Limits};
    let t0 = Instant::now();
    let mut video = Relay::video();
    assert_eq!(video.kind(), ocs_stack::media::MediaKind::Video);
    // Three participants' video legs, keyed apart.
    let mut tx = Vec::new();
    let mut rx = Vec::new();
    for id in 1..=3u64 {
        let (mine, theirs) = (key(0x40 + id as u8), key(0xC0 + id as u8));
        let setup = LegSetup {
            inbound: Some(&mine),
            outbound: Some(&theirs),
            ssrc: mcu_ssrc(id),
            seed: id,
            payload_type: 96,
        };
        video.add_leg(id, setup, t0, 0x1_0000_0000).unwrap();
        let mut t = Session::new();
        t.add_outbound_template(&mine).unwrap();
        let mut r = Session::new();
        r.add_inbound_template(&theirs).unwrap();
        tx.push(t);
        rx.push(r);
    }
    let vssrc = |id: u64| 0x7000 + id as u32;
    // Nobody is dominant yet: nothing is relayed.
    let mut first = video_packet(&mut tx[1], vssrc(2), 1, 0, true);
    assert_eq!(video.relay_rtp(t0, 2, &mut first).unwrap(), 0);
    assert!(sent(&mut video, t0).is_empty());
    // Alice speaks: her frames (3 packets each, 33 ms apart) reach Bob and Carol.
    video.set_dominant(Some(1));
    let _ = sent(&mut video, t0);
    let mut got: Vec<(LegId, u32, u32, bool, u32)> = Vec::new();
    let mut seq = 0u16;
    for frame in 0..10u32 {
        let now = t0 + Duration::from_millis(33 * u64::from(frame));
        for k in 0..3 {
            seq += 1;
            let mut p = video_packet(&mut tx[0], vssrc(1), seq, frame * 3000, k == 2);
            let out = relay_one(&mut video, now, 1, &mut p).unwrap();
            let n = out.len();
            assert_eq!(n, 2);
            for (to, mut b) in out {
                let m = rx[to as usize - 1].unprotect_rtp(&mut b).unwrap();
                let r = RtpPacket::parse(&b[..m]).unwrap();
                assert_eq!(r.payload().len(), 1000);
                got.push((
                    to,
                    r.ssrc(),
                    r.csrcs().next().unwrap(),
                    r.marker(),
                    r.timestamp(),
                ));
            }
        }
    }
    let carol: Vec<_> = got.iter().filter(|g| g.0 == 3).collect();
    assert_eq!(carol.len(), 30);
    assert!(carol.iter().all(|g| g.1 == mcu_ssrc(3) && g.2 == vssrc(1)));
    let marks: Vec<bool> = carol.iter().map(|g| g.3).collect();
    assert_eq!(
        marks[..6],
        [false, false, true, false, false, true],
        "frame ends kept"
    );
    assert_eq!(
        carol[3].4.wrapping_sub(carol[0].4),
        3000,
        "90 kHz timestamps kept"
    );
    // Bob becomes the speaker: a key frame request (RR + PLI) goes to Bob's leg only.
    let mut seq2 = 1u16;
    let mut bob = video_packet(&mut tx[1], vssrc(2), 2, 0, true);
    let _ = relay_one(&mut video, t0, 2, &mut bob).unwrap();
    video.set_dominant(Some(2));
    let mut asked = sent(&mut video, t0);
    assert_eq!(asked.len(), 1);
    let (to, mut b, rtcp) = asked.pop().unwrap();
    assert!(rtcp, "a key frame request is RTCP");
    assert_eq!(to, 2);
    let n = rx[1].unprotect_rtcp(&mut b).unwrap();
    let c = Compound::parse(&b[..n], &Limits::default()).unwrap();
    let kinds: Vec<_> = c.packets().map(|p| p.kind()).collect();
    assert!(matches!(kinds[0], Kind::ReceiverReport(_)));
    let Kind::Feedback(f) = &kinds[1] else {
        panic!("{kinds:?}")
    };
    assert_eq!((f.transport, f.fmt), (false, 1), "PLI");
    assert_eq!(f.media_ssrc(), vssrc(2));
    // The same speaker again: no second request.
    video.set_dominant(Some(2));
    assert!(sent(&mut video, t0).is_empty(), "asked once");
    // Bob's next frame reaches Alice and Carol, timestamps going on from Alice's.
    let now = t0 + Duration::from_millis(400);
    seq2 += 2;
    let mut p = video_packet(&mut tx[1], vssrc(2), seq2, 90_000, true);
    let out = relay_one(&mut video, now, 2, &mut p).unwrap();
    let (_, mut b) = out.into_iter().find(|(to, _)| *to == 3).unwrap();
    let m = rx[2].unprotect_rtp(&mut b).unwrap();
    let r = RtpPacket::parse(&b[..m]).unwrap();
    assert_eq!(r.csrcs().next(), Some(vssrc(2)));
    let step = r.timestamp().wrapping_sub(carol.last().unwrap().4);
    assert!((3000..=9000 * 10).contains(&step), "{step}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Any schedule of who sends, loud or quiet, and how much time passes: every relayed
    /// packet decrypts under its receiver's key, nobody gets his own audio, each receiver's
    /// stream has consecutive sequence numbers and timestamps that never go back, the CSRC is
    /// the packet's sender, and the marker is set exactly where the speaker changes.
    #[test]
    fn relayed_streams_stay_coherent(
        schedule in proptest::collection::vec((0usize..4, proptest::bool::ANY, 0u64..60), 1..300)
    ) {
        let t0 = Instant::now();
        let mut relay = Relay::switching();
        let mut ps: Vec<Party> = (1..=4).map(|i| party(i, &mut relay, t0)).collect();
        let mut now = t0;
        let mut last: Vec<Option<(u16, u32, u32)>> = vec![None; 4];
        for (who, loud, step) in schedule {
            now += Duration::from_millis(step);
            let mut pkt = ps[who].speak(now, loud);
            let out = relay_one(&mut relay, now, ps[who].id, &mut pkt).unwrap();
            for (to, mut b) in out {
                let r = (to - 1) as usize;
                proptest::prop_assert_ne!(r, who);
                let n = ps[r].rx.unprotect_rtp(&mut b).unwrap();
                let p = RtpPacket::parse(&b[..n]).unwrap();
                let csrc = p.csrcs().next().unwrap();
                proptest::prop_assert_eq!(csrc, ps[who].ssrc);
                proptest::prop_assert_eq!(p.ssrc(), mcu_ssrc(to));
                if let Some((seq, ts, speaker)) = last[r] {
                    proptest::prop_assert_eq!(p.sequence_number(), seq.wrapping_add(1));
                    proptest::prop_assert!(p.timestamp().wrapping_sub(ts) < 1 << 31);
                    proptest::prop_assert_eq!(p.marker(), speaker != csrc);
                } else {
                    proptest::prop_assert!(p.marker());
                }
                last[r] = Some((p.sequence_number(), p.timestamp(), csrc));
            }
        }
    }
}
