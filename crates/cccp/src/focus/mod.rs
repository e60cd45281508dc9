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

// One file per part of the focus: provisioning (the focus factory's commands), membership
// (join, leave, lobby, lock), roles, mcu (requests to the MCUs and their answers), notify
// (subscriptions) and schedule (expiry, the store's record, restore).
mod mcu;
mod membership;
mod notify;
mod provisioning;
mod roles;
mod schedule;

use std::collections::{HashMap, VecDeque};

use bytestring::ByteString;

use crate::info::{ConferenceInfo, Role};
use crate::message::{Body, Code, PstnBridging, Reason, Request, Response};
use crate::time::Timestamp;
use crate::uri::{ConferenceUri, McuType, UriKind};

use mcu::Pending;

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

use crate::uri::address_of_record as aor;

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

    fn respond(&mut self, token: u64, response: Response, diagnostic: Option<Diagnostic>) {
        self.outputs.push_back(Output::Response {
            token,
            response,
            diagnostic,
        });
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
}
