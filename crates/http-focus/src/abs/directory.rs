//! The server's directory of files, and the client's choice of what to download.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::{AbsError, AbsFile, ClientField, FileKind, FileName, delta::diff};

/// The client fields kept in `.dabs` files (devices carry fewer attributes): **our choice**,
/// the names and numbers a phone shows and dials.
pub const DEVICE_FIELDS: &[ClientField] = &[
    ClientField::GivenName,
    ClientField::Surname,
    ClientField::DisplayName,
    ClientField::Title,
    ClientField::Company,
    ClientField::PrimaryUserAddress,
    ClientField::TelephoneNumber,
    ClientField::HomePhone,
    ClientField::Mobile,
    ClientField::OtherTelephone,
    ClientField::IpPhone,
];

/// What a server writes and removes after publishing a day.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publication {
    /// Files to write, name and bytes.
    pub write: Vec<(FileName, Vec<u8>)>,
    /// Files to remove: their day left the retention window.
    pub remove: Vec<FileName>,
}

/// The Address Book Server's output directory: one full file a day, and deltas to it from each
/// earlier day still kept, in `.lsabs` and `.dabs` form. OCS 2007 keeps 30 days (up to 29
/// deltas a day; about 900 files of each form in steady state).
///
/// ```
/// use ocs_http_focus::abs::{AbsDirectory, AbsFile, FileKind, Header};
/// let mut dir = AbsDirectory::new(30);
/// let day = |d| AbsFile {
///     header: Header::new(FileKind::Full, d, d),
///     normalization_rules: Vec::new(),
///     attributes: Vec::new(),
///     contacts: Vec::new(),
/// };
/// dir.publish(&day(0x0A10))?;
/// let p = dir.publish(&day(0x0A11))?;
/// let names: Vec<String> = p.write.iter().map(|(n, _)| n.to_string()).collect();
/// assert_eq!(names, ["F-0A11.lsabs", "F-0A11.dabs", "D-0A10-0A11.lsabs", "C-0A10-0A11.lsabs", "D-0A10-0A11.dabs"]);
/// # Ok::<(), ocs_http_focus::abs::AbsError>(())
/// ```
#[derive(Debug, Clone)]
pub struct AbsDirectory {
    retain: u16,
    days: BTreeMap<u16, AbsFile>,
    files: BTreeSet<FileName>,
}

impl Default for AbsDirectory {
    fn default() -> AbsDirectory {
        AbsDirectory::new(30)
    }
}

impl AbsDirectory {
    /// A directory keeping `retain_days` days (at least 1).
    #[must_use]
    pub fn new(retain_days: u16) -> AbsDirectory {
        AbsDirectory {
            retain: retain_days.max(1),
            days: BTreeMap::new(),
            files: BTreeSet::new(),
        }
    }

    /// The files currently published.
    pub fn files(&self) -> impl Iterator<Item = &FileName> {
        self.files.iter()
    }

    /// The newest day published.
    #[must_use]
    pub fn newest(&self) -> Option<u16> {
        self.days.keys().next_back().copied()
    }

    /// Publishes the address book of `snapshot.header.day` (a full file): the full files, the
    /// deltas and compact deltas from every kept day, and the removal of the day that left
    /// the window.
    ///
    /// # Errors
    /// [`AbsError::Sequence`] if the snapshot is not a full file newer than the last one;
    /// a write error of [`AbsFile::to_bytes`].
    pub fn publish(&mut self, snapshot: &AbsFile) -> Result<Publication, AbsError> {
        let full = snapshot.normalized()?;
        let day = full.header.day;
        if self.newest().is_some_and(|n| n >= day) {
            return Err(AbsError::Sequence(
                "a day is published after the days before it",
            ));
        }
        let cutoff = day.saturating_sub(self.retain - 1);
        self.days.retain(|&d, _| d >= cutoff);
        let device = device_view(&full);
        let mut p = Publication::default();
        p.write.push((FileName::full(day, false), full.to_bytes()?));
        p.write
            .push((FileName::full(day, true), device.to_bytes()?));
        for (&base, old) in &self.days {
            for kind in [FileKind::Delta, FileKind::Compact] {
                let d = diff(old, &full, kind)?;
                p.write
                    .push((FileName::delta(kind, base, day, false), d.to_bytes()?));
            }
            let d = diff(&device_view(old), &device, FileKind::Delta)?;
            p.write.push((
                FileName::delta(FileKind::Delta, base, day, true),
                d.to_bytes()?,
            ));
        }
        self.files.extend(p.write.iter().map(|(n, _)| *n));
        self.days.insert(day, full);
        p.remove = self
            .files
            .iter()
            .filter(|n| n.day < cutoff)
            .copied()
            .collect();
        self.files.retain(|n| n.day >= cutoff);
        Ok(p)
    }
}

/// The `.dabs` form of a full file: only the attributes of [`DEVICE_FIELDS`].
#[must_use]
pub fn device_view(full: &AbsFile) -> AbsFile {
    let mut out = full.clone();
    out.attributes
        .retain(|a| DEVICE_FIELDS.contains(&a.client_field()));
    let keep: Vec<u16> = out.attributes.iter().map(|a| a.id).collect();
    for c in &mut out.contacts {
        c.values.retain(|(id, _)| keep.contains(&u16::from(*id)));
    }
    out
}

/// What a client downloads to bring its copy up to date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// It has the newest day already.
    UpToDate,
    /// The newest full file.
    Full(FileName),
    /// These deltas, applied in order, to the day it has.
    Deltas(Vec<FileName>),
    /// The server offers no full file of this form.
    Unavailable,
}

/// Chooses, from the files a server offers, the shortest chain of deltas from the day the
/// client has to the newest day (compact deltas first where `prefer_compact`), or the newest
/// full file when no chain exists.
///
/// ```
/// use ocs_http_focus::abs::{plan, FileName, Plan};
/// let offered: Vec<FileName> = ["F-0A10.lsabs", "F-0A12.lsabs", "D-0A10-0A11.lsabs", "D-0A11-0A12.lsabs"]
///     .iter().map(|n| FileName::parse(n).unwrap()).collect();
/// let Plan::Deltas(chain) = plan(Some(0x0A10), &offered, false, true) else { panic!() };
/// assert_eq!(chain.len(), 2);
/// assert_eq!(plan(None, &offered, false, true), Plan::Full(FileName::full(0x0A12, false)));
/// ```
#[must_use]
pub fn plan(have: Option<u16>, offered: &[FileName], device: bool, prefer_compact: bool) -> Plan {
    let Some(newest) = offered
        .iter()
        .filter(|n| n.device == device && n.kind == FileKind::Full)
        .map(|n| n.day)
        .max()
    else {
        return Plan::Unavailable;
    };
    let Some(have) = have else {
        return Plan::Full(FileName::full(newest, device));
    };
    if have >= newest {
        return Plan::UpToDate;
    }
    // Breadth-first over days; among equally short chains the preferred kind wins because its
    // edges are tried first.
    let mut edges: Vec<&FileName> = offered
        .iter()
        .filter(|n| n.device == device && n.kind != FileKind::Full)
        .collect();
    edges.sort_by_key(|n| (n.kind == FileKind::Compact) != prefer_compact);
    let mut from: HashMap<u16, FileName> = HashMap::new();
    let mut queue = VecDeque::from([have]);
    while let Some(day) = queue.pop_front() {
        if day == newest {
            let mut chain = Vec::new();
            let mut d = newest;
            while d != have {
                let step = from[&d];
                chain.push(step);
                d = step.base;
            }
            chain.reverse();
            return Plan::Deltas(chain);
        }
        for e in edges.iter().filter(|e| e.base == day) {
            if e.day != have && !from.contains_key(&e.day) {
                from.insert(e.day, **e);
                queue.push_back(e.day);
            }
        }
    }
    Plan::Full(FileName::full(newest, device))
}

/// For a client that cannot list the server's files: the names to try, in order, to go from
/// day `have` to day `newest` (compact delta, delta, then the full file; 404 means try the
/// next).
#[must_use]
pub fn attempts(have: Option<u16>, newest: u16, device: bool) -> Vec<FileName> {
    let mut out = Vec::new();
    if let Some(h) = have.filter(|&h| h < newest) {
        if !device {
            out.push(FileName::delta(FileKind::Compact, h, newest, device));
        }
        out.push(FileName::delta(FileKind::Delta, h, newest, device));
    }
    if have.is_none_or(|h| h < newest) {
        out.push(FileName::full(newest, device));
    }
    out
}
