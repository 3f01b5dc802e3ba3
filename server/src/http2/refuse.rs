//! A connection that chose HTTP/2 when `--max-connections` is reached: the refusal is spoken
//! in HTTP/2, as the HTTP/1.1 one is spoken in HTTP/1.1 (a 503 the client can show).
//!
//! Why a 503 on each request rather than REFUSED_STREAM or an immediate GOAWAY: RFC 9113
//! §8.7 lets a client retry a refused stream, or a stream above a GOAWAY's last stream ID
//! (§6.8), on its own; browsers do so at once, on a new connection, which the busy server
//! would only refuse again. A 503 (RFC 9110 §15.6.4) is an answer: the browser shows it,
//! the WebSocket fails with it, and nothing is retried behind the user's back. After the
//! first answer a graceful GOAWAY says no new stream will be taken here; requests already
//! on their way are answered 503 too.
//!
//! Bounded as a refusal must be: the whole exchange, handshake included, within the
//! handshake timeout; a few streams at a time, each a header list of at most
//! [`MAX_HEADER_LIST`](super::MAX_HEADER_LIST), and request bodies neither read nor
//! granted window.

use std::net::SocketAddr;
use tokio::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use switchyard::HandshakeError;
use tokio::io::{AsyncRead, AsyncWrite};
use tracing::{debug, info};

use super::MAX_HEADER_LIST;
use super::request::respond_text;
use crate::log_line::Peer;

/// Streams a refused connection may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS).
const REFUSED_STREAMS: u32 = 8;

/// Answers every request on `io` with 503 and ends the connection, within `timeout`.
pub(crate) async fn refuse_busy<T>(io: T, peer: SocketAddr, deadline: Instant)
where
    T: AsyncRead + AsyncWrite + Unpin,
{
    let refusing = async {
        // Extended CONNECT advertised as when serving, so that a browser sends its WebSocket
        // here and gets the 503, rather than falling back to another connection.
        let mut connection = h2::server::Builder::new()
            .enable_connect_protocol()
            .initial_window_size(0)
            .max_concurrent_streams(REFUSED_STREAMS)
            .max_header_list_size(MAX_HEADER_LIST)
            .handshake::<_, Bytes>(io)
            .await?;
        let body = format!("{}\n", HandshakeError::Unavailable.message());
        let mut going_away = false;
        while let Some(accepted) = connection.accept().await {
            let (request, mut respond) = accepted?;
            info!(peer = %Peer(peer), path = request.uri().path(), status = 503, http = "2", "refused: --max-connections reached");
            drop(request);
            respond_text(&mut respond, StatusCode::SERVICE_UNAVAILABLE, &body, false);
            if !going_away {
                going_away = true;
                connection.graceful_shutdown();
            }
        }
        Ok::<(), h2::Error>(())
    };
    match tokio::time::timeout_at(deadline, refusing).await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => debug!(peer = %Peer(peer), %error, "HTTP/2 refusal ended with an error"),
        Err(_) => debug!(peer = %Peer(peer), "HTTP/2 refusal timed out"),
    }
}
