//! The store's contract, held by both backends: the same checks against SQLite (always) and
//! against a PostgreSQL server the test starts (feature `postgres-tests`, Debian
//! `postgresql`; CI requires it with `OCS_REQUIRE_INTEROP=1`), and PostgreSQL's own: the
//! migrations (versioned, applied once when nodes start together, a newer schema refused),
//! remote hosts without TLS refused, and `ocs serve` on PostgreSQL killed under sipp load
//! losing no acknowledged registration.

#![cfg(feature = "server")]

use ocs_stack::server::sip::{Binding, StoreOp, StoredConference};
use ocs_stack::server::store::{AbsPublication, Secrets, Sqlite, Store, User};

fn user(name: &str) -> User {
    User {
        name: name.into(),
        secrets: Secrets::new(name, "contoso.com", &format!("{name}-pw")),
        display: format!("{name} display"),
    }
}

fn binding(contact: &str, expires_at: u64) -> Binding {
    Binding {
        aor: "sip:alice@contoso.com".into(),
        contact: contact.into(),
        instance: Some("\"<urn:uuid:00000000-0000-0000-0000-000000000001>\"".into()),
        expires_at,
        call_id: "reg-1".into(),
        cseq: u32::MAX,
        flow: None,
        path: Vec::new(),
    }
}

/// What every backend must do.
fn contract(s: &mut dyn Store) {
    // Users: added once, read back whole, by name.
    assert!(s.add_user(&user("bob")).unwrap());
    assert!(s.add_user(&user("alice")).unwrap());
    assert!(!s.add_user(&user("alice")).unwrap(), "not twice");
    assert_eq!(s.users().unwrap(), [user("alice"), user("bob")]);
    assert_eq!(s.hash_clear_passwords("contoso.com").unwrap(), 0);

    // Bindings: upserted, expired ones purged by the read, deleted.
    let live = Binding {
        path: vec![
            "<sip:192.0.2.50:5070;transport=tcp;lr>".into(),
            "<sip:edge.contoso.com;lr>".into(),
        ],
        ..binding("sip:alice@192.0.2.1:5060;transport=tcp", 1000)
    };
    let old = binding("sip:alice@192.0.2.2", 10);
    s.apply(&[StoreOp::Bind(live.clone()), StoreOp::Bind(old.clone())])
        .unwrap();
    assert_eq!(s.bindings(500).unwrap(), std::slice::from_ref(&live));
    assert_eq!(s.bindings(500).unwrap().len(), 1, "the expired one is gone");
    let refreshed = Binding {
        expires_at: 2000,
        cseq: 7,
        instance: None,
        path: vec!["<sip:192.0.2.51:5070;transport=tcp;lr>".into()],
        ..live.clone()
    };
    s.apply(&[StoreOp::Bind(refreshed.clone())]).unwrap();
    assert_eq!(s.bindings(500).unwrap(), std::slice::from_ref(&refreshed));

    // Within one batch the last write of a row wins, whatever came before it.
    let other = binding("sip:alice@192.0.2.3", 3000);
    s.apply(&[
        StoreOp::Unbind {
            aor: refreshed.aor.clone(),
            contact: refreshed.contact.clone(),
        },
        StoreOp::Bind(other.clone()),
        StoreOp::Unbind {
            aor: other.aor.clone(),
            contact: other.contact.clone(),
        },
        StoreOp::Bind(refreshed.clone()),
    ])
    .unwrap();
    assert_eq!(s.bindings(500).unwrap(), std::slice::from_ref(&refreshed));

    // A large batch is one transaction.
    let many: Vec<StoreOp> = (0..2000)
        .map(|i| {
            StoreOp::Bind(Binding {
                aor: format!("sip:user{i}@contoso.com"),
                ..binding("sip:u@192.0.2.9", 5000)
            })
        })
        .collect();
    s.apply(&many).unwrap();
    assert_eq!(s.bindings(500).unwrap().len(), 2001);

    // Conferences: upserted, expired ones purged, deleted.
    let c = StoredConference {
        focus: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DESIGN01".into(),
        info: "<conference-info entity=\"x\"/>".into(),
        key: [7; 16],
        expires_at: 2000,
    };
    let gone = StoredConference {
        focus: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:OLDONE01".into(),
        expires_at: 100,
        ..c.clone()
    };
    s.apply(&[
        StoreOp::Schedule {
            focus: c.focus.clone(),
            conference: Some(c.clone()),
        },
        StoreOp::Schedule {
            focus: gone.focus.clone(),
            conference: Some(gone.clone()),
        },
    ])
    .unwrap();
    assert_eq!(s.conferences(500).unwrap(), std::slice::from_ref(&c));
    s.apply(&[StoreOp::Schedule {
        focus: c.focus.clone(),
        conference: None,
    }])
    .unwrap();
    assert!(s.conferences(500).unwrap().is_empty());

    // Roaming data: one row per user, replaced.
    let roaming = |contacts: &str| StoreOp::Roaming {
        aor: "sip:alice@contoso.com".into(),
        contacts: contacts.into(),
        data: "<roamingData/>".into(),
    };
    s.apply(&[roaming("<contactList v=\"1\"/>")]).unwrap();
    s.apply(&[roaming("<contactList v=\"2\"/>")]).unwrap();
    assert_eq!(
        s.roaming().unwrap(),
        [(
            "sip:alice@contoso.com".to_owned(),
            "<contactList v=\"2\"/>".to_owned(),
            "<roamingData/>".to_owned()
        )]
    );

    // The address book's history: days kept within the window, files replaced and removed.
    let files = |d: u16| vec![(format!("F-{d:04X}.lsabs"), d, vec![d as u8, 0, 0xFF])];
    let publish = |s: &mut dyn Store, day, book: &[u8], remove: &[String], oldest_day, now| {
        s.publish_abs(&AbsPublication {
            day,
            book,
            write: &files(day),
            remove,
            oldest_day,
            now,
        })
        .unwrap();
    };
    publish(s, 10, b"ten", &[], 0, 1);
    publish(s, 11, b"eleven", &["F-000A.lsabs".into()], 11, 2);
    assert_eq!(s.abs_days().unwrap(), [(11, b"eleven".to_vec())]);
    assert_eq!(
        s.abs_files().unwrap(),
        [("F-000B.lsabs".to_owned(), vec![11, 0, 0xFF], 2)]
    );
}

#[test]
fn sqlite_keeps_the_store_contract() {
    contract(&mut Sqlite::in_memory().unwrap());
}

#[test]
fn sqlite_keeps_what_it_committed_across_a_reopen() {
    let dir = std::env::temp_dir().join(format!("ocs-store-reopen-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ocs.sqlite3");
    {
        let mut s = Sqlite::open(&path).unwrap();
        s.apply(&[StoreOp::Bind(binding("sip:alice@192.0.2.1", 1000))])
            .unwrap();
    }
    assert_eq!(Sqlite::open(&path).unwrap().bindings(1).unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_over_the_network_without_tls_is_refused() {
    use ocs_stack::server::store::{Error, Postgres};
    for config in [
        "postgresql://ocs@db.example.com/ocs",
        "host=192.0.2.10 user=ocs dbname=ocs",
        "host=localhost hostaddr=192.0.2.10 user=ocs dbname=ocs",
    ] {
        match Postgres::connect(config) {
            Err(Error::Unsupported(why)) => assert!(why.contains("TLS"), "{why}"),
            other => panic!("{config}: {other:?}"),
        }
    }
}

#[cfg(not(feature = "postgres-tests"))]
#[test]
fn postgres_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the PostgreSQL tests were built without `postgres-tests`"
    );
    eprintln!("PostgreSQL store tests NOT RUN: build with --features ocs-stack/postgres-tests");
}

#[cfg(feature = "postgres-tests")]
#[path = "common/postgres.rs"]
mod pg;

#[cfg(feature = "postgres-tests")]
mod with_postgres {
    use super::*;
    use ocs_stack::server::store::{Error, MIGRATIONS, Postgres};

    #[test]
    fn postgres_keeps_the_store_contract() {
        let server = pg::Postgres::start("contract");
        let db = server.database("contract");
        contract(&mut Postgres::connect(&db).unwrap());
        // What was committed is there for another connection (another front end).
        let mut other = Postgres::connect(&db).unwrap();
        assert_eq!(other.users().unwrap().len(), 2);
        assert_eq!(other.bindings(500).unwrap().len(), 2001);
    }

    #[test]
    fn migrations_apply_once_when_nodes_start_together_and_a_newer_schema_is_refused() {
        let server = pg::Postgres::start("migrate");
        let db = server.database("migrate");
        // Four front ends start at once on an empty database: one applies the migrations,
        // the others wait for its lock and find them applied.
        let nodes: Vec<_> = (0..4)
            .map(|_| {
                let db = db.clone();
                std::thread::spawn(move || Postgres::connect(&db).map(|_| ()))
            })
            .collect();
        for n in nodes {
            n.join().unwrap().expect("every node opens the store");
        }
        let mut s = Postgres::connect(&db).unwrap();
        let newest = MIGRATIONS.last().unwrap().0;
        assert_eq!(s.schema_version().unwrap(), newest);
        let mut admin = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        let applied: i64 = admin
            .query_one("SELECT count(*) FROM ocs_schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(applied, MIGRATIONS.len() as i64, "each migration once");
        // A database a newer build migrated is not opened by this one.
        admin
            .execute(
                "INSERT INTO ocs_schema_migrations (version, name) VALUES ($1, 'future')",
                &[&(newest + 1)],
            )
            .unwrap();
        match Postgres::connect(&db) {
            Err(Error::SchemaTooNew { found, known }) => {
                assert_eq!((found, known), (newest + 1, newest));
            }
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(all(feature = "postgres-tests", feature = "sipp-tests"))]
#[path = "common/sipp.rs"]
mod sipp_peer;

/// `ocs serve` on PostgreSQL, killed (`SIGKILL`) while sipp registers: every registration sipp
/// saw acknowledged is in the database, and a server started again on it serves.
#[cfg(all(feature = "postgres-tests", feature = "sipp-tests"))]
#[test]
fn ocs_serve_on_postgres_killed_mid_load_loses_no_acknowledged_registration() {
    use ocs_stack::server::store::Postgres;
    use sipp_peer::*;
    const USERS: usize = 3000;
    let server = pg::Postgres::start("kill");
    let db = server.database("kill");
    let dir = temp_dir("pg-kill");
    let extra = format!("database = \"{db}\"");
    let (mut ocs, addr) = spawn_ocs(&dir, &extra);
    let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 300_000 + i)).collect();
    let port = free_port().to_string();
    let load = sipp_register(
        &dir,
        &addr.to_string(),
        &names,
        &port,
        &["-r", "500", "-recv_timeout", "2s", "-trace_msg"],
        "load.csv",
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    ocs.kill().unwrap(); // SIGKILL: no shutdown, no flush
    ocs.wait().unwrap();
    let out = load.wait_with_output().unwrap();
    assert!(!out.status.success(), "calls in flight must have failed");
    let (acknowledged, _) = counts(&dir, "load.csv");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let stored = Postgres::connect(&db).unwrap().bindings(now).unwrap();
    eprintln!(
        "PostgreSQL: {acknowledged} of {USERS} acknowledged before the kill, {} stored",
        stored.len()
    );
    assert!(acknowledged > 100, "the load ran ({acknowledged})");
    assert!(acknowledged < USERS, "the kill came mid-load");
    assert!(
        stored.len() >= acknowledged,
        "{} bindings stored, {acknowledged} acknowledged",
        stored.len()
    );
    // User by user.
    let acked = acknowledged_users(&dir, "register");
    assert_eq!(acked.len(), acknowledged);
    let users: std::collections::HashSet<String> = stored
        .iter()
        .map(|b| {
            b.aor
                .trim_start_matches("sip:")
                .split('@')
                .next()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
    let lost: Vec<&String> = acked.difference(&users).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    // Started again on the same database, the server serves.
    let (mut again, addr) = spawn_ocs(&dir, &extra);
    let port = free_port().to_string();
    let one = ["user999998".to_owned()];
    let reg = sipp_register(&dir, &addr.to_string(), &one, &port, &[], "after.csv");
    assert_eq!(finish(reg, &dir, "after.csv"), (1, 0));
    again.kill().unwrap();
    again.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
