//! Entry points for the fuzz targets in `fuzz/` and for replaying their inputs under
//! `cargo test`. The library must not panic, whatever the bytes; the assertions here are the
//! oracles (a document that parses writes back to itself; a subscriber tracking the focus holds
//! the focus's state), and a failing one is a bug.

use bytestring::ByteString;

use crate::focus::{Carriage, Focus, FocusConfig, Origin, Output, RestoreError};
use crate::info::{
    ClientInfo, ConferenceDescription, ConferenceInfo, Endpoint, Filter, JoiningMethod, Media,
    MediaStatus, Role, User,
};
use crate::message::{Body, Keys, LobbyAccess, Message, Request, Response};
use crate::state::Tracker;
use crate::time::Timestamp;

/// A C3P document: if it parses, it writes back to an equal document.
pub fn c3p_message(data: &[u8]) {
    let Ok(m) = Message::parse(data.to_vec()) else {
        return;
    };
    let mut out = Vec::new();
    m.write(&mut out);
    let again = Message::parse(out);
    assert_eq!(
        again.as_ref().ok(),
        Some(&m),
        "C3P document does not survive a rewrite: {again:?}"
    );
}

/// A conference-info document: it writes back to itself, and a tracker takes it.
pub fn conference_info(data: &[u8]) {
    let Ok(ci) = ConferenceInfo::parse(data.to_vec()) else {
        return;
    };
    let again = ConferenceInfo::parse(ci.to_bytes());
    assert_eq!(
        again.as_ref().ok(),
        Some(&ci),
        "conference-info does not survive a rewrite"
    );
    let mut t = Tracker::new();
    let _ = t.apply(&ci);
    let _ = t.apply(&ci);
    let mut base = ConferenceInfo::new(ci.entity.clone());
    crate::state::apply(&mut base, &ci);
    let _ = crate::state::delta(&base, &ci);
}

const USERS: [&str; 4] = [
    "sip:alice@contoso.com",
    "sip:bob@contoso.com",
    "sip:carol@contoso.com",
    "sip:dave@contoso.com",
];
const FACTORY: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:FUZZCONF";
const AV: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:FUZZCONF";

struct Driver {
    focus: Focus,
    now: Timestamp,
    token: u64,
    trackers: Vec<(u64, Tracker)>,
    mcu: Vec<(u64, Request)>,
}

impl Driver {
    fn send(&mut self, who: usize, to: &str, carriage: Carriage, body: Body, mcu: Option<&str>) {
        self.token += 1;
        let mut req = Request::new(self.token, USERS[who % 4], to, body);
        req.command.mcu_uri = mcu.map(ByteString::from);
        let origin = Origin {
            sender: ByteString::from(USERS[who % 4]),
            target: ByteString::from(to),
            carriage,
        };
        self.focus
            .handle_request(self.now, self.token, &origin, req);
    }

    fn drain(&mut self) {
        while let Some(o) = self.focus.poll_output() {
            match o {
                Output::Response { response, .. } => {
                    assert_eq!(Response::parse(response.to_bytes()).ok(), Some(response));
                }
                Output::Schedule {
                    conference: Some(s),
                    ..
                } => {
                    // What a store keeps reads back, and schedules the same conference again.
                    let info = ConferenceInfo::parse(s.info.to_bytes());
                    assert_eq!(info.as_ref().ok(), Some(&s.info));
                    let mut other = Focus::new(FocusConfig::default(), crate::rng::NotRandom(1));
                    if let Err(e) = other.restore(self.now, &s) {
                        assert!(matches!(e, RestoreError::Expired), "{e}");
                    }
                }
                Output::Schedule { .. } => {}
                Output::McuRequest { id, request, .. } => {
                    assert_eq!(
                        Request::parse(request.to_bytes()).ok().as_ref(),
                        Some(&request)
                    );
                    if self.mcu.len() < 64 {
                        self.mcu.push((id, request));
                    }
                }
                Output::Notify {
                    subscriber,
                    document,
                    terminated,
                } => {
                    let wire = ConferenceInfo::parse(document.to_bytes());
                    assert_eq!(wire.as_ref().ok(), Some(&document));
                    if let Some((_, t)) = self.trackers.iter_mut().find(|(s, _)| *s == subscriber) {
                        t.apply(&document)
                            .expect("a subscriber of the focus never misses a version");
                    }
                    if terminated {
                        self.trackers.retain(|(s, _)| *s != subscriber);
                    }
                }
            }
        }
        // Every subscriber holds the focus's state.
        let current = self.focus.conference(FOCUS).cloned();
        for (_, t) in &self.trackers {
            let mut held = t.state().cloned();
            if let Some(h) = held.as_mut() {
                h.version = None;
            }
            assert_eq!(held, current, "a tracker's state differs from the focus's");
        }
    }

    fn create(&mut self) {
        let info = ConferenceInfo {
            description: Some(ConferenceDescription {
                conference_id: Some(ByteString::from_static("FUZZCONF")),
                ..ConferenceDescription::default()
            }),
            ..ConferenceInfo::default()
        };
        self.send(
            0,
            FACTORY,
            Carriage::Service,
            Body::AddConference {
                info: Some(Box::new(info)),
            },
            None,
        );
    }
}

/// A focus driven by byte-chosen operations (join, leave, roles, lock, lobby, subscriptions,
/// dial-in, media, MCU answers, time, deletion, raw C3P documents), at most 200 of them. After
/// each one every output must survive the wire and every subscriber's tracker must equal the
/// focus's state.
pub fn focus(data: &[u8]) {
    let mut d = Driver {
        focus: Focus::new(FocusConfig::default(), crate::rng::NotRandom(7)),
        now: Timestamp(1_700_000_000),
        token: 0,
        trackers: Vec::new(),
        mcu: Vec::new(),
    };
    d.create();
    d.drain();
    let mut bytes = data.iter().copied();
    let mut next = move || bytes.next();
    let mut steps = 0;
    while let Some(op) = next() {
        steps += 1;
        if steps > 200 {
            break;
        }
        let a = usize::from(next().unwrap_or(0));
        let b = usize::from(next().unwrap_or(0));
        let who = a % 4;
        let other = b % 4;
        match op % 16 {
            0 => {
                let user = User {
                    entity: ByteString::from(USERS[who]),
                    roles: Some(vec![if b & 1 == 0 {
                        Role::Attendee
                    } else {
                        Role::Presenter
                    }]),
                    endpoints: vec![Endpoint {
                        entity: ByteString::from(format!("{{EP-{who}}}")),
                        client_info: Some(ClientInfo {
                            lobby_capable: Some(b & 2 == 0),
                            ..ClientInfo::default()
                        }),
                        ..Endpoint::default()
                    }],
                    ..User::default()
                };
                d.send(
                    who,
                    FOCUS,
                    Carriage::Invite,
                    Body::AddUser {
                        keys: Some(Keys::conference(FOCUS)),
                        user: Some(Box::new(user)),
                    },
                    None,
                );
            }
            1 => d.send(
                who,
                FOCUS,
                Carriage::Info,
                Body::DeleteUser {
                    keys: Some(Keys::user(FOCUS, USERS[other])),
                },
                None,
            ),
            2 => {
                let role = [Role::Attendee, Role::Presenter, Role::Organizer][b % 3].clone();
                d.send(
                    who,
                    FOCUS,
                    Carriage::Info,
                    Body::ModifyUserRoles {
                        keys: Some(Keys::user(FOCUS, USERS[other])),
                        roles: Some(vec![role]),
                    },
                    None,
                );
            }
            3 => d.send(
                who,
                FOCUS,
                Carriage::Info,
                Body::ModifyConferenceLock {
                    keys: Some(Keys::conference(FOCUS)),
                    locked: Some(b & 1 == 1),
                },
                None,
            ),
            4 => {
                let access = if b & 4 == 0 {
                    LobbyAccess::Granted
                } else {
                    LobbyAccess::Denied
                };
                let body = Body::SetLobbyAccess {
                    keys: Some(Keys::conference(FOCUS)),
                    users: vec![ByteString::from(USERS[other])],
                    access: Some(access),
                };
                d.send(who, FOCUS, Carriage::Info, body, None);
            }
            5 => {
                let id = (b % 6) as u64;
                if d.focus.subscribe(id, FOCUS, USERS[who]).is_ok()
                    && !d.trackers.iter().any(|(s, _)| *s == id)
                {
                    d.trackers.push((id, Tracker::new()));
                }
            }
            6 => {
                let id = (b % 6) as u64;
                d.focus.unsubscribe(id);
                d.trackers.retain(|(s, _)| *s != id);
            }
            7 => {
                let user = User {
                    entity: ByteString::from(USERS[who]),
                    endpoints: vec![Endpoint {
                        entity: ByteString::from(format!("{{AV-{who}}}")),
                        joining_method: Some(if b & 1 == 0 {
                            JoiningMethod::DialedIn
                        } else {
                            JoiningMethod::DialedOut
                        }),
                        ..Endpoint::default()
                    }],
                    ..User::default()
                };
                d.send(
                    who,
                    FOCUS,
                    Carriage::Info,
                    Body::AddUser {
                        keys: Some(Keys::conference(FOCUS)),
                        user: Some(Box::new(user)),
                    },
                    Some(AV),
                );
            }
            8 => {
                if !d.mcu.is_empty() {
                    let (id, req) = d.mcu.remove(b % d.mcu.len());
                    if a & 1 == 0 {
                        let body = match &req.command.body {
                            Body::AddUser { keys, user } => Body::AddUser {
                                keys: keys.clone(),
                                user: user.clone(),
                            },
                            other => other.echo(),
                        };
                        let resp = req.respond(crate::message::Code::Success, body);
                        d.focus.handle_mcu_response(d.now, id, &resp);
                    } else {
                        d.focus.handle_mcu_failure(d.now, id);
                    }
                }
            }
            9 => {
                let keys = Keys {
                    conf_entity: Some(ByteString::from(FOCUS)),
                    user_entity: Some(ByteString::from(USERS[other])),
                    endpoint_entity: Some(ByteString::from(format!("{{AV-{other}}}"))),
                    media_id: Some(ByteString::from(format!("{}", 1 + b % 2))),
                    ..Keys::default()
                };
                let media = Media {
                    id: ByteString::from_static("1"),
                    status: Some(if a & 1 == 0 {
                        MediaStatus::RecvOnly
                    } else {
                        MediaStatus::SendRecv
                    }),
                    ingress_filter: Some(if a & 2 == 0 {
                        Filter::Block
                    } else {
                        Filter::Unblock
                    }),
                    ..Media::default()
                };
                d.send(
                    who,
                    FOCUS,
                    Carriage::Info,
                    Body::ModifyEndpointMedia {
                        keys: Some(keys),
                        media: Some(Box::new(media)),
                    },
                    None,
                );
            }
            10 => {
                d.now = d.now.plus((a as i64) * 600);
                d.focus.handle_timeout(d.now);
            }
            11 => {
                let info = ConferenceInfo {
                    entity: ByteString::from(FOCUS),
                    state: crate::info::State::Partial,
                    description: Some(ConferenceDescription {
                        subject: Some(ByteString::from(format!("subject {b}"))),
                        ..ConferenceDescription::default()
                    }),
                    ..ConferenceInfo::default()
                };
                d.send(
                    who,
                    FOCUS,
                    Carriage::Info,
                    Body::ModifyConference {
                        info: Some(Box::new(info)),
                    },
                    None,
                );
            }
            12 => d.send(
                who,
                FACTORY,
                Carriage::Service,
                Body::DeleteConference {
                    keys: Some(Keys::conference(FOCUS)),
                    info: None,
                },
                None,
            ),
            13 => d.create(),
            14 => {
                // A raw C3P document from the following bytes.
                let mut doc = Vec::with_capacity(b);
                for _ in 0..b {
                    match next() {
                        Some(x) => doc.push(x),
                        None => break,
                    }
                }
                if let Ok(Message::Request(r)) = Message::parse(doc) {
                    let origin = Origin {
                        sender: r.from.clone(),
                        target: r.to.clone(),
                        carriage: [Carriage::Service, Carriage::Invite, Carriage::Info][a % 3],
                    };
                    d.token += 1;
                    d.focus.handle_request(d.now, d.token, &origin, r);
                }
            }
            _ => {
                let keys = Keys::conference(FOCUS);
                let body = match b % 4 {
                    0 => Body::GetConference {
                        keys: Some(keys),
                        info: None,
                    },
                    1 => Body::GetEncryptionKey { keys: Some(keys) },
                    2 => Body::GetConferences { infos: Vec::new() },
                    _ => Body::ModifyEndpointRole {
                        keys: Some(Keys {
                            endpoint_entity: Some(ByteString::from(format!("{{EP-{other}}}"))),
                            ..Keys::user(FOCUS, USERS[other])
                        }),
                        roles: Some(vec![Role::Presenter]),
                    },
                };
                d.send(who, FOCUS, Carriage::Info, body, None);
            }
        }
        d.drain();
    }
}
