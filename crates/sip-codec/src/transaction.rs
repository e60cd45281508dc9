//! SIP transactions (RFC 3261 §17 with the RFC 6026 `Accepted` states), sans-IO.
//!
//! A [`TransactionLayer`] owns every transaction of an element: the four machines (INVITE and
//! non-INVITE, client and server), their timers A–M from configurable T1/T2/T4 (zero on reliable
//! transports where the RFC says so), retransmissions, the ACK for non-2xx final responses, and
//! the matching of incoming messages to transactions (§17.1.3, §17.2.3 with the RFC 2543
//! fallback for branches without the magic cookie). Time comes in as `now`; messages to send
//! leave through [`TransactionLayer::poll_transmit`], what the transaction user must know through
//! [`TransactionLayer::poll_event`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use bytes::Bytes;
//! use ocs_sip_codec::Message;
//! use ocs_sip_codec::transaction::{Timers, TransactionLayer, Transport, TxEvent};
//!
//! let now = Instant::now();
//! let mut client = TransactionLayer::new(Timers::default());
//! let invite = Message::parse(Bytes::from_static(b"OPTIONS sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\
//!     From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n")).unwrap();
//! let key = client.send_request(now, invite, Transport::Unreliable).unwrap();
//! let mut buf = [0u8; 1500];
//! let sent = client.poll_transmit(&mut buf).unwrap().unwrap();
//! assert!(buf[..sent.len].starts_with(b"OPTIONS sip:b@h SIP/2.0\r\n"));
//! // No answer: retransmitted after T1 (Timer E), then after 2·T1...
//! assert_eq!(client.poll_timeout(), Some(now + Duration::from_millis(500)));
//! // ...until Timer F (64·T1) ends the transaction.
//! client.handle_timeout(now + Duration::from_secs(32));
//! let events: Vec<TxEvent> = std::iter::from_fn(|| client.poll_event()).collect();
//! assert!(events.contains(&TxEvent::Timeout { key }));
//! ```

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::Arc;

use rustc_hash::FxHashMap as HashMap;
use std::time::{Duration, Instant};

use crate::build::MessageBuilder;
use crate::message::Message;
use crate::name::HeaderName;

/// T1, T2 and T4 (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate. Default 500 ms.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses. Default 4 s.
    pub t2: Duration,
    /// How long a message stays in the network. Default 5 s.
    pub t4: Duration,
    /// Timer C (§16.6 step 11): how long an INVITE client transaction waits in Proceeding
    /// for a final response, restarted by each provisional one; then it times out like Timer
    /// B, so that no transaction waits forever. Default 3 minutes (more than the RFC's
    /// minimum of 3 minutes would be as good).
    pub c: Duration,
}

impl Default for Timers {
    fn default() -> Timers {
        Timers {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            c: Duration::from_secs(180),
        }
    }
}

/// Whether the transport retransmits by itself (TCP, TLS) or not (UDP).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP: the transaction retransmits.
    Unreliable,
    /// TCP, TLS, SCTP: no retransmission, and the wait timers are zero.
    Reliable,
}

/// A transaction's handle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TxKey(pub u64);

/// Which machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// §17.1.1.
    InviteClient,
    /// §17.1.2.
    NonInviteClient,
    /// §17.2.1.
    InviteServer,
    /// §17.2.2.
    NonInviteServer,
}

/// A machine's state (RFC 3261 §17 and RFC 6026 §7.1, §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// INVITE client before any response.
    Calling,
    /// Non-INVITE client or server before any response.
    Trying,
    /// A provisional response was received or sent.
    Proceeding,
    /// A 2xx to INVITE (RFC 6026).
    Accepted,
    /// A non-2xx final response (or any final for non-INVITE).
    Completed,
    /// INVITE server: the ACK arrived.
    Confirmed,
    /// Over.
    Terminated,
}

/// Something the transaction user must know.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TxEvent {
    /// A new request: a server transaction was created for it (not for ACK).
    Request {
        /// The new server transaction.
        key: TxKey,
        /// The request.
        message: Message,
    },
    /// A response for a client transaction (every 1xx and final; 2xx retransmissions too, in
    /// `Accepted`).
    Response {
        /// The client transaction.
        key: TxKey,
        /// The response.
        message: Message,
    },
    /// An ACK for a 2xx, passed up (RFC 6026: by the INVITE server transaction in `Accepted`,
    /// or with no transaction at all).
    Ack {
        /// The INVITE server transaction, if it was still there.
        key: Option<TxKey>,
        /// The ACK.
        message: Message,
    },
    /// A CANCEL arrived for this INVITE server transaction (the CANCEL's own transaction was
    /// created and reported as a [`TxEvent::Request`] too).
    Cancelled {
        /// The INVITE server transaction.
        key: TxKey,
    },
    /// A response that matches no client transaction (a proxy forwards it statelessly).
    StrayResponse {
        /// The response.
        message: Message,
    },
    /// Timer B, F or H fired.
    Timeout {
        /// The transaction.
        key: TxKey,
    },
    /// The transport failed for this transaction.
    TransportError {
        /// The transaction.
        key: TxKey,
    },
    /// The transaction is gone. Its last message may still wait in
    /// [`TransactionLayer::poll_transmit`] (a zero wait ends a transaction as it answers): send
    /// what is queued before forgetting where the transaction's messages go.
    Terminated {
        /// The transaction.
        key: TxKey,
    },
    /// A new request found the layer full ([`TransactionLayer::max_transactions`]): no
    /// transaction was created. Answer it statelessly (503 with Retry-After) or drop it.
    Overloaded {
        /// The request.
        message: Message,
    },
}

/// Bytes to send for a transaction. The embedder knows where: the request's next hop for a
/// client transaction, the top Via's sent-by (with `received`/`rport`) for a server one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The transaction.
    pub key: TxKey,
    /// How many bytes of the caller's buffer the message took.
    pub len: usize,
}

/// The caller's buffer cannot hold the next message; nothing was taken. Call again with at
/// least `required` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the output buffer is too small: {required} bytes are needed")]
pub struct BufferTooSmall {
    /// The next message's length.
    pub required: usize,
}

/// A message waiting to be sent.
#[derive(Debug, Clone)]
struct Queued {
    key: TxKey,
    message: Message,
}

/// Why the layer refused a message from the transaction user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TxError {
    /// The message lacks a Via with a branch, a CSeq, or (responses) does not match a server
    /// transaction.
    #[error("{0}")]
    Unmatched(&'static str),
    /// A request to send as a client transaction is an ACK (ACKs for 2xx are sent by the TU
    /// directly; ACKs for non-2xx by the transaction).
    #[error("ACK is not sent through a client transaction")]
    Ack,
    /// The server transaction is not in a state that takes this response.
    #[error("the transaction is {0:?} and takes no response")]
    WrongState(State),
    /// The layer holds [`TransactionLayer::max_transactions`] already.
    #[error("the transaction layer is full")]
    Full,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// A, E, G: retransmit.
    Retransmit,
    /// B, F, H, D, K, I, J, L, M: the end of a state.
    End,
}

#[derive(Debug)]
struct Tx {
    kind: Kind,
    state: State,
    transport: Transport,
    /// Dropped once a non-INVITE server transaction has its final response: only the response
    /// is needed to answer retransmissions, and the layer may hold a great many of these.
    request: Option<Message>,
    last_response: Option<Message>,
    ack: Option<Message>,
    interval: Duration,
    retransmit_at: Option<Instant>,
    end_at: Option<Instant>,
    /// Shared with the index that finds this transaction.
    match_key: Arc<[u8]>,
}

impl Tx {
    /// Whether the end timer of the current state is a timeout (B, C, F, H) rather than a
    /// wait (D, I, J, K, L, M): it follows from the machine and its state.
    fn end_is_timeout(&self) -> bool {
        matches!(
            (self.kind, self.state),
            (Kind::InviteClient, State::Calling | State::Proceeding)
                | (Kind::NonInviteClient, State::Trying | State::Proceeding)
                | (Kind::InviteServer, State::Completed)
        )
    }

    /// A transaction in its first state, with no timer running.
    fn new(
        kind: Kind,
        transport: Transport,
        request: Message,
        t1: Duration,
        match_key: Arc<[u8]>,
    ) -> Tx {
        Tx {
            kind,
            state: match kind {
                Kind::InviteClient => State::Calling,
                Kind::InviteServer => State::Proceeding,
                Kind::NonInviteClient | Kind::NonInviteServer => State::Trying,
            },
            transport,
            request: Some(request),
            last_response: None,
            ack: None,
            interval: t1,
            retransmit_at: None,
            end_at: None,
            match_key,
        }
    }
}

/// All transactions of an element: see the [module documentation](self).
#[derive(Debug)]
pub struct TransactionLayer {
    timers: Timers,
    txs: Slab,
    /// Client transactions by (branch, method); server ones by the §17.2.3 key, each key the
    /// parts' bytes joined by NUL (see [`Key`]).
    client_index: HashMap<Arc<[u8]>, TxKey>,
    server_index: HashMap<Arc<[u8]>, TxKey>,
    /// Where keys of incoming messages are built for the look-up, without allocating.
    scratch: Key,
    /// The most transactions held at once (default 1,000,000); past it new requests are
    /// reported as [`TxEvent::Overloaded`] and [`TransactionLayer::send_request`] fails.
    pub max_transactions: usize,
    heap: BinaryHeap<Reverse<(Instant, TxKey, u8)>>,
    out: VecDeque<Queued>,
    events: VecDeque<TxEvent>,
}

impl TransactionLayer {
    /// An empty layer.
    #[must_use]
    pub fn new(timers: Timers) -> TransactionLayer {
        TransactionLayer {
            timers,
            txs: Slab::default(),
            client_index: HashMap::default(),
            server_index: HashMap::default(),
            scratch: Key::default(),
            max_transactions: 1_000_000,
            heap: BinaryHeap::new(),
            out: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// How many transactions are alive.
    #[must_use]
    pub fn len(&self) -> usize {
        self.txs.len()
    }

    /// Whether none is.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.txs.is_empty()
    }

    /// A transaction's machine and state.
    #[must_use]
    pub fn state(&self, key: TxKey) -> Option<(Kind, State)> {
        self.txs.get(key).map(|t| (t.kind, t.state))
    }

    /// The request a transaction was created for.
    #[must_use]
    pub fn request(&self, key: TxKey) -> Option<&Message> {
        self.txs.get(key).and_then(|t| t.request.as_ref())
    }

    /// Starts a client transaction and sends `request` (its top Via must carry the branch).
    ///
    /// # Errors
    /// ACK, or a request without Via branch or CSeq.
    pub fn send_request(
        &mut self,
        now: Instant,
        request: Message,
        transport: Transport,
    ) -> Result<TxKey, TxError> {
        let method = request.method().unwrap_or_default();
        if method == "ACK" {
            return Err(TxError::Ack);
        }
        let kind = if method == "INVITE" {
            Kind::InviteClient
        } else {
            Kind::NonInviteClient
        };
        if !self.scratch.client(&request) {
            return Err(TxError::Unmatched("a request without a Via branch"));
        }
        if self.txs.len() >= self.max_transactions {
            return Err(TxError::Full);
        }
        let match_key: Arc<[u8]> = self.scratch.bytes().into();
        let t1 = self.timers.t1;
        let mut tx = Tx::new(kind, transport, request.clone(), t1, match_key.clone());
        tx.retransmit_at = (transport == Transport::Unreliable).then_some(now + t1);
        tx.end_at = Some(now + 64 * t1);
        let key = self.txs.insert(tx);
        self.client_index.insert(match_key, key);
        self.schedule(key, now);
        self.out.push_back(Queued {
            key,
            message: request,
        });
        Ok(key)
    }

    /// Sends a response through the server transaction it matches (by its top Via and CSeq).
    ///
    /// # Errors
    /// No matching server transaction, or one that is past sending responses.
    pub fn send_response(&mut self, now: Instant, response: Message) -> Result<TxKey, TxError> {
        let key = self
            .server_key_of_response(&response)
            .ok_or(TxError::Unmatched("a response for no server transaction"))?;
        self.respond(now, key, response)
    }

    /// Sends a response through the server transaction `key` (the key of its
    /// [`TxEvent::Request`]), without matching it again.
    ///
    /// # Errors
    /// No such server transaction, or one that is past sending responses.
    pub fn respond(
        &mut self,
        now: Instant,
        key: TxKey,
        response: Message,
    ) -> Result<TxKey, TxError> {
        let timers = self.timers;
        let tx = self
            .txs
            .get_mut(key)
            .filter(|t| matches!(t.kind, Kind::InviteServer | Kind::NonInviteServer))
            .ok_or(TxError::Unmatched("no such server transaction"))?;
        let code = response.status().unwrap_or(0);
        let reliable = tx.transport == Transport::Reliable;
        match (tx.kind, tx.state) {
            (_, State::Trying | State::Proceeding) if code < 200 => tx.state = State::Proceeding,
            (Kind::InviteServer, State::Proceeding) if code < 300 => {
                // RFC 6026: Accepted, Timer L; 2xx retransmissions are the TU's.
                tx.state = State::Accepted;
                tx.end_at = Some(now + 64 * timers.t1);
            }
            (Kind::InviteServer, State::Proceeding) => {
                tx.state = State::Completed;
                tx.interval = timers.t1;
                tx.retransmit_at = (!reliable).then_some(now + timers.t1);
                tx.end_at = Some(now + 64 * timers.t1);
            }
            (Kind::InviteServer, State::Accepted) if (200..300).contains(&code) => {}
            (Kind::NonInviteServer, State::Trying | State::Proceeding) => {
                tx.state = State::Completed;
                // The RFC 2543 fallback matches responses against the request; keys with the
                // magic cookie need only the response from now on.
                if !tx.match_key.starts_with(b"2543\0") {
                    tx.request = None;
                }
                tx.end_at = Some(
                    now + if reliable {
                        Duration::ZERO
                    } else {
                        64 * timers.t1
                    },
                );
            }
            (_, state) => return Err(TxError::WrongState(state)),
        }
        tx.last_response = Some(response.clone());
        self.out.push_back(Queued {
            key,
            message: response,
        });
        self.schedule(key, now);
        Ok(key)
    }

    /// Answers the server transaction `key` with a final `response` and forgets it at once:
    /// no retransmission, no absorbed retransmissions of the request (each gets a new
    /// transaction and answer). For answers that should cost the server nothing per request —
    /// a challenge or a refusal to a peer not yet authenticated (RFC 3261 §26.3.2.4).
    ///
    /// # Errors
    /// No such server transaction, or a provisional response.
    pub fn respond_stateless(&mut self, key: TxKey, response: Message) -> Result<(), TxError> {
        let tx = self
            .txs
            .get(key)
            .filter(|t| matches!(t.kind, Kind::InviteServer | Kind::NonInviteServer))
            .ok_or(TxError::Unmatched("no such server transaction"))?;
        if response.status().unwrap_or(0) < 200 {
            return Err(TxError::WrongState(tx.state));
        }
        self.out.push_back(Queued {
            key,
            message: response,
        });
        self.terminate(key);
        Ok(())
    }

    /// A message from the network.
    pub fn handle_message(&mut self, now: Instant, message: Message, transport: Transport) {
        if message.is_request() {
            self.incoming_request(now, message, transport);
        } else {
            self.incoming_response(now, message);
        }
    }

    /// The transport failed to deliver for `key` (§17.1.4, §17.2.4): the transaction ends.
    pub fn handle_transport_error(&mut self, key: TxKey) {
        if self.txs.get(key).is_some() {
            self.events.push_back(TxEvent::TransportError { key });
            self.terminate(key);
        }
    }

    /// Drops a server transaction without answering it: for a request that gets no response,
    /// such as the Microsoft BENOTIFY ([`crate::subscription`]). Reported as
    /// [`TxEvent::Terminated`]; a retransmission of the request would start a new one.
    ///
    /// # Errors
    /// `key` is not a server transaction still waiting for its response.
    pub fn abandon(&mut self, key: TxKey) -> Result<(), TxError> {
        match self.txs.get(key) {
            Some(t)
                if matches!(t.kind, Kind::InviteServer | Kind::NonInviteServer)
                    && matches!(t.state, State::Trying | State::Proceeding) =>
            {
                self.terminate(key);
                Ok(())
            }
            Some(t) => Err(TxError::WrongState(t.state)),
            None => Err(TxError::Unmatched("no such server transaction")),
        }
    }

    /// Writes the next message to send at the start of `buf`: which transaction it is for
    /// (where it goes is the caller's business) and its length. Call until `Ok(None)` after
    /// every input and timeout.
    ///
    /// # Errors
    /// [`BufferTooSmall`] when `buf` is shorter than the message (nothing is taken).
    #[must_use = "a message left in the queue is never sent"]
    pub fn poll_transmit(&mut self, buf: &mut [u8]) -> Result<Option<Transmit>, BufferTooSmall> {
        let Some(q) = self.out.front() else {
            return Ok(None);
        };
        let len = q.message.len();
        if buf.len() < len {
            return Err(BufferTooSmall { required: len });
        }
        q.message.write(&mut &mut buf[..len]);
        let key = q.key;
        self.out.pop_front();
        Ok(Some(Transmit { key, len }))
    }

    /// The next event for the transaction user.
    #[must_use = "an event left in the queue is never acted on"]
    pub fn poll_event(&mut self) -> Option<TxEvent> {
        self.events.pop_front()
    }

    /// When [`TransactionLayer::handle_timeout`] is next due.
    #[must_use = "without it the timers never fire"]
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        while let Some(Reverse((at, key, which))) = self.heap.peek().copied() {
            if self.is_current(key, at, which) {
                return Some(at);
            }
            self.heap.pop();
        }
        None
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, key, which))) = self.heap.peek().copied() {
            if at > now {
                break;
            }
            self.heap.pop();
            if !self.is_current(key, at, which) {
                continue;
            }
            if which == Timer::Retransmit as u8 {
                self.retransmit(key, at);
            } else {
                self.end(key);
            }
        }
    }

    fn is_current(&self, key: TxKey, at: Instant, which: u8) -> bool {
        self.txs.get(key).is_some_and(|t| {
            if which == Timer::Retransmit as u8 {
                t.retransmit_at == Some(at)
            } else {
                t.end_at == Some(at)
            }
        })
    }

    /// Puts the transaction's timers on the heap; a wait that is zero (Timers D, I, J, K on a
    /// reliable transport) ends the transaction at once instead.
    fn schedule(&mut self, key: TxKey, now: Instant) {
        if let Some(t) = self.txs.get(key) {
            if t.retransmit_at.is_none()
                && t.end_at.is_some_and(|at| at <= now)
                && !t.end_is_timeout()
            {
                self.terminate(key);
                return;
            }
            if let Some(at) = t.retransmit_at {
                self.heap.push(Reverse((at, key, Timer::Retransmit as u8)));
            }
            if let Some(at) = t.end_at {
                self.heap.push(Reverse((at, key, Timer::End as u8)));
            }
        }
    }

    /// Timers A, E, G.
    fn retransmit(&mut self, key: TxKey, at: Instant) {
        let t2 = self.timers.t2;
        let Some(tx) = self.txs.get_mut(key) else {
            return;
        };
        let message = match (tx.kind, tx.state) {
            (Kind::InviteClient, State::Calling) => {
                tx.interval *= 2;
                match tx.request.clone() {
                    Some(r) => r,
                    None => return,
                }
            }
            (Kind::NonInviteClient, State::Trying | State::Proceeding) => {
                tx.interval = if tx.state == State::Proceeding {
                    t2
                } else {
                    (tx.interval * 2).min(t2)
                };
                match tx.request.clone() {
                    Some(r) => r,
                    None => return,
                }
            }
            (Kind::InviteServer, State::Completed) => {
                tx.interval = (tx.interval * 2).min(t2);
                match &tx.last_response {
                    Some(r) => r.clone(),
                    None => return,
                }
            }
            _ => {
                tx.retransmit_at = None;
                return;
            }
        };
        tx.retransmit_at = Some(at + tx.interval);
        self.schedule(key, at);
        self.out.push_back(Queued { key, message });
    }

    /// Timers B, F, H (timeouts) and D, K, I, J, L, M (waits).
    fn end(&mut self, key: TxKey) {
        let Some(tx) = self.txs.get(key) else {
            return;
        };
        if tx.end_is_timeout() {
            self.events.push_back(TxEvent::Timeout { key });
        }
        self.terminate(key);
    }

    fn terminate(&mut self, key: TxKey) {
        if let Some(tx) = self.txs.get(key) {
            match tx.kind {
                Kind::InviteClient | Kind::NonInviteClient => {
                    self.client_index.remove(&tx.match_key);
                }
                _ => {
                    self.server_index.remove(&tx.match_key);
                }
            }
            self.txs.remove(key);
            self.events.push_back(TxEvent::Terminated { key });
        }
    }

    fn incoming_response(&mut self, now: Instant, response: Message) {
        let key = if self.scratch.client(&response) {
            self.client_index.get(self.scratch.bytes()).copied()
        } else {
            None
        };
        let Some(key) = key else {
            self.events
                .push_back(TxEvent::StrayResponse { message: response });
            return;
        };
        let timers = self.timers;
        let Some(tx) = self.txs.get_mut(key) else {
            return;
        };
        let code = response.status().unwrap_or(0);
        let reliable = tx.transport == Transport::Reliable;
        let up = match (tx.kind, tx.state, code) {
            (_, State::Calling | State::Trying | State::Proceeding, 100..=199) => {
                if tx.kind == Kind::InviteClient {
                    // Timer A stops in Proceeding and Timer B no longer applies (§17.1.1.2);
                    // Timer C (re)starts.
                    tx.retransmit_at = None;
                    tx.end_at = Some(now + timers.c);
                } else if tx.retransmit_at.is_some() {
                    tx.interval = timers.t2;
                }
                tx.state = State::Proceeding;
                true
            }
            (Kind::InviteClient, State::Calling | State::Proceeding, 200..=299) => {
                tx.state = State::Accepted;
                tx.retransmit_at = None;
                tx.end_at = Some(now + 64 * timers.t1);
                true
            }
            // RFC 6026: further 2xx (retransmissions, other forks) go up in Accepted.
            (Kind::InviteClient, State::Accepted, 200..=299) => true,
            (Kind::InviteClient, State::Calling | State::Proceeding, 300..) => {
                let ack = tx.request.as_ref().and_then(|r| ack_for(r, &response));
                tx.state = State::Completed;
                tx.retransmit_at = None;
                tx.end_at = Some(
                    now + if reliable {
                        Duration::ZERO
                    } else {
                        Duration::from_secs(32)
                    },
                );
                if let Some(ack) = ack {
                    tx.ack = Some(ack.clone());
                    self.out.push_back(Queued { key, message: ack });
                }
                true
            }
            // A retransmitted non-2xx final: the ACK again, nothing up.
            (Kind::InviteClient, State::Completed, 300..) => {
                if let Some(ack) = tx.ack.clone() {
                    self.out.push_back(Queued { key, message: ack });
                }
                false
            }
            (Kind::NonInviteClient, State::Trying | State::Proceeding, 200..) => {
                tx.state = State::Completed;
                tx.retransmit_at = None;
                tx.end_at = Some(now + if reliable { Duration::ZERO } else { timers.t4 });
                true
            }
            _ => false,
        };
        if up {
            self.events.push_back(TxEvent::Response {
                key,
                message: response,
            });
        }
        self.schedule(key, now);
    }

    fn incoming_request(&mut self, now: Instant, request: Message, transport: Transport) {
        if !self.scratch.server(&request, None) {
            return;
        }
        let method = request.method().unwrap_or_default();
        let (is_ack, is_invite, is_cancel) =
            (method == "ACK", method == "INVITE", method == "CANCEL");
        if let Some(&key) = self.server_index.get(self.scratch.bytes())
            && let Some(tx) = self.txs.get_mut(key)
        {
            if is_ack {
                match tx.state {
                    State::Completed => {
                        // Timer I: absorb further ACKs for T4 (zero on reliable transports).
                        tx.state = State::Confirmed;
                        tx.retransmit_at = None;
                        tx.end_at = Some(
                            now + if tx.transport == Transport::Reliable {
                                Duration::ZERO
                            } else {
                                self.timers.t4
                            },
                        );
                        self.schedule(key, now);
                    }
                    State::Accepted => self.events.push_back(TxEvent::Ack {
                        key: Some(key),
                        message: request,
                    }),
                    _ => {}
                }
                return;
            }
            // A retransmission: the last response again (not in Accepted: 2xx are the TU's).
            if matches!(tx.state, State::Proceeding | State::Completed)
                && let Some(r) = tx.last_response.clone()
            {
                self.out.push_back(Queued { key, message: r });
            }
            return;
        }
        if is_ack {
            // The ACK for a 2xx whose transaction is gone: the TU's business (§17.2.3).
            self.events.push_back(TxEvent::Ack {
                key: None,
                message: request,
            });
            return;
        }
        if self.txs.len() >= self.max_transactions {
            self.events
                .push_back(TxEvent::Overloaded { message: request });
            return;
        }
        let kind = if is_invite {
            Kind::InviteServer
        } else {
            Kind::NonInviteServer
        };
        let match_key: Arc<[u8]> = self.scratch.bytes().into();
        let tx = Tx::new(
            kind,
            transport,
            request.clone(),
            self.timers.t1,
            match_key.clone(),
        );
        let key = self.txs.insert(tx);
        self.server_index.insert(match_key, key);
        if is_cancel
            && self.scratch.server(&request, Some("INVITE"))
            && let Some(&invite) = self.server_index.get(self.scratch.bytes())
        {
            self.events.push_back(TxEvent::Cancelled { key: invite });
        }
        self.events.push_back(TxEvent::Request {
            key,
            message: request,
        });
    }

    fn server_key_of_response(&mut self, response: &Message) -> Option<TxKey> {
        if self.scratch.server(response, None) {
            return self.server_index.get(self.scratch.bytes()).copied();
        }
        // RFC 2543 (no magic cookie): find the transaction whose request has this Via, Call-ID
        // and CSeq.
        let cseq = response.cseq().ok()?;
        self.txs.iter().find_map(|(k, t)| {
            let Some(r) = &t.request else {
                return None;
            };
            let same = matches!(t.kind, Kind::InviteServer | Kind::NonInviteServer)
                && r.call_id().ok() == response.call_id().ok()
                && r.cseq().ok().map(|c| (c.seq, c.method)) == Some((cseq.seq, cseq.method))
                && r.header(HeaderName::Via).map(|h| h.value)
                    == response.header(HeaderName::Via).map(|h| h.value);
            same.then_some(k)
        })
    }
}

fn ack_as_invite(method: &str) -> &str {
    if method == "ACK" { "INVITE" } else { method }
}

/// The transactions, in slots reused through a free list; a [`TxKey`] is the slot's index and
/// its generation, so a stale key never reaches the slot's next transaction.
#[derive(Debug, Default)]
struct Slab {
    /// Fixed-size chunks, so that growing never moves the transactions already held (a large
    /// layer would otherwise copy hundreds of megabytes at once when a single vector doubled).
    chunks: Vec<Vec<(u32, Option<Tx>)>>,
    free: Vec<u32>,
    len: usize,
}

const CHUNK: usize = 4096;

impl Slab {
    fn split(key: TxKey) -> (usize, u32) {
        ((key.0 & 0xffff_ffff) as usize, (key.0 >> 32) as u32)
    }

    fn slot(&self, i: usize) -> Option<&(u32, Option<Tx>)> {
        self.chunks.get(i / CHUNK)?.get(i % CHUNK)
    }

    fn slot_mut(&mut self, i: usize) -> Option<&mut (u32, Option<Tx>)> {
        self.chunks.get_mut(i / CHUNK)?.get_mut(i % CHUNK)
    }

    fn insert(&mut self, tx: Tx) -> TxKey {
        self.len += 1;
        let index = match self.free.pop() {
            Some(i) => i as usize,
            None => {
                if self.chunks.last().is_none_or(|c| c.len() == CHUNK) {
                    self.chunks.push(Vec::with_capacity(CHUNK));
                }
                let n = self.chunks.len();
                let last = &mut self.chunks[n - 1];
                last.push((0, None));
                (n - 1) * CHUNK + last.len() - 1
            }
        };
        let generation = match self.slot_mut(index) {
            Some(s) => {
                s.1 = Some(tx);
                s.0
            }
            None => 0,
        };
        TxKey((u64::from(generation) << 32) | index as u64)
    }

    fn get(&self, key: TxKey) -> Option<&Tx> {
        let (i, generation) = Self::split(key);
        self.slot(i)
            .filter(|s| s.0 == generation)
            .and_then(|s| s.1.as_ref())
    }

    fn get_mut(&mut self, key: TxKey) -> Option<&mut Tx> {
        let (i, generation) = Self::split(key);
        self.slot_mut(i)
            .filter(|s| s.0 == generation)
            .and_then(|s| s.1.as_mut())
    }

    /// Drops the transaction in its slot.
    fn remove(&mut self, key: TxKey) {
        let (i, generation) = Self::split(key);
        if let Some(s) = self.slot_mut(i)
            && s.0 == generation
            && s.1.is_some()
        {
            s.1 = None;
            s.0 = s.0.wrapping_add(1);
            self.free.push(i as u32);
            self.len -= 1;
        }
    }

    fn iter(&self) -> impl Iterator<Item = (TxKey, &Tx)> {
        self.chunks
            .iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, (g, t))| {
                t.as_ref()
                    .map(|t| (TxKey((u64::from(*g) << 32) | i as u64), t))
            })
    }

    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A transaction key built as bytes: its parts joined by NUL, in a buffer kept between uses so
/// that looking a message up allocates nothing.
#[derive(Debug, Default)]
struct Key(Vec<u8>);

impl Key {
    fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn part(&mut self, p: &[u8]) {
        self.0.extend_from_slice(p);
        self.0.push(0);
    }

    /// §17.1.3: the top Via's branch and the CSeq method.
    fn client(&mut self, msg: &Message) -> bool {
        self.0.clear();
        let (Ok(via), Ok(cseq)) = (msg.top_via(), msg.cseq()) else {
            return false;
        };
        let Some(branch) = via.branch() else {
            return false;
        };
        self.part(branch.as_bytes());
        self.part(cseq.method.as_bytes());
        true
    }

    /// §17.2.3: branch + sent-by + method (ACK as INVITE) for a request or a response; for
    /// requests without the magic cookie, the RFC 2543 key: Request-URI, From tag, Call-ID,
    /// CSeq number, top Via (To tag left out so that the ACK, whose To carries the response's
    /// tag, finds its INVITE). `as_method` overrides the method (a CANCEL looking for its
    /// INVITE). False when the message has no such key (a response without the cookie).
    fn server(&mut self, msg: &Message, as_method: Option<&str>) -> bool {
        self.0.clear();
        let (Ok(via), Ok(cseq)) = (msg.top_via(), msg.cseq()) else {
            return false;
        };
        let method = as_method.unwrap_or(ack_as_invite(cseq.method));
        if let Some(branch) = via
            .branch()
            .filter(|b| b.starts_with(crate::headers::MAGIC_COOKIE))
        {
            self.part(branch.as_bytes());
            // The host's form is part of the key: a name never equals an address.
            self.0.push(match via.host {
                crate::uri::Host::Domain(_) => b'D',
                crate::uri::Host::Ipv4(_) => b'4',
                crate::uri::Host::Ipv6(_) => b'6',
            });
            match via.host {
                crate::uri::Host::Domain(d) | crate::uri::Host::Ipv6(d) => self.part(d.as_bytes()),
                crate::uri::Host::Ipv4(a) => self.part(&a.octets()),
            }
            self.part(&via.port.map_or([0, 0, 0], |p| {
                let [a, b] = p.to_be_bytes();
                [1, a, b]
            }));
            self.part(method.as_bytes());
            return true;
        }
        let crate::message::StartLine::Request { uri, .. } = msg.start_line() else {
            return false;
        };
        let (Ok(from), Ok(call_id), Some(top)) =
            (msg.from(), msg.call_id(), msg.header(HeaderName::Via))
        else {
            return false;
        };
        self.part(b"2543");
        self.part(uri.as_bytes());
        self.part(from.tag().unwrap_or_default().as_bytes());
        self.part(call_id.as_bytes());
        self.part(&cseq.seq.to_be_bytes());
        self.part(top.value.as_bytes());
        self.part(method.as_bytes());
        true
    }
}

/// §17.1.1.3: the ACK for a non-2xx final response: Request-URI, Call-ID, From, the top Via and
/// Route of the INVITE, the response's To, CSeq with the INVITE's number and ACK.
fn ack_for(invite: &Message, response: &Message) -> Option<Message> {
    let crate::message::StartLine::Request { uri, .. } = invite.start_line() else {
        return None;
    };
    let cseq = format!("{} ACK", invite.cseq().ok()?.seq);
    let to = response.header(HeaderName::To)?.value;
    let mut b = MessageBuilder::request("ACK", uri)
        .header("Via", invite.header(HeaderName::Via)?.value)
        .header("From", invite.header(HeaderName::From)?.value)
        .header("To", to)
        .header("Call-ID", invite.call_id().ok()?)
        .header("CSeq", cseq)
        .header("Max-Forwards", "70");
    for r in invite.headers_named(HeaderName::Route) {
        b = b.header("Route", r.value);
    }
    b.build().ok()
}
