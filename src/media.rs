//! The A/V MCU's audio relay, sans-IO: SRTP in from each participant, SRTP out to every other
//! one, an RTCP session per leg, and the dominant speaker.
//!
//! Each participant (a *leg*) sends SRTP under its own key (the `a=crypto` of its offer) and
//! receives SRTP under the key the MCU chose for it (the `a=crypto` of the answer). A packet
//! that arrives is unprotected once with its sender's key — with that stream's replay
//! protection — and, when its sender is the dominant speaker, protected again with each
//! receiver's key, one packet per receiver out of [`Relay::poll_transmit`] into the caller's
//! buffer; nothing is allocated per packet.
//!
//! The shape is the workspace's: inputs ([`Relay::relay_rtp`], [`Relay::handle_rtcp`],
//! [`Relay::handle_timeout`] when [`Relay::poll_timeout`] is due, [`Relay::set_dominant`]),
//! then [`Relay::poll_transmit`] until it returns `Ok(None)`.
//!
//! The audio relay **mixes** ([`Relay::new`]): each participant hears the sum of the others.
//! A packet that arrives is unprotected with its sender's key, its G.711 payload (PCMU or
//! PCMA) decoded into that leg's jitter buffer at the place its RTP timestamp says (40 ms of
//! buffering; a packet older than what was mixed is dropped, one too far ahead re-anchors the
//! buffer). Every 20 ms ([`Relay::handle_timeout`]) the mixer takes one frame of 160 samples
//! from every leg, sums them, and each receiver gets the sum less its own frame — the N−1
//! mix — clipped to 16 bits and encoded in the receiver's own law, as one coherent stream per
//! leg (the MCU's SSRC for that leg, its own sequence numbers, timestamps going on 160 per
//! frame, the marker bit on the first packet after a pause). The mixed packet's CSRCs name
//! the contributing speakers ([MS-RTP] 2.2.1, RFC 3550 §6.1: the sources mixed in), loudest
//! first, at most 15, leaving out the receiver itself; a frame counts as speech above a mean
//! magnitude of 100 (about −50 dBov). Nothing is sent to a leg while nobody else sends.
//!
//! The relay also elects the dominant speaker (the loudest smoothed level, changing only when
//! another is clearly louder, ×1.5, for at least 300 ms, or when the current one has been
//! silent for 200 ms): the video follows it. [`Relay::switching`] is the older audio relay
//! that forwards the dominant speaker's packets alone, its SSRC as the only CSRC.
//!
//! Video goes through a relay of its own ([`Relay::video`]) the same way, following the audio
//! relay's dominant speaker ([`Relay::set_dominant`]) and asking each new speaker for a key
//! frame (RTCP PLI).
//!
//! Per leg, an `ocs-rtcp` session reports on the participant's stream (RR blocks with loss,
//! jitter, LSR/DLSR) and on ours (SR with the counts of what was relayed to it), at the RFC
//! 3550 A.7 interval, protected as SRTCP. The participant's reports about our stream give the
//! round-trip time; with loss and jitter of its uplink they make the per-participant quality
//! ([`Relay::report`]). The reports carry the [MS-RTP] 2.2.11 profile extensions the MCU can
//! fill: Estimated Bandwidth (the participant's receive rate since the last report) and
//! Policy Server Bandwidth (80 kbit/s a leg, what a G.711 leg needs with headers).

use std::time::{Duration, Instant};

use crate::rtcp::msrtp::MsExtension;
use crate::rtcp::quality::Quality;
use crate::rtcp::rtp::RtpPacket;
use crate::rtcp::session::{Config as RtcpConfig, Session as RtcpSession};
use crate::srtp::{Policy, Session as SrtpSession};

/// A leg, numbered by the caller.
pub type LegId = u64;

/// Why a packet was not relayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RelayError {
    /// No such leg.
    #[error("no leg {0}")]
    UnknownLeg(LegId),
    /// SRTP refused the packet (authentication, replay, malformed), with the reason.
    #[error("leg {leg}: SRTP: {error}")]
    Srtp {
        /// The leg.
        leg: LegId,
        /// What SRTP said.
        error: crate::srtp::Error,
    },
    /// The packet is not RTP or RTCP (after unprotection), with the reason.
    #[error("leg {leg}: {error}")]
    Rtp {
        /// The leg.
        leg: LegId,
        /// What the parser said.
        error: crate::rtcp::Error,
    },
}

/// What a relay carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaKind {
    /// Audio at 8 kHz: the relay elects the dominant speaker from the levels it hears.
    Audio,
    /// Video at 90 kHz: the relay follows the dominant speaker it is told
    /// ([`Relay::set_dominant`], from the audio relay), keeps the sender's marker bits (frame
    /// ends), and asks a new speaker for a key frame (RTCP PLI).
    Video,
}

/// How a participant's audio is keyed.
#[derive(Debug, Clone, Copy)]
pub struct LegSetup<'a> {
    /// Its key: what it sends with (its offer's `a=crypto`); `None` for plain RTP (an
    /// [MS-SDPEXT] optional-encryption offer answered without SRTP).
    pub inbound: Option<&'a Policy>,
    /// Ours for it: what the MCU sends to it with (the answer's `a=crypto`); `None` for plain
    /// RTP.
    pub outbound: Option<&'a Policy>,
    /// The MCU's SSRC toward it.
    pub ssrc: u32,
    /// Randomness for its RTCP interval and initial sequence number and timestamp.
    pub seed: u64,
    /// The payload type it takes (the answer's): PCMU 0 or PCMA 8 is what a mixing relay
    /// encodes for it; other relays forward what the speaker sent.
    pub payload_type: u8,
}

/// Samples in one mixed frame: 20 ms at 8 kHz.
pub const MIX_FRAME: usize = 160;
/// The mixer's period.
const MIX_PERIOD: Duration = Duration::from_millis(20);
/// A leg's jitter buffer, in samples (a power of two: 256 ms).
const RING: usize = 2048;
/// Frames of delay before a leg's first packet is mixed.
const JITTER_FRAMES: u32 = 2;
/// A frame at or below this mean magnitude is silence: mixed, but not named in the CSRCs.
const SPEECH_LEVEL: u64 = 100;
/// The most CSRCs an RTP header carries.
const MAX_CSRCS: usize = 15;

/// One leg's side of the mixer: its jitter buffer and this period's frame.
struct MixIn {
    /// Decoded samples by RTP timestamp modulo [`RING`]; zero where nothing arrived (and once
    /// mixed).
    ring: Box<[i16]>,
    /// The sender's timestamp at the mixer's read position, once it has sent.
    read_ts: Option<u32>,
    /// The timestamp just past the newest sample written.
    newest: u32,
    /// What it put into the current mix.
    frame: Box<[i16]>,
    /// Whether it put anything into the current mix, and its mean magnitude.
    has: bool,
    level: u64,
    /// Whether the last mix was sent to it.
    sent: bool,
    /// Packets that came after their time was mixed, and how many in a row.
    late: u64,
    late_run: u32,
}

impl MixIn {
    fn new() -> MixIn {
        MixIn {
            ring: vec![0; RING].into_boxed_slice(),
            read_ts: None,
            newest: 0,
            frame: vec![0; MIX_FRAME].into_boxed_slice(),
            has: false,
            level: 0,
            sent: false,
            late: 0,
            late_run: 0,
        }
    }

    /// Decodes a G.711 payload (PCMU 0, PCMA 8) of timestamp `ts` into the buffer.
    fn put(&mut self, pt: u8, ts: u32, payload: &[u8]) {
        let decode: fn(u8) -> i16 = match pt {
            0 => audio_codec_algorithms::decode_ulaw,
            8 => audio_codec_algorithms::decode_alaw,
            _ => return,
        };
        let len = payload.len().min(RING - MIX_FRAME);
        let mut anchor = self.read_ts.is_none();
        if let Some(read) = self.read_ts {
            let ahead = ts.wrapping_sub(read) as i32;
            if (-(RING as i32)..0).contains(&ahead) {
                // Behind what was mixed. With nothing buffered (a pause after which the
                // sender's timestamps did not move on) or after ten late ones in a row (its
                // clock slower than ours), the buffer starts again from it; otherwise it is
                // dropped.
                self.late += 1;
                self.late_run += 1;
                if self.has_data() && self.late_run < 10 {
                    return;
                }
                anchor = true;
            } else if ahead < 0 || ahead as usize + len > RING {
                // A jump (a new talk spurt after a pause, a clock far ahead).
                anchor = true;
            } else {
                self.late_run = 0;
            }
        }
        if anchor {
            self.ring.fill(0);
            self.read_ts = Some(ts.wrapping_sub(JITTER_FRAMES * MIX_FRAME as u32));
            self.late_run = 0;
        }
        for (k, &b) in payload[..len].iter().enumerate() {
            self.ring[ts.wrapping_add(k as u32) as usize & (RING - 1)] = decode(b);
        }
        let end = ts.wrapping_add(len as u32);
        if anchor || end.wrapping_sub(self.newest) as i32 > 0 || !self.has_data() {
            self.newest = end;
        }
    }

    /// Whether samples wait in the buffer at or after the read position.
    fn has_data(&self) -> bool {
        self.read_ts
            .is_some_and(|r| self.newest.wrapping_sub(r) as i32 > 0)
    }

    /// Takes the next frame out of the buffer into `frame`, adding it to `sum`.
    fn take(&mut self, sum: &mut [i32]) {
        self.has = self.has_data();
        self.level = 0;
        let Some(read) = self.read_ts else {
            return;
        };
        if !self.has {
            self.read_ts = Some(read.wrapping_add(MIX_FRAME as u32));
            return;
        }
        let mut magnitude = 0u64;
        for (k, (f, s)) in self.frame.iter_mut().zip(sum.iter_mut()).enumerate() {
            let i = read.wrapping_add(k as u32) as usize & (RING - 1);
            *f = std::mem::take(&mut self.ring[i]);
            *s += i32::from(*f);
            magnitude += u64::from(f.unsigned_abs());
        }
        self.level = magnitude / MIX_FRAME as u64;
        self.read_ts = Some(read.wrapping_add(MIX_FRAME as u32));
    }
}

/// What the MCU knows of one participant's audio.
#[derive(Debug, Clone, PartialEq)]
pub struct LegReport {
    /// The leg.
    pub leg: LegId,
    /// The participant's SSRC, once it has sent.
    pub ssrc: Option<u32>,
    /// RTP packets received from it.
    pub received: u64,
    /// Packets it lost on the way to us (cumulative, RFC 3550 A.3).
    pub lost: i64,
    /// Loss, jitter, RTT and MOS of its uplink as the MCU measures them (RTT from its reports
    /// about the MCU's stream).
    pub quality: Option<Quality>,
    /// Packets relayed to it (mixed for it, on a mixing relay).
    pub relayed: u64,
    /// Its packets that came after their time was mixed (a mixing relay drops them).
    pub late: u64,
}

/// One direction of a leg: SRTP, or plain RTP and RTCP.
enum Protection {
    Srtp(Box<SrtpSession>),
    Plain,
}

impl Protection {
    fn unprotect_rtp(&mut self, p: &mut [u8]) -> Result<usize, crate::srtp::Error> {
        match self {
            Protection::Srtp(s) => s.unprotect_rtp(p),
            Protection::Plain => Ok(p.len()),
        }
    }

    fn unprotect_rtcp(&mut self, p: &mut [u8]) -> Result<usize, crate::srtp::Error> {
        match self {
            Protection::Srtp(s) => s.unprotect_rtcp(p),
            Protection::Plain => Ok(p.len()),
        }
    }

    fn protect_rtp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, crate::srtp::Error> {
        match self {
            Protection::Srtp(s) => s.protect_rtp(buf, len),
            Protection::Plain => Ok(len),
        }
    }

    fn protect_rtcp(&mut self, buf: &mut [u8], len: usize) -> Result<usize, crate::srtp::Error> {
        match self {
            Protection::Srtp(s) => s.protect_rtcp(buf, len),
            Protection::Plain => Ok(len),
        }
    }
}

struct Leg {
    id: LegId,
    inbound: Protection,
    outbound: Protection,
    rtcp: RtcpSession,
    /// The MCU's SSRC toward this leg.
    ssrc: u32,
    /// The participant's SSRC.
    remote: Option<u32>,
    /// Smoothed level of its audio, and when it last sent.
    level: f64,
    last_heard: Option<Instant>,
    /// Our stream to it: next sequence number, last timestamp sent and when, the offset from
    /// the current speaker's timestamps, whether the next packet starts a talk spurt.
    seq: u16,
    last_ts: u32,
    last_sent: Option<Instant>,
    ts_offset: u32,
    speaker: Option<u32>,
    received: u64,
    relayed: u64,
    /// The last measurement of its uplink (cumulative loss, quality), kept when the RTCP
    /// session forgets the source (its BYE, a time-out).
    last: Option<(i64, Quality)>,
    /// Bytes of its RTP received (IP and UDP headers counted) since `since`.
    bytes_in: u64,
    since: Instant,
    /// The payload type it takes.
    pt: u8,
    /// Its side of the mixer (a mixing relay only).
    mix: Option<MixIn>,
}

impl Leg {
    /// Takes a fresh measurement if the RTCP session has one.
    fn measure(&mut self) {
        let Some(s) = self.remote else { return };
        if let (Some(st), Some(q)) = (self.rtcp.source(s), self.rtcp.quality(s)) {
            self.last = Some((i64::from(st.cumulative_lost()), q));
        }
    }
}

/// A packet for one leg, written by [`Relay::poll_transmit`] at the start of the caller's
/// buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transmit {
    /// The leg it goes to.
    pub leg: LegId,
    /// Its length in the buffer.
    pub len: usize,
    /// SRTCP (to the leg's RTCP address) rather than SRTP.
    pub rtcp: bool,
}

/// The caller's buffer cannot hold the next packet; nothing was taken. Call again with at
/// least `required` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the output buffer is too small: {required} bytes are needed")]
pub struct BufferTooSmall {
    /// The room the next packet needs.
    pub required: usize,
}

/// Room an SRTP or SRTCP packet needs past its plain length (authentication tag, SRTCP index,
/// MKI), generously.
const TRAILER: usize = 64;

/// The dominant speaker's packet, waiting to be protected for each other leg.
#[derive(Debug, Clone, Copy)]
struct Pending {
    /// The sender's index in `legs`.
    from: usize,
    ssrc: u32,
    ts: u32,
    pt: u8,
    marker: bool,
    /// When it arrived.
    at: Instant,
    /// The next receiver's index in `legs`.
    next: usize,
}

/// How an audio relay gives each participant the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// The sum of the others.
    Mix,
    /// The dominant speaker's packets.
    Switch,
}

/// The relay of one conference: see the [module documentation](self).
pub struct Relay {
    mode: Mode,
    /// When the next frame is mixed (while anyone has sent).
    mix_next: Option<Instant>,
    /// When the current mix was made, and the next receiver to send it to.
    mix_at: Instant,
    mix_out: Option<usize>,
    /// The current mix (every leg's frame added).
    sum: Box<[i32]>,
    /// This mix's speakers, loudest first: (level, SSRC, leg index).
    speakers: Vec<(u64, u32, usize)>,
    /// How many legs put something into this mix.
    mixed: usize,
    legs: Vec<Leg>,
    dominant: Option<LegId>,
    since: Option<Instant>,
    /// The payload of [`Pending`] (its capacity kept: nothing allocated per packet).
    payload: Vec<u8>,
    pending: Option<Pending>,
    /// A key-frame request for this leg (a new dominant speaker), to be sent.
    pli: Option<LegId>,
    /// Legs from this index on may have RTCP reports to send (after a timeout).
    rtcp_from: Option<usize>,
    kind: MediaKind,
    clock_rate: u32,
    /// What a leg may use, bits per second ([MS-RTP] Policy Server Bandwidth).
    policy_bandwidth: u32,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Relay")
            .field("legs", &self.legs.len())
            .field("dominant", &self.dominant)
            .finish_non_exhaustive()
    }
}

/// The magnitude of a G.711 µ-law sample (ITU-T G.711).
fn ulaw(b: u8) -> i32 {
    i32::from(audio_codec_algorithms::decode_ulaw(b)).abs()
}

/// The magnitude of a G.711 A-law sample.
fn alaw(b: u8) -> i32 {
    i32::from(audio_codec_algorithms::decode_alaw(b)).abs()
}

/// The mean magnitude of a frame (PCMU 0, PCMA 8); other payloads count their size.
fn frame_level(pt: u8, payload: &[u8]) -> f64 {
    if payload.is_empty() {
        return 0.0;
    }
    let sum: i64 = match pt {
        0 => payload.iter().map(|&b| i64::from(ulaw(b))).sum(),
        8 => payload.iter().map(|&b| i64::from(alaw(b))).sum(),
        _ => return payload.len() as f64,
    };
    sum as f64 / payload.len() as f64
}

impl Default for Relay {
    fn default() -> Self {
        Relay::new()
    }
}

impl Relay {
    /// An empty mixing relay for 8 kHz G.711 audio.
    #[must_use]
    pub fn new() -> Relay {
        Relay {
            mode: Mode::Mix,
            mix_next: None,
            mix_at: Instant::now(),
            mix_out: None,
            sum: vec![0; MIX_FRAME].into_boxed_slice(),
            speakers: Vec::new(),
            mixed: 0,
            legs: Vec::new(),
            dominant: None,
            since: None,
            payload: Vec::with_capacity(2048),
            pending: None,
            pli: None,
            rtcp_from: None,
            kind: MediaKind::Audio,
            clock_rate: 8000,
            policy_bandwidth: 80_000,
        }
    }

    /// An empty audio relay that forwards the dominant speaker alone (no mixing): one voice
    /// heard at a time.
    #[must_use]
    pub fn switching() -> Relay {
        Relay {
            mode: Mode::Switch,
            ..Relay::new()
        }
    }

    /// An empty relay for 90 kHz video that follows the dominant speaker it is told.
    #[must_use]
    pub fn video() -> Relay {
        Relay {
            mode: Mode::Switch,
            kind: MediaKind::Video,
            clock_rate: 90_000,
            policy_bandwidth: 2_000_000,
            ..Relay::new()
        }
    }

    /// What it carries.
    #[must_use]
    pub fn kind(&self) -> MediaKind {
        self.kind
    }

    /// Makes `leg` the dominant speaker (a video relay follows the audio relay's choice).
    /// When it changes to a leg that has sent, a key frame request (an RTCP compound of an
    /// empty RR and a PLI, RFC 4585, as SRTCP) for that leg comes out of
    /// [`Relay::poll_transmit`] next: its video reaches the others from a decodable frame.
    pub fn set_dominant(&mut self, leg: Option<LegId>) {
        if self.dominant == leg {
            return;
        }
        self.dominant = leg;
        self.pli = leg.filter(|id| self.legs.iter().any(|l| l.id == *id && l.remote.is_some()));
    }

    /// Adds a participant (replacing a leg with the same id); `ntp_now` is the wall clock as
    /// NTP 32.32.
    ///
    /// # Errors
    /// A policy SRTP refuses.
    pub fn add_leg(
        &mut self,
        id: LegId,
        setup: LegSetup<'_>,
        now: Instant,
        ntp_now: u64,
    ) -> Result<(), RelayError> {
        let LegSetup {
            inbound,
            outbound,
            ssrc,
            seed,
            payload_type,
        } = setup;
        let srtp = |error| RelayError::Srtp { leg: id, error };
        let inb = match inbound {
            Some(policy) => {
                let mut s = SrtpSession::new();
                s.add_inbound_template(policy).map_err(srtp)?;
                Protection::Srtp(Box::new(s))
            }
            None => Protection::Plain,
        };
        let out = match outbound {
            Some(policy) => {
                let mut s = SrtpSession::new();
                s.add_stream(ssrc, policy).map_err(srtp)?;
                Protection::Srtp(Box::new(s))
            }
            None => Protection::Plain,
        };
        self.remove_leg(id);
        let mut cfg = RtcpConfig::audio(ssrc, &format!("avmcu-{id}@ocs"));
        if self.kind == MediaKind::Video {
            cfg.clock_rate = 90_000;
            cfg.session_bandwidth = u64::from(self.policy_bandwidth);
        }
        self.pending = None;
        self.mix_out = None;
        let mixing = self.mode == Mode::Mix;
        if mixing {
            self.speakers.reserve(self.legs.len() + 1);
        }
        self.legs.push(Leg {
            id,
            inbound: inb,
            outbound: out,
            rtcp: RtcpSession::new(
                cfg,
                now,
                ntp_now,
                <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
            ),
            ssrc,
            remote: None,
            level: 0.0,
            last_heard: None,
            seq: (seed >> 16) as u16,
            last_ts: (seed >> 32) as u32,
            last_sent: None,
            ts_offset: 0,
            speaker: None,
            received: 0,
            relayed: 0,
            last: None,
            bytes_in: 0,
            since: now,
            pt: payload_type,
            mix: mixing.then(MixIn::new),
        });
        Ok(())
    }

    /// Removes a participant.
    pub fn remove_leg(&mut self, id: LegId) {
        // Indices move: a packet still queued is dropped (drain before changing the legs).
        if self.legs.iter().any(|l| l.id == id) {
            self.pending = None;
            self.mix_out = None;
        }
        self.legs.retain(|l| l.id != id);
        if self.dominant == Some(id) {
            self.dominant = None;
        }
    }

    /// How many legs.
    #[must_use]
    pub fn len(&self) -> usize {
        self.legs.len()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.legs.is_empty()
    }

    /// The dominant speaker's leg and SSRC.
    #[must_use]
    pub fn dominant_speaker(&self) -> Option<(LegId, u32)> {
        let id = self.dominant?;
        let leg = self.legs.iter().find(|l| l.id == id)?;
        Some((id, leg.remote?))
    }

    fn index(&self, id: LegId) -> Result<usize, RelayError> {
        self.legs
            .iter()
            .position(|l| l.id == id)
            .ok_or(RelayError::UnknownLeg(id))
    }

    /// An SRTP packet from leg `from`, unprotected in place; when its sender is the dominant
    /// speaker it is queued for every other leg: drain [`Relay::poll_transmit`] before the
    /// next input. Returns how many legs it is queued for.
    ///
    /// # Errors
    /// An unknown leg, or a packet SRTP refuses (forged, replayed, malformed): nothing is
    /// queued.
    pub fn relay_rtp(
        &mut self,
        now: Instant,
        from: LegId,
        packet: &mut [u8],
    ) -> Result<usize, RelayError> {
        let i = self.index(from)?;
        let n = self.legs[i]
            .inbound
            .unprotect_rtp(packet)
            .map_err(|error| RelayError::Srtp { leg: from, error })?;
        let rtp =
            RtpPacket::parse(&packet[..n]).map_err(|error| RelayError::Rtp { leg: from, error })?;
        let (ssrc, ts, pt, marker) = (
            rtp.ssrc(),
            rtp.timestamp(),
            rtp.payload_type(),
            rtp.marker(),
        );
        let level = frame_level(pt, rtp.payload());
        {
            let leg = &mut self.legs[i];
            // Reception statistics of its uplink; a collision with our SSRC is the session's
            // business (an event), not a reason to drop.
            let _ = leg.rtcp.handle_rtp(now, &packet[..n]);
            leg.remote = Some(ssrc);
            leg.level = leg.level * 0.8 + level * 0.2;
            leg.last_heard = Some(now);
            leg.received += 1;
            leg.bytes_in += packet.len() as u64 + 28;
        }
        if self.kind == MediaKind::Audio {
            self.elect(now, i);
        }
        if let Some(mix) = self.legs[i].mix.as_mut() {
            let at = rtp.header_len();
            let len = n - at - rtp.padding_len();
            mix.put(pt & 0x7F, ts, &packet[at..at + len]);
            self.mix_next.get_or_insert(now + MIX_PERIOD);
            return Ok(0);
        }
        if self.dominant != Some(from) {
            return Ok(0);
        }
        // The payload waits for a fresh header per receiver.
        let payload_at = rtp.header_len();
        let payload_len = n - payload_at - rtp.padding_len();
        self.payload.clear();
        self.payload
            .extend_from_slice(&packet[payload_at..payload_at + payload_len]);
        self.pending = Some(Pending {
            from: i,
            ssrc,
            ts,
            pt,
            marker,
            at: now,
            next: 0,
        });
        Ok(self.legs.len() - 1)
    }

    /// Writes the next packet to send at the start of `buf` — a key-frame request, the
    /// dominant speaker's packet for the next receiver, or an RTCP report that is due — as SRTP
    /// or SRTCP under that leg's key. Call until `Ok(None)` after every input and timeout.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `buf` cannot hold the next packet (nothing is taken).
    #[must_use = "packets left in the queue are never sent"]
    pub fn poll_transmit(
        &mut self,
        now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<Transmit>, BufferTooSmall> {
        if let Some(id) = self.pli {
            if buf.len() < 1400 {
                return Err(BufferTooSmall { required: 1400 });
            }
            self.pli = None;
            if let Some(l) = self.legs.iter_mut().find(|l| l.id == id)
                && let Some(media) = l.remote
            {
                let mut w = crate::rtcp::writer::Writer::new(&mut buf[..1400 - TRAILER]);
                let written = w
                    .receiver_report(l.ssrc, &[], &[])
                    .and_then(|()| w.pli(l.ssrc, media, None));
                let n = w.len();
                if written.is_ok()
                    && let Ok(m) = l.outbound.protect_rtcp(buf, n)
                {
                    return Ok(Some(Transmit {
                        leg: id,
                        len: m,
                        rtcp: true,
                    }));
                }
            }
        }
        while let Some(p) = self.pending {
            if p.next >= self.legs.len() {
                self.pending = None;
                break;
            }
            if p.next == p.from {
                self.pending = Some(Pending {
                    next: p.next + 1,
                    ..p
                });
                continue;
            }
            let required = 16 + self.payload.len() + TRAILER;
            if buf.len() < required {
                return Err(BufferTooSmall { required });
            }
            self.pending = Some(Pending {
                next: p.next + 1,
                ..p
            });
            if let Some(len) = self.protect_for(p, buf) {
                return Ok(Some(Transmit {
                    leg: self.legs[p.next].id,
                    len,
                    rtcp: false,
                }));
            }
        }
        while let Some(r) = self.mix_out {
            if r >= self.legs.len() {
                self.mix_out = None;
                break;
            }
            let required = 12 + 4 * MAX_CSRCS + MIX_FRAME + TRAILER;
            if buf.len() < required {
                return Err(BufferTooSmall { required });
            }
            self.mix_out = Some(r + 1);
            if let Some(len) = self.mixed_for(r, buf) {
                return Ok(Some(Transmit {
                    leg: self.legs[r].id,
                    len,
                    rtcp: false,
                }));
            }
        }
        while let Some(i) = self.rtcp_from {
            let Some(leg) = self.legs.get_mut(i) else {
                self.rtcp_from = None;
                break;
            };
            if buf.len() < 1400 {
                return Err(BufferTooSmall { required: 1400 });
            }
            match leg.rtcp.poll_transmit(now, &mut buf[..1400 - TRAILER]) {
                Ok(Some(n)) => {
                    if let Ok(m) = leg.outbound.protect_rtcp(buf, n) {
                        return Ok(Some(Transmit {
                            leg: leg.id,
                            len: m,
                            rtcp: true,
                        }));
                    }
                }
                // Nothing more from this leg (a report larger than 1,336 bytes cannot be: 31
                // blocks and the extensions fit).
                Ok(None) | Err(_) => self.rtcp_from = Some(i + 1),
            }
        }
        Ok(None)
    }

    /// The pending packet behind a fresh header for receiver `p.next`, protected into `buf`.
    fn protect_for(&mut self, p: Pending, buf: &mut [u8]) -> Option<usize> {
        let (clock_rate, kind) = (self.clock_rate, self.kind);
        let payload_len = self.payload.len();
        let leg = &mut self.legs[p.next];
        let new_spurt = leg.speaker != Some(p.ssrc);
        if new_spurt {
            // Timestamps go on from the last one sent, by the time that passed.
            let gap = leg.last_sent.map_or(0, |t| {
                let d = p.at.saturating_duration_since(t);
                (d.as_secs_f64() * f64::from(clock_rate)) as u32
            });
            // At least one frame: two speakers' packets can leave in the same instant.
            let frame = match kind {
                MediaKind::Audio if matches!(p.pt, 0 | 8) => payload_len as u32,
                MediaKind::Audio => clock_rate / 50,
                MediaKind::Video => clock_rate / 30,
            };
            leg.ts_offset = leg.last_ts.wrapping_add(gap.max(frame)).wrapping_sub(p.ts);
            leg.speaker = Some(p.ssrc);
        }
        let out_ts = p.ts.wrapping_add(leg.ts_offset);
        // Audio marks the start of a talk spurt; video keeps the sender's frame ends.
        let mark = match kind {
            MediaKind::Audio => new_spurt,
            MediaKind::Video => p.marker,
        };
        // The speaker is the first (only) CSRC ([MS-RTP]).
        let header = crate::rtcp::rtp::RtpHeader {
            marker: mark,
            payload_type: p.pt & 0x7F,
            sequence_number: leg.seq,
            timestamp: out_ts,
            ssrc: leg.ssrc,
            csrcs: &[p.ssrc],
            extensions: &[],
        };
        let len = header.write(&self.payload, 0, buf).ok()?;
        let _ = leg.rtcp.on_rtp_sent(p.at, &buf[..len]);
        let m = leg.outbound.protect_rtp(buf, len).ok()?;
        leg.seq = leg.seq.wrapping_add(1);
        leg.last_ts = out_ts;
        leg.last_sent = Some(p.at);
        leg.relayed += 1;
        Some(m)
    }

    /// Mixes one frame: every leg's next frame summed; the receivers are served from
    /// [`Relay::poll_transmit`].
    fn mix(&mut self, now: Instant) {
        self.sum.fill(0);
        self.speakers.clear();
        self.mixed = 0;
        for (i, leg) in self.legs.iter_mut().enumerate() {
            let Some(m) = leg.mix.as_mut() else { continue };
            m.take(&mut self.sum);
            self.mixed += usize::from(m.has);
            if m.has
                && m.level > SPEECH_LEVEL
                && let Some(ssrc) = leg.remote
            {
                self.speakers.push((m.level, ssrc, i));
            }
        }
        self.speakers
            .sort_unstable_by_key(|s| std::cmp::Reverse(s.0));
        self.mix_at = now;
        self.mix_out = Some(0);
    }

    /// The current mix less receiver `r`'s own frame, encoded in its law behind a fresh
    /// header, protected into `buf`. `None` when nobody else is in this mix (nothing is sent
    /// to it; its timestamps go on).
    fn mixed_for(&mut self, r: usize, buf: &mut [u8]) -> Option<usize> {
        let leg = &mut self.legs[r];
        let m = leg.mix.as_mut()?;
        // Anyone but the receiver in this mix.
        let others = self.mixed > usize::from(m.has);
        let was_sent = m.sent;
        m.sent = others;
        if !others {
            return None;
        }
        // The next frame; after a pause, as many frames on as the time that passed.
        let frames = match leg.last_sent {
            Some(t) if !was_sent => {
                let d = self.mix_at.saturating_duration_since(t);
                ((d.as_millis() + 10) / MIX_PERIOD.as_millis()).max(1) as u64
            }
            _ => 1,
        };
        // Modulo 2^32, as RTP timestamps are (a pause of days wraps them).
        let step = frames.wrapping_mul(MIX_FRAME as u64) as u32;
        leg.last_ts = leg.last_ts.wrapping_add(step);
        let encode: fn(i16) -> u8 = if leg.pt == 8 {
            audio_codec_algorithms::encode_alaw
        } else {
            audio_codec_algorithms::encode_ulaw
        };
        self.payload.clear();
        let own = m.has.then_some(&m.frame);
        for (k, &s) in self.sum.iter().enumerate() {
            let v = s - own.map_or(0, |f| i32::from(f[k]));
            self.payload.push(encode(
                v.clamp(i32::from(i16::MIN), i32::from(i16::MAX)) as i16
            ));
        }
        let mut csrcs = [0u32; MAX_CSRCS];
        let mut n = 0;
        for &(_, ssrc, i) in &self.speakers {
            if i != r && n < MAX_CSRCS {
                csrcs[n] = ssrc;
                n += 1;
            }
        }
        let header = crate::rtcp::rtp::RtpHeader {
            marker: !was_sent,
            payload_type: if leg.pt == 8 { 8 } else { 0 },
            sequence_number: leg.seq,
            timestamp: leg.last_ts,
            ssrc: leg.ssrc,
            csrcs: &csrcs[..n],
            extensions: &[],
        };
        let len = header.write(&self.payload, 0, buf).ok()?;
        let _ = leg.rtcp.on_rtp_sent(self.mix_at, &buf[..len]);
        let out = leg.outbound.protect_rtp(buf, len).ok()?;
        leg.seq = leg.seq.wrapping_add(1);
        leg.last_sent = Some(self.mix_at);
        leg.relayed += 1;
        Some(out)
    }

    /// Elects the dominant speaker after leg `i` sent.
    fn elect(&mut self, now: Instant, i: usize) {
        let id = self.legs[i].id;
        let Some(cur) = self
            .dominant
            .and_then(|d| self.legs.iter().find(|l| l.id == d))
        else {
            self.dominant = Some(id);
            self.since = Some(now);
            return;
        };
        if cur.id == id {
            return;
        }
        let silent = cur
            .last_heard
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(200));
        let held = self
            .since
            .is_none_or(|t| now.saturating_duration_since(t) >= Duration::from_millis(300));
        if silent || (held && self.legs[i].level > cur.level * 1.5 + 1.0) {
            self.dominant = Some(id);
            self.since = Some(now);
        }
    }

    /// An SRTCP packet from leg `from`: unprotected in place and given to its RTCP session.
    ///
    /// # Errors
    /// An unknown leg, SRTCP's refusal, or RTCP that does not parse.
    pub fn handle_rtcp(
        &mut self,
        now: Instant,
        from: LegId,
        packet: &mut [u8],
    ) -> Result<(), RelayError> {
        let i = self.index(from)?;
        let leg = &mut self.legs[i];
        let n = leg
            .inbound
            .unprotect_rtcp(packet)
            .map_err(|error| RelayError::Srtp { leg: from, error })?;
        // What it says may end the source (BYE): measure before, and after (a new RTT).
        leg.measure();
        let r = leg
            .rtcp
            .handle_rtcp(now, &packet[..n])
            .map_err(|error| RelayError::Rtp { leg: from, error });
        leg.measure();
        r
    }

    /// When [`Relay::handle_timeout`] is next due.
    #[must_use = "without it the reports are never sent"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let rtcp = self.legs.iter().filter_map(|l| l.rtcp.poll_timeout()).min();
        match (rtcp, self.mix_next) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Makes the RTCP reports due at `now`; they come out of [`Relay::poll_transmit`],
    /// protected as SRTCP.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(due) = self.mix_next.filter(|t| *t <= now) {
            self.mix(now);
            // One frame per period; a caller far behind (over 100 ms) skips ahead.
            let next = due + MIX_PERIOD;
            self.mix_next = Some(if now.saturating_duration_since(next) > 5 * MIX_PERIOD {
                now + MIX_PERIOD
            } else {
                next
            });
            if !self
                .legs
                .iter()
                .any(|l| l.mix.as_ref().is_some_and(MixIn::has_data))
            {
                let anyone = self
                    .legs
                    .iter()
                    .any(|l| l.mix.as_ref().is_some_and(|m| m.has));
                if !anyone {
                    // Nobody sends: the mixer sleeps until the next packet, which anchors
                    // its leg's buffer afresh.
                    self.mix_next = None;
                    for m in self.legs.iter_mut().filter_map(|l| l.mix.as_mut()) {
                        m.read_ts = None;
                    }
                }
            }
        }
        self.rtcp_from = Some(0);
        for leg in &mut self.legs {
            if leg.rtcp.poll_timeout().is_some_and(|t| t <= now) {
                leg.rtcp.handle_timeout(now);
                // The [MS-RTP] extensions the MCU can fill: the bandwidth it sees the
                // participant use (its receive rate since the last report: a lower bound of
                // the link's capacity), and what policy grants a leg.
                let secs = now.saturating_duration_since(leg.since).as_secs_f64();
                let mut ext = vec![MsExtension::PolicyServerBandwidth(self.policy_bandwidth)];
                if let (Some(ssrc), true) = (leg.remote, secs > 0.0) {
                    ext.insert(
                        0,
                        MsExtension::EstimatedBandwidth {
                            ssrc,
                            bandwidth: ((leg.bytes_in * 8) as f64 / secs) as u32,
                            confidence: None,
                        },
                    );
                }
                leg.rtcp.set_extensions(ext);
                leg.bytes_in = 0;
                leg.since = now;
            }
            while leg.rtcp.poll_event().is_some() {}
            leg.measure();
        }
    }

    /// What the MCU measures of each participant.
    #[must_use]
    pub fn report(&self) -> Vec<LegReport> {
        self.legs
            .iter()
            .map(|l| {
                let now = l.remote.and_then(|s| {
                    let st = l.rtcp.source(s)?;
                    Some((i64::from(st.cumulative_lost()), l.rtcp.quality(s)?))
                });
                let (lost, quality) = now.or(l.last).unzip();
                LegReport {
                    leg: l.id,
                    ssrc: l.remote,
                    received: l.received,
                    lost: lost.unwrap_or(0),
                    quality,
                    relayed: l.relayed,
                    late: l.mix.as_ref().map_or(0, |m| m.late),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::srtp::Policy;

    #[test]
    fn g711_magnitudes() {
        // Silence codes and the extremes, on the 16-bit scale (ITU-T G.711 decoding tables:
        // µ-law ±32124, A-law ±32256 at full scale).
        assert_eq!(ulaw(0xFF), 0);
        assert_eq!(ulaw(0x7F), 0);
        assert_eq!(ulaw(0x00), 32124);
        assert_eq!(ulaw(0x80), 32124);
        assert_eq!(alaw(0xD5), 8);
        assert_eq!(alaw(0x55), 8);
        assert_eq!(alaw(0xAA), 32256);
        assert_eq!(alaw(0x2A), 32256);
    }

    #[test]
    fn an_unknown_leg_and_a_forged_packet_are_errors() {
        let mut r = Relay::new();
        let now = Instant::now();
        let p = Policy::ms_srtp(&[7; 30]).unwrap();
        let setup = LegSetup {
            inbound: Some(&p),
            outbound: Some(&p),
            ssrc: 0x100,
            seed: 1,
            payload_type: 0,
        };
        r.add_leg(1, setup, now, 0).unwrap();
        let mut junk = [0u8; 40];
        junk[0] = 0x80;
        assert_eq!(
            r.relay_rtp(now, 9, &mut junk),
            Err(RelayError::UnknownLeg(9))
        );
        assert!(matches!(
            r.relay_rtp(now, 1, &mut junk),
            Err(RelayError::Srtp { leg: 1, .. })
        ));
    }
}
