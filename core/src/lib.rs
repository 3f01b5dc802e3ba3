//! # switchyard-core
//!
//! The whole WebSocket protocol (RFC 6455), written once, with no I/O: bytes in, events out,
//! bytes to write out. The Tokio shell (`switchyard`), the wasm bindings and the tests all
//! drive the same code.
//!
//! ## Layers
//!
//! Each layer is pure and testable alone; a layer never reaches up.
//!
//! | layer | module | needs `alloc` |
//! |---|---|---|
//! | WebSocket URIs (§3) | [`url`] | no |
//! | accept key (§1.3, §4.2.2) | [`handshake::accept`] | no |
//! | handshake negotiation: version, origin, subprotocol, extensions (§4.2.1, §9.1) | [`handshake::negotiate`] | no |
//! | HTTP/1.1 server handshake: parse once, respond (§4.2) | [`handshake::server`] | no |
//! | HTTP/1.1 client handshake: request, validate the response (§4.1) | [`handshake::client`] | no |
//! | frame header codec (§5.2) | [`frame`] | no |
//! | incremental raw-frame splitter (§5.2) | [`frame::split`] | no |
//! | masking (§5.3) | [`frame::mask`] | no |
//! | incremental UTF-8 validation (§8.1) | [`utf8`] | no |
//! | close codes and close payloads (§5.5.1, §7.4) | [`close`] | no |
//! | permessage-deflate negotiation (RFC 7692 §5, §7) | [`deflate`] | no |
//! | the per-message extension stage (§9); permessage-deflate's codec (RFC 7692 §6, §7.2) | [`extension`], `deflate::DeflateCodec` | yes; the codec needs feature `deflate` |
//! | the connection state machine (§5.4, §5.5, §7) | [`connection`] | yes |
//!
//! ## Driving a connection
//!
//! After the handshake, a [`connection::Connection`] takes network input through
//! [`receive_data`](connection::Connection::receive_data) and
//! [`receive_eof`](connection::Connection::receive_eof), application commands through `send_*`,
//! [`close`](connection::Connection::close) and [`fail`](connection::Connection::fail), the
//! time through [`handle_timeout`](connection::Connection::handle_timeout), and the caller
//! drains the outputs: [`poll_event`](connection::Connection::poll_event) (messages, pings,
//! pongs, the close), [`poll_transmit`](connection::Connection::poll_transmit) /
//! [`consume_transmit`](connection::Connection::consume_transmit) (bytes for the socket),
//! [`poll_action`](connection::Connection::poll_action) (half-close, close or abort the
//! transport) and [`poll_timeout`](connection::Connection::poll_timeout) (when to tell it the
//! time next). See the [`connection`] module for the contract.
//!
//! ```
//! use switchyard_core::connection::{Connection, Event, Message};
//! use switchyard_core::handshake::{Agreement, OriginPolicy, RequestParser};
//! use switchyard_core::{Limits, Parsed};
//!
//! // The bytes a client sent: its handshake, then (pipelined) a masked "Hello" (RFC 6455 §5.7).
//! let mut input = b"GET /echo HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\n\r\n".to_vec();
//! input.extend_from_slice(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//!
//! let limits = Limits::default();
//! let Ok(Parsed::Complete(request, head_len)) = RequestParser::new(limits).parse(&input) else {
//!     panic!("a complete, valid request");
//! };
//! request.offer().check_origin(&OriginPolicy::SAME_HOST).unwrap();
//! let mut response = [0u8; 256];
//! let n = request.write_response(&Agreement::NONE, &[], &mut response).unwrap();
//! assert!(response[..n].ends_with(b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"));
//!
//! // Bytes after the head are frames.
//! let mut conn = Connection::server(limits);
//! conn.receive_data(&input[head_len..]).unwrap();
//! while let Some(event) = conn.poll_event() {
//!     if let Event::Message(Message::Text(text)) = event {
//!         conn.send_text(text.as_str()).unwrap(); // echo
//!     }
//! }
//! assert_eq!(conn.poll_transmit(), b"\x81\x05Hello");
//! ```
//!
//! ## Features
//!
//! - `alloc` (default): the [`connection`] module (message assembly needs a buffer).
//! - `std`: `std::error::Error` impls, and runtime CPU detection so UTF-8 validation uses
//!   AVX2/SSE4.2 (through `simdutf8`) and masking AVX2 ([`frame::mask`]) where the processor
//!   has them.
//! - `deflate`: permessage-deflate's codec, on zlib-rs, which allocates through `std::alloc`
//!   (so it links std; the crate's own code stays `no_std`). Negotiation needs no feature.
//! - With neither, the handshake, frame codec, masking, UTF-8 and close layers still work:
//!   nothing there allocates.
//!
//! Time and randomness are inputs: the client's mask keys come from a caller-supplied
//! [`connection::MaskSource`], the handshake nonce is a caller-supplied 16-byte array, and the
//! caller tells the connection the time ([`connection::Instant`]); the connection decides
//! keepalive pings, the pong deadline and the close timeout from it.
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(any(feature = "std", test))]
extern crate std;

pub mod close;
#[cfg(feature = "alloc")]
pub mod connection;
pub mod deflate;
#[cfg(feature = "alloc")]
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod limits;
pub mod url;
pub mod utf8;
mod write;

pub use close::{CloseCode, CloseFrame};
pub use frame::{FrameHeader, OpCode, ProtocolError};
pub use limits::Limits;
pub use write::{BufferTooSmall, FixedText};

/// The result of parsing from a buffer that may not hold the whole item yet.
///
/// "Not enough bytes yet" is not an error: the caller reads more and calls again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Parsed<T> {
    /// The item, and how many bytes of the input it took.
    Complete(T, usize),
    /// The input ends before the item does.
    Partial,
}

impl<T> Parsed<T> {
    /// The parsed item and its length, if complete.
    pub fn complete(self) -> Option<(T, usize)> {
        match self {
            Parsed::Complete(value, len) => Some((value, len)),
            Parsed::Partial => None,
        }
    }
}
