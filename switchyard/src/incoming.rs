//! [`Incoming`]: what [`recv_event`](crate::WebSocket::recv_event) delivers.

use bytes::Bytes;
use switchyard_core::connection::Message;

/// What a connection delivers to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Incoming {
    /// A complete message.
    Message(Message),
    /// A ping's payload. The pong has already been queued by the core (RFC 6455 §5.5.2).
    Ping(Bytes),
    /// A pong's payload (an answer to our ping, or unsolicited, §5.5.3).
    Pong(Bytes),
}
