//! Errors: what was wrong and at which byte of the input.

use thiserror::Error;

/// What exactly was wrong inside a start line, header value, URI or SDP line.
///
/// It is carried by [`enum@Error`] together with the byte offset where the fault was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Fault {
    /// A token (RFC 3261 §25.1) was expected here.
    #[error("expected a token")]
    ExpectedToken,
    /// This character was expected here.
    #[error("expected '{0}'")]
    Expected(char),
    /// A quoted string has no closing quote.
    #[error("unterminated quoted string")]
    UnterminatedQuote,
    /// A backslash escapes a byte outside US-ASCII (RFC 3261 `quoted-pair`).
    #[error("invalid quoted-pair")]
    InvalidQuotedPair,
    /// A `<` has no matching `>`.
    #[error("unclosed '<'")]
    UnclosedAngle,
    /// A `;` is not followed by a parameter name.
    #[error("empty parameter")]
    EmptyParameter,
    /// A comma-separated list has an empty element.
    #[error("empty list element")]
    EmptyElement,
    /// A value that must not be empty is empty.
    #[error("empty value")]
    Empty,
    /// A number was expected here.
    #[error("invalid number")]
    InvalidNumber,
    /// A number is larger than the protocol allows.
    #[error("number out of range")]
    NumberOutOfRange,
    /// A host is neither a valid host name, IPv4 address nor IPv6 reference.
    #[error("invalid host")]
    InvalidHost,
    /// A port is not a number from 0 to 65535.
    #[error("invalid port")]
    InvalidPort,
    /// The protocol version is not `SIP/2.0`.
    #[error("unsupported protocol version")]
    InvalidVersion,
    /// The status code is not three digits from 100 to 699.
    #[error("invalid status code")]
    InvalidStatusCode,
    /// Characters follow a complete value.
    #[error("unexpected trailing characters")]
    TrailingCharacters,
    /// A URI scheme is missing or malformed.
    #[error("invalid URI scheme")]
    InvalidScheme,
    /// White space inside a URI.
    #[error("white space inside a URI")]
    WhitespaceInUri,
    /// A Request-URI carries `?headers` (RFC 3261 §19.1.1: not allowed there).
    #[error("URI headers are not allowed here")]
    HeadersNotAllowed,
    /// A URI with `,`, `;` or `?` outside angle brackets (RFC 3261 §20).
    #[error("a URI containing '?' must be enclosed in angle brackets")]
    NeedsAngleBrackets,
    /// A `%` is not followed by two hex digits.
    #[error("invalid %-escape")]
    InvalidEscape,
    /// A character that this grammar does not allow.
    #[error("invalid character")]
    InvalidCharacter,
    /// A date that is not an RFC 1123 date in GMT.
    #[error("invalid date")]
    InvalidDate,
    /// More parameters than [`Limits::max_params`](crate::Limits::max_params).
    #[error("too many parameters")]
    TooManyParameters,
    /// Base64 text that does not decode.
    #[error("invalid base64")]
    InvalidBase64,
}

/// Every way decoding can fail. Each variant names the cause and the byte offset of the fault
/// within the input given to the parser.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The message is larger than [`Limits::max_message_size`](crate::Limits::max_message_size).
    #[error("message exceeds the size limit of {limit} bytes at byte {offset}")]
    MessageTooLarge {
        /// The configured limit.
        limit: usize,
        /// Where the limit was crossed.
        offset: usize,
    },
    /// The input ends before the empty line that closes the header section.
    #[error("incomplete message: no empty line ends the header section at byte {offset}")]
    Incomplete {
        /// The end of the input.
        offset: usize,
    },
    /// A line is longer than [`Limits::max_line_length`](crate::Limits::max_line_length).
    #[error("line longer than the limit of {limit} bytes at byte {offset}")]
    LineTooLong {
        /// The configured limit.
        limit: usize,
        /// The start of the line.
        offset: usize,
    },
    /// More header lines than [`Limits::max_headers`](crate::Limits::max_headers).
    #[error("more than {limit} header lines at byte {offset}")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
        /// The start of the first header line over the limit.
        offset: usize,
    },
    /// A CR not followed by LF, or an LF not preceded by CR.
    #[error("bare CR or LF where CRLF is required at byte {offset}")]
    BareLineEnding {
        /// The offending byte.
        offset: usize,
    },
    /// The start line or header section is not valid UTF-8 (RFC 3261 `TEXT-UTF8`).
    #[error("invalid UTF-8 at byte {offset}")]
    Utf8 {
        /// The first byte that is not part of valid UTF-8.
        offset: usize,
    },
    /// The request or status line is malformed.
    #[error("invalid start line: {fault} at byte {offset}")]
    StartLine {
        /// What was wrong.
        fault: Fault,
        /// Where.
        offset: usize,
    },
    /// A header line does not start with `token ":"`.
    #[error("invalid header name at byte {offset}")]
    HeaderName {
        /// The first byte that is not part of a header name.
        offset: usize,
    },
    /// A header value does not match its grammar.
    #[error("invalid {header} header: {fault} at byte {offset}")]
    Header {
        /// The canonical header name.
        header: &'static str,
        /// What was wrong.
        fault: Fault,
        /// Where.
        offset: usize,
    },
    /// A header that the operation needs is absent.
    #[error("missing {header} header at byte {offset}")]
    MissingHeader {
        /// The canonical header name.
        header: &'static str,
        /// The end of the header section.
        offset: usize,
    },
    /// A header that takes one value appears more than once.
    #[error("{header} header repeated at byte {offset}, but it takes a single value")]
    DuplicateHeader {
        /// The canonical header name.
        header: &'static str,
        /// The start of the repeated line.
        offset: usize,
    },
    /// Content-Length announces more bytes than the datagram holds.
    #[error(
        "Content-Length of {declared} bytes but only {available} bytes follow the header section at byte {offset}"
    )]
    BodyTruncated {
        /// The Content-Length value.
        declared: usize,
        /// The bytes present after the header section.
        available: usize,
        /// The start of the body.
        offset: usize,
    },
    /// Content-Length is larger than [`Limits::max_body_size`](crate::Limits::max_body_size).
    #[error(
        "Content-Length of {declared} bytes exceeds the body limit of {limit} bytes at byte {offset}"
    )]
    BodyTooLarge {
        /// The Content-Length value.
        declared: usize,
        /// The configured limit.
        limit: usize,
        /// The Content-Length value's position.
        offset: usize,
    },
    /// A message on a stream transport has no Content-Length (RFC 3261 §18.3).
    #[error(
        "Content-Length is required on a stream transport, missing in the header section ending at byte {offset}"
    )]
    ContentLengthRequired {
        /// The end of the header section.
        offset: usize,
    },
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5).
    #[error("CSeq method does not match the request method at byte {offset}")]
    CSeqMismatch {
        /// The CSeq value.
        offset: usize,
    },
    /// The Request-URI is malformed.
    #[error("invalid Request-URI: {fault} at byte {offset}")]
    RequestUri {
        /// What was wrong.
        fault: Fault,
        /// Where.
        offset: usize,
    },
    /// An SDP line is malformed (RFC 4566).
    #[error("invalid SDP '{line}=' line: {fault} at byte {offset}")]
    Sdp {
        /// The line type letter.
        line: char,
        /// What was wrong.
        fault: Fault,
        /// Where.
        offset: usize,
    },
}

impl Error {
    /// The byte offset of the fault within the input.
    #[must_use]
    pub fn offset(&self) -> usize {
        match *self {
            Error::MessageTooLarge { offset, .. }
            | Error::Incomplete { offset }
            | Error::LineTooLong { offset, .. }
            | Error::TooManyHeaders { offset, .. }
            | Error::BareLineEnding { offset }
            | Error::Utf8 { offset }
            | Error::StartLine { offset, .. }
            | Error::HeaderName { offset }
            | Error::Header { offset, .. }
            | Error::MissingHeader { offset, .. }
            | Error::DuplicateHeader { offset, .. }
            | Error::BodyTruncated { offset, .. }
            | Error::BodyTooLarge { offset, .. }
            | Error::ContentLengthRequired { offset }
            | Error::CSeqMismatch { offset }
            | Error::RequestUri { offset, .. }
            | Error::Sdp { offset, .. } => offset,
        }
    }
}

/// A fault found by a value parser, with the absolute offset where it was found. The caller
/// turns it into an [`enum@Error`] naming the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValueError {
    /// What was wrong.
    pub fault: Fault,
    /// Where, counted from the start of the input given to the message parser (or from the
    /// start of the value when a value is parsed on its own).
    pub offset: usize,
}

impl ValueError {
    pub(crate) fn new(fault: Fault, offset: usize) -> Self {
        ValueError { fault, offset }
    }

    /// Names the header this value belongs to.
    #[must_use]
    pub fn in_header(self, header: &'static str) -> Error {
        Error::Header {
            header,
            fault: self.fault,
            offset: self.offset,
        }
    }
}

impl std::fmt::Display for ValueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.fault, self.offset)
    }
}

impl std::error::Error for ValueError {}
