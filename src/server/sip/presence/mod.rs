//! The presence application: contact lists and enhanced presence as OCS 2007 serves them
//! ([MS-PRES], [MS-SIP] roaming), over the documents of [`crate::sip::presence`].
//!
//! | request (to oneself unless said) | what it does |
//! |---|---|
//! | SUBSCRIBE `vnd-microsoft-roaming-contacts` | the contact list; later changes as `contactDelta` |
//! | SUBSCRIBE `vnd-microsoft-roaming-self` | one's categories with their versions, containers, subscribers |
//! | SUBSCRIBE `presence` with a `batchSub` body | the presence of many contacts at once (`Require: adhoclist, categoryList`); a re-SUBSCRIBE in the dialog adds contacts |
//! | SUBSCRIBE `presence` to a contact | the presence of one |
//! | SUBSCRIBE `presence.wpending` | who subscribed and is not acknowledged (2005) |
//! | SERVICE `msrtc-category-publish+xml` | publishes categories: `409` with the current versions when stale |
//! | SERVICE `msrtc-setcontainermembers+xml` | the ACL: who sees which container (32000: blocked) |
//! | SERVICE `msrtc-presence-setsubscriber+xml` | subscribers acknowledged |
//! | SERVICE `SOAP+xml` | `setContact`, `deleteContact`, `addGroup`, `modifyGroup`, `deleteGroup`; `directorySearch` (to the domain); the 2005 `setPresence` |
//!
//! Every answer to a subscription carries its first notification (`ms-piggyback-cseq`, as
//! pidgin-sipe and Communicator read it); changes follow as NOTIFY, or BENOTIFY where offered,
//! to every endpoint subscribed. A watcher sees the container its membership selects
//! ([`roster::Roaming::level`]) and the aggregated availability; a blocked one sees offline.
//! Contact lists, containers, subscribers and static categories are kept in the store, and
//! what changes them is acknowledged once committed.

mod roster;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use bytestring::ByteString;

use super::StoreOp;
use super::core::{Core, Peer, unix};
use super::registrar::{Directory, Registrar};
use crate::sip::presence::{
    self as doc, BatchSubscribe, Limits, Publish, RoamingList, SetContainerMembers, SetSubscriber,
    rlmi, soap,
};
use crate::sip::subscription::{Notifier, NotifierEvent};
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};
use roster::{Roaming, sip_uri};

const CONTACTS: &str = "vnd-microsoft-roaming-contacts";
const SELF: &str = "vnd-microsoft-roaming-self";
const PRESENCE: &str = "presence";
const WPENDING: &str = "presence.wpending";
const CT_CONTACTS: &str = "application/vnd-microsoft-roaming-contacts+xml";
const CT_SELF: &str = "application/vnd-microsoft-roaming-self+xml";
const CT_CATEGORIES: &str = "application/msrtc-event-categories+xml";
const CT_WPENDING: &str = "text/xml+msrtc.wpending";
/// The longest subscription granted; clients refresh before it runs out.
const MAX_SUBSCRIPTION: u32 = 3600;
/// How often signed-out users and timed publications are looked for.
const SWEEP: Duration = Duration::from_secs(10);

/// The presence application's limits, each with a default a server can live with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceLimits {
    /// Contacts in one list (default 1,000: OCS 2007's own limit).
    pub max_contacts: usize,
    /// Groups in one list (default 64).
    pub max_groups: usize,
    /// Category instances one user may publish (default 256).
    pub max_publications: usize,
    /// Bytes of published content one user may hold, all instances together (default
    /// 128 KiB; a Communicator endpoint publishes a few KB).
    pub max_publication_bytes: usize,
    /// Contacts in one batched subscription (default 1,000).
    pub max_batch: usize,
    /// Subscriptions of one user at once, all endpoints (default 64).
    pub max_subscriptions: usize,
    /// The documents' limits.
    pub documents: Limits,
}

impl Default for PresenceLimits {
    fn default() -> Self {
        PresenceLimits {
            max_contacts: 1000,
            max_groups: 64,
            max_publications: 256,
            max_publication_bytes: 128 << 10,
            max_batch: 1000,
            max_subscriptions: 64,
            documents: Limits::default(),
        }
    }
}

/// What a subscription follows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Contacts,
    SelfData(RoamingList),
    /// The presentities watched; batched (multipart notifications) or one.
    Presence {
        resources: BTreeSet<String>,
        batched: bool,
    },
    Wpending,
}

/// A request being served: when, and its server transaction.
#[derive(Clone, Copy)]
struct At<'m> {
    now: Instant,
    wall: SystemTime,
    key: TxKey,
    req: &'m Message,
}

/// Notifications held until the store commits what they announce.
enum Pending {
    /// A contact-list delta for the owner's endpoints.
    Contacts(String, Bytes),
    /// The owner's roaming-self, and (`true`) what its watchers see.
    Roaming(String, bool),
}

struct Sub {
    /// The subscriber, `sip:user@domain`.
    owner: String,
    kind: Kind,
    notifier: Notifier,
    peer: Peer,
    call_id: String,
    /// When it runs out (its entry in [`Presence::deadlines`]).
    deadline: Instant,
    /// The RLMI `version` of its next batched notification (RFC 4662 §5.4: it increases).
    rlmi_version: u32,
    /// Presentities it last saw blocked: a blocked view never changes, so it is sent once.
    blocked: BTreeSet<String>,
}

/// The presence application's state: see the [module documentation](self).
pub(super) struct Presence {
    pub(super) limits: PresenceLimits,
    users: HashMap<String, Roaming>,
    /// Users with an endpoint signed in, as last seen.
    online: BTreeSet<String>,
    subs: HashMap<u64, Sub>,
    by_call: HashMap<String, u64>,
    /// Presentity → the presence subscriptions that watch it.
    watching: HashMap<String, BTreeSet<u64>>,
    /// User → its own contact-list and roaming-self subscriptions.
    own: HashMap<String, BTreeSet<u64>>,
    next_sub: u64,
    next_sweep: Option<Instant>,
    pending: std::collections::VecDeque<(u64, Pending)>,
    /// The last store ticket known committed.
    committed: u64,
    /// Subscriptions by expiry: the next one due without scanning them all.
    deadlines: BTreeSet<(Instant, u64)>,
    /// Subscriptions per user (all kinds), for `max_subscriptions`.
    per_owner: HashMap<String, usize>,
    /// NOTIFYs in flight (client transactions) and their subscription: a 481 or a time-out
    /// ends it (RFC 6665 §4.2.2).
    notifying: HashMap<TxKey, u64>,
    /// Signed-in endpoints by user: (epid, contact URI), so that an endpoint whose binding
    /// ran out takes its publications along.
    endpoints: HashMap<String, Vec<(String, String)>>,
}

fn event_of(req: &Message) -> Option<String> {
    req.event()
        .and_then(Result::ok)
        .map(|e| e.value.to_ascii_lowercase())
}

fn content_type(req: &Message) -> String {
    req.content_type()
        .and_then(Result::ok)
        .map(|m| format!("{}/{}", m.top, m.sub).to_ascii_lowercase())
        .unwrap_or_default()
}

/// The `sip:user@domain` of a request's From.
/// `sip:user@host` of a SIP URI, the way the registrar keys users: any host that names this
/// server (an alias, one of our addresses) is our domain, so one user has one state and one
/// set of memberships however the client wrote it; other hosts in lower case.
fn canonical(core: &Core, s: &crate::sip::uri::SipUri<'_>) -> Option<String> {
    let user = s.user?;
    if core.is_us(&s.host, s.port) {
        return Some(format!("sip:{user}@{}", core.cfg.domain));
    }
    Some(format!(
        "sip:{user}@{}",
        s.host.to_string().to_ascii_lowercase()
    ))
}

/// [`canonical`] of a URI written in a document (`sip:` optional).
fn canonical_str(core: &Core, uri: &str) -> Option<String> {
    let u = uri.trim();
    let with = if u.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sip:")) {
        u.to_owned()
    } else {
        format!("sip:{u}")
    };
    let parsed = crate::sip::uri::Uri::parse(&with).ok()?;
    canonical(core, parsed.as_sip()?)
}

/// The `sip:user@domain` of a request's From.
fn from_aor(core: &Core, req: &Message) -> Option<String> {
    let f = req.from().ok()?;
    canonical(core, f.uri.as_sip()?)
}

/// The user a request is addressed to, if its Request-URI has a user part.
fn target_aor(core: &Core, req: &Message) -> Option<String> {
    let uri = req.request_uri()?.ok()?;
    canonical(core, uri.as_sip()?)
}

impl Presence {
    pub(super) fn new(limits: PresenceLimits) -> Presence {
        Presence {
            limits,
            users: HashMap::new(),
            online: BTreeSet::new(),
            subs: HashMap::new(),
            by_call: HashMap::new(),
            watching: HashMap::new(),
            own: HashMap::new(),
            next_sub: 1,
            next_sweep: None,
            pending: std::collections::VecDeque::new(),
            committed: 0,
            deadlines: BTreeSet::new(),
            per_owner: HashMap::new(),
            notifying: HashMap::new(),
            endpoints: HashMap::new(),
        }
    }

    /// A user's state from the store (at start-up).
    pub(super) fn load(&mut self, aor: &str, contacts: &str, data: &str) -> Result<(), String> {
        // What this server wrote is read back with room to spare: a limit lowered since, or a
        // user with thousands of subscribers, must not lose a list on the next write.
        let generous = Limits {
            max_size: 64 << 20,
            max_depth: 32,
            max_elements: 4_000_000,
            max_attributes: 64,
        };
        let r = Roaming::from_store(contacts, data, &generous).map_err(|e| e.to_string())?;
        self.users.insert(sip_uri(aor), r);
        Ok(())
    }

    /// Another front end of the pool stored `aor`'s contact list and roaming data: ours
    /// becomes that (so that the next change here starts from it), with the publications
    /// of the endpoints signed in here kept (only the static ones are stored).
    pub(super) fn refresh(&mut self, aor: &str, contacts: &str, data: &str) -> Result<(), String> {
        let key = sip_uri(aor);
        let live = self.users.get(&key).map(|old| {
            let pubs: Vec<_> = old
                .pubs
                .iter()
                .filter(|(_, p)| p.expiry != roster::Expiry::Static)
                .map(|(k, p)| (k.clone(), p.clone()))
                .collect();
            (pubs, old.aggregate)
        });
        self.load(aor, contacts, data)?;
        if let (Some((pubs, aggregate)), Some(r)) = (live, self.users.get_mut(&key)) {
            r.pubs.extend(pubs);
            r.aggregate = aggregate;
        }
        Ok(())
    }

    /// The contact list of `aor`, as its owner would get it (for tests and tools).
    pub(super) fn contact_list(&self, aor: &str) -> Option<doc::ContactList> {
        self.users.get(&sip_uri(aor)).map(Roaming::contact_list)
    }

    /// Whether `req` is this application's.
    pub(super) fn serves(&self, core: &Core, req: &Message) -> bool {
        match req.method() {
            Some("SUBSCRIBE") => {
                let Some(ev) = event_of(req) else {
                    return false;
                };
                if ![CONTACTS, SELF, PRESENCE, WPENDING].contains(&ev.as_str()) {
                    return false;
                }
                if req.to().is_ok_and(|t| t.tag().is_some()) {
                    // Ours, or addressed to this server (our Contact) in a dialog it no
                    // longer knows: that one is answered 481, so the client subscribes anew.
                    return req.call_id().is_ok_and(|c| self.by_call.contains_key(c))
                        || core.request_uri_is_us(req);
                }
                core.request_uri_host_is_us(req) && target_aor(core, req).is_some()
            }
            Some("SERVICE") => {
                let ct = content_type(req);
                let ours = matches!(
                    ct.as_str(),
                    "application/msrtc-category-publish+xml"
                        | "application/msrtc-setcontainermembers+xml"
                        | "application/msrtc-presence-setsubscriber+xml"
                        | "application/soap+xml"
                );
                ours && core.request_uri_host_is_us(req)
            }
            _ => false,
        }
    }

    fn user(&mut self, aor: &str) -> &mut Roaming {
        self.users.entry(aor.to_owned()).or_default()
    }

    /// Serves a request [`Presence::serves`] took.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn request(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: &Message,
        users: &dyn Directory,
    ) {
        let Some(owner) = from_aor(core, req) else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        let at = At {
            now,
            wall,
            key,
            req,
        };
        if req.method() == Some("SUBSCRIBE") {
            return self.subscribe(core, registrar, at, owner, users);
        }
        let target = target_aor(core, req);
        let ct = content_type(req);
        let body = match doc::text(req.body().clone()) {
            Ok(b) => b,
            Err(e) => return bad(core, now, key, req, &e),
        };
        let lim = self.limits.documents.clone();
        if ct == "application/soap+xml" {
            let op = match soap::Request::parse(&body, &lim) {
                Ok(op) => op,
                Err(e) => return bad(core, now, key, req, &e),
            };
            if let soap::Request::DirectorySearch { rows, max_results } = &op {
                return directory_search(core, now, key, req, users, rows, *max_results);
            }
            if target.as_deref() != Some(owner.as_str()) {
                return core.forbid(key, req, "contact lists are changed at one's own address");
            }
            return self.soap(core, registrar, at, &owner, &op);
        }
        if target.as_deref() != Some(owner.as_str()) {
            return core.forbid(key, req, "presence is published at one's own address");
        }
        match ct.as_str() {
            "application/msrtc-category-publish+xml" => match Publish::parse(&body, &lim) {
                Ok(p) => self.publish(core, registrar, at, &owner, &p),
                Err(e) => bad(core, now, key, req, &e),
            },
            "application/msrtc-setcontainermembers+xml" => {
                match SetContainerMembers::parse(&body, &lim) {
                    Ok(c) => {
                        let changed = self.user(&owner).set_members(&c);
                        let ticket = self.commit(core, at, &owner, changed, None);
                        if changed {
                            self.after(core, now, ticket, Pending::Roaming(owner, true));
                        }
                    }
                    Err(e) => bad(core, now, key, req, &e),
                }
            }
            _ => match SetSubscriber::parse(&body, &lim) {
                Ok(s) => {
                    let r = self.user(&owner);
                    let mut changed = false;
                    for sub in &s.subscribers {
                        if let Some(e) = r.subscribers.get_mut(&*sub.user)
                            && e.1 != sub.acknowledged
                        {
                            e.1 = sub.acknowledged;
                            changed = true;
                        }
                    }
                    let ticket = self.commit(core, at, &owner, changed, None);
                    if changed {
                        self.after(core, now, ticket, Pending::Roaming(owner, false));
                    }
                }
                Err(e) => bad(core, now, key, req, &e),
            },
        }
    }

    /// `200 OK` (with `body`), held until the store has what changed; the store ticket, or
    /// 0 when nothing was written (or the answer could not be made).
    fn commit(
        &mut self,
        core: &mut Core,
        at: At<'_>,
        owner: &str,
        changed: bool,
        body: Option<(&str, Vec<u8>)>,
    ) -> u64 {
        let At { now, key, req, .. } = at;
        let tag = core.token();
        let mut b = req.response(200, "OK", &tag);
        if let Some((ct, bytes)) = &body {
            b = b.body(ct, bytes);
        }
        let Ok(ok) = b.build() else {
            core.reply(now, key, req, 500, "Server Internal Error");
            return 0;
        };
        if !changed {
            core.respond(now, key, ok);
            return 0;
        }
        let (contacts, data) = self.user(owner).to_store(owner);
        let ticket = core.store(StoreOp::Roaming {
            aor: owner.to_owned(),
            contacts,
            data,
        });
        core.hold(ticket, key, ok);
        ticket
    }

    fn soap(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        at: At<'_>,
        owner: &str,
        op: &soap::Request,
    ) {
        let At { now, key, req, .. } = at;
        if let soap::Request::SetAce {
            kind, mask, rights, ..
        } = op
        {
            // The 2005 ACL as the 2007 containers: a block (`BD`) puts the user or domain in
            // the blocked container, an allow (`AA`) takes it out.
            let member_kind = match kind.to_ascii_uppercase().as_str() {
                "USER" => "user",
                "DOMAIN" => "domain",
                "ALL" => "everyone",
                _ => return core.reply(now, key, req, 400, "Bad Request"),
            };
            let change = SetContainerMembers {
                containers: vec![doc::ContainerChange {
                    id: 32000,
                    version: 0,
                    members: vec![doc::MemberChange {
                        add: rights.eq_ignore_ascii_case("BD"),
                        member: doc::Member {
                            kind: ByteString::from_static(member_kind),
                            value: (member_kind != "everyone").then(|| mask.clone()),
                        },
                    }],
                }],
            };
            let changed = self.user(owner).set_members(&change);
            let ticket = self.commit(core, at, owner, changed, None);
            if changed {
                self.after(core, now, ticket, Pending::Roaming(owner.to_owned(), true));
            }
            return;
        }
        if let soap::Request::SetPresence(p) = op {
            // The 2005 form: a user state in the user's own containers.
            let mut content = Vec::new();
            doc::State {
                kind: ByteString::from_static("userState"),
                manual: true,
                availability: Some(p.availability_2007()),
                activity: None,
            }
            .write(&mut content);
            let content = ByteString::try_from(content).unwrap_or_default();
            let r = self.user(owner);
            let key2 = ("state".to_owned(), 0x2000_0000, 2);
            let version = r.pubs.get(&key2).map_or(0, |p| p.version);
            let publish = Publish {
                uri: ByteString::from(owner),
                publications: vec![doc::Publication {
                    category_name: ByteString::from_static("state"),
                    instance: 0x2000_0000,
                    container: 2,
                    version,
                    expire_type: ByteString::from_static("user"),
                    expires: None,
                    content,
                }],
            };
            return self.publish(core, registrar, at, owner, &publish);
        }
        let (max_c, max_g) = (self.limits.max_contacts, self.limits.max_groups);
        match self.user(owner).apply(op, max_c, max_g) {
            Ok((delta, group)) => {
                let body = group.map(|id| {
                    let mut b = Vec::new();
                    soap::write_add_group_response(&mut b, id, self.user(owner).delta);
                    ("application/SOAP+xml", b)
                });
                let ticket = self.commit(core, at, owner, delta.is_some(), body);
                let Some(delta) = delta else { return };
                let mut bytes = Vec::new();
                delta.write(&mut bytes);
                // A new contact's watcher list (its "who added me") learns of the owner when
                // the owner's client subscribes to its presence.
                self.after(
                    core,
                    now,
                    ticket,
                    Pending::Contacts(owner.to_owned(), Bytes::from(bytes)),
                );
            }
            Err((code, reason)) => core.reply(now, key, req, code, reason),
        }
    }

    fn publish(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        at: At<'_>,
        owner: &str,
        p: &Publish,
    ) {
        let At {
            now,
            wall,
            key,
            req,
        } = at;
        // What is relayed to watchers as it is must stand alone (a prefix declared on
        // `<publish>`, a declaration or a comment inside would break their documents).
        for (i, pb) in p.publications.iter().enumerate() {
            if let Err(e) = pb.check_content(&self.limits.documents) {
                let warning = format!(
                    "399 {} \"publication {}: {}\"",
                    core.cfg.ntlm_target,
                    i + 1,
                    clean(&e.to_string())
                );
                return core.reply_with(now, key, req, 400, "Bad Request", &[("Warning", warning)]);
            }
        }
        let epid = req.from().ok().and_then(|f| f.epid().map(str::to_owned));
        let max = (
            self.limits.max_publications,
            self.limits.max_publication_bytes,
        );
        let t = unix(wall);
        let res = self.user(owner).publish(p, epid.as_deref(), t, max);
        match res {
            Ok(()) => {
                let persisted = p.publications.iter().any(|x| &*x.expire_type == "static");
                let ticket = self.commit(core, at, owner, persisted, None);
                self.refresh_aggregate(registrar, owner, wall);
                self.after(core, now, ticket, Pending::Roaming(owner.to_owned(), true));
            }
            Err(stale) if stale.is_empty() => core.reply(now, key, req, 403, "Forbidden"),
            Err(stale) => {
                let mut body = Vec::new();
                doc::write_wrong_delta(&mut body, owner, &stale);
                let tag = core.token();
                if let Ok(r) = req
                    .response(409, "Conflict", &tag)
                    .body("application/msrtc-fault+xml", &body)
                    .build()
                {
                    core.respond(now, key, r);
                }
            }
        }
    }

    /// Recomputes `aor`'s aggregated availability; whether it changed.
    fn refresh_aggregate(&mut self, registrar: &Registrar, aor: &str, wall: SystemTime) -> bool {
        let online = !registrar.bindings(aor, wall).is_empty();
        let mut ended = false;
        if online {
            self.online.insert(aor.to_owned());
        } else if self.online.remove(aor) {
            // The last endpoint went: what lived with the user's endpoints goes too.
            ended = self
                .users
                .get_mut(aor)
                .is_some_and(|r| r.end_endpoint(None));
        }
        // An address nobody signed in with keeps no state (it is offline, as by default).
        let r = match self.users.get_mut(aor) {
            Some(r) => r,
            None if online => self.users.entry(aor.to_owned()).or_default(),
            None => return false,
        };
        let a = r.compute_aggregate(online);
        if a == r.aggregate.0 {
            return ended;
        }
        r.aggregate = (a, r.aggregate.1.wrapping_add(1));
        true
    }

    fn subscribe(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        at: At<'_>,
        owner: String,
        users: &dyn Directory,
    ) {
        let At {
            now,
            wall,
            key,
            req,
        } = at;
        let Some(event) = event_of(req) else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        let Some(peer) = core.peers.get(&key).copied() else {
            return;
        };
        let call = req.call_id().unwrap_or_default().to_owned();
        let lim = self.limits.documents.clone();
        let body = match doc::text(req.body().clone()) {
            Ok(b) => b,
            Err(e) => return bad(core, now, key, req, &e),
        };
        let batch = if body.trim().is_empty() || event != PRESENCE {
            None
        } else {
            match BatchSubscribe::parse(&body, &lim) {
                Ok(b) => Some(b),
                Err(e) => return bad(core, now, key, req, &e),
            }
        };
        let wanted: BTreeSet<String> = batch
            .iter()
            .flat_map(|b| &b.actions)
            .filter(|a| &*a.name == "subscribe")
            .flat_map(|a| &a.resources)
            .filter_map(|r| canonical_str(core, r))
            .collect();
        let unwanted: BTreeSet<String> = batch
            .iter()
            .flat_map(|b| &b.actions)
            .filter(|a| &*a.name == "unsubscribe")
            .flat_map(|a| &a.resources)
            .filter_map(|r| canonical_str(core, r))
            .collect();
        if wanted.len() > self.limits.max_batch {
            return core.reply(now, key, req, 413, "Request Entity Too Large");
        }
        // A refresh, an unsubscribe, or (batched presence) more contacts.
        if req.to().is_ok_and(|t| t.tag().is_some()) {
            let Some(&id) = self.by_call.get(&call) else {
                return core.reply(now, key, req, 481, "Subscription Does Not Exist");
            };
            let Some(sub) = self.subs.get_mut(&id) else {
                return;
            };
            if sub.owner != owner {
                return core.forbid(key, req, "another user's subscription");
            }
            let secs = match sub.notifier.handle_subscribe(now, req, MAX_SUBSCRIPTION) {
                Ok(s) => s,
                Err(_) => return core.reply(now, key, req, 481, "Subscription Does Not Exist"),
            };
            if secs == 0 {
                core.reply_with(now, key, req, 200, "OK", &[("Expires", "0".into())]);
                return self.end(core, now, id);
            }
            self.reschedule(id);
            // Contacts in and out of a batched subscription (pidgin-sipe adds a buddy so, an
            // `unsubscribe` action takes one out); past the batch limit nothing is added.
            let (mut added, mut removed) = (Vec::new(), Vec::new());
            if let Some(Sub {
                kind:
                    Kind::Presence {
                        resources,
                        batched: true,
                    },
                ..
            }) = self.subs.get_mut(&id)
            {
                if resources.len() + wanted.len() > self.limits.max_batch {
                    return core.reply(now, key, req, 413, "Request Entity Too Large");
                }
                added = wanted
                    .iter()
                    .filter(|w| resources.insert((*w).clone()))
                    .cloned()
                    .collect();
                removed = unwanted
                    .into_iter()
                    .filter(|u| resources.remove(u))
                    .collect();
            }
            for w in &added {
                self.watching.entry(w.clone()).or_default().insert(id);
                self.add_subscriber(core, now, users, w, &owner);
            }
            for u in &removed {
                self.unwatch(u, id);
            }
            let focus: Option<BTreeSet<String>> = (!wanted.is_empty()).then_some(wanted);
            let boundary = core.token();
            let Some((ct, bytes, cseq)) = self.first_state(now, id, focus.as_ref(), &boundary)
            else {
                return;
            };
            let tag = core.token();
            if let Ok(ok) = req
                .response(200, "OK", &tag)
                .header("Expires", secs)
                .header("Event", &event)
                .header("Subscription-State", format!("active;expires={secs}"))
                .header("ms-piggyback-cseq", cseq)
                .body(&ct, &bytes)
                .build()
            {
                core.respond(now, key, ok);
            }
            return;
        }
        if self.by_call.contains_key(&call) {
            // A new subscription must not take an existing one's Call-ID (its refreshes and
            // NOTIFYs are found by it).
            return core.reply(now, key, req, 400, "Bad Request");
        }
        let target = target_aor(core, req).unwrap_or_default();
        let kind = match event.as_str() {
            CONTACTS | SELF | WPENDING if target != owner => {
                return core.forbid(key, req, "one subscribes to one's own roaming data");
            }
            CONTACTS => Kind::Contacts,
            SELF => match RoamingList::parse(&body, &lim) {
                // Kept as owned names: views would hold the whole SUBSCRIBE alive.
                Ok(l) => Kind::SelfData(RoamingList {
                    types: l.types.iter().map(|t| ByteString::from(&**t)).collect(),
                }),
                Err(_) if body.trim().is_empty() => Kind::SelfData(RoamingList::default()),
                Err(e) => return bad(core, now, key, req, &e),
            },
            WPENDING => Kind::Wpending,
            _ if target == owner => Kind::Presence {
                resources: wanted.clone(),
                batched: true,
            },
            _ => Kind::Presence {
                resources: BTreeSet::from([target.clone()]),
                batched: false,
            },
        };
        let mine = self.per_owner.get(&owner).copied().unwrap_or(0);
        if mine >= self.limits.max_subscriptions {
            return core.reply_with(
                now,
                key,
                req,
                503,
                "Service Unavailable",
                &[("Retry-After", "60".into())],
            );
        }
        let asked = req
            .expires()
            .and_then(Result::ok)
            .unwrap_or(MAX_SUBSCRIPTION);
        // `Expires: 0` fetches the state once (RFC 6665 §4.4.3); a subscription lasts a minute
        // at least.
        let fetch = asked == 0;
        let granted = if fetch {
            0
        } else {
            asked.clamp(60, MAX_SUBSCRIPTION)
        };
        let benotify = req
            .values(HeaderName::Supported)
            .any(|(v, _)| v.eq_ignore_ascii_case("ms-benotify"));
        let id = self.next_sub;
        self.next_sub += 1;
        // The subscription is registered before its first state is made (that reads it).
        let tag = core.token();
        let contact = format!(
            "<sip:{};transport={}>",
            core.sent_by(&peer),
            peer.via_transport().to_ascii_lowercase()
        );
        let probe = req
            .response(200, "OK", &tag)
            .header("Expires", granted)
            .header("Contact", &contact);
        let probe = if benotify {
            probe.header("Supported", "ms-benotify")
        } else {
            probe
        };
        let Ok(dialog_ok) = probe.build() else {
            return core.reply(now, key, req, 500, "Server Internal Error");
        };
        let Ok(mut notifier) = Notifier::accept(now, req, &dialog_ok, false) else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        notifier.set_transport(peer.via_transport());
        let resources = match &kind {
            Kind::Presence { resources, .. } => resources.clone(),
            _ => BTreeSet::new(),
        };
        let deadline = notifier.poll_timeout().unwrap_or(now);
        self.subs.insert(
            id,
            Sub {
                owner: owner.clone(),
                kind: kind.clone(),
                notifier,
                peer,
                call_id: call.clone(),
                deadline,
                rlmi_version: 1,
                blocked: BTreeSet::new(),
            },
        );
        self.deadlines.insert((deadline, id));
        *self.per_owner.entry(owner.clone()).or_default() += 1;
        self.by_call.insert(call, id);
        match kind {
            Kind::Presence { .. } => {
                for r in &resources {
                    self.watching.entry(r.clone()).or_default().insert(id);
                    self.refresh_aggregate(registrar, r, wall);
                    self.add_subscriber(core, now, users, r, &owner);
                }
            }
            _ => {
                self.own.entry(owner.clone()).or_default().insert(id);
                self.user(&owner);
            }
        }
        let boundary = core.token();
        let Some((ct, bytes, cseq)) = self.first_state(now, id, None, &boundary) else {
            return;
        };
        let state = if fetch {
            "terminated;reason=timeout".to_owned()
        } else {
            format!("active;expires={granted}")
        };
        let mut b = req
            .response(200, "OK", &tag)
            .header("Expires", granted)
            .header("Contact", &contact)
            .header("Event", &event)
            .header("Subscription-State", state)
            .header("ms-piggyback-cseq", cseq);
        if benotify {
            b = b.header("Supported", "ms-benotify");
        }
        match b.body(&ct, &bytes).build() {
            Ok(ok) => core.respond(now, key, ok),
            Err(_) => {
                self.forget(id);
                return core.reply(now, key, req, 500, "Server Internal Error");
            }
        }
        if fetch {
            self.forget(id);
        }
    }

    /// The state of subscription `id` for the answer that carries its first notification
    /// ([`Presence::state_of`]), and the CSeq that notification takes in the dialog (the
    /// `ms-piggyback-cseq`: the next NOTIFY follows it).
    fn first_state(
        &mut self,
        now: Instant,
        id: u64,
        only: Option<&BTreeSet<String>>,
        boundary: &str,
    ) -> Option<(String, Bytes, u32)> {
        let (ct, bytes) = self.state_of(id, only, boundary)?;
        // Who it now sees blocked (that view is not sent again).
        let sub = self.subs.get(&id)?;
        let owner = sub.owner.as_str();
        let blocked: Vec<String> = match &sub.kind {
            Kind::Presence { resources, .. } => resources
                .iter()
                .filter(|r| only.is_none_or(|o| o.contains(*r)))
                .filter(|r| self.level_of(r, owner) == roster::BLOCKED)
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        let sub = self.subs.get_mut(&id)?;
        sub.blocked.extend(blocked);
        sub.rlmi_version = sub.rlmi_version.wrapping_add(1);
        // The notification the answer carries counts as sent: it takes the dialog's next
        // CSeq (nothing is built).
        let _ = sub.notifier.notify(now, "z9hG4bKpiggyback", "0.0.0.0");
        let cseq = sub.notifier.dialog().local_seq();
        Some((ct, bytes, cseq))
    }

    /// The subscription's expiry moved (a refresh): its place among the deadlines too.
    fn reschedule(&mut self, id: u64) {
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        self.deadlines.remove(&(sub.deadline, id));
        if let Some(d) = sub.notifier.poll_timeout() {
            sub.deadline = d;
            self.deadlines.insert((d, id));
        }
    }

    /// The full state subscription `id` follows (for presence, of `only` those presentities
    /// when given): its Content-Type and body.
    fn state_of(
        &self,
        id: u64,
        only: Option<&BTreeSet<String>>,
        boundary: &str,
    ) -> Option<(String, Bytes)> {
        let sub = self.subs.get(&id)?;
        let empty = Roaming::default();
        let mine = self.users.get(&sub.owner).unwrap_or(&empty);
        let mut out = Vec::new();
        let ct = match &sub.kind {
            Kind::Contacts => {
                mine.contact_list().write(&mut out);
                CT_CONTACTS.to_owned()
            }
            Kind::SelfData(want) => {
                mine.roaming_data(&sub.owner, want).write(&mut out);
                CT_SELF.to_owned()
            }
            Kind::Wpending => {
                out.extend_from_slice(b"<watchers>");
                for (u, (name, ack)) in &mine.subscribers {
                    if !ack {
                        out.extend_from_slice(
                            format!(
                                "<watcher uri=\"sip:{}\" displayName=\"{}\"/>",
                                xml_escape(u),
                                xml_escape(name.as_deref().unwrap_or(""))
                            )
                            .as_bytes(),
                        );
                    }
                }
                out.extend_from_slice(b"</watchers>");
                CT_WPENDING.to_owned()
            }
            Kind::Presence { resources, batched } => {
                let list: Vec<&String> = resources
                    .iter()
                    .filter(|r| only.is_none_or(|o| o.contains(*r)))
                    .collect();
                if !batched {
                    let r = list.first()?;
                    self.view_of(r, &sub.owner).write(&mut out);
                    CT_CATEGORIES.to_owned()
                } else {
                    let docs: Vec<(&str, Vec<u8>)> = list
                        .iter()
                        .map(|r| {
                            let mut b = Vec::new();
                            self.view_of(r, &sub.owner).write(&mut b);
                            (r.as_str(), b)
                        })
                        .collect();
                    let refs: Vec<(&str, &[u8])> =
                        docs.iter().map(|(r, b)| (*r, b.as_slice())).collect();
                    return Some(Self::batch_body(
                        &sub.owner,
                        boundary,
                        (sub.rlmi_version, only.is_none()),
                        &refs,
                    ));
                }
            }
        };
        Some((ct, Bytes::from(out)))
    }

    /// The container `watcher` sees of `presentity` ([`Roaming::level`]; a watcher of
    /// another domain matches only what names it or federated users).
    fn level_of(&self, presentity: &str, watcher: &str) -> u32 {
        let Some(p) = self.users.get(presentity) else {
            return 0;
        };
        let domain = watcher.rsplit_once('@').map_or("", |(_, d)| d);
        let ours = presentity.rsplit_once('@').map_or("", |(_, d)| d);
        p.level(watcher, if domain == ours { ours } else { "" })
    }

    /// What `watcher` sees of `presentity`.
    fn view_of(&self, presentity: &str, watcher: &str) -> doc::Categories {
        let empty = Roaming::default();
        let p = self.users.get(presentity).unwrap_or(&empty);
        p.view(presentity, self.level_of(presentity, watcher))
    }

    /// A batched notification: the RLMI list and one categories part per presentity
    /// (`(presentity, categories document)`).
    fn batch_body(
        owner: &str,
        boundary: &str,
        (version, full_state): (u32, bool),
        docs: &[(&str, &[u8])],
    ) -> (String, Bytes) {
        let rl = rlmi::List {
            uri: ByteString::from(owner),
            version,
            full_state,
            resources: docs
                .iter()
                .map(|(r, _)| rlmi::Resource {
                    uri: ByteString::from(*r),
                    instances: vec![rlmi::Instance {
                        id: ByteString::from_static("1"),
                        state: ByteString::from_static("active"),
                        cid: Some(ByteString::from(r.trim_start_matches("sip:"))),
                        reason: None,
                    }],
                })
                .collect(),
        };
        let mut rl_bytes = Vec::new();
        rl.write(&mut rl_bytes);
        let mut parts: Vec<(&str, &str, &[u8])> =
            vec![("resourceList", "application/rlmi+xml", &rl_bytes)];
        parts.extend(
            docs.iter()
                .map(|(r, b)| (r.trim_start_matches("sip:"), CT_CATEGORIES, *b)),
        );
        let mut out = Vec::with_capacity(
            rl_bytes.len() + docs.iter().map(|d| d.1.len() + 128).sum::<usize>(),
        );
        // The boundary is unpredictable (one per message): published content relayed in a
        // part cannot end it and forge another presentity's part.
        rlmi::write_related(&mut out, boundary, &parts);
        (
            rlmi::related_content_type(boundary, "resourceList"),
            Bytes::from(out),
        )
    }

    /// `watcher` subscribed to `presentity`: a new subscriber for its roaming-self
    /// ("who added me"), kept in the store.
    fn add_subscriber(
        &mut self,
        core: &mut Core,
        now: Instant,
        users: &dyn Directory,
        presentity: &str,
        watcher: &str,
    ) {
        // Only users of this server's directory keep subscriber lists; any other address is
        // answered alike (offline) and leaves nothing behind.
        let Some(name) = presentity
            .strip_prefix("sip:")
            .and_then(|p| p.strip_suffix(&format!("@{}", core.cfg.domain)))
        else {
            return;
        };
        if presentity == watcher || users.nt_hash(name).is_none() {
            return;
        }
        let user = watcher.trim_start_matches("sip:").to_owned();
        let r = self.user(presentity);
        if r.subscribers.contains_key(&user) || r.subscribers.len() >= 10_000 {
            return;
        }
        let display = user.split('@').next().map(str::to_owned);
        r.subscribers.insert(user, (display, false));
        let (contacts, data) = r.to_store(presentity);
        let ticket = core.store(StoreOp::Roaming {
            aor: presentity.to_owned(),
            contacts,
            data,
        });
        self.after(
            core,
            now,
            ticket,
            Pending::Roaming(presentity.to_owned(), false),
        );
    }

    /// Notifications of a change the store has not committed yet wait for it (a client
    /// never hears of a change a crash could lose); with nothing pending they go at once.
    fn after(&mut self, core: &mut Core, now: Instant, ticket: u64, p: Pending) {
        match self.pending.back().map(|(t, _)| *t) {
            // Nothing waits: what is committed (or wrote nothing) goes now.
            None if ticket <= self.committed => self.release(core, now, p),
            // Behind what waits, in order (a notification reads the state when it is sent).
            last => self.pending.push_back((ticket.max(last.unwrap_or(0)), p)),
        }
    }

    /// The store committed every write up to `ticket`.
    pub(super) fn committed(&mut self, core: &mut Core, now: Instant, ticket: u64) {
        self.committed = self.committed.max(ticket);
        while self.pending.front().is_some_and(|(t, _)| *t <= ticket) {
            if let Some((_, p)) = self.pending.pop_front() {
                self.release(core, now, p);
            }
        }
    }

    /// The writes of tickets `first..=last` were not stored: what waited for them is not
    /// announced.
    pub(super) fn store_failed(&mut self, first: u64, last: u64) {
        self.pending.retain(|(t, _)| !(first..=last).contains(t));
    }

    fn release(&mut self, core: &mut Core, now: Instant, p: Pending) {
        match p {
            Pending::Contacts(owner, body) => {
                for id in self.own_subs(&owner, |k| matches!(k, Kind::Contacts)) {
                    self.send_notify(core, now, id, CT_CONTACTS, &body);
                }
            }
            Pending::Roaming(owner, watchers) => {
                self.notify_self(core, now, &owner);
                if watchers {
                    self.notify_watchers(core, now, &owner);
                }
            }
        }
    }

    fn own_subs(&self, owner: &str, f: impl Fn(&Kind) -> bool) -> Vec<u64> {
        self.own
            .get(owner)
            .into_iter()
            .flatten()
            .copied()
            .filter(|id| self.subs.get(id).is_some_and(|s| f(&s.kind)))
            .collect()
    }

    /// The owner's roaming-self (and wpending) subscriptions get the new state.
    fn notify_self(&mut self, core: &mut Core, now: Instant, owner: &str) {
        for id in self.own_subs(owner, |k| matches!(k, Kind::SelfData(_) | Kind::Wpending)) {
            if let Some((ct, bytes)) = self.state_of(id, None, "") {
                self.send_notify(core, now, id, &ct, &bytes);
            }
        }
    }

    /// Every subscription watching `presentity` gets what it now sees of it (made once per
    /// access level: a thousand watchers in one container share one document).
    pub(super) fn notify_watchers(&mut self, core: &mut Core, now: Instant, presentity: &str) {
        let Some(ids) = self.watching.get(presentity) else {
            return;
        };
        let ids: Vec<u64> = ids.iter().copied().collect();
        let empty = Roaming::default();
        let p = self.users.get(presentity).unwrap_or(&empty);
        let mut by_level: HashMap<u32, Bytes> = HashMap::new();
        let mut sends = Vec::with_capacity(ids.len());
        for id in ids {
            let Some(sub) = self.subs.get(&id) else {
                continue;
            };
            let Kind::Presence { batched, .. } = &sub.kind else {
                continue;
            };
            let level = self.level_of(presentity, &sub.owner);
            // A blocked watcher's view never changes: it hears it once, not each change.
            if level == roster::BLOCKED && sub.blocked.contains(presentity) {
                continue;
            }
            let doc = by_level
                .entry(level)
                .or_insert_with(|| {
                    let mut b = Vec::new();
                    p.view(presentity, level).write(&mut b);
                    Bytes::from(b)
                })
                .clone();
            if *batched {
                let boundary = core.token();
                let (ct, body) = Self::batch_body(
                    &sub.owner,
                    &boundary,
                    (sub.rlmi_version, false),
                    &[(presentity, &doc)],
                );
                sends.push((id, ct, body, level));
            } else {
                sends.push((id, CT_CATEGORIES.to_owned(), doc, level));
            }
        }
        for (id, ct, body, level) in sends {
            if let Some(sub) = self.subs.get_mut(&id) {
                sub.rlmi_version = sub.rlmi_version.wrapping_add(1);
                if level == roster::BLOCKED {
                    sub.blocked.insert(presentity.to_owned());
                } else {
                    sub.blocked.remove(presentity);
                }
            }
            self.send_notify(core, now, id, &ct, &body);
        }
    }

    /// NOTIFY through a transaction, or BENOTIFY straight out (nobody answers it).
    fn send_notify(&mut self, core: &mut Core, now: Instant, id: u64, ct: &str, body: &[u8]) {
        let Some(peer) = self.subs.get(&id).map(|s| s.peer) else {
            return;
        };
        let (branch, sent_by) = core.hop(&peer);
        let Some(sub) = self.subs.get_mut(&id) else {
            return;
        };
        let Ok(msg) = sub
            .notifier
            .notify(now, &branch, &sent_by)
            .body(ct, body)
            .build()
        else {
            return;
        };
        if msg.method() == Some("BENOTIFY") {
            core.send(peer, msg.to_bytes());
        } else if let Some(k) = core.originate(now, msg, peer) {
            self.notifying.insert(k, id);
        }
    }

    /// Whether client transaction `key` is a NOTIFY of ours.
    pub(super) fn owns(&self, key: &TxKey) -> bool {
        self.notifying.contains_key(key)
    }

    /// A NOTIFY of ours was answered (`Some(status)`), timed out or could not be sent
    /// (`None`): a final failure other than a 2xx ends its subscription without another
    /// NOTIFY (RFC 6665 §4.2.2: 481, 408 and the like).
    pub(super) fn notify_answered(&mut self, key: TxKey, status: Option<u16>) {
        match status {
            Some(100..=199) => {}
            Some(200..=299) => {
                self.notifying.remove(&key);
            }
            _ => {
                if let Some(id) = self.notifying.remove(&key) {
                    self.forget(id);
                }
            }
        }
    }

    /// The NOTIFY's transaction ended.
    pub(super) fn notify_done(&mut self, key: &TxKey) {
        self.notifying.remove(key);
    }

    /// Ends subscription `id` with a final NOTIFY.
    fn end(&mut self, core: &mut Core, now: Instant, id: u64) {
        if let Some(peer) = self.subs.get(&id).map(|s| s.peer) {
            let (branch, sent_by) = core.hop(&peer);
            if let Some(sub) = self.subs.get_mut(&id) {
                sub.notifier.terminate("timeout");
                if let Ok(msg) = sub.notifier.notify(now, &branch, &sent_by).build() {
                    core.originate(now, msg, peer);
                }
            }
        }
        self.forget(id);
    }

    /// Subscription `id` no longer watches `presentity`.
    fn unwatch(&mut self, presentity: &str, id: u64) {
        if let Some(w) = self.watching.get_mut(presentity) {
            w.remove(&id);
            if w.is_empty() {
                self.watching.remove(presentity);
            }
        }
    }

    fn forget(&mut self, id: u64) {
        let Some(s) = self.subs.remove(&id) else {
            return;
        };
        self.by_call.remove(&s.call_id);
        self.deadlines.remove(&(s.deadline, id));
        if let Some(n) = self.per_owner.get_mut(&s.owner) {
            *n -= 1;
            if *n == 0 {
                self.per_owner.remove(&s.owner);
            }
        }
        if let Kind::Presence { resources, .. } = &s.kind {
            for r in resources {
                self.unwatch(r, id);
            }
        }
        if let Some(o) = self.own.get_mut(&s.owner) {
            o.remove(&id);
        }
    }

    /// A REGISTER was served: an endpoint that signed out takes its publications along, and a
    /// user's first or last endpoint changes what watchers see.
    pub(super) fn registered(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        now: Instant,
        wall: SystemTime,
        req: &Message,
    ) {
        let Some(aor) = req.to().ok().and_then(|t| canonical(core, t.uri.as_sip()?)) else {
            return;
        };
        // An un-REGISTER (a query, with no Contact, is not one).
        let contacts: Vec<_> = req.contacts().flatten().collect();
        let leaving = !contacts.is_empty()
            && contacts.iter().all(|c| {
                c.expires()
                    .and_then(Result::ok)
                    .or(req.expires().and_then(Result::ok))
                    == Some(0)
            });
        self.next_sweep.get_or_insert(now + SWEEP);
        let mut changed = false;
        let epid = req.from().ok().and_then(|f| f.epid().map(str::to_owned));
        if let Some(epid) = epid {
            let known = self.endpoints.entry(aor.clone()).or_default();
            known.retain(|(e, _)| *e != epid);
            if leaving {
                changed |= self
                    .users
                    .get_mut(&aor)
                    .is_some_and(|r| r.end_endpoint(Some(&epid)));
            } else if let Some(uri) = contacts
                .iter()
                .find_map(|c| c.address().map(|a| a.uri.to_string()))
            {
                // Bounded by the registrar's own bindings of the user.
                if known.len() < 64 {
                    known.push((epid, uri));
                }
            }
            if known.is_empty() {
                self.endpoints.remove(&aor);
            }
        }
        changed |= self.settle(registrar, &aor, wall);
        if changed {
            self.notify_self(core, now, &aor);
            self.notify_watchers(core, now, &aor);
        }
    }

    /// Brings `aor`'s endpoints, online state and aggregate up to date: an endpoint whose
    /// binding ran out takes its publications along, the last one the user's; whether
    /// watchers must hear of it.
    fn settle(&mut self, registrar: &Registrar, aor: &str, wall: SystemTime) -> bool {
        let live: Vec<String> = registrar
            .bindings(aor, wall)
            .iter()
            .map(|b| b.contact.clone())
            .collect();
        let mut changed = false;
        if let Some(known) = self.endpoints.get_mut(aor) {
            let (gone, kept): (Vec<_>, Vec<_>) =
                known.drain(..).partition(|(_, c)| !live.contains(c));
            *known = kept;
            if let Some(r) = self.users.get_mut(aor) {
                for (epid, _) in gone {
                    changed |= r.end_endpoint(Some(&epid));
                }
            }
            if known.is_empty() {
                self.endpoints.remove(aor);
            }
        }
        changed | self.refresh_aggregate(registrar, aor, wall)
    }

    /// A connection closed: the subscriptions made over it end without a NOTIFY.
    pub(super) fn closed(&mut self, conn: super::core::ConnId) {
        let gone: Vec<u64> = self
            .subs
            .iter()
            .filter(|(_, s)| matches!(s.peer, Peer::Stream { conn: c, .. } if c == conn))
            .map(|(&id, _)| id)
            .collect();
        for id in gone {
            self.forget(id);
        }
    }

    /// Expired subscriptions, users whose last endpoint went, timed publications.
    pub(super) fn timeout(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        now: Instant,
        wall: SystemTime,
    ) {
        while let Some(&(due, id)) = self.deadlines.first() {
            if due > now {
                break;
            }
            self.deadlines.pop_first();
            let expired = self.subs.get_mut(&id).is_some_and(|s| {
                s.notifier.handle_timeout(now);
                matches!(s.notifier.poll_event(), Some(NotifierEvent::Expired))
            });
            if expired {
                self.end(core, now, id);
            } else if self
                .subs
                .get(&id)
                .and_then(|s| s.notifier.poll_timeout())
                .is_some_and(|d| d > now)
            {
                // Not due after all: keep it listed at its own time.
                self.reschedule(id);
            }
        }
        if self.next_sweep.is_some_and(|t| t > now) {
            return;
        }
        self.next_sweep = Some(now + SWEEP);
        let t = unix(wall);
        let mut touched: Vec<String> = self.online.iter().cloned().collect();
        for (aor, r) in &mut self.users {
            if r.expire(t) {
                touched.push(aor.clone());
            }
        }
        touched.sort();
        touched.dedup();
        for aor in touched {
            if self.settle(registrar, &aor, wall) {
                self.notify_self(core, now, &aor);
                self.notify_watchers(core, now, &aor);
            }
        }
    }

    /// When [`Presence::timeout`] is next due.
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let subs = self.deadlines.first().map(|(d, _)| *d);
        let sweep = self.next_sweep;
        match (subs, sweep) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

fn xml_escape(s: &str) -> String {
    quick_xml::escape::escape(s).into_owned()
}

/// Text for a quoted Warning: no quote, no control character (a line break from the body
/// would become a header line of the answer).
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c == '"' {
                '\''
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// `400` saying what was wrong with the body and where.
fn bad(core: &mut Core, now: Instant, key: TxKey, req: &Message, e: &doc::Error) {
    let warning = format!("399 {} \"{}\"", core.cfg.ntlm_target, clean(&e.to_string()));
    core.reply_with(now, key, req, 400, "Bad Request", &[("Warning", warning)]);
}

/// `directorySearch`: users of the directory whose name holds every value searched for.
fn directory_search(
    core: &mut Core,
    now: Instant,
    key: TxKey,
    req: &Message,
    users: &dyn Directory,
    rows: &[(ByteString, ByteString)],
    max: Option<u32>,
) {
    let max = max.unwrap_or(100).min(100) as usize;
    let wanted: Vec<String> = rows.iter().map(|(_, v)| v.to_ascii_lowercase()).collect();
    let mut found: Vec<String> = users
        .users()
        .into_iter()
        .filter(|u| {
            wanted
                .iter()
                .all(|w| u.to_ascii_lowercase().contains(w.trim_end_matches('*')))
        })
        .collect();
    found.sort();
    let more = found.len() > max;
    found.truncate(max);
    let uris: Vec<String> = found
        .iter()
        .map(|u| format!("sip:{u}@{}", core.cfg.domain))
        .collect();
    let mails: Vec<String> = found
        .iter()
        .map(|u| format!("{u}@{}", core.cfg.domain))
        .collect();
    let entries: Vec<soap::DirectoryEntry<'_>> = found
        .iter()
        .zip(&uris)
        .zip(&mails)
        .map(|((u, uri), mail)| soap::DirectoryEntry {
            uri,
            display_name: u,
            email: mail,
            ..Default::default()
        })
        .collect();
    let mut body = Vec::new();
    soap::write_directory_search_response(&mut body, &entries, more);
    let tag = core.token();
    if let Ok(r) = req
        .response(200, "OK", &tag)
        .body("application/SOAP+xml", &body)
        .build()
    {
        core.respond(now, key, r);
    }
}
