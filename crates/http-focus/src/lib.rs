//! # ocs-http-focus
//!
//! Sans-IO HTTP/1.1 for OCS 2007: C3P between the Focus and the MCUs, Address Book Server files ([MS-ABS]) and meeting-content download.
//!
//! **Status:** not implemented yet. This crate only reserves its place in the workspace; its
//! implementation is tracked in issue #6 of the project. It exports nothing so far, so that no
//! embedder comes to depend on an API that is not there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
