//! # ocs-srtp
//!
//! Sans-IO SRTP and SRTCP (RFC 3711, RFC 6188, RFC 7714) as used by OCS 2007 to protect relayed audio and video, keyed by SDES.
//!
//! **Status:** not implemented yet. This crate only reserves its place in the workspace; its
//! implementation is tracked in issue #3 of the project. It exports nothing so far, so that no
//! embedder comes to depend on an API that is not there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
