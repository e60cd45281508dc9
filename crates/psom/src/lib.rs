//! # ocs-psom
//!
//! Sans-IO PSOM ([MS-PSOM]): the shared-object messaging that carries OCS 2007
//! web-conferencing content and meeting data between clients and the data MCU, and the
//! web-conference session built on it.
//!
//! **Compatibility.** Only the overview of [MS-PSOM] (1.3) and a secondary summary of its
//! record and operation codes are public where we looked. Every byte layout beyond those
//! facts is this crate's choice, written down field by field with its source in
//! `PROTOCOL.md` and kept in one module, [`codec`]. Byte-level compatibility with Microsoft's
//! data MCU is **unverified** until a capture or the full specification is available.
//!
//! | layer | module |
//! |---|---|
//! | records on the TLS byte stream (Close, SetChannel, Break, RpcMessage, RPCOpen), streaming decoder | [`record`] |
//! | operations (Connect/Disconnect Child 0x84, OpenClose 0x86, RPC) routed by proxy id | [`record::Operation`] |
//! | marshaled parameters and method tables | [`value`], [`interface`] |
//! | the meeting: roles, privileges, roster, slides, whiteboard, poll, Q&A, content | [`meeting`] |
//! | the data MCU and the client, sans-IO, time passed in | [`server`], [`client`] |
//!
//! ```
//! use std::time::{Duration, Instant};
//! use ocs_psom::client::{Action, Client, Credentials};
//! use ocs_psom::meeting::Role;
//! use ocs_psom::server::{Authorization, Server, ServerConfig};
//!
//! let now = Instant::now();
//! # use rand::SeedableRng;
//! let mut server = Server::new("ABCD1234", ServerConfig::default(), rand::rngs::StdRng::seed_from_u64(7));
//! // What the data MCU put in the C3P addUser dial-in response (connection-info sAuthId, key).
//! server.authorize(Authorization {
//!     auth_id: "4711".into(),
//!     key: b"secret".to_vec(),
//!     user: "sip:alice@contoso.com".into(),
//!     role: Role::Presenter,
//!     expires: now + Duration::from_secs(3600),
//! });
//! let mut alice = Client::new(
//!     now,
//!     Credentials {
//!         conference_id: "ABCD1234".into(),
//!         auth_id: "4711".into(),
//!         key: b"secret".to_vec(),
//!         name: "Alice".into(),
//!     },
//! );
//! server.connect(now, 1);
//! // Shuttle bytes both ways until nothing moves (an in-memory pipe).
//! // Each side writes into the caller's buffer; nothing is allocated per transmit.
//! let mut buf = [0u8; 4096];
//! let mut pump = |server: &mut Server, alice: &mut Client| loop {
//!     let mut moved = false;
//!     while let Ok(Some(n)) = alice.poll_transmit(&mut buf) {
//!         server.handle_input(now, 1, &buf[..n]);
//!         moved = true;
//!     }
//!     while let Ok(Some(t)) = server.poll_transmit(&mut buf) {
//!         alice.handle_input(now, &buf[..t.len]).unwrap();
//!         moved = true;
//!     }
//!     if !moved {
//!         break;
//!     }
//! };
//! pump(&mut server, &mut alice);
//! assert!(alice.joined());
//! alice.call(Action::LoadDeck { id: "deck-1".into(), slides: 12 }).unwrap();
//! alice.call(Action::GoTo(3)).unwrap();
//! pump(&mut server, &mut alice);
//! assert_eq!(alice.view().deck.as_ref().map(|d| d.current), Some(3));
//! assert_eq!(alice.view(), server.state());
//! ```
//!
//! ## Limits
//! Record bodies of at most 1 MiB ([`server::ServerConfig::max_record`]), 16 levels of nesting
//! and 65,536 values per operation ([`value::MarshalLimits`]), uploads of 64 MiB, 90 s idle
//! timeout.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod codec;
#[doc(hidden)]
pub mod fuzzing;
pub mod interface;
pub mod meeting;
pub mod record;
pub mod rng;
pub use rand_core;
pub mod server;
pub mod value;

/// The caller's buffer cannot take anything: a `poll_transmit` was given an empty slice while
/// bytes are waiting. Nothing was written; call again with at least `required` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the output buffer is too small: at least {required} bytes are needed")]
pub struct BufferTooSmall {
    /// The smallest buffer that makes progress.
    pub required: usize,
}

use thiserror::Error;

/// A fault in received bytes, with its offset in the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes end inside a structure.
    #[error("truncated {what} at byte {offset}")]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Where.
        offset: u64,
    },
    /// Bytes left after a structure that must fill its record.
    #[error("trailing bytes after the {what} at byte {offset}")]
    TrailingBytes {
        /// The structure.
        what: &'static str,
        /// Where they start.
        offset: u64,
    },
    /// A record type that is not one of the five.
    #[error("unknown record type {kind:#04x} at byte {offset}")]
    UnknownRecord {
        /// The type byte.
        kind: u8,
        /// The record.
        offset: u64,
    },
    /// A record body over the limit.
    #[error("record of {len} bytes over the limit of {limit} at byte {offset}")]
    RecordTooLarge {
        /// Its announced length.
        len: usize,
        /// The limit.
        limit: usize,
        /// The record.
        offset: u64,
    },
    /// An operation code that is not 0x84, 0x86 or 0x96.
    #[error("unknown operation {code:#04x} at byte {offset}")]
    UnknownOperation {
        /// The code.
        code: u8,
        /// The operation.
        offset: u64,
    },
    /// A value tag this crate does not know.
    #[error("unknown value tag {tag:#04x} at byte {offset}")]
    UnknownTag {
        /// The tag.
        tag: u8,
        /// The value.
        offset: u64,
    },
    /// A value that is not what its type allows (a bool of 2, text that is not UTF-8...).
    #[error("invalid {what} at byte {offset}")]
    InvalidValue {
        /// What.
        what: &'static str,
        /// Where.
        offset: u64,
    },
    /// Arrays and structures nested deeper than the limit.
    #[error("values nested deeper than {limit} at byte {offset}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// The value.
        offset: u64,
    },
    /// More of something than the limit.
    #[error("more {what} than {limit} at byte {offset}")]
    TooMany {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// Where.
        offset: u64,
    },
}

/// Why the server refused an operation or closed a connection: the code of an RPC error reply
/// or of a Close record (codes **our choice**). Shared state is never changed by a refused
/// operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Refusal {
    /// 1: an operation other than Authenticate before authentication.
    NotAuthenticated = 1,
    /// 2: unknown auth id, wrong key or wrong conference.
    BadCredentials = 2,
    /// 3: the authorization has expired.
    Expired = 3,
    /// 4: the caller's role and grants do not allow it.
    NotPermitted = 4,
    /// 5: no such object (unknown or forged proxy id).
    UnknownObject = 5,
    /// 6: arguments of the wrong number or type, or out of range.
    BadArguments = 6,
    /// 7: no such method.
    UnknownMethod = 7,
    /// 8: the request conflicts with the state (no poll open, already voted, proxy id taken...).
    Conflict = 8,
    /// 9: uploaded content does not match its SHA-1.
    IntegrityFailed = 9,
    /// 10: the byte stream broke the protocol (the connection is closed).
    ProtocolError = 10,
    /// 11: no record for too long (the connection is closed).
    Timeout = 11,
    /// 12: the operation came on the wrong channel.
    WrongChannel = 12,
}

impl Refusal {
    /// From its code.
    #[must_use]
    pub fn from_code(c: u16) -> Option<Refusal> {
        use Refusal::*;
        [
            NotAuthenticated,
            BadCredentials,
            Expired,
            NotPermitted,
            UnknownObject,
            BadArguments,
            UnknownMethod,
            Conflict,
            IntegrityFailed,
            ProtocolError,
            Timeout,
            WrongChannel,
        ]
        .into_iter()
        .find(|r| *r as u16 == c)
    }
}

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
