//! RFC 5118 IPv6 torture tests, read from `../shared/vectors/sip/rfc5118/`.

mod common;

use ocs_sip_codec::sdp::SessionDescription;
use ocs_sip_codec::uri::{Host, Uri};
use ocs_sip_codec::{Error, Fault, Message};

fn strict(name: &str) -> Result<Message, Error> {
    let m = Message::parse(common::read(&format!("rfc5118/{name}")))?;
    m.validate()?;
    Ok(m)
}

#[test]
fn every_case() {
    let rows = common::index("rfc5118");
    assert_eq!(rows.len(), 12);
    for (file, section, class) in rows {
        let r = strict(&file);
        match class.as_str() {
            "invalid" => {
                let e = r.expect_err(&file);
                // "2001" is neither a host name (a top label starts with a letter) nor an IPv4 address.
                assert!(
                    matches!(
                        e,
                        Error::RequestUri {
                            fault: Fault::InvalidHost,
                            offset: 13
                        }
                    ),
                    "{file}: {e}"
                );
            }
            _ => {
                let m = r.unwrap_or_else(|e| panic!("{file} (§{section}): {e}"));
                if m.content_type().is_some() {
                    SessionDescription::parse(std::str::from_utf8(m.body()).unwrap())
                        .unwrap_or_else(|e| panic!("{file}: {e}"));
                }
            }
        }
    }
}

#[test]
fn addresses_read_correctly() {
    let m = strict("ipv6-good").unwrap();
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert!(matches!(u.host, Host::Ipv6(_)));
    assert!(u.host.ip().is_some());

    // §4.3: the port is inside the brackets, so there is none.
    let m = strict("port-ambiguous").unwrap();
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert_eq!((u.host, u.port), (Host::Ipv6("2001:db8::10:5070"), None));
    let m = strict("port-unambiguous").unwrap();
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert_eq!((u.host, u.port), (Host::Ipv6("2001:db8::10"), Some(5070)));

    // §4.5: received with and without brackets.
    let m = strict("via-received-param-with-delim").unwrap();
    assert_eq!(m.top_via().unwrap().received(), Some("[2001:db8::9:255]"));
    let m = strict("via-received-param-no-delim").unwrap();
    assert_eq!(m.top_via().unwrap().received(), Some("2001:db8::9:255"));

    // §4.7: several addresses in headers.
    let m = strict("mult-ip-in-header").unwrap();
    let hosts: Vec<_> = m
        .via()
        .map(|v| v.unwrap().host.ip().unwrap().to_string())
        .collect();
    assert_eq!(hosts, ["2001:db8::9:1", "192.0.2.1", "2001:db8::9:255"]);

    // §4.9: IPv4-mapped IPv6.
    let m = strict("ipv4-mapped-ipv6").unwrap();
    let v = m.top_via().unwrap();
    assert_eq!(
        (v.host.ip().unwrap().to_string(), v.port),
        ("::ffff:192.0.2.10".to_string(), Some(19823))
    );

    // §4.10: three colons are tolerated as text, and are no address.
    let m = strict("ipv6-bug-abnf-3-colons").unwrap();
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert_eq!(u.host, Host::Ipv6("2001:db8:::192.0.2.1"));
    assert!(u.host.ip().is_none());
    let m = strict("ipv6-correct-abnf-2-colons").unwrap();
    let Some(Ok(Uri::Sip(u))) = m.request_uri() else {
        panic!()
    };
    assert!(u.host.ip().is_some());

    // §4.6 / §4.8: IPv6 in SDP.
    let m = strict("ipv6-in-sdp").unwrap();
    let sd = SessionDescription::parse(std::str::from_utf8(m.body()).unwrap()).unwrap();
    assert_eq!(sd.connection.unwrap().addr_type, "IP6");
}
