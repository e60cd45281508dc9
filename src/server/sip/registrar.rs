//! The registrar (RFC 3261 §10.3): REGISTER authenticated with Digest (RFC 7616) or NTLM
//! ([MS-SIPAE]), bindings with their expiry, GRUUs, the connection each binding registered
//! over, and the `200 OK` held until the store has committed the change.

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use super::StoreOp;
use super::core::{Core, Peer, unix};
use super::security;
use crate::sip::digest::Algorithm;
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};

/// One registered contact ([RFC 3261 §10.3]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The address of record, `sip:user@domain`.
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// `+sip.instance`, if the UA gave one.
    pub instance: Option<String>,
    /// Seconds since the Unix epoch at which it ends.
    pub expires_at: u64,
    /// The REGISTER's Call-ID and CSeq (for ordering refreshes).
    pub call_id: String,
    /// CSeq number.
    pub cseq: u32,
    /// The connection it registered over, for connection-oriented clients (not persisted).
    pub flow: Option<Peer>,
    /// The proxies a request to it goes through, top first (RFC 3327 `Path`): those the
    /// REGISTER came through, and in a pool the front end that holds its flow, on top.
    pub path: Vec<String>,
}

impl Binding {
    /// The GRUU of an instance, as OCS writes it: the AOR with `;opaque=user:epid:<id>;gruu`.
    #[must_use]
    pub fn gruu(&self) -> Option<String> {
        let instance = self.instance.as_deref()?;
        let id: String = instance
            .trim_matches(|c| c == '"' || c == '<' || c == '>')
            .trim_start_matches("urn:uuid:")
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        Some(format!("{};opaque=user:epid:{id};gruu", self.aor))
    }
}

/// The users the server authenticates, by what it keeps of their passwords (never the
/// passwords: [`crate::server::store::Secrets`]).
pub trait Directory {
    /// H(user:realm:password) of `user` for `realm` with the plain `algorithm` (Digest,
    /// RFC 7616 §3.4.2), hex; `None` for no such user (or another realm).
    fn digest_ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<String>;
    /// The NT hash of `user`'s password (NTLM, [MS-NLMP] 3.3.1).
    fn nt_hash(&self, user: &str) -> Option<[u8; 16]>;
    /// The users' names, for a directory search (`directorySearch`); none by default.
    fn users(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Users known by clear password (tests, examples): a [`Directory`] that hashes on demand.
pub trait ClearPasswords {
    /// The password of `user` in our domain, if there is such a user.
    fn password(&self, user: &str) -> Option<String>;
    /// Every user's name (for [`Directory::users`]); none by default.
    fn names(&self) -> Vec<String> {
        Vec::new()
    }
}

impl<T: ClearPasswords> Directory for T {
    fn digest_ha1(&self, user: &str, realm: &str, algorithm: Algorithm) -> Option<String> {
        self.password(user)
            .map(|p| crate::sip::digest::ha1(algorithm, user, realm, &p))
    }

    fn nt_hash(&self, user: &str) -> Option<[u8; 16]> {
        self.password(user)
            .map(|p| crate::sip::ntlm::Credentials::new(user, "", &p).nt_hash())
    }

    fn users(&self) -> Vec<String> {
        self.names()
    }
}

/// The longest contact URI a binding keeps (bytes).
const MAX_CONTACT: usize = 1024;
/// The longest `+sip.instance` kept.
const MAX_INSTANCE: usize = 256;
/// At most this many Path values (RFC 3327) per registration, each at most 512 bytes.
const MAX_PATH: usize = 4;

/// The Path a REGISTER brought is the proxies in front of us: a few plain name-addrs, none
/// of them naming us or another front end of our pool (that would make requests to the user
/// go round between us). The `Warning` value when it is not.
fn check_path(core: &Core, path: &[String]) -> Result<(), String> {
    let warn = |what: &str| format!("399 {} \"Path: {what}\"", core.cfg.ntlm_target);
    if path.len() > MAX_PATH {
        return Err(warn("more than four proxies"));
    }
    for v in path {
        if v.len() > 512 || v.bytes().any(|b| b < 0x20 || b == 0x7f) {
            return Err(warn("a value too long or with control characters"));
        }
        let Ok(n) = crate::sip::headers::NameAddr::parse(v) else {
            return Err(warn("a value that is not a name-addr"));
        };
        let names_pool = n.uri.as_sip().is_some_and(|s| {
            let port = s.port.unwrap_or(5060);
            core.is_our_addr(&s.host, port)
                || s.host.ip().is_some_and(|ip| {
                    core.pool
                        .as_ref()
                        .is_some_and(|p| p.is_node(std::net::SocketAddr::new(ip, port)))
                })
        });
        if names_pool {
            return Err(warn("a value naming this pool"));
        }
    }
    Ok(())
}

/// The registrar's state: see the [module documentation](self).
pub(super) struct Registrar {
    bindings: HashMap<String, Vec<Binding>>,
    /// Contact URI → the connection it registered over, for the bindings that have one (an
    /// in-dialog request names the contact, not the AOR).
    pub(super) flows: HashMap<String, Peer>,
}

/// The event packages this server serves, for `Allow-Events` ([MS-SIPREGE] 2.2.1.5; written
/// without spaces: pidgin-sipe splits the list on bare commas).
pub(super) const ALLOW_EVENTS: &str = "presence,vnd-microsoft-roaming-contacts,vnd-microsoft-roaming-self,vnd-microsoft-provisioning-v2,presence.wpending,conference";

impl Registrar {
    pub(super) fn new() -> Registrar {
        Registrar {
            bindings: HashMap::new(),
            flows: HashMap::new(),
        }
    }

    /// Loads a binding from the store at start-up (expired ones are skipped).
    pub(super) fn load_binding(&mut self, b: Binding, wall: SystemTime) {
        if b.expires_at > unix(wall) {
            self.bindings.entry(b.aor.clone()).or_default().push(b);
        }
    }

    /// The live bindings of `aor` at `wall`.
    pub(super) fn bindings(&self, aor: &str, wall: SystemTime) -> Vec<&Binding> {
        let now = unix(wall);
        self.bindings
            .get(aor)
            .map(|v| v.iter().filter(|b| b.expires_at > now).collect())
            .unwrap_or_default()
    }

    /// Whether a live binding of `aor` is at `addr` (its flow's address, or its contact's):
    /// the one case where the proxy sends a request to an address rather than a user of ours
    /// (an in-dialog request to the remote target).
    pub(super) fn reaches(&self, aor: &str, addr: std::net::SocketAddr, wall: SystemTime) -> bool {
        self.bindings(aor, wall).into_iter().any(|b| {
            b.flow.is_some_and(|f| f.addr() == addr)
                || crate::sip::uri::Uri::parse(&b.contact)
                    .ok()
                    .and_then(|u| super::proxy::target_of(&u))
                    .is_some_and(|(a, _)| a == addr)
        })
    }

    /// A binding the pool's store announced, stored (`Some`) or deleted, in commit order:
    /// what the store holds is the truth, our own writes included. A binding whose Path has
    /// `own` (our pool URI) on top is ours: it goes over the flow we hold for its contact,
    /// which an announcement never takes away (only our own REGISTERs and expiry do).
    pub(super) fn remote(&mut self, own: &str, aor: &str, contact: &str, b: Option<Binding>) {
        match b {
            Some(mut b) => {
                b.flow = if b.path.first().is_some_and(|top| top == own) {
                    self.flows.get(&b.contact).copied()
                } else {
                    None
                };
                let v = self.bindings.entry(b.aor.clone()).or_default();
                v.retain(|x| x.contact != b.contact);
                v.push(b);
            }
            None => {
                if let Some(v) = self.bindings.get_mut(aor) {
                    v.retain(|x| x.contact != contact);
                }
            }
        }
    }

    /// How many bindings are live at `wall` (a pass over every user: for the metrics, once a
    /// second).
    pub(super) fn live(&self, wall: SystemTime) -> usize {
        let now = unix(wall);
        self.bindings
            .values()
            .map(|v| v.iter().filter(|b| b.expires_at > now).count())
            .sum()
    }

    /// Whether `aor` ever registered (480 rather than 404 when it has no live binding).
    pub(super) fn knows(&self, aor: &str) -> bool {
        self.bindings.contains_key(aor)
    }

    /// A REGISTER: authenticated, bindings updated, the 200 held until they are stored.
    pub(super) fn register(
        &mut self,
        core: &mut Core,
        now: Instant,
        wall: SystemTime,
        key: TxKey,
        req: &Message,
        users: &dyn Directory,
    ) {
        let Some(Ok(ruri)) = req.request_uri() else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        let ours = ruri.as_sip().is_some_and(|s| core.is_us(&s.host, s.port));
        if !ours {
            return core.reply(now, key, req, 404, "Not Found");
        }
        let Ok(to) = req.to() else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        let Some((user, to_ours)) = to
            .uri
            .as_sip()
            .and_then(|s| Some((s.user?.to_owned(), core.is_us(&s.host, s.port))))
        else {
            return core.reply(now, key, req, 400, "Bad Request");
        };
        if !to_ours {
            return core.reply(now, key, req, 404, "Not Found");
        }
        let aor = format!("sip:{user}@{}", core.cfg.domain);
        // RFC 3327: the proxies the REGISTER came through; in a pool, this front end (which
        // holds the flow) goes on top, for the other nodes.
        let received_path: Vec<String> = req
            .values(HeaderName::Path)
            .map(|(v, _)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        if let Err(why) = check_path(core, &received_path) {
            return core.refuse(key, req, 400, "Bad Request", &[("Warning", why)]);
        }
        // Authentication: the credentials' user must be the To's.
        if core.security.enabled {
            let Some(who) = security::authenticate(core, now, key, req, users, true) else {
                return;
            };
            if !who.user.eq_ignore_ascii_case(&user) {
                tracing::warn!(user = %who.user, to = %user, "REGISTER for another user");
                return core.forbid(key, req, "credentials of another user");
            }
        }
        // Bindings (RFC 3261 §10.3 steps 6-8).
        let header_expires = req.expires().and_then(Result::ok);
        let call_id = req.call_id().unwrap_or_default().to_owned();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let contacts: Vec<_> = req.contacts().flatten().collect();
        let path: Vec<String> = core
            .pool
            .as_ref()
            .map(|p| p.uri.clone())
            .into_iter()
            .chain(received_path.iter().cloned())
            .collect();
        let mut ops = Vec::new();
        let wildcard = contacts
            .iter()
            .any(|c| matches!(c, crate::sip::headers::Contact::Wildcard));
        let now_s = unix(wall);
        if wildcard {
            if contacts.len() != 1 || header_expires != Some(0) {
                return core.reply(now, key, req, 400, "Bad Request");
            }
            for b in self.bindings.remove(&aor).unwrap_or_default() {
                self.flows.remove(&b.contact);
                ops.push(StoreOp::Unbind {
                    aor: aor.clone(),
                    contact: b.contact,
                });
            }
        } else {
            let existing = self.bindings.entry(aor.clone()).or_default();
            let flows = &mut self.flows;
            existing.retain(|b| {
                let live = b.expires_at > now_s;
                if !live {
                    flows.remove(&b.contact);
                }
                live
            });
            let mut changes: Vec<(String, Option<Binding>)> = Vec::new();
            for c in &contacts {
                let Some(addr) = c.address() else { continue };
                let uri = addr.uri.to_string();
                // What is stored and announced to the pool stays small and plain.
                let instance_len = c.sip_instance().map_or(0, str::len);
                if uri.len() > MAX_CONTACT || instance_len > MAX_INSTANCE {
                    let why = format!(
                        "399 {} \"a contact longer than {MAX_CONTACT} bytes or an instance longer than {MAX_INSTANCE}\"",
                        core.cfg.ntlm_target
                    );
                    return core.refuse(key, req, 400, "Bad Request", &[("Warning", why)]);
                }
                let expires = c
                    .expires()
                    .and_then(Result::ok)
                    .or(header_expires)
                    .unwrap_or(3600);
                if expires != 0 && expires < core.cfg.min_expires {
                    let min = core.cfg.min_expires.to_string();
                    return core.reply_with(
                        now,
                        key,
                        req,
                        423,
                        "Interval Too Brief",
                        &[("Min-Expires", min)],
                    );
                }
                if let Some(old) = existing.iter().find(|b| b.contact == uri)
                    && old.call_id == call_id
                    && cseq <= old.cseq
                {
                    return core.reply(now, key, req, 500, "Server Internal Error");
                }
                let binding = (expires != 0).then(|| Binding {
                    aor: aor.clone(),
                    contact: uri.clone(),
                    instance: c.sip_instance().map(str::to_owned),
                    expires_at: now_s + u64::from(expires.min(core.cfg.max_expires)),
                    call_id: call_id.clone(),
                    cseq,
                    flow: core
                        .peers
                        .get(&key)
                        .copied()
                        .filter(|p| matches!(p, Peer::Stream { .. })),
                    path: path.clone(),
                });
                changes.push((uri, binding));
            }
            for (uri, binding) in changes {
                existing.retain(|b| b.contact != uri);
                match binding.as_ref().and_then(|b| b.flow) {
                    Some(flow) => self.flows.insert(uri.clone(), flow),
                    None => self.flows.remove(&uri),
                };
                match binding {
                    Some(b) => {
                        existing.push(b.clone());
                        ops.push(StoreOp::Bind(b));
                    }
                    None => ops.push(StoreOp::Unbind {
                        aor: aor.clone(),
                        contact: uri,
                    }),
                }
            }
        }
        // The 200 lists every current binding.
        let tag = core.token();
        let mut b = req.response(200, "OK", &tag);
        let live: Vec<Binding> = self.bindings(&aor, wall).into_iter().cloned().collect();
        for bnd in &live {
            let mut v = format!(
                "<{}>;expires={}",
                bnd.contact,
                bnd.expires_at.saturating_sub(now_s)
            );
            if let Some(i) = &bnd.instance {
                // A quoted string (RFC 5626 §4.1: `<` and `>` are not token characters).
                let i = i.trim_matches('"');
                v.push_str(&format!(";+sip.instance=\"{i}\""));
            }
            if let Some(g) = bnd.gruu() {
                v.push_str(&format!(";gruu=\"{g}\""));
            }
            b = b.header("Contact", v);
        }
        // RFC 3327 §5.3: the Path stored is returned.
        for p in &received_path {
            b = b.header("Path", p);
        }
        // [MS-CONMGMT] 2.2.1: a client that offers keep-alives learns ours (hop by hop, every
        // 300 s; no TCP keep-alive needed from it).
        if req.header(HeaderName::MsKeepAlive).is_some() {
            b = b.header(
                "ms-keep-alive",
                "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300",
            );
        }
        // What OCS 2007 says of itself ([MS-SIPREGE] 2.2.1.5): the registration's expiry as a
        // header (pidgin-sipe reads only that), one `Supported` line per extension (it compares
        // whole values: `msrtc-event-categories` means OCS 2007 presence, `adhoclist` batched
        // subscriptions), and the event packages served.
        let granted = live
            .iter()
            .filter(|bnd| {
                contacts.iter().any(|c| {
                    c.address()
                        .is_some_and(|a| a.uri.to_string() == bnd.contact)
                })
            })
            .map(|bnd| bnd.expires_at.saturating_sub(now_s))
            .max()
            .unwrap_or(0);
        b = b
            .header("Expires", granted)
            .header("Supported", "msrtc-event-categories")
            .header("Supported", "adhoclist")
            .header("Allow-Events", ALLOW_EVENTS);
        let Ok(ok) = b.build() else {
            return core.reply(now, key, req, 500, "Server Internal Error");
        };
        core.stats.registered += 1;
        if ops.is_empty() {
            let _ = core.layer.respond(now, key, ok);
            return;
        }
        let mut ticket = 0;
        for op in ops {
            ticket = core.store(op);
        }
        core.hold(ticket, key, ok);
    }
}
