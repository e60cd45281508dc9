//! Property tests: write → parse round trips for RTP and every RTCP packet type this crate
//! writes; arbitrary bytes never panic.

use proptest::prelude::*;

use ocs_rtcp::feedback::{Message, nack_lost};
use ocs_rtcp::msrtp::MsExtension;
use ocs_rtcp::packet::{Compound, Kind, Limits, ReportBlock};
use ocs_rtcp::rtp::{Element, RtpHeader, RtpPacket};
use ocs_rtcp::writer::{SdesChunk, Writer};

type OwnedChunk<'a> = (u32, Vec<(u8, &'a [u8])>);
type DecodedChunk = (u32, Vec<(u8, Vec<u8>)>);
use ocs_rtcp::xr::{VoipMetrics, Xr, XrBlock};

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..0x80_0000,
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
        any::<u32>(),
    )
        .prop_map(
            |(ssrc, fraction_lost, cumulative_lost, highest_seq, jitter, lsr, dlsr)| ReportBlock {
                ssrc,
                fraction_lost,
                cumulative_lost,
                highest_seq,
                jitter,
                lsr,
                dlsr,
            },
        )
}

fn ms_ext() -> impl Strategy<Value = MsExtension> {
    prop_oneof![
        (any::<u32>(), any::<u32>(), proptest::option::of(0u8..16)).prop_map(
            |(ssrc, bandwidth, confidence)| MsExtension::EstimatedBandwidth {
                ssrc,
                bandwidth,
                confidence
            }
        ),
        any::<u16>()
            .prop_map(|sequence_number| MsExtension::PacketLossNotification { sequence_number }),
        (any::<u16>(), any::<u16>(), any::<u32>(), any::<u16>()).prop_map(
            |(width, height, bit_rate, frame_rate)| MsExtension::VideoPreference {
                width,
                height,
                bit_rate,
                frame_rate
            }
        ),
        (1usize..6).prop_map(|n| MsExtension::Padding { len: 4 * n }),
        any::<u32>().prop_map(MsExtension::PolicyServerBandwidth),
        any::<u32>().prop_map(MsExtension::TurnServerBandwidth),
        any::<[u32; 6]>().prop_map(|v| MsExtension::AudioHealerMetrics {
            ssrc: v[0],
            concealed: v[1],
            stretched: v[2],
            compressed: v[3],
            total: v[4],
            state: v[5]
        }),
        any::<u32>().prop_map(MsExtension::ReceiverBandwidthLimit),
        (
            any::<u32>(),
            any::<bool>(),
            0u8..128,
            any::<bool>(),
            0u8..128,
            any::<u16>()
        )
            .prop_map(|(ssrc, last, index, r, count, byte_count)| {
                MsExtension::PacketTrainPacket {
                    ssrc,
                    last,
                    index,
                    r,
                    count,
                    byte_count,
                }
            }),
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<bool>()).prop_map(
            |(ssrc, inbound, outbound, no_cache)| MsExtension::PeerInfoExchange {
                ssrc,
                inbound,
                outbound,
                no_cache
            }
        ),
        (any::<u64>(), any::<u8>())
            .prop_map(|(ntp, info)| MsExtension::NetworkCongestion { ntp, info }),
        (any::<u8>(), any::<u32>()).prop_map(|(modality, bandwidth)| {
            MsExtension::ModalitySendBandwidthLimit {
                modality,
                bandwidth,
            }
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn rtp_round_trip(marker in any::<bool>(), pt in 0u8..128, seq in any::<u16>(), ts in any::<u32>(), ssrc in any::<u32>(),
                      csrcs in proptest::collection::vec(any::<u32>(), 0..15),
                      ext in proptest::collection::vec((1u8..15, proptest::collection::vec(any::<u8>(), 1..17)), 0..4),
                      payload in proptest::collection::vec(any::<u8>(), 0..200), pad in 0usize..8) {
        let elements: Vec<Element<'_>> = ext.iter().map(|(id, d)| Element { id: *id, data: d }).collect();
        let h = RtpHeader { marker, payload_type: pt, sequence_number: seq, timestamp: ts, ssrc, csrcs: &csrcs, extensions: &elements };
        let mut buf = vec![0u8; 512];
        let n = h.write(&payload, pad, &mut buf).unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        prop_assert_eq!((p.marker(), p.payload_type(), p.sequence_number(), p.timestamp(), p.ssrc()), (marker, pt, seq, ts, ssrc));
        prop_assert_eq!(p.csrcs().collect::<Vec<_>>(), csrcs);
        prop_assert_eq!(p.payload(), &payload[..]);
        if !elements.is_empty() {
            prop_assert_eq!(p.extension().unwrap().elements().collect::<Vec<_>>(), elements);
        }
    }

    #[test]
    fn reports_round_trip(ssrc in any::<u32>(), ntp in any::<u64>(), ts in any::<u32>(), pc in any::<u32>(), oc in any::<u32>(),
                          blocks in proptest::collection::vec(block(), 0..31), ext in proptest::collection::vec(ms_ext(), 0..20)) {
        let mut buf = vec![0u8; 4096];
        let mut w = Writer::new(&mut buf);
        w.sender_report(ssrc, ntp, ts, pc, oc, &blocks, &ext).unwrap();
        w.receiver_report(ssrc ^ 1, &blocks, &ext).unwrap();
        let n = w.len();
        let c = Compound::parse(&buf[..n], &Limits { reduced_size: false, ..Limits::default() }).unwrap();
        let mut it = c.packets();
        let Kind::SenderReport(sr) = it.next().unwrap().kind() else { panic!() };
        prop_assert_eq!((sr.ssrc(), sr.ntp(), sr.rtp_timestamp(), sr.packet_count(), sr.octet_count()), (ssrc, ntp, ts, pc, oc));
        prop_assert_eq!(sr.reports().collect::<Vec<_>>(), blocks.clone());
        prop_assert_eq!(sr.extensions().map(|e| e.typed()).collect::<Vec<_>>(), ext.clone());
        let Kind::ReceiverReport(rr) = it.next().unwrap().kind() else { panic!() };
        prop_assert_eq!(rr.ssrc(), ssrc ^ 1);
        prop_assert_eq!(rr.reports().collect::<Vec<_>>(), blocks);
        prop_assert_eq!(rr.extensions().map(|e| e.typed()).collect::<Vec<_>>(), ext);
    }

    #[test]
    fn sdes_bye_app_round_trip(chunks in proptest::collection::vec((any::<u32>(), proptest::collection::vec((1u8..8, proptest::collection::vec(any::<u8>(), 0..40)), 0..5)), 0..5),
                               bye in proptest::collection::vec(any::<u32>(), 0..5), reason in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..60)),
                               app in proptest::collection::vec(any::<u8>(), 0..10)) {
        let owned: Vec<OwnedChunk<'_>> = chunks.iter().map(|(s, items)| (*s, items.iter().map(|(t, v)| (*t, &v[..])).collect())).collect();
        let refs: Vec<SdesChunk<'_>> = owned.iter().map(|(s, i)| (*s, &i[..])).collect();
        let app_data: Vec<u8> = app.iter().copied().chain(std::iter::repeat(0)).take(app.len().div_ceil(4) * 4).collect();
        let mut buf = vec![0u8; 4096];
        let mut w = Writer::new(&mut buf);
        w.receiver_report(1, &[], &[]).unwrap();
        w.sdes(&refs).unwrap();
        w.bye(&bye, reason.as_deref()).unwrap();
        w.app(5, 9, *b"OCS1", &app_data).unwrap();
        let n = w.len();
        let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
        let p: Vec<_> = c.packets().collect();
        let Kind::SourceDescription(sd) = p[1].kind() else { panic!() };
        let got: Vec<DecodedChunk> = sd.chunks().map(|(s, items)| (s, items.map(|i| (i.item_type, i.value.to_vec())).collect())).collect();
        prop_assert_eq!(got, chunks);
        let Kind::Goodbye(b) = p[2].kind() else { panic!() };
        prop_assert_eq!(b.sources().collect::<Vec<_>>(), bye);
        prop_assert_eq!(b.reason().map(<[u8]>::to_vec), reason);
        let Kind::App(a) = p[3].kind() else { panic!() };
        prop_assert_eq!((a.subtype(), a.ssrc(), a.name(), a.data()), (5, 9, *b"OCS1", &app_data[..]));
    }

    #[test]
    fn feedback_round_trip(mut lost in proptest::collection::vec(any::<u16>(), 1..40), bitrate in 0u64..(1 << 40),
                           ssrcs in proptest::collection::vec(any::<u32>(), 0..8), ms in proptest::option::of((any::<u16>(), any::<u64>()))) {
        lost.sort_unstable();
        lost.dedup();
        let mut buf = vec![0u8; 2048];
        let mut w = Writer::new(&mut buf);
        w.nack(1, 2, &lost).unwrap();
        w.pli(1, 2, ms).unwrap();
        w.remb(1, bitrate, &ssrcs).unwrap();
        let n = w.len();
        let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
        let p: Vec<_> = c.packets().collect();
        let Kind::Feedback(f) = p[0].kind() else { panic!() };
        let Message::Nack(fci) = f.message() else { panic!() };
        prop_assert_eq!(nack_lost(fci).collect::<Vec<_>>(), lost);
        let Kind::Feedback(f) = p[1].kind() else { panic!() };
        prop_assert_eq!(f.message(), Message::Pli { ms });
        let Kind::Feedback(f) = p[2].kind() else { panic!() };
        let Message::Remb { bitrate: got, ssrcs: s } = f.message() else { panic!() };
        // The mantissa keeps 18 bits: the bitrate rounds down to them.
        prop_assert!(got <= bitrate && bitrate - got < (bitrate >> 17).max(1));
        prop_assert_eq!(s.len(), 4 * ssrcs.len());
    }

    #[test]
    fn fci_round_trips(fir in proptest::collection::vec((any::<u32>(), any::<u8>()), 1..6),
                       tmmbr in proptest::collection::vec((any::<u32>(), 0u32..64, 0u32..(1 << 17), 0u16..512), 1..6),
                       sli in proptest::collection::vec((0u16..8192, 0u16..8192, 0u8..64), 1..6),
                       rpsi in proptest::collection::vec(any::<u8>(), 1..12), pt in 0u8..128,
                       twcc in proptest::collection::vec(proptest::option::of(any::<u8>()), 1..40), base in any::<u16>()) {
        use ocs_rtcp::feedback::{fir_entries, sli_entries, tmmb_entries, PacketStatus};
        let fir_fci: Vec<u8> = fir.iter().flat_map(|(s, n)| [s.to_be_bytes().as_slice(), &[*n, 0, 0, 0]].concat()).collect();
        let tmmbr_fci: Vec<u8> = tmmbr.iter().flat_map(|(s, e, m, o)| [s.to_be_bytes(), ((e << 26) | (m << 9) | u32::from(*o)).to_be_bytes()].concat()).collect();
        let sli_fci: Vec<u8> = sli.iter().flat_map(|(f, n, p)| ((u32::from(*f) << 19) | (u32::from(*n) << 6) | u32::from(*p)).to_be_bytes()).collect();
        // RPSI: PB = padding bits to a 32-bit boundary of the whole FCI.
        let mut rpsi_fci = vec![0u8, pt];
        rpsi_fci.extend_from_slice(&rpsi);
        let pad = (4 - rpsi_fci.len() % 4) % 4;
        rpsi_fci[0] = (pad * 8) as u8;
        rpsi_fci.resize(rpsi_fci.len() + pad, 0);
        // transport-cc: one run-length chunk per packet (status small or not received).
        let mut tw = vec![0u8; 8];
        tw[0..2].copy_from_slice(&base.to_be_bytes());
        tw[2..4].copy_from_slice(&(twcc.len() as u16).to_be_bytes());
        for t in &twcc {
            let w: u16 = if t.is_some() { (1 << 13) | 1 } else { 1 };
            tw.extend_from_slice(&w.to_be_bytes());
        }
        tw.extend(twcc.iter().flatten());
        tw.resize(tw.len().div_ceil(4) * 4, 0);
        let mut buf = vec![0u8; 4096];
        let mut w = Writer::new(&mut buf);
        w.feedback(false, 4, 1, 0, &fir_fci).unwrap();
        w.feedback(true, 3, 1, 0, &tmmbr_fci).unwrap();
        w.feedback(false, 2, 1, 2, &sli_fci).unwrap();
        w.feedback(false, 3, 1, 2, &rpsi_fci).unwrap();
        w.feedback(true, 15, 1, 2, &tw).unwrap();
        let n = w.len();
        let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
        let p: Vec<_> = c.packets().collect();
        let Kind::Feedback(f) = p[0].kind() else { panic!() };
        let Message::Fir(fci) = f.message() else { panic!() };
        prop_assert_eq!(fir_entries(fci).collect::<Vec<_>>(), fir);
        let Kind::Feedback(f) = p[1].kind() else { panic!() };
        let Message::Tmmbr(fci) = f.message() else { panic!() };
        let want: Vec<(u32, u64, u16)> = tmmbr.iter().map(|(s, e, m, o)| (*s, u64::from(*m) << e, *o)).collect();
        prop_assert_eq!(tmmb_entries(fci).collect::<Vec<_>>(), want);
        let Kind::Feedback(f) = p[2].kind() else { panic!() };
        let Message::Sli(fci) = f.message() else { panic!() };
        prop_assert_eq!(sli_entries(fci).collect::<Vec<_>>(), sli);
        let Kind::Feedback(f) = p[3].kind() else { panic!() };
        let Message::Rpsi { payload_type, bits, .. } = f.message() else { panic!() };
        prop_assert_eq!(payload_type, pt);
        prop_assert_eq!(bits, &rpsi[..]);
        let Kind::Feedback(f) = p[4].kind() else { panic!() };
        let Message::TransportCc(t) = f.message() else { panic!() };
        let got: Vec<(u16, bool, Option<i16>)> = t.packets().map(|(s, st, d)| (s, st != PacketStatus::NotReceived, d)).collect();
        let want: Vec<(u16, bool, Option<i16>)> = twcc.iter().enumerate().map(|(i, d)| (base.wrapping_add(i as u16), d.is_some(), d.map(i16::from))).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn voip_metrics_round_trip(v in any::<[u8; 16]>(), w in any::<[u16; 7]>(), ssrc in any::<u32>()) {
        let m = VoipMetrics {
            ssrc, loss_rate: v[0], discard_rate: v[1], burst_density: v[2], gap_density: v[3],
            burst_duration: w[0], gap_duration: w[1], round_trip_delay: w[2], end_system_delay: w[3],
            signal_level: v[4] as i8, noise_level: v[5] as i8, rerl: v[6], gmin: v[7], r_factor: v[8], ext_r_factor: v[9],
            mos_lq: v[10], mos_cq: v[11], rx_config: v[12], jb_nominal: w[4], jb_maximum: w[5], jb_abs_max: w[6],
        };
        let mut blk = [0u8; 36];
        m.write(&mut blk).unwrap();
        let mut buf = vec![0u8; 128];
        let mut wr = Writer::new(&mut buf);
        wr.xr(7, &[XrBlock { block_type: 7, type_specific: 0, data: &blk[4..] }, XrBlock { block_type: 99, type_specific: 1, data: &[1, 2, 3, 4] }]).unwrap();
        let n = wr.len();
        let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
        let Kind::ExtendedReport(x) = c.packets().next().unwrap().kind() else { panic!() };
        let blocks: Vec<_> = x.blocks().collect();
        prop_assert_eq!(blocks[0].typed(), Xr::VoipMetrics(m));
        prop_assert_eq!(blocks[1].typed(), Xr::Unknown);
        prop_assert_eq!(blocks[1].data, &[1, 2, 3, 4]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        ocs_rtcp::fuzzing::rtp_packet(&data);
        ocs_rtcp::fuzzing::rtcp_compound(&data);
        ocs_rtcp::fuzzing::rtcp_session(&data);
    }
}
