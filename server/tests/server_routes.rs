//! The `switchyard` binary's WebSocket routes, over real sockets.

mod common;

use common::binary::*;
use common::*;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use switchyard::switchyard_core::connection::{Connection, Event, Message as CoreMessage, Role};
use switchyard::switchyard_core::deflate::{DeflateAgreement, DeflateCodec, DeflateConfig};
use switchyard::switchyard_core::frame::mask::apply_mask;
use switchyard::switchyard_core::{FrameHeader, Limits, OpCode, Parsed};
use switchyard::{ClientOptions, CloseCode, Config, connect_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as TMessage;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const BIG: &str = "20971520";

#[tokio::test]
async fn echo_returns_every_message_as_it_came() {
    within(120, async {
        let server = Server::start(&["--max-message-size", BIG]).await;
        let options =
            ClientOptions::default().with_config(Config::default().with_max_message_size(20 << 20));
        let (mut ws, _) = connect_with(&server.url("/echo"), &options).await.unwrap();
        for size in [0, 1, 125, 126, 65536, 1 << 20, 16 << 20] {
            let data = pattern(size);
            ws.send(binary_message(&data)).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                binary_message(&data),
                "{size}"
            );
        }
        let s = text(100_000);
        ws.send_text(&s).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), text_message(&s));
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        let info = ws.closed().await.unwrap();
        assert!(info.clean);
    })
    .await;
}

/// The line each connection logs as it closes counts every byte each way: the handshake's
/// request and 101, and the frames.
#[tokio::test]
async fn the_close_log_line_counts_every_byte_each_way() {
    within(30, async {
        let server = Server::start_logged(&[]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let request = get("/echo", &UPGRADE);
        tcp.write_all(&request).await.unwrap();
        let response = read_head(&mut tcp).await.unwrap();
        assert!(response.starts_with(b"HTTP/1.1 101 "));
        let hello = client_frame(true, 0x1, b"hello");
        tcp.write_all(&hello).await.unwrap();
        let echoed = read_server_frame(&mut tcp).await.unwrap();
        assert_eq!(echoed, (true, 0x1, b"hello".to_vec()));
        let close = client_frame(true, 0x8, &1000u16.to_be_bytes());
        tcp.write_all(&close).await.unwrap();
        let reply = read_server_frame(&mut tcp).await.unwrap();
        assert_eq!(reply, (true, 0x8, 1000u16.to_be_bytes().to_vec()));
        let mut rest = Vec::new();
        tcp.read_to_end(&mut rest).await.unwrap();
        assert!(rest.is_empty());
        let line = server.wait_for_log("close peer=").await;
        let bytes_in = request.len() + hello.len() + close.len();
        let bytes_out = response.len() + 2 + 5 + 2 + 2;
        assert!(
            line.ends_with(&format!(" bytes_in={bytes_in} bytes_out={bytes_out}")),
            "{line}"
        );
        assert!(line.contains(" path=\"/echo\" code=1000 "), "{line}");
    })
    .await;
}

/// The binary runs with glibc's malloc tuned (`src/malloc.rs`): it executed itself again with
/// `GLIBC_TUNABLES` set, the cache of small blocks among its settings. glibc parses the
/// variable where it lies, ending each setting with a NUL, so the process's initial
/// environment shows them as pieces of their own after `GLIBC_TUNABLES=`.
#[tokio::test]
async fn the_binary_runs_with_its_malloc_tunables() {
    within(60, async {
        let server = Server::start(&[]).await;
        let environ = std::fs::read(format!("/proc/{}/environ", server.pid())).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        let Some((_, tunables)) = environ.split_once("GLIBC_TUNABLES=") else {
            panic!("the binary runs without GLIBC_TUNABLES");
        };
        // The settings, and none of the variables after them.
        let tunables: Vec<&str> = tunables
            .split('\0')
            .take_while(|piece| piece.starts_with("glibc."))
            .collect();
        for wanted in [
            "glibc.malloc.mmap_threshold=16384",
            "glibc.malloc.tcache_count=256",
        ] {
            assert!(
                tunables
                    .iter()
                    .any(|piece| piece.split(':').any(|t| t == wanted)),
                "{wanted} missing from {tunables:?}"
            );
        }
    })
    .await;
}

/// The runtime follows the CPUs the process may use: pinned to one, the server runs on one
/// thread (Tokio's single-threaded scheduler), beside the main thread that waits for it
/// (`src/runtime.rs`: not the main thread's heap); given two, it runs a worker per CPU.
#[tokio::test]
async fn echo_runs_on_one_thread_when_pinned_to_one_cpu() {
    within(60, async {
        let cpus = std::thread::available_parallelism().unwrap().get();
        assert!(cpus >= 2, "this test needs two CPUs, found {cpus}");
        for (pinned, threads_wanted) in [(Some("0"), 2..=2), (None, 3..=usize::MAX)] {
            let server = match pinned {
                Some(cpus) => Server::start_pinned(cpus, &[]).await,
                None => Server::start(&[]).await,
            };
            let (mut ws, _) = switchyard::connect(&server.url("/echo")).await.unwrap();
            ws.send_text("on which thread?").await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                text_message("on which thread?")
            );
            let threads = server.threads();
            assert!(
                threads_wanted.contains(&threads),
                "pinned to {pinned:?}: {threads} threads, wanted {threads_wanted:?}"
            );
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn echo_serves_an_independent_client() {
    within(120, async {
        let server = Server::start(&["--max-message-size", BIG]).await;
        let config = WebSocketConfig::default()
            .max_message_size(Some(20 << 20))
            .max_frame_size(Some(20 << 20));
        let (mut ws, _) =
            tokio_tungstenite::connect_async_with_config(server.url("/echo"), Some(config), true)
                .await
                .unwrap();
        for size in [0, 7, 70_000, 16 << 20] {
            ws.send(TMessage::binary(pattern(size))).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                TMessage::binary(pattern(size))
            );
            ws.send(TMessage::text(text(size))).await.unwrap();
            assert_eq!(
                ws.next().await.unwrap().unwrap(),
                TMessage::text(text(size))
            );
        }
        ws.close(None).await.unwrap();
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}

#[tokio::test]
async fn inspect_reports_the_handshake_and_frames_that_decode_back() {
    within(60, async {
        let server = Server::start(&[]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        let request = format!(
            "GET /inspect HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             X-Custom:   spaced  \r\n\r\n",
            server.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let response = read_head(&mut tcp).await.unwrap();
        let response = String::from_utf8(response).unwrap();
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));

        let handshake = next_report(&mut tcp).await;
        assert_eq!(handshake["type"], "handshake");
        assert_eq!(
            handshake["request"],
            request.as_str(),
            "the request exactly as sent"
        );
        assert_eq!(
            handshake["response"],
            response.as_str(),
            "the response exactly as received"
        );
        assert_eq!(handshake["key"], "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(handshake["accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

        // RFC 6455 §5.7's masked "Hello".
        let hello = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        tcp.write_all(&hello).await.unwrap();
        let report = next_report(&mut tcp).await;
        assert_eq!(report["type"], "frame");
        assert_eq!(report["raw_hex"], "818537fa213d7f9f4d5158");
        assert_eq!(decode(&report), (OpCode::TEXT, true, b"Hello".to_vec()));
        assert_eq!(report["mask_key"], "37fa213d");
        assert_eq!(report["payload_length"], 5);
        assert_eq!(report["payload_text"], "Hello");
        assert_eq!(report["truncated"], false);

        // A fragmented binary message, the second part long enough to be cut in the report.
        let first = client_frame(false, 0x2, b"\x00\x01\x02");
        let long: Vec<u8> = pattern(10_000);
        let second = client_frame(true, 0x0, &long);
        tcp.write_all(&first).await.unwrap();
        tcp.write_all(&second).await.unwrap();
        let report = next_report(&mut tcp).await;
        assert_eq!(hex_bytes(&report["raw_hex"]), first);
        assert_eq!(
            decode(&report),
            (OpCode::BINARY, false, b"\x00\x01\x02".to_vec())
        );
        let report = next_report(&mut tcp).await;
        assert_eq!(report["truncated"], true);
        assert_eq!(report["raw_length"], second.len());
        let raw = hex_bytes(&report["raw_hex"]);
        assert_eq!(raw.len(), 4096);
        assert_eq!(raw, second[..4096]);
        let (opcode, fin, payload) = decode(&report);
        assert_eq!((opcode, fin), (OpCode::CONTINUATION, true));
        assert_eq!(payload, long[..payload.len()]);
    })
    .await;
}

#[tokio::test]
async fn inspect_demands_a_fresh_window_and_reports_compressed_messages_whole() {
    within(60, async {
        let server = Server::start(&[]).await;
        let mut tcp = TcpStream::connect(server.addr).await.unwrap();
        // Firefox's offer: nothing about the client's window.
        let request = format!(
            "GET /inspect HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
            server.addr
        );
        tcp.write_all(request.as_bytes()).await.unwrap();
        let response = read_head(&mut tcp).await.unwrap();
        let response = String::from_utf8(response).unwrap();
        let answer = "permessage-deflate; client_no_context_takeover; server_max_window_bits=12";
        assert!(
            response.contains(&format!("Sec-WebSocket-Extensions: {answer}\r\n")),
            "{response}"
        );
        // The reports come compressed: read them with the core's client and its codec.
        let agreed = DeflateAgreement {
            server_no_context_takeover: false,
            client_no_context_takeover: true,
            server_max_window_bits: 12,
            client_max_window_bits: 15,
        };
        let codec = DeflateCodec::new(Role::Client, &agreed, &DeflateConfig::CLIENT);
        let mut reports = Connection::client(Limits::default(), || [0; 4]).with_extension(codec);

        let handshake = next_inflated_report(&mut tcp, &mut reports).await;
        assert_eq!(handshake["type"], "handshake");
        assert_eq!(handshake["message_limit"], 1 << 20);
        assert!(handshake["response"].as_str().unwrap().contains(answer));

        // RFC 7692 §7.2.3.1: "Hello" compressed, RSV1 set.
        let mut hello = client_frame(true, 0x1, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        hello[0] |= 0x40;
        tcp.write_all(&hello).await.unwrap();
        let report = next_inflated_report(&mut tcp, &mut reports).await;
        assert_eq!(hex_bytes(&report["raw_hex"]), hello);
        assert_eq!(
            (report["rsv"].clone(), report["rsv1"].clone()),
            (4.into(), true.into())
        );
        assert_eq!(report["compressed"], true);
        // A compressed frame's payload is in `raw_hex` alone, masked.
        assert!(report.get("payload_hex").is_none());
        assert_eq!(
            decode(&report).2,
            [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]
        );
        assert!(
            report.get("payload_text").is_none(),
            "deflate data is not text"
        );

        // 10,000 bytes in a stored block (RFC 1951 §3.2.4): compressed data past the 4096
        // bytes an uncompressed frame is cut at, reported whole.
        let data = pattern(10_000);
        let mut block = vec![0x00, 0x10, 0x27, 0xef, 0xd8];
        block.extend_from_slice(&data);
        let mut big = client_frame(true, 0x2, &block);
        big[0] |= 0x40;
        tcp.write_all(&big).await.unwrap();
        let report = next_inflated_report(&mut tcp, &mut reports).await;
        assert_eq!(report["truncated"], false);
        assert_eq!(report["raw_length"], big.len());
        assert_eq!(hex_bytes(&report["raw_hex"]), big);
        assert!(report.get("payload_hex").is_none());
        assert_eq!(decode(&report), (OpCode::BINARY, true, block));
    })
    .await;
}

/// Feeds the server's bytes to `reports` (a client connection with the agreed codec) until a
/// text message, and parses it as JSON.
async fn next_inflated_report(tcp: &mut TcpStream, reports: &mut Connection) -> Value {
    loop {
        while let Some(event) = reports.poll_event() {
            match event {
                Event::Message(CoreMessage::Text(text)) => {
                    return serde_json::from_str(text.as_str()).unwrap();
                }
                Event::Closed(info) => panic!("closed: {info:?}"),
                _ => {}
            }
        }
        let mut chunk = [0u8; 4096];
        let n = tcp.read(&mut chunk).await.unwrap();
        assert!(n > 0, "the server closed before the report");
        reports.receive_data(&chunk[..n]).unwrap();
    }
}

/// Reads server frames until a text one, and parses it as JSON.
async fn next_report(tcp: &mut TcpStream) -> Value {
    loop {
        let (fin, opcode, payload) = read_server_frame(tcp).await.expect("a report");
        if opcode == 0x1 {
            assert!(fin);
            return serde_json::from_slice(&payload).unwrap();
        }
    }
}

fn hex_bytes(value: &Value) -> Vec<u8> {
    let text = value.as_str().unwrap();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// Decodes a report's raw bytes with the core: opcode, FIN, and the unmasked payload (as much
/// as was reported).
fn decode(report: &Value) -> (OpCode, bool, Vec<u8>) {
    let raw = hex_bytes(&report["raw_hex"]);
    let Ok(Parsed::Complete(header, len)) = FrameHeader::decode(&raw) else {
        panic!("the report's raw bytes start with a frame header");
    };
    let mut payload = raw[len..].to_vec();
    apply_mask(
        &mut payload,
        header.mask.expect("client frames are masked"),
        0,
    );
    (header.opcode, header.fin, payload)
}
