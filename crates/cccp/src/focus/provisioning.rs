//! The focus factory's provisioning commands ([MS-CONFPRO] 2.2.2, 3.2; [MS-CONFBAS] 2.2.3.14,
//! 4.4.7, 4.4.10): `addConference`, `getConferences`, `getConference`, `getEncryptionKey`,
//! `deleteConference`, `modifyConference`. `getAvailableMcuTypes` and
//! `getConferencingCapabilities` are answered from the configuration in the dispatch.

use bytestring::ByteString;

use crate::info::{
    AdmissionPolicy, ConferenceDescription, ConferenceInfo, ConferenceState, ConferenceView,
    EndpointStatus, EntityState, EntityView, Organizer, Role, State, UriEntry, Uris, Users,
};
use crate::message::{Body, Code, EncryptionKey, Keys, Reason, Request, Response};
use crate::time::{DateTime, Timestamp};
use crate::uri::{ConferenceUri, McuType, UriKind, is_conference_id};

use super::mcu::{Pending, mcu_media};
use super::schedule::invitees;
use super::{Conference, Diagnostic, Fail, Focus, Key, Origin, Output, aor, same_user};

/// What [`Focus::install`] creates, once checked.
pub(super) struct Plan {
    pub(super) id: String,
    pub(super) expiry: Timestamp,
    pub(super) policy: AdmissionPolicy,
    pub(super) mcus: Vec<McuType>,
    pub(super) invited: Vec<(ByteString, Role)>,
    pub(super) key: [u8; 16],
}

impl Focus {
    pub(super) fn add_conference(
        &mut self,
        now: Timestamp,
        origin: &Origin,
        req: &Request,
        info: Option<&ConferenceInfo>,
    ) -> Result<Response, Fail> {
        let factory = ConferenceUri::parse(&req.to).map_err(|_| {
            Fail(
                Reason::OtherFailure,
                Some(Diagnostic::INVALID_CONFERENCE_URI),
            )
        })?;
        if factory.kind != UriKind::FocusFactory || !same_user(&factory.organizer, &origin.sender) {
            return Err(Fail::forbidden());
        }
        let empty = ConferenceInfo::default();
        let info = info.unwrap_or(&empty);
        let desc = info.description.clone().unwrap_or_default();
        let id = match &desc.conference_id {
            Some(id) if is_conference_id(id) => id.to_string(),
            Some(_) => return Err(Fail(Reason::InvalidConferenceId, None)),
            None => self.new_conference_id(),
        };
        let uri = ConferenceUri::focus(factory.organizer.clone(), ByteString::from(id.clone()));
        let key = uri.key();
        if self.conferences.contains_key(&key) {
            return Err(Fail(Reason::ConferenceExists, None));
        }
        let owned = self.conferences.keys().filter(|k| k.0 == key.0).count();
        if owned >= self.config.max_conferences_per_organizer {
            return Err(Fail(Reason::MaximumConferencesExceeded, None));
        }
        let expiry = match &desc.expiry_time {
            Some(t) if t.at <= now || t.at.0 - now.0 > self.config.max_lifetime => {
                return Err(Fail(Reason::InvalidExpiryTime, None));
            }
            Some(t) => t.at,
            None => now.plus(self.config.default_lifetime),
        };
        let policy = desc
            .admission_policy
            .clone()
            .unwrap_or(AdmissionPolicy::OpenAuthenticated);
        if matches!(policy, AdmissionPolicy::Other(_)) {
            return Err(Fail(Reason::InvalidAdmissionPolicy, None));
        }
        // The MCUs asked for in the conference view (all available ones when none is named).
        let mut mcus: Vec<McuType> = Vec::new();
        match &info.conference_view {
            Some(v) if !v.entity_views.is_empty() => {
                for ev in &v.entity_views {
                    let t = McuType::parse(&ev.entity);
                    if !self.config.mcus.contains(&t) {
                        return Err(Fail(Reason::McuTypeNotAvailable, None));
                    }
                    if !mcus.contains(&t) {
                        mcus.push(t);
                    }
                }
            }
            _ => mcus.clone_from(&self.config.mcus),
        }
        let invited = invitees(info);
        let mut key_bytes = [0u8; 16];
        self.rng.fill(&mut key_bytes);
        let answer = self.install(
            now,
            uri.clone(),
            &desc,
            Plan {
                id,
                expiry,
                policy,
                mcus,
                invited,
                key: key_bytes,
            },
        );
        self.schedule(&uri.key());
        Ok(req.respond(
            Code::Success,
            Body::AddConference {
                info: Some(Box::new(answer)),
            },
        ))
    }

    /// Creates a conference that passed the checks: its state, the MCUs told (addConference).
    /// Returns the addConference answer.
    pub(super) fn install(
        &mut self,
        now: Timestamp,
        uri: ConferenceUri,
        desc: &ConferenceDescription,
        plan: Plan,
    ) -> ConferenceInfo {
        let Plan {
            id,
            expiry,
            policy,
            mcus,
            invited,
            key: key_bytes,
        } = plan;
        let key = uri.key();
        let focus = ByteString::from(uri.to_string());
        let organizer = ByteString::from(format!("sip:{}", uri.organizer));
        let mcus: Vec<(McuType, ByteString)> = mcus
            .into_iter()
            .map(|t| {
                let u = ByteString::from(uri.mcu(t.clone()).to_string());
                (t, u)
            })
            .collect();
        let description = ConferenceDescription {
            subject: desc.subject.clone(),
            display_text: desc.display_text.clone(),
            conf_uris: Some(Uris {
                state: State::Full,
                entries: mcus
                    .iter()
                    .map(|(t, u)| UriEntry {
                        uri: u.clone(),
                        purpose: Some(ByteString::from(t.as_str())),
                        ..UriEntry::default()
                    })
                    .collect(),
            }),
            conference_id: Some(ByteString::from(id)),
            last_update: Some(DateTime::from_timestamp(now)),
            expiry_time: Some(DateTime::from_timestamp(expiry)),
            admission_policy: Some(policy),
            organizer: Some(Organizer {
                uri: Some(organizer.clone()),
                ..Organizer::default()
            }),
            ..ConferenceDescription::default()
        };
        let state_info = ConferenceInfo {
            entity: focus.clone(),
            state: State::Full,
            version: None,
            description: Some(description.clone()),
            host_info: None,
            conference_state: Some(ConferenceState {
                user_count: Some(0),
                active: Some(false),
                locked: Some(false),
                ..ConferenceState::default()
            }),
            users: Some(Users::default()),
            conference_view: Some(ConferenceView {
                state: State::Full,
                entity_views: mcus
                    .iter()
                    .map(|(t, u)| EntityView {
                        entity: u.clone(),
                        state: State::Full,
                        entity_state: Some(EntityState {
                            active: Some(false),
                            locked: Some(false),
                            media: Some(mcu_media(t)),
                            ..EntityState::default()
                        }),
                        ..EntityView::default()
                    })
                    .collect(),
            }),
            ext: Default::default(),
        };
        for (t, u) in &mcus {
            let mcu_info = ConferenceInfo {
                entity: u.clone(),
                description: Some(ConferenceDescription {
                    conference_id: description.conference_id.clone(),
                    expiry_time: description.expiry_time.clone(),
                    admission_policy: description.admission_policy.clone(),
                    ..ConferenceDescription::default()
                }),
                ..ConferenceInfo::default()
            };
            self.mcu_request(
                t.clone(),
                u.clone(),
                &focus,
                Body::AddConference {
                    info: Some(Box::new(mcu_info)),
                },
                Pending::Quiet,
            );
        }
        let answer = ConferenceInfo {
            entity: focus.clone(),
            description: Some(description),
            ..ConferenceInfo::default()
        };
        self.conferences.insert(
            key,
            Conference {
                uri,
                focus,
                organizer,
                info: state_info,
                expiry,
                expired: false,
                key: key_bytes,
                invited,
                mcus,
                subscribers: Vec::new(),
                lobby: Vec::new(),
            },
        );
        answer
    }

    pub(super) fn get_conferences(&mut self, origin: &Origin, req: &Request) -> Response {
        let me = aor(&origin.sender);
        let mut infos: Vec<ConferenceInfo> = self
            .conferences
            .values()
            .filter(|c| aor(&c.organizer) == me)
            .map(|c| ConferenceInfo {
                entity: c.focus.clone(),
                description: c.info.description.clone(),
                ..ConferenceInfo::default()
            })
            .collect();
        infos.sort_by(|a, b| a.entity.cmp(&b.entity));
        req.respond(Code::Success, Body::GetConferences { infos })
    }

    pub(super) fn get_conference(
        &mut self,
        origin: &Origin,
        req: &Request,
    ) -> Result<Response, Fail> {
        let key = self.find(origin, req)?;
        let c = self.conf(&key);
        if !Self::is_member(c, &origin.sender) {
            return Err(Fail::forbidden());
        }
        let mut keys = req.command.body.keys().cloned().unwrap_or_default();
        keys.encryption_key = None;
        Ok(req.respond(
            Code::Success,
            Body::GetConference {
                keys: Some(keys),
                info: Some(Box::new(c.info.clone())),
            },
        ))
    }

    pub(super) fn get_encryption_key(
        &mut self,
        origin: &Origin,
        req: &Request,
    ) -> Result<Response, Fail> {
        let key = self.find(origin, req)?;
        let c = self.conf(&key);
        let joined = c.info.user_list().iter().any(|u| {
            same_user(&u.entity, &origin.sender)
                && !u
                    .endpoints
                    .iter()
                    .all(|e| e.status == Some(EndpointStatus::OnHold))
        });
        if !(joined || Self::is_organizer(c, &origin.sender)) {
            return Err(Fail::forbidden());
        }
        let hex: String = c.key.iter().map(|b| format!("{b:02x}")).collect();
        let mut keys = req.command.body.keys().cloned().unwrap_or_default();
        keys.encryption_key = Some(EncryptionKey {
            x509_certificate: None,
            key: Some(ByteString::from(hex)),
            ext: Default::default(),
        });
        Ok(req.respond(Code::Success, Body::GetEncryptionKey { keys: Some(keys) }))
    }

    pub(super) fn delete_conference(
        &mut self,
        origin: &Origin,
        req: &Request,
    ) -> Result<Response, Fail> {
        let key = self.find(origin, req)?;
        if !Self::is_organizer(self.conf(&key), &origin.sender) {
            return Err(Fail::forbidden());
        }
        let focus = self.conf(&key).focus.clone();
        self.delete(&key);
        Ok(req.respond(
            Code::Success,
            Body::DeleteConference {
                keys: None,
                info: Some(Box::new(ConferenceInfo::new(focus))),
            },
        ))
    }

    /// Removes a conference: MCUs told, waiting users refused, subscribers told it is gone.
    pub(super) fn delete(&mut self, key: &Key) {
        let Some(c) = self.conferences.remove(key) else {
            return;
        };
        self.outputs.push_back(Output::Schedule {
            focus: c.focus.clone(),
            conference: None,
        });
        for (t, u) in &c.mcus {
            let body = Body::DeleteConference {
                keys: Some(Keys::conference(u.clone())),
                info: None,
            };
            self.mcu_request(t.clone(), u.clone(), &c.focus, body, Pending::Quiet);
        }
        for w in c.lobby {
            let r = w.request.fail(Reason::ConferenceDoesNotExist);
            self.respond(w.token, r, None);
        }
        for s in c.subscribers {
            let mut doc = ConferenceInfo::new(c.focus.clone());
            doc.state = State::Deleted;
            doc.version = Some(s.version + 1);
            self.outputs.push_back(Output::Notify {
                subscriber: s.id,
                document: doc,
                terminated: true,
            });
        }
    }

    pub(super) fn modify_conference(
        &mut self,
        token: u64,
        now: Timestamp,
        origin: &Origin,
        req: &Request,
        info: Option<&ConferenceInfo>,
    ) -> Result<Option<Response>, Fail> {
        let key = match info.filter(|i| !i.entity.is_empty()) {
            Some(i) => ConferenceUri::parse(&i.entity)
                .map(|u| u.to_focus().key())
                .map_err(|_| Fail::no_conference())?,
            None => self.find(origin, req)?,
        };
        let Some(c) = self.conferences.get(&key) else {
            return Err(Fail::no_conference());
        };
        if !Self::is_organizer(c, &origin.sender) {
            return Err(Fail::forbidden());
        }
        if let Some(mcu_uri) = &req.command.mcu_uri {
            let Some((t, u)) = c
                .mcus
                .iter()
                .find(|(_, u)| u.eq_ignore_ascii_case(mcu_uri))
                .cloned()
            else {
                return Err(Fail(
                    Reason::McuTypeNotAvailable,
                    Some(Diagnostic::INVALID_MCU_URI),
                ));
            };
            let mut fwd = info.cloned().unwrap_or_default();
            fwd.entity = u.clone();
            let focus = c.focus.clone();
            self.mcu_request(
                t,
                u,
                &focus,
                Body::ModifyConference {
                    info: Some(Box::new(fwd)),
                },
                Pending::Relay {
                    token,
                    request: Box::new(req.clone()),
                },
            );
            return Ok(None);
        }
        let Some(d) = info.and_then(|i| i.description.as_ref()) else {
            return Ok(Some(req.respond(Code::Success, req.command.body.echo())));
        };
        if let Some(t) = &d.expiry_time
            && (t.at <= now || t.at.0 - now.0 > self.config.max_lifetime)
        {
            return Err(Fail(Reason::InvalidExpiryTime, None));
        }
        if matches!(d.admission_policy, Some(AdmissionPolicy::Other(_))) {
            return Err(Fail(Reason::InvalidAdmissionPolicy, None));
        }
        self.change(&key, |c| {
            let desc = c.info.description.get_or_insert_with(Default::default);
            if d.subject.is_some() {
                desc.subject.clone_from(&d.subject);
            }
            if d.display_text.is_some() {
                desc.display_text.clone_from(&d.display_text);
            }
            if let Some(p) = &d.admission_policy {
                desc.admission_policy = Some(p.clone());
            }
            if let Some(t) = &d.expiry_time {
                desc.expiry_time = Some(t.clone());
                c.expiry = t.at;
                c.expired = false;
            }
            desc.last_update = Some(DateTime::from_timestamp(now));
        });
        self.schedule(&key);
        Ok(Some(req.respond(Code::Success, req.command.body.echo())))
    }
}
