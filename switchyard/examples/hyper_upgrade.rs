//! Upgrading to WebSocket from a hyper 1.x server: the road axum and other hyper-based
//! frameworks take.
//!
//! hyper owns the HTTP/1.1 connection. The handler checks the upgrade request (RFC 6455
//! §4.2.1), answers `101 Switching Protocols` with the `Sec-WebSocket-Accept` the core
//! computes from the client's key (§4.2.2), and once hyper hands over the upgraded I/O
//! ([`hyper::upgrade::on`]) wraps it with [`WebSocket::from_upgraded`] and echoes.
//!
//! ```text
//! cargo run -p switchyard --example hyper_upgrade -- 127.0.0.1:9002
//! ```
//!
//! Any bytes hyper read past the request head come first out of the upgraded I/O, so nothing
//! is left over to pass to `from_upgraded`.

use std::convert::Infallible;
use std::net::SocketAddr;

use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::header::{self, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use switchyard::switchyard_core::handshake::WebSocketKey;
use switchyard::{Config, OriginPolicy, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .as_deref()
        .unwrap_or("127.0.0.1:9002")
        .parse()
        .map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(addr).await?;
    println!("hyper + switchyard echo on ws://{}", listener.local_addr()?);
    serve(listener).await
}

/// Serves HTTP/1.1 with hyper on every connection `listener` accepts.
pub(crate) async fn serve(listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (tcp, _) = listener.accept().await?;
        tokio::spawn(async move {
            let connection = http1::Builder::new()
                .serve_connection(TokioIo::new(tcp), service_fn(handle))
                // Keeps the connection alive past the response, for the upgrade.
                .with_upgrades();
            if let Err(error) = connection.await {
                eprintln!("connection failed: {error}");
            }
        });
    }
}

/// Answers a WebSocket upgrade with 101 and starts the echo; anything else with its status.
async fn handle(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, Infallible> {
    let key = match upgrade_key(&request) {
        Ok(key) => key,
        Err(status) => return Ok(refusal(status)),
    };
    // RFC 6455 §4.2.2 item 5.4: the key's SHA-1 with the GUID, base64; the core computes it.
    let Ok(accept) = HeaderValue::from_str(key.accept_key().as_str()) else {
        return Ok(refusal(StatusCode::INTERNAL_SERVER_ERROR));
    };
    tokio::spawn(async move {
        match hyper::upgrade::on(&mut request).await {
            Ok(upgraded) => {
                let io = TokioIo::new(upgraded);
                let ws = WebSocket::from_upgraded(io, Role::Server, &[], &Config::default());
                echo(ws).await;
            }
            Err(error) => eprintln!("upgrade failed: {error}"),
        }
    });
    let mut response = Response::new(Empty::new());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
    Ok(response)
}

/// The client's key if `request` is a valid upgrade (RFC 6455 §4.2.1), or the status to
/// refuse it with.
fn upgrade_key(request: &Request<Incoming>) -> Result<WebSocketKey, StatusCode> {
    let headers = request.headers();
    if !has_token(headers, header::UPGRADE, "websocket") {
        // §4.2.2: a plain HTTP request to a WebSocket resource.
        return Err(StatusCode::UPGRADE_REQUIRED);
    }
    // §4.2.1 items 1, 4 and 6: GET, HTTP/1.1 or later, Connection: Upgrade, version 13.
    if request.method() != Method::GET
        || request.version() < hyper::Version::HTTP_11
        || !has_token(headers, header::CONNECTION, "upgrade")
        || headers.get(header::SEC_WEBSOCKET_VERSION) != Some(&HeaderValue::from_static("13"))
    {
        return Err(StatusCode::BAD_REQUEST);
    }
    // §10.2: browsers say which page opened the connection; accept only pages of this host.
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match host {
        Some(host) if OriginPolicy::SAME_HOST.allows(origin, host) => {}
        Some(_) => return Err(StatusCode::FORBIDDEN),
        None => return Err(StatusCode::BAD_REQUEST),
    }
    // §4.2.1 item 5: exactly one key, base64 of 16 bytes.
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    match (keys.next(), keys.next()) {
        (Some(key), None) => WebSocketKey::parse(key.as_bytes()).ok_or(StatusCode::BAD_REQUEST),
        _ => Err(StatusCode::BAD_REQUEST),
    }
}

/// Whether any `name` field lists `token` (comma-separated, ASCII case-insensitive).
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

fn refusal(status: StatusCode) -> Response<Empty<Bytes>> {
    let mut response = Response::new(Empty::new());
    *response.status_mut() = status;
    if status == StatusCode::UPGRADE_REQUIRED {
        let headers = response.headers_mut();
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        headers.insert(
            header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    response
}

/// Echoes every message until the connection ends.
async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut ws: WebSocket<S>) {
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            break;
        }
    }
}
