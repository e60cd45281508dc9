//! A MIT KDC on loopback for one test: `scripts/kdc.sh` starts it in a directory of its own
//! (realm CONTOSO.COM, alice/bob/carol with `<name>-Passw0rd`, `sip/ocs.contoso.com` in
//! `sip.keytab`) and prints the environment its clients and the server need.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A running KDC, stopped on drop (its directory removed when the test said it passed).
pub(crate) struct Kdc {
    /// Where its database, configuration, keytab and logs are.
    pub(crate) dir: PathBuf,
    vars: Vec<(String, String)>,
    /// Set by the test when it passed: the directory is removed then, kept for its logs
    /// otherwise.
    pub(crate) passed: bool,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/kdc.sh")
}

impl Kdc {
    /// Starts one for the test `name`.
    pub(crate) fn start(name: &str) -> Kdc {
        let dir = std::env::temp_dir().join(format!("ocs-kdc-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(script())
            .arg("start")
            .arg(&dir)
            .stderr(Stdio::inherit())
            .output()
            .expect("scripts/kdc.sh runs");
        assert!(
            out.status.success(),
            "scripts/kdc.sh start {} failed: {}",
            dir.display(),
            out.status
        );
        let stdout = String::from_utf8(out.stdout).expect("kdc.sh prints UTF-8");
        let vars = stdout
            .lines()
            .filter_map(|l| l.strip_prefix("export ").unwrap_or(l).split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        Kdc {
            dir,
            vars,
            passed: false,
        }
    }

    /// A variable kdc.sh printed (`KRB5_CONFIG`, `KRB5_KTNAME`, `KDC_PORT`...).
    pub(crate) fn var(&self, name: &str) -> &str {
        self.vars
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("kdc.sh printed no {name}"))
    }
}

impl Drop for Kdc {
    fn drop(&mut self) {
        let _ = Command::new(script()).arg("stop").arg(&self.dir).status();
        if self.passed {
            let _ = std::fs::remove_dir_all(&self.dir);
        } else {
            eprintln!("KDC directory kept for its logs: {}", self.dir.display());
        }
    }
}
