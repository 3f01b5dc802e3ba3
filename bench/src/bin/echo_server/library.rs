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
