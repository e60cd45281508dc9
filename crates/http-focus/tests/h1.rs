//! The HTTP/1.1 connection: framing, keep-alive, both roles, the smuggling defences and limits.

use ocs_http_focus::h1::{BodyLength, Connection, Error, Event, Limits, Role, SendError, State};

/// An owned copy of an event, to compare whole conversations.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ev {
    Req(String, String, Vec<(String, String)>),
    Info(u16),
    Resp(u16, Vec<(String, String)>),
    Data(Vec<u8>),
    End(Vec<(String, String)>),
    Closed,
}

fn fields<'a>(f: impl Iterator<Item = (&'a str, &'a [u8])>) -> Vec<(String, String)> {
    f.map(|(n, v)| (n.to_owned(), String::from_utf8_lossy(v).into_owned()))
        .collect()
}

/// Drains events until NeedData/Paused, merging adjacent Data.
fn drain(c: &mut Connection) -> Result<Vec<Ev>, Error> {
    let mut out = Vec::new();
    loop {
        let ev = match c.next_event()? {
            Event::Request(h) => {
                Ev::Req(h.method.into(), h.target.into(), fields(h.headers.iter()))
            }
            Event::InformationalResponse(h) => Ev::Info(h.status),
            Event::Response(h) => Ev::Resp(h.status, fields(h.headers.iter())),
            Event::Data(d) => {
                if let Some(Ev::Data(prev)) = out.last_mut() {
                    prev.extend_from_slice(d);
                    continue;
                }
                Ev::Data(d.to_vec())
            }
            Event::EndOfMessage(t) => Ev::End(fields(t.iter())),
            Event::ConnectionClosed => {
                out.push(Ev::Closed);
                return Ok(out);
            }
            Event::NeedData | Event::Paused => return Ok(out),
        };
        out.push(ev);
    }
}

/// Feeds `input` whole, and again one byte at a time: both must give the same events.
fn server_events(input: &[u8]) -> Result<Vec<Ev>, Error> {
    let mut whole = Connection::new(Role::Server);
    whole.receive_data(input);
    let a = drain(&mut whole);
    let mut bytewise = Connection::new(Role::Server);
    let mut b = Vec::new();
    let mut err = None;
    for &byte in input {
        bytewise.receive_data(&[byte]);
        match drain(&mut bytewise) {
            Ok(evs) => {
                for e in evs {
                    match (b.last_mut(), e) {
                        (Some(Ev::Data(prev)), Ev::Data(d)) => prev.extend_from_slice(&d),
                        (_, e) => b.push(e),
                    }
                }
            }
            Err(e) => {
                err = Some(e);
                break;
            }
        }
    }
    match (&a, err) {
        (Ok(evs), None) => assert_eq!(evs, &b, "bytewise feeding differs"),
        (Err(e), Some(f)) => assert_eq!(*e, f, "bytewise feeding fails elsewhere"),
        (a, err) => panic!("whole: {a:?}, bytewise error: {err:?}"),
    }
    a
}

fn hv(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

const NO_TRAILERS: &[(&str, &str)] = &[];

#[test]
fn request_with_content_length() {
    let evs = server_events(b"POST /c3p HTTP/1.1\r\nHost: mcu\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    assert_eq!(
        evs,
        vec![
            Ev::Req(
                "POST".into(),
                "/c3p".into(),
                hv(&[("Host", "mcu"), ("Content-Length", "5")])
            ),
            Ev::Data(b"hello".to_vec()),
            Ev::End(vec![]),
        ]
    );
}

#[test]
fn chunked_request_with_trailers_and_extensions() {
    let raw = b"POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;name=value\r\nhello\r\n6 ; x\r\n world\r\n0\r\nChecksum: abc\r\nX-Note: done\r\n\r\n";
    let evs = server_events(raw).unwrap();
    assert_eq!(evs[1], Ev::Data(b"hello world".to_vec()));
    assert_eq!(
        evs[2],
        Ev::End(hv(&[("Checksum", "abc"), ("X-Note", "done")]))
    );
}

#[test]
fn keep_alive_and_pipelining() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\nGET /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    );
    let mut wire = Vec::new();
    for (i, target) in ["/a", "/b", "/c"].iter().enumerate() {
        let evs = drain(&mut s).unwrap();
        assert_eq!(evs.len(), 2, "one request at a time: {evs:?}");
        assert!(matches!(&evs[0], Ev::Req(_, t, _) if t == target));
        assert_eq!(s.their_state(), State::Done);
        assert!(matches!(s.next_event().unwrap(), Event::Paused));
        s.send_response(200, "OK", [("content-length", "1")], &mut wire)
            .unwrap();
        s.send_data(b"x", &mut wire).unwrap();
        s.send_end_of_message(NO_TRAILERS, &mut wire).unwrap();
        if i < 2 {
            assert_eq!((s.their_state(), s.our_state()), (State::Idle, State::Idle));
        }
    }
    assert!(s.must_close());
    let text = String::from_utf8(wire).unwrap();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 3);
    assert!(text.ends_with("content-length: 1\r\nconnection: close\r\n\r\nx"));
}

#[test]
fn expect_100_continue() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(
        b"PUT /f HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
    );
    let evs = drain(&mut s).unwrap();
    assert_eq!(evs.len(), 1);
    assert!(s.waiting_for_100_continue());
    let mut wire = Vec::new();
    s.send_response(100, "Continue", NO_TRAILERS.iter().copied(), &mut wire)
        .unwrap();
    assert!(!s.waiting_for_100_continue());
    assert_eq!(wire, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.receive_data(b"abc");
    assert_eq!(
        drain(&mut s).unwrap(),
        vec![Ev::Data(b"abc".to_vec()), Ev::End(vec![])]
    );

    // The client side of the same exchange.
    let mut c = Connection::new(Role::Client);
    let mut req = Vec::new();
    c.send_request(
        "PUT",
        "/f",
        [
            ("host", "h"),
            ("expect", "100-continue"),
            ("content-length", "3"),
        ],
        &mut req,
    )
    .unwrap();
    assert!(c.waiting_for_100_continue());
    c.receive_data(&wire);
    assert_eq!(drain(&mut c).unwrap(), vec![Ev::Info(100)]);
    assert!(!c.waiting_for_100_continue());
}

#[test]
fn head_204_304_and_1xx_have_no_body() {
    let mut c = Connection::new(Role::Client);
    let mut wire = Vec::new();
    for method in ["HEAD", "GET", "GET"] {
        c.send_request(method, "/", [("host", "h")], &mut wire)
            .unwrap();
        c.send_end_of_message(NO_TRAILERS, &mut wire).unwrap();
    }
    c.receive_data(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n",
    );
    let evs = drain(&mut c).unwrap();
    let kinds: Vec<_> = evs
        .iter()
        .map(|e| match e {
            Ev::Resp(s, _) => *s,
            Ev::Info(s) => *s,
            Ev::End(_) => 0,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(kinds, [200, 0, 102, 204, 0, 304, 0]);
    assert_eq!(c.their_state(), State::Idle);
}

#[test]
fn response_until_close_and_http10() {
    let mut c = Connection::new(Role::Client);
    let mut wire = Vec::new();
    c.send_request("GET", "/", [("host", "h")], &mut wire)
        .unwrap();
    c.send_end_of_message(NO_TRAILERS, &mut wire).unwrap();
    c.receive_data(b"HTTP/1.0 200 OK\r\n\r\nall of it");
    c.receive_eof();
    assert_eq!(
        drain(&mut c).unwrap(),
        vec![
            Ev::Resp(200, vec![]),
            Ev::Data(b"all of it".to_vec()),
            Ev::End(vec![]),
            Ev::Closed
        ]
    );
    assert!(!c.keep_alive());

    // An HTTP/1.0 client gets a close-delimited response unless it asked for keep-alive.
    let mut s = Connection::new(Role::Server);
    s.receive_data(b"GET / HTTP/1.0\r\n\r\n");
    drain(&mut s).unwrap();
    let mut out = Vec::new();
    s.send_response(200, "OK", NO_TRAILERS.iter().copied(), &mut out)
        .unwrap();
    s.send_data(b"body", &mut out).unwrap();
    s.send_end_of_message(NO_TRAILERS, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nbody");
    assert!(s.must_close());

    let mut s = Connection::new(Role::Server);
    s.receive_data(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    drain(&mut s).unwrap();
    let mut out = Vec::new();
    s.send_response(200, "OK", [("content-length", "0")], &mut out)
        .unwrap();
    s.send_end_of_message(NO_TRAILERS, &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
    assert!(!s.must_close());
    assert_eq!(s.their_state(), State::Idle);
}

#[test]
fn server_chunks_when_no_length_is_given() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n");
    drain(&mut s).unwrap();
    let mut out = Vec::new();
    s.send_response(200, "OK", [("content-type", "text/plain")], &mut out)
        .unwrap();
    s.send_data(&[b'a'; 300], &mut out).unwrap();
    s.send_end_of_message(&[("x-sum", "1")], &mut out).unwrap();
    let mut c = Connection::new(Role::Client);
    c.send_request("GET", "/", [("host", "h")], &mut Vec::new())
        .unwrap();
    c.send_end_of_message(NO_TRAILERS, &mut Vec::new()).unwrap();
    c.receive_data(&out);
    let evs = drain(&mut c).unwrap();
    assert_eq!(evs[1], Ev::Data(vec![b'a'; 300]));
    assert_eq!(evs[2], Ev::End(hv(&[("x-sum", "1")])));
    assert!(String::from_utf8_lossy(&out).contains("transfer-encoding: chunked\r\n\r\n12c\r\n"));
}

#[test]
fn obs_fold_is_unfolded_in_responses() {
    let mut c = Connection::new(Role::Client);
    c.send_request("GET", "/", [("host", "h")], &mut Vec::new())
        .unwrap();
    c.send_end_of_message(NO_TRAILERS, &mut Vec::new()).unwrap();
    c.receive_data(b"HTTP/1.1 200 OK\r\nX-Long: a\r\n b\r\nContent-Length: 0\r\n\r\n");
    let evs = drain(&mut c).unwrap();
    assert_eq!(
        evs[0],
        Ev::Resp(200, hv(&[("X-Long", "a   b"), ("Content-Length", "0")]))
    );
}

/// Each request-smuggling vector of the issue, with the error and its offset.
#[test]
fn smuggling_defences() {
    let cases: &[(&[u8], Error)] = &[
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
            Error::ContentLengthWithTransferEncoding { offset: 45 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            Error::ContentLengthWithTransferEncoding { offset: 54 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            Error::ConflictingContentLength { offset: 61 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3, 4\r\n\r\n",
            Error::ConflictingContentLength { offset: 42 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: +3\r\n\r\n",
            Error::InvalidContentLength { offset: 42 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            Error::UnsupportedTransferCoding { offset: 45 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n",
            Error::UnsupportedTransferCoding { offset: 45 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            Error::UnsupportedTransferCoding { offset: 73 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n",
            Error::UnsupportedTransferCoding { offset: 45 },
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n b\r\n\r\n",
            Error::ObsFold { offset: 31 },
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\r\nContent-Length : 0\r\n\r\n",
            Error::WhitespaceBeforeColon { offset: 39 },
        ),
        (
            b"GET / HTTP/1.1\nHost: h\r\n\r\n",
            Error::BareLineFeed { offset: 14 },
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\n\r\n",
            Error::BareLineFeed { offset: 23 },
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",
            Error::BareCarriageReturn { offset: 23 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\n",
            Error::InvalidChunkSize { offset: 57 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n",
            Error::InvalidChunkSize { offset: 57 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n",
            Error::InvalidChunkSize { offset: 56 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n",
            Error::InvalidChunkSize { offset: 57 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n",
            Error::BareLineFeed { offset: 57 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            Error::MissingChunkTerminator { offset: 64 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n",
            Error::ChunkSizeTooLong { limit: 16, offset: 56 },
        ),
        (
            b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n",
            Error::ForbiddenTrailer { offset: 59 },
        ),
        (b"GET / HTTP/1.1\r\n\r\n", Error::MissingHost { offset: 0 }),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
            Error::DuplicateHost { offset: 25 },
        ),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
            Error::UnsupportedTransferCoding { offset: 17 },
        ),
        (b"GET / HTTP/2.0\r\nHost: h\r\n\r\n", Error::UnsupportedVersion { offset: 6 }),
        (b"G@T / HTTP/1.1\r\nHost: h\r\n\r\n", Error::InvalidRequestLine { offset: 1 }),
        (
            b"GET / HTTP/1.1\r\nHo(st: h\r\n\r\n",
            Error::InvalidHeaderName { offset: 18 },
        ),
        (
            b"GET / HTTP/1.1\r\nHost: h\x01\r\n\r\n",
            Error::InvalidHeaderValue { offset: 23 },
        ),
    ];
    for (raw, want) in cases {
        let got = server_events(raw);
        assert_eq!(got, Err(*want), "{}", String::from_utf8_lossy(raw));
        // After a fault: the same error again, and a server can still answer it and close.
        let mut s = Connection::new(Role::Server);
        s.receive_data(raw);
        while s.next_event().is_ok() {}
        assert_eq!(s.next_event().unwrap_err(), *want);
        let mut out = Vec::new();
        let status = want.status();
        s.send_response(status, "Bad", [("content-length", "0")], &mut out)
            .unwrap();
        s.send_end_of_message(NO_TRAILERS, &mut out).unwrap();
        assert!(String::from_utf8_lossy(&out).contains("connection: close"));
        assert!(s.must_close());
    }
}

#[test]
fn events_before_a_fault_are_delivered() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(
        b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n",
    );
    assert!(matches!(s.next_event(), Ok(Event::Request(_))));
    assert!(matches!(s.next_event(), Ok(Event::Data(b"abc"))));
    assert_eq!(
        s.next_event().unwrap_err(),
        Error::InvalidChunkSize { offset: 64 }
    );
}

#[test]
fn limits() {
    let small = Limits {
        max_head_size: 64,
        max_headers: 2,
        max_chunk_size_digits: 4,
        max_chunk_extension: 8,
        max_body_size: 10,
    };
    let run = |raw: &[u8]| {
        let mut s = Connection::with_limits(Role::Server, small);
        s.receive_data(raw);
        loop {
            match s.next_event() {
                Ok(Event::NeedData | Event::Paused) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    };
    let long = format!("GET /{} HTTP/1.1\r\nHost: h\r\n\r\n", "a".repeat(80));
    assert_eq!(
        run(long.as_bytes()),
        Err(Error::HeadTooLarge {
            limit: 64,
            offset: 0
        })
    );
    // An incomplete head that is already too long is refused without waiting for more.
    assert_eq!(
        run(&long.as_bytes()[..70]),
        Err(Error::HeadTooLarge {
            limit: 64,
            offset: 0
        })
    );
    assert_eq!(
        run(b"GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB: 2\r\n\r\n"),
        Err(Error::TooManyHeaders {
            limit: 2,
            offset: 0
        })
    );
    assert_eq!(
        run(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n"),
        Err(Error::BodyTooLarge {
            limit: 10,
            offset: 26
        })
    );
    let chunked = b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
    let with = |tail: &[u8]| [&chunked[..], tail].concat();
    assert_eq!(
        run(&with(b"00001\r\n")),
        Err(Error::ChunkSizeTooLong {
            limit: 4,
            offset: 56
        })
    );
    assert_eq!(
        run(&with(b"1;abcdefghij\r\n")),
        Err(Error::ChunkExtensionTooLong {
            limit: 8,
            offset: 56
        })
    );
    assert_eq!(
        run(&with(b"8\r\n12345678\r\n8\r\n")),
        Err(Error::BodyTooLarge {
            limit: 10,
            offset: 69
        })
    );
    assert_eq!(run(&with(b"8\r\n12345678\r\n2\r\nab\r\n0\r\n\r\n")), Ok(()));
    let defaults = Limits::default();
    assert_eq!(
        (
            defaults.max_head_size,
            defaults.max_headers,
            defaults.max_body_size
        ),
        (65536, 100, 64 << 20)
    );
}

#[test]
fn eof_in_the_middle_is_an_error() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabc");
    assert!(matches!(s.next_event(), Ok(Event::Request(_))));
    assert!(matches!(s.next_event(), Ok(Event::Data(b"abc"))));
    s.receive_eof();
    assert_eq!(
        s.next_event().unwrap_err(),
        Error::IncompleteMessage { offset: 51 }
    );

    let mut s = Connection::new(Role::Server);
    s.receive_eof();
    assert!(matches!(s.next_event(), Ok(Event::ConnectionClosed)));
}

#[test]
fn client_pipelines_and_matches_responses_in_order() {
    let mut c = Connection::new(Role::Client);
    let mut wire = Vec::new();
    c.send_request("GET", "/1", [("host", "h")], &mut wire)
        .unwrap();
    c.send_end_of_message(NO_TRAILERS, &mut wire).unwrap();
    c.send_request("HEAD", "/2", [("host", "h")], &mut wire)
        .unwrap();
    c.send_end_of_message(NO_TRAILERS, &mut wire).unwrap();
    c.receive_data(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n");
    let evs = drain(&mut c).unwrap();
    assert_eq!(evs.len(), 5);
    c.receive_data(b"HTTP/1.1 200 OK\r\n\r\n");
    assert_eq!(
        c.next_event().unwrap_err(),
        Error::UnexpectedResponse { offset: 79 }
    );
}

#[test]
fn send_side_misuse() {
    let mut c = Connection::new(Role::Client);
    let mut out = Vec::new();
    assert_eq!(
        c.send_request("GET", "/", NO_TRAILERS.iter().copied(), &mut out),
        Err(SendError::MissingHost)
    );
    assert_eq!(
        c.send_request(
            "GET",
            "/",
            [("host", "h"), ("x", "a\r\nInjected: 1")],
            &mut out
        ),
        Err(SendError::InvalidHeader { index: 1 })
    );
    assert_eq!(
        c.send_request("GET", "/ HTTP/1.1", [("host", "h")], &mut out),
        Err(SendError::InvalidStartLine)
    );
    assert_eq!(
        c.send_request(
            "POST",
            "/",
            [
                ("host", "h"),
                ("content-length", "1"),
                ("transfer-encoding", "chunked")
            ],
            &mut out
        ),
        Err(SendError::BadFraming)
    );
    assert!(out.is_empty(), "nothing written on error");
    c.send_request(
        "POST",
        "/",
        [("host", "h"), ("content-length", "2")],
        &mut out,
    )
    .unwrap();
    assert_eq!(
        c.send_data(b"abc", &mut out),
        Err(SendError::TooMuchData { announced: 2 })
    );
    c.send_data(b"a", &mut out).unwrap();
    assert_eq!(
        c.send_end_of_message(NO_TRAILERS, &mut out),
        Err(SendError::TooLittleData { missing: 1 })
    );
    let mut s = Connection::new(Role::Server);
    assert!(matches!(
        s.send_response(200, "OK", NO_TRAILERS.iter().copied(), &mut out),
        Err(SendError::WrongState { .. })
    ));
}

#[test]
fn http_crate_interop() {
    let mut s = Connection::new(Role::Server);
    s.receive_data(b"POST /LiveServer/MCUFactory/?x=1 HTTP/1.1\r\nHost: pool:444\r\nContent-Type: application/cccp+xml\r\nContent-Length: 0\r\n\r\n");
    let Event::Request(head) = s.next_event().unwrap() else {
        panic!()
    };
    assert_eq!(head.body, BodyLength::Length(0));
    let req = head.to_http().unwrap();
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(req.uri().query(), Some("x=1"));
    assert_eq!(req.headers()["content-type"], "application/cccp+xml");
    drain(&mut s).unwrap();
    let resp = http::Response::builder()
        .status(404)
        .header("content-length", "0")
        .body(())
        .unwrap();
    let mut out = Vec::new();
    s.send_http_response(&resp, &mut out).unwrap();
    s.send_end_of_message(NO_TRAILERS, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n");

    let mut c = Connection::new(Role::Client);
    let req = http::Request::post("https://pool:444/LiveServer/MCUFactory/")
        .header("host", "pool:444")
        .header("content-length", "0")
        .body(())
        .unwrap();
    let mut out = Vec::new();
    c.send_http_request(&req, &mut out).unwrap();
    assert!(out.starts_with(b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nhost: pool:444\r\n"));
}

#[test]
fn many_trailers_and_too_many() {
    let fields = |n: usize| (0..n).map(|i| format!("T{i}: {i}\r\n")).collect::<String>();
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n{}\r\n",
        fields(40)
    );
    let evs = server_events(raw.as_bytes()).unwrap();
    let Ev::End(t) = &evs[2] else {
        panic!("{evs:?}")
    };
    assert_eq!((t.len(), t[39].0.as_str()), (40, "T39"));
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n{}\r\n",
        fields(101)
    );
    assert_eq!(
        server_events(raw.as_bytes()),
        Err(Error::TooManyHeaders {
            limit: 100,
            offset: 65
        })
    );
}

#[test]
fn faults_in_trailers_name_their_offset() {
    let body = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n";
    for (trailer, want) in [
        ("X: 1\r\n folded\r\n\r\n", Error::ObsFold { offset: 65 }),
        ("X : 1\r\n\r\n", Error::WhitespaceBeforeColon { offset: 60 }),
        ("X: \u{1}\r\n\r\n", Error::InvalidHeaderValue { offset: 62 }),
    ] {
        let raw = format!("{body}{trailer}");
        assert_eq!(server_events(raw.as_bytes()), Err(want), "{trailer:?}");
    }
}
