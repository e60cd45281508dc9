//! In-band provisioning ([MS-SIPREGE] 2.2.2.1, 4.2.2): the `vnd-microsoft-provisioning-v2`
//! SUBSCRIBE a client sends to its own address after signing in, answered at once with the
//! `ServerConfiguration` group. It keeps no state.

use std::time::Instant;

use super::core::Core;
use crate::sip::transaction::TxKey;
use crate::sip::{HeaderName, Message};

/// An in-band provisioning SUBSCRIBE ([MS-SIPREGE] 2.2.2.1): to the user's own AOR,
/// `Event: vnd-microsoft-provisioning-v2`.
pub(super) fn is_provisioning(core: &Core, req: &Message) -> bool {
    let event = req.event().and_then(Result::ok);
    event.is_some_and(|e| {
        e.value
            .eq_ignore_ascii_case("vnd-microsoft-provisioning-v2")
    }) && core.request_uri_host_is_us(req)
}

/// Answers in-band provisioning as [MS-SIPREGE] 4.2.2 shows: a `200 OK` carrying the
/// provisioning groups, the subscription terminated at once (`Expires: 0`). The
/// `ServerConfiguration` group gives the Address Book Server's URL, the user's focus
/// factory and the peer-to-peer A/V policy (encryption supported, no port range).
pub(super) fn answer(core: &mut Core, now: Instant, key: TxKey, req: &Message) {
    let accept_ok = req.values(HeaderName::Accept).next().is_none()
        || req.values(HeaderName::Accept).any(|(v, _)| {
            v.trim()
                .eq_ignore_ascii_case("application/vnd-microsoft-roaming-provisioning-v2+xml")
        });
    if !accept_ok {
        return core.reply(now, key, req, 406, "Not Acceptable");
    }
    let user = req
        .to()
        .ok()
        .and_then(|t| t.uri.as_sip().and_then(|s| s.user.map(str::to_owned)));
    let Some(user) = user else {
        return core.reply(now, key, req, 400, "Bad Request");
    };
    // One's own provisioning only (the engine has checked that From is the sender).
    let from = req
        .from()
        .ok()
        .and_then(|f| f.uri.as_sip().and_then(|s| s.user.map(str::to_owned)));
    if core.security.enabled && !from.is_some_and(|f| f.eq_ignore_ascii_case(&user)) {
        return core.forbid(key, req, "provisioning of another user");
    }
    let domain = &core.cfg.domain;
    let abs = core.cfg.abs_url.clone().unwrap_or_default();
    let body = format!(
        "<provisionGroupList xmlns=\"http://schemas.microsoft.com/2006/09/sip/provisiongrouplist-notification\">\
         <provisionGroup name=\"ServerConfiguration\">\
         <absInternalServerUrl>{abs}</absInternalServerUrl>\
         <absExternalServerUrl>{abs}</absExternalServerUrl>\
         <organization>{domain}</organization>\
         <focusFactoryUri>sip:{user}@{domain};gruu;opaque=app:conf:focusfactory</focusFactoryUri>\
         <ucPC2PCAVEncryption>SupportEncryption</ucPC2PCAVEncryption>\
         <ucPortRangeEnabled>false</ucPortRangeEnabled>\
         </provisionGroup></provisionGroupList>"
    );
    let tag = core.token();
    let cseq = req.cseq().map_or(1, |c| c.seq);
    let Ok(ok) = req
        .response(200, "OK", &tag)
        .header("Expires", 0)
        .header("Event", "vnd-microsoft-provisioning-v2")
        .header("subscription-state", "terminated;expires=0")
        .header("ms-piggyback-cseq", cseq)
        .header("Supported", "ms-benotify, ms-piggyback-first-notify")
        .body(
            "application/vnd-microsoft-roaming-provisioning-v2+xml",
            body.as_bytes(),
        )
        .build()
    else {
        return core.reply(now, key, req, 500, "Server Internal Error");
    };
    let _ = core.layer.respond(now, key, ok);
}
