//! The opening handshake (RFC 6455 §4): the accept key, the server side (parse and validate a
//! request, answer it) and the client side (build a request, validate the answer).
//!
//! Nothing here allocates: requests and responses are parsed from the caller's buffer with
//! `httparse` into a fixed number of header slots, and written into the caller's buffer.
//! Bytes after the head belong to the frame layer: each parser reports the head's length.

pub mod accept;
pub mod client;
mod fields;
mod head;
pub mod http;
pub mod origin;
pub mod server;

pub use accept::{AcceptKey, GUID, WebSocketKey};
pub use client::{ClientConfig, ClientHandshake, ClientHandshakeError, Response};
pub use http::StatusCode;
pub use origin::OriginPolicy;
pub use server::{HandshakeError, Request, RequestParser, WriteError};

/// Header slots the parsers reserve on the stack; [`Limits::max_headers`](crate::Limits) is
/// capped at this.
pub const MAX_HEADER_SLOTS: usize = 128;

/// Most `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions` field lines one request may
/// carry (each may hold a list). More is refused with 400.
pub const MAX_LIST_FIELDS: usize = 8;
