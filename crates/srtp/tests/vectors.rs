//! Full-packet known answers from `../shared/vectors/srtp/`: libsrtp's srtp_driver vectors and
//! pion/srtp's, protected and unprotected through the public API.

use std::collections::HashMap;
use std::path::PathBuf;

use ocs_srtp::{Error, MasterKey, Policy, Session, Suite};

fn dir() -> PathBuf {
    let base = std::env::var_os("OCS_VECTORS").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors"),
        PathBuf::from,
    );
    let d = base.join("srtp");
    assert!(d.is_dir(), "SRTP vectors not found at {}", d.display());
    d
}

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| c.is_ascii_hexdigit()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// `[section]` → name → bytes, for lines `name (N bytes) = hex`.
fn libsrtp() -> HashMap<String, HashMap<String, Vec<u8>>> {
    let text = std::fs::read_to_string(dir().join("libsrtp_srtp_driver_vectors.txt")).unwrap();
    let mut out: HashMap<String, HashMap<String, Vec<u8>>> = HashMap::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix('[') {
            section = rest.split(']').next().unwrap().to_string();
        } else if let Some((name, value)) = line.split_once(" = ")
            && let Some((name, _)) = name.split_once(" (")
        {
            out.entry(section.clone())
                .or_default()
                .insert(name.trim().to_string(), hex(value));
        }
    }
    out
}

fn pair(policy: &Policy, ssrc: u32) -> (Session, Session) {
    let mut tx = Session::new();
    tx.add_stream(ssrc, policy).unwrap();
    let mut rx = Session::new();
    rx.add_stream(ssrc, policy).unwrap();
    (tx, rx)
}

/// Protects `plain` and checks it equals `cipher`, then unprotects `cipher` back to `plain`,
/// then checks a replay and a flipped bit are refused.
fn check_rtp(policy: &Policy, ssrc: u32, plain: &[u8], cipher: &[u8]) {
    let (mut tx, mut rx) = pair(policy, ssrc);
    let mut p = plain.to_vec();
    tx.protect_rtp_vec(&mut p).unwrap();
    assert_eq!(hexs(&p), hexs(cipher), "protect");
    let mut c = cipher.to_vec();
    rx.unprotect_rtp_vec(&mut c).unwrap();
    assert_eq!(hexs(&c), hexs(plain), "unprotect");
    let mut again = cipher.to_vec();
    assert!(matches!(
        rx.unprotect_rtp_vec(&mut again),
        Err(Error::Replay(..))
    ));
    let (_, mut rx2) = pair(policy, ssrc);
    let mut bad = cipher.to_vec();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        rx2.unprotect_rtp_vec(&mut bad),
        Err(Error::AuthenticationFailed)
    );
    let mut good = cipher.to_vec();
    rx2.unprotect_rtp_vec(&mut good)
        .expect("a refused packet leaves the state as it was");
}

fn check_rtcp(policy: &Policy, ssrc: u32, plain: &[u8], cipher: &[u8]) {
    let (mut tx, mut rx) = pair(policy, ssrc);
    let mut p = plain.to_vec();
    tx.protect_rtcp_vec(&mut p).unwrap();
    assert_eq!(hexs(&p), hexs(cipher), "protect_rtcp");
    let mut c = cipher.to_vec();
    rx.unprotect_rtcp_vec(&mut c).unwrap();
    assert_eq!(hexs(&c), hexs(plain), "unprotect_rtcp");
    let mut again = cipher.to_vec();
    assert!(matches!(
        rx.unprotect_rtcp_vec(&mut again),
        Err(Error::Replay(..))
    ));
}

fn hexs(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn key(suite: Suite, bytes: &[u8]) -> MasterKey {
    MasterKey::from_key_salt(suite, &bytes[..suite.key_len() + suite.salt_len()]).unwrap()
}

#[test]
fn libsrtp_aes_cm_128() {
    let v = libsrtp();
    let g = &v["globals"];
    let s = &v["srtp_validate"];
    let suite = Suite::AesCm128HmacSha1_80;
    let policy = Policy::new(suite, key(suite, &g["test_key"]));
    check_rtp(
        &policy,
        0xcafebabe,
        &s["srtp_plaintext_ref"],
        &s["srtp_ciphertext"],
    );
    check_rtcp(
        &policy,
        0xcafebabe,
        &s["rtcp_plaintext_ref"],
        &s["srtcp_ciphertext"],
    );
}

#[test]
fn libsrtp_mki() {
    let v = libsrtp();
    let g = &v["globals"];
    let s = &v["srtp_validate_mki"];
    let suite = Suite::AesCm128HmacSha1_80;
    let policy = Policy::new(
        suite,
        key(suite, &g["test_key"])
            .with_mki(&g["test_mki_id"])
            .unwrap(),
    )
    .with_key(
        key(suite, &g["test_key_2"])
            .with_mki(&g["test_mki_id_2"])
            .unwrap(),
    )
    .unwrap();
    check_rtp(
        &policy,
        0xcafebabe,
        &s["srtp_plaintext_ref"],
        &s["srtp_ciphertext"],
    );
    check_rtcp(
        &policy,
        0xcafebabe,
        &s["rtcp_plaintext_ref"],
        &s["srtcp_ciphertext"],
    );
    // An unknown MKI is refused as such.
    let (_, mut rx) = pair(&policy, 0xcafebabe);
    let mut c = s["srtp_ciphertext"].clone();
    let at = c.len() - 10 - 4;
    c[at] ^= 0xff;
    assert_eq!(rx.unprotect_rtp_vec(&mut c), Err(Error::UnknownMki));
}

#[test]
fn libsrtp_null_cipher() {
    let v = libsrtp();
    let g = &v["globals"];
    let s = &v["srtp_validate_null_sha1_80"];
    let suite = Suite::NullHmacSha1_80;
    // The NULL cipher sends SRTCP with the E flag clear, as libsrtp does.
    let policy = Policy::new(suite, key(suite, &g["test_key"]));
    check_rtp(
        &policy,
        0xcafebabe,
        &s["srtp_plaintext_ref"],
        &s["srtp_ciphertext"],
    );
    check_rtcp(
        &policy,
        0xcafebabe,
        &s["rtcp_plaintext_ref"],
        &s["srtcp_ciphertext"],
    );
}

#[test]
fn libsrtp_aes_192_256() {
    let v = libsrtp();
    let s = &v["srtp_validate_aes_192"];
    let suite = Suite::AesCm192HmacSha1_80;
    let policy = Policy::new(suite, key(suite, &s["aes_192_test_key"]));
    check_rtp(&policy, 0, &s["srtp_plaintext_ref"], &s["srtp_ciphertext"]);
    let s = &v["srtp_validate_aes_256"];
    let suite = Suite::AesCm256HmacSha1_80;
    let policy = Policy::new(suite, key(suite, &s["aes_256_test_key"]));
    check_rtp(
        &policy,
        0xcafebabe,
        &s["srtp_plaintext_ref"],
        &s["srtp_ciphertext"],
    );
}

#[test]
fn libsrtp_gcm() {
    let v = libsrtp();
    let g = &v["globals"];
    let s = &v["srtp_validate_gcm"];
    let suite = Suite::AeadAes128Gcm;
    let policy = Policy::new(suite, key(suite, &g["test_key_gcm"]));
    check_rtp(
        &policy,
        0xcafebabe,
        &s["rtp_plaintext_ref"],
        &s["srtp_ciphertext"],
    );
    check_rtcp(
        &policy,
        0xcafebabe,
        &s["rtcp_plaintext_ref"],
        &s["srtcp_ciphertext"],
    );
}

/// pion/srtp: RTP packets with V=0 at sequence numbers 5000..5004 and 65535, a fresh context
/// per packet; SRTCP vectors.
#[test]
fn pion() {
    let text = std::fs::read_to_string(dir().join("pion_srtp_kat.txt")).unwrap();
    let master = hex("0dcd213e4cbcf28f017f6994401e2889");
    let salt = hex("62776038c06dc9419f6dd9433e7c");
    let mut plain = Vec::new();
    let mut n = 0;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("seq ") {
            plain = hex(rest.split("= ").nth(1).unwrap());
        } else if let Some(rest) = line.strip_prefix("CTR/HMAC80 srtp = ") {
            let suite = Suite::AesCm128HmacSha1_80;
            let ks = [master.clone(), salt.clone()].concat();
            check_rtp(
                &Policy::new(suite, key(suite, &ks)),
                0,
                &plain,
                &hex(rest.split_whitespace().next().unwrap()),
            );
            n += 1;
        } else if let Some(rest) = line.strip_prefix("GCM128     srtp = ") {
            let suite = Suite::AeadAes128Gcm;
            let ks = [master.clone(), salt[..12].to_vec()].concat();
            check_rtp(
                &Policy::new(suite, key(suite, &ks)),
                0,
                &plain,
                &hex(rest.split_whitespace().next().unwrap()),
            );
            n += 1;
        }
    }
    assert_eq!(n, 12);
    // SRTCP
    let lines: Vec<&str> = text.lines().collect();
    let mut m = 0;
    for (i, l) in lines.iter().enumerate() {
        let l = l.trim();
        let Some(rest) = l.strip_prefix("ssrc 0x") else {
            continue;
        };
        let ssrc = u32::from_str_radix(&rest[..8], 16).unwrap();
        let plain = hex(rest.split("= ").nth(1).unwrap());
        let cipher = hex(lines[i + 1]
            .split("= ")
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap());
        // The suite header is the nearest [..] line above.
        let header = lines[..i]
            .iter()
            .rev()
            .find(|h| h.starts_with('['))
            .unwrap();
        let suite: Suite = header[1..header.find(']').unwrap()].parse().unwrap();
        let mk = hex(header
            .split("master key ")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap());
        let ms = hex(header.split("master salt ").nth(1).unwrap());
        let policy = Policy::new(suite, key(suite, &[mk, ms].concat()));
        check_rtcp(&policy, ssrc, &plain, &cipher);
        m += 1;
    }
    assert_eq!(m, 3);
}
