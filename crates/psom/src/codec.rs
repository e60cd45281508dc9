//! Every byte layout of this crate, in one place (see `PROTOCOL.md`).
//!
//! The public record of [MS-PSOM] gives the record type codes, the operation codes 0x84 and
//! 0x86, the u32 channel identifier and the signed proxy identifiers; it does not give widths,
//! byte order, length prefixes or the marshaling. Everything in this module that is not one of
//! those facts is **our choice**, marked so, and kept here so that a correction from the full
//! specification or a capture changes this file and its golden vectors only.

use crate::Error;

/// Record header: type (1 byte) + body length (u32 little-endian). **Our choice.**
pub const RECORD_HEADER: usize = 5;

/// Record type codes ([MS-PSOM] via the secondary source: CONFIRMED codes, SECONDARY source).
pub mod record_type {
    /// Close.
    pub const CLOSE: u8 = 0x00;
    /// SetChannel.
    pub const SET_CHANNEL: u8 = 0x04;
    /// Break.
    pub const BREAK: u8 = 0x06;
    /// RpcMessage.
    pub const RPC_MESSAGE: u8 = 0x16;
    /// RPCOpen.
    pub const RPC_OPEN: u8 = 0x37;
}

/// Operation codes: 0x84 and 0x86 from the secondary source; 0x96 for RPC is **our choice**
/// (the RPC code was not published; 0x96 follows the pattern 0x04 → 0x84, 0x06 → 0x86,
/// 0x16 → 0x96).
pub mod op_code {
    /// Connect/Disconnect Child.
    pub const CONNECT_CHILD: u8 = 0x84;
    /// OpenClose.
    pub const OPEN_CLOSE: u8 = 0x86;
    /// RPC message.
    pub const RPC: u8 = 0x96;
}

/// Value tags of the marshaling: **our choice** throughout.
pub mod tag {
    /// No value.
    pub const NULL: u8 = 0x00;
    /// Signed 8-bit.
    pub const I8: u8 = 0x01;
    /// Signed 16-bit.
    pub const I16: u8 = 0x02;
    /// Signed 32-bit.
    pub const I32: u8 = 0x03;
    /// Signed 64-bit.
    pub const I64: u8 = 0x04;
    /// Unsigned 8-bit.
    pub const U8: u8 = 0x05;
    /// Unsigned 16-bit.
    pub const U16: u8 = 0x06;
    /// Unsigned 32-bit.
    pub const U32: u8 = 0x07;
    /// Unsigned 64-bit.
    pub const U64: u8 = 0x08;
    /// Boolean, one byte 0 or 1.
    pub const BOOL: u8 = 0x09;
    /// UTF-8 string, u32 length prefix.
    pub const STRING: u8 = 0x0A;
    /// Bytes, u32 length prefix.
    pub const BLOB: u8 = 0x0B;
    /// Array: u32 count, then tagged values.
    pub const ARRAY: u8 = 0x0C;
    /// Structure: u16 field count, then tagged values.
    pub const STRUCT: u8 = 0x0D;
    /// GUID, 16 bytes in [MS-DTYP] 2.3.4.2 order (Data1–3 little-endian).
    pub const GUID: u8 = 0x0E;
    /// Timestamp: FILETIME, u64 100-ns intervals since 1601-01-01 UTC.
    pub const TIME: u8 = 0x0F;
    /// Object reference: the sender's proxy identifier, i32.
    pub const OBJECT: u8 = 0x10;
}

/// A reader over a byte slice with offsets for errors.
pub(crate) struct Reader<'a> {
    pub(crate) data: &'a [u8],
    pub(crate) pos: usize,
    /// Added to `pos` in errors (the record's place in the stream).
    pub(crate) base: u64,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(data: &'a [u8], base: u64) -> Reader<'a> {
        Reader { data, pos: 0, base }
    }

    pub(crate) fn at(&self) -> u64 {
        self.base + self.pos as u64
    }

    pub(crate) fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    pub(crate) fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], Error> {
        if self.remaining() < n {
            return Err(Error::Truncated {
                what,
                offset: self.at(),
            });
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    pub(crate) fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, Error> {
        Ok(self.take(1, what)?[0])
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, Error> {
        Ok(i32::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    pub(crate) fn end(&self, what: &'static str) -> Result<(), Error> {
        if self.remaining() == 0 {
            Ok(())
        } else {
            Err(Error::TrailingBytes {
                what,
                offset: self.at(),
            })
        }
    }
}

/// Appends a record: header then body. The body is written by `body`, the length patched in.
pub(crate) fn record(kind: u8, out: &mut Vec<u8>, body: impl FnOnce(&mut Vec<u8>)) {
    let start = out.len();
    out.push(kind);
    out.extend_from_slice(&[0; 4]);
    body(out);
    let len = (out.len() - start - RECORD_HEADER) as u32;
    out[start + 1..start + RECORD_HEADER].copy_from_slice(&len.to_le_bytes());
}

/// Reads a record header: (type, body length), or `None` if fewer than 5 bytes.
pub(crate) fn record_header(buf: &[u8]) -> Option<(u8, usize)> {
    let h = buf.get(..RECORD_HEADER)?;
    Some((h[0], u32::from_le_bytes([h[1], h[2], h[3], h[4]]) as usize))
}

/// FILETIME of the Unix epoch (100-ns intervals from 1601 to 1970).
pub const FILETIME_UNIX_EPOCH: u64 = 116_444_736_000_000_000;

/// Appends an RPC operation's fixed part: code, proxy, kind, call id, method, argument count.
/// **Our choice** of layout (see [`op_code::RPC`]).
pub(crate) fn rpc_header(
    out: &mut Vec<u8>,
    proxy: i32,
    kind: crate::record::RpcKind,
    call: u32,
    method: u16,
    args: usize,
) {
    out.push(op_code::RPC);
    out.extend_from_slice(&proxy.to_le_bytes());
    out.push(kind as u8);
    out.extend_from_slice(&call.to_le_bytes());
    out.extend_from_slice(&method.to_le_bytes());
    out.extend_from_slice(&(args as u16).to_le_bytes());
}
