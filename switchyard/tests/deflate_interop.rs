//! permessage-deflate against independent implementations, both roles each: Python
//! `websockets` (PyPI) and Node's `ws` (npm), installed by `scripts/tools.sh peers`. Each test
//! asserts that compression was negotiated on both ends, that every message (empty to 70 KB,
//! text and binary) comes back intact, and, where our server reads, that the bytes on the
//! wire are a fraction of the payload: the messages really travelled compressed.

mod common;

use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use common::*;
use switchyard::{
    ClientOptions, Config, DeflateConfig, Message, accept_with_config, client_handshake,
};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// Messages each run sends (the peers' `message(i)`, sizes 0 B to 70 KB).
const MESSAGES: u32 = 42;

fn peers_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/peers")
}

/// The peer as a command: `python` for websockets, `node` for ws.
fn peer(which: &str) -> Command {
    let dir = peers_dir();
    let mut command = match which {
        "websockets" => {
            let mut c = Command::new(peers_python());
            c.arg(dir.join("websockets_peer.py"));
            c
        }
        _ => {
            assert!(
                dir.join("node_modules/ws").exists(),
                "ws missing: run scripts/tools.sh peers"
            );
            let mut c = Command::new("node");
            c.arg(dir.join("ws_peer.mjs"));
            c
        }
    };
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command
}

/// Runs a peer and returns it with its stdout, line by line.
fn spawn(
    mut command: Command,
) -> (
    Child,
    tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) {
    let mut child = command.spawn().expect("the peer starts");
    let lines = BufReader::new(child.stdout.take().unwrap()).lines();
    (child, lines)
}

async fn our_client_against(which: &str) {
    let (_child, mut lines) = spawn({
        let mut c = peer(which);
        c.arg("server");
        c
    });
    let line = lines
        .next_line()
        .await
        .unwrap()
        .expect("the peer prints its port");
    let port = line.strip_prefix("PORT ").expect("PORT <n>").to_owned();
    let options =
        ClientOptions::default().with_config(Config::default().with_deflate(DeflateConfig::CLIENT));
    let bytes = Arc::new(Bytes::default());
    let stream = Counted {
        tcp: TcpStream::connect(format!("127.0.0.1:{port}"))
            .await
            .unwrap(),
        bytes: Arc::clone(&bytes),
    };
    let host = format!("127.0.0.1:{port}");
    let (mut ws, response) = client_handshake(stream, &host, "/", &options)
        .await
        .unwrap();
    assert!(
        response
            .extensions()
            .iter()
            .any(|e| e.starts_with("permessage-deflate")),
        "{which} accepted no compression: {:?}",
        response.extensions()
    );
    // The peer's first message names what it agreed to.
    let Some(Ok(Message::Text(hello))) = ws.recv().await else {
        panic!("no greeting from {which}");
    };
    assert!(
        hello.as_str().contains("permessage-deflate"),
        "{which}: {}",
        hello.as_str()
    );
    let mut sent_bytes = 0u64;
    for i in 0..MESSAGES {
        let size = [0, 1, 16, 100, 1000, 10000, 70000][(i % 7) as usize];
        let payload = format!("{{\"n\":{i},\"text\":\"{}\"}}", "abcabc ".repeat(size / 7));
        let sent = if i % 5 == 4 {
            Message::Binary(payload.clone().into_bytes().into())
        } else {
            Message::Text(payload.into())
        };
        sent_bytes += sent.len() as u64;
        ws.send(sent.clone()).await.unwrap();
        let got = ws.recv().await.unwrap().unwrap();
        assert_eq!(got, sent, "{which}, message {i}");
    }
    ws.close(switchyard::CloseCode::NORMAL, "").await.unwrap();
    ws.closed().await.unwrap();
    bytes.assert_compressed(which, sent_bytes);
}

/// A stream that counts the bytes read from it and written to it.
struct Counted {
    tcp: TcpStream,
    bytes: Arc<Bytes>,
}

#[derive(Default)]
struct Bytes {
    read: AtomicU64,
    written: AtomicU64,
}

impl Bytes {
    /// Both directions carried messages worth `payload` bytes each way in a fifth of that.
    fn assert_compressed(&self, which: &str, payload: u64) {
        assert!(payload > 300_000, "{payload} bytes of messages");
        for (direction, wire) in [("in", &self.read), ("out", &self.written)] {
            let wire = wire.load(Ordering::Relaxed);
            assert!(
                wire * 5 < payload,
                "{which}: {wire} bytes {direction} for {payload} bytes of messages: not compressed"
            );
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.tcp).poll_read(cx, buf);
        let n = (buf.filled().len() - before) as u64;
        self.bytes.read.fetch_add(n, Ordering::Relaxed);
        polled
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.tcp).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            self.bytes.written.fetch_add(n as u64, Ordering::Relaxed);
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

async fn peer_client_against_our_server(which: &str) {
    let (listener, addr) = listener().await;
    let bytes = Arc::new(Bytes::default());
    let counter = Arc::clone(&bytes);
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = Config::default()
            .with_max_message_size(1 << 22)
            .with_deflate(DeflateConfig::SERVER);
        let stream = Counted {
            tcp,
            bytes: counter,
        };
        let (mut ws, request) = accept_with_config(stream, &config).await.unwrap();
        let mut payload = 0u64;
        while let Some(Ok(message)) = ws.recv().await {
            payload += message.len() as u64;
            if ws.send(message).await.is_err() {
                break;
            }
        }
        (request, payload)
    });
    let (mut child, mut lines) = spawn({
        let mut c = peer(which);
        c.args(["client", &format!("ws://{addr}/"), &MESSAGES.to_string()]);
        c
    });
    let mut output = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        output.push(line);
    }
    assert!(child.wait().await.unwrap().success(), "{which}: {output:?}");
    assert_eq!(
        output.last().map(String::as_str),
        Some(&*format!("OK {MESSAGES}"))
    );
    let agreed = output[0].strip_prefix("EXTENSIONS ").unwrap();
    assert!(
        agreed.contains("permessage-deflate"),
        "{which} agreed to {agreed}"
    );
    let (request, payload) = server.await.unwrap();
    assert!(
        request
            .offered_extensions()
            .iter()
            .any(|e| e.starts_with("permessage-deflate")),
        "{which} offered {:?}",
        request.offered_extensions()
    );
    bytes.assert_compressed(which, payload);
}

#[tokio::test]
async fn our_client_against_python_websockets() {
    within(60, our_client_against("websockets")).await;
}

#[tokio::test]
async fn python_websockets_client_against_our_server() {
    within(60, peer_client_against_our_server("websockets")).await;
}

#[tokio::test]
async fn our_client_against_node_ws() {
    within(60, our_client_against("ws")).await;
}

#[tokio::test]
async fn node_ws_client_against_our_server() {
    within(60, peer_client_against_our_server("ws")).await;
}
