//! [`H2Stream`]: one HTTP/2 stream as the byte pipe a WebSocket runs on (RFC 8441 §5: the
//! stream is used "as if it were the TCP connection").

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use h2::{Reason, RecvStream, SendStream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The two halves of an HTTP/2 stream, as `AsyncRead + AsyncWrite`.
///
/// Flow control is per stream, so each WebSocket on a connection has its own backpressure:
/// received DATA is released to the peer's window (RFC 9113 §5.2) only once the connection has
/// read it, so a WebSocket that stops reading stops its peer after one window; and a write
/// waits for send capacity instead of queueing in h2 without bound. Shutting down the write
/// side ends the stream (END_STREAM, the TCP FIN's counterpart); dropping it before then
/// aborts the stream with RST_STREAM(CANCEL) (RFC 8441 §5).
pub struct H2Stream {
    recv: RecvStream,
    send: SendStream<Bytes>,
    /// The rest of a DATA frame the last read did not take.
    unread: Bytes,
    ended: bool,
}

impl H2Stream {
    /// The stream whose request body is `recv` and whose response body is `send`.
    pub fn new(recv: RecvStream, send: SendStream<Bytes>) -> H2Stream {
        H2Stream {
            recv,
            send,
            unread: Bytes::new(),
            ended: false,
        }
    }

    /// Releases `n` bytes of the receive window once they have been read.
    fn consumed(&mut self, n: usize) -> io::Result<()> {
        self.recv
            .flow_control()
            .release_capacity(n)
            .map_err(into_io)
    }
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream")
            .field("stream_id", &self.send.stream_id())
            .field("unread", &self.unread.len())
            .field("ended", &self.ended)
            .finish()
    }
}

fn into_io(error: h2::Error) -> io::Error {
    if error.is_io() {
        error
            .into_io()
            .unwrap_or_else(|| io::ErrorKind::Other.into())
    } else {
        io::Error::other(error)
    }
}

impl AsyncRead for H2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unread.is_empty() {
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.unread = data,
                Some(Err(error)) => return Poll::Ready(Err(into_io(error))),
                // END_STREAM: the peer's EOF.
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = this.unread.len().min(buf.remaining());
        buf.put_slice(&this.unread[..n]);
        this.unread.advance(n);
        Poll::Ready(this.consumed(n))
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.send.capacity() == 0 {
            this.send.reserve_capacity(buf.len());
            match ready!(this.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(error)) => return Poll::Ready(Err(into_io(error))),
                None => return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        }
        let n = this.send.capacity().min(buf.len());
        if n == 0 {
            // Capacity was assigned and taken back (the window shrank): wait again.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        this.send
            .send_data(Bytes::copy_from_slice(&buf[..n]), false)
            .map_err(into_io)?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes queued DATA as soon as it is sent.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            this.ended = true;
            this.send.send_data(Bytes::new(), true).map_err(into_io)?;
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for H2Stream {
    fn drop(&mut self) {
        if !self.ended {
            self.send.send_reset(Reason::CANCEL);
        }
    }
}
