//! A pool of two `ocs serve` front ends on one PostgreSQL (the tests start both), with sipp
//! as the clients: a user registers on one node, and is called and sent instant messages
//! through the other — the INVITE, its ACK and BYE along the route set through both nodes.
//!
//! Behind Kamailio's dispatcher (the configuration in `scripts/deploy/kamailio/`), one front
//! end is killed under sipp load: nothing acknowledged is lost, and the other serves.
//!
//! Needs PostgreSQL (Debian `postgresql`), sipp (`sip-tester`) and Kamailio (`kamailio`):
//! feature `pool-tests`, which `scripts/test.sh` turns on; CI requires it with
//! `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

#[cfg(not(feature = "pool-tests"))]
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

#[cfg(feature = "pool-tests")]
#[path = "common/postgres.rs"]
mod pg;

#[cfg(feature = "pool-tests")]
#[path = "common/sipp.rs"]
mod sipp_peer;

#[cfg(feature = "pool-tests")]
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
        node_with(dir, name, db, udp_port, "")
    }

    /// [`node`] with more top-level settings.
    pub(super) fn node_with(dir: &Path, name: &str, db: &str, udp_port: u16, more: &str) -> Node {
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
            "{more}\ndatabase = \"{db}\"\n[pool]\nnode = \"{name}\"\nlisten = \"127.0.0.1:{pool}\"\nsecret_file = \"{}\"",
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

    /// Kamailio with the repository's dispatcher configuration in front of `nodes`, on
    /// loopback at `port`; stopped on drop.
    struct Kamailio(Child);

    impl Drop for Kamailio {
        fn drop(&mut self) {
            // Its workers end with the main process on SIGTERM.
            let _ = std::process::Command::new("kill")
                .arg(self.0.id().to_string())
                .status();
            let _ = self.0.wait();
        }
    }

    fn kamailio(dir: &Path, port: u16, nodes: &[SocketAddr]) -> Kamailio {
        let cfg =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deploy/kamailio/kamailio.cfg");
        let list = dir.join("dispatcher.list");
        let lines: String = nodes.iter().map(|n| format!("1 sip:{n}\n")).collect();
        std::fs::write(&list, lines).unwrap();
        let run = dir.join("kamailio-run");
        std::fs::create_dir_all(&run).unwrap();
        let log = std::fs::File::create(dir.join("kamailio.log")).unwrap();
        let child = std::process::Command::new("kamailio")
            .arg("-f")
            .arg(&cfg)
            .args(["-DD", "-E", "-m", "64", "-M", "8"])
            .arg("-Y")
            .arg(&run)
            .arg("-A")
            .arg(format!("LISTEN=udp:127.0.0.1:{port}"))
            .arg("-A")
            .arg(format!("DISPATCHER_LIST=\"{}\"", list.display()))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("kamailio runs (Debian package kamailio)");
        Kamailio(child)
    }

    /// `n` calls by `caller` (a user of ours with credentials, a sipp that follows the route
    /// set) through `target` to `callee`, registered at `uas_port` where a sipp that keeps the
    /// route set answers; `uac_extra` and `uas_extra` add sipp options. The (successful,
    /// failed) counts of both sides.
    #[allow(clippy::too_many_arguments)]
    fn calls(
        dir: &Path,
        target: &str,
        callee: &str,
        uas_port: &str,
        caller: &str,
        n: usize,
        uac_extra: &[&str],
        uas_extra: &[&str],
    ) -> ((usize, usize), (usize, usize)) {
        let count = n.to_string();
        let uas_scenario = scenario("uas_rr.xml");
        let mut args = vec![
            "-sf",
            uas_scenario.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            uas_port,
            "-m",
            &count,
        ];
        args.extend_from_slice(uas_extra);
        let uas = sipp(&args, dir, "uas.csv");
        std::thread::sleep(Duration::from_millis(300));
        let caller = users_csv(dir, &[caller.to_owned()], "uac.csv");
        let uac_scenario = scenario("uac_dialog_auth.xml");
        let uac_port = free_port().to_string();
        let mut args = vec![
            "-sf",
            uac_scenario.to_str().unwrap(),
            "-inf",
            caller.to_str().unwrap(),
            target,
            "-s",
            callee,
            "-i",
            "127.0.0.1",
            "-p",
            &uac_port,
            "-m",
            &count,
        ];
        args.extend_from_slice(uac_extra);
        let uac = sipp(&args, dir, "uac.csv");
        (finish(uac, dir, "uac.csv"), finish(uas, dir, "uas.csv"))
    }

    /// The live bindings in the pool's database.
    fn stored(db: &str) -> i64 {
        let mut c = postgres::Client::connect(db, postgres::NoTls).unwrap();
        c.query_one(
            "SELECT count(*) FROM bindings WHERE expires_at > extract(epoch from now())::bigint",
            &[],
        )
        .unwrap()
        .get(0)
    }

    /// Two front ends behind Kamailio's dispatcher, sipp registering through it; one front
    /// end is killed (`SIGKILL`) mid-load. Every registration sipp saw acknowledged is in the
    /// database; the clients that register again are served by the other front end, and a
    /// call through the balancer reaches a user registered after the kill.
    #[test]
    fn behind_kamailio_a_killed_front_end_loses_nothing_acknowledged_and_the_other_serves() {
        const USERS: usize = 2000;
        let server = pg::Postgres::start("lb");
        let db = server.database("lb");
        let dir = temp_dir("pool-lb");
        let lb_port = free_port();
        let lb = format!("127.0.0.1:{lb_port}");
        let alias = format!("aliases = [\"{lb}\"]");
        let mut a = node_with(&dir, "fe1", &db, 0, &alias);
        let b = node_with(&dir, "fe2", &db, 0, &alias);
        until_pooled(&db, 2);
        let _kamailio = kamailio(&dir, lb_port, &[a.udp, b.udp]);
        // Its first probes find both front ends alive.
        std::thread::sleep(Duration::from_millis(2500));

        let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 400_000 + i)).collect();
        let port = free_port().to_string();
        let load = sipp_register(
            &dir,
            &lb,
            &names,
            &port,
            &["-r", "400", "-recv_timeout", "6s", "-trace_msg"],
            "load.csv",
        );
        std::thread::sleep(Duration::from_millis(2000));
        a.child.kill().unwrap(); // SIGKILL: no shutdown, no flush
        a.child.wait().unwrap();
        let out = load.wait_with_output().unwrap();
        let (acknowledged, failed) = counts(&dir, "load.csv");
        let in_db = stored(&db);
        eprintln!(
            "through Kamailio: {acknowledged} of {USERS} acknowledged ({failed} failed) with fe1 killed mid-load; {in_db} bindings stored; sipp exit {}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .take(6)
                .collect::<Vec<_>>()
                .join("\n")
        );
        assert!(acknowledged > 500, "the load ran ({acknowledged})");
        assert!(
            in_db >= acknowledged as i64,
            "{in_db} stored, {acknowledged} acknowledged"
        );
        // User by user: every registration sipp saw acknowledged is in the database.
        let acked = acknowledged_users(&dir, "register");
        assert_eq!(
            acked.len(),
            acknowledged,
            "one 200 per acknowledged registration"
        );
        let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        let stored: std::collections::HashSet<String> = c
            .query("SELECT aor FROM bindings", &[])
            .unwrap()
            .iter()
            .map(|r| {
                let aor: String = r.get(0);
                aor.trim_start_matches("sip:")
                    .split('@')
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .collect();
        let lost: Vec<&String> = acked.difference(&stored).collect();
        assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
        // Who served what: each binding names its front end on top of its Path.
        let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        let by_node: Vec<(String, i64)> = c
            .query(
                "SELECT path[1], count(*) FROM bindings GROUP BY 1 ORDER BY 1",
                &[],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect();
        eprintln!("bindings by front end: {by_node:?}");
        assert_eq!(by_node.len(), 2, "both front ends served: {by_node:?}");
        let (fe1, fe2) = (
            by_node[0].1.min(by_node[1].1),
            by_node[0].1.max(by_node[1].1),
        );
        assert!(fe1 > 100, "the killed one served until it died ({fe1})");
        assert!(
            fe2 > USERS as i64 / 2,
            "the other served its share and what the killed one no longer could ({fe2})"
        );
        assert!(
            acknowledged > USERS * 9 / 10,
            "with the dispatcher's failover few registrations fail ({acknowledged} of {USERS})"
        );

        // Clients register again through the balancer: the living front end serves them all.
        let again: Vec<String> = names[..200].to_vec();
        let port = free_port().to_string();
        let reg = sipp_register(&dir, &lb, &again, &port, &["-r", "100"], "again.csv");
        assert_eq!(
            finish(reg, &dir, "again.csv"),
            (200, 0),
            "re-registered through fe2"
        );

        // A call through the balancer to a user registered now.
        let uas_port = free_port().to_string();
        let callee = ["user950000".to_owned()];
        let reg = sipp_register(&dir, &lb, &callee, &uas_port, &[], "callee.csv");
        assert_eq!(finish(reg, &dir, "callee.csv"), (1, 0));
        let (uac, uas) = calls(
            &dir,
            &lb,
            "user950000",
            &uas_port,
            "user950001",
            10,
            &["-r", "10"],
            &[],
        );
        assert_eq!(uac, (10, 0), "calls through Kamailio and fe2");
        assert_eq!(uas, (10, 0));
        drop(b);
        let _ = std::fs::remove_dir_all(&dir);
    }

    /// `workers = 2`: two SIP engines in one `ocs serve`, on one UDP port (`SO_REUSEPORT`),
    /// each a front end of the pool. sipp with a socket per call (`-t un`) spreads over both;
    /// calls between users registered on either worker all connect.
    #[test]
    fn two_workers_share_one_port_and_serve_each_others_users() {
        const USERS: usize = 200;
        const CALLS: usize = 40;
        let server = pg::Postgres::start("workers");
        let db = server.database("workers");
        let dir = temp_dir("pool-workers");
        let home = dir.join("fe1");
        std::fs::create_dir_all(&home).unwrap();
        let secret = dir.join("pool-secret");
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::write(&secret, "a-pool-secret-of-the-test-0123456789").unwrap();
            std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let udp = free_port();
        let extra = format!(
            "workers = 2\ndatabase = \"{db}\"\n[pool]\nnode = \"fe1\"\nlisten = \"127.0.0.1:{}\"\nsecret_file = \"{}\"",
            free_tcp_port(),
            secret.display()
        );
        let (child, addr) = spawn_ocs_at(&home, &extra, udp);
        let _node = Node { child, udp: addr };
        until_pooled(&db, 2);
        let target = addr.to_string();
        let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 600_000 + i)).collect();
        let port = free_port().to_string();
        let reg = sipp_register(
            &dir,
            &target,
            &names,
            &port,
            &["-t", "un", "-max_socket", "1000", "-r", "100"],
            "reg.csv",
        );
        assert_eq!(finish(reg, &dir, "reg.csv"), (USERS, 0));
        let mut c = postgres::Client::connect(&db, postgres::NoTls).unwrap();
        let by_worker: Vec<i64> = c
            .query("SELECT count(*) FROM bindings GROUP BY path[1]", &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        eprintln!("bindings by worker: {by_worker:?}");
        assert_eq!(
            by_worker.len(),
            2,
            "both workers took registrations: {by_worker:?}"
        );
        assert!(by_worker.iter().all(|n| *n > 20), "{by_worker:?}");

        // A callee on one socket (one worker), callers on a socket per call (either).
        let uas_port = free_port().to_string();
        let callee = ["user650000".to_owned()];
        let reg = sipp_register(&dir, &target, &callee, &uas_port, &[], "callee.csv");
        assert_eq!(finish(reg, &dir, "callee.csv"), (1, 0));
        std::thread::sleep(Duration::from_millis(500));
        let (uac, uas) = calls(
            &dir,
            &target,
            "user650000",
            &uas_port,
            "user650001",
            CALLS,
            &["-t", "un", "-max_socket", "1000", "-r", "20"],
            &[],
        );
        assert_eq!(uac, (CALLS, 0), "calls from either worker");
        assert_eq!(uas, (CALLS, 0));
        let _ = std::fs::remove_dir_all(&dir);
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
        let (uac, uas) = calls(
            &dir,
            &b.udp.to_string(),
            "user900001",
            &uas_port,
            "user900002",
            CALLS,
            &["-r", "50", "-l", "50"],
            &["-trace_msg"],
        );
        assert_eq!(uac, (CALLS, 0), "sipp uac through B");
        assert_eq!(uas, (CALLS, 0), "sipp uas on A");
        // Every BYE came along the route set, through B's link to A (a TCP Via).
        let log = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(Result::ok)
            .find(|e| e.file_name().to_string_lossy().starts_with("uas_rr_"))
            .map(|e| std::fs::read_to_string(e.path()).unwrap())
            .expect("the uas's message log");
        let byes: Vec<&str> = log
            .split("-----------------------------------------------")
            .filter(|m| m.contains("\nBYE sip:"))
            .collect();
        assert_eq!(byes.len(), CALLS, "one BYE per call");
        for m in &byes {
            assert!(
                m.contains("Via: SIP/2.0/TCP"),
                "a BYE that did not cross the pool: {m}"
            );
            assert!(
                !m.contains("Ocs-Pool-Auth"),
                "the pool's signature stays in the pool"
            );
        }

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
