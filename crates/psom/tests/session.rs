//! Client and server state machines joined by in-memory pipes, on virtual time: join,
//! authentication, shared objects, role changes, expiry, reconnect, three clients in step; and a
//! hostile peer answered with errors and no change to the shared state.

use std::time::{Duration, Instant};

use ocs_psom::Refusal;
use ocs_psom::client::{Action, CONN_MGR_PROXY, Client, ClientEvent, Credentials};
use ocs_psom::interface::{Interface, ordinal};
use ocs_psom::meeting::{Privileges, Role};
use ocs_psom::record::{Operation, Record, RpcKind};
use ocs_psom::server::{Authorization, Server, ServerConfig, ServerEvent};
use ocs_psom::value::Value;
use sha1::{Digest, Sha1};

const CONF: &str = "ABCD1234";

struct Sim {
    now: Instant,
    server: Server,
    clients: Vec<(u64, Client)>,
    /// Events a call's answer was looked for among, kept for the test.
    logs: Vec<Vec<ClientEvent>>,
    next_conn: u64,
    /// Where either side writes what it sends.
    buf: Vec<u8>,
}

impl Sim {
    fn new() -> Sim {
        let now = Instant::now();
        let mut server = Server::new(
            CONF,
            ServerConfig {
                title: "Weekly".into(),
                ..ServerConfig::default()
            },
            <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42),
        );
        for (id, user, role) in [
            ("1001", "sip:olga@contoso.com", Role::Organizer),
            ("1002", "sip:paul@contoso.com", Role::Presenter),
            ("1003", "sip:anna@contoso.com", Role::Attendee),
            ("1004", "sip:ali@contoso.com", Role::Attendee),
        ] {
            server.authorize(Authorization {
                auth_id: id.into(),
                key: format!("key-{id}").into_bytes(),
                user: user.into(),
                role,
                expires: now + Duration::from_secs(3600),
            });
        }
        Sim {
            now,
            server,
            clients: Vec::new(),
            logs: Vec::new(),
            next_conn: 1,
            buf: vec![0u8; 1 << 16],
        }
    }

    /// A new connection presenting these credentials; returns its index.
    fn join_as(&mut self, auth_id: &str, key: &str) -> usize {
        let conn = self.next_conn;
        self.next_conn += 1;
        self.server.connect(self.now, conn);
        let client = Client::new(
            self.now,
            Credentials {
                conference_id: CONF.into(),
                auth_id: auth_id.into(),
                key: key.as_bytes().to_vec(),
                name: auth_id.into(),
            },
        );
        self.clients.push((conn, client));
        self.logs.push(Vec::new());
        self.pump();
        self.clients.len() - 1
    }

    fn join(&mut self, auth_id: &str) -> usize {
        self.join_as(auth_id, &format!("key-{auth_id}"))
    }

    fn pump(&mut self) {
        loop {
            let mut moved = false;
            for (conn, c) in &mut self.clients {
                while let Ok(Some(n)) = c.poll_transmit(&mut self.buf) {
                    self.server.handle_input(self.now, *conn, &self.buf[..n]);
                    moved = true;
                }
            }
            while let Ok(Some(t)) = self.server.poll_transmit(&mut self.buf) {
                if let Some((_, c)) = self.clients.iter_mut().find(|(id, _)| *id == t.conn) {
                    c.handle_input(self.now, &self.buf[..t.len]).unwrap();
                }
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    fn client(&mut self, i: usize) -> &mut Client {
        &mut self.clients[i].1
    }

    fn act(&mut self, i: usize, a: Action) -> ClientEvent {
        let call = self.client(i).call(a).unwrap();
        self.pump();
        let mut found = None;
        while let Some(e) = self.clients[i].1.poll_event() {
            match &e {
                ClientEvent::Done { call: k, .. } | ClientEvent::Refused { call: k, .. }
                    if *k == call =>
                {
                    found = Some(e);
                }
                _ => self.logs[i].push(e),
            }
        }
        found.expect("an answer to the call")
    }

    fn events(&mut self, i: usize) -> Vec<ClientEvent> {
        let mut all = std::mem::take(&mut self.logs[i]);
        all.extend(std::iter::from_fn(|| self.clients[i].1.poll_event()));
        all
    }

    fn assert_in_step(&self) {
        for (conn, c) in &self.clients {
            if c.joined() {
                assert_eq!(c.view(), self.server.state(), "client on connection {conn}");
            }
        }
    }

    fn raw(&mut self, conn: u64, bytes: &[u8]) -> Vec<u8> {
        self.server.handle_input(self.now, conn, bytes);
        let mut out = Vec::new();
        while let Ok(Some(t)) = self.server.poll_transmit(&mut self.buf) {
            assert_eq!(t.conn, conn);
            out.extend_from_slice(&self.buf[..t.len]);
        }
        out
    }
}

/// The refusal code of an RPC error reply.
fn error_code(reply: &[u8]) -> Option<u16> {
    let ocs_psom::record::Status::Complete(Record::RpcMessage { body, .. }, _) =
        Record::decode(reply, 1 << 20, 0).ok()?
    else {
        return None;
    };
    match Operation::decode(body, 0, &Default::default()).ok()? {
        Operation::Rpc {
            kind: RpcKind::Error,
            args,
            ..
        } => match args.first() {
            Some(Value::U16(c)) => Some(*c),
            _ => None,
        },
        _ => None,
    }
}

fn refused(e: &ClientEvent) -> Option<Refusal> {
    match e {
        ClientEvent::Refused { refusal, .. } => *refusal,
        _ => None,
    }
}

#[test]
fn join_share_and_three_clients_in_step() {
    let mut sim = Sim::new();
    let olga = sim.join("1001");
    let paul = sim.join("1002");
    let anna = sim.join("1003");
    for (i, role) in [
        (olga, Role::Organizer),
        (paul, Role::Presenter),
        (anna, Role::Attendee),
    ] {
        assert!(sim.client(i).joined());
        assert_eq!(sim.client(i).role(), Some(role));
    }
    let joined: Vec<_> = std::iter::from_fn(|| sim.server.poll_event()).collect();
    assert_eq!(
        joined
            .iter()
            .filter(|e| matches!(e, ServerEvent::Joined { .. }))
            .count(),
        3
    );
    assert_eq!(sim.server.state().roster.len(), 3);

    assert!(matches!(
        sim.act(
            paul,
            Action::LoadDeck {
                id: "deck-7".into(),
                slides: 20
            }
        ),
        ClientEvent::Done { .. }
    ));
    assert!(matches!(
        sim.act(paul, Action::GoTo(4)),
        ClientEvent::Done { .. }
    ));
    let ClientEvent::Done { results, .. } = sim.act(paul, Action::Draw("line 0,0 10,10".into()))
    else {
        panic!()
    };
    let Some(Value::U32(drawing)) = results.first().cloned() else {
        panic!()
    };
    sim.act(paul, Action::Draw("circle 5,5 3".into()));
    assert!(matches!(
        sim.act(paul, Action::Erase(drawing)),
        ClientEvent::Done { .. }
    ));
    sim.act(
        paul,
        Action::OpenPoll {
            question: "Ship it?".into(),
            choices: vec!["yes".into(), "no".into()],
        },
    );
    sim.act(anna, Action::Vote(0));
    sim.act(olga, Action::Vote(1));
    assert_eq!(
        refused(&sim.act(anna, Action::Vote(1))),
        Some(Refusal::Conflict),
        "one vote each"
    );
    let ClientEvent::Done { results, .. } = sim.act(anna, Action::Ask("Slides afterwards?".into()))
    else {
        panic!()
    };
    let Some(Value::U32(q)) = results.first().cloned() else {
        panic!()
    };
    sim.act(
        paul,
        Action::Answer {
            id: q,
            text: "Yes, in the content list".into(),
        },
    );
    sim.act(paul, Action::ClosePoll);
    assert_eq!(
        refused(&sim.act(anna, Action::Vote(0))),
        Some(Refusal::Conflict),
        "poll closed"
    );

    let state = sim.server.state();
    assert_eq!(
        state.deck.as_ref().map(|d| (d.id.as_str(), d.current)),
        Some(("deck-7", 4))
    );
    assert_eq!(state.whiteboard.len(), 1);
    assert_eq!(
        state.poll.as_ref().map(|p| p.counts.clone()),
        Some(vec![1, 1])
    );
    assert_eq!(
        state.questions[&q].answer.as_deref(),
        Some("Yes, in the content list")
    );
    sim.assert_in_step();
    let changes = sim.events(anna);
    assert!(changes.contains(&ClientEvent::Changed(Interface::Whiteboard)));
    assert!(changes.contains(&ClientEvent::Changed(Interface::SlideDeck)));
}

#[test]
fn privileges_and_role_change_mid_meeting() {
    let mut sim = Sim::new();
    let olga = sim.join("1001");
    let paul = sim.join("1002");
    let anna = sim.join("1003");
    sim.act(
        paul,
        Action::LoadDeck {
            id: "d".into(),
            slides: 5,
        },
    );
    let before = sim.server.state().clone();
    for action in [
        Action::GoTo(2),
        Action::Draw("x".into()),
        Action::ClearWhiteboard,
        Action::OpenPoll {
            question: "q".into(),
            choices: vec!["a".into()],
        },
        Action::Answer {
            id: 1,
            text: "t".into(),
        },
        Action::BeginUpload {
            name: "f".into(),
            size: 1,
            sha1: [0; 20],
        },
        Action::SetRole {
            user: "sip:anna@contoso.com".into(),
            role: Role::Organizer,
        },
    ] {
        assert_eq!(
            refused(&sim.act(anna, action.clone())),
            Some(Refusal::NotPermitted),
            "{action:?}"
        );
    }
    assert_eq!(
        refused(&sim.act(
            paul,
            Action::SetRole {
                user: "sip:anna@contoso.com".into(),
                role: Role::Presenter
            }
        )),
        Some(Refusal::NotPermitted)
    );
    assert_eq!(sim.server.state(), &before, "refusals change nothing");

    // The organizer lets Anna draw, then makes her a presenter.
    sim.act(
        olga,
        Action::Grant {
            user: "sip:anna@contoso.com".into(),
            privileges: Privileges::ANNOTATE,
        },
    );
    assert!(matches!(
        sim.act(anna, Action::Draw("arrow".into())),
        ClientEvent::Done { .. }
    ));
    assert_eq!(
        refused(&sim.act(anna, Action::GoTo(1))),
        Some(Refusal::NotPermitted)
    );
    sim.act(
        olga,
        Action::SetRole {
            user: "sip:anna@contoso.com".into(),
            role: Role::Presenter,
        },
    );
    assert_eq!(sim.client(anna).role(), Some(Role::Presenter));
    assert!(matches!(
        sim.act(anna, Action::GoTo(1)),
        ClientEvent::Done { .. }
    ));
    // Out of range and bad ids are refused as arguments.
    assert_eq!(
        refused(&sim.act(anna, Action::GoTo(5))),
        Some(Refusal::BadArguments)
    );
    assert_eq!(
        refused(&sim.act(anna, Action::Erase(999))),
        Some(Refusal::BadArguments)
    );
    sim.assert_in_step();
}

#[test]
fn bad_credentials_and_expiry() {
    let mut sim = Sim::new();
    for (id, key) in [("1001", "wrong"), ("9999", "key-9999")] {
        let i = sim.join_as(id, key);
        assert!(!sim.client(i).joined());
        let evs = sim.events(i);
        assert_eq!(
            evs.iter().find_map(refused),
            Some(Refusal::BadCredentials),
            "{id}"
        );
    }
    // Wrong conference.
    let conn = 50;
    sim.server.connect(sim.now, conn);
    let mut c = Client::new(
        sim.now,
        Credentials {
            conference_id: "OTHER123".into(),
            auth_id: "1001".into(),
            key: b"key-1001".to_vec(),
            name: "x".into(),
        },
    );
    let mut buf = [0u8; 4096];
    let n = c.poll_transmit(&mut buf).unwrap().unwrap();
    let reply = sim.raw(conn, &buf[..n]);
    c.handle_input(sim.now, &reply).unwrap();
    assert_eq!(
        c.poll_event().as_ref().and_then(refused),
        Some(Refusal::BadCredentials)
    );
    assert!(sim.server.state().roster.is_empty(), "nobody joined");

    // An authorization that has expired cannot join; a joined session is closed at expiry.
    let anna = sim.join("1003");
    assert!(sim.client(anna).joined());
    let deadline = sim.server.poll_timeout().unwrap();
    assert!(deadline <= sim.now + Duration::from_secs(3600));
    sim.now += Duration::from_secs(3601);
    let late = sim.join("1004");
    assert_eq!(
        sim.events(late).iter().find_map(refused),
        Some(Refusal::Expired)
    );
    sim.server.handle_timeout(sim.now);
    sim.pump();
    assert!(sim.events(anna).contains(&ClientEvent::Closed {
        refusal: Some(Refusal::Expired)
    }));
    assert!(!sim.client(anna).joined());
    assert_eq!(sim.server.connections(), 0);
}

#[test]
fn idle_connections_close_and_keepalives_keep_them() {
    let mut sim = Sim::new();
    let anna = sim.join("1003");
    for _ in 0..10 {
        sim.now += Duration::from_secs(30);
        let now = sim.now;
        assert!(sim.client(anna).poll_timeout().unwrap() <= now);
        sim.client(anna).handle_timeout(now);
        sim.pump();
        sim.server.handle_timeout(now);
    }
    assert_eq!(
        sim.server.connections(),
        1,
        "Break records keep the session"
    );
    sim.now += Duration::from_secs(91);
    sim.server.handle_timeout(sim.now);
    sim.pump();
    assert!(sim.events(anna).contains(&ClientEvent::Closed {
        refusal: Some(Refusal::Timeout)
    }));
}

#[test]
fn reconnect_resynchronises() {
    let mut sim = Sim::new();
    let paul = sim.join("1002");
    let anna = sim.join("1003");
    sim.act(
        paul,
        Action::LoadDeck {
            id: "d".into(),
            slides: 9,
        },
    );
    let anna_conn = sim.clients[anna].0;
    sim.server.disconnect(anna_conn);
    sim.pump();
    assert!(!sim.server.state().roster["sip:anna@contoso.com"].connected);
    // Things happen while Anna is away.
    sim.act(paul, Action::GoTo(7));
    sim.act(paul, Action::Draw("star".into()));
    sim.act(
        paul,
        Action::OpenPoll {
            question: "Lunch?".into(),
            choices: vec!["now".into(), "later".into()],
        },
    );
    let again = sim.join("1003");
    assert!(sim.client(again).joined());
    assert!(sim.server.state().roster["sip:anna@contoso.com"].connected);
    assert_eq!(sim.clients[again].1.view(), sim.server.state());
    assert_eq!(sim.client(again).view().deck.as_ref().unwrap().current, 7);
}

#[test]
fn content_upload_with_integrity_check() {
    let mut sim = Sim::new();
    let paul = sim.join("1002");
    let anna = sim.join("1003");
    let content: Vec<u8> = (0..100_000u32).map(|i| (i * 31 % 251) as u8).collect();
    let sha1: [u8; 20] = Sha1::digest(&content).into();
    let ClientEvent::Done { results, .. } = sim.act(
        paul,
        Action::BeginUpload {
            name: "deck.pptx".into(),
            size: content.len() as u64,
            sha1,
        },
    ) else {
        panic!()
    };
    let Some(Value::U32(id)) = results.first().cloned() else {
        panic!()
    };
    for (i, chunk) in content.chunks(16 * 1024).enumerate() {
        let r = sim.act(
            paul,
            Action::UploadChunk {
                id,
                offset: (i * 16 * 1024) as u64,
                data: chunk.to_vec(),
            },
        );
        assert!(matches!(r, ClientEvent::Done { .. }));
    }
    // A chunk at the wrong offset is refused.
    assert_eq!(
        refused(&sim.act(
            paul,
            Action::UploadChunk {
                id,
                offset: 5,
                data: vec![1]
            }
        )),
        Some(Refusal::BadArguments)
    );
    let ClientEvent::Done { results, .. } = sim.act(paul, Action::FinishUpload(id)) else {
        panic!()
    };
    let (Some(Value::String(url)), Some(Value::Blob(key))) =
        (results.first().cloned(), results.get(1).cloned())
    else {
        panic!()
    };
    assert!(url.starts_with("https://conf.example/content/") && url.ends_with("/deck.pptx"));
    assert_eq!(key.len(), 16);
    let ready = std::iter::from_fn(|| sim.server.poll_event()).find_map(|e| match e {
        ServerEvent::ContentReady { data, url: u, .. } => Some((data, u)),
        _ => None,
    });
    assert_eq!(ready, Some((content.clone(), url.clone())));
    assert_eq!(sim.client(anna).view().content[0].url, url);

    // Corrupted content fails its check and is not offered.
    let ClientEvent::Done { results, .. } = sim.act(
        paul,
        Action::BeginUpload {
            name: "bad.bin".into(),
            size: 4,
            sha1,
        },
    ) else {
        panic!()
    };
    let Some(Value::U32(bad)) = results.first().cloned() else {
        panic!()
    };
    sim.act(
        paul,
        Action::UploadChunk {
            id: bad,
            offset: 0,
            data: vec![1, 2, 3, 4],
        },
    );
    assert_eq!(
        refused(&sim.act(paul, Action::FinishUpload(bad))),
        Some(Refusal::IntegrityFailed)
    );
    assert_eq!(sim.server.state().content.len(), 1);
    sim.assert_in_step();
}

#[test]
fn hostile_peer() {
    let mut sim = Sim::new();
    let paul = sim.join("1002");
    sim.act(
        paul,
        Action::LoadDeck {
            id: "d".into(),
            slides: 3,
        },
    );
    let before = sim.server.state().clone();
    let rpc = |proxy: i32, method: u16, args: Vec<Value>| {
        let mut b = Vec::new();
        Operation::Rpc {
            proxy,
            kind: RpcKind::Call,
            call: 9,
            method,
            args,
        }
        .encode_record(&mut b);
        b
    };
    let open = {
        let mut b = Vec::new();
        Record::RpcOpen {
            channel: 0,
            conn_mgr: CONN_MGR_PROXY,
            version: 1,
        }
        .encode(&mut b);
        b
    };
    let close_code = |reply: &[u8]| match Record::decode(reply, 1 << 20, 0) {
        Ok(ocs_psom::record::Status::Complete(Record::Close { reason, .. }, _)) => Some(reason),
        _ => None,
    };

    // An operation before RPCOpen closes the connection.
    sim.server.connect(sim.now, 100);
    let reply = sim.raw(100, &rpc(CONN_MGR_PROXY, ordinal::AUTHENTICATE, vec![]));
    assert_eq!(close_code(&reply), Some(Refusal::ProtocolError as u16));
    // Unknown record type, oversized and malformed records close the connection too.
    for (conn, bytes) in [
        (101, vec![0x99, 0, 0, 0, 0]),
        (
            102,
            [open.clone(), vec![0x16, 0xFF, 0xFF, 0xFF, 0x7F]].concat(),
        ),
        (
            103,
            [open.clone(), vec![0x16, 2, 0, 0, 0, 0x42, 0]].concat(),
        ),
        (
            104,
            [
                open.clone(),
                vec![0x37, 10, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0],
            ]
            .concat(),
        ),
    ] {
        sim.server.connect(sim.now, conn);
        let reply = sim.raw(conn, &bytes);
        assert_eq!(
            close_code(&reply),
            Some(Refusal::ProtocolError as u16),
            "{bytes:02x?}"
        );
    }
    // A truncated record waits for the rest, and the connection stays.
    sim.server.connect(sim.now, 105);
    assert!(
        sim.raw(105, &[open.clone(), vec![0x16, 40, 0, 0, 0, 0x96]].concat())
            .is_empty()
    );
    // Before authentication: only ConnMgr; forged and unknown proxy ids are refused.
    sim.server.connect(sim.now, 106);
    sim.raw(106, &open);
    let reply = sim.raw(106, &rpc(CONN_MGR_PROXY + 1, ordinal::GET_INFO, vec![]));
    assert_eq!(
        error_code(&reply),
        Some(Refusal::UnknownObject as u16),
        "the Meeting is not connected before authentication"
    );
    let reply = sim.raw(106, &rpc(-104, ordinal::GO_TO, vec![Value::U32(1)]));
    assert_eq!(error_code(&reply), Some(Refusal::UnknownObject as u16));
    let mut connect = Vec::new();
    Operation::ConnectChild {
        parent: 2,
        connect: true,
        child: 7,
        interface: Interface::SlideDeck as u16,
    }
    .encode_record(&mut connect);
    assert_eq!(
        error_code(&sim.raw(106, &connect)),
        Some(Refusal::NotAuthenticated as u16)
    );
    // Wrong arguments, unknown methods.
    let reply = sim.raw(
        106,
        &rpc(CONN_MGR_PROXY, ordinal::AUTHENTICATE, vec![Value::U8(1)]),
    );
    assert_eq!(error_code(&reply), Some(Refusal::BadArguments as u16));
    let reply = sim.raw(106, &rpc(CONN_MGR_PROXY, 77, vec![]));
    assert_eq!(error_code(&reply), Some(Refusal::UnknownMethod as u16));
    // A joined client that uses the other side's proxy ids, or ids never connected.
    let paul_conn = sim.clients[paul].0;
    let reply = sim.raw(
        paul_conn,
        &rpc(
            -(Interface::SlideDeck as i32 + 100),
            ordinal::GO_TO,
            vec![Value::U32(1)],
        ),
    );
    assert_eq!(error_code(&reply), Some(Refusal::UnknownObject as u16));
    let mut twice = Vec::new();
    Operation::ConnectChild {
        parent: 2,
        connect: true,
        child: Interface::SlideDeck as i32 + 100,
        interface: Interface::Poll as u16,
    }
    .encode_record(&mut twice);
    assert_eq!(
        error_code(&sim.raw(paul_conn, &twice)),
        Some(Refusal::Conflict as u16)
    );
    // ConnMgr on the wrong channel.
    let reply = sim.raw(
        paul_conn,
        &rpc(CONN_MGR_PROXY, ordinal::AUTHENTICATE, vec![]),
    );
    assert_eq!(error_code(&reply), Some(Refusal::WrongChannel as u16));
    assert_eq!(
        sim.server.state(),
        &before,
        "no hostile input changed the meeting"
    );
    // And the honest participant still works.
    assert!(matches!(
        sim.act(paul, Action::GoTo(2)),
        ClientEvent::Done { .. }
    ));
}

#[test]
fn objects_outlive_their_creator_and_children_disconnect() {
    let mut sim = Sim::new();
    let paul = sim.join("1002");
    let anna = sim.join("1003");
    let ali = sim.join("1004");
    sim.act(paul, Action::Draw("box".into()));
    sim.act(
        paul,
        Action::LoadDeck {
            id: "d".into(),
            slides: 4,
        },
    );
    let paul_conn = sim.clients[paul].0;
    sim.server.disconnect(paul_conn);
    sim.pump();
    // Paul's drawing and deck stay after he left, for those present and those who come.
    assert_eq!(sim.server.state().whiteboard.len(), 1);
    assert_eq!(sim.clients[anna].1.view().whiteboard.len(), 1);
    let olga = sim.join("1001");
    assert_eq!(sim.clients[olga].1.view().whiteboard.len(), 1);
    assert!(sim.clients[olga].1.view().deck.is_some());

    // Ali stops following the whiteboard: later drawings do not reach him, the rest does.
    sim.client(ali).unsubscribe(Interface::Whiteboard).unwrap();
    sim.pump();
    sim.act(olga, Action::Draw("circle".into()));
    sim.act(olga, Action::GoTo(3));
    assert_eq!(sim.clients[ali].1.view().whiteboard.len(), 1);
    assert_eq!(sim.clients[ali].1.view().deck.as_ref().unwrap().current, 3);
    assert_eq!(sim.clients[anna].1.view().whiteboard.len(), 2);
    // Calls on the disconnected child are refused: the object is gone for him.
    let mut wire = Vec::new();
    Operation::rpc(
        105,
        RpcKind::Call,
        77,
        ordinal::DRAW,
        vec![Value::String("x".into())],
    )
    .encode_record(&mut wire);
    let ali_conn = sim.clients[ali].0;
    assert_eq!(
        error_code(&sim.raw(ali_conn, &wire)),
        Some(Refusal::UnknownObject as u16)
    );
    assert_eq!(sim.server.state().whiteboard.len(), 2);
}
