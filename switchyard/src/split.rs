//! [`ReadHalf`] and [`WriteHalf`]: one connection used from two tasks.
//!
//! Both halves share the connection behind a mutex that is only held inside a poll, never
//! across an await. The read half writes too (the core's automatic pongs and close reply), so
//! replies go out even while the write half sits idle; see [`crate::wake`] for how both halves
//! are woken.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

use futures_core::{FusedStream, Stream};
use futures_sink::Sink;
use switchyard_core::CloseCode;
use switchyard_core::connection::{CloseInfo, DataKind, Message};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::driver::{Driver, Incoming};
use crate::stream::poll_message;
use crate::wake::{FanOut, Side};
use crate::{Error, WebSocket};

type Shared<S> = Arc<Mutex<Driver<S>>>;

pub(crate) fn split<S>(mut driver: Driver<S>) -> (ReadHalf<S>, WriteHalf<S>) {
    driver.fanout = Some(Arc::new(FanOut::default()));
    let shared = Arc::new(Mutex::new(driver));
    (
        ReadHalf {
            shared: Arc::clone(&shared),
        },
        WriteHalf { shared },
    )
}

fn lock<S>(shared: &Shared<S>) -> MutexGuard<'_, Driver<S>> {
    // No code path panics while holding the lock; if one ever did, the state is still
    // consistent between polls, so carry on.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::split`].
///
/// Keep polling it: it reads, and it also sends the automatic pongs and the close reply and
/// runs keepalive and the close timer.
pub struct ReadHalf<S> {
    shared: Shared<S>,
}

/// The sending half of a [`WebSocket`], from [`WebSocket::split`].
pub struct WriteHalf<S> {
    shared: Shared<S>,
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// [`ReadHalf::reunite`] was given the write half of another connection.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves come from different connections")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S: AsyncRead + AsyncWrite + Unpin> ReadHalf<S> {
    /// The next message; `None` once closed. Same contract as [`WebSocket::recv`], and
    /// cancel-safe.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| poll_message(&mut lock(&self.shared), cx, Side::Read)).await
    }

    /// The next message, ping or pong. Cancel-safe.
    pub async fn recv_event(&mut self) -> Option<Result<Incoming, Error>> {
        poll_fn(|cx| lock(&self.shared).poll_incoming(cx, Side::Read)).await
    }

    /// Puts the halves back together.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(mutex) => {
                let mut driver = mutex.into_inner().unwrap_or_else(PoisonError::into_inner);
                driver.fanout = None;
                Ok(WebSocket { driver })
            }
            // Both halves were the only owners and `write` is dropped.
            Err(shared) => {
                let read = ReadHalf {
                    shared: Arc::clone(&shared),
                };
                Err(ReuniteError(read, WriteHalf { shared }))
            }
        }
    }
}

impl<S> ReadHalf<S> {
    /// How the connection ended, once it has.
    pub fn close_info(&self) -> Option<CloseInfo> {
        lock(&self.shared).close_info().cloned()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WriteHalf<S> {
    /// Sends a message: waits for room, queues it, returns once it is written. Same contract
    /// as [`WebSocket::send`].
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

    /// Sends one fragment of a message; `fin` ends it.
    pub async fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_fragment(kind, data, fin)?))
            .await
    }

    /// Sends a ping.
    pub async fn ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.write_with(|driver| Ok(driver.conn.send_ping(payload)?))
            .await
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| lock(&self.shared).poll_flush(cx, Side::Write)).await
    }

    /// Starts the closing handshake: queues a close frame (unless one was sent or received)
    /// and writes it. The read half finishes the handshake and then ends.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        lock(&self.shared).start_close(code, reason)?;
        self.flush().await
    }

    async fn write_with(
        &mut self,
        queue: impl FnOnce(&mut Driver<S>) -> Result<(), Error>,
    ) -> Result<(), Error> {
        poll_fn(|cx| lock(&self.shared).poll_ready(cx, Side::Write)).await?;
        queue(&mut lock(&self.shared))?;
        self.flush().await
    }
}

impl<S> WriteHalf<S> {
    /// Whether messages may still be sent.
    pub fn is_open(&self) -> bool {
        lock(&self.shared).conn.is_open()
    }

    /// Bytes queued and not yet written to the transport.
    pub fn buffered_amount(&self) -> usize {
        lock(&self.shared).conn.buffered_amount()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ReadHalf<S> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        poll_message(&mut lock(&self.shared), cx, Side::Read)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> FusedStream for ReadHalf<S> {
    fn is_terminated(&self) -> bool {
        lock(&self.shared).is_ended()
    }
}

/// Same as [`WebSocket`]'s `Sink`: `close` sends a 1000 close frame and flushes it; the read
/// half finishes the handshake.
impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for WriteHalf<S> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        lock(&self.shared).poll_ready(cx, Side::Write)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        lock(&self.shared).start_send(&item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        lock(&self.shared).poll_flush(cx, Side::Write)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let mut driver = lock(&self.shared);
        driver.start_close(CloseCode::NORMAL, "")?;
        driver.poll_flush(cx, Side::Write)
    }
}
