//! A peer that sends its messages and its close and goes away: our next write fails while
//! most of what it sent sits read but not yet decoded (decoding waits while
//! `max_queued_events` events do). Nothing already read is lost: every message reaches the
//! application, then the I/O error.

mod common;

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use common::*;
use switchyard::switchyard_core::connection::SendError;
use switchyard::{CloseCode, Config, Error, Message, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What the peer sent, handed out as fast as reads take it, then a reset; every write fails
/// as a socket whose peer has gone does.
struct Gone {
    input: Vec<u8>,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for Gone {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.input.is_empty() {
            return Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()));
        }
        let n = self.input.len().min(buf.remaining());
        buf.put_slice(&self.input[..n]);
        self.input.drain(..n);
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Gone {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.writes.fetch_add(1, Ordering::Relaxed);
        Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failed_write_loses_none_of_the_messages_already_read() {
    within(10, async {
        const SENT: usize = 1000;
        let mut input = Vec::new();
        for i in 0..SENT {
            input.extend(client_frame(true, 0x1, format!("m{i}").as_bytes()));
        }
        input.extend(client_frame(true, 0x8, &[0x03, 0xe8]));
        let writes = Arc::new(AtomicUsize::new(0));
        let io = Gone {
            input,
            writes: Arc::clone(&writes),
        };
        let mut ws = WebSocket::from_upgraded(io, Role::Server, &[], &Config::default());
        let mut received = Vec::new();
        let mut send_errors = Vec::new();
        let terminal = loop {
            match ws.recv().await {
                Some(Ok(Message::Text(text))) => {
                    received.push(text.as_str().to_owned());
                    // An echo: the first one finds the peer gone; the later ones are refused.
                    if let Err(e) = ws.send_text(text.as_str()).await {
                        send_errors.push(e);
                    }
                }
                Some(Ok(other)) => panic!("unexpected {other:?}"),
                Some(Err(e)) => break Some(e),
                None => break None,
            }
        };
        let expected: Vec<String> = (0..SENT).map(|i| format!("m{i}")).collect();
        assert_eq!(received.len(), SENT, "every message read was delivered");
        assert_eq!(received, expected);
        assert_eq!(send_errors.len(), SENT, "every echo failed");
        assert!(
            matches!(send_errors[0], Error::Io(_)),
            "{:?}",
            send_errors[0]
        );
        assert!(
            send_errors[1..]
                .iter()
                .all(|e| matches!(e, Error::Send(SendError::Closed))),
            "{send_errors:?}"
        );
        assert_eq!(
            writes.load(Ordering::Relaxed),
            1,
            "one write found the peer gone"
        );
        assert!(
            matches!(&terminal, Some(Error::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe),
            "{terminal:?}"
        );
        assert!(ws.recv().await.is_none());
        let info = ws.close_info().unwrap();
        assert_eq!(
            info.code,
            CloseCode::NORMAL,
            "the peer's close was read too"
        );
        assert!(!info.clean);
    })
    .await;
}
