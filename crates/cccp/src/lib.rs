//! # ocs-cccp
//!
//! Sans-IO C3P (Centralized Conference Control Protocol, "CCCP") for Office Communications Server 2007: the request/response envelope and commands of [MS-CONFBAS], [MS-CONFPRO], [MS-CONFAV] and [MS-CONFIM], RFC 4575 conference-info state with the Microsoft extensions, and the focus.
//!
//! **Status:** not implemented yet. This crate only reserves its place in the workspace; its
//! implementation is tracked in issue #5 of the project. It exports nothing so far, so that no
//! embedder comes to depend on an API that is not there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
