//! The peers: five Rust WebSocket servers, each set up the way its own README or examples do,
//! with default limits. Built only with the `peers` feature (`make bench`), never by
//! `make test`'s smoke.
//!
//! The two that implement permessage-deflate also run with it (`yawc-deflate`,
//! `sockudo-ws-deflate`, for `bench/deflate.sh`), set as close to the `switchyard` binary's
//! defaults as their options allow: see [`DEFLATE_WINDOW_BITS`].

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::net::TcpStream;

/// The binary's permessage-deflate defaults (README, "Compression"), which the compressing
/// peers are given so that every server does the same work: 12-bit windows both ways, agreed
/// with the load generator's offer (`permessage-deflate; client_max_window_bits`, as Chrome's)
/// as `server_max_window_bits=12; client_max_window_bits=12`, context takeover both ways, level 6,
/// messages under 32 bytes sent uncompressed. Neither peer can set zlib's memLevel: both
/// compress through flate2, which fixes it at 8 where the binary uses 5.
const DEFLATE_WINDOW_BITS: u8 = 12;
/// See [`DEFLATE_WINDOW_BITS`].
const DEFLATE_LEVEL: u32 = 6;
/// See [`DEFLATE_WINDOW_BITS`].
const DEFLATE_THRESHOLD: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Tungstenite,
    FastWebSockets,
    TokioWebSockets,
    SockudoWs,
    SockudoWsDeflate,
    Yawc,
    YawcDeflate,
}

impl Peer {
    pub(crate) fn parse(name: &str) -> Option<Peer> {
        match name {
            "tungstenite" => Some(Peer::Tungstenite),
            "fastwebsockets" => Some(Peer::FastWebSockets),
            "tokio-websockets" => Some(Peer::TokioWebSockets),
            "sockudo-ws" => Some(Peer::SockudoWs),
            "sockudo-ws-deflate" => Some(Peer::SockudoWsDeflate),
            "yawc" => Some(Peer::Yawc),
            "yawc-deflate" => Some(Peer::YawcDeflate),
            _ => None,
        }
    }

    /// Spawns the task that serves one accepted connection.
    pub(crate) fn spawn(self, tcp: TcpStream) {
        match self {
            Peer::Tungstenite => tokio::spawn(tungstenite(tcp)),
            Peer::FastWebSockets => tokio::spawn(fastwebsockets(tcp)),
            Peer::TokioWebSockets => tokio::spawn(tokio_websockets(tcp)),
            Peer::SockudoWs => tokio::spawn(sockudo_ws(tcp, None)),
            Peer::SockudoWsDeflate => tokio::spawn(sockudo_ws(tcp, Some(sockudo_deflate()))),
            Peer::Yawc => tokio::spawn(yawc(tcp, yawc::Options::default())),
            Peer::YawcDeflate => tokio::spawn(yawc(tcp, yawc_deflate())),
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
/// `Stream`/`Sink` pair (it answers pings and the close handshake itself). With a `deflate`
/// policy, the client's offer is negotiated as its axum integration does
/// (`negotiate_server_deflate`, the answer in `build_response`) and an agreed connection is a
/// `CompressedWebSocketStream` instead.
async fn sockudo_ws(mut tcp: TcpStream, deflate: Option<sockudo_ws::DeflateConfig>) {
    use sockudo_ws::deflate::negotiate_server_deflate;
    use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
    use sockudo_ws::{CompressedWebSocketStream, Config, WebSocketStream};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut buf = bytes::BytesMut::with_capacity(4096);
    let agreed = loop {
        match tcp.read_buf(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        match parse_request(&buf) {
            Ok(Some((request, _))) => {
                let agreed = deflate
                    .as_ref()
                    .zip(request.extensions)
                    .and_then(|(policy, offers)| negotiate_server_deflate(offers, policy));
                let answer = agreed.as_ref().map(|a| a.to_response_header());
                let response =
                    build_response(&generate_accept_key(request.key), None, answer.as_deref());
                if tcp.write_all(&response).await.is_err() {
                    return;
                }
                break agreed;
            }
            Ok(None) => {}
            Err(_) => return,
        }
    };
    match agreed {
        Some(agreed) => {
            sockudo_echo(CompressedWebSocketStream::server(
                tcp,
                Config::default(),
                agreed.config,
            ))
            .await
        }
        None => sockudo_echo(WebSocketStream::server(tcp, Config::default())).await,
    }
}

/// The binary's deflate defaults as sockudo-ws's `DeflateConfig` (its `Compression` presets
/// tie the window to a level: `Window4KB` compresses at level 3).
fn sockudo_deflate() -> sockudo_ws::DeflateConfig {
    sockudo_ws::DeflateConfig {
        server_max_window_bits: sockudo_ws::DeflateWindowBits::Bits12,
        client_max_window_bits: sockudo_ws::DeflateWindowBits::Bits12,
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        compression_level: DEFLATE_LEVEL,
        compression_threshold: DEFLATE_THRESHOLD,
    }
}

/// Echoes text and binary messages until the client closes.
async fn sockudo_echo<W>(mut ws: W)
where
    W: Stream<Item = sockudo_ws::Result<sockudo_ws::Message>>
        + Sink<sockudo_ws::Message, Error = sockudo_ws::Error>
        + Unpin,
{
    use sockudo_ws::Message;

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

/// yawc as its `echo_server` example: hyper's HTTP/1 server, `WebSocket::upgrade_with_options`,
/// and the upgraded connection spawned under `tokio::task::unconstrained`.
async fn yawc(tcp: TcpStream, options: yawc::Options) {
    use http_body_util::Empty;
    use hyper::body::{Bytes, Incoming};
    use hyper::{Request, Response};

    async fn on_request(
        mut request: Request<Incoming>,
        options: yawc::Options,
    ) -> yawc::Result<Response<Empty<Bytes>>> {
        let (response, upgrade) = yawc::WebSocket::upgrade_with_options(&mut request, options)?;
        tokio::spawn(tokio::task::unconstrained(yawc_echo(upgrade)));
        Ok(response)
    }

    let io = hyper_util::rt::TokioIo::new(tcp);
    let service = hyper::service::service_fn(move |request| on_request(request, options.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(io, service)
        .with_upgrades()
        .await;
}

/// The binary's deflate defaults as yawc's `DeflateOptions`, its other options the defaults
/// (which do not check UTF-8: the binary does).
fn yawc_deflate() -> yawc::Options {
    yawc::Options {
        compression: Some(yawc::DeflateOptions {
            level: yawc::CompressionLevel::new(DEFLATE_LEVEL),
            server_max_window_bits: Some(DEFLATE_WINDOW_BITS),
            client_max_window_bits: Some(DEFLATE_WINDOW_BITS),
            compression_threshold: DEFLATE_THRESHOLD,
            ..Default::default()
        }),
        ..Default::default()
    }
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
