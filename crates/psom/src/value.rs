//! Marshaled parameters: tagged values and the types method tables declare (layout in
//! [`codec`](crate::codec), **our choice**).

use crate::Error;
use crate::codec::{Reader, tag};

/// One marshaled parameter.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// No value.
    Null,
    /// Signed 8-bit integer.
    I8(i8),
    /// Signed 16-bit integer.
    I16(i16),
    /// Signed 32-bit integer.
    I32(i32),
    /// Signed 64-bit integer.
    I64(i64),
    /// Unsigned 8-bit integer.
    U8(u8),
    /// Unsigned 16-bit integer.
    U16(u16),
    /// Unsigned 32-bit integer.
    U32(u32),
    /// Unsigned 64-bit integer.
    U64(u64),
    /// Boolean.
    Bool(bool),
    /// Text.
    String(String),
    /// Bytes.
    Blob(Vec<u8>),
    /// A list of values.
    Array(Vec<Value>),
    /// A structure: its fields in declaration order.
    Struct(Vec<Value>),
    /// A GUID.
    Guid([u8; 16]),
    /// A time: FILETIME (100-ns intervals since 1601-01-01 UTC).
    Time(u64),
    /// A distributed object, by the sender's proxy identifier.
    Object(i32),
}

/// Bounds on what one operation may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarshalLimits {
    /// Deepest nesting of arrays and structures. Default 16.
    pub max_depth: usize,
    /// Most values in one operation, nested ones included. Default 65,536.
    pub max_values: usize,
}

impl Default for MarshalLimits {
    fn default() -> MarshalLimits {
        MarshalLimits {
            max_depth: 16,
            max_values: 65_536,
        }
    }
}

impl Value {
    /// Appends the tagged value.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Value::Null => out.push(tag::NULL),
            Value::I8(v) => tagged(out, tag::I8, &v.to_le_bytes()),
            Value::I16(v) => tagged(out, tag::I16, &v.to_le_bytes()),
            Value::I32(v) => tagged(out, tag::I32, &v.to_le_bytes()),
            Value::I64(v) => tagged(out, tag::I64, &v.to_le_bytes()),
            Value::U8(v) => tagged(out, tag::U8, &[*v]),
            Value::U16(v) => tagged(out, tag::U16, &v.to_le_bytes()),
            Value::U32(v) => tagged(out, tag::U32, &v.to_le_bytes()),
            Value::U64(v) => tagged(out, tag::U64, &v.to_le_bytes()),
            Value::Bool(v) => tagged(out, tag::BOOL, &[u8::from(*v)]),
            Value::String(s) => {
                tagged(out, tag::STRING, &(s.len() as u32).to_le_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::Blob(b) => {
                tagged(out, tag::BLOB, &(b.len() as u32).to_le_bytes());
                out.extend_from_slice(b);
            }
            Value::Array(items) => {
                tagged(out, tag::ARRAY, &(items.len() as u32).to_le_bytes());
                items.iter().for_each(|v| v.encode(out));
            }
            Value::Struct(fields) => {
                tagged(out, tag::STRUCT, &(fields.len() as u16).to_le_bytes());
                fields.iter().for_each(|v| v.encode(out));
            }
            Value::Guid(g) => tagged(out, tag::GUID, g),
            Value::Time(t) => tagged(out, tag::TIME, &t.to_le_bytes()),
            Value::Object(p) => tagged(out, tag::OBJECT, &p.to_le_bytes()),
        }
    }

    pub(crate) fn decode(
        r: &mut Reader<'_>,
        depth: usize,
        budget: &mut usize,
        limits: &MarshalLimits,
    ) -> Result<Value, Error> {
        let at = r.at();
        if *budget == 0 {
            return Err(Error::TooMany {
                what: "values",
                limit: limits.max_values,
                offset: at,
            });
        }
        *budget -= 1;
        let t = r.u8("value tag")?;
        Ok(match t {
            tag::NULL => Value::Null,
            tag::I8 => Value::I8(r.u8("i8")? as i8),
            tag::I16 => Value::I16(r.u16("i16")? as i16),
            tag::I32 => Value::I32(r.i32("i32")?),
            tag::I64 => Value::I64(r.u64("i64")? as i64),
            tag::U8 => Value::U8(r.u8("u8")?),
            tag::U16 => Value::U16(r.u16("u16")?),
            tag::U32 => Value::U32(r.u32("u32")?),
            tag::U64 => Value::U64(r.u64("u64")?),
            tag::BOOL => match r.u8("bool")? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => {
                    return Err(Error::InvalidValue {
                        what: "bool",
                        offset: at + 1,
                    });
                }
            },
            tag::STRING => {
                let len = r.u32("string length")? as usize;
                let bytes = r.take(len, "string")?;
                let s = std::str::from_utf8(bytes).map_err(|_| Error::InvalidValue {
                    what: "UTF-8 string",
                    offset: at + 5,
                })?;
                Value::String(s.to_owned())
            }
            tag::BLOB => {
                let len = r.u32("blob length")? as usize;
                Value::Blob(r.take(len, "blob")?.to_vec())
            }
            tag::ARRAY | tag::STRUCT => {
                if depth >= limits.max_depth {
                    return Err(Error::TooDeep {
                        limit: limits.max_depth,
                        offset: at,
                    });
                }
                let n = if t == tag::ARRAY {
                    r.u32("array count")? as usize
                } else {
                    usize::from(r.u16("struct field count")?)
                };
                // Every value takes at least its tag byte: never reserve more than that.
                let mut items = Vec::with_capacity(n.min(r.remaining()).min(*budget));
                for _ in 0..n {
                    items.push(Value::decode(r, depth + 1, budget, limits)?);
                }
                if t == tag::ARRAY {
                    Value::Array(items)
                } else {
                    Value::Struct(items)
                }
            }
            tag::GUID => Value::Guid(r.array("guid")?),
            tag::TIME => Value::Time(r.u64("time")?),
            tag::OBJECT => Value::Object(r.i32("object")?),
            other => {
                return Err(Error::UnknownTag {
                    tag: other,
                    offset: at,
                });
            }
        })
    }

    /// The text, if this is a string.
    #[must_use]
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// The number, if this is an unsigned integer that fits.
    #[must_use]
    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U8(v) => Some(u64::from(v)),
            Value::U16(v) => Some(u64::from(v)),
            Value::U32(v) => Some(u64::from(v)),
            Value::U64(v) => Some(v),
            _ => None,
        }
    }

    /// The bytes, if this is a blob.
    #[must_use]
    pub fn as_blob(&self) -> Option<&[u8]> {
        match self {
            Value::Blob(b) => Some(b),
            _ => None,
        }
    }

    /// The items, if this is an array or a structure.
    #[must_use]
    pub fn items(&self) -> Option<&[Value]> {
        match self {
            Value::Array(v) | Value::Struct(v) => Some(v),
            _ => None,
        }
    }
}

fn tagged(out: &mut Vec<u8>, t: u8, payload: &[u8]) {
    out.push(t);
    out.extend_from_slice(payload);
}

/// The type of a parameter, as method tables declare it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// [`Value::U8`].
    U8,
    /// [`Value::U32`].
    U32,
    /// [`Value::U64`].
    U64,
    /// [`Value::Bool`].
    Bool,
    /// [`Value::String`].
    String,
    /// [`Value::Blob`].
    Blob,
    /// [`Value::Time`].
    Time,
    /// [`Value::Array`] of one type.
    Array(&'static Type),
    /// [`Value::Struct`] with these field types.
    Struct(&'static [Type]),
}

impl Type {
    /// Whether `v` is of this type.
    #[must_use]
    pub fn check(self, v: &Value) -> bool {
        match (self, v) {
            (Type::U8, Value::U8(_))
            | (Type::U32, Value::U32(_))
            | (Type::U64, Value::U64(_))
            | (Type::Bool, Value::Bool(_))
            | (Type::String, Value::String(_))
            | (Type::Blob, Value::Blob(_))
            | (Type::Time, Value::Time(_)) => true,
            (Type::Array(t), Value::Array(items)) => items.iter().all(|i| t.check(i)),
            (Type::Struct(ts), Value::Struct(fields)) => {
                ts.len() == fields.len() && ts.iter().zip(fields).all(|(t, f)| t.check(f))
            }
            _ => false,
        }
    }
}
