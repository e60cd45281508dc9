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

// One file per element, each type's reader and writer together: description (with the lists
// of conference media), host, conference_state, users (with roles), endpoint (with media,
// client info and connection info), view (the Microsoft conference view) and uris. What the
// readers and writers share, and the document itself, stay here.
mod conference_state;
mod description;
mod endpoint;
mod host;
mod uris;
mod users;
mod view;

use bytestring::ByteString;

use crate::error::Error;
use crate::time::DateTime;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer, parse_bool, parse_u32};

pub use conference_state::ConferenceState;
pub use description::{
    AdmissionPolicy, ConferenceDescription, ConferenceMedium, Organizer, PstnAccess,
};
pub use endpoint::{
    ClientInfo, ConnectionEntry, DisconnectionMethod, Endpoint, EndpointStatus, Filter,
    JoiningMethod, Media, MediaStatus,
};
pub use host::HostInfo;
pub use uris::{UriEntry, Uris};
pub use users::{Role, User, Users};
pub(crate) use users::{read_roles, write_user_roles};
pub use view::{ConferenceView, EntityState, EntityView};

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
            u.write(w);
        }
        if let Some(v) = &self.conference_view {
            v.write(w);
        }
        w.ext_elements(&self.ext);
        w.close(CI, "conference-info");
    }
}

document_writers!(ConferenceInfo, "document", 1024);

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

// ---------------------------------------------------------------------------------------------
// What the readers share.

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
