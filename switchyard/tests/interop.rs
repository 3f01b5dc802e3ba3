//! Interoperability with an independent implementation, tokio-tungstenite, in both directions:
//! its client against our server and our client against its server.

mod common;

use common::*;
use futures_util::{SinkExt, StreamExt};
use switchyard::{ClientOptions, CloseCode, Config, DataKind, Message, connect_with};
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{
    CloseCode as TCloseCode, Data, OpCode,
};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};

const SIZES: [usize; 8] = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];
const LIMIT: usize = 20 << 20;

fn ours() -> Config {
    Config::default().with_max_message_size(LIMIT as u64)
}

fn theirs() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(LIMIT))
        .max_frame_size(Some(LIMIT))
}

#[tokio::test]
async fn tungstenite_client_against_our_server() {
    within(120, async {
        let addr = echo_server(ours()).await;
        let (mut ws, response) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/echo"),
            Some(theirs()),
            true,
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 101);
        for size in SIZES {
            let data = pattern(size);
            ws.send(TMessage::binary(data.clone())).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                TMessage::binary(data),
                "{size}"
            );
            let s = text(size);
            ws.send(TMessage::text(s.clone())).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                TMessage::text(s),
                "{size}"
            );
        }
        // Fragmented, with a ping in the middle: our core reassembles and answers the ping.
        ws.send(TMessage::Frame(Frame::message(
            "frag",
            OpCode::Data(Data::Text),
            false,
        )))
        .await
        .unwrap();
        ws.send(TMessage::Ping("mid".into())).await.unwrap();
        ws.send(TMessage::Frame(Frame::message(
            "mented",
            OpCode::Data(Data::Continue),
            true,
        )))
        .await
        .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::Pong("mid".into())
        );
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            TMessage::text("fragmented")
        );
        // Its close, our echo of the code, then our TCP close ends its stream.
        ws.close(Some(CloseFrame {
            code: TCloseCode::Away,
            reason: "bye".into(),
        }))
        .await
        .unwrap();
        match ws.next().await {
            Some(Ok(TMessage::Close(Some(frame)))) => assert_eq!(frame.code, TCloseCode::Away),
            other => panic!("expected the close echo, got {other:?}"),
        }
        assert!(ws.next().await.is_none());
    })
    .await;
}

/// tokio-tungstenite's echo server on a free loopback port, serving one connection.
async fn tungstenite_echo_server() -> std::net::SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async_with_config(tcp, Some(theirs()))
            .await
            .unwrap();
        while let Some(Ok(message)) = ws.next().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    addr
}

#[tokio::test]
async fn our_client_against_tungstenite_server() {
    within(120, async {
        let addr = tungstenite_echo_server().await;
        let options = ClientOptions::default().with_config(ours());
        let (mut ws, _) = connect_with(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        echo_each_size(&mut ws, &SIZES).await;
        ws.send_fragment(DataKind::Binary, &[1, 2], false)
            .await
            .unwrap();
        ws.send_fragment(DataKind::Binary, &[], false)
            .await
            .unwrap();
        ws.send_fragment(DataKind::Binary, &[3], true)
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Binary(vec![1, 2, 3].into())
        );
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        let info = ws.closed().await.unwrap();
        assert!(info.clean, "{info:?}");
        assert_eq!(info.code, CloseCode::NORMAL);
    })
    .await;
}
