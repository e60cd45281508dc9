//! `cargo bench --bench av_relay [--features bench-libsrtp]`: the A/V MCU relay
//! (`ocs_stack::media::Relay`) of a 10-party audio conference. One *relayed packet* is a
//! 20 ms PCMU packet (172 bytes of RTP) from the dominant speaker, unprotected once with its
//! key and protected nine times, once per receiver's key, with the reception statistics, the
//! sent counts of nine RTCP sessions and the dominant-speaker level updated. AES_CM_128_HMAC_SHA1_80.
//!
//! Rows, same packets, same run, one core:
//! - `relay/ocs`: the whole relay;
//! - `crypto-floor/ocs-srtp`: only the cryptography (1 unprotect + 9 protects with `ocs-srtp`,
//!   the header written once per receiver), what the relay cannot do without;
//! - `crypto-floor/libsrtp-openssl` (with `bench-libsrtp`): the same cryptography with libsrtp.
//!
//! The mixing relay (`Relay::new`, what the MCU runs for audio), group
//! `av-mix/10-party/pcmu-20ms`, one element a *mixed packet*: per 20 ms period all ten
//! participants talk (the worst case), each packet unprotected and decoded into its jitter
//! buffer, the ten frames summed, and each participant sent the sum less its own, encoded and
//! protected — ten mixed packets a period:
//! - `mix/ocs`: the whole mixer;
//! - `crypto-floor/ocs-srtp`: only its cryptography (10 unprotects + 10 protects a period).
//!
//! A 10-party conference needs 500 mixed packets a second: conferences per core = mixed
//! packets/s ÷ 500.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::media::{LegSetup, Relay};
use ocs_stack::srtp::{Policy, Session};

const PARTIES: u64 = 10;
/// Packets per relay instance (fresh replay state after each round).
const RING: usize = 16_384;
const WARM: usize = 8;

fn key(b: u8) -> Policy {
    Policy::ms_srtp(&[b; 30]).unwrap()
}

/// The speaker's packets: RTP with 160 bytes of loud PCMU, protected with its key.
fn packets() -> Vec<Vec<u8>> {
    let mut tx = Session::new();
    tx.add_outbound_template(&key(1)).unwrap();
    (0..RING)
        .map(|k| {
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x01];
            p[2..4].copy_from_slice(&(k as u16).to_be_bytes());
            p[4..8].copy_from_slice(&((k as u32) * 160).to_be_bytes());
            p.extend((0..160).map(|i| (i % 32) as u8));
            let n = p.len();
            p.resize(n + 64, 0);
            let m = tx.protect_rtp(&mut p, n).unwrap();
            p.truncate(m);
            p
        })
        .collect()
}

fn relay(t0: Instant) -> Relay {
    conference(Relay::switching(), t0)
}

/// `r` with the ten parties' legs.
fn conference(mut r: Relay, t0: Instant) -> Relay {
    for id in 1..=PARTIES {
        let (inbound, outbound) = (key(id as u8), key(0x80 + id as u8));
        let setup = LegSetup {
            inbound: Some(&inbound),
            outbound: Some(&outbound),
            ssrc: 0x4D43_0000 + id as u32,
            seed: id,
            payload_type: 0,
        };
        r.add_leg(id, setup, t0, 0x1_0000_0000).unwrap();
    }
    r
}

/// Periods per mixer instance.
const PERIODS: usize = 2048;

/// Every participant's packets of one period after another: [period][party], each 160 bytes of
/// PCMU (a different pattern per party) protected with its key.
fn talk() -> Vec<Vec<Vec<u8>>> {
    let mut txs: Vec<Session> = (1..=PARTIES)
        .map(|id| {
            let mut s = Session::new();
            s.add_outbound_template(&key(id as u8)).unwrap();
            s
        })
        .collect();
    (0..PERIODS)
        .map(|k| {
            txs.iter_mut()
                .enumerate()
                .map(|(j, tx)| {
                    let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, j as u8];
                    p[2..4].copy_from_slice(&(k as u16).to_be_bytes());
                    p[4..8].copy_from_slice(&((k as u32) * 160).to_be_bytes());
                    p.extend((0..160).map(|i| ((i * (j + 3)) % 64) as u8));
                    let n = p.len();
                    p.resize(n + 64, 0);
                    let m = tx.protect_rtp(&mut p, n).unwrap();
                    p.truncate(m);
                    p
                })
                .collect()
        })
        .collect()
}

fn mixer(t0: Instant) -> Relay {
    conference(Relay::new(), t0)
}

fn bench_mix(c: &mut Criterion) {
    let source = talk();
    let mut g = c.benchmark_group("av-mix/10-party/pcmu-20ms");
    g.throughput(Throughput::Elements(PARTIES));
    g.bench_function("mix/ocs", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let t0 = Instant::now();
                let mut r = mixer(t0);
                let mut pkts = source.clone();
                let mut out = [0u8; 2048];
                let n = left.min(PERIODS - WARM);
                let mut mixed = 0;
                let mut start = Instant::now();
                for (k, period) in pkts.iter_mut().enumerate().take(n + WARM) {
                    if k == WARM {
                        start = Instant::now();
                        mixed = 0;
                    }
                    let now = at(t0, k);
                    for (j, p) in period.iter_mut().enumerate() {
                        r.relay_rtp(now, j as u64 + 1, p).unwrap();
                    }
                    while r.poll_timeout().is_some_and(|t| t <= now) {
                        r.handle_timeout(now);
                        while let Ok(Some(t)) = r.poll_transmit(now, &mut out) {
                            black_box((t.leg, &out[..t.len]));
                            mixed += usize::from(!t.rtcp);
                        }
                    }
                }
                total += start.elapsed();
                debug_assert!(mixed >= (n - 2) * PARTIES as usize);
                left -= n;
            }
            total
        })
    });
    g.bench_function("crypto-floor/ocs-srtp", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let mut rx: Vec<Session> = (1..=PARTIES)
                    .map(|id| {
                        let mut s = Session::new();
                        s.add_inbound_template(&key(id as u8)).unwrap();
                        s
                    })
                    .collect();
                let mut tx: Vec<Session> = (1..=PARTIES)
                    .map(|id| {
                        let mut s = Session::new();
                        s.add_stream(0x4D43_0000 + id as u32, &key(0x80 + id as u8))
                            .unwrap();
                        s
                    })
                    .collect();
                let mut pkts = source.clone();
                let mut scratch = vec![0u8; 2048];
                let n = left.min(PERIODS);
                let start = Instant::now();
                for period in pkts.iter_mut().take(n) {
                    for (j, p) in period.iter_mut().enumerate() {
                        let len = rx[j].unprotect_rtp(p).unwrap();
                        scratch[..len].copy_from_slice(&p[..len]);
                        scratch[8..12].copy_from_slice(&(0x4D43_0001 + j as u32).to_be_bytes());
                        black_box(tx[j].protect_rtp(&mut scratch, len).unwrap());
                    }
                }
                total += start.elapsed();
                left -= n;
            }
            total
        })
    });
    g.finish();
}

fn at(t0: Instant, k: usize) -> Instant {
    t0 + Duration::from_millis(20 * k as u64)
}

/// The cryptography alone, timed over `iters` packets: each unprotected once with the
/// speaker's session and protected once per receiver's session (the header's SSRC rewritten),
/// fresh sessions every round of the packets.
fn crypto_floor<R, P>(
    source: &[Vec<u8>],
    iters: u64,
    mut sessions: impl FnMut() -> (R, Vec<P>),
    unprotect: impl Fn(&mut R, &mut [u8]) -> usize,
    protect: impl Fn(&mut P, &mut [u8], usize) -> usize,
) -> Duration {
    let mut total = Duration::ZERO;
    let mut left = iters as usize;
    while left > 0 {
        let (mut rx, mut outs) = sessions();
        let mut pkts = source.to_vec();
        let mut scratch = vec![0u8; 2048];
        let n = left.min(RING);
        let start = Instant::now();
        for p in pkts.iter_mut().take(n) {
            let len = unprotect(&mut rx, p);
            for (j, s) in outs.iter_mut().enumerate() {
                scratch[..12].copy_from_slice(&p[..12]);
                scratch[8..12].copy_from_slice(&(0x4D43_0002 + j as u32).to_be_bytes());
                scratch[12..len].copy_from_slice(&p[12..len]);
                black_box(protect(s, &mut scratch, len));
            }
        }
        total += start.elapsed();
        left -= n;
    }
    total
}

fn bench(c: &mut Criterion) {
    let source = packets();
    let mut g = c.benchmark_group("av-relay/10-party/pcmu-20ms");
    g.throughput(Throughput::Elements(1));
    g.bench_function("relay/ocs", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut left = iters as usize;
            while left > 0 {
                let t0 = Instant::now();
                let mut r = relay(t0);
                let mut pkts = source.clone();
                let mut out = [0u8; 2048];
                for (k, p) in pkts.iter_mut().take(WARM).enumerate() {
                    r.relay_rtp(at(t0, k), 1, p).unwrap();
                    while let Ok(Some(_)) = r.poll_transmit(at(t0, k), &mut out) {}
                }
                let n = left.min(RING - WARM);
                let start = Instant::now();
                for (k, p) in pkts.iter_mut().enumerate().skip(WARM).take(n) {
                    let now = at(t0, k);
                    r.relay_rtp(now, 1, p).unwrap();
                    let mut sent = 0;
                    while let Ok(Some(t)) = r.poll_transmit(now, &mut out) {
                        black_box((t.leg, &out[..t.len]));
                        sent += 1;
                    }
                    debug_assert_eq!(sent, 9);
                }
                total += start.elapsed();
                left -= n;
            }
            total
        })
    });
    g.bench_function("crypto-floor/ocs-srtp", |b| {
        b.iter_custom(|iters| {
            crypto_floor(
                &source,
                iters,
                || {
                    let mut rx = Session::new();
                    rx.add_inbound_template(&key(1)).unwrap();
                    let outs = (2..=PARTIES)
                        .map(|id| {
                            let mut s = Session::new();
                            s.add_stream(0x4D43_0000 + id as u32, &key(0x80 + id as u8))
                                .unwrap();
                            s
                        })
                        .collect();
                    (rx, outs)
                },
                |rx, p| rx.unprotect_rtp(p).unwrap(),
                |s, p, len| s.protect_rtp(p, len).unwrap(),
            )
        })
    });
    #[cfg(feature = "bench-libsrtp")]
    g.bench_function("crypto-floor/libsrtp-openssl", |b| {
        use ocs_libsrtp_harness::LibSrtp;
        let name = ocs_stack::srtp::Suite::AesCm128HmacSha1_80.name();
        b.iter_custom(|iters| {
            crypto_floor(
                &source,
                iters,
                || {
                    let rx = LibSrtp::new(name, &[1; 30], None, false).unwrap();
                    let outs = (2..=PARTIES)
                        .map(|id| LibSrtp::new(name, &[0x80 + id as u8; 30], None, true).unwrap())
                        .collect();
                    (rx, outs)
                },
                |rx, p| rx.unprotect_rtp(p).unwrap(),
                |s, p, len| s.protect_rtp(p, len).unwrap(),
            )
        })
    });
    g.finish();
}

criterion_group!(benches, bench, bench_mix);
criterion_main!(benches);
