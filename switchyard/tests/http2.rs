//! WebSocket over HTTP/2 (RFC 8441) with both roles of the library in-process: `http2::accept`
//! on an `h2` server, `Http2Connection` and `connect_with(..with_http2())` as clients; the
//! subprotocol negotiated over HTTP/2; and the fallback to HTTP/1.1 when a server speaks
//! HTTP/2 without extended CONNECT.

mod common;
#[path = "common/wss.rs"]
mod wss;

use std::net::SocketAddr;
use std::sync::Arc;

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
