//! Lists of URIs (RFC 4575 `uris-type` and `uri-type`): `conf-uris` and `service-uris` of the
//! description, the `uris` of `host-info`, a user's `associated-aors`.

use bytestring::ByteString;

use crate::error::Error;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer};

use super::{CI, Execution, State, body, ext_attrs_only, keep, leaf, read_state, set, write_state};

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

impl Uris {
    pub(super) fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
        what: &'static str,
    ) -> Result<Uris, Error> {
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

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>, name: &str) {
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
