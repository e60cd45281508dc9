//! The registrar (RFC 3261 §10.3): REGISTER authenticated with Digest (RFC 7616) or NTLM
//! ([MS-SIPAE]), bindings with their expiry, GRUUs, the connection each binding registered
//! over, and the `200 OK` held until the store has committed the change.

use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

use super::StoreOp;
use super::core::{Core, Peer, unix};
use crate::sip::digest::{Algorithm, DigestError, DigestServer};
use crate::sip::headers::{Auth, AuthScheme};
use crate::sip::ntlm::TargetInfo;
use crate::sip::sipae::{NtlmSipServer, Verdict};
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

/// The users the registrar knows.
pub trait Directory {
    /// The password of `user` in our domain, if there is such a user.
    fn password(&self, user: &str) -> Option<String>;
}

/// The registrar's state: see the [module documentation](self).
pub(super) struct Registrar {
    digest: DigestServer,
    ntlm: NtlmSipServer,
    bindings: HashMap<String, Vec<Binding>>,
    /// Contact URI → the connection it registered over, for the bindings that have one (an
    /// in-dialog request names the contact, not the AOR).
    pub(super) flows: HashMap<String, Peer>,
    /// The sequence number of the next signed response.
    snum: u32,
}

impl Registrar {
    pub(super) fn new(core: &Core, seed: [u8; 32], now: Instant) -> Registrar {
        let cfg = &core.cfg;
        let netbios = cfg
            .domain
            .split('.')
            .next()
            .unwrap_or("OCS")
            .to_ascii_uppercase();
        Registrar {
            digest: DigestServer::new(&cfg.domain, seed, Duration::from_secs(300), now),
            ntlm: NtlmSipServer::new(&cfg.ntlm_target, TargetInfo::new("OCS", &netbios)),
            bindings: HashMap::new(),
            flows: HashMap::new(),
            snum: 0,
        }
    }

    fn next_snum(&mut self) -> u32 {
        self.snum = self.snum.wrapping_add(1);
        self.snum
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
        // Authentication.
        let mut auth_info = None;
        if !core.cfg.auth.is_empty() {
            match self.authenticate(core, now, key, req, users) {
                Ok((who, info)) => {
                    if !who.eq_ignore_ascii_case(&user)
                        && !who
                            .rsplit('\\')
                            .next()
                            .is_some_and(|u| u.eq_ignore_ascii_case(&user))
                    {
                        return core.reply(now, key, req, 403, "Forbidden");
                    }
                    auth_info = info;
                }
                Err(()) => return,
            }
        }
        // Bindings (RFC 3261 §10.3 steps 6-8).
        let header_expires = req.expires().and_then(Result::ok);
        let call_id = req.call_id().unwrap_or_default().to_owned();
        let cseq = req.cseq().map_or(0, |c| c.seq);
        let contacts: Vec<_> = req.contacts().flatten().collect();
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
                v.push_str(";+sip.instance=");
                v.push_str(i);
            }
            if let Some(g) = bnd.gruu() {
                v.push_str(&format!(";gruu=\"{g}\""));
            }
            b = b.header("Contact", v);
        }
        // [MS-CONMGMT] 2.2.1: a client that offers keep-alives learns ours (hop by hop, every
        // 300 s; no TCP keep-alive needed from it).
        if req.header(HeaderName::MsKeepAlive).is_some() {
            b = b.header(
                "ms-keep-alive",
                "UAS; tcp=no; hop-hop=yes; end-end=no; timeout=300",
            );
        }
        let Ok(mut ok) = b.build() else {
            return core.reply(now, key, req, 500, "Server Internal Error");
        };
        if let Some((opaque, _)) = auth_info
            && let snum = self.next_snum()
            && let Ok(info) = self.ntlm.sign_response(&opaque, &ok, snum)
            && let Ok(signed) = ok.with_header("Authentication-Info", &info)
        {
            ok = signed;
        }
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

    /// Checks the credentials of `req`; on failure answers it (401/403) and returns `Err`.
    /// On success, the user and, for NTLM, the association to sign the response with.
    #[allow(clippy::type_complexity)]
    fn authenticate(
        &mut self,
        core: &mut Core,
        now: Instant,
        key: TxKey,
        req: &Message,
        users: &dyn Directory,
    ) -> Result<(String, Option<(String, ())>), ()> {
        let creds: Vec<Auth<'_>> = req.auth(HeaderName::Authorization).flatten().collect();
        if let Some(a) = creds
            .iter()
            .find(|a| a.scheme() == Some(AuthScheme::Digest))
        {
            let method = req.method().unwrap_or_default();
            match self.digest.verify(now, a, method, |u| users.password(u)) {
                Ok(user) => return Ok((user, None)),
                Err(DigestError::Stale) => {
                    self.challenge(core, now, key, req, true);
                    return Err(());
                }
                Err(_) => {
                    core.reply(now, key, req, 403, "Forbidden");
                    return Err(());
                }
            }
        }
        if creds.iter().any(|a| a.scheme() == Some(AuthScheme::Ntlm))
            && core.cfg.auth.iter().any(|s| s.eq_ignore_ascii_case("NTLM"))
        {
            let challenge = core.unpredictable();
            let opaque = core.token()[..8].to_ascii_uppercase();
            let lookup = |u: &str, _d: &str| {
                users
                    .password(u)
                    .map(|p| crate::sip::ntlm::Credentials::new(u, "", &p).nt_hash())
            };
            return match self.ntlm.handle(
                req,
                HeaderName::Authorization,
                challenge,
                &opaque,
                lookup,
            ) {
                Verdict::Challenge(c) => {
                    core.reply_with(
                        now,
                        key,
                        req,
                        401,
                        "Unauthorized",
                        &[("WWW-Authenticate", c)],
                    );
                    Err(())
                }
                Verdict::Authenticated { opaque, user } | Verdict::Verified { opaque, user } => {
                    Ok((user, Some((opaque, ()))))
                }
                Verdict::Rejected(_) => {
                    core.reply(now, key, req, 403, "Forbidden");
                    Err(())
                }
            };
        }
        self.challenge(core, now, key, req, false);
        Err(())
    }

    fn challenge(&mut self, core: &mut Core, now: Instant, key: TxKey, req: &Message, stale: bool) {
        let mut headers = Vec::new();
        for scheme in core.cfg.auth.clone() {
            if scheme.eq_ignore_ascii_case("Digest") {
                headers.push((
                    "WWW-Authenticate",
                    self.digest.challenge(now, Algorithm::Md5, stale),
                ));
            } else if scheme.eq_ignore_ascii_case("NTLM") {
                headers.push((
                    "WWW-Authenticate",
                    format!(
                        "NTLM realm=\"{}\", targetname=\"{}\", version=3",
                        crate::sip::sipae::REALM,
                        core.cfg.ntlm_target
                    ),
                ));
            }
        }
        core.reply_with(now, key, req, 401, "Unauthorized", &headers);
    }
}
