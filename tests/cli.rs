//! The `ocs` binary as a user runs it: exit codes, JSON on stdout, errors with offsets.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn vectors() -> PathBuf {
    let p = std::env::var_os("OCS_VECTORS").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/vectors"),
        PathBuf::from,
    );
    assert!(
        p.join("sip").is_dir(),
        "vectors not found at {}",
        p.display()
    );
    p
}

fn ocs(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ocs"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).ok();
    child.wait_with_output().unwrap()
}

/// The JSON of a run that succeeded.
fn ok_json(out: &Output) -> serde_json::Value {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn decodes_the_shipped_samples() {
    for f in [
        "samples/ocs-service-addconference.sip",
        "samples/invite-sdp.sip",
        "samples/register.sip",
    ] {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(f);
        let out = ocs(&["decode", "sip", path.to_str().unwrap(), "--pretty"], b"");
        assert_eq!(
            out.status.code(),
            Some(0),
            "{f}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["kind"], "request");
        assert!(v["headers"].as_array().unwrap().len() >= 9);
    }
}

#[test]
fn reads_stdin_and_hex() {
    let raw =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/register.sip")).unwrap();
    let out = ocs(&["decode", "sip", "-"], &raw);
    assert_eq!(out.status.code(), Some(0));
    let hex: String = raw.iter().map(|b| format!("{b:02x} ")).collect();
    let out2 = ocs(&["decode", "sip", "--hex"], hex.as_bytes());
    assert_eq!(out2.status.code(), Some(0));
    assert_eq!(out.stdout, out2.stdout);
}

#[test]
fn invalid_messages_exit_1_with_an_offset() {
    let dir = vectors().join("sip/rfc4475");
    for f in [
        "badinv01.dat",
        "clerr.dat",
        "ncl.dat",
        "scalar02.dat",
        "quotbal.dat",
        "ltgtruri.dat",
        "lwsstart.dat",
        "trws.dat",
        "escruri.dat",
        "baddate.dat",
        "regbadct.dat",
        "badaspec.dat",
        "badvers.dat",
        "mismatch01.dat",
        "bigcode.dat",
        "mcl01.dat",
    ] {
        let out = ocs(&["decode", "sip", dir.join(f).to_str().unwrap()], b"");
        assert_eq!(out.status.code(), Some(1), "{f}");
        let err = String::from_utf8(out.stderr).unwrap();
        assert!(
            err.starts_with("error: ") && err.contains(" at byte "),
            "{f}: {err}"
        );
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(ocs(&["decode", "nonsense"], b"").status.code(), Some(2));
    assert_eq!(ocs(&["frobnicate"], b"").status.code(), Some(2));
}

#[test]
fn sdp_with_crypto() {
    let sdp = b"v=0\r\no=- 0 0 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\nm=audio 5000 RTP/SAVP 0\r\n\
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^31|1:4\r\na=sendonly\r\n";
    let out = ocs(&["decode", "sdp"], sdp);
    let v = ok_json(&out);
    assert_eq!(
        v["media"][0]["typed_attributes"][0]["crypto"]["keys"][0]["mki_length"],
        4
    );
    assert_eq!(v["media"][0]["direction"], "sendonly");
    let bad = ocs(&["decode", "sdp"], b"v=0\r\no=- 0 0 IN IP4\r\n");
    assert_eq!(bad.status.code(), Some(1));
}

#[test]
fn never_crashes_on_garbage() {
    let mut seed = 0x2545F4914F6CDD1Du64;
    for n in 0..200 {
        let mut data = Vec::new();
        for _ in 0..(n * 7 % 300) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            data.push((seed & 0xff) as u8);
        }
        for kind in [
            "sip", "sdp", "rtp", "rtcp", "cccp", "http", "abs", "psom", "presence", "stun",
        ] {
            let out = ocs(&["decode", kind], &data);
            assert!(
                matches!(out.status.code(), Some(0 | 1)),
                "{kind} {n}: {:?}",
                out.status
            );
        }
    }
}

#[test]
fn srtp_protect_then_unprotect_through_the_binary() {
    let key = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";
    let packets = "80000001000000000000000a01020304\n80000002000000000000000a05060708\n";
    let out = ocs(
        &[
            "srtp",
            "protect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            key,
        ],
        packets.as_bytes(),
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let protected = String::from_utf8(out.stdout).unwrap();
    assert_eq!(protected.lines().count(), 2);
    // Unprotect both, then the first again: a replay.
    let first = protected.lines().next().unwrap();
    let input = format!("{protected}{first}\n");
    let out = ocs(
        &[
            "srtp",
            "unprotect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            key,
        ],
        input.as_bytes(),
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{packets}ERR replay\n")
    );
    // A wrong key: authentication fails.
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let out = ocs(
        &[
            "srtp",
            "unprotect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            other,
        ],
        first.as_bytes(),
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "ERR auth\n");
    // SRTCP with MKI.
    let rtcp = "80c90001000000090102030405060708\n";
    let args = [
        "--rtcp",
        "--suite",
        "AES_CM_128_HMAC_SHA1_80",
        "--key",
        key,
        "--mki",
        "01",
        "--mki-len",
        "2",
        "--window",
        "256",
    ];
    let p = ocs(&[&["srtp", "protect"][..], &args].concat(), rtcp.as_bytes());
    let p = String::from_utf8(p.stdout).unwrap();
    assert!(p.contains("0001"), "{p}");
    let u = ocs(&[&["srtp", "unprotect"][..], &args].concat(), p.as_bytes());
    assert_eq!(String::from_utf8(u.stdout).unwrap(), rtcp);
    // Usage errors exit 2.
    assert_eq!(
        ocs(&["srtp", "protect", "--suite", "NOPE", "--key", key], b"")
            .status
            .code(),
        Some(2)
    );
    assert_eq!(
        ocs(
            &[
                "srtp",
                "protect",
                "--suite",
                "AES_CM_128_HMAC_SHA1_80",
                "--key",
                "short"
            ],
            b""
        )
        .status
        .code(),
        Some(2)
    );
}

#[test]
fn decode_rtp_and_rtcp() {
    let sr_sdes = "80c8000666ef91ffdf4880dd61a62ed3d8bcdebe000000090000160481ca000666ef91ff0110526e5435436d4a687a7965744178772b0000";
    let out = ocs(&["decode", "rtcp", "--hex"], sr_sdes.as_bytes());
    let v = ok_json(&out);
    assert_eq!(v["packets"][0]["kind"], "SR");
    assert_eq!(v["packets"][0]["packet_count"], 9);
    assert_eq!(
        v["packets"][1]["chunks"][0]["items"][0]["value"],
        "RnT5CmJhzyetAxw+"
    );
    let rtp = "906000010000000100000007bede000110aa0000706c";
    let out = ocs(&["decode", "rtp", "--hex"], rtp.as_bytes());
    let v = ok_json(&out);
    assert_eq!(v["sequence_number"], 1);
    let bad = ocs(&["decode", "rtcp", "--hex"], b"80c90005cafebabe");
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8(bad.stderr).unwrap();
    assert!(
        err.starts_with("error: ") && err.contains("at byte 2"),
        "{err}"
    );
}

#[test]
fn decode_cccp_bodies() {
    // The C3P body of the shared focus INVITE.
    let raw = std::fs::read(
        vectors().join("sip/ms/sipe-format-INVITE-focus-c3p-addUser.SYNTHESIZED.sip"),
    )
    .unwrap();
    let at = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let out = ocs(&["decode", "cccp", "-", "--pretty"], &raw[at..]);
    let v = ok_json(&out);
    assert_eq!(v["kind"], "request");
    assert_eq!(v["request_id"], 2);
    let user = &v["command"]["body"]["AddUser"]["user"];
    assert_eq!(user["entity"], "sip:bob@contoso.com");
    assert_eq!(user["roles"][0], "attendee");
    assert_eq!(
        user["endpoints"][0]["entity"],
        "{5B0A5C49-4A43-4F8B-9D37-2E1A11A9D0F1}"
    );

    // A conference-info NOTIFY body, entities resolved.
    let doc = br#"<conference-info xmlns="urn:ietf:params:xml:ns:conference-info" entity="sip:a@b;gruu;opaque=app:conf:focus:id:ABCDEFGH" state="partial" version="7"><users state="partial"><user entity="sip:c@b" state="deleted"/></users><x:note xmlns:x="urn:x">kept &amp; shown</x:note></conference-info>"#;
    let out = ocs(&["decode", "cccp"], doc);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (v["kind"].as_str(), v["version"].as_u64()),
        (Some("conference-info"), Some(7))
    );
    assert_eq!(v["users"]["users"][0]["state"], "deleted");
    assert_eq!(
        v["ext"]["elements"][0]["children"][0]["Text"],
        "kept & shown"
    );

    // Refusals carry the offset; an entity bomb is refused at its DOCTYPE.
    let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE r [<!ENTITY a \"aaaa\">]><request/>";
    let out = ocs(&["decode", "cccp"], bomb);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: DTD not allowed at byte 21"
    );
    let out = ocs(&["decode", "cccp"], b"<response xmlns=\"urn:ietf:params:xml:ns:cccp\" requestId=\"1\" from=\"a\" to=\"b\"><addUser/></response>");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: missing attribute code at byte 0"
    );
}

#[test]
fn decode_presence_bodies() {
    // pidgin-sipe's initial publication (sipe-ocs2007.c templates): the state typed.
    let publish = br#"<publish xmlns="http://schemas.microsoft.com/2006/09/sip/rich-presence"><publications uri="sip:alice@contoso.com"><publication categoryName="state" instance="536870912" container="2" version="3" expireType="static"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" manual="true" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="userState"><availability>15500</availability></state></publication></publications></publish>"#;
    let v = ok_json(&ocs(&["decode", "presence"], publish));
    assert_eq!(v["kind"], "publish");
    assert_eq!(v["value"]["document"]["publications"][0]["version"], 3);
    assert_eq!(v["value"]["states"][0]["kind"], "userState");
    assert_eq!(v["value"]["states"][0]["availability"], 15500);

    // A batched NOTIFY body: multipart/related, each part by its type.
    let multi = b"--b1\r\nContent-ID: <r>\r\nContent-Type: application/rlmi+xml\r\n\r\n<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:bob@contoso.com\" version=\"2\"><resource uri=\"sip:alice@contoso.com\"><instance id=\"1\" state=\"active\" cid=\"alice@contoso.com\"/></resource></list>\r\n--b1\r\nContent-Type: application/msrtc-event-categories+xml\r\n\r\n<categories xmlns=\"http://schemas.microsoft.com/2006/09/sip/categories\" uri=\"sip:alice@contoso.com\"><category name=\"state\" instance=\"1\" container=\"200\"><state xmlns=\"http://schemas.microsoft.com/2006/09/sip/state\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"aggregateState\"><availability>6500</availability></state></category></categories>\r\n--b1--\r\n";
    let v = ok_json(&ocs(&["decode", "presence"], multi));
    assert_eq!(v["kind"], "multipart/related");
    assert_eq!(v["parts"][0]["document"]["kind"], "rlmi");
    assert_eq!(v["parts"][0]["document"]["value"]["version"], 2);
    assert_eq!(
        v["parts"][1]["document"]["value"]["states"][0]["band"],
        "Busy"
    );

    // A SOAP operation, and a refusal with its offset.
    let soap = br#"<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/winrtc/2002/11/sip"><s:Body><m:addGroup><m:name>Friends</m:name><m:deltaNum>4</m:deltaNum></m:addGroup></s:Body></s:Envelope>"#;
    let v = ok_json(&ocs(&["decode", "presence"], soap));
    assert_eq!(v["value"]["AddGroup"]["name"], "Friends");
    let out = ocs(
        &["decode", "presence"],
        b"<contactList><group name=\"x\"/></contactList>",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: <group> at byte 13 has no id attribute"
    );

    // Inside a SIP message, the body is decoded by its Content-Type.
    let sip = format!(
        "SERVICE sip:alice@contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1\r\nFrom: <sip:alice@contoso.com>;tag=1\r\nTo: <sip:alice@contoso.com>\r\nCall-ID: c\r\nCSeq: 1 SERVICE\r\nMax-Forwards: 70\r\nContent-Type: application/msrtc-category-publish+xml\r\nContent-Length: {}\r\n\r\n{}",
        publish.len(),
        String::from_utf8_lossy(publish)
    );
    let v = ok_json(&ocs(&["decode", "sip"], sip.as_bytes()));
    assert_eq!(v["body"]["presence"]["kind"], "publish");
}

#[test]
fn decode_http_requests_and_responses() {
    let out = ocs(
        &["decode", "http"],
        b"POST /LiveServer/MCUFactory/ HTTP/1.1\r\nHost: pool:444\r\nTransfer-Encoding: chunked\r\n\r\n\
          a\r\n<request/>\r\n0\r\nX-Sum: 9\r\n\r\n",
    );
    let v = ok_json(&out);
    assert_eq!(v["method"], "POST");
    assert_eq!(v["body"], "<request/>");
    assert_eq!(v["trailers"][0]["name"], "X-Sum");

    let out = ocs(
        &["decode", "http"],
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 206 Partial Content\r\nContent-Length: 3\r\n\r\n\xff\x00\x01",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["messages"][0]["status"], 100);
    assert_eq!(v["messages"][1]["status"], 206);
    assert_eq!(v["messages"][1]["body_hex"], "ff0001");

    // Pipelined requests: each one.
    let out = ocs(
        &["decode", "http"],
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["messages"][1]["target"], "/b");

    // A smuggling attempt is an error with its offset.
    let out = ocs(
        &["decode", "http"],
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: Content-Length together with Transfer-Encoding at byte 45"
    );
    // A message cut short is an error too.
    let out = ocs(
        &["decode", "http"],
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: connection closed in the middle of a message at byte 50"
    );
}

#[test]
fn decode_abs_files() {
    use ocs_stack::http::abs::{AbsFile, Attribute, Change, Contact, FileKind, Header, Value};
    let file = AbsFile {
        header: Header::new(FileKind::Delta, 0x0A10, 0x0A11),
        normalization_rules: Vec::new(),
        attributes: vec![Attribute {
            id: 5,
            flags: 0x0400_0000,
            name: "title".into(),
        }],
        contacts: vec![Contact {
            guid: [0xAB; 16],
            change: Change::Present,
            values: vec![(5, Value::String("Development Manager".into()))],
        }],
    };
    let dir = std::env::temp_dir().join(format!("ocs-cli-abs-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("D-0A10-0A11.lsabs");
    std::fs::write(&path, file.to_bytes().unwrap()).unwrap();
    let out = ocs(&["decode", "abs", path.to_str().unwrap()], b"");
    let v = ok_json(&out);
    assert_eq!(v["file_name"], "D-0A10-0A11");
    assert_eq!(v["date"], "Tue, 22 Jan 2008 00:00:00 GMT");
    assert_eq!(v["attributes"][0]["client_field"], "Title");
    assert_eq!(
        v["contacts"][0]["values"][0]["value"],
        "Development Manager"
    );
    let mut cut = file.to_bytes().unwrap();
    cut.truncate(cut.len() - 4);
    let out = ocs(&["decode", "abs"], &cut);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("at byte"),
        "{:?}",
        out.stderr
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn decode_psom_streams() {
    // RPCOpen (channel 0, ConnMgr 1, version 1), SetChannel 1, an RPC GoTo(3) on the slide deck.
    let hex = "37 0a 00 00 00 00 00 00 00 01 00 00 00 01 00 \
               04 04 00 00 00 01 00 00 00 \
               16 13 00 00 00 96 68 00 00 00 00 07 00 00 00 02 00 01 00 07 03 00 00 00";
    let out = ocs(
        &["decode", "psom", "--hex"],
        hex.replace('\\', "").as_bytes(),
    );
    let v = ok_json(&out);
    assert_eq!(v["records"][0]["type"], "RPCOpen");
    assert_eq!(v["records"][1]["channel"], 1);
    let op = &v["records"][2]["operation"];
    assert_eq!(op["interface_name"], "SlideDeck");
    assert_eq!(op["method_name"], "GoTo");
    assert_eq!(op["args"][0], 3);
    assert_eq!(v["records"][2]["offset"], 24);
    // A record cut short, and an unknown type, are errors with their offsets.
    let out = ocs(
        &["decode", "psom", "--hex"],
        b"06 00 00 00 00 16 09 00 00 00 96",
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: truncated record at byte 5"
    );
    let out = ocs(&["decode", "psom", "--hex"], b"06 00 00 00 00 99");
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: unknown record type 0x99 at byte 5"
    );
}

#[test]
fn decode_sip_security_and_ntlm_tokens() {
    use base64::Engine as _;
    use ocs_stack::sip::ntlm::{Credentials, NtlmClient, NtlmServer, TargetInfo};

    // The captured OCS 2007 R2 180 Ringing: its rspauth and the exact signature input.
    let dir = vectors().join("sip/ms");
    let out = ocs(
        &[
            "decode",
            "sip",
            dir.join("sipe_180_ringing_ntlm_v4_signed.sip")
                .to_str()
                .unwrap(),
        ],
        b"",
    );
    let v = ok_json(&out);
    let sec = &v["security"][0];
    assert_eq!(sec["header"], "Authentication-Info");
    assert_eq!(sec["protocol"], "NTLM");
    assert_eq!(sec["num"], 11);
    assert_eq!(sec["signature"], "010000003ea8d688ba51d5cd64000000");
    let expected = std::fs::read_to_string(
        dir.join("sipe_180_ringing_ntlm_v4_signed.expected-signature-input.txt"),
    )
    .unwrap();
    assert_eq!(sec["signature_input"], expected.trim_end());

    // An NTLM CHALLENGE and AUTHENTICATE, base64 as in gssapi-data.
    let server = NtlmServer::new(TargetInfo::new("FE01", "CONTOSO"));
    let challenge = server.challenge([1, 2, 3, 4, 5, 6, 7, 8], 0x01d0_0000_0000_0000);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&challenge);
    let v = ok_json(&ocs(
        &["decode", "ntlm"],
        format!("gssapi-data=\"{b64}\"").as_bytes(),
    ));
    assert_eq!(v["message"], "CHALLENGE");
    assert_eq!(v["target_name"], "FE01");
    assert_eq!(v["server_challenge"], "0102030405060708");
    assert_eq!(v["target_info"][0]["value"], "CONTOSO");
    assert_eq!(v["target_info"][2]["value"], 0x01d0_0000_0000_0000u64);
    assert!(
        v["flag_names"]
            .as_array()
            .unwrap()
            .contains(&"DATAGRAM".into())
    );
    let client = NtlmClient::new(Credentials::new("alice", "CONTOSO", "pw"), "ALICE-PC");
    let (auth, _) = client
        .authenticate(&challenge, [0xaa; 8], [0x55; 16])
        .unwrap();
    let v = ok_json(&ocs(&["decode", "ntlm"], &auth)); // raw bytes work too
    assert_eq!(v["message"], "AUTHENTICATE");
    assert_eq!(v["user"], "alice");
    assert_eq!(v["workstation"], "ALICE-PC");
    assert_eq!(v["client_challenge"], "aaaaaaaaaaaaaaaa");
    assert_eq!(v["client_time"], 0x01d0_0000_0000_0000u64);
    // A token cut short: an error with its offset, exit 1.
    let out = ocs(&["decode", "ntlm"], &auth[..40]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at byte"));
}

#[test]
fn decode_stun_checks_integrity() {
    // RFC 5769 §2.1, the sample request.
    let req = "000100582112a442b7e7a701bc34d686fa87dfae802200105354554e207465737420636c69656e74\
               002400046e0001ff80290008932ff9b151263b36000600096576746a3a6836765920202000080014\
               9aeaa70cbfd8cb56781ef2b5b2d3f249c1b571a280280004e57a3bcf";
    let v = ok_json(&ocs(
        &["decode", "stun", "--hex", "--key", "VOkJxbRl1RmTxUk/WvJxBt"],
        req.as_bytes(),
    ));
    assert_eq!(v["dialect"], "rfc5245");
    assert_eq!(v["integrity"], "ok");
    let names: Vec<&str> = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "SOFTWARE",
            "PRIORITY",
            "ICE-CONTROLLED",
            "USERNAME",
            "MESSAGE-INTEGRITY",
            "FINGERPRINT"
        ]
    );
    assert_eq!(v["attributes"][3]["text"], "evtj:h6vY");
    let v = ok_json(&ocs(
        &["decode", "stun", "--hex", "--key", "wrong"],
        req.as_bytes(),
    ));
    assert_eq!(
        v["integrity"],
        "STUN: MESSAGE-INTEGRITY does not match at byte 80"
    );
    // A cut message: exit 1 with the offset.
    let out = ocs(&["decode", "stun", "--hex"], &req.as_bytes()[..60]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at byte"));
}

#[cfg(feature = "server")]
#[test]
fn serve_check_config_says_what_is_wrong_without_serving() {
    let dir = std::env::temp_dir().join(format!("ocs-check-config-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.toml");
    std::fs::write(
        &good,
        format!(
            "data_dir = \"{}\"\nudp = \"127.0.0.1:0\"\nmetrics_token = \"0123456789abcdef0123\"\n",
            dir.join("data").display()
        ),
    )
    .unwrap();
    let out = ocs(
        &[
            "serve",
            "--config",
            good.to_str().unwrap(),
            "--check-config",
        ],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("ok     database: SQLite at"), "{text}");
    assert!(text.ends_with("configuration OK\n"), "{text}");
    assert!(!dir.join("data").exists(), "a check creates nothing");

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "auth = [\"Digest\", \"Basic\"]\nmetrics_token = \"short\"\n\
         database = \"postgresql://ocs:hunter2hunter2@db.example.com/ocs\"\n\
         [remote_mcus]\nchat = \"192.0.2.1:444\"\n",
    )
    .unwrap();
    let out = ocs(
        &["serve", "--config", bad.to_str().unwrap(), "--check-config"],
        b"",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(2), "{text}");
    for wrong in [
        "WRONG  auth: unknown scheme \"Basic\"",
        "WRONG  metrics_token: shorter than 16 characters",
        "WRONG  remote_mcus: set, but no remote_mcu_secret",
        "WRONG  database: postgresql://ocs:***@db.example.com/ocs: PostgreSQL host db.example.com",
    ] {
        assert!(text.contains(wrong), "{wrong:?} in {text}");
    }
    assert!(!text.contains("hunter2"), "the password is not printed");
    // A field TOML does not know is refused before any check.
    std::fs::write(&bad, "databse = \"x\"\n").unwrap();
    let out = ocs(
        &["serve", "--config", bad.to_str().unwrap(), "--check-config"],
        b"",
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown field"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// The systemd unit as systemd reads it: `systemd-analyze verify` (which prints what it
/// ignores and still exits 0) must have nothing to say, with the unit's binary pointing at
/// this build.
#[cfg(feature = "server")]
#[test]
fn the_systemd_unit_verifies() {
    let Ok(v) = Command::new("systemd-analyze").arg("--version").output() else {
        assert!(
            std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
            "OCS_REQUIRE_INTEROP is set but systemd-analyze is missing"
        );
        eprintln!("systemd unit NOT VERIFIED: no systemd-analyze (Debian systemd)");
        return;
    };
    assert!(v.status.success());
    let unit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deploy/ocs.service"),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("ocs-unit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ocs.service");
    std::fs::write(
        &path,
        unit.replace("/usr/local/bin/ocs", env!("CARGO_BIN_EXE_ocs")),
    )
    .unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&path)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    let _ = std::fs::remove_dir_all(&dir);
}
