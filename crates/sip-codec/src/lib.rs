//! # ocs-sip-codec
//!
//! A sans-IO, zero-copy SIP message codec for the Microsoft Office Communications Server 2007
//! dialect: RFC 3261 messages with the extensions of [MS-SIPRE], [MS-SIPAE], [MS-CONMGMT] and
//! [MS-SDPEXT], and SDP (RFC 4566, RFC 4568).
//!
//! - [`Message`]: requests and responses with any method (SERVICE, BENOTIFY, INFO...), header
//!   names in any case and in compact form (RFC 3261 §7.3.3), folded values, several values per
//!   line, the body by Content-Length. Parsing indexes the header lines; every value is a view
//!   into the input [`bytes::Bytes`], and typed views are built on demand.
//! - [`headers`]: typed Via, From/To, Contact, Route/Record-Route, CSeq, Call-ID, the
//!   authentication family for Digest and the NTLM / Kerberos / TLS-DSK schemes of [MS-SIPAE],
//!   `ms-keep-alive`, `ms-diagnostics` and more; [`Message::typed_headers`] gives them all.
//! - [`uri`]: `sip:`, `sips:`, `tel:` and other URIs, escapes decoded on demand, comparison per
//!   RFC 3261 §19.1.4.
//! - [`stream`]: framing on TCP/TLS with the RFC 5626 CRLF keep-alive; datagram framing is
//!   [`Message::parse`].
//! - [`build`]: requests and responses (a response from a request per RFC 3261 §8.2.6),
//!   written into a caller's [`bytes::BufMut`].
//! - [`sdp`]: session descriptions with `rtpmap`, `fmtp`, `rtcp`, direction, `candidate` and
//!   `crypto` (the [MS-SDPEXT] `inline:<key>|2^31` form included).
//! - [`sign`]: the [MS-SIPAE] signature input that NTLM and Kerberos message signing covers.
//! - `presence` (feature `presence`): the [MS-PRES] / [MS-SIP] roaming bodies — contact lists,
//!   roaming-self, category publication, containers, batched subscriptions, RLMI multipart,
//!   the SOAP contact operations.
//!
//! The state machines a SIP element needs, in the same sans-IO shape (time in as `Instant`,
//! output through `poll_*`, randomness from the caller):
//!
//! - [`transaction`]: the four RFC 3261 §17 machines with the RFC 6026 `Accepted` states,
//!   timers A–M, matching (with the RFC 2543 fallback), CANCEL, retransmissions.
//! - [`dialog`]: dialogs on both sides (§12), forking, loose and strict routing, target refresh,
//!   in-dialog requests and the ACK for 2xx; RFC 4028 session timers.
//! - [`subscription`]: RFC 6665 subscriber and notifier with Timer N, refresh and expiry, and the
//!   Microsoft BENOTIFY (`ms-benotify`).
//! - [`digest`]: RFC 7616 / RFC 8760 Digest (MD5, SHA-256, SHA-512-256, -sess), client and
//!   server with stateless nonces, stale nonces and nonce-count replay protection.
//! - [`ntlm`] and [`sipae`]: [MS-NLMP] connection-less NTLMv2 (messages, keys, signatures) and
//!   the [MS-SIPAE] handshake in `gssapi-data`, security associations, message signing and
//!   `rspauth` verification; Kerberos and TLS-DSK challenges and credentials parsed.
//!
//! It does no I/O, reads no clock and uses no randomness: the caller supplies bytes, instants,
//! tags, branches, nonces and keys. `examples/sip_peer.rs` is a UDP user agent built from these
//! layers (sipp runs against it in `tests/sipp.rs`).
//!
//! ## Example
//!
//! ```
//! use bytes::Bytes;
//! use ocs_sip_codec::{HeaderName, Message};
//!
//! let msg = Message::parse(Bytes::from_static(
//!     b"SERVICE sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16 SIP/2.0\r\n\
//!       Via: SIP/2.0/TLS 192.0.2.7:4321;branch=z9hG4bK1D2E3F40;ms-received-cid=37ABE00\r\n\
//!       From: <sip:bob@contoso.com>;tag=7d1c2b3a4f;epid=01010101\r\n\
//!       To: <sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16>\r\n\
//!       Call-ID: 0a1b2c3d\r\nCSeq: 1 SERVICE\r\nMax-Forwards: 70\r\n\
//!       Content-Type: application/cccp+xml\r\nContent-Length: 10\r\n\r\n<request/>",
//! )).unwrap();
//! msg.validate().unwrap(); // strict: every known header typed, CSeq matches the method
//!
//! let via = msg.top_via().unwrap();
//! assert_eq!(via.ms_received_cid(), Some("37ABE00"));
//! let from = msg.from().unwrap();
//! assert_eq!(from.epid(), Some("01010101"));
//! let to = msg.to().unwrap();
//! assert_eq!(to.uri.as_sip().unwrap().conference_id(), Some("4FNRHN16"));
//! assert_eq!(&msg.body()[..], b"<request/>");
//!
//! // Write it back, byte for byte.
//! let mut out = Vec::new();
//! msg.write(&mut out);
//! assert_eq!(out.len(), msg.len());
//! ```
//!
//! ## Limits
//!
//! [`Limits`] bounds message size (64 KiB), body size (64 KiB), header lines (128), line length
//! (8 KiB) and parameters per URI or value (64); [`sdp::SdpLimits`] bounds SDP lines and media
//! sections. Exceeding one is an [`Error`] with the byte offset, never a panic.
//!
//! ## Strictness
//!
//! [`Message::parse`] checks framing: the start line, header-name syntax, CRLF line ends,
//! Content-Length (a single non-negative value that the datagram holds), UTF-8 in the header
//! section. [`Message::validate`] adds every typed view and the cross-header rules. The
//! RFC 4475 torture tests behave as follows (tested in `tests/rfc4475.rs`):
//!
//! | RFC 4475 case | parse | validate |
//! |---|---|---|
//! | §3.1.1 valid messages (wsinv, intmeth, esc01, escnull, esc02, lwsdisp, longreq, dblreq, semiuri, transports, mpart01, unreason, noreason) | ok | ok |
//! | §3.1.2.1 badinv01 | ok | Via: empty parameter |
//! | §3.1.2.2 clerr | BodyTruncated | – |
//! | §3.1.2.3 ncl | Content-Length: invalid number | – |
//! | §3.1.2.4 scalar02 | ok | CSeq: number out of range |
//! | §3.1.2.5 scalarlg | ok | CSeq: number out of range |
//! | §3.1.2.6 quotbal | ok | To: unterminated quoted string |
//! | §3.1.2.7 ltgtruri | start line: invalid URI scheme | – |
//! | §3.1.2.8 lwsruri | start line: white space inside a URI | – |
//! | §3.1.2.9 lwsstart | start line: white space inside a URI | – |
//! | §3.1.2.10 trws | start line: unsupported protocol version | – |
//! | §3.1.2.11 escruri | ok | Request-URI: headers not allowed |
//! | §3.1.2.12 baddate | ok | Date: invalid date |
//! | §3.1.2.13 regbadct | ok | Contact: needs angle brackets |
//! | §3.1.2.14 badaspec | ok | To: white space inside a URI |
//! | §3.1.2.15 baddn | incomplete (the vector has no empty line); with one: From header error | – |
//! | §3.1.2.16 badvers | start line: unsupported protocol version | – |
//! | §3.1.2.17 mismatch01 | ok | CSeq mismatch |
//! | §3.1.2.18 mismatch02 | ok | CSeq mismatch |
//! | §3.1.2.19 bigcode | start line: invalid status code | – |
//! | §3.2.1 badbranch | ok | ok; [`headers::Via::has_magic_cookie`] is false |
//! | §3.3.1 insuf | ok | missing From header |
//! | §3.3.2–§3.3.15 (unkscm, novelsc, unksm2, bext01, invut, regaut01, bcast, zeromf, cparam01, cparam02, regescrt, sdp01) | ok | ok; the layer above reads Require, Content-Type, Max-Forwards, the URI scheme... |
//! | §3.3.8 multi01 | ok | duplicate single-value header |
//! | §3.3.9 mcl01 | duplicate Content-Length | – |
//! | §3.4.1 inv2543 | ok | ok |
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod build;
pub mod dialog;
pub mod digest;
mod error;
#[doc(hidden)]
pub mod fuzzing;
pub mod headers;
mod message;
mod name;
pub mod ntlm;
mod params;
#[cfg(feature = "presence")]
pub mod presence;
pub mod proxy;
mod scan;
pub mod sdp;
pub mod sign;
pub mod sipae;
pub mod stream;
pub mod subscription;
pub mod transaction;
pub mod uri;

pub use error::{Error, Fault, ValueError};
pub use message::{Header, Limits, Message, StartLine};
pub use name::HeaderName;
pub use params::{Param, Params, ParamsIter};

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
