//! `msci:conference-view`, the [MS-CONFBAS] 2.2.2.2 extension: one `entity-view` per MCU (or
//! the focus) with its `entity-state`.

use bytestring::ByteString;

use crate::error::Error;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer};

use super::description::{read_media_list, write_media_list};
use super::{
    ConferenceMedium, MS, State, body, ext_attrs_only, keep, leaf_bool, read_state, set,
    write_state,
};

/// `msci:conference-view`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceView {
    /// `ci:state`.
    pub state: State,
    /// The views.
    pub entity_views: Vec<EntityView>,
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

impl ConferenceView {
    pub(super) fn read<'i>(
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

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
        w.open(MS, "conference-view");
        write_state(w, "ci:state", &self.state);
        body(
            w,
            MS,
            "conference-view",
            self.entity_views.is_empty(),
            |w| {
                for ev in &self.entity_views {
                    ev.write(w);
                }
            },
        );
    }
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
