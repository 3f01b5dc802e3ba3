//! # switchyard
//!
//! The Tokio shell around [`switchyard_core`], for both roles. The shell only moves bytes and
//! events: message assembly, automatic pongs, the close rules, limits and the handshake itself
//! are the core's, written once and shared with the wasm bindings.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard::{CloseCode, Message, accept, connect};
//!
//! // Server: accept on a TCP stream (same-origin browsers only, by default), echo until the
//! // peer closes.
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let (tcp, _) = listener.accept().await?;
//! let (mut ws, request) = accept(tcp).await?;
//! println!("upgraded {} (query {:?})", request.path(), request.query());
//! while let Some(message) = ws.recv().await {
//!     ws.send(message?).await?;
//! }
//!
//! // Client: the connection, and the server's handshake response.
//! let (mut ws, response) = connect("ws://127.0.0.1:8080/echo").await?;
//! println!("cookies: {:?}", response.headers().get_all("set-cookie").count());
//! ws.send(Message::Text("hello".into())).await?;
//! let reply = ws.recv().await;
//! ws.close(CloseCode::NORMAL, "done").await?;
//! let ending = ws.closed().await?;
//! # Ok(()) }
//! ```
//!
//! ## Errors, by phase
//!
//! The opening handshake fails with [`ConnectError`] (client: URL, DNS/TCP, refusal with the
//! server's [`Response`], timeout) or [`AcceptError`] (server: I/O, the refusal's status,
//! timeout); once open, a connection fails only with [`Error`].
//!
//! ## What it does around the core
//!
//! - **Handshakes** ([`accept`], [`accept_with`], [`PendingUpgrade`], [`connect`],
//!   [`client_handshake`]): read and write the bytes the core parses and produces, under
//!   [`Config::handshake_timeout`]; the client's nonce and masking keys come from the OS RNG.
//!   The application gets the [`Request`] it accepted or the [`Response`] it was given.
//! - **A connection** ([`WebSocket`]): async `recv`/`send`/`close`/`closed`, plus `futures`
//!   [`Stream`](futures_core::Stream) and [`Sink`](futures_sink::Sink), and `poll_send` for
//!   code that polls by hand. `recv` is cancel-safe.
//! - **Two tasks** ([`WebSocket::split`]): a read half and a write half with the same methods
//!   as the connection (receiving on one, sending on the other), no lock held across an
//!   await; the read half sends the automatic pongs and the close reply itself.
//! - **Time**: keepalive pings and their timeout, the close timeout.
//! - **Backpressure**: at most [`Config::with_write_buffer_size`] bytes queued (plus the message
//!   being queued); `send` waits beyond it, and reading pauses if the core's own replies
//!   (pongs) back up that far. Queued frames go out in one write per batch; a message that
//!   `send` or `poll_send` takes when nothing waits ahead of it skips the queue and goes out
//!   at once, in one write (a server's payload uncopied, in a vectored write with its header).
//!
//! - **TCP** (Unix: [`net::Listener`], [`net::Socket`]): optional; [`accept`] takes any
//!   stream. These make their system calls directly (rustix): on Linux with glibc, a process
//!   of more than one thread otherwise pays for the C library's cancellation points around
//!   each `recv` and `send`, about 90 instructions of a 2,200-instruction echo.
//!
//! Timers need a Tokio runtime with time enabled.
//!
//! ## Features
//!
//! `client` ([`connect`], [`client_handshake`]) and `server` ([`accept`], [`PendingUpgrade`])
//! are on by default; either builds alone.
//!
//! `tls` (implies `client`) opens `wss://` URLs in [`connect`] with rustls and the ring
//! provider, checking the server's certificate against the platform's roots or
//! `ClientOptions::tls_roots`; `webpki-roots` adds `TlsRoots::WebPki`. A server needs no
//! feature for TLS: [`accept`] takes any stream, a `tokio_rustls` server stream included
//! (`examples/tls_server.rs`).
//!
//! `http2` adds WebSocket over HTTP/2 (RFC 8441), both roles: `http2::accept` on an
//! extended CONNECT stream of an `h2` server connection; `http2::Http2Connection` for
//! several WebSockets on one client connection, and, with `tls`,
//! `ClientOptions::with_http2` to prefer HTTP/2 for `wss://` in [`connect_with`].
//!
//! `deflate` adds permessage-deflate (RFC 7692), configured with `Config::with_deflate`.
//!
//! `hub` adds [`hub`], a publish/subscribe hub with rooms on an in-process backend, and
//! `redis` its Redis backend for several nodes.
//!
//! `proxy` (implies `client`) lets [`connect_with`] go through an HTTP CONNECT or SOCKS5
//! proxy (`ClientOptions::with_proxy`), or the one the environment names
//! (`proxy::Proxy::from_env`); TLS to a `wss://` server runs inside the tunnel.
#![deny(unsafe_code)]

#[cfg(feature = "server")]
mod accept;
#[cfg(feature = "client")]
mod client_stream;
mod config;
#[cfg(feature = "client")]
mod connect;
mod driver;
mod error;
#[cfg(any(feature = "client", feature = "server"))]
mod extensions;
mod headers;
#[cfg(feature = "http2")]
pub mod http2;
#[cfg(feature = "hub")]
pub mod hub;
mod incoming;
mod masks;
#[cfg(unix)]
pub mod net;
#[cfg(feature = "proxy")]
pub mod proxy;
#[cfg(feature = "server")]
mod request;
#[cfg(feature = "client")]
mod response;
mod split;
mod surface;
mod timer;
#[cfg(feature = "tls")]
mod tls;
mod traffic;
mod wake;
mod websocket;

#[cfg(feature = "server")]
pub use accept::{Answer, PendingUpgrade, accept, accept_with, accept_with_config};
#[cfg(feature = "client")]
pub use client_stream::ClientStream;
pub use config::Config;
#[cfg(feature = "client")]
pub use connect::{ClientOptions, client_handshake, connect, connect_with};
#[cfg(feature = "server")]
pub use error::AcceptError;
#[cfg(feature = "client")]
pub use error::ConnectError;
pub use error::Error;
pub use headers::Headers;
pub use incoming::Incoming;
#[cfg(feature = "server")]
pub use request::Request;
#[cfg(feature = "client")]
pub use response::Response;
/// The rustls this build uses (the `tls` feature), for a [`TlsRoots::Config`] of one's own.
#[cfg(feature = "tls")]
pub use rustls;
pub use split::{ReadHalf, ReuniteError, WriteHalf};
#[cfg(feature = "tls")]
pub use tls::{TlsError, TlsRoots};
pub use traffic::Traffic;
pub use websocket::WebSocket;

pub use bytes::Bytes;
pub use switchyard_core;
pub use switchyard_core::connection::{CloseInfo, DataKind, Initiator, Message, Role, Utf8Bytes};
#[cfg(feature = "deflate")]
pub use switchyard_core::deflate::DeflateConfig;
pub use switchyard_core::handshake::{HandshakeError, OriginPolicy, StatusCode};
#[cfg(feature = "client")]
pub use switchyard_core::url::UrlError;
pub use switchyard_core::{CloseCode, Limits, ProtocolError};

/// The README's example, compiled by `cargo test --doc` so it cannot go stale.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExample;
