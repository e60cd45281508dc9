//! An Office Communicator-style client registers with an OCS-style registrar using NTLM
//! ([MS-SIPAE] 4.1), then sends a signed MESSAGE; both ends run the sans-IO transaction layer
//! on a shared virtual clock, and every message crosses a simulated TLS connection as bytes.
//!
//! `cargo run --example sip_ntlm_register [SEED_DIR]`: with a folder, the messages are also
//! written there as fuzz seeds for `sip_auth` and `sip_dialogs`.

use std::time::{Duration, Instant};

use ocs_stack::sip::build::MessageBuilder;
use ocs_stack::sip::ntlm::{Credentials, TargetInfo};
use ocs_stack::sip::sipae::{NtlmSipClient, NtlmSipServer, Verdict};
use ocs_stack::sip::transaction::{Timers, TransactionLayer, Transport, TxEvent, TxKey};
use ocs_stack::sip::{HeaderName, Message};

/// The caller's random generator (tags, branches, challenges): `rand`'s `StdRng`, seeded so
/// the example prints the same every run.
struct Rng(rand::rngs::StdRng);

impl Rng {
    fn next(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        rand::Rng::fill_bytes(&mut self.0, &mut b);
        b
    }
}

fn register(cseq: u32, branch: u64, auth: Option<&str>) -> Message {
    let mut b = MessageBuilder::request("REGISTER", "sip:contoso.com")
        .header("Via", format!("SIP/2.0/TLS 192.0.2.1:4320;branch=z9hG4bK{branch:x}"))
        .header("Max-Forwards", "70")
        .header("From", "<sip:alice@contoso.com>;tag=4a2b44d131;epid=8248ca9ebb")
        .header("To", "<sip:alice@contoso.com>")
        .header("Call-ID", "d5f2b95d5be64c2cbfb38aa5d3a87ae7")
        .header("CSeq", format!("{cseq} REGISTER"))
        .header(
            "Contact",
            "<sip:192.0.2.1:4320;transport=tls>;proxy=replace;+sip.instance=\"<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>\"",
        )
        .header("Supported", "gruu-10");
    if let Some(a) = auth {
        b = b.header("Authorization", a);
    }
    b.build().expect("a valid REGISTER")
}

/// Moves every pending transmit of `from` into `to` as bytes over "TLS", returning them.
fn wire(from: &mut TransactionLayer, to: &mut TransactionLayer, now: Instant) -> Vec<Message> {
    let mut sent = Vec::new();
    let mut buf = [0u8; 8192];
    while let Ok(Some(t)) = from.poll_transmit(&mut buf) {
        let bytes = bytes::Bytes::copy_from_slice(&buf[..t.len]);
        let m = Message::parse(bytes).expect("what we send parses");
        println!("  → {}", m.head().lines().next().unwrap_or_default());
        sent.push(m.clone());
        to.handle_message(now, m, Transport::Reliable);
    }
    sent
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let seed_dir = std::env::args().nth(1);
    let mut rng = Rng(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
        2007,
    ));
    let now = Instant::now();
    let mut ua = TransactionLayer::new(Timers::default());
    let mut registrar = TransactionLayer::new(Timers::default());
    let alice = Credentials::new("alice", "CONTOSO", "Passw0rd");
    let hash = alice.nt_hash();
    let directory = move |user: &str, domain: &str| {
        (user.eq_ignore_ascii_case("alice") && domain.eq_ignore_ascii_case("CONTOSO"))
            .then_some(hash)
    };
    let mut server = NtlmSipServer::new("server.contoso.com", TargetInfo::new("SERVER", "CONTOSO"));
    let mut client = NtlmSipClient::new(alice, "ALICE-PC");
    let mut wire_log: Vec<Message> = Vec::new();
    let mut association = None;
    let mut auth: Option<String> = None;

    for cseq in 169.. {
        if cseq > 175 {
            return Err("registration did not complete".into());
        }
        let req = register(cseq, rng.next(), auth.as_deref());
        let key: TxKey = ua.send_request(now, req, Transport::Reliable)?;
        wire_log.extend(wire(&mut ua, &mut registrar, now));
        // The registrar's TU.
        while let Some(ev) = registrar.poll_event() {
            let TxEvent::Request { key, message } = ev else {
                continue;
            };
            let opaque = format!("{:08X}", rng.next() as u32);
            let verdict = server.handle(
                &message,
                HeaderName::Authorization,
                rng.bytes(),
                &opaque,
                directory,
            );
            let resp = match verdict {
                Verdict::Challenge(c) => message
                    .response(401, "Unauthorized", "0858513FA91D3AAE1A5840DDB99599DF")
                    .header("Date", "Thu, 31 Jan 2008 00:01:56 GMT")
                    .header("WWW-Authenticate", c)
                    .build()?,
                Verdict::Authenticated { opaque, user } | Verdict::Verified { opaque, user } => {
                    println!("  registrar: {user} authenticated (association {opaque})");
                    let ok = message
                        .response(200, "OK", "0858513FA91D3AAE1A5840DDB99599DF")
                        .header("Expires", 7200)
                        .build()?;
                    let info = server.sign_response(&opaque, &ok, rng.next() as u32)?;
                    ok.with_header("Authentication-Info", &info)?
                }
                Verdict::Rejected(e) => message
                    .response(403, "Forbidden", "x")
                    .header("Warning", format!("399 registrar \"{e}\""))
                    .build()?,
            };
            registrar.respond(now, key, resp)?;
        }
        wire_log.extend(wire(&mut registrar, &mut ua, now));
        // The client's TU.
        let mut done = false;
        while let Some(ev) = ua.poll_event() {
            let TxEvent::Response { key: k, message } = ev else {
                continue;
            };
            assert_eq!(k, key);
            match message.status() {
                Some(401) => {
                    let ntlm = message
                        .auth(HeaderName::WwwAuthenticate)
                        .flatten()
                        .find(|a| a.scheme_name == Some("NTLM"))
                        .ok_or("no NTLM challenge")?
                        .to_string();
                    if ntlm.contains("gssapi-data") {
                        let (creds, sa) = client.answer(&ntlm, rng.bytes(), rng.bytes())?;
                        auth = Some(creds);
                        association = Some(sa);
                    } else {
                        auth = Some(client.first_credentials(&ntlm)?);
                    }
                }
                Some(200) => {
                    let sa = association.as_mut().ok_or("200 before authentication")?;
                    sa.verify(&message)?;
                    println!("  client: the registrar's rspauth verifies");
                    done = true;
                }
                other => return Err(format!("unexpected {other:?}").into()),
            }
        }
        if done {
            break;
        }
    }

    // A signed request after registration.
    let sa = association.as_mut().ok_or("no association")?;
    let msg = MessageBuilder::request("MESSAGE", "sip:bob@contoso.com")
        .header("Via", "SIP/2.0/TLS 192.0.2.1:4320;branch=z9hG4bKm1")
        .header("Max-Forwards", "70")
        .header("From", "<sip:alice@contoso.com>;tag=77;epid=8248ca9ebb")
        .header("To", "<sip:bob@contoso.com>")
        .header("Call-ID", "m1")
        .header("CSeq", "1 MESSAGE")
        .body("text/plain", b"hello")
        .build()?;
    let creds = sa.sign(&msg, rng.next() as u32)?;
    let signed = msg.with_header("Authorization", &creds)?;
    match server.handle(&signed, HeaderName::Authorization, [0; 8], "", directory) {
        Verdict::Verified { user, .. } => println!("  registrar: MESSAGE signed by {user}"),
        v => return Err(format!("not verified: {v:?}").into()),
    }
    wire_log.push(signed);

    // Let the transactions finish.
    ua.handle_timeout(now + Duration::from_secs(40));
    registrar.handle_timeout(now + Duration::from_secs(40));
    println!(
        "registered in {} messages; transactions left: {} + {}",
        wire_log.len() - 1,
        ua.len(),
        registrar.len()
    );

    if let Some(dir) = seed_dir {
        let dir = std::path::Path::new(&dir);
        std::fs::create_dir_all(dir.join("sip_auth"))?;
        std::fs::create_dir_all(dir.join("sip_dialogs"))?;
        for (i, m) in wire_log.iter().enumerate() {
            std::fs::write(dir.join("sip_auth").join(format!("msg-{i}")), m.to_vec())?;
            // The NTLM tokens alone, for the binary parsers.
            for h in ocs_stack::sip::sipae::SecurityHeader::all(m, HeaderName::WwwAuthenticate)?
                .into_iter()
                .chain(ocs_stack::sip::sipae::SecurityHeader::all(
                    m,
                    HeaderName::Authorization,
                )?)
            {
                if let Some(token) = h.gssapi_data.filter(|t| !t.is_empty()) {
                    std::fs::write(dir.join("sip_auth").join(format!("token-{i}")), token)?;
                }
            }
            // A dialog script: each message as a chunk for every op.
            let bytes = m.to_vec();
            let mut script = Vec::new();
            for op in 0..8u8 {
                script.push(op);
                script.extend_from_slice(&(bytes.len() as u16).to_le_bytes());
                script.extend_from_slice(&bytes);
            }
            std::fs::write(dir.join("sip_dialogs").join(format!("script-{i}")), script)?;
        }
    }
    Ok(())
}
