//! The embedded store: SQLite (the bundled library, through rusqlite). WAL journal with
//! `synchronous=NORMAL`: a killed process loses nothing committed; checkpoints run on a
//! connection of their own ([`checkpoint`]), so that a commit never waits for one.

use std::path::Path;

use rusqlite::{Connection, params};

use super::{AbsPublication, Error, Reduced, Secrets, Store, User};
use crate::server::sip::{Binding, StoreOp, StoredConference};

/// The users: what is kept of their passwords, never the passwords ([`Secrets`]).
const USERS_TABLE: &str = "CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY, display TEXT NOT NULL DEFAULT '', realm TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL, ha1_sha256 TEXT NOT NULL, ha1_sha512_256 TEXT NOT NULL,
    nt_hash BLOB NOT NULL);";

/// Inserts a user unless one by that name exists; how many rows it added.
fn insert_user(db: &Connection, u: &User) -> rusqlite::Result<usize> {
    let k = &u.secrets;
    db.execute(
        "INSERT OR IGNORE INTO users
             (name, display, realm, ha1_md5, ha1_sha256, ha1_sha512_256, nt_hash)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            u.name,
            u.display,
            k.realm,
            k.ha1_md5,
            k.ha1_sha256,
            k.ha1_sha512_256,
            &k.nt_hash[..]
        ],
    )
}

/// A SQLite database, the embedded store of one server (see [`crate::server::store`]).
#[derive(Debug)]
pub struct Sqlite {
    db: Connection,
}

impl Sqlite {
    /// Opens (creating when needed) the database at `path`.
    ///
    /// # Errors
    /// SQLite's.
    pub fn open(path: &Path) -> rusqlite::Result<Sqlite> {
        let db = Connection::open(path)?;
        // The owner's only: it holds password hashes and conference keys (SQLite gives its
        // WAL and shared-memory files the same mode).
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Self::setup(db)
    }

    /// An in-memory database (tests).
    ///
    /// # Errors
    /// SQLite's.
    pub fn in_memory() -> rusqlite::Result<Sqlite> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(db: Connection) -> rusqlite::Result<Sqlite> {
        db.pragma_update(None, "journal_mode", "WAL")?;
        db.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoints (which write the database file and sync it) run on another connection
        // ([`checkpoint`]), so that a commit never waits for one.
        db.pragma_update(None, "wal_autocheckpoint", 0)?;
        // The address-book publisher writes on a connection of its own.
        db.busy_timeout(std::time::Duration::from_secs(5))?;
        db.execute_batch(USERS_TABLE)?;
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS bindings (
                 aor TEXT NOT NULL, contact TEXT NOT NULL, instance TEXT,
                 expires_at INTEGER NOT NULL, call_id TEXT NOT NULL, cseq INTEGER NOT NULL,
                 path TEXT NOT NULL DEFAULT '', PRIMARY KEY (aor, contact));
             CREATE TABLE IF NOT EXISTS conferences (
                 focus TEXT PRIMARY KEY, info TEXT NOT NULL, key BLOB NOT NULL,
                 expires_at INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS roaming (
                 aor TEXT PRIMARY KEY, contacts TEXT NOT NULL, data TEXT NOT NULL);
             CREATE TABLE IF NOT EXISTS abs_days (day INTEGER PRIMARY KEY, book BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS abs_files (
                 name TEXT PRIMARY KEY, day INTEGER NOT NULL, body BLOB NOT NULL,
                 published INTEGER NOT NULL);",
        )?;
        // A database of an earlier version has no `path` column.
        let has_path: bool = db
            .prepare("SELECT 1 FROM pragma_table_info('bindings') WHERE name = 'path'")?
            .exists([])?;
        if !has_path {
            db.execute_batch("ALTER TABLE bindings ADD COLUMN path TEXT NOT NULL DEFAULT ''")?;
        }
        Ok(Sqlite { db })
    }
}

/// A Path as stored: its values one per line (a URI holds no line break).
fn path_text(path: &[String]) -> String {
    path.join("\n")
}

fn path_of(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

impl Store for Sqlite {
    fn add_user(&mut self, u: &User) -> Result<bool, Error> {
        Ok(insert_user(&self.db, u)? == 1)
    }

    fn hash_clear_passwords(&mut self, realm: &str) -> Result<usize, Error> {
        let has_password: bool = self
            .db
            .prepare("SELECT 1 FROM pragma_table_info('users') WHERE name = 'password'")?
            .exists([])?;
        if !has_password {
            return Ok(0);
        }
        let tx = self.db.transaction()?;
        let old: Vec<(String, String, String)> = tx
            .prepare("SELECT name, password, display FROM users")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<rusqlite::Result<_>>()?;
        tx.execute_batch("DROP TABLE users;")?;
        tx.execute_batch(USERS_TABLE)?;
        for (name, password, display) in &old {
            let u = User {
                name: name.clone(),
                secrets: Secrets::new(name, realm, password),
                display: display.clone(),
            };
            insert_user(&tx, &u)?;
        }
        tx.commit()?;
        // The clear passwords may linger in free pages: rewrite the file without them.
        self.db.execute_batch("VACUUM")?;
        Ok(old.len())
    }

    fn users(&mut self) -> Result<Vec<User>, Error> {
        let mut st = self.db.prepare(
            "SELECT name, display, realm, ha1_md5, ha1_sha256, ha1_sha512_256, nt_hash
             FROM users ORDER BY name",
        )?;
        let rows = st.query_map([], |r| {
            let nt: Vec<u8> = r.get(6)?;
            Ok(User {
                name: r.get(0)?,
                display: r.get(1)?,
                secrets: Secrets {
                    realm: r.get(2)?,
                    ha1_md5: r.get(3)?,
                    ha1_sha256: r.get(4)?,
                    ha1_sha512_256: r.get(5)?,
                    nt_hash: nt.try_into().unwrap_or([0; 16]),
                },
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn bindings(&mut self, now: u64) -> Result<Vec<Binding>, Error> {
        self.db.execute(
            "DELETE FROM bindings WHERE expires_at <= ?1",
            params![now as i64],
        )?;
        let mut st = self.db.prepare(
            "SELECT aor, contact, instance, expires_at, call_id, cseq, path FROM bindings",
        )?;
        let rows = st.query_map([], |r| {
            Ok(Binding {
                aor: r.get(0)?,
                contact: r.get(1)?,
                instance: r.get(2)?,
                expires_at: r.get::<_, i64>(3)? as u64,
                call_id: r.get(4)?,
                cseq: r.get(5)?,
                flow: None,
                path: path_of(&r.get::<_, String>(6)?),
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn roaming(&mut self) -> Result<Vec<(String, String, String)>, Error> {
        let mut st = self
            .db
            .prepare("SELECT aor, contacts, data FROM roaming ORDER BY aor")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn conferences(&mut self, now: u64) -> Result<Vec<StoredConference>, Error> {
        self.db.execute(
            "DELETE FROM conferences WHERE expires_at <= ?1",
            params![now as i64],
        )?;
        let mut st = self
            .db
            .prepare("SELECT focus, info, key, expires_at FROM conferences ORDER BY focus")?;
        let rows = st.query_map([], |r| {
            let key: Vec<u8> = r.get(2)?;
            Ok(StoredConference {
                focus: r.get(0)?,
                info: r.get(1)?,
                key: key.try_into().unwrap_or([0; 16]),
                expires_at: r.get::<_, i64>(3)? as u64,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn abs_days(&mut self) -> Result<Vec<(u16, Vec<u8>)>, Error> {
        let mut st = self
            .db
            .prepare("SELECT day, book FROM abs_days ORDER BY day")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, u16>(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn abs_files(&mut self) -> Result<Vec<(String, Vec<u8>, u64)>, Error> {
        let mut st = self
            .db
            .prepare("SELECT name, body, published FROM abs_files ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn publish_abs(&mut self, p: &AbsPublication<'_>) -> Result<(), Error> {
        let AbsPublication {
            day,
            book,
            write,
            remove,
            oldest_day,
            now,
        } = *p;
        let tx = self.db.transaction()?;
        tx.execute(
            "INSERT OR REPLACE INTO abs_days (day, book) VALUES (?1, ?2)",
            params![day, book],
        )?;
        tx.execute("DELETE FROM abs_days WHERE day < ?1", params![oldest_day])?;
        {
            let mut put = tx.prepare_cached(
                "INSERT OR REPLACE INTO abs_files (name, day, body, published) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (name, d, body) in write {
                put.execute(params![name, d, body, now as i64])?;
            }
            let mut del = tx.prepare_cached("DELETE FROM abs_files WHERE name = ?1")?;
            for name in remove {
                del.execute(params![name])?;
            }
        }
        Ok(tx.commit()?)
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error> {
        let r = Reduced::of(ops);
        let tx = self.db.transaction()?;
        {
            let mut unbind =
                tx.prepare_cached("DELETE FROM bindings WHERE aor = ?1 AND contact = ?2")?;
            for (aor, contact) in &r.unbind {
                unbind.execute(params![aor, contact])?;
            }
            let mut bind = tx.prepare_cached(
                "INSERT OR REPLACE INTO bindings
                     (aor, contact, instance, expires_at, call_id, cseq, path)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for b in &r.bind {
                bind.execute(params![
                    b.aor,
                    b.contact,
                    b.instance,
                    b.expires_at as i64,
                    b.call_id,
                    b.cseq,
                    path_text(&b.path)
                ])?;
            }
            let mut unschedule = tx.prepare_cached("DELETE FROM conferences WHERE focus = ?1")?;
            for focus in &r.unschedule {
                unschedule.execute(params![focus])?;
            }
            let mut schedule = tx.prepare_cached(
                "INSERT OR REPLACE INTO conferences (focus, info, key, expires_at)
                 VALUES (?1, ?2, ?3, ?4)",
            )?;
            for c in &r.schedule {
                schedule.execute(params![c.focus, c.info, &c.key[..], c.expires_at as i64])?;
            }
            let mut roaming = tx.prepare_cached(
                "INSERT OR REPLACE INTO roaming (aor, contacts, data) VALUES (?1, ?2, ?3)",
            )?;
            for (aor, contacts, data) in &r.roaming {
                roaming.execute(params![aor, contacts, data])?;
            }
        }
        Ok(tx.commit()?)
    }
}

/// Copies the write-ahead log into the database file without blocking writers (a PASSIVE
/// checkpoint), on a connection of its own: call it now and then from another thread.
///
/// # Errors
/// SQLite's.
pub fn checkpoint(path: &Path) -> rusqlite::Result<()> {
    let db = Connection::open(path)?;
    db.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clear_passwords_of_an_old_database_become_hashes() {
        let dir = std::env::temp_dir().join(format!("ocs-store-migrate-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ocs.sqlite3");
        {
            let old = Connection::open(&path).unwrap();
            old.execute_batch(
                "CREATE TABLE users (name TEXT PRIMARY KEY, password TEXT NOT NULL,
                     display TEXT NOT NULL DEFAULT '');
                 INSERT INTO users VALUES ('alice', 'Secret-Passw0rd', 'Alice');",
            )
            .unwrap();
        }
        let mut s = Sqlite::open(&path).unwrap();
        assert_eq!(s.hash_clear_passwords("contoso.com").unwrap(), 1);
        assert_eq!(s.hash_clear_passwords("contoso.com").unwrap(), 0, "once");
        let users = s.users().unwrap();
        assert_eq!(
            users[0].secrets,
            Secrets::new("alice", "contoso.com", "Secret-Passw0rd")
        );
        // RFC 7616 §3.9.1's H(A1) form: MD5("alice:contoso.com:Secret-Passw0rd").
        assert_eq!(users[0].secrets.ha1_md5.len(), 32);
        drop(s);
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(15).any(|w| w == b"Secret-Passw0rd"),
            "no clear password left in the file"
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the database is the owner's only");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
