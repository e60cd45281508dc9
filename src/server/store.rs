//! Persistence in SQLite (the bundled library, through rusqlite): users, registrations and
//! their expiry. Writes arrive in batches and each batch is one transaction, committed before the
//! engine is told (and only then acknowledges them to the network). WAL journal with
//! `synchronous=NORMAL`: a killed process loses nothing committed.

use std::path::Path;

use rusqlite::{Connection, params};

use super::sip::{Binding, StoreOp};

/// A user of the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user part of the address of record.
    pub name: String,
    /// The password (Digest and NTLM need it, or a hash derived from it).
    pub password: String,
    /// The display name.
    pub display: String,
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
        db.execute_batch(
            "CREATE TABLE IF NOT EXISTS users (
                 name TEXT PRIMARY KEY, password TEXT NOT NULL, display TEXT NOT NULL DEFAULT '');
             CREATE TABLE IF NOT EXISTS bindings (
                 aor TEXT NOT NULL, contact TEXT NOT NULL, instance TEXT,
                 expires_at INTEGER NOT NULL, call_id TEXT NOT NULL, cseq INTEGER NOT NULL,
                 PRIMARY KEY (aor, contact));",
        )?;
        Ok(Store { db })
    }

    /// Adds a user unless one by that name exists; whether it was added.
    ///
    /// # Errors
    /// SQLite's.
    pub fn add_user(&self, u: &User) -> rusqlite::Result<bool> {
        let n = self.db.execute(
            "INSERT OR IGNORE INTO users (name, password, display) VALUES (?1, ?2, ?3)",
            params![u.name, u.password, u.display],
        )?;
        Ok(n == 1)
    }

    /// Every user.
    ///
    /// # Errors
    /// SQLite's.
    pub fn users(&self) -> rusqlite::Result<Vec<User>> {
        let mut st = self
            .db
            .prepare("SELECT name, password, display FROM users ORDER BY name")?;
        let rows = st.query_map([], |r| {
            Ok(User {
                name: r.get(0)?,
                password: r.get(1)?,
                display: r.get(2)?,
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
            password: "pw".into(),
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
}
