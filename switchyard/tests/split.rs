//! `split()`: two tasks, one connection; the read half answers pings and closes by itself.

mod common;

use std::time::Duration;

use common::*;
use switchyard::{ClientOptions, CloseCode, Config, Message, Role, WebSocket, connect_with};
use tokio::io::AsyncWriteExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halves_send_and_receive_at_the_same_time() {
    within(120, async {
        let config = Config::default().with_max_message_size(1 << 20);
        let ws = connected_to_echo(config).await;
        // 64 MiB each way: far more than socket buffers hold, so without reading while
        // writing this would deadlock.
        const COUNT: usize = 1024;
        let (mut read, mut write) = ws.split();
        let writer = tokio::spawn(async move {
            let data = pattern(64 * 1024);
            for _ in 0..COUNT {
                write.send_binary(&data).await.unwrap();
            }
            write
        });
        for i in 0..COUNT {
            let message = read.recv().await.unwrap().unwrap();
            assert_eq!(message.len(), 64 * 1024, "message {i}");
        }
        let write = writer.await.unwrap();
        let ws = read.reunite(write).unwrap();
        assert!(ws.is_open());
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_half_keeps_reading_while_its_own_big_messages_wait() {
    within(120, async {
        // Both ends write messages far over the write-buffer bound at once: the echo server
        // blocks sending to us until we read, so our read half must not wait for our own
        // writes to drain.
        let config = Config::default().with_max_message_size(4 << 20);
        let ws = connected_to_echo(config).await;
        let (mut read, mut write) = ws.split();
        const COUNT: usize = 48;
        let writer = tokio::spawn(async move {
            let data = pattern(2 << 20);
            for _ in 0..COUNT {
                write.send_binary(&data).await.unwrap();
            }
        });
        for i in 0..COUNT {
            let message = read.recv().await.unwrap().unwrap();
            assert_eq!(message.len(), 2 << 20, "message {i}");
        }
        writer.await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn read_half_answers_pings_and_the_close_while_the_write_half_is_idle() {
    within(30, async {
        let (server_io, mut peer) = tokio::io::duplex(1 << 16);
        let ws = WebSocket::from_upgraded(server_io, Role::Server, &[], &Config::default());
        let (mut read, _write) = ws.split();
        let reader = tokio::spawn(async move {
            let mut messages = Vec::new();
            while let Some(message) = read.recv().await {
                messages.push(message.unwrap());
            }
            (messages, read.close_info().unwrap())
        });
        peer.write_all(&client_frame(true, 0x9, b"are you there"))
            .await
            .unwrap();
        peer.write_all(&client_frame(true, 0x1, b"hello"))
            .await
            .unwrap();
        let (fin, opcode, payload) = read_frame(&mut peer).await;
        assert_eq!(
            (fin, opcode, &payload[..]),
            (true, 0xA, &b"are you there"[..])
        );
        peer.write_all(&client_frame(true, 0x8, b"\x03\xe8bye"))
            .await
            .unwrap();
        let (_, opcode, payload) = read_frame(&mut peer).await;
        assert_eq!((opcode, &payload[..]), (0x8, &b"\x03\xe8"[..]));
        // The server closes its side after the close reply (RFC 6455 §7.1.1).
        let mut rest = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut peer, &mut rest)
            .await
            .unwrap();
        assert!(rest.is_empty());
        drop(peer);
        let (messages, info) = reader.await.unwrap();
        assert_eq!(messages, [Message::Text("hello".into())]);
        assert_eq!((info.code, info.clean), (CloseCode::NORMAL, true));
    })
    .await;
}

#[tokio::test]
async fn write_half_close_ends_the_read_half_cleanly() {
    within(30, async {
        let addr = echo_server(Config::default()).await;
        let options = ClientOptions::default();
        let (ws, _) = connect_with(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        let (mut read, mut write) = ws.split();
        write.send_text("last").await.unwrap();
        write.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(!write.is_open());
        assert!(write.send_text("too late").await.is_err());
        assert_eq!(
            read.recv().await.unwrap().unwrap(),
            Message::Text("last".into())
        );
        assert!(
            tokio::time::timeout(Duration::from_secs(5), read.recv())
                .await
                .unwrap()
                .is_none()
        );
        let info = read.close_info().unwrap();
        assert!(info.clean);
        assert_eq!(info.code, CloseCode::NORMAL);
    })
    .await;
}

#[tokio::test]
async fn the_halves_offer_the_connections_methods() {
    within(30, async {
        let (server_io, mut peer) = tokio::io::duplex(4096);
        let ws = WebSocket::from_upgraded(server_io, Role::Server, &[], &Config::default());
        let (mut read, mut write) = ws.split();
        assert_eq!((read.role(), write.role()), (Role::Server, Role::Server));
        assert_eq!((read.protocol(), write.protocol()), (None, None));
        // An unsolicited pong from the write half, as a one-way heartbeat (RFC 6455 §5.5.3).
        write.pong(b"hb").await.unwrap();
        assert_eq!(read_frame(&mut peer).await, (true, 0xA, b"hb".to_vec()));
        // The write half starts the close; the read half finishes it and reports it.
        write.close(CloseCode::NORMAL, "done").await.unwrap();
        let (_, opcode, _) = read_frame(&mut peer).await;
        assert_eq!(opcode, 0x8);
        peer.write_all(&client_frame(true, 0x8, &1000u16.to_be_bytes()))
            .await
            .unwrap();
        drop(peer);
        let info = read.closed().await.unwrap();
        assert_eq!((info.code, info.clean), (CloseCode::NORMAL, true));
        assert_eq!(write.close_info(), Some(info));
        assert!(!read.is_open() && !write.is_open());
    })
    .await;
}

/// Reads one server frame from a duplex stream.
async fn read_frame(peer: &mut tokio::io::DuplexStream) -> (bool, u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    peer.read_exact(&mut head).await.unwrap();
    assert!(head[1] < 126, "short frames only");
    let mut payload = vec![0u8; usize::from(head[1])];
    peer.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x80 != 0, head[0] & 0x0F, payload)
}
