//! [MS-SIPAE] Kerberos: the server's side of the one-leg Kerberos handshake and the message
//! signatures made with its security context, through MIT GSSAPI (`libgssapi_krb5`, via the
//! `libgssapi` crate).
//!
//! ## What goes over the wire
//!
//! As [MS-SIPAE] describes it (3.1, 3.2.2, 3.2.5.2, 3.3.5.2, the 4.2 example), as
//! [MS-SIPREGE]'s Kerberos `200 OK` example shows it, and as pidgin-sipe 1.25 does it
//! (`sip-transport.c`, `sip-sec-gssapi.c`, `sip-sec.c`, `sipe-sign.c`); where the
//! specifications are silent, sipe decides.
//!
//! 1. The challenge (4.2 step 2) names the service principal as `sip/` + the server's FQDN:
//!    `WWW-Authenticate: Kerberos realm="SIP Communications Service",
//!    targetname="sip/ocs.contoso.com", version=3`.
//! 2. The client imports the targetname as the host-based service `sip@ocs.contoso.com`
//!    (`GSS_C_NT_HOSTBASED_SERVICE`, `/` replaced by `@`), which MIT maps to
//!    `sip/ocs.contoso.com@REALM` (after DNS canonicalisation unless the client's krb5.conf
//!    turns it off). It calls `gss_init_sec_context` once with the krb5 mechanism, the flags
//!    `GSS_C_INTEG_FLAG` alone (no mutual authentication, no replay or sequence detection, no
//!    delegation) and no channel bindings. Its credential is the default ccache (single
//!    sign-on) or, with a password, `gss_acquire_cred_with_password` for
//!    `user@UPPER-CASED-DOMAIN`.
//! 3. That one call completes the client's context; it sends the REGISTER again with
//!    `Authorization: Kerberos qop="auth", realm="SIP Communications Service",
//!    targetname="sip/ocs.contoso.com", gssapi-data="<base64>", version=3`. The gssapi-data is
//!    the whole GSS initial context token (RFC 2743 3.1: `0x60`, length, the krb5 OID
//!    1.2.840.113554.1.2.2, RFC 4121 4.1 TOK_ID `01 00`, the `KRB_AP_REQ`). There is no
//!    `opaque` yet, and with version 3 no signature; with `version=4` in the challenge, sipe
//!    also signs this REGISTER (`crand`, `cnum`, `response`), since its context is complete.
//! 4. There is no second leg: 3.3.5.2 names NTLM and TLS-DSK as the protocols that "require
//!    more than one round trip", so there is no second 401 for Kerberos. Because the client asked
//!    for no mutual authentication, `GSS_Accept_sec_context` completes with no output token
//!    (no `KRB_AP_REP`); [`Accepted::token`] is `None` for sipe. A `gssapi-data` in the final
//!    response would be stored by sipe but never fed to GSSAPI.
//! 5. The server answers the REGISTER with its final response, signed
//!    ([MS-SIPREGE]'s Kerberos 200 OK example has this shape): `Authentication-Info: Kerberos
//!    rspauth="<hex MIC>", srand="<8 hex>", snum="1", opaque="<8 hex>", qop="auth",
//!    targetname="sip/ocs.contoso.com", realm="SIP Communications Service"`. sipe looks for
//!    that header under the name `Authentication-Info` only, learns `opaque` from it (the only
//!    place a Kerberos client can), and checks `rspauth` *before* it processes the response: a
//!    wrong one drops the connection ("Invalid message signature received").
//! 6. From then on each request carries `Authorization` or `Proxy-Authorization: Kerberos
//!    qop="auth", opaque="…", realm="…", targetname="sip/ocs.contoso.com", crand="<8 hex>",
//!    cnum="<n>", response="<hex MIC>"` and each response from the server an
//!    `Authentication-Info` with `rspauth`, `srand`, `snum`.
//!
//! ## Signatures
//!
//! A signature is `GSS_GetMIC` (the client's, [`KerberosContext::verify_mic`] here) or the
//! server's ([`KerberosContext::get_mic`]) over the same buffer as for NTLM, with `Kerberos`
//! as the scheme: `<Kerberos><crand|srand><cnum|snum><realm><targetname><Call-ID><CSeq
//! number><CSeq method><From URI><From tag><To URI><To tag><P-Asserted-Identity sip
//! URI><P-Asserted-Identity tel URI><Expires><status code, responses only>` (sipe's version 3
//! layout), each value as it is on the wire, the targetname with its `sip/` prefix, and no
//! trailing NUL. It travels as hex (sipe writes upper case and reads either). With the AES
//! enctypes a MIC is an RFC 4121 4.2.6.1 token (`04 04`, 28 bytes); with RC4-HMAC an RFC 4757
//! token inside the RFC 2743 framing (`60 23 06 09 2A 86 48 86 F7 12 01 02 02 01 01 11 00
//! FF FF FF FF …`, [MS-SIPREGE]'s example). Since sipe asks for no sequence detection, MICs
//! verify in any order, so reordered or retransmitted UDP requests still verify. [MS-SIPAE]
//! 3.2.5.2: for Kerberos the client finds the security association by the targetname without
//! its `sip/` prefix. [MS-SIPAE] 3.2.2: the client re-authenticates before the lesser of the
//! ticket's end and eight hours, minus at least five minutes ([`Accepted::lifetime`] is what
//! the ticket has left).
//!
//! ## Example
//!
//! ```no_run
//! use std::path::Path;
//!
//! use ocs_stack::server::sip::kerberos::KerberosAcceptor;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // At start-up, in a process started with KRB5_KTNAME=FILE:/etc/ocs/sip.keytab.
//! let acceptor = KerberosAcceptor::new(Path::new("/etc/ocs/sip.keytab"), "sip/ocs.contoso.com")?;
//! # let gssapi_data: Vec<u8> = Vec::new();
//! # let (request_buffer, response) = (b"<Kerberos>".as_slice(), Vec::<u8>::new());
//! // The REGISTER's gssapi-data, base64-decoded: one call authenticates.
//! let mut sa = acceptor.accept(&gssapi_data)?;
//! assert_eq!(sa.principal, "alice@CONTOSO.COM");
//! // The 200 OK's rspauth, over its signature buffer.
//! let rspauth = hex::encode_upper(sa.context.get_mic(b"<Kerberos><5e058a82><1>...<200>")?);
//! // A later request's response="...", hex-decoded, over its own buffer.
//! sa.context.verify_mic(request_buffer, &response)?;
//! # let _ = rspauth;
//! # Ok(())
//! # }
//! ```
//!
//! ## Limits
//!
//! * Not sans-IO: MIT reads the keytab and the clock and writes its replay cache (in
//!   `KRB5RCACHEDIR`, else `/var/tmp`) during [`KerberosAcceptor::accept`]. All are local
//!   and fast, but they happen in the caller's thread.
//! * The keytab reaches MIT only through the process's `KRB5_KTNAME`: the `libgssapi` crate
//!   does not wrap `gss_acquire_cred_from`, and this crate changes no environment variable
//!   (that needs `unsafe`). [`KerberosAcceptor::new`] therefore checks that `KRB5_KTNAME`
//!   names the keytab it is given and refuses otherwise; [`ktname`] gives the value to start
//!   the server with (`Command::env`, or re-exec with `CommandExt::exec`).
//! * A token is at most [`MAX_TOKEN_LEN`] bytes; anything that is not a krb5 AP-REQ initial
//!   token is refused before it reaches GSSAPI, with the byte offset of the fault.
//! * One leg only: a mechanism that wants another round trip is an error
//!   ([`KerberosError::Incomplete`]); anonymous tickets are refused.
#![cfg(feature = "kerberos")]

use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use libgssapi::context::{CtxFlags, SecurityContext, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::error::{Error as GssError, MajorFlags};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_KRB5_PRINCIPAL, OidSet};

/// The largest `gssapi-data` token accepted, in bytes. A Windows KDC's tickets carry a PAC and
/// stay under Windows' own `MaxTokenSize` (48,000 bytes by default); 64 KiB leaves room.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// The krb5 mechanism, 1.2.840.113554.1.2.2 (RFC 1964 1), as its DER content bytes.
const KRB5_OID: &[u8] = b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02";
/// Microsoft's historical krb5 OID, 1.2.840.48018.1.2.2, which MIT accepts as krb5 too.
const KRB5_MS_OID: &[u8] = b"\x2a\x86\x48\x82\xf7\x12\x01\x02\x02";
/// RFC 4121 4.1: the TOK_ID of a `KRB_AP_REQ` inside the initial context token.
const TOK_ID_AP_REQ: [u8; 2] = [0x01, 0x00];
/// The minor status of a replayed authenticator: `KRB5KRB_AP_ERR_REPEAT`, code 34 of the krb5
/// com_err table (base `0x96c73a00`), the same in MIT and Heimdal. MIT reports it under a plain
/// `GSS_S_FAILURE`, not `GSS_S_DUPLICATE_TOKEN`.
const KRB5KRB_AP_ERR_REPEAT: u32 = 0x96c7_3a00 + 34;

/// The value of `KRB5_KTNAME` that makes MIT use `keytab`: `FILE:` and the path.
#[must_use = "pass it to the server's environment"]
pub fn ktname(keytab: &Path) -> OsString {
    let mut s = OsString::from("FILE:");
    s.push(keytab.as_os_str());
    s
}

/// The server's acceptor credential: the service principal's keys, from a keytab.
///
/// Make one at start-up and keep it; [`accept`](Self::accept) makes a fresh context for each
/// client. It is `Send + Sync`.
#[derive(Debug)]
pub struct KerberosAcceptor {
    cred: Cred,
    service: String,
    keytab: PathBuf,
}

impl KerberosAcceptor {
    /// Acquires the acceptor credential of `service` (the [MS-SIPAE] targetname, e.g.
    /// `sip/ocs.contoso.com`, with or without `@REALM`; without, the default realm of the
    /// krb5.conf) from `keytab`.
    ///
    /// The process's `KRB5_KTNAME` must name `keytab` (see [`ktname`]); MIT reads the file now,
    /// so a keytab without the principal fails here, not at the first client.
    pub fn new(keytab: &Path, service: &str) -> Result<Self, KerberosError> {
        let (primary, rest) = service
            .split_once('/')
            .ok_or_else(|| KerberosError::ServiceName(service.to_owned()))?;
        let host = rest.split_once('@').map_or(rest, |(h, _)| h);
        if primary.is_empty() || host.is_empty() || service.contains(char::is_whitespace) {
            return Err(KerberosError::ServiceName(service.to_owned()));
        }
        let wanted = std::fs::canonicalize(keytab).map_err(|source| KerberosError::Keytab {
            path: keytab.to_owned(),
            source,
        })?;
        let found = std::env::var_os("KRB5_KTNAME");
        let selected = found.as_ref().and_then(|v| {
            let v = v.to_str()?;
            let path = v
                .strip_prefix("FILE:")
                .or_else(|| v.strip_prefix("WRFILE:"))
                .unwrap_or(v);
            std::fs::canonicalize(path).ok()
        });
        if selected.as_deref() != Some(wanted.as_path()) {
            return Err(KerberosError::KeytabNotSelected {
                keytab: keytab.to_owned(),
                found,
            });
        }
        let credential = |status: GssError| KerberosError::Credential {
            service: service.to_owned(),
            keytab: keytab.to_owned(),
            status: status.into(),
        };
        let krb5 = OidSet::singleton(GSS_MECH_KRB5).map_err(credential)?;
        let name = Name::new(service.as_bytes(), Some(GSS_NT_KRB5_PRINCIPAL))
            .and_then(|n| n.canonicalize(Some(GSS_MECH_KRB5)))
            .map_err(credential)?;
        let cred =
            Cred::acquire(Some(&name), None, CredUsage::Accept, Some(&krb5)).map_err(credential)?;
        let service = name
            .display_name()
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(credential)?;
        Ok(KerberosAcceptor {
            cred,
            service,
            keytab: keytab.to_owned(),
        })
    }

    /// The service principal, with its realm: `sip/ocs.contoso.com@CONTOSO.COM`.
    pub fn service(&self) -> &str {
        &self.service
    }

    /// The keytab the credential came from.
    pub fn keytab(&self) -> &Path {
        &self.keytab
    }

    /// Accepts the client's `gssapi-data` (base64-decoded): the krb5 initial context token
    /// with its AP-REQ. One call completes the context; a replayed token, a ticket for another
    /// principal or an expired one is an error.
    pub fn accept(&self, token: &[u8]) -> Result<Accepted, KerberosError> {
        check_initial_token(token)?;
        let mut ctx = ServerCtx::new(Some(self.cred.clone()));
        let out = ctx.step(token, None).map_err(|e| {
            let status = GssStatus::from(e);
            if status.minor == KRB5KRB_AP_ERR_REPEAT
                || status.major & MajorFlags::GSS_S_DUPLICATE_TOKEN.bits() != 0
            {
                KerberosError::Replay(status)
            } else {
                KerberosError::Accept(status)
            }
        })?;
        if !ctx.is_complete() {
            return Err(KerberosError::Incomplete);
        }
        let inquire = |e: GssError| KerberosError::Inquire(e.into());
        let flags = ctx.flags().map_err(inquire)?;
        if flags.contains(CtxFlags::GSS_C_ANON_FLAG) {
            return Err(KerberosError::Anonymous);
        }
        if !flags.contains(CtxFlags::GSS_C_INTEG_FLAG) {
            return Err(KerberosError::NoIntegrity);
        }
        let name = ctx.source_name().map_err(inquire)?;
        let name = name.display_name().map_err(inquire)?;
        let principal = String::from_utf8(name.to_vec()).map_err(|_| KerberosError::Principal)?;
        let lifetime = ctx.lifetime().map_err(inquire)?;
        Ok(Accepted {
            principal,
            token: out.map(|b| b.to_vec()),
            lifetime,
            context: KerberosContext { ctx },
        })
    }
}

/// A completed acceptance: who the client is and the context to sign with.
#[derive(Debug)]
pub struct Accepted {
    /// The client's principal with its realm, as the ticket names it: `alice@CONTOSO.COM`.
    pub principal: String,
    /// A token for the client (a `KRB_AP_REP`) when it asked for mutual authentication, for a
    /// `gssapi-data` in the final response; `None` for pidgin-sipe, which does not.
    pub token: Option<Vec<u8>>,
    /// How long the context (the client's service ticket) stays valid.
    pub lifetime: Duration,
    /// The security context, for the [MS-SIPAE] message signatures.
    pub context: KerberosContext,
}

/// The server's side of one client's security association: makes and checks MICs.
///
/// It is `Send` but not `Sync`: GSSAPI allows one call at a time on a context.
#[derive(Debug)]
pub struct KerberosContext {
    ctx: ServerCtx,
}

impl KerberosContext {
    /// `GSS_GetMIC` over `data` (the signature buffer of a message the server sends): the
    /// bytes whose hex is the `rspauth`.
    pub fn get_mic(&mut self, data: &[u8]) -> Result<Vec<u8>, KerberosError> {
        self.ctx
            .get_mic(data)
            .map(|b| b.to_vec())
            .map_err(|e| KerberosError::GetMic(e.into()))
    }

    /// `GSS_VerifyMIC` of the client's `mic` (the `response`, hex-decoded) over `data` (the
    /// signature buffer of its request).
    pub fn verify_mic(&mut self, data: &[u8], mic: &[u8]) -> Result<(), KerberosError> {
        self.ctx.verify_mic(data, mic).map_err(|e| {
            let status = GssStatus::from(e);
            let bad = MajorFlags::GSS_S_BAD_SIG.bits() | MajorFlags::GSS_S_DEFECTIVE_TOKEN.bits();
            if status.major & bad != 0 {
                KerberosError::BadSignature(status)
            } else if status.is_supplementary_only() {
                KerberosError::Sequence(status)
            } else {
                KerberosError::VerifyMic(status)
            }
        })
    }
}

/// A GSSAPI status: the major and minor codes and MIT's words for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GssStatus {
    /// The major status (RFC 2744 3.9.1): routine error, calling error, supplementary bits.
    pub major: u32,
    /// The mechanism's minor status (a krb5 error code for the krb5 mechanism).
    pub minor: u32,
    /// `gss_display_status` of both.
    pub message: String,
}

impl GssStatus {
    /// True when the major status has only supplementary bits (a duplicate, old, early or
    /// late token) and no error.
    fn is_supplementary_only(&self) -> bool {
        self.major & 0xffff_0000 == 0
    }
}

impl From<GssError> for GssStatus {
    fn from(e: GssError) -> Self {
        GssStatus {
            major: e.major.bits(),
            minor: e.minor,
            message: e.to_string(),
        }
    }
}

impl fmt::Display for GssStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (major {:#x}, minor {})",
            self.message.trim_end(),
            self.major,
            self.minor
        )
    }
}

/// What is wrong with a token before GSSAPI sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFault {
    /// The token is empty.
    Empty,
    /// It does not start with the RFC 2743 3.1 application tag `0x60`.
    NotInitialContextToken,
    /// The DER length is cut short, longer than four bytes, or does not match the token.
    Length,
    /// No mechanism OID follows the length.
    NoMechanism,
    /// The mechanism is not krb5 (an SPNEGO or NTLM token, for example).
    NotKerberos,
    /// The inner token is not a `KRB_AP_REQ` (TOK_ID `01 00`).
    NotApReq,
}

impl fmt::Display for TokenFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenFault::Empty => "empty token",
            TokenFault::NotInitialContextToken => "no initial context token tag 0x60",
            TokenFault::Length => "bad DER length",
            TokenFault::NoMechanism => "no mechanism OID",
            TokenFault::NotKerberos => "mechanism is not krb5",
            TokenFault::NotApReq => "inner token is not a KRB_AP_REQ",
        })
    }
}

/// Why a Kerberos step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KerberosError {
    /// The service name is not `service/host` with an optional `@REALM`.
    #[error("service name {0:?} is not of the form service/host[@REALM]")]
    ServiceName(String),
    /// The keytab cannot be found.
    #[error("keytab {}: {source}", path.display())]
    Keytab {
        /// The keytab given.
        path: PathBuf,
        /// Why it cannot be resolved.
        source: std::io::Error,
    },
    /// `KRB5_KTNAME` is unset or names another keytab, so MIT would not read this one.
    #[error(
        "KRB5_KTNAME is {found:?}, not FILE:{}: MIT GSSAPI reads acceptor keys only from \
         the keytab KRB5_KTNAME names; start the server with that variable set",
        keytab.display()
    )]
    KeytabNotSelected {
        /// The keytab given.
        keytab: PathBuf,
        /// The value of `KRB5_KTNAME`, if set.
        found: Option<OsString>,
    },
    /// GSSAPI could not acquire the acceptor credential (no key for the principal, say).
    #[error("acceptor credential for {service} from {}: {status}", keytab.display())]
    Credential {
        /// The service name given.
        service: String,
        /// The keytab given.
        keytab: PathBuf,
        /// GSSAPI's status.
        status: GssStatus,
    },
    /// The token is longer than [`MAX_TOKEN_LEN`].
    #[error("gssapi-data of {len} bytes is over the limit of {limit}")]
    TokenTooLarge {
        /// The token's length.
        len: usize,
        /// [`MAX_TOKEN_LEN`].
        limit: usize,
    },
    /// The token is not a krb5 AP-REQ initial context token.
    #[error("gssapi-data is not a krb5 AP-REQ: {fault} at byte {offset}")]
    Token {
        /// Where the fault is, from the start of the token.
        offset: usize,
        /// What it is.
        fault: TokenFault,
    },
    /// `GSS_Accept_sec_context` refused the AP-REQ (bad ticket, wrong principal, clock skew,
    /// expired ticket).
    #[error("GSS_Accept_sec_context: {0}")]
    Accept(GssStatus),
    /// The AP-REQ was accepted before: MIT's replay cache has its authenticator.
    #[error("replayed AP-REQ: {0}")]
    Replay(GssStatus),
    /// The mechanism wants another leg, which [MS-SIPAE] Kerberos does not have.
    #[error("the Kerberos context is not complete after the one [MS-SIPAE] leg")]
    Incomplete,
    /// The context is anonymous.
    #[error("anonymous Kerberos context")]
    Anonymous,
    /// The context offers no integrity protection, so it cannot sign.
    #[error("the Kerberos context has no integrity protection")]
    NoIntegrity,
    /// The client principal's name is not UTF-8.
    #[error("the client principal is not UTF-8")]
    Principal,
    /// Asking GSSAPI about the completed context failed.
    #[error("GSS_Inquire_context: {0}")]
    Inquire(GssStatus),
    /// `GSS_GetMIC` failed.
    #[error("GSS_GetMIC: {0}")]
    GetMic(GssStatus),
    /// The MIC does not match the data, or is not a MIC token.
    #[error("signature does not verify: {0}")]
    BadSignature(GssStatus),
    /// The MIC is genuine but out of sequence or a duplicate; only when the client asked for
    /// replay or sequence detection, which pidgin-sipe does not.
    #[error("signature out of sequence: {0}")]
    Sequence(GssStatus),
    /// `GSS_VerifyMIC` failed otherwise (an expired context, say).
    #[error("GSS_VerifyMIC: {0}")]
    VerifyMic(GssStatus),
}

/// Checks that `token` is an RFC 2743 3.1 initial context token of the krb5 mechanism holding
/// a `KRB_AP_REQ` (RFC 4121 4.1), no longer than [`MAX_TOKEN_LEN`].
fn check_initial_token(token: &[u8]) -> Result<(), KerberosError> {
    let fault = |offset, fault| Err(KerberosError::Token { offset, fault });
    if token.len() > MAX_TOKEN_LEN {
        return Err(KerberosError::TokenTooLarge {
            len: token.len(),
            limit: MAX_TOKEN_LEN,
        });
    }
    match token.first() {
        None => return fault(0, TokenFault::Empty),
        Some(0x60) => {}
        Some(_) => return fault(0, TokenFault::NotInitialContextToken),
    }
    let (len, mut at) = match token.get(1) {
        None => return fault(1, TokenFault::Length),
        Some(&b) if b < 0x80 => (usize::from(b), 2),
        Some(&b) => {
            let n = usize::from(b & 0x7f);
            if n == 0 || n > 4 {
                return fault(1, TokenFault::Length);
            }
            let Some(bytes) = token.get(2..2 + n) else {
                return fault(1, TokenFault::Length);
            };
            let len = bytes.iter().fold(0usize, |l, &b| l << 8 | usize::from(b));
            (len, 2 + n)
        }
    };
    if len != token.len() - at {
        return fault(1, TokenFault::Length);
    }
    if token.get(at) != Some(&0x06) {
        return fault(at, TokenFault::NoMechanism);
    }
    let oid_len = match token.get(at + 1) {
        Some(&l) if l < 0x80 => usize::from(l),
        _ => return fault(at + 1, TokenFault::NoMechanism),
    };
    let Some(oid) = token.get(at + 2..at + 2 + oid_len) else {
        return fault(at + 1, TokenFault::NoMechanism);
    };
    if oid != KRB5_OID && oid != KRB5_MS_OID {
        return fault(at + 2, TokenFault::NotKerberos);
    }
    at += 2 + oid_len;
    if token.get(at..at + 2) != Some(&TOK_ID_AP_REQ[..]) {
        return fault(at, TokenFault::NotApReq);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::collection::vec;
    use proptest::prelude::any;

    use super::*;

    /// A krb5 initial context token around `inner` (TOK_ID and AP-REQ bytes).
    fn wrap(oid: &[u8], inner: &[u8]) -> Vec<u8> {
        let mut body = vec![0x06, oid.len() as u8];
        body.extend_from_slice(oid);
        body.extend_from_slice(inner);
        let mut t = vec![0x60];
        if body.len() < 0x80 {
            t.push(body.len() as u8);
        } else {
            t.push(0x82);
            t.extend_from_slice(&(body.len() as u16).to_be_bytes());
        }
        t.extend_from_slice(&body);
        t
    }

    fn fault_of(token: &[u8]) -> (usize, TokenFault) {
        match check_initial_token(token) {
            Err(KerberosError::Token { offset, fault }) => (offset, fault),
            other => panic!("expected a token fault, got {other:?}"),
        }
    }

    #[test]
    fn krb5_ap_req_tokens_pass() {
        check_initial_token(&wrap(KRB5_OID, &[0x01, 0x00, 0x6e, 0x00])).unwrap();
        check_initial_token(&wrap(KRB5_MS_OID, &[0x01, 0x00, 0x6e, 0x00])).unwrap();
        // Long-form length, as every real AP-REQ (over 127 bytes) has.
        let mut inner = vec![0x01, 0x00];
        inner.resize(600, 0x30);
        check_initial_token(&wrap(KRB5_OID, &inner)).unwrap();
    }

    #[test]
    fn faults_say_where() {
        assert_eq!(fault_of(&[]), (0, TokenFault::Empty));
        // An NTLM NEGOTIATE is not even a GSS token.
        assert_eq!(
            fault_of(b"NTLMSSP\0\x01"),
            (0, TokenFault::NotInitialContextToken)
        );
        assert_eq!(fault_of(&[0x60]), (1, TokenFault::Length));
        assert_eq!(
            fault_of(&[0x60, 0x85, 0, 0, 0, 0, 0]),
            (1, TokenFault::Length)
        );
        let mut t = wrap(KRB5_OID, &[0x01, 0x00]);
        t.push(0);
        assert_eq!(fault_of(&t), (1, TokenFault::Length));
        assert_eq!(
            fault_of(&[0x60, 0x02, 0x04, 0x00]),
            (2, TokenFault::NoMechanism)
        );
        // SPNEGO (1.3.6.1.5.5.2) is Negotiate, not Kerberos.
        let spnego = wrap(b"\x2b\x06\x01\x05\x05\x02", &[0xa0, 0x00]);
        assert_eq!(fault_of(&spnego), (4, TokenFault::NotKerberos));
        // A krb5 token that is not an AP-REQ: a KRB_AP_REP (TOK_ID 02 00).
        assert_eq!(
            fault_of(&wrap(KRB5_OID, &[0x02, 0x00, 0x6f])),
            (13, TokenFault::NotApReq)
        );
    }

    #[test]
    fn token_length_is_bounded() {
        let mut inner = vec![0x01, 0x00];
        inner.resize(MAX_TOKEN_LEN, 0);
        match check_initial_token(&wrap(KRB5_OID, &inner)) {
            Err(KerberosError::TokenTooLarge { limit, .. }) => assert_eq!(limit, MAX_TOKEN_LEN),
            other => panic!("expected TokenTooLarge, got {other:?}"),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        // Every prefix and every single-byte corruption of a valid token.
        let good = wrap(KRB5_OID, &[0x01, 0x00, 0x6e, 0x82, 0x01, 0x00]);
        for end in 0..good.len() {
            let _ = check_initial_token(&good[..end]);
        }
        for i in 0..good.len() {
            for b in [0x00, 0x7f, 0x80, 0x84, 0xff] {
                let mut t = good.clone();
                t[i] = b;
                let _ = check_initial_token(&t);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_tokens_never_panic(bytes in vec(any::<u8>(), 0..512)) {
            let _ = check_initial_token(&bytes);
        }
    }

    #[test]
    fn shareable_as_documented() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<KerberosAcceptor>();
        send::<KerberosContext>();
        send_sync::<KerberosError>();
    }

    #[test]
    fn ktname_is_a_file_keytab() {
        assert_eq!(
            ktname(Path::new("/srv/ocs/sip.keytab")),
            "FILE:/srv/ocs/sip.keytab"
        );
    }

    #[test]
    fn service_names_need_a_host() {
        for bad in ["sip", "sip/", "/host", "sip/@REALM", "sip/a b"] {
            match KerberosAcceptor::new(Path::new("/nonexistent"), bad) {
                Err(KerberosError::ServiceName(s)) => assert_eq!(s, bad),
                other => panic!("{bad}: expected ServiceName, got {other:?}"),
            }
        }
    }
}
