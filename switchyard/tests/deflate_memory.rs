//! permessage-deflate's memory through the real shell, counted by a global allocator (live
//! bytes, not RSS): while messages flow each end holds its engines; once idle past
//! `release_after` it holds only its takeover windows (2^bits bytes each direction). Without
//! takeover no engine outlives its message, and once idle nothing is held at all. One test in this binary, so nothing else allocates
//! meanwhile.

mod common;

use std::alloc::System;
use std::time::Duration;

use cap::Cap;
use common::*;
use switchyard::{ClientOptions, Config, DeflateConfig, Message, WebSocket, connect_with};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const CONNS: usize = 50;
const RELEASE: Duration = Duration::from_millis(300);

fn json(i: usize) -> String {
    (0..12)
        .map(|j| {
            format!(
                r#"{{"seq":{},"user":"u{}","text":"message {j}"}},"#,
                i * 12 + j,
                i % 7
            )
        })
        .collect()
}

/// Opens `CONNS` pairs, each carrying three compressed echoes when `deflate` is set (or
/// three plain ones), and returns the live bytes per pair right after the traffic and once
/// idle past the release time.
async fn per_pair(deflate: Option<(DeflateConfig, DeflateConfig)>) -> (usize, usize) {
    let mut server_config = Config::default();
    let mut client_config = Config::default();
    if let Some((server, client)) = deflate {
        server_config = server_config.with_deflate(server);
        client_config = client_config.with_deflate(client);
    }
    let addr = echo_server(server_config).await;
    let options = ClientOptions::default().with_config(client_config);
    let before = ALLOCATOR.allocated();
    let mut open: Vec<WebSocket<_>> = Vec::new();
    for i in 0..CONNS {
        let (mut ws, response) = connect_with(&format!("ws://{addr}/"), &options)
            .await
            .unwrap();
        assert_eq!(!response.extensions().is_empty(), deflate.is_some());
        for k in 0..3 {
            let text = json(i * 3 + k);
            ws.send(Message::Text(text.clone().into())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Text(text.into())
            );
        }
        open.push(ws);
    }
    let busy = ALLOCATOR.allocated().saturating_sub(before) / CONNS;
    // Idle past the release time, on both ends. The clients' timers run in their drivers
    // only while polled, and a driver tells its core the time only when a deadline passes:
    // the first tick after the traffic starts the idle time, a later one frees the engines.
    // So each client is polled briefly once per release time, as an application waiting in
    // `recv` is woken at its deadlines.
    for _ in 0..3 {
        tokio::time::sleep(RELEASE).await;
        for ws in &mut open {
            let _ = tokio::time::timeout(Duration::from_millis(1), ws.recv()).await;
        }
    }
    let idle = ALLOCATOR.allocated().saturating_sub(before) / CONNS;
    // Close every connection and let the server's tasks end, so that the next measurement's
    // baseline holds none of them.
    for mut ws in open {
        ws.close(switchyard::CloseCode::NORMAL, "").await.unwrap();
        ws.closed().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    (busy, idle)
}

#[tokio::test(flavor = "current_thread")]
async fn idle_connections_keep_windows_not_engines() {
    within(60, async {
        let (_, plain) = per_pair(None).await;
        let config = |c: DeflateConfig| {
            let mut c = c.with_window_bits(12);
            c.release_after = RELEASE;
            c
        };
        let takeover = (config(DeflateConfig::SERVER), config(DeflateConfig::CLIENT));
        let (busy, idle) = per_pair(Some(takeover)).await;
        eprintln!("per pair: plain {plain} B; takeover busy {busy} B, idle {idle} B");
        assert!(busy > plain + 200_000, "engines while busy: {busy} B");
        // Each end keeps a 4 KiB window per direction: 16 KiB a pair, and a little more.
        assert!(
            idle <= plain + 4 * 4096 + 2048,
            "idle with takeover: {idle} B vs {plain} B"
        );
        let reset = (
            config(DeflateConfig::SERVER).with_no_context_takeover(true),
            config(DeflateConfig::CLIENT).with_no_context_takeover(true),
        );
        let (busy, idle) = per_pair(Some(reset)).await;
        eprintln!("per pair: no takeover busy {busy} B, idle {idle} B");
        // Without takeover an engine lives only while its message is compressed or inflated.
        assert!(
            busy < plain + 100_000,
            "no engine held between messages: {busy} B"
        );
        assert!(
            idle <= plain + 2048,
            "idle without takeover: {idle} B vs {plain} B"
        );
    })
    .await;
}
