//! SIP sessions the server is the UAS of — with the focus (made by the addUser INVITE) and
//! with the IM and A/V MCUs — and the MCU-side SIP application: joining the IM MCU's chat and
//! the A/V MCU's media by INVITE (for a user the focus added there, [`Mcus::admits`]),
//! relaying chat MESSAGE and INFO to every other participant with `Ms-Sender`, re-INVITE and
//! BYE. What the MCUs themselves decide is in [`crate::server::mcu`].

use std::collections::HashMap;
use std::time::Instant;

use super::Output;
use super::core::{Core, Peer};
use crate::cccp::uri::{ConferenceUri, McuType, UriKind, address_of_record};
use crate::server::mcu::{Admission, Mcus, MediaOp};
use crate::sip::dialog::Dialog;
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};

/// One SIP session with the focus or an MCU, we being the UAS.
#[derive(Debug)]
pub(super) struct Leg {
    pub(super) dialog: Dialog,
    /// The participant's address of record URI, `sip:user@domain`.
    pub(super) user: String,
    /// The conference URI the session is with (focus or MCU).
    pub(super) conference: String,
    pub(super) peer: Peer,
    /// Its audio leg at the A/V MCU's relay.
    pub(super) media: Option<crate::media::LegId>,
    /// The SDP answer the session was set up with (an MCU session), and how often it was
    /// given again.
    pub(super) sdp: Option<(String, u32)>,
}

/// The sessions, by Call-ID.
#[derive(Debug, Default)]
pub(super) struct Sessions {
    legs: HashMap<String, Leg>,
}

/// The From URI of a message without parameters, `sip:user@host`.
pub(super) fn from_uri(req: &Message) -> Option<String> {
    let from = req.from().ok()?;
    let s = from.uri.as_sip()?;
    Some(format!("sip:{}@{}", s.user?, s.host))
}

pub(super) fn to_uri(req: &Message) -> String {
    req.to().map(|t| t.uri.to_string()).unwrap_or_default()
}

impl Sessions {
    pub(super) fn insert(&mut self, call: String, leg: Leg) {
        self.legs.insert(call, leg);
    }

    /// Ends the session `call` for a BYE of its own dialog (Call-ID **and** both tags, RFC 3261
    /// §12.2.2): a BYE that only knows the Call-ID ends nothing.
    pub(super) fn bye(&mut self, call: &str, bye: &Message) -> Option<Leg> {
        if !self.legs.get(call)?.dialog.matches(bye) {
            return None;
        }
        self.legs.remove(call)
    }

    /// An ACK for a session of ours: absorbed.
    pub(super) fn contains(&self, call: &str) -> bool {
        self.legs.contains_key(call)
    }

    /// Whether `call` is a session of ours with this request's sender, in order (CSeq).
    pub(super) fn in_session(&mut self, call: &str, req: &Message) -> bool {
        self.legs
            .get_mut(call)
            .is_some_and(|l| l.dialog.matches(req) && l.dialog.handle_request(req).is_ok())
    }

    /// A request in the session `call` (`body`: content type and bytes).
    pub(super) fn send(
        &mut self,
        core: &mut Core,
        now: Instant,
        call: &str,
        method: &'static str,
        extra: Option<(&str, String)>,
        body: Option<(&str, &[u8])>,
    ) -> bool {
        let Some(peer) = self.legs.get(call).map(|l| l.peer) else {
            return false;
        };
        let (branch, sent_by) = core.hop(&peer);
        let Some(leg) = self.legs.get_mut(call) else {
            return false;
        };
        let mut b = leg.dialog.request(method, &branch, &sent_by);
        if let Some((name, value)) = &extra {
            b = b.header(name, value);
        }
        if let Some((ct, bytes)) = body {
            b = b.body(ct, bytes);
        }
        let Ok(msg) = b.build() else {
            return false;
        };
        core.originate(now, msg, peer);
        true
    }

    /// BYE to every session `which` picks, and forgets them (their media leaves the relay).
    pub(super) fn end(&mut self, core: &mut Core, now: Instant, which: impl Fn(&Leg) -> bool) {
        let calls: Vec<String> = self
            .legs
            .iter()
            .filter(|(_, l)| which(l))
            .map(|(c, _)| c.clone())
            .collect();
        for call in calls {
            self.send(core, now, &call, "BYE", None, None);
            if let Some(leg) = self.legs.remove(&call) {
                leave_media(core, &leg);
            }
        }
    }

    /// Answers an INVITE `200 OK` with `sdp` and the conference URI `me` as Contact, and keeps
    /// the session. False when it answered an error instead.
    #[allow(clippy::too_many_arguments)]
    fn accept(
        &mut self,
        core: &mut Core,
        now: Instant,
        key: TxKey,
        req: &Message,
        peer: Peer,
        me: &str,
        sdp: &str,
        user: String,
        media: Option<crate::media::LegId>,
    ) -> bool {
        let tag = core.token();
        let Ok(ok) = req
            .response(200, "OK", &tag)
            .header("Contact", format!("<{me}>"))
            .body("application/sdp", sdp.as_bytes())
            .build()
        else {
            core.reply(now, key, req, 500, "Server Internal Error");
            return false;
        };
        let Ok(mut dialog) = Dialog::uas(req, &ok) else {
            core.reply(now, key, req, 400, "Bad Request");
            return false;
        };
        dialog.set_transport(peer.via_transport());
        self.legs.insert(
            req.call_id().unwrap_or_default().to_owned(),
            Leg {
                dialog,
                user,
                conference: me.to_owned(),
                peer,
                media,
                sdp: Some((sdp.to_owned(), 0)),
            },
        );
        let _ = core.layer.respond(now, key, ok);
        true
    }

    /// A request to an MCU conference URI of ours (IM or A/V): INVITE to join (for a user the
    /// MCU admits), re-INVITE, BYE, chat MESSAGE/INFO. Returns the session a BYE ended.
    pub(super) fn mcu_request(
        &mut self,
        core: &mut Core,
        mcus: &mut Mcus,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
    ) -> Option<Leg> {
        let UriKind::Mcu(mcu) = &uri.kind else {
            return None;
        };
        let method = req.method().unwrap_or_default();
        let Some(sender) = from_uri(req) else {
            core.reply(now, key, req, 400, "Bad Request");
            return None;
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let in_dialog = req.to().is_ok_and(|t| t.tag().is_some());
        let session_mcu = matches!(mcu, McuType::Chat | McuType::AudioVideo);
        match method {
            "INVITE" if in_dialog && session_mcu => {
                // A re-INVITE (ICE's updated offer, a hold): the session stays as it is, and
                // an offer gets the same answer again, its version one on (RFC 3264 §8).
                if !self.in_session(&call, req) {
                    core.reply(now, key, req, 481, "Call/Transaction Does Not Exist");
                    return None;
                }
                let again = self.legs.get_mut(&call).and_then(|l| {
                    let (sdp, n) = l.sdp.as_mut()?;
                    *n += 1;
                    Some(bump_origin(sdp, *n))
                });
                let contact = format!("<{uri}>");
                let mut b = req.response(200, "OK", "").header("Contact", &contact);
                if let Some(sdp) = again.as_ref().filter(|_| !req.body().is_empty()) {
                    b = b.body("application/sdp", sdp.as_bytes());
                }
                match b.build() {
                    Ok(ok) => {
                        let _ = core.layer.respond(now, key, ok);
                    }
                    Err(_) => core.reply(now, key, req, 500, "Server Internal Error"),
                }
            }
            "BYE" if session_mcu => {
                let Some(leg) = self.bye(&call, req) else {
                    core.reply(now, key, req, 481, "Call/Transaction Does Not Exist");
                    return None;
                };
                core.reply(now, key, req, 200, "OK");
                leave_media(core, &leg);
                return Some(leg);
            }
            "INVITE" if session_mcu => {
                let peer = admitted(core, mcus, now, key, req, mcu, uri, &sender)?;
                self.join(core, mcus, now, key, req, uri, sender, peer);
            }
            "MESSAGE" | "INFO" if *mcu == McuType::Chat => {
                if !self.in_session(&call, req) {
                    core.reply(now, key, req, 481, "Call/Transaction Does Not Exist");
                    return None;
                }
                core.reply(now, key, req, 200, "OK");
                let content_type = req
                    .header(HeaderName::ContentType)
                    .map_or_else(|| "text/plain".to_owned(), |h| h.value.trim().to_owned());
                let method = if method == "INFO" { "INFO" } else { "MESSAGE" };
                self.chat_relay(core, now, &call, method, &content_type, req.body());
            }
            "INVITE" => core.reply_with(
                now,
                key,
                req,
                488,
                "Not Acceptable Here",
                &[(
                    "Warning",
                    "399 ocs \"this MCU takes no SIP sessions here\"".into(),
                )],
            ),
            _ => core.method_not_allowed(now, key, req),
        }
        None
    }

    /// Accepts an INVITE to the IM or A/V MCU from `sender`, whom the MCU admits; false when
    /// it answered an error instead (an offer the A/V MCU cannot take).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn join(
        &mut self,
        core: &mut Core,
        mcus: &mut Mcus,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
        sender: String,
        peer: Peer,
    ) -> bool {
        if uri.kind == UriKind::Mcu(McuType::Chat) {
            self.chat_join(core, now, key, req, uri, sender, peer)
        } else {
            self.av_join(core, mcus, now, key, req, uri, sender, peer)
        }
    }

    /// An INVITE to the IM MCU from a user the focus added there; the first message of the
    /// conversation, when the INVITE carries one in `ms-text-format` ([MS-SIP] 2.2.1), goes to
    /// the others once the session is up.
    #[allow(clippy::too_many_arguments)]
    fn chat_join(
        &mut self,
        core: &mut Core,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
        sender: String,
        peer: Peer,
    ) -> bool {
        let me = uri.to_string();
        let ip = core.sent_by(&peer);
        let host = ip.rsplit_once(':').map_or(ip.as_str(), |(h, _)| h);
        let sdp = format!(
            "v=0\r\no=- 0 0 IN IP4 {host}\r\ns=session\r\nc=IN IP4 {host}\r\nt=0 0\r\nm=message 5060 sip {me}\r\na=accept-types:text/plain text/html text/rtf application/im-iscomposing+xml\r\n"
        );
        if !self.accept(core, now, key, req, peer, &me, &sdp, sender, None) {
            return false;
        }
        if let Some((content_type, text)) = first_message(req) {
            let call = req.call_id().unwrap_or_default().to_owned();
            self.chat_relay(core, now, &call, "MESSAGE", &content_type, &text);
        }
        true
    }

    /// An INVITE to the A/V MCU: the A/V MCU's answer, and the leg handed to the relay.
    #[allow(clippy::too_many_arguments)]
    fn av_join(
        &mut self,
        core: &mut Core,
        mcus: &mut Mcus,
        now: Instant,
        key: TxKey,
        req: &Message,
        uri: &ConferenceUri,
        sender: String,
        peer: Peer,
    ) -> bool {
        let me = uri.to_string();
        let answer = match mcus.av_answer(&me, &address_of_record(&sender), req.body()) {
            Ok(a) => a,
            Err(why) => {
                let warning = format!("399 ocs \"{why}\"");
                core.reply_with(
                    now,
                    key,
                    req,
                    488,
                    "Not Acceptable Here",
                    &[("Warning", warning)],
                );
                return false;
            }
        };
        let accepted = self.accept(
            core,
            now,
            key,
            req,
            peer,
            &me,
            &answer.sdp,
            sender,
            Some(answer.leg),
        );
        if accepted {
            core.push(Output::Media(answer.join));
        }
        accepted
    }

    /// A chat MESSAGE or INFO of the session `call` relayed to every other participant of the
    /// same IM conference, with `Ms-Sender`.
    fn chat_relay(
        &mut self,
        core: &mut Core,
        now: Instant,
        call: &str,
        method: &'static str,
        content_type: &str,
        body: &[u8],
    ) {
        let Some((conference, sender)) = self
            .legs
            .get(call)
            .map(|l| (l.conference.clone(), l.user.clone()))
        else {
            return;
        };
        let others: Vec<String> = self
            .legs
            .iter()
            .filter(|(c, l)| c.as_str() != call && l.conference == conference)
            .map(|(c, _)| c.clone())
            .collect();
        for other in others {
            self.send(
                core,
                now,
                &other,
                method,
                Some(("Ms-Sender", format!("<{sender}>"))),
                Some((content_type, body)),
            );
        }
    }
}

/// The first message an INVITE carries in `ms-text-format` ([MS-SIP] 2.2.1: the content type
/// and its parameters, the text in base64 as `ms-body`): its content type (without `ms-body`)
/// and the text. `None` without one, or when `ms-body` is not base64.
pub(super) fn first_message(req: &Message) -> Option<(String, Vec<u8>)> {
    use base64::Engine as _;
    let value = req.header_by_name("ms-text-format")?.value;
    let mut params = value.split(';').map(str::trim);
    let mut content_type = params.next().filter(|t| t.contains('/'))?.to_owned();
    let mut body = None;
    for p in params {
        match p.split_once('=') {
            Some((n, v)) if n.trim().eq_ignore_ascii_case("ms-body") => {
                body = base64::engine::general_purpose::STANDARD
                    .decode(v.trim().trim_matches('"'))
                    .ok();
            }
            _ if !p.is_empty() => {
                content_type.push_str("; ");
                content_type.push_str(p);
            }
            _ => {}
        }
    }
    Some((content_type, body.filter(|b| !b.is_empty())?))
}

/// `sdp` with the version of its `o=` line moved on by `by` (RFC 4566 §5.2: a changed
/// description, or one given again, has a higher version).
fn bump_origin(sdp: &str, by: u32) -> String {
    let mut out = String::with_capacity(sdp.len() + 4);
    for line in sdp.split_inclusive('\n') {
        if let Some(o) = line.strip_prefix("o=") {
            let mut f: Vec<String> = o.trim_end().split(' ').map(str::to_owned).collect();
            if let Some(v) = f.get_mut(2).and_then(|v| {
                let n: u64 = v.parse().ok()?;
                Some((v, n))
            }) {
                *v.0 = (v.1 + u64::from(by)).to_string();
            }
            out.push_str("o=");
            out.push_str(&f.join(" "));
            out.push_str("\r\n");
        } else {
            out.push_str(line);
        }
    }
    out
}

/// Takes a session's audio out of the relay.
pub(super) fn leave_media(core: &mut Core, leg: &Leg) {
    if let Some(id) = leg.media {
        core.push(Output::Media(MediaOp::Leave {
            conference: leg.conference.clone(),
            leg: id,
        }));
    }
}

/// Where the INVITE came from, when `sender` was added at this MCU's conference (404 or 403
/// answered if not).
#[allow(clippy::too_many_arguments)]
fn admitted(
    core: &mut Core,
    mcus: &Mcus,
    now: Instant,
    key: TxKey,
    req: &Message,
    mcu: &McuType,
    uri: &ConferenceUri,
    sender: &str,
) -> Option<Peer> {
    let peer = core.peers.get(&key).copied()?;
    match mcus.admits(mcu, uri, &address_of_record(sender)) {
        Admission::NoConference => {
            core.reply(now, key, req, 404, "Not Found");
            None
        }
        Admission::Admitted => Some(peer),
        Admission::NotAdded => {
            core.reply(now, key, req, 403, "Forbidden");
            None
        }
    }
}
