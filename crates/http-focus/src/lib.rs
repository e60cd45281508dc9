//! # ocs-http-focus
//!
//! Sans-IO HTTP/1.1 for OCS 2007: C3P between the Focus and the MCUs, Address Book Server
//! files ([MS-ABS]) and meeting-content download.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abs;
pub mod c3p;
pub mod download;
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;
