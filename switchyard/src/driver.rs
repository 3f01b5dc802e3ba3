//! The engine under [`WebSocket`](crate::WebSocket) and its halves: moves bytes between the
//! transport and the core, runs the timer, and carries out what the core asks.
//!
//! # Theory of operation
//!
//! Everything is a `poll_*` function over state held here, so every future built on them is
//! cancel-safe: a message leaves the core only in the poll that returns it.
//!
//! Each poll first *drives*: writes what the core queued (our messages, its pongs and close
//! replies), applies the core's actions ([`Action::StartCloseTimer`],
//! [`Action::CloseTransport`]: shut the write side down), and polls the one timer (keepalive
//! pings, the keepalive timeout, the close timeout). Reading then feeds the core, whose events
//! come back out in order; [`Event::Closed`] is kept, not returned, and the read side ends
//! once the transport is finished too: after our shutdown, at the peer's EOF (or the close
//! timeout), so the close reply is never lost to an early drop.
//!
//! Backpressure: while more than `write_buffer_size` bytes wait for the transport, `send`
//! waits. Reading does not wait for the application's own output: both ends may be writing
//! large messages at once (an echo), and pausing reads then would deadlock them. Reading
//! pauses only when the core's automatic replies (pongs to a ping flood) have queued more than
//! `write_buffer_size` bytes since the buffer was last empty, so a peer that pings and never
//! reads cannot make us queue without bound either.
//!
//! Split halves share one `Driver` behind a mutex held only inside a poll; writes and the
//! timer are polled with a [`FanOut`] waker so both halves hear about them.

use std::io;
use std::mem::{self, MaybeUninit};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker, ready};
use std::time::Duration;

use bytes::Bytes;
use switchyard_core::CloseCode;
use switchyard_core::connection::{Action, CloseInfo, Connection, Event, Message, SendError};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::timer::{Due, Timer};
use crate::wake::{FanOut, Side};
use crate::{Config, Error};

/// Bytes read per system call, into a buffer on the stack: the core copies (and unmasks)
/// what it keeps, so an idle connection holds no read buffer at all.
const READ_CHUNK: usize = 16 * 1024;

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

pub(crate) struct Driver<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    timer: Timer,
    write_buffer_size: usize,
    close_timeout: Duration,
    /// The subprotocol agreed in the handshake.
    pub(crate) protocol: Option<Box<str>>,
    /// Set once split.
    pub(crate) fanout: Option<Arc<FanOut>>,
    /// The peer's EOF has been read.
    read_eof: bool,
    /// The core asked to close the transport.
    closing_transport: bool,
    /// Our write side is shut down.
    shut_down: bool,
    /// The close or keepalive timeout ended the connection: do not wait for EOF.
    timed_out: bool,
    /// The transport failed.
    failed: Option<io::ErrorKind>,
    /// The last write returned `Pending`: the next successful one shows the peer reads.
    write_blocked: bool,
    /// Bytes the core queued by itself (pongs) since the write buffer was last empty.
    replies_queued: usize,
    needs_flush: bool,
    /// How the connection ended, once [`Event::Closed`] was seen.
    close_info: Option<CloseInfo>,
    /// The error the read side reports before it ends.
    terminal: Option<Error>,
    /// The read side has ended.
    ended: bool,
}

impl<S> Driver<S> {
    pub(crate) fn close_info(&self) -> Option<&CloseInfo> {
        self.close_info.as_ref()
    }

    /// Whether the read side has ended.
    pub(crate) fn is_ended(&self) -> bool {
        self.ended
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Driver<S> {
    /// Wraps a transport whose opening handshake is done; `leftover` are bytes read past the
    /// handshake head, which are the first frames.
    pub(crate) fn new(
        io: S,
        mut conn: Connection,
        config: &Config,
        leftover: &[u8],
        protocol: Option<Box<str>>,
    ) -> Driver<S> {
        if !leftover.is_empty() {
            // A protocol error here is reported like any other, through `Event::Closed`.
            let _ = conn.receive_data(leftover);
        }
        Driver {
            io,
            conn,
            timer: Timer::new(config),
            write_buffer_size: config.write_buffer_size,
            close_timeout: config.close_timeout,
            protocol,
            fanout: None,
            read_eof: false,
            closing_transport: false,
            shut_down: false,
            timed_out: false,
            failed: None,
            write_blocked: false,
            replies_queued: 0,
            needs_flush: false,
            close_info: None,
            terminal: None,
            ended: false,
        }
    }

    /// Queues a close frame, unless one was already sent or received.
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.conn.close(code, reason) {
            Ok(()) => {
                // The other half may be parked on a read: it should see the close timer.
                self.notify();
                Ok(())
            }
            Err(SendError::Closed) => Ok(()),
            Err(e) => Err(Error::Send(e)),
        }
    }

    /// The next message, ping or pong; `None` once the connection and its transport are
    /// closed, after one `Err` if it did not end with a clean closing handshake.
    pub(crate) fn poll_incoming(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Option<Result<Incoming, Error>>> {
        if self.ended {
            return Poll::Ready(None);
        }
        let waker = self.shared_waker(cx, side);
        let mut shared = Context::from_waker(&waker);
        loop {
            while let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Message(m) => return Poll::Ready(Some(Ok(Incoming::Message(m)))),
                    Event::Ping(p) => return Poll::Ready(Some(Ok(Incoming::Ping(p)))),
                    Event::Pong(p) => return Poll::Ready(Some(Ok(Incoming::Pong(p)))),
                    Event::Closed(info) => self.on_closed(info),
                }
            }
            if self.drive(&mut shared) {
                // The core ended the connection: take its `Closed` first.
                continue;
            }
            if self.close_info.is_some() && self.transport_done() {
                self.ended = true;
                self.timer.stop();
                return Poll::Ready(self.terminal.take().map(Err));
            }
            if !self.can_read() {
                // Waiting on the transport's write readiness or the timer, both registered
                // (replies back up only while the transport refuses them).
                return Poll::Pending;
            }
            ready!(self.poll_read(cx));
        }
    }

    /// Ready once a message may be queued: the write buffer is within its bound.
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), Error>> {
        let waker = self.shared_waker(cx, side);
        self.drive(&mut Context::from_waker(&waker));
        if !self.conn.is_open() {
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        }
        if self.conn.buffered_amount() <= self.write_buffer_size {
            Poll::Ready(Ok(()))
        } else {
            Poll::Pending
        }
    }

    /// Queues a message. Call after [`poll_ready`](Self::poll_ready).
    pub(crate) fn start_send(&mut self, message: &Message) -> Result<(), Error> {
        match message {
            Message::Text(text) => self.conn.send_text(text.as_str()),
            Message::Binary(data) => self.conn.send_binary(data),
        }
        .map_err(Error::Send)
    }

    /// Ready once everything queued is written and flushed; an error if the transport failed
    /// or a timeout ended the connection, as what was queued may then be lost.
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), Error>> {
        let waker = self.shared_waker(cx, side);
        self.drive(&mut Context::from_waker(&waker));
        if let Some(kind) = self.failed {
            return Poll::Ready(Err(Error::Io(kind.into())));
        }
        if self.timed_out {
            // A timeout dropped whatever was still queued.
            return Poll::Ready(Err(Error::Send(SendError::Closed)));
        }
        if self.conn.buffered_amount() == 0 && !self.needs_flush {
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    /// The waker for what both halves share (writes, the timer): the caller's own before a
    /// split, a [`FanOut`] after.
    fn shared_waker(&self, cx: &Context<'_>, side: Side) -> Waker {
        match &self.fanout {
            None => cx.waker().clone(),
            Some(fanout) => {
                fanout.register(side, cx.waker());
                Waker::from(Arc::clone(fanout))
            }
        }
    }

    /// Wakes the other half after a change it did not cause by I/O readiness.
    fn notify(&self) {
        if let Some(fanout) = &self.fanout {
            fanout.wake_by_ref();
        }
    }

    /// Writes, applies the core's actions, runs the timer. True if that ended the connection
    /// (the core has a new `Event::Closed`).
    fn drive(&mut self, cx: &mut Context<'_>) -> bool {
        let was_closed = self.conn.is_closed();
        loop {
            self.write_out(cx);
            while let Some(action) = self.conn.poll_action() {
                match action {
                    Action::StartCloseTimer => self.timer.start_close(self.close_timeout),
                    Action::CloseTransport => self.closing_transport = true,
                }
            }
            if self.closing_transport
                && !self.shut_down
                && self.failed.is_none()
                && let Poll::Ready(result) = Pin::new(&mut self.io).poll_shutdown(cx)
            {
                self.shut_down = true;
                if result.is_err() {
                    // Nothing more will come either.
                    self.read_eof = true;
                }
            }
            if !self.conn.is_open() {
                // However closing began (our close, the peer's, EOF, a failure), it is bounded.
                self.timer.start_close(self.close_timeout);
            }
            match self.timer.poll(cx) {
                Poll::Pending => break,
                Poll::Ready(due) => self.on_due(due, cx),
            }
        }
        !was_closed && self.conn.is_closed()
    }

    fn write_out(&mut self, cx: &mut Context<'_>) {
        if self.failed.is_some() {
            return;
        }
        loop {
            let queued = self.conn.buffered_amount();
            let out = self.conn.poll_transmit();
            if out.is_empty() {
                break;
            }
            // What `poll_transmit` added: the pong owed to the latest ping.
            self.replies_queued += out.len().saturating_sub(queued);
            match Pin::new(&mut self.io).poll_write(cx, out) {
                Poll::Ready(Ok(0)) => return self.fail(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => {
                    let was_full = self.conn.buffered_amount() > self.write_buffer_size;
                    self.conn.consume_transmit(n);
                    if self.conn.buffered_amount() == 0 {
                        self.replies_queued = 0;
                    }
                    self.needs_flush = true;
                    if mem::take(&mut self.write_blocked) {
                        // The peer made room: it is reading, so it is alive.
                        self.timer.heard();
                    }
                    if was_full && self.conn.buffered_amount() <= self.write_buffer_size {
                        self.notify();
                    }
                }
                Poll::Ready(Err(e)) => return self.fail(e),
                Poll::Pending => {
                    self.write_blocked = true;
                    return;
                }
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => self.fail(e),
                Poll::Pending => {}
            }
        }
    }

    fn on_due(&mut self, due: Due, cx: &mut Context<'_>) {
        match due {
            Due::Ping => {
                // Refused only when closing, which the close timer then covers.
                let _ = self.conn.send_ping(&[]);
            }
            Due::KeepaliveTimeout => {
                if self.close_info.is_none() {
                    self.terminal.get_or_insert(Error::KeepaliveTimeout);
                }
                // Say why if the transport still takes bytes, then stop waiting for the peer.
                if self
                    .conn
                    .close(CloseCode::INTERNAL_ERROR, "keepalive timeout")
                    .is_ok()
                {
                    self.write_out(cx);
                }
                self.abort();
            }
            Due::Close => self.abort(),
        }
    }

    /// Ends the connection now: the core drops what is unsent and asks to close the transport.
    fn abort(&mut self) {
        self.timed_out = true;
        self.conn.handle_close_timeout();
        self.notify();
    }

    fn fail(&mut self, error: io::Error) {
        self.failed = Some(error.kind());
        if self.close_info.is_none() {
            self.terminal.get_or_insert(Error::Io(error));
        }
        self.timer.stop();
        self.conn.handle_close_timeout();
        self.notify();
    }

    fn on_closed(&mut self, info: CloseInfo) {
        if self.terminal.is_none() {
            self.terminal = match info.error {
                Some(e) => Some(Error::Protocol(e)),
                None if !info.clean => Some(Error::AbnormalClosure),
                None => None,
            };
        }
        self.close_info = Some(info);
        self.notify();
    }

    /// The transport is finished with: failed, timed out, or shut down with the peer's EOF
    /// read (RFC 6455 §7.1.1: the server closes first, then waits; the client waits first).
    fn transport_done(&self) -> bool {
        self.failed.is_some() || self.timed_out || (self.shut_down && self.read_eof)
    }

    fn can_read(&self) -> bool {
        !self.read_eof
            && self.failed.is_none()
            && !self.timed_out
            && self.replies_queued <= self.write_buffer_size
    }

    /// One read into the core.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut storage = [MaybeUninit::<u8>::uninit(); READ_CHUNK];
        let mut buf = ReadBuf::uninit(&mut storage);
        match ready!(Pin::new(&mut self.io).poll_read(cx, &mut buf)) {
            Ok(()) if buf.filled().is_empty() => {
                self.read_eof = true;
                self.conn.receive_eof();
            }
            Ok(()) => {
                self.timer.heard();
                // A protocol error is reported through `Event::Closed`; after a close, the
                // bytes are read only to reach EOF and are ignored.
                let _ = self.conn.receive_data(buf.filled());
            }
            Err(e) => self.fail(e),
        }
        Poll::Ready(())
    }
}
