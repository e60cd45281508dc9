//! SIP dialogs (RFC 3261 §12) with session timers (RFC 4028), sans-IO.
//!
//! A [`Dialog`] is created by a UAC from a response with a To tag to its INVITE or SUBSCRIBE
//! ([`Dialog::uac`]) and by a UAS from the request and its own response ([`Dialog::uas`]). It
//! keeps the dialog ID, the local and remote URIs, CSeq numbers, the remote target (refreshed by
//! target-refresh requests and their responses), the route set, and builds in-dialog requests
//! ([`Dialog::request`], [`Dialog::ack`]) with loose and strict routing (§12.2.1.1). A
//! [`DialogSet`] holds the dialogs of one INVITE, several early ones when a proxy forks
//! (§13.2.2.4), and ends the early ones on a final non-2xx.
//!
//! [`SessionTimer`] negotiates `Session-Expires`/`Min-SE` (RFC 4028 §7–9) and tells, on virtual
//! time, when the refresher must refresh and when the other side must give up (§10).
//!
//! ```
//! use bytes::Bytes;
//! use ocs_sip_codec::Message;
//! use ocs_sip_codec::dialog::{Dialog, DialogState};
//!
//! let invite = Message::parse(Bytes::from_static(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/TCP client.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
//!     From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nTo: Bob <sip:bob@biloxi.example.com>\r\n\
//!     Call-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 1 INVITE\r\n\
//!     Contact: <sip:alice@client.atlanta.example.com;transport=tcp>\r\nContent-Length: 0\r\n\r\n")).unwrap();
//! let ok = Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\n\
//!     Via: SIP/2.0/TCP client.atlanta.example.com;branch=z9hG4bK74bf9\r\n\
//!     Record-Route: <sip:ss2.biloxi.example.com;lr>, <sip:ss1.atlanta.example.com;lr>\r\n\
//!     From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\nTo: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
//!     Call-ID: 3848276298220188511@atlanta.example.com\r\nCSeq: 1 INVITE\r\n\
//!     Contact: <sip:bob@client.biloxi.example.com;transport=tcp>\r\nContent-Length: 0\r\n\r\n")).unwrap();
//! let mut d = Dialog::uac(&invite, &ok).unwrap();
//! assert_eq!(d.state(), DialogState::Confirmed);
//! let ack = d.ack(&invite, "z9hG4bK74b76", "client.atlanta.example.com").build().unwrap();
//! assert_eq!(ack.request_uri().unwrap().unwrap().to_string(), "sip:bob@client.biloxi.example.com;transport=tcp");
//! let bye = d.request("BYE", "z9hG4bK74b77", "client.atlanta.example.com").build().unwrap();
//! assert_eq!(bye.cseq().unwrap().seq, 2);
//! let routes: Vec<_> = bye.routes().map(|r| r.unwrap().uri.to_string()).collect();
//! assert_eq!(routes, ["sip:ss1.atlanta.example.com;lr", "sip:ss2.biloxi.example.com;lr"]);
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::build::MessageBuilder;
use crate::headers::TokenParams;
use crate::message::{Message, StartLine};
use crate::name::HeaderName;

/// Why a dialog could not be created or a message does not fit it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DialogError {
    /// The message lacks a field a dialog needs or has a malformed one.
    #[error("message: {0}")]
    Message(#[from] crate::Error),
    /// The response has no To tag, or the request no From tag.
    #[error("no {0} tag")]
    NoTag(&'static str),
    /// The response cannot create a dialog (100, or a final non-2xx), or the request is not
    /// INVITE/SUBSCRIBE/REFER.
    #[error("{0} creates no dialog")]
    NotDialogCreating(String),
    /// The message belongs to another dialog.
    #[error("the message is for another dialog")]
    OtherDialog,
    /// A request's CSeq is not above the last one (§12.2.2: answer 500).
    #[error("CSeq {got} is not above {last}")]
    CSeqOutOfOrder {
        /// The request's number.
        got: u32,
        /// The last number seen.
        last: u32,
    },
    /// The dialog was terminated.
    #[error("the dialog is terminated")]
    Terminated,
}

/// The dialog ID (§12): Call-ID and the two tags, seen from this side.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DialogId {
    /// Call-ID.
    pub call_id: String,
    /// Our tag.
    pub local_tag: String,
    /// The peer's tag.
    pub remote_tag: String,
}

impl DialogId {
    /// The ID of the dialog an incoming request belongs to (local tag = To tag).
    ///
    /// # Errors
    /// No Call-ID, From or To, or no To tag (an out-of-dialog request).
    pub fn of_request(req: &Message) -> Result<DialogId, DialogError> {
        Ok(DialogId {
            call_id: req.call_id()?.to_owned(),
            local_tag: req.to()?.tag().ok_or(DialogError::NoTag("To"))?.to_owned(),
            remote_tag: req.from()?.tag().unwrap_or_default().to_owned(),
        })
    }

    /// The ID of the dialog an incoming response belongs to (local tag = From tag).
    ///
    /// # Errors
    /// No Call-ID, From or To, or no To tag.
    pub fn of_response(resp: &Message) -> Result<DialogId, DialogError> {
        Ok(DialogId {
            call_id: resp.call_id()?.to_owned(),
            local_tag: resp.from()?.tag().unwrap_or_default().to_owned(),
            remote_tag: resp.to()?.tag().ok_or(DialogError::NoTag("To"))?.to_owned(),
        })
    }
}

/// Early, confirmed, or over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// BYE sent or received, or the early dialog ended.
    Terminated,
}

/// Who refreshes the session (RFC 4028 `refresher`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refresher {
    /// This side sends the refreshes.
    Local,
    /// The peer does.
    Remote,
}

/// What a session timer asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionTimerEvent {
    /// Send a session refresh (re-INVITE or UPDATE) now: half the interval has passed (§10).
    Refresh,
    /// No refresh came in time: send BYE (§10).
    Expired,
}

/// A negotiated session timer (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer {
    /// The session interval.
    pub interval: Duration,
    /// Who refreshes.
    pub refresher: Refresher,
    /// When the interval last (re)started.
    pub started: Instant,
}

/// The smallest Session-Expires RFC 4028 allows (90 s), the default Min-SE.
pub const MIN_SE: Duration = Duration::from_secs(90);

/// `Session-Expires` of a message: the interval and the `refresher` parameter (`uac`/`uas`).
///
/// # Errors
/// A malformed header.
pub fn session_expires(msg: &Message) -> Result<Option<(Duration, Option<bool>)>, DialogError> {
    let Some(h) = msg.header(HeaderName::SessionExpires) else {
        return Ok(None);
    };
    let v = TokenParams::parse(h.value)
        .map_err(|e| DialogError::Message(e.in_header("Session-Expires")))?;
    let secs: u64 = v.value.parse().map_err(|_| {
        DialogError::Message(
            crate::ValueError {
                fault: crate::Fault::InvalidNumber,
                offset: 0,
            }
            .in_header("Session-Expires"),
        )
    })?;
    let uac = v
        .params
        .value("refresher")
        .map(|r| r.eq_ignore_ascii_case("uac"));
    Ok(Some((Duration::from_secs(secs), uac)))
}

impl SessionTimer {
    /// A UAS's check of an INVITE's Session-Expires against its `min_se` (§8.1): `Err(min_se)`
    /// means answer 422 with `Min-SE: min_se`.
    ///
    /// # Errors
    /// The interval is below `min_se`.
    pub fn check_request(msg: &Message, min_se: Duration) -> Result<(), Duration> {
        match session_expires(msg) {
            Ok(Some((interval, _))) if interval < min_se => Err(min_se),
            _ => Ok(()),
        }
    }

    /// The timer a 2xx establishes (§7.2 for the UAC, §9 for the UAS), from the 2xx's
    /// Session-Expires; `None` when it has none. `uac` says which side we are. A 2xx without a
    /// `refresher` leaves it to the UAC (the UAS puts one in when it supports the extension).
    #[must_use]
    pub fn from_2xx(response: &Message, uac: bool, now: Instant) -> Option<SessionTimer> {
        let (interval, refresher_is_uac) = session_expires(response).ok()??;
        let uac_refreshes = refresher_is_uac.unwrap_or(true);
        Some(SessionTimer {
            interval,
            refresher: if uac_refreshes == uac {
                Refresher::Local
            } else {
                Refresher::Remote
            },
            started: now,
        })
    }

    /// When the next event is due: half the interval for the refresher, for the other side
    /// the interval minus a third of it or 32 s, whichever is less (§10).
    #[must_use]
    pub fn deadline(&self) -> Instant {
        match self.refresher {
            Refresher::Local => self.started + self.interval / 2,
            Refresher::Remote => {
                self.started + self.interval - (self.interval / 3).min(Duration::from_secs(32))
            }
        }
    }

    /// The event due at `now`, if any.
    #[must_use]
    pub fn poll(&self, now: Instant) -> Option<SessionTimerEvent> {
        (now >= self.deadline()).then_some(match self.refresher {
            Refresher::Local => SessionTimerEvent::Refresh,
            Refresher::Remote => SessionTimerEvent::Expired,
        })
    }
}

/// One dialog: see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Session-timer events for [`Dialog::poll_event`].
    events: VecDeque<SessionTimerEvent>,
    id: DialogId,
    state: DialogState,
    /// Our From (UAC) or To (UAS) header value, tag included.
    local: String,
    /// The peer's.
    remote: String,
    local_seq: u32,
    remote_seq: Option<u32>,
    remote_target: String,
    local_contact: Option<String>,
    route_set: Vec<String>,
    secure: bool,
    /// The Via transport of requests we send, when the caller says (else TLS or TCP).
    transport: Option<&'static str>,
    is_uac: bool,
    method: String,
    session_timer: Option<SessionTimer>,
}

fn contact_uri(msg: &Message) -> Result<Option<String>, DialogError> {
    match msg.contacts().next() {
        Some(c) => Ok(c?.address().map(|a| a.uri.to_string())),
        None => Ok(None),
    }
}

/// The route set a message's Record-Route gives: reversed for the UAC (from a response), in
/// order for the UAS (§12.1.1, §12.1.2).
fn route_set(msg: &Message, reverse: bool) -> Result<Vec<String>, DialogError> {
    let mut set = Vec::new();
    for r in msg.record_routes() {
        set.push(r?.to_string());
    }
    if reverse {
        set.reverse();
    }
    Ok(set)
}

/// Whether the request's Request-URI is `sips:` (a secure dialog, §12.1.1).
fn is_sips(request: &Message) -> bool {
    matches!(request.request_uri(), Some(Ok(u)) if u.as_sip().is_some_and(|s| s.is_secure()))
}

/// A header's value as written, trimmed; empty when absent.
fn header_value(msg: &Message, name: HeaderName) -> String {
    msg.header(name)
        .map(|h| h.value.trim().to_owned())
        .unwrap_or_default()
}

fn contact_value(msg: &Message) -> Option<String> {
    msg.header(HeaderName::Contact)
        .map(|h| h.value.trim().to_owned())
}

fn creating_method(m: &str) -> bool {
    matches!(m, "INVITE" | "SUBSCRIBE" | "REFER")
}

impl Dialog {
    /// The UAC's dialog from its request and a response with a To tag (§12.1.2): early for
    /// 101–199, confirmed for 2xx; route set from the response's Record-Route in reverse,
    /// remote target from its Contact.
    ///
    /// # Errors
    /// Not a dialog-creating request or response, no To tag, malformed headers.
    pub fn uac(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let method = request.method().unwrap_or_default();
        let code = response.status().unwrap_or(0);
        if !creating_method(method) || !(101..300).contains(&code) {
            return Err(DialogError::NotDialogCreating(format!("{method} / {code}")));
        }
        let id = DialogId::of_response(response)?;
        let route_set = route_set(response, true)?;
        let secure = is_sips(request);
        let remote_target = match contact_uri(response)? {
            Some(c) => c,
            None => request_uri(request),
        };
        Ok(Dialog {
            events: VecDeque::new(),
            state: if code < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local: header_value(request, HeaderName::From),
            remote: header_value(response, HeaderName::To),
            local_seq: request.cseq()?.seq,
            remote_seq: None,
            remote_target,
            local_contact: contact_value(request),
            route_set,
            secure,
            transport: None,
            is_uac: true,
            method: method.to_owned(),
            session_timer: None,
            id,
        })
    }

    /// The UAS's dialog from the request and the response it sends (carrying `local_tag` in its
    /// To) (§12.1.1): route set from the request's Record-Route in order, remote target from
    /// its Contact, remote CSeq from its CSeq.
    ///
    /// # Errors
    /// Not a dialog-creating request or response, no tags, malformed headers.
    pub fn uas(request: &Message, response: &Message) -> Result<Dialog, DialogError> {
        let method = request.method().unwrap_or_default();
        let code = response.status().unwrap_or(0);
        if !creating_method(method) || !(101..300).contains(&code) {
            return Err(DialogError::NotDialogCreating(format!("{method} / {code}")));
        }
        let local_tag = response.to()?.tag().ok_or(DialogError::NoTag("To"))?;
        let remote_tag = request.from()?.tag().ok_or(DialogError::NoTag("From"))?;
        let route_set = route_set(request, false)?;
        let secure = is_sips(request);
        Ok(Dialog {
            events: VecDeque::new(),
            id: DialogId {
                call_id: request.call_id()?.to_owned(),
                local_tag: local_tag.to_owned(),
                remote_tag: remote_tag.to_owned(),
            },
            state: if code < 200 {
                DialogState::Early
            } else {
                DialogState::Confirmed
            },
            local: header_value(response, HeaderName::To),
            remote: header_value(request, HeaderName::From),
            local_seq: 0,
            remote_seq: Some(request.cseq()?.seq),
            remote_target: contact_uri(request)?.unwrap_or_default(),
            local_contact: contact_value(response),
            route_set,
            secure,
            transport: None,
            is_uac: false,
            method: method.to_owned(),
            session_timer: None,
        })
    }

    /// The dialog ID.
    #[must_use]
    pub fn id(&self) -> &DialogId {
        &self.id
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Whether we created it as the UAC.
    #[must_use]
    pub fn is_uac(&self) -> bool {
        self.is_uac
    }

    /// The method that created it (INVITE, SUBSCRIBE, REFER).
    #[must_use]
    pub fn method(&self) -> &str {
        &self.method
    }

    /// Where in-dialog requests go (the peer's Contact).
    #[must_use]
    pub fn remote_target(&self) -> &str {
        &self.remote_target
    }

    /// The route set, in the order the Route header will list it.
    #[must_use]
    pub fn route_set(&self) -> &[String] {
        &self.route_set
    }

    /// The last local CSeq number used.
    #[must_use]
    pub fn local_seq(&self) -> u32 {
        self.local_seq
    }

    /// The last remote CSeq number seen.
    #[must_use]
    pub fn remote_seq(&self) -> Option<u32> {
        self.remote_seq
    }

    /// Whether the dialog is secure (`sips:` Request-URI).
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Sets the transport named in the Via of requests built from now on (`UDP`, `TCP`,
    /// `TLS`...): the one the peer is reached over. Unset, it is TLS for a secure dialog and
    /// TCP otherwise.
    pub fn set_transport(&mut self, transport: &'static str) {
        self.transport = Some(transport);
    }

    /// The session timer, once negotiated.
    #[must_use]
    pub fn session_timer(&self) -> Option<&SessionTimer> {
        self.session_timer.as_ref()
    }

    /// Sets or restarts the session timer (after a 2xx to INVITE/UPDATE that carries
    /// Session-Expires: see [`SessionTimer::from_2xx`]).
    pub fn set_session_timer(&mut self, timer: Option<SessionTimer>) {
        self.session_timer = timer;
    }

    /// When [`Dialog::handle_timeout`] is next due.
    #[must_use = "without it the timers never fire"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            DialogState::Terminated => None,
            _ => self.session_timer.map(|t| t.deadline()),
        }
    }

    /// Fires the session timer when it is due at `now`; the event comes out of
    /// [`Dialog::poll_event`]. After `Refresh`, send the refresh and call
    /// [`Dialog::set_session_timer`] with the new 2xx; after `Expired`, send BYE.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == DialogState::Terminated {
            return;
        }
        if let Some(ev) = self.session_timer.and_then(|t| t.poll(now)) {
            // Fire once: the next deadline comes with the refresh's 2xx.
            self.session_timer = None;
            self.events.push_back(ev);
        }
    }

    /// The next session-timer event; call after [`Dialog::handle_timeout`].
    #[must_use = "a refresh or expiry left in the queue is never acted on"]
    pub fn poll_event(&mut self) -> Option<SessionTimerEvent> {
        self.events.pop_front()
    }

    /// Whether `msg` (a request from the peer or a response to us) belongs to this dialog.
    #[must_use]
    pub fn matches(&self, msg: &Message) -> bool {
        let id = if msg.is_request() {
            DialogId::of_request(msg)
        } else {
            DialogId::of_response(msg)
        };
        id.is_ok_and(|id| id == self.id)
    }

    /// A response to a request of ours in this dialog (§12.1.2, §12.2.1.2): a 2xx confirms an
    /// early dialog and fixes its route set; a 2xx to a target-refresh request (INVITE, UPDATE,
    /// SUBSCRIBE) takes the new Contact; 481 and 408 to an in-dialog request end it; a final
    /// non-2xx to the creating INVITE ends an early dialog.
    ///
    /// # Errors
    /// Another dialog's response, malformed headers.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &Message,
    ) -> Result<DialogState, DialogError> {
        if !self.matches(response) {
            return Err(DialogError::OtherDialog);
        }
        let code = response.status().unwrap_or(0);
        let method = response.cseq()?.method;
        if (200..300).contains(&code) {
            if self.state == DialogState::Early && self.is_uac {
                self.route_set = route_set(response, true)?;
                self.remote = header_value(response, HeaderName::To);
                self.state = DialogState::Confirmed;
            }
            if matches!(method, "INVITE" | "UPDATE" | "SUBSCRIBE")
                && let Some(c) = contact_uri(response)?
            {
                self.remote_target = c;
            }
            if matches!(method, "INVITE" | "UPDATE")
                && let Some(t) = SessionTimer::from_2xx(response, self.is_uac, now)
            {
                self.session_timer = Some(t);
            }
            if method == "BYE" {
                self.state = DialogState::Terminated;
            }
        } else if (101..200).contains(&code) && self.state == DialogState::Early {
            if let Some(c) = contact_uri(response)? {
                self.remote_target = c;
            }
        } else if code == 481
            || code == 408
            || (code >= 300 && self.state == DialogState::Early && method == self.method)
        {
            // The peer lost the dialog, or the creating request failed while it was early.
            self.state = DialogState::Terminated;
        }
        Ok(self.state)
    }

    /// A request from the peer in this dialog (§12.2.2): its CSeq must be above the last one
    /// (else answer 500); a target-refresh request takes the new Contact; BYE ends the dialog.
    /// ACK and CANCEL carry the INVITE's number and are not checked.
    ///
    /// # Errors
    /// Another dialog's request, an out-of-order CSeq, a terminated dialog.
    pub fn handle_request(&mut self, request: &Message) -> Result<(), DialogError> {
        if !self.matches(request) {
            return Err(DialogError::OtherDialog);
        }
        if self.state == DialogState::Terminated {
            return Err(DialogError::Terminated);
        }
        let cseq = request.cseq()?;
        let method = request.method().unwrap_or_default();
        if method != "ACK" && method != "CANCEL" {
            if let Some(last) = self.remote_seq
                && cseq.seq <= last
            {
                return Err(DialogError::CSeqOutOfOrder {
                    got: cseq.seq,
                    last,
                });
            }
            self.remote_seq = Some(cseq.seq);
        }
        if matches!(method, "INVITE" | "UPDATE" | "SUBSCRIBE" | "NOTIFY")
            && let Some(c) = contact_uri(request)?
        {
            self.remote_target = c;
        }
        if method == "BYE" {
            self.state = DialogState::Terminated;
        }
        Ok(())
    }

    /// The Request-URI and Route values of an in-dialog request (§12.2.1.1): loose routing
    /// when the first route has `lr`, else strict routing (the first route becomes the
    /// Request-URI, its parameters not allowed there removed, and the remote target is the
    /// last Route).
    #[must_use]
    pub fn target_and_routes(&self) -> (String, Vec<String>) {
        let Some(first) = self.route_set.first() else {
            return (self.remote_target.clone(), Vec::new());
        };
        let first_uri = crate::headers::NameAddr::parse(first)
            .ok()
            .map(|n| (n.uri.to_string(), n.uri.as_sip().is_some_and(|s| s.lr())));
        match first_uri {
            Some((_, true)) | None => (self.remote_target.clone(), self.route_set.clone()),
            Some((uri, false)) => {
                let mut routes: Vec<String> = self.route_set[1..].to_vec();
                routes.push(format!("<{}>", self.remote_target));
                (strip_uri_params(&uri), routes)
            }
        }
    }

    /// An in-dialog request (BYE, re-INVITE, INFO, NOTIFY, UPDATE, MESSAGE...) with the next
    /// local CSeq, the dialog's From/To/Call-ID, Route and Request-URI, and a Via with our
    /// `sent_by` and the caller's fresh `branch` (which must start with `z9hG4bK`). Add a
    /// Contact for target-refresh requests, and the body.
    #[must_use]
    pub fn request<'a>(
        &'a mut self,
        method: &'a str,
        branch: &str,
        sent_by: &str,
    ) -> MessageBuilder<'a> {
        self.local_seq += 1;
        let seq = self.local_seq;
        self.build(method, seq, branch, sent_by)
    }

    /// The ACK for a 2xx to `invite` (§13.2.2.4): the INVITE's CSeq number, the dialog's
    /// route, a new branch. It goes straight to the transport, not through a transaction.
    #[must_use]
    pub fn ack<'a>(&'a self, invite: &Message, branch: &str, sent_by: &str) -> MessageBuilder<'a> {
        let seq = invite.cseq().map_or(self.local_seq, |c| c.seq);
        self.build("ACK", seq, branch, sent_by)
    }

    fn build<'a>(
        &'a self,
        method: &'a str,
        seq: u32,
        branch: &str,
        sent_by: &str,
    ) -> MessageBuilder<'a> {
        let transport = match self.transport {
            Some(t) => t,
            None if self.secure => "TLS",
            None => "TCP",
        };
        let (target, routes) = self.target_and_routes();
        let mut b = MessageBuilder::request_owned(method, target)
            .header(
                "Via",
                format!("SIP/2.0/{transport} {sent_by};branch={branch}"),
            )
            .header("Max-Forwards", "70")
            .header("From", &self.local)
            .header("To", &self.remote)
            .header("Call-ID", &self.id.call_id)
            .header("CSeq", format!("{seq} {method}"));
        for r in routes {
            b = b.header("Route", r);
        }
        // Target-refresh requests and NOTIFY carry our Contact (§12.2.1.1, RFC 6665 §4.2.2).
        if matches!(
            method,
            "INVITE" | "UPDATE" | "SUBSCRIBE" | "NOTIFY" | "BENOTIFY" | "REFER"
        ) && let Some(c) = &self.local_contact
        {
            b = b.header("Contact", c);
        }
        b
    }

    /// The UAC's dialog created by a NOTIFY that came before the SUBSCRIBE's 2xx (RFC 6665
    /// §4.1.2.4): the remote tag, target and route set from the NOTIFY.
    ///
    /// # Errors
    /// No tags or malformed headers.
    pub fn from_notify(subscribe: &Message, notify: &Message) -> Result<Dialog, DialogError> {
        let id = DialogId::of_request(notify)?;
        if id.remote_tag.is_empty() {
            return Err(DialogError::NoTag("From"));
        }
        let route_set = route_set(notify, false)?;
        Ok(Dialog {
            events: VecDeque::new(),
            id,
            state: DialogState::Confirmed,
            local: header_value(subscribe, HeaderName::From),
            remote: header_value(notify, HeaderName::From),
            local_seq: subscribe.cseq()?.seq,
            remote_seq: Some(notify.cseq()?.seq),
            remote_target: contact_uri(notify)?.unwrap_or_default(),
            local_contact: contact_value(subscribe),
            route_set,
            secure: false,
            transport: None,
            is_uac: true,
            method: "SUBSCRIBE".into(),
            session_timer: None,
        })
    }

    /// Marks the dialog terminated (BYE sent, or the TU gave up).
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }
}

fn request_uri(m: &Message) -> String {
    match m.start_line() {
        StartLine::Request { uri, .. } => uri.to_owned(),
        StartLine::Response { .. } => String::new(),
    }
}

/// Removes the URI parameters not allowed in a Request-URI (§19.1.1 table 1: `method`, `ttl`
/// stays, `lr`... we keep the URI but drop `method` and headers).
fn strip_uri_params(uri: &str) -> String {
    let uri = uri.split('?').next().unwrap_or(uri);
    uri.split(';')
        .filter(|p| !p.to_ascii_lowercase().starts_with("method="))
        .collect::<Vec<_>>()
        .join(";")
}

/// The dialogs of one dialog-creating request on the UAC side: forked provisional responses
/// create several early dialogs; a 2xx confirms one (others may be confirmed too, RFC 3261
/// §13.2.2.4: the TU acknowledges and usually BYEs them); a final non-2xx ends every early one.
#[derive(Debug, Clone)]
pub struct DialogSet {
    request: Message,
    dialogs: Vec<Dialog>,
    /// Bounds the dialogs one request may create (forking fan-out).
    pub max_dialogs: usize,
}

impl DialogSet {
    /// The set for `request` (INVITE, SUBSCRIBE, REFER) that we sent.
    #[must_use]
    pub fn new(request: Message) -> DialogSet {
        DialogSet {
            request,
            dialogs: Vec::new(),
            max_dialogs: 32,
        }
    }

    /// A response to the request: creates or updates the dialog of its To tag and returns its
    /// index, or `None` for responses that concern no dialog (100, a tag-less response, a final
    /// non-2xx, which ends all early dialogs).
    ///
    /// # Errors
    /// Malformed headers.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &Message,
    ) -> Result<Option<usize>, DialogError> {
        let code = response.status().unwrap_or(0);
        if code >= 300 {
            for d in &mut self.dialogs {
                if d.state == DialogState::Early {
                    d.state = DialogState::Terminated;
                }
            }
            return Ok(None);
        }
        if code < 101 || response.to()?.tag().is_none() {
            return Ok(None);
        }
        let id = DialogId::of_response(response)?;
        if let Some(i) = self.dialogs.iter().position(|d| d.id == id) {
            self.dialogs[i].handle_response(now, response)?;
            return Ok(Some(i));
        }
        if self.dialogs.len() >= self.max_dialogs {
            return Ok(None);
        }
        let mut d = Dialog::uac(&self.request, response)?;
        if code >= 200 {
            d.session_timer = SessionTimer::from_2xx(response, true, now);
        }
        self.dialogs.push(d);
        Ok(Some(self.dialogs.len() - 1))
    }

    /// The dialogs, in the order their first response came.
    #[must_use]
    pub fn dialogs(&self) -> &[Dialog] {
        &self.dialogs
    }

    /// One dialog, mutable.
    pub fn dialog_mut(&mut self, i: usize) -> Option<&mut Dialog> {
        self.dialogs.get_mut(i)
    }

    /// The request.
    #[must_use]
    pub fn request(&self) -> &Message {
        &self.request
    }
}
