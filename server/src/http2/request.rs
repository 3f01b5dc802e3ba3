//! One HTTP/2 request: a WebSocket route's extended CONNECT, or a plain request for the page
//! or `/healthz`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use http::{HeaderValue, Method, Response, StatusCode};
use switchyard::switchyard_core::handshake::h2::check_connect;
use switchyard::{AcceptError, Answer, http2};
use tracing::{debug, info};

use super::Http2;
use crate::connection::join;
use crate::log_line::{CloseLine, Peer};
use crate::routes::{Route, Upgrade, inspect};
use crate::shutdown::Shutdown;
use crate::tapped::Tapped;

/// Serves one request (its own task).
pub(super) async fn serve(
    h2: Http2,
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    peer: SocketAddr,
    shutdown: Shutdown,
) {
    let path = request.uri().path().to_owned();
    let Some(route) = Route::at(&path) else {
        plain(&h2, &request, respond, peer, &path).await;
        return;
    };
    let (parts, body) = request.into_parts();
    // Only a well-formed extended CONNECT is a WebSocket to make room for; the rest is
    // refused by `http2::accept` with its status.
    let slot = if check_connect(&http2::pseudo_headers(&parts)).is_ok() {
        if shutdown.is_draining() {
            respond_text(
                &mut respond,
                StatusCode::SERVICE_UNAVAILABLE,
                "shutting down\n",
                false,
            );
            info!(peer = %Peer(peer), path, status = 503, http = "2", "refused");
            return;
        }
        match Arc::clone(&h2.slots).try_acquire_owned() {
            Ok(slot) => Some(slot),
            Err(_) => {
                // RFC 9113 §8.7: REFUSED_STREAM says nothing was done, so a retry is safe.
                respond.send_reset(Reason::REFUSED_STREAM);
                info!(peer = %Peer(peer), path, http = "2", "refused: --max-connections reached");
                return;
            }
        }
    } else {
        None
    };
    // A chat room is joined before the answer, as over HTTP/1.1: what cannot work is
    // answered with its status (400 for a bad `since`/`epoch`, 503 without Redis).
    let mut subscription = None;
    let mut config = h2.app.config;
    if let (Route::Chat(room), Some(_)) = (&route, &slot) {
        match join(parts.uri.query(), room, &h2.app).await {
            Ok(joined) => subscription = Some(joined),
            Err((status, detail)) => {
                info!(peer = %Peer(peer), path, status = status.as_u16(), detail, http = "2", "refused");
                let status = StatusCode::from_u16(status.as_u16())
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                respond_text(&mut respond, status, &format!("{detail}\n"), false);
                return;
            }
        }
        config = config.with_limits(h2.app.chat_limits);
    }
    let request = http::Request::from_parts(parts, body);
    let mut recorded = None;
    let app = &h2.app;
    let accepted = http2::accept_wrapped(
        request,
        respond,
        &config,
        |parts, offer| {
            offer.check_origin(&app.origin_policy())?;
            let mut answer = Answer::default();
            if matches!(route, Route::Inspect) {
                recorded = Some(fields_as_text(parts));
                if let Some(mut deflate) = app.config.deflate {
                    // RFC 7692 §7.1.1.2, as over HTTP/1.1: every frame the inspector shows
                    // inflates on its own.
                    deflate.client_no_context_takeover = true;
                    answer = answer.with_deflate(deflate);
                }
            }
            Ok(answer)
        },
        Tapped::new,
    );
    let (mut ws, response) = match accepted {
        Ok(accepted) => accepted,
        Err(error) => {
            log_refusal(peer, &path, &error);
            return;
        }
    };
    debug!(peer = %Peer(peer), path, http = "2", "open");
    let started = Instant::now();
    let upgrade = match route {
        Route::Echo => Upgrade::Echo,
        Route::Chat(_) => match subscription {
            Some(subscription) => Upgrade::Chat(subscription),
            // Unreachable: an upgraded chat stream was joined first.
            None => return,
        },
        Route::Inspect => {
            let message_limit =
                usize::try_from(config.limits.max_message_size).unwrap_or(usize::MAX);
            let tap = Arc::new(Mutex::new(inspect::Tap::new(message_limit)));
            ws.get_mut().set_tap(tap.clone());
            Upgrade::Inspect(inspect::Handshake {
                http_version: "HTTP/2",
                request: recorded.unwrap_or_default().into_bytes(),
                response: Some(response_as_text(&response).into_bytes()),
                key: String::new(),
                accept: String::new(),
                message_limit,
                tap,
            })
        }
    };
    let ended = upgrade.run(ws, app, peer, shutdown).await;
    drop(slot);
    let line = CloseLine::new(
        peer,
        &path,
        Some("2"),
        ended.info.as_ref(),
        started,
        ended.traffic,
    );
    line.with_text(|text| info!(message = text));
}

/// The request's pseudo-header and header fields, one `name: value` per line, as h2
/// decoded them (HPACK leaves no raw bytes to show).
fn fields_as_text(parts: &http::request::Parts) -> String {
    let pseudo = http2::pseudo_headers(parts);
    let mut text = format!(":method: {}\n", pseudo.method);
    for (name, value) in [
        (":protocol", pseudo.protocol),
        (":scheme", pseudo.scheme),
        (":authority", pseudo.authority),
        (":path", pseudo.path),
    ] {
        if let Some(value) = value {
            let _ = writeln!(text, "{name}: {value}");
        }
    }
    for (name, value) in &parts.headers {
        let _ = writeln!(
            text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    text
}

/// The 200 as sent: `:status`, then its fields, as [`fields_as_text`] shows a request.
fn response_as_text(response: &http::Response<()>) -> String {
    let mut text = format!(":status: {}\n", response.status().as_u16());
    for (name, value) in response.headers() {
        let _ = writeln!(
            text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    text
}

fn log_refusal(peer: SocketAddr, path: &str, error: &AcceptError) {
    match error.status() {
        Some(status) => {
            info!(peer = %Peer(peer), path, status = status.as_u16(), http = "2", %error, "refused");
        }
        None => debug!(peer = %Peer(peer), path, http = "2", %error, "stream reset"),
    }
}

/// The page, its files and `/healthz`, over HTTP/2.
async fn plain(
    h2: &Http2,
    request: &http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    peer: SocketAddr,
    path: &str,
) {
    let method = request.method();
    let head_only = method == Method::HEAD;
    let status = if method != Method::GET && !head_only {
        let mut response = Response::new(());
        *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        send(&mut respond, response, b"only GET and HEAD\n", false);
        StatusCode::METHOD_NOT_ALLOWED
    } else if path == "/healthz" {
        respond_text(&mut respond, StatusCode::OK, "ok\n", head_only);
        StatusCode::OK
    } else {
        match h2.app.assets.get(path).await {
            Some(asset) => {
                let mut response = Response::new(());
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    HeaderValue::from_static(asset.content_type),
                );
                send(&mut respond, response, &asset.body, head_only);
                StatusCode::OK
            }
            None => {
                respond_text(
                    &mut respond,
                    StatusCode::NOT_FOUND,
                    "not found\n",
                    head_only,
                );
                StatusCode::NOT_FOUND
            }
        }
    };
    info!(peer = %Peer(peer), %method, path, status = status.as_u16(), http = "2", "http");
}

pub(super) fn respond_text(
    respond: &mut SendResponse<Bytes>,
    status: StatusCode,
    body: &str,
    head_only: bool,
) {
    let mut response = Response::new(());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    send(respond, response, body.as_bytes(), head_only);
}

/// Sends a response with its body (not for HEAD), `content-length` set. A failure means
/// the client reset the stream: nothing more to do.
fn send(
    respond: &mut SendResponse<Bytes>,
    mut response: Response<()>,
    body: &[u8],
    head_only: bool,
) {
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let end = head_only || body.is_empty();
    if let Ok(mut stream) = respond.send_response(response, end)
        && !end
    {
        let _ = stream.send_data(Bytes::copy_from_slice(body), true);
    }
}
