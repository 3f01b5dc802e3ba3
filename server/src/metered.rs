//! [`Metered`]: a transport that counts its bytes (for the close log line) and shows them to
//! an optional [`ByteTap`](crate::tap::ByteTap).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::tap::{SharedTap, lock};

/// Bytes read and written, readable from outside the connection.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    read: AtomicU64,
    written: AtomicU64,
}

impl Counters {
    pub(crate) fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    pub(crate) fn written(&self) -> u64 {
        self.written.load(Ordering::Relaxed)
    }
}

/// Any transport `S`, counted, and tapped once [`set_tap`](Self::set_tap) is called.
pub(crate) struct Metered<S> {
    io: S,
    counters: Arc<Counters>,
    tap: Option<SharedTap>,
}

impl<S> Metered<S> {
    pub(crate) fn new(io: S, counters: Arc<Counters>) -> Metered<S> {
        Metered {
            io,
            counters,
            tap: None,
        }
    }

    /// Shows every byte from now on to `tap`.
    pub(crate) fn set_tap(&mut self, tap: SharedTap) {
        self.tap = Some(tap);
    }

    fn wrote(&self, bufs: &[IoSlice<'_>], mut n: usize) {
        self.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(tap) = &self.tap {
            let mut tap = lock(tap);
            for buf in bufs {
                let part = n.min(buf.len());
                tap.on_write(&buf[..part]);
                n -= part;
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.io).poll_read(cx, buf))?;
        let fresh = &buf.filled()[before..];
        this.counters
            .read
            .fetch_add(fresh.len() as u64, Ordering::Relaxed);
        if let Some(tap) = &this.tap {
            lock(tap).on_read(fresh);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        this.wrote(&[IoSlice::new(buf)], n);
        Poll::Ready(Ok(n))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_write_vectored(cx, bufs))?;
        this.wrote(bufs, n);
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
    use std::sync::Mutex;

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
    async fn counts_and_taps_every_byte_only_after_the_tap_is_set() {
        let (io, mut peer) = tokio::io::duplex(64);
        let counters = Arc::new(Counters::default());
        let mut metered = Metered::new(io, Arc::clone(&counters));
        metered.write_all(b"before").await.unwrap();
        let recorder = Arc::new(Mutex::new(Recorder::default()));
        metered.set_tap(recorder.clone());
        let parts = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
        let n = metered.write_vectored(&parts).await.unwrap();
        peer.write_all(b"in").await.unwrap();
        let mut buf = [0u8; 2];
        metered.read_exact(&mut buf).await.unwrap();
        assert_eq!(counters.written(), 6 + n as u64);
        assert_eq!(counters.read(), 2);
        let recorder = lock(&recorder);
        assert_eq!(recorder.written, &b"vectored"[..n]);
        assert_eq!(recorder.read, b"in");
    }
}
