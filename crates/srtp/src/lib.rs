//! # ocs-srtp
//!
//! Sans-IO SRTP and SRTCP (RFC 3711) as Office Communications Server 2007 uses them to protect
//! relayed audio and video, keyed by SDES (`a=crypto`, RFC 4568 with the [MS-SDPEXT] forms).
//!
//!
//! Suites: AES_CM_128_HMAC_SHA1_80/32, AES_192/256_CM_HMAC_SHA1_80/32 (RFC 6188), the NULL cipher
//! with HMAC-SHA1 80/32, and AEAD_AES_128/256_GCM (RFC 7714). Key derivation with any key
//! derivation rate (RFC 3711 §4.3), rollover-counter tracking and index estimation (§3.3.1,
//! Appendix A), replay windows up to 32,768 packets, MKI with several master keys, key-usage
//! limits (2^48 SRTP and 2^31 SRTCP packets, and `a=crypto` lifetimes) reported as an
//! [`Event`] before and an [`Error`] at the limit. [`sdes`] reads and writes `a=crypto`.
//!
//! It does no I/O, reads no clock and uses no randomness: keys come from the caller. Packets
//! are protected and unprotected in place; nothing is allocated per packet (the streams are
//! allocated when added, or on the first packet of an SSRC a template covers).
//!
//! ## Example
//!
//! ```
//! use ocs_srtp::{sdes::Crypto, Session};
//!
//! // The answer's a=crypto line, as Office Communicator writes it ([MS-SDPEXT]).
//! let crypto = Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31").unwrap();
//! let policy = crypto.policy().unwrap();
//! assert!(policy.is_ms_srtp());
//!
//! let mut sender = Session::new();
//! sender.add_outbound_template(&policy).unwrap();
//! let mut receiver = Session::new();
//! receiver.add_inbound_template(&policy).unwrap();
//!
//! let rtp = [0x80, 0, 0x12, 0x34, 0, 0, 0, 160, 0x11, 0x22, 0x33, 0x44, 0xde, 0xad, 0xbe, 0xef];
//! let mut buf = [0u8; 64];
//! buf[..rtp.len()].copy_from_slice(&rtp);
//! let n = sender.protect_rtp(&mut buf, rtp.len()).unwrap(); // in place, tag appended
//! let m = receiver.unprotect_rtp(&mut buf[..n]).unwrap();
//! assert_eq!(&buf[..m], &rtp);
//! ```
//!
//! ## Conformance
//!
//! Tests replay RFC 3711 Appendix B, RFC 6188 §7, RFC 7714 §16–17 (E=1 and E=0), the NIST ACVP
//! key-derivation vectors with non-zero rates, libsrtp's and pion's full-packet vectors, and
//! exchange packets with libsrtp 2 both ways (`crates/libsrtp-harness`).
//!
//! Two choices where deployed stacks disagree:
//! - Without a key derivation rate, SRTCP keys are derived with the label where the SRTP labels
//!   sit (as libsrtp and every deployed peer do); with a rate, r is the 32-bit quantity of
//!   §4.3.2 (as the NIST ACVP vectors have it).
//! - AES-192 follows RFC 6188 §7.4 and libsrtp's current vector; libsrtp 2.x derives AES-192
//!   keys differently and does not interoperate on that suite.
//!
//! ## [MS-SRTP]
//!
//! [MS-SRTP] describes Microsoft's SRTP as a strict subset of RFC 3711 with fixed parameters
//! (its overview, §1.3: a subset of the default transforms, the NULL cipher not supported).
//! [`Policy::ms_srtp`] builds that profile and [`Policy::is_ms_srtp`] checks a policy against
//! it. The behavioural differences of its §3 could not be read from the public copies available
//! to this project; nothing here depends on them, and they are to be checked against a capture.
//!
//! ## Limits
//!
//! Replay windows are 64 to 32,768 packets; MKIs 1 to 128 bytes; a stream is created per SSRC.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
#[doc(hidden)]
pub mod fuzzing;
mod hmac_sha1;
mod keys;
mod policy;
mod replay;
pub mod sdes;
mod session;
mod suite;

pub use error::{Error, ReplayKind};
pub use policy::{MasterKey, Policy};
pub use replay::{MAX_WINDOW, ReplayWindow};
pub use session::{
    Event, MAX_SRTCP_PACKETS, MAX_SRTP_PACKETS, MAX_TRAILER, SOFT_LIMIT_MARGIN, Session,
};
pub use suite::{Suite, UnknownSuite};

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
