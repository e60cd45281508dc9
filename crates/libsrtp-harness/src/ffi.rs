//! The unsafe part: libsrtp2 through the `srtp2-sys` bindings.

use std::sync::Once;

use srtp2_sys as sys;

static INIT: Once = Once::new();

/// One libsrtp session with one stream template (any inbound or any outbound SSRC).
pub struct LibSrtp {
    session: sys::srtp_t,
    // libsrtp keeps pointers into these until the session is deallocated.
    _key: Box<[u8]>,
    _mki: Option<Box<[u8]>>,
    _master: Option<Box<sys::srtp_master_key_t>>,
    _masters: Option<Box<[*mut sys::srtp_master_key_t; 1]>>,
    use_mki: bool,
}

// SAFETY: a libsrtp session is used from one thread at a time through `&mut self`.
unsafe impl Send for LibSrtp {}

fn set_policy(p: &mut sys::srtp_crypto_policy_t, suite: &str, rtcp: bool) -> Result<(), i32> {
    // SAFETY: each setter only writes the fields of the policy it is given.
    unsafe {
        match (suite, rtcp) {
            ("AES_CM_128_HMAC_SHA1_80", _) | ("AES_CM_128_HMAC_SHA1_32", true) => {
                sys::srtp_crypto_policy_set_rtp_default(p)
            }
            ("AES_CM_128_HMAC_SHA1_32", false) => {
                sys::srtp_crypto_policy_set_aes_cm_128_hmac_sha1_32(p)
            }
            ("AES_192_CM_HMAC_SHA1_80", _) | ("AES_192_CM_HMAC_SHA1_32", true) => {
                sys::srtp_crypto_policy_set_aes_cm_192_hmac_sha1_80(p)
            }
            ("AES_192_CM_HMAC_SHA1_32", false) => {
                sys::srtp_crypto_policy_set_aes_cm_192_hmac_sha1_32(p)
            }
            ("AES_256_CM_HMAC_SHA1_80", _) | ("AES_256_CM_HMAC_SHA1_32", true) => {
                sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(p)
            }
            ("AES_256_CM_HMAC_SHA1_32", false) => {
                sys::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_32(p)
            }
            ("NULL_HMAC_SHA1_80", _) | ("NULL_HMAC_SHA1_32", true) => {
                sys::srtp_crypto_policy_set_null_cipher_hmac_sha1_80(p)
            }
            ("NULL_HMAC_SHA1_32", false) => {
                sys::srtp_crypto_policy_set_null_cipher_hmac_sha1_80(p);
                p.auth_tag_len = 4;
            }
            ("AEAD_AES_128_GCM", _) => sys::srtp_crypto_policy_set_aes_gcm_128_16_auth(p),
            ("AEAD_AES_256_GCM", _) => sys::srtp_crypto_policy_set_aes_gcm_256_16_auth(p),
            _ => return Err(-1),
        }
    }
    Ok(())
}

fn check(status: sys::srtp_err_status_t) -> Result<(), i32> {
    if status == sys::srtp_err_status_t_srtp_err_status_ok {
        Ok(())
    } else {
        Err(status as i32)
    }
}

impl LibSrtp {
    /// A session for `suite` (an RFC 4568 name) keyed with master key || salt, with an optional
    /// MKI, for sending (`outbound`) or receiving from any SSRC.
    pub fn new(
        suite: &str,
        key_salt: &[u8],
        mki: Option<&[u8]>,
        outbound: bool,
    ) -> Result<Self, i32> {
        // SAFETY: srtp_init is called once, before any other libsrtp function.
        INIT.call_once(|| unsafe {
            sys::srtp_init();
        });
        // SAFETY: an all-zero srtp_policy_t is its documented initial state.
        let mut policy: sys::srtp_policy_t = unsafe { std::mem::zeroed() };
        set_policy(&mut policy.rtp, suite, false)?;
        set_policy(&mut policy.rtcp, suite, true)?;
        policy.ssrc.type_ = if outbound {
            sys::srtp_ssrc_type_t_ssrc_any_outbound
        } else {
            sys::srtp_ssrc_type_t_ssrc_any_inbound
        };
        // libsrtp reads up to the longest key + salt it supports; pad so it never reads past.
        let mut key = key_salt.to_vec();
        key.resize(64, 0);
        let mut key = key.into_boxed_slice();
        let mut this = LibSrtp {
            session: std::ptr::null_mut(),
            _key: Box::new([]),
            _mki: None,
            _master: None,
            _masters: None,
            use_mki: mki.is_some(),
        };
        if let Some(mki) = mki {
            let mut mki: Box<[u8]> = mki.into();
            let mut master = Box::new(sys::srtp_master_key_t {
                key: key.as_mut_ptr(),
                mki_id: mki.as_mut_ptr(),
                mki_size: mki.len() as u32,
            });
            let mut masters = Box::new([&mut *master as *mut sys::srtp_master_key_t]);
            policy.keys = masters.as_mut_ptr();
            policy.num_master_keys = 1;
            this._mki = Some(mki);
            this._master = Some(master);
            this._masters = Some(masters);
        } else {
            policy.key = key.as_mut_ptr();
        }
        this._key = key;
        policy.window_size = 128;
        policy.allow_repeat_tx = 0;
        // SAFETY: policy and everything it points to live until srtp_dealloc in Drop.
        check(unsafe { sys::srtp_create(&mut this.session, &policy) })?;
        Ok(this)
    }

    /// Protects `buf[..len]` in place; `buf` needs room for the trailer.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        self.run(buf, len, |s, p, l, mki| unsafe {
            // SAFETY: p points to a buffer with room for the trailer; l is its packet length.
            sys::srtp_protect_mki(s, p, l, mki, 0)
        })
    }

    /// Unprotects the SRTP packet in `buf` in place, returning the RTP length.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, i32> {
        let len = buf.len();
        self.run(buf, len, |s, p, l, mki| unsafe {
            // SAFETY: p points to l bytes of packet.
            sys::srtp_unprotect_mki(s, p, l, mki)
        })
    }

    /// Protects the RTCP packet `buf[..len]` in place.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, i32> {
        self.run(buf, len, |s, p, l, mki| unsafe {
            // SAFETY: as for protect_rtp.
            sys::srtp_protect_rtcp_mki(s, p, l, mki, 0)
        })
    }

    /// Unprotects the SRTCP packet in `buf` in place.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, i32> {
        let len = buf.len();
        self.run(buf, len, |s, p, l, mki| unsafe {
            // SAFETY: as for unprotect_rtp.
            sys::srtp_unprotect_rtcp_mki(s, p, l, mki)
        })
    }

    fn run(
        &mut self,
        buf: &mut [u8],
        len: usize,
        f: impl FnOnce(sys::srtp_t, *mut std::ffi::c_void, *mut i32, u32) -> sys::srtp_err_status_t,
    ) -> Result<usize, i32> {
        // libsrtp writes up to SRTP_MAX_TRAILER_LEN after the packet when protecting.
        if buf.len() < len {
            return Err(-2);
        }
        let mut l = len as i32;
        check(f(
            self.session,
            buf.as_mut_ptr().cast(),
            &mut l,
            u32::from(self.use_mki),
        ))?;
        Ok(l as usize)
    }
}

impl Drop for LibSrtp {
    fn drop(&mut self) {
        if !self.session.is_null() {
            // SAFETY: the session was created by srtp_create and is freed once.
            unsafe {
                sys::srtp_dealloc(self.session);
            }
        }
    }
}
