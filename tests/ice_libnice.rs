//! The A/V MCU's ICE and SRTP against libnice and libsrtp, peers nobody here wrote: a small C
//! client (`tests/ice/nice_client.c`, built here with `cc` and `pkg-config`) is each
//! participant's media end, in libnice's `NICE_COMPATIBILITY_OC2007` (Office Communicator
//! 2007, [MS-ICE] draft 6), `OC2007R2` ([MS-ICE2]) and `RFC5245` modes. Alice and Bob sign in
//! (NTLM), join a conference and INVITE the A/V MCU directly with offers carrying the client's
//! candidates and an `a=crypto` key (`RTP/AVP` with `a=crypto` — [MS-SDPEXT] optional SRTP —
//! for the Communicator modes, `RTP/SAVP` for RFC 5245); the answers' candidates and keys go
//! back to the clients; libnice completes its checks against the MCU's sockets; Alice's
//! client sends SRTP audio (libsrtp), and Bob's receives it from the MCU's mixer, unprotected
//! by libsrtp with the MCU's key, byte for byte what Alice sent (a single speaker's G.711 mix
//! is the speaker's own frames). The MCU's report then shows, per participant, that libnice
//! answered the MCU's own checks and that consent is fresh at the address libnice chose.
//!
//! Needs the `ice-tests` feature (Debian `libnice-dev`, `libsrtp2-dev`, `gcc`, `pkg-config`);
//! CI requires it with `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

#[cfg(not(feature = "ice-tests"))]
#[test]
fn libnice_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the libnice tests were built without `ice-tests`"
    );
    eprintln!(
        "WARNING: libnice ICE + SRTP tests NOT RUN: build with --features ocs-stack/ice-tests \
         (needs Debian libnice-dev, libsrtp2-dev, gcc, pkg-config)"
    );
}

#[cfg(feature = "ice-tests")]
#[path = "common/inproc.rs"]
mod inproc;

#[cfg(feature = "ice-tests")]
#[path = "common/lines.rs"]
mod lines;

#[cfg(feature = "ice-tests")]
mod with_libnice {
    use std::io::Write;
    use std::net::SocketAddr;
    use std::path::PathBuf;
    use std::process::{Child, ChildStdin, Command, Stdio};
    use std::sync::OnceLock;
    use std::sync::mpsc::Receiver;
    use std::time::{Duration, Instant};

    use base64::Engine as _;
    use ocs_stack::server::Config;
    use ocs_stack::sip::sdp::SessionDescription;

    use super::inproc::InProcess;

    const WAIT: Duration = Duration::from_secs(15);

    fn client_binary() -> &'static PathBuf {
        static BIN: OnceLock<PathBuf> = OnceLock::new();
        BIN.get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ice");
            std::fs::create_dir_all(&dir).unwrap();
            let out = dir.join("nice_client");
            let flags = Command::new("pkg-config")
                .args(["--cflags", "--libs", "nice", "libsrtp2"])
                .output()
                .expect("pkg-config runs");
            assert!(
                flags.status.success(),
                "pkg-config nice libsrtp2: {}",
                String::from_utf8_lossy(&flags.stderr)
            );
            let flags = String::from_utf8(flags.stdout).unwrap();
            let tmp = out.with_extension(format!("tmp{}", std::process::id()));
            let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/ice/nice_client.c");
            let res = Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
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
                .arg(&src)
                .args(flags.split_whitespace())
                .output()
                .expect("cc runs");
            assert!(
                res.status.success(),
                "cc nice_client.c: {}",
                String::from_utf8_lossy(&res.stderr)
            );
            std::fs::rename(&tmp, &out).unwrap();
            out
        })
    }

    /// One libnice participant: its event lines on a channel.
    struct Nice {
        who: &'static str,
        child: Child,
        stdin: ChildStdin,
        lines: Receiver<String>,
        seen: Vec<String>,
    }

    impl Nice {
        fn start(who: &'static str, mode: &str) -> Nice {
            let mut child = Command::new(client_binary())
                .arg(mode)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("the libnice client starts");
            let lines = super::lines::lines(child.stdout.take().unwrap());
            let stdin = child.stdin.take().unwrap();
            Nice {
                who,
                child,
                stdin,
                lines,
                seen: Vec::new(),
            }
        }

        fn send(&mut self, line: &str) {
            writeln!(self.stdin, "{line}").unwrap();
            self.stdin.flush().unwrap();
        }

        /// The next line `want` accepts (lines seen before count too).
        fn wait(&mut self, what: &str, want: impl Fn(&str) -> bool) -> String {
            if let Some(l) = self.seen.iter().find(|l| want(l)) {
                return l.clone();
            }
            let deadline = Instant::now() + WAIT;
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                match self.lines.recv_timeout(left) {
                    Ok(l) => {
                        self.seen.push(l.clone());
                        if want(&l) {
                            return l;
                        }
                    }
                    Err(_) => panic!(
                        "{}: {what}: nothing in {WAIT:?}; it said:\n{}",
                        self.who,
                        self.seen.join("\n")
                    ),
                }
            }
        }

        /// Every line until now (and for `settle` more).
        fn drain(&mut self, settle: Duration) -> &[String] {
            let deadline = Instant::now() + settle;
            while let Ok(l) = self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                self.seen.push(l);
            }
            &self.seen
        }
    }

    impl Drop for Nice {
        fn drop(&mut self) {
            let _ = writeln!(self.stdin, "QUIT");
            std::thread::sleep(Duration::from_millis(50));
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }

    /// A libnice host candidate: component, address, priority, credentials.
    struct Cand {
        component: u8,
        addr: SocketAddr,
        priority: u32,
        user: String,
        pwd: String,
    }

    /// The client's credentials and candidates, once gathered.
    fn gathered(n: &mut Nice) -> ((String, String), Vec<Cand>) {
        n.wait("gathering", |l| l == "GATHERED");
        let local = n.wait("credentials", |l| l.starts_with("LOCAL "));
        let f: Vec<&str> = local.split(' ').collect();
        let creds = (f[1].to_owned(), f[2].to_owned());
        let cands = n
            .seen
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.strip_prefix("CAND ")?.split(' ').collect();
                Some(Cand {
                    component: f[0].parse().ok()?,
                    addr: SocketAddr::new(f[1].parse().ok()?, f[2].parse().ok()?),
                    priority: f[3].parse().ok()?,
                    user: f[4].to_owned(),
                    pwd: f[5].to_owned(),
                })
            })
            .collect();
        (creds, cands)
    }

    /// base64 with its `=` padding back (SDP writers of [MS-ICE] drop it).
    fn padded(s: &str) -> String {
        let mut s = s.to_owned();
        while !s.len().is_multiple_of(4) {
            s.push('=');
        }
        s
    }

    /// The offer a client of `mode` makes with libnice's candidates and our key.
    fn offer(mode: &str, creds: &(String, String), cands: &[Cand], key: &str) -> String {
        let rtp = cands.iter().find(|c| c.component == 1).unwrap().addr;
        let rtcp = cands.iter().find(|c| c.component == 2).unwrap().addr;
        // Communicator offers SRTP optionally ([MS-SDPEXT]): RTP/AVP with a=crypto.
        let proto = if mode == "rfc5245" {
            "RTP/SAVP"
        } else {
            "RTP/AVP"
        };
        let mut sdp = format!(
            "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=session\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
             m=audio {} {proto} 0\r\na=rtcp:{}\r\n\
             a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{key}|2^31\r\na=rtpmap:0 PCMU/8000\r\n",
            rtp.port(),
            rtcp.port(),
            ip = rtp.ip(),
        );
        if mode == "oc2007" {
            for c in cands {
                sdp.push_str(&format!(
                    "a=candidate:{} {} {} UDP 0.{} {} {}\r\n",
                    c.user.trim_end_matches('='),
                    c.component,
                    c.pwd.trim_end_matches('='),
                    c.priority,
                    c.addr.ip(),
                    c.addr.port()
                ));
            }
        } else {
            sdp.push_str(&format!(
                "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n",
                creds.0, creds.1
            ));
            for c in cands {
                sdp.push_str(&format!(
                    "a=candidate:1 {} UDP {} {} {} typ host\r\n",
                    c.component,
                    c.priority,
                    c.addr.ip(),
                    c.addr.port()
                ));
            }
        }
        sdp.push_str("a=sendrecv\r\n");
        sdp
    }

    /// Hands the MCU's answer to the client: its credentials, candidates and key.
    fn answer_to(n: &mut Nice, mode: &str, answer: &str, our_key: &str) {
        let sdp = SessionDescription::parse(answer).unwrap();
        let m = &sdp.media[0];
        let crypto = m.attribute("crypto").expect("the MCU's a=crypto");
        let key = crypto
            .split("inline:")
            .nth(1)
            .and_then(|k| k.split('|').next())
            .unwrap()
            .to_owned();
        if mode != "oc2007" {
            n.send(&format!(
                "REMOTE {} {}",
                m.attribute("ice-ufrag").expect("a=ice-ufrag"),
                m.attribute("ice-pwd").expect("a=ice-pwd")
            ));
        }
        let mut count = 0;
        for c in m.attributes_named("candidate") {
            let f: Vec<&str> = c.split_whitespace().collect();
            let line = if mode == "oc2007" {
                // username component password UDP 0.830 ip port
                let prio: u32 = f[4].trim_start_matches("0.").parse().unwrap();
                format!(
                    "CAND {} {} {} {prio} {} {}",
                    f[1],
                    f[5],
                    f[6],
                    padded(f[0]),
                    padded(f[2])
                )
            } else {
                // foundation component UDP priority ip port typ host
                format!("CAND {} {} {} {}", f[1], f[4], f[5], f[3])
            };
            n.send(&line);
            count += 1;
        }
        assert_eq!(count, 2, "RTP and RTCP candidates in the answer:\n{answer}");
        n.send("END");
        n.send(&format!("KEYS {our_key} {key}"));
    }

    /// What the client's SPEAK sends: 160 bytes per packet from an LCG.
    fn spoken(seed: u32, packets: usize) -> Vec<Vec<u8>> {
        let mut x = seed;
        (0..packets)
            .map(|_| {
                (0..160)
                    .map(|_| {
                        x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                        let b = ((x >> 16) & 0xFF) as u8;
                        if b == 0x7F { 0x7E } else { b }
                    })
                    .collect()
            })
            .collect()
    }

    fn scenario(mode: &'static str) {
        let any = SocketAddr::from(([127, 0, 0, 1], 0));
        let server = InProcess::start(
            &format!("ice-{mode}"),
            Config {
                udp: None,
                tcp: Some(any),
                tls: None,
                web: Some(any),
                media: Some(any),
                psom: None,
                auth: vec!["NTLM".into()],
                ..Config::default()
            },
        );
        let bound = server.bound();
        let (sip, web) = (bound.tcp.unwrap(), bound.web.unwrap());
        let (mcu_rtp, mcu_rtcp) = bound.media.unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut nice = [Nice::start("alice", mode), Nice::start("bob", mode)];
        let gathered: Vec<_> = nice.iter_mut().map(gathered).collect();
        let keys = [b64.encode([0x11u8; 30]), b64.encode([0x22u8; 30])];
        let answers: Vec<String> = server.rt.block_on(async {
            use ocs_stack::demo::{create_conference, join_focus, sign_in};
            let mut alice = sign_in(sip, "alice", "alice-Passw0rd", 1).await.unwrap();
            let mut bob = sign_in(sip, "bob", "bob-Passw0rd", 2).await.unwrap();
            let factory = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";
            let focus = create_conference(&mut alice, factory, "ICE").await.unwrap();
            let av = focus.replace(":focus:", ":audio-video:");
            let mut answers = Vec::new();
            for (i, ua) in [&mut alice, &mut bob].into_iter().enumerate() {
                let (ok, _) = join_focus(ua, &focus).await.unwrap();
                assert_eq!(ok.status(), Some(200));
                let (creds, cands) = &gathered[i];
                let sdp = offer(mode, creds, cands, &keys[i]);
                // A direct join: the INVITE to the A/V MCU, no dial-in first.
                let call = format!("av-{}", ua.user);
                let r = ua
                    .request(
                        "INVITE",
                        &av,
                        &call,
                        None,
                        &[],
                        Some(("application/sdp", sdp.as_bytes())),
                    )
                    .await
                    .unwrap();
                assert_eq!(r.status(), Some(200), "{mode}: {r:?}");
                answers.push(String::from_utf8(r.body().to_vec()).unwrap());
            }
            // The user agents stay signed in for the rest of the test.
            std::mem::forget(alice);
            std::mem::forget(bob);
            answers
        });
        for (i, n) in nice.iter_mut().enumerate() {
            let a = &answers[i];
            assert!(a.contains(&format!(" {} ", mcu_rtp.port())), "{a}");
            // Optional SRTP taken: RTP/SAVP with a key of the MCU's.
            assert!(a.contains("RTP/SAVP 0"), "{mode}: {a}");
            answer_to(n, mode, a, &keys[i]);
        }
        // libnice completes its checks against the MCU's sockets, both components.
        for n in nice.iter_mut() {
            for c in [1, 2] {
                n.wait("ICE ready", |l| l == format!("STATE {c} ready"));
            }
            let pair = n.wait("the selected pair", |l| l.starts_with("PAIR 1 "));
            assert!(pair.ends_with(&mcu_rtp.to_string()), "{mode}: {pair}");
            let pair = n.wait("the selected pair", |l| l.starts_with("PAIR 2 "));
            assert!(pair.ends_with(&mcu_rtcp.to_string()), "{mode}: {pair}");
        }
        // Alice speaks: fifty 20 ms SRTP packets; Bob hears them through the mixer.
        let sent = spoken(4242, 50);
        nice[0].send("SPEAK 50 4242");
        nice[0].wait("alice sent", |l| l == "SENT 50");
        let lines = nice[1].drain(Duration::from_millis(500)).to_vec();
        let heard: Vec<(u16, u8, u32, Vec<u8>)> = lines
            .iter()
            .filter_map(|l| {
                let f: Vec<&str> = l.strip_prefix("RTP ")?.split(' ').collect();
                Some((
                    f[0].parse().ok()?,
                    f[1].parse().ok()?,
                    f[2].parse().ok()?,
                    hex::decode(f[3]).ok()?,
                ))
            })
            .collect();
        assert!(
            !lines.iter().any(|l| l.starts_with("BAD ")),
            "libsrtp refused what the MCU sent: {lines:?}"
        );
        let exact = heard.iter().filter(|h| sent.contains(&h.3)).count();
        assert!(
            exact >= 40,
            "{mode}: bob heard {} packets, {exact} of them alice's frames exactly",
            heard.len()
        );
        // Alice's frames name her as the CSRC; the rest is the jitter buffer's lead-in
        // (40 ms of silence before her first frame), named by nobody.
        for h in &heard {
            assert_eq!(h.1, 0, "PCMU");
            if sent.contains(&h.3) {
                assert_eq!(h.2, 1, "alice as the CSRC");
            } else {
                assert!(h.2 == 0 && h.3.iter().all(|&b| b == 0xFF), "{mode}: {h:?}");
            }
        }
        for w in heard.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "one stream, in order");
        }
        let order: Vec<usize> = heard
            .iter()
            .filter_map(|h| sent.iter().position(|s| *s == h.3))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "in the order sent");
        assert!(
            !nice[0]
                .drain(Duration::ZERO)
                .iter()
                .any(|l| l.starts_with("RTP ")),
            "alice does not hear herself"
        );
        // The MCU's own checks were answered by libnice, and consent is fresh where libnice
        // receives.
        let report = server.rt.block_on(async {
            let deadline = Instant::now() + WAIT;
            loop {
                let (status, _, body) = ocs_stack::client::http_get_as(
                    web,
                    "/av/quality",
                    &[],
                    ("alice", "alice-Passw0rd"),
                )
                .await
                .unwrap();
                assert_eq!(status, 200);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                let rows: Vec<serde_json::Value> = v
                    .as_object()
                    .unwrap()
                    .values()
                    .flat_map(|r| r.as_array().cloned().unwrap_or_default())
                    .collect();
                // (Published once a second: wait for the one after the last packet.)
                let answered = rows.len() == 2
                    && rows.iter().all(|r| {
                        r["ice"]["answers"].as_u64().unwrap_or(0) >= 2
                            && r["ice"]["consent"] == serde_json::Value::Bool(true)
                            && r["ice"]["selected_rtcp"].is_string()
                    })
                    && rows
                        .iter()
                        .any(|r| r["user"] == "alice@contoso.com" && r["received"] == 50);
                if answered || Instant::now() > deadline {
                    return rows;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        for (i, row) in report.iter().enumerate() {
            assert!(
                row["ice"]["answers"].as_u64().unwrap_or(0) >= 1
                    && row["ice"]["consent"] == serde_json::Value::Bool(true),
                "{mode}: the MCU's checks unanswered or consent stale: {row}"
            );
            let user = row["user"].as_str().unwrap();
            let k = usize::from(user.starts_with("bob"));
            let rtp = gathered[k]
                .1
                .iter()
                .find(|c| c.component == 1)
                .unwrap()
                .addr;
            assert_eq!(row["ice"]["selected"], rtp.to_string(), "row {i}: {row}");
            // RTCP too: its own candidate (in [MS-ICE] with its own credentials).
            let rtcp = gathered[k]
                .1
                .iter()
                .find(|c| c.component == 2)
                .unwrap()
                .addr;
            assert_eq!(
                row["ice"]["selected_rtcp"],
                rtcp.to_string(),
                "row {i}: {row}"
            );
        }
        let alice = report
            .iter()
            .find(|r| r["user"] == "alice@contoso.com")
            .unwrap();
        assert_eq!(
            alice["received"], 50,
            "every packet alice sent reached the MCU: {alice}"
        );
        assert_eq!(alice["lost"], 0, "{alice}");
    }

    #[test]
    fn communicator_2007_ice_draft6_and_srtp_through_the_mixer() {
        scenario("oc2007");
    }

    #[test]
    fn communicator_2007_r2_ms_ice2_and_srtp_through_the_mixer() {
        scenario("oc2007r2");
    }

    #[test]
    fn rfc5245_ice_and_srtp_through_the_mixer() {
        scenario("rfc5245");
    }
}
