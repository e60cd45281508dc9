//! The focus's C3P requests to the MCUs ([MS-CONFBAS] 3.2) and their answers: correlation,
//! MCU URIs of a conference, `modifyEndpointMedia` ([MS-CONFAV] 3.2.5.4), the endpoint an
//! MCU's `addUser` answer adds ([MS-CONFBAS] 2.2.3.18), and failures.

use bytestring::ByteString;

use crate::info::{
    ConferenceMedium, EndpointStatus, Execution, JoiningMethod, Media, Role, State, User, Users,
};
use crate::message::{Body, Code, Keys, Reason, Request, Response};
use crate::time::{DateTime, Timestamp};
use crate::uri::{ConferenceUri, McuType, UriKind};

use super::{Conference, Diagnostic, Fail, Focus, Key, Origin, Output, same_user};

/// Who waits for the answer to an MCU request, and what it changes.
#[derive(Debug, Clone)]
pub(super) enum Pending {
    /// Nobody waits for the answer.
    Quiet,
    /// A dial-in or dial-out: relay the answer and record the endpoint.
    AddUser {
        token: u64,
        conf: Key,
        request: Box<Request>,
        user: ByteString,
        mcu: McuType,
    },
    /// A media change: relay and record.
    Media {
        token: u64,
        conf: Key,
        request: Box<Request>,
        user: ByteString,
        endpoint: ByteString,
        media: Box<Media>,
    },
    /// Relay the answer only.
    Relay { token: u64, request: Box<Request> },
}

impl Focus {
    pub(super) fn mcu_request(
        &mut self,
        mcu: McuType,
        mcu_uri: ByteString,
        from: &ByteString,
        body: Body,
        pending: Pending,
    ) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut request = Request::new(id, from.clone(), mcu_uri.clone(), body);
        request.command.mcu_uri = Some(mcu_uri.clone());
        self.pending.insert(id, pending);
        self.outputs.push_back(Output::McuRequest {
            id,
            mcu,
            mcu_uri,
            request,
        });
        id
    }

    pub(super) fn mcu_of(c: &Conference, mcu_uri: &str) -> Result<(McuType, ByteString), Fail> {
        let invalid = || {
            Fail(
                Reason::McuTypeNotAvailable,
                Some(Diagnostic::INVALID_MCU_URI),
            )
        };
        let u = ConferenceUri::parse(mcu_uri).map_err(|_| invalid())?;
        let UriKind::Mcu(_) = u.kind else {
            return Err(invalid());
        };
        if u.to_focus().key() != c.uri.key() {
            return Err(invalid());
        }
        c.mcus
            .iter()
            .find(|(_, m)| {
                ConferenceUri::parse(m)
                    .is_ok_and(|x| x == u || x.key() == u.key() && x.kind == u.kind)
            })
            .cloned()
            .ok_or_else(invalid)
    }

    pub(super) fn modify_endpoint_media(
        &mut self,
        token: u64,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        media: Option<&Media>,
    ) -> Result<Option<Response>, Fail> {
        let key = self.find(origin, req)?;
        let c = self.conf(&key);
        let k = keys.cloned().unwrap_or_default();
        let (Some(user), Some(ep), Some(mid)) = (
            k.user_entity.clone(),
            k.endpoint_entity.clone(),
            k.media_id.clone(),
        ) else {
            return Err(Fail(Reason::MediaDoesNotExist, None));
        };
        if !same_user(&user, &origin.sender) && !Self::is_leader(c, &origin.sender) {
            return Err(Fail::forbidden());
        }
        let Some(endpoint) = c.info.user(&user).and_then(|u| u.endpoint(&ep)).cloned() else {
            return Err(Fail(Reason::EndpointDoesNotExist, None));
        };
        let Some(current) = endpoint.media.iter().find(|m| m.id == mid).cloned() else {
            return Err(Fail(Reason::MediaDoesNotExist, None));
        };
        let (t, u) = match &req.command.mcu_uri {
            Some(m) => Self::mcu_of(c, m)?,
            None => c
                .mcus
                .iter()
                .find(|(t, _)| endpoint.session_type.as_deref() == Some(t.as_str()))
                .cloned()
                .ok_or(Fail(
                    Reason::McuTypeNotAvailable,
                    Some(Diagnostic::INVALID_MCU_URI),
                ))?,
        };
        let change = media.cloned().unwrap_or_default();
        let mut updated = current;
        if change.status.is_some() {
            updated.status = change.status.clone();
        }
        if change.ingress_filter.is_some() {
            updated.ingress_filter = change.ingress_filter.clone();
        }
        if change.egress_filter.is_some() {
            updated.egress_filter = change.egress_filter.clone();
        }
        let mut fk = k.clone();
        fk.conf_entity = Some(u.clone());
        let focus = c.focus.clone();
        let pending = Pending::Media {
            token,
            conf: key.clone(),
            request: Box::new(req.clone()),
            user,
            endpoint: ep,
            media: Box::new(updated),
        };
        self.mcu_request(
            t,
            u,
            &focus,
            Body::ModifyEndpointMedia {
                keys: Some(fk),
                media: Some(Box::new(change)),
            },
            pending,
        );
        Ok(None)
    }

    /// Handles the answer of an MCU to [`Output::McuRequest`] `id`.
    pub fn handle_mcu_response(&mut self, now: Timestamp, id: u64, response: &Response) {
        let Some(p) = self.pending.remove(&id) else {
            return;
        };
        match p {
            Pending::Quiet => {}
            Pending::Relay { token, request } => {
                let mut r = request.respond(response.code, response.command.body.clone());
                r.reason.clone_from(&response.reason);
                self.respond(token, r, None);
            }
            Pending::AddUser {
                token,
                conf,
                request,
                user,
                mcu,
            } => {
                let mut r = request.respond(response.code, response.command.body.clone());
                r.reason.clone_from(&response.reason);
                if let Body::AddUser { keys, .. } = &mut r.command.body {
                    *keys = request.command.body.keys().cloned();
                }
                if response.code == Code::Success {
                    let asked = match &request.command.body {
                        Body::AddUser { user: Some(u), .. } => u.endpoints.first().cloned(),
                        _ => None,
                    };
                    let answered = match &response.command.body {
                        Body::AddUser { user: Some(u), .. } => u.endpoints.first().cloned(),
                        _ => None,
                    };
                    let dial_out = asked.as_ref().and_then(|e| e.joining_method.clone())
                        == Some(JoiningMethod::DialedOut);
                    let mut ep = answered.or(asked).unwrap_or_default();
                    if ep.entity.is_empty() {
                        ep.entity = ByteString::from(format!("{}:{}", mcu.as_str(), user));
                    }
                    ep.state = State::Full;
                    ep.session_type = Some(ByteString::from(mcu.as_str()));
                    ep.status = Some(if dial_out {
                        EndpointStatus::DialingOut
                    } else {
                        EndpointStatus::Connected
                    });
                    ep.joining_method = Some(if dial_out {
                        JoiningMethod::DialedOut
                    } else {
                        JoiningMethod::DialedIn
                    });
                    ep.joining_info = Some(Box::new(Execution {
                        when: Some(DateTime::from_timestamp(now)),
                        ..Execution::default()
                    }));
                    ep.connection_info = None;
                    ep.client_info = None;
                    if ep.media.is_empty() {
                        ep.media = default_media(&mcu);
                    }
                    let role = Role::Attendee;
                    self.change(&conf, |c| {
                        let users = &mut c.info.users.get_or_insert_with(Users::default).users;
                        let i = match users.iter().position(|u| same_user(&u.entity, &user)) {
                            Some(i) => i,
                            None => {
                                users.push(User::new(user.clone(), role.clone()));
                                users.len() - 1
                            }
                        };
                        let u = &mut users[i];
                        match u
                            .endpoints
                            .iter_mut()
                            .find(|e| e.session_type == ep.session_type)
                        {
                            Some(e) => *e = ep.clone(),
                            None => u.endpoints.push(ep.clone()),
                        }
                        if let Some(v) = c.info.conference_view.as_mut() {
                            for ev in &mut v.entity_views {
                                if c.mcus.iter().any(|(t, u)| *t == mcu && *u == ev.entity) {
                                    ev.entity_state.get_or_insert_with(Default::default).active =
                                        Some(true);
                                }
                            }
                        }
                        Self::refresh_counts(c);
                    });
                }
                self.respond(token, r, None);
            }
            Pending::Media {
                token,
                conf,
                request,
                user,
                endpoint,
                media,
            } => {
                let mut r = request.respond(response.code, request.command.body.echo());
                r.reason.clone_from(&response.reason);
                if response.code == Code::Success {
                    self.change(&conf, |c| {
                        let e = c
                            .info
                            .user_mut(&user)
                            .and_then(|u| u.endpoint_mut(&endpoint));
                        if let Some(m) =
                            e.and_then(|e| e.media.iter_mut().find(|m| m.id == media.id))
                        {
                            *m = (*media).clone();
                        }
                    });
                }
                self.respond(token, r, None);
            }
        }
    }

    /// Reports that MCU request `id` got no answer (transport failure or time-out): whoever
    /// waits for it gets a failure.
    pub fn handle_mcu_failure(&mut self, now: Timestamp, id: u64) {
        let Some(p) = self.pending.get(&id) else {
            return;
        };
        let request = match p {
            Pending::Quiet => None,
            Pending::Relay { request, .. }
            | Pending::AddUser { request, .. }
            | Pending::Media { request, .. } => Some((**request).clone()),
        };
        let Some(request) = request else {
            self.pending.remove(&id);
            return;
        };
        let failure = request.fail(Reason::OtherFailure);
        self.handle_mcu_response(now, id, &failure);
    }
}

/// The media an MCU's entity view lists.
pub(super) fn mcu_media(t: &McuType) -> Vec<ConferenceMedium> {
    let m = |label: &'static str, kind: &'static str| ConferenceMedium {
        label: ByteString::from_static(label),
        media_type: Some(ByteString::from_static(kind)),
        ..ConferenceMedium::default()
    };
    match t {
        McuType::AudioVideo => vec![m("main-audio", "audio"), m("main-video", "video")],
        McuType::Chat => vec![m("chat", "chat")],
        McuType::Meeting | McuType::DataConf => vec![m("data", "data")],
        McuType::ApplicationSharing => vec![m("applicationsharing", "applicationsharing")],
        McuType::PhoneConf => vec![m("main-audio", "audio")],
        McuType::Other(_) => Vec::new(),
    }
}

/// The media of a new endpoint at an MCU that did not list any.
fn default_media(t: &McuType) -> Vec<Media> {
    mcu_media(t)
        .into_iter()
        .enumerate()
        .map(|(i, m)| Media {
            id: ByteString::from(format!("{}", i + 1)),
            media_type: m.media_type,
            label: Some(m.label),
            status: Some(crate::info::MediaStatus::SendRecv),
            ..Media::default()
        })
        .collect()
}
