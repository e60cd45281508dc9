//! Address Book Server files ([MS-ABS] section 2): full files, deltas and compact deltas, the
//! `.lsabs` and `.dabs` variants, their names, deltas applied, the server's directory of files
//! and the client's choice of what to download.
//!
//! # Layout
//! All integers are little-endian. What [MS-ABS] publishes is followed exactly; where the public
//! record stops, the layout is **this crate's choice**, said so at each item, and kept as close
//! to the published structures as possible:
//!
//! | part | source |
//! |---|---|
//! | `ABF_DELTA_HEADER`: FileType GUID, BaseCreationDate, CreationDate, NumberOfAttributes, MaximumAttributeId, SourceStream (128), UseNormalizationRules | [MS-ABS] 2.2.4 (fields in the order of its field descriptions; its diagram swaps each pair of 16-bit fields, as the diagram of ABF_ATTRIBUTE does against that structure's hex example) |
//! | `ABF_FULL_HEADER`: the delta header without BaseCreationDate, with FileType [`FULL_FILE_TYPE`] | our choice: the spec references the structure, but its page and GUID were not public where we looked |
//! | `ABF_NORMALIZATION_RULES`: u32 length, then that many bytes (kept opaque) | our choice (the spec names the structure only) |
//! | `ABF_ATTRIBUTE`: u16 Length (bytes after it), u16 Id, u32 Flags, Name NUL-terminated | [MS-ABS] 2.2, example 3.1.3.16 |
//! | `ABF_CONTACT`: 16-byte object GUID, u8 [`Change`], u8 attribute count, then `ABF_CONTACT_ATTRIBUTE`s | our choice |
//! | `ABF_CONTACT_ATTRIBUTE`: u8 Id, then the value: strings NUL-terminated | [MS-ABS] example 3.1.4.16 |
//! | values of the other [`AttributeType`]s, the contact count (u32 before the contacts) | our choice |
//! | `COMPRESSED_BLOCK_HEADER` and the CRC-32 ([MS-ABS] 5.1) | see [`block`] |
//!
//! Strings are UTF-8 (the spec's examples are ASCII).

pub mod block;
mod delta;
mod directory;
mod name;

use std::collections::HashSet;

use thiserror::Error;

pub use delta::{apply, diff};
pub use directory::{AbsDirectory, DEVICE_FIELDS, Plan, Publication, attempts, device_view, plan};
pub use name::{EPOCH_UNIX, FileName, day_from_unix, unix_from_day};

/// FileType of delta files ([MS-ABS] 2.2.4).
pub const DELTA_FILE_TYPE: [u8; 16] = [
    0x16, 0xc1, 0x4b, 0xb5, 0x08, 0x90, 0xc7, 0x47, 0xb9, 0xbd, 0xf3, 0xbb, 0x1a, 0x0a, 0xb6, 0xeb,
];
/// FileType of compact delta files ([MS-ABS] 2.2.4).
pub const COMPACT_FILE_TYPE: [u8; 16] = [
    0x34, 0x17, 0x7d, 0xf7, 0x87, 0xae, 0x2b, 0x4d, 0x09, 0xa0, 0x8e, 0xe9, 0xba, 0x89, 0x4a, 0x04,
];
/// FileType of full files: **our choice** (a GUID of ours; the published one was not found).
pub const FULL_FILE_TYPE: [u8; 16] = [
    0x5f, 0x0c, 0x3e, 0x8a, 0x1d, 0x42, 0x6b, 0x4c, 0x93, 0x7e, 0x0a, 0x51, 0xc2, 0xd4, 0x66, 0x10,
];

/// Full file, delta or compact delta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `F-XXXX`: the whole address book of a day.
    Full,
    /// `D-XXXX-YYYY`: the contacts that changed, each in full.
    Delta,
    /// `C-XXXX-YYYY`: only the attributes that changed; removed ones present and empty.
    Compact,
}

/// Defines [`ClientField`] and its byte values once.
macro_rules! client_fields {
    ($($(#[$doc:meta])* $name:ident = $value:literal,)*) => {
        /// The high byte of an attribute's Flags: how the client maps it ([MS-ABS] 2.1.4).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ClientField {
            $($(#[$doc])* $name,)*
            /// Not mapped by the client (0xFF).
            Ignore,
            /// A value the spec does not list.
            Other(u8),
        }

        impl ClientField {
            /// From the high byte of Flags.
            #[must_use]
            pub fn from_byte(b: u8) -> ClientField {
                match b {
                    $($value => ClientField::$name,)*
                    0xFF => ClientField::Ignore,
                    b => ClientField::Other(b),
                }
            }
        }
    };
}

client_fields! {
    /// proxyAddresses.
    ProxyAddresses = 0x00,
    /// givenName.
    GivenName = 0x01,
    /// sn.
    Surname = 0x02,
    /// displayName.
    DisplayName = 0x03,
    /// title.
    Title = 0x04,
    /// mailNickname.
    MailNickname = 0x05,
    /// company.
    Company = 0x06,
    /// physicalDeliveryOfficeName.
    Office = 0x07,
    /// msRTCSIP-PrimaryUserAddress.
    PrimaryUserAddress = 0x08,
    /// telephoneNumber.
    TelephoneNumber = 0x09,
    /// homePhone.
    HomePhone = 0x0A,
    /// mobile.
    Mobile = 0x0B,
    /// otherTelephone.
    OtherTelephone = 0x0C,
    /// ipPhone.
    IpPhone = 0x0D,
    /// mail.
    Mail = 0x0E,
    /// groupType.
    GroupType = 0x0F,
    /// manager.
    Manager = 0x10,
}

/// How a contact attribute's value is encoded: the low byte of Flags. String (0) is from
/// [MS-ABS] (`ABF_TYPE_STRING`, example 3.1.3.16); the other values are **our choice**.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeType {
    /// 0: NUL-terminated string.
    String,
    /// 1: several NUL-terminated strings, ended by an empty one.
    MultiString,
    /// 2: u16 length, then bytes.
    Binary,
    /// 3: u32.
    Integer,
}

impl AttributeType {
    fn from_flags(flags: u32) -> Option<AttributeType> {
        match flags & 0xFF {
            0 => Some(AttributeType::String),
            1 => Some(AttributeType::MultiString),
            2 => Some(AttributeType::Binary),
            3 => Some(AttributeType::Integer),
            _ => None,
        }
    }
}

/// The file header: [MS-ABS] 2.2.4 `ABF_DELTA_HEADER`, and the full header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Full, delta or compact.
    pub kind: FileKind,
    /// BaseCreationDate: the day a delta starts from (equal to `day` in full files).
    pub base_day: u16,
    /// CreationDate: the day this file gives.
    pub day: u16,
    /// UseNormalizationRules: whether phone numbers were normalized.
    pub use_normalization_rules: u16,
    /// SourceStream: 128 bytes, zero when written by this crate, not checked when read.
    pub source_stream: [u8; 128],
}

impl Header {
    /// A header with a zero SourceStream and no normalization.
    #[must_use]
    pub fn new(kind: FileKind, base_day: u16, day: u16) -> Header {
        Header {
            kind,
            base_day,
            day,
            use_normalization_rules: 0,
            source_stream: [0; 128],
        }
    }
}

/// An `ABF_ATTRIBUTE`: one column of the address book.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// Id, referenced by the contacts (which can only reference ids up to 255).
    pub id: u16,
    /// Flags: type (low byte), server processing, client field (high byte).
    pub flags: u32,
    /// The Active Directory attribute name, e.g. `title`.
    pub name: String,
}

impl Attribute {
    /// The client field of the high byte of Flags.
    #[must_use]
    pub fn client_field(&self) -> ClientField {
        ClientField::from_byte((self.flags >> 24) as u8)
    }

    /// The value encoding (low byte of Flags), if known.
    #[must_use]
    pub fn kind(&self) -> Option<AttributeType> {
        AttributeType::from_flags(self.flags)
    }
}

/// A contact attribute value.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Value {
    /// [`AttributeType::String`].
    String(String),
    /// [`AttributeType::MultiString`].
    MultiString(Vec<String>),
    /// [`AttributeType::Binary`].
    Binary(Vec<u8>),
    /// [`AttributeType::Integer`].
    Integer(u32),
}

impl Value {
    /// The empty value of a type: in a compact delta it says "attribute removed". Integers
    /// have none (a contact losing one is sent whole).
    #[must_use]
    pub fn empty(kind: AttributeType) -> Option<Value> {
        match kind {
            AttributeType::String => Some(Value::String(String::new())),
            AttributeType::MultiString => Some(Value::MultiString(Vec::new())),
            AttributeType::Binary => Some(Value::Binary(Vec::new())),
            AttributeType::Integer => None,
        }
    }

    /// Whether this is an empty string, list or byte string.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        match self {
            Value::String(s) => s.is_empty(),
            Value::MultiString(v) => v.is_empty(),
            Value::Binary(b) => b.is_empty(),
            Value::Integer(_) => false,
        }
    }

    fn kind(&self) -> AttributeType {
        match self {
            Value::String(_) => AttributeType::String,
            Value::MultiString(_) => AttributeType::MultiString,
            Value::Binary(_) => AttributeType::Binary,
            Value::Integer(_) => AttributeType::Integer,
        }
    }
}

/// What a contact record says (our choice of encoding, one byte).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// 0: the contact with exactly these attributes (full files, deltas, new contacts).
    Present,
    /// 1: the contact was removed (deltas).
    Removed,
    /// 2: only these attributes changed; empty values remove (compact deltas).
    Partial,
}

/// An `ABF_CONTACT`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Contact {
    /// The Active Directory objectGUID: the contact's identity across files.
    pub guid: [u8; 16],
    /// What the record says.
    pub change: Change,
    /// (attribute Id, value), in ascending Id order when written by this crate.
    pub values: Vec<(u8, Value)>,
}

/// A whole Address Book Server file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AbsFile {
    /// The header.
    pub header: Header,
    /// The phone normalization rules, opaque.
    pub normalization_rules: Vec<u8>,
    /// The attribute table.
    pub attributes: Vec<Attribute>,
    /// The contacts.
    pub contacts: Vec<Contact>,
}

/// Bounds for [`AbsFile::parse`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsLimits {
    /// Most contacts. Default 1,000,000.
    pub max_contacts: u32,
    /// Longest normalization rules, string or binary value. Default 1 MiB.
    pub max_value: usize,
}

impl Default for AbsLimits {
    fn default() -> AbsLimits {
        AbsLimits {
            max_contacts: 1_000_000,
            max_value: 1 << 20,
        }
    }
}

/// Why an ABS file was refused, and where.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum AbsError {
    /// The file ends inside a structure.
    #[error("file ends inside {what} at byte {offset}")]
    Truncated {
        /// The structure.
        what: &'static str,
        /// Where it began.
        offset: usize,
    },
    /// A FileType GUID that is none of the three.
    #[error("unknown FileType at byte 0")]
    UnknownFileType,
    /// An `ABF_ATTRIBUTE` whose Length does not fit its name.
    #[error("bad ABF_ATTRIBUTE Length at byte {offset}")]
    AttributeLength {
        /// The attribute.
        offset: usize,
    },
    /// Two attributes with one Id.
    #[error("duplicate attribute Id {id} at byte {offset}")]
    DuplicateAttribute {
        /// The Id.
        id: u16,
        /// The second attribute.
        offset: usize,
    },
    /// MaximumAttributeId is not the largest Id of the table.
    #[error("MaximumAttributeId {declared} but the largest Id is {actual}, at byte {offset}")]
    MaximumAttributeId {
        /// In the header.
        declared: u16,
        /// In the table.
        actual: u16,
        /// The header field.
        offset: usize,
    },
    /// An attribute type (low byte of Flags) this crate cannot decode.
    #[error("attribute {id} has unknown type {kind:#04x} at byte {offset}")]
    UnknownAttributeType {
        /// The attribute.
        id: u16,
        /// The low byte of Flags.
        kind: u8,
        /// The attribute.
        offset: usize,
    },
    /// A contact references an Id not in the table.
    #[error("unknown attribute Id {id} at byte {offset}")]
    UnknownAttribute {
        /// The Id.
        id: u8,
        /// The contact attribute.
        offset: usize,
    },
    /// A string that is not UTF-8, or a name that is not ASCII.
    #[error("invalid string at byte {offset}")]
    InvalidString {
        /// The string.
        offset: usize,
    },
    /// A Change byte other than 0, 1, 2, or one that does not fit the file kind.
    #[error("invalid contact change {value} at byte {offset}")]
    InvalidChange {
        /// The byte.
        value: u8,
        /// Where.
        offset: usize,
    },
    /// More than a limit allows.
    #[error("{what} over the limit of {limit} at byte {offset}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// Where.
        offset: usize,
    },
    /// Bytes after the last contact.
    #[error("{count} bytes after the last contact at byte {offset}")]
    TrailingBytes {
        /// How many.
        count: usize,
        /// Where they start.
        offset: usize,
    },
    /// A value whose type does not match its attribute, or an Id over 255 in a contact
    /// (writing).
    #[error("value of attribute {id} does not fit its attribute")]
    ValueMismatch {
        /// The attribute Id.
        id: u16,
    },
    /// A delta applied to a file of another day, or a diff of files that are not full.
    #[error("{0}")]
    Sequence(&'static str),
    /// A block's CRC-32 does not match its data ([MS-ABS] 5.1).
    #[error("CRC-32 mismatch in the block at byte {offset}")]
    Crc {
        /// The block header.
        offset: usize,
    },
    /// A block that is compressed: the algorithm is not public, so it cannot be undone.
    #[error("compressed block at byte {offset} (algorithm not public)")]
    CompressedBlock {
        /// The block header.
        offset: usize,
    },
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], AbsError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len());
        let end = end.ok_or(AbsError::Truncated {
            what,
            offset: self.pos,
        })?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, AbsError> {
        Ok(self.take(1, what)?[0])
    }

    fn u16(&mut self, what: &'static str) -> Result<u16, AbsError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, AbsError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A NUL-terminated UTF-8 string.
    fn cstr(&mut self, max: usize, what: &'static str) -> Result<String, AbsError> {
        let start = self.pos;
        let rest = &self.data[start..];
        let len = memchr::memchr(0, &rest[..rest.len().min(max + 1)]).ok_or({
            if rest.len() > max {
                AbsError::TooLarge {
                    what,
                    limit: max,
                    offset: start,
                }
            } else {
                AbsError::Truncated {
                    what,
                    offset: start,
                }
            }
        })?;
        let s = std::str::from_utf8(&rest[..len])
            .map_err(|_| AbsError::InvalidString { offset: start })?;
        self.pos += len + 1;
        Ok(s.to_owned())
    }
}

impl AbsFile {
    /// Parses a file with the default [`AbsLimits`].
    ///
    /// # Errors
    /// What is wrong and its byte offset ([`AbsError`]).
    pub fn parse(data: &[u8]) -> Result<AbsFile, AbsError> {
        AbsFile::parse_with(data, &AbsLimits::default())
    }

    /// Parses a file.
    ///
    /// ```
    /// use ocs_http_focus::abs::{AbsFile, Attribute, Change, Contact, FileKind, Header, Value};
    /// let file = AbsFile {
    ///     header: Header::new(FileKind::Full, 0x0A11, 0x0A11),
    ///     normalization_rules: Vec::new(),
    ///     attributes: vec![Attribute { id: 5, flags: 0x0400_0000, name: "title".into() }],
    ///     contacts: vec![Contact {
    ///         guid: [1; 16],
    ///         change: Change::Present,
    ///         values: vec![(5, Value::String("Development Manager".into()))],
    ///     }],
    /// };
    /// let bytes = file.to_bytes()?;
    /// assert_eq!(AbsFile::parse(&bytes)?, file);
    /// # Ok::<(), ocs_http_focus::abs::AbsError>(())
    /// ```
    ///
    /// # Errors
    /// What is wrong and its byte offset ([`AbsError`]).
    pub fn parse_with(data: &[u8], limits: &AbsLimits) -> Result<AbsFile, AbsError> {
        let mut r = Reader { data, pos: 0 };
        let guid = r.take(16, "FileType")?;
        let kind = if guid == DELTA_FILE_TYPE {
            FileKind::Delta
        } else if guid == COMPACT_FILE_TYPE {
            FileKind::Compact
        } else if guid == FULL_FILE_TYPE {
            FileKind::Full
        } else {
            return Err(AbsError::UnknownFileType);
        };
        let base_day = if kind == FileKind::Full {
            None
        } else {
            Some(r.u16("BaseCreationDate")?)
        };
        let day = r.u16("CreationDate")?;
        let count = r.u16("NumberOfAttributes")?;
        let max_id_at = r.pos;
        let max_id = r.u16("MaximumAttributeId")?;
        let mut source_stream = [0; 128];
        source_stream.copy_from_slice(r.take(128, "SourceStream")?);
        let use_normalization_rules = r.u16("UseNormalizationRules")?;
        let header = Header {
            kind,
            base_day: base_day.unwrap_or(day),
            day,
            use_normalization_rules,
            source_stream,
        };

        let at = r.pos;
        let rules_len = r.u32("ABF_NORMALIZATION_RULES")? as usize;
        if rules_len > limits.max_value {
            return Err(AbsError::TooLarge {
                what: "normalization rules",
                limit: limits.max_value,
                offset: at,
            });
        }
        let normalization_rules = r.take(rules_len, "ABF_NORMALIZATION_RULES")?.to_vec();

        let mut attributes = Vec::with_capacity(usize::from(count));
        let mut types = [None; 256];
        let mut ids = HashSet::new();
        for _ in 0..count {
            let at = r.pos;
            let len = usize::from(r.u16("ABF_ATTRIBUTE")?);
            let body = r.take(len, "ABF_ATTRIBUTE")?;
            if len < 7 || body[len - 1] != 0 || memchr::memchr(0, &body[6..]) != Some(len - 7) {
                return Err(AbsError::AttributeLength { offset: at });
            }
            let id = u16::from_le_bytes([body[0], body[1]]);
            let flags = u32::from_le_bytes([body[2], body[3], body[4], body[5]]);
            let name = &body[6..len - 1];
            if !name.is_ascii() {
                return Err(AbsError::InvalidString { offset: at + 8 });
            }
            if !ids.insert(id) {
                return Err(AbsError::DuplicateAttribute { id, offset: at });
            }
            if let Ok(small) = u8::try_from(id) {
                types[usize::from(small)] = Some((AttributeType::from_flags(flags), at, id));
            }
            attributes.push(Attribute {
                id,
                flags,
                name: String::from_utf8_lossy(name).into_owned(),
            });
        }
        let actual = attributes.iter().map(|a| a.id).max().unwrap_or(0);
        if actual != max_id {
            return Err(AbsError::MaximumAttributeId {
                declared: max_id,
                actual,
                offset: max_id_at,
            });
        }

        let at = r.pos;
        let n = r.u32("contact count")?;
        if n > limits.max_contacts {
            return Err(AbsError::TooLarge {
                what: "contact count",
                limit: limits.max_contacts as usize,
                offset: at,
            });
        }
        // Each contact takes at least 18 bytes: never reserve more than the data can hold.
        let mut contacts =
            Vec::with_capacity((n as usize).min(data.len().saturating_sub(r.pos) / 18));
        for _ in 0..n {
            contacts.push(read_contact(&mut r, kind, &types, limits)?);
        }
        if r.pos != data.len() {
            return Err(AbsError::TrailingBytes {
                count: data.len() - r.pos,
                offset: r.pos,
            });
        }
        Ok(AbsFile {
            header,
            normalization_rules,
            attributes,
            contacts,
        })
    }

    /// The file's bytes.
    ///
    /// # Errors
    /// [`AbsError::ValueMismatch`] for a value whose type is not its attribute's, or an Id
    /// over 255 used by a contact; [`AbsError::TooLarge`] for more than 255 values in a contact
    /// or a binary value over 65535 bytes; [`AbsError::Sequence`] for a record that does not
    /// fit the file kind.
    pub fn to_bytes(&self) -> Result<Vec<u8>, AbsError> {
        let mut out = Vec::with_capacity(256 + self.contacts.len() * 64);
        self.write(&mut out)?;
        Ok(out)
    }

    /// Appends the file's bytes to `out` (nothing is appended on error).
    ///
    /// # Errors
    /// As for [`AbsFile::to_bytes`].
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), AbsError> {
        let mark = out.len();
        let r = self.write_inner(out);
        if r.is_err() {
            out.truncate(mark);
        }
        r
    }

    fn write_inner(&self, out: &mut Vec<u8>) -> Result<(), AbsError> {
        let h = &self.header;
        out.extend_from_slice(match h.kind {
            FileKind::Full => &FULL_FILE_TYPE,
            FileKind::Delta => &DELTA_FILE_TYPE,
            FileKind::Compact => &COMPACT_FILE_TYPE,
        });
        if h.kind != FileKind::Full {
            out.extend_from_slice(&h.base_day.to_le_bytes());
        }
        out.extend_from_slice(&h.day.to_le_bytes());
        let count = u16::try_from(self.attributes.len()).map_err(|_| AbsError::TooLarge {
            what: "attribute count",
            limit: usize::from(u16::MAX),
            offset: 0,
        })?;
        out.extend_from_slice(&count.to_le_bytes());
        let max_id = self.attributes.iter().map(|a| a.id).max().unwrap_or(0);
        out.extend_from_slice(&max_id.to_le_bytes());
        out.extend_from_slice(&h.source_stream);
        out.extend_from_slice(&h.use_normalization_rules.to_le_bytes());
        out.extend_from_slice(&(self.normalization_rules.len() as u32).to_le_bytes());
        out.extend_from_slice(&self.normalization_rules);

        let mut types = [None; 256];
        for a in &self.attributes {
            let len = u16::try_from(a.name.len() + 7)
                .ok()
                .filter(|_| a.name.is_ascii() && !a.name.contains('\0'))
                .ok_or(AbsError::ValueMismatch { id: a.id })?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&a.id.to_le_bytes());
            out.extend_from_slice(&a.flags.to_le_bytes());
            out.extend_from_slice(a.name.as_bytes());
            out.push(0);
            if let Ok(small) = u8::try_from(a.id) {
                types[usize::from(small)] = a.kind();
            }
        }
        out.extend_from_slice(&(self.contacts.len() as u32).to_le_bytes());
        for c in &self.contacts {
            if !change_allowed(h.kind, c.change) {
                return Err(AbsError::Sequence(
                    "contact change not allowed in this file kind",
                ));
            }
            out.extend_from_slice(&c.guid);
            out.push(c.change as u8);
            let n = u8::try_from(c.values.len()).map_err(|_| AbsError::TooLarge {
                what: "values in a contact",
                limit: 255,
                offset: 0,
            })?;
            out.push(n);
            for (id, v) in &c.values {
                if types[usize::from(*id)] != Some(v.kind()) {
                    return Err(AbsError::ValueMismatch { id: u16::from(*id) });
                }
                out.push(*id);
                write_value(v, *id, out)?;
            }
        }
        Ok(())
    }
}

fn change_allowed(kind: FileKind, change: Change) -> bool {
    match kind {
        FileKind::Full => change == Change::Present,
        FileKind::Delta => change != Change::Partial,
        FileKind::Compact => true,
    }
}

type Types = [Option<(Option<AttributeType>, usize, u16)>; 256];

fn read_contact(
    r: &mut Reader<'_>,
    kind: FileKind,
    types: &Types,
    limits: &AbsLimits,
) -> Result<Contact, AbsError> {
    let mut guid = [0; 16];
    guid.copy_from_slice(r.take(16, "ABF_CONTACT")?);
    let at = r.pos;
    let raw = r.u8("ABF_CONTACT")?;
    let change = match raw {
        0 => Change::Present,
        1 => Change::Removed,
        2 => Change::Partial,
        value => return Err(AbsError::InvalidChange { value, offset: at }),
    };
    if !change_allowed(kind, change) {
        return Err(AbsError::InvalidChange {
            value: raw,
            offset: at,
        });
    }
    let n = r.u8("ABF_CONTACT")?;
    let mut values = Vec::with_capacity(usize::from(n));
    for _ in 0..n {
        let at = r.pos;
        let id = r.u8("ABF_CONTACT_ATTRIBUTE")?;
        let (ty, attr_at, full_id) =
            types[usize::from(id)].ok_or(AbsError::UnknownAttribute { id, offset: at })?;
        let ty = ty.ok_or(AbsError::UnknownAttributeType {
            id: full_id,
            kind: 0,
            offset: attr_at,
        })?;
        let value = match ty {
            AttributeType::String => Value::String(r.cstr(limits.max_value, "string value")?),
            AttributeType::MultiString => {
                let mut list = Vec::new();
                loop {
                    let s = r.cstr(limits.max_value, "string value")?;
                    if s.is_empty() {
                        break;
                    }
                    list.push(s);
                }
                Value::MultiString(list)
            }
            AttributeType::Binary => {
                let len = usize::from(r.u16("binary value")?);
                Value::Binary(r.take(len, "binary value")?.to_vec())
            }
            AttributeType::Integer => Value::Integer(r.u32("integer value")?),
        };
        values.push((id, value));
    }
    Ok(Contact {
        guid,
        change,
        values,
    })
}

fn write_value(v: &Value, id: u8, out: &mut Vec<u8>) -> Result<(), AbsError> {
    let cstr = |s: &str, out: &mut Vec<u8>| {
        if s.contains('\0') {
            return Err(AbsError::ValueMismatch { id: u16::from(id) });
        }
        out.extend_from_slice(s.as_bytes());
        out.push(0);
        Ok(())
    };
    match v {
        Value::String(s) => cstr(s, out)?,
        Value::MultiString(list) => {
            for s in list {
                if s.is_empty() {
                    return Err(AbsError::ValueMismatch { id: u16::from(id) });
                }
                cstr(s, out)?;
            }
            out.push(0);
        }
        Value::Binary(b) => {
            let len = u16::try_from(b.len()).map_err(|_| AbsError::TooLarge {
                what: "binary value",
                limit: usize::from(u16::MAX),
                offset: 0,
            })?;
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(b);
        }
        Value::Integer(n) => out.extend_from_slice(&n.to_le_bytes()),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [MS-ABS] 3.1.3.16: the title ABF_ATTRIBUTE, byte for byte.
    #[test]
    fn spec_attribute_vector() {
        let file = AbsFile {
            header: Header::new(FileKind::Delta, 0x0A10, 0x0A11),
            normalization_rules: Vec::new(),
            attributes: vec![Attribute {
                id: 5,
                flags: 0x0400_0000,
                name: "title".into(),
            }],
            contacts: vec![Contact {
                guid: [7; 16],
                change: Change::Present,
                values: vec![(5, Value::String("Development Manager".into()))],
            }],
        };
        let bytes = file.to_bytes().unwrap();
        let attr = [
            0x0C, 0x00, 0x05, 0x00, 0x00, 0x00, 0x00, 0x04, 0x74, 0x69, 0x74, 0x6C, 0x65, 0x00,
        ];
        let header_len = 16 + 8 + 128 + 2 + 4;
        assert_eq!(&bytes[header_len..header_len + 14], &attr);
        assert_eq!(file.attributes[0].client_field(), ClientField::Title);
        assert_eq!(file.attributes[0].kind(), Some(AttributeType::String));
        // [MS-ABS] 3.1.4.16: the contact attribute: Id 0x05, "Development Manager", NUL.
        let mut value = vec![0x05];
        value.extend_from_slice(b"Development Manager\0");
        assert!(bytes.ends_with(&value));
        assert_eq!(&bytes[..16], &DELTA_FILE_TYPE);
        assert_eq!(&bytes[16..20], &[0x10, 0x0A, 0x11, 0x0A]);
        assert_eq!(AbsFile::parse(&bytes).unwrap(), file);
    }

    #[test]
    fn errors_name_the_place() {
        let file = AbsFile {
            header: Header::new(FileKind::Full, 1, 1),
            normalization_rules: b"rules".to_vec(),
            attributes: vec![Attribute {
                id: 3,
                flags: 0x0300_0000,
                name: "displayName".into(),
            }],
            contacts: vec![Contact {
                guid: [9; 16],
                change: Change::Present,
                values: vec![(3, Value::String("Alice".into()))],
            }],
        };
        let good = file.to_bytes().unwrap();
        let attr_at = 16 + 6 + 128 + 2 + 4 + 5;
        assert_eq!(
            AbsFile::parse(&good[..10]),
            Err(AbsError::Truncated {
                what: "FileType",
                offset: 0
            })
        );
        let mut bad = good.clone();
        bad[0] ^= 1;
        assert_eq!(AbsFile::parse(&bad), Err(AbsError::UnknownFileType));
        let mut bad = good.clone();
        bad[attr_at] = 3;
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::AttributeLength { offset: attr_at })
        );
        let mut bad = good.clone();
        bad[20] = 4;
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::MaximumAttributeId {
                declared: 4,
                actual: 3,
                offset: 20
            })
        );
        let contact_at = attr_at + 2 + 6 + 12 + 4;
        let mut bad = good.clone();
        bad[contact_at + 16] = 1;
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::InvalidChange {
                value: 1,
                offset: contact_at + 16
            })
        );
        let mut bad = good.clone();
        bad[contact_at + 18] = 4;
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::UnknownAttribute {
                id: 4,
                offset: contact_at + 18
            })
        );
        let mut bad = good.clone();
        bad.push(0);
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::TrailingBytes {
                count: 1,
                offset: good.len()
            })
        );
        let mut bad = good.clone();
        bad[contact_at + 19] = 0xFF;
        assert_eq!(
            AbsFile::parse(&bad),
            Err(AbsError::InvalidString {
                offset: contact_at + 19
            })
        );
        let limits = AbsLimits {
            max_contacts: 0,
            max_value: 4,
        };
        assert_eq!(
            AbsFile::parse_with(&good, &limits),
            Err(AbsError::TooLarge {
                what: "normalization rules",
                limit: 4,
                offset: 152
            })
        );
        let limits = AbsLimits {
            max_contacts: 0,
            max_value: 100,
        };
        assert_eq!(
            AbsFile::parse_with(&good, &limits),
            Err(AbsError::TooLarge {
                what: "contact count",
                limit: 0,
                offset: contact_at - 4
            })
        );
    }
}
