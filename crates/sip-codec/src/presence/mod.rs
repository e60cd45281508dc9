//! The presence and contact-list bodies of OCS 2007 ([MS-PRES], [MS-SIP] roaming), typed and
//! zero-copy: every string is a [`ByteString`] view of the input unless it held an escape.
//!
//! | body (Content-Type) | type | where |
//! |---|---|---|
//! | `application/vnd-microsoft-roaming-contacts+xml` | [`ContactList`] | NOTIFY of `vnd-microsoft-roaming-contacts` ([MS-SIP] 3.7) |
//! | `application/vnd-microsoft-roaming-self+xml` (request) | [`RoamingList`] | SUBSCRIBE `vnd-microsoft-roaming-self` ([MS-PRES] 2.2.2.1) |
//! | `application/vnd-microsoft-roaming-self+xml` (notification) | [`RoamingData`] | its NOTIFY: categories, containers, subscribers |
//! | `application/msrtc-category-publish+xml` | [`Publish`] | SERVICE to oneself ([MS-PRES] 2.2.2.2) |
//! | `application/msrtc-setcontainermembers+xml` | [`SetContainerMembers`] | SERVICE to oneself: ACL changes |
//! | `application/msrtc-adrl-categorylist+xml` | [`BatchSubscribe`] | SUBSCRIBE `presence`, `Require: adhoclist, categoryList` |
//! | `application/msrtc-event-categories+xml` | [`Categories`] | NOTIFY / BENOTIFY of `presence` |
//! | `application/rlmi+xml` in `multipart/related` | [`rlmi::List`], [`rlmi::parts`] | batched NOTIFY ([RFC 4662]) |
//! | `application/msrtc-presence-setsubscriber+xml` | [`SetSubscriber`] | SERVICE: a `presence.wpending` subscriber seen |
//! | `application/SOAP+xml` | [`soap::Request`] | SERVICE: contact list and 2005 presence operations |
//!
//! Every parser takes [`Limits`] (size, depth, elements, attributes) and fails with an
//! [`Error`] that says what was wrong and at which byte; a `<!DOCTYPE` is refused.
//! Writers append to a `Vec<u8>`.
//!
//! ```
//! use bytestring::ByteString;
//! use ocs_sip_codec::presence::{Availability, ContactList, Limits, Publish};
//!
//! let body = ByteString::from_static(r#"<contactList deltaNum="3"
//!   xmlns="http://schemas.microsoft.com/2006/09/sip/contactlist">
//!   <group id="1" name="~" externals=""/><group id="2" name="Friends" externals=""/>
//!   <contact uri="bob@contoso.com" name="Bob" groups="1 2" subscribed="true" externals=""/>
//! </contactList>"#);
//! let list = ContactList::parse(&body, &Limits::default()).unwrap();
//! assert_eq!(list.delta_num(), 3);
//! let ContactList::Full { contacts, .. } = &list else { panic!("a whole list") };
//! assert_eq!(contacts[0].groups, [1, 2]);
//!
//! let publish = ByteString::from_static(r#"<publish
//!   xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence"><publications
//!   uri="sip:alice@contoso.com"><publication categoryName="state" instance="906391354"
//!   container="2" version="0" expireType="endpoint"><state
//!   xmlns="http://schemas.microsoft.com/2006/09/sip/state"
//!   xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" manual="false"
//!   xsi:type="machineState"><availability>3500</availability></state></publication>
//!   </publications></publish>"#);
//! let p = Publish::parse(&publish, &Limits::default()).unwrap();
//! let state = p.publications[0].state(&Limits::default()).unwrap().unwrap();
//! assert_eq!(Availability::from_number(state.availability.unwrap()), Availability::Online);
//! ```
//!
//! [RFC 4662]: https://www.rfc-editor.org/rfc/rfc4662

mod category;
mod contacts;
pub mod rlmi;
pub mod soap;
mod xml;

use bytes::Bytes;
use bytestring::ByteString;

pub use category::{
    Availability, BatchAction, BatchSubscribe, Categories, Category, Container, ContainerChange,
    Member, MemberChange, Publication, Publish, RoamingData, RoamingList, SetContainerMembers,
    SetSubscriber, State, Subscriber, write_wrong_delta,
};
pub use contacts::{Contact, ContactList, Group};

/// Namespaces of the presence documents.
pub mod ns {
    /// `contactList` ([MS-SIP] roaming contacts).
    pub const CONTACT_LIST: &str = "http://schemas.microsoft.com/2006/09/sip/contactlist";
    /// `roamingList`, `roamingData`.
    pub const ROAMING_SELF: &str = "http://schemas.microsoft.com/2006/09/sip/roaming-self";
    /// `categories`, `category`.
    pub const CATEGORIES: &str = "http://schemas.microsoft.com/2006/09/sip/categories";
    /// `publish`, `publications`.
    pub const RICH_PRESENCE: &str = "http://schemas.microsoft.com/2006/09/sip/rich-presence";
    /// `containers`, `setContainerMembers`.
    pub const CONTAINER_MANAGEMENT: &str =
        "http://schemas.microsoft.com/2006/09/sip/container-management";
    /// `subscribers`, `setSubscribers`.
    pub const PRESENCE_SUBSCRIBERS: &str =
        "http://schemas.microsoft.com/2006/09/sip/presence-subscribers";
    /// `batchSub`.
    pub const BATCH_SUBSCRIBE: &str = "http://schemas.microsoft.com/2006/01/sip/batch-subscribe";
    /// `categoryList`.
    pub const CATEGORY_LIST: &str = "http://schemas.microsoft.com/2006/09/sip/categorylist";
    /// `state`.
    pub const STATE: &str = "http://schemas.microsoft.com/2006/09/sip/state";
    /// RFC 4662 `list`.
    pub const RLMI: &str = "urn:ietf:params:xml:ns:rlmi";
    /// SOAP 1.1 envelope.
    pub const SOAP_ENV: &str = "http://schemas.xmlsoap.org/soap/envelope/";
    /// The operations of the 2005 contact and presence service.
    pub const WINRTC_SIP: &str = "http://schemas.microsoft.com/winrtc/2002/11/sip";
    /// `xsi:type`.
    pub const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";

    pub(crate) const KNOWN: &[&str] = &[
        CONTACT_LIST,
        ROAMING_SELF,
        CATEGORIES,
        RICH_PRESENCE,
        CONTAINER_MANAGEMENT,
        PRESENCE_SUBSCRIBERS,
        BATCH_SUBSCRIBE,
        CATEGORY_LIST,
        STATE,
        RLMI,
        SOAP_ENV,
        WINRTC_SIP,
        XSI,
    ];
}

/// Bounds on what the parsers accept. The defaults suit a server: a contact list of 1,000
/// contacts is about 100 KB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest document, in bytes (default 256 KiB; a SIP body is at most 64 KiB by default).
    pub max_size: usize,
    /// Deepest element nesting (default 16).
    pub max_depth: usize,
    /// Most elements in one document (default 10,000).
    pub max_elements: usize,
    /// Most attributes on one element (default 32).
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_size: 256 << 10,
            max_depth: 16,
            max_elements: 10_000,
            max_attributes: 32,
        }
    }
}

/// What was wrong with a presence body, and at which byte.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body is not UTF-8.
    #[error("not UTF-8 at byte {offset}")]
    Utf8 {
        /// The first invalid byte.
        offset: usize,
    },
    /// Not well-formed XML.
    #[error("not well-formed XML at byte {offset}: {cause}")]
    Xml {
        /// What quick-xml or this parser found.
        cause: String,
        /// Where.
        offset: usize,
    },
    /// A document type declaration (refused: no entities are defined or expanded).
    #[error("DOCTYPE at byte {offset} is not allowed")]
    Doctype {
        /// Where it starts.
        offset: usize,
    },
    /// Larger than [`Limits::max_size`].
    #[error("document of {size} bytes is over the limit of {limit}")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// Nested deeper than [`Limits::max_depth`].
    #[error("elements nested deeper than {limit} at byte {offset}")]
    TooDeep {
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// More elements than [`Limits::max_elements`].
    #[error("more than {limit} elements at byte {offset}")]
    TooManyElements {
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// More attributes on an element than [`Limits::max_attributes`].
    #[error("more than {limit} attributes at byte {offset}")]
    TooManyAttributes {
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// Not the element this document or position needs.
    #[error("<{found}> at byte {offset} where <{expected}> was expected")]
    UnexpectedElement {
        /// What was expected.
        expected: &'static str,
        /// What was found.
        found: String,
        /// Where.
        offset: usize,
    },
    /// An attribute the element must have is missing.
    #[error("<{element}> at byte {offset} has no {attribute} attribute")]
    MissingAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// Where the element starts.
        offset: usize,
    },
    /// A child element the element must have is missing.
    #[error("<{element}> at byte {offset} has no <{child}>")]
    MissingElement {
        /// The element.
        element: &'static str,
        /// The child.
        child: &'static str,
        /// Where the element starts.
        offset: usize,
    },
    /// A value that does not parse (a number, a boolean, a known name).
    #[error("invalid {what} {value:?} at byte {offset}")]
    InvalidValue {
        /// What it is.
        what: &'static str,
        /// The value (at most 64 characters of it).
        value: String,
        /// Where its element starts.
        offset: usize,
    },
    /// A `multipart/*` body that does not split into parts.
    #[error("multipart body: {cause} at byte {offset}")]
    Multipart {
        /// What was wrong.
        cause: &'static str,
        /// Where.
        offset: usize,
    },
}

/// A SIP body as the text the parsers read (a view, not a copy), or where it stops being UTF-8.
pub fn text(body: Bytes) -> Result<ByteString, Error> {
    if let Err(e) = std::str::from_utf8(&body) {
        return Err(Error::Utf8 {
            offset: e.valid_up_to(),
        });
    }
    ByteString::try_from(body).map_err(|_| Error::Utf8 { offset: 0 })
}
