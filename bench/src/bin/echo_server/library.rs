//! `switchyard-lib`: the smallest echo server a user of the `switchyard` library would write.
//! This is the benchmark's only use of the library's API, kept in one function so that an
//! API change is adapted here and nowhere else.

use tokio::io::{AsyncRead, AsyncWrite};

/// `switchyard::accept` with the default configuration, then `recv`/`send` until the peer
/// closes (the library answers the close handshake itself). Over TCP, or TLS.
pub(crate) async fn echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    let Ok((ws, _request)) = switchyard::accept(tcp).await else {
        return;
    };
    echo_messages(ws).await;
}

/// [`echo`] with keepalive off (`switchyard-lib-no-keepalive`). A function of its own: with
/// both accepts in one, every connection's task would keep room for the larger, and the
/// configuration, for its whole life.
pub(crate) async fn echo_without_keepalive<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use switchyard::{Config, accept_with_config};

    let config = Config::default().with_keepalive(None, Config::default().limits.keepalive_timeout);
    let Ok((ws, _request)) = accept_with_config(tcp, &config).await else {
        return;
    };
    echo_messages(ws).await;
}

/// An `async move` block rather than an `async fn`, which would keep the WebSocket twice
/// (as passed, and as its body's local: rust-lang/rust#62958), 270 bytes more per connection.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn echo_messages<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: switchyard::WebSocket<S>,
) -> impl Future<Output = ()> {
    async move {
        while let Some(Ok(message)) = ws.recv().await {
            if ws.send(message).await.is_err() {
                return;
            }
        }
    }
}
