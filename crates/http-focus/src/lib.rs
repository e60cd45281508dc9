//! # ocs-http-focus
//!
//! Sans-IO HTTP for the three jobs HTTP does in OCS 2007: the Focus talks C3P to the
//! conferencing servers (MCUs), Office Communicator downloads Address Book Server files, and
//! meeting participants download meeting content. No I/O, no clock, no global randomness:
//! bytes and times go in, events and bytes come out.
//!
//! | module | what | specs |
//! |---|---|---|
//! | [`h1`] | HTTP/1.1 connections for both roles, h11-style events; keep-alive, pipelining, `Expect: 100-continue`, chunked bodies with trailers, HEAD / 1xx / 204 / 304, `Connection: close`, HTTP/1.0 peers; request-smuggling defences as errors with offsets | RFC 9110, RFC 9112 (heads parsed by httparse) |
//! | [`c3p`] | C3P over HTTP between the Focus and the MCUs: client, endpoint, failure mapping (the URL, headers and mapping are our documented choice) | [MS-CONFBAS], [MS-CONFPRO] |
//! | [`abs`] | Address Book Server files: full, delta and compact delta, `.lsabs` and `.dabs`, names from day numbers, deltas computed and applied, CRC-32 blocks, the server's directory, the client's download plan | [MS-ABS] |
//! | [`download`] | serving files: strong ETags, If-None-Match / If-Modified-Since (304), If-Match / If-Unmodified-Since (412), byte ranges (206, 416), If-Range, Content-Type | RFC 9110 8.8, 13, 14 |
//!
//! ```
//! use ocs_http_focus::h1::{Connection, Event, Role};
//! use ocs_http_focus::download::{evaluate, Resource};
//!
//! // A client asks for an Address Book file it already has (its ETag), the server says 304.
//! let book = b"...the bytes of F-0A11.lsabs...";
//! let res = Resource::new(book, 1_200_960_000, "application/octet-stream");
//! let (mut client, mut server) = (Connection::new(Role::Client), Connection::new(Role::Server));
//! let mut wire = Vec::new();
//! client
//!     .send_request(
//!         "GET",
//!         "/abs/handler/F-0A11.lsabs",
//!         [("host", "pool.contoso.com"), ("if-none-match", res.etag.as_str())],
//!         &mut wire,
//!     )
//!     .unwrap();
//! client.send_end_of_message(&[] as &[(&str, &str)], &mut wire).unwrap();
//!
//! server.receive_data(&wire);
//! let Event::Request(head) = server.next_event()? else { unreachable!() };
//! let reply = evaluate(&head, &res);
//! assert!(matches!(server.next_event()?, Event::EndOfMessage(_)));
//! let mut answer = Vec::new();
//! reply.send(&mut server, &res, &mut answer).unwrap();
//!
//! client.receive_data(&answer);
//! let Event::Response(head) = client.next_event()? else { unreachable!() };
//! assert_eq!(head.status, 304);
//! # Ok::<(), ocs_http_focus::h1::Error>(())
//! ```
//!
//! ## Limits
//! [`h1::Limits`]: head 64 KiB, 100 fields, chunk sizes of 16 hex digits, chunk extensions of
//! 1 KiB, bodies of 64 MiB by default; every limit has a test. [`abs::AbsLimits`]: 1,000,000
//! contacts, values and rules of 1 MiB. The C3P helpers accept documents up to 4 MiB.
//!
//! ## Errors
//! Every fault in received bytes is an [`h1::Error`] or [`abs::AbsError`] naming the cause and
//! its byte offset; events before it were delivered. Misuse of a connection is an
//! [`h1::SendError`] and writes nothing.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod abs;
pub mod c3p;
pub mod download;
#[doc(hidden)]
pub mod fuzzing;
pub mod h1;

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
