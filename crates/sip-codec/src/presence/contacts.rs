//! The roaming contact list ([MS-SIP] 2.2.4.1): `contactList` (the whole list) and
//! `contactDelta` (what changed since a `deltaNum`).

use bytestring::ByteString;

use super::xml::{self, El, W, share};
use super::{Error, Limits, ns};

/// A group of the contact list. The group named `~` is the default ("Other Contacts").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Group {
    /// Its id, unique in the list.
    pub id: u32,
    /// Its name.
    pub name: ByteString,
    /// Client data kept for it (`externalURI`; empty reads as `None`).
    pub externals: Option<ByteString>,
}

/// A contact.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Contact {
    /// Its address. In a `contactList` written without `sip:`, as clients expect it there;
    /// in a `contactDelta` with it.
    pub uri: ByteString,
    /// The display name the user gave it.
    pub name: ByteString,
    /// The ids of its groups.
    pub groups: Vec<u32>,
    /// Whether the user's client subscribes to its presence.
    pub subscribed: bool,
    /// Client data kept for it (`externalURI`; empty reads as `None`).
    pub externals: Option<ByteString>,
}

/// The body of a `vnd-microsoft-roaming-contacts` notification.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum ContactList {
    /// `<contactList>`: the whole list.
    Full {
        /// The list's version.
        delta_num: u32,
        /// The groups.
        groups: Vec<Group>,
        /// The contacts.
        contacts: Vec<Contact>,
    },
    /// `<contactDelta>`: changes from `prev_delta_num` to `delta_num`.
    Delta {
        /// The version after the changes.
        delta_num: u32,
        /// The version they apply to.
        prev_delta_num: u32,
        /// `addedGroup`.
        added_groups: Vec<Group>,
        /// `modifiedGroup`.
        modified_groups: Vec<Group>,
        /// `deletedGroup` ids.
        deleted_groups: Vec<u32>,
        /// `addedContact`.
        added_contacts: Vec<Contact>,
        /// `modifiedContact`.
        modified_contacts: Vec<Contact>,
        /// `deletedContact` URIs.
        deleted_contacts: Vec<ByteString>,
    },
}

fn group(src: &ByteString, e: &El<'_>) -> Result<Group, Error> {
    Ok(Group {
        id: xml::parse_num(e.need("group", "id")?, "group id", e.offset)?,
        name: e.attr("name").map(|v| share(src, v)).unwrap_or_default(),
        externals: e
            .attr("externalURI")
            .or(e.attr("externals"))
            .filter(|v| !v.is_empty())
            .map(|v| share(src, v)),
    })
}

fn contact(src: &ByteString, e: &El<'_>) -> Result<Contact, Error> {
    let groups = match e.attr("groups") {
        Some(g) => g
            .split_ascii_whitespace()
            .map(|id| xml::parse_num(id, "contact groups", e.offset))
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    Ok(Contact {
        uri: share(src, e.need("contact", "uri")?),
        name: e.attr("name").map(|v| share(src, v)).unwrap_or_default(),
        groups,
        subscribed: e
            .attr("subscribed")
            .map(|v| xml::parse_bool(v, "contact subscribed", e.offset))
            .transpose()?
            .unwrap_or(true),
        externals: e
            .attr("externalURI")
            .or(e.attr("externals"))
            .filter(|v| !v.is_empty())
            .map(|v| share(src, v)),
    })
}

fn write_group(w: &mut W<'_>, tag: &str, g: &Group) {
    w.open(tag)
        .num_attr("id", g.id)
        .attr("name", &g.name)
        .attr("externalURI", g.externals.as_deref().unwrap_or(""))
        .end_empty();
}

fn write_contact(w: &mut W<'_>, tag: &str, c: &Contact) {
    let mut groups = String::new();
    for g in &c.groups {
        if !groups.is_empty() {
            groups.push(' ');
        }
        groups.push_str(&g.to_string());
    }
    w.open(tag)
        .attr("uri", &c.uri)
        .attr("name", &c.name)
        .attr("groups", &groups)
        .attr("subscribed", if c.subscribed { "true" } else { "false" })
        .attr("externalURI", c.externals.as_deref().unwrap_or(""))
        .end_empty();
}

impl ContactList {
    /// Parses a `contactList` or `contactDelta` document.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<ContactList, Error> {
        let root = xml::parse(src, limits)?;
        let delta_num = root.num("deltaNum", "deltaNum")?.unwrap_or(0);
        match root.name {
            "contactList" => Ok(ContactList::Full {
                delta_num,
                groups: root
                    .children("group")
                    .map(|g| group(src, g))
                    .collect::<Result<_, _>>()?,
                contacts: root
                    .children("contact")
                    .map(|c| contact(src, c))
                    .collect::<Result<_, _>>()?,
            }),
            "contactDelta" => {
                let groups = |tag| {
                    root.children(tag)
                        .map(|g| group(src, g))
                        .collect::<Result<Vec<_>, _>>()
                };
                let contacts = |tag| {
                    root.children(tag)
                        .map(|c| contact(src, c))
                        .collect::<Result<Vec<_>, _>>()
                };
                Ok(ContactList::Delta {
                    delta_num,
                    prev_delta_num: root.num("prevDeltaNum", "prevDeltaNum")?.unwrap_or(0),
                    added_groups: groups("addedGroup")?,
                    modified_groups: groups("modifiedGroup")?,
                    deleted_groups: root
                        .children("deletedGroup")
                        .map(|g| {
                            xml::parse_num(g.need("deletedGroup", "id")?, "group id", g.offset)
                        })
                        .collect::<Result<_, _>>()?,
                    added_contacts: contacts("addedContact")?,
                    modified_contacts: contacts("modifiedContact")?,
                    deleted_contacts: root
                        .children("deletedContact")
                        .map(|c| c.need("deletedContact", "uri").map(|u| share(src, u)))
                        .collect::<Result<_, _>>()?,
                })
            }
            _ => Err(Error::UnexpectedElement {
                expected: "contactList",
                found: root.name.chars().take(64).collect(),
                offset: root.offset,
            }),
        }
    }

    /// The list's version.
    pub fn delta_num(&self) -> u32 {
        match self {
            ContactList::Full { delta_num, .. } | ContactList::Delta { delta_num, .. } => {
                *delta_num
            }
        }
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        match self {
            ContactList::Full {
                delta_num,
                groups,
                contacts,
            } => {
                w.open("contactList")
                    .num_attr("deltaNum", delta_num)
                    .attr("xmlns", ns::CONTACT_LIST)
                    .gt();
                for g in groups {
                    write_group(&mut w, "group", g);
                }
                for c in contacts {
                    write_contact(&mut w, "contact", c);
                }
                w.close("contactList");
            }
            ContactList::Delta {
                delta_num,
                prev_delta_num,
                added_groups,
                modified_groups,
                deleted_groups,
                added_contacts,
                modified_contacts,
                deleted_contacts,
            } => {
                w.open("contactDelta")
                    .num_attr("deltaNum", delta_num)
                    .num_attr("prevDeltaNum", prev_delta_num)
                    .attr("xmlns", ns::CONTACT_LIST)
                    .gt();
                for g in added_groups {
                    write_group(&mut w, "addedGroup", g);
                }
                for g in modified_groups {
                    write_group(&mut w, "modifiedGroup", g);
                }
                for c in added_contacts {
                    write_contact(&mut w, "addedContact", c);
                }
                for c in modified_contacts {
                    write_contact(&mut w, "modifiedContact", c);
                }
                for u in deleted_contacts {
                    w.open("deletedContact").attr("uri", u).end_empty();
                }
                for id in deleted_groups {
                    w.open("deletedGroup").num_attr("id", id).end_empty();
                }
                w.close("contactDelta");
            }
        }
    }
}
