//! `recv` is cancel-safe: dropping its future (a losing `select!` branch, a timeout) loses no
//! data, whether it is dropped between messages or in the middle of one.

mod common;

use std::time::Duration;

use common::*;
use switchyard::{Config, Message, Role, WebSocket};
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn a_recv_dropped_mid_frame_loses_nothing() {
    within(30, async {
        let (server_io, mut peer) = tokio::io::duplex(1 << 16);
        let mut ws = WebSocket::from_upgraded(server_io, Role::Server, &[], &Config::default());
        let frame = client_frame(true, 0x1, "cancel-safe".as_bytes());
        for piece in [&frame[..1], &frame[1..4], &frame[4..9]] {
            peer.write_all(piece).await.unwrap();
            // Each of these recv futures reads the piece into the core, then is dropped.
            let early = tokio::time::timeout(Duration::from_millis(20), ws.recv()).await;
            assert!(early.is_err(), "no message before the frame is complete");
        }
        peer.write_all(&frame[9..]).await.unwrap();
        let message = within(5, ws.recv()).await.unwrap().unwrap();
        assert_eq!(message, Message::Text("cancel-safe".into()));
    })
    .await;
}

#[tokio::test]
async fn a_select_loop_that_keeps_dropping_recv_gets_every_message_in_order() {
    within(60, async {
        let config = Config::default().with_max_message_size(1 << 20);
        let ws = connected_to_echo(config).await;
        let (mut read, mut write) = ws.split();
        const COUNT: usize = 300;
        let sizes = |i: usize| (i * 7919) % 200_000;
        let writer = tokio::spawn(async move {
            for i in 0..COUNT {
                let mut data = pattern(sizes(i));
                data.extend_from_slice(&(i as u32).to_be_bytes());
                write.send(Message::Binary(data.into())).await.unwrap();
            }
            write
        });
        let mut received = 0;
        let mut cancelled = 0;
        let mut tick = tokio::time::interval(Duration::from_micros(200));
        while received < COUNT {
            tokio::select! {
                message = read.recv() => {
                    let data = message.unwrap().unwrap();
                    let data = data.as_bytes();
                    let (body, index) = data.split_at(data.len() - 4);
                    assert_eq!(u32::from_be_bytes(index.try_into().unwrap()) as usize, received);
                    assert_eq!(body, &pattern(sizes(received))[..]);
                    received += 1;
                }
                _ = tick.tick() => cancelled += 1,
            }
        }
        assert!(cancelled > 0, "the select loop never dropped a recv");
        let mut write = writer.await.unwrap();
        write
            .close(switchyard::CloseCode::NORMAL, "")
            .await
            .unwrap();
        assert!(read.recv().await.is_none());
    })
    .await;
}
