//! The binary over HTTP/2 (RFC 8441), with the `h2` crate as the client in-process, or raw
//! frames for what no well-behaved client sends: WebSockets on extended CONNECT streams
//! (cleartext with prior knowledge, and over TLS by ALPN), many on one connection, the plain
//! routes, and each limit and hostile case with its exact outcome.

mod common;
#[path = "../../switchyard/tests/common/wss.rs"]
mod wss;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::binary::{Server, TempDir};
use common::certs::TestCa;
use common::{peers_python, run_interop_client, within};
use h2::client::SendRequest;
use h2::{Reason, RecvStream};
use http::{Method, Request, StatusCode};
use switchyard::http2::H2Stream;
use switchyard::rustls::ClientConfig;
use switchyard::rustls::pki_types::ServerName;
use switchyard::{CloseCode, Config, Message, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use wss::client_config;

/// An HTTP/2 client connection on `io`, once the server's SETTINGS are in.
async fn h2_on<T>(io: T) -> SendRequest<Bytes>
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // A connection window of many stream windows, as browsers have (Chromium's is 15 MB): a
    // stream whose data goes unread must not block the others.
    let (send, connection) = h2::client::Builder::new()
        .initial_connection_window_size(4 << 20)
        .handshake(io)
        .await
        .unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut send = send.ready().await.unwrap();
    // The first response proves the server's SETTINGS have been applied.
    let (status, body) = get(&mut send, "/healthz").await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "ok\n"));
    send
}

/// Cleartext HTTP/2 with prior knowledge.
async fn h2c(addr: SocketAddr) -> SendRequest<Bytes> {
    h2_on(TcpStream::connect(addr).await.unwrap()).await
}

async fn tls_connect(
    addr: SocketAddr,
    config: Arc<ClientConfig>,
) -> tokio_rustls::client::TlsStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tokio_rustls::TlsConnector::from(config)
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap()
}

async fn get(send: &mut SendRequest<Bytes>, path: &str) -> (StatusCode, String) {
    let request = Request::get(format!("http://localhost{path}"))
        .body(())
        .unwrap();
    let (response, _) = send.send_request(request, true).unwrap();
    let response = response.await.unwrap();
    let status = response.status();
    (status, read_body(response.into_body()).await)
}

async fn read_body(mut body: RecvStream) -> String {
    let mut bytes = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        body.flow_control().release_capacity(chunk.len()).unwrap();
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).unwrap()
}

/// An extended CONNECT for `path` (RFC 8441 §4) with `headers`; the response's status and
/// headers, and the stream.
async fn connect(
    send: &mut SendRequest<Bytes>,
    path: &str,
    protocol: Option<&str>,
    headers: &[(&str, &str)],
) -> Result<(http::response::Parts, H2Stream), h2::Error> {
    let mut request = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("http://localhost{path}"));
    if let Some(protocol) = protocol {
        request = request.extension(h2::ext::Protocol::from(protocol));
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (response, stream) = send
        .clone()
        .ready()
        .await?
        .send_request(request.body(()).unwrap(), false)?;
    let (parts, body) = response.await?.into_parts();
    Ok((parts, H2Stream::new(body, stream)))
}

const VERSION: (&str, &str) = ("sec-websocket-version", "13");

/// A WebSocket at `path` over HTTP/2: our own client connection on the stream.
async fn websocket(send: &mut SendRequest<Bytes>, path: &str) -> WebSocket<H2Stream> {
    let (parts, stream) = connect(send, path, Some("websocket"), &[VERSION])
        .await
        .unwrap();
    assert_eq!(parts.status, StatusCode::OK);
    // RFC 8441 §5: no key, so no accept.
    assert!(parts.headers.get("sec-websocket-accept").is_none());
    WebSocket::from_upgraded(stream, Role::Client, &[], &Config::default())
}

async fn echo(ws: &mut WebSocket<H2Stream>, message: Message) {
    ws.send(message.clone()).await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), message);
}

#[tokio::test]
async fn echoes_over_cleartext_http2_and_closes_cleanly() {
    within(30, async {
        let server = Server::start_logged(&[]).await;
        let mut send = h2c(server.addr).await;
        assert!(send.is_extended_connect_protocol_enabled());
        let mut ws = websocket(&mut send, "/echo").await;
        echo(&mut ws, Message::Text("over h2".into())).await;
        echo(&mut ws, Message::Binary(Bytes::from(vec![7u8; 200_000]))).await;
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let info = ws.closed().await.unwrap();
        assert!(info.clean);
        assert_eq!(info.code, CloseCode::NORMAL);
        // The stream's closing line, as over HTTP/1.1, says HTTP/2.
        let line = server.wait_for_log("close peer=").await;
        assert!(
            line.contains(" path=\"/echo\" http=\"2\" code=1000 "),
            "{line}"
        );
        // The connection outlives the stream.
        assert_eq!(get(&mut send, "/healthz").await.0, StatusCode::OK);
    })
    .await;
}

/// The closing handshake ends the stream with END_STREAM both ways (RFC 8441 §5), never a
/// reset: checked on the raw frames, which the h2 client above does not show (after the
/// close frames, a reset and an end look the same to a WebSocket).
#[tokio::test]
async fn a_websocket_close_ends_its_stream_with_end_stream_not_a_reset() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut tcp = raw::open(server.addr).await;
        let block = raw::connect_block("/echo", Some("localhost"));
        tcp.write_all(&raw::frame(raw::HEADERS, raw::END_HEADERS, 1, &block))
            .await
            .unwrap();
        // Our close frame (1000, masked with a zero key), and the end of our side.
        let close = [0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];
        tcp.write_all(&raw::frame(raw::DATA, raw::END_STREAM, 1, &close))
            .await
            .unwrap();
        let mut answered = false;
        let mut payload_in = Vec::new();
        loop {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head)
                .await
                .expect("the stream ended before END_STREAM");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let (kind, flags) = (head[3], head[4]);
            let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
            let mut payload = vec![0u8; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if stream != 1 {
                continue;
            }
            assert_ne!(kind, raw::RST_STREAM, "the stream was reset: {payload:?}");
            if kind == raw::HEADERS {
                // :status 200, indexed (RFC 7541 Appendix A, entry 8).
                assert_eq!(payload.first(), Some(&0x88), "{payload:?}");
                answered = true;
            }
            if kind == raw::DATA {
                payload_in.extend(payload);
            }
            if flags & raw::END_STREAM != 0 {
                break;
            }
        }
        assert!(answered);
        // The server's close frame echoes the code: 0x88, length 2, 1000.
        assert_eq!(payload_in, [0x88, 0x02, 0x03, 0xe8]);
    })
    .await;
}

#[tokio::test]
async fn many_websockets_share_one_connection() {
    within(60, async {
        let server = Server::start(&[]).await;
        let send = h2c(server.addr).await;
        let mut tasks = Vec::new();
        for i in 0..20 {
            let mut send = send.clone();
            tasks.push(tokio::spawn(async move {
                let mut ws = websocket(&mut send, "/echo").await;
                for round in 0..10 {
                    echo(&mut ws, Message::Text(format!("{i}/{round}").into())).await;
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                assert!(ws.closed().await.unwrap().clean);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_stream_that_stops_reading_does_not_stall_the_others() {
    within(60, async {
        let server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        // One WebSocket's client writes 4 MiB of frames to echo and never reads: once its
        // stream's windows and the echo's queue are full, its writes wait.
        let (parts, mut stalled) = connect(&mut send, "/echo", Some("websocket"), &[VERSION])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
        let frame = common::client_frame(true, 0x2, &vec![1u8; 64 * 1024]);
        let flood = async {
            for _ in 0..64 {
                stalled.write_all(&frame).await.unwrap();
            }
        };
        let flooded = tokio::time::timeout(Duration::from_secs(2), flood).await;
        assert!(
            flooded.is_err(),
            "4 MiB went out with nobody reading the echoes"
        );
        // Another on the same connection still gets its answers.
        let mut other = websocket(&mut send, "/echo").await;
        echo(&mut other, Message::Text("not stuck".into())).await;
        assert_eq!(get(&mut send, "/healthz").await.0, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn serves_http2_over_tls_by_alpn_and_only_http1_with_no_http2() {
    within(30, async {
        let dir = TempDir::new("h2-tls");
        let ca = TestCa::new("h2 CA");
        let leaf = ca.leaf(&["localhost"]);
        dir.write("cert.pem", leaf.cert_pem.as_bytes());
        dir.write("key.pem", leaf.key_pem.as_bytes());
        let cert = dir.path().join("cert.pem").display().to_string();
        let key = dir.path().join("key.pem").display().to_string();

        let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key]).await;
        let tls = tls_connect(
            server.addr,
            Arc::new(client_config(&ca, &[b"h2", b"http/1.1"])),
        )
        .await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let mut send = h2_on(tls).await;
        let (status, page) = get(&mut send, "/").await;
        assert_eq!(status, StatusCode::OK);
        assert!(
            page.contains("<html") || page.contains("<!doctype"),
            "{page}"
        );
        let mut ws = websocket(&mut send, "/echo").await;
        echo(&mut ws, Message::Text("wss over h2".into())).await;

        let server = Server::start(&["--tls-cert", &cert, "--tls-key", &key, "--no-http2"]).await;
        let tls = tls_connect(
            server.addr,
            Arc::new(client_config(&ca, &[b"h2", b"http/1.1"])),
        )
        .await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"http/1.1"[..]));
    })
    .await;
}

#[tokio::test]
async fn no_http2_treats_the_preface_as_a_bad_http1_request() {
    within(30, async {
        let server = Server::start(&["--no-http2"]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        tcp.read_to_end(&mut answer).await.unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
    })
    .await;
}

/// A chat room is joined before the answer (a bad `since`, Redis down: answered with its
/// status), but not for a page of another site: that is 403 whatever the rooms' state, as
/// over HTTP/1.1, and makes no room.
#[tokio::test]
async fn a_cross_origin_chat_request_is_403_before_any_room_is_joined() {
    within(30, async {
        // A Redis that is not there: joining would answer 503.
        let server = Server::start(&["--redis", "unix:///nonexistent/redis.sock"]).await;
        let mut send = h2c(server.addr).await;
        let (parts, _) = connect(
            &mut send,
            "/chat/r",
            Some("websocket"),
            &[VERSION, ("origin", "https://elsewhere.example")],
        )
        .await
        .unwrap();
        assert_eq!(parts.status, StatusCode::FORBIDDEN);
        let (parts, _) = connect(&mut send, "/chat/r", Some("websocket"), &[VERSION])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::SERVICE_UNAVAILABLE);
    })
    .await;
}

#[tokio::test]
async fn refuses_what_is_not_a_websocket_with_its_status() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        // CONNECT without :protocol: a tunnel, not served.
        let request = Request::builder()
            .method(Method::CONNECT)
            .uri("localhost:80")
            .body(())
            .unwrap();
        let (response, _) = send.send_request(request, false).unwrap();
        assert_eq!(
            response.await.unwrap().status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        // Another :protocol.
        let (parts, _) = connect(&mut send, "/echo", Some("connect-udp"), &[VERSION])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::NOT_IMPLEMENTED);
        // A GET to a WebSocket route: 400, saying how.
        let (status, body) = get(&mut send, "/echo").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("extended CONNECT"), "{body}");
        // No version: 426, as over HTTP/1.1; another origin: 403.
        let (parts, _) = connect(&mut send, "/echo", Some("websocket"), &[])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::UPGRADE_REQUIRED);
        assert_eq!(
            parts.headers.get("sec-websocket-version").unwrap(),
            "13",
            "RFC 6455 §4.4"
        );
        let (parts, _) = connect(
            &mut send,
            "/echo",
            Some("websocket"),
            &[VERSION, ("origin", "https://elsewhere.example")],
        )
        .await
        .unwrap();
        assert_eq!(parts.status, StatusCode::FORBIDDEN);
        // An unknown route: 404, and other methods 405.
        assert_eq!(get(&mut send, "/nowhere").await.0, StatusCode::NOT_FOUND);
        let request = Request::post("http://localhost/healthz").body(()).unwrap();
        let (response, _) = send.send_request(request, true).unwrap();
        assert_eq!(
            response.await.unwrap().status(),
            StatusCode::METHOD_NOT_ALLOWED
        );
        // The connection is still good for a WebSocket.
        let mut ws = websocket(&mut send, "/echo").await;
        echo(&mut ws, Message::Text("after the refusals".into())).await;
    })
    .await;
}

#[tokio::test]
async fn a_header_list_over_16_kib_gets_431() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        let big = "x".repeat(17 * 1024);
        let (parts, _) = connect(
            &mut send,
            "/echo",
            Some("websocket"),
            &[VERSION, ("x-big", &big)],
        )
        .await
        .unwrap();
        assert_eq!(parts.status, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE);
        // Just under it is fine.
        let fits = "x".repeat(15 * 1024);
        let (parts, _) = connect(
            &mut send,
            "/echo",
            Some("websocket"),
            &[VERSION, ("x-big", &fits)],
        )
        .await
        .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn websockets_past_max_connections_are_refused_streams() {
    within(30, async {
        // One slot for the connection, one for a WebSocket.
        let server = Server::start(&["--max-connections", "2"]).await;
        let mut send = h2c(server.addr).await;
        let mut first = websocket(&mut send, "/echo").await;
        let error = connect(&mut send, "/echo", Some("websocket"), &[VERSION])
            .await
            .err()
            .unwrap();
        assert_eq!(error.reason(), Some(Reason::REFUSED_STREAM), "{error:?}");
        // Plain requests need no slot, and the first WebSocket is unaffected.
        assert_eq!(get(&mut send, "/healthz").await.0, StatusCode::OK);
        echo(&mut first, Message::Text("still served".into())).await;
        // Once it closes, its slot is free again.
        first.close(CloseCode::NORMAL, "").await.unwrap();
        first.closed().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut second = websocket(&mut send, "/echo").await;
        echo(&mut second, Message::Text("my turn".into())).await;
    })
    .await;
}

/// A client past `--max-connections` that speaks HTTP/2 on `io`: its handshake completes, a
/// plain request and an extended CONNECT sent together are both answered 503, and the server
/// then ends the connection.
async fn assert_refused_in_http2<T>(io: T)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (send, connection) = h2::client::handshake(io).await.unwrap();
    let connection = tokio::spawn(connection);
    // The server's SETTINGS advertise extended CONNECT, as when it serves.
    let settings = async {
        while !send.is_extended_connect_protocol_enabled() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), settings)
        .await
        .expect("the server's SETTINGS, with extended CONNECT");
    let mut send = send.ready().await.unwrap();
    let get = Request::get("http://localhost/healthz").body(()).unwrap();
    let (get, _) = send.send_request(get, true).unwrap();
    let mut send = send.ready().await.unwrap();
    let connect = Request::builder()
        .method(Method::CONNECT)
        .uri("http://localhost/echo")
        .extension(h2::ext::Protocol::from("websocket"))
        .header(VERSION.0, VERSION.1)
        .body(())
        .unwrap();
    let (connect, _stream) = send.send_request(connect, false).unwrap();
    for response in [get.await.unwrap(), connect.await.unwrap()] {
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = read_body(response.into_body()).await;
        assert_eq!(body, "server unavailable, try again later\n");
    }
    drop(send);
    // GOAWAY, then the end of the connection: well before the handshake timeout.
    let ended = tokio::time::timeout(Duration::from_secs(5), connection).await;
    assert!(ended.is_ok(), "the refused connection ends");
}

#[tokio::test]
async fn past_max_connections_an_http2_client_is_answered_503_in_http2() {
    within(30, async {
        let dir = TempDir::new("h2-busy");
        let ca = TestCa::new("busy CA");
        let leaf = ca.leaf(&["localhost"]);
        dir.write("cert.pem", leaf.cert_pem.as_bytes());
        dir.write("key.pem", leaf.key_pem.as_bytes());
        let cert = dir.path().join("cert.pem").display().to_string();
        let key = dir.path().join("key.pem").display().to_string();
        let limit = ["--max-connections", "1"];

        // Over TLS, ALPN h2: the one slot is held by another HTTP/2 connection.
        let server =
            Server::start(&[&["--tls-cert", &cert, "--tls-key", &key], &limit[..]].concat()).await;
        let config = Arc::new(client_config(&ca, &[b"h2", b"http/1.1"]));
        let _held = h2_on(tls_connect(server.addr, Arc::clone(&config)).await).await;
        let tls = tls_connect(server.addr, config).await;
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        assert_refused_in_http2(tls).await;

        // Cleartext with prior knowledge.
        let server = Server::start(&limit).await;
        let _held = h2c(server.addr).await;
        assert_refused_in_http2(TcpStream::connect(server.addr).await.unwrap()).await;
    })
    .await;
}

#[tokio::test]
async fn advertises_the_stream_limit_and_extended_connect() {
    within(30, async {
        let server = Server::start(&["--h2-max-streams", "7"]).await;
        let send = h2c(server.addr).await;
        assert!(send.is_extended_connect_protocol_enabled());
        assert_eq!(send.current_max_send_streams(), 7);
        let server = Server::start(&[]).await;
        assert_eq!(h2c(server.addr).await.current_max_send_streams(), 100);
    })
    .await;
}

/// Raw HTTP/2 frames, for what the `h2` client will not send.
mod raw {
    use super::*;

    pub(super) const DATA: u8 = 0x0;
    pub(super) const HEADERS: u8 = 0x1;
    pub(super) const RST_STREAM: u8 = 0x3;
    pub(super) const SETTINGS: u8 = 0x4;
    pub(super) const PING: u8 = 0x6;
    pub(super) const GOAWAY: u8 = 0x7;
    pub(super) const WINDOW_UPDATE: u8 = 0x8;
    pub(super) const CONTINUATION: u8 = 0x9;
    pub(super) const END_HEADERS: u8 = 0x4;
    pub(super) const END_STREAM: u8 = 0x1;

    pub(super) fn frame(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut frame = len.to_be_bytes()[1..].to_vec();
        frame.extend([kind, flags]);
        frame.extend(stream.to_be_bytes());
        frame.extend(payload);
        frame
    }

    /// A GET for `/` in HPACK with no state: static-table entries and one literal.
    pub(super) fn get_block() -> Vec<u8> {
        // :method GET, :scheme http, :path /, then :authority "a" literal without indexing.
        vec![0x82, 0x86, 0x84, 0x01, 0x01, b'a']
    }

    /// An extended CONNECT for `path` in HPACK with no state (literals without indexing):
    /// `:method CONNECT`, `:scheme http`, `:path`, `:protocol websocket`, `:authority` if
    /// given, `sec-websocket-version 13`.
    pub(super) fn connect_block(path: &str, authority: Option<&str>) -> Vec<u8> {
        let literal = |block: &mut Vec<u8>, index: u8, value: &str| {
            block.extend([index, value.len() as u8]);
            block.extend(value.as_bytes());
        };
        let named = |block: &mut Vec<u8>, name: &str, value: &str| {
            block.extend([0x00, name.len() as u8]);
            block.extend(name.as_bytes());
            block.push(value.len() as u8);
            block.extend(value.as_bytes());
        };
        let mut block = Vec::new();
        literal(&mut block, 0x02, "CONNECT");
        block.push(0x86);
        literal(&mut block, 0x04, path);
        named(&mut block, ":protocol", "websocket");
        if let Some(authority) = authority {
            literal(&mut block, 0x01, authority);
        }
        named(&mut block, "sec-websocket-version", "13");
        block
    }

    /// Reads frames until an RST_STREAM on `stream`; its error code. Fails if the stream is
    /// answered instead.
    pub(super) async fn reset_of(tcp: &mut TcpStream, stream: u32) -> u32 {
        loop {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head).await.expect("an RST_STREAM");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            tcp.read_exact(&mut payload).await.unwrap();
            let on = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
            if on != stream {
                continue;
            }
            assert_ne!(head[3], HEADERS, "stream {stream} was answered, not reset");
            if head[3] == RST_STREAM {
                return u32::from_be_bytes(payload[..4].try_into().unwrap());
            }
        }
    }

    /// The next frame: type, stream, payload. Panics at EOF.
    pub(super) async fn next_frame(tcp: &mut TcpStream) -> (u8, u32, Vec<u8>) {
        let mut head = [0u8; 9];
        tcp.read_exact(&mut head).await.expect("a frame before EOF");
        let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
        let mut payload = vec![0u8; len];
        tcp.read_exact(&mut payload).await.unwrap();
        let stream = u32::from_be_bytes(head[5..9].try_into().unwrap()) & 0x7fff_ffff;
        (head[3], stream, payload)
    }

    /// The client preface and an empty SETTINGS.
    pub(super) async fn open(addr: SocketAddr) -> TcpStream {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        tcp.write_all(&frame(SETTINGS, 0, 0, &[])).await.unwrap();
        tcp
    }

    /// Reads frames until GOAWAY; its error code. Panics at EOF without one.
    pub(super) async fn goaway(tcp: &mut TcpStream) -> u32 {
        loop {
            let mut head = [0u8; 9];
            tcp.read_exact(&mut head)
                .await
                .expect("a GOAWAY before EOF");
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            tcp.read_exact(&mut payload).await.unwrap();
            if head[3] == GOAWAY {
                return u32::from_be_bytes(payload[4..8].try_into().unwrap());
            }
        }
    }
}

/// RFC 9113 §7: ENHANCE_YOUR_CALM.
const ENHANCE_YOUR_CALM: u32 = 0xb;

#[tokio::test]
async fn a_stream_past_the_concurrent_stream_limit_is_refused() {
    within(30, async {
        let server = Server::start(&["--h2-max-streams", "2"]).await;
        let mut tcp = raw::open(server.addr).await;
        // Two WebSockets stay open; a third stream, which a client that honoured
        // SETTINGS_MAX_CONCURRENT_STREAMS would not have opened, is refused.
        for stream in [1, 3, 5] {
            let block = raw::connect_block("/echo", Some("localhost"));
            tcp.write_all(&raw::frame(raw::HEADERS, raw::END_HEADERS, stream, &block))
                .await
                .unwrap();
        }
        // RFC 9113 §7: REFUSED_STREAM.
        assert_eq!(raw::reset_of(&mut tcp, 5).await, 0x7);
    })
    .await;
}

#[tokio::test]
async fn rapid_reset_ends_that_connection_only_with_enhance_your_calm() {
    within(30, async {
        let server = Server::start(&[]).await;
        let rss_before = server.rss_kib();
        let mut bystander = h2c(server.addr).await;
        let mut attacker = raw::open(server.addr).await;
        let mut burst = Vec::new();
        for i in 0..1000u32 {
            let stream = 2 * i + 1;
            let block = raw::get_block();
            burst.extend(raw::frame(raw::HEADERS, raw::END_HEADERS, stream, &block));
            burst.extend(raw::frame(raw::RST_STREAM, 0, stream, &8u32.to_be_bytes()));
        }
        // The server may stop reading once it has said GOAWAY.
        let _ = attacker.write_all(&burst).await;
        assert_eq!(raw::goaway(&mut attacker).await, ENHANCE_YOUR_CALM);
        // Memory stays bounded: nothing of the thousand streams is kept.
        let grown = server.rss_kib().saturating_sub(rss_before);
        assert!(grown < 16 * 1024, "RSS grew by {grown} KiB");
        // Every other connection keeps being served.
        assert_eq!(get(&mut bystander, "/healthz").await.0, StatusCode::OK);
        let mut ws = websocket(&mut bystander, "/echo").await;
        echo(&mut ws, Message::Text("unaffected".into())).await;
    })
    .await;
}

#[tokio::test]
async fn a_continuation_flood_ends_that_connection_with_enhance_your_calm() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut bystander = h2c(server.addr).await;
        let mut attacker = raw::open(server.addr).await;
        let block = raw::get_block();
        let mut flood = raw::frame(raw::HEADERS, 0, 1, &block[..3]);
        for _ in 0..10_000 {
            flood.extend(raw::frame(raw::CONTINUATION, 0, 1, &[]));
        }
        let _ = attacker.write_all(&flood).await;
        assert_eq!(raw::goaway(&mut attacker).await, ENHANCE_YOUR_CALM);
        assert_eq!(get(&mut bystander, "/healthz").await.0, StatusCode::OK);
    })
    .await;
}

#[tokio::test]
async fn an_extended_connect_without_authority_is_reset_with_protocol_error() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut tcp = raw::open(server.addr).await;
        let block = raw::connect_block("/echo", None);
        tcp.write_all(&raw::frame(raw::HEADERS, raw::END_HEADERS, 1, &block))
            .await
            .unwrap();
        // RFC 9113 §7: PROTOCOL_ERROR.
        assert_eq!(raw::reset_of(&mut tcp, 1).await, 0x1);
    })
    .await;
}

/// A server over TLS for `localhost`, and the CA file to trust.
async fn tls_server(dir: &TempDir) -> (Server, String) {
    let ca = TestCa::new("interop CA");
    let leaf = ca.leaf(&["localhost"]);
    dir.write("ca.pem", ca.pem().as_bytes());
    dir.write("cert.pem", leaf.cert_pem.as_bytes());
    dir.write("key.pem", leaf.key_pem.as_bytes());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let server = Server::start(&[
        "--tls-cert",
        &path("cert.pem"),
        "--tls-key",
        &path("key.pem"),
    ])
    .await;
    (server, path("ca.pem"))
}

#[tokio::test]
async fn python_h2_is_an_rfc_8441_client_over_tls_and_cleartext() {
    within(90, async {
        let dir = TempDir::new("h2-python");
        let (server, ca) = tls_server(&dir).await;
        let port = server.addr.port().to_string();
        let args = ["localhost".to_owned(), port, ca];
        run_interop_client(&peers_python(), "tests/py/h2_websocket.py", &args).await;
        let server = Server::start(&[]).await;
        let args = ["127.0.0.1".to_owned(), server.addr.port().to_string()];
        run_interop_client(&peers_python(), "tests/py/h2_websocket.py", &args).await;
    })
    .await;
}

#[tokio::test]
async fn node_http2_is_an_rfc_8441_client_over_tls_and_cleartext() {
    within(90, async {
        let node = std::path::Path::new("node");
        let dir = TempDir::new("h2-node");
        let (server, ca) = tls_server(&dir).await;
        let args = ["localhost".to_owned(), server.addr.port().to_string(), ca];
        run_interop_client(node, "tests/js/h2_websocket.mjs", &args).await;
        let server = Server::start(&[]).await;
        let args = ["127.0.0.1".to_owned(), server.addr.port().to_string()];
        run_interop_client(node, "tests/js/h2_websocket.mjs", &args).await;
    })
    .await;
}

#[tokio::test]
async fn inspect_reports_the_http2_request_as_received() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        let (parts, stream) = connect(
            &mut send,
            "/inspect?x=1",
            Some("websocket"),
            &[VERSION, ("x-probe", "seen")],
        )
        .await
        .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
        let mut ws = WebSocket::from_upgraded(stream, Role::Client, &[], &Config::default());
        let Message::Text(report) = ws.recv().await.unwrap().unwrap() else {
            panic!("a text report first");
        };
        let report: serde_json::Value = serde_json::from_str(report.as_str()).unwrap();
        assert_eq!(report["type"], "handshake");
        assert_eq!(report["http_version"], "HTTP/2");
        let request = report["request"].as_str().unwrap();
        for line in [
            ":method: CONNECT",
            ":protocol: websocket",
            ":scheme: http",
            ":path: /inspect?x=1",
            ":authority: localhost",
            "sec-websocket-version: 13",
            "x-probe: seen",
        ] {
            assert!(request.lines().any(|l| l == line), "{line:?} in {request}");
        }
        assert_eq!(report["response"], ":status: 200\n");
        assert_eq!(report["key"], "");
        assert_eq!(report["accept"], "");
        ws.send(Message::Text("probe".into())).await.unwrap();
        let Message::Text(frame) = ws.recv().await.unwrap().unwrap() else {
            panic!("a frame report");
        };
        let frame: serde_json::Value = serde_json::from_str(frame.as_str()).unwrap();
        assert_eq!(frame["payload_text"], "probe");
        assert_eq!(frame["masked"], true);
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_http2_websockets_with_1001_and_ends_the_connection() {
    within(30, async {
        let mut server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        let mut ws = websocket(&mut send, "/echo").await;
        echo(&mut ws, Message::Text("before".into())).await;
        server.terminate().await;
        assert!(ws.recv().await.is_none());
        let info = ws.close_info().unwrap();
        assert_eq!(info.code, CloseCode::GOING_AWAY);
        assert!(info.clean);
        assert!(server.wait().await.success());
    })
    .await;
}

#[tokio::test]
async fn a_silent_client_after_the_preface_is_cut_off_at_the_handshake_timeout() {
    within(30, async {
        let server = Server::start(&["--handshake-timeout", "500ms"]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        // The preface only, no SETTINGS: the HTTP/2 handshake never completes.
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let _ = tcp.read_to_end(&mut rest).await;
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(3),
            "{waited:?}"
        );
    })
    .await;
}

/// A body sent with a plain request (a GET whose response waits for window the client does
/// not grant) is read and thrown away as it comes, its window given back (WINDOW_UPDATE),
/// rather than held in the server until the response is out.
#[tokio::test]
async fn a_body_sent_with_a_plain_request_is_read_and_its_window_given_back() {
    within(30, async {
        let server = Server::start(&[]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        // SETTINGS_INITIAL_WINDOW_SIZE 0: the page's body cannot be sent.
        let no_window = [0x00, 0x04, 0, 0, 0, 0];
        tcp.write_all(&raw::frame(raw::SETTINGS, 0, 0, &no_window))
            .await
            .unwrap();
        // GET / without END_STREAM, then 48 KiB of body: three-quarters of the stream's
        // window, past the half at which h2 gives read window back.
        let block = raw::get_block();
        tcp.write_all(&raw::frame(raw::HEADERS, raw::END_HEADERS, 1, &block))
            .await
            .unwrap();
        for _ in 0..3 {
            tcp.write_all(&raw::frame(raw::DATA, 0, 1, &[b'x'; 16 * 1024]))
                .await
                .unwrap();
        }
        let window_update = async {
            loop {
                let mut head = [0u8; 9];
                tcp.read_exact(&mut head).await.unwrap();
                let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
                let stream = u32::from_be_bytes([head[5], head[6], head[7], head[8]]);
                let mut payload = vec![0u8; len];
                tcp.read_exact(&mut payload).await.unwrap();
                if head[3] == raw::WINDOW_UPDATE && stream == 1 {
                    return;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(3), window_update)
            .await
            .expect("the request's body was held unread: no WINDOW_UPDATE for its stream");
    })
    .await;
}

/// A `--www` file over HTTP/2 is sent a piece at a time, each within the handshake timeout:
/// a client that reads slowly but steadily gets all of it (before, the stream was reset at
/// the handshake timeout).
#[tokio::test]
async fn a_large_www_file_reaches_a_slow_http2_reader_whole() {
    within(60, async {
        let www = TempDir::new("www-large-h2");
        let content: Vec<u8> = (0..4u32 << 20).map(|i| (i % 251) as u8).collect();
        www.write("big.bin", &content);
        let dir = www.path().to_str().unwrap();
        let server = Server::start(&["--www", dir, "--handshake-timeout", "1s"]).await;
        let mut send = h2c(server.addr).await;
        let request = Request::get("http://localhost/big.bin").body(()).unwrap();
        let (response, _) = send.send_request(request, true).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let length = response.headers()["content-length"].to_str().unwrap();
        assert_eq!(length, content.len().to_string());
        let mut body = response.into_body();
        let started = std::time::Instant::now();
        let mut received = Vec::new();
        while let Some(chunk) = body.data().await {
            let chunk = chunk.expect("the stream was reset");
            body.flow_control().release_capacity(chunk.len()).unwrap();
            received.extend_from_slice(&chunk);
            // About 1.6 MiB/s: the 4 MiB take two and a half seconds.
            if received.len() % (64 * 1024) < chunk.len() {
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
        }
        assert!(started.elapsed() > Duration::from_secs(1));
        assert_eq!(received.len(), content.len());
        assert!(received == content);
    })
    .await;
}

/// A client that keeps the server writing (PINGs, each answered) and never reads: once the
/// connection is idle and being closed, its GOAWAY can never be written, and the connection
/// is dropped at the close timeout rather than kept, with its `--max-connections` slot, for
/// ever.
#[tokio::test]
async fn a_client_that_never_reads_is_dropped_at_the_close_timeout_once_closing() {
    within(60, async {
        let server = Server::start(&[
            "--max-connections",
            "1",
            "--handshake-timeout",
            "500ms",
            "--close-timeout",
            "1s",
        ])
        .await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut tcp = socket.connect(server.addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        tcp.write_all(&raw::frame(raw::SETTINGS, 0, 0, &[]))
            .await
            .unwrap();
        // PINGs until the server stops reading them: its answers fill its socket's buffer
        // and ours, which this client never reads.
        let pings = raw::frame(raw::PING, 0, 0, &[0; 8]).repeat(1000);
        let mut stalled = false;
        for _ in 0..4000 {
            match tokio::time::timeout(Duration::from_millis(500), tcp.write_all(&pings)).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => break,
                Err(_) => {
                    stalled = true;
                    break;
                }
            }
        }
        assert!(stalled, "the server kept reading PINGs it could not answer");
        // The slot comes back: the idle connection is closed (500 ms), and dropped when
        // its GOAWAY is not written within the close timeout (1 s).
        let started = std::time::Instant::now();
        loop {
            let request = common::binary::get("/healthz", &[]);
            if common::binary::http(server.addr, &request).await.status == 200 {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "the connection that does not read still holds the only slot"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        drop(tcp);
    })
    .await;
}

#[tokio::test]
async fn our_client_opens_many_websockets_on_one_http2_connection() {
    use switchyard::http2::Http2Connection;
    use switchyard::{ClientOptions, TlsRoots};
    within(60, async {
        let dir = TempDir::new("h2-our-client");
        let (server, ca) = tls_server(&dir).await;
        let options = ClientOptions::default().with_tls_roots(TlsRoots::CaFile(ca.into()));
        let url = format!("wss://localhost:{}/", server.addr.port());
        let connection = Http2Connection::open(&url, &options).await.unwrap();
        assert!(connection.supports_websockets());
        let mut tasks = Vec::new();
        for i in 0..10 {
            let (connection, options) = (connection.clone(), options.clone());
            tasks.push(tokio::spawn(async move {
                let (mut ws, response) = connection.websocket("/echo", &options).await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
                let message = switchyard::Message::Text(format!("stream {i}").into());
                ws.send(message.clone()).await.unwrap();
                assert_eq!(ws.recv().await.unwrap().unwrap(), message);
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                assert!(ws.closed().await.unwrap().clean);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        // Cleartext, prior knowledge.
        let plain = Server::start(&[]).await;
        let url = format!("ws://127.0.0.1:{}/", plain.addr.port());
        let connection = Http2Connection::open(&url, &ClientOptions::default())
            .await
            .unwrap();
        let (mut ws, _) = connection
            .websocket("/echo", &ClientOptions::default())
            .await
            .unwrap();
        ws.send(Message::Text("h2c".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Text("h2c".into())
        );
    })
    .await;
}

#[tokio::test]
async fn our_client_prefers_http2_and_falls_back_to_http1() {
    use switchyard::{ClientOptions, TlsRoots, connect_with};
    within(60, async {
        let dir = TempDir::new("h2-fallback");
        let (server, ca) = tls_server(&dir).await;
        let options = ClientOptions::default()
            .with_tls_roots(TlsRoots::CaFile(ca.clone().into()))
            .with_http2();
        let url = format!("wss://localhost:{}/echo", server.addr.port());
        let (mut ws, response) = connect_with(&url, &options).await.unwrap();
        // 200: RFC 8441 over HTTP/2; 101 would be HTTP/1.1.
        assert_eq!(response.status().as_u16(), 200);
        ws.send(Message::Text("h2".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Text("h2".into())
        );

        let cert = dir.path().join("cert.pem").display().to_string();
        let key = dir.path().join("key.pem").display().to_string();
        let http1 = Server::start(&["--tls-cert", &cert, "--tls-key", &key, "--no-http2"]).await;
        let url = format!("wss://localhost:{}/echo", http1.addr.port());
        let (mut ws, response) = connect_with(&url, &options).await.unwrap();
        assert_eq!(response.status().as_u16(), 101);
        ws.send(Message::Text("h1".into())).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Text("h1".into())
        );
    })
    .await;
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_over_http2_as_over_http1() {
    within(30, async {
        let offer = (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits",
        );
        let server = Server::start(&[]).await;
        let mut send = h2c(server.addr).await;
        let (parts, _) = connect(&mut send, "/echo", Some("websocket"), &[VERSION, offer])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
        let answer = parts.headers["sec-websocket-extensions"].to_str().unwrap();
        assert!(answer.starts_with("permessage-deflate"), "{answer}");

        let server = Server::start(&["--no-deflate"]).await;
        let mut send = h2c(server.addr).await;
        let (parts, _) = connect(&mut send, "/echo", Some("websocket"), &[VERSION, offer])
            .await
            .unwrap();
        assert_eq!(parts.status, StatusCode::OK);
        assert!(parts.headers.get("sec-websocket-extensions").is_none());
    })
    .await;
}

/// A client that grants no window gets the response's head, and its body waits for window no
/// longer than the handshake timeout: then the stream is reset (CANCEL), rather than the body
/// being handed to h2 to hold for a window that never comes.
#[tokio::test]
async fn a_body_the_client_grants_no_window_for_is_reset_at_the_handshake_timeout() {
    within(30, async {
        let server = Server::start(&["--handshake-timeout", "1s"]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
            .await
            .unwrap();
        // SETTINGS_INITIAL_WINDOW_SIZE (0x4) = 0.
        let settings = raw::frame(raw::SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]);
        tcp.write_all(&settings).await.unwrap();
        let get = raw::frame(raw::HEADERS, 0x1 | raw::END_HEADERS, 1, &raw::get_block());
        tcp.write_all(&get).await.unwrap();
        let started = std::time::Instant::now();
        let (mut answered, mut body) = (false, 0);
        let code = loop {
            let (kind, stream, payload) = raw::next_frame(&mut tcp).await;
            match (kind, stream) {
                (raw::HEADERS, 1) => answered = true,
                (raw::DATA, 1) => body += payload.len(),
                (raw::RST_STREAM, 1) => break u32::from_be_bytes(payload[..4].try_into().unwrap()),
                _ => {}
            }
        };
        let waited = started.elapsed();
        assert!(answered, "the head goes out: it is not flow-controlled");
        assert_eq!(body, 0, "no body without window");
        assert_eq!(code, 0x8, "CANCEL");
        assert!(
            waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
            "{waited:?}"
        );
    })
    .await;
}

/// SIGTERM sends GOAWAY and a PING, and h2 ends the connection once the client answers; a
/// client that never does (nor anything else) is closed once its streams are done, not held
/// until the shutdown timeout.
#[tokio::test]
async fn shutdown_ends_an_http2_connection_whose_client_never_answers() {
    within(60, async {
        let mut server =
            Server::start(&["--handshake-timeout", "4s", "--shutdown-timeout", "30s"]).await;
        let mut tcp = raw::open(server.addr).await;
        // The server's SETTINGS: the connection is up. The client stays silent from here.
        assert_eq!(raw::next_frame(&mut tcp).await.0, raw::SETTINGS);
        let started = std::time::Instant::now();
        server.terminate().await;
        let status = tokio::time::timeout(Duration::from_secs(40), server.wait())
            .await
            .unwrap();
        assert!(status.success(), "{status:?}");
        let waited = started.elapsed();
        assert!(waited < Duration::from_secs(8), "{waited:?}");
    })
    .await;
}
