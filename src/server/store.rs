//! Persistence in SQLite (the bundled library, through rusqlite): users, registrations and
//! their expiry, scheduled conferences and their expiry, contact lists and roaming data, and the Address Book Server's history
//! (each day's book and the files published from it). Writes arrive in batches and each batch is one transaction, committed before the
//! engine is told (and only then acknowledges them to the network). WAL journal with
//! `synchronous=NORMAL`: a killed process loses nothing committed.

use std::path::Path;

use rusqlite::{Connection, params};

use super::sip::{Binding, StoreOp, StoredConference};

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user part of the address of record.
    pub name: String,
    /// What is kept of the password: never the password itself.
    pub secrets: Secrets,
    /// The display name.
    pub display: String,
}

/// What the server keeps of a password: the Digest H(A1) for its realm (salted by user and
/// realm; RFC 7616 §3.4.2) for each algorithm it may offer, and the NT hash NTLM needs
/// ([MS-NLMP] 3.3.1 NTOWFv1; NTLM has no salted form).
#[derive(Clone, PartialEq, Eq)]
pub struct Secrets {
    /// The realm the H(A1)s are for (the SIP domain).
    pub realm: String,
    /// H(user:realm:password) with MD5, hex.
    pub ha1_md5: String,
    /// With SHA-256, hex.
    pub ha1_sha256: String,
    /// With SHA-512/256, hex.
    pub ha1_sha512_256: String,
    /// MD4 of the UTF-16LE password.
    pub nt_hash: [u8; 16],
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("realm", &self.realm)
            .finish_non_exhaustive()
    }
}

impl Secrets {
    /// The secrets of `user` with `password` in `realm`.
    #[must_use]
    pub fn new(user: &str, realm: &str, password: &str) -> Secrets {
        use crate::sip::digest::{Algorithm, ha1};
        Secrets {
            realm: realm.to_owned(),
            ha1_md5: ha1(Algorithm::Md5, user, realm, password),
            ha1_sha256: ha1(Algorithm::Sha256, user, realm, password),
            ha1_sha512_256: ha1(Algorithm::Sha512_256, user, realm, password),
            nt_hash: crate::sip::ntlm::Credentials::new(user, "", password).nt_hash(),
        }
    }

    /// The H(A1) for `realm` and a plain algorithm, if it is this realm's.
    #[must_use]
    pub fn ha1(&self, realm: &str, algorithm: crate::sip::digest::Algorithm) -> Option<String> {
        use crate::sip::digest::Algorithm;
        if realm != self.realm {
            return None;
        }
        Some(match algorithm {
            Algorithm::Md5 => self.ha1_md5.clone(),
            Algorithm::Sha256 => self.ha1_sha256.clone(),
            Algorithm::Sha512_256 => self.ha1_sha512_256.clone(),
            _ => return None,
        })
    }
}

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

/// The database.
#[derive(Debug)]
pub struct Store {
    db: Connection,
}

impl Store {
    /// Opens (creating when needed) the database at `path`.
    ///
    /// # Errors
    /// SQLite's.
    pub fn open(path: &Path) -> rusqlite::Result<Store> {
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
    pub fn in_memory() -> rusqlite::Result<Store> {
        Self::setup(Connection::open_in_memory()?)
    }

    fn setup(db: Connection) -> rusqlite::Result<Store> {
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
                 PRIMARY KEY (aor, contact));
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
        Ok(Store { db })
    }

    /// Adds a user unless one by that name exists; whether it was added.
    ///
    /// # Errors
    /// SQLite's.
    pub fn add_user(&self, u: &User) -> rusqlite::Result<bool> {
        insert_user(&self.db, u).map(|n| n == 1)
    }

    /// A database of an earlier version kept passwords in clear (a `password` column): they
    /// are replaced by their [`Secrets`] for `realm`, in one transaction. How many users were
    /// converted.
    ///
    /// # Errors
    /// SQLite's.
    pub fn hash_clear_passwords(&mut self, realm: &str) -> rusqlite::Result<usize> {
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

    /// Every user.
    ///
    /// # Errors
    /// SQLite's.
    pub fn users(&self) -> rusqlite::Result<Vec<User>> {
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
        rows.collect()
    }

    /// Every binding not expired at `now` (Unix seconds); the expired ones are deleted.
    ///
    /// # Errors
    /// SQLite's.
    pub fn bindings(&self, now: u64) -> rusqlite::Result<Vec<Binding>> {
        self.db.execute(
            "DELETE FROM bindings WHERE expires_at <= ?1",
            params![now as i64],
        )?;
        let mut st = self
            .db
            .prepare("SELECT aor, contact, instance, expires_at, call_id, cseq FROM bindings")?;
        let rows = st.query_map([], |r| {
            Ok(Binding {
                aor: r.get(0)?,
                contact: r.get(1)?,
                instance: r.get(2)?,
                expires_at: r.get::<_, i64>(3)? as u64,
                call_id: r.get(4)?,
                cseq: r.get(5)?,
                flow: None,
            })
        })?;
        rows.collect()
    }

    /// Every user's contact list and roaming data: (AOR, `contactList`, `roamingData`).
    ///
    /// # Errors
    /// SQLite's.
    pub fn roaming(&self) -> rusqlite::Result<Vec<(String, String, String)>> {
        let mut st = self
            .db
            .prepare("SELECT aor, contacts, data FROM roaming ORDER BY aor")?;
        let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect()
    }

    /// Every conference not expired at `now` (Unix seconds); the expired ones are deleted.
    ///
    /// # Errors
    /// SQLite's.
    pub fn conferences(&self, now: u64) -> rusqlite::Result<Vec<StoredConference>> {
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
        rows.collect()
    }

    /// The address books kept, oldest first: (day, the full `.lsabs` file of that day).
    ///
    /// # Errors
    /// SQLite's.
    pub fn abs_days(&self) -> rusqlite::Result<Vec<(u16, Vec<u8>)>> {
        let mut st = self
            .db
            .prepare("SELECT day, book FROM abs_days ORDER BY day")?;
        let rows = st.query_map([], |r| Ok((r.get::<_, u16>(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// The published address-book files: (name, bytes, publication time in Unix seconds).
    ///
    /// # Errors
    /// SQLite's.
    pub fn abs_files(&self) -> rusqlite::Result<Vec<(String, Vec<u8>, u64)>> {
        let mut st = self
            .db
            .prepare("SELECT name, body, published FROM abs_files ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get::<_, i64>(2)? as u64))
        })?;
        rows.collect()
    }

    /// Records one day's publication in one transaction: its book, the files written, the
    /// files and days that left the retention window.
    ///
    /// # Errors
    /// SQLite's; nothing is recorded then.
    pub fn publish_abs(
        &mut self,
        day: u16,
        book: &[u8],
        write: &[(String, u16, Vec<u8>)],
        remove: &[String],
        oldest_day: u16,
        now: u64,
    ) -> rusqlite::Result<()> {
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
        tx.commit()
    }

    /// Applies a batch of writes in one transaction.
    ///
    /// # Errors
    /// SQLite's; nothing of the batch is applied then.
    pub fn apply(&mut self, ops: &[StoreOp]) -> rusqlite::Result<()> {
        let tx = self.db.transaction()?;
        {
            let mut bind = tx.prepare_cached(
                "INSERT OR REPLACE INTO bindings (aor, contact, instance, expires_at, call_id, cseq)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut unbind =
                tx.prepare_cached("DELETE FROM bindings WHERE aor = ?1 AND contact = ?2")?;
            for op in ops {
                match op {
                    StoreOp::Bind(b) => {
                        bind.execute(params![
                            b.aor,
                            b.contact,
                            b.instance,
                            b.expires_at as i64,
                            b.call_id,
                            b.cseq
                        ])?;
                    }
                    StoreOp::Unbind { aor, contact } => {
                        unbind.execute(params![aor, contact])?;
                    }
                    StoreOp::Schedule {
                        conference: Some(c),
                        ..
                    } => {
                        tx.execute(
                            "INSERT OR REPLACE INTO conferences (focus, info, key, expires_at)
                             VALUES (?1, ?2, ?3, ?4)",
                            params![c.focus, c.info, &c.key[..], c.expires_at as i64],
                        )?;
                    }
                    StoreOp::Schedule {
                        focus,
                        conference: None,
                    } => {
                        tx.execute("DELETE FROM conferences WHERE focus = ?1", params![focus])?;
                    }
                    StoreOp::Roaming {
                        aor,
                        contacts,
                        data,
                    } => {
                        tx.prepare_cached(
                            "INSERT OR REPLACE INTO roaming (aor, contacts, data) VALUES (?1, ?2, ?3)",
                        )?
                        .execute(params![aor, contacts, data])?;
                    }
                }
            }
        }
        tx.commit()
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
    fn users_and_bindings_round_trip() {
        let mut s = Store::in_memory().unwrap();
        let alice = User {
            name: "alice".into(),
            secrets: Secrets::new("alice", "contoso.com", "pw"),
            display: "Alice".into(),
        };
        assert!(s.add_user(&alice).unwrap());
        assert!(!s.add_user(&alice).unwrap(), "not twice");
        assert_eq!(s.users().unwrap(), [alice]);
        let b = Binding {
            aor: "sip:alice@contoso.com".into(),
            contact: "sip:alice@192.0.2.1:5060".into(),
            instance: Some("\"<urn:uuid:1>\"".into()),
            expires_at: 1000,
            call_id: "c".into(),
            cseq: 2,
            flow: None,
        };
        let old = Binding {
            contact: "sip:alice@192.0.2.2".into(),
            expires_at: 10,
            ..b.clone()
        };
        s.apply(&[StoreOp::Bind(b.clone()), StoreOp::Bind(old)])
            .unwrap();
        assert_eq!(
            s.bindings(500).unwrap(),
            std::slice::from_ref(&b),
            "the expired one is gone"
        );
        s.apply(&[StoreOp::Unbind {
            aor: b.aor.clone(),
            contact: b.contact.clone(),
        }])
        .unwrap();
        assert!(s.bindings(500).unwrap().is_empty());
    }

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
        let mut s = Store::open(&path).unwrap();
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

    #[test]
    fn conferences_and_address_books_round_trip() {
        let mut s = Store::in_memory().unwrap();
        let c = StoredConference {
            focus: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:DESIGN01".into(),
            info: "<conference-info/>".into(),
            key: [7; 16],
            expires_at: 2000,
        };
        let old = StoredConference {
            focus: "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:OLDONE01".into(),
            expires_at: 100,
            ..c.clone()
        };
        s.apply(&[
            StoreOp::Schedule {
                focus: c.focus.clone(),
                conference: Some(c.clone()),
            },
            StoreOp::Schedule {
                focus: old.focus.clone(),
                conference: Some(old.clone()),
            },
        ])
        .unwrap();
        assert_eq!(
            s.conferences(500).unwrap(),
            std::slice::from_ref(&c),
            "expired: purged"
        );
        s.apply(&[StoreOp::Schedule {
            focus: c.focus.clone(),
            conference: None,
        }])
        .unwrap();
        assert!(s.conferences(500).unwrap().is_empty());

        let files = |d: u16| vec![(format!("F-{d:04X}.lsabs"), d, vec![d as u8])];
        s.publish_abs(10, b"ten", &files(10), &[], 0, 1).unwrap();
        s.publish_abs(11, b"eleven", &files(11), &["F-000A.lsabs".into()], 11, 2)
            .unwrap();
        assert_eq!(s.abs_days().unwrap(), [(11, b"eleven".to_vec())]);
        assert_eq!(
            s.abs_files().unwrap(),
            [("F-000B.lsabs".to_owned(), vec![11], 2)]
        );
    }
}
