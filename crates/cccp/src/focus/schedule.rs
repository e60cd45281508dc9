//! Expiry and scheduling ([MS-CONFPRO] 2.2.1.2 `msci:expiry-time`): conferences past their
//! expiry, the record a store keeps ([`Output::Schedule`](super::Output::Schedule)) and
//! [`Focus::restore`](super::Focus::restore) after a restart.

use bytestring::ByteString;

use crate::info::{
    AdmissionPolicy, ConferenceDescription, ConferenceInfo, ConferenceView, EntityView, Role,
    State, User, Users,
};
use crate::time::Timestamp;
use crate::uri::{ConferenceUri, McuType, UriKind, is_conference_id};

use super::provisioning::Plan;
use super::{Conference, Focus, Key, Output, RestoreError, Scheduled};

impl Focus {
    /// When [`Focus::handle_timeout`] should next be called: the earliest expiry of a
    /// conference not yet expired.
    #[must_use = "call handle_timeout at this time"]
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        self.conferences
            .values()
            .filter(|c| !c.expired)
            .map(|c| c.expiry)
            .min()
    }

    /// Expires conferences whose `expiry-time` has passed: deleted now if empty, else when the
    /// last user leaves.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        let due: Vec<Key> = self
            .conferences
            .iter()
            .filter(|(_, c)| !c.expired && c.expiry <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in due {
            let empty = self
                .conferences
                .get(&k)
                .is_some_and(|c| c.info.user_list().is_empty());
            if empty {
                self.delete(&k);
            } else if let Some(c) = self.conferences.get_mut(&k) {
                c.expired = true;
            }
        }
    }

    /// The scheduling record of a conference, by focus URI (what [`Output::Schedule`] carries).
    #[must_use]
    pub fn scheduled(&self, focus_uri: &str) -> Option<Scheduled> {
        let u = ConferenceUri::parse(focus_uri).ok()?;
        self.conferences.get(&u.key()).map(Self::record)
    }

    fn record(c: &Conference) -> Scheduled {
        let description = c.info.description.as_ref().map(|d| ConferenceDescription {
            subject: d.subject.clone(),
            display_text: d.display_text.clone(),
            conference_id: d.conference_id.clone(),
            expiry_time: d.expiry_time.clone(),
            admission_policy: d.admission_policy.clone(),
            organizer: d.organizer.clone(),
            ..ConferenceDescription::default()
        });
        let info = ConferenceInfo {
            entity: c.focus.clone(),
            description,
            users: Some(Users {
                users: c
                    .invited
                    .iter()
                    .map(|(u, r)| User::new(u.clone(), r.clone()))
                    .collect(),
                ..Users::default()
            }),
            conference_view: Some(ConferenceView {
                state: State::Full,
                entity_views: c
                    .mcus
                    .iter()
                    .map(|(t, _)| EntityView {
                        entity: ByteString::from(t.as_str()),
                        ..EntityView::default()
                    })
                    .collect(),
            }),
            ..ConferenceInfo::default()
        };
        Scheduled { info, key: c.key }
    }

    /// Tells the store how a conference stands now.
    pub(super) fn schedule(&mut self, key: &Key) {
        let Some(c) = self.conferences.get(key) else {
            return;
        };
        let out = Output::Schedule {
            focus: c.focus.clone(),
            conference: Some(Box::new(Self::record(c))),
        };
        self.outputs.push_back(out);
    }

    /// Schedules again a conference a store kept ([`Output::Schedule`]) — after a restart. Its
    /// MCUs are told again (addConference); it has no users and no subscribers yet. No
    /// [`Output::Schedule`] follows: the store has it.
    ///
    /// # Errors
    /// The record is not a conference of a focus URI, has expired at `now`, exists, or names
    /// an MCU this focus does not run.
    pub fn restore(&mut self, now: Timestamp, s: &Scheduled) -> Result<ByteString, RestoreError> {
        let info = &s.info;
        let bad = || RestoreError::NotAFocus(info.entity.to_string());
        let uri = ConferenceUri::parse(&info.entity).map_err(|_| bad())?;
        let id = uri.conference_id.clone().ok_or_else(bad)?;
        if uri.kind != UriKind::Focus || !is_conference_id(&id) {
            return Err(bad());
        }
        let desc = info.description.clone().unwrap_or_default();
        let expiry = desc
            .expiry_time
            .as_ref()
            .map(|t| t.at)
            .filter(|&t| t > now)
            .ok_or(RestoreError::Expired)?;
        if self.conferences.contains_key(&uri.key()) {
            return Err(RestoreError::Exists);
        }
        let mut mcus = Vec::new();
        for ev in info.conference_view.iter().flat_map(|v| &v.entity_views) {
            let t = McuType::parse(&ev.entity);
            if !self.config.mcus.contains(&t) {
                return Err(RestoreError::McuTypeNotAvailable(ev.entity.to_string()));
            }
            if !mcus.contains(&t) {
                mcus.push(t);
            }
        }
        let plan = Plan {
            id: id.to_string(),
            expiry,
            policy: desc
                .admission_policy
                .clone()
                .unwrap_or(AdmissionPolicy::OpenAuthenticated),
            mcus,
            invited: invitees(info),
            key: s.key,
        };
        let focus = ByteString::from(uri.to_string());
        self.install(now, uri, &desc, plan);
        Ok(focus)
    }
}

/// The users a scheduling document invites, with their roles (attendee when none is given).
pub(super) fn invitees(info: &ConferenceInfo) -> Vec<(ByteString, Role)> {
    info.user_list()
        .iter()
        .map(|u| {
            (
                u.entity.clone(),
                u.role().cloned().unwrap_or(Role::Attendee),
            )
        })
        .collect()
}
