//! The signature input of [MS-SIPAE] message signing.
//!
//! Once NTLM or Kerberos authentication is done, OCS and Office Communicator sign every message:
//! selected fields are written as `<value>` items in a fixed order, and that string is what the
//! GSS MIC ([MS-NLMP] 3.1.4 for NTLM, RFC 1964 for Kerberos) covers. The MIC itself is not
//! computed here. The field order is that of [MS-SIPAE] 3.2.5.x and of the pidgin-sipe
//! implementation, checked against a signed `180 Ringing` captured from OCS 2007 R2.

use bytes::BufMut;

use crate::error::Error;
use crate::headers::Auth;
use crate::message::Message;

/// The authentication context fields that enter the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureContext<'a> {
    /// `NTLM` or `Kerberos`, as the auth header writes it.
    pub scheme: &'a str,
    /// `crand` for a message the client signs, `srand` for one the server signs.
    pub rand: &'a str,
    /// `cnum` or `snum`.
    pub num: &'a str,
    /// `realm`.
    pub realm: &'a str,
    /// `targetname`.
    pub target_name: &'a str,
    /// The negotiated protocol version (the `version` auth parameter; 2 when absent). From
    /// version 3 on the To URI and the P-Asserted-Identity URIs are signed too.
    pub version: u32,
}

impl<'a> SignatureContext<'a> {
    /// The context a received message's own signature header carries (`Authentication-Info`
    /// from a server with `srand`/`snum`, or credentials from a client with `crand`/`cnum`).
    /// `version` is used when the header has no `version` parameter.
    #[must_use]
    pub fn from_auth(auth: &Auth<'a>, version: u32) -> Option<Self> {
        Some(SignatureContext {
            scheme: auth.scheme_name?,
            rand: auth.srand().or_else(|| auth.crand())?,
            num: auth.snum().or_else(|| auth.cnum())?,
            realm: auth.realm().unwrap_or(""),
            target_name: auth.targetname().unwrap_or(""),
            version: auth
                .version()
                .and_then(|v| v.parse().ok())
                .unwrap_or(version),
        })
    }
}

fn item(out: &mut impl BufMut, v: &str) {
    out.put_u8(b'<');
    out.put_slice(v.as_bytes());
    out.put_u8(b'>');
}

/// The URI as written inside the angle brackets, or the addr-spec before its parameters.
fn uri_of(v: &str) -> &str {
    let v = v.trim();
    match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => &v[a + 1..b],
        _ => v.split(';').next().unwrap_or(v),
    }
}

/// Writes the signature input of `msg` into `out`.
///
/// ```
/// use bytes::Bytes;
/// use ocs_sip_codec::{Message, HeaderName, headers::Auth};
/// use ocs_sip_codec::sign::{signature_input, SignatureContext};
///
/// let msg = Message::parse(Bytes::from_static(b"SIP/2.0 200 OK\r\n\
///     Authentication-Info: NTLM rspauth=\"01\", srand=\"AB12\", snum=\"3\", qop=\"auth\", targetname=\"fe.contoso.com\", realm=\"SIP Communications Service\"\r\n\
///     Via: SIP/2.0/TLS 10.0.0.1:5061;branch=z9hG4bK1\r\nFrom: <sip:a@contoso.com>;tag=1\r\n\
///     To: <sip:b@contoso.com>;tag=2\r\nCall-ID: c\r\nCSeq: 7 MESSAGE\r\nContent-Length: 0\r\n\r\n")).unwrap();
/// let auth = msg.auth(HeaderName::AuthenticationInfo).next().unwrap().unwrap();
/// let ctx = SignatureContext::from_auth(&auth, 3).unwrap();
/// let mut out = Vec::new();
/// signature_input(&msg, &ctx, &mut out).unwrap();
/// assert_eq!(out, b"<NTLM><AB12><3><SIP Communications Service><fe.contoso.com><c><7><MESSAGE>\
///     <sip:a@contoso.com><1><sip:b@contoso.com><2><><><><200>");
/// ```
pub fn signature_input(
    msg: &Message,
    ctx: &SignatureContext<'_>,
    out: &mut impl BufMut,
) -> Result<(), Error> {
    let cseq = msg.cseq()?;
    let from = msg.from()?;
    let to = msg.to()?;
    let call_id = msg.call_id()?;
    let from_hdr = msg.header(crate::HeaderName::From).map_or("", |h| h.value);
    let to_hdr = msg.header(crate::HeaderName::To).map_or("", |h| h.value);
    item(out, ctx.scheme);
    item(out, ctx.rand);
    item(out, ctx.num);
    item(out, ctx.realm);
    item(out, ctx.target_name);
    item(out, call_id);
    item(out, &cseq.seq.to_string());
    item(out, cseq.method);
    item(out, uri_of(from_hdr));
    item(out, from.tag().unwrap_or(""));
    if ctx.version >= 3 {
        item(out, uri_of(to_hdr));
    }
    item(out, to.tag().unwrap_or(""));
    if ctx.version >= 3 {
        let mut sip = "";
        let mut tel = "";
        for id in msg.asserted_identities() {
            id?;
        }
        for (value, _) in msg.values(crate::HeaderName::PAssertedIdentity) {
            let uri = uri_of(value);
            let scheme = uri.split(':').next().unwrap_or("");
            if sip.is_empty()
                && (scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips"))
            {
                sip = uri;
            } else if tel.is_empty() && scheme.eq_ignore_ascii_case("tel") {
                tel = uri;
            }
        }
        item(out, sip);
        item(out, tel);
    }
    let expires = msg
        .header(crate::HeaderName::Expires)
        .map_or("", |h| h.value);
    item(out, expires);
    if let Some(code) = msg.status() {
        item(out, &code.to_string());
    }
    Ok(())
}
