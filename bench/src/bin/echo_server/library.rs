//! `switchyard-lib`: the smallest echo server a user of the `switchyard` library would write.
//! This is the benchmark's only use of the library's API, kept in one function so that an
//! API change is adapted here and nowhere else.

use tokio::io::{AsyncRead, AsyncWrite};

/// `switchyard::accept` with the default configuration (with `keepalive` false: the same
/// but keepalive off), then `recv`/`send` until the peer closes (the library answers the
/// close handshake itself). Over TCP, or TLS.
pub(crate) async fn echo<S: AsyncRead + AsyncWrite + Unpin>(tcp: S, keepalive: bool) {
    use switchyard::{Config, accept, accept_with_config};

    let accepted = if keepalive {
        accept(tcp).await
    } else {
        let config =
            Config::default().with_keepalive(None, Config::default().limits.keepalive_timeout);
        accept_with_config(tcp, &config).await
    };
    let Ok((mut ws, _request)) = accepted else {
        return;
    };
    while let Some(Ok(message)) = ws.recv().await {
        if ws.send(message).await.is_err() {
            return;
        }
    }
}
