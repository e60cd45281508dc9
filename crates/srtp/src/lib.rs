//! # ocs-srtp
//!
//! Sans-IO SRTP and SRTCP (RFC 3711) as Office Communications Server 2007 uses them to protect
//! relayed audio and video, keyed by SDES (`a=crypto`, RFC 4568 with the [MS-SDPEXT] forms).
//!
//! Suites: AES_CM_128_HMAC_SHA1_80/32, AES_192/256_CM_HMAC_SHA1_80/32 (RFC 6188), the NULL cipher
//! with HMAC-SHA1 80/32, and AEAD_AES_128/256_GCM (RFC 7714). Key derivation with any key
//! derivation rate, rollover-counter tracking, replay windows up to 32,768 packets, MKI with
//! several master keys, key-usage limits.
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
