//! SDES key exchange: `a=crypto` attributes (RFC 4568 §9.1) in and out of [`Policy`].
//!
//! OCS 2007 writes them as [MS-SDPEXT] says: single spaces, `AES_CM_128_HMAC_SHA1_80`, and
//! `inline:<base64 key||salt>|2^31`, optionally followed by `|<MKI value>:<MKI length>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::Error;
use crate::policy::{MasterKey, Policy};
use crate::suite::Suite;

/// One `inline:` key of an `a=crypto` line.
#[derive(Clone, PartialEq, Eq)]
pub struct SdesKey {
    /// Master key followed by master salt.
    pub key_salt: Vec<u8>,
    /// Lifetime in packets (`2^31` or a decimal number), when given.
    pub lifetime: Option<u64>,
    /// MKI value and its length in bytes, when given.
    pub mki: Option<(u64, u8)>,
}

impl fmt::Debug for SdesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SdesKey")
            .field("key_salt_len", &self.key_salt.len())
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}

/// An `a=crypto` attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// The tag that the answer echoes.
    pub tag: u32,
    /// The suite.
    pub suite: Suite,
    /// One or more keys.
    pub keys: Vec<SdesKey>,
    /// `KDR=n`: key derivation rate 2^n.
    pub kdr: Option<u8>,
    /// `UNENCRYPTED_SRTP`.
    pub unencrypted_srtp: bool,
    /// `UNENCRYPTED_SRTCP`.
    pub unencrypted_srtcp: bool,
    /// `WSH=n`: the window size hint.
    pub window_hint: Option<usize>,
}

fn bad(what: &'static str) -> Error {
    Error::InvalidPolicy(what)
}

impl Crypto {
    /// Parses an attribute value (`1 AES_CM_128_HMAC_SHA1_80 inline:...`), with or without the
    /// leading `a=crypto:`.
    ///
    /// ```
    /// use ocs_srtp::sdes::Crypto;
    /// let c = Crypto::parse("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31").unwrap();
    /// assert_eq!(c.keys[0].lifetime, Some(1 << 31));
    /// let policy = c.policy().unwrap();
    /// assert_eq!(c.to_string(), "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31");
    /// # let _ = policy;
    /// ```
    pub fn parse(s: &str) -> Result<Self, Error> {
        let s = s.trim_end_matches(['\r', '\n']);
        let s = s.strip_prefix("a=crypto:").unwrap_or(s);
        let mut it = s.split([' ', '\t']).filter(|x| !x.is_empty());
        let tag = it
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t < 1_000_000_000)
            .ok_or(bad("crypto tag must be 1 to 9 digits"))?;
        let suite: Suite = it
            .next()
            .ok_or(bad("crypto suite missing"))?
            .parse()
            .map_err(|_| bad("unknown crypto suite"))?;
        let key_params = it.next().ok_or(bad("key parameters missing"))?;
        let mut keys = Vec::new();
        for kp in key_params.split(';') {
            let info = kp
                .strip_prefix("inline:")
                .ok_or(bad("key method must be inline"))?;
            let mut parts = info.split('|');
            let b64 = parts.next().unwrap_or("");
            let key_salt = STANDARD
                .decode(b64)
                .map_err(|_| bad("key is not valid base64"))?;
            if key_salt.len() != suite.key_len() + suite.salt_len() {
                return Err(bad("key || salt length does not fit the suite"));
            }
            let mut key = SdesKey {
                key_salt,
                lifetime: None,
                mki: None,
            };
            for p in parts {
                if let Some((v, l)) = p.split_once(':') {
                    let len: u8 = l
                        .parse()
                        .ok()
                        .filter(|l| (1..=128).contains(l))
                        .ok_or(bad("MKI length must be 1..=128"))?;
                    let value: u64 = v.parse().map_err(|_| bad("MKI value"))?;
                    if len < 8 && value >> (u32::from(len) * 8) != 0 {
                        return Err(bad("MKI value does not fit its length"));
                    }
                    if key.mki.replace((value, len)).is_some() {
                        return Err(bad("two MKI fields"));
                    }
                } else {
                    if key.lifetime.is_some() || key.mki.is_some() {
                        return Err(bad("lifetime after MKI or twice"));
                    }
                    let lt = match p.strip_prefix("2^") {
                        Some(e) => e.parse::<u32>().ok().filter(|e| *e < 64).map(|e| 1u64 << e),
                        None => p.parse::<u64>().ok(),
                    };
                    key.lifetime = Some(lt.ok_or(bad("lifetime"))?);
                }
            }
            keys.push(key);
        }
        let mut c = Crypto {
            tag,
            suite,
            keys,
            kdr: None,
            unencrypted_srtp: false,
            unencrypted_srtcp: false,
            window_hint: None,
        };
        for sp in it {
            match sp.split_once('=') {
                Some(("KDR", n)) => {
                    c.kdr = Some(
                        n.parse()
                            .ok()
                            .filter(|n| *n <= 24)
                            .ok_or(bad("KDR must be 0..=24"))?,
                    )
                }
                Some(("WSH", n)) => c.window_hint = Some(n.parse().map_err(|_| bad("WSH"))?),
                None if sp == "UNENCRYPTED_SRTP" => c.unencrypted_srtp = true,
                None if sp == "UNENCRYPTED_SRTCP" => c.unencrypted_srtcp = true,
                None if sp == "UNAUTHENTICATED_SRTP" => {
                    return Err(bad("UNAUTHENTICATED_SRTP is not supported"));
                }
                // Other session parameters (FEC_ORDER, FEC_KEY...) do not change protection here.
                _ => {}
            }
        }
        let mki_lens: Vec<u8> = c.keys.iter().map(|k| k.mki.map_or(0, |m| m.1)).collect();
        if mki_lens.windows(2).any(|w| w[0] != w[1]) {
            return Err(bad("every key of a crypto line needs the same MKI length"));
        }
        Ok(c)
    }

    /// The policy these keys describe: every key (the first protects outgoing packets), the
    /// key derivation rate, encryption flags, and the window hint rounded up to a multiple of 64.
    pub fn policy(&self) -> Result<Policy, Error> {
        let mut policy: Option<Policy> = None;
        for k in &self.keys {
            let mut mk = MasterKey::from_key_salt(self.suite, &k.key_salt)?;
            if let Some(lt) = k.lifetime {
                mk = mk.with_lifetime(lt);
            }
            if let Some((v, len)) = k.mki {
                let mut mki = vec![0u8; usize::from(len)];
                let bytes = v.to_be_bytes();
                let n = usize::from(len).min(8);
                mki[usize::from(len) - n..].copy_from_slice(&bytes[8 - n..]);
                mk = mk.with_mki(&mki)?;
            }
            policy = Some(match policy {
                None => Policy::new(self.suite, mk),
                Some(p) => p.with_key(mk)?,
            });
        }
        let mut p = policy.ok_or(bad("no key"))?;
        if let Some(n) = self.kdr {
            p = p.with_kdr(1 << n)?;
        }
        if let Some(w) = self.window_hint {
            p = p.with_window(w.clamp(64, crate::MAX_WINDOW).div_ceil(64) * 64)?;
        }
        Ok(p.with_rtp_encryption(!self.unencrypted_srtp)
            .with_rtcp_encryption(!self.unencrypted_srtcp))
    }

    /// An attribute for a key, in the [MS-SDPEXT] form (`|2^31` lifetime) when `ms_form`.
    #[must_use]
    pub fn new(tag: u32, suite: Suite, key_salt: &[u8], ms_form: bool) -> Self {
        Crypto {
            tag,
            suite,
            keys: vec![SdesKey {
                key_salt: key_salt.to_vec(),
                lifetime: ms_form.then_some(1 << 31),
                mki: None,
            }],
            kdr: None,
            unencrypted_srtp: false,
            unencrypted_srtcp: false,
            window_hint: None,
        }
    }
}

impl fmt::Display for Crypto {
    /// The attribute value, single-spaced as [MS-SDPEXT] requires.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ", self.tag, self.suite)?;
        for (i, k) in self.keys.iter().enumerate() {
            if i > 0 {
                f.write_str(";")?;
            }
            write!(f, "inline:{}", STANDARD.encode(&k.key_salt))?;
            match k.lifetime {
                Some(l) if l.is_power_of_two() => write!(f, "|2^{}", l.trailing_zeros())?,
                Some(l) => write!(f, "|{l}")?,
                None => {}
            }
            if let Some((v, l)) = k.mki {
                write!(f, "|{v}:{l}")?;
            }
        }
        if let Some(n) = self.kdr {
            write!(f, " KDR={n}")?;
        }
        if self.unencrypted_srtp {
            f.write_str(" UNENCRYPTED_SRTP")?;
        }
        if self.unencrypted_srtcp {
            f.write_str(" UNENCRYPTED_SRTCP")?;
        }
        if let Some(w) = self.window_hint {
            write!(f, " WSH={w}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc4568_examples() {
        // RFC 4568 §9.1 / §10 examples.
        let c = Crypto::parse(
            "1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32",
        )
        .unwrap();
        assert_eq!(c.keys[0].lifetime, Some(1 << 20));
        assert_eq!(c.keys[0].mki, Some((1, 32)));
        let p = c.policy().unwrap();
        assert_eq!(p.mki_len(), 32);
        assert_eq!(p.keys()[0].mki()[31], 1);
        let c = Crypto::parse("2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^20|1:32 KDR=1 UNENCRYPTED_SRTCP WSH=100").unwrap();
        assert_eq!(c.kdr, Some(1));
        let p = c.policy().unwrap();
        assert_eq!(p.window(), 128);
        assert_eq!(Crypto::parse(&c.to_string()).unwrap(), c);
    }

    #[test]
    fn ms_sdpext_form() {
        let c = Crypto::new(1, Suite::AesCm128HmacSha1_80, &[9; 30], true);
        let s = c.to_string();
        assert_eq!(
            s,
            "1 AES_CM_128_HMAC_SHA1_80 inline:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ|2^31"
        );
        assert_eq!(Crypto::parse(&format!("a=crypto:{s}\r\n")).unwrap(), c);
    }

    #[test]
    fn refusals() {
        for bad in [
            "",
            "x AES_CM_128_HMAC_SHA1_80 inline:AAAA",
            "1 NO_SUCH_SUITE inline:AAAA",
            "1 AES_CM_128_HMAC_SHA1_80 key:AAAA",
            "1 AES_CM_128_HMAC_SHA1_80 inline:!!!!",
            "1 AES_CM_128_HMAC_SHA1_80 inline:AAAA",
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|300:1",
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|1:0",
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz UNAUTHENTICATED_SRTP",
            "1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz KDR=25",
        ] {
            assert!(Crypto::parse(bad).is_err(), "{bad}");
        }
    }
}
