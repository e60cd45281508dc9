//! Conference state over time: applying partial notifications to a full state
//! (RFC 4575 §4.6), the deltas a focus sends, and a subscriber's tracker with version-gap
//! detection.
//!
//! The rules, as this crate reads RFC 4575 §4.6 and applies them to the [MS-CONFBAS] entity
//! views:
//! - A `full` document replaces the state; a `deleted` one ends the conference.
//! - In a `partial` document, keyed elements — `user` and `endpoint` by `entity`, `media` by
//!   `id`, `msci:entity-view` by `entity` — are merged by their `state`: `full` replaces (or
//!   adds), `deleted` removes, `partial` merges its children. A `media` has no state in
//!   RFC 4575; it replaces (or adds) whole, and `state="deleted"` removes it.
//! - Elements without a `state` attribute (`conference-description`, `host-info`,
//!   `conference-state`, and the non-keyed children of a partial user, endpoint or entity
//!   view) replace the old element whole when present and leave it untouched when absent.
//! - A list with `state` (`users`, `msci:conference-view`) merges when `partial` and
//!   replaces when `full`.
//!
//! [`delta`] produces exactly what [`apply`] consumes, so a subscriber applying a focus's
//! deltas holds the focus's state. A change these rules cannot express (an optional element
//! removed) yields a full document instead.

use crate::info::{
    ConferenceInfo, ConferenceView, Endpoint, EntityView, Media, State, User, Users,
};
use crate::xml::Extensions;

/// Why a document could not be applied. The subscriber should refresh its subscription to
/// get a full document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// A partial document's version is not one more than the last applied (a notification was
    /// lost).
    #[error("version gap: expected {expected}, got {got}")]
    VersionGap {
        /// The version expected.
        expected: u32,
        /// The version received.
        got: u32,
    },
    /// A partial document arrived before any full one.
    #[error("partial conference-info without a full state to apply it to")]
    NoFullState,
    /// A notification without a version.
    #[error("conference-info without a version")]
    NoVersion,
    /// The document is about another conference.
    #[error("conference-info for another conference entity")]
    OtherConference,
}

/// What applying a document did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// A full document replaced the state.
    Replaced,
    /// A partial document changed the state.
    Updated,
    /// The conference was deleted.
    Deleted,
    /// The document's version is not newer than the state's: it was ignored (a retransmission).
    Stale,
}

/// Merges a partial (or replaces with a full) document into `base`, ignoring versions.
pub fn apply(base: &mut ConferenceInfo, doc: &ConferenceInfo) {
    match doc.state {
        State::Partial => {}
        _ => {
            *base = doc.clone();
            base.state = State::Full;
            return;
        }
    }
    base.version = doc.version.or(base.version);
    if let Some(d) = &doc.description {
        base.description = Some(d.clone());
    }
    if let Some(h) = &doc.host_info {
        base.host_info = Some(h.clone());
    }
    if let Some(s) = &doc.conference_state {
        base.conference_state = Some(s.clone());
    }
    if let Some(u) = &doc.users {
        merge_users(&mut base.users, u);
    }
    if let Some(v) = &doc.conference_view {
        merge_view(&mut base.conference_view, v);
    }
    if !doc.ext.is_empty() {
        base.ext = doc.ext.clone();
    }
}

fn merge_users(base: &mut Option<Users>, d: &Users) {
    match d.state {
        State::Partial => {
            let b = base.get_or_insert_with(Users::default);
            for u in &d.users {
                merge_keyed(&mut b.users, u, |x| &x.entity, |x| &x.state, merge_user);
            }
            if !d.ext.is_empty() {
                b.ext = d.ext.clone();
            }
        }
        State::Deleted => *base = None,
        _ => {
            let mut n = d.clone();
            n.state = State::Full;
            *base = Some(n);
        }
    }
}

/// Replaces, removes or merges the element with `d`'s key in `list`.
fn merge_keyed<T: Clone>(
    list: &mut Vec<T>,
    d: &T,
    key: impl Fn(&T) -> &bytestring::ByteString,
    state: impl Fn(&T) -> &State,
    merge: impl Fn(&mut T, &T),
) {
    let pos = list.iter().position(|x| key(x) == key(d));
    match (state(d), pos) {
        (State::Deleted, Some(i)) => {
            list.remove(i);
        }
        (State::Deleted, None) => {}
        (State::Partial, Some(i)) => merge(&mut list[i], d),
        (_, Some(i)) => list[i] = d.clone(),
        (_, None) => list.push(d.clone()),
    }
}

fn merge_user(b: &mut User, d: &User) {
    macro_rules! take {
        ($($f:ident),*) => { $( if d.$f.is_some() { b.$f = d.$f.clone(); } )* };
    }
    take!(
        display_text,
        associated_aors,
        roles,
        languages,
        cascaded_focus,
        client_info
    );
    for e in &d.endpoints {
        merge_keyed(
            &mut b.endpoints,
            e,
            |x| &x.entity,
            |x| &x.state,
            merge_endpoint,
        );
    }
    if !d.ext.is_empty() {
        b.ext = d.ext.clone();
    }
    b.state = State::Full;
    normalize_user(b);
}

fn merge_endpoint(b: &mut Endpoint, d: &Endpoint) {
    macro_rules! take {
        ($($f:ident),*) => { $( if d.$f.is_some() { b.$f = d.$f.clone(); } )* };
    }
    take!(
        session_type,
        display_text,
        referred,
        status,
        joining_method,
        joining_info,
        disconnection_method,
        disconnection_info,
        roles,
        client_info,
        connection_info
    );
    for m in &d.media {
        let pos = b.media.iter().position(|x| x.id == m.id);
        match (m.state == Some(State::Deleted), pos) {
            (true, Some(i)) => {
                b.media.remove(i);
            }
            (true, None) => {}
            (false, Some(i)) => b.media[i] = strip_media(m),
            (false, None) => b.media.push(strip_media(m)),
        }
    }
    if !d.ext.is_empty() {
        b.ext = d.ext.clone();
    }
    b.state = State::Full;
}

fn strip_media(m: &Media) -> Media {
    Media {
        state: None,
        ..m.clone()
    }
}

/// Elements stored in a state are complete: their `state` is `full`.
fn normalize_user(u: &mut User) {
    u.state = State::Full;
    for e in &mut u.endpoints {
        e.state = State::Full;
    }
}

fn merge_view(base: &mut Option<ConferenceView>, d: &ConferenceView) {
    match d.state {
        State::Partial => {
            let b = base.get_or_insert_with(ConferenceView::default);
            for v in &d.entity_views {
                merge_keyed(
                    &mut b.entity_views,
                    v,
                    |x| &x.entity,
                    |x| &x.state,
                    |b: &mut EntityView, d| {
                        if d.entity_state.is_some() {
                            b.entity_state = d.entity_state.clone();
                        }
                        if !d.ext.is_empty() {
                            b.ext = d.ext.clone();
                        }
                        b.state = State::Full;
                    },
                );
            }
        }
        State::Deleted => *base = None,
        _ => {
            let mut n = d.clone();
            n.state = State::Full;
            *base = Some(n);
        }
    }
}

/// Copies into partial element `p` each field that differs between `o` and `n`; a field that
/// became absent cannot be expressed partially, so the caller's `?` gives up.
macro_rules! changed {
    ($o:ident, $n:ident, $p:ident; $($f:ident),* $(,)?) => { $(
        if $o.$f != $n.$f {
            $p.$f = Some($n.$f.clone()?);
        }
    )* };
}

/// The document that takes a subscriber from `old` to `new`: a partial document with only the
/// changes, a full document when the change cannot be expressed as a partial one, or `None`
/// when nothing changed. The version is left for the caller to set.
#[must_use]
pub fn delta(old: &ConferenceInfo, new: &ConferenceInfo) -> Option<ConferenceInfo> {
    if old == new {
        return None;
    }
    partial(old, new).or_else(|| {
        let mut f = new.clone();
        f.state = State::Full;
        Some(f)
    })
}

/// The partial document, or `None` when only a full one can express the change.
fn partial(old: &ConferenceInfo, new: &ConferenceInfo) -> Option<ConferenceInfo> {
    if old.entity != new.entity {
        return None;
    }
    let mut d = ConferenceInfo::new(new.entity.clone());
    d.state = State::Partial;
    d.ext = ext_delta(&old.ext, &new.ext)?;
    macro_rules! whole {
        ($($f:ident),*) => { $(
            if old.$f != new.$f {
                d.$f = Some(new.$f.clone()?);
            }
        )* };
    }
    whole!(description, host_info, conference_state);
    if old.users != new.users {
        let nu = new.users.as_ref()?;
        let empty = Users::default();
        let ou = old.users.as_ref().unwrap_or(&empty);
        let ext = ext_delta(&ou.ext, &nu.ext)?;
        d.users = Some(Users {
            state: State::Partial,
            users: keyed_delta(
                &ou.users,
                &nu.users,
                |u| &u.entity,
                |u| User {
                    entity: u.entity.clone(),
                    state: State::Deleted,
                    ..User::default()
                },
                user_delta,
            )?,
            ext,
        });
    }
    if old.conference_view != new.conference_view {
        let nv = new.conference_view.as_ref()?;
        let views = old.conference_view.as_ref().and_then(|ov| {
            keyed_delta(
                &ov.entity_views,
                &nv.entity_views,
                |v| &v.entity,
                |v| EntityView {
                    entity: v.entity.clone(),
                    state: State::Deleted,
                    ..EntityView::default()
                },
                |o, n| match (&n.entity_state, ext_delta(&o.ext, &n.ext)) {
                    (Some(_), Some(ext)) => EntityView {
                        entity: n.entity.clone(),
                        state: State::Partial,
                        entity_state: (o.entity_state != n.entity_state)
                            .then(|| n.entity_state.clone())
                            .flatten(),
                        ext,
                    },
                    // A removed entity-state or extension: the view is sent whole.
                    _ => n.clone(),
                },
            )
        });
        d.conference_view = Some(match views {
            Some(entity_views) => ConferenceView {
                state: State::Partial,
                entity_views,
            },
            None => ConferenceView {
                state: State::Full,
                ..nv.clone()
            },
        });
    }
    Some(d)
}

/// The extension content a partial element carries: none when unchanged, the new content when
/// changed; `None` when it was removed, which a partial element cannot express ([`apply`]
/// replaces extensions only when a partial element carries some).
fn ext_delta(o: &Extensions, n: &Extensions) -> Option<Extensions> {
    if o == n {
        Some(Extensions::default())
    } else if n.is_empty() {
        None
    } else {
        Some(n.clone())
    }
}

/// The changes that turn keyed list `o` into `n` under [`apply`]'s rules: removals, then the
/// changed and added elements in order. `None` when the survivors' order differs or a
/// newcomer precedes a survivor (applying appends newcomers), so the parent must be sent whole.
fn keyed_delta<T: Clone + PartialEq>(
    o: &[T],
    n: &[T],
    key: impl Fn(&T) -> &bytestring::ByteString,
    deleted: impl Fn(&T) -> T,
    changed: impl Fn(&T, &T) -> T,
) -> Option<Vec<T>> {
    let has = |list: &[T], k: &bytestring::ByteString| list.iter().any(|x| key(x) == k);
    let survivors = o.iter().filter(|x| has(n, key(x))).count();
    if n.len() < survivors
        || !n[..survivors]
            .iter()
            .map(&key)
            .eq(o.iter().filter(|x| has(n, key(x))).map(&key))
    {
        return None;
    }
    let mut out: Vec<T> = o.iter().filter(|x| !has(n, key(x))).map(deleted).collect();
    for y in &n[..survivors] {
        if let Some(x) = o.iter().find(|x| key(x) == key(y))
            && x != y
        {
            out.push(changed(x, y));
        }
    }
    out.extend(n[survivors..].iter().cloned());
    Some(out)
}

/// A partial user, or the whole user when a change cannot be expressed partially.
fn user_delta(o: &User, n: &User) -> User {
    user_partial(o, n).unwrap_or_else(|| User {
        state: State::Full,
        ..n.clone()
    })
}

fn user_partial(o: &User, n: &User) -> Option<User> {
    let mut p = User {
        entity: n.entity.clone(),
        state: State::Partial,
        ..User::default()
    };
    changed!(
        o, n, p;
        display_text,
        associated_aors,
        roles,
        languages,
        cascaded_focus,
        client_info
    );
    p.ext = ext_delta(&o.ext, &n.ext)?;
    p.endpoints = keyed_delta(
        &o.endpoints,
        &n.endpoints,
        |e| &e.entity,
        |e| Endpoint {
            entity: e.entity.clone(),
            state: State::Deleted,
            ..Endpoint::default()
        },
        |x, y| {
            endpoint_partial(x, y).unwrap_or_else(|| Endpoint {
                state: State::Full,
                ..y.clone()
            })
        },
    )?;
    Some(p)
}

/// A partial endpoint, or `None` when only a whole endpoint can express the change.
fn endpoint_partial(o: &Endpoint, n: &Endpoint) -> Option<Endpoint> {
    let mut p = Endpoint {
        entity: n.entity.clone(),
        state: State::Partial,
        ..Endpoint::default()
    };
    changed!(
        o, n, p;
        session_type,
        display_text,
        referred,
        status,
        joining_method,
        joining_info,
        disconnection_method,
        disconnection_info,
        roles,
        client_info,
        connection_info
    );
    p.ext = ext_delta(&o.ext, &n.ext)?;
    p.media = keyed_delta(
        &o.media,
        &n.media,
        |m| &m.id,
        |m| Media {
            id: m.id.clone(),
            state: Some(State::Deleted),
            ..Media::default()
        },
        |_, y| y.clone(),
    )?;
    Some(p)
}

/// A subscriber's view of one conference: applies NOTIFY bodies in order and notices lost
/// ones (RFC 4575 §4.6: each version is one more than the last).
#[derive(Debug, Clone, Default)]
pub struct Tracker {
    state: Option<ConferenceInfo>,
}

impl Tracker {
    /// A tracker with no state yet.
    #[must_use]
    pub fn new() -> Tracker {
        Tracker::default()
    }

    /// The current state (after a full document).
    #[must_use]
    pub fn state(&self) -> Option<&ConferenceInfo> {
        self.state.as_ref()
    }

    /// Applies a NOTIFY body.
    ///
    /// # Errors
    /// A [`StateError`]; the state is left as it was, and the subscriber should refresh its
    /// subscription to receive a full document.
    pub fn apply(&mut self, doc: &ConferenceInfo) -> Result<Applied, StateError> {
        let version = doc.version.ok_or(StateError::NoVersion)?;
        if let Some(cur) = &self.state {
            if cur.entity != doc.entity {
                return Err(StateError::OtherConference);
            }
            if cur.version.is_some_and(|v| version <= v) {
                return Ok(Applied::Stale);
            }
        }
        match doc.state {
            State::Partial => {
                let cur = self.state.as_mut().ok_or(StateError::NoFullState)?;
                let expected = cur.version.map_or(0, |v| v.wrapping_add(1));
                if version != expected {
                    return Err(StateError::VersionGap {
                        expected,
                        got: version,
                    });
                }
                apply(cur, doc);
                Ok(Applied::Updated)
            }
            State::Deleted => {
                self.state = None;
                Ok(Applied::Deleted)
            }
            _ => {
                let mut s = doc.clone();
                s.state = State::Full;
                self.state = Some(s);
                Ok(Applied::Replaced)
            }
        }
    }
}
