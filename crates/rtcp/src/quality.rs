//! Call quality from RTCP statistics: loss, jitter and round-trip time turned into an
//! estimated R-factor and MOS with a simplified ITU-T G.107 E-model.
//!
//! Simplifications (our choices, documented): R0 − Is takes the G.107 default 93.2; the
//! one-way mouth-to-ear delay is estimated as RTT/2 + 2 × jitter (a jitter buffer of twice the
//! jitter) + 40 ms (packetization and playout); the advantage factor A is 0. Equipment
//! impairments come from ITU-T G.113 Appendix I.

use std::fmt;
use std::time::Duration;

/// A codec's equipment impairment factor Ie and packet-loss robustness Bpl (ITU-T G.113).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Codec {
    /// Equipment impairment at zero loss.
    pub ie: f64,
    /// Packet-loss robustness.
    pub bpl: f64,
}

impl Codec {
    /// G.711 with packet loss concealment: Ie 0, Bpl 25.1.
    pub const G711: Codec = Codec { ie: 0.0, bpl: 25.1 };
    /// G.729A with VAD: Ie 11, Bpl 19.0.
    pub const G729A: Codec = Codec {
        ie: 11.0,
        bpl: 19.0,
    };
    /// G.723.1 at 6.3 kbit/s: Ie 15, Bpl 16.1.
    pub const G723_1: Codec = Codec {
        ie: 15.0,
        bpl: 16.1,
    };
}

/// What a person reads about a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quality {
    /// Packets lost, in percent.
    pub loss_percent: f64,
    /// Interarrival jitter.
    pub jitter: Duration,
    /// Round-trip time, when known.
    pub rtt: Option<Duration>,
    /// The estimated R-factor (0–100).
    pub r_factor: f64,
    /// The estimated mean opinion score (1–4.5).
    pub mos: f64,
}

/// Words for a MOS, after the G.107 Annex B user-satisfaction categories.
#[must_use]
pub fn verdict(r_factor: f64) -> &'static str {
    match r_factor {
        r if r >= 90.0 => "excellent",
        r if r >= 80.0 => "good",
        r if r >= 70.0 => "fair",
        r if r >= 60.0 => "poor",
        _ => "bad",
    }
}

/// G.107 R to MOS.
#[must_use]
pub fn mos_from_r(r: f64) -> f64 {
    if r <= 0.0 {
        1.0
    } else if r >= 100.0 {
        4.5
    } else {
        1.0 + 0.035 * r + r * (r - 60.0) * (100.0 - r) * 7e-6
    }
}

impl Quality {
    /// Estimates call quality. `burst_ratio` is 1 for random loss and above 1 for bursty loss
    /// (G.107 BurstR).
    ///
    /// ```
    /// use std::time::Duration;
    /// use ocs_rtcp::quality::{Codec, Quality};
    /// let q = Quality::estimate(Codec::G711, 0.5, 1.0, Duration::from_millis(5), Some(Duration::from_millis(60)));
    /// assert!(q.mos > 4.2);
    /// assert_eq!(q.verdict(), "good"); // R 89.4: just below the "excellent" band
    /// assert_eq!(q.to_string(), format!("MOS {:.1}, good", q.mos));
    /// ```
    #[must_use]
    pub fn estimate(
        codec: Codec,
        loss_percent: f64,
        burst_ratio: f64,
        jitter: Duration,
        rtt: Option<Duration>,
    ) -> Self {
        let loss = loss_percent.clamp(0.0, 100.0);
        let ta = rtt.map_or(0.0, |r| r.as_secs_f64() * 500.0)
            + 2.0 * jitter.as_secs_f64() * 1000.0
            + 40.0;
        let id = 0.024 * ta + if ta > 177.3 { 0.11 * (ta - 177.3) } else { 0.0 };
        let burst = burst_ratio.max(1.0);
        let ie_eff = codec.ie + (95.0 - codec.ie) * loss / (loss / burst + codec.bpl);
        let r = (93.2 - id - ie_eff).clamp(0.0, 100.0);
        Quality {
            loss_percent: loss,
            jitter,
            rtt,
            r_factor: r,
            mos: mos_from_r(r),
        }
    }

    /// The verdict word.
    #[must_use]
    pub fn verdict(&self) -> &'static str {
        verdict(self.r_factor)
    }
}

impl fmt::Display for Quality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MOS {:.1}, {}", self.mos, self.verdict())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g107_reference_points() {
        // The G.107 mapping: R 93.2 gives MOS 4.41; R 50 gives 2.58.
        assert!((mos_from_r(93.2) - 4.41).abs() < 0.01);
        assert!((mos_from_r(50.0) - 2.58).abs() < 0.01);
        // No impairment but the fixed 40 ms: R = 93.2 - 0.96.
        let q = Quality::estimate(Codec::G711, 0.0, 1.0, Duration::ZERO, None);
        assert!((q.r_factor - 92.24).abs() < 0.01);
        // Loss hurts G.729A more than G.711; bursts hurt more than random loss.
        let a = Quality::estimate(Codec::G711, 3.0, 1.0, Duration::ZERO, None);
        let b = Quality::estimate(Codec::G729A, 3.0, 1.0, Duration::ZERO, None);
        let c = Quality::estimate(Codec::G711, 3.0, 2.0, Duration::ZERO, None);
        assert!(a.mos > b.mos && a.mos > c.mos);
        // Long delay: past 177.3 ms one way the penalty steepens.
        let d = Quality::estimate(
            Codec::G711,
            0.0,
            1.0,
            Duration::ZERO,
            Some(Duration::from_millis(600)),
        );
        // Ta = 300 + 40 ms: Id = 0.024 * 340 + 0.11 * (340 - 177.3) = 26.06, R = 67.14.
        assert!((d.r_factor - 67.14).abs() < 0.01, "{}", d.r_factor);
        assert_eq!(verdict(d.r_factor), "poor");
    }
}
