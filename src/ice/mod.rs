//! ICE for the A/V MCU's media sockets, sans-IO: one [`Agent`] per participant's stream
//! answers the participant's connectivity checks on the MCU's host candidates, makes checks of
//! its own back (triggered checks, RFC 5245 §7.2.1.4) and keeps consent fresh (RFC 7675), in
//! the dialect the participant speaks ([`stun::Dialect`]):
//!
//! - **[MS-ICE]** (ICE draft 6, Office Communicator 2007, libnice `OC2007`): credentials per
//!   candidate — a username of 32 random bytes and a password of 16, base64 in
//!   `a=candidate:<username> <component> <password> UDP 0.830 <ip> <port>`; a check's USERNAME
//!   is the recipient's username decoded, `:`, the component, `:`, the sender's, `:`, the
//!   component, NUL-padded; MESSAGE-INTEGRITY is keyed with the recipient's password decoded.
//! - **[MS-ICE2]** (Communicator 2007 R2, libnice `OC2007R2`) and **RFC 5245**: `a=ice-ufrag`
//!   and `a=ice-pwd`, USERNAME `<recipient ufrag>:<sender ufrag>`, MESSAGE-INTEGRITY keyed
//!   with the recipient's password. Which of the two a participant speaks shows in its checks
//!   (MS-IMPLEMENTATION-VERSION); the agent answers in kind.
//!
//! The MCU is the controlled agent with host candidates only: it never nominates, it takes
//! the participant's nomination (USE-CANDIDATE; in [MS-ICE] every check of the controlling
//! side). An authenticated check from an address is answered and makes the MCU check that
//! address at once (a triggered check). **Consent** there (RFC 7675) comes only from answers
//! to the MCU's own checks — from that address, on that component, to a transaction ID nobody
//! can predict — so a participant, who knows the MCU's password for its leg, cannot aim media
//! at an address it does not receive at. Consent checks go every 4–6 s; consent ends 30 s
//! after the last answer; media goes only where consent is fresh.
//!
//! Inputs: [`Agent::handle`] for every STUN datagram of its stream, [`Agent::handle_timeout`]
//! when [`Agent::poll_timeout`] is due; outputs from [`Agent::poll_transmit`]. Time comes in
//! as arguments, randomness as a seed.

pub mod stun;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use base64::Engine as _;
use rand::{Rng, RngExt as _, SeedableRng};

pub use stun::Dialect;
use stun::{Message, StunError, Writer, attr};

/// How long consent lasts after the last authenticated word from the participant.
pub const CONSENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The mean interval of consent checks.
const CONSENT_INTERVAL: Duration = Duration::from_secs(5);
/// Retransmissions of a check (RFC 5389 §7.2.1: 100 ms doubling).
const RTO: Duration = Duration::from_millis(100);
const TRIES: u32 = 6;
/// The most addresses an agent keeps per stream (candidate pairs it answers).
const MAX_PATHS: usize = 8;

/// Which ICE the participant's offer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flavor {
    /// [MS-ICE]: per-candidate credentials.
    Draft6,
    /// RFC 5245 or [MS-ICE2]: `a=ice-ufrag`, `a=ice-pwd`.
    Ufrag,
}

/// One side's credentials. For [`Flavor::Draft6`] both are base64 (padded) as in the
/// candidate lines; for [`Flavor::Ufrag`] the ufrag and password as written.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The username fragment ([MS-ICE]: the candidate username).
    pub ufrag: String,
    /// The password.
    pub pwd: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The password is a secret: never in a log.
        f.debug_struct("Credentials")
            .field("ufrag", &self.ufrag)
            .finish_non_exhaustive()
    }
}

const ICE_CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

impl Credentials {
    /// New random credentials of `flavor` from `rng`: 32 and 16 random bytes in base64 for
    /// [MS-ICE]; an 8-character ufrag and a 24-character password for the others.
    pub fn random(flavor: Flavor, rng: &mut impl Rng) -> Credentials {
        let b64 = base64::engine::general_purpose::STANDARD;
        match flavor {
            Flavor::Draft6 => {
                let mut u = [0u8; 32];
                let mut p = [0u8; 16];
                rng.fill_bytes(&mut u);
                rng.fill_bytes(&mut p);
                // No `:` in the username: a check's USERNAME, binary, names it up to its
                // first colon (`local_key`).
                for b in &mut u {
                    if *b == b':' {
                        *b ^= 0x80;
                    }
                }
                Credentials {
                    ufrag: b64.encode(u),
                    pwd: b64.encode(p),
                }
            }
            Flavor::Ufrag => {
                let mut pick = |n: usize| -> String {
                    (0..n)
                        .map(|_| char::from(ICE_CHARS[rng.random_range(0..ICE_CHARS.len())]))
                        .collect()
                };
                Credentials {
                    ufrag: pick(8),
                    pwd: pick(24),
                }
            }
        }
    }

    /// The key MESSAGE-INTEGRITY is keyed with: the password, decoded for [MS-ICE].
    fn key(&self, flavor: Flavor) -> Vec<u8> {
        match flavor {
            Flavor::Draft6 => decode(&self.pwd).unwrap_or_default(),
            Flavor::Ufrag => self.pwd.as_bytes().to_vec(),
        }
    }

    /// The [MS-ICE] username decoded (the ufrag's bytes for the others).
    fn user_bytes(&self, flavor: Flavor) -> Vec<u8> {
        match flavor {
            Flavor::Draft6 => decode(&self.ufrag).unwrap_or_default(),
            Flavor::Ufrag => self.ufrag.as_bytes().to_vec(),
        }
    }
}

/// base64 with or without its `=` padding (SDP writers of [MS-ICE] leave it out).
fn decode(s: &str) -> Option<Vec<u8>> {
    let e = base64::engine::general_purpose::STANDARD_NO_PAD;
    e.decode(s.trim_end_matches('=')).ok()
}

/// The key an agent is found by for a request: its local ufrag (for [MS-ICE], its username in
/// base64 with padding), read from the request's USERNAME.
#[must_use]
pub fn local_key(msg: &Message<'_>) -> Option<String> {
    let user = msg.get(attr::USERNAME)?;
    let end = user.iter().position(|&b| b == b':')?;
    if msg.has_cookie() {
        std::str::from_utf8(&user[..end]).ok().map(str::to_owned)
    } else {
        Some(base64::engine::general_purpose::STANDARD.encode(&user[..end]))
    }
}

/// A datagram for the participant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Its component: 1 RTP, 2 RTCP (which MCU socket sends it).
    pub component: u8,
    /// Where to.
    pub to: SocketAddr,
    /// The STUN message.
    pub bytes: Vec<u8>,
}

/// What a STUN datagram was to the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// An authenticated check from `from`, answered: media may go there.
    Check {
        /// The component.
        component: u8,
        /// Where it came from.
        from: SocketAddr,
        /// Whether it nominates that address (USE-CANDIDATE; every [MS-ICE] check).
        nominated: bool,
    },
    /// The answer to a check of ours.
    Answer {
        /// The component.
        component: u8,
        /// Who answered.
        from: SocketAddr,
    },
    /// A keep-alive indication (nothing to do).
    Indication,
}

/// Why a STUN datagram was not taken (nothing is answered).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IceError {
    /// It is not STUN the agent reads.
    #[error("{0}")]
    Stun(#[from] StunError),
    /// The USERNAME is not ours (or has no component the agent knows).
    #[error("the USERNAME is not this agent's")]
    WrongUser,
    /// A dialect this agent's participant does not speak.
    #[error("a {0:?} message to a {1:?} agent")]
    WrongDialect(Dialect, Flavor),
    /// An answer to no check of ours, or an error answer.
    #[error("an answer to no check of ours")]
    Unsolicited,
    /// The agent keeps no more addresses.
    #[error("too many addresses for one stream")]
    TooManyPaths,
}

/// One address of the participant on one component.
#[derive(Debug, Clone)]
struct Path {
    component: u8,
    remote: SocketAddr,
    nominated: bool,
    /// Which of the participant's credentials its checks from there use (its candidate's).
    cred: usize,
    /// The check of ours in flight: transaction, tries so far, when to send again.
    check: Option<([u8; 16], u32, Instant)>,
    /// The next consent check.
    next_check: Instant,
    /// When its last authenticated check came.
    checked: Instant,
    /// The last answer to one of our checks there: consent (RFC 7675).
    answered: Option<Instant>,
    /// Answers to our checks.
    answers: u32,
}

impl Path {
    fn consented(&self, now: Instant) -> bool {
        self.answered
            .is_some_and(|t| now.saturating_duration_since(t) < CONSENT_TIMEOUT)
    }
}

/// What the agent knows of one address: for reports and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathReport {
    /// The component.
    pub component: u8,
    /// The participant's address.
    pub remote: SocketAddr,
    /// Nominated by the participant.
    pub nominated: bool,
    /// Answers the participant gave to the MCU's checks.
    pub answers: u32,
    /// Until when media may go there (none before the first answer).
    pub consent_until: Option<Instant>,
}

/// ICE for one participant's stream: see the [module documentation](self).
pub struct Agent {
    flavor: Flavor,
    local: Credentials,
    local_key: Vec<u8>,
    /// Its username as a check carries it (decoded for [MS-ICE]).
    local_user: Vec<u8>,
    /// The participant's credentials — one for [`Flavor::Ufrag`], one per candidate for
    /// [MS-ICE] — each with its key and (decoded) username.
    remote: Vec<(Credentials, Vec<u8>, Vec<u8>)>,
    /// What the participant writes, once it has written ([MS-ICE2] or RFC 5245 for
    /// [`Flavor::Ufrag`]).
    pub(crate) dialect: Option<Dialect>,
    paths: Vec<Path>,
    out: VecDeque<Transmit>,
    rng: rand::rngs::StdRng,
    tie_breaker: [u8; 8],
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("flavor", &self.flavor)
            .field("local", &self.local)
            .field("paths", &self.paths.len())
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent with the MCU's credentials `local` and the participant's `remote` (every
    /// candidate's for [MS-ICE]); `seed` — 32 bytes nobody can predict — makes its transaction
    /// IDs and consent intervals.
    #[must_use]
    pub fn new(
        flavor: Flavor,
        local: Credentials,
        remote: Vec<Credentials>,
        seed: [u8; 32],
    ) -> Agent {
        let mut rng = rand::rngs::StdRng::from_seed(seed);
        let mut tie_breaker = [0u8; 8];
        rng.fill_bytes(&mut tie_breaker);
        let remote = remote
            .into_iter()
            .map(|c| {
                let (k, u) = (c.key(flavor), c.user_bytes(flavor));
                (c, k, u)
            })
            .collect();
        Agent {
            local_key: local.key(flavor),
            local_user: local.user_bytes(flavor),
            flavor,
            local,
            remote,
            dialect: None,
            paths: Vec::new(),
            out: VecDeque::new(),
            rng,
            tie_breaker,
        }
    }

    /// The MCU's credentials.
    #[must_use]
    pub fn local(&self) -> &Credentials {
        &self.local
    }

    /// What it knows of each address.
    #[must_use]
    pub fn paths(&self) -> Vec<PathReport> {
        self.paths
            .iter()
            .map(|p| PathReport {
                component: p.component,
                remote: p.remote,
                nominated: p.nominated,
                answers: p.answers,
                consent_until: p.answered.map(|t| t + CONSENT_TIMEOUT),
            })
            .collect()
    }

    /// Whether media may go to `to` on `component` at `now`: consent there is fresh.
    #[must_use]
    pub fn consent(&self, component: u8, to: SocketAddr, now: Instant) -> bool {
        self.paths
            .iter()
            .any(|p| p.component == component && p.remote == to && p.consented(now))
    }

    /// Whether an address of host `ip` has fresh consent: where a stream of the same
    /// participant without ICE of its own (its video) may go.
    #[must_use]
    pub fn consent_ip(&self, ip: std::net::IpAddr, now: Instant) -> bool {
        self.paths
            .iter()
            .any(|p| p.remote.ip() == ip && p.consented(now))
    }

    /// The address media goes to on `component`: the nominated one with fresh consent, else
    /// the one answered last.
    #[must_use]
    pub fn selected(&self, component: u8, now: Instant) -> Option<SocketAddr> {
        self.paths
            .iter()
            .filter(|p| p.component == component && p.consented(now))
            .max_by_key(|p| (p.nominated, p.answered))
            .map(|p| p.remote)
    }

    /// Every address it knows, with its component.
    pub fn addresses(&self) -> impl Iterator<Item = (u8, SocketAddr)> + '_ {
        self.paths.iter().map(|p| (p.component, p.remote))
    }

    /// A STUN datagram from `from` on `component`: a check is answered (out of
    /// [`Agent::poll_transmit`]) when it is authenticated with the MCU's password; an answer
    /// to one of the MCU's checks gives consent.
    ///
    /// # Errors
    /// Why it was not taken; nothing is answered then.
    pub fn handle(
        &mut self,
        now: Instant,
        component: u8,
        from: SocketAddr,
        datagram: &[u8],
    ) -> Result<Received, IceError> {
        // The Microsoft dialects do not pad: read them unpadded first.
        let unpadded = self.flavor == Flavor::Draft6 || self.dialect == Some(Dialect::MsIce2);
        let msg = Message::parse_preferring(datagram, !unpadded)?;
        // An answer is read in the dialect of the participant's checks.
        let dialect = match (msg.kind(), self.dialect) {
            (stun::BINDING_SUCCESS, Some(d)) => d,
            _ => msg.dialect(),
        };
        let fits = match self.flavor {
            Flavor::Draft6 => dialect == Dialect::Draft6,
            Flavor::Ufrag => dialect != Dialect::Draft6,
        };
        if !fits {
            return Err(IceError::WrongDialect(dialect, self.flavor));
        }
        match msg.kind() {
            stun::BINDING_REQUEST => self.check(now, component, from, &msg, dialect),
            stun::BINDING_SUCCESS => {
                // An answer to our check: from where it went, on its component.
                let tid = msg.transaction();
                let Some(i) = self.paths.iter().position(|p| {
                    p.check.is_some_and(|c| c.0 == tid)
                        && p.remote == from
                        && p.component == component
                }) else {
                    return Err(IceError::Unsolicited);
                };
                let Some((_, key, _)) = self.remote.get(self.paths[i].cred) else {
                    return Err(IceError::Unsolicited);
                };
                msg.verify(dialect, key)?;
                let p = &mut self.paths[i];
                p.check = None;
                p.answered = Some(now);
                p.answers += 1;
                Ok(Received::Answer {
                    component: p.component,
                    from: p.remote,
                })
            }
            stun::BINDING_INDICATION => Ok(Received::Indication),
            _ => Err(IceError::Unsolicited),
        }
    }

    fn check(
        &mut self,
        now: Instant,
        component: u8,
        from: SocketAddr,
        msg: &Message<'_>,
        dialect: Dialect,
    ) -> Result<Received, IceError> {
        let user = msg.get(attr::USERNAME).ok_or(IceError::WrongUser)?;
        let mine = &self.local_user;
        // Ours, then the sender's: which of its candidates' credentials it checks with.
        let theirs = match self.flavor {
            Flavor::Ufrag
                if user.len() > mine.len()
                    && user.starts_with(mine)
                    && user[mine.len()] == b':' =>
            {
                &user[mine.len() + 1..]
            }
            // `<ours>:<component>:<theirs>:<component>`, NUL-padded.
            Flavor::Draft6 => {
                let mut want = mine.clone();
                want.push(b':');
                want.extend_from_slice(component.to_string().as_bytes());
                want.push(b':');
                if !user.starts_with(&want) {
                    return Err(IceError::WrongUser);
                }
                &user[want.len()..]
            }
            Flavor::Ufrag => return Err(IceError::WrongUser),
        };
        msg.verify(dialect, &self.local_key)?;
        let cred = match self.flavor {
            Flavor::Ufrag => 0,
            Flavor::Draft6 => self
                .remote
                .iter()
                .position(|(_, _, u)| theirs.starts_with(u) && theirs.get(u.len()) == Some(&b':'))
                .unwrap_or(0),
        };
        self.dialect = Some(dialect);
        let nominated = dialect == Dialect::Draft6 || msg.get(attr::USE_CANDIDATE).is_some();
        let i = match self
            .paths
            .iter()
            .position(|p| p.component == component && p.remote == from)
        {
            Some(i) => i,
            None => {
                if self.paths.len() >= MAX_PATHS {
                    return Err(IceError::TooManyPaths);
                }
                // A new address: a triggered check of ours goes there at once; consent comes
                // with its answer.
                self.paths.push(Path {
                    component,
                    remote: from,
                    nominated: false,
                    cred,
                    check: None,
                    next_check: now,
                    checked: now,
                    answered: None,
                    answers: 0,
                });
                self.paths.len() - 1
            }
        };
        let p = &mut self.paths[i];
        p.checked = now;
        p.cred = cred;
        p.nominated |= nominated;
        // The answer: the same transaction, where it came from, integrity with our key.
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf, stun::BINDING_SUCCESS, &msg.transaction(), dialect);
        if dialect == Dialect::Draft6 {
            // [MS-ICE] clients find the candidate an answer is for by its USERNAME.
            w.attr(attr::USERNAME, user);
        }
        w.address(from);
        if dialect == Dialect::MsIce2 {
            w.attr(attr::MS_IMPLEMENTATION_VERSION, &2u32.to_be_bytes());
        }
        if let Some(n) = w.finish(Some(&self.local_key)) {
            self.out.push_back(Transmit {
                component,
                to: from,
                bytes: buf[..n].to_vec(),
            });
        }
        self.poll_checks(now);
        Ok(Received::Check {
            component,
            from,
            nominated,
        })
    }

    /// When [`Agent::handle_timeout`] is next due.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.paths
            .iter()
            .map(|p| match p.check {
                Some((_, tries, at)) if tries < TRIES => at.min(p.next_check),
                _ => p.next_check,
            })
            .min()
    }

    /// Sends the checks that are due — retransmissions, triggered and consent checks — and
    /// forgets addresses with neither consent nor a check in the last 30 s. Returns whether
    /// it forgot any.
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        let before = self.paths.len();
        self.paths.retain(|p| {
            p.consented(now) || now.saturating_duration_since(p.checked) < CONSENT_TIMEOUT
        });
        self.poll_checks(now);
        self.paths.len() != before
    }

    fn poll_checks(&mut self, now: Instant) {
        let Some(dialect) = self.dialect else { return };
        for i in 0..self.paths.len() {
            let p = &self.paths[i];
            // A new transaction every consent interval (one still unanswered is given up);
            // retransmissions in between.
            let (tid, tries) = if p.next_check <= now {
                (self.transaction(dialect), 0)
            } else {
                match p.check {
                    Some((t, tries, at)) if at <= now && tries < TRIES => (t, tries),
                    _ => continue,
                }
            };
            let (component, remote, cred) = (
                self.paths[i].component,
                self.paths[i].remote,
                self.paths[i].cred,
            );
            if let Some(bytes) = self.our_check(dialect, component, cred, &tid) {
                self.out.push_back(Transmit {
                    component,
                    to: remote,
                    bytes,
                });
            }
            let next = (tries == 0).then(|| self.consent_interval(now));
            let p = &mut self.paths[i];
            p.check = Some((tid, tries + 1, now + RTO * (1 << tries.min(6))));
            if let Some(next) = next {
                p.next_check = next;
            }
        }
    }

    fn consent_interval(&mut self, now: Instant) -> Instant {
        // 4 to 6 seconds (RFC 7675 §5.1).
        let ms = self.rng.random_range(4000..=6000u64);
        now + Duration::from_millis(ms).min(CONSENT_INTERVAL * 2)
    }

    pub(crate) fn transaction(&mut self, dialect: Dialect) -> [u8; 16] {
        let mut t = [0u8; 16];
        self.rng.fill_bytes(&mut t);
        if dialect != Dialect::Draft6 {
            t[..4].copy_from_slice(&stun::COOKIE.to_be_bytes());
        }
        t
    }

    /// A check of ours to the participant, in its dialect, with its credentials `cred`.
    pub(crate) fn our_check(
        &self,
        dialect: Dialect,
        component: u8,
        cred: usize,
        tid: &[u8; 16],
    ) -> Option<Vec<u8>> {
        let (remote, remote_key, remote_user) = self.remote.get(cred)?;
        let mut user = Vec::with_capacity(96);
        match self.flavor {
            Flavor::Draft6 => {
                let c = component.to_string();
                user.extend_from_slice(remote_user);
                user.push(b':');
                user.extend_from_slice(c.as_bytes());
                user.push(b':');
                user.extend_from_slice(&self.local_user);
                user.push(b':');
                user.extend_from_slice(c.as_bytes());
                // 1 to 4 NULs: what [MS-ICE] clients (and libnice) write and compare.
                let pad = 4 - user.len() % 4;
                user.resize(user.len() + pad, 0);
            }
            Flavor::Ufrag => {
                user.extend_from_slice(remote.ufrag.as_bytes());
                user.push(b':');
                user.extend_from_slice(self.local.ufrag.as_bytes());
                if dialect == Dialect::MsIce2 && !user.len().is_multiple_of(4) {
                    let pad = 4 - user.len() % 4;
                    user.resize(user.len() + pad, 0);
                }
            }
        }
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf, stun::BINDING_REQUEST, tid, dialect);
        w.attr(attr::USERNAME, &user);
        if dialect != Dialect::Draft6 {
            // A host candidate's priority (RFC 5245 §4.1.2.1: type 126, local 65535).
            let priority = (126u32 << 24) | (65535 << 8) | (256 - u32::from(component));
            w.attr(attr::PRIORITY, &priority.to_be_bytes());
            w.attr(attr::ICE_CONTROLLED, &self.tie_breaker);
        }
        if dialect == Dialect::MsIce2 {
            w.attr(attr::MS_IMPLEMENTATION_VERSION, &2u32.to_be_bytes());
        }
        let n = w.finish(Some(remote_key))?;
        Some(buf[..n].to_vec())
    }

    /// The next datagram to send.
    #[must_use = "an answer left in the queue is a check never answered"]
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.out.pop_front()
    }
}

/// The SDP lines of the MCU's host candidates for one stream (RTP and RTCP), in `flavor`:
/// [MS-ICE] candidate lines with the credentials in them (base64 without `=`, as
/// Communicator writes them), or `a=ice-ufrag`, `a=ice-pwd` and RFC 5245 candidates.
#[must_use]
pub fn sdp_lines(flavor: Flavor, local: &Credentials, rtp: SocketAddr, rtcp: SocketAddr) -> String {
    match flavor {
        Flavor::Draft6 => {
            let (u, p) = (
                local.ufrag.trim_end_matches('='),
                local.pwd.trim_end_matches('='),
            );
            format!(
                "a=candidate:{u} 1 {p} UDP 0.830 {} {}\r\na=candidate:{u} 2 {p} UDP 0.830 {} {}\r\n",
                rtp.ip(),
                rtp.port(),
                rtcp.ip(),
                rtcp.port()
            )
        }
        Flavor::Ufrag => format!(
            "a=ice-ufrag:{}\r\na=ice-pwd:{}\r\n\
             a=candidate:1 1 UDP 2130706431 {} {} typ host\r\n\
             a=candidate:1 2 UDP 2130706430 {} {} typ host\r\n",
            local.ufrag,
            local.pwd,
            rtp.ip(),
            rtp.port(),
            rtcp.ip(),
            rtcp.port()
        ),
    }
}

/// The participant's ICE from one `m=` section of its offer (media-level attributes first,
/// then session-level ones): `a=ice-ufrag`/`a=ice-pwd`, or [MS-ICE] candidate lines
/// (`<username> <component> <password> UDP <priority> <ip> <port>`), every candidate's
/// credentials (at most 16). `None` without ICE.
#[must_use]
pub fn offered<'a>(
    media: impl Iterator<Item = (&'a str, &'a str)> + Clone,
    session: impl Iterator<Item = (&'a str, &'a str)> + Clone,
) -> Option<(Flavor, Vec<Credentials>)> {
    let find = |name: &str| {
        media
            .clone()
            .find(|(n, _)| *n == name)
            .or_else(|| session.clone().find(|(n, _)| *n == name))
            .map(|(_, v)| v.trim())
    };
    if let (Some(u), Some(p)) = (find("ice-ufrag"), find("ice-pwd")) {
        return Some((
            Flavor::Ufrag,
            vec![Credentials {
                ufrag: u.to_owned(),
                pwd: p.to_owned(),
            }],
        ));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut all: Vec<Credentials> = Vec::new();
    for (_, v) in media.clone().filter(|(n, _)| *n == "candidate") {
        let f: Vec<&str> = v.split_whitespace().collect();
        // username, component, password, UDP, q-priority, ip, port
        if f.len() < 7 || !f[3].eq_ignore_ascii_case("UDP") || f[4].parse::<f64>().is_err() {
            continue;
        }
        let (Some(user), Some(pwd)) = (decode(f[0]), decode(f[2])) else {
            continue;
        };
        let c = Credentials {
            ufrag: b64.encode(user),
            pwd: b64.encode(pwd),
        };
        if all.len() < 16 && !all.contains(&c) {
            all.push(c);
        }
    }
    (!all.is_empty()).then_some((Flavor::Draft6, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(flavor: Flavor) -> (Agent, Agent) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let (a, b) = (
            Credentials::random(flavor, &mut rng),
            Credentials::random(flavor, &mut rng),
        );
        (
            Agent::new(flavor, a.clone(), vec![b.clone()], [2; 32]),
            Agent::new(flavor, b, vec![a], [3; 32]),
        )
    }

    /// The client's check to the MCU on `component`.
    fn check_from(client: &mut Agent, dialect: Dialect, component: u8) -> ([u8; 16], Vec<u8>) {
        client.dialect = Some(dialect);
        let tid = client.transaction(dialect);
        let check = client.our_check(dialect, component, 0, &tid).unwrap();
        (tid, check)
    }

    #[test]
    fn two_agents_check_each_other_in_every_dialect() {
        let t0 = Instant::now();
        let (x, y): (SocketAddr, SocketAddr) = (
            "127.0.0.1:4000".parse().unwrap(),
            "127.0.0.1:5000".parse().unwrap(),
        );
        for (flavor, dialect) in [
            (Flavor::Draft6, Dialect::Draft6),
            (Flavor::Ufrag, Dialect::MsIce2),
            (Flavor::Ufrag, Dialect::Rfc5245),
        ] {
            let (mut mcu, mut client) = pair(flavor);
            // The client checks first (the MCU never starts).
            let (tid, check) = check_from(&mut client, dialect, 1);
            let got = mcu.handle(t0, 1, y, &check).unwrap();
            assert_eq!(
                got,
                Received::Check {
                    component: 1,
                    from: y,
                    nominated: dialect == Dialect::Draft6
                },
                "{dialect:?}"
            );
            // An authenticated check is no consent: the MCU's own check must be answered.
            assert!(!mcu.consent(1, y, t0));
            assert_eq!(mcu.selected(1, t0), None);
            // The answer, then the MCU's triggered check.
            let answer = mcu.poll_transmit().unwrap();
            assert_eq!(answer.to, y);
            let m = Message::parse(&answer.bytes).unwrap();
            assert_eq!(m.kind(), stun::BINDING_SUCCESS);
            assert_eq!(m.transaction(), tid);
            assert_eq!(m.dialect(), dialect);
            m.verify(dialect, &client.remote[0].1).unwrap();
            assert_eq!(m.mapped_address(), Some(y));
            let ours = mcu.poll_transmit().expect("a triggered check");
            let back = client.handle(t0, 1, x, &ours.bytes).unwrap();
            assert!(matches!(back, Received::Check { .. }), "{dialect:?}");
            let reply = client.poll_transmit().unwrap();
            // An answer from elsewhere, or on the other component, gives nothing.
            let z: SocketAddr = "127.0.0.1:5999".parse().unwrap();
            assert_eq!(
                mcu.handle(t0, 1, z, &reply.bytes),
                Err(IceError::Unsolicited)
            );
            assert_eq!(
                mcu.handle(t0, 2, y, &reply.bytes),
                Err(IceError::Unsolicited)
            );
            assert_eq!(
                mcu.handle(t0, 1, y, &reply.bytes).unwrap(),
                Received::Answer {
                    component: 1,
                    from: y
                }
            );
            assert_eq!(mcu.paths()[0].answers, 1);
            assert!(mcu.consent(1, y, t0) && !mcu.consent(2, y, t0));
            assert_eq!(mcu.selected(1, t0), Some(y));
            assert!(mcu.consent_ip(y.ip(), t0));
            // A wrong password, someone else's USERNAME: not answered.
            let mut forged = check.clone();
            let n = forged.len();
            forged[n - 1] ^= 1;
            assert!(mcu.handle(t0, 1, y, &forged).is_err());
            while mcu.poll_transmit().is_some() {}
            let (_, mut stranger) = pair(flavor);
            stranger.remote = vec![(
                Credentials {
                    ufrag: client.local.ufrag.clone(),
                    pwd: mcu.local.pwd.clone(),
                },
                mcu.local.key(flavor),
                client.local.user_bytes(flavor),
            )];
            let (_, other) = check_from(&mut stranger, dialect, 1);
            assert!(mcu.handle(t0, 1, y, &other).is_err(), "{dialect:?}");
            assert!(mcu.poll_transmit().is_none());
        }
    }

    #[test]
    fn a_forged_source_gets_checks_but_never_consent() {
        // A participant knows the MCU's password for its leg and sends a check with a
        // victim's address as source: the victim is checked (a few small packets), never sent
        // media, and forgotten 30 s later.
        let t0 = Instant::now();
        let victim: SocketAddr = "192.0.2.99:40000".parse().unwrap();
        let (mut mcu, mut client) = pair(Flavor::Ufrag);
        let (_, check) = check_from(&mut client, Dialect::Rfc5245, 1);
        mcu.handle(t0, 1, victim, &check).unwrap();
        let mut now = t0;
        let mut sent = 0;
        while now < t0 + Duration::from_secs(31) {
            if mcu.poll_timeout().is_some_and(|t| t <= now) {
                mcu.handle_timeout(now);
            }
            while mcu.poll_transmit().is_some() {
                sent += 1;
            }
            assert!(!mcu.consent(1, victim, now) && mcu.selected(1, now).is_none());
            now += Duration::from_millis(50);
        }
        assert!(mcu.paths().is_empty(), "forgotten");
        assert!(sent < 50, "{sent} STUN packets in 30 s");
    }

    #[test]
    fn consent_runs_out_without_answers() {
        let t0 = Instant::now();
        let y: SocketAddr = "127.0.0.1:5000".parse().unwrap();
        let (mut mcu, mut client) = pair(Flavor::Ufrag);
        let (_, check) = check_from(&mut client, Dialect::Rfc5245, 1);
        mcu.handle(t0, 1, y, &check).unwrap();
        let mut now = t0;
        let mut checks = 0;
        let mut answered = false;
        while now < t0 + Duration::from_secs(40) {
            if mcu.poll_timeout().is_some_and(|t| t <= now) {
                mcu.handle_timeout(now);
            }
            while let Some(t) = mcu.poll_transmit() {
                let is_check = Message::parse(&t.bytes).unwrap().kind() == stun::BINDING_REQUEST;
                checks += usize::from(is_check);
                // The first check of ours is answered, the rest never.
                if is_check && !answered {
                    answered = true;
                    client.handle(now, 1, t.to, &t.bytes).unwrap();
                    let reply = client.poll_transmit().unwrap();
                    mcu.handle(now, 1, y, &reply.bytes).unwrap();
                }
            }
            if now < t0 + Duration::from_secs(29) {
                assert!(mcu.consent(1, y, now), "{:?}", now - t0);
            }
            now += Duration::from_millis(50);
        }
        assert!(
            !mcu.consent(1, y, now),
            "no answers in 30 s: consent is gone"
        );
        assert!(mcu.selected(1, now).is_none());
        // A consent check every 4 to 6 s, each sent up to six times (100 ms doubling) until
        // the next one.
        assert!((25..=45).contains(&checks), "{checks}");
    }

    #[test]
    fn draft6_picks_the_credentials_of_the_candidate_that_checked() {
        // [MS-ICE]: each candidate of the participant has its own username and password (RTP
        // and RTCP apart); the MCU's check back uses the ones of the candidate that checked.
        let t0 = Instant::now();
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let ours = Credentials::random(Flavor::Draft6, &mut rng);
        let rtp = Credentials::random(Flavor::Draft6, &mut rng);
        let rtcp = Credentials::random(Flavor::Draft6, &mut rng);
        assert!(!decode(&ours.ufrag).unwrap().contains(&b':'));
        let mut mcu = Agent::new(
            Flavor::Draft6,
            ours.clone(),
            vec![rtp.clone(), rtcp.clone()],
            [4; 32],
        );
        let mut client2 = Agent::new(Flavor::Draft6, rtcp, vec![ours], [5; 32]);
        let y: SocketAddr = "127.0.0.1:5001".parse().unwrap();
        let (_, check) = check_from(&mut client2, Dialect::Draft6, 2);
        let m = Message::parse(&check).unwrap();
        assert_eq!(local_key(&m).as_deref(), Some(mcu.local().ufrag.as_str()));
        mcu.handle(t0, 2, y, &check).unwrap();
        let _answer = mcu.poll_transmit().unwrap();
        let ours = mcu.poll_transmit().unwrap();
        // client2 (the RTCP candidate) takes the MCU's check: it was made with its password.
        client2
            .handle(t0, 2, "127.0.0.1:9".parse().unwrap(), &ours.bytes)
            .unwrap();
        let reply = client2.poll_transmit().unwrap();
        mcu.handle(t0, 2, y, &reply.bytes).unwrap();
        assert!(mcu.consent(2, y, t0));
    }

    #[test]
    fn offers_are_read_in_both_flavors() {
        let media = [
            (
                "candidate",
                "ZtPo6nKp1nbi9IF0c3FFx3e8Ab5RD8Lmn3a6XRr1zH8 1 /kLCWhl4e6GIodGpVpUx7Q UDP 0.830 10.0.0.5 50000",
            ),
            (
                "candidate",
                "AtPo6nKp1nbi9IF0c3FFx3e8Ab5RD8Lmn3a6XRr1zH8 2 AkLCWhl4e6GIodGpVpUx7Q UDP 0.830 10.0.0.5 50001",
            ),
            ("rtcp", "50001"),
        ];
        let (f, c) = offered(media.iter().copied(), [].iter().copied()).unwrap();
        assert_eq!(f, Flavor::Draft6);
        assert_eq!(c.len(), 2, "each candidate's credentials");
        assert!(c[0].ufrag.ends_with('='), "padded again: {}", c[0].ufrag);
        assert_eq!(decode(&c[1].pwd).unwrap().len(), 16);
        let session = [("ice-ufrag", "abcd"), ("ice-pwd", "0123456789012345678901")];
        let (f, c) = offered([].iter().copied(), session.iter().copied()).unwrap();
        assert_eq!((f, c[0].ufrag.as_str()), (Flavor::Ufrag, "abcd"));
        assert!(offered([("rtcp", "1")].iter().copied(), [].iter().copied()).is_none());
        let lines = sdp_lines(
            Flavor::Draft6,
            &c[0],
            "127.0.0.1:1".parse().unwrap(),
            "127.0.0.1:2".parse().unwrap(),
        );
        assert!(
            lines.contains(" 2 0123456789012345678901 UDP 0.830 127.0.0.1 2\r\n"),
            "{lines}"
        );
    }
}
