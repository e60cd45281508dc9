//! # ocs-rtcp
//!
//! Sans-IO RTP and RTCP for Office Communications Server 2007 media: RTP packets (RFC 3550
//! §5.1, RFC 8285 header extensions), compound and reduced-size RTCP (RFC 3550 §6, RFC 5506)
//! with SR, RR, SDES, BYE, APP, feedback (RFC 4585, RFC 5104, transport-wide CC, REMB) and
//! extended reports (RFC 3611), and the [MS-RTP] extensions: the profile-specific extensions
//! after SR/RR report blocks, the Microsoft PLI, Video Source Requests and Dominant Speaker
//! History.
//!
//! - [`rtp`], [`packet`], [`feedback`], [`xr`], [`msrtp`]: zero-copy views, checked as RFC 3550
//!   A.2 says (errors carry offsets), and [`writer`] to build compounds into a caller's buffer.
//!   Parsing and writing allocate nothing.
//! - [`stats`]: RFC 3550 Appendix A reception statistics (probation, loss, jitter, LSR/DLSR,
//!   RTT), loss bursts and gaps, NTP and RTP clocks.
//! - [`session`]: a sans-IO RTCP session: members and senders, the A.7 interval with timer and
//!   BYE reconsideration, the [MS-RTP] fast timer modes, time-outs, collisions and loops.
//! - [`quality`]: R-factor and MOS by a simplified G.107 E-model ("MOS 4.1, good").
//!
//! Known limits: loop detection compares our CNAME (the transport addresses of RFC 3550 §8.2
//! are not seen by a sans-IO session); the [MS-RTP] Audio Healer Metrics' last word is kept as
//! one value, its sub-field widths not being public.
//!
//! ```
//! use ocs_rtcp::packet::{Compound, Kind, Limits, ReportBlock};
//! use ocs_rtcp::msrtp::MsExtension;
//! use ocs_rtcp::writer::Writer;
//!
//! let mut buf = [0u8; 128];
//! let mut w = Writer::new(&mut buf);
//! let ext = [MsExtension::EstimatedBandwidth { ssrc: 7, bandwidth: 2_000_000, confidence: None }];
//! w.receiver_report(0xcafe, &[ReportBlock { ssrc: 7, fraction_lost: 12, ..Default::default() }], &ext).unwrap();
//! let n = w.len();
//!
//! let compound = Compound::parse(&buf[..n], &Limits::default()).unwrap();
//! let Kind::ReceiverReport(rr) = compound.packets().next().unwrap().kind() else { panic!() };
//! assert_eq!(rr.reports().next().unwrap().fraction_lost, 12);
//! assert_eq!(rr.extensions().next().unwrap().typed(), ext[0]);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
pub mod feedback;
#[doc(hidden)]
pub mod fuzzing;
pub mod msrtp;
pub mod packet;
pub mod quality;
pub mod rtp;
pub mod session;
pub use rand_core;
pub mod stats;
pub mod writer;
pub mod xr;

pub use error::Error;
pub use packet::Limits;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
