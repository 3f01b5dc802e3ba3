//! The opening handshake (RFC 6455 §4), in layers that never reach up:
//!
//! | layer | module | what |
//! |---|---|---|
//! | accept key (§1.3) | [`accept`] | `Sec-WebSocket-Key` → `Sec-WebSocket-Accept`, the key's nonce |
//! | negotiation (§4.2.1 items 8–10, §9.1) | [`negotiate`], [`extension`], [`origin`] | version, Origin policy, subprotocol, extensions: transport-neutral |
//! | HTTP/1.1 encoding, server (§4.2) | [`server`] | parse the GET once, the 101 answer |
//! | HTTP/1.1 encoding, client (§4.1) | [`client`] | write the GET, check the 101 |
//! | HTTP/2 extended CONNECT, server (RFC 8441 §4–§5) | [`h2`] | `:protocol websocket`, the pseudo-headers, then the same negotiation |
//! | refusals | [`HandshakeError`], [`http::StatusCode`] | each with its HTTP status and response |
//!
//! WebSocket over HTTP/2 (RFC 8441, extended CONNECT) reuses the negotiation: its shell feeds
//! the request's fields into an [`OfferFields`] and answers with the same [`Agreement`].
//!
//! Nothing here allocates but the `*_to_vec` conveniences (feature `alloc`): requests and
//! responses are parsed from the caller's buffer with `httparse` into a fixed number of header
//! slots, and written into the caller's buffer. Bytes after the head belong to the frame
//! layer: each parser reports the head's length.

pub mod accept;
mod base64;
pub mod client;
mod error;
pub mod extension;
mod fields;
pub mod h2;
mod head;
pub mod http;
pub mod negotiate;
pub mod origin;
pub mod server;

pub use accept::{AcceptKey, GUID, WebSocketKey};
pub use client::{ClientHandshake, ClientRequest, Response};
pub use error::{ClientHandshakeError, HandshakeError, WriteError};
pub use extension::{
    ExtensionNegotiator, ExtensionOffer, ExtensionOffers, MalformedExtension, NoExtensions,
};
pub use fields::head_fields;
pub use http::StatusCode;
pub use negotiate::{Agreement, Offer, OfferFields};
pub use origin::OriginPolicy;
pub use server::{Request, RequestHead, RequestIndex, RequestParser};

/// Header slots the parsers reserve on the stack; [`Limits::max_headers`](crate::Limits) is
/// capped at this.
pub const MAX_HEADER_SLOTS: usize = 128;

/// Most `Sec-WebSocket-Protocol` or `Sec-WebSocket-Extensions` field lines one request may
/// carry (each may hold a list). More is refused with 400.
pub const MAX_LIST_FIELDS: usize = 8;
