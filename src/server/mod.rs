//! The reference server (`ocs serve`): the protocol crates wired to sockets, tasks and storage.
//!
//! ```text
//!  sockets (transport)            runtime (tokio)                  sans-IO
//!  UDP, TCP, TLS ─ frames ─▶ ┌─────────────────────┐  handle   ┌──────────────────────────┐
//!                            │ one task drives the │ ───────▶  │ sip::Engine              │
//!  web (HTTP: ABS, content,  │ engine: inputs in,  │           │  core + registrar, proxy,│
//!   /av/quality)             │ Engine::pump(Sink)  │ ◀───────  │  provisioning, focus,    │
//!  MCU listener (C3P/HTTP) ─▶│ out                 │ Output    │  MCU sessions            │
//!                            └──┬───────┬──────┬───┘           │ mcu::Mcus (A/V, IM, web) │
//!          store thread (SQLite)│ media │ PSOM │               └──────────────────────────┘
//!          commits ─ tickets ─▶ │ av.rs │ webconf.rs ─ ocs-psom servers
//!                               └ crate::media::Relay (SRTP/RTCP, sans-IO)
//! ```
//!
//! | module | what it is | I/O |
//! |---|---|---|
//! | [`sip`] | the SIP engine: applications over one SIP core, one output queue | none |
//! | [`mcu`] | the MCUs' C3P service, admission, the A/V SDP answer | none |
//! | `runtime` | [`run`] / [`spawn`]: binds, loads the store, drives the engine | all |
//! | `transport` | UDP, TCP and TLS framing, the certificate | sockets |
//! | [`store`] | SQLite or PostgreSQL: bindings, conferences, users, the address book | disk, database |
//! | [`web`] | HTTP: address book files, content, quality, metrics, the MCU listener | sockets |
//! | [`metrics`] | the Prometheus exposition at `/metrics` | none |
//! | [`av`] | the media task around [`crate::media::Relay`] | UDP |
//! | [`webconf`] | the PSOM/TLS task around `ocs-psom`'s server | TLS |
//! | [`abs`] | the day's address book built and published | disk |
//!
//! [`run`] binds the sockets, loads the store, and runs until the shutdown future completes
//! (Ctrl-C for `ocs serve`); then it lets transactions finish for a moment and flushes the
//! store. Every file here is under 800 lines.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let config = ocs_stack::server::Config::default(); // loopback, ./ocs-data, demo users
//! ocs_stack::server::run(config, async { let _ = tokio::signal::ctrl_c().await; }, |_| {}).await
//! # }
//! ```

pub mod abs;
pub mod av;
pub mod mcu;
pub mod metrics;
pub mod pool;
mod runtime;
pub mod sip;
pub mod store;
mod transport;
pub mod web;
pub mod webconf;

pub use runtime::{Running, run, spawn};

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

/// Writes `bytes` to `path` readable by the owner only (0600) from its first byte: keys,
/// secrets, uploaded content.
pub(crate) fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?
        .write_all(bytes)
}

/// The server's configuration (TOML). Every field has a default: with none at all the server
/// runs on loopback with demo users.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The SIP domain.
    pub domain: String,
    /// Where the database (and later the TLS certificate) live.
    pub data_dir: PathBuf,
    /// The store: unset (or `"sqlite"`) for `ocs.sqlite3` in the data directory,
    /// `"sqlite:<path>"` for another file, or a PostgreSQL connection string
    /// (`"postgresql://ocs@localhost/ocs"`, `"host=/var/run/postgresql dbname=ocs"`) shared by
    /// a pool of front ends (feature `postgres`; a Unix socket or loopback).
    pub database: Option<String>,
    /// SIP over UDP, if set (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub udp: Option<SocketAddr>,
    /// SIP over TCP, if set (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub tcp: Option<SocketAddr>,
    /// SIP over TLS, if set. The certificate is `tls-cert.pem` / `tls-key.pem` in the data
    /// directory, generated (self-signed for the domain, `ocs.<domain>`, `localhost` and
    /// `127.0.0.1`) on first start. `"off"` in the file turns it off.
    #[serde(deserialize_with = "addr_or_off")]
    pub tls: Option<SocketAddr>,
    /// HTTP for clients (the Address Book Server's files at `/abs/handler/`), if set (`"off"`
    /// in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub web: Option<SocketAddr>,
    /// HTTP where this server's MCUs take C3P from a focus elsewhere
    /// (`/LiveServer/<mcu-type>/`); keep it on loopback. The focus of this server calls its
    /// own MCUs directly.
    pub mcu: SocketAddr,
    /// MCUs of other servers this focus uses instead of its own, by type (`audio-video`,
    /// `chat`, `meeting`): the address of their C3P-over-HTTP listener.
    pub remote_mcus: std::collections::BTreeMap<String, SocketAddr>,
    /// The A/V MCU's RTP socket (its RTCP socket is bound beside it, on the same address with
    /// a port of the system's choice), if set (`"off"` in the file: no audio).
    #[serde(deserialize_with = "addr_or_off")]
    pub media: Option<SocketAddr>,
    /// The web-conferencing MCU's PSOM listener (TLS, the certificate of `tls`), if set
    /// (`"off"` in the file turns it off).
    #[serde(deserialize_with = "addr_or_off")]
    pub psom: Option<SocketAddr>,
    /// Whether the A/V MCU's media must be SRTP: `"required"` (the default), `"optional"`
    /// (plain RTP for an offer without `a=crypto`), `"off"` ([MS-SDPEXT] 3.1.5.1).
    pub media_srtp: mcu::SrtpPolicy,
    /// Authentication schemes offered to REGISTER, in order: `Digest`, `NTLM`.
    pub auth: Vec<String>,
    /// Users created on first start (when the database has none by that name).
    pub users: Vec<UserConfig>,
    /// Synthetic users for load tests: `prefix` followed by a number below `count`, all with
    /// `password`. Not stored.
    pub load_users: Option<LoadUsers>,
    /// Print every SIP message in and out.
    pub trace_sip: bool,
    /// Failed authentications per source address and per user in a minute before further
    /// attempts are refused with `403` and `Retry-After` (default 10).
    pub auth_failure_limit: u32,
    /// Hours an [MS-SIPAE] security association lives before it is renegotiated (default 8,
    /// the most §3.2.2 allows).
    pub sa_lifetime_hours: u64,
    /// The keytab of the service principal `sip/ocs.<domain>`: with it (and the `kerberos`
    /// feature) [MS-SIPAE] Kerberos is accepted and offered first. MIT GSSAPI reads it through
    /// `KRB5_KTNAME`, which must name the same file when the server starts.
    pub kerberos_keytab: Option<PathBuf>,
    /// SIP transactions at once (default 200,000; a UDP one lives 32 s after its answer);
    /// past it new requests get `503`.
    pub max_transactions: usize,
    /// Requests without credentials per source address and second before `503` (default
    /// 2,000; each costs a challenge). 0: no limit.
    pub unauthenticated_per_second: u32,
    /// Take a Digest `uri` that names this server instead of the Request-URI, as sipp's
    /// `[authentication]` writes it (default off: the `uri` must be the Request-URI).
    pub digest_uri_next_hop: bool,
    /// TCP (and TLS) connections at once per listener (default 4096, lowered to fit the
    /// open-files limit; PSOM has its own listener and cap). When a listener is full a new
    /// connection takes the place of the oldest one that has not authenticated yet; when all
    /// have, it is closed at once.
    pub max_connections: usize,
    /// Seconds a stream connection may go without a complete message or keep-alive (default
    /// 600: clients ping every 300 s, [MS-CONMGMT]).
    pub idle_timeout_secs: u64,
    /// Seconds from a message's first byte to the end of its header section (default 10).
    pub header_timeout_secs: u64,
    /// Seconds from a message's first byte (a connection's start, for its first) to its end
    /// (default 30).
    pub message_timeout_secs: u64,
    /// Bytes queued for a peer that does not read before its connection is closed (default
    /// 1 MiB).
    pub write_queue_bytes: usize,
    /// Seconds a PSOM connection has, after its TLS handshake, to authenticate (default 10).
    pub psom_auth_timeout_secs: u64,
    /// The largest PSOM upload in bytes (default 16 MiB).
    pub psom_max_upload_bytes: u64,
    /// Uploads kept per web conference (default 64).
    pub psom_max_files: usize,
    /// Bytes of uploads kept per web conference (default 128 MiB).
    pub psom_max_conference_bytes: usize,
    /// The secret a focus must send (`Authorization: Bearer <secret>`) to this server's MCU
    /// listener; made on first start in `mcu-secret` in the data directory when unset.
    pub mcu_secret: Option<String>,
    /// The secret of the MCUs in `remote_mcus` (their `mcu_secret`).
    pub remote_mcu_secret: Option<String>,
    /// SIP engines in this process (default 1), each on a thread of its own: the SIP
    /// sockets are shared (`SO_REUSEPORT`: the kernel spreads clients over them by source
    /// address and port), and each engine is a front end of the pool (`[pool]` and the
    /// PostgreSQL `database` are required), named `<node>.<n>` with its pool listener on the
    /// port after the previous one's. The web listener, PSOM and the A/V MCU's media run in
    /// the first.
    pub workers: usize,
    /// Bind the SIP sockets with `SO_REUSEPORT` (set for each worker by [`Config::workers`]).
    pub reuse_port: bool,
    /// Addresses clients reach this server at besides its own listeners: a load balancer's
    /// in front of a pool (Kamailio's dispatcher), a NAT's. A Request-URI or Route naming one
    /// names this server.
    pub aliases: Vec<SocketAddr>,
    /// This front end's place in a pool of them sharing `database` (PostgreSQL): its name,
    /// its pool listener, the pool's secret.
    pub pool: Option<pool::PoolSettings>,
    /// The token a Prometheus scraper sends (`Authorization: Bearer <token>`) for `/metrics`
    /// on the web listener; without one only loopback may scrape.
    pub metrics_token: Option<String>,
    /// The UDP socket's receive buffer in bytes (the system's default when unset; the kernel
    /// caps it at `net.core.rmem_max`).
    pub udp_recv_buffer: Option<usize>,
}

/// A socket address, or `"off"`.
fn addr_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    let s = String::deserialize(d)?;
    if s.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

/// A user in the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserConfig {
    /// User name (the user part of `sip:name@domain`).
    pub name: String,
    /// Password.
    pub password: String,
    /// Display name.
    #[serde(default)]
    pub display: String,
}

/// Synthetic users (see [`Config::load_users`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadUsers {
    /// Name prefix.
    pub prefix: String,
    /// How many.
    pub count: u64,
    /// Their password.
    pub password: String,
}

impl Default for Config {
    fn default() -> Self {
        let demo = |name: &str, display: &str| UserConfig {
            name: name.into(),
            password: format!("{name}-Passw0rd"),
            display: display.into(),
        };
        Config {
            domain: "contoso.com".into(),
            data_dir: PathBuf::from("ocs-data"),
            database: None,
            udp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tcp: Some(SocketAddr::from(([127, 0, 0, 1], 5060))),
            tls: Some(SocketAddr::from(([127, 0, 0, 1], 5061))),
            web: Some(SocketAddr::from(([127, 0, 0, 1], 8080))),
            mcu: SocketAddr::from(([127, 0, 0, 1], 0)),
            remote_mcus: std::collections::BTreeMap::new(),
            media: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            psom: Some(SocketAddr::from(([127, 0, 0, 1], 8057))),
            auth: vec!["Digest".into(), "NTLM".into()],
            users: vec![
                demo("alice", "Alice Anders"),
                demo("bob", "Bob Brown"),
                demo("carol", "Carol Chen"),
            ],
            load_users: None,
            trace_sip: false,
            udp_recv_buffer: None,
            metrics_token: None,
            pool: None,
            aliases: Vec::new(),
            workers: 1,
            reuse_port: false,
            media_srtp: mcu::SrtpPolicy::Required,
            auth_failure_limit: 10,
            sa_lifetime_hours: 8,
            digest_uri_next_hop: false,
            unauthenticated_per_second: 2000,
            max_transactions: 200_000,
            kerberos_keytab: None,
            max_connections: 4096,
            idle_timeout_secs: 600,
            header_timeout_secs: 10,
            message_timeout_secs: 30,
            write_queue_bytes: 1 << 20,
            mcu_secret: None,
            remote_mcu_secret: None,
            psom_auth_timeout_secs: 10,
            psom_max_upload_bytes: 16 << 20,
            psom_max_files: 64,
            psom_max_conference_bytes: 128 << 20,
        }
    }
}

impl Config {
    /// What is wrong with this configuration that TOML could not say: unknown authentication
    /// schemes, a keytab or data directory that is not there, a store that cannot be reached
    /// (PostgreSQL is connected to and its schema version read, nothing written), secrets
    /// left empty. Returns the findings, one line each, and what it checked.
    #[must_use]
    pub fn check(&self) -> (Vec<String>, Vec<String>) {
        let mut wrong = Vec::new();
        let mut checked = Vec::new();
        let unknown: Vec<&String> = self
            .auth
            .iter()
            .filter(|a| !["Digest", "NTLM"].iter().any(|k| k.eq_ignore_ascii_case(a)))
            .collect();
        for a in &unknown {
            wrong.push(format!("auth: unknown scheme {a:?} (Digest, NTLM)"));
        }
        if self.auth.is_empty() {
            checked.push("auth: OFF (every request acts as its From: load tests only)".into());
        } else if unknown.is_empty() {
            checked.push(format!("auth: {}", self.auth.join(", ")));
        }
        if let Some(k) = &self.kerberos_keytab
            && !k.is_file()
        {
            wrong.push(format!("kerberos_keytab: {} is not a file", k.display()));
        }
        for (name, value) in [
            ("mcu_secret", &self.mcu_secret),
            ("remote_mcu_secret", &self.remote_mcu_secret),
            ("metrics_token", &self.metrics_token),
        ] {
            if value.as_deref().is_some_and(|v| v.trim().len() < 16) {
                wrong.push(format!("{name}: shorter than 16 characters"));
            }
        }
        if !self.remote_mcus.is_empty() && self.remote_mcu_secret.is_none() {
            wrong.push("remote_mcus: set, but no remote_mcu_secret to send them".into());
        }
        for t in self.remote_mcus.keys() {
            if matches!(
                crate::cccp::uri::McuType::parse(t),
                crate::cccp::uri::McuType::Other(_)
            ) {
                wrong.push(format!(
                    "remote_mcus: unknown MCU type {t:?} (audio-video, chat, meeting)"
                ));
            }
        }
        if let Err(e) = self.worker_configs() {
            wrong.push(format!("workers: {e}"));
        } else if self.workers > 1 {
            checked.push(format!(
                "workers: {} SIP engines on shared sockets",
                self.workers
            ));
        }
        if let Some(p) = &self.pool {
            match p.engine_config() {
                Ok(c) => checked.push(format!("pool: node {} at {}", c.name, c.addr)),
                Err(e) => wrong.push(format!("pool: {e}")),
            }
            if !matches!(
                store::Location::from_setting(self.database.as_deref(), &self.data_dir),
                store::Location::Postgres(_)
            ) {
                wrong.push("pool: needs `database` to be the pool's PostgreSQL".into());
            }
        }
        if self.udp.is_none() && self.tcp.is_none() && self.tls.is_none() {
            wrong.push("udp, tcp, tls: all off, no SIP at all".into());
        }
        let location = store::Location::from_setting(self.database.as_deref(), &self.data_dir);
        match &location {
            store::Location::Sqlite(path) => {
                let dir = path.parent().unwrap_or(std::path::Path::new("."));
                let existing = dir
                    .ancestors()
                    .map(|d| {
                        if d.as_os_str().is_empty() {
                            std::path::Path::new(".")
                        } else {
                            d
                        }
                    })
                    .find(|d| d.exists());
                match existing.map(std::fs::metadata) {
                    Some(Ok(m)) if m.permissions().readonly() => {
                        wrong.push(format!("database: {} is read-only", dir.display()));
                    }
                    Some(Ok(_)) => checked.push(format!("database: SQLite at {}", path.display())),
                    _ => wrong.push(format!("database: {} cannot be made", dir.display())),
                }
            }
            #[cfg(feature = "postgres")]
            store::Location::Postgres(c) => match store::Postgres::schema_of(c) {
                Ok(v) => checked.push(format!(
                    "database: PostgreSQL {} reached, schema version {v} (this build: {})",
                    location.redacted(),
                    store::MIGRATIONS.last().map_or(0, |m| m.0)
                )),
                Err(e) => wrong.push(format!("database: {}: {e}", location.redacted())),
            },
            #[cfg(not(feature = "postgres"))]
            store::Location::Postgres(_) => {
                wrong.push("database: PostgreSQL needs a build with the `postgres` feature".into());
            }
        }
        for (name, a) in [
            ("udp", self.udp),
            ("tcp", self.tcp),
            ("tls", self.tls),
            ("web", self.web),
            ("psom", self.psom),
            ("media", self.media),
        ] {
            if let Some(a) = a {
                checked.push(format!("{name}: {a}"));
            }
        }
        (wrong, checked)
    }

    /// The configuration of each SIP engine this one asks for ([`Config::workers`]): itself
    /// when it asks for one.
    ///
    /// # Errors
    /// More than one worker without `[pool]` and PostgreSQL, or on a port the system picks.
    pub fn worker_configs(&self) -> Result<Vec<Config>, String> {
        if self.workers <= 1 {
            return Ok(vec![self.clone()]);
        }
        let Some(pool) = &self.pool else {
            return Err("workers > 1 needs [pool] (each worker is a front end of it)".into());
        };
        if !matches!(
            store::Location::from_setting(self.database.as_deref(), &self.data_dir),
            store::Location::Postgres(_)
        ) {
            return Err("workers > 1 needs `database` to be PostgreSQL".into());
        }
        for a in [self.udp, self.tcp, self.tls].into_iter().flatten() {
            if a.port() == 0 {
                return Err(format!(
                    "workers > 1 share the SIP sockets: {a} needs a port"
                ));
            }
        }
        (0..self.workers)
            .map(|i| {
                let mut c = self.clone();
                c.workers = 1;
                c.reuse_port = true;
                let mut p = pool.clone();
                p.node = format!("{}.{i}", pool.node);
                let port = u16::try_from(usize::from(pool.listen.port()) + i)
                    .map_err(|_| "pool.listen: no room for a port per worker".to_owned())?;
                p.listen.set_port(port);
                c.pool = Some(p);
                if i > 0 {
                    (c.web, c.psom, c.media) = (None, None, None);
                    c.mcu.set_port(0);
                }
                Ok(c)
            })
            .collect()
    }

    /// Reads a TOML file; missing fields keep their defaults.
    ///
    /// # Errors
    /// Unreadable file, or TOML that does not fit.
    pub fn from_file(path: &std::path::Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

/// What happened, for the caller (tests, the demo): the addresses the server bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// The UDP address, if any.
    pub udp: Option<SocketAddr>,
    /// The TCP address, if any.
    pub tcp: Option<SocketAddr>,
    /// The TLS address, if any.
    pub tls: Option<SocketAddr>,
    /// The web (address book) address, if any.
    pub web: Option<SocketAddr>,
    /// The MCUs' C3P address.
    pub mcu: SocketAddr,
    /// The A/V MCU's RTP and RTCP addresses, if any.
    pub media: Option<(SocketAddr, SocketAddr)>,
    /// The web-conferencing MCU's PSOM (TLS) address, if any.
    pub psom: Option<SocketAddr>,
}

#[cfg(test)]
mod tests {
    use super::Config;

    #[test]
    fn remote_mcus_are_read_from_the_configuration() {
        let c: Config = toml::from_str(
            "domain = \"fabrikam.com\"\n[remote_mcus]\nchat = \"192.0.2.10:4444\"\n",
        )
        .unwrap();
        assert_eq!(c.domain, "fabrikam.com");
        assert_eq!(
            c.remote_mcus.get("chat"),
            Some(&"192.0.2.10:4444".parse().unwrap())
        );
        assert!(toml::from_str::<Config>("[remote_mcus]\nchat = \"nowhere\"\n").is_err());
    }

    #[test]
    fn workers_are_front_ends_of_the_pool_on_shared_sockets() {
        let one: Config = toml::from_str("workers = 1\n").unwrap();
        assert_eq!(one.worker_configs().unwrap().len(), 1);
        let no_pool: Config = toml::from_str("workers = 2\n").unwrap();
        assert!(no_pool.worker_configs().unwrap_err().contains("[pool]"));
        let text = "workers = 3\ndatabase = \"host=/run/postgresql dbname=ocs\"\n\
                    udp = \"127.0.0.1:5060\"\ntcp = \"127.0.0.1:5060\"\ntls = \"off\"\n\
                    [pool]\nnode = \"fe1\"\nlisten = \"127.0.0.1:5070\"\nsecret_file = \"/s\"\n";
        let c: Config = toml::from_str(text).unwrap();
        let w = c.worker_configs().unwrap();
        assert_eq!(w.len(), 3);
        let names: Vec<String> = w
            .iter()
            .map(|c| c.pool.as_ref().unwrap().node.clone())
            .collect();
        assert_eq!(names, ["fe1.0", "fe1.1", "fe1.2"]);
        let ports: Vec<u16> = w
            .iter()
            .map(|c| c.pool.as_ref().unwrap().listen.port())
            .collect();
        assert_eq!(ports, [5070, 5071, 5072]);
        assert!(
            w.iter()
                .all(|c| c.reuse_port && c.workers == 1 && c.udp == c.udp)
        );
        assert!(w[0].web.is_some() && w[1].web.is_none() && w[2].media.is_none());
        let any_port: Config =
            toml::from_str(&text.replace("udp = \"127.0.0.1:5060\"", "udp = \"127.0.0.1:0\""))
                .unwrap();
        assert!(
            any_port
                .worker_configs()
                .unwrap_err()
                .contains("needs a port")
        );
        let sqlite: Config =
            toml::from_str(&text.replace("database = \"host=/run/postgresql dbname=ocs\"\n", ""))
                .unwrap();
        assert!(sqlite.worker_configs().unwrap_err().contains("PostgreSQL"));
    }
}
