//! pidgin-sipe, a real OCS 2007 client nobody here wrote, against the reference server on
//! loopback: alice and bob sign in with NTLM over TLS and over TCP and exchange IMs both ways,
//! then alice, bob and carol at once, each writing to the next.
//!
//! pidgin-sipe runs inside `tests/pidgin/driver.c`, a headless libpurple client built here with
//! `cc` and `pkg-config` (Debian packages `pidgin-sipe`, `libpurple-dev`, `libglib2.0-dev`,
//! `libxml2-dev`, `gcc`, `pkg-config`). `tests/pidgin/sax1_shim.c` is preloaded into it so that
//! sipe 1.25 can parse XML with Debian 12's libxml2 (the first test checks that it does). Every
//! driver runs with `PURPLE_DEBUG=1`; its log (sipe's, with whole SIP messages) is kept under
//! `target/tmp/pidgin-sipe/logs/` and its tail printed when a test fails. `OCS_TRACE_SIP=1`
//! prints the server's side of every message too.
//!
//! Needs the `pidgin-tests` feature; CI requires it with `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

#[cfg(not(feature = "pidgin-tests"))]
#[test]
fn pidgin_sipe_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the pidgin-sipe tests were built without `pidgin-tests`"
    );
    eprintln!(
        "WARNING: pidgin-sipe interop tests NOT RUN: build with --features ocs-stack/pidgin-tests \
         (needs Debian pidgin-sipe, libpurple-dev, libglib2.0-dev, libxml2-dev, gcc, pkg-config)"
    );
}

#[cfg(all(feature = "pidgin-tests", feature = "kerberos-tests"))]
#[path = "common/kdc.rs"]
mod kdc;

#[cfg(feature = "pidgin-tests")]
#[path = "common/inproc.rs"]
mod inproc;

#[cfg(feature = "pidgin-tests")]
#[path = "common/lines.rs"]
mod lines;

#[cfg(feature = "pidgin-tests")]
mod with_pidgin {
    use std::io::{BufRead, BufReader, Write};
    use std::net::SocketAddr;
    use std::path::{Path, PathBuf};
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::mpsc::{Receiver, RecvTimeoutError};
    use std::sync::{Arc, Mutex, OnceLock};
    use std::time::{Duration, Instant};

    use ocs_stack::server::Config;

    const SIGN_IN: Duration = Duration::from_secs(20);
    const DELIVERY: Duration = Duration::from_secs(15);
    /// Lines of a driver's log printed when a test fails.
    const LOG_TAIL: usize = 150;

    /// The driver, the shim and the XML check, compiled once per test binary.
    struct Tools {
        driver: PathBuf,
        shim: PathBuf,
        check: PathBuf,
        logs: PathBuf,
    }

    fn pkg_config(args: &[&str]) -> Vec<String> {
        let out = Command::new("pkg-config")
            .args(args)
            .output()
            .expect("pkg-config runs (Debian package pkg-config)");
        assert!(
            out.status.success(),
            "pkg-config {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .split_whitespace()
            .map(str::to_owned)
            .collect()
    }

    /// Compiles into a temporary name and renames, so that a concurrent run never executes a
    /// half-written file.
    fn cc(out: &Path, args: &[String]) {
        let tmp = out.with_extension(format!("tmp{}", std::process::id()));
        let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
        let res = Command::new(&cc)
            .args([
                "-std=gnu11",
                "-O1",
                "-g",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-o",
            ])
            .arg(&tmp)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{cc} runs: {e}"));
        assert!(
            res.status.success(),
            "{cc} failed for {}:\n{}",
            out.display(),
            String::from_utf8_lossy(&res.stderr)
        );
        std::fs::rename(&tmp, out).unwrap();
    }

    fn tools() -> &'static Tools {
        static TOOLS: OnceLock<Tools> = OnceLock::new();
        TOOLS.get_or_init(|| {
            let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pidgin");
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pidgin-sipe");
            let logs = dir.join("logs");
            std::fs::create_dir_all(&logs).unwrap();
            let file = |name: &str| src.join(name).display().to_string();

            let driver = dir.join("driver");
            let mut args = vec![file("driver.c")];
            args.extend(pkg_config(&["--cflags", "--libs", "purple", "glib-2.0"]));
            cc(&driver, &args);

            // The shim links libxml2 itself: dlsym(RTLD_NEXT) must find it from the shim.
            let shim = dir.join("sax1_shim.so");
            let mut args = vec![
                "-shared".into(),
                "-fPIC".into(),
                file("sax1_shim.c"),
                "-Wl,--no-as-needed".into(),
            ];
            args.extend(pkg_config(&["--cflags", "--libs", "libxml-2.0"]));
            args.push("-ldl".into());
            cc(&shim, &args);

            let check = dir.join("sax1_check");
            cc(&check, &[file("sax1_check.c"), "-ldl".into()]);
            Tools {
                driver,
                shim,
                check,
                logs,
            }
        })
    }

    /// One driver at a time: two cores run sipe, libpurple and the server, and a slow machine
    /// should not turn into a timeout.
    fn serial() -> std::sync::MutexGuard<'static, ()> {
        static LOCK: Mutex<()> = Mutex::new(());
        LOCK.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn trace_sip() -> bool {
        static INIT: OnceLock<bool> = OnceLock::new();
        *INIT.get_or_init(|| {
            let on = std::env::var_os("OCS_TRACE_SIP").is_some_and(|v| v == "1");
            if on {
                let _ = tracing_subscriber::fmt()
                    .with_writer(std::io::stderr)
                    .try_init();
            }
            on
        })
    }

    use super::inproc::InProcess;

    /// The server pidgin-sipe signs in to: TCP and TLS, NTLM.
    struct Server(InProcess);

    impl Server {
        fn start(name: &str) -> Server {
            let any = SocketAddr::from(([127, 0, 0, 1], 0));
            let cfg = Config {
                udp: None,
                tcp: Some(any),
                tls: Some(any),
                web: None,
                psom: None,
                media: None,
                auth: vec!["NTLM".into()],
                trace_sip: trace_sip(),
                ..Config::default()
            };
            Server(InProcess::start(&format!("pidgin-{name}"), cfg))
        }

        fn addr(&self, transport: &str) -> SocketAddr {
            let b = self.0.bound();
            match transport {
                "tls" => b.tls.unwrap(),
                _ => b.tcp.unwrap(),
            }
        }
    }

    /// A running driver: its event lines arrive on a channel from a reader thread, its log is
    /// written to a file and kept in memory for the failure report.
    struct Driver {
        user: String,
        child: Child,
        stdin: Option<ChildStdin>,
        events: Receiver<String>,
        seen: Vec<String>,
        log: Arc<Mutex<Vec<String>>>,
        log_path: PathBuf,
    }

    impl Driver {
        fn start(
            test: &str,
            user: &str,
            password: &str,
            server: SocketAddr,
            transport: &str,
        ) -> Driver {
            Driver::start_with(test, user, password, server, transport, "ntlm", &[])
        }

        /// A driver with authentication `auth` (`ntlm`, `krb5`) and more environment (the
        /// Kerberos configuration).
        fn start_with(
            test: &str,
            user: &str,
            password: &str,
            server: SocketAddr,
            transport: &str,
            auth: &str,
            env: &[(&str, String)],
        ) -> Driver {
            let t = tools();
            let log_path = t.logs.join(format!("{test}-{user}.log"));
            let mut child = Command::new(&t.driver)
                .arg(format!("{user}@contoso.com"))
                .arg(password)
                .arg(server.to_string())
                .arg(transport)
                .arg(auth)
                .envs(env.iter().map(|(k, v)| (*k, v)))
                .env("LD_PRELOAD", &t.shim)
                .env("PURPLE_DEBUG", "1")
                // No session bus to find or autolaunch.
                .env(
                    "DBUS_SESSION_BUS_ADDRESS",
                    "unix:path=/nonexistent/ocs-test-bus",
                )
                .env_remove("DISPLAY")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("the driver starts");

            let events = super::lines::lines(child.stdout.take().unwrap());
            let log = Arc::new(Mutex::new(Vec::new()));
            let err = child.stderr.take().unwrap();
            let (keep, path) = (log.clone(), log_path.clone());
            std::thread::spawn(move || {
                let mut file = std::fs::File::create(&path).ok();
                for line in BufReader::new(err).lines().map_while(Result::ok) {
                    if let Some(f) = file.as_mut() {
                        let _ = writeln!(f, "{line}");
                    }
                    keep.lock().unwrap().push(line);
                }
            });
            Driver {
                user: user.into(),
                stdin: child.stdin.take(),
                child,
                events,
                seen: Vec::new(),
                log,
                log_path,
            }
        }

        /// The next event that `want` accepts, or why none came in time.
        fn wait(
            &mut self,
            timeout: Duration,
            want: impl Fn(&str) -> bool,
        ) -> Result<String, String> {
            let deadline = Instant::now() + timeout;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.events.recv_timeout(left) {
                    Ok(line) => {
                        self.seen.push(line.clone());
                        if want(&line) {
                            return Ok(line);
                        }
                        if line.starts_with("ERROR") {
                            return Err(format!("{}: {line}", self.user));
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {
                        return Err(format!("{}: nothing in {timeout:?}", self.user));
                    }
                    Err(RecvTimeoutError::Disconnected) => {
                        let status = self.child.wait().ok();
                        return Err(format!("{}: the driver ended ({status:?})", self.user));
                    }
                }
            }
        }

        /// Whether a line of the log contains `needle` within `timeout`.
        fn logged(&self, needle: &str, timeout: Duration) -> bool {
            let deadline = Instant::now() + timeout;
            loop {
                if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                    return true;
                }
                if Instant::now() >= deadline {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }

        fn send(&mut self, line: &str) {
            if let Some(stdin) = self.stdin.as_mut() {
                let _ = writeln!(stdin, "{line}");
                let _ = stdin.flush();
            }
        }

        /// What the driver printed, and the end of its log without libpurple's lists of
        /// ciphers and CA certificates.
        fn report(&self) -> String {
            const NOISE: [&str; 4] = [
                "nss: Cipher",
                "nss: Trusting",
                "nss/x509: Loading",
                "certificate/x509/ca: Loaded",
            ];
            let log = self.log.lock().unwrap();
            let useful: Vec<&str> = log
                .iter()
                .map(String::as_str)
                .filter(|l| !NOISE.iter().any(|n| l.contains(n)))
                .collect();
            let from = useful.len().saturating_sub(LOG_TAIL);
            format!(
                "---- {} (events {:?}); log {} ({} lines), last {}:\n{}\n",
                self.user,
                self.seen,
                self.log_path.display(),
                log.len(),
                useful.len() - from,
                useful[from..].join("\n")
            )
        }
    }

    impl Drop for Driver {
        fn drop(&mut self) {
            // A closed stdin makes the driver sign out and exit; kill it if it does not.
            self.stdin.take();
            let deadline = Instant::now() + Duration::from_secs(3);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// Drivers signed in to one server; every failure reports all of them.
    struct Clients {
        list: Vec<Driver>,
    }

    impl Clients {
        fn sign_in(test: &str, server: &Server, transport: &str, users: &[&str]) -> Clients {
            let addr = server.addr(transport);
            let mut c = Clients {
                list: users
                    .iter()
                    .map(|u| Driver::start(test, u, &format!("{u}-Passw0rd"), addr, transport))
                    .collect(),
            };
            for i in 0..c.list.len() {
                if let Err(e) = c.list[i].wait(SIGN_IN, |l| l == "SIGNED-IN") {
                    c.fail(&format!("sign-in over {transport}: {e}"));
                }
            }
            c
        }

        fn fail(&self, why: &str) -> ! {
            for d in &self.list {
                eprintln!("{}", d.report());
            }
            panic!("{why}");
        }

        /// `from` writes `text` to `to`, and `to` must see it from `from`.
        fn im(&mut self, from: usize, to: usize, text: &str) {
            let (sender, target) = (self.list[from].user.clone(), self.list[to].user.clone());
            self.list[from].send(&format!("im sip:{target}@contoso.com {text}"));
            let got = self.list[to].wait(DELIVERY, |l| {
                l.starts_with("IM ")
                    && l.contains(&format!("{sender}@contoso.com"))
                    && l.ends_with(text)
            });
            if let Err(e) = got {
                self.fail(&format!("{sender} -> {target} \"{text}\": {e}"));
            }
        }
    }

    fn two_users_exchange_ims(transport: &str) {
        let _one = serial();
        let test = format!("two-{transport}");
        let server = Server::start(&test);
        let mut c = Clients::sign_in(&test, &server, transport, &["alice", "bob"]);
        c.im(0, 1, "hello bob");
        c.im(1, 0, "hello alice");
        c.im(0, 1, "how are you?");
        // Markup characters and UTF-8 arrive as written (sipe sends text/plain, the driver
        // escapes what it hands libpurple and strips the HTML it gets back).
        c.im(1, 0, "1 < 2 & \"3\" > 'x', ünïcödé");
        // A typing notification (INFO in the dialog) reaches the peer as well.
        c.list[1].send("typing sip:alice@contoso.com");
        if let Err(e) = c.list[0].wait(DELIVERY, |l| l == "TYPING sip:bob@contoso.com") {
            c.fail(&format!("bob typing -> alice: {e}"));
        }
        // The provisioning answer is XML: sipe read it (through the shim) when it knows the
        // focus factory from it.
        let provisioned = "sipe_process_provisioning_v2: sipe_private->focus_factory_uri=sip:";
        if !c.list[0].logged(provisioned, DELIVERY) {
            c.fail("sipe did not read the focus factory from the provisioning answer");
        }
    }

    #[test]
    fn the_shim_gives_sipe_an_xml_tree() {
        let t = tools();
        let run = |preload: bool| {
            let mut cmd = Command::new(&t.check);
            if preload {
                cmd.env("LD_PRELOAD", &t.shim);
            }
            cmd.output().expect("sax1_check runs")
        };
        let bare = run(false);
        eprintln!(
            "sipe_xml_parse without the shim: {} ({})",
            String::from_utf8_lossy(&bare.stdout).trim(),
            bare.status
        );
        let shimmed = run(true);
        let out = String::from_utf8_lossy(&shimmed.stdout);
        assert!(
            shimmed.status.success() && out.starts_with("TREE root=roamingData category=note"),
            "sipe_xml_parse with the shim: {out} {}",
            String::from_utf8_lossy(&shimmed.stderr)
        );
    }

    #[test]
    fn a_wrong_password_ends_in_a_connection_error() {
        let _one = serial();
        let server = Server::start("wrong-password");
        let mut alice = Driver::start(
            "wrong-password",
            "alice",
            "not-her-password",
            server.addr("tcp"),
            "tcp",
        );
        let got = alice.wait(SIGN_IN, |l| l.starts_with("ERROR") || l == "SIGNED-IN");
        let status = alice.child.wait().ok();
        match got {
            Ok(l) if l.starts_with("ERROR") && status.is_some_and(|s| s.code() == Some(1)) => {}
            other => {
                eprintln!("{}", alice.report());
                panic!("wanted ERROR and exit status 1, got {other:?} and {status:?}");
            }
        }
    }

    #[test]
    fn alice_and_bob_exchange_ims_over_tls() {
        two_users_exchange_ims("tls");
    }

    #[test]
    fn alice_and_bob_exchange_ims_over_tcp() {
        two_users_exchange_ims("tcp");
    }

    #[test]
    fn alice_bob_and_carol_write_to_each_other_over_tls() {
        let _one = serial();
        let server = Server::start("three-tls");
        let mut c = Clients::sign_in("three-tls", &server, "tls", &["alice", "bob", "carol"]);
        c.im(0, 1, "hello bob, from alice");
        c.im(1, 2, "hello carol, from bob");
        c.im(2, 0, "hello alice, from carol");
        c.im(1, 0, "alice, bob again");
        c.im(0, 2, "carol, alice again");
    }

    /// Waits for `line` from driver `i` (a STATUS, a list line), or fails with every log.
    fn expect(c: &mut Clients, i: usize, what: &str, want: impl Fn(&str) -> bool) -> String {
        match c.list[i].wait(DELIVERY, want) {
            Ok(l) => l,
            Err(e) => c.fail(&format!("{what}: {e}")),
        }
    }

    /// Like [`expect`], but a line seen already (while waiting for another) counts.
    fn expect_seen(c: &mut Clients, i: usize, what: &str, want: impl Fn(&str) -> bool) {
        if !c.list[i].seen.iter().any(|l| want(l)) {
            expect(c, i, what, want);
        }
    }

    /// Driver `i`'s buddy list: (groups, (buddy, group, allowed|blocked)).
    fn buddy_list(c: &mut Clients, i: usize) -> (Vec<String>, Vec<(String, String, String)>) {
        c.list[i].send("list");
        let (mut groups, mut buddies) = (Vec::new(), Vec::new());
        loop {
            let l = expect(c, i, "the buddy list", |l| {
                l.starts_with("GROUP ") || l.starts_with("BUDDY ") || l == "LIST-END"
            });
            if l == "LIST-END" {
                return (groups, buddies);
            }
            if let Some(g) = l.strip_prefix("GROUP ") {
                groups.push(g.to_owned());
            } else if let Some(b) = l.strip_prefix("BUDDY ") {
                let mut w = b.rsplitn(3, ' ');
                let (state, group, name) = (w.next(), w.next(), w.next());
                if let (Some(s), Some(g), Some(n)) = (state, group, name) {
                    buddies.push((n.to_owned(), g.to_owned(), s.to_owned()));
                }
            }
        }
    }

    /// A sign-in of one user, alone.
    fn sign_in_one(test: &str, server: &Server, user: &str) -> Clients {
        Clients::sign_in(test, server, "tls", &[user])
    }

    /// Waits until driver `i`'s list satisfies `ok` (the contact list arrives by NOTIFY a
    /// moment after SIGNED-IN).
    fn list_until(
        c: &mut Clients,
        i: usize,
        what: &str,
        ok: impl Fn(&[String], &[(String, String, String)]) -> bool,
    ) -> (Vec<String>, Vec<(String, String, String)>) {
        let deadline = Instant::now() + DELIVERY;
        loop {
            let (g, b) = buddy_list(c, i);
            if ok(&g, &b) {
                return (g, b);
            }
            if Instant::now() >= deadline {
                c.fail(&format!("{what}: groups {g:?}, buddies {b:?}"));
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// [MS-PRES] presence and the roaming contact list with pidgin-sipe: alice adds bob to a
    /// group and sees him online; bob adds alice and sees her go away and come back; alice
    /// blocks bob and bob sees her offline; the list (and the block) survive a server restart
    /// and a new sign-in; a group is renamed, emptied and deleted, and a new sign-in shows it
    /// gone.
    #[test]
    fn contacts_and_presence_with_pidgin_sipe() {
        let _one = serial();
        let test = "presence";
        let mut server = Server::start(test);
        let mut c = Clients::sign_in(test, &server, "tls", &["alice", "bob"]);
        let (alice, bob) = (0, 1);
        // The server's (empty) list has arrived when sipe has made its default group.
        for i in [alice, bob] {
            list_until(&mut c, i, "the contact list from the server", |g, _| {
                g.iter().any(|g| g == "Other Contacts")
            });
        }
        c.list[alice].send("add sip:bob@contoso.com Friends");
        expect(&mut c, alice, "alice sees bob online", |l| {
            l == "STATUS sip:bob@contoso.com available"
        });
        c.list[bob].send("add sip:alice@contoso.com Colleagues");
        expect(&mut c, bob, "bob sees alice online", |l| {
            l == "STATUS sip:alice@contoso.com available"
        });
        c.list[alice].send("status away");
        expect(&mut c, bob, "bob sees alice away", |l| {
            l == "STATUS sip:alice@contoso.com away"
        });
        // sipe takes its own status back from the server's aggregate in roaming-self (and a
        // roaming-self sent before its change was published briefly set it back to
        // available); the next change is a change only once that has settled.
        if !c.list[alice].logged(
            "sipe_status_and_note: switch to 'away' for the account",
            DELIVERY,
        ) {
            c.fail("alice's sipe never took her away state from roaming-self");
        }
        c.list[alice].send("status available");
        expect(&mut c, bob, "bob sees alice back", |l| {
            l == "STATUS sip:alice@contoso.com available"
        });
        c.list[alice].send("block sip:bob@contoso.com");
        expect(
            &mut c,
            bob,
            "bob sees alice offline once she blocks him",
            |l| l == "STATUS sip:alice@contoso.com offline",
        );
        list_until(&mut c, alice, "alice's list before the restart", |_, b| {
            b.iter()
                .any(|(n, g, s)| n == "sip:bob@contoso.com" && g == "Friends" && s == "blocked")
        });
        drop(c);

        // The list is the server's: a restart and a new sign-in (a fresh libpurple directory)
        // bring it back, bob still in Friends and still blocked.
        server.0.restart();
        let mut c = sign_in_one(test, &server, "alice");
        list_until(&mut c, 0, "alice's list after the restart", |_, b| {
            b.iter()
                .any(|(n, g, s)| n == "sip:bob@contoso.com" && g == "Friends" && s == "blocked")
        });
        c.list[0].send("rename-group Friends Pals");
        list_until(&mut c, 0, "the group renamed", |g, b| {
            g.iter().any(|g| g == "Pals")
                && b.iter()
                    .any(|(n, g, _)| n == "sip:bob@contoso.com" && g == "Pals")
        });
        drop(c);
        let mut c = sign_in_one(test, &server, "alice");
        list_until(&mut c, 0, "the rename kept by the server", |g, b| {
            !g.iter().any(|g| g == "Friends")
                && b.iter()
                    .any(|(n, g, _)| n == "sip:bob@contoso.com" && g == "Pals")
        });
        c.list[0].send("remove sip:bob@contoso.com");
        list_until(&mut c, 0, "bob removed", |_, b| b.is_empty());
        c.list[0].send("delete-group Pals");
        list_until(&mut c, 0, "the group deleted", |g, _| {
            !g.iter().any(|g| g == "Pals")
        });
        drop(c);
        let mut c = sign_in_one(test, &server, "alice");
        let (g, b) = list_until(&mut c, 0, "the list after the deletions", |g, _| {
            g.iter().any(|g| g == "Other Contacts")
        });
        if g.iter().any(|g| g == "Pals" || g == "Friends") || !b.is_empty() {
            c.fail(&format!(
                "the deletions were not kept: groups {g:?}, buddies {b:?}"
            ));
        }
    }

    /// A conference as pidgin-sipe makes one in OCS 2007 mode ([MS-CONFBAS] through the
    /// focus, chat through the IM MCU): alice picks "New chat" on bob (sipe creates the
    /// conference with addConference, joins the focus, subscribes, INVITEs the IM MCU straight
    /// away and invites bob with `application/ms-conf-invite+xml`, which bob's sipe accepts by
    /// joining the same way); alice invites carol too; all three see each other in the roster
    /// and each one's message reaches the two others from the MCU; carol closes her window
    /// (she leaves) and the others see her go; alice ends it: she removes bob (deleteUser —
    /// the MCU hangs up on him) and leaves. sipe has no command that deletes a conference.
    #[test]
    fn a_conference_chat_with_pidgin_sipe() {
        let _one = serial();
        let test = "conference";
        let server = Server::start(test);
        let mut c = Clients::sign_in(test, &server, "tls", &["alice", "bob", "carol"]);
        let (alice, bob, carol) = (0, 1, 2);
        let uri = |i: usize| {
            [
                "sip:alice@contoso.com",
                "sip:bob@contoso.com",
                "sip:carol@contoso.com",
            ][i]
        };
        // sipe's buddy menu is where a conference starts: alice needs bob and carol listed.
        list_until(
            &mut c,
            alice,
            "alice's contact list from the server",
            |g, _| g.iter().any(|g| g == "Other Contacts"),
        );
        for other in [bob, carol] {
            c.list[alice].send(&format!("add {} Team", uri(other)));
            let want = format!("STATUS {} available", uri(other));
            expect(&mut c, alice, "alice sees her buddy online", |l| l == want);
        }
        c.list[alice].send(&format!("buddy-action {} New chat", uri(bob)));
        let mut chat = [String::new(), String::new(), String::new()];
        for i in [alice, bob] {
            let l = expect(&mut c, i, "the conference window opens", |l| {
                l.starts_with("CHAT-JOINED ")
            });
            chat[i] = l["CHAT-JOINED ".len()..].to_owned();
        }
        if !c.list[alice].logged("process_conf_add_response: session->focus_uri=", DELIVERY) {
            c.fail("sipe did not take the focus URI from the addConference answer");
        }
        // Bob is in the roster once his chat endpoint is connected: he is on the IM MCU.
        let want = format!("CHAT-USER-JOINED {} {}", chat[alice], uri(bob));
        expect(&mut c, alice, "alice sees bob in the conference", |l| {
            l == want
        });
        c.list[alice].send(&format!("buddy-action {} Invite to", uri(carol)));
        let l = expect(&mut c, carol, "carol's conference window opens", |l| {
            l.starts_with("CHAT-JOINED ")
        });
        chat[carol] = l["CHAT-JOINED ".len()..].to_owned();
        // Both came in by the ms-conf-invite INVITE alice's sipe sent them through the proxy.
        for i in [bob, carol] {
            if !c.list[i].logged("We have received invitation to Conference", DELIVERY) {
                c.fail("an invitation did not arrive as application/ms-conf-invite+xml");
            }
        }
        // Everyone sees the two others on the IM MCU.
        for i in [alice, bob, carol] {
            for j in [alice, bob, carol] {
                if i != j {
                    let want = format!("CHAT-USER-JOINED {} {}", chat[i], uri(j));
                    expect_seen(&mut c, i, "the roster", |l| l == want);
                }
            }
        }
        // Each writes; the two others get it from the MCU, with the writer as sender.
        for (i, text) in [
            (alice, "welcome to the design review"),
            (bob, "thanks, bob here <b>& ready</b>"),
            (carol, "carol too — ça va"),
        ] {
            c.list[i].send(&format!("chat {text}"));
            for j in [alice, bob, carol] {
                if j != i {
                    let want = format!("CHAT {} {} {text}", chat[j], uri(i));
                    expect(&mut c, j, "a message through the IM MCU", |l| l == want);
                }
            }
        }
        // Carol closes the window: she leaves, and the others see her go.
        c.list[carol].send("chat-leave");
        for i in [alice, bob] {
            let want = format!("CHAT-USER-LEFT {} {}", chat[i], uri(carol));
            expect(&mut c, i, "carol leaves", |l| l == want);
        }
        // A message after that reaches bob, not carol.
        c.list[alice].send("chat one more for bob");
        let want = format!("CHAT {} {} one more for bob", chat[bob], uri(alice));
        expect(&mut c, bob, "bob still hears alice", |l| l == want);
        // Alice ends it: bob removed (the MCU hangs up on him: sipe says he was disconnected),
        // then she leaves.
        c.list[alice].send(&format!("buddy-action {} Remove from", uri(bob)));
        expect(
            &mut c,
            bob,
            "bob is disconnected from the conference",
            |l| l.starts_with("NOTE ") && l.contains("disconnected from this conference"),
        );
        let want = format!("CHAT-USER-LEFT {} {}", chat[alice], uri(bob));
        expect(&mut c, alice, "alice sees bob go", |l| l == want);
        c.list[alice].send("chat-leave");
        if !c.list[alice].logged("sipe_core_chat_leave", DELIVERY) {
            c.fail("alice's sipe did not leave");
        }
        if c.list.iter().any(|d| {
            d.seen
                .iter()
                .any(|l| l.starts_with("NO-ACTION") || l == "NO-CHAT")
        }) {
            c.fail("a menu action or chat was missing");
        }
    }

    #[cfg(feature = "kerberos-tests")]
    use super::kdc;

    /// `ocs serve` as a process with Kerberos (MIT reads the keytab through `KRB5_KTNAME`,
    /// which a test cannot set in its own process): its TLS address from its first line.
    #[cfg(feature = "kerberos-tests")]
    struct KerberosServer {
        child: Child,
        tls: SocketAddr,
        dir: PathBuf,
    }

    #[cfg(feature = "kerberos-tests")]
    impl KerberosServer {
        fn start(kdc: &kdc::Kdc) -> KerberosServer {
            let dir = kdc.dir.join("ocs");
            std::fs::create_dir_all(&dir).unwrap();
            let cfg = dir.join("ocs.toml");
            std::fs::write(
                &cfg,
                format!(
                    "data_dir = \"{}\"\nudp = \"off\"\ntcp = \"127.0.0.1:0\"\ntls = \"127.0.0.1:0\"\n\
                     web = \"off\"\npsom = \"off\"\nmedia = \"off\"\nauth = [\"NTLM\"]\n\
                     kerberos_keytab = \"{}\"\n",
                    dir.join("data").display(),
                    kdc.dir.join("sip.keytab").display()
                ),
            )
            .unwrap();
            let mut cmd = Command::new(env!("CARGO_BIN_EXE_ocs"));
            cmd.args(["serve", "--config", cfg.to_str().unwrap()]);
            if trace_sip() {
                cmd.arg("--trace-sip");
            }
            let mut child = cmd
                .env("KRB5_CONFIG", kdc.var("KRB5_CONFIG"))
                .env("KRB5_KTNAME", kdc.var("KRB5_KTNAME"))
                .env("KRB5RCACHEDIR", kdc.var("KRB5RCACHEDIR"))
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("ocs serve starts");
            let mut first = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut first)
                .unwrap();
            let tls = first
                .split_whitespace()
                .find_map(|w| w.strip_prefix("tls="))
                .and_then(|a| a.parse().ok())
                .unwrap_or_else(|| panic!("no TLS address in {first:?}"));
            KerberosServer { child, tls, dir }
        }
    }

    #[cfg(feature = "kerberos-tests")]
    impl Drop for KerberosServer {
        fn drop(&mut self) {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    /// pidgin-sipe with Kerberos against the MIT KDC of `scripts/kdc.sh`: each user gets a
    /// service ticket for `sip/ocs.contoso.com` with their password, the server accepts it
    /// with its keytab, and every message is signed with GSS MICs both ways.
    #[cfg(feature = "kerberos-tests")]
    #[test]
    fn alice_and_bob_sign_in_with_kerberos_and_exchange_ims() {
        let _one = serial();
        let mut kdc = kdc::Kdc::start("pidgin");
        let server = KerberosServer::start(&kdc);
        let test = "kerberos-tls";
        let mut c = Clients { list: Vec::new() };
        for u in ["alice", "bob"] {
            let env = [
                ("KRB5_CONFIG", kdc.var("KRB5_CONFIG").to_owned()),
                ("KRB5CCNAME", format!("MEMORY:{u}")),
            ];
            let d = Driver::start_with(
                test,
                u,
                &format!("{u}-Passw0rd"),
                server.tls,
                "tls",
                "krb5",
                &env,
            );
            c.list.push(d);
        }
        for i in 0..c.list.len() {
            if let Err(e) = c.list[i].wait(SIGN_IN, |l| l == "SIGNED-IN") {
                c.fail(&format!("Kerberos sign-in: {e}"));
            }
        }
        c.im(0, 1, "hello bob, with Kerberos");
        c.im(1, 0, "hello alice, signed by GSSAPI");
        if !c.list[0].logged("signature of incoming message validated", DELIVERY) {
            c.fail("sipe did not validate the server's Kerberos signatures");
        }
        kdc.passed = true;
    }
}
