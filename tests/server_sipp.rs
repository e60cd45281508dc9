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
mod with_sipp {
    use std::net::{SocketAddr, UdpSocket};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use ocs_stack::server::store::Store;
    use ocs_stack::server::{Config, LoadUsers, run};

    struct Server {
        addr: SocketAddr,
        tcp: SocketAddr,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        thread: Option<std::thread::JoinHandle<()>>,
    }

    impl Server {
        fn start(data_dir: &Path) -> Server {
            let cfg = Config {
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
                        let _ = addr_tx.send((b.udp.unwrap(), b.tcp.unwrap()));
                    },
                ))
                .unwrap();
            });
            let (addr, tcp) = addr_rx
                .recv_timeout(Duration::from_secs(20))
                .expect("the server binds");
            Server {
                addr,
                tcp,
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

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("ocs-server-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn free_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    }

    fn scenario(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/sipp")
            .join(name)
    }

    fn sipp(args: &[&str], dir: &Path, stat: &str) -> Child {
        Command::new("sipp")
            .args(args)
            .args([
                "-nostdin",
                "-timeout",
                "120s",
                "-timeout_error",
                "-trace_stat",
                "-fd",
                "1",
            ])
            .args(["-stf", stat])
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp runs (Debian package sip-tester)")
    }

    /// Waits for sipp; (successful, failed) from its statistics file.
    fn finish(child: Child, dir: &Path, stat: &str) -> (usize, usize) {
        let out = child.wait_with_output().expect("sipp ends");
        assert!(
            out.status.success(),
            "sipp exited with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        counts(dir, stat)
    }

    /// (successful, failed) from the last line of sipp's statistics file.
    fn counts(dir: &Path, stat: &str) -> (usize, usize) {
        let text = std::fs::read_to_string(dir.join(stat)).expect("sipp's statistics");
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().unwrap().split(';').collect();
        let last: Vec<&str> = lines.last().unwrap().split(';').collect();
        let col = |n: &str| -> usize {
            last[head.iter().position(|h| *h == n).unwrap()]
                .trim()
                .parse()
                .unwrap()
        };
        (col("SuccessfulCall(C)"), col("FailedCall(C)"))
    }

    /// The live bindings in the database at `db`.
    fn stored_bindings(db: &Path) -> Vec<ocs_stack::server::sip::Binding> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        Store::open(db).unwrap().bindings(now).unwrap()
    }

    /// sipp registering `names` (one per call) with Digest at `target`, from local port `port`;
    /// `extra` adds options (rate, transport...).
    fn sipp_register(
        dir: &Path,
        target: &str,
        names: &[String],
        port: &str,
        extra: &[&str],
        stat: &str,
    ) -> Child {
        let csv = users_csv(dir, names, stat);
        let count = names.len().to_string();
        let register = scenario("register.xml");
        let mut args = vec![
            target,
            "-sf",
            register.to_str().unwrap(),
            "-inf",
            csv.to_str().unwrap(),
            "-i",
            "127.0.0.1",
            "-p",
            port,
            "-m",
            &count,
        ];
        args.extend_from_slice(extra);
        sipp(&args, dir, stat)
    }

    fn users_csv(dir: &Path, names: &[String], stat: &str) -> PathBuf {
        let mut s = String::from("SEQUENTIAL\n");
        for n in names {
            s.push_str(&format!(
                "{n};contoso.com;[authentication username={n} password=secret]\n"
            ));
        }
        let p = dir.join(format!("{stat}.users"));
        std::fs::write(&p, s).unwrap();
        p
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

    /// `ocs serve` as a process, its UDP address read from its first line.
    fn spawn_ocs(dir: &Path) -> (Child, SocketAddr) {
        use std::io::BufRead;
        let cfg = dir.join("ocs.toml");
        std::fs::write(
            &cfg,
            "data_dir = \"data\"\nudp = \"127.0.0.1:0\"\ntcp = \"off\"\ntls = \"off\"\nweb = \"off\"\npsom = \"off\"\nauth = [\"Digest\"]\ndigest_uri_next_hop = true\n\
             [load_users]\nprefix = \"user\"\ncount = 1000000\npassword = \"secret\"\n",
        )
        .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_ocs"))
            .args(["serve", "--config", cfg.to_str().unwrap()])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let udp = line
            .split_whitespace()
            .find_map(|w| w.strip_prefix("udp="))
            .expect("listening line")
            .parse()
            .unwrap();
        (child, udp)
    }

    #[test]
    fn killed_mid_load_loses_no_acknowledged_registration() {
        const USERS: usize = 3000;
        let dir = temp_dir("kill");
        let (mut server, addr) = spawn_ocs(&dir);
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
        let (mut again, addr) = spawn_ocs(&dir);
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
