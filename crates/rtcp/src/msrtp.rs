//! The [MS-RTP] 2.2.11 profile-specific extensions that follow the report blocks of SR and RR:
//! `Type u16 | Length u16 (bytes, header included) | data`. Unknown types are kept raw.

use crate::rtp::{be16, be32};

/// One profile-specific extension, as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProfileExtension<'a> {
    /// The type.
    pub ext_type: u16,
    /// The data after the 4-byte header.
    pub data: &'a [u8],
}

/// The typed view of a [`ProfileExtension`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum MsExtension {
    /// Type 1, Estimated Bandwidth (2.2.11.1): bits per second, or a sentinel
    /// (0xFFFFFFFD, 0xFFFFFFFB, 0xFFFFFFFA) announcing packet-pair or packet-train support.
    EstimatedBandwidth {
        /// The source.
        ssrc: u32,
        /// Bits per second or sentinel.
        bandwidth: u32,
        /// The confidence level (4 bits), when the 16-byte form is used.
        confidence: Option<u8>,
    },
    /// Type 4, Packet Loss Notification (2.2.11.2).
    PacketLossNotification {
        /// The sequence number of the lost packet.
        sequence_number: u16,
    },
    /// Type 5, Video Preference (2.2.11.3).
    VideoPreference {
        /// Width.
        width: u16,
        /// Height.
        height: u16,
        /// Bit rate (kbps; reserved, 0).
        bit_rate: u32,
        /// Frame rate (reserved, 0).
        frame_rate: u16,
    },
    /// Type 6, Padding (2.2.11.4).
    Padding {
        /// Its length in bytes.
        len: usize,
    },
    /// Type 7, Policy Server Bandwidth (2.2.11.5), bits per second.
    PolicyServerBandwidth(u32),
    /// Type 8, TURN Server Bandwidth (2.2.11.6), bits per second.
    TurnServerBandwidth(u32),
    /// Type 9, Audio Healer Metrics (2.2.11.7), frames of 10 ms.
    AudioHealerMetrics {
        /// The source.
        ssrc: u32,
        /// Concealed frames.
        concealed: u32,
        /// Stretched frames.
        stretched: u32,
        /// Compressed frames.
        compressed: u32,
        /// Total frames.
        total: u32,
        /// The last word as written (reserved, receive quality state, FEC distance request).
        state: u32,
    },
    /// Type 10, Receiver-side Bandwidth Limit (2.2.11.8), bits per second.
    ReceiverBandwidthLimit(u32),
    /// Type 11, Packet Train Packet (2.2.11.9).
    PacketTrainPacket {
        /// The source.
        ssrc: u32,
        /// Last packet of the train.
        last: bool,
        /// Index in the train.
        index: u8,
        /// Reserved bit R.
        r: bool,
        /// Packets in the train.
        count: u8,
        /// Bytes in the train.
        byte_count: u16,
    },
    /// Type 12, Peer Info Exchange (2.2.11.10).
    PeerInfoExchange {
        /// The source.
        ssrc: u32,
        /// Inbound link bandwidth, bits per second.
        inbound: u32,
        /// Outbound link bandwidth, bits per second.
        outbound: u32,
        /// The NC (no cache) bit.
        no_cache: bool,
    },
    /// Type 13, Network Congestion Notification (2.2.11.11).
    NetworkCongestion {
        /// NTP time (32.32).
        ntp: u64,
        /// Congestion bits: 0 uncongested/OWD, 1 congested/OWD, 2 uncongested/loss, 3 congested/loss.
        info: u8,
    },
    /// Type 14, Modality Send Bandwidth Limit (2.2.11.12).
    ModalitySendBandwidthLimit {
        /// The modality (2 = video).
        modality: u8,
        /// Bits per second.
        bandwidth: u32,
    },
    /// Any other type, or a known type with an unexpected length: see [`ProfileExtension`].
    Unknown,
}

impl<'a> ProfileExtension<'a> {
    /// Iterates over checked extension bytes.
    #[inline]
    pub(crate) fn iter(mut b: &'a [u8]) -> impl Iterator<Item = ProfileExtension<'a>> + 'a {
        std::iter::from_fn(move || {
            if b.len() < 4 {
                return None;
            }
            let len = usize::from(be16(b, 2)).clamp(4, b.len());
            let e = ProfileExtension {
                ext_type: be16(b, 0),
                data: &b[4..len],
            };
            b = &b[len..];
            Some(e)
        })
    }

    /// The typed view.
    #[must_use]
    #[inline]
    pub fn typed(&self) -> MsExtension {
        let d = self.data;
        match (self.ext_type, d.len()) {
            (1, 8 | 12) => MsExtension::EstimatedBandwidth {
                ssrc: be32(d, 0),
                bandwidth: be32(d, 4),
                confidence: (d.len() == 12).then(|| d[8] >> 4),
            },
            (4, 4) => MsExtension::PacketLossNotification {
                sequence_number: be16(d, 2),
            },
            (5, 16) => MsExtension::VideoPreference {
                width: be16(d, 4),
                height: be16(d, 6),
                bit_rate: be32(d, 8),
                frame_rate: be16(d, 12),
            },
            (6, n) if n.is_multiple_of(4) => MsExtension::Padding { len: n + 4 },
            (7, 8) => MsExtension::PolicyServerBandwidth(be32(d, 4)),
            (8, 8) => MsExtension::TurnServerBandwidth(be32(d, 4)),
            (9, 24) => MsExtension::AudioHealerMetrics {
                ssrc: be32(d, 0),
                concealed: be32(d, 4),
                stretched: be32(d, 8),
                compressed: be32(d, 12),
                total: be32(d, 16),
                state: be32(d, 20),
            },
            (10, 8) => MsExtension::ReceiverBandwidthLimit(be32(d, 4)),
            (11, 8) => MsExtension::PacketTrainPacket {
                ssrc: be32(d, 0),
                last: d[4] & 0x80 != 0,
                index: d[4] & 0x7f,
                r: d[5] & 0x80 != 0,
                count: d[5] & 0x7f,
                byte_count: be16(d, 6),
            },
            (12, 16) => MsExtension::PeerInfoExchange {
                ssrc: be32(d, 0),
                inbound: be32(d, 4),
                outbound: be32(d, 8),
                no_cache: d[12] & 0x80 != 0,
            },
            (13, 12) => MsExtension::NetworkCongestion {
                ntp: u64::from(be32(d, 0)) << 32 | u64::from(be32(d, 4)),
                info: d[8],
            },
            (14, 8) => MsExtension::ModalitySendBandwidthLimit {
                modality: d[0],
                bandwidth: be32(d, 4),
            },
            _ => MsExtension::Unknown,
        }
    }
}

impl MsExtension {
    /// The encoded length in bytes, header included (0 for [`MsExtension::Unknown`]).
    #[must_use]
    pub fn encoded_len(&self) -> usize {
        match *self {
            MsExtension::EstimatedBandwidth {
                confidence: Some(_),
                ..
            } => 16,
            MsExtension::EstimatedBandwidth {
                confidence: None, ..
            } => 12,
            MsExtension::PacketLossNotification { .. } => 8,
            MsExtension::VideoPreference { .. } => 20,
            MsExtension::Padding { len } => len,
            MsExtension::AudioHealerMetrics { .. } => 28,
            MsExtension::PeerInfoExchange { .. } => 20,
            MsExtension::NetworkCongestion { .. } => 16,
            MsExtension::Unknown => 0,
            _ => 12,
        }
    }

    /// Writes this extension (type, length, data) into `out`, returning its length. Nothing is
    /// written for [`MsExtension::Unknown`] (write the raw [`ProfileExtension`] instead).
    #[inline]
    pub fn write(&self, out: &mut [u8]) -> Result<usize, crate::Error> {
        let mut d = [0u8; 24];
        let (t, n): (u16, usize) = match *self {
            MsExtension::EstimatedBandwidth {
                ssrc,
                bandwidth,
                confidence,
            } => {
                d[0..4].copy_from_slice(&ssrc.to_be_bytes());
                d[4..8].copy_from_slice(&bandwidth.to_be_bytes());
                match confidence {
                    Some(c) => {
                        d[8] = c << 4;
                        (1, 12)
                    }
                    None => (1, 8),
                }
            }
            MsExtension::PacketLossNotification { sequence_number } => {
                d[2..4].copy_from_slice(&sequence_number.to_be_bytes());
                (4, 4)
            }
            MsExtension::VideoPreference {
                width,
                height,
                bit_rate,
                frame_rate,
            } => {
                d[4..6].copy_from_slice(&width.to_be_bytes());
                d[6..8].copy_from_slice(&height.to_be_bytes());
                d[8..12].copy_from_slice(&bit_rate.to_be_bytes());
                d[12..14].copy_from_slice(&frame_rate.to_be_bytes());
                (5, 16)
            }
            MsExtension::Padding { len } => {
                if len < 4 || !len.is_multiple_of(4) || len > 24 {
                    return Err(crate::Error::Unencodable("padding extension length"));
                }
                (6, len - 4)
            }
            MsExtension::PolicyServerBandwidth(b) => {
                d[4..8].copy_from_slice(&b.to_be_bytes());
                (7, 8)
            }
            MsExtension::TurnServerBandwidth(b) => {
                d[4..8].copy_from_slice(&b.to_be_bytes());
                (8, 8)
            }
            MsExtension::AudioHealerMetrics {
                ssrc,
                concealed,
                stretched,
                compressed,
                total,
                state,
            } => {
                for (i, v) in [ssrc, concealed, stretched, compressed, total, state]
                    .into_iter()
                    .enumerate()
                {
                    d[4 * i..4 * i + 4].copy_from_slice(&v.to_be_bytes());
                }
                (9, 24)
            }
            MsExtension::ReceiverBandwidthLimit(b) => {
                d[4..8].copy_from_slice(&b.to_be_bytes());
                (10, 8)
            }
            MsExtension::PacketTrainPacket {
                ssrc,
                last,
                index,
                r,
                count,
                byte_count,
            } => {
                d[0..4].copy_from_slice(&ssrc.to_be_bytes());
                d[4] = (u8::from(last) << 7) | (index & 0x7f);
                d[5] = (u8::from(r) << 7) | (count & 0x7f);
                d[6..8].copy_from_slice(&byte_count.to_be_bytes());
                (11, 8)
            }
            MsExtension::PeerInfoExchange {
                ssrc,
                inbound,
                outbound,
                no_cache,
            } => {
                d[0..4].copy_from_slice(&ssrc.to_be_bytes());
                d[4..8].copy_from_slice(&inbound.to_be_bytes());
                d[8..12].copy_from_slice(&outbound.to_be_bytes());
                d[12] = u8::from(no_cache) << 7;
                (12, 16)
            }
            MsExtension::NetworkCongestion { ntp, info } => {
                d[0..8].copy_from_slice(&ntp.to_be_bytes());
                d[8] = info;
                (13, 12)
            }
            MsExtension::ModalitySendBandwidthLimit {
                modality,
                bandwidth,
            } => {
                d[0] = modality;
                d[4..8].copy_from_slice(&bandwidth.to_be_bytes());
                (14, 8)
            }
            MsExtension::Unknown => return Ok(0),
        };
        let total = 4 + n;
        let o = out
            .get_mut(..total)
            .ok_or(crate::Error::BufferTooSmall { required: total })?;
        o[0..2].copy_from_slice(&t.to_be_bytes());
        o[2..4].copy_from_slice(&(total as u16).to_be_bytes());
        o[4..].copy_from_slice(&d[..n]);
        Ok(total)
    }
}
