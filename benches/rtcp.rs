//! RTCP speed: `ocs-rtcp` against webrtc-rs `rtcp` 0.17 on the same bytes, in the same run.
//!
//! Parse = check the compound and read every field of every packet (what a receiver does);
//! webrtc-rs `rtcp::packet::unmarshal` builds its structures, which reads every field too.
//! Write = produce the same bytes from prepared values.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::rtcp::feedback::{Message, nack_lost};
use ocs_stack::rtcp::msrtp::MsExtension;
use ocs_stack::rtcp::packet::{Compound, Kind, Limits, ReportBlock};
use ocs_stack::rtcp::writer::Writer;

fn blocks(n: usize) -> Vec<ReportBlock> {
    (0..n as u32)
        .map(|i| ReportBlock {
            ssrc: 0x1000 + i,
            fraction_lost: i as u8,
            cumulative_lost: i as i32 * 3,
            highest_seq: 70_000 + i,
            jitter: 40 + i,
            lsr: 0xb705_2000 + i,
            dlsr: 0x0005_4000,
        })
        .collect()
}

const CNAME: &[u8] = b"alice@contoso.com.20";

fn sr_sdes(out: &mut [u8]) -> usize {
    let mut w = Writer::new(out);
    w.sender_report(
        0xcafe_babe,
        0xe7a0_1234_8000_0000,
        160_000,
        1000,
        160_000,
        &blocks(1),
        &[],
    )
    .unwrap();
    w.sdes(&[(0xcafe_babe, &[(1, CNAME)])]).unwrap();
    w.len()
}

fn rr31(out: &mut [u8]) -> usize {
    let mut w = Writer::new(out);
    w.receiver_report(0xcafe_babe, &blocks(31), &[]).unwrap();
    w.len()
}

const LOST: [u16; 10] = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000];

/// A transport-cc FCI: base 1000, 20 packets, one two-bit vector chunk + one run chunk.
fn twcc_fci() -> Vec<u8> {
    let mut f = vec![0x03, 0xe8, 0, 20, 0, 0, 9, 3];
    f.extend_from_slice(&[0b1101_0101, 0b0101_0101]); // 7 x small
    f.extend_from_slice(&[0b0010_0000, 13]); // run of 13 small
    f.extend((0..20).map(|i| i as u8 * 3));
    f.resize(f.len().div_ceil(4) * 4, 0);
    f
}

fn nack_twcc(out: &mut [u8]) -> usize {
    let mut w = Writer::new(out);
    w.nack(1, 2, &LOST).unwrap();
    w.feedback(true, 15, 1, 2, &twcc_fci()).unwrap();
    w.len()
}

fn ms_ext() -> Vec<MsExtension> {
    vec![
        MsExtension::EstimatedBandwidth {
            ssrc: 0x1000,
            bandwidth: 1_500_000,
            confidence: None,
        },
        MsExtension::PacketLossNotification {
            sequence_number: 77,
        },
        MsExtension::PolicyServerBandwidth(2_000_000),
        MsExtension::PeerInfoExchange {
            ssrc: 0x1000,
            inbound: 10_000_000,
            outbound: 5_000_000,
            no_cache: false,
        },
    ]
}

fn rr_ms(out: &mut [u8]) -> usize {
    let mut w = Writer::new(out);
    w.receiver_report(0xcafe_babe, &blocks(1), &ms_ext())
        .unwrap();
    w.len()
}

/// Reads every field of every packet.
fn ours_parse(b: &[u8]) -> u64 {
    let c = Compound::parse(b, &Limits::default()).unwrap();
    let mut acc = 0u64;
    for p in c.packets() {
        match p.kind() {
            Kind::SenderReport(sr) => {
                acc += u64::from(sr.ssrc())
                    + sr.ntp()
                    + u64::from(sr.rtp_timestamp() ^ sr.packet_count() ^ sr.octet_count());
                for r in sr.reports() {
                    acc += u64::from(r.ssrc ^ r.highest_seq ^ r.jitter ^ r.lsr ^ r.dlsr)
                        + u64::from(r.fraction_lost)
                        + r.cumulative_lost as u64;
                }
            }
            Kind::ReceiverReport(rr) => {
                acc += u64::from(rr.ssrc());
                for r in rr.reports() {
                    acc += u64::from(r.ssrc ^ r.highest_seq ^ r.jitter ^ r.lsr ^ r.dlsr)
                        + u64::from(r.fraction_lost)
                        + r.cumulative_lost as u64;
                }
                for e in rr.extensions() {
                    if let MsExtension::EstimatedBandwidth { bandwidth, .. } = e.typed() {
                        acc += u64::from(bandwidth);
                    }
                }
            }
            Kind::SourceDescription(s) => {
                for (ssrc, items) in s.chunks() {
                    acc += u64::from(ssrc);
                    for i in items {
                        acc += i.value.len() as u64;
                    }
                }
            }
            Kind::Feedback(f) => match f.message() {
                Message::Nack(fci) => acc += nack_lost(fci).map(u64::from).sum::<u64>(),
                Message::TransportCc(t) => {
                    acc += u64::from(t.base_sequence()) + u64::from(t.feedback_count());
                    for (seq, _, delta) in t.packets() {
                        acc += u64::from(seq) + delta.map_or(0, |d| d as u64);
                    }
                }
                _ => {}
            },
            _ => {}
        }
    }
    acc
}

fn webrtc_parse(b: &Bytes) -> usize {
    let mut b = b.clone();
    rtcp::packet::unmarshal(&mut b).unwrap().len()
}

/// Writes one test compound into a buffer, returning its length.
type Make = fn(&mut [u8]) -> usize;

fn bench(c: &mut Criterion) {
    let cases: [(&str, Make); 4] = [
        ("sr_sdes", sr_sdes),
        ("rr_31_blocks", rr31),
        ("nack_10_and_twcc", nack_twcc),
        ("rr_ms_extensions", rr_ms),
    ];
    for (name, make) in cases {
        let mut buf = [0u8; 1024];
        let n = make(&mut buf);
        let bytes = Bytes::copy_from_slice(&buf[..n]);
        let mut g = c.benchmark_group(format!("rtcp/{name}/{n}B"));
        g.throughput(Throughput::Bytes(n as u64));
        ours_parse(&bytes);
        g.bench_function("parse/ocs-rtcp", |b| {
            b.iter(|| ours_parse(black_box(&bytes)))
        });
        g.bench_function("parse/webrtc-rtcp-0.17", |b| {
            b.iter(|| webrtc_parse(black_box(&bytes)))
        });
        let mut out = [0u8; 1024];
        g.bench_function("write/ocs-rtcp", |b| b.iter(|| make(black_box(&mut out))));
        let packets = rtcp::packet::unmarshal(&mut bytes.clone()).unwrap();
        assert_eq!(
            rtcp::packet::marshal(&packets).unwrap().len(),
            n,
            "{name}: webrtc-rs writes the same length"
        );
        g.bench_function("write/webrtc-rtcp-0.17", |b| {
            b.iter(|| rtcp::packet::marshal(black_box(&packets)).unwrap())
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
