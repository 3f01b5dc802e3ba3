//! The timers: keepalive, the handshake timeout and the close timeout, with short durations
//! so the tests finish quickly.

mod common;

use std::time::{Duration, Instant};

use common::*;
use switchyard::{
    AcceptError, ClientOptions, ClientStream, CloseCode, Config, Error, Initiator, PendingUpgrade,
    Role, WebSocket, accept_with_config, connect_with,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed_after_the_keepalive_timeout() {
    within(30, async {
        let config = Config::default().with_keepalive(Some(ms(100)), ms(200));
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            let started = Instant::now();
            let end = ws.recv().await;
            (
                end.map(|r| r.map_err(|e| e.to_string())),
                started.elapsed(),
                ws.close_info(),
            )
        });
        // A peer that completes the handshake, then reads but never answers.
        let mut peer = raw_upgrade(addr, "/").await;
        let (_, opcode, _) = read_server_frame(&mut peer).await.unwrap();
        assert_eq!(opcode, 0x9, "a keepalive ping");
        let (_, opcode, payload) = read_server_frame(&mut peer).await.unwrap();
        assert_eq!(opcode, 0x8, "then a close frame");
        assert_eq!(&payload[..2], &1011u16.to_be_bytes());
        assert!(read_server_frame(&mut peer).await.is_none(), "then EOF");
        let (end, elapsed, info) = server.await.unwrap();
        match end {
            Some(Err(e)) => assert_eq!(e, Error::KeepaliveTimeout.to_string()),
            other => panic!("expected a keepalive timeout, got {other:?}"),
        }
        assert!(elapsed >= ms(300) && elapsed < ms(3000), "{elapsed:?}");
        assert_eq!(info.unwrap().code, CloseCode::ABNORMAL);
    })
    .await;
}

/// A client connected to an echo server that pings after `interval` of silence and gives up
/// `timeout` later. The client's own keepalive is off: only the core's automatic pongs answer.
async fn client_of_pinging_server(
    interval: Duration,
    timeout: Duration,
) -> WebSocket<ClientStream> {
    let addr = echo_server(Config::default().with_keepalive(Some(interval), timeout)).await;
    let client =
        ClientOptions::default().with_config(Config::default().with_keepalive(None, ms(0)));
    let (ws, _) = connect_with(&format!("ws://{addr}/"), &client)
        .await
        .unwrap();
    ws
}

#[tokio::test]
async fn a_peer_that_answers_pings_stays_connected() {
    within(30, async {
        let mut ws = client_of_pinging_server(ms(50), ms(100)).await;
        let mut pings = 0;
        let idle = tokio::time::timeout(ms(800), async {
            while let Some(event) = ws.recv_event().await {
                if matches!(event.unwrap(), switchyard::Incoming::Ping(_)) {
                    pings += 1;
                }
            }
        })
        .await;
        assert!(idle.is_err(), "the connection stayed up");
        assert!(pings >= 3, "pinged {pings} times");
        ws.send_text("still here").await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            text_message("still here")
        );
    })
    .await;
}

/// Reads tell the core only that the peer was heard, not the time: the tick at the deadline
/// must still see it, so a peer that talks more often than the interval is never pinged, and
/// one that falls silent is pinged within two intervals of its last byte.
#[tokio::test]
async fn traffic_defers_the_ping_until_silence() {
    within(30, async {
        // An interval ten times the gap between messages: a stall of the machine (2 cores,
        // other tests beside) does not look like silence.
        let mut ws = client_of_pinging_server(ms(500), ms(5000)).await;
        // A message every 50 ms for a second: two intervals, no silence.
        for i in 0..20 {
            let text = format!("message {i}");
            ws.send_text(&text).await.unwrap();
            match ws.recv_event().await.unwrap().unwrap() {
                switchyard::Incoming::Message(m) => assert_eq!(m, text_message(&text)),
                other => panic!("pinged during traffic, before message {i}: {other:?}"),
            }
            tokio::time::sleep(ms(50)).await;
        }
        // Then silence: a ping comes, at most two intervals (and some slack) later.
        let silent = Instant::now();
        match ws.recv_event().await.unwrap().unwrap() {
            switchyard::Incoming::Ping(_) => {}
            other => panic!("{other:?}"),
        }
        let waited = silent.elapsed();
        assert!(waited >= ms(450) && waited < ms(2500), "{waited:?}");
    })
    .await;
}

#[tokio::test]
async fn a_slowloris_handshake_is_closed_after_the_handshake_timeout() {
    within(30, async {
        let config = Config::default().with_handshake_timeout(ms(300));
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let started = Instant::now();
            let result = accept_with_config(tcp, &config).await;
            (
                result.map(|_| ()).map_err(|e| e.to_string()),
                started.elapsed(),
            )
        });
        let mut peer = TcpStream::connect(addr).await.unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n";
        let started = Instant::now();
        let mut closed = false;
        for byte in request {
            if peer.write_all(&[*byte]).await.is_err() {
                closed = true;
                break;
            }
            tokio::time::sleep(ms(50)).await;
            let mut probe = [0u8; 1];
            if let Ok(Ok(0)) = tokio::time::timeout(ms(1), peer.read(&mut probe)).await {
                closed = true;
                break;
            }
        }
        assert!(closed, "the server kept reading a byte every 50 ms");
        let (result, elapsed) = server.await.unwrap();
        assert_eq!(result, Err(AcceptError::Timeout.to_string()));
        assert!(elapsed >= ms(300) && elapsed < ms(2000), "{elapsed:?}");
        assert!(started.elapsed() < ms(2000));
    })
    .await;
}

/// `read_by` ends the handshake at the deadline given (a TLS handshake before it used part of
/// the time), not a handshake timeout from the read, and the pending upgrade's deadline is
/// that one: its answer is due by then too.
#[tokio::test]
async fn read_by_keeps_the_deadline_it_is_given() {
    within(30, async {
        // A timeout of a minute, a deadline 300 ms away.
        let config = Config::default().with_handshake_timeout(Duration::from_secs(60));
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let started = Instant::now();
            let deadline = tokio::time::Instant::now() + ms(300);
            let silent = PendingUpgrade::read_by(tcp, Vec::new(), &config, deadline).await;
            let timed_out = matches!(silent, Err(AcceptError::Timeout));
            let elapsed = started.elapsed();
            let (tcp, _) = listener.accept().await.unwrap();
            let deadline = tokio::time::Instant::now() + ms(5000);
            let pending = PendingUpgrade::read_by(tcp, Vec::new(), &config, deadline).await;
            (timed_out, elapsed, pending.unwrap().deadline() == deadline)
        });
        let _silent = TcpStream::connect(addr).await.unwrap();
        let mut peer = TcpStream::connect(addr).await.unwrap();
        peer.write_all(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        let (timed_out, elapsed, kept) = server.await.unwrap();
        assert!(timed_out);
        assert!(elapsed >= ms(290) && elapsed < ms(5000), "{elapsed:?}");
        assert!(kept, "the pending upgrade's deadline is the one given");
    })
    .await;
}

#[tokio::test]
async fn the_close_timeout_ends_a_close_the_peer_never_answers() {
    within(30, async {
        let config = Config::default().with_close_timeout(ms(300));
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            let started = Instant::now();
            ws.close(CloseCode::NORMAL, "bye").await.unwrap();
            let info = ws.closed().await.unwrap();
            (info, started.elapsed())
        });
        let mut peer = raw_upgrade(addr, "/").await;
        let (_, opcode, _) = read_server_frame(&mut peer).await.unwrap();
        assert_eq!(opcode, 0x8);
        // Never answered; the server gives up and closes TCP.
        assert!(read_server_frame(&mut peer).await.is_none());
        let (info, elapsed) = server.await.unwrap();
        assert!(!info.clean);
        assert_eq!(info.code, CloseCode::ABNORMAL);
        assert_eq!(info.initiator, Initiator::Local);
        assert!(elapsed >= ms(300) && elapsed < ms(2000), "{elapsed:?}");
    })
    .await;
}

/// The timers run while a send waits, not only while a receive does: a server that only
/// sends, to a peer that neither reads nor answers, is stopped by the keepalive timeout (its
/// ping cannot even be written) rather than waiting on the transport for ever.
#[tokio::test]
async fn a_send_waiting_on_a_peer_that_never_reads_ends_at_the_keepalive_timeout() {
    within(30, async {
        let config = Config::default().with_keepalive(Some(ms(100)), ms(200));
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            let started = Instant::now();
            let payload = vec![0u8; 64 * 1024];
            let mut sent = 0usize;
            let error = loop {
                match ws.send_binary(&payload).await {
                    Ok(()) => sent += 1,
                    Err(e) => break e,
                }
            };
            (error, sent, started.elapsed())
        });
        // A peer that completes the handshake and then neither reads nor writes.
        let peer = raw_upgrade(addr, "/").await;
        let (error, sent, elapsed) = server.await.unwrap();
        drop(peer);
        assert!(sent > 0, "the transport took some messages first");
        assert!(
            matches!(error, Error::Send(_) | Error::KeepaliveTimeout),
            "{error:?}"
        );
        assert!(elapsed >= ms(300) && elapsed < ms(3000), "{elapsed:?}");
    })
    .await;
}

/// A transport whose write side never finishes closing, as TLS over a socket the peer stopped
/// reading: our last bytes are taken into the TLS layer's buffer, but its flush and shutdown
/// wait for ever. Reads hand out `input` once, then wait for ever too.
struct ShutdownNeverEnds {
    input: Vec<u8>,
}

impl tokio::io::AsyncRead for ShutdownNeverEnds {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.input.is_empty() {
            return std::task::Poll::Pending;
        }
        let input = std::mem::take(&mut self.input);
        buf.put_slice(&input);
        std::task::Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for ShutdownNeverEnds {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Pending
    }
}

/// The close timeout bounds closing the transport too: after the peer's close and our reply,
/// a transport that never finishes shutting down is given up when it passes, rather than
/// holding the connection for ever.
#[tokio::test]
async fn a_transport_that_never_finishes_closing_is_given_up_at_the_close_timeout() {
    within(30, async {
        let config = Config::default().with_close_timeout(ms(200));
        // The peer's close (1000), masked with a zero key.
        let close = vec![0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe8];
        let stream = ShutdownNeverEnds { input: close };
        let mut ws = WebSocket::from_upgraded(stream, Role::Server, &[], &config);
        let started = Instant::now();
        assert!(
            ws.recv().await.is_none(),
            "the peer's close ends the stream"
        );
        let elapsed = started.elapsed();
        let info = ws.close_info().unwrap();
        assert_eq!(info.code, CloseCode::NORMAL);
        assert!(elapsed >= ms(150) && elapsed < ms(3000), "{elapsed:?}");
    })
    .await;
}

/// A timeout of `Duration::MAX` means never: the connection works and closes without the
/// deadline overflowing Tokio's clock.
#[tokio::test]
async fn timeouts_of_duration_max_mean_never() {
    within(30, async {
        let config = Config::default()
            .with_keepalive(Some(Duration::MAX), Duration::MAX)
            .with_close_timeout(Duration::MAX);
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let (mut ws, _) = accept_with_config(tcp, &config).await.unwrap();
            while let Some(Ok(message)) = ws.recv().await {
                ws.send(message).await.unwrap();
            }
            ws.close_info()
        });
        let client = ClientOptions::default().with_config(config);
        let (mut ws, _) = connect_with(&format!("ws://{addr}/"), &client)
            .await
            .unwrap();
        ws.send_text("hi").await.unwrap();
        assert!(ws.recv().await.unwrap().is_ok());
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.recv().await.is_none());
        assert_eq!(server.await.unwrap().unwrap().code, CloseCode::NORMAL);
    })
    .await;
}
