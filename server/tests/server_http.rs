//! The `switchyard` binary's HTTP side, over real sockets: every status it answers with.

mod common;

use common::binary::*;
use common::*;
use switchyard::{CloseCode, connect};

#[tokio::test]
async fn healthz_answers_200_to_get_and_head() {
    within(30, async {
        let server = Server::start(&[]).await;
        let response = http(server.addr, &get("/healthz", &[])).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.body, b"ok\n");
        let response = http(server.addr, b"HEAD /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("Content-Length"), Some("3"));
        assert!(response.body.is_empty());
    })
    .await;
}

#[tokio::test]
async fn unknown_paths_are_404_and_other_methods_405() {
    within(30, async {
        let server = Server::start(&[]).await;
        assert_eq!(http(server.addr, &get("/nope", &[])).await.status, 404);
        assert_eq!(http(server.addr, &get("/nope", &UPGRADE)).await.status, 404);
        let post = http(
            server.addr,
            b"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n",
        )
        .await;
        assert_eq!(post.status, 405);
        assert_eq!(post.header("Allow"), Some("GET, HEAD"));
    })
    .await;
}

#[tokio::test]
async fn plain_http_to_a_websocket_route_is_426_with_upgrade() {
    within(30, async {
        let server = Server::start(&[]).await;
        for route in ["/echo", "/chat", "/inspect?x=1"] {
            let response = http(server.addr, &get(route, &[])).await;
            assert_eq!(response.status, 426, "{route}");
            assert_eq!(response.header("Upgrade"), Some("websocket"));
        }
    })
    .await;
}

#[tokio::test]
async fn handshake_errors_carry_the_cores_status() {
    within(30, async {
        let server = Server::start(&["--allow-origin", "http://allowed.example"]).await;
        let bad_key = http(
            server.addr,
            &get(
                "/echo",
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Key: short",
                    "Sec-WebSocket-Version: 13",
                ],
            ),
        )
        .await;
        assert_eq!(bad_key.status, 400);
        let old_version = http(
            server.addr,
            &get(
                "/echo",
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
                    "Sec-WebSocket-Version: 8",
                ],
            ),
        )
        .await;
        assert_eq!(old_version.status, 426);
        assert_eq!(old_version.header("Sec-WebSocket-Version"), Some("13"));
        let mut cross_site = UPGRADE.to_vec();
        cross_site.push("Origin: http://evil.example");
        assert_eq!(
            http(server.addr, &get("/echo", &cross_site)).await.status,
            403
        );
        let mut allowed = UPGRADE.to_vec();
        allowed.push("Origin: http://allowed.example");
        let response = http_head_only(server.addr, &get("/echo", &allowed)).await;
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        let mut same_host = UPGRADE.to_vec();
        same_host.push("Origin: http://test");
        let response = http_head_only(server.addr, &get("/echo", &same_host)).await;
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        let huge = format!("X-Filler: {}", "a".repeat(20_000));
        let mut too_large = UPGRADE.to_vec();
        too_large.push(&huge);
        assert_eq!(
            http(server.addr, &get("/echo", &too_large)).await.status,
            431
        );
        let malformed = http(server.addr, b"\x16\x03\x01 not http at all\r\n\r\n").await;
        assert_eq!(malformed.status, 400);
    })
    .await;
}

/// Reads just the response head (a 101 is followed by frames, not EOF).
async fn http_head_only(addr: std::net::SocketAddr, request: &[u8]) -> String {
    use tokio::io::AsyncWriteExt;
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(request).await.unwrap();
    String::from_utf8(read_head(&mut tcp).await.unwrap()).unwrap()
}

#[tokio::test]
async fn serves_a_www_directory_with_content_types() {
    within(30, async {
        let www = TempDir::new("www");
        www.write("index.html", b"<!doctype html><title>t</title>");
        www.write("app.js", b"export {};");
        www.write("style.css", b"body{}");
        www.write("pkg/switchyard_wasm_bg.wasm", b"\0asm\x01\0\0\0");
        www.write("pkg/package.json", b"{}");
        let server = Server::start(&["--www", www.path().to_str().unwrap()]).await;
        for (path, content_type, body) in [
            (
                "/",
                "text/html; charset=utf-8",
                &b"<!doctype html><title>t</title>"[..],
            ),
            (
                "/index.html",
                "text/html; charset=utf-8",
                b"<!doctype html><title>t</title>",
            ),
            (
                "/app.js?v=2",
                "text/javascript; charset=utf-8",
                b"export {};",
            ),
            ("/style.css", "text/css; charset=utf-8", b"body{}"),
            (
                "/pkg/switchyard_wasm_bg.wasm",
                "application/wasm",
                b"\0asm\x01\0\0\0",
            ),
            ("/pkg/package.json", "application/json", b"{}"),
        ] {
            let response = http(server.addr, &get(path, &[])).await;
            assert_eq!(response.status, 200, "{path}");
            assert_eq!(
                response.header("Content-Type"),
                Some(content_type),
                "{path}"
            );
            assert_eq!(response.body, body, "{path}");
        }
        for path in [
            "/missing.js",
            "/../Cargo.toml",
            "/pkg/../../etc/passwd",
            "/pkg/",
        ] {
            assert_eq!(
                http(server.addr, &get(path, &[])).await.status,
                404,
                "{path}"
            );
        }
    })
    .await;
}

/// A `--www` file is read as it is sent, each piece within the handshake timeout: a client
/// that reads slowly but steadily gets all of a file that takes it longer than that timeout
/// (before, the response was cut at the handshake's deadline, its Content-Length promised in
/// vain).
#[tokio::test]
async fn a_large_www_file_reaches_a_slow_reader_whole() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within(60, async {
        let www = TempDir::new("www-large");
        // More than the kernel's socket buffers hold (a few MiB on loopback).
        let content = pattern(16 << 20);
        www.write("big.bin", &content);
        let dir = www.path().to_str().unwrap();
        let server = Server::start(&["--www", dir, "--handshake-timeout", "1s"]).await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(64 * 1024).unwrap();
        let mut tcp = socket.connect(server.addr).await.unwrap();
        tcp.write_all(&get("/big.bin", &[])).await.unwrap();
        let started = std::time::Instant::now();
        let mut received = Vec::new();
        let mut piece = vec![0u8; 64 * 1024];
        loop {
            let n = tcp.read(&mut piece).await.unwrap();
            if n == 0 {
                break;
            }
            received.extend_from_slice(&piece[..n]);
            // At most about 6 MiB/s: the 16 MiB take more than two seconds.
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        assert!(started.elapsed() > std::time::Duration::from_secs(1));
        let split = received.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        let head = String::from_utf8_lossy(&received[..split]).to_string();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert!(
            head.contains(&format!("Content-Length: {}", content.len())),
            "{head}"
        );
        let body = &received[split + 4..];
        assert_eq!(body.len(), content.len());
        assert!(body == content.as_slice());
        // HEAD: the same length, no body.
        let head = http_head_only(server.addr, b"HEAD /big.bin HTTP/1.1\r\nHost: test\r\n\r\n");
        assert!(
            head.await
                .contains(&format!("Content-Length: {}", content.len()))
        );
    })
    .await;
}

#[tokio::test]
async fn at_max_connections_new_requests_get_503() {
    within(30, async {
        let server = Server::start(&["--max-connections", "1"]).await;
        let (mut ws, _) = connect(&server.url("/echo")).await.unwrap();
        let response = http(server.addr, &get("/healthz", &[])).await;
        assert_eq!(response.status, 503);
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        ws.closed().await.unwrap();
        // The slot is free again once the connection is gone.
        let mut status = 0;
        for _ in 0..50 {
            status = http(server.addr, &get("/healthz", &[])).await.status;
            if status == 200 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert_eq!(status, 200);
    })
    .await;
}
