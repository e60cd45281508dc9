//! A pool of two `ocs serve` front ends on one PostgreSQL (the tests start both), with sipp
//! as the clients: a user registers on one node, and is called and sent instant messages
//! through the other — the INVITE, its ACK and BYE along the route set through both nodes.
//!
//! Needs PostgreSQL (Debian `postgresql`) and sipp (`sip-tester`): features `postgres-tests`
//! and `sipp-tests`, which `scripts/test.sh` turns on; CI requires them with
//! `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

#[cfg(not(all(feature = "postgres-tests", feature = "sipp-tests")))]
#[test]
fn pool_tests_require_the_features() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the pool tests were built without `postgres-tests` and `sipp-tests`"
    );
    eprintln!(
        "pool tests NOT RUN: build with --features ocs-stack/postgres-tests,ocs-stack/sipp-tests"
    );
}

#[cfg(all(feature = "postgres-tests", feature = "sipp-tests"))]
#[path = "common/postgres.rs"]
mod pg;

#[cfg(all(feature = "postgres-tests", feature = "sipp-tests"))]
#[path = "common/sipp.rs"]
mod sipp_peer;

#[cfg(all(feature = "postgres-tests", feature = "sipp-tests"))]
mod with_pool {
    use std::net::SocketAddr;
    use std::path::Path;
    use std::process::Child;
    use std::time::{Duration, Instant};

    use super::pg;
    use super::sipp_peer::*;

    /// A front end: its process, its SIP (UDP) address, its pool listener.
    pub(super) struct Node {
        pub(super) child: Child,
        pub(super) udp: SocketAddr,
    }

    impl Drop for Node {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Starts node `name` of the pool on `db`, its data under `dir/name`.
    pub(super) fn node(dir: &Path, name: &str, db: &str, udp_port: u16) -> Node {
        let home = dir.join(name);
        std::fs::create_dir_all(&home).unwrap();
        let secret = dir.join("pool-secret");
        if !secret.exists() {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(&secret, "a-pool-secret-of-the-test-0123456789").unwrap();
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let pool = free_tcp_port();
        let extra = format!(
            "database = \"{db}\"\n[pool]\nnode = \"{name}\"\nlisten = \"127.0.0.1:{pool}\"\nsecret_file = \"{}\"",
            secret.display()
        );
        let (child, udp) = spawn_ocs_at(&home, &extra, udp_port);
        Node { child, udp }
    }

    fn free_tcp_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    /// Waits until both nodes have said they are alive, and a heartbeat round more (their
    /// links come up in it).
    pub(super) fn until_pooled(db: &str, nodes: i64) {
        let start = Instant::now();
        loop {
            let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM pool_nodes
                     WHERE heartbeat > extract(epoch from now())::bigint - 5",
                    &[],
                )
                .map(|r| r.get(0))
                .unwrap_or(0);
            if n >= nodes {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "the nodes never met"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        std::thread::sleep(Duration::from_millis(3000));
    }

    #[test]
    fn registered_on_one_node_called_and_messaged_through_the_other() {
        const CALLS: usize = 50;
        const MESSAGES: usize = 50;
        let server = pg::Postgres::start("pool");
        let db = server.database("pool");
        let dir = temp_dir("pool");
        let a = node(&dir, "fe1", &db, 0);
        let b = node(&dir, "fe2", &db, 0);
        until_pooled(&db, 2);

        // The callee registers on A, where its sipp uas listens.
        let uas_port = free_port().to_string();
        let callee = ["user900001".to_owned()];
        let reg = sipp_register(&dir, &a.udp.to_string(), &callee, &uas_port, &[], "reg.csv");
        assert_eq!(finish(reg, &dir, "reg.csv"), (1, 0));
        // Give the announcement of the binding a moment to reach B.
        std::thread::sleep(Duration::from_millis(500));
        let calls = CALLS.to_string();
        let uas_scenario = scenario("uas_rr.xml");
        let uas = sipp(
            &[
                "-sf",
                uas_scenario.to_str().unwrap(),
                "-i",
                "127.0.0.1",
                "-p",
                &uas_port,
                "-m",
                &calls,
            ],
            &dir,
            "uas.csv",
        );
        std::thread::sleep(Duration::from_millis(300));
        // The caller, a user of ours with credentials, calls through B.
        let caller = users_csv(&dir, &["user900002".to_owned()], "uac.csv");
        let uac_scenario = scenario("uac_dialog_auth.xml");
        let uac_port = free_port().to_string();
        let uac = sipp(
            &[
                "-sf",
                uac_scenario.to_str().unwrap(),
                "-inf",
                caller.to_str().unwrap(),
                &b.udp.to_string(),
                "-s",
                "user900001",
                "-i",
                "127.0.0.1",
                "-p",
                &uac_port,
                "-m",
                &calls,
                "-r",
                "50",
                "-l",
                "50",
            ],
            &dir,
            "uac.csv",
        );
        assert_eq!(
            finish(uac, &dir, "uac.csv"),
            (CALLS, 0),
            "sipp uac through B"
        );
        assert_eq!(finish(uas, &dir, "uas.csv"), (CALLS, 0), "sipp uas on A");

        // Instant messages the same way: the receiver on A, the sender through B.
        let rx_port = free_port().to_string();
        let im_callee = ["user900003".to_owned()];
        let reg = sipp_register(
            &dir,
            &a.udp.to_string(),
            &im_callee,
            &rx_port,
            &[],
            "reg2.csv",
        );
        assert_eq!(finish(reg, &dir, "reg2.csv"), (1, 0));
        std::thread::sleep(Duration::from_millis(500));
        let messages = MESSAGES.to_string();
        let rx_scenario = scenario("message_uas.xml");
        let rx = sipp(
            &[
                "-sf",
                rx_scenario.to_str().unwrap(),
                "-i",
                "127.0.0.1",
                "-p",
                &rx_port,
                "-m",
                &messages,
            ],
            &dir,
            "rx.csv",
        );
        std::thread::sleep(Duration::from_millis(300));
        let sender = users_csv(&dir, &["user900004".to_owned()], "tx.csv");
        let tx_scenario = scenario("message_auth.xml");
        let tx_port = free_port().to_string();
        let tx = sipp(
            &[
                "-sf",
                tx_scenario.to_str().unwrap(),
                "-inf",
                sender.to_str().unwrap(),
                &b.udp.to_string(),
                "-s",
                "user900003",
                "-i",
                "127.0.0.1",
                "-p",
                &tx_port,
                "-m",
                &messages,
                "-r",
                "50",
            ],
            &dir,
            "tx.csv",
        );
        assert_eq!(
            finish(tx, &dir, "tx.csv"),
            (MESSAGES, 0),
            "MESSAGE through B"
        );
        assert_eq!(finish(rx, &dir, "rx.csv"), (MESSAGES, 0), "received on A");
        drop((a, b));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
