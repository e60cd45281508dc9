//! `conference-state` (RFC 4575 §5.5): user count, active, locked.

use crate::error::Error;
use crate::xml::{Extensions, Reader, Sink, Start, Writer};

use super::{CI, ext_attrs_only, keep, leaf_bool, leaf_u32, set};

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

impl ConferenceState {
    pub(super) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<ConferenceState, Error> {
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

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
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
