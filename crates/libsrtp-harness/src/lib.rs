//! Test-only FFI harness around libsrtp2: a small safe wrapper that the interoperability tests
//! and the benches of `ocs-srtp` use. Not published; the libraries never depend on it.
//!
//! Without the `libsrtp` or `build-openssl` feature this crate is empty, so that the default
//! workspace build needs no C library.
#![cfg_attr(
    not(any(feature = "libsrtp", feature = "build-openssl")),
    forbid(unsafe_code)
)]

#[cfg(any(feature = "libsrtp", feature = "build-openssl"))]
mod ffi;

#[cfg(any(feature = "libsrtp", feature = "build-openssl"))]
pub use ffi::LibSrtp;
