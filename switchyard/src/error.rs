//! The shell's errors, one type per phase: the opening handshake ([`ConnectError`] for the
//! client, [`AcceptError`] for the server) and the connection after it ([`Error`]), so the
//! application never matches a variant that cannot happen where it stands.

use std::{fmt, io};

use switchyard_core::ProtocolError;
use switchyard_core::connection::SendError;
#[cfg(feature = "client")]
use switchyard_core::handshake::ClientHandshakeError;
#[cfg(feature = "server")]
use switchyard_core::handshake::{HandshakeError, StatusCode, WriteError};

#[cfg(feature = "client")]
use crate::Response;
#[cfg(feature = "client")]
use switchyard_core::url::UrlError;

/// Why an open connection failed: what [`recv`](crate::WebSocket::recv),
/// [`send`](crate::WebSocket::send) and the other connection methods return.
///
/// The peer's misbehaviour ([`Protocol`](Error::Protocol)), the application's
/// ([`Send`](Error::Send)), the transport's ([`Io`](Error::Io)) and the ways a connection
/// ends without a closing handshake are separate variants.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    Io(io::Error),
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
            Error::Protocol(e) => Some(e),
            Error::Send(e) => Some(e),
            Error::KeepaliveTimeout | Error::AbnormalClosure => None,
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

/// Why the client's opening handshake failed: what [`connect`](crate::connect) and
/// [`client_handshake`](crate::client_handshake) return.
#[cfg(feature = "client")]
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL cannot be used.
    Url(UrlError),
    /// A `wss://` URL: this build has no TLS support (the `tls` feature is off).
    TlsNotBuilt,
    /// The TLS handshake of a `wss://` connection failed, or its roots could not be loaded.
    #[cfg(feature = "tls")]
    Tls(crate::TlsError),
    /// HTTP/2 was asked for, but the server picked HTTP/1.1 by ALPN, or does not advertise
    /// extended CONNECT (RFC 8441 §3), so no WebSocket can open over HTTP/2 there.
    #[cfg(feature = "http2")]
    Http2NotNegotiated,
    /// The server could not be reached: name resolution or the TCP connect failed.
    Connect(io::Error),
    /// The proxy could not be reached, or did not open the tunnel (the `proxy` feature).
    #[cfg(feature = "proxy")]
    Proxy(crate::proxy::ProxyError),
    /// The transport failed during the handshake, or ended before the answer was complete
    /// ([`io::ErrorKind::UnexpectedEof`]), or the OS random source failed.
    Io(io::Error),
    /// The server answered with a status other than 101 (RFC 6455 §4.1: the handshake
    /// failed). Its status and header fields are here, and the start of its body as far as
    /// it came with the head ([`Response::body_start`]); nothing more of it is read.
    Refused(Box<Response>),
    /// The request could not be built from the options, or the server's 101 answer failed
    /// validation (RFC 6455 §4.1).
    Handshake(ClientHandshakeError),
    /// The handshake (connect included) did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Timeout,
}

#[cfg(feature = "client")]
impl ConnectError {
    /// The HTTP status the server refused the handshake with, if it answered one.
    pub fn status(&self) -> Option<switchyard_core::handshake::StatusCode> {
        match self {
            ConnectError::Refused(response) => Some(response.status()),
            _ => None,
        }
    }
}

#[cfg(feature = "client")]
impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Url(e) => write!(f, "invalid URL: {e}"),
            ConnectError::TlsNotBuilt => {
                f.write_str("wss:// needs TLS support, which this build of switchyard lacks")
            }
            #[cfg(feature = "tls")]
            ConnectError::Tls(e) => write!(f, "{e}"),
            #[cfg(feature = "http2")]
            ConnectError::Http2NotNegotiated => {
                f.write_str("the server offers no WebSocket over HTTP/2 (RFC 8441)")
            }
            ConnectError::Connect(e) => write!(f, "cannot reach the server: {e}"),
            #[cfg(feature = "proxy")]
            ConnectError::Proxy(e) => write!(f, "{e}"),
            ConnectError::Io(e) => write!(f, "I/O error during the handshake: {e}"),
            ConnectError::Refused(response) => {
                write!(
                    f,
                    "server refused the handshake: HTTP {}",
                    response.status()
                )
            }
            ConnectError::Handshake(e) => write!(f, "handshake failed: {e}"),
            ConnectError::Timeout => f.write_str("opening handshake timed out"),
        }
    }
}

#[cfg(feature = "client")]
impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Url(e) => Some(e),
            ConnectError::Connect(e) | ConnectError::Io(e) => Some(e),
            ConnectError::Handshake(e) => Some(e),
            #[cfg(feature = "proxy")]
            ConnectError::Proxy(e) => Some(e),
            #[cfg(feature = "tls")]
            ConnectError::Tls(e) => Some(e),
            ConnectError::TlsNotBuilt | ConnectError::Refused(_) | ConnectError::Timeout => None,
            #[cfg(feature = "http2")]
            ConnectError::Http2NotNegotiated => None,
        }
    }
}

#[cfg(feature = "client")]
impl From<io::Error> for ConnectError {
    fn from(e: io::Error) -> Self {
        ConnectError::Io(e)
    }
}

/// Why the server's opening handshake failed: what [`accept`](crate::accept) and
/// [`PendingUpgrade`](crate::PendingUpgrade) return.
#[cfg(feature = "server")]
#[derive(Debug)]
#[non_exhaustive]
pub enum AcceptError {
    /// The transport failed, or ended before the request head was complete
    /// ([`io::ErrorKind::UnexpectedEof`]).
    Io(io::Error),
    /// The request was refused with [`HandshakeError::status`] (by the core's validation or
    /// the application's decision), and that response was written.
    Refused(HandshakeError),
    /// The application's answer could not be written (a subprotocol the client did not
    /// offer, or an unsafe extra header). Nothing was sent.
    Answer(WriteError),
    /// The handshake did not finish within
    /// [`Config::handshake_timeout`](crate::Config::handshake_timeout).
    Timeout,
    /// An HTTP/2 request that is not a WebSocket (RFC 8441): it was answered with
    /// [`H2ConnectError::status`](switchyard_core::handshake::h2::H2ConnectError::status),
    /// or reset with PROTOCOL_ERROR if that is `None`.
    #[cfg(feature = "http2")]
    Http2(switchyard_core::handshake::h2::H2ConnectError),
}

#[cfg(feature = "server")]
impl AcceptError {
    /// The HTTP status the request was refused with, if it was.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            AcceptError::Refused(e) => Some(e.status()),
            #[cfg(feature = "http2")]
            AcceptError::Http2(e) => e.status(),
            _ => None,
        }
    }
}

#[cfg(feature = "server")]
impl fmt::Display for AcceptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AcceptError::Io(e) => write!(f, "I/O error during the handshake: {e}"),
            AcceptError::Refused(e) => {
                write!(f, "handshake refused with HTTP {}: {e}", e.status())
            }
            AcceptError::Answer(e) => write!(f, "cannot answer the handshake: {e}"),
            AcceptError::Timeout => f.write_str("opening handshake timed out"),
            #[cfg(feature = "http2")]
            AcceptError::Http2(e) => write!(f, "not a WebSocket over HTTP/2: {e}"),
        }
    }
}

#[cfg(feature = "server")]
impl std::error::Error for AcceptError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AcceptError::Io(e) => Some(e),
            AcceptError::Refused(e) => Some(e),
            AcceptError::Answer(e) => Some(e),
            #[cfg(feature = "http2")]
            AcceptError::Http2(e) => Some(e),
            AcceptError::Timeout => None,
        }
    }
}

#[cfg(feature = "server")]
impl From<io::Error> for AcceptError {
    fn from(e: io::Error) -> Self {
        AcceptError::Io(e)
    }
}
