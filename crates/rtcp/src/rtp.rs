//! RTP packets (RFC 3550 §5.1) with header extensions (RFC 8285), read in place and written
//! into a caller's buffer.

use crate::error::Error;

#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A view of an RTP packet. Parsing checks every length; the accessors cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpPacket<'a> {
    buf: &'a [u8],
    header_len: usize,
    payload_end: usize,
}

impl<'a> RtpPacket<'a> {
    /// Parses and checks an RTP packet: version 2, the CSRC list, the header extension and the
    /// padding count within the packet.
    ///
    /// ```
    /// use ocs_rtcp::rtp::RtpPacket;
    /// let p = RtpPacket::parse(&[0x80, 0x00, 0x12, 0x34, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe, 1, 2]).unwrap();
    /// assert_eq!((p.sequence_number(), p.timestamp(), p.ssrc()), (0x1234, 160, 0xcafebabe));
    /// assert_eq!(p.payload(), &[1, 2]);
    /// ```
    pub fn parse(buf: &'a [u8]) -> Result<Self, Error> {
        if buf.len() < 12 {
            return Err(Error::Truncated {
                what: "RTP header",
                needed: 12,
                offset: 0,
            });
        }
        let version = buf[0] >> 6;
        if version != 2 {
            return Err(Error::Version { version, offset: 0 });
        }
        let cc = usize::from(buf[0] & 0x0f);
        let mut hl = 12 + 4 * cc;
        if buf.len() < hl {
            return Err(Error::Truncated {
                what: "CSRC list",
                needed: 4 * cc,
                offset: 12,
            });
        }
        if buf[0] & 0x10 != 0 {
            if buf.len() < hl + 4 {
                return Err(Error::Truncated {
                    what: "header extension",
                    needed: 4,
                    offset: hl,
                });
            }
            let words = usize::from(be16(buf, hl + 2));
            if buf.len() < hl + 4 + 4 * words {
                return Err(Error::Truncated {
                    what: "header extension",
                    needed: 4 + 4 * words,
                    offset: hl,
                });
            }
            hl += 4 + 4 * words;
        }
        let mut end = buf.len();
        if buf[0] & 0x20 != 0 {
            let pad = usize::from(buf[buf.len() - 1]);
            if pad == 0 || hl + pad > buf.len() {
                return Err(Error::Padding {
                    offset: buf.len() - 1,
                });
            }
            end -= pad;
        }
        Ok(RtpPacket {
            buf,
            header_len: hl,
            payload_end: end,
        })
    }

    /// The whole packet.
    #[must_use]
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The padding bit.
    #[must_use]
    #[inline]
    pub fn padding(&self) -> bool {
        self.buf[0] & 0x20 != 0
    }

    /// The marker bit.
    #[must_use]
    #[inline]
    pub fn marker(&self) -> bool {
        self.buf[1] & 0x80 != 0
    }

    /// The payload type.
    #[must_use]
    #[inline]
    pub fn payload_type(&self) -> u8 {
        self.buf[1] & 0x7f
    }

    /// The sequence number.
    #[must_use]
    #[inline]
    pub fn sequence_number(&self) -> u16 {
        be16(self.buf, 2)
    }

    /// The RTP timestamp.
    #[must_use]
    #[inline]
    pub fn timestamp(&self) -> u32 {
        be32(self.buf, 4)
    }

    /// The SSRC.
    #[must_use]
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.buf, 8)
    }

    /// The contributing sources. [MS-RTP]: in a conference the first is the dominant speaker.
    #[inline]
    pub fn csrcs(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let b = self.buf;
        let cc = usize::from(b[0] & 0x0f);
        (0..cc).map(move |i| be32(b, 12 + 4 * i))
    }

    /// The header extension, if the X bit is set.
    #[must_use]
    #[inline]
    pub fn extension(&self) -> Option<HeaderExtension<'a>> {
        if self.buf[0] & 0x10 == 0 {
            return None;
        }
        let at = 12 + 4 * usize::from(self.buf[0] & 0x0f);
        Some(HeaderExtension {
            profile: be16(self.buf, at),
            data: &self.buf[at + 4..self.header_len],
        })
    }

    /// The header length, CSRCs and extension included.
    #[must_use]
    #[inline]
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The payload, without padding.
    #[must_use]
    #[inline]
    pub fn payload(&self) -> &'a [u8] {
        &self.buf[self.header_len..self.payload_end]
    }

    /// The number of padding bytes.
    #[must_use]
    #[inline]
    pub fn padding_len(&self) -> usize {
        self.buf.len() - self.payload_end
    }
}

/// An RTP header extension: the 16-bit profile word and its data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderExtension<'a> {
    /// `0xBEDE` for RFC 8285 one-byte elements, `0x100x` for two-byte ones.
    pub profile: u16,
    /// The extension data.
    pub data: &'a [u8],
}

/// One RFC 8285 extension element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    /// The ID (1–14 one-byte, 1–255 two-byte).
    pub id: u8,
    /// The data.
    pub data: &'a [u8],
}

impl<'a> HeaderExtension<'a> {
    /// The RFC 8285 elements (one-byte form for profile 0xBEDE, two-byte form for 0x100x).
    /// Padding bytes are skipped; iteration stops at a malformed element or ID 15.
    #[inline]
    pub fn elements(&self) -> impl Iterator<Item = Element<'a>> + 'a {
        let one_byte = self.profile == 0xBEDE;
        let two_byte = self.profile & 0xFFF0 == 0x1000;
        let d = self.data;
        let mut i = 0usize;
        std::iter::from_fn(move || {
            if !one_byte && !two_byte {
                return None;
            }
            while i < d.len() && d[i] == 0 {
                i += 1;
            }
            if i >= d.len() {
                return None;
            }
            let (id, len, hdr) = if one_byte {
                let id = d[i] >> 4;
                if id == 15 {
                    return None;
                }
                (id, usize::from(d[i] & 0x0f) + 1, 1)
            } else {
                let len = usize::from(*d.get(i + 1)?);
                (d[i], len, 2)
            };
            let data = d.get(i + hdr..i + hdr + len)?;
            i += hdr + len;
            Some(Element { id, data })
        })
    }

    /// The abs-send-time element with this ID (the only extension [MS-RTP] uses): a 24-bit
    /// 6.18 fixed-point time in seconds.
    #[must_use]
    #[inline]
    pub fn abs_send_time(&self, id: u8) -> Option<u32> {
        self.elements()
            .find(|e| e.id == id && e.data.len() == 3)
            .map(|e| u32::from(e.data[0]) << 16 | u32::from(e.data[1]) << 8 | u32::from(e.data[2]))
    }
}

/// The fields of an RTP header to write.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RtpHeader<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// SSRC.
    pub ssrc: u32,
    /// Up to 15 CSRCs.
    pub csrcs: &'a [u32],
    /// One-byte-form extension elements (IDs 1–14, 1–16 bytes each).
    pub extensions: &'a [Element<'a>],
}

impl RtpHeader<'_> {
    /// Writes header, payload and padding to a multiple of `pad_to` (0 or 1 for none) into
    /// `out`, returning the length. Nothing is written when `out` is too small.
    #[inline]
    pub fn write(&self, payload: &[u8], pad_to: usize, out: &mut [u8]) -> Result<usize, Error> {
        if self.csrcs.len() > 15 {
            return Err(Error::Unencodable("more than 15 CSRCs"));
        }
        let mut ext_len = 0;
        for e in self.extensions {
            if e.id == 0 || e.id > 14 || e.data.is_empty() || e.data.len() > 16 {
                return Err(Error::Unencodable("one-byte extension element"));
            }
            ext_len += 1 + e.data.len();
        }
        let ext_words = ext_len.div_ceil(4);
        let hl = 12
            + 4 * self.csrcs.len()
            + if self.extensions.is_empty() {
                0
            } else {
                4 + 4 * ext_words
            };
        let unpadded = hl + payload.len();
        let pad = if pad_to > 1 {
            (pad_to - unpadded % pad_to) % pad_to
        } else {
            0
        };
        let total = unpadded + pad;
        if out.len() < total {
            return Err(Error::BufferTooSmall { required: total });
        }
        out[0] = 0x80
            | if pad > 0 { 0x20 } else { 0 }
            | if self.extensions.is_empty() { 0 } else { 0x10 }
            | self.csrcs.len() as u8;
        out[1] = (u8::from(self.marker) << 7) | (self.payload_type & 0x7f);
        out[2..4].copy_from_slice(&self.sequence_number.to_be_bytes());
        out[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        out[8..12].copy_from_slice(&self.ssrc.to_be_bytes());
        let mut at = 12;
        for c in self.csrcs {
            out[at..at + 4].copy_from_slice(&c.to_be_bytes());
            at += 4;
        }
        if !self.extensions.is_empty() {
            out[at..at + 2].copy_from_slice(&0xBEDEu16.to_be_bytes());
            out[at + 2..at + 4].copy_from_slice(&(ext_words as u16).to_be_bytes());
            at += 4;
            let start = at;
            for e in self.extensions {
                out[at] = (e.id << 4) | (e.data.len() as u8 - 1);
                out[at + 1..at + 1 + e.data.len()].copy_from_slice(e.data);
                at += 1 + e.data.len();
            }
            out[at..start + 4 * ext_words].fill(0);
            at = start + 4 * ext_words;
        }
        out[at..at + payload.len()].copy_from_slice(payload);
        at += payload.len();
        if pad > 0 {
            out[at..total - 1].fill(0);
            out[total - 1] = pad as u8;
        }
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extensions_one_and_two_byte() {
        // RFC 8285 §4.2 style: ID 1 len 1, padding, ID 2 len 3 (abs-send-time).
        let mut pkt = vec![0x90, 0x60, 0, 1, 0, 0, 0, 1, 0, 0, 0, 7, 0xbe, 0xde, 0, 2];
        pkt.extend_from_slice(&[0x10, 0xaa, 0x00, 0x22, 0x12, 0x34, 0x56, 0x00]);
        pkt.extend_from_slice(b"pl");
        let p = RtpPacket::parse(&pkt).unwrap();
        let ext = p.extension().unwrap();
        let els: Vec<_> = ext.elements().collect();
        assert_eq!(
            els,
            [
                Element {
                    id: 1,
                    data: &[0xaa]
                },
                Element {
                    id: 2,
                    data: &[0x12, 0x34, 0x56]
                }
            ]
        );
        assert_eq!(ext.abs_send_time(2), Some(0x123456));
        assert_eq!(p.payload(), b"pl");
        // Two-byte form.
        let ext = HeaderExtension {
            profile: 0x1000,
            data: &[5, 2, 9, 9, 0, 0, 6, 0],
        };
        let els: Vec<_> = ext.elements().collect();
        assert_eq!(
            els,
            [
                Element {
                    id: 5,
                    data: &[9, 9]
                },
                Element { id: 6, data: &[] }
            ]
        );
    }

    #[test]
    fn write_then_parse() {
        let h = RtpHeader {
            marker: true,
            payload_type: 111,
            sequence_number: 65535,
            timestamp: 123456,
            ssrc: 0xdeadbeef,
            csrcs: &[1, 2],
            extensions: &[Element {
                id: 3,
                data: &[1, 2, 3],
            }],
        };
        let mut buf = [0u8; 64];
        let n = h.write(b"hello", 8, &mut buf).unwrap();
        assert_eq!(n % 8, 0);
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert!(p.marker() && p.padding());
        assert_eq!(p.csrcs().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(p.extension().unwrap().abs_send_time(3), Some(0x010203));
        assert_eq!(p.payload(), b"hello");
        assert_eq!(
            h.write(b"hello", 8, &mut [0u8; 10]),
            Err(Error::BufferTooSmall { required: n })
        );
    }

    #[test]
    fn faults() {
        assert!(matches!(
            RtpPacket::parse(&[0x80; 5]),
            Err(Error::Truncated { .. })
        ));
        assert!(matches!(
            RtpPacket::parse(&[0x40; 12]),
            Err(Error::Version { version: 1, .. })
        ));
        assert!(matches!(
            RtpPacket::parse(&[0x81, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(Error::Truncated { offset: 12, .. })
        ));
        assert!(matches!(
            RtpPacket::parse(&[0xa0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
            Err(Error::Padding { offset: 13 })
        ));
    }
}
