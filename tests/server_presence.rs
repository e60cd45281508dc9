//! The presence application without sockets ([MS-PRES], [MS-SIP] roaming): contact lists
//! answered after the store commits, publications with versions and 409, batched and single
//! subscriptions, the aggregated state fanned out, blocking, subscribers ("who added me"),
//! restart from the store, directory search, and hostile bodies and limits.

#![cfg(feature = "server")]

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use bytestring::ByteString;
use ocs_stack::server::sip::{
    ClearPasswords, Engine, EngineConfig, Outbound, Peer, PresenceLimits, Recorder, StoreOp,
};
use ocs_stack::sip::presence::{self as doc, Limits, rlmi};
use ocs_stack::sip::{HeaderName, Message};

struct Users;
impl ClearPasswords for Users {
    fn password(&self, user: &str) -> Option<String> {
        matches!(user, "alice" | "bob" | "carol" | "dave").then(|| format!("{user}-pw"))
    }
    fn names(&self) -> Vec<String> {
        ["alice", "bob", "carol", "dave"].map(String::from).to_vec()
    }
}

/// An engine on UDP without authentication (every request acts as its From: the
/// authentication of these requests is the generic path, tested in `server_security.rs` and
/// by pidgin-sipe with NTLM), its store commits reported by the test.
struct Test {
    e: Engine,
    io: Recorder,
    cseq: u32,
}

fn port(user: &str) -> u16 {
    match user {
        "alice" => 5071,
        "bob" => 5072,
        "carol" => 5073,
        _ => 5074,
    }
}

fn peer(user: &str) -> Peer {
    Peer::Udp(SocketAddr::from(([127, 0, 0, 1], port(user))))
}

impl Test {
    fn new(limits: PresenceLimits) -> Test {
        let cfg = EngineConfig {
            domain: "contoso.com".into(),
            udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            auth: vec![],
            presence: limits,
            ..EngineConfig::default()
        };
        Test {
            e: Engine::new(cfg, [9; 32], Instant::now()),
            io: Recorder {
                defer_commits: true,
                ..Recorder::default()
            },
            cseq: 1,
        }
    }

    /// Sends `m` from `user`; what went out (store writes left uncommitted).
    fn send(&mut self, user: &str, m: &str) -> Vec<Message> {
        let m = Message::parse(Bytes::from(m.replace('\n', "\r\n"))).unwrap();
        self.e
            .handle(Instant::now(), SystemTime::now(), m, peer(user), &Users);
        self.drain()
    }

    fn drain(&mut self) -> Vec<Message> {
        self.e.pump(Instant::now(), &mut self.io);
        std::mem::take(&mut self.io.sent)
            .iter()
            .map(|o: &Outbound| Message::parse(o.bytes.clone()).unwrap())
            .collect()
    }

    /// Commits every store write so far; what that released.
    fn commit(&mut self) -> Vec<Message> {
        let last = self.io.stored.iter().map(|(t, _)| *t).max();
        if let Some(t) = last {
            self.e.committed(Instant::now(), t);
        }
        self.drain()
    }

    fn request(
        &mut self,
        user: &str,
        method: &str,
        to: &str,
        extra: &str,
        ct: &str,
        body: &str,
    ) -> Vec<Message> {
        self.cseq += 1;
        let (c, p) = (self.cseq, port(user));
        let ct = if body.is_empty() {
            String::new()
        } else {
            format!("Content-Type: {ct}\n")
        };
        let m = format!(
            "{method} sip:{to} SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bK{method}{c}
Max-Forwards: 70
From: <sip:{user}@contoso.com>;tag=t{user}{c};epid=e{user}
To: <sip:{to}>
Call-ID: {method}-{user}-{c}
CSeq: 1 {method}
Contact: <sip:{user}@127.0.0.1:{p}>
{extra}{ct}Content-Length: {}

{body}",
            body.len()
        );
        self.send(user, &m)
    }

    fn register(&mut self, user: &str, expires: u32) -> Vec<Message> {
        let p = port(user);
        self.cseq += 1;
        let c = self.cseq;
        let m = format!(
            "REGISTER sip:contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:{p};branch=z9hG4bKreg{c}
Max-Forwards: 70
From: <sip:{user}@contoso.com>;tag=r{user};epid=e{user}
To: <sip:{user}@contoso.com>
Call-ID: reg-{user}
CSeq: {c} REGISTER
Contact: <sip:{user}@127.0.0.1:{p}>
Expires: {expires}
Content-Length: 0

"
        );
        let mut out = self.send(user, &m);
        out.extend(self.commit());
        out
    }

    fn subscribe(
        &mut self,
        user: &str,
        to: &str,
        event: &str,
        ct: &str,
        body: &str,
    ) -> Vec<Message> {
        self.request(
            user,
            "SUBSCRIBE",
            to,
            &format!("Event: {event}\nSupported: ms-benotify\nExpires: 3600\n"),
            ct,
            body,
        )
    }

    fn soap(&mut self, user: &str, op: &str) -> Vec<Message> {
        let body = format!(
            r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip"><s:Body>{op}</s:Body></s:Envelope>"#
        );
        self.request(
            user,
            "SERVICE",
            &format!("{user}@contoso.com"),
            "",
            "application/SOAP+xml",
            &body,
        )
    }

    fn service(&mut self, user: &str, ct: &str, body: &str) -> Vec<Message> {
        self.request(
            user,
            "SERVICE",
            &format!("{user}@contoso.com"),
            "",
            ct,
            body,
        )
    }
}

fn text(m: &Message) -> ByteString {
    doc::text(m.body().clone()).unwrap()
}

fn status(out: &[Message]) -> Vec<u16> {
    out.iter().filter_map(Message::status).collect()
}

fn the_response(out: &[Message]) -> &Message {
    out.iter()
        .find(|m| m.status().is_some())
        .expect("a response")
}

/// The availability each notification (or piggybacked answer) in `out` gives for `who`.
fn availability_of(out: &[Message], who: &str) -> Vec<u32> {
    let mut seen = Vec::new();
    for m in out {
        let ct = m
            .header(HeaderName::ContentType)
            .map(|h| h.value.to_owned())
            .unwrap_or_default();
        let docs: Vec<ByteString> = if let Some(b) = rlmi::boundary(&ct) {
            rlmi::parts(m.body(), b, 64)
                .unwrap()
                .into_iter()
                .filter(|p| {
                    p.content_type.as_deref()
                        == Some(&b"application/msrtc-event-categories+xml"[..])
                })
                .map(|p| doc::text(p.body).unwrap())
                .collect()
        } else if ct.starts_with("application/msrtc-event-categories+xml") {
            vec![text(m)]
        } else {
            continue;
        };
        for d in docs {
            let c = doc::Categories::parse(&d, &Limits::default()).unwrap();
            if &*c.uri != who {
                continue;
            }
            for cat in &c.categories {
                if let Some(st) = cat.state(&Limits::default()).unwrap()
                    && &*st.kind == "aggregateState"
                {
                    seen.push(st.availability.unwrap());
                }
            }
        }
    }
    seen
}

const ROAMING_LIST: &str = r#"<roamingList xmlns="http://schemas.microsoft.com/2006/09/sip/roaming-self"><roaming type="categories"/><roaming type="containers"/><roaming type="subscribers"/></roamingList>"#;

fn batch(owner: &str, uris: &[&str]) -> String {
    let resources: String = uris
        .iter()
        .map(|u| format!("<resource uri=\"{u}\"/>"))
        .collect();
    format!(
        r#"<batchSub xmlns="http://schemas.microsoft.com/2006/01/sip/batch-subscribe" uri="sip:{owner}@contoso.com" name=""><action name="subscribe" id="63792024"><adhocList>{resources}</adhocList><categoryList xmlns="http://schemas.microsoft.com/2006/09/sip/categorylist"><category name="state"/><category name="note"/></categoryList></action></batchSub>"#
    )
}

fn user_state(version: u32, availability: u32) -> String {
    format!(
        r#"<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence"><publications uri="sip:alice@contoso.com"><publication categoryName="state" instance="536870912" container="2" version="{version}" expireType="static"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" manual="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="userState"><availability>{availability}</availability></state></publication><publication categoryName="note" instance="0" container="200" version="{version}" expireType="static"><note xmlns="http://schemas.microsoft.com/2006/09/sip/note"><body type="personal" uri="">back at 3</body></note></publication></publications></publish>"#
    )
}

/// The latest contact list and roaming data written: (AOR, `contactList`, `roamingData`).
fn latest_roaming(stored: &[(u64, StoreOp)]) -> (String, String, String) {
    stored
        .iter()
        .rev()
        .find_map(|(_, op)| match op {
            StoreOp::Roaming {
                aor,
                contacts,
                data,
            } => Some((aor.clone(), contacts.clone(), data.clone())),
            _ => None,
        })
        .expect("a roaming write")
}

#[test]
fn the_contact_list_is_acknowledged_after_the_store_commits() {
    let mut t = Test::new(PresenceLimits::default());
    t.register("alice", 3600);
    // The first state comes in the 200 (ms-piggyback-cseq, Event), as pidgin-sipe reads it.
    let out = t.subscribe(
        "alice",
        "alice@contoso.com",
        "vnd-microsoft-roaming-contacts",
        "",
        "",
    );
    let ok = the_response(&out);
    assert_eq!(ok.status(), Some(200));
    assert!(
        ok.headers()
            .any(|h| h.name.eq_ignore_ascii_case("ms-piggyback-cseq"))
    );
    assert_eq!(
        ok.header(HeaderName::Event).map(|h| h.value),
        Some("vnd-microsoft-roaming-contacts")
    );
    let doc::ContactList::Full {
        groups, contacts, ..
    } = doc::ContactList::parse(&text(ok), &Limits::default()).unwrap()
    else {
        panic!("a full list first")
    };
    assert!(groups.is_empty() && contacts.is_empty());

    // addGroup: nothing before the commit, then the 200 with the group id and the delta.
    let out = t.soap("alice", "<m:addGroup><m:name>Friends</m:name><m:externalURI /><m:deltaNum>1</m:deltaNum></m:addGroup>");
    assert!(out.is_empty(), "answered before the commit: {out:?}");
    assert!(
        matches!(t.io.stored.last(), Some((_, StoreOp::Roaming { aor, .. })) if aor == "sip:alice@contoso.com")
    );
    let out = t.commit();
    let ok = the_response(&out);
    assert!(
        text(ok).contains("<m:groupID>1</m:groupID>"),
        "{}",
        text(ok)
    );
    let notify = out
        .iter()
        .find(|m| m.is_request())
        .expect("the delta to alice's endpoint");
    let delta = doc::ContactList::parse(&text(notify), &Limits::default()).unwrap();
    assert!(
        matches!(&delta, doc::ContactList::Delta { added_groups, .. } if &*added_groups[0].name == "Friends")
    );

    t.soap("alice", "<m:setContact><m:displayName>Bob</m:displayName><m:groups>1</m:groups><m:subscribed>true</m:subscribed><m:URI>sip:bob@contoso.com</m:URI><m:externalURI /><m:deltaNum>2</m:deltaNum></m:setContact>");
    t.commit();
    t.soap("alice", "<m:modifyGroup><m:groupID>1</m:groupID><m:name>Pals</m:name><m:externalURI /><m:deltaNum>3</m:deltaNum></m:modifyGroup>");
    let out = t.commit();
    assert_eq!(status(&out), [200]);
    let list = t.e.contact_list("sip:alice@contoso.com").unwrap();
    let doc::ContactList::Full {
        groups,
        contacts,
        delta_num,
        ..
    } = &list
    else {
        panic!()
    };
    assert_eq!(
        (
            &*groups[0].name,
            &*contacts[0].uri,
            contacts[0].groups.as_slice()
        ),
        ("Pals", "bob@contoso.com", &[1][..])
    );
    assert_eq!(*delta_num, 4);

    // What the store keeps is enough for a new engine (a restart).
    let (aor, contacts, data) = latest_roaming(&t.io.stored);
    let mut again = Test::new(PresenceLimits::default());
    again.e.load_roaming(&aor, &contacts, &data).unwrap();
    assert_eq!(again.e.contact_list("sip:alice@contoso.com"), Some(list));

    // An unknown group is 404; a contact removed leaves the list.
    let out = t.soap(
        "alice",
        "<m:deleteGroup><m:groupID>9</m:groupID><m:deltaNum>4</m:deltaNum></m:deleteGroup>",
    );
    assert_eq!(status(&out), [404]);
    t.soap("alice", "<m:deleteContact><m:URI>sip:bob@contoso.com</m:URI><m:deltaNum>4</m:deltaNum></m:deleteContact>");
    t.commit();
    t.soap(
        "alice",
        "<m:deleteGroup><m:groupID>1</m:groupID><m:deltaNum>5</m:deltaNum></m:deleteGroup>",
    );
    t.commit();
    let doc::ContactList::Full {
        groups, contacts, ..
    } = t.e.contact_list("sip:alice@contoso.com").unwrap()
    else {
        panic!()
    };
    assert!(groups.is_empty() && contacts.is_empty());

    // Another front end of a pool took the first copy at start; the store announces each
    // later write, and its copy becomes the stored one (the next change there starts from it).
    let (aor, contacts, data) = latest_roaming(&t.io.stored);
    assert_ne!(
        again.e.contact_list("sip:alice@contoso.com"),
        t.e.contact_list("sip:alice@contoso.com")
    );
    again.e.remote_roaming(&aor, &contacts, &data).unwrap();
    assert_eq!(
        again.e.contact_list("sip:alice@contoso.com"),
        t.e.contact_list("sip:alice@contoso.com")
    );
    assert!(again.e.remote_roaming(&aor, "<not xml", &data).is_err());
    assert_eq!(
        again.e.contact_list("sip:alice@contoso.com"),
        t.e.contact_list("sip:alice@contoso.com"),
        "a document that does not parse leaves the copy as it was"
    );
}

#[test]
fn publications_carry_versions_and_a_stale_one_is_a_409() {
    let mut t = Test::new(PresenceLimits::default());
    t.register("alice", 3600);
    let out = t.subscribe(
        "alice",
        "alice@contoso.com",
        "vnd-microsoft-roaming-self",
        "application/vnd-microsoft-roaming-self+xml",
        ROAMING_LIST,
    );
    let first = doc::RoamingData::parse(&text(the_response(&out)), &Limits::default()).unwrap();
    // Default containers: colleagues see 200, federated users 100, 32000 blocks.
    let ids: Vec<u32> = first.containers.unwrap().iter().map(|c| c.id).collect();
    assert_eq!(ids, [100, 200, 300, 400, 32000]);

    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(0, 6500),
    );
    assert!(
        t.drain().is_empty(),
        "a static publication is answered once stored"
    );
    let out = t.commit();
    assert_eq!(status(&out), [200]);
    // alice's roaming-self learns the new versions (sipe publishes with them next).
    let notify = out.iter().find(|m| m.is_request()).unwrap();
    let d = doc::RoamingData::parse(&text(notify), &Limits::default()).unwrap();
    let cats = d.categories.unwrap().categories;
    let user = cats
        .iter()
        .find(|c| c.instance == Some(0x2000_0000))
        .unwrap();
    assert_eq!(user.version, Some(1));
    let agg = cats
        .iter()
        .find(|c| c.container == Some(2) && c.instance == Some(1))
        .unwrap();
    assert_eq!(
        agg.state(&Limits::default()).unwrap().unwrap().availability,
        Some(6500)
    );

    // The same version again is stale: 409 with the current version of each, nothing applied.
    let out = t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(0, 15500),
    );
    let r = the_response(&out);
    assert_eq!(r.status(), Some(409));
    assert!(
        r.header(HeaderName::ContentType)
            .unwrap()
            .value
            .starts_with("application/msrtc-fault+xml")
    );
    let fault = text(r);
    assert!(
        fault.contains("<Faultcode>Client.BadCall.WrongDelta</Faultcode>"),
        "{fault}"
    );
    assert!(
        fault.contains(r#"<operation index="1" curVersion="1"/>"#)
            && fault.contains(r#"<operation index="2" curVersion="1"/>"#),
        "{fault}"
    );
    // With the current version it goes through.
    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(1, 15500),
    );
    assert_eq!(status(&t.commit()), [200]);
    // Publishing at someone else's address is refused.
    let out = t.request(
        "alice",
        "SERVICE",
        "bob@contoso.com",
        "",
        "application/msrtc-category-publish+xml",
        &user_state(0, 3500),
    );
    assert_eq!(status(&out), [403]);
}

#[test]
fn watchers_see_the_aggregate_by_container_and_a_blocked_one_sees_offline() {
    let mut t = Test::new(PresenceLimits::default());
    for u in ["alice", "bob", "carol"] {
        t.register(u, 3600);
    }
    t.subscribe(
        "alice",
        "alice@contoso.com",
        "vnd-microsoft-roaming-self",
        "application/vnd-microsoft-roaming-self+xml",
        ROAMING_LIST,
    );
    // bob: a batched subscription to himself naming alice; carol: one to alice's address.
    let out = t.subscribe(
        "bob",
        "bob@contoso.com",
        "presence",
        "application/msrtc-adrl-categorylist+xml",
        &batch("bob", &["sip:alice@contoso.com", "sip:nobody@contoso.com"]),
    );
    assert_eq!(status(&out), [200]);
    assert_eq!(
        availability_of(&out, "sip:alice@contoso.com"),
        [3500],
        "online, nothing published"
    );
    assert_eq!(
        availability_of(&out, "sip:nobody@contoso.com"),
        [18500],
        "an unknown address is offline"
    );
    let out = t.subscribe("carol", "alice@contoso.com", "presence", "", "");
    assert_eq!(availability_of(&out, "sip:alice@contoso.com"), [3500]);
    // alice learns of her new subscribers (committed first).
    let out = t.commit();
    let subs: BTreeSet<String> = out
        .iter()
        .filter(|m| m.is_request())
        .filter_map(|m| {
            doc::RoamingData::parse(&text(m), &Limits::default())
                .ok()?
                .subscribers
        })
        .flatten()
        .map(|s| s.user.to_string())
        .collect();
    assert_eq!(
        subs,
        BTreeSet::from(["bob@contoso.com".to_owned(), "carol@contoso.com".to_owned()])
    );

    // alice goes away: both watchers hear it (bob as multipart, carol as categories).
    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(0, 15500),
    );
    let out = t.commit();
    assert_eq!(
        availability_of(&out, "sip:alice@contoso.com"),
        [15500, 15500]
    );
    // Her note is in container 200, which colleagues see.
    assert!(
        out.iter()
            .any(|m| String::from_utf8_lossy(m.body()).contains("back at 3"))
    );

    // alice blocks bob: bob sees her offline, carol still away.
    let pre = t.service(
        "alice",
        "application/msrtc-setcontainermembers+xml",
        r#"<setContainerMembers xmlns="http://schemas.microsoft.com/2006/09/sip/container-management"><container id="32000" version="0"><member action="add" type="user" value="bob@contoso.com"/></container></setContainerMembers>"#,
    );
    assert!(pre.is_empty(), "nothing before the commit");
    let out = t.commit();
    let to = |who: &str| -> Vec<Message> {
        out.iter()
            .filter(|m| {
                m.is_request()
                    && m.request_uri()
                        .unwrap()
                        .unwrap()
                        .to_string()
                        .contains(&format!("{who}@"))
            })
            .cloned()
            .collect()
    };
    assert_eq!(
        availability_of(&to("bob"), "sip:alice@contoso.com"),
        [18500]
    );
    assert!(
        !to("bob")
            .iter()
            .any(|m| String::from_utf8_lossy(m.body()).contains("back at 3")),
        "a blocked watcher sees no note"
    );
    assert_eq!(
        availability_of(&to("carol"), "sip:alice@contoso.com"),
        [15500]
    );

    // The 2005 form (setACE) unblocks him again: he sees her away.
    t.soap("alice", "<m:setACE><m:type>USER</m:type><m:mask>bob@contoso.com</m:mask><m:rights>AA</m:rights><m:deltaNum>1</m:deltaNum></m:setACE>");
    let out = t.commit();
    assert_eq!(
        availability_of(&out, "sip:alice@contoso.com"),
        [15500, 15500]
    );

    // alice signs out: carol sees her offline.
    let out = t.register("alice", 0);
    assert_eq!(
        availability_of(&out, "sip:alice@contoso.com"),
        [18500, 18500]
    );
}

#[test]
fn a_subscriber_is_acknowledged() {
    let mut t = Test::new(PresenceLimits::default());
    t.register("alice", 3600);
    t.register("bob", 3600);
    t.subscribe(
        "alice",
        "alice@contoso.com",
        "vnd-microsoft-roaming-self",
        "application/vnd-microsoft-roaming-self+xml",
        ROAMING_LIST,
    );
    t.subscribe("bob", "alice@contoso.com", "presence", "", "");
    t.commit();
    // The 2005 form of "who added me" lists bob too.
    let out = t.subscribe("alice", "alice@contoso.com", "presence.wpending", "", "");
    assert!(
        String::from_utf8_lossy(the_response(&out).body())
            .contains(r#"<watcher uri="sip:bob@contoso.com""#)
    );
    t.service(
        "alice",
        "application/msrtc-presence-setsubscriber+xml",
        r#"<setSubscribers xmlns="http://schemas.microsoft.com/2006/09/sip/presence-subscribers"><subscriber user="bob@contoso.com" acknowledged="true"/></setSubscribers>"#,
    );
    let out = t.commit();
    assert_eq!(status(&out), [200]);
    let d = out
        .iter()
        .filter(|m| m.is_request())
        .find_map(|m| doc::RoamingData::parse(&text(m), &Limits::default()).ok())
        .unwrap();
    assert!(d.subscribers.unwrap()[0].acknowledged);
    let out = t.subscribe("alice", "alice@contoso.com", "presence.wpending", "", "");
    assert!(!String::from_utf8_lossy(the_response(&out).body()).contains("bob"));
}

#[test]
fn directory_search_finds_users() {
    let mut t = Test::new(PresenceLimits::default());
    let body = r##"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip"><s:Body><m:directorySearch><m:filter m:href="#searchArray"/><m:maxResults>100</m:maxResults></m:directorySearch><m:Array m:id="searchArray"><m:row m:attrib="givenName" m:value="car"/></m:Array></s:Body></s:Envelope>"##;
    let out = t.request(
        "alice",
        "SERVICE",
        "contoso.com",
        "",
        "application/SOAP+xml",
        body,
    );
    let r = the_response(&out);
    assert_eq!(r.status(), Some(200));
    let b = text(r);
    assert!(
        b.contains(r#"m:uri="sip:carol@contoso.com""#) && !b.contains("bob"),
        "{b}"
    );
}

#[test]
fn hostile_bodies_and_limits_are_refused() {
    let mut t = Test::new(PresenceLimits {
        max_contacts: 2,
        max_batch: 3,
        ..PresenceLimits::default()
    });
    t.register("alice", 3600);
    // A body that is not the document: 400 saying what and where.
    let out = t.soap("alice", "<m:setContact><m:URI>sip:x@contoso.com</m:URI>");
    let r = the_response(&out);
    assert_eq!(r.status(), Some(400));
    let w = r.header(HeaderName::Warning).unwrap().value;
    assert!(w.contains("at byte"), "{w}");
    let out = t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        "<!DOCTYPE x [<!ENTITY a \"a\">]><publish/>",
    );
    assert_eq!(status(&out), [400]);
    // The contact limit (the refusal needs no commit).
    let mut out = Vec::new();
    for (i, u) in ["bob", "carol", "dave"].iter().enumerate() {
        out.extend(t.soap("alice", &format!("<m:setContact><m:displayName/><m:groups/><m:subscribed>true</m:subscribed><m:URI>sip:{u}@contoso.com</m:URI><m:deltaNum>{i}</m:deltaNum></m:setContact>")));
    }
    assert_eq!(status(&out), [403]);
    assert_eq!(status(&t.commit()), [200, 200]);
    // The batch limit.
    let out = t.subscribe(
        "alice",
        "alice@contoso.com",
        "presence",
        "application/msrtc-adrl-categorylist+xml",
        &batch(
            "alice",
            &[
                "sip:a@contoso.com",
                "sip:b@contoso.com",
                "sip:c@contoso.com",
                "sip:d@contoso.com",
            ],
        ),
    );
    assert_eq!(status(&out), [413]);
    // Another user's roaming data is not to be had.
    let out = t.subscribe(
        "alice",
        "bob@contoso.com",
        "vnd-microsoft-roaming-contacts",
        "",
        "",
    );
    assert_eq!(status(&out), [403]);
    let out = t.request("alice", "SERVICE", "bob@contoso.com", "", "application/SOAP+xml", r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><deleteGroup><groupID>1</groupID></deleteGroup></s:Body></s:Envelope>"#);
    assert_eq!(status(&out), [403]);
    // Subscribing to many unknown addresses leaves no state behind: the answer is "offline".
    let out = t.subscribe(
        "alice",
        "alice@contoso.com",
        "presence",
        "application/msrtc-adrl-categorylist+xml",
        &batch("alice", &["sip:x1@contoso.com", "sip:x2@fabrikam.com"]),
    );
    assert_eq!(availability_of(&out, "sip:x2@fabrikam.com"), [18500]);
    assert!(
        t.io.stored
            .iter()
            .all(|(_, op)| !matches!(op, StoreOp::Roaming { aor, .. } if aor.contains("x1")))
    );
}

#[test]
fn review_cases_aliases_fetches_dialogs_and_relayed_content() {
    let mut t = Test::new(PresenceLimits::default());
    for u in ["alice", "bob", "carol"] {
        t.register(u, 3600);
    }
    t.service(
        "alice",
        "application/msrtc-setcontainermembers+xml",
        r#"<setContainerMembers xmlns="http://schemas.microsoft.com/2006/09/sip/container-management"><container id="32000" version="0"><member action="add" type="user" value="bob@contoso.com"/></container></setContainerMembers>"#,
    );
    t.commit();
    // bob, blocked, writes his From with the server's address instead of the domain: he is
    // still bob, and still blocked.
    let out = t.send(
        "bob",
        "SUBSCRIBE sip:alice@contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKalias1
Max-Forwards: 70
From: <sip:bob@127.0.0.1:5060>;tag=alias1
To: <sip:alice@contoso.com>
Call-ID: alias-1
CSeq: 1 SUBSCRIBE
Contact: <sip:bob@127.0.0.1:5072>
Event: presence
Content-Length: 0

",
    );
    assert_eq!(availability_of(&out, "sip:alice@contoso.com"), [18500]);

    // A fetch (Expires: 0) answers with the state and keeps no subscription.
    let out = t.request(
        "carol",
        "SUBSCRIBE",
        "alice@contoso.com",
        "Event: presence\nExpires: 0\n",
        "",
        "",
    );
    let ok = the_response(&out);
    assert!(
        ok.header(HeaderName::SubscriptionState)
            .unwrap()
            .value
            .starts_with("terminated")
    );
    assert_eq!(availability_of(&out, "sip:alice@contoso.com"), [3500]);
    // carol's real subscription (NOTIFY, not BENOTIFY: she does not offer it), and the state
    // that follows the piggybacked one takes the next CSeq of the dialog.
    let out = t.request(
        "carol",
        "SUBSCRIBE",
        "alice@contoso.com",
        "Event: presence\nExpires: 3600\n",
        "",
        "",
    );
    let piggy: u32 = the_response(&out)
        .headers()
        .find(|h| h.name.eq_ignore_ascii_case("ms-piggyback-cseq"))
        .unwrap()
        .value
        .parse()
        .unwrap();
    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(0, 6500),
    );
    let out = t.commit();
    let to_carol: Vec<&Message> = out
        .iter()
        .filter(|m| {
            m.is_request()
                && m.request_uri()
                    .unwrap()
                    .unwrap()
                    .to_string()
                    .contains("carol@")
        })
        .collect();
    assert_eq!(to_carol.len(), 1);
    assert_eq!(to_carol[0].cseq().unwrap().seq, piggy + 1);
    // The blocked bob heard "offline" once; alice's change is not news to him.
    assert!(!out.iter().any(|m| {
        m.is_request()
            && m.request_uri()
                .unwrap()
                .unwrap()
                .to_string()
                .contains("bob@")
    }));

    // carol's client says the dialog is gone (481): the subscription ends, nothing more is sent.
    let notify = to_carol[0].clone();
    let gone = notify
        .response(481, "Call/Transaction Does Not Exist", "c481")
        .build()
        .unwrap();
    t.e.handle(
        Instant::now(),
        SystemTime::now(),
        gone,
        peer("carol"),
        &Users,
    );
    t.drain();
    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &user_state(1, 9500),
    );
    let out = t.commit();
    assert!(!out.iter().any(|m| {
        m.is_request()
            && m.request_uri()
                .unwrap()
                .unwrap()
                .to_string()
                .contains("carol@")
    }));
    // A refresh of a dialog the server does not know is 481 (the client subscribes anew).
    let out = t.send(
        "carol",
        "SUBSCRIBE sip:127.0.0.1:5060 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5073;branch=z9hG4bKstale
Max-Forwards: 70
From: <sip:carol@contoso.com>;tag=stale
To: <sip:alice@contoso.com>;tag=gone
Call-ID: no-such-dialog
CSeq: 7 SUBSCRIBE
Event: presence
Content-Length: 0

",
    );
    assert_eq!(status(&out), [481]);

    // Content relayed to watchers must stand alone: an undeclared prefix, a comment.
    for content in [
        "<x:state><availability>3500</availability></x:state>",
        "<state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\"><!-- hi --></state>",
    ] {
        let body = format!(
            r#"<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence" xmlns:x="urn:x"><publications uri="sip:alice@contoso.com"><publication categoryName="note" instance="7" container="200" version="0" expireType="static">{content}</publication></publications></publish>"#
        );
        let out = t.service("alice", "application/msrtc-category-publish+xml", &body);
        assert_eq!(status(&out), [400], "{content}");
    }
}

#[test]
fn a_batch_takes_contacts_in_and_out_in_its_dialog() {
    let mut t = Test::new(PresenceLimits::default());
    for u in ["alice", "bob", "carol"] {
        t.register(u, 3600);
    }
    let sub = |extra: &str, to_tag: &str, cseq: u32, body: &str| {
        format!(
            "SUBSCRIBE sip:bob@contoso.com SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:5072;branch=z9hG4bKbatch{cseq}
Max-Forwards: 70
From: <sip:bob@contoso.com>;tag=bb
To: <sip:bob@contoso.com>{to_tag}
Call-ID: batch-dialog
CSeq: {cseq} SUBSCRIBE
Contact: <sip:bob@127.0.0.1:5072>
Event: presence
{extra}Content-Type: application/msrtc-adrl-categorylist+xml
Content-Length: {}

{body}",
            body.len()
        )
    };
    let out = t.send(
        "bob",
        &sub("", "", 1, &batch("bob", &["sip:alice@contoso.com"])),
    );
    let tag = the_response(&out).to().unwrap().tag().unwrap().to_owned();
    // carol joins the batch in the dialog (as pidgin-sipe adds a buddy), alice leaves it.
    let more = batch("bob", &["sip:carol@contoso.com"]);
    let out = t.send("bob", &sub("", &format!(";tag={tag}"), 2, &more));
    assert_eq!(availability_of(&out, "sip:carol@contoso.com"), [3500]);
    let less = batch("bob", &["sip:alice@contoso.com"])
        .replace("name=\"subscribe\"", "name=\"unsubscribe\"");
    let out = t.send("bob", &sub("", &format!(";tag={tag}"), 3, &less));
    assert_eq!(status(&out), [200]);
    t.commit();
    let publish = |who: &str| user_state(0, 6500).replace("sip:alice@", &format!("sip:{who}@"));
    t.request(
        "carol",
        "SERVICE",
        "carol@contoso.com",
        "",
        "application/msrtc-category-publish+xml",
        &publish("carol"),
    );
    let out = t.commit();
    assert_eq!(availability_of(&out, "sip:carol@contoso.com"), [6500]);
    t.service(
        "alice",
        "application/msrtc-category-publish+xml",
        &publish("alice"),
    );
    let out = t.commit();
    assert!(
        availability_of(&out, "sip:alice@contoso.com").is_empty(),
        "alice left bob's batch"
    );
}
