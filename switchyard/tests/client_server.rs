//! The switchyard client against the switchyard server, in one process over loopback TCP.

mod common;

use common::*;
use switchyard::{
    AcceptError, Answer, ClientOptions, CloseCode, Config, ConnectError, DataKind, Error,
    HandshakeError, Initiator, Message, StatusCode, UrlError, accept_with, connect, connect_with,
};

const SIZES: [usize; 9] = [0, 1, 125, 126, 65535, 65536, 1 << 20, 4 << 20, 16 << 20];

fn big() -> Config {
    Config::default().with_max_message_size(20 << 20)
}

#[tokio::test]
async fn echoes_text_and_binary_of_every_size() {
    within(60, async {
        let mut ws = connected_to_echo(big()).await;
        echo_each_size(&mut ws, &SIZES).await;
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let info = ws.closed().await.unwrap();
        assert!(info.clean);
        assert_eq!(info.code, CloseCode::NORMAL);
        assert_eq!(info.initiator, Initiator::Local);
    })
    .await;
}

#[tokio::test]
async fn reassembles_fragmented_messages() {
    within(30, async {
        let addr = echo_server(big()).await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.send_fragment(DataKind::Text, "hé".as_bytes(), false)
            .await
            .unwrap();
        // A ping between fragments is allowed (RFC 6455 §5.4) and answered by the core.
        ws.ping(b"between").await.unwrap();
        ws.send_fragment(DataKind::Text, "llo".as_bytes(), false)
            .await
            .unwrap();
        ws.send_fragment(DataKind::Text, b"", true).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("héllo"));
        let data = pattern(300_000);
        for (i, chunk) in data.chunks(70_000).enumerate() {
            let fin = (i + 1) * 70_000 >= data.len();
            ws.send_fragment(DataKind::Binary, chunk, fin)
                .await
                .unwrap();
        }
        assert_eq!(ws.recv().await.unwrap().unwrap(), binary_message(&data));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.closed().await.unwrap().clean);
    })
    .await;
}

#[tokio::test]
async fn server_refusal_reaches_the_client_with_its_status() {
    within(30, async {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let result = accept_with(tcp, &Config::default(), |_| {
                Err(HandshakeError::ForbiddenOrigin)
            })
            .await;
            let error = result.unwrap_err();
            assert!(
                matches!(error, AcceptError::Refused(HandshakeError::ForbiddenOrigin)),
                "{error:?}"
            );
            assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
        });
        let error = connect(&format!("ws://{addr}/")).await.unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN), "{error:?}");
        let ConnectError::Refused(response) = error else {
            panic!("expected a refusal, got {error:?}");
        };
        assert_eq!(response.headers().get_str("connection"), Some("close"));
    })
    .await;
}

#[tokio::test]
async fn negotiates_a_subprotocol_and_passes_extra_headers() {
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut seen_in_callback = None;
            let (mut ws, request) = accept_with(tcp, &Config::default(), |request| {
                seen_in_callback = Some(request.clone());
                let protocol = request.select_protocol(&["chat.v2", "chat.v1"]).unwrap();
                Ok(Answer::default()
                    .with_protocol(protocol)
                    .with_header("X-Server", "switchyard")
                    .with_header("Set-Cookie", "a=1")
                    .with_header("Set-Cookie", "b=2"))
            })
            .await
            .unwrap();
            assert_eq!(seen_in_callback.as_ref(), Some(&request));
            assert_eq!(ws.protocol(), Some("chat.v1"));
            while ws.recv().await.is_some() {}
            request
        });
        let options = ClientOptions::default()
            .with_protocol("chat.v1")
            .with_protocol("chat.v2")
            .with_header("Authorization", "Bearer t0ken");
        let (ws, response) = connect_with(&format!("ws://{addr}/room?x=1"), &options)
            .await
            .unwrap();
        assert_eq!(ws.protocol(), Some("chat.v1"));
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(response.protocol(), Some("chat.v1"));
        assert_eq!(response.headers().get_str("x-server"), Some("switchyard"));
        let cookies: Vec<&[u8]> = response.headers().get_all("set-cookie").collect();
        assert_eq!(cookies, [&b"a=1"[..], b"b=2"]);
        assert!(response.extensions().is_empty());
        let (mut read, mut write) = ws.split();
        assert_eq!(read.protocol(), Some("chat.v1"));
        assert_eq!(write.protocol(), Some("chat.v1"));
        write.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(read.closed().await.unwrap().clean);
        let request = server.await.unwrap();
        assert_eq!(request.target(), "/room?x=1");
        assert_eq!(request.path(), "/room");
        assert_eq!(request.query(), Some("x=1"));
        assert_eq!(
            request.headers().get_str("authorization"),
            Some("Bearer t0ken")
        );
        assert_eq!(request.offered_protocols(), ["chat.v1", "chat.v2"]);
    })
    .await;
}

#[tokio::test]
async fn server_initiated_close_reaches_the_client_cleanly() {
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = switchyard::accept_with_config(tcp, &Config::default())
                .await
                .unwrap();
            ws.send_text("bye soon").await.unwrap();
            ws.close(CloseCode::GOING_AWAY, "shutting down")
                .await
                .unwrap();
            ws.closed().await.unwrap()
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("bye soon"));
        assert!(ws.recv().await.is_none());
        let info = ws.close_info().unwrap();
        assert_eq!(
            (info.code, info.reason.as_str()),
            (CloseCode::GOING_AWAY, "shutting down")
        );
        assert!(info.clean);
        assert_eq!(info.initiator, Initiator::Peer);
        let server_info = server.await.unwrap();
        assert!(server_info.clean);
        assert_eq!(server_info.initiator, Initiator::Local);
    })
    .await;
}

#[tokio::test]
async fn a_message_over_the_limit_fails_with_1009() {
    within(30, async {
        let addr = echo_server(Config::default().with_max_message_size(1000)).await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.send_binary(&[0u8; 1001]).await.unwrap();
        assert!(ws.recv().await.is_none());
        let info = ws.close_info().unwrap();
        assert_eq!(info.code, CloseCode::TOO_BIG);
        assert!(info.clean);
    })
    .await;
}

#[tokio::test]
async fn refuses_unusable_urls() {
    for (url, expected) in [
        ("http://127.0.0.1/", UrlError::UnsupportedScheme),
        ("ws://127.0.0.1/#x", UrlError::HasFragment),
    ] {
        let error = connect(url).await.unwrap_err();
        assert!(
            matches!(error, ConnectError::Url(e) if e == expected),
            "{url}: {error:?}"
        );
    }
}

/// Without the `tls` feature; with it, `tests/tls.rs` connects over `wss://`.
#[cfg(not(feature = "tls"))]
#[tokio::test]
async fn wss_urls_say_tls_is_not_built() {
    let error = connect("wss://127.0.0.1/").await.unwrap_err();
    assert!(matches!(error, ConnectError::TlsNotBuilt), "{error:?}");
    assert!(error.to_string().contains("TLS"), "{error}");
}

#[tokio::test]
async fn an_unreachable_server_is_a_connect_error() {
    // A port that was free a moment ago: nothing listens there now.
    let (listener, addr) = listener().await;
    drop(listener);
    let error = connect(&format!("ws://{addr}/")).await.unwrap_err();
    assert!(matches!(error, ConnectError::Connect(_)), "{error:?}");
    assert!(std::error::Error::source(&error).is_some());
}

#[tokio::test]
async fn sends_after_close_are_refused() {
    within(30, async {
        let addr = echo_server(Config::default()).await;
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        let error = ws.send(Message::Text("late".into())).await.unwrap_err();
        assert!(matches!(error, Error::Send(_)), "{error:?}");
        assert!(ws.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn accepts_an_upgrade_whose_first_bytes_an_http_layer_already_read() {
    use switchyard::PendingUpgrade;
    use tokio::io::AsyncReadExt;
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // An HTTP layer peeks at the first bytes to route, then hands the stream over.
            let mut first = vec![0u8; 10];
            tcp.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"GET /late ");
            let pending = PendingUpgrade::read_after(tcp, first, &Config::default())
                .await
                .unwrap();
            assert_eq!(pending.request().unwrap().path(), "/late");
            let (mut ws, request) = pending.accept(&Answer::default()).await.unwrap();
            assert_eq!(request.path(), "/late");
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message).await.unwrap();
            }
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/late")).await.unwrap();
        ws.send_text("routed").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("routed"));
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.closed().await.unwrap().clean);
        server.await.unwrap();
    })
    .await;
}

/// A pending upgrade is answered from the request it read, whether its head is all UTF-8
/// (viewed again in the application's copy of it) or carries a field value beyond UTF-8
/// (RFC 9110 §5.5; viewed in the bytes read): the same accept key and subprotocol either way.
#[tokio::test]
async fn a_pending_upgrade_answers_heads_of_text_and_of_bytes_alike() {
    use switchyard::PendingUpgrade;
    use tokio::io::AsyncWriteExt;
    within(30, async {
        for odd in [&b""[..], b"X-Name: \xffi\r\n"] {
            let (listener, addr) = listener().await;
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let pending = PendingUpgrade::read(tcp, &Config::default()).await.unwrap();
                let answer = Answer::default().with_protocol("chat.v1");
                let (_ws, request) = pending.accept(&answer).await.unwrap();
                request.headers().get("x-name").map(<[u8]>::to_vec)
            });
            let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut head = b"GET /odd HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\
                Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
                Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat.v2, chat.v1\r\n"
                .to_vec();
            head.extend_from_slice(odd);
            head.extend_from_slice(b"\r\n");
            tcp.write_all(&head).await.unwrap();
            let response = read_head(&mut tcp).await.unwrap();
            let response = String::from_utf8(response).unwrap();
            assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
            // RFC 6455 §1.3's example key and its accept value.
            assert!(
                response.contains("\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"),
                "{response}"
            );
            assert!(
                response.contains("\r\nSec-WebSocket-Protocol: chat.v1\r\n"),
                "{response}"
            );
            let seen = server.await.unwrap();
            assert_eq!(seen.as_deref(), (!odd.is_empty()).then_some(&b"\xffi"[..]));
        }
    })
    .await;
}

/// A head longer than one read's room (a browser's with a large cookie), arriving in pieces,
/// is read whole, and the frame sent in the same write as its last piece is the first
/// message: the head's reads append to what came before, and nothing after the head is lost.
#[tokio::test]
async fn a_long_head_in_pieces_is_read_whole_with_the_frame_after_it() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    within(30, async {
        let addr = echo_server(Config::default()).await;
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let cookie = "c".repeat(9_000);
        let mut bytes = format!(
            "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Cookie: {cookie}\r\n\r\n"
        )
        .into_bytes();
        bytes.extend_from_slice(&client_frame(true, 0x1, b"after the head"));
        for piece in bytes.chunks(3_000) {
            tcp.write_all(piece).await.unwrap();
            tcp.flush().await.unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let response = read_head(&mut tcp).await.unwrap();
        assert!(response.starts_with(b"HTTP/1.1 101 "));
        let mut echo = [0u8; 16];
        tcp.read_exact(&mut echo).await.unwrap();
        assert_eq!(&echo[..2], [0x81, 14]);
        assert_eq!(&echo[2..], b"after the head");
    })
    .await;
}

#[tokio::test]
async fn frames_that_came_with_the_handshake_are_not_lost() {
    use switchyard::{Role, WebSocket};
    use tokio::io::AsyncWriteExt;
    within(30, async {
        // Another HTTP layer did the handshake and read past the head: the leftover holds a
        // whole frame and the start of the next.
        let first = client_frame(true, 0x1, b"one");
        let second = client_frame(true, 0x1, b"two");
        let mut leftover = first.clone();
        leftover.extend_from_slice(&second[..3]);
        let (server_io, mut peer) = tokio::io::duplex(4096);
        let mut ws =
            WebSocket::from_upgraded(server_io, Role::Server, &leftover, &Config::default());
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("one"));
        peer.write_all(&second[3..]).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("two"));
    })
    .await;
}

#[tokio::test]
async fn stream_and_sink_fit_the_futures_ecosystem() {
    use futures_util::{SinkExt, StreamExt};
    within(30, async {
        // A server that is nothing but `read.forward(write)`.
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (ws, _) = switchyard::accept_with_config(tcp, &Config::default())
                .await
                .unwrap();
            let (read, write) = ws.split();
            let _ = read.forward(write).await;
        });
        let (mut ws, _) = connect(&format!("ws://{addr}/")).await.unwrap();
        let messages: Vec<Message> = (0..100).map(|i| text_message(&format!("m{i}"))).collect();
        let mut outgoing = futures_util::stream::iter(messages.clone()).map(Ok);
        ws.send_all(&mut outgoing).await.unwrap();
        let echoed: Vec<Message> = (&mut ws).take(100).map(Result::unwrap).collect().await;
        assert_eq!(echoed, messages);
        // The Sink's close sends a 1000 close frame; the stream then ends.
        SinkExt::close(&mut ws).await.unwrap();
        assert!(ws.next().await.is_none());
        assert_eq!(ws.close_info().unwrap().code, CloseCode::NORMAL);
    })
    .await;
}

#[tokio::test]
async fn accept_refuses_a_foreign_origin_by_default_and_takes_its_own() {
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut errors = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                match switchyard::accept(tcp).await {
                    Ok((mut ws, request)) => {
                        assert_eq!(request.origin(), Some(format!("http://{addr}").as_str()));
                        while ws.recv().await.is_some() {}
                    }
                    Err(error) => errors.push(error.status()),
                }
            }
            errors
        });
        let foreign = ClientOptions::default().with_origin("http://evil.test");
        let error = connect_with(&format!("ws://{addr}/"), &foreign)
            .await
            .unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN), "{error:?}");
        let own = ClientOptions::default().with_origin(format!("http://{addr}"));
        let (mut ws, _) = connect_with(&format!("ws://{addr}/"), &own).await.unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.closed().await.unwrap().clean);
        assert_eq!(server.await.unwrap(), [Some(StatusCode::FORBIDDEN)]);
    })
    .await;
}

#[tokio::test]
async fn an_answer_the_core_cannot_write_fails_before_anything_is_sent() {
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // A subprotocol the client never offered (RFC 6455 §4.2.2 item 5.4).
            accept_with(tcp, &Config::default(), |_| {
                Ok(Answer::default().with_protocol("unoffered"))
            })
            .await
            .map(|_| ())
        });
        let options = ClientOptions::default().with_config(
            Config::default().with_handshake_timeout(std::time::Duration::from_secs(5)),
        );
        let error = connect_with(&format!("ws://{addr}/"), &options)
            .await
            .unwrap_err();
        // The server wrote nothing and dropped the connection.
        assert!(matches!(error, ConnectError::Io(_)), "{error:?}");
        let refused = server.await.unwrap().unwrap_err();
        assert!(matches!(refused, AcceptError::Answer(_)), "{refused:?}");
        assert_eq!(refused.status(), None);
    })
    .await;
}

#[tokio::test]
async fn the_heads_and_a_refusals_body_start_are_kept_as_on_the_wire() {
    use tokio::io::AsyncWriteExt;
    within(10, async {
        let (listener, addr) = listener().await;
        // Past the Content-Length, "extra" is not the body's.
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let request = read_head(&mut tcp).await.unwrap();
            tcp.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\nnope!\nextra")
                .await
                .unwrap();
            request
        });
        let url = format!("ws://{addr}/where?q=1");
        let Err(ConnectError::Refused(response)) = connect(&url).await else {
            panic!("not refused");
        };
        let request = server.await.unwrap();
        assert_eq!(response.request_head(), Some(&request[..]));
        assert_eq!(
            response.head(),
            Some(&b"HTTP/1.1 403 Forbidden\r\nContent-Length: 6\r\n\r\n"[..])
        );
        assert_eq!(response.body_start(), b"nope!\n");
        // A head with bare LF line endings (RFC 9112 §2.2) ends where the parser says.
        let (bare_lf, addr) = common::listener().await;
        tokio::spawn(async move {
            let (mut tcp, _) = bare_lf.accept().await.unwrap();
            read_head(&mut tcp).await.unwrap();
            tcp.write_all(b"HTTP/1.1 403 Forbidden\nContent-Length: 2\n\nno")
                .await
                .unwrap();
        });
        let Err(ConnectError::Refused(response)) = connect(&format!("ws://{addr}/")).await else {
            panic!("not refused");
        };
        assert_eq!(
            response.head(),
            Some(&b"HTTP/1.1 403 Forbidden\nContent-Length: 2\n\n"[..])
        );
        assert_eq!(response.body_start(), b"no");
        // An accepted handshake: the heads as written and read, no body.
        let addr = echo_server(Config::default()).await;
        let (_ws, response) = connect(&format!("ws://{addr}/")).await.unwrap();
        assert!(response.request_head().is_some_and(|r| r != &request[..]));
        let request = String::from_utf8(response.request_head().unwrap().to_vec()).unwrap();
        assert!(request.starts_with("GET / HTTP/1.1\r\n") && request.ends_with("\r\n\r\n"));
        let head = String::from_utf8(response.head().unwrap().to_vec()).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 ") && head.ends_with("\r\n\r\n"));
        assert!(response.body_start().is_empty());
    })
    .await;
}

/// A stream that counts the bytes that pass through it: the oracle for `traffic()`.
struct Counted<S> {
    io: S,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
    written: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<S> Counted<S> {
    fn new(io: S) -> Counted<S> {
        Counted {
            io,
            read: Default::default(),
            written: Default::default(),
        }
    }

    fn counts(&self) -> switchyard::Traffic {
        use std::sync::atomic::Ordering::SeqCst;
        switchyard::Traffic {
            read: self.read.load(SeqCst),
            written: self.written.load(SeqCst),
        }
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Counted<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut self.io).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.read.fetch_add(n, std::sync::atomic::Ordering::SeqCst);
        polled
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let polled = std::pin::Pin::new(&mut self.io).poll_write(cx, buf);
        if let std::task::Poll::Ready(Ok(n)) = polled {
            self.written
                .fetch_add(n as u64, std::sync::atomic::Ordering::SeqCst);
        }
        polled
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn traffic_counts_every_byte_each_end_moved_the_handshake_included() {
    use switchyard::{PendingUpgrade, client_handshake};
    use tokio::io::AsyncReadExt;
    within(30, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // Bytes an HTTP layer read before handing the stream over count as read, and
            // so does the rest of the request, read before the stream is wrapped (as a
            // server that routes first would) in the counter.
            let mut first = vec![0u8; 4];
            tcp.read_exact(&mut first).await.unwrap();
            let pending = PendingUpgrade::read_after(tcp, first, &big())
                .await
                .unwrap();
            let request = pending.received().len() as u64;
            let pending = pending.map_stream(Counted::new);
            let (mut ws, _) = pending.accept(&Answer::default()).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message).await.unwrap();
            }
            let mut seen = ws.get_ref().counts();
            seen.read += request;
            assert_eq!(ws.traffic(), seen, "server");
            seen
        });
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let options = ClientOptions::default().with_config(big());
        let (ws, _) = client_handshake(Counted::new(tcp), "x", "/", &options)
            .await
            .unwrap();
        assert_eq!(ws.traffic(), ws.get_ref().counts(), "after the handshake");
        let handshake = ws.traffic();
        // Split, so the halves' view is checked too; sizes with each header length.
        let (mut read, mut write) = ws.split();
        let mut payload = 0u64;
        for size in [5, 126, 70_000] {
            write.send(binary_message(&pattern(size))).await.unwrap();
            assert_eq!(read.recv().await.unwrap().unwrap().len(), size);
            payload += size as u64;
        }
        write.close(CloseCode::NORMAL, "bye").await.unwrap();
        assert!(read.closed().await.unwrap().clean);
        let ws = read.reunite(write).unwrap();
        let client = ws.traffic();
        assert_eq!(client, ws.get_ref().counts(), "client");
        // Each echo: the server's header (2, 4, 10 bytes) and payload; then its close reply
        // (a header and the code).
        assert_eq!(client.read - handshake.read, payload + 2 + 4 + 10 + 4);
        // Masked: 4 more bytes a frame; our close frame carries its reason.
        assert_eq!(
            client.written - handshake.written,
            payload + 6 + 8 + 14 + 6 + 2 + 3
        );
        let server = server.await.unwrap();
        assert_eq!((server.read, server.written), (client.written, client.read));
    })
    .await;
}
