//! Allocations, counted by a global allocator on the test's own thread:
//! - writing a request, a response or a conference-info document into a buffer with room
//!   allocates nothing, and neither does writing into a slice;
//! - parsing allocates for lists and boxes, never for strings: every string of the model is a
//!   view of the input, so adding string fields and attributes to a document adds no
//!   allocation.

use ocs_cccp::info::ConferenceInfo;
use ocs_cccp::message::{Body, Code, Message, Request};

#[global_allocator]
static A: ocs_alloc_counter::Counting = ocs_alloc_counter::Counting;

use ocs_alloc_counter::count;

const FOCUS: &str = "sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16";

fn add_user(extra: &str, attrs: &str) -> String {
    format!(
        r#"<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" to="{FOCUS}" from="sip:bob@contoso.com" requestId="2"><addUser><conferenceKeys confEntity="{FOCUS}"/><ci:user xmlns:ci="urn:ietf:params:xml:ns:conference-info" entity="sip:bob@contoso.com"{attrs}>{extra}<ci:roles><ci:entry>attendee</ci:entry></ci:roles><ci:endpoint entity="{{5B0A5C49}}" session-type="focus"><ci:status>connected</ci:status><ci:joining-method>dialed-in</ci:joining-method></ci:endpoint></ci:user></addUser></request>"#
    )
}

#[test]
fn parsing_allocates_per_list_not_per_string() {
    let plain = add_user("", "");
    let rich = add_user(
        "<ci:display-text>Bob Kelly</ci:display-text><ci:languages>en-US</ci:languages><ci:cascaded-focus>sip:f@x</ci:cascaded-focus>",
        "",
    );
    // Warm up (thread-locals, lazy statics).
    Message::parse(plain.clone().into_bytes()).unwrap();
    let (plain, rich) = (bytes::Bytes::from(plain), bytes::Bytes::from(rich));
    let (m1, a1) = count(|| Message::parse(plain).unwrap());
    let (m2, a2) = count(|| Message::parse(rich).unwrap());
    assert!(matches!(m1, Message::Request(_)) && matches!(m2, Message::Request(_)));
    assert_eq!(a1, a2, "three more string fields cost no allocation");
    assert!(a1 <= 16, "{a1} allocations for an addUser");

    // A conference-info with 1 user and one with 20: the difference is the users' lists.
    let doc = |n: usize| {
        let users: String = (0..n)
            .map(|i| format!(r#"<user entity="sip:u{i}@x"><display-text>User {i}</display-text><roles><entry>attendee</entry></roles><endpoint entity="e{i}" session-type="focus"><status>connected</status></endpoint></user>"#))
            .collect();
        format!(
            r#"<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="{FOCUS}" state="full" version="1"><users>{users}</users></conference-info>"#
        )
    };
    let (d1, d20) = (bytes::Bytes::from(doc(1)), bytes::Bytes::from(doc(20)));
    let (_, one) = count(|| ConferenceInfo::parse(d1).unwrap());
    let (_, twenty) = count(|| ConferenceInfo::parse(d20).unwrap());
    // Per user: its roles list and its endpoint list (2 × 19 = 38), plus the users list
    // growing from 4 to 32 places (3 reallocations).
    assert_eq!(
        twenty - one,
        38 + 3,
        "{one} allocations for 1 user, {twenty} for 20"
    );
}

#[test]
fn writing_allocates_nothing() {
    let Message::Request(req) = Message::parse(add_user("", "").into_bytes()).unwrap() else {
        panic!()
    };
    let resp = req.respond(Code::Success, req.command.body.clone());
    let info = ConferenceInfo::parse(
        format!(r#"<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" xmlns:msci="http://schemas.microsoft.com/rtc/2005/08/confinfoextensions" entity="{FOCUS}" version="3"><conference-description><subject>Review &amp; plan</subject><msci:conference-id>4FNRHN16</msci:conference-id><msci:autopromote>1</msci:autopromote></conference-description><users><user entity="sip:a@x"><roles><entry>presenter</entry></roles></user></users></conference-info>"#)
            .into_bytes(),
    )
    .unwrap();
    let mut out = Vec::with_capacity(8192);
    let mut slice = [0u8; 8192];
    let ((), n) = count(|| {
        for _ in 0..10 {
            out.clear();
            req.write(&mut out);
            out.clear();
            resp.write(&mut out);
            out.clear();
            info.write(&mut out);
            req.write_slice(&mut slice).unwrap();
            info.write_slice(&mut slice).unwrap();
        }
    });
    assert_eq!(n, 0, "writing allocated");
    // And what was written is what was parsed.
    assert_eq!(Request::parse(req.to_bytes()).unwrap(), req);
    let _ = Body::GetConferences { infos: vec![] };
}
