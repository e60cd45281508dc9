//! The Address Book Server directory over 60 days: files written and removed, deltas applied by
//! a client equal to the full files written directly, and the download plans.

use ocs_http_focus::abs::{
    AbsDirectory, AbsFile, Attribute, Change, Contact, FileKind, FileName, Header, Plan, Value,
    apply, attempts, device_view, plan,
};

fn attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            id: 1,
            flags: 0x0300_0000,
            name: "displayName".into(),
        },
        Attribute {
            id: 2,
            flags: 0x0800_0000,
            name: "msRTCSIP-PrimaryUserAddress".into(),
        },
        Attribute {
            id: 5,
            flags: 0x0400_0000,
            name: "title".into(),
        },
        Attribute {
            id: 6,
            flags: 0x0000_0001,
            name: "proxyAddresses".into(),
        },
        Attribute {
            id: 7,
            flags: 0x0F00_0003,
            name: "groupType".into(),
        },
        Attribute {
            id: 8,
            flags: 0xFF00_0002,
            name: "thumbnailHash".into(),
        },
    ]
}

/// The address book on `day`: contacts come and go, titles change, numbers appear.
fn snapshot(day: u16) -> AbsFile {
    let d = u32::from(day);
    let contacts = (0..40u32)
        .filter(|i| (i + d) % 7 != 0)
        .map(|i| {
            let mut values = vec![
                (1, Value::String(format!("User {i}"))),
                (2, Value::String(format!("sip:user{i}@contoso.com"))),
            ];
            if (i * d) % 3 != 0 {
                values.push((5, Value::String(format!("Title {}", (i + d) % 4))));
            }
            if i % 2 == 0 {
                values.push((
                    6,
                    Value::MultiString(vec![
                        format!("SMTP:user{i}@contoso.com"),
                        "x500:/o=Contoso".into(),
                    ]),
                ));
            }
            if (i + d) % 5 == 0 {
                values.push((7, Value::Integer(i + d)));
            }
            if i % 4 == 1 {
                values.push((8, Value::Binary(vec![i as u8; (d % 3) as usize + 1])));
            }
            let mut guid = [0u8; 16];
            guid[..4].copy_from_slice(&i.to_be_bytes());
            Contact {
                guid,
                change: Change::Present,
                values,
            }
        })
        .collect();
    AbsFile {
        header: Header::new(FileKind::Full, day, day),
        normalization_rules: b"(\\d{4})->+1425555$1".to_vec(),
        attributes: attributes(),
        contacts,
    }
}

#[test]
fn sixty_days_of_publishing() {
    let first = 0x0A00;
    let mut dir = AbsDirectory::new(30);
    let mut written: std::collections::BTreeMap<FileName, Vec<u8>> = Default::default();
    for day in first..first + 60 {
        let p = dir.publish(&snapshot(day)).unwrap();
        let kept = (day - first + 1).min(30) - 1;
        // F lsabs + F dabs, and from each earlier kept day: D lsabs, C lsabs, D dabs.
        assert_eq!(p.write.len(), 2 + 3 * usize::from(kept), "day {day:#x}");
        for (name, bytes) in p.write {
            written.insert(name, bytes);
        }
        for name in &p.remove {
            assert!(name.day < day - 29, "{name} removed too early");
            written.remove(name);
        }
        let listed: Vec<FileName> = dir.files().copied().collect();
        assert_eq!(listed, written.keys().copied().collect::<Vec<_>>());
    }
    let newest = first + 59;
    // Steady state: 30 days of files, each day F + 29 x (D, C) in .lsabs and F + 29 D in .dabs:
    // the 900 files of each form of the OCS 2007 R2 documentation, and the compact deltas.
    let lsabs = written.keys().filter(|n| !n.device).count();
    let dabs = written.keys().filter(|n| n.device).count();
    assert_eq!((lsabs, dabs), (30 + 2 * 29 * 30, 900));

    // Every delta in the directory, applied to the full file of its base day, gives the full
    // file of its day byte for byte.
    for (name, bytes) in &written {
        if name.kind == FileKind::Full {
            continue;
        }
        let delta = AbsFile::parse(bytes).unwrap();
        assert_eq!(
            (delta.header.kind, delta.header.base_day, delta.header.day),
            (name.kind, name.base, name.day)
        );
        // The full file of the base day may have left the window already: rebuild it then.
        let base = match written.get(&FileName::full(name.base, name.device)) {
            Some(bytes) => AbsFile::parse(bytes).unwrap(),
            None if name.device => device_view(&snapshot(name.base).normalized().unwrap()),
            None => snapshot(name.base).normalized().unwrap(),
        };
        let next = apply(&base, &delta).unwrap();
        assert_eq!(
            next.to_bytes().unwrap(),
            written[&FileName::full(name.day, name.device)],
            "{name}"
        );
    }
    // Compact deltas are smaller than deltas.
    let d = &written[&FileName::delta(FileKind::Delta, newest - 1, newest, false)];
    let c = &written[&FileName::delta(FileKind::Compact, newest - 1, newest, false)];
    assert!(
        c.len() < d.len(),
        "compact {} vs delta {}",
        c.len(),
        d.len()
    );

    // Device files carry only the device attributes.
    let device = AbsFile::parse(&written[&FileName::full(newest, true)]).unwrap();
    let names: Vec<&str> = device.attributes.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        ["displayName", "msRTCSIP-PrimaryUserAddress", "title"]
    );

    // What a client downloads.
    let offered: Vec<FileName> = written.keys().copied().collect();
    assert_eq!(plan(Some(newest), &offered, false, true), Plan::UpToDate);
    assert_eq!(
        plan(Some(newest - 3), &offered, false, true),
        Plan::Deltas(vec![FileName::delta(
            FileKind::Compact,
            newest - 3,
            newest,
            false
        )])
    );
    assert_eq!(
        plan(Some(newest - 3), &offered, true, true),
        Plan::Deltas(vec![FileName::delta(
            FileKind::Delta,
            newest - 3,
            newest,
            true
        )])
    );
    // Too old for any delta: the full file.
    assert_eq!(
        plan(Some(first), &offered, false, true),
        Plan::Full(FileName::full(newest, false))
    );
    assert_eq!(
        plan(None, &offered, false, false),
        Plan::Full(FileName::full(newest, false))
    );
    assert_eq!(plan(None, &[], false, false), Plan::Unavailable);
    assert_eq!(
        attempts(Some(newest - 1), newest, false)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["C-0A3A-0A3B.lsabs", "D-0A3A-0A3B.lsabs", "F-0A3B.lsabs"]
    );
    assert!(attempts(Some(newest), newest, false).is_empty());
}

#[test]
fn a_chain_of_deltas_when_the_direct_one_is_missing() {
    let offered: Vec<FileName> = [
        "F-0A13.lsabs",
        "D-0A10-0A11.lsabs",
        "C-0A10-0A11.lsabs",
        "D-0A11-0A13.lsabs",
        "D-0A10-0A12.lsabs",
    ]
    .iter()
    .map(|n| FileName::parse(n).unwrap())
    .collect();
    let Plan::Deltas(chain) = plan(Some(0x0A10), &offered, false, true) else {
        panic!()
    };
    let names: Vec<String> = chain.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["C-0A10-0A11.lsabs", "D-0A11-0A13.lsabs"]);

    // Applying the chain equals the full file of the last day.
    let mut have = snapshot(0x0A10).normalized().unwrap();
    for (from, to) in [(0x0A10, 0x0A11), (0x0A11, 0x0A13)] {
        let d =
            ocs_http_focus::abs::diff(&snapshot(from), &snapshot(to), FileKind::Compact).unwrap();
        let bytes = d.to_bytes().unwrap();
        have = apply(&have, &AbsFile::parse(&bytes).unwrap()).unwrap();
    }
    assert_eq!(have, snapshot(0x0A13).normalized().unwrap());
}

#[test]
fn sequence_errors() {
    let a = snapshot(2);
    let b = snapshot(3);
    let d = ocs_http_focus::abs::diff(&a, &b, FileKind::Delta).unwrap();
    assert!(apply(&b, &d).is_err(), "wrong base day");
    assert!(
        ocs_http_focus::abs::diff(&b, &a, FileKind::Delta).is_err(),
        "backwards"
    );
    let mut dir = AbsDirectory::default();
    dir.publish(&b).unwrap();
    assert!(dir.publish(&a).is_err(), "older day after newer");
}
