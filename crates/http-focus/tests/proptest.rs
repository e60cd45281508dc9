//! Round trips (write → parse) for heads, chunked bodies and ABS files; arbitrary bytes never
//! panic and never depend on how they are split.

use ocs_http_focus::abs::{
    AbsFile, Attribute, Change, Contact, FileKind, Header, Value, apply, diff,
};
use ocs_http_focus::fuzzing;
use ocs_http_focus::h1::{Connection, Event, Role};
use proptest::prelude::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]{0,15}"
}

fn value() -> impl Strategy<Value = String> {
    // Visible characters and inner spaces (outer white space is not part of a value).
    "[!-~]([ -~]{0,30}[!-~])?"
}

fn reserved(name: &str) -> bool {
    [
        "content-length",
        "transfer-encoding",
        "host",
        "connection",
        "expect",
        "te",
        "trailer",
    ]
    .iter()
    .any(|r| name.eq_ignore_ascii_case(r))
}

proptest! {
    #[test]
    fn request_round_trip(
        method in token(),
        path in "/[a-zA-Z0-9/._~-]{0,40}",
        fields in prop::collection::vec((token(), value()), 0..12),
        body in prop::collection::vec(any::<u8>(), 0..2000),
        chunked in any::<bool>(),
        pieces in prop::collection::vec(1usize..300, 1..8),
        trailers in prop::collection::vec((token(), value()), 0..3),
    ) {
        let fields: Vec<(String, String)> =
            fields.into_iter().filter(|(n, _)| !reserved(n)).collect();
        let trailers: Vec<(String, String)> =
            trailers.into_iter().filter(|(n, _)| !reserved(n)).collect();
        let mut headers = vec![("host".to_owned(), "example".to_owned())];
        headers.extend(fields.iter().cloned());
        if chunked {
            headers.push(("transfer-encoding".into(), "chunked".into()));
        } else {
            headers.push(("content-length".into(), body.len().to_string()));
        }
        let mut client = Connection::new(Role::Client);
        let mut wire = Vec::new();
        client.send_request(&method, &path, headers.iter().map(|(n, v)| (n, v)), &mut wire).unwrap();
        // The body in pieces of the given sizes.
        let mut rest = &body[..];
        let mut i = 0;
        while !rest.is_empty() {
            let (now, later) = rest.split_at(pieces[i % pieces.len()].min(rest.len()));
            client.send_data(now, &mut wire).unwrap();
            rest = later;
            i += 1;
        }
        let sent_trailers: &[(String, String)] = if chunked { &trailers } else { &[] };
        client.send_end_of_message(sent_trailers, &mut wire).unwrap();

        let mut server = Connection::new(Role::Server);
        server.receive_data(&wire);
        let Event::Request(head) = server.next_event().unwrap() else { panic!("no request") };
        prop_assert_eq!(head.method, method.as_str());
        prop_assert_eq!(head.target, path.as_str());
        let got: Vec<(String, String)> = head
            .headers
            .iter()
            .map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
            .collect();
        prop_assert_eq!(got, headers);
        let mut received = Vec::new();
        loop {
            match server.next_event().unwrap() {
                Event::Data(d) => received.extend_from_slice(d),
                Event::EndOfMessage(t) => {
                    let t: Vec<(String, String)> = t
                        .iter()
                        .map(|(n, v)| (n.to_owned(), String::from_utf8(v.to_vec()).unwrap()))
                        .collect();
                    prop_assert_eq!(&t[..], sent_trailers);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        prop_assert_eq!(received, body);
    }

    #[test]
    fn response_round_trip(
        status in 200u16..600,
        reason in "[A-Za-z ]{0,20}",
        fields in prop::collection::vec((token(), value()), 0..10),
        body in prop::collection::vec(any::<u8>(), 0..1000),
    ) {
        let fields: Vec<(String, String)> =
            fields.into_iter().filter(|(n, _)| !reserved(n)).collect();
        let mut client = Connection::new(Role::Client);
        let mut server = Connection::new(Role::Server);
        let mut wire = Vec::new();
        client.send_request("GET", "/", [("host", "h")], &mut wire).unwrap();
        client.send_end_of_message(&[] as &[(&str, &str)], &mut wire).unwrap();
        server.receive_data(&wire);
        while !matches!(server.next_event().unwrap(), Event::Paused) {}
        let mut out = Vec::new();
        server.send_response(status, &reason, fields.iter().map(|(n, v)| (n, v)), &mut out).unwrap();
        let no_body = status == 204 || status == 304;
        if !no_body {
            server.send_data(&body, &mut out).unwrap();
        }
        server.send_end_of_message(&[] as &[(&str, &str)], &mut out).unwrap();
        client.receive_data(&out);
        let Event::Response(head) = client.next_event().unwrap() else { panic!() };
        prop_assert_eq!(head.status, status);
        prop_assert_eq!(head.reason, reason.as_str());
        let mut received = Vec::new();
        loop {
            match client.next_event().unwrap() {
                Event::Data(d) => received.extend_from_slice(d),
                Event::EndOfMessage(_) => break,
                other => panic!("{other:?}"),
            }
        }
        prop_assert_eq!(received, if no_body { Vec::new() } else { body });
    }

    #[test]
    fn arbitrary_request_streams(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::http_request_stream(&data);
    }

    #[test]
    fn mutated_request_streams(
        cut in 0usize..200,
        byte in any::<u8>(),
        sizes in any::<[u8; 4]>(),
    ) {
        let mut msg = sizes.to_vec();
        msg.extend_from_slice(b"POST /x HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a=b\r\nhello\r\n0\r\nT: 1\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n");
        let at = 4 + cut % (msg.len() - 4);
        msg[at] = byte;
        fuzzing::http_request_stream(&msg);
    }

    #[test]
    fn arbitrary_response_streams(data in prop::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::http_response_stream(&data);
    }

    #[test]
    fn arbitrary_abs_bytes(data in prop::collection::vec(any::<u8>(), 0..400), kind in 0u8..3) {
        // Behind a valid FileType, so the parser gets past the first check.
        let mut file = match kind {
            0 => ocs_http_focus::abs::FULL_FILE_TYPE.to_vec(),
            1 => ocs_http_focus::abs::DELTA_FILE_TYPE.to_vec(),
            _ => ocs_http_focus::abs::COMPACT_FILE_TYPE.to_vec(),
        };
        file.extend_from_slice(&data);
        fuzzing::abs_file(&file);
        fuzzing::abs_file(&data);
    }

    #[test]
    fn abs_round_trip_and_deltas(
        a in contacts(),
        b in contacts(),
        compact in any::<bool>(),
    ) {
        let old = full(0x0A10, a);
        let new = full(0x0A11, b);
        let bytes = old.to_bytes().unwrap();
        prop_assert_eq!(AbsFile::parse(&bytes).unwrap(), old.clone());
        let kind = if compact { FileKind::Compact } else { FileKind::Delta };
        let delta = diff(&old, &new, kind).unwrap();
        let delta = AbsFile::parse(&delta.to_bytes().unwrap()).unwrap();
        let applied = apply(&old.normalized().unwrap(), &delta).unwrap();
        prop_assert_eq!(applied.to_bytes().unwrap(), new.normalized().unwrap().to_bytes().unwrap());
    }
}

fn attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            id: 1,
            flags: 0x0300_0000,
            name: "displayName".into(),
        },
        Attribute {
            id: 2,
            flags: 0x0000_0001,
            name: "proxyAddresses".into(),
        },
        Attribute {
            id: 3,
            flags: 0xFF00_0002,
            name: "photo".into(),
        },
        Attribute {
            id: 4,
            flags: 0x0F00_0003,
            name: "groupType".into(),
        },
    ]
}

fn contacts() -> impl Strategy<Value = Vec<(u8, Vec<(u8, Value)>)>> {
    let value = prop_oneof![
        (Just(1u8), "[a-z ]{0,8}".prop_map(Value::String)),
        (
            Just(2u8),
            prop::collection::vec("[a-z:@.]{1,6}", 0..3).prop_map(Value::MultiString)
        ),
        (
            Just(3u8),
            prop::collection::vec(any::<u8>(), 0..5).prop_map(Value::Binary)
        ),
        (Just(4u8), any::<u32>().prop_map(Value::Integer)),
    ];
    prop::collection::vec((0u8..12, prop::collection::vec(value, 0..4)), 0..10)
}

fn full(day: u16, contacts: Vec<(u8, Vec<(u8, Value)>)>) -> AbsFile {
    let mut seen = std::collections::BTreeSet::new();
    let contacts = contacts
        .into_iter()
        .filter(|(g, _)| seen.insert(*g))
        .map(|(g, mut values)| {
            values.sort_by_key(|(id, _)| *id);
            values.dedup_by_key(|(id, _)| *id);
            Contact {
                guid: [g; 16],
                change: Change::Present,
                values,
            }
        })
        .collect();
    AbsFile {
        header: Header::new(FileKind::Full, day, day),
        normalization_rules: Vec::new(),
        attributes: attributes(),
        contacts,
    }
}
