//! The protection profiles (crypto suites).

use std::fmt;
use std::str::FromStr;

/// An SRTP protection profile. Names are those of RFC 4568 §6.2, RFC 6188 and RFC 7714.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Suite {
    /// `AES_CM_128_HMAC_SHA1_80` (RFC 3711, RFC 4568): the default, and the only suite
    /// [MS-SDPEXT] lets OCS 2007 offer.
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: 32-bit SRTP tag; SRTCP keeps the 80-bit tag (RFC 4568 §6.2.1).
    AesCm128HmacSha1_32,
    /// `AES_192_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm192HmacSha1_80,
    /// `AES_192_CM_HMAC_SHA1_32` (RFC 6188).
    AesCm192HmacSha1_32,
    /// `AES_256_CM_HMAC_SHA1_80` (RFC 6188).
    AesCm256HmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32` (RFC 6188).
    AesCm256HmacSha1_32,
    /// `NULL_HMAC_SHA1_80`: authentication only (RFC 3711 NULL cipher), as libsrtp offers.
    NullHmacSha1_80,
    /// `NULL_HMAC_SHA1_32`.
    NullHmacSha1_32,
    /// `AEAD_AES_128_GCM` (RFC 7714): 16-octet tag.
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM` (RFC 7714).
    AeadAes256Gcm,
}

/// How a suite encrypts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CipherKind {
    Null,
    AesCm,
    Gcm,
}

impl Suite {
    /// Every suite.
    pub const ALL: [Suite; 10] = [
        Suite::AesCm128HmacSha1_80,
        Suite::AesCm128HmacSha1_32,
        Suite::AesCm192HmacSha1_80,
        Suite::AesCm192HmacSha1_32,
        Suite::AesCm256HmacSha1_80,
        Suite::AesCm256HmacSha1_32,
        Suite::NullHmacSha1_80,
        Suite::NullHmacSha1_32,
        Suite::AeadAes128Gcm,
        Suite::AeadAes256Gcm,
    ];

    /// The name used in `a=crypto` and by libsrtp.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::AesCm192HmacSha1_80 => "AES_192_CM_HMAC_SHA1_80",
            Suite::AesCm192HmacSha1_32 => "AES_192_CM_HMAC_SHA1_32",
            Suite::AesCm256HmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::AesCm256HmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
            Suite::NullHmacSha1_80 => "NULL_HMAC_SHA1_80",
            Suite::NullHmacSha1_32 => "NULL_HMAC_SHA1_32",
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    pub(crate) const fn cipher(self) -> CipherKind {
        match self {
            Suite::NullHmacSha1_80 | Suite::NullHmacSha1_32 => CipherKind::Null,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => CipherKind::Gcm,
            _ => CipherKind::AesCm,
        }
    }

    /// Master key length in bytes (the NULL suites derive 128-bit keys nonetheless).
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Suite::AesCm192HmacSha1_80 | Suite::AesCm192HmacSha1_32 => 24,
            Suite::AesCm256HmacSha1_80 | Suite::AesCm256HmacSha1_32 | Suite::AeadAes256Gcm => 32,
            _ => 16,
        }
    }

    /// Master salt length in bytes: 14 (112 bits) for AES-CM, 12 for GCM.
    #[must_use]
    pub const fn salt_len(self) -> usize {
        match self.cipher() {
            CipherKind::Gcm => 12,
            _ => 14,
        }
    }

    /// SRTP authentication tag length in bytes.
    #[must_use]
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_32
            | Suite::AesCm192HmacSha1_32
            | Suite::AesCm256HmacSha1_32
            | Suite::NullHmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
            _ => 10,
        }
    }

    /// SRTCP authentication tag length: 80 bits for every HMAC suite (RFC 4568 §6.2.1 keeps it
    /// for the `_32` suites, as libsrtp does), 16 bytes for GCM.
    #[must_use]
    pub const fn rtcp_tag_len(self) -> usize {
        match self.cipher() {
            CipherKind::Gcm => 16,
            _ => 10,
        }
    }

    /// True for the AEAD suites.
    #[must_use]
    pub const fn is_aead(self) -> bool {
        matches!(self.cipher(), CipherKind::Gcm)
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The name is not one of [`Suite::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SRTP crypto suite {0:?}")]
pub struct UnknownSuite(pub String);

impl FromStr for Suite {
    type Err = UnknownSuite;
    /// Accepts the RFC 4568 names and the `AES_128_CM_...` spelling some stacks use.
    fn from_str(s: &str) -> Result<Self, UnknownSuite> {
        let canonical = match s.to_ascii_uppercase().as_str() {
            "AES_128_CM_HMAC_SHA1_80" => "AES_CM_128_HMAC_SHA1_80",
            "AES_128_CM_HMAC_SHA1_32" => "AES_CM_128_HMAC_SHA1_32",
            _ => s,
        };
        Suite::ALL
            .into_iter()
            .find(|x| x.name().eq_ignore_ascii_case(canonical))
            .ok_or_else(|| UnknownSuite(s.to_string()))
    }
}
