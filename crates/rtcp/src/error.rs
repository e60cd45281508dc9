//! Errors with the byte offset of the fault.

use thiserror::Error;

/// Why a packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// Fewer bytes than the structure needs.
    #[error("truncated {what}: needs {needed} bytes at byte {offset}")]
    Truncated {
        /// What was being read.
        what: &'static str,
        /// Bytes needed from `offset`.
        needed: usize,
        /// Where.
        offset: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {version} (must be 2) at byte {offset}")]
    Version {
        /// The version found.
        version: u8,
        /// Where.
        offset: usize,
    },
    /// A length field that does not add up.
    #[error("invalid length of {what} at byte {offset}")]
    Length {
        /// Which length.
        what: &'static str,
        /// Where.
        offset: usize,
    },
    /// Padding that RFC 3550 does not allow here (count of zero or too large, or padding on a
    /// packet other than the last of a compound).
    #[error("invalid padding at byte {offset}")]
    Padding {
        /// Where.
        offset: usize,
    },
    /// A compound packet that does not start with SR or RR (RFC 3550 §6.1), when reduced-size
    /// RTCP (RFC 5506) is not allowed.
    #[error("compound RTCP packet must start with SR or RR at byte {offset}")]
    FirstPacket {
        /// Where.
        offset: usize,
    },
    /// More items than [`Limits`](crate::Limits) allow.
    #[error("more than {limit} {what} at byte {offset}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// The output buffer is too small; nothing was written.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes the buffer needs.
        required: usize,
    },
    /// A value that cannot be encoded (a count over 31, a too long SDES item...).
    #[error("cannot encode {0}")]
    Unencodable(&'static str),
}

impl Error {
    /// The byte offset of the fault (0 for encoding errors).
    #[must_use]
    pub fn offset(&self) -> usize {
        match *self {
            Error::Truncated { offset, .. }
            | Error::Version { offset, .. }
            | Error::Length { offset, .. }
            | Error::Padding { offset }
            | Error::FirstPacket { offset }
            | Error::TooMany { offset, .. } => offset,
            Error::BufferTooSmall { .. } | Error::Unencodable(_) => 0,
        }
    }
}
