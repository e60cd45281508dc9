//! [MS-SIPAE] Kerberos against a real MIT KDC on loopback: `scripts/kdc.sh` starts one in a
//! temporary directory (realm CONTOSO.COM, `sip/ocs.contoso.com` in a keytab), `kinit` gets
//! alice a ticket-granting ticket, and MIT's own initiator (through the `libgssapi` crate,
//! called the way pidgin-sipe's `sip-sec-gssapi.c` calls it) stands in for the client: its
//! one-leg token is accepted by the server's `KerberosAcceptor`
//! (`ocs_stack::server::sip::kerberos`), the principal checked, and MICs over [MS-SIPAE]
//! signature buffers verified both ways, tampered, reflected and replayed ones refused.
//!
//! MIT takes its configuration, keytab and ccache from the environment, which a test cannot
//! change in its own process without `unsafe`; so this test binary (`harness = false`) runs
//! twice: first it starts the KDC and runs itself again with the KDC's variables set, and that
//! second run does the part that talks GSSAPI (`in_kdc_environment`) and says it finished.
//!
//! Needs the `kerberos-tests` feature and MIT Kerberos (Debian `krb5-kdc krb5-admin-server
//! krb5-user libkrb5-dev`, plus `libclang-dev` for the binding's build; `scripts/kdc.sh deps`
//! installs them). CI requires it with `OCS_REQUIRE_INTEROP=1`.

fn main() {
    #[cfg(feature = "kerberos-tests")]
    {
        if std::env::var_os("OCS_KDC_DIR").is_some() {
            with_kdc::in_kdc_environment();
            println!("{}", with_kdc::CHILD_DONE);
        } else {
            with_kdc::kerberos_against_mit_kdc();
            println!("test kerberos_against_mit_kdc ... ok");
        }
    }
    #[cfg(not(feature = "kerberos-tests"))]
    {
        assert!(
            std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
            "OCS_REQUIRE_INTEROP is set but the Kerberos tests were built without `kerberos-tests`"
        );
        eprintln!(
            "WARNING: Kerberos tests against a MIT KDC NOT RUN: build with --features \
             ocs-stack/kerberos-tests (needs MIT Kerberos and libclang: scripts/kdc.sh deps)"
        );
    }
}

#[cfg(feature = "kerberos-tests")]
#[path = "common/kdc.rs"]
mod kdc;

#[cfg(feature = "kerberos-tests")]
mod with_kdc {
    use std::io::Write;
    use std::path::PathBuf;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use libgssapi::context::{ClientCtx, CtxFlags, SecurityContext};
    use libgssapi::credential::{Cred, CredUsage};
    use libgssapi::name::Name;
    use libgssapi::oid::{GSS_MECH_KRB5, GSS_NT_HOSTBASED_SERVICE, GSS_NT_USER_NAME, OidSet};
    use ocs_stack::server::sip::kerberos::{KerberosAcceptor, KerberosError, ktname};

    /// What the second run prints when the GSSAPI part has passed.
    pub(super) const CHILD_DONE: &str = "the GSSAPI part passed";

    /// The realm's users, as `scripts/kdc.sh` creates them.
    const ALICE: &str = "alice@CONTOSO.COM";

    use super::kdc::Kdc;

    pub(super) fn kerberos_against_mit_kdc() {
        let mut kdc = Kdc::start("gssapi");
        let port: u16 = kdc.var("KDC_PORT").parse().expect("a port");
        assert!(port > 0);
        assert_eq!(
            kdc.var("KRB5_KTNAME"),
            ktname(&kdc.dir.join("sip.keytab")).to_str().unwrap()
        );

        // kinit into a file ccache, reading the password from stdin as MIT's kinit does.
        let ccache = format!("FILE:{}", kdc.dir.join("alice.ccache").display());
        let mut kinit = Command::new("kinit")
            .arg(ALICE)
            .env("KRB5_CONFIG", kdc.var("KRB5_CONFIG"))
            .env("KRB5CCNAME", &ccache)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("kinit runs");
        kinit
            .stdin
            .take()
            .unwrap()
            .write_all(b"alice-Passw0rd\n")
            .unwrap();
        assert!(kinit.wait().unwrap().success(), "kinit alice");

        let out = Command::new(std::env::current_exe().unwrap())
            .env("OCS_KDC_DIR", &kdc.dir)
            .env("KRB5_CONFIG", kdc.var("KRB5_CONFIG"))
            .env("KRB5_KTNAME", kdc.var("KRB5_KTNAME"))
            .env("KRB5RCACHEDIR", kdc.var("KRB5RCACHEDIR"))
            .env("KRB5CCNAME", &ccache)
            .env("KRB5_TRACE", kdc.dir.join("trace.log"))
            .env_remove("KRB5_CLIENT_KTNAME")
            .output()
            .expect("the test binary runs again");
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(
            out.status.success(),
            "the GSSAPI part failed ({}); MIT's trace is in {}",
            out.status,
            kdc.dir.join("trace.log").display()
        );
        // Require that the second run really got to its end.
        assert!(stdout.contains(CHILD_DONE), "the GSSAPI part did not run");
        kdc.passed = true;
    }

    /// What pidgin-sipe's `sip_sec_init_sec_context__gssapi` does with the targetname: import
    /// it as a host-based service with `/` turned into `@`, one `gss_init_sec_context` for
    /// krb5 with `GSS_C_INTEG_FLAG` alone and no channel bindings.
    fn sipe_initiate(cred: Option<Cred>, targetname: &str) -> (ClientCtx, Vec<u8>) {
        let service = targetname.replace('/', "@");
        let target =
            Name::new(service.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE)).expect("gss_import_name");
        let mut ctx = ClientCtx::new(
            cred,
            target,
            CtxFlags::GSS_C_INTEG_FLAG,
            Some(GSS_MECH_KRB5),
        );
        let token = ctx
            .step(None, None)
            .unwrap_or_else(|e| panic!("gss_init_sec_context for {targetname}: {e}"))
            .expect("an initial token");
        assert!(
            ctx.is_complete(),
            "without mutual authentication one call completes the client's context"
        );
        (ctx, token.to_vec())
    }

    /// The signature buffer of a REGISTER or its response (sipe-sign.c, version 3 layout).
    fn signature_input(rand: &str, num: &str, to_tag: &str, status: &str) -> String {
        format!(
            "<Kerberos><{rand}><{num}><SIP Communications Service><sip/ocs.contoso.com>\
             <c7142b90f8c94668807a382f552a6770><2><REGISTER><sip:alice@contoso.com><604168c9c0>\
             <sip:alice@contoso.com><{to_tag}><><><3600>{status}"
        )
    }

    /// The GSSAPI part, in the KDC's environment (`OCS_KDC_DIR` and MIT's variables).
    pub(super) fn in_kdc_environment() {
        let dir = std::env::var_os("OCS_KDC_DIR")
            .map(PathBuf::from)
            .expect("started by kerberos_against_mit_kdc");
        let keytab = dir.join("sip.keytab");
        let krb5 = OidSet::singleton(GSS_MECH_KRB5).unwrap();

        let acceptor = KerberosAcceptor::new(&keytab, "sip/ocs.contoso.com").expect("acceptor");
        assert_eq!(acceptor.service(), "sip/ocs.contoso.com@CONTOSO.COM");

        // alice with single sign-on: the default ccache, which kinit filled.
        let alice_cred = Cred::acquire(None, None, CredUsage::Initiate, Some(&krb5)).unwrap();
        let (mut alice, token) = sipe_initiate(Some(alice_cred.clone()), "sip/ocs.contoso.com");
        // gssapi-data is base64 on the wire.
        let token = BASE64.decode(BASE64.encode(&token)).unwrap();
        let mut accepted = acceptor.accept(&token).expect("alice's AP-REQ");
        assert_eq!(accepted.principal, ALICE);
        assert!(
            accepted.token.is_none(),
            "no AP-REP without mutual authentication"
        );
        assert!(accepted.lifetime > Duration::from_secs(3600));

        // The client signs its next request; the server verifies the `response`.
        let request = signature_input("3a4f92c1", "1", "", "");
        let response = hex::encode_upper(&*alice.get_mic(request.as_bytes()).unwrap());
        let mic = hex::decode(&response).unwrap();
        accepted
            .context
            .verify_mic(request.as_bytes(), &mic)
            .expect("the client's signature verifies");
        let forged = request.replace("<3600>", "<0>");
        assert!(matches!(
            accepted.context.verify_mic(forged.as_bytes(), &mic),
            Err(KerberosError::BadSignature(_))
        ));
        let mut bad_mic = mic.clone();
        *bad_mic.last_mut().unwrap() ^= 1;
        assert!(matches!(
            accepted.context.verify_mic(request.as_bytes(), &bad_mic),
            Err(KerberosError::BadSignature(_))
        ));
        assert!(
            accepted
                .context
                .verify_mic(request.as_bytes(), &[])
                .is_err()
        );

        // The server signs its 200 OK; the client verifies the `rspauth`.
        let ok = signature_input("5e058a82", "1", "9588410E2DA11CEE9D0AE7733E07830F", "<200>");
        let rspauth = accepted.context.get_mic(ok.as_bytes()).unwrap();
        alice
            .verify_mic(ok.as_bytes(), &rspauth)
            .expect("the server's signature verifies at the client");
        assert!(
            alice
                .verify_mic(ok.replace("<200>", "<401>").as_bytes(), &rspauth)
                .is_err()
        );
        // A signature of the server's own, sent back to it, is not the client's.
        assert!(matches!(
            accepted.context.verify_mic(ok.as_bytes(), &rspauth),
            Err(KerberosError::BadSignature(_))
        ));

        // No sequence detection was asked for: reordered and repeated MICs verify.
        let first = alice.get_mic(b"<first>").unwrap().to_vec();
        let second = alice.get_mic(b"<second>").unwrap().to_vec();
        accepted.context.verify_mic(b"<second>", &second).unwrap();
        accepted.context.verify_mic(b"<first>", &first).unwrap();
        accepted.context.verify_mic(b"<first>", &first).unwrap();

        // The same AP-REQ again is a replay.
        match acceptor.accept(&token) {
            Err(KerberosError::Replay(_)) => {}
            other => panic!("a replayed AP-REQ must fail as Replay, got {other:?}"),
        }

        // bob with a password, as sipe without single sign-on.
        let bob = Name::new(b"bob@CONTOSO.COM", Some(GSS_NT_USER_NAME)).unwrap();
        let bob_cred = Cred::acquire_with_password(
            Some(&bob),
            "bob-Passw0rd",
            None,
            CredUsage::Initiate,
            Some(&krb5),
        )
        .expect("bob's password credential");
        let (_bob, token) = sipe_initiate(Some(bob_cred), "sip/ocs.contoso.com");
        assert_eq!(
            acceptor.accept(&token).unwrap().principal,
            "bob@CONTOSO.COM"
        );

        // carol with a wrong password gets no ticket.
        let carol = Name::new(b"carol@CONTOSO.COM", Some(GSS_NT_USER_NAME)).unwrap();
        let carol_token = Cred::acquire_with_password(
            Some(&carol),
            "not-carols-password",
            None,
            CredUsage::Initiate,
            Some(&krb5),
        )
        .and_then(|cred| {
            let target = Name::new(b"sip@ocs.contoso.com", Some(GSS_NT_HOSTBASED_SERVICE))?;
            ClientCtx::new(
                Some(cred),
                target,
                CtxFlags::GSS_C_INTEG_FLAG,
                Some(GSS_MECH_KRB5),
            )
            .step(None, None)
        });
        assert!(carol_token.is_err(), "a wrong password must get no ticket");

        // A ticket for another service of the realm is refused, and accepted by that service.
        let (_alice2, token) = sipe_initiate(Some(alice_cred), "sip/localhost");
        match acceptor.accept(&token) {
            Err(KerberosError::Accept(_)) => {}
            other => panic!("a ticket for sip/localhost must be refused, got {other:?}"),
        }
        let localhost = KerberosAcceptor::new(&keytab, "sip/localhost").unwrap();
        assert_eq!(localhost.accept(&token).unwrap().principal, ALICE);

        // Not a Kerberos token: refused before GSSAPI, with where.
        match acceptor.accept(b"NTLMSSP\0\x01\0\0\0") {
            Err(KerberosError::Token { offset: 0, .. }) => {}
            other => panic!("an NTLM token must be refused at byte 0, got {other:?}"),
        }

        // The whole sign-in through the server's engine, signed both ways.
        let alice_cred = Cred::acquire(None, None, CredUsage::Initiate, Some(&krb5)).unwrap();
        engine_sign_in(
            KerberosAcceptor::new(&keytab, "sip/ocs.contoso.com").unwrap(),
            alice_cred,
        );

        // The keytab must be the one KRB5_KTNAME names, and must hold the principal.
        match KerberosAcceptor::new(&dir.join("kdc.conf"), "sip/ocs.contoso.com") {
            Err(KerberosError::KeytabNotSelected { .. }) => {}
            other => panic!("expected KeytabNotSelected, got {other:?}"),
        }
        match KerberosAcceptor::new(&keytab, "sip/nowhere.contoso.com") {
            Err(KerberosError::Credential { .. }) => {}
            other => panic!("expected Credential for a principal not in the keytab, got {other:?}"),
        }
    }

    /// REGISTER over the engine: the Kerberos challenge offered first, the one-leg AP-REQ
    /// accepted, the 200 signed with a MIC the client verifies, then a signed MESSAGE
    /// authenticated and an unsigned one challenged again.
    fn engine_sign_in(acceptor: KerberosAcceptor, cred: Cred) {
        use std::time::{Instant, SystemTime};

        use bytes::Bytes;
        use ocs_stack::server::sip::{ClearPasswords, Engine, EngineConfig, Peer, Recorder};
        use ocs_stack::sip::sign::{SignatureContext, signature_input};
        use ocs_stack::sip::sipae::{Protocol, SecurityHeader};
        use ocs_stack::sip::{HeaderName, Message};

        struct Nobody;
        impl ClearPasswords for Nobody {
            fn password(&self, _: &str) -> Option<String> {
                None
            }
        }
        let cfg = EngineConfig {
            domain: "contoso.com".into(),
            tcp_addr: Some("127.0.0.1:5060".parse().unwrap()),
            auth: vec!["NTLM".into()],
            ntlm_target: "ocs.contoso.com".into(),
            ..EngineConfig::default()
        };
        let mut e = Engine::new(cfg, [3; 32], Instant::now());
        e.set_kerberos(acceptor);
        let mut io = Recorder::default();
        let peer = Peer::Stream {
            conn: 1,
            addr: "127.0.0.1:40001".parse().unwrap(),
            tls: true,
        };
        let mut send = |e: &mut Engine, m: String| -> Message {
            let m = Message::parse(Bytes::from(m)).unwrap();
            e.handle(Instant::now(), SystemTime::now(), m, peer, &Nobody);
            e.pump(Instant::now(), &mut io);
            let out = std::mem::take(&mut io.sent);
            assert_eq!(out.len(), 1, "one answer");
            Message::parse(out[0].bytes.clone()).unwrap()
        };
        let register = |cseq: u32, auth: &str| {
            format!(
                "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40001;branch=z9hG4bKr{cseq}\r\n\
                 From: <sip:alice@contoso.com>;tag=a1\r\nTo: <sip:alice@contoso.com>\r\nCall-ID: krb-reg\r\n\
                 CSeq: {cseq} REGISTER\r\nContact: <sip:alice@127.0.0.1:40001;transport=tls>\r\nExpires: 3600\r\n\
                 {auth}Content-Length: 0\r\n\r\n"
            )
        };
        let r = send(&mut e, register(1, ""));
        assert_eq!(r.status(), Some(401));
        let first = r.auth(HeaderName::WwwAuthenticate).next().unwrap().unwrap();
        assert_eq!(
            first.scheme_name,
            Some("Kerberos"),
            "Kerberos offered first"
        );
        let (mut alice, token) = sipe_initiate(Some(cred), "sip/ocs.contoso.com");
        let creds = format!(
            "Authorization: Kerberos qop=\"auth\", realm=\"SIP Communications Service\", \
             targetname=\"sip/ocs.contoso.com\", gssapi-data=\"{}\", version=3\r\n",
            BASE64.encode(&token)
        );
        let ok = send(&mut e, register(2, &creds));
        assert_eq!(ok.status(), Some(200), "{ok}");
        let info = SecurityHeader::all(&ok, HeaderName::AuthenticationInfo).unwrap();
        let info = info
            .into_iter()
            .find(|h| h.protocol == Protocol::Kerberos)
            .expect("a Kerberos Authentication-Info");
        let opaque = info.opaque.clone().expect("opaque names the association");
        let verify = |alice: &mut ClientCtx, m: &Message| {
            let h = SecurityHeader::all(m, HeaderName::AuthenticationInfo)
                .unwrap()
                .into_iter()
                .next()
                .expect("signed");
            let num = h.num.unwrap().to_string();
            let ctx = SignatureContext {
                scheme: "Kerberos",
                rand: h.rand.as_deref().unwrap(),
                num: &num,
                realm: &h.realm,
                target_name: &h.target_name,
                version: 3,
            };
            let mut input = Vec::new();
            signature_input(m, &ctx, &mut input).unwrap();
            alice
                .verify_mic(&input, &h.signature.unwrap())
                .expect("the server's rspauth verifies at the client");
        };
        verify(&mut alice, &ok);
        // A signed MESSAGE: authenticated (bob has no binding: 404, not a challenge).
        let message = |cseq: u32, auth: &str| {
            format!(
                "MESSAGE sip:bob@contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:40001;branch=z9hG4bKm{cseq}\r\n\
                 Max-Forwards: 70\r\nFrom: <sip:alice@contoso.com>;tag=m1\r\nTo: <sip:bob@contoso.com>\r\n\
                 Call-ID: krb-im\r\nCSeq: {cseq} MESSAGE\r\n{auth}Content-Length: 0\r\n\r\n"
            )
        };
        let unsigned = Message::parse(Bytes::from(message(1, ""))).unwrap();
        let ctx = SignatureContext {
            scheme: "Kerberos",
            rand: "0badc0de",
            num: "1",
            realm: "SIP Communications Service",
            target_name: "sip/ocs.contoso.com",
            version: 3,
        };
        let mut input = Vec::new();
        signature_input(&unsigned, &ctx, &mut input).unwrap();
        let mic = hex::encode_upper(&*alice.get_mic(&input).unwrap());
        let signed = format!(
            "Authorization: Kerberos qop=\"auth\", opaque=\"{opaque}\", realm=\"SIP Communications Service\", \
             targetname=\"sip/ocs.contoso.com\", crand=\"0badc0de\", cnum=\"1\", response=\"{mic}\"\r\n"
        );
        let r = send(&mut e, message(1, &signed));
        assert_eq!(r.status(), Some(404), "authenticated: {r}");
        verify(&mut alice, &r);
        // Unsigned: challenged again with Kerberos.
        let r = send(&mut e, message(2, ""));
        assert_eq!(r.status(), Some(401));
        assert!(
            r.header(HeaderName::WwwAuthenticate)
                .unwrap()
                .value
                .starts_with("Kerberos")
        );
    }
}
