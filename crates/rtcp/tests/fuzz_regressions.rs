//! Replays the fuzz regression inputs of `fuzz/regressions/rtp_packet` and `rtcp_compound`.

use std::path::Path;

#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    for (dir, f) in [
        ("rtp_packet", ocs_rtcp::fuzzing::rtp_packet as fn(&[u8])),
        ("rtcp_compound", ocs_rtcp::fuzzing::rtcp_compound),
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                f(&std::fs::read(&p).unwrap());
            }
        }
    }
}
