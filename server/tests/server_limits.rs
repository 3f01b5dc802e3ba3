//! The `switchyard` binary under hostile peers: slow handshakes, silent peers, peers that
//! never read.

mod common;

use std::time::{Duration, Instant};

use common::binary::*;
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn a_slowloris_handshake_is_closed_after_the_handshake_timeout() {
    within(30, async {
        let server = Server::start(&["--handshake-timeout", "300ms"]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let started = Instant::now();
        let request = get("/echo", &UPGRADE);
        let mut closed = false;
        for byte in request {
            if tcp.write_all(&[byte]).await.is_err() {
                closed = true;
                break;
            }
            let mut probe = [0u8; 64];
            match tokio::time::timeout(Duration::from_millis(50), tcp.read(&mut probe)).await {
                Ok(Ok(0)) | Ok(Err(_)) => {
                    closed = true;
                    break;
                }
                Ok(Ok(_)) => panic!("the server answered a request that never finished"),
                Err(_) => {}
            }
        }
        assert!(closed, "the server waited for the whole slow request");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(300) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
        // The slot was freed: the server still answers.
        assert_eq!(http(server.addr, &get("/healthz", &[])).await.status, 200);
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_stops_answering_pings_is_closed_after_the_keepalive_timeout() {
    within(30, async {
        let server = Server::start(&[
            "--keepalive-interval",
            "100ms",
            "--keepalive-timeout",
            "200ms",
        ])
        .await;
        let mut peer = raw_upgrade(server.addr, "/echo").await;
        let started = Instant::now();
        let (_, opcode, _) = read_server_frame(&mut peer).await.unwrap();
        assert_eq!(opcode, 0x9, "a ping");
        let (_, opcode, payload) = read_server_frame(&mut peer).await.unwrap();
        assert_eq!(opcode, 0x8, "then a close");
        assert_eq!(&payload[..2], &1011u16.to_be_bytes());
        assert!(read_server_frame(&mut peer).await.is_none(), "then EOF");
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_millis(250) && elapsed < Duration::from_secs(3),
            "{elapsed:?}"
        );
    })
    .await;
}

#[tokio::test]
#[cfg(target_os = "linux")]
async fn a_client_that_never_reads_cannot_grow_the_servers_memory() {
    within(120, async {
        let server = Server::start(&[
            "--max-message-size",
            "1048576",
            "--write-buffer-size",
            "65536",
        ])
        .await;
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(8 * 1024).unwrap();
        let mut peer = socket.connect(server.addr).await.unwrap();
        upgrade_on(&mut peer, "/echo").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let before = server.rss_kib();
        // 1 MiB messages to echo, and never a read: the echoes back up, the server stops
        // reading, and the writes here stall.
        let frame = client_frame(true, 0x2, &pattern(1 << 20));
        let mut sent = 0usize;
        while tokio::time::timeout(Duration::from_secs(1), peer.write_all(&frame))
            .await
            .is_ok()
        {
            sent += 1;
            assert!(
                sent < 256,
                "the server kept reading 1 MiB messages it could not echo"
            );
        }
        let after = server.rss_kib();
        let growth = after.saturating_sub(before);
        // Socket buffers hold a few MiB; the server holds a message, its echo and the bound.
        assert!(
            growth < 32 * 1024,
            "RSS grew by {growth} KiB after {sent} MiB sent"
        );
    })
    .await;
}
