//! Parsing allocates nothing: a counting allocator watches a full read of every field of
//! SR+SDES, RR with 31 blocks, NACK and transport-cc, and RR with [MS-RTP] extensions, and the
//! writer producing them.

use ocs_rtcp::feedback::{Message, nack_lost};
use ocs_rtcp::msrtp::MsExtension;
use ocs_rtcp::packet::{Compound, Kind, Limits, ReportBlock};
use ocs_rtcp::writer::Writer;

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

#[test]
fn parse_and_write_allocate_nothing() {
    let blocks: Vec<ReportBlock> = (0..31)
        .map(|i| ReportBlock {
            ssrc: i,
            jitter: i,
            ..Default::default()
        })
        .collect();
    let ext = [
        MsExtension::EstimatedBandwidth {
            ssrc: 1,
            bandwidth: 9,
            confidence: Some(3),
        },
        MsExtension::PolicyServerBandwidth(5),
    ];
    let twcc = [0u8, 1, 0, 3, 0, 0, 0, 0, 0b0010_0000, 3, 1, 2, 3, 0, 0, 0];
    let mut buf = [0u8; 2048];
    let (acc, n_allocs) = ocs_alloc_counter::count(|| {
        let mut w = Writer::new(&mut buf);
        w.sender_report(1, 2, 3, 4, 5, &blocks[..1], &[]).unwrap();
        w.sdes(&[(1, &[(1, b"cname".as_slice())])]).unwrap();
        w.receiver_report(1, &blocks, &ext).unwrap();
        w.nack(1, 2, &[5, 6, 40]).unwrap();
        w.feedback(true, 15, 1, 2, &twcc).unwrap();
        let n = w.len();
        let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
        let mut acc = 0u64;
        for p in c.packets() {
            match p.kind() {
                Kind::SenderReport(sr) => {
                    acc += sr.reports().map(|r| u64::from(r.jitter)).sum::<u64>() + sr.ntp()
                }
                Kind::ReceiverReport(rr) => {
                    acc += rr.reports().map(|r| u64::from(r.jitter)).sum::<u64>();
                    acc += rr
                        .extensions()
                        .filter(|e| e.typed() != MsExtension::Unknown)
                        .count() as u64;
                }
                Kind::SourceDescription(s) => {
                    acc += s.chunks().map(|(_, i)| i.count() as u64).sum::<u64>()
                }
                Kind::Feedback(f) => match f.message() {
                    Message::Nack(fci) => acc += nack_lost(fci).count() as u64,
                    Message::TransportCc(t) => acc += t.deltas().map(|d| d as u64).sum::<u64>(),
                    _ => {}
                },
                _ => {}
            }
        }
        acc
    });
    assert!(acc > 0);
    assert_eq!(n_allocs, 0);
}
