//! The A/V MCU's media task: the sans-IO relays ([`crate::media::Relay`], an audio mixer and a
//! video switch per conference, the video following the audio's dominant speaker) and ICE
//! ([`crate::ice::Agent`], one per participant that offered it: its checks answered on these
//! sockets, media sent only where consent is fresh) on two UDP
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
use crate::ice::stun::Message as Stun;
use crate::ice::{Agent, Received};
use crate::media::{LegId, LegReport, LegSetup, Relay};

/// What the MCU knows of a participant's ICE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IceState {
    /// Where its audio goes (the nominated address with fresh consent).
    pub selected: Option<SocketAddr>,
    /// Answers it gave to the MCU's own checks.
    pub answers: u32,
    /// Whether consent is fresh there.
    pub consent: bool,
}

/// One participant of a conference as the A/V MCU measures it.
#[derive(Debug, Clone)]
pub struct Row {
    /// Its address of record.
    pub user: String,
    /// Its audio.
    pub report: LegReport,
    /// Its ICE, when it offered ICE.
    pub ice: Option<IceState>,
}

/// Each conference's participants as the A/V MCU measures them.
pub type Reports = Arc<Mutex<HashMap<String, Vec<Row>>>>;

struct Conference {
    relay: Relay,
    video: Relay,
    /// Leg → (RTP address, RTCP address, user).
    peers: HashMap<LegId, (SocketAddr, SocketAddr, String)>,
    /// Leg → its video's (RTP address, RTCP address).
    vpeers: HashMap<LegId, (SocketAddr, SocketAddr)>,
    /// Leg → its ICE agent.
    ice: HashMap<LegId, Agent>,
}

/// The wall clock as NTP 32.32.
pub(crate) fn ntp_now() -> u64 {
    crate::rtcp::stats::ntp_from_unix(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

/// Sends what a relay has to send: SRTP to each leg's RTP address, SRTCP to its RTCP address
/// (where ICE consent, if the leg has ICE, is fresh).
#[allow(clippy::too_many_arguments)]
fn flush(
    relay: &mut Relay,
    now: Instant,
    out: &mut [u8],
    rtp: &UdpSocket,
    rtcp: &UdpSocket,
    ice: &HashMap<LegId, Agent>,
    addrs: impl Fn(LegId) -> Option<(SocketAddr, SocketAddr)>,
) {
    while let Ok(Some(t)) = relay.poll_transmit(now, out) {
        let Some((a, b)) = addrs(t.leg) else { continue };
        let (sock, to, component) = if t.rtcp { (rtcp, b, 2) } else { (rtp, a, 1) };
        if ice
            .get(&t.leg)
            .is_some_and(|g| !g.consent(component, to, now))
        {
            continue;
        }
        let _ = sock.try_send_to(&out[..t.len], to);
    }
}

/// Sends what an ICE agent has to send, each on its component's socket.
fn flush_ice(agent: &mut Agent, rtp: &UdpSocket, rtcp: &UdpSocket) {
    while let Some(t) = agent.poll_transmit() {
        let sock = if t.component == 2 { rtcp } else { rtp };
        let _ = sock.try_send_to(&t.bytes, t.to);
    }
}

/// The media task's state.
struct Media {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    confs: HashMap<String, Conference>,
    /// Source address → (conference, leg, video), per socket.
    by_rtp: HashMap<SocketAddr, (String, LegId, bool)>,
    by_rtcp: HashMap<SocketAddr, (String, LegId, bool)>,
    /// An ICE agent's local ufrag ([`crate::ice::local_key`]) → (conference, leg).
    ice_keys: HashMap<String, (String, LegId)>,
    out: Vec<u8>,
    reports: Reports,
}

impl Media {
    /// Publishes the reports of every conference.
    fn publish(&self, log: bool) {
        let now = Instant::now();
        let mut all = HashMap::new();
        for (uri, c) in &self.confs {
            let rows: Vec<Row> = c
                .relay
                .report()
                .into_iter()
                .map(|r| {
                    let user = c.peers.get(&r.leg).map(|p| p.2.clone()).unwrap_or_default();
                    let ice = c.ice.get(&r.leg).map(|a| {
                        let selected = a.selected(1, now);
                        IceState {
                            selected,
                            answers: a.paths().iter().map(|p| p.answers).sum(),
                            consent: selected.is_some(),
                        }
                    });
                    Row {
                        user,
                        report: r,
                        ice,
                    }
                })
                .collect();
            if log {
                for Row {
                    user, report: r, ..
                } in &rows
                {
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
        if let Ok(mut r) = self.reports.lock() {
            *r = all;
        }
    }

    /// A datagram on the RTP (`component` 1) or RTCP (2) socket.
    fn datagram(&mut self, component: u8, from: SocketAddr, n: usize, buf: &mut [u8]) {
        let now = Instant::now();
        if Stun::is_stun(&buf[..n]) {
            return self.stun(now, component, from, &buf[..n]);
        }
        let map = if component == 1 {
            &self.by_rtp
        } else {
            &self.by_rtcp
        };
        let Some((uri, leg, is_video)) = map.get(&from) else {
            return;
        };
        let (leg, is_video) = (*leg, *is_video);
        let Some(c) = self.confs.get_mut(uri) else {
            return;
        };
        if component == 2 {
            let relay = if is_video { &mut c.video } else { &mut c.relay };
            if let Err(e) = relay.handle_rtcp(now, leg, &mut buf[..n]) {
                tracing::debug!(error = %e, %from, "RTCP refused");
            }
            return;
        }
        let Conference {
            relay,
            video,
            peers,
            vpeers,
            ice,
        } = c;
        let sent = if is_video {
            video.relay_rtp(now, leg, &mut buf[..n])
        } else {
            let r = relay.relay_rtp(now, leg, &mut buf[..n]);
            // The video follows the voice; a new speaker is asked for a key frame.
            video.set_dominant(relay.dominant_speaker().map(|d| d.0));
            r
        };
        let (out, rtp, rtcp) = (&mut self.out, &self.rtp, &self.rtcp);
        flush(relay, now, out, rtp, rtcp, ice, |l| {
            peers.get(&l).map(|p| (p.0, p.1))
        });
        flush(video, now, out, rtp, rtcp, &HashMap::new(), |l| {
            vpeers.get(&l).copied()
        });
        if let Err(e) = sent {
            tracing::debug!(error = %e, %from, "RTP not relayed");
        }
    }

    /// A STUN datagram: a check goes to the agent its USERNAME names, an answer to the agent
    /// of the leg at that address. A check that authenticates makes its source an address of
    /// the leg (its media is taken from there), and the nominated one where its media goes.
    fn stun(&mut self, now: Instant, component: u8, from: SocketAddr, data: &[u8]) {
        let Ok(msg) = Stun::parse(data) else {
            return;
        };
        let target = if msg.kind() == crate::ice::stun::BINDING_REQUEST {
            crate::ice::local_key(&msg).and_then(|k| self.ice_keys.get(&k).cloned())
        } else {
            let map = if component == 1 {
                &self.by_rtp
            } else {
                &self.by_rtcp
            };
            map.get(&from).map(|(u, l, _)| (u.clone(), *l))
        };
        let Some((uri, leg)) = target else {
            return;
        };
        let Some(c) = self.confs.get_mut(&uri) else {
            return;
        };
        let Some(agent) = c.ice.get_mut(&leg) else {
            return;
        };
        match agent.handle(now, component, from, data) {
            Ok(Received::Check {
                component, from, ..
            }) => {
                let map = if component == 1 {
                    &mut self.by_rtp
                } else {
                    &mut self.by_rtcp
                };
                map.insert(from, (uri.clone(), leg, false));
                if agent.selected(component, now) == Some(from)
                    && let Some(p) = c.peers.get_mut(&leg)
                {
                    if component == 1 {
                        p.0 = from;
                    } else {
                        p.1 = from;
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::debug!(error = %e, %from, "STUN not taken"),
        }
        flush_ice(agent, &self.rtp, &self.rtcp);
    }

    fn join(&mut self, op: MediaOp) {
        let MediaOp::Join {
            conference,
            leg,
            user,
            audio,
            video,
        } = op
        else {
            return;
        };
        let c = self
            .confs
            .entry(conference.clone())
            .or_insert_with(|| Conference {
                relay: Relay::new(),
                video: Relay::video(),
                peers: HashMap::new(),
                vpeers: HashMap::new(),
                ice: HashMap::new(),
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
        if let Err(e) = c
            .relay
            .add_leg(leg, setup(&audio, leg), Instant::now(), ntp_now())
        {
            tracing::warn!(error = %e, "audio leg refused");
            return;
        }
        tracing::info!(conference = %conference, %user, rtp = %audio.rtp, video = video.is_some(), ice = audio.ice.is_some(), "joined the A/V relay");
        c.peers.insert(leg, (audio.rtp, audio.rtcp, user));
        self.by_rtp
            .insert(audio.rtp, (conference.clone(), leg, false));
        self.by_rtcp
            .insert(audio.rtcp, (conference.clone(), leg, false));
        if let Some(ice) = &audio.ice {
            let agent = Agent::new(
                ice.flavor,
                ice.local.clone(),
                ice.remote.clone(),
                leg ^ u64::from(audio.ssrc).rotate_left(32),
            );
            self.ice_keys
                .insert(ice.local.ufrag.clone(), (conference.clone(), leg));
            c.ice.insert(leg, agent);
        }
        if let Some(v) = video {
            match c
                .video
                .add_leg(leg, setup(&v, leg), Instant::now(), ntp_now())
            {
                Ok(()) => {
                    c.vpeers.insert(leg, (v.rtp, v.rtcp));
                    self.by_rtp.insert(v.rtp, (conference.clone(), leg, true));
                    self.by_rtcp.insert(v.rtcp, (conference, leg, true));
                }
                Err(e) => tracing::warn!(error = %e, "video leg refused"),
            }
        }
    }

    fn leave(&mut self, conference: &str, leg: LegId) {
        let Some(c) = self.confs.get_mut(conference) else {
            return;
        };
        c.relay.remove_leg(leg);
        c.video.remove_leg(leg);
        if let Some((_, _, user)) = c.peers.remove(&leg) {
            tracing::info!(conference = %conference, %user, "left the A/V relay");
        }
        c.vpeers.remove(&leg);
        if let Some(a) = c.ice.remove(&leg) {
            self.ice_keys.remove(&a.local().ufrag);
        }
        // Every address of the leg: its offer's and those ICE learned.
        let mine = |v: &mut (String, LegId, bool)| !(v.0 == conference && v.1 == leg);
        self.by_rtp.retain(|_, v| mine(v));
        self.by_rtcp.retain(|_, v| mine(v));
        if c.relay.is_empty() {
            self.confs.remove(conference);
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let (out, rtp, rtcp) = (&mut self.out, &self.rtp, &self.rtcp);
        for c in self.confs.values_mut() {
            let Conference {
                relay,
                video,
                peers,
                vpeers,
                ice,
            } = c;
            for agent in ice.values_mut() {
                if agent.poll_timeout().is_some_and(|t| t <= now) {
                    agent.handle_timeout(now);
                }
                flush_ice(agent, rtp, rtcp);
            }
            // The address media goes to follows the nomination (and consent).
            for (leg, agent) in ice.iter() {
                if let (Some(p), Some(a)) = (peers.get_mut(leg), agent.selected(1, now)) {
                    p.0 = a;
                }
                if let (Some(p), Some(a)) = (peers.get_mut(leg), agent.selected(2, now)) {
                    p.1 = a;
                }
            }
            // A mix per period that has come (a late tick catches up).
            for _ in 0..8 {
                if relay.poll_timeout().is_none_or(|t| t > now) {
                    break;
                }
                relay.handle_timeout(now);
                flush(relay, now, out, rtp, rtcp, ice, |l| {
                    peers.get(&l).map(|p| (p.0, p.1))
                });
            }
            if video.poll_timeout().is_some_and(|t| t <= now) {
                video.handle_timeout(now);
                flush(video, now, out, rtp, rtcp, &HashMap::new(), |l| {
                    vpeers.get(&l).copied()
                });
            }
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
    let mut m = Media {
        rtp,
        rtcp,
        confs: HashMap::new(),
        by_rtp: HashMap::new(),
        by_rtcp: HashMap::new(),
        ice_keys: HashMap::new(),
        out: vec![0u8; 2048],
        reports,
    };
    let mut buf = vec![0u8; 2048];
    let mut cbuf = vec![0u8; 2048];
    let mut next_publish = Instant::now() + Duration::from_secs(1);
    let mut publishes = 0u64;
    // The mixers are due every 20 ms, ICE checks and RTCP every few seconds per leg: a 5 ms
    // tick checks them, instead of working out the earliest deadline of every leg for every
    // packet.
    let mut tick = tokio::time::interval(Duration::from_millis(5));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = m.rtp.recv_from(&mut buf) => {
                let Ok((n, from)) = r else { continue };
                m.datagram(1, from, n, &mut buf);
            }
            r = m.rtcp.recv_from(&mut cbuf) => {
                let Ok((n, from)) = r else { continue };
                m.datagram(2, from, n, &mut cbuf);
            }
            op = ops.recv() => match op {
                None => break,
                Some(join @ MediaOp::Join { .. }) => m.join(join),
                Some(MediaOp::Leave { conference, leg }) => {
                    m.leave(&conference, leg);
                    m.publish(false);
                }
            },
            _ = tick.tick() => {
                m.tick();
                if Instant::now() >= next_publish {
                    publishes += 1;
                    m.publish(publishes.is_multiple_of(5));
                    next_publish = Instant::now() + Duration::from_secs(1);
                }
            }
        }
    }
}
