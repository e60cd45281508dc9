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
                let b = name.as_bytes();
                if b.len() == 1 {
                    return match b[0].to_ascii_lowercase() {
                        $( $( c if c == ($c as u8) => HeaderName::$variant, )? )*
                        _ => HeaderName::Other,
                    };
                }
                // Dispatch on length first: most names are rejected by one comparison.
                $(
                    if b.len() == $canon.len() && b.eq_ignore_ascii_case($canon.as_bytes()) {
                        return HeaderName::$variant;
                    }
                )*
                HeaderName::Other
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
            ('i', "Call-ID"), ('m', "Contact"), ('e', "Content-Encoding"), ('l', "Content-Length"),
            ('c', "Content-Type"), ('f', "From"), ('s', "Subject"), ('k', "Supported"),
            ('t', "To"), ('v', "Via"), ('o', "Event"), ('u', "Allow-Events"), ('r', "Refer-To"),
            ('b', "Referred-By"), ('x', "Session-Expires"), ('y', "Identity"),
            ('a', "Accept-Contact"), ('j', "Reject-Contact"), ('d', "Request-Disposition"),
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
        assert_eq!(HeaderName::lookup("www-authenticate"), HeaderName::WwwAuthenticate);
        assert_eq!(HeaderName::lookup("C%6Fntact"), HeaderName::Other);
        assert_eq!(HeaderName::lookup("UserAgent"), HeaderName::Other);
        for n in HeaderName::ALL {
            assert_eq!(HeaderName::lookup(n.as_str()), *n);
        }
    }
}
