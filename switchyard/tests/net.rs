//! `switchyard::net`: [`Socket`] reads and writes what Tokio's `TcpStream` (its safe
//! reference twin) does, byte for byte, through short reads, full buffers, vectored writes,
//! backpressure, the end of the stream and a reset; [`Listener`] accepts with the peer's
//! address; and a WebSocket runs over it.
#![cfg(unix)]

mod common;

use std::io::IoSlice;
use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use switchyard::net::{Listener, Socket};
use switchyard::{Message, accept};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

/// A connected pair: the side under test, `S` (accepted by a [`Listener`] and converted
/// as the caller says), and a plain Tokio peer.
async fn pair<S>(wrap: impl FnOnce(Socket) -> S) -> (S, TcpStream) {
    let listener = Listener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (peer, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let peer = peer.unwrap();
    let (socket, from) = accepted.unwrap();
    assert_eq!(from, peer.local_addr().unwrap(), "the peer's address");
    (wrap(socket), peer)
}

/// Tokio's own stream over the same kind of accepted socket: the reference.
fn tokio_stream(socket: Socket) -> TcpStream {
    let std = socket.get_ref().try_clone().unwrap();
    drop(socket);
    TcpStream::from_std(std).unwrap()
}

/// The script both streams run: the peer sends `total` bytes in uneven pieces; the side
/// under test reads them with buffers of changing sizes and sends each piece back, by
/// single and by vectored writes in turn; then the peer shuts its side, the side under
/// test sees the end twice and shuts its own. Returns what the peer got back.
async fn echo_script<S: AsyncRead + AsyncWrite + Unpin>(
    mut under: S,
    mut peer: TcpStream,
    total: usize,
) -> Vec<u8> {
    let sent = pattern(total);
    let writer = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let (mut read, mut write) = peer.split();
            let send = async {
                let mut at = 0;
                for (i, piece) in [1usize, 2, 100, 4096, 70_000, 1 << 20]
                    .iter()
                    .cycle()
                    .enumerate()
                {
                    if at == sent.len() {
                        break;
                    }
                    let end = (at + piece + i).min(sent.len());
                    write.write_all(&sent[at..end]).await.unwrap();
                    at = end;
                }
                write.shutdown().await.unwrap();
            };
            let mut back = Vec::new();
            let receive = read.read_to_end(&mut back);
            let ((), received) = tokio::join!(send, receive);
            received.unwrap();
            back
        })
    };
    let mut buf = vec![0; 1 << 17];
    let mut round = 0usize;
    loop {
        let room = [1, 7, 4096, 65_536, 1 << 17][round % 5];
        let n = under.read(&mut buf[..room]).await.unwrap();
        if n == 0 {
            break;
        }
        if round.is_multiple_of(2) {
            under.write_all(&buf[..n]).await.unwrap();
        } else {
            let third = n / 3;
            let mut rest = &buf[..n];
            while !rest.is_empty() {
                let cut = third.min(rest.len());
                let slices = [IoSlice::new(&rest[..cut]), IoSlice::new(&rest[cut..])];
                let written = under.write_vectored(&slices).await.unwrap();
                assert!(written > 0);
                rest = &rest[written..];
            }
        }
        round += 1;
    }
    // The end stays the end.
    assert_eq!(under.read(&mut buf).await.unwrap(), 0);
    under.shutdown().await.unwrap();
    let back = writer.await.unwrap();
    assert_eq!(back.len(), sent.len());
    assert!(back == sent, "the bytes came back changed");
    back
}

#[tokio::test]
async fn socket_carries_what_tokios_stream_carries() {
    within(60, async {
        for total in [0, 1, 5_000, 3 << 20] {
            let (socket, peer) = pair(|socket| socket).await;
            let ours = echo_script(socket, peer, total).await;
            let (tokio, peer) = pair(tokio_stream).await;
            let reference = echo_script(tokio, peer, total).await;
            assert!(ours == reference, "{total} bytes");
        }
    })
    .await;
}

#[tokio::test]
async fn a_read_that_fills_the_buffer_leaves_the_rest_to_read() {
    within(20, async {
        let (mut socket, mut peer) = pair(|socket| socket).await;
        peer.write_all(&pattern(1000)).await.unwrap();
        // Wait until all of it has arrived, so that nothing new wakes the reader below.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let mut got = Vec::new();
        let mut buf = [0; 10];
        while got.len() < 1000 {
            let n = socket.read(&mut buf).await.unwrap();
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, pattern(1000));
    })
    .await;
}

#[tokio::test]
async fn a_short_read_waits_for_the_next_bytes() {
    within(20, async {
        let (mut socket, mut peer) = pair(|socket| socket).await;
        let mut buf = vec![0; 65_536];
        for round in 0..20u8 {
            let bytes = [round; 10];
            let sender = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                peer.write_all(&bytes).await.unwrap();
                peer
            });
            let n = socket.read(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &bytes[..n]);
            if n < 10 {
                socket.read_exact(&mut buf[n..10]).await.unwrap();
            }
            peer = sender.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn a_full_socket_waits_for_the_peer_to_read() {
    within(60, async {
        let (mut socket, mut peer) = pair(|socket| socket).await;
        // More than loopback's send and receive buffers together.
        const TOTAL: usize = 32 << 20;
        let writer = tokio::spawn(async move {
            let data = pattern(TOTAL);
            // Vectored and not, in turns.
            for chunk in data.chunks(1 << 20).enumerate() {
                match chunk {
                    (i, bytes) if i.is_multiple_of(2) => socket.write_all(bytes).await.unwrap(),
                    (_, bytes) => {
                        let mut rest = bytes;
                        while !rest.is_empty() {
                            let half = rest.len() / 2;
                            let slices = [IoSlice::new(&rest[..half]), IoSlice::new(&rest[half..])];
                            let n = socket.write_vectored(&slices).await.unwrap();
                            rest = &rest[n..];
                        }
                    }
                }
            }
            socket.shutdown().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert!(!writer.is_finished(), "the writer did not wait for room");
        let mut got = Vec::with_capacity(TOTAL);
        peer.read_to_end(&mut got).await.unwrap();
        writer.await.unwrap();
        assert!(got == pattern(TOTAL), "the bytes arrived changed");
    })
    .await;
}

#[tokio::test]
async fn a_reset_is_an_error_and_a_closed_peer_fails_writes() {
    within(20, async {
        let (mut socket, peer) = pair(|socket| socket).await;
        // Closing with unread data, or lingering zero seconds, sends a reset.
        peer.set_zero_linger().unwrap();
        drop(peer);
        let mut buf = [0; 16];
        let error = socket.read(&mut buf).await.unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
        // Writes to it fail (EPIPE, not a signal: `MSG_NOSIGNAL`).
        let mut failed = None;
        for _ in 0..100 {
            if let Err(error) = socket.write_all(&[0; 1024]).await {
                failed = Some(error.kind());
                break;
            }
        }
        assert!(matches!(
            failed,
            Some(std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset)
        ));
    })
    .await;
}

#[tokio::test]
async fn the_listener_accepts_many_with_their_addresses() {
    within(20, async {
        let listener = Listener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let clients = tokio::spawn(async move {
            let mut addrs = Vec::new();
            let mut streams = Vec::new();
            for _ in 0..50 {
                let tcp = TcpStream::connect(addr).await.unwrap();
                addrs.push(tcp.local_addr().unwrap());
                streams.push(tcp);
            }
            (addrs, streams)
        });
        let mut accepted: Vec<SocketAddr> = Vec::new();
        for _ in 0..50 {
            let (socket, from) = listener.accept().await.unwrap();
            assert_eq!(socket.peer_addr().unwrap(), from);
            accepted.push(from);
        }
        let (mut addrs, _streams) = clients.await.unwrap();
        accepted.sort();
        addrs.sort();
        assert_eq!(accepted, addrs);
    })
    .await;
}

#[tokio::test]
async fn a_websocket_runs_over_a_socket_and_a_converted_stream() {
    within(20, async {
        let listener = Listener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            socket.set_nodelay(true).unwrap();
            let (mut ws, _) = accept(socket).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message).await.unwrap();
            }
        });
        let tcp = Socket::try_from(TcpStream::connect(addr).await.unwrap()).unwrap();
        let options = switchyard::ClientOptions::default();
        let (mut ws, _) = switchyard::client_handshake(tcp, &addr.to_string(), "/", &options)
            .await
            .unwrap();
        for size in [0, 125, 126, 65_536, 1 << 20] {
            ws.send(Message::Binary(pattern(size).into()))
                .await
                .unwrap();
            let back = ws.recv().await.unwrap().unwrap();
            assert_eq!(back, Message::Binary(pattern(size).into()));
        }
        ws.close(switchyard::CloseCode::NORMAL, "").await.unwrap();
        ws.closed().await.unwrap();
        server.await.unwrap();
    })
    .await;
}
