//! Property tests: build → write → parse round trips for messages, URIs and every typed
//! header; arbitrary bytes never panic; the stream decoder gives the same messages whatever the
//! chunking.

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;

use ocs_sip_codec::build::MessageBuilder;
use ocs_sip_codec::headers::{
    Auth, AuthParams, CSeq, Contact, DisplayName, MediaType, NameAddr, NumberParams, SipDate,
    TokenParams, Via, Warning,
};
use ocs_sip_codec::sdp::SessionDescription;
use ocs_sip_codec::stream::{Frame, StreamDecoder};
use ocs_sip_codec::uri::{Host, SipUri, Uri};
use ocs_sip_codec::{Message, Params};

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9.!%*_+`'~-]{1,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}[a-z0-9](\\.[a-z][a-z0-9]{0,8}){0,2}",
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u8>())
            .prop_map(|(a, b, c, d)| format!("{a}.{b}.{c}.{d}")),
        any::<[u16; 8]>().prop_map(|s| { format!("[{}]", std::net::Ipv6Addr::from(s)) }),
    ]
}

fn host_of(s: &str) -> Host<'_> {
    if let Some(v6) = s.strip_prefix('[').and_then(|x| x.strip_suffix(']')) {
        Host::Ipv6(v6)
    } else if let Ok(a) = s.parse() {
        Host::Ipv4(a)
    } else {
        Host::Domain(s)
    }
}

/// Header params as written: `;name[=value]`.
fn header_params() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            token(),
            proptest::option::of(prop_oneof![token(), "\"[a-zA-Z0-9 ,;:<>@=/]{0,12}\""]),
        ),
        0..4,
    )
    .prop_map(|ps| {
        ps.into_iter()
            .map(|(n, v)| match v {
                Some(v) => format!(";{n}={v}"),
                None => format!(";{n}"),
            })
            .collect()
    })
}

fn uri_params() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        (
            "[a-z][a-z0-9-]{0,8}",
            proptest::option::of("[a-zA-Z0-9:.+-]{1,12}"),
        ),
        0..4,
    )
    .prop_map(|ps| {
        ps.into_iter()
            .map(|(n, v)| match v {
                Some(v) => format!(";{n}={v}"),
                None => format!(";{n}"),
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
struct UriParts {
    scheme: &'static str,
    user: Option<String>,
    password: Option<String>,
    host: String,
    port: Option<u16>,
    params: String,
    headers: Option<String>,
}

fn uri_parts() -> impl Strategy<Value = UriParts> {
    (
        prop_oneof![Just("sip"), Just("sips"), Just("SIP")],
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,12}|%[0-9A-F]{2}[a-z]{1,4}"),
        proptest::option::of("[a-zA-Z0-9&=+$,]{0,8}"),
        host(),
        proptest::option::of(any::<u16>()),
        uri_params(),
        proptest::option::of("[a-z]{1,6}=[a-zA-Z0-9:/?+$]{0,8}(&[a-z]{1,6}=[a-z0-9]{0,4})?"),
    )
        .prop_map(
            |(scheme, user, password, host, port, params, headers)| UriParts {
                scheme,
                password: user.as_ref().and(password),
                user,
                host,
                port,
                params,
                headers,
            },
        )
}

fn sip_uri(p: &UriParts) -> SipUri<'_> {
    SipUri {
        scheme: p.scheme,
        user: p.user.as_deref(),
        password: p.password.as_deref(),
        host: host_of(&p.host),
        port: p.port,
        params: Params::from_raw_uri(&p.params),
        headers: p.headers.as_deref(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    /// `Params::get` (with its fast path for plain lists) finds what the full iterator finds.
    #[test]
    fn params_get_agrees_with_iteration(raw in header_params(), uri in uri_params(), probe in token()) {
        for p in [Params::from_raw(&raw), Params::from_raw_uri(&uri)] {
            for name in p.iter().map(|x| x.name).chain([probe.as_str(), "branch"]) {
                prop_assert_eq!(
                    p.get(name),
                    p.iter().find(|x| x.name.eq_ignore_ascii_case(name)).map(|x| x.value)
                );
            }
        }
    }


    #[test]
    fn uri_round_trip(p in uri_parts()) {
        let uri = Uri::Sip(sip_uri(&p));
        let text = uri.to_string();
        let back = Uri::parse(&text).unwrap();
        prop_assert_eq!(back, uri);
        prop_assert!(back.as_sip().unwrap().matches(uri.as_sip().unwrap()));
    }

    #[test]
    fn via_round_trip(t in "UDP|TCP|TLS|tls|SCTP", h in host(), port in proptest::option::of(any::<u16>()),
                      branch in "z9hG4bK[a-zA-Z0-9]{1,10}", params in header_params()) {
        let params = format!(";branch={branch}{params}");
        let via = Via { protocol: "SIP", version: "2.0", transport: &t, host: host_of(&h), port,
                        params: Params::from_raw(&params) };
        let text = via.to_string();
        let back = Via::parse(&text).unwrap();
        prop_assert_eq!(back, via);
        prop_assert_eq!(back.branch(), Some(branch.as_str()));
    }

    #[test]
    fn name_addr_round_trip(p in uri_parts(), display in proptest::option::of(prop_oneof![
            "[a-zA-Z0-9 ,;:<>@]{0,12}".prop_map(|s| (true, s)),
            "[a-zA-Z0-9]{1,6}( [a-zA-Z0-9]{1,6}){0,2}".prop_map(|s| (false, s)),
        ]), tag in proptest::option::of(token()), params in header_params()) {
        let params = match &tag { Some(t) => format!(";tag={t}{params}"), None => params };
        let display_name = display.as_ref().map(|(q, s)| if *q { DisplayName::Quoted(s) } else { DisplayName::Tokens(s) });
        let na = NameAddr { display_name, uri: Uri::Sip(sip_uri(&p)), bracketed: true, params: Params::from_raw(&params) };
        let text = na.to_string();
        let back = NameAddr::parse(&text).unwrap();
        prop_assert_eq!(back, na);
        let c = Contact::parse(&text).unwrap();
        prop_assert_eq!(c, Contact::Address(na));
    }

    #[test]
    fn tel_uri_round_trip(global in any::<bool>(), digits in "[0-9]{1,4}(-[0-9]{1,4}){0,3}", params in uri_params()) {
        let number = if global { format!("+{digits}") } else { digits };
        let t = ocs_sip_codec::uri::TelUri { scheme: "tel", number: &number, params: Params::from_raw_uri(&params) };
        let text = Uri::Tel(t).to_string();
        prop_assert_eq!(Uri::parse(&text).unwrap(), Uri::Tel(t));
    }

    #[test]
    fn sdp_round_trip(media in proptest::collection::vec(("audio|video|application", any::<u16>(), "RTP/AVP|RTP/SAVP",
                          proptest::collection::vec(0u8..128, 1..4), proptest::collection::vec(("[a-z][a-z0-9-]{0,10}", proptest::option::of("[ -~]{1,20}")), 0..4)), 0..4),
                      name in "[ -~]{1,20}", addr in host()) {
        let mut text = format!("v=0\r\no=- 1 1 IN IP4 {addr}\r\ns={name}\r\nc=IN IP4 {addr}\r\nt=0 0\r\n");
        for (m, port, proto, fmts, attrs) in &media {
            let fmts: Vec<String> = fmts.iter().map(u8::to_string).collect();
            text += &format!("m={m} {port} {proto} {}\r\n", fmts.join(" "));
            for (n, v) in attrs {
                match v { Some(v) => text += &format!("a={n}:{v}\r\n"), None => text += &format!("a={n}\r\n") }
            }
        }
        let sd = SessionDescription::parse(&text).unwrap();
        prop_assert_eq!(sd.media.len(), media.len());
        prop_assert_eq!(sd.to_string(), text);
    }

    #[test]
    fn cseq_round_trip(seq in 0u32..(1 << 31), method in token()) {
        let c = CSeq { seq, method: &method };
        let text = c.to_string();
        prop_assert_eq!(CSeq::parse(&text).unwrap(), c);
    }

    #[test]
    fn media_type_round_trip(top in token(), sub in token(), params in header_params()) {
        let m = MediaType { top: &top, sub: &sub, params: Params::from_raw(&params) };
        let text = m.to_string();
        prop_assert_eq!(MediaType::parse(&text).unwrap(), m);
    }

    #[test]
    fn token_params_round_trip(value in token(), params in header_params()) {
        let t = TokenParams { value: &value, params: Params::from_raw(&params) };
        let text = t.to_string();
        prop_assert_eq!(TokenParams::parse(&text).unwrap(), t);
    }

    #[test]
    fn number_params_round_trip(n in any::<u32>(), params in header_params()) {
        let s = NumberParams { value: n, params: Params::from_raw(&params) };
        let text = s.to_string();
        prop_assert_eq!(NumberParams::parse(&text).unwrap(), s);
    }

    #[test]
    fn warning_round_trip(code in 100u16..1000, agent in token(), text in "[a-zA-Z0-9 ,;:]{0,20}") {
        let w = Warning { code, agent: &agent, text: &text };
        let text = w.to_string();
        prop_assert_eq!(Warning::parse(&text).unwrap(), w);
    }

    #[test]
    fn date_round_trip(weekday in 0u8..7, day in 1u8..=31, month in 1u8..=12, year in 1000u16..10000,
                       hour in 0u8..24, minute in 0u8..60, second in 0u8..60) {
        let d = SipDate { weekday, day, month, year, hour, minute, second };
        let text = d.to_string();
        prop_assert_eq!(SipDate::parse(&text).unwrap(), d);
    }

    #[test]
    fn auth_round_trip(scheme in "Digest|NTLM|Kerberos|TLS-DSK", params in proptest::collection::vec(
            (token(), prop_oneof![token(), "[a-zA-Z0-9+/= ,:]{0,16}".prop_map(|v| format!("\"{v}\""))]), 1..6)) {
        let raw: Vec<String> = params.iter().map(|(n, v)| format!("{n}={v}")).collect();
        let text = format!("{scheme} {}", raw.join(", "));
        let a = Auth::parse(&text).unwrap();
        prop_assert_eq!(a.scheme_name, Some(scheme.as_str()));
        prop_assert_eq!(a.params.iter().count(), params.len());
        let text = a.to_string();
        prop_assert_eq!(Auth::parse(&text).unwrap(), a);
        let _ = AuthParams::default();
    }

    #[test]
    fn message_round_trip(method in "[A-Z]{3,10}", ruri in uri_parts(), from in uri_parts(), to in uri_parts(),
                          via_host in host(), branch in "[a-zA-Z0-9]{1,16}", call_id in "[a-zA-Z0-9.!%*_+`'~()<>:/?{}-]{1,20}(@[a-z0-9.]{1,10})?",
                          seq in 0u32..(1 << 31), tag in token(), body in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut ruri = ruri;
        ruri.headers = None;
        let ruri_s = Uri::Sip(sip_uri(&ruri)).to_string();
        let from_s = format!("<{}>;tag={tag}", Uri::Sip(sip_uri(&from)));
        let to_s = format!("<{}>", Uri::Sip(sip_uri(&to)));
        let via_s = format!("SIP/2.0/TLS {via_host};branch=z9hG4bK{branch}");
        let cseq_s = format!("{seq} {method}");
        let req = MessageBuilder::request(&method, &ruri_s)
            .header("Via", &via_s)
            .header("From", &from_s)
            .header("To", &to_s)
            .header("Call-ID", &call_id)
            .header("CSeq", &cseq_s)
            .header("Max-Forwards", 70)
            .body("application/octet-stream", &body);
        let mut wire = BytesMut::new();
        req.write(&mut wire);
        let wire = wire.freeze();
        let m = Message::parse(wire.clone()).unwrap();
        m.validate().unwrap();
        prop_assert_eq!(m.method(), Some(method.as_str()));
        prop_assert_eq!(m.request_uri().unwrap().unwrap(), Uri::Sip(sip_uri(&ruri)));
        prop_assert_eq!(m.from().unwrap().tag(), Some(tag.as_str()));
        prop_assert_eq!(m.to().unwrap().uri, Uri::Sip(sip_uri(&to)));
        prop_assert_eq!(m.call_id().unwrap(), call_id.as_str());
        prop_assert_eq!(m.cseq().unwrap(), CSeq { seq, method: &method });
        prop_assert_eq!(m.top_via().unwrap().branch().unwrap(), format!("z9hG4bK{branch}"));
        prop_assert_eq!(&m.body()[..], &body[..]);
        prop_assert_eq!(&m.to_vec()[..], &wire[..]);
    }

    #[test]
    fn stream_decoder_ignores_chunking(n in 1usize..4, cuts in proptest::collection::vec(1usize..40, 1..50),
                                       bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..30), 4)) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for body in bodies.iter().take(n) {
            let mut one = BytesMut::new();
            MessageBuilder::request("MESSAGE", "sip:a@b").header("Via", "SIP/2.0/TCP h;branch=z9hG4bK1")
                .body("text/plain", body).write(&mut one);
            expected.push(one.to_vec());
            stream.extend_from_slice(&one);
            stream.extend_from_slice(b"\r\n\r\n");
        }
        let mut dec = StreamDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        let mut rest = &stream[..];
        let mut i = 0;
        while !rest.is_empty() {
            let k = cuts[i % cuts.len()].min(rest.len());
            i += 1;
            buf.extend_from_slice(&rest[..k]);
            rest = &rest[k..];
            while let Some(f) = dec.decode_buf(&mut buf).unwrap() {
                if let Frame::Message(m) = f { got.push(m.to_vec()); }
            }
        }
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&data);
    }

    #[test]
    fn mutated_messages_never_panic(pos in 0usize..600, byte in any::<u8>(), cut in 0usize..700) {
        let mut m = SAMPLE.to_vec();
        if pos < m.len() { m[pos] = byte; }
        m.truncate(cut.max(1));
        exercise(&m);
    }
}

const SAMPLE: &[u8] = b"INVITE sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16 SIP/2.0\r\n\
Via: SIP/2.0/TLS 192.0.2.7:4321;branch=z9hG4bK1D2E3F40, SIP/2.0/UDP [2001:db8::1];received=1.2.3.4\r\n\
From: \"Bob \\\"B\\\"\" <sip:bob@contoso.com>;tag=7d1c2b3a4f;epid=01010101\r\n\
To: <sip:alice@contoso.com;gruu;opaque=app:conf:focus:id:4FNRHN16>\r\n\
CSeq: 1 INVITE\r\nCall-ID: 0a1b2c3d4e5f60718293a4b5c6d7e8f9\r\n\
Contact: <sip:bob@contoso.com;opaque=user:epid:AAAA;gruu>;expires=30;q=0.5, *\r\n\
Proxy-Authorization: NTLM qop=\"auth\", opaque=\"357E6F72\", crand=\"0b1c2d3e\", cnum=\"4\"\r\n\
Date: Thu, 31 Jan 2008 00:01:56 GMT\r\nWarning: 370 devnull \"x\"\r\n\
Content-Type: application/sdp\r\nContent-Length: 60\r\n\r\n\
v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5 RTP/AVP 0\r\n";

fn exercise(data: &[u8]) {
    let bytes = Bytes::copy_from_slice(data);
    if let Ok(m) = Message::parse(bytes.clone()) {
        let _ = m.validate();
        for (_, r) in m.typed_headers() {
            let _ = r.map(|v| v.to_string());
        }
        let _ = m.request_uri();
        let _ = m.via().count();
        let _ = m.contacts().count();
        let _ = m.to_vec();
        if let Ok(s) = std::str::from_utf8(m.body()) {
            let _ = SessionDescription::parse(s);
        }
    }
    let _ = StreamDecoder::default().decode(&bytes);
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = SessionDescription::parse(s);
        let _ = Uri::parse(s);
        let _ = Via::parse(s);
        let _ = NameAddr::parse(s);
        let _ = Auth::parse(s);
        let _ = SipDate::parse(s);
    }
}
