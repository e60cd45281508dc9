//! Conditional requests and ranges, with the known answers of RFC 9110 14.1.2 (a 10000-byte
//! representation).

use ocs_http_focus::download::{
    Reply, Resource, content_type_for, evaluate, http_date, parse_http_date,
};
use ocs_http_focus::h1::{Connection, Event, Role};

fn ask(extra: &str, method: &str, res: &Resource<'_>) -> Reply {
    let mut c = Connection::new(Role::Server);
    c.receive_data(format!("{method} /f HTTP/1.1\r\nHost: h\r\n{extra}\r\n").as_bytes());
    let Event::Request(head) = c.next_event().unwrap() else {
        panic!()
    };
    evaluate(&head, res)
}

fn header<'a>(r: &'a Reply, name: &str) -> Option<&'a str> {
    r.headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
}

const MODIFIED: u64 = 1_200_960_000; // 2008-01-22 00:00:00 UTC, day 0x0A11

#[test]
fn rfc9110_range_examples() {
    let body = vec![7u8; 10_000];
    let res = Resource::new(&body, MODIFIED, "application/octet-stream");
    for (range, want) in [
        ("bytes=0-499", 0..500),              // the first 500 bytes
        ("bytes=500-999", 500..1000),         // the second 500 bytes
        ("bytes=-500", 9500..10_000),         // the final 500 bytes
        ("bytes=9500-", 9500..10_000),        // the final 500 bytes
        ("bytes=0-0,-1", 0..10_000),          // first and last: not one range, so all of it
        ("bytes=500-600,601-999", 500..1000), // merged
        ("bytes=500-700,601-999", 500..1000), // overlapping, merged
        ("bytes=9500-20000", 9500..10_000),
    ] {
        let r = ask(&format!("Range: {range}\r\n"), "GET", &res);
        assert_eq!(r.body, want, "{range}");
        if want.len() < 10_000 {
            assert_eq!(r.status, 206, "{range}");
            assert_eq!(
                header(&r, "content-range"),
                Some(format!("bytes {}-{}/10000", want.start, want.end - 1).as_str())
            );
        } else {
            assert_eq!(r.status, 200, "{range}");
        }
        assert_eq!(
            header(&r, "content-length"),
            Some(want.len().to_string().as_str())
        );
    }
    for unsatisfiable in ["bytes=10000-", "bytes=20000-30000", "bytes=-0"] {
        let r = ask(&format!("Range: {unsatisfiable}\r\n"), "GET", &res);
        assert_eq!(r.status, 416, "{unsatisfiable}");
        assert_eq!(header(&r, "content-range"), Some("bytes */10000"));
    }
    for ignored in [
        "items=0-5",
        "bytes=5-1",
        "bytes=a-b",
        "bytes=-",
        "bytes=1-2,",
    ] {
        let r = ask(&format!("Range: {ignored}\r\n"), "GET", &res);
        assert_eq!((r.status, r.body.clone()), (200, 0..10_000), "{ignored}");
    }
    // Range is for GET only; HEAD answers as GET would, without the body.
    let r = ask("Range: bytes=0-1\r\n", "HEAD", &res);
    assert_eq!((r.status, r.send_body), (200, false));
}

#[test]
fn preconditions_in_rfc9110_order() {
    let body = b"address book";
    let res = Resource::new(body, MODIFIED, "application/octet-stream");
    let etag = res.etag.clone();
    let date = http_date(MODIFIED);
    assert_eq!(date, "Tue, 22 Jan 2008 00:00:00 GMT");
    let earlier = http_date(MODIFIED - 1);
    let cases: Vec<(String, u16)> = vec![
        (format!("If-None-Match: {etag}"), 304),
        (format!("If-None-Match: \"other\", W/{etag}"), 304), // weak comparison
        ("If-None-Match: *".into(), 304),
        ("If-None-Match: \"other\"".into(), 200),
        (format!("If-Modified-Since: {date}"), 304),
        (format!("If-Modified-Since: {earlier}"), 200),
        // If-None-Match wins over If-Modified-Since (RFC 9110 13.1.3).
        (
            format!("If-None-Match: \"other\"\r\nIf-Modified-Since: {date}"),
            200,
        ),
        (format!("If-Match: {etag}"), 200),
        (format!("If-Match: W/{etag}"), 412), // strong comparison
        ("If-Match: \"other\"".into(), 412),
        (format!("If-Unmodified-Since: {earlier}"), 412),
        (format!("If-Unmodified-Since: {date}"), 200),
        ("If-Modified-Since: not a date".into(), 200),
        // RFC 850 and asctime forms are read too.
        (
            "If-Modified-Since: Tuesday, 22-Jan-08 00:00:00 GMT".into(),
            304,
        ),
        ("If-Modified-Since: Tue Jan 22 00:00:00 2008".into(), 304),
        // If-Range: a stale validator means the whole file.
        ("Range: bytes=0-3\r\nIf-Range: \"stale\"".into(), 200),
        (format!("Range: bytes=0-3\r\nIf-Range: {etag}"), 206),
        (format!("Range: bytes=0-3\r\nIf-Range: {date}"), 206),
        (format!("Range: bytes=0-3\r\nIf-Range: {earlier}"), 200),
    ];
    for (fields, status) in cases {
        let r = ask(&format!("{fields}\r\n"), "GET", &res);
        assert_eq!(r.status, status, "{fields}");
        if status == 304 {
            assert_eq!(header(&r, "etag"), Some(etag.as_str()));
            assert!(!r.send_body);
        }
    }
    let r = ask("", "POST", &res);
    assert_eq!((r.status, header(&r, "allow")), (405, Some("GET, HEAD")));
}

#[test]
fn a_reply_on_the_wire() {
    let body = b"0123456789";
    let res = Resource::new(body, MODIFIED, content_type_for("F-0A11.lsabs"));
    let mut c = Connection::new(Role::Server);
    c.receive_data(b"GET /f HTTP/1.1\r\nHost: h\r\n\r\n");
    let Event::Request(head) = c.next_event().unwrap() else {
        panic!()
    };
    let reply = evaluate(&head, &res);
    while !matches!(c.next_event().unwrap(), Event::Paused) {}
    let mut out = Vec::new();
    reply.send(&mut c, &res, &mut out).unwrap();
    let text = String::from_utf8(out).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.contains("content-type: application/octet-stream\r\n"));
    assert!(text.contains("accept-ranges: bytes\r\n"));
    assert!(text.contains(&format!("etag: {}\r\n", res.etag)));
    assert!(text.ends_with("content-length: 10\r\n\r\n0123456789"));
    assert_eq!(
        parse_http_date(b"Tue, 22 Jan 2008 00:00:00 GMT"),
        Some(MODIFIED)
    );
    assert_eq!(
        content_type_for("deck.PPTX"),
        "application/vnd.openxmlformats-officedocument.presentationml.presentation"
    );
}
