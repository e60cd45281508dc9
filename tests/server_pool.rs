//! Two front ends of a pool on virtual time, without sockets: bob registers on one, carol
//! calls him through the other. The request crosses on the link between them (signed with
//! the pool's secret, bob's Path pushed as Route), both nodes record-route twice, and the
//! BYE finds its way back through both; a request on the pool listener without a valid
//! signature is dropped, a REGISTER from the pool refused, a node with no link answers 480.
//! The real thing, two `ocs serve` processes on PostgreSQL with sipp, is `tests/pool.rs`.

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use ocs_stack::server::sip::{
    ClearPasswords, Engine, EngineConfig, Outbound, Peer, PoolConfig, Recorder, StoreOp,
};
use ocs_stack::sip::digest::Challenge;
use ocs_stack::sip::{HeaderName, Message};

struct Users;
impl ClearPasswords for Users {
    fn password(&self, user: &str) -> Option<String> {
        matches!(user, "alice" | "bob" | "carol").then(|| format!("{user}-pw"))
    }
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

const SECRET: &[u8] = b"pool-secret-0123456789";

/// A front end: its engine, what it sent to clients, and its side of the link.
struct Node {
    e: Engine,
    io: Recorder,
    /// Our link to the other node (the connection we opened to its pool listener).
    link: Peer,
    /// How the other node's link looks from here (a connection on our pool listener).
    inbound: Peer,
    pool: SocketAddr,
}

fn node(name: &'static str, udp: &str, pool: &str, link: Peer, inbound: Peer) -> Node {
    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some(addr(udp)),
        pool: Some(PoolConfig {
            name: name.into(),
            addr: addr(pool),
            secret: SECRET.to_vec(),
        }),
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, [name.len() as u8; 32], Instant::now());
    if let Peer::Stream { conn, .. } = inbound {
        e.pool_inbound(conn);
    }
    Node {
        e,
        io: Recorder::default(),
        link,
        inbound,
        pool: addr(pool),
    }
}

/// Front ends A and B, linked both ways.
fn pool() -> (Node, Node) {
    let (a_pool, b_pool) = ("127.0.0.1:5170", "127.0.0.1:5270");
    let a_link = Peer::Stream {
        conn: 1,
        addr: addr(b_pool),
        tls: false,
    };
    let b_link = Peer::Stream {
        conn: 2,
        addr: addr(a_pool),
        tls: false,
    };
    // Each side's view of the other's link: a connection from an ephemeral port.
    let a_in = Peer::Stream {
        conn: 8,
        addr: addr("127.0.0.1:40002"),
        tls: false,
    };
    let b_in = Peer::Stream {
        conn: 9,
        addr: addr("127.0.0.1:40001"),
        tls: false,
    };
    let mut a = node("fe1", "127.0.0.1:5160", a_pool, a_link, a_in);
    let mut b = node("fe2", "127.0.0.1:5260", b_pool, b_link, b_in);
    a.e.pool_link(b.pool, Some(a_link));
    b.e.pool_link(a.pool, Some(b_link));
    (a, b)
}

fn msg(s: &str) -> Message {
    Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
}

fn parse(o: &Outbound) -> Message {
    Message::parse(o.bytes.clone()).unwrap()
}

/// Runs both nodes until neither has anything for the other: what one sends on its link
/// arrives on the other's pool listener, bindings one stores reach the other as the store's
/// announcements do. Returns what went to clients, by node.
fn run(a: &mut Node, b: &mut Node) -> (Vec<Outbound>, Vec<Outbound>) {
    let (mut to_clients_a, mut to_clients_b) = (Vec::new(), Vec::new());
    loop {
        let moved = step(a, b, &mut to_clients_a) | step(b, a, &mut to_clients_b);
        if !moved {
            return (to_clients_a, to_clients_b);
        }
    }
}

/// What `from` has for `to` is handed over; the rest is kept in `clients`. Whether anything
/// crossed.
fn step(from: &mut Node, to: &mut Node, clients: &mut Vec<Outbound>) -> bool {
    let mut moved = false;
    from.e.pump(Instant::now(), &mut from.io);
    // The store announces every write, to every node, the writer's own included.
    for (_, op) in std::mem::take(&mut from.io.stored) {
        match op {
            StoreOp::Bind(bnd) => {
                let (aor, contact) = (bnd.aor.clone(), bnd.contact.clone());
                to.e.remote_binding(&aor, &contact, Some(bnd.clone()));
                from.e.remote_binding(&aor, &contact, Some(bnd));
            }
            StoreOp::Unbind { aor, contact } => {
                to.e.remote_binding(&aor, &contact, None);
                from.e.remote_binding(&aor, &contact, None);
            }
            _ => {}
        }
    }
    for o in std::mem::take(&mut from.io.sent) {
        if o.peer == from.link || o.peer == from.inbound {
            moved = true;
            // Our link's far end is their inbound connection, and back.
            let arrives = if o.peer == from.link {
                to.inbound
            } else {
                to.link
            };
            let m = Message::parse(o.bytes).unwrap();
            to.e.handle(Instant::now(), SystemTime::now(), m, arrives, &Users);
        } else {
            clients.push(o);
        }
    }
    moved
}

fn register(user: &str, port: u16, cseq: u32, auth: Option<&str>) -> Message {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\n"));
    msg(&format!(
        "REGISTER sip:contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{user}{cseq}
Max-Forwards: 70
From: <sip:{user}@contoso.com>;tag=r{user}
To: <sip:{user}@contoso.com>
Call-ID: reg-{user}
CSeq: {cseq} REGISTER
Contact: <sip:{user}@127.0.0.1:{port}>
Expires: 3600
{auth}Content-Length: 0

"
    ))
}

/// Registers `user` from 127.0.0.1:`port` on `n` with Digest.
fn registered(a: &mut Node, b: &mut Node, on_b: bool, user: &str, port: u16) {
    let from = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], port)));
    let (t, w) = (Instant::now(), SystemTime::now());
    let n = if on_b { &mut *b } else { &mut *a };
    n.e.handle(t, w, register(user, port, 1, None), from, &Users);
    let (ca, cb) = run(a, b);
    let r = parse(&(if on_b { cb } else { ca })[0]);
    assert_eq!(r.status(), Some(401));
    let ch = Challenge::from_auth(&r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap())
        .unwrap();
    let creds = ch.authorization(
        user,
        &format!("{user}-pw"),
        "REGISTER",
        "sip:contoso.com",
        "c",
        1,
    );
    let n = if on_b { &mut *b } else { &mut *a };
    n.e.handle(t, w, register(user, port, 2, Some(&creds)), from, &Users);
    let (ca, cb) = run(a, b);
    let ok = parse(&(if on_b { cb } else { ca })[0]);
    assert_eq!(ok.status(), Some(200));
}

fn invite() -> Message {
    msg("INVITE sip:bob@contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKinv1;rport
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=c1
To: <sip:bob@contoso.com>
Call-ID: call-1
CSeq: 1 INVITE
Contact: <sip:carol@127.0.0.1:7000>
Content-Length: 0

")
}

/// `m` with carol's credentials for the proxy challenge `ch`.
fn as_carol(m: Message, ch: &Challenge, nc: u32) -> Message {
    let uri = match m.start_line() {
        ocs_stack::sip::StartLine::Request { uri, .. } => uri.to_owned(),
        ocs_stack::sip::StartLine::Response { .. } => unreachable!(),
    };
    let v = ch.authorization("carol", "carol-pw", m.method().unwrap(), &uri, "cn", nc);
    m.with_header("Proxy-Authorization", &v).unwrap()
}

/// The Digest challenge of the first `407` in what went to clients.
fn proxy_challenge(sent: &[Outbound]) -> Challenge {
    let r = sent
        .iter()
        .map(parse)
        .find(|m| m.status() == Some(407))
        .expect("a 407");
    Challenge::from_auth(
        &r.auth(HeaderName::ProxyAuthenticate)
            .next()
            .unwrap()
            .unwrap(),
    )
    .unwrap()
}

/// Carol, on A, calls bob: challenged by A, then with her credentials. What went to
/// clients from each node after the second INVITE.
fn carol_calls_bob(a: &mut Node, b: &mut Node) -> (Vec<Outbound>, Vec<Outbound>) {
    let (t, w) = (Instant::now(), SystemTime::now());
    let carol = Peer::Udp(addr("127.0.0.1:7000"));
    a.e.handle(t, w, invite(), carol, &Users);
    let (ca, _) = run(a, b);
    let ch = proxy_challenge(&ca);
    a.e.handle(t, w, as_carol(invite(), &ch, 1), carol, &Users);
    run(a, b)
}

#[test]
fn a_call_crosses_the_pool_to_where_the_callee_registered_and_back() {
    let (mut a, mut b) = pool();
    let (t, w) = (Instant::now(), SystemTime::now());
    registered(&mut a, &mut b, true, "bob", 6002);
    // A heard of bob's binding from the store, with B on top of its Path.
    let seen = a.e.bindings("sip:bob@contoso.com", w);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, ["<sip:127.0.0.1:5270;transport=tcp;lr>"]);

    // Carol, on A, is challenged by A and calls bob.
    let carol = Peer::Udp(addr("127.0.0.1:7000"));
    a.e.handle(t, w, invite(), carol, &Users);
    let (ca, _) = run(&mut a, &mut b);
    let r = parse(&ca[0]);
    assert_eq!(r.status(), Some(407));
    let ch = Challenge::from_auth(
        &r.auth(HeaderName::ProxyAuthenticate)
            .next()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    a.e.handle(t, w, as_carol(invite(), &ch, 1), carol, &Users);
    let (ca, cb) = run(&mut a, &mut b);
    assert!(
        ca.iter().map(parse).all(|m| m.status() == Some(100)),
        "only a 100 for carol"
    );
    assert_eq!(cb.len(), 1, "the INVITE reaches bob from B: {cb:?}");
    assert_eq!(cb[0].peer, Peer::Udp(addr("127.0.0.1:6002")));
    let at_bob = parse(&cb[0]);
    assert_eq!(at_bob.method(), Some("INVITE"));
    assert!(
        at_bob.header_by_name("Ocs-Pool-Auth").is_none(),
        "the signature stays in the pool"
    );
    assert!(at_bob.header(HeaderName::ProxyAuthorization).is_none());
    assert!(
        at_bob.header(HeaderName::Route).is_none(),
        "B popped its Path entry"
    );
    assert_eq!(at_bob.via().count(), 3, "carol, A, B");
    let rr: Vec<String> = at_bob
        .record_routes()
        .map(|r| r.unwrap().uri.to_string())
        .collect();
    assert_eq!(
        rr,
        [
            "sip:127.0.0.1:5260;transport=udp;lr",
            "sip:127.0.0.1:5270;transport=tcp;lr",
            "sip:127.0.0.1:5170;transport=tcp;lr",
            "sip:127.0.0.1:5160;transport=udp;lr",
        ],
        "each node twice: its client side and its pool side"
    );

    // Bob answers; the 200 goes back through B and A to carol.
    let ok = at_bob
        .response(200, "OK", "b1")
        .header("Contact", "<sip:bob@127.0.0.1:6002>")
        .build()
        .unwrap();
    b.e.handle(t, w, ok, cb[0].peer, &Users);
    let (ca, _) = run(&mut a, &mut b);
    let up = ca
        .iter()
        .map(parse)
        .find(|m| m.status() == Some(200))
        .unwrap();
    assert_eq!(up.via().count(), 1);
    assert_eq!(up.record_routes().count(), 4);

    // Carol's BYE follows the route set (reversed Record-Route) through A and B.
    let bye = msg("BYE sip:bob@127.0.0.1:6002 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKbye1
Route: <sip:127.0.0.1:5160;transport=udp;lr>, <sip:127.0.0.1:5170;transport=tcp;lr>
Route: <sip:127.0.0.1:5270;transport=tcp;lr>, <sip:127.0.0.1:5260;transport=udp;lr>
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=c1
To: <sip:bob@contoso.com>;tag=b1
Call-ID: call-1
CSeq: 2 BYE
Content-Length: 0

");
    a.e.handle(t, w, as_carol(bye, &ch, 2), carol, &Users);
    let (_, cb) = run(&mut a, &mut b);
    let at_bob = cb
        .iter()
        .map(parse)
        .find(|m| m.method() == Some("BYE"))
        .unwrap();
    assert!(
        at_bob.header(HeaderName::Route).is_none(),
        "every entry was ours or B's"
    );
    assert_eq!(at_bob.via().count(), 3);
}

#[test]
fn the_pool_listener_takes_only_signed_requests_and_no_registrations() {
    let (mut a, mut b) = pool();
    let (t, w) = (Instant::now(), SystemTime::now());
    registered(&mut a, &mut b, true, "bob", 6002);
    let before = b.e.stats().auth_failures;
    // Unsigned, on B's pool listener: dropped without an answer.
    let forged = msg("MESSAGE sip:bob@contoso.com SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:40001;branch=z9hG4bKforged
Max-Forwards: 70
From: <sip:alice@contoso.com>;tag=f1
To: <sip:bob@contoso.com>
Call-ID: forged
CSeq: 1 MESSAGE
Content-Length: 0

");
    b.e.handle(t, w, forged.clone(), b.inbound, &Users);
    b.e.pump(t, &mut b.io);
    assert!(b.io.sent.is_empty(), "nothing reaches bob, nothing answers");
    assert_eq!(b.e.stats().auth_failures, before + 1);
    // Signed with another secret: the same.
    let mut other = Engine::new(
        EngineConfig {
            udp_addr: Some(addr("127.0.0.1:5360")),
            pool: Some(PoolConfig {
                name: "fe1".into(),
                addr: addr("127.0.0.1:5370"),
                secret: b"not-the-pool-secret".to_vec(),
            }),
            auth: vec![],
            ..EngineConfig::default()
        },
        [3; 32],
        t,
    );
    let link = Peer::Stream {
        conn: 5,
        addr: b.pool,
        tls: false,
    };
    other.pool_link(b.pool, Some(link));
    let bob_from_other = msg("OPTIONS sip:bob@127.0.0.1:6002 SIP/2.0
Via: SIP/2.0/TCP 127.0.0.1:40009;branch=z9hG4bKother
Route: <sip:127.0.0.1:5270;transport=tcp;lr>
Max-Forwards: 70
From: <sip:alice@contoso.com>;tag=o1
To: <sip:bob@contoso.com>
Call-ID: other
CSeq: 1 OPTIONS
Content-Length: 0

");
    other.handle(
        t,
        w,
        bob_from_other,
        Peer::Udp(addr("127.0.0.1:7001")),
        &Users,
    );
    let mut io = Recorder::default();
    other.pump(t, &mut io);
    let signed = io
        .sent
        .iter()
        .find(|o| o.peer == link)
        .expect("sent on its link");
    b.e.handle(t, w, parse(signed), b.inbound, &Users);
    b.e.pump(t, &mut b.io);
    assert!(b.io.sent.is_empty(), "another secret is no member");
    assert_eq!(b.e.stats().auth_failures, before + 2);

    // Signed with the pool's secret, the same request goes through to bob.
    let member = PoolConfig {
        name: "fe3".into(),
        addr: addr("127.0.0.1:5470"),
        secret: SECRET.to_vec(),
    };
    let good = ocs_stack::server::sip::pool::sign(&member, b.pool, forged.to_bytes(), w);
    b.e.handle(t, w, Message::parse(good).unwrap(), b.inbound, &Users);
    b.e.pump(t, &mut b.io);
    let at_bob =
        b.io.sent
            .iter()
            .find(|o| o.peer == Peer::Udp(addr("127.0.0.1:6002")));
    assert!(
        at_bob.is_some(),
        "a member's request is trusted as it asserts"
    );
    b.io.sent.clear();

    // A REGISTER that comes from the pool is refused: users register where they connect.
    let reg = ocs_stack::server::sip::pool::sign(
        &member,
        b.pool,
        register("carol", 6005, 1, None).to_bytes(),
        w,
    );
    b.e.handle(t, w, Message::parse(reg).unwrap(), b.inbound, &Users);
    b.e.pump(t, &mut b.io);
    let r = parse(b.io.sent.last().expect("an answer"));
    assert_eq!(r.status(), Some(403));
    assert!(b.e.bindings("sip:carol@contoso.com", w).is_empty());
}

/// Over TCP, bob's binding on B goes over his connection. The store's announcements of it
/// (B's own write coming back, a full read again after B's watcher reconnected) leave that
/// flow where it is: a call from A still reaches him on it.
#[test]
fn the_announcement_of_a_nodes_own_binding_keeps_its_flow() {
    let (mut a, mut b) = pool();
    let (t, w) = (Instant::now(), SystemTime::now());
    let flow = Peer::Stream {
        conn: 77,
        addr: addr("127.0.0.1:6002"),
        tls: false,
    };
    b.e.handle(t, w, register("bob", 6002, 1, None), flow, &Users);
    let (_, cb) = run(&mut a, &mut b);
    let r = parse(&cb[0]);
    let ch = Challenge::from_auth(&r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap())
        .unwrap();
    let creds = ch.authorization("bob", "bob-pw", "REGISTER", "sip:contoso.com", "c", 1);
    b.e.handle(t, w, register("bob", 6002, 2, Some(&creds)), flow, &Users);
    run(&mut a, &mut b);
    // The full read again: every row, ours among them.
    let again = b.e.bindings("sip:bob@contoso.com", w)[0].clone();
    let (aor, contact) = (again.aor.clone(), again.contact.clone());
    b.e.remote_binding(
        &aor,
        &contact,
        Some(ocs_stack::server::sip::Binding {
            flow: None,
            ..again
        }),
    );
    let (_, cb) = carol_calls_bob(&mut a, &mut b);
    let at_bob = cb
        .iter()
        .find(|o| parse(o).method() == Some("INVITE"))
        .expect("reaches bob");
    assert_eq!(
        at_bob.peer, flow,
        "over his connection, not to his contact's address"
    );
}

/// A Path that names this pool would send requests round between its nodes: refused.
#[test]
fn a_path_naming_the_pool_is_refused() {
    let (mut a, mut b) = pool();
    let (t, w) = (Instant::now(), SystemTime::now());
    let from = Peer::Udp(addr("127.0.0.1:6003"));
    let reg = |path: &str| {
        msg(&register("bob", 6003, 1, None)
            .to_string()
            .replace("Expires: 3600", &format!("Expires: 3600\nPath: {path}"))
            .replace("\r\n", "\n"))
    };
    for path in [
        "<sip:127.0.0.1:5170;transport=tcp;lr>",
        "<sip:127.0.0.1:5260;lr>",
        "<sip:edge1;lr>, <sip:edge2;lr>, <sip:edge3;lr>, <sip:edge4;lr>, <sip:edge5;lr>",
    ] {
        b.e.handle(t, w, reg(path), from, &Users);
        let (_, cb) = run(&mut a, &mut b);
        assert_eq!(parse(&cb[0]).status(), Some(400), "{path}");
    }
    // A balancer's Path is kept, below this node's own entry, and echoed.
    b.e.handle(t, w, reg("<sip:192.0.2.7;lr>"), from, &Users);
    let (_, cb) = run(&mut a, &mut b);
    assert_eq!(parse(&cb[0]).status(), Some(401), "challenged as usual");
}

#[test]
fn without_a_link_to_the_node_of_the_binding_the_callee_is_unavailable() {
    let (mut a, mut b) = pool();
    registered(&mut a, &mut b, true, "bob", 6002);
    a.e.pool_link(b.pool, None);
    let (ca, cb) = carol_calls_bob(&mut a, &mut b);
    assert!(cb.is_empty());
    let last = ca.iter().map(parse).last().unwrap();
    assert_eq!(last.status(), Some(480), "known, but not reachable now");
}

/// A conference lives on the front end that created it: another node sends its requests
/// there over the link (its pool URI as Route), while the owner is alive; 480 when it is not.
#[test]
fn a_conference_another_node_owns_is_reached_through_it() {
    let (mut a, mut b) = pool();
    let (t, w) = (Instant::now(), SystemTime::now());
    let focus = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DESIGN01";
    b.e.pool_nodes(&[("fe1".into(), a.pool)]);
    b.e.remote_conference(focus, Some("fe1"));
    let join = |cseq: u32, auth: Option<String>| {
        let auth = auth.map_or(String::new(), |a| format!("Proxy-Authorization: {a}\n"));
        msg(&format!(
            "INVITE {focus} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKjoin{cseq};rport
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=j1
To: <{focus}>
Call-ID: join-1
CSeq: {cseq} INVITE
Contact: <sip:carol@127.0.0.1:7000>
{auth}Content-Length: 0

"
        ))
    };
    let carol = Peer::Udp(addr("127.0.0.1:7000"));
    b.e.handle(t, w, join(1, None), carol, &Users);
    let (_, cb) = run(&mut a, &mut b);
    let ch = proxy_challenge(&cb);
    let creds = ch.authorization("carol", "carol-pw", "INVITE", focus, "cn", 1);
    b.e.handle(t, w, join(2, Some(creds.clone())), carol, &Users);
    // B sends it on its link; A's focus answers (an INVITE without the C3P body it wants:
    // 415), through B.
    b.e.pump(t, &mut b.io);
    let on_link: Vec<Message> =
        b.io.sent
            .iter()
            .filter(|o| o.peer == b.link)
            .map(parse)
            .collect();
    assert_eq!(on_link.len(), 1, "to the owner over the link");
    let routes: Vec<String> = on_link[0]
        .routes()
        .map(|r| r.unwrap().uri.to_string())
        .collect();
    assert_eq!(routes, ["sip:127.0.0.1:5170;transport=tcp;lr"]);
    let (_, cb) = run(&mut a, &mut b);
    let answer = cb
        .iter()
        .map(parse)
        .find(|m| m.status().is_some_and(|c| c >= 300));
    assert_eq!(
        answer.and_then(|m| m.status()),
        Some(415),
        "the owner's answer, relayed"
    );

    // Its owner not alive: 480. Deleted: this node's own answer (404, no such conference).
    b.e.pool_nodes(&[]);
    let creds = ch.authorization("carol", "carol-pw", "INVITE", focus, "cn", 2);
    b.e.handle(t, w, join(3, Some(creds)), carol, &Users);
    let (_, cb) = run(&mut a, &mut b);
    assert_eq!(parse(cb.last().unwrap()).status(), Some(480));
    b.e.remote_conference(focus, None);
    let creds = ch.authorization("carol", "carol-pw", "INVITE", focus, "cn", 3);
    b.e.handle(t, w, join(4, Some(creds)), carol, &Users);
    b.e.pump(t, &mut b.io);
    assert!(
        b.io.sent.iter().all(|o| o.peer != b.link),
        "not sent to the pool"
    );
}
