//! [`ClientStream`]: the transport [`connect`](crate::connect) opens.
//!
//! An enum, so that TLS and HTTP/2 transports arrive as new variants without changing
//! `connect`'s signature.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// The byte stream under a connection made by [`connect`](crate::connect).
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientStream {
    /// A `ws://` connection: plain TCP, with `TCP_NODELAY` set.
    Plain(TcpStream),
    /// A `wss://` connection: TLS over TCP (the `tls` feature). Boxed: a TLS session is
    /// some hundreds of bytes beside a socket's handful.
    #[cfg(feature = "tls")]
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// A WebSocket over HTTP/2 (the `http2` feature): one stream of an HTTP/2 connection
    /// (RFC 8441).
    #[cfg(feature = "http2")]
    Http2(Box<crate::http2::H2Stream>),
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_read(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write(cx, buf),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_write_vectored(cx, bufs),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ClientStream::Plain(tcp) => tcp.is_write_vectored(),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => tls.is_write_vectored(),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => h2.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_flush(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(tcp) => Pin::new(tcp).poll_shutdown(cx),
            #[cfg(feature = "tls")]
            ClientStream::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
            #[cfg(feature = "http2")]
            ClientStream::Http2(h2) => Pin::new(h2.as_mut()).poll_shutdown(cx),
        }
    }
}
