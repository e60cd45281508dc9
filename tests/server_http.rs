//! The reference server with real sockets: conferences created and joined over SIP/TCP, the
//! focus reaching the MCUs through the HTTP listener, a scheduled conference surviving a
//! restart while an expired one is purged; and curl (a client nobody here wrote) against the
//! address-book files (200 with ETag, 304, 206) and the MCUs' C3P endpoint.
//!
//! The curl part needs the `curl-tests` feature and curl on the PATH; `scripts/test.sh`
//! turns it on and CI requires it with `OCS_REQUIRE_INTEROP=1`.

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ocs_stack::cccp::info::{ConferenceDescription, ConferenceInfo, Endpoint, Role, User};
use ocs_stack::cccp::message::{Body, Code, Keys, Reason};
use ocs_stack::cccp::time::{DateTime, Timestamp};
use ocs_stack::client::UserAgent as Ua;
use ocs_stack::server::{Config, Running, spawn};

const FACTORY: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focusfactory";

fn focus(id: &str) -> String {
    format!("sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:{id}")
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ocs-http-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn start(dir: &Path) -> Running {
    start_with(dir, Vec::new()).await
}

/// With authentication `auth` (SIP, and HTTP Digest for the address book and the reports).
async fn start_with(dir: &Path, auth: Vec<String>) -> Running {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    spawn(Config {
        data_dir: dir.to_owned(),
        udp: None,
        tcp: Some(any),
        tls: None,
        web: Some(any),
        psom: Some(any),
        auth,
        ..Config::default()
    })
    .await
    .unwrap()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn add_conference(id: &str, subject: &str, lifetime: i64) -> Body {
    Body::AddConference {
        info: Some(Box::new(ConferenceInfo {
            description: Some(ConferenceDescription {
                conference_id: Some(id.into()),
                subject: Some(subject.into()),
                expiry_time: Some(DateTime::from_timestamp(Timestamp(now() + lifetime))),
                ..ConferenceDescription::default()
            }),
            ..ConferenceInfo::default()
        })),
    }
}

#[tokio::test]
async fn conferences_over_sip_and_http_survive_a_restart() {
    let dir = temp_dir("restart");
    let server = start(&dir).await;
    let sip = server.bound.tcp.unwrap();
    let mut alice = Ua::connect(sip, "alice").await.unwrap();
    // Two scheduled conferences: one for an hour, one that ends in two seconds.
    for (id, subject, life) in [
        ("DESIGN01", "Design review", 3600),
        ("SHORT001", "Stand-up", 2),
    ] {
        let (ok, r) = alice
            .c3p(
                "SERVICE",
                FACTORY,
                &format!("svc-{id}"),
                None,
                add_conference(id, subject, life),
                None,
            )
            .await
            .unwrap();
        assert_eq!(ok.status(), Some(200));
        assert_eq!(r.code, Code::Success, "{r:?}");
    }
    // Join, then dial in to the IM MCU: the focus's addUser goes to the MCU over HTTP.
    let design = focus("DESIGN01");
    let join = Body::AddUser {
        keys: Some(Keys::conference(design.clone())),
        user: Some(Box::new(User {
            entity: "sip:alice@contoso.com".into(),
            roles: Some(vec![Role::Presenter]),
            endpoints: vec![Endpoint {
                entity: "{alice-1}".into(),
                ..Endpoint::default()
            }],
            ..User::default()
        })),
    };
    let (ok, r) = alice
        .c3p("INVITE", &design, "join", None, join, None)
        .await
        .unwrap();
    assert_eq!((ok.status(), r.code), (Some(200), Code::Success));
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    let chat = "sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:DESIGN01";
    let dial_in = Body::AddUser {
        keys: Some(Keys::conference(design.clone())),
        user: Some(Box::new(User::new(
            "sip:alice@contoso.com",
            Role::Presenter,
        ))),
    };
    let (ok, r) = alice
        .c3p("INFO", &design, "join", Some(&tag), dial_in, Some(chat))
        .await
        .unwrap();
    assert_eq!((ok.status(), r.code), (Some(200), Code::Success), "{r:?}");
    let Body::AddUser { user: Some(u), .. } = &r.command.body else {
        panic!("{r:?}")
    };
    assert!(!u.endpoints.is_empty(), "the MCU reported the endpoint");
    server.stop().await.unwrap();

    // Past the short one's expiry, the server starts again on the same data.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let server = start(&dir).await;
    let mut alice = Ua::connect(server.bound.tcp.unwrap(), "alice")
        .await
        .unwrap();
    let get = |id: &str| Body::GetConference {
        keys: Some(Keys::conference(focus(id))),
        info: None,
    };
    let (_, r) = alice
        .c3p("SERVICE", FACTORY, "get1", None, get("DESIGN01"), None)
        .await
        .unwrap();
    assert_eq!(
        r.code,
        Code::Success,
        "the scheduled conference survived: {r:?}"
    );
    let Body::GetConference { info: Some(ci), .. } = &r.command.body else {
        panic!("{r:?}")
    };
    let d = ci.description.as_ref().unwrap();
    assert_eq!(d.subject.as_deref(), Some("Design review"));
    assert!(ci.user_list().is_empty(), "sessions end with the server");
    let (_, r) = alice
        .c3p("SERVICE", FACTORY, "get2", None, get("SHORT001"), None)
        .await
        .unwrap();
    assert_eq!(
        (r.code, r.reason),
        (Code::Failure, Some(Reason::ConferenceDoesNotExist)),
        "the expired one was purged"
    );
    // It can be joined again, and its MCUs know it again (told over HTTP at start-up).
    let join = Body::AddUser {
        keys: Some(Keys::conference(design.clone())),
        user: Some(Box::new(User::new(
            "sip:alice@contoso.com",
            Role::Presenter,
        ))),
    };
    let (ok, r) = alice
        .c3p("INVITE", &design, "join2", None, join, None)
        .await
        .unwrap();
    assert_eq!((ok.status(), r.code), (Some(200), Code::Success));
    let tag = ok.to().unwrap().tag().unwrap().to_owned();
    let dial_in = Body::AddUser {
        keys: Some(Keys::conference(design.clone())),
        user: Some(Box::new(User::new(
            "sip:alice@contoso.com",
            Role::Presenter,
        ))),
    };
    let (_, r) = alice
        .c3p("INFO", &design, "join2", Some(&tag), dial_in, Some(chat))
        .await
        .unwrap();
    assert_eq!(r.code, Code::Success, "{r:?}");
    server.stop().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(not(feature = "curl-tests"))]
#[test]
fn curl_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the server's curl tests were built without `curl-tests`"
    );
    eprintln!("server curl tests NOT RUN: build with --features ocs-stack/curl-tests");
}

#[cfg(feature = "curl-tests")]
mod with_curl {
    use std::process::Command;

    use super::*;
    use bytes::Bytes;
    use ocs_stack::cccp::message::{Request, Response};
    use ocs_stack::http::abs::{AbsFile, day_from_unix};

    /// curl's output: (status line and headers, body).
    fn curl(args: &[&str]) -> (String, Vec<u8>) {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20", "--include"])
            .args(args)
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let split = out
            .stdout
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a head");
        (
            String::from_utf8_lossy(&out.stdout[..split]).into_owned(),
            out.stdout[split + 4..].to_vec(),
        )
    }

    fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
        head.lines().find_map(|l| {
            let (n, v) = l.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    // curl blocks its thread: the server runs on the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn curl_authenticates_for_the_address_book_and_the_reports_with_digest() {
        let dir = temp_dir("curl-digest");
        let server = start_with(&dir, vec!["Digest".into()]).await;
        let web = server.bound.web.unwrap();
        let day = day_from_unix(now() as u64).unwrap();
        for path in [
            format!("/abs/handler/F-{day:04X}.lsabs"),
            "/av/quality".into(),
        ] {
            let url = format!("http://{web}{path}");
            let (head, _) = curl(&[&url]);
            assert!(head.starts_with("HTTP/1.1 401"), "{head}");
            assert!(
                header(&head, "www-authenticate").is_some_and(|v| v.starts_with("Digest ")),
                "{head}"
            );
            // curl prints the 401 it answers, then the second response.
            let after = |(head, rest): (String, Vec<u8>)| {
                format!("{head}\r\n\r\n{}", String::from_utf8_lossy(&rest))
            };
            let wrong = after(curl(&["--digest", "-u", "alice:not-her-password", &url]));
            assert_eq!(wrong.matches("HTTP/1.1 401").count(), 2, "{wrong}");
            let right = after(curl(&["--digest", "-u", "alice:alice-Passw0rd", &url]));
            assert!(right.contains("HTTP/1.1 200"), "{right}");
        }
        server.stop().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    // curl blocks its thread: the server runs on the other.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn curl_downloads_the_address_book_and_talks_c3p_to_an_mcu() {
        let dir = temp_dir("curl");
        let server = start(&dir).await;
        let web = server.bound.web.unwrap();
        let day = day_from_unix(now() as u64).unwrap();
        let url = format!("http://{web}/abs/handler/F-{day:04X}.lsabs");
        let (head, body) = curl(&[&url]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let etag = header(&head, "etag").expect("an ETag").to_owned();
        let book = AbsFile::parse(&body).expect("a full address book");
        assert_eq!(book.contacts.len(), 3, "the demo users");
        assert_eq!(book.header.day, day);
        // Conditional GET: 304 without a body.
        let (head, body) = curl(&["-H", &format!("If-None-Match: {etag}"), &url]);
        assert!(head.starts_with("HTTP/1.1 304"), "{head}");
        assert!(body.is_empty());
        let since = header(&curl(&[&url]).0, "last-modified")
            .unwrap()
            .to_owned();
        let (head, _) = curl(&["-H", &format!("If-Modified-Since: {since}"), &url]);
        assert!(head.starts_with("HTTP/1.1 304"), "{head}");
        // A range: 206 with those bytes.
        let (head, part) = curl(&["-r", "16-47", &url]);
        assert!(head.starts_with("HTTP/1.1 206"), "{head}");
        let full = curl(&[&url]).1;
        assert_eq!(part, full[16..48]);
        assert_eq!(
            header(&head, "content-range"),
            Some(format!("bytes 16-47/{}", full.len()).as_str())
        );
        // The device form, case-insensitive names, and a 404.
        let (head, _) = curl(&[&format!("http://{web}/abs/handler/f-{day:04x}.dabs")]);
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let (head, _) = curl(&[&format!("http://{web}/abs/handler/F-0001.lsabs")]);
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");

        // The MCU listener speaks C3P over HTTP to a focus that sends its secret (made in
        // the data directory on first start): addConference, then getConference, as the
        // focus would send them. Without the secret: 401, and no C3P answer.
        let mcu = server.bound.mcu;
        let secret = std::fs::read_to_string(dir.join("mcu-secret")).unwrap();
        let bearer = format!("Authorization: Bearer {secret}");
        let chat = "sip:alice@contoso.com;gruu;opaque=app:conf:chat:id:CURLTEST1";
        let c3p_file = |body: Body| {
            let r = Request::new(1, focus("CURLTEST1"), chat, body);
            let file = dir.join("c3p.xml");
            std::fs::write(&file, r.to_bytes()).unwrap();
            file
        };
        let file = c3p_file(Body::AddConference { info: None });
        let (head, body) = curl(&[
            "-H",
            "Content-Type: application/cccp+xml",
            "--data-binary",
            &format!("@{}", file.display()),
            &format!("http://{mcu}/LiveServer/chat/"),
        ]);
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        assert!(body.is_empty());
        let post = |body: Body| {
            let file = c3p_file(body);
            let (head, body) = curl(&[
                "-H",
                &bearer,
                "-H",
                "Content-Type: application/cccp+xml",
                "--data-binary",
                &format!("@{}", file.display()),
                &format!("http://{mcu}/LiveServer/chat/"),
            ]);
            assert!(head.starts_with("HTTP/1.1 200"), "{head}");
            assert_eq!(header(&head, "content-type"), Some("application/cccp+xml"));
            Response::parse(Bytes::from(body)).unwrap()
        };
        let r = post(Body::AddConference { info: None });
        assert_eq!(r.code, Code::Success, "{r:?}");
        let r = post(Body::GetConference {
            keys: Some(Keys::conference(chat)),
            info: None,
        });
        assert_eq!(r.code, Code::Success, "{r:?}");
        // Not C3P: 415; another path: 404.
        let (head, _) = curl(&[
            "-H",
            &bearer,
            "-H",
            "Content-Type: text/plain",
            "--data",
            "hello",
            &format!("http://{mcu}/LiveServer/chat/"),
        ]);
        assert!(head.starts_with("HTTP/1.1 415"), "{head}");
        let (head, _) = curl(&["-H", &bearer, &format!("http://{mcu}/LiveServer/nothing/")]);
        assert!(head.starts_with("HTTP/1.1 404"), "{head}");
        server.stop().await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
