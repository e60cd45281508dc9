//! URIs: `sip:`, `sips:` (RFC 3261 §19.1), `tel:` (RFC 3966) and any other absolute URI.
//!
//! A parsed URI borrows the message. Escapes stay as written; [`unescape`] decodes them on
//! demand, and [`SipUri::matches`] compares two URIs as RFC 3261 §19.1.4 says.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::error::{Fault, ValueError};
use crate::params::{self, Params};
use crate::scan::{self, HNV, PASSWORD, USER};

/// A URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "scheme_kind", rename_all = "snake_case")
)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other absolute URI, kept as written (`scheme:rest`).
    Other {
        /// The scheme as written.
        scheme: &'a str,
        /// Everything after the colon.
        rest: &'a str,
    },
}

/// A `sip:` or `sips:` URI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SipUri<'a> {
    /// The scheme as written (`sip`, `SIP`, `sips`...).
    pub scheme: &'a str,
    /// The user part, escapes left as written.
    pub user: Option<&'a str>,
    /// The password, escapes left as written.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, when written.
    pub port: Option<u16>,
    /// URI parameters (`;transport=tls;lr;gruu;opaque=app:conf:focus:id:...`).
    pub params: Params<'a>,
    /// URI headers after `?`, without the `?`.
    pub headers: Option<&'a str>,
}

/// A `tel:` URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TelUri<'a> {
    /// The scheme as written.
    pub scheme: &'a str,
    /// The number, with its visual separators; starts with `+` when global.
    pub number: &'a str,
    /// Parameters (`;phone-context=...`, `;ext=...`).
    pub params: Params<'a>,
}

/// The host of a SIP URI or Via.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "type", content = "value", rename_all = "snake_case")
)]
pub enum Host<'a> {
    /// A host name.
    Domain(&'a str),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 reference, the text between the brackets as written. RFC 5118 §4.10 asks
    /// receivers to tolerate some malformed forms, so it is kept as text; [`Host::ip`] reads it.
    Ipv6(&'a str),
}

impl Host<'_> {
    /// The address, for IPv4 hosts and well-formed IPv6 references.
    #[must_use]
    pub fn ip(&self) -> Option<IpAddr> {
        match *self {
            Host::Domain(_) => None,
            Host::Ipv4(a) => Some(IpAddr::V4(a)),
            Host::Ipv6(s) => s.parse::<Ipv6Addr>().ok().map(IpAddr::V6),
        }
    }

    /// Compares as RFC 3261 §19.1.4 says: host names case-insensitively, addresses by value.
    #[must_use]
    pub fn matches(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => a.eq_ignore_ascii_case(b),
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => match (self.ip(), other.ip()) {
                (Some(x), Some(y)) => x == y,
                _ => a.eq_ignore_ascii_case(b),
            },
            _ => false,
        }
    }
}

impl fmt::Display for Host<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Domain(d) => f.write_str(d),
            Host::Ipv4(a) => write!(f, "{a}"),
            Host::Ipv6(s) => write!(f, "[{s}]"),
        }
    }
}

/// Default limit on URI parameters when parsing a URI on its own.
pub(crate) const DEFAULT_MAX_PARAMS: usize = 64;

impl<'a> Uri<'a> {
    /// Parses a URI. Offsets in errors count from the start of `s`.
    ///
    /// ```
    /// use ocs_sip_codec::uri::{Host, Uri};
    /// let uri = Uri::parse("sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16").unwrap();
    /// let Uri::Sip(sip) = uri else { panic!() };
    /// assert_eq!(sip.host, Host::Domain("contoso.com"));
    /// assert_eq!(sip.params.value("opaque"), Some("app:conf:focus:id:4FNRHN16"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max_params: usize) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let colon = match b.iter().position(|&c| c == b':') {
            Some(i) if i > 0 => i,
            _ => return Err(ValueError::new(Fault::InvalidScheme, base)),
        };
        let scheme = &s[..colon];
        let sb = scheme.as_bytes();
        if !sb[0].is_ascii_alphabetic()
            || !sb
                .iter()
                .all(|&c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.'))
        {
            return Err(ValueError::new(Fault::InvalidScheme, base));
        }
        let rest = &s[colon + 1..];
        let rbase = base + colon + 1;
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_rest(scheme, rest, rbase, max_params).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_rest(scheme, rest, rbase, max_params).map(Uri::Tel)
        } else {
            if rest.is_empty() {
                return Err(ValueError::new(Fault::Empty, rbase));
            }
            if let Some(i) = rest
                .bytes()
                .position(|c| c <= b' ' || matches!(c, b'<' | b'>' | b'"' | 0x7f))
            {
                let fault = if scan::is_ws(rest.as_bytes()[i]) {
                    Fault::WhitespaceInUri
                } else {
                    Fault::InvalidCharacter
                };
                return Err(ValueError::new(fault, rbase + i));
            }
            Ok(Uri::Other { scheme, rest })
        }
    }

    /// The SIP URI, if this is one.
    #[must_use]
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(s) => Some(s),
            _ => None,
        }
    }

    /// The scheme as written.
    #[must_use]
    pub fn scheme(&self) -> &'a str {
        match *self {
            Uri::Sip(s) => s.scheme,
            Uri::Tel(t) => t.scheme,
            Uri::Other { scheme, .. } => scheme,
        }
    }
}

impl fmt::Display for Uri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Uri::Sip(s) => s.fmt(f),
            Uri::Tel(t) => t.fmt(f),
            Uri::Other { scheme, rest } => write!(f, "{scheme}:{rest}"),
        }
    }
}

impl<'a> SipUri<'a> {
    /// True for `sips:`.
    #[must_use]
    pub fn is_secure(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("sips")
    }

    /// `transport=` parameter.
    #[must_use]
    pub fn transport(&self) -> Option<&'a str> {
        self.params.value("transport")
    }

    /// `maddr=` parameter.
    #[must_use]
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// `lr` parameter (loose routing, RFC 3261 §19.1.1).
    #[must_use]
    pub fn lr(&self) -> bool {
        self.params.contains("lr")
    }

    /// `gruu` parameter (a GRUU, as OCS writes it: `;gruu`).
    #[must_use]
    pub fn gruu(&self) -> bool {
        self.params.contains("gruu")
    }

    /// `opaque=` parameter, e.g. `app:conf:focus:id:4FNRHN16` or `user:epid:...`.
    #[must_use]
    pub fn opaque(&self) -> Option<&'a str> {
        self.params.value("opaque")
    }

    /// The conference ID of a focus URI (`;opaque=app:conf:focus:id:ID`).
    #[must_use]
    pub fn conference_id(&self) -> Option<&'a str> {
        self.opaque()?.strip_prefix("app:conf:focus:id:")
    }

    /// `ms-fe=` parameter of a Record-Route ([MS-SIPRE]): the front end that owns the dialog.
    #[must_use]
    pub fn ms_fe(&self) -> Option<&'a str> {
        self.params.value("ms-fe")
    }

    /// `ms-route-sig=` parameter of a Record-Route ([MS-SIPRE]): the route-set signature.
    #[must_use]
    pub fn ms_route_sig(&self) -> Option<&'a str> {
        self.params.value("ms-route-sig")
    }

    /// `ms-opaque=` parameter ([MS-SIPRE]).
    #[must_use]
    pub fn ms_opaque(&self) -> Option<&'a str> {
        self.params.value("ms-opaque")
    }

    fn parse_rest(
        scheme: &'a str,
        s: &'a str,
        base: usize,
        max_params: usize,
    ) -> Result<Self, ValueError> {
        let b = s.as_bytes();
        let (user, password, hp_start) = match memchr::memchr(b'@', b) {
            Some(at) => {
                let userinfo = &s[..at];
                let (user, password) = match userinfo.find(':') {
                    Some(i) => (&userinfo[..i], Some(&userinfo[i + 1..])),
                    None => (userinfo, None),
                };
                if user.is_empty() {
                    return Err(ValueError::new(Fault::Empty, base));
                }
                scan::check_escaped(user, USER).map_err(|(f, i)| ValueError::new(f, base + i))?;
                if let Some(p) = password {
                    let pb = base + user.len() + 1;
                    scan::check_escaped(p, PASSWORD)
                        .map_err(|(f, i)| ValueError::new(f, pb + i))?;
                }
                (Some(user), password, at + 1)
            }
            None => (None, None, 0),
        };
        let hp = &s[hp_start..];
        let hbase = base + hp_start;
        let (host, after_host) = parse_host(hp, hbase, |c| matches!(c, b':' | b';' | b'?'))?;
        let mut pos = after_host;
        let mut port = None;
        let hb = hp.as_bytes();
        if hb.get(pos) == Some(&b':') {
            let start = pos + 1;
            let end = hb[start..]
                .iter()
                .position(|&c| matches!(c, b';' | b'?'))
                .map_or(hb.len(), |i| start + i);
            port = Some(parse_port(&hp[start..end], hbase + start)?);
            pos = end;
        }
        let params_end = hb[pos..]
            .iter()
            .position(|&c| c == b'?')
            .map_or(hb.len(), |i| pos + i);
        let params = &hp[pos..params_end];
        if !params.is_empty() {
            params::check_uri_params(params, hbase + pos, max_params)?;
        }
        let headers = if params_end < hb.len() {
            let h = &hp[params_end + 1..];
            check_uri_headers(h, hbase + params_end + 1)?;
            Some(h)
        } else {
            None
        };
        Ok(SipUri {
            scheme,
            user,
            password,
            host,
            port,
            params: Params::from_raw_uri(params),
            headers,
        })
    }

    /// Compares two SIP URIs as RFC 3261 §19.1.4 says: same scheme, user and password equal
    /// after unescaping (case-sensitive), host case-insensitive, same port (an absent port does
    /// not equal an explicit one), the `user`, `ttl`, `method`, `maddr` and `transport`
    /// parameters equal if either has them, other parameters equal where both have them, and the
    /// same headers.
    #[must_use]
    pub fn matches(&self, other: &SipUri<'_>) -> bool {
        if self.is_secure() != other.is_secure()
            || !opt_eq(self.user, other.user, false)
            || !opt_eq(self.password, other.password, false)
            || !self.host.matches(&other.host)
            || self.port != other.port
        {
            return false;
        }
        for p in self.params.iter().chain(other.params.iter()) {
            let a = self.params.get(p.name);
            let b = other.params.get(p.name);
            let special = ["user", "ttl", "method", "maddr", "transport"]
                .iter()
                .any(|n| n.eq_ignore_ascii_case(p.name));
            let same = match (a, b) {
                (Some(x), Some(y)) => opt_eq(x, y, true),
                // Present in one only: fine unless it is one of the five that must match.
                _ => !special,
            };
            if !same {
                return false;
            }
        }
        match (self.headers, other.headers) {
            (None, None) => true,
            (Some(a), Some(b)) => headers_match(a, b) && headers_match(b, a),
            _ => false,
        }
    }
}

fn opt_eq(a: Option<&str>, b: Option<&str>, ignore_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => {
            let (x, y) = (unescape(x), unescape(y));
            if ignore_case {
                x.eq_ignore_ascii_case(&y)
            } else {
                x == y
            }
        }
        _ => false,
    }
}

fn headers_match(a: &str, b: &str) -> bool {
    a.split('&').all(|ha| {
        let (na, va) = ha.split_once('=').unwrap_or((ha, ""));
        b.split('&').any(|hb| {
            let (nb, vb) = hb.split_once('=').unwrap_or((hb, ""));
            unescape(na).eq_ignore_ascii_case(&unescape(nb)) && unescape(va) == unescape(vb)
        })
    })
}

impl fmt::Display for SipUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if let Some(u) = self.user {
            f.write_str(u)?;
            if let Some(p) = self.password {
                write!(f, ":{p}")?;
            }
            f.write_str("@")?;
        }
        write!(f, "{}", self.host)?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        f.write_str(self.params.as_str())?;
        if let Some(h) = self.headers {
            write!(f, "?{h}")?;
        }
        Ok(())
    }
}

impl<'a> TelUri<'a> {
    fn parse_rest(
        scheme: &'a str,
        s: &'a str,
        base: usize,
        max_params: usize,
    ) -> Result<Self, ValueError> {
        let end = s.find(';').unwrap_or(s.len());
        let number = &s[..end];
        if number.is_empty() {
            return Err(ValueError::new(Fault::Empty, base));
        }
        let digits = number.strip_prefix('+').unwrap_or(number);
        if let Some(i) = digits.bytes().position(|c| {
            !(c.is_ascii_hexdigit()
                || matches!(c, b'-' | b'.' | b'(' | b')' | b'*' | b'#' | b'p' | b'w'))
        }) {
            return Err(ValueError::new(
                Fault::InvalidCharacter,
                base + (number.len() - digits.len()) + i,
            ));
        }
        let params = &s[end..];
        if !params.is_empty() {
            params::check_uri_params(params, base + end, max_params)?;
        }
        Ok(TelUri {
            scheme,
            number,
            params: Params::from_raw_uri(params),
        })
    }

    /// True for a global number (`+` prefix).
    #[must_use]
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// `phone-context=` parameter of a local number.
    #[must_use]
    pub fn phone_context(&self) -> Option<&'a str> {
        self.params.value("phone-context")
    }
}

impl fmt::Display for TelUri<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}{}", self.scheme, self.number, self.params)
    }
}

/// Parses a host (name, IPv4 address or `[IPv6]` reference) at the start of `s`; the host ends
/// at a byte for which `stop` is true or at the end. Returns the host and where it ended.
pub(crate) fn parse_host<'a>(
    s: &'a str,
    base: usize,
    stop: impl Fn(u8) -> bool,
) -> Result<(Host<'a>, usize), ValueError> {
    let b = s.as_bytes();
    if b.first() == Some(&b'[') {
        let close = memchr::memchr(b']', b).ok_or(ValueError::new(Fault::InvalidHost, base))?;
        let inner = &s[1..close];
        if inner.is_empty()
            || !inner.contains(':')
            || !inner
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || c == b':' || c == b'.')
        {
            return Err(ValueError::new(Fault::InvalidHost, base));
        }
        return Ok((Host::Ipv6(inner), close + 1));
    }
    // One pass: RFC 3261 hostname labels of alphanum and '-' (not leading), separated by '.',
    // an optional final '.'; '_' is accepted too, as deployed DNS names carry it. A name of
    // digits and dots only must be an IPv4 address.
    let bad = |i: usize| ValueError::new(Fault::InvalidHost, base + i);
    let mut i = 0;
    let mut numeric = true;
    let mut label_start = true;
    while let Some(&c) = b.get(i) {
        match HOST[c as usize] {
            H_DIGIT => {}
            H_ALPHA => numeric = false,
            H_DASH if !label_start => numeric = false,
            H_DOT if !label_start => {
                label_start = true;
                i += 1;
                continue;
            }
            H_DASH | H_DOT => return Err(bad(i)),
            _ => break,
        }
        label_start = false;
        i += 1;
    }
    if let Some(&c) = b.get(i)
        && !stop(c)
    {
        let fault = if scan::is_ws(c) {
            Fault::WhitespaceInUri
        } else {
            Fault::InvalidHost
        };
        return Err(ValueError::new(fault, base + i));
    }
    if i == 0 {
        return Err(bad(0));
    }
    let h = &s[..i];
    if numeric {
        return parse_ipv4(&b[..i])
            .map(|a| (Host::Ipv4(a), i))
            .ok_or(bad(0));
    }
    Ok((Host::Domain(h), i))
}

const H_NONE: u8 = 0;
const H_DIGIT: u8 = 1;
const H_ALPHA: u8 = 2;
const H_DASH: u8 = 3;
const H_DOT: u8 = 4;

static HOST: [u8; 256] = {
    let mut t = [H_NONE; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        t[c] = if b.is_ascii_digit() {
            H_DIGIT
        } else if b.is_ascii_alphabetic() || b == b'_' {
            H_ALPHA
        } else if b == b'-' {
            H_DASH
        } else if b == b'.' {
            H_DOT
        } else {
            H_NONE
        };
        c += 1;
    }
    t
};

/// `1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT`, each at most 255.
fn parse_ipv4(b: &[u8]) -> Option<Ipv4Addr> {
    // Four dotted decimal octets of one to three digits each, in one pass.
    let mut o = [0u8; 4];
    let mut part = 0;
    let mut value: u16 = 0;
    let mut digits = 0;
    for &c in b {
        match c {
            b'0'..=b'9' => {
                digits += 1;
                if digits > 3 {
                    return None;
                }
                value = value * 10 + u16::from(c - b'0');
            }
            b'.' if digits > 0 && part < 3 => {
                o[part] = u8::try_from(value).ok()?;
                part += 1;
                value = 0;
                digits = 0;
            }
            _ => return None,
        }
    }
    if part != 3 || digits == 0 {
        return None;
    }
    o[3] = u8::try_from(value).ok()?;
    Some(Ipv4Addr::from(o))
}

pub(crate) fn parse_port(s: &str, base: usize) -> Result<u16, ValueError> {
    scan::parse_u64(s)
        .ok()
        .filter(|p| *p <= u64::from(u16::MAX))
        .map(|p| p as u16)
        .ok_or(ValueError::new(Fault::InvalidPort, base))
}

fn check_uri_headers(h: &str, base: usize) -> Result<(), ValueError> {
    let mut pos = 0;
    for header in h.split('&') {
        let (name, value) = header.split_once('=').ok_or(ValueError::new(
            Fault::Expected('='),
            base + pos + header.len(),
        ))?;
        if name.is_empty() {
            return Err(ValueError::new(Fault::Empty, base + pos));
        }
        scan::check_escaped(name, HNV).map_err(|(f, i)| ValueError::new(f, base + pos + i))?;
        let vpos = pos + name.len() + 1;
        scan::check_escaped(value, HNV).map_err(|(f, i)| ValueError::new(f, base + vpos + i))?;
        pos += header.len() + 1;
    }
    Ok(())
}

/// Decodes `%HH` escapes. Invalid escapes are left as written; the bytes decoded are returned
/// as text, with invalid UTF-8 replaced (`%00` decodes to a NUL character).
#[must_use]
pub fn unescape(s: &str) -> Cow<'_, str> {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sip(s: &str) -> SipUri<'_> {
        match Uri::parse(s).unwrap() {
            Uri::Sip(u) => u,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn rfc4475_escaped_uris() {
        // §3.1.1.3 esc01
        let u = sip("sip:sips%3Auser%40example.com@example.net");
        assert_eq!(unescape(u.user.unwrap()), "sips:user@example.com");
        let u = sip("sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31");
        assert_eq!(unescape(u.user.unwrap()), "caller");
        let p: Vec<_> = u
            .params
            .iter()
            .map(|p| (unescape(p.name), p.value.map(unescape)))
            .collect();
        assert_eq!(p[0].0, "lr");
        assert_eq!(p[1].0, "name");
        assert_eq!(p[1].1.as_deref(), Some("value%41"));
        // §3.1.1.9 semiuri: ';' in the user part
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
        // §3.1.1.4 escnull
        assert_eq!(
            unescape(sip("sip:null-%00-null@example.com").user.unwrap()),
            "null-\0-null"
        );
    }

    #[test]
    fn rfc4475_intmeth_uri() {
        let u = sip(
            "sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
        );
        assert_eq!(
            u.user,
            Some("1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*")
        );
        assert_eq!(
            u.password,
            Some("&it+has=1,weird!*pas$wo~d_too.(doesn't-it)")
        );
        assert_eq!(u.host, Host::Domain("example.com"));
    }

    #[test]
    fn rfc5118_ipv6() {
        let u = sip("sip:caller@[2001:db8::1]:5070;transport=tcp");
        assert_eq!(u.host, Host::Ipv6("2001:db8::1"));
        assert_eq!(u.port, Some(5070));
        assert_eq!(u.host.ip(), Some("2001:db8::1".parse().unwrap()));
        // §4.2 ipv6-bad: the address without brackets is not a host:port
        assert!(Uri::parse("sip:2001:db8::10").is_err());
        // §4.3: the port inside the brackets is part of the address
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.port, None);
        // §4.10: tolerated, kept as text, not an address
        let u = sip("sip:user@[2001:db8:::192.0.2.1]");
        assert_eq!(u.host.ip(), None);
        let u = sip("sip:user@[::ffff:192.0.2.1]");
        assert!(u.host.ip().is_some());
    }

    #[test]
    fn rfc3261_19_1_4_comparison() {
        // Equivalent pairs from RFC 3261 §19.1.4.
        let eq = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;newparam=5",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ];
        for (a, b) in eq {
            assert!(sip(a).matches(&sip(b)), "{a} == {b}");
            assert!(sip(b).matches(&sip(a)), "{b} == {a}");
        }
        let ne = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            (
                "sip:carol@chicago.com;security=on",
                "sip:carol@chicago.com;security=off",
            ),
        ];
        for (a, b) in ne {
            assert!(!sip(a).matches(&sip(b)), "{a} != {b}");
        }
    }

    #[test]
    fn tel_and_other() {
        let Uri::Tel(t) = Uri::parse("tel:+1-201-555-0123").unwrap() else {
            panic!()
        };
        assert!(t.is_global());
        let Uri::Tel(t) = Uri::parse("tel:7042;phone-context=example.com").unwrap() else {
            panic!()
        };
        assert_eq!(t.phone_context(), Some("example.com"));
        assert_eq!(
            Uri::parse("urn:uuid:4233FD41").unwrap(),
            Uri::Other {
                scheme: "urn",
                rest: "uuid:4233FD41"
            }
        );
        assert_eq!(
            Uri::parse("nocolon").unwrap_err().fault,
            Fault::InvalidScheme
        );
    }

    #[test]
    fn faults_carry_offsets() {
        let e = Uri::parse("sip:user@exa mple.com").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::WhitespaceInUri, 12));
        let e = Uri::parse("sip:host:99999").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::InvalidPort, 9));
        let e = Uri::parse("sip:a%zz@host").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::InvalidEscape, 5));
    }

    #[test]
    fn display_writes_back() {
        for s in [
            "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16",
            "SIP:recipient@company.com",
            "sips:[2001:db8::1]:5061;transport=tls?x=y",
            "tel:+1-201-555-0123;ext=1",
        ] {
            assert_eq!(Uri::parse(s).unwrap().to_string(), s);
        }
    }
}
