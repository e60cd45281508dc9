//! The reference server against sipp on loopback: REGISTER with Digest authentication for many
//! users (and the bindings found in SQLite after a restart), and calls from sipp's `uac`
//! scenario through the proxy to a registered sipp `uas`, with sipp's statistics required to
//! show every call successful.
//!
//! Needs the `sipp-tests` feature and sipp on the PATH (Debian `sip-tester`); `scripts/test.sh`
//! turns it on and CI requires it with `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

#[cfg(not(feature = "sipp-tests"))]
#[test]
fn server_sipp_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the server sipp tests were built without `sipp-tests`"
    );
    eprintln!("server sipp tests NOT RUN: build with --features ocs-stack/sipp-tests");
}

#[cfg(feature = "sipp-tests")]
#[path = "common/sipp.rs"]
mod sipp_peer;

#[cfg(feature = "sipp-tests")]
mod with_sipp {
    use super::sipp_peer::*;
    use std::net::SocketAddr;
    use std::path::Path;
    use std::time::Duration;

    use ocs_stack::server::store::{Sqlite, Store};
    use ocs_stack::server::{Config, LoadUsers, run};

    struct Server {
        addr: SocketAddr,
        tcp: SocketAddr,
        web: Option<SocketAddr>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        fn start(data_dir: &Path) -> Server {
            Self::start_with(data_dir, |_| {})
        }

        fn start_with(data_dir: &Path, change: impl FnOnce(&mut Config)) -> Server {
            let mut cfg = Config {
                data_dir: data_dir.to_owned(),
                udp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                tcp: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
                tls: None,
                web: None,
                psom: None,
                auth: vec!["Digest".into()],
                // sipp's [authentication] puts the address it sends to in `uri`.
                digest_uri_next_hop: true,
                load_users: Some(LoadUsers {
                    prefix: "user".into(),
                    count: 1_000_000,
                    password: "secret".into(),
                }),
                ..Config::default()
            };
            change(&mut cfg);
            let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
            let (addr_tx, addr_rx) = std::sync::mpsc::channel();
            let thread = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(run(
                    cfg,
                    async {
                        let _ = stop_rx.await;
                    },
                    move |b| {
                        let _ = addr_tx.send((b.udp.unwrap(), b.tcp.unwrap(), b.web));
                    },
                ))
                .unwrap();
            });
            let (addr, tcp, web) = addr_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the server binds");
            Server {
                addr,
                tcp,
                web,
                stop: Some(stop_tx),
                thread: Some(thread),
            }
        }

        fn stop(mut self) {
            if let Some(s) = self.stop.take() {
                let _ = s.send(());
            }
            if let Some(t) = self.thread.take() {
                t.join().unwrap();
            }
        }
    }

    /// The live bindings in the database at `db`.
    fn stored_bindings(db: &Path) -> Vec<ocs_stack::server::sip::Binding> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Sqlite::open(db).unwrap().bindings(now).unwrap()
    }

    #[test]
    fn many_users_register_with_digest_and_survive_a_restart() {
        const USERS: usize = 500;
        let dir = temp_dir("register");
        let server = Server::start(&dir);
        let names: Vec<String> = (0..USERS).map(|i| format!("user{i}")).collect();
        let target = server.addr.to_string();
        let port = free_port().to_string();
        let child = sipp_register(&dir, &target, &names, &port, &["-r", "250"], "register.csv");
        assert_eq!(finish(child, &dir, "register.csv"), (USERS, 0));
        server.stop();
        // What was acknowledged is in the database.
        let bindings = stored_bindings(&dir.join("ocs.sqlite3"));
        assert_eq!(bindings.len(), USERS);
        assert!(bindings.iter().all(|b| b.aor.ends_with("@contoso.com")));
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn users_register_over_tcp_on_one_connection() {
        const USERS: usize = 200;
        let dir = temp_dir("tcp");
        let server = Server::start(&dir);
        let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 500_000 + i)).collect();
        let target = server.tcp.to_string();
        let port = free_port().to_string();
        let child = sipp_register(
            &dir,
            &target,
            &names,
            &port,
            &["-t", "t1", "-r", "200"],
            "tcp.csv",
        );
        assert_eq!(finish(child, &dir, "tcp.csv"), (USERS, 0));
        server.stop();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn killed_mid_load_loses_no_acknowledged_registration() {
        const USERS: usize = 3000;
        let dir = temp_dir("kill");
        let (mut server, addr) = spawn_ocs(&dir, "");
        let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 200_000 + i)).collect();
        let target = addr.to_string();
        let port = free_port().to_string();
        let load = sipp_register(
            &dir,
            &target,
            &names,
            &port,
            &["-r", "500", "-recv_timeout", "2s"],
            "load.csv",
        );
        std::thread::sleep(Duration::from_millis(2500));
        server.kill().unwrap(); // SIGKILL: no shutdown, no flush
        server.wait().unwrap();
        // sipp counts the registrations it saw acknowledged; the rest time out.
        let out = load.wait_with_output().unwrap();
        assert!(!out.status.success(), "calls in flight must have failed");
        let (acknowledged, _) = counts(&dir, "load.csv");
        eprintln!("acknowledged before the kill: {acknowledged} of {USERS}");
        assert!(
            acknowledged > 100,
            "the load ran ({acknowledged} acknowledged)"
        );
        assert!(acknowledged < USERS, "the kill came mid-load");
        // Restarted, the server has every acknowledged binding and serves again.
        let (mut again, addr) = spawn_ocs(&dir, "");
        let stored = stored_bindings(&dir.join("data/ocs.sqlite3")).len();
        eprintln!("bindings in the database after the restart: {stored}");
        assert!(
            stored >= acknowledged,
            "{stored} bindings stored, {acknowledged} acknowledged"
        );
        let port = free_port().to_string();
        let one = ["user999999".to_owned()];
        let reg = sipp_register(&dir, &addr.to_string(), &one, &port, &[], "after.csv");
        assert_eq!(finish(reg, &dir, "after.csv"), (1, 0));
        again.kill().unwrap();
        again.wait().unwrap();
        std::fs::remove_dir_all(&dir).ok();
    }

    /// Prometheus's view, fetched with curl: the registrations sipp made are counted, the
    /// store's queue drained; without the token the scrape is refused.
    #[cfg(feature = "curl-tests")]
    #[test]
    fn metrics_count_what_sipp_registered() {
        const USERS: usize = 50;
        let dir = temp_dir("metrics");
        let server = Server::start_with(&dir, |c| {
            c.web = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
            c.metrics_token = Some("scrape-token-1".into());
        });
        let names: Vec<String> = (0..USERS).map(|i| format!("user{}", 700_000 + i)).collect();
        let port = free_port().to_string();
        let child = sipp_register(
            &dir,
            &server.addr.to_string(),
            &names,
            &port,
            &["-r", "100"],
            "metrics.csv",
        );
        assert_eq!(finish(child, &dir, "metrics.csv"), (USERS, 0));
        // Refreshed at least once a second.
        std::thread::sleep(Duration::from_millis(1500));
        let url = format!("http://{}/metrics", server.web.unwrap());
        let curl = |extra: &[&str]| {
            let out = std::process::Command::new("curl")
                .args(["-s", "-w", "\n%{http_code}"])
                .args(extra)
                .arg(&url)
                .output()
                .expect("curl runs");
            String::from_utf8(out.stdout).unwrap()
        };
        assert!(curl(&[]).ends_with("\n401"), "no token, no metrics");
        let text = curl(&["-H", "Authorization: Bearer scrape-token-1"]);
        assert!(text.ends_with("\n200"), "{text}");
        let value = |name: &str| -> u64 {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.strip_prefix(' '))
                .unwrap_or_else(|| panic!("{name} in {text}"))
                .parse()
                .unwrap()
        };
        assert_eq!(value("ocs_register_ok_total"), USERS as u64);
        assert_eq!(value("ocs_bindings"), USERS as u64);
        assert_eq!(value("ocs_store_queue"), 0);
        assert!(value("ocs_store_writes_total") >= USERS as u64);
        assert_eq!(value("ocs_store_failures_total"), 0);
        assert!(text.contains("# TYPE ocs_transactions gauge"));
        server.stop();
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn calls_through_the_proxy_to_a_registered_uas() {
        const CALLS: usize = 1000;
        let dir = temp_dir("calls");
        let server = Server::start(&dir);
        let target = server.addr.to_string();
        // The callee registers "user900001" at the port its sipp uas will listen on.
        let uas_port = free_port().to_string();
        let callee = ["user900001".to_owned()];
        let reg = sipp_register(&dir, &target, &callee, &uas_port, &[], "reg.csv");
        assert_eq!(finish(reg, &dir, "reg.csv"), (1, 0));
        let calls = CALLS.to_string();
        let uas = sipp(
            &[
                "-sn",
                "uas",
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
        let uac_port = free_port().to_string();
        // The caller is a user of ours with credentials: every request is authenticated.
        let caller = users_csv(&dir, &["user900002".to_owned()], "uac.csv");
        let uac_scenario = scenario("uac_auth.xml");
        let uac = sipp(
            &[
                "-sf",
                uac_scenario.to_str().unwrap(),
                "-inf",
                caller.to_str().unwrap(),
                &target,
                "-s",
                "user900001",
                "-i",
                "127.0.0.1",
                "-p",
                &uac_port,
                "-m",
                &calls,
                "-r",
                "200",
                "-l",
                "200",
            ],
            &dir,
            "uac.csv",
        );
        assert_eq!(finish(uac, &dir, "uac.csv"), (CALLS, 0), "sipp uac");
        assert_eq!(finish(uas, &dir, "uas.csv"), (CALLS, 0), "sipp uas");
        server.stop();
        std::fs::remove_dir_all(&dir).ok();
    }
}
