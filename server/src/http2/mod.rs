//! HTTP/2 connections: over TLS when ALPN picks `h2`, and in cleartext with prior knowledge
//! on the plain listener ([`preface`]). Every route is served: the page and `/healthz` as
//! plain responses, and the WebSocket routes through extended CONNECT (RFC 8441), many on one
//! connection, each on its own stream.
//!
//! The limits, and who enforces them:
//! - flow control: each stream's window is its own (a WebSocket that stops reading stops only
//!   its peer); the connection's window is a multiple of it;
//! - concurrent streams: `--h2-max-streams` in SETTINGS_MAX_CONCURRENT_STREAMS; h2 refuses a
//!   stream past it with REFUSED_STREAM;
//! - WebSockets: each stream that becomes one takes a `--max-connections` slot; without one
//!   it is reset with REFUSED_STREAM (RFC 9113 §8.7: not processed, safe to retry);
//! - header list: [`MAX_HEADER_LIST`] in SETTINGS_MAX_HEADER_LIST_SIZE; h2 answers a larger
//!   one with 431;
//! - rapid reset (CVE-2023-44487) and CONTINUATION floods: h2 bounds the streams reset
//!   before they are accepted and the CONTINUATION frames of a header block, and ends the
//!   connection with GOAWAY(ENHANCE_YOUR_CALM) past them;
//! - the client preface, and any time without an open stream: the handshake timeout (then
//!   GOAWAY), as an HTTP/1.1 client has it to send its request;
//! - a connection past `--max-connections`: answered in HTTP/2, 503 on each request, then
//!   GOAWAY, all within the handshake timeout ([`refuse_busy`]).

pub(crate) mod preface;
mod refuse;
mod request;

pub(crate) use refuse::refuse_busy;

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::time::Instant;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::Semaphore;
use tracing::debug;

use crate::app::App;
use crate::log_line::Peer;
use crate::shutdown::Shutdown;

/// Largest header list (RFC 9113 §6.5.2: the uncompressed size, 32 bytes counted per field)
/// a request may carry.
pub(crate) const MAX_HEADER_LIST: u32 = 16 * 1024;

/// Each stream's receive window (RFC 9113 §6.9.2; h2's default, the protocol's initial
/// 65,535 rounded up): at most this much of a WebSocket's input waits unread in the server.
const STREAM_WINDOW: u32 = 64 * 1024;

/// The connection's receive window is this many stream windows or more: a WebSocket that
/// stops reading holds on to its own stream window, and the connection window must still
/// leave room for the others (with one connection window for all, a single stalled stream
/// would stop every stream on the connection). Capped at [`MAX_CONNECTION_WINDOW`].
const MAX_CONNECTION_WINDOW: u32 = 16 << 20;

/// Remotely reset streams that may wait to be accepted before the connection is deemed a
/// rapid-reset attack.
const MAX_PENDING_RESETS: usize = 20;

/// Sleeps until `deadline`, or for ever without one.
async fn sleep_until_some(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// What every HTTP/2 connection shares: the app, the WebSocket slots, the stream limit.
#[derive(Clone)]
pub(crate) struct Http2 {
    pub(crate) app: Arc<App>,
    pub(crate) slots: Arc<Semaphore>,
    pub(crate) max_streams: u32,
}

impl Http2 {
    /// Serves one HTTP/2 connection until the client ends it or the server has shut down and
    /// its streams are done. Its preface and settings are exchanged by `deadline`: the
    /// handshake timeout from the accept, which the TLS handshake before them shared.
    pub(crate) async fn serve<T>(
        self,
        io: T,
        peer: SocketAddr,
        mut shutdown: Shutdown,
        deadline: Instant,
    ) where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let mut builder = h2::server::Builder::new();
        let connection_window = self
            .max_streams
            .saturating_mul(STREAM_WINDOW)
            .clamp(STREAM_WINDOW, MAX_CONNECTION_WINDOW);
        builder
            .enable_connect_protocol()
            .initial_window_size(STREAM_WINDOW)
            .initial_connection_window_size(connection_window)
            .max_concurrent_streams(self.max_streams)
            .max_header_list_size(MAX_HEADER_LIST)
            .max_pending_accept_reset_streams(MAX_PENDING_RESETS);
        let handshake = builder.handshake::<_, Bytes>(io);
        let mut connection = match tokio::time::timeout_at(deadline, handshake).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => {
                // Chromium's spare connection, closed unused, ends here too.
                debug!(peer = %Peer(peer), %error, "HTTP/2 handshake failed");
                return;
            }
            Err(_) => {
                debug!(peer = %Peer(peer), "HTTP/2 handshake timed out");
                return;
            }
        };
        let mut draining = false;
        let mut closing = false;
        // Each request's task holds a clone: more than one means a stream is open.
        let streams = Arc::new(());
        let idle_limit = self.app.config.handshake_timeout;
        let mut last_busy = Instant::now();
        let mut idle_check = tokio::time::interval(idle_limit / 4);
        // Once the connection is being closed: when to stop waiting for h2 to write its
        // GOAWAY, which a client that stopped reading never lets it do.
        let mut give_up: Option<Instant> = None;
        loop {
            tokio::select! {
                () = sleep_until_some(give_up) => {
                    // As the close timeout bounds an HTTP/1.1 connection's closing: dropping
                    // the connection closes the socket, and frees its slot.
                    debug!(peer = %Peer(peer), "HTTP/2 connection not closed in time: dropping it");
                    break;
                }
                () = shutdown.wait(), if !draining => {
                    // GOAWAY: no new streams; the open WebSockets close with 1001 themselves.
                    draining = true;
                    connection.graceful_shutdown();
                }
                _ = idle_check.tick(), if !closing => {
                    // As an HTTP/1.1 connection has the handshake timeout to send its request,
                    // an HTTP/2 connection without a stream has it to open one. Draining, h2
                    // ends the connection once the client answers the graceful shutdown's
                    // PING, which a silent client never does: once its streams are done, it
                    // is closed at the next check.
                    let busy = Arc::strong_count(&streams) > 1;
                    if busy {
                        last_busy = Instant::now();
                    } else if draining || last_busy.elapsed() >= idle_limit {
                        debug!(peer = %Peer(peer), draining, "HTTP/2 connection idle: closing it");
                        draining = true;
                        closing = true;
                        give_up = Some(Instant::now() + self.app.config.limits.close_timeout);
                        // Abrupt: no stream is open to wait for.
                        connection.abrupt_shutdown(h2::Reason::NO_ERROR);
                    }
                }
                accepted = connection.accept() => match accepted {
                    Some(Ok((request, respond))) => {
                        last_busy = Instant::now();
                        let open = Arc::clone(&streams);
                        let task = request::serve(
                            self.clone(),
                            request,
                            respond,
                            peer,
                            shutdown.clone(),
                        );
                        tokio::spawn(async move {
                            task.await;
                            drop(open);
                        });
                    }
                    Some(Err(error)) => {
                        debug!(peer = %Peer(peer), %error, "HTTP/2 connection ended with an error");
                        break;
                    }
                    None => break,
                },
            }
        }
    }
}
