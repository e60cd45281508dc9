//! Conference state: the RFC 4575 `conference-info` document with the Microsoft extensions of
//! [MS-CONFBAS] 2.2.2.2 and 6.3 (`msci`, `msci2`).
//!
//! The model keeps RFC 4575's structure and names. Microsoft elements are typed where a client
//! or the focus needs them (conference ID, expiry, admission policy, organizer, conference
//! view per MCU, client info, connection info, media filters); everything else in an
//! extension namespace is kept in [`Extensions`] and written back. `cis:separator` elements
//! (schema-version markers, [MS-CONFBAS] 6.3.3) carry no data: they are skipped when reading
//! and written where the typed content needs them.
//!
//! Where the public record is silent, these are this crate's choices:
//! - `session-type` is an unqualified attribute of `endpoint` (as clients read it).
//! - `connection-info` ([MS-CONFBAS] 2.2.3.18) is an `msci` child of `endpoint` holding
//!   `entry` elements with `key` and `value`.
//! - `msci:roles` in an `endpoint` records roles set by `modifyEndpointRole`.
//! - `msci:organizer` holds `msci:display-name` and `msci:uri`.
//! - A `media` element may carry `state="deleted"` in a partial document, so that a removed
//!   stream can be expressed.
//! - A user waiting in the lobby has an endpoint with status `on-hold` ([`ConferenceInfo::lobby`]).

use bytestring::ByteString;

use crate::error::Error;
use crate::time::DateTime;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer, parse_bool, parse_u32};

token_enum! {
    /// The `state` of an element in a conference-info document (RFC 4575 §5.1).
    State {
        /// The element is complete (the default).
        Full => "full",
        /// The element carries only changes.
        Partial => "partial",
        /// The element was removed.
        Deleted => "deleted",
    }
}

impl Default for State {
    fn default() -> Self {
        Self::ALL[0].clone()
    }
}

token_enum! {
    /// A user's role in a conference ([MS-CONFBAS] 2.2.3.4, RFC 4575 `roles`).
    Role {
        /// The organizer.
        Organizer => "organizer",
        /// A presenter (a "leader" in Office Communicator).
        Presenter => "presenter",
        /// An attendee.
        Attendee => "attendee",
    }
}

impl Role {
    /// Whether this role may control the conference (lock, promote, admit, remove others).
    #[must_use]
    pub fn is_leader(&self) -> bool {
        matches!(self, Role::Organizer | Role::Presenter)
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
    /// Who may join without being admitted ([MS-CONFPRO] 2.2.1.2, `msci:admission-policy`).
    AdmissionPolicy {
        /// Authenticated users of the organization.
        OpenAuthenticated => "openAuthenticated",
        /// Only users on the invitation list.
        ClosedAuthenticated => "closedAuthenticated",
        /// Anyone, including anonymous users.
        Anonymous => "anonymous",
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

/// A time, reason and actor (RFC 4575 `execution-type`: `referred`, `joining-info`,
/// `disconnection-info`, `modified`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Execution {
    /// `when`.
    pub when: Option<DateTime>,
    /// `reason`.
    pub reason: Option<ByteString>,
    /// `by` (a URI).
    pub by: Option<ByteString>,
}

/// One URI of a `conf-uris`, `service-uris` or `associated-aors` list (RFC 4575 `uri-type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct UriEntry {
    /// `uri`.
    pub uri: ByteString,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `purpose` (for conf-uris: the MCU type, e.g. `chat`, `audio-video`, `data-conf`).
    pub purpose: Option<ByteString>,
    /// `modified`.
    pub modified: Option<Execution>,
    /// Extension content.
    pub ext: Extensions,
}

/// A list of URIs (RFC 4575 `uris-type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Uris {
    /// `state`.
    pub state: State,
    /// The entries.
    pub entries: Vec<UriEntry>,
}

/// A medium of the conference or of an MCU's view (RFC 4575 `conference-medium-type`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceMedium {
    /// `label` (required by RFC 4575; may be empty in Microsoft entity views).
    pub label: ByteString,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `type` (`audio`, `video`, `chat`, ...).
    pub media_type: Option<ByteString>,
    /// `status`.
    pub status: Option<MediaStatus>,
    /// Extension content.
    pub ext: Extensions,
}

/// The organizer as [MS-CONFBAS] conference descriptions carry it (`msci:organizer`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Organizer {
    /// `display-name`.
    pub display_name: Option<ByteString>,
    /// `uri`.
    pub uri: Option<ByteString>,
    /// Extension content.
    pub ext: Extensions,
}

/// Dial-in information (`msci:pstn-access`, [MS-CONFPRO] 4.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PstnAccess {
    /// The dial-in conference ID (`msci:id`).
    pub id: Option<ByteString>,
    /// Extension content (access numbers and the like).
    pub ext: Extensions,
}

/// `conference-description` (RFC 4575 §5.3) with the [MS-CONFPRO] 2.2.1.2 and
/// [MS-CONFBAS] 2.2.2.3 extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceDescription {
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `subject`.
    pub subject: Option<ByteString>,
    /// `free-text`.
    pub free_text: Option<ByteString>,
    /// `keywords`.
    pub keywords: Option<ByteString>,
    /// `conf-uris`: the focus and each MCU's conference URI with its purpose.
    pub conf_uris: Option<Uris>,
    /// `service-uris`.
    pub service_uris: Option<Uris>,
    /// `maximum-user-count`.
    pub maximum_user_count: Option<u32>,
    /// `available-media`.
    pub available_media: Option<Vec<ConferenceMedium>>,
    /// `msci:conference-id` (8 to 32 alphanumerics, [MS-CONFPRO] 2.2.1.2).
    pub conference_id: Option<ByteString>,
    /// `msci:last-update`.
    pub last_update: Option<DateTime>,
    /// `msci:last-activate`.
    pub last_activate: Option<DateTime>,
    /// `msci:is-active`.
    pub is_active: Option<bool>,
    /// `msci:expiry-time`: after it the focus factory may delete the conference.
    pub expiry_time: Option<DateTime>,
    /// `msci:admission-policy`.
    pub admission_policy: Option<AdmissionPolicy>,
    /// `msci:organizer`.
    pub organizer: Option<Organizer>,
    /// `msci:join-url`.
    pub join_url: Option<ByteString>,
    /// `msci:pstn-access` (after the first `cis:separator`).
    pub pstn_access: Option<PstnAccess>,
    /// `msci:autopromote` (after the second separator).
    pub autopromote: Option<u32>,
    /// `msci:pstn-lobby-bypass` (after the second separator).
    pub pstn_lobby_bypass: Option<bool>,
    /// Extension content.
    pub ext: Extensions,
}

/// `host-info` (RFC 4575 §5.4).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HostInfo {
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `web-page`.
    pub web_page: Option<ByteString>,
    /// `uris`.
    pub uris: Option<Uris>,
    /// Extension content.
    pub ext: Extensions,
}

/// `conference-state` (RFC 4575 §5.5).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceState {
    /// `user-count`.
    pub user_count: Option<u32>,
    /// `active`.
    pub active: Option<bool>,
    /// `locked`.
    pub locked: Option<bool>,
    /// Extension content.
    pub ext: Extensions,
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

/// A user (RFC 4575 §5.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct User {
    /// `entity` (the key: the user's URI).
    pub entity: ByteString,
    /// `state`.
    pub state: State,
    /// `display-text`.
    pub display_text: Option<ByteString>,
    /// `associated-aors`.
    pub associated_aors: Option<Uris>,
    /// `roles` / `entry`.
    pub roles: Option<Vec<Role>>,
    /// `languages`.
    pub languages: Option<ByteString>,
    /// `cascaded-focus`.
    pub cascaded_focus: Option<ByteString>,
    /// `endpoint`s.
    pub endpoints: Vec<Endpoint>,
    /// `msci:clientInfo` directly in the user, as the [MS-CONFBAS] 2.2.3.4 `addUser` response
    /// shows it (requests put it in the endpoint).
    pub client_info: Option<ClientInfo>,
    /// Extension content.
    pub ext: Extensions,
}

impl User {
    /// A new user with one role.
    #[must_use]
    pub fn new(entity: impl Into<ByteString>, role: Role) -> User {
        User {
            entity: entity.into(),
            roles: Some(vec![role]),
            ..User::default()
        }
    }

    /// The endpoint with this entity.
    #[must_use]
    pub fn endpoint(&self, entity: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.entity == entity)
    }

    /// The endpoint with this entity, to change it.
    pub fn endpoint_mut(&mut self, entity: &str) -> Option<&mut Endpoint> {
        self.endpoints.iter_mut().find(|e| e.entity == entity)
    }

    /// The first role.
    #[must_use]
    pub fn role(&self) -> Option<&Role> {
        self.roles.as_ref()?.first()
    }
}

/// `users` (RFC 4575 §5.6).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Users {
    /// `state`.
    pub state: State,
    /// The users.
    pub users: Vec<User>,
    /// Extension content.
    pub ext: Extensions,
}

/// `msci:entity-state`: an MCU's state in the conference view.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EntityState {
    /// `active`.
    pub active: Option<bool>,
    /// `locked` (the IM MCU reports the lock here; Office Communicator reads it).
    pub locked: Option<bool>,
    /// `media` / `entry`.
    pub media: Option<Vec<ConferenceMedium>>,
    /// Extension content.
    pub ext: Extensions,
}

/// `msci:entity-view`: one MCU's (or the focus's) view of the conference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct EntityView {
    /// `entity`: the MCU type (in `addConference`) or the MCU conference URI.
    pub entity: ByteString,
    /// `ci:state`.
    pub state: State,
    /// `msci:entity-state`.
    pub entity_state: Option<EntityState>,
    /// Extension content (`entity-capabilities`, `entity-settings`...).
    pub ext: Extensions,
}

/// `msci:conference-view`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceView {
    /// `ci:state`.
    pub state: State,
    /// The views.
    pub entity_views: Vec<EntityView>,
}

/// A `conference-info` document or element (RFC 4575 §5.1).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceInfo {
    /// `entity`: the focus URI (empty in an `addConference` request).
    pub entity: ByteString,
    /// `state`: a full document or a partial one (changes only).
    pub state: State,
    /// `version`: increases by one with each notification to a subscriber.
    pub version: Option<u32>,
    /// `conference-description`.
    pub description: Option<ConferenceDescription>,
    /// `host-info`.
    pub host_info: Option<HostInfo>,
    /// `conference-state`.
    pub conference_state: Option<ConferenceState>,
    /// `users`.
    pub users: Option<Users>,
    /// `msci:conference-view`.
    pub conference_view: Option<ConferenceView>,
    /// Extension content (`sidebars-by-ref`, `sidebars-by-val` and others).
    pub ext: Extensions,
}

impl ConferenceInfo {
    /// A document with only its entity.
    #[must_use]
    pub fn new(entity: impl Into<ByteString>) -> ConferenceInfo {
        ConferenceInfo {
            entity: entity.into(),
            ..ConferenceInfo::default()
        }
    }

    /// The users (none when `users` is absent).
    #[must_use]
    pub fn user_list(&self) -> &[User] {
        self.users.as_ref().map_or(&[], |u| &u.users)
    }

    /// The user with this entity. Entities compare as SIP addresses: scheme and parameters
    /// aside, without regard to case.
    #[must_use]
    pub fn user(&self, entity: &str) -> Option<&User> {
        let want = crate::uri::address_of_record(entity);
        self.user_list()
            .iter()
            .find(|u| crate::uri::address_of_record(&u.entity) == want)
    }

    /// The user with this entity, to change it. Entities compare as SIP addresses: scheme
    /// and parameters aside, without regard to case.
    pub fn user_mut(&mut self, entity: &str) -> Option<&mut User> {
        let want = crate::uri::address_of_record(entity);
        self.users
            .as_mut()?
            .users
            .iter_mut()
            .find(|u| crate::uri::address_of_record(&u.entity) == want)
    }

    /// Users waiting in the lobby: those with an endpoint on hold.
    pub fn lobby(&self) -> impl Iterator<Item = &User> {
        self.user_list().iter().filter(|u| {
            u.endpoints
                .iter()
                .any(|e| e.status == Some(EndpointStatus::OnHold))
        })
    }

    /// `conference-state/locked`.
    #[must_use]
    pub fn locked(&self) -> bool {
        self.conference_state
            .as_ref()
            .and_then(|s| s.locked)
            .unwrap_or(false)
    }

    /// The URI in `conf-uris` with this purpose (e.g. `chat` for the IM MCU).
    #[must_use]
    pub fn conf_uri(&self, purpose: &str) -> Option<&ByteString> {
        self.description
            .as_ref()?
            .conf_uris
            .as_ref()?
            .entries
            .iter()
            .find(|e| e.purpose.as_deref() == Some(purpose))
            .map(|e| &e.uri)
    }
}

// ---------------------------------------------------------------------------------------------
// Reading

fn set<T>(slot: &mut Option<T>, v: T, what: &'static str, offset: usize) -> Result<(), Error> {
    if slot.is_some() {
        return Err(Error::DuplicateElement { what, offset });
    }
    *slot = Some(v);
    Ok(())
}

fn read_state(v: &str, offset: usize) -> Result<State, Error> {
    match State::parse(v) {
        State::Other(_) => Err(Error::InvalidValue {
            what: "state (full, partial or deleted)",
            offset,
        }),
        s => Ok(s),
    }
}

/// Reads a leaf's text.
fn leaf<'i>(r: &mut Reader<'i>, what: &'static str) -> Result<ByteString, Error> {
    r.text(what)
}

fn leaf_token<'i, T>(
    r: &mut Reader<'i>,
    what: &'static str,
    f: fn(ByteString) -> T,
) -> Result<T, Error> {
    Ok(f(r.text(what)?))
}

fn leaf_bool<'i>(r: &mut Reader<'i>, what: &'static str, offset: usize) -> Result<bool, Error> {
    let t = r.text(what)?;
    parse_bool(&t, what, offset)
}

fn leaf_u32<'i>(r: &mut Reader<'i>, what: &'static str, offset: usize) -> Result<u32, Error> {
    let t = r.text(what)?;
    parse_u32(&t, what, offset)
}

fn leaf_time<'i>(r: &mut Reader<'i>, what: &'static str, offset: usize) -> Result<DateTime, Error> {
    let t = r.text(what)?;
    DateTime::parse(t).ok_or(Error::InvalidValue { what, offset })
}

/// Keeps every attribute of an element in `ext` (for elements whose attributes are all
/// extensions).
fn ext_attrs_only<'i>(
    r: &Reader<'i>,
    start: &Start<'i>,
    ext: &mut Extensions,
) -> Result<(), Error> {
    r.attrs(start, |r, a| {
        ext.attributes.push(r.keep_attr(&a));
        Ok(())
    })
}

/// Skips a `cis:separator`, or keeps any other element as an extension.
fn keep<'i>(r: &mut Reader<'i>, c: Start<'i>, ext: &mut Extensions) -> Result<(), Error> {
    if c.ns == Ns::Cis && c.local() == "separator" {
        r.capture(c)?;
    } else {
        ext.elements.push(r.capture(c)?);
    }
    Ok(())
}

impl Execution {
    fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        what: &'static str,
    ) -> Result<Execution, Error> {
        let mut x = Execution::default();
        let mut ignored = Extensions::default();
        ext_attrs_only(r, &start, &mut ignored)?;
        while let Some(c) = r.next(what)? {
            let at = c.offset;
            match c.local() {
                "when" if c.ns.is_ci() => set(&mut x.when, leaf_time(r, "when", at)?, "when", at)?,
                "reason" if c.ns.is_ci() => set(&mut x.reason, leaf(r, "reason")?, "reason", at)?,
                "by" if c.ns.is_ci() => set(&mut x.by, leaf(r, "by")?, "by", at)?,
                _ => keep(r, c, &mut ignored)?,
            }
        }
        Ok(x)
    }
}

impl Uris {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>, what: &'static str) -> Result<Uris, Error> {
        let mut u = Uris::default();
        r.attrs(&start, |_, a| {
            if a.ns == Ns::None && a.local == "state" {
                u.state = read_state(&a.value, start.offset)?;
            }
            Ok(())
        })?;
        while let Some(c) = r.next(what)? {
            if c.is_ci("entry") {
                u.entries.push(UriEntry::read(r, c)?);
            } else {
                r.capture(c)?;
            }
        }
        Ok(u)
    }
}

impl UriEntry {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<UriEntry, Error> {
        let mut e = UriEntry::default();
        let mut uri = None;
        let offset = start.offset;
        ext_attrs_only(r, &start, &mut e.ext)?;
        while let Some(c) = r.next("entry")? {
            let at = c.offset;
            match c.local() {
                "uri" if c.ns.is_ci() => set(&mut uri, leaf(r, "uri")?, "uri", at)?,
                "display-text" if c.ns.is_ci() => {
                    set(
                        &mut e.display_text,
                        leaf(r, "display-text")?,
                        "display-text",
                        at,
                    )?;
                }
                "purpose" if c.ns.is_ci() => {
                    set(&mut e.purpose, leaf(r, "purpose")?, "purpose", at)?
                }
                "modified" if c.ns.is_ci() => {
                    set(
                        &mut e.modified,
                        Execution::read(r, c, "modified")?,
                        "modified",
                        at,
                    )?;
                }
                _ => keep(r, c, &mut e.ext)?,
            }
        }
        e.uri = uri.ok_or(Error::MissingElement {
            what: "uri",
            context: "entry",
            offset,
        })?;
        Ok(e)
    }
}

fn read_media_list<'i>(
    r: &mut Reader<'i>,
    what: &'static str,
) -> Result<Vec<ConferenceMedium>, Error> {
    let mut v = Vec::new();
    while let Some(c) = r.next(what)? {
        if c.ns.is_ms() && c.local() == "entry" {
            v.push(ConferenceMedium::read(r, c)?);
        } else {
            r.capture(c)?;
        }
    }
    Ok(v)
}

impl ConferenceMedium {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ConferenceMedium, Error> {
        let mut m = ConferenceMedium::default();
        r.attrs(&start, |r, a| {
            if a.ns == Ns::None && a.local == "label" {
                m.label = r.share_cow(a.value);
            } else {
                m.ext.attributes.push(r.keep_attr(&a));
            }
            Ok(())
        })?;
        while let Some(c) = r.next("entry")? {
            let at = c.offset;
            match c.local() {
                "display-text" if c.ns.is_ms() => {
                    set(
                        &mut m.display_text,
                        leaf(r, "display-text")?,
                        "display-text",
                        at,
                    )?;
                }
                "type" if c.ns.is_ms() => set(&mut m.media_type, leaf(r, "type")?, "type", at)?,
                "status" if c.ns.is_ms() => set(
                    &mut m.status,
                    leaf_token(r, "status", MediaStatus::from_shared)?,
                    "status",
                    at,
                )?,
                _ => keep(r, c, &mut m.ext)?,
            }
        }
        Ok(m)
    }
}

impl Organizer {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<Organizer, Error> {
        let mut o = Organizer::default();
        ext_attrs_only(r, &start, &mut o.ext)?;
        while let Some(c) = r.next("organizer")? {
            let at = c.offset;
            match c.local() {
                "display-name" if c.ns.is_ms() => {
                    set(
                        &mut o.display_name,
                        leaf(r, "display-name")?,
                        "display-name",
                        at,
                    )?;
                }
                "uri" if c.ns.is_ms() => set(&mut o.uri, leaf(r, "uri")?, "uri", at)?,
                _ => keep(r, c, &mut o.ext)?,
            }
        }
        Ok(o)
    }
}

impl PstnAccess {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<PstnAccess, Error> {
        let mut p = PstnAccess::default();
        ext_attrs_only(r, &start, &mut p.ext)?;
        while let Some(c) = r.next("pstn-access")? {
            let at = c.offset;
            match c.local() {
                "id" if c.ns.is_ms() => set(&mut p.id, leaf(r, "id")?, "id", at)?,
                _ => keep(r, c, &mut p.ext)?,
            }
        }
        Ok(p)
    }
}

impl ConferenceDescription {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ConferenceDescription, Error> {
        let mut d = ConferenceDescription::default();
        ext_attrs_only(r, &start, &mut d.ext)?;
        while let Some(c) = r.next("conference-description")? {
            let at = c.offset;
            let ci = c.ns.is_ci();
            let ms = c.ns == Ns::Msci || c.ns == Ns::Msci2;
            match c.local() {
                "display-text" if ci => set(
                    &mut d.display_text,
                    leaf(r, "display-text")?,
                    "display-text",
                    at,
                )?,
                "subject" if ci => set(&mut d.subject, leaf(r, "subject")?, "subject", at)?,
                "free-text" if ci => set(&mut d.free_text, leaf(r, "free-text")?, "free-text", at)?,
                "keywords" if ci => set(&mut d.keywords, leaf(r, "keywords")?, "keywords", at)?,
                "conf-uris" if ci => set(
                    &mut d.conf_uris,
                    Uris::read(r, c, "conf-uris")?,
                    "conf-uris",
                    at,
                )?,
                "service-uris" if ci => {
                    set(
                        &mut d.service_uris,
                        Uris::read(r, c, "service-uris")?,
                        "service-uris",
                        at,
                    )?;
                }
                "maximum-user-count" if ci => set(
                    &mut d.maximum_user_count,
                    leaf_u32(r, "maximum-user-count", at)?,
                    "maximum-user-count",
                    at,
                )?,
                "available-media" if ci => set(
                    &mut d.available_media,
                    read_media_list(r, "available-media")?,
                    "available-media",
                    at,
                )?,
                "conference-id" if ms => {
                    set(
                        &mut d.conference_id,
                        leaf(r, "conference-id")?,
                        "conference-id",
                        at,
                    )?;
                }
                "last-update" if ms => {
                    set(
                        &mut d.last_update,
                        leaf_time(r, "last-update", at)?,
                        "last-update",
                        at,
                    )?;
                }
                "last-activate" if ms => set(
                    &mut d.last_activate,
                    leaf_time(r, "last-activate", at)?,
                    "last-activate",
                    at,
                )?,
                "is-active" if ms => set(
                    &mut d.is_active,
                    leaf_bool(r, "is-active", at)?,
                    "is-active",
                    at,
                )?,
                "expiry-time" if ms => {
                    set(
                        &mut d.expiry_time,
                        leaf_time(r, "expiry-time", at)?,
                        "expiry-time",
                        at,
                    )?;
                }
                "admission-policy" if ms => set(
                    &mut d.admission_policy,
                    leaf_token(r, "admission-policy", AdmissionPolicy::from_shared)?,
                    "admission-policy",
                    at,
                )?,
                "organizer" if ms => {
                    set(&mut d.organizer, Organizer::read(r, c)?, "organizer", at)?
                }
                "join-url" if ms => set(&mut d.join_url, leaf(r, "join-url")?, "join-url", at)?,
                "pstn-access" if ms => set(
                    &mut d.pstn_access,
                    PstnAccess::read(r, c)?,
                    "pstn-access",
                    at,
                )?,
                "autopromote" if ms => {
                    set(
                        &mut d.autopromote,
                        leaf_u32(r, "autopromote", at)?,
                        "autopromote",
                        at,
                    )?;
                }
                "pstn-lobby-bypass" if ms => set(
                    &mut d.pstn_lobby_bypass,
                    leaf_bool(r, "pstn-lobby-bypass", at)?,
                    "pstn-lobby-bypass",
                    at,
                )?,
                _ => keep(r, c, &mut d.ext)?,
            }
        }
        Ok(d)
    }
}

impl HostInfo {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<HostInfo, Error> {
        let mut h = HostInfo::default();
        ext_attrs_only(r, &start, &mut h.ext)?;
        while let Some(c) = r.next("host-info")? {
            let at = c.offset;
            match c.local() {
                "display-text" if c.ns.is_ci() => {
                    set(
                        &mut h.display_text,
                        leaf(r, "display-text")?,
                        "display-text",
                        at,
                    )?;
                }
                "web-page" if c.ns.is_ci() => {
                    set(&mut h.web_page, leaf(r, "web-page")?, "web-page", at)?
                }
                "uris" if c.ns.is_ci() => set(&mut h.uris, Uris::read(r, c, "uris")?, "uris", at)?,
                _ => keep(r, c, &mut h.ext)?,
            }
        }
        Ok(h)
    }
}

impl ConferenceState {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ConferenceState, Error> {
        let mut s = ConferenceState::default();
        ext_attrs_only(r, &start, &mut s.ext)?;
        while let Some(c) = r.next("conference-state")? {
            let at = c.offset;
            match c.local() {
                "user-count" if c.ns.is_ci() => {
                    set(
                        &mut s.user_count,
                        leaf_u32(r, "user-count", at)?,
                        "user-count",
                        at,
                    )?;
                }
                "active" if c.ns.is_ci() => {
                    set(&mut s.active, leaf_bool(r, "active", at)?, "active", at)?
                }
                "locked" if c.ns.is_ci() => {
                    set(&mut s.locked, leaf_bool(r, "locked", at)?, "locked", at)?
                }
                _ => keep(r, c, &mut s.ext)?,
            }
        }
        Ok(s)
    }
}

/// Reads `roles` / `user-roles` / `msci:roles`: a list of `entry`.
pub(crate) fn read_roles<'i>(r: &mut Reader<'i>, what: &'static str) -> Result<Vec<Role>, Error> {
    let mut v = Vec::new();
    while let Some(c) = r.next(what)? {
        if c.ns.is_ms() && c.local() == "entry" {
            v.push(leaf_token(r, "entry", Role::from_shared)?);
        } else {
            r.capture(c)?;
        }
    }
    Ok(v)
}

impl ClientInfo {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ClientInfo, Error> {
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
}

impl Endpoint {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>, limit: usize) -> Result<Endpoint, Error> {
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
}

impl User {
    pub(crate) fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        limit: usize,
    ) -> Result<User, Error> {
        let mut u = User::default();
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "entity") => u.entity = r.share_cow(a.value),
                (Ns::None, "state") => u.state = read_state(&a.value, start.offset)?,
                _ => u.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        while let Some(c) = r.next("user")? {
            let at = c.offset;
            let ci = c.ns.is_ci();
            match c.local() {
                "display-text" if ci => set(
                    &mut u.display_text,
                    leaf(r, "display-text")?,
                    "display-text",
                    at,
                )?,
                "associated-aors" if ci => set(
                    &mut u.associated_aors,
                    Uris::read(r, c, "associated-aors")?,
                    "associated-aors",
                    at,
                )?,
                "roles" if ci => set(&mut u.roles, read_roles(r, "roles")?, "roles", at)?,
                "languages" if ci => set(&mut u.languages, leaf(r, "languages")?, "languages", at)?,
                "cascaded-focus" if ci => {
                    set(
                        &mut u.cascaded_focus,
                        leaf(r, "cascaded-focus")?,
                        "cascaded-focus",
                        at,
                    )?;
                }
                "endpoint" if ci => {
                    if u.endpoints.len() >= limit {
                        return Err(Error::TooMany {
                            what: "endpoints per user",
                            limit,
                            offset: at,
                        });
                    }
                    u.endpoints.reserve_exact(1);
                    u.endpoints.push(Endpoint::read(r, c, limit)?);
                }
                "clientInfo" if c.ns == Ns::Msci || c.ns == Ns::Msci2 => {
                    set(
                        &mut u.client_info,
                        ClientInfo::read(r, c)?,
                        "clientInfo",
                        at,
                    )?;
                }
                _ => keep(r, c, &mut u.ext)?,
            }
        }
        Ok(u)
    }
}

/// The most endpoints per user and media per endpoint a document may list.
const MAX_PER_PARENT: usize = 64;

impl Users {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<Users, Error> {
        let mut u = Users::default();
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "state") => u.state = read_state(&a.value, start.offset)?,
                _ => u.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        while let Some(c) = r.next("users")? {
            if c.is_ci("user") {
                u.users.push(User::read(r, c, MAX_PER_PARENT)?);
            } else {
                keep(r, c, &mut u.ext)?;
            }
        }
        Ok(u)
    }
}

impl EntityState {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<EntityState, Error> {
        let mut s = EntityState::default();
        ext_attrs_only(r, &start, &mut s.ext)?;
        while let Some(c) = r.next("entity-state")? {
            let at = c.offset;
            let ok = c.ns.is_ms();
            match c.local() {
                "active" if ok => set(&mut s.active, leaf_bool(r, "active", at)?, "active", at)?,
                "locked" if ok => set(&mut s.locked, leaf_bool(r, "locked", at)?, "locked", at)?,
                "media" if ok => set(&mut s.media, read_media_list(r, "media")?, "media", at)?,
                _ => keep(r, c, &mut s.ext)?,
            }
        }
        Ok(s)
    }
}

fn view_state<'i>(
    r: &Reader<'i>,
    start: &Start<'i>,
    ext: &mut Extensions,
) -> Result<(State, Option<ByteString>), Error> {
    let mut state = State::Full;
    let mut entity = None;
    r.attrs(start, |r, a| {
        match (a.ns, a.local) {
            (Ns::None | Ns::Ci, "state") => state = read_state(&a.value, start.offset)?,
            (Ns::None, "entity") => entity = Some(r.share_cow(a.value)),
            _ => ext.attributes.push(r.keep_attr(&a)),
        }
        Ok(())
    })?;
    Ok((state, entity))
}

impl EntityView {
    fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<EntityView, Error> {
        let mut v = EntityView::default();
        let (state, entity) = view_state(r, &start, &mut v.ext)?;
        v.state = state;
        v.entity = entity.ok_or(Error::MissingAttribute {
            what: "entity",
            offset: start.offset,
        })?;
        while let Some(c) = r.next("entity-view")? {
            let at = c.offset;
            match c.local() {
                "entity-state" if c.ns == Ns::Msci || c.ns == Ns::Msci2 => {
                    set(
                        &mut v.entity_state,
                        EntityState::read(r, c)?,
                        "entity-state",
                        at,
                    )?;
                }
                _ => keep(r, c, &mut v.ext)?,
            }
        }
        Ok(v)
    }
}

impl ConferenceView {
    fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        ext: &mut Extensions,
    ) -> Result<ConferenceView, Error> {
        let mut v = ConferenceView::default();
        let (state, _) = view_state(r, &start, ext)?;
        v.state = state;
        while let Some(c) = r.next("conference-view")? {
            if (c.ns == Ns::Msci || c.ns == Ns::Msci2) && c.local() == "entity-view" {
                v.entity_views.push(EntityView::read(r, c)?);
            } else {
                r.capture(c)?;
            }
        }
        Ok(v)
    }
}

impl ConferenceInfo {
    /// Reads a `conference-info` element whose start tag was just read.
    pub(crate) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ConferenceInfo, Error> {
        let mut ci = ConferenceInfo::default();
        let mut entity = None;
        r.attrs(&start, |r, a| {
            match (a.ns, a.local) {
                (Ns::None, "entity") => entity = Some(r.share_cow(a.value)),
                (Ns::None, "state") => ci.state = read_state(&a.value, start.offset)?,
                (Ns::None, "version") => {
                    ci.version = Some(parse_u32(&a.value, "version", start.offset)?)
                }
                _ => ci.ext.attributes.push(r.keep_attr(&a)),
            }
            Ok(())
        })?;
        ci.entity = entity.ok_or(Error::MissingAttribute {
            what: "entity",
            offset: start.offset,
        })?;
        let mut view_ext = Extensions::default();
        while let Some(c) = r.next("conference-info")? {
            let at = c.offset;
            let is_ci = c.ns.is_ci();
            match c.local() {
                "conference-description" if is_ci => set(
                    &mut ci.description,
                    ConferenceDescription::read(r, c)?,
                    "conference-description",
                    at,
                )?,
                "host-info" if is_ci => {
                    set(&mut ci.host_info, HostInfo::read(r, c)?, "host-info", at)?
                }
                "conference-state" if is_ci => set(
                    &mut ci.conference_state,
                    ConferenceState::read(r, c)?,
                    "conference-state",
                    at,
                )?,
                "users" if is_ci => set(&mut ci.users, Users::read(r, c)?, "users", at)?,
                "conference-view" if c.ns == Ns::Msci || c.ns == Ns::Msci2 => set(
                    &mut ci.conference_view,
                    ConferenceView::read(r, c, &mut view_ext)?,
                    "conference-view",
                    at,
                )?,
                _ => keep(r, c, &mut ci.ext)?,
            }
        }
        Ok(ci)
    }

    /// Parses a standalone `application/conference-info+xml` document (a NOTIFY body).
    ///
    /// # Errors
    /// Malformed XML, a DTD, an exceeded [`Limits`](crate::Limits) field, or content that
    /// does not fit RFC 4575, each with the byte offset.
    pub fn parse(input: impl Into<bytes::Bytes>) -> Result<ConferenceInfo, Error> {
        Self::parse_with(input, &crate::Limits::default())
    }

    /// [`ConferenceInfo::parse`] with explicit limits.
    ///
    /// # Errors
    /// As [`ConferenceInfo::parse`].
    pub fn parse_with(
        input: impl Into<bytes::Bytes>,
        limits: &crate::Limits,
    ) -> Result<ConferenceInfo, Error> {
        let src = crate::utf8(input.into())?;
        let mut r = Reader::new(&src, limits)?;
        let root = r.root()?;
        if !(root.ns == Ns::Ci && root.local() == "conference-info") {
            return Err(Error::UnexpectedRoot {
                expected: "conference-info in urn:ietf:params:xml:ns:conference-info",
                offset: root.offset,
            });
        }
        let ci = ConferenceInfo::read(&mut r, root)?;
        r.finish()?;
        Ok(ci)
    }
}

// ---------------------------------------------------------------------------------------------
// Writing. RFC 4575 elements are written with the `ci:` prefix and Microsoft ones with `msci:`,
// as in the [MS-CONFPRO] 4.1 and [MS-CONFBAS] 4.4.10 examples.

const CI: &str = "ci:";
const MS: &str = "msci:";
const SEPARATOR: &str =
    "<cis:separator xmlns:cis=\"urn:ietf:params:xml:ns:conference-info-separator\"/>";

fn write_state<S: Sink>(w: &mut Writer<'_, S>, name: &str, s: &State) {
    if *s != State::Full {
        w.attr(name, s.as_str());
    }
}

fn declare<S: Sink>(w: &mut Writer<'_, S>) {
    w.attr("xmlns:ci", crate::ns::CI);
    w.attr("xmlns:msci", crate::ns::MSCI);
}

/// Closes a start tag, writes the body, closes the element (or `/>` when nothing was
/// written in the body).
fn body<S: Sink>(
    w: &mut Writer<'_, S>,
    prefix: &str,
    name: &str,
    empty: bool,
    f: impl FnOnce(&mut Writer<'_, S>),
) {
    if empty {
        w.slash_gt();
    } else {
        w.gt();
        f(w);
        w.close(prefix, name);
    }
}

impl Execution {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>, name: &str) {
        w.open(CI, name);
        body(
            w,
            CI,
            name,
            self.when.is_none() && self.reason.is_none() && self.by.is_none(),
            |w| {
                w.opt_leaf(CI, "when", self.when.as_ref().map(|t| &*t.text));
                w.opt_leaf(CI, "reason", self.reason.as_deref());
                w.opt_leaf(CI, "by", self.by.as_deref());
            },
        );
    }
}

impl Uris {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>, name: &str) {
        w.open(CI, name);
        write_state(w, "state", &self.state);
        body(w, CI, name, self.entries.is_empty(), |w| {
            for e in &self.entries {
                w.open(CI, "entry");
                w.ext_attrs(&e.ext.attributes);
                w.gt();
                w.leaf(CI, "uri", &e.uri);
                w.opt_leaf(CI, "display-text", e.display_text.as_deref());
                w.opt_leaf(CI, "purpose", e.purpose.as_deref());
                if let Some(m) = &e.modified {
                    m.write(w, "modified");
                }
                w.ext_elements(&e.ext);
                w.close(CI, "entry");
            }
        });
    }
}

fn write_media_list<S: Sink>(
    w: &mut Writer<'_, S>,
    prefix: &str,
    name: &str,
    list: &[ConferenceMedium],
) {
    w.open(prefix, name);
    body(w, prefix, name, list.is_empty(), |w| {
        for m in list {
            w.open(prefix, "entry");
            w.attr("label", &m.label);
            w.ext_attrs(&m.ext.attributes);
            w.gt();
            w.opt_leaf(prefix, "display-text", m.display_text.as_deref());
            w.opt_leaf(prefix, "type", m.media_type.as_deref());
            w.opt_leaf(prefix, "status", m.status.as_ref().map(MediaStatus::as_str));
            w.ext_elements(&m.ext);
            w.close(prefix, "entry");
        }
    });
}

fn write_roles<S: Sink>(w: &mut Writer<'_, S>, prefix: &str, name: &str, roles: &[Role]) {
    w.open(prefix, name);
    body(w, prefix, name, roles.is_empty(), |w| {
        for role in roles {
            w.leaf(prefix, "entry", role.as_str());
        }
    });
}

impl ConferenceDescription {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "conference-description");
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        w.opt_leaf(CI, "subject", self.subject.as_deref());
        w.opt_leaf(CI, "free-text", self.free_text.as_deref());
        w.opt_leaf(CI, "keywords", self.keywords.as_deref());
        if let Some(u) = &self.conf_uris {
            u.write(w, "conf-uris");
        }
        if let Some(u) = &self.service_uris {
            u.write(w, "service-uris");
        }
        w.opt_num(CI, "maximum-user-count", self.maximum_user_count);
        if let Some(m) = &self.available_media {
            write_media_list(w, CI, "available-media", m);
        }
        w.opt_leaf(MS, "conference-id", self.conference_id.as_deref());
        w.opt_leaf(
            MS,
            "last-update",
            self.last_update.as_ref().map(|t| &*t.text),
        );
        w.opt_leaf(
            MS,
            "last-activate",
            self.last_activate.as_ref().map(|t| &*t.text),
        );
        w.opt_bool(MS, "is-active", self.is_active);
        w.opt_leaf(
            MS,
            "expiry-time",
            self.expiry_time.as_ref().map(|t| &*t.text),
        );
        w.opt_leaf(
            MS,
            "admission-policy",
            self.admission_policy.as_ref().map(AdmissionPolicy::as_str),
        );
        if let Some(o) = &self.organizer {
            w.open(MS, "organizer");
            w.ext_attrs(&o.ext.attributes);
            w.gt();
            w.opt_leaf(MS, "display-name", o.display_name.as_deref());
            w.opt_leaf(MS, "uri", o.uri.as_deref());
            w.ext_elements(&o.ext);
            w.close(MS, "organizer");
        }
        w.opt_leaf(MS, "join-url", self.join_url.as_deref());
        // Later schema versions follow their separators ([MS-CONFPRO] 4.1 shows this layout).
        let v3 = self.autopromote.is_some() || self.pstn_lobby_bypass.is_some();
        if self.pstn_access.is_some() || v3 {
            w.raw(SEPARATOR);
            if let Some(p) = &self.pstn_access {
                w.open(MS, "pstn-access");
                w.ext_attrs(&p.ext.attributes);
                w.gt();
                w.opt_leaf(MS, "id", p.id.as_deref());
                w.ext_elements(&p.ext);
                w.close(MS, "pstn-access");
            }
        }
        if v3 {
            w.raw(SEPARATOR);
            w.opt_num(MS, "autopromote", self.autopromote);
            w.opt_bool(MS, "pstn-lobby-bypass", self.pstn_lobby_bypass);
        }
        w.ext_elements(&self.ext);
        w.close(CI, "conference-description");
    }
}

impl HostInfo {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "host-info");
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        w.opt_leaf(CI, "web-page", self.web_page.as_deref());
        if let Some(u) = &self.uris {
            u.write(w, "uris");
        }
        w.ext_elements(&self.ext);
        w.close(CI, "host-info");
    }
}

impl ConferenceState {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "conference-state");
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_num(CI, "user-count", self.user_count);
        w.opt_bool(CI, "active", self.active);
        w.opt_bool(CI, "locked", self.locked);
        w.ext_elements(&self.ext);
        w.close(CI, "conference-state");
    }
}

impl Media {
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

impl Endpoint {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
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

impl ClientInfo {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
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

impl User {
    /// Writes `ci:user`; `decl` declares the namespaces (in `addUser`, where it is a fragment).
    pub(crate) fn write<S: Sink>(&self, w: &mut Writer<'_, S>, decl: bool) {
        w.open(CI, "user");
        if decl {
            declare(w);
        }
        w.attr("entity", &self.entity);
        write_state(w, "state", &self.state);
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        w.opt_leaf(CI, "display-text", self.display_text.as_deref());
        if let Some(u) = &self.associated_aors {
            u.write(w, "associated-aors");
        }
        if let Some(r) = &self.roles {
            write_roles(w, CI, "roles", r);
        }
        w.opt_leaf(CI, "languages", self.languages.as_deref());
        w.opt_leaf(CI, "cascaded-focus", self.cascaded_focus.as_deref());
        for e in &self.endpoints {
            e.write(w);
        }
        if let Some(ci) = &self.client_info {
            ci.write(w);
        }
        w.ext_elements(&self.ext);
        w.close(CI, "user");
    }
}

/// Writes roles as `ci:user-roles` (the body of `modifyUserRoles`).
pub(crate) fn write_user_roles<S: Sink>(w: &mut Writer<'_, S>, roles: &[Role]) {
    w.open(CI, "user-roles");
    w.attr("xmlns:ci", crate::ns::CI);
    body(w, CI, "user-roles", roles.is_empty(), |w| {
        for r in roles {
            w.leaf(CI, "entry", r.as_str());
        }
    });
}

impl EntityView {
    fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(MS, "entity-view");
        w.attr("entity", &self.entity);
        write_state(w, "ci:state", &self.state);
        w.ext_attrs(&self.ext.attributes);
        let empty = self.entity_state.is_none() && self.ext.elements.is_empty();
        body(w, MS, "entity-view", empty, |w| {
            if let Some(s) = &self.entity_state {
                w.open(MS, "entity-state");
                w.ext_attrs(&s.ext.attributes);
                w.gt();
                w.opt_bool(MS, "active", s.active);
                w.opt_bool(MS, "locked", s.locked);
                if let Some(m) = &s.media {
                    write_media_list(w, MS, "media", m);
                }
                w.ext_elements(&s.ext);
                w.close(MS, "entity-state");
            }
            w.ext_elements(&self.ext);
        });
    }
}

impl ConferenceInfo {
    /// Writes the element (namespaces declared on it, as a fragment or a whole document).
    pub(crate) fn write_to<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(CI, "conference-info");
        declare(w);
        w.attr("entity", &self.entity);
        w.attr("state", self.state.as_str());
        if let Some(v) = self.version {
            let mut b = crate::xml::itoa_buf();
            w.attr("version", crate::xml::fmt_u64(&mut b, v.into()));
        }
        w.ext_attrs(&self.ext.attributes);
        w.gt();
        if let Some(d) = &self.description {
            d.write(w);
        }
        if let Some(h) = &self.host_info {
            h.write(w);
        }
        if let Some(s) = &self.conference_state {
            s.write(w);
        }
        if let Some(u) = &self.users {
            w.open(CI, "users");
            write_state(w, "state", &u.state);
            w.ext_attrs(&u.ext.attributes);
            body(
                w,
                CI,
                "users",
                u.users.is_empty() && u.ext.elements.is_empty(),
                |w| {
                    for user in &u.users {
                        user.write(w, false);
                    }
                    w.ext_elements(&u.ext);
                },
            );
        }
        if let Some(v) = &self.conference_view {
            w.open(MS, "conference-view");
            write_state(w, "ci:state", &v.state);
            body(w, MS, "conference-view", v.entity_views.is_empty(), |w| {
                for ev in &v.entity_views {
                    ev.write(w);
                }
            });
        }
        w.ext_elements(&self.ext);
        w.close(CI, "conference-info");
    }
}

document_writers!(ConferenceInfo, "document", 1024);
