//! The send/receive surface, written once for [`WebSocket`](crate::WebSocket) and its halves.
//!
//! A [`Handle`] lends the [`Driver`] (directly, or through the halves' mutex for the length of
//! one poll); the macros here expand the public methods and the `Stream`/`Sink` impls over
//! it, so the three types cannot drift apart again:
//!
//! | surface | `WebSocket` | `ReadHalf` | `WriteHalf` |
//! |---|---|---|---|
//! | [`receive_methods`]: `recv`, `recv_event`, `closed`, `Stream` | yes | yes | |
//! | [`send_methods`]: `send`, `send_text`, `send_binary`, `send_fragment`, `ping`, `pong`, `flush`, `close`, `Sink` | yes | | yes |
//! | [`state_methods`]: `role`, `protocol`, `is_open`, `buffered_amount`, `close_info` | yes | yes | yes |
//!
//! The methods that poll one thing (`recv`, `recv_event`, every send, `flush`) return their
//! `poll_fn` future itself rather than being `async fn`s that await it: an `async fn` adds a
//! state machine around the future it awaits, built and moved into place on every call, and
//! for a 16 B echo on the library the two layers cost about 40 instructions per message
//! (callgrind, `bench/callgrind.sh`: 2,492 -> 2,452).

use std::future::poll_fn;
use std::task::{Context, Poll, ready};

use switchyard_core::connection::{Connection, Message, SendError};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::Error;
use crate::driver::Driver;
use crate::incoming::Incoming;
use crate::wake::Side;

/// Access to the driver of one connection.
pub(crate) trait Handle<S> {
    /// Runs `f` on the driver; a split half holds its lock for exactly this call.
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R;

    /// Runs `f` on the driver, read-only.
    fn peek<R>(&self, f: impl FnOnce(&Driver<S>) -> R) -> R;

    /// The subprotocol agreed in the handshake. Fixed for the connection's life, so a split
    /// half keeps its own copy and can lend it without holding the lock.
    fn protocol(&self) -> Option<&str>;
}

/// Polls for the next data message, passing over pings and pongs (the core answered the
/// pings already, RFC 6455 §5.5.2).
pub(crate) fn poll_message<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    cx: &mut Context<'_>,
) -> Poll<Option<Result<Message, Error>>> {
    loop {
        match driver.poll_incoming(cx, Side::Read) {
            Poll::Ready(Some(Ok(Incoming::Message(m)))) => return Poll::Ready(Some(Ok(m))),
            Poll::Ready(Some(Ok(_))) => {}
            Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Waits for room in the write buffer, queues with `queue`, and writes everything queued.
/// Cancel-safe: before `queue` runs nothing is queued; after it, the frame goes out whole on
/// a later flush. One future with one poll function, so a send that completes at once takes
/// the driver (a split half: its lock) once.
pub(crate) fn write_with<'a, S, H>(
    handle: &'a mut H,
    queue: impl FnOnce(&mut Connection) -> Result<(), SendError> + 'a,
) -> impl Future<Output = Result<(), Error>> + 'a
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handle<S>,
{
    let mut queue = Some(queue);
    poll_fn(move |cx| {
        handle.with(|driver| poll_write(driver, cx, &mut queue, |driver, _, q| driver.queue(q)))
    })
}

/// [`write_with`] for a message taken by value, which the driver may write at once.
pub(crate) fn send<S, H>(
    handle: &mut H,
    message: Message,
) -> impl Future<Output = Result<(), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handle<S>,
{
    let mut message = Some(message);
    poll_fn(move |cx| handle.with(|driver| poll_send(driver, cx, &mut message)))
}

/// One poll of a send of the message in `message`: taken once there is room, and written at
/// once when the driver can; then everything queued is flushed.
#[inline(always)]
pub(crate) fn poll_send<S: AsyncRead + AsyncWrite + Unpin>(
    driver: &mut Driver<S>,
    cx: &mut Context<'_>,
    message: &mut Option<Message>,
) -> Poll<Result<(), Error>> {
    poll_write(driver, cx, message, |driver, cx, m| driver.send(cx, m))
}

/// One poll of a write: while `item` holds something, waits for room in the write buffer and
/// hands it to `send` (which queues or writes one frame); then writes everything queued.
#[inline(always)]
fn poll_write<S: AsyncRead + AsyncWrite + Unpin, T>(
    driver: &mut Driver<S>,
    cx: &mut Context<'_>,
    item: &mut Option<T>,
    send: impl FnOnce(&mut Driver<S>, &mut Context<'_>, T) -> Result<(), Error>,
) -> Poll<Result<(), Error>> {
    if item.is_some() {
        ready!(driver.poll_ready(cx, Side::Write))?;
        if let Some(item) = item.take() {
            send(driver, cx, item)?;
        }
    }
    driver.poll_flush(cx, Side::Write)
}

/// Writes everything queued.
pub(crate) fn flush<S, H>(handle: &mut H) -> impl Future<Output = Result<(), Error>>
where
    S: AsyncRead + AsyncWrite + Unpin,
    H: Handle<S>,
{
    poll_fn(move |cx| handle.with(|driver| driver.poll_flush(cx, Side::Write)))
}

/// `recv`, `recv_event`, `closed`, and the `Stream` impl, for a type implementing [`Handle`].
macro_rules! receive_methods {
    ($ty:ident) => {
        impl<S: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin> $ty<S> {
            /// The next message. `None` once the connection is closed and its transport is
            /// finished with; a connection that did not end with a clean closing handshake
            /// yields one `Err` first (see [`Error`](crate::Error)). Cancel-safe: if the
            /// future is dropped before it completes, no message is lost.
            pub fn recv(
                &mut self,
            ) -> impl ::std::future::Future<
                Output = Option<Result<::switchyard_core::connection::Message, crate::Error>>,
            > + '_ {
                ::std::future::poll_fn(move |cx| {
                    crate::surface::Handle::with(self, |driver| {
                        crate::surface::poll_message(driver, cx)
                    })
                })
            }

            /// The next message, ping or pong, for applications that watch control frames
            /// (pings are answered by the core whether or not anyone watches). Cancel-safe.
            pub fn recv_event(
                &mut self,
            ) -> impl ::std::future::Future<Output = Option<Result<crate::Incoming, crate::Error>>> + '_
            {
                ::std::future::poll_fn(move |cx| {
                    crate::surface::Handle::with(self, |driver| {
                        driver.poll_incoming(cx, crate::wake::Side::Read)
                    })
                })
            }

            /// Reads until the connection has ended, discarding what arrives, and returns how
            /// it ended: after `close` (on the connection or its write half), this
            /// finishes the closing handshake (RFC 6455 §7.1.2) within the close timeout.
            /// A connection that ended without a close frame, or was given up at a timeout,
            /// ended too: its [`CloseInfo`](crate::CloseInfo) says code 1006 and not clean,
            /// and the error that ended it (the last item [`recv`](Self::recv) would have
            /// returned) is discarded with the rest of the input. So once the input has
            /// ended this is `Ok`: the connection always records how it ended.
            pub async fn closed(
                &mut self,
            ) -> Result<::switchyard_core::connection::CloseInfo, crate::Error> {
                while self.recv_event().await.is_some() {}
                self.close_info().ok_or(crate::Error::AbnormalClosure)
            }
        }

        impl<S: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin> ::futures_core::Stream
            for $ty<S>
        {
            type Item = Result<::switchyard_core::connection::Message, crate::Error>;

            fn poll_next(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Option<Self::Item>> {
                crate::surface::Handle::with(self.get_mut(), |driver| {
                    crate::surface::poll_message(driver, cx)
                })
            }
        }

        impl<S: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin>
            ::futures_core::FusedStream for $ty<S>
        {
            fn is_terminated(&self) -> bool {
                crate::surface::Handle::peek(self, |driver| driver.is_ended())
            }
        }
    };
}

/// `send` and its variants, `ping`, `pong`, `flush`, `close`, and the `Sink` impl, for a type
/// implementing [`Handle`].
macro_rules! send_methods {
    ($ty:ident) => {
        impl<S: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin> $ty<S> {
            /// Sends a message: waits while more than
            /// [`Limits::write_buffer_size`](crate::Limits::write_buffer_size) bytes are
            /// queued, queues it, and returns once it is written. If cancelled, the message
            /// was either not queued or goes out whole later.
            pub fn send(
                &mut self,
                message: ::switchyard_core::connection::Message,
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + '_ {
                crate::surface::send(self, message)
            }

            /// Sends a text message.
            pub fn send_text<'a>(
                &'a mut self,
                text: &'a str,
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_text(text))
            }

            /// Sends a binary message.
            pub fn send_binary<'a>(
                &'a mut self,
                data: &'a [u8],
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_binary(data))
            }

            /// Sends a message as it is, past permessage-deflate: for a payload already
            /// compressed (an image, an archive), which deflate would only spend CPU on.
            /// Without a negotiated extension it is [`send_text`](Self::send_text) or
            /// [`send_binary`](Self::send_binary).
            pub fn send_unencoded<'a>(
                &'a mut self,
                kind: ::switchyard_core::connection::DataKind,
                data: &'a [u8],
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_unencoded(kind, data))
            }

            /// Sends one fragment of a message (RFC 6455 §5.4); `fin` ends it. The core
            /// checks the sequence (one message at a time, text fragments valid UTF-8
            /// together).
            pub fn send_fragment<'a>(
                &'a mut self,
                kind: ::switchyard_core::connection::DataKind,
                data: &'a [u8],
                fin: bool,
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_fragment(kind, data, fin))
            }

            /// Sends a ping (at most 125 bytes of payload, RFC 6455 §5.5).
            pub fn ping<'a>(
                &'a mut self,
                payload: &'a [u8],
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_ping(payload))
            }

            /// Sends an unsolicited pong (at most 125 bytes), e.g. as a one-way heartbeat
            /// (RFC 6455 §5.5.3).
            pub fn pong<'a>(
                &'a mut self,
                payload: &'a [u8],
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::write_with(self, move |conn| conn.send_pong(payload))
            }

            /// [`send`](Self::send) for code that polls by hand (a future of its own, a
            /// `Sink`-like loop): takes the message out of `message` once there is room, sends
            /// it, and is ready once it is written. A small message with nothing queued ahead
            /// of it goes out in that one write, which `Sink::start_send` (queue only, for
            /// batching) does not do. While pending, call again with the same `message`.
            pub fn poll_send(
                &mut self,
                cx: &mut ::std::task::Context<'_>,
                message: &mut Option<::switchyard_core::connection::Message>,
            ) -> ::std::task::Poll<Result<(), crate::Error>> {
                crate::surface::Handle::with(self, |driver| {
                    crate::surface::poll_send(driver, cx, message)
                })
            }

            /// Writes everything queued.
            pub fn flush<'a>(
                &'a mut self,
            ) -> impl ::std::future::Future<Output = Result<(), crate::Error>> + 'a {
                crate::surface::flush(self)
            }

            /// Starts the closing handshake: queues a close frame with `code` and `reason`
            /// (cut to 123 bytes) unless one was already sent or received, and writes it.
            /// Keep receiving (or call `closed`) to read the peer's close frame and finish.
            pub async fn close(
                &mut self,
                code: ::switchyard_core::CloseCode,
                reason: &str,
            ) -> Result<(), crate::Error> {
                crate::surface::Handle::with(self, |driver| driver.start_close(code, reason))?;
                crate::surface::flush(self).await
            }
        }

        /// `feed` waits for room in the write buffer and queues; `flush` writes; `close`
        /// sends a 1000 close frame (if none was sent) and flushes it. Keep receiving to
        /// finish the closing handshake.
        impl<S: ::tokio::io::AsyncRead + ::tokio::io::AsyncWrite + Unpin>
            ::futures_sink::Sink<::switchyard_core::connection::Message> for $ty<S>
        {
            type Error = crate::Error;

            fn poll_ready(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), crate::Error>> {
                crate::surface::Handle::with(self.get_mut(), |driver| {
                    driver.poll_ready(cx, crate::wake::Side::Write)
                })
            }

            fn start_send(
                self: ::std::pin::Pin<&mut Self>,
                item: ::switchyard_core::connection::Message,
            ) -> Result<(), crate::Error> {
                crate::surface::Handle::with(self.get_mut(), |driver| {
                    driver.queue(|conn| conn.send_message(item))
                })
            }

            fn poll_flush(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), crate::Error>> {
                crate::surface::Handle::with(self.get_mut(), |driver| {
                    driver.poll_flush(cx, crate::wake::Side::Write)
                })
            }

            fn poll_close(
                self: ::std::pin::Pin<&mut Self>,
                cx: &mut ::std::task::Context<'_>,
            ) -> ::std::task::Poll<Result<(), crate::Error>> {
                crate::surface::Handle::with(self.get_mut(), |driver| {
                    driver.start_close(::switchyard_core::CloseCode::NORMAL, "")?;
                    driver.poll_flush(cx, crate::wake::Side::Write)
                })
            }
        }
    };
}

/// What any handle on a connection can tell about it.
macro_rules! state_methods {
    ($ty:ident) => {
        impl<S> $ty<S> {
            /// Which end this is.
            pub fn role(&self) -> ::switchyard_core::connection::Role {
                crate::surface::Handle::peek(self, |driver| driver.conn().role())
            }

            /// The subprotocol agreed in the handshake, if any.
            pub fn protocol(&self) -> Option<&str> {
                crate::surface::Handle::protocol(self)
            }

            /// Whether messages may still be sent (no close frame sent or received, no
            /// failure).
            pub fn is_open(&self) -> bool {
                crate::surface::Handle::peek(self, |driver| driver.conn().is_open())
            }

            /// Bytes queued and not yet written to the transport.
            pub fn buffered_amount(&self) -> usize {
                crate::surface::Handle::peek(self, |driver| driver.conn().buffered_amount())
            }

            /// The bytes this connection read from and wrote to its transport so far (see
            /// [`Traffic`](crate::Traffic) for what counts).
            pub fn traffic(&self) -> crate::Traffic {
                crate::surface::Handle::peek(self, |driver| driver.traffic())
            }

            /// How the connection ended, once it has.
            pub fn close_info(&self) -> Option<::switchyard_core::connection::CloseInfo> {
                crate::surface::Handle::peek(self, |driver| driver.close_info().cloned())
            }
        }
    };
}

pub(crate) use {receive_methods, send_methods, state_methods};
