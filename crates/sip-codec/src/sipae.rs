//! [MS-SIPAE] authentication: the NTLM handshake in SIP, the security association, and message
//! signing; the Kerberos and TLS-DSK challenges and credentials parsed and exposed.
//!
//! The flow (section 3.2 and the 4.1 example): the server answers an unauthenticated request with
//! `401`/`407` carrying one challenge per protocol (`NTLM realm=.., targetname=.., version=3`);
//! the client sends credentials with an empty `gssapi-data`; the server answers with a second
//! challenge carrying `opaque` (the security association's name) and the base64
//! CHALLENGE_MESSAGE; the client sends the AUTHENTICATE_MESSAGE with that `opaque`; from then on
//! every message is signed: the client's credentials carry `crand`, `cnum` and `response`, the
//! server's `Authentication-Info` carries `srand`, `snum` and `rspauth`. The signed bytes are the
//! [`sign`](crate::sign) signature input; the signature is NTLM `GSS_GetMIC` in hex.
//!
//! Our reading where the spec is silent: the signature's sequence number is
//! [`SIGNATURE_SEQ_NUM`] (100), as in the OCS 2007 R2 `rspauth` of the captured test vector
//! (its last four bytes are `64000000`); `cnum`/`snum` protect against replay instead, through a
//! 64-message window per association.
//!
//! ```
//! use bytes::Bytes;
//! use ocs_sip_codec::{HeaderName, Message};
//! use ocs_sip_codec::ntlm::{Credentials, TargetInfo};
//! use ocs_sip_codec::sipae::{NtlmSipClient, NtlmSipServer, Verdict};
//!
//! let register = |auth: Option<&str>| {
//!     let mut b = ocs_sip_codec::build::MessageBuilder::request("REGISTER", "sip:contoso.com")
//!         .header("Via", "SIP/2.0/TLS 192.0.2.1:4320;branch=z9hG4bK1")
//!         .header("From", "<sip:alice@contoso.com>;tag=4a2b44d131")
//!         .header("To", "<sip:alice@contoso.com>")
//!         .header("Call-ID", "d5f2b95d").header("CSeq", "1 REGISTER");
//!     if let Some(a) = auth { b = b.header("Authorization", a); }
//!     b.build().unwrap()
//! };
//! let mut server = NtlmSipServer::new("server.contoso.com", TargetInfo::new("SERVER", "CONTOSO"));
//! let alice = Credentials::new("alice", "CONTOSO", "Passw0rd");
//! let hash = alice.nt_hash();
//! let lookup = |_: &str, _: &str| Some(hash);
//!
//! // 1. No credentials: the first challenge.
//! let Verdict::Challenge(www) = server.handle(&register(None), HeaderName::Authorization, [1; 8], "85185AE4", &lookup) else { panic!() };
//! // 2. The empty first leg, then the CHALLENGE_MESSAGE with opaque.
//! let mut client = NtlmSipClient::new(alice, "WS");
//! let first = client.first_credentials(&www).unwrap();
//! let Verdict::Challenge(www2) = server.handle(&register(Some(&first)), HeaderName::Authorization, [2; 8], "85185AE4", &lookup) else { panic!() };
//! // 3. AUTHENTICATE: the association exists on both sides.
//! let (third, mut sa) = client.answer(&www2, [3; 8], [4; 16]).unwrap();
//! let Verdict::Authenticated { opaque, user } = server.handle(&register(Some(&third)), HeaderName::Authorization, [0; 8], "", &lookup) else { panic!() };
//! assert_eq!(user, "CONTOSO\\alice");
//! // 4. Every later request is signed and verified.
//! let unsigned = register(None);
//! let creds = sa.sign(&unsigned, 0x1B6D47A1).unwrap();
//! let signed = unsigned.with_header("Authorization", &creds).unwrap();
//! assert!(matches!(server.handle(&signed, HeaderName::Authorization, [0; 8], "", &lookup), Verdict::Verified { .. }));
//! // ...and the server's responses carry rspauth, which the client checks.
//! let ok = signed.response(200, "OK", "srvtag").build().unwrap();
//! let info = server.sign_response(&opaque, &ok, 0x2C3D4E5F).unwrap();
//! sa.verify(&ok.with_header("Authentication-Info", &info).unwrap()).unwrap();
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use crate::headers::{Auth, AuthScheme};
use crate::message::Message;
use crate::name::HeaderName;
use crate::ntlm::{NegotiateMessage, NtlmClient, NtlmError, NtlmServer, NtlmSession, TargetInfo};
use crate::sign::{SignatureContext, signature_input};

/// The `realm` of every [MS-SIPAE] challenge.
pub const REALM: &str = "SIP Communications Service";
/// The sequence number inside every NTLM message signature (see the module documentation).
pub const SIGNATURE_SEQ_NUM: u32 = 100;
/// The protocol version we announce: 3 signs the To URI and P-Asserted-Identity too.
pub const VERSION: u32 = 3;

/// The headers that carry [MS-SIPAE] challenges, credentials and signatures.
pub const AUTH_HEADERS: [HeaderName; 6] = [
    HeaderName::WwwAuthenticate,
    HeaderName::ProxyAuthenticate,
    HeaderName::Authorization,
    HeaderName::ProxyAuthorization,
    HeaderName::AuthenticationInfo,
    HeaderName::ProxyAuthenticationInfo,
];

/// The [MS-SIPAE] security protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// NTLM ([MS-NLMP]).
    Ntlm,
    /// Kerberos (RFC 4120 via GSS-API).
    Kerberos,
    /// TLS-DSK: TLS records in `gssapi-data`, a client certificate from the `sts-uri`.
    TlsDsk,
}

impl Protocol {
    /// The scheme name as written.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Ntlm => "NTLM",
            Protocol::Kerberos => "Kerberos",
            Protocol::TlsDsk => "TLS-DSK",
        }
    }
}

/// Why an [MS-SIPAE] header or signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SipaeError {
    /// The scheme is not NTLM, Kerberos or TLS-DSK.
    #[error("not an [MS-SIPAE] scheme")]
    NotSipae,
    /// A parameter is missing.
    #[error("missing {0} parameter")]
    Missing(&'static str),
    /// A parameter is malformed (bad base64, hex or number).
    #[error("invalid {0} parameter")]
    Invalid(&'static str),
    /// The message lacks a field the signature covers, or an auth header.
    #[error("message: {0}")]
    Message(#[from] crate::Error),
    /// The NTLM token was refused.
    #[error("NTLM: {0}")]
    Ntlm(#[from] NtlmError),
    /// No security association by that `opaque` (or the server's realm/target differ).
    #[error("no security association {0:?}")]
    UnknownAssociation(String),
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// `cnum`/`snum` already seen or too old.
    #[error("replayed sequence number {0}")]
    Replayed(u32),
}

/// An [MS-SIPAE] challenge (`WWW-Authenticate`, `Proxy-Authenticate`) or credentials
/// (`Authorization`, `Proxy-Authorization`), or an `Authentication-Info`: the typed parameters
/// of any of the three protocols, `gssapi-data` decoded from base64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecurityHeader {
    /// Which protocol.
    pub protocol: Protocol,
    /// `realm`.
    pub realm: String,
    /// `targetname` (for Kerberos a `sip/host` service name).
    pub target_name: String,
    /// `version` (2 when absent, as [MS-SIPAE] says for older clients).
    pub version: u32,
    /// `opaque`: the security association's name.
    pub opaque: Option<String>,
    /// `gssapi-data`, decoded: NTLM or Kerberos tokens, TLS records for TLS-DSK. `Some` and
    /// empty for the first connection-less NTLM leg.
    pub gssapi_data: Option<Vec<u8>>,
    /// `sts-uri` (TLS-DSK): where to get a certificate.
    pub sts_uri: Option<String>,
    /// `crand`/`srand`, hex as written.
    pub rand: Option<String>,
    /// `cnum`/`snum`.
    pub num: Option<u32>,
    /// `response`/`rspauth`: the signature, decoded from hex.
    pub signature: Option<Vec<u8>>,
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Bytes as upper-case hex, as signatures travel.
#[must_use]
pub fn hex_upper(b: &[u8]) -> String {
    let mut s = String::with_capacity(b.len() * 2);
    for x in b {
        let _ = write!(s, "{x:02X}");
    }
    s
}

impl SecurityHeader {
    /// The typed view of an auth header value.
    ///
    /// # Errors
    /// Another scheme, or a malformed `gssapi-data`, `version`, `cnum`/`snum` or signature.
    pub fn from_auth(auth: &Auth<'_>) -> Result<SecurityHeader, SipaeError> {
        let protocol = match auth.scheme() {
            Some(AuthScheme::Ntlm) => Protocol::Ntlm,
            Some(AuthScheme::Kerberos) => Protocol::Kerberos,
            Some(AuthScheme::TlsDsk) => Protocol::TlsDsk,
            _ => return Err(SipaeError::NotSipae),
        };
        let gssapi_data = auth
            .gssapi_data()
            .map(|d| {
                B64.decode(d)
                    .map_err(|_| SipaeError::Invalid("gssapi-data"))
            })
            .transpose()?;
        let version = auth
            .version()
            .map(|v| v.parse().map_err(|_| SipaeError::Invalid("version")))
            .transpose()?
            .unwrap_or(2);
        let num = auth
            .cnum()
            .or_else(|| auth.snum())
            .map(|v| v.parse().map_err(|_| SipaeError::Invalid("cnum")))
            .transpose()?;
        let signature = auth
            .response()
            .or_else(|| auth.rspauth())
            .map(|v| unhex(v).ok_or(SipaeError::Invalid("response")))
            .transpose()?;
        Ok(SecurityHeader {
            protocol,
            realm: auth.realm().unwrap_or_default().to_owned(),
            target_name: auth.targetname().unwrap_or_default().to_owned(),
            version,
            opaque: auth.opaque().map(str::to_owned),
            gssapi_data,
            sts_uri: auth.sts_uri().map(str::to_owned),
            rand: auth.crand().or_else(|| auth.srand()).map(str::to_owned),
            num,
            signature,
        })
    }

    /// Every [MS-SIPAE] header of kind `name` in `msg` (other schemes skipped).
    ///
    /// # Errors
    /// A malformed header value.
    pub fn all(msg: &Message, name: HeaderName) -> Result<Vec<SecurityHeader>, SipaeError> {
        let mut out = Vec::new();
        for a in msg.auth(name) {
            match SecurityHeader::from_auth(&a?) {
                Ok(h) => out.push(h),
                Err(SipaeError::NotSipae) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }
}

/// A 64-message replay window over `cnum`/`snum`: for an association whose signatures are
/// made elsewhere (a Kerberos MIC through GSSAPI).
///
/// ```
/// use ocs_sip_codec::sipae::{ReplayWindow, SipaeError};
/// let mut w = ReplayWindow::default();
/// w.check_and_set(1).unwrap();
/// w.check_and_set(3).unwrap();
/// w.check_and_set(2).unwrap(); // late, not seen
/// assert_eq!(w.check_and_set(3), Err(SipaeError::Replayed(3)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayWindow {
    top: u32,
    seen: u64,
}

impl ReplayWindow {
    /// Takes sequence number `n` if it is new and not older than the window (64 back).
    ///
    /// # Errors
    /// [`SipaeError::Replayed`]: seen before, too old, or 0.
    pub fn check_and_set(&mut self, n: u32) -> Result<(), SipaeError> {
        if n > self.top {
            let shift = n - self.top;
            self.seen = if shift >= 64 { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.top = n;
            return Ok(());
        }
        let back = self.top - n;
        if back >= 64 || self.seen & (1 << back) != 0 || n == 0 {
            return Err(SipaeError::Replayed(n));
        }
        self.seen |= 1 << back;
        Ok(())
    }
}

/// One established security association (either side): signs what we send, verifies what the
/// peer sends.
#[derive(Debug, Clone)]
pub struct SecurityAssociation {
    session: NtlmSession,
    realm: String,
    target_name: String,
    opaque: String,
    version: u32,
    next_num: u32,
    window: ReplayWindow,
    client: bool,
}

impl SecurityAssociation {
    /// `opaque`, the association's name.
    #[must_use]
    pub fn opaque(&self) -> &str {
        &self.opaque
    }

    fn signature(
        &self,
        msg: &Message,
        rand: &str,
        num: &str,
        sign: bool,
        sig: &[u8],
    ) -> Result<Option<[u8; 16]>, SipaeError> {
        let ctx = SignatureContext {
            scheme: Protocol::Ntlm.as_str(),
            rand,
            num,
            realm: &self.realm,
            target_name: &self.target_name,
            version: self.version,
        };
        let mut input = Vec::with_capacity(256);
        signature_input(msg, &ctx, &mut input)?;
        if sign {
            Ok(Some(self.session.sign(SIGNATURE_SEQ_NUM, &input)))
        } else if self.session.verify(SIGNATURE_SEQ_NUM, &input, sig) {
            Ok(None)
        } else {
            Err(SipaeError::BadSignature)
        }
    }

    /// Signs `msg` (which must not carry the signature header yet) with salt `rand` from the
    /// caller: the client's `Authorization` value (`crand`, `cnum`, `response`) or the server's
    /// `Authentication-Info` value (`srand`, `snum`, `rspauth`). Add it with
    /// [`Message::with_header`].
    ///
    /// # Errors
    /// A message without the fields the signature covers.
    pub fn sign(&mut self, msg: &Message, rand: u32) -> Result<String, SipaeError> {
        let rand = format!("{rand:08X}");
        self.next_num = self.next_num.wrapping_add(1).max(1);
        let num = self.next_num.to_string();
        let sig = self
            .signature(msg, &rand, &num, true, &[])?
            .unwrap_or_default();
        let (r, n, s) = if self.client {
            ("crand", "cnum", "response")
        } else {
            ("srand", "snum", "rspauth")
        };
        Ok(format!(
            "NTLM qop=\"auth\", opaque=\"{}\", realm=\"{}\", targetname=\"{}\", {r}=\"{rand}\", {n}=\"{num}\", {s}=\"{}\", version={}",
            self.opaque,
            self.realm,
            self.target_name,
            hex_upper(&sig),
            self.version
        ))
    }

    /// Verifies the peer's signature on `msg`, carried in `header` (`Authentication-Info` or
    /// `Proxy-Authentication-Info` for a client, `Authorization` or `Proxy-Authorization` for a
    /// server), and its sequence number against replay.
    ///
    /// # Errors
    /// No signature header for this association, a wrong signature, a replayed number.
    pub fn verify_in(&mut self, msg: &Message, header: HeaderName) -> Result<(), SipaeError> {
        let h = SecurityHeader::all(msg, header)?
            .into_iter()
            .find(|h| h.protocol == Protocol::Ntlm && h.opaque.as_deref() == Some(&self.opaque))
            .ok_or_else(|| SipaeError::UnknownAssociation(self.opaque.clone()))?;
        if h.realm != self.realm || h.target_name != self.target_name {
            return Err(SipaeError::UnknownAssociation(self.opaque.clone()));
        }
        let rand = h.rand.as_deref().ok_or(SipaeError::Missing("rand"))?;
        let num = h.num.ok_or(SipaeError::Missing("num"))?;
        let sig = h
            .signature
            .as_deref()
            .ok_or(SipaeError::Missing("response"))?;
        self.signature(msg, rand, &num.to_string(), false, sig)?;
        self.window.check_and_set(num)
    }

    /// A client verifying the server's `Authentication-Info` (or `Proxy-Authentication-Info`).
    ///
    /// # Errors
    /// As [`SecurityAssociation::verify_in`].
    pub fn verify(&mut self, msg: &Message) -> Result<(), SipaeError> {
        let header = if msg.header(HeaderName::AuthenticationInfo).is_some() {
            HeaderName::AuthenticationInfo
        } else {
            HeaderName::ProxyAuthenticationInfo
        };
        self.verify_in(msg, header)
    }
}

/// The client side of the NTLM handshake.
#[derive(Debug, Clone)]
pub struct NtlmSipClient {
    ntlm: NtlmClient,
}

fn ntlm_challenge(value: &str) -> Result<SecurityHeader, SipaeError> {
    let auth =
        Auth::parse(value).map_err(|e| SipaeError::Message(e.in_header("WWW-Authenticate")))?;
    let h = SecurityHeader::from_auth(&auth)?;
    if h.protocol != Protocol::Ntlm {
        return Err(SipaeError::NotSipae);
    }
    Ok(h)
}

impl NtlmSipClient {
    /// A client with these credentials on `workstation`.
    #[must_use]
    pub fn new(credentials: crate::ntlm::Credentials, workstation: &str) -> NtlmSipClient {
        NtlmSipClient {
            ntlm: NtlmClient::new(credentials, workstation),
        }
    }

    /// The first, empty credentials for the first NTLM challenge (`WWW-Authenticate` value).
    ///
    /// # Errors
    /// Not an NTLM challenge.
    pub fn first_credentials(&self, challenge: &str) -> Result<String, SipaeError> {
        let h = ntlm_challenge(challenge)?;
        Ok(format!(
            "NTLM qop=\"auth\", realm=\"{}\", targetname=\"{}\", gssapi-data=\"\", version={}",
            h.realm,
            h.target_name,
            h.version.clamp(2, VERSION)
        ))
    }

    /// Answers the second challenge (with `opaque` and the CHALLENGE_MESSAGE): the credentials
    /// carrying the AUTHENTICATE_MESSAGE and the new association. `client_challenge` and
    /// `session_key` are fresh random values from the caller.
    ///
    /// # Errors
    /// Not an NTLM challenge with `opaque` and `gssapi-data`, or an NTLM refusal.
    pub fn answer(
        &mut self,
        challenge: &str,
        client_challenge: [u8; 8],
        session_key: [u8; 16],
    ) -> Result<(String, SecurityAssociation), SipaeError> {
        let h = ntlm_challenge(challenge)?;
        let opaque = h.opaque.ok_or(SipaeError::Missing("opaque"))?;
        let token = h
            .gssapi_data
            .filter(|d| !d.is_empty())
            .ok_or(SipaeError::Missing("gssapi-data"))?;
        let (auth, session) = self
            .ntlm
            .authenticate(&token, client_challenge, session_key)?;
        let version = h.version.clamp(2, VERSION);
        let value = format!(
            "NTLM qop=\"auth\", opaque=\"{opaque}\", realm=\"{}\", targetname=\"{}\", gssapi-data=\"{}\", version={version}",
            h.realm,
            h.target_name,
            B64.encode(auth)
        );
        Ok((
            value,
            SecurityAssociation {
                session,
                realm: h.realm,
                target_name: h.target_name,
                opaque,
                version,
                next_num: 0,
                window: ReplayWindow::default(),
                client: true,
            },
        ))
    }
}

/// What [`NtlmSipServer::handle`] decided about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Answer 401 (or 407 for the proxy headers) with this `WWW-Authenticate` value.
    Challenge(String),
    /// The AUTHENTICATE_MESSAGE proved `user` (`DOMAIN\user`): the association `opaque`
    /// exists; answer with a signed response.
    Authenticated {
        /// The association.
        opaque: String,
        /// Who.
        user: String,
    },
    /// A signed request from an established association.
    Verified {
        /// The association.
        opaque: String,
        /// Who.
        user: String,
    },
    /// Refused: answer 403 (or challenge again).
    Rejected(SipaeError),
}

/// The server side: challenges, accepts AUTHENTICATE_MESSAGEs, keeps the associations, verifies
/// signed requests and signs responses.
#[derive(Debug)]
pub struct NtlmSipServer {
    ntlm: NtlmServer,
    target_name: String,
    pending: HashMap<String, Vec<u8>>,
    /// The pending handshakes' `opaque`s, oldest first.
    pending_order: VecDeque<String>,
    associations: HashMap<String, (String, SecurityAssociation)>,
    /// Bounds the handshakes in progress: past it the oldest is forgotten (its client starts
    /// over), so that unfinished handshakes cannot lock newcomers out.
    pub max_pending: usize,
}

impl NtlmSipServer {
    /// A server known as `target_name` (the FQDN in `targetname`), with the NTLM names.
    #[must_use]
    pub fn new(target_name: &str, info: TargetInfo) -> NtlmSipServer {
        NtlmSipServer {
            ntlm: NtlmServer::new(info),
            target_name: target_name.into(),
            pending: HashMap::new(),
            pending_order: VecDeque::new(),
            associations: HashMap::new(),
            max_pending: 10_000,
        }
    }

    /// How many associations are established.
    #[must_use]
    pub fn associations(&self) -> usize {
        self.associations.len()
    }

    /// Forgets an association (expired, or the client unregistered).
    pub fn remove(&mut self, opaque: &str) {
        self.associations.remove(opaque);
    }

    fn first_challenge(&self) -> String {
        format!(
            "NTLM realm=\"{REALM}\", targetname=\"{}\", version={VERSION}",
            self.target_name
        )
    }

    /// Decides about `request` by its `header` credentials (`Authorization`, or
    /// `Proxy-Authorization` for a proxy). `server_challenge` and `opaque` are fresh random
    /// values from the caller, used when a new handshake starts; `nt_hash(user, domain)` looks up
    /// a user's NT hash.
    pub fn handle(
        &mut self,
        request: &Message,
        header: HeaderName,
        server_challenge: [u8; 8],
        opaque: &str,
        nt_hash: impl Fn(&str, &str) -> Option<[u8; 16]>,
    ) -> Verdict {
        let creds = match SecurityHeader::all(request, header) {
            Ok(c) => c,
            Err(e) => return Verdict::Rejected(e),
        };
        let Some(h) = creds
            .into_iter()
            .find(|h| h.protocol == Protocol::Ntlm && h.target_name == self.target_name)
        else {
            return Verdict::Challenge(self.first_challenge());
        };
        match (&h.opaque, &h.gssapi_data) {
            // The empty first leg: a CHALLENGE_MESSAGE under a new opaque.
            // (A NEGOTIATE_MESSAGE in its place is taken the same way.)
            (None, Some(d)) if d.is_empty() || NegotiateMessage::parse(d).is_ok() => {
                while self.pending.len() >= self.max_pending.max(1) {
                    match self.pending_order.pop_front() {
                        Some(old) => {
                            self.pending.remove(&old);
                        }
                        None => break,
                    }
                }
                let token = self.ntlm.challenge(server_challenge, 0);
                let value = format!(
                    "NTLM opaque=\"{opaque}\", gssapi-data=\"{}\", targetname=\"{}\", realm=\"{REALM}\", version={}",
                    B64.encode(&token),
                    self.target_name,
                    h.version.clamp(2, VERSION)
                );
                if self.pending.insert(opaque.to_owned(), token).is_none() {
                    self.pending_order.push_back(opaque.to_owned());
                }
                // Finished handshakes leave their names in the queue: drop them now and then.
                if self.pending_order.len() > 2 * self.max_pending.max(1) {
                    let pending = &self.pending;
                    self.pending_order.retain(|o| pending.contains_key(o));
                }
                Verdict::Challenge(value)
            }
            // The AUTHENTICATE_MESSAGE.
            (Some(o), Some(d)) if !d.is_empty() => {
                // The order queue keeps the name until it reaches the front; removing it from
                // the map is enough for it to be skipped then.
                let Some(challenge) = self.pending.remove(o) else {
                    return Verdict::Rejected(SipaeError::UnknownAssociation(o.clone()));
                };
                match self.ntlm.accept(&challenge, d, &nt_hash) {
                    Ok((who, session)) => {
                        let user = format!("{}\\{}", who.domain, who.user);
                        let sa = SecurityAssociation {
                            session,
                            realm: REALM.into(),
                            target_name: self.target_name.clone(),
                            opaque: o.clone(),
                            version: h.version.clamp(2, VERSION),
                            next_num: 0,
                            window: ReplayWindow::default(),
                            client: false,
                        };
                        self.associations.insert(o.clone(), (user.clone(), sa));
                        Verdict::Authenticated {
                            opaque: o.clone(),
                            user,
                        }
                    }
                    Err(e) => Verdict::Rejected(e.into()),
                }
            }
            // A signed request.
            (Some(o), None) => {
                let Some((user, sa)) = self.associations.get_mut(o) else {
                    // Unknown or expired: start over.
                    return Verdict::Challenge(self.first_challenge());
                };
                match sa.verify_in(request, header) {
                    Ok(()) => Verdict::Verified {
                        opaque: o.clone(),
                        user: user.clone(),
                    },
                    Err(e) => Verdict::Rejected(e),
                }
            }
            _ => Verdict::Rejected(SipaeError::Missing("gssapi-data")),
        }
    }

    /// The `Authentication-Info` value that signs `response` for association `opaque`, with
    /// salt `srand` from the caller.
    ///
    /// # Errors
    /// No such association, or a response without the signed fields.
    pub fn sign_response(
        &mut self,
        opaque: &str,
        response: &Message,
        srand: u32,
    ) -> Result<String, SipaeError> {
        let (_, sa) = self
            .associations
            .get_mut(opaque)
            .ok_or_else(|| SipaeError::UnknownAssociation(opaque.into()))?;
        sa.sign(response, srand)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_window() {
        let mut w = ReplayWindow::default();
        for n in [1, 2, 5, 3] {
            w.check_and_set(n).unwrap();
        }
        assert_eq!(w.check_and_set(3), Err(SipaeError::Replayed(3)));
        assert_eq!(w.check_and_set(0), Err(SipaeError::Replayed(0)));
        w.check_and_set(100).unwrap();
        assert_eq!(w.check_and_set(36), Err(SipaeError::Replayed(36)));
        w.check_and_set(37).unwrap();
    }

    #[test]
    fn headers_of_the_three_protocols() {
        let k = Auth::parse(r#"Kerberos realm="SIP Communications Service", targetname="sip/server.contoso.com", version=3"#).unwrap();
        let k = SecurityHeader::from_auth(&k).unwrap();
        assert_eq!(k.protocol, Protocol::Kerberos);
        assert_eq!(k.target_name, "sip/server.contoso.com");
        assert_eq!(k.version, 3);
        let t = Auth::parse(r#"TLS-DSK realm="SIP Communications Service", targetname="fe.contoso.com", version=4, sts-uri="https://fe.contoso.com:443/CertProv/CertProvisioningService.svc""#).unwrap();
        let t = SecurityHeader::from_auth(&t).unwrap();
        assert_eq!(t.protocol, Protocol::TlsDsk);
        assert_eq!(
            t.sts_uri.as_deref(),
            Some("https://fe.contoso.com:443/CertProv/CertProvisioningService.svc")
        );
        let c = Auth::parse(r#"Kerberos qop="auth", realm="SIP Communications Service", opaque="A1B2", targetname="sip/fe", gssapi-data="YIIFdAYJKoZIhvcSAQICAQBu", version=3"#).unwrap();
        let c = SecurityHeader::from_auth(&c).unwrap();
        assert_eq!(c.gssapi_data.as_deref().map(|d| d[0]), Some(0x60)); // an ASN.1 APPLICATION 0 token
        let bad = Auth::parse(r#"NTLM gssapi-data="!!", realm="x""#).unwrap();
        assert_eq!(
            SecurityHeader::from_auth(&bad),
            Err(SipaeError::Invalid("gssapi-data"))
        );
        let digest = Auth::parse(r#"Digest realm="x", nonce="y""#).unwrap();
        assert_eq!(
            SecurityHeader::from_auth(&digest),
            Err(SipaeError::NotSipae)
        );
    }
}
