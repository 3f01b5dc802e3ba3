//! Backpressure: a peer that never reads cannot grow the connection's memory past the
//! write-buffer bound, whether the application sends or the peer floods pings.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use futures_util::SinkExt;
use switchyard::{Config, Message, accept_with_config};
use tokio::io::AsyncWriteExt;

const BOUND: usize = 64 * 1024;
const MESSAGE: usize = 1024;
/// The largest frame header.
const HEADER: usize = 14;

#[tokio::test]
async fn feeding_a_peer_that_never_reads_stops_at_the_bound() {
    within(60, async {
        let config = Config::default().with_write_buffer_size(BOUND);
        let (listener, mut peer) = small_buffer_pair().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            let message = Message::Binary(pattern(MESSAGE).into());
            let mut queued = 0usize;
            let mut worst = 0;
            // `feed` waits for room; once the socket buffers are full it waits for good.
            while let Ok(result) =
                tokio::time::timeout(Duration::from_millis(500), ws.feed(message.clone())).await
            {
                result.unwrap();
                queued += 1;
                worst = worst.max(ws.buffered_amount());
            }
            (queued, worst, ws.buffered_amount())
        });
        upgrade_on(&mut peer, "/").await;
        let (queued, worst, now) = server.await.unwrap();
        drop(peer);
        assert!(worst <= BOUND + MESSAGE + HEADER, "buffered {worst} bytes");
        assert!(now <= BOUND + MESSAGE + HEADER, "buffered {now} bytes");
        // The buffer did fill: what the kernel did not take waited instead of queueing.
        assert!(queued * MESSAGE > BOUND, "only {queued} messages went out");
    })
    .await;
}

#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_pauses_reading() {
    within(120, async {
        let config = Config::default().with_write_buffer_size(BOUND);
        let (listener, mut peer) = small_buffer_pair().await;
        let worst = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(AtomicUsize::new(0));
        let (worst2, seen2) = (Arc::clone(&worst), Arc::clone(&seen));
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            while let Some(Ok(_)) = ws.recv_event().await {
                seen2.fetch_add(1, Ordering::Relaxed);
                worst2.fetch_max(ws.buffered_amount(), Ordering::Relaxed);
            }
        });
        upgrade_on(&mut peer, "/").await;
        let ping = client_frame(true, 0x9, &[b'p'; 125]);
        let burst: Vec<u8> = ping
            .iter()
            .copied()
            .cycle()
            .take(ping.len() * 100)
            .collect();
        let mut sent = 0usize;
        // Write until the server stops reading and the socket buffers are full.
        while tokio::time::timeout(Duration::from_millis(500), peer.write_all(&burst))
            .await
            .is_ok()
        {
            sent += burst.len();
            assert!(sent < 1 << 30, "the server never stopped reading");
        }
        let pings = seen.load(Ordering::Relaxed);
        assert!(pings > 100, "only {pings} pings read");
        // The core answers pings directly until its replies pass the one bound, then owes one
        // coalesced pong and stops reading until the output drains.
        let worst = worst.load(Ordering::Relaxed);
        let limit = BOUND + 2 * 127;
        assert!(worst <= limit, "buffered {worst} bytes, over {limit}");
    })
    .await;
}

/// A transport that takes a few bytes per write (and is full until the peer reads): a
/// message the driver writes at once goes out in part, the rest queued behind it and written
/// as room comes, so the peer gets every frame whole and in order, from the connection, its
/// write half, and a hand-written poll loop alike; over a transport that writes one slice at
/// a time (header and payload then go through the queue) and over one that writes several
/// (header and payload as they are, in one vectored write).
#[tokio::test]
async fn a_transport_that_takes_a_few_bytes_at_a_time_gets_every_message_whole() {
    use switchyard::{Role, WebSocket};
    within(60, async {
        let messages: Vec<Message> = (0..300)
            .map(|i| {
                // Mostly short; now and then past the size written from the stack, and past
                // the size queued by reference.
                let len = match i % 50 {
                    7 => 1024,
                    21 => 5000,
                    _ => i % 200,
                };
                if i % 3 == 0 {
                    Message::Text(String::from_utf8(vec![b'x'; len]).unwrap().into())
                } else {
                    Message::Binary(pattern(len).into())
                }
            })
            .collect();
        for vectored in [false, true] {
            for how in ["send", "write half", "poll_send"] {
                let (server_io, client_io) = tokio::io::duplex(7);
                let server_io = Trickle {
                    inner: server_io,
                    vectored,
                    writes: 0,
                };
                let config = Config::default();
                let mut server = WebSocket::from_upgraded(server_io, Role::Server, &[], &config);
                let mut client = WebSocket::from_upgraded(client_io, Role::Client, &[], &config);
                let sent = messages.clone();
                let sender = tokio::spawn(async move {
                    match how {
                        "write half" => {
                            let (read, mut write) = server.split();
                            for message in sent {
                                write.send(message).await.unwrap();
                            }
                            drop(read);
                        }
                        "poll_send" => {
                            for message in sent {
                                let mut owed = Some(message);
                                std::future::poll_fn(|cx| server.poll_send(cx, &mut owed))
                                    .await
                                    .unwrap();
                                assert!(owed.is_none(), "taken once sent");
                            }
                        }
                        _ => {
                            for message in sent {
                                server.send(message).await.unwrap();
                            }
                        }
                    }
                });
                let mut received = Vec::new();
                for _ in 0..messages.len() {
                    received.push(client.recv().await.unwrap().unwrap());
                }
                assert_eq!(received, messages, "{how}, vectored {vectored}");
                sender.await.unwrap();
            }
        }
    })
    .await;
}

/// A transport over `inner` that takes 1 to 9 bytes per write, in turn; `vectored` says
/// whether it writes from several slices in one call (as TCP does) or the first only.
struct Trickle<S> {
    inner: S,
    vectored: bool,
    writes: usize,
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Trickle<S> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Trickle<S> {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.poll_write_vectored(cx, &[std::io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let most = 1 + self.writes % 9;
        let mut gathered = Vec::new();
        for buf in bufs {
            let room = most - gathered.len();
            gathered.extend_from_slice(&buf[..buf.len().min(room)]);
            if !self.vectored && !buf.is_empty() {
                break;
            }
        }
        let written = std::pin::Pin::new(&mut self.inner).poll_write(cx, &gathered);
        if matches!(written, std::task::Poll::Ready(Ok(n)) if n > 0) {
            self.writes += 1;
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.vectored
    }

    fn poll_flush(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
