//! What a connection delivers: messages, control payloads, and the close.

use alloc::string::String;
use bytes::Bytes;
use core::fmt;

use crate::close::CloseCode;
use crate::frame::ProtocolError;

/// Bytes known to be UTF-8: a text message's payload, shared without copying.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has just validated. Crate-private so the invariant holds.
    pub(crate) fn from_validated(bytes: Bytes) -> Utf8Bytes {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// A static string, without copying.
    pub const fn from_static(text: &'static str) -> Utf8Bytes {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The text.
    ///
    /// The core keeps `unsafe` to one call (masking's wide path), so this re-checks the bytes
    /// (with SIMD, gigabytes per second) instead of trusting them unchecked. The check cannot fail, as only validated
    /// bytes are ever wrapped; if it ever did, that is a bug to hear about, not to hide.
    pub fn as_str(&self) -> &str {
        crate::utf8::str_of(&self.0).expect("Utf8Bytes holds only validated UTF-8")
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying buffer, for zero-copy forwarding.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Utf8Bytes {
    fn from(text: String) -> Self {
        Utf8Bytes(Bytes::from(text.into_bytes()))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A complete data message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message, validated as UTF-8.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(text) => text.as_bytes(),
            Message::Binary(bytes) => bytes,
        }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.as_bytes().is_empty()
    }
}

/// Who ended the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// We sent the first close frame (by request, or failing the connection).
    Local,
    /// The peer sent the first close frame.
    Peer,
    /// Neither: the transport ended (EOF) or was aborted first.
    Transport,
}

/// Why a connection was given up without finishing its closing handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum AbortReason {
    /// The caller asked ([`Connection::abort`](super::Connection::abort)): the transport
    /// failed, or the application would not wait.
    Requested,
    /// The peer sent nothing within the keepalive timeout after our ping.
    KeepaliveTimeout,
    /// The closing handshake did not finish within the close timeout.
    CloseTimeout,
    /// The mask source had no key (§10.3: fail closed).
    MaskUnavailable,
    /// A write to the transport failed
    /// ([`Connection::write_failed`](super::Connection::write_failed)); what had been read
    /// before was delivered first.
    WriteFailed,
}

/// How the connection ended: the last event a connection delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CloseInfo {
    /// The code of the peer's close frame once it arrived (§7.1.5: the first one received);
    /// the code we sent when we failed the connection (or would have, had a write not failed
    /// first: [`AbortReason::WriteFailed`]); [`CloseCode::ABNORMAL`] (1006) when it ended
    /// without either (EOF, an abort).
    pub code: CloseCode,
    /// The close reason.
    pub reason: String,
    /// Who started the closing.
    pub initiator: Initiator,
    /// Whether both close frames were exchanged (§7.1.4 "cleanly").
    pub clean: bool,
    /// The protocol error that failed the connection, if one did.
    pub error: Option<ProtocolError>,
    /// Why the connection was given up, if it was aborted before it ended otherwise.
    pub aborted: Option<AbortReason>,
}

/// An output of the connection for the application.
///
/// `repr(u8)`: a tag byte of its own. Left to the compiler, the variant (and whether an
/// `Option<Event>` holds one) is read out of a niche nested inside the payload's fields, a
/// few instructions more at each of the several times per message it is asked; the tag byte
/// is one compare (16 B echo on the library: 47 instructions fewer, callgrind).
#[derive(Debug, Clone, PartialEq, Eq)]
#[repr(u8)]
pub enum Event {
    /// A complete message.
    Message(Message),
    /// A ping's payload. The core answers it by itself (§5.5.2) while the connection is open:
    /// the pong is queued, or, past `write_buffer_size` of replies, owed as the one pong
    /// that answers the latest ping (§5.5.3); after our close frame, no pong is sent.
    Ping(Bytes),
    /// A pong's payload (solicited or not, §5.5.3).
    Pong(Bytes),
    /// The connection is closed for the application: nothing more will be delivered.
    Closed(CloseInfo),
}

/// Which kind of data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// Text (opcode 0x1).
    Text,
    /// Binary (opcode 0x2).
    Binary,
}
