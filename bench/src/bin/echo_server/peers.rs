//! The peers: five Rust WebSocket servers, each set up the way its own README or examples do,
//! with default limits. Built only with the `peers` feature (`make bench`), never by
//! `make test`'s smoke.

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Tungstenite,
    FastWebSockets,
    TokioWebSockets,
    SockudoWs,
    Yawc,
}

impl Peer {
    pub(crate) fn parse(name: &str) -> Option<Peer> {
        match name {
            "tungstenite" => Some(Peer::Tungstenite),
            "fastwebsockets" => Some(Peer::FastWebSockets),
            "tokio-websockets" => Some(Peer::TokioWebSockets),
            "sockudo-ws" => Some(Peer::SockudoWs),
            "yawc" => Some(Peer::Yawc),
            _ => None,
        }
    }

    /// Spawns the task that serves one accepted connection.
    pub(crate) fn spawn(self, tcp: TcpStream) {
        match self {
            Peer::Tungstenite => tokio::spawn(tungstenite(tcp)),
            Peer::FastWebSockets => tokio::spawn(fastwebsockets(tcp)),
            Peer::TokioWebSockets => tokio::spawn(tokio_websockets(tcp)),
            Peer::SockudoWs => tokio::spawn(sockudo_ws(tcp)),
            Peer::Yawc => tokio::spawn(yawc(tcp)),
        };
    }
}

/// `tokio_tungstenite::accept_async`, then the `Stream`/`Sink` pair.
async fn tungstenite(tcp: TcpStream) {
    let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

/// hyper's HTTP/1 server with fastwebsockets' `upgrade` helper, which spawns
/// [`fastwebsockets_echo`] for the upgraded connection.
async fn fastwebsockets(tcp: TcpStream) {
    use fastwebsockets::{WebSocketError, upgrade};
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn on_request(
        mut request: Request<Incoming>,
    ) -> Result<Response<Empty<Bytes>>, WebSocketError> {
        let (response, upgrade) = upgrade::upgrade(&mut request)?;
        tokio::spawn(fastwebsockets_echo(upgrade));
        Ok(response)
    }

    let io = hyper_util::rt::TokioIo::new(tcp);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(on_request))
        .with_upgrades()
        .await;
}

/// A `FragmentCollector` (whole messages) over the upgraded socket, its default auto-pong and
/// auto-close kept.
async fn fastwebsockets_echo(upgrade: fastwebsockets::upgrade::UpgradeFut) {
    use fastwebsockets::{FragmentCollector, OpCode};

    let Ok(ws) = upgrade.await else {
        return;
    };
    let mut ws = FragmentCollector::new(ws);
    while let Ok(frame) = ws.read_frame().await {
        let echoed = match frame.opcode {
            OpCode::Close => return,
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await,
            _ => Ok(()),
        };
        if echoed.is_err() {
            return;
        }
    }
}

/// `tokio_websockets::ServerBuilder::accept`, then the `Stream`/`Sink` pair.
async fn tokio_websockets(tcp: TcpStream) {
    let Ok((_request, mut ws)) = tokio_websockets::ServerBuilder::new().accept(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

/// sockudo-ws as its `simple_echo` example: the handshake with its `parse_request` /
/// `build_response` helpers over a `BytesMut`, then `WebSocketStream::server` and the
/// `Stream`/`Sink` pair (it answers pings and the close handshake itself).
async fn sockudo_ws(mut tcp: TcpStream) {
    use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
    use sockudo_ws::protocol::Message;
    use sockudo_ws::{Config, WebSocketStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut buf = bytes::BytesMut::with_capacity(4096);
    loop {
        match tcp.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        match parse_request(&buf) {
            Ok(Some((request, _))) => {
                let response = build_response(&generate_accept_key(request.key), None, None);
                if tcp.write_all(&response).await.is_err() {
                    return;
                }
                break;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    }
    let mut ws = WebSocketStream::server(tcp, Config::default());
    while let Some(Ok(message)) = ws.next().await {
        let echoed = match message {
            Message::Text(text) => ws.send(Message::Text(text)).await,
            Message::Binary(data) => ws.send(Message::Binary(data)).await,
            Message::Close(_) => return,
            Message::Ping(_) | Message::Pong(_) => Ok(()),
        };
        if echoed.is_err() {
            return;
        }
    }
}

/// yawc as its `echo_server` example: hyper's HTTP/1 server, `WebSocket::upgrade`, and the
/// upgraded connection spawned under `tokio::task::unconstrained`; default `Options`.
async fn yawc(tcp: TcpStream) {
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn on_request(mut request: Request<Incoming>) -> yawc::Result<Response<Empty<Bytes>>> {
        let (response, upgrade) = yawc::WebSocket::upgrade(&mut request)?;
        tokio::spawn(tokio::task::unconstrained(yawc_echo(upgrade)));
        Ok(response)
    }

    let io = hyper_util::rt::TokioIo::new(tcp);
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, hyper::service::service_fn(on_request))
        .with_upgrades()
        .await;
}

/// Reads frames until the client closes (yawc answers the close itself).
async fn yawc_echo(upgrade: yawc::UpgradeFut) {
    use yawc::OpCode;

    let Ok(mut ws) = upgrade.await else {
        return;
    };
    while let Some(frame) = ws.next().await {
        if matches!(frame.opcode(), OpCode::Text | OpCode::Binary) && ws.send(frame).await.is_err()
        {
            return;
        }
    }
}
