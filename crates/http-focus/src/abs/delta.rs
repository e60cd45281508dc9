//! Deltas: computing them from two full files, and applying them ([MS-ABS] 1.3: a client that
//! has day XXXX and applies D-XXXX-YYYY has day YYYY).

use std::collections::BTreeMap;

use super::{AbsError, AbsFile, Attribute, Change, Contact, FileKind, Header, Value};

/// A contact's values by attribute name, empty values left out (they mean "absent").
type Named = BTreeMap<String, Value>;

fn named(attributes: &[Attribute], values: &[(u8, Value)]) -> Named {
    values
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .filter_map(|(id, v)| {
            let a = attributes.iter().find(|a| a.id == u16::from(*id))?;
            Some((a.name.clone(), v.clone()))
        })
        .collect()
}

fn contacts_by_guid(file: &AbsFile) -> BTreeMap<[u8; 16], Named> {
    file.contacts
        .iter()
        .map(|c| (c.guid, named(&file.attributes, &c.values)))
        .collect()
}

/// Values by name back to (Id, value) in `attributes`, in Id order; names the table lacks, and
/// values whose type is not the attribute's, are dropped.
fn numbered(attributes: &[Attribute], values: &Named) -> Vec<(u8, Value)> {
    let mut out: Vec<(u8, Value)> = values
        .iter()
        .filter_map(|(name, v)| {
            let a = attributes.iter().find(|a| &a.name == name)?;
            let id = u8::try_from(a.id).ok()?;
            (a.kind() == Some(v.kind())).then(|| (id, v.clone()))
        })
        .collect();
    out.sort_by_key(|(id, _)| *id);
    out
}

fn full_file(like: &AbsFile, day: u16, contacts: &BTreeMap<[u8; 16], Named>) -> AbsFile {
    AbsFile {
        header: Header {
            kind: FileKind::Full,
            base_day: day,
            day,
            use_normalization_rules: like.header.use_normalization_rules,
            source_stream: [0; 128],
        },
        normalization_rules: like.normalization_rules.clone(),
        attributes: like.attributes.clone(),
        contacts: contacts
            .iter()
            .map(|(guid, values)| Contact {
                guid: *guid,
                change: Change::Present,
                values: numbered(&like.attributes, values),
            })
            .collect(),
    }
}

impl AbsFile {
    /// A full file in the form this crate writes: contacts in GUID order, values in Id order,
    /// empty values and values the table cannot carry left out, SourceStream zero. Applying a
    /// delta gives exactly this form of the next day's file.
    ///
    /// # Errors
    /// [`AbsError::Sequence`] if this is not a full file.
    pub fn normalized(&self) -> Result<AbsFile, AbsError> {
        if self.header.kind != FileKind::Full {
            return Err(AbsError::Sequence("only a full file can be normalized"));
        }
        Ok(full_file(self, self.header.day, &contacts_by_guid(self)))
    }
}

/// The delta (`kind` [`FileKind::Delta`]) or compact delta ([`FileKind::Compact`]) that takes
/// full file `old` to full file `new`. It carries `new`'s attribute table and rules.
///
/// # Errors
/// [`AbsError::Sequence`] unless both are full files, `old` is of an earlier day, and `kind`
/// is a delta kind.
pub fn diff(old: &AbsFile, new: &AbsFile, kind: FileKind) -> Result<AbsFile, AbsError> {
    if old.header.kind != FileKind::Full || new.header.kind != FileKind::Full {
        return Err(AbsError::Sequence(
            "a delta is taken between two full files",
        ));
    }
    if old.header.day >= new.header.day || kind == FileKind::Full {
        return Err(AbsError::Sequence(
            "a delta goes from an earlier day to a later one",
        ));
    }
    let before = contacts_by_guid(old);
    let after = contacts_by_guid(new);
    let attrs = &new.attributes;
    // What the old values become under the new table: that is what the client will have.
    let carried = |v: &Named| -> Named {
        numbered(attrs, v)
            .into_iter()
            .filter_map(|(id, v)| {
                let a = attrs.iter().find(|a| a.id == u16::from(id))?;
                Some((a.name.clone(), v))
            })
            .collect()
    };
    let mut contacts = Vec::new();
    for (guid, values) in &after {
        let now = carried(values);
        let Some(was) = before.get(guid).map(carried) else {
            contacts.push(Contact {
                guid: *guid,
                change: Change::Present,
                values: numbered(attrs, &now),
            });
            continue;
        };
        if was == now {
            continue;
        }
        let whole = Contact {
            guid: *guid,
            change: Change::Present,
            values: numbered(attrs, &now),
        };
        if kind == FileKind::Delta {
            contacts.push(whole);
            continue;
        }
        let mut changed: Named = now
            .iter()
            .filter(|(n, v)| was.get(*n) != Some(v))
            .map(|(n, v)| (n.clone(), v.clone()))
            .collect();
        let mut expressible = true;
        for name in was.keys().filter(|n| !now.contains_key(*n)) {
            let empty = attrs
                .iter()
                .find(|a| &a.name == name)
                .and_then(|a| a.kind())
                .and_then(Value::empty);
            match empty {
                Some(e) => {
                    changed.insert(name.clone(), e);
                }
                None => expressible = false,
            }
        }
        if !expressible {
            contacts.push(whole);
            continue;
        }
        let mut values: Vec<(u8, Value)> = changed
            .iter()
            .filter_map(|(name, v)| {
                let a = attrs.iter().find(|a| &a.name == name)?;
                Some((u8::try_from(a.id).ok()?, v.clone()))
            })
            .collect();
        values.sort_by_key(|(id, _)| *id);
        contacts.push(Contact {
            guid: *guid,
            change: Change::Partial,
            values,
        });
    }
    for guid in before.keys().filter(|g| !after.contains_key(*g)) {
        contacts.push(Contact {
            guid: *guid,
            change: Change::Removed,
            values: Vec::new(),
        });
    }
    contacts.sort_by_key(|c| c.guid);
    Ok(AbsFile {
        header: Header {
            kind,
            base_day: old.header.day,
            day: new.header.day,
            use_normalization_rules: new.header.use_normalization_rules,
            source_stream: [0; 128],
        },
        normalization_rules: new.normalization_rules.clone(),
        attributes: new.attributes.clone(),
        contacts,
    })
}

/// Applies a delta or compact delta to the full file of its base day: the full file of the
/// delta's day, [normalized](AbsFile::normalized).
///
/// ```
/// use ocs_http_focus::abs::{apply, diff, AbsFile, Attribute, Change, Contact, FileKind, Header, Value};
/// let day = |day, title: &str| AbsFile {
///     header: Header::new(FileKind::Full, day, day),
///     normalization_rules: Vec::new(),
///     attributes: vec![Attribute { id: 5, flags: 0x0400_0000, name: "title".into() }],
///     contacts: vec![Contact {
///         guid: [1; 16],
///         change: Change::Present,
///         values: vec![(5, Value::String(title.into()))],
///     }],
/// };
/// let (monday, tuesday) = (day(0x0A10, "Developer"), day(0x0A11, "Development Manager"));
/// let delta = diff(&monday, &tuesday, FileKind::Compact)?;
/// assert_eq!(apply(&monday, &delta)?, tuesday.normalized()?);
/// # Ok::<(), ocs_http_focus::abs::AbsError>(())
/// ```
///
/// # Errors
/// [`AbsError::Sequence`] unless `full` is a full file and `delta` a delta from its day.
pub fn apply(full: &AbsFile, delta: &AbsFile) -> Result<AbsFile, AbsError> {
    if full.header.kind != FileKind::Full || delta.header.kind == FileKind::Full {
        return Err(AbsError::Sequence("a delta is applied to a full file"));
    }
    if delta.header.base_day != full.header.day {
        return Err(AbsError::Sequence("the delta starts from another day"));
    }
    let mut contacts = contacts_by_guid(full);
    for c in &delta.contacts {
        match c.change {
            Change::Removed => {
                contacts.remove(&c.guid);
            }
            Change::Present => {
                contacts.insert(c.guid, named(&delta.attributes, &c.values));
            }
            Change::Partial => {
                let entry = contacts.entry(c.guid).or_default();
                for (id, v) in &c.values {
                    let Some(a) = delta.attributes.iter().find(|a| a.id == u16::from(*id)) else {
                        continue;
                    };
                    if v.is_empty() {
                        entry.remove(&a.name);
                    } else {
                        entry.insert(a.name.clone(), v.clone());
                    }
                }
            }
        }
    }
    Ok(full_file(delta, delta.header.day, &contacts))
}
