//! WebSocket over HTTP/2 (RFC 8441; the `http2` feature), both roles.
//!
//! Client: [`Http2Connection`] opens an HTTP/2 connection and WebSockets on it, several at
//! once; `ClientOptions::with_http2` (with `tls`) makes
//! [`connect_with`](crate::connect_with) prefer HTTP/2 for `wss://`, falling back to HTTP/1.1.
//!
//! Server: the application owns the HTTP/2 connection (built with
//! `h2::server::Builder::enable_connect_protocol`, which advertises
//! SETTINGS_ENABLE_CONNECT_PROTOCOL, §3) and hands each request for a WebSocket route to
//! [`accept`]. The core judges the pseudo-header fields (§4) and negotiates on the header
//! fields exactly as over HTTP/1.1; the answer is a 200 with the agreed subprotocol, with no
//! `Sec-WebSocket-Accept` since there is no key (§5). The connection then reads and writes
//! RFC 6455 frames on the stream ([`H2Stream`]), the client's still masked. h2 drives the
//! connection from `Connection::accept`: keep calling it, and run each WebSocket in a task of
//! its own (`tests/http2.rs` shows the loop).
//!
//! Give that connection a receive window of several streams' windows
//! (`initial_connection_window_size`), as [`Http2Connection`] does for the client's side. h2's
//! default is one stream's window for the whole connection: a WebSocket whose task stops
//! reading then stops every other WebSocket on the connection, and h2 ends the connection
//! (ENHANCE_YOUR_CALM) once about 130 small frames wait unread on it, since its budget for
//! those is half the connection window.

#[cfg(feature = "server")]
mod accept;
#[cfg(feature = "client")]
pub(crate) mod client;
mod stream;

#[cfg(feature = "server")]
pub use accept::{accept, accept_wrapped, pseudo_headers, refuse};
#[cfg(feature = "client")]
pub use client::Http2Connection;
pub use stream::H2Stream;
pub use switchyard_core::handshake::h2::PROTOCOL;
