//! The stateful forking proxy (RFC 3261 §16): the targets of a request (the registrar's
//! bindings of a user of ours, else the Request-URI), one client transaction per branch with
//! the request rewritten by `ocs-sip-codec`'s [`proxy`](crate::sip::proxy) functions, the best
//! response going up (every 2xx at once), CANCEL of the other branches, 2xx ACKs forwarded
//! without state, and stray responses relayed by their next Via.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Instant, SystemTime};

use super::core::{Core, Peer};
use super::registrar::Registrar;
use crate::sip::Message;
use crate::sip::proxy::{self as rules, Branch};
use crate::sip::transaction::TxKey;
use crate::sip::uri::{Host, Uri};

/// A request we forward, and what came back on its branches.
#[derive(Debug)]
struct Forward {
    /// The client transactions, with the request each sent and whether it ended.
    branches: Vec<(TxKey, Message, bool)>,
    /// The best final response so far.
    best: Option<Message>,
    /// A 2xx went up: the rest are done.
    answered: bool,
}

/// The proxy's state: see the [module documentation](self).
#[derive(Debug, Default)]
pub(super) struct Proxy {
    forwards: HashMap<TxKey, Forward>,
    /// Client transaction → the server transaction it serves.
    branch_of: HashMap<TxKey, TxKey>,
    /// The caller of each INVITE forwarded lately, by Call-ID: where a 2xx retransmitted after
    /// the forward ended may still go (§16.7 step 10). Nothing else is relayed without state.
    callers: HashMap<String, (Peer, Instant)>,
}

/// How long a forwarded INVITE's caller is remembered for late 2xx (64·T1).
const CALLER_MEMORY: std::time::Duration = std::time::Duration::from_secs(32);
/// At most this many remembered callers.
const MAX_CALLERS: usize = 100_000;

/// Where a request goes on one branch: its Request-URI, the next hop, and the Route values
/// pushed on top (the target's Path without us).
struct Target {
    uri: String,
    peer: Peer,
    route: Vec<String>,
}

/// Where a SIP URI points: its host (an address), port and transport.
pub(super) fn target_of(uri: &Uri<'_>) -> Option<(SocketAddr, bool)> {
    let s = uri.as_sip()?;
    let ip = match s.host {
        Host::Ipv4(a) => std::net::IpAddr::V4(a),
        Host::Domain(d) if d.eq_ignore_ascii_case("localhost") => {
            std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST)
        }
        Host::Ipv6(a) => a.parse().ok()?,
        Host::Domain(_) => return None,
    };
    let tcp = s
        .params
        .value("transport")
        .is_some_and(|t| t.eq_ignore_ascii_case("tcp") || t.eq_ignore_ascii_case("tls"));
    Some((SocketAddr::new(ip, s.port.unwrap_or(5060)), tcp))
}

impl Proxy {
    /// A client transaction of ours ended: forget which forward it served.
    pub(super) fn terminated(&mut self, key: TxKey) {
        self.branch_of.remove(&key);
    }

    /// The next hop for a route entry: another front end of our pool over our link to it,
    /// else the address its URI names (UDP). `None`: a pool node we hold no link to.
    fn next_hop(core: &Core, uri: &Uri<'_>) -> Option<Peer> {
        let (addr, _tcp) = target_of(uri)?;
        match &core.pool {
            Some(p) if p.is_node(addr) => p.link_to(addr),
            _ => Some(Peer::Udp(addr)),
        }
    }

    /// The targets of a request: the Request-URI's registered contacts when it names a user of
    /// ours (each reached through its Path, RFC 3327), else the Request-URI itself (through
    /// the next node of our pool when its route set names one).
    fn targets(
        core: &Core,
        registrar: &Registrar,
        req: &Message,
        wall: SystemTime,
    ) -> Result<Vec<Target>, (u16, &'static str)> {
        let Some(Ok(uri)) = req.request_uri() else {
            return Err((400, "Bad Request"));
        };
        let sip = uri.as_sip().ok_or((416, "Unsupported URI Scheme"))?;
        let is_ours = |u: &Uri<'_>| {
            u.as_sip()
                .is_some_and(|s| core.is_our_addr(&s.host, s.port.unwrap_or(5060)))
        };
        if core.is_us(&sip.host, sip.port) {
            let user = sip.user.ok_or((404, "Not Found"))?;
            let aor = format!("sip:{user}@{}", core.cfg.domain);
            // A GRUU reaches one instance.
            let epid = sip
                .params
                .value("opaque")
                .and_then(|o| o.strip_prefix("user:epid:"));
            let found: Vec<Target> = registrar
                .bindings(&aor, wall)
                .into_iter()
                .filter(|b| epid.is_none_or(|e| b.gruu().is_some_and(|g| g.contains(e))))
                .filter_map(|b| {
                    // The Path without the entries naming us (we are the node on top of
                    // what we registered ourselves).
                    let route: Vec<String> = b
                        .path
                        .iter()
                        .skip_while(|p| {
                            crate::sip::headers::NameAddr::parse(p).is_ok_and(|n| is_ours(&n.uri))
                        })
                        .cloned()
                        .collect();
                    let peer = match route.first() {
                        Some(top) => {
                            let n = crate::sip::headers::NameAddr::parse(top).ok()?;
                            Self::next_hop(core, &n.uri)?
                        }
                        None => b.flow.or_else(|| {
                            Uri::parse(&b.contact)
                                .ok()
                                .and_then(|u| target_of(&u))
                                .map(|(addr, _tcp)| Peer::Udp(addr))
                        })?,
                    };
                    Some(Target {
                        uri: b.contact.clone(),
                        peer,
                        route,
                    })
                })
                .collect();
            if found.is_empty() {
                return Err(if registrar.knows(&aor) {
                    (480, "Temporarily Unavailable")
                } else {
                    (404, "Not Found")
                });
            }
            return Ok(found);
        }
        // An in-dialog request whose route set goes on through another node of our pool.
        if core.pool.is_some() {
            let next = req
                .routes()
                .filter_map(Result::ok)
                .find(|r| !is_ours(&r.uri));
            if let Some(next) = next
                && let Some((addr, _)) = target_of(&next.uri)
                && let Some(link) = core.pool.as_ref().and_then(|p| p.link_to(addr))
            {
                return Ok(vec![Target {
                    uri: uri.to_string(),
                    peer: link,
                    route: Vec::new(),
                }]);
            }
        }
        let (addr, _tcp) = target_of(&uri).ok_or((403, "Forbidden"))?;
        // Not an open relay: an address is a target for a request from a user of ours (with
        // authentication on, the engine has checked that From), or for one to a registered
        // contact of the To user of ours (the remote target of a dialog with them).
        let ours = |n: Result<crate::sip::headers::NameAddr<'_>, _>| {
            n.ok().and_then(|t| {
                let s = t.uri.as_sip()?;
                core.is_us(&s.host, s.port)
                    .then(|| format!("sip:{}@{}", s.user.unwrap_or_default(), core.cfg.domain))
            })
        };
        let from_ours = ours(req.from()).is_some();
        if !from_ours && !ours(req.to()).is_some_and(|aor| registrar.reaches(&aor, addr, wall)) {
            tracing::warn!(target = %uri, "relaying refused");
            return Err((403, "Forbidden"));
        }
        // A contact of ours reached over its registration flow, if it has one.
        let uri = uri.to_string();
        let peer = registrar
            .flows
            .get(&uri)
            .copied()
            .unwrap_or(Peer::Udp(addr));
        Ok(vec![Target {
            uri,
            peer,
            route: Vec::new(),
        }])
    }

    /// The request rewritten for one branch (RFC 3261 §16.6): Record-Route added for
    /// dialog-creating requests — twice between two transports (RFC 5658), the callee's side
    /// on top, so that each end reaches us over its own transport.
    fn rewrite(
        core: &mut Core,
        req: &Message,
        target: &Target,
        from: Option<&Peer>,
    ) -> Option<Message> {
        let peer = &target.peer;
        let via = core.our_via(peer);
        let mut record_route = Vec::new();
        if matches!(req.method(), Some("INVITE" | "SUBSCRIBE" | "REFER"))
            && let Some(rr) = core.record_route(peer)
        {
            // Twice when the two sides reach us at different addresses (another transport,
            // or the pool on one side).
            let rr_in = from.and_then(|f| core.record_route(f)).filter(|r| *r != rr);
            record_route.push(rr);
            record_route.extend(rr_in);
        }
        let rr: Vec<&str> = record_route.iter().map(String::as_str).collect();
        let route: Vec<&str> = target.route.iter().map(String::as_str).collect();
        let branch = Branch {
            target: &target.uri,
            via: &via,
            record_route: &rr,
            route: &route,
        };
        let is_ours = |u: &Uri<'_>| {
            u.as_sip()
                .is_some_and(|s| core.is_our_addr(&s.host, s.port.unwrap_or(5060)))
        };
        rules::forward(req, &branch, is_ours).ok()
    }

    /// A request for somewhere else: forwarded on every target (§16).
    pub(super) fn forward(
        &mut self,
        core: &mut Core,
        registrar: &Registrar,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: Message,
    ) {
        if req.max_forwards().and_then(Result::ok) == Some(0) {
            return core.reply(now, key, &req, 483, "Too Many Hops");
        }
        // A request that already went through us on this branch is a loop (§16.3 step 4).
        let top_branch = req.top_via().ok().and_then(|t| t.branch());
        let looped = req.via().flatten().skip(1).any(|v| {
            v.port.is_some_and(|p| core.is_our_addr(&v.host, p)) && v.branch() == top_branch
        });
        if looped {
            return core.reply(now, key, &req, 482, "Loop Detected");
        }
        let targets = match Self::targets(core, registrar, &req, wall) {
            Ok(t) => t,
            Err((code, reason)) => return core.reply(now, key, &req, code, reason),
        };
        self.branch_out(core, now, key, req, targets);
    }

    /// A request for a conference another front end of the pool owns: forwarded to it over
    /// the link, its pool URI as Route (480 while there is no link to it).
    pub(super) fn forward_to_node(
        &mut self,
        core: &mut Core,
        now: Instant,
        key: TxKey,
        req: Message,
        node: SocketAddr,
    ) {
        if req.max_forwards().and_then(Result::ok) == Some(0) {
            return core.reply(now, key, &req, 483, "Too Many Hops");
        }
        let Some(link) = core.pool.as_ref().and_then(|p| p.link_to(node)) else {
            return core.reply(now, key, &req, 480, "Temporarily Unavailable");
        };
        let Some(Ok(uri)) = req.request_uri() else {
            return core.reply(now, key, &req, 400, "Bad Request");
        };
        let target = Target {
            uri: uri.to_string(),
            peer: link,
            route: vec![super::pool::pool_uri(node)],
        };
        self.branch_out(core, now, key, req, vec![target]);
    }

    /// One client transaction per target (§16.6), the forward remembered for the answers.
    fn branch_out(
        &mut self,
        core: &mut Core,
        now: Instant,
        key: TxKey,
        req: Message,
        targets: Vec<Target>,
    ) {
        let mut branches = Vec::new();
        for target in targets {
            let inbound = core.peers.get(&key).copied();
            let Some(fwd) = Self::rewrite(core, &req, &target, inbound.as_ref()) else {
                continue;
            };
            if let Some(ck) = core.originate(now, fwd.clone(), target.peer) {
                self.branch_of.insert(ck, key);
                branches.push((ck, fwd, false));
                core.stats.forwarded += 1;
            }
        }
        if branches.is_empty() {
            return core.reply(now, key, &req, 503, "Service Unavailable");
        }
        if req.method() == Some("INVITE")
            && let (Ok(call), Some(&caller)) = (req.call_id(), core.peers.get(&key))
        {
            if self.callers.len() >= MAX_CALLERS {
                self.callers
                    .retain(|_, (_, at)| now.duration_since(*at) < CALLER_MEMORY);
            }
            if self.callers.len() < MAX_CALLERS {
                self.callers.insert(call.to_owned(), (caller, now));
            }
        }
        self.forwards.insert(
            key,
            Forward {
                branches,
                best: None,
                answered: false,
            },
        );
    }

    /// A response on one of our client transactions.
    pub(super) fn response(&mut self, core: &mut Core, now: Instant, ck: TxKey, resp: Message) {
        let Some(&sk) = self.branch_of.get(&ck) else {
            return;
        };
        let code = resp.status().unwrap_or(0);
        if code == 100 {
            return;
        }
        let Ok(up) = rules::strip_top_via(&resp) else {
            return;
        };
        let Some(f) = self.forwards.get_mut(&sk) else {
            // The forward is over; a 2xx retransmission still goes up statelessly.
            if (200..300).contains(&code) {
                self.stray_response(core, now, resp);
            }
            return;
        };
        if code < 200 {
            let _ = core.layer.respond(now, sk, up);
            return;
        }
        if let Some(b) = f.branches.iter_mut().find(|b| b.0 == ck) {
            b.2 = true;
        }
        if (200..300).contains(&code) {
            f.answered = true;
            // Every 2xx goes up (§16.7 step 5); the other branches are cancelled.
            let _ = core.layer.respond(now, sk, up);
            self.cancel_branches(core, now, sk);
        } else if f
            .best
            .as_ref()
            .is_none_or(|b| rules::beats(code, b.status().unwrap_or(0)))
        {
            f.best = Some(up);
        }
        self.finish_if_done(core, now, sk);
    }

    fn finish_if_done(&mut self, core: &mut Core, now: Instant, sk: TxKey) {
        let Some(f) = self.forwards.get(&sk) else {
            return;
        };
        if !f.branches.iter().all(|b| b.2) {
            return;
        }
        if let Some(f) = self.forwards.remove(&sk)
            && !f.answered
            && let Some(best) = f.best
        {
            let _ = core.layer.respond(now, sk, best);
        }
    }

    /// A branch gave up (timeout, transport error): it counts as a 408 (§16.7 step 2).
    pub(super) fn branch_failed(&mut self, core: &mut Core, now: Instant, ck: TxKey, code: u16) {
        let Some(&sk) = self.branch_of.get(&ck) else {
            return;
        };
        let Some(f) = self.forwards.get_mut(&sk) else {
            return;
        };
        let Some(b) = f.branches.iter_mut().find(|b| b.0 == ck) else {
            return;
        };
        b.2 = true;
        if f.best
            .as_ref()
            .is_none_or(|r| rules::beats(code, r.status().unwrap_or(0)))
            && let Some(upreq) = core.layer.request(sk).cloned()
            && let Ok(r) = upreq.response(code, "Request Timeout", "").build()
        {
            f.best = Some(r);
        }
        self.finish_if_done(core, now, sk);
    }

    /// CANCEL every unfinished INVITE branch of the forward served by `sk` (§16.10).
    pub(super) fn cancel_branches(&mut self, core: &mut Core, now: Instant, sk: TxKey) {
        let Some(f) = self.forwards.get(&sk) else {
            return;
        };
        for (ck, req, _) in f.branches.iter().filter(|b| !b.2) {
            let Ok(cancel) = rules::cancel(req) else {
                continue;
            };
            if let Some(&peer) = core.peers.get(ck) {
                core.originate(now, cancel, peer);
            }
        }
    }

    /// An ACK outside a transaction: forwarded without state if it is for an INVITE we
    /// forwarded (its 2xx's ACK, RFC 3261 §16.6); an ACK nobody asked for (an attacker's,
    /// or for a challenge answered statelessly) goes nowhere.
    pub(super) fn forward_ack(
        &self,
        core: &mut Core,
        registrar: &Registrar,
        wall: SystemTime,
        ack: Message,
    ) {
        if ack.call_id().is_ok_and(|c| self.callers.contains_key(c)) {
            Self::forward_stateless(core, registrar, wall, ack);
        }
    }

    /// A request outside a transaction forwarded without state.
    pub(super) fn forward_stateless(
        core: &mut Core,
        registrar: &Registrar,
        wall: SystemTime,
        req: Message,
    ) {
        let Ok(targets) = Self::targets(core, registrar, &req, wall) else {
            return;
        };
        if let Some(target) = targets.into_iter().next()
            && let Some(fwd) = Self::rewrite(core, &req, &target, None)
        {
            core.stats.forwarded += 1;
            core.send(target.peer, fwd.to_bytes());
        }
    }

    /// A response for no transaction of ours: a 2xx to an INVITE we forwarded lately goes to
    /// that caller (the next Via must be its address); anything else is dropped — a response
    /// is never relayed to an address only its Via names.
    pub(super) fn stray_response(&mut self, core: &mut Core, now: Instant, resp: Message) {
        let code = resp.status().unwrap_or(0);
        let invite = resp.cseq().is_ok_and(|c| c.method == "INVITE");
        let Some(&(caller, at)) = resp.call_id().ok().and_then(|c| self.callers.get(c)) else {
            return;
        };
        if !(200..300).contains(&code) || !invite || now.duration_since(at) >= CALLER_MEMORY {
            return;
        }
        let Ok(up) = rules::strip_top_via(&resp) else {
            return;
        };
        let Ok(via) = up.top_via() else {
            return;
        };
        let named = via
            .received()
            .and_then(|r| r.parse::<std::net::IpAddr>().ok())
            .or(match via.host {
                Host::Ipv4(a) => Some(std::net::IpAddr::V4(a)),
                _ => None,
            });
        if named.is_some_and(|ip| ip != caller.addr().ip()) {
            return;
        }
        core.send(caller, up.to_bytes());
    }
}
