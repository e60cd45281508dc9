//! The Digest server against the client: success, replayed nonce counts, stale nonces, forged
//! nonces, wrong passwords, realms and users; the challenge as a SIP 401 carries it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_sip_codec::digest::{Algorithm, Challenge, DigestError, DigestServer};
use ocs_sip_codec::headers::Auth;
use ocs_sip_codec::{HeaderName, Message};

fn password(user: &str) -> Option<String> {
    (user == "alice").then(|| "wonderland".to_owned())
}

#[test]
fn server_and_client() {
    let t0 = Instant::now();
    for alg in Algorithm::ALL {
        let mut server = DigestServer::new("contoso.com", [9; 32], Duration::from_secs(60), t0);
        let www = server.challenge(t0, alg, false);
        // Through a real 401, as a client sees it.
        let resp = Message::parse(Bytes::from(format!(
            "SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.com>;tag=1\r\n\
             To: <sip:alice@contoso.com>;tag=2\r\nCall-ID: c\r\nCSeq: 1 REGISTER\r\nWWW-Authenticate: {www}\r\nContent-Length: 0\r\n\r\n"
        )))
        .unwrap();
        let auth = resp
            .auth(HeaderName::WwwAuthenticate)
            .next()
            .unwrap()
            .unwrap();
        let ch = Challenge::from_auth(&auth).unwrap();
        assert_eq!((ch.algorithm, ch.qop_auth, ch.stale), (alg, true, false));
        let verify = |server: &mut DigestServer, value: &str, at: Instant| {
            server.verify(
                at,
                &Auth::parse(value).unwrap(),
                "REGISTER",
                "sip:contoso.com",
                password,
            )
        };
        let a1 = ch.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "abc",
            1,
        );
        assert_eq!(verify(&mut server, &a1, t0), Ok("alice".into()), "{alg:?}");
        assert_eq!(
            verify(&mut server, &a1, t0),
            Err(DigestError::Replay),
            "same nc again"
        );
        let a2 = ch.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "abc",
            2,
        );
        assert_eq!(verify(&mut server, &a2, t0), Ok("alice".into()));
        let wrong = ch.authorization("alice", "rabbit", "REGISTER", "sip:contoso.com", "abc", 3);
        assert_eq!(verify(&mut server, &wrong, t0), Err(DigestError::Response));
        let nobody = ch.authorization("bob", "x", "REGISTER", "sip:contoso.com", "abc", 3);
        assert_eq!(verify(&mut server, &nobody, t0), Err(DigestError::User));
        // The method is covered: a REGISTER answer does not authorize an INVITE.
        let alice = |nc| {
            ch.authorization(
                "alice",
                "wonderland",
                "REGISTER",
                "sip:contoso.com",
                "abc",
                nc,
            )
        };
        let a3 = alice(3);
        assert_eq!(
            server.verify(
                t0,
                &Auth::parse(&a3).unwrap(),
                "INVITE",
                "sip:contoso.com",
                password
            ),
            Err(DigestError::Response)
        );
        // After the lifetime: stale, and the new challenge says so.
        let a4 = alice(4);
        assert_eq!(
            verify(&mut server, &a4, t0 + Duration::from_secs(61)),
            Err(DigestError::Stale)
        );
        let again = server.challenge(t0 + Duration::from_secs(61), alg, true);
        assert!(
            Challenge::from_auth(&Auth::parse(&again).unwrap())
                .unwrap()
                .stale
        );
        // Forged nonce, other realm, another scheme.
        let mut forged = ch.clone();
        forged.nonce = format!("{}0", ch.nonce);
        let f = forged.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "abc",
            1,
        );
        assert_eq!(verify(&mut server, &f, t0), Err(DigestError::Nonce));
        let mut other = ch.clone();
        other.realm = "fabrikam.com".into();
        let o = other.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "abc",
            1,
        );
        assert_eq!(verify(&mut server, &o, t0), Err(DigestError::Realm));
        assert!(matches!(
            verify(
                &mut server,
                r#"NTLM qop="auth", realm="SIP Communications Service""#,
                t0
            ),
            Err(DigestError::Malformed(_))
        ));
    }
}

#[test]
fn nonces_are_unique_and_their_counts_bounded() {
    let t0 = Instant::now();
    let mut server = DigestServer::new("contoso.com", [3; 32], Duration::from_secs(60), t0);
    server.max_nonces = 2;
    let answer = |server: &mut DigestServer, www: &str, nc: u32| {
        let ch = Challenge::from_auth(&Auth::parse(www).unwrap()).unwrap();
        let v = ch.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "cn",
            nc,
        );
        server.verify(
            t0,
            &Auth::parse(&v).unwrap(),
            "REGISTER",
            "sip:contoso.com",
            password,
        )
    };
    // Three challenges in the same instant: three nonces, each good once with nc=1.
    let w: Vec<String> = (0..3)
        .map(|_| server.challenge(t0, Algorithm::Md5, false))
        .collect();
    assert!(w[0] != w[1] && w[1] != w[2]);
    assert_eq!(answer(&mut server, &w[0], 1).as_deref(), Ok("alice"));
    assert_eq!(answer(&mut server, &w[1], 1).as_deref(), Ok("alice"));
    assert_eq!(answer(&mut server, &w[1], 1), Err(DigestError::Replay));
    // A third nonce in use pushes the first one's count out: it is stale now, not replayable.
    assert_eq!(answer(&mut server, &w[2], 1).as_deref(), Ok("alice"));
    assert_eq!(answer(&mut server, &w[0], 2), Err(DigestError::Stale));
    assert_eq!(answer(&mut server, &w[2], 2).as_deref(), Ok("alice"));
}

#[test]
fn hardened_against_guessing_replay_and_other_uris() {
    let t0 = Instant::now();
    let mut server = DigestServer::new("contoso.com", [5; 32], Duration::from_secs(60), t0);
    let www = server.challenge(t0, Algorithm::Md5, false);
    let ch = Challenge::from_auth(&Auth::parse(&www).unwrap()).unwrap();
    let verify = |server: &mut DigestServer, v: &str, ruri: &str| {
        server.verify(t0, &Auth::parse(v).unwrap(), "MESSAGE", ruri, password)
    };
    let alice = |ch: &Challenge, password: &str, uri: &str, nc: u32| {
        ch.authorization("alice", password, "MESSAGE", uri, "c", nc)
    };
    // `uri` must be the Request-URI: an answer for bob's URI does not serve carol's.
    let for_bob = alice(&ch, "wonderland", "sip:bob@contoso.com", 1);
    assert_eq!(
        verify(&mut server, &for_bob, "sip:carol@contoso.com"),
        Err(DigestError::Uri)
    );
    assert_eq!(
        verify(&mut server, &for_bob, "sip:bob@contoso.com").as_deref(),
        Ok("alice")
    );
    // RFC 2069 credentials (no qop, no nonce count) are refused by default.
    let mut old = ch.clone();
    old.qop_auth = false;
    let v = alice(&old, "wonderland", "sip:bob@contoso.com", 1);
    assert_eq!(
        verify(&mut server, &v, "sip:bob@contoso.com"),
        Err(DigestError::NoQop)
    );
    server.allow_rfc2069 = true;
    assert_eq!(
        verify(&mut server, &v, "sip:bob@contoso.com").as_deref(),
        Ok("alice")
    );
    // Three wrong guesses spend the nonce: even the right password needs a new challenge.
    for (nc, guess) in [(2, "a"), (3, "b"), (4, "c")] {
        let g = alice(&ch, guess, "sip:bob@contoso.com", nc);
        assert_eq!(
            verify(&mut server, &g, "sip:bob@contoso.com"),
            Err(DigestError::Response)
        );
    }
    let right = alice(&ch, "wonderland", "sip:bob@contoso.com", 5);
    assert_eq!(
        verify(&mut server, &right, "sip:bob@contoso.com"),
        Err(DigestError::Spent)
    );
    let fresh = server.challenge(t0, Algorithm::Md5, false);
    let ch2 = Challenge::from_auth(&Auth::parse(&fresh).unwrap()).unwrap();
    let ok = alice(&ch2, "wonderland", "sip:bob@contoso.com", 1);
    assert_eq!(
        verify(&mut server, &ok, "sip:bob@contoso.com").as_deref(),
        Ok("alice")
    );
}

#[test]
fn a_server_that_keeps_only_ha1() {
    use ocs_sip_codec::digest::ha1;
    let t0 = Instant::now();
    for alg in Algorithm::ALL {
        let mut server = DigestServer::new("contoso.com", [6; 32], Duration::from_secs(60), t0);
        let www = server.challenge(t0, alg, false);
        let ch = Challenge::from_auth(&Auth::parse(&www).unwrap()).unwrap();
        let v = ch.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "cn",
            1,
        );
        // What is stored: H(A1) of the plain algorithm (the -sess forms derive theirs).
        let stored = ha1(alg.plain(), "alice", "contoso.com", "wonderland");
        let got = server.verify_ha1(
            t0,
            &Auth::parse(&v).unwrap(),
            "REGISTER",
            |u| u == "sip:contoso.com",
            |u, a| (u == "alice" && a == alg.plain()).then(|| stored.clone()),
        );
        assert_eq!(got.as_deref(), Ok("alice"), "{alg:?}");
        let wrong = ha1(alg.plain(), "alice", "contoso.com", "rabbit");
        let v = ch.authorization(
            "alice",
            "wonderland",
            "REGISTER",
            "sip:contoso.com",
            "cn",
            2,
        );
        let got = server.verify_ha1(
            t0,
            &Auth::parse(&v).unwrap(),
            "REGISTER",
            |_| true,
            |_, _| Some(wrong.clone()),
        );
        assert_eq!(got, Err(DigestError::Response));
    }
}
