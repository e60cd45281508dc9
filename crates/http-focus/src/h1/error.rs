//! What can go wrong, on either side of the wire.

use thiserror::Error;

/// A fault in what the peer sent (h11's `RemoteProtocolError`). Every variant carries the byte
/// offset of the fault, counted from the first byte the connection received (or from the start of
/// the buffer given to a standalone parser). Bytes before a fault were valid and their events
/// were already delivered; the connection delivers nothing after a fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The head (start line and fields) is longer than [`Limits::max_head_size`](super::Limits).
    #[error("message head longer than {limit} bytes at byte {offset}")]
    HeadTooLarge {
        /// The configured limit.
        limit: usize,
        /// Where the head began.
        offset: u64,
    },
    /// More header fields than [`Limits::max_headers`](super::Limits).
    #[error("more than {limit} header fields at byte {offset}")]
    TooManyHeaders {
        /// The configured limit.
        limit: usize,
        /// Where the head began.
        offset: u64,
    },
    /// The request line is not `method SP request-target SP HTTP-version CRLF`.
    #[error("invalid request line at byte {offset}")]
    InvalidRequestLine {
        /// The first byte that does not fit.
        offset: u64,
    },
    /// The status line is not `HTTP-version SP 3DIGIT SP reason CRLF`.
    #[error("invalid status line at byte {offset}")]
    InvalidStatusLine {
        /// The first byte that does not fit.
        offset: u64,
    },
    /// A version other than HTTP/1.0 or HTTP/1.1.
    #[error("unsupported HTTP version at byte {offset}")]
    UnsupportedVersion {
        /// Where the version starts.
        offset: u64,
    },
    /// A field name with a byte outside `token` (RFC 9110 5.1).
    #[error("invalid header field name at byte {offset}")]
    InvalidHeaderName {
        /// The offending byte.
        offset: u64,
    },
    /// A field value with a control character (RFC 9110 5.5).
    #[error("invalid header field value at byte {offset}")]
    InvalidHeaderValue {
        /// The offending byte.
        offset: u64,
    },
    /// White space between a field name and its colon: RFC 9112 5.1 makes this a 400, because
    /// intermediaries disagree on what the name is (a request-smuggling vector).
    #[error("white space before the colon of a header field at byte {offset}")]
    WhitespaceBeforeColon {
        /// The white space.
        offset: u64,
    },
    /// A field line that continues the previous one (obs-fold) in a request: RFC 9112 5.2 lets a
    /// server reject it, and we do (a request-smuggling vector). In responses it is unfolded.
    #[error("obsolete line folding in a request at byte {offset}")]
    ObsFold {
        /// The first byte of the continuation line.
        offset: u64,
    },
    /// A LF that is not preceded by CR where CRLF is required.
    #[error("bare LF where CRLF is required at byte {offset}")]
    BareLineFeed {
        /// The LF.
        offset: u64,
    },
    /// A CR that is not followed by LF.
    #[error("bare CR at byte {offset}")]
    BareCarriageReturn {
        /// The CR.
        offset: u64,
    },
    /// Both Content-Length and Transfer-Encoding (RFC 9112 6.1 lets a server reject; we always
    /// do, on both sides: it is the classic request-smuggling vector).
    #[error("Content-Length together with Transfer-Encoding at byte {offset}")]
    ContentLengthWithTransferEncoding {
        /// The second of the two fields.
        offset: u64,
    },
    /// Several Content-Length values that differ (RFC 9112 6.3 rule 5).
    #[error("conflicting Content-Length values at byte {offset}")]
    ConflictingContentLength {
        /// The value that differs.
        offset: u64,
    },
    /// A Content-Length that is not a decimal number of at most 19 digits.
    #[error("invalid Content-Length at byte {offset}")]
    InvalidContentLength {
        /// The value.
        offset: u64,
    },
    /// A Transfer-Encoding other than exactly one, final `chunked` (RFC 9112 6.3 rules 3 and 4).
    /// Servers answer 501 ([`Error::status`]).
    #[error("Transfer-Encoding other than a final chunked at byte {offset}")]
    UnsupportedTransferCoding {
        /// The value.
        offset: u64,
    },
    /// An HTTP/1.1 request without Host (RFC 9112 3.2).
    #[error("HTTP/1.1 request without Host at byte {offset}")]
    MissingHost {
        /// Where the head began.
        offset: u64,
    },
    /// A request with several Host fields (RFC 9112 3.2).
    #[error("several Host fields at byte {offset}")]
    DuplicateHost {
        /// The second Host field.
        offset: u64,
    },
    /// A chunk size that is not hexadecimal digits followed by an optional extension and CRLF.
    #[error("invalid chunk size at byte {offset}")]
    InvalidChunkSize {
        /// The offending byte.
        offset: u64,
    },
    /// A chunk size with more digits than [`Limits::max_chunk_size_digits`](super::Limits).
    #[error("chunk size longer than {limit} digits at byte {offset}")]
    ChunkSizeTooLong {
        /// The configured limit.
        limit: usize,
        /// The chunk-size line.
        offset: u64,
    },
    /// A chunk extension longer than [`Limits::max_chunk_extension`](super::Limits).
    #[error("chunk extension longer than {limit} bytes at byte {offset}")]
    ChunkExtensionTooLong {
        /// The configured limit.
        limit: usize,
        /// The chunk-size line.
        offset: u64,
    },
    /// Chunk data not followed by CRLF.
    #[error("chunk data not followed by CRLF at byte {offset}")]
    MissingChunkTerminator {
        /// Where CRLF was expected.
        offset: u64,
    },
    /// A trailer field that must not be sent as a trailer (framing, routing: RFC 9110 6.5.1).
    #[error("forbidden trailer field at byte {offset}")]
    ForbiddenTrailer {
        /// The field.
        offset: u64,
    },
    /// A body longer than [`Limits::max_body_size`](super::Limits).
    #[error("body longer than {limit} bytes at byte {offset}")]
    BodyTooLarge {
        /// The configured limit.
        limit: u64,
        /// Where the limit was crossed (or the Content-Length field announcing it).
        offset: u64,
    },
    /// The peer closed the connection in the middle of a message.
    #[error("connection closed in the middle of a message at byte {offset}")]
    IncompleteMessage {
        /// The end of what was received.
        offset: u64,
    },
    /// A response arrived for no outstanding request.
    #[error("response without a request at byte {offset}")]
    UnexpectedResponse {
        /// The response's first byte.
        offset: u64,
    },
    /// Bytes after the peer's last message on a connection that must close.
    #[error("data after the last message of the connection at byte {offset}")]
    DataAfterClose {
        /// The first such byte.
        offset: u64,
    },
    /// `101 Switching Protocols` or a `CONNECT` tunnel: this crate does not switch protocols.
    #[error("protocol switch (101 or CONNECT) not supported, at byte {offset}")]
    ProtocolSwitch {
        /// The message's first byte.
        offset: u64,
    },
}

impl Error {
    /// The byte offset of the fault.
    #[must_use]
    pub fn offset(&self) -> u64 {
        let mut e = *self;
        *e.offset_mut()
    }

    pub(crate) fn shift(self, by: u64) -> Error {
        let at = self.offset() + by;
        self.at(at)
    }

    pub(crate) fn at(mut self, offset: u64) -> Error {
        *self.offset_mut() = offset;
        self
    }

    /// The status a server answers this fault with before it closes the connection.
    #[must_use]
    pub fn status(&self) -> u16 {
        match self {
            Error::HeadTooLarge { .. } | Error::TooManyHeaders { .. } => 431,
            Error::BodyTooLarge { .. } => 413,
            Error::UnsupportedTransferCoding { .. } | Error::ProtocolSwitch { .. } => 501,
            Error::UnsupportedVersion { .. } => 505,
            _ => 400,
        }
    }

    fn offset_mut(&mut self) -> &mut u64 {
        match self {
            Error::HeadTooLarge { offset, .. }
            | Error::TooManyHeaders { offset, .. }
            | Error::InvalidRequestLine { offset }
            | Error::InvalidStatusLine { offset }
            | Error::UnsupportedVersion { offset }
            | Error::InvalidHeaderName { offset }
            | Error::InvalidHeaderValue { offset }
            | Error::WhitespaceBeforeColon { offset }
            | Error::ObsFold { offset }
            | Error::BareLineFeed { offset }
            | Error::BareCarriageReturn { offset }
            | Error::ContentLengthWithTransferEncoding { offset }
            | Error::ConflictingContentLength { offset }
            | Error::InvalidContentLength { offset }
            | Error::UnsupportedTransferCoding { offset }
            | Error::MissingHost { offset }
            | Error::DuplicateHost { offset }
            | Error::InvalidChunkSize { offset }
            | Error::ChunkSizeTooLong { offset, .. }
            | Error::ChunkExtensionTooLong { offset, .. }
            | Error::MissingChunkTerminator { offset }
            | Error::ForbiddenTrailer { offset }
            | Error::BodyTooLarge { offset, .. }
            | Error::IncompleteMessage { offset }
            | Error::UnexpectedResponse { offset }
            | Error::DataAfterClose { offset }
            | Error::ProtocolSwitch { offset } => offset,
        }
    }
}

/// A misuse of the connection by this side (h11's `LocalProtocolError`): nothing was written.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum SendError {
    /// The event is not allowed in the connection's current state.
    #[error("cannot send {event} now: {state}")]
    WrongState {
        /// What was to be sent.
        event: &'static str,
        /// Why not.
        state: &'static str,
    },
    /// A header field name that is not a token, or a value with CR, LF or NUL (header injection).
    #[error("invalid header field {index}")]
    InvalidHeader {
        /// Its position in the list given.
        index: usize,
    },
    /// A method, request target or reason phrase with bytes that would break the start line.
    #[error("invalid start line")]
    InvalidStartLine,
    /// An HTTP/1.1 request without Host.
    #[error("HTTP/1.1 request without Host")]
    MissingHost,
    /// Both Content-Length and Transfer-Encoding, several Content-Length values, or a
    /// Transfer-Encoding other than `chunked`.
    #[error("ambiguous or unsupported message framing")]
    BadFraming,
    /// More body than the Content-Length announced, or body where none is allowed.
    #[error("body longer than announced ({announced} bytes)")]
    TooMuchData {
        /// What the head announced.
        announced: u64,
    },
    /// End of message before the announced Content-Length was sent.
    #[error("end of message {missing} bytes short of Content-Length")]
    TooLittleData {
        /// How many bytes are missing.
        missing: u64,
    },
    /// Trailers on a message that is not chunked.
    #[error("trailers need chunked transfer coding")]
    TrailersNotChunked,
}
