//! tshark (Wireshark) as the independent decoder: compounds this crate writes, wrapped in a
//! pcap as UDP on a port decoded as RTCP, decode to the same field values, [MS-RTP]
//! extensions included, and tshark flags nothing as malformed.
//!
//! Needs the `tshark-tests` feature and tshark on the PATH; `scripts/test.sh` turns it on (and
//! installs tshark as root) and CI requires it with `OCS_REQUIRE_INTEROP=1`.

#[cfg(not(feature = "tshark-tests"))]
#[test]
fn tshark_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the tshark tests were built without the `tshark-tests` feature"
    );
    eprintln!("tshark conformance tests NOT RUN: build with --features ocs-rtcp/tshark-tests");
}

#[cfg(feature = "tshark-tests")]
mod with_tshark {
    use std::process::Command;

    use ocs_rtcp::msrtp::MsExtension;
    use ocs_rtcp::packet::ReportBlock;
    use ocs_rtcp::writer::Writer;

    const PORT: u16 = 5005;

    /// A classic pcap (LINKTYPE_IPV4) with one IPv4/UDP datagram per payload.
    fn pcap(payloads: &[&[u8]]) -> Vec<u8> {
        let mut f = Vec::new();
        f.extend_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        f.extend_from_slice(&2u16.to_le_bytes());
        f.extend_from_slice(&4u16.to_le_bytes());
        f.extend_from_slice(&[0; 8]);
        f.extend_from_slice(&65_535u32.to_le_bytes());
        f.extend_from_slice(&228u32.to_le_bytes());
        for (i, p) in payloads.iter().enumerate() {
            let total = 20 + 8 + p.len();
            let mut ip = vec![
                0x45,
                0,
                (total >> 8) as u8,
                total as u8,
                0,
                1,
                0,
                0,
                64,
                17,
                0,
                0,
                127,
                0,
                0,
                1,
                127,
                0,
                0,
                2,
            ];
            let sum = (0..10)
                .map(|k| u32::from(u16::from_be_bytes([ip[2 * k], ip[2 * k + 1]])))
                .sum::<u32>();
            let sum = (sum & 0xffff) + (sum >> 16);
            let sum = !((sum & 0xffff) + (sum >> 16)) as u16;
            ip[10..12].copy_from_slice(&sum.to_be_bytes());
            let udp_len = (8 + p.len()) as u16;
            let mut pkt = ip;
            pkt.extend_from_slice(&(PORT + 1).to_be_bytes());
            pkt.extend_from_slice(&PORT.to_be_bytes());
            pkt.extend_from_slice(&udp_len.to_be_bytes());
            pkt.extend_from_slice(&[0, 0]);
            pkt.extend_from_slice(p);
            f.extend_from_slice(&(1_700_000_000u32 + i as u32).to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
            f.extend_from_slice(&(pkt.len() as u32).to_le_bytes());
            f.extend_from_slice(&pkt);
        }
        f
    }

    fn tshark(pcap: &[u8], args: &[&str]) -> String {
        let dir = std::env::temp_dir().join(format!("ocs-rtcp-tshark-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("rtcp.pcap");
        std::fs::write(&file, pcap).unwrap();
        let decode = format!("udp.port=={PORT},rtcp");
        let out = Command::new("tshark")
            .args(["-n", "-r", file.to_str().unwrap(), "-d", &decode])
            .args(args)
            .output()
            .expect("tshark is on the PATH");
        assert!(
            out.status.success(),
            "tshark failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// One field's values over the whole capture, in order.
    fn field(pcap: &[u8], name: &str) -> Vec<String> {
        tshark(
            pcap,
            &[
                "-T",
                "fields",
                "-E",
                "occurrence=a",
                "-E",
                "aggregator=|",
                "-e",
                name,
            ],
        )
        .lines()
        .flat_map(|l| l.split('|').map(str::to_string).collect::<Vec<_>>())
        .filter(|v| !v.is_empty())
        .collect()
    }

    fn compound() -> Vec<u8> {
        let blocks = [
            ReportBlock {
                ssrc: 0x1111,
                fraction_lost: 25,
                cumulative_lost: 321,
                highest_seq: 70_123,
                jitter: 88,
                lsr: 0xb705_2000,
                dlsr: 0x0005_4000,
            },
            ReportBlock {
                ssrc: 0x2222,
                fraction_lost: 0,
                cumulative_lost: -2,
                highest_seq: 5,
                jitter: 0,
                lsr: 0,
                dlsr: 0,
            },
        ];
        let ext = [
            MsExtension::EstimatedBandwidth {
                ssrc: 0x1111,
                bandwidth: 1_500_000,
                confidence: None,
            },
            MsExtension::PacketLossNotification {
                sequence_number: 4242,
            },
            MsExtension::PeerInfoExchange {
                ssrc: 0x1111,
                inbound: 10_000_000,
                outbound: 2_000_000,
                no_cache: false,
            },
            MsExtension::ModalitySendBandwidthLimit {
                modality: 2,
                bandwidth: 768_000,
            },
        ];
        let mut buf = [0u8; 1024];
        let mut w = Writer::new(&mut buf);
        w.sender_report(
            0xcafe_babe,
            0xe7a0_1234_8000_0000,
            160_000,
            1000,
            160_000,
            &blocks,
            &ext,
        )
        .unwrap();
        w.sdes(&[(
            0xcafe_babe,
            &[
                (1, b"alice@contoso.com".as_slice()),
                (6, b"ocs-rtcp".as_slice()),
            ],
        )])
        .unwrap();
        w.nack(0xcafe_babe, 0x1111, &[100, 101, 103, 200]).unwrap();
        w.pli(0xcafe_babe, 0x1111, Some((7, 0x8000_0000_0000_0001)))
            .unwrap();
        w.bye(&[0xcafe_babe], Some(b"done")).unwrap();
        let n = w.len();
        buf[..n].to_vec()
    }

    #[test]
    fn tshark_decodes_what_we_write() {
        let c = compound();
        let p = pcap(&[&c]);
        assert_eq!(field(&p, "rtcp.pt"), ["200", "202", "205", "206", "203"]);
        assert_eq!(field(&p, "rtcp.sender.packetcount"), ["1000"]);
        assert_eq!(field(&p, "rtcp.sender.octetcount"), ["160000"]);
        assert_eq!(field(&p, "rtcp.timestamp.rtp"), ["160000"]);
        assert_eq!(
            field(&p, "rtcp.timestamp.ntp.msw"),
            [format!("{}", 0xe7a0_1234u32)]
        );
        // Report blocks, then the SDES chunk and the BYE source (Wireshark uses one field).
        assert_eq!(
            field(&p, "rtcp.ssrc.identifier"),
            ["0x00001111", "0x00002222", "0xcafebabe", "0xcafebabe"]
        );
        assert_eq!(field(&p, "rtcp.ssrc.fraction"), ["25", "0"]);
        assert_eq!(field(&p, "rtcp.ssrc.cum_nr"), ["321", "-2"]);
        assert_eq!(field(&p, "rtcp.ssrc.ext_high"), ["70123", "5"]);
        assert_eq!(field(&p, "rtcp.ssrc.jitter"), ["88", "0"]);
        assert_eq!(
            field(&p, "rtcp.ssrc.lsr"),
            [format!("{}", 0xb705_2000u32), "0".into()]
        );
        assert_eq!(
            field(&p, "rtcp.ssrc.dlsr"),
            [format!("{}", 0x0005_4000u32), "0".into()]
        );
        // The SDES items, then the BYE reason (Wireshark shows it as text too).
        assert_eq!(
            field(&p, "rtcp.sdes.text"),
            ["alice@contoso.com", "ocs-rtcp", "done"]
        );
        assert_eq!(
            field(&p, "rtcp.profile-specific-extension.type"),
            ["1", "4", "12", "14"]
        );
        assert_eq!(field(&p, "rtcp.ms_pse.bandwidth"), ["1500000", "768000"]);
        assert_eq!(field(&p, "rtcp.ms_pse.seq_num"), ["4242"]);
        assert_eq!(field(&p, "rtcp.ms_pse.inbound_bandwidth"), ["10000000"]);
        assert_eq!(field(&p, "rtcp.ms_pse.outbound_bandwidth"), ["2000000"]);
        assert_eq!(field(&p, "rtcp.ms_pse.modality"), ["2"]);
        // Wireshark lists every lost number the PID and BLP carry: what we asked for.
        assert_eq!(
            field(&p, "rtcp.rtpfb.nack_pid"),
            ["100", "101", "103", "200"]
        );
        assert_eq!(field(&p, "rtcp.psfb.ms.pli.request_id"), ["7"]);
        // Nothing malformed, no error-level expert info.
        let bad = tshark(&p, &["-Y", "_ws.malformed || _ws.expert.severity == error"]);
        assert!(bad.trim().is_empty(), "tshark flags: {bad}");
    }
}
