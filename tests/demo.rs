//! `ocs demo` end to end: the library run checked step by step, and the command writing its
//! JSON report.

#![cfg(feature = "server")]

use ocs_stack::demo::{Options, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_meeting_and_measures_it() {
    let report = run(&Options {
        seconds: 10,
        print: false,
    })
    .await
    .expect("the demo completes");
    let said = |who: &str, what: &str| {
        report
            .steps
            .iter()
            .any(|s| s.who == who && s.what.contains(what))
    };
    for u in ["alice", "bob", "carol"] {
        assert!(said(u, "REGISTER with NTLM"), "{u} registered");
        assert!(
            said(u, "INVITE A/V MCU (RTP/SAVP, a=crypto) → 200"),
            "{u} has audio"
        );
    }
    assert!(said("alice", "again with If-None-Match: 304"));
    assert!(said("alice", "SERVICE addConference → success"));
    assert!(said("alice", "BENOTIFY accepted"));
    assert!(said("alice", "PSOM over TLS: joined as Some(Organizer)"));
    assert!(said("bob", "PSOM over TLS: joined as Some(Attendee)"));
    assert!(said("alice", "bob sees slide 3"));
    assert!(said("alice", "closed: yes 2, not yet 0"));
    assert!(said(
        "bob",
        "decrypted with the key from PSOM: the 49152 bytes Alice uploaded"
    ));
    assert!(said("alice", "bob's PSOM roster entry follows: Presenter"));
    assert!(said("carol", "Pending: waiting in the lobby"));
    assert!(said(
        "alice",
        "carol gets the final answer in INFO: Success"
    ));
    assert!(said("alice", "SERVICE deleteConference: Success"));
    assert_eq!(report.address_book_contacts, 3);
    assert!(report.notifications >= 8, "{}", report.notifications);
    assert!(
        report
            .conference
            .contains(";gruu;opaque=app:conf:focus:id:")
    );
    // The quality table: everyone measured, each heard the two others, the lossy one worse.
    let q = &report.quality;
    assert_eq!(q.len(), 3);
    for (i, row) in q.iter().enumerate() {
        assert!(row.received > 0 && row.sent >= row.received, "{row:?}");
        assert!(row.rtt_ms.is_some(), "an RTT for {}: {row:?}", row.user);
        let others: Vec<&str> = ["alice", "bob", "carol"]
            .into_iter()
            .enumerate()
            .filter(|(j, _)| *j != i)
            .map(|(_, n)| n)
            .collect();
        assert_eq!(row.heard, others, "{} heard the others", row.user);
    }
    let (alice, carol) = (&q[0], &q[2]);
    assert!(alice.loss_percent < 1.0, "{alice:?}");
    assert!((4.0..20.0).contains(&carol.loss_percent), "{carol:?}");
    assert!(
        carol.jitter_ms > alice.jitter_ms + 5.0,
        "{carol:?} {alice:?}"
    );
    assert!(
        carol.rtt_ms > alice.rtt_ms,
        "the slow path's round trip is longer"
    );
    assert!(
        carol.mos + 0.5 < alice.mos,
        "{} against {}",
        carol.mos,
        alice.mos
    );
    // It is what --json writes.
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["quality"][2]["path"], "lossy, jittery");
}

#[test]
fn the_command_writes_its_report() {
    let path = std::env::temp_dir().join(format!("ocs-demo-{}.json", std::process::id()));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ocs"))
        .args(["demo", "--seconds", "2", "--json", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("the A/V MCU's measurements"), "{text}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(v["quality"].as_array().unwrap().len(), 3);
    assert!(v["steps"].as_array().unwrap().len() > 15);
    let _ = std::fs::remove_file(&path);
}
