//! The focus factory and the focus (`ocs-cccp`'s [`Focus`]) reached over SIP, and the
//! conference-state subscriptions ([MS-CONFBAS] 3.2, RFC 4575, RFC 6665):
//!
//! - `SERVICE` to a focus factory (`…;gruu;opaque=app:conf:focusfactory`) carries C3P
//!   provisioning (addConference, getConference…): answered `200 OK` with the C3P response.
//! - `INVITE` to a focus URI with addUser joins: `200 OK` with the C3P response (also when it
//!   is `pending`: the user waits in the lobby), which makes the focus dialog. Later answers
//!   to a pending command come as `INFO` in that dialog. `INFO` carries in-conference
//!   commands; `BYE` leaves (a deleteUser on the user's behalf).
//! - `SUBSCRIBE` with `Event: conference` to a focus URI: the full `conference-info`, then
//!   partial ones, as NOTIFY, or BENOTIFY when the subscriber offered `ms-benotify`.
//!
//! The C3P the focus sends to an MCU goes straight to [`Mcus::handle`] when the MCU is in
//! this process, and out as [`Output::Mcu`](super::Output::Mcu) (C3P over HTTP) when the
//! configuration names it elsewhere ([`EngineConfig::remote_mcus`](super::EngineConfig)).
//!
//! Our choices where the public record stops: a C3P failure to an INVITE is a 404 (no such
//! conference) or 403 (anything else) with the C3P response in the body and the [MS-OCER]
//! `ms-diagnostics`; the focus Contact is the conference URI itself, as OCS writes it. The
//! sender of a request is the From of the request as it arrived: the proxy authenticates
//! REGISTER only (issue #18 changes that).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;

use super::core::{Core, Peer, unix};
use super::sessions::{Leg, Sessions, from_uri, leave_media, to_uri};
use super::{McuCall, StoreOp, StoredConference};
use crate::cccp::focus::{Carriage, Focus, Origin, Output, Scheduled};
use crate::cccp::info::ConferenceInfo;
use crate::cccp::message::{Body, Code, Reason, Request, Response};
use crate::cccp::time::Timestamp;
use crate::cccp::uri::{ConferenceUri, McuType, UriKind, address_of_record};
use crate::server::mcu::{Admission, McuEvent, Mcus};
use crate::sip::dialog::Dialog;
use crate::sip::subscription::{Notifier, NotifierEvent};
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};

/// The media type of C3P documents.
pub const C3P: &str = "application/cccp+xml";
const CONFERENCE_INFO: &str = "application/conference-info+xml";
/// The longest conference subscription granted, in seconds.
const MAX_SUBSCRIPTION: u32 = 3600;

/// What the conferencing application works with besides its own state.
pub(super) struct Cx<'a> {
    pub(super) core: &'a mut Core,
    pub(super) sessions: &'a mut Sessions,
    pub(super) mcus: &'a mut Mcus,
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
    /// A direct join ([`Conferencing::mcu_session`]): the MCU conference the INVITE is for,
    /// accepted there once the focus has added the user.
    direct: Option<ConferenceUri>,
}

#[derive(Debug)]
struct Sub {
    notifier: Notifier,
    peer: Peer,
    call_id: String,
}

/// The conferencing application's state: see the [module documentation](self).
pub(super) struct Conferencing {
    pub(super) focus: Focus,
    /// MCUs in another process, reached over HTTP.
    remote_mcus: Vec<(McuType, SocketAddr)>,
    waits: HashMap<u64, Wait>,
    next_token: u64,
    subs: HashMap<u64, Sub>,
    /// Subscription dialogs (Call-ID) → subscriber id.
    sub_of_call: HashMap<String, u64>,
    next_sub: u64,
    /// The store ticket the answers of the current batch wait for (a conference created or
    /// changed is on disk before it is acknowledged).
    hold: Option<u64>,
    /// The focus's next expiry, as an instant (wall clock mapped on the engine's clock).
    due: Option<Instant>,
    /// The earliest subscription expiry, kept as subscriptions change (the engine asks for
    /// its next timeout on every turn).
    subs_due: Option<Instant>,
    /// Users to take out of an MCU conference after the focus's queue is drained (a direct
    /// join the MCU could not take).
    undo: Vec<(String, ConferenceUri)>,
}

fn ts(wall: SystemTime) -> Timestamp {
    Timestamp(unix(wall) as i64)
}

/// The conference a Request-URI names, if it is one of ours (focus factory, focus or MCU).
pub(super) fn conference_uri(core: &Core, req: &Message) -> Option<ConferenceUri> {
    let Some(Ok(uri)) = req.request_uri() else {
        return None;
    };
    let sip = uri.as_sip()?;
    let opaque = sip.params.value("opaque")?;
    if !opaque.starts_with("app:conf:") || !core.is_us(&sip.host, sip.port) {
        return None;
    }
    ConferenceUri::parse(&uri.to_string()).ok()
}

/// Acts on what the MCUs want done outside themselves: relay and PSOM changes go out, the SIP
/// sessions they end get a BYE.
pub(super) fn drain_mcus(cx: &mut Cx<'_>, now: Instant) {
    while let Some(ev) = cx.mcus.poll_event() {
        match ev {
            McuEvent::Media(op) => cx.core.push(super::Output::Media(op)),
            McuEvent::WebConf(op) => cx.core.push(super::Output::WebConf(op)),
            McuEvent::EndSessions { conference, user } => {
                cx.sessions.end(cx.core, now, |l| {
                    l.conference == conference
                        && user
                            .as_ref()
                            .is_none_or(|u| address_of_record(&l.user) == *u)
                });
            }
        }
    }
}

impl Conferencing {
    pub(super) fn new(focus: Focus, remote_mcus: Vec<(McuType, SocketAddr)>) -> Conferencing {
        Conferencing {
            focus,
            remote_mcus,
            waits: HashMap::new(),
            next_token: 1,
            subs: HashMap::new(),
            sub_of_call: HashMap::new(),
            next_sub: 1,
            hold: None,
            due: None,
            subs_due: None,
            undo: Vec::new(),
        }
    }

    /// The earliest subscription expiry or focus deadline.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        match (self.subs_due, self.due) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The answer of a remote MCU to [`McuCall`] `id` (`None`: the exchange failed).
    pub(super) fn mcu_answer(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        wall: SystemTime,
        id: u64,
        answer: Option<&[u8]>,
    ) {
        match answer.and_then(|b| Response::parse(Bytes::copy_from_slice(b)).ok()) {
            Some(r) => self.focus.handle_mcu_response(ts(wall), id, &r),
            None => self.focus.handle_mcu_failure(ts(wall), id),
        }
        self.drain_focus(cx, now, wall);
    }

    /// Schedules a conference the store kept (at start-up).
    pub(super) fn restore(
        &mut self,
        cx: &mut Cx<'_>,
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
        self.focus
            .restore(ts(wall), &s)
            .map_err(|e| e.to_string())?;
        self.drain_focus(cx, now, wall);
        Ok(())
    }

    /// A request whose Request-URI is a focus factory or focus URI of ours.
    pub(super) fn request(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        uri: ConferenceUri,
    ) {
        let method = req.method().unwrap_or_default().to_owned();
        let Some(sender) = from_uri(&req) else {
            return cx.core.reply(now, key, &req, 400, "Bad Request");
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let in_dialog = req.to().is_ok_and(|t| t.tag().is_some());
        let peer = cx.core.peers.get(&key).copied();
        match (&uri.kind, method.as_str()) {
            (UriKind::FocusFactory, "SERVICE") | (UriKind::Focus, "INFO") => {
                if uri.kind == UriKind::Focus && !cx.sessions.in_session(&call, &req) {
                    return cx
                        .core
                        .reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                }
                let carriage = if uri.kind == UriKind::Focus {
                    Carriage::Info
                } else {
                    Carriage::Service
                };
                let dialog = (carriage == Carriage::Info).then(|| call.clone());
                self.c3p_in(cx, now, wall, key, req, sender, carriage, dialog, peer);
            }
            (UriKind::Focus, "INVITE") if !in_dialog => {
                self.c3p_in(
                    cx,
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
            (UriKind::Focus, "INVITE") => {
                // A re-INVITE: the session stays as it is.
                if !cx.sessions.in_session(&call, &req) {
                    return cx
                        .core
                        .reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                }
                let contact = format!("<{uri}>");
                cx.core
                    .reply_with(now, key, &req, 200, "OK", &[("Contact", contact)]);
            }
            (UriKind::Focus, "SUBSCRIBE") => {
                self.conference_subscribe(cx, now, wall, key, req, &uri)
            }
            (UriKind::Focus, "BYE") => {
                let Some(leg) = cx.sessions.bye(&call, &req) else {
                    return cx
                        .core
                        .reply(now, key, &req, 481, "Call/Transaction Does Not Exist");
                };
                cx.core.reply(now, key, &req, 200, "OK");
                leave_media(cx.core, &leg);
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
                self.internal(now, wall, cx, r, focus, None);
            }
            _ => cx.core.method_not_allowed(now, key, &req),
        }
    }

    /// A request to an MCU conference URI of ours. An INVITE to the IM or A/V MCU from a
    /// conference member the MCU has not admitted yet is a **direct join** (OCS 2007 R2's
    /// Direct Media INVITE, what Office Communicator and pidgin-sipe send after joining the
    /// focus): the focus is asked to add the user there — the dial-in addUser on his behalf,
    /// with every check of that path (a connected member of the conference, the MCU in it) — and
    /// the INVITE is answered when the focus has: accepted, or 403 with its diagnostic. The
    /// conference state then shows the user's endpoint at the MCU and every subscriber hears of
    /// it. A BYE that ends such a session takes the user's endpoint there out of the
    /// conference the same way (deleteUser with the MCU's URI). The rest is
    /// [`Sessions::mcu_request`].
    pub(super) fn mcu_session(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        uri: ConferenceUri,
    ) {
        let UriKind::Mcu(mcu) = &uri.kind else {
            return;
        };
        let sessions_mcu = matches!(mcu, McuType::Chat | McuType::AudioVideo);
        let initial = req.to().is_ok_and(|t| t.tag().is_none());
        let sender = from_uri(&req);
        if sessions_mcu
            && initial
            && req.method() == Some("INVITE")
            && let Some(sender) = &sender
            && cx.mcus.admits(mcu, &uri, &address_of_record(sender)) == Admission::NotAdded
        {
            return self.direct_join(cx, now, wall, key, req, uri, sender.clone());
        }
        let Some(ended) = cx
            .sessions
            .mcu_request(cx.core, cx.mcus, now, key, &req, &uri)
        else {
            return;
        };
        // The user left the MCU: his endpoint there leaves the conference.
        self.leave_mcu(cx, now, wall, ended.user, &uri);
    }

    /// Takes `user`'s endpoint at the MCU conference `uri` out of the conference (deleteUser
    /// with the MCU's URI, on his behalf).
    fn leave_mcu(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        wall: SystemTime,
        user: String,
        uri: &ConferenceUri,
    ) {
        let focus = uri.to_focus().to_string();
        let mut r = Request::new(
            0,
            user.clone(),
            focus.clone(),
            Body::DeleteUser {
                keys: Some(crate::cccp::message::Keys::user(focus.clone(), user)),
            },
        );
        r.command.mcu_uri = Some(uri.to_string().into());
        self.internal(now, wall, cx, r, focus, None);
    }

    /// A C3P request the server makes on a user's behalf (what his SIP request means), handed
    /// to the focus; its answer goes to `wait` (nowhere without one).
    fn internal(
        &mut self,
        now: Instant,
        wall: SystemTime,
        cx: &mut Cx<'_>,
        r: Request,
        focus: String,
        wait: Option<Wait>,
    ) {
        let origin = Origin {
            sender: r.from.clone(),
            target: focus.into(),
            carriage: Carriage::Info,
        };
        let token = self.next_token;
        self.next_token += 1;
        if let Some(w) = wait {
            self.waits.insert(token, w);
        }
        self.focus.handle_request(ts(wall), token, &origin, r);
        self.drain_focus(cx, now, wall);
    }

    /// A direct join: see [`Conferencing::mcu_session`].
    #[allow(clippy::too_many_arguments)]
    fn direct_join(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
        uri: ConferenceUri,
        sender: String,
    ) {
        let Some(peer) = cx.core.peers.get(&key).copied() else {
            return;
        };
        let focus = uri.to_focus().to_string();
        let mut r = Request::new(
            0,
            sender.clone(),
            focus.clone(),
            Body::AddUser {
                keys: Some(crate::cccp::message::Keys::conference(focus.clone())),
                user: Some(Box::new(crate::cccp::info::User {
                    entity: sender.clone().into(),
                    ..Default::default()
                })),
            },
        );
        r.command.mcu_uri = Some(uri.to_string().into());
        let wait = Wait {
            first: Some((key, req)),
            dialog: None,
            peer,
            direct: Some(uri),
        };
        self.internal(now, wall, cx, r, focus, Some(wait));
    }

    /// The focus's answer to a direct join: the INVITE accepted at the MCU, or refused.
    /// Returns the user to take out of the MCU again when the focus added him but the session
    /// could not be made (an offer the A/V MCU refuses).
    #[allow(clippy::too_many_arguments)]
    fn direct_answer(
        cx: &mut Cx<'_>,
        now: Instant,
        key: TxKey,
        req: &Message,
        peer: Peer,
        uri: &ConferenceUri,
        response: &Response,
        diagnostic: Option<(u16, &str)>,
    ) -> Option<String> {
        let sender = from_uri(req).unwrap_or_default();
        let admitted = cx.mcus.admits(
            match &uri.kind {
                UriKind::Mcu(m) => m,
                _ => return None,
            },
            uri,
            &address_of_record(&sender),
        ) == Admission::Admitted;
        if response.code == Code::Success && admitted {
            let joined =
                cx.sessions
                    .join(cx.core, cx.mcus, now, key, req, uri, sender.clone(), peer);
            return (!joined).then_some(sender);
        }
        cx.core.stats.rejected += 1;
        let (code, reason) = if response.reason == Some(Reason::ConferenceDoesNotExist) {
            (404, "Not Found")
        } else {
            (403, "Forbidden")
        };
        let diag = diagnostic
            .map(|(c, r)| format!("{c};reason=\"{r}\";source=\"ocs.{}\"", cx.core.cfg.domain));
        let mut extra = Vec::new();
        if let Some(d) = diag {
            extra.push(("ms-diagnostics", d));
        }
        cx.core.reply_with(now, key, req, code, reason, &extra);
        None
    }

    /// A C3P request carried in SIP: handed to the focus under a new token.
    #[allow(clippy::too_many_arguments)]
    fn c3p_in(
        &mut self,
        cx: &mut Cx<'_>,
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
            return cx.core.reply_with(
                now,
                key,
                &req,
                415,
                "Unsupported Media Type",
                &[("Accept", C3P.into())],
            );
        }
        let token = self.next_token;
        self.next_token += 1;
        let origin = Origin {
            sender: sender.into(),
            target: to_uri(&req).into(),
            carriage,
        };
        let parsed = Request::parse(Bytes::copy_from_slice(req.body()));
        self.waits.insert(
            token,
            Wait {
                first: Some((key, req)),
                dialog,
                peer,
                direct: None,
            },
        );
        match parsed {
            Ok(r) => self.focus.handle_request(ts(wall), token, &origin, r),
            Err(_) => self.focus.reject_unparsable(token, &origin, 0),
        }
        self.drain_focus(cx, now, wall);
    }

    /// Acts on everything the focus wants done.
    pub(super) fn drain_focus(&mut self, cx: &mut Cx<'_>, now: Instant, wall: SystemTime) {
        while let Some(o) = self.focus.poll_output() {
            match o {
                Output::Response {
                    token,
                    response,
                    diagnostic,
                } => self.c3p_out(
                    cx,
                    now,
                    token,
                    &response,
                    diagnostic.map(|d| (d.code, d.reason)),
                ),
                Output::McuRequest {
                    id, mcu, request, ..
                } => match self.remote_mcus.iter().find(|(t, _)| *t == mcu) {
                    // C3P over HTTP to an MCU elsewhere; its answer comes back through
                    // `Engine::mcu_answer`.
                    Some(&(_, addr)) => cx.core.push(super::Output::Mcu(McuCall {
                        id,
                        mcu,
                        addr,
                        body: request.to_bytes(),
                    })),
                    // An MCU of this process: a direct call.
                    None => {
                        let answer = cx.mcus.handle(&mcu, &request);
                        self.focus.handle_mcu_response(ts(wall), id, &answer);
                        drain_mcus(cx, now);
                    }
                },
                Output::Notify {
                    subscriber,
                    document,
                    terminated,
                } => self.conference_notify(cx, now, subscriber, &document, terminated),
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
                    let ticket = cx.core.store(StoreOp::Schedule {
                        focus: focus.to_string(),
                        conference: stored,
                    });
                    self.hold = Some(ticket);
                }
            }
        }
        self.hold = None;
        // Subscriptions are granted, refreshed and ended only on the paths that come here.
        self.subs_due = self
            .subs
            .values()
            .filter_map(|s| s.notifier.poll_timeout())
            .min();
        // The focus's next deadline on our clock.
        self.due = self.focus.poll_timeout().map(|t| {
            let ahead = (t.0 - ts(wall).0).max(0) as u64;
            now + std::time::Duration::from_secs(ahead)
        });
        if let Some((user, uri)) = self.undo.pop() {
            // (drains the focus again, and so the rest of the list)
            self.leave_mcu(cx, now, wall, user, &uri);
        }
    }

    /// A C3P response from the focus: in the SIP response of the request that carried it, or
    /// (a later answer to a pending command) as INFO in the focus session.
    fn c3p_out(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        token: u64,
        response: &Response,
        diagnostic: Option<(u16, &str)>,
    ) {
        let Some(w) = self.waits.get_mut(&token) else {
            return;
        };
        let done = response.code != Code::Pending;
        let body = response.to_bytes();
        let first = w.first.take();
        let dialog = w.dialog.clone();
        let peer = w.peer;
        let direct = w.direct.clone();
        if done {
            self.waits.remove(&token);
        }
        if let (Some(uri), Some((key, req))) = (&direct, &first) {
            if done {
                if let Some(user) =
                    Self::direct_answer(cx, now, *key, req, peer, uri, response, diagnostic)
                {
                    // Added at the MCU, no session there: out again, once the focus's
                    // queue is drained.
                    self.undo.push((user, uri.clone()));
                }
            } else if let Some(w) = self.waits.get_mut(&token) {
                // Pending (the lobby): the INVITE waits for the final answer.
                w.first = first;
            }
            return;
        }
        let Some((key, req)) = first else {
            if let Some(call) = dialog {
                cx.sessions
                    .send(cx.core, now, &call, "INFO", None, Some((C3P, &body)));
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
        let tag = cx.core.token();
        let contact = format!("<{}>", to_uri(&req));
        let diag = diagnostic
            .map(|(c, r)| format!("{c};reason=\"{r}\";source=\"ocs.{}\"", cx.core.cfg.domain));
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
                cx.sessions.insert(
                    call,
                    Leg {
                        dialog,
                        user,
                        conference: to_uri(&req),
                        peer,
                        media: None,
                        sdp: None,
                    },
                );
            }
        }
        if code >= 300 {
            cx.core.stats.rejected += 1;
        }
        match self.hold {
            Some(ticket) => cx.core.hold(ticket, key, resp),
            None => {
                let _ = cx.core.layer.respond(now, key, resp);
            }
        }
    }

    fn conference_subscribe(
        &mut self,
        cx: &mut Cx<'_>,
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
            return cx.core.reply_with(
                now,
                key,
                &req,
                489,
                "Bad Event",
                &[("Allow-Events", "conference".into())],
            );
        }
        let Some(peer) = cx.core.peers.get(&key).copied() else {
            return;
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let focus = uri.to_string();
        if req.to().is_ok_and(|t| t.tag().is_some()) {
            // A refresh, or an unsubscribe (Expires: 0).
            let Some(&id) = self.sub_of_call.get(&call) else {
                return cx
                    .core
                    .reply(now, key, &req, 481, "Subscription Does Not Exist");
            };
            let granted = self
                .subs
                .get_mut(&id)
                .map(|s| s.notifier.handle_subscribe(now, &req, MAX_SUBSCRIPTION));
            match granted {
                Some(Ok(secs)) => {
                    cx.core
                        .reply_with(now, key, &req, 200, "OK", &[("Expires", secs.to_string())]);
                    if secs == 0 {
                        self.focus.unsubscribe(id);
                        self.final_notify(cx, now, id);
                    } else if let Some(user) = from_uri(&req) {
                        // A refresh gets the full state again.
                        let _ = self.focus.subscribe(id, &focus, &user);
                    }
                }
                _ => {
                    return cx
                        .core
                        .reply(now, key, &req, 481, "Subscription Does Not Exist");
                }
            }
            return self.drain_focus(cx, now, wall);
        }
        let Some(user) = from_uri(&req) else {
            return cx.core.reply(now, key, &req, 400, "Bad Request");
        };
        let id = self.next_sub;
        self.next_sub += 1;
        if let Err(e) = self.focus.subscribe(id, &focus, &user) {
            use crate::cccp::focus::SubscribeError;
            let (code, reason) = match e {
                SubscribeError::NoSuchConference => (404, "Not Found"),
                SubscribeError::NotAMember => (403, "Forbidden"),
                _ => (503, "Service Unavailable"),
            };
            return cx.core.reply(now, key, &req, code, reason);
        }
        let asked = req
            .expires()
            .and_then(Result::ok)
            .unwrap_or(MAX_SUBSCRIPTION);
        let granted = asked.min(MAX_SUBSCRIPTION);
        let benotify = req
            .values(HeaderName::Supported)
            .any(|(v, _)| v.eq_ignore_ascii_case("ms-benotify"));
        let tag = cx.core.token();
        let mut b = req
            .response(200, "OK", &tag)
            .header("Expires", granted)
            .header("Contact", format!("<{focus}>"));
        if benotify {
            b = b.header("Supported", "ms-benotify");
        }
        let Ok(ok) = b.build() else {
            self.focus.unsubscribe(id);
            return cx.core.reply(now, key, &req, 500, "Server Internal Error");
        };
        match Notifier::accept(now, &req, &ok, false) {
            Ok(mut notifier) => {
                notifier.set_transport(peer.via_transport());
                let _ = cx.core.layer.respond(now, key, ok);
                self.subs.insert(
                    id,
                    Sub {
                        notifier,
                        peer,
                        call_id: call.clone(),
                    },
                );
                self.sub_of_call.insert(call, id);
            }
            Err(_) => {
                self.focus.unsubscribe(id);
                return cx.core.reply(now, key, &req, 400, "Bad Request");
            }
        }
        // The full state follows the 200.
        self.drain_focus(cx, now, wall);
    }

    /// A conference-info document for a subscriber.
    fn conference_notify(
        &mut self,
        cx: &mut Cx<'_>,
        now: Instant,
        id: u64,
        document: &ConferenceInfo,
        terminated: bool,
    ) {
        let Some(peer) = self.subs.get(&id).map(|s| s.peer) else {
            return;
        };
        let (branch, sent_by) = cx.core.hop(&peer);
        let body = document.to_bytes();
        let Some(sub) = self.subs.get_mut(&id) else {
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
        self.send_notification(cx, now, msg, peer);
        if terminated {
            self.forget_subscription(id);
        }
    }

    /// NOTIFY through a transaction; BENOTIFY straight out (nobody answers it).
    fn send_notification(&mut self, cx: &mut Cx<'_>, now: Instant, msg: Message, peer: Peer) {
        if msg.method() == Some("BENOTIFY") {
            cx.core.send(peer, msg.to_bytes());
        } else {
            cx.core.originate(now, msg, peer);
        }
    }

    /// The terminating NOTIFY of a subscription (no body), and forgets it.
    fn final_notify(&mut self, cx: &mut Cx<'_>, now: Instant, id: u64) {
        let Some(peer) = self.subs.get(&id).map(|s| s.peer) else {
            return;
        };
        let (branch, sent_by) = cx.core.hop(&peer);
        if let Some(sub) = self.subs.get_mut(&id)
            && let Ok(msg) = sub.notifier.notify(now, &branch, &sent_by).build()
        {
            self.send_notification(cx, now, msg, peer);
        }
        self.forget_subscription(id);
    }

    fn forget_subscription(&mut self, id: u64) {
        if let Some(s) = self.subs.remove(&id) {
            self.sub_of_call.remove(&s.call_id);
        }
    }

    /// Subscriptions that ran out, and the focus's expiries.
    pub(super) fn conference_timeout(&mut self, cx: &mut Cx<'_>, now: Instant, wall: SystemTime) {
        let expired: Vec<u64> = self
            .subs
            .iter_mut()
            .filter_map(|(id, s)| {
                s.notifier.handle_timeout(now);
                matches!(s.notifier.poll_event(), Some(NotifierEvent::Expired)).then_some(*id)
            })
            .collect();
        for id in expired {
            self.focus.unsubscribe(id);
            self.final_notify(cx, now, id);
        }
        if self.due.is_some_and(|d| d <= now) {
            self.focus.handle_timeout(ts(wall));
        }
        self.drain_focus(cx, now, wall);
    }
}
