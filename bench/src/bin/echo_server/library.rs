//! `switchyard-lib`: the smallest echo server a user of the `switchyard` library would write.
//! This is the benchmark's only use of the library's API, kept in one function so that an
//! API change is adapted here and nowhere else.

use tokio::io::{AsyncRead, AsyncWrite};

/// `switchyard::accept` with the default configuration, then `recv`/`send` until the peer
/// closes (the library answers the close handshake itself). Over TCP, or TLS.
pub(crate) async fn echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use switchyard::accept;

    let Ok((mut ws, _request)) = accept(tcp).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}

/// [`echo`] with keepalive off (`switchyard-lib-no-keepalive`). Its loop is [`echo`]'s,
/// written out again rather than shared: [`echo`] stays the code a user writes, and a shared
/// loop in a future of its own cost each echo 18 instructions (callgrind) for the extra
/// layer. A function of its own: with both accepts in one, every connection's task would
/// keep room for the larger, and the configuration, for its whole life (2.45 KiB per idle
/// connection against 2.18).
pub(crate) async fn echo_without_keepalive<S: AsyncRead + AsyncWrite + Unpin>(tcp: S) {
    use switchyard::{Config, accept_with_config};

    let config = Config::default().with_keepalive(None, Config::default().limits.keepalive_timeout);
    let Ok((mut ws, _request)) = accept_with_config(tcp, &config).await else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}
