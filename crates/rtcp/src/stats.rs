//! Reception statistics of RFC 3550 Appendix A: sequence validation and probation (A.1), the
//! extended highest sequence number, cumulative and fractional loss (A.3), interarrival jitter
//! (A.8), and the LSR/DLSR fields from which the sender computes the round-trip time (§6.4.1).

use std::time::{Duration, Instant};

use crate::packet::ReportBlock;

const RTP_SEQ_MOD: u32 = 1 << 16;
const MAX_DROPOUT: u32 = 3000;
const MAX_MISORDER: u32 = 100;
const MIN_SEQUENTIAL: u32 = 2;

/// What a receiver knows about one source.
#[derive(Debug, Clone)]
pub struct ReceiverStats {
    clock_rate: u32,
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    transit: Option<i64>,
    /// Jitter in timestamp units, scaled by 16 as in A.8.
    jitter16: u64,
    epoch: Option<Instant>,
    last_sr: Option<(u32, Instant)>,
    started: bool,
    bursts: LossRuns,
}

/// Loss and receipt runs, as the burst and gap figures of RFC 3611 §4.7.2 describe them
/// (here with a burst being any run of consecutive losses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LossRuns {
    /// Runs of consecutive lost packets.
    pub bursts: u32,
    /// Packets lost in them.
    pub burst_packets: u32,
    /// Runs of consecutive received packets between losses.
    pub gaps: u32,
    /// Packets received in them.
    pub gap_packets: u32,
}

impl LossRuns {
    /// Mean packets per loss burst.
    #[must_use]
    pub fn mean_burst(&self) -> f64 {
        if self.bursts == 0 {
            0.0
        } else {
            f64::from(self.burst_packets) / f64::from(self.bursts)
        }
    }

    /// Mean packets received between bursts.
    #[must_use]
    pub fn mean_gap(&self) -> f64 {
        if self.gaps == 0 {
            f64::from(self.gap_packets)
        } else {
            f64::from(self.gap_packets) / f64::from(self.gaps)
        }
    }

    /// G.107 BurstR: the mean burst length over what random loss of the same rate would give
    /// (1 / (1 − p)); 1 for random loss, above 1 for bursty loss.
    #[must_use]
    pub fn burst_ratio(&self) -> f64 {
        let total = f64::from(self.burst_packets + self.gap_packets);
        if self.bursts == 0 || total == 0.0 {
            return 1.0;
        }
        let p = f64::from(self.burst_packets) / total;
        (self.mean_burst() * (1.0 - p)).max(1.0)
    }
}

impl ReceiverStats {
    /// Statistics for a source whose RTP clock runs at `clock_rate` Hz.
    #[must_use]
    pub fn new(clock_rate: u32) -> Self {
        ReceiverStats {
            clock_rate: clock_rate.max(1),
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter16: 0,
            epoch: None,
            last_sr: None,
            started: false,
            bursts: LossRuns::default(),
        }
    }

    fn init_seq(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// RFC 3550 A.1 `update_seq`: true when the packet counts (the source is valid).
    fn update_seq(&mut self, seq: u16) -> bool {
        if !self.started {
            self.started = true;
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let udelta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        } else if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles += RTP_SEQ_MOD;
            }
            self.max_seq = seq;
            // A jump forward: the packets in between are (so far) a loss burst.
            if udelta > 1 {
                self.bursts.bursts += 1;
                self.bursts.burst_packets += udelta - 1;
                self.bursts.gaps += 1;
            }
            self.bursts.gap_packets += 1;
        } else if udelta <= RTP_SEQ_MOD - MAX_MISORDER {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets: the source restarted.
                self.init_seq(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (RTP_SEQ_MOD - 1);
                return false;
            }
        }
        // Otherwise a duplicate or reordered packet.
        self.received += 1;
        true
    }

    /// Accounts a received RTP packet. `arrival` is when it arrived; true when it counted.
    pub fn on_rtp(&mut self, seq: u16, rtp_timestamp: u32, arrival: Instant) -> bool {
        if !self.update_seq(seq) {
            return false;
        }
        // A.8: transit time in timestamp units, from an arbitrary epoch.
        let epoch = *self.epoch.get_or_insert(arrival);
        let since = arrival.saturating_duration_since(epoch);
        let arrival_ts = (since.as_nanos() * u128::from(self.clock_rate) / 1_000_000_000) as i64;
        let transit = arrival_ts - i64::from(rtp_timestamp);
        if let Some(prev) = self.transit {
            let d = (transit - prev).unsigned_abs();
            // J += (|D| - J) / 16, in fixed point scaled by 16.
            self.jitter16 = self.jitter16 + d - ((self.jitter16 + 8) >> 4);
        }
        self.transit = Some(transit);
        true
    }

    /// Notes a sender report from this source (for LSR and DLSR).
    pub fn on_sender_report(&mut self, ntp: u64, arrival: Instant) {
        self.last_sr = Some(((ntp >> 16) as u32, arrival));
    }

    /// The extended highest sequence number received.
    #[must_use]
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets expected so far.
    #[must_use]
    pub fn expected(&self) -> u32 {
        self.extended_max()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets received and counted.
    #[must_use]
    pub fn received(&self) -> u32 {
        self.received
    }

    /// Cumulative loss, clamped to the 24-bit signed field (negative with duplicates).
    #[must_use]
    pub fn cumulative_lost(&self) -> i32 {
        let lost = i64::from(self.expected()) - i64::from(self.received);
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    /// The interarrival jitter in timestamp units.
    #[must_use]
    pub fn jitter(&self) -> u32 {
        (self.jitter16 >> 4) as u32
    }

    /// The jitter as time.
    #[must_use]
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(f64::from(self.jitter()) / f64::from(self.clock_rate))
    }

    /// Loss bursts and the gaps between them (late packets are not taken back out).
    #[must_use]
    pub fn loss_runs(&self) -> LossRuns {
        self.bursts
    }

    /// Whether the source passed probation.
    #[must_use]
    pub fn is_valid(&self) -> bool {
        self.started && self.probation == 0
    }

    /// The report block for this source at `now`, advancing the interval counters of A.3.
    pub fn report_block(&mut self, now: Instant, ssrc: u32) -> ReportBlock {
        let block = self.peek_report_block(now, ssrc);
        self.advance_interval();
        block
    }

    /// The report block [`ReceiverStats::report_block`] would give, without advancing the
    /// interval counters (for a report that may not be sent).
    #[must_use]
    pub fn peek_report_block(&self, now: Instant, ssrc: u32) -> ReportBlock {
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        let received_interval = self.received.wrapping_sub(self.received_prior);
        let lost_interval = i64::from(expected_interval) - i64::from(received_interval);
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / i64::from(expected_interval)).min(255) as u8
        };
        let (lsr, dlsr) = match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                (lsr, (d.as_secs_f64() * 65_536.0) as u32)
            }
            None => (0, 0),
        };
        ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            highest_seq: self.extended_max(),
            jitter: self.jitter(),
            lsr,
            dlsr,
        }
    }

    /// Starts the next reporting interval of A.3 (the report for this one went out).
    pub fn advance_interval(&mut self) {
        self.expected_prior = self.expected();
        self.received_prior = self.received;
    }
}

/// The round-trip time from a report block about our stream (§6.4.1): A − LSR − DLSR, where A
/// is the arrival time in the middle 32 bits of NTP.
///
/// Our reading where §6.4.1 is silent: A and DLSR are truncated to 1/65536 s, so on a path
/// of a few microseconds (loopback, a LAN) the difference can come out a few units below
/// zero; a result less than 1 ms below zero is such truncation and gives zero, anything
/// further below zero or over a minute is unusable (`None`).
#[must_use]
pub fn round_trip_time(block: &ReportBlock, arrival_ntp: u64) -> Option<Duration> {
    if block.lsr == 0 {
        return None;
    }
    let a = (arrival_ntp >> 16) as u32;
    let rtt = a.wrapping_sub(block.lsr).wrapping_sub(block.dlsr);
    // 1 ms in units of 1/65536 s, rounded up.
    const TRUNCATION: u32 = 66;
    if rtt.wrapping_neg() <= TRUNCATION {
        return Some(Duration::ZERO);
    }
    // A negative result wraps to a huge value: treat anything over a minute as unusable.
    (rtt < 60 << 16).then(|| Duration::from_secs_f64(f64::from(rtt) / 65_536.0))
}

/// NTP time (seconds since 1900 in 32.32 fixed point) for an instant, given one known pair.
#[derive(Debug, Clone, Copy)]
pub struct NtpClock {
    at: Instant,
    ntp: u64,
}

impl NtpClock {
    /// A clock that reads `ntp` at `at` (the caller supplies wall-clock time once).
    #[must_use]
    pub fn new(at: Instant, ntp: u64) -> Self {
        NtpClock { at, ntp }
    }

    /// NTP time at `now`.
    #[must_use]
    pub fn ntp(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.at);
        let frac = (u128::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        self.ntp
            .wrapping_add(d.as_secs() << 32)
            .wrapping_add(frac as u64)
    }
}

/// NTP 32.32 time (seconds since 1900) of a wall-clock time given as the time since the Unix
/// epoch (what a session's `ntp_now` wants; the caller reads the clock).
///
/// ```
/// use std::time::Duration;
/// // The Unix epoch is 2,208,988,800 s after the NTP one; half a second is 0x8000_0000.
/// let t = ocs_rtcp::stats::ntp_from_unix(Duration::from_millis(500));
/// assert_eq!(t, (2_208_988_800u64 << 32) | 0x8000_0000);
/// ```
#[must_use]
pub fn ntp_from_unix(since_epoch: Duration) -> u64 {
    const UNIX_TO_NTP: u64 = 2_208_988_800;
    let frac = (u64::from(since_epoch.subsec_nanos()) << 32) / 1_000_000_000;
    ((since_epoch.as_secs() + UNIX_TO_NTP) << 32) | frac
}

/// The RTP timestamp for a wall-clock instant, from the last packet sent (for SR, §6.4.1).
#[must_use]
pub fn rtp_timestamp_at(last_ts: u32, last_at: Instant, now: Instant, clock_rate: u32) -> u32 {
    let d = now.saturating_duration_since(last_at);
    let ticks = d.as_nanos() * u128::from(clock_rate) / 1_000_000_000;
    last_ts.wrapping_add(ticks as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probation_then_counting() {
        let t = Instant::now();
        let mut s = ReceiverStats::new(8000);
        assert!(!s.on_rtp(100, 0, t));
        assert!(s.on_rtp(101, 160, t));
        assert!(s.is_valid());
        for seq in 102..110 {
            assert!(s.on_rtp(seq, u32::from(seq) * 160, t));
        }
        assert_eq!(s.expected(), 9);
        assert_eq!(s.received(), 9);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn loss_wrap_and_fraction() {
        let t = Instant::now();
        let mut s = ReceiverStats::new(8000);
        let mut seq = 65_530u16;
        for i in 0..20u32 {
            if i % 5 != 4 {
                s.on_rtp(seq, i * 160, t);
            }
            seq = seq.wrapping_add(1);
        }
        // The last packet (i = 19) was lost: the highest is i = 18, past the wrap.
        assert_eq!(s.extended_max(), 65_536 + u32::from(seq.wrapping_sub(2)));
        let b = s.report_block(t, 1);
        // Probation used the first two packets; 18 expected since, 4 lost... 3 of them counted.
        assert_eq!(b.cumulative_lost, 3);
        assert_eq!(b.fraction_lost, ((3 << 8) / 18) as u8);
        let b = s.report_block(t, 1);
        assert_eq!(b.fraction_lost, 0);
    }

    #[test]
    fn jitter_of_a_steady_stream_is_zero_and_grows_with_variation() {
        let t0 = Instant::now();
        let mut s = ReceiverStats::new(8000);
        for i in 0..50u32 {
            s.on_rtp(
                i as u16,
                i * 160,
                t0 + Duration::from_millis(20 * u64::from(i)),
            );
        }
        assert_eq!(s.jitter(), 0);
        for i in 50..2000u32 {
            let wobble = if i % 2 == 0 { 0 } else { 10 };
            s.on_rtp(
                i as u16,
                i * 160,
                t0 + Duration::from_millis(20 * u64::from(i) + wobble),
            );
        }
        // |D| alternates at 10 ms = 80 ticks: J converges to 80.
        assert!((78..=80).contains(&s.jitter()), "{}", s.jitter());
    }

    #[test]
    fn bursts_and_gaps() {
        let t = Instant::now();
        let mut s = ReceiverStats::new(8000);
        // 0..100 with bursts: 10-11 lost (2), 50 lost (1), 80-83 lost (4).
        for seq in (0u16..100).filter(|q| !matches!(q, 10 | 11 | 50 | 80..=83)) {
            s.on_rtp(seq, u32::from(seq) * 160, t);
        }
        let r = s.loss_runs();
        assert_eq!((r.bursts, r.burst_packets), (3, 7));
        assert!((r.mean_burst() - 7.0 / 3.0).abs() < 1e-9);
        assert!(r.burst_ratio() > 2.0);
    }

    #[test]
    fn an_rtt_a_truncation_below_zero_is_zero() {
        // Loopback: the report comes back with DLSR a unit longer than A − LSR (both were
        // truncated to 1/65536 s). Issue #24: every such report used to give no RTT at all.
        let b = ReportBlock {
            lsr: 0xb705_2000,
            dlsr: 0x0000_1001,
            ..Default::default()
        };
        let arrival = 0xb705_3000u64 << 16;
        assert_eq!(round_trip_time(&b, arrival), Some(Duration::ZERO));
        let arrival = 0xb705_3001u64 << 16;
        assert_eq!(round_trip_time(&b, arrival), Some(Duration::ZERO));
        // 2 ms below zero is not truncation: unusable.
        let arrival = (0xb705_3001u64 - 131) << 16;
        assert_eq!(round_trip_time(&b, arrival), None);
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        // RFC 3550 §6.4.1 figure: A = 0xb710:8000 (46864.500), LSR = 0xb705:2000
        // (46853.125), DLSR = 0x0005:4000 (5.250) -> RTT 6.125 s.
        let b = ReportBlock {
            lsr: 0xb705_2000,
            dlsr: 0x0005_4000,
            ..Default::default()
        };
        let arrival = 0xb710_8000u64 << 16;
        assert_eq!(
            round_trip_time(&b, arrival),
            Some(Duration::from_secs_f64(6.125))
        );
    }

    #[test]
    fn ntp_clock() {
        let t = Instant::now();
        let c = NtpClock::new(t, 5 << 32);
        assert_eq!(
            c.ntp(t + Duration::from_millis(1500)),
            (6 << 32) + (1 << 31)
        );
        assert_eq!(
            rtp_timestamp_at(1000, t, t + Duration::from_millis(20), 8000),
            1160
        );
    }
}
