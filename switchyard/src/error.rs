//! The shell's one error type: what can go wrong around a connection, kept apart by cause.

use std::{fmt, io};

use switchyard_core::ProtocolError;
use switchyard_core::connection::SendError;
use switchyard_core::handshake::{ClientHandshakeError, HandshakeError, WriteError};
use switchyard_core::url::UrlError;

/// Why an operation on a connection failed.
///
/// The peer's misbehaviour ([`Protocol`](Error::Protocol), [`Handshake`](Error::Handshake)),
/// the application's ([`Send`](Error::Send), [`Answer`](Error::Answer)), the transport's
/// ([`Io`](Error::Io)) and time running out are separate variants, each carrying the
/// core's own error where there is one.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or ended in the middle of the opening handshake
    /// ([`io::ErrorKind::UnexpectedEof`]).
    Io(io::Error),
    /// Server side: the request was refused with [`HandshakeError::status`], and that
    /// response was written.
    Handshake(HandshakeError),
    /// Client side: the server's answer failed validation.
    ClientHandshake(ClientHandshakeError),
    /// Server side: the answer could not be written (a subprotocol the client did not offer,
    /// or an unsafe extra header). Nothing was sent.
    Answer(WriteError),
    /// Client side: the URL cannot be used.
    Url(UrlError),
    /// The opening handshake did not finish within the handshake timeout.
    HandshakeTimeout,
    /// The peer broke the protocol. A close frame with the error's code was sent and the
    /// connection is closed.
    Protocol(ProtocolError),
    /// The connection refused an application command: see [`SendError`]. After the closing
    /// handshake begins, every send fails with [`SendError::Closed`].
    Send(SendError),
    /// The peer sent nothing within the keepalive timeout after a ping; the connection was
    /// closed.
    KeepaliveTimeout,
    /// The connection ended without a closing handshake: the transport reached EOF, or the
    /// close timeout ran out (reported as close code 1006, RFC 6455 §7.1.5).
    AbnormalClosure,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "I/O error: {e}"),
            Error::Handshake(e) => write!(f, "handshake refused: {e}"),
            Error::ClientHandshake(e) => write!(f, "handshake failed: {e}"),
            Error::Answer(e) => write!(f, "cannot answer the handshake: {e}"),
            Error::Url(e) => write!(f, "invalid URL: {e}"),
            Error::HandshakeTimeout => f.write_str("opening handshake timed out"),
            Error::Protocol(e) => write!(
                f,
                "peer broke the protocol: {e} (closed with {})",
                e.close_code()
            ),
            Error::Send(e) => write!(f, "cannot send: {e}"),
            Error::KeepaliveTimeout => f.write_str("peer stopped answering pings"),
            Error::AbnormalClosure => f.write_str("connection closed without a closing handshake"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::ClientHandshake(e) => Some(e),
            Error::Answer(e) => Some(e),
            Error::Url(e) => Some(e),
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::HandshakeTimeout | Error::KeepaliveTimeout | Error::AbnormalClosure => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(e)
    }
}

impl From<SendError> for Error {
    fn from(e: SendError) -> Self {
        Error::Send(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Error::Url(e)
    }
}
