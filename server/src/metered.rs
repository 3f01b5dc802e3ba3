//! A TCP stream that counts its bytes (for the close log line) and, on `/inspect`, shows
//! them to the inspector's tap.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use crate::routes::inspect::Tap;

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

pub(crate) struct Metered {
    io: TcpStream,
    counters: Arc<Counters>,
    tap: Option<Box<Tap>>,
}

impl Metered {
    pub(crate) fn new(io: TcpStream, counters: Arc<Counters>) -> Metered {
        Metered {
            io,
            counters,
            tap: None,
        }
    }

    /// Starts showing every byte to a tap (the inspector).
    pub(crate) fn tap(&mut self) -> &mut Tap {
        self.tap.get_or_insert_with(Box::default)
    }
}

impl AsyncRead for Metered {
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
        if let Some(tap) = &mut this.tap {
            tap.on_read(fresh);
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Metered {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let n = ready!(Pin::new(&mut this.io).poll_write(cx, buf))?;
        this.counters.written.fetch_add(n as u64, Ordering::Relaxed);
        if let Some(tap) = &mut this.tap {
            tap.on_write(&buf[..n]);
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
