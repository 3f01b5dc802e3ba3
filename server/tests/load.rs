//! Load and chaos: many concurrent connections held with traffic, then dropped abruptly
//! mid-frame. The server must keep serving, its open sockets must return to the baseline,
//! and a second identical round must not grow its memory (nothing leaks per connection).
//!
//! `SWITCHYARD_LOAD_CONNS` sets the count: `make test` runs 1,000, `make soak` 10,000.
//! Figures (connections held, RSS per connection, errors) are printed with `--nocapture`.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::binary::Server;
use switchyard::switchyard_core::frame::mask::apply_mask;
use switchyard::{ClientOptions, Config, DeflateConfig, Message, connect_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The server's open file descriptors: sockets included, so it counts live connections.
fn open_fds(server: &Server) -> usize {
    std::fs::read_dir(format!("/proc/{}/fd", server.pid()))
        .map(|d| d.count())
        .unwrap_or(0)
}

/// Waits (bounded) until the server's open descriptors are back to `baseline`.
async fn settle_fds(server: &Server, baseline: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let fds = open_fds(server);
        if fds <= baseline || Instant::now() > deadline {
            return fds;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn masked(opcode: u8, fin: bool, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | opcode];
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out
}

async fn open(addr: SocketAddr) -> std::io::Result<TcpStream> {
    let mut tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let request = format!(
        "GET /echo HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await?;
    let head = common::read_head(&mut tcp).await?;
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(std::io::Error::other(
            String::from_utf8_lossy(&head).into_owned(),
        ));
    }
    Ok(tcp)
}

/// One echo round trip of `payload`, verified byte for byte.
async fn echo(tcp: &mut TcpStream, payload: &[u8], key: [u8; 4]) -> std::io::Result<()> {
    tcp.write_all(&masked(0x2, true, payload, key)).await?;
    let header_len = if payload.len() < 126 { 2 } else { 4 };
    let mut back = vec![0u8; header_len + payload.len()];
    tcp.read_exact(&mut back).await?;
    if &back[header_len..] != payload || back[0] != 0x82 {
        return Err(std::io::Error::other("echo differs"));
    }
    Ok(())
}

/// Opens `n` connections (in parallel batches), each verified by one echo.
async fn open_all(addr: SocketAddr, n: usize) -> (Vec<TcpStream>, usize) {
    let mut conns = Vec::with_capacity(n);
    let mut errors = 0;
    for batch in (0..n).collect::<Vec<_>>().chunks(250) {
        let tasks: Vec<_> = batch
            .iter()
            .map(|&i| {
                tokio::spawn(async move {
                    let mut tcp = open(addr).await?;
                    echo(
                        &mut tcp,
                        format!("hello {i}").as_bytes(),
                        (i as u32).to_be_bytes(),
                    )
                    .await?;
                    Ok::<_, std::io::Error>(tcp)
                })
            })
            .collect();
        for task in tasks {
            match task.await.unwrap() {
                Ok(tcp) => conns.push(tcp),
                Err(_) => errors += 1,
            }
        }
    }
    (conns, errors)
}

/// Traffic on every held connection at once: `rounds` echoes of 1 KiB each.
async fn traffic(conns: Vec<TcpStream>, rounds: usize) -> (Vec<TcpStream>, usize) {
    let payload: Vec<u8> = (0..1024u32).map(|i| (i * 7) as u8).collect();
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(i, mut tcp)| {
            let payload = payload.clone();
            tokio::spawn(async move {
                for r in 0..rounds {
                    echo(&mut tcp, &payload, [i as u8, r as u8, 3, 4]).await?;
                }
                Ok::<_, std::io::Error>(tcp)
            })
        })
        .collect();
    let mut back = Vec::new();
    let mut errors = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(tcp) => back.push(tcp),
            Err(_) => errors += 1,
        }
    }
    (back, errors)
}

/// Every connection sends half a frame and vanishes: half by FIN, half by RST.
async fn drop_mid_frame(conns: Vec<TcpStream>) {
    for (i, mut tcp) in conns.into_iter().enumerate() {
        let frame = masked(0x2, true, &[9u8; 1000], [1, 2, 3, 4]);
        let _ = tcp.write_all(&frame[..300]).await;
        if i % 2 == 0 {
            let _ = tcp.set_zero_linger();
        }
        drop(tcp);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_held_with_traffic_then_dropped_mid_frame() {
    let n: usize = std::env::var("SWITCHYARD_LOAD_CONNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // Each process (this one with the clients, the server with its side) holds n sockets.
    let needed = (n + 1024) as u64;
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < needed {
        // Raising the hard limit needs root (CAP_SYS_RESOURCE); the soft one does not.
        let _ = rlimit::Resource::NOFILE.set(needed, hard.max(needed));
        let _ = rlimit::increase_nofile_limit(needed);
    }
    let (soft, _) = rlimit::Resource::NOFILE.get().unwrap();
    assert!(
        soft >= needed,
        "cannot raise the open-file limit to {needed} (it is {soft})"
    );
    // Keepalive off: these raw clients read only their echoes, and a slow round could leave
    // a connection idle past the ping interval (keepalive has tests of its own).
    let max = (n + 100).to_string();
    let server = Server::start(&["--max-connections", &max, "--keepalive-interval", "0"]).await;
    // Warm up: one connection, so the baseline includes the runtime's first allocations.
    let (warm, _) = open_all(server.addr, 1).await;
    drop_mid_frame(warm).await;
    let base_fds = settle_fds(&server, 0).await.max(1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let base_fds = settle_fds(&server, base_fds).await;
    let base_rss = server.rss_kib();

    let mut peaks = Vec::new();
    for round in 0..2 {
        let started = Instant::now();
        let (conns, open_errors) = open_all(server.addr, n).await;
        let held = conns.len();
        let (conns, traffic_errors) = traffic(conns, 3).await;
        let held_rss = server.rss_kib();
        let held_fds = open_fds(&server);
        drop_mid_frame(conns).await;
        let fds = settle_fds(&server, base_fds).await;
        let rss = server.rss_kib();
        eprintln!(
            "round {round}: {held}/{n} connections held ({open_errors} open errors, {traffic_errors} traffic errors) in {:?}; \
             server fds {held_fds} -> {fds} (baseline {base_fds}); RSS {base_rss} KiB -> {held_rss} KiB held ({} B/conn) -> {rss} KiB after",
            started.elapsed(),
            (held_rss.saturating_sub(base_rss) * 1024) / held.max(1) as u64,
        );
        assert_eq!((open_errors, traffic_errors), (0, 0), "round {round}");
        assert_eq!(held, n);
        assert!(
            held_fds >= base_fds + n,
            "the server did not hold {n} connections"
        );
        assert_eq!(
            fds, base_fds,
            "round {round}: connections left open after the peers vanished"
        );
        peaks.push(held_rss);
    }
    // The second round reuses what the first freed: no per-connection leak. (How much the
    // allocator hands back to the kernel after a round varies; the peak is what repeats.)
    let growth = peaks[1].saturating_sub(peaks[0]);
    assert!(
        growth < 2048 + peaks[0] / 20,
        "peak RSS grew {growth} KiB across identical rounds: {peaks:?}"
    );
    let (mut conns, errors) = open_all(server.addr, 1).await;
    assert_eq!(errors, 0, "the server stopped serving");
    echo(&mut conns[0], b"still serving", [5, 6, 7, 8])
        .await
        .unwrap();
}

/// A JSON text of about 1 KiB, different for each `i`: what a chat or an API sends.
fn json(i: usize) -> String {
    (0..24)
        .map(|j| {
            format!(
                r#"{{"seq":{},"user":"u{}","text":"message {j}"}},"#,
                i * 24 + j,
                i % 7
            )
        })
        .collect()
}

/// Compressed connections that go idle give their memory back to the system. Each holds
/// permessage-deflate's engines (about 200 KiB with context takeover) while it is busy and
/// frees them once idle past `release_after` (between one and two seconds); the allocator must
/// then return their pages rather than keep them for allocations an idle server never makes.
/// The binary runs as shipped, twice: with a worker thread per CPU (an engine may be freed on
/// another thread than the one that allocated it), and pinned to one CPU (the single-threaded
/// runtime). Measured here: 12 to 15 KiB per idle connection either way; pinned, 148 KiB while
/// that runtime ran on the main thread, whose glibc heap could not give the engines back
/// (`src/runtime.rs`); unpinned, 65 to 224 KiB under mimalloc, whose pages freed from another
/// thread wait for their own thread to allocate again; and glibc's defaults keep freed engines
/// in its arenas (206 KiB, `GLIBC_TUNABLES` set so that the binary does not tune). The bound is
/// the deflate issue's 16 KiB target, doubled for a debug build and a smaller count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_compressed_connections_give_their_memory_back() {
    for pinned in [false, true] {
        let server = if pinned {
            Server::start_pinned("0", &[]).await
        } else {
            Server::start(&[]).await
        };
        let (busy, idle) = idle_compressed_rss(&server).await;
        eprintln!(
            "{IDLE_COMPRESSED} compressed connections (pinned: {pinned}): {busy} KiB each of RSS busy, {idle} KiB idle"
        );
        assert!(
            idle <= 32,
            "{idle} KiB of RSS per idle compressed connection (busy: {busy} KiB; pinned to one CPU: {pinned})"
        );
    }
}

/// How many connections [`idle_compressed_rss`] opens.
const IDLE_COMPRESSED: u64 = 400;

/// Opens [`IDLE_COMPRESSED`] compressed connections to `server`'s `/echo`, each carrying three
/// 1 KiB JSON echoes, and returns the server's RSS growth per connection in KiB right after,
/// and once every one is idle past its release time.
async fn idle_compressed_rss(server: &Server) -> (u64, u64) {
    let options =
        ClientOptions::default().with_config(Config::default().with_deflate(DeflateConfig::CLIENT));
    let mut open = Vec::new();
    // One connection first, idle past its release time, so that the baseline includes what
    // the first engines left in the allocator.
    let (mut ws, response) = connect_with(&server.url("/echo"), &options).await.unwrap();
    assert!(
        response
            .extensions()
            .iter()
            .any(|e| e.starts_with("permessage-deflate")),
        "the binary agreed to no compression: {:?}",
        response.extensions()
    );
    let text = json(0);
    ws.send(Message::Text(text.clone().into())).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Text(text.into())
    );
    open.push(ws);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let before = server.rss_kib();
    for i in 0..IDLE_COMPRESSED as usize {
        let (mut ws, _) = connect_with(&server.url("/echo"), &options).await.unwrap();
        for k in 0..3 {
            let text = json(1 + i * 3 + k);
            ws.send(Message::Text(text.clone().into())).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::Text(text.into())
            );
        }
        open.push(ws);
    }
    let busy = server.rss_kib().saturating_sub(before) / IDLE_COMPRESSED;
    // Past the release time of the last connection, with room for a loaded machine.
    tokio::time::sleep(Duration::from_secs(4)).await;
    let idle = server.rss_kib().saturating_sub(before) / IDLE_COMPRESSED;
    (busy, idle)
}
