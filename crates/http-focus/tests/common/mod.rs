//! A small loopback server built from this crate, for the curl and raw-socket tests: the
//! Address Book files of a few days under `/abs/handler/`, a C3P endpoint at the MCU Factory
//! path, and `/upload`, which answers with the length and SHA-1 of what it received.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ocs_http_focus::abs::{
    AbsDirectory, AbsFile, Attribute, Change, Contact, FileKind, Header, Value, unix_from_day,
};
use ocs_http_focus::c3p::{C3pEndpoint, Incoming, MCU_FACTORY_PATH};
use ocs_http_focus::download::{Reply, Resource, content_type_for, evaluate};
use ocs_http_focus::h1::{Connection, Event, Role};
use sha1::{Digest, Sha1};

pub const FIRST_DAY: u16 = 0x0A10;
pub const DAYS: u16 = 3;

pub struct Server {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicUsize>,
    pub files: Arc<BTreeMap<String, (Vec<u8>, u64)>>,
}

fn book(day: u16) -> AbsFile {
    let contacts = (0..500u32)
        .filter(|i| (i + u32::from(day)) % 11 != 0)
        .map(|i| {
            let mut guid = [0; 16];
            guid[..4].copy_from_slice(&i.to_be_bytes());
            Contact {
                guid,
                change: Change::Present,
                values: vec![
                    (3, Value::String(format!("User {i} of day {day}"))),
                    (8, Value::String(format!("sip:user{i}@contoso.com"))),
                ],
            }
        })
        .collect();
    AbsFile {
        header: Header::new(FileKind::Full, day, day),
        normalization_rules: Vec::new(),
        attributes: vec![
            Attribute {
                id: 3,
                flags: 0x0300_0000,
                name: "displayName".into(),
            },
            Attribute {
                id: 8,
                flags: 0x0800_0000,
                name: "msRTCSIP-PrimaryUserAddress".into(),
            },
        ],
        contacts,
    }
}

/// The response a request gets, decided when its head arrives.
enum Route {
    File(Reply, String),
    C3p,
    Upload,
    NotFound,
}

pub fn start() -> Server {
    let mut dir = AbsDirectory::new(30);
    let mut files = BTreeMap::new();
    for day in FIRST_DAY..FIRST_DAY + DAYS {
        for (name, bytes) in dir.publish(&book(day)).unwrap().write {
            files.insert(name.to_string(), (bytes, unix_from_day(day) + 5400));
        }
    }
    let files = Arc::new(files);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let (f, n) = (files.clone(), connections.clone());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            n.fetch_add(1, Ordering::SeqCst);
            let f = f.clone();
            std::thread::spawn(move || serve(stream, &f));
        }
    });
    Server {
        addr,
        connections,
        files,
    }
}

fn serve(mut stream: TcpStream, files: &BTreeMap<String, (Vec<u8>, u64)>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut conn = Connection::new(Role::Server);
    let mut endpoint = C3pEndpoint::new(MCU_FACTORY_PATH);
    let mut buf = vec![0; 16 * 1024];
    let mut out = Vec::new();
    let mut route = Route::NotFound;
    let mut c3p: Option<Incoming> = None;
    let mut upload = Sha1::new();
    let mut uploaded = 0usize;
    loop {
        enum Next {
            Respond,
            Read,
            Close,
            Continue,
            Fail(u16),
        }
        let next = match conn.next_event() {
            Ok(ev @ Event::Request(_)) => {
                let Event::Request(head) = ev else {
                    unreachable!()
                };
                let path = head.target.split('?').next().unwrap_or("");
                route = if let Some(name) = path.strip_prefix("/abs/handler/") {
                    match files.get(name) {
                        Some((bytes, modified)) => {
                            let res = Resource::new(bytes, *modified, content_type_for(name));
                            Route::File(evaluate(&head, &res), name.to_owned())
                        }
                        None => Route::NotFound,
                    }
                } else if path == MCU_FACTORY_PATH {
                    c3p = endpoint.on_event(&Event::Request(head));
                    Route::C3p
                } else if path == "/upload" {
                    upload = Sha1::new();
                    uploaded = 0;
                    Route::Upload
                } else {
                    Route::NotFound
                };
                Next::Continue
            }
            Ok(Event::Data(d)) => {
                match route {
                    Route::C3p => c3p = endpoint.on_event(&Event::Data(d)),
                    Route::Upload => {
                        upload.update(d);
                        uploaded += d.len();
                    }
                    _ => {}
                }
                Next::Continue
            }
            Ok(ev @ Event::EndOfMessage(_)) => {
                if matches!(route, Route::C3p) {
                    c3p = endpoint.on_event(&ev);
                }
                Next::Continue
            }
            Ok(Event::Paused) => Next::Respond,
            Ok(Event::NeedData) => Next::Read,
            Ok(Event::ConnectionClosed) => Next::Close,
            Ok(_) => Next::Continue,
            Err(e) => Next::Fail(e.status()),
        };
        out.clear();
        match next {
            Next::Continue => {
                if conn.waiting_for_100_continue() {
                    conn.send_response(
                        100,
                        "Continue",
                        std::iter::empty::<(&str, &str)>(),
                        &mut out,
                    )
                    .unwrap();
                }
            }
            Next::Respond if conn.must_close() => break,
            Next::Respond => match &route {
                Route::File(reply, name) => {
                    let (bytes, modified) = &files[name];
                    let res = Resource::new(bytes, *modified, content_type_for(name));
                    reply.send(&mut conn, &res, &mut out).unwrap();
                }
                Route::C3p => match c3p.take() {
                    Some(Incoming::Request(doc)) => {
                        let answer = format!(
                            "<response xmlns=\"urn:ietf:params:xml:ns:cccp\" code=\"success\" requestId=\"{}\"/>",
                            doc.len()
                        );
                        C3pEndpoint::respond(&mut conn, answer.as_bytes(), &mut out).unwrap();
                    }
                    Some(Incoming::Rejected(why)) => {
                        C3pEndpoint::reject(&mut conn, why, &mut out).unwrap()
                    }
                    None => unreachable!("end of message seen"),
                },
                Route::Upload => {
                    let text = format!("{uploaded} {}", hex(&upload.clone().finalize()));
                    conn.send_response(200, "OK", [("content-type", "text/plain")], &mut out)
                        .unwrap();
                    conn.send_data(text.as_bytes(), &mut out).unwrap();
                    conn.send_end_of_message(&[] as &[(&str, &str)], &mut out)
                        .unwrap();
                }
                Route::NotFound => {
                    conn.send_response(404, "Not Found", [("content-length", "0")], &mut out)
                        .unwrap();
                    conn.send_end_of_message(&[] as &[(&str, &str)], &mut out)
                        .unwrap();
                }
            },
            Next::Read => match stream.read(&mut buf) {
                Ok(0) | Err(_) => conn.receive_eof(),
                Ok(n) => conn.receive_data(&buf[..n]),
            },
            Next::Fail(status) => {
                let _ =
                    conn.send_response(status, "Bad Request", [("content-length", "0")], &mut out);
                let _ = conn.send_end_of_message(&[] as &[(&str, &str)], &mut out);
                let _ = stream.write_all(&out);
                break;
            }
            Next::Close => break,
        }
        if !out.is_empty() && stream.write_all(&out).is_err() {
            break;
        }
        if conn.must_close()
            && !matches!(next, Next::Read)
            && conn.their_state() != ocs_http_focus::h1::State::Body
        {
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Sends raw bytes on a new connection and reads until the server closes it.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .expect("the server closes the connection");
    out
}
