//! Microsoft-dialect messages from `../shared/vectors/sip/ms/`: every header of every file
//! typed, and the [MS-SIPAE] signature input of a captured OCS 2007 R2 message.

mod common;

use ocs_sip_codec::headers::{AuthScheme, TypedValue};
use ocs_sip_codec::sign::{SignatureContext, signature_input};
use ocs_sip_codec::uri::Uri;
use ocs_sip_codec::{HeaderName, Message};

fn files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(common::sip_vectors().join("ms"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sip"))
        .collect();
    v.sort();
    assert!(
        v.len() >= 6,
        "expected the Microsoft example messages, found {v:?}"
    );
    v
}

#[test]
fn every_header_of_every_file_is_typed() {
    for f in files() {
        let m =
            Message::parse(common::read(&format!("ms/{f}"))).unwrap_or_else(|e| panic!("{f}: {e}"));
        let mut typed = 0;
        for (h, r) in m.typed_headers() {
            r.unwrap_or_else(|e| panic!("{f}: {}: {e}", h.name));
            typed += 1;
        }
        let known = m.headers().filter(|h| h.kind != HeaderName::Other).count();
        assert!(typed >= known, "{f}: {typed} typed of {known} known");
        // Only the transcribed 401 is incomplete (no Via); the others pass strict validation.
        if !f.contains("PARTIAL") {
            m.validate().unwrap_or_else(|e| panic!("{f}: {e}"));
        }
        // And every message writes back byte for byte.
        assert_eq!(m.to_vec(), &common::read(&format!("ms/{f}"))[..m.len()]);
    }
}

#[test]
fn signature_input_of_the_ocs_r2_180_ringing() {
    let m = Message::parse(common::read("ms/sipe_180_ringing_ntlm_v4_signed.sip")).unwrap();
    let expected = common::read("ms/sipe_180_ringing_ntlm_v4_signed.expected-signature-input.txt");
    let expected = expected.strip_suffix(b"\n").unwrap_or(&expected);
    let auth = m
        .auth(HeaderName::AuthenticationInfo)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(auth.scheme(), Some(AuthScheme::Ntlm));
    let ctx = SignatureContext::from_auth(&auth, 4).unwrap();
    let mut out = Vec::new();
    signature_input(&m, &ctx, &mut out).unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(expected)
    );
}

#[test]
fn ocs_r2_180_ringing_fields() {
    let m = Message::parse(common::read("ms/sipe_180_ringing_ntlm_v4_signed.sip")).unwrap();
    let via = m.top_via().unwrap();
    assert_eq!(via.transport, "tls");
    assert_eq!(via.received(), Some("10.117.245.254"));
    assert_eq!(via.ms_received_port(), Some(50230));
    assert_eq!(via.ms_received_cid(), Some("37ABE00"));
    let from = m.from().unwrap();
    assert_eq!(
        (from.tag(), from.epid()),
        (Some("2420628112"), Some("54392f1bbf01"))
    );
    assert_eq!(m.to().unwrap().epid(), Some("3102EB8BD1"));
    let rr = m.record_routes().next().unwrap().unwrap();
    let rr = rr.uri.as_sip().unwrap();
    assert_eq!(
        rr.params.value("ms-fe"),
        Some("LOC-COMPANYT-FE03.COMPANY.COM")
    );
    assert_eq!(rr.opaque(), Some("state:F:T:Eu:Ci.R37abe00"));
    assert_eq!(
        rr.params.value("ms-route-sig"),
        Some("gdOGgL7NiL3hv_oBc0NdrJOxZk_r-8naq-k_DtpgAA")
    );
    assert!(rr.lr());
    let c = m.contacts().next().unwrap().unwrap();
    let a = c.address().unwrap();
    let sip = a.uri.as_sip().unwrap();
    assert!(sip.gruu());
    assert_eq!(sip.opaque(), Some("user:epid:-gLwenLTVVqy-Ak8TJn1ZAAA"));
    assert!(a.params.contains("audio") && a.params.contains("video") && a.params.contains("text"));
    let pai = m.asserted_identities().next().unwrap().unwrap();
    assert_eq!(pai.uri.scheme(), "SIP");
    assert_eq!(pai.uri.as_sip().unwrap().user, Some("recipient"));
}

#[test]
fn ntlm_register_legs_and_focus_messages() {
    let m = Message::parse(common::read(
        "ms/sipe-format-REGISTER-ntlm-negotiate.SYNTHESIZED.sip",
    ))
    .unwrap();
    let a = m.auth(HeaderName::Authorization).next().unwrap().unwrap();
    assert_eq!(
        (a.scheme(), a.gssapi_data(), a.version()),
        (Some(AuthScheme::Ntlm), Some(""), Some("3"))
    );
    let ka = m
        .typed_headers()
        .find(|(h, _)| h.kind == HeaderName::MsKeepAlive)
        .unwrap()
        .1
        .unwrap();
    let TypedValue::TokenParams(ka) = ka else {
        panic!()
    };
    assert_eq!((ka.value, ka.params.value("hop-hop")), ("UAC", Some("yes")));
    let c = m.contacts().next().unwrap().unwrap();
    assert!(c.proxy_replace());
    assert_eq!(c.methods().count(), 11);
    assert_eq!(m.values(HeaderName::Supported).count(), 4);

    let m = Message::parse(common::read(
        "ms/ms-sipae-4.1-ntlm-step2-401.PARTIAL-transcribed.sip",
    ))
    .unwrap();
    let schemes: Vec<_> = m
        .auth(HeaderName::WwwAuthenticate)
        .map(|a| a.unwrap().scheme().unwrap())
        .collect();
    assert_eq!(schemes, [AuthScheme::Ntlm, AuthScheme::Kerberos]);

    let m = Message::parse(common::read(
        "ms/ms-sipae-4.1-ntlm-step1-REGISTER.transcribed.sip",
    ))
    .unwrap();
    assert_eq!(
        m.header_by_name("UserAgent").unwrap().kind,
        HeaderName::Other
    );
    assert_eq!(
        m.contacts().next().unwrap().unwrap().sip_instance(),
        Some("<urn:uuid:4233FD41-093B-5FD6-B5D2-651ED55969E6>")
    );

    let m = Message::parse(common::read(
        "ms/sipe-format-INVITE-focus-c3p-addUser.SYNTHESIZED.sip",
    ))
    .unwrap();
    let Some(Ok(Uri::Sip(ruri))) = m.request_uri() else {
        panic!()
    };
    assert_eq!(ruri.conference_id(), Some("4FNRHN16"));
    assert!(
        m.content_type()
            .unwrap()
            .unwrap()
            .is("application", "cccp+xml")
    );
    assert_eq!(m.body().len(), 660);
    let pa = m
        .auth(HeaderName::ProxyAuthorization)
        .next()
        .unwrap()
        .unwrap();
    assert_eq!((pa.crand(), pa.cnum()), (Some("0b1c2d3e"), Some("4")));

    let m = Message::parse(common::read(
        "ms/sipe-format-SUBSCRIBE-conference-event.SYNTHESIZED.sip",
    ))
    .unwrap();
    assert_eq!(m.event().unwrap().unwrap().value, "conference");
    let sup: Vec<_> = m.values(HeaderName::Supported).map(|v| v.0).collect();
    assert_eq!(
        sup,
        [
            "com.microsoft.autoextend",
            "ms-benotify",
            "ms-piggyback-first-notify"
        ]
    );
}
