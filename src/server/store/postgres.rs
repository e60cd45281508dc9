//! The shared store: PostgreSQL, through the `postgres` client (the blocking face of
//! `tokio-postgres`, which runs on the store's own thread). Several front ends may use the
//! same database at once, as OCS 2007 Enterprise Edition's front ends share one SQL back end.
//!
//! - **Schema**: the versioned migrations in `src/server/store/migrations/` ([`MIGRATIONS`]),
//!   applied in order, each once, in one transaction under an advisory lock (two nodes
//!   starting together do not both apply one); a database newer than this build is refused.
//! - **Writes**: a batch is one transaction, reduced to the last write of each row and written
//!   a kind at a time (`UNNEST` of arrays: five statements for any batch size), committed
//!   with the server's `synchronous_commit` (on by default: durable on return).
//! - **Transport**: a Unix socket (`host=/var/run/postgresql`) or loopback. This build has
//!   no TLS client for PostgreSQL, and the database holds password hashes and conference
//!   keys: a remote host is refused rather than spoken to in clear.

use postgres::{Client, NoTls, Statement};

use super::{AbsPublication, Error, Reduced, Secrets, Store, User};
use crate::server::sip::{Binding, StoreOp, StoredConference};

/// The schema's migrations, in order: (version, name, SQL).
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("migrations/0001_initial.sql")),
    (2, "pool", include_str!("migrations/0002_pool.sql")),
    (
        3,
        "roaming announced",
        include_str!("migrations/0003_roaming_announced.sql"),
    ),
    (
        4,
        "conference owner",
        include_str!("migrations/0004_conference_owner.sql"),
    ),
];

/// The advisory lock the migrations run under (any constant; "ocs-stack" in ASCII).
const MIGRATION_LOCK: i64 = 0x6f63_732d_7374_6163;

/// A PostgreSQL database shared by a pool of front ends (see [`crate::server::store`]).
pub struct Postgres {
    client: Client,
    stmts: Statements,
    /// The front end writing ([`Store::set_node`]), set in each transaction as `ocs.node`.
    node: String,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

/// The batch writes, prepared once per connection.
struct Statements {
    bind: Statement,
    unbind: Statement,
    schedule: Statement,
    unschedule: Statement,
    roaming: Statement,
}

impl Postgres {
    /// Connects with `config` (a URL, `postgresql://user@host/db`, or key=value pairs,
    /// `host=/var/run/postgresql dbname=ocs`) and brings the schema to this build's version.
    ///
    /// # Errors
    /// The connection's or the migrations', [`Error::SchemaTooNew`], or
    /// [`Error::Unsupported`] for a host that is neither a Unix socket nor loopback.
    pub fn connect(config: &str) -> Result<Postgres, Error> {
        let mut client = open(config)?;
        migrate(&mut client)?;
        let stmts = Statements {
            bind: client.prepare(
                "INSERT INTO bindings (aor, contact, instance, expires_at, call_id, cseq, path)
                 SELECT aor, contact, instance, expires_at, call_id, cseq,
                        CASE WHEN path = '' THEN '{}'::text[]
                             ELSE string_to_array(path, E'\\n') END
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[],
                             $5::text[], $6::bigint[], $7::text[])
                      AS u(aor, contact, instance, expires_at, call_id, cseq, path)
                 ON CONFLICT (aor, contact) DO UPDATE SET instance = EXCLUDED.instance,
                     expires_at = EXCLUDED.expires_at, call_id = EXCLUDED.call_id,
                     cseq = EXCLUDED.cseq, path = EXCLUDED.path",
            )?,
            unbind: client.prepare(
                "DELETE FROM bindings b USING UNNEST($1::text[], $2::text[]) AS d(aor, contact)
                 WHERE b.aor = d.aor AND b.contact = d.contact",
            )?,
            schedule: client.prepare(
                "INSERT INTO conferences (focus, info, key, expires_at, owner)
                 SELECT f, i, k, e, current_setting('ocs.node', true)
                 FROM UNNEST($1::text[], $2::text[], $3::bytea[], $4::bigint[]) AS u(f, i, k, e)
                 ON CONFLICT (focus) DO UPDATE SET info = EXCLUDED.info, key = EXCLUDED.key,
                     expires_at = EXCLUDED.expires_at, owner = EXCLUDED.owner",
            )?,
            unschedule: client.prepare("DELETE FROM conferences WHERE focus = ANY($1::text[])")?,
            roaming: client.prepare(
                "INSERT INTO roaming (aor, contacts, data)
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
                 ON CONFLICT (aor) DO UPDATE SET contacts = EXCLUDED.contacts,
                     data = EXCLUDED.data",
            )?,
        };
        Ok(Postgres {
            client,
            stmts,
            node: String::new(),
        })
    }

    /// Connects with `config`, as [`Postgres::connect`] would, and reads the schema version
    /// without migrating or writing anything (0 for a database never opened by `ocs serve`).
    ///
    /// # Errors
    /// The connection's, or [`Error::Unsupported`] for a host it would refuse.
    pub fn schema_of(config: &str) -> Result<i32, Error> {
        let mut client = open(config)?;
        let exists: bool = client
            .query_one(
                "SELECT to_regclass('ocs_schema_migrations') IS NOT NULL",
                &[],
            )?
            .get(0);
        if !exists {
            return Ok(0);
        }
        Ok(client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM ocs_schema_migrations",
                &[],
            )?
            .get(0))
    }

    /// The schema version the database is at.
    ///
    /// # Errors
    /// The database's.
    pub fn schema_version(&mut self) -> Result<i32, Error> {
        Ok(self
            .client
            .query_one(
                "SELECT COALESCE(MAX(version), 0) FROM ocs_schema_migrations",
                &[],
            )?
            .get(0))
    }
}

/// A connection to `config`: a Unix socket or loopback only (no TLS in this build).
fn open(config: &str) -> Result<Client, Error> {
    let parsed: postgres::Config = config.parse()?;
    for host in parsed.get_hosts() {
        if let postgres::config::Host::Tcp(name) = host
            && !is_loopback(name)
        {
            return Err(Error::Unsupported(format!(
                "PostgreSQL host {name}: this build speaks to PostgreSQL without TLS, so \
                 only over a Unix socket or loopback (the database holds password hashes)"
            )));
        }
    }
    for addr in parsed.get_hostaddrs() {
        if !addr.is_loopback() {
            return Err(Error::Unsupported(format!(
                "PostgreSQL hostaddr {addr}: only a Unix socket or loopback without TLS"
            )));
        }
    }
    Ok(parsed.connect(NoTls)?)
}

/// Whether a host name is this machine's loopback.
fn is_loopback(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|a| a.is_loopback())
}

/// Applies the migrations the database lacks, in one transaction under the advisory lock.
fn migrate(client: &mut Client) -> Result<(), Error> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS ocs_schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL,
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
    )?;
    let current: i32 = tx
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM ocs_schema_migrations",
            &[],
        )?
        .get(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > known {
        return Err(Error::SchemaTooNew {
            found: current,
            known,
        });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > current) {
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO ocs_schema_migrations (version, name) VALUES ($1, $2)",
            &[&version, &name],
        )?;
        tracing::info!(version, name, "PostgreSQL schema migrated");
    }
    Ok(tx.commit()?)
}

/// A stored Unix time (never negative in what we write).
fn unix(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

impl Store for Postgres {
    fn add_user(&mut self, u: &User) -> Result<bool, Error> {
        let k = &u.secrets;
        let n = self.client.execute(
            "INSERT INTO users (name, display, realm, ha1_md5, ha1_sha256, ha1_sha512_256, nt_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (name) DO NOTHING",
            &[
                &u.name,
                &u.display,
                &k.realm,
                &k.ha1_md5,
                &k.ha1_sha256,
                &k.ha1_sha512_256,
                &&k.nt_hash[..],
            ],
        )?;
        Ok(n == 1)
    }

    /// This schema never held a password.
    fn hash_clear_passwords(&mut self, _realm: &str) -> Result<usize, Error> {
        Ok(0)
    }

    fn users(&mut self) -> Result<Vec<User>, Error> {
        let rows = self.client.query(
            "SELECT name, display, realm, ha1_md5, ha1_sha256, ha1_sha512_256, nt_hash
             FROM users ORDER BY name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let nt: &[u8] = r.get(6);
                User {
                    name: r.get(0),
                    display: r.get(1),
                    secrets: Secrets {
                        realm: r.get(2),
                        ha1_md5: r.get(3),
                        ha1_sha256: r.get(4),
                        ha1_sha512_256: r.get(5),
                        nt_hash: nt.try_into().unwrap_or([0; 16]),
                    },
                }
            })
            .collect())
    }

    fn bindings(&mut self, now: u64) -> Result<Vec<Binding>, Error> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.client
            .execute("DELETE FROM bindings WHERE expires_at <= $1", &[&now])?;
        let rows = self.client.query(
            "SELECT aor, contact, instance, expires_at, call_id, cseq, path FROM bindings
             ORDER BY aor, contact",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| Binding {
                aor: r.get(0),
                contact: r.get(1),
                instance: r.get(2),
                expires_at: unix(r.get(3)),
                call_id: r.get(4),
                cseq: u32::try_from(r.get::<_, i64>(5)).unwrap_or(u32::MAX),
                flow: None,
                path: r.get(6),
            })
            .collect())
    }

    fn roaming(&mut self) -> Result<Vec<(String, String, String)>, Error> {
        let rows = self
            .client
            .query("SELECT aor, contacts, data FROM roaming ORDER BY aor", &[])?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    fn conferences(&mut self, now: u64) -> Result<Vec<StoredConference>, Error> {
        let now = i64::try_from(now).unwrap_or(i64::MAX);
        self.client
            .execute("DELETE FROM conferences WHERE expires_at <= $1", &[&now])?;
        let rows = self.client.query(
            "SELECT focus, info, key, expires_at FROM conferences ORDER BY focus",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| {
                let key: &[u8] = r.get(2);
                StoredConference {
                    focus: r.get(0),
                    info: r.get(1),
                    key: key.try_into().unwrap_or([0; 16]),
                    expires_at: unix(r.get(3)),
                }
            })
            .collect())
    }

    fn abs_days(&mut self) -> Result<Vec<(u16, Vec<u8>)>, Error> {
        let rows = self
            .client
            .query("SELECT day, book FROM abs_days ORDER BY day", &[])?;
        Ok(rows
            .iter()
            .filter_map(|r| Some((u16::try_from(r.get::<_, i32>(0)).ok()?, r.get(1))))
            .collect())
    }

    fn abs_files(&mut self) -> Result<Vec<(String, Vec<u8>, u64)>, Error> {
        let rows = self.client.query(
            "SELECT name, body, published FROM abs_files ORDER BY name",
            &[],
        )?;
        Ok(rows
            .iter()
            .map(|r| (r.get(0), r.get(1), unix(r.get(2))))
            .collect())
    }

    fn publish_abs(&mut self, p: &AbsPublication<'_>) -> Result<(), Error> {
        let mut tx = self.client.transaction()?;
        let day = i32::from(p.day);
        tx.execute(
            "INSERT INTO abs_days (day, book) VALUES ($1, $2)
             ON CONFLICT (day) DO UPDATE SET book = EXCLUDED.book",
            &[&day, &p.book],
        )?;
        tx.execute(
            "DELETE FROM abs_days WHERE day < $1",
            &[&i32::from(p.oldest_day)],
        )?;
        let now = i64::try_from(p.now).unwrap_or(i64::MAX);
        for (name, d, body) in p.write {
            tx.execute(
                "INSERT INTO abs_files (name, day, body, published) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (name) DO UPDATE SET day = EXCLUDED.day, body = EXCLUDED.body,
                     published = EXCLUDED.published",
                &[name, &i32::from(*d), body, &now],
            )?;
        }
        for name in p.remove {
            tx.execute("DELETE FROM abs_files WHERE name = $1", &[name])?;
        }
        Ok(tx.commit()?)
    }

    fn conference_owners(&mut self) -> Result<Vec<(String, Option<String>)>, Error> {
        Ok(self
            .client
            .query("SELECT focus, owner FROM conferences ORDER BY focus", &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    }

    fn set_node(&mut self, node: &str) {
        node.clone_into(&mut self.node);
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error> {
        let r = Reduced::of(ops);
        let s = &self.stmts;
        let mut tx = self.client.transaction()?;
        if !self.node.is_empty() {
            tx.execute("SELECT set_config('ocs.node', $1, true)", &[&self.node])?;
        }
        if !r.unbind.is_empty() {
            let aors: Vec<&str> = r.unbind.iter().map(|u| u.0).collect();
            let contacts: Vec<&str> = r.unbind.iter().map(|u| u.1).collect();
            tx.execute(&s.unbind, &[&aors, &contacts])?;
        }
        if !r.bind.is_empty() {
            let aor: Vec<&str> = r.bind.iter().map(|b| b.aor.as_str()).collect();
            let contact: Vec<&str> = r.bind.iter().map(|b| b.contact.as_str()).collect();
            let instance: Vec<Option<&str>> =
                r.bind.iter().map(|b| b.instance.as_deref()).collect();
            let expires: Vec<i64> = r
                .bind
                .iter()
                .map(|b| i64::try_from(b.expires_at).unwrap_or(i64::MAX))
                .collect();
            let call_id: Vec<&str> = r.bind.iter().map(|b| b.call_id.as_str()).collect();
            let cseq: Vec<i64> = r.bind.iter().map(|b| i64::from(b.cseq)).collect();
            // An array of arrays must be rectangular: each path goes as one text, a value a
            // line, split again by the statement.
            let path: Vec<String> = r.bind.iter().map(|b| b.path.join("\n")).collect();
            tx.execute(
                &s.bind,
                &[&aor, &contact, &instance, &expires, &call_id, &cseq, &path],
            )?;
        }
        if !r.unschedule.is_empty() {
            tx.execute(&s.unschedule, &[&r.unschedule])?;
        }
        if !r.schedule.is_empty() {
            let focus: Vec<&str> = r.schedule.iter().map(|c| c.focus.as_str()).collect();
            let info: Vec<&str> = r.schedule.iter().map(|c| c.info.as_str()).collect();
            let key: Vec<&[u8]> = r.schedule.iter().map(|c| &c.key[..]).collect();
            let expires: Vec<i64> = r
                .schedule
                .iter()
                .map(|c| i64::try_from(c.expires_at).unwrap_or(i64::MAX))
                .collect();
            tx.execute(&s.schedule, &[&focus, &info, &key, &expires])?;
        }
        if !r.roaming.is_empty() {
            let aor: Vec<&str> = r.roaming.iter().map(|x| x.0).collect();
            let contacts: Vec<&str> = r.roaming.iter().map(|x| x.1).collect();
            let data: Vec<&str> = r.roaming.iter().map(|x| x.2).collect();
            tx.execute(&s.roaming, &[&aor, &contacts, &data])?;
        }
        Ok(tx.commit()?)
    }
}
