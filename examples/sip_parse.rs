//! Parse a SIP message from a file (or the shipped OCS sample) and print what a proxy reads.
//!
//! `cargo run --example sip_parse [FILE]`

use bytes::Bytes;
use ocs_stack::sip::{HeaderName, Message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/ocs-service-addconference.sip"
        )
        .into()
    });
    let msg = Message::parse(Bytes::from(std::fs::read(&path)?))?;
    msg.validate()?;
    println!("start line: {:?}", msg.start_line());
    for via in msg.via() {
        let via = via?;
        println!(
            "via: {} {} branch={:?} ms-received-cid={:?}",
            via.transport,
            via.host,
            via.branch(),
            via.ms_received_cid()
        );
    }
    let from = msg.from()?;
    println!(
        "from: {} tag={:?} epid={:?}",
        from.uri,
        from.tag(),
        from.epid()
    );
    println!("to: {}", msg.to()?.uri);
    println!("call-id: {}  cseq: {}", msg.call_id()?, msg.cseq()?);
    for auth in msg.auth(HeaderName::ProxyAuthorization) {
        let auth = auth?;
        println!(
            "signed with {:?}: crand={:?} cnum={:?}",
            auth.scheme(),
            auth.crand(),
            auth.cnum()
        );
    }
    println!(
        "body: {} bytes of {:?}",
        msg.body().len(),
        msg.content_type().transpose()?.map(|c| c.to_string())
    );
    Ok(())
}
