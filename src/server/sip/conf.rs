//! Conferencing in the SIP core: the focus factory and the focus (`ocs-cccp`'s [`Focus`])
//! reached over SIP, the C3P requests they send to the MCUs (handed to the runtime, which
//! carries them over HTTP: [`Engine::poll_mcu`], [`Engine::mcu_answer`]), the MCUs' own C3P
//! service ([`Engine::serve_mcu`], behind the runtime's HTTP listener), and the IM MCU's chat
//! sessions.
//!
//! - `SERVICE` to a focus factory (`…;gruu;opaque=app:conf:focusfactory`) carries C3P
//!   provisioning (addConference, getConference…): answered `200 OK` with the C3P response.
//! - `INVITE` to a focus URI with addUser joins: `200 OK` with the C3P response (also when it
//!   is `pending`: the user waits in the lobby), which makes the focus dialog. Later answers
//!   to a pending command come as `INFO` in that dialog. `INFO` carries in-conference
//!   commands; `BYE` leaves (a deleteUser on the user's behalf).
//! - `SUBSCRIBE` with `Event: conference` to a focus URI: the full `conference-info`, then
//!   partial ones, as NOTIFY, or BENOTIFY when the subscriber offered `ms-benotify`.
//! - The IM MCU (`…;opaque=app:conf:chat:id:…`): a user the focus added there (addUser over
//!   HTTP) INVITEs it; each MESSAGE and INFO in that session is relayed to every other
//!   participant's session, with `Ms-Sender` naming who wrote it.
//! - The A/V and web-conferencing MCUs accept addConference, addUser (reporting the endpoint)
//!   and the rest of their C3P; their media (SRTP, PSOM) is not served here yet, so an INVITE
//!   to them is refused with 488.
//!
//! Our choices where the public record stops: a C3P failure to an INVITE is a 404 (no such
//! conference) or 403 (anything else) with the C3P response in the body and the [MS-OCER]
//! `ms-diagnostics`; the focus and MCU Contact is the conference URI itself, as OCS writes it.
//! The sender of a request is the From of the request as it arrived: the proxy authenticates
//! REGISTER only.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::{Engine, Outbound, Peer, StoreOp, unix};
use crate::cccp::focus::{Carriage, Focus, Origin, Output, Scheduled};
use crate::cccp::info::{ConferenceInfo, Endpoint, User};
use crate::cccp::message::{Body, Code, Reason, Request, Response};
use crate::cccp::time::Timestamp;
use crate::cccp::uri::{ConferenceUri, McuType, UriKind, address_of_record};
use crate::sip::dialog::Dialog;
use crate::sip::subscription::{Notifier, NotifierEvent};
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};
use crate::srtp::Policy;

/// The media type of C3P documents.
pub const C3P: &str = "application/cccp+xml";
const CONFERENCE_INFO: &str = "application/conference-info+xml";
/// The longest conference subscription granted, in seconds.
const MAX_SUBSCRIPTION: u32 = 3600;

/// A C3P request for an MCU, for the runtime to POST over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct McuCall {
    /// Its id, for [`Engine::mcu_answer`].
    pub id: u64,
    /// The MCU type (its HTTP path is `/LiveServer/<type>/`).
    pub mcu: McuType,
    /// The C3P request document.
    pub body: Bytes,
}

/// One medium of a participant at the A/V MCU.
#[derive(Debug, Clone)]
pub struct MediaLeg {
    /// Where its RTP goes (from its offer).
    pub rtp: SocketAddr,
    /// Its RTCP address (`a=rtcp`, else the RTP port + 1).
    pub rtcp: SocketAddr,
    /// The key it sends with (its offer's `a=crypto`).
    pub inbound: Policy,
    /// The key we send to it with (our answer's).
    pub outbound: Policy,
    /// The MCU's SSRC toward it.
    pub ssrc: u32,
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

/// A conference as the store keeps it ([`StoreOp::Schedule`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredConference {
    /// The focus URI.
    pub focus: String,
    /// The scheduling record: a `conference-info` document ([`Scheduled::info`]).
    pub info: String,
    /// The conference key.
    pub key: [u8; 16],
    /// When it expires, seconds since the Unix epoch (expired ones are purged).
    pub expires_at: u64,
}

/// How to answer a C3P request that came in SIP.
#[derive(Debug)]
struct Wait {
    /// The server transaction and its request, until the first answer goes out in its SIP
    /// response.
    first: Option<(TxKey, Message)>,
    /// The focus dialog (Call-ID) later answers go to, as INFO.
    dialog: Option<String>,
    /// Where the request came from.
    peer: Peer,
}

/// One SIP session with the focus or the IM MCU, we being the UAS.
#[derive(Debug)]
struct Leg {
    dialog: Dialog,
    /// The participant's address of record URI, `sip:user@domain`.
    user: String,
    /// The conference URI the session is with (focus or MCU).
    conference: String,
    peer: Peer,
    /// Its audio leg at the A/V MCU's relay.
    media: Option<crate::media::LegId>,
}

#[derive(Debug)]
struct Sub {
    notifier: Notifier,
    peer: Peer,
    call_id: String,
}

/// One conference at one MCU: who the focus admitted.
#[derive(Debug, Default)]
struct McuConference {
    /// (user AOR, endpoint entity).
    users: Vec<(String, String)>,
}

/// The conferencing state of the engine.
pub(super) struct Conferencing {
    pub(super) focus: Focus,
    waits: HashMap<u64, Wait>,
    next_token: u64,
    /// Focus and IM MCU sessions, by Call-ID.
    legs: HashMap<String, Leg>,
    subs: HashMap<u64, Sub>,
    /// Subscription dialogs (Call-ID) → subscriber id.
    sub_of_call: HashMap<String, u64>,
    next_sub: u64,
    calls: VecDeque<McuCall>,
    media: VecDeque<MediaOp>,
    next_media_leg: u64,
    webconf: VecDeque<WebConfOp>,
    /// (MCU type, organizer, conference ID) → the conference there.
    mcu_conferences: HashMap<(String, String, String), McuConference>,
    /// The store ticket the answers of the current batch wait for (a conference created or
    /// changed is on disk before it is acknowledged).
    hold: Option<u64>,
    /// The focus's next expiry, as an instant (wall clock mapped on the engine's clock).
    pub(super) due: Option<Instant>,
    /// The earliest subscription expiry, kept as subscriptions change (the engine asks for
    /// its next timeout on every turn).
    subs_due: Option<Instant>,
}

impl Conferencing {
    pub(super) fn new(focus: Focus) -> Conferencing {
        Conferencing {
            focus,
            waits: HashMap::new(),
            next_token: 1,
            legs: HashMap::new(),
            subs: HashMap::new(),
            sub_of_call: HashMap::new(),
            next_sub: 1,
            calls: VecDeque::new(),
            media: VecDeque::new(),
            next_media_leg: 1,
            webconf: VecDeque::new(),
            mcu_conferences: HashMap::new(),
            hold: None,
            due: None,
            subs_due: None,
        }
    }

    /// The earliest subscription expiry or focus deadline.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match (self.subs_due, self.due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn ts(wall: SystemTime) -> Timestamp {
    Timestamp(unix(wall) as i64)
}

/// The conference a Request-URI names, if it is one of ours.
pub(super) fn conference_uri(engine: &Engine, req: &Message) -> Option<ConferenceUri> {
    let Some(Ok(uri)) = req.request_uri() else {
        return None;
    };
    let sip = uri.as_sip()?;
    let opaque = sip.params.value("opaque")?;
    if !opaque.starts_with("app:conf:") || !engine.is_us(&sip.host, sip.port) {
        return None;
    }
    ConferenceUri::parse(&uri.to_string()).ok()
}

/// The From URI of a message without parameters, `sip:user@host`.
fn from_uri(req: &Message) -> Option<String> {
    let from = req.from().ok()?;
    let s = from.uri.as_sip()?;
    Some(format!("sip:{}@{}", s.user?, s.host))
}

fn to_uri(req: &Message) -> String {
    req.to().map(|t| t.uri.to_string()).unwrap_or_default()
}

/// The web conference's role of `aor` (`user@host`) with these C3P roles: organizer for the
/// conference's organizer, presenter when granted, attendee otherwise.
fn web_role(
    uri: &ConferenceUri,
    aor: &str,
    roles: &[crate::cccp::info::Role],
) -> crate::psom::meeting::Role {
    use crate::psom::meeting::Role as Web;
    if address_of_record(&uri.organizer) == aor {
        Web::Organizer
    } else if roles.contains(&crate::cccp::info::Role::Presenter) {
        Web::Presenter
    } else {
        Web::Attendee
    }
}

fn mcu_key(t: &McuType, u: &ConferenceUri) -> (String, String, String) {
    let (org, id) = u.key();
    (t.as_str().to_owned(), org, id)
}

impl Engine {
    /// The next C3P request for an MCU.
    #[must_use]
    pub fn poll_mcu(&mut self) -> Option<McuCall> {
        self.conf.calls.pop_front()
    }

    /// The next change for the A/V MCU's media relay.
    #[must_use]
    pub fn poll_media(&mut self) -> Option<MediaOp> {
        self.conf.media.pop_front()
    }

    /// The next change for the web-conferencing MCU's PSOM service.
    #[must_use]
    pub fn poll_webconf(&mut self) -> Option<WebConfOp> {
        self.conf.webconf.pop_front()
    }

    /// The answer of an MCU to [`McuCall`] `id`: the C3P response document, or `None` when
    /// the exchange failed (connection, HTTP status, time-out).
    pub fn mcu_answer(&mut self, now: Instant, wall: SystemTime, id: u64, answer: Option<&[u8]>) {
        match answer.and_then(|b| Response::parse(Bytes::copy_from_slice(b)).ok()) {
            Some(r) => self.conf.focus.handle_mcu_response(ts(wall), id, &r),
            None => self.conf.focus.handle_mcu_failure(ts(wall), id),
        }
        self.drain_focus(now, wall);
        self.flush_transmits();
    }

    /// Schedules a conference the store kept (at start-up). Expired ones are refused.
    ///
    /// # Errors
    /// What [`Focus::restore`] refuses, or a record that does not parse.
    pub fn restore_conference(
        &mut self,
        now: Instant,
        wall: SystemTime,
        stored: &StoredConference,
    ) -> Result<(), String> {
        let info = ConferenceInfo::parse(Bytes::from(stored.info.clone().into_bytes()))
            .map_err(|e| e.to_string())?;
        let s = Scheduled {
            info,
            key: stored.key,
        };
        self.conf
            .focus
            .restore(ts(wall), &s)
            .map_err(|e| e.to_string())?;
        self.drain_focus(now, wall);
        Ok(())
    }

    /// How many conferences the focus runs.
    #[must_use]
    pub fn conference_count(&self) -> usize {
        self.conf.focus.conference_count()
    }

    /// The state of a conference, by focus URI.
    #[must_use]
    pub fn conference(&self, focus_uri: &str) -> Option<&ConferenceInfo> {
        self.conf.focus.conference(focus_uri)
    }

    /// Serves one C3P request POSTed to the MCU of type `mcu` (the in-process MCUs behind the
    /// runtime's HTTP listener). Returns the C3P response document, or `None` for a body that
    /// is not a C3P request (HTTP 400).
    pub fn serve_mcu(&mut self, now: Instant, mcu: &McuType, body: &[u8]) -> Option<Bytes> {
        let req = Request::parse(Bytes::copy_from_slice(body)).ok()?;
        let resp = self.mcu_command(now, mcu, &req);
        self.flush_transmits();
        Some(resp.to_bytes())
    }

    fn mcu_command(&mut self, now: Instant, mcu: &McuType, req: &Request) -> Response {
        let Ok(uri) = ConferenceUri::parse(&req.to) else {
            return req.fail(Reason::ConferenceDoesNotExist);
        };
        if uri.kind != UriKind::Mcu(mcu.clone()) {
            return req.fail(Reason::ConferenceDoesNotExist);
        }
        let key = mcu_key(mcu, &uri);
        match &req.command.body {
            Body::AddConference { .. } => {
                self.conf.mcu_conferences.entry(key).or_default();
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::DeleteConference { .. } => {
                if self.conf.mcu_conferences.remove(&key).is_none() {
                    return req.fail(Reason::ConferenceDoesNotExist);
                }
                if *mcu == McuType::Meeting {
                    self.conf.webconf.push_back(WebConfOp::Close {
                        conference_id: key.2.clone(),
                    });
                }
                let uri = uri.to_string();
                self.end_sessions(now, |l| l.conference == uri);
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::AddUser { keys, user } => {
                let Some(c) = self.conf.mcu_conferences.get_mut(&key) else {
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
                let Some(c) = self.conf.mcu_conferences.get_mut(&key) else {
                    return req.fail(Reason::ConferenceDoesNotExist);
                };
                let Some(user) = keys.as_ref().and_then(|k| k.user_entity.as_deref()) else {
                    return req.fail(Reason::InvalidUserEntity);
                };
                let aor = address_of_record(user);
                c.users.retain(|(a, _)| *a != aor);
                let uri = uri.to_string();
                self.end_sessions(now, |l| {
                    l.conference == uri && address_of_record(&l.user) == aor
                });
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::ModifyUserRoles { keys, roles } if *mcu == McuType::Meeting => {
                if !self.conf.mcu_conferences.contains_key(&key) {
                    return req.fail(Reason::ConferenceDoesNotExist);
                }
                let (Some(user), Some(roles)) =
                    (keys.as_ref().and_then(|k| k.user_entity.as_deref()), roles)
                else {
                    return req.fail(Reason::InvalidUserEntity);
                };
                let role = web_role(&uri, &address_of_record(user), roles);
                self.conf.webconf.push_back(WebConfOp::SetRole {
                    conference_id: key.2.clone(),
                    user: format!("sip:{}", address_of_record(user)),
                    role,
                });
                req.respond(Code::Success, req.command.body.echo())
            }
            Body::ModifyConference { .. }
            | Body::ModifyConferenceLock { .. }
            | Body::ModifyUserRoles { .. }
            | Body::ModifyEndpointRole { .. }
            | Body::ModifyEndpointMedia { .. }
            | Body::GetConference { .. } => {
                if self.conf.mcu_conferences.contains_key(&key) {
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
    ) -> Option<Vec<crate::cccp::info::ConnectionEntry>> {
        use base64::Engine as _;
        let psom = self.cfg.psom_addr?;
        let auth_id = (u64::from_le_bytes(self.unpredictable()) % 10_000_000_000).to_string();
        let mut key = self.unpredictable().to_vec();
        key.extend_from_slice(&self.unpredictable());
        let role = web_role(uri, aor, user.roles.as_deref().unwrap_or_default());
        self.conf.webconf.push_back(WebConfOp::Authorize {
            conference_id: conference_id.to_owned(),
            auth_id: auth_id.clone(),
            key: key.clone(),
            user: format!("sip:{aor}"),
            role,
        });
        let entry = |k: &str, v: String| crate::cccp::info::ConnectionEntry {
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

    /// BYE to every session `which` picks, and forgets them.
    fn end_sessions(&mut self, now: Instant, which: impl Fn(&Leg) -> bool) {
        let calls: Vec<String> = self
            .conf
            .legs
            .iter()
            .filter(|(_, l)| which(l))
            .map(|(c, _)| c.clone())
            .collect();
        for call in calls {
            self.send_in_dialog(now, &call, "BYE", None);
            if let Some(leg) = self.conf.legs.remove(&call) {
                self.leave_media(&leg);
            }
        }
    }

    /// Takes a session's audio out of the relay.
    fn leave_media(&mut self, leg: &Leg) {
        if let Some(id) = leg.media {
            self.conf.media.push_back(MediaOp::Leave {
                conference: leg.conference.clone(),
                leg: id,
            });
        }
    }

    /// The `sent-by` of our Via on `peer`'s transport.
    pub(super) fn sent_by(&self, peer: &Peer) -> String {
        match peer {
            Peer::Udp(_) => self.cfg.udp_addr,
            Peer::Stream { tls: false, .. } => self.cfg.tcp_addr,
            Peer::Stream { tls: true, .. } => self.cfg.tls_addr,
        }
        .or(self.cfg.udp_addr)
        .map_or_else(|| "127.0.0.1:5060".to_owned(), |a| a.to_string())
    }

    /// A fresh branch and our `sent-by` for a request to `peer`.
    fn hop(&mut self, peer: &Peer) -> (String, String) {
        (format!("z9hG4bK{}", self.token()), self.sent_by(peer))
    }

    /// Sends a request we originate through a client transaction.
    fn originate(&mut self, now: Instant, msg: Message, peer: Peer) {
        if let Ok(k) = self.layer.send_request(now, msg, peer.transport()) {
            self.peers.insert(k, peer);
        }
    }

    /// A request in the session `call` (`body`: content type and bytes).
    fn send_in_dialog(
        &mut self,
        now: Instant,
        call: &str,
        method: &'static str,
        body: Option<(&str, &[u8])>,
    ) -> bool {
        let Some(peer) = self.conf.legs.get(call).map(|l| l.peer) else {
            return false;
        };
        let (branch, sent_by) = self.hop(&peer);
        let Some(leg) = self.conf.legs.get_mut(call) else {
            return false;
        };
        let mut b = leg.dialog.request(method, &branch, &sent_by);
        if let Some((ct, bytes)) = body {
            b = b.body(ct, bytes);
        }
        let Ok(msg) = b.build() else {
            return false;
        };
        self.originate(now, msg, peer);
        true
    }

    /// A request whose Request-URI is a conference URI of ours.
    pub(super) fn conference_request(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        uri: ConferenceUri,
    ) {
        let method = req.method().unwrap_or_default().to_owned();
        let Some(sender) = from_uri(&req) else {
            return self.reply(now, key, &req, 400, "Bad Request");
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let in_dialog = req.to().is_ok_and(|t| t.tag().is_some());
        let peer = self.peers.get(&key).copied();
        match (&uri.kind, method.as_str()) {
            (UriKind::FocusFactory, "SERVICE") | (UriKind::Focus, "INFO") => {
                if uri.kind == UriKind::Focus && !self.in_session(&call, &req) {
                    return self.reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                }
                let carriage = if uri.kind == UriKind::Focus {
                    Carriage::Info
                } else {
                    Carriage::Service
                };
                let dialog = (carriage == Carriage::Info).then(|| call.clone());
                self.c3p_in(now, wall, key, req, sender, carriage, dialog, peer);
            }
            (UriKind::Focus, "INVITE") if !in_dialog => {
                self.c3p_in(
                    now,
                    wall,
                    key,
                    req,
                    sender,
                    Carriage::Invite,
                    Some(call),
                    peer,
                );
            }
            (
                UriKind::Focus | UriKind::Mcu(McuType::Chat) | UriKind::Mcu(McuType::AudioVideo),
                "INVITE",
            ) if in_dialog => {
                // A re-INVITE: the session stays as it is.
                if !self.in_session(&call, &req) {
                    return self.reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                }
                let contact = format!("<{uri}>");
                self.reply_with(now, key, &req, 200, "OK", &[("Contact", contact)]);
            }
            (UriKind::Focus, "SUBSCRIBE") => self.conference_subscribe(now, wall, key, req, &uri),
            (
                UriKind::Focus | UriKind::Mcu(McuType::Chat) | UriKind::Mcu(McuType::AudioVideo),
                "BYE",
            ) => {
                let Some(leg) = self.conf.legs.remove(&call) else {
                    return self.reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                };
                self.reply(now, key, &req, 200, "OK");
                self.leave_media(&leg);
                if uri.kind == UriKind::Focus {
                    // Leaving the focus session is leaving the conference.
                    let focus = uri.to_string();
                    let r = Request::new(
                        0,
                        leg.user.clone(),
                        focus.clone(),
                        Body::DeleteUser {
                            keys: Some(crate::cccp::message::Keys::user(focus.clone(), leg.user)),
                        },
                    );
                    let origin = Origin {
                        sender: r.from.clone(),
                        target: focus.into(),
                        carriage: Carriage::Info,
                    };
                    let token = self.conf.next_token;
                    self.conf.next_token += 1;
                    self.conf.focus.handle_request(ts(wall), token, &origin, r);
                    self.drain_focus(now, wall);
                }
            }
            (UriKind::Mcu(McuType::Chat), "INVITE") => self.chat_join(now, key, &req, &uri, sender),
            (UriKind::Mcu(McuType::AudioVideo), "INVITE") => {
                self.av_join(now, key, &req, &uri, sender);
            }
            (UriKind::Mcu(McuType::Chat), "MESSAGE" | "INFO") => {
                if !self.in_session(&call, &req) {
                    return self.reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                }
                self.reply(now, key, &req, 200, "OK");
                self.chat_relay(now, &call, &req, &method);
            }
            (UriKind::Mcu(_), "INVITE") => self.reply_with(
                now,
                key,
                &req,
                488,
                "Not Acceptable Here",
                &[(
                    "Warning",
                    "399 ocs \"this MCU takes no SIP sessions here\"".into(),
                )],
            ),
            _ => self.reply_with(
                now,
                key,
                &req,
                405,
                "Method Not Allowed",
                &[(
                    "Allow",
                    "INVITE, ACK, BYE, CANCEL, INFO, SUBSCRIBE, SERVICE, MESSAGE".into(),
                )],
            ),
        }
    }

    /// Whether `call` is a session of ours with this request's sender, in order (CSeq).
    fn in_session(&mut self, call: &str, req: &Message) -> bool {
        self.conf
            .legs
            .get_mut(call)
            .is_some_and(|l| l.dialog.matches(req) && l.dialog.handle_request(req).is_ok())
    }

    /// A C3P request carried in SIP: handed to the focus under a new token.
    #[allow(clippy::too_many_arguments)]
    fn c3p_in(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        sender: String,
        carriage: Carriage,
        dialog: Option<String>,
        peer: Option<Peer>,
    ) {
        let Some(peer) = peer else {
            return;
        };
        let is_c3p = req
            .content_type()
            .and_then(Result::ok)
            .is_some_and(|t| t.to_string().eq_ignore_ascii_case(C3P));
        if !is_c3p {
            return self.reply_with(
                now,
                key,
                &req,
                415,
                "Unsupported Media Type",
                &[("Accept", C3P.into())],
            );
        }
        let token = self.conf.next_token;
        self.conf.next_token += 1;
        let origin = Origin {
            sender: sender.into(),
            target: to_uri(&req).into(),
            carriage,
        };
        let parsed = Request::parse(Bytes::copy_from_slice(req.body()));
        self.conf.waits.insert(
            token,
            Wait {
                first: Some((key, req)),
                dialog,
                peer,
            },
        );
        match parsed {
            Ok(r) => self.conf.focus.handle_request(ts(wall), token, &origin, r),
            Err(_) => self.conf.focus.reject_unparsable(token, &origin, 0),
        }
        self.drain_focus(now, wall);
    }

    /// Acts on everything the focus wants done.
    pub(super) fn drain_focus(&mut self, now: Instant, wall: SystemTime) {
        while let Some(o) = self.conf.focus.poll_output() {
            match o {
                Output::Response {
                    token,
                    response,
                    diagnostic,
                } => self.c3p_out(
                    now,
                    token,
                    &response,
                    diagnostic.map(|d| (d.code, d.reason)),
                ),
                Output::McuRequest {
                    id, mcu, request, ..
                } => self.conf.calls.push_back(McuCall {
                    id,
                    mcu,
                    body: request.to_bytes(),
                }),
                Output::Notify {
                    subscriber,
                    document,
                    terminated,
                } => self.conference_notify(now, subscriber, &document, terminated),
                Output::Schedule { focus, conference } => {
                    let stored = conference.and_then(|s| {
                        Some(StoredConference {
                            focus: focus.to_string(),
                            info: String::from_utf8(s.info.to_bytes().to_vec()).ok()?,
                            key: s.key,
                            expires_at: s
                                .info
                                .description
                                .as_ref()?
                                .expiry_time
                                .as_ref()?
                                .at
                                .0
                                .max(0) as u64,
                        })
                    });
                    let ticket = self.next_ticket;
                    self.next_ticket += 1;
                    self.store.push_back((
                        ticket,
                        StoreOp::Schedule {
                            focus: focus.to_string(),
                            conference: stored,
                        },
                    ));
                    self.conf.hold = Some(ticket);
                }
            }
        }
        self.conf.hold = None;
        // Subscriptions are granted, refreshed and ended only on the paths that come here.
        self.conf.subs_due = self
            .conf
            .subs
            .values()
            .filter_map(|s| s.notifier.poll_timeout())
            .min();
        // The focus's next deadline on our clock.
        self.conf.due = self.conf.focus.poll_timeout().map(|t| {
            let ahead = (t.0 - ts(wall).0).max(0) as u64;
            now + std::time::Duration::from_secs(ahead)
        });
    }

    /// A C3P response from the focus: in the SIP response of the request that carried it, or
    /// (a later answer to a pending command) as INFO in the focus session.
    fn c3p_out(
        &mut self,
        now: Instant,
        token: u64,
        response: &Response,
        diagnostic: Option<(u16, &str)>,
    ) {
        let Some(w) = self.conf.waits.get_mut(&token) else {
            return;
        };
        let done = response.code != Code::Pending;
        let body = response.to_bytes();
        let first = w.first.take();
        let dialog = w.dialog.clone();
        let peer = w.peer;
        if done {
            self.conf.waits.remove(&token);
        }
        let Some((key, req)) = first else {
            if let Some(call) = dialog {
                self.send_in_dialog(now, &call, "INFO", Some((C3P, &body)));
            }
            return;
        };
        let invite = req.method() == Some("INVITE");
        let (code, reason) = match (invite, response.code) {
            (true, Code::Failure) if response.reason == Some(Reason::ConferenceDoesNotExist) => {
                (404, "Not Found")
            }
            (true, Code::Failure) => (403, "Forbidden"),
            _ => (200, "OK"),
        };
        let tag = self.token();
        let contact = format!("<{}>", to_uri(&req));
        let diag = diagnostic
            .map(|(c, r)| format!("{c};reason=\"{r}\";source=\"ocs.{}\"", self.cfg.domain));
        let mut b = req.response(code, reason, &tag).body(C3P, &body);
        if invite && code == 200 {
            b = b.header("Contact", &contact);
        }
        if let Some(d) = &diag {
            b = b.header("ms-diagnostics", d);
        }
        let Ok(resp) = b.build() else {
            return;
        };
        if invite && code == 200 {
            let user = from_uri(&req).unwrap_or_default();
            if let Ok(mut dialog) = Dialog::uas(&req, &resp) {
                dialog.set_transport(peer.via_transport());
                let call = req.call_id().unwrap_or_default().to_owned();
                self.conf.legs.insert(
                    call,
                    Leg {
                        dialog,
                        user,
                        conference: to_uri(&req),
                        peer,
                        media: None,
                    },
                );
            }
        }
        if code >= 300 {
            self.stats.rejected += 1;
        }
        match self.conf.hold {
            Some(ticket) => self.held.push_back((ticket, key, resp)),
            None => {
                let _ = self.layer.respond(now, key, resp);
            }
        }
    }

    fn conference_subscribe(
        &mut self,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        uri: &ConferenceUri,
    ) {
        let event = req
            .event()
            .and_then(Result::ok)
            .map(|e| e.value.to_ascii_lowercase());
        if event.as_deref() != Some("conference") {
            return self.reply_with(
                now,
                key,
                &req,
                489,
                "Bad Event",
                &[("Allow-Events", "conference".into())],
            );
        }
        let Some(peer) = self.peers.get(&key).copied() else {
            return;
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let focus = uri.to_string();
        if req.to().is_ok_and(|t| t.tag().is_some()) {
            // A refresh, or an unsubscribe (Expires: 0).
            let Some(&id) = self.conf.sub_of_call.get(&call) else {
                return self.reply(now, key, &req, 481, "Subscription Does Not Exist");
            };
            let granted = self
                .conf
                .subs
                .get_mut(&id)
                .map(|s| s.notifier.handle_subscribe(now, &req, MAX_SUBSCRIPTION));
            match granted {
                Some(Ok(secs)) => {
                    self.reply_with(now, key, &req, 200, "OK", &[("Expires", secs.to_string())]);
                    if secs == 0 {
                        self.conf.focus.unsubscribe(id);
                        self.final_notify(now, id);
                    } else if let Some(user) = from_uri(&req) {
                        // A refresh gets the full state again.
                        let _ = self.conf.focus.subscribe(id, &focus, &user);
                    }
                }
                _ => return self.reply(now, key, &req, 481, "Subscription Does Not Exist"),
            }
            return self.drain_focus(now, wall);
        }
        let Some(user) = from_uri(&req) else {
            return self.reply(now, key, &req, 400, "Bad Request");
        };
        let id = self.conf.next_sub;
        self.conf.next_sub += 1;
        if let Err(e) = self.conf.focus.subscribe(id, &focus, &user) {
            use crate::cccp::focus::SubscribeError;
            let (code, reason) = match e {
                SubscribeError::NoSuchConference => (404, "Not Found"),
                SubscribeError::NotAMember => (403, "Forbidden"),
                _ => (503, "Service Unavailable"),
            };
            return self.reply(now, key, &req, code, reason);
        }
        let asked = req
            .expires()
            .and_then(Result::ok)
            .unwrap_or(MAX_SUBSCRIPTION);
        let granted = asked.min(MAX_SUBSCRIPTION);
        let benotify = req
            .values(HeaderName::Supported)
            .any(|(v, _)| v.eq_ignore_ascii_case("ms-benotify"));
        let tag = self.token();
        let mut b = req
            .response(200, "OK", &tag)
            .header("Expires", granted)
            .header("Contact", format!("<{focus}>"));
        if benotify {
            b = b.header("Supported", "ms-benotify");
        }
        let Ok(ok) = b.build() else {
            self.conf.focus.unsubscribe(id);
            return self.reply(now, key, &req, 500, "Server Internal Error");
        };
        match Notifier::accept(now, &req, &ok, false) {
            Ok(mut notifier) => {
                notifier.set_transport(peer.via_transport());
                let _ = self.layer.respond(now, key, ok);
                self.conf.subs.insert(
                    id,
                    Sub {
                        notifier,
                        peer,
                        call_id: call.clone(),
                    },
                );
                self.conf.sub_of_call.insert(call, id);
            }
            Err(_) => {
                self.conf.focus.unsubscribe(id);
                return self.reply(now, key, &req, 400, "Bad Request");
            }
        }
        // The full state follows the 200.
        self.drain_focus(now, wall);
    }

    /// A conference-info document for a subscriber.
    fn conference_notify(
        &mut self,
        now: Instant,
        id: u64,
        document: &ConferenceInfo,
        terminated: bool,
    ) {
        let Some(peer) = self.conf.subs.get(&id).map(|s| s.peer) else {
            return;
        };
        let (branch, sent_by) = self.hop(&peer);
        let body = document.to_bytes();
        let Some(sub) = self.conf.subs.get_mut(&id) else {
            return;
        };
        if terminated {
            sub.notifier.terminate("noresource");
        }
        let Ok(msg) = sub
            .notifier
            .notify(now, &branch, &sent_by)
            .body(CONFERENCE_INFO, &body)
            .build()
        else {
            return;
        };
        self.send_notification(now, msg, peer);
        if terminated {
            self.forget_subscription(id);
        }
    }

    /// NOTIFY through a transaction; BENOTIFY straight out (nobody answers it).
    fn send_notification(&mut self, now: Instant, msg: Message, peer: Peer) {
        if msg.method() == Some("BENOTIFY") {
            self.out.push_back(Outbound {
                peer,
                bytes: msg.to_bytes(),
            });
        } else {
            self.originate(now, msg, peer);
        }
    }

    /// The terminating NOTIFY of a subscription (no body), and forgets it.
    fn final_notify(&mut self, now: Instant, id: u64) {
        let Some(peer) = self.conf.subs.get(&id).map(|s| s.peer) else {
            return;
        };
        let (branch, sent_by) = self.hop(&peer);
        if let Some(sub) = self.conf.subs.get_mut(&id)
            && let Ok(msg) = sub.notifier.notify(now, &branch, &sent_by).build()
        {
            self.send_notification(now, msg, peer);
        }
        self.forget_subscription(id);
    }

    fn forget_subscription(&mut self, id: u64) {
        if let Some(s) = self.conf.subs.remove(&id) {
            self.conf.sub_of_call.remove(&s.call_id);
        }
    }

    /// Subscriptions that ran out, and the focus's expiries.
    pub(super) fn conference_timeout(&mut self, now: Instant, wall: SystemTime) {
        let expired: Vec<u64> = self
            .conf
            .subs
            .iter_mut()
            .filter_map(|(id, s)| {
                matches!(s.notifier.handle_timeout(now), Some(NotifierEvent::Expired))
                    .then_some(*id)
            })
            .collect();
        for id in expired {
            self.conf.focus.unsubscribe(id);
            self.final_notify(now, id);
        }
        if self.conf.due.is_some_and(|d| d <= now) {
            self.conf.focus.handle_timeout(ts(wall));
        }
        self.drain_focus(now, wall);
    }

    /// An INVITE to the IM MCU from a user the focus added there.
    fn chat_join(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
        sender: String,
    ) {
        let Some(peer) = self.admitted(now, key, req, &McuType::Chat, uri, &sender) else {
            return;
        };
        let me = uri.to_string();
        let ip = self.sent_by(&peer);
        let host = ip.rsplit_once(':').map_or(ip.as_str(), |(h, _)| h);
        let sdp = format!(
            "v=0\r\no=- 0 0 IN IP4 {host}\r\ns=session\r\nc=IN IP4 {host}\r\nt=0 0\r\nm=message 5060 sip {me}\r\na=accept-types:text/plain text/html text/rtf application/im-iscomposing+xml\r\n"
        );
        self.accept_session(now, key, req, peer, &me, &sdp, sender, None);
    }

    /// Answers an INVITE to an MCU `200 OK` with our SDP and the MCU URI as Contact, and keeps
    /// the session (with its audio leg at the relay, if any). False when it answered an error
    /// instead.
    #[allow(clippy::too_many_arguments)]
    fn accept_session(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        peer: Peer,
        me: &str,
        sdp: &str,
        user: String,
        media: Option<crate::media::LegId>,
    ) -> bool {
        let tag = self.token();
        let Ok(ok) = req
            .response(200, "OK", &tag)
            .header("Contact", format!("<{me}>"))
            .body("application/sdp", sdp.as_bytes())
            .build()
        else {
            self.reply(now, key, req, 500, "Server Internal Error");
            return false;
        };
        let Ok(mut dialog) = Dialog::uas(req, &ok) else {
            self.reply(now, key, req, 400, "Bad Request");
            return false;
        };
        dialog.set_transport(peer.via_transport());
        self.conf.legs.insert(
            req.call_id().unwrap_or_default().to_owned(),
            Leg {
                dialog,
                user,
                conference: me.to_owned(),
                peer,
                media,
            },
        );
        let _ = self.layer.respond(now, key, ok);
        true
    }

    /// Where the INVITE came from, when `sender` was added at this MCU's conference (404 or
    /// 403 answered if not).
    fn admitted(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        mcu: &McuType,
        uri: &ConferenceUri,
        sender: &str,
    ) -> Option<Peer> {
        let peer = self.peers.get(&key).copied()?;
        let aor = address_of_record(sender);
        match self.conf.mcu_conferences.get(&mcu_key(mcu, uri)) {
            None => {
                self.reply(now, key, req, 404, "Not Found");
                None
            }
            Some(c) if c.users.iter().any(|(a, _)| *a == aor) => Some(peer),
            Some(_) => {
                self.reply(now, key, req, 403, "Forbidden");
                None
            }
        }
    }

    /// An INVITE to the A/V MCU: the audio of the offer (RTP/SAVP with `a=crypto`, PCMU or
    /// PCMA) answered with the MCU's media address and a key of its own for this leg, and the
    /// leg handed to the relay.
    fn av_join(
        &mut self,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
        sender: String,
    ) {
        let Some(peer) = self.admitted(now, key, req, &McuType::AudioVideo, uri, &sender) else {
            return;
        };
        let (Some(media_rtp), Some(media_rtcp)) = (self.cfg.media_rtp, self.cfg.media_rtcp) else {
            return self.reply(now, key, req, 488, "Not Acceptable Here");
        };
        let offer = match media_offer(req) {
            Ok(o) => o,
            Err(why) => {
                let warning = format!("399 ocs \"{why}\"");
                return self.reply_with(
                    now,
                    key,
                    req,
                    488,
                    "Not Acceptable Here",
                    &[("Warning", warning)],
                );
            }
        };
        let leg_id = self.conf.next_media_leg;
        self.conf.next_media_leg += 1;
        let me = uri.to_string();
        let ip = media_rtp.ip();
        // One answer line per offered line (RFC 3264 §6): audio and video taken, each with a
        // key of ours for this leg; anything else refused with port 0.
        let mut sdp =
            format!("v=0\r\no=- {leg_id} 1 IN IP4 {ip}\r\ns=session\r\nc=IN IP4 {ip}\r\nt=0 0\r\n");
        let mut accepted: Vec<(crate::media::MediaKind, MediaLeg)> = Vec::new();
        for line in &offer.lines {
            let Some((kind, stream)) = &line.stream else {
                sdp.push_str(&format!(
                    "m={} 0 {} {}\r\n",
                    line.media, line.proto, line.format
                ));
                continue;
            };
            // Our key for this leg and medium: 30 bytes nobody can predict.
            let mut key_salt = Vec::with_capacity(32);
            for _ in 0..4 {
                key_salt.extend_from_slice(&self.unpredictable());
            }
            key_salt.truncate(30);
            let suite = crate::srtp::Suite::AesCm128HmacSha1_80;
            let ours = crate::srtp::sdes::Crypto::new(stream.tag, suite, &key_salt, true);
            let Ok(outbound) = ours.policy() else {
                return self.reply(now, key, req, 500, "Server Internal Error");
            };
            let ssrc = u32::from_be_bytes(self.unpredictable()[..4].try_into().unwrap_or_default());
            let pt = stream.payload_type;
            sdp.push_str(&format!(
                "m={} {} RTP/SAVP {pt}\r\na=rtcp:{}\r\na=crypto:{ours}\r\n",
                line.media,
                media_rtp.port(),
                media_rtcp.port()
            ));
            if let Some(map) = &stream.rtpmap {
                sdp.push_str(&format!("a=rtpmap:{map}\r\n"));
            }
            sdp.push_str("a=sendrecv\r\n");
            accepted.push((
                *kind,
                MediaLeg {
                    rtp: stream.rtp,
                    rtcp: stream.rtcp,
                    inbound: stream.policy.clone(),
                    outbound,
                    ssrc,
                },
            ));
        }
        let audio = accepted
            .iter()
            .position(|(k, _)| *k == crate::media::MediaKind::Audio)
            .map(|i| accepted.remove(i).1);
        let video = accepted.pop().map(|(_, v)| v);
        let Some(audio) = audio else {
            return self.reply(now, key, req, 488, "Not Acceptable Here");
        };
        let user = address_of_record(&sender);
        if self.accept_session(now, key, req, peer, &me, &sdp, sender, Some(leg_id)) {
            self.conf.media.push_back(MediaOp::Join {
                conference: me,
                leg: leg_id,
                user,
                audio: Box::new(audio),
                video: video.map(Box::new),
            });
        }
    }

    /// A chat MESSAGE or INFO relayed to every other participant of the same IM conference.
    fn chat_relay(&mut self, now: Instant, call: &str, req: &Message, method: &str) {
        let Some((conference, sender)) = self
            .conf
            .legs
            .get(call)
            .map(|l| (l.conference.clone(), l.user.clone()))
        else {
            return;
        };
        let method: &'static str = if method == "INFO" { "INFO" } else { "MESSAGE" };
        let content_type = req
            .header(HeaderName::ContentType)
            .map_or_else(|| "text/plain".to_owned(), |h| h.value.trim().to_owned());
        let others: Vec<String> = self
            .conf
            .legs
            .iter()
            .filter(|(c, l)| c.as_str() != call && l.conference == conference)
            .map(|(c, _)| c.clone())
            .collect();
        for other in others {
            let Some(peer) = self.conf.legs.get(&other).map(|l| l.peer) else {
                continue;
            };
            let (branch, sent_by) = self.hop(&peer);
            let Some(leg) = self.conf.legs.get_mut(&other) else {
                continue;
            };
            let Ok(msg) = leg
                .dialog
                .request(method, &branch, &sent_by)
                .header("Ms-Sender", format!("<{sender}>"))
                .body(&content_type, req.body())
                .build()
            else {
                continue;
            };
            self.originate(now, msg, peer);
        }
    }

    /// An ACK for a session of ours (focus, IM MCU): absorbed.
    pub(super) fn is_our_session(&self, req: &Message) -> bool {
        req.call_id().is_ok_and(|c| self.conf.legs.contains_key(c))
    }
}

/// One medium of an offer the A/V MCU takes.
struct OfferedStream {
    rtp: SocketAddr,
    rtcp: SocketAddr,
    payload_type: u8,
    /// The `a=rtpmap` value of that payload type, if the offer had one.
    rtpmap: Option<String>,
    tag: u32,
    policy: Policy,
}

/// One `m=` line of an offer and what the MCU does with it.
struct OfferedLine {
    media: String,
    proto: String,
    format: String,
    stream: Option<(crate::media::MediaKind, OfferedStream)>,
}

/// What an offer asks of the A/V MCU.
struct Offer {
    lines: Vec<OfferedLine>,
}

/// Reads an SDP offer: the first `m=audio` (RTP/SAVP, PCMU or PCMA) is taken and must be
/// there, the first `m=video` (RTP/SAVP, its first payload type) is taken; each needs an
/// `a=crypto` this server supports (AES_CM_128_HMAC_SHA1_80 or _32), the connection address
/// (media level, else session level) and `a=rtcp` (else the RTP port + 1). Other lines are
/// kept to be refused.
fn media_offer(req: &Message) -> Result<Offer, &'static str> {
    use crate::media::MediaKind;
    use crate::sip::sdp::SessionDescription;
    let text = std::str::from_utf8(req.body()).map_err(|_| "the offer is not UTF-8")?;
    let sdp = SessionDescription::parse(text).map_err(|_| "the offer is not SDP")?;
    let mut lines = Vec::new();
    let (mut audio, mut video) = (false, false);
    for m in &sdp.media {
        let kind = match m.media {
            "audio" if !audio => Some(MediaKind::Audio),
            "video" if !video => Some(MediaKind::Video),
            _ => None,
        };
        let stream = kind
            .filter(|_| m.port != 0 && m.proto.eq_ignore_ascii_case("RTP/SAVP"))
            .and_then(|k| {
                let pt = m
                    .formats
                    .iter()
                    .filter_map(|f| f.parse::<u8>().ok())
                    .find(|&p| k == MediaKind::Video || p == 0 || p == 8)?;
                let addr = m.connections.first().or(sdp.connection.as_ref())?.address;
                let ip: std::net::IpAddr = addr.parse().ok()?;
                let rtcp_port = m
                    .attribute("rtcp")
                    .and_then(|v| v.split_whitespace().next())
                    .and_then(|p| p.parse::<u16>().ok())
                    .unwrap_or(m.port.wrapping_add(1));
                let (tag, policy) = m.attributes_named("crypto").find_map(|v| {
                    let c = crate::srtp::sdes::Crypto::parse(v).ok()?;
                    let p = c.policy().ok()?;
                    matches!(
                        c.suite,
                        crate::srtp::Suite::AesCm128HmacSha1_80
                            | crate::srtp::Suite::AesCm128HmacSha1_32
                    )
                    .then_some((c.tag, p))
                })?;
                let pts = pt.to_string();
                let rtpmap = m
                    .attributes_named("rtpmap")
                    .find(|v| v.split_whitespace().next() == Some(pts.as_str()))
                    .map(str::to_owned)
                    .or_else(|| match pt {
                        0 => Some("0 PCMU/8000".into()),
                        8 => Some("8 PCMA/8000".into()),
                        _ => None,
                    });
                Some((
                    k,
                    OfferedStream {
                        rtp: SocketAddr::new(ip, m.port),
                        rtcp: SocketAddr::new(ip, rtcp_port),
                        payload_type: pt,
                        rtpmap,
                        tag,
                        policy,
                    },
                ))
            });
        match stream.as_ref().map(|(k, _)| *k) {
            Some(MediaKind::Audio) => audio = true,
            Some(MediaKind::Video) => video = true,
            None => {}
        }
        lines.push(OfferedLine {
            media: m.media.to_owned(),
            proto: m.proto.to_owned(),
            format: m.formats.first().copied().unwrap_or("0").to_owned(),
            stream,
        });
    }
    if !audio {
        return Err("no usable audio: RTP/SAVP with PCMU or PCMA and an AES_CM_128 a=crypto");
    }
    Ok(Offer { lines })
}
