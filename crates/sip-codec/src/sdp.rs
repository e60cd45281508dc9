//! SDP (RFC 4566): every line type, media sections, and typed attributes (`rtpmap`, `fmtp`,
//! `rtcp`, direction, `candidate`, and `crypto` per RFC 4568 with the [MS-SDPEXT] form
//! `inline:<base64>|2^31` and an optional `|MKI:length`).
//!
//! A parsed description borrows its text. Lines may end in CRLF or, as RFC 4566 §5 asks
//! parsers to tolerate, a bare LF.

use std::fmt;

use base64::Engine;

use crate::error::{Error, Fault};

/// Limits for SDP parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdpLimits {
    /// Most lines (default 1,024).
    pub max_lines: usize,
    /// Most media sections (default 64).
    pub max_media: usize,
}

impl Default for SdpLimits {
    fn default() -> Self {
        SdpLimits {
            max_lines: 1024,
            max_media: 64,
        }
    }
}

/// `o=` (RFC 4566 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Origin<'a> {
    /// User name (`-` when none).
    pub username: &'a str,
    /// Session id (digits; up to 64 bits and more are seen, so kept as text).
    pub session_id: &'a str,
    /// Session version.
    pub session_version: &'a str,
    /// Network type, `IN`.
    pub net_type: &'a str,
    /// Address type, `IP4` or `IP6`.
    pub addr_type: &'a str,
    /// Unicast address or host name.
    pub address: &'a str,
}

/// `c=` (§5.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Connection<'a> {
    /// `IN`.
    pub net_type: &'a str,
    /// `IP4` or `IP6`.
    pub addr_type: &'a str,
    /// The address, with `/ttl/count` for multicast as written.
    pub address: &'a str,
}

/// `b=` (§5.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Bandwidth<'a> {
    /// `CT`, `AS`, `TIAS`...
    pub kind: &'a str,
    /// Kilobits per second (bits per second for TIAS).
    pub value: u64,
}

/// `t=` with its `r=` lines (§5.9, §5.10).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Timing<'a> {
    /// Start time (NTP seconds, 0 for unbounded).
    pub start: u64,
    /// Stop time.
    pub stop: u64,
    /// `r=` lines as written.
    pub repeats: Vec<&'a str>,
}

/// `a=` (§5.13): a property (`a=sendrecv`) or a value attribute (`a=rtpmap:0 PCMU/8000`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Attribute<'a> {
    /// The name.
    pub name: &'a str,
    /// The value after `:`.
    pub value: Option<&'a str>,
    /// Offset of the line in the input.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub offset: usize,
}

/// `m=` and the lines of its section (§5.14).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Media<'a> {
    /// `audio`, `video`, `application`, `data`...
    pub media: &'a str,
    /// Transport port.
    pub port: u16,
    /// Number of ports (`/2`).
    pub num_ports: Option<u16>,
    /// `RTP/AVP`, `RTP/SAVP`...
    pub proto: &'a str,
    /// Formats (payload types for RTP).
    pub formats: Vec<&'a str>,
    /// `i=`.
    pub information: Option<&'a str>,
    /// `c=` lines.
    pub connections: Vec<Connection<'a>>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `k=`.
    pub key: Option<&'a str>,
    /// `a=` lines.
    pub attributes: Vec<Attribute<'a>>,
}

/// A session description.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SessionDescription<'a> {
    /// `v=`, always 0.
    pub version: u32,
    /// `o=`.
    pub origin: Origin<'a>,
    /// `s=`.
    pub session_name: &'a str,
    /// `i=`.
    pub information: Option<&'a str>,
    /// `u=`.
    pub uri: Option<&'a str>,
    /// `e=` lines.
    pub emails: Vec<&'a str>,
    /// `p=` lines.
    pub phones: Vec<&'a str>,
    /// `c=`.
    pub connection: Option<Connection<'a>>,
    /// `b=` lines.
    pub bandwidths: Vec<Bandwidth<'a>>,
    /// `t=` lines with their `r=` lines.
    pub timings: Vec<Timing<'a>>,
    /// `z=`.
    pub zone: Option<&'a str>,
    /// `k=`.
    pub key: Option<&'a str>,
    /// Session-level `a=` lines.
    pub attributes: Vec<Attribute<'a>>,
    /// Media sections.
    pub media: Vec<Media<'a>>,
}

fn sdp_err(line: u8, fault: Fault, offset: usize) -> Error {
    Error::Sdp {
        line: line as char,
        fault,
        offset,
    }
}

fn fields<const N: usize>(v: &str, line: u8, at: usize) -> Result<[&str; N], Error> {
    let mut out = [""; N];
    let mut it = v.split(' ');
    for slot in out.iter_mut() {
        *slot =
            it.next()
                .filter(|f| !f.is_empty())
                .ok_or(sdp_err(line, Fault::Expected(' '), at))?;
    }
    if it.next().is_some() {
        return Err(sdp_err(line, Fault::TrailingCharacters, at));
    }
    Ok(out)
}

fn number(v: &str, line: u8, at: usize) -> Result<u64, Error> {
    crate::scan::parse_u64(v).map_err(|f| sdp_err(line, f, at))
}

fn connection<'a>(v: &'a str, at: usize) -> Result<Connection<'a>, Error> {
    let [net_type, addr_type, address] = fields::<3>(v, b'c', at)?;
    Ok(Connection {
        net_type,
        addr_type,
        address,
    })
}

fn bandwidth<'a>(v: &'a str, at: usize) -> Result<Bandwidth<'a>, Error> {
    let (kind, value) = v
        .split_once(':')
        .ok_or(sdp_err(b'b', Fault::Expected(':'), at))?;
    if !crate::scan::is_token_str(kind) {
        return Err(sdp_err(b'b', Fault::ExpectedToken, at));
    }
    Ok(Bandwidth {
        kind,
        value: number(value, b'b', at + kind.len() + 1)?,
    })
}

fn attribute<'a>(v: &'a str, at: usize) -> Result<Attribute<'a>, Error> {
    let (name, value) = match v.split_once(':') {
        Some((n, val)) => (n, Some(val)),
        None => (v, None),
    };
    if !crate::scan::is_token_str(name) {
        return Err(sdp_err(b'a', Fault::ExpectedToken, at));
    }
    Ok(Attribute {
        name,
        value,
        offset: at,
    })
}

impl<'a> SessionDescription<'a> {
    /// Parses a session description with the default [`SdpLimits`].
    ///
    /// ```
    /// use ocs_sip_codec::sdp::{SessionDescription, Crypto};
    /// let sdp = SessionDescription::parse("v=0\r\no=- 0 0 IN IP4 192.0.2.1\r\ns=session\r\n\
    ///     c=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 50000 RTP/SAVP 0 101\r\n\
    ///     a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31\r\n\
    ///     a=rtpmap:101 telephone-event/8000\r\n").unwrap();
    /// let audio = &sdp.media[0];
    /// let crypto = audio.attribute("crypto").map(Crypto::parse).unwrap().unwrap();
    /// assert_eq!(crypto.suite, "AES_CM_128_HMAC_SHA1_80");
    /// assert_eq!(crypto.keys[0].lifetime(), Some(1 << 31));
    /// assert_eq!(crypto.keys[0].key_salt().unwrap().len(), 30);
    /// ```
    pub fn parse(s: &'a str) -> Result<Self, Error> {
        Self::parse_with(s, &SdpLimits::default())
    }

    /// [`SessionDescription::parse`] with explicit limits.
    pub fn parse_with(s: &'a str, limits: &SdpLimits) -> Result<Self, Error> {
        let mut lines = Vec::new();
        let mut pos = 0;
        for raw in s.split_inclusive('\n') {
            let at = pos;
            pos += raw.len();
            let line = raw
                .strip_suffix('\n')
                .map(|l| l.strip_suffix('\r').unwrap_or(l))
                .unwrap_or(raw);
            if line.is_empty() && pos == s.len() {
                continue;
            }
            if lines.len() >= limits.max_lines {
                return Err(sdp_err(b'?', Fault::TooManyParameters, at));
            }
            let b = line.as_bytes();
            if b.len() < 2 || b[1] != b'=' || !b[0].is_ascii_lowercase() {
                return Err(sdp_err(
                    b.first().copied().unwrap_or(b'?'),
                    Fault::Expected('='),
                    at,
                ));
            }
            if let Some(i) = line.bytes().position(|c| c == b'\r' || c == 0) {
                return Err(sdp_err(b[0], Fault::InvalidCharacter, at + i));
            }
            lines.push((b[0], &line[2..], at + 2));
        }
        let mut it = lines.into_iter().peekable();
        let mut next = |want: u8| -> Option<(&'a str, usize)> {
            match it.peek() {
                Some(&(t, v, at)) if t == want => {
                    it.next();
                    Some((v, at))
                }
                _ => None,
            }
        };
        let (v, at) = next(b'v').ok_or(sdp_err(b'v', Fault::Empty, 0))?;
        if v != "0" {
            return Err(sdp_err(b'v', Fault::InvalidVersion, at));
        }
        let (o, at) = next(b'o').ok_or(sdp_err(b'o', Fault::Empty, at))?;
        let [
            username,
            session_id,
            session_version,
            net_type,
            addr_type,
            address,
        ] = fields::<6>(o, b'o', at)?;
        let origin = Origin {
            username,
            session_id,
            session_version,
            net_type,
            addr_type,
            address,
        };
        let (session_name, at) = next(b's').ok_or(sdp_err(b's', Fault::Empty, at))?;
        let mut sd = SessionDescription {
            version: 0,
            origin,
            session_name,
            information: next(b'i').map(|x| x.0),
            uri: next(b'u').map(|x| x.0),
            emails: Vec::new(),
            phones: Vec::new(),
            connection: None,
            bandwidths: Vec::new(),
            timings: Vec::new(),
            zone: None,
            key: None,
            attributes: Vec::new(),
            media: Vec::new(),
        };
        while let Some((e, _)) = next(b'e') {
            sd.emails.push(e);
        }
        while let Some((p, _)) = next(b'p') {
            sd.phones.push(p);
        }
        if let Some((c, at)) = next(b'c') {
            sd.connection = Some(connection(c, at)?);
        }
        while let Some((b, at)) = next(b'b') {
            sd.bandwidths.push(bandwidth(b, at)?);
        }
        while let Some((t, at)) = next(b't') {
            let [start, stop] = fields::<2>(t, b't', at)?;
            let mut timing = Timing {
                start: number(start, b't', at)?,
                stop: number(stop, b't', at + start.len() + 1)?,
                repeats: Vec::new(),
            };
            while let Some((r, _)) = next(b'r') {
                timing.repeats.push(r);
            }
            sd.timings.push(timing);
        }
        if sd.timings.is_empty() {
            return Err(sdp_err(b't', Fault::Empty, at));
        }
        sd.zone = next(b'z').map(|x| x.0);
        sd.key = next(b'k').map(|x| x.0);
        while let Some((a, at)) = next(b'a') {
            sd.attributes.push(attribute(a, at)?);
        }
        while let Some((m, at)) = next(b'm') {
            if sd.media.len() >= limits.max_media {
                return Err(sdp_err(b'm', Fault::TooManyParameters, at));
            }
            let mut parts = m.split(' ');
            let media = parts.next().filter(|x| !x.is_empty());
            let port = parts.next();
            let proto = parts.next();
            let (Some(media), Some(port), Some(proto)) = (media, port, proto) else {
                return Err(sdp_err(b'm', Fault::Expected(' '), at));
            };
            let (port, num_ports) = match port.split_once('/') {
                Some((p, n)) => (p, Some(n)),
                None => (port, None),
            };
            let port_at = at + media.len() + 1;
            let port = crate::uri::parse_port(port, port_at)
                .map_err(|e| sdp_err(b'm', e.fault, e.offset))?;
            let num_ports = num_ports
                .map(|n| {
                    crate::uri::parse_port(n, port_at).map_err(|e| sdp_err(b'm', e.fault, e.offset))
                })
                .transpose()?;
            let formats: Vec<&str> = parts.collect();
            if formats.iter().any(|f| f.is_empty()) {
                return Err(sdp_err(b'm', Fault::Empty, at));
            }
            let mut md = Media {
                media,
                port,
                num_ports,
                proto,
                formats,
                information: next(b'i').map(|x| x.0),
                connections: Vec::new(),
                bandwidths: Vec::new(),
                key: None,
                attributes: Vec::new(),
            };
            while let Some((c, at)) = next(b'c') {
                md.connections.push(connection(c, at)?);
            }
            while let Some((b, at)) = next(b'b') {
                md.bandwidths.push(bandwidth(b, at)?);
            }
            md.key = next(b'k').map(|x| x.0);
            while let Some((a, at)) = next(b'a') {
                md.attributes.push(attribute(a, at)?);
            }
            sd.media.push(md);
        }
        if let Some((t, _, at)) = it.next() {
            // A line out of the order RFC 4566 §5 fixes.
            return Err(sdp_err(t, Fault::InvalidCharacter, at - 2));
        }
        Ok(sd)
    }

    /// The value of the first session-level attribute `name`.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        find_attr(&self.attributes, name)
    }
}

fn find_attr<'a>(attrs: &[Attribute<'a>], name: &str) -> Option<&'a str> {
    attrs.iter().find(|a| a.name == name).and_then(|a| a.value)
}

impl<'a> Media<'a> {
    /// The value of the first attribute `name` in this section.
    #[must_use]
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        find_attr(&self.attributes, name)
    }

    /// Every value of attribute `name` in this section.
    pub fn attributes_named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = &'a str> + 's {
        self.attributes
            .iter()
            .filter(move |a| a.name == name)
            .filter_map(|a| a.value)
    }

    /// The direction attribute of this section, if any.
    #[must_use]
    pub fn direction(&self) -> Option<Direction> {
        self.attributes
            .iter()
            .find_map(|a| Direction::from_name(a.name))
    }
}

/// `a=sendrecv` and friends (RFC 4566 §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "lowercase"))]
pub enum Direction {
    /// `sendrecv`.
    SendRecv,
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `inactive`.
    Inactive,
}

impl Direction {
    fn from_name(n: &str) -> Option<Self> {
        Some(match n {
            "sendrecv" => Direction::SendRecv,
            "sendonly" => Direction::SendOnly,
            "recvonly" => Direction::RecvOnly,
            "inactive" => Direction::Inactive,
            _ => return None,
        })
    }
}

/// `a=rtpmap:<payload> <encoding>/<clock rate>[/<channels>]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RtpMap<'a> {
    /// Payload type.
    pub payload: u8,
    /// Encoding name.
    pub encoding: &'a str,
    /// Clock rate in Hz.
    pub clock_rate: u32,
    /// Encoding parameters (channels for audio).
    pub params: Option<&'a str>,
}

impl<'a> RtpMap<'a> {
    /// Parses an rtpmap value.
    pub fn parse(v: &'a str) -> Result<Self, Fault> {
        let (pt, rest) = v.split_once(' ').ok_or(Fault::Expected(' '))?;
        let payload = crate::scan::parse_u64(pt)?;
        let payload = u8::try_from(payload)
            .ok()
            .filter(|p| *p < 128)
            .ok_or(Fault::NumberOutOfRange)?;
        let mut it = rest.splitn(3, '/');
        let encoding = it.next().filter(|e| !e.is_empty()).ok_or(Fault::Empty)?;
        let rate = it.next().ok_or(Fault::Expected('/'))?;
        let clock_rate =
            u32::try_from(crate::scan::parse_u64(rate)?).map_err(|_| Fault::NumberOutOfRange)?;
        Ok(RtpMap {
            payload,
            encoding,
            clock_rate,
            params: it.next(),
        })
    }
}

/// `a=fmtp:<format> <parameters>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Fmtp<'a> {
    /// The format.
    pub format: &'a str,
    /// The parameters as written.
    pub params: &'a str,
}

impl<'a> Fmtp<'a> {
    /// Parses an fmtp value.
    pub fn parse(v: &'a str) -> Result<Self, Fault> {
        let (format, params) = v.split_once(' ').ok_or(Fault::Expected(' '))?;
        if format.is_empty() {
            return Err(Fault::Empty);
        }
        Ok(Fmtp { format, params })
    }
}

/// `a=rtcp:<port> [IN IP4 <address>]` (RFC 3605).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Rtcp<'a> {
    /// The RTCP port.
    pub port: u16,
    /// The connection address, when given.
    pub connection: Option<Connection<'a>>,
}

impl<'a> Rtcp<'a> {
    /// Parses an rtcp value.
    pub fn parse(v: &'a str) -> Result<Self, Fault> {
        let (port, rest) = match v.split_once(' ') {
            Some((p, r)) => (p, Some(r)),
            None => (v, None),
        };
        let port = crate::uri::parse_port(port, 0).map_err(|e| e.fault)?;
        let connection = rest
            .map(|r| connection(r, 0).map_err(|_| Fault::Expected(' ')))
            .transpose()?;
        Ok(Rtcp { port, connection })
    }
}

/// `a=candidate:` in either form OCS-era endpoints send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(tag = "form", rename_all = "snake_case"))]
pub enum Candidate<'a> {
    /// RFC 5245 §15.1: `foundation component transport priority address port typ type ...`.
    Ice {
        /// Foundation.
        foundation: &'a str,
        /// Component id (1 RTP, 2 RTCP).
        component: u16,
        /// `UDP`, `TCP`...
        transport: &'a str,
        /// Priority.
        priority: u32,
        /// Address.
        address: &'a str,
        /// Port.
        port: u16,
        /// `host`, `srflx`, `prflx`, `relay`.
        kind: &'a str,
        /// `raddr ... rport ...` and extensions, as written.
        rest: &'a str,
    },
    /// ICE draft 6 as Office Communicator 2007 sends it ([MS-ICE]):
    /// `username component password transport qvalue address port`.
    MsIce6 {
        /// Username fragment.
        username: &'a str,
        /// Component id.
        component: u16,
        /// Password.
        password: &'a str,
        /// `UDP` or `TCP`.
        transport: &'a str,
        /// Preference as written (`0.830`).
        q: &'a str,
        /// Address.
        address: &'a str,
        /// Port.
        port: u16,
    },
}

impl<'a> Candidate<'a> {
    /// Parses a candidate value.
    pub fn parse(v: &'a str) -> Result<Self, Fault> {
        let f: Vec<&str> = v.split(' ').filter(|x| !x.is_empty()).collect();
        if f.len() >= 8 && f[6] == "typ" {
            let component = crate::scan::parse_u64(f[1])?;
            let priority = crate::scan::parse_u64(f[3])?;
            let rest_start = v.find(" typ ").map_or(v.len(), |i| i + 5 + f[7].len());
            return Ok(Candidate::Ice {
                foundation: f[0],
                component: u16::try_from(component).map_err(|_| Fault::NumberOutOfRange)?,
                transport: f[2],
                priority: u32::try_from(priority).map_err(|_| Fault::NumberOutOfRange)?,
                address: f[4],
                port: crate::uri::parse_port(f[5], 0).map_err(|e| e.fault)?,
                kind: f[7],
                rest: v.get(rest_start..).map_or("", str::trim),
            });
        }
        if f.len() == 7 {
            let component = crate::scan::parse_u64(f[1])?;
            return Ok(Candidate::MsIce6 {
                username: f[0],
                component: u16::try_from(component).map_err(|_| Fault::NumberOutOfRange)?,
                password: f[2],
                transport: f[3],
                q: f[4],
                address: f[5],
                port: crate::uri::parse_port(f[6], 0).map_err(|e| e.fault)?,
            });
        }
        Err(Fault::InvalidCharacter)
    }
}

/// One key of an `a=crypto` line: `inline:<key||salt>[|lifetime][|MKI:length]` (RFC 4568 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct KeyParam<'a> {
    /// The base64 master key and salt, as written.
    pub key_salt: &'a str,
    /// The lifetime as written (`2^31` or a decimal number).
    pub lifetime_text: Option<&'a str>,
    /// The MKI value.
    pub mki: Option<u32>,
    /// The MKI length in bytes (1–128).
    pub mki_length: Option<u8>,
}

impl KeyParam<'_> {
    /// The decoded master key followed by the master salt.
    pub fn key_salt(&self) -> Result<Vec<u8>, Fault> {
        base64::engine::general_purpose::STANDARD
            .decode(self.key_salt)
            .map_err(|_| Fault::InvalidBase64)
    }

    /// The lifetime in packets.
    #[must_use]
    pub fn lifetime(&self) -> Option<u64> {
        let t = self.lifetime_text?;
        match t.strip_prefix("2^") {
            Some(e) => e.parse::<u32>().ok().filter(|e| *e < 64).map(|e| 1u64 << e),
            None => t.parse().ok(),
        }
    }
}

/// `a=crypto:<tag> <suite> <key-params> [<session-params>]` (RFC 4568 §9.1).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Crypto<'a> {
    /// The tag, unique among the crypto lines of a section.
    pub tag: u32,
    /// `AES_CM_128_HMAC_SHA1_80` and the others.
    pub suite: &'a str,
    /// The keys (several are separated by `;`).
    pub keys: Vec<KeyParam<'a>>,
    /// Session parameters (`KDR=`, `UNENCRYPTED_SRTP`...), as written.
    pub session_params: Vec<&'a str>,
}

impl<'a> Crypto<'a> {
    /// Parses a crypto value.
    pub fn parse(v: &'a str) -> Result<Self, Fault> {
        let mut it = v.split([' ', '\t']).filter(|x| !x.is_empty());
        let tag = it.next().ok_or(Fault::Empty)?;
        let tag =
            u32::try_from(crate::scan::parse_u64(tag)?).map_err(|_| Fault::NumberOutOfRange)?;
        let suite = it.next().ok_or(Fault::Expected(' '))?;
        if !suite
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(Fault::InvalidCharacter);
        }
        let key_params = it.next().ok_or(Fault::Expected(' '))?;
        let mut keys = Vec::new();
        for kp in key_params.split(';') {
            let info = kp.strip_prefix("inline:").ok_or(Fault::Expected(':'))?;
            let mut parts = info.split('|');
            let key_salt = parts.next().filter(|k| !k.is_empty()).ok_or(Fault::Empty)?;
            if !key_salt
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
            {
                return Err(Fault::InvalidBase64);
            }
            let mut key = KeyParam {
                key_salt,
                lifetime_text: None,
                mki: None,
                mki_length: None,
            };
            for p in parts {
                if let Some((val, len)) = p.split_once(':') {
                    if key.mki.is_some() {
                        return Err(Fault::TrailingCharacters);
                    }
                    let val = u32::try_from(crate::scan::parse_u64(val)?)
                        .map_err(|_| Fault::NumberOutOfRange)?;
                    let len = crate::scan::parse_u64(len)?;
                    let len = u8::try_from(len)
                        .ok()
                        .filter(|l| (1..=128).contains(l))
                        .ok_or(Fault::NumberOutOfRange)?;
                    key.mki = Some(val);
                    key.mki_length = Some(len);
                } else {
                    if key.lifetime_text.is_some() || key.mki.is_some() {
                        return Err(Fault::TrailingCharacters);
                    }
                    let digits = p.strip_prefix("2^").unwrap_or(p);
                    crate::scan::parse_u64(digits)?;
                    key.lifetime_text = Some(p);
                }
            }
            keys.push(key);
        }
        Ok(Crypto {
            tag,
            suite,
            keys,
            session_params: it.collect(),
        })
    }
}

impl fmt::Display for Crypto<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "inline:{}", k.key_salt)?;
            if let Some(l) = k.lifetime_text {
                write!(f, "|{l}")?;
            }
            if let (Some(v), Some(l)) = (k.mki, k.mki_length) {
                write!(f, "|{v}:{l}")?;
            }
        }
        for p in &self.session_params {
            write!(f, " {p}")?;
        }
        Ok(())
    }
}

fn write_attrs(f: &mut fmt::Formatter<'_>, attrs: &[Attribute<'_>]) -> fmt::Result {
    for a in attrs {
        match a.value {
            Some(v) => write!(f, "a={}:{}\r\n", a.name, v)?,
            None => write!(f, "a={}\r\n", a.name)?,
        }
    }
    Ok(())
}

impl fmt::Display for Connection<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.net_type, self.addr_type, self.address)
    }
}

impl fmt::Display for SessionDescription<'_> {
    /// Writes the description with CRLF line ends, in the order of RFC 4566 §5.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = &self.origin;
        write!(f, "v={}\r\n", self.version)?;
        write!(
            f,
            "o={} {} {} {} {} {}\r\n",
            o.username, o.session_id, o.session_version, o.net_type, o.addr_type, o.address
        )?;
        write!(f, "s={}\r\n", self.session_name)?;
        if let Some(i) = self.information {
            write!(f, "i={i}\r\n")?;
        }
        if let Some(u) = self.uri {
            write!(f, "u={u}\r\n")?;
        }
        for e in &self.emails {
            write!(f, "e={e}\r\n")?;
        }
        for p in &self.phones {
            write!(f, "p={p}\r\n")?;
        }
        if let Some(c) = &self.connection {
            write!(f, "c={c}\r\n")?;
        }
        for b in &self.bandwidths {
            write!(f, "b={}:{}\r\n", b.kind, b.value)?;
        }
        for t in &self.timings {
            write!(f, "t={} {}\r\n", t.start, t.stop)?;
            for r in &t.repeats {
                write!(f, "r={r}\r\n")?;
            }
        }
        if let Some(z) = self.zone {
            write!(f, "z={z}\r\n")?;
        }
        if let Some(k) = self.key {
            write!(f, "k={k}\r\n")?;
        }
        write_attrs(f, &self.attributes)?;
        for m in &self.media {
            write!(f, "m={} {}", m.media, m.port)?;
            if let Some(n) = m.num_ports {
                write!(f, "/{n}")?;
            }
            write!(f, " {}", m.proto)?;
            for fmt_ in &m.formats {
                write!(f, " {fmt_}")?;
            }
            f.write_str("\r\n")?;
            if let Some(i) = m.information {
                write!(f, "i={i}\r\n")?;
            }
            for c in &m.connections {
                write!(f, "c={c}\r\n")?;
            }
            for b in &m.bandwidths {
                write!(f, "b={}:{}\r\n", b.kind, b.value)?;
            }
            if let Some(k) = m.key {
                write!(f, "k={k}\r\n")?;
            }
            write_attrs(f, &m.attributes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDP: &str = "v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n";

    #[test]
    fn rfc4475_body() {
        let sd = SessionDescription::parse(SDP).unwrap();
        assert_eq!(sd.origin.username, "mhandley");
        assert_eq!(sd.media.len(), 2);
        assert_eq!(sd.media[1].formats, ["31"]);
        assert_eq!(sd.to_string(), SDP);
        // RFC 4475's "a=rtpmap:31 LPC" lacks the clock rate: the attribute parses, the
        // typed rtpmap view reports it.
        assert_eq!(
            RtpMap::parse(sd.media[1].attribute("rtpmap").unwrap()),
            Err(Fault::Expected('/'))
        );
    }

    #[test]
    fn crypto_rfc4568_and_ms_sdpext() {
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32",
        )
        .unwrap();
        assert_eq!(c.keys[0].lifetime(), Some(1 << 20));
        assert_eq!((c.keys[0].mki, c.keys[0].mki_length), (Some(1), Some(32)));
        assert_eq!(c.keys[0].key_salt().unwrap().len(), 30);
        assert_eq!(
            c.to_string(),
            "1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^20|1:32"
        );
        let c = Crypto::parse("2 F8_128_HMAC_SHA1_80 inline:MTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5QUJjZGVm|2^20|1:4;inline:QUJjZGVmMTIzNDU2Nzg5QUJDREUwMTIzNDU2Nzg5|2^20|2:4 FEC_ORDER=FEC_SRTP").unwrap();
        assert_eq!(c.keys.len(), 2);
        assert_eq!(c.session_params, ["FEC_ORDER=FEC_SRTP"]);
        // [MS-SDPEXT]: no MKI
        let c = Crypto::parse(
            "3 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31",
        )
        .unwrap();
        assert_eq!(c.keys[0].mki, None);
        assert_eq!(Crypto::parse("x AES inline:a"), Err(Fault::InvalidNumber));
        assert_eq!(
            Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 key:a").unwrap_err(),
            Fault::Expected(':')
        );
        assert_eq!(
            Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:a|1:0").unwrap_err(),
            Fault::NumberOutOfRange
        );
    }

    #[test]
    fn candidates() {
        let c = Candidate::parse("1 1 UDP 2130706431 192.0.2.1 50000 typ host").unwrap();
        assert!(matches!(
            c,
            Candidate::Ice {
                port: 50000,
                kind: "host",
                ..
            }
        ));
        let c = Candidate::parse(
            "2 1 UDP 1694498815 198.51.100.1 50001 typ srflx raddr 192.0.2.1 rport 50000",
        )
        .unwrap();
        assert!(matches!(
            c,
            Candidate::Ice {
                rest: "raddr 192.0.2.1 rport 50000",
                ..
            }
        ));
        let c = Candidate::parse(
            "y2hTxdVVdNsPyaRn0ZUBGs6uCcw1 1 tKKmnuyTZvSRm4Xz1kVgiA UDP 0.830 192.168.1.2 24386",
        )
        .unwrap();
        assert!(matches!(
            c,
            Candidate::MsIce6 {
                q: "0.830",
                port: 24386,
                ..
            }
        ));
    }

    #[test]
    fn faults_with_offsets() {
        let e = SessionDescription::parse("v=1\r\n").unwrap_err();
        assert_eq!(
            e,
            Error::Sdp {
                line: 'v',
                fault: Fault::InvalidVersion,
                offset: 2
            }
        );
        let e = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4\r\n").unwrap_err();
        assert!(
            matches!(
                e,
                Error::Sdp {
                    line: 'o',
                    offset: 7,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = SessionDescription::parse(
            "v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\nm=audio 99999 RTP/AVP 0\r\n",
        )
        .unwrap_err();
        assert!(
            matches!(
                e,
                Error::Sdp {
                    line: 'm',
                    fault: Fault::InvalidPort,
                    ..
                }
            ),
            "{e:?}"
        );
        let e = SessionDescription::parse("v=0\r\no=- 1 1 IN IP4 h\r\ns=x\r\nt=0 0\r\nv=0\r\n")
            .unwrap_err();
        assert!(matches!(e, Error::Sdp { line: 'v', .. }), "{e:?}");
        let lim = SdpLimits {
            max_lines: 3,
            ..SdpLimits::default()
        };
        assert!(SessionDescription::parse_with(SDP, &lim).is_err());
        let lim = SdpLimits {
            max_media: 1,
            ..SdpLimits::default()
        };
        assert!(SessionDescription::parse_with(SDP, &lim).is_err());
    }

    #[test]
    fn lf_only_is_tolerated() {
        let lf = SDP.replace("\r\n", "\n");
        let sd = SessionDescription::parse(&lf).unwrap();
        assert_eq!(sd.to_string(), SDP);
    }
}
