//! Cleartext HTTP/2 with prior knowledge (RFC 9113 §3.3) on the plain listener: a connection
//! whose first bytes are the client connection preface speaks HTTP/2; anything else is
//! HTTP/1.1. The preface begins as an HTTP/1.1-shaped head (`PRI * HTTP/2.0`, then an empty
//! line) that no HTTP/1.1 request can be (`HTTP/2.0` is not a version the parser takes), so
//! the connection is read as HTTP/1.1 and what the request reader refused is checked for the
//! preface: an HTTP/1.1 handshake costs no separate sniffing read, timer or task state.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// RFC 9113 §3.4: the client connection preface.
pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether `received`, the bytes of a request head the HTTP/1.1 reader refused, opens
/// HTTP/2: they are the preface, or its start (the rest is read by the HTTP/2 server, which
/// checks it whole). The reader returns once it has a head, so the start is at least
/// `PRI * HTTP/2.0` and its empty line.
pub(crate) fn opens_http2(received: &[u8]) -> bool {
    let seen = received.len().min(PREFACE.len());
    seen > 0 && received[..seen] == PREFACE[..seen]
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
    use tokio::io::AsyncReadExt;

    #[test]
    fn the_preface_and_its_start_open_http2_and_nothing_else_does() {
        assert!(opens_http2(PREFACE));
        assert!(opens_http2(&PREFACE[..18]));
        let mut more = PREFACE.to_vec();
        more.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        assert!(opens_http2(&more));
        for not in [
            &b""[..],
            b"GET / HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/1.1\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
            b"pri * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        ] {
            assert!(!opens_http2(not), "{not:?}");
        }
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
