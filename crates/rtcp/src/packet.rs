//! RTCP packets (RFC 3550 §6, RFC 4585, RFC 5104, RFC 3611, RFC 5506) and the [MS-RTP]
//! extensions, as views into a checked compound packet.

use crate::error::Error;
use crate::rtp::{be16, be32};

/// Packet types.
pub mod pt {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585).
    pub const PSFB: u8 = 206;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}

/// Limits on what a compound packet may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most packets in one compound (default 64).
    pub max_packets: usize,
    /// Most [MS-RTP] profile extensions after one SR/RR (default 20, as [MS-RTP] 2.2.11 says).
    pub max_extensions: usize,
    /// Accept reduced-size RTCP (RFC 5506): a compound need not start with SR or RR.
    pub reduced_size: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_packets: 64,
            max_extensions: 20,
            reduced_size: true,
        }
    }
}

/// The common RTCP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// The padding bit.
    pub padding: bool,
    /// RC, SC or FMT: the 5-bit field after the padding bit.
    pub count: u8,
    /// Packet type.
    pub packet_type: u8,
    /// Length in 32-bit words minus one.
    pub length: u16,
}

/// A checked compound (or reduced-size) RTCP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compound<'a> {
    buf: &'a [u8],
}

/// One packet of a compound: its header, body (without header and padding) and offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The header.
    pub header: Header,
    /// The body after the 4-byte header, without padding.
    pub body: &'a [u8],
    /// Where the packet starts in the compound.
    pub offset: usize,
}

fn truncated(what: &'static str, needed: usize, offset: usize) -> Error {
    Error::Truncated {
        what,
        needed,
        offset,
    }
}

impl<'a> Compound<'a> {
    /// Checks a compound packet as RFC 3550 Appendix A.2 says (version 2, lengths adding up,
    /// padding only on the last packet, SR or RR first unless reduced-size is allowed) and the
    /// structure of every packet type this crate knows, so that reading it cannot fail.
    ///
    /// ```
    /// use ocs_rtcp::packet::{Compound, Limits, Kind};
    /// let rr = [0x80, 201, 0, 1, 0xca, 0xfe, 0xba, 0xbe];
    /// let c = Compound::parse(&rr, &Limits::default()).unwrap();
    /// let Kind::ReceiverReport(r) = c.packets().next().unwrap().kind() else { panic!() };
    /// assert_eq!(r.ssrc(), 0xcafebabe);
    /// ```
    pub fn parse(buf: &'a [u8], limits: &Limits) -> Result<Self, Error> {
        if buf.is_empty() {
            return Err(truncated("RTCP header", 4, 0));
        }
        let mut at = 0;
        let mut n = 0;
        while at < buf.len() {
            if buf.len() - at < 4 {
                return Err(truncated("RTCP header", 4, at));
            }
            let version = buf[at] >> 6;
            if version != 2 {
                return Err(Error::Version {
                    version,
                    offset: at,
                });
            }
            let len = 4 * (usize::from(be16(buf, at + 2)) + 1);
            if buf.len() - at < len {
                return Err(Error::Length {
                    what: "RTCP packet",
                    offset: at + 2,
                });
            }
            let pt = buf[at + 1];
            if n == 0 && !limits.reduced_size && pt != pt::SR && pt != pt::RR {
                return Err(Error::FirstPacket { offset: at });
            }
            n += 1;
            if n > limits.max_packets {
                return Err(Error::TooMany {
                    what: "packets in a compound",
                    limit: limits.max_packets,
                    offset: at,
                });
            }
            let mut body_end = at + len;
            if buf[at] & 0x20 != 0 {
                if at + len != buf.len() {
                    return Err(Error::Padding { offset: at });
                }
                let pad = usize::from(buf[at + len - 1]);
                if pad == 0 || pad > len - 4 {
                    return Err(Error::Padding {
                        offset: at + len - 1,
                    });
                }
                body_end -= pad;
            }
            let p = Packet {
                header: Header {
                    padding: buf[at] & 0x20 != 0,
                    count: buf[at] & 0x1f,
                    packet_type: pt,
                    length: be16(buf, at + 2),
                },
                body: &buf[at + 4..body_end],
                offset: at,
            };
            p.check(limits)?;
            at += len;
        }
        Ok(Compound { buf })
    }

    /// The bytes.
    #[must_use]
    #[inline]
    pub fn as_bytes(&self) -> &'a [u8] {
        self.buf
    }

    /// The packets in order.
    #[inline]
    pub fn packets(&self) -> impl Iterator<Item = Packet<'a>> + 'a {
        let buf = self.buf;
        let mut at = 0;
        std::iter::from_fn(move || {
            if at + 4 > buf.len() {
                return None;
            }
            let len = 4 * (usize::from(be16(buf, at + 2)) + 1);
            let mut end = (at + len).min(buf.len());
            if buf[at] & 0x20 != 0 {
                end -= usize::from(buf[end - 1]).min(end - at - 4);
            }
            let p = Packet {
                header: Header {
                    padding: buf[at] & 0x20 != 0,
                    count: buf[at] & 0x1f,
                    packet_type: buf[at + 1],
                    length: be16(buf, at + 2),
                },
                body: &buf[at + 4..end],
                offset: at,
            };
            at += len;
            Some(p)
        })
    }
}

/// What a packet is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind<'a> {
    /// SR.
    SenderReport(SenderReport<'a>),
    /// RR.
    ReceiverReport(ReceiverReport<'a>),
    /// SDES.
    SourceDescription(Sdes<'a>),
    /// BYE.
    Goodbye(Bye<'a>),
    /// APP.
    App(App<'a>),
    /// RTPFB and PSFB.
    Feedback(Feedback<'a>),
    /// XR.
    ExtendedReport(ExtendedReport<'a>),
    /// Another packet type, kept as bytes.
    Other,
}

impl<'a> Packet<'a> {
    /// The typed view.
    #[must_use]
    #[inline]
    pub fn kind(&self) -> Kind<'a> {
        let rc = usize::from(self.header.count);
        match self.header.packet_type {
            pt::SR => Kind::SenderReport(SenderReport {
                body: self.body,
                rc,
            }),
            pt::RR => Kind::ReceiverReport(ReceiverReport {
                body: self.body,
                rc,
            }),
            pt::SDES => Kind::SourceDescription(Sdes {
                body: self.body,
                count: rc,
            }),
            pt::BYE => Kind::Goodbye(Bye {
                body: self.body,
                count: rc,
            }),
            pt::APP => Kind::App(App {
                body: self.body,
                subtype: self.header.count,
            }),
            pt::RTPFB | pt::PSFB => Kind::Feedback(Feedback {
                transport: self.header.packet_type == pt::RTPFB,
                fmt: self.header.count,
                body: self.body,
            }),
            pt::XR => Kind::ExtendedReport(ExtendedReport { body: self.body }),
            _ => Kind::Other,
        }
    }

    #[inline]
    fn check(&self, limits: &Limits) -> Result<(), Error> {
        let at = self.offset + 4;
        let b = self.body;
        let rc = usize::from(self.header.count);
        match self.header.packet_type {
            pt::SR | pt::RR => {
                let fixed = if self.header.packet_type == pt::SR {
                    24
                } else {
                    4
                };
                let need = fixed + 24 * rc;
                if b.len() < need {
                    return Err(truncated("report blocks", need, at));
                }
                check_extensions(&b[need..], at + need, limits.max_extensions)
            }
            pt::SDES => {
                let mut i = 0;
                for _ in 0..rc {
                    if b.len() < i + 4 {
                        return Err(truncated("SDES chunk", 4, at + i));
                    }
                    i += 4;
                    loop {
                        let Some(&t) = b.get(i) else {
                            return Err(truncated("SDES item", 1, at + i));
                        };
                        if t == 0 {
                            i = (i + 4) & !3;
                            break;
                        }
                        let len =
                            usize::from(*b.get(i + 1).ok_or(truncated("SDES item", 2, at + i))?);
                        if b.len() < i + 2 + len {
                            return Err(truncated("SDES item", 2 + len, at + i));
                        }
                        if t == 8 && (len == 0 || usize::from(b[i + 2]) + 1 > len) {
                            return Err(Error::Length {
                                what: "SDES PRIV prefix",
                                offset: at + i + 2,
                            });
                        }
                        i += 2 + len;
                    }
                }
                Ok(())
            }
            pt::BYE => {
                if b.len() < 4 * rc {
                    return Err(truncated("BYE sources", 4 * rc, at));
                }
                if b.len() > 4 * rc {
                    let len = usize::from(b[4 * rc]);
                    if b.len() < 4 * rc + 1 + len {
                        return Err(truncated("BYE reason", 1 + len, at + 4 * rc));
                    }
                }
                Ok(())
            }
            pt::APP => {
                if b.len() < 8 {
                    return Err(truncated("APP", 8, at));
                }
                Ok(())
            }
            pt::RTPFB | pt::PSFB => {
                if b.len() < 8 {
                    return Err(truncated("feedback", 8, at));
                }
                let f = Feedback {
                    transport: self.header.packet_type == pt::RTPFB,
                    fmt: self.header.count,
                    body: b,
                };
                f.check(at)
            }
            pt::XR => {
                if b.len() < 4 {
                    return Err(truncated("XR", 4, at));
                }
                let mut i = 4;
                while i < b.len() {
                    if b.len() < i + 4 {
                        return Err(truncated("XR block header", 4, at + i));
                    }
                    let len = 4 + 4 * usize::from(be16(b, i + 2));
                    if b.len() < i + len {
                        return Err(truncated("XR block", len, at + i));
                    }
                    i += len;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

fn check_extensions(mut b: &[u8], mut at: usize, max: usize) -> Result<(), Error> {
    let mut n = 0;
    while !b.is_empty() {
        if b.len() < 4 {
            return Err(truncated("profile extension", 4, at));
        }
        let len = usize::from(be16(b, 2));
        if len < 4 || len > b.len() {
            return Err(Error::Length {
                what: "profile extension",
                offset: at + 2,
            });
        }
        n += 1;
        if n > max {
            return Err(Error::TooMany {
                what: "profile extensions",
                limit: max,
                offset: at,
            });
        }
        b = &b[len..];
        at += len;
    }
    Ok(())
}

/// A reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source reported on.
    pub ssrc: u32,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Last SR timestamp (middle 32 bits of its NTP time).
    pub lsr: u32,
    /// Delay since the last SR, in 1/65536 s.
    pub dlsr: u32,
}

impl ReportBlock {
    #[inline]
    fn read(b: &[u8; 24]) -> Self {
        let w = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let word1 = w(4);
        ReportBlock {
            ssrc: w(0),
            fraction_lost: (word1 >> 24) as u8,
            cumulative_lost: ((word1 << 8) as i32) >> 8,
            highest_seq: w(8),
            jitter: w(12),
            lsr: w(16),
            dlsr: w(20),
        }
    }

    #[inline]
    pub(crate) fn write(&self, o: &mut [u8]) {
        o[0..4].copy_from_slice(&self.ssrc.to_be_bytes());
        o[4] = self.fraction_lost;
        let l = (self.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0xff_ffff;
        o[5..8].copy_from_slice(&l.to_be_bytes()[1..]);
        o[8..12].copy_from_slice(&self.highest_seq.to_be_bytes());
        o[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        o[16..20].copy_from_slice(&self.lsr.to_be_bytes());
        o[20..24].copy_from_slice(&self.dlsr.to_be_bytes());
    }
}

#[inline]
fn blocks(b: &[u8], rc: usize) -> impl ExactSizeIterator<Item = ReportBlock> + '_ {
    // The compound was checked: `rc` blocks are there.
    let (blocks, _) = b[..(24 * rc).min(b.len())].as_chunks::<24>();
    blocks.iter().map(ReportBlock::read)
}

/// A sender report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SenderReport<'a> {
    body: &'a [u8],
    rc: usize,
}

impl<'a> SenderReport<'a> {
    /// The sender's SSRC.
    #[must_use]
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }
    /// The NTP timestamp (64-bit, seconds since 1900 in 32.32 fixed point).
    #[must_use]
    #[inline]
    pub fn ntp(&self) -> u64 {
        u64::from(be32(self.body, 4)) << 32 | u64::from(be32(self.body, 8))
    }
    /// The RTP timestamp matching `ntp`.
    #[must_use]
    #[inline]
    pub fn rtp_timestamp(&self) -> u32 {
        be32(self.body, 12)
    }
    /// Packets sent.
    #[must_use]
    #[inline]
    pub fn packet_count(&self) -> u32 {
        be32(self.body, 16)
    }
    /// Payload octets sent.
    #[must_use]
    #[inline]
    pub fn octet_count(&self) -> u32 {
        be32(self.body, 20)
    }
    /// The report blocks.
    #[inline]
    pub fn reports(&self) -> impl ExactSizeIterator<Item = ReportBlock> + 'a {
        blocks(&self.body[24..], self.rc)
    }
    /// The [MS-RTP] profile-specific extensions after the report blocks.
    #[inline]
    pub fn extensions(&self) -> impl Iterator<Item = crate::msrtp::ProfileExtension<'a>> + 'a {
        crate::msrtp::ProfileExtension::iter(&self.body[24 + 24 * self.rc..])
    }
}

/// A receiver report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverReport<'a> {
    body: &'a [u8],
    rc: usize,
}

impl<'a> ReceiverReport<'a> {
    /// The reporter's SSRC.
    #[must_use]
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }
    /// The report blocks.
    #[inline]
    pub fn reports(&self) -> impl ExactSizeIterator<Item = ReportBlock> + 'a {
        blocks(&self.body[4..], self.rc)
    }
    /// The [MS-RTP] profile-specific extensions after the report blocks.
    #[inline]
    pub fn extensions(&self) -> impl Iterator<Item = crate::msrtp::ProfileExtension<'a>> + 'a {
        crate::msrtp::ProfileExtension::iter(&self.body[4 + 24 * self.rc..])
    }
}

/// SDES item types (RFC 3550 §6.5).
pub mod sdes {
    /// Canonical name.
    pub const CNAME: u8 = 1;
    /// User name.
    pub const NAME: u8 = 2;
    /// E-mail.
    pub const EMAIL: u8 = 3;
    /// Phone number.
    pub const PHONE: u8 = 4;
    /// Location.
    pub const LOC: u8 = 5;
    /// Application or tool.
    pub const TOOL: u8 = 6;
    /// Notice.
    pub const NOTE: u8 = 7;
    /// Private extension.
    pub const PRIV: u8 = 8;
}

/// A source description.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sdes<'a> {
    body: &'a [u8],
    count: usize,
}

/// One SDES item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// The type ([`sdes`]).
    pub item_type: u8,
    /// For PRIV, the prefix; empty otherwise.
    pub prefix: &'a [u8],
    /// The value (UTF-8 by RFC 3550, not checked).
    pub value: &'a [u8],
}

impl<'a> Sdes<'a> {
    /// The chunks: each source with its items.
    #[inline]
    pub fn chunks(&self) -> impl Iterator<Item = (u32, SdesItems<'a>)> + 'a {
        let b = self.body;
        let mut i = 0;
        let mut left = self.count;
        std::iter::from_fn(move || {
            if left == 0 || i + 4 > b.len() {
                return None;
            }
            left -= 1;
            let ssrc = be32(b, i);
            let start = i + 4;
            let mut j = start;
            while j < b.len() && b[j] != 0 {
                j += 2 + usize::from(b[j + 1]);
            }
            i = ((j + 4) & !3).min(b.len());
            Some((
                ssrc,
                SdesItems {
                    b: &b[start..j.min(b.len())],
                    i: 0,
                },
            ))
        })
    }
}

/// The items of one SDES chunk.
#[derive(Debug, Clone)]
pub struct SdesItems<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Iterator for SdesItems<'a> {
    type Item = SdesItem<'a>;
    fn next(&mut self) -> Option<SdesItem<'a>> {
        let b = self.b;
        if self.i + 2 > b.len() {
            return None;
        }
        let t = b[self.i];
        let len = usize::from(b[self.i + 1]);
        let v = b.get(self.i + 2..self.i + 2 + len)?;
        self.i += 2 + len;
        if t == sdes::PRIV {
            let pl = usize::from(v[0]);
            return Some(SdesItem {
                item_type: t,
                prefix: &v[1..1 + pl],
                value: &v[1 + pl..],
            });
        }
        Some(SdesItem {
            item_type: t,
            prefix: &[],
            value: v,
        })
    }
}

/// A goodbye.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bye<'a> {
    body: &'a [u8],
    count: usize,
}

impl<'a> Bye<'a> {
    /// The sources leaving.
    #[inline]
    pub fn sources(&self) -> impl ExactSizeIterator<Item = u32> + 'a {
        let b = self.body;
        (0..self.count).map(move |i| be32(b, 4 * i))
    }
    /// The reason, if given.
    #[must_use]
    #[inline]
    pub fn reason(&self) -> Option<&'a [u8]> {
        let at = 4 * self.count;
        let len = usize::from(*self.body.get(at)?);
        self.body.get(at + 1..at + 1 + len)
    }
}

/// An application-defined packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct App<'a> {
    body: &'a [u8],
    subtype: u8,
}

impl<'a> App<'a> {
    /// The subtype (5 bits).
    #[must_use]
    #[inline]
    pub fn subtype(&self) -> u8 {
        self.subtype
    }
    /// The SSRC.
    #[must_use]
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }
    /// The four-character name.
    #[must_use]
    #[inline]
    pub fn name(&self) -> [u8; 4] {
        [self.body[4], self.body[5], self.body[6], self.body[7]]
    }
    /// The application data.
    #[must_use]
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.body[8..]
    }
}

/// A feedback message (RFC 4585 §6): RTPFB (transport) or PSFB (payload-specific).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feedback<'a> {
    /// True for RTPFB (205), false for PSFB (206).
    pub transport: bool,
    /// The FMT field.
    pub fmt: u8,
    body: &'a [u8],
}

impl<'a> Feedback<'a> {
    /// The sender of the feedback.
    #[must_use]
    #[inline]
    pub fn sender_ssrc(&self) -> u32 {
        be32(self.body, 0)
    }
    /// The media source the feedback is about.
    #[must_use]
    #[inline]
    pub fn media_ssrc(&self) -> u32 {
        be32(self.body, 4)
    }
    /// The feedback control information.
    #[must_use]
    #[inline]
    pub fn fci(&self) -> &'a [u8] {
        &self.body[8..]
    }

    #[inline]
    fn check(&self, at: usize) -> Result<(), Error> {
        let fci = self.fci();
        let at = at + 8;
        let multiple = |n: usize, what| {
            if fci.len().is_multiple_of(n) {
                Ok(())
            } else {
                Err(Error::Length { what, offset: at })
            }
        };
        match (self.transport, self.fmt) {
            (true, 1) => multiple(4, "NACK FCI"),
            (true, 3 | 4) => multiple(8, "TMMBR/TMMBN FCI"),
            (true, 15) => crate::feedback::TransportCc::check(fci, at),
            (false, 1) => {
                if fci.is_empty() || fci.len() == 12 {
                    Ok(())
                } else {
                    Err(Error::Length {
                        what: "PLI FCI",
                        offset: at,
                    })
                }
            }
            (false, 2) => multiple(4, "SLI FCI"),
            (false, 3) => {
                if fci.len() >= 2 && usize::from(fci[0]) <= (fci.len() - 2) * 8 {
                    Ok(())
                } else {
                    Err(Error::Length {
                        what: "RPSI FCI",
                        offset: at,
                    })
                }
            }
            (false, 4) => multiple(8, "FIR FCI"),
            (false, 15) => crate::feedback::check_afb(fci, at),
            _ => Ok(()),
        }
    }

    /// The typed view of the FCI.
    #[must_use]
    #[inline]
    pub fn message(&self) -> crate::feedback::Message<'a> {
        crate::feedback::Message::read(self.transport, self.fmt, self.fci())
    }
}

/// An extended report (RFC 3611).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtendedReport<'a> {
    body: &'a [u8],
}

impl<'a> ExtendedReport<'a> {
    /// The reporter's SSRC.
    #[must_use]
    #[inline]
    pub fn ssrc(&self) -> u32 {
        be32(self.body, 0)
    }
    /// The report blocks.
    #[inline]
    pub fn blocks(&self) -> impl Iterator<Item = crate::xr::XrBlock<'a>> + 'a {
        crate::xr::XrBlock::iter(&self.body[4..])
    }
}
