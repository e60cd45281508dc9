//! Subscriptions (RFC 6665) with BENOTIFY, both ends, on virtual time.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_sip_codec::Message;
use ocs_sip_codec::dialog::DialogError;
use ocs_sip_codec::subscription::{
    Notifier, NotifierEvent, SubState, Subscriber, SubscriberEvent, SubscriptionState,
};
use ocs_sip_codec::transaction::{Timers, TransactionLayer, Transport, TxEvent};

fn subscribe(expires: u32, benotify: bool) -> Message {
    let b = if benotify {
        "Supported: ms-benotify\r\nProxy-Require: ms-benotify\r\n"
    } else {
        ""
    };
    Message::parse(Bytes::from(format!(
        "SUBSCRIBE sip:focus@contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.7:4321;branch=z9hG4bK5A\r\n\
         From: <sip:bob@contoso.com>;tag=9e8d\r\nTo: <sip:focus@contoso.com>\r\nCall-ID: sub-1\r\n\
         CSeq: 1 SUBSCRIBE\r\nEvent: conference\r\nExpires: {expires}\r\n{b}\
         Contact: <sip:bob@192.0.2.7:4321;transport=tls>\r\nContent-Length: 0\r\n\r\n"
    )))
    .unwrap()
}

fn accept(sub: &Message, expires: u32, benotify: bool) -> Message {
    let mut b = sub
        .response(202, "Accepted", "f0c")
        .header("Expires", expires)
        .header("Contact", "<sip:focus@10.0.0.1:5061;transport=tls>");
    if benotify {
        b = b.header("Supported", "ms-benotify");
    }
    b.build().unwrap()
}

#[test]
fn lifecycle_refresh_and_unsubscribe() {
    let t0 = Instant::now();
    let sub = subscribe(600, false);
    let mut bob = Subscriber::new(t0, sub.clone()).unwrap();
    assert_eq!(bob.state(), SubState::NotifyWait);
    // Timer N is running until the first NOTIFY.
    assert_eq!(bob.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    let ok = accept(&sub, 600, false);
    let mut focus = Notifier::accept(t0, &sub, &ok, true).unwrap();
    bob.handle_response(t0, &ok).unwrap();
    assert!(bob.dialog().is_some());

    let n1 = focus
        .notify(t0, "z9hG4bKn1", "10.0.0.1:5061")
        .build()
        .unwrap();
    assert_eq!(
        SubscriptionState::of(&n1).unwrap().state,
        "pending",
        "authorization first"
    );
    assert_eq!(
        n1.contacts().count(),
        1,
        "NOTIFY carries the notifier's Contact"
    );
    assert_eq!(bob.handle_notify(t0, &n1).unwrap().state, SubState::Pending);
    focus.activate();
    let t1 = t0 + Duration::from_secs(5);
    let n2 = focus
        .notify(t1, "z9hG4bKn2", "10.0.0.1:5061")
        .build()
        .unwrap();
    let ss = SubscriptionState::of(&n2).unwrap();
    assert_eq!((ss.state.as_str(), ss.expires), ("active", Some(595)));
    assert_eq!(bob.handle_notify(t1, &n2).unwrap().state, SubState::Active);
    // A repeated NOTIFY is out of CSeq order.
    assert!(matches!(
        bob.handle_notify(t1, &n2),
        Err(DialogError::CSeqOutOfOrder { .. })
    ));

    // Refresh a minute before the end (595 s granted at t1).
    let due = bob.poll_timeout().unwrap();
    assert_eq!(due, t1 + Duration::from_secs(535));
    assert_eq!(fire(&mut bob, due - Duration::from_millis(1)), None);
    assert_eq!(fire(&mut bob, due), Some(SubscriberEvent::Refresh));
    let refresh = bob
        .refresh(due, 600, "z9hG4bKr1", "192.0.2.7:4321")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(refresh.cseq().unwrap().seq, 2);
    assert_eq!(refresh.expires().unwrap().unwrap(), 600);
    assert_eq!(
        refresh.request_uri().unwrap().unwrap().to_string(),
        "sip:focus@10.0.0.1:5061;transport=tls"
    );
    assert_eq!(focus.handle_subscribe(due, &refresh, 300).unwrap(), 300);
    let ok = refresh
        .response(200, "OK", "f0c")
        .header("Expires", 300)
        .build()
        .unwrap();
    bob.handle_response(due, &ok).unwrap();
    assert_eq!(bob.expires_at(), Some(due + Duration::from_secs(300)));

    // Un-subscribe: Expires 0, the notifier ends it, the final NOTIFY says why.
    let t2 = due + Duration::from_secs(10);
    let bye = bob
        .refresh(t2, 0, "z9hG4bKr2", "192.0.2.7:4321")
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(focus.handle_subscribe(t2, &bye, 300).unwrap(), 0);
    assert_eq!(focus.state(), SubState::Terminated);
    let last = focus
        .notify(t2, "z9hG4bKn3", "10.0.0.1:5061")
        .build()
        .unwrap();
    let out = bob.handle_notify(t2, &last).unwrap();
    assert_eq!(out.state, SubState::Terminated);
    assert_eq!(bob.reason(), Some("timeout"));
    assert_eq!(bob.poll_timeout(), None);
    assert_eq!(focus.poll_timeout(), None);
}

#[test]
fn notify_before_the_2xx_creates_the_dialog() {
    let t0 = Instant::now();
    let sub = subscribe(3600, false);
    let mut bob = Subscriber::new(t0, sub.clone()).unwrap();
    let ok = accept(&sub, 3600, false);
    let mut focus = Notifier::accept(t0, &sub, &ok, false).unwrap();
    let n1 = focus
        .notify(t0, "z9hG4bKn1", "10.0.0.1:5061")
        .build()
        .unwrap();
    assert_eq!(bob.handle_notify(t0, &n1).unwrap().state, SubState::Active);
    let d = bob.dialog().unwrap();
    assert_eq!(d.id().remote_tag, "f0c");
    assert_eq!(d.remote_target(), "sip:focus@10.0.0.1:5061;transport=tls");
    bob.handle_response(t0, &ok).unwrap();
    assert_eq!(bob.state(), SubState::Active);
    // A NOTIFY for another subscription is refused.
    let other = Message::parse(Bytes::from(n1.to_string().replace("sub-1", "sub-2"))).unwrap();
    let mut carol = Subscriber::new(t0, sub).unwrap();
    carol.handle_notify(t0, &n1).unwrap();
    assert_eq!(
        carol.handle_notify(t0, &other),
        Err(DialogError::OtherDialog)
    );
    let presence = Message::parse(Bytes::from(
        n1.to_string()
            .replace("Event: conference", "Event: presence"),
    ))
    .unwrap();
    assert_eq!(
        bob.handle_notify(t0, &presence),
        Err(DialogError::OtherDialog)
    );
}

#[test]
fn timer_n_and_expiry() {
    let t0 = Instant::now();
    let sub = subscribe(120, false);
    // No NOTIFY within 64·T1.
    let mut bob = Subscriber::new(t0, sub.clone()).unwrap();
    bob.handle_response(t0, &accept(&sub, 120, false)).unwrap();
    assert_eq!(fire(&mut bob, t0 + Duration::from_secs(31)), None);
    assert_eq!(
        fire(&mut bob, t0 + Duration::from_secs(32)),
        Some(SubscriberEvent::Expired)
    );
    assert_eq!(bob.state(), SubState::Terminated);

    // A subscription nobody refreshes runs out on both ends.
    let ok = accept(&sub, 120, false);
    let mut focus = Notifier::accept(t0, &sub, &ok, false).unwrap();
    let mut bob = Subscriber::new(t0, sub).unwrap();
    bob.handle_response(t0, &ok).unwrap();
    let n = focus.notify(t0, "z9hG4bKn", "h").build().unwrap();
    bob.handle_notify(t0, &n).unwrap();
    assert_eq!(
        fire(&mut bob, t0 + Duration::from_secs(60)),
        Some(SubscriberEvent::Refresh)
    );
    assert_eq!(
        fire(&mut bob, t0 + Duration::from_secs(120)),
        Some(SubscriberEvent::Expired)
    );
    assert_eq!(focus.poll_timeout(), Some(t0 + Duration::from_secs(120)));
    focus.handle_timeout(t0 + Duration::from_secs(120));
    assert_eq!(focus.poll_event(), Some(NotifierEvent::Expired));
    assert_eq!(focus.poll_event(), None, "once");
    let last = focus
        .notify(t0 + Duration::from_secs(120), "z9hG4bKl", "h")
        .build()
        .unwrap();
    assert_eq!(
        SubscriptionState::of(&last).unwrap().reason.as_deref(),
        Some("timeout")
    );
    // A rejected first SUBSCRIBE ends it at once.
    let sub = subscribe(120, false);
    let mut dave = Subscriber::new(t0, sub.clone()).unwrap();
    dave.handle_response(t0, &sub.response(403, "Forbidden", "x").build().unwrap())
        .unwrap();
    assert_eq!(dave.state(), SubState::Terminated);
}

#[test]
fn benotify_is_negotiated_and_gets_no_response() {
    let t0 = Instant::now();
    for (offered, accepted, want) in [
        (true, true, true),
        (true, false, false),
        (false, true, false),
    ] {
        let sub = subscribe(3600, offered);
        let ok = accept(&sub, 3600, accepted);
        let mut focus = Notifier::accept(t0, &sub, &ok, false).unwrap();
        let mut bob = Subscriber::new(t0, sub).unwrap();
        bob.handle_response(t0, &ok).unwrap();
        assert_eq!(focus.uses_benotify(), want);
        assert_eq!(bob.uses_benotify(), want);
        let methods: Vec<String> = (0..3)
            .map(|i| {
                let n = focus
                    .notify(t0, &format!("z9hG4bK{i}"), "h")
                    .build()
                    .unwrap();
                let out = bob.handle_notify(t0, &n).unwrap();
                assert_eq!(out.respond, n.method() == Some("NOTIFY"));
                n.method().unwrap().to_owned()
            })
            .collect();
        let expect = if want {
            ["NOTIFY", "BENOTIFY", "BENOTIFY"]
        } else {
            ["NOTIFY", "NOTIFY", "NOTIFY"]
        };
        assert_eq!(methods, expect);
        // The terminating one is a NOTIFY.
        focus.terminate("deactivated");
        let last = focus.notify(t0, "z9hG4bKz", "h").build().unwrap();
        assert_eq!(last.method(), Some("NOTIFY"));
        bob.handle_notify(t0, &last).unwrap();
        assert_eq!(bob.reason(), Some("deactivated"));
    }

    // In a transaction layer, a BENOTIFY's server transaction is dropped unanswered.
    let sub = subscribe(3600, true);
    let ok = accept(&sub, 3600, true);
    let mut focus = Notifier::accept(t0, &sub, &ok, false).unwrap();
    let _first = focus.notify(t0, "z9hG4bKa", "h").build().unwrap();
    let be = focus.notify(t0, "z9hG4bKb", "h").build().unwrap();
    let mut layer = TransactionLayer::new(Timers::default());
    layer.handle_message(t0, be, Transport::Reliable);
    let Some(TxEvent::Request { key, .. }) = layer.poll_event() else {
        panic!()
    };
    layer.abandon(key).unwrap();
    assert_eq!(layer.poll_event(), Some(TxEvent::Terminated { key }));
    assert!(layer.is_empty());
    assert!(common::sent(&mut layer).is_none());
    assert!(layer.abandon(key).is_err());
}

#[test]
fn the_synthesized_ocs_conference_subscribe() {
    let sub = Message::parse(common::read(
        "ms/sipe-format-SUBSCRIBE-conference-event.SYNTHESIZED.sip",
    ))
    .unwrap();
    let bob = Subscriber::new(Instant::now(), sub).unwrap();
    assert_eq!(bob.event(), "conference");
    assert_eq!(bob.state(), SubState::NotifyWait);
}

/// Fires the subscriber's timers at `t`; the event that came of it.
fn fire(s: &mut Subscriber, t: Instant) -> Option<SubscriberEvent> {
    s.handle_timeout(t);
    s.poll_event()
}
