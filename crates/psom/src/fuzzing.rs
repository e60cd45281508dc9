//! Oracles for the fuzz target in `fuzz/` (one line there), also replayed by `cargo test` on the
//! regression inputs.

use std::time::{Duration, Instant};

use crate::meeting::Role;
use crate::record::{Operation, Record, Status};
use crate::server::{Authorization, Server, ServerConfig};
use crate::value::MarshalLimits;

/// The fuzz oracle's participant: conference `FUZZ0001`, auth id `1`, key `k`, attendee.
fn oracle_server(now: Instant) -> Server {
    let mut server = Server::new(
        "FUZZ0001",
        ServerConfig::default(),
        crate::rng::NotRandom(1),
    );
    server.authorize(Authorization {
        auth_id: "1".into(),
        key: b"k".to_vec(),
        user: "sip:fuzz@example.com".into(),
        role: Role::Attendee,
        expires: now + Duration::from_secs(60),
    });
    server.connect(now, 1);
    server
}

fn oracle_client(now: Instant) -> crate::client::Client {
    crate::client::Client::new(
        now,
        crate::client::Credentials {
            conference_id: "FUZZ0001".into(),
            auth_id: "1".into(),
            key: b"k".to_vec(),
            name: "f".into(),
        },
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
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let mut moved = false;
        while let Ok(Some(n)) = client.poll_transmit(&mut buf) {
            if hello_len == 0 {
                hello_len = n;
            }
            sent.extend_from_slice(&buf[..n]);
            server.handle_input(now, 1, &buf[..n]);
            moved = true;
        }
        while let Ok(Some(t)) = server.poll_transmit(&mut buf) {
            let _ = client.handle_input(now, &buf[..t.len]);
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
    let mut buf = vec![0u8; 1 << 16];
    let hello = match creds.poll_transmit(&mut buf) {
        Ok(Some(n)) => buf[..n].to_vec(),
        _ => Vec::new(),
    };
    let authenticated = data.first().is_some_and(|b| b & 1 == 1);
    if authenticated {
        server.handle_input(now, 1, &hello);
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
    server.handle_input(now, 1, &data[..cut]);
    server.handle_input(now + Duration::from_secs(1), 1, &data[cut..]);
    // What the server sends must decode, however small the pieces it is taken in.
    let mut stream = Vec::new();
    let mut piece = [0u8; 7];
    while let Ok(Some(t)) = server.poll_transmit(&mut piece) {
        stream.extend_from_slice(&piece[..t.len]);
    }
    {
        let mut at = 0;
        while at < stream.len() {
            match Record::decode(&stream[at..], usize::MAX, 0) {
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
