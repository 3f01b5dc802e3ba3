//! One HTTP/2 request: a WebSocket route's extended CONNECT, or a plain request for the page
//! or `/healthz`.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use http::{HeaderValue, Method, Response, StatusCode};
use switchyard::switchyard_core::handshake::h2::{check_connect, offer as h2_offer};
use switchyard::{AcceptError, Answer, http2};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tracing::{debug, info};

use super::Http2;
use crate::assets::{Asset, Body};
use crate::connection::join;
use crate::log_line::Peer;
use crate::routes::{Closing, Route, Upgrade, inspect};
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
        plain(&h2, request, respond, peer, &path).await;
        return;
    };
    let timeout = h2.app.config.handshake_timeout;
    let (parts, body) = request.into_parts();
    // Only a well-formed extended CONNECT is a WebSocket to make room for; the rest is
    // refused by `http2::accept` with its status.
    let slot = if check_connect(&http2::pseudo_headers(&parts)).is_ok() {
        if shutdown.is_draining() {
            info!(peer = %Peer(peer), path, status = 503, http = "2", "refused");
            let response = text_head(StatusCode::SERVICE_UNAVAILABLE);
            let text = b"shutting down\n";
            let len = text.len() as u64;
            send_paced(respond, body, response, &text[..], len, false, timeout).await;
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
    // answered with its status (400 for a bad `since`/`epoch`, 503 without Redis). Only for
    // a request the answer will not refuse for its origin (also as over HTTP/1.1): a page of
    // another site gets its 403, and makes no room.
    let mut subscription = None;
    let mut config = h2.app.config;
    let origin_allowed = || {
        let fields = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_bytes()));
        h2_offer(&http2::pseudo_headers(&parts), fields, &config.limits)
            .is_ok_and(|offer| offer.check_origin(&h2.app.origin_policy()).is_ok())
    };
    if let (Route::Chat(room), Some(_)) = (&route, &slot)
        && origin_allowed()
    {
        match join(parts.uri.query(), room, &h2.app).await {
            Ok(joined) => subscription = Some(joined),
            Err((status, detail)) => {
                info!(peer = %Peer(peer), path, status = status.as_u16(), detail, http = "2", "refused");
                let status = StatusCode::from_u16(status.as_u16())
                    .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
                let body_text = format!("{detail}\n");
                let response = text_head(status);
                let text = body_text.as_bytes();
                let len = text.len() as u64;
                send_paced(respond, body, response, text, len, false, timeout).await;
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
    let closing = Closing::opened(peer, route.path(&path), Some("2"));
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
    upgrade.run(ws, app, shutdown, closing).await;
    drop(slot);
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
    request: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    peer: SocketAddr,
    path: &str,
) {
    let (parts, body) = request.into_parts();
    let method = parts.method;
    let head_only = method == Method::HEAD;
    let text = |text: &'static [u8]| Asset {
        body: Body::Embedded(text),
        len: text.len() as u64,
        content_type: "text/plain; charset=utf-8",
    };
    let (status, asset) = if method != Method::GET && !head_only {
        (StatusCode::METHOD_NOT_ALLOWED, text(b"only GET and HEAD\n"))
    } else if path == "/healthz" {
        (StatusCode::OK, text(b"ok\n"))
    } else {
        match h2.app.assets.get(path).await {
            Some(asset) => (StatusCode::OK, asset),
            None => (StatusCode::NOT_FOUND, text(b"not found\n")),
        }
    };
    let mut response = Response::new(());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response
            .headers_mut()
            .insert(http::header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    }
    info!(peer = %Peer(peer), %method, path, status = status.as_u16(), http = "2", "http");
    let step = h2.app.config.handshake_timeout;
    send_paced(
        respond, body, response, asset.body, asset.len, head_only, step,
    )
    .await;
}

/// A response head for a plain-text body.
fn text_head(status: StatusCode) -> Response<()> {
    let mut response = Response::new(());
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Sends `response` with its `content-length` (`len`): the stream if a body is to follow.
fn send_head(
    respond: &mut SendResponse<Bytes>,
    mut response: Response<()>,
    len: u64,
    head_only: bool,
) -> Option<h2::SendStream<Bytes>> {
    response
        .headers_mut()
        .insert(http::header::CONTENT_LENGTH, HeaderValue::from(len));
    let end = head_only || len == 0;
    let stream = respond.send_response(response, end).ok()?;
    (!end).then_some(stream)
}

/// Sends a text response at once, whatever the client's window: for refusals, whose
/// connection ends within its own timeout and takes what h2 holds for it along. A failure
/// means the client reset the stream: nothing more to do.
pub(super) fn respond_text(
    respond: &mut SendResponse<Bytes>,
    status: StatusCode,
    body: &str,
    head_only: bool,
) {
    let len = body.len() as u64;
    if let Some(mut stream) = send_head(respond, text_head(status), len, head_only) {
        let _ = stream.send_data(Bytes::copy_from_slice(body.as_bytes()), true);
    }
}

/// How much of a body is read and sent at a time: what a stream holds of it.
const BODY_PIECE: usize = 16 * 1024;

/// Sends a response and its body of `len` bytes, read from `body` a piece at a time, as the
/// client's flow control allows (RFC 9113 §5.2), each piece within `step`; the stream is
/// reset if one is not sent in time. Handed to h2 at once, a body waits in h2's buffer for
/// window the client need never grant: a client that announces a window of 0 and asks for
/// the largest file, over and over, would make the server hold a copy per request (the
/// request's task ends at once, and the stream with it, so the stream limit bounds nothing).
/// Here the task holds the stream until the body is out, so at most `--h2-max-streams` bodies
/// are under way per connection, each with a piece of it and at most h2's send buffer held
/// for it; and a large file reaches a client that reads slowly but steadily whole.
///
/// A request body (none is expected: these are GETs and refusals) is read and thrown away as
/// it comes, meanwhile: held unread, it would keep its stream's window of the connection's, and
/// its bytes in h2's buffer, until the response is out, which a client that grants no window
/// puts off until a piece times out.
async fn send_paced<R: AsyncRead + Unpin>(
    mut respond: SendResponse<Bytes>,
    request_body: RecvStream,
    response: Response<()>,
    mut body: R,
    len: u64,
    head_only: bool,
    step: std::time::Duration,
) {
    let Some(send) = send_head(&mut respond, response, len, head_only) else {
        return;
    };
    // Dropped before its end (an error, or a piece's timeout), the stream is reset (CANCEL).
    let (mut reader, mut writer) = tokio::io::split(http2::H2Stream::new(request_body, send));
    let respond = async {
        let mut piece = vec![0u8; BODY_PIECE];
        loop {
            let n = body.read(&mut piece).await?;
            if n == 0 {
                break;
            }
            tokio::time::timeout(step, writer.write_all(&piece[..n])).await??;
        }
        tokio::time::timeout(step, writer.shutdown()).await?
    };
    let mut sink = tokio::io::sink();
    let discard = tokio::io::copy(&mut reader, &mut sink);
    tokio::pin!(respond, discard);
    let mut discarding = true;
    loop {
        tokio::select! {
            _ = &mut respond => return,
            _ = &mut discard, if discarding => discarding = false,
        }
    }
}
