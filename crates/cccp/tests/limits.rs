//! Hostile and broken documents: each is refused with the cause and the byte offset, at once,
//! and never panics. Each limit has its test.

use std::time::Instant;

use ocs_cccp::info::ConferenceInfo;
use ocs_cccp::message::{Body, Message};
use ocs_cccp::{Error, Limits};

const HEAD: &str = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" to="sip:a@b;gruu;opaque=app:conf:focusfactory" from="sip:a@b" requestId="1">"#;

fn parse(s: &str) -> Result<Message, Error> {
    Message::parse(s.as_bytes().to_vec())
}

#[test]
fn entity_bomb_is_refused_before_any_expansion() {
    let mut dtd = String::from("<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_string()
        } else {
            format!("lol{}", i - 1)
        };
        dtd.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">",
            format!("&{prev};").repeat(10)
        ));
    }
    dtd.push_str("]>");
    let at = dtd.find("<!DOCTYPE").unwrap();
    let doc = format!("{dtd}{HEAD}<getConferences>&lol9;</getConferences></request>");
    let t = Instant::now();
    let e = parse(&doc).unwrap_err();
    assert_eq!(e, Error::DtdNotAllowed { offset: at });
    assert!(t.elapsed().as_millis() < 100, "refused at once");
    // The same for conference-info documents, and for an external entity (XXE).
    let xxe = "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><conference-info xmlns=\"urn:ietf:params:xml:ns:conference-info\" entity=\"&x;\"/>";
    assert_eq!(
        ConferenceInfo::parse(xxe.as_bytes().to_vec()).unwrap_err(),
        Error::DtdNotAllowed { offset: 0 }
    );
}

#[test]
fn only_predefined_entities_and_character_references_expand() {
    let doc = format!(
        "{HEAD}<addConference><ci:conference-info xmlns:ci=\"urn:ietf:params:xml:ns:conference-info\" entity=\"a&amp;b&#x41;\"><ci:conference-description><ci:subject>&lt;&gt;&amp;&apos;&quot;&#65;&#x263A;</ci:subject></ci:conference-description></ci:conference-info></addConference></request>"
    );
    let Message::Request(r) = parse(&doc).unwrap() else {
        panic!()
    };
    let Body::AddConference { info: Some(i) } = r.command.body else {
        panic!()
    };
    assert_eq!(i.entity, "a&bA");
    assert_eq!(
        i.description.unwrap().subject.as_deref(),
        Some("<>&'\"A\u{263A}")
    );

    let in_text = format!(
        "{HEAD}<addConference><ci:conference-info xmlns:ci=\"urn:ietf:params:xml:ns:conference-info\" entity=\"\"><ci:conference-description><ci:subject>x&nbsp;y</ci:subject>"
    );
    let offset = in_text.find("&nbsp;").unwrap();
    let e = parse(&format!(
        "{in_text}</ci:conference-description></ci:conference-info></addConference></request>"
    ))
    .unwrap_err();
    assert_eq!(
        e,
        Error::UnknownEntity {
            name: "nbsp".into(),
            offset
        }
    );
    let in_attr = HEAD.replace("from=\"sip:a@b\"", "from=\"&ext;\"");
    let e = parse(&format!("{in_attr}<getConferences/></request>")).unwrap_err();
    assert!(
        matches!(e, Error::UnknownEntity { ref name, offset: 0 } if name == "ext"),
        "{e:?}"
    );
}

#[test]
fn depth_limit() {
    let open: String = (0..40).map(|i| format!("<x{i}>")).collect();
    let close: String = (0..40).rev().map(|i| format!("</x{i}>")).collect();
    let doc = format!("{HEAD}<getConferences>{open}{close}</getConferences></request>");
    // request = 1, getConferences = 2, so x29 is the 32nd level and x30 the 33rd.
    let offset = doc.find("<x30>").unwrap();
    assert_eq!(
        parse(&doc).unwrap_err(),
        Error::TooDeep { limit: 32, offset }
    );
    let limits = Limits {
        max_depth: 64,
        ..Limits::default()
    };
    assert!(Message::parse_with(doc.into_bytes(), &limits).is_ok());
}

#[test]
fn size_limit() {
    let doc = format!("{HEAD}<getConferences/></request>");
    let limits = Limits {
        max_size: doc.len() - 1,
        ..Limits::default()
    };
    let e = Message::parse_with(doc.clone().into_bytes(), &limits).unwrap_err();
    assert_eq!(
        e,
        Error::TooLarge {
            size: doc.len(),
            limit: doc.len() - 1
        }
    );
    assert!(
        Message::parse_with(
            doc.into_bytes(),
            &Limits {
                max_size: 1 << 20,
                ..Limits::default()
            }
        )
        .is_ok()
    );
}

#[test]
fn element_count_limit() {
    let many: String = (0..20).map(|_| "<e/>").collect();
    let doc = format!("{HEAD}<getConferences>{many}</getConferences></request>");
    let limits = Limits {
        max_elements: 12,
        ..Limits::default()
    };
    // request, getConferences, then the 11th <e/> is element 13.
    let offset = doc.match_indices("<e/>").nth(10).unwrap().0;
    let e = Message::parse_with(doc.into_bytes(), &limits).unwrap_err();
    assert_eq!(
        e,
        Error::TooMany {
            what: "elements",
            limit: 12,
            offset
        }
    );
}

#[test]
fn attribute_count_limit() {
    let attrs: String = (0..33).map(|i| format!(" a{i}=\"{i}\"")).collect();
    let doc = format!("{HEAD}<getConferences{attrs}/></request>");
    let offset = doc.find("<getConferences").unwrap();
    assert_eq!(
        parse(&doc).unwrap_err(),
        Error::TooMany {
            what: "attributes",
            limit: 32,
            offset
        }
    );
}

#[test]
fn namespace_declaration_limit() {
    let decls: String = (0..80)
        .map(|i| format!(" xmlns:p{i}=\"urn:x:{i}\""))
        .collect();
    let doc = format!("{HEAD}<getConferences{decls}/></request>");
    let offset = doc.find("<getConferences").unwrap();
    assert_eq!(
        parse(&doc).unwrap_err(),
        Error::TooMany {
            what: "namespace declarations",
            limit: 64,
            offset
        }
    );
    // Undeclared prefixes and reserved names are errors too.
    let e = parse(&format!(
        "{HEAD}<getConferences><p:x/></getConferences></request>"
    ))
    .unwrap_err();
    assert!(
        e.to_string().contains("undeclared namespace prefix 'p'"),
        "{e}"
    );
    let e = parse(&format!(
        "{HEAD}<getConferences xmlns:xml=\"urn:other\"/></request>"
    ))
    .unwrap_err();
    assert!(e.to_string().contains("reserved namespace"), "{e}");
}

#[test]
fn list_limits() {
    let eps: String = (0..65)
        .map(|i| format!("<ci:endpoint entity=\"e{i}\"/>"))
        .collect();
    let doc = format!(
        "{HEAD}<addUser><conferenceKeys confEntity=\"x\"/><ci:user xmlns:ci=\"urn:ietf:params:xml:ns:conference-info\" entity=\"sip:a@b\">{eps}</ci:user></addUser></request>"
    );
    let offset = doc.find("<ci:endpoint entity=\"e64\"").unwrap();
    assert_eq!(
        parse(&doc).unwrap_err(),
        Error::TooMany {
            what: "endpoints per user",
            limit: 64,
            offset
        }
    );
}

#[test]
fn broken_documents_say_what_and_where() {
    let bad_utf8 = [
        HEAD.as_bytes(),
        b"<getConferences>\xff</getConferences></request>",
    ]
    .concat();
    assert_eq!(
        Message::parse(bad_utf8).unwrap_err(),
        Error::InvalidUtf8 {
            offset: HEAD.len() + "<getConferences>".len()
        }
    );
    let cases: Vec<(String, &str)> = vec![
        (format!("{HEAD}<getConferences></getConference></request>"), "malformed XML"),
        (format!("{HEAD}<getConferences/><getConferences/></request>"), "duplicate <command"),
        (format!("{HEAD}</request>"), "missing <command>"),
        (HEAD.replace("requestId=\"1\"", "requestId=\"x1\"") + "<getConferences/></request>", "invalid requestId"),
        (HEAD.replace(" requestId=\"1\"", "") + "<getConferences/></request>", "missing attribute requestId"),
        (HEAD.replace(" from=\"sip:a@b\"", "") + "<getConferences/></request>", "missing attribute from"),
        ("<request xmlns=\"urn:x\"/>".into(), "expected root element"),
        ("<response xmlns=\"urn:ietf:params:xml:ns:cccp\" requestId=\"1\" from=\"a\" to=\"b\" code=\"maybe\"><addUser/></response>".into(), "invalid code"),
        (format!("{HEAD}<modifyConferenceLock><locked>perhaps</locked></modifyConferenceLock></request>"), "invalid locked"),
        (format!("{HEAD}<getConferences/>text</request>"), "unexpected text"),
        (format!("{HEAD}<getConferences/></request><more/>"), "content after the root"),
        (String::new(), "no root element"),
        (format!("{HEAD}<getAvailableMcuTypes><conferenceKeys/></getAvailableMcuTypes></request>"), "unexpected element <conferenceKeys>"),
    ];
    for (doc, want) in cases {
        let e = parse(&doc).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains(want), "{doc}\n -> {msg}");
        assert!(msg.contains(" at byte "), "{msg}");
        assert!(e.offset() <= doc.len(), "{msg}");
    }
}

#[test]
fn names_and_characters_follow_xml_1_0() {
    // quick-xml takes any run up to white space as a name; an ill-formed one is refused.
    let doc =
        format!("{HEAD}<getConferences><conference-info=\"x:y\"/></getConferences></request>");
    let offset = doc.find("<conference-info=").unwrap();
    let e = parse(&doc).unwrap_err();
    assert!(
        matches!(e, Error::Xml { offset: o, ref cause } if o == offset && cause.contains("invalid element name")),
        "{e:?}"
    );
    let doc = format!("{HEAD}<getConferences 1a=\"x\"/></request>");
    assert!(
        parse(&doc)
            .unwrap_err()
            .to_string()
            .contains("invalid attribute name")
    );
    // C0 controls, raw or as references, are not XML characters.
    let raw = format!("{HEAD}<getConferences>\u{1}</getConferences></request>");
    assert_eq!(
        parse(&raw).unwrap_err().offset(),
        raw.find('\u{1}').unwrap()
    );
    let refd = format!("{HEAD}<getConferences><x-a>&#1;</x-a></getConferences></request>");
    assert!(
        parse(&refd)
            .unwrap_err()
            .to_string()
            .contains("not allowed in XML 1.0")
    );
    let attr = HEAD.replace("from=\"sip:a@b\"", "from=\"&#x1F;\"");
    assert!(
        parse(&format!("{attr}<getConferences/></request>"))
            .unwrap_err()
            .to_string()
            .contains("not allowed")
    );
    // Tab, LF and CR are characters; what the writer cannot represent it replaces.
    let mut ci = ConferenceInfo::new("sip:a@b");
    ci.description = Some(ocs_cccp::info::ConferenceDescription {
        subject: Some("a\tb\u{7}c".into()),
        ..Default::default()
    });
    let back = ConferenceInfo::parse(ci.to_bytes()).unwrap();
    assert_eq!(
        back.description.unwrap().subject.as_deref(),
        Some("a\tb\u{FFFD}c")
    );
}

#[test]
fn every_prefix_of_a_valid_document_is_an_error_not_a_panic() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/spec.rs")).unwrap();
    let start = doc.find("const NOTIFY: &str = r#\"").unwrap() + "const NOTIFY: &str = r#\"".len();
    let notify = &doc[start..start + doc[start..].find("\"#;").unwrap()];
    ConferenceInfo::parse(notify.as_bytes().to_vec()).unwrap();
    for cut in 0..notify.len() {
        if notify.is_char_boundary(cut) && notify[cut..].trim() != "" {
            let r = ConferenceInfo::parse(notify.as_bytes()[..cut].to_vec());
            let e = r.expect_err("a truncated document must not parse");
            assert!(e.offset() <= cut, "{e} for a cut at {cut}");
        }
    }
}

#[test]
fn output_buffer_too_small_reports_the_size_needed() {
    let Message::Request(r) = parse(&format!("{HEAD}<getConferences/></request>")).unwrap() else {
        panic!()
    };
    let len = r.to_bytes().len();
    let mut small = vec![0u8; len - 1];
    assert_eq!(
        r.write_slice(&mut small),
        Err(Error::BufferTooSmall { required: len })
    );
    let mut exact = vec![0u8; len];
    assert_eq!(r.write_slice(&mut exact), Ok(len));
    assert_eq!(&exact[..], &r.to_bytes()[..]);
}
