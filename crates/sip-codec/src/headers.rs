//! Typed views of the header values this crate knows (RFC 3261 §20 and the Microsoft
//! extensions of [MS-SIPRE], [MS-SIPAE] and [MS-CONMGMT]).
//!
//! Each view borrows the message and is built on demand: `Via::parse(value)` on its own, or
//! through [`Message`](crate::Message) accessors such as [`Message::via`](crate::Message::via).
//! Every view writes back with `Display`.

use std::borrow::Cow;
use std::fmt;

use crate::error::{Fault, ValueError};
use crate::params::{self, Params};
use crate::scan::{self, Cursor, ListSplit, WORD};
use crate::uri::{self, DEFAULT_MAX_PARAMS, Host, Uri};

/// The magic cookie that starts an RFC 3261 branch (§8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

// ---------------------------------------------------------------------------------------------
// Via

/// A `Via` value (RFC 3261 §20.42, with the [MS-SIPRE] parameters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Via<'a> {
    /// Protocol name, `SIP`.
    pub protocol: &'a str,
    /// Protocol version, `2.0`.
    pub version: &'a str,
    /// Transport as written (`UDP`, `TCP`, `TLS`, `tls`, `SCTP`...).
    pub transport: &'a str,
    /// The sent-by host.
    pub host: Host<'a>,
    /// The sent-by port, when written.
    pub port: Option<u16>,
    /// `;branch=...;received=...` and the rest, as written.
    pub params: Params<'a>,
}

impl<'a> Via<'a> {
    /// Parses one Via value.
    ///
    /// ```
    /// use ocs_sip_codec::headers::Via;
    /// let v = Via::parse("SIP/2.0/tls 192.168.44.10:50230;received=10.117.245.254;ms-received-port=50230;ms-received-cid=37ABE00").unwrap();
    /// assert_eq!(v.transport, "tls");
    /// assert_eq!(v.ms_received_cid(), Some("37ABE00"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let (protocol, version);
        let fast = c.rest().as_bytes();
        if fast.len() > 8 && fast[..8].eq_ignore_ascii_case(b"SIP/2.0/") {
            // The common spelling, without white space around the slashes.
            let at = c.pos();
            protocol = c.slice(at, at + 3);
            version = c.slice(at + 4, at + 7);
            c.set_pos(at + 8);
            c.skip_lws();
        } else {
            protocol = c.expect_token()?;
            if !c.eat_sep(b'/') {
                return Err(c.err(Fault::Expected('/')));
            }
            version = c.expect_token()?;
            if !c.eat_sep(b'/') {
                return Err(c.err(Fault::Expected('/')));
            }
        }
        let transport = c.expect_token()?;
        if !c.skip_lws() {
            return Err(c.err(Fault::Expected(' ')));
        }
        let rest = c.rest();
        let (host, used) = uri::parse_host(rest, c.offset(), |b| {
            matches!(b, b':' | b';' | b' ' | b'\t' | b'\r' | b'\n')
        })?;
        c.set_pos(c.pos() + used);
        let mut port = None;
        if c.eat_sep(b':') {
            let at = c.offset();
            let digits = c.take_while(|b| b.is_ascii_digit());
            port = Some(uri::parse_port(digits, at)?);
        }
        let params = params::parse_header_params(&mut c, max)?;
        c.finish()?;
        Ok(Via {
            protocol,
            version,
            transport,
            host,
            port,
            params,
        })
    }

    /// `branch=`.
    #[must_use]
    pub fn branch(&self) -> Option<&'a str> {
        self.params.value("branch")
    }

    /// True when the branch starts with the RFC 3261 magic cookie `z9hG4bK`; an RFC 2543 peer
    /// sends branches without it (RFC 4475 §3.2.1 `badbranch`).
    #[must_use]
    pub fn has_magic_cookie(&self) -> bool {
        self.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
    }

    /// `received=`, an IPv4 or IPv6 address (with or without brackets, RFC 5118 §4.5).
    #[must_use]
    pub fn received(&self) -> Option<&'a str> {
        self.params.value("received")
    }

    /// `rport` (RFC 3581): `Some(None)` when present without a value.
    #[must_use]
    pub fn rport(&self) -> Option<Option<u16>> {
        self.params
            .get("rport")
            .map(|v| v.and_then(|p| p.parse().ok()))
    }

    /// `maddr=`.
    #[must_use]
    pub fn maddr(&self) -> Option<&'a str> {
        self.params.value("maddr")
    }

    /// `ttl=`.
    #[must_use]
    pub fn ttl(&self) -> Option<u8> {
        self.params.value("ttl").and_then(|t| t.parse().ok())
    }

    /// `ms-received-port=` ([MS-SIPRE]): the port the OCS server saw.
    #[must_use]
    pub fn ms_received_port(&self) -> Option<u16> {
        self.params
            .value("ms-received-port")
            .and_then(|t| t.parse().ok())
    }

    /// `ms-received-cid=` ([MS-SIPRE]): the OCS connection identifier.
    #[must_use]
    pub fn ms_received_cid(&self) -> Option<&'a str> {
        self.params.value("ms-received-cid")
    }

    /// `branched=TRUE|FALSE` ([MS-SIPRE]).
    #[must_use]
    pub fn branched(&self) -> Option<bool> {
        self.params.value("branched").and_then(|v| {
            if v.eq_ignore_ascii_case("TRUE") {
                Some(true)
            } else if v.eq_ignore_ascii_case("FALSE") {
                Some(false)
            } else {
                None
            }
        })
    }

    /// `ms-internal-info="..."` ([MS-SIPRE]), quotes removed.
    #[must_use]
    pub fn ms_internal_info(&self) -> Option<&'a str> {
        self.params.value("ms-internal-info")
    }
}

impl fmt::Display for Via<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{} {}",
            self.protocol, self.version, self.transport, self.host
        )?;
        if let Some(p) = self.port {
            write!(f, ":{p}")?;
        }
        write!(f, "{}", self.params)
    }
}

// ---------------------------------------------------------------------------------------------
// name-addr / addr-spec

/// A display name, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "form", content = "text", rename_all = "snake_case")
)]
pub enum DisplayName<'a> {
    /// `"Quoted"`: the text between the quotes, escapes left in place.
    Quoted(&'a str),
    /// `One Two`: a sequence of tokens.
    Tokens(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The name with quoted-pair escapes removed.
    #[must_use]
    pub fn text(&self) -> Cow<'a, str> {
        match *self {
            DisplayName::Quoted(q) => scan::unescape_quoted(q),
            DisplayName::Tokens(t) => Cow::Borrowed(t),
        }
    }
}

impl fmt::Display for DisplayName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DisplayName::Quoted(q) => write!(f, "\"{q}\""),
            DisplayName::Tokens(t) => f.write_str(t),
        }
    }
}

/// A `name-addr` or `addr-spec` (RFC 3261 §25.1) followed by header parameters: the value of
/// From, To, Route, Record-Route, Refer-To, Referred-By, P-Asserted-Identity and Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The URI.
    pub uri: Uri<'a>,
    /// True when the URI was written in angle brackets.
    pub bracketed: bool,
    /// Header parameters after the address (`;tag=...;epid=...`).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses a From/To-style value.
    ///
    /// ```
    /// use ocs_sip_codec::headers::NameAddr;
    /// let f = NameAddr::parse(r#""Sender"<sip:sender@company.com>;tag=2420628112;epid=54392f1bbf01"#).unwrap();
    /// assert_eq!(f.display_name.unwrap().text(), "Sender");
    /// assert_eq!(f.tag(), Some("2420628112"));
    /// assert_eq!(f.epid(), Some("54392f1bbf01"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS, false)
    }

    pub(crate) fn parse_at(
        s: &'a str,
        base: usize,
        max: usize,
        require_angle: bool,
    ) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        let v = Self::parse_cursor(&mut c, max, require_angle)?;
        c.finish()?;
        Ok(v)
    }

    fn parse_cursor(
        c: &mut Cursor<'a>,
        max: usize,
        require_angle: bool,
    ) -> Result<Self, ValueError> {
        c.skip_lws();
        let display_name = match c.peek() {
            Some(b'"') => {
                let q = c.quoted()?;
                c.skip_lws();
                if c.peek() != Some(b'<') {
                    return Err(c.err(Fault::Expected('<')));
                }
                Some(DisplayName::Quoted(q))
            }
            Some(b'<') => None,
            _ => {
                let save = c.pos();
                let mut end = save;
                while c.token().is_some() {
                    end = c.pos();
                    c.skip_lws();
                }
                if c.peek() == Some(b'<') && end > save {
                    Some(DisplayName::Tokens(c.slice(save, end)))
                } else {
                    c.set_pos(save);
                    None
                }
            }
        };
        let (uri, bracketed) = if c.eat(b'<') {
            let rest = c.rest().as_bytes();
            let close = memchr::memchr(b'>', rest).ok_or_else(|| c.err(Fault::UnclosedAngle))?;
            let start = c.pos();
            let inner = c.slice(start, start + close);
            if let Some(i) = inner.bytes().position(|b| scan::is_ws(b) || b == b'\r') {
                return Err(ValueError::new(Fault::WhitespaceInUri, c.offset() + i));
            }
            let uri = Uri::parse_at(inner, c.offset(), max)?;
            c.set_pos(start + close + 1);
            (uri, true)
        } else {
            if require_angle {
                return Err(c.err(Fault::Expected('<')));
            }
            let at = c.offset();
            let spec = c.take_while(|b| !matches!(b, b';' | b' ' | b'\t' | b'\r' | b'\n' | b','));
            if spec.is_empty() {
                return Err(ValueError::new(Fault::Empty, at));
            }
            if let Some(i) = spec.find('?') {
                return Err(ValueError::new(Fault::NeedsAngleBrackets, at + i));
            }
            (Uri::parse_at(spec, at, max)?, false)
        };
        let params = params::parse_header_params(c, max)?;
        Ok(NameAddr {
            display_name,
            uri,
            bracketed,
            params,
        })
    }

    /// `tag=`.
    #[must_use]
    pub fn tag(&self) -> Option<&'a str> {
        self.params.value("tag")
    }

    /// `epid=` ([MS-SIPRE]): the endpoint identifier Office Communicator puts on From and To.
    #[must_use]
    pub fn epid(&self) -> Option<&'a str> {
        self.params.value("epid")
    }
}

impl fmt::Display for NameAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display_name {
            write!(f, "{d} ")?;
        }
        if self.bracketed || self.display_name.is_some() {
            write!(f, "<{}>", self.uri)?;
        } else {
            write!(f, "{}", self.uri)?;
        }
        write!(f, "{}", self.params)
    }
}

/// A `Contact` value (RFC 3261 §20.10): `*` or an address with parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "form", content = "address", rename_all = "snake_case")
)]
pub enum Contact<'a> {
    /// `*`, in a REGISTER that removes all bindings.
    Wildcard,
    /// An address.
    Address(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value.
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max: usize) -> Result<Self, ValueError> {
        if scan::trim_lws(s) == "*" {
            return Ok(Contact::Wildcard);
        }
        NameAddr::parse_at(s, base, max, false).map(Contact::Address)
    }

    /// The address, unless this is `*`.
    #[must_use]
    pub fn address(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Address(a) => Some(a),
        }
    }

    fn param(&self, name: &str) -> Option<Option<&'a str>> {
        self.address().and_then(|a| a.params.get(name))
    }

    /// `expires=` in seconds; `Err` when it is not a 32-bit number.
    pub fn expires(&self) -> Option<Result<u32, Fault>> {
        self.param("expires")
            .map(|v| delta_seconds(v.unwrap_or("")))
    }

    /// `q=`, in thousandths (`q=0.33` is 330).
    #[must_use]
    pub fn q(&self) -> Option<u16> {
        self.param("q").flatten().and_then(parse_qvalue)
    }

    /// `+sip.instance="<urn:uuid:...>"` (RFC 5626), quotes removed.
    #[must_use]
    pub fn sip_instance(&self) -> Option<&'a str> {
        self.param("+sip.instance").flatten()
    }

    /// `methods="INVITE, MESSAGE, ..."` (RFC 3840), as a list.
    pub fn methods(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        self.param("methods")
            .flatten()
            .into_iter()
            .flat_map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()))
    }

    /// `proxy=replace` ([MS-SIPRE]): the client asks the first hop to replace the Contact.
    #[must_use]
    pub fn proxy_replace(&self) -> bool {
        self.param("proxy")
            .flatten()
            .is_some_and(|v| v.eq_ignore_ascii_case("replace"))
    }
}

impl fmt::Display for Contact<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Contact::Wildcard => f.write_str("*"),
            Contact::Address(a) => a.fmt(f),
        }
    }
}

fn parse_qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole = match int {
        "0" => 0,
        "1" => 1000,
        _ => return None,
    };
    let mut f: u16 = 0;
    for b in frac.bytes().chain(std::iter::repeat(b'0')).take(3) {
        f = f * 10 + u16::from(b - b'0');
    }
    let q = whole + f;
    (q <= 1000).then_some(q)
}

fn delta_seconds(v: &str) -> Result<u32, Fault> {
    let n = scan::parse_u64(v)?;
    u32::try_from(n).map_err(|_| Fault::NumberOutOfRange)
}

// ---------------------------------------------------------------------------------------------
// Call-ID, CSeq, numbers

/// Checks a Call-ID (`word [ "@" word ]`, RFC 3261 §25.1) and returns it trimmed.
pub fn parse_call_id(s: &str) -> Result<&str, ValueError> {
    parse_call_id_at(s, 0)
}

pub(crate) fn parse_call_id_at(s: &str, base: usize) -> Result<&str, ValueError> {
    let lead = s.len() - s.trim_start_matches([' ', '\t']).len();
    let v = scan::trim_lws(s);
    if v.is_empty() {
        return Err(ValueError::new(Fault::Empty, base + lead));
    }
    let (left, right) = match v.split_once('@') {
        Some((l, r)) => (l, Some(r)),
        None => (v, None),
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(|b| scan::is(b, WORD));
    if !word(left) || right.is_some_and(|r| !word(r)) {
        let i = v
            .bytes()
            .position(|b| !(scan::is(b, WORD) || b == b'@'))
            .unwrap_or(0);
        return Err(ValueError::new(Fault::InvalidCharacter, base + lead + i));
    }
    Ok(v)
}

/// A `CSeq` value (RFC 3261 §20.16).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct CSeq<'a> {
    /// The sequence number, below 2^31 (§8.1.1.5).
    pub seq: u32,
    /// The method.
    pub method: &'a str,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    ///
    /// ```
    /// use ocs_sip_codec::headers::CSeq;
    /// assert_eq!(CSeq::parse("0009\r\n  INVITE").unwrap(), CSeq { seq: 9, method: "INVITE" });
    /// assert!(CSeq::parse("36893488147419103232 REGISTER").is_err());
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let at = c.offset();
        let digits = c.take_while(|b| b.is_ascii_digit());
        let n = scan::parse_u64(digits).map_err(|f| ValueError::new(f, at))?;
        if n >= 1 << 31 {
            return Err(ValueError::new(Fault::NumberOutOfRange, at));
        }
        if !c.skip_lws() {
            return Err(c.err(Fault::Expected(' ')));
        }
        let method = c.expect_token()?;
        c.finish()?;
        Ok(CSeq {
            seq: n as u32,
            method,
        })
    }
}

impl fmt::Display for CSeq<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

/// Parses a decimal value that must fit `max` (Max-Forwards, Content-Length, Expires...).
pub(crate) fn parse_number_at(s: &str, base: usize, max: u64) -> Result<u64, ValueError> {
    let lead = s.len() - s.trim_start_matches([' ', '\t', '\r', '\n']).len();
    let v = scan::trim_lws(s);
    let n = scan::parse_u64(v).map_err(|f| ValueError::new(f, base + lead))?;
    if n > max {
        return Err(ValueError::new(Fault::NumberOutOfRange, base + lead));
    }
    Ok(n)
}

/// A single token value (a method in Allow, an option tag in Supported...).
pub(crate) fn parse_token_at(s: &str, base: usize) -> Result<&str, ValueError> {
    let mut c = Cursor::new(s, base);
    c.skip_lws();
    let t = c.expect_token()?;
    c.finish()?;
    Ok(t)
}

// ---------------------------------------------------------------------------------------------
// Media types, Event, Subscription-State, Session-Expires, ms-keep-alive, ms-diagnostics

/// A media type (`Content-Type`, RFC 3261 §20.15) or media range (`Accept`, §20.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MediaType<'a> {
    /// Type (`application`, `*`).
    pub top: &'a str,
    /// Subtype (`sdp`, `cccp+xml`, `*`).
    pub sub: &'a str,
    /// Parameters (`;charset=UTF-8`).
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses a media type.
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let top = c.expect_token()?;
        if !c.eat_sep(b'/') {
            return Err(c.err(Fault::Expected('/')));
        }
        let sub = c.expect_token()?;
        let params = params::parse_header_params(&mut c, max)?;
        c.finish()?;
        Ok(MediaType { top, sub, params })
    }

    /// True when type and subtype equal `top/sub`, case-insensitively.
    #[must_use]
    pub fn is(&self, top: &str, sub: &str) -> bool {
        self.top.eq_ignore_ascii_case(top) && self.sub.eq_ignore_ascii_case(sub)
    }
}

impl fmt::Display for MediaType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}{}", self.top, self.sub, self.params)
    }
}

/// A token followed by parameters: `Event` (RFC 6665), `Subscription-State`,
/// `ms-keep-alive` ([MS-CONMGMT] 2.2.1) and similar values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct TokenParams<'a> {
    /// The leading token (`conference`, `active`, `UAC`...).
    pub value: &'a str,
    /// The parameters.
    pub params: Params<'a>,
}

impl<'a> TokenParams<'a> {
    /// Parses `token *(SEMI generic-param)`.
    ///
    /// ```
    /// use ocs_sip_codec::headers::TokenParams;
    /// let ka = TokenParams::parse("UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300").unwrap();
    /// assert_eq!(ka.value, "UAS");
    /// assert_eq!(ka.params.value("timeout"), Some("300"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let value = c.expect_token()?;
        let params = params::parse_header_params(&mut c, max)?;
        c.finish()?;
        Ok(TokenParams { value, params })
    }

    /// `id=` of an Event.
    #[must_use]
    pub fn id(&self) -> Option<&'a str> {
        self.params.value("id")
    }

    /// `expires=` of a Subscription-State.
    #[must_use]
    pub fn expires(&self) -> Option<u32> {
        self.params
            .value("expires")
            .and_then(|v| delta_seconds(v).ok())
    }

    /// `reason=` of a Subscription-State or ms-diagnostics, quotes removed.
    #[must_use]
    pub fn reason(&self) -> Option<&'a str> {
        self.params.value("reason")
    }

    /// `refresher=` of a Session-Expires.
    #[must_use]
    pub fn refresher(&self) -> Option<&'a str> {
        self.params.value("refresher")
    }
}

impl fmt::Display for TokenParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.params)
    }
}

/// A number followed by parameters: `Session-Expires` and `Min-SE` (RFC 4028:
/// `1800;refresher=uac`) and `ms-diagnostics` / `ms-diagnostics-public` ([MS-SIPRE]:
/// `4141;reason="User disabled";source="..."`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct NumberParams<'a> {
    /// The interval in seconds, or the diagnostic code.
    pub value: u32,
    /// The parameters.
    pub params: Params<'a>,
}

impl<'a> NumberParams<'a> {
    /// Parses `1*DIGIT *(SEMI generic-param)`; the number must fit 32 bits.
    ///
    /// ```
    /// use ocs_sip_codec::headers::NumberParams;
    /// let d = NumberParams::parse(r#"4141;reason="User disabled""#).unwrap();
    /// assert_eq!((d.value, d.reason()), (4141, Some("User disabled")));
    /// assert_eq!(NumberParams::parse("1800;refresher=uac").unwrap().refresher(), Some("uac"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize, max: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let at = c.offset();
        let d = c.take_while(|b| b.is_ascii_digit());
        let value = delta_seconds(d).map_err(|f| ValueError::new(f, at))?;
        let params = params::parse_header_params(&mut c, max)?;
        c.finish()?;
        Ok(NumberParams { value, params })
    }

    /// `refresher=` of a Session-Expires.
    #[must_use]
    pub fn refresher(&self) -> Option<&'a str> {
        self.params.value("refresher")
    }

    /// `reason=` of an ms-diagnostics, quotes removed.
    #[must_use]
    pub fn reason(&self) -> Option<&'a str> {
        self.params.value("reason")
    }
}

impl fmt::Display for NumberParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.params)
    }
}

// ---------------------------------------------------------------------------------------------
// Warning, Date

/// A `Warning` value (RFC 3261 §20.43): `warn-code SP warn-agent SP warn-text`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Warning<'a> {
    /// The three-digit code.
    pub code: u16,
    /// The agent (`host[:port]` or a pseudonym).
    pub agent: &'a str,
    /// The text between the quotes, escapes left in place.
    pub text: &'a str,
}

impl<'a> Warning<'a> {
    /// Parses one Warning value.
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0)
    }

    pub(crate) fn parse_at(s: &'a str, base: usize) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let at = c.offset();
        let d = c.take_while(|b| b.is_ascii_digit());
        if d.len() != 3 {
            return Err(ValueError::new(Fault::InvalidNumber, at));
        }
        let code = d
            .parse()
            .map_err(|_| ValueError::new(Fault::InvalidNumber, at))?;
        c.expect(b' ')?;
        let agent = c.take_while(|b| scan::is_token(b) || b == b':' || b == b'[' || b == b']');
        if agent.is_empty() {
            return Err(c.err(Fault::ExpectedToken));
        }
        c.expect(b' ')?;
        if c.peek() != Some(b'"') {
            return Err(c.err(Fault::Expected('"')));
        }
        let text = c.quoted()?;
        c.finish()?;
        Ok(Warning { code, agent, text })
    }
}

impl fmt::Display for Warning<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03} {} \"{}\"", self.code, self.agent, self.text)
    }
}

/// A `Date` value (RFC 3261 §20.17): an RFC 1123 date, always GMT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SipDate {
    /// Day of the week, 0 = Monday.
    pub weekday: u8,
    /// Day of the month, 1–31.
    pub day: u8,
    /// Month, 1–12.
    pub month: u8,
    /// Year.
    pub year: u16,
    /// Hour, 0–23.
    pub hour: u8,
    /// Minute, 0–59.
    pub minute: u8,
    /// Second, 0–60.
    pub second: u8,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SipDate {
    /// Parses `Sat, 13 Nov 2010 23:29:00 GMT`.
    ///
    /// ```
    /// use ocs_sip_codec::headers::SipDate;
    /// let d = SipDate::parse("Thu, 31 Jan 2008 00:01:56 GMT").unwrap();
    /// assert_eq!((d.year, d.month, d.day, d.hour, d.minute, d.second), (2008, 1, 31, 0, 1, 56));
    /// assert!(SipDate::parse("Fri, 01 Jan 2010 16:00:00 EST").is_err()); // RFC 4475 baddate
    /// ```
    pub fn parse(s: &str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0)
    }

    pub(crate) fn parse_at(s: &str, base: usize) -> Result<Self, ValueError> {
        use nom::Parser;
        use nom::bytes::complete::{tag, take, take_while_m_n};
        use nom::combinator::{all_consuming, map_opt};

        fn name_index<'i>(
            names: &'static [&'static str],
        ) -> impl Parser<&'i str, Output = u8, Error = nom::error::Error<&'i str>> {
            map_opt(take(3usize), move |t: &str| {
                names.iter().position(|n| *n == t).map(|i| i as u8)
            })
        }
        fn digits<'i>(
            n: usize,
        ) -> impl Parser<&'i str, Output = u16, Error = nom::error::Error<&'i str>> {
            map_opt(
                take_while_m_n(n, n, |c: char| c.is_ascii_digit()),
                |d: &str| d.parse().ok(),
            )
        }
        let lead = s.len() - s.trim_start_matches([' ', '\t']).len();
        let v = scan::trim_lws(s);
        let mut date = all_consuming((
            name_index(&WEEKDAYS),
            tag(", "),
            digits(2),
            tag(" "),
            name_index(&MONTHS),
            tag(" "),
            digits(4),
            tag(" "),
            digits(2),
            tag(":"),
            digits(2),
            tag(":"),
            digits(2),
            tag(" GMT"),
        ));
        let (_, (weekday, _, day, _, month, _, year, _, hour, _, minute, _, second, _)) =
            date.parse(v).map_err(|e| {
                let at = match e {
                    nom::Err::Error(e) | nom::Err::Failure(e) => v.len() - e.input.len(),
                    nom::Err::Incomplete(_) => v.len(),
                };
                ValueError::new(Fault::InvalidDate, base + lead + at)
            })?;
        if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
            return Err(ValueError::new(Fault::InvalidDate, base + lead));
        }
        Ok(SipDate {
            weekday,
            day: day as u8,
            month: month + 1,
            year,
            hour: hour as u8,
            minute: minute as u8,
            second: second as u8,
        })
    }
}

impl fmt::Display for SipDate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
            WEEKDAYS[usize::from(self.weekday % 7)],
            self.day,
            MONTHS[usize::from((self.month.clamp(1, 12)) - 1)],
            self.year,
            self.hour,
            self.minute,
            self.second
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Authentication

/// The comma-separated `auth-param`s of a challenge, credentials or Authentication-Info,
/// as written, read on demand.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthParams<'a> {
    raw: &'a str,
}

/// One `name=value` of [`AuthParams`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AuthParam<'a> {
    /// The name as written.
    pub name: &'a str,
    /// The value without quotes, escapes left in place.
    pub value: &'a str,
    /// True when the value was quoted.
    pub quoted: bool,
}

impl<'a> AuthParams<'a> {
    /// The text as written.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = AuthParam<'a>> + use<'a> {
        let mut c = Cursor::new(self.raw, 0);
        let mut first = true;
        std::iter::from_fn(move || {
            if !first && !c.eat_sep(b',') {
                return None;
            }
            first = false;
            c.skip_lws();
            let name = c.token()?;
            if !c.eat_sep(b'=') {
                return None;
            }
            if c.peek() == Some(b'"') {
                let value = c.quoted().ok()?;
                Some(AuthParam {
                    name,
                    value,
                    quoted: true,
                })
            } else {
                let value = c.take_while(is_auth_token);
                Some(AuthParam {
                    name,
                    value,
                    quoted: false,
                })
            }
        })
    }

    /// The value of `name` (case-insensitive), quotes removed.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }

    fn parse(c: &mut Cursor<'a>, max: usize) -> Result<Self, ValueError> {
        c.skip_lws();
        let start = c.pos();
        let mut count = 0;
        loop {
            count += 1;
            if count > max {
                return Err(c.err(Fault::TooManyParameters));
            }
            c.expect_token()?;
            if !c.eat_sep(b'=') {
                return Err(c.err(Fault::Expected('=')));
            }
            if c.peek() == Some(b'"') {
                c.quoted()?;
            } else if c.take_while(is_auth_token).is_empty() {
                return Err(c.err(Fault::Empty));
            }
            let end = c.pos();
            if !c.eat_sep(b',') {
                c.set_pos(end);
                c.finish()?;
                return Ok(AuthParams {
                    raw: c.slice(start, end),
                });
            }
        }
    }
}

/// Unquoted auth-param values are tokens; `/` and `=` are accepted as well for the base64 and
/// `algorithm=` values deployed clients send without quotes.
fn is_auth_token(b: u8) -> bool {
    scan::is_token(b) || b == b'/' || b == b'='
}

impl fmt::Debug for AuthParams<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for AuthParams<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

/// The authentication scheme of a challenge or credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum AuthScheme<'a> {
    /// `Digest` (RFC 3261 §22.4, RFC 8760).
    Digest,
    /// `NTLM` ([MS-SIPAE]).
    Ntlm,
    /// `Kerberos` ([MS-SIPAE]).
    Kerberos,
    /// `TLS-DSK` ([MS-SIPAE]).
    TlsDsk,
    /// `Basic` (obsolete in SIP, still parsed).
    Basic,
    /// Any other scheme, as written.
    Other(&'a str),
}

impl<'a> AuthScheme<'a> {
    fn from_token(t: &'a str) -> Self {
        if t.eq_ignore_ascii_case("Digest") {
            AuthScheme::Digest
        } else if t.eq_ignore_ascii_case("NTLM") {
            AuthScheme::Ntlm
        } else if t.eq_ignore_ascii_case("Kerberos") {
            AuthScheme::Kerberos
        } else if t.eq_ignore_ascii_case("TLS-DSK") {
            AuthScheme::TlsDsk
        } else if t.eq_ignore_ascii_case("Basic") {
            AuthScheme::Basic
        } else {
            AuthScheme::Other(t)
        }
    }
}

/// A challenge (`WWW-Authenticate`, `Proxy-Authenticate`), credentials (`Authorization`,
/// `Proxy-Authorization`) or `Authentication-Info`: a scheme and its parameters. Digest's
/// Authentication-Info has no scheme; the [MS-SIPAE] one starts with `NTLM` or `Kerberos`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Auth<'a> {
    /// The scheme as written, `None` for a Digest Authentication-Info.
    pub scheme_name: Option<&'a str>,
    /// The parameters.
    pub params: AuthParams<'a>,
}

macro_rules! auth_getters {
    ($($(#[$doc:meta])* $fn:ident = $name:literal;)*) => {
        $( $(#[$doc])* #[must_use] pub fn $fn(&self) -> Option<&'a str> { self.params.get($name) } )*
    };
}

impl<'a> Auth<'a> {
    /// Parses credentials or a challenge (`scheme param=value, ...`).
    ///
    /// ```
    /// use ocs_sip_codec::headers::{Auth, AuthScheme};
    /// let a = Auth::parse(r#"NTLM qop="auth", realm="SIP Communications Service", targetname="server.contoso.com", gssapi-data="", version=3"#).unwrap();
    /// assert_eq!(a.scheme(), Some(AuthScheme::Ntlm));
    /// assert_eq!(a.gssapi_data(), Some(""));
    /// assert_eq!(a.version(), Some("3"));
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS, true)
    }

    /// Parses an `Authentication-Info` value, whose scheme is optional.
    pub fn parse_info(s: &'a str) -> Result<Self, ValueError> {
        Self::parse_at(s, 0, DEFAULT_MAX_PARAMS, false)
    }

    pub(crate) fn parse_at(
        s: &'a str,
        base: usize,
        max: usize,
        scheme_required: bool,
    ) -> Result<Self, ValueError> {
        let mut c = Cursor::new(s, base);
        c.skip_lws();
        let save = c.pos();
        let first = c.expect_token()?;
        let after = c.pos();
        let is_param = c.eat_sep(b'=');
        let scheme_name = if is_param && !scheme_required {
            c.set_pos(save);
            None
        } else {
            c.set_pos(after);
            if !c.skip_lws() {
                // A bare scheme with no parameters.
                c.finish()?;
                return Ok(Auth {
                    scheme_name: Some(first),
                    params: AuthParams::default(),
                });
            }
            if c.at_end() {
                return Ok(Auth {
                    scheme_name: Some(first),
                    params: AuthParams::default(),
                });
            }
            Some(first)
        };
        let params = AuthParams::parse(&mut c, max)?;
        Ok(Auth {
            scheme_name,
            params,
        })
    }

    /// The scheme.
    #[must_use]
    pub fn scheme(&self) -> Option<AuthScheme<'a>> {
        self.scheme_name.map(AuthScheme::from_token)
    }

    auth_getters! {
        /// `realm=` (always `SIP Communications Service` in [MS-SIPAE]).
        realm = "realm";
        /// `nonce=`.
        nonce = "nonce";
        /// `opaque=`.
        opaque = "opaque";
        /// `qop=`.
        qop = "qop";
        /// `algorithm=`.
        algorithm = "algorithm";
        /// `stale=`.
        stale = "stale";
        /// `domain=`.
        domain = "domain";
        /// `username=`.
        username = "username";
        /// `uri=`.
        uri = "uri";
        /// `response=` (Digest response, or the [MS-SIPAE] signature in hex).
        response = "response";
        /// `cnonce=`.
        cnonce = "cnonce";
        /// `nc=`.
        nc = "nc";
        /// `nextnonce=`.
        nextnonce = "nextnonce";
        /// `targetname=` ([MS-SIPAE]).
        targetname = "targetname";
        /// `gssapi-data=` ([MS-SIPAE]): base64 of the NTLM or Kerberos token.
        gssapi_data = "gssapi-data";
        /// `version=` ([MS-SIPAE]).
        version = "version";
        /// `crand=` ([MS-SIPAE]): client random, hex.
        crand = "crand";
        /// `cnum=` ([MS-SIPAE]): client sequence number.
        cnum = "cnum";
        /// `rspauth=` ([MS-SIPAE] server signature, or Digest response auth).
        rspauth = "rspauth";
        /// `srand=` ([MS-SIPAE]): server random, hex.
        srand = "srand";
        /// `snum=` ([MS-SIPAE]): server sequence number.
        snum = "snum";
        /// `sts-uri=` ([MS-SIPAE] TLS-DSK).
        sts_uri = "sts-uri";
    }
}

impl fmt::Display for Auth<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.scheme_name, self.params.raw.is_empty()) {
            (Some(s), true) => f.write_str(s),
            (Some(s), false) => write!(f, "{s} {}", self.params.raw),
            (None, _) => f.write_str(self.params.raw),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Dispatch

/// The typed view of one header value, as [`Message::typed_headers`](crate::Message::typed_headers)
/// yields them. List-valued headers give one item per element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(
    feature = "serde",
    serde(tag = "type", content = "value", rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum TypedValue<'a> {
    /// Via.
    Via(Via<'a>),
    /// From, To, Route, Record-Route, Refer-To, Referred-By, P-Asserted-Identity,
    /// P-Preferred-Identity.
    NameAddr(NameAddr<'a>),
    /// Contact.
    Contact(Contact<'a>),
    /// Call-ID.
    CallId(&'a str),
    /// CSeq.
    CSeq(CSeq<'a>),
    /// Max-Forwards, Content-Length, Expires, Min-Expires, Min-SE.
    Number(u32),
    /// Content-Type, Accept.
    MediaType(MediaType<'a>),
    /// Event, Subscription-State, ms-keep-alive, Allow-Events.
    TokenParams(TokenParams<'a>),
    /// Allow, Supported, Require, Proxy-Require, Unsupported, Content-Encoding.
    Token(&'a str),
    /// Date.
    Date(SipDate),
    /// Warning.
    Warning(Warning<'a>),
    /// Session-Expires, Min-SE, ms-diagnostics, ms-diagnostics-public.
    NumberParams(NumberParams<'a>),
    /// WWW-Authenticate, Proxy-Authenticate, Authorization, Proxy-Authorization,
    /// Authentication-Info, Proxy-Authentication-Info.
    Auth(Auth<'a>),
    /// Subject, User-Agent, Server: free text.
    Text(&'a str),
}

impl fmt::Display for TypedValue<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TypedValue::Via(v) => v.fmt(f),
            TypedValue::NameAddr(v) => v.fmt(f),
            TypedValue::Contact(v) => v.fmt(f),
            TypedValue::CallId(v) | TypedValue::Token(v) | TypedValue::Text(v) => f.write_str(v),
            TypedValue::CSeq(v) => v.fmt(f),
            TypedValue::Number(v) => v.fmt(f),
            TypedValue::MediaType(v) => v.fmt(f),
            TypedValue::TokenParams(v) => v.fmt(f),
            TypedValue::Date(v) => v.fmt(f),
            TypedValue::Warning(v) => v.fmt(f),
            TypedValue::NumberParams(v) => v.fmt(f),
            TypedValue::Auth(v) => v.fmt(f),
        }
    }
}

use crate::name::HeaderName as N;

/// Parses one value (one list element for list headers) of a known header. `None` for headers
/// without a typed view.
pub(crate) fn parse_typed<'a>(
    name: N,
    v: &'a str,
    base: usize,
    max: usize,
) -> Option<Result<TypedValue<'a>, ValueError>> {
    let r = match name {
        N::Via => Via::parse_at(v, base, max).map(TypedValue::Via),
        N::From | N::To | N::ReferTo | N::ReferredBy => {
            NameAddr::parse_at(v, base, max, false).map(TypedValue::NameAddr)
        }
        N::Route | N::RecordRoute | N::PAssertedIdentity | N::PPreferredIdentity => {
            NameAddr::parse_at(v, base, max, true).map(TypedValue::NameAddr)
        }
        N::Contact => Contact::parse_at(v, base, max).and_then(|c| {
            if let Some(Err(f)) = c.expires() {
                let at = base + v.find("expires").unwrap_or(0);
                return Err(ValueError::new(f, at));
            }
            Ok(TypedValue::Contact(c))
        }),
        N::CallId => parse_call_id_at(v, base).map(TypedValue::CallId),
        N::CSeq => CSeq::parse_at(v, base).map(TypedValue::CSeq),
        N::MaxForwards => parse_number_at(v, base, 255).map(|n| TypedValue::Number(n as u32)),
        N::ContentLength | N::Expires | N::MinExpires => {
            parse_number_at(v, base, u64::from(u32::MAX)).map(|n| TypedValue::Number(n as u32))
        }
        N::ContentType | N::Accept => MediaType::parse_at(v, base, max).map(TypedValue::MediaType),
        N::Event | N::SubscriptionState | N::MsKeepAlive | N::AllowEvents => {
            TokenParams::parse_at(v, base, max).map(TypedValue::TokenParams)
        }
        N::Allow
        | N::Supported
        | N::Require
        | N::ProxyRequire
        | N::Unsupported
        | N::ContentEncoding => parse_token_at(v, base).map(TypedValue::Token),
        N::Date => SipDate::parse_at(v, base).map(TypedValue::Date),
        N::Warning => Warning::parse_at(v, base).map(TypedValue::Warning),
        N::SessionExpires | N::MinSe | N::MsDiagnostics | N::MsDiagnosticsPublic => {
            NumberParams::parse_at(v, base, max).map(TypedValue::NumberParams)
        }
        N::WwwAuthenticate | N::ProxyAuthenticate | N::Authorization | N::ProxyAuthorization => {
            Auth::parse_at(v, base, max, true).map(TypedValue::Auth)
        }
        N::AuthenticationInfo | N::ProxyAuthenticationInfo => {
            Auth::parse_at(v, base, max, false).map(TypedValue::Auth)
        }
        N::Subject | N::UserAgent | N::Server => Ok(TypedValue::Text(scan::trim_lws(v))),
        _ => return None,
    };
    Some(r)
}

/// Splits a list value into elements, failing on an empty element.
pub(crate) fn list_elements(
    v: &str,
    base: usize,
) -> impl Iterator<Item = Result<(&str, usize), ValueError>> {
    ListSplit::new(v, base).map(|(e, at)| {
        if e.is_empty() {
            Err(ValueError::new(Fault::EmptyElement, at))
        } else {
            Ok((e, at))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn via_with_folding_and_spaces() {
        // RFC 4475 §3.1.1.1 wsinv
        let v = Via::parse("SIP  /   2.0\r\n /UDP\r\n    192.0.2.2;branch=390skdjuw").unwrap();
        assert_eq!((v.protocol, v.version, v.transport), ("SIP", "2.0", "UDP"));
        assert_eq!(v.host, Host::Ipv4("192.0.2.2".parse().unwrap()));
        assert_eq!(v.branch(), Some("390skdjuw"));
        assert!(!v.has_magic_cookie());
        let v = Via::parse("SIP/2.0/\r\n TCP spindle.example.com").unwrap();
        assert_eq!(v.transport, "TCP");
        let v = Via::parse(
            "SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8",
        )
        .unwrap();
        assert_eq!(v.branch(), Some("z9hG4bK9ikj8"));
        assert!(v.has_magic_cookie());
    }

    #[test]
    fn via_ipv6_received_rport() {
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1]:6050;received=[2001:db8::9:255];rport;branch=z9hG4bKas3",
        )
        .unwrap();
        assert_eq!(v.host, Host::Ipv6("2001:db8::9:1"));
        assert_eq!(v.port, Some(6050));
        assert_eq!(v.received(), Some("[2001:db8::9:255]"));
        assert_eq!(v.rport(), Some(None));
        let v = Via::parse(
            "SIP/2.0/UDP [2001:db8::9:1];received=2001:db8::9:255;branch=z9hG4bKas3-111",
        )
        .unwrap();
        assert_eq!(v.received(), Some("2001:db8::9:255"));
        let v = Via::parse(r#"SIP/2.0/TLS 10.0.0.1;branched=FALSE;ms-internal-info="ck..AAA";ttl=16;maddr=224.2.0.1"#).unwrap();
        assert_eq!(v.branched(), Some(false));
        assert_eq!(v.ms_internal_info(), Some("ck..AAA"));
        assert_eq!((v.ttl(), v.maddr()), (Some(16), Some("224.2.0.1")));
    }

    #[test]
    fn via_faults() {
        // RFC 4475 §3.1.2.1 badinv01: "192.0.2.15;;,;,," (the first list element)
        let e = Via::parse("SIP/2.0/UDP 192.0.2.15;;").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::EmptyParameter, 23));
        assert_eq!(
            Via::parse("SIP/2.0/UDP").unwrap_err().fault,
            Fault::Expected(' ')
        );
        assert_eq!(
            Via::parse("SIP/2.0/UDP h:70000").unwrap_err().fault,
            Fault::InvalidPort
        );
    }

    #[test]
    fn name_addr_forms() {
        // wsinv From with escaped quotes
        let f = NameAddr::parse(
            "\"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>\r\n  ;\r\n  tag = 98asjd8",
        )
        .unwrap();
        assert_eq!(f.display_name.unwrap().text(), "J Rosenberg \\\"");
        assert_eq!(f.tag(), Some("98asjd8"));
        // lwsdisp: no space before '<'
        let f = NameAddr::parse("caller<sip:caller@example.com>;tag=323").unwrap();
        assert_eq!(f.display_name, Some(DisplayName::Tokens("caller")));
        // intmeth: token display name
        let f =
            NameAddr::parse("token1~` token2'+_ token3*%!.- <sip:mundane@example.com>").unwrap();
        assert_eq!(
            f.display_name,
            Some(DisplayName::Tokens("token1~` token2'+_ token3*%!.-"))
        );
        // addr-spec: parameters belong to the header
        let t = NameAddr::parse("sip:user@example.com;tag=3xfe-9921883-z9f").unwrap();
        assert!(!t.bracketed);
        assert_eq!(t.tag(), Some("3xfe-9921883-z9f"));
        assert!(t.uri.as_sip().unwrap().params.is_empty());
    }

    #[test]
    fn name_addr_faults() {
        // §3.1.2.6 quotbal
        let e = NameAddr::parse("\"Mr. J. User <sip:j.user@example.com>").unwrap_err();
        assert_eq!(e.fault, Fault::UnterminatedQuote);
        // §3.1.2.14 badaspec
        let e = NameAddr::parse("\"Watson, Thomas\" < sip:t.watson@example.org >").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::WhitespaceInUri, 18));
        // §3.1.2.15 baddn
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@example.com>;tag=43").is_err());
        // §3.1.2.13 regbadct
        let e = Contact::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").unwrap_err();
        assert_eq!(e, ValueError::new(Fault::NeedsAngleBrackets, 20));
        assert_eq!(
            NameAddr::parse("<sip:a@b").unwrap_err().fault,
            Fault::UnclosedAngle
        );
    }

    #[test]
    fn contact_params() {
        let c = Contact::parse(r#"<sip:192.0.2.1:4320;transport=tls;ms-opaque=d3470f2e1d>;methods="INVITE, MESSAGE, INFO";proxy=replace;+sip.instance="<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>";expires=3600;q=0.5"#).unwrap();
        assert!(c.proxy_replace());
        assert_eq!(
            c.methods().collect::<Vec<_>>(),
            ["INVITE", "MESSAGE", "INFO"]
        );
        assert_eq!(
            c.sip_instance(),
            Some("<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>")
        );
        assert_eq!(c.expires(), Some(Ok(3600)));
        assert_eq!(c.q(), Some(500));
        let sip = *c.address().unwrap().uri.as_sip().unwrap();
        assert_eq!(sip.ms_opaque(), Some("d3470f2e1d"));
        assert_eq!(Contact::parse(" * ").unwrap(), Contact::Wildcard);
        let c = Contact::parse("<sip:u@h>;expires=280297596632815").unwrap();
        assert_eq!(c.expires(), Some(Err(Fault::NumberOutOfRange)));
    }

    #[test]
    fn cseq_and_call_id() {
        assert_eq!(
            CSeq::parse("2147483648 INVITE").unwrap_err().fault,
            Fault::NumberOutOfRange
        );
        assert_eq!(CSeq::parse("2147483647 INVITE").unwrap().seq, 2147483647);
        assert_eq!(
            parse_call_id("intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{").unwrap(),
            "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
        );
        assert!(parse_call_id("a b").is_err());
        assert!(parse_call_id("a@b@c").is_err());
    }

    #[test]
    fn warning_rfc4475_scalarlg() {
        assert!(Warning::parse("1812 overture \"In Progress\"").is_err());
        let w = Warning::parse("370 devnull \"Choose a bigger pipe\"").unwrap();
        assert_eq!(
            (w.code, w.agent, w.text),
            (370, "devnull", "Choose a bigger pipe")
        );
    }

    #[test]
    fn auth_ms_sipae() {
        let a = Auth::parse_info(r#"NTLM rspauth="010000003EA8D688BA51D5CD64000000", srand="1B6D47A1", snum="11", opaque="357E6F72", qop="auth", targetname="LOC-COMPANYT-FE03.COMPANY.COM", realm="SIP Communications Service""#).unwrap();
        assert_eq!(a.scheme(), Some(AuthScheme::Ntlm));
        assert_eq!(a.srand(), Some("1B6D47A1"));
        assert_eq!(a.snum(), Some("11"));
        assert_eq!(a.rspauth(), Some("010000003EA8D688BA51D5CD64000000"));
        let d = Auth::parse_info(
            r#"nextnonce="47364c23432d2e131a5fb210812c", qop=auth, rspauth="abc""#,
        )
        .unwrap();
        assert_eq!(d.scheme(), None);
        assert_eq!(d.nextnonce(), Some("47364c23432d2e131a5fb210812c"));
        let t = Auth::parse(r#"TLS-DSK realm="SIP Communications Service", targetname="fe", version=4, sts-uri="https://fe/CertProvisioningService.svc""#).unwrap();
        assert_eq!(t.scheme(), Some(AuthScheme::TlsDsk));
        assert_eq!(t.sts_uri(), Some("https://fe/CertProvisioningService.svc"));
        let dg = Auth::parse(r#"Digest username="bob", realm="atlanta.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", opaque="", uri="sips:ss2.biloxi.example.com", response="dfe56131d1958046689d83306477ecc", algorithm=SHA-256, nc=00000001, qop=auth, cnonce="0a4f113b""#).unwrap();
        assert_eq!(dg.scheme(), Some(AuthScheme::Digest));
        assert_eq!(
            (dg.algorithm(), dg.nc(), dg.opaque()),
            (Some("SHA-256"), Some("00000001"), Some(""))
        );
        assert!(Auth::parse("NTLM realm=").is_err());
    }

    #[test]
    fn qvalues() {
        assert_eq!(parse_qvalue("0.33"), Some(330));
        assert_eq!(parse_qvalue("1"), Some(1000));
        assert_eq!(parse_qvalue("1.000"), Some(1000));
        assert_eq!(parse_qvalue("1.5"), None);
        assert_eq!(parse_qvalue("0.1234"), None);
    }
}
