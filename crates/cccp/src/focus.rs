//! The focus and focus factory as a sans-IO state machine ([MS-CONFBAS] 1.3, 3.2;
//! [MS-CONFPRO] 3.2).
//!
//! The caller feeds it C3P requests that arrived in SIP (SERVICE to the focus factory, INVITE
//! and INFO to a focus) with the sender's authenticated identity, MCU responses that arrived
//! over HTTP, subscriptions, and the time; it answers through [`Focus::poll_output`]:
//!
//! - [`Output::Response`]: the C3P response to send back (with the [MS-OCER] 3000–3999
//!   diagnostic to put in `ms-diagnostics` where one applies). A user who has to wait in the
//!   lobby first gets a `pending` response and later the final one for the same token.
//! - [`Output::McuRequest`]: a C3P request for an MCU (A/V, IM, web conferencing), to be
//!   carried over HTTP; its answer comes back through [`Focus::handle_mcu_response`].
//! - [`Output::Notify`]: a conference-info document for one subscriber: the full state on
//!   subscribing, then partial deltas with versions increasing by one (RFC 4575 §4.6).
//!
//! Policy, as implemented (where [MS-CONFBAS] leaves it to the server, these are this crate's
//! choices):
//! - Only the organizer creates (through his own focus factory), modifies and deletes a
//!   conference.
//! - Leaders — the organizer and presenters — lock and unlock, change roles, admit from the
//!   lobby and remove others; anyone may leave, mute himself or dial himself in.
//! - On join the organizer is granted `presenter`; invitees listed in `addConference` get the
//!   role listed there; everyone else gets `attendee`, whatever he asked for.
//! - A conference that is locked, or `closedAuthenticated` for a user not invited, admits
//!   leaders only; others wait in the lobby if their client says it can (`msci2:lobby-capable`),
//!   and are refused otherwise. Lobby users have an endpoint `on-hold`.
//! - A conference passes its `expiry-time`: it is deleted then if nobody is in it, or when the
//!   last user leaves.
//! - `getConference` with an `msci:encryption-key` certificate does not return the conference
//!   key (that needs RSA, which this crate does not carry); members get it from
//!   `getEncryptionKey`.
//!
//! ```
//! use ocs_cccp::focus::{Carriage, Focus, FocusConfig, Origin, Output};
//! use ocs_cccp::message::{Body, Code, Request};
//! use ocs_cccp::time::Timestamp;
//!
//! # use rand::SeedableRng;
//! let mut focus = Focus::new(FocusConfig::default(), rand::rngs::StdRng::seed_from_u64(42));
//! let factory = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
//! let req = Request::new(1, "sip:alice@contoso.com", factory, Body::AddConference { info: None });
//! let origin = Origin { sender: "sip:alice@contoso.com".into(), target: factory.into(), carriage: Carriage::Service };
//! focus.handle_request(Timestamp(1_700_000_000), 7, &origin, req);
//!
//! let mut mcu_requests = 0;
//! while let Some(out) = focus.poll_output() {
//!     match out {
//!         Output::Response { token, response, .. } => {
//!             assert_eq!((token, response.code), (7, Code::Success));
//!             let Body::AddConference { info: Some(ci) } = &response.command.body else { panic!() };
//!             assert!(ci.entity.contains(";gruu;opaque=app:conf:focus:id:"));
//!         }
//!         Output::McuRequest { .. } => mcu_requests += 1, // addConference to each MCU, over HTTP
//!         Output::Notify { .. } => {}
//!         Output::Schedule { conference, .. } => assert!(conference.is_some()), // for the store
//!     }
//! }
//! assert_eq!(mcu_requests, 3);
//! assert_eq!(focus.poll_timeout(), Some(Timestamp(1_700_000_000 + 8 * 3600)));
//! ```

use std::collections::{HashMap, VecDeque};

use bytestring::ByteString;

use crate::info::{
    AdmissionPolicy, ClientInfo, ConferenceDescription, ConferenceInfo, ConferenceMedium,
    ConferenceState, ConferenceView, Endpoint, EndpointStatus, EntityState, EntityView, Execution,
    JoiningMethod, Media, Organizer, Role, State, UriEntry, Uris, User, Users,
};
use crate::message::{
    Body, Code, EncryptionKey, Keys, LobbyAccess, PstnBridging, Reason, Request, Response,
};
use crate::time::{DateTime, Timestamp};
use crate::uri::{ConferenceUri, McuType, UriKind, is_conference_id};

/// An [MS-OCER] conferencing diagnostic for the SIP `ms-diagnostics` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Diagnostic {
    /// The ErrorId (3000–3999).
    pub code: u16,
    /// Its reason text.
    pub reason: &'static str,
}

impl Diagnostic {
    /// 3000: the C3P `from` is not the sender.
    pub const BAD_FROM: Diagnostic = Diagnostic {
        code: 3000,
        reason: "Bad From in C3P request.",
    };
    /// 3001: the C3P `to` is not where the request was sent.
    pub const BAD_TO: Diagnostic = Diagnostic {
        code: 3001,
        reason: "Bad To in C3P request.",
    };
    /// 3002: the user named is not the sender.
    pub const INVALID_TARGET_USER: Diagnostic = Diagnostic {
        code: 3002,
        reason: "Invalid target user.",
    };
    /// 3003: no such conference.
    pub const INVALID_CONFERENCE_ENTITY: Diagnostic = Diagnostic {
        code: 3003,
        reason: "The conference-entity supplied in the C3P request is invalid.",
    };
    /// 3004: unknown command.
    pub const NOT_IMPLEMENTED: Diagnostic = Diagnostic {
        code: 3004,
        reason: "The requested C3P command is not implemented.",
    };
    /// 3006: the body did not parse.
    pub const PARSE_FAILED: Diagnostic = Diagnostic {
        code: 3006,
        reason: "Failed to parse the C3P request.",
    };
    /// 3007: an addUser without a usable user.
    pub const ADD_USER_INVALID: Diagnostic = Diagnostic {
        code: 3007,
        reason: "AddUser C3P blob invalid.",
    };
    /// 3009: an endpoint entity that is empty.
    pub const MALFORMED_ENDPOINT: Diagnostic = Diagnostic {
        code: 3009,
        reason: "Malformed endpoint entity.",
    };
    /// 3012: not a conference URI.
    pub const INVALID_CONFERENCE_URI: Diagnostic = Diagnostic {
        code: 3012,
        reason: "Invalid conference URI.",
    };
    /// 3013: not an MCU of this conference.
    pub const INVALID_MCU_URI: Diagnostic = Diagnostic {
        code: 3013,
        reason: "Invalid MCU URI.",
    };
    /// 3014: the sender may not do this.
    pub const FAILED_AUTHORIZATION: Diagnostic = Diagnostic {
        code: 3014,
        reason: "Failed authorization.",
    };
    /// 3015: an attendee dialing out someone else.
    pub const NO_THIRD_PARTY_DIAL_OUT: Diagnostic = Diagnostic {
        code: 3015,
        reason: "This meeting does not allow 3rd-party dial-out by attendees.",
    };
    /// 3016: a role that cannot be granted.
    pub const INVALID_ROLE: Diagnostic = Diagnostic {
        code: 3016,
        reason: "The supplied role is invalid.",
    };
}

/// How the request reached the focus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Carriage {
    /// SIP SERVICE (to the focus factory).
    Service,
    /// SIP INVITE (joining the focus).
    Invite,
    /// SIP INFO inside the focus dialog.
    Info,
}

/// Who sent a request, and where to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The sender's authenticated identity (the SIP From URI).
    pub sender: ByteString,
    /// The URI the request was sent to (the SIP To URI).
    pub target: ByteString,
    /// The SIP method that carried it.
    pub carriage: Carriage,
}

/// What the focus wants done.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Output {
    /// Send this C3P response for the request that came with `token`.
    Response {
        /// The caller's token of the request.
        token: u64,
        /// The response.
        response: Response,
        /// The `ms-diagnostics` value, if one applies.
        diagnostic: Option<Diagnostic>,
    },
    /// Send this C3P request to an MCU; report its answer with `id`.
    McuRequest {
        /// The correlation id for [`Focus::handle_mcu_response`].
        id: u64,
        /// The MCU type.
        mcu: McuType,
        /// The MCU conference URI.
        mcu_uri: ByteString,
        /// The request.
        request: Request,
    },
    /// Send this conference-info document to a subscriber.
    Notify {
        /// The subscriber.
        subscriber: u64,
        /// The document (full or partial, with its version).
        document: ConferenceInfo,
        /// The conference is gone: this is the last notification of the subscription.
        terminated: bool,
    },
    /// A conference was created, its description changed, or it was deleted (`None`): what a
    /// store keeps so that [`Focus::restore`] can schedule it again after a restart.
    Schedule {
        /// The focus URI.
        focus: ByteString,
        /// The conference as scheduled now, or `None` once it is gone.
        conference: Option<Box<Scheduled>>,
    },
}

/// A scheduled conference as a store keeps it ([`Output::Schedule`], [`Focus::restore`]).
///
/// `info` is a `conference-info` document in the form of an addConference: the focus URI as
/// entity; the description (conference ID, subject, display text, expiry, admission policy,
/// organizer); a conference view naming each MCU; and the invited users with their roles.
/// Who is in the conference is not kept: a restart ends every session.
#[derive(Debug, Clone, PartialEq)]
pub struct Scheduled {
    /// The document.
    pub info: ConferenceInfo,
    /// The conference key (what `getEncryptionKey` hands out).
    pub key: [u8; 16],
}

/// Why [`Focus::restore`] refused a conference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RestoreError {
    /// The entity is not a focus URI, or the conference ID is not one.
    #[error("not a focus URI with a conference ID: {0}")]
    NotAFocus(String),
    /// Its expiry time has passed (or it has none).
    #[error("the conference has expired")]
    Expired,
    /// A conference with this URI exists already.
    #[error("the conference exists already")]
    Exists,
    /// It names an MCU type this focus does not run.
    #[error("MCU type {0} is not available")]
    McuTypeNotAvailable(String),
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SubscribeError {
    /// No such conference.
    #[error("no such conference")]
    NoSuchConference,
    /// The subscriber is neither the organizer nor a user of the conference.
    #[error("not a member of the conference")]
    NotAMember,
    /// Too many subscribers.
    #[error("too many subscribers")]
    TooMany,
}

/// The focus's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusConfig {
    /// The MCU types this deployment runs.
    pub mcus: Vec<McuType>,
    /// Dial-in numbers for `getConferencingCapabilities`.
    pub pstn: Option<PstnBridging>,
    /// Most conferences per organizer (default 1,000).
    pub max_conferences_per_organizer: usize,
    /// Most users (lobby included) per conference (default 250).
    pub max_users: usize,
    /// Most subscribers per conference (default 500).
    pub max_subscribers: usize,
    /// Lifetime of a conference created without `expiry-time`, in seconds (default 8 hours).
    pub default_lifetime: i64,
    /// Longest lifetime a request may ask for, in seconds (default 10 years, as UCMA allows).
    pub max_lifetime: i64,
}

impl Default for FocusConfig {
    fn default() -> Self {
        FocusConfig {
            mcus: vec![McuType::AudioVideo, McuType::Chat, McuType::Meeting],
            pstn: None,
            max_conferences_per_organizer: 1000,
            max_users: 250,
            max_subscribers: 500,
            default_lifetime: 8 * 3600,
            max_lifetime: 10 * 366 * 86_400,
        }
    }
}

#[derive(Debug, Clone)]
struct Subscriber {
    id: u64,
    version: u32,
}

#[derive(Debug, Clone)]
struct Waiting {
    token: u64,
    request: Request,
    user: ByteString,
}

#[derive(Debug, Clone)]
struct Conference {
    uri: ConferenceUri,
    focus: ByteString,
    organizer: ByteString,
    info: ConferenceInfo,
    expiry: Timestamp,
    expired: bool,
    key: [u8; 16],
    invited: Vec<(ByteString, Role)>,
    mcus: Vec<(McuType, ByteString)>,
    subscribers: Vec<Subscriber>,
    lobby: Vec<Waiting>,
}

type Key = (String, String);

/// What [`Focus::install`] creates, once checked.
struct Plan {
    id: String,
    expiry: Timestamp,
    policy: AdmissionPolicy,
    mcus: Vec<McuType>,
    invited: Vec<(ByteString, Role)>,
    key: [u8; 16],
}

#[derive(Debug, Clone)]
enum Pending {
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

/// The focus: all conferences of a server, their subscribers and lobbies.
#[derive(Debug)]
pub struct Focus {
    config: FocusConfig,
    conferences: HashMap<Key, Conference>,
    outputs: VecDeque<Output>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
    rng: crate::rng::Keys,
}

pub(crate) use crate::uri::address_of_record as aor;

fn same_user(a: &str, b: &str) -> bool {
    aor(a) == aor(b)
}

/// A failure to answer with.
struct Fail(Reason, Option<Diagnostic>);

impl Fail {
    fn forbidden() -> Fail {
        Fail(Reason::Forbidden, Some(Diagnostic::FAILED_AUTHORIZATION))
    }
    fn no_conference() -> Fail {
        Fail(
            Reason::ConferenceDoesNotExist,
            Some(Diagnostic::INVALID_CONFERENCE_ENTITY),
        )
    }
}

impl Focus {
    /// A focus with no conferences. `rng` makes the conference IDs and keys (give it a
    /// CSPRNG: an ID is seen by every participant, a key by members only).
    #[must_use]
    pub fn new(config: FocusConfig, rng: impl rand_core::CryptoRng + Send + 'static) -> Focus {
        Focus {
            config,
            conferences: HashMap::new(),
            outputs: VecDeque::new(),
            pending: HashMap::new(),
            next_id: 1,
            rng: crate::rng::Keys::new(rng),
        }
    }

    fn random(&mut self) -> u64 {
        self.rng.next_u64()
    }

    fn new_conference_id(&mut self) -> String {
        const ALPHABET: &[u8; 32] = b"0123456789BCDFGHJKLMNPQRSTVWXYZA";
        let r = self.random();
        (0..12)
            .map(|i| ALPHABET[((r >> (i * 5)) & 31) as usize] as char)
            .collect()
    }

    /// The next output to act on.
    #[must_use = "outputs carry responses, MCU requests and notifications"]
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

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

    /// The current full state of a conference, by focus URI.
    #[must_use]
    pub fn conference(&self, focus_uri: &str) -> Option<&ConferenceInfo> {
        let u = ConferenceUri::parse(focus_uri).ok()?;
        self.conferences.get(&u.key()).map(|c| &c.info)
    }

    /// How many conferences exist.
    #[must_use]
    pub fn conference_count(&self) -> usize {
        self.conferences.len()
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
    fn schedule(&mut self, key: &Key) {
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

    fn respond(&mut self, token: u64, response: Response, diagnostic: Option<Diagnostic>) {
        self.outputs.push_back(Output::Response {
            token,
            response,
            diagnostic,
        });
    }

    fn mcu_request(
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

    /// Handles a C3P request. `token` comes back with the response(s).
    pub fn handle_request(
        &mut self,
        now: Timestamp,
        token: u64,
        origin: &Origin,
        request: Request,
    ) {
        if !same_user(&request.from, &origin.sender) {
            let r = request.fail(Reason::Forbidden);
            return self.respond(token, r, Some(Diagnostic::BAD_FROM));
        }
        if !origin.target.eq_ignore_ascii_case(&request.to)
            && aor(&origin.target) != aor(&request.to)
        {
            let r = request.fail(Reason::OtherFailure);
            return self.respond(token, r, Some(Diagnostic::BAD_TO));
        }
        if request
            .c3p_version
            .as_deref()
            .is_some_and(|v| v.trim() != "1")
        {
            let r = request.fail(Reason::NotSupported);
            return self.respond(token, r, None);
        }
        let body = &request.command.body;
        let result = match body {
            Body::AddConference { info } => self
                .add_conference(now, origin, &request, info.as_deref())
                .map(Some),
            Body::GetAvailableMcuTypes { .. } => Ok(Some(request.respond(
                Code::Success,
                Body::GetAvailableMcuTypes {
                    mcu_types: Some(self.config.mcus.clone()),
                },
            ))),
            Body::GetConferencingCapabilities { .. } => Ok(Some(request.respond(
                Code::Success,
                Body::GetConferencingCapabilities {
                    mcu_types: Some(self.config.mcus.clone()),
                    pstn_bridging: self.config.pstn.clone(),
                },
            ))),
            Body::GetConferences { .. } => Ok(Some(self.get_conferences(origin, &request))),
            Body::GetConference { .. } => self.get_conference(origin, &request).map(Some),
            Body::GetEncryptionKey { .. } => self.get_encryption_key(origin, &request).map(Some),
            Body::DeleteConference { .. } => self.delete_conference(origin, &request).map(Some),
            Body::ModifyConference { info } => {
                self.modify_conference(token, now, origin, &request, info.as_deref())
            }
            Body::AddUser { keys, user } => {
                self.add_user(token, now, origin, &request, keys.as_ref(), user.as_deref())
            }
            Body::DeleteUser { keys } => {
                self.delete_user(origin, &request, keys.as_ref()).map(Some)
            }
            Body::ModifyUserRoles { keys, roles } => self
                .modify_user_roles(origin, &request, keys.as_ref(), roles.as_ref())
                .map(Some),
            Body::ModifyEndpointRole { keys, roles } => self
                .modify_endpoint_role(origin, &request, keys.as_ref(), roles.as_ref())
                .map(Some),
            Body::ModifyEndpointMedia { keys, media } => {
                self.modify_endpoint_media(token, origin, &request, keys.as_ref(), media.as_deref())
            }
            Body::ModifyConferenceLock { locked, .. } => {
                self.modify_lock(origin, &request, *locked).map(Some)
            }
            Body::SetLobbyAccess { users, access, .. } => self
                .set_lobby_access(now, origin, &request, users, access.as_ref())
                .map(Some),
            Body::Unknown(_) => Err(Fail(
                Reason::NotSupported,
                Some(Diagnostic::NOT_IMPLEMENTED),
            )),
        };
        match result {
            Ok(None) => {}
            Ok(Some(resp)) => self.respond(token, resp, None),
            Err(Fail(reason, diag)) => {
                let r = request.fail(reason);
                self.respond(token, r, diag);
            }
        }
    }

    /// Answers a request whose body failed to parse ([MS-OCER] 3006).
    pub fn reject_unparsable(&mut self, token: u64, origin: &Origin, request_id: u64) {
        let r = Response {
            request_id,
            from: origin.target.clone(),
            to: origin.sender.clone(),
            code: Code::Failure,
            reason: Some(Reason::OtherFailure),
            c3p_version: Some(ByteString::from_static("1")),
            command: Body::Unknown(crate::xml::Element::new(Some(crate::ns::CCCP), "request"))
                .into(),
            ext: Default::default(),
        };
        self.respond(token, r, Some(Diagnostic::PARSE_FAILED));
    }

    // -----------------------------------------------------------------------------------------
    // Provisioning

    fn add_conference(
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
    fn install(
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

    fn get_conferences(&mut self, origin: &Origin, req: &Request) -> Response {
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

    /// Finds the conference named by keys (`confEntity`, or `msci:conference-id` of the
    /// sender's own conferences), else by the request's `to`.
    fn find(&self, origin: &Origin, req: &Request) -> Result<Key, Fail> {
        let keys = req.command.body.keys();
        let key = if let Some(e) = keys.and_then(|k| k.conf_entity.as_ref()) {
            ConferenceUri::parse(e)
                .map_err(|_| {
                    Fail(
                        Reason::ConferenceDoesNotExist,
                        Some(Diagnostic::INVALID_CONFERENCE_URI),
                    )
                })?
                .to_focus()
                .key()
        } else if let Some(id) = keys.and_then(|k| k.conference_id.as_ref()) {
            (aor(&origin.sender), id.to_ascii_uppercase())
        } else {
            let u = ConferenceUri::parse(&req.to).map_err(|_| Fail::no_conference())?;
            if u.kind == UriKind::FocusFactory {
                return Err(Fail::no_conference());
            }
            u.to_focus().key()
        };
        if self.conferences.contains_key(&key) {
            Ok(key)
        } else {
            Err(Fail::no_conference())
        }
    }

    fn conf(&self, key: &Key) -> &Conference {
        &self.conferences[key]
    }

    fn is_organizer(c: &Conference, who: &str) -> bool {
        same_user(&c.organizer, who)
    }

    fn is_leader(c: &Conference, who: &str) -> bool {
        Self::is_organizer(c, who)
            || c.info.user_list().iter().any(|u| {
                same_user(&u.entity, who)
                    && u.roles
                        .as_ref()
                        .is_some_and(|r| r.iter().any(Role::is_leader))
            })
    }

    fn is_member(c: &Conference, who: &str) -> bool {
        Self::is_organizer(c, who)
            || c.info.user(who).is_some()
            || c.invited.iter().any(|(u, _)| same_user(u, who))
    }

    /// The conference a request names, when its sender leads it (organizer or presenter).
    fn led(&self, origin: &Origin, req: &Request) -> Result<Key, Fail> {
        let key = self.find(origin, req)?;
        if Self::is_leader(self.conf(&key), &origin.sender) {
            Ok(key)
        } else {
            Err(Fail::forbidden())
        }
    }

    fn get_conference(&mut self, origin: &Origin, req: &Request) -> Result<Response, Fail> {
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

    fn get_encryption_key(&mut self, origin: &Origin, req: &Request) -> Result<Response, Fail> {
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

    fn delete_conference(&mut self, origin: &Origin, req: &Request) -> Result<Response, Fail> {
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
    fn delete(&mut self, key: &Key) {
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

    fn modify_conference(
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

    // -----------------------------------------------------------------------------------------
    // Participants

    fn add_user(
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

    fn mcu_of(c: &Conference, mcu_uri: &str) -> Result<(McuType, ByteString), Fail> {
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

    fn refresh_counts(c: &mut Conference) {
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

    fn delete_user(
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

    fn valid_roles(roles: Option<&Vec<Role>>) -> Result<Vec<Role>, Fail> {
        let roles = roles
            .filter(|r| !r.is_empty())
            .ok_or(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)))?;
        if roles
            .iter()
            .any(|r| !matches!(r, Role::Presenter | Role::Attendee))
        {
            return Err(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)));
        }
        Ok(roles.clone())
    }

    fn modify_user_roles(
        &mut self,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        roles: Option<&Vec<Role>>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let c = self.conf(&key);
        let roles = Self::valid_roles(roles)?;
        let target = keys
            .and_then(|k| k.user_entity.clone())
            .ok_or(Fail(Reason::InvalidUserEntity, None))?;
        let Some(user) = c.info.user(&target).cloned() else {
            return Err(Fail(Reason::InvalidUserEntity, None));
        };
        if Self::is_organizer(c, &user.entity) && !roles.contains(&Role::Presenter) {
            return Err(Fail(Reason::InvalidRole, Some(Diagnostic::INVALID_ROLE)));
        }
        let focus = c.focus.clone();
        for (t, u) in c.mcus.clone() {
            if user
                .endpoints
                .iter()
                .any(|e| e.session_type.as_deref() == Some(t.as_str()))
            {
                let body = Body::ModifyUserRoles {
                    keys: Some(Keys::user(u.clone(), user.entity.clone())),
                    roles: Some(roles.clone()),
                };
                self.mcu_request(t, u, &focus, body, Pending::Quiet);
            }
        }
        self.change(&key, |c| {
            if let Some(u) = c.info.user_mut(&user.entity) {
                u.roles = Some(roles.clone());
            }
        });
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }

    fn modify_endpoint_role(
        &mut self,
        origin: &Origin,
        req: &Request,
        keys: Option<&Keys>,
        roles: Option<&Vec<Role>>,
    ) -> Result<Response, Fail> {
        let key = self.led(origin, req)?;
        let c = self.conf(&key);
        let roles = Self::valid_roles(roles)?;
        let k = keys.cloned().unwrap_or_default();
        let (Some(user), Some(ep)) = (k.user_entity.clone(), k.endpoint_entity.clone()) else {
            return Err(Fail(Reason::EndpointDoesNotExist, None));
        };
        let Some(endpoint) = c.info.user(&user).and_then(|u| u.endpoint(&ep)).cloned() else {
            return Err(Fail(Reason::EndpointDoesNotExist, None));
        };
        let focus = c.focus.clone();
        if let Some((t, u)) = c
            .mcus
            .iter()
            .find(|(t, _)| endpoint.session_type.as_deref() == Some(t.as_str()))
            .cloned()
        {
            let mut fk = k.clone();
            fk.conf_entity = Some(u.clone());
            self.mcu_request(
                t,
                u,
                &focus,
                Body::ModifyEndpointRole {
                    keys: Some(fk),
                    roles: Some(roles.clone()),
                },
                Pending::Quiet,
            );
        }
        self.change(&key, |c| {
            if let Some(e) = c.info.user_mut(&user).and_then(|u| u.endpoint_mut(&ep)) {
                e.roles = Some(roles.clone());
            }
        });
        Ok(req.respond(Code::Success, req.command.body.echo()))
    }

    fn modify_endpoint_media(
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

    fn modify_lock(
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

    fn set_lobby_access(
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

    // -----------------------------------------------------------------------------------------
    // MCU answers

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

    // -----------------------------------------------------------------------------------------
    // Subscriptions

    /// Subscribes `subscriber` (the caller's id for the SIP subscription) of user `user` to a
    /// conference's state. The full state follows as [`Output::Notify`]; subscribing again
    /// with the same id refreshes it (another full state, the version going on).
    ///
    /// # Errors
    /// The conference does not exist, `user` is not its organizer nor one of its users, or the
    /// conference has too many subscribers.
    pub fn subscribe(
        &mut self,
        subscriber: u64,
        focus_uri: &str,
        user: &str,
    ) -> Result<(), SubscribeError> {
        let key = ConferenceUri::parse(focus_uri)
            .map_err(|_| SubscribeError::NoSuchConference)?
            .to_focus()
            .key();
        let max = self.config.max_subscribers;
        let c = self
            .conferences
            .get_mut(&key)
            .ok_or(SubscribeError::NoSuchConference)?;
        if !Self::is_member(c, user) {
            return Err(SubscribeError::NotAMember);
        }
        let version = match c.subscribers.iter_mut().find(|s| s.id == subscriber) {
            Some(s) => {
                s.version = s.version.wrapping_add(1);
                s.version
            }
            None => {
                if c.subscribers.len() >= max {
                    return Err(SubscribeError::TooMany);
                }
                c.subscribers.push(Subscriber {
                    id: subscriber,
                    version: 1,
                });
                1
            }
        };
        let mut doc = c.info.clone();
        doc.state = State::Full;
        doc.version = Some(version);
        self.outputs.push_back(Output::Notify {
            subscriber,
            document: doc,
            terminated: false,
        });
        Ok(())
    }

    /// Ends a subscription.
    pub fn unsubscribe(&mut self, subscriber: u64) {
        for c in self.conferences.values_mut() {
            c.subscribers.retain(|s| s.id != subscriber);
        }
    }

    /// Applies a change to a conference and notifies every subscriber of the delta.
    fn change(&mut self, key: &Key, f: impl FnOnce(&mut Conference)) {
        let Some(c) = self.conferences.get_mut(key) else {
            return;
        };
        let before = c.info.clone();
        f(c);
        let Some(delta) = crate::state::delta(&before, &c.info) else {
            return;
        };
        for s in &mut c.subscribers {
            s.version = s.version.wrapping_add(1);
            let mut doc = delta.clone();
            doc.version = Some(s.version);
            self.outputs.push_back(Output::Notify {
                subscriber: s.id,
                document: doc,
                terminated: false,
            });
        }
    }
}

/// The users a scheduling document invites, with their roles (attendee when none is given).
fn invitees(info: &ConferenceInfo) -> Vec<(ByteString, Role)> {
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

/// The media an MCU's entity view lists.
fn mcu_media(t: &McuType) -> Vec<ConferenceMedium> {
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
