//! Who is in a conference ([MS-CONFBAS] 2.2.3.3, 2.2.3.4, 2.2.3.15): `addUser` (a join
//! through the focus with its role, admission policy and lobby; a dial-in or dial-out at an
//! MCU), `deleteUser`, `modifyConferenceLock` and `setLobbyAccess`.

use bytestring::ByteString;

use crate::info::{
    AdmissionPolicy, ClientInfo, ConferenceState, Endpoint, EndpointStatus, Execution,
    JoiningMethod, Role, User, Users,
};
use crate::message::{Body, Code, Keys, LobbyAccess, Reason, Request, Response};
use crate::time::{DateTime, Timestamp};
use crate::uri::McuType;

use super::mcu::Pending;
use super::{Carriage, Conference, Diagnostic, Fail, Focus, Key, Origin, Waiting, same_user};

impl Focus {
    pub(super) fn add_user(
        &mut self,
        token: u64,
        now: Timestamp,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        user: Option<&User>,
    ) -> Result<Option<Response>, Fail> {
        let Some(user) = user else {
            return Err(Fail(
                Reason::InvalidUserEntity,
                Some(Diagnostic::ADD_USER_INVALID),
            ));
        };
        if user.entity.is_empty() {
            return Err(Fail(
                Reason::InvalidUserEntity,
                Some(Diagnostic::ADD_USER_INVALID),
            ));
        }
        let key = self.find(origin, req)?;
        if let Some(e) = keys.and_then(|k| k.conf_entity.as_ref())
            && !same_user(e, &req.to)
            && req.command.mcu_uri.is_none()
            && origin.carriage == Carriage::Invite
        {
            return Err(Fail(
                Reason::ConferenceDoesNotExist,
                Some(Diagnostic::INVALID_CONFERENCE_ENTITY),
            ));
        }
        let endpoint = user.endpoints.first();
        if endpoint.is_some_and(|e| e.entity.trim().is_empty()) {
            return Err(Fail(
                Reason::EndpointDoesNotExist,
                Some(Diagnostic::MALFORMED_ENDPOINT),
            ));
        }
        if let Some(mcu_uri) = req.command.mcu_uri.clone() {
            return self.add_user_at_mcu(token, origin, req, &key, user, &mcu_uri);
        }
        // A join through the focus.
        if !same_user(&user.entity, &origin.sender) {
            return Err(Fail(
                Reason::InvalidUserEntity,
                Some(Diagnostic::INVALID_TARGET_USER),
            ));
        }
        let c = self.conf(&key);
        if c.expired && c.info.user_list().is_empty() {
            return Err(Fail::no_conference());
        }
        let me = &origin.sender;
        let already = c.info.user(me).is_some();
        if !already && c.info.user_list().len() >= self.config.max_users {
            return Err(Fail(Reason::MaximumMeetingSizeExceeded, None));
        }
        let invited = c
            .invited
            .iter()
            .find(|(u, _)| same_user(u, me))
            .map(|(_, r)| r.clone());
        let role = if Self::is_organizer(c, me) {
            Role::Presenter
        } else if let Some(existing) = c.info.user(me).and_then(|u| u.role().cloned()) {
            existing
        } else {
            invited.clone().unwrap_or(Role::Attendee)
        };
        let policy = c
            .info
            .description
            .as_ref()
            .and_then(|d| d.admission_policy.clone());
        let leader = role.is_leader();
        let closed = policy == Some(AdmissionPolicy::ClosedAuthenticated) && invited.is_none();
        let admitted = leader || !(c.info.locked() || closed);
        let ep_entity = endpoint.map_or_else(|| user.entity.clone(), |e| e.entity.clone());
        let client_info = endpoint
            .and_then(|e| e.client_info.clone())
            .or_else(|| user.client_info.clone());
        let lobby_capable = client_info
            .as_ref()
            .and_then(|ci| ci.lobby_capable)
            .unwrap_or(false);
        if !admitted && !lobby_capable {
            return Err(Fail::forbidden());
        }
        let status = if admitted {
            EndpointStatus::Connected
        } else {
            EndpointStatus::OnHold
        };
        let entity = user.entity.clone();
        let display = user.display_text.clone();
        let focus_ep = Endpoint {
            entity: ep_entity.clone(),
            session_type: Some(ByteString::from_static("focus")),
            status: Some(status),
            joining_method: Some(JoiningMethod::DialedIn),
            joining_info: Some(Box::new(Execution {
                when: Some(DateTime::from_timestamp(now)),
                ..Execution::default()
            })),
            ..Endpoint::default()
        };
        let role2 = role.clone();
        self.change(&key, |c| {
            let users = &mut c.info.users.get_or_insert_with(Users::default).users;
            match users.iter_mut().find(|u| same_user(&u.entity, &entity)) {
                Some(u) => {
                    u.roles = Some(vec![role2.clone()]);
                    match u.endpoints.iter_mut().find(|e| e.entity == focus_ep.entity) {
                        Some(e) => *e = focus_ep.clone(),
                        None => u.endpoints.insert(0, focus_ep.clone()),
                    }
                }
                None => users.push(User {
                    entity: entity.clone(),
                    display_text: display.clone(),
                    roles: Some(vec![role2.clone()]),
                    endpoints: vec![focus_ep.clone()],
                    ..User::default()
                }),
            }
            Self::refresh_counts(c);
        });
        // [MS-CONFBAS] 2.2.3.4: the granted role, the endpoint, and clientInfo in the user.
        let answer = User {
            entity: user.entity.clone(),
            roles: Some(vec![role]),
            endpoints: vec![Endpoint {
                entity: ep_entity,
                ..Endpoint::default()
            }],
            client_info: Some(ClientInfo {
                lobby_capable: Some(lobby_capable),
                ..ClientInfo::default()
            }),
            ..User::default()
        };
        let code = if admitted {
            Code::Success
        } else {
            Code::Pending
        };
        let resp = req.respond(
            code,
            Body::AddUser {
                keys: keys.cloned(),
                user: Some(Box::new(answer)),
            },
        );
        if !admitted && let Some(c) = self.conferences.get_mut(&key) {
            c.lobby.retain(|w| !same_user(&w.user, &user.entity));
            c.lobby.push(Waiting {
                token,
                request: req.clone(),
                user: user.entity.clone(),
            });
        }
        Ok(Some(resp))
    }

    fn add_user_at_mcu(
        &mut self,
        token: u64,
        origin: &Origin,
        req: &Request,
        key: &Key,
        user: &User,
        mcu_uri: &str,
    ) -> Result<Option<Response>, Fail> {
        let c = self.conf(key);
        let (t, u) = Self::mcu_of(c, mcu_uri)?;
        let method = user
            .endpoints
            .first()
            .and_then(|e| e.joining_method.clone());
        let dial_out = method == Some(JoiningMethod::DialedOut);
        let me = &origin.sender;
        if dial_out {
            // [MS-CONFBAS] 2.2.3.15: dial-out through the IM or A/V MCU only.
            if !matches!(t, McuType::AudioVideo | McuType::Chat) {
                return Err(Fail(
                    Reason::McuTypeNotAvailable,
                    Some(Diagnostic::INVALID_MCU_URI),
                ));
            }
            if !same_user(&user.entity, me) && !Self::is_leader(c, me) {
                return Err(Fail(
                    Reason::Forbidden,
                    Some(Diagnostic::NO_THIRD_PARTY_DIAL_OUT),
                ));
            }
        } else {
            if !same_user(&user.entity, me) {
                return Err(Fail(
                    Reason::InvalidUserEntity,
                    Some(Diagnostic::INVALID_TARGET_USER),
                ));
            }
            let in_focus = c.info.user_list().iter().any(|x| {
                same_user(&x.entity, me)
                    && x.endpoints
                        .iter()
                        .any(|e| e.status == Some(EndpointStatus::Connected))
            });
            if !in_focus {
                return Err(Fail::forbidden());
            }
        }
        let role = c
            .info
            .user(&user.entity)
            .and_then(|x| x.role().cloned())
            .unwrap_or(Role::Attendee);
        let mut fwd_user = user.clone();
        fwd_user.roles = Some(vec![role]);
        let body = Body::AddUser {
            keys: Some(Keys::conference(u.clone())),
            user: Some(Box::new(fwd_user)),
        };
        let focus = c.focus.clone();
        let pending = Pending::AddUser {
            token,
            conf: key.clone(),
            request: Box::new(req.clone()),
            user: user.entity.clone(),
            mcu: t.clone(),
        };
        self.mcu_request(t, u, &focus, body, pending);
        Ok(None)
    }

    pub(super) fn refresh_counts(c: &mut Conference) {
        let connected = c
            .info
            .user_list()
            .iter()
            .filter(|u| {
                u.endpoints
                    .iter()
                    .any(|e| e.status == Some(EndpointStatus::Connected))
            })
            .count();
        let s = c
            .info
            .conference_state
            .get_or_insert_with(ConferenceState::default);
        s.user_count = Some(u32::try_from(connected).unwrap_or(u32::MAX));
        s.active = Some(connected > 0);
    }

    pub(super) fn delete_user(
        &mut self,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
    ) -> Result<Response, Fail> {
        let key = self.find(origin, req)?;
        let target = keys
            .and_then(|k| k.user_entity.clone())
            .unwrap_or_else(|| origin.sender.clone());
        let c = self.conf(&key);
        let me = &origin.sender;
        if !same_user(&target, me) && !Self::is_leader(c, me) {
            return Err(Fail::forbidden());
        }
        let Some(user) = c.info.user(&target).cloned() else {
            return Err(Fail(Reason::InvalidUserEntity, None));
        };
        let focus = c.focus.clone();
        let mcus = c.mcus.clone();
        // Tell each MCU the user is connected to; with mcuUri, only that one.
        let only = match &req.command.mcu_uri {
            Some(m) => Some(Self::mcu_of(c, m)?.0),
            None => None,
        };
        for (t, u) in &mcus {
            let connected = user
                .endpoints
                .iter()
                .any(|e| e.session_type.as_deref() == Some(t.as_str()));
            if connected && only.as_ref().is_none_or(|o| o == t) {
                let body = Body::DeleteUser {
                    keys: Some(Keys::user(u.clone(), user.entity.clone())),
                };
                self.mcu_request(t.clone(), u.clone(), &focus, body, Pending::Quiet);
            }
        }
        let waiting: Vec<Waiting> = if only.is_none() {
            let c = self
                .conferences
                .get_mut(&key)
                .ok_or_else(Fail::no_conference)?;
            let (w, keep): (Vec<Waiting>, Vec<Waiting>) = c
                .lobby
                .drain(..)
                .partition(|w| same_user(&w.user, &user.entity));
            c.lobby = keep;
            w
        } else {
            Vec::new()
        };
        for w in waiting {
            let r = w.request.fail(Reason::Forbidden);
            self.respond(w.token, r, Some(Diagnostic::FAILED_AUTHORIZATION));
        }
        self.change(&key, |c| {
            let users = &mut c.info.users.get_or_insert_with(Users::default).users;
            match &only {
                None => users.retain(|u| !same_user(&u.entity, &user.entity)),
                Some(t) => {
                    if let Some(u) = c.info.user_mut(&user.entity) {
                        u.endpoints
                            .retain(|e| e.session_type.as_deref() != Some(t.as_str()));
                    }
                }
            }
            Self::refresh_counts(c);
        });
        let gone = self
            .conferences
            .get(&key)
            .is_some_and(|c| c.expired && c.info.user_list().is_empty());
        if gone {
            self.delete(&key);
        }
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }

    pub(super) fn modify_lock(
        &mut self,
        origin: &Origin,
        req: &Request,
        locked: Option<bool>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let c = self.conf(&key);
        let locked = locked.ok_or(Fail(Reason::OtherFailure, Some(Diagnostic::PARSE_FAILED)))?;
        let focus = c.focus.clone();
        for (t, u) in c.mcus.clone() {
            let body = Body::ModifyConferenceLock {
                keys: Some(Keys::conference(u.clone())),
                locked: Some(locked),
            };
            self.mcu_request(t, u, &focus, body, Pending::Quiet);
        }
        self.change(&key, |c| {
            c.info
                .conference_state
                .get_or_insert_with(Default::default)
                .locked = Some(locked);
            if let Some(v) = c.info.conference_view.as_mut() {
                for ev in &mut v.entity_views {
                    ev.entity_state.get_or_insert_with(Default::default).locked = Some(locked);
                }
            }
        });
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }

    pub(super) fn set_lobby_access(
        &mut self,
        now: Timestamp,
        origin: &Origin,
        req: &Request,
        users: &[ByteString],
        access: Option<&LobbyAccess>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let grant = match access {
            Some(LobbyAccess::Granted) => true,
            Some(LobbyAccess::Denied) => false,
            _ => return Err(Fail(Reason::OtherFailure, Some(Diagnostic::PARSE_FAILED))),
        };
        let c = self
            .conferences
            .get_mut(&key)
            .ok_or_else(Fail::no_conference)?;
        let (decided, keep): (Vec<Waiting>, Vec<Waiting>) = c
            .lobby
            .drain(..)
            .partition(|w| users.iter().any(|u| same_user(u, &w.user)));
        c.lobby = keep;
        if decided.is_empty() {
            return Err(Fail(Reason::InvalidUserEntity, None));
        }
        let entities: Vec<ByteString> = decided.iter().map(|w| w.user.clone()).collect();
        self.change(&key, |c| {
            let list = &mut c.info.users.get_or_insert_with(Users::default).users;
            if grant {
                for u in list
                    .iter_mut()
                    .filter(|u| entities.iter().any(|e| same_user(e, &u.entity)))
                {
                    for e in &mut u.endpoints {
                        if e.status == Some(EndpointStatus::OnHold) {
                            e.status = Some(EndpointStatus::Connected);
                            e.joining_info = Some(Box::new(Execution {
                                when: Some(DateTime::from_timestamp(now)),
                                by: Some(origin.sender.clone()),
                                ..Execution::default()
                            }));
                        }
                    }
                }
            } else {
                list.retain(|u| !entities.iter().any(|e| same_user(e, &u.entity)));
            }
            Self::refresh_counts(c);
        });
        for w in decided {
            if grant {
                let Body::AddUser { keys, user } = &w.request.command.body else {
                    continue;
                };
                let role = self
                    .conferences
                    .get(&key)
                    .and_then(|c| c.info.user(&w.user))
                    .and_then(|u| u.role().cloned())
                    .unwrap_or(Role::Attendee);
                let answer = User {
                    entity: w.user.clone(),
                    roles: Some(vec![role]),
                    endpoints: user
                        .as_ref()
                        .and_then(|u| u.endpoints.first())
                        .map(|e| Endpoint {
                            entity: e.entity.clone(),
                            ..Endpoint::default()
                        })
                        .into_iter()
                        .collect(),
                    client_info: Some(ClientInfo {
                        lobby_capable: Some(true),
                        ..ClientInfo::default()
                    }),
                    ..User::default()
                };
                let r = w.request.respond(
                    Code::Success,
                    Body::AddUser {
                        keys: keys.clone(),
                        user: Some(Box::new(answer)),
                    },
                );
                self.respond(w.token, r, None);
            } else {
                let r = w.request.fail(Reason::Forbidden);
                self.respond(w.token, r, Some(Diagnostic::FAILED_AUTHORIZATION));
            }
        }
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }
}
