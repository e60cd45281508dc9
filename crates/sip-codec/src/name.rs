//! Header names: the ones this crate knows, their compact forms and canonical spelling.

use std::fmt;

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $canon:literal $(, compact $c:literal)? $(, list $list:literal)? ;)*) => {
        /// A header name this crate knows, or [`HeaderName::Other`].
        ///
        /// Lookup is case-insensitive and maps the compact forms of RFC 3261 §7.3.3 and the
        /// IANA registry (`i m e l c f s k t v o u r b x y a j d n`) to their full names.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// Any other header; the name is read from the message.
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order.
            pub const ALL: &'static [HeaderName] = &[$(HeaderName::$variant,)*];

            /// The canonical spelling (`Call-ID`, `CSeq`, `WWW-Authenticate`...); `""` for
            /// [`HeaderName::Other`].
            #[must_use]
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( HeaderName::$variant => $canon, )*
                    HeaderName::Other => "",
                }
            }

            /// The compact form, if the header has one.
            #[must_use]
            pub const fn compact(self) -> Option<char> {
                match self {
                    $( $( HeaderName::$variant => Some($c), )? )*
                    _ => None,
                }
            }

            /// True for headers whose value is a comma-separated list (RFC 3261 §7.3.1), so that
            /// several lines combine and one line may carry several values.
            #[must_use]
            pub const fn is_list(self) -> bool {
                match self {
                    $( $( HeaderName::$variant => $list, )? )*
                    _ => false,
                }
            }

            /// Looks a name up, case-insensitively, compact forms included.
            #[must_use]
            pub fn lookup(name: &str) -> HeaderName {
                Self::lookup_bytes(name.as_bytes())
            }

            fn lookup_compact(c: u8) -> HeaderName {
                match c.to_ascii_lowercase() {
                    $( $( c if char::from(c) == $c => HeaderName::$variant, )? )*
                    _ => HeaderName::Other,
                }
            }
        }
    };
}

header_names! {
    /// `Via` (RFC 3261 §20.42).
    Via = "Via", compact 'v', list true;
    /// `From` (§20.20).
    From = "From", compact 'f';
    /// `To` (§20.39).
    To = "To", compact 't';
    /// `Call-ID` (§20.8).
    CallId = "Call-ID", compact 'i';
    /// `CSeq` (§20.16).
    CSeq = "CSeq";
    /// `Contact` (§20.10).
    Contact = "Contact", compact 'm', list true;
    /// `Max-Forwards` (§20.22).
    MaxForwards = "Max-Forwards";
    /// `Content-Length` (§20.14).
    ContentLength = "Content-Length", compact 'l';
    /// `Content-Type` (§20.15).
    ContentType = "Content-Type", compact 'c';
    /// `Content-Encoding` (§20.12).
    ContentEncoding = "Content-Encoding", compact 'e', list true;
    /// `Expires` (§20.19).
    Expires = "Expires";
    /// `Min-Expires` (§20.23).
    MinExpires = "Min-Expires";
    /// `Event` (RFC 6665 §8.2.1).
    Event = "Event", compact 'o';
    /// `Allow-Events` (RFC 6665).
    AllowEvents = "Allow-Events", compact 'u', list true;
    /// `Subscription-State` (RFC 6665).
    SubscriptionState = "Subscription-State";
    /// `Allow` (§20.5).
    Allow = "Allow", list true;
    /// `Supported` (§20.37).
    Supported = "Supported", compact 'k', list true;
    /// `Require` (§20.32).
    Require = "Require", list true;
    /// `Proxy-Require` (§20.29).
    ProxyRequire = "Proxy-Require", list true;
    /// `Unsupported` (§20.40).
    Unsupported = "Unsupported", list true;
    /// `Accept` (§20.1).
    Accept = "Accept", list true;
    /// `Accept-Encoding` (§20.2).
    AcceptEncoding = "Accept-Encoding", list true;
    /// `Accept-Language` (§20.3).
    AcceptLanguage = "Accept-Language", list true;
    /// `Date` (§20.17).
    Date = "Date";
    /// `Warning` (§20.43).
    Warning = "Warning", list true;
    /// `Refer-To` (RFC 3515).
    ReferTo = "Refer-To", compact 'r';
    /// `Referred-By` (RFC 3892).
    ReferredBy = "Referred-By", compact 'b';
    /// `Session-Expires` (RFC 4028).
    SessionExpires = "Session-Expires", compact 'x';
    /// `Min-SE` (RFC 4028).
    MinSe = "Min-SE";
    /// `P-Asserted-Identity` (RFC 3325).
    PAssertedIdentity = "P-Asserted-Identity", list true;
    /// `P-Preferred-Identity` (RFC 3325).
    PPreferredIdentity = "P-Preferred-Identity", list true;
    /// `WWW-Authenticate` (§20.44; Digest, and NTLM/Kerberos/TLS-DSK of [MS-SIPAE]).
    WwwAuthenticate = "WWW-Authenticate";
    /// `Proxy-Authenticate` (§20.27).
    ProxyAuthenticate = "Proxy-Authenticate";
    /// `Authorization` (§20.7).
    Authorization = "Authorization";
    /// `Proxy-Authorization` (§20.28).
    ProxyAuthorization = "Proxy-Authorization";
    /// `Authentication-Info` (§20.6; [MS-SIPAE] server signatures).
    AuthenticationInfo = "Authentication-Info";
    /// `Proxy-Authentication-Info` ([MS-SIPAE]).
    ProxyAuthenticationInfo = "Proxy-Authentication-Info";
    /// `Route` (§20.34).
    Route = "Route", list true;
    /// `Record-Route` (§20.30).
    RecordRoute = "Record-Route", list true;
    /// `Path` (RFC 3327 §4): the proxies a REGISTER came through, for requests to its contact.
    Path = "Path", list true;
    /// `Subject` (§20.36).
    Subject = "Subject", compact 's';
    /// `User-Agent` (§20.41).
    UserAgent = "User-Agent";
    /// `Server` (§20.35).
    Server = "Server";
    /// `Identity` (RFC 8224).
    Identity = "Identity", compact 'y';
    /// `Identity-Info` (RFC 4474).
    IdentityInfo = "Identity-Info", compact 'n';
    /// `Accept-Contact` (RFC 3841).
    AcceptContact = "Accept-Contact", compact 'a', list true;
    /// `Reject-Contact` (RFC 3841).
    RejectContact = "Reject-Contact", compact 'j', list true;
    /// `Request-Disposition` (RFC 3841).
    RequestDisposition = "Request-Disposition", compact 'd', list true;
    /// `ms-keep-alive` ([MS-CONMGMT] 2.2.1).
    MsKeepAlive = "ms-keep-alive";
    /// `ms-diagnostics` ([MS-SIPRE]).
    MsDiagnostics = "ms-diagnostics";
    /// `ms-diagnostics-public` ([MS-SIPRE]).
    MsDiagnosticsPublic = "ms-diagnostics-public";
}

impl HeaderName {
    /// Looks a name up from its bytes; see [`HeaderName::lookup`].
    pub(crate) fn lookup_bytes(b: &[u8]) -> HeaderName {
        if b.len() == 1 {
            return Self::lookup_compact(b[0]);
        }
        let Some(&first) = b.first() else {
            return HeaderName::Other;
        };
        // Dispatch on length and first letter; generated from the table above.
        #[rustfmt::skip]
        let n = match (b.len(), first.to_ascii_lowercase()) {
            (2, b't') => { if b.eq_ignore_ascii_case(b"To") { HeaderName::To } else { HeaderName::Other } }
            (3, b'v') => { if b.eq_ignore_ascii_case(b"Via") { HeaderName::Via } else { HeaderName::Other } }
            (4, b'c') => { if b.eq_ignore_ascii_case(b"CSeq") { HeaderName::CSeq } else { HeaderName::Other } }
            (4, b'd') => { if b.eq_ignore_ascii_case(b"Date") { HeaderName::Date } else { HeaderName::Other } }
            (4, b'f') => { if b.eq_ignore_ascii_case(b"From") { HeaderName::From } else { HeaderName::Other } }
            (4, b'p') => { if b.eq_ignore_ascii_case(b"Path") { HeaderName::Path } else { HeaderName::Other } }
            (5, b'a') => { if b.eq_ignore_ascii_case(b"Allow") { HeaderName::Allow } else { HeaderName::Other } }
            (5, b'e') => { if b.eq_ignore_ascii_case(b"Event") { HeaderName::Event } else { HeaderName::Other } }
            (5, b'r') => { if b.eq_ignore_ascii_case(b"Route") { HeaderName::Route } else { HeaderName::Other } }
            (6, b'a') => { if b.eq_ignore_ascii_case(b"Accept") { HeaderName::Accept } else { HeaderName::Other } }
            (6, b'm') => { if b.eq_ignore_ascii_case(b"Min-SE") { HeaderName::MinSe } else { HeaderName::Other } }
            (6, b's') => { if b.eq_ignore_ascii_case(b"Server") { HeaderName::Server } else { HeaderName::Other } }
            (7, b'c') => { if b.eq_ignore_ascii_case(b"Call-ID") { HeaderName::CallId } else if b.eq_ignore_ascii_case(b"Contact") { HeaderName::Contact } else { HeaderName::Other } }
            (7, b'e') => { if b.eq_ignore_ascii_case(b"Expires") { HeaderName::Expires } else { HeaderName::Other } }
            (7, b'r') => { if b.eq_ignore_ascii_case(b"Require") { HeaderName::Require } else { HeaderName::Other } }
            (7, b's') => { if b.eq_ignore_ascii_case(b"Subject") { HeaderName::Subject } else { HeaderName::Other } }
            (7, b'w') => { if b.eq_ignore_ascii_case(b"Warning") { HeaderName::Warning } else { HeaderName::Other } }
            (8, b'i') => { if b.eq_ignore_ascii_case(b"Identity") { HeaderName::Identity } else { HeaderName::Other } }
            (8, b'r') => { if b.eq_ignore_ascii_case(b"Refer-To") { HeaderName::ReferTo } else { HeaderName::Other } }
            (9, b's') => { if b.eq_ignore_ascii_case(b"Supported") { HeaderName::Supported } else { HeaderName::Other } }
            (10, b'u') => { if b.eq_ignore_ascii_case(b"User-Agent") { HeaderName::UserAgent } else { HeaderName::Other } }
            (11, b'm') => { if b.eq_ignore_ascii_case(b"Min-Expires") { HeaderName::MinExpires } else { HeaderName::Other } }
            (11, b'r') => { if b.eq_ignore_ascii_case(b"Referred-By") { HeaderName::ReferredBy } else { HeaderName::Other } }
            (11, b'u') => { if b.eq_ignore_ascii_case(b"Unsupported") { HeaderName::Unsupported } else { HeaderName::Other } }
            (12, b'a') => { if b.eq_ignore_ascii_case(b"Allow-Events") { HeaderName::AllowEvents } else { HeaderName::Other } }
            (12, b'c') => { if b.eq_ignore_ascii_case(b"Content-Type") { HeaderName::ContentType } else { HeaderName::Other } }
            (12, b'm') => { if b.eq_ignore_ascii_case(b"Max-Forwards") { HeaderName::MaxForwards } else { HeaderName::Other } }
            (12, b'r') => { if b.eq_ignore_ascii_case(b"Record-Route") { HeaderName::RecordRoute } else { HeaderName::Other } }
            (13, b'a') => { if b.eq_ignore_ascii_case(b"Authorization") { HeaderName::Authorization } else { HeaderName::Other } }
            (13, b'i') => { if b.eq_ignore_ascii_case(b"Identity-Info") { HeaderName::IdentityInfo } else { HeaderName::Other } }
            (13, b'm') => { if b.eq_ignore_ascii_case(b"ms-keep-alive") { HeaderName::MsKeepAlive } else { HeaderName::Other } }
            (13, b'p') => { if b.eq_ignore_ascii_case(b"Proxy-Require") { HeaderName::ProxyRequire } else { HeaderName::Other } }
            (14, b'a') => { if b.eq_ignore_ascii_case(b"Accept-Contact") { HeaderName::AcceptContact } else { HeaderName::Other } }
            (14, b'c') => { if b.eq_ignore_ascii_case(b"Content-Length") { HeaderName::ContentLength } else { HeaderName::Other } }
            (14, b'm') => { if b.eq_ignore_ascii_case(b"ms-diagnostics") { HeaderName::MsDiagnostics } else { HeaderName::Other } }
            (14, b'r') => { if b.eq_ignore_ascii_case(b"Reject-Contact") { HeaderName::RejectContact } else { HeaderName::Other } }
            (15, b'a') => { if b.eq_ignore_ascii_case(b"Accept-Encoding") { HeaderName::AcceptEncoding } else if b.eq_ignore_ascii_case(b"Accept-Language") { HeaderName::AcceptLanguage } else { HeaderName::Other } }
            (15, b's') => { if b.eq_ignore_ascii_case(b"Session-Expires") { HeaderName::SessionExpires } else { HeaderName::Other } }
            (16, b'c') => { if b.eq_ignore_ascii_case(b"Content-Encoding") { HeaderName::ContentEncoding } else { HeaderName::Other } }
            (16, b'w') => { if b.eq_ignore_ascii_case(b"WWW-Authenticate") { HeaderName::WwwAuthenticate } else { HeaderName::Other } }
            (18, b'p') => { if b.eq_ignore_ascii_case(b"Proxy-Authenticate") { HeaderName::ProxyAuthenticate } else { HeaderName::Other } }
            (18, b's') => { if b.eq_ignore_ascii_case(b"Subscription-State") { HeaderName::SubscriptionState } else { HeaderName::Other } }
            (19, b'a') => { if b.eq_ignore_ascii_case(b"Authentication-Info") { HeaderName::AuthenticationInfo } else { HeaderName::Other } }
            (19, b'p') => { if b.eq_ignore_ascii_case(b"P-Asserted-Identity") { HeaderName::PAssertedIdentity } else if b.eq_ignore_ascii_case(b"Proxy-Authorization") { HeaderName::ProxyAuthorization } else { HeaderName::Other } }
            (19, b'r') => { if b.eq_ignore_ascii_case(b"Request-Disposition") { HeaderName::RequestDisposition } else { HeaderName::Other } }
            (20, b'p') => { if b.eq_ignore_ascii_case(b"P-Preferred-Identity") { HeaderName::PPreferredIdentity } else { HeaderName::Other } }
            (21, b'm') => { if b.eq_ignore_ascii_case(b"ms-diagnostics-public") { HeaderName::MsDiagnosticsPublic } else { HeaderName::Other } }
            (25, b'p') => { if b.eq_ignore_ascii_case(b"Proxy-Authentication-Info") { HeaderName::ProxyAuthenticationInfo } else { HeaderName::Other } }
            _ => HeaderName::Other,
        };
        n
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_forms_rfc3261_7_3_3_and_iana() {
        let pairs = [
            ('i', "Call-ID"),
            ('m', "Contact"),
            ('e', "Content-Encoding"),
            ('l', "Content-Length"),
            ('c', "Content-Type"),
            ('f', "From"),
            ('s', "Subject"),
            ('k', "Supported"),
            ('t', "To"),
            ('v', "Via"),
            ('o', "Event"),
            ('u', "Allow-Events"),
            ('r', "Refer-To"),
            ('b', "Referred-By"),
            ('x', "Session-Expires"),
            ('y', "Identity"),
            ('a', "Accept-Contact"),
            ('j', "Reject-Contact"),
            ('d', "Request-Disposition"),
            ('n', "Identity-Info"),
        ];
        for (c, full) in pairs {
            let n = HeaderName::lookup(&c.to_string());
            assert_eq!(n.as_str(), full);
            assert_eq!(HeaderName::lookup(&c.to_ascii_uppercase().to_string()), n);
            assert_eq!(n.compact(), Some(c));
        }
    }

    #[test]
    fn case_insensitive() {
        assert_eq!(HeaderName::lookup("MaX-fOrWaRdS"), HeaderName::MaxForwards);
        assert_eq!(HeaderName::lookup("CSEQ"), HeaderName::CSeq);
        assert_eq!(
            HeaderName::lookup("www-authenticate"),
            HeaderName::WwwAuthenticate
        );
        assert_eq!(HeaderName::lookup("C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::lookup("UserAgent"), HeaderName::Other);
        for n in HeaderName::ALL {
            assert_eq!(HeaderName::lookup(n.as_str()), *n);
        }
    }
}
