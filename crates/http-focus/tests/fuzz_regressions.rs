//! Replays the fuzz regression inputs of `fuzz/regressions/http_request_stream`,
//! `http_response_stream` and `abs_file`.

use std::path::Path;

#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    for (dir, f) in [
        (
            "http_request_stream",
            ocs_http_focus::fuzzing::http_request_stream as fn(&[u8]),
        ),
        (
            "http_response_stream",
            ocs_http_focus::fuzzing::http_response_stream,
        ),
        ("abs_file", ocs_http_focus::fuzzing::abs_file),
    ] {
        for e in std::fs::read_dir(root.join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.is_file() && !p.file_name().unwrap().to_string_lossy().starts_with('.') {
                f(&std::fs::read(&p).unwrap());
            }
        }
    }
}
