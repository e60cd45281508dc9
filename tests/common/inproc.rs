//! `ocs serve` in-process for one test, on its own runtime thread and data directory, stopped
//! (and the directory removed) on drop.

use std::path::PathBuf;

use ocs_stack::server::{Bound, Config, Running, spawn};

/// A running server.
pub(crate) struct InProcess {
    pub(crate) rt: tokio::runtime::Runtime,
    running: Option<Running>,
    cfg: Config,
    /// Its data directory.
    pub(crate) dir: PathBuf,
}

impl InProcess {
    /// Starts a server with `cfg`, its data in a fresh directory named after `name`.
    pub(crate) fn start(name: &str, mut cfg: Config) -> InProcess {
        let dir = std::env::temp_dir().join(format!("ocs-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        cfg.data_dir = dir.clone();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let running = rt.block_on(spawn(cfg.clone())).expect("the server starts");
        InProcess {
            rt,
            running: Some(running),
            cfg,
            dir,
        }
    }

    /// Stops the server and starts it again on the same data directory (new ports).
    #[allow(dead_code)]
    pub(crate) fn restart(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.rt.block_on(r.stop());
        }
        let running = self
            .rt
            .block_on(spawn(self.cfg.clone()))
            .expect("the server starts again");
        self.running = Some(running);
    }

    /// What it bound.
    pub(crate) fn bound(&self) -> Bound {
        self.running.as_ref().expect("running").bound
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(r) = self.running.take() {
            let _ = self.rt.block_on(r.stop());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
