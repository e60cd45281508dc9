//! The data MCU side: connections told apart by the embedder's connection id, the object tree
//! of each, authentication against what C3P handed out, privileges, the shared meeting state
//! and its fan-out. Sans-IO: bytes and `now` in, [`Transmit`]s and [`ServerEvent`]s out.
//!
//! Session rules (our choice where [MS-PSOM] is silent): the client opens with RPCOpen
//! (channel 0, its ConnMgr proxy id, version 1) and calls ConnMgr.Authenticate on channel 0;
//! on success the Meeting is connected implicitly with the client's proxy id ConnMgr + 1, the
//! client switches to channel 1, connects children under the Meeting (Connect Child, positive
//! ids it picks; the server acknowledges with the ids negated, as its own) and opens them
//! (OpenClose), which sends their snapshot and subscribes it to changes. On the wire each side
//! names an object by its own proxy id.

use crate::BufferTooSmall;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use sha1::{Digest, Sha1};

use crate::Refusal;
use crate::interface::{CHILDREN, Interface, ordinal};
use crate::meeting::{
    Annotation, Content, Deck, MeetingState, Participant, PollState, Privileges, Question, Role,
    annotation_value,
};
use crate::record::{Decoder, Operation, Record, RpcKind};
use crate::value::{MarshalLimits, Value};

/// The embedder's name for a transport connection (the server tells clients apart by it).
pub type ConnId = u64;

/// What the data MCU handed out through C3P for one participant (the `connection-info` of the
/// addUser dial-in response: `sAuthId`, the key), with the granted role and the expiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    /// `sAuthId`: decimal digits.
    pub auth_id: String,
    /// The key or token to present.
    pub key: Vec<u8>,
    /// The participant (SIP URI).
    pub user: String,
    /// The granted role.
    pub role: Role,
    /// When the authorization ends (connections using it are closed then).
    pub expires: Instant,
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Largest record body. Default 1 MiB.
    pub max_record: usize,
    /// Marshaling bounds.
    pub limits: MarshalLimits,
    /// A connection that sends nothing for this long is closed. Default 90 s.
    pub idle_timeout: Duration,
    /// Base URL of uploaded content (the HTTP download service serves it). Default
    /// `https://conf.example/content/`.
    pub content_base: String,
    /// Largest upload. Default 64 MiB.
    pub max_upload: u64,
    /// Title of the meeting.
    pub title: String,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            max_record: 1 << 20,
            limits: MarshalLimits::default(),
            idle_timeout: Duration::from_secs(90),
            content_base: "https://conf.example/content/".into(),
            max_upload: 64 << 20,
            title: String::new(),
        }
    }
}

/// Bytes to send on a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The connection.
    pub conn: ConnId,
    /// How many bytes were written at the start of the caller's buffer.
    pub len: usize,
}

/// What happened, for the embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A participant joined on a connection.
    Joined {
        /// The connection.
        conn: ConnId,
        /// The participant.
        user: String,
        /// Their role.
        role: Role,
    },
    /// An operation was refused (the peer got the error).
    Refused {
        /// The connection.
        conn: ConnId,
        /// Why.
        refusal: Refusal,
    },
    /// The server closed a connection (the peer got a Close record); the embedder closes the
    /// transport.
    Closed {
        /// The connection.
        conn: ConnId,
        /// Why.
        refusal: Refusal,
    },
    /// Uploaded content passed its integrity check: the embedder stores it where the
    /// download service serves `url`, protected by `key`.
    ContentReady {
        /// The file name.
        name: String,
        /// The URL participants were given.
        url: String,
        /// The download key participants were given.
        key: Vec<u8>,
        /// The bytes.
        data: Vec<u8>,
    },
}

#[derive(Debug)]
struct Conn {
    decoder: Decoder,
    opened: Option<i32>,
    channel: u32,
    user: Option<String>,
    expires: Option<Instant>,
    /// Objects by the client's proxy id.
    objects: HashMap<i32, Interface>,
    /// Open children by interface: the client's proxy id.
    open: BTreeMap<Interface, i32>,
    last_seen: Instant,
}

#[derive(Debug)]
struct Upload {
    owner: String,
    name: String,
    size: u64,
    sha1: Vec<u8>,
    data: Vec<u8>,
}

type Outcome = Result<Vec<Value>, Refusal>;

/// What the first bytes of a connection ask for ([`first_contact`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FirstContact {
    /// Not enough bytes yet.
    NeedMore,
    /// The conference ID its Authenticate call names: hand the connection, with every byte so
    /// far, to that conference's [`Server`].
    Conference(String),
    /// Not a PSOM client's opening (no RpcOpen then Authenticate): close it.
    NotPsom,
}

/// Reads a client's opening — RpcOpen, then the ConnMgr `Authenticate` call — for the
/// conference it asks for, so that one listener can serve many conferences, each its own
/// [`Server`]. Looks at `data` only; nothing is kept.
///
/// ```
/// use std::time::Instant;
/// use ocs_psom::client::{Client, Credentials};
/// use ocs_psom::server::{FirstContact, ServerConfig, first_contact};
///
/// let mut c = Client::new(Instant::now(), Credentials {
///     conference_id: "ABCD1234".into(), auth_id: "1".into(), key: b"k".to_vec(), name: "Al".into(),
/// });
/// let mut buf = [0u8; 1024];
/// let n = c.poll_transmit(&mut buf).unwrap().unwrap();
/// let bytes = &buf[..n];
/// let cfg = ServerConfig::default();
/// assert_eq!(first_contact(&bytes[..3], &cfg), FirstContact::NeedMore);
/// assert_eq!(first_contact(bytes, &cfg), FirstContact::Conference("ABCD1234".into()));
/// assert_eq!(first_contact(b"GET / HTTP/1.1\r\n\r\n", &cfg), FirstContact::NotPsom);
/// ```
#[must_use]
pub fn first_contact(data: &[u8], config: &ServerConfig) -> FirstContact {
    let mut d = Decoder::new(config.max_record);
    d.push(data);
    let mut opened = false;
    loop {
        match d.next_record() {
            Ok(None) => return FirstContact::NeedMore,
            Err(_) => return FirstContact::NotPsom,
            Ok(Some(Record::RpcOpen { .. })) if !opened => opened = true,
            Ok(Some(Record::SetChannel { .. } | Record::Break)) => {}
            Ok(Some(Record::RpcMessage { body, offset })) if opened => {
                return match Operation::decode(body, offset, &config.limits) {
                    Ok(Operation::Rpc {
                        method: ordinal::AUTHENTICATE,
                        kind: RpcKind::Call,
                        args,
                        ..
                    }) => match args.first().and_then(Value::as_str) {
                        Some(id) => FirstContact::Conference(id.to_owned()),
                        None => FirstContact::NotPsom,
                    },
                    _ => FirstContact::NotPsom,
                };
            }
            Ok(Some(_)) => return FirstContact::NotPsom,
        }
    }
}

/// The data MCU: see the [module documentation](self).
#[derive(Debug)]
pub struct Server {
    conference_id: String,
    config: ServerConfig,
    rng: crate::rng::Keys,
    auths: HashMap<String, Authorization>,
    conns: BTreeMap<ConnId, Conn>,
    state: MeetingState,
    voters: HashSet<String>,
    next_id: u32,
    uploads: HashMap<u32, Upload>,
    out: BTreeMap<ConnId, Vec<u8>>,
    events: VecDeque<ServerEvent>,
    args: Vec<u8>,
}

impl Server {
    /// A server for one conference. `rng` makes the content keys (give it a CSPRNG: this
    /// crate reads no randomness itself).
    #[must_use]
    pub fn new(
        conference_id: &str,
        config: ServerConfig,
        rng: impl rand_core::CryptoRng + Send + 'static,
    ) -> Server {
        Server {
            conference_id: conference_id.to_owned(),
            config,
            rng: crate::rng::Keys::new(rng),
            auths: HashMap::new(),
            conns: BTreeMap::new(),
            state: MeetingState::default(),
            voters: HashSet::new(),
            next_id: 1,
            uploads: HashMap::new(),
            out: BTreeMap::new(),
            events: VecDeque::new(),
            args: Vec::new(),
        }
    }

    /// Accepts an authorization handed out through C3P.
    pub fn authorize(&mut self, auth: Authorization) {
        self.auths.insert(auth.auth_id.clone(), auth);
    }

    /// Changes a participant's role from outside the meeting (the conference's C3P
    /// modifyUserRoles reaching the data MCU): its privileges become the role's, its
    /// authorizations carry the role for later connections, and every joined participant sees
    /// the roster change. False when the user is neither in the roster nor authorized.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ocs_psom::meeting::Role;
    /// use ocs_psom::server::{Authorization, Server, ServerConfig};
    /// let now = Instant::now();
    /// let mut s = Server::new("ABCD1234", ServerConfig::default(), ocs_psom::rng::NotRandom(1));
    /// s.authorize(Authorization {
    ///     auth_id: "1".into(), key: b"k".to_vec(), user: "sip:bob@contoso.com".into(),
    ///     role: Role::Attendee, expires: now + Duration::from_secs(60),
    /// });
    /// assert!(s.set_role("sip:bob@contoso.com", Role::Presenter));
    /// assert!(!s.set_role("sip:nobody@contoso.com", Role::Presenter));
    /// ```
    pub fn set_role(&mut self, user: &str, role: Role) -> bool {
        let mut known = false;
        for a in self.auths.values_mut().filter(|a| a.user == user) {
            a.role = role;
            known = true;
        }
        if let Some(p) = self.state.roster.get_mut(user) {
            p.role = role;
            p.privileges = role.privileges();
            let _ = self.changed(Interface::Roster);
            known = true;
        }
        known
    }

    /// The shared state, as every joined participant sees it.
    #[must_use]
    pub fn state(&self) -> &MeetingState {
        &self.state
    }

    /// How many connections are open.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// A transport connection was accepted.
    pub fn connect(&mut self, now: Instant, conn: ConnId) {
        self.conns.insert(
            conn,
            Conn {
                decoder: Decoder::new(self.config.max_record),
                opened: None,
                channel: 0,
                user: None,
                expires: None,
                objects: HashMap::new(),
                open: BTreeMap::new(),
                last_seen: now,
            },
        );
    }

    /// The transport connection ended (or the embedder closes it): the participant leaves.
    pub fn disconnect(&mut self, conn: ConnId) {
        if let Some(c) = self.conns.remove(&conn) {
            self.out.remove(&conn);
            if let Some(user) = c.user {
                let still = self
                    .conns
                    .values()
                    .any(|o| o.user.as_deref() == Some(&user));
                if let Some(p) = self.state.roster.get_mut(&user)
                    && !still
                {
                    p.connected = false;
                    self.fan_out_snapshot(Interface::Roster);
                }
            }
        }
    }

    /// Bytes received on `conn`.
    pub fn handle_input(&mut self, now: Instant, conn: ConnId, data: &[u8]) {
        let Some(c) = self.conns.get_mut(&conn) else {
            return;
        };
        c.decoder.push(data);
        c.last_seen = now;
        loop {
            let Some(c) = self.conns.get_mut(&conn) else {
                return;
            };
            let record = match c.decoder.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => return,
                Err(_) => return self.close(conn, Refusal::ProtocolError),
            };
            match record {
                Record::RpcOpen {
                    channel,
                    conn_mgr,
                    version,
                } => {
                    if c.opened.is_some() || channel != 0 || version != 1 || conn_mgr <= 0 {
                        return self.close(conn, Refusal::ProtocolError);
                    }
                    c.opened = Some(conn_mgr);
                    c.objects.insert(conn_mgr, Interface::ConnMgr);
                }
                Record::SetChannel { channel } => c.channel = channel,
                Record::Break => {}
                Record::Close { .. } => return self.disconnect(conn),
                Record::RpcMessage { body, offset } => {
                    let op = Operation::decode(body, offset, &self.config.limits);
                    match (op, c.opened) {
                        (Ok(op), Some(_)) => self.operation(conn, op, now),
                        _ => return self.close(conn, Refusal::ProtocolError),
                    }
                }
            }
        }
    }

    /// Writes the next bytes to send, all for one connection, at the start of `buf`: as many
    /// as fit (a record may be split across calls: PSOM runs on a byte stream); the rest stays
    /// queued. Call until it returns `Ok(None)` after every input and timeout.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `buf` is empty and bytes are waiting (nothing is taken).
    #[must_use = "bytes left in the queue are never sent"]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<Transmit>, BufferTooSmall> {
        let Some(mut entry) = self.out.first_entry() else {
            return Ok(None);
        };
        if buf.is_empty() {
            return Err(BufferTooSmall { required: 1 });
        }
        let conn = *entry.key();
        let data = entry.get_mut();
        let len = data.len().min(buf.len());
        buf[..len].copy_from_slice(&data[..len]);
        if len == data.len() {
            entry.remove();
        } else {
            data.drain(..len);
        }
        Ok(Some(Transmit { conn, len }))
    }

    /// The next event.
    #[must_use = "an event left in the queue is never acted on"]
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// When [`Server::handle_timeout`] is next due (an idle timeout or an expiry).
    #[must_use = "without it the embedder never calls handle_timeout"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.conns
            .values()
            .flat_map(|c| [Some(c.last_seen + self.config.idle_timeout), c.expires])
            .flatten()
            .min()
    }

    /// Closes connections that were idle too long or whose authorization expired.
    pub fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<(ConnId, Refusal)> = self
            .conns
            .iter()
            .filter_map(|(id, c)| {
                if c.expires.is_some_and(|e| now >= e) {
                    Some((*id, Refusal::Expired))
                } else if now >= c.last_seen + self.config.idle_timeout {
                    Some((*id, Refusal::Timeout))
                } else {
                    None
                }
            })
            .collect();
        for (id, why) in due {
            self.close(id, why);
        }
    }

    fn close(&mut self, conn: ConnId, why: Refusal) {
        let mut bytes = self.out.remove(&conn).unwrap_or_default();
        Record::Close {
            reason: why as u16,
            text: refusal_text(why),
        }
        .encode(&mut bytes);
        self.disconnect(conn);
        self.out.insert(conn, bytes);
        self.events
            .push_back(ServerEvent::Closed { conn, refusal: why });
    }

    fn send(&mut self, conn: ConnId, op: &Operation) {
        op.encode_record(self.out.entry(conn).or_default());
    }

    fn refuse(&mut self, conn: ConnId, proxy: i32, call: u32, why: Refusal) {
        self.events
            .push_back(ServerEvent::Refused { conn, refusal: why });
        let args = vec![
            Value::U16(why as u16),
            Value::String(refusal_text(why).into()),
        ];
        self.send(conn, &Operation::rpc(-proxy, RpcKind::Error, call, 0, args));
    }

    fn operation(&mut self, conn: ConnId, op: Operation, now: Instant) {
        let Some(c) = self.conns.get(&conn) else {
            return;
        };
        if c.expires.is_some_and(|e| now >= e) {
            return self.close(conn, Refusal::Expired);
        }
        let joined = c.user.is_some();
        match op {
            Operation::Rpc {
                proxy,
                kind: RpcKind::Call,
                call,
                method,
                args,
            } => {
                let Some(&iface) = c.objects.get(&proxy) else {
                    return self.refuse(conn, proxy, call, Refusal::UnknownObject);
                };
                let on_channel_0 = c.channel == 0;
                if (iface == Interface::ConnMgr) != on_channel_0 {
                    return self.refuse(conn, proxy, call, Refusal::WrongChannel);
                }
                if !joined && iface != Interface::ConnMgr {
                    return self.refuse(conn, proxy, call, Refusal::NotAuthenticated);
                }
                let outcome = self.call(conn, iface, method, &args, now);
                match outcome {
                    Ok(result) if call != 0 => {
                        let op = Operation::rpc(-proxy, RpcKind::Result, call, method, result);
                        self.send(conn, &op);
                    }
                    Ok(_) => {}
                    // A failed authentication ends the connection: no second guess on it.
                    Err(why @ (Refusal::BadCredentials | Refusal::Expired)) => {
                        self.refuse(conn, proxy, call, why);
                        self.close(conn, why);
                    }
                    Err(why) => self.refuse(conn, proxy, call, why),
                }
            }
            // Results and errors from a client answer nothing the server asked: ignored.
            Operation::Rpc { .. } => {}
            Operation::ConnectChild {
                parent,
                connect,
                child,
                interface,
            } => {
                if !joined {
                    return self.refuse(conn, parent, 0, Refusal::NotAuthenticated);
                }
                let iface = Interface::from_id(interface).filter(|i| CHILDREN.contains(i));
                let parent_is_meeting = c.objects.get(&parent) == Some(&Interface::Meeting);
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let why = match (iface, parent_is_meeting, connect) {
                    (_, false, _) => Some(Refusal::UnknownObject),
                    (None, _, _) => Some(Refusal::BadArguments),
                    (Some(_), _, true) if child <= 0 || c.objects.contains_key(&child) => {
                        Some(Refusal::Conflict)
                    }
                    (Some(i), _, true) => {
                        c.objects.insert(child, i);
                        None
                    }
                    (Some(i), _, false) if c.objects.get(&child) == Some(&i) => {
                        c.objects.remove(&child);
                        c.open.remove(&i);
                        None
                    }
                    (Some(_), _, false) => Some(Refusal::UnknownObject),
                };
                match why {
                    Some(why) => self.refuse(conn, parent, 0, why),
                    None => self.send(
                        conn,
                        &Operation::ConnectChild {
                            parent: -parent,
                            connect,
                            child: -child,
                            interface,
                        },
                    ),
                }
            }
            Operation::OpenClose { proxy, open } => {
                if !joined {
                    return self.refuse(conn, proxy, 0, Refusal::NotAuthenticated);
                }
                let Some(c) = self.conns.get_mut(&conn) else {
                    return;
                };
                let Some(&iface) = c.objects.get(&proxy).filter(|i| CHILDREN.contains(i)) else {
                    return self.refuse(conn, proxy, 0, Refusal::UnknownObject);
                };
                if open {
                    c.open.insert(iface, proxy);
                    let snapshot = self.state.snapshot(iface);
                    self.send(
                        conn,
                        &Operation::rpc(
                            -proxy,
                            RpcKind::Call,
                            0,
                            ordinal::SNAPSHOT,
                            vec![snapshot],
                        ),
                    );
                } else {
                    c.open.remove(&iface);
                }
            }
        }
    }

    /// Runs a method after checking it exists, its arguments and the caller's privileges.
    fn call(
        &mut self,
        conn: ConnId,
        iface: Interface,
        method: u16,
        args: &[Value],
        now: Instant,
    ) -> Outcome {
        let m = iface.method(method).ok_or(Refusal::UnknownMethod)?;
        if m.args.len() != args.len() || !m.args.iter().zip(args).all(|(t, v)| t.check(v)) {
            return Err(Refusal::BadArguments);
        }
        if iface == Interface::ConnMgr {
            return self.authenticate(conn, args, now);
        }
        let user = self
            .conns
            .get(&conn)
            .and_then(|c| c.user.clone())
            .ok_or(Refusal::NotAuthenticated)?;
        let held = self
            .state
            .roster
            .get(&user)
            .map_or(Privileges::NONE, |p| p.privileges);
        if !held.contains(m.privilege) {
            return Err(Refusal::NotPermitted);
        }
        let str_arg = |i: usize| args[i].as_str().unwrap_or_default().to_owned();
        let num = |i: usize| args[i].as_u64().unwrap_or_default();
        match (iface, method) {
            (Interface::Meeting, _) => Ok(vec![
                Value::String(self.conference_id.clone()),
                Value::String(self.config.title.clone()),
            ]),
            (Interface::Roster, ordinal::SET_ROLE) => {
                let role = Role::from_code(num(1) as u8).ok_or(Refusal::BadArguments)?;
                let p = self
                    .state
                    .roster
                    .get_mut(&str_arg(0))
                    .ok_or(Refusal::BadArguments)?;
                p.role = role;
                p.privileges = role.privileges();
                self.changed(Interface::Roster)
            }
            (Interface::Roster, _) => {
                let p = self
                    .state
                    .roster
                    .get_mut(&str_arg(0))
                    .ok_or(Refusal::BadArguments)?;
                p.privileges = Privileges(p.privileges.0 | (num(1) as u32 & Privileges::ALL.0));
                self.changed(Interface::Roster)
            }
            (Interface::SlideDeck, ordinal::LOAD) => {
                self.state.deck = Some(Deck {
                    id: str_arg(0),
                    slides: num(1) as u32,
                    current: 0,
                });
                self.changed(Interface::SlideDeck)
            }
            (Interface::SlideDeck, _) => {
                let deck = self.state.deck.as_mut().ok_or(Refusal::Conflict)?;
                let slide = num(0) as u32;
                if slide >= deck.slides {
                    return Err(Refusal::BadArguments);
                }
                deck.current = slide;
                self.changed(Interface::SlideDeck)
            }
            (Interface::Whiteboard, ordinal::DRAW) => {
                let id = self.fresh_id();
                let a = Annotation {
                    author: user,
                    shape: str_arg(0),
                };
                let added = annotation_value(id, &a);
                self.state.whiteboard.insert(id, a);
                self.fan_out(Interface::Whiteboard, ordinal::ADDED, vec![added]);
                Ok(vec![Value::U32(id)])
            }
            (Interface::Whiteboard, ordinal::ERASE) => {
                let id = num(0) as u32;
                let a = self
                    .state
                    .whiteboard
                    .get(&id)
                    .ok_or(Refusal::BadArguments)?;
                if a.author != user && !held.contains(Privileges::PRESENT) {
                    return Err(Refusal::NotPermitted);
                }
                self.state.whiteboard.remove(&id);
                self.fan_out(
                    Interface::Whiteboard,
                    ordinal::REMOVED,
                    vec![Value::U32(id)],
                );
                Ok(Vec::new())
            }
            (Interface::Whiteboard, _) => {
                self.state.whiteboard.clear();
                self.changed(Interface::Whiteboard)
            }
            (Interface::Poll, ordinal::OPEN_POLL) => {
                let choices: Vec<String> = args[1]
                    .items()
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|c| c.as_str().map(str::to_owned))
                    .collect();
                if choices.is_empty() || choices.len() > 255 {
                    return Err(Refusal::BadArguments);
                }
                self.voters.clear();
                self.state.poll = Some(PollState {
                    question: str_arg(0),
                    counts: vec![0; choices.len()],
                    choices,
                    open: true,
                });
                self.changed(Interface::Poll)
            }
            (Interface::Poll, ordinal::VOTE) => {
                let poll = self
                    .state
                    .poll
                    .as_mut()
                    .filter(|p| p.open)
                    .ok_or(Refusal::Conflict)?;
                let choice = num(0) as usize;
                let count = poll.counts.get_mut(choice).ok_or(Refusal::BadArguments)?;
                if !self.voters.insert(user) {
                    return Err(Refusal::Conflict);
                }
                *count += 1;
                self.changed(Interface::Poll)
            }
            (Interface::Poll, _) => {
                let poll = self.state.poll.as_mut().ok_or(Refusal::Conflict)?;
                poll.open = false;
                self.changed(Interface::Poll)
            }
            (Interface::QandA, ordinal::ASK) => {
                let id = self.fresh_id();
                self.state.questions.insert(
                    id,
                    Question {
                        author: user,
                        text: str_arg(0),
                        answer: None,
                    },
                );
                self.changed(Interface::QandA)?;
                Ok(vec![Value::U32(id)])
            }
            (Interface::QandA, _) => {
                let q = self
                    .state
                    .questions
                    .get_mut(&(num(0) as u32))
                    .ok_or(Refusal::BadArguments)?;
                q.answer = Some(str_arg(1));
                self.changed(Interface::QandA)
            }
            (Interface::Upload, ordinal::BEGIN) => {
                let (size, sha1) = (num(1), args[2].as_blob().unwrap_or_default().to_vec());
                if size > self.config.max_upload || sha1.len() != 20 {
                    return Err(Refusal::BadArguments);
                }
                let id = self.fresh_id();
                self.uploads.insert(
                    id,
                    Upload {
                        owner: user,
                        name: str_arg(0),
                        size,
                        sha1,
                        data: Vec::new(),
                    },
                );
                Ok(vec![Value::U32(id)])
            }
            (Interface::Upload, ordinal::CHUNK) => {
                let up = self
                    .uploads
                    .get_mut(&(num(0) as u32))
                    .filter(|u| u.owner == user)
                    .ok_or(Refusal::BadArguments)?;
                let bytes = args[2].as_blob().unwrap_or_default();
                if num(1) != up.data.len() as u64
                    || up.data.len() as u64 + bytes.len() as u64 > up.size
                {
                    return Err(Refusal::BadArguments);
                }
                up.data.extend_from_slice(bytes);
                Ok(Vec::new())
            }
            (Interface::Upload, _) => self.finish_upload(num(0) as u32, &user),
            (Interface::ConnMgr, _) => Err(Refusal::UnknownMethod),
        }
    }

    fn authenticate(&mut self, conn: ConnId, args: &[Value], now: Instant) -> Outcome {
        let text = |i: usize| args[i].as_str().unwrap_or_default();
        match self.conns.get(&conn) {
            None => return Err(Refusal::NotAuthenticated),
            Some(c) if c.user.is_some() => return Err(Refusal::Conflict),
            Some(_) => {}
        }
        let auth = self
            .auths
            .get(text(1))
            .filter(|a| text(0) == self.conference_id && args[2].as_blob() == Some(&a.key))
            .ok_or(Refusal::BadCredentials)?
            .clone();
        if now >= auth.expires {
            return Err(Refusal::Expired);
        }
        let entry = self
            .state
            .roster
            .entry(auth.user.clone())
            .or_insert(Participant {
                role: auth.role,
                privileges: auth.role.privileges(),
                connected: true,
            });
        entry.connected = true;
        let (role, privileges) = (entry.role, entry.privileges);
        let c = self.conns.get_mut(&conn).ok_or(Refusal::NotAuthenticated)?;
        let meeting = c.opened.unwrap_or(1) + 1;
        c.objects.insert(meeting, Interface::Meeting);
        c.user = Some(auth.user.clone());
        c.expires = Some(auth.expires);
        self.events.push_back(ServerEvent::Joined {
            conn,
            user: auth.user.clone(),
            role,
        });
        self.fan_out_snapshot(Interface::Roster);
        Ok(vec![
            Value::String(auth.user),
            Value::U8(role as u8),
            Value::U32(privileges.0),
            Value::U32(auth.expires.saturating_duration_since(now).as_secs() as u32),
        ])
    }

    fn finish_upload(&mut self, id: u32, user: &str) -> Outcome {
        let up = self
            .uploads
            .get(&id)
            .filter(|u| u.owner == user)
            .ok_or(Refusal::BadArguments)?;
        if up.data.len() as u64 != up.size {
            return Err(Refusal::BadArguments);
        }
        let Some(up) = self.uploads.remove(&id) else {
            return Err(Refusal::BadArguments);
        };
        if Sha1::digest(&up.data)[..] != up.sha1[..] {
            return Err(Refusal::IntegrityFailed);
        }
        let mut key = vec![0u8; 16];
        self.rng.fill(&mut key);
        let url = format!("{}{}/{}", self.config.content_base, id, up.name);
        self.state.content.push(Content {
            name: up.name.clone(),
            size: up.size,
            url: url.clone(),
            key: key.clone(),
        });
        self.events.push_back(ServerEvent::ContentReady {
            name: up.name,
            url: url.clone(),
            key: key.clone(),
            data: up.data,
        });
        self.changed(Interface::Upload)?;
        Ok(vec![Value::String(url), Value::Blob(key)])
    }

    fn fresh_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn changed(&mut self, iface: Interface) -> Outcome {
        self.fan_out_snapshot(iface);
        Ok(Vec::new())
    }

    fn fan_out_snapshot(&mut self, iface: Interface) {
        let snapshot = self.state.snapshot(iface);
        self.fan_out(iface, ordinal::SNAPSHOT, vec![snapshot]);
    }

    /// Sends one notification to every connection that has `iface` open: the arguments are
    /// encoded once; each connection gets its own header (its proxy id).
    fn fan_out(&mut self, iface: Interface, method: u16, args: Vec<Value>) {
        self.args.clear();
        args.iter().for_each(|a| a.encode(&mut self.args));
        for (id, c) in &self.conns {
            if let Some(&proxy) = c.open.get(&iface) {
                let out = self.out.entry(*id).or_default();
                crate::codec::record(crate::codec::record_type::RPC_MESSAGE, out, |b| {
                    crate::codec::rpc_header(b, -proxy, RpcKind::Call, 0, method, args.len());
                    b.extend_from_slice(&self.args);
                });
            }
        }
    }
}

/// The text sent with a refusal.
#[must_use]
pub fn refusal_text(why: Refusal) -> &'static str {
    match why {
        Refusal::NotAuthenticated => "authenticate first",
        Refusal::BadCredentials => "unknown auth id, wrong key or wrong conference",
        Refusal::Expired => "the authorization has expired",
        Refusal::NotPermitted => "not permitted for this role",
        Refusal::UnknownObject => "no such object",
        Refusal::BadArguments => "bad arguments",
        Refusal::UnknownMethod => "no such method",
        Refusal::Conflict => "conflicts with the current state",
        Refusal::IntegrityFailed => "content does not match its SHA-1",
        Refusal::ProtocolError => "protocol error",
        Refusal::Timeout => "idle timeout",
        Refusal::WrongChannel => "wrong channel",
    }
}
