//! Oracles for the fuzz target in `fuzz/` (one line there), also replayed by `cargo test` on the
//! regression inputs.

use std::time::{Duration, Instant};

use crate::meeting::Role;
use crate::record::{Operation, Record, Status};
use crate::server::{Authorization, Server, ServerConfig};
use crate::value::MarshalLimits;

/// The fuzz oracle's participant: conference `FUZZ0001`, auth id `1`, key `k`, attendee.
fn oracle_server(now: Instant) -> Server {
    let mut server = Server::new("FUZZ0001", ServerConfig::default(), 1);
    server.authorize(Authorization {
        auth_id: "1".into(),
        key: b"k".to_vec(),
        user: "sip:fuzz@example.com".into(),
        role: Role::Attendee,
        expires: now + Duration::from_secs(60),
    });
    server.connect(1, now);
    server
}

fn oracle_client(now: Instant) -> crate::client::Client {
    crate::client::Client::new(
        crate::client::Credentials {
            conference_id: "FUZZ0001".into(),
            auth_id: "1".into(),
            key: b"k".to_vec(),
            name: "f".into(),
        },
        now,
    )
}

/// Seeds for `psom_stream`: what a real participant sends in a session (join, children,
/// votes, questions, a refused drawing), whole and without its opening.
#[must_use]
pub fn seeds() -> Vec<Vec<u8>> {
    use crate::client::Action;
    let now = Instant::now();
    let mut server = oracle_server(now);
    let mut client = oracle_client(now);
    let mut sent = Vec::new();
    let mut hello_len = 0;
    let actions = [
        Action::Ask("when?".into()),
        Action::Vote(0),
        Action::Draw("line".into()),
        Action::GoTo(1),
    ];
    let mut next = actions.iter();
    loop {
        let mut moved = false;
        while let Some(bytes) = client.poll_transmit() {
            if hello_len == 0 {
                hello_len = bytes.len();
            }
            sent.extend_from_slice(&bytes);
            server.handle_input(1, &bytes, now);
            moved = true;
        }
        while let Some(t) = server.poll_transmit() {
            let _ = client.handle_input(&t.data, now);
            moved = true;
        }
        if !moved {
            match next.next() {
                Some(a) if client.joined() => {
                    let _ = client.call(a.clone());
                }
                _ => break,
            }
        }
    }
    let mut whole = vec![0];
    whole.extend_from_slice(&sent);
    let mut after = vec![1];
    after.extend_from_slice(&sent[hello_len..]);
    vec![whole, after]
}

/// Target `psom_stream`: arbitrary bytes as the record stream of a server-side connection
/// (after a valid RPCOpen and authentication, so that every layer is reached), fed in two
/// pieces; nothing panics, and whatever the stream did, the connection is either still open
/// or closed with a Close record.
pub fn psom_stream(data: &[u8]) {
    let now = Instant::now();
    let mut server = oracle_server(now);
    let mut creds = oracle_client(now);
    let hello = creds.poll_transmit().unwrap_or_default();
    let authenticated = data.first().is_some_and(|b| b & 1 == 1);
    if authenticated {
        server.handle_input(1, &hello, now);
    }
    // The router's look at a connection's opening: never a panic, and the valid opening
    // names the oracle's conference whatever follows it.
    let _ = crate::server::first_contact(data, &ServerConfig::default());
    let mut opening = hello.clone();
    opening.extend_from_slice(data);
    assert!(matches!(
        crate::server::first_contact(&opening, &ServerConfig::default()),
        crate::server::FirstContact::Conference(_)
    ));
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
