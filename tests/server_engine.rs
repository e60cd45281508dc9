//! The reference server's SIP core without sockets: registrar (Digest, bindings, 423, GRUU,
//! un-register, the 200 held until the store commits) and proxy (forking, Record-Route, 2xx
//! going up, ACK and BYE through the route, 404/480/483, CANCEL).

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use ocs_stack::server::sip::{
    ClearPasswords, Engine, EngineConfig, Outbound, Peer, Recorder, StoreOp,
};
use ocs_stack::sip::digest::Challenge;
use ocs_stack::sip::{HeaderName, Message};

struct Users;
impl ClearPasswords for Users {
    fn password(&self, user: &str) -> Option<String> {
        matches!(user, "alice" | "bob" | "carol").then(|| format!("{user}-pw"))
    }
}

const SERVER: &str = "127.0.0.1:5060";

fn engine() -> Engine {
    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some(SERVER.parse().unwrap()),
        ..EngineConfig::default()
    };
    Engine::new(cfg, [7; 32], Instant::now())
}

fn msg(s: &str) -> Message {
    Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
}

thread_local! {
    /// What the engine put out in this test: its store commits are reported by the test.
    static IO: std::cell::RefCell<Recorder> = std::cell::RefCell::new(Recorder {
        defer_commits: true,
        ..Recorder::default()
    });
}

/// Drains the engine through the shared pump; what was sent since the last call.
fn out(e: &mut Engine) -> Vec<Outbound> {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        e.pump(Instant::now(), &mut *io);
        std::mem::take(&mut io.sent)
    })
}

/// The oldest store write not looked at yet (what was sent stays for [`out`]).
fn poll_store(e: &mut Engine) -> Option<(u64, StoreOp)> {
    IO.with(|io| {
        let mut io = io.borrow_mut();
        e.pump(Instant::now(), &mut *io);
        (!io.stored.is_empty()).then(|| io.stored.remove(0))
    })
}

fn parse(o: &Outbound) -> Message {
    Message::parse(o.bytes.clone()).unwrap()
}

fn register(user: &str, port: u16, cseq: u32, auth: Option<&str>, expires: u32) -> Message {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\n"));
    msg(&format!(
        "REGISTER sip:contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bKr{user}{cseq}
Max-Forwards: 70
From: <sip:{user}@contoso.com>;tag=r{user}
To: <sip:{user}@contoso.com>
Call-ID: reg-{user}
CSeq: {cseq} REGISTER
Contact: <sip:{user}@127.0.0.1:{port}>;+sip.instance=\"<urn:uuid:0000-{port}>\"
Expires: {expires}
{auth}Content-Length: 0

"
    ))
}

/// Registers `user` at 127.0.0.1:`port` with Digest; returns the 200.
fn registered(e: &mut Engine, user: &str, port: u16) -> Message {
    let t = Instant::now();
    let w = SystemTime::now();
    let from = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], port)));
    e.handle(t, w, register(user, port, 1, None, 3600), from, &Users);
    let o = out(e);
    let r = parse(&o[0]);
    assert_eq!(r.status(), Some(401));
    let a = r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap();
    let ch = Challenge::from_auth(&a).unwrap();
    let creds = ch.authorization(
        user,
        &format!("{user}-pw"),
        "REGISTER",
        "sip:contoso.com",
        "c0ffee",
        1,
    );
    e.handle(
        t,
        w,
        register(user, port, 2, Some(&creds), 3600),
        from,
        &Users,
    );
    // Held until the store commits.
    assert!(out(e).is_empty(), "no 200 before the binding is stored");
    let mut last = 0;
    while let Some((ticket, op)) = poll_store(e) {
        assert!(matches!(op, StoreOp::Bind(ref b) if b.aor == format!("sip:{user}@contoso.com")));
        last = ticket;
    }
    e.committed(t, last);
    let o = out(e);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].peer, from);
    parse(&o[0])
}

#[test]
fn register_with_digest_bindings_and_gruu() {
    let mut e = engine();
    let ok = registered(&mut e, "alice", 6001);
    assert_eq!(ok.status(), Some(200));
    assert!(
        ok.header(HeaderName::MsKeepAlive).is_none(),
        "not offered, not answered"
    );
    let contact = ok.header(HeaderName::Contact).unwrap().value;
    assert!(contact.contains("sip:alice@127.0.0.1:6001"), "{contact}");
    assert!(contact.contains("expires=3600"));
    assert!(
        contact.contains("gruu=\"sip:alice@contoso.com;opaque=user:epid:00006001;gruu\""),
        "{contact}"
    );
    let w = SystemTime::now();
    assert_eq!(e.bindings("sip:alice@contoso.com", w).len(), 1);

    let t = Instant::now();
    let from = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 6001)));
    // Too short: 423 with Min-Expires (credentials are checked first).
    e.handle(t, w, register("alice", 6001, 3, None, 10), from, &Users);
    let r = parse(&out(&mut e)[0]);
    assert_eq!(r.status(), Some(401));
    // A wrong password: 403.
    let a = r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap();
    let ch = Challenge::from_auth(&a).unwrap();
    let bad = ch.authorization("alice", "nope", "REGISTER", "sip:contoso.com", "1", 1);
    e.handle(
        t,
        w,
        register("alice", 6001, 4, Some(&bad), 3600),
        from,
        &Users,
    );
    assert_eq!(parse(&out(&mut e)[0]).status(), Some(403));
    // Bob's credentials for Alice's AOR: 403.
    let bobs = ch.authorization("bob", "bob-pw", "REGISTER", "sip:contoso.com", "2", 2);
    e.handle(
        t,
        w,
        register("alice", 6001, 5, Some(&bobs), 3600),
        from,
        &Users,
    );
    assert_eq!(parse(&out(&mut e)[0]).status(), Some(403));
    let good = ch.authorization("alice", "alice-pw", "REGISTER", "sip:contoso.com", "3", 3);
    e.handle(
        t,
        w,
        register("alice", 6001, 6, Some(&good), 10),
        from,
        &Users,
    );
    let r = parse(&out(&mut e)[0]);
    assert_eq!(r.status(), Some(423));
    assert_eq!(r.header_by_name("Min-Expires").unwrap().value, "60");
    // Un-register: Expires 0 removes the binding (after the store commits).
    let good = ch.authorization("alice", "alice-pw", "REGISTER", "sip:contoso.com", "3", 4);
    e.handle(
        t,
        w,
        register("alice", 6001, 7, Some(&good), 0),
        from,
        &Users,
    );
    let (ticket, op) = poll_store(&mut e).unwrap();
    assert!(matches!(op, StoreOp::Unbind { .. }));
    e.committed(t, ticket);
    let r = parse(&out(&mut e)[0]);
    assert_eq!(r.status(), Some(200));
    assert!(r.header(HeaderName::Contact).is_none());
    assert!(e.bindings("sip:alice@contoso.com", w).is_empty());
}

/// A Digest challenge for requests to the proxy: the 407 of a first request without
/// credentials (every request is authenticated; over UDP each one carries credentials).
fn proxy_challenge(e: &mut Engine, caller: Peer) -> Challenge {
    let (t, w) = (Instant::now(), SystemTime::now());
    let probe = msg("MESSAGE sip:bob@contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKprobe
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=p1
To: <sip:bob@contoso.com>
Call-ID: probe
CSeq: 1 MESSAGE
Content-Length: 0

");
    e.handle(t, w, probe, caller, &Users);
    let r = parse(&out(e)[0]);
    assert_eq!(
        r.status(),
        Some(407),
        "a request without credentials is challenged"
    );
    let a = r
        .auth(HeaderName::ProxyAuthenticate)
        .next()
        .unwrap()
        .unwrap();
    Challenge::from_auth(&a).unwrap()
}

/// `m` with carol's `Proxy-Authorization` for challenge `ch`, nonce count `nc`.
fn as_carol(m: Message, ch: &Challenge, nc: u32) -> Message {
    let uri = match m.start_line() {
        ocs_stack::sip::StartLine::Request { uri, .. } => uri.to_owned(),
        ocs_stack::sip::StartLine::Response { .. } => unreachable!(),
    };
    let v = ch.authorization("carol", "carol-pw", m.method().unwrap(), &uri, "cn", nc);
    m.with_header("Proxy-Authorization", &v).unwrap()
}

fn invite(to: &str, branch: &str) -> Message {
    msg(&format!(
        "INVITE sip:{to}@contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch={branch};rport
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=c1
To: <sip:{to}@contoso.com>
Call-ID: call-{branch}
CSeq: 1 INVITE
Contact: <sip:carol@127.0.0.1:7000>
Content-Length: 0

"
    ))
}

#[test]
fn proxy_forks_routes_and_answers() {
    let mut e = engine();
    registered(&mut e, "bob", 6002);
    registered(&mut e, "bob", 6003); // a second device: two contacts
    let t = Instant::now();
    let w = SystemTime::now();
    let caller = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 7000)));
    let ch = proxy_challenge(&mut e, caller);
    e.handle(
        t,
        w,
        as_carol(invite("bob", "z9hG4bKinv1"), &ch, 1),
        caller,
        &Users,
    );
    let o = out(&mut e);
    assert_eq!(o.len(), 2, "forked to both contacts");
    let mut dests: Vec<_> = o.iter().map(|x| x.peer.addr().port()).collect();
    dests.sort_unstable();
    assert_eq!(dests, [6002, 6003]);
    let fwd = parse(&o[0]);
    assert!(
        fwd.header(HeaderName::ProxyAuthorization).is_none(),
        "carol's credentials are for us, not for bob"
    );
    assert_eq!(fwd.via().count(), 2);
    assert_eq!(fwd.max_forwards().unwrap().unwrap(), 69);
    let rr = fwd.header(HeaderName::RecordRoute).unwrap().value;
    assert_eq!(rr, "<sip:127.0.0.1:5060;transport=udp;lr>");
    // One device rings, the other answers.
    let ring = msg(&fwd
        .response(180, "Ringing", "dev1")
        .build()
        .unwrap()
        .to_string()
        .replace("\r\n", "\n"));
    e.handle(t, w, ring, o[0].peer, &Users);
    let up = out(&mut e);
    let r = parse(&up[0]);
    assert_eq!((r.status(), up[0].peer), (Some(180), caller));
    assert_eq!(r.via().count(), 1, "our Via removed");
    let other = parse(&o[1]);
    let answered = other
        .response(200, "OK", "dev2")
        .header("Contact", format!("<sip:bob@{}>", o[1].peer.addr()))
        .build()
        .unwrap();
    e.handle(t, w, answered, o[1].peer, &Users);
    let up = out(&mut e);
    let ok = up
        .iter()
        .map(parse)
        .find(|m| m.status() == Some(200))
        .unwrap();
    assert_eq!(ok.to().unwrap().tag(), Some("dev2"));
    // The ringing branch is cancelled.
    let cancel = up
        .iter()
        .map(parse)
        .find(|m| m.method() == Some("CANCEL"))
        .unwrap();
    assert_eq!(
        cancel.top_via().unwrap().branch(),
        fwd.top_via().unwrap().branch()
    );

    // The caller's ACK and BYE carry our Record-Route as Route: we pop it and forward.
    let ack = msg(&format!(
        "ACK sip:bob@{} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:7000;branch=z9hG4bKack1
Route: <sip:127.0.0.1:5060;transport=udp;lr>
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=c1
To: <sip:bob@contoso.com>;tag=dev2
Call-ID: call-z9hG4bKinv1
CSeq: 1 ACK
Content-Length: 0

",
        o[1].peer.addr()
    ));
    e.handle(t, w, ack, caller, &Users);
    let a = out(&mut e);
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].peer, o[1].peer);
    let fa = parse(&a[0]);
    assert!(fa.header(HeaderName::Route).is_none(), "our Route popped");
    assert_eq!(fa.via().count(), 2);

    // Unknown user 404, known but unregistered 480, Max-Forwards 0: 483.
    e.handle(
        t,
        w,
        as_carol(invite("nobody", "z9hG4bKinv2"), &ch, 2),
        caller,
        &Users,
    );
    assert_eq!(parse(&out(&mut e)[0]).status(), Some(404));
    e.handle(
        t + Duration::from_secs(1),
        w,
        register("alice", 6009, 1, None, 3600),
        caller,
        &Users,
    );
    let _ = out(&mut e); // alice never completes registration: not in the bindings
    let zero = msg(&invite("bob", "z9hG4bKinv3")
        .to_string()
        .replace("Max-Forwards: 70", "Max-Forwards: 0")
        .replace("\r\n", "\n"));
    e.handle(t, w, as_carol(zero, &ch, 3), caller, &Users);
    assert_eq!(parse(&out(&mut e)[0]).status(), Some(483));
}

#[test]
fn forward_outcomes_pick_the_best_final_response() {
    let mut e = engine();
    registered(&mut e, "bob", 6002);
    registered(&mut e, "bob", 6003);
    let t = Instant::now();
    let w = SystemTime::now();
    let caller = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 7000)));
    let ch = proxy_challenge(&mut e, caller);
    e.handle(
        t,
        w,
        as_carol(invite("bob", "z9hG4bKinv9"), &ch, 1),
        caller,
        &Users,
    );
    let o = out(&mut e);
    let busy = parse(&o[0])
        .response(486, "Busy Here", "d1")
        .build()
        .unwrap();
    let gone = parse(&o[1])
        .response(404, "Not Found", "d2")
        .build()
        .unwrap();
    e.handle(t, w, busy, o[0].peer, &Users);
    let acks = out(&mut e);
    assert!(
        acks.iter().all(|a| parse(a).method() == Some("ACK")),
        "the proxy ACKs non-2xx itself"
    );
    e.handle(t, w, gone, o[1].peer, &Users);
    let up: Vec<Message> = out(&mut e)
        .iter()
        .map(parse)
        .filter(|m| !m.is_request())
        .collect();
    assert_eq!(up.len(), 1);
    assert_eq!(
        up[0].status(),
        Some(486),
        "the lowest class wins, the first seen of it"
    );
}

#[test]
fn over_tcp_the_answer_leaves_before_the_transaction_ends() {
    // On a stream transport Timer J is zero: the transaction ends as it answers, and the answer
    // must still reach the connection.
    let mut e = engine();
    let t = Instant::now();
    let w = SystemTime::now();
    let peer = Peer::Stream {
        conn: 7,
        addr: SocketAddr::from(([127, 0, 0, 1], 6100)),
        tls: false,
    };
    let reg = msg(&register("alice", 6100, 1, None, 3600)
        .to_string()
        .replace("SIP/2.0/UDP", "SIP/2.0/TCP")
        .replace("\r\n", "\n"));
    e.handle(t, w, reg, peer, &Users);
    let o = out(&mut e);
    assert_eq!(o.len(), 1);
    assert_eq!(o[0].peer, peer);
    assert_eq!(parse(&o[0]).status(), Some(401));
    assert_eq!(e.transactions(), 0);
}

#[test]
fn register_with_ntlm_and_a_signed_200() {
    use ocs_stack::sip::ntlm::Credentials;
    use ocs_stack::sip::sipae::NtlmSipClient;

    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some(SERVER.parse().unwrap()),
        auth: vec!["Digest".into(), "NTLM".into()],
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, [9; 32], Instant::now());
    let t = Instant::now();
    let w = SystemTime::now();
    let from = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 6200)));
    // 1: both schemes offered, Digest first.
    e.handle(t, w, register("alice", 6200, 1, None, 3600), from, &Users);
    let r = parse(&out(&mut e)[0]);
    let offers: Vec<String> = r
        .auth(HeaderName::WwwAuthenticate)
        .map(|a| a.unwrap().scheme_name.unwrap().to_owned())
        .collect();
    assert_eq!(offers, ["Digest", "NTLM"]);
    let ntlm = r
        .auth(HeaderName::WwwAuthenticate)
        .flatten()
        .find(|a| a.scheme_name == Some("NTLM"))
        .unwrap()
        .to_string();
    // 2: the empty connection-less leg; 3: AUTHENTICATE; the 200 is signed.
    let mut client = NtlmSipClient::new(Credentials::new("alice", "CONTOSO", "alice-pw"), "PC");
    let first = client.first_credentials(&ntlm).unwrap();
    e.handle(
        t,
        w,
        register("alice", 6200, 2, Some(&first), 3600),
        from,
        &Users,
    );
    let r = parse(&out(&mut e)[0]);
    assert_eq!(r.status(), Some(401));
    let challenge = r
        .auth(HeaderName::WwwAuthenticate)
        .flatten()
        .next()
        .unwrap()
        .to_string();
    let (third, mut sa) = client.answer(&challenge, [1; 8], [2; 16]).unwrap();
    let with_ka = msg(&register("alice", 6200, 3, Some(&third), 3600)
        .to_string()
        .replace(
            "Expires: 3600",
            "Expires: 3600\nms-keep-alive: UAC;hop-hop=yes",
        )
        .replace("\r\n", "\n"));
    e.handle(t, w, with_ka, from, &Users);
    let (ticket, _) = poll_store(&mut e).unwrap();
    e.committed(t, ticket);
    let ok = parse(&out(&mut e)[0]);
    assert_eq!(ok.status(), Some(200));
    sa.verify(&ok).expect("the registrar's rspauth verifies");
    let ka = ok.header(HeaderName::MsKeepAlive).unwrap().value;
    assert_eq!(ka, "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300");
    assert_eq!(e.bindings("sip:alice@contoso.com", w).len(), 1);
}

#[test]
fn between_transports_the_proxy_record_routes_twice() {
    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some(SERVER.parse().unwrap()),
        tls_addr: Some("127.0.0.1:5061".parse().unwrap()),
        auth: Vec::new(),
        ..EngineConfig::default()
    };
    let mut e = Engine::new(cfg, [1; 32], Instant::now());
    let t = Instant::now();
    let w = SystemTime::now();
    // Bob registers over TLS: requests for him go over that connection.
    let bob = Peer::Stream {
        conn: 3,
        addr: SocketAddr::from(([127, 0, 0, 1], 6300)),
        tls: true,
    };
    let reg = msg(&register("bob", 6300, 1, None, 3600)
        .to_string()
        .replace("SIP/2.0/UDP", "SIP/2.0/TLS")
        .replace("\r\n", "\n"));
    e.handle(t, w, reg, bob, &Users);
    let (ticket, _) = poll_store(&mut e).unwrap();
    e.committed(t, ticket);
    assert_eq!(parse(&out(&mut e)[0]).status(), Some(200));
    // Carol calls over UDP.
    let caller = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 7000)));
    e.handle(t, w, invite("bob", "z9hG4bKx1"), caller, &Users);
    let o = out(&mut e);
    assert_eq!(o[0].peer, bob);
    let fwd = parse(&o[0]);
    assert!(
        fwd.top_via()
            .unwrap()
            .to_string()
            .starts_with("SIP/2.0/TLS 127.0.0.1:5061")
    );
    let rr: Vec<String> = fwd
        .record_routes()
        .map(|r| r.unwrap().uri.to_string())
        .collect();
    assert_eq!(
        rr,
        [
            "sip:127.0.0.1:5061;transport=tls;lr",
            "sip:127.0.0.1:5060;transport=udp;lr"
        ]
    );
    // Bob's BYE carries both as Route (his route set is the Record-Route in order): both popped,
    // and it reaches Carol over UDP.
    let bye = msg("BYE sip:carol@127.0.0.1:7000 SIP/2.0
Via: SIP/2.0/TLS 127.0.0.1:6300;branch=z9hG4bKbye1
Route: <sip:127.0.0.1:5061;transport=tls;lr>
Route: <sip:127.0.0.1:5060;transport=udp;lr>
Max-Forwards: 70
From: <sip:bob@contoso.com>;tag=b1
To: <sip:carol@example.net>;tag=c1
Call-ID: call-z9hG4bKx1
CSeq: 1 BYE
Content-Length: 0

");
    e.handle(t, w, bye, bob, &Users);
    let o = out(&mut e);
    assert_eq!(o[0].peer, caller);
    let fb = parse(&o[0]);
    assert!(
        fb.header(HeaderName::Route).is_none(),
        "both of our routes popped"
    );
    assert!(
        fb.top_via()
            .unwrap()
            .to_string()
            .starts_with("SIP/2.0/UDP 127.0.0.1:5060")
    );
}

/// A batch the store could not commit: the REGISTER held for it is answered `500` with
/// `Retry-After`, and a later commit does not release an acknowledgement of it.
#[test]
fn a_write_the_store_could_not_commit_is_not_acknowledged() {
    let mut e = engine();
    let t = Instant::now();
    let w = SystemTime::now();
    let from = Peer::Udp(SocketAddr::from(([127, 0, 0, 1], 6011)));
    e.handle(t, w, register("alice", 6011, 1, None, 3600), from, &Users);
    let r = parse(&out(&mut e)[0]);
    let a = r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap();
    let creds = Challenge::from_auth(&a).unwrap().authorization(
        "alice",
        "alice-pw",
        "REGISTER",
        "sip:contoso.com",
        "c0ffee",
        1,
    );
    e.handle(
        t,
        w,
        register("alice", 6011, 2, Some(&creds), 3600),
        from,
        &Users,
    );
    assert!(out(&mut e).is_empty(), "held for the store");
    let (ticket, _) = poll_store(&mut e).expect("the binding's write");
    e.store_failed(t, ticket, ticket);
    let o = out(&mut e);
    assert_eq!(o.len(), 1);
    let failed = parse(&o[0]);
    assert_eq!(failed.status(), Some(500));
    assert!(failed.header_by_name("Retry-After").is_some());
    e.committed(t, ticket + 10);
    assert!(out(&mut e).is_empty(), "nothing released by a later commit");
}
