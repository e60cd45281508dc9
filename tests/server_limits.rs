//! The stream transports' limits (issue #19), each with small numbers on loopback sockets: the
//! connection cap, the first message, header and message deadlines (slowloris), the idle
//! time-out and keep-alives, a peer that never reads, and a message dribbled in 16-byte pieces;
//! and the data at rest: the owner's only, no password in clear.

#![cfg(feature = "server")]

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_stack::server::Config;
use ocs_stack::sip::digest::Challenge;
use ocs_stack::sip::{HeaderName, Message};

#[path = "common/inproc.rs"]
mod inproc;
use inproc::InProcess as Server;

fn start(name: &str) -> Server {
    start_with(name, |_| {})
}

/// With small limits, Digest, TCP only; `change` adjusts the rest.
fn start_with(name: &str, change: impl FnOnce(&mut Config)) -> Server {
    let any = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut cfg = Config {
        udp: None,
        tcp: Some(any),
        tls: None,
        web: None,
        psom: None,
        media: None,
        auth: vec!["Digest".into()],
        max_connections: 4,
        header_timeout_secs: 1,
        message_timeout_secs: 2,
        idle_timeout_secs: 3,
        write_queue_bytes: 64 * 1024,
        ..Config::default()
    };
    change(&mut cfg);
    Server::start(&format!("limits-{name}"), cfg)
}

fn addr(server: &Server) -> SocketAddr {
    server.bound().tcp.unwrap()
}

fn options(n: usize, body: usize) -> Vec<u8> {
    let mut m = format!(
        "OPTIONS sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKlim{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@example.net>;tag=p{n}\r\nTo: <sip:contoso.com>\r\n\
         Call-ID: lim{n}\r\nCSeq: 1 OPTIONS\r\nContent-Type: text/plain\r\nContent-Length: {body}\r\n\r\n"
    )
    .into_bytes();
    m.resize(m.len() + body, b'x');
    m
}

/// Reads until the first response's end of headers: its status line.
fn answer(s: &mut TcpStream) -> Option<String> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
    String::from_utf8_lossy(&got)
        .lines()
        .next()
        .map(str::to_owned)
}

/// How long until the server closes `s` (reads give 0 or a reset), reading what comes.
fn closed_after(s: &mut TcpStream, within: Duration) -> Option<Duration> {
    let t0 = Instant::now();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut b = [0u8; 4096];
    while t0.elapsed() < within {
        match s.read(&mut b) {
            Ok(0) => return Some(t0.elapsed()),
            Ok(_) => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return Some(t0.elapsed()),
        }
    }
    None
}

/// The head of the first response on `s` (the registrar's carry no body), if one comes.
fn response(s: &mut TcpStream) -> Option<Message> {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut got = Vec::new();
    let mut b = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            return Message::parse(Bytes::copy_from_slice(&got[..end + 4])).ok();
        }
        match s.read(&mut b) {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&b[..n]),
        }
    }
}

fn register(user: &str, cseq: u32, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKreg{user}{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:{user}@contoso.com>;tag=r{user}\r\nTo: <sip:{user}@contoso.com>\r\n\
         Call-ID: reg-{user}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@127.0.0.1:9;transport=tcp>\r\n\
         Expires: 3600\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// A connection on which `user` (a demo user) registered with Digest.
fn signed_in(server: &Server, user: &str) -> TcpStream {
    // Each sign-in of a user continues the CSeq of the last (RFC 3261 §10.3 step 7).
    thread_local!(static CSEQ: std::cell::Cell<u32> = const { std::cell::Cell::new(0) });
    let cseq = CSEQ.with(|c| {
        c.set(c.get() + 2);
        c.get()
    });
    let mut s = TcpStream::connect(addr(server)).unwrap();
    s.write_all(&register(user, cseq - 1, None)).unwrap();
    let r = response(&mut s).expect("a challenge");
    assert_eq!(r.status(), Some(401), "{r}");
    let ch = r
        .auth(HeaderName::WwwAuthenticate)
        .flatten()
        .find_map(|a| Challenge::from_auth(&a).ok())
        .expect("a Digest challenge");
    let a = ch.authorization(
        user,
        &format!("{user}-Passw0rd"),
        "REGISTER",
        "sip:contoso.com",
        "c",
        1,
    );
    s.write_all(&register(user, cseq, Some(&a))).unwrap();
    let r = response(&mut s).expect("an answer");
    assert_eq!(r.status(), Some(200), "{r}");
    s
}

#[test]
fn a_full_listener_gives_up_the_oldest_unauthenticated_connection() {
    let server = start("cap");
    // Four connections that never authenticate fill the listener (cap 4).
    let mut idle: Vec<TcpStream> = (0..4)
        .map(|i| {
            let mut s = TcpStream::connect(addr(&server)).unwrap();
            s.write_all(&options(i, 0)).unwrap();
            assert_eq!(answer(&mut s).as_deref(), Some("SIP/2.0 200 OK"));
            s
        })
        .collect();
    // A client still gets in: the oldest idle one makes room.
    let alice = signed_in(&server, "alice");
    assert!(
        closed_after(&mut idle[0], Duration::from_secs(2)).is_some(),
        "the oldest unauthenticated connection is closed"
    );
    for s in &mut idle[1..] {
        assert!(
            closed_after(s, Duration::from_millis(300)).is_none(),
            "the others stay"
        );
    }
    // Authenticated connections are not given up: with four, a fifth is closed at once.
    let mut clients = vec![
        alice,
        signed_in(&server, "bob"),
        signed_in(&server, "carol"),
    ];
    assert!(
        closed_after(&mut idle[1], Duration::from_secs(2)).is_some(),
        "the next oldest made room for bob"
    );
    // carol took the third one's place: three clients and the last idle connection.
    assert!(closed_after(&mut idle[2], Duration::from_secs(2)).is_some());
    assert!(closed_after(&mut idle[3], Duration::from_millis(300)).is_none());
    clients.push(signed_in(&server, "alice"));
    assert!(closed_after(&mut idle[3], Duration::from_secs(2)).is_some());
    let mut fifth = TcpStream::connect(addr(&server)).unwrap();
    let _ = fifth.write_all(&options(5, 0));
    assert!(
        closed_after(&mut fifth, Duration::from_secs(2)).is_some(),
        "a fifth connection is closed when all four authenticated"
    );
    for c in &mut clients {
        assert!(
            closed_after(c, Duration::from_millis(200)).is_none(),
            "the clients stay"
        );
    }
    // One client leaves: there is room again.
    drop(clients.pop());
    std::thread::sleep(Duration::from_millis(200));
    let mut again = TcpStream::connect(addr(&server)).unwrap();
    again.write_all(&options(6, 0)).unwrap();
    assert_eq!(answer(&mut again).as_deref(), Some("SIP/2.0 200 OK"));
}

#[test]
fn slow_and_silent_connections_are_closed_on_time() {
    let server = start("slow");
    // Silent from the start: closed at the first message's header deadline (1 s).
    let mut silent = TcpStream::connect(addr(&server)).unwrap();
    let t = closed_after(&mut silent, Duration::from_secs(5)).expect("closed");
    assert!(
        t >= Duration::from_millis(800),
        "not before its time: {t:?}"
    );
    // Slowloris: a byte every 200 ms never finishes its header section in 1 s.
    let mut slow = TcpStream::connect(addr(&server)).unwrap();
    let msg = options(1, 0);
    let t0 = Instant::now();
    let mut closed = false;
    for b in msg.iter() {
        if slow.write_all(&[*b]).is_err() {
            closed = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        if t0.elapsed() > Duration::from_secs(4) {
            break;
        }
    }
    assert!(
        closed || closed_after(&mut slow, Duration::from_secs(1)).is_some(),
        "the slow connection is closed"
    );
    assert!(t0.elapsed() < Duration::from_secs(4));
    // Idle after a message: closed at the idle time-out (3 s), unless it pings.
    let mut idle = TcpStream::connect(addr(&server)).unwrap();
    idle.write_all(&options(2, 0)).unwrap();
    assert!(answer(&mut idle).is_some());
    let mut pinging = TcpStream::connect(addr(&server)).unwrap();
    pinging.write_all(&options(3, 0)).unwrap();
    assert!(answer(&mut pinging).is_some());
    for _ in 0..5 {
        std::thread::sleep(Duration::from_secs(1));
        pinging.write_all(b"\r\n\r\n").unwrap();
    }
    let t = closed_after(&mut idle, Duration::from_secs(1));
    assert!(t.is_some(), "the idle connection was closed");
    pinging.write_all(&options(4, 0)).unwrap();
    let mut b = [0u8; 2];
    pinging
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    assert!(
        pinging.read(&mut b).is_ok_and(|n| n > 0),
        "the pinging one is still served"
    );
}

#[test]
fn a_peer_that_does_not_read_is_dropped() {
    let server = start("noread");
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    s.set_recv_buffer_size(4096).unwrap();
    s.connect(&addr(&server).into()).unwrap();
    let mut s: TcpStream = s.into();
    s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
    // Requests whose answers are never read: the server's queue for this peer passes its
    // limit and the connection is closed (our writes then fail).
    let mut dropped = false;
    for i in 0..200_000 {
        if s.write_all(&options(i, 0)).is_err() {
            dropped = true;
            break;
        }
    }
    assert!(
        dropped,
        "the server closed the connection of a peer that does not read"
    );
    // Others are served meanwhile.
    let mut other = TcpStream::connect(addr(&server)).unwrap();
    other.write_all(&options(9, 0)).unwrap();
    assert_eq!(answer(&mut other).as_deref(), Some("SIP/2.0 200 OK"));
}

#[test]
fn a_message_dribbled_in_small_pieces_is_taken_whole() {
    let server = start("dribble");
    let mut s = TcpStream::connect(addr(&server)).unwrap();
    s.set_nodelay(true).unwrap();
    let msg = options(1, 60_000);
    for piece in msg.chunks(16) {
        s.write_all(piece).unwrap();
    }
    assert_eq!(answer(&mut s).as_deref(), Some("SIP/2.0 200 OK"));
}

#[test]
fn data_at_rest_is_the_owners_only_and_holds_no_password() {
    use std::os::unix::fs::PermissionsExt as _;
    let server = start_with("rest", |c| {
        c.tls = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
    });
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&server.dir), 0o700, "the data directory");
    assert_eq!(mode(&server.dir.join("tls-key.pem")), 0o600, "the TLS key");
    assert_eq!(mode(&server.dir.join("ocs.sqlite3")), 0o600, "the database");
    // The demo users' passwords are kept as Digest H(A1)s and NT hashes only.
    let mut db = std::fs::read(server.dir.join("ocs.sqlite3")).unwrap();
    if let Ok(wal) = std::fs::read(server.dir.join("ocs.sqlite3-wal")) {
        db.extend_from_slice(&wal);
    }
    assert!(!db.windows(14).any(|w| w == b"alice-Passw0rd"));
    assert!(db.windows(5).any(|w| w == b"alice"), "the users are there");
}

#[test]
fn a_psom_connection_that_does_not_authenticate_is_closed() {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, ServerName};
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let server = start_with("psom", |c| {
        c.tls = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        c.psom = Some(SocketAddr::from(([127, 0, 0, 1], 0)));
        c.psom_auth_timeout_secs = 1;
    });
    let addr = server.bound().psom.unwrap();
    let pem = std::fs::read(server.dir.join("tls-cert.pem")).unwrap();
    let closed_in = server.rt.block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(&pem) {
            roots.add(c.unwrap()).unwrap();
        }
        let cfg = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(cfg));
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let mut tls = connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .expect("the handshake");
        // A few bytes of a record, and then nothing: never an Authenticate.
        tls.write_all(&[0, 0]).await.unwrap();
        let t0 = Instant::now();
        let mut b = [0u8; 64];
        let r = tokio::time::timeout(Duration::from_secs(5), tls.read(&mut b)).await;
        assert!(
            matches!(r, Ok(Ok(0)) | Ok(Err(_))),
            "the server closed it: {r:?}"
        );
        t0.elapsed()
    });
    assert!(
        closed_in < Duration::from_secs(3),
        "closed at the deadline: {closed_in:?}"
    );
}
