//! The Address Book Server: each day's address book built from the user directory, published
//! with `ocs-http-focus`'s [`AbsDirectory`] (the full file, deltas and compact deltas from
//! every kept day, `.lsabs` and `.dabs`), kept in the store (the books and the files), and served
//! over HTTP by [`super::web`] with ETags, conditional GET and ranges.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use sha2::Digest as _;

use super::store::{AbsPublication, Store, User};
use crate::http::abs::{
    AbsDirectory, AbsError, AbsFile, Attribute, Change, Contact, FileKind, Header, Value,
    day_from_unix,
};

/// Days kept (OCS 2007 keeps 30).
pub const RETAIN_DAYS: u16 = 30;

/// Published files by lower-case name: the bytes and the publication time (Unix seconds).
pub type Files = Arc<RwLock<HashMap<String, (Bytes, u64)>>>;

/// The attribute table of our books: (id, flags, Active Directory name). Flags carry the
/// client field in the high byte ([MS-ABS] 2.1.4) and the string type (0) in the low byte.
const ATTRIBUTES: [(u16, u32, &str); 4] = [
    (1, 0x0300_0000, "displayName"),
    (2, 0x0500_0000, "mailNickname"),
    (3, 0x0800_0000, "msRTCSIP-PrimaryUserAddress"),
    (4, 0x0E00_0000, "mail"),
];

/// The address book of `day` for these users: one contact per user, identified across days
/// by a GUID derived from the user name.
#[must_use]
pub fn book(users: &[User], domain: &str, day: u16) -> AbsFile {
    let contacts = users
        .iter()
        .map(|u| {
            let mut guid = [0u8; 16];
            guid.copy_from_slice(&sha2::Sha256::digest(u.name.as_bytes())[..16]);
            let display = if u.display.is_empty() {
                u.name.clone()
            } else {
                u.display.clone()
            };
            Contact {
                guid,
                change: Change::Present,
                values: vec![
                    (1, Value::String(display)),
                    (2, Value::String(u.name.clone())),
                    (3, Value::String(format!("sip:{}@{domain}", u.name))),
                    (4, Value::String(format!("{}@{domain}", u.name))),
                ],
            }
        })
        .collect();
    AbsFile {
        header: Header::new(FileKind::Full, day, day),
        normalization_rules: Vec::new(),
        attributes: ATTRIBUTES
            .iter()
            .map(|&(id, flags, name)| Attribute {
                id,
                flags,
                name: name.into(),
            })
            .collect(),
        contacts,
    }
}

/// The publisher: the directory of kept days and the files being served.
#[derive(Debug)]
pub struct AddressBook {
    dir: AbsDirectory,
    files: Files,
}

impl AddressBook {
    /// Loads what the store kept: the books of the kept days (the directory rebuilt from them)
    /// and the published files.
    ///
    /// # Errors
    /// The store's, or a stored book that does not parse.
    pub fn load(store: &mut dyn Store) -> Result<AddressBook, String> {
        let mut dir = AbsDirectory::new(RETAIN_DAYS);
        for (day, bytes) in store.abs_days().map_err(|e| e.to_string())? {
            let f = AbsFile::parse(&bytes).map_err(|e| format!("stored book {day:04X}: {e}"))?;
            dir.publish(&f)
                .map_err(|e| format!("stored book {day:04X}: {e}"))?;
        }
        let files = store
            .abs_files()
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|(name, body, at)| (name.to_ascii_lowercase(), (Bytes::from(body), at)))
            .collect();
        Ok(AddressBook {
            dir,
            files: Arc::new(RwLock::new(files)),
        })
    }

    /// The files, shared with the HTTP server.
    #[must_use]
    pub fn files(&self) -> Files {
        self.files.clone()
    }

    /// Publishes today's book (`now` in Unix seconds) unless it is out already: the files are
    /// committed to the store, then served. Returns the names written.
    ///
    /// # Errors
    /// A book that cannot be written, or the store's.
    pub fn publish(
        &mut self,
        store: &mut dyn Store,
        users: &[User],
        domain: &str,
        now: u64,
    ) -> Result<Vec<String>, String> {
        let Some(day) = day_from_unix(now) else {
            return Ok(Vec::new());
        };
        if self.dir.newest().is_some_and(|d| d >= day) {
            return Ok(Vec::new());
        }
        let full = book(users, domain, day);
        let p = self
            .dir
            .publish(&full)
            .map_err(|e: AbsError| e.to_string())?;
        let book_bytes = full.to_bytes().map_err(|e| e.to_string())?;
        let write: Vec<(String, u16, Vec<u8>)> = p
            .write
            .iter()
            .map(|(n, b)| (n.to_string(), n.day, b.clone()))
            .collect();
        let remove: Vec<String> = p.remove.iter().map(ToString::to_string).collect();
        store
            .publish_abs(&AbsPublication {
                day,
                book: &book_bytes,
                write: &write,
                remove: &remove,
                oldest_day: day.saturating_sub(RETAIN_DAYS - 1),
                now,
            })
            .map_err(|e| e.to_string())?;
        let mut files = self.files.write().map_err(|e| e.to_string())?;
        for name in &remove {
            files.remove(&name.to_ascii_lowercase());
        }
        let names = write.iter().map(|(n, _, _)| n.clone()).collect();
        for (name, _, body) in write {
            files.insert(name.to_ascii_lowercase(), (Bytes::from(body), now));
        }
        Ok(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::abs::{EPOCH_UNIX, apply};

    fn users(n: usize) -> Vec<User> {
        (0..n)
            .map(|i| User {
                name: format!("user{i}"),
                secrets: crate::server::store::Secrets::new(
                    &format!("user{i}"),
                    "contoso.com",
                    "pw",
                ),
                display: format!("User {i}"),
            })
            .collect()
    }

    #[test]
    fn days_publish_deltas_that_apply_and_survive_a_reload() {
        let mut store = crate::server::store::Sqlite::in_memory().unwrap();
        let mut ab = AddressBook::load(&mut store).unwrap();
        let day0 = EPOCH_UNIX + 0x0A10 * 86_400;
        let names = ab
            .publish(&mut store, &users(2), "contoso.com", day0)
            .unwrap();
        assert_eq!(names, ["F-0A10.lsabs", "F-0A10.dabs"]);
        assert!(
            ab.publish(&mut store, &users(2), "contoso.com", day0 + 60)
                .unwrap()
                .is_empty(),
            "once a day"
        );
        let names = ab
            .publish(&mut store, &users(3), "contoso.com", day0 + 86_400)
            .unwrap();
        assert!(names.contains(&"D-0A10-0A11.lsabs".to_owned()), "{names:?}");
        // The delta takes Monday's book to Tuesday's.
        let files = ab.files();
        let get = |n: &str| {
            let f = files.read().unwrap();
            AbsFile::parse(&f[&n.to_ascii_lowercase()].0).unwrap()
        };
        let monday = get("F-0A10.lsabs");
        let tuesday = get("F-0A11.lsabs");
        assert_eq!(apply(&monday, &get("D-0A10-0A11.lsabs")).unwrap(), tuesday);
        assert_eq!(tuesday.contacts.len(), 3);
        // What the store kept gives the same files and directory after a restart.
        let again = AddressBook::load(&mut store).unwrap();
        assert_eq!(
            again.files().read().unwrap().len(),
            files.read().unwrap().len()
        );
        assert_eq!(again.dir.newest(), Some(0x0A11));
    }
}
