//! Key derivation (RFC 3711 §4.3, RFC 6188 §5, RFC 7714 §11) and the per-session cipher and
//! authentication state derived from a master key.

use crate::hmac_sha1::HmacSha1;
use aes::cipher::consts::U16;
use aes::cipher::{
    BlockCipherEncrypt, InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper,
};
use aes::{Aes128, Aes192, Aes256};
use aes_gcm::aead::{AeadInOut, inout::InOutBuf};
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};

use crate::error::Error;
use crate::suite::{CipherKind, Suite};

/// RFC 3711 §4.3.1 labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Label {
    RtpEncryption = 0,
    RtpAuth = 1,
    RtpSalt = 2,
    RtcpEncryption = 3,
    RtcpAuth = 4,
    RtcpSalt = 5,
}

/// An AES key schedule of any size.
#[derive(Clone)]
pub(crate) enum AesKey {
    A128(Aes128),
    A192(Aes192),
    A256(Aes256),
}

impl AesKey {
    pub(crate) fn new(key: &[u8]) -> Result<Self, Error> {
        let bad = |_| Error::InvalidPolicy("AES key length");
        Ok(match key.len() {
            16 => AesKey::A128(Aes128::new_from_slice(key).map_err(bad)?),
            24 => AesKey::A192(Aes192::new_from_slice(key).map_err(bad)?),
            32 => AesKey::A256(Aes256::new_from_slice(key).map_err(bad)?),
            _ => return Err(Error::InvalidPolicy("AES key length")),
        })
    }

    /// XORs `data` with the AES counter-mode keystream starting at `iv` (RFC 3711 §4.1.1).
    #[inline]
    pub(crate) fn apply_ctr(&self, iv: &[u8; 16], data: &mut [u8]) {
        fn run<C: BlockCipherEncrypt<BlockSize = U16>>(c: &C, iv: &[u8; 16], data: &mut [u8]) {
            // Borrow the key schedule rather than copy it for every packet.
            let core = ctr::CtrCore::<&C, ctr::flavors::Ctr128BE>::inner_iv_init(c, iv.into());
            StreamCipherCoreWrapper::from_core(core).apply_keystream(data);
        }
        match self {
            AesKey::A128(c) => run(c, iv, data),
            AesKey::A192(c) => run(c, iv, data),
            AesKey::A256(c) => run(c, iv, data),
        }
    }
}

/// The AES-CM PRF of RFC 3711 §4.3.3: `out` = AES-CTR keystream under the master key, IV =
/// (master_salt XOR key_id) || 0x0000.
///
/// With a key derivation rate (`r` is `Some(index DIV kdr)`), key_id = label || r where r has
/// 48 bits for the SRTP labels and, for the SRTCP labels, is the 32-bit quantity of §4.3.2 (as
/// the NIST ACVP vectors have it). Without one (`None`), r is 0 and every label sits where the
/// SRTP labels do, as libsrtp and every deployed peer derive it.
pub(crate) fn derive(
    master: &AesKey,
    master_salt: &[u8],
    label: Label,
    r: Option<u64>,
    out: &mut [u8],
) {
    let mut iv = [0u8; 16];
    // A 12-byte GCM master salt is used right-padded with zeros (RFC 7714 §11).
    let n = master_salt.len().min(14);
    iv[..n].copy_from_slice(&master_salt[..n]);
    let l = label as u8;
    match r {
        None => iv[7] ^= l,
        Some(r) if l < 3 => {
            iv[7] ^= l;
            let r = r.to_be_bytes();
            for i in 0..6 {
                iv[8 + i] ^= r[2 + i];
            }
        }
        Some(r) => {
            iv[9] ^= l;
            let r = (r as u32).to_be_bytes();
            for i in 0..4 {
                iv[10 + i] ^= r[i];
            }
        }
    }
    out.fill(0);
    master.apply_ctr(&iv, out);
}

/// A packet cipher: none, AES counter mode, or AES-GCM.
#[derive(Clone)]
pub(crate) enum Cipher {
    Null,
    AesCm(AesKey),
    Gcm128(Aes128Gcm),
    Gcm256(Aes256Gcm),
}

impl Cipher {
    /// GCM: encrypts `data` in place and returns the 16-byte tag.
    pub(crate) fn gcm_seal(&self, nonce: &[u8; 12], aad: &[u8], data: &mut [u8]) -> [u8; 16] {
        let nonce = Nonce::from(*nonce);
        let buf = InOutBuf::from(data);
        let tag = match self {
            Cipher::Gcm128(c) => c.encrypt_inout_detached(&nonce, aad, buf),
            Cipher::Gcm256(c) => c.encrypt_inout_detached(&nonce, aad, buf),
            _ => return [0; 16],
        };
        tag.map(Into::into).unwrap_or([0; 16])
    }

    /// GCM: checks the tag and decrypts `data` in place; on failure `data` is unchanged.
    pub(crate) fn gcm_open(
        &self,
        nonce: &[u8; 12],
        aad: &[u8],
        data: &mut [u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        let nonce = Nonce::from(*nonce);
        let tag: &Tag = tag.try_into().map_err(|_| Error::AuthenticationFailed)?;
        let buf = InOutBuf::from(data);
        let r = match self {
            Cipher::Gcm128(c) => c.decrypt_inout_detached(&nonce, aad, buf, tag),
            Cipher::Gcm256(c) => c.decrypt_inout_detached(&nonce, aad, buf, tag),
            _ => return Err(Error::AuthenticationFailed),
        };
        r.map_err(|_| Error::AuthenticationFailed)
    }
}

impl Cipher {
    /// GCM with an empty plaintext and AAD `a || b` (SRTCP without encryption, RFC 7714 §9.2):
    /// checks the tag.
    pub(crate) fn gcm_open_split(
        &self,
        nonce: &[u8; 12],
        a: &[u8],
        b: &[u8],
        tag: &[u8],
    ) -> Result<(), Error> {
        // The AAD must be contiguous for the AEAD API; RTCP packets are small, so a stack copy
        // of up to 1,500 bytes serves, and longer packets use a heap copy.
        let mut stack = [0u8; 1504];
        if a.len() + b.len() <= stack.len() {
            stack[..a.len()].copy_from_slice(a);
            stack[a.len()..a.len() + b.len()].copy_from_slice(b);
            self.gcm_open(nonce, &stack[..a.len() + b.len()], &mut [], tag)
        } else {
            let mut v = Vec::with_capacity(a.len() + b.len());
            v.extend_from_slice(a);
            v.extend_from_slice(b);
            self.gcm_open(nonce, &v, &mut [], tag)
        }
    }
}

/// Keys for one direction of one stream, derived for one value of r = index DIV kdr.
#[derive(Clone)]
pub(crate) struct SessionKeys {
    pub(crate) cipher: Cipher,
    pub(crate) salt: [u8; 14],
    /// HMAC-SHA1 keyed with the session auth key: its inner and outer hash states are computed
    /// once here. Unused (keyed with zeros) for the AEAD suites.
    pub(crate) auth: HmacSha1,
}

impl SessionKeys {
    /// Derives the SRTP (`rtcp` false) or SRTCP session keys.
    pub(crate) fn derive(
        suite: Suite,
        master: &AesKey,
        master_salt: &[u8],
        r: Option<u64>,
        rtcp: bool,
    ) -> Result<Self, Error> {
        let (le, la, ls) = if rtcp {
            (Label::RtcpEncryption, Label::RtcpAuth, Label::RtcpSalt)
        } else {
            (Label::RtpEncryption, Label::RtpAuth, Label::RtpSalt)
        };
        let mut key = [0u8; 32];
        let key = &mut key[..suite.key_len()];
        derive(master, master_salt, le, r, key);
        let mut salt = [0u8; 14];
        derive(master, master_salt, ls, r, &mut salt[..suite.salt_len()]);
        let cipher = match suite.cipher() {
            CipherKind::Null => Cipher::Null,
            CipherKind::AesCm => Cipher::AesCm(AesKey::new(key)?),
            CipherKind::Gcm => match suite.key_len() {
                16 => Cipher::Gcm128(
                    Aes128Gcm::new_from_slice(key).map_err(|_| Error::InvalidPolicy("key"))?,
                ),
                _ => Cipher::Gcm256(
                    Aes256Gcm::new_from_slice(key).map_err(|_| Error::InvalidPolicy("key"))?,
                ),
            },
        };
        let mut a = [0u8; 20];
        if !suite.is_aead() {
            derive(master, master_salt, la, r, &mut a);
        }
        let auth = HmacSha1::new(&a);
        Ok(SessionKeys { cipher, salt, auth })
    }

    /// Session keys given directly (for known-answer tests that start from session keys).
    #[cfg(test)]
    pub(crate) fn from_raw(suite: Suite, key: &[u8], salt: &[u8]) -> Self {
        let mut s = [0u8; 14];
        s[..salt.len()].copy_from_slice(salt);
        let cipher = match (suite.cipher(), key.len()) {
            (CipherKind::Gcm, 16) => Cipher::Gcm128(Aes128Gcm::new_from_slice(key).unwrap()),
            (CipherKind::Gcm, _) => Cipher::Gcm256(Aes256Gcm::new_from_slice(key).unwrap()),
            (CipherKind::AesCm, _) => Cipher::AesCm(AesKey::new(key).unwrap()),
            (CipherKind::Null, _) => Cipher::Null,
        };
        let auth = HmacSha1::new(&[0u8; 20]);
        SessionKeys {
            cipher,
            salt: s,
            auth,
        }
    }

    /// The full HMAC-SHA1 over `parts`, from the pre-keyed state.
    #[inline]
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 20] {
        self.auth.mac(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn rfc3711_b3_key_derivation() {
        let master = AesKey::new(&h("E1F97A0D3E018BE0D64FA32C06DE4139")).unwrap();
        let salt = h("0EC675AD498AFEEBB6960B3AABE6");
        let mut k = [0u8; 16];
        derive(&master, &salt, Label::RtpEncryption, None, &mut k);
        assert_eq!(k.to_vec(), h("C61E7A93744F39EE10734AFE3FF7A087"));
        let mut s = [0u8; 14];
        derive(&master, &salt, Label::RtpSalt, None, &mut s);
        assert_eq!(s.to_vec(), h("30CBBC08863D8C85D49DB34A9AE1"));
        let mut a = [0u8; 94];
        derive(&master, &salt, Label::RtpAuth, None, &mut a);
        assert_eq!(
            a[..20].to_vec(),
            h("CEBE321F6FF7716B6FD4AB49AF256A156D38BAA4")
        );
        assert_eq!(a[80..].to_vec(), h("6B68642C59BBFC2F34DB60DBDFB2"));
    }

    fn vectors(name: &str) -> String {
        let base = std::env::var_os("OCS_VECTORS").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
            std::path::PathBuf::from,
        );
        std::fs::read_to_string(base.join("srtp").join(name))
            .unwrap_or_else(|e| panic!("SRTP vector {name}: {e}"))
    }

    /// OpenSSL / NIST ACVP KDF vectors, non-zero key derivation rates and SRTCP labels.
    #[test]
    fn kdf_with_key_derivation_rate() {
        let text = vectors("openssl_srtpkdf_kdr_vectors.txt");
        let mut n = 0;
        for line in text
            .lines()
            .filter(|l| !l.starts_with('#') && l.contains('|'))
        {
            let f: Vec<&str> = line.split('|').map(str::trim).collect();
            let master = AesKey::new(&h(f[0])).unwrap();
            let salt = h(f[1]);
            let kdr: u64 = f[2].parse().unwrap();
            let index = u64::from_str_radix(f[3], 16).unwrap();
            let label = [
                Label::RtpEncryption,
                Label::RtpAuth,
                Label::RtpSalt,
                Label::RtcpEncryption,
                Label::RtcpAuth,
                Label::RtcpSalt,
            ][f[4].parse::<usize>().unwrap()];
            let want = h(f[5]);
            let r = (kdr != 0).then(|| index / kdr);
            let mut out = vec![0u8; want.len()];
            derive(&master, &salt, label, r, &mut out);
            assert_eq!(out, want, "{line}");
            n += 1;
        }
        assert_eq!(n, 21);
    }

    /// RFC 6188 §7: AES-192/256 keystreams and key derivation.
    #[test]
    fn rfc6188() {
        let text = vectors("rfc6188_aes192_256.txt");
        let val = |section: &str, key: &str| -> Vec<u8> {
            let sec = text.split("## ").find(|s| s.starts_with(section)).unwrap();
            let line = sec
                .lines()
                .find(|l| l.trim_start().starts_with(key))
                .unwrap();
            h(&line
                .split(':')
                .nth(1)
                .unwrap()
                .split('(')
                .next()
                .unwrap()
                .replace(' ', ""))
        };
        for (ks_section, prf_section) in [("7.1", "7.2"), ("7.3", "7.4")] {
            let key = AesKey::new(&val(ks_section, "session key")).unwrap();
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(&h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
            let want = val(ks_section, "keystream");
            let mut ks = vec![0u8; want.len()];
            key.apply_ctr(&iv, &mut ks);
            assert_eq!(ks, want, "{ks_section}");
            let master = AesKey::new(&val(prf_section, "master key")).unwrap();
            let salt = val(prf_section, "master salt");
            for (label, name) in [
                (Label::RtpEncryption, "cipher key"),
                (Label::RtpSalt, "cipher salt"),
                (Label::RtpAuth, "auth key"),
            ] {
                let want = val(prf_section, name);
                let mut out = vec![0u8; want.len()];
                derive(&master, &salt, label, None, &mut out);
                assert_eq!(out, want, "{prf_section} {name}");
            }
        }
    }

    /// libsrtp's cipher known answers: AES-ICM 128/192/256 and AES-GCM 128/256 (16-byte tags).
    #[test]
    fn libsrtp_cipher_test_cases() {
        let text = vectors("libsrtp_cipher_test_cases.txt");
        let v = |name: &str| -> Vec<u8> {
            let line = text
                .lines()
                .find(|l| l.starts_with(name) && l.contains(" = "))
                .unwrap();
            h(line.split(" = ").nth(1).unwrap())
        };
        for bits in [128, 192, 256] {
            let p = format!("srtp_aes_icm_{bits}_test_case_0_");
            let ks = v(&format!("{p}key"));
            let (key, salt) = ks.split_at(ks.len() - 14);
            let mut iv = [0u8; 16];
            iv[..14].copy_from_slice(salt);
            let mut data = v(&format!("{p}plaintext"));
            AesKey::new(key).unwrap().apply_ctr(&iv, &mut data);
            assert_eq!(data, v(&format!("{p}ciphertext")), "ICM {bits}");
        }
        for (bits, suite) in [(128, Suite::AeadAes128Gcm), (256, Suite::AeadAes256Gcm)] {
            let p = format!("srtp_aes_gcm_{bits}_test_case_0_");
            let ks = v(&format!("{p}key"));
            let key = &ks[..suite.key_len()];
            let cipher = SessionKeys::from_raw(suite, key, &[0; 12]).cipher;
            let iv: [u8; 12] = v(&format!("{p}iv")).try_into().unwrap();
            let mut data = v(&format!("{p}plaintext"));
            let tag = cipher.gcm_seal(&iv, &v(&format!("{p}aad")), &mut data);
            data.extend_from_slice(&tag);
            assert_eq!(data, v(&format!("{p}ciphertext")), "GCM {bits}");
        }
    }

    #[test]
    fn rfc3711_b2_keystream() {
        let key = AesKey::new(&h("2B7E151628AED2A6ABF7158809CF4F3C")).unwrap();
        let mut iv = [0u8; 16];
        iv[..14].copy_from_slice(&h("F0F1F2F3F4F5F6F7F8F9FAFBFCFD"));
        let mut ks = vec![0u8; 48];
        key.apply_ctr(&iv, &mut ks);
        assert_eq!(ks[..16].to_vec(), h("E03EAD0935C95E80E166B16DD92B4EB4"));
        assert_eq!(ks[16..32].to_vec(), h("D23513162B02D0F72A43A2FE4A5F97AB"));
        assert_eq!(ks[32..].to_vec(), h("41E95B3BB0A2E8DD477901E4FCA894C0"));
        // The end of the 1,044,512-octet segment (counter ...FEFF to ...FF01).
        let mut long = vec![0u8; 1_044_512];
        key.apply_ctr(&iv, &mut long);
        assert_eq!(
            long[1_044_464..1_044_480].to_vec(),
            h("EC8CDF7398607CB0F2D21675EA9EA1E4")
        );
        assert_eq!(
            long[1_044_496..].to_vec(),
            h("6A2CC3787889374FBEB4C81B17BA6C44")
        );
    }
}
