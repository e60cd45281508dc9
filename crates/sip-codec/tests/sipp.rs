//! sipp (a SIP peer nobody here wrote) against the user agent of `examples/sip_peer.rs`, built
//! from this crate's transaction layer and dialogs on a loopback UDP socket: sipp's built-in
//! `uac` scenario against our UAS and its `uas` scenario against our UAC, 100 calls each, with
//! sipp's own statistics required to show 100 successful and 0 failed calls.
//!
//! Needs the `sipp-tests` feature and sipp on the PATH (Debian package `sip-tester`);
//! `scripts/test.sh` turns it on (and installs sipp as root) and CI requires it with
//! `OCS_REQUIRE_INTEROP=1`.

#[cfg(not(feature = "sipp-tests"))]
#[test]
fn sipp_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the sipp tests were built without the `sipp-tests` feature"
    );
    eprintln!("sipp interop tests NOT RUN: build with --features ocs-sip-codec/sipp-tests");
}

#[cfg(feature = "sipp-tests")]
#[path = "../examples/sip_peer.rs"]
mod sip_peer;

#[cfg(feature = "sipp-tests")]
mod with_sipp {
    use std::net::UdpSocket;
    use std::path::PathBuf;
    use std::process::{Child, Command, Stdio};
    use std::time::Duration;

    use super::sip_peer::{run_uac, run_uas};

    const CALLS: usize = 100;

    fn free_port() -> u16 {
        UdpSocket::bind("127.0.0.1:0")
            .and_then(|s| s.local_addr())
            .expect("a free UDP port")
            .port()
    }

    fn stat_file(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ocs-sipp-{name}-{}.csv", std::process::id()));
        let _ = std::fs::remove_file(&p);
        p
    }

    fn sipp(args: &[&str], stat: &PathBuf) -> Child {
        Command::new("sipp")
            .args(args)
            .args([
                "-nostdin",
                "-timeout",
                "60s",
                "-timeout_error",
                "-trace_stat",
                "-fd",
                "1",
            ])
            .arg("-stf")
            .arg(stat)
            .current_dir(std::env::temp_dir())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("sipp runs (Debian package sip-tester)")
    }

    /// (successful, failed) calls from the last line of sipp's statistics file.
    fn sipp_counts(stat: &PathBuf) -> (usize, usize) {
        let text = std::fs::read_to_string(stat).expect("sipp wrote its statistics");
        let mut lines = text.lines();
        let head: Vec<&str> = lines.next().expect("a header line").split(';').collect();
        let last: Vec<&str> = lines.last().expect("a data line").split(';').collect();
        let col = |name: &str| -> usize {
            let i = head.iter().position(|h| *h == name).expect(name);
            last[i].trim().parse().expect("a count")
        };
        (col("SuccessfulCall(C)"), col("FailedCall(C)"))
    }

    fn finish(child: Child) -> String {
        let out = child.wait_with_output().expect("sipp ends");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            out.status.success(),
            "sipp exited with {}: {err}",
            out.status
        );
        err
    }

    #[test]
    fn sipp_uac_scenario_against_our_uas() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let target = socket.local_addr().unwrap().to_string();
        let stat = stat_file("uac");
        let port = free_port().to_string();
        let calls = CALLS.to_string();
        let child = sipp(
            &[
                "-sn",
                "uac",
                &target,
                "-i",
                "127.0.0.1",
                "-p",
                &port,
                "-m",
                &calls,
                "-r",
                "50",
            ],
            &stat,
        );
        let stats = run_uas(socket, CALLS, Duration::from_secs(60)).unwrap();
        finish(child);
        assert_eq!((stats.completed, stats.failed), (CALLS, 0), "our UAS");
        assert_eq!(sipp_counts(&stat), (CALLS, 0), "sipp's statistics");
    }

    #[test]
    fn our_uac_against_sipp_uas_scenario() {
        let port = free_port();
        let stat = stat_file("uas");
        let p = port.to_string();
        let calls = CALLS.to_string();
        let child = sipp(
            &["-sn", "uas", "-i", "127.0.0.1", "-p", &p, "-m", &calls],
            &stat,
        );
        // sipp binds its socket at start-up; give it a moment (our INVITEs would be retransmitted
        // by Timer A anyway).
        std::thread::sleep(Duration::from_millis(300));
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let peer = format!("127.0.0.1:{port}").parse().unwrap();
        let stats = run_uac(socket, peer, CALLS, 10, Duration::from_secs(60)).unwrap();
        finish(child);
        assert_eq!((stats.completed, stats.failed), (CALLS, 0), "our UAC");
        assert_eq!(sipp_counts(&stat), (CALLS, 0), "sipp's statistics");
    }
}
