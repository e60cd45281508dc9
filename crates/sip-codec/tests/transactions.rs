//! The four transaction machines on virtual time (RFC 3261 §17, RFC 6026), over UDP and TCP.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_sip_codec::Message;
use ocs_sip_codec::transaction::{
    Kind, State, Timers, TransactionLayer, Transport, TxEvent, TxKey,
};

fn msg(text: &str) -> Message {
    Message::parse(Bytes::from(text.replace('\n', "\r\n"))).unwrap()
}

fn request(method: &str, branch: &str) -> Message {
    msg(&format!(
        "{method} sip:bob@contoso.com SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\n\
         Route: <sip:proxy.contoso.com;lr>\nFrom: <sip:alice@contoso.com>;tag=a1\nTo: <sip:bob@contoso.com>\n\
         Call-ID: call-1\nCSeq: 1 {method}\nMax-Forwards: 70\nContent-Length: 0\n\n"
    ))
}

fn response(code: u16, method: &str, branch: &str, to_tag: &str) -> Message {
    msg(&format!(
        "SIP/2.0 {code} Reason\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch={branch}\n\
         From: <sip:alice@contoso.com>;tag=a1\nTo: <sip:bob@contoso.com>;tag={to_tag}\n\
         Call-ID: call-1\nCSeq: 1 {method}\nContent-Length: 0\n\n"
    ))
}

/// Runs timers from `start` to `until` and records when each transmission happened (seconds).
fn run(layer: &mut TransactionLayer, start: Instant, until: Duration) -> Vec<f64> {
    let mut sent = Vec::new();
    while let Some(at) = layer.poll_timeout() {
        if at > start + until {
            break;
        }
        layer.handle_timeout(at);
        while common::sent(layer).is_some() {
            sent.push((at - start).as_secs_f64());
        }
    }
    sent
}

fn events(layer: &mut TransactionLayer) -> Vec<TxEvent> {
    std::iter::from_fn(|| layer.poll_event()).collect()
}

#[test]
fn invite_client_retransmits_then_times_out() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l
        .send_request(t0, request("INVITE", "z9hG4bKa"), Transport::Unreliable)
        .unwrap();
    assert!(common::sent(&mut l).is_some());
    // Timer A: 0.5, 1, 2, 4, 8, 16 s apart; Timer B at 64·T1 = 32 s.
    assert_eq!(
        run(&mut l, t0, Duration::from_secs(40)),
        [0.5, 1.5, 3.5, 7.5, 15.5, 31.5]
    );
    assert_eq!(
        events(&mut l),
        [TxEvent::Timeout { key }, TxEvent::Terminated { key }]
    );
    assert!(l.is_empty());

    // Over TCP nothing is retransmitted, and Timer B still ends it.
    let key = l
        .send_request(t0, request("INVITE", "z9hG4bKb"), Transport::Reliable)
        .unwrap();
    let _ = common::sent(&mut l);
    assert_eq!(run(&mut l, t0, Duration::from_secs(40)), Vec::<f64>::new());
    assert_eq!(
        events(&mut l),
        [TxEvent::Timeout { key }, TxEvent::Terminated { key }]
    );
}

#[test]
fn non_invite_client_caps_at_t2() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l
        .send_request(t0, request("OPTIONS", "z9hG4bKc"), Transport::Unreliable)
        .unwrap();
    let _ = common::sent(&mut l);
    let sent = run(&mut l, t0, Duration::from_secs(12));
    // Timer E: T1, 2·T1, 4·T1, then T2 = 4 s.
    assert_eq!(sent, [0.5, 1.5, 3.5, 7.5, 11.5]);
    // A provisional response moves it to Proceeding: retransmissions every T2.
    l.handle_message(
        t0 + Duration::from_secs(12),
        response(100, "OPTIONS", "z9hG4bKc", "b1"),
        Transport::Unreliable,
    );
    assert_eq!(
        l.state(key),
        Some((Kind::NonInviteClient, State::Proceeding))
    );
    let sent = run(&mut l, t0, Duration::from_secs(40));
    assert_eq!(sent, [15.5, 19.5, 23.5, 27.5, 31.5]);
    let ev = events(&mut l);
    assert!(matches!(ev[0], TxEvent::Response { .. }));
    assert_eq!(
        ev[1..],
        [TxEvent::Timeout { key }, TxEvent::Terminated { key }]
    );
}

#[test]
fn non_invite_client_completes_and_waits_timer_k() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l
        .send_request(t0, request("MESSAGE", "z9hG4bKd"), Transport::Unreliable)
        .unwrap();
    let _ = common::sent(&mut l);
    l.handle_message(
        t0 + Duration::from_millis(100),
        response(200, "MESSAGE", "z9hG4bKd", "b1"),
        Transport::Unreliable,
    );
    assert_eq!(
        l.state(key),
        Some((Kind::NonInviteClient, State::Completed))
    );
    // A retransmitted 200 is absorbed.
    l.handle_message(
        t0 + Duration::from_millis(200),
        response(200, "MESSAGE", "z9hG4bKd", "b1"),
        Transport::Unreliable,
    );
    assert_eq!(events(&mut l).len(), 1);
    // Timer K = T4 = 5 s.
    l.handle_timeout(t0 + Duration::from_millis(5099));
    assert!(l.state(key).is_some());
    l.handle_timeout(t0 + Duration::from_millis(5100));
    assert_eq!(events(&mut l), [TxEvent::Terminated { key }]);
}

#[test]
fn invite_client_non_2xx_final_builds_the_ack() {
    let t0 = Instant::now();
    for (transport, timer_d) in [(Transport::Unreliable, 32.0), (Transport::Reliable, 0.0)] {
        let mut l = TransactionLayer::new(Timers::default());
        let key = l
            .send_request(t0, request("INVITE", "z9hG4bKe"), transport)
            .unwrap();
        let _ = common::sent(&mut l);
        l.handle_message(t0, response(180, "INVITE", "z9hG4bKe", "b1"), transport);
        assert_eq!(l.state(key), Some((Kind::InviteClient, State::Proceeding)));
        assert_eq!(
            run(&mut l, t0, Duration::from_secs(1)),
            Vec::<f64>::new(),
            "Timer A stops in Proceeding"
        );
        assert_eq!(
            l.poll_timeout(),
            Some(t0 + Duration::from_secs(180)),
            "Timer C"
        );
        l.handle_message(t0, response(486, "INVITE", "z9hG4bKe", "b1"), transport);
        let ack = common::sent(&mut l).unwrap().message;
        assert_eq!(ack.method(), Some("ACK"));
        assert_eq!(ack.to().unwrap().tag(), Some("b1"));
        assert_eq!(ack.cseq().unwrap().seq, 1);
        assert_eq!(ack.cseq().unwrap().method, "ACK");
        assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bKe"));
        assert_eq!(ack.routes().count(), 1);
        ack.validate().unwrap();
        if transport == Transport::Reliable {
            // Timer D is zero on a reliable transport: the transaction is over at once (no
            // retransmission of the 486 can come).
            let ev = events(&mut l);
            assert!(
                matches!(ev[..], [.., TxEvent::Response { .. }, TxEvent::Terminated { key: k }] if k == key)
            );
            assert!(l.is_empty());
            continue;
        }
        // The 486 retransmitted: the ACK again, nothing for the TU.
        l.handle_message(t0, response(486, "INVITE", "z9hG4bKe", "b1"), transport);
        assert_eq!(common::sent(&mut l).map(|t| t.message), Some(ack));
        let ev = events(&mut l);
        assert_eq!(
            ev.iter()
                .filter(|e| matches!(e, TxEvent::Response { .. }))
                .count(),
            2
        );
        // Timer D: 32 s over UDP.
        l.handle_timeout(t0 + Duration::from_secs_f64(timer_d - 0.001));
        assert!(l.state(key).is_some());
        l.handle_timeout(t0 + Duration::from_secs_f64(timer_d));
        assert_eq!(events(&mut l), [TxEvent::Terminated { key }]);
    }
}

#[test]
fn invite_client_accepted_passes_2xx_and_forks_up() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l
        .send_request(t0, request("INVITE", "z9hG4bKf"), Transport::Unreliable)
        .unwrap();
    let _ = common::sent(&mut l);
    l.handle_message(
        t0,
        response(200, "INVITE", "z9hG4bKf", "fork1"),
        Transport::Unreliable,
    );
    assert_eq!(l.state(key), Some((Kind::InviteClient, State::Accepted)));
    // RFC 6026: the 2xx retransmission and a second fork's 2xx go to the TU.
    l.handle_message(
        t0 + Duration::from_millis(500),
        response(200, "INVITE", "z9hG4bKf", "fork1"),
        Transport::Unreliable,
    );
    l.handle_message(
        t0 + Duration::from_millis(600),
        response(200, "INVITE", "z9hG4bKf", "fork2"),
        Transport::Unreliable,
    );
    let tags: Vec<String> = events(&mut l)
        .into_iter()
        .filter_map(|e| match e {
            TxEvent::Response { message, .. } => message.to().ok()?.tag().map(str::to_owned),
            _ => None,
        })
        .collect();
    assert_eq!(tags, ["fork1", "fork1", "fork2"]);
    assert!(
        common::sent(&mut l).is_none(),
        "no ACK from the transaction for a 2xx"
    );
    // Timer M = 64·T1.
    l.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(events(&mut l), [TxEvent::Terminated { key }]);
}

#[test]
fn invite_server_completed_retransmits_until_ack() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let invite = request("INVITE", "z9hG4bKg");
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    // A retransmitted INVITE before any response: absorbed.
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    assert!(common::sent(&mut l).is_none() && events(&mut l).is_empty());
    let ringing = invite.response(180, "Ringing", "s1").build().unwrap();
    l.send_response(t0, ringing.clone()).unwrap();
    assert_eq!(
        common::sent(&mut l).map(|t| t.message),
        Some(ringing.clone())
    );
    // Now a retransmitted INVITE gets the 180 again.
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    assert_eq!(common::sent(&mut l).map(|t| t.message), Some(ringing));
    let busy = invite.response(486, "Busy Here", "s1").build().unwrap();
    l.send_response(t0, busy).unwrap();
    let _ = common::sent(&mut l);
    assert_eq!(l.state(key), Some((Kind::InviteServer, State::Completed)));
    // Timer G: T1, 2·T1, 4·T1, capped at T2.
    assert_eq!(
        run(&mut l, t0, Duration::from_secs(12)),
        [0.5, 1.5, 3.5, 7.5, 11.5]
    );
    // The ACK (same branch) confirms; Timer I = T4 absorbs ACK retransmissions.
    let ack = request("ACK", "z9hG4bKg");
    l.handle_message(
        t0 + Duration::from_secs(12),
        ack.clone(),
        Transport::Unreliable,
    );
    assert_eq!(l.state(key), Some((Kind::InviteServer, State::Confirmed)));
    l.handle_message(t0 + Duration::from_secs(13), ack, Transport::Unreliable);
    assert!(
        events(&mut l).is_empty(),
        "the ACK of a non-2xx stays in the transaction"
    );
    l.handle_timeout(t0 + Duration::from_secs(17));
    assert_eq!(events(&mut l), [TxEvent::Terminated { key }]);

    // Without an ACK, Timer H ends it with a timeout.
    let invite = request("INVITE", "z9hG4bKh");
    l.handle_message(t0, invite.clone(), Transport::Reliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    l.send_response(t0, invite.response(603, "Decline", "s2").build().unwrap())
        .unwrap();
    let _ = common::sent(&mut l);
    assert_eq!(
        run(&mut l, t0, Duration::from_secs(40)),
        [0.0; 0],
        "no Timer G over TCP"
    );
    assert_eq!(
        events(&mut l),
        [TxEvent::Timeout { key }, TxEvent::Terminated { key }]
    );
}

#[test]
fn invite_server_accepted_absorbs_and_passes_acks() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let invite = request("INVITE", "z9hG4bKi");
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    l.send_response(t0, invite.response(200, "OK", "s3").build().unwrap())
        .unwrap();
    let _ = common::sent(&mut l);
    assert_eq!(l.state(key), Some((Kind::InviteServer, State::Accepted)));
    // The TU retransmits its 2xx through the transaction in Accepted.
    l.send_response(t0, invite.response(200, "OK", "s3").build().unwrap())
        .unwrap();
    assert!(common::sent(&mut l).is_some());
    // A retransmitted INVITE is absorbed (RFC 6026 §7.1); the ACK goes up.
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    assert!(common::sent(&mut l).is_none());
    let ack = request("ACK", "z9hG4bKj");
    l.handle_message(t0, ack.clone(), Transport::Unreliable);
    // A 2xx ACK has its own branch: no transaction matches, the TU gets it (a late ACK too).
    assert_eq!(
        events(&mut l),
        [TxEvent::Ack {
            key: None,
            message: ack
        }]
    );
    // An ACK reusing the INVITE's branch (RFC 2543 style peers) is matched in Accepted.
    let same_branch_ack = request("ACK", "z9hG4bKi");
    l.handle_message(t0, same_branch_ack.clone(), Transport::Unreliable);
    assert_eq!(
        events(&mut l),
        [TxEvent::Ack {
            key: Some(key),
            message: same_branch_ack
        }]
    );
    // Timer L = 64·T1.
    l.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(events(&mut l), [TxEvent::Terminated { key }]);
}

#[test]
fn non_invite_server_and_cancel() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let invite = request("INVITE", "z9hG4bKk");
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    let [
        TxEvent::Request {
            key: invite_key, ..
        },
    ] = events(&mut l)[..]
    else {
        panic!()
    };
    // CANCEL: same branch, its own transaction, and the INVITE's is told.
    let cancel = request("CANCEL", "z9hG4bKk");
    l.handle_message(t0, cancel.clone(), Transport::Unreliable);
    let ev = events(&mut l);
    assert_eq!(ev[0], TxEvent::Cancelled { key: invite_key });
    let TxEvent::Request {
        key: cancel_key, ..
    } = ev[1]
    else {
        panic!()
    };
    assert_ne!(cancel_key, invite_key);
    l.send_response(t0, cancel.response(200, "OK", "s4").build().unwrap())
        .unwrap();
    l.send_response(
        t0,
        invite
            .response(487, "Request Terminated", "s4")
            .build()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        l.state(cancel_key),
        Some((Kind::NonInviteServer, State::Completed))
    );
    // A retransmitted CANCEL gets its 200 again.
    while common::sent(&mut l).is_some() {}
    l.handle_message(t0, cancel, Transport::Unreliable);
    assert_eq!(
        common::sent(&mut l).and_then(|t| t.message.status()),
        Some(200)
    );
    // Timer J = 64·T1 over UDP.
    l.handle_timeout(t0 + Duration::from_secs(32));
    assert!(events(&mut l).contains(&TxEvent::Terminated { key: cancel_key }));

    // Over TCP, Timer J is zero.
    let options = request("OPTIONS", "z9hG4bKl");
    l.handle_message(t0, options.clone(), Transport::Reliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    l.send_response(t0, options.response(200, "OK", "s5").build().unwrap())
        .unwrap();
    l.handle_timeout(t0);
    assert!(events(&mut l).contains(&TxEvent::Terminated { key }));
}

#[test]
fn rfc2543_branch_without_magic_cookie() {
    // RFC 4475 §3.2.1 `badbranch`-style: a branch without z9hG4bK is matched by the RFC 2543
    // rules (Request-URI, From tag, Call-ID, CSeq, Via).
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let options = request("OPTIONS", "1e2b3a4");
    l.handle_message(t0, options.clone(), Transport::Unreliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    l.handle_message(t0, options.clone(), Transport::Unreliable);
    assert!(events(&mut l).is_empty(), "the retransmission matched");
    assert_eq!(
        l.send_response(t0, options.response(200, "OK", "s6").build().unwrap()),
        Ok(key)
    );
    let badbranch = std::fs::read(vectors().join("sip/rfc4475/badbranch.dat")).unwrap();
    let m = Message::parse(Bytes::from(badbranch)).unwrap();
    l.handle_message(t0, m.clone(), Transport::Unreliable);
    l.handle_message(t0, m, Transport::Unreliable);
    assert_eq!(
        events(&mut l).len(),
        1,
        "the vector's retransmission is matched too"
    );
}

fn vectors() -> std::path::PathBuf {
    std::env::var_os("OCS_VECTORS").map_or_else(
        || std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        std::path::PathBuf::from,
    )
}

#[test]
fn transport_errors_and_strays() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    let key = l
        .send_request(t0, request("INVITE", "z9hG4bKm"), Transport::Reliable)
        .unwrap();
    l.handle_transport_error(key);
    assert_eq!(
        events(&mut l),
        [TxEvent::TransportError { key }, TxEvent::Terminated { key }]
    );
    let stray = response(200, "INVITE", "z9hG4bKm", "x");
    l.handle_message(t0, stray.clone(), Transport::Reliable);
    assert_eq!(events(&mut l), [TxEvent::StrayResponse { message: stray }]);
    assert!(
        l.send_request(t0, request("ACK", "z9hG4bKn"), Transport::Reliable)
            .is_err()
    );
    assert!(
        l.send_response(t0, response(200, "BYE", "z9hG4bKo", "x"))
            .is_err()
    );
    let _: TxKey = key;
}

mod interleavings {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        SendRequest(u8, u8, bool),
        Incoming(u8, u8, bool),
        Respond(u8, u16),
        IncomingResponse(u8, u16, u8),
        TransportError(u8),
        Advance(u16),
    }

    const METHODS: [&str; 5] = ["INVITE", "OPTIONS", "ACK", "CANCEL", "BYE"];

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0u8..5, 0u8..4, any::<bool>()).prop_map(|(m, b, r)| Step::SendRequest(m, b, r)),
            (0u8..5, 0u8..4, any::<bool>()).prop_map(|(m, b, r)| Step::Incoming(m, b, r)),
            (
                0u8..8,
                prop::sample::select(vec![100u16, 180, 200, 302, 486, 603])
            )
                .prop_map(|(k, c)| Step::Respond(k, c)),
            (
                0u8..5,
                prop::sample::select(vec![100u16, 183, 200, 404]),
                0u8..4
            )
                .prop_map(|(m, c, b)| Step::IncomingResponse(m, c, b)),
            (0u8..8).prop_map(Step::TransportError),
            (0u16..40_000).prop_map(Step::Advance),
        ]
    }

    proptest! {
        /// Any sequence of requests, responses, errors and time never panics, and once time runs
        /// on past every timer, no transaction is left.
        #[test]
        fn every_transaction_terminates(steps in prop::collection::vec(step(), 1..40)) {
            let t0 = Instant::now();
            let mut now = t0;
            let mut l = TransactionLayer::new(Timers::default());
            let mut servers: Vec<(TxKey, Message)> = Vec::new();
            for s in steps {
                match s {
                    Step::SendRequest(m, b, r) => {
                        let transport = if r { Transport::Reliable } else { Transport::Unreliable };
                        let _ = l.send_request(now, request(METHODS[usize::from(m)], &format!("z9hG4bKp{b}")), transport);
                    }
                    Step::Incoming(m, b, r) => {
                        let transport = if r { Transport::Reliable } else { Transport::Unreliable };
                        let branch = if b == 3 { "old2543".to_owned() } else { format!("z9hG4bKq{b}") };
                        l.handle_message(now, request(METHODS[usize::from(m)], &branch), transport);
                    }
                    Step::Respond(k, code) => {
                        if let Some((_, req)) = servers.get(usize::from(k))
                            && let Ok(resp) = req.response(code, "R", "t").build()
                        {
                            let _ = l.send_response(now, resp);
                        }
                    }
                    Step::IncomingResponse(m, code, b) => {
                        l.handle_message(now, response(code, METHODS[usize::from(m)], &format!("z9hG4bKp{b}"), "t"), Transport::Unreliable);
                    }
                    Step::TransportError(k) => l.handle_transport_error(TxKey(u64::from(k))),
                    Step::Advance(ms) => {
                        now += Duration::from_millis(u64::from(ms));
                        l.handle_timeout(now);
                    }
                }
                while let Some(e) = l.poll_event() {
                    if let TxEvent::Request { key, message } = e {
                        servers.push((key, message));
                    }
                }
                while common::sent(&mut l).is_some() {}
            }
            // Server transactions still waiting for their TU get a final answer, then time runs.
            for (_, req) in &servers {
                if let Ok(resp) = req.response(500, "Server Error", "t").build() {
                    let _ = l.send_response(now, resp);
                }
            }
            now += Duration::from_secs(200);
            l.handle_timeout(now);
            prop_assert!(l.is_empty(), "{} transactions left", l.len());
        }
    }
}

#[test]
fn a_full_layer_reports_overload_instead_of_growing() {
    let t0 = Instant::now();
    let mut l = TransactionLayer::new(Timers::default());
    l.max_transactions = 2;
    for b in ["z9hG4bKo1", "z9hG4bKo2"] {
        l.handle_message(t0, request("OPTIONS", b), Transport::Unreliable);
    }
    l.handle_message(t0, request("OPTIONS", "z9hG4bKo3"), Transport::Unreliable);
    let ev = events(&mut l);
    assert_eq!(ev.len(), 3);
    assert!(
        matches!(&ev[2], TxEvent::Overloaded { message } if message.top_via().unwrap().branch() == Some("z9hG4bKo3"))
    );
    assert_eq!(l.len(), 2);
    assert_eq!(
        l.send_request(t0, request("OPTIONS", "z9hG4bKo4"), Transport::Unreliable),
        Err(ocs_sip_codec::transaction::TxError::Full)
    );
    // A retransmission of a held request is still absorbed, not reported.
    l.handle_message(t0, request("OPTIONS", "z9hG4bKo1"), Transport::Unreliable);
    assert!(events(&mut l).is_empty());
}

#[test]
fn cancel_races() {
    let t0 = Instant::now();
    // Server side: the INVITE was already answered 200 when the CANCEL arrives. The CANCEL
    // gets its own transaction (the TU answers it 200, RFC 3261 §9.2) and the INVITE's is
    // reported; it stays Accepted, the 2xx stands.
    let mut l = TransactionLayer::new(Timers::default());
    let invite = request("INVITE", "z9hG4bKr1");
    l.handle_message(t0, invite.clone(), Transport::Unreliable);
    let [TxEvent::Request { key, .. }] = events(&mut l)[..] else {
        panic!()
    };
    l.respond(t0, key, invite.response(200, "OK", "u1").build().unwrap())
        .unwrap();
    let cancel = request("CANCEL", "z9hG4bKr1");
    l.handle_message(
        t0 + Duration::from_millis(5),
        cancel.clone(),
        Transport::Unreliable,
    );
    let ev = events(&mut l);
    assert_eq!(ev[0], TxEvent::Cancelled { key });
    assert!(
        matches!(&ev[1], TxEvent::Request { message, .. } if message.method() == Some("CANCEL"))
    );
    assert_eq!(l.state(key), Some((Kind::InviteServer, State::Accepted)));
    // A CANCEL for no INVITE at all: a request, no Cancelled (the TU answers 481).
    let stray = request("CANCEL", "z9hG4bKnothing");
    l.handle_message(t0, stray, Transport::Unreliable);
    let ev = events(&mut l);
    assert_eq!(ev.len(), 1);
    assert!(matches!(&ev[0], TxEvent::Request { .. }));

    // Client side: the UAC sent CANCEL while the 200 was on its way. The CANCEL is its own
    // non-INVITE transaction; the 200 to the INVITE still goes up and moves it to Accepted.
    let mut c = TransactionLayer::new(Timers::default());
    let ik = c
        .send_request(t0, request("INVITE", "z9hG4bKr2"), Transport::Unreliable)
        .unwrap();
    c.handle_message(
        t0,
        response(180, "INVITE", "z9hG4bKr2", "v1"),
        Transport::Unreliable,
    );
    let ck = c
        .send_request(t0, request("CANCEL", "z9hG4bKr2"), Transport::Unreliable)
        .unwrap();
    assert_ne!(ik, ck);
    c.handle_message(
        t0,
        response(200, "INVITE", "z9hG4bKr2", "v1"),
        Transport::Unreliable,
    );
    c.handle_message(
        t0,
        response(200, "CANCEL", "z9hG4bKr2", "v1"),
        Transport::Unreliable,
    );
    assert_eq!(c.state(ik), Some((Kind::InviteClient, State::Accepted)));
    assert_eq!(c.state(ck), Some((Kind::NonInviteClient, State::Completed)));
    let ups: Vec<_> = events(&mut c)
        .into_iter()
        .filter_map(|e| match e {
            TxEvent::Response { key, message } => Some((key, message.status().unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(ups, [(ik, 180), (ik, 200), (ck, 200)]);
}

#[test]
fn a_stateless_answer_leaves_no_transaction() {
    let t0 = Instant::now();
    let mut layer = TransactionLayer::new(Timers::default());
    layer.handle_message(t0, request("INVITE", "z9hG4bKsl1"), Transport::Unreliable);
    let key = match events(&mut layer).as_slice() {
        [TxEvent::Request { key, .. }] => *key,
        other => panic!("{other:?}"),
    };
    assert!(
        layer
            .respond_stateless(key, response(100, "INVITE", "z9hG4bKsl1", ""))
            .is_err(),
        "a provisional answer keeps state"
    );
    layer
        .respond_stateless(key, response(407, "INVITE", "z9hG4bKsl1", "t1"))
        .unwrap();
    assert!(
        common::sent(&mut layer).is_some(),
        "the answer goes out once"
    );
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Terminated { .. }]
    ));
    assert_eq!(layer.len(), 0, "nothing kept");
    assert!(
        run(&mut layer, t0, Duration::from_secs(40)).is_empty(),
        "no retransmission"
    );
    // The same request again is a new transaction, answered again.
    layer.handle_message(t0, request("INVITE", "z9hG4bKsl1"), Transport::Unreliable);
    assert!(matches!(
        events(&mut layer).as_slice(),
        [TxEvent::Request { .. }]
    ));
}
