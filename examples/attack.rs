//! Hostile load against `ocs serve`, on loopback only, for `scripts/soak.sh`: each attack of
//! issue #19 as a subcommand, run for SECONDS, printing what the server did to it.
//!
//! `cargo run --release --example attack -- ATTACK ADDR SECONDS [N]`
//!
//! | attack | what it does |
//! |---|---|
//! | `pipeline` | one TCP connection pipelining OPTIONS and never reading the answers |
//! | `idle` | N TCP connections that send nothing |
//! | `partial` | N TCP connections, each holding a 60 KB message without its end |
//! | `slowloris` | N TCP connections sending a header one byte every 10 s |
//! | `dribble` | 60 KB messages in 16-byte segments, one connection |
//! | `invite` | unauthenticated INVITEs over UDP, as fast as it can |
//! | `psom` | N TLS-less connections to the PSOM port holding a partial record |
//! | `probe` | not an attack: one TCP OPTIONS, timed, to see the listener still serves |
//!
//! It prints one line: the attack, connections the server closed (or answers it sent), and
//! how long the attack ran.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

type Fail = Box<dyn std::error::Error>;

fn options(n: usize, body: usize) -> Vec<u8> {
    let mut m = format!(
        "OPTIONS sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1:9;branch=z9hG4bKatk{n}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:attacker@example.net>;tag=a{n}\r\nTo: <sip:contoso.com>\r\n\
         Call-ID: atk{n}\r\nCSeq: 1 OPTIONS\r\nContent-Length: {body}\r\n\r\n"
    )
    .into_bytes();
    m.resize(m.len() + body, b'x');
    m
}

/// Whether the server closed `s` (a read gives 0 or an error other than a time-out).
fn closed(s: &mut TcpStream) -> bool {
    let _ = s.set_nonblocking(true);
    let mut b = [0u8; 1024];
    let r = loop {
        match s.read(&mut b) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break false,
            Err(_) => break true,
        }
    };
    let _ = s.set_nonblocking(false);
    r
}

/// Opens `n` connections (as many as it can), sends each `first`, then every `every` sends
/// each `then` for `secs`; how many the server closed.
fn hold(
    addr: SocketAddr,
    n: usize,
    secs: u64,
    first: &[u8],
    then: Option<(&[u8], Duration)>,
) -> Result<String, Fail> {
    let mut conns = Vec::new();
    for _ in 0..n {
        match TcpStream::connect(addr) {
            Ok(mut s) => {
                let _ = s.write_all(first);
                conns.push(s);
            }
            Err(_) => break,
        }
    }
    let opened = conns.len();
    let t0 = Instant::now();
    let mut last = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        std::thread::sleep(Duration::from_millis(500));
        if let Some((bytes, every)) = then
            && last.elapsed() >= every
        {
            for s in &mut conns {
                let _ = s.write_all(bytes);
            }
            last = Instant::now();
        }
    }
    let gone = conns.iter_mut().map(closed).filter(|c| *c).count();
    Ok(format!("opened {opened} closed-by-server {gone}"))
}

fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!(
            "usage: attack pipeline|idle|partial|slowloris|dribble|invite|psom|probe ADDR SECONDS [N]"
        );
        std::process::exit(2);
    }
    let (attack, addr, secs) = (
        args[1].as_str(),
        args[2].parse::<SocketAddr>()?,
        args[3].parse::<u64>()?,
    );
    if !addr.ip().is_loopback() {
        return Err("loopback only".into());
    }
    let n: usize = args.get(4).map_or(Ok(1000), |v| v.parse())?;
    let t0 = Instant::now();
    let what = match attack {
        "pipeline" => {
            let mut s = TcpStream::connect(addr)?;
            s.set_write_timeout(Some(Duration::from_secs(2)))?;
            let mut sent = 0usize;
            let mut dropped = false;
            while t0.elapsed() < Duration::from_secs(secs) {
                if s.write_all(&options(sent, 0)).is_err() {
                    dropped = true;
                    break;
                }
                sent += 1;
            }
            format!("sent {sent} dropped-by-server {dropped}")
        }
        "idle" => hold(addr, n, secs, b"", None)?,
        "partial" => {
            let mut m = options(0, 60_000);
            m.truncate(m.len() - 10);
            hold(addr, n, secs, &m, None)?
        }
        "slowloris" => hold(addr, n, secs, b"O", Some((b"P", Duration::from_secs(10))))?,
        "dribble" => {
            let mut done = 0;
            while t0.elapsed() < Duration::from_secs(secs) {
                let mut s = TcpStream::connect(addr)?;
                s.set_nodelay(true)?;
                for piece in options(done, 60_000).chunks(16) {
                    s.write_all(piece)?;
                }
                let mut b = [0u8; 512];
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                if s.read(&mut b).is_ok_and(|k| k > 0) {
                    done += 1;
                }
            }
            format!("answered {done}")
        }
        "invite" => {
            // From another loopback address than the legitimate load, as a real attacker is.
            let sock = UdpSocket::bind("127.0.0.2:0")?;
            sock.set_nonblocking(true)?;
            let local = sock.local_addr()?;
            let (mut sent, mut got) = (0u64, 0u64);
            let mut b = vec![0u8; 65_536];
            while t0.elapsed() < Duration::from_secs(secs) {
                let m = format!(
                    "INVITE sip:user1@contoso.com SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKinv{sent}\r\n\
                     Max-Forwards: 70\r\nFrom: <sip:user2@contoso.com>;tag=i{sent}\r\nTo: <sip:user1@contoso.com>\r\n\
                     Call-ID: inv{sent}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
                );
                let _ = sock.send_to(m.as_bytes(), addr);
                sent += 1;
                while sock.recv_from(&mut b).is_ok() {
                    got += 1;
                }
                if sent % 64 == 0 {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            format!("sent {sent} answers {got}")
        }
        "psom" => hold(addr, n, secs, &[0x16, 0x03, 0x01, 0x02], None)?,
        "probe" => {
            let answered =
                TcpStream::connect_timeout(&addr, Duration::from_secs(secs)).and_then(|mut s| {
                    s.set_read_timeout(Some(Duration::from_secs(secs)))?;
                    s.write_all(&options(0, 0))?;
                    let mut b = [0u8; 512];
                    let k = s.read(&mut b)?;
                    Ok(b[..k].starts_with(b"SIP/2.0 200"))
                });
            match answered {
                Ok(true) => format!("answered-ms {}", t0.elapsed().as_millis()),
                Ok(false) => "answered-not-200".to_owned(),
                Err(e) => format!("failed {e}"),
            }
        }
        other => return Err(format!("unknown attack {other}").into()),
    };
    println!("{attack} {what} seconds {:.1}", t0.elapsed().as_secs_f64());
    Ok(())
}
