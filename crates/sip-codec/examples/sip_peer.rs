//! A minimal SIP user agent on a UDP socket, built from this crate's sans-IO layers: the
//! transaction layer, dialogs, and a transaction user that answers or places calls. The socket
//! and the clock live here, in the example; the library sees bytes and `Instant`s.
//!
//! ```text
//! cargo run -p ocs-sip-codec --example sip_peer -- uas 127.0.0.1:5070 100
//! cargo run -p ocs-sip-codec --example sip_peer -- uac 127.0.0.1:5071 127.0.0.1:5070 100
//! ```
//!
//! As UAS it answers INVITE with 100, 180 and 200 (retransmitting the 2xx until the ACK, RFC
//! 3261 §13.3.1.4, as the transaction user must), and BYE with 200: sipp's built-in `uac`
//! scenario. As UAC it places calls (INVITE, ACK for the 2xx, BYE), several at once: sipp's
//! `uas` scenario. `tests/sipp.rs` runs both against sipp.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_sip_codec::Message;
use ocs_sip_codec::build::MessageBuilder;
use ocs_sip_codec::dialog::{Dialog, DialogId, DialogSet, DialogState};
use ocs_sip_codec::transaction::{Timers, TransactionLayer, Transport, TxEvent, TxKey};

/// How a run went.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stats {
    /// Calls completed (INVITE, 200, ACK, BYE, 200).
    pub(crate) completed: usize,
    /// Calls that failed (error response, timeout, transport error).
    pub(crate) failed: usize,
}

/// The socket, the transaction layer, and where each transaction's messages go.
struct Endpoint {
    socket: UdpSocket,
    local: SocketAddr,
    layer: TransactionLayer,
    dest: HashMap<TxKey, SocketAddr>,
    counter: u64,
    buf: Vec<u8>,
}

impl Endpoint {
    fn new(socket: UdpSocket) -> io::Result<Endpoint> {
        Ok(Endpoint {
            local: socket.local_addr()?,
            socket,
            layer: TransactionLayer::new(Timers::default()),
            dest: HashMap::new(),
            counter: 0,
            buf: vec![0; 65_536],
        })
    }

    /// A fresh token: tags, Call-IDs and branches (an example's stand-in for an RNG).
    fn token(&mut self) -> String {
        self.counter += 1;
        format!("{:x}{:x}", self.local.port(), self.counter)
    }

    fn send_raw(&self, m: &Message, to: SocketAddr) -> io::Result<()> {
        self.socket.send_to(&m.to_vec(), to).map(|_| ())
    }

    /// Sends what the layer has, fires its timers, and waits at most `max` for one datagram.
    fn turn(&mut self, max: Duration) -> io::Result<Option<(Message, SocketAddr)>> {
        self.layer.handle_timeout(Instant::now());
        self.flush()?;
        let now = Instant::now();
        let wait = self
            .layer
            .poll_timeout()
            .map_or(max, |t| t.saturating_duration_since(now).min(max))
            .max(Duration::from_millis(1));
        self.socket.set_read_timeout(Some(wait))?;
        match self.socket.recv_from(&mut self.buf) {
            Ok((n, from)) => Ok(Message::parse(Bytes::copy_from_slice(&self.buf[..n]))
                .ok()
                .map(|m| (m, from))),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        let mut buf = [0u8; 65_535];
        while let Ok(Some(t)) = self.layer.poll_transmit(&mut buf) {
            if let Some(&to) = self.dest.get(&t.key) {
                self.socket.send_to(&buf[..t.len], to)?;
            }
        }
        Ok(())
    }
}

/// A 2xx to INVITE waiting for its ACK (§13.3.1.4).
struct Pending2xx {
    response: Message,
    to: SocketAddr,
    interval: Duration,
    next: Instant,
    give_up: Instant,
}

/// Answers calls until `calls` have completed or `deadline` passes.
pub(crate) fn run_uas(socket: UdpSocket, calls: usize, deadline: Duration) -> io::Result<Stats> {
    let mut ep = Endpoint::new(socket)?;
    let end = Instant::now() + deadline;
    let mut stats = Stats::default();
    let mut dialogs: HashMap<DialogId, Dialog> = HashMap::new();
    let mut pending: HashMap<DialogId, Pending2xx> = HashMap::new();
    let contact = format!("<sip:ocs-uas@{}>", ep.local);
    while stats.completed + stats.failed < calls && Instant::now() < end {
        // 2xx retransmissions until the ACK.
        let now = Instant::now();
        for p in pending.values_mut() {
            if now >= p.next {
                ep.send_raw(&p.response, p.to)?;
                p.interval = (p.interval * 2).min(Duration::from_secs(4));
                p.next = now + p.interval;
            }
        }
        pending.retain(|_, p| {
            if now >= p.give_up {
                stats.failed += 1;
                false
            } else {
                true
            }
        });
        let Some((m, from)) = ep.turn(Duration::from_millis(20))? else {
            continue;
        };
        ep.layer
            .handle_message(Instant::now(), m, Transport::Unreliable);
        while let Some(ev) = ep.layer.poll_event() {
            match ev {
                TxEvent::Request { key, message } => {
                    ep.dest.insert(key, from);
                    let method = message.method().unwrap_or_default().to_owned();
                    let now = Instant::now();
                    match method.as_str() {
                        "INVITE" => {
                            let tag = ep.token();
                            let trying = message.response(100, "Trying", &tag).build();
                            let ringing = message
                                .response(180, "Ringing", &tag)
                                .header("Contact", &contact)
                                .build();
                            let ok = message
                                .response(200, "OK", &tag)
                                .header("Contact", &contact)
                                .body(
                                    "application/sdp",
                                    b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n",
                                )
                                .build();
                            let (Ok(trying), Ok(ringing), Ok(ok)) = (trying, ringing, ok) else {
                                continue;
                            };
                            let _ = ep.layer.respond(now, key, trying);
                            let _ = ep.layer.respond(now, key, ringing);
                            if let Ok(d) = Dialog::uas(&message, &ok) {
                                pending.insert(
                                    d.id().clone(),
                                    Pending2xx {
                                        response: ok.clone(),
                                        to: from,
                                        interval: Duration::from_millis(500),
                                        next: now + Duration::from_millis(500),
                                        give_up: now + Duration::from_secs(32),
                                    },
                                );
                                dialogs.insert(d.id().clone(), d);
                            }
                            let _ = ep.layer.respond(now, key, ok);
                        }
                        "BYE" => {
                            let id = DialogId::of_request(&message).ok();
                            let known = id
                                .as_ref()
                                .and_then(|id| dialogs.get_mut(id))
                                .map(|d| d.handle_request(&message).is_ok());
                            let (code, reason) = match known {
                                Some(true) => (200, "OK"),
                                _ => (481, "Call/Transaction Does Not Exist"),
                            };
                            if let Ok(r) = message.response(code, reason, "").build() {
                                let _ = ep.layer.respond(now, key, r);
                            }
                            if let Some(id) = id.filter(|_| code == 200) {
                                dialogs.remove(&id);
                                pending.remove(&id);
                                stats.completed += 1;
                            }
                        }
                        "CANCEL" | "OPTIONS" => {
                            if let Ok(r) = message.response(200, "OK", "").build() {
                                let _ = ep.layer.respond(now, key, r);
                            }
                        }
                        _ => {
                            if let Ok(r) = message
                                .response(405, "Method Not Allowed", "")
                                .header("Allow", "INVITE, ACK, BYE, CANCEL, OPTIONS")
                                .build()
                            {
                                let _ = ep.layer.respond(now, key, r);
                            }
                        }
                    }
                }
                TxEvent::Ack { message, .. } => {
                    if let Ok(id) = DialogId::of_request(&message) {
                        pending.remove(&id);
                        if let Some(d) = dialogs.get_mut(&id) {
                            let _ = d.handle_request(&message);
                        }
                    }
                }
                TxEvent::Timeout { .. } | TxEvent::TransportError { .. } => stats.failed += 1,
                TxEvent::Terminated { key } => {
                    // Send what it still has queued first (see `TxEvent::Terminated`).
                    ep.flush()?;
                    ep.dest.remove(&key);
                }
                _ => {}
            }
        }
        ep.flush()?;
    }
    // Let the last responses and timers go out.
    let linger = Instant::now() + Duration::from_millis(200);
    while Instant::now() < linger {
        let _ = ep.turn(Duration::from_millis(20))?;
    }
    Ok(stats)
}

/// One call placed by the UAC.
struct Call {
    invite: Message,
    set: DialogSet,
    bye: Option<TxKey>,
}

/// Places `calls` calls to `peer`, `parallel` at a time, until done or `deadline` passes.
pub(crate) fn run_uac(
    socket: UdpSocket,
    peer: SocketAddr,
    calls: usize,
    parallel: usize,
    deadline: Duration,
) -> io::Result<Stats> {
    let mut ep = Endpoint::new(socket)?;
    let end = Instant::now() + deadline;
    let mut stats = Stats::default();
    let mut started = 0;
    let mut live: HashMap<TxKey, Call> = HashMap::new();
    let mut by_bye: HashMap<TxKey, TxKey> = HashMap::new();
    let sent_by = ep.local.to_string();
    while stats.completed + stats.failed < calls && Instant::now() < end {
        while started < calls && live.len() < parallel {
            let (tag, call_id, branch) = (ep.token(), ep.token(), ep.token());
            let invite = MessageBuilder::request("INVITE", &format!("sip:service@{peer}"))
                .header("Via", format!("SIP/2.0/UDP {sent_by};branch=z9hG4bK{branch};rport"))
                .header("Max-Forwards", "70")
                .header("From", format!("<sip:ocs-uac@{sent_by}>;tag={tag}"))
                .header("To", format!("<sip:service@{peer}>"))
                .header("Call-ID", format!("{call_id}@{sent_by}"))
                .header("CSeq", "1 INVITE")
                .header("Contact", format!("<sip:ocs-uac@{sent_by}>"))
                .body(
                    "application/sdp",
                    b"v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 6002 RTP/AVP 0\r\n",
                )
                .build()
                .map_err(io::Error::other)?;
            let key = ep
                .layer
                .send_request(Instant::now(), invite.clone(), Transport::Unreliable)
                .map_err(io::Error::other)?;
            ep.dest.insert(key, peer);
            live.insert(
                key,
                Call {
                    set: DialogSet::new(invite.clone()),
                    invite,
                    bye: None,
                },
            );
            started += 1;
        }
        ep.flush()?;
        if let Some((m, _)) = ep.turn(Duration::from_millis(20))? {
            ep.layer
                .handle_message(Instant::now(), m, Transport::Unreliable);
        }
        while let Some(ev) = ep.layer.poll_event() {
            match ev {
                TxEvent::Response { key, message } => {
                    let code = message.status().unwrap_or(0);
                    if let Some(invite_key) = by_bye.get(&key).copied() {
                        // The BYE's answer ends the call.
                        if code >= 200 {
                            by_bye.remove(&key);
                            live.remove(&invite_key);
                            if code < 300 {
                                stats.completed += 1;
                            } else {
                                stats.failed += 1;
                            }
                        }
                        continue;
                    }
                    let Some(call) = live.get_mut(&key) else {
                        continue;
                    };
                    let now = Instant::now();
                    let idx = call.set.handle_response(now, &message).ok().flatten();
                    if code >= 300 {
                        live.remove(&key);
                        stats.failed += 1;
                        continue;
                    }
                    if !(200..300).contains(&code) {
                        continue;
                    }
                    let Some(d) = idx.and_then(|i| call.set.dialog_mut(i)) else {
                        continue;
                    };
                    // The ACK for every 2xx (retransmissions too) goes straight out.
                    let ack_branch = format!("z9hG4bK{}a{}", key.0, d.local_seq());
                    if let Ok(ack) = d.ack(&call.invite, &ack_branch, &sent_by).build() {
                        ep.send_raw(&ack, peer)?;
                    }
                    if call.bye.is_none() && d.state() == DialogState::Confirmed {
                        let bye_branch = format!("z9hG4bK{}b", key.0);
                        let bye = d
                            .request("BYE", &bye_branch, &sent_by)
                            .build()
                            .map_err(io::Error::other)?;
                        d.terminate();
                        let bye_key = ep
                            .layer
                            .send_request(now, bye, Transport::Unreliable)
                            .map_err(io::Error::other)?;
                        ep.dest.insert(bye_key, peer);
                        call.bye = Some(bye_key);
                        by_bye.insert(bye_key, key);
                    }
                }
                TxEvent::Timeout { key } | TxEvent::TransportError { key } => {
                    if let Some(invite_key) = by_bye.remove(&key) {
                        live.remove(&invite_key);
                        stats.failed += 1;
                    } else if live.get(&key).is_some_and(|c| c.bye.is_none()) {
                        live.remove(&key);
                        stats.failed += 1;
                    }
                }
                TxEvent::Terminated { key } => {
                    // Send what it still has queued first (see `TxEvent::Terminated`).
                    ep.flush()?;
                    ep.dest.remove(&key);
                }
                _ => {}
            }
        }
        ep.flush()?;
    }
    Ok(stats)
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: sip_peer uas BIND [CALLS] | sip_peer uac BIND PEER [CALLS]";
    let stats = match args.get(1).map(String::as_str) {
        Some("uas") => {
            let socket = UdpSocket::bind(args.get(2).map_or("127.0.0.1:5070", String::as_str))?;
            let calls = args.get(3).and_then(|c| c.parse().ok()).unwrap_or(100);
            println!("UAS on {}", socket.local_addr()?);
            run_uas(socket, calls, Duration::from_secs(600))?
        }
        Some("uac") => {
            let socket = UdpSocket::bind(args.get(2).map_or("127.0.0.1:5071", String::as_str))?;
            let peer: SocketAddr = args
                .get(3)
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| io::Error::other(usage))?;
            let calls = args.get(4).and_then(|c| c.parse().ok()).unwrap_or(100);
            run_uac(socket, peer, calls, 10, Duration::from_secs(600))?
        }
        _ => return Err(io::Error::other(usage)),
    };
    println!(
        "{} calls completed, {} failed",
        stats.completed, stats.failed
    );
    Ok(())
}
