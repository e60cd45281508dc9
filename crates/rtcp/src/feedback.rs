//! Feedback messages (RFC 4585, RFC 5104, transport-wide CC, REMB) and the [MS-RTP] 2.2.12
//! forms: the PLI with a 12-byte FCI, and application-layer feedback FMT=15 carrying Video
//! Source Requests and Dominant Speaker History.

use crate::error::Error;
use crate::rtp::{be16, be32};

/// The typed FCI of a [`Feedback`](crate::packet::Feedback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Message<'a> {
    /// RTPFB 1: generic NACK; iterate with [`nack_pairs`].
    Nack(&'a [u8]),
    /// RTPFB 3: TMMBR; iterate with [`tmmb_entries`].
    Tmmbr(&'a [u8]),
    /// RTPFB 4: TMMBN.
    Tmmbn(&'a [u8]),
    /// RTPFB 15: transport-wide congestion control.
    TransportCc(TransportCc<'a>),
    /// PSFB 1: picture loss indication; [MS-RTP] adds a request ID and a 64-bit SFR bitmap.
    Pli {
        /// The [MS-RTP] FCI: request ID and SFR bitmap.
        ms: Option<(u16, u64)>,
    },
    /// PSFB 2: slice loss indications (first, number, picture ID).
    Sli(&'a [u8]),
    /// PSFB 3: reference picture selection indication.
    Rpsi {
        /// Payload type.
        payload_type: u8,
        /// The native bit string, without padding.
        bits: &'a [u8],
        /// Padding bits at its end.
        padding_bits: u8,
    },
    /// PSFB 4: full intra request; iterate with [`fir_entries`].
    Fir(&'a [u8]),
    /// PSFB 15 "REMB": receiver estimated maximum bitrate.
    Remb {
        /// Bits per second.
        bitrate: u64,
        /// The SSRCs it applies to (raw, 4 bytes each).
        ssrcs: &'a [u8],
    },
    /// PSFB 15 with the [MS-RTP] sub-header, AFB type 1: Video Source Request.
    VideoSourceRequest(&'a [u8]),
    /// PSFB 15 with the [MS-RTP] sub-header, AFB type 3: Dominant Speaker History (MSIs).
    DominantSpeakerHistory(&'a [u8]),
    /// Anything else, kept raw.
    Other(&'a [u8]),
}

impl<'a> Message<'a> {
    #[inline]
    pub(crate) fn read(transport: bool, fmt: u8, fci: &'a [u8]) -> Self {
        match (transport, fmt) {
            (true, 1) => Message::Nack(fci),
            (true, 3) => Message::Tmmbr(fci),
            (true, 4) => Message::Tmmbn(fci),
            (true, 15) => Message::TransportCc(TransportCc { fci }),
            (false, 1) => Message::Pli {
                ms: (fci.len() == 12).then(|| {
                    (
                        be16(fci, 0),
                        u64::from(be32(fci, 4)) << 32 | u64::from(be32(fci, 8)),
                    )
                }),
            },
            (false, 2) => Message::Sli(fci),
            (false, 3) => {
                let pb = fci[0];
                let bits = &fci[2..];
                let used = bits.len() - usize::from(pb) / 8;
                Message::Rpsi {
                    payload_type: fci[1] & 0x7f,
                    bits: &bits[..used],
                    padding_bits: pb % 8,
                }
            }
            (false, 4) => Message::Fir(fci),
            (false, 15) if fci.starts_with(b"REMB") => {
                let n = usize::from(fci[4]);
                let exp = u32::from(fci[5] >> 2);
                let mantissa =
                    u64::from(fci[5] & 3) << 16 | u64::from(fci[6]) << 8 | u64::from(fci[7]);
                Message::Remb {
                    bitrate: mantissa << exp,
                    ssrcs: &fci[8..8 + 4 * n],
                }
            }
            (false, 15) if fci.len() >= 4 => match be16(fci, 0) {
                1 => Message::VideoSourceRequest(
                    &fci[4..usize::from(be16(fci, 2)).clamp(4, fci.len())],
                ),
                3 => Message::DominantSpeakerHistory(
                    &fci[4..usize::from(be16(fci, 2)).clamp(4, fci.len())],
                ),
                _ => Message::Other(fci),
            },
            _ => Message::Other(fci),
        }
    }
}

/// The lost sequence numbers of a generic NACK FCI: each PID and the ones its BLP marks.
#[inline]
pub fn nack_pairs(fci: &[u8]) -> impl Iterator<Item = (u16, u16)> + '_ {
    fci.chunks_exact(4).map(|c| (be16(c, 0), be16(c, 2)))
}

/// Every sequence number a NACK FCI reports lost: each PID, then one number per set bit of
/// its BLP, lowest bit first.
#[inline]
pub fn nack_lost(fci: &[u8]) -> NackLost<'_> {
    NackLost {
        pairs: fci.as_chunks::<4>().0,
        pid: 0,
        blp: 0,
    }
}

/// Iterator returned by [`nack_lost`].
#[derive(Debug, Clone)]
pub struct NackLost<'a> {
    pairs: &'a [[u8; 4]],
    pid: u16,
    blp: u16,
}

impl Iterator for NackLost<'_> {
    type Item = u16;

    #[inline]
    fn next(&mut self) -> Option<u16> {
        if self.blp != 0 {
            let i = self.blp.trailing_zeros() as u16;
            self.blp &= self.blp - 1;
            return Some(self.pid.wrapping_add(i + 1));
        }
        let (first, rest) = self.pairs.split_first()?;
        self.pairs = rest;
        self.pid = u16::from_be_bytes([first[0], first[1]]);
        self.blp = u16::from_be_bytes([first[2], first[3]]);
        Some(self.pid)
    }
}

/// The header of an [MS-RTP] 2.2.12.2 Video Source Request (the FCI after the AFB sub-header):
/// (MSI, request ID, version, keyframe bit, number of entries, entry length) and the entries.
#[must_use]
pub fn vsr(data: &[u8]) -> Option<(VsrHeader, &[u8])> {
    if data.len() < 16 {
        return None;
    }
    let h = VsrHeader {
        msi: be32(data, 0),
        request_id: be16(data, 4),
        version: data[8],
        keyframe: data[9] & 0x80 != 0,
        entries: data[10],
        entry_len: data[11],
    };
    Some((h, &data[16..]))
}

/// See [`vsr`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VsrHeader {
    /// The media source ID requested.
    pub msi: u32,
    /// Request ID.
    pub request_id: u16,
    /// Version.
    pub version: u8,
    /// K: a keyframe is requested.
    pub keyframe: bool,
    /// Number of entries.
    pub entries: u8,
    /// Bytes per entry (0x44).
    pub entry_len: u8,
}

/// The MSIs of an [MS-RTP] Dominant Speaker History, most recent first.
pub fn dominant_speakers(data: &[u8]) -> impl Iterator<Item = u32> + '_ {
    data.as_chunks::<4>()
        .0
        .iter()
        .map(|c| u32::from_be_bytes(*c))
}

/// TMMBR/TMMBN entries: (SSRC, bit rate in bps, measured overhead in bytes).
pub fn tmmb_entries(fci: &[u8]) -> impl Iterator<Item = (u32, u64, u16)> + '_ {
    fci.chunks_exact(8).map(|c| {
        let w = be32(c, 4);
        let exp = w >> 26;
        let mantissa = u64::from((w >> 9) & 0x1_ffff);
        (be32(c, 0), mantissa << exp, (w & 0x1ff) as u16)
    })
}

/// FIR entries: (SSRC, command sequence number).
pub fn fir_entries(fci: &[u8]) -> impl Iterator<Item = (u32, u8)> + '_ {
    fci.chunks_exact(8).map(|c| (be32(c, 0), c[4]))
}

/// SLI entries: (first macroblock, number of macroblocks, picture ID).
pub fn sli_entries(fci: &[u8]) -> impl Iterator<Item = (u16, u16, u8)> + '_ {
    fci.chunks_exact(4).map(|c| {
        let w = be32(c, 0);
        (
            (w >> 19) as u16,
            ((w >> 6) & 0x1fff) as u16,
            (w & 0x3f) as u8,
        )
    })
}

/// A transport-wide congestion control feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportCc<'a> {
    fci: &'a [u8],
}

/// The receive status of one packet in a transport-cc feedback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketStatus {
    /// Not received.
    NotReceived,
    /// Received with a small (0–63.75 ms) delta.
    SmallDelta,
    /// Received with a large or negative delta.
    LargeDelta,
}

impl<'a> TransportCc<'a> {
    /// The first transport sequence number covered.
    #[must_use]
    #[inline]
    pub fn base_sequence(&self) -> u16 {
        be16(self.fci, 0)
    }
    /// How many packets the feedback covers.
    #[must_use]
    #[inline]
    pub fn status_count(&self) -> u16 {
        be16(self.fci, 2)
    }
    /// The reference time, in multiples of 64 ms (24-bit signed).
    #[must_use]
    #[inline]
    pub fn reference_time(&self) -> i32 {
        (i32::from_be_bytes([self.fci[4], self.fci[5], self.fci[6], 0])) >> 8
    }
    /// The feedback packet count.
    #[must_use]
    #[inline]
    pub fn feedback_count(&self) -> u8 {
        self.fci[7]
    }

    /// Every covered packet in order: its transport sequence number, status and receive
    /// delta (in 250 µs units, for received packets), in one pass over chunks and deltas.
    #[must_use]
    #[inline]
    pub fn packets(&self) -> TwccPackets<'a> {
        let (chunks, delta_at) = Self::split(self.fci).unwrap_or((&[], self.fci.len()));
        TwccPackets {
            chunks: chunks.as_chunks::<2>().0,
            deltas: &self.fci[delta_at.min(self.fci.len())..],
            seq: self.base_sequence(),
            left: self.status_count(),
            word: 0,
            span: 0,
            pos: 0,
        }
    }

    /// The statuses, in order.
    #[inline]
    pub fn statuses(&self) -> impl Iterator<Item = PacketStatus> + 'a {
        self.packets().map(|(_, s, _)| s)
    }

    /// The receive deltas in 250 µs units, one per received packet.
    #[inline]
    pub fn deltas(&self) -> impl Iterator<Item = i16> + 'a {
        self.packets().filter_map(|(_, _, d)| d)
    }

    /// The chunk bytes and where the deltas start, or `None` if the chunks run past the FCI.
    fn split(fci: &[u8]) -> Option<(&[u8], usize)> {
        if fci.len() < 8 {
            return None;
        }
        let total = usize::from(be16(fci, 2));
        let mut covered = 0usize;
        let mut i = 8;
        let mut deltas = 0usize;
        while covered < total {
            let w = be16(fci.get(i..i + 2)?, 0);
            let (n, small, large) = if w & 0x8000 == 0 {
                let s = (w >> 13) & 3;
                let n = usize::from(w & 0x1fff);
                let counted = n.min(total - covered);
                (
                    n,
                    if s == 1 { counted } else { 0 },
                    if s == 2 { counted } else { 0 },
                )
            } else if w & 0x4000 == 0 {
                // One-bit symbols; only the ones still covered count.
                let used = 14usize.min(total - covered);
                let mask = (0x3fffu16 >> (14 - used)) << (14 - used);
                (14, (w & mask).count_ones() as usize, 0)
            } else {
                // Two-bit symbols: 01 is small, 10 (or 11) large.
                let used = 7usize.min(total - covered);
                let mask = (0x3fffu16 >> (14 - 2 * used)) << (14 - 2 * used);
                let v = w & mask;
                let hi = (v >> 1) & 0x1555;
                let lo = v & 0x1555;
                (
                    (7),
                    (lo & !hi).count_ones() as usize,
                    hi.count_ones() as usize,
                )
            };
            if n == 0 {
                return None;
            }
            covered += n;
            deltas += small + 2 * large;
            i += 2;
        }
        (i + deltas <= fci.len()).then(|| (&fci[8..i], i))
    }

    pub(crate) fn check(fci: &[u8], at: usize) -> Result<(), Error> {
        Self::split(fci).map(|_| ()).ok_or(Error::Length {
            what: "transport-cc FCI",
            offset: at,
        })
    }
}

fn status(bits: u16) -> PacketStatus {
    match bits {
        1 => PacketStatus::SmallDelta,
        2 | 3 => PacketStatus::LargeDelta,
        _ => PacketStatus::NotReceived,
    }
}

/// Iterator over the packets of a transport-cc feedback; see [`TransportCc::packets`].
#[derive(Debug, Clone)]
pub struct TwccPackets<'a> {
    chunks: &'a [[u8; 2]],
    deltas: &'a [u8],
    seq: u16,
    left: u16,
    /// The current chunk, its span (packets it covers) and the position in it.
    word: u16,
    span: u16,
    pos: u16,
}

impl Iterator for TwccPackets<'_> {
    type Item = (u16, PacketStatus, Option<i16>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        if self.pos == self.span {
            let (c, rest) = self.chunks.split_first()?;
            self.chunks = rest;
            self.word = u16::from_be_bytes(*c);
            self.span = match self.word >> 14 {
                0 | 1 => self.word & 0x1fff,
                2 => 14,
                _ => 7,
            };
            self.pos = 0;
            if self.span == 0 {
                return None;
            }
        }
        let w = self.word;
        let s = match w >> 14 {
            0 | 1 => status((w >> 13) & 3),
            2 => status((w >> (13 - self.pos)) & 1),
            _ => status((w >> (12 - 2 * self.pos)) & 3),
        };
        self.pos += 1;
        self.left -= 1;
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        let delta = match s {
            PacketStatus::NotReceived => None,
            PacketStatus::SmallDelta => {
                let (&v, rest) = self.deltas.split_first()?;
                self.deltas = rest;
                Some(i16::from(v))
            }
            PacketStatus::LargeDelta => {
                let (v, rest) = self.deltas.split_first_chunk::<2>()?;
                self.deltas = rest;
                Some(i16::from_be_bytes(*v))
            }
        };
        Some((seq, s, delta))
    }
}

pub(crate) fn check_afb(fci: &[u8], at: usize) -> Result<(), Error> {
    if fci.starts_with(b"REMB") {
        if fci.len() < 8 || fci.len() < 8 + 4 * usize::from(fci[4]) {
            return Err(Error::Length {
                what: "REMB FCI",
                offset: at,
            });
        }
        return Ok(());
    }
    if fci.len() >= 4 && matches!(be16(fci, 0), 1 | 3) {
        let len = usize::from(be16(fci, 2));
        if len < 4 || len > fci.len() {
            return Err(Error::Length {
                what: "MS application feedback",
                offset: at + 2,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nack_lost_numbers() {
        // PID 100 with BLP bits 0 and 15: 100, 101, 116.
        let fci = [0, 100, 0x80, 0x01];
        assert_eq!(nack_lost(&fci).collect::<Vec<_>>(), [100, 101, 116]);
    }

    #[test]
    fn transport_cc_chunks_and_deltas() {
        // base 10, 5 packets, ref time 1, fb count 2; a two-bit vector chunk: small, small,
        // not received, large, small; deltas 4, 8, 0x0100, 12.
        let mut fci = vec![0, 10, 0, 5, 0, 0, 1, 2];
        fci.extend_from_slice(&[0b1101_0100, 0b1001_0000]);
        fci.extend_from_slice(&[4, 8, 0x01, 0x00, 12]);
        TransportCc::check(&fci, 0).unwrap();
        let t = TransportCc { fci: &fci };
        assert_eq!(
            (
                t.base_sequence(),
                t.status_count(),
                t.reference_time(),
                t.feedback_count()
            ),
            (10, 5, 1, 2)
        );
        use PacketStatus::*;
        assert_eq!(
            t.statuses().collect::<Vec<_>>(),
            [SmallDelta, SmallDelta, NotReceived, LargeDelta, SmallDelta]
        );
        assert_eq!(t.deltas().collect::<Vec<_>>(), [4, 8, 256, 12]);
        // A run-length chunk: 3 received small.
        let fci = [0, 1, 0, 3, 0, 0, 0, 0, 0b0010_0000, 3, 1, 2, 3];
        let t = TransportCc { fci: &fci };
        assert_eq!(t.statuses().count(), 3);
        assert_eq!(t.deltas().collect::<Vec<_>>(), [1, 2, 3]);
        assert!(TransportCc::check(&fci[..12], 0).is_err());
    }

    #[test]
    fn remb_and_tmmbr() {
        let fci = [b'R', b'E', b'M', b'B', 1, (3 << 2) | 1, 0, 0, 0, 0, 0, 7];
        let Message::Remb { bitrate, ssrcs } = Message::read(false, 15, &fci) else {
            panic!()
        };
        assert_eq!(bitrate, (1 << 16) << 3);
        assert_eq!(ssrcs, &[0, 0, 0, 7]);
        // TMMBR: SSRC 5, exp 2, mantissa 1000, overhead 40.
        let w: u32 = (2 << 26) | (1000 << 9) | 40;
        let mut fci = vec![0, 0, 0, 5];
        fci.extend_from_slice(&w.to_be_bytes());
        assert_eq!(tmmb_entries(&fci).collect::<Vec<_>>(), [(5, 4000, 40)]);
    }
}
