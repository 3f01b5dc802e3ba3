//! [`WebSocket`]: one connection over any async byte stream, for either role.

use std::fmt;

use switchyard_core::connection::{Connection, Role};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::Config;
use crate::driver::Driver;
use crate::masks::OsMasks;
use crate::surface::{Handle, receive_methods, send_methods, state_methods};
use crate::traffic::Traffic;

/// A WebSocket connection over a byte stream `S` (a `TcpStream`, a TLS stream, an in-memory
/// duplex...), after its opening handshake.
///
/// Get one from [`accept`](crate::accept), [`connect`](crate::connect),
/// [`client_handshake`](crate::client_handshake), or [`from_upgraded`](Self::from_upgraded)
/// when another HTTP layer did the handshake. The protocol itself (message assembly, limits,
/// automatic pongs, the close reply) is the core's; this type moves bytes and runs timers.
///
/// # Receiving
///
/// [`recv`](Self::recv) (or the [`Stream`](futures_core::Stream) impl) yields messages, then
/// `None` once the connection is closed *and* its transport is finished with. A connection
/// that did not end with a clean closing handshake yields one `Err` first:
/// [`Error::Protocol`](crate::Error::Protocol) if the peer broke the protocol,
/// [`Error::AbnormalClosure`](crate::Error::AbnormalClosure),
/// [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout) or
/// [`Error::Io`](crate::Error::Io). [`close_info`](Self::close_info) then says how it ended
/// (code, reason, who closed).
///
/// Keep receiving: reading is what makes automatic pongs, the close reply, keepalive pings
/// and timeouts happen.
///
/// `recv` is **cancel-safe**: if its future is dropped before it completes (say, by a losing
/// `tokio::select!` branch), no data is lost; the next call returns the next message.
///
/// # Sending
///
/// [`send`](Self::send) waits while more than [`Limits::write_buffer_size`](crate::Limits::write_buffer_size) bytes are queued,
/// queues the message, and returns once it is written to the transport. The
/// [`Sink`](futures_sink::Sink) impl batches: `feed` only waits for room, `flush` writes.
///
/// # Closing
///
/// [`close`](Self::close) sends the close frame; [`closed`](Self::closed) reads until the
/// peer's close frame and the end of the transport, and returns how the connection ended.
///
/// The same methods, with the same signatures, exist on the halves from
/// [`split`](Self::split): receiving on [`ReadHalf`](crate::ReadHalf), sending on
/// [`WriteHalf`](crate::WriteHalf).
pub struct WebSocket<S> {
    pub(crate) driver: Driver<S>,
}

impl<S> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", self.driver.conn())
            .field("protocol", &self.driver.protocol)
            .finish_non_exhaustive()
    }
}

impl<S> Handle<S> for WebSocket<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
        f(&mut self.driver)
    }

    fn peek<R>(&self, f: impl FnOnce(&Driver<S>) -> R) -> R {
        f(&self.driver)
    }

    fn protocol(&self) -> Option<&str> {
        self.driver.protocol.as_deref()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake was done elsewhere (by an HTTP framework that
    /// answered the upgrade). `leftover` are the bytes it read past the handshake head: the
    /// peer's first frames. A client masks its frames with keys from the OS RNG.
    pub fn from_upgraded(io: S, role: Role, leftover: &[u8], config: &Config) -> WebSocket<S> {
        let conn = Box::new(match role {
            Role::Server => Connection::server(config.limits),
            Role::Client => Connection::client(config.limits, OsMasks::new()),
        });
        WebSocket::from_parts(io, conn, leftover, None, Traffic::default())
    }

    /// `handshake`: the bytes the opening handshake moved, where this library did it.
    pub(crate) fn from_parts(
        io: S,
        conn: Box<Connection>,
        leftover: &[u8],
        protocol: Option<Box<str>>,
        handshake: Traffic,
    ) -> WebSocket<S> {
        WebSocket {
            driver: Driver::new(io, conn, leftover, protocol, handshake),
        }
    }
}

impl<S> WebSocket<S> {
    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.driver.io
    }

    /// The underlying stream. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.io
    }
}

receive_methods!(WebSocket);
send_methods!(WebSocket);
state_methods!(WebSocket);
