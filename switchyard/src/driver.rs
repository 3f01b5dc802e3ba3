//! The engine under [`WebSocket`](crate::WebSocket) and its halves: moves bytes between the
//! transport and the core, sleeps until the core's deadline, and carries out what the core
//! asks of the transport.
//!
//! # Theory of operation
//!
//! Everything is a `poll_*` function over state held here, so every future built on them is
//! cancel-safe: a message leaves the core only in the poll that returns it.
//!
//! Each poll first *drives*: writes what the core queued (our messages, its pongs and close
//! replies) and carries out the core's transport actions ([`Action::HalfClose`] and
//! [`Action::Close`]: shut the write side down; [`Action::Abort`]: drop the transport). A
//! drive that left nothing to do but wait is not repeated until something changes: a read, a
//! polled event, a queued frame, or the core told the time. Reading then feeds the core,
//! whose events come back out in order; [`Event::Closed`] is kept, not returned, and the read
//! side ends once the transport is finished too, so the close reply is never lost to an early
//! drop.
//!
//! Time: a poll that is about to wait (on a read, a write, or for room to queue) first
//! sleeps until [`Connection::poll_timeout`], and tells the core the time if that has passed
//! (the core decides keepalive pings, the pong deadline and the close timeout), then drives
//! again. Only a poll that waits needs to: one that returns something leaves the task
//! running, and its next wait looks at the clock. So an echoed message consults the timer
//! once, in the receive that waits for it, rather than in each of its three polls (16 B echo
//! on the library: 2,253 -> 2,223 instructions, callgrind). The time is told only at a
//! deadline, not after every read: the core notes that bytes arrived and measures silence
//! from the next tick, so a busy connection reads no clock per message.
//!
//! Reading goes straight into the core's read buffer ([`Connection::read_buffer`]), where
//! frames are decoded in place and messages leave as views of it; a read that finds nothing
//! gives the buffer back empty, so an idle connection holds none. The read after one that
//! did not fill its room and ended between frames almost always finds nothing (one per
//! message received): it goes into a small buffer on the stack instead, and the core is told
//! the read blocked ([`Connection::read_blocked`]), so no read buffer is lent for it.
//!
//! Backpressure: while more than [`Limits::write_buffer_size`] bytes wait for the transport,
//! `send` waits. Reading pauses only when the core says so ([`Connection::wants_read`]: its
//! automatic replies backed up, or too many events wait to be polled for it to decode the
//! rest of the last read).
//!
//! Split halves share one `Driver` behind a mutex held only inside a poll; writes and the
//! timer are polled with a [`FanOut`] waker so both halves hear about them.
//!
//! [`Limits::write_buffer_size`]: switchyard_core::Limits::write_buffer_size

use std::cell::Cell;
use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, ready};

use bytes::BytesMut;
use switchyard_core::CloseCode;
use switchyard_core::connection::{
    AbortReason, Action, CloseInfo, Connection, Event, Message, SendError,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::io::poll_read_buf;

use crate::Error;
use crate::incoming::Incoming;
use crate::timer::Clock;
use crate::traffic::Traffic;
use crate::wake::{FanOut, Side};

thread_local! {
    /// One read buffer per thread, between reads: a connection whose read would block gives
    /// its (drained) buffer back here rather than keep it, and the next read on this thread
    /// takes it, so reading allocates nothing while idle connections hold no buffer. At most
    /// 64 KiB per thread.
    static SPARE: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// The stack buffer of a read expected to block ([`Driver::poll_probe`]).
const PROBE: usize = 1024;

/// Most pieces handed to one vectored write.
const MAX_SLICES: usize = 16;

/// On a transport without vectored writes, a first piece shorter than this is coalesced with
/// what follows it (up to twice this) into one write.
const COALESCE_BELOW: usize = 4 * 1024;

/// Which way the transport failed.
#[derive(Clone, Copy)]
enum Failed {
    Read,
    Write,
}

pub(crate) struct Driver<S> {
    pub(crate) io: S,
    /// Boxed: the core's state is about 760 bytes, and a connection is moved several times
    /// before it is served (out of the accept future, into the caller's, into Tokio's task
    /// cell, whose every stage change copies the whole future). A pointer moves instead: a
    /// handshake copies about 1,300 instructions' worth less (callgrind), for one allocation.
    conn: Box<Connection>,
    clock: Clock,
    /// The subprotocol agreed in the handshake.
    pub(crate) protocol: Option<Box<str>>,
    /// Bytes moved so far, the handshake's included.
    traffic: Traffic,
    /// Set once split.
    pub(crate) fanout: Option<Arc<FanOut>>,
    /// The peer's EOF has been read.
    read_eof: bool,
    /// The core's latest transport action.
    transport: Option<Action>,
    /// Our write side is shut down.
    shut_down: bool,
    /// The transport failed.
    failed: Option<io::ErrorKind>,
    needs_flush: bool,
    /// How the connection ended, once [`Event::Closed`] was seen.
    close_info: Option<CloseInfo>,
    /// The error the read side reports before it ends.
    terminal: Option<Error>,
    /// The read side has ended.
    ended: bool,
    /// The last drive left nothing to do but wait: nothing to write or flush, no shutdown
    /// owed. Whatever changes the core outside a drive (a read, a polled event, a queued
    /// frame, a tick) clears it; a drive finds it set and returns at once, so a message costs
    /// one drive (the flush of its answer) rather than one per poll.
    settled: bool,
    /// The last read did not fill the room it was lent and ended between frames: the next
    /// one most likely blocks, and is made into a buffer on the stack.
    probe: bool,
}

impl<S> Driver<S> {
    /// The core, to look at; it changes only through the driver.
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn traffic(&self) -> Traffic {
        self.traffic
    }

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
    /// handshake head, which are the first frames, and `handshake` the bytes it moved.
    pub(crate) fn new(
        io: S,
        conn: Box<Connection>,
        leftover: &[u8],
        protocol: Option<Box<str>>,
        handshake: Traffic,
    ) -> Driver<S> {
        let mut driver = Driver {
            io,
            conn,
            clock: Clock::new(),
            protocol,
            traffic: handshake,
            fanout: None,
            read_eof: false,
            transport: None,
            shut_down: false,
            failed: None,
            needs_flush: false,
            close_info: None,
            terminal: None,
            ended: false,
            settled: false,
            probe: false,
        };
        // The core's clock starts now.
        driver.conn.handle_timeout(driver.clock.now());
        driver.receive(leftover);
        driver
    }

    /// Queues a close frame, unless one was already sent or received.
    pub(crate) fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.settled = false;
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
        let mut drive = true;
        loop {
            if drive {
                self.drive(cx, side);
            }
            let mut closed = false;
            // (Asking first is cheaper than polling for none: an event is returned by value.)
            while self.conn.has_events()
                && let Some(event) = self.conn.poll_event()
            {
                // Polling may resume decoding (which may queue pongs) or queue the close
                // reply.
                self.settled = false;
                match event {
                    Event::Message(m) => return Poll::Ready(Some(Ok(Incoming::Message(m)))),
                    Event::Ping(p) => return Poll::Ready(Some(Ok(Incoming::Ping(p)))),
                    Event::Pong(p) => return Poll::Ready(Some(Ok(Incoming::Pong(p)))),
                    Event::Closed(info) => {
                        self.on_closed(info);
                        closed = true;
                    }
                }
            }
            if closed {
                // Polling `Closed` may have queued our close reply: drive again.
                drive = true;
                continue;
            }
            if self.close_info.is_some() && self.transport_done() {
                self.ended = true;
                // Nothing more will be read: the read buffer becomes this thread's spare, for
                // the next connection's first read rather than an allocation of its own.
                SPARE.with(|slot| {
                    let mut spare = slot.take();
                    self.conn.read_blocked(&mut spare);
                    slot.set(spare);
                });
                return Poll::Ready(self.terminal.take().map(Err));
            }
            if !self.can_read() || self.poll_read(cx).is_pending() {
                // About to wait (on the transport, or for the replies to drain): not before the
                // core's deadline.
                if self.tick(cx, side) {
                    drive = true;
                    continue;
                }
                return Poll::Pending;
            }
            // A read that queued nothing for the transport (the usual one: a message, or part
            // of one) needs no drive before its events are handed out. A reply, an EOF or a
            // closing state drives first.
            drive = self.read_eof || !self.conn.is_open() || self.conn.wants_write();
        }
    }

    /// Ready once a message may be queued: the write buffer is within its bound.
    ///
    /// This and [`poll_flush`](Self::poll_flush) run once per message sent and are inlined
    /// into their callers: in a program with several stream types LLVM otherwise keeps each
    /// copy out of line (the binary's echo paid about 45 instructions per message for the
    /// calls).
    #[inline(always)]
    pub(crate) fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), Error>> {
        let bound = self.conn.limits().write_buffer_size;
        // Room already: the flush that follows a send drives the connection.
        if self.conn.is_open() && self.conn.buffered_amount() <= bound {
            return Poll::Ready(Ok(()));
        }
        loop {
            self.drive(cx, side);
            if !self.conn.is_open() {
                return Poll::Ready(Err(Error::Send(SendError::Closed)));
            }
            if self.conn.buffered_amount() <= bound {
                return Poll::Ready(Ok(()));
            }
            if !self.tick(cx, side) {
                return Poll::Pending;
            }
        }
    }

    /// Queues what `queue` sends (a message, a fragment, a control frame). Call after
    /// [`poll_ready`](Self::poll_ready).
    pub(crate) fn queue(
        &mut self,
        queue: impl FnOnce(&mut Connection) -> Result<(), SendError>,
    ) -> Result<(), Error> {
        self.settled = false;
        queue(&mut self.conn).map_err(Error::Send)
    }

    /// Sends `message` (call after [`poll_ready`](Self::poll_ready)): written at once when
    /// nothing else waits to be driven (one write of the frame the core encodes on the stack,
    /// or of a server's header and payload as they are, [`Connection::send_message_with`]),
    /// else queued for the next drive.
    #[inline(always)]
    pub(crate) fn send(&mut self, cx: &mut Context<'_>, message: Message) -> Result<(), Error> {
        // The core writes at once only while open with nothing queued: no transport action
        // can then be due, and nothing else waits for a drive but a flush.
        if self.failed.is_some() {
            return self.queue(|conn| conn.send_message(message));
        }
        let io = &mut self.io;
        let mut outcome = Poll::Ready(Ok(0));
        let sent = self.conn.send_message_with(
            message,
            #[inline(always)]
            |head, body| {
                outcome = if body.is_empty() {
                    Pin::new(io).poll_write(cx, head)
                } else if io.is_write_vectored() {
                    let slices = [IoSlice::new(head), IoSlice::new(body)];
                    Pin::new(io).poll_write_vectored(cx, &slices)
                } else {
                    // One slice at a time would cost two writes (two system calls, two TLS
                    // records): the frame is queued whole, for the drive to coalesce.
                    return 0;
                };
                match outcome {
                    Poll::Ready(Ok(n)) => n,
                    _ => 0,
                }
            },
        );
        match outcome {
            Poll::Ready(Ok(n)) if n > 0 => {
                self.traffic.written += n as u64;
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => self.fail(e, Failed::Write),
                    Poll::Pending => self.needs_flush = true,
                }
            }
            Poll::Ready(Err(e)) => self.fail(e, Failed::Write),
            // Nothing written (the transport is full, or the frame was queued): the next drive
            // writes what is queued, and registers the right waker.
            _ => {}
        }
        self.settled = self.failed.is_some() || !(self.needs_flush || self.conn.wants_write());
        sent.map_err(Error::Send)
    }

    /// Ready once everything queued is written and flushed; an error if the transport failed
    /// or was aborted, as what was queued may then be lost.
    #[inline(always)]
    pub(crate) fn poll_flush(
        &mut self,
        cx: &mut Context<'_>,
        side: Side,
    ) -> Poll<Result<(), Error>> {
        loop {
            self.drive(cx, side);
            if let Some(kind) = self.failed {
                return Poll::Ready(Err(Error::Io(kind.into())));
            }
            if self.transport == Some(Action::Abort) {
                // The abort dropped whatever was still queued.
                return Poll::Ready(Err(Error::Send(SendError::Closed)));
            }
            if self.conn.buffered_amount() == 0 && !self.needs_flush {
                return Poll::Ready(Ok(()));
            }
            if !self.tick(cx, side) {
                return Poll::Pending;
            }
        }
    }

    /// Wakes the other half after a change it did not cause by I/O readiness.
    fn notify(&self) {
        if let Some(fanout) = &self.fanout {
            fanout.wake_by_ref();
        }
    }

    /// Writes and carries out the core's transport actions, as far as the transport lets it;
    /// where it has to wait, registers the caller's waker, or once split the
    /// [`FanOut::waker_for`] both halves (writes are shared: either half may queue them).
    ///
    /// The check for a settled drive is inlined into every poll, and the drive itself is not:
    /// most polls (every receive) find it settled, and skip the call. Only a drive that runs
    /// records a half's waker: a poll that finds it settled and returns without waiting needs
    /// none.
    #[inline(always)]
    fn drive(&mut self, cx: &mut Context<'_>, side: Side) {
        if self.settled {
            return;
        }
        match &self.fanout {
            None => self.drive_with(cx),
            Some(fanout) => {
                let waker = fanout.waker_for(side, cx.waker());
                self.drive_with(&mut Context::from_waker(&waker));
            }
        }
    }

    #[inline(never)]
    fn drive_with(&mut self, cx: &mut Context<'_>) {
        self.write_out(cx);
        self.take_actions();
        if self.shutdown_owed()
            && let Poll::Ready(result) = Pin::new(&mut self.io).poll_shutdown(cx)
        {
            self.shut_down = true;
            if result.is_err() {
                // Nothing more will come either: after a half-close, the core waits for the
                // peer's end, and this is it (its `Action::Close` follows at once).
                self.read_eof = true;
                if self.transport == Some(Action::HalfClose) {
                    self.conn.receive_eof();
                    self.take_actions();
                }
            }
        }
        if self.shut_down && self.transport == Some(Action::Close) {
            // The close is carried out, and the close timeout over. Until then it runs, so
            // a shutdown that never completes (TLS holding our last bytes for a peer that
            // stopped reading) is given up: the core answers `Action::Abort`.
            self.conn.transport_closed();
        }
        self.settled = self.failed.is_some()
            || !(self.needs_flush || self.conn.wants_write() || self.shutdown_owed());
    }

    /// Carries the core's transport actions over (the shutdown they ask for is done by the
    /// caller).
    fn take_actions(&mut self) {
        while let Some(action) = self.conn.poll_action() {
            self.transport = Some(action);
            self.notify();
        }
    }

    /// Before a poll waits: sleeps until the core's deadline, with the caller's waker (once
    /// split, the [`FanOut::waker_for`] both halves: the timer is shared). True if the
    /// deadline had passed and the core was told the time (it may have queued a ping or a
    /// close, or given up): the caller drives again.
    #[inline(always)]
    fn tick(&mut self, cx: &mut Context<'_>, side: Side) -> bool {
        let deadline = self.conn.poll_timeout();
        let polled = match &self.fanout {
            None => self.clock.poll(deadline, cx),
            Some(fanout) => {
                let waker = fanout.waker_for(side, cx.waker());
                self.clock.poll(deadline, &mut Context::from_waker(&waker))
            }
        };
        match polled {
            Poll::Pending => false,
            Poll::Ready(now) => {
                self.conn.handle_timeout(now);
                self.settled = false;
                true
            }
        }
    }

    /// The core asked for the write side to be shut down, and it is not yet.
    fn shutdown_owed(&self) -> bool {
        matches!(self.transport, Some(Action::HalfClose | Action::Close))
            && !self.shut_down
            && self.failed.is_none()
    }

    fn write_out(&mut self, cx: &mut Context<'_>) {
        if self.failed.is_some() || !(self.needs_flush || self.conn.wants_write()) {
            return;
        }
        let bound = self.conn.limits().write_buffer_size;
        let vectored = self.io.is_write_vectored();
        loop {
            match self.poll_write_some(cx, vectored) {
                Poll::Ready(Ok(None)) => break,
                Poll::Ready(Ok(Some(0))) => {
                    return self.fail(io::ErrorKind::WriteZero.into(), Failed::Write);
                }
                Poll::Ready(Ok(Some(n))) => {
                    self.traffic.written += n as u64;
                    let was_full = self.conn.buffered_amount() > bound;
                    self.conn.consume_transmit(n);
                    self.needs_flush = true;
                    if was_full && self.conn.buffered_amount() <= bound {
                        self.notify();
                    }
                    if !self.conn.wants_write() {
                        // Everything went (the usual case): no need to ask again.
                        break;
                    }
                }
                Poll::Ready(Err(e)) => return self.fail(e, Failed::Write),
                Poll::Pending => return self.conn.write_blocked(),
            }
        }
        if self.needs_flush {
            match Pin::new(&mut self.io).poll_flush(cx) {
                Poll::Ready(Ok(())) => self.needs_flush = false,
                Poll::Ready(Err(e)) => self.fail(e, Failed::Write),
                Poll::Pending => {}
            }
        }
    }

    /// One write of what the core queued: `None` when nothing waits. A vectored transport
    /// takes header and payload pieces in one call (and one piece, in a plain write: no
    /// slices to set up); otherwise small pieces are coalesced into
    /// one buffer first, so a frame's header and a short payload never cost two writes (two
    /// system calls, or two TLS records).
    fn poll_write_some(
        &mut self,
        cx: &mut Context<'_>,
        vectored: bool,
    ) -> Poll<io::Result<Option<usize>>> {
        let io = Pin::new(&mut self.io);
        if vectored {
            let front = self.conn.poll_transmit().len();
            if front == self.conn.buffered_amount() {
                // One piece holds it all (the usual case: copied frames only): a plain write.
                if front == 0 {
                    return Poll::Ready(Ok(None));
                }
                return io.poll_write(cx, self.conn.poll_transmit()).map_ok(Some);
            }
            let mut pieces: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
            let n = self.conn.poll_transmit_vectored(&mut pieces);
            if n == 0 {
                return Poll::Ready(Ok(None));
            }
            let mut slices = [IoSlice::new(&[]); MAX_SLICES];
            for (slice, piece) in slices.iter_mut().zip(&pieces[..n]) {
                *slice = IoSlice::new(piece);
            }
            return io.poll_write_vectored(cx, &slices[..n]).map_ok(Some);
        }
        let front = self.conn.poll_transmit();
        if front.is_empty() {
            return Poll::Ready(Ok(None));
        }
        if front.len() >= COALESCE_BELOW {
            return io.poll_write(cx, front).map_ok(Some);
        }
        let mut pieces: [&[u8]; MAX_SLICES] = [&[]; MAX_SLICES];
        let n = self.conn.poll_transmit_vectored(&mut pieces);
        let mut storage = [0u8; COALESCE_BELOW * 2];
        let mut len = 0;
        for piece in &pieces[..n] {
            let take = piece.len().min(storage.len() - len);
            storage[len..len + take].copy_from_slice(&piece[..take]);
            len += take;
            if len == storage.len() {
                break;
            }
        }
        io.poll_write(cx, &storage[..len]).map_ok(Some)
    }

    /// The transport failed: nothing more is written or read. After a failed write the core
    /// still delivers the frames already read (a peer that sent its messages and left gets
    /// them all handled), and the error comes after them; a read fails only once what was
    /// read before is decoded (reads wait for that), so the core gives up at once.
    fn fail(&mut self, error: io::Error, failed: Failed) {
        self.settled = false;
        self.failed = Some(error.kind());
        if self.close_info.is_none() {
            self.terminal.get_or_insert(Error::Io(error));
        }
        match failed {
            Failed::Write => self.conn.write_failed(),
            Failed::Read => self.conn.abort(),
        }
        self.notify();
    }

    fn on_closed(&mut self, info: CloseInfo) {
        if self.terminal.is_none() {
            self.terminal = match (info.error, info.aborted) {
                (Some(e), _) => Some(Error::Protocol(e)),
                (None, Some(AbortReason::KeepaliveTimeout)) => Some(Error::KeepaliveTimeout),
                (None, _) if !info.clean => Some(Error::AbnormalClosure),
                (None, _) => None,
            };
        }
        self.close_info = Some(info);
        self.notify();
    }

    /// The transport is finished with: failed, aborted, or closed (RFC 6455 §7.1.1: the
    /// server closes first, once the close frames have passed; the client waits for the
    /// server's EOF; a failing side half-closes and waits for the peer's).
    fn transport_done(&self) -> bool {
        self.failed.is_some()
            || self.transport == Some(Action::Abort)
            || (self.transport == Some(Action::Close) && self.shut_down)
    }

    /// Whether to read: the core's say alone, as it is told of every end of reading here (an
    /// EOF read, a failed read or write, an abort it ordered) and then says no. (The one
    /// EOF it is not told of, a failed shutdown after [`Action::Close`], comes when it has
    /// stopped reading already.)
    fn can_read(&self) -> bool {
        self.conn.wants_read()
    }

    /// Feeds the bytes read past the handshake to the core (a copy, once per connection).
    fn receive(&mut self, leftover: &[u8]) {
        if leftover.is_empty() {
            return;
        }
        // A protocol error is reported through `Event::Closed`. The core has no events yet,
        // so it takes every byte.
        let _ = self.conn.receive_data(leftover);
    }

    /// One read, straight into the core's read buffer, which it then decodes in place.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.probe {
            self.probe = false;
            return self.poll_probe(cx);
        }
        // One thread-local access per read (taking and setting the spare separately would
        // look the slot up twice).
        let read = SPARE.with(|slot| {
            let mut spare = slot.take();
            let mut buf = self.conn.read_buffer_with(&mut spare);
            let room = buf.capacity() - buf.len();
            let read = poll_read_buf(Pin::new(&mut self.io), cx, &mut buf);
            // A protocol error is reported through `Event::Closed`; after a close, the bytes
            // are read only to reach EOF and are ignored. Given back empty (nothing read),
            // the buffer leaves the connection, as this thread's spare unless a partial frame
            // waits in it.
            let _ = self.conn.receive_buffer_with(buf, &mut spare);
            slot.set(spare);
            if let Poll::Ready(Ok(n)) = read {
                self.probe = n > 0 && n < room && self.conn.between_frames();
            }
            read
        });
        self.after_read(ready!(read))
    }

    /// The read after one that did not fill its room and ended between frames, which most
    /// likely emptied the transport (a TCP stream clears its readiness on such a read): into
    /// a buffer on the stack, so the read that would block (one per message received) lends
    /// and takes back no read buffer. What it does find is copied into the read buffer.
    fn poll_probe(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut stack = [MaybeUninit::<u8>::uninit(); PROBE];
        let mut probe = ReadBuf::uninit(&mut stack);
        let read = Pin::new(&mut self.io).poll_read(cx, &mut probe);
        let read = SPARE.with(|slot| {
            let mut spare = slot.take();
            match &read {
                Poll::Pending => self.conn.read_blocked(&mut spare),
                Poll::Ready(Ok(())) if !probe.filled().is_empty() => {
                    let mut buf = self.conn.read_buffer_with(&mut spare);
                    buf.extend_from_slice(probe.filled());
                    let _ = self.conn.receive_buffer_with(buf, &mut spare);
                }
                Poll::Ready(_) => {}
            }
            slot.set(spare);
            read.map_ok(|()| probe.filled().len())
        });
        self.after_read(ready!(read))
    }

    fn after_read(&mut self, read: io::Result<usize>) -> Poll<()> {
        self.settled = false;
        match read {
            Ok(0) => {
                self.read_eof = true;
                self.conn.receive_eof();
            }
            // The core is not told the time here: it notes that the peer was heard, and the
            // next tick (at its deadline) measures silence from then. So a read costs no
            // clock read, and a keepalive ping goes out between one and two intervals after
            // the last byte.
            Ok(n) => self.traffic.read += n as u64,
            Err(e) => self.fail(e, Failed::Read),
        }
        Poll::Ready(())
    }
}
