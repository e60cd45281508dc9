//! Replays the fuzz regression inputs (`fuzz/regressions/<target>/`) through the entry points
//! the fuzz targets call, and the SRTP vectors' packets against every suite.

use std::path::{Path, PathBuf};

use ocs_srtp::fuzzing;

fn replay(dir: &Path, f: fn(&[u8])) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file()
            && !p
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            f(&std::fs::read(&p).unwrap());
            n += 1;
        }
    }
    n
}

#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    replay(&root.join("srtp_unprotect"), fuzzing::srtp_unprotect);
    replay(&root.join("srtcp_unprotect"), fuzzing::srtcp_unprotect);
    replay(&root.join("sdes_crypto"), fuzzing::sdes_crypto);
}

#[test]
fn vector_packets_against_every_suite() {
    let base = std::env::var_os("OCS_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    let mut n = 0;
    for e in std::fs::read_dir(base.join("srtp")).unwrap() {
        let text = std::fs::read_to_string(e.unwrap().path()).unwrap();
        for word in text.split(|c: char| !c.is_ascii_hexdigit()) {
            if word.len() < 24 || word.len() % 2 != 0 {
                continue;
            }
            let bytes: Vec<u8> = (0..word.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&word[i..i + 2], 16).unwrap())
                .collect();
            for sel in [0u8, 1, 6, 8, 9, 0x80] {
                let input = [&[sel][..], &bytes].concat();
                fuzzing::srtp_unprotect(&input);
                fuzzing::srtcp_unprotect(&input);
            }
            n += 1;
        }
    }
    assert!(n > 50, "{n} packets");
}
