//! What a stream is keyed with: the suite, the master keys, and the options of RFC 3711 §8.

use crate::error::Error;
use crate::replay::MAX_WINDOW;
use crate::suite::Suite;

/// A master key and master salt, with the MKI that names it in packets (empty without MKI).
#[derive(Clone, PartialEq, Eq)]
pub struct MasterKey {
    pub(crate) key: Vec<u8>,
    pub(crate) salt: Vec<u8>,
    pub(crate) mki: Vec<u8>,
    pub(crate) lifetime: Option<u64>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("MasterKey")
            .field("key_len", &self.key.len())
            .field("salt_len", &self.salt.len())
            .field("mki", &self.mki)
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

impl MasterKey {
    /// A master key from the concatenated key and salt, as `a=crypto` carries them.
    pub fn from_key_salt(suite: Suite, key_salt: &[u8]) -> Result<Self, Error> {
        if key_salt.len() != suite.key_len() + suite.salt_len() {
            return Err(Error::InvalidPolicy(
                "master key || salt has the wrong length for the suite",
            ));
        }
        let (key, salt) = key_salt.split_at(suite.key_len());
        Ok(MasterKey {
            key: key.to_vec(),
            salt: salt.to_vec(),
            mki: Vec::new(),
            lifetime: None,
        })
    }

    /// Limits how many SRTP packets this key protects (the `a=crypto` lifetime), below the
    /// RFC 3711 limit of 2^48.
    #[must_use]
    pub fn with_lifetime(mut self, packets: u64) -> Self {
        self.lifetime = Some(packets);
        self
    }

    /// Sets the MKI that names this key in packets (1 to 128 bytes, RFC 4568 §6.1).
    pub fn with_mki(mut self, mki: &[u8]) -> Result<Self, Error> {
        if mki.is_empty() || mki.len() > 128 {
            return Err(Error::InvalidPolicy("MKI length must be 1..=128"));
        }
        self.mki = mki.to_vec();
        Ok(self)
    }

    /// The MKI (empty when none).
    #[must_use]
    pub fn mki(&self) -> &[u8] {
        &self.mki
    }
}

/// How a stream is protected.
///
/// ```
/// use ocs_srtp::{MasterKey, Policy, Suite};
/// let key = [7u8; 30];
/// let policy = Policy::new(Suite::AesCm128HmacSha1_80, MasterKey::from_key_salt(Suite::AesCm128HmacSha1_80, &key).unwrap())
///     .with_window(1024).unwrap();
/// assert_eq!(policy.window(), 1024);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub(crate) suite: Suite,
    pub(crate) keys: Vec<MasterKey>,
    pub(crate) mki_len: usize,
    pub(crate) kdr_log2: Option<u8>,
    pub(crate) window: usize,
    pub(crate) encrypt_rtp: bool,
    pub(crate) encrypt_rtcp: bool,
}

impl Policy {
    /// A policy with one master key, no MKI, no key derivation rate, a 128-packet replay window,
    /// RTP and RTCP encrypted (SRTCP with the E flag clear for the NULL cipher, as libsrtp does).
    #[must_use]
    pub fn new(suite: Suite, key: MasterKey) -> Self {
        let mki_len = key.mki.len();
        Policy {
            suite,
            keys: vec![key],
            mki_len,
            kdr_log2: None,
            window: 128,
            encrypt_rtp: true,
            encrypt_rtcp: !matches!(suite, Suite::NullHmacSha1_80 | Suite::NullHmacSha1_32),
        }
    }

    /// The profile [MS-SRTP] fixes for Office Communications Server 2007 media:
    /// AES_CM_128_HMAC_SHA1_80, no MKI, key derivation rate 0, RTP and RTCP encrypted, and the
    /// master key lifetime of 2^31 packets that [MS-SDPEXT] writes into `a=crypto`.
    ///
    /// ```
    /// use ocs_srtp::Policy;
    /// let p = Policy::ms_srtp(&[0x42; 30]).unwrap();
    /// assert!(p.is_ms_srtp());
    /// ```
    pub fn ms_srtp(key_salt: &[u8]) -> Result<Self, Error> {
        let suite = Suite::AesCm128HmacSha1_80;
        Ok(Policy::new(
            suite,
            MasterKey::from_key_salt(suite, key_salt)?.with_lifetime(1 << 31),
        ))
    }

    /// True when the policy stays inside the [MS-SRTP] subset (see [`Policy::ms_srtp`]): a
    /// Microsoft endpoint may refuse anything else, the NULL cipher in particular.
    #[must_use]
    pub fn is_ms_srtp(&self) -> bool {
        self.suite == Suite::AesCm128HmacSha1_80
            && self.mki_len == 0
            && self.kdr_log2.is_none()
            && self.encrypt_rtp
            && self.encrypt_rtcp
            && self.keys.len() == 1
    }

    /// Adds another master key, chosen by its MKI on receipt. Every key of a policy with MKI
    /// must carry an MKI of the same length; the first key protects outgoing packets.
    pub fn with_key(mut self, key: MasterKey) -> Result<Self, Error> {
        if key.mki.is_empty() || key.mki.len() != self.mki_len {
            return Err(Error::InvalidPolicy(
                "every master key needs an MKI of the same length",
            ));
        }
        if self.keys.iter().any(|k| k.mki == key.mki) {
            return Err(Error::InvalidPolicy("two master keys with one MKI"));
        }
        self.keys.push(key);
        Ok(self)
    }

    /// The replay window in packets: 64 to 32,768, a multiple of 64 (default 128).
    pub fn with_window(mut self, packets: usize) -> Result<Self, Error> {
        if !(64..=MAX_WINDOW).contains(&packets) || !packets.is_multiple_of(64) {
            return Err(Error::InvalidPolicy(
                "replay window must be 64..=32768, a multiple of 64",
            ));
        }
        self.window = packets;
        Ok(self)
    }

    /// The key derivation rate (RFC 3711 §4.3.1): 0 (derive once) or 2^n for n in 0..=24.
    pub fn with_kdr(mut self, kdr: u32) -> Result<Self, Error> {
        self.kdr_log2 = match kdr {
            0 => None,
            k if k.is_power_of_two() && k <= 1 << 24 => Some(k.trailing_zeros() as u8),
            _ => {
                return Err(Error::InvalidPolicy(
                    "key derivation rate must be 0 or 2^n, n <= 24",
                ));
            }
        };
        Ok(self)
    }

    /// Whether RTP payloads are encrypted (default true; false keeps authentication only, as
    /// the NULL cipher or the RFC 7714 authentication-only mode).
    #[must_use]
    pub fn with_rtp_encryption(mut self, on: bool) -> Self {
        self.encrypt_rtp = on;
        self
    }

    /// Whether SRTCP packets are sent encrypted (the E flag; default true). Received packets
    /// say for themselves.
    #[must_use]
    pub fn with_rtcp_encryption(mut self, on: bool) -> Self {
        self.encrypt_rtcp = on;
        self
    }

    /// The suite.
    #[must_use]
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The replay window in packets.
    #[must_use]
    pub fn window(&self) -> usize {
        self.window
    }

    /// The master keys, the sending one first.
    #[must_use]
    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }

    /// The MKI length in bytes (0 without MKI).
    #[must_use]
    pub fn mki_len(&self) -> usize {
        self.mki_len
    }

    pub(crate) fn check(&self) -> Result<(), Error> {
        for k in &self.keys {
            if k.key.len() != self.suite.key_len() || k.salt.len() != self.suite.salt_len() {
                return Err(Error::InvalidPolicy(
                    "master key or salt has the wrong length for the suite",
                ));
            }
            if k.mki.len() != self.mki_len {
                return Err(Error::InvalidPolicy("MKI lengths differ"));
            }
        }
        Ok(())
    }
}
