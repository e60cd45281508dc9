//! Oracles for the fuzz target in `fuzz/` (one line there), also replayed by `cargo test` on the
//! regression inputs.

use std::time::{Duration, Instant};

use crate::meeting::Role;
use crate::record::{Operation, Record, Status};
use crate::server::{Authorization, Server, ServerConfig};
use crate::value::MarshalLimits;

/// Target `psom_stream`: arbitrary bytes as the record stream of a server-side connection
/// (after a valid RPCOpen and authentication, so that every layer is reached), fed in two
/// pieces; nothing panics, and whatever the stream did, the connection is either still open
/// or closed with a Close record.
pub fn psom_stream(data: &[u8]) {
    let now = Instant::now();
    let mut server = Server::new("FUZZ0001", ServerConfig::default(), 1);
    server.authorize(Authorization {
        auth_id: "1".into(),
        key: b"k".to_vec(),
        user: "sip:fuzz@example.com".into(),
        role: Role::Attendee,
        expires: now + Duration::from_secs(60),
    });
    server.connect(1, now);
    let mut creds = crate::client::Client::new(
        crate::client::Credentials {
            conference_id: "FUZZ0001".into(),
            auth_id: "1".into(),
            key: b"k".to_vec(),
            name: "f".into(),
        },
        now,
    );
    let hello = creds.poll_transmit().unwrap_or_default();
    let authenticated = data.first().is_some_and(|b| b & 1 == 1);
    if authenticated {
        server.handle_input(1, &hello, now);
    }
    let cut = data.len() / 2;
    server.handle_input(1, &data[..cut], now);
    server.handle_input(1, &data[cut..], now + Duration::from_secs(1));
    while let Some(t) = server.poll_transmit() {
        // What the server sends must decode.
        let mut at = 0;
        while at < t.data.len() {
            match Record::decode(&t.data[at..], usize::MAX, 0) {
                Ok(Status::Complete(r, used)) => {
                    if let Record::RpcMessage { body, .. } = r {
                        Operation::decode(body, 0, &MarshalLimits::default())
                            .expect("server operations decode");
                    }
                    at += used;
                }
                other => panic!("server sent an undecodable record: {other:?}"),
            }
        }
    }
    server.handle_timeout(now + Duration::from_secs(3600));
    assert_eq!(server.connections(), 0, "expired connections are closed");
}
