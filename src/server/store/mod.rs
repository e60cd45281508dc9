//! Persistence: users (what is kept of their passwords), registrations and their expiry,
//! scheduled conferences, contact lists and roaming data, and the Address Book Server's
//! history. One interface, [`Store`], with two implementations:
//!
//! | backend | for | where |
//! |---|---|---|
//! | [`Sqlite`] | one server (OCS Standard Edition): the embedded default | `ocs.sqlite3` in the data directory |
//! | `Postgres` (feature `postgres`) | a pool of front ends sharing one back end (Enterprise Edition) | `database = "postgresql://…"` |
//!
//! Writes arrive in batches and each batch is one transaction, committed before the engine is
//! told (and only then acknowledges them to the network): what a client was told is stored
//! survives a crash of the server, with either backend. Every call blocks: the runtime makes
//! them on a thread of the store's own, never in the engine's task.
//!
//! ```
//! use ocs_stack::server::store::{Secrets, Sqlite, Store, User};
//! let mut db = Sqlite::in_memory()?;
//! db.add_user(&User {
//!     name: "alice".into(),
//!     secrets: Secrets::new("alice", "contoso.com", "Passw0rd"),
//!     display: "Alice".into(),
//! })?;
//! assert_eq!(db.users()?[0].display, "Alice");
//! # Ok::<(), ocs_stack::server::store::Error>(())
//! ```

#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;

#[cfg(feature = "postgres")]
pub use postgres::{MIGRATIONS, Postgres};
pub use sqlite::{Sqlite, checkpoint};

use super::sip::{Binding, StoreOp, StoredConference};

/// What a store could not do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// SQLite refused.
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL refused, or the connection failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] ::postgres::Error),
    /// The database is of a schema version newer than this build knows.
    #[error("the database's schema is version {found}; this build knows up to {known}")]
    SchemaTooNew {
        /// The newest version applied to the database.
        found: i32,
        /// The newest this build has.
        known: i32,
    },
    /// A location this build cannot open (a PostgreSQL URL without the `postgres` feature, a
    /// remote host without TLS).
    #[error("{0}")]
    Unsupported(String),
}

/// The persistence interface the server runs on: see the [module documentation](self).
pub trait Store: Send {
    /// Adds a user unless one by that name exists; whether it was added.
    ///
    /// # Errors
    /// The database's.
    fn add_user(&mut self, u: &User) -> Result<bool, Error>;

    /// A database of an earlier version kept passwords in clear: they are replaced by their
    /// [`Secrets`] for `realm`, in one transaction. How many users were converted.
    ///
    /// # Errors
    /// The database's.
    fn hash_clear_passwords(&mut self, realm: &str) -> Result<usize, Error>;

    /// Every user, by name.
    ///
    /// # Errors
    /// The database's.
    fn users(&mut self) -> Result<Vec<User>, Error>;

    /// Every binding not expired at `now` (Unix seconds); the expired ones are deleted.
    ///
    /// # Errors
    /// The database's.
    fn bindings(&mut self, now: u64) -> Result<Vec<Binding>, Error>;

    /// Every user's contact list and roaming data: (AOR, `contactList`, `roamingData`).
    ///
    /// # Errors
    /// The database's.
    fn roaming(&mut self) -> Result<Vec<(String, String, String)>, Error>;

    /// Every conference not expired at `now` (Unix seconds); the expired ones are deleted.
    ///
    /// # Errors
    /// The database's.
    fn conferences(&mut self, now: u64) -> Result<Vec<StoredConference>, Error>;

    /// The address books kept, oldest first: (day, the full `.lsabs` file of that day).
    ///
    /// # Errors
    /// The database's.
    fn abs_days(&mut self) -> Result<Vec<(u16, Vec<u8>)>, Error>;

    /// The published address-book files: (name, bytes, publication time in Unix seconds).
    ///
    /// # Errors
    /// The database's.
    fn abs_files(&mut self) -> Result<Vec<(String, Vec<u8>, u64)>, Error>;

    /// Records one day's publication in one transaction.
    ///
    /// # Errors
    /// The database's; nothing is recorded then.
    fn publish_abs(&mut self, publication: &AbsPublication<'_>) -> Result<(), Error>;

    /// Applies a batch of writes in one transaction.
    ///
    /// # Errors
    /// The database's; nothing of the batch is applied then.
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error>;

    /// Each stored conference's owner: the front end that wrote it last (a store shared by a
    /// pool; none by default).
    ///
    /// # Errors
    /// The database's.
    fn conference_owners(&mut self) -> Result<Vec<(String, Option<String>)>, Error> {
        Ok(Vec::new())
    }

    /// Names the front end whose writes these are, for a store shared by a pool (its
    /// announcements of changed bindings say who made them). Nothing by default.
    fn set_node(&mut self, _node: &str) {}
}

/// One day's address-book publication ([`Store::publish_abs`]).
#[derive(Debug, Clone, Copy)]
pub struct AbsPublication<'a> {
    /// The day (days since the [MS-ABS] epoch).
    pub day: u16,
    /// That day's full book.
    pub book: &'a [u8],
    /// The files written: name, day, bytes.
    pub write: &'a [(String, u16, Vec<u8>)],
    /// The files that left the retention window.
    pub remove: &'a [String],
    /// Days before this one are forgotten.
    pub oldest_day: u16,
    /// The publication time, Unix seconds.
    pub now: u64,
}

/// Where the data lives: the `database` setting of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite file (the default: `ocs.sqlite3` in the data directory).
    Sqlite(std::path::PathBuf),
    /// A PostgreSQL connection string: a URL (`postgresql://user@host/db`) or key=value
    /// pairs (`host=/var/run/postgresql dbname=ocs`).
    Postgres(String),
}

impl Location {
    /// The location named by the `database` setting (`None`: SQLite in `data_dir`).
    #[must_use]
    pub fn from_setting(database: Option<&str>, data_dir: &std::path::Path) -> Location {
        match database.map(str::trim) {
            None | Some("" | "sqlite") => Location::Sqlite(data_dir.join("ocs.sqlite3")),
            Some(s) if s.starts_with("sqlite:") => {
                Location::Sqlite(std::path::PathBuf::from(&s["sqlite:".len()..]))
            }
            Some(s) => Location::Postgres(s.to_owned()),
        }
    }

    /// Opens it (creating the schema, or migrating it, when needed).
    ///
    /// # Errors
    /// The database's, or [`Error::Unsupported`].
    pub fn open(&self) -> Result<Box<dyn Store>, Error> {
        match self {
            Location::Sqlite(path) => Ok(Box::new(Sqlite::open(path)?)),
            #[cfg(feature = "postgres")]
            Location::Postgres(config) => Ok(Box::new(Postgres::connect(config)?)),
            #[cfg(not(feature = "postgres"))]
            Location::Postgres(_) => Err(Error::Unsupported(
                "a PostgreSQL database needs a build with the `postgres` feature".into(),
            )),
        }
    }

    /// What to log of it: the path, or the connection string without its password.
    #[must_use]
    pub fn redacted(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(s) => redact(s),
        }
    }
}

/// A connection string with its password replaced by `***` (URL or key=value form). It errs
/// on the side of hiding: in a URL everything between the user's `:` and the last `@`, in
/// key=value pairs the whole value after `password`, quoted or not.
fn redact(s: &str) -> String {
    if let Some(rest) = s
        .strip_prefix("postgresql://")
        .or_else(|| s.strip_prefix("postgres://"))
    {
        let scheme = &s[..s.len() - rest.len()];
        let mut out = match rest.rfind('@') {
            Some(at) => match rest[..at].find(':') {
                Some(colon) => format!("{scheme}{}:***{}", &rest[..colon], &rest[at..]),
                None => s.to_owned(),
            },
            None => s.to_owned(),
        };
        // A password may also come as a query parameter.
        if let Some(q) = out.find('?') {
            let (head, query) = out.split_at(q + 1);
            let query: Vec<String> = query
                .split('&')
                .map(|kv| {
                    if kv.to_ascii_lowercase().starts_with("password=") {
                        "password=***".to_owned()
                    } else {
                        kv.to_owned()
                    }
                })
                .collect();
            out = format!("{head}{}", query.join("&"));
        }
        return out;
    }
    let lower = s.to_ascii_lowercase();
    let Some(k) = lower.find("password") else {
        return s.to_owned();
    };
    let b = s.as_bytes();
    let mut i = k + "password".len();
    while i < b.len() && (b[i] == b' ' || b[i] == b'=') {
        i += 1;
    }
    let end = if b.get(i) == Some(&b'\'') {
        // A quoted value ends at the next unescaped quote.
        let mut j = i + 1;
        while j < b.len() && !(b[j] == b'\'' && b[j - 1] != b'\\') {
            j += 1;
        }
        (j + 1).min(b.len())
    } else {
        let mut j = i;
        while j < b.len() && b[j] != b' ' {
            j += 1;
        }
        j
    };
    // What follows may name another password: redact it too.
    format!("{}password=***{}", &s[..k], redact(&s[end..]))
}

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

/// A batch reduced to the last write of each row: every [`StoreOp`] sets its row whole (an
/// upsert) or deletes it, so only the last one per key counts. Set-at-a-time backends write
/// each kind in one statement from this.
#[derive(Debug, Default)]
pub(crate) struct Reduced<'a> {
    /// Bindings to upsert, by (AOR, contact).
    pub(crate) bind: Vec<&'a Binding>,
    /// Bindings to delete: (AOR, contact).
    pub(crate) unbind: Vec<(&'a str, &'a str)>,
    /// Conferences to upsert.
    pub(crate) schedule: Vec<&'a StoredConference>,
    /// Conferences to delete, by focus URI.
    pub(crate) unschedule: Vec<&'a str>,
    /// Roaming rows to upsert: (AOR, contacts, data).
    pub(crate) roaming: Vec<(&'a str, &'a str, &'a str)>,
}

impl<'a> Reduced<'a> {
    /// The last write per row of `ops`, in the order the rows were first written.
    pub(crate) fn of(ops: &'a [StoreOp]) -> Reduced<'a> {
        use std::collections::HashMap;
        #[derive(PartialEq, Eq, Hash)]
        enum Key<'k> {
            Binding(&'k str, &'k str),
            Conference(&'k str),
            Roaming(&'k str),
        }
        let mut last: HashMap<Key<'a>, usize> = HashMap::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let key = match op {
                StoreOp::Bind(b) => Key::Binding(&b.aor, &b.contact),
                StoreOp::Unbind { aor, contact } => Key::Binding(aor, contact),
                StoreOp::Schedule { focus, .. } => Key::Conference(focus),
                StoreOp::Roaming { aor, .. } => Key::Roaming(aor),
            };
            last.insert(key, i);
        }
        let mut keep: Vec<usize> = last.into_values().collect();
        keep.sort_unstable();
        let mut r = Reduced::default();
        for i in keep {
            match &ops[i] {
                StoreOp::Bind(b) => r.bind.push(b),
                StoreOp::Unbind { aor, contact } => r.unbind.push((aor, contact)),
                StoreOp::Schedule {
                    conference: Some(c),
                    ..
                } => r.schedule.push(c),
                StoreOp::Schedule {
                    focus,
                    conference: None,
                } => r.unschedule.push(focus),
                StoreOp::Roaming {
                    aor,
                    contacts,
                    data,
                } => r.roaming.push((aor, contacts, data)),
            }
        }
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_not_logged() {
        let url = Location::Postgres("postgresql://ocs:s3cret@db.example.com:5432/ocs".into());
        assert_eq!(
            url.redacted(),
            "postgresql://ocs:***@db.example.com:5432/ocs"
        );
        let kv = Location::Postgres("host=db user=ocs password=s3cret dbname=ocs".into());
        assert_eq!(kv.redacted(), "host=db user=ocs password=*** dbname=ocs");
        let quoted = Location::Postgres("host=db password = 'a b\\' c' dbname=ocs".into());
        assert_eq!(quoted.redacted(), "host=db password=*** dbname=ocs");
        let slash =
            Location::Postgres("postgresql://u:p/w@h@db/ocs?password=x&sslmode=disable".into());
        assert_eq!(
            slash.redacted(),
            "postgresql://u:***@db/ocs?password=***&sslmode=disable"
        );
        let plain = Location::Postgres("postgresql://ocs@localhost/ocs".into());
        assert_eq!(plain.redacted(), "postgresql://ocs@localhost/ocs");
        assert_eq!(
            Location::from_setting(None, std::path::Path::new("/d")),
            Location::Sqlite("/d/ocs.sqlite3".into())
        );
        assert_eq!(
            Location::from_setting(Some("sqlite:/x.db"), std::path::Path::new("/d")),
            Location::Sqlite("/x.db".into())
        );
    }

    #[test]
    fn a_batch_keeps_the_last_write_of_each_row() {
        let b = |contact: &str, expires_at| Binding {
            aor: "sip:alice@contoso.com".into(),
            contact: contact.into(),
            instance: None,
            expires_at,
            call_id: "c".into(),
            cseq: 1,
            flow: None,
            path: Vec::new(),
        };
        let ops = [
            StoreOp::Bind(b("sip:a@192.0.2.1", 10)),
            StoreOp::Bind(b("sip:a@192.0.2.2", 10)),
            StoreOp::Unbind {
                aor: "sip:alice@contoso.com".into(),
                contact: "sip:a@192.0.2.1".into(),
            },
            StoreOp::Bind(b("sip:a@192.0.2.2", 20)),
            StoreOp::Schedule {
                focus: "f".into(),
                conference: None,
            },
        ];
        let r = Reduced::of(&ops);
        assert_eq!(r.unbind, [("sip:alice@contoso.com", "sip:a@192.0.2.1")]);
        assert_eq!(r.bind.len(), 1);
        assert_eq!(r.bind[0].expires_at, 20, "the later write of the row");
        assert_eq!(r.unschedule, ["f"]);
        assert!(r.schedule.is_empty() && r.roaming.is_empty());
    }
}
