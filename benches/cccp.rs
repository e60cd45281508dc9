//! C3P speed: `ocs-cccp` typed parse and write against the floor of a raw quick-xml event scan
//! of the same bytes, in the same run (no other Rust crate parses C3P).
//!
//! - `add_user`: the C3P body of the shared vector `sipe-format-INVITE-focus-c3p-addUser`
//!   (an Office Communicator join, 660 bytes).
//! - `add_user_dial_in`: an addUser dial-in response with roles, client info, media and the
//!   `connection-info` of the Web Conferencing MCU (about 2.4 KB).
//! - `conference_info_100`: a full conference-info NOTIFY with 100 users, each with a focus
//!   and an A/V endpoint (about 58 KB).
//!
//! Raw scan = `quick_xml::Reader` events to the end, nothing kept. Parse = the typed model
//! (namespaces resolved, every value decoded). Write = the same bytes from the model.

use std::hint::black_box;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::cccp::info::{
    ClientInfo, ConferenceDescription, ConferenceInfo, ConferenceState, ConnectionEntry, Endpoint,
    EndpointStatus, Filter, JoiningMethod, Media, MediaStatus, Role, UriEntry, Uris, User, Users,
};
use ocs_stack::cccp::message::{Body, Code, Keys, Message, Request};

fn vector_add_user() -> Bytes {
    let base = std::env::var_os("OCS_VECTORS").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
        std::path::PathBuf::from,
    );
    let raw =
        std::fs::read(base.join("sip/ms/sipe-format-INVITE-focus-c3p-addUser.SYNTHESIZED.sip"))
            .expect("shared vectors (set OCS_VECTORS)");
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    Bytes::copy_from_slice(&raw[at..])
}

const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16";

fn av_endpoint(i: usize) -> Endpoint {
    Endpoint {
        entity: format!("sip:user{i}@contoso.com;opaque=user:epid:AAAAAAAAAAAAAAAAAAAA{i:03};gruu")
            .into(),
        session_type: Some("audio-video".into()),
        status: Some(EndpointStatus::Connected),
        joining_method: Some(JoiningMethod::DialedIn),
        media: vec![
            Media {
                id: "1".into(),
                media_type: Some("audio".into()),
                label: Some("main-audio".into()),
                src_id: Some(format!("{}", 1_000_000 + i).into()),
                status: Some(MediaStatus::SendRecv),
                ingress_filter: Some(Filter::Unblock),
                ..Media::default()
            },
            Media {
                id: "2".into(),
                media_type: Some("video".into()),
                label: Some("main-video".into()),
                src_id: Some(format!("{}", 2_000_000 + i).into()),
                status: Some(MediaStatus::SendRecv),
                ..Media::default()
            },
        ],
        ..Endpoint::default()
    }
}

fn dial_in_response() -> Bytes {
    let req = Request::new(
        17,
        "sip:bob@contoso.com",
        FOCUS,
        Body::AddUser {
            keys: None,
            user: None,
        },
    );
    let mut ep = av_endpoint(7);
    ep.entity = "{5B0A5C49-4A43-4F8B-9D37-2E1A11A9D0F1}".into();
    ep.connection_info = Some(
        [
            (
                "Mcu-Server-Uri",
                "sip:dataconf.contoso.com:5063;transport=tls",
            ),
            (
                "Mcu-Conference-Uri",
                "sip:alice@contoso.com;gruu;opaque=app:conf:meeting:id:4FNRHN16",
            ),
            ("sAuthId", "3168412907"),
            (
                "serverURL",
                "psom://dataconf.contoso.com:8057/ConferencingServer/4FNRHN16",
            ),
            ("numberOfProxies", "2"),
            ("proxy0", "psom://edge1.contoso.com:443"),
            ("proxy1", "psom://edge2.contoso.com:443"),
            (
                "key",
                "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
            ),
        ]
        .iter()
        .map(|(k, v)| ConnectionEntry {
            key: (*k).into(),
            value: (*v).into(),
        })
        .collect(),
    );
    let user = User {
        entity: "sip:bob@contoso.com".into(),
        display_text: Some("Bob Kelly".into()),
        roles: Some(vec![Role::Presenter]),
        endpoints: vec![ep],
        client_info: Some(ClientInfo {
            lobby_capable: Some(true),
            ..ClientInfo::default()
        }),
        ..User::default()
    };
    let mut resp = req.respond(
        Code::Success,
        Body::AddUser {
            keys: Some(Keys::conference(
                "sip:alice@contoso.com;gruu;opaque=app:conf:meeting:id:4FNRHN16",
            )),
            user: Some(Box::new(user)),
        },
    );
    resp.command.mcu_uri =
        Some("sip:alice@contoso.com;gruu;opaque=app:conf:meeting:id:4FNRHN16".into());
    resp.to_bytes()
}

fn conference_info_100() -> Bytes {
    let users: Vec<User> = (0..100)
        .map(|i| User {
            entity: format!("sip:user{i}@contoso.com").into(),
            display_text: Some(format!("User Number {i}").into()),
            roles: Some(vec![if i == 0 {
                Role::Presenter
            } else {
                Role::Attendee
            }]),
            endpoints: vec![
                Endpoint {
                    entity: format!("{{5B0A5C49-4A43-4F8B-9D37-2E1A11A9{i:04}}}").into(),
                    session_type: Some("focus".into()),
                    status: Some(EndpointStatus::Connected),
                    joining_method: Some(JoiningMethod::DialedIn),
                    ..Endpoint::default()
                },
                av_endpoint(i),
            ],
            ..User::default()
        })
        .collect();
    let ci = ConferenceInfo {
        entity: FOCUS.into(),
        version: Some(1),
        description: Some(ConferenceDescription {
            subject: Some("Quarterly review".into()),
            conf_uris: Some(Uris {
                entries: ["chat", "audio-video", "meeting"]
                    .iter()
                    .map(|t| UriEntry {
                        uri: format!("sip:alice@contoso.com;gruu;opaque=app:conf:{t}:id:4FNRHN16")
                            .into(),
                        purpose: Some((*t).into()),
                        ..UriEntry::default()
                    })
                    .collect(),
                ..Uris::default()
            }),
            conference_id: Some("4FNRHN16".into()),
            ..ConferenceDescription::default()
        }),
        conference_state: Some(ConferenceState {
            user_count: Some(100),
            active: Some(true),
            locked: Some(false),
            ..ConferenceState::default()
        }),
        users: Some(Users {
            users,
            ..Users::default()
        }),
        ..ConferenceInfo::default()
    };
    ci.to_bytes()
}

fn raw_scan(text: &str) -> usize {
    let mut r = quick_xml::Reader::from_str(text);
    let mut n = 0;
    loop {
        match r.read_event() {
            Ok(quick_xml::events::Event::Eof) => return n,
            Ok(e) => {
                black_box(&e);
                n += 1;
            }
            Err(e) => panic!("{e}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let docs = [
        ("add_user", vector_add_user(), false),
        ("add_user_dial_in", dial_in_response(), false),
        ("conference_info_100", conference_info_100(), true),
    ];
    for (name, bytes, is_info) in docs {
        let text = std::str::from_utf8(&bytes).unwrap().to_owned();
        let mut g = c.benchmark_group(format!("cccp/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        g.bench_function(BenchmarkId::new("raw quick-xml scan", bytes.len()), |b| {
            b.iter(|| raw_scan(black_box(&text)))
        });
        let mut out = Vec::with_capacity(bytes.len() * 2);
        if is_info {
            let ci = ConferenceInfo::parse(bytes.clone()).unwrap();
            g.bench_function(BenchmarkId::new("parse", bytes.len()), |b| {
                b.iter(|| ConferenceInfo::parse(black_box(bytes.clone())).unwrap())
            });
            g.bench_function(BenchmarkId::new("write", bytes.len()), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(&ci).write(&mut out);
                    out.len()
                })
            });
        } else {
            let m = Message::parse(bytes.clone()).unwrap();
            g.bench_function(BenchmarkId::new("parse", bytes.len()), |b| {
                b.iter(|| Message::parse(black_box(bytes.clone())).unwrap())
            });
            g.bench_function(BenchmarkId::new("write", bytes.len()), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(&m).write(&mut out);
                    out.len()
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
