//! Replays the fuzz regression inputs of `fuzz/regressions/psom_stream`.

use std::path::Path;

#[test]
fn regressions() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions/psom_stream");
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
            ocs_psom::fuzzing::psom_stream(&std::fs::read(&p).unwrap());
        }
    }
}
