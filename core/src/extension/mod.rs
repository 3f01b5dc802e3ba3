//! The per-message extension stage (RFC 6455 §9): on receive it sits between frame decoding
//! and UTF-8 validation, on send between the application and frame encoding.
//!
//! A negotiated extension (permessage-deflate, RFC 7692, is the one in view) claims RSV bits.
//! A message whose first frame sets any of them goes through the extension; one that sets
//! none is the identity path, decoded in place with no extra copy. RSV bits no extension
//! claimed, or set on a continuation or control frame, fail the connection with 1002
//! (§5.2), checked by the connection before any payload is read.

use bytes::BytesMut;
use core::fmt;
use core::time::Duration;

/// What an extension failed with. Each maps to the close code the connection fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The peer's data does not decode (e.g. corrupt compressed data). 1007.
    InvalidData,
    /// The decoded message would pass the limit the connection gave. 1009.
    TooLarge,
    /// The extension itself failed (an engine could not be set up): not the peer's fault.
    /// 1011.
    Failed,
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::InvalidData => f.write_str("extension data does not decode"),
            ExtensionError::TooLarge => f.write_str("decoded message over the limit"),
            ExtensionError::Failed => f.write_str("extension failed"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ExtensionError {}

/// A per-message extension negotiated in the handshake, installed with
/// [`Connection::with_extension`](crate::connection::Connection::with_extension).
pub trait Extension: Send {
    /// The RSV bits this extension claims, in the header's three-bit form (`0b100` is RSV1).
    fn rsv_bits(&self) -> u8;

    /// Decodes the next piece of a received message's payload (unmasked, in order) and
    /// appends the result to `out`, which holds the message decoded so far.
    ///
    /// `rsv` is the message's first frame's RSV bits (the extension's own, at least one set).
    /// Each piece arrives with `fin` false; once the message's last frame has ended, one more
    /// call brings an empty piece with `fin` true. `out` must never pass `limit` bytes in
    /// total: stop and return [`ExtensionError::TooLarge`] before allocating past it, which
    /// is what bounds a decompression bomb.
    fn decode(
        &mut self,
        rsv: u8,
        piece: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError>;

    /// Encodes a whole message's payload to send, appending the result to `out`, and returns
    /// the RSV bits for its frame. Zero bits send `payload` as it is (`out` is then ignored):
    /// the extension passed on this message.
    fn encode(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<u8, ExtensionError>;

    /// Encodes one piece of a message sent in fragments (RFC 6455 §5.4), appending it to
    /// `out`; `fin` marks the last. The first piece's returned bits decide for the whole
    /// message (§5.2: they go on its first frame only): zero sends every piece as it is,
    /// and later pieces are then not passed here. By default messages sent in pieces pass
    /// through unencoded.
    fn encode_fragment(
        &mut self,
        piece: &[u8],
        first: bool,
        fin: bool,
        out: &mut BytesMut,
    ) -> Result<u8, ExtensionError> {
        let _ = (piece, first, fin, out);
        Ok(0)
    }

    /// While the extension holds memory it can rebuild (compression engines), how long the
    /// connection may stay without a message through it before calling
    /// [`release`](Self::release). The connection keeps that time itself, from the instants
    /// its caller gives it.
    fn idle_release(&self) -> Option<Duration> {
        None
    }

    /// Frees what [`idle_release`](Self::idle_release) announced; it is rebuilt, unchanged in
    /// effect, when the next message needs it.
    fn release(&mut self) {}
}
