//! `wss://`: our client against a server that accepts over a `tokio_rustls` stream (as
//! `examples/tls_server.rs` does), tokio-tungstenite over TLS against that server, and each
//! certificate failure with its typed error.

mod common;
#[path = "common/wss.rs"]
mod wss;

use std::sync::Arc;

use common::certs::TestCa;
use common::*;
use futures_util::{SinkExt, StreamExt};
use switchyard::rustls::pki_types::ServerName;
use switchyard::{
    ClientOptions, CloseCode, ConnectError, Message, TlsError, TlsRoots, accept, connect_with,
};
use tokio_rustls::{TlsAcceptor, TlsConnector};
use tokio_tungstenite::tungstenite::Message as TMessage;
use wss::{client_config, server_config, tls_echo_server};

/// The CA's certificate in a file of its own, for [`TlsRoots::CaFile`].
fn ca_file(ca: &TestCa, name: &str) -> (TempFile, TlsRoots) {
    let file = TempFile::new(name, ca.pem().as_bytes());
    let roots = TlsRoots::CaFile(file.0.clone());
    (file, roots)
}

struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path =
            std::env::temp_dir().join(format!("switchyard-tls-{name}-{}.pem", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

async fn connect_error(url: &str, roots: TlsRoots) -> ConnectError {
    match connect_with(url, &ClientOptions::default().with_tls_roots(roots)).await {
        Ok(_) => panic!("{url} connected"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn our_client_echoes_over_wss_by_name_and_by_address() {
    within(20, async {
        let ca = TestCa::new("echo CA");
        let addr = tls_echo_server(&ca.leaf(&["localhost", "127.0.0.1"])).await;
        let (_file, roots) = ca_file(&ca, "echo");
        let options = ClientOptions::default().with_tls_roots(roots);
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{}/echo", addr.port());
            let (mut ws, response) = connect_with(&url, &options).await.unwrap();
            assert_eq!(response.status().as_u16(), 101);
            for message in [text_message("over TLS"), binary_message(&pattern(70_000))] {
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
            }
            ws.close(CloseCode::NORMAL, "done").await.unwrap();
            let info = ws.closed().await.unwrap();
            assert!(info.clean);
            assert_eq!(info.code, CloseCode::NORMAL);
        }
    })
    .await;
}

#[tokio::test]
async fn the_host_is_sent_as_sni_and_an_address_is_not() {
    within(20, async {
        let ca = TestCa::new("SNI CA");
        let leaf = ca.leaf(&["localhost", "127.0.0.1"]);
        let acceptor = TlsAcceptor::from(Arc::new(server_config(&leaf, &[b"http/1.1"])));
        let (listener, addr) = listener().await;
        let (names, mut seen) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let tls = acceptor.accept(tcp).await.unwrap();
                let name = tls.get_ref().1.server_name().map(str::to_owned);
                names.send(name).unwrap();
                let (mut ws, _) = accept(tls).await.unwrap();
                let _ = ws.close(CloseCode::NORMAL, "").await;
            }
        });
        let (_file, roots) = ca_file(&ca, "sni");
        let options = ClientOptions::default().with_tls_roots(roots);
        for (host, sni) in [("localhost", Some("localhost")), ("127.0.0.1", None)] {
            let url = format!("wss://{host}:{}/", addr.port());
            let (mut ws, _) = connect_with(&url, &options).await.unwrap();
            assert_eq!(seen.recv().await.unwrap().as_deref(), sni);
            let _ = ws.closed().await;
        }
    })
    .await;
}

#[tokio::test]
async fn a_rustls_config_of_ones_own_is_used_as_is() {
    within(20, async {
        let ca = TestCa::new("config CA");
        let addr = tls_echo_server(&ca.leaf(&["localhost"])).await;
        let config = client_config(&ca, &[]);
        let options = ClientOptions::default().with_tls_roots(TlsRoots::Config(Arc::new(config)));
        let url = format!("wss://localhost:{}/", addr.port());
        let (mut ws, _) = connect_with(&url, &options).await.unwrap();
        ws.send(Message::Text("mine".into())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("mine"));
    })
    .await;
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_untrusted() {
    within(20, async {
        let addr = tls_echo_server(&TestCa::new("server CA").leaf(&["localhost"])).await;
        let (_file, roots) = ca_file(&TestCa::new("another CA"), "untrusted");
        let url = format!("wss://localhost:{}/", addr.port());
        let error = connect_error(&url, roots).await;
        assert!(
            matches!(error, ConnectError::Tls(TlsError::UntrustedCertificate)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_a_name_mismatch() {
    within(20, async {
        let ca = TestCa::new("mismatch CA");
        let addr = tls_echo_server(&ca.leaf(&["elsewhere.test"])).await;
        let (_file, roots) = ca_file(&ca, "mismatch");
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{}/", addr.port());
            let error = connect_error(&url, roots.clone()).await;
            match error {
                ConnectError::Tls(TlsError::NameMismatch { host: named }) => {
                    assert_eq!(named, host);
                }
                other => panic!("{other:?}"),
            }
        }
    })
    .await;
}

#[tokio::test]
async fn an_expired_certificate_is_reported_as_expired() {
    within(20, async {
        let ca = TestCa::new("expired CA");
        let addr = tls_echo_server(&ca.expired_leaf(&["localhost"])).await;
        let (_file, roots) = ca_file(&ca, "expired");
        let url = format!("wss://localhost:{}/", addr.port());
        let error = connect_error(&url, roots).await;
        assert!(
            matches!(error, ConnectError::Tls(TlsError::ExpiredCertificate)),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the server's certificate has expired or is not valid yet"
        );
    })
    .await;
}

#[tokio::test]
async fn a_missing_or_empty_ca_file_fails_before_connecting() {
    within(20, async {
        // Nothing listens here: the roots are loaded before the TCP connect.
        let url = "wss://127.0.0.1:9/";
        let missing = TlsRoots::CaFile("/nonexistent/switchyard-ca.pem".into());
        let error = connect_error(url, missing).await;
        match &error {
            ConnectError::Tls(TlsError::Roots(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
                assert!(
                    e.to_string().contains("/nonexistent/switchyard-ca.pem"),
                    "{e}"
                );
            }
            other => panic!("{other:?}"),
        }
        let empty = TempFile::new("empty", b"not a certificate\n");
        let error = connect_error(url, TlsRoots::CaFile(empty.0.clone())).await;
        match &error {
            ConnectError::Tls(TlsError::Roots(e)) => {
                assert_eq!(e.kind(), std::io::ErrorKind::InvalidData);
                assert!(e.to_string().contains("holds no PEM certificate"), "{e}");
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn a_server_that_never_answers_the_tls_handshake_times_out() {
    within(20, async {
        let (listener, addr) = listener().await;
        let _held = tokio::spawn(async move {
            let (_tcp, _) = listener.accept().await.unwrap();
            std::future::pending::<()>().await;
        });
        let config = switchyard::Config::default()
            .with_handshake_timeout(std::time::Duration::from_millis(300));
        let ca = TestCa::new("silent CA");
        let (_file, roots) = ca_file(&ca, "silent");
        let options = ClientOptions::default()
            .with_config(config)
            .with_tls_roots(roots);
        let url = format!("wss://127.0.0.1:{}/", addr.port());
        let started = std::time::Instant::now();
        let error = connect_with(&url, &options).await.err().unwrap();
        assert!(matches!(error, ConnectError::Timeout), "{error:?}");
        assert!(started.elapsed() < std::time::Duration::from_secs(3));
    })
    .await;
}

#[tokio::test]
async fn tungstenite_over_rustls_against_our_server() {
    within(20, async {
        let ca = TestCa::new("tungstenite CA");
        let addr = tls_echo_server(&ca.leaf(&["localhost"])).await;
        let config = client_config(&ca, &[]);
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let url = format!("wss://localhost:{}/echo", addr.port());
        let (mut ws, response) = tokio_tungstenite::client_async(url, tls).await.unwrap();
        assert_eq!(response.status(), 101);
        ws.send(TMessage::text("from tungstenite")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text("from tungstenite")
        );
        ws.send(TMessage::binary(pattern(100_000))).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::binary(pattern(100_000))
        );
        ws.close(None).await.unwrap();
        while let Some(Ok(message)) = ws.next().await {
            assert!(message.is_close(), "{message:?}");
        }
    })
    .await;
}

/// Set by [`the_platform_roots_are_the_default`] for the child it runs.
const CHILD_URL: &str = "SWITCHYARD_TLS_TEST_URL";

#[tokio::test]
async fn the_platform_roots_are_the_default() {
    within(30, async {
        let ca = TestCa::new("platform CA");
        let addr = tls_echo_server(&ca.leaf(&["localhost"])).await;
        let (file, _) = ca_file(&ca, "platform");
        // The platform store is read once per process: a child process of this test binary,
        // with SSL_CERT_FILE (which the platform store honours on Linux) naming the test CA,
        // connects with the default options.
        let url = format!("wss://localhost:{}/echo", addr.port());
        let child = tokio::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "connects_with_the_default_roots", "--ignored"])
            .env("SSL_CERT_FILE", &file.0)
            .env_remove("SSL_CERT_DIR")
            .env(CHILD_URL, &url)
            .kill_on_drop(true)
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&child.stdout);
        assert!(child.status.success(), "{stdout}");
        assert!(stdout.contains("1 passed"), "{stdout}");
    })
    .await;
}

/// The child of [`the_platform_roots_are_the_default`]; fails on its own.
#[tokio::test]
#[ignore = "run by the_platform_roots_are_the_default, with SSL_CERT_FILE set"]
async fn connects_with_the_default_roots() {
    let url = std::env::var(CHILD_URL).expect("run by the_platform_roots_are_the_default");
    let (mut ws, _) = switchyard::connect(&url).await.unwrap();
    ws.send(Message::Text("platform".into())).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("platform"));
}

#[cfg(feature = "webpki-roots")]
#[tokio::test]
async fn webpki_roots_do_not_trust_a_private_ca() {
    within(20, async {
        let addr = tls_echo_server(&TestCa::new("private CA").leaf(&["localhost"])).await;
        let url = format!("wss://localhost:{}/", addr.port());
        let error = connect_error(&url, TlsRoots::WebPki).await;
        assert!(
            matches!(error, ConnectError::Tls(TlsError::UntrustedCertificate)),
            "{error:?}"
        );
    })
    .await;
}
