//! sipp (Debian `sip-tester`) for one test: its scenarios in `tests/sipp/`, its statistics
//! read back, the users it registers with Digest, and `ocs serve` as a process beside it.
//! Each test uses what it needs of this.
#![allow(dead_code)]

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocs-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

pub(crate) fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub(crate) fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

pub(crate) fn sipp(args: &[&str], dir: &Path, stat: &str) -> Child {
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
pub(crate) fn finish(child: Child, dir: &Path, stat: &str) -> (usize, usize) {
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
pub(crate) fn counts(dir: &Path, stat: &str) -> (usize, usize) {
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

/// sipp registering `names` (one per call) with Digest at `target`, from local port `port`;
/// `extra` adds options (rate, transport...).
pub(crate) fn sipp_register(
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

pub(crate) fn users_csv(dir: &Path, names: &[String], stat: &str) -> PathBuf {
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

/// `ocs serve` as a process, its UDP address read from its first line.
pub(crate) fn spawn_ocs(dir: &Path, extra: &str) -> (Child, SocketAddr) {
    spawn_ocs_at(dir, extra, 0)
}

/// [`spawn_ocs`] on UDP port `port` (0: any).
pub(crate) fn spawn_ocs_at(dir: &Path, extra: &str, port: u16) -> (Child, SocketAddr) {
    use std::io::BufRead;
    let cfg = dir.join("ocs.toml");
    std::fs::write(
        &cfg,
        format!(
            "data_dir = \"data\"\nudp = \"127.0.0.1:{port}\"\ntcp = \"off\"\ntls = \"off\"\nweb = \"off\"\npsom = \"off\"\nauth = [\"Digest\"]\ndigest_uri_next_hop = true\n{extra}\n\
             [load_users]\nprefix = \"user\"\ncount = 1000000\npassword = \"secret\"\n",
        ),
    )
    .unwrap();
    // Its log beside its data, for a test that fails.
    let log = std::fs::File::create(dir.join("ocs.log")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocs"))
        .args(["serve", "--config", cfg.to_str().unwrap()])
        .current_dir(dir)
        .stdout(Stdio::piped())
        .stderr(log)
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

/// The users sipp saw a `200 OK` for, from the message log (`-trace_msg`) of its scenario
/// `scenario` (`register` for `register.xml`) in `dir`: the To user of each 200 received.
pub(crate) fn acknowledged_users(dir: &Path, scenario: &str) -> std::collections::HashSet<String> {
    let prefix = format!("{scenario}_");
    let mut users = std::collections::HashSet::new();
    for e in std::fs::read_dir(dir).unwrap().filter_map(Result::ok) {
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with(&prefix) || !name.ends_with("_messages.log") {
            continue;
        }
        let log = std::fs::read_to_string(e.path()).unwrap();
        for m in log.split("-----------------------------------------------") {
            if !m.contains("message received") || !m.contains("\nSIP/2.0 200 OK") {
                continue;
            }
            if let Some(user) = m
                .lines()
                .find_map(|l| l.strip_prefix("To: <sip:"))
                .and_then(|rest| rest.split('@').next())
            {
                users.insert(user.to_owned());
            }
        }
    }
    users
}
