//! Building compound RTCP packets into a caller's buffer. Lengths, counts and padding are
//! computed; nothing is allocated.

use crate::error::Error;
use crate::msrtp::MsExtension;
use crate::packet::{ReportBlock, pt};
use crate::xr::XrBlock;

/// One SDES chunk to write: the source and its items as (type, value).
pub type SdesChunk<'a> = (u32, &'a [(u8, &'a [u8])]);

/// Writes packets one after the other into a buffer.
///
/// ```
/// use ocs_rtcp::packet::{Compound, Kind, Limits, ReportBlock};
/// use ocs_rtcp::writer::Writer;
/// let mut buf = [0u8; 256];
/// let mut w = Writer::new(&mut buf);
/// w.sender_report(0x1234, 0xe7a0_0000_8000_0000, 16_000, 50, 8_000, &[ReportBlock { ssrc: 9, jitter: 12, ..Default::default() }], &[]).unwrap();
/// w.sdes(&[(0x1234, &[(1, b"alice@contoso.com".as_slice())])]).unwrap();
/// let n = w.len();
/// let c = Compound::parse(&buf[..n], &Limits::default()).unwrap();
/// let Kind::SenderReport(sr) = c.packets().next().unwrap().kind() else { panic!() };
/// assert_eq!(sr.reports().next().unwrap().jitter, 12);
/// ```
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> Writer<'b> {
    /// A writer at the start of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Bytes written so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when nothing was written.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes one packet whose body (`body_len` bytes, padded with zeros to a multiple of 4) is
    /// filled by `fill`.
    pub fn packet(
        &mut self,
        count: u8,
        packet_type: u8,
        body_len: usize,
        fill: impl FnOnce(&mut [u8]),
    ) -> Result<(), Error> {
        if count > 31 {
            return Err(Error::Unencodable("count over 31"));
        }
        let padded = body_len.div_ceil(4) * 4;
        let total = 4 + padded;
        if total / 4 - 1 > usize::from(u16::MAX) {
            return Err(Error::Unencodable("packet longer than 262,144 bytes"));
        }
        let required = self.len + total;
        let out = self
            .buf
            .get_mut(self.len..required)
            .ok_or(Error::BufferTooSmall { required })?;
        out[0] = 0x80 | count;
        out[1] = packet_type;
        out[2..4].copy_from_slice(&((total / 4 - 1) as u16).to_be_bytes());
        out[4..].fill(0);
        fill(&mut out[4..4 + body_len]);
        self.len = required;
        Ok(())
    }

    fn ext_len(ext: &[MsExtension]) -> Result<usize, Error> {
        let mut scratch = [0u8; 32];
        ext.iter()
            .try_fold(0, |acc, e| Ok(acc + e.write(&mut scratch)?))
    }

    fn write_ext(out: &mut [u8], ext: &[MsExtension]) {
        let mut at = 0;
        for e in ext {
            at += e.write(&mut out[at..]).unwrap_or(0);
        }
    }

    /// A sender report with report blocks and [MS-RTP] profile extensions.
    #[allow(clippy::too_many_arguments)]
    pub fn sender_report(
        &mut self,
        ssrc: u32,
        ntp: u64,
        rtp_timestamp: u32,
        packet_count: u32,
        octet_count: u32,
        reports: &[ReportBlock],
        extensions: &[MsExtension],
    ) -> Result<(), Error> {
        let mut head = [0u8; 24];
        head[0..4].copy_from_slice(&ssrc.to_be_bytes());
        head[4..12].copy_from_slice(&ntp.to_be_bytes());
        head[12..16].copy_from_slice(&rtp_timestamp.to_be_bytes());
        head[16..20].copy_from_slice(&packet_count.to_be_bytes());
        head[20..24].copy_from_slice(&octet_count.to_be_bytes());
        self.report(pt::SR, &head, reports, extensions)
    }

    /// A receiver report with report blocks and [MS-RTP] profile extensions.
    pub fn receiver_report(
        &mut self,
        ssrc: u32,
        reports: &[ReportBlock],
        extensions: &[MsExtension],
    ) -> Result<(), Error> {
        self.report(pt::RR, &ssrc.to_be_bytes(), reports, extensions)
    }

    /// SR and RR alike: the fixed part, the report blocks, then the profile extensions.
    fn report(
        &mut self,
        packet_type: u8,
        head: &[u8],
        reports: &[ReportBlock],
        extensions: &[MsExtension],
    ) -> Result<(), Error> {
        let ext = Self::ext_len(extensions)?;
        let count = u8::try_from(reports.len())
            .ok()
            .filter(|c| *c <= 31)
            .ok_or(Error::Unencodable("more than 31 report blocks"))?;
        let h = head.len();
        self.packet(count, packet_type, h + 24 * reports.len() + ext, |b| {
            b[..h].copy_from_slice(head);
            for (i, r) in reports.iter().enumerate() {
                r.write(&mut b[h + 24 * i..h + 24 * i + 24]);
            }
            Self::write_ext(&mut b[h + 24 * reports.len()..], extensions);
        })
    }

    /// A source description: chunks of (SSRC, items of (type, value)). PRIV items carry their
    /// prefix length and prefix at the start of the value, as on the wire.
    pub fn sdes(&mut self, chunks: &[SdesChunk<'_>]) -> Result<(), Error> {
        let mut body = 0;
        for (_, items) in chunks {
            let mut n = 4;
            for (t, v) in *items {
                if *t == 0 || v.len() > 255 {
                    return Err(Error::Unencodable("SDES item"));
                }
                n += 2 + v.len();
            }
            body += (n + 1).div_ceil(4) * 4;
        }
        let count = u8::try_from(chunks.len())
            .map_err(|_| Error::Unencodable("more than 31 SDES chunks"))?;
        self.packet(count, pt::SDES, body, |b| {
            let mut at = 0;
            for (ssrc, items) in chunks {
                let start = at;
                b[at..at + 4].copy_from_slice(&ssrc.to_be_bytes());
                at += 4;
                for (t, v) in *items {
                    b[at] = *t;
                    b[at + 1] = v.len() as u8;
                    b[at + 2..at + 2 + v.len()].copy_from_slice(v);
                    at += 2 + v.len();
                }
                at = start + (at - start + 1).div_ceil(4) * 4;
            }
        })
    }

    /// A goodbye for `sources`, with an optional reason.
    pub fn bye(&mut self, sources: &[u32], reason: Option<&[u8]>) -> Result<(), Error> {
        let count = u8::try_from(sources.len())
            .map_err(|_| Error::Unencodable("more than 31 BYE sources"))?;
        if reason.is_some_and(|r| r.len() > 255) {
            return Err(Error::Unencodable("BYE reason over 255 bytes"));
        }
        let body = 4 * sources.len() + reason.map_or(0, |r| 1 + r.len());
        self.packet(count, pt::BYE, body, |b| {
            for (i, s) in sources.iter().enumerate() {
                b[4 * i..4 * i + 4].copy_from_slice(&s.to_be_bytes());
            }
            if let Some(r) = reason {
                let at = 4 * sources.len();
                b[at] = r.len() as u8;
                b[at + 1..at + 1 + r.len()].copy_from_slice(r);
            }
        })
    }

    /// An application-defined packet; `data` must be a multiple of 4 bytes.
    pub fn app(&mut self, subtype: u8, ssrc: u32, name: [u8; 4], data: &[u8]) -> Result<(), Error> {
        if !data.len().is_multiple_of(4) {
            return Err(Error::Unencodable("APP data not a multiple of 4 bytes"));
        }
        self.packet(subtype, pt::APP, 8 + data.len(), |b| {
            b[0..4].copy_from_slice(&ssrc.to_be_bytes());
            b[4..8].copy_from_slice(&name);
            b[8..].copy_from_slice(data);
        })
    }

    /// A feedback message with its FCI (a multiple of 4 bytes).
    pub fn feedback(
        &mut self,
        transport: bool,
        fmt: u8,
        sender: u32,
        media: u32,
        fci: &[u8],
    ) -> Result<(), Error> {
        if !fci.len().is_multiple_of(4) {
            return Err(Error::Unencodable("FCI not a multiple of 4 bytes"));
        }
        let t = if transport { pt::RTPFB } else { pt::PSFB };
        self.packet(fmt, t, 8 + fci.len(), |b| {
            b[0..4].copy_from_slice(&sender.to_be_bytes());
            b[4..8].copy_from_slice(&media.to_be_bytes());
            b[8..].copy_from_slice(fci);
        })
    }

    /// A generic NACK for the `lost` sequence numbers (in order; each PID covers the next 16).
    pub fn nack(&mut self, sender: u32, media: u32, lost: &[u16]) -> Result<(), Error> {
        let mut pairs = 0;
        let mut i = 0;
        while i < lost.len() {
            let pid = lost[i];
            i += 1;
            while i < lost.len() && lost[i].wrapping_sub(pid).wrapping_sub(1) < 16 {
                i += 1;
            }
            pairs += 1;
        }
        self.packet(1, pt::RTPFB, 8 + 4 * pairs, |b| {
            b[0..4].copy_from_slice(&sender.to_be_bytes());
            b[4..8].copy_from_slice(&media.to_be_bytes());
            let mut at = 8;
            let mut i = 0;
            while i < lost.len() {
                let pid = lost[i];
                let mut blp = 0u16;
                i += 1;
                while i < lost.len() {
                    let d = lost[i].wrapping_sub(pid).wrapping_sub(1);
                    if d >= 16 {
                        break;
                    }
                    blp |= 1 << d;
                    i += 1;
                }
                b[at..at + 2].copy_from_slice(&pid.to_be_bytes());
                b[at + 2..at + 4].copy_from_slice(&blp.to_be_bytes());
                at += 4;
            }
        })
    }

    /// A picture loss indication, with the [MS-RTP] FCI (request ID, SFR bitmap) when given.
    pub fn pli(&mut self, sender: u32, media: u32, ms: Option<(u16, u64)>) -> Result<(), Error> {
        let mut fci = [0u8; 12];
        let n = match ms {
            Some((id, sfr)) => {
                fci[0..2].copy_from_slice(&id.to_be_bytes());
                fci[4..12].copy_from_slice(&sfr.to_be_bytes());
                12
            }
            None => 0,
        };
        self.feedback(false, 1, sender, media, &fci[..n])
    }

    /// A receiver estimated maximum bitrate (REMB) message.
    pub fn remb(&mut self, sender: u32, bitrate: u64, ssrcs: &[u32]) -> Result<(), Error> {
        let n = u8::try_from(ssrcs.len())
            .map_err(|_| Error::Unencodable("more than 255 REMB SSRCs"))?;
        let mut exp = 0u32;
        while bitrate >> exp > 0x3_ffff {
            exp += 1;
        }
        if exp > 63 {
            return Err(Error::Unencodable("REMB bitrate"));
        }
        let mantissa = (bitrate >> exp) as u32;
        self.packet(15, pt::PSFB, 16 + 4 * ssrcs.len(), |b| {
            b[0..4].copy_from_slice(&sender.to_be_bytes());
            b[8..12].copy_from_slice(b"REMB");
            b[12] = n;
            b[13] = ((exp as u8) << 2) | (mantissa >> 16) as u8;
            b[14..16].copy_from_slice(&(mantissa as u16).to_be_bytes());
            for (i, s) in ssrcs.iter().enumerate() {
                b[16 + 4 * i..20 + 4 * i].copy_from_slice(&s.to_be_bytes());
            }
        })
    }

    /// An extended report with these blocks.
    pub fn xr(&mut self, ssrc: u32, blocks: &[XrBlock<'_>]) -> Result<(), Error> {
        let mut body = 4;
        for b in blocks {
            if !b.data.len().is_multiple_of(4) || b.data.len() / 4 > usize::from(u16::MAX) {
                return Err(Error::Unencodable("XR block length"));
            }
            body += 4 + b.data.len();
        }
        self.packet(0, pt::XR, body, |o| {
            o[0..4].copy_from_slice(&ssrc.to_be_bytes());
            let mut at = 4;
            for b in blocks {
                o[at] = b.block_type;
                o[at + 1] = b.type_specific;
                o[at + 2..at + 4].copy_from_slice(&((b.data.len() / 4) as u16).to_be_bytes());
                o[at + 4..at + 4 + b.data.len()].copy_from_slice(b.data);
                at += 4 + b.data.len();
            }
        })
    }
}
