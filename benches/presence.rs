//! The presence application ([MS-PRES]) of the reference server, through the sans-IO engine
//! (parse of the incoming request, the application, every outgoing message built and signed
//! where a security association exists — here none: TCP streams without authentication):
//!
//! - **fan-out**: one state change of alice (a machine-state publication, 3500 ↔ 15500)
//!   notified to 1,000 watchers, each with its own subscription (BENOTIFY, as Communicator and
//!   pidgin-sipe negotiate it);
//! - **batch subscribe**: one batched SUBSCRIBE (`msrtc-adrl-categorylist+xml`) for 200
//!   contacts, answered with their state piggybacked (a 200 with a multipart/related body of
//!   201 parts); the subscription is dropped with its connection after each iteration.
//!
//! Before the timed runs it measures the resident memory per signed-in user with 100
//! contacts: 1,000 users, each registered, with a 100-contact list added through SOAP
//! `setContact`, its roaming-contacts and roaming-self subscriptions, a batched presence
//! subscription to its 100 contacts and its machine and user states published, and prints it.
//! No peer does this job in-process; the figures stand alone.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ocs_stack::server::sip::{
    ClearPasswords, Engine, EngineConfig, Peer, PresenceLimits, Recorder,
};
use ocs_stack::sip::Message;

/// Counts live heap bytes (the resident size also holds the allocator's free lists).
#[global_allocator]
static HEAP: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

struct Users;
impl ClearPasswords for Users {
    fn password(&self, user: &str) -> Option<String> {
        user.starts_with('u').then(|| "pw".to_owned())
    }
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<usize>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn engine(now: Instant) -> Engine {
    let cfg = EngineConfig {
        domain: "contoso.com".into(),
        udp_addr: Some("127.0.0.1:5060".parse().unwrap()),
        tcp_addr: Some("127.0.0.1:5060".parse().unwrap()),
        auth: vec![],
        max_transactions: 10_000_000,
        presence: PresenceLimits {
            max_subscriptions: 1_000_000,
            ..PresenceLimits::default()
        },
        ..EngineConfig::default()
    };
    Engine::new(cfg, [3; 32], now)
}

fn stream(conn: u64) -> Peer {
    Peer::Stream {
        conn,
        addr: SocketAddr::from(([127, 0, 0, 1], (1024 + conn % 60000) as u16)),
        tls: false,
    }
}

/// A request from `user` (`u<n>`); Call-ID and branch unique by `id`.
fn request(
    user: &str,
    id: u64,
    method: &str,
    to: &str,
    extra: &str,
    ct: &str,
    body: &str,
) -> Message {
    let ct = if body.is_empty() {
        String::new()
    } else {
        format!("Content-Type: {ct}\r\n")
    };
    Message::parse(Bytes::from(format!(
        "{method} sip:{to} SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:7000;branch=z9hG4bK{id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@contoso.com>;tag=t{id};epid=e{user}\r\nTo: <sip:{to}>\r\n\
         Call-ID: c{id}\r\nCSeq: 1 {method}\r\nContact: <sip:{user}@127.0.0.1:7000;transport=tcp>\r\n\
         {extra}{ct}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )))
    .unwrap()
}

struct Load {
    e: Engine,
    io: Recorder,
    now: Instant,
    id: u64,
}

impl Load {
    fn send(&mut self, m: Message, peer: Peer) -> usize {
        self.id += 1;
        self.e.handle(self.now, SystemTime::now(), m, peer, &Users);
        self.e.pump(self.now, &mut self.io);
        let n = self.io.sent.len();
        self.io.sent.clear();
        self.io.stored.clear();
        n
    }

    fn register(&mut self, user: &str, peer: Peer) {
        let id = self.id;
        let m = request(
            user,
            id,
            "REGISTER",
            &format!("{user}@contoso.com"),
            "Expires: 3600\r\n",
            "",
            "",
        );
        self.send(m, peer);
    }

    fn publish(&mut self, user: &str, peer: Peer, version: u32, availability: u32) -> usize {
        let body = format!(
            r#"<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence"><publications uri="sip:{user}@contoso.com"><publication categoryName="state" instance="806391354" container="2" version="{version}" expireType="endpoint"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" manual="false" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="machineState"><availability>{availability}</availability></state></publication></publications></publish>"#
        );
        let id = self.id;
        let m = request(
            user,
            id,
            "SERVICE",
            &format!("{user}@contoso.com"),
            "",
            "application/msrtc-category-publish+xml",
            &body,
        );
        self.send(m, peer)
    }

    fn subscribe(
        &mut self,
        user: &str,
        peer: Peer,
        to: &str,
        event: &str,
        ct: &str,
        body: &str,
    ) -> usize {
        let id = self.id;
        let m = request(
            user,
            id,
            "SUBSCRIBE",
            to,
            &format!("Event: {event}\r\nSupported: ms-benotify\r\n"),
            ct,
            body,
        );
        self.send(m, peer)
    }
}

fn batch(owner: &str, contacts: impl Iterator<Item = String>) -> String {
    let resources: String = contacts
        .map(|u| format!("<resource uri=\"sip:{u}@contoso.com\"/>\n"))
        .collect();
    format!(
        "<batchSub xmlns=\"http://schemas.microsoft.com/2006/01/sip/batch-subscribe\" uri=\"sip:{owner}@contoso.com\" name=\"\">\n<action name=\"subscribe\" id=\"63792024\">\n<adhocList>\n{resources}</adhocList>\n<categoryList xmlns=\"http://schemas.microsoft.com/2006/09/sip/categorylist\">\n<category name=\"calendarData\"/>\n<category name=\"contactCard\"/>\n<category name=\"note\"/>\n<category name=\"state\"/>\n</categoryList>\n</action>\n</batchSub>"
    )
}

/// Resident and live heap bytes per signed-in user with 100 contacts (see the module
/// documentation).
fn memory_per_user(users: u64) -> (usize, usize) {
    let now = Instant::now();
    let mut l = Load {
        e: engine(now),
        io: Recorder::default(),
        now,
        id: 1,
    };
    let before = resident_bytes();
    let heap_before = ocs_alloc_counter::live_bytes();
    for u in 0..users {
        let name = format!("u{u}");
        let p = stream(u);
        l.register(&name, p);
        l.subscribe(
            &name,
            p,
            &format!("{name}@contoso.com"),
            "vnd-microsoft-roaming-contacts",
            "",
            "",
        );
        l.subscribe(
            &name,
            p,
            &format!("{name}@contoso.com"),
            "vnd-microsoft-roaming-self",
            "application/vnd-microsoft-roaming-self+xml",
            r#"<roamingList xmlns="http://schemas.microsoft.com/2006/09/sip/roaming-self"><roaming type="categories"/><roaming type="containers"/><roaming type="subscribers"/></roamingList>"#,
        );
        for c in 1..=100 {
            let contact = (u + c) % users;
            let body = format!(
                r#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip"><s:Body><m:setContact><m:displayName>User {contact}</m:displayName><m:groups></m:groups><m:subscribed>true</m:subscribed><m:URI>sip:u{contact}@contoso.com</m:URI><m:externalURI /><m:deltaNum>{c}</m:deltaNum></m:setContact></s:Body></s:Envelope>"#
            );
            let id = l.id;
            let m = request(
                &name,
                id,
                "SERVICE",
                &format!("{name}@contoso.com"),
                "",
                "application/SOAP+xml",
                &body,
            );
            l.send(m, p);
        }
        l.publish(&name, p, 0, 3500);
        let contacts = (1..=100).map(|c| format!("u{}", (u + c) % users));
        l.subscribe(
            &name,
            p,
            &format!("{name}@contoso.com"),
            "presence",
            "application/msrtc-adrl-categorylist+xml",
            &batch(&name, contacts),
        );
    }
    // Answered server transactions end (TCP: at once) and the NOTIFYs' client transactions time
    // out unanswered (64·T1); what is left is the users' state and subscriptions.
    for s in [1, 40] {
        l.now = now + Duration::from_secs(s);
        l.e.handle_timeout(l.now, SystemTime::now(), &Users);
        l.e.pump(l.now, &mut l.io);
        l.io.sent.clear();
    }
    let after = resident_bytes();
    let heap = ocs_alloc_counter::live_bytes().saturating_sub(heap_before);
    let per = after.saturating_sub(before) / users as usize;
    black_box(&l.e);
    (per, heap / users as usize)
}

fn bench(c: &mut Criterion) {
    let users = 1000;
    let (per, heap) = memory_per_user(users);
    println!(
        "presence: per signed-in user with 100 contacts ({users} users, each with its list, 3 \
         subscriptions and its state): resident {} KiB, live heap {} KiB",
        per / 1024,
        heap / 1024
    );

    // Fan-out: alice and 1,000 watchers.
    let now = Instant::now();
    let mut l = Load {
        e: engine(now),
        io: Recorder::default(),
        now,
        id: 1,
    };
    let alice = stream(1_000_000);
    l.register("ualice", alice);
    for w in 0..1000u64 {
        let name = format!("u{w}");
        let p = stream(w);
        l.register(&name, p);
        l.subscribe(&name, p, "ualice@contoso.com", "presence", "", "");
    }
    // The first change goes as NOTIFY (it is answered); the next ones as BENOTIFY.
    let mut version = 0;
    assert_eq!(l.publish("ualice", alice, version, 15500), 1001);
    version += 1;
    let mut g = c.benchmark_group("presence");
    g.throughput(Throughput::Elements(1000));
    g.bench_function("fan-out one state change to 1,000 watchers", |b| {
        b.iter(|| {
            let a = if version % 2 == 0 { 15500 } else { 3500 };
            let sent = l.publish("ualice", alice, version, a);
            version += 1;
            assert_eq!(sent, 1001);
        });
    });

    // Batch subscribe: bob to 200 contacts that are signed in and have published.
    let now = Instant::now();
    let mut l = Load {
        e: engine(now),
        io: Recorder::default(),
        now,
        id: 1,
    };
    for u in 0..200u64 {
        let name = format!("u{u}");
        let p = stream(u);
        l.register(&name, p);
        l.publish(&name, p, 0, 3500 + (u as u32 % 5) * 3000);
    }
    l.register("ubob", stream(999_999));
    let body = batch("ubob", (0..200).map(|u| format!("u{u}")));
    g.throughput(Throughput::Elements(200));
    let mut conn = 2_000_000u64;
    g.bench_function("batch SUBSCRIBE for 200 contacts", |b| {
        b.iter(|| {
            conn += 1;
            let m = request(
                "ubob",
                conn,
                "SUBSCRIBE",
                "ubob@contoso.com",
                "Event: presence\r\nSupported: ms-benotify\r\nRequire: adhoclist, categoryList\r\n",
                "application/msrtc-adrl-categorylist+xml",
                &body,
            );
            l.e.handle(l.now, SystemTime::now(), m, stream(conn), &Users);
            l.e.pump(l.now, &mut l.io);
            assert_eq!(l.io.sent.len(), 1);
            black_box(l.io.sent.pop());
            l.io.stored.clear();
            l.e.closed(conn);
        });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
