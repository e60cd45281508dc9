//! The attacks of issue #18, each against the engine without sockets: requests without
//! credentials acting as a user (forwarded IM, calls, subscriptions, the focus factory, a
//! conference join, an open relay), a user speaking as another, NTLM clients' unsigned,
//! tampered, replayed and cross-connection requests, unsigned answers, Digest guessing,
//! RFC 2069 replay and a `uri` for another target, stray responses relayed by their Via.
//! Each failed before the security module; each is refused now with the status the RFCs and
//! [MS-SIPAE] give.

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use ocs_stack::server::sip::{ClearPasswords, Engine, EngineConfig, Outbound, Peer, Recorder};
use ocs_stack::sip::digest::Challenge;
use ocs_stack::sip::ntlm::Credentials;
use ocs_stack::sip::sipae::{NtlmSipClient, SecurityAssociation};
use ocs_stack::sip::{HeaderName, Message};

struct Users;
impl ClearPasswords for Users {
    fn password(&self, user: &str) -> Option<String> {
        matches!(user, "alice" | "bob" | "carol").then(|| format!("{user}-pw"))
    }
}

struct Server {
    e: Engine,
    io: Recorder,
}

impl Server {
    fn new() -> Server {
        Server::with(EngineConfig::default().sa_lifetime)
    }

    /// With associations living `sa_lifetime`.
    fn with(sa_lifetime: std::time::Duration) -> Server {
        let cfg = EngineConfig {
            domain: "contoso.com".into(),
            udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            tcp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            auth: vec!["Digest".into(), "NTLM".into()],
            sa_lifetime,
            ..EngineConfig::default()
        };
        Server {
            e: Engine::new(cfg, [4; 32], Instant::now()),
            io: Recorder::default(),
        }
    }

    /// Hands `m` to the engine from `peer`; what it sent in answer.
    fn send(&mut self, m: &Message, peer: Peer) -> Vec<(Peer, Message)> {
        self.e
            .handle(Instant::now(), SystemTime::now(), m.clone(), peer, &Users);
        self.e.pump(Instant::now(), &mut self.io);
        std::mem::take(&mut self.io.sent)
            .into_iter()
            .map(|Outbound { peer, bytes }| (peer, Message::parse(bytes).unwrap()))
            .collect()
    }

    /// Sends `m` and expects exactly one answer, to `peer`: its status.
    fn refused(&mut self, m: &Message, peer: Peer) -> Message {
        let out = self.send(m, peer);
        assert_eq!(out.len(), 1, "only an answer to the sender: {out:?}");
        assert_eq!(out[0].0, peer);
        out.into_iter().next().unwrap().1
    }
}

fn udp(port: u16) -> Peer {
    Peer::Udp(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn tcp(conn: u64, port: u16) -> Peer {
    Peer::Stream {
        conn,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
        tls: false,
    }
}

/// A request from `from` (a user of contoso.com) on `peer`'s transport.
fn request(
    method: &str,
    ruri: &str,
    from: &str,
    to: &str,
    call: &str,
    cseq: u32,
    peer: Peer,
) -> Message {
    let (t, port) = match peer {
        Peer::Udp(a) => ("UDP", a.port()),
        Peer::Stream { addr, .. } => ("TCP", addr.port()),
    };
    let body = if method == "MESSAGE" { "hello" } else { "" };
    let ctype = if body.is_empty() {
        String::new()
    } else {
        "Content-Type: text/plain\r\n".into()
    };
    let event = if method == "SUBSCRIBE" {
        "Event: presence\r\n"
    } else {
        ""
    };
    Message::parse(Bytes::from(format!(
        "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/{t} 127.0.0.1:{port};branch=z9hG4bK{call}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{from}@contoso.com>;tag={from}{call}\r\nTo: <{to}>\r\n\
         Call-ID: {call}\r\nCSeq: {cseq} {method}\r\nContact: <sip:{from}@127.0.0.1:{port};transport=tcp>\r\n\
         {event}{ctype}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )))
    .unwrap()
}

fn register(user: &str, cseq: u32, auth: Option<&str>, peer: Peer) -> Message {
    let m = request(
        "REGISTER",
        "sip:contoso.com",
        user,
        &format!("sip:{user}@contoso.com"),
        &format!("reg-{user}"),
        cseq,
        peer,
    );
    let m = m.with_header("Expires", "3600").unwrap();
    match auth {
        Some(a) => m.with_header("Authorization", a).unwrap(),
        None => m,
    }
}

fn challenge(m: &Message, header: HeaderName, scheme: &str) -> String {
    m.auth(header)
        .flatten()
        .find(|a| a.scheme_name == Some(scheme))
        .unwrap_or_else(|| panic!("no {scheme} challenge in {m}"))
        .to_string()
}

/// The NTLM sign-in of [MS-SIPAE] 3.2 over `peer`: the client's association.
fn ntlm_sign_in(s: &mut Server, user: &str, peer: Peer) -> SecurityAssociation {
    // A new sign-in continues the CSeq of the registration's Call-ID (RFC 3261 §10.3 step 7).
    thread_local!(static CSEQ: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let base = CSEQ.with(|c| {
        let b = c.get();
        c.set(b + 3);
        b
    });
    let mut client = NtlmSipClient::new(
        Credentials::new(user, "CONTOSO", &format!("{user}-pw")),
        "PC",
    );
    let r = s.refused(&register(user, base + 1, None, peer), peer);
    let first = client
        .first_credentials(&challenge(&r, HeaderName::WwwAuthenticate, "NTLM"))
        .unwrap();
    let r = s.refused(&register(user, base + 2, Some(&first), peer), peer);
    assert_eq!(r.status(), Some(401));
    let (third, mut sa) = client
        .answer(
            &challenge(&r, HeaderName::WwwAuthenticate, "NTLM"),
            [1; 8],
            [2; 16],
        )
        .unwrap();
    let ok = s.refused(&register(user, base + 3, Some(&third), peer), peer);
    assert_eq!(ok.status(), Some(200), "{ok}");
    sa.verify(&ok).expect("the 200 is signed");
    sa
}

/// `m` with `Proxy-Authorization` for challenge `ch`: `user`'s Digest answer with `password`
/// for the Request-URI `uri` (the message's own unless a test wants another) and count `nc`.
fn digest(m: &Message, ch: &Challenge, user: &str, password: &str, uri: &str, nc: u32) -> Message {
    let v = ch.authorization(user, password, m.method().unwrap(), uri, "cn", nc);
    m.with_header("Proxy-Authorization", &v).unwrap()
}

fn signed(sa: &mut SecurityAssociation, m: &Message) -> Message {
    let v = sa.sign(m, 0x1234_5678).unwrap();
    m.with_header("Authorization", &v).unwrap()
}

#[test]
fn the_register_200_says_what_ocs_2007_says() {
    let mut s = Server::new();
    let peer = tcp(1, 40001);
    let mut client = NtlmSipClient::new(Credentials::new("alice", "CONTOSO", "alice-pw"), "PC");
    let r = s.refused(&register("alice", 1, None, peer), peer);
    let first = client
        .first_credentials(&challenge(&r, HeaderName::WwwAuthenticate, "NTLM"))
        .unwrap();
    let r = s.refused(&register("alice", 2, Some(&first), peer), peer);
    // The CHALLENGE_MESSAGE's flags: what a connection-less client (pidgin-sipe) requires.
    let ch = ocs_stack::sip::sipae::SecurityHeader::from_auth(
        &ocs_stack::sip::headers::Auth::parse(&challenge(&r, HeaderName::WwwAuthenticate, "NTLM"))
            .unwrap(),
    )
    .unwrap();
    let token = ocs_stack::sip::ntlm::ChallengeMessage::parse(&ch.gssapi_data.unwrap()).unwrap();
    use ocs_stack::sip::ntlm::flags;
    for f in [
        flags::SIGN,
        flags::DATAGRAM,
        flags::IDENTIFY,
        flags::KEY_EXCH,
    ] {
        assert_ne!(token.flags & f, 0, "flag {f:#x}");
    }
    let (third, _) = client
        .answer(
            &challenge(&r, HeaderName::WwwAuthenticate, "NTLM"),
            [1; 8],
            [2; 16],
        )
        .unwrap();
    let ok = s.refused(&register("alice", 3, Some(&third), peer), peer);
    assert_eq!(ok.header(HeaderName::Expires).unwrap().value, "3600");
    let supported: Vec<&str> = ok
        .headers()
        .filter(|h| h.name.eq_ignore_ascii_case("Supported"))
        .map(|h| h.value)
        .collect();
    assert!(
        supported.contains(&"msrtc-event-categories"),
        "{supported:?}"
    );
    assert!(supported.contains(&"adhoclist"), "{supported:?}");
    let events = ok.header_by_name("Allow-Events").unwrap().value;
    assert!(
        !events.contains(' '),
        "no spaces: sipe splits on bare commas"
    );
    assert!(events.split(',').any(|e| e == "conference"));
}

#[test]
fn requests_without_credentials_act_as_nobody() {
    let mut s = Server::new();
    let bob = tcp(2, 40002);
    ntlm_sign_in(&mut s, "bob", bob);
    let attacker = udp(6666);
    let bob_uri = "sip:bob@contoso.com";
    let factory = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
    let focus = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:ABCD1234";
    let chat = "sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:ABCD1234";
    for (i, (method, ruri)) in [
        ("MESSAGE", bob_uri),
        ("INVITE", bob_uri),
        ("SUBSCRIBE", bob_uri),
        ("SERVICE", factory),
        ("INVITE", focus),
        ("INVITE", chat),
        ("MESSAGE", "sip:victim@192.0.2.9:5070"),
    ]
    .into_iter()
    .enumerate()
    {
        let m = request(
            method,
            ruri,
            "alice",
            ruri,
            &format!("forged{i}"),
            1,
            attacker,
        );
        let r = s.refused(&m, attacker);
        assert_eq!(r.status(), Some(407), "{method} {ruri}: {r}");
        assert!(r.header(HeaderName::ProxyAuthenticate).is_some());
    }
}

#[test]
fn a_user_cannot_speak_as_another() {
    let mut s = Server::new();
    ntlm_sign_in(&mut s, "bob", tcp(2, 40002));
    // Carol with her own Digest credentials, but From alice.
    let carol = udp(7000);
    let probe = request(
        "MESSAGE",
        "sip:bob@contoso.com",
        "carol",
        "sip:bob@contoso.com",
        "p",
        1,
        carol,
    );
    let r = s.refused(&probe, carol);
    let ch = Challenge::from_auth(
        &r.auth(HeaderName::ProxyAuthenticate)
            .next()
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let forged = request(
        "MESSAGE",
        "sip:bob@contoso.com",
        "alice",
        "sip:bob@contoso.com",
        "f",
        1,
        carol,
    );
    let r = s.refused(
        &digest(&forged, &ch, "carol", "carol-pw", "sip:bob@contoso.com", 1),
        carol,
    );
    assert_eq!(r.status(), Some(403));
    // Over an NTLM association the same.
    let conn = tcp(3, 40003);
    let mut sa = ntlm_sign_in(&mut s, "carol", conn);
    let forged = request(
        "MESSAGE",
        "sip:bob@contoso.com",
        "alice",
        "sip:bob@contoso.com",
        "g",
        1,
        conn,
    );
    let r = s.refused(&signed(&mut sa, &forged), conn);
    assert_eq!(r.status(), Some(403));
    // The focus factory of alice, asked by carol as herself: a request of carol's (the
    // focus decides what she may do); as alice: refused before it.
    let as_alice = request(
        "SERVICE",
        "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory",
        "alice",
        "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory",
        "h",
        1,
        conn,
    );
    assert_eq!(
        s.refused(&signed(&mut sa, &as_alice), conn).status(),
        Some(403)
    );
}

#[test]
fn ntlm_clients_sign_every_request_and_everything_to_them_is_signed() {
    let mut s = Server::new();
    let (alice, bob) = (tcp(1, 40001), tcp(2, 40002));
    let mut sa_a = ntlm_sign_in(&mut s, "alice", alice);
    let mut sa_b = ntlm_sign_in(&mut s, "bob", bob);
    let im = |call: &str, cseq| {
        request(
            "MESSAGE",
            "sip:bob@contoso.com",
            "alice",
            "sip:bob@contoso.com",
            call,
            cseq,
            alice,
        )
    };
    // Unsigned: a fresh [MS-SIPAE] challenge, nothing forwarded.
    let r = s.refused(&im("m1", 1), alice);
    assert_eq!(r.status(), Some(401));
    assert!(challenge(&r, HeaderName::WwwAuthenticate, "NTLM").contains("targetname"));
    // Tampered after signing: the same.
    let good = signed(&mut sa_a, &im("m2", 1));
    let tampered = Message::parse(Bytes::from(
        good.to_string()
            .replace("CSeq: 1 MESSAGE", "CSeq: 9 MESSAGE"),
    ))
    .unwrap();
    assert_eq!(s.refused(&tampered, alice).status(), Some(401));
    // Alice's signature on another connection: not that connection's association.
    let elsewhere = tcp(9, 40009);
    assert_eq!(
        s.refused(&signed(&mut sa_a, &im("m3", 1)), elsewhere)
            .status(),
        Some(401)
    );
    // Signed: forwarded to bob without alice's credentials, signed for bob.
    let ok_msg = signed(&mut sa_a, &im("m4", 1));
    let out = s.send(&ok_msg, alice);
    assert_eq!(out.len(), 1, "{out:?}");
    let (to, fwd) = &out[0];
    assert_eq!(*to, bob);
    assert!(
        fwd.header(HeaderName::Authorization).is_none(),
        "alice's signature removed"
    );
    sa_b.verify(fwd).expect("signed with bob's association");
    // A replay of it (new branch, same cnum): refused.
    let replay = Message::parse(Bytes::from(
        ok_msg
            .to_string()
            .replace("branch=z9hG4bKm41", "branch=z9hG4bKm4r"),
    ))
    .unwrap();
    assert_eq!(s.refused(&replay, alice).status(), Some(401));
    // Bob's answer unsigned: dropped. Signed: to alice, signed for her.
    let answer = fwd.response(200, "OK", "bobtag").build().unwrap();
    assert!(
        s.send(&answer, bob).is_empty(),
        "an unsigned answer is dropped"
    );
    let out = s.send(&signed(&mut sa_b, &answer), bob);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, alice);
    assert!(out[0].1.header(HeaderName::Authorization).is_none());
    sa_a.verify(&out[0].1)
        .expect("signed with alice's association");
    assert_eq!(out[0].1.status(), Some(200));
    assert_eq!(s.e.associations(), 2);
    // The connection closes: its association ends with it.
    s.e.closed(1);
    assert_eq!(s.e.associations(), 1);
}

#[test]
fn digest_guessing_replay_and_foreign_uris_are_refused() {
    let mut s = Server::new();
    ntlm_sign_in(&mut s, "bob", tcp(2, 40002));
    let carol = udp(7001);
    let im = |call: &str, cseq: u32| {
        request(
            "MESSAGE",
            "sip:bob@contoso.com",
            "carol",
            "sip:bob@contoso.com",
            call,
            cseq,
            carol,
        )
    };
    let fresh = |s: &mut Server, call: &str| {
        let r = s.refused(&im(call, 1), carol);
        assert_eq!(r.status(), Some(407));
        Challenge::from_auth(
            &r.auth(HeaderName::ProxyAuthenticate)
                .next()
                .unwrap()
                .unwrap(),
        )
        .unwrap()
    };
    let im = |call: &str| im(call, 2);
    // `uri` for another target.
    let ch = fresh(&mut s, "u0");
    assert_eq!(
        s.refused(
            &digest(
                &im("u1"),
                &ch,
                "carol",
                "carol-pw",
                "sip:alice@contoso.com",
                1
            ),
            carol
        )
        .status(),
        Some(403)
    );
    // RFC 2069 (no qop): replayable, refused.
    let mut old = fresh(&mut s, "q0");
    old.qop_auth = false;
    assert_eq!(
        s.refused(
            &digest(
                &im("q1"),
                &old,
                "carol",
                "carol-pw",
                "sip:bob@contoso.com",
                1
            ),
            carol
        )
        .status(),
        Some(403)
    );
    // Guessing: wrong passwords, each nonce spent after three; after ten failures in the
    // minute even the right password is refused, with Retry-After.
    let mut failures = 2; // the two above
    let mut last = None;
    while failures < 10 {
        let ch = fresh(&mut s, &format!("g{failures}"));
        for nc in 1..=3 {
            if failures == 10 {
                break;
            }
            let v = ch.authorization("carol", "guess", "MESSAGE", "sip:bob@contoso.com", "cn", nc);
            let r = s.refused(
                &im(&format!("g{failures}x"))
                    .with_header("Proxy-Authorization", &v)
                    .unwrap(),
                carol,
            );
            assert_eq!(r.status(), Some(403));
            failures += 1;
        }
        last = Some(ch);
    }
    let ch = last.unwrap();
    let r = s.refused(
        &digest(
            &im("right"),
            &ch,
            "carol",
            "carol-pw",
            "sip:bob@contoso.com",
            9,
        ),
        carol,
    );
    assert_eq!(
        r.start_line(),
        ocs_stack::sip::StartLine::Response {
            code: 403,
            reason: "Too Many Failed Attempts"
        }
    );
    assert!(r.header_by_name("Retry-After").is_some());
    // From another address the user is throttled too (per user, not only per source).
    let elsewhere = Peer::Udp(SocketAddr::from(([127, 0, 0, 2], 7002)));
    let r = s.refused(
        &digest(
            &im("right2"),
            &ch,
            "carol",
            "carol-pw",
            "sip:bob@contoso.com",
            10,
        ),
        elsewhere,
    );
    assert_eq!(r.status(), Some(403));
    assert!(r.header_by_name("Retry-After").is_some());
}

#[test]
fn stray_responses_are_not_relayed_by_their_via() {
    let mut s = Server::new();
    let stray = Message::parse(Bytes::from_static(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKnotours\r\n\
          Via: SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bKvictim\r\nFrom: <sip:a@contoso.com>;tag=1\r\n\
          To: <sip:b@contoso.com>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    ))
    .unwrap();
    assert!(s.send(&stray, udp(6667)).is_empty());
}

#[test]
fn an_expired_association_is_renegotiated() {
    let mut s = Server::with(std::time::Duration::from_millis(300));
    let (alice, bob) = (tcp(1, 40001), tcp(2, 40002));
    let mut sa = ntlm_sign_in(&mut s, "alice", alice);
    ntlm_sign_in(&mut s, "bob", bob);
    std::thread::sleep(std::time::Duration::from_millis(400));
    let im = |call: &str| {
        request(
            "MESSAGE",
            "sip:bob@contoso.com",
            "alice",
            "sip:bob@contoso.com",
            call,
            1,
            alice,
        )
    };
    // Past its lifetime a correctly signed request is challenged, and the association is gone.
    let r = s.refused(&signed(&mut sa, &im("e1")), alice);
    assert_eq!(r.status(), Some(401));
    assert!(challenge(&r, HeaderName::WwwAuthenticate, "NTLM").contains("targetname"));
    assert_eq!(s.e.associations(), 1, "only bob's is left");
    // A new handshake makes a new one, and requests go through again.
    let mut sa = ntlm_sign_in(&mut s, "alice", alice);
    let out = s.send(&signed(&mut sa, &im("e2")), alice);
    assert!(
        out.iter()
            .any(|(p, m)| *p == bob && m.method() == Some("MESSAGE"))
    );
}

#[test]
fn requests_without_credentials_are_rate_limited_per_source() {
    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
        auth: vec!["Digest".into()],
        unauthenticated_per_second: 3,
        ..EngineConfig::default()
    };
    let mut s = Server {
        e: Engine::new(cfg, [8; 32], Instant::now()),
        io: Recorder::default(),
    };
    let attacker = udp(6000);
    let codes: Vec<u16> = (0..5)
        .map(|i| {
            let m = request(
                "MESSAGE",
                "sip:bob@contoso.com",
                "carol",
                "sip:bob@contoso.com",
                &format!("r{i}"),
                1,
                attacker,
            );
            s.refused(&m, attacker).status().unwrap()
        })
        .collect();
    assert_eq!(codes, [407, 407, 407, 503, 503]);
    // Another source is not affected.
    let other = Peer::Udp(SocketAddr::from(([127, 0, 0, 9], 6000)));
    let m = request(
        "MESSAGE",
        "sip:bob@contoso.com",
        "carol",
        "sip:bob@contoso.com",
        "o1",
        1,
        other,
    );
    assert_eq!(s.refused(&m, other).status(), Some(407));
}

#[test]
fn a_datagram_with_a_content_length_past_its_end_is_answered_400() {
    let mut s = Server::new();
    let peer = udp(6100);
    let data = b"MESSAGE sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6100;branch=z9hG4bKbig\r\n\
        Max-Forwards: 70\r\nFrom: <sip:carol@contoso.com>;tag=b1\r\nTo: <sip:bob@contoso.com>\r\n\
        Call-ID: big\r\nCSeq: 1 MESSAGE\r\nContent-Length: 99999\r\n\r\nshort";
    assert!(
        Message::parse(Bytes::from_static(data)).is_err(),
        "not a message as it is"
    );
    s.e.malformed_datagram(data, peer);
    s.e.pump(Instant::now(), &mut s.io);
    let out = std::mem::take(&mut s.io.sent);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].peer, peer);
    let r = Message::parse(out[0].bytes.clone()).unwrap();
    assert_eq!(r.status(), Some(400));
    assert_eq!(r.call_id().unwrap(), "big");
    // Junk and keep-alives get nothing.
    s.e.malformed_datagram(b"\r\n\r\n", peer);
    s.e.malformed_datagram(b"\x16\x03\x01 not SIP\r\n\r\n", peer);
    s.e.pump(Instant::now(), &mut s.io);
    assert!(s.io.sent.is_empty());
}

#[test]
fn a_flood_without_credentials_leaves_no_state_and_stray_acks_go_nowhere() {
    let mut s = Server::new();
    ntlm_sign_in(&mut s, "bob", tcp(2, 40002));
    let before = s.e.transactions();
    let attacker = udp(6200);
    for i in 0..500 {
        let m = request(
            "INVITE",
            "sip:bob@contoso.com",
            "carol",
            "sip:bob@contoso.com",
            &format!("fl{i}"),
            1,
            attacker,
        );
        let r = s.refused(&m, attacker);
        assert_eq!(r.status(), Some(407));
    }
    assert_eq!(s.e.transactions(), before, "challenges are stateless");
    // The ACK of a challenged INVITE, and an ACK out of nowhere: nothing reaches bob.
    let ack = Message::parse(Bytes::from_static(
        b"ACK sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:6200;branch=z9hG4bKfl01\r\n\
          Max-Forwards: 70\r\nFrom: <sip:carol@contoso.com>;tag=carolfl0\r\nTo: <sip:bob@contoso.com>;tag=x\r\n\
          Call-ID: fl0\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
    ))
    .unwrap();
    assert!(s.send(&ack, attacker).is_empty());
}

#[test]
fn answers_do_not_tell_which_users_exist() {
    let mut s = Server::new();
    ntlm_sign_in(&mut s, "bob", tcp(2, 40002));
    let peer = udp(6300);
    // The same shape for a user that exists and one that does not: a challenge, before
    // anything is looked up.
    let shape = |m: &Message| {
        let mut names: Vec<String> = m.headers().map(|h| h.name.to_ascii_lowercase()).collect();
        names.sort();
        (m.status(), names)
    };
    let known = request(
        "OPTIONS",
        "sip:bob@contoso.com",
        "x",
        "sip:bob@contoso.com",
        "k",
        1,
        peer,
    );
    let unknown = request(
        "OPTIONS",
        "sip:nobody@contoso.com",
        "x",
        "sip:nobody@contoso.com",
        "u",
        1,
        peer,
    );
    let a = s.refused(&known, peer);
    let b = s.refused(&unknown, peer);
    assert_eq!(shape(&a), shape(&b));
    assert_eq!(a.status(), Some(407));
    // REGISTER with a wrong password and REGISTER of a user that does not exist: the same 403.
    let reg = |user: &str, auth: Option<&str>, cseq| register(user, cseq, auth, peer);
    let r = s.refused(&reg("carol", None, 1), peer);
    let ch = Challenge::from_auth(
        &r.auth(HeaderName::WwwAuthenticate)
            .find(|a| a.as_ref().is_ok_and(|a| a.scheme_name == Some("Digest")))
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    let wrong = ch.authorization("carol", "wrong", "REGISTER", "sip:contoso.com", "c", 1);
    let ghost = ch.authorization("ghost", "wrong", "REGISTER", "sip:contoso.com", "c", 2);
    let a = s.refused(&reg("carol", Some(&wrong), 2), peer);
    let b = s.refused(&reg("ghost", Some(&ghost), 1), peer);
    assert_eq!((a.status(), a.start_line()), (Some(403), b.start_line()));
    assert_eq!(
        a.header(HeaderName::Warning).map(|h| h.value),
        b.header(HeaderName::Warning).map(|h| h.value)
    );
}
