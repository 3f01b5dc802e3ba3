//! [`WebSocket`]: one connection over any async byte stream, for either role.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use switchyard_core::CloseCode;
use switchyard_core::connection::{CloseInfo, Connection, DataKind, Message, Role};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::driver::{Driver, Incoming};
use crate::masks::OsMasks;
use crate::split::{ReadHalf, WriteHalf};
use crate::wake::Side;
use crate::{Config, Error};

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
/// [`recv`](Self::recv) (or the [`Stream`] impl) yields messages, then `None` once the
/// connection is closed *and* its transport is finished with. A connection that did not end
/// with a clean closing handshake yields one `Err` first: [`Error::Protocol`] if the peer broke
/// the protocol, [`Error::AbnormalClosure`], [`Error::KeepaliveTimeout`] or [`Error::Io`].
/// [`close_info`](Self::close_info) then says how it ended (code, reason, who closed).
///
/// Keep receiving: reading is what makes automatic pongs, the close reply, keepalive pings
/// and timeouts happen.
///
/// `recv` is **cancel-safe**: if its future is dropped before it completes (say, by a losing
/// `tokio::select!` branch), no data is lost; the next call returns the next message.
///
/// # Sending
///
/// [`send`](Self::send) waits while more than [`Config::with_write_buffer_size`] bytes are queued,
/// queues the message, and returns once it is written to the transport. The [`Sink`] impl
/// batches: `feed` only waits for room, `flush` writes.
pub struct WebSocket<S> {
    pub(crate) driver: Driver<S>,
}

impl<S> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket")
            .field("conn", &self.driver.conn)
            .field("protocol", &self.driver.protocol)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake was done elsewhere (by an HTTP framework that
    /// answered the upgrade). `leftover` are the bytes it read past the handshake head: the
    /// peer's first frames. A client masks its frames with keys from the OS RNG.
    pub fn from_upgraded(io: S, role: Role, leftover: &[u8], config: &Config) -> WebSocket<S> {
        let conn = match role {
            Role::Server => Connection::server(config.limits),
            Role::Client => Connection::client(config.limits, OsMasks::new()),
        };
        WebSocket::from_parts(io, conn, leftover, None)
    }

    pub(crate) fn from_parts(
        io: S,
        conn: Connection,
        leftover: &[u8],
        protocol: Option<Box<str>>,
    ) -> WebSocket<S> {
        WebSocket {
            driver: Driver::new(io, conn, leftover, protocol),
        }
    }

    /// The next message. `None` once closed; see the [type docs](Self) for the ending.
    /// Cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| poll_message(&mut self.driver, cx, Side::Read)).await
    }

    /// The next message, ping or pong, for applications that watch control frames (pongs are
    /// answered by the core whether or not anyone watches). Cancel-safe.
    pub async fn recv_event(&mut self) -> Option<Result<Incoming, Error>> {
        poll_fn(|cx| self.driver.poll_incoming(cx, Side::Read)).await
    }

    /// Sends a message: waits for room in the write buffer, queues it, and returns once it is
    /// written. If cancelled, the message was either not queued or goes out whole later.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.write_with(|driver| driver.start_send(&message)).await
    }

    /// Sends a text message.
    pub async fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_text(text)?))
            .await
    }

    /// Sends a binary message.
    pub async fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_binary(data)?))
            .await
    }

    /// Sends one fragment of a message (RFC 6455 §5.4); `fin` ends it. The core checks the
    /// sequence (one message at a time, text fragments valid UTF-8 together).
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_fragment(kind, data, fin)?))
            .await
    }

    /// Sends a ping (at most 125 bytes of payload).
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_ping(payload)?))
            .await
    }

    /// Sends an unsolicited pong (at most 125 bytes), e.g. as a one-way heartbeat.
    pub async fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_pong(payload)?))
            .await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_flush(cx, Side::Write)).await
    }

    /// Performs the closing handshake: sends a close frame with `code` and `reason` (cut to
    /// 123 bytes), then reads until the peer's close frame and the end of the transport,
    /// within the close timeout. Messages that arrive meanwhile are discarded. Returns how
    /// the connection ended, also if it had already closed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<CloseInfo, Error> {
        self.driver.start_close(code, reason)?;
        while self.recv_event().await.is_some() {}
        self.driver
            .close_info()
            .cloned()
            .ok_or(Error::AbnormalClosure)
    }

    /// Splits into a read half and a write half that can be used from different tasks at the
    /// same time. No lock is held across an await. The read half still sends the automatic
    /// pongs and the close reply; keep reading it.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        crate::split::split(self.driver)
    }

    async fn write_with(
        &mut self,
        queue: impl FnOnce(&mut Driver<S>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        poll_fn(|cx| self.driver.poll_ready(cx, Side::Write)).await?;
        queue(&mut self.driver)?;
        poll_fn(|cx| self.driver.poll_flush(cx, Side::Write)).await
    }
}

impl<S> WebSocket<S> {
    /// Which end this is.
    pub fn role(&self) -> Role {
        self.driver.conn.role()
    }

    /// The subprotocol agreed in the handshake, if any.
    pub fn protocol(&self) -> Option<&str> {
        self.driver.protocol.as_deref()
    }

    /// Whether messages may still be sent (no close frame sent or received, no failure).
    pub fn is_open(&self) -> bool {
        self.driver.conn.is_open()
    }

    /// Bytes queued and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.driver.conn.buffered_amount()
    }

    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<&CloseInfo> {
        self.driver.close_info()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.driver.io
    }

    /// The underlying stream. Reading or writing it directly corrupts the connection.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.driver.io
    }
}

/// Polls for the next data message, passing over pings and pongs.
pub(crate) fn poll_message<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    cx: &mut Context<'_>,
    side: Side,
) -> Poll<Option<Result<Message, Error>>> {
    loop {
        match driver.poll_incoming(cx, side) {
            Poll::Ready(Some(Ok(Incoming::Message(m)))) => return Poll::Ready(Some(Ok(m))),
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for WebSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_message(&mut self.get_mut().driver, cx, Side::Read)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for WebSocket<S> {
    fn is_terminated(&self) -> bool {
        self.driver.is_ended()
    }
}

/// `feed` waits for room in the write buffer and queues; `flush` writes; `close` sends a
/// 1000 close frame (if none was sent) and flushes it. Keep receiving to finish the closing
/// handshake.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WebSocket<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_ready(cx, Side::Write)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().driver.start_send(&item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().driver.poll_flush(cx, Side::Write)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let driver = &mut self.get_mut().driver;
        driver.start_close(CloseCode::NORMAL, "")?;
        driver.poll_flush(cx, Side::Write)
    }
}
