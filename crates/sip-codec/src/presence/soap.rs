//! The SOAP operations of the contact and presence service ([MS-SIP] 2.2.2, 3.8): SERVICE with
//! `application/SOAP+xml`, each a method element of `http://schemas.microsoft.com/winrtc/2002/11/sip`
//! inside `Envelope/Body`; and the 2005 `text/xml+msrtc.pidf` presentity that `setPresence`
//! carries and 2005 notifications use.

use bytestring::ByteString;

use super::xml::{self, El, W, share};
use super::{Error, Limits, ns};

/// A SOAP request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum Request {
    /// Adds a contact or changes its name, groups or subscription.
    SetContact {
        /// `displayName`.
        display_name: ByteString,
        /// `groups`: space-separated ids.
        groups: Vec<u32>,
        /// `subscribed`.
        subscribed: bool,
        /// `URI`, with `sip:`.
        uri: ByteString,
        /// `externalURI`.
        external_uri: Option<ByteString>,
        /// `deltaNum`: the list version the client last saw.
        delta_num: Option<u32>,
    },
    /// Removes a contact.
    DeleteContact {
        /// `URI`.
        uri: ByteString,
        /// `deltaNum`.
        delta_num: Option<u32>,
    },
    /// Adds a group; the answer carries its id ([`write_add_group_response`]).
    AddGroup {
        /// `name` (`~` for the default group).
        name: ByteString,
        /// `externalURI`.
        external_uri: Option<ByteString>,
        /// `deltaNum`.
        delta_num: Option<u32>,
    },
    /// Renames a group.
    ModifyGroup {
        /// `groupID`.
        group_id: u32,
        /// `name`.
        name: ByteString,
        /// `externalURI`.
        external_uri: Option<ByteString>,
        /// `deltaNum`.
        delta_num: Option<u32>,
    },
    /// Removes a group.
    DeleteGroup {
        /// `groupID`.
        group_id: u32,
        /// `deltaNum`.
        delta_num: Option<u32>,
    },
    /// Sets an access control entry (the 2005 ACL).
    SetAce {
        /// `type`: `USER`, `DOMAIN`, `ALL`.
        kind: ByteString,
        /// `mask`: the user or domain.
        mask: ByteString,
        /// `rights`: `AA` (allow) or `BD` (block).
        rights: ByteString,
        /// `deltaNum`.
        delta_num: Option<u32>,
    },
    /// Searches the user directory.
    DirectorySearch {
        /// `Array/row`: (attribute, value) pairs, all of which must match.
        rows: Vec<(ByteString, ByteString)>,
        /// `maxResults`.
        max_results: Option<u32>,
    },
    /// The 2005 presence publication.
    SetPresence(Presentity),
}

/// A 2005 presentity (`text/xml+msrtc.pidf`, and inside `setPresence`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Presentity {
    /// `uri`.
    pub uri: ByteString,
    /// `availability@aggregate`: 0 offline, 300 online.
    pub availability: Option<u32>,
    /// `activity@aggregate`: 100 away, 150 lunch, 300 be right back, 400 available, 500 on the
    /// phone, 600 busy, 700 do not disturb, 800 in a meeting.
    pub activity: Option<u32>,
    /// `displayName@displayName`.
    pub display_name: Option<ByteString>,
    /// `userInfo/note`.
    pub note: Option<ByteString>,
}

impl Presentity {
    /// The 2007 availability number for the 2005 aggregates.
    pub fn availability_2007(&self) -> u32 {
        match (self.availability, self.activity) {
            (Some(a), _) if a < 300 => 18500,
            (_, Some(..150)) => 15500,
            (_, Some(150..400)) => 12500,
            (_, Some(400..500)) | (_, None) => 3500,
            (_, Some(500..700)) => 6500,
            (_, Some(700..800)) => 9500,
            (_, Some(_)) => 6500,
        }
    }

    fn from_el(src: &ByteString, e: &El<'_>) -> Result<Presentity, Error> {
        let agg = |name: &str| -> Result<Option<u32>, Error> {
            e.child(name)
                .map_or(Ok(None), |c| c.num("aggregate", "aggregate"))
        };
        Ok(Presentity {
            uri: share(src, e.need("presentity", "uri")?),
            availability: agg("availability")?,
            activity: agg("activity")?,
            display_name: e
                .child("displayName")
                .and_then(|d| d.attr("displayName"))
                .map(|v| share(src, v)),
            note: e
                .child("userInfo")
                .and_then(|u| u.child_text("note"))
                .map(|v| share(src, v)),
        })
    }

    /// Parses a `text/xml+msrtc.pidf` document.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<Presentity, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "presentity")?;
        Presentity::from_el(src, &root)
    }

    /// Writes it as a `text/xml+msrtc.pidf` document.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_with(&mut W { out }, "");
    }

    fn write_with(&self, w: &mut W<'_>, p: &str) {
        let tag = |n: &str| format!("{p}{n}");
        let attr = |n: &str| format!("{p}{n}");
        w.open(&tag("presentity"))
            .attr(&attr("uri"), &self.uri)
            .gt();
        if let Some(a) = self.availability {
            w.open(&tag("availability"))
                .num_attr(&attr("aggregate"), a)
                .end_empty();
        }
        if let Some(a) = self.activity {
            w.open(&tag("activity"))
                .num_attr(&attr("aggregate"), a)
                .end_empty();
        }
        if let Some(d) = &self.display_name {
            w.open(&tag("displayName"))
                .attr(&attr("displayName"), d)
                .end_empty();
        }
        if let Some(n) = &self.note {
            w.open(&tag("userInfo"))
                .gt()
                .leaf(&tag("note"), n)
                .close(&tag("userInfo"));
        }
        w.close(&tag("presentity"));
    }
}

fn leaf_num(e: &El<'_>, name: &'static str, what: &'static str) -> Result<Option<u32>, Error> {
    e.child(name)
        .map(|c| xml::parse_num(&c.text, what, c.offset))
        .transpose()
}

fn need_leaf<'s, 'a>(
    e: &'s El<'a>,
    element: &'static str,
    child: &'static str,
) -> Result<&'s El<'a>, Error> {
    e.child(child).ok_or(Error::MissingElement {
        element,
        child,
        offset: e.offset,
    })
}

fn opt_text(src: &ByteString, e: &El<'_>, name: &str) -> Option<ByteString> {
    e.child_text(name)
        .map(|t| share(src, t))
        .filter(|t| !t.is_empty())
}

impl Request {
    /// Parses a SOAP envelope holding one operation.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<Request, Error> {
        let env = xml::parse(src, limits)?;
        env.expect(None, "Envelope")?;
        let body = need_leaf(&env, "Envelope", "Body")?;
        let Some(op) = body.children.first() else {
            return Err(Error::MissingElement {
                element: "Body",
                child: "operation",
                offset: body.offset,
            });
        };
        let delta_num = leaf_num(op, "deltaNum", "deltaNum")?;
        let text = |name: &'static str| -> Result<ByteString, Error> {
            Ok(share(src, &need_leaf(op, op_name(op.name), name)?.text))
        };
        let id = |name: &'static str| -> Result<u32, Error> {
            let c = need_leaf(op, op_name(op.name), name)?;
            xml::parse_num(&c.text, "groupID", c.offset)
        };
        Ok(match op.name {
            "setContact" => Request::SetContact {
                display_name: opt_text(src, op, "displayName").unwrap_or_default(),
                groups: op
                    .child_text("groups")
                    .map(|g| {
                        g.split_ascii_whitespace()
                            .map(|i| xml::parse_num(i, "groups", op.offset))
                            .collect::<Result<Vec<u32>, _>>()
                    })
                    .transpose()?
                    .unwrap_or_default(),
                subscribed: op
                    .child("subscribed")
                    .map(|s| xml::parse_bool(&s.text, "subscribed", s.offset))
                    .transpose()?
                    .unwrap_or(true),
                uri: text("URI")?,
                external_uri: opt_text(src, op, "externalURI"),
                delta_num,
            },
            "deleteContact" => Request::DeleteContact {
                uri: text("URI")?,
                delta_num,
            },
            "addGroup" => Request::AddGroup {
                name: text("name")?,
                external_uri: opt_text(src, op, "externalURI"),
                delta_num,
            },
            "modifyGroup" => Request::ModifyGroup {
                group_id: id("groupID")?,
                name: text("name")?,
                external_uri: opt_text(src, op, "externalURI"),
                delta_num,
            },
            "deleteGroup" => Request::DeleteGroup {
                group_id: id("groupID")?,
                delta_num,
            },
            "setACE" => Request::SetAce {
                kind: text("type")?,
                mask: text("mask")?,
                rights: text("rights")?,
                delta_num,
            },
            "directorySearch" => {
                let mut rows = Vec::new();
                // The filter points at an Array beside the operation (`m:href="#id"`).
                for arr in body.children("Array") {
                    for r in arr.children("row") {
                        rows.push((
                            share(src, r.need("row", "attrib")?),
                            share(src, r.need("row", "value")?),
                        ));
                    }
                }
                Request::DirectorySearch {
                    rows,
                    max_results: leaf_num(op, "maxResults", "maxResults")?,
                }
            }
            "setPresence" => {
                let p = need_leaf(op, "setPresence", "presentity")?;
                Request::SetPresence(Presentity::from_el(src, p)?)
            }
            other => {
                return Err(Error::InvalidValue {
                    what: "SOAP operation",
                    value: other.chars().take(64).collect(),
                    offset: op.offset,
                });
            }
        })
    }

    /// The operation's name (`setContact`, `addGroup`...).
    pub fn name(&self) -> &'static str {
        match self {
            Request::SetContact { .. } => "setContact",
            Request::DeleteContact { .. } => "deleteContact",
            Request::AddGroup { .. } => "addGroup",
            Request::ModifyGroup { .. } => "modifyGroup",
            Request::DeleteGroup { .. } => "deleteGroup",
            Request::SetAce { .. } => "setACE",
            Request::DirectorySearch { .. } => "directorySearch",
            Request::SetPresence(_) => "setPresence",
        }
    }

    /// Writes the envelope, as a client sends it.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        open_envelope(&mut w);
        let name = format!("m:{}", self.name());
        w.open(&name).gt();
        let delta = match self {
            Request::SetContact {
                display_name,
                groups,
                subscribed,
                uri,
                external_uri,
                delta_num,
            } => {
                w.leaf("m:displayName", display_name);
                let g: Vec<String> = groups.iter().map(u32::to_string).collect();
                w.leaf("m:groups", &g.join(" "));
                w.leaf("m:subscribed", if *subscribed { "true" } else { "false" });
                w.leaf("m:URI", uri);
                w.leaf("m:externalURI", external_uri.as_deref().unwrap_or(""));
                delta_num
            }
            Request::DeleteContact { uri, delta_num } => {
                w.leaf("m:URI", uri);
                delta_num
            }
            Request::AddGroup {
                name,
                external_uri,
                delta_num,
            } => {
                w.leaf("m:name", name);
                w.leaf("m:externalURI", external_uri.as_deref().unwrap_or(""));
                delta_num
            }
            Request::ModifyGroup {
                group_id,
                name,
                external_uri,
                delta_num,
            } => {
                w.leaf("m:groupID", &group_id.to_string());
                w.leaf("m:name", name);
                w.leaf("m:externalURI", external_uri.as_deref().unwrap_or(""));
                delta_num
            }
            Request::DeleteGroup {
                group_id,
                delta_num,
            } => {
                w.leaf("m:groupID", &group_id.to_string());
                delta_num
            }
            Request::SetAce {
                kind,
                mask,
                rights,
                delta_num,
            } => {
                w.leaf("m:type", kind)
                    .leaf("m:mask", mask)
                    .leaf("m:rights", rights);
                delta_num
            }
            Request::DirectorySearch { rows, max_results } => {
                w.open("m:filter")
                    .attr("m:href", "#searchArray")
                    .end_empty();
                if let Some(m) = max_results {
                    w.leaf("m:maxResults", &m.to_string());
                }
                w.close(&name);
                w.open("m:Array").attr("m:id", "searchArray").gt();
                for (a, v) in rows {
                    w.open("m:row")
                        .attr("m:attrib", a)
                        .attr("m:value", v)
                        .end_empty();
                }
                w.close("m:Array");
                close_envelope(&mut w);
                return;
            }
            Request::SetPresence(p) => {
                p.write_with(&mut w, "m:");
                &None
            }
        };
        if let Some(d) = delta {
            w.leaf("m:deltaNum", &d.to_string());
        }
        w.close(&name);
        close_envelope(&mut w);
    }
}

fn op_name(n: &str) -> &'static str {
    match n {
        "setContact" => "setContact",
        "deleteContact" => "deleteContact",
        "addGroup" => "addGroup",
        "modifyGroup" => "modifyGroup",
        "deleteGroup" => "deleteGroup",
        "setACE" => "setACE",
        _ => "operation",
    }
}

fn open_envelope(w: &mut W<'_>) {
    w.open("SOAP-ENV:Envelope")
        .attr("xmlns:SOAP-ENV", ns::SOAP_ENV)
        .attr("xmlns:m", ns::WINRTC_SIP)
        .gt();
    w.open("SOAP-ENV:Body").gt();
}

fn close_envelope(w: &mut W<'_>) {
    w.close("SOAP-ENV:Body").close("SOAP-ENV:Envelope");
}

/// The body of the `200 OK` to `addGroup`: the new group's id (clients read
/// `Body/addGroup/groupID`) and the list's new version.
pub fn write_add_group_response(out: &mut Vec<u8>, group_id: u32, delta_num: u32) {
    let mut w = W { out };
    open_envelope(&mut w);
    w.open("m:addGroup").gt();
    w.leaf("m:groupID", &group_id.to_string());
    w.leaf("m:deltaNum", &delta_num.to_string());
    w.close("m:addGroup");
    close_envelope(&mut w);
}

/// One entry of a directory search answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DirectoryEntry<'a> {
    /// The SIP URI, with `sip:`.
    pub uri: &'a str,
    /// The display name.
    pub display_name: &'a str,
    /// The e-mail address.
    pub email: &'a str,
    /// The company.
    pub company: &'a str,
    /// The country.
    pub country: &'a str,
}

/// The body of the `200 OK` to `directorySearch` (clients read `Body/Array/row` and
/// `Body/directorySearch/moreAvailable`).
pub fn write_directory_search_response(
    out: &mut Vec<u8>,
    rows: &[DirectoryEntry<'_>],
    more_available: bool,
) {
    let mut w = W { out };
    open_envelope(&mut w);
    w.open("m:directorySearch").gt();
    w.leaf(
        "m:moreAvailable",
        if more_available { "true" } else { "false" },
    );
    w.open("m:returned")
        .attr("m:href", "#searchResults")
        .end_empty();
    w.close("m:directorySearch");
    w.open("m:Array").attr("m:id", "searchResults").gt();
    for r in rows {
        w.open("m:row")
            .attr("m:uri", r.uri)
            .attr("m:displayName", r.display_name)
            .attr("m:email", r.email)
            .attr("m:company", r.company)
            .attr("m:country", r.country)
            .end_empty();
    }
    w.close("m:Array");
    close_envelope(&mut w);
}
