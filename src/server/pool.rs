//! The runtime side of a pool of front ends (`[pool]` in the configuration; the engine's
//! side is [`super::sip::pool`]):
//!
//! - a **heartbeat** thread on a PostgreSQL connection of its own: every two seconds it says
//!   this node is alive (`pool_nodes.heartbeat`) and reads which nodes are (a heartbeat in
//!   the last ten seconds);
//! - a **watcher** thread on another: it `LISTEN`s on `ocs_bindings`, whose announcements
//!   (made by a trigger at each commit) go to the engine in commit order, this node's own
//!   writes included, on `ocs_roaming` (another node changed a user's contact list: the
//!   row is read and given to the engine), and on `ocs_conferences` (which node owns each
//!   conference: its requests go there). When its connection drops it reconnects and reads
//!   every binding again.
//! - a **link** task per live node: a TCP connection to its pool listener, served like any
//!   SIP stream, opened again a second after it closes, ended when the node stops being
//!   alive.

use std::net::SocketAddr;
use std::time::Duration;

use postgres::fallible_iterator::FallibleIterator as _;
use serde::Deserialize;
use tokio::sync::mpsc;

use super::runtime::Input;
use super::sip::{Binding, PoolConfig};
use super::transport::{ConnKind, StreamLimits, Ticket, serve_stream};

/// The `[pool]` section of the configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoolSettings {
    /// This node's name, unique in the pool (`fe1`).
    pub node: String,
    /// Where the other nodes reach this one: its pool listener (SIP over TCP; keep it on
    /// the pool's private network). Its address is this node's pool URI: keep it stable.
    pub listen: SocketAddr,
    /// A file holding the secret every node shares (at least 16 bytes; the file the
    /// owner's only). Requests between nodes are signed with it.
    pub secret_file: std::path::PathBuf,
}

impl PoolSettings {
    /// The engine's view: the name, the address, the secret read from its file.
    ///
    /// # Errors
    /// A secret file that cannot be read, is shorter than 16 bytes, or others may read.
    pub fn engine_config(&self) -> Result<PoolConfig, String> {
        use std::os::unix::fs::PermissionsExt as _;
        let f = &self.secret_file;
        let meta = std::fs::metadata(f).map_err(|e| format!("{}: {e}", f.display()))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(format!(
                "{}: the pool secret must be readable by its owner only (chmod 600)",
                f.display()
            ));
        }
        let secret = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let secret = secret.trim_ascii().to_vec();
        if secret.len() < 16 {
            return Err(format!(
                "{}: the pool secret is shorter than 16 bytes",
                f.display()
            ));
        }
        if self.node.is_empty() || self.node.len() > 64 || self.node.contains(char::is_whitespace) {
            return Err("pool.node: 1 to 64 characters, no white space".into());
        }
        Ok(PoolConfig {
            name: self.node.clone(),
            addr: self.listen,
            secret,
        })
    }
}

/// What the watcher tells the engine's task.
#[derive(Debug)]
pub(super) enum PoolEvent {
    /// The live nodes but this one: (name, pool listener).
    Nodes(Vec<(String, SocketAddr)>),
    /// Another node (`by`) stored a user's contact list and roaming data.
    Roaming {
        by: String,
        aor: String,
        contacts: String,
        data: String,
    },
    /// A conference written by node `owner` (`None`: deleted).
    Conference {
        focus: String,
        owner: Option<String>,
    },
    /// A binding another node wrote (`by`), stored (`Some`) or deleted.
    Binding {
        by: String,
        aor: String,
        contact: String,
        binding: Option<Box<Binding>>,
    },
}

/// An announcement of the `ocs_conferences` channel (schema version 4).
#[derive(Debug, Deserialize)]
struct ConferenceAnnouncement {
    focus: String,
    owner: Option<String>,
}

/// An announcement of the `ocs_roaming` channel (schema version 3).
#[derive(Debug, Deserialize)]
struct RoamingAnnouncement {
    by: Option<String>,
    aor: String,
}

/// An announcement of the `ocs_bindings` channel (the trigger of schema version 2).
#[derive(Debug, Deserialize)]
struct Announcement {
    op: String,
    by: Option<String>,
    aor: String,
    contact: String,
    instance: Option<String>,
    expires_at: Option<i64>,
    call_id: Option<String>,
    cseq: Option<i64>,
    path: Option<Vec<String>>,
}

impl Announcement {
    fn event(self) -> PoolEvent {
        let binding = (self.op == "set").then(|| {
            Box::new(Binding {
                aor: self.aor.clone(),
                contact: self.contact.clone(),
                instance: self.instance,
                expires_at: self
                    .expires_at
                    .and_then(|t| u64::try_from(t).ok())
                    .unwrap_or(0),
                call_id: self.call_id.unwrap_or_default(),
                cseq: self.cseq.and_then(|c| u32::try_from(c).ok()).unwrap_or(0),
                flow: None,
                path: self.path.unwrap_or_default(),
            })
        });
        PoolEvent::Binding {
            by: self.by.unwrap_or_default(),
            aor: self.aor,
            contact: self.contact,
            binding,
        }
    }
}

/// How long a node may go without a heartbeat and still count as alive.
const ALIVE: i64 = 10;

/// Runs the watcher until the engine's task is gone (blocks: a thread of its own; the
/// heartbeat runs on another, with a connection of its own, so that an engine too busy to
/// take announcements does not look dead to the pool).
pub(super) fn watch(database: &str, me: &PoolConfig, tx: &mpsc::Sender<Input>) {
    let me_name = me.name.clone();
    {
        let (database, me, tx) = (database.to_owned(), me.clone(), tx.clone());
        std::thread::spawn(move || {
            let mut known = Vec::new();
            while !tx.is_closed() {
                if let Err(e) = heartbeat(&database, &me, &tx, &mut known) {
                    tracing::warn!(error = %e, "pool heartbeat: PostgreSQL connection lost; reconnecting");
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        });
    }
    loop {
        match listen(database, &me_name, tx) {
            Ok(()) => return,
            Err(e) => {
                tracing::warn!(error = %e, "pool watcher: PostgreSQL connection lost; reconnecting");
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
}

/// Every two seconds: this node is alive, and which others are; a change of that goes to
/// the engine (when its queue has room: else the next round tells it). `Ok` when the
/// engine's task is gone.
fn heartbeat(
    database: &str,
    me: &PoolConfig,
    tx: &mpsc::Sender<Input>,
    known: &mut Vec<(String, SocketAddr)>,
) -> Result<(), postgres::Error> {
    let mut db = postgres::Client::connect(database, postgres::NoTls)?;
    while !tx.is_closed() {
        let now = unix_now();
        db.execute(
            "INSERT INTO pool_nodes (name, address, heartbeat) VALUES ($1, $2, $3)
             ON CONFLICT (name) DO UPDATE SET address = EXCLUDED.address,
                 heartbeat = EXCLUDED.heartbeat",
            &[&me.name, &me.addr.to_string(), &now],
        )?;
        let mut live: Vec<(String, SocketAddr)> = db
            .query(
                "SELECT name, address FROM pool_nodes WHERE heartbeat > $1 AND name <> $2
                 ORDER BY name",
                &[&(now - ALIVE), &me.name],
            )?
            .iter()
            .filter_map(|r| {
                let addr: String = r.get(1);
                Some((r.get(0), addr.parse().ok()?))
            })
            .collect();
        live.sort();
        if live != *known
            && tx
                .try_send(Input::Pool(PoolEvent::Nodes(live.clone())))
                .is_ok()
        {
            tracing::info!(nodes = ?live, "pool: live nodes");
            *known = live;
        }
        std::thread::sleep(Duration::from_secs(2));
    }
    Ok(())
}

/// One connection's worth of `LISTEN ocs_bindings`: every binding read first (what was
/// announced while nobody listened), then each announcement as it comes, in commit order.
/// `Ok` when the engine's task is gone.
fn listen(database: &str, me: &str, tx: &mpsc::Sender<Input>) -> Result<(), postgres::Error> {
    let mut db = postgres::Client::connect(database, postgres::NoTls)?;
    db.batch_execute("LISTEN ocs_bindings; LISTEN ocs_roaming; LISTEN ocs_conferences")?;
    for row in db.query("SELECT focus, owner FROM conferences", &[])? {
        let event = PoolEvent::Conference {
            focus: row.get(0),
            owner: row.get(1),
        };
        if tx.blocking_send(Input::Pool(event)).is_err() {
            return Ok(());
        }
    }
    let now = unix_now();
    for row in db.query(
        "SELECT aor, contact, instance, expires_at, call_id, cseq, path FROM bindings
         WHERE expires_at > $1",
        &[&now],
    )? {
        let a = Announcement {
            op: "set".into(),
            by: None,
            aor: row.get(0),
            contact: row.get(1),
            instance: row.get(2),
            expires_at: Some(row.get(3)),
            call_id: Some(row.get(4)),
            cseq: Some(row.get(5)),
            path: Some(row.get(6)),
        };
        if tx.blocking_send(Input::Pool(a.event())).is_err() {
            return Ok(());
        }
    }
    loop {
        // Collected first: reading a roaming row needs the connection the iterator holds.
        let mut batch = Vec::new();
        {
            let mut notes = db.notifications();
            let first = notes.blocking_iter().next()?;
            if let Some(n) = first {
                batch.push((n.channel().to_owned(), n.payload().to_owned()));
            }
            let mut more = notes.iter();
            while let Some(n) = more.next()? {
                batch.push((n.channel().to_owned(), n.payload().to_owned()));
            }
        }
        for (channel, payload) in batch {
            let event = if channel == "ocs_conferences" {
                let Ok(a) = serde_json::from_str::<ConferenceAnnouncement>(&payload) else {
                    tracing::warn!("pool: a conference announcement that does not parse");
                    continue;
                };
                PoolEvent::Conference {
                    focus: a.focus,
                    owner: a.owner,
                }
            } else if channel == "ocs_roaming" {
                let Ok(a) = serde_json::from_str::<RoamingAnnouncement>(&payload) else {
                    tracing::warn!("pool: a roaming announcement that does not parse");
                    continue;
                };
                let by = a.by.unwrap_or_default();
                // Our own writes: what we hold is at least as new.
                if by == me {
                    continue;
                }
                let Some(row) = db.query_opt(
                    "SELECT contacts, data FROM roaming WHERE aor = $1",
                    &[&a.aor],
                )?
                else {
                    continue;
                };
                PoolEvent::Roaming {
                    by,
                    aor: a.aor,
                    contacts: row.get(0),
                    data: row.get(1),
                }
            } else {
                match serde_json::from_str::<Announcement>(&payload) {
                    Ok(a) => a.event(),
                    Err(e) => {
                        tracing::warn!(error = %e, "pool: an announcement that does not parse");
                        continue;
                    }
                }
            };
            if tx.blocking_send(Input::Pool(event)).is_err() {
                return Ok(());
            }
        }
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The link to the node whose pool listener is `addr`: connected, served as a SIP stream,
/// connected again a second after it ends, until the task is aborted.
pub(super) async fn link(
    addr: SocketAddr,
    tx: mpsc::Sender<Input>,
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
    trace: bool,
    limits: StreamLimits,
) {
    loop {
        match tokio::net::TcpStream::connect(addr).await {
            Ok(stream) => {
                let _ = stream.set_nodelay(true);
                if let Some(ticket) = Ticket::standalone() {
                    let conn = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    tracing::info!(%addr, conn, "pool: link up");
                    serve_stream(
                        stream,
                        addr,
                        conn,
                        tx.clone(),
                        trace,
                        false,
                        limits,
                        ticket,
                        ConnKind::PoolLink(addr),
                    )
                    .await;
                    tracing::info!(%addr, "pool: link down");
                }
            }
            Err(e) => tracing::debug!(%addr, error = %e, "pool: link not connected"),
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
