//! # ocs-psom
//!
//! Sans-IO PSOM ([MS-PSOM]): the shared-object messaging that carries OCS 2007 web-conferencing content and meeting data between clients and the data MCU.
//!
//! **Status:** not implemented yet. This crate only reserves its place in the workspace; its
//! implementation is tracked in issue #7 of the project. It exports nothing so far, so that no
//! embedder comes to depend on an API that is not there.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
