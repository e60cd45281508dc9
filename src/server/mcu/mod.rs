//! The conferencing servers (MCUs) of the reference server, as one sans-IO component outside
//! the SIP engine: the A/V MCU, the IM (chat) MCU and the web-conferencing (meeting) MCU.
//!
//! [`Mcus::handle`] serves the C3P the focus sends them ([MS-CONFBAS] 3.2, the Focus–MCU leg):
//! addConference, addUser (with the admitted endpoint, and for the meeting MCU the PSOM
//! credentials in `connection-info`), deleteUser, deleteConference, modify* and
//! getConference. The engine calls it directly when the MCUs are in-process; the runtime's
//! MCU listener calls it ([`Mcus::serve`]) for a focus elsewhere that POSTs C3P over HTTP.
//! What the MCUs need done outside themselves comes out of [`Mcus::poll_event`]: changes for
//! the media relay and the PSOM service, and SIP sessions to end.
//!
//! [`Mcus::admits`] tells the SIP side whether a user may open a session with an MCU (the
//! focus added him there), and [`Mcus::av_answer`] is the A/V MCU's SDP offer/answer.
//!
//! It reads no clock and opens no socket; its keys come from a generator seeded by the
//! caller.

mod av;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;

use bytes::Bytes;

use crate::cccp::info::{ConnectionEntry, Endpoint, Role, User};
use crate::cccp::message::{Body, Code, Reason, Request, Response};
use crate::cccp::uri::{ConferenceUri, McuType, UriKind, address_of_record};
use crate::server::sip::core::Unpredictable;
use crate::srtp::Policy;
pub use av::{AvAnswer, MediaKind};

/// One medium of a participant at the A/V MCU.
#[derive(Debug, Clone)]
pub struct MediaLeg {
    /// Where its RTP goes (from its offer).
    pub rtp: SocketAddr,
    /// Its RTCP address (`a=rtcp`, else the RTP port + 1).
    pub rtcp: SocketAddr,
    /// The key it sends with (its offer's `a=crypto`); `None`: plain RTP.
    pub inbound: Option<Policy>,
    /// The key we send to it with (our answer's); `None`: plain RTP.
    pub outbound: Option<Policy>,
    /// The MCU's SSRC toward it.
    pub ssrc: u32,
    /// The payload type of the answer (PCMU 0 or PCMA 8 for audio).
    pub payload_type: u8,
    /// ICE on the MCU's sockets, when the participant offered it.
    pub ice: Option<Box<IceLeg>>,
}

/// A participant's ICE at the A/V MCU ([`crate::ice`]).
#[derive(Debug, Clone)]
pub struct IceLeg {
    /// What the participant speaks.
    pub flavor: crate::ice::Flavor,
    /// The MCU's credentials for this leg (in its answer).
    pub local: crate::ice::Credentials,
    /// The participant's (from its offer: one per candidate for [MS-ICE]).
    pub remote: Vec<crate::ice::Credentials>,
    /// What makes the agent's transaction IDs: 32 bytes nobody can predict.
    pub seed: [u8; 32],
}

/// A change to the A/V MCU's media relay, for the runtime's media task.
#[derive(Debug, Clone)]
pub enum MediaOp {
    /// A participant's audio (and video) join the conference's relays.
    Join {
        /// The A/V MCU conference URI.
        conference: String,
        /// The leg.
        leg: crate::media::LegId,
        /// The participant's address of record.
        user: String,
        /// Its audio.
        audio: Box<MediaLeg>,
        /// Its video, if it offered video the MCU can take.
        video: Option<Box<MediaLeg>>,
    },
    /// A participant's audio leaves.
    Leave {
        /// The A/V MCU conference URI.
        conference: String,
        /// The leg.
        leg: crate::media::LegId,
    },
}

/// A change for the web-conferencing MCU's PSOM service, for the runtime's PSOM task.
#[derive(Debug, Clone)]
pub enum WebConfOp {
    /// A participant may connect with these credentials (what the addUser dial-in answer gave
    /// it in `connection-info`).
    Authorize {
        /// The conference ID.
        conference_id: String,
        /// `sAuthId`.
        auth_id: String,
        /// The key.
        key: Vec<u8>,
        /// The participant's SIP URI.
        user: String,
        /// Its role in the meeting.
        role: crate::psom::meeting::Role,
    },
    /// A participant's role changed (C3P modifyUserRoles at the meeting MCU).
    SetRole {
        /// The conference ID.
        conference_id: String,
        /// The participant's SIP URI.
        user: String,
        /// Its new role.
        role: crate::psom::meeting::Role,
    },
    /// The conference is gone: its PSOM sessions end.
    Close {
        /// The conference ID.
        conference_id: String,
    },
}

/// Something the MCUs need done outside themselves.
#[derive(Debug, Clone)]
pub enum McuEvent {
    /// A change for the A/V MCU's media relay.
    Media(MediaOp),
    /// A change for the web-conferencing MCU's PSOM service.
    WebConf(WebConfOp),
    /// The SIP sessions with this MCU conference end (BYE): every one, or one user's.
    EndSessions {
        /// The MCU conference URI.
        conference: String,
        /// The user's address of record (`user@host`), or every user.
        user: Option<String>,
    },
}

/// Whether a user may open a SIP session with an MCU conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// The MCU has no such conference (404).
    NoConference,
    /// The focus did not add the user there (403).
    NotAdded,
    /// The focus added the user.
    Admitted,
}

/// Whether the A/V MCU's media must be SRTP ([MS-SDPEXT] 3.1.5.1: an `RTP/AVP` offer with
/// `a=crypto` asks for SRTP optionally; `RTP/SAVP` requires it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SrtpPolicy {
    /// SRTP or nothing: an offer without a usable `a=crypto` is refused (the default: media
    /// is never in clear).
    #[default]
    Required,
    /// SRTP when the offer has a usable `a=crypto` (answered `RTP/SAVP` with ours), plain RTP
    /// for an `RTP/AVP` offer without one. Mind what it means: the mix goes to a plain leg in
    /// clear, encrypted speakers' voices included, and a plain leg's media is not
    /// authenticated (anyone who can send from its address speaks as it).
    Optional,
    /// Plain RTP only: an `RTP/AVP` offer is answered without `a=crypto` (its keys declined),
    /// an `RTP/SAVP` one refused.
    Off,
}

/// Where the MCUs' media and PSOM listeners are, for their answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct McuConfig {
    /// The A/V MCU's RTP socket; without it (and `media_rtcp`) the A/V MCU takes no audio.
    pub media_rtp: Option<SocketAddr>,
    /// Its RTCP socket.
    pub media_rtcp: Option<SocketAddr>,
    /// The web-conferencing MCU's PSOM listener (TLS), given to participants in the addUser
    /// answer's `connection-info`; without it the answer carries none.
    pub psom: Option<SocketAddr>,
    /// Whether media must be SRTP.
    pub srtp: SrtpPolicy,
}

/// One conference at one MCU: who the focus admitted.
#[derive(Debug, Default)]
struct McuConference {
    /// (user AOR, endpoint entity).
    users: Vec<(String, String)>,
}

/// The MCUs: see the [module documentation](self).
pub struct Mcus {
    cfg: McuConfig,
    /// (MCU type, organizer, conference ID) → the conference there.
    conferences: HashMap<(String, String, String), McuConference>,
    events: VecDeque<McuEvent>,
    rng: Unpredictable,
    next_media_leg: u64,
}

impl std::fmt::Debug for Mcus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mcus")
            .field("conferences", &self.conferences.len())
            .finish_non_exhaustive()
    }
}

/// The web conference's role of `aor` (`user@host`) with these C3P roles: organizer for the
/// conference's organizer, presenter when granted, attendee otherwise.
fn web_role(uri: &ConferenceUri, aor: &str, roles: &[Role]) -> crate::psom::meeting::Role {
    use crate::psom::meeting::Role as Web;
    if address_of_record(&uri.organizer) == aor {
        Web::Organizer
    } else if roles.contains(&Role::Presenter) {
        Web::Presenter
    } else {
        Web::Attendee
    }
}

fn mcu_key(t: &McuType, u: &ConferenceUri) -> (String, String, String) {
    let (org, id) = u.key();
    (t.as_str().to_owned(), org, id)
}

impl Mcus {
    /// The MCUs, with their listeners' addresses; `seed` keys the generator of their
    /// credentials and media keys.
    #[must_use]
    pub fn new(cfg: McuConfig, seed: &[u8; 32]) -> Mcus {
        Mcus {
            cfg,
            conferences: HashMap::new(),
            events: VecDeque::new(),
            rng: Unpredictable::new(seed, b"ocs-mcus keys"),
            next_media_leg: 1,
        }
    }

    /// The next thing to do outside the MCUs; call after every [`Mcus::handle`] and
    /// [`Mcus::serve`].
    #[must_use = "an event left in the queue is a relay or session change never made"]
    pub fn poll_event(&mut self) -> Option<McuEvent> {
        self.events.pop_front()
    }

    /// Serves one C3P request document POSTed to the MCU of type `mcu`. Returns the C3P
    /// response document, or `None` for a body that is not a C3P request (HTTP 400).
    #[must_use]
    pub fn serve(&mut self, mcu: &McuType, body: &[u8]) -> Option<Bytes> {
        let req = Request::parse(Bytes::copy_from_slice(body)).ok()?;
        Some(self.handle(mcu, &req).to_bytes())
    }

    /// Whether `aor` (`user@host`) may open a session with the MCU conference `uri`.
    #[must_use]
    pub fn admits(&self, mcu: &McuType, uri: &ConferenceUri, aor: &str) -> Admission {
        match self.conferences.get(&mcu_key(mcu, uri)) {
            None => Admission::NoConference,
            Some(c) if c.users.iter().any(|(a, _)| a == aor) => Admission::Admitted,
            Some(_) => Admission::NotAdded,
        }
    }

    /// Serves one C3P request to the MCU of type `mcu`.
    pub fn handle(&mut self, mcu: &McuType, req: &Request) -> Response {
        let Ok(uri) = ConferenceUri::parse(&req.to) else {
            return req.fail(Reason::ConferenceDoesNotExist);
        };
        if uri.kind != UriKind::Mcu(mcu.clone()) {
            return req.fail(Reason::ConferenceDoesNotExist);
        }
        let key = mcu_key(mcu, &uri);
        match &req.command.body {
            Body::AddConference { .. } => {
                self.conferences.entry(key).or_default();
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::DeleteConference { .. } => {
                if self.conferences.remove(&key).is_none() {
                    return req.fail(Reason::ConferenceDoesNotExist);
                }
                if *mcu == McuType::Meeting {
                    self.events.push_back(McuEvent::WebConf(WebConfOp::Close {
                        conference_id: key.2.clone(),
                    }));
                }
                self.events.push_back(McuEvent::EndSessions {
                    conference: uri.to_string(),
                    user: None,
                });
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::AddUser { keys, user } => {
                let Some(c) = self.conferences.get_mut(&key) else {
                    return req.fail(Reason::ConferenceDoesNotExist);
                };
                let Some(u) = user.as_deref().filter(|u| !u.entity.is_empty()) else {
                    return req.fail(Reason::InvalidUserEntity);
                };
                let asked = u.endpoints.first();
                let endpoint = asked
                    .map(|e| e.entity.to_string())
                    .filter(|e| !e.is_empty())
                    .unwrap_or_else(|| format!("{}:{}", mcu.as_str(), u.entity));
                let aor = address_of_record(&u.entity);
                c.users.retain(|(a, _)| *a != aor);
                c.users.push((aor.clone(), endpoint.clone()));
                let connection_info = (*mcu == McuType::Meeting)
                    .then(|| self.web_credentials(&uri, &key.2, u, &aor))
                    .flatten();
                let answer = User {
                    entity: u.entity.clone(),
                    roles: u.roles.clone(),
                    endpoints: vec![Endpoint {
                        entity: endpoint.into(),
                        joining_method: asked.and_then(|e| e.joining_method.clone()),
                        media: asked.map(|e| e.media.clone()).unwrap_or_default(),
                        connection_info,
                        ..Endpoint::default()
                    }],
                    ..User::default()
                };
                req.respond(
                    Code::Success,
                    Body::AddUser {
                        keys: keys.clone(),
                        user: Some(Box::new(answer)),
                    },
                )
            }
            Body::DeleteUser { keys } => {
                let Some(c) = self.conferences.get_mut(&key) else {
                    return req.fail(Reason::ConferenceDoesNotExist);
                };
                let Some(user) = keys.as_ref().and_then(|k| k.user_entity.as_deref()) else {
                    return req.fail(Reason::InvalidUserEntity);
                };
                let aor = address_of_record(user);
                c.users.retain(|(a, _)| *a != aor);
                self.events.push_back(McuEvent::EndSessions {
                    conference: uri.to_string(),
                    user: Some(aor),
                });
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::ModifyUserRoles { keys, roles } if *mcu == McuType::Meeting => {
                if !self.conferences.contains_key(&key) {
                    return req.fail(Reason::ConferenceDoesNotExist);
                }
                let (Some(user), Some(roles)) =
                    (keys.as_ref().and_then(|k| k.user_entity.as_deref()), roles)
                else {
                    return req.fail(Reason::InvalidUserEntity);
                };
                let role = web_role(&uri, &address_of_record(user), roles);
                self.events.push_back(McuEvent::WebConf(WebConfOp::SetRole {
                    conference_id: key.2.clone(),
                    user: format!("sip:{}", address_of_record(user)),
                    role,
                }));
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::ModifyConference { .. }
            | Body::ModifyConferenceLock { .. }
            | Body::ModifyUserRoles { .. }
            | Body::ModifyEndpointRole { .. }
            | Body::ModifyEndpointMedia { .. }
            | Body::GetConference { .. } => {
                if self.conferences.contains_key(&key) {
                    req.respond(Code::Success, req.command.body.echo())
                } else {
                    req.fail(Reason::ConferenceDoesNotExist)
                }
            }
            _ => req.fail(Reason::NotSupported),
        }
    }

    /// Credentials for the web-conferencing MCU's PSOM service, handed to the service and
    /// returned as the addUser answer's `connection-info` ([MS-CONFBAS] 2.2.3.18). Keys, our
    /// choice beyond the two well-known ones: `Mcu-Server-Uri` (`psom://host:port`, TLS),
    /// `Mcu-Conference-Uri`, `sAuthId` (decimal digits, as the specification says),
    /// `sConferenceId` and `sKey` (base64). `None` without a PSOM listener.
    fn web_credentials(
        &mut self,
        uri: &ConferenceUri,
        conference_id: &str,
        user: &User,
        aor: &str,
    ) -> Option<Vec<ConnectionEntry>> {
        use base64::Engine as _;
        let psom = self.cfg.psom?;
        let auth_id = (u64::from_le_bytes(self.rng.next_bytes()) % 10_000_000_000).to_string();
        let mut key = self.rng.next_bytes().to_vec();
        key.extend_from_slice(&self.rng.next_bytes());
        let role = web_role(uri, aor, user.roles.as_deref().unwrap_or_default());
        self.events
            .push_back(McuEvent::WebConf(WebConfOp::Authorize {
                conference_id: conference_id.to_owned(),
                auth_id: auth_id.clone(),
                key: key.clone(),
                user: format!("sip:{aor}"),
                role,
            }));
        let entry = |k: &str, v: String| ConnectionEntry {
            key: k.into(),
            value: v.into(),
        };
        Some(vec![
            entry("Mcu-Server-Uri", format!("psom://{psom}")),
            entry("Mcu-Conference-Uri", uri.to_string()),
            entry("sAuthId", auth_id),
            entry("sConferenceId", conference_id.to_owned()),
            entry(
                "sKey",
                base64::engine::general_purpose::STANDARD.encode(&key),
            ),
        ])
    }
}
