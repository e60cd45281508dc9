//! SIP subscriptions (RFC 6665) with the Microsoft `BENOTIFY`, sans-IO.
//!
//! A [`Subscriber`] follows one SUBSCRIBE: the dialog its 2xx or its first NOTIFY creates,
//! Timer N (no NOTIFY within 64·T1), the granted expiry, the refresh before it, `Subscription-State`
//! from every NOTIFY, termination with its reason, and un-subscribing (`Expires: 0`). A
//! [`Notifier`] is the other end: it grants an expiry, sends NOTIFYs with the remaining time,
//! takes refreshes, and ends the subscription on timeout or when asked.
//!
//! `BENOTIFY` ([MS-SIP] "best-effort NOTIFY") is a NOTIFY that gets no response. A subscriber
//! offers it with `Supported: ms-benotify` in its SUBSCRIBE; a notifier that accepts says so with
//! `Supported: ms-benotify` in its 2xx and may then send state changes as BENOTIFY. Our choice: the
//! first and the terminating notification stay NOTIFY (they change the subscription's state and
//! must be known to arrive); the ones between are BENOTIFY. Send a BENOTIFY outside the
//! transaction layer (nothing answers it), and on receipt do not answer it
//! ([`NotifyOutcome::respond`] is false; [`crate::transaction::TransactionLayer::abandon`] drops its
//! server transaction).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use ocs_sip_codec::Message;
//! use ocs_sip_codec::subscription::{Notifier, Subscriber, SubState};
//!
//! let now = Instant::now();
//! let subscribe = Message::parse(Bytes::from_static(b"SUBSCRIBE sip:focus@contoso.com SIP/2.0\r\n\
//!     Via: SIP/2.0/TLS 192.0.2.7:4321;branch=z9hG4bK5A6B7C8D\r\nFrom: <sip:bob@contoso.com>;tag=9e8d\r\n\
//!     To: <sip:focus@contoso.com>\r\nCall-ID: 1b2c\r\nCSeq: 1 SUBSCRIBE\r\nEvent: conference\r\n\
//!     Expires: 3600\r\nSupported: ms-benotify\r\nContact: <sip:bob@192.0.2.7:4321;transport=tls>\r\n\
//!     Content-Length: 0\r\n\r\n")).unwrap();
//! let mut bob = Subscriber::new(now, subscribe.clone()).unwrap();
//!
//! // The focus grants 30 minutes and offers BENOTIFY.
//! let ok = subscribe.response(200, "OK", "f0c").header("Expires", 1800)
//!     .header("Supported", "ms-benotify").header("Contact", "<sip:focus@10.0.0.1:5061;transport=tls>")
//!     .build().unwrap();
//! let mut focus = Notifier::accept(now, &subscribe, &ok, false).unwrap();
//! assert!(focus.uses_benotify());
//! bob.handle_response(now, &ok).unwrap();
//!
//! let first = focus.notify(now, "z9hG4bK1", "10.0.0.1:5061").build().unwrap();
//! assert_eq!(first.method(), Some("NOTIFY"));
//! let out = bob.handle_notify(now, &first).unwrap();
//! assert!(out.respond);
//! assert_eq!(bob.state(), SubState::Active);
//! let second = focus.notify(now, "z9hG4bK2", "10.0.0.1:5061").build().unwrap();
//! assert_eq!(second.method(), Some("BENOTIFY"));
//! assert!(!bob.handle_notify(now, &second).unwrap().respond);
//! // Refreshed before it runs out.
//! assert!(bob.poll_timeout().unwrap() < now + Duration::from_secs(1800));
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::build::MessageBuilder;
use crate::dialog::{Dialog, DialogError, DialogId, DialogState};
use crate::headers::TokenParams;
use crate::message::Message;
use crate::name::HeaderName;

/// The option tag of BENOTIFY support.
pub const MS_BENOTIFY: &str = "ms-benotify";

/// A subscription's state (RFC 6665 §4.1.2, with NotifyWait before the first NOTIFY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubState {
    /// SUBSCRIBE sent, no NOTIFY yet.
    NotifyWait,
    /// Authorization pending.
    Pending,
    /// Active.
    Active,
    /// Over.
    Terminated,
}

/// The `Subscription-State` header (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `active`, `pending`, `terminated` or an extension value (treated as `active`, RFC 6665
    /// §4.1.3), lower-cased.
    pub state: String,
    /// `expires=`.
    pub expires: Option<u32>,
    /// `reason=` (deactivated, probation, rejected, timeout, giveup, noresource, invariant).
    pub reason: Option<String>,
    /// `retry-after=`.
    pub retry_after: Option<u32>,
}

impl SubscriptionState {
    /// The header of `msg`.
    ///
    /// # Errors
    /// A missing or malformed header.
    pub fn of(msg: &Message) -> Result<SubscriptionState, DialogError> {
        let h = msg.header(HeaderName::SubscriptionState).ok_or_else(|| {
            DialogError::Message(crate::Error::MissingHeader {
                header: "Subscription-State",
                offset: msg.head().len(),
            })
        })?;
        let v = TokenParams::parse(h.value)
            .map_err(|e| DialogError::Message(e.in_header("Subscription-State")))?;
        Ok(SubscriptionState {
            state: v.value.to_ascii_lowercase(),
            expires: v.params.value("expires").and_then(|e| e.parse().ok()),
            reason: v.params.value("reason").map(str::to_owned),
            retry_after: v.params.value("retry-after").and_then(|e| e.parse().ok()),
        })
    }

    fn sub_state(&self) -> SubState {
        match self.state.as_str() {
            "pending" => SubState::Pending,
            "terminated" => SubState::Terminated,
            // RFC 6665 §4.1.3: unknown values are treated as active.
            _ => SubState::Active,
        }
    }
}

/// Whether `msg` lists `tag` in a `Supported` header.
#[must_use]
pub fn supports(msg: &Message, tag: &str) -> bool {
    msg.values(HeaderName::Supported)
        .any(|(v, _)| v.trim().eq_ignore_ascii_case(tag))
}

/// What a subscriber must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberEvent {
    /// Send a refresh ([`Subscriber::refresh`]) now.
    Refresh,
    /// The subscription ran out (no successful refresh), or Timer N fired with no NOTIFY.
    Expired,
}

/// What a received NOTIFY meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// The subscription's state after it.
    pub state: SubState,
    /// Whether to answer it (false for BENOTIFY).
    pub respond: bool,
    /// The header as received.
    pub subscription_state: SubscriptionState,
}

/// The subscriber side of one subscription.
#[derive(Debug, Clone)]
pub struct Subscriber {
    /// Events for [`Subscriber::poll_event`].
    events: VecDeque<SubscriberEvent>,
    subscribe: Message,
    event: String,
    dialog: Option<Dialog>,
    state: SubState,
    requested: u32,
    expires_at: Option<Instant>,
    refresh_at: Option<Instant>,
    timer_n: Option<Instant>,
    benotify: bool,
    reason: Option<String>,
    /// Timer N, 64·T1 (32 s with the default T1).
    pub timer_n_duration: Duration,
}

fn event_of(msg: &Message) -> Result<String, DialogError> {
    match msg.event() {
        Some(e) => Ok(e?.to_string()),
        None => Err(DialogError::Message(crate::Error::MissingHeader {
            header: "Event",
            offset: msg.head().len(),
        })),
    }
}

/// The event packages match when the type and the `id` parameter do (RFC 6665 §8.2.1).
fn same_event(a: &str, b: &str) -> bool {
    let parse = |s: &str| {
        let t = TokenParams::parse(s).ok()?;
        Some((
            t.value.to_ascii_lowercase(),
            t.params.value("id").map(str::to_owned),
        ))
    };
    parse(a) == parse(b)
}

/// When to refresh a subscription granted for `granted`: half-way for short ones, a minute
/// before the end for long ones.
fn refresh_point(now: Instant, granted: Duration) -> Instant {
    now + granted - (granted / 2).min(Duration::from_secs(60))
}

impl Subscriber {
    /// Follows `subscribe`, just sent at `now` (its Event and Expires are read).
    ///
    /// # Errors
    /// No Event header, or not a SUBSCRIBE.
    pub fn new(now: Instant, subscribe: Message) -> Result<Subscriber, DialogError> {
        if subscribe.method() != Some("SUBSCRIBE") {
            return Err(DialogError::NotDialogCreating(
                subscribe.method().unwrap_or_default().to_owned(),
            ));
        }
        let event = event_of(&subscribe)?;
        let requested = subscribe.expires().and_then(Result::ok).unwrap_or(3600);
        let timer_n_duration = Duration::from_secs(32);
        Ok(Subscriber {
            events: VecDeque::new(),
            subscribe,
            event,
            dialog: None,
            state: SubState::NotifyWait,
            requested,
            expires_at: None,
            refresh_at: None,
            timer_n: Some(now + timer_n_duration),
            benotify: false,
            reason: None,
            timer_n_duration,
        })
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> SubState {
        self.state
    }

    /// Whether our SUBSCRIBE offered BENOTIFY.
    fn offers_benotify(&self) -> bool {
        supports(&self.subscribe, MS_BENOTIFY)
    }

    /// The Event header value.
    #[must_use]
    pub fn event(&self) -> &str {
        &self.event
    }

    /// The dialog, once a 2xx or a NOTIFY created it.
    #[must_use]
    pub fn dialog(&self) -> Option<&Dialog> {
        self.dialog.as_ref()
    }

    /// When the subscription runs out.
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expires_at
    }

    /// Whether the notifier agreed to BENOTIFY.
    #[must_use]
    pub fn uses_benotify(&self) -> bool {
        self.benotify
    }

    /// The termination reason the notifier gave.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        self.reason.as_deref()
    }

    fn grant(&mut self, now: Instant, secs: u32) {
        let granted = Duration::from_secs(u64::from(secs));
        self.expires_at = Some(now + granted);
        self.refresh_at = Some(refresh_point(now, granted));
    }

    /// A response to the SUBSCRIBE or to a refresh: a 2xx creates the dialog and sets the
    /// expiry from its Expires (RFC 6665 §4.1.2.1); a final non-2xx to the first SUBSCRIBE, or
    /// 481 to a refresh, ends the subscription; another failed refresh leaves it until it runs
    /// out.
    ///
    /// # Errors
    /// Malformed headers, or another dialog's response.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &Message,
    ) -> Result<SubState, DialogError> {
        let code = response.status().unwrap_or(0);
        if code < 200 {
            return Ok(self.state);
        }
        if code >= 300 {
            if self.dialog.is_none() || code == 481 {
                self.end(None);
            }
            return Ok(self.state);
        }
        match &mut self.dialog {
            Some(d) => {
                d.handle_response(now, response)?;
            }
            None => {
                self.dialog = Some(Dialog::uac(&self.subscribe, response)?);
            }
        }
        if supports(response, MS_BENOTIFY) && self.offers_benotify() {
            self.benotify = true;
        }
        let secs = response
            .expires()
            .and_then(Result::ok)
            .unwrap_or(self.requested)
            .min(self.requested.max(1));
        if secs == 0 {
            // An un-subscribe was accepted; the final NOTIFY follows.
            self.refresh_at = None;
        } else {
            self.grant(now, secs);
        }
        Ok(self.state)
    }

    /// A NOTIFY or BENOTIFY for this subscription (RFC 6665 §4.1.3): the dialog is created if
    /// the 2xx has not come yet, its CSeq checked, Timer N stopped, the state and expiry taken
    /// from `Subscription-State`.
    ///
    /// # Errors
    /// Another subscription's NOTIFY (Call-ID, From tag of the SUBSCRIBE, event), a CSeq out
    /// of order, a missing Subscription-State.
    pub fn handle_notify(
        &mut self,
        now: Instant,
        notify: &Message,
    ) -> Result<NotifyOutcome, DialogError> {
        let method = notify.method().unwrap_or_default();
        if method != "NOTIFY" && method != "BENOTIFY" {
            return Err(DialogError::OtherDialog);
        }
        if !same_event(&event_of(notify)?, &self.event) {
            return Err(DialogError::OtherDialog);
        }
        let ss = SubscriptionState::of(notify)?;
        match &mut self.dialog {
            Some(d) => d.handle_request(notify)?,
            None => {
                let id = DialogId::of_request(notify)?;
                if id.call_id != self.subscribe.call_id()?
                    || Some(id.local_tag.as_str()) != self.subscribe.from()?.tag()
                {
                    return Err(DialogError::OtherDialog);
                }
                self.dialog = Some(Dialog::from_notify(&self.subscribe, notify)?);
            }
        }
        self.timer_n = None;
        if method == "BENOTIFY" {
            self.benotify = true;
        }
        match ss.sub_state() {
            SubState::Terminated => self.end(ss.reason.clone()),
            s => {
                self.state = s;
                if let Some(e) = ss.expires {
                    self.grant(now, e);
                }
            }
        }
        Ok(NotifyOutcome {
            state: self.state,
            respond: method == "NOTIFY",
            subscription_state: ss,
        })
    }

    fn end(&mut self, reason: Option<String>) {
        self.state = SubState::Terminated;
        self.reason = reason;
        self.refresh_at = None;
        self.expires_at = None;
        self.timer_n = None;
        if let Some(d) = &mut self.dialog {
            d.terminate();
        }
    }

    /// When [`Subscriber::handle_timeout`] is next due.
    #[must_use = "without it the timers never fire"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.timer_n, self.refresh_at, self.expires_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// Fires what is due at `now`: Timer N or the expiry end the subscription
    /// ([`SubscriberEvent::Expired`]); the refresh point asks for a refresh
    /// ([`SubscriberEvent::Refresh`]). The event comes out of [`Subscriber::poll_event`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state == SubState::Terminated {
            return;
        }
        if self.timer_n.is_some_and(|t| now >= t) || self.expires_at.is_some_and(|t| now >= t) {
            self.end(Some("timeout".into()));
            self.events.push_back(SubscriberEvent::Expired);
        } else if self.refresh_at.is_some_and(|t| now >= t) {
            self.refresh_at = None;
            self.events.push_back(SubscriberEvent::Refresh);
        }
    }

    /// The next event; call after [`Subscriber::handle_timeout`].
    #[must_use = "an expiry or refresh left in the queue is never acted on"]
    pub fn poll_event(&mut self) -> Option<SubscriberEvent> {
        self.events.pop_front()
    }

    /// A refreshing SUBSCRIBE in the dialog (`Expires: expires`; 0 un-subscribes), or `None`
    /// before the dialog exists. Restarts Timer N when un-subscribing (the final NOTIFY is due).
    pub fn refresh<'a>(
        &'a mut self,
        now: Instant,
        expires: u32,
        branch: &str,
        sent_by: &str,
    ) -> Option<MessageBuilder<'a>> {
        self.requested = expires;
        if expires == 0 {
            self.timer_n = Some(now + self.timer_n_duration);
            self.refresh_at = None;
        }
        let offered = self.offers_benotify();
        let event = &self.event;
        let d = self.dialog.as_mut()?;
        if d.state() == DialogState::Terminated {
            return None;
        }
        let mut b = d
            .request("SUBSCRIBE", branch, sent_by)
            .header("Event", event)
            .header("Expires", expires);
        if offered {
            b = b.header("Supported", MS_BENOTIFY);
        }
        Some(b)
    }
}

/// What a notifier must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifierEvent {
    /// The subscription ran out: send the final NOTIFY ([`Notifier::notify`] now says
    /// `terminated;reason=timeout`).
    Expired,
}

/// The notifier side of one subscription.
#[derive(Debug, Clone)]
pub struct Notifier {
    /// Events for [`Notifier::poll_event`].
    events: VecDeque<NotifierEvent>,
    dialog: Dialog,
    event: String,
    state: SubState,
    expires_at: Instant,
    benotify: bool,
    sent: u32,
    reason: Option<String>,
}

impl Notifier {
    /// Accepts `subscribe` with our 2xx `response` (its To tag and Expires, the granted time,
    /// and `Supported: ms-benotify` when we take BENOTIFY). `pending` starts the subscription
    /// in the pending state (authorization to follow).
    ///
    /// # Errors
    /// Not a SUBSCRIBE with Event, or a response that creates no dialog.
    pub fn accept(
        now: Instant,
        subscribe: &Message,
        response: &Message,
        pending: bool,
    ) -> Result<Notifier, DialogError> {
        let event = event_of(subscribe)?;
        let dialog = Dialog::uas(subscribe, response)?;
        let granted = response
            .expires()
            .or_else(|| subscribe.expires())
            .and_then(Result::ok)
            .unwrap_or(3600);
        Ok(Notifier {
            events: VecDeque::new(),
            dialog,
            event,
            state: if pending {
                SubState::Pending
            } else {
                SubState::Active
            },
            expires_at: now + Duration::from_secs(u64::from(granted)),
            benotify: supports(subscribe, MS_BENOTIFY) && supports(response, MS_BENOTIFY),
            sent: 0,
            reason: None,
        })
    }

    /// The state.
    #[must_use]
    pub fn state(&self) -> SubState {
        self.state
    }

    /// The dialog.
    #[must_use]
    pub fn dialog(&self) -> &Dialog {
        &self.dialog
    }

    /// Whether BENOTIFY was negotiated.
    #[must_use]
    pub fn uses_benotify(&self) -> bool {
        self.benotify
    }

    /// The Via transport of the notifications ([`Dialog::set_transport`]).
    pub fn set_transport(&mut self, transport: &'static str) {
        self.dialog.set_transport(transport);
    }

    /// Authorization came: the next NOTIFY says active.
    pub fn activate(&mut self) {
        if self.state == SubState::Pending {
            self.state = SubState::Active;
        }
    }

    /// Ends the subscription with `reason` (`deactivated`, `noresource`, `rejected`...); the next
    /// NOTIFY is the final one.
    pub fn terminate(&mut self, reason: &str) {
        self.state = SubState::Terminated;
        self.reason = Some(reason.to_owned());
    }

    /// A refreshing SUBSCRIBE in the dialog: the new expiry (0 ends the subscription with reason
    /// `timeout`, as RFC 6665 §4.2.1.4 has it). Returns the granted seconds, at most `max`.
    ///
    /// # Errors
    /// Another dialog's request, an out-of-order CSeq, another event package.
    pub fn handle_subscribe(
        &mut self,
        now: Instant,
        subscribe: &Message,
        max: u32,
    ) -> Result<u32, DialogError> {
        if !same_event(&event_of(subscribe)?, &self.event) {
            return Err(DialogError::OtherDialog);
        }
        self.dialog.handle_request(subscribe)?;
        let secs = subscribe
            .expires()
            .and_then(Result::ok)
            .unwrap_or(3600)
            .min(max);
        if secs == 0 {
            self.terminate("timeout");
        } else {
            self.expires_at = now + Duration::from_secs(u64::from(secs));
        }
        Ok(secs)
    }

    /// When the subscription runs out.
    #[must_use = "without it the timers never fire"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.state != SubState::Terminated).then_some(self.expires_at)
    }

    /// Fires the expiry when it is due; [`NotifierEvent::Expired`] comes out of
    /// [`Notifier::poll_event`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.state != SubState::Terminated && now >= self.expires_at {
            self.terminate("timeout");
            self.events.push_back(NotifierEvent::Expired);
        }
    }

    /// The next event; call after [`Notifier::handle_timeout`].
    #[must_use = "an expiry left in the queue means a final NOTIFY never sent"]
    pub fn poll_event(&mut self) -> Option<NotifierEvent> {
        self.events.pop_front()
    }

    /// The next notification: NOTIFY (or BENOTIFY, see the [module documentation](self)) with
    /// Event and `Subscription-State` (the remaining seconds, or `terminated;reason=..`). Add the
    /// body. A terminating one ends the dialog's usage.
    pub fn notify<'a>(
        &'a mut self,
        now: Instant,
        branch: &str,
        sent_by: &str,
    ) -> MessageBuilder<'a> {
        let remaining = self.expires_at.saturating_duration_since(now).as_secs();
        let state = match self.state {
            SubState::Terminated => format!(
                "terminated;reason={}",
                self.reason.as_deref().unwrap_or("noresource")
            ),
            SubState::Pending => format!("pending;expires={remaining}"),
            SubState::Active | SubState::NotifyWait => format!("active;expires={remaining}"),
        };
        let method = if self.benotify && self.sent > 0 && self.state != SubState::Terminated {
            "BENOTIFY"
        } else {
            "NOTIFY"
        };
        self.sent += 1;
        let event = &self.event;
        self.dialog
            .request(method, branch, sent_by)
            .header("Event", event)
            .header("Subscription-State", state)
    }
}
