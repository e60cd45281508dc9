//! The participant side: opens the session, authenticates with what C3P gave it, connects and
//! opens the meeting's children, keeps a mirror of the shared state from the server's
//! notifications, and sends actions. Sans-IO: bytes and `now` in, bytes and events out.

use crate::BufferTooSmall;
use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use crate::interface::{CHILDREN, Interface, ordinal};
use crate::meeting::{MeetingState, Privileges, Role, annotation_of};
use crate::record::{Decoder, Operation, Record, RpcKind};
use crate::value::{MarshalLimits, Value};
use crate::{Error, Refusal};

/// The client's proxy id for ConnMgr (our choice); the Meeting is this + 1, and each child
/// uses its interface id + 100.
pub const CONN_MGR_PROXY: i32 = 1;
const MEETING_PROXY: i32 = CONN_MGR_PROXY + 1;

fn child_proxy(i: Interface) -> i32 {
    i as i32 + 100
}

/// What the client presents: the conference, and the `connection-info` of the C3P addUser
/// dial-in response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The conference ID (8–32 alphanumerics).
    pub conference_id: String,
    /// `sAuthId`.
    pub auth_id: String,
    /// The key or token.
    pub key: Vec<u8>,
    /// The display name.
    pub name: String,
}

/// Something the participant does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Roster.SetRole (organizers).
    SetRole {
        /// Whom.
        user: String,
        /// The new role.
        role: Role,
    },
    /// Roster.Grant (organizers): add privileges, e.g. ANNOTATE to an attendee.
    Grant {
        /// Whom.
        user: String,
        /// What.
        privileges: Privileges,
    },
    /// SlideDeck.Load.
    LoadDeck {
        /// The deck's content id.
        id: String,
        /// How many slides.
        slides: u32,
    },
    /// SlideDeck.GoTo.
    GoTo(u32),
    /// Whiteboard.Draw.
    Draw(String),
    /// Whiteboard.Erase.
    Erase(u32),
    /// Whiteboard.Clear.
    ClearWhiteboard,
    /// Poll.Open.
    OpenPoll {
        /// The question.
        question: String,
        /// The choices.
        choices: Vec<String>,
    },
    /// Poll.Vote.
    Vote(u8),
    /// Poll.Close.
    ClosePoll,
    /// QandA.Ask.
    Ask(String),
    /// QandA.Answer.
    Answer {
        /// The question id.
        id: u32,
        /// The answer.
        text: String,
    },
    /// Upload.Begin.
    BeginUpload {
        /// File name.
        name: String,
        /// Size in bytes.
        size: u64,
        /// SHA-1 of the whole content.
        sha1: [u8; 20],
    },
    /// Upload.Chunk.
    UploadChunk {
        /// The upload id Begin returned.
        id: u32,
        /// Where the bytes go.
        offset: u64,
        /// The bytes.
        data: Vec<u8>,
    },
    /// Upload.Finish.
    FinishUpload(u32),
}

impl Action {
    fn call(&self) -> (Interface, u16, Vec<Value>) {
        use Value::{Array, Blob, String as S, U8, U32, U64};
        match self {
            Action::SetRole { user, role } => (
                Interface::Roster,
                ordinal::SET_ROLE,
                vec![S(user.clone()), U8(*role as u8)],
            ),
            Action::Grant { user, privileges } => (
                Interface::Roster,
                ordinal::GRANT,
                vec![S(user.clone()), U32(privileges.0)],
            ),
            Action::LoadDeck { id, slides } => (
                Interface::SlideDeck,
                ordinal::LOAD,
                vec![S(id.clone()), U32(*slides)],
            ),
            Action::GoTo(n) => (Interface::SlideDeck, ordinal::GO_TO, vec![U32(*n)]),
            Action::Draw(shape) => (Interface::Whiteboard, ordinal::DRAW, vec![S(shape.clone())]),
            Action::Erase(id) => (Interface::Whiteboard, ordinal::ERASE, vec![U32(*id)]),
            Action::ClearWhiteboard => (Interface::Whiteboard, ordinal::CLEAR, vec![]),
            Action::OpenPoll { question, choices } => (
                Interface::Poll,
                ordinal::OPEN_POLL,
                vec![
                    S(question.clone()),
                    Array(choices.iter().cloned().map(S).collect()),
                ],
            ),
            Action::Vote(c) => (Interface::Poll, ordinal::VOTE, vec![U8(*c)]),
            Action::ClosePoll => (Interface::Poll, ordinal::CLOSE_POLL, vec![]),
            Action::Ask(text) => (Interface::QandA, ordinal::ASK, vec![S(text.clone())]),
            Action::Answer { id, text } => (
                Interface::QandA,
                ordinal::ANSWER,
                vec![U32(*id), S(text.clone())],
            ),
            Action::BeginUpload { name, size, sha1 } => (
                Interface::Upload,
                ordinal::BEGIN,
                vec![S(name.clone()), U64(*size), Blob(sha1.to_vec())],
            ),
            Action::UploadChunk { id, offset, data } => (
                Interface::Upload,
                ordinal::CHUNK,
                vec![U32(*id), U64(*offset), Blob(data.clone())],
            ),
            Action::FinishUpload(id) => (Interface::Upload, ordinal::FINISH, vec![U32(*id)]),
        }
    }
}

/// What happened, for the application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// Authenticated: the Meeting is connected.
    Joined {
        /// The user the server knows us as.
        user: String,
        /// The granted role.
        role: Role,
        /// Seconds until the authorization expires.
        expires_in: u32,
    },
    /// An object's state changed (the mirror in [`Client::view`] is up to date).
    Changed(Interface),
    /// A call succeeded.
    Done {
        /// Its id.
        call: u32,
        /// The results.
        results: Vec<Value>,
    },
    /// A call (or Connect Child / OpenClose) was refused; nothing changed.
    Refused {
        /// The call id (0 for operations without one).
        call: u32,
        /// Why.
        refusal: Option<Refusal>,
    },
    /// The server closed the session.
    Closed {
        /// Why.
        refusal: Option<Refusal>,
    },
}

/// Why an action cannot be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// Not joined (yet, or any more).
    #[error("not joined")]
    NotJoined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Authenticating,
    Joined,
    Closed,
}

/// A participant: see the [module documentation](self).
#[derive(Debug)]
pub struct Client {
    phase: Phase,
    decoder: Decoder,
    limits: MarshalLimits,
    out: Vec<u8>,
    events: VecDeque<ClientEvent>,
    view: MeetingState,
    role: Option<Role>,
    me: Option<String>,
    next_call: u32,
    pending: HashMap<u32, Interface>,
    last_sent: Instant,
    keepalive: Duration,
}

impl Client {
    /// Opens a session: queues RPCOpen and ConnMgr.Authenticate.
    #[must_use]
    pub fn new(now: Instant, creds: Credentials) -> Client {
        let mut c = Client {
            phase: Phase::Authenticating,
            decoder: Decoder::new(1 << 20),
            limits: MarshalLimits::default(),
            out: Vec::new(),
            events: VecDeque::new(),
            view: MeetingState::default(),
            role: None,
            me: None,
            next_call: 1,
            pending: HashMap::new(),
            last_sent: now,
            keepalive: Duration::from_secs(30),
        };
        Record::RpcOpen {
            channel: 0,
            conn_mgr: CONN_MGR_PROXY,
            version: 1,
        }
        .encode(&mut c.out);
        c.rpc(
            CONN_MGR_PROXY,
            Interface::ConnMgr,
            ordinal::AUTHENTICATE,
            vec![
                Value::String(creds.conference_id),
                Value::String(creds.auth_id),
                Value::Blob(creds.key),
                Value::String(creds.name),
            ],
        );
        c
    }

    /// Whether the session is joined.
    #[must_use]
    pub fn joined(&self) -> bool {
        self.phase == Phase::Joined
    }

    /// The granted role (after joining; role changes update it).
    #[must_use]
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// The mirror of the shared state.
    #[must_use]
    pub fn view(&self) -> &MeetingState {
        &self.view
    }

    /// Sends an action; its result comes as [`ClientEvent::Done`] or
    /// [`ClientEvent::Refused`] with the returned call id.
    ///
    /// # Errors
    /// [`ClientError::NotJoined`] before joining or after the close.
    pub fn call(&mut self, action: Action) -> Result<u32, ClientError> {
        if self.phase != Phase::Joined {
            return Err(ClientError::NotJoined);
        }
        let (iface, method, args) = action.call();
        Ok(self.rpc(child_proxy(iface), iface, method, args))
    }

    /// Stops following an object: closes it (no more notifications) and disconnects the child.
    /// Its part of [`Client::view`] is then left as it was.
    ///
    /// # Errors
    /// [`ClientError::NotJoined`] before joining or after the close.
    pub fn unsubscribe(&mut self, iface: Interface) -> Result<(), ClientError> {
        if self.phase != Phase::Joined || !CHILDREN.contains(&iface) {
            return Err(ClientError::NotJoined);
        }
        let proxy = child_proxy(iface);
        Operation::OpenClose { proxy, open: false }.encode_record(&mut self.out);
        Operation::ConnectChild {
            parent: MEETING_PROXY,
            connect: false,
            child: proxy,
            interface: iface as u16,
        }
        .encode_record(&mut self.out);
        Ok(())
    }

    fn rpc(&mut self, proxy: i32, iface: Interface, method: u16, args: Vec<Value>) -> u32 {
        let call = self.next_call;
        self.next_call = self.next_call.wrapping_add(1).max(1);
        self.pending.insert(call, iface);
        Operation::rpc(proxy, RpcKind::Call, call, method, args).encode_record(&mut self.out);
        call
    }

    /// Writes the bytes to send at the start of `buf`, as many as fit (the rest stays
    /// queued); their count, or `None` when nothing is waiting. Call until `Ok(None)` after
    /// every action, input and timeout.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `buf` is empty and bytes are waiting (nothing is taken).
    #[must_use = "bytes left in the queue are never sent"]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<usize>, BufferTooSmall> {
        if self.out.is_empty() {
            return Ok(None);
        }
        if buf.is_empty() {
            return Err(BufferTooSmall { required: 1 });
        }
        let len = self.out.len().min(buf.len());
        buf[..len].copy_from_slice(&self.out[..len]);
        self.out.drain(..len);
        Ok(Some(len))
    }

    /// The next event.
    #[must_use = "an event left in the queue is never acted on"]
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        self.events.pop_front()
    }

    /// When the next keep-alive is due.
    #[must_use = "without it the embedder never calls handle_timeout"]
    pub fn poll_timeout(&self) -> Option<Instant> {
        (self.phase != Phase::Closed).then_some(self.last_sent + self.keepalive)
    }

    /// Sends the keep-alive (a Break record) when it is due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase != Phase::Closed && now >= self.last_sent + self.keepalive {
            Record::Break.encode(&mut self.out);
            self.last_sent = now;
        }
    }

    /// Bytes received from the server.
    ///
    /// # Errors
    /// The server's bytes broke the protocol; the session is over.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), Error> {
        self.decoder.push(data);
        loop {
            let record = match self.decoder.next_record() {
                Ok(Some(r)) => r,
                Ok(None) => break,
                Err(e) => {
                    self.phase = Phase::Closed;
                    return Err(e);
                }
            };
            let op = match record {
                Record::Close { reason, .. } => {
                    self.phase = Phase::Closed;
                    self.events.push_back(ClientEvent::Closed {
                        refusal: Refusal::from_code(reason),
                    });
                    continue;
                }
                Record::RpcMessage { body, offset } => {
                    Operation::decode(body, offset, &self.limits)?
                }
                _ => continue,
            };
            self.operation(op);
        }
        if !self.out.is_empty() {
            self.last_sent = now;
        }
        Ok(())
    }

    fn operation(&mut self, op: Operation) {
        let Operation::Rpc {
            proxy,
            kind,
            call,
            args,
            method,
        } = op
        else {
            // Connect Child acknowledgements need nothing.
            return;
        };
        match kind {
            RpcKind::Result => {
                let iface = self.pending.remove(&call);
                if iface == Some(Interface::ConnMgr) {
                    self.on_joined(&args);
                } else {
                    self.events.push_back(ClientEvent::Done {
                        call,
                        results: args,
                    });
                }
            }
            RpcKind::Error => {
                let iface = self.pending.remove(&call);
                let refusal = match args.first() {
                    Some(Value::U16(c)) => Refusal::from_code(*c),
                    _ => None,
                };
                if iface == Some(Interface::ConnMgr) {
                    self.phase = Phase::Closed;
                }
                self.events
                    .push_back(ClientEvent::Refused { call, refusal });
            }
            RpcKind::Call => {
                // Notifications name the object by the server's id: ours negated.
                let Some(iface) = CHILDREN.into_iter().find(|i| child_proxy(*i) == -proxy) else {
                    return;
                };
                let applied = match (method, args.first()) {
                    (ordinal::SNAPSHOT, Some(v)) => self.view.apply_snapshot(iface, v),
                    (ordinal::ADDED, Some(v)) => annotation_of(v).map(|(id, a)| {
                        self.view.whiteboard.insert(id, a);
                    }),
                    (ordinal::REMOVED, Some(Value::U32(id))) => {
                        self.view.whiteboard.remove(id).map(|_| ())
                    }
                    _ => None,
                };
                if applied.is_some() {
                    if iface == Interface::Roster
                        && let Some(me) = &self.me
                    {
                        self.role = self.view.roster.get(me).map(|p| p.role);
                    }
                    self.events.push_back(ClientEvent::Changed(iface));
                }
            }
        }
    }

    fn on_joined(&mut self, results: &[Value]) {
        let (Some(Value::String(user)), Some(Value::U8(role)), Some(Value::U32(expires_in))) =
            (results.first(), results.get(1), results.get(3))
        else {
            return;
        };
        let Some(role) = Role::from_code(*role) else {
            return;
        };
        self.phase = Phase::Joined;
        self.role = Some(role);
        self.me = Some(user.clone());
        Record::SetChannel { channel: 1 }.encode(&mut self.out);
        for iface in CHILDREN {
            Operation::ConnectChild {
                parent: MEETING_PROXY,
                connect: true,
                child: child_proxy(iface),
                interface: iface as u16,
            }
            .encode_record(&mut self.out);
            Operation::OpenClose {
                proxy: child_proxy(iface),
                open: true,
            }
            .encode_record(&mut self.out);
        }
        self.events.push_back(ClientEvent::Joined {
            user: user.clone(),
            role,
            expires_in: *expires_in,
        });
    }
}
