//! Replays the fuzz regression inputs of `fuzz/regressions/c3p_message`, `conference_info` and
//! `focus`.

use std::path::Path;

#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    for (dir, f) in [
        ("c3p_message", ocs_cccp::fuzzing::c3p_message as fn(&[u8])),
        ("conference_info", ocs_cccp::fuzzing::conference_info),
        ("focus", ocs_cccp::fuzzing::focus),
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                f(&std::fs::read(&p).unwrap());
            }
        }
    }
}
