//! [`Tapped`]: a transport that shows its bytes to an optional
//! [`ByteTap`](crate::tap::ByteTap), for `/inspect`. The bytes a connection moved (for the
//! close log line) are the library's count ([`switchyard::Traffic`]), not this wrapper's.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tap::{SharedTap, lock};

/// Any transport `S`, tapped once [`set_tap`](Self::set_tap) is called.
pub(crate) struct Tapped<S> {
    io: S,
    tap: Option<SharedTap>,
}

impl<S> Tapped<S> {
    pub(crate) fn new(io: S) -> Tapped<S> {
        Tapped { io, tap: None }
    }

    /// Shows every byte from now on to `tap`.
    pub(crate) fn set_tap(&mut self, tap: SharedTap) {
        self.tap = Some(tap);
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Tapped<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let Some(tap) = &this.tap else {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        };
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        lock(tap).on_read(&buf.filled()[before..]);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Tapped<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(tap) = &this.tap else {
            return Pin::new(&mut this.io).poll_write(cx, buf);
        };
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        lock(tap).on_write(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(tap) = &this.tap else {
            return Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        };
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        let mut tap = lock(tap);
        let mut left = n;
        for buf in bufs {
            let part = left.min(buf.len());
            tap.on_write(&buf[..part]);
            left -= part;
        }
        Poll::Ready(Ok(n))
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::tap::ByteTap;

    #[derive(Default)]
    struct Recorder {
        read: Vec<u8>,
        written: Vec<u8>,
    }

    impl ByteTap for Recorder {
        fn on_read(&mut self, bytes: &[u8]) {
            self.read.extend_from_slice(bytes);
        }

        fn on_write(&mut self, bytes: &[u8]) {
            self.written.extend_from_slice(bytes);
        }
    }

    #[tokio::test]
    async fn taps_every_byte_only_after_the_tap_is_set() {
        let (io, mut peer) = tokio::io::duplex(64);
        let mut tapped = Tapped::new(io);
        tapped.write_all(b"before").await.unwrap();
        let recorder = Arc::new(Mutex::new(Recorder::default()));
        tapped.set_tap(recorder.clone());
        let parts = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
        let n = tapped.write_vectored(&parts).await.unwrap();
        tapped.write_all(b"!").await.unwrap();
        peer.write_all(b"in").await.unwrap();
        let mut buf = [0u8; 2];
        tapped.read_exact(&mut buf).await.unwrap();
        let mut seen = [0u8; 16];
        let m = peer.read(&mut seen).await.unwrap();
        assert_eq!(&seen[..m], &b"beforevectored!"[..m]);
        let recorder = lock(&recorder);
        let mut expected = b"vectored"[..n].to_vec();
        expected.push(b'!');
        assert_eq!(recorder.written, expected);
        assert_eq!(recorder.read, b"in");
    }
}
