//! A PostgreSQL server for one test (Debian `postgresql`): a cluster of its own made by
//! `initdb` in a fresh directory, listening on loopback at a free port, stopped (`pg_ctl stop
//! -m immediate`) and removed on drop. PostgreSQL refuses to run as root: as root the cluster
//! belongs to the `postgres` account and its commands run through `runuser`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running server.
pub(crate) struct Postgres {
    dir: PathBuf,
    bin: PathBuf,
    /// Its port on 127.0.0.1.
    pub(crate) port: u16,
}

/// The newest installed PostgreSQL's `bin` directory.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (Debian package postgresql)")
        .filter_map(|e| Some(e.ok()?.path().join("bin")))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found
        .pop()
        .expect("an initdb under /usr/lib/postgresql/*/bin")
}

fn as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// `program args` as the cluster's owner.
fn command(program: &Path) -> Command {
    if as_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(c: &mut Command, what: &str) {
    let out = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Postgres {
    /// Starts one for the test `name`; the superuser is `ocs` (trust on loopback only).
    pub(crate) fn start(name: &str) -> Postgres {
        let bin = bin_dir();
        let dir = std::env::temp_dir().join(format!("ocs-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        if as_root() {
            run(
                Command::new("chown").args(["postgres:postgres"]).arg(&dir),
                "chown",
            );
        }
        let data = dir.join("data");
        run(
            command(&bin.join("initdb")).arg("-D").arg(&data).args([
                "-U",
                "ocs",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-instructions",
            ]),
            "initdb",
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let opts = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=50",
            dir.display()
        );
        run(
            command(&bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .args(["-o", &opts, "-w", "-t", "60", "-l"])
                .arg(dir.join("log"))
                .arg("start"),
            "pg_ctl start",
        );
        Postgres { dir, bin, port }
    }

    /// The connection string of a database made for the caller (`CREATE DATABASE name`).
    pub(crate) fn database(&self, name: &str) -> String {
        let admin = format!("host=127.0.0.1 port={} user=ocs dbname=postgres", self.port);
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("connects");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("CREATE DATABASE");
        format!("host=127.0.0.1 port={} user=ocs dbname={name}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = command(&self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
