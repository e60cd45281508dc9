//! # ocs-cccp
//!
//! Sans-IO C3P (the Centralized Conference Control Protocol, "CCCP") of Office Communications
//! Server 2007: the XML commands that create and control conferences, the conference state
//! they report, and a focus that runs conferences.
//!
//! - [`message`]: the `request` / `response` envelope ([MS-CONFPRO] 2.2.2, 2.2.3) and every
//!   command with its typed body: `addConference`, `modifyConference`, `deleteConference`,
//!   `getConference`, `getConferences`, `getAvailableMcuTypes`,
//!   `getConferencingCapabilities`, `getEncryptionKey`, `addUser` (join, dial-out, dial-in with
//!   `connection-info`), `deleteUser`, `modifyUserRoles`, `modifyEndpointRole`,
//!   `modifyEndpointMedia` ([MS-CONFAV]), `modifyConferenceLock`, `setLobbyAccess`.
//! - [`info`]: RFC 4575 `conference-info` with the [MS-CONFBAS] extensions (conference ID,
//!   expiry, admission policy, organizer, conference view per MCU, lobby, client info, media
//!   filters).
//! - [`state`]: partial notifications applied to a full state (RFC 4575 §4.6), the deltas a
//!   focus sends, and a subscriber's [`Tracker`](state::Tracker) that notices lost versions.
//! - [`uri`]: focus factory, focus and MCU conference URIs, `meet:`/`conf:` links, conference
//!   IDs.
//! - [`focus`]: the focus as a sans-IO state machine: a conference registry with expiry, join
//!   with roles, lock, admission policy and lobby, C3P requests to the MCUs as values, and
//!   conference-info notifications per subscriber.
//!
//! Elements are matched by namespace URI, never by prefix. Content in extension namespaces
//! that the model does not type is kept ([`xml::Extensions`]) and written back. Documents are
//! read through quick-xml with no DTD processing: a `<!DOCTYPE` is refused at once, so entity
//! bombs cannot start; only the five predefined entities and character references are
//! expanded. Parsing is bounded by [`Limits`] and reports every fault with its byte offset
//! ([`Error::offset`]). Strings in the parsed model are zero-copy views of the input
//! ([`bytestring::ByteString`]). Writers produce the namespace layout of the specification
//! examples (`ci:` and `msci:` prefixes, `cis:separator` before later schema versions).
//!
//! ```
//! use ocs_cccp::message::{Body, Code, Message, Request};
//! use ocs_cccp::uri::McuType;
//!
//! // [MS-CONFPRO] 4.7: what a client sends to its focus factory...
//! let req = Request::new(7, "sip:alice@contoso.com",
//!     "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory",
//!     Body::GetAvailableMcuTypes { mcu_types: None });
//! let bytes = req.to_bytes();
//! let Message::Request(parsed) = Message::parse(bytes).unwrap() else { unreachable!() };
//! assert_eq!(parsed, req);
//!
//! // ...and the answer.
//! let resp = parsed.respond(Code::Success, Body::GetAvailableMcuTypes {
//!     mcu_types: Some(vec![McuType::AudioVideo, McuType::Chat, McuType::Meeting, McuType::PhoneConf]),
//! });
//! let text = String::from_utf8(resp.to_bytes().to_vec()).unwrap();
//! assert!(text.contains("<mcuType>phone-conf</mcuType>"));
//! assert!(text.contains(r#"from="sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory""#));
//! ```
//!
//! Limits: a document is at most [`Limits::max_size`] bytes (1 MiB), [`Limits::max_depth`]
//! deep (32), [`Limits::max_elements`] elements (50,000) with [`Limits::max_attributes`]
//! attributes each (32); a user lists at most 64 endpoints and an endpoint 64 media. Where the
//! public specifications were not available for a command or element, the choice made is
//! stated in the docs of that type; none of them has been checked against a Microsoft server.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod macros;

mod error;
pub mod focus;
#[doc(hidden)]
pub mod fuzzing;
pub mod info;
pub mod message;
pub mod ns;
pub mod rng;
pub use rand_core;
pub mod state;
pub mod time;
pub mod uri;
pub mod xml;

pub use error::Error;
pub use xml::Limits;

/// Checks UTF-8 and wraps the input without copying it.
pub(crate) fn utf8(b: bytes::Bytes) -> Result<bytestring::ByteString, Error> {
    match bytestring::ByteString::try_from(b) {
        Ok(s) => Ok(s),
        Err(e) => Err(Error::InvalidUtf8 {
            offset: e.valid_up_to(),
        }),
    }
}

/// The README's examples, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
