//! # ocs-stack
//!
//! The umbrella crate of the OCS 2007 protocol libraries: it re-exports each protocol crate
//! under a short module name, carries the `ocs` command-line tool, and wires the crates into a
//! reference server ([`server`], `ocs serve`: registrar, proxy, focus, MCUs, address book over UDP,
//! TCP, TLS and HTTP, SQLite). [`media`] is the A/V MCU's sans-IO SRTP relay.
//!
//! | module | crate | protocol |
//! |---|---|---|
//! | [`sip`] | `ocs-sip-codec` | SIP (RFC 3261 + Microsoft extensions) and SDP |
//! | [`srtp`] | `ocs-srtp` | SRTP and SRTCP (RFC 3711, RFC 6188, RFC 7714) |
//! | [`rtcp`] | `ocs-rtcp` | RTP and RTCP with the [MS-RTP] extensions, statistics, session, call quality |
//! | [`cccp`] | `ocs-cccp` | C3P conference control, RFC 4575 conference state, the focus |
//! | [`http`] | `ocs-http-focus` | sans-IO HTTP/1.1, C3P between Focus and MCUs, [MS-ABS] Address Book files, downloads |
//! | [`psom`] | `ocs-psom` | PSOM records, operations and marshaling; the web-conference data MCU and client |
//!
//! ```
//! let msg = ocs_stack::sip::Message::parse(bytes::Bytes::from_static(
//!     b"SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nFrom: <sip:a@b>;tag=1\r\n\
//!       To: <sip:c@d>;tag=2\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
//! )).unwrap();
//! assert_eq!(msg.status(), Some(200));
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ocs_cccp as cccp;
pub use ocs_http_focus as http;
pub use ocs_psom as psom;
pub use ocs_rtcp as rtcp;
pub use ocs_sip_codec as sip;
pub use ocs_srtp as srtp;

pub mod cli;
#[cfg(feature = "server")]
pub mod client;
#[cfg(feature = "server")]
pub mod demo;
#[doc(hidden)]
pub mod fuzzing;
pub mod ice;
pub mod media;
#[cfg(feature = "server")]
pub mod server;
