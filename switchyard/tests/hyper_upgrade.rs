//! The hyper upgrade example, run in-process against two independent clients: ours and
//! tokio-tungstenite.

mod common;
// The example's `main` is not called here: the test serves with its `serve`.
#[allow(dead_code)]
#[path = "../examples/hyper_upgrade.rs"]
mod hyper_upgrade;

use std::net::SocketAddr;

use common::*;
use futures_util::{SinkExt, StreamExt};
use switchyard::{ClientOptions, CloseCode, ConnectError, StatusCode, connect, connect_with};
use tokio_tungstenite::tungstenite;

async fn hyper_server() -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(hyper_upgrade::serve(listener));
    addr
}

#[tokio::test]
async fn echoes_through_a_hyper_upgrade_to_our_client() {
    within(30, async {
        let addr = hyper_server().await;
        let (mut ws, response) = connect(&format!("ws://{addr}/")).await.unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let data = pattern(100_000);
        ws.send_binary(&data).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), binary_message(&data));
        ws.send_text("héllo").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message("héllo"));
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(ws.closed().await.unwrap().clean);
    })
    .await;
}

#[tokio::test]
async fn echoes_through_a_hyper_upgrade_to_tungstenite() {
    within(30, async {
        let addr = hyper_server().await;
        let (mut ws, response) = tokio_tungstenite::connect_async(format!("ws://{addr}/"))
            .await
            .unwrap();
        assert_eq!(response.status(), 101);
        ws.send(tungstenite::Message::text("from tungstenite"))
            .await
            .unwrap();
        let echoed = ws.next().await.unwrap().unwrap();
        assert_eq!(echoed, tungstenite::Message::text("from tungstenite"));
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

#[tokio::test]
async fn a_foreign_origin_is_refused_with_403() {
    within(30, async {
        let addr = hyper_server().await;
        let options = ClientOptions::default().with_origin("http://evil.test");
        let error = connect_with(&format!("ws://{addr}/"), &options)
            .await
            .unwrap_err();
        assert!(matches!(error, ConnectError::Refused(_)), "{error:?}");
        assert_eq!(error.status(), Some(StatusCode::FORBIDDEN));
    })
    .await;
}
