//! `ocs demo`: the reference server started in-process on ephemeral loopback ports, and three
//! simulated participants built from the same crates driving a meeting through it over real
//! sockets and real protocols:
//!
//! 1. NTLM REGISTER ([MS-SIPAE]: the three legs, the server's `rspauth` verified);
//! 2. in-band provisioning ([MS-SIPREGE]) for the focus factory and the address book's URL,
//!    then the day's address book downloaded over HTTP (and a conditional GET: 304);
//! 3. the conference created over C3P (SERVICE to the focus factory), joined through the focus
//!    (INVITE with addUser), its state subscribed to (NOTIFY/BENOTIFY);
//! 4. audio through the A/V MCU: dial-in over C3P, INVITE with an SDP offer (RTP/SAVP,
//!    `a=crypto`), then generated speech-like PCMU over SRTP with RTCP both ways for the given
//!    time — one participant on a lossy, jittery path simulated in the client — and each
//!    participant's quality as the MCU measured it (loss, jitter, RTT, MOS);
//! 5. a presenter promoted, the conference locked, a user waiting in the lobby and admitted, a
//!    user leaving, the conference deleted.
//!
//! It prints a transcript with timestamps and the quality table; [`Report`] is the same as
//! data (`--json`).

use std::collections::{BTreeSet, BinaryHeap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde::Serialize;
use tokio::net::UdpSocket;

use crate::cccp::info::{ConferenceDescription, ConferenceInfo, Role, User};
use crate::cccp::message::{Body, Code, Keys, LobbyAccess, Response};
use crate::cccp::state::Tracker;
use crate::http::abs::{AbsFile, day_from_unix};
use crate::rtcp::rtp::RtpPacket;
use crate::rtcp::session::{Config as RtcpConfig, Session as Rtcp};
use crate::server::Config;
use crate::sip::headers::Auth;
use crate::sip::ntlm::Credentials;
use crate::sip::sipae::NtlmSipClient;
use crate::sip::{HeaderName, Message};
use crate::srtp::{Policy, Session as Srtp, Suite};

/// What to run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Seconds of audio.
    pub seconds: u64,
    /// Print the transcript as it goes.
    pub print: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            seconds: 10,
            print: true,
        }
    }
}

/// One line of the transcript.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Milliseconds since the start.
    pub at_ms: u64,
    /// Who acted (`server`, `alice`...).
    pub who: String,
    /// What happened.
    pub what: String,
}

/// A participant's audio as the A/V MCU measured it.
#[derive(Debug, Clone, Serialize)]
pub struct QualityRow {
    /// The user.
    pub user: String,
    /// The simulated network path.
    pub path: String,
    /// RTP packets the participant sent and the MCU received.
    pub sent: u64,
    /// Received by the MCU.
    pub received: u64,
    /// Lost on the way (RFC 3550 cumulative).
    pub lost: i64,
    /// Loss in percent.
    pub loss_percent: f64,
    /// Interarrival jitter in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time in milliseconds, from the participant's RTCP.
    pub rtt_ms: Option<f64>,
    /// Estimated MOS (E-model).
    pub mos: f64,
    /// The speakers this participant heard (the CSRCs of what the MCU sent it).
    pub heard: Vec<String>,
}

/// The demo's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The transcript.
    pub steps: Vec<Step>,
    /// The addresses the server bound.
    pub server: String,
    /// The conference's focus URI.
    pub conference: String,
    /// Contacts in the downloaded address book.
    pub address_book_contacts: usize,
    /// Notifications Alice's subscription received (NOTIFY and BENOTIFY).
    pub notifications: usize,
    /// The quality table.
    pub quality: Vec<QualityRow>,
}

use crate::client::{Fail, PsomSession as Psom, UserAgent as Ua, http_get, http_get_as, to_tag};

struct Log {
    t0: Instant,
    steps: Arc<Mutex<Vec<Step>>>,
    print: bool,
}

impl Log {
    fn say(&self, who: &str, what: impl Into<String>) {
        let at = self.t0.elapsed();
        let what = what.into();
        if self.print {
            println!("[{:>7.3} s] {who:<6} {what}", at.as_secs_f64());
        }
        if let Ok(mut s) = self.steps.lock() {
            s.push(Step {
                at_ms: at.as_millis() as u64,
                who: who.into(),
                what,
            });
        }
    }
}

/// The clients' randomness (tags, keys, loss, jitter): `rand`'s `StdRng`, seeded.
struct Rng(rand::rngs::StdRng);

impl Rng {
    fn seeded(seed: u64) -> Rng {
        Rng(<rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(
            seed,
        ))
    }
    fn next(&mut self) -> u64 {
        rand::Rng::next_u64(&mut self.0)
    }
    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut b = [0u8; N];
        rand::Rng::fill_bytes(&mut self.0, &mut b);
        b
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// 20 ms of speech-like PCMU: voiced harmonics under a syllable envelope when talking, faint
/// noise otherwise.
fn frame(talking: bool, t: f64, rng: &mut Rng, out: &mut [u8; 160]) {
    for (i, o) in out.iter_mut().enumerate() {
        let x = t + i as f64 / 8000.0;
        let noise = (rng.unit() - 0.5) * 60.0;
        let v = if talking {
            let syllable = (0.5 + 0.5 * (std::f64::consts::TAU * 4.0 * x).sin()).powi(2);
            let f0 = 140.0 + 20.0 * (std::f64::consts::TAU * 0.7 * x).sin();
            let voiced: f64 = (1..=4)
                .map(|h| (std::f64::consts::TAU * f0 * h as f64 * x).sin() / h as f64)
                .sum();
            6000.0 * syllable * voiced + noise
        } else {
            noise
        };
        *o = audio_codec_algorithms::encode_ulaw(v.clamp(-32_000.0, 32_000.0) as i16);
    }
}

/// What a participant's audio task saw.
#[derive(Debug, Default)]
struct Heard {
    sent: u64,
    speakers: BTreeSet<u32>,
}

/// One participant's media: its SRTP send and receive sessions, its RTCP session, 20 ms
/// frames while `speaks(t)` (noise otherwise), for `secs`. On the `lossy` path 10 % of the
/// RTP is lost and every packet (RTP and RTCP) leaves 20 to 60 ms late.
#[allow(clippy::too_many_arguments)]
async fn audio(
    rtp: UdpSocket,
    rtcp: UdpSocket,
    mcu: (SocketAddr, SocketAddr),
    send_key: Policy,
    recv_key: Policy,
    ssrc: u32,
    speaks: impl Fn(f64) -> bool,
    lossy: bool,
    secs: u64,
    seed: u64,
) -> Result<Heard, Fail> {
    let mut tx = Srtp::new();
    tx.add_stream(ssrc, &send_key)?;
    let mut rx = Srtp::new();
    rx.add_inbound_template(&recv_key)?;
    let start = Instant::now();
    // The participants report every second ([MS-RTP]'s packet-train fast mode), so that a
    // short meeting gives every leg a round trip; the MCU keeps the RFC 3550 interval.
    let mut cfg = RtcpConfig::audio(ssrc, "demo@contoso.com");
    cfg.timer_mode = crate::rtcp::session::TimerMode::PacketTrainFast;
    let mut session = Rtcp::new(
        cfg,
        start,
        crate::server::av::ntp_now(),
        <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed),
    );
    let mut rng = Rng::seeded(seed);
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // The lossy path's packets wait here until their time: (when, to the RTCP port, bytes).
    let mut delayed: BinaryHeap<std::cmp::Reverse<(Instant, bool, Vec<u8>)>> = BinaryHeap::new();
    let (mut seq, mut ts) = ((seed >> 8) as u16, (seed >> 24) as u32);
    let mut heard = Heard::default();
    let mut pcm = [0u8; 160];
    let (mut rbuf, mut cbuf, mut out) = (vec![0u8; 2048], vec![0u8; 2048], vec![0u8; 1500]);
    let end = start + Duration::from_secs(secs);
    loop {
        let next_delayed = delayed
            .peek()
            .map_or(end, |std::cmp::Reverse((t, _, _))| (*t).min(end));
        let rtcp_due = session.poll_timeout().unwrap_or(end).min(end);
        tokio::select! {
            _ = tick.tick() => {
                let now = Instant::now();
                if now >= end {
                    break;
                }
                let t = now.duration_since(start).as_secs_f64();
                frame(speaks(t), t, &mut rng, &mut pcm);
                let mut p = vec![0x80, 0];
                p.extend_from_slice(&seq.to_be_bytes());
                p.extend_from_slice(&ts.to_be_bytes());
                p.extend_from_slice(&ssrc.to_be_bytes());
                p.extend_from_slice(&pcm);
                seq = seq.wrapping_add(1);
                ts = ts.wrapping_add(160);
                session.on_rtp_sent(now, &p)?;
                let n = p.len();
                p.resize(n + 64, 0);
                let m = tx.protect_rtp(&mut p, n)?;
                p.truncate(m);
                heard.sent += 1;
                if lossy {
                    if rng.unit() < 0.10 {
                        continue; // lost on the way
                    }
                    let delay = Duration::from_millis(20 + (rng.unit() * 40.0) as u64);
                    delayed.push(std::cmp::Reverse((now + delay, false, p)));
                } else {
                    rtp.send_to(&p, mcu.0).await?;
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(next_delayed)) => {
                let now = Instant::now();
                while delayed.peek().is_some_and(|std::cmp::Reverse((t, _, _))| *t <= now) {
                    if let Some(std::cmp::Reverse((_, control, p))) = delayed.pop() {
                        let to = if control { mcu.1 } else { mcu.0 };
                        let sock = if control { &rtcp } else { &rtp };
                        sock.send_to(&p, to).await?;
                    }
                }
                if now >= end {
                    break;
                }
            }
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(rtcp_due)) => {
                let now = Instant::now();
                session.handle_timeout(now);
                while let Ok(Some(n)) = session.poll_transmit(now, &mut out[..1400]) {
                    let m = tx.protect_rtcp(&mut out, n)?;
                    if lossy {
                        // The same path: its reports arrive 20 to 60 ms late.
                        let delay = Duration::from_millis(20 + (rng.unit() * 40.0) as u64);
                        delayed.push(std::cmp::Reverse((now + delay, true, out[..m].to_vec())));
                    } else {
                        rtcp.send_to(&out[..m], mcu.1).await?;
                    }
                }
                if now >= end {
                    break;
                }
            }
            r = rtp.recv_from(&mut rbuf) => {
                let (n, _) = r?;
                if let Ok(m) = rx.unprotect_rtp(&mut rbuf[..n]) {
                    if let Ok(p) = RtpPacket::parse(&rbuf[..m]) {
                        // The mixer names every speaker it mixed in.
                        heard.speakers.extend(p.csrcs());
                    }
                    let _ = session.handle_rtp(Instant::now(), &rbuf[..m]);
                }
            }
            r = rtcp.recv_from(&mut cbuf) => {
                let (n, _) = r?;
                if let Ok(m) = rx.unprotect_rtcp(&mut cbuf[..n]) {
                    let _ = session.handle_rtcp(Instant::now(), &cbuf[..m]);
                }
            }
        }
    }
    // A last report, so the MCU has the latest round trip.
    session.leave(Instant::now(), "bye");
    while let Ok(Some(n)) = session.poll_transmit(Instant::now(), &mut out[..1400]) {
        let m = tx.protect_rtcp(&mut out, n)?;
        rtcp.send_to(&out[..m], mcu.1).await?;
    }
    Ok(heard)
}

/// Reads the audio of the MCU's SDP answer: RTP and RTCP addresses and its key.
fn answer(m: &Message) -> Result<(SocketAddr, SocketAddr, Policy), Fail> {
    use crate::sip::sdp::SessionDescription;
    let text = std::str::from_utf8(m.body())?;
    let sdp = SessionDescription::parse(text)?;
    let a = sdp.media.first().ok_or("no media in the answer")?;
    let c = a
        .connections
        .first()
        .or(sdp.connection.as_ref())
        .ok_or("no address in the answer")?;
    let ip: std::net::IpAddr = c.address.parse()?;
    let rtcp: u16 = a
        .attribute("rtcp")
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(a.port + 1);
    let crypto = a.attribute("crypto").ok_or("no a=crypto in the answer")?;
    let policy = crate::srtp::sdes::Crypto::parse(crypto)?.policy()?;
    Ok((
        SocketAddr::new(ip, a.port),
        SocketAddr::new(ip, rtcp),
        policy,
    ))
}

/// NTLM REGISTER ([MS-SIPAE] 3.2): the empty first leg, the CHALLENGE, the AUTHENTICATE; the
/// server's signed 200 verified.
async fn register(ua: &mut Ua, password: &str, rng: &mut Rng, log: &Log) -> Result<(), Fail> {
    let mut client = NtlmSipClient::new(Credentials::new(ua.user, "CONTOSO", password), "DEMO-PC");
    let call = format!("reg-{}", ua.user);
    let fixed = [("Expires", "3600".to_owned())];
    let ntlm = |m: &Message| -> Result<String, Fail> {
        Ok(m.auth(HeaderName::WwwAuthenticate)
            .flatten()
            .find(|a: &Auth<'_>| a.scheme_name == Some("NTLM"))
            .ok_or("no NTLM challenge")?
            .to_string())
    };
    let r = ua
        .request("REGISTER", "sip:contoso.com", &call, None, &fixed, None)
        .await?;
    if r.status() != Some(401) {
        return Err(format!("REGISTER: {:?}", r.status()).into());
    }
    let first = client.first_credentials(&ntlm(&r)?)?;
    let mut h = fixed.to_vec();
    h.push(("Authorization", first));
    let r = ua
        .request("REGISTER", "sip:contoso.com", &call, None, &h, None)
        .await?;
    let (creds, mut sa) = client.answer(&ntlm(&r)?, rng.bytes(), rng.bytes())?;
    let mut h = fixed.to_vec();
    h.push(("Authorization", creds));
    let ok = ua
        .request("REGISTER", "sip:contoso.com", &call, None, &h, None)
        .await?;
    if ok.status() != Some(200) {
        return Err(format!("REGISTER: {:?}", ok.status()).into());
    }
    sa.verify(&ok)?;
    // From here on every request is signed and every message from the server checked.
    ua.set_association(sa);
    log.say(
        ua.user,
        "REGISTER with NTLM: 401 (NTLM offered), 401 (CHALLENGE), 200 OK — the server's rspauth verifies",
    );
    Ok(())
}

/// A user signed in with NTLM ([MS-SIPAE]) over SIP/TCP at `sip`, its requests signed and the
/// server's checked from then on: for tests that bring a media peer of their own
/// (`tests/ice_libnice.rs`). `seed` makes its NTLM client challenge.
///
/// # Errors
/// The connection or the REGISTER failed.
pub async fn sign_in(
    sip: SocketAddr,
    user: &'static str,
    password: &str,
    seed: u64,
) -> Result<Ua, Fail> {
    let log = Log {
        t0: Instant::now(),
        steps: Arc::new(Mutex::new(Vec::new())),
        print: false,
    };
    let mut rng = Rng::seeded(seed | 1);
    let mut ua = Ua::connect(sip, user).await?;
    register(&mut ua, password, &mut rng, &log).await?;
    Ok(ua)
}

/// `ua` creates a conference through its focus factory `factory` (SERVICE addConference, the
/// URI in-band provisioning gives): the conference's focus URI.
///
/// # Errors
/// The request failed or the focus factory refused.
pub async fn create_conference(ua: &mut Ua, factory: &str, subject: &str) -> Result<String, Fail> {
    let info = ConferenceInfo {
        description: Some(ConferenceDescription {
            subject: Some(subject.into()),
            ..ConferenceDescription::default()
        }),
        ..ConferenceInfo::default()
    };
    let (_, r) = ua
        .c3p(
            "SERVICE",
            factory,
            "create",
            None,
            Body::AddConference {
                info: Some(Box::new(info)),
            },
            None,
        )
        .await?;
    let Body::AddConference { info: Some(ci) } = &r.command.body else {
        return Err(format!("addConference: {:?} {:?}", r.code, r.reason).into());
    };
    Ok(ci.entity.to_string())
}

/// `ua` joins the conference `focus` (INVITE with addUser, Call-ID `focus-<user>`): the 200
/// and the C3P answer.
///
/// # Errors
/// The request failed.
pub async fn join_focus(ua: &mut Ua, focus: &str) -> Result<(Message, Response), Fail> {
    let call = format!("focus-{}", ua.user);
    let endpoint = format!("{{{}-pc}}", ua.user);
    let body = join_body(focus, ua.user, &endpoint);
    ua.c3p("INVITE", focus, &call, None, body, None).await
}

fn join_body(focus: &str, user: &str, endpoint: &str) -> Body {
    Body::join(focus, &format!("sip:{user}@contoso.com"), endpoint)
}

fn dial_in_body(focus: &str, user: &str) -> Body {
    Body::AddUser {
        keys: Some(Keys::conference(focus)),
        user: Some(Box::new(User::new(
            format!("sip:{user}@contoso.com"),
            Role::Attendee,
        ))),
    }
}

/// Runs the demo; the report of what happened.
///
/// # Errors
/// Any step that did not go as a working server makes it go, with what was wrong.
pub async fn run(opts: &Options) -> Result<Report, Fail> {
    let log = Log {
        t0: Instant::now(),
        steps: Arc::new(Mutex::new(Vec::new())),
        print: opts.print,
    };
    let dir = std::env::temp_dir().join(format!(
        "ocs-demo-{}-{}",
        std::process::id(),
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let config = Config {
        data_dir: dir.clone(),
        udp: None,
        tcp: Some(any),
        tls: None,
        web: Some(any),
        media: Some(any),
        psom: Some(any),
        auth: vec!["NTLM".into()],
        ..Config::default()
    };
    let server = crate::server::spawn(config).await?;
    let bound = server.bound;
    let sip = bound.tcp.ok_or("no SIP/TCP")?;
    let web = bound.web.ok_or("no web listener")?;
    let server_line = format!(
        "SIP/TCP {sip}, web {web}, MCU C3P {}, A/V media {}",
        bound.mcu,
        bound
            .media
            .map_or("-".into(), |(a, b)| format!("{a} (RTCP {b})"))
    );
    log.say("server", format!("started in-process: {server_line}"));
    let cert = std::fs::read(dir.join("tls-cert.pem")).unwrap_or_default();
    let result = meeting(opts, &log, sip, web, &cert).await;
    let _ = server.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    let (conference, contacts, notifications, quality) = result?;
    log.say("server", "stopped");
    let steps = log.steps.lock().map(|s| s.clone()).unwrap_or_default();
    Ok(Report {
        steps,
        server: server_line,
        conference,
        address_book_contacts: contacts,
        notifications,
        quality,
    })
}

#[allow(clippy::too_many_lines)]
async fn meeting(
    opts: &Options,
    log: &Log,
    sip: SocketAddr,
    web: SocketAddr,
    cert: &[u8],
) -> Result<(String, usize, usize, Vec<QualityRow>), Fail> {
    let mut rng = Rng::seeded(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(7, |d| d.as_nanos() as u64)
            | 1,
    );
    let names = ["alice", "bob", "carol"];
    let mut uas = Vec::new();
    for n in names {
        let mut ua = Ua::connect(sip, n).await?;
        register(&mut ua, &format!("{n}-Passw0rd"), &mut rng, log).await?;
        uas.push(ua);
    }
    let [alice, bob, carol] = &mut uas[..] else {
        return Err("three participants".into());
    };

    // Provisioning, then the address book.
    let prov = alice
        .request(
            "SUBSCRIBE",
            "sip:alice@contoso.com",
            "prov",
            None,
            &[
                ("Event", "vnd-microsoft-provisioning-v2".into()),
                (
                    "Accept",
                    "application/vnd-microsoft-roaming-provisioning-v2+xml".into(),
                ),
            ],
            None,
        )
        .await?;
    let body = String::from_utf8_lossy(prov.body()).into_owned();
    let between = |a: &str, b: &str| -> Option<String> {
        let i = body.find(a)? + a.len();
        let j = body[i..].find(b)? + i;
        Some(body[i..j].to_owned())
    };
    let abs_url = between("<absInternalServerUrl>", "</absInternalServerUrl>")
        .ok_or("no address book URL in provisioning")?;
    let factory =
        between("<focusFactoryUri>", "</focusFactoryUri>").ok_or("no focus factory URI")?;
    log.say(
        "alice",
        format!("in-band provisioning: focus factory {factory}, address book at {abs_url}"),
    );
    let day = day_from_unix(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)?
            .as_secs(),
    )
    .ok_or("no ABS day for today")?;
    let path = format!("{}F-{day:04X}.lsabs", crate::server::web::ABS_PATH);
    // The Address Book Server asks for the user's own credentials (HTTP Digest).
    let alice_login = ("alice", "alice-Passw0rd");
    let (status, headers, book) = http_get_as(web, &path, &[], alice_login).await?;
    let book = AbsFile::parse(&book).map_err(|e| format!("GET {path}: {status}: {e}"))?;
    let etag = headers
        .iter()
        .find(|(n, _)| n == "etag")
        .map(|(_, v)| v.clone())
        .ok_or("no ETag")?;
    let (again, _, _) = http_get_as(web, &path, &[("if-none-match", &etag)], alice_login).await?;
    log.say(
        "alice",
        format!(
            "GET {path}: {status}, {} contacts, ETag {etag}; again with If-None-Match: {again}",
            book.contacts.len()
        ),
    );

    // The conference.
    let focus = create_conference(alice, &factory, "Design review").await?;
    let id = crate::cccp::uri::ConferenceUri::parse(&focus)
        .ok()
        .and_then(|u| u.conference_id)
        .unwrap_or_default();
    log.say(
        "alice",
        format!("SERVICE addConference → success: conference {id}, focus {focus}"),
    );
    let av = focus.replace(":focus:", ":audio-video:");

    // Alice watches the conference.
    let sub = alice
        .request(
            "SUBSCRIBE",
            &focus,
            "watch",
            None,
            &[
                ("Event", "conference".into()),
                ("Accept", "application/conference-info+xml".into()),
                ("Supported", "ms-benotify".into()),
                ("Expires", "3600".into()),
            ],
            None,
        )
        .await?;
    let full = alice.wait_for(|m| m.method() == Some("NOTIFY")).await?;
    let mut tracker = Tracker::new();
    tracker.apply(&ConferenceInfo::parse(Bytes::copy_from_slice(full.body()))?)?;
    log.say(
        "alice",
        format!(
            "SUBSCRIBE Event: conference → {} (BENOTIFY {}), full state version 1",
            sub.status().unwrap_or(0),
            if sub
                .values(HeaderName::Supported)
                .any(|(v, _)| v == "ms-benotify")
            {
                "accepted"
            } else {
                "refused"
            }
        ),
    );
    let mut notifications = 1;

    // Everyone joins the focus and dials in to the A/V MCU.
    let mut focus_tags = Vec::new();
    let mut av_tags = Vec::new();
    let mut media = Vec::new();
    for ua in [&mut *alice, &mut *bob, &mut *carol] {
        let call = format!("focus-{}", ua.user);
        let (ok, r) = join_focus(ua, &focus).await?;
        let tag = to_tag(&ok)?;
        let (_, d) = ua
            .c3p(
                "INFO",
                &focus,
                &call,
                Some(&tag),
                dial_in_body(&focus, ua.user),
                Some(&av),
            )
            .await?;
        // The offer: our key, our sockets.
        let rtp = UdpSocket::bind("127.0.0.1:0").await?;
        let rtcp = UdpSocket::bind("127.0.0.1:0").await?;
        let key: [u8; 30] = rng.bytes();
        let crypto = crate::srtp::sdes::Crypto::new(1, Suite::AesCm128HmacSha1_80, &key, true);
        let offer = format!(
            "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=demo\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=audio {} RTP/SAVP 0\r\na=rtcp:{}\r\na=crypto:{crypto}\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
            rtp.local_addr()?.port(),
            rtcp.local_addr()?.port()
        );
        let av_ok = ua
            .request(
                "INVITE",
                &av,
                &format!("av-{}", ua.user),
                None,
                &[],
                Some(("application/sdp", offer.as_bytes())),
            )
            .await?;
        let (mrtp, mrtcp, mcu_key) = answer(&av_ok)?;
        log.say(
            ua.user,
            format!(
                "INVITE focus (addUser) → {} {:?}; INFO addUser at the A/V MCU → {:?}; INVITE A/V MCU (RTP/SAVP, a=crypto) → {}, media {mrtp}",
                ok.status().unwrap_or(0),
                r.code,
                d.code,
                av_ok.status().unwrap_or(0)
            ),
        );
        media.push((rtp, rtcp, (mrtp, mrtcp), crypto.policy()?, mcu_key));
        av_tags.push(to_tag(&av_ok)?);
        focus_tags.push(tag);
    }
    for n in alice.take(|m| {
        matches!(m.method(), Some("NOTIFY" | "BENOTIFY")) && m.call_id().ok() == Some("watch")
    }) {
        tracker.apply(&ConferenceInfo::parse(Bytes::copy_from_slice(n.body()))?)?;
        notifications += 1;
    }
    let users = tracker.state().map_or(0, |s| s.user_list().len());
    log.say(
        "alice",
        format!("{notifications} conference notifications so far; the state lists {users} users"),
    );

    // Audio.
    let secs = opts.seconds.max(1);
    let third = secs as f64 / 3.0;
    log.say(
        "server",
        format!(
            "{secs} s of audio: alice, bob, carol speak in turn; carol's path loses 10 % and delays by 20 to 60 ms"
        ),
    );
    let mut tasks = Vec::new();
    let ssrcs: Vec<u32> = (0..3).map(|_| rng.next() as u32).collect();
    for (i, (rtp, rtcp, mcu, send_key, recv_key)) in media.into_iter().enumerate() {
        let speaks = move |t: f64| (t / third) as usize == i;
        tasks.push(tokio::spawn(audio(
            rtp,
            rtcp,
            mcu,
            send_key,
            recv_key,
            ssrcs[i],
            speaks,
            i == 2,
            secs,
            rng.next(),
        )));
    }
    let mut heard = Vec::new();
    for t in tasks {
        heard.push(t.await.map_err(|e| e.to_string())??);
    }
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let login = ("alice", "alice-Passw0rd");
    let (status, _, json) = http_get_as(web, crate::server::web::QUALITY_PATH, &[], login).await?;
    let v: serde_json::Value = serde_json::from_slice(&json)?;
    let rows = v
        .get(&av)
        .and_then(|r| r.as_array())
        .ok_or_else(|| format!("GET /av/quality: {status}: no report for {av}"))?;
    let mut quality = Vec::new();
    for (i, n) in names.iter().enumerate() {
        let aor = format!("{n}@contoso.com");
        let r = rows
            .iter()
            .find(|r| r["user"].as_str() == Some(aor.as_str()))
            .ok_or_else(|| format!("no quality for {n}"))?;
        let mut who: Vec<usize> = heard[i]
            .speakers
            .iter()
            .filter_map(|s| ssrcs.iter().position(|x| x == s))
            .collect();
        who.sort_unstable();
        let speakers = who.into_iter().map(|p| names[p].to_owned()).collect();
        quality.push(QualityRow {
            user: (*n).to_owned(),
            path: if i == 2 {
                "lossy, jittery".into()
            } else {
                "clean".into()
            },
            sent: heard[i].sent,
            received: r["received"].as_u64().unwrap_or(0),
            lost: r["lost"].as_i64().unwrap_or(0),
            loss_percent: r["loss_percent"].as_f64().unwrap_or(0.0),
            jitter_ms: r["jitter_ms"].as_f64().unwrap_or(0.0),
            rtt_ms: r["rtt_ms"].as_f64(),
            mos: r["mos"].as_f64().unwrap_or(0.0),
            heard: speakers,
        });
    }
    log.say("server", "the A/V MCU's measurements (GET /av/quality):");
    if opts.print {
        println!(
            "           {:<7} {:<15} {:>6} {:>8} {:>6} {:>7} {:>9} {:>7} {:>5}  heard",
            "user", "path", "sent", "received", "lost", "loss", "jitter", "RTT", "MOS"
        );
        for q in &quality {
            println!(
                "           {:<7} {:<15} {:>6} {:>8} {:>6} {:>6.1}% {:>6.1} ms {:>7} {:>5.2}  {}",
                q.user,
                q.path,
                q.sent,
                q.received,
                q.lost,
                q.loss_percent,
                q.jitter_ms,
                q.rtt_ms.map_or("-".into(), |r| format!("{r:.0} ms")),
                q.mos,
                q.heard.join(", ")
            );
        }
    }

    // The web conference over PSOM.
    let mut psom =
        web_conference(log, web, &focus, &focus_tags, alice, bob, cert, &mut rng).await?;

    // Promote, lock, lobby, leave, delete.
    let (_, r) = alice
        .c3p(
            "INFO",
            &focus,
            "focus-alice",
            Some(&focus_tags[0]),
            Body::ModifyUserRoles {
                keys: Some(Keys::user(focus.clone(), "sip:bob@contoso.com")),
                roles: Some(vec![Role::Presenter]),
            },
            None,
        )
        .await?;
    // The focus tells the web-conferencing MCU too: Bob's PSOM session sees his new role.
    let bob_uri = "sip:bob@contoso.com";
    psom[1]
        .until(|c, _| {
            c.view()
                .roster
                .get(bob_uri)
                .is_some_and(|p| p.role == crate::psom::meeting::Role::Presenter)
        })
        .await?;
    log.say(
        "alice",
        format!(
            "INFO modifyUserRoles bob → presenter: {:?}; bob's PSOM roster entry follows: Presenter",
            r.code
        ),
    );
    drop(psom);
    let (_, r) = alice
        .c3p(
            "INFO",
            &focus,
            "focus-alice",
            Some(&focus_tags[0]),
            Body::ModifyConferenceLock {
                keys: Some(Keys::conference(focus.clone())),
                locked: Some(true),
            },
            None,
        )
        .await?;
    log.say(
        "alice",
        format!("INFO modifyConferenceLock locked: {:?}", r.code),
    );
    // Carol leaves and comes back: the conference is locked, she waits in the lobby.
    carol
        .request("BYE", &av, "av-carol", Some(&av_tags[2]), &[], None)
        .await?;
    carol
        .request(
            "BYE",
            &focus,
            "focus-carol",
            Some(&focus_tags[2]),
            &[],
            None,
        )
        .await?;
    let (ok, r) = carol
        .c3p(
            "INVITE",
            &focus,
            "focus-carol-2",
            None,
            join_body(&focus, "carol", "{carol-pc}"),
            None,
        )
        .await?;
    log.say(
        "carol",
        format!(
            "left; INVITE focus again → {} {:?}: waiting in the lobby",
            ok.status().unwrap_or(0),
            r.code
        ),
    );
    let carol_tag = to_tag(&ok)?;
    let (_, r) = alice
        .c3p(
            "INFO",
            &focus,
            "focus-alice",
            Some(&focus_tags[0]),
            Body::SetLobbyAccess {
                keys: Some(Keys::conference(focus.clone())),
                users: vec!["sip:carol@contoso.com".into()],
                access: Some(LobbyAccess::Granted),
            },
            None,
        )
        .await?;
    let admitted = carol
        .wait_for(|m| m.method() == Some("INFO") && m.call_id().ok() == Some("focus-carol-2"))
        .await?;
    let final_answer = Response::parse(Bytes::copy_from_slice(admitted.body()))?;
    log.say(
        "alice",
        format!(
            "INFO setLobbyAccess carol granted: {:?}; carol gets the final answer in INFO: {:?}",
            r.code, final_answer.code
        ),
    );
    if final_answer.code != Code::Success {
        return Err("carol was not admitted".into());
    }
    bob.request("BYE", &av, "av-bob", Some(&av_tags[1]), &[], None)
        .await?;
    bob.request("BYE", &focus, "focus-bob", Some(&focus_tags[1]), &[], None)
        .await?;
    log.say("bob", "BYE to the A/V MCU and the focus: left");
    carol
        .request("BYE", &focus, "focus-carol-2", Some(&carol_tag), &[], None)
        .await?;
    let (_, r) = alice
        .c3p(
            "SERVICE",
            &factory,
            "delete",
            None,
            Body::DeleteConference {
                keys: Some(Keys::conference(focus.clone())),
                info: None,
            },
            None,
        )
        .await?;
    let last = alice
        .wait_for(|m| {
            m.method() == Some("NOTIFY")
                && m.header_by_name("Subscription-State")
                    .is_some_and(|s| s.value.starts_with("terminated"))
        })
        .await?;
    notifications += 1 + alice
        .take(|m| {
            matches!(m.method(), Some("NOTIFY" | "BENOTIFY")) && m.call_id().ok() == Some("watch")
        })
        .len();
    log.say(
        "alice",
        format!(
            "SERVICE deleteConference: {:?}; the subscription ends ({})",
            r.code,
            last.header_by_name("Subscription-State")
                .map(|h| h.value)
                .unwrap_or_default()
        ),
    );
    // [MS-SIPAE]: everything the server sent each of them was signed by its association.
    for ua in [&*alice, &*bob, &*carol] {
        let bad = ua.unsigned_received();
        if bad > 0 {
            return Err(format!("{}: {bad} messages from the server not signed", ua.user).into());
        }
        log.say(
            ua.user,
            "every message from the server carried a valid rspauth",
        );
    }
    Ok((focus, book.contacts.len(), notifications, quality))
}

/// Alice and Bob dial in to the web-conferencing MCU over C3P and join over PSOM with the
/// credentials it answered; Alice uploads slides, shows one, runs a poll Bob votes in; Bob
/// downloads the slides over HTTP with the URL and key PSOM gave him.
#[allow(clippy::too_many_arguments)]
async fn web_conference(
    log: &Log,
    web: SocketAddr,
    focus: &str,
    focus_tags: &[String],
    alice: &mut Ua,
    bob: &mut Ua,
    cert: &[u8],
    rng: &mut Rng,
) -> Result<Vec<Psom>, Fail> {
    use crate::psom::client::Action;
    use crate::psom::value::Value;
    use sha1::Digest as _;
    let meeting = focus.replace(":focus:", ":meeting:");
    let mut sessions = Vec::new();
    for (ua, tag) in [(&mut *alice, &focus_tags[0]), (&mut *bob, &focus_tags[1])] {
        let (_, r) = ua
            .c3p(
                "INFO",
                focus,
                &format!("focus-{}", ua.user),
                Some(tag),
                dial_in_body(focus, ua.user),
                Some(&meeting),
            )
            .await?;
        let Body::AddUser { user: Some(u), .. } = &r.command.body else {
            return Err(format!("addUser at the web-conferencing MCU: {:?}", r.code).into());
        };
        let ep = u.endpoints.first().ok_or("no endpoint in the answer")?;
        let p = Psom::connect(ep, cert, ua.user).await?;
        let role = p.client.role();
        log.say(
            ua.user,
            format!(
                "INFO addUser at the web-conferencing MCU → {:?} with connection-info ({}); PSOM over TLS: joined as {role:?}",
                r.code,
                ep.connection_info
                    .iter()
                    .flatten()
                    .map(|e| e.key.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        sessions.push(p);
    }
    let [a, b] = &mut sessions[..] else {
        return Err("two PSOM sessions".into());
    };
    // Slides: 48 KB uploaded in chunks, SHA-1 checked by the server.
    let deck: Vec<u8> = (0..48 * 1024).map(|_| rng.next() as u8).collect();
    let sha1: [u8; 20] = sha1::Sha1::digest(&deck).into();
    let name = "design-review.pptx";
    let begun = a
        .call(Action::BeginUpload {
            name: name.into(),
            size: deck.len() as u64,
            sha1,
        })
        .await?;
    let Some(Value::U32(id)) = begun.first() else {
        return Err(format!("Upload.Begin: {begun:?}").into());
    };
    for (i, chunk) in deck.chunks(16 * 1024).enumerate() {
        a.call(Action::UploadChunk {
            id: *id,
            offset: (i * 16 * 1024) as u64,
            data: chunk.to_vec(),
        })
        .await?;
    }
    a.call(Action::FinishUpload(*id)).await?;
    a.call(Action::LoadDeck {
        id: name.into(),
        slides: 12,
    })
    .await?;
    a.call(Action::GoTo(3)).await?;
    b.until(|c, _| c.view().deck.as_ref().is_some_and(|d| d.current == 3))
        .await?;
    log.say(
        "alice",
        format!("PSOM: uploaded {name} ({} bytes, SHA-1 checked), loaded it, went to slide 3 — bob sees slide 3", deck.len()),
    );
    a.call(Action::OpenPoll {
        question: "Ship the design?".into(),
        choices: vec!["yes".into(), "not yet".into()],
    })
    .await?;
    b.until(|c, _| c.view().poll.as_ref().is_some_and(|p| p.open))
        .await?;
    b.call(Action::Vote(0)).await?;
    a.call(Action::Vote(0)).await?;
    a.call(Action::ClosePoll).await?;
    b.until(|c, _| c.view().poll.as_ref().is_some_and(|p| !p.open))
        .await?;
    let poll = b.client.view().poll.clone().ok_or("no poll")?;
    log.say(
        "alice",
        format!(
            "PSOM: poll \"{}\" opened, voted, closed: {}",
            poll.question,
            poll.choices
                .iter()
                .zip(&poll.counts)
                .map(|(c, n)| format!("{c} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    // Bob downloads the slides with what PSOM told him.
    b.until(|c, _| !c.view().content.is_empty()).await?;
    let content = b.client.view().content[0].clone();
    let path = content
        .url
        .strip_prefix(&format!("http://{web}"))
        .ok_or("content URL on another server")?
        .to_owned();
    let (status, _, stored) = http_get(web, &path, &[]).await?;
    let plain = crate::server::webconf::open(&content.key, &stored).ok_or("cannot decrypt")?;
    if plain != deck {
        return Err("the downloaded slides differ".into());
    }
    log.say(
        "bob",
        format!(
            "GET {path}: {status}, {} bytes stored encrypted; decrypted with the key from PSOM: the {} bytes Alice uploaded",
            stored.len(),
            plain.len()
        ),
    );
    Ok(sessions)
}
