//! SIP over TLS to the reference server: the self-signed certificate it generates on first start
//! (kept, and reused on the next start), a REGISTER answered on the TLS connection, CRLF
//! keep-alives answered. (Via and Record-Route across transports: `tests/server_engine.rs`.)

#![cfg(feature = "server")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use ocs_stack::server::{Config, Running, spawn};
use ocs_stack::sip::Message;
use ocs_stack::sip::stream::{Frame, Status, StreamDecoder};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn start(dir: &std::path::Path) -> Running {
    spawn(Config {
        data_dir: dir.to_owned(),
        udp: None,
        tcp: None,
        tls: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
        web: None,
        psom: None,
        auth: Vec::new(),
        ..Config::default()
    })
    .await
    .unwrap()
}

async fn read_frame<R: tokio::io::AsyncRead + Unpin>(r: &mut R, buf: &mut BytesMut) -> Frame {
    let dec = StreamDecoder::default();
    loop {
        let data = Bytes::copy_from_slice(buf);
        if let Status::Complete(f, used) = dec.decode(&data).unwrap() {
            let _ = buf.split_to(used);
            return f;
        }
        let n = tokio::time::timeout(Duration::from_secs(5), r.read_buf(buf))
            .await
            .expect("an answer in time")
            .unwrap();
        assert!(n > 0, "the server closed the connection");
    }
}

#[tokio::test]
async fn register_over_tls_with_the_generated_certificate() {
    let dir = std::env::temp_dir().join(format!("ocs-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let server = start(&dir).await;
    let bound = server.bound;
    let addr = bound.tls.unwrap();
    let pem = std::fs::read(dir.join("tls-cert.pem")).expect("a certificate was generated");

    // A client that trusts exactly that certificate, for the name "localhost".
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&pem) {
        roots.add(c.unwrap()).unwrap();
    }
    let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("the handshake verifies the server's certificate");

    let local = tls.get_ref().0.local_addr().unwrap();
    let register = format!(
        "REGISTER sip:contoso.com SIP/2.0\r\nVia: SIP/2.0/TLS {local};branch=z9hG4bKtls1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@contoso.com>;tag=t1\r\nTo: <sip:alice@contoso.com>\r\n\
         Call-ID: tls-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@{local};transport=tls>\r\n\
         Expires: 600\r\nContent-Length: 0\r\n\r\n"
    );
    tls.write_all(register.as_bytes()).await.unwrap();
    let mut buf = BytesMut::new();
    let Frame::Message(ok) = read_frame(&mut tls, &mut buf).await else {
        panic!("a message")
    };
    let ok: Message = ok;
    assert_eq!(ok.status(), Some(200));
    assert!(
        ok.header(ocs_stack::sip::HeaderName::Contact)
            .unwrap()
            .value
            .contains("expires=600")
    );
    // A keep-alive ping gets its pong on the same connection.
    tls.write_all(b"\r\n\r\n").await.unwrap();
    assert!(matches!(read_frame(&mut tls, &mut buf).await, Frame::Pong));

    server.stop().await.unwrap();
    // The next start uses the same certificate.
    let server = start(&dir).await;
    assert_eq!(std::fs::read(dir.join("tls-cert.pem")).unwrap(), pem);
    server.stop().await.unwrap();
    std::fs::remove_dir_all(&dir).ok();
}
