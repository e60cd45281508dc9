//! Entry points for the fuzz targets in `fuzz/` and for replaying their inputs under
//! `cargo test`. None may panic, whatever the bytes.

use crate::feedback::{Message, fir_entries, nack_lost, sli_entries, tmmb_entries};
use crate::packet::{Compound, Kind, Limits};
use crate::rtp::RtpPacket;
use crate::xr::Xr;

/// An RTP packet and everything readable from it.
pub fn rtp_packet(data: &[u8]) {
    let Ok(p) = RtpPacket::parse(data) else {
        return;
    };
    let _ = (
        p.marker(),
        p.payload_type(),
        p.sequence_number(),
        p.timestamp(),
        p.ssrc(),
    );
    let _ = p.csrcs().count();
    if let Some(e) = p.extension() {
        let _ = e.elements().count();
        let _ = e.abs_send_time(1);
    }
    let _ = (p.payload().len(), p.padding_len());
}

/// A compound RTCP packet and every field of every packet in it.
pub fn rtcp_compound(data: &[u8]) {
    for reduced in [false, true] {
        let limits = Limits {
            reduced_size: reduced,
            ..Limits::default()
        };
        let Ok(c) = Compound::parse(data, &limits) else {
            continue;
        };
        for p in c.packets() {
            match p.kind() {
                Kind::SenderReport(sr) => {
                    let _ = (
                        sr.ssrc(),
                        sr.ntp(),
                        sr.rtp_timestamp(),
                        sr.packet_count(),
                        sr.octet_count(),
                    );
                    let _ = sr.reports().count();
                    for e in sr.extensions() {
                        let _ = e.typed();
                    }
                }
                Kind::ReceiverReport(rr) => {
                    let _ = rr.reports().count();
                    for e in rr.extensions() {
                        let _ = e.typed();
                    }
                }
                Kind::SourceDescription(s) => {
                    for (_, items) in s.chunks() {
                        let _ = items.count();
                    }
                }
                Kind::Goodbye(b) => {
                    let _ = (b.sources().count(), b.reason());
                }
                Kind::App(a) => {
                    let _ = (a.subtype(), a.ssrc(), a.name(), a.data());
                }
                Kind::Feedback(f) => match f.message() {
                    Message::Nack(fci) => drop(nack_lost(fci).count()),
                    Message::Tmmbr(fci) | Message::Tmmbn(fci) => drop(tmmb_entries(fci).count()),
                    Message::Fir(fci) => drop(fir_entries(fci).count()),
                    Message::Sli(fci) => drop(sli_entries(fci).count()),
                    Message::TransportCc(t) => {
                        let _ = (
                            t.base_sequence(),
                            t.status_count(),
                            t.reference_time(),
                            t.feedback_count(),
                        );
                        let _ = t.statuses().count();
                        let _ = t.deltas().count();
                    }
                    _ => {}
                },
                Kind::ExtendedReport(x) => {
                    for b in x.blocks() {
                        if let Xr::Dlrr(d) = b.typed() {
                            let _ = d.len();
                        }
                    }
                }
                _ => {}
            }
        }
    }
}

/// Arbitrary packets into a session: the first byte of each chunk says RTP or RTCP and how far
/// virtual time advances; the session must never panic, and its timer must keep working.
pub fn rtcp_session(data: &[u8]) {
    use std::time::{Duration, Instant};

    use crate::session::{Config, Session};
    let t0 = Instant::now();
    let mut s = Session::new(Config::audio(0x5151, "fuzz"), t0, 1 << 32, Counter(7));
    let mut now = t0;
    let mut buf = [0u8; 1500];
    let mut rest = data;
    while let Some((&ctl, tail)) = rest.split_first() {
        let len = usize::from(ctl & 0x3f).min(tail.len()) * 4;
        let len = len.min(tail.len());
        let (pkt, tail) = tail.split_at(len);
        rest = tail;
        now += Duration::from_millis(u64::from(ctl >> 6) * 700);
        if ctl & 0x80 != 0 {
            let _ = s.handle_rtcp(now, pkt);
        } else {
            let _ = s.handle_rtp(now, pkt);
        }
        if s.poll_timeout().is_some_and(|t| t <= now) {
            s.handle_timeout(now);
            let _ = s.poll_transmit(now, &mut buf);
        }
        while s.poll_event().is_some() {}
    }
    for ssrc in [0x5151, 0, 1] {
        let _ = (
            s.quality(ssrc),
            s.rtt(ssrc),
            s.source(ssrc).map(|st| st.jitter()),
        );
    }
}

/// A counter through SplitMix64: the oracle's deterministic "randomness" (not random).
struct Counter(u64);

impl rand_core::TryRng for Counter {
    type Error = core::convert::Infallible;
    fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
        Ok(self.try_next_u64()? as u32)
    }
    fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        Ok(z ^ (z >> 27))
    }
    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
        for c in dst.chunks_mut(8) {
            let v = self.try_next_u64()?.to_le_bytes();
            c.copy_from_slice(&v[..c.len()]);
        }
        Ok(())
    }
}
