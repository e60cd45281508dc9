//! Property tests: every command and conference-info document survives a write and a parse;
//! a subscriber applying the focus's delta (sent over the wire) reaches the new state; arbitrary
//! and mangled bytes never panic.

use bytestring::ByteString;
use proptest::collection::vec;
use proptest::option::of;
use proptest::prelude::*;

use ocs_cccp::info::*;
use ocs_cccp::message::*;
use ocs_cccp::state::{apply, delta};
use ocs_cccp::time::{DateTime, Timestamp};
use ocs_cccp::uri::McuType;
use ocs_cccp::xml::{Attribute, Element, Extensions, Node};

/// Text as a peer may send it: letters, XML specials, white space, non-ASCII.
fn text() -> BoxedStrategy<ByteString> {
    "[a-zA-Z0-9 <>&'\"=;:/@{}\t\n\r\u{e9}\u{263a}-]{0,12}"
        .prop_map(ByteString::from)
        .boxed()
}

fn word() -> BoxedStrategy<ByteString> {
    "[a-z0-9]{1,8}".prop_map(ByteString::from).boxed()
}

fn other() -> BoxedStrategy<ByteString> {
    "q[a-z]{2,6}".prop_map(ByteString::from).boxed()
}

macro_rules! token {
    ($t:ty) => {
        prop_oneof![
            proptest::sample::select(<$t>::ALL.to_vec()),
            other().prop_map(<$t>::Other)
        ]
    };
}

fn time() -> BoxedStrategy<DateTime> {
    (0i64..4_000_000_000)
        .prop_map(|s| DateTime::from_timestamp(Timestamp(s)))
        .boxed()
}

fn ext_element(depth: u32) -> BoxedStrategy<Element> {
    let leaf = (
        of(Just(ByteString::from_static("urn:x-test:ext"))),
        "x-[a-c]",
        of(text()),
    )
        .prop_map(|(ns, name, t)| Element {
            ns,
            name: ByteString::from(name),
            attributes: Vec::new(),
            children: t
                .filter(|t| !t.is_empty())
                .map(Node::Text)
                .into_iter()
                .collect(),
        });
    if depth == 0 {
        return leaf.boxed();
    }
    (leaf, vec(ext_element(depth - 1), 0..3), ext_attrs())
        .prop_map(|(mut e, kids, attributes)| {
            e.children.extend(kids.into_iter().map(Node::Element));
            e.attributes = attributes;
            e
        })
        .boxed()
}

fn ext_attrs() -> BoxedStrategy<Vec<Attribute>> {
    (of(text()), of(text()))
        .prop_map(|(a, b)| {
            let mut v = Vec::new();
            if let Some(a) = a {
                v.push(Attribute {
                    ns: None,
                    name: "x-a".into(),
                    value: a,
                });
            }
            if let Some(b) = b {
                v.push(Attribute {
                    ns: Some("urn:x-test:attr".into()),
                    name: "x-b".into(),
                    value: b,
                });
            }
            v
        })
        .boxed()
}

fn ext() -> BoxedStrategy<Extensions> {
    prop_oneof![
        3 => Just(Extensions::default()),
        1 => (ext_attrs(), vec(ext_element(2), 0..2)).prop_map(|(attributes, elements)| Extensions { attributes, elements }),
    ].boxed()
}

fn execution() -> BoxedStrategy<Execution> {
    (of(time()), of(text()), of(text()))
        .prop_map(|(when, reason, by)| Execution { when, reason, by })
        .boxed()
}

fn uris() -> BoxedStrategy<Uris> {
    (
        proptest::sample::select(State::ALL.to_vec()),
        vec(
            (text(), of(text()), of(word()), of(execution()), ext()),
            0..3,
        ),
    )
        .prop_map(|(state, e)| Uris {
            state,
            entries: e
                .into_iter()
                .map(|(uri, display_text, purpose, modified, ext)| UriEntry {
                    uri,
                    display_text,
                    purpose,
                    modified,
                    ext,
                })
                .collect(),
        })
        .boxed()
}

fn medium() -> BoxedStrategy<ConferenceMedium> {
    (
        text(),
        of(text()),
        of(word()),
        of(token!(MediaStatus)),
        ext(),
    )
        .prop_map(
            |(label, display_text, media_type, status, ext)| ConferenceMedium {
                label,
                display_text,
                media_type,
                status,
                ext,
            },
        )
        .boxed()
}

fn description() -> BoxedStrategy<ConferenceDescription> {
    (
        (
            of(text()),
            of(text()),
            of(text()),
            of(text()),
            of(uris()),
            of(uris()),
            of(any::<u32>()),
            of(vec(medium(), 0..3)),
        ),
        (
            of(word()),
            of(time()),
            of(time()),
            of(any::<bool>()),
            of(time()),
            of(token!(AdmissionPolicy)),
        ),
        (
            of(
                (of(text()), of(text()), ext()).prop_map(|(display_name, uri, ext)| Organizer {
                    display_name,
                    uri,
                    ext,
                }),
            ),
            of(text()),
            of((of(word()), ext()).prop_map(|(id, ext)| PstnAccess { id, ext })),
            of(any::<u32>()),
            of(any::<bool>()),
            ext(),
        ),
    )
        .prop_map(|(a, b, c)| ConferenceDescription {
            display_text: a.0,
            subject: a.1,
            free_text: a.2,
            keywords: a.3,
            conf_uris: a.4,
            service_uris: a.5,
            maximum_user_count: a.6,
            available_media: a.7,
            conference_id: b.0,
            last_update: b.1,
            last_activate: b.2,
            is_active: b.3,
            expiry_time: b.4,
            admission_policy: b.5,
            organizer: c.0,
            join_url: c.1,
            pstn_access: c.2,
            autopromote: c.3,
            pstn_lobby_bypass: c.4,
            ext: c.5,
        })
        .boxed()
}

fn media(id: ByteString, stored: bool) -> BoxedStrategy<Media> {
    (
        if stored {
            Just(None).boxed()
        } else {
            of(proptest::sample::select(State::ALL.to_vec())).boxed()
        },
        of(text()),
        of(word()),
        of(text()),
        of(word()),
        of(token!(MediaStatus)),
        of(token!(Filter)),
        of(token!(Filter)),
        ext(),
    )
        .prop_map(
            move |(
                state,
                display_text,
                media_type,
                label,
                src_id,
                status,
                ingress_filter,
                egress_filter,
                ext,
            )| Media {
                id: id.clone(),
                state,
                display_text,
                media_type,
                label,
                src_id,
                status,
                ingress_filter,
                egress_filter,
                ext,
            },
        )
        .boxed()
}

fn client_info() -> BoxedStrategy<ClientInfo> {
    (of(any::<bool>()), ext())
        .prop_map(|(lobby_capable, ext)| ClientInfo { lobby_capable, ext })
        .boxed()
}

fn endpoint(entity: ByteString, stored: bool) -> BoxedStrategy<Endpoint> {
    let state = if stored {
        Just(State::Full).boxed()
    } else {
        proptest::sample::select(State::ALL.to_vec()).boxed()
    };
    (
        (
            state,
            of(word()),
            of(text()),
            of(execution()),
            of(token!(EndpointStatus)),
            of(token!(JoiningMethod)),
        ),
        (
            of(execution()),
            of(token!(DisconnectionMethod)),
            of(execution()),
        ),
        (
            proptest::sample::subsequence(vec!["1", "2", "3", "9"], 0..4).prop_flat_map(
                move |ids| {
                    ids.into_iter()
                        .map(|i| media(ByteString::from(i), stored))
                        .collect::<Vec<_>>()
                },
            ),
            of(vec(token!(Role), 0..3)),
            of(client_info()),
            of(vec(
                (text(), text()).prop_map(|(key, value)| ConnectionEntry { key, value }),
                0..3,
            )),
            ext(),
        ),
    )
        .prop_map(move |(a, b, c)| Endpoint {
            entity: entity.clone(),
            state: a.0,
            session_type: a.1,
            display_text: a.2,
            referred: a.3.map(Box::new),
            status: a.4,
            joining_method: a.5,
            joining_info: b.0.map(Box::new),
            disconnection_method: b.1,
            disconnection_info: b.2.map(Box::new),
            media: c.0,
            roles: c.1,
            client_info: c.2,
            connection_info: c.3,
            ext: c.4,
        })
        .boxed()
}

fn user(entity: ByteString, stored: bool) -> BoxedStrategy<User> {
    let state = if stored {
        Just(State::Full).boxed()
    } else {
        proptest::sample::select(State::ALL.to_vec()).boxed()
    };
    (
        (
            state,
            of(text()),
            of(uris()),
            of(vec(token!(Role), 0..3)),
            of(text()),
            of(text()),
        ),
        proptest::sample::subsequence(vec!["{E1}", "{E2}", "sip:e3@x"], 0..3).prop_flat_map(
            move |ids| {
                ids.into_iter()
                    .map(|i| endpoint(ByteString::from(i), stored))
                    .collect::<Vec<_>>()
            },
        ),
        of(client_info()),
        ext(),
    )
        .prop_map(move |(a, endpoints, client_info, ext)| User {
            entity: entity.clone(),
            state: a.0,
            display_text: a.1,
            associated_aors: a.2,
            roles: a.3,
            languages: a.4,
            cascaded_focus: a.5,
            endpoints,
            client_info,
            ext,
        })
        .boxed()
}

fn entity_view(entity: ByteString, stored: bool) -> BoxedStrategy<EntityView> {
    let state = if stored {
        Just(State::Full).boxed()
    } else {
        proptest::sample::select(State::ALL.to_vec()).boxed()
    };
    (
        state,
        of((
            of(any::<bool>()),
            of(any::<bool>()),
            of(vec(medium(), 0..2)),
            ext(),
        )
            .prop_map(|(active, locked, media, ext)| EntityState {
                active,
                locked,
                media,
                ext,
            })),
        ext(),
    )
        .prop_map(move |(state, entity_state, ext)| EntityView {
            entity: entity.clone(),
            state,
            entity_state,
            ext,
        })
        .boxed()
}

/// A conference-info document. `stored` makes it a state as a focus or tracker holds it:
/// unique keys, every element `full`.
fn conference_info(stored: bool) -> BoxedStrategy<ConferenceInfo> {
    let users = proptest::sample::subsequence(
        vec!["sip:a@x", "sip:b@x", "sip:c@x", "sip:d@x", "sip:e@x"],
        0..5,
    )
    .prop_shuffle()
    .prop_flat_map(move |es| {
        es.into_iter()
            .map(|e| user(ByteString::from(e), stored))
            .collect::<Vec<_>>()
    });
    let views = proptest::sample::subsequence(vec!["chat", "audio-video", "meeting"], 0..3)
        .prop_shuffle()
        .prop_flat_map(move |es| {
            es.into_iter()
                .map(|e| entity_view(ByteString::from(e), stored))
                .collect::<Vec<_>>()
        });
    let state = if stored {
        Just(State::Full).boxed()
    } else {
        proptest::sample::select(State::ALL.to_vec()).boxed()
    };
    (
        (
            if stored {
                Just(None).boxed()
            } else {
                of(any::<u32>()).boxed()
            },
            state.clone(),
            of(description()),
        ),
        of((of(text()), of(text()), of(uris()), ext()).prop_map(
            |(display_text, web_page, uris, ext)| HostInfo {
                display_text,
                web_page,
                uris,
                ext,
            },
        )),
        of((
            of(any::<u32>()),
            of(any::<bool>()),
            of(any::<bool>()),
            ext(),
        )
            .prop_map(|(user_count, active, locked, ext)| ConferenceState {
                user_count,
                active,
                locked,
                ext,
            })),
        of(
            (state.clone(), users, ext()).prop_map(|(state, users, ext)| Users {
                state,
                users,
                ext,
            }),
        ),
        of(
            (state, views).prop_map(|(state, entity_views)| ConferenceView {
                state,
                entity_views,
            }),
        ),
        ext(),
    )
        .prop_map(
            |(a, host_info, conference_state, users, conference_view, ext)| ConferenceInfo {
                entity: ByteString::from_static("sip:o@x;gruu;opaque=app:conf:focus:id:ABCDEFGH"),
                version: a.0,
                state: a.1,
                description: a.2,
                host_info,
                conference_state,
                users,
                conference_view,
                ext,
            },
        )
        .boxed()
}

fn keys() -> BoxedStrategy<Keys> {
    (
        (of(text()), of(text()), of(text()), of(word()), of(word())),
        of(
            (of(word()), of(word()), ext()).prop_map(|(x509_certificate, key, ext)| {
                EncryptionKey {
                    x509_certificate,
                    key,
                    ext,
                }
            }),
        ),
        ext(),
    )
        .prop_map(|(a, encryption_key, ext)| Keys {
            conf_entity: a.0,
            user_entity: a.1,
            endpoint_entity: a.2,
            media_id: a.3,
            conference_id: a.4,
            encryption_key,
            ext,
        })
        .boxed()
}

fn body() -> BoxedStrategy<Body> {
    let info = || of(conference_info(false));
    prop_oneof![
        info().prop_map(|info| Body::AddConference {
            info: info.map(Box::new)
        }),
        info().prop_map(|info| Body::ModifyConference {
            info: info.map(Box::new)
        }),
        (of(keys()), info()).prop_map(|(keys, info)| Body::DeleteConference {
            keys,
            info: info.map(Box::new)
        }),
        (of(keys()), info()).prop_map(|(keys, info)| Body::GetConference {
            keys,
            info: info.map(Box::new)
        }),
        vec(conference_info(false), 0..3).prop_map(|infos| Body::GetConferences { infos }),
        of(vec(token!(McuType), 0..4))
            .prop_map(|mcu_types| Body::GetAvailableMcuTypes { mcu_types }),
        (
            of(vec(token!(McuType), 0..4)),
            of((
                vec(
                    (word(), vec(text(), 0..3))
                        .prop_map(|(name, numbers)| Region { name, numbers }),
                    0..3
                ),
                of(word()),
                ext()
            )
                .prop_map(|(regions, default_region, ext)| PstnBridging {
                    regions,
                    default_region,
                    ext
                })),
        )
            .prop_map(
                |(mcu_types, pstn_bridging)| Body::GetConferencingCapabilities {
                    mcu_types,
                    pstn_bridging
                }
            ),
        of(keys()).prop_map(|keys| Body::GetEncryptionKey { keys }),
        (
            of(keys()),
            of(user(ByteString::from_static("sip:u@x"), false))
        )
            .prop_map(|(keys, user)| Body::AddUser {
                keys,
                user: user.map(Box::new)
            }),
        of(keys()).prop_map(|keys| Body::DeleteUser { keys }),
        (of(keys()), of(vec(token!(Role), 0..3)))
            .prop_map(|(keys, roles)| Body::ModifyUserRoles { keys, roles }),
        (of(keys()), of(vec(token!(Role), 0..3)))
            .prop_map(|(keys, roles)| Body::ModifyEndpointRole { keys, roles }),
        (of(keys()), of(media(ByteString::from_static("7"), false))).prop_map(|(keys, media)| {
            Body::ModifyEndpointMedia {
                keys,
                media: media.map(Box::new),
            }
        }),
        (of(keys()), of(any::<bool>()))
            .prop_map(|(keys, locked)| Body::ModifyConferenceLock { keys, locked }),
        (of(keys()), vec(text(), 0..3), of(token!(LobbyAccess))).prop_map(
            |(keys, users, access)| Body::SetLobbyAccess {
                keys,
                users,
                access
            }
        ),
        ext_element(1).prop_map(|mut e| {
            e.ns = Some(ByteString::from_static(ocs_cccp::ns::CCCP));
            e.name = ByteString::from_static("startRecording");
            Body::Unknown(e)
        }),
    ]
    .boxed()
}

fn command() -> BoxedStrategy<Command> {
    (body(), of(text()), ext())
        .prop_map(|(body, mcu_uri, mut ext)| {
            if matches!(body, Body::Unknown(_)) {
                // An unknown command is kept whole; it has no separate attributes.
                return Command {
                    body,
                    mcu_uri: None,
                    ext: Extensions::default(),
                };
            }
            ext.attributes.retain(|a| a.ns.is_some());
            Command { body, mcu_uri, ext }
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn requests_round_trip(id in any::<u64>(), from in text(), to in text(), version in of(word()), command in command(), ext in ext()) {
        let req = Request { request_id: id, from, to, c3p_version: version, command, ext };
        let bytes = req.to_bytes();
        let back = Request::parse(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(back, req);
    }

    #[test]
    fn responses_round_trip(id in any::<u64>(), code in proptest::sample::select(vec![Code::Success, Code::Failure, Code::Pending]),
                            reason in of(token!(Reason)), command in command()) {
        let mut resp = Request::new(id, "sip:a@x", "sip:b@x", Body::GetConferences { infos: vec![] }).respond(code, Body::GetConferences { infos: vec![] });
        resp.command = command;
        resp.reason = reason;
        let bytes = resp.to_bytes();
        let back = Response::parse(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(back, resp);
    }

    #[test]
    fn conference_info_round_trips(ci in conference_info(false)) {
        let bytes = ci.to_bytes();
        let back = ConferenceInfo::parse(bytes.clone()).map_err(|e| TestCaseError::fail(format!("{e}\n{}", String::from_utf8_lossy(&bytes))))?;
        prop_assert_eq!(back, ci);
    }

    #[test]
    fn applying_the_delta_gives_the_new_state(old in conference_info(true), new in conference_info(true)) {
        let mut state = old.clone();
        match delta(&old, &new) {
            None => prop_assert_eq!(&old, &new),
            Some(d) => {
                let wire = ConferenceInfo::parse(d.to_bytes()).unwrap();
                prop_assert_eq!(&wire, &d);
                apply(&mut state, &wire);
                prop_assert_eq!(state, new);
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in vec(any::<u8>(), 0..600)) {
        let _ = Message::parse(data.clone());
        let _ = ConferenceInfo::parse(data);
    }

    #[test]
    fn mangled_documents_never_panic(ci in conference_info(false), cuts in vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = ci.to_bytes().to_vec();
        for (at, b) in cuts {
            if !bytes.is_empty() {
                let i = at % bytes.len();
                bytes[i] = b;
            }
        }
        if let Err(e) = ConferenceInfo::parse(bytes.clone()) {
            prop_assert!(e.offset() <= bytes.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The focus fuzz driver on random operation bytes: every output survives the wire and
    /// every subscriber's tracker equals the focus's state after each step.
    #[test]
    fn focus_under_random_operations(ops in vec(any::<u8>(), 0..400)) {
        ocs_cccp::fuzzing::focus(&ops);
    }
}
