//! Replays the fuzz seeds' shape and the regression inputs of `fuzz/regressions/av_relay`
//! through the umbrella crate's oracle.

use std::path::Path;

#[test]
fn av_relay_regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions/av_relay");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            ocs_stack::fuzzing::av_relay(&std::fs::read(&p).unwrap());
        }
    }
}

#[test]
fn av_relay_oracle_relays_protected_audio() {
    // Leg 1 sends ten loud protected PCMU packets: the oracle's checks run on real relaying.
    let mut data = Vec::new();
    for seq in 0..10u16 {
        let mut rtp = vec![0x80, 0];
        rtp.extend_from_slice(&seq.to_be_bytes());
        rtp.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
        rtp.extend_from_slice(&0x1001u32.to_be_bytes());
        rtp.extend((0..160).map(|i| (i % 32) as u8));
        data.extend_from_slice(&[1, 2, rtp.len() as u8]);
        data.extend_from_slice(&rtp);
    }
    ocs_stack::fuzzing::av_relay(&data);
    ocs_stack::fuzzing::av_relay(b"\x01\x00\x05junk!\x02\x03\x04abcd");
}

#[test]
fn ice_oracle_answers_real_checks_and_refuses_flipped_ones() {
    // Each dialect: a real check (flags 3), one with a byte flipped (1), on component 2 (4),
    // from another address (8), the clock moved on (32), then junk.
    for dialect in 0..3u8 {
        let mut data = vec![dialect];
        for flags in [3u8, 1, 3 | 4, 3 | 8, 1 | 16, 3 | 32, 0] {
            data.extend_from_slice(&[flags, 12]);
            data.extend((0..12).map(|i| i * 7 + flags));
        }
        ocs_stack::fuzzing::ice(&data);
    }
    ocs_stack::fuzzing::ice(b"\x02\x00\x14\x00\x01\x00\x00\x21\x12\xa4\x42abcdefghijkl");
}
