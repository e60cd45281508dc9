//! Records (the framing on the TLS byte stream) and operations (what an RpcMessage carries).

use crate::Error;
use crate::codec::{self, Reader, op_code, record_type};
use crate::value::{MarshalLimits, Value};

/// One record of the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Record<'a> {
    /// Close (0x00): the sender ends the connection. Body (our choice): u16 reason, then UTF-8
    /// text.
    Close {
        /// Why ([`Refusal`](crate::Refusal) codes, or 0 for a normal close).
        reason: u16,
        /// Human-readable text.
        text: &'a str,
    },
    /// SetChannel (0x04): the records that follow belong to this channel. Body (our choice):
    /// u32 channel.
    SetChannel {
        /// The channel identifier.
        channel: u32,
    },
    /// Break (0x06): no body; this crate uses it as the keep-alive (our choice).
    Break,
    /// RpcMessage (0x16): one [`Operation`], undecoded.
    RpcMessage {
        /// The operation's bytes.
        body: &'a [u8],
        /// Where the body starts in the stream.
        offset: u64,
    },
    /// RPCOpen (0x37): opens channel 0 with the ConnMgr object. Body: u32 channel (MUST be
    /// 0, [MS-PSOM] via the secondary source), then (our choice) i32 ConnMgr proxy id and
    /// u16 protocol version.
    RpcOpen {
        /// The channel identifier (0).
        channel: u32,
        /// The ConnMgr's proxy identifier chosen by the opener.
        conn_mgr: i32,
        /// The protocol version (this crate speaks 1).
        version: u16,
    },
}

/// What a record decoder answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A record, and the bytes it took.
    Complete(T, usize),
    /// Not enough bytes yet.
    Partial,
}

impl<'a> Record<'a> {
    /// Decodes the record at the start of `buf` (whose first byte is at stream offset `base`).
    ///
    /// ```
    /// use ocs_psom::record::{Record, Status};
    /// let bytes = [0x04, 4, 0, 0, 0, 1, 0, 0, 0];
    /// assert_eq!(
    ///     Record::decode(&bytes, 1 << 20, 0)?,
    ///     Status::Complete(Record::SetChannel { channel: 1 }, 9)
    /// );
    /// assert_eq!(Record::decode(&bytes[..6], 1 << 20, 0)?, Status::Partial);
    /// # Ok::<(), ocs_psom::Error>(())
    /// ```
    ///
    /// # Errors
    /// An unknown type, a body over `max_body`, or a body that does not fit its type.
    pub fn decode(buf: &'a [u8], max_body: usize, base: u64) -> Result<Status<Record<'a>>, Error> {
        let Some((kind, len)) = codec::record_header(buf) else {
            if let Some(&kind) = buf.first() {
                known(kind, base)?;
            }
            return Ok(Status::Partial);
        };
        known(kind, base)?;
        if len > max_body {
            return Err(Error::RecordTooLarge {
                len,
                limit: max_body,
                offset: base,
            });
        }
        let Some(body) = buf.get(codec::RECORD_HEADER..codec::RECORD_HEADER + len) else {
            return Ok(Status::Partial);
        };
        let at = base + codec::RECORD_HEADER as u64;
        let mut r = Reader::new(body, at);
        let record = match kind {
            record_type::CLOSE => {
                let reason = r.u16("Close reason")?;
                let text = std::str::from_utf8(&body[2..]).map_err(|_| Error::InvalidValue {
                    what: "UTF-8 close text",
                    offset: at + 2,
                })?;
                return Ok(Status::Complete(
                    Record::Close { reason, text },
                    codec::RECORD_HEADER + len,
                ));
            }
            record_type::SET_CHANNEL => Record::SetChannel {
                channel: r.u32("SetChannel channel")?,
            },
            record_type::BREAK => Record::Break,
            record_type::RPC_MESSAGE => {
                return Ok(Status::Complete(
                    Record::RpcMessage { body, offset: at },
                    codec::RECORD_HEADER + len,
                ));
            }
            _ => Record::RpcOpen {
                channel: r.u32("RPCOpen channel")?,
                conn_mgr: r.i32("RPCOpen ConnMgr proxy")?,
                version: r.u16("RPCOpen version")?,
            },
        };
        r.end("record")?;
        Ok(Status::Complete(record, codec::RECORD_HEADER + len))
    }

    /// Appends the record.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match *self {
            Record::Close { reason, text } => codec::record(record_type::CLOSE, out, |b| {
                b.extend_from_slice(&reason.to_le_bytes());
                b.extend_from_slice(text.as_bytes());
            }),
            Record::SetChannel { channel } => codec::record(record_type::SET_CHANNEL, out, |b| {
                b.extend_from_slice(&channel.to_le_bytes());
            }),
            Record::Break => codec::record(record_type::BREAK, out, |_| {}),
            Record::RpcMessage { body, .. } => codec::record(record_type::RPC_MESSAGE, out, |b| {
                b.extend_from_slice(body);
            }),
            Record::RpcOpen {
                channel,
                conn_mgr,
                version,
            } => codec::record(record_type::RPC_OPEN, out, |b| {
                b.extend_from_slice(&channel.to_le_bytes());
                b.extend_from_slice(&conn_mgr.to_le_bytes());
                b.extend_from_slice(&version.to_le_bytes());
            }),
        }
    }
}

fn known(kind: u8, offset: u64) -> Result<(), Error> {
    match kind {
        record_type::CLOSE
        | record_type::SET_CHANNEL
        | record_type::BREAK
        | record_type::RPC_MESSAGE
        | record_type::RPC_OPEN => Ok(()),
        kind => Err(Error::UnknownRecord { kind, offset }),
    }
}

/// A streaming record decoder: bytes in, records out, with a maximum record size.
#[derive(Debug, Clone)]
pub struct Decoder {
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    max_body: usize,
    failed: Option<Error>,
}

impl Decoder {
    /// A decoder refusing record bodies over `max_body` bytes.
    #[must_use]
    pub fn new(max_body: usize) -> Decoder {
        Decoder {
            buf: Vec::new(),
            pos: 0,
            base: 0,
            max_body,
            failed: None,
        }
    }

    /// Appends received bytes.
    pub fn push(&mut self, data: &[u8]) {
        if self.pos == self.buf.len() {
            self.base += self.pos as u64;
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 4096 && self.pos * 2 > self.buf.len() {
            self.base += self.pos as u64;
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// The next whole record, `None` when more bytes are needed.
    ///
    /// # Errors
    /// The first fault; the decoder gives the same error from then on.
    pub fn next_record(&mut self) -> Result<Option<Record<'_>>, Error> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let at = self.base + self.pos as u64;
        let buf = &self.buf;
        match Record::decode(&buf[self.pos..], self.max_body, at) {
            Ok(Status::Partial) => Ok(None),
            Ok(Status::Complete(record, used)) => {
                self.pos += used;
                Ok(Some(record))
            }
            Err(e) => {
                self.failed = Some(e);
                Err(e)
            }
        }
    }

    /// Bytes buffered and not yet a whole record.
    #[must_use]
    pub fn pending(&self) -> usize {
        self.buf.len() - self.pos
    }
}

/// What an RPC message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RpcKind {
    /// A method call (call id 0: no result wanted).
    Call,
    /// The result of a call.
    Result,
    /// A call refused: arguments are a [`Refusal`](crate::Refusal) code (U16) and a text.
    Error,
}

/// A PSOM operation: an action on one distributed object, routed by proxy identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Operation {
    /// Connect/Disconnect Child (0x84): the parent connects (or disconnects) a child object.
    /// Body (our choice): i32 parent proxy, u8 1 connect / 0 disconnect, i32 child proxy, u16
    /// interface.
    ConnectChild {
        /// The parent, by the sender's proxy id.
        parent: i32,
        /// Connect (true) or disconnect.
        connect: bool,
        /// The child's proxy id as the sender numbers it (positive from the initiator).
        child: i32,
        /// The child's interface ([`Interface`](crate::interface::Interface) id).
        interface: u16,
    },
    /// OpenClose (0x86): open (subscribe to) or close an object. Body (our choice): i32 proxy,
    /// u8 1 open / 0 close.
    OpenClose {
        /// The object.
        proxy: i32,
        /// Open (true) or close.
        open: bool,
    },
    /// RPC (0x96, our choice): i32 proxy, u8 kind, u32 call id, u16 method, u16 count, values.
    Rpc {
        /// The object.
        proxy: i32,
        /// Call, result or error.
        kind: RpcKind,
        /// Matches results to calls; 0 for calls that want none.
        call: u32,
        /// The method ordinal in the object's interface.
        method: u16,
        /// The parameters.
        args: Vec<Value>,
    },
}

impl Operation {
    /// An RPC operation.
    #[must_use]
    pub fn rpc(proxy: i32, kind: RpcKind, call: u32, method: u16, args: Vec<Value>) -> Operation {
        Operation::Rpc {
            proxy,
            kind,
            call,
            method,
            args,
        }
    }

    /// Decodes an RpcMessage body that starts at stream offset `base`.
    ///
    /// # Errors
    /// Unknown operation code, truncation, trailing bytes, a bad value, or a limit crossed.
    pub fn decode(body: &[u8], base: u64, limits: &MarshalLimits) -> Result<Operation, Error> {
        let mut r = Reader::new(body, base);
        let code = r.u8("operation code")?;
        let op = match code {
            op_code::CONNECT_CHILD => Operation::ConnectChild {
                parent: r.i32("parent proxy")?,
                connect: flag(&mut r, "connect flag")?,
                child: r.i32("child proxy")?,
                interface: r.u16("interface")?,
            },
            op_code::OPEN_CLOSE => Operation::OpenClose {
                proxy: r.i32("proxy")?,
                open: flag(&mut r, "open flag")?,
            },
            op_code::RPC => {
                let proxy = r.i32("proxy")?;
                let at = r.at();
                let kind = match r.u8("rpc kind")? {
                    0 => RpcKind::Call,
                    1 => RpcKind::Result,
                    2 => RpcKind::Error,
                    _ => {
                        return Err(Error::InvalidValue {
                            what: "rpc kind",
                            offset: at,
                        });
                    }
                };
                let call = r.u32("call id")?;
                let method = r.u16("method")?;
                let n = usize::from(r.u16("argument count")?);
                let mut budget = limits.max_values;
                let mut args = Vec::with_capacity(n.min(r.remaining()));
                for _ in 0..n {
                    args.push(Value::decode(&mut r, 0, &mut budget, limits)?);
                }
                Operation::rpc(proxy, kind, call, method, args)
            }
            code => return Err(Error::UnknownOperation { code, offset: base }),
        };
        r.end("operation")?;
        Ok(op)
    }

    /// Appends the operation as an RpcMessage record.
    pub fn encode_record(&self, out: &mut Vec<u8>) {
        codec::record(record_type::RPC_MESSAGE, out, |b| self.encode(b));
    }

    /// Appends the operation's bytes (an RpcMessage body).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Operation::ConnectChild {
                parent,
                connect,
                child,
                interface,
            } => {
                out.push(op_code::CONNECT_CHILD);
                out.extend_from_slice(&parent.to_le_bytes());
                out.push(u8::from(*connect));
                out.extend_from_slice(&child.to_le_bytes());
                out.extend_from_slice(&interface.to_le_bytes());
            }
            Operation::OpenClose { proxy, open } => {
                out.push(op_code::OPEN_CLOSE);
                out.extend_from_slice(&proxy.to_le_bytes());
                out.push(u8::from(*open));
            }
            Operation::Rpc {
                proxy,
                kind,
                call,
                method,
                args,
            } => {
                codec::rpc_header(out, *proxy, *kind, *call, *method, args.len());
                args.iter().for_each(|a| a.encode(out));
            }
        }
    }
}

fn flag(r: &mut Reader<'_>, what: &'static str) -> Result<bool, Error> {
    let at = r.at();
    match r.u8(what)? {
        0 => Ok(false),
        1 => Ok(true),
        _ => Err(Error::InvalidValue { what, offset: at }),
    }
}
