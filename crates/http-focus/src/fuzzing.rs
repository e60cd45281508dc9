//! Oracles for the fuzz targets in `fuzz/` (one line each there), also replayed by
//! `cargo test` on the regression inputs. Each panics only when the library breaks a
//! promise: a panic inside it, events that depend on how the bytes were split, or a file
//! that does not survive write → parse.

use crate::abs::AbsFile;
use crate::h1::{Connection, Error, Event, Limits, Role};

/// An owned record of an event, to compare two runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Head(String, u16, String, Vec<(String, Vec<u8>)>),
    Data(Vec<u8>),
    End(Vec<(String, Vec<u8>)>),
    Closed,
}

fn record(ev: &Event<'_>, log: &mut Vec<Seen>) {
    let fields = |f: crate::h1::Fields<'_>| -> Vec<(String, Vec<u8>)> {
        f.iter().map(|(n, v)| (n.to_owned(), v.to_vec())).collect()
    };
    match ev {
        Event::Request(h) => log.push(Seen::Head(
            h.method.into(),
            0,
            h.target.into(),
            fields(h.headers),
        )),
        Event::InformationalResponse(h) | Event::Response(h) => log.push(Seen::Head(
            String::new(),
            h.status,
            h.reason.into(),
            fields(h.headers),
        )),
        Event::Data(d) => match log.last_mut() {
            Some(Seen::Data(prev)) => prev.extend_from_slice(d),
            _ => log.push(Seen::Data(d.to_vec())),
        },
        Event::EndOfMessage(t) => log.push(Seen::End(fields(*t))),
        Event::ConnectionClosed => log.push(Seen::Closed),
        Event::NeedData | Event::Paused => {}
    }
}

/// Drains events; a server answers each request so that the next one is read.
fn drain(c: &mut Connection, log: &mut Vec<Seen>) -> Result<(), Error> {
    let mut sink = Vec::new();
    loop {
        let ev = c.next_event()?;
        record(&ev, log);
        match ev {
            Event::NeedData | Event::ConnectionClosed => return Ok(()),
            Event::Paused => {
                if c.role() == Role::Server
                    && c.our_state() == crate::h1::State::Idle
                    && c.send_response(204, "No Content", [("x", "y")], &mut sink)
                        .is_ok()
                {
                    let _ = c.send_end_of_message(&[] as &[(&str, &str)], &mut sink);
                    sink.clear();
                    continue;
                }
                return Ok(());
            }
            _ => {}
        }
    }
}

/// The same bytes fed whole and in the chunk sizes the input chooses.
fn stream(role: Role, data: &[u8], prepare: impl Fn(&mut Connection)) {
    let (sizes, body) = data.split_at(data.len().min(4));
    let limits = Limits {
        max_head_size: 4096,
        max_headers: 32,
        max_body_size: 1 << 16,
        ..Limits::default()
    };
    let run = |split: bool| {
        let mut c = Connection::with_limits(role, limits);
        prepare(&mut c);
        let mut log = Vec::new();
        let mut rest = body;
        let mut i = 0;
        while !rest.is_empty() {
            let n = if split {
                usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(0) % 64) + 1
            } else {
                rest.len()
            };
            let (now, later) = rest.split_at(n.min(rest.len()));
            c.receive_data(now);
            rest = later;
            i += 1;
            if let Err(e) = drain(&mut c, &mut log) {
                return (log, Some(e));
            }
        }
        c.receive_eof();
        let end = drain(&mut c, &mut log).err();
        (log, end)
    };
    let whole = run(false);
    let split = run(true);
    assert_eq!(whole, split, "events depend on how the bytes were split");
    if let Some(e) = whole.1 {
        assert!(
            e.offset() <= body.len() as u64,
            "error offset {e:?} past the input"
        );
    }
}

/// Target `http_request_stream`: 4 bytes of chunk sizes, then a server's received bytes.
pub fn http_request_stream(data: &[u8]) {
    stream(Role::Server, data, |_| {});
}

/// Target `http_response_stream`: 4 bytes of chunk sizes, then a client's received bytes,
/// after eight pipelined requests (every third a HEAD).
pub fn http_response_stream(data: &[u8]) {
    stream(Role::Client, data, |c| {
        let mut out = Vec::new();
        for i in 0..8 {
            let method = if i % 3 == 2 { "HEAD" } else { "GET" };
            c.send_request(method, "/", [("host", "h")], &mut out)
                .expect("request");
            c.send_end_of_message(&[] as &[(&str, &str)], &mut out)
                .expect("end");
        }
    });
}

/// Target `abs_file`: parse; what parses writes back to the same bytes.
pub fn abs_file(data: &[u8]) {
    if let Ok(file) = AbsFile::parse(data) {
        let bytes = file.to_bytes().expect("a parsed file writes");
        assert_eq!(bytes, data, "write(parse(x)) != x");
        if let Ok(n) = file.normalized() {
            let again = AbsFile::parse(&n.to_bytes().expect("normalized writes")).expect("reparse");
            assert_eq!(again, n);
        }
    }
}
