//! Replays the fuzz regression inputs (`fuzz/regressions/<target>/`) and the vectors the fuzz
//! corpora are seeded from, through the same entry points the fuzz targets call.

mod common;

use std::path::Path;

use ocs_sip_codec::fuzzing;

fn replay(dir: &Path, f: fn(&[u8])) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            || !p.is_file()
        {
            continue;
        }
        f(&std::fs::read(&p).unwrap());
        n += 1;
    }
    n
}

#[test]
fn regressions() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/regressions");
    for (t, f) in [
        ("sip_message", fuzzing::message as fn(&[u8])),
        ("sip_stream", fuzzing::stream),
        ("sdp", fuzzing::sdp),
        ("sip_transactions", fuzzing::transactions),
        ("sip_auth", fuzzing::auth),
        ("sip_dialogs", fuzzing::dialogs),
        ("sip_proxy", fuzzing::proxy),
    ] {
        replay(&root.join(t), f);
    }
    #[cfg(feature = "presence")]
    assert!(replay(&root.join("presence"), fuzzing::presence) > 0);
}

#[test]
fn seeds() {
    let v = common::sip_vectors();
    let mut n = 0;
    for dir in ["rfc4475", "rfc5118", "ms"] {
        n += replay(&v.join(dir), fuzzing::message);
        n += replay(&v.join(dir), fuzzing::stream);
        n += replay(&v.join(dir), fuzzing::transactions);
        n += replay(&v.join(dir), fuzzing::auth);
        n += replay(&v.join(dir), fuzzing::dialogs);
        n += replay(&v.join(dir), fuzzing::proxy);
        n += replay(&v.join(dir), |d| {
            if let Some(i) = d.windows(4).position(|w| w == b"\r\n\r\n") {
                fuzzing::sdp(&d[i + 4..]);
            }
        });
    }
    assert!(n > 100, "replayed {n} inputs");
}
