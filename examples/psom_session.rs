//! A web conference on the PSOM data MCU, on virtual time: an organizer, a presenter and an
//! attendee join with the credentials C3P handed out, the presenter loads slides and opens a
//! poll, the attendee votes and asks, the organizer lets the attendee draw. Prints what each
//! participant sees and checks that all see the same.
//!
//! `cargo run --example psom_session [SEED_DIR]` — with SEED_DIR, also writes fuzz seeds there.

use std::time::{Duration, Instant};

use ocs_stack::psom::client::{Action, Client, Credentials};
use ocs_stack::psom::meeting::{Privileges, Role};
use ocs_stack::psom::server::{Authorization, Server, ServerConfig};

fn main() {
    if let Some(dir) = std::env::args().nth(1) {
        std::fs::create_dir_all(&dir).expect("seed directory");
        for (i, seed) in ocs_stack::psom::fuzzing::seeds().iter().enumerate() {
            std::fs::write(format!("{dir}/session-{i}"), seed).expect("write seed");
        }
    }
    let now = Instant::now();
    let mut server = Server::new(
        "ABCD1234",
        ServerConfig::default(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(0x5eed),
    );
    let people = [
        ("1001", "sip:olga@contoso.com", Role::Organizer),
        ("1002", "sip:paul@contoso.com", Role::Presenter),
        ("1003", "sip:anna@contoso.com", Role::Attendee),
    ];
    let mut clients = Vec::new();
    for (conn, (auth_id, user, role)) in people.iter().enumerate() {
        server.authorize(Authorization {
            auth_id: (*auth_id).into(),
            key: format!("key-{auth_id}").into_bytes(),
            user: (*user).into(),
            role: *role,
            expires: now + Duration::from_secs(3600),
        });
        server.connect(now, conn as u64);
        let creds = Credentials {
            conference_id: "ABCD1234".into(),
            auth_id: (*auth_id).into(),
            key: format!("key-{auth_id}").into_bytes(),
            name: (*user).into(),
        };
        clients.push((conn as u64, Client::new(now, creds)));
    }
    let mut buf = vec![0u8; 1 << 16];
    let mut pump = |server: &mut Server, clients: &mut Vec<(u64, Client)>| loop {
        let mut moved = false;
        for (conn, c) in clients.iter_mut() {
            while let Ok(Some(n)) = c.poll_transmit(&mut buf) {
                server.handle_input(now, *conn, &buf[..n]);
                moved = true;
            }
        }
        while let Ok(Some(t)) = server.poll_transmit(&mut buf) {
            clients[t.conn as usize]
                .1
                .handle_input(now, &buf[..t.len])
                .expect("valid server bytes");
            moved = true;
        }
        if !moved {
            break;
        }
    };
    pump(&mut server, &mut clients);
    let script = [
        (
            1,
            Action::LoadDeck {
                id: "q3-review".into(),
                slides: 14,
            },
        ),
        (1, Action::GoTo(2)),
        (
            1,
            Action::OpenPoll {
                question: "Ship it?".into(),
                choices: vec!["yes".into(), "no".into()],
            },
        ),
        (2, Action::Vote(0)),
        (2, Action::Ask("Will the slides be shared?".into())),
        (2, Action::Draw("arrow 10,10 40,40".into())),
        (
            0,
            Action::Grant {
                user: "sip:anna@contoso.com".into(),
                privileges: Privileges::ANNOTATE,
            },
        ),
        (2, Action::Draw("arrow 10,10 40,40".into())),
    ];
    for (who, action) in script {
        let call = clients[who].1.call(action.clone()).expect("joined");
        pump(&mut server, &mut clients);
        let answer = std::iter::from_fn(|| clients[who].1.poll_event())
            .find(|e| matches!(e, ocs_stack::psom::client::ClientEvent::Done { call: c, .. } | ocs_stack::psom::client::ClientEvent::Refused { call: c, .. } if *c == call));
        println!("{} {action:?}: {answer:?}", people[who].1);
    }
    let state = server.state();
    println!("\nroster: {:?}", state.roster.keys().collect::<Vec<_>>());
    println!("deck: {:?}", state.deck);
    println!("poll: {:?}", state.poll);
    println!(
        "whiteboard: {} annotation(s), questions: {}",
        state.whiteboard.len(),
        state.questions.len()
    );
    for (_, c) in &clients {
        assert_eq!(c.view(), state, "every participant sees the shared state");
    }
    println!("all three participants see the same state");
}
