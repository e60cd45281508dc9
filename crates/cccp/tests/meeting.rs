//! A whole meeting on the focus: create, three users join, one is promoted, the conference is
//! locked, a late user waits in the lobby and is admitted, one leaves, the conference is
//! deleted. Every response, MCU request and notification is checked, every output goes through
//! the wire format (written and parsed back), and a subscriber that applies the partial
//! notifications ends with the same state as a fresh full one.

use bytestring::ByteString;
use ocs_cccp::focus::{
    Carriage, Diagnostic, Focus, FocusConfig, Origin, Output, RestoreError, Scheduled,
    SubscribeError,
};
use ocs_cccp::info::{
    AdmissionPolicy, ClientInfo, ConferenceDescription, ConferenceInfo, ConferenceView, Endpoint,
    EndpointStatus, EntityView, Filter, JoiningMethod, Media, MediaStatus, Role, State, User,
};
use ocs_cccp::message::{Body, Code, Keys, LobbyAccess, Reason, Request, Response};
use ocs_cccp::state::{Applied, StateError, Tracker};
use ocs_cccp::time::{DateTime, Timestamp};
use ocs_cccp::uri::{ConferenceUri, McuType};

const T0: Timestamp = Timestamp(1_700_000_000);
const ALICE: &str = "sip:alice@contoso.com";
const FACTORY: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DESIGN01";

struct Meeting {
    focus: Focus,
    token: u64,
    request_id: u64,
    now: Timestamp,
}

/// Every output survives the wire: what the focus emits is what a peer parses.
fn wire(o: &Output) {
    match o {
        Output::Response { response, .. } => {
            assert_eq!(&Response::parse(response.to_bytes()).unwrap(), response);
        }
        Output::McuRequest { request, .. } => {
            assert_eq!(&Request::parse(request.to_bytes()).unwrap(), request);
        }
        Output::Notify { document, .. } => {
            assert_eq!(
                &ConferenceInfo::parse(document.to_bytes()).unwrap(),
                document
            );
        }
        Output::Schedule { conference, .. } => {
            if let Some(s) = conference {
                assert_eq!(ConferenceInfo::parse(s.info.to_bytes()).unwrap(), s.info);
            }
        }
    }
}

impl Meeting {
    fn new() -> Meeting {
        Meeting {
            focus: Focus::new(
                FocusConfig::default(),
                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(42),
            ),
            token: 0,
            request_id: 0,
            now: T0,
        }
    }

    fn drain(&mut self) -> Vec<Output> {
        let mut v = Vec::new();
        while let Some(o) = self.focus.poll_output() {
            wire(&o);
            v.push(o);
        }
        v
    }

    /// Sends a request the way a SIP layer would: parsed from its bytes.
    fn send(
        &mut self,
        sender: &str,
        to: &str,
        carriage: Carriage,
        body: Body,
        mcu: Option<&str>,
    ) -> (u64, Vec<Output>) {
        self.token += 1;
        self.request_id += 1;
        let mut req = Request::new(self.request_id, sender, to, body);
        req.command.mcu_uri = mcu.map(ByteString::from);
        let req = Request::parse(req.to_bytes()).unwrap();
        let origin = Origin {
            sender: sender.into(),
            target: to.into(),
            carriage,
        };
        self.focus
            .handle_request(self.now, self.token, &origin, req);
        (self.token, self.drain())
    }

    fn info(&mut self, sender: &str, body: Body) -> (u64, Vec<Output>) {
        self.send(sender, FOCUS, Carriage::Info, body, None)
    }

    fn join(
        &mut self,
        who: &str,
        endpoint: &str,
        role: Role,
        lobby_capable: bool,
    ) -> (u64, Vec<Output>) {
        let user = User {
            entity: who.into(),
            roles: Some(vec![role]),
            endpoints: vec![Endpoint {
                entity: endpoint.into(),
                client_info: Some(ClientInfo {
                    lobby_capable: Some(lobby_capable),
                    ..ClientInfo::default()
                }),
                ..Endpoint::default()
            }],
            ..User::default()
        };
        let body = Body::AddUser {
            keys: Some(Keys::conference(FOCUS)),
            user: Some(Box::new(user)),
        };
        self.send(who, FOCUS, Carriage::Invite, body, None)
    }
}

fn responses(out: &[Output]) -> Vec<(u64, &Response, Option<Diagnostic>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Response {
                token,
                response,
                diagnostic,
            } => Some((*token, response, *diagnostic)),
            _ => None,
        })
        .collect()
}

fn the_response(out: &[Output]) -> (&Response, Option<Diagnostic>) {
    let r = responses(out);
    assert_eq!(r.len(), 1, "{out:#?}");
    (r[0].1, r[0].2)
}

fn mcu_requests(out: &[Output]) -> Vec<(u64, &McuType, &str, &Request)> {
    out.iter()
        .filter_map(|o| match o {
            Output::McuRequest {
                id,
                mcu,
                mcu_uri,
                request,
            } => Some((*id, mcu, &**mcu_uri, request)),
            _ => None,
        })
        .collect()
}

fn notifications(out: &[Output], subscriber: u64) -> Vec<&ConferenceInfo> {
    out.iter()
        .filter_map(|o| match o {
            Output::Notify {
                subscriber: s,
                document,
                ..
            } if *s == subscriber => Some(document),
            _ => None,
        })
        .collect()
}

/// Applies every notification for `subscriber` in `out` and checks the versions go up by one.
fn track(t: &mut Tracker, out: &[Output], subscriber: u64) -> usize {
    let docs = notifications(out, subscriber);
    for d in &docs {
        let before = t.state().and_then(|s| s.version);
        let applied = t.apply(d).unwrap();
        if applied == Applied::Updated {
            assert_eq!(d.state, State::Partial);
            assert_eq!(d.version, before.map(|v| v + 1));
        }
    }
    docs.len()
}

fn av_uri() -> String {
    ConferenceUri::parse(FOCUS)
        .unwrap()
        .mcu(McuType::AudioVideo)
        .to_string()
}

#[test]
fn a_whole_meeting() {
    let mut m = Meeting::new();

    // 1. Alice creates the conference through her focus factory (SERVICE).
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            subject: Some("Design review".into()),
            conference_id: Some("DESIGN01".into()),
            expiry_time: Some(DateTime::from_timestamp(T0.plus(3600))),
            admission_policy: Some(AdmissionPolicy::OpenAuthenticated),
            ..ConferenceDescription::default()
        }),
        conference_view: Some(ConferenceView {
            state: State::Full,
            entity_views: ["chat", "audio-video", "meeting"]
                .iter()
                .map(|e| EntityView {
                    entity: (*e).into(),
                    ..EntityView::default()
                })
                .collect(),
        }),
        ..ConferenceInfo::default()
    };
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(info)),
        },
        None,
    );
    let (r, d) = the_response(&out);
    assert_eq!((r.code, d), (Code::Success, None));
    assert_eq!((&*r.from, &*r.to), (FACTORY, ALICE));
    let Body::AddConference {
        info: Some(created),
    } = &r.command.body
    else {
        panic!("{r:?}")
    };
    assert_eq!(created.entity, FOCUS);
    let desc = created.description.as_ref().unwrap();
    assert_eq!(desc.conference_id.as_deref(), Some("DESIGN01"));
    assert_eq!(desc.expiry_time.as_ref().unwrap().at, T0.plus(3600));
    assert_eq!(
        created.conf_uri("audio-video").map(|u| u.to_string()),
        Some(av_uri())
    );
    let adds = mcu_requests(&out);
    assert_eq!(adds.len(), 3);
    for (id, t, uri, req) in &adds {
        assert!(matches!(req.command.body, Body::AddConference { .. }));
        assert_eq!(req.from, FOCUS);
        assert_eq!(
            *uri,
            ConferenceUri::parse(FOCUS)
                .unwrap()
                .mcu((*t).clone())
                .to_string()
        );
        let ok = req.respond(Code::Success, req.command.body.echo());
        m.focus.handle_mcu_response(m.now, *id, &ok);
    }
    assert!(
        m.drain().is_empty(),
        "MCU answers to provisioning are quiet"
    );

    // 2. Alice subscribes at once (subscriber 1): the full, empty state, version 1.
    let mut t1 = Tracker::new();
    m.focus.subscribe(1, FOCUS, ALICE).unwrap();
    let out = m.drain();
    let full = notifications(&out, 1);
    assert_eq!(
        (full[0].state.clone(), full[0].version),
        (State::Full, Some(1))
    );
    assert!(full[0].user_list().is_empty());
    track(&mut t1, &out, 1);
    assert_eq!(
        m.focus.subscribe(9, FOCUS, "sip:mallory@contoso.com"),
        Err(SubscribeError::NotAMember)
    );

    // 3. Three users join through the focus (INVITE with addUser).
    let (_, out) = m.join(ALICE, "{A1}", Role::Presenter, true);
    let (r, _) = the_response(&out);
    let Body::AddUser {
        user: Some(u),
        keys,
    } = &r.command.body
    else {
        panic!()
    };
    assert_eq!((r.code, u.role()), (Code::Success, Some(&Role::Presenter)));
    assert_eq!(keys.as_ref().unwrap().conf_entity.as_deref(), Some(FOCUS));
    assert_eq!(u.client_info.as_ref().unwrap().lobby_capable, Some(true));
    assert_eq!(track(&mut t1, &out, 1), 1);

    let (_, out) = m.join("sip:bob@contoso.com", "{B1}", Role::Attendee, true);
    assert_eq!(the_response(&out).0.code, Code::Success);
    track(&mut t1, &out, 1);
    // Carol asks to be a presenter; policy grants attendee.
    let (_, out) = m.join("sip:carol@contoso.com", "{C1}", Role::Presenter, false);
    let (r, _) = the_response(&out);
    let Body::AddUser { user: Some(u), .. } = &r.command.body else {
        panic!()
    };
    assert_eq!(u.role(), Some(&Role::Attendee));
    track(&mut t1, &out, 1);
    let state = t1.state().unwrap();
    assert_eq!(state.user_list().len(), 3);
    assert_eq!(state.conference_state.as_ref().unwrap().user_count, Some(3));
    assert_eq!(state.conference_state.as_ref().unwrap().active, Some(true));

    // Carol subscribes too (subscriber 2): her first document is full, version 1.
    m.focus
        .subscribe(2, FOCUS, "sip:carol@contoso.com")
        .unwrap();
    let mut t2 = Tracker::new();
    let out = m.drain();
    track(&mut t2, &out, 2);
    assert_eq!(t2.state().unwrap().version, Some(1));

    // 4. Alice dials in to the A/V MCU; the focus relays the MCU's answer.
    let dial_in = User {
        entity: ALICE.into(),
        endpoints: vec![Endpoint {
            entity: "{A2}".into(),
            joining_method: Some(JoiningMethod::DialedIn),
            ..Endpoint::default()
        }],
        ..User::default()
    };
    let av = av_uri();
    let (token, out) = m.send(
        ALICE,
        FOCUS,
        Carriage::Info,
        Body::AddUser {
            keys: Some(Keys::conference(FOCUS)),
            user: Some(Box::new(dial_in)),
        },
        Some(&av),
    );
    assert!(responses(&out).is_empty(), "answered when the MCU answers");
    let reqs = mcu_requests(&out);
    assert_eq!(reqs.len(), 1);
    let (id, t, uri, fwd) = reqs[0];
    assert_eq!((t, uri), (&McuType::AudioVideo, &*av));
    let Body::AddUser { user: Some(fu), .. } = &fwd.command.body else {
        panic!()
    };
    assert_eq!(
        fu.role(),
        Some(&Role::Presenter),
        "the MCU learns the granted role"
    );
    let mcu_user = User {
        entity: ALICE.into(),
        endpoints: vec![Endpoint {
            entity: "{A2}".into(),
            joining_method: Some(JoiningMethod::DialedIn),
            media: vec![Media {
                id: "1".into(),
                media_type: Some("audio".into()),
                label: Some("main-audio".into()),
                status: Some(MediaStatus::SendRecv),
                ingress_filter: Some(Filter::Unblock),
                ..Media::default()
            }],
            connection_info: Some(vec![ocs_cccp::info::ConnectionEntry {
                key: "Mcu-Server-Uri".into(),
                value: "sip:av.contoso.com;transport=tls".into(),
            }]),
            ..Endpoint::default()
        }],
        ..User::default()
    };
    let answer = fwd.respond(
        Code::Success,
        Body::AddUser {
            keys: fwd.command.body.keys().cloned(),
            user: Some(Box::new(mcu_user)),
        },
    );
    m.focus.handle_mcu_response(m.now, id, &answer);
    let out = m.drain();
    let rs = responses(&out);
    assert_eq!(rs.len(), 1);
    assert_eq!((rs[0].0, rs[0].1.code), (token, Code::Success));
    assert_eq!(rs[0].1.to, ALICE);
    let Body::AddUser { user: Some(ru), .. } = &rs[0].1.command.body else {
        panic!()
    };
    assert_eq!(
        ru.endpoints[0]
            .connection_value("mcu-server-uri")
            .map(|v| &**v),
        Some("sip:av.contoso.com;transport=tls")
    );
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    let a = t1.state().unwrap().user(ALICE).unwrap().clone();
    let ep = a
        .endpoints
        .iter()
        .find(|e| e.session_type.as_deref() == Some("audio-video"))
        .unwrap();
    assert_eq!(
        (ep.status.clone(), ep.media.len()),
        (Some(EndpointStatus::Connected), 1)
    );

    // 5. Alice promotes Bob; Carol may not promote herself.
    let (_, out) = m.info(
        ALICE,
        Body::ModifyUserRoles {
            keys: Some(Keys::user(FOCUS, "sip:bob@contoso.com")),
            roles: Some(vec![Role::Presenter]),
        },
    );
    assert_eq!(the_response(&out).0.code, Code::Success);
    assert!(mcu_requests(&out).is_empty(), "Bob is at no MCU yet");
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    assert_eq!(
        t1.state()
            .unwrap()
            .user("sip:bob@contoso.com")
            .unwrap()
            .role(),
        Some(&Role::Presenter)
    );
    let (_, out) = m.info(
        "sip:carol@contoso.com",
        Body::ModifyUserRoles {
            keys: Some(Keys::user(FOCUS, "sip:carol@contoso.com")),
            roles: Some(vec![Role::Presenter]),
        },
    );
    let (r, d) = the_response(&out);
    assert_eq!(
        (r.code, r.reason.clone(), d),
        (
            Code::Failure,
            Some(Reason::Forbidden),
            Some(Diagnostic::FAILED_AUTHORIZATION)
        )
    );
    assert!(notifications(&out, 1).is_empty());
    let (_, out) = m.info(
        ALICE,
        Body::ModifyUserRoles {
            keys: Some(Keys::user(FOCUS, "sip:bob@contoso.com")),
            roles: Some(vec![Role::Organizer]),
        },
    );
    assert_eq!(the_response(&out).1, Some(Diagnostic::INVALID_ROLE));

    // 6. Bob, now a presenter, locks the conference; every MCU is told.
    let (_, out) = m.info(
        "sip:bob@contoso.com",
        Body::ModifyConferenceLock {
            keys: Some(Keys::conference(FOCUS)),
            locked: Some(true),
        },
    );
    assert_eq!(the_response(&out).0.code, Code::Success);
    let locks = mcu_requests(&out);
    assert_eq!(locks.len(), 3);
    assert!(locks.iter().all(|(_, _, _, r)| matches!(
        r.command.body,
        Body::ModifyConferenceLock {
            locked: Some(true),
            ..
        }
    )));
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    let s = t1.state().unwrap();
    assert!(s.locked());
    assert!(
        s.conference_view
            .as_ref()
            .unwrap()
            .entity_views
            .iter()
            .all(|v| v.entity_state.as_ref().unwrap().locked == Some(true))
    );

    // 7. Dave arrives: locked out, he waits in the lobby (pending). Eve's client cannot wait.
    let (dave_token, out) = m.join("sip:dave@contoso.com", "{D1}", Role::Attendee, true);
    let (r, _) = the_response(&out);
    assert_eq!(r.code, Code::Pending);
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    let lobby: Vec<&str> = t1.state().unwrap().lobby().map(|u| &*u.entity).collect();
    assert_eq!(lobby, ["sip:dave@contoso.com"]);
    let (_, out) = m.join("sip:eve@contoso.com", "{E1}", Role::Attendee, false);
    let (r, d) = the_response(&out);
    assert_eq!(
        (r.code, d),
        (Code::Failure, Some(Diagnostic::FAILED_AUTHORIZATION))
    );
    // Carol (an attendee) cannot admit him.
    let admit = Body::SetLobbyAccess {
        keys: Some(Keys::conference(FOCUS)),
        users: vec!["sip:dave@contoso.com".into()],
        access: Some(LobbyAccess::Granted),
    };
    let (_, out) = m.info("sip:carol@contoso.com", admit.clone());
    assert_eq!(the_response(&out).0.reason, Some(Reason::Forbidden));

    // 8. Alice admits Dave: Alice's request succeeds and Dave's join gets its final answer.
    let (alice_token, out) = m.info(ALICE, admit);
    let rs = responses(&out);
    assert_eq!(rs.len(), 2);
    let mine = rs.iter().find(|r| r.0 == alice_token).unwrap();
    let daves = rs.iter().find(|r| r.0 == dave_token).unwrap();
    assert_eq!((mine.1.code, daves.1.code), (Code::Success, Code::Success));
    assert_eq!(daves.1.to, "sip:dave@contoso.com");
    let Body::AddUser { user: Some(du), .. } = &daves.1.command.body else {
        panic!()
    };
    assert_eq!(du.role(), Some(&Role::Attendee));
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    assert_eq!(t1.state().unwrap().lobby().count(), 0);
    let dave = t1.state().unwrap().user("sip:dave@contoso.com").unwrap();
    assert_eq!(dave.endpoints[0].status, Some(EndpointStatus::Connected));
    assert_eq!(
        dave.endpoints[0]
            .joining_info
            .as_ref()
            .unwrap()
            .by
            .as_deref(),
        Some(ALICE)
    );

    // 9. Alice mutes herself at the A/V MCU ([MS-CONFAV] modifyEndpointMedia).
    let mute = Media {
        id: "1".into(),
        media_type: Some("audio".into()),
        status: Some(MediaStatus::RecvOnly),
        ingress_filter: Some(Filter::Block),
        ..Media::default()
    };
    let keys = Keys {
        conf_entity: Some(FOCUS.into()),
        user_entity: Some(ALICE.into()),
        endpoint_entity: Some("{A2}".into()),
        media_id: Some("1".into()),
        ..Keys::default()
    };
    let (token, out) = m.send(
        ALICE,
        FOCUS,
        Carriage::Info,
        Body::ModifyEndpointMedia {
            keys: Some(keys),
            media: Some(Box::new(mute)),
        },
        Some(&av),
    );
    let reqs = mcu_requests(&out);
    assert_eq!(reqs.len(), 1);
    let ok = reqs[0]
        .3
        .respond(Code::Success, reqs[0].3.command.body.echo());
    m.focus.handle_mcu_response(m.now, reqs[0].0, &ok);
    let out = m.drain();
    assert_eq!(responses(&out)[0].0, token);
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    let ep = t1
        .state()
        .unwrap()
        .user(ALICE)
        .unwrap()
        .endpoint("{A2}")
        .unwrap()
        .clone();
    assert_eq!(
        (
            ep.media[0].status.clone(),
            ep.media[0].ingress_filter.clone()
        ),
        (Some(MediaStatus::RecvOnly), Some(Filter::Block))
    );

    // 10. Carol leaves and ends her subscription.
    let (_, out) = m.info(
        "sip:carol@contoso.com",
        Body::DeleteUser {
            keys: Some(Keys::user(FOCUS, "sip:carol@contoso.com")),
        },
    );
    assert_eq!(the_response(&out).0.code, Code::Success);
    track(&mut t1, &out, 1);
    track(&mut t2, &out, 2);
    assert!(t1.state().unwrap().user("sip:carol@contoso.com").is_none());
    m.focus.unsubscribe(2);

    // 11. A fresh subscriber gets the state the first one built from deltas.
    m.focus.subscribe(3, FOCUS, "sip:bob@contoso.com").unwrap();
    let out = m.drain();
    let fresh = notifications(&out, 3)[0].clone();
    let mut built = t1.state().unwrap().clone();
    built.version = fresh.version;
    assert_eq!(built, fresh);
    assert_eq!(
        &fresh.clone_without_version(),
        &m.focus.conference(FOCUS).unwrap().clone_without_version()
    );
    let users: Vec<&str> = fresh.user_list().iter().map(|u| &*u.entity).collect();
    assert_eq!(
        users,
        [ALICE, "sip:bob@contoso.com", "sip:dave@contoso.com"]
    );

    // 12. Alice deletes it: the MCUs are told, subscribers get a terminating "deleted".
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::DeleteConference {
            keys: Some(Keys::conference(FOCUS)),
            info: None,
        },
        None,
    );
    let (r, _) = the_response(&out);
    let Body::DeleteConference { info: Some(i), .. } = &r.command.body else {
        panic!()
    };
    assert_eq!(i.entity, FOCUS);
    assert_eq!(
        mcu_requests(&out)
            .iter()
            .filter(|r| matches!(r.3.command.body, Body::DeleteConference { .. }))
            .count(),
        3
    );
    for s in [1, 3] {
        let ends: Vec<_> = out.iter().filter(|o| matches!(o, Output::Notify { subscriber, terminated: true, .. } if *subscriber == s)).collect();
        assert_eq!(ends.len(), 1);
    }
    let last = notifications(&out, 1)[0];
    assert_eq!(t1.apply(last), Ok(Applied::Deleted));
    assert_eq!(m.focus.conference_count(), 0);
}

trait NoVersion {
    fn clone_without_version(&self) -> ConferenceInfo;
}

impl NoVersion for ConferenceInfo {
    fn clone_without_version(&self) -> ConferenceInfo {
        ConferenceInfo {
            version: None,
            ..self.clone()
        }
    }
}

fn create(m: &mut Meeting, id: &str, expiry: Option<Timestamp>) -> String {
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            conference_id: Some(id.into()),
            expiry_time: expiry.map(DateTime::from_timestamp),
            ..ConferenceDescription::default()
        }),
        ..ConferenceInfo::default()
    };
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(info)),
        },
        None,
    );
    let (r, _) = the_response(&out);
    assert_eq!(r.code, Code::Success, "{r:?}");
    ConferenceUri::focus("alice@contoso.com", id).to_string()
}

#[test]
fn lost_notification_is_detected() {
    let mut m = Meeting::new();
    create(&mut m, "DESIGN01", None);
    m.focus.subscribe(1, FOCUS, ALICE).unwrap();
    let mut t = Tracker::new();
    track(&mut t, &m.drain(), 1);
    let (_, a) = m.join(ALICE, "{A1}", Role::Presenter, true);
    let (_, b) = m.join("sip:bob@contoso.com", "{B1}", Role::Attendee, true);
    let _ = a; // lost on the way
    let second = notifications(&b, 1)[0];
    assert_eq!(
        t.apply(second),
        Err(StateError::VersionGap {
            expected: 2,
            got: 3
        })
    );
    assert_eq!(t.state().unwrap().version, Some(1), "state untouched");
    // A refresh gives a full state, which the tracker takes.
    m.focus.subscribe(1, FOCUS, ALICE).unwrap();
    let out = m.drain();
    assert_eq!(track(&mut t, &out, 1), 1);
    assert_eq!(t.state().unwrap().user_list().len(), 2);
    assert_eq!(t.apply(second), Ok(Applied::Stale));
}

#[test]
fn expiry_follows_the_time_passed_in() {
    let mut m = Meeting::new();
    let empty = create(&mut m, "EMPTY001", Some(T0.plus(60)));
    create(&mut m, "DESIGN01", Some(T0.plus(120)));
    m.drain();
    assert_eq!(m.focus.poll_timeout(), Some(T0.plus(60)));
    m.join(ALICE, "{A1}", Role::Presenter, true);
    m.focus.subscribe(5, FOCUS, ALICE).unwrap();
    m.drain();
    m.focus.handle_timeout(T0.plus(59));
    assert_eq!(m.focus.conference_count(), 2);
    m.focus.handle_timeout(T0.plus(60));
    assert!(
        m.focus.conference(&empty).is_none(),
        "empty at expiry: deleted"
    );
    assert_eq!(mcu_requests(&m.drain()).len(), 3, "its MCUs are told");
    assert_eq!(m.focus.poll_timeout(), Some(T0.plus(120)));
    m.focus.handle_timeout(T0.plus(500));
    assert!(m.focus.conference(FOCUS).is_some(), "in use: kept");
    assert_eq!(m.focus.poll_timeout(), None);
    m.now = T0.plus(600);
    let (_, out) = m.info(
        ALICE,
        Body::DeleteUser {
            keys: Some(Keys::user(FOCUS, ALICE)),
        },
    );
    assert!(
        m.focus.conference(FOCUS).is_none(),
        "last user left after expiry: deleted"
    );
    assert!(out.iter().any(|o| matches!(
        o,
        Output::Notify {
            subscriber: 5,
            terminated: true,
            ..
        }
    )));
    assert_eq!(mcu_requests(&out).len(), 3);
}

#[test]
fn provisioning_commands_and_refusals() {
    let mut m = Meeting::new();
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::GetAvailableMcuTypes { mcu_types: None },
        None,
    );
    let Body::GetAvailableMcuTypes { mcu_types: Some(t) } = &the_response(&out).0.command.body
    else {
        panic!()
    };
    assert_eq!(t, &[McuType::AudioVideo, McuType::Chat, McuType::Meeting]);
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::GetConferencingCapabilities {
            mcu_types: None,
            pstn_bridging: None,
        },
        None,
    );
    assert!(matches!(
        the_response(&out).0.command.body,
        Body::GetConferencingCapabilities {
            mcu_types: Some(_),
            ..
        }
    ));

    let bad = |id: &str, exp: Option<Timestamp>, views: &[&str]| ConferenceInfo {
        description: Some(ConferenceDescription {
            conference_id: Some(id.into()),
            expiry_time: exp.map(DateTime::from_timestamp),
            ..ConferenceDescription::default()
        }),
        conference_view: (!views.is_empty()).then(|| ConferenceView {
            state: State::Full,
            entity_views: views
                .iter()
                .map(|v| EntityView {
                    entity: (*v).into(),
                    ..EntityView::default()
                })
                .collect(),
        }),
        ..ConferenceInfo::default()
    };
    for (info, reason) in [
        (bad("BE92", None, &[]), Reason::InvalidConferenceId),
        (bad("DESIGN01", Some(T0), &[]), Reason::InvalidExpiryTime),
        (
            bad("DESIGN01", None, &["phone-conf"]),
            Reason::McuTypeNotAvailable,
        ),
    ] {
        let (_, out) = m.send(
            ALICE,
            FACTORY,
            Carriage::Service,
            Body::AddConference {
                info: Some(Box::new(info)),
            },
            None,
        );
        assert_eq!(the_response(&out).0.reason, Some(reason));
    }
    create(&mut m, "DESIGN01", None);
    m.drain();
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(bad("design01", None, &[]))),
        },
        None,
    );
    assert_eq!(the_response(&out).0.reason, Some(Reason::ConferenceExists));
    // Someone else's focus factory.
    let (_, out) = m.send(
        "sip:bob@contoso.com",
        FACTORY,
        Carriage::Service,
        Body::AddConference { info: None },
        None,
    );
    assert_eq!(the_response(&out).0.reason, Some(Reason::Forbidden));
    // A conference without an ID gets one made up from the seed.
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference { info: None },
        None,
    );
    let Body::AddConference { info: Some(i) } = &the_response(&out).0.command.body else {
        panic!()
    };
    assert!(ocs_cccp::uri::is_conference_id(
        i.description
            .as_ref()
            .unwrap()
            .conference_id
            .as_deref()
            .unwrap()
    ));
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::GetConferences { infos: vec![] },
        None,
    );
    let Body::GetConferences { infos } = &the_response(&out).0.command.body else {
        panic!()
    };
    assert_eq!(infos.len(), 2);

    // The C3P from must be the sender; to must be where it was sent.
    let req = Request::new(
        77,
        "sip:mallory@contoso.com",
        FOCUS,
        Body::GetConference {
            keys: Some(Keys::conference(FOCUS)),
            info: None,
        },
    );
    let origin = Origin {
        sender: ALICE.into(),
        target: FOCUS.into(),
        carriage: Carriage::Info,
    };
    m.focus.handle_request(m.now, 1, &origin, req);
    let out = m.drain();
    assert_eq!(the_response(&out).1, Some(Diagnostic::BAD_FROM));
    let req = Request::new(
        78,
        ALICE,
        "sip:elsewhere@contoso.com",
        Body::GetConferences { infos: vec![] },
    );
    m.focus.handle_request(m.now, 1, &origin, req);
    assert_eq!(the_response(&m.drain()).1, Some(Diagnostic::BAD_TO));
    // Unknown commands: 3004.
    let unknown = Body::Unknown(ocs_cccp::xml::Element::new(
        Some(ocs_cccp::ns::CCCP),
        "startRecording",
    ));
    let (_, out) = m.info(ALICE, unknown);
    assert_eq!(the_response(&out).1, Some(Diagnostic::NOT_IMPLEMENTED));

    // getConference and getEncryptionKey for members only.
    m.join(ALICE, "{A1}", Role::Presenter, true);
    let (_, out) = m.info(
        ALICE,
        Body::GetConference {
            keys: Some(Keys::conference(FOCUS)),
            info: None,
        },
    );
    assert!(
        matches!(&the_response(&out).0.command.body, Body::GetConference { info: Some(i), .. } if i.user_list().len() == 1)
    );
    let (_, out) = m.info(
        ALICE,
        Body::GetEncryptionKey {
            keys: Some(Keys::conference(FOCUS)),
        },
    );
    let Body::GetEncryptionKey { keys: Some(k) } = &the_response(&out).0.command.body else {
        panic!()
    };
    assert_eq!(
        k.encryption_key
            .as_ref()
            .unwrap()
            .key
            .as_ref()
            .unwrap()
            .len(),
        32
    );
    let (_, out) = m.info(
        "sip:mallory@contoso.com",
        Body::GetEncryptionKey {
            keys: Some(Keys::conference(FOCUS)),
        },
    );
    assert_eq!(the_response(&out).0.reason, Some(Reason::Forbidden));

    // An attendee may not dial out someone else ([MS-OCER] 3015).
    m.join("sip:bob@contoso.com", "{B1}", Role::Attendee, true);
    let other = User {
        entity: "sip:frank@contoso.com".into(),
        endpoints: vec![Endpoint {
            entity: "{F1}".into(),
            joining_method: Some(JoiningMethod::DialedOut),
            ..Endpoint::default()
        }],
        ..User::default()
    };
    let av = av_uri();
    let (_, out) = m.send(
        "sip:bob@contoso.com",
        FOCUS,
        Carriage::Info,
        Body::AddUser {
            keys: Some(Keys::conference(FOCUS)),
            user: Some(Box::new(other)),
        },
        Some(&av),
    );
    assert_eq!(
        the_response(&out).1,
        Some(Diagnostic::NO_THIRD_PARTY_DIAL_OUT)
    );
}

#[test]
fn closed_conference_admits_invitees_and_lobbies_others() {
    let mut m = Meeting::new();
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            conference_id: Some("DESIGN01".into()),
            admission_policy: Some(AdmissionPolicy::ClosedAuthenticated),
            ..ConferenceDescription::default()
        }),
        users: Some(ocs_cccp::info::Users {
            users: vec![User::new("sip:bob@contoso.com", Role::Presenter)],
            ..Default::default()
        }),
        ..ConferenceInfo::default()
    };
    m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(info)),
        },
        None,
    );
    let (_, out) = m.join("sip:bob@contoso.com", "{B1}", Role::Attendee, false);
    let Body::AddUser { user: Some(u), .. } = &the_response(&out).0.command.body else {
        panic!()
    };
    assert_eq!(u.role(), Some(&Role::Presenter), "invited as presenter");
    let (carol, out) = m.join("sip:carol@contoso.com", "{C1}", Role::Attendee, true);
    assert_eq!(the_response(&out).0.code, Code::Pending);
    // Bob turns Carol away: her join fails.
    let (_, out) = m.info(
        "sip:bob@contoso.com",
        Body::SetLobbyAccess {
            keys: Some(Keys::conference(FOCUS)),
            users: vec!["sip:carol@contoso.com".into()],
            access: Some(LobbyAccess::Denied),
        },
    );
    let rs = responses(&out);
    let hers = rs.iter().find(|r| r.0 == carol).unwrap();
    assert_eq!(
        (hers.1.code, hers.1.reason.clone()),
        (Code::Failure, Some(Reason::Forbidden))
    );
    assert!(
        m.focus
            .conference(FOCUS)
            .unwrap()
            .user("sip:carol@contoso.com")
            .is_none()
    );
}

#[test]
fn mcu_failure_fails_the_waiting_request() {
    let mut m = Meeting::new();
    create(&mut m, "DESIGN01", None);
    m.drain();
    m.join(ALICE, "{A1}", Role::Presenter, true);
    let av = av_uri();
    let user = User {
        entity: ALICE.into(),
        endpoints: vec![Endpoint {
            entity: "{A2}".into(),
            ..Endpoint::default()
        }],
        ..User::default()
    };
    let (token, out) = m.send(
        ALICE,
        FOCUS,
        Carriage::Info,
        Body::AddUser {
            keys: Some(Keys::conference(FOCUS)),
            user: Some(Box::new(user)),
        },
        Some(&av),
    );
    let id = mcu_requests(&out)[0].0;
    m.focus.handle_mcu_failure(m.now, id);
    let out = m.drain();
    let rs = responses(&out);
    assert_eq!((rs[0].0, rs[0].1.code), (token, Code::Failure));
    assert!(notifications(&out, 1).is_empty());
    // A second answer for the same id is ignored.
    m.focus.handle_mcu_failure(m.now, id);
    assert!(m.drain().is_empty());
}

fn schedules(out: &[Output]) -> Vec<(&str, Option<&Scheduled>)> {
    out.iter()
        .filter_map(|o| match o {
            Output::Schedule { focus, conference } => Some((&**focus, conference.as_deref())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_scheduled_conference_survives_a_restart() {
    let mut m = Meeting::new();
    // Created with an invitee and a subject: the store is told.
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            conference_id: Some("DESIGN01".into()),
            subject: Some("Design review".into()),
            expiry_time: Some(DateTime::from_timestamp(T0.plus(7200))),
            admission_policy: Some(AdmissionPolicy::ClosedAuthenticated),
            ..ConferenceDescription::default()
        }),
        users: Some(ocs_cccp::info::Users {
            users: vec![User::new("sip:bob@contoso.com", Role::Presenter)],
            ..Default::default()
        }),
        ..ConferenceInfo::default()
    };
    let (_, out) = m.send(
        ALICE,
        FACTORY,
        Carriage::Service,
        Body::AddConference {
            info: Some(Box::new(info)),
        },
        None,
    );
    let s = schedules(&out);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].0, FOCUS);
    let record = s[0].1.unwrap().clone();
    assert_eq!(Some(record.clone()), m.focus.scheduled(FOCUS));
    // A change of the description is told too; joining is not (sessions do not survive).
    let (_, out) = m.info(
        ALICE,
        Body::ModifyConference {
            info: Some(Box::new(ConferenceInfo {
                entity: FOCUS.into(),
                description: Some(ConferenceDescription {
                    subject: Some("Design review, v2".into()),
                    ..ConferenceDescription::default()
                }),
                ..ConferenceInfo::default()
            })),
        },
    );
    let record = schedules(&out)[0].1.unwrap().clone();
    let (_, out) = m.join(ALICE, "{A1}", Role::Presenter, true);
    assert!(schedules(&out).is_empty());
    let key = |f: &mut Meeting| {
        let (_, out) = f.info(
            ALICE,
            Body::GetEncryptionKey {
                keys: Some(Keys::conference(FOCUS)),
            },
        );
        let (r, _) = the_response(&out);
        let Body::GetEncryptionKey { keys: Some(k) } = &r.command.body else {
            panic!("{r:?}")
        };
        k.encryption_key.as_ref().unwrap().key.clone().unwrap()
    };
    let before = key(&mut m);

    // The record goes through its wire form, as a store keeps it, into a new focus.
    let stored = Scheduled {
        info: ConferenceInfo::parse(record.info.to_bytes()).unwrap(),
        key: record.key,
    };
    let mut after = Meeting::new();
    after.now = T0.plus(3600);
    assert_eq!(
        after.focus.restore(after.now, &stored).as_deref(),
        Ok(FOCUS)
    );
    let out = after.drain();
    assert_eq!(mcu_requests(&out).len(), 3, "the MCUs hear of it again");
    assert!(schedules(&out).is_empty(), "the store has it");
    let c = after.focus.conference(FOCUS).unwrap();
    let d = c.description.as_ref().unwrap();
    assert_eq!(d.subject.as_deref(), Some("Design review, v2"));
    assert_eq!(
        d.admission_policy,
        Some(AdmissionPolicy::ClosedAuthenticated)
    );
    assert_eq!(d.expiry_time.as_ref().unwrap().at, T0.plus(7200));
    assert!(c.user_list().is_empty());
    assert_eq!(after.focus.poll_timeout(), Some(T0.plus(7200)));
    // The organizer joins again, the invitee keeps his role, the key is the same.
    let (_, out) = after.join(ALICE, "{A2}", Role::Attendee, true);
    assert_eq!(the_response(&out).0.code, Code::Success);
    let (_, out) = after.join("sip:bob@contoso.com", "{B1}", Role::Attendee, false);
    assert_eq!(
        the_response(&out).0.code,
        Code::Success,
        "invited: admitted"
    );
    let bob = after
        .focus
        .conference(FOCUS)
        .unwrap()
        .user("sip:bob@contoso.com")
        .unwrap()
        .role()
        .cloned();
    assert_eq!(bob, Some(Role::Presenter));
    assert_eq!(key(&mut after), before);
    // Restoring twice, or after the expiry, is refused.
    assert_eq!(
        after.focus.restore(after.now, &stored),
        Err(RestoreError::Exists)
    );
    let mut late = Meeting::new();
    assert_eq!(
        late.focus.restore(T0.plus(7200), &stored),
        Err(RestoreError::Expired)
    );
    let mut bad = stored.clone();
    bad.info.entity = FACTORY.into();
    assert!(matches!(
        late.focus.restore(T0, &bad),
        Err(RestoreError::NotAFocus(_))
    ));
    // Deletion tells the store to forget it.
    let (_, out) = after.info(
        ALICE,
        Body::DeleteConference {
            keys: Some(Keys::conference(FOCUS)),
            info: None,
        },
    );
    assert_eq!(schedules(&out), vec![(FOCUS, None)]);
}
