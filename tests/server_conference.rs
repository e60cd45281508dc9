//! The reference server's conferencing without sockets: in-band provisioning, the focus
//! factory (SERVICE), joining the focus (INVITE), conference-state subscriptions with
//! BENOTIFY, in-conference commands (INFO) that go to the MCUs, the IM MCU relaying chat, and
//! deletion — every C3P body written and parsed by `ocs-cccp`, the MCUs' C3P served by the
//! engine as the HTTP listener hands it over.

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use ocs_stack::cccp::info::{ConferenceDescription, ConferenceInfo, Endpoint, Role, User};
use ocs_stack::cccp::message::{Body, Code, Keys, Request, Response};
use ocs_stack::server::sip::{
    ClearPasswords, Engine, EngineConfig, MediaOp, Outbound, Peer, Recorder, StoreOp, WebConfOp,
};
use ocs_stack::sip::{HeaderName, Message};

struct Users;
impl ClearPasswords for Users {
    fn password(&self, _: &str) -> Option<String> {
        None
    }
}

const FACTORY: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DESIGN01";
const CHAT: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:DESIGN01";

fn engine() -> Engine {
    engine_with(ocs_stack::server::mcu::SrtpPolicy::Required)
}

fn engine_with(srtp: ocs_stack::server::mcu::SrtpPolicy) -> Engine {
    let cfg = EngineConfig {
        media_srtp: srtp,
        domain: "contoso.com".into(),
        udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
        auth: Vec::new(),
        abs_url: Some("http://127.0.0.1:8080/abs/handler/".into()),
        media_rtp: Some("127.0.0.1:40000".parse().unwrap()),
        media_rtcp: Some("127.0.0.1:40001".parse().unwrap()),
        psom_addr: Some("127.0.0.1:8057".parse().unwrap()),
        ..EngineConfig::default()
    };
    Engine::new(cfg, [9; 32], Instant::now())
}

fn peer(port: u16) -> Peer {
    Peer::Udp(SocketAddr::from(([127, 0, 0, 1], port)))
}

fn port_of(user: &str) -> u16 {
    match user {
        "alice" => 6001,
        "bob" => 6002,
        _ => 6003,
    }
}

/// A client's request. `to_tag` makes it in-dialog.
struct Req<'a> {
    method: &'a str,
    uri: &'a str,
    user: &'a str,
    call: &'a str,
    cseq: u32,
    to_tag: Option<&'a str>,
    headers: &'a str,
    body: Option<(&'a str, Vec<u8>)>,
}

impl Req<'_> {
    fn message(&self) -> Message {
        let port = port_of(self.user);
        let to = match self.to_tag {
            Some(t) => format!("<{}>;tag={t}", self.uri),
            None => format!("<{}>", self.uri),
        };
        let (ct, body) = match &self.body {
            Some((ct, b)) => (format!("Content-Type: {ct}\r\n"), b.clone()),
            None => (String::new(), Vec::new()),
        };
        let mut head = format!(
            "{m} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:{port};branch=z9hG4bK{call}{cseq}{m}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:{user}@contoso.com>;tag=t{user}\r\nTo: {to}\r\n\
             Call-ID: {call}\r\nCSeq: {cseq} {m}\r\nContact: <sip:{user}@127.0.0.1:{port}>\r\n{h}{ct}\
             Content-Length: {len}\r\n\r\n",
            m = self.method,
            uri = self.uri,
            user = self.user,
            call = self.call,
            cseq = self.cseq,
            h = self.headers,
            len = body.len(),
        )
        .into_bytes();
        head.extend_from_slice(&body);
        Message::parse(Bytes::from(head)).unwrap()
    }
}

fn c3p(from: &str, to: &str, body: Body, mcu: Option<&str>) -> Option<(&'static str, Vec<u8>)> {
    let mut r = Request::new(1, from, to, body);
    r.command.mcu_uri = mcu.map(Into::into);
    Some(("application/cccp+xml", r.to_bytes().to_vec()))
}

struct World {
    e: Engine,
    t: Instant,
    w: SystemTime,
    /// What the engine put out (the store commits at once unless `defer_commits`).
    io: Recorder,
}

impl World {
    fn new() -> World {
        World::with(engine())
    }

    fn with(e: Engine) -> World {
        World {
            e,
            t: Instant::now(),
            w: SystemTime::now(),
            io: Recorder::default(),
        }
    }

    /// Alice's conference DESIGN01, created through her focus factory.
    fn create(&mut self) {
        let info = ConferenceInfo {
            description: Some(ConferenceDescription {
                conference_id: Some("DESIGN01".into()),
                ..ConferenceDescription::default()
            }),
            ..ConferenceInfo::default()
        };
        let r = self.service(
            "svc-create",
            Body::AddConference {
                info: Some(Box::new(info)),
            },
        );
        assert_eq!(r.code, Code::Success);
    }

    /// A C3P request of Alice to her focus factory; its C3P answer.
    fn service(&mut self, call: &str, body: Body) -> Response {
        let sent = self.send(&Req {
            method: "SERVICE",
            uri: FACTORY,
            user: "alice",
            call,
            cseq: 1,
            to_tag: None,
            headers: "",
            body: c3p("sip:alice@contoso.com", FACTORY, body, None),
        });
        c3p_response(&response_to(&sent, "alice"))
    }

    /// `user` joins the focus (call `<user>focus`); the focus dialog's tag.
    fn join_focus(&mut self, user: &str) -> String {
        let call = format!("{user}focus");
        let sent = self.send(&Req {
            method: "INVITE",
            uri: FOCUS,
            user,
            call: &call,
            cseq: 1,
            to_tag: None,
            headers: "",
            body: c3p(&format!("sip:{user}@contoso.com"), FOCUS, join(user), None),
        });
        to_tag(&response_to(&sent, user))
    }

    /// `user` dials in at an MCU through the focus (INFO, `cseq`); the C3P answer.
    fn dial(&mut self, user: &str, tag: &str, cseq: u32, mcu: &str) -> Response {
        let call = format!("{user}focus");
        let sent = self.send(&Req {
            method: "INFO",
            uri: FOCUS,
            user,
            call: &call,
            cseq,
            to_tag: Some(tag),
            headers: "",
            body: c3p(
                &format!("sip:{user}@contoso.com"),
                FOCUS,
                dial_in(user),
                Some(mcu),
            ),
        });
        c3p_response(&response_to(&sent, user))
    }

    fn send(&mut self, r: &Req<'_>) -> Vec<Outbound> {
        let m = r.message();
        self.e
            .handle(self.t, self.w, m, peer(port_of(r.user)), &Users);
        self.pump()
    }

    /// Drains the engine through the shared pump; everything sent.
    fn pump(&mut self) -> Vec<Outbound> {
        self.e.pump(self.t, &mut self.io);
        std::mem::take(&mut self.io.sent)
    }

    /// The oldest relay change not looked at yet.
    fn media(&mut self) -> Option<MediaOp> {
        self.pump_keep();
        (!self.io.media.is_empty()).then(|| self.io.media.remove(0))
    }

    /// The oldest PSOM service change not looked at yet.
    fn webconf(&mut self) -> Option<WebConfOp> {
        self.pump_keep();
        (!self.io.webconf.is_empty()).then(|| self.io.webconf.remove(0))
    }

    /// The oldest store write not looked at yet.
    fn stored(&mut self) -> Option<(u64, StoreOp)> {
        self.pump_keep();
        (!self.io.stored.is_empty()).then(|| self.io.stored.remove(0))
    }

    /// Drains the engine, keeping what was sent for the next [`World::pump`].
    fn pump_keep(&mut self) {
        let sent = self.pump();
        self.io.sent = sent;
    }
}

fn parse(o: &Outbound) -> Message {
    Message::parse(o.bytes.clone()).unwrap()
}

/// The one message sent to `user`.
fn to(sent: &[Outbound], user: &str) -> Vec<Message> {
    sent.iter()
        .filter(|o| o.peer == peer(port_of(user)))
        .map(parse)
        .collect()
}

fn response_to(sent: &[Outbound], user: &str) -> Message {
    let r: Vec<_> = to(sent, user)
        .into_iter()
        .filter(|m| !m.is_request())
        .collect();
    assert_eq!(r.len(), 1, "{r:#?}");
    r.into_iter().next().unwrap()
}

fn c3p_response(m: &Message) -> Response {
    assert_eq!(
        m.header(HeaderName::ContentType).unwrap().value,
        "application/cccp+xml"
    );
    Response::parse(Bytes::copy_from_slice(m.body())).unwrap()
}

fn to_tag(m: &Message) -> String {
    m.to().unwrap().tag().unwrap().to_owned()
}

/// Applies the conference notifications among what was sent to Alice.
fn watch(t: &mut ocs_stack::cccp::state::Tracker, sent: &[Outbound]) -> usize {
    let mut n = 0;
    for m in to(sent, "alice") {
        if m.is_request()
            && m.header(HeaderName::ContentType)
                .is_some_and(|c| c.value == "application/conference-info+xml")
        {
            t.apply(&ConferenceInfo::parse(Bytes::copy_from_slice(m.body())).unwrap())
                .unwrap();
            n += 1;
        }
    }
    n
}

fn join(user: &str) -> Body {
    Body::AddUser {
        keys: Some(Keys::conference(FOCUS)),
        user: Some(Box::new(User {
            entity: format!("sip:{user}@contoso.com").into(),
            roles: Some(vec![Role::Attendee]),
            endpoints: vec![Endpoint {
                entity: format!("{{{user}-endpoint}}").into(),
                ..Endpoint::default()
            }],
            ..User::default()
        })),
    }
}

fn dial_in(user: &str) -> Body {
    Body::AddUser {
        keys: Some(Keys::conference(FOCUS)),
        user: Some(Box::new(User::new(
            format!("sip:{user}@contoso.com"),
            Role::Attendee,
        ))),
    }
}

#[test]
fn provisioning_gives_the_focus_factory_and_the_address_book() {
    let mut w = World::new();
    let sent = w.send(&Req {
        method: "SUBSCRIBE",
        uri: "sip:alice@contoso.com",
        user: "alice",
        call: "prov",
        cseq: 1,
        to_tag: None,
        headers: "Event: vnd-microsoft-provisioning-v2\r\nAccept: application/vnd-microsoft-roaming-provisioning-v2+xml\r\n",
        body: None,
    });
    let ok = response_to(&sent, "alice");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(ok.expires().unwrap().unwrap(), 0);
    let body = std::str::from_utf8(ok.body()).unwrap();
    assert!(
        body.contains(&format!("<focusFactoryUri>{FACTORY}</focusFactoryUri>")),
        "{body}"
    );
    assert!(body.contains(
        "<absInternalServerUrl>http://127.0.0.1:8080/abs/handler/</absInternalServerUrl>"
    ));
    // Another Accept: 406 ([MS-SIPREGE] 2.2.2.1).
    let sent = w.send(&Req {
        method: "SUBSCRIBE",
        uri: "sip:alice@contoso.com",
        user: "alice",
        call: "prov2",
        cseq: 1,
        to_tag: None,
        headers: "Event: vnd-microsoft-provisioning-v2\r\nAccept: text/plain\r\n",
        body: None,
    });
    assert_eq!(response_to(&sent, "alice").status(), Some(406));
}

#[test]
fn a_conference_from_creation_to_deletion() {
    let mut w = World::new();
    // --- The focus factory: addConference over SERVICE, acknowledged once stored.
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            conference_id: Some("DESIGN01".into()),
            subject: Some("Design review".into()),
            ..ConferenceDescription::default()
        }),
        ..ConferenceInfo::default()
    };
    let add = Req {
        method: "SERVICE",
        uri: FACTORY,
        user: "alice",
        call: "svc",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: c3p(
            "sip:alice@contoso.com",
            FACTORY,
            Body::AddConference {
                info: Some(Box::new(info)),
            },
            None,
        ),
    };
    w.io.defer_commits = true;
    w.e.handle(w.t, w.w, add.message(), peer(6001), &Users);
    assert!(w.pump().is_empty(), "not acknowledged before it is stored");
    let (ticket, op) = w.stored().unwrap();
    let StoreOp::Schedule {
        focus,
        conference: Some(stored),
    } = op
    else {
        panic!("{op:?}")
    };
    assert_eq!(focus, FOCUS);
    assert!(stored.info.contains("Design review"));
    w.io.defer_commits = false;
    w.e.committed(w.t, ticket);
    let sent = w.pump();
    let ok = response_to(&sent, "alice");
    assert_eq!(ok.status(), Some(200));
    let r = c3p_response(&ok);
    assert_eq!(r.code, Code::Success);
    assert_eq!(w.e.conference_count(), 1);

    // --- Bob may not watch a conference he has nothing to do with.
    let sub = |user: &'static str, call: &'static str| Req {
        method: "SUBSCRIBE",
        uri: FOCUS,
        user,
        call,
        cseq: 1,
        to_tag: None,
        headers: "Event: conference\r\nAccept: application/conference-info+xml\r\nSupported: ms-benotify\r\nExpires: 3600\r\n",
        body: None,
    };
    let sent = w.send(&sub("bob", "bobsub"));
    assert_eq!(response_to(&sent, "bob").status(), Some(403));
    // --- Alice subscribes: 200 with BENOTIFY accepted, then the full state.
    let sent = w.send(&sub("alice", "alicesub"));
    let got = to(&sent, "alice");
    assert_eq!(got[0].status(), Some(200), "{got:#?}");
    assert!(
        got[0]
            .values(HeaderName::Supported)
            .any(|(v, _)| v == "ms-benotify")
    );
    assert_eq!(got[1].method(), Some("NOTIFY"));
    let full = ConferenceInfo::parse(Bytes::copy_from_slice(got[1].body())).unwrap();
    assert_eq!(full.version, Some(1));
    assert_eq!(
        full.description.as_ref().unwrap().subject.as_deref(),
        Some("Design review")
    );
    let mut alice_sees = ocs_stack::cccp::state::Tracker::new();
    alice_sees.apply(&full).unwrap();

    // --- Alice and Bob join the focus (INVITE with addUser): 200 with the C3P answer.
    let mut focus_tags = Vec::new();
    for user in ["alice", "bob"] {
        let call = format!("{user}focus");
        let sent = w.send(&Req {
            method: "INVITE",
            uri: FOCUS,
            user,
            call: &call,
            cseq: 1,
            to_tag: None,
            headers: "Supported: ms-sender\r\n",
            body: c3p(&format!("sip:{user}@contoso.com"), FOCUS, join(user), None),
        });
        let ok = response_to(&sent, user);
        assert_eq!(ok.status(), Some(200));
        assert_eq!(
            ok.header(HeaderName::Contact).unwrap().value,
            format!("<{FOCUS}>")
        );
        assert_eq!(c3p_response(&ok).code, Code::Success);
        focus_tags.push(to_tag(&ok));
        // The ACK ends at the focus.
        let ack = Req {
            method: "ACK",
            uri: FOCUS,
            user,
            call: &call,
            cseq: 1,
            to_tag: Some(&focus_tags[focus_tags.len() - 1]),
            headers: "",
            body: None,
        };
        assert!(w.send(&ack).is_empty());
        // The subscriber hears of it: a partial notification, as BENOTIFY.
        let n: Vec<Message> = to(&sent, "alice")
            .into_iter()
            .filter(|m| m.is_request())
            .collect();
        assert_eq!(n.len(), 1, "{n:#?}");
        assert_eq!(n[0].method(), Some("BENOTIFY"));
        let delta = ConferenceInfo::parse(Bytes::copy_from_slice(n[0].body())).unwrap();
        alice_sees.apply(&delta).unwrap();
    }
    assert_eq!(alice_sees.state().unwrap().user_list().len(), 2);

    // --- Both dial in to the IM MCU through the focus (INFO, mcuUri): the focus asks the MCU
    // over "HTTP" (here handed straight over) and answers with the MCU's endpoint.
    for (i, user) in ["alice", "bob"].into_iter().enumerate() {
        let call = format!("{user}focus");
        let sent = w.send(&Req {
            method: "INFO",
            uri: FOCUS,
            user,
            call: &call,
            cseq: 2,
            to_tag: Some(&focus_tags[i]),
            headers: "",
            body: c3p(
                &format!("sip:{user}@contoso.com"),
                FOCUS,
                dial_in(user),
                Some(CHAT),
            ),
        });
        let ok = response_to(&sent, user);
        assert_eq!(ok.status(), Some(200));
        let r = c3p_response(&ok);
        assert_eq!(r.code, Code::Success, "{r:?}");
        assert_eq!(watch(&mut alice_sees, &sent), 1, "the new endpoint is told");
    }
    let state = w.e.conference(FOCUS).unwrap();
    let bob = state.user("sip:bob@contoso.com").unwrap();
    assert!(
        bob.endpoints
            .iter()
            .any(|e| e.session_type.as_deref() == Some("chat")),
        "the chat endpoint is in the state: {bob:?}"
    );

    // --- Chat: both INVITE the IM MCU; Carol, not added there, is refused.
    let mut chat_tags = Vec::new();
    for user in ["alice", "bob"] {
        let call = format!("{user}chat");
        let sent = w.send(&Req {
            method: "INVITE",
            uri: CHAT,
            user,
            call: &call,
            cseq: 1,
            to_tag: None,
            headers: "Supported: ms-sender\r\n",
            body: Some((
                "application/sdp",
                b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\n".to_vec(),
            )),
        });
        let ok = response_to(&sent, user);
        assert_eq!(ok.status(), Some(200));
        assert!(
            std::str::from_utf8(ok.body())
                .unwrap()
                .contains("m=message")
        );
        chat_tags.push(to_tag(&ok));
    }
    let sent = w.send(&Req {
        method: "INVITE",
        uri: CHAT,
        user: "carol",
        call: "carolchat",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: None,
    });
    assert_eq!(response_to(&sent, "carol").status(), Some(403));
    // Alice writes; Bob gets it from the MCU with Ms-Sender; Alice gets her 200 only.
    let sent = w.send(&Req {
        method: "MESSAGE",
        uri: CHAT,
        user: "alice",
        call: "alicechat",
        cseq: 2,
        to_tag: Some(&chat_tags[0]),
        headers: "",
        body: Some(("text/plain", b"Shall we start?".to_vec())),
    });
    assert_eq!(response_to(&sent, "alice").status(), Some(200));
    let relayed = to(&sent, "bob");
    assert_eq!(relayed.len(), 1);
    assert_eq!(relayed[0].method(), Some("MESSAGE"));
    assert_eq!(&relayed[0].body()[..], b"Shall we start?");
    assert_eq!(
        relayed[0].header_by_name("Ms-Sender").unwrap().value,
        "<sip:alice@contoso.com>"
    );
    assert_eq!(relayed[0].call_id().unwrap(), "bobchat", "in Bob's session");
    assert_eq!(
        relayed[0].from().unwrap().tag(),
        Some(chat_tags[1].as_str())
    );

    // --- A BYE that knows Bob's Call-ID but not his dialog's tags ends nothing (#18).
    let sent = w.send(&Req {
        method: "BYE",
        uri: FOCUS,
        user: "bob",
        call: "bobfocus",
        cseq: 2,
        to_tag: Some("not-the-focus-tag"),
        headers: "",
        body: None,
    });
    assert_eq!(response_to(&sent, "bob").status(), Some(481));
    assert!(
        w.e.conference(FOCUS)
            .unwrap()
            .user("sip:bob@contoso.com")
            .is_some(),
        "bob is still in the conference"
    );

    // --- Bob leaves (BYE to the focus): Alice's subscription hears of it.
    let sent = w.send(&Req {
        method: "BYE",
        uri: FOCUS,
        user: "bob",
        call: "bobfocus",
        cseq: 3,
        to_tag: Some(&focus_tags[1]),
        headers: "",
        body: None,
    });
    assert_eq!(response_to(&sent, "bob").status(), Some(200));
    assert_eq!(watch(&mut alice_sees, &sent), 1);
    assert!(
        alice_sees
            .state()
            .unwrap()
            .user("sip:bob@contoso.com")
            .is_none()
    );

    // --- Alice deletes it: forgotten by the store, the subscription ends, the chat session
    // gets a BYE from the MCU.
    let del = Req {
        method: "SERVICE",
        uri: FACTORY,
        user: "alice",
        call: "svc2",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: c3p(
            "sip:alice@contoso.com",
            FACTORY,
            Body::DeleteConference {
                keys: Some(Keys::conference(FOCUS)),
                info: None,
            },
            None,
        ),
    };
    w.io.defer_commits = true;
    w.e.handle(w.t, w.w, del.message(), peer(6001), &Users);
    let (ticket, op) = w.stored().unwrap();
    assert!(matches!(
        op,
        StoreOp::Schedule {
            conference: None,
            ..
        }
    ));
    w.io.defer_commits = false;
    w.e.committed(w.t, ticket);
    let sent = w.pump();
    let alice = to(&sent, "alice");
    assert!(alice.iter().any(|m| m.status() == Some(200)));
    let last = alice
        .iter()
        .find(|m| m.method() == Some("NOTIFY"))
        .expect("the terminating NOTIFY");
    assert!(
        last.header_by_name("Subscription-State")
            .unwrap()
            .value
            .starts_with("terminated")
    );
    assert!(
        alice
            .iter()
            .any(|m| m.method() == Some("BYE") && m.call_id().unwrap() == "alicechat"),
        "{alice:#?}"
    );
    assert_eq!(w.e.conference_count(), 0);
}

#[test]
fn the_focus_factory_answers_provisioning_commands() {
    let mut w = World::new();
    let service = |user: &'static str, call: &'static str, body: Body| Req {
        method: "SERVICE",
        uri: FACTORY,
        user,
        call,
        cseq: 1,
        to_tag: None,
        headers: "",
        body: c3p(&format!("sip:{user}@contoso.com"), FACTORY, body, None),
    };
    let sent = w.send(&service(
        "alice",
        "types",
        Body::GetAvailableMcuTypes { mcu_types: None },
    ));
    let r = c3p_response(&response_to(&sent, "alice"));
    let Body::GetAvailableMcuTypes {
        mcu_types: Some(types),
    } = &r.command.body
    else {
        panic!("{r:?}")
    };
    let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
    assert_eq!(names, ["audio-video", "chat", "meeting"]);
    let sent = w.send(&service(
        "alice",
        "caps",
        Body::GetConferencingCapabilities {
            mcu_types: None,
            pstn_bridging: None,
        },
    ));
    assert_eq!(
        c3p_response(&response_to(&sent, "alice")).code,
        Code::Success
    );
    // Bob creating a conference through Alice's factory: refused, with the diagnostic.
    let sent = w.send(&service(
        "bob",
        "bobsvc",
        Body::AddConference { info: None },
    ));
    let refused = response_to(&sent, "bob");
    assert_eq!(c3p_response(&refused).code, Code::Failure);
    assert!(
        refused
            .header_by_name("ms-diagnostics")
            .unwrap()
            .value
            .starts_with("3014;"),
        "{refused}"
    );
    assert_eq!(w.e.conference_count(), 0);
    // Not C3P: 415.
    let mut not_c3p = service(
        "alice",
        "plain",
        Body::GetAvailableMcuTypes { mcu_types: None },
    );
    not_c3p.body = Some(("text/plain", b"hello".to_vec()));
    assert_eq!(response_to(&w.send(&not_c3p), "alice").status(), Some(415));
}

#[test]
fn the_av_mcu_answers_audio_and_video_with_keys_of_its_own() {
    use ocs_stack::server::sip::MediaOp;
    use ocs_stack::sip::sdp::SessionDescription;
    let mut w = World::new();
    w.create();
    let tag = w.join_focus("alice");
    let av = "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:DESIGN01";
    assert_eq!(w.dial("alice", &tag, 2, av).code, Code::Success);
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
        m=audio 5000 RTP/SAVP 8 0 101\r\na=rtcp:5001\r\n\
        a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n\
        m=video 5002 RTP/SAVP 121\r\na=rtpmap:121 x-rtvc1/90000\r\n\
        a=crypto:3 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^31\r\n\
        m=application 5004 TCP/RTP/AVP 127\r\n";
    let sent = w.send(&Req {
        method: "INVITE",
        uri: av,
        user: "alice",
        call: "av",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: Some(("application/sdp", offer.as_bytes().to_vec())),
    });
    let ok = response_to(&sent, "alice");
    assert_eq!(ok.status(), Some(200));
    let text = std::str::from_utf8(ok.body()).unwrap().to_owned();
    let answer = SessionDescription::parse(&text).unwrap();
    assert_eq!(
        answer.media.len(),
        3,
        "one answer line per offered line\n{text}"
    );
    let (a, v, app) = (&answer.media[0], &answer.media[1], &answer.media[2]);
    assert_eq!((a.media, a.port, a.formats[0]), ("audio", 40000, "8"));
    assert_eq!(a.attribute("rtcp"), Some("40001"));
    assert!(
        a.attribute("crypto")
            .unwrap()
            .starts_with("2 AES_CM_128_HMAC_SHA1_80 inline:")
    );
    assert_eq!((v.media, v.port, v.formats[0]), ("video", 40000, "121"));
    assert_eq!(v.attribute("rtpmap"), Some("121 x-rtvc1/90000"));
    assert!(
        v.attribute("crypto")
            .unwrap()
            .starts_with("3 AES_CM_128_HMAC_SHA1_80 inline:")
    );
    assert_ne!(
        a.attribute("crypto"),
        v.attribute("crypto"),
        "a key per medium"
    );
    assert_eq!((app.media, app.port), ("application", 0), "refused");
    let Some(MediaOp::Join {
        audio, video, user, ..
    }) = w.media()
    else {
        panic!("the relay is told")
    };
    assert_eq!(user, "alice@contoso.com");
    assert_eq!(audio.rtp, "192.0.2.7:5000".parse().unwrap());
    assert_eq!(audio.rtcp, "192.0.2.7:5001".parse().unwrap());
    let video = video.expect("video taken");
    assert_eq!(video.rtp, "192.0.2.7:5002".parse().unwrap());
    assert_eq!(
        video.rtcp,
        "192.0.2.7:5003".parse().unwrap(),
        "RTP port + 1"
    );
    // Leaving takes the leg out of the relay.
    let sent = w.send(&Req {
        method: "BYE",
        uri: av,
        user: "alice",
        call: "av",
        cseq: 2,
        to_tag: Some(&to_tag(&ok)),
        headers: "",
        body: None,
    });
    assert_eq!(response_to(&sent, "alice").status(), Some(200));
    assert!(matches!(w.media(), Some(MediaOp::Leave { .. })));
    // Video alone, or audio the MCU cannot take: 488 with the reason.
    let sent = w.send(&Req {
        method: "INVITE",
        uri: av,
        user: "alice",
        call: "av2",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: Some((
            "application/sdp",
            b"v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n".to_vec(),
        )),
    });
    let refused = response_to(&sent, "alice");
    assert_eq!(refused.status(), Some(488));
    assert!(
        refused
            .header_by_name("Warning")
            .unwrap()
            .value
            .contains("no usable audio")
    );
}

#[test]
fn the_web_conferencing_mcu_hands_out_psom_credentials_and_follows_roles() {
    use ocs_stack::psom::meeting::Role as Web;
    use ocs_stack::server::sip::WebConfOp;
    let mut w = World::new();
    w.create();
    let meeting = "sip:alice@contoso.com;gruu;opaque=app:conf:meeting:id:DESIGN01";
    let mut tags = Vec::new();
    for user in ["alice", "bob"] {
        let tag = w.join_focus(user);
        let r = w.dial(user, &tag, 2, meeting);
        let Body::AddUser { user: Some(u), .. } = &r.command.body else {
            panic!("{r:?}")
        };
        let ep = &u.endpoints[0];
        assert_eq!(
            ep.connection_value("mcu-server-uri").map(|v| v.to_string()),
            Some("psom://127.0.0.1:8057".into()),
            "Mcu-* keys match without case"
        );
        let auth_id = ep.connection_value("sAuthId").unwrap().to_string();
        assert!(auth_id.bytes().all(|b| b.is_ascii_digit()), "{auth_id}");
        assert_eq!(ep.connection_value("sConferenceId").unwrap(), "DESIGN01");
        let Some(WebConfOp::Authorize {
            conference_id,
            auth_id: id,
            user: who,
            role,
            key,
        }) = w.webconf()
        else {
            panic!("the PSOM service is told")
        };
        assert_eq!((conference_id.as_str(), id), ("DESIGN01", auth_id));
        assert_eq!(who, format!("sip:{user}@contoso.com"));
        assert_eq!(
            role,
            if user == "alice" {
                Web::Organizer
            } else {
                Web::Attendee
            }
        );
        use base64::Engine as _;
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(ep.connection_value("sKey").unwrap().as_bytes())
                .unwrap(),
            key
        );
        // The conference state does not show the credentials to everyone.
        let state = w.e.conference(FOCUS).unwrap();
        let mine = state.user(&format!("sip:{user}@contoso.com")).unwrap();
        assert!(mine.endpoints.iter().all(|e| e.connection_info.is_none()));
        tags.push(tag);
    }
    // Alice promotes Bob: the focus tells the meeting MCU, which tells the PSOM service.
    let sent = w.send(&Req {
        method: "INFO",
        uri: FOCUS,
        user: "alice",
        call: "alicefocus",
        cseq: 3,
        to_tag: Some(&tags[0]),
        headers: "",
        body: c3p(
            "sip:alice@contoso.com",
            FOCUS,
            Body::ModifyUserRoles {
                keys: Some(Keys::user(FOCUS, "sip:bob@contoso.com")),
                roles: Some(vec![Role::Presenter]),
            },
            None,
        ),
    });
    assert_eq!(
        c3p_response(&response_to(&sent, "alice")).code,
        Code::Success
    );
    let Some(WebConfOp::SetRole { user, role, .. }) = w.webconf() else {
        panic!("the role reaches the PSOM service")
    };
    assert_eq!(
        (user.as_str(), role),
        ("sip:bob@contoso.com", Web::Presenter)
    );
    // Deleting the conference closes the web conference.
    let r = w.service(
        "svc-del",
        Body::DeleteConference {
            keys: Some(Keys::conference(FOCUS)),
            info: None,
        },
    );
    assert_eq!(r.code, Code::Success);
    assert!(matches!(
        w.webconf(),
        Some(WebConfOp::Close { conference_id }) if conference_id == "DESIGN01"
    ));
}

#[test]
fn a_conference_subscription_runs_out() {
    let mut w = World::new();
    w.create();
    let sent = w.send(&Req {
        method: "SUBSCRIBE",
        uri: FOCUS,
        user: "alice",
        call: "sub",
        cseq: 1,
        to_tag: None,
        headers: "Event: conference\r\nExpires: 60\r\n",
        body: None,
    });
    assert_eq!(response_to(&sent, "alice").expires().unwrap().unwrap(), 60);
    // The engine's next timeout is the subscription's end at the latest.
    let due = w.e.poll_timeout().expect("a deadline");
    assert!(due <= w.t + std::time::Duration::from_secs(60), "{due:?}");
    let later = w.t + std::time::Duration::from_secs(61);
    w.e.handle_timeout(later, w.w, &Users);
    let out: Vec<Message> = w.pump().iter().map(parse).collect();
    // (The unanswered first NOTIFY is retransmitted too: UDP, Timer E.)
    assert!(
        out.iter().any(|m| m.method() == Some("NOTIFY")
            && m.header_by_name("Subscription-State").unwrap().value
                == "terminated;reason=timeout"),
        "the terminating NOTIFY: {out:#?}"
    );
}

/// An MCU configured elsewhere gets the focus's C3P as an `Output::Mcu` (for the runtime to
/// POST); its answer through `mcu_answer` completes the command. Here the remote MCU is a
/// second engine's in-process MCUs, reached through `serve_mcu` as its HTTP listener would.
#[test]
fn a_remote_mcu_gets_c3p_over_http_and_its_answer_completes_the_command() {
    use ocs_stack::cccp::uri::McuType;
    let mcu_host: SocketAddr = "127.0.0.1:4444".parse().unwrap();
    let mut w = World::new();
    w.e = Engine::new(
        EngineConfig {
            domain: "contoso.com".into(),
            udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            auth: Vec::new(),
            remote_mcus: vec![(McuType::Chat, mcu_host)],
            ..EngineConfig::default()
        },
        [9; 32],
        Instant::now(),
    );
    let mut elsewhere = engine();
    // addConference is answered at once; the MCUs are told on the side.
    w.create();
    assert_eq!(
        w.io.mcu.len(),
        1,
        "only the chat MCU is remote: {:?}",
        w.io.mcu
    );
    let call = w.io.mcu.remove(0);
    assert_eq!((call.mcu.clone(), call.addr), (McuType::Chat, mcu_host));
    let answer = elsewhere.serve_mcu(w.t, &call.mcu, &call.body).unwrap();
    assert_eq!(Response::parse(answer.clone()).unwrap().code, Code::Success);
    w.e.mcu_answer(w.t, w.w, call.id, Some(&answer));
    // A dial-in at the chat MCU waits for the remote MCU's answer, which then goes up.
    let tag = w.join_focus("alice");
    let sent = w.send(&Req {
        method: "INFO",
        uri: FOCUS,
        user: "alice",
        call: "alicefocus",
        cseq: 2,
        to_tag: Some(&tag),
        headers: "",
        body: c3p("sip:alice@contoso.com", FOCUS, dial_in("alice"), Some(CHAT)),
    });
    assert!(
        to(&sent, "alice").is_empty(),
        "the answer waits for the remote MCU"
    );
    let call = w.io.mcu.pop().expect("addUser for the remote chat MCU");
    let answer = elsewhere.serve_mcu(w.t, &call.mcu, &call.body).unwrap();
    w.e.mcu_answer(w.t, w.w, call.id, Some(&answer));
    let r = c3p_response(&response_to(&w.pump(), "alice"));
    assert_eq!(r.code, Code::Success, "{r:?}");
    // The remote MCU now admits alice; this server's own chat MCU knows nothing of it.
    let chat = Req {
        method: "INVITE",
        uri: CHAT,
        user: "alice",
        call: "chat",
        cseq: 1,
        to_tag: None,
        headers: "",
        body: None,
    };
    assert_eq!(response_to(&w.send(&chat), "alice").status(), Some(404));
    let answer = elsewhere
        .serve_mcu(w.t, &McuType::Chat, &{
            let q = Request::new(
                9,
                "sip:alice@contoso.com",
                CHAT,
                Body::GetConference {
                    keys: None,
                    info: None,
                },
            );
            q.to_bytes()
        })
        .unwrap();
    assert_eq!(Response::parse(answer).unwrap().code, Code::Success);
}

/// The chat endpoints of the conference as `t` has it: (user, status).
fn chat_endpoints(t: &ocs_stack::cccp::state::Tracker) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = t
        .state()
        .unwrap()
        .user_list()
        .iter()
        .flat_map(|u| {
            u.endpoints
                .iter()
                .filter(|e| e.session_type.as_deref() == Some("chat"))
                .map(|e| {
                    (
                        u.entity.to_string(),
                        e.status
                            .as_ref()
                            .map(|s| format!("{s:?}"))
                            .unwrap_or_default(),
                    )
                })
        })
        .collect();
    v.sort();
    v
}

#[test]
fn members_join_the_im_mcu_directly_and_the_first_message_is_relayed() {
    let mut w = World::new();
    w.create();
    // Alice and Bob join the focus (as pidgin-sipe and Communicator do); Alice watches.
    for user in ["alice", "bob"] {
        w.join_focus(user);
    }
    let sent = w.send(&Req {
        method: "SUBSCRIBE",
        uri: FOCUS,
        user: "alice",
        call: "alicesub",
        cseq: 1,
        to_tag: None,
        headers: "Event: conference\r\nAccept: application/conference-info+xml\r\nExpires: 3600\r\n",
        body: None,
    });
    let mut alice_sees = ocs_stack::cccp::state::Tracker::new();
    assert_eq!(watch(&mut alice_sees, &sent), 1);
    let invite = |user: &'static str, call: &'static str, headers: &'static str| {
        Req {
        method: "INVITE",
        uri: CHAT,
        user,
        call,
        cseq: 1,
        to_tag: None,
        headers,
        body: Some((
            "application/sdp",
            b"v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=session\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=message 5060 sip null\r\n".to_vec(),
        )),
    }
    };
    // --- Alice INVITEs the IM MCU straight away, no dial-in first: accepted, and the state
    // shows her chat endpoint connected.
    let sent = w.send(&invite("alice", "alicechat", "Supported: ms-sender\r\n"));
    let ok = response_to(&sent, "alice");
    assert_eq!(ok.status(), Some(200));
    assert_eq!(
        ok.header(HeaderName::Contact).unwrap().value,
        format!("<{CHAT}>")
    );
    assert!(watch(&mut alice_sees, &sent) >= 1, "the roster is told");
    // The user who changed comes whole (roles and every endpoint), as clients rebuild a
    // user's roster entry from each notification that names him.
    let delta = to(&sent, "alice")
        .into_iter()
        .filter(|m| m.method() == Some("NOTIFY"))
        .map(|m| ConferenceInfo::parse(Bytes::copy_from_slice(m.body())).unwrap())
        .next()
        .unwrap();
    let me = delta.user("sip:alice@contoso.com").unwrap();
    assert_eq!(me.state, ocs_stack::cccp::info::State::Full);
    assert_eq!(me.role(), Some(&Role::Presenter));
    assert_eq!(me.endpoints.len(), 2, "focus and chat: {me:?}");
    assert_eq!(
        chat_endpoints(&alice_sees),
        [("sip:alice@contoso.com".to_owned(), "Connected".to_owned())]
    );
    // --- Bob joins with the conversation's first message in ms-text-format: Alice gets it
    // from the MCU, with Bob as Ms-Sender.
    let sent = w.send(&invite(
        "bob",
        "bobchat",
        "ms-text-format: text/plain; charset=UTF-8;ms-body=SGkgYWxsIOKAlCBCb2I=\r\n",
    ));
    let ok = response_to(&sent, "bob");
    assert_eq!(ok.status(), Some(200));
    let bob_tag = to_tag(&ok);
    let relayed: Vec<Message> = to(&sent, "alice")
        .into_iter()
        .filter(|m| m.method() == Some("MESSAGE"))
        .collect();
    assert_eq!(relayed.len(), 1, "{relayed:#?}");
    assert_eq!(
        std::str::from_utf8(relayed[0].body()).unwrap(),
        "Hi all — Bob"
    );
    assert_eq!(
        relayed[0].header(HeaderName::ContentType).unwrap().value,
        "text/plain; charset=UTF-8"
    );
    assert_eq!(
        relayed[0].header_by_name("Ms-Sender").unwrap().value,
        "<sip:bob@contoso.com>"
    );
    assert_eq!(relayed[0].call_id().unwrap(), "alicechat");
    watch(&mut alice_sees, &sent);
    assert_eq!(chat_endpoints(&alice_sees).len(), 2);
    // --- Carol is no member: the focus refuses her, 403 with its diagnostic.
    let sent = w.send(&invite("carol", "carolchat", ""));
    let no = response_to(&sent, "carol");
    assert_eq!(no.status(), Some(403));
    // --- Bob leaves the MCU (BYE): his chat endpoint leaves the state, he stays a member.
    let sent = w.send(&Req {
        method: "BYE",
        uri: CHAT,
        user: "bob",
        call: "bobchat",
        cseq: 2,
        to_tag: Some(&bob_tag),
        headers: "",
        body: None,
    });
    assert_eq!(response_to(&sent, "bob").status(), Some(200));
    assert!(watch(&mut alice_sees, &sent) >= 1);
    assert_eq!(
        chat_endpoints(&alice_sees),
        [("sip:alice@contoso.com".to_owned(), "Connected".to_owned())]
    );
    assert!(
        w.e.conference(FOCUS)
            .unwrap()
            .user("sip:bob@contoso.com")
            .is_some()
    );
    // He can come back the same way.
    let sent = w.send(&invite("bob", "bobchat2", ""));
    assert_eq!(response_to(&sent, "bob").status(), Some(200));
}

#[test]
fn the_av_mcu_negotiates_srtp_as_its_policy_says() {
    use ocs_stack::server::mcu::SrtpPolicy;
    use ocs_stack::server::sip::MediaOp;
    use ocs_stack::sip::sdp::SessionDescription;
    let av = "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:DESIGN01";
    let crypto = "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n";
    let offer = |proto: &str, with_key: bool| {
        format!(
            "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
             m=audio 5000 {proto} 0\r\n{}",
            if with_key { crypto } else { "" }
        )
    };
    // (policy, offered profile, a=crypto offered) → the answered profile and whether it
    // carries a key of ours; None: 488.
    let cases = [
        (
            SrtpPolicy::Required,
            "RTP/SAVP",
            true,
            Some(("RTP/SAVP", true)),
        ),
        // [MS-SDPEXT] optional SRTP: RTP/AVP with a=crypto, taken as RTP/SAVP.
        (
            SrtpPolicy::Required,
            "RTP/AVP",
            true,
            Some(("RTP/SAVP", true)),
        ),
        (SrtpPolicy::Required, "RTP/AVP", false, None),
        (SrtpPolicy::Required, "RTP/SAVP", false, None),
        (
            SrtpPolicy::Optional,
            "RTP/AVP",
            true,
            Some(("RTP/SAVP", true)),
        ),
        (
            SrtpPolicy::Optional,
            "RTP/AVP",
            false,
            Some(("RTP/AVP", false)),
        ),
        (
            SrtpPolicy::Optional,
            "RTP/SAVP",
            true,
            Some(("RTP/SAVP", true)),
        ),
        // Off: the optional keys declined, SRTP-only offers refused.
        (SrtpPolicy::Off, "RTP/AVP", true, Some(("RTP/AVP", false))),
        (SrtpPolicy::Off, "RTP/AVP", false, Some(("RTP/AVP", false))),
        (SrtpPolicy::Off, "RTP/SAVP", true, None),
    ];
    for (policy, proto, with_key, want) in cases {
        let mut w = World::with(engine_with(policy));
        w.create();
        w.join_focus("alice");
        // A direct join: no dial-in first.
        let sent = w.send(&Req {
            method: "INVITE",
            uri: av,
            user: "alice",
            call: "av",
            cseq: 1,
            to_tag: None,
            headers: "",
            body: Some(("application/sdp", offer(proto, with_key).into_bytes())),
        });
        let r = response_to(&sent, "alice");
        let case = format!("{policy:?} {proto} crypto={with_key}");
        let Some((answered, keyed)) = want else {
            assert_eq!(r.status(), Some(488), "{case}");
            assert!(r.header_by_name("Warning").is_some(), "{case}");
            assert!(w.media().is_none(), "{case}");
            continue;
        };
        assert_eq!(r.status(), Some(200), "{case}");
        let text = std::str::from_utf8(r.body()).unwrap().to_owned();
        let a = &SessionDescription::parse(&text).unwrap().media[0];
        assert_eq!(a.proto, answered, "{case}\n{text}");
        assert_eq!(a.attribute("crypto").is_some(), keyed, "{case}\n{text}");
        let Some(MediaOp::Join { audio, .. }) = w.media() else {
            panic!("{case}: the relay is told")
        };
        assert_eq!(audio.inbound.is_some(), keyed, "{case}");
        assert_eq!(audio.outbound.is_some(), keyed, "{case}");
    }
}

#[test]
fn a_refused_av_offer_leaves_no_endpoint_and_a_reinvite_gets_the_answer_again() {
    use ocs_stack::sip::sdp::SessionDescription;
    let mut w = World::new();
    w.create();
    w.join_focus("alice");
    fn invite<'a>(call: &'a str, sdp: &str, to_tag: Option<&'a str>) -> Req<'a> {
        Req {
            method: "INVITE",
            uri: "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:DESIGN01",
            user: "alice",
            call,
            cseq: if to_tag.is_some() { 2 } else { 1 },
            to_tag,
            headers: "",
            body: Some(("application/sdp", sdp.as_bytes().to_vec())),
        }
    }
    // Plain RTP under the default `required`: 488, and the focus takes her endpoint at the
    // A/V MCU out again.
    let plain = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 5000 RTP/AVP 0\r\n";
    let sent = w.send(&invite("av1", plain, None));
    assert_eq!(response_to(&sent, "alice").status(), Some(488));
    let state = w.e.conference(FOCUS).unwrap();
    let alice = state.user("sip:alice@contoso.com").unwrap();
    assert!(
        !alice
            .endpoints
            .iter()
            .any(|e| e.session_type.as_deref() == Some("audio-video")),
        "{alice:?}"
    );
    // SRTP: accepted; a re-INVITE (ICE's updated offer) gets the same answer, one version on.
    let srtp = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n\
        a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n";
    let sent = w.send(&invite("av2", srtp, None));
    let ok = response_to(&sent, "alice");
    assert_eq!(ok.status(), Some(200));
    let first = String::from_utf8(ok.body().to_vec()).unwrap();
    let tag = to_tag(&ok);
    let sent = w.send(&invite("av2", srtp, Some(&tag)));
    let again = response_to(&sent, "alice");
    assert_eq!(again.status(), Some(200));
    let second = String::from_utf8(again.body().to_vec()).unwrap();
    let (a, b) = (
        SessionDescription::parse(&first).unwrap(),
        SessionDescription::parse(&second).unwrap(),
    );
    let v = |s: &SessionDescription<'_>| s.origin.session_version.parse::<u64>().unwrap();
    assert_eq!(v(&b), v(&a) + 1);
    assert_eq!(
        a.media[0].attribute("crypto"),
        b.media[0].attribute("crypto")
    );
}
