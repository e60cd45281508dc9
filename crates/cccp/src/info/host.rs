//! `host-info` (RFC 4575 §5.4).

use bytestring::ByteString;

use crate::error::Error;
use crate::xml::{Extensions, Reader, Sink, Start, Writer};

use super::{CI, Uris, ext_attrs_only, keep, leaf, set};

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

impl HostInfo {
    pub(super) fn read<'i>(r: &mut Reader<'i>, start: Start<'i>) -> Result<HostInfo, Error> {
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

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
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
