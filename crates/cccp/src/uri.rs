//! Conference URIs ([MS-CONFBAS] 2.2.2.4, [MS-CONFPRO] 2.2.1.2).
//!
//! - focus factory: `sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory`
//! - focus: `sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16`
//! - an MCU's conference: the focus URI with `focus` replaced by the MCU type, e.g.
//!   `...;opaque=app:conf:audio-video:id:4FNRHN16`
//!
//! Users type or click focus URIs with a `meet:` or `conf:` prefix and sometimes a
//! `?conf-key=...` query; [`ConferenceUri::parse`] accepts both and drops them.

use std::fmt;

use bytestring::ByteString;

use crate::error::Error;

token_enum! {
    /// An MCU type ([MS-CONFPRO] 4.7, [MS-CONFBAS] 2.2.2.4).
    McuType {
        /// The A/V conferencing server.
        AudioVideo => "audio-video",
        /// The IM conferencing server.
        Chat => "chat",
        /// The web conferencing server (data MCU) of OCS 2007.
        Meeting => "meeting",
        /// The telephony conferencing server.
        PhoneConf => "phone-conf",
        /// Application sharing.
        ApplicationSharing => "applicationsharing",
        /// The web conferencing server implementing [MS-PSOM] (later releases' name).
        DataConf => "data-conf",
    }
}

/// What a conference URI addresses.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum UriKind {
    /// The organizer's focus factory (provisioning: `addConference`...).
    FocusFactory,
    /// The focus of one conference.
    Focus,
    /// One MCU's part of a conference.
    Mcu(McuType),
}

/// A focus factory, focus or MCU conference URI.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ConferenceUri {
    /// The organizer's address, `user@host`.
    pub organizer: ByteString,
    /// What the URI addresses.
    pub kind: UriKind,
    /// The conference ID (none for the focus factory).
    pub conference_id: Option<ByteString>,
}

/// The address part of a SIP URI, lower case: `sip:Bob@Contoso.com;x` → `bob@contoso.com`.
///
/// ```
/// assert_eq!(ocs_cccp::uri::address_of_record("<sip:Bob@Contoso.com;gruu>"), "bob@contoso.com");
/// ```
#[must_use]
pub fn address_of_record(uri: &str) -> String {
    let u = uri.trim();
    let u = u.strip_prefix('<').unwrap_or(u);
    let rest = if u.len() >= 4 && u[..4].eq_ignore_ascii_case("sip:") {
        &u[4..]
    } else if u.len() >= 5 && u[..5].eq_ignore_ascii_case("sips:") {
        &u[5..]
    } else {
        u
    };
    let end = rest.find([';', '?', '>']).unwrap_or(rest.len());
    rest[..end].to_ascii_lowercase()
}

/// Whether `id` is a conference ID as [MS-CONFPRO] 2.2.1.2 asks implementations to allow:
/// 8 to 32 ASCII alphanumerics.
#[must_use]
pub fn is_conference_id(id: &str) -> bool {
    (8..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

impl ConferenceUri {
    /// The focus factory of `organizer` (`user@host`).
    #[must_use]
    pub fn focus_factory(organizer: impl Into<ByteString>) -> ConferenceUri {
        ConferenceUri {
            organizer: organizer.into(),
            kind: UriKind::FocusFactory,
            conference_id: None,
        }
    }

    /// The focus of conference `id` of `organizer`.
    #[must_use]
    pub fn focus(organizer: impl Into<ByteString>, id: impl Into<ByteString>) -> ConferenceUri {
        ConferenceUri {
            organizer: organizer.into(),
            kind: UriKind::Focus,
            conference_id: Some(id.into()),
        }
    }

    /// The same conference at an MCU.
    #[must_use]
    pub fn mcu(&self, mcu: McuType) -> ConferenceUri {
        ConferenceUri {
            kind: UriKind::Mcu(mcu),
            ..self.clone()
        }
    }

    /// The same conference at its focus.
    #[must_use]
    pub fn to_focus(&self) -> ConferenceUri {
        ConferenceUri {
            kind: UriKind::Focus,
            ..self.clone()
        }
    }

    /// Parses a conference URI, with or without a `meet:`/`conf:` prefix and `?` query.
    ///
    /// # Errors
    /// [`Error::InvalidValue`] with the offset in `s` of what is wrong: no `sip:` scheme, no
    /// `user@host`, no `opaque=app:conf:...` parameter, or a malformed conference part.
    pub fn parse(s: &str) -> Result<ConferenceUri, Error> {
        let bad = |what, offset| Error::InvalidValue { what, offset };
        let mut start = 0;
        for p in ["meet:", "conf:"] {
            if s.len() >= p.len() && s[..p.len()].eq_ignore_ascii_case(p) {
                start = p.len();
                break;
            }
        }
        let end = s[start..].find('?').map_or(s.len(), |q| start + q);
        let body = &s[start..end];
        if body.len() < 4 || !body[..4].eq_ignore_ascii_case("sip:") {
            return Err(bad("conference URI scheme (sip:)", start));
        }
        let rest = &body[4..];
        let aor_end = rest.find(';').unwrap_or(rest.len());
        let aor = &rest[..aor_end];
        let at = aor.find('@').filter(|&i| i > 0 && i + 1 < aor.len());
        if at.is_none() || aor.bytes().any(|b| b <= b' ' || b == b'>' || b == b'<') {
            return Err(bad("conference URI user@host", start + 4));
        }
        let mut kind = None;
        let mut id = None;
        let mut pos = start + 4 + aor_end;
        for param in rest[aor_end..].split(';') {
            let here = pos;
            pos += param.len() + 1;
            let Some(v) = param.strip_prefix("opaque=") else {
                continue;
            };
            let conf = v
                .strip_prefix("app:conf:")
                .ok_or_else(|| bad("opaque=app:conf: parameter", here))?;
            if conf == "focusfactory" {
                kind = Some(UriKind::FocusFactory);
                continue;
            }
            let (t, cid) = conf
                .split_once(":id:")
                .ok_or_else(|| bad("conference URI ':id:' part", here))?;
            if cid.is_empty() || cid.len() > 64 || !cid.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(bad(
                    "conference ID",
                    here + "opaque=app:conf:".len() + t.len() + 4,
                ));
            }
            kind = Some(if t == "focus" {
                UriKind::Focus
            } else {
                UriKind::Mcu(McuType::parse(t))
            });
            id = Some(ByteString::from(cid));
        }
        let kind = kind.ok_or_else(|| bad("opaque=app:conf: parameter", start + 4 + aor_end))?;
        Ok(ConferenceUri {
            organizer: ByteString::from(aor),
            kind,
            conference_id: id,
        })
    }

    /// The key a focus files this conference under: the organizer in lower case and the
    /// conference ID in upper case (IDs are compared without regard to case).
    #[must_use]
    pub fn key(&self) -> (String, String) {
        (
            self.organizer.to_ascii_lowercase(),
            self.conference_id
                .as_deref()
                .unwrap_or("")
                .to_ascii_uppercase(),
        )
    }
}

impl fmt::Display for ConferenceUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sip:{};gruu;opaque=app:conf:", self.organizer)?;
        match &self.kind {
            UriKind::FocusFactory => f.write_str("focusfactory"),
            UriKind::Focus => write!(
                f,
                "focus:id:{}",
                self.conference_id.as_deref().unwrap_or("")
            ),
            UriKind::Mcu(t) => write!(f, "{t}:id:{}", self.conference_id.as_deref().unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn focus_and_mcu_uris() {
        let u =
            ConferenceUri::parse("sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16")
                .unwrap();
        assert_eq!(u.organizer, "alice@contoso.com");
        assert_eq!(u.kind, UriKind::Focus);
        assert_eq!(u.conference_id.as_deref(), Some("4FNRHN16"));
        let av = u.mcu(McuType::AudioVideo);
        assert_eq!(
            av.to_string(),
            "sip:alice@contoso.com;gruu;opaque=app:conf:audio-video:id:4FNRHN16"
        );
        assert_eq!(ConferenceUri::parse(&av.to_string()).unwrap(), av);
        for t in McuType::ALL {
            let m = u.mcu(t.clone());
            assert_eq!(ConferenceUri::parse(&m.to_string()).unwrap(), m);
        }
        // The MS-CONFBAS example URI, parameter order swapped, meet: prefix and conf-key query.
        let v = ConferenceUri::parse(
            "meet:sip:bob@fabrikam.com;opaque=app:conf:chat:id:TDVDW046;gruu?conf-key=1",
        )
        .unwrap();
        assert_eq!(v.kind, UriKind::Mcu(McuType::Chat));
        assert_eq!(
            v.to_focus().to_string(),
            "sip:bob@fabrikam.com;gruu;opaque=app:conf:focus:id:TDVDW046"
        );
        let ff = ConferenceUri::parse("sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory")
            .unwrap();
        assert_eq!(ff, ConferenceUri::focus_factory("alice@contoso.com"));
        assert_eq!(
            ff.to_string(),
            "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory"
        );
    }

    #[test]
    fn bad_uris_name_the_fault_and_offset() {
        let cases: [(&str, usize); 6] = [
            ("tel:+1555", 0),
            ("conf:sips:a@b;opaque=app:conf:focus:id:X", 5),
            ("sip:@b;opaque=app:conf:focus:id:ABCDEFGH", 4),
            ("sip:a@b;gruu", 7),
            ("sip:a@b;opaque=app:x", 8),
            ("sip:a@b;opaque=app:conf:focus:id:AB-CD", 33),
        ];
        for (s, off) in cases {
            let e = ConferenceUri::parse(s).unwrap_err();
            assert_eq!(e.offset(), off, "{s}: {e}");
        }
    }

    #[test]
    fn conference_ids() {
        assert!(is_conference_id("TPDD8VYG"));
        assert!(is_conference_id("8386E6AEAAA41E4AA6627BA76D43B6D1"));
        assert!(!is_conference_id("BE92"));
        assert!(!is_conference_id("8386E6AEAAA41E4AA6627BA76D43B6D1X"));
        assert!(!is_conference_id("TPDD-VYG"));
    }
}
