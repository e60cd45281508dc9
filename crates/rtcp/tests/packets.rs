//! Known packets decoded field by field, and the RFC 3550 A.2 checks.

use ocs_rtcp::Error;
use ocs_rtcp::packet::{Compound, Kind, Limits, sdes};

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An SR + SDES compound as pion/srtp's tests carry it (a browser's first RTCP packet).
#[test]
fn sender_report_and_cname() {
    let b = hex(
        "80c8000666ef91ffdf4880dd61a62ed3d8bcdebe000000090000160481ca000666ef91ff0110526e5435436d4a687a7965744178772b0000",
    );
    let c = Compound::parse(
        &b,
        &Limits {
            reduced_size: false,
            ..Limits::default()
        },
    )
    .unwrap();
    let p: Vec<_> = c.packets().collect();
    assert_eq!(p.len(), 2);
    let Kind::SenderReport(sr) = p[0].kind() else {
        panic!()
    };
    assert_eq!(sr.ssrc(), 0x66ef91ff);
    assert_eq!(sr.ntp(), 0xdf4880dd_61a62ed3);
    assert_eq!(sr.rtp_timestamp(), 0xd8bcdebe);
    assert_eq!(sr.packet_count(), 9);
    assert_eq!(sr.octet_count(), 0x1604);
    assert_eq!(sr.reports().len(), 0);
    let Kind::SourceDescription(s) = p[1].kind() else {
        panic!()
    };
    let chunks: Vec<_> = s.chunks().collect();
    assert_eq!(chunks.len(), 1);
    assert_eq!(chunks[0].0, 0x66ef91ff);
    let items: Vec<_> = chunks[0].1.clone().collect();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].item_type, sdes::CNAME);
    assert_eq!(items[0].value, b"RnT5CmJhzyetAxw+");
}

/// The SR of RFC 7714 §17 ("Mars") says 14 words in its length field but is 13 words long:
/// it is an SRTCP test input, not a valid RTCP packet, and is refused as such. Its first 52
/// bytes with the length corrected decode.
#[test]
fn rfc7714_sender_report() {
    let mut b = hex(
        "81c8000d4d6172734e5450314e545032525450200000042a0000e9304c756e61deadbeefdeadbeefdeadbeefdeadbeefdeadbeef",
    );
    assert_eq!(
        Compound::parse(&b, &Limits::default()),
        Err(Error::Length {
            what: "RTCP packet",
            offset: 2
        })
    );
    b[3] = 0x0c;
    let c = Compound::parse(&b, &Limits::default()).unwrap();
    let Kind::SenderReport(sr) = c.packets().next().unwrap().kind() else {
        panic!()
    };
    assert_eq!(sr.ssrc(), 0x4d617273);
    assert_eq!(sr.packet_count(), 0x42a);
    let r: Vec<_> = sr.reports().collect();
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].ssrc, 0x4c756e61); // "Luna"
    assert_eq!(r[0].fraction_lost, 0xde);
    assert_eq!(r[0].cumulative_lost, -0x524111); // 0xadbeef as 24-bit signed
}

#[test]
fn appendix_a2_checks() {
    let rr = [0x80, 201, 0, 1, 0, 0, 0, 1];
    let bye = [0x81, 203, 0, 1, 0, 0, 0, 1];
    // Version.
    let e = Compound::parse(&[0x40, 201, 0, 1, 0, 0, 0, 1], &Limits::default()).unwrap_err();
    assert_eq!(
        e,
        Error::Version {
            version: 1,
            offset: 0
        }
    );
    // Lengths add up.
    let e = Compound::parse(&[0x80, 201, 0, 5, 0, 0, 0, 1], &Limits::default()).unwrap_err();
    assert_eq!(
        e,
        Error::Length {
            what: "RTCP packet",
            offset: 2
        }
    );
    let mut two = rr.to_vec();
    two.extend_from_slice(&[0x80, 201]);
    assert!(matches!(
        Compound::parse(&two, &Limits::default()),
        Err(Error::Truncated { offset: 8, .. })
    ));
    // Padding only on the last packet.
    let mut padded_first = [0xa0, 201, 0, 1, 0, 0, 0, 4].to_vec();
    padded_first.extend_from_slice(&rr);
    assert_eq!(
        Compound::parse(&padded_first, &Limits::default()),
        Err(Error::Padding { offset: 0 })
    );
    let mut ok = rr.to_vec();
    ok.extend_from_slice(&[0xa0, 201, 0, 2, 0, 0, 0, 1, 0, 0, 0, 4]);
    let c = Compound::parse(&ok, &Limits::default()).unwrap();
    assert_eq!(c.packets().nth(1).unwrap().body.len(), 4);
    // SR or RR first, unless reduced-size is allowed.
    let strict = Limits {
        reduced_size: false,
        ..Limits::default()
    };
    assert_eq!(
        Compound::parse(&bye, &strict),
        Err(Error::FirstPacket { offset: 0 })
    );
    Compound::parse(&bye, &Limits::default()).unwrap();
    // Report blocks that run past the packet.
    let e = Compound::parse(&[0x81, 201, 0, 1, 0, 0, 0, 1], &Limits::default()).unwrap_err();
    assert!(matches!(
        e,
        Error::Truncated {
            what: "report blocks",
            offset: 4,
            ..
        }
    ));
    // A profile extension whose length runs past.
    let e = Compound::parse(
        &[0x80, 201, 0, 2, 0, 0, 0, 1, 0, 1, 0, 12],
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(
        e,
        Error::Length {
            what: "profile extension",
            ..
        }
    ));
    // Packet count limit.
    let many: Vec<u8> = rr.iter().copied().cycle().take(8 * 70).collect();
    assert!(matches!(
        Compound::parse(&many, &Limits::default()),
        Err(Error::TooMany { limit: 64, .. })
    ));
}
