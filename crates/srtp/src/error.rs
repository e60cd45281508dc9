//! Why a packet was refused.

use thiserror::Error;

/// Why a replayed packet was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayKind {
    /// This index was already accepted.
    Duplicate,
    /// The index is older than the replay window reaches.
    TooOld,
}

/// Every way protecting or unprotecting can fail. No failure changes the stream's state: the
/// replay window and rollover counter move only after a packet authenticated.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The authentication tag does not match: forged, corrupted, or the wrong key.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The packet was seen before, or is too old to tell.
    #[error("replayed packet ({0:?}) with index {1}")]
    Replay(ReplayKind, u64),
    /// No stream for this SSRC and no template to create one.
    #[error("no stream for SSRC {0:#010x}")]
    UnknownSsrc(u32),
    /// The MKI in the packet names no master key of the stream.
    #[error("no master key with this MKI")]
    UnknownMki,
    /// The master key has protected as many packets as RFC 3711 §9.2 allows (2^48 SRTP,
    /// 2^31 SRTCP); rekey.
    #[error("master key exhausted: rekey the session")]
    KeyExhausted,
    /// The packet is not a well-formed RTP or RTCP packet.
    #[error("malformed packet: {what} at byte {offset}")]
    Malformed {
        /// What was wrong.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// The buffer cannot hold the result; nothing was changed.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// The size the buffer needs.
        required: usize,
    },
    /// A key, salt, MKI or policy value has the wrong size or range.
    #[error("invalid policy: {0}")]
    InvalidPolicy(&'static str),
}
