//! SRTP speed: `ocs-srtp` against webrtc-rs `webrtc-srtp` 0.17 and, with
//! `--features bench-libsrtp`, libsrtp built with OpenSSL, on the same packets in the same run.
//!
//! Packets: a 172-byte RTP packet (12-byte header, 160 bytes of G.711 = 20 ms) and a 1,200-byte
//! one; an 80-byte RTCP receiver report. Each protect takes the next sequence number, as a real
//! stream does; each unprotect gets a packet it has not seen (prepared outside the timing), so
//! the replay window is exercised honestly.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::srtp::{MasterKey, Policy, Session, Suite};

const KEY: [u8; 16] = [
    0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f, 0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39,
];
const SALT: [u8; 14] = [
    0x0e, 0xc6, 0x75, 0xad, 0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6,
];
const SSRC: u32 = 0xcafe_babe;

fn rtp(seq: u16, size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size];
    p[0] = 0x80;
    p[1] = 0x00;
    p[2..4].copy_from_slice(&seq.to_be_bytes());
    p[4..8].copy_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p[8..12].copy_from_slice(&SSRC.to_be_bytes());
    for (i, b) in p[12..].iter_mut().enumerate() {
        *b = i as u8;
    }
    p
}

fn rtcp() -> Vec<u8> {
    // RR with one report block, then SDES CNAME: 80 bytes.
    let mut p = vec![0x81, 201, 0, 7];
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(&[0x11; 24]);
    p.extend_from_slice(&[0x81, 202, 0, 10]);
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend_from_slice(&[1, 34]);
    p.extend_from_slice(&[b'x'; 34]);
    p.resize(80, 0);
    p
}

fn policy(suite: Suite) -> Policy {
    let salt = &SALT[..suite.salt_len()];
    let ks = [&KEY[..], salt].concat();
    Policy::new(suite, MasterKey::from_key_salt(suite, &ks).unwrap())
}

fn webrtc_profile(suite: Suite) -> webrtc_srtp::protection_profile::ProtectionProfile {
    use webrtc_srtp::protection_profile::ProtectionProfile as P;
    match suite {
        Suite::AeadAes128Gcm => P::AeadAes128Gcm,
        _ => P::Aes128CmHmacSha1_80,
    }
}

fn webrtc_ctx(suite: Suite) -> webrtc_srtp::context::Context {
    webrtc_srtp::context::Context::new(
        &KEY,
        &SALT[..suite.salt_len()],
        webrtc_profile(suite),
        None,
        None,
    )
    .unwrap()
}

fn bench_rtp(c: &mut Criterion) {
    for suite in [Suite::AesCm128HmacSha1_80, Suite::AeadAes128Gcm] {
        for size in [172usize, 1200] {
            let mut g = c.benchmark_group(format!("srtp/{suite}/{size}"));
            g.throughput(Throughput::Elements(1));

            // ocs-srtp, in place.
            let mut tx = Session::new();
            tx.add_outbound_template(&policy(suite)).unwrap();
            let mut seq = 0u16;
            g.bench_function("protect/ocs-srtp", |b| {
                b.iter_batched_ref(
                    || {
                        seq = seq.wrapping_add(1);
                        let mut p = rtp(seq, size);
                        p.resize(size + 64, 0);
                        p
                    },
                    |p| black_box(tx.protect_rtp(p, size).unwrap()),
                    BatchSize::SmallInput,
                )
            });
            let mut stx = Session::new();
            stx.add_outbound_template(&policy(suite)).unwrap();
            let mut rx = Session::new();
            rx.add_inbound_template(&policy(suite)).unwrap();
            let mut s2 = 0u16;
            g.bench_function("unprotect/ocs-srtp", |b| {
                b.iter_batched_ref(
                    || {
                        s2 = s2.wrapping_add(1);
                        let mut p = rtp(s2, size);
                        stx.protect_rtp_vec(&mut p).unwrap();
                        p
                    },
                    |p| black_box(rx.unprotect_rtp(p).unwrap()),
                    BatchSize::SmallInput,
                )
            });

            // webrtc-srtp (its API returns a new buffer per packet).
            let mut wtx = webrtc_ctx(suite);
            let mut s3 = 0u16;
            g.bench_function("protect/webrtc-srtp-0.17", |b| {
                b.iter_batched_ref(
                    || {
                        s3 = s3.wrapping_add(1);
                        rtp(s3, size)
                    },
                    |p| black_box(wtx.encrypt_rtp(p).unwrap()),
                    BatchSize::SmallInput,
                )
            });
            let mut wstx = webrtc_ctx(suite);
            let mut wrx = webrtc_ctx(suite);
            let mut s4 = 0u16;
            g.bench_function("unprotect/webrtc-srtp-0.17", |b| {
                b.iter_batched_ref(
                    || {
                        s4 = s4.wrapping_add(1);
                        wstx.encrypt_rtp(&rtp(s4, size)).unwrap()
                    },
                    |p| black_box(wrx.decrypt_rtp(p).unwrap()),
                    BatchSize::SmallInput,
                )
            });

            #[cfg(feature = "bench-libsrtp")]
            libsrtp_rows(&mut g, suite, size);
            g.finish();
        }
    }
}

#[cfg(feature = "bench-libsrtp")]
fn libsrtp_rows(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    suite: Suite,
    size: usize,
) {
    use ocs_libsrtp_harness::LibSrtp;
    let salt = &SALT[..suite.salt_len()];
    let ks = [&KEY[..], salt].concat();
    let mut tx = LibSrtp::new(suite.name(), &ks, None, true).unwrap();
    let mut s = 0u16;
    g.bench_function("protect/libsrtp-openssl", |b| {
        b.iter_batched_ref(
            || {
                s = s.wrapping_add(1);
                let mut p = rtp(s, size);
                p.resize(size + 64, 0);
                p
            },
            |p| black_box(tx.protect_rtp(p, size).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let mut stx = LibSrtp::new(suite.name(), &ks, None, true).unwrap();
    let mut rx = LibSrtp::new(suite.name(), &ks, None, false).unwrap();
    let mut s2 = 0u16;
    g.bench_function("unprotect/libsrtp-openssl", |b| {
        b.iter_batched_ref(
            || {
                s2 = s2.wrapping_add(1);
                let mut p = rtp(s2, size);
                let n = p.len();
                p.resize(n + 64, 0);
                let m = stx.protect_rtp(&mut p, n).unwrap();
                p.truncate(m);
                p
            },
            |p| black_box(rx.unprotect_rtp(p).unwrap()),
            BatchSize::SmallInput,
        )
    });
}

fn bench_rtcp(c: &mut Criterion) {
    let suite = Suite::AesCm128HmacSha1_80;
    let mut g = c.benchmark_group(format!("srtcp/{suite}/80"));
    g.throughput(Throughput::Elements(1));
    let packet = rtcp();
    let mut tx = Session::new();
    tx.add_outbound_template(&policy(suite)).unwrap();
    g.bench_function("protect/ocs-srtp", |b| {
        b.iter_batched_ref(
            || {
                let mut p = packet.clone();
                p.resize(256, 0);
                p
            },
            |p| black_box(tx.protect_rtcp(p, 80).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let mut stx = Session::new();
    stx.add_outbound_template(&policy(suite)).unwrap();
    let mut rx = Session::new();
    rx.add_inbound_template(&policy(suite)).unwrap();
    g.bench_function("unprotect/ocs-srtp", |b| {
        b.iter_batched_ref(
            || {
                let mut p = packet.clone();
                stx.protect_rtcp_vec(&mut p).unwrap();
                p
            },
            |p| black_box(rx.unprotect_rtcp(p).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let mut wtx = webrtc_ctx(suite);
    g.bench_function("protect/webrtc-srtp-0.17", |b| {
        b.iter_batched_ref(
            || packet.clone(),
            |p| black_box(wtx.encrypt_rtcp(p).unwrap()),
            BatchSize::SmallInput,
        )
    });
    let mut wstx = webrtc_ctx(suite);
    let mut wrx = webrtc_ctx(suite);
    g.bench_function("unprotect/webrtc-srtp-0.17", |b| {
        b.iter_batched_ref(
            || wstx.encrypt_rtcp(&packet).unwrap(),
            |p| black_box(wrx.decrypt_rtcp(p).unwrap()),
            BatchSize::SmallInput,
        )
    });
    #[cfg(feature = "bench-libsrtp")]
    {
        use ocs_libsrtp_harness::LibSrtp;
        let ks = [&KEY[..], &SALT[..]].concat();
        let mut ltx = LibSrtp::new(suite.name(), &ks, None, true).unwrap();
        g.bench_function("protect/libsrtp-openssl", |b| {
            b.iter_batched_ref(
                || {
                    let mut p = packet.clone();
                    p.resize(256, 0);
                    p
                },
                |p| black_box(ltx.protect_rtcp(p, 80).unwrap()),
                BatchSize::SmallInput,
            )
        });
        let mut lstx = LibSrtp::new(suite.name(), &ks, None, true).unwrap();
        let mut lrx = LibSrtp::new(suite.name(), &ks, None, false).unwrap();
        g.bench_function("unprotect/libsrtp-openssl", |b| {
            b.iter_batched_ref(
                || {
                    let mut p = packet.clone();
                    p.resize(256, 0);
                    let n = lstx.protect_rtcp(&mut p, 80).unwrap();
                    p.truncate(n);
                    p
                },
                |p| black_box(lrx.unprotect_rtcp(p).unwrap()),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench_rtp, bench_rtcp);
criterion_main!(benches);
