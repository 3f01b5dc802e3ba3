//! Helpers shared by the integration tests: loopback servers, time bounds, raw frames.
#![allow(dead_code, unreachable_pub)]

pub mod certs;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard::{Config, Message, accept_with_config};
use tokio::net::{TcpListener, TcpStream};

/// Runs `future`, failing the test if it takes longer than `secs` seconds.
pub async fn within<F: Future>(secs: u64, future: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(secs), future)
        .await
        .expect("test step timed out")
}

/// A listener on a free loopback port.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// A listener whose accepted sockets have small kernel buffers, and a client socket likewise:
/// so a peer that stops reading blocks the other side after kilobytes, not megabytes.
pub async fn small_buffer_pair() -> (TcpListener, TcpStream) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_send_buffer_size(8 * 1024).unwrap();
    socket.set_recv_buffer_size(8 * 1024).unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = socket.local_addr().unwrap();
    let listener = socket.listen(16).unwrap();
    let client = tokio::net::TcpSocket::new_v4().unwrap();
    client.set_send_buffer_size(8 * 1024).unwrap();
    client.set_recv_buffer_size(8 * 1024).unwrap();
    let client = client.connect(addr).await.unwrap();
    (listener, client)
}

/// Sends a handshake request on `tcp` and reads the 101 head.
pub async fn upgrade_on(tcp: &mut TcpStream, path: &str) {
    use tokio::io::AsyncWriteExt;
    let addr = tcp.peer_addr().unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let head = read_head(tcp).await.unwrap();
    assert!(
        head.starts_with(b"HTTP/1.1 101 "),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

/// Reads an HTTP head from `stream` through its blank line, a byte at a time so that nothing
/// after it is consumed; an `UnexpectedEof` error if the stream ends first.
pub async fn read_head<S: tokio::io::AsyncRead + Unpin>(
    stream: &mut S,
) -> std::io::Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("EOF in the head after {:?}", String::from_utf8_lossy(&head)),
            ));
        }
        head.push(byte[0]);
    }
    Ok(head)
}

/// The Python interpreter of the independent peers' virtualenv (`scripts/tools.sh peers`:
/// websockets and h2), under `$PEERS_PREFIX` (default /opt/switchyard-peers). Missing, the
/// test that needs it fails.
pub fn peers_python() -> std::path::PathBuf {
    let prefix =
        std::env::var("PEERS_PREFIX").unwrap_or_else(|_| "/opt/switchyard-peers".to_owned());
    let python = std::path::Path::new(&prefix).join("venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/tools.sh peers",
        python.display()
    );
    python
}

/// Runs `program` on `script` (a path in the crate under test) with `args` to completion,
/// 30 s at most: an interop client, which prints "ok" alone when every check passed.
pub async fn run_interop_client(program: &std::path::Path, script: &str, args: &[String]) {
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(script);
    let run = tokio::process::Command::new(program)
        .arg(&script)
        .args(args)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the client finishes")
        .unwrap_or_else(|e| panic!("{} cannot run: {e}", program.display()));
    assert!(
        output.status.success(),
        "{} {}: {}{}",
        program.display(),
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "ok\n");
}

/// An [`echo_server`] with `config`, and our client connected to it with the same config.
pub async fn connected_to_echo(config: Config) -> switchyard::WebSocket<switchyard::ClientStream> {
    let addr = echo_server(config).await;
    let options = switchyard::ClientOptions::default().with_config(config);
    let (ws, _) = switchyard::connect_with(&format!("ws://{addr}/"), &options)
        .await
        .unwrap();
    ws
}

/// Sends `ws` a binary and a text message of each size in `sizes`, each checked as it comes
/// back from an echo server.
pub async fn echo_each_size<S>(ws: &mut switchyard::WebSocket<S>, sizes: &[usize])
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    for &size in sizes {
        let data = pattern(size);
        ws.send(binary_message(&data)).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            binary_message(&data),
            "{size}"
        );
        let s = text(size);
        ws.send_text(&s).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            text_message(&s),
            "{size}"
        );
    }
}

/// A switchyard echo server on a free loopback port, serving until the test ends.
pub async fn echo_server(config: Config) -> SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let Ok((mut ws, _)) = accept_with_config(tcp, &config).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.recv().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A payload of `len` bytes with a recognisable pattern.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Text of `len` bytes, mixing one- and multi-byte characters.
pub fn text(len: usize) -> String {
    let mut s = String::with_capacity(len);
    let chars = ['a', 'é', '€', '😀', 'z'];
    let mut i = 0;
    while s.len() < len {
        let c = chars[i % chars.len()];
        if s.len() + c.len_utf8() > len {
            s.push('x');
        } else {
            s.push(c);
        }
        i += 1;
    }
    s
}

pub fn text_message(s: &str) -> Message {
    Message::Text(s.into())
}

pub fn binary_message(data: &[u8]) -> Message {
    Message::Binary(data.to_vec().into())
}

/// A masked client frame, as a browser would send it.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let mut frame = vec![(u8::from(fin) << 7) | opcode];
    let len = payload.len();
    if len < 126 {
        frame.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        frame.push(0x80 | 126);
        frame.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        frame.push(0x80 | 127);
        frame.extend_from_slice(&(len as u64).to_be_bytes());
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// A raw TCP client that completed the handshake for `path` and hands back the socket.
pub async fn raw_upgrade(addr: SocketAddr, path: &str) -> TcpStream {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    upgrade_on(&mut tcp, path).await;
    tcp
}

/// Reads one unmasked server frame: (fin, opcode, payload).
pub async fn read_server_frame(tcp: &mut TcpStream) -> Option<(bool, u8, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.ok()?;
    let len = match head[1] & 0x7F {
        126 => {
            let mut ext = [0u8; 2];
            tcp.read_exact(&mut ext).await.ok()?;
            u64::from(u16::from_be_bytes(ext))
        }
        127 => {
            let mut ext = [0u8; 8];
            tcp.read_exact(&mut ext).await.ok()?;
            u64::from_be_bytes(ext)
        }
        n => u64::from(n),
    };
    assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
    let mut payload = vec![0u8; len as usize];
    tcp.read_exact(&mut payload).await.ok()?;
    Some((head[0] & 0x80 != 0, head[0] & 0x0F, payload))
}
