//! Streams by SSRC, and protect / unprotect of RTP and RTCP packets in place.

use std::collections::VecDeque;

use rustc_hash::FxHashMap;

use crate::error::Error;
use crate::keys::{AesKey, Cipher, SessionKeys};
use crate::policy::Policy;
use crate::replay::ReplayWindow;
use crate::suite::CipherKind;

/// RFC 3711 §9.2: at most 2^48 SRTP packets per master key.
pub const MAX_SRTP_PACKETS: u64 = 1 << 48;
/// RFC 3711 §9.2: at most 2^31 SRTCP packets per master key.
pub const MAX_SRTCP_PACKETS: u64 = 1 << 31;
/// How many packets before a limit the [`Event::KeySoftLimit`] is raised (as libsrtp does).
pub const SOFT_LIMIT_MARGIN: u64 = 1 << 16;

/// Something the application should know, drained with [`Session::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A master key is within [`SOFT_LIMIT_MARGIN`] packets of its limit: rekey soon.
    KeySoftLimit {
        /// The stream.
        ssrc: u32,
        /// Which master key of the policy.
        key: usize,
        /// True for the SRTCP limit.
        rtcp: bool,
    },
    /// A stream was created from a template for a new SSRC.
    StreamCreated {
        /// The SSRC.
        ssrc: u32,
    },
}

/// Keys derived from one master key, for the current r = index DIV kdr.
#[derive(Clone)]
struct KeySet {
    master: AesKey,
    master_salt: Vec<u8>,
    mki: Vec<u8>,
    rtp: SessionKeys,
    rtp_r: Option<u64>,
    rtcp: SessionKeys,
    rtcp_r: Option<u64>,
    rtp_count: u64,
    rtcp_count: u64,
    /// SRTP packets this key may protect: its lifetime, at most 2^48.
    rtp_limit: u64,
}

#[derive(Clone)]
struct Stream {
    policy: Policy,
    keys: Vec<KeySet>,
    /// Sending: rollover counter, highest sequence number sent, next SRTCP index.
    tx_roc: u32,
    tx_seq: Option<u16>,
    tx_rtcp_index: u32,
    /// Receiving: rollover counter and highest sequence number authenticated (s_l).
    rx_roc: u32,
    rx_seq: Option<u16>,
    rtp_window: ReplayWindow,
    rtcp_window: ReplayWindow,
}

impl Stream {
    fn new(policy: &Policy) -> Result<Self, Error> {
        policy.check()?;
        let mut keys = Vec::with_capacity(policy.keys.len());
        for k in &policy.keys {
            let master = AesKey::new(&k.key)?;
            let r0 = policy.kdr_log2.map(|_| 0);
            let rtp = SessionKeys::derive(policy.suite, &master, &k.salt, r0, false)?;
            let rtcp = SessionKeys::derive(policy.suite, &master, &k.salt, r0, true)?;
            keys.push(KeySet {
                master,
                master_salt: k.salt.clone(),
                mki: k.mki.clone(),
                rtp,
                rtp_r: r0,
                rtcp,
                rtcp_r: r0,
                rtp_count: 0,
                rtcp_count: 0,
                rtp_limit: k
                    .lifetime
                    .map_or(MAX_SRTP_PACKETS, |l| l.min(MAX_SRTP_PACKETS)),
            });
        }
        Ok(Stream {
            policy: policy.clone(),
            keys,
            tx_roc: 0,
            tx_seq: None,
            tx_rtcp_index: 0,
            rx_roc: 0,
            rx_seq: None,
            rtp_window: ReplayWindow::new(policy.window)?,
            rtcp_window: ReplayWindow::new(policy.window)?,
        })
    }

    /// r = index DIV kdr, or `None` without a key derivation rate.
    fn r(&self, index: u64) -> Option<u64> {
        self.policy.kdr_log2.map(|n| index >> n)
    }
}

/// RFC 3711 §3.3.1 and Appendix A: the rollover counter `v` and packet index for `seq`, given
/// the highest sequence number `s_l` seen with counter `roc`.
fn estimate(roc: u32, s_l: Option<u16>, seq: u16) -> Option<(u32, u64)> {
    let v = match s_l {
        None => roc,
        Some(s_l) if s_l < 32_768 => {
            if seq > s_l && seq - s_l > 32_768 {
                roc.checked_sub(1)?
            } else {
                roc
            }
        }
        Some(s_l) => {
            if s_l - 32_768 > seq {
                roc.wrapping_add(1)
            } else {
                roc
            }
        }
    };
    Some((v, (u64::from(v) << 16) | u64::from(seq)))
}

/// The RTP header: its length, SSRC and sequence number. The version is not checked (pion's
/// vectors carry V=0).
fn rtp_header(p: &[u8]) -> Result<(usize, u32, u16), Error> {
    if p.len() < 12 {
        return Err(Error::Malformed {
            what: "RTP packet shorter than its 12-byte header",
            offset: p.len(),
        });
    }
    let cc = usize::from(p[0] & 0x0f);
    let mut hl = 12 + 4 * cc;
    if p.len() < hl {
        return Err(Error::Malformed {
            what: "CSRC list runs past the packet",
            offset: 12,
        });
    }
    if p[0] & 0x10 != 0 {
        if p.len() < hl + 4 {
            return Err(Error::Malformed {
                what: "header extension runs past the packet",
                offset: hl,
            });
        }
        let words = usize::from(u16::from_be_bytes([p[hl + 2], p[hl + 3]]));
        hl += 4 + 4 * words;
        if p.len() < hl {
            return Err(Error::Malformed {
                what: "header extension runs past the packet",
                offset: hl - 4 * words,
            });
        }
    }
    let seq = u16::from_be_bytes([p[2], p[3]]);
    let ssrc = u32::from_be_bytes([p[8], p[9], p[10], p[11]]);
    Ok((hl, ssrc, seq))
}

fn rtcp_ssrc(p: &[u8]) -> Result<u32, Error> {
    if p.len() < 8 {
        return Err(Error::Malformed {
            what: "RTCP packet shorter than its 8-byte header",
            offset: p.len(),
        });
    }
    Ok(u32::from_be_bytes([p[4], p[5], p[6], p[7]]))
}

/// The AES-CM IV of RFC 3711 §4.1.1: (salt << 16) XOR (SSRC << 64) XOR (index << 16).
#[inline]
fn cm_iv(salt: &[u8; 14], ssrc: u32, index: u64) -> [u8; 16] {
    let mut iv = [0u8; 16];
    iv[..14].copy_from_slice(salt);
    let s = ssrc.to_be_bytes();
    for i in 0..4 {
        iv[4 + i] ^= s[i];
    }
    let x = index.to_be_bytes();
    for i in 0..6 {
        iv[8 + i] ^= x[2 + i];
    }
    iv
}

/// The GCM IV of RFC 7714 §8.1 / §9.1: salt XOR (0x0000 || SSRC || high || low).
#[inline]
fn gcm_iv(salt: &[u8; 14], ssrc: u32, high: u32, low: u16) -> [u8; 12] {
    let mut iv = [0u8; 12];
    iv[2..6].copy_from_slice(&ssrc.to_be_bytes());
    iv[6..10].copy_from_slice(&high.to_be_bytes());
    iv[10..12].copy_from_slice(&low.to_be_bytes());
    for i in 0..12 {
        iv[i] ^= salt[i];
    }
    iv
}

/// Keys for `r`: the stored ones, or freshly derived ones (when a key derivation rate moved r)
/// that are committed only after the packet authenticated.
fn keys_for<'k>(
    ks: &'k KeySet,
    suite: crate::Suite,
    r: Option<u64>,
    rtcp: bool,
    tmp: &'k mut Option<SessionKeys>,
) -> Result<&'k SessionKeys, Error> {
    let (cur, cur_r) = if rtcp {
        (&ks.rtcp, ks.rtcp_r)
    } else {
        (&ks.rtp, ks.rtp_r)
    };
    if cur_r == r {
        return Ok(cur);
    }
    Ok(tmp.insert(SessionKeys::derive(
        suite,
        &ks.master,
        &ks.master_salt,
        r,
        rtcp,
    )?))
}

/// SRTP and SRTCP protection for a set of streams, keyed by SSRC.
///
/// It does no I/O and reads no clock. Packets are protected and unprotected in place in the
/// caller's buffer; nothing is allocated per packet (a stream is allocated when it is added, or
/// on the first packet of an SSRC that a template covers).
///
/// ```
/// use ocs_srtp::{MasterKey, Policy, Session, Suite};
/// let suite = Suite::AesCm128HmacSha1_80;
/// let policy = Policy::new(suite, MasterKey::from_key_salt(suite, &[0x42; 30]).unwrap());
/// let mut tx = Session::new();
/// tx.add_outbound_template(&policy).unwrap();
/// let mut rx = Session::new();
/// rx.add_inbound_template(&policy).unwrap();
///
/// let rtp = [0x80, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0xca, 0xfe, 0xba, 0xbe, 1, 2, 3, 4];
/// let mut packet = rtp.to_vec();
/// tx.protect_rtp_vec(&mut packet).unwrap();
/// assert_eq!(packet.len(), rtp.len() + 10);
/// rx.unprotect_rtp_vec(&mut packet).unwrap();
/// assert_eq!(packet, rtp);
/// // The same packet again is a replay.
/// let mut again = packet.clone();
/// tx.protect_rtp_vec(&mut again).unwrap();
/// assert!(rx.unprotect_rtp_vec(&mut again).is_err());
/// ```
#[derive(Default)]
pub struct Session {
    streams: FxHashMap<u32, Stream>,
    inbound_template: Option<Policy>,
    outbound_template: Option<Policy>,
    events: VecDeque<Event>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    In,
    Out,
}

impl Session {
    /// An empty session.
    #[must_use]
    pub fn new() -> Self {
        Session::default()
    }

    /// Adds a stream for one SSRC (replacing any stream it had).
    pub fn add_stream(&mut self, ssrc: u32, policy: &Policy) -> Result<(), Error> {
        self.streams.insert(ssrc, Stream::new(policy)?);
        Ok(())
    }

    /// Removes the stream of an SSRC; true when there was one.
    pub fn remove_stream(&mut self, ssrc: u32) -> bool {
        self.streams.remove(&ssrc).is_some()
    }

    /// The template for packets received from SSRCs without a stream (libsrtp's
    /// `ssrc_any_inbound`): the first such packet creates a stream from it.
    pub fn add_inbound_template(&mut self, policy: &Policy) -> Result<(), Error> {
        policy.check()?;
        self.inbound_template = Some(policy.clone());
        Ok(())
    }

    /// The template for packets sent from SSRCs without a stream (`ssrc_any_outbound`).
    pub fn add_outbound_template(&mut self, policy: &Policy) -> Result<(), Error> {
        policy.check()?;
        self.outbound_template = Some(policy.clone());
        Ok(())
    }

    /// Sets the rollover counter of a stream, to join a stream that is already running
    /// (RFC 3711 §3.3.1). Creates the stream from the inbound template when needed.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), Error> {
        let s = self.stream(ssrc, Dir::In)?;
        s.rx_roc = roc;
        s.tx_roc = roc;
        Ok(())
    }

    /// The receiving rollover counter of a stream.
    #[must_use]
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        self.streams.get(&ssrc).map(|s| s.rx_roc)
    }

    /// Makes master key `index` of the stream's policy the one that protects outgoing packets
    /// (to move to a new key announced by MKI).
    pub fn set_active_key(&mut self, ssrc: u32, index: usize) -> Result<(), Error> {
        let s = self
            .streams
            .get_mut(&ssrc)
            .ok_or(Error::UnknownSsrc(ssrc))?;
        if index >= s.keys.len() {
            return Err(Error::InvalidPolicy("no master key with that index"));
        }
        s.keys.swap(0, index);
        Ok(())
    }

    /// The next event, if any.
    #[must_use = "events say when to rekey"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    #[inline]
    fn stream(&mut self, ssrc: u32, dir: Dir) -> Result<&mut Stream, Error> {
        // One lookup on the hot path; the template path (first packet of an SSRC) is cold.
        if self.streams.contains_key(&ssrc) {
            return self.streams.get_mut(&ssrc).ok_or(Error::UnknownSsrc(ssrc));
        }
        self.new_stream(ssrc, dir)
    }

    #[cold]
    fn new_stream(&mut self, ssrc: u32, dir: Dir) -> Result<&mut Stream, Error> {
        {
            let template = match dir {
                Dir::In => self.inbound_template.as_ref(),
                Dir::Out => self.outbound_template.as_ref(),
            };
            let t = template.ok_or(Error::UnknownSsrc(ssrc))?;
            let s = Stream::new(t)?;
            self.streams.insert(ssrc, s);
            self.events.push_back(Event::StreamCreated { ssrc });
        }
        self.streams.get_mut(&ssrc).ok_or(Error::UnknownSsrc(ssrc))
    }

    /// Counts a packet against its master key; the soft-limit event when it is reached.
    fn count(ssrc: u32, key: usize, count: &mut u64, rtcp: bool) -> Option<Event> {
        *count += 1;
        let limit = if rtcp {
            MAX_SRTCP_PACKETS
        } else {
            MAX_SRTP_PACKETS
        };
        (*count == limit - SOFT_LIMIT_MARGIN).then_some(Event::KeySoftLimit { ssrc, key, rtcp })
    }

    // ------------------------------------------------------------------------------------
    // SRTP

    /// Protects the RTP packet in `buf[..len]` in place and returns the SRTP length. `buf` must
    /// have room for the MKI and tag after the packet; if not, [`Error::BufferTooSmall`] says
    /// how much is needed and nothing changes.
    pub fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let p = buf
            .get(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let (hl, ssrc, seq) = rtp_header(p)?;
        let s = self.stream(ssrc, Dir::Out)?;
        let suite = s.policy.suite;
        let tag_len = suite.rtp_tag_len();
        let mki_len = s.policy.mki_len;
        let need = len + tag_len + mki_len;
        if buf.len() < need {
            return Err(Error::BufferTooSmall { required: need });
        }
        let (roc, index) = match s.tx_seq {
            None => (s.tx_roc, (u64::from(s.tx_roc) << 16) | u64::from(seq)),
            Some(_) => estimate(s.tx_roc, s.tx_seq, seq)
                .ok_or(Error::Replay(crate::ReplayKind::TooOld, u64::from(seq)))?,
        };
        let r = s.r(index);
        let ks = &mut s.keys[0];
        if ks.rtp_count >= ks.rtp_limit {
            return Err(Error::KeyExhausted);
        }
        if ks.rtp_r != r {
            ks.rtp = SessionKeys::derive(suite, &ks.master, &ks.master_salt, r, false)?;
            ks.rtp_r = r;
        }
        let keys = &ks.rtp;
        match suite.cipher() {
            CipherKind::Gcm => {
                let iv = gcm_iv(&keys.salt, ssrc, roc, seq);
                let tag = if s.policy.encrypt_rtp {
                    let (head, body) = buf[..len].split_at_mut(hl);
                    keys.cipher.gcm_seal(&iv, head, body)
                } else {
                    keys.cipher.gcm_seal(&iv, &buf[..len], &mut [])
                };
                buf[len..len + 16].copy_from_slice(&tag);
                buf[len + 16..need].copy_from_slice(&ks.mki);
            }
            _ => {
                if s.policy.encrypt_rtp
                    && let Cipher::AesCm(aes) = &keys.cipher
                {
                    aes.apply_ctr(&cm_iv(&keys.salt, ssrc, index), &mut buf[hl..len]);
                }
                let mac = keys.mac(&[&buf[..len], &roc.to_be_bytes()]);
                buf[len..len + mki_len].copy_from_slice(&ks.mki);
                buf[len + mki_len..need].copy_from_slice(&mac[..tag_len]);
            }
        }
        if s.tx_seq.is_none()
            || index > (u64::from(s.tx_roc) << 16 | u64::from(s.tx_seq.unwrap_or(0)))
        {
            s.tx_roc = roc;
            s.tx_seq = Some(seq);
        }
        let ev = Self::count(ssrc, 0, &mut s.keys[0].rtp_count, false);
        self.events.extend(ev);
        Ok(need)
    }

    /// Checks and decrypts the SRTP packet in `buf` in place and returns the RTP length. On any
    /// error the stream's state is unchanged (the replay window and ROC move only after the
    /// packet authenticated); the buffer may hold partly processed bytes only when the tag
    /// checked out, which cannot fail afterwards.
    pub fn unprotect_rtp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = buf.len();
        let (hl, ssrc, seq) = rtp_header(buf)?;
        let s = self.stream(ssrc, Dir::In)?;
        let suite = s.policy.suite;
        let tag_len = suite.rtp_tag_len();
        let mki_len = s.policy.mki_len;
        if len < hl + tag_len + mki_len {
            return Err(Error::Malformed {
                what: "SRTP packet shorter than its header, MKI and tag",
                offset: len,
            });
        }
        let aead = suite.is_aead();
        // HMAC suites: payload | MKI | tag. AEAD: payload+tag | MKI.
        let mki_at = if aead {
            len - mki_len
        } else {
            len - tag_len - mki_len
        };
        let payload_end = len - tag_len - mki_len;
        let key_index = if mki_len == 0 {
            0
        } else {
            let mki = &buf[mki_at..mki_at + mki_len];
            s.keys
                .iter()
                .position(|k| k.mki == mki)
                .ok_or(Error::UnknownMki)?
        };
        let (v, index) = estimate(s.rx_roc, s.rx_seq, seq)
            .ok_or(Error::Replay(crate::ReplayKind::TooOld, u64::from(seq)))?;
        s.rtp_window.check(index)?;
        let r = s.r(index);
        let ks = &s.keys[key_index];
        if ks.rtp_count >= ks.rtp_limit {
            return Err(Error::KeyExhausted);
        }
        let mut tmp = None;
        let keys = keys_for(ks, suite, r, false, &mut tmp)?;
        if aead {
            let iv = gcm_iv(&keys.salt, ssrc, v, seq);
            let (p, rest) = buf.split_at_mut(payload_end);
            let tag = &rest[..16];
            if s.policy.encrypt_rtp {
                let (head, body) = p.split_at_mut(hl);
                keys.cipher.gcm_open(&iv, head, body, tag)?;
            } else {
                keys.cipher.gcm_open(&iv, p, &mut [], tag)?;
            }
        } else {
            if !keys.auth.verify(
                &[&buf[..payload_end], &v.to_be_bytes()],
                &buf[len - tag_len..],
            ) {
                return Err(Error::AuthenticationFailed);
            }
            if s.policy.encrypt_rtp
                && let Cipher::AesCm(aes) = &keys.cipher
            {
                aes.apply_ctr(&cm_iv(&keys.salt, ssrc, index), &mut buf[hl..payload_end]);
            }
        }
        // Authenticated: now the state may move.
        if let Some(k) = tmp {
            let ks = &mut s.keys[key_index];
            ks.rtp = k;
            ks.rtp_r = r;
        }
        let highest = s.rtp_window.top();
        s.rtp_window.accept(index);
        if highest.is_none_or(|h| index > h) {
            s.rx_roc = v;
            s.rx_seq = Some(seq);
        }
        let ev = Self::count(ssrc, key_index, &mut s.keys[key_index].rtp_count, false);
        self.events.extend(ev);
        Ok(payload_end)
    }

    // ------------------------------------------------------------------------------------
    // SRTCP

    /// Protects the RTCP packet in `buf[..len]` in place and returns the SRTCP length.
    pub fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, Error> {
        let p = buf
            .get(..len)
            .ok_or(Error::BufferTooSmall { required: len })?;
        let ssrc = rtcp_ssrc(p)?;
        let s = self.stream(ssrc, Dir::Out)?;
        let suite = s.policy.suite;
        let tag_len = suite.rtcp_tag_len();
        let mki_len = s.policy.mki_len;
        let need = len + 4 + tag_len + mki_len;
        if buf.len() < need {
            return Err(Error::BufferTooSmall { required: need });
        }
        if s.keys[0].rtcp_count >= MAX_SRTCP_PACKETS - 1 || s.tx_rtcp_index >= 0x7fff_ffff {
            return Err(Error::KeyExhausted);
        }
        let index = s.tx_rtcp_index + 1;
        let r = s.r(u64::from(index));
        let ks = &mut s.keys[0];
        if ks.rtcp_r != r {
            ks.rtcp = SessionKeys::derive(suite, &ks.master, &ks.master_salt, r, true)?;
            ks.rtcp_r = r;
        }
        let keys = &ks.rtcp;
        let e = s.policy.encrypt_rtcp;
        let e_index = (u32::from(e) << 31 | index).to_be_bytes();
        match suite.cipher() {
            CipherKind::Gcm => {
                let iv = gcm_iv(&keys.salt, ssrc, 0, 0);
                let iv = xor_index(iv, index);
                let tag = if e {
                    let mut aad = [0u8; 12];
                    aad[..8].copy_from_slice(&buf[..8]);
                    aad[8..].copy_from_slice(&e_index);
                    keys.cipher.gcm_seal(&iv, &aad, &mut buf[8..len])
                } else {
                    buf[len..len + 4].copy_from_slice(&e_index);
                    keys.cipher.gcm_seal(&iv, &buf[..len + 4], &mut [])
                };
                buf[len..len + 16].copy_from_slice(&tag);
                buf[len + 16..len + 20].copy_from_slice(&e_index);
                buf[len + 20..need].copy_from_slice(&ks.mki);
            }
            _ => {
                if e && let Cipher::AesCm(aes) = &keys.cipher {
                    aes.apply_ctr(&cm_iv(&keys.salt, ssrc, u64::from(index)), &mut buf[8..len]);
                }
                buf[len..len + 4].copy_from_slice(&e_index);
                let mac = keys.mac(&[&buf[..len + 4]]);
                buf[len + 4..len + 4 + mki_len].copy_from_slice(&ks.mki);
                buf[len + 4 + mki_len..need].copy_from_slice(&mac[..tag_len]);
            }
        }
        s.tx_rtcp_index = index;
        let ev = Self::count(ssrc, 0, &mut s.keys[0].rtcp_count, true);
        self.events.extend(ev);
        Ok(need)
    }

    /// Checks and (when the E flag says so) decrypts the SRTCP packet in `buf` in place and
    /// returns the RTCP length.
    pub fn unprotect_rtcp(&mut self, buf: &mut [u8]) -> Result<usize, Error> {
        let len = buf.len();
        let ssrc = rtcp_ssrc(buf)?;
        let s = self.stream(ssrc, Dir::In)?;
        let suite = s.policy.suite;
        let tag_len = suite.rtcp_tag_len();
        let mki_len = s.policy.mki_len;
        if len < 8 + 4 + tag_len + mki_len {
            return Err(Error::Malformed {
                what: "SRTCP packet shorter than its header, index, MKI and tag",
                offset: len,
            });
        }
        let aead = suite.is_aead();
        // HMAC: packet | E+index | MKI | tag. AEAD: packet+tag | E+index | MKI.
        let (index_at, mki_at, end) = if aead {
            (len - mki_len - 4, len - mki_len, len - mki_len - 4 - 16)
        } else {
            (
                len - tag_len - mki_len - 4,
                len - tag_len - mki_len,
                len - tag_len - mki_len - 4,
            )
        };
        let key_index = if mki_len == 0 {
            0
        } else {
            let mki = &buf[mki_at..mki_at + mki_len];
            s.keys
                .iter()
                .position(|k| k.mki == mki)
                .ok_or(Error::UnknownMki)?
        };
        let e_index: [u8; 4] = buf[index_at..index_at + 4].try_into().unwrap_or([0; 4]);
        let word = u32::from_be_bytes(e_index);
        let e = word >> 31 == 1;
        let index = word & 0x7fff_ffff;
        s.rtcp_window.check(u64::from(index))?;
        let r = s.r(u64::from(index));
        let ks = &s.keys[key_index];
        let mut tmp = None;
        let keys = keys_for(ks, suite, r, true, &mut tmp)?;
        if aead {
            let iv = xor_index(gcm_iv(&keys.salt, ssrc, 0, 0), index);
            let (p, rest) = buf.split_at_mut(end);
            let tag = &rest[..16];
            if e {
                let mut aad = [0u8; 12];
                aad[..8].copy_from_slice(&p[..8]);
                aad[8..].copy_from_slice(&e_index);
                keys.cipher.gcm_open(&iv, &aad, &mut p[8..], tag)?;
            } else {
                // AAD is the packet followed by E+index; tag first, so copy the AAD tail.
                let mut m = [0u8; 4];
                m.copy_from_slice(&e_index);
                keys.cipher.gcm_open_split(&iv, p, &m, tag)?;
            }
        } else {
            if !keys
                .auth
                .verify(&[&buf[..index_at + 4]], &buf[len - tag_len..])
            {
                return Err(Error::AuthenticationFailed);
            }
            if e && let Cipher::AesCm(aes) = &keys.cipher {
                aes.apply_ctr(&cm_iv(&keys.salt, ssrc, u64::from(index)), &mut buf[8..end]);
            }
        }
        if let Some(k) = tmp {
            let ks = &mut s.keys[key_index];
            ks.rtcp = k;
            ks.rtcp_r = r;
        }
        s.rtcp_window.accept(u64::from(index));
        let ev = Self::count(ssrc, key_index, &mut s.keys[key_index].rtcp_count, true);
        self.events.extend(ev);
        Ok(end)
    }

    // ------------------------------------------------------------------------------------
    // Buffer conveniences

    /// [`Session::protect_rtp`] on a `Vec`, growing it by the tag (no allocation when its
    /// capacity allows).
    pub fn protect_rtp_vec(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        grow(buf, |b, len| self.protect_rtp(b, len))
    }

    /// [`Session::unprotect_rtp`] on a `Vec`, truncating it to the RTP packet.
    pub fn unprotect_rtp_vec(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        shrink(buf, |b| self.unprotect_rtp(b))
    }

    /// [`Session::protect_rtcp`] on a `Vec`.
    pub fn protect_rtcp_vec(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        grow(buf, |b, len| self.protect_rtcp(b, len))
    }

    /// [`Session::unprotect_rtcp`] on a `Vec`.
    pub fn unprotect_rtcp_vec(&mut self, buf: &mut Vec<u8>) -> Result<(), Error> {
        shrink(buf, |b| self.unprotect_rtcp(b))
    }

    /// Protects `input` (an RTP packet) into `out`, returning the SRTP length.
    pub fn protect_rtp_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        copy_in(input, out, 10)?;
        self.protect_rtp(out, input.len())
    }

    /// Unprotects `input` (an SRTP packet) into `out`, returning the RTP length.
    pub fn unprotect_rtp_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        copy_in(input, out, 0)?;
        self.unprotect_rtp(&mut out[..input.len()])
    }

    /// Protects `input` (an RTCP packet) into `out`, returning the SRTCP length.
    pub fn protect_rtcp_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        copy_in(input, out, 14)?;
        self.protect_rtcp(out, input.len())
    }

    /// Unprotects `input` (an SRTCP packet) into `out`, returning the RTCP length.
    pub fn unprotect_rtcp_into(&mut self, input: &[u8], out: &mut [u8]) -> Result<usize, Error> {
        copy_in(input, out, 0)?;
        self.unprotect_rtcp(&mut out[..input.len()])
    }
}

/// Copies a packet to the start of `out`; too small an `out` is reported with the room the
/// packet and (at least) `trailer` bytes need.
fn copy_in(input: &[u8], out: &mut [u8], trailer: usize) -> Result<(), Error> {
    let dst = out.get_mut(..input.len()).ok_or(Error::BufferTooSmall {
        required: input.len() + trailer,
    })?;
    dst.copy_from_slice(input);
    Ok(())
}

/// Runs an in-place protect on a `Vec` with room for the largest trailer, then trims it to the
/// result (or back to the packet on error).
fn grow(
    buf: &mut Vec<u8>,
    protect: impl FnOnce(&mut [u8], usize) -> Result<usize, Error>,
) -> Result<(), Error> {
    let len = buf.len();
    buf.resize(len + MAX_TRAILER, 0);
    let r = protect(buf, len);
    buf.truncate(*r.as_ref().unwrap_or(&len));
    r.map(|_| ())
}

/// Runs an in-place unprotect on a `Vec` and trims it to the plain packet.
fn shrink(
    buf: &mut Vec<u8>,
    unprotect: impl FnOnce(&mut [u8]) -> Result<usize, Error>,
) -> Result<(), Error> {
    let n = unprotect(buf)?;
    buf.truncate(n);
    Ok(())
}

/// The largest trailer any suite adds: E+index (4) + MKI (128) + tag (16).
pub const MAX_TRAILER: usize = 4 + 128 + 16;

fn xor_index(mut iv: [u8; 12], index: u32) -> [u8; 12] {
    let x = index.to_be_bytes();
    for i in 0..4 {
        iv[8 + i] ^= x[i];
    }
    iv
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MasterKey, Suite};

    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(char::is_ascii_hexdigit).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn vectors(name: &str) -> String {
        let base = std::env::var_os("OCS_VECTORS").map_or_else(
            || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
            std::path::PathBuf::from,
        );
        std::fs::read_to_string(base.join("srtp").join(name)).unwrap()
    }

    /// A session whose stream for `ssrc` uses the given session keys (RFC 7714 §16, §17 give
    /// session keys, not master keys).
    fn with_session_keys(
        suite: Suite,
        key: &[u8],
        salt: &[u8],
        ssrc: u32,
        encrypt: bool,
    ) -> Session {
        let mk =
            MasterKey::from_key_salt(suite, &vec![0; suite.key_len() + suite.salt_len()]).unwrap();
        let policy = Policy::new(suite, mk)
            .with_rtp_encryption(encrypt)
            .with_rtcp_encryption(encrypt);
        let mut s = Session::new();
        s.add_stream(ssrc, &policy).unwrap();
        let st = s.streams.get_mut(&ssrc).unwrap();
        st.keys[0].rtp = SessionKeys::from_raw(suite, key, salt);
        st.keys[0].rtcp = SessionKeys::from_raw(suite, key, salt);
        st.tx_rtcp_index = 0x5d4 - 1;
        s
    }

    #[test]
    fn rfc7714_sections_16_and_17() {
        let text = vectors("rfc7714_aes_gcm.txt");
        let get = |prefix: &str| -> String {
            text.lines()
                .find(|l| l.starts_with(prefix))
                .unwrap_or_else(|| panic!("{prefix}"))
                .split_once(':')
                .unwrap()
                .1
                .trim()
                .to_string()
        };
        let salt = h(&get("session salt")[..24]);
        let rtp = h(&get("rtp plaintext"));
        let rtcp = h(&get("rtcp plaintext"));
        for (suite, key, srtp, srtcp, srtcp_e0, rtp_auth) in [
            (
                Suite::AeadAes128Gcm,
                h(&get("key AES-128")),
                "16.1 AES-128-GCM",
                "17.1 AES-128-GCM E=1",
                "17.3 AES-128-GCM E=0",
                "AES-128-GCM RTP auth-only",
            ),
            (
                Suite::AeadAes256Gcm,
                h(&get("key AES-256")),
                "16.2 AES-256-GCM",
                "17.2 AES-256-GCM E=1",
                "17.4 AES-256-GCM E=0",
                "AES-256-GCM RTP auth-only",
            ),
        ] {
            // SRTP, encrypted.
            let want = h(&get(srtp));
            let mut tx = with_session_keys(suite, &key, &salt, 0x5501a0b2, true);
            let mut p = rtp.clone();
            tx.protect_rtp_vec(&mut p).unwrap();
            assert_eq!(p, want, "{srtp}");
            let mut rx = with_session_keys(suite, &key, &salt, 0x5501a0b2, true);
            rx.unprotect_rtp_vec(&mut p).unwrap();
            assert_eq!(p, rtp);
            // SRTCP, E=1.
            let want = h(&get(srtcp));
            let mut tx = with_session_keys(suite, &key, &salt, 0x4d617273, true);
            let mut p2 = rtcp.clone();
            tx.protect_rtcp_vec(&mut p2).unwrap();
            assert_eq!(p2, want, "{srtcp}");
            let mut rx = with_session_keys(suite, &key, &salt, 0x4d617273, true);
            rx.unprotect_rtcp_vec(&mut p2).unwrap();
            assert_eq!(p2, rtcp);
            // SRTCP, E=0: the packet, the tag, then E+index.
            let line = get(srtcp_e0);
            let tag = h(line.split("||").nth(1).unwrap());
            let want = [rtcp.clone(), tag, h("000005d4")].concat();
            let mut tx = with_session_keys(suite, &key, &salt, 0x4d617273, false);
            let mut p = rtcp.clone();
            tx.protect_rtcp_vec(&mut p).unwrap();
            assert_eq!(p, want, "{srtcp_e0}");
            let mut rx = with_session_keys(suite, &key, &salt, 0x4d617273, false);
            rx.unprotect_rtcp_vec(&mut p).unwrap();
            assert_eq!(p, rtcp);
            // RTP authenticated only.
            let line = get(rtp_auth);
            let want = [rtp.clone(), h(line.split("||").nth(1).unwrap())].concat();
            let mut tx = with_session_keys(suite, &key, &salt, 0x5501a0b2, false);
            let mut p = rtp.clone();
            tx.protect_rtp_vec(&mut p).unwrap();
            assert_eq!(p, want, "{rtp_auth}");
            let mut rx = with_session_keys(suite, &key, &salt, 0x5501a0b2, false);
            rx.unprotect_rtp_vec(&mut p).unwrap();
            assert_eq!(p, rtp);
        }
    }

    #[test]
    fn key_usage_limits() {
        let suite = Suite::AesCm128HmacSha1_80;
        let policy = Policy::new(suite, MasterKey::from_key_salt(suite, &[1; 30]).unwrap());
        let mut s = Session::new();
        s.add_stream(7, &policy).unwrap();
        s.streams.get_mut(&7).unwrap().keys[0].rtp_count = MAX_SRTP_PACKETS - SOFT_LIMIT_MARGIN - 1;
        let pkt = [0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 1, 2, 3];
        let mut p = pkt.to_vec();
        s.protect_rtp_vec(&mut p).unwrap();
        assert_eq!(
            s.poll_event(),
            Some(Event::KeySoftLimit {
                ssrc: 7,
                key: 0,
                rtcp: false
            })
        );
        s.streams.get_mut(&7).unwrap().keys[0].rtp_count = MAX_SRTP_PACKETS;
        let mut p2 = pkt.to_vec();
        assert_eq!(s.protect_rtp_vec(&mut p2), Err(Error::KeyExhausted));
        let lifetime = Policy::new(
            suite,
            MasterKey::from_key_salt(suite, &[1; 30])
                .unwrap()
                .with_lifetime(2),
        );
        let mut l = Session::new();
        l.add_stream(7, &lifetime).unwrap();
        for _ in 0..2 {
            l.protect_rtp_vec(&mut pkt.to_vec()).unwrap();
        }
        assert_eq!(
            l.protect_rtp_vec(&mut pkt.to_vec()),
            Err(Error::KeyExhausted)
        );
        let mut p = pkt.to_vec();
        assert_eq!(s.protect_rtp_vec(&mut p), Err(Error::KeyExhausted));
        assert_eq!(p, pkt, "a refused packet is left as it was");
        s.streams.get_mut(&7).unwrap().keys[0].rtcp_count = MAX_SRTCP_PACKETS - 1;
        let mut r = vec![0x80, 200, 0, 1, 0, 0, 0, 7];
        assert_eq!(s.protect_rtcp_vec(&mut r), Err(Error::KeyExhausted));
    }

    #[test]
    fn index_estimation_rfc3711_appendix_a() {
        // Around the wrap: s_l near 65535 with ROC 0.
        assert_eq!(estimate(0, Some(65_500), 10), Some((1, 65_536 + 10)));
        assert_eq!(estimate(1, Some(10), 65_500), Some((0, 65_500)));
        assert_eq!(estimate(0, Some(10), 65_500), None);
        assert_eq!(
            estimate(3, Some(40_000), 40_100),
            Some((3, (3 << 16) + 40_100))
        );
        assert_eq!(estimate(3, Some(100), 200), Some((3, (3 << 16) + 200)));
        assert_eq!(estimate(7, None, 5), Some((7, (7 << 16) + 5)));
    }
}
