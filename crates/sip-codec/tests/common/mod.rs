//! Access to the shared conformance vectors (`../shared/vectors/` beside the workspace).
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;

/// The folder of the SIP vectors. `OCS_VECTORS` overrides the default location. A missing
/// folder fails the test: a conformance test that finds no vectors must not pass.
pub fn sip_vectors() -> PathBuf {
    let base = std::env::var_os("OCS_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    let dir = base.join("sip");
    assert!(
        dir.is_dir(),
        "SIP vectors not found at {} (set OCS_VECTORS to the shared/vectors folder)",
        dir.display()
    );
    dir
}

pub fn read(rel: &str) -> bytes::Bytes {
    let p = sip_vectors().join(rel);
    bytes::Bytes::from(std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

/// The rows of an INDEX.tsv: (file, section, class).
pub fn index(dir: &str) -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(sip_vectors().join(dir).join("INDEX.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0].to_string(), f[1].to_string(), f[2].to_string())
        })
        .collect()
}

/// A message the transaction layer sent, read back from the buffer it wrote.
#[derive(Debug)]
pub struct Sent {
    /// The transaction.
    pub key: ocs_sip_codec::transaction::TxKey,
    /// The message.
    pub message: ocs_sip_codec::Message,
}

/// The next message `layer` sends, parsed back, or `None`.
pub fn sent(layer: &mut ocs_sip_codec::transaction::TransactionLayer) -> Option<Sent> {
    let mut buf = vec![0u8; 70_000];
    let t = layer.poll_transmit(&mut buf).expect("fits")?;
    let message = ocs_sip_codec::Message::parse(bytes::Bytes::copy_from_slice(&buf[..t.len]))
        .expect("parses");
    Some(Sent {
        key: t.key,
        message,
    })
}
