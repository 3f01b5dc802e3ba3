//! TCP for servers on threaded runtimes: [`Listener`] and [`Socket`], read and written with
//! the kernel's system calls directly.
//!
//! Why: glibc makes `recv`, `send` and `writev` cancellation points (POSIX thread
//! cancellation, which Rust never uses). Once a process has a second thread — every
//! multi-thread Tokio runtime, or a current-thread one off the main thread — each call
//! switches asynchronous cancellation on and off around the system call: measured with
//! callgrind on the `switchyard` binary, about 100 instructions of each 16 B echo's 2,200.
//! [rustix] makes the system calls itself on Linux, so they cost a few instructions each.
//! Elsewhere it calls the C library, as Tokio's own types do.
//!
//! Readiness is Tokio's ([`AsyncFd`]): the same reactor, the same cooperative budget, and,
//! as in Tokio's `TcpStream`, a read or write the kernel cut short is taken to mean that
//! the socket has nothing more for now, so no call is made only to hear `EAGAIN`.
//!
//! Writes pass `MSG_NOSIGNAL`, vectored ones too (`sendmsg`, where `writev` could raise
//! `SIGPIPE` in a process that did not ignore it).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! let listener = switchyard::net::Listener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (socket, _peer) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let Ok((mut ws, _request)) = switchyard::accept(socket).await else {
//!             return;
//!         };
//!         while let Some(Ok(message)) = ws.recv().await {
//!             if ws.send(message).await.is_err() {
//!                 return;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```

use std::io::{self, IoSlice};
use std::mem::MaybeUninit;
use std::net::{self as std_net, Shutdown, SocketAddr};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::io::Errno;
use rustix::net::{RecvFlags, SendAncillaryBuffer, SendFlags, SocketFlags};
use tokio::io::unix::{AsyncFd, AsyncFdReadyGuard};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A listening TCP socket whose accepted connections are [`Socket`]s: each is registered
/// with the runtime once, as it is accepted (converting a Tokio `TcpStream` registers it
/// again).
#[derive(Debug)]
pub struct Listener {
    fd: AsyncFd<std_net::TcpListener>,
}

impl Listener {
    /// Binds as [`tokio::net::TcpListener::bind`] does (address reuse, a backlog of 1,024).
    ///
    /// # Errors
    /// Binding's, or registering with the runtime's reactor (outside a runtime, or one
    /// without I/O enabled).
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs) -> io::Result<Listener> {
        Listener::try_from(tokio::net::TcpListener::bind(addr).await?)
    }

    /// The listener's own address (its port, when it was bound to port 0).
    ///
    /// # Errors
    /// The system call's.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.fd.get_ref().local_addr()
    }

    /// The next connection and its peer's address.
    ///
    /// # Errors
    /// `accept4`'s: out of file descriptors (`EMFILE`) is the one a server sees; the
    /// listener stays usable.
    pub async fn accept(&self) -> io::Result<(Socket, SocketAddr)> {
        std::future::poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// [`accept`](Self::accept) for code that polls by hand.
    ///
    /// # Errors
    /// As [`accept`](Self::accept).
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(Socket, SocketAddr)>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
            match rustix::net::acceptfrom_with(self.fd.get_ref(), flags) {
                Ok((fd, peer)) => {
                    let peer = peer
                        .and_then(|peer| SocketAddr::try_from(peer).ok())
                        .ok_or_else(|| {
                            io::Error::other("accepted a connection without an IP peer")
                        });
                    return Poll::Ready(peer.and_then(|peer| {
                        Ok((Socket::registered(std_net::TcpStream::from(fd))?, peer))
                    }));
                }
                // Taken by another task (or never there): wait for the next.
                Err(Errno::AGAIN) => guard.clear_ready(),
                // Reset before it was accepted: others may wait behind it.
                Err(Errno::CONNABORTED | Errno::INTR) => {}
                Err(error) => return Poll::Ready(Err(error.into())),
            }
        }
    }
}

/// Takes over a bound Tokio listener (registered again, once).
impl TryFrom<tokio::net::TcpListener> for Listener {
    type Error = io::Error;

    fn try_from(listener: tokio::net::TcpListener) -> io::Result<Listener> {
        Ok(Listener {
            fd: register(listener.into_std()?)?,
        })
    }
}

/// Registers `io` with the current runtime's reactor.
///
/// # Panics
/// Outside a Tokio runtime with I/O enabled, as Tokio's own `from_std` conversions.
#[allow(unsafe_code)]
fn register<T: AsRawFd>(io: T) -> io::Result<AsyncFd<T>> {
    // SAFETY: `T` is a `std::net` socket: it owns its file descriptor, which stays open and
    // the same until it is dropped (by the `AsyncFd`), and `as_raw_fd` always returns it.
    // Nothing here hands out `&mut T`, through which it could be replaced.
    Ok(unsafe { AsyncFd::register(io) }?)
}

/// A TCP connection, for [`accept`](crate::accept) or any code that reads and writes
/// through Tokio's [`AsyncRead`] and [`AsyncWrite`]: a [`Listener`]'s, or a Tokio
/// `TcpStream` converted (registered with the runtime again, one system call pair).
#[derive(Debug)]
pub struct Socket {
    fd: AsyncFd<std_net::TcpStream>,
}

impl Socket {
    /// `tcp` is non-blocking already (accepted so).
    fn registered(tcp: std_net::TcpStream) -> io::Result<Socket> {
        Ok(Socket { fd: register(tcp)? })
    }

    /// The socket itself, for the options and addresses of [`std::net::TcpStream`]
    /// (`set_nodelay`, `peer_addr`, …). Reading or writing through it bypasses readiness:
    /// use this type's own methods for that.
    #[must_use]
    pub fn get_ref(&self) -> &std_net::TcpStream {
        self.fd.get_ref()
    }

    /// Sets `TCP_NODELAY` (see [`std::net::TcpStream::set_nodelay`]).
    ///
    /// # Errors
    /// The system call's.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(nodelay)
    }

    /// The peer's address.
    ///
    /// # Errors
    /// The system call's (the peer has gone: `ENOTCONN`).
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }

    /// Runs `send` once the socket is writable, until it does not hear `EAGAIN`; a write
    /// shorter than `len` clears the readiness (the kernel's buffer is full).
    #[inline(always)]
    fn poll_send(
        &self,
        cx: &mut Context<'_>,
        len: usize,
        send: impl Fn(&std_net::TcpStream) -> rustix::io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match send(self.get_ref()) {
                Ok(sent) => {
                    if sent < len {
                        guard.clear_ready();
                    }
                    return Poll::Ready(Ok(sent));
                }
                Err(Errno::AGAIN) => guard.clear_ready(),
                Err(Errno::INTR) => {}
                Err(error) => return Poll::Ready(Err(error.into())),
            }
        }
    }
}

/// Takes over a connected Tokio stream (registered again, once).
impl TryFrom<tokio::net::TcpStream> for Socket {
    type Error = io::Error;

    fn try_from(tcp: tokio::net::TcpStream) -> io::Result<Socket> {
        Socket::registered(tcp.into_std()?)
    }
}

/// The reads and writes are inlined into their callers (`#[inline(always)]`, with the
/// helpers they share): each is a readiness check and a system call, and out of line each
/// call saved and restored the registers of a function of its own, two reads and a write per
/// echoed message. Callgrind, the binary's `/echo` per 16 B echo: 2,081 -> 1,962 (1 KiB and
/// 64 KiB: 114 and 116 fewer).
impl AsyncRead for Socket {
    #[inline(always)]
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let guard = ready!(self.fd.poll_read_ready(cx))?;
            match recv_into(&guard, buf) {
                Err(Errno::AGAIN) => clear(guard),
                Err(Errno::INTR) => {}
                Err(error) => return Poll::Ready(Err(error.into())),
                Ok(short) => {
                    if short {
                        clear(guard);
                    }
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

/// Forgets the readiness `guard` saw: the next poll waits for the reactor's next event.
#[inline(always)]
fn clear(mut guard: AsyncFdReadyGuard<'_, std_net::TcpStream>) {
    guard.clear_ready();
}

/// One `recv` into the part of `buf` not yet filled, counted as filled; whether the kernel
/// had less than there was room for (so nothing more, for now). An end of stream fills
/// nothing and is not short: the next read sees it again, as Tokio's streams do.
#[allow(unsafe_code)]
#[inline]
fn recv_into(
    guard: &AsyncFdReadyGuard<'_, std_net::TcpStream>,
    buf: &mut ReadBuf<'_>,
) -> rustix::io::Result<bool> {
    // SAFETY: nothing de-initializes what this slice covers: `recv` only writes received
    // bytes into it.
    let unfilled: &mut [MaybeUninit<u8>] = unsafe { buf.unfilled_mut() };
    let room = unfilled.len();
    let ((received, _), _) = rustix::net::recv(guard.get_inner(), unfilled, RecvFlags::empty())?;
    let read = received.len();
    // SAFETY: rustix returns the initialized part as the front of the slice it was lent,
    // the first `read` bytes of `buf`'s unfilled part, which `recv` wrote.
    unsafe { buf.assume_init(read) };
    buf.advance(read);
    Ok(read != 0 && read < room)
}

impl AsyncWrite for Socket {
    #[inline(always)]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, buf.len(), |tcp| {
            rustix::net::send(tcp, buf, SendFlags::NOSIGNAL)
        })
    }

    #[inline(always)]
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|buf| buf.len()).sum();
        self.poll_send(cx, len, |tcp| {
            rustix::net::sendmsg(
                tcp,
                bufs,
                &mut SendAncillaryBuffer::default(),
                SendFlags::NOSIGNAL,
            )
        })
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    /// Nothing to flush: every write went to the kernel.
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Shuts the writing side (a FIN), as Tokio's `TcpStream` does.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.get_ref().shutdown(Shutdown::Write))
    }
}
