//! curl (a client nobody here wrote) against the loopback server built from this crate:
//! keep-alive reuse, chunked upload with `Expect: 100-continue`, ranges, conditional GET, and
//! C3P POSTs.
//!
//! Needs the `curl-tests` feature and curl on the PATH; `scripts/test.sh` turns it on (and
//! installs curl as root) and CI requires it with `OCS_REQUIRE_INTEROP=1`.

#[cfg(not(feature = "curl-tests"))]
#[test]
fn curl_tests_require_the_feature() {
    assert!(
        std::env::var_os("OCS_REQUIRE_INTEROP").is_none(),
        "OCS_REQUIRE_INTEROP is set but the curl tests were built without the `curl-tests` feature"
    );
    eprintln!("curl conformance tests NOT RUN: build with --features ocs-http-focus/curl-tests");
}

#[cfg(feature = "curl-tests")]
mod common;

#[cfg(feature = "curl-tests")]
mod with_curl {
    use std::process::Command;
    use std::sync::atomic::Ordering;

    use ocs_http_focus::download::{etag_of, http_date};
    use sha1::{Digest, Sha1};

    use super::common;

    fn curl(args: &[&str]) -> (Vec<u8>, String) {
        let out = Command::new("curl")
            .args(["--silent", "--show-error", "--max-time", "20"])
            .args(args)
            .output()
            .expect("curl runs");
        assert!(
            out.status.success(),
            "curl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            out.stdout,
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Body and status code (written last by `-w`).
    fn curl_status(args: &[&str]) -> (Vec<u8>, u16) {
        let mut all = vec!["-w", "\n%{http_code}"];
        all.extend_from_slice(args);
        let (mut out, _) = curl(&all);
        let nl = out.iter().rposition(|&b| b == b'\n').unwrap();
        let status = std::str::from_utf8(&out[nl + 1..])
            .unwrap()
            .parse()
            .unwrap();
        out.truncate(nl);
        (out, status)
    }

    #[test]
    fn keep_alive_reuses_one_connection() {
        let server = common::start();
        let dir = std::env::temp_dir().join(format!("ocs-curl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let names = [
            "F-0A12.lsabs",
            "D-0A10-0A12.lsabs",
            "C-0A11-0A12.lsabs",
            "F-0A12.dabs",
        ];
        let mut args = Vec::new();
        for n in names {
            args.push(format!("http://{}/abs/handler/{n}", server.addr));
            args.push("-o".into());
            args.push(dir.join(n).to_string_lossy().into_owned());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let (_, stderr) = curl(&args);
        for n in names {
            assert_eq!(
                std::fs::read(dir.join(n)).unwrap(),
                server.files[n].0,
                "{n} {stderr}"
            );
        }
        assert_eq!(
            server.connections.load(Ordering::SeqCst),
            1,
            "curl reused the connection"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn ranges() {
        let server = common::start();
        let url = format!("http://{}/abs/handler/F-0A11.lsabs", server.addr);
        let file = &server.files["F-0A11.lsabs"].0;
        let (body, status) = curl_status(&["-r", "16-31", &url]);
        assert_eq!((status, &body[..]), (206, &file[16..32]));
        let (body, status) = curl_status(&["-r", "-100", &url]);
        assert_eq!((status, &body[..]), (206, &file[file.len() - 100..]));
        let tail = format!("{}-", file.len() - 10);
        let (body, status) = curl_status(&["-r", &tail, &url]);
        assert_eq!((status, &body[..]), (206, &file[file.len() - 10..]));
        let past = format!("{}-", file.len() + 10);
        let (_, status) = curl_status(&["-r", &past, &url]);
        assert_eq!(status, 416);
        let (body, status) = curl_status(&["-r", "0-0", &url]);
        assert_eq!((status, &body[..]), (206, &file[..1]));
    }

    #[test]
    fn conditional_get() {
        let server = common::start();
        let name = "F-0A12.lsabs";
        let url = format!("http://{}/abs/handler/{name}", server.addr);
        let (bytes, modified) = &server.files[name];
        let inm = format!("If-None-Match: {}", etag_of(bytes));
        let (body, status) = curl_status(&["-H", &inm, &url]);
        assert_eq!((status, body.len()), (304, 0));
        let (_, status) = curl_status(&["-H", "If-None-Match: \"stale\"", &url]);
        assert_eq!(status, 200);
        // curl -z sends If-Modified-Since.
        let (_, status) = curl_status(&["-z", &http_date(*modified), &url]);
        assert_eq!(status, 304);
        let (body, status) = curl_status(&["-z", &http_date(modified - 86_400), &url]);
        assert_eq!((status, &body[..]), (200, &bytes[..]));
        // And a HEAD (curl -I) has the validators and no body.
        let (head, _) = curl(&["-I", &url]);
        let head = String::from_utf8(head).unwrap();
        assert!(
            head.contains(&format!("etag: {}", etag_of(bytes))),
            "{head}"
        );
        assert!(
            head.contains(&format!("content-length: {}", bytes.len())),
            "{head}"
        );
    }

    #[test]
    fn chunked_upload_with_100_continue() {
        let server = common::start();
        let url = format!("http://{}/upload", server.addr);
        let data: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let path = std::env::temp_dir().join(format!("ocs-upload-{}", std::process::id()));
        std::fs::write(&path, &data).unwrap();
        let at = format!("@{}", path.display());
        let want = format!("{} {}", data.len(), common::hex(&Sha1::digest(&data)));
        for extra in [
            &["-H", "Transfer-Encoding: chunked"][..],
            &[
                "-H",
                "Transfer-Encoding: chunked",
                "-H",
                "Expect: 100-continue",
            ][..],
            &["-H", "Expect: 100-continue"][..],
        ] {
            let mut args = vec!["--data-binary", &at];
            args.extend_from_slice(extra);
            args.push(&url);
            let (body, stderr) = curl(&args);
            assert_eq!(String::from_utf8_lossy(&body), want, "{extra:?} {stderr}");
        }
        std::fs::remove_file(&path).unwrap();
    }

    #[test]
    fn c3p_posts() {
        let server = common::start();
        let url = format!("http://{}/LiveServer/MCUFactory/", server.addr);
        let request = r#"<request xmlns="urn:ietf:params:xml:ns:cccp" C3PVersion="1" requestId="7" from="sip:focus@contoso.com" to="sip:mcu@contoso.com"><getAvailableMcuTypes/></request>"#;
        let (body, status) = curl_status(&[
            "-H",
            "Content-Type: application/cccp+xml",
            "--data-binary",
            request,
            &url,
        ]);
        assert_eq!(status, 200);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(
                "<response xmlns=\"urn:ietf:params:xml:ns:cccp\" code=\"success\" requestId=\"{}\"/>",
                request.len()
            )
        );
        let (_, status) = curl_status(&[
            "-H",
            "Content-Type: text/xml",
            "--data-binary",
            request,
            &url,
        ]);
        assert_eq!(status, 415);
        let (_, status) = curl_status(&[&url]);
        assert_eq!(status, 405);
        let wrong = format!("http://{}/LiveServer/Other/", server.addr);
        let (_, status) = curl_status(&[
            "-H",
            "Content-Type: application/cccp+xml",
            "-d",
            "x",
            &wrong,
        ]);
        assert_eq!(status, 404);
    }
}
