//! Errors: what was wrong and at which byte of the document.

use thiserror::Error;

/// Why a C3P or conference-info document was refused.
///
/// Every variant that comes from parsing carries the byte offset of the fault in the input
/// ([`Error::offset`]). Nothing is partially applied: a document either parses whole or not at
/// all.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    /// The document is not UTF-8 (C3P and conference-info documents are UTF-8).
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Where the first invalid byte is.
        offset: usize,
    },
    /// The document is not well-formed XML (the cause as quick-xml reports it).
    #[error("malformed XML: {cause} at byte {offset}")]
    Xml {
        /// What the XML reader found.
        cause: String,
        /// Where.
        offset: usize,
    },
    /// A document type declaration. DTDs are never processed, so entity definitions (and
    /// entity-expansion bombs) are refused before any of them is read.
    #[error("DTD not allowed at byte {offset}")]
    DtdNotAllowed {
        /// Where the `<!DOCTYPE` starts.
        offset: usize,
    },
    /// An entity reference other than the five predefined ones and character references.
    #[error("unknown entity '&{name};' at byte {offset}")]
    UnknownEntity {
        /// The entity name.
        name: String,
        /// Where.
        offset: usize,
    },
    /// The document is larger than [`Limits::max_size`](crate::Limits::max_size).
    #[error("document of {size} bytes exceeds the limit of {limit} at byte {limit}")]
    TooLarge {
        /// The size of the document.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Elements nested deeper than [`Limits::max_depth`](crate::Limits::max_depth).
    #[error("elements nested deeper than {limit} at byte {offset}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where the element that went too deep starts.
        offset: usize,
    },
    /// More items than a [`Limits`](crate::Limits) field allows.
    #[error("more than {limit} {what} at byte {offset}")]
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// The root element is not what the caller asked for.
    #[error("expected root element {expected} at byte {offset}")]
    UnexpectedRoot {
        /// What was expected (`request`, `response` or `conference-info` with its namespace).
        expected: &'static str,
        /// Where the root element starts.
        offset: usize,
    },
    /// An element that the schema does not allow here, in a namespace that is not open for
    /// extension.
    #[error("unexpected element <{name}> in {context} at byte {offset}")]
    UnexpectedElement {
        /// The element's local name.
        name: String,
        /// The element it appeared in.
        context: &'static str,
        /// Where.
        offset: usize,
    },
    /// Character data where the schema allows only elements.
    #[error("unexpected text in {context} at byte {offset}")]
    UnexpectedText {
        /// The element it appeared in.
        context: &'static str,
        /// Where.
        offset: usize,
    },
    /// A required element is missing.
    #[error("missing <{what}> in {context} at byte {offset}")]
    MissingElement {
        /// The missing element.
        what: &'static str,
        /// The element that lacks it.
        context: &'static str,
        /// Where that element starts.
        offset: usize,
    },
    /// An element that may appear once appears again.
    #[error("duplicate <{what}> at byte {offset}")]
    DuplicateElement {
        /// The element.
        what: &'static str,
        /// Where the second one starts.
        offset: usize,
    },
    /// A required attribute is missing.
    #[error("missing attribute {what} at byte {offset}")]
    MissingAttribute {
        /// The attribute.
        what: &'static str,
        /// Where its element starts.
        offset: usize,
    },
    /// A value that does not fit its type (a number, boolean, date, enumeration...).
    #[error("invalid {what} at byte {offset}")]
    InvalidValue {
        /// What the value should have been.
        what: &'static str,
        /// Where its element or attribute starts.
        offset: usize,
    },
    /// The output buffer is too small; nothing useful was written.
    #[error("buffer too small: {required} bytes required")]
    BufferTooSmall {
        /// Bytes the buffer needs.
        required: usize,
    },
}

impl Error {
    /// The byte offset of the fault in the input (0 for [`Error::BufferTooSmall`]).
    #[must_use]
    pub fn offset(&self) -> usize {
        match *self {
            Error::InvalidUtf8 { offset }
            | Error::Xml { offset, .. }
            | Error::DtdNotAllowed { offset }
            | Error::UnknownEntity { offset, .. }
            | Error::TooDeep { offset, .. }
            | Error::TooMany { offset, .. }
            | Error::UnexpectedRoot { offset, .. }
            | Error::UnexpectedElement { offset, .. }
            | Error::UnexpectedText { offset, .. }
            | Error::MissingElement { offset, .. }
            | Error::DuplicateElement { offset, .. }
            | Error::MissingAttribute { offset, .. }
            | Error::InvalidValue { offset, .. } => offset,
            Error::TooLarge { limit, .. } => limit,
            Error::BufferTooSmall { .. } => 0,
        }
    }
}
