//! `endpoint` (RFC 4575 §5.7) and its `media` (RFC 4575 §5.7.8, [MS-CONFAV] 3.2.5.4 filters),
//! with the Microsoft `msci:roles`, `msci:clientInfo` ([MS-CONFBAS] 2.2.3.4) and
//! `connection-info` ([MS-CONFBAS] 2.2.3.18).

use bytestring::ByteString;

use crate::error::Error;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer};

use super::users::{read_roles, write_roles};
use super::{
    CI, Execution, MS, Role, SEPARATOR, State, body, declare, ext_attrs_only, keep, leaf,
    leaf_bool, leaf_token, read_state, set, write_state,
};

/// An endpoint of a user: one per session (focus, chat, audio-video, meeting...)
/// (RFC 4575 §5.7).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Endpoint {
    /// `entity` (the key: a GUID or URI).
    pub entity: ByteString,
    /// `state`.
    pub state: State,
    /// `session-type`: which MCU or the focus this endpoint is connected to.
    pub session_type: Option<ByteString>,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `referred`.
    pub referred: Option<Box<Execution>>,
    /// `status`.
    pub status: Option<EndpointStatus>,
    /// `joining-method`.
    pub joining_method: Option<JoiningMethod>,
    /// `joining-info`.
    pub joining_info: Option<Box<Execution>>,
    /// `disconnection-method`.
    pub disconnection_method: Option<DisconnectionMethod>,
    /// `disconnection-info`.
    pub disconnection_info: Option<Box<Execution>>,
    /// `media`.
    pub media: Vec<Media>,
    /// `msci:roles` (set by `modifyEndpointRole`).
    pub roles: Option<Vec<Role>>,
    /// `msci:clientInfo`.
    pub client_info: Option<ClientInfo>,
    /// `msci:connection-info`.
    pub connection_info: Option<Vec<ConnectionEntry>>,
    /// Extension content.
    pub ext: Extensions,
}

impl Endpoint {
    /// The value of a `connection-info` key. `Mcu-*` keys match case-insensitively, other
    /// keys exactly ([MS-CONFBAS] 2.2.3.18).
    #[must_use]
    pub fn connection_value(&self, key: &str) -> Option<&ByteString> {
        let ci = key.len() > 4 && key[..4].eq_ignore_ascii_case("mcu-");
        self.connection_info.as_ref()?.iter().find_map(|e| {
            let hit = if ci {
                e.key.eq_ignore_ascii_case(key)
            } else {
                *e.key == *key
            };
            hit.then_some(&e.value)
        })
    }
}

token_enum! {
    /// An endpoint's status (RFC 4575 §5.7.3).
    EndpointStatus {
        /// Pending.
        Pending => "pending",
        /// The focus is dialing out.
        DialingOut => "dialing-out",
        /// The endpoint is dialing in.
        DialingIn => "dialing-in",
        /// Alerting.
        Alerting => "alerting",
        /// On hold (this crate: waiting in the lobby).
        OnHold => "on-hold",
        /// Connected.
        Connected => "connected",
        /// Muted by the focus.
        MutedViaFocus => "muted-via-focus",
        /// Disconnecting.
        Disconnecting => "disconnecting",
        /// Disconnected.
        Disconnected => "disconnected",
    }
}

token_enum! {
    /// How an endpoint joined (RFC 4575 §5.7.4; [MS-CONFBAS] 2.2.3.15, 2.2.3.18).
    JoiningMethod {
        /// The endpoint called in.
        DialedIn => "dialed-in",
        /// The focus or an MCU called out.
        DialedOut => "dialed-out",
        /// The endpoint owns the focus.
        FocusOwner => "focus-owner",
    }
}

token_enum! {
    /// How an endpoint left (RFC 4575 §5.7.6).
    DisconnectionMethod {
        /// It left.
        Departed => "departed",
        /// It was removed.
        Booted => "booted",
        /// It failed.
        Failed => "failed",
        /// It was busy.
        Busy => "busy",
    }
}

/// A media stream of an endpoint (RFC 4575 §5.7.8; [MS-CONFAV] filters).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Media {
    /// `id` (the key of a media element).
    pub id: ByteString,
    /// `state`; only `deleted` has a meaning (this crate's choice for partial documents).
    pub state: Option<State>,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `type` (`audio`, `video`, `chat`, `applicationsharing`...).
    pub media_type: Option<ByteString>,
    /// `label`.
    pub label: Option<ByteString>,
    /// `src-id` (the SSRC for RTP media).
    pub src_id: Option<ByteString>,
    /// `status`.
    pub status: Option<MediaStatus>,
    /// `msci:media-ingress-filter` (A/V MCU: is the participant's media let in).
    pub ingress_filter: Option<Filter>,
    /// `msci:media-egress-filter` (A/V MCU: is media sent to the participant).
    pub egress_filter: Option<Filter>,
    /// Extension content.
    pub ext: Extensions,
}

token_enum! {
    /// A media stream's direction (RFC 4575 §5.7.8).
    MediaStatus {
        /// Receive only.
        RecvOnly => "recvonly",
        /// Send only.
        SendOnly => "sendonly",
        /// Both ways.
        SendRecv => "sendrecv",
        /// Neither.
        Inactive => "inactive",
    }
}

token_enum! {
    /// A media filter of the A/V MCU ([MS-CONFAV] 3.2.5.4, `msci:media-ingress-filter`).
    Filter {
        /// Media is blocked (muted).
        Block => "block",
        /// Media flows.
        Unblock => "unblock",
    }
}

/// `msci:clientInfo` of an endpoint in `addUser` ([MS-CONFBAS] 2.2.3.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ClientInfo {
    /// `msci2:lobby-capable`: the client can wait in the lobby.
    pub lobby_capable: Option<bool>,
    /// Extension content.
    pub ext: Extensions,
}

/// One key and value of `connection-info` ([MS-CONFBAS] 2.2.3.18). Keys such as
/// `Mcu-Server-Uri` compare case-insensitively; the Web Conferencing keys (`sAuthId`, ...)
/// are case-sensitive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConnectionEntry {
    /// `key`.
    pub key: ByteString,
    /// `value`.
    pub value: ByteString,
}

impl Endpoint {
    pub(super) fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        limit: usize,
    ) -> Result<Endpoint, Error> {
        let mut e = Endpoint::default();
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "entity") => e.entity = r.share_cow(a.value),
                (Ns::None, "state") => e.state = read_state(&a.value, start.offset)?,
                (Ns::None | Ns::Msci, "session-type") => {
                    e.session_type = Some(r.share_cow(a.value))
                }
                _ => e.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        while let Some(c) = r.next("endpoint")? {
            let at = c.offset;
            let ci = c.ns.is_ci();
            let ms = c.ns == Ns::Msci || c.ns == Ns::Msci2;
            match c.local() {
                "display-text" if ci => set(
                    &mut e.display_text,
                    leaf(r, "display-text")?,
                    "display-text",
                    at,
                )?,
                "referred" if ci => set(
                    &mut e.referred,
                    Box::new(Execution::read(r, c, "referred")?),
                    "referred",
                    at,
                )?,
                "status" if ci => set(
                    &mut e.status,
                    leaf_token(r, "status", EndpointStatus::from_shared)?,
                    "status",
                    at,
                )?,
                "joining-method" if ci => set(
                    &mut e.joining_method,
                    leaf_token(r, "joining-method", JoiningMethod::from_shared)?,
                    "joining-method",
                    at,
                )?,
                "joining-info" if ci => {
                    set(
                        &mut e.joining_info,
                        Box::new(Execution::read(r, c, "joining-info")?),
                        "joining-info",
                        at,
                    )?;
                }
                "disconnection-method" if ci => set(
                    &mut e.disconnection_method,
                    leaf_token(r, "disconnection-method", DisconnectionMethod::from_shared)?,
                    "disconnection-method",
                    at,
                )?,
                "disconnection-info" if ci => set(
                    &mut e.disconnection_info,
                    Box::new(Execution::read(r, c, "disconnection-info")?),
                    "disconnection-info",
                    at,
                )?,
                "media" if ci => {
                    if e.media.len() >= limit {
                        return Err(Error::TooMany {
                            what: "media per endpoint",
                            limit,
                            offset: at,
                        });
                    }
                    // Short lists: grown exactly, not to the default capacity of four.
                    e.media.reserve_exact(1);
                    e.media.push(Media::read(r, c)?);
                }
                "roles" if ms => set(&mut e.roles, read_roles(r, "roles")?, "roles", at)?,
                "clientInfo" if ms => set(
                    &mut e.client_info,
                    ClientInfo::read(r, c)?,
                    "clientInfo",
                    at,
                )?,
                "connection-info" if ms => {
                    set(
                        &mut e.connection_info,
                        read_connection_info(r)?,
                        "connection-info",
                        at,
                    )?;
                }
                _ => keep(r, c, &mut e.ext)?,
            }
        }
        Ok(e)
    }

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "endpoint");
        w.attr("entity", &self.entity);
        write_state(w, "state", &self.state);
        w.opt_attr("session-type", self.session_type.as_deref());
        w.ext_attrs(&self.ext.attributes);
        let empty = self.display_text.is_none()
            && self.referred.is_none()
            && self.status.is_none()
            && self.joining_method.is_none()
            && self.joining_info.is_none()
            && self.disconnection_method.is_none()
            && self.disconnection_info.is_none()
            && self.media.is_empty()
            && self.roles.is_none()
            && self.client_info.is_none()
            && self.connection_info.is_none()
            && self.ext.elements.is_empty();
        if empty {
            w.slash_gt();
            return;
        }
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        if let Some(x) = &self.referred {
            x.write(w, "referred");
        }
        w.opt_leaf(
            CI,
            "status",
            self.status.as_ref().map(EndpointStatus::as_str),
        );
        w.opt_leaf(
            CI,
            "joining-method",
            self.joining_method.as_ref().map(JoiningMethod::as_str),
        );
        if let Some(x) = &self.joining_info {
            x.write(w, "joining-info");
        }
        w.opt_leaf(
            CI,
            "disconnection-method",
            self.disconnection_method
                .as_ref()
                .map(DisconnectionMethod::as_str),
        );
        if let Some(x) = &self.disconnection_info {
            x.write(w, "disconnection-info");
        }
        for m in &self.media {
            m.write(w, false);
        }
        if let Some(r) = &self.roles {
            write_roles(w, MS, "roles", r);
        }
        if let Some(ci) = &self.client_info {
            ci.write(w);
        }
        if let Some(c) = &self.connection_info {
            w.open(MS, "connection-info");
            body(w, MS, "connection-info", c.is_empty(), |w| {
                for e in c {
                    w.open(MS, "entry");
                    w.gt();
                    w.leaf(MS, "key", &e.key);
                    w.leaf(MS, "value", &e.value);
                    w.close(MS, "entry");
                }
            });
        }
        w.ext_elements(&self.ext);
        w.close(CI, "endpoint");
    }
}

impl Media {
    pub(crate) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<Media, Error> {
        let mut m = Media::default();
        let mut id = None;
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "id") => id = Some(r.share_cow(a.value)),
                (Ns::None | Ns::Ci, "state") => m.state = Some(read_state(&a.value, start.offset)?),
                _ => m.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        m.id = id.ok_or(Error::MissingAttribute {
            what: "id",
            offset: start.offset,
        })?;
        while let Some(c) = r.next("media")? {
            let at = c.offset;
            let ci = c.ns.is_ci();
            let ms = c.ns == Ns::Msci || c.ns == Ns::Msci2;
            match c.local() {
                "display-text" if ci => set(
                    &mut m.display_text,
                    leaf(r, "display-text")?,
                    "display-text",
                    at,
                )?,
                "type" if ci => set(&mut m.media_type, leaf(r, "type")?, "type", at)?,
                "label" if ci => set(&mut m.label, leaf(r, "label")?, "label", at)?,
                "src-id" if ci => set(&mut m.src_id, leaf(r, "src-id")?, "src-id", at)?,
                "status" if ci => set(
                    &mut m.status,
                    leaf_token(r, "status", MediaStatus::from_shared)?,
                    "status",
                    at,
                )?,
                "media-ingress-filter" if ms => set(
                    &mut m.ingress_filter,
                    leaf_token(r, "media-ingress-filter", Filter::from_shared)?,
                    "media-ingress-filter",
                    at,
                )?,
                "media-egress-filter" if ms => set(
                    &mut m.egress_filter,
                    leaf_token(r, "media-egress-filter", Filter::from_shared)?,
                    "media-egress-filter",
                    at,
                )?,
                _ => keep(r, c, &mut m.ext)?,
            }
        }
        Ok(m)
    }

    /// Writes `ci:media`; `decl` declares the namespaces (when it is a fragment's root).
    pub(crate) fn write<S: Sink>(&self, w: &mut Writer<'_, S>, decl: bool) {
        w.open(CI, "media");
        if decl {
            declare(w);
        }
        w.attr("id", &self.id);
        if let Some(s) = &self.state {
            w.attr("state", s.as_str());
        }
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        w.opt_leaf(CI, "type", self.media_type.as_deref());
        w.opt_leaf(CI, "label", self.label.as_deref());
        w.opt_leaf(CI, "src-id", self.src_id.as_deref());
        w.opt_leaf(CI, "status", self.status.as_ref().map(MediaStatus::as_str));
        w.opt_leaf(
            MS,
            "media-ingress-filter",
            self.ingress_filter.as_ref().map(Filter::as_str),
        );
        w.opt_leaf(
            MS,
            "media-egress-filter",
            self.egress_filter.as_ref().map(Filter::as_str),
        );
        w.ext_elements(&self.ext);
        w.close(CI, "media");
    }
}

impl ClientInfo {
    pub(super) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ClientInfo, Error> {
        let mut ci = ClientInfo::default();
        ext_attrs_only(r, &start, &mut ci.ext)?;
        while let Some(c) = r.next("clientInfo")? {
            let at = c.offset;
            match c.local() {
                "lobby-capable" if c.ns == Ns::Msci2 || c.ns == Ns::Msci => set(
                    &mut ci.lobby_capable,
                    leaf_bool(r, "lobby-capable", at)?,
                    "lobby-capable",
                    at,
                )?,
                _ => keep(r, c, &mut ci.ext)?,
            }
        }
        Ok(ci)
    }

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(MS, "clientInfo");
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        if let Some(l) = self.lobby_capable {
            w.raw(SEPARATOR);
            w.raw("<msci2:lobby-capable xmlns:msci2=\"http://schemas.microsoft.com/rtc/2008/12/confinfoextensions\">");
            w.raw(if l { "true" } else { "false" });
            w.raw("</msci2:lobby-capable>");
        }
        w.ext_elements(&self.ext);
        w.close(MS, "clientInfo");
    }
}

fn read_connection_info<'i>(r: &mut Reader<'i>) -> Result<Vec<ConnectionEntry>, Error> {
    let mut v = Vec::new();
    while let Some(c) = r.next("connection-info")? {
        if c.ns.is_ms() && c.local() == "entry" {
            let offset = c.offset;
            let (mut key, mut value) = (None, None);
            while let Some(k) = r.next("entry")? {
                let at = k.offset;
                match k.local() {
                    "key" if k.ns.is_ms() => set(&mut key, leaf(r, "key")?, "key", at)?,
                    "value" if k.ns.is_ms() => set(&mut value, leaf(r, "value")?, "value", at)?,
                    _ => {
                        r.capture(k)?;
                    }
                }
            }
            v.push(ConnectionEntry {
                key: key.ok_or(Error::MissingElement {
                    what: "key",
                    context: "connection-info entry",
                    offset,
                })?,
                value: value.unwrap_or_default(),
            });
        } else {
            r.capture(c)?;
        }
    }
    Ok(v)
}
