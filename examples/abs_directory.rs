//! An Address Book Server over five days: publishes each day's address book, serves the files
//! over a sans-IO HTTP/1.1 connection to a client that has Monday's book, which downloads the
//! delta it needs (conditional GET first) and applies it.
//!
//! `cargo run --example abs_directory [DIR]` — with DIR, also writes the published files there.

use std::collections::BTreeMap;

use ocs_stack::http::abs::{
    AbsDirectory, AbsFile, Attribute, Change, Contact, FileKind, FileName, Header, Plan, Value,
    apply, plan, unix_from_day,
};
use ocs_stack::http::download::{Resource, content_type_for, evaluate};
use ocs_stack::http::h1::{Connection, Event, Role};

const MONDAY: u16 = 0x0A10; // 2008-01-21 ([MS-ABS] 3.1)

fn book(day: u16) -> AbsFile {
    let people = ["ABSUser1", "ABSUser2", "ABSUser5", "ABSUser7"];
    let contacts = people
        .iter()
        .enumerate()
        .filter(|(i, _)| !(day > MONDAY + 2 && *i == 3))
        .map(|(i, who)| {
            let mut values = vec![
                (3, Value::String(format!("{who} Example"))),
                (
                    8,
                    Value::String(format!("sip:{}@contoso.com", who.to_lowercase())),
                ),
            ];
            if i == 0 {
                let title = if day > MONDAY {
                    "Development Manager"
                } else {
                    "Developer"
                };
                values.push((5, Value::String(title.into())));
            }
            Contact {
                guid: [i as u8 + 1; 16],
                change: Change::Present,
                values,
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
                id: 5,
                flags: 0x0400_0000,
                name: "title".into(),
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

/// One GET through a client and a server connection; returns status and body.
fn get(
    files: &BTreeMap<FileName, Vec<u8>>,
    name: &FileName,
    extra: &[(&str, &str)],
) -> (u16, Vec<u8>) {
    let (mut client, mut server) = (Connection::new(Role::Client), Connection::new(Role::Server));
    let mut wire = Vec::new();
    let target = format!("/abs/handler/{name}");
    let mut fields = vec![("host", "pool.contoso.com")];
    fields.extend_from_slice(extra);
    client
        .send_request("GET", &target, fields, &mut wire)
        .unwrap();
    client
        .send_end_of_message(&[] as &[(&str, &str)], &mut wire)
        .unwrap();
    server.receive_data(&wire);
    let Ok(Event::Request(head)) = server.next_event() else {
        panic!("no request")
    };
    let mut answer = Vec::new();
    match files.get(name) {
        Some(bytes) => {
            let res = Resource::new(
                bytes,
                unix_from_day(name.day) + 5400,
                content_type_for(&target),
            );
            let reply = evaluate(&head, &res);
            while !matches!(server.next_event(), Ok(Event::Paused)) {}
            reply.send(&mut server, &res, &mut answer).unwrap();
        }
        None => {
            while !matches!(server.next_event(), Ok(Event::Paused)) {}
            server
                .send_response(404, "Not Found", [("content-length", "0")], &mut answer)
                .unwrap();
            server
                .send_end_of_message(&[] as &[(&str, &str)], &mut answer)
                .unwrap();
        }
    }
    client.receive_data(&answer);
    let mut status = 0;
    let mut body = Vec::new();
    loop {
        match client.next_event().unwrap() {
            Event::Response(h) => status = h.status,
            Event::Data(d) => body.extend_from_slice(d),
            Event::EndOfMessage(_) => return (status, body),
            _ => {}
        }
    }
}

fn main() {
    let out_dir = std::env::args().nth(1);
    let mut dir = AbsDirectory::new(30);
    let mut files = BTreeMap::new();
    for day in MONDAY..MONDAY + 5 {
        let p = dir.publish(&book(day)).expect("publish");
        println!(
            "day {day:04X}: {} files written, {} removed",
            p.write.len(),
            p.remove.len()
        );
        files.extend(p.write);
    }
    if let Some(d) = &out_dir {
        std::fs::create_dir_all(d).expect("output directory");
        for (name, bytes) in &files {
            std::fs::write(format!("{d}/{name}"), bytes).expect("write");
        }
    }

    // A client with Monday's book.
    let offered: Vec<FileName> = files.keys().copied().collect();
    let mut have = AbsFile::parse(&files[&FileName::full(MONDAY, false)]).unwrap();
    let Plan::Deltas(chain) = plan(Some(MONDAY), &offered, false, true) else {
        panic!("plan")
    };
    for name in chain {
        let (status, body) = get(&files, &name, &[]);
        println!("GET {name}: {status}, {} bytes", body.len());
        have = apply(&have, &AbsFile::parse(&body).unwrap()).unwrap();
    }
    let newest = dir.newest().unwrap();
    let direct = &files[&FileName::full(newest, false)];
    assert_eq!(
        &have.to_bytes().unwrap(),
        direct,
        "delta applied == full file"
    );
    println!(
        "applied: {} contacts, identical to F-{newest:04X}.lsabs",
        have.contacts.len()
    );

    // Asking again with the ETag: 304.
    let full = FileName::full(newest, false);
    let etag = ocs_stack::http::download::etag_of(direct);
    let (status, _) = get(&files, &full, &[("if-none-match", &etag)]);
    println!("GET {full} with If-None-Match: {status}");
}
