//! Cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3) on the plain listener: a connection
//! whose first bytes are the client connection preface speaks HTTP/2; anything else is
//! HTTP/1.1. No HTTP/1.1 request can start with the preface (`PRI` is not a method any route
//! serves, and `HTTP/2.0` not a version it speaks), so the first bytes decide.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// RFC 9113 §3.4: the client connection preface.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the first bytes said.
pub(crate) enum Sniffed {
    /// HTTP/2: the preface was read, and is in the bytes to replay.
    Http2(Vec<u8>),
    /// HTTP/1.1: the bytes read so far, the start of the request.
    Http1(Vec<u8>),
}

/// Reads until the bytes either are the preface or cannot be, within `timeout`. `None` if
/// the client went away or said nothing in time.
pub(crate) async fn sniff<S: AsyncRead + Unpin>(io: &mut S, timeout: Duration) -> Option<Sniffed> {
    let read = async {
        // The head buffer's first reservation, as `PendingUpgrade` would make it.
        let mut buf = Vec::with_capacity(2048);
        loop {
            if io.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
            }
            let seen = buf.len().min(PREFACE.len());
            if buf[..seen] != PREFACE[..seen] {
                return Ok(Sniffed::Http1(buf));
            }
            if seen == PREFACE.len() {
                return Ok(Sniffed::Http2(buf));
            }
        }
    };
    match tokio::time::timeout(timeout, read).await {
        Ok(Ok(sniffed)) => Some(sniffed),
        Ok(Err(_)) | Err(_) => None,
    }
}

/// A stream whose first bytes were already read: they are read again first.
pub(crate) struct Rewound<S> {
    first: Bytes,
    io: S,
}

impl<S> Rewound<S> {
    pub(crate) fn new(first: Vec<u8>, io: S) -> Rewound<S> {
        Rewound {
            first: Bytes::from(first),
            io,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Rewound<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.first.is_empty() {
            return Pin::new(&mut this.io).poll_read(cx, buf);
        }
        let n = this.first.len().min(buf.remaining());
        buf.put_slice(&this.first[..n]);
        this.first.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Rewound<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
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
    use super::*;

    #[tokio::test]
    async fn the_preface_in_pieces_is_http2_and_a_get_is_http1() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let writer = tokio::spawn(async move {
            for piece in PREFACE.chunks(5) {
                tokio::io::AsyncWriteExt::write_all(&mut client, piece)
                    .await
                    .unwrap();
                tokio::task::yield_now().await;
            }
            client
        });
        let sniffed = sniff(&mut server, Duration::from_secs(5)).await;
        assert!(matches!(sniffed, Some(Sniffed::Http2(ref b)) if b == PREFACE));
        drop(writer.await.unwrap());

        let (mut client, mut server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b"PUT / HTTP/1.1\r\n")
            .await
            .unwrap();
        let sniffed = sniff(&mut server, Duration::from_secs(5)).await;
        assert!(matches!(sniffed, Some(Sniffed::Http1(ref b)) if b.starts_with(b"PU")));
    }

    #[tokio::test]
    async fn silence_and_eof_are_nothing() {
        let (_client, mut server) = tokio::io::duplex(64);
        assert!(
            sniff(&mut server, Duration::from_millis(50))
                .await
                .is_none()
        );
        let (client, mut server) = tokio::io::duplex(64);
        drop(client);
        assert!(
            sniff(&mut server, Duration::from_millis(50))
                .await
                .is_none()
        );
    }

    #[tokio::test]
    async fn rewound_bytes_come_first() {
        let (mut client, server) = tokio::io::duplex(64);
        tokio::io::AsyncWriteExt::write_all(&mut client, b" world")
            .await
            .unwrap();
        drop(client);
        let mut rewound = Rewound::new(b"hello".to_vec(), server);
        let mut all = String::new();
        rewound.read_to_string(&mut all).await.unwrap();
        assert_eq!(all, "hello world");
    }
}
