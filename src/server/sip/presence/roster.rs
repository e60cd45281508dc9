//! One user's presence state: the contact list with its groups, the containers (who sees
//! what), the subscribers ("who added me"), the published categories, and the aggregated
//! availability computed from them ([MS-PRES] 3.7.5).

use std::collections::BTreeMap;

use bytestring::ByteString;

use crate::sip::presence::{
    self as doc, Availability, Categories, Category, ContactList, Container, Limits, Member,
    Publish, RoamingData, SetContainerMembers, State, Subscriber, soap,
};

/// The containers a new user starts with, as Communicator 2007 expects them: company (200)
/// for colleagues of the same enterprise, public (100) for federated users, team (300) and
/// personal (400) empty, blocked (32000).
const DEFAULT_CONTAINERS: [(u32, Option<&str>); 5] = [
    (100, Some("federated")),
    (200, Some("sameEnterprise")),
    (300, None),
    (400, None),
    (32000, None),
];
/// The containers whose categories others may see ([MS-PRES] 3.7.4.1: 0-3 are the user's own
/// and the aggregation containers).
pub(super) const ACCESS_LEVELS: [u32; 5] = [32000, 400, 300, 200, 100];
/// What blocked watchers see.
pub(super) const BLOCKED: u32 = 32000;
/// The instance of the server's aggregated `state` in each container.
const AGGREGATE_INSTANCE: u32 = 1;
/// The user-state instance Communicator publishes (a static instance, [MS-PRES] 3.7.5.2).
const USER_STATE_INSTANCE: u32 = 0x2000_0000;

/// How long a publication lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Expiry {
    /// Until removed (kept on disk).
    Static,
    /// While the user has an endpoint signed in.
    User,
    /// While the publishing endpoint is signed in.
    Endpoint,
    /// Until a time (Unix seconds).
    Until(u64),
}

impl Expiry {
    fn of(expire_type: &str, expires: Option<u32>, now: u64) -> Expiry {
        match expire_type {
            "static" => Expiry::Static,
            "user" => Expiry::User,
            "time" => Expiry::Until(now + u64::from(expires.unwrap_or(3600))),
            _ => Expiry::Endpoint,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Expiry::Static => "static",
            Expiry::User => "user",
            Expiry::Endpoint => "endpoint",
            Expiry::Until(_) => "time",
        }
    }
}

/// A published category instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Publication {
    pub(super) version: u32,
    pub(super) expiry: Expiry,
    /// The endpoint that published it (From `epid`).
    pub(super) epid: Option<String>,
    pub(super) content: ByteString,
    /// Unix seconds.
    pub(super) time: u64,
    /// For a `state` category, its `xsi:type` and availability, read once when published
    /// (the aggregate is computed from them on every change and sweep).
    pub(super) state: Option<(ByteString, u32)>,
}

/// The `state` a publication's content holds, if it is one with an availability.
fn state_of(name: &str, content: &ByteString) -> Option<(ByteString, u32)> {
    if name != "state" {
        return None;
    }
    let st = State::parse(content, &Limits::default()).ok()?;
    Some((ByteString::from(&*st.kind), st.availability?))
}

/// A container's members: (type, value).
pub(super) type Members = Vec<(String, Option<String>)>;

/// What one contact-list operation changed.
#[derive(Default)]
struct Changes {
    added_groups: Vec<doc::Group>,
    modified_groups: Vec<doc::Group>,
    deleted_groups: Vec<u32>,
    added_contacts: Vec<doc::Contact>,
    modified_contacts: Vec<doc::Contact>,
    deleted_contacts: Vec<ByteString>,
}

/// (category name, instance, container).
pub(super) type PubKey = (String, u32, u32);

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct ContactEntry {
    pub(super) name: String,
    pub(super) groups: Vec<u32>,
    pub(super) subscribed: bool,
}

/// One user's state; see the [module documentation](self).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Roaming {
    pub(super) delta: u32,
    pub(super) groups: BTreeMap<u32, String>,
    /// By `sip:` URI, lower case.
    pub(super) contacts: BTreeMap<String, ContactEntry>,
    /// Container id → (version, members as (type, value)).
    pub(super) containers: BTreeMap<u32, (u32, Members)>,
    /// User (no `sip:`) → (display name, acknowledged).
    pub(super) subscribers: BTreeMap<String, (Option<String>, bool)>,
    pub(super) pubs: BTreeMap<PubKey, Publication>,
    /// The aggregated availability last computed, and the version of its category.
    pub(super) aggregate: (u32, u32),
}

impl Default for Roaming {
    fn default() -> Self {
        Roaming {
            delta: 1,
            groups: BTreeMap::new(),
            contacts: BTreeMap::new(),
            containers: DEFAULT_CONTAINERS
                .iter()
                .map(|&(id, m)| {
                    (
                        id,
                        (0, m.map(|t| (t.to_owned(), None)).into_iter().collect()),
                    )
                })
                .collect(),
            subscribers: BTreeMap::new(),
            pubs: BTreeMap::new(),
            aggregate: (Availability::Offline.number(), 0),
        }
    }
}

/// Why an operation on the contact list was refused: the SIP status and reason.
pub(super) type Refusal = (u16, &'static str);

/// What a contact-list operation changed, as the delta clients get.
pub(super) type Delta = ContactList;

fn bs(s: &str) -> ByteString {
    ByteString::from(s)
}

/// `sip:user@domain` from a URI written with or without `sip:`, the host in lower case (the
/// user part is case-sensitive, RFC 3261 §19.1.4, as the registrar keeps it).
pub(super) fn sip_uri(u: &str) -> String {
    let u = u.trim();
    let bare = if u.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sip:")) {
        &u[4..]
    } else {
        u
    };
    match bare.rsplit_once('@') {
        Some((user, host)) => format!("sip:{user}@{}", host.to_ascii_lowercase()),
        None => format!("sip:{bare}"),
    }
}

impl Roaming {
    fn contact_doc(&self, uri: &str, full: bool) -> doc::Contact {
        let c = self.contacts.get(uri).cloned().unwrap_or_default();
        doc::Contact {
            uri: bs(if full {
                uri.trim_start_matches("sip:")
            } else {
                uri
            }),
            name: bs(&c.name),
            groups: c.groups,
            subscribed: c.subscribed,
            externals: None,
        }
    }

    /// The whole list (contact URIs without `sip:`, as clients read a `contactList`).
    pub(super) fn contact_list(&self) -> ContactList {
        ContactList::Full {
            delta_num: self.delta,
            groups: self
                .groups
                .iter()
                .map(|(&id, name)| doc::Group {
                    id,
                    name: bs(name),
                    externals: None,
                })
                .collect(),
            contacts: self
                .contacts
                .keys()
                .map(|u| self.contact_doc(u, true))
                .collect(),
        }
    }

    /// Applies a SOAP contact-list operation; the delta to send, and for `addGroup` the new
    /// group's id.
    pub(super) fn apply(
        &mut self,
        op: &soap::Request,
        max_contacts: usize,
        max_groups: usize,
    ) -> Result<(Option<Delta>, Option<u32>), Refusal> {
        let prev = self.delta;
        let mut ch = Changes::default();
        let mut new_group = None;
        match op {
            soap::Request::SetContact {
                display_name,
                groups,
                subscribed,
                uri,
                ..
            } => {
                let key = sip_uri(uri);
                if !key.contains('@') || key.len() > 256 {
                    return Err((400, "Bad Request"));
                }
                let is_new = !self.contacts.contains_key(&key);
                if is_new && self.contacts.len() >= max_contacts {
                    return Err((403, "Forbidden"));
                }
                let mut gs: Vec<u32> = groups
                    .iter()
                    .copied()
                    .filter(|g| self.groups.contains_key(g))
                    .collect();
                gs.sort_unstable();
                gs.dedup();
                if gs.is_empty() {
                    gs.extend(self.default_group());
                }
                self.contacts.insert(
                    key.clone(),
                    ContactEntry {
                        name: display_name.chars().take(256).collect(),
                        groups: gs,
                        subscribed: *subscribed,
                    },
                );
                let c = self.contact_doc(&key, false);
                if is_new {
                    ch.added_contacts.push(c)
                } else {
                    ch.modified_contacts.push(c)
                }
            }
            soap::Request::DeleteContact { uri, .. } => {
                let key = sip_uri(uri);
                if self.contacts.remove(&key).is_none() {
                    return Err((404, "Not Found"));
                }
                ch.deleted_contacts.push(bs(&key));
            }
            soap::Request::AddGroup { name, .. } => {
                if name.is_empty() || name.len() > 256 {
                    return Err((400, "Bad Request"));
                }
                if let Some((&id, _)) = self.groups.iter().find(|(_, n)| n.as_str() == &**name) {
                    // Asked again (the answer was lost): the same group, nothing changed.
                    return Ok((None, Some(id)));
                }
                if self.groups.len() >= max_groups {
                    return Err((403, "Forbidden"));
                }
                let Some(id) = self
                    .groups
                    .keys()
                    .next_back()
                    .map_or(Some(1), |m| m.checked_add(1))
                else {
                    return Err((403, "Forbidden"));
                };
                self.groups.insert(id, name.to_string());
                ch.added_groups.push(doc::Group {
                    id,
                    name: name.clone(),
                    externals: None,
                });
                new_group = Some(id);
            }
            soap::Request::ModifyGroup { group_id, name, .. } => {
                let Some(g) = self.groups.get_mut(group_id) else {
                    return Err((404, "Not Found"));
                };
                if name.is_empty() || name.len() > 256 {
                    return Err((400, "Bad Request"));
                }
                *g = name.to_string();
                ch.modified_groups.push(doc::Group {
                    id: *group_id,
                    name: name.clone(),
                    externals: None,
                });
            }
            soap::Request::DeleteGroup { group_id, .. } => {
                // The default group ("Other Contacts") stays, as on OCS.
                if Some(*group_id) == self.default_group() {
                    return Err((403, "Forbidden"));
                }
                if self.groups.remove(group_id).is_none() {
                    return Err((404, "Not Found"));
                }
                // Its contacts leave it first (as OCS tells clients: modifiedContact, then
                // deletedGroup); one left in no group goes to the default group, or away.
                let fallback = self.default_group();
                let touched: Vec<String> = self
                    .contacts
                    .iter()
                    .filter(|(_, c)| c.groups.contains(group_id))
                    .map(|(u, _)| u.clone())
                    .collect();
                for u in touched {
                    let Some(c) = self.contacts.get_mut(&u) else {
                        continue;
                    };
                    c.groups.retain(|g| g != group_id);
                    if c.groups.is_empty() {
                        match fallback {
                            Some(f) => c.groups.push(f),
                            None => {
                                self.contacts.remove(&u);
                                ch.deleted_contacts.push(bs(&u));
                                continue;
                            }
                        }
                    }
                    ch.modified_contacts.push(self.contact_doc(&u, false));
                }
                ch.deleted_groups.push(*group_id);
            }
            _ => return Err((501, "Not Implemented")),
        }
        self.delta = self.delta.wrapping_add(1);
        Ok((Some(self.delta_doc(prev, ch)), new_group))
    }

    fn delta_doc(&self, prev: u32, ch: Changes) -> Delta {
        ContactList::Delta {
            delta_num: self.delta,
            prev_delta_num: prev,
            added_groups: ch.added_groups,
            modified_groups: ch.modified_groups,
            deleted_groups: ch.deleted_groups,
            added_contacts: ch.added_contacts,
            modified_contacts: ch.modified_contacts,
            deleted_contacts: ch.deleted_contacts,
        }
    }

    /// The default group (`~`, "Other Contacts"), if the list has one.
    fn default_group(&self) -> Option<u32> {
        self.groups
            .iter()
            .find(|(_, n)| n.starts_with('~'))
            .map(|(&id, _)| id)
    }

    /// Applies a category publish from endpoint `epid` at `now` (Unix seconds), all or
    /// nothing: the (1-based index, current version) of every publication whose version is
    /// stale ([MS-PRES] 3.7.5.2: the client must present the current version; 0 for a new
    /// instance).
    /// At most `max` instances and `max_bytes` of content in all: past either, `Err` with no
    /// stale version (the caller answers 403).
    pub(super) fn publish(
        &mut self,
        p: &Publish,
        epid: Option<&str>,
        now: u64,
        (max, max_bytes): (usize, usize),
    ) -> Result<(), Vec<(usize, u32)>> {
        let mut stale = Vec::new();
        for (i, pb) in p.publications.iter().enumerate() {
            let key = (pb.category_name.to_string(), pb.instance, pb.container);
            let cur = self.pubs.get(&key).map_or(0, |x| x.version);
            if pb.version != cur {
                stale.push((i + 1, cur));
            }
        }
        let new = p
            .publications
            .iter()
            .filter(|pb| pb.expires != Some(0))
            .filter(|pb| {
                !self
                    .pubs
                    .contains_key(&(pb.category_name.to_string(), pb.instance, pb.container))
            })
            .count();
        if !stale.is_empty() || self.pubs.len() + new > max {
            return Err(stale);
        }
        // The same instance twice in one request would pass the version check twice.
        let mut keys: Vec<(&str, u32, u32)> = p
            .publications
            .iter()
            .map(|pb| (&*pb.category_name, pb.instance, pb.container))
            .collect();
        keys.sort_unstable();
        if keys.windows(2).any(|w| w[0] == w[1]) {
            return Err(Vec::new());
        }
        let replaced: usize = p
            .publications
            .iter()
            .filter_map(|pb| {
                self.pubs
                    .get(&(pb.category_name.to_string(), pb.instance, pb.container))
            })
            .map(|x| x.content.len())
            .sum();
        let added: usize = p
            .publications
            .iter()
            .filter(|pb| pb.expires != Some(0))
            .map(|pb| pb.content.len())
            .sum();
        let held: usize = self.pubs.values().map(|x| x.content.len()).sum();
        if held - replaced.min(held) + added > max_bytes {
            return Err(Vec::new());
        }
        for pb in &p.publications {
            let key = (pb.category_name.to_string(), pb.instance, pb.container);
            if pb.expires == Some(0) {
                self.pubs.remove(&key);
                continue;
            }
            self.pubs.insert(
                key,
                Publication {
                    version: pb.version.wrapping_add(1),
                    expiry: Expiry::of(&pb.expire_type, pb.expires, now),
                    epid: epid.map(str::to_owned),
                    // A copy: a view would keep the whole request's buffer alive with it.
                    content: ByteString::from(&*pb.content),
                    time: now,
                    state: state_of(&pb.category_name, &pb.content),
                },
            );
        }
        Ok(())
    }

    /// Applies ACL changes; whether any container changed (each changed one gets a new
    /// version). Versions are not enforced: the client learns the result from roaming-self.
    pub(super) fn set_members(&mut self, c: &SetContainerMembers) -> bool {
        let mut changed = false;
        for ch in &c.containers {
            if !ACCESS_LEVELS.contains(&ch.id) {
                continue;
            }
            let entry = self.containers.entry(ch.id).or_insert((0, Vec::new()));
            let mut touched = false;
            for m in &ch.members {
                // The member kinds of [MS-PRES] 2.2.2.3, a user or domain named (briefly).
                let named = matches!(&*m.member.kind, "user" | "domain");
                let known = named
                    || matches!(
                        &*m.member.kind,
                        "sameEnterprise" | "federated" | "publicCloud" | "everyone"
                    );
                let value_ok = m
                    .member
                    .value
                    .as_ref()
                    .map_or(!named, |v| !v.is_empty() && v.len() <= 256);
                if !known || !value_ok {
                    continue;
                }
                let member = (
                    m.member.kind.to_string(),
                    m.member
                        .value
                        .as_deref()
                        .map(|v| v.trim_start_matches("sip:").to_ascii_lowercase()),
                );
                let has = entry.1.contains(&member);
                if m.add && !has && entry.1.len() < 1000 {
                    entry.1.push(member);
                    touched = true;
                } else if !m.add && has {
                    entry.1.retain(|x| *x != member);
                    touched = true;
                }
            }
            if touched {
                entry.0 = entry.0.wrapping_add(1);
                changed = true;
            }
        }
        changed
    }

    /// The container whose categories `watcher` (a `sip:` URI) sees: the most specific
    /// membership wins (user, then domain, then same enterprise or federated, then everyone),
    /// the highest container among equals ([MS-PRES] 3.7.4.1); 0 when none holds it.
    pub(super) fn level(&self, watcher: &str, our_domain: &str) -> u32 {
        let user = watcher.trim_start_matches("sip:");
        let domain = user.rsplit_once('@').map_or("", |(_, d)| d);
        let ours = domain.eq_ignore_ascii_case(our_domain);
        let rank = |kind: &str, value: Option<&str>| -> Option<u8> {
            match (kind, value) {
                ("user", Some(v)) if v.eq_ignore_ascii_case(user) => Some(5),
                ("domain", Some(v)) if v.eq_ignore_ascii_case(domain) => Some(4),
                ("sameEnterprise", _) if ours => Some(3),
                ("federated", _) if !ours => Some(3),
                ("everyone", _) => Some(1),
                _ => None,
            }
        };
        let mut best = (0u8, 0u32);
        for (&id, (_, members)) in &self.containers {
            for (k, v) in members {
                if let Some(r) = rank(k, v.as_deref())
                    && (r, id) > best
                {
                    best = (r, id);
                }
            }
        }
        best.1
    }

    /// The aggregated availability ([MS-PRES] 3.7.5.2): the most active machine state of the
    /// signed-in endpoints; a user state set by hand overrides it, turned idle by an idle
    /// machine (online → idle, busy → busy-idle); a calendar or phone state raises it to its
    /// own when no user state is set. Offline without an endpoint.
    pub(super) fn compute_aggregate(&self, online: bool) -> u32 {
        if !online {
            return Availability::Offline.number();
        }
        let mut machine: Option<u32> = None;
        let mut user: Option<(u64, u32)> = None;
        let mut activity: Option<u32> = None;
        for ((name, instance, container), p) in &self.pubs {
            let (Some((kind, a)), true) = (&p.state, name == "state" && *container == 2) else {
                continue;
            };
            let a = *a;
            match &**kind {
                "machineState" => machine = Some(machine.map_or(a, |m| m.min(a))),
                "userState" => {
                    if user.is_none_or(|(t, _)| p.time >= t) {
                        user = Some((p.time, a));
                    }
                }
                _ if *instance == USER_STATE_INSTANCE => user = Some((p.time, a)),
                _ => activity = Some(activity.map_or(a, |x| x.max(a))),
            }
        }
        let machine_band = machine.map(Availability::from_number);
        let idle = matches!(
            machine_band,
            Some(Availability::Idle | Availability::BusyIdle)
        );
        let away = matches!(
            machine_band,
            Some(Availability::Away | Availability::BeRightBack)
        );
        match user.map(|(_, a)| a) {
            Some(u) => match Availability::from_number(u) {
                Availability::Online if idle => Availability::Idle.number(),
                Availability::Online if away => Availability::Away.number(),
                Availability::Busy if idle || away => Availability::BusyIdle.number(),
                _ => u,
            },
            None => {
                let base = machine.unwrap_or(Availability::Online.number());
                activity.map_or(base, |a| base.max(a))
            }
        }
    }

    fn aggregate_category(&self, container: u32, availability: u32) -> Category {
        let mut content = Vec::new();
        State {
            kind: ByteString::from_static("aggregateState"),
            manual: false,
            availability: Some(availability),
            activity: None,
        }
        .write(&mut content);
        Category {
            name: ByteString::from_static("state"),
            instance: Some(AGGREGATE_INSTANCE),
            container: Some(container),
            version: Some(self.aggregate.1),
            expire_type: Some(ByteString::from_static("user")),
            publish_time: None,
            content: ByteString::try_from(content).unwrap_or_default(),
        }
    }

    fn category(key: &PubKey, p: &Publication) -> Category {
        Category {
            name: bs(&key.0),
            instance: Some(key.1),
            container: Some(key.2),
            version: Some(p.version),
            expire_type: Some(ByteString::from_static(p.expiry.name())),
            publish_time: Some(bs(&iso8601(p.time))),
            content: p.content.clone(),
        }
    }

    /// What a watcher at `level` sees of this user (`uri`): the categories published in that
    /// container and the aggregated state; blocked watchers see only "offline".
    pub(super) fn view(&self, uri: &str, level: u32) -> Categories {
        let mut categories = Vec::new();
        if level == BLOCKED {
            categories.push(self.aggregate_category(level, Availability::Offline.number()));
        } else {
            categories.push(self.aggregate_category(level, self.aggregate.0));
            for (k, p) in &self.pubs {
                if k.2 == level && !(k.0 == "state" && k.1 == AGGREGATE_INSTANCE) {
                    categories.push(Self::category(k, p));
                }
            }
        }
        Categories {
            uri: bs(uri),
            categories,
        }
    }

    /// The user's own roaming-self data: every category with its version (the aggregated state
    /// in the user's own container 2), the containers, the subscribers.
    pub(super) fn roaming_data(&self, uri: &str, want: &doc::RoamingList) -> RoamingData {
        let all = want.types.is_empty();
        let mut d = RoamingData::default();
        if all || want.wants("categories") {
            let mut categories = vec![self.aggregate_category(2, self.aggregate.0)];
            categories.extend(self.pubs.iter().map(|(k, p)| Self::category(k, p)));
            d.categories = Some(Categories {
                uri: bs(uri),
                categories,
            });
        }
        if all || want.wants("containers") {
            d.containers = Some(self.containers_doc());
        }
        if all || want.wants("subscribers") {
            d.subscribers = Some(
                self.subscribers
                    .iter()
                    .map(|(u, (name, ack))| Subscriber {
                        user: bs(u),
                        display_name: name.as_deref().map(bs),
                        acknowledged: *ack,
                        kind: Some(ByteString::from_static("sameEnterprise")),
                    })
                    .collect(),
            );
        }
        d
    }

    fn containers_doc(&self) -> Vec<Container> {
        self.containers
            .iter()
            .map(|(&id, (version, members))| Container {
                id,
                version: *version,
                members: members
                    .iter()
                    .map(|(k, v)| Member {
                        kind: bs(k),
                        value: v.as_deref().map(bs),
                    })
                    .collect(),
            })
            .collect()
    }

    /// Removes what ends with endpoint `epid` (or, with `None`, with the user's last
    /// endpoint: endpoint and user publications); whether anything went.
    pub(super) fn end_endpoint(&mut self, epid: Option<&str>) -> bool {
        let before = self.pubs.len();
        self.pubs.retain(|_, p| match epid {
            Some(e) => !(p.expiry == Expiry::Endpoint && p.epid.as_deref() == Some(e)),
            None => !matches!(p.expiry, Expiry::Endpoint | Expiry::User),
        });
        self.pubs.len() != before
    }

    /// Removes timed publications past `now`; whether any went.
    pub(super) fn expire(&mut self, now: u64) -> bool {
        let before = self.pubs.len();
        self.pubs
            .retain(|_, p| !matches!(p.expiry, Expiry::Until(t) if t <= now));
        self.pubs.len() != before
    }

    /// What the store keeps: the contact list, and the containers, subscribers and static
    /// categories, as the documents clients get.
    pub(super) fn to_store(&self, uri: &str) -> (String, String) {
        let mut contacts = Vec::new();
        self.contact_list().write(&mut contacts);
        let mut d = RoamingData {
            categories: Some(Categories {
                uri: bs(uri),
                categories: self
                    .pubs
                    .iter()
                    .filter(|(_, p)| p.expiry == Expiry::Static)
                    .map(|(k, p)| Self::category(k, p))
                    .collect(),
            }),
            containers: Some(self.containers_doc()),
            subscribers: None,
        };
        d.subscribers = self
            .roaming_data(
                uri,
                &doc::RoamingList {
                    types: vec![ByteString::from_static("subscribers")],
                },
            )
            .subscribers;
        let mut data = Vec::new();
        d.write(&mut data);
        (
            String::from_utf8(contacts).unwrap_or_default(),
            String::from_utf8(data).unwrap_or_default(),
        )
    }

    /// Reads back what [`Roaming::to_store`] wrote.
    pub(super) fn from_store(
        contacts: &str,
        data: &str,
        limits: &Limits,
    ) -> Result<Roaming, doc::Error> {
        let mut r = Roaming::default();
        if let ContactList::Full {
            delta_num,
            groups,
            contacts,
        } = ContactList::parse(&bs(contacts), limits)?
        {
            r.delta = delta_num;
            r.groups = groups
                .into_iter()
                .map(|g| (g.id, g.name.to_string()))
                .collect();
            r.contacts = contacts
                .into_iter()
                .map(|c| {
                    (
                        sip_uri(&c.uri),
                        ContactEntry {
                            name: c.name.to_string(),
                            groups: c.groups,
                            subscribed: c.subscribed,
                        },
                    )
                })
                .collect();
        }
        let d = RoamingData::parse(&bs(data), limits)?;
        if let Some(cs) = d.containers {
            r.containers = cs
                .into_iter()
                .map(|c| {
                    let members = c
                        .members
                        .into_iter()
                        .map(|m| (m.kind.to_string(), m.value.map(|v| v.to_string())))
                        .collect();
                    (c.id, (c.version, members))
                })
                .collect();
        }
        for s in d.subscribers.unwrap_or_default() {
            r.subscribers.insert(
                s.user.to_string(),
                (s.display_name.map(|n| n.to_string()), s.acknowledged),
            );
        }
        for c in d.categories.map(|c| c.categories).unwrap_or_default() {
            let (Some(instance), Some(container)) = (c.instance, c.container) else {
                continue;
            };
            r.pubs.insert(
                (c.name.to_string(), instance, container),
                Publication {
                    version: c.version.unwrap_or(1),
                    expiry: Expiry::Static,
                    epid: None,
                    time: c
                        .publish_time
                        .as_deref()
                        .and_then(from_iso8601)
                        .unwrap_or(0),
                    state: state_of(&c.name, &c.content),
                    content: ByteString::from(&*c.content),
                },
            );
        }
        Ok(r)
    }
}

/// `YYYY-MM-DDTHH:MM:SSZ` of Unix seconds (the `publishTime` clients read).
pub(super) fn iso8601(t: u64) -> String {
    let days = t / 86_400;
    let secs = t % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

/// Unix seconds of what [`iso8601`] writes (`YYYY-MM-DDTHH:MM:SSZ`).
pub(super) fn from_iso8601(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let n = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days from civil (H. Hinnant), the inverse of the conversion in `iso8601`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        // 2008-01-22T23:41:05Z, the [MS-PRES] 4.4.3 example's publishTime.
        assert_eq!(iso8601(1_201_045_265), "2008-01-22T23:41:05Z");
        assert_eq!(iso8601(951_782_400), "2000-02-29T00:00:00Z");
        for t in [0, 951_782_400, 1_201_045_265, 1_796_000_000] {
            assert_eq!(from_iso8601(&iso8601(t)), Some(t));
        }
        assert_eq!(from_iso8601("2008-13-01T00:00:00Z"), None);
        assert_eq!(from_iso8601("2008-01-01 00:00:00"), None);
    }

    fn state(kind: &str, a: u32) -> ByteString {
        let mut v = Vec::new();
        State {
            kind: bs(kind),
            manual: kind == "userState",
            availability: Some(a),
            activity: None,
        }
        .write(&mut v);
        ByteString::try_from(v).unwrap()
    }

    fn put(r: &mut Roaming, instance: u32, kind: &str, a: u32, time: u64) {
        r.pubs.insert(
            ("state".into(), instance, 2),
            Publication {
                version: 1,
                expiry: Expiry::Endpoint,
                epid: None,
                state: Some((bs(kind), a)),
                content: state(kind, a),
                time,
            },
        );
    }

    #[test]
    fn aggregation_follows_ms_pres() {
        let mut r = Roaming::default();
        assert_eq!(r.compute_aggregate(false), 18500);
        // Signed in with nothing published yet: online.
        assert_eq!(r.compute_aggregate(true), 3500);
        // Two endpoints: the most active machine wins.
        put(&mut r, 0x3000_0001, "machineState", 15500, 1);
        put(&mut r, 0x3000_0002, "machineState", 3500, 1);
        assert_eq!(r.compute_aggregate(true), 3500);
        // A user state set by hand wins over the machines.
        put(&mut r, USER_STATE_INSTANCE, "userState", 6500, 2);
        assert_eq!(r.compute_aggregate(true), 6500);
        // Online by hand on an idle machine is idle; busy on it is busy-idle.
        r.pubs.remove(&("state".into(), 0x3000_0002, 2));
        put(&mut r, 0x3000_0001, "machineState", 4500, 3);
        assert_eq!(r.compute_aggregate(true), 7500);
        put(&mut r, USER_STATE_INSTANCE, "userState", 3500, 4);
        assert_eq!(r.compute_aggregate(true), 4500);
        // Away by hand is away.
        put(&mut r, USER_STATE_INSTANCE, "userState", 15500, 5);
        assert_eq!(r.compute_aggregate(true), 15500);
        // Without a user state, a calendar state (in a meeting) raises the machine's.
        r.pubs.remove(&("state".into(), USER_STATE_INSTANCE, 2));
        put(&mut r, 0x3000_0001, "machineState", 3500, 6);
        put(&mut r, 0x4000_0001, "calendarState", 6500, 6);
        assert_eq!(r.compute_aggregate(true), 6500);
    }

    #[test]
    fn access_levels() {
        let mut r = Roaming::default();
        assert_eq!(r.level("sip:bob@contoso.com", "contoso.com"), 200);
        assert_eq!(r.level("sip:eve@fabrikam.com", "contoso.com"), 100);
        let add = |id, value: &str| SetContainerMembers {
            containers: vec![doc::ContainerChange {
                id,
                version: 0,
                members: vec![doc::MemberChange {
                    add: true,
                    member: Member {
                        kind: bs("user"),
                        value: Some(bs(value)),
                    },
                }],
            }],
        };
        assert!(r.set_members(&add(400, "bob@contoso.com")));
        assert_eq!(r.level("sip:bob@contoso.com", "contoso.com"), 400);
        assert!(r.set_members(&add(32000, "bob@contoso.com")));
        assert_eq!(r.level("sip:bob@contoso.com", "contoso.com"), BLOCKED);
        assert_eq!(r.containers[&32000].0, 1);
        assert_eq!(r.level("sip:carol@contoso.com", "contoso.com"), 200);
        assert_eq!(
            &*r.view("sip:alice@contoso.com", BLOCKED).categories[0]
                .state(&Limits::default())
                .unwrap()
                .unwrap()
                .kind,
            "aggregateState"
        );
    }

    #[test]
    fn contact_list_operations_and_the_store() {
        let l = Limits::default();
        let mut r = Roaming::default();
        let (_, id) = r
            .apply(
                &soap::Request::AddGroup {
                    name: bs("Friends"),
                    external_uri: None,
                    delta_num: None,
                },
                10,
                10,
            )
            .unwrap();
        let id = id.unwrap();
        let (d, _) = r
            .apply(
                &soap::Request::SetContact {
                    display_name: bs("Bob"),
                    groups: vec![id],
                    subscribed: true,
                    uri: bs("SIP:bob@Contoso.COM"),
                    external_uri: None,
                    delta_num: None,
                },
                10,
                10,
            )
            .unwrap();
        let Some(ContactList::Delta {
            added_contacts,
            prev_delta_num,
            delta_num,
            ..
        }) = d
        else {
            panic!()
        };
        assert_eq!(
            (&*added_contacts[0].uri, prev_delta_num + 1),
            ("sip:bob@contoso.com", delta_num)
        );
        assert_eq!(
            r.apply(
                &soap::Request::DeleteGroup {
                    group_id: 99,
                    delta_num: None
                },
                10,
                10
            ),
            Err((404, "Not Found"))
        );
        let (uri, a, b) = (
            "sip:alice@contoso.com",
            r.to_store("sip:alice@contoso.com").0,
            r.to_store("sip:alice@contoso.com").1,
        );
        let back = Roaming::from_store(&a, &b, &l).unwrap();
        assert_eq!(back.contacts, r.contacts);
        assert_eq!(back.groups, r.groups);
        assert_eq!(back.containers, r.containers);
        let _ = uri;
        // Deleting the group takes bob out of it; without a default group he goes.
        let (d, _) = r
            .apply(
                &soap::Request::DeleteGroup {
                    group_id: id,
                    delta_num: None,
                },
                10,
                10,
            )
            .unwrap();
        let Some(ContactList::Delta {
            deleted_contacts,
            deleted_groups,
            ..
        }) = d
        else {
            panic!()
        };
        assert_eq!((deleted_contacts.len(), deleted_groups), (1, vec![id]));
        assert!(r.contacts.is_empty());
    }
}
