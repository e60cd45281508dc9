//! Allocations, counted by a global allocator on the test's own thread: once a connection's
//! buffers have grown, receiving a request head (the ~700-byte benchmark request), a chunked
//! body with trailers, and sending a response with a chunked body allocate nothing.

use ocs_http_focus::h1::{Connection, Event, Role};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

fn allocations(f: impl FnOnce()) -> usize {
    ocs_alloc_counter::count(f).1
}

const REQUEST: &[u8] = include_bytes!("data/kittyhell.http");

/// One exchange: the request in, the response out; returns the bytes of body received.
fn exchange(server: &mut Connection, request: &[u8], out: &mut Vec<u8>) -> usize {
    server.receive_data(request);
    let mut body = 0;
    loop {
        match server.next_event().unwrap() {
            Event::Request(head) => assert!(head.headers.len() >= 2),
            Event::Data(d) => body += d.len(),
            Event::EndOfMessage(_) | Event::NeedData => {}
            Event::Paused => break,
            other => panic!("{other:?}"),
        }
    }
    out.clear();
    server
        .send_response(200, "OK", [("content-type", "text/plain")], out)
        .unwrap();
    server.send_data(&[b'x'; 1000], out).unwrap();
    server
        .send_end_of_message(&[("x-checksum", "1")], out)
        .unwrap();
    body
}

#[test]
fn receiving_heads_and_chunked_bodies_and_sending_allocate_nothing() {
    let mut server = Connection::new(Role::Server);
    let mut out = Vec::with_capacity(4096);
    let mut chunked = b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nHost: pool:444\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..16 {
        chunked.extend_from_slice(b"400;ext=1\r\n");
        chunked.extend_from_slice(&[b'a'; 1024]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\nChecksum: 1\r\nX-Done: yes\r\n\r\n");
    // Warm up: the receive buffer and the field list grow to size once.
    for _ in 0..3 {
        exchange(&mut server, REQUEST, &mut out);
        exchange(&mut server, &chunked, &mut out);
    }
    let mut body = 0;
    let n = allocations(|| {
        for _ in 0..100 {
            body += exchange(&mut server, REQUEST, &mut out);
            body += exchange(&mut server, &chunked, &mut out);
        }
    });
    assert_eq!(body, 100 * 16 * 1024);
    assert_eq!(n, 0, "{n} allocations in 200 exchanges");
}
