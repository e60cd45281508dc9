//! Dialogs (RFC 3261 §12, §13.2.2.4) and session timers (RFC 4028), both sides, on virtual time.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_sip_codec::Message;
use ocs_sip_codec::dialog::{
    Dialog, DialogError, DialogSet, DialogState, SessionTimer, SessionTimerEvent,
};

fn msg(s: &str) -> Message {
    Message::parse(Bytes::from(s.replace('\n', "\r\n"))).unwrap()
}

fn invite(extra: &str) -> Message {
    msg(&format!(
        "INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9
Max-Forwards: 70
Record-Route: <sip:p2.biloxi.example.com;lr>
Record-Route: <sip:p1.atlanta.example.com;lr>
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl
To: Bob <sip:bob@biloxi.example.com>
Call-ID: 3848276298220188511@atlanta.example.com
CSeq: 1 INVITE
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>
{extra}Content-Length: 0

"
    ))
}

fn response(req: &Message, code: u16, tag: &str, contact: &str, extra: &str) -> Message {
    let mut b = req
        .response(code, "X", tag)
        .header("Contact", format!("<{contact}>"));
    for line in extra.lines().filter(|l| !l.is_empty()) {
        let (n, v) = line.split_once(": ").unwrap();
        b = b.header(Box::leak(n.to_owned().into_boxed_str()), v);
    }
    b.build().unwrap()
}

#[test]
fn both_sides_build_and_accept_in_dialog_requests() {
    let now = Instant::now();
    let inv = invite("");
    let ok = response(
        &inv,
        200,
        "8321234356",
        "sip:bob@192.0.2.4;transport=tcp",
        "",
    );
    let mut uas = Dialog::uas(&inv, &ok).unwrap();
    let mut uac = Dialog::uac(&inv, &ok).unwrap();
    assert_eq!(uas.state(), DialogState::Confirmed);
    assert_eq!(uac.id().local_tag, "9fxced76sl");
    assert_eq!(uac.id().remote_tag, "8321234356");
    assert_eq!(uas.id().local_tag, "8321234356");
    assert_eq!(uas.id().remote_tag, "9fxced76sl");
    // The UAC's route set is the Record-Route reversed, the UAS's in order.
    assert_eq!(
        uac.route_set(),
        [
            "<sip:p1.atlanta.example.com;lr>",
            "<sip:p2.biloxi.example.com;lr>"
        ]
    );
    assert_eq!(
        uas.route_set(),
        [
            "<sip:p2.biloxi.example.com;lr>",
            "<sip:p1.atlanta.example.com;lr>"
        ]
    );
    assert_eq!(uac.remote_target(), "sip:bob@192.0.2.4;transport=tcp");
    assert_eq!(
        uas.remote_target(),
        "sip:alice@client.atlanta.example.com;transport=tcp"
    );

    // The ACK for the 2xx keeps the INVITE's number and does not use up a CSeq.
    let ack = uac
        .ack(&inv, "z9hG4bKack", "client.atlanta.example.com:5060")
        .build()
        .unwrap();
    assert_eq!(ack.cseq().unwrap().seq, 1);
    assert_eq!(ack.cseq().unwrap().method, "ACK");
    uas.handle_request(&ack).unwrap();

    // INFO from the UAC, then a re-INVITE that moves the UAC's target.
    let info = uac
        .request("INFO", "z9hG4bK2", "client.atlanta.example.com:5060")
        .build()
        .unwrap();
    assert_eq!(info.cseq().unwrap().seq, 2);
    assert_eq!(info.to().unwrap().tag(), Some("8321234356"));
    assert_eq!(info.from().unwrap().tag(), Some("9fxced76sl"));
    assert_eq!(
        info.call_id().unwrap(),
        "3848276298220188511@atlanta.example.com"
    );
    assert!(
        info.contacts().next().is_none(),
        "INFO is not a target refresh"
    );
    uas.handle_request(&info).unwrap();
    assert_eq!(
        uas.handle_request(&info),
        Err(DialogError::CSeqOutOfOrder { got: 2, last: 2 })
    );
    let reinvite = uac
        .request("INVITE", "z9hG4bK3", "client.atlanta.example.com:5060")
        .build()
        .unwrap();
    assert!(reinvite.contacts().next().is_some());
    let moved = reinvite
        .with_header("X-Unused", "1")
        .unwrap()
        .to_string()
        .replace(
            "Contact: <sip:alice@client.atlanta.example.com;transport=tcp>",
            "Contact: <sip:alice@198.51.100.9;transport=tcp>",
        );
    uas.handle_request(&msg(&moved.replace("\r\n", "\n")))
        .unwrap();
    assert_eq!(uas.remote_target(), "sip:alice@198.51.100.9;transport=tcp");

    // A request from the UAS: its own CSeq space, the UAC checks it.
    let notify = uas
        .request("INFO", "z9hG4bKs1", "192.0.2.4")
        .build()
        .unwrap();
    assert_eq!(
        notify.request_uri().unwrap().unwrap().to_string(),
        "sip:alice@198.51.100.9;transport=tcp"
    );
    let routes: Vec<_> = notify
        .routes()
        .map(|r| r.unwrap().uri.to_string())
        .collect();
    assert_eq!(
        routes,
        [
            "sip:p2.biloxi.example.com;lr",
            "sip:p1.atlanta.example.com;lr"
        ]
    );
    uac.handle_request(&notify).unwrap();

    // BYE ends both; 481 to an in-dialog request ends it too.
    let bye = uac
        .request("BYE", "z9hG4bK4", "client.atlanta.example.com:5060")
        .build()
        .unwrap();
    uas.handle_request(&bye).unwrap();
    assert_eq!(uas.state(), DialogState::Terminated);
    assert_eq!(uas.handle_request(&bye), Err(DialogError::Terminated));
    let gone = bye
        .response(481, "Call/Transaction Does Not Exist", "x")
        .build()
        .unwrap();
    uac.handle_response(now, &gone).unwrap();
    assert_eq!(uac.state(), DialogState::Terminated);
    // Another dialog's messages are refused.
    let other = invite("").to_string().replace("9fxced76sl", "other");
    let other = msg(&other.replace("\r\n", "\n"));
    let other_ok = response(&other, 200, "t2", "sip:b@h", "");
    assert_eq!(
        uas.handle_response(now, &other_ok),
        Err(DialogError::OtherDialog)
    );
}

#[test]
fn forking_gives_several_early_dialogs_and_a_final_error_ends_them() {
    let now = Instant::now();
    let inv = invite("");
    let mut set = DialogSet::new(inv.clone());
    let trying = inv.response(100, "Trying", "").build().unwrap();
    assert_eq!(set.handle_response(now, &trying).unwrap(), None);
    let a = response(&inv, 180, "forkA", "sip:bob@phone-a", "");
    let b = response(&inv, 183, "forkB", "sip:bob@phone-b", "");
    assert_eq!(set.handle_response(now, &a).unwrap(), Some(0));
    assert_eq!(set.handle_response(now, &b).unwrap(), Some(1));
    assert_eq!(
        set.handle_response(now, &a).unwrap(),
        Some(0),
        "a retransmission"
    );
    assert_eq!(set.dialogs().len(), 2);
    assert!(
        set.dialogs()
            .iter()
            .all(|d| d.state() == DialogState::Early)
    );
    // Phone B answers from a new Contact and with a new Record-Route: the dialog is confirmed,
    // its target and route set replaced.
    let ok = response(
        &inv,
        200,
        "forkB",
        "sip:bob@198.51.100.20",
        "Record-Route: <sip:p9.biloxi.example.com;lr>",
    );
    assert_eq!(set.handle_response(now, &ok).unwrap(), Some(1));
    let d = &set.dialogs()[1];
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.remote_target(), "sip:bob@198.51.100.20");
    assert_eq!(d.route_set()[0], "<sip:p9.biloxi.example.com;lr>");
    assert_eq!(set.dialogs()[0].state(), DialogState::Early);

    // Another INVITE: two early dialogs, then 486 ends both.
    let mut set = DialogSet::new(inv.clone());
    set.handle_response(now, &a).unwrap();
    set.handle_response(now, &b).unwrap();
    let busy = inv.response(486, "Busy Here", "forkA").build().unwrap();
    assert_eq!(set.handle_response(now, &busy).unwrap(), None);
    assert!(
        set.dialogs()
            .iter()
            .all(|d| d.state() == DialogState::Terminated)
    );
    // A fork bomb is bounded.
    let mut set = DialogSet::new(inv.clone());
    set.max_dialogs = 4;
    for i in 0..10 {
        set.handle_response(now, &response(&inv, 180, &format!("f{i}"), "sip:x@y", ""))
            .unwrap();
    }
    assert_eq!(set.dialogs().len(), 4);
}

#[test]
fn strict_routing_puts_the_first_route_in_the_request_uri() {
    let inv = msg("INVITE sip:bob@biloxi.example.com SIP/2.0
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1
From: <sip:alice@atlanta.example.com>;tag=1
To: <sip:bob@biloxi.example.com>
Call-ID: strict
CSeq: 10 INVITE
Contact: <sip:alice@a.example.com>
Content-Length: 0

");
    let ok = response(
        &inv,
        200,
        "2",
        "sip:bob@b.example.com",
        "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com;maddr=192.0.2.1>",
    );
    let mut d = Dialog::uac(&inv, &ok).unwrap();
    // Reversed: p1 (strict, no lr) first.
    let (target, routes) = d.target_and_routes();
    assert_eq!(target, "sip:p1.example.com;maddr=192.0.2.1");
    assert_eq!(
        routes,
        ["<sip:p2.example.com;lr>", "<sip:bob@b.example.com>"]
    );
    let bye = d
        .request("BYE", "z9hG4bK9", "a.example.com")
        .build()
        .unwrap();
    assert_eq!(bye.cseq().unwrap().seq, 11);
    assert_eq!(
        bye.request_uri().unwrap().unwrap().to_string(),
        "sip:p1.example.com;maddr=192.0.2.1"
    );
    // A sips: Request-URI makes the dialog secure: TLS in the Via.
    let sips = msg(&inv
        .to_string()
        .replace("INVITE sip:bob", "INVITE sips:bob")
        .replace("\r\n", "\n"));
    let mut d = Dialog::uac(
        &sips,
        &response(&sips, 200, "3", "sips:bob@b.example.com", ""),
    )
    .unwrap();
    assert!(d.is_secure());
    let bye = d
        .request("BYE", "z9hG4bKs", "a.example.com")
        .build()
        .unwrap();
    assert!(bye.top_via().unwrap().to_string().contains("TLS"));
}

#[test]
fn responses_and_requests_that_create_no_dialog() {
    let inv = invite("");
    assert!(matches!(
        Dialog::uac(&inv, &inv.response(100, "Trying", "").build().unwrap()),
        Err(DialogError::NotDialogCreating(_))
    ));
    assert!(matches!(
        Dialog::uac(&inv, &inv.response(404, "Not Found", "t").build().unwrap()),
        Err(DialogError::NotDialogCreating(_))
    ));
    let no_tag = msg(&inv
        .response(200, "OK", "t")
        .build()
        .unwrap()
        .to_string()
        .replace(";tag=t", "")
        .replace("\r\n", "\n"));
    assert_eq!(Dialog::uac(&inv, &no_tag), Err(DialogError::NoTag("To")));
    let options = msg(&inv
        .to_string()
        .replace("INVITE", "OPTIONS")
        .replace("\r\n", "\n"));
    let ok = options.response(200, "OK", "t").build().unwrap();
    assert!(Dialog::uas(&options, &ok).is_err());
}

#[test]
fn session_timers_refresh_and_expire_on_time() {
    let now = Instant::now();
    let inv = invite("Supported: timer\nSession-Expires: 1800\nMin-SE: 90\n");
    assert_eq!(
        SessionTimer::check_request(&inv, Duration::from_secs(90)),
        Ok(())
    );
    // 422 when the interval is below our Min-SE (RFC 4028 §8.1).
    assert_eq!(
        SessionTimer::check_request(&inv, Duration::from_secs(3600)),
        Err(Duration::from_secs(3600))
    );
    let ok = response(
        &inv,
        200,
        "st",
        "sip:bob@b",
        "Require: timer\nSession-Expires: 1800;refresher=uac",
    );
    let mut set = DialogSet::new(inv.clone());
    set.handle_response(now, &ok).unwrap();
    let uac = set.dialog_mut(0).unwrap();
    let t = *uac.session_timer().unwrap();
    assert_eq!(t.interval, Duration::from_secs(1800));
    // The refresher refreshes at half the interval.
    assert_eq!(uac.poll_timeout(), Some(now + Duration::from_secs(900)));
    assert_eq!(fire(uac, now + Duration::from_secs(899)), None);
    assert_eq!(
        fire(uac, now + Duration::from_secs(900)),
        Some(SessionTimerEvent::Refresh)
    );
    assert_eq!(
        uac.poll_timeout(),
        None,
        "until the refresh's 2xx restarts it"
    );
    let t2 = now + Duration::from_secs(900);
    let reinvite = uac
        .request("INVITE", "z9hG4bKr", "client.atlanta.example.com")
        .build()
        .unwrap();
    let ok2 = response(
        &reinvite,
        200,
        "st",
        "sip:bob@b",
        "Session-Expires: 1800;refresher=uac",
    );
    uac.handle_response(t2, &ok2).unwrap();
    assert_eq!(uac.poll_timeout(), Some(t2 + Duration::from_secs(900)));

    // The UAS, not refreshing, gives up at interval − min(32 s, interval/3) (RFC 4028 §10).
    let mut uas = Dialog::uas(&inv, &ok).unwrap();
    uas.set_session_timer(SessionTimer::from_2xx(&ok, false, now));
    assert_eq!(
        uas.poll_timeout(),
        Some(now + Duration::from_secs(1800 - 32))
    );
    assert_eq!(
        fire(&mut uas, now + Duration::from_secs(1768)),
        Some(SessionTimerEvent::Expired)
    );
    // A 90 s interval: a third (30 s) is less than 32 s.
    let short = response(
        &inv,
        200,
        "st",
        "sip:bob@b",
        "Session-Expires: 90;refresher=uac",
    );
    let t = SessionTimer::from_2xx(&short, false, now).unwrap();
    assert_eq!(t.deadline(), now + Duration::from_secs(60));
    // refresher=uas: the UAS refreshes.
    let uas_refresh = response(
        &inv,
        200,
        "st",
        "sip:bob@b",
        "Session-Expires: 600;refresher=uas",
    );
    let t = SessionTimer::from_2xx(&uas_refresh, false, now).unwrap();
    assert_eq!(
        t.poll(now + Duration::from_secs(300)),
        Some(SessionTimerEvent::Refresh)
    );
}

/// Fires the dialog's session timer at `t`; the event that came of it.
fn fire(d: &mut Dialog, t: Instant) -> Option<SessionTimerEvent> {
    d.handle_timeout(t);
    d.poll_event()
}
