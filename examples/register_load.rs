//! A REGISTER load generator for what sipp cannot do: [MS-SIPAE] NTLM sign-ins (three legs,
//! the server's `rspauth` checked) and signed re-REGISTERs, beside Digest for comparison, over
//! UDP against `ocs serve` with synthetic users (`user<N>`, password `secret`).
//!
//! `cargo run --release --example register_load -- ADDR SECONDS CLIENTS ntlm|digest [REFRESHES]`
//!
//! Each of CLIENTS threads has its own UDP socket (an association per client address) and, in
//! a closed loop, signs in a new user, then sends REFRESHES signed re-REGISTERs for it (NTLM;
//! Digest sends them with the next nonce count), for SECONDS. It prints one line: mode,
//! sign-ins per second, refreshes per second, REGISTER transactions per second, failures.
//! `scripts/bench_register.sh ocs ntlm` runs it.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ocs_stack::sip::build::MessageBuilder;
use ocs_stack::sip::digest::Challenge;
use ocs_stack::sip::headers::Auth;
use ocs_stack::sip::ntlm::Credentials;
use ocs_stack::sip::sipae::NtlmSipClient;
use ocs_stack::sip::{HeaderName, Message};

type Fail = Box<dyn std::error::Error>;

struct Client {
    sock: UdpSocket,
    local: SocketAddr,
    server: SocketAddr,
    cseq: u32,
    buf: Vec<u8>,
}

impl Client {
    fn register(&mut self, user: &str, call: &str, auth: Option<&str>) -> Result<Message, Fail> {
        self.cseq += 1;
        let via = format!(
            "SIP/2.0/UDP {};branch=z9hG4bK{call}x{}",
            self.local, self.cseq
        );
        let from = format!("<sip:{user}@contoso.com>;tag={call}");
        let to = format!("<sip:{user}@contoso.com>");
        let cseq = format!("{} REGISTER", self.cseq);
        let contact = format!("<sip:{user}@{}>", self.local);
        let mut b = MessageBuilder::request("REGISTER", "sip:contoso.com")
            .header("Via", via)
            .header("Max-Forwards", 70)
            .header("From", from)
            .header("To", to)
            .header("Call-ID", call)
            .header("CSeq", cseq)
            .header("Contact", contact)
            .header("Expires", 3600);
        if let Some(a) = auth {
            b = b.header("Authorization", a);
        }
        Ok(b.build()?)
    }

    /// A REGISTER of `user` sent; its final response.
    fn send(&mut self, user: &str, call: &str, auth: Option<&str>) -> Result<Message, Fail> {
        let m = self.register(user, call, auth)?;
        self.exchange(&m)
    }

    fn exchange(&mut self, m: &Message) -> Result<Message, Fail> {
        self.sock.send_to(&m.to_vec(), self.server)?;
        loop {
            let (n, _) = self.sock.recv_from(&mut self.buf)?;
            let r = Message::parse(Bytes::copy_from_slice(&self.buf[..n]))?;
            // A late answer to an earlier transaction is skipped.
            if r.cseq().is_ok_and(|c| c.seq == self.cseq) && r.status().unwrap_or(0) >= 200 {
                return Ok(r);
            }
        }
    }
}

fn challenge(r: &Message, scheme: &str) -> Result<String, Fail> {
    Ok(r.auth(HeaderName::WwwAuthenticate)
        .flatten()
        .find(|a| a.scheme_name == Some(scheme))
        .ok_or_else(|| format!("no {scheme} challenge in {:?}", r.status()))?
        .to_string())
}

fn expect(r: &Message, code: u16) -> Result<(), Fail> {
    if r.status() == Some(code) {
        Ok(())
    } else {
        Err(format!("wanted {code}, got {:?}", r.status()).into())
    }
}

/// One NTLM sign-in and `refreshes` signed re-REGISTERs.
fn ntlm(c: &mut Client, user: &str, call: &str, refreshes: u32, n: &Counts) -> Result<(), Fail> {
    let r = c.send(user, call, None)?;
    let mut client = NtlmSipClient::new(Credentials::new(user, "CONTOSO", "secret"), "LOAD");
    let first = client.first_credentials(&challenge(&r, "NTLM")?)?;
    let r = c.send(user, call, Some(&first))?;
    let seed = (c.cseq as u8).wrapping_mul(31);
    let (third, mut sa) = client.answer(&challenge(&r, "NTLM")?, [seed; 8], [seed ^ 0x5a; 16])?;
    let ok = c.send(user, call, Some(&third))?;
    expect(&ok, 200)?;
    sa.verify(&ok)?;
    n.signins.fetch_add(1, Ordering::Relaxed);
    for i in 0..refreshes {
        let unsigned = c.register(user, call, None)?;
        let creds = sa.sign(&unsigned, 0x1000_0000 | i)?;
        let ok = c.exchange(&unsigned.with_header("Authorization", &creds)?)?;
        expect(&ok, 200)?;
        sa.verify(&ok)?;
        n.refreshes.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
}

/// One Digest sign-in and `refreshes` re-REGISTERs with the next nonce counts.
fn digest(c: &mut Client, user: &str, call: &str, refreshes: u32, n: &Counts) -> Result<(), Fail> {
    let r = c.send(user, call, None)?;
    let www = challenge(&r, "Digest")?;
    let ch = Challenge::from_auth(&Auth::parse(&www)?)?;
    for nc in 1..=refreshes + 1 {
        let a = ch.authorization(user, "secret", "REGISTER", "sip:contoso.com", "c0ffee", nc);
        let ok = c.send(user, call, Some(&a))?;
        expect(&ok, 200)?;
        if nc == 1 {
            n.signins.fetch_add(1, Ordering::Relaxed);
        } else {
            n.refreshes.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(())
}

#[derive(Default)]
struct Counts {
    signins: AtomicU64,
    refreshes: AtomicU64,
    failures: AtomicU64,
}

fn main() -> Result<(), Fail> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        eprintln!("usage: register_load ADDR SECONDS CLIENTS ntlm|digest [REFRESHES]");
        std::process::exit(2);
    }
    let server: SocketAddr = args[1].parse()?;
    let secs: u64 = args[2].parse()?;
    let clients: u64 = args[3].parse()?;
    let mode = args[4].clone();
    let refreshes: u32 = args.get(5).map_or(Ok(0), |r| r.parse())?;
    if mode != "ntlm" && mode != "digest" {
        return Err("mode is ntlm or digest".into());
    }
    let counts = Arc::new(Counts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|t| {
            let (counts, stop, mode) = (counts.clone(), stop.clone(), mode.clone());
            std::thread::spawn(move || -> Result<(), String> {
                let sock = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
                sock.set_read_timeout(Some(Duration::from_secs(2)))
                    .map_err(|e| e.to_string())?;
                let local = sock.local_addr().map_err(|e| e.to_string())?;
                let mut c = Client {
                    sock,
                    local,
                    server,
                    cseq: 0,
                    buf: vec![0; 65_536],
                };
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let user = format!("user{}", t * 1_000_000 + i);
                    let call = format!("load{t}n{i}");
                    let r = if mode == "ntlm" {
                        ntlm(&mut c, &user, &call, refreshes, &counts)
                    } else {
                        digest(&mut c, &user, &call, refreshes, &counts)
                    };
                    if let Err(e) = r
                        && counts.failures.fetch_add(1, Ordering::Relaxed) < 3
                    {
                        eprintln!("{user}: {e}");
                    }
                    i += 1;
                }
                Ok(())
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        if let Ok(Err(e)) = t.join() {
            eprintln!("client: {e}");
        }
    }
    let el = start.elapsed().as_secs_f64();
    let s = counts.signins.load(Ordering::Relaxed) as f64;
    let r = counts.refreshes.load(Ordering::Relaxed) as f64;
    // REGISTER transactions: NTLM 3 per sign-in, Digest 2; one per refresh.
    let legs = if mode == "ntlm" { 3.0 } else { 2.0 };
    println!(
        "{mode} sign-ins/s {:.0} refreshes/s {:.0} REGISTER/s {:.0} failures {}",
        s / el,
        r / el,
        (s * legs + r) / el,
        counts.failures.load(Ordering::Relaxed)
    );
    Ok(())
}
