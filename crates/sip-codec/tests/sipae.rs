//! [MS-SIPAE] over SIP: the captured and transcribed Microsoft messages, and the full NTLM
//! handshake with signing between our client and server, including tampering and replay.

mod common;

use ocs_sip_codec::build::MessageBuilder;
use ocs_sip_codec::ntlm::{ChallengeMessage, Credentials, TargetInfo};
use ocs_sip_codec::sipae::{
    NtlmSipClient, NtlmSipServer, Protocol, SIGNATURE_SEQ_NUM, SecurityHeader, SipaeError, Verdict,
};
use ocs_sip_codec::{HeaderName, Message};

#[test]
fn ms_sipae_4_1_challenges_parse() {
    // The 401 of [MS-SIPAE] 4.1 step 2 (transcribed; the spec excerpt stops before Via, so
    // only the header values are checked, from the file's lines).
    let text = common::read("ms/ms-sipae-4.1-ntlm-step2-401.PARTIAL-transcribed.sip");
    let text = std::str::from_utf8(&text).unwrap();
    let values: Vec<_> = text
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .map(|v| {
            SecurityHeader::from_auth(&ocs_sip_codec::headers::Auth::parse(v).unwrap()).unwrap()
        })
        .collect();
    assert_eq!(values.len(), 2);
    assert_eq!(values[0].protocol, Protocol::Ntlm);
    assert_eq!(values[0].realm, "SIP Communications Service");
    assert_eq!(values[0].target_name, "server.contoso.com");
    assert_eq!(values[0].version, 3);
    assert_eq!(values[1].protocol, Protocol::Kerberos);
    assert_eq!(values[1].target_name, "sip/server.contoso.com");
    // Our client answers the NTLM one with the empty connection-less first leg.
    let client = NtlmSipClient::new(Credentials::new("alice", "CONTOSO", "x"), "WS");
    let first = client
        .first_credentials(
            text.lines()
                .find_map(|l| l.strip_prefix("WWW-Authenticate: NTLM"))
                .map(|v| format!("NTLM{v}"))
                .unwrap()
                .as_str(),
        )
        .unwrap();
    assert_eq!(
        first,
        "NTLM qop=\"auth\", realm=\"SIP Communications Service\", targetname=\"server.contoso.com\", gssapi-data=\"\", version=3"
    );
}

#[test]
fn captured_ocs_rspauth_is_an_ntlm_v2_signature_with_seq_num_100() {
    let msg = Message::parse(common::read("ms/sipe_180_ringing_ntlm_v4_signed.sip")).unwrap();
    let h = SecurityHeader::all(&msg, HeaderName::AuthenticationInfo).unwrap();
    assert_eq!(h.len(), 1);
    let h = &h[0];
    assert_eq!(h.rand.as_deref(), Some("1B6D47A1"));
    assert_eq!(h.num, Some(11));
    assert_eq!(h.opaque.as_deref(), Some("357E6F72"));
    let sig = h.signature.as_deref().unwrap();
    // NTLMSSP_MESSAGE_SIGNATURE with extended session security: Version 1, an 8-byte
    // checksum, and the sequence number in clear: 100, not snum.
    assert_eq!(sig.len(), 16);
    assert_eq!(&sig[..4], &1u32.to_le_bytes());
    assert_eq!(&sig[12..], &SIGNATURE_SEQ_NUM.to_le_bytes());
}

fn request(method: &str, cseq: u32, auth: Option<(HeaderName, &str)>) -> Message {
    let cseq = format!("{cseq} {method}");
    let mut b = MessageBuilder::request(method, "sip:bob@contoso.com")
        .header("Via", "SIP/2.0/TLS 192.0.2.1:4320;branch=z9hG4bK77")
        .header(
            "From",
            "\"Alice\" <sip:alice@contoso.com>;tag=4a2b44d131;epid=8248ca9ebb",
        )
        .header("To", "<sip:bob@contoso.com>")
        .header("Call-ID", "d5f2b95d5be64c2cbfb38aa5d3a87ae7")
        .header("CSeq", cseq)
        .header(
            "P-Asserted-Identity",
            "<sip:alice@contoso.com>, <tel:+14255550100>",
        );
    if let Some((name, value)) = auth {
        b = b.header(name.as_str(), value);
    }
    b.build().unwrap()
}

#[test]
fn handshake_signing_tampering_and_replay() {
    let alice = Credentials::new("alice", "CONTOSO", "Passw0rd");
    let hash = alice.nt_hash();
    let lookup =
        move |user: &str, domain: &str| (user == "alice" && domain == "CONTOSO").then_some(hash);
    for header in [HeaderName::Authorization, HeaderName::ProxyAuthorization] {
        let mut server = NtlmSipServer::new("fe.contoso.com", TargetInfo::new("FE", "CONTOSO"));
        let mut client = NtlmSipClient::new(alice.clone(), "ALICE-PC");
        let Verdict::Challenge(c1) =
            server.handle(&request("REGISTER", 1, None), header, [1; 8], "A1", lookup)
        else {
            panic!("no first challenge")
        };
        let first = client.first_credentials(&c1).unwrap();
        let Verdict::Challenge(c2) = server.handle(
            &request("REGISTER", 2, Some((header, &first))),
            header,
            [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            "85185AE4",
            lookup,
        ) else {
            panic!("no CHALLENGE_MESSAGE")
        };
        // The second challenge carries a real CHALLENGE_MESSAGE with our server challenge.
        let h =
            SecurityHeader::from_auth(&ocs_sip_codec::headers::Auth::parse(&c2).unwrap()).unwrap();
        assert_eq!(h.opaque.as_deref(), Some("85185AE4"));
        let token = ChallengeMessage::parse(h.gssapi_data.as_deref().unwrap()).unwrap();
        assert_eq!(
            token.server_challenge,
            [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88]
        );
        let (third, mut sa) = client.answer(&c2, [0xaa; 8], [0x55; 16]).unwrap();
        let authenticate = request("REGISTER", 3, Some((header, &third)));
        assert_eq!(
            server.handle(&authenticate, header, [0; 8], "", lookup),
            Verdict::Authenticated {
                opaque: "85185AE4".into(),
                user: "CONTOSO\\alice".into()
            }
        );
        // A replayed AUTHENTICATE finds no pending handshake.
        assert!(matches!(
            server.handle(&authenticate, header, [0; 8], "", lookup),
            Verdict::Rejected(SipaeError::UnknownAssociation(_))
        ));
        // Signed requests verify; one changed field after signing does not.
        let mut signed = Vec::new();
        for cseq in 4..10 {
            let m = request("MESSAGE", cseq, None);
            let creds = sa.sign(&m, 0x1000 + cseq).unwrap();
            let m = m.with_header(header.as_str(), &creds).unwrap();
            assert!(
                matches!(server.handle(&m, header, [0; 8], "", lookup), Verdict::Verified { ref user, .. } if user == "CONTOSO\\alice"),
                "cseq {cseq}"
            );
            signed.push(m);
        }
        assert_eq!(
            server.handle(&signed[2], header, [0; 8], "", lookup),
            Verdict::Rejected(SipaeError::Replayed(3))
        );
        let m = request("MESSAGE", 20, None);
        let creds = sa.sign(&m, 7).unwrap();
        let tampered = request("MESSAGE", 21, None)
            .with_header(header.as_str(), &creds)
            .unwrap();
        assert_eq!(
            server.handle(&tampered, header, [0; 8], "", lookup),
            Verdict::Rejected(SipaeError::BadSignature)
        );
        // Signed responses: the client verifies rspauth, refuses a replay and a forgery.
        let ok = signed[0].response(200, "OK", "b0b").build().unwrap();
        let info = server.sign_response("85185AE4", &ok, 0x2C3D4E5F).unwrap();
        assert!(info.contains("srand=\"2C3D4E5F\"") && info.contains("snum=\"1\""));
        let ok = ok.with_header("Authentication-Info", &info).unwrap();
        sa.verify(&ok).unwrap();
        assert_eq!(sa.verify(&ok), Err(SipaeError::Replayed(1)));
        let forged = signed[1]
            .response(200, "OK", "eve")
            .build()
            .unwrap()
            .with_header(
                "Authentication-Info",
                &info.replace("snum=\"1\"", "snum=\"2\""),
            )
            .unwrap();
        assert_eq!(sa.verify(&forged), Err(SipaeError::BadSignature));
        assert_eq!(server.associations(), 1);
    }
}

#[test]
fn wrong_password_and_unknown_association() {
    let mut server = NtlmSipServer::new("fe.contoso.com", TargetInfo::new("FE", "CONTOSO"));
    let good = Credentials::new("alice", "CONTOSO", "right").nt_hash();
    let lookup = move |_: &str, _: &str| Some(good);
    let h = HeaderName::Authorization;
    let mut client = NtlmSipClient::new(Credentials::new("alice", "CONTOSO", "wrong"), "WS");
    let Verdict::Challenge(c1) =
        server.handle(&request("REGISTER", 1, None), h, [1; 8], "O1", lookup)
    else {
        panic!()
    };
    let first = client.first_credentials(&c1).unwrap();
    let Verdict::Challenge(c2) = server.handle(
        &request("REGISTER", 2, Some((h, &first))),
        h,
        [2; 8],
        "O1",
        lookup,
    ) else {
        panic!()
    };
    let (third, _) = client.answer(&c2, [3; 8], [4; 16]).unwrap();
    assert!(matches!(
        server.handle(
            &request("REGISTER", 3, Some((h, &third))),
            h,
            [0; 8],
            "",
            lookup
        ),
        Verdict::Rejected(SipaeError::Ntlm(_))
    ));
    // Signed with an opaque the server never issued: challenged afresh.
    let forged = request(
        "REGISTER",
        4,
        Some((
            h,
            "NTLM qop=\"auth\", opaque=\"FFFF\", realm=\"SIP Communications Service\", targetname=\"fe.contoso.com\", crand=\"1\", cnum=\"1\", response=\"00\"",
        )),
    );
    assert!(matches!(
        server.handle(&forged, h, [0; 8], "", lookup),
        Verdict::Challenge(_)
    ));
}

#[test]
fn unfinished_handshakes_are_bounded_oldest_first() {
    let mut server = NtlmSipServer::new("fe.contoso.com", TargetInfo::new("FE", "CONTOSO"));
    server.max_pending = 2;
    let alice = Credentials::new("alice", "CONTOSO", "pw");
    let hash = alice.nt_hash();
    let lookup = move |_: &str, _: &str| Some(hash);
    let h = HeaderName::Authorization;
    let mut client = NtlmSipClient::new(alice, "WS");
    let Verdict::Challenge(c1) =
        server.handle(&request("REGISTER", 1, None), h, [1; 8], "x", lookup)
    else {
        panic!()
    };
    let first = client.first_credentials(&c1).unwrap();
    let mut seconds = Vec::new();
    for (i, opaque) in ["A1", "A2", "A3"].into_iter().enumerate() {
        let Verdict::Challenge(c2) = server.handle(
            &request("REGISTER", 2 + i as u32, Some((h, &first))),
            h,
            [i as u8; 8],
            opaque,
            lookup,
        ) else {
            panic!()
        };
        seconds.push(c2);
    }
    // A1, the oldest, was forgotten when A3 came; A2 and A3 complete.
    let answers: Vec<_> = seconds
        .iter()
        .map(|c| client.answer(c, [7; 8], [8; 16]).unwrap().0)
        .collect();
    let verdict = |s: &mut NtlmSipServer, creds: &str| {
        s.handle(
            &request("REGISTER", 9, Some((h, creds))),
            h,
            [0; 8],
            "",
            lookup,
        )
    };
    assert!(matches!(
        verdict(&mut server, &answers[0]),
        Verdict::Rejected(SipaeError::UnknownAssociation(_))
    ));
    assert!(matches!(
        verdict(&mut server, &answers[1]),
        Verdict::Authenticated { .. }
    ));
    assert!(matches!(
        verdict(&mut server, &answers[2]),
        Verdict::Authenticated { .. }
    ));
    assert_eq!(server.associations(), 2);
}

#[test]
fn a_negotiate_message_starts_the_handshake_too() {
    use base64::Engine as _;
    use ocs_sip_codec::ntlm::{NegotiateMessage, SIP_FLAGS};
    let mut server = NtlmSipServer::new("fe.contoso.com", TargetInfo::new("FE", "CONTOSO"));
    let token = NegotiateMessage {
        flags: SIP_FLAGS,
        domain: String::new(),
        workstation: String::new(),
    }
    .to_bytes();
    let creds = format!(
        "NTLM qop=\"auth\", realm=\"SIP Communications Service\", targetname=\"fe.contoso.com\", gssapi-data=\"{}\", version=3",
        base64::engine::general_purpose::STANDARD.encode(token)
    );
    let h = HeaderName::Authorization;
    let Verdict::Challenge(c) = server.handle(
        &request("REGISTER", 1, Some((h, &creds))),
        h,
        [5; 8],
        "N1",
        |_, _| None,
    ) else {
        panic!()
    };
    assert!(c.contains("opaque=\"N1\"") && c.contains("gssapi-data=\"TlRMTVNTUAACAAAA"));
}
