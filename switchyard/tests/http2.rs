//! WebSocket over HTTP/2 (RFC 8441) with both roles of the library in-process: `http2::accept`
//! on an `h2` server, `Http2Connection` and `connect_with(..with_http2())` as clients; the
//! subprotocol negotiated over HTTP/2; and the fallback to HTTP/1.1 when a server speaks
//! HTTP/2 without extended CONNECT.

mod common;
#[path = "common/wss.rs"]
mod wss;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use common::certs::TestCa;
use common::*;
use switchyard::http2::{self, Http2Connection};
use switchyard::{
    Answer, ClientOptions, CloseCode, Config, ConnectError, Message, TlsRoots, accept,
};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use wss::server_config;

/// Serves HTTP/2 on `io`: each request to a WebSocket is accepted (offering `chat` if the
/// client does) and echoed; with `extended_connect` off, the server never advertises it.
async fn serve_h2<T>(io: T, extended_connect: bool)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    serve_h2_with(io, extended_connect, Config::default()).await;
}

/// [`serve_h2`] with `config` for every WebSocket.
async fn serve_h2_with<T>(io: T, extended_connect: bool, config: Config)
where
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = h2::server::Builder::new();
    if extended_connect {
        builder.enable_connect_protocol();
    }
    // Sixteen streams' windows, as the module's documentation advises (h2's default, one,
    // fails `many_small_messages_left_unread_for_a_while_are_all_delivered` on this side).
    builder.initial_connection_window_size(16 * 64 * 1024);
    let Ok(mut connection) = builder.handshake::<_, bytes::Bytes>(io).await else {
        return;
    };
    while let Some(Ok((request, respond))) = connection.accept().await {
        tokio::spawn(async move {
            let accepted = http2::accept(request, respond, &config, |_, offer| {
                Ok(match offer.select_protocol(&["chat"]) {
                    Some(protocol) => Answer::default().with_protocol(protocol),
                    None => Answer::default(),
                })
            });
            let Ok((mut ws, _)) = accepted else {
                return;
            };
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}

/// Cleartext HTTP/2 with prior knowledge.
async fn h2c_server() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(serve_h2(tcp, true));
        }
    });
    addr
}

/// TLS offering `h2` and `http/1.1`: HTTP/2 without extended CONNECT, or HTTP/1.1 with
/// `accept`, as ALPN picks.
async fn h2_without_websockets(ca: &TestCa) -> SocketAddr {
    let leaf = ca.leaf(&["localhost"]);
    let config = server_config(&leaf, &[b"h2", b"http/1.1"]);
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                    serve_h2(tls, false).await;
                } else if let Ok((mut ws, _)) = accept(tls).await {
                    while let Some(Ok(message)) = ws.recv().await {
                        let _ = ws.send(message).await;
                    }
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn both_roles_over_http2_with_a_subprotocol() {
    within(20, async {
        let addr = h2c_server().await;
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &ClientOptions::default())
            .await
            .unwrap();
        assert!(connection.supports_websockets());
        let options = ClientOptions::default()
            .with_protocol("superchat")
            .with_protocol("chat");
        let (mut ws, response) = connection.websocket("/room?id=1", &options).await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(response.protocol(), Some("chat"));
        assert_eq!(ws.protocol(), Some("chat"));
        let (mut plain, response) = connection
            .websocket("/", &ClientOptions::default())
            .await
            .unwrap();
        assert_eq!(response.protocol(), None);
        for (ws, text) in [(&mut ws, "first stream"), (&mut plain, "second stream")] {
            ws.send(Message::Text(text.into())).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), text_message(text));
        }
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.closed().await.unwrap().clean);
        // The other stream is unaffected by the first one's end.
        plain.send(binary_message(&pattern(100_000))).await.unwrap();
        assert_eq!(
            plain.recv().await.unwrap().unwrap(),
            binary_message(&pattern(100_000))
        );
    })
    .await;
}

#[tokio::test]
async fn without_extended_connect_http2_falls_back_to_http1() {
    within(20, async {
        let ca = TestCa::new("fallback CA");
        let addr = h2_without_websockets(&ca).await;
        let file =
            std::env::temp_dir().join(format!("switchyard-h2-ca-{}.pem", std::process::id()));
        std::fs::write(&file, ca.pem()).unwrap();
        let options = ClientOptions::default()
            .with_tls_roots(TlsRoots::CaFile(file.clone()))
            .with_http2();
        let url = format!("wss://localhost:{}/echo", addr.port());

        let connection = Http2Connection::open(&url, &options).await.unwrap();
        assert!(!connection.supports_websockets());
        let error = connection.websocket("/echo", &options).await.err().unwrap();
        assert!(
            matches!(error, ConnectError::Http2NotNegotiated),
            "{error:?}"
        );

        let (mut ws, response) = switchyard::connect_with(&url, &options).await.unwrap();
        assert_eq!(response.status().as_u16(), 101);
        ws.send(Message::Text("over HTTP/1.1".into()))
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            text_message("over HTTP/1.1")
        );
        let _ = std::fs::remove_file(file);
    })
    .await;
}

/// A WebSocket the application stops reading holds its stream's window (64 KiB), not the
/// connection's: the other WebSockets on the connection go on. (With h2's default, one
/// stream window for the whole connection, the second echo never came.)
#[tokio::test]
async fn a_websocket_left_unread_does_not_stop_the_others_on_its_connection() {
    within(20, async {
        let addr = h2c_server().await;
        let options = ClientOptions::default();
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        let (mut unread, _) = connection.websocket("/", &options).await.unwrap();
        let (mut other, _) = connection.websocket("/", &options).await.unwrap();
        // Two 40 KiB messages: the server reads both and echoes as much as the stream's
        // window takes; nobody reads them here.
        for _ in 0..2 {
            unread
                .send(binary_message(&pattern(40 * 1024)))
                .await
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        other
            .send(Message::Text("still here".into()))
            .await
            .unwrap();
        let echoed = tokio::time::timeout(std::time::Duration::from_secs(5), other.recv())
            .await
            .expect("the other WebSocket's echo did not arrive");
        assert_eq!(echoed.unwrap().unwrap(), text_message("still here"));
        // And the unread one gets everything once read.
        for _ in 0..2 {
            assert_eq!(
                unread.recv().await.unwrap().unwrap(),
                binary_message(&pattern(40 * 1024))
            );
        }
    })
    .await;
}

/// Many small messages waiting unread for a while are delivered, not counted as a flood of
/// small DATA frames (h2 closes a connection with ENHANCE_YOUR_CALM when the frames waiting
/// unread exceed a budget, half the connection window: with h2's default window, about 130
/// small messages).
#[tokio::test]
async fn many_small_messages_left_unread_for_a_while_are_all_delivered() {
    within(20, async {
        let addr = h2c_server().await;
        let options = ClientOptions::default();
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        let (mut ws, _) = connection.websocket("/", &options).await.unwrap();
        for n in 0..500 {
            ws.send(Message::Text(format!("{n:010}").into()))
                .await
                .unwrap();
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        for n in 0..500 {
            let message = ws.recv().await.unwrap().unwrap();
            assert_eq!(message, text_message(&format!("{n:010}")));
        }
    })
    .await;
}

/// A response head is bounded over HTTP/2 as over HTTP/1.1 (`max_header_bytes`, 16 KiB by
/// default), not by h2's 16 MiB default.
#[tokio::test]
async fn an_oversized_response_head_over_http2_is_refused() {
    within(20, async {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut builder = h2::server::Builder::new();
            builder.enable_connect_protocol();
            let mut connection = builder.handshake::<_, bytes::Bytes>(tcp).await.unwrap();
            while let Some(Ok((_request, mut respond))) = connection.accept().await {
                let big = "b".repeat(64 * 1024);
                let response = http::Response::builder()
                    .status(200)
                    .header("x-big", big)
                    .body(())
                    .unwrap();
                let _stream = respond.send_response(response, false);
            }
        });
        let options = ClientOptions::default();
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        let answer = connection.websocket("/", &options).await;
        assert!(
            answer.is_err(),
            "accepted: {:?}",
            answer.map(|(_, response)| response.status())
        );
    })
    .await;
}

/// A transport whose reads stop for good once `stalled` is set: a server that stopped
/// reading (a hung process whose kernel still holds the connection).
struct Stall<T> {
    io: T,
    stalled: Arc<std::sync::atomic::AtomicBool>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Stall<T> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.stalled.load(std::sync::atomic::Ordering::SeqCst) {
            return std::task::Poll::Pending;
        }
        std::pin::Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Stall<T> {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.io).poll_write(cx, buf)
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

/// The client pings its HTTP/2 connection (at the keepalive interval) and lets it go when
/// the server stops answering: a WebSocket asked of it afterwards fails at once, rather than
/// wait out its handshake timeout on a connection nobody reads (and the connection's task no
/// longer lives for ever).
#[tokio::test]
async fn an_http2_connection_whose_server_stops_reading_is_let_go() {
    within(20, async {
        let (listener, addr) = listener().await;
        let stalled = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stall = Arc::clone(&stalled);
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let io = Stall {
                io: tcp,
                stalled: stall,
            };
            serve_h2(io, true).await;
        });
        let config = Config::default()
            .with_keepalive(Some(Duration::from_millis(100)), Duration::from_millis(300))
            .with_handshake_timeout(Duration::from_secs(10));
        let options = ClientOptions::default().with_config(config);
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        stalled.store(true, std::sync::atomic::Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let started = std::time::Instant::now();
        let answer = connection.websocket("/", &options).await;
        assert!(
            matches!(answer, Err(ref e) if !matches!(e, ConnectError::Timeout)),
            "{:?}",
            answer.map(|(_, response)| response.status())
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    })
    .await;
}

/// `Http2Connection::open` goes through the options' proxy, as `connect_with` does: a proxy
/// that cannot be reached is an error, not a direct connection to the server (which would
/// give away the client's address and the names it looks up).
#[cfg(feature = "proxy")]
#[tokio::test]
async fn opening_an_http2_connection_goes_through_the_proxy() {
    use switchyard::proxy::{Proxy, ProxyChoice};
    within(20, async {
        let addr = h2c_server().await;
        // A port nothing listens on.
        let (closed, closed_addr) = listener().await;
        drop(closed);
        let proxy = Proxy::parse(&format!("http://{closed_addr}")).unwrap();
        let options = ClientOptions::default().with_proxy(ProxyChoice::Always(proxy));
        match Http2Connection::open(&format!("ws://{addr}/"), &options).await {
            Err(ConnectError::Proxy(_)) => {}
            other => panic!("not a proxy error: {other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn dropping_a_websocket_aborts_its_stream_with_cancel() {
    within(20, async {
        // A server that accepts one WebSocket, reads one message and drops it without
        // closing.
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut builder = h2::server::Builder::new();
            builder.enable_connect_protocol();
            let mut connection = builder.handshake::<_, bytes::Bytes>(tcp).await.unwrap();
            let (request, respond) = connection.accept().await.unwrap().unwrap();
            let (mut ws, _) = http2::accept(request, respond, &Config::default(), |_, _| {
                Ok(Answer::default())
            })
            .unwrap();
            tokio::spawn(async move {
                ws.recv().await.unwrap().unwrap();
                drop(ws);
            });
            // The connection is driven by `accept`: keep it going so the reset goes out.
            while connection.accept().await.is_some() {}
        });
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &ClientOptions::default())
            .await
            .unwrap();
        let (mut ws, _) = connection
            .websocket("/", &ClientOptions::default())
            .await
            .unwrap();
        ws.send(Message::Text("then go".into())).await.unwrap();
        let error = match ws.recv().await {
            Some(Err(switchyard::Error::Io(error))) => error,
            other => panic!("{other:?}"),
        };
        let reason = error
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<h2::Error>())
            .and_then(h2::Error::reason);
        assert_eq!(reason, Some(h2::Reason::CANCEL), "{error:?}");
    })
    .await;
}

#[cfg(feature = "deflate")]
#[tokio::test]
async fn permessage_deflate_over_http2_in_both_roles() {
    use switchyard::DeflateConfig;
    within(20, async {
        let (listener, addr) = listener().await;
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = Config::default().with_deflate(DeflateConfig::SERVER);
            serve_h2_with(tcp, true, config).await;
        });
        let options = ClientOptions::default()
            .with_config(Config::default().with_deflate(DeflateConfig::CLIENT));
        let connection = Http2Connection::open(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        let (mut ws, response) = connection.websocket("/", &options).await.unwrap();
        assert_eq!(
            response.extensions().len(),
            1,
            "{:?}",
            response.extensions()
        );
        assert!(response.extensions()[0].starts_with("permessage-deflate"));
        let text = "compressible ".repeat(10_000);
        ws.send(Message::Text(text.clone().into())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message(&text));
    })
    .await;
}
