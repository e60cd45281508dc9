//! `conference-description` (RFC 4575 §5.3) with the [MS-CONFPRO] 2.2.1.2 and [MS-CONFBAS]
//! 2.2.2.3 extensions (conference ID, expiry, admission policy, organizer, PSTN access), and
//! the lists of conference media (`available-media`, an entity view's `media`).

use bytestring::ByteString;

use crate::error::Error;
use crate::time::DateTime;
use crate::xml::{Extensions, Ns, Reader, Sink, Start, Writer};

use super::{
    CI, MS, MediaStatus, SEPARATOR, Uris, body, ext_attrs_only, keep, leaf, leaf_bool, leaf_time,
    leaf_token, leaf_u32, set,
};

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

impl ConferenceDescription {
    pub(super) fn read<'i>(
        r: &mut Reader<'i>,
        start: Start<'i>,
    ) -> Result<ConferenceDescription, Error> {
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

    pub(super) fn write<S: Sink>(&self, w: &mut Writer<'_, S>) {
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

pub(super) fn read_media_list<'i>(
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

pub(super) fn write_media_list<S: Sink>(
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
