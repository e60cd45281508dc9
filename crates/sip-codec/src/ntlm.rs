//! NTLM ([MS-NLMP]) as [MS-SIPAE] uses it: connection-less NTLMv2 with extended session
//! security, the three messages, the keys, and the message signature (`GSS_GetMIC`).
//!
//! In SIP the NEGOTIATE leg is empty (connection-less NTLM: the client's first credentials
//! carry `gssapi-data=""`), the server answers with a CHALLENGE_MESSAGE and the client with an
//! AUTHENTICATE_MESSAGE, each base64 in `gssapi-data`. After that both sides hold an
//! [`NtlmSession`] and sign messages with it ([`crate::sipae`] does the SIP part).
//!
//! Randomness (the client challenge, the exported session key, the server challenge) and the
//! time stamp come from the caller.
//!
//! ```
//! use ocs_sip_codec::ntlm::{Credentials, NtlmClient, NtlmServer, TargetInfo};
//!
//! let server = NtlmServer::new(TargetInfo::new("SERVER", "CONTOSO"));
//! let challenge = server.challenge([1, 2, 3, 4, 5, 6, 7, 8], 0);
//! let client = NtlmClient::new(Credentials::new("alice", "CONTOSO", "Passw0rd"), "WS1");
//! let (authenticate, client_session) =
//!     client.authenticate(&challenge, [9; 8], [7; 16]).unwrap();
//! let nt_hash = Credentials::new("alice", "CONTOSO", "Passw0rd").nt_hash();
//! let (user, server_session) = server
//!     .accept(&challenge, &authenticate, |user, _domain| (user == "alice").then_some(nt_hash))
//!     .unwrap();
//! assert_eq!(user.user, "alice");
//! let sig = client_session.sign(100, b"<NTLM><...>");
//! assert!(server_session.verify(100, b"<NTLM><...>", &sig));
//! ```

use hmac::{Hmac, KeyInit as _, Mac};
use md4::Md4;
use md5::{Digest as _, Md5};
use rc4::{Rc4, StreamCipher as _};

/// `NTLMSSP_NEGOTIATE_*` flags ([MS-NLMP] 2.2.2.5).
pub mod flags {
    /// Unicode strings.
    pub const UNICODE: u32 = 0x0000_0001;
    /// OEM strings.
    pub const OEM: u32 = 0x0000_0002;
    /// TargetName is wanted.
    pub const REQUEST_TARGET: u32 = 0x0000_0004;
    /// Message integrity.
    pub const SIGN: u32 = 0x0000_0010;
    /// Message confidentiality.
    pub const SEAL: u32 = 0x0000_0020;
    /// Connection-less authentication.
    pub const DATAGRAM: u32 = 0x0000_0040;
    /// LAN Manager session key.
    pub const LM_KEY: u32 = 0x0000_0080;
    /// NTLM v1 session security.
    pub const NTLM: u32 = 0x0000_0200;
    /// Anonymous connection.
    pub const ANONYMOUS: u32 = 0x0000_0800;
    /// A signature even without SIGN.
    pub const ALWAYS_SIGN: u32 = 0x0000_8000;
    /// TargetName is a domain.
    pub const TARGET_TYPE_DOMAIN: u32 = 0x0001_0000;
    /// TargetName is a server.
    pub const TARGET_TYPE_SERVER: u32 = 0x0002_0000;
    /// NTLM v2 session security.
    pub const EXTENDED_SESSIONSECURITY: u32 = 0x0008_0000;
    /// Identify-level tokens ([MS-NLMP] 2.2.2.5 flag Q): a connection-less SIP client
    /// (pidgin-sipe, Office Communicator) refuses a CHALLENGE_MESSAGE without it.
    pub const IDENTIFY: u32 = 0x0010_0000;
    /// TargetInfo is present.
    pub const TARGET_INFO: u32 = 0x0080_0000;
    /// Version is present.
    pub const VERSION: u32 = 0x0200_0000;
    /// 128-bit session key.
    pub const NEGOTIATE_128: u32 = 0x2000_0000;
    /// Explicit key exchange.
    pub const KEY_EXCH: u32 = 0x4000_0000;
    /// 56-bit encryption.
    pub const NEGOTIATE_56: u32 = 0x8000_0000;
}

/// What a server offers in its CHALLENGE_MESSAGE and a client accepts: connection-less NTLMv2
/// session security with signing, sealing and key exchange (as Office Communicator does).
/// Connection-less clients require SIGN, DATAGRAM, IDENTIFY and KEY_EXCH.
pub const SIP_FLAGS: u32 = flags::UNICODE
    | flags::REQUEST_TARGET
    | flags::SIGN
    | flags::SEAL
    | flags::DATAGRAM
    | flags::NTLM
    | flags::ALWAYS_SIGN
    | flags::TARGET_TYPE_SERVER
    | flags::EXTENDED_SESSIONSECURITY
    | flags::IDENTIFY
    | flags::TARGET_INFO
    | flags::NEGOTIATE_128
    | flags::KEY_EXCH
    | flags::NEGOTIATE_56;

const SIGNATURE: &[u8; 8] = b"NTLMSSP\0";
/// Bounds every message we parse; a CHALLENGE or AUTHENTICATE of OCS is a few hundred bytes.
pub const MAX_MESSAGE: usize = 8 * 1024;

/// Why an NTLM message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NtlmError {
    /// Shorter than its fixed part, or a field that points outside the message.
    #[error("NTLM message truncated: {what} at byte {offset}")]
    Truncated {
        /// The field.
        what: &'static str,
        /// Where it is (or was expected).
        offset: usize,
    },
    /// Not `NTLMSSP\0`, or another message type than expected.
    #[error("not an NTLM {expected} message (byte {offset})")]
    WrongMessage {
        /// `CHALLENGE` or `AUTHENTICATE`.
        expected: &'static str,
        /// Where the fault is.
        offset: usize,
    },
    /// Larger than [`MAX_MESSAGE`].
    #[error("NTLM message of {0} bytes is over the limit")]
    TooLong(usize),
    /// A string that is not valid UTF-16.
    #[error("invalid UTF-16 in {what} at byte {offset}")]
    BadString {
        /// The field.
        what: &'static str,
        /// Its offset.
        offset: usize,
    },
    /// The server does not offer what [MS-SIPAE] needs (NTLMv2 session security, signing).
    #[error("the challenge lacks required flags {0:#010x}")]
    MissingFlags(u32),
    /// The NTLMv2 response is not an NTLMv2 response (too short).
    #[error("the NT response is not NTLMv2 ({0} bytes)")]
    NotNtlmV2(usize),
    /// The user is unknown or the proof does not match the password.
    #[error("authentication failed for {0}")]
    BadProof(String),
}

/// A user's credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub user: String,
    /// Domain.
    pub domain: String,
    password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

fn utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut m = <Hmac<Md5> as hmac::KeyInit>::new_from_slice(key).expect("any key length");
    for p in parts {
        m.update(p);
    }
    m.finalize().into_bytes().into()
}

/// Equal lengths and bytes, compared in full rather than stopping at the first difference.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn rc4(key: &[u8], data: &mut [u8]) {
    // RC4 takes keys of 1 to 256 bytes; ours are 16 (or 4 + 16).
    if let Ok(mut c) = Rc4::new_from_slice(key) {
        c.apply_keystream(data);
    }
}

impl Credentials {
    /// Credentials from a password.
    #[must_use]
    pub fn new(user: &str, domain: &str, password: &str) -> Credentials {
        Credentials {
            user: user.into(),
            domain: domain.into(),
            password: password.into(),
        }
    }

    /// The NT hash: MD4 of the UTF-16LE password ([MS-NLMP] 3.3.1), what a server stores.
    #[must_use]
    pub fn nt_hash(&self) -> [u8; 16] {
        Md4::digest(utf16(&self.password)).into()
    }
}

/// NTOWFv2 ([MS-NLMP] 3.3.2): HMAC-MD5 under the NT hash of the upper-case user and the domain.
#[must_use]
pub fn ntowf_v2(nt_hash: &[u8; 16], user: &str, domain: &str) -> [u8; 16] {
    let who = utf16(&(user.to_uppercase() + domain));
    hmac_md5(nt_hash, &[&who])
}

/// The AV pairs of a CHALLENGE_MESSAGE's TargetInfo ([MS-NLMP] 2.2.2.1).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TargetInfo {
    /// `(AvId, value)` in wire order, without the terminating MsvAvEOL.
    pub pairs: Vec<(u16, Vec<u8>)>,
}

impl TargetInfo {
    /// MsvAvNbComputerName.
    pub const NB_COMPUTER_NAME: u16 = 1;
    /// MsvAvNbDomainName.
    pub const NB_DOMAIN_NAME: u16 = 2;
    /// MsvAvDnsComputerName.
    pub const DNS_COMPUTER_NAME: u16 = 3;
    /// MsvAvDnsDomainName.
    pub const DNS_DOMAIN_NAME: u16 = 4;
    /// MsvAvTimestamp.
    pub const TIMESTAMP: u16 = 7;

    /// The NetBIOS domain and computer names, in the order of the [MS-NLMP] 4.2.4 example.
    #[must_use]
    pub fn new(server: &str, domain: &str) -> TargetInfo {
        TargetInfo {
            pairs: vec![
                (Self::NB_DOMAIN_NAME, utf16(domain)),
                (Self::NB_COMPUTER_NAME, utf16(server)),
            ],
        }
    }

    /// The wire form, MsvAvEOL included.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, v) in &self.pairs {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(v.len().min(0xffff) as u16).to_le_bytes());
            out.extend_from_slice(&v[..v.len().min(0xffff)]);
        }
        out.extend_from_slice(&[0, 0, 0, 0]);
        out
    }

    fn parse(b: &[u8], base: usize) -> Result<TargetInfo, NtlmError> {
        let mut pairs = Vec::new();
        let mut at = 0;
        loop {
            let head = b.get(at..at + 4).ok_or(NtlmError::Truncated {
                what: "AV pair",
                offset: base + at,
            })?;
            let id = u16::from_le_bytes([head[0], head[1]]);
            let len = usize::from(u16::from_le_bytes([head[2], head[3]]));
            if id == 0 {
                return Ok(TargetInfo { pairs });
            }
            let v = b.get(at + 4..at + 4 + len).ok_or(NtlmError::Truncated {
                what: "AV pair value",
                offset: base + at + 4,
            })?;
            pairs.push((id, v.to_vec()));
            at += 4 + len;
        }
    }

    /// A pair's value decoded from UTF-16 (names), if present.
    #[must_use]
    pub fn name(&self, id: u16) -> Option<String> {
        let (_, v) = self.pairs.iter().find(|(i, _)| *i == id)?;
        from_utf16(v)
    }
}

fn from_utf16(v: &[u8]) -> Option<String> {
    if !v.len().is_multiple_of(2) {
        return None;
    }
    char::decode_utf16(v.chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])))
        .collect::<Result<String, _>>()
        .ok()
}

/// A NEGOTIATE_MESSAGE ([MS-NLMP] 2.2.1.1): what a connection-oriented client sends first.
/// [MS-SIPAE] uses connection-less NTLM, whose first leg is empty; a server still takes a
/// NEGOTIATE there as the start of a handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiateMessage {
    /// NegotiateFlags.
    pub flags: u32,
    /// DomainName (OEM), when supplied.
    pub domain: String,
    /// Workstation (OEM), when supplied.
    pub workstation: String,
}

impl NegotiateMessage {
    /// Parses one.
    ///
    /// # Errors
    /// Truncated or pointing outside itself, or not a NEGOTIATE_MESSAGE.
    pub fn parse(b: &[u8]) -> Result<NegotiateMessage, NtlmError> {
        header(b, 1, "NEGOTIATE")?;
        let flags = u32_at(b, 12, "NegotiateFlags")?;
        // The two fields are there only with their "supplied" flags; a short message is fine.
        const DOMAIN_SUPPLIED: u32 = 0x0000_1000;
        const WORKSTATION_SUPPLIED: u32 = 0x0000_2000;
        let text = |at: usize, flag: u32, what| -> Result<String, NtlmError> {
            if flags & flag == 0 {
                return Ok(String::new());
            }
            let (v, off) = field(b, at, what)?;
            string(v, off, false, what)
        };
        Ok(NegotiateMessage {
            flags,
            domain: text(16, DOMAIN_SUPPLIED, "DomainName")?,
            workstation: text(24, WORKSTATION_SUPPLIED, "Workstation")?,
        })
    }

    /// The wire form: the flags, no names, no Version.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32);
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(self.flags & !(flags::VERSION | 0x3000)).to_le_bytes());
        out.extend_from_slice(&[0; 16]);
        out
    }
}

/// A CHALLENGE_MESSAGE ([MS-NLMP] 2.2.1.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChallengeMessage {
    /// NegotiateFlags.
    pub flags: u32,
    /// TargetName.
    pub target_name: String,
    /// ServerChallenge.
    pub server_challenge: [u8; 8],
    /// TargetInfo.
    pub target_info: TargetInfo,
}

fn u16_at(b: &[u8], at: usize, what: &'static str) -> Result<u16, NtlmError> {
    b.get(at..at + 2)
        .map(|s| u16::from_le_bytes([s[0], s[1]]))
        .ok_or(NtlmError::Truncated { what, offset: at })
}

fn u32_at(b: &[u8], at: usize, what: &'static str) -> Result<u32, NtlmError> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
        .ok_or(NtlmError::Truncated { what, offset: at })
}

/// A `(Len, MaxLen, Offset)` field pointing into the payload.
fn field<'b>(b: &'b [u8], at: usize, what: &'static str) -> Result<(&'b [u8], usize), NtlmError> {
    let len = usize::from(u16_at(b, at, what)?);
    let off = u32_at(b, at + 4, what)? as usize;
    let v = off
        .checked_add(len)
        .and_then(|end| b.get(off..end))
        .ok_or(NtlmError::Truncated { what, offset: at })?;
    Ok((v, off))
}

fn header(b: &[u8], kind: u32, expected: &'static str) -> Result<(), NtlmError> {
    if b.len() > MAX_MESSAGE {
        return Err(NtlmError::TooLong(b.len()));
    }
    if b.get(..8) != Some(SIGNATURE) {
        return Err(NtlmError::WrongMessage {
            expected,
            offset: 0,
        });
    }
    if u32_at(b, 8, "MessageType")? != kind {
        return Err(NtlmError::WrongMessage {
            expected,
            offset: 8,
        });
    }
    Ok(())
}

fn string(v: &[u8], off: usize, unicode: bool, what: &'static str) -> Result<String, NtlmError> {
    if unicode {
        from_utf16(v).ok_or(NtlmError::BadString { what, offset: off })
    } else {
        String::from_utf8(v.to_vec()).map_err(|_| NtlmError::BadString { what, offset: off })
    }
}

/// The flags of a message we write: Unicode strings, no Version field.
fn written_flags(f: u32) -> u32 {
    (f | flags::UNICODE) & !(flags::OEM | flags::VERSION)
}

/// Appends `(Len, MaxLen, Offset)` for `v` at `fields[at..]` and `v` to the payload.
fn put_field(out: &mut Vec<u8>, at: usize, v: &[u8]) {
    let off = out.len() as u32;
    let len = (v.len().min(0xffff) as u16).to_le_bytes();
    out[at..at + 2].copy_from_slice(&len);
    out[at + 2..at + 4].copy_from_slice(&len);
    out[at + 4..at + 8].copy_from_slice(&off.to_le_bytes());
    out.extend_from_slice(&v[..v.len().min(0xffff)]);
}

impl ChallengeMessage {
    /// Parses one.
    ///
    /// # Errors
    /// Truncated or pointing outside itself, or not a CHALLENGE_MESSAGE.
    pub fn parse(b: &[u8]) -> Result<ChallengeMessage, NtlmError> {
        header(b, 2, "CHALLENGE")?;
        let flags = u32_at(b, 20, "NegotiateFlags")?;
        let (name, off) = field(b, 12, "TargetName")?;
        let target_name = string(name, off, flags & flags::UNICODE != 0, "TargetName")?;
        let server_challenge: [u8; 8] =
            b.get(24..32)
                .and_then(|s| s.try_into().ok())
                .ok_or(NtlmError::Truncated {
                    what: "ServerChallenge",
                    offset: 24,
                })?;
        let target_info = if flags & flags::TARGET_INFO != 0 {
            let (info, off) = field(b, 40, "TargetInfo")?;
            TargetInfo::parse(info, off)?
        } else {
            TargetInfo::default()
        };
        Ok(ChallengeMessage {
            flags,
            target_name,
            server_challenge,
            target_info,
        })
    }

    /// The wire form: strings in Unicode (the flags say so, OEM cleared), no Version field.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&2u32.to_le_bytes());
        out.extend_from_slice(&[0; 8]); // TargetName field
        out.extend_from_slice(&written_flags(self.flags).to_le_bytes());
        out.extend_from_slice(&self.server_challenge);
        out.extend_from_slice(&[0; 8]); // Reserved
        out.extend_from_slice(&[0; 8]); // TargetInfo field
        put_field(&mut out, 12, &utf16(&self.target_name));
        put_field(&mut out, 40, &self.target_info.to_bytes());
        out
    }
}

/// An AUTHENTICATE_MESSAGE ([MS-NLMP] 2.2.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthenticateMessage {
    /// LmChallengeResponse.
    pub lm_response: Vec<u8>,
    /// NtChallengeResponse (NTProofStr followed by the client blob for NTLMv2).
    pub nt_response: Vec<u8>,
    /// DomainName.
    pub domain: String,
    /// UserName.
    pub user: String,
    /// Workstation.
    pub workstation: String,
    /// EncryptedRandomSessionKey.
    pub encrypted_session_key: Vec<u8>,
    /// NegotiateFlags.
    pub flags: u32,
}

impl AuthenticateMessage {
    /// Parses one.
    ///
    /// # Errors
    /// Truncated or pointing outside itself, not an AUTHENTICATE_MESSAGE, bad strings.
    pub fn parse(b: &[u8]) -> Result<AuthenticateMessage, NtlmError> {
        header(b, 3, "AUTHENTICATE")?;
        let flags = u32_at(b, 60, "NegotiateFlags")?;
        let unicode = flags & flags::UNICODE != 0;
        let (lm, _) = field(b, 12, "LmChallengeResponse")?;
        let (nt, _) = field(b, 20, "NtChallengeResponse")?;
        let (domain, d_off) = field(b, 28, "DomainName")?;
        let (user, u_off) = field(b, 36, "UserName")?;
        let (ws, w_off) = field(b, 44, "Workstation")?;
        let (key, _) = field(b, 52, "EncryptedRandomSessionKey")?;
        Ok(AuthenticateMessage {
            lm_response: lm.to_vec(),
            nt_response: nt.to_vec(),
            domain: string(domain, d_off, unicode, "DomainName")?,
            user: string(user, u_off, unicode, "UserName")?,
            workstation: string(ws, w_off, unicode, "Workstation")?,
            encrypted_session_key: key.to_vec(),
            flags,
        })
    }

    /// The wire form: strings in Unicode (the flags say so, OEM cleared), no Version, no MIC.
    #[must_use]
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.nt_response.len() + 96);
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&[0; 48]);
        out.extend_from_slice(&written_flags(self.flags).to_le_bytes());
        put_field(&mut out, 12, &self.lm_response);
        put_field(&mut out, 20, &self.nt_response);
        put_field(&mut out, 28, &utf16(&self.domain));
        put_field(&mut out, 36, &utf16(&self.user));
        put_field(&mut out, 44, &utf16(&self.workstation));
        put_field(&mut out, 52, &self.encrypted_session_key);
        out
    }
}

/// The NTLMv2 responses and the session base key ([MS-NLMP] 3.3.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct V2Responses {
    /// NtChallengeResponse: NTProofStr ‖ temp.
    pub nt_response: Vec<u8>,
    /// LmChallengeResponse (LMv2).
    pub lm_response: [u8; 24],
    /// SessionBaseKey, which is the KeyExchangeKey for NTLMv2.
    pub session_base_key: [u8; 16],
}

/// Computes the NTLMv2 responses. `time` is the FILETIME (100 ns since 1601) the client puts
/// into its blob; `target_info` the CHALLENGE's TargetInfo bytes (MsvAvEOL included).
#[must_use]
pub fn v2_responses(
    response_key: &[u8; 16],
    server_challenge: &[u8; 8],
    client_challenge: &[u8; 8],
    time: u64,
    target_info: &[u8],
) -> V2Responses {
    let mut temp = Vec::with_capacity(28 + target_info.len() + 4);
    temp.extend_from_slice(&[1, 1, 0, 0, 0, 0, 0, 0]);
    temp.extend_from_slice(&time.to_le_bytes());
    temp.extend_from_slice(client_challenge);
    temp.extend_from_slice(&[0; 4]);
    temp.extend_from_slice(target_info);
    temp.extend_from_slice(&[0; 4]);
    let proof = hmac_md5(response_key, &[server_challenge, &temp]);
    let mut nt_response = proof.to_vec();
    nt_response.extend_from_slice(&temp);
    let mut lm_response = [0; 24];
    lm_response[..16].copy_from_slice(&hmac_md5(
        response_key,
        &[server_challenge, client_challenge],
    ));
    lm_response[16..].copy_from_slice(client_challenge);
    V2Responses {
        nt_response,
        lm_response,
        session_base_key: hmac_md5(response_key, &[&proof]),
    }
}

/// Which end of the session we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The side that sent AUTHENTICATE.
    Client,
    /// The side that sent CHALLENGE.
    Server,
}

const CLIENT_SIGN: &[u8] = b"session key to client-to-server signing key magic constant\0";
const SERVER_SIGN: &[u8] = b"session key to server-to-client signing key magic constant\0";
const CLIENT_SEAL: &[u8] = b"session key to client-to-server sealing key magic constant\0";
const SERVER_SEAL: &[u8] = b"session key to server-to-client sealing key magic constant\0";

/// SIGNKEY ([MS-NLMP] 3.4.5.2, extended session security).
#[must_use]
pub fn sign_key(exported: &[u8; 16], mode: Role) -> [u8; 16] {
    let magic = if mode == Role::Client {
        CLIENT_SIGN
    } else {
        SERVER_SIGN
    };
    Md5::new()
        .chain_update(exported)
        .chain_update(magic)
        .finalize()
        .into()
}

/// SEALKEY ([MS-NLMP] 3.4.5.3, extended session security), by the key strength flags.
#[must_use]
pub fn seal_key(flags: u32, exported: &[u8; 16], mode: Role) -> [u8; 16] {
    let len = if flags & flags::NEGOTIATE_128 != 0 {
        16
    } else if flags & flags::NEGOTIATE_56 != 0 {
        7
    } else {
        5
    };
    let magic = if mode == Role::Client {
        CLIENT_SEAL
    } else {
        SERVER_SEAL
    };
    Md5::new()
        .chain_update(&exported[..len])
        .chain_update(magic)
        .finalize()
        .into()
}

/// The keys of an authenticated NTLM session ([MS-NLMP] 3.4): what signs outgoing messages
/// and verifies incoming ones.
#[derive(Clone, PartialEq, Eq)]
pub struct NtlmSession {
    flags: u32,
    send_sign: [u8; 16],
    send_seal: [u8; 16],
    recv_sign: [u8; 16],
    recv_seal: [u8; 16],
}

impl std::fmt::Debug for NtlmSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NtlmSession")
            .field("flags", &format_args!("{:#010x}", self.flags))
            .finish_non_exhaustive()
    }
}

impl NtlmSession {
    /// The session of `role` from the exported session key and the negotiated flags.
    #[must_use]
    pub fn new(flags: u32, exported: &[u8; 16], role: Role) -> NtlmSession {
        let peer = if role == Role::Client {
            Role::Server
        } else {
            Role::Client
        };
        NtlmSession {
            flags,
            send_sign: sign_key(exported, role),
            send_seal: seal_key(flags, exported, role),
            recv_sign: sign_key(exported, peer),
            recv_seal: seal_key(flags, exported, peer),
        }
    }

    /// The negotiated flags.
    #[must_use]
    pub fn flags(&self) -> u32 {
        self.flags
    }

    fn mac(&self, sign: &[u8; 16], seal: &[u8; 16], seq: u32, data: &[u8]) -> [u8; 16] {
        let seq_le = seq.to_le_bytes();
        let mut checksum = [0u8; 8];
        checksum.copy_from_slice(&hmac_md5(sign, &[&seq_le, data])[..8]);
        if self.flags & flags::KEY_EXCH != 0 {
            // Connection-less: the RC4 state starts afresh for every message from
            // SealingKey' = MD5(SealingKey ‖ SeqNum) ([MS-NLMP] 3.4).
            if self.flags & flags::DATAGRAM != 0 {
                let key: [u8; 16] = Md5::new()
                    .chain_update(seal)
                    .chain_update(seq_le)
                    .finalize()
                    .into();
                rc4(&key, &mut checksum);
            } else {
                rc4(seal, &mut checksum);
            }
        }
        let mut sig = [0; 16];
        sig[..4].copy_from_slice(&1u32.to_le_bytes());
        sig[4..12].copy_from_slice(&checksum);
        sig[12..].copy_from_slice(&seq_le);
        sig
    }

    /// `GSS_GetMIC` over `data` with sequence number `seq` ([MS-NLMP] 3.4.4.2): the 16-byte
    /// NTLMSSP_MESSAGE_SIGNATURE.
    #[must_use]
    pub fn sign(&self, seq: u32, data: &[u8]) -> [u8; 16] {
        self.mac(&self.send_sign, &self.send_seal, seq, data)
    }

    /// `GSS_VerifyMIC`: whether `signature` is the peer's signature of `data` with `seq`.
    #[must_use]
    pub fn verify(&self, seq: u32, data: &[u8], signature: &[u8]) -> bool {
        let want = self.mac(&self.recv_sign, &self.recv_seal, seq, data);
        ct_eq(&want, signature)
    }
}

/// The client side: answers a CHALLENGE_MESSAGE.
#[derive(Debug, Clone)]
pub struct NtlmClient {
    credentials: Credentials,
    workstation: String,
}

impl NtlmClient {
    /// A client for these credentials on `workstation`.
    #[must_use]
    pub fn new(credentials: Credentials, workstation: &str) -> NtlmClient {
        NtlmClient {
            credentials,
            workstation: workstation.into(),
        }
    }

    /// The AUTHENTICATE_MESSAGE for `challenge` (the CHALLENGE_MESSAGE bytes) and the session.
    /// `client_challenge` and `session_key` must be fresh random values from the caller.
    /// The blob's time stamp is the challenge's MsvAvTimestamp when there is one, else zero.
    ///
    /// # Errors
    /// A malformed challenge, or one without NTLMv2 session security and signing.
    pub fn authenticate(
        &self,
        challenge: &[u8],
        client_challenge: [u8; 8],
        session_key: [u8; 16],
    ) -> Result<(Vec<u8>, NtlmSession), NtlmError> {
        let ch = ChallengeMessage::parse(challenge)?;
        let needed = flags::EXTENDED_SESSIONSECURITY | flags::SIGN | flags::UNICODE;
        if ch.flags & needed != needed {
            return Err(NtlmError::MissingFlags(needed & !ch.flags));
        }
        let negotiated = ch.flags & SIP_FLAGS;
        let time = ch
            .target_info
            .pairs
            .iter()
            .find(|(id, _)| *id == TargetInfo::TIMESTAMP)
            .and_then(|(_, v)| v.as_slice().try_into().ok())
            .map_or(0, u64::from_le_bytes);
        let c = &self.credentials;
        let key = ntowf_v2(&c.nt_hash(), &c.user, &c.domain);
        let r = v2_responses(
            &key,
            &ch.server_challenge,
            &client_challenge,
            time,
            &ch.target_info.to_bytes(),
        );
        let (exported, encrypted) = if negotiated & flags::KEY_EXCH != 0 {
            let mut enc = session_key;
            rc4(&r.session_base_key, &mut enc);
            (session_key, enc.to_vec())
        } else {
            (r.session_base_key, Vec::new())
        };
        let msg = AuthenticateMessage {
            lm_response: r.lm_response.to_vec(),
            nt_response: r.nt_response,
            domain: c.domain.clone(),
            user: c.user.clone(),
            workstation: self.workstation.clone(),
            encrypted_session_key: encrypted,
            flags: negotiated,
        };
        Ok((
            msg.to_bytes(),
            NtlmSession::new(negotiated, &exported, Role::Client),
        ))
    }
}

/// Who an AUTHENTICATE_MESSAGE proved to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// User name.
    pub user: String,
    /// Domain.
    pub domain: String,
    /// Workstation.
    pub workstation: String,
}

/// The server side: issues CHALLENGE_MESSAGEs and verifies AUTHENTICATE_MESSAGEs against the
/// NT hashes the caller looks up.
#[derive(Debug, Clone)]
pub struct NtlmServer {
    target_info: TargetInfo,
    target_name: String,
}

impl NtlmServer {
    /// A server announcing these names.
    #[must_use]
    pub fn new(target_info: TargetInfo) -> NtlmServer {
        let target_name = target_info
            .name(TargetInfo::NB_COMPUTER_NAME)
            .unwrap_or_default();
        NtlmServer {
            target_info,
            target_name,
        }
    }

    /// A CHALLENGE_MESSAGE with a fresh `server_challenge` from the caller. `timestamp`, if
    /// not zero, is added as MsvAvTimestamp (FILETIME).
    #[must_use]
    pub fn challenge(&self, server_challenge: [u8; 8], timestamp: u64) -> Vec<u8> {
        let mut info = self.target_info.clone();
        if timestamp != 0 {
            info.pairs
                .push((TargetInfo::TIMESTAMP, timestamp.to_le_bytes().to_vec()));
        }
        ChallengeMessage {
            flags: SIP_FLAGS,
            target_name: self.target_name.clone(),
            server_challenge,
            target_info: info,
        }
        .to_bytes()
    }

    /// Verifies `authenticate` against the `challenge` this server sent; `nt_hash(user,
    /// domain)` gives the user's NT hash. Returns who it is and the session.
    ///
    /// # Errors
    /// Malformed messages, an unknown user, a wrong proof (password).
    pub fn accept(
        &self,
        challenge: &[u8],
        authenticate: &[u8],
        nt_hash: impl FnOnce(&str, &str) -> Option<[u8; 16]>,
    ) -> Result<(Authenticated, NtlmSession), NtlmError> {
        let ch = ChallengeMessage::parse(challenge)?;
        let a = AuthenticateMessage::parse(authenticate)?;
        if a.nt_response.len() < 16 + 28 {
            return Err(NtlmError::NotNtlmV2(a.nt_response.len()));
        }
        let who = || format!("{}\\{}", a.domain, a.user);
        let hash = nt_hash(&a.user, &a.domain).ok_or_else(|| NtlmError::BadProof(who()))?;
        let key = ntowf_v2(&hash, &a.user, &a.domain);
        let (proof, temp) = a.nt_response.split_at(16);
        let expect = hmac_md5(&key, &[&ch.server_challenge, temp]);
        if expect
            .iter()
            .zip(proof)
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            != 0
        {
            return Err(NtlmError::BadProof(who()));
        }
        let base = hmac_md5(&key, &[proof]);
        let negotiated = a.flags & ch.flags;
        let exported = if negotiated & flags::KEY_EXCH != 0 {
            let mut k: [u8; 16] = a.encrypted_session_key.as_slice().try_into().map_err(|_| {
                NtlmError::Truncated {
                    what: "EncryptedRandomSessionKey",
                    offset: 52,
                }
            })?;
            rc4(&base, &mut k);
            k
        } else {
            base
        };
        Ok((
            Authenticated {
                user: a.user,
                domain: a.domain,
                workstation: a.workstation,
            },
            NtlmSession::new(negotiated, &exported, Role::Server),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    // [MS-NLMP] 4.2.1 common values and 4.2.4 NTLMv2 authentication.
    const SERVER_CHALLENGE: [u8; 8] = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef];
    const CLIENT_CHALLENGE: [u8; 8] = [0xaa; 8];
    const RANDOM_SESSION_KEY: [u8; 16] = [0x55; 16];

    fn user() -> Credentials {
        Credentials::new("User", "Domain", "Password")
    }

    #[test]
    fn ms_nlmp_4_2_4_1_1_ntowf_v2() {
        let c = user();
        assert_eq!(
            ntowf_v2(&c.nt_hash(), &c.user, &c.domain).to_vec(),
            hex("0c868a403bfd7a93a3001ef22ef02e3f")
        );
    }

    #[test]
    fn ms_nlmp_4_2_4_responses_and_keys() {
        let c = user();
        let key = ntowf_v2(&c.nt_hash(), &c.user, &c.domain);
        let info = TargetInfo::new("Server", "Domain").to_bytes();
        let r = v2_responses(&key, &SERVER_CHALLENGE, &CLIENT_CHALLENGE, 0, &info);
        // 4.2.4.1.2 session base key, 4.2.4.2.1 LMv2, 4.2.4.2.2 NTProofStr.
        assert_eq!(
            r.session_base_key.to_vec(),
            hex("8de40ccadbc14a82f15cb0ad0de95ca3")
        );
        assert_eq!(
            r.lm_response.to_vec(),
            hex("86c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa")
        );
        assert_eq!(
            r.nt_response[..16].to_vec(),
            hex("68cd0ab851e51c96aabc927bebef6a1c")
        );
        // 4.2.4.2.3 encrypted session key: RC4(KeyExchangeKey, RandomSessionKey).
        let mut enc = RANDOM_SESSION_KEY;
        rc4(&r.session_base_key, &mut enc);
        assert_eq!(enc.to_vec(), hex("c5dad2544fc9799094ce1ce90bc9d03e"));
    }

    #[test]
    fn ms_nlmp_4_2_4_4_keys_and_signature() {
        let flags = SIP_FLAGS & !flags::DATAGRAM;
        assert_eq!(
            seal_key(flags, &RANDOM_SESSION_KEY, Role::Client).to_vec(),
            hex("59f600973cc4960a25480a7c196e4c58")
        );
        assert_eq!(
            sign_key(&RANDOM_SESSION_KEY, Role::Client).to_vec(),
            hex("4788dc861b4782f35d43fd98fe1a2d39")
        );
        // The example seals "Plaintext" (UTF-16) first, then encrypts the checksum with the
        // same RC4 stream: the checksum and the sealed bytes are both known answers.
        let plain = utf16("Plaintext");
        let checksum = &hmac_md5(
            &sign_key(&RANDOM_SESSION_KEY, Role::Client),
            &[&[0, 0, 0, 0], &plain],
        )[..8];
        assert_eq!(checksum.to_vec(), hex("70352851f2564309"));
        let mut stream = plain.clone();
        stream.extend_from_slice(checksum);
        rc4(
            &seal_key(flags, &RANDOM_SESSION_KEY, Role::Client),
            &mut stream,
        );
        assert_eq!(
            stream[..18].to_vec(),
            hex("54e50165bf1936dc996020c1811b0f06fb5f")
        );
        assert_eq!(stream[18..].to_vec(), hex("7fb38ec5c55d4976"));
    }

    #[test]
    fn client_and_server_agree_and_reject_a_wrong_password() {
        let server = NtlmServer::new(TargetInfo::new("Server", "Domain"));
        let challenge = server.challenge(SERVER_CHALLENGE, 0x01d0_0000_0000_0000);
        let parsed = ChallengeMessage::parse(&challenge).unwrap();
        assert_eq!(parsed.target_name, "Server");
        assert_eq!(parsed.server_challenge, SERVER_CHALLENGE);
        assert_eq!(
            parsed
                .target_info
                .name(TargetInfo::NB_DOMAIN_NAME)
                .as_deref(),
            Some("Domain")
        );
        let client = NtlmClient::new(user(), "COMPUTER");
        let (auth, cs) = client
            .authenticate(&challenge, CLIENT_CHALLENGE, RANDOM_SESSION_KEY)
            .unwrap();
        let a = AuthenticateMessage::parse(&auth).unwrap();
        assert_eq!((a.user.as_str(), a.domain.as_str()), ("User", "Domain"));
        assert_eq!(a.workstation, "COMPUTER");
        let hash = user().nt_hash();
        let (who, ss) = server.accept(&challenge, &auth, |_, _| Some(hash)).unwrap();
        assert_eq!(who.user, "User");
        let sig = cs.sign(100, b"message");
        assert!(ss.verify(100, b"message", &sig));
        assert!(!ss.verify(100, b"messagf", &sig));
        assert!(!ss.verify(101, b"message", &sig));
        assert!(
            !cs.verify(100, b"message", &sig),
            "a client's own signature"
        );
        let back = ss.sign(7, b"reply");
        assert!(cs.verify(7, b"reply", &back));
        let wrong = Credentials::new("User", "Domain", "password").nt_hash();
        assert!(matches!(
            server.accept(&challenge, &auth, |_, _| Some(wrong)),
            Err(NtlmError::BadProof(_))
        ));
        assert!(server.accept(&challenge, &auth, |_, _| None).is_err());
    }

    #[test]
    fn negotiate_round_trip_and_names() {
        let n = NegotiateMessage {
            flags: SIP_FLAGS,
            domain: String::new(),
            workstation: String::new(),
        };
        assert_eq!(NegotiateMessage::parse(&n.to_bytes()).unwrap(), n);
        // With both names supplied (OEM), as a connection-oriented client may send them.
        let mut b = n.to_bytes();
        b[12..16].copy_from_slice(&(SIP_FLAGS | 0x3000).to_le_bytes());
        b.extend_from_slice(b"CONTOSOWS1");
        b[16..18].copy_from_slice(&7u16.to_le_bytes());
        b[20..24].copy_from_slice(&32u32.to_le_bytes());
        b[24..26].copy_from_slice(&3u16.to_le_bytes());
        b[28..32].copy_from_slice(&39u32.to_le_bytes());
        let p = NegotiateMessage::parse(&b).unwrap();
        assert_eq!(
            (p.domain.as_str(), p.workstation.as_str()),
            ("CONTOSO", "WS1")
        );
        b[28] = 200;
        assert!(matches!(
            NegotiateMessage::parse(&b),
            Err(NtlmError::Truncated {
                what: "Workstation",
                ..
            })
        ));
        assert!(ChallengeMessage::parse(&n.to_bytes()).is_err());
    }

    #[test]
    fn malformed_messages_are_errors_with_offsets() {
        let server = NtlmServer::new(TargetInfo::new("S", "D"));
        let challenge = server.challenge(SERVER_CHALLENGE, 0);
        for cut in 0..challenge.len() {
            assert!(ChallengeMessage::parse(&challenge[..cut]).is_err(), "{cut}");
        }
        let mut bad = challenge.clone();
        bad[44] = 0xff; // TargetInfo offset far outside
        assert!(matches!(
            ChallengeMessage::parse(&bad),
            Err(NtlmError::Truncated {
                what: "TargetInfo",
                offset: 40
            })
        ));
        assert!(matches!(
            AuthenticateMessage::parse(&challenge),
            Err(NtlmError::WrongMessage { offset: 8, .. })
        ));
        assert!(matches!(
            ChallengeMessage::parse(&vec![0; MAX_MESSAGE + 1]),
            Err(NtlmError::TooLong(_))
        ));
    }
}
