//! The reads the driver makes: after a read that did not fill its room and ended between
//! frames, the next read (which almost always finds nothing) goes into a small buffer of the
//! driver's own; whatever it does find still reaches the application, whole and in order.

mod common;

use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use common::*;
use switchyard::{Config, Message, Role, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A transport that hands out scripted chunks, one per read (as much of a chunk as the read's
/// buffer takes), then blocks forever; it records the room each read offered, and swallows
/// what is written.
struct Scripted {
    chunks: VecDeque<Vec<u8>>,
    offered: Arc<Mutex<Vec<usize>>>,
}

impl AsyncRead for Scripted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.offered.lock().unwrap().push(buf.remaining());
        let Some(mut chunk) = self.chunks.pop_front() else {
            return Poll::Pending;
        };
        let n = chunk.len().min(buf.remaining());
        buf.put_slice(&chunk[..n]);
        if n < chunk.len() {
            self.chunks.push_front(chunk.split_off(n));
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn what_a_read_expected_to_block_finds_is_delivered_whole_and_in_order() {
    within(10, async {
        let big = pattern(3000);
        let chunks = [
            client_frame(true, 0x2, b"one"),
            client_frame(true, 0x2, &big),
            client_frame(true, 0x2, b"three"),
        ];
        let offered = Arc::new(Mutex::new(Vec::new()));
        let io = Scripted {
            chunks: chunks.iter().cloned().collect(),
            offered: Arc::clone(&offered),
        };
        let mut ws = WebSocket::from_upgraded(io, Role::Server, &[], &Config::default());
        for expected in [&b"one"[..], &big, b"three"] {
            let message = ws.recv().await.unwrap().unwrap();
            assert_eq!(message, Message::Binary(expected.to_vec().into()));
        }
        let offered = offered.lock().unwrap().clone();
        // 1: the read buffer, which "one" leaves short of full, between frames; 2: a small
        // buffer, which takes the start of the large frame; 3: the read buffer again, for the
        // rest of it; 4: a small buffer, which finds "three".
        assert!(offered.len() >= 4, "reads offered {offered:?}");
        let small = offered[1];
        assert!(
            small < offered[0] && small < chunks[1].len(),
            "reads offered {offered:?}"
        );
        assert!(
            offered[2] >= chunks[1].len() - small,
            "reads offered {offered:?}"
        );
        assert_eq!(offered[3], small, "reads offered {offered:?}");
    })
    .await;
}
