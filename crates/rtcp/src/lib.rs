//! # ocs-rtcp
//!
//! Sans-IO RTP and RTCP (RFC 3550, RFC 4585, RFC 3611, RFC 5104) with the [MS-RTP] extensions, and an RTCP session that measures call quality.
//!
//! **Status:** not implemented yet. This crate only reserves its place in the workspace; its
//! implementation is tracked in issue #4 of the project. It exports nothing so far, so that no
//! embedder comes to depend on an API that is not there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
