//! Raw request-smuggling attempts sent over a socket to the loopback server: each is refused
//! (400, or 501 for an unknown transfer coding) and the connection closed, the smuggled
//! request is never answered, and the next well-formed connection works.

mod common;

const SMUGGLED: &str = "GET /abs/handler/secret HTTP/1.1\r\nHost: h\r\n\r\n";

fn attacks() -> Vec<(String, &'static str)> {
    let s = SMUGGLED;
    let n = s.len();
    vec![
        // CL.TE: a front end that reads Content-Length forwards the smuggled request inside the body.
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n{s}",
                n + 5
            ),
            "400",
        ),
        // TE.CL, the other order.
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n{n:x}\r\n{s}\r\n0\r\n\r\n"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nContent-Length: {n}\r\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n{s}"
            ),
            "501",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n{s}"
            ),
            "501",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding:\r\n chunked\r\n\r\n0\r\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0x0\r\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0 \r\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n{s}"
            ),
            "400",
        ),
        (
            format!("POST /upload HTTP/1.1\nHost: h\nContent-Length: 0\n\n{s}"),
            "400",
        ),
        (
            format!("POST /upload HTTP/1.1\r\nHost: h\rContent-Length: {n}\r\n\r\n{s}"),
            "400",
        ),
        (
            format!(
                "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{s}"
            ),
            "400",
        ),
    ]
}

#[test]
fn smuggling_attempts_are_refused_and_the_connection_closed() {
    let server = common::start();
    for (attack, status) in attacks() {
        let answer = common::raw(server.addr, attack.as_bytes());
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.starts_with(&format!("HTTP/1.1 {status} ")),
            "{attack:?} answered {text:?}"
        );
        assert_eq!(
            text.matches("HTTP/1.1").count(),
            1,
            "smuggled request answered: {text:?}"
        );
        assert!(text.contains("connection: close\r\n"), "{text:?}");
        // And the next, well-formed connection works.
        let ok = common::raw(
            server.addr,
            b"GET /abs/handler/F-0A12.lsabs HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
        );
        assert!(
            ok.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{:?}",
            String::from_utf8_lossy(&ok)
        );
        let body_at = ok.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        assert_eq!(&ok[body_at..], &server.files["F-0A12.lsabs"].0[..]);
    }
}

#[test]
fn pipelined_requests_over_one_socket() {
    let server = common::start();
    let req = "GET /abs/handler/F-0A10.lsabs HTTP/1.1\r\nHost: h\r\nRange: bytes=0-15\r\n\r\n";
    let last = "HEAD /abs/handler/F-0A11.lsabs HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
    let answer = common::raw(server.addr, format!("{req}{req}{last}").as_bytes());
    let text = String::from_utf8_lossy(&answer);
    assert_eq!(
        text.matches("HTTP/1.1 206 Partial Content").count(),
        2,
        "{text}"
    );
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 1, "{text}");
    assert!(text.ends_with("\r\n\r\n"), "HEAD has no body");
}
