//! A sans-IO RTCP session (RFC 3550 §6.2, §6.3, Appendix A.7): members and senders, reception
//! statistics per source, the randomized transmission interval with timer and BYE
//! reconsideration, member time-outs, round-trip times, and call quality. The [MS-RTP] timer
//! modes replace the interval with 250 ms (packet-pair fast) or 1 s (packet-train fast).
//!
//! Shape: `handle_rtp(now, ..)`, `handle_rtcp(now, ..)`, `on_rtp_sent(now, ..)`,
//! `poll_timeout()`, `handle_timeout(now)`, `poll_transmit(now, buf)`, `poll_event()`. Time
//! comes in as [`Instant`], wall-clock time once as NTP, randomness from a seed.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::packet::{Compound, Kind, Limits, ReportBlock};
use crate::quality::{Codec, Quality};
use crate::rtp::RtpPacket;
use crate::stats::{NtpClock, ReceiverStats, round_trip_time, rtp_timestamp_at};
use crate::writer::Writer;

/// How often reports go out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimerMode {
    /// RFC 3550 §6.2: a share of the session bandwidth, randomized.
    #[default]
    Normal,
    /// [MS-RTP]: every 250 ms while measuring bandwidth with packet pairs.
    PacketPairFast,
    /// [MS-RTP]: every second while measuring bandwidth with packet trains.
    PacketTrainFast,
}

/// Session settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our SSRC.
    pub ssrc: u32,
    /// Our CNAME (SDES item 1), at most 255 bytes.
    pub cname: String,
    /// The RTP clock rate of the media (8,000 for G.711).
    pub clock_rate: u32,
    /// The session bandwidth in bits per second (RTCP takes [`Config::rtcp_fraction`] of it).
    pub session_bandwidth: u64,
    /// RTCP's share of the session bandwidth (RFC 3550: 5 %).
    pub rtcp_fraction: f64,
    /// The minimum interval (RFC 3550: 5 s; halved for the first report).
    pub min_interval: Duration,
    /// Members silent for this many deterministic intervals time out (RFC 3550: 5).
    pub timeout_intervals: u32,
    /// The codec, for the quality estimate.
    pub codec: Codec,
    /// The timer mode.
    pub timer_mode: TimerMode,
}

impl Config {
    /// Defaults for a G.711 audio stream of 64 kbit/s.
    #[must_use]
    pub fn audio(ssrc: u32, cname: &str) -> Self {
        Config {
            ssrc,
            cname: cname.to_string(),
            clock_rate: 8000,
            session_bandwidth: 64_000 + 16_000,
            rtcp_fraction: 0.05,
            min_interval: Duration::from_secs(5),
            timeout_intervals: 5,
            codec: Codec::G711,
            timer_mode: TimerMode::Normal,
        }
    }
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Event {
    /// A report about our stream arrived.
    ReportReceived {
        /// Who reported.
        from: u32,
        /// The block about us.
        block: ReportBlock,
        /// The round-trip time it yields.
        rtt: Option<Duration>,
    },
    /// A member left.
    Bye {
        /// The member.
        ssrc: u32,
        /// The reason, if given.
        reason: Option<String>,
    },
    /// A member fell silent for longer than the time-out.
    Timeout {
        /// The member.
        ssrc: u32,
    },
    /// Feedback arrived (RFC 4585).
    Feedback {
        /// Sender of the feedback.
        sender: u32,
        /// The media source it is about.
        media: u32,
        /// RTPFB (true) or PSFB.
        transport: bool,
        /// FMT.
        fmt: u8,
    },
    /// Another source uses our SSRC (RFC 3550 §8.2): pick a new one and send a BYE for the old.
    SsrcCollision {
        /// The SSRC.
        ssrc: u32,
    },
    /// Our own RTCP came back to us (same SSRC and same CNAME): a forwarding loop (§8.2).
    Loop {
        /// Our SSRC.
        ssrc: u32,
    },
    /// The quality estimate of a source changed by at least 0.1 MOS.
    QualityChanged {
        /// The source.
        ssrc: u32,
        /// The new estimate.
        quality: Quality,
    },
}

#[derive(Debug, Clone)]
struct Member {
    stats: Option<ReceiverStats>,
    last_heard: Instant,
    last_rtp: Option<Instant>,
    last_mos: Option<f64>,
}

/// An RTCP session for one local source.
///
/// ```
/// use std::time::{Duration, Instant};
/// use ocs_rtcp::session::{Config, Session};
/// let t0 = Instant::now();
/// # use rand::SeedableRng;
/// let rng = rand::rngs::StdRng::seed_from_u64(42);
/// let mut s = Session::new(Config::audio(0x1111, "alice@contoso.com"), t0, 0xe7a0_0000_0000_0000, rng);
/// let mut buf = [0u8; 1500];
/// // Run the timer until the first report goes out (reconsideration may postpone it).
/// let (at, n) = loop {
///     let t = s.poll_timeout().unwrap();
///     s.handle_timeout(t);
///     if let Some(n) = s.poll_transmit(t, &mut buf).unwrap() {
///         break (t, n);
///     }
/// };
/// assert!(at > t0 && at < t0 + Duration::from_secs(10));
/// assert!(n >= 8 + 12);
/// ```
pub struct Session {
    cfg: Config,
    clock: NtpClock,
    /// The caller's generator: the RFC 3550 A.7 interval randomization.
    rng: Box<dyn rand_core::Rng + Send>,
    members: HashMap<u32, Member>,
    we_sent: bool,
    last_sent: Option<(u32, Instant)>,
    packets_sent: u32,
    octets_sent: u32,
    avg_rtcp_size: f64,
    initial: bool,
    tp: Instant,
    tn: Instant,
    pmembers: usize,
    pending: bool,
    leaving: Option<String>,
    left: bool,
    rtt: HashMap<u32, Duration>,
    events: VecDeque<Event>,
    /// [MS-RTP] profile extensions written into every SR/RR.
    extensions: Vec<crate::msrtp::MsExtension>,
}

/// UDP and IPv4 header bytes counted into the average RTCP size (RFC 3550 §6.2).
const OVERHEAD: f64 = 28.0;

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("ssrc", &self.cfg.ssrc)
            .field("members", &self.members.len())
            .field("next", &self.tn)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session starting at `now`, when the wall clock reads `ntp_now` (NTP 32.32); `rng`
    /// randomizes the report interval (RFC 3550 A.7; it need not be cryptographic).
    #[must_use]
    pub fn new(
        cfg: Config,
        now: Instant,
        ntp_now: u64,
        rng: impl rand_core::Rng + Send + 'static,
    ) -> Self {
        let mut s = Session {
            clock: NtpClock::new(now, ntp_now),
            rng: Box::new(rng),
            members: HashMap::new(),
            we_sent: false,
            last_sent: None,
            packets_sent: 0,
            octets_sent: 0,
            avg_rtcp_size: 8.0 + 12.0 + cfg.cname.len() as f64 + OVERHEAD,
            initial: true,
            tp: now,
            tn: now,
            pmembers: 1,
            pending: false,
            leaving: None,
            left: false,
            rtt: HashMap::new(),
            events: VecDeque::new(),
            extensions: Vec::new(),
            cfg,
        };
        s.tn = now + s.interval(false);
        s
    }

    /// Uniform in [0, 1).
    fn random(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn senders(&self, now: Instant) -> usize {
        let window = self.deterministic_interval() * 2;
        self.members
            .values()
            .filter(|m| {
                m.last_rtp
                    .is_some_and(|t| now.saturating_duration_since(t) < window)
            })
            .count()
            + usize::from(self.we_sent)
    }

    fn deterministic_interval(&self) -> Duration {
        let members = (self.members.len() + 1) as f64;
        let bw = self.cfg.session_bandwidth as f64 / 8.0 * self.cfg.rtcp_fraction;
        let t =
            (self.avg_rtcp_size * members / bw.max(1.0)).max(self.cfg.min_interval.as_secs_f64());
        Duration::from_secs_f64(t)
    }

    /// RFC 3550 A.7 `rtcp_interval`, or the [MS-RTP] fixed intervals.
    fn interval(&mut self, deterministic: bool) -> Duration {
        match self.cfg.timer_mode {
            TimerMode::PacketPairFast => return Duration::from_millis(250),
            TimerMode::PacketTrainFast => return Duration::from_secs(1),
            TimerMode::Normal => {}
        }
        let members = (self.members.len() + 1) as f64;
        let senders = self.senders(self.tp.max(self.tn)) as f64;
        let mut bw = self.cfg.session_bandwidth as f64 / 8.0 * self.cfg.rtcp_fraction;
        let mut n = members;
        if senders > 0.0 && senders <= members * 0.25 {
            if self.we_sent {
                bw *= 0.25;
                n = senders;
            } else {
                bw *= 0.75;
                n -= senders;
            }
        }
        let mut tmin = self.cfg.min_interval.as_secs_f64();
        if self.initial {
            tmin /= 2.0;
        }
        let t = (self.avg_rtcp_size * n / bw.max(1.0)).max(tmin);
        if deterministic {
            return Duration::from_secs_f64(t);
        }
        // Randomize to 0.5..1.5 of the interval, then the e - 3/2 compensation.
        let t = t * (self.random() + 0.5) / (std::f64::consts::E - 1.5);
        Duration::from_secs_f64(t)
    }

    /// Notes an RTP packet we sent (for the SR's counts and timestamp).
    pub fn on_rtp_sent(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        let p = RtpPacket::parse(packet)?;
        self.we_sent = true;
        self.packets_sent = self.packets_sent.wrapping_add(1);
        self.octets_sent = self.octets_sent.wrapping_add(p.payload().len() as u32);
        self.last_sent = Some((p.timestamp(), now));
        Ok(())
    }

    fn member(&mut self, ssrc: u32, now: Instant) -> &mut Member {
        self.members.entry(ssrc).or_insert(Member {
            stats: None,
            last_heard: now,
            last_rtp: None,
            last_mos: None,
        })
    }

    /// A received RTP packet.
    pub fn handle_rtp(&mut self, now: Instant, packet: &[u8]) -> Result<(), Error> {
        let p = RtpPacket::parse(packet)?;
        if p.ssrc() == self.cfg.ssrc {
            self.events
                .push_back(Event::SsrcCollision { ssrc: p.ssrc() });
            return Ok(());
        }
        let rate = self.cfg.clock_rate;
        let m = self.member(p.ssrc(), now);
        m.last_heard = now;
        m.last_rtp = Some(now);
        m.stats
            .get_or_insert_with(|| ReceiverStats::new(rate))
            .on_rtp(p.sequence_number(), p.timestamp(), now);
        Ok(())
    }

    /// A received compound or reduced-size RTCP packet.
    pub fn handle_rtcp(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        let c = Compound::parse(data, &Limits::default())?;
        self.avg_rtcp_size =
            (data.len() as f64 + OVERHEAD) / 16.0 + self.avg_rtcp_size * 15.0 / 16.0;
        let arrival_ntp = self.clock.ntp(now);
        for p in c.packets() {
            match p.kind() {
                Kind::SenderReport(sr) => {
                    if sr.ssrc() == self.cfg.ssrc {
                        self.events
                            .push_back(Event::SsrcCollision { ssrc: sr.ssrc() });
                        continue;
                    }
                    let rate = self.cfg.clock_rate;
                    let m = self.member(sr.ssrc(), now);
                    m.last_heard = now;
                    m.stats
                        .get_or_insert_with(|| ReceiverStats::new(rate))
                        .on_sender_report(sr.ntp(), now);
                    for b in sr.reports() {
                        self.on_block(sr.ssrc(), b, arrival_ntp);
                    }
                }
                Kind::ReceiverReport(rr) => {
                    if rr.ssrc() == self.cfg.ssrc {
                        self.events
                            .push_back(Event::SsrcCollision { ssrc: rr.ssrc() });
                        continue;
                    }
                    self.member(rr.ssrc(), now).last_heard = now;
                    for b in rr.reports() {
                        self.on_block(rr.ssrc(), b, arrival_ntp);
                    }
                }
                Kind::SourceDescription(sd) => {
                    for (ssrc, mut items) in sd.chunks() {
                        if ssrc != self.cfg.ssrc {
                            continue;
                        }
                        let cname = items.find(|i| i.item_type == crate::packet::sdes::CNAME);
                        // Same CNAME: our packets looped back; another CNAME: a collision
                        // (already reported by its SR/RR).
                        if cname.is_some_and(|c| c.value == self.cfg.cname.as_bytes()) {
                            self.events.retain(|e| *e != Event::SsrcCollision { ssrc });
                            self.events.push_back(Event::Loop { ssrc });
                        }
                    }
                }
                Kind::Goodbye(b) => {
                    let reason = b.reason().map(|r| String::from_utf8_lossy(r).into_owned());
                    for s in b.sources() {
                        if self.members.remove(&s).is_some() {
                            self.events.push_back(Event::Bye {
                                ssrc: s,
                                reason: reason.clone(),
                            });
                        }
                    }
                }
                Kind::Feedback(f) => {
                    self.events.push_back(Event::Feedback {
                        sender: f.sender_ssrc(),
                        media: f.media_ssrc(),
                        transport: f.transport,
                        fmt: f.fmt,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn on_block(&mut self, from: u32, block: ReportBlock, arrival_ntp: u64) {
        if block.ssrc != self.cfg.ssrc {
            return;
        }
        let rtt = round_trip_time(&block, arrival_ntp);
        if let Some(r) = rtt {
            self.rtt.insert(from, r);
        }
        self.events
            .push_back(Event::ReportReceived { from, block, rtt });
    }

    /// When [`Session::handle_timeout`] should next be called.
    #[must_use = "the session needs its timer"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.left).then_some(self.tn)
    }

    /// Runs the timers: transmission (with timer reconsideration, A.7) and member time-outs.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.left || now < self.tn {
            return;
        }
        let limit = self.deterministic_interval() * self.cfg.timeout_intervals;
        let gone: Vec<u32> = self
            .members
            .iter()
            .filter(|(_, m)| now.saturating_duration_since(m.last_heard) > limit)
            .map(|(s, _)| *s)
            .collect();
        for s in gone {
            self.members.remove(&s);
            self.events.push_back(Event::Timeout { ssrc: s });
        }
        let t = self.interval(false);
        if self.tp + t <= now || self.leaving.is_some() {
            self.pending = true;
        } else {
            self.tn = self.tp + t;
        }
    }

    /// Writes the due RTCP compound into `buf` and returns its length; `Ok(None)` when nothing
    /// is due.
    ///
    /// # Errors
    /// [`Error::BufferTooSmall`] when the compound does not fit: it stays due, and no
    /// statistic moves on (the A.3 interval counters advance only for a report that is sent).
    #[must_use = "a report that is due and not taken is never sent"]
    pub fn poll_transmit(&mut self, now: Instant, buf: &mut [u8]) -> Result<Option<usize>, Error> {
        if !self.pending || self.left {
            return Ok(None);
        }
        let mut blocks = [ReportBlock::default(); 31];
        let mut reported = [0u32; 31];
        let mut n = 0;
        let mut quality = Vec::new();
        for (ssrc, m) in self.members.iter() {
            if n == 31 {
                break;
            }
            if let Some(st) = m.stats.as_ref().filter(|s| s.is_valid()) {
                blocks[n] = st.peek_report_block(now, *ssrc);
                reported[n] = *ssrc;
                n += 1;
                let expected = f64::from(st.expected()).max(1.0);
                let lost = f64::from(st.cumulative_lost().max(0));
                let q = Quality::estimate(
                    self.cfg.codec,
                    100.0 * lost / expected,
                    1.0,
                    st.jitter_duration(),
                    self.rtt.get(ssrc).copied(),
                );
                if m.last_mos.is_none_or(|old| (old - q.mos).abs() >= 0.1) {
                    quality.push(Event::QualityChanged {
                        ssrc: *ssrc,
                        quality: q,
                    });
                }
            }
        }
        let mut w = Writer::new(buf);
        let sent_recently = self.last_sent.is_some_and(|(_, t)| {
            now.saturating_duration_since(t) < self.deterministic_interval() * 2
        });
        let r = if sent_recently {
            let (ts, at) = self.last_sent.unwrap_or((0, now));
            w.sender_report(
                self.cfg.ssrc,
                self.clock.ntp(now),
                rtp_timestamp_at(ts, at, now, self.cfg.clock_rate),
                self.packets_sent,
                self.octets_sent,
                &blocks[..n],
                &self.extensions,
            )
        } else {
            w.receiver_report(self.cfg.ssrc, &blocks[..n], &self.extensions)
        };
        let cname = self.cfg.cname.as_bytes();
        let r = r.and_then(|()| {
            w.sdes(&[(
                self.cfg.ssrc,
                &[(crate::packet::sdes::CNAME, &cname[..cname.len().min(255)])],
            )])
        });
        let r = match &self.leaving {
            Some(reason) => r.and_then(|()| {
                w.bye(
                    &[self.cfg.ssrc],
                    (!reason.is_empty()).then_some(reason.as_bytes()),
                )
            }),
            None => r,
        };
        r?;
        let len = w.len();
        // Sent: the interval counters move on, and the qualities reported are the last known.
        for ssrc in &reported[..n] {
            if let Some(st) = self.members.get_mut(ssrc).and_then(|m| m.stats.as_mut()) {
                st.advance_interval();
            }
        }
        for e in &quality {
            if let Event::QualityChanged { ssrc, quality } = e
                && let Some(m) = self.members.get_mut(ssrc)
            {
                m.last_mos = Some(quality.mos);
            }
        }
        self.events.extend(quality);
        self.avg_rtcp_size = (len as f64 + OVERHEAD) / 16.0 + self.avg_rtcp_size * 15.0 / 16.0;
        self.tp = now;
        self.initial = false;
        self.pending = false;
        self.pmembers = self.members.len() + 1;
        if self.leaving.is_some() {
            self.left = true;
        } else {
            let t = self.interval(false);
            self.tn = now + t;
        }
        if !sent_recently {
            self.we_sent = false;
        }
        Ok(Some(len))
    }

    /// Sets the [MS-RTP] 2.2.11 profile extensions that follow the report blocks of every SR
    /// and RR from now on (Estimated Bandwidth, Policy Server Bandwidth...); empty for none.
    pub fn set_extensions(&mut self, extensions: Vec<crate::msrtp::MsExtension>) {
        self.extensions = extensions;
    }

    /// Leaves the session: a BYE goes out with the next report. With fewer than 50 members it
    /// is sent at once; otherwise BYE reconsideration (A.7) spaces it like a report.
    pub fn leave(&mut self, now: Instant, reason: &str) {
        self.leaving = Some(reason.chars().take(255).collect());
        if self.members.len() + 1 < 50 {
            self.pending = true;
        } else {
            self.members.clear();
            self.avg_rtcp_size = 8.0 + OVERHEAD;
            self.initial = true;
            self.tp = now;
            self.tn = now + self.interval(false);
        }
    }

    /// The next event, if any.
    #[must_use = "events carry reports, BYEs, feedback and quality"]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What we know about a source we receive: its statistics.
    #[must_use]
    pub fn source(&self, ssrc: u32) -> Option<&ReceiverStats> {
        self.members.get(&ssrc).and_then(|m| m.stats.as_ref())
    }

    /// The round-trip time last measured through `ssrc`'s reports.
    #[must_use]
    pub fn rtt(&self, ssrc: u32) -> Option<Duration> {
        self.rtt.get(&ssrc).copied()
    }

    /// The quality estimate of a source we receive.
    #[must_use]
    pub fn quality(&self, ssrc: u32) -> Option<Quality> {
        let st = self.source(ssrc)?;
        let expected = f64::from(st.expected()).max(1.0);
        let lost = f64::from(st.cumulative_lost().max(0));
        Some(Quality::estimate(
            self.cfg.codec,
            100.0 * lost / expected,
            1.0,
            st.jitter_duration(),
            self.rtt(ssrc),
        ))
    }

    /// Members other than us.
    #[must_use]
    pub fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Switches the timer mode ([MS-RTP] packet-pair and packet-train fast modes).
    pub fn set_timer_mode(&mut self, now: Instant, mode: TimerMode) {
        self.cfg.timer_mode = mode;
        let t = self.interval(false);
        self.tn = (self.tp + t).max(now);
    }
}
