//! The A/V MCU's media task: the sans-IO relays ([`crate::media::Relay`], an audio mixer and a
//! video switch per conference, the video following the audio's dominant speaker) on two UDP
//! sockets (RTP and RTCP, shared by audio and video: packets are told apart by where they come
//! from), legs added and removed as the SIP engine says ([`MediaOp`]), RTCP sent when due, and
//! each participant's audio quality published for the web listener (`/av/quality`) and written
//! to the log every five seconds.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::sip::MediaOp;
use crate::media::{LegId, LegReport, LegSetup, Relay};

/// Each conference's participants as the A/V MCU measures them: (user, report).
pub type Reports = Arc<Mutex<HashMap<String, Vec<(String, LegReport)>>>>;

struct Conference {
    relay: Relay,
    video: Relay,
    /// Leg → (RTP address, RTCP address, user).
    peers: HashMap<LegId, (SocketAddr, SocketAddr, String)>,
    /// Leg → its video's (RTP address, RTCP address).
    vpeers: HashMap<LegId, (SocketAddr, SocketAddr)>,
}

/// The wall clock as NTP 32.32.
pub(crate) fn ntp_now() -> u64 {
    crate::rtcp::stats::ntp_from_unix(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Publishes the reports of every conference.
fn publish(confs: &HashMap<String, Conference>, reports: &Reports, log: bool) {
    let mut all = HashMap::new();
    for (uri, c) in confs {
        let rows: Vec<(String, LegReport)> = c
            .relay
            .report()
            .into_iter()
            .map(|r| {
                let user = c.peers.get(&r.leg).map(|p| p.2.clone()).unwrap_or_default();
                (user, r)
            })
            .collect();
        if log {
            for (user, r) in &rows {
                match &r.quality {
                    Some(q) => tracing::info!(
                        conference = %uri, %user, received = r.received, lost = r.lost,
                        loss = format!("{:.1}%", q.loss_percent),
                        jitter_ms = format!("{:.1}", q.jitter.as_secs_f64() * 1000.0),
                        rtt_ms = q.rtt.map(|t| format!("{:.0}", t.as_secs_f64() * 1000.0)).unwrap_or_else(|| "-".into()),
                        mos = format!("{:.2}", q.mos),
                        "audio quality"
                    ),
                    None => {
                        tracing::info!(conference = %uri, %user, "audio quality: nothing received yet")
                    }
                }
            }
        }
        all.insert(uri.clone(), rows);
    }
    if let Ok(mut r) = reports.lock() {
        *r = all;
    }
}

/// Sends what a relay has to send: SRTP to each leg's RTP address, SRTCP to its RTCP address.
fn flush(
    relay: &mut Relay,
    now: Instant,
    out: &mut [u8],
    rtp: &UdpSocket,
    rtcp: &UdpSocket,
    addrs: impl Fn(LegId) -> Option<(SocketAddr, SocketAddr)>,
) {
    while let Ok(Some(t)) = relay.poll_transmit(now, out) {
        if let Some((a, b)) = addrs(t.leg) {
            let sock = if t.rtcp { (rtcp, b) } else { (rtp, a) };
            let _ = sock.0.try_send_to(&out[..t.len], sock.1);
        }
    }
}

/// Runs the relay until the engine's side of `ops` is dropped.
pub(super) async fn run(
    rtp: UdpSocket,
    rtcp: UdpSocket,
    mut ops: mpsc::UnboundedReceiver<MediaOp>,
    reports: Reports,
) {
    let mut confs: HashMap<String, Conference> = HashMap::new();
    // Source address → (conference, leg, video).
    let mut by_rtp: HashMap<SocketAddr, (String, LegId, bool)> = HashMap::new();
    let mut by_rtcp: HashMap<SocketAddr, (String, LegId, bool)> = HashMap::new();
    let mut buf = vec![0u8; 2048];
    let mut cbuf = vec![0u8; 2048];
    let mut out = vec![0u8; 2048];
    let mut next_publish = Instant::now() + Duration::from_secs(1);
    let mut publishes = 0u64;
    // The mixers are due every 20 ms and RTCP every few seconds per leg: a 5 ms tick checks
    // them, instead of working out the earliest deadline of every leg for every packet.
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = rtp.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                let Some((uri, leg, is_video)) = by_rtp.get(&from) else { continue };
                let Some(Conference { relay, video, peers, vpeers }) = confs.get_mut(uri) else { continue };
                let now = Instant::now();
                let sent = if *is_video {
                    video.relay_rtp(now, *leg, &mut buf[..n])
                } else {
                    let r = relay.relay_rtp(now, *leg, &mut buf[..n]);
                    // The video follows the voice; a new speaker is asked for a key frame.
                    video.set_dominant(relay.dominant_speaker().map(|d| d.0));
                    r
                };
                flush(relay, now, &mut out, &rtp, &rtcp, |l| peers.get(&l).map(|p| (p.0, p.1)));
                flush(video, now, &mut out, &rtp, &rtcp, |l| vpeers.get(&l).copied());
                if let Err(e) = sent {
                    tracing::debug!(error = %e, %from, "RTP not relayed");
                }
            }
            r = rtcp.recv_from(&mut cbuf) => {
                let Ok((n, from)) = r else { continue };
                let Some((uri, leg, is_video)) = by_rtcp.get(&from) else { continue };
                let Some(c) = confs.get_mut(uri) else { continue };
                let relay = if *is_video { &mut c.video } else { &mut c.relay };
                if let Err(e) = relay.handle_rtcp(Instant::now(), *leg, &mut cbuf[..n]) {
                    tracing::debug!(error = %e, %from, "RTCP refused");
                }
            }
            op = ops.recv() => match op {
                None => break,
                Some(MediaOp::Join { conference, leg, user, audio, video }) => {
                    let c = confs.entry(conference.clone()).or_insert_with(|| Conference {
                        relay: Relay::new(),
                        video: Relay::video(),
                        peers: HashMap::new(),
                        vpeers: HashMap::new(),
                    });
                    fn setup(m: &super::sip::MediaLeg, leg: LegId) -> LegSetup<'_> {
                        LegSetup {
                            inbound: m.inbound.as_ref(),
                            outbound: m.outbound.as_ref(),
                            ssrc: m.ssrc,
                            seed: leg ^ u64::from(m.ssrc),
                            payload_type: m.payload_type,
                        }
                    }
                    match c.relay.add_leg(leg, setup(&audio, leg), Instant::now(), ntp_now()) {
                        Ok(()) => {
                            tracing::info!(conference = %conference, %user, rtp = %audio.rtp, video = video.is_some(), "joined the A/V relay");
                            c.peers.insert(leg, (audio.rtp, audio.rtcp, user));
                            by_rtp.insert(audio.rtp, (conference.clone(), leg, false));
                            by_rtcp.insert(audio.rtcp, (conference.clone(), leg, false));
                        }
                        Err(e) => {
                            tracing::warn!(error = %e, "audio leg refused");
                            continue;
                        }
                    }
                    if let Some(v) = video {
                        match c.video.add_leg(leg, setup(&v, leg), Instant::now(), ntp_now()) {
                            Ok(()) => {
                                c.vpeers.insert(leg, (v.rtp, v.rtcp));
                                by_rtp.insert(v.rtp, (conference.clone(), leg, true));
                                by_rtcp.insert(v.rtcp, (conference, leg, true));
                            }
                            Err(e) => tracing::warn!(error = %e, "video leg refused"),
                        }
                    }
                }
                Some(MediaOp::Leave { conference, leg }) => {
                    if let Some(c) = confs.get_mut(&conference) {
                        c.relay.remove_leg(leg);
                        c.video.remove_leg(leg);
                        if let Some((a, b, user)) = c.peers.remove(&leg) {
                            by_rtp.remove(&a);
                            by_rtcp.remove(&b);
                            tracing::info!(conference = %conference, %user, "left the A/V relay");
                        }
                        if let Some((a, b)) = c.vpeers.remove(&leg) {
                            by_rtp.remove(&a);
                            by_rtcp.remove(&b);
                        }
                        if c.relay.is_empty() {
                            confs.remove(&conference);
                        }
                    }
                    publish(&confs, &reports, false);
                }
            },
            _ = tick.tick() => {
                let now = Instant::now();
                for Conference { relay, video, peers, vpeers } in confs.values_mut() {
                    // A mix per period that has come (a late tick catches up).
                    for _ in 0..8 {
                        if relay.poll_timeout().is_none_or(|t| t > now) {
                            break;
                        }
                        relay.handle_timeout(now);
                        flush(relay, now, &mut out, &rtp, &rtcp, |l| peers.get(&l).map(|p| (p.0, p.1)));
                    }
                    if video.poll_timeout().is_some_and(|t| t <= now) {
                        video.handle_timeout(now);
                        flush(video, now, &mut out, &rtp, &rtcp, |l| vpeers.get(&l).copied());
                    }
                }
                if now >= next_publish {
                    publishes += 1;
                    publish(&confs, &reports, publishes.is_multiple_of(5));
                    next_publish = now + Duration::from_secs(1);
                }
            }
        }
    }
}
