//! # switchyard
//!
//! The Tokio shell around [`switchyard_core`], for both roles. The shell only moves bytes and
//! events: message assembly, automatic pongs, the close rules, limits and the handshake itself
//! are the core's, written once and shared with the wasm bindings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchyard::Error> {
//! use switchyard::{Config, Message, accept, connect};
//!
//! // Server: accept on a TCP stream, echo until the peer closes.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = accept(tcp, &Config::default()).await?;
//! while let Some(message) = ws.recv().await {
//!     ws.send(message?).await?;
//! }
//!
//! // Client.
//! let mut ws = connect("ws://127.0.0.1:8080/echo").await?;
//! ws.send(Message::Text("hello".into())).await?;
//! let reply = ws.recv().await;
//! # Ok(()) }
//! ```
//!
//! ## What it does around the core
//!
//! - **Handshakes** ([`accept`], [`accept_with`], [`PendingUpgrade`], [`connect`],
//!   [`client_handshake`]): read and write the bytes the core parses and produces, under
//!   [`Config::handshake_timeout`]; the client's nonce and masking keys come from the OS RNG.
//! - **A connection** ([`WebSocket`]): async `recv`/`send`/`close`, plus `futures`
//!   [`Stream`](futures_core::Stream) and [`Sink`](futures_sink::Sink). `recv` is cancel-safe.
//! - **Two tasks** ([`WebSocket::split`]): a read half and a write half, no lock held across
//!   an await; the read half sends the automatic pongs and the close reply itself.
//! - **Time**: keepalive pings and their timeout, the close timeout.
//! - **Backpressure**: at most [`Config::with_write_buffer_size`] bytes queued (plus the message
//!   being queued); `send` waits beyond it, and reading pauses if the core's own replies
//!   (pongs) back up that far. Queued frames go out in one write per batch.
//!
//! Timers need a Tokio runtime with time enabled.

#[cfg(any(
    feature = "tls",
    feature = "webpki-roots",
    feature = "http2",
    feature = "deflate",
    feature = "proxy",
    feature = "hub",
    feature = "redis"
))]
compile_error!(
    "switchyard: the features tls, webpki-roots, http2, deflate, proxy, hub and redis are \
     reserved names for capabilities that have not landed yet; see the crate README"
);

#[cfg(feature = "server")]
mod accept;
mod config;
#[cfg(feature = "client")]
mod connect;
mod driver;
mod error;
mod masks;
mod split;
mod stream;
mod timer;
mod url;
mod wake;

#[cfg(feature = "server")]
pub use accept::{Answer, PendingUpgrade, accept, accept_with};
pub use config::Config;
#[cfg(feature = "client")]
pub use connect::{ClientOptions, client_handshake, connect, connect_with};
pub use driver::Incoming;
pub use error::Error;
pub use split::{ReadHalf, ReuniteError, WriteHalf};
pub use stream::WebSocket;
pub use url::UrlError;

pub use bytes::Bytes;
pub use switchyard_core;
pub use switchyard_core::connection::{CloseInfo, DataKind, Initiator, Message, Role, Utf8Bytes};
pub use switchyard_core::handshake::{HandshakeError, OriginPolicy, Request};
pub use switchyard_core::{CloseCode, Limits, ProtocolError};
