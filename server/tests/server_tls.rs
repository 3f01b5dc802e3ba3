//! The binary over TLS: `--tls-cert`/`--tls-key` in each key format, `--tls-self-signed`,
//! every way starting can fail and its exit status, the TLS handshake timeout, SIGHUP reload
//! (and SIGHUP without TLS), with our own `wss://` client.

mod common;
#[path = "../../switchyard/tests/common/wss.rs"]
mod wss;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary::{Server, TempDir, run_to_exit};
use common::certs::{Leaf, TestCa};
use common::{peers_python, run_interop_client, within};
use switchyard::rustls::pki_types::ServerName;
use switchyard::{ClientOptions, CloseCode, ConnectError, Message, TlsError, TlsRoots};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wss::client_config;

/// A CA, a certificate it signed for localhost and 127.0.0.1 and its key, in `dir`: the
/// paths of the CA file, the certificate and the key.
struct Files {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Files {
    fn write(dir: &TempDir, prefix: &str, ca: &TestCa, leaf: &Leaf) -> Files {
        dir.write(&format!("{prefix}-ca.pem"), ca.pem().as_bytes());
        dir.write(&format!("{prefix}-cert.pem"), leaf.cert_pem.as_bytes());
        dir.write(&format!("{prefix}-key.pem"), leaf.key_pem.as_bytes());
        Files {
            ca: dir.path().join(format!("{prefix}-ca.pem")),
            cert: dir.path().join(format!("{prefix}-cert.pem")),
            key: dir.path().join(format!("{prefix}-key.pem")),
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn trusting(ca: &Path) -> ClientOptions {
    ClientOptions::default().with_tls_roots(TlsRoots::CaFile(ca.to_owned()))
}

/// Opens `/echo` at `url` and checks one round trip; returns the open connection.
async fn echo_once(
    url: &str,
    options: &ClientOptions,
) -> switchyard::WebSocket<switchyard::ClientStream> {
    let (mut ws, response) = switchyard::connect_with(url, options).await.unwrap();
    assert_eq!(response.status().as_u16(), 101);
    ws.send(Message::Text("over TLS".into())).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Text("over TLS".into())
    );
    ws
}

async fn close(mut ws: switchyard::WebSocket<switchyard::ClientStream>) {
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    assert!(ws.closed().await.unwrap().clean);
}

/// `openssl` converting a PKCS#8 key to its traditional form: `rsa -traditional` writes
/// PKCS#1, `ec` writes SEC1.
fn openssl_traditional(kind: &str, pkcs8: &Path, out: &Path) {
    let flags: &[&str] = if kind == "rsa" {
        &["-traditional"]
    } else {
        &[]
    };
    let status = Command::new("openssl")
        .args([kind, "-in"])
        .arg(pkcs8)
        .args(flags)
        .arg("-out")
        .arg(out)
        .status()
        .expect("openssl is installed (Debian package openssl)");
    assert!(status.success());
}

#[tokio::test]
async fn serves_wss_and_https_with_a_pkcs8_key() {
    within(30, async {
        let dir = TempDir::new("tls-pkcs8");
        let ca = TestCa::new("pkcs8 CA");
        let files = Files::write(&dir, "a", &ca, &ca.leaf(&["localhost", "127.0.0.1"]));
        let server = Server::start(&strs(&files.args())).await;
        assert!(server.secure, "the listening line says https://");
        let options = trusting(&files.ca);
        close(echo_once(&server.url("/echo"), &options).await).await;
        let by_name = format!("wss://localhost:{}/echo", server.addr.port());
        close(echo_once(&by_name, &options).await).await;

        // Plain HTTP routes are served over TLS too, and nothing is served in the clear.
        let response = https_get(&server, &ca, "/healthz").await;
        assert!(response.starts_with("HTTP/1.1 200 OK\r\n"), "{response}");
        assert!(response.ends_with("ok\n"), "{response}");
        let error = switchyard::connect(&format!("ws://{}/echo", server.addr))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, ConnectError::Io(_) | ConnectError::Handshake(_)),
            "{error:?}"
        );
    })
    .await;
}

/// GET `path` over TLS (trusting `ca`), the whole response as text.
async fn https_get(server: &Server, ca: &TestCa, path: &str) -> String {
    let config = client_config(ca, &[]);
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // The server closes without close_notify after the response: the bytes are what counts.
    let _ = tls.read_to_end(&mut response).await;
    String::from_utf8(response).unwrap()
}

#[tokio::test]
async fn takes_pkcs1_rsa_and_sec1_ec_keys() {
    within(60, async {
        let dir = TempDir::new("tls-key-formats");
        let ca = TestCa::new("formats CA");
        dir.write("ca.pem", ca.pem().as_bytes());

        // SEC1: rcgen's P-256 key, rewritten by openssl as `EC PRIVATE KEY`.
        let ec = ca.leaf(&["127.0.0.1"]);
        dir.write("ec-cert.pem", ec.cert_pem.as_bytes());
        dir.write("ec-pkcs8.pem", ec.key_pem.as_bytes());
        openssl_traditional(
            "ec",
            &dir.path().join("ec-pkcs8.pem"),
            &dir.path().join("ec-sec1.pem"),
        );

        // PKCS#1: an RSA key from openssl, certified by the CA, rewritten as
        // `RSA PRIVATE KEY`.
        let rsa8 = dir.path().join("rsa-pkcs8.pem");
        let status = Command::new("openssl")
            .args([
                "genpkey",
                "-algorithm",
                "RSA",
                "-pkeyopt",
                "rsa_keygen_bits:2048",
            ])
            .arg("-out")
            .arg(&rsa8)
            .status()
            .expect("openssl is installed (Debian package openssl)");
        assert!(status.success());
        let rsa = ca.leaf_for_key(&["127.0.0.1"], &std::fs::read_to_string(&rsa8).unwrap());
        dir.write("rsa-cert.pem", rsa.cert_pem.as_bytes());
        openssl_traditional("rsa", &rsa8, &dir.path().join("rsa-pkcs1.pem"));

        for (cert, key, marker) in [
            ("ec-cert.pem", "ec-sec1.pem", "BEGIN EC PRIVATE KEY"),
            ("rsa-cert.pem", "rsa-pkcs1.pem", "BEGIN RSA PRIVATE KEY"),
        ] {
            let key = dir.path().join(key);
            assert!(std::fs::read_to_string(&key).unwrap().contains(marker));
            let cert = dir.path().join(cert).display().to_string();
            let key = key.display().to_string();
            let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key]).await;
            let options = trusting(&dir.path().join("ca.pem"));
            close(echo_once(&server.url("/echo"), &options).await).await;
        }
    })
    .await;
}

#[tokio::test]
async fn one_tls_file_without_the_other_is_a_usage_error() {
    within(30, async {
        for args in [
            &["--tls-cert", "cert.pem"][..],
            &["--tls-key", "key.pem"],
            &[
                "--tls-self-signed",
                "--tls-cert",
                "c.pem",
                "--tls-key",
                "k.pem",
            ],
            &["--tls-self-signed", "--tls-key", "k.pem"],
        ] {
            let (status, stderr) = run_to_exit(args).await;
            assert_eq!(status.code(), Some(2), "{args:?}: {stderr}");
            assert!(stderr.contains("Usage:"), "{stderr}");
        }
    })
    .await;
}

#[tokio::test]
async fn bad_certificate_or_key_files_stop_the_start_with_status_1() {
    within(30, async {
        let dir = TempDir::new("tls-bad-files");
        let ca = TestCa::new("bad CA");
        let good = Files::write(&dir, "good", &ca, &ca.leaf(&["localhost"]));
        let other = Files::write(&dir, "other", &ca, &ca.leaf(&["localhost"]));
        dir.write("garbage.pem", b"neither a certificate nor a key\n");
        let garbage = dir.path().join("garbage.pem");
        let missing = dir.path().join("missing.pem");
        let unreadable = dir.path().to_owned(); // a directory
        let cases: [(&Path, &Path, String); 5] = [
            (
                &missing,
                &good.key,
                format!("cannot read {}", missing.display()),
            ),
            (
                &good.cert,
                &unreadable,
                format!("cannot read {}", unreadable.display()),
            ),
            (
                &garbage,
                &good.key,
                format!("{} holds no usable PEM certificate", garbage.display()),
            ),
            (
                &good.cert,
                &garbage,
                format!("{} holds no usable PEM private key", garbage.display()),
            ),
            (
                &good.cert,
                &other.key,
                format!(
                    "the private key in {} does not match the certificate in {}",
                    other.key.display(),
                    good.cert.display()
                ),
            ),
        ];
        for (cert, key, expected) in cases {
            let cert = cert.display().to_string();
            let key = key.display().to_string();
            let (status, stderr) = run_to_exit(&["--tls-cert", &cert, "--tls-key", &key]).await;
            assert_eq!(status.code(), Some(1), "{stderr}");
            assert!(stderr.contains(&expected), "want {expected:?} in {stderr}");
            assert!(!stderr.contains("listening"), "{stderr}");
        }
    })
    .await;
}

#[tokio::test]
async fn an_expired_certificate_starts_with_a_warning() {
    within(30, async {
        let dir = TempDir::new("tls-expired");
        let ca = TestCa::new("expired CA");
        let files = Files::write(&dir, "x", &ca, &ca.expired_leaf(&["127.0.0.1"]));
        let server = Server::start_logged(&strs(&files.args())).await;
        assert!(server.secure);
        let warning = server.wait_for_log("the certificate has expired").await;
        assert!(warning.contains("WARN"), "{warning}");
        assert!(
            warning.contains(&files.cert.display().to_string()),
            "{warning}"
        );
        // And clients that check it refuse it.
        let error = switchyard::connect_with(&server.url("/echo"), &trusting(&files.ca))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, ConnectError::Tls(TlsError::ExpiredCertificate)),
            "{error:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_client_that_never_finishes_its_tls_handshake_is_cut_off() {
    within(30, async {
        let dir = TempDir::new("tls-silent");
        let ca = TestCa::new("silent CA");
        let files = Files::write(&dir, "s", &ca, &ca.leaf(&["127.0.0.1"]));
        let mut args = files.args();
        args.extend(["--handshake-timeout".into(), "500ms".into()]);
        let server = Server::start(&strs(&args)).await;
        for hello in [&b""[..], b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"] {
            let mut tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            tcp.write_all(hello).await.unwrap();
            let started = Instant::now();
            let mut rest = Vec::new();
            tcp.read_to_end(&mut rest).await.unwrap();
            let waited = started.elapsed();
            assert!(rest.is_empty(), "{rest:?}");
            assert!(
                waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
                "{waited:?}"
            );
        }
        // The server still serves.
        close(echo_once(&server.url("/echo"), &trusting(&files.ca)).await).await;
    })
    .await;
}

/// One handshake timeout covers the TLS handshake and what follows it (the HTTP/1.1 request
/// head, or HTTP/2's preface): a client that finishes TLS just in time has only what is left
/// to send its request, not a timeout of its own for each layer.
#[tokio::test]
async fn one_handshake_timeout_covers_tls_and_the_request() {
    within(30, async {
        let dir = TempDir::new("tls-deadline");
        let ca = TestCa::new("deadline CA");
        let files = Files::write(&dir, "d", &ca, &ca.leaf(&["127.0.0.1"]));
        let mut args = files.args();
        args.extend(["--handshake-timeout".into(), "2s".into()]);
        let server = Server::start(&strs(&args)).await;
        for alpn in [&b"http/1.1"[..], b"h2"] {
            let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
            let started = Instant::now();
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let config = Arc::new(client_config(&ca, &[alpn]));
            let mut tls = tokio_rustls::TlsConnector::from(config)
                .connect(ServerName::try_from("127.0.0.1").unwrap(), tcp)
                .await
                .unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
            // Nothing more is sent: the server gives up at the deadline of the accept (2 s
            // in), not a timeout after the TLS handshake (3.5 s in).
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest).await;
            let waited = started.elapsed();
            assert!(
                waited >= Duration::from_millis(1900) && waited < Duration::from_millis(3000),
                "{}: {waited:?}",
                String::from_utf8_lossy(alpn)
            );
        }
        // The server still serves.
        close(echo_once(&server.url("/echo"), &trusting(&files.ca)).await).await;
    })
    .await;
}

#[tokio::test]
async fn sighup_reloads_the_certificate_without_dropping_connections() {
    within(60, async {
        let dir = TempDir::new("tls-reload");
        let (first_ca, second_ca) = (TestCa::new("first CA"), TestCa::new("second CA"));
        let first = Files::write(&dir, "first", &first_ca, &first_ca.leaf(&["127.0.0.1"]));
        let second = Files::write(&dir, "second", &second_ca, &second_ca.leaf(&["127.0.0.1"]));
        let live = Files::write(&dir, "live", &first_ca, &first_ca.leaf(&["127.0.0.1"]));
        let server = Server::start_logged(&strs(&live.args())).await;
        let url = server.url("/echo");
        let mut open = echo_once(&url, &trusting(&first.ca)).await;

        // The second pair replaces the first on disk, then SIGHUP.
        std::fs::copy(&second.cert, &live.cert).unwrap();
        std::fs::copy(&second.key, &live.key).unwrap();
        server.signal("HUP").await;
        server
            .wait_for_log("SIGHUP: certificate and key reloaded")
            .await;
        close(echo_once(&url, &trusting(&second.ca)).await).await;
        let error = switchyard::connect_with(&url, &trusting(&first.ca))
            .await
            .err()
            .unwrap();
        assert!(
            matches!(error, ConnectError::Tls(TlsError::UntrustedCertificate)),
            "{error:?}"
        );

        // A broken key: the reload fails, is logged, and the second pair stays.
        std::fs::write(&live.key, b"not a key\n").unwrap();
        server.signal("HUP").await;
        let failure = server.wait_for_log("SIGHUP: reload failed").await;
        assert!(
            failure.contains("holds no usable PEM private key"),
            "{failure}"
        );
        close(echo_once(&url, &trusting(&second.ca)).await).await;

        // The connection opened before both reloads was never dropped.
        open.send(Message::Text("still here".into())).await.unwrap();
        assert_eq!(
            open.recv().await.unwrap().unwrap(),
            Message::Text("still here".into())
        );
        close(open).await;
    })
    .await;
}

#[tokio::test]
async fn sighup_without_tls_is_logged_and_ignored() {
    within(30, async {
        let server = Server::start_logged(&[]).await;
        server.signal("HUP").await;
        server
            .wait_for_log("SIGHUP ignored: no TLS certificate to reload")
            .await;
        let (mut ws, _) = switchyard::connect(&server.url("/echo")).await.unwrap();
        ws.send(Message::Text("alive".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Text("alive".into())
        );
    })
    .await;
}

#[tokio::test]
async fn self_signed_serves_localhost_and_127_0_0_1_from_a_logged_file() {
    within(30, async {
        let mut server = Server::start_logged(&["--tls-self-signed"]).await;
        assert!(server.secure);
        let line = server.wait_for_log("self-signed certificate").await;
        let path = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("cert="))
            .unwrap_or_else(|| panic!("no cert= in {line}"));
        let path = PathBuf::from(path);
        let options = trusting(&path);
        for host in ["localhost", "127.0.0.1"] {
            let url = format!("wss://{host}:{}/echo", server.addr.port());
            close(echo_once(&url, &options).await).await;
        }
        // A clean stop removes the file it wrote.
        server.terminate().await;
        assert!(server.wait().await.success());
        assert!(!path.exists(), "{} is left behind", path.display());
    })
    .await;
}

#[tokio::test]
async fn python_websockets_echoes_over_wss() {
    within(60, async {
        let dir = TempDir::new("tls-python");
        let ca = TestCa::new("python CA");
        let files = Files::write(&dir, "p", &ca, &ca.leaf(&["localhost"]));
        let server = Server::start(&strs(&files.args())).await;
        let url = format!("wss://localhost:{}/echo", server.addr.port());
        let args = [url, files.ca.display().to_string()];
        run_interop_client(&peers_python(), "tests/py/wss_echo.py", &args).await;
    })
    .await;
}
