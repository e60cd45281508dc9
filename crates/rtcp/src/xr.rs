//! RTCP extended report blocks (RFC 3611 §4): all seven block types, unknown ones kept raw.

use crate::rtp::{be16, be32};

/// One XR block as written: block type, type-specific byte and contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XrBlock<'a> {
    /// Block type (BT).
    pub block_type: u8,
    /// The type-specific byte.
    pub type_specific: u8,
    /// The block contents after the 4-byte header.
    pub data: &'a [u8],
}

/// VoIP Metrics (RFC 3611 §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct VoipMetrics {
    /// The source.
    pub ssrc: u32,
    /// Loss rate, in 1/256.
    pub loss_rate: u8,
    /// Discard rate, in 1/256.
    pub discard_rate: u8,
    /// Burst density, in 1/256.
    pub burst_density: u8,
    /// Gap density, in 1/256.
    pub gap_density: u8,
    /// Mean burst duration, ms.
    pub burst_duration: u16,
    /// Mean gap duration, ms.
    pub gap_duration: u16,
    /// Round-trip delay, ms.
    pub round_trip_delay: u16,
    /// End-system delay, ms.
    pub end_system_delay: u16,
    /// Signal level, dBm (127 unavailable).
    pub signal_level: i8,
    /// Noise level, dBm.
    pub noise_level: i8,
    /// Residual echo return loss, dB.
    pub rerl: u8,
    /// Gap threshold (Gmin).
    pub gmin: u8,
    /// R factor (127 unavailable).
    pub r_factor: u8,
    /// External R factor.
    pub ext_r_factor: u8,
    /// MOS-LQ × 10.
    pub mos_lq: u8,
    /// MOS-CQ × 10.
    pub mos_cq: u8,
    /// Receiver configuration byte.
    pub rx_config: u8,
    /// Nominal jitter buffer delay, ms.
    pub jb_nominal: u16,
    /// Maximum jitter buffer delay, ms.
    pub jb_maximum: u16,
    /// Absolute maximum jitter buffer delay, ms.
    pub jb_abs_max: u16,
}

/// Typed XR blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Xr<'a> {
    /// BT 1 Loss RLE and BT 2 Duplicate RLE (§4.1, §4.2): source, begin/end sequence, chunks.
    RunLength {
        /// 1 loss, 2 duplicate.
        block_type: u8,
        /// Thinning (T).
        thinning: u8,
        /// The source.
        ssrc: u32,
        /// First sequence number.
        begin: u16,
        /// Last sequence number + 1.
        end: u16,
        /// The 16-bit chunks.
        chunks: &'a [u8],
    },
    /// BT 3 Packet Receipt Times (§4.3).
    ReceiptTimes {
        /// Thinning.
        thinning: u8,
        /// The source.
        ssrc: u32,
        /// First sequence number.
        begin: u16,
        /// Last + 1.
        end: u16,
        /// 32-bit receipt times.
        times: &'a [u8],
    },
    /// BT 4 Receiver Reference Time (§4.4): NTP time.
    ReceiverReferenceTime(u64),
    /// BT 5 DLRR (§4.5): (SSRC, LRR, DLRR) triples.
    Dlrr(&'a [u8]),
    /// BT 6 Statistics Summary (§4.6).
    StatisticsSummary {
        /// Flags (L, D, J, ToH).
        flags: u8,
        /// The source.
        ssrc: u32,
        /// First sequence number.
        begin: u16,
        /// Last + 1.
        end: u16,
        /// Lost, duplicate, min/max/mean/dev jitter, min/max/mean/dev TTL or hop limit.
        values: [u32; 6],
        /// TTL/hop-limit min, max, mean, deviation.
        ttl: [u8; 4],
    },
    /// BT 7 VoIP Metrics (§4.7).
    VoipMetrics(VoipMetrics),
    /// Another block type, or a known type with an unexpected length.
    Unknown,
}

impl<'a> XrBlock<'a> {
    #[inline]
    pub(crate) fn iter(mut b: &'a [u8]) -> impl Iterator<Item = XrBlock<'a>> + 'a {
        std::iter::from_fn(move || {
            if b.len() < 4 {
                return None;
            }
            let len = (4 + 4 * usize::from(be16(b, 2))).min(b.len());
            let blk = XrBlock {
                block_type: b[0],
                type_specific: b[1],
                data: &b[4..len],
            };
            b = &b[len..];
            Some(blk)
        })
    }

    /// The typed view.
    #[must_use]
    #[inline]
    pub fn typed(&self) -> Xr<'a> {
        let d = self.data;
        match (self.block_type, d.len()) {
            (1 | 2, n) if n >= 8 => Xr::RunLength {
                block_type: self.block_type,
                thinning: self.type_specific & 0x0f,
                ssrc: be32(d, 0),
                begin: be16(d, 4),
                end: be16(d, 6),
                chunks: &d[8..],
            },
            (3, n) if n >= 8 => Xr::ReceiptTimes {
                thinning: self.type_specific & 0x0f,
                ssrc: be32(d, 0),
                begin: be16(d, 4),
                end: be16(d, 6),
                times: &d[8..],
            },
            (4, 8) => {
                Xr::ReceiverReferenceTime(u64::from(be32(d, 0)) << 32 | u64::from(be32(d, 4)))
            }
            (5, n) if n.is_multiple_of(12) => Xr::Dlrr(d),
            (6, 36) => Xr::StatisticsSummary {
                flags: self.type_specific,
                ssrc: be32(d, 0),
                begin: be16(d, 4),
                end: be16(d, 6),
                values: std::array::from_fn(|i| be32(d, 8 + 4 * i)),
                ttl: [d[32], d[33], d[34], d[35]],
            },
            (7, 32) => Xr::VoipMetrics(VoipMetrics {
                ssrc: be32(d, 0),
                loss_rate: d[4],
                discard_rate: d[5],
                burst_density: d[6],
                gap_density: d[7],
                burst_duration: be16(d, 8),
                gap_duration: be16(d, 10),
                round_trip_delay: be16(d, 12),
                end_system_delay: be16(d, 14),
                signal_level: d[16] as i8,
                noise_level: d[17] as i8,
                rerl: d[18],
                gmin: d[19],
                r_factor: d[20],
                ext_r_factor: d[21],
                mos_lq: d[22],
                mos_cq: d[23],
                rx_config: d[24],
                jb_nominal: be16(d, 26),
                jb_maximum: be16(d, 28),
                jb_abs_max: be16(d, 30),
            }),
            _ => Xr::Unknown,
        }
    }
}

impl VoipMetrics {
    /// Writes the block (header included, 36 bytes) into `out`.
    #[inline]
    pub fn write(&self, out: &mut [u8]) -> Result<usize, crate::Error> {
        let o = out
            .get_mut(..36)
            .ok_or(crate::Error::BufferTooSmall { required: 36 })?;
        o[0] = 7;
        o[1] = 0;
        o[2..4].copy_from_slice(&8u16.to_be_bytes());
        o[4..8].copy_from_slice(&self.ssrc.to_be_bytes());
        o[8] = self.loss_rate;
        o[9] = self.discard_rate;
        o[10] = self.burst_density;
        o[11] = self.gap_density;
        o[12..14].copy_from_slice(&self.burst_duration.to_be_bytes());
        o[14..16].copy_from_slice(&self.gap_duration.to_be_bytes());
        o[16..18].copy_from_slice(&self.round_trip_delay.to_be_bytes());
        o[18..20].copy_from_slice(&self.end_system_delay.to_be_bytes());
        o[20] = self.signal_level as u8;
        o[21] = self.noise_level as u8;
        o[22] = self.rerl;
        o[23] = self.gmin;
        o[24] = self.r_factor;
        o[25] = self.ext_r_factor;
        o[26] = self.mos_lq;
        o[27] = self.mos_cq;
        o[28] = self.rx_config;
        o[29] = 0;
        o[30..32].copy_from_slice(&self.jb_nominal.to_be_bytes());
        o[32..34].copy_from_slice(&self.jb_maximum.to_be_bytes());
        o[34..36].copy_from_slice(&self.jb_abs_max.to_be_bytes());
        Ok(36)
    }
}
