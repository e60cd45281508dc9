//! Framing on stream transports (TCP, TLS): messages delimited by Content-Length
//! (RFC 3261 §18.3) and the RFC 5626 §3.5.1 CRLF keep-alive.

use bytes::{Bytes, BytesMut};

use crate::error::Error;
use crate::message::{Limits, Message};

/// What a stream carried.
#[derive(Debug, Clone)]
pub enum Frame {
    /// A SIP message.
    Message(Message),
    /// A double CRLF: the RFC 5626 keep-alive ping, to be answered with a single CRLF.
    Ping,
    /// A single CRLF: the RFC 5626 keep-alive pong (also the CRLFs RFC 3261 §7.5 says to
    /// ignore before a start line).
    Pong,
}

/// The answer of [`StreamDecoder::decode`], in the manner of httparse.
#[derive(Debug, Clone)]
pub enum Status {
    /// A frame, and how many input bytes it used.
    Complete(Frame, usize),
    /// More bytes are needed; nothing was used.
    Partial,
}

/// Finds messages and keep-alives in the bytes of a stream as they arrive.
///
/// Bytes in, frames out: it does no I/O. Feed it what the socket gave; it answers with a frame
/// and the bytes it used, or [`Status::Partial`]. A ping whose two CRLFs arrive in separate reads
/// is seen as two pongs, which a server may treat alike.
///
/// ```
/// use bytes::BytesMut;
/// use ocs_sip_codec::stream::{Frame, StreamDecoder};
///
/// let mut dec = StreamDecoder::default();
/// let mut buf = BytesMut::from(&b"\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Len"[..]);
/// assert!(matches!(dec.decode_buf(&mut buf).unwrap(), Some(Frame::Ping)));
/// assert!(dec.decode_buf(&mut buf).unwrap().is_none()); // needs more
/// buf.extend_from_slice(b"gth: 2\r\n\r\nhi");
/// let Some(Frame::Message(m)) = dec.decode_buf(&mut buf).unwrap() else { panic!() };
/// assert_eq!(&m.body()[..], b"hi");
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct StreamDecoder {
    limits: Limits,
}

impl StreamDecoder {
    /// A decoder with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        StreamDecoder { limits }
    }

    /// Looks for one frame at the start of `input`. The message shares `input`'s buffer.
    pub fn decode(&self, input: &Bytes) -> Result<Status, Error> {
        if let Some(st) = keep_alive(input) {
            return Ok(st);
        }
        match Message::scan_stream(input, &self.limits)? {
            None => Ok(Status::Partial),
            Some((head, need)) => {
                let msg = Message::from_scanned(input.slice(..need), head, &self.limits)?;
                Ok(Status::Complete(Frame::Message(msg), need))
            }
        }
    }

    /// Takes one frame off the front of `buf`, or returns `None` and leaves `buf` as it was
    /// when more bytes are needed. The message is split off `buf` without copying.
    pub fn decode_buf(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        if let Some(st) = keep_alive(buf) {
            return Ok(match st {
                Status::Complete(f, n) => {
                    let _ = buf.split_to(n);
                    Some(f)
                }
                Status::Partial => None,
            });
        }
        match Message::scan_stream(buf, &self.limits)? {
            None => Ok(None),
            Some((head, need)) => {
                let bytes = buf.split_to(need).freeze();
                Message::from_scanned(bytes, head, &self.limits).map(|m| Some(Frame::Message(m)))
            }
        }
    }
}

fn keep_alive(input: &[u8]) -> Option<Status> {
    if input.first() != Some(&b'\r') {
        return None;
    }
    Some(match input {
        [b'\r'] | [b'\r', b'\n', b'\r'] => Status::Partial,
        [b'\r', b'\n', b'\r', b'\n', ..] => Status::Complete(Frame::Ping, 4),
        [b'\r', b'\n', ..] => Status::Complete(Frame::Pong, 2),
        // A bare CR: let the message parser report it.
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TLS h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello";

    #[test]
    fn every_chunking_gives_the_same_messages() {
        let mut stream = Vec::new();
        stream.extend_from_slice(MSG);
        stream.extend_from_slice(b"\r\n\r\n");
        stream.extend_from_slice(MSG);
        for chunk in 1..stream.len() {
            let mut dec = StreamDecoder::default();
            let mut buf = BytesMut::new();
            let mut frames = Vec::new();
            for piece in stream.chunks(chunk) {
                buf.extend_from_slice(piece);
                while let Some(f) = dec.decode_buf(&mut buf).unwrap() {
                    frames.push(f);
                }
            }
            let msgs: Vec<_> = frames
                .iter()
                .filter_map(|f| match f {
                    Frame::Message(m) => Some(m.to_vec()),
                    _ => None,
                })
                .collect();
            assert_eq!(msgs, [MSG.to_vec(), MSG.to_vec()], "chunk size {chunk}");
            assert!(buf.is_empty());
        }
    }

    #[test]
    fn content_length_is_required() {
        let dec = StreamDecoder::default();
        let e = dec
            .decode(&Bytes::from_static(
                b"OPTIONS sip:a SIP/2.0\r\nTo: x\r\n\r\n",
            ))
            .unwrap_err();
        assert_eq!(e, Error::ContentLengthRequired { offset: 32 });
    }

    #[test]
    fn oversized_head_is_an_error_not_a_wait() {
        let dec = StreamDecoder::new(Limits {
            max_message_size: 64,
            ..Limits::default()
        });
        let input = Bytes::from(vec![b'A'; 100]);
        assert!(matches!(
            dec.decode(&input),
            Err(Error::MessageTooLarge { .. })
        ));
    }

    #[test]
    fn keep_alives() {
        let dec = StreamDecoder::default();
        assert!(matches!(
            dec.decode(&Bytes::from_static(b"\r\n\r\n")),
            Ok(Status::Complete(Frame::Ping, 4))
        ));
        assert!(matches!(
            dec.decode(&Bytes::from_static(b"\r\n")),
            Ok(Status::Complete(Frame::Pong, 2))
        ));
        assert!(matches!(
            dec.decode(&Bytes::from_static(b"\r\n\r")),
            Ok(Status::Partial)
        ));
        assert!(matches!(
            dec.decode(&Bytes::from_static(b"\r")),
            Ok(Status::Partial)
        ));
    }
}
