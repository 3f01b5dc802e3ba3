//! Graceful shutdown of the `switchyard` binary on SIGTERM.

#![cfg(unix)]

mod common;

use std::time::Duration;

use common::binary::*;
use common::*;
use futures_util::SinkExt;
use switchyard::{ClientOptions, CloseCode, Config, Message, connect_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn sigterm_echoes_what_arrived_refuses_handshakes_closes_with_1001_and_exits_0() {
    sigterm_drains_echo(None).await;
}

/// The same on one CPU, where the server runs Tokio's single-threaded runtime.
#[tokio::test]
async fn sigterm_drains_echo_on_the_single_threaded_runtime() {
    sigterm_drains_echo(Some("0")).await;
}

/// SIGTERM while an echo is being answered and a handshake is half sent: what arrived is
/// echoed, the handshake gets 503, the echo closes with 1001 and the server exits 0. Pinned
/// to `cpus` (a `taskset -c` list) if given.
async fn sigterm_drains_echo(cpus: Option<&str>) {
    within(60, async {
        let args = [
            "--max-message-size",
            "20971520",
            "--shutdown-timeout",
            "20s",
        ];
        let mut server = match cpus {
            Some(cpus) => Server::start_pinned(cpus, &args).await,
            None => Server::start(&args).await,
        };
        let options =
            ClientOptions::default().with_config(Config::default().with_max_message_size(20 << 20));
        let (mut ws, _) = connect_with(&server.url("/echo"), &options).await.unwrap();
        // Messages the server receives before the signal, and does not get to finish echoing:
        // this client does not read until after the signal.
        let big = pattern(8 << 20);
        for i in 0..20u8 {
            ws.feed(Message::Binary(vec![i; 100].into())).await.unwrap();
        }
        ws.feed(Message::Binary(big.clone().into())).await.unwrap();
        ws.flush().await.unwrap();
        // A handshake in flight: connected, request not sent yet.
        let mut late = TcpStream::connect(server.addr).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;

        server.terminate().await;
        tokio::time::sleep(Duration::from_millis(300)).await;

        late.write_all(&get("/echo", &UPGRADE)).await.unwrap();
        assert_eq!(read_response(&mut late).await.status, 503);
        assert!(
            TcpStream::connect(server.addr).await.is_err(),
            "no longer accepting"
        );

        for i in 0..20u8 {
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Binary(vec![i; 100].into())
            );
        }
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::Binary(big.into())
        );
        assert!(ws.recv().await.is_none());
        let info = ws.close_info().unwrap();
        assert_eq!(info.code, CloseCode::GOING_AWAY);
        assert!(info.clean);

        let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
            .await
            .unwrap();
        assert!(status.success(), "{status:?}");
    })
    .await;
}

#[tokio::test]
async fn sigterm_closes_idle_chat_and_inspect_connections() {
    within(60, async {
        let mut server = Server::start(&[]).await;
        let options = ClientOptions::default();
        let (mut chat, _) = connect_with(&server.url("/chat"), &options).await.unwrap();
        // The room's `joined`.
        assert!(chat.recv().await.unwrap().is_ok());
        let (mut inspect, _) = connect_with(&server.url("/inspect"), &options)
            .await
            .unwrap();
        // The inspector's first report.
        assert!(inspect.recv().await.unwrap().is_ok());
        server.terminate().await;
        assert!(chat.recv().await.is_none());
        assert_eq!(chat.close_info().unwrap().code, CloseCode::GOING_AWAY);
        assert!(inspect.recv().await.is_none());
        assert_eq!(inspect.close_info().unwrap().code, CloseCode::GOING_AWAY);
        let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
            .await
            .unwrap();
        assert!(status.success(), "{status:?}");
    })
    .await;
}

/// A second signal ends the drain at once (a connection whose client never answers the
/// close frame would otherwise hold the exit for the close timeout), but not one sent
/// together with the first.
#[tokio::test]
async fn a_second_signal_exits_without_waiting_for_the_connections() {
    within(60, async {
        let mut server =
            Server::start_logged(&["--close-timeout", "30s", "--shutdown-timeout", "30s"]).await;
        // Upgraded, then silent: it never answers the server's close frame.
        let mut silent = TcpStream::connect(server.addr).await.unwrap();
        silent.write_all(&get("/echo", &UPGRADE)).await.unwrap();
        let mut head = Vec::new();
        while !head.ends_with(b"\r\n\r\n") {
            head.push(silent.read_u8().await.unwrap());
        }
        assert!(head.starts_with(b"HTTP/1.1 101"), "{head:?}");
        server.terminate().await;
        // At once after the first, a signal is part of the same request to stop.
        server.signal("INT").await;
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let waited = tokio::time::timeout(Duration::from_millis(10), server.wait()).await;
        assert!(
            waited.is_err(),
            "a signal sent with the first ended the drain"
        );
        server.signal("INT").await;
        let status = tokio::time::timeout(Duration::from_secs(5), server.wait())
            .await
            .expect("the second signal did not end the wait");
        assert!(status.success(), "{status:?}");
        server.wait_for_log("shutting down").await;
        server.wait_for_log("second signal").await;
        drop(silent);
    })
    .await;
}

/// Log lines wait up to a second to be written in a batch (the log is a pipe here, not a
/// terminal); a server that exits sooner still writes every line it logged: the close line
/// of a connection that ended just before the signal, and the shutdown's own lines.
#[tokio::test]
async fn lines_logged_just_before_exit_are_written() {
    within(30, async {
        let mut server = Server::start_logged(&[]).await;
        let (mut ws, _) = connect_with(&server.url("/echo"), &ClientOptions::default())
            .await
            .unwrap();
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(ws.recv().await.is_none());
        server.terminate().await;
        let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
            .await
            .unwrap();
        assert!(status.success(), "{status:?}");
        server.wait_for_log("close peer=").await;
        server.wait_for_log("shutting down").await;
        server.wait_for_log("every connection closed").await;
    })
    .await;
}
