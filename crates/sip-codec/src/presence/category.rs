//! Enhanced presence ([MS-PRES]): categories and their publication, containers (the ACL),
//! subscribers, the roaming-self documents and batched subscriptions.

use bytestring::ByteString;

use super::xml::{self, El, W, share};
use super::{Error, Limits, ns};

/// A published category instance as a notification carries it (`<category>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Category {
    /// `state`, `note`, `device`, `contactCard`, `calendarData`...
    pub name: ByteString,
    /// The instance; a category without one clears its name (or its container).
    pub instance: Option<u32>,
    /// The container it was published in.
    pub container: Option<u32>,
    /// The version the server gave it.
    pub version: Option<u32>,
    /// `user`, `device`, `endpoint`, `static` or `time`.
    pub expire_type: Option<ByteString>,
    /// When it was published (xs:dateTime).
    pub publish_time: Option<ByteString>,
    /// Its content: the XML inside the element, as it was published.
    pub content: ByteString,
}

/// `<categories uri=…>`: the categories of one presentity
/// (`application/msrtc-event-categories+xml`, and inside roaming-self).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Categories {
    /// The presentity, with `sip:`.
    pub uri: ByteString,
    /// Its categories.
    pub categories: Vec<Category>,
}

/// A `<publication>` of a category publish.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Publication {
    /// The category name.
    pub category_name: ByteString,
    /// The instance.
    pub instance: u32,
    /// The container it goes to.
    pub container: u32,
    /// The version the publisher last saw (0 for a new instance).
    pub version: u32,
    /// `user`, `device`, `endpoint`, `static` or `time` (default `static`).
    pub expire_type: ByteString,
    /// `expires` in seconds; `Some(0)` removes the instance.
    pub expires: Option<u32>,
    /// The content, as published.
    pub content: ByteString,
}

/// A category publish (`<publish><publications uri=…>`), SERVICE
/// `application/msrtc-category-publish+xml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Publish {
    /// The publisher's address.
    pub uri: ByteString,
    /// The publications, in order (a 409 names them by 1-based index).
    pub publications: Vec<Publication>,
}

/// The content of a `state` category.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct State {
    /// `xsi:type`: `machineState`, `userState`, `calendarState`, `phoneState`, `aggregateState`...
    pub kind: ByteString,
    /// `manual`: set by the user rather than by the machine.
    pub manual: bool,
    /// The availability number ([`Availability::from_number`]).
    pub availability: Option<u32>,
    /// `activity@token` (`in-a-meeting`, `on-the-phone`...).
    pub activity: Option<ByteString>,
}

/// The availability bands of [MS-PRES] 3.7.5.2, as a client shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub enum Availability {
    /// 3000–4499.
    Online,
    /// 4500–5999: online but inactive.
    Idle,
    /// 6000–7499.
    Busy,
    /// 7500–8999: busy and inactive.
    BusyIdle,
    /// 9000–11999.
    DoNotDisturb,
    /// 12000–14999.
    BeRightBack,
    /// 15000–17999.
    Away,
    /// 18000 and above, or below 3000.
    Offline,
}

impl Availability {
    /// The band a number falls in.
    pub fn from_number(n: u32) -> Availability {
        match n {
            3000..=4499 => Availability::Online,
            4500..=5999 => Availability::Idle,
            6000..=7499 => Availability::Busy,
            7500..=8999 => Availability::BusyIdle,
            9000..=11999 => Availability::DoNotDisturb,
            12000..=14999 => Availability::BeRightBack,
            15000..=17999 => Availability::Away,
            _ => Availability::Offline,
        }
    }

    /// The number clients publish for the band (3500, 4500, 6500, 7500, 9500, 12500, 15500,
    /// 18500).
    pub fn number(self) -> u32 {
        match self {
            Availability::Online => 3500,
            Availability::Idle => 4500,
            Availability::Busy => 6500,
            Availability::BusyIdle => 7500,
            Availability::DoNotDisturb => 9500,
            Availability::BeRightBack => 12500,
            Availability::Away => 15500,
            Availability::Offline => 18500,
        }
    }
}

/// A member of a container (`<member type=… value=…>`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Member {
    /// `user`, `domain`, `sameEnterprise`, `federated` or `publicCloud`.
    pub kind: ByteString,
    /// The user (without `sip:`) or domain, for those kinds.
    pub value: Option<ByteString>,
}

/// A container: who may see the categories published in it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Container {
    /// 100 public, 200 company, 300 team, 400 personal, 32000 blocked...
    pub id: u32,
    /// Its version.
    pub version: u32,
    /// Its members.
    pub members: Vec<Member>,
}

/// A subscriber to one's presence (`<subscriber user=…>`), or the acknowledgement of one
/// ([`SetSubscriber`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Subscriber {
    /// The subscriber, without `sip:`.
    pub user: ByteString,
    /// Its display name.
    pub display_name: Option<ByteString>,
    /// Whether the user has seen it ("who added me").
    pub acknowledged: bool,
    /// `sameEnterprise`, `federated`...
    pub kind: Option<ByteString>,
}

/// The request body of a `vnd-microsoft-roaming-self` SUBSCRIBE: which parts are wanted.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RoamingList {
    /// `categories`, `containers`, `subscribers`...
    pub types: Vec<ByteString>,
}

/// The notification body of `vnd-microsoft-roaming-self`: one's own categories, containers
/// and subscribers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RoamingData {
    /// One's own categories, in every container.
    pub categories: Option<Categories>,
    /// The containers with their members, when asked for.
    pub containers: Option<Vec<Container>>,
    /// Who subscribed to one's presence, when asked for.
    pub subscribers: Option<Vec<Subscriber>>,
}

/// A change of one container's members.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ContainerChange {
    /// The container.
    pub id: u32,
    /// The version the client last saw.
    pub version: u32,
    /// The changes.
    pub members: Vec<MemberChange>,
}

/// `<member action="add|remove" type=… value=…>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct MemberChange {
    /// `true` for `add`, `false` for `remove`.
    pub add: bool,
    /// The member.
    pub member: Member,
}

/// `<setContainerMembers>`, SERVICE `application/msrtc-setcontainermembers+xml`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SetContainerMembers {
    /// The changes, per container.
    pub containers: Vec<ContainerChange>,
}

/// `<setSubscribers>`, SERVICE `application/msrtc-presence-setsubscriber+xml`: subscribers the
/// user has seen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SetSubscriber {
    /// The subscribers and their new `acknowledged`.
    pub subscribers: Vec<Subscriber>,
}

/// One `<action>` of a batched subscription.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchAction {
    /// `subscribe` or `unsubscribe`.
    pub name: ByteString,
    /// The action id.
    pub id: ByteString,
    /// The presentities (`adhocList/resource@uri`).
    pub resources: Vec<ByteString>,
    /// The categories asked for (`categoryList/category@name`).
    pub categories: Vec<ByteString>,
}

/// `<batchSub>`, the body of a SUBSCRIBE `presence` with `Require: adhoclist, categoryList`
/// (`application/msrtc-adrl-categorylist+xml`, [MS-PRES] 2.2.2.4).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct BatchSubscribe {
    /// The subscriber.
    pub uri: ByteString,
    /// The list's name (empty for an ad-hoc list).
    pub name: ByteString,
    /// The actions.
    pub actions: Vec<BatchAction>,
}

fn opt_num<T: std::str::FromStr>(
    e: &El<'_>,
    what: &'static str,
    name: &str,
) -> Result<Option<T>, Error> {
    e.num(what, name)
}

fn need_num<T: std::str::FromStr>(
    e: &El<'_>,
    element: &'static str,
    what: &'static str,
    name: &'static str,
) -> Result<T, Error> {
    xml::parse_num(e.need(element, name)?, what, e.offset)
}

fn opt_str(src: &ByteString, e: &El<'_>, name: &str) -> Option<ByteString> {
    e.attr(name).map(|v| share(src, v))
}

fn content(src: &ByteString, e: &El<'_>) -> ByteString {
    share(src, e.inner)
}

impl Category {
    fn from_el(src: &ByteString, e: &El<'_>) -> Result<Category, Error> {
        Ok(Category {
            name: share(src, e.need("category", "name")?),
            instance: opt_num(e, "category instance", "instance")?,
            container: opt_num(e, "category container", "container")?,
            version: opt_num(e, "category version", "version")?,
            expire_type: opt_str(src, e, "expireType"),
            publish_time: opt_str(src, e, "publishTime"),
            content: content(src, e),
        })
    }

    fn write(&self, w: &mut W<'_>) {
        w.open("category").attr("name", &self.name);
        if let Some(i) = self.instance {
            w.num_attr("instance", i);
        }
        w.opt_attr("publishTime", self.publish_time.as_deref());
        if let Some(c) = self.container {
            w.num_attr("container", c);
        }
        if let Some(v) = self.version {
            w.num_attr("version", v);
        }
        w.opt_attr("expireType", self.expire_type.as_deref());
        if self.content.is_empty() {
            w.end_empty();
        } else {
            w.gt().raw(&self.content).close("category");
        }
    }

    /// The `state` inside a `state` category.
    pub fn state(&self, limits: &Limits) -> Result<Option<State>, Error> {
        State::in_content(&self.name, &self.content, limits)
    }
}

impl Categories {
    fn from_el(src: &ByteString, e: &El<'_>) -> Result<Categories, Error> {
        Ok(Categories {
            uri: opt_str(src, e, "uri").unwrap_or_default(),
            categories: e
                .children("category")
                .map(|c| Category::from_el(src, c))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Parses an `application/msrtc-event-categories+xml` document.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<Categories, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "categories")?;
        Categories::from_el(src, &root)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("categories")
            .attr("xmlns", ns::CATEGORIES)
            .attr("uri", &self.uri)
            .gt();
        for c in &self.categories {
            c.write(&mut w);
        }
        w.close("categories");
    }
}

impl Publication {
    /// Whether the content can be relayed to watchers as it is: empty, or one element that
    /// stands alone (every prefix it uses declared in it), without an XML declaration,
    /// processing instruction, comment, CDATA section or `]]>`, within `limits`.
    pub fn check_content(&self, limits: &Limits) -> Result<(), Error> {
        let c = &self.content;
        if c.trim().is_empty() {
            return Ok(());
        }
        if let Some(at) = ["<?", "<!", "]]>"].iter().filter_map(|m| c.find(m)).min() {
            return Err(Error::InvalidValue {
                what: "publication content (declaration, comment, CDATA or \"]]>\")",
                value: c[at..].chars().take(16).collect(),
                offset: at,
            });
        }
        xml::parse(c, limits).map(|_| ())
    }

    /// The `state` inside a `state` publication.
    pub fn state(&self, limits: &Limits) -> Result<Option<State>, Error> {
        State::in_content(&self.category_name, &self.content, limits)
    }
}

impl Publish {
    /// Parses a category publish.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<Publish, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "publish")?;
        let pubs = root.child("publications").ok_or(Error::MissingElement {
            element: "publish",
            child: "publications",
            offset: root.offset,
        })?;
        let mut p = Publish {
            uri: opt_str(src, pubs, "uri").unwrap_or_default(),
            publications: Vec::new(),
        };
        for e in pubs.children("publication") {
            p.publications.push(Publication {
                category_name: share(src, e.need("publication", "categoryName")?),
                instance: need_num(e, "publication", "publication instance", "instance")?,
                container: need_num(e, "publication", "publication container", "container")?,
                version: opt_num(e, "publication version", "version")?.unwrap_or(0),
                expire_type: opt_str(src, e, "expireType")
                    .unwrap_or(ByteString::from_static("static")),
                expires: opt_num(e, "publication expires", "expires")?,
                content: content(src, e),
            });
        }
        Ok(p)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("publish").attr("xmlns", ns::RICH_PRESENCE).gt();
        w.open("publications").attr("uri", &self.uri).gt();
        for p in &self.publications {
            w.open("publication")
                .attr("categoryName", &p.category_name)
                .num_attr("instance", p.instance)
                .num_attr("container", p.container)
                .num_attr("version", p.version)
                .attr("expireType", &p.expire_type);
            if let Some(e) = p.expires {
                w.num_attr("expires", e);
            }
            if p.content.is_empty() {
                w.end_empty();
            } else {
                w.gt().raw(&p.content).close("publication");
            }
        }
        w.close("publications").close("publish");
    }
}

impl State {
    fn in_content(
        name: &str,
        content: &ByteString,
        limits: &Limits,
    ) -> Result<Option<State>, Error> {
        if name != "state" || content.trim().is_empty() {
            return Ok(None);
        }
        State::parse(content, limits).map(Some)
    }

    /// Parses a `<state>` element (a category's content).
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<State, Error> {
        let e = xml::parse(src, limits)?;
        e.expect(None, "state")?;
        Ok(State {
            kind: opt_str(src, &e, "type").unwrap_or_default(),
            manual: e
                .attr("manual")
                .map(|v| xml::parse_bool(v, "state manual", e.offset))
                .transpose()?
                .unwrap_or(false),
            availability: e
                .child("availability")
                .map(|a| xml::parse_num(&a.text, "availability", a.offset))
                .transpose()?,
            activity: e.child("activity").and_then(|a| opt_str(src, a, "token")),
        })
    }

    /// Writes the `<state>` element.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("state")
            .attr("xmlns", ns::STATE)
            .attr("xmlns:xsi", ns::XSI)
            .attr("xsi:type", &self.kind);
        if self.manual {
            w.attr("manual", "true");
        }
        w.gt();
        if let Some(a) = self.availability {
            w.open("availability").gt();
            w.raw(&a.to_string()).close("availability");
        }
        if let Some(t) = &self.activity {
            w.open("activity").attr("token", t).end_empty();
        }
        w.close("state");
    }
}

impl RoamingList {
    /// Parses the SUBSCRIBE body.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<RoamingList, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "roamingList")?;
        Ok(RoamingList {
            types: root
                .children
                .iter()
                .filter(|c| c.name == "roaming" || c.name == "roamingEx")
                .map(|c| c.need("roaming", "type").map(|t| share(src, t)))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Whether a part is asked for.
    pub fn wants(&self, part: &str) -> bool {
        self.types.iter().any(|t| &**t == part)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("roamingList").attr("xmlns", ns::ROAMING_SELF).gt();
        for t in &self.types {
            w.open("roaming").attr("type", t).end_empty();
        }
        w.close("roamingList");
    }
}

fn member(src: &ByteString, e: &El<'_>) -> Result<Member, Error> {
    Ok(Member {
        kind: share(src, e.need("member", "type")?),
        value: opt_str(src, e, "value"),
    })
}

fn write_member(w: &mut W<'_>, action: Option<&str>, m: &Member) {
    w.open("member")
        .opt_attr("action", action)
        .attr("type", &m.kind)
        .opt_attr("value", m.value.as_deref())
        .end_empty();
}

fn subscriber(src: &ByteString, e: &El<'_>) -> Result<Subscriber, Error> {
    Ok(Subscriber {
        user: share(src, e.need("subscriber", "user")?),
        display_name: opt_str(src, e, "displayName"),
        acknowledged: e
            .attr("acknowledged")
            .map(|v| xml::parse_bool(v, "subscriber acknowledged", e.offset))
            .transpose()?
            .unwrap_or(false),
        kind: opt_str(src, e, "type"),
    })
}

fn write_subscriber(w: &mut W<'_>, s: &Subscriber) {
    w.open("subscriber")
        .attr("user", &s.user)
        .opt_attr("displayName", s.display_name.as_deref())
        .attr(
            "acknowledged",
            if s.acknowledged { "true" } else { "false" },
        )
        .opt_attr("type", s.kind.as_deref())
        .end_empty();
}

impl RoamingData {
    /// Parses the notification body.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<RoamingData, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "roamingData")?;
        let mut d = RoamingData::default();
        if let Some(c) = root.child("categories") {
            d.categories = Some(Categories::from_el(src, c)?);
        }
        if let Some(cs) = root.child("containers") {
            let mut out = Vec::new();
            for c in cs.children("container") {
                out.push(Container {
                    id: need_num(c, "container", "container id", "id")?,
                    version: opt_num(c, "container version", "version")?.unwrap_or(0),
                    members: c
                        .children("member")
                        .map(|m| member(src, m))
                        .collect::<Result<_, _>>()?,
                });
            }
            d.containers = Some(out);
        }
        if let Some(s) = root.child("subscribers") {
            d.subscribers = Some(
                s.children("subscriber")
                    .map(|e| subscriber(src, e))
                    .collect::<Result<_, _>>()?,
            );
        }
        Ok(d)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("roamingData").attr("xmlns", ns::ROAMING_SELF).gt();
        if let Some(c) = &self.categories {
            c.write(w.out);
        }
        if let Some(cs) = &self.containers {
            w.open("containers")
                .attr("xmlns", ns::CONTAINER_MANAGEMENT)
                .gt();
            for c in cs {
                w.open("container")
                    .num_attr("id", c.id)
                    .num_attr("version", c.version);
                if c.members.is_empty() {
                    w.end_empty();
                    continue;
                }
                w.gt();
                for m in &c.members {
                    write_member(&mut w, None, m);
                }
                w.close("container");
            }
            w.close("containers");
        }
        if let Some(s) = &self.subscribers {
            w.open("subscribers")
                .attr("xmlns", ns::PRESENCE_SUBSCRIBERS)
                .gt();
            for s in s {
                write_subscriber(&mut w, s);
            }
            w.close("subscribers");
        }
        w.close("roamingData");
    }
}

impl SetContainerMembers {
    /// Parses the SERVICE body.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<SetContainerMembers, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "setContainerMembers")?;
        let mut out = Vec::new();
        for c in root.children("container") {
            let mut members = Vec::new();
            for m in c.children("member") {
                let add = match m.attr("action").map(|a| &**a) {
                    Some("add") => true,
                    Some("remove") => false,
                    other => {
                        return Err(Error::InvalidValue {
                            what: "member action",
                            value: other.unwrap_or("").chars().take(64).collect(),
                            offset: m.offset,
                        });
                    }
                };
                members.push(MemberChange {
                    add,
                    member: member(src, m)?,
                });
            }
            out.push(ContainerChange {
                id: need_num(c, "container", "container id", "id")?,
                version: opt_num(c, "container version", "version")?.unwrap_or(0),
                members,
            });
        }
        Ok(SetContainerMembers { containers: out })
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("setContainerMembers")
            .attr("xmlns", ns::CONTAINER_MANAGEMENT)
            .gt();
        for c in &self.containers {
            w.open("container")
                .num_attr("id", c.id)
                .num_attr("version", c.version)
                .gt();
            for m in &c.members {
                write_member(
                    &mut w,
                    Some(if m.add { "add" } else { "remove" }),
                    &m.member,
                );
            }
            w.close("container");
        }
        w.close("setContainerMembers");
    }
}

impl SetSubscriber {
    /// Parses the SERVICE body.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<SetSubscriber, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "setSubscribers")?;
        Ok(SetSubscriber {
            subscribers: root
                .children("subscriber")
                .map(|e| subscriber(src, e))
                .collect::<Result<_, _>>()?,
        })
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("setSubscribers")
            .attr("xmlns", ns::PRESENCE_SUBSCRIBERS)
            .gt();
        for s in &self.subscribers {
            write_subscriber(&mut w, s);
        }
        w.close("setSubscribers");
    }
}

impl BatchSubscribe {
    /// Parses the SUBSCRIBE body.
    pub fn parse(src: &ByteString, limits: &Limits) -> Result<BatchSubscribe, Error> {
        let root = xml::parse(src, limits)?;
        root.expect(None, "batchSub")?;
        let mut b = BatchSubscribe {
            uri: opt_str(src, &root, "uri").unwrap_or_default(),
            name: opt_str(src, &root, "name").unwrap_or_default(),
            actions: Vec::new(),
        };
        for a in root.children("action") {
            let mut action = BatchAction {
                name: share(src, a.need("action", "name")?),
                id: opt_str(src, a, "id").unwrap_or_default(),
                ..BatchAction::default()
            };
            if let Some(l) = a.child("adhocList") {
                for r in l.children("resource") {
                    action
                        .resources
                        .push(share(src, r.need("resource", "uri")?));
                }
            }
            if let Some(l) = a.child("categoryList") {
                for c in l.children("category") {
                    action
                        .categories
                        .push(share(src, c.need("category", "name")?));
                }
            }
            b.actions.push(action);
        }
        Ok(b)
    }

    /// Writes the document.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut w = W { out };
        w.open("batchSub")
            .attr("xmlns", ns::BATCH_SUBSCRIBE)
            .attr("uri", &self.uri)
            .attr("name", &self.name)
            .gt();
        for a in &self.actions {
            w.open("action")
                .attr("name", &a.name)
                .attr("id", &a.id)
                .gt();
            w.open("adhocList").gt();
            for r in &a.resources {
                w.open("resource").attr("uri", r).end_empty();
            }
            w.close("adhocList");
            w.open("categoryList").attr("xmlns", ns::CATEGORY_LIST).gt();
            for c in &a.categories {
                w.open("category").attr("name", c).end_empty();
            }
            w.close("categoryList").close("action");
        }
        w.close("batchSub");
    }
}

/// The body of a `409 Conflict` to a publish whose versions are stale
/// (`application/msrtc-fault+xml`, [MS-PRES] 2.2.2.10.4): per 1-based publication index, the
/// server's current version.
pub fn write_wrong_delta(out: &mut Vec<u8>, uri: &str, current: &[(usize, u32)]) {
    let mut w = W { out };
    w.open("Fault")
        .attr("xmlns", "http://schemas.microsoft.com/2006/09/sip/error")
        .attr("uri", uri)
        .gt();
    w.leaf("Faultcode", "Client.BadCall.WrongDelta");
    w.leaf("Reason", "Publication version out of date");
    w.open("details").gt();
    for (index, version) in current {
        w.open("operation")
            .num_attr("index", index)
            .num_attr("curVersion", version)
            .end_empty();
    }
    w.close("details").close("Fault");
}
