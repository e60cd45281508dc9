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
    /// Where its RTCP goes.
    pub selected_rtcp: Option<SocketAddr>,
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

/// Sends what a relay has to send: SRTP to each leg's RTP address, SRTCP to its RTCP address,
/// where `allowed(leg, component, to)` (ICE consent, for a leg with ICE).
#[allow(clippy::too_many_arguments)]
fn flush(
    relay: &mut Relay,
    now: Instant,
    out: &mut [u8],
    rtp: &UdpSocket,
    rtcp: &UdpSocket,
    addrs: impl Fn(LegId) -> Option<(SocketAddr, SocketAddr)>,
    allowed: impl Fn(LegId, u8, SocketAddr) -> bool,
) {
    while let Ok(Some(t)) = relay.poll_transmit(now, out) {
        let Some((a, b)) = addrs(t.leg) else { continue };
        let (sock, to, component) = if t.rtcp { (rtcp, b, 2) } else { (rtp, a, 1) };
        if allowed(t.leg, component, to) {
            let _ = sock.try_send_to(&out[..t.len], to);
        }
    }
}

/// Audio goes where its ICE has consent; video (no ICE of its own) to a host where the
/// audio's has.
fn audio_allowed(
    ice: &HashMap<LegId, Agent>,
    now: Instant,
) -> impl Fn(LegId, u8, SocketAddr) -> bool + '_ {
    move |leg, component, to| ice.get(&leg).is_none_or(|a| a.consent(component, to, now))
}

fn video_allowed(
    ice: &HashMap<LegId, Agent>,
    now: Instant,
) -> impl Fn(LegId, u8, SocketAddr) -> bool + '_ {
    move |leg, _, to| ice.get(&leg).is_none_or(|a| a.consent_ip(to.ip(), now))
}

/// Sends what a conference's audio relay (`audio`) and video relay (`video`) have to send.
#[allow(clippy::too_many_arguments)]
fn flush_conference(
    c: &mut Conference,
    now: Instant,
    out: &mut [u8],
    rtp: &UdpSocket,
    rtcp: &UdpSocket,
    audio: bool,
    video: bool,
) {
    let Conference {
        relay,
        video: vrelay,
        peers,
        vpeers,
        ice,
    } = c;
    if audio {
        let addrs = |l| {
            peers
                .get(&l)
                .map(|p: &(SocketAddr, SocketAddr, String)| (p.0, p.1))
        };
        flush(relay, now, out, rtp, rtcp, addrs, audio_allowed(ice, now));
    }
    if video {
        let addrs = |l| vpeers.get(&l).copied();
        flush(vrelay, now, out, rtp, rtcp, addrs, video_allowed(ice, now));
    }
}

/// Sends what an ICE agent has to send, each on its component's socket.
fn flush_ice(agent: &mut Agent, rtp: &UdpSocket, rtcp: &UdpSocket) {
    while let Some(t) = agent.poll_transmit() {
        let sock = if t.component == 2 { rtcp } else { rtp };
        let _ = sock.try_send_to(&t.bytes, t.to);
    }
}

/// Where a leg is: its conference, its id, whether video.
type Owner = (String, LegId, bool);

/// The media task's state.
struct Media {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    confs: HashMap<String, Conference>,
    /// Source address → the leg whose media it is, per socket: the offer's addresses, and
    /// those ICE gave consent at. An address belongs to the first leg that claims it.
    by_rtp: HashMap<SocketAddr, Owner>,
    by_rtcp: HashMap<SocketAddr, Owner>,
    /// An ICE agent's local ufrag ([`crate::ice::local_key`]) → (conference, leg).
    ice_keys: HashMap<String, (String, LegId)>,
    /// (component, address) → the legs whose agents check it: where an answer may be for.
    ice_paths: HashMap<(u8, SocketAddr), Vec<(String, LegId)>>,
    /// Each leg's offered (RTP, RTCP) addresses.
    offered: HashMap<(String, LegId), (SocketAddr, SocketAddr)>,
    out: Vec<u8>,
    reports: Reports,
}

impl Media {
    fn map(&mut self, component: u8) -> &mut HashMap<SocketAddr, Owner> {
        if component == 1 {
            &mut self.by_rtp
        } else {
            &mut self.by_rtcp
        }
    }

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
                            selected_rtcp: a.selected(2, now),
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
        let sent = if is_video {
            c.video.relay_rtp(now, leg, &mut buf[..n])
        } else {
            let r = c.relay.relay_rtp(now, leg, &mut buf[..n]);
            // The video follows the voice; a new speaker is asked for a key frame.
            c.video
                .set_dominant(c.relay.dominant_speaker().map(|d| d.0));
            r
        };
        flush_conference(c, now, &mut self.out, &self.rtp, &self.rtcp, true, true);
        if let Err(e) = sent {
            tracing::debug!(error = %e, %from, "RTP not relayed");
        }
    }

    /// A STUN datagram: a check goes to the agent its USERNAME names, an answer to the agents
    /// that check that address (only the one whose transaction it answers takes it). An
    /// answer gives consent: the address becomes the leg's (its media is taken from there)
    /// unless another leg has it, and where its media goes once nominated.
    fn stun(&mut self, now: Instant, component: u8, from: SocketAddr, data: &[u8]) {
        let Ok(msg) = Stun::parse(data) else {
            return;
        };
        let targets: Vec<(String, LegId)> = if msg.kind() == crate::ice::stun::BINDING_REQUEST {
            crate::ice::local_key(&msg)
                .and_then(|k| self.ice_keys.get(&k).cloned())
                .into_iter()
                .collect()
        } else {
            self.ice_paths
                .get(&(component, from))
                .cloned()
                .unwrap_or_default()
        };
        for (uri, leg) in targets {
            let Some(agent) = self.confs.get_mut(&uri).and_then(|c| c.ice.get_mut(&leg)) else {
                continue;
            };
            let got = agent.handle(now, component, from, data);
            flush_ice(agent, &self.rtp, &self.rtcp);
            match got {
                Ok(Received::Check {
                    component, from, ..
                }) => {
                    let legs = self.ice_paths.entry((component, from)).or_default();
                    if !legs.iter().any(|(u, l)| *u == uri && *l == leg) && legs.len() < 4 {
                        legs.push((uri.clone(), leg));
                    }
                }
                Ok(Received::Answer { component, from }) => {
                    let owner = self
                        .map(component)
                        .entry(from)
                        .or_insert_with(|| (uri.clone(), leg, false));
                    if owner.0 != uri || owner.1 != leg {
                        tracing::warn!(%from, "ICE: an address another participant has");
                    }
                    self.follow(&uri, leg, now);
                    return;
                }
                Ok(Received::Indication) => return,
                Err(e) => tracing::debug!(error = %e, %from, "STUN not taken"),
            }
        }
    }

    /// Points the leg's media at the addresses its ICE selected (the nominated ones with
    /// fresh consent).
    fn follow(&mut self, uri: &str, leg: LegId, now: Instant) {
        let Some(c) = self.confs.get_mut(uri) else {
            return;
        };
        let (Some(agent), Some(p)) = (c.ice.get(&leg), c.peers.get_mut(&leg)) else {
            return;
        };
        if let Some(a) = agent.selected(1, now) {
            p.0 = a;
        }
        if let Some(a) = agent.selected(2, now) {
            p.1 = a;
        }
    }

    /// Forgets the addresses of a leg its agent no longer knows (and that it did not offer).
    fn prune(&mut self, uri: &str, leg: LegId) {
        let Some(agent) = self.confs.get(uri).and_then(|c| c.ice.get(&leg)) else {
            return;
        };
        let live: Vec<(u8, SocketAddr)> = agent.addresses().collect();
        let offered = self.offered.get(&(uri.to_owned(), leg)).copied();
        for component in [1u8, 2] {
            let keep = |addr: &SocketAddr, o: &Owner| {
                o.0 != uri
                    || o.1 != leg
                    || o.2
                    || live.contains(&(component, *addr))
                    || offered.is_some_and(|(a, b)| *addr == if component == 1 { a } else { b })
            };
            self.map(component).retain(|a, o| keep(a, o));
        }
        self.ice_paths.retain(|(c, a), legs| {
            if !live.contains(&(*c, *a)) {
                legs.retain(|(u, l)| !(u == uri && *l == leg));
            }
            !legs.is_empty()
        });
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
        if let Some(ice) = &audio.ice {
            let agent = Agent::new(ice.flavor, ice.local.clone(), ice.remote.clone(), ice.seed);
            self.ice_keys
                .insert(ice.local.ufrag.clone(), (conference.clone(), leg));
            c.ice.insert(leg, agent);
        }
        let mut video_addrs = None;
        if let Some(v) = video {
            match c
                .video
                .add_leg(leg, setup(&v, leg), Instant::now(), ntp_now())
            {
                Ok(()) => {
                    c.vpeers.insert(leg, (v.rtp, v.rtcp));
                    video_addrs = Some((v.rtp, v.rtcp));
                }
                Err(e) => tracing::warn!(error = %e, "video leg refused"),
            }
        }
        // The offered addresses, unless another leg has them.
        let owner = (conference.clone(), leg, false);
        self.by_rtp
            .entry(audio.rtp)
            .or_insert_with(|| owner.clone());
        self.by_rtcp
            .entry(audio.rtcp)
            .or_insert_with(|| owner.clone());
        if let Some((a, b)) = video_addrs {
            let owner = (conference.clone(), leg, true);
            self.by_rtp.entry(a).or_insert_with(|| owner.clone());
            self.by_rtcp.entry(b).or_insert(owner);
        }
        self.offered
            .insert((conference, leg), (audio.rtp, audio.rtcp));
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
        let mine = |v: &mut Owner| !(v.0 == conference && v.1 == leg);
        self.by_rtp.retain(|_, v| mine(v));
        self.by_rtcp.retain(|_, v| mine(v));
        self.ice_paths.retain(|_, legs| {
            legs.retain(|(u, l)| !(u == conference && *l == leg));
            !legs.is_empty()
        });
        self.offered.remove(&(conference.to_owned(), leg));
        if c.relay.is_empty() {
            self.confs.remove(conference);
        }
    }

    fn tick(&mut self) {
        let now = Instant::now();
        let mut forgot = Vec::new();
        let mut changed = Vec::new();
        {
            let (out, rtp, rtcp) = (&mut self.out, &self.rtp, &self.rtcp);
            for (uri, c) in &mut self.confs {
                for (leg, agent) in c.ice.iter_mut() {
                    if agent.poll_timeout().is_some_and(|t| t <= now) {
                        if agent.handle_timeout(now) {
                            forgot.push((uri.clone(), *leg));
                        }
                        changed.push((uri.clone(), *leg));
                    }
                    flush_ice(agent, rtp, rtcp);
                }
                // A mix per period that has come (a late tick catches up).
                for _ in 0..8 {
                    if c.relay.poll_timeout().is_none_or(|t| t > now) {
                        break;
                    }
                    c.relay.handle_timeout(now);
                    flush_conference(c, now, out, rtp, rtcp, true, false);
                }
                if c.video.poll_timeout().is_some_and(|t| t <= now) {
                    c.video.handle_timeout(now);
                    flush_conference(c, now, out, rtp, rtcp, false, true);
                }
            }
        }
        // Consent may have moved: media follows the selection; forgotten addresses go.
        for (uri, leg) in changed {
            self.follow(&uri, leg, now);
        }
        for (uri, leg) in forgot {
            self.prune(&uri, leg);
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
        ice_paths: HashMap::new(),
        offered: HashMap::new(),
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
