//! The hostile-input suite: each item of the security checklist that applies to a server,
//! against the real `switchyard` binary over loopback. Each test asserts the exact HTTP status
//! or close code, that the server survives (it still answers a fresh echo), and, where the
//! attack is about memory, that the server's resident memory stays bounded.
//!
//! Blocking sockets with read timeouts keep every step bounded in time.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use switchyard::switchyard_core::frame::mask::apply_mask;
use switchyard::switchyard_core::{FrameHeader, OpCode, Parsed};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const STEP: Duration = Duration::from_secs(10);

/// A `switchyard` process on a free loopback port, killed when dropped.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_switchyard"))
            .args(["--listen", "127.0.0.1:0"])
            .args(args)
            .env("RUST_LOG", "error")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start switchyard");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split_whitespace()
            .find_map(|word| {
                word.trim_start_matches("http://")
                    .trim_end_matches('/')
                    .parse()
                    .ok()
            })
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        Server { child, addr }
    }

    fn connect(&self) -> TcpStream {
        let tcp = TcpStream::connect(self.addr).unwrap();
        tcp.set_read_timeout(Some(STEP)).unwrap();
        tcp.set_write_timeout(Some(STEP)).unwrap();
        tcp.set_nodelay(true).unwrap();
        tcp
    }

    /// Resident memory of the server process, in KiB.
    fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The virtual size in KiB. Unlike RSS it counts memory reserved but never touched: a
    /// buffer reserved from a declared length shows here at once.
    fn virtual_kib(&self) -> u64 {
        self.status_kib("VmSize:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap();
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }

    /// A WebSocket to `path`, past its 101.
    fn ws(&self, path: &str) -> TcpStream {
        let mut tcp = self.connect();
        tcp.write_all(request(path, &[]).as_bytes()).unwrap();
        let (status, head) = read_head(&mut tcp);
        assert_eq!(status, 101, "{head}");
        tcp
    }

    /// The server still works: a fresh connection gets its message echoed.
    fn assert_alive(&self) {
        let mut tcp = self.ws("/echo");
        tcp.write_all(&frame(true, 0, 0x1, b"still here", true))
            .unwrap();
        assert_eq!(
            read_frame(&mut tcp),
            Some((OpCode::TEXT, b"still here".to_vec()))
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(path: &str, extra: &[&str]) -> String {
    let mut r = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for line in extra {
        r.push_str(line);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r
}

/// Reads a response head; returns the status and the head's text.
fn read_head(tcp: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match tcp.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            Ok(_) => break,
            Err(e) => panic!(
                "reading the response head: {e} after {:?}",
                String::from_utf8_lossy(&head)
            ),
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, text)
}

/// Sends raw bytes as one request; returns the answer's status and head.
fn http(server: &Server, raw: &[u8]) -> (u16, String) {
    let mut tcp = server.connect();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = tcp.write_all(raw);
    read_head(&mut tcp)
}

/// A frame with full control over its bits, masked with a fixed key when `masked`.
fn frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let mask_bit = if masked { 0x80 } else { 0 };
    let len = payload.len();
    if len < 126 {
        out.push(mask_bit | len as u8);
    } else if len <= 0xFFFF {
        out.push(mask_bit | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(mask_bit | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let start = out.len() + if masked { 4 } else { 0 };
    if masked {
        out.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]);
    }
    out.extend_from_slice(payload);
    if masked {
        apply_mask(&mut out[start..], [0x11, 0x22, 0x33, 0x44], 0);
    }
    out
}

/// Reads one whole frame from the server; `None` at EOF or reset.
fn read_frame(tcp: &mut TcpStream) -> Option<(OpCode, Vec<u8>)> {
    let mut buf = Vec::new();
    loop {
        if let Ok(Parsed::Complete(h, n)) = FrameHeader::decode(&buf) {
            let total = n + h.payload_len as usize;
            if buf.len() >= total {
                return Some((h.opcode, buf[n..total].to_vec()));
            }
        }
        let mut chunk = [0u8; 4096];
        let want = match FrameHeader::decode(&buf) {
            Ok(Parsed::Complete(h, n)) => (n + h.payload_len as usize - buf.len()).min(4096),
            _ => 1,
        };
        match tcp.read(&mut chunk[..want]) {
            Ok(0) => return None,
            Ok(k) => buf.extend_from_slice(&chunk[..k]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return None;
            }
            Err(e) => panic!("reading a frame: {e}"),
        }
    }
}

/// Reads frames until a close; returns its code (None for an empty close or EOF).
fn read_close_code(tcp: &mut TcpStream) -> Option<u16> {
    loop {
        let (opcode, payload) = read_frame(tcp)?;
        if opcode == OpCode::CLOSE {
            return payload.get(..2).map(|b| u16::from_be_bytes([b[0], b[1]]));
        }
    }
}

/// Sends `bytes` on a fresh /echo WebSocket and expects a close with `code`.
fn expect_close(server: &Server, bytes: &[u8], code: u16) {
    let mut tcp = server.ws("/echo");
    let _ = tcp.write_all(bytes);
    assert_eq!(
        read_close_code(&mut tcp),
        Some(code),
        "after {:x?}",
        &bytes[..bytes.len().min(24)]
    );
}

// ---- A. Opening handshake ----

#[test]
fn header_blocks_past_the_caps_get_414_and_431() {
    let server = Server::start(&[]);
    let long_line = format!("GET /{} HTTP/1.1\r\n", "a".repeat(20_000));
    assert_eq!(http(&server, long_line.as_bytes()).0, 414);
    let big_header = request("/echo", &[&format!("X-Big: {}", "b".repeat(20_000))]);
    assert_eq!(http(&server, big_header.as_bytes()).0, 431);
    let many: Vec<String> = (0..2000).map(|i| format!("X-{i}: y")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(http(&server, request("/echo", &many).as_bytes()).0, 431);
    // An endless header trickled in small writes is cut off at the cap too.
    let mut tcp = server.connect();
    tcp.write_all(b"GET /echo HTTP/1.1\r\nX-Endless: ").unwrap();
    let mut answered = None;
    for _ in 0..1000 {
        if tcp.write_all(&[b'z'; 32]).is_err() {
            break;
        }
        let _ = tcp.set_read_timeout(Some(Duration::from_millis(1)));
        let mut peek = [0u8; 12];
        if let Ok(n) = tcp.peek(&mut peek)
            && n >= 12
        {
            answered = Some(String::from_utf8_lossy(&peek).into_owned());
            break;
        }
    }
    let answered = answered.expect("no answer to an endless header");
    assert!(answered.starts_with("HTTP/1.1 431"), "{answered}");
    server.assert_alive();
}

#[test]
fn bad_handshakes_get_their_exact_status() {
    let server = Server::start(&[]);
    let req = |path: &str, replace: &[(&str, &str)]| {
        let mut r = request(path, &[]);
        for (from, to) in replace {
            r = r.replacen(from, to, 1);
        }
        r
    };
    let key_line = format!("Sec-WebSocket-Key: {KEY}\r\n");
    let cases: Vec<(&str, String, u16)> = vec![
        ("POST", req("/echo", &[("GET", "POST")]), 400),
        ("HTTP/1.0", req("/echo", &[("HTTP/1.1", "HTTP/1.0")]), 400),
        ("garbage", "HELLO THERE\r\n\r\n".into(), 400),
        ("no Host", req("/echo", &[("Host: localhost\r\n", "")]), 400),
        (
            "no Upgrade",
            req("/echo", &[("Upgrade: websocket\r\n", "")]),
            426,
        ),
        (
            "Upgrade: h2c",
            req("/echo", &[("Upgrade: websocket", "Upgrade: h2c")]),
            400,
        ),
        (
            "no Connection upgrade",
            req(
                "/echo",
                &[("Connection: Upgrade", "Connection: keep-alive")],
            ),
            400,
        ),
        ("no key", req("/echo", &[(&key_line, "")]), 400),
        (
            "23-char key",
            req("/echo", &[(KEY, "dGhlIHNhbXBsZSBub25jZQ=")]),
            400,
        ),
        (
            "25-char key",
            req("/echo", &[(KEY, "dGhlIHNhbXBsZSBub25jZQ===")]),
            400,
        ),
        (
            "bad alphabet",
            req("/echo", &[(KEY, "dGhlIHNhbXBsZSBub25jZ!==")]),
            400,
        ),
        (
            "two keys",
            req("/echo", &[(&key_line, &format!("{key_line}{key_line}"))]),
            400,
        ),
        (
            "version 8",
            req("/echo", &[("Version: 13", "Version: 8")]),
            426,
        ),
        (
            "a body",
            req(
                "/echo",
                &[(
                    "Host: localhost\r\n",
                    "Host: localhost\r\nContent-Length: 4\r\n",
                )],
            ),
            400,
        ),
        (
            "chunked",
            req(
                "/echo",
                &[(
                    "Host: localhost\r\n",
                    "Host: localhost\r\nTransfer-Encoding: chunked\r\n",
                )],
            ),
            400,
        ),
    ];
    for (name, raw, status) in cases {
        let (got, head) = http(&server, raw.as_bytes());
        assert_eq!(got, status, "{name}: {head}");
        if status == 426 && name.starts_with("version") {
            assert!(head.contains("Sec-WebSocket-Version: 13"), "{head}");
        }
    }
    // A plain HTTP request to a WebSocket route: 426 naming the protocol.
    let (status, head) = http(&server, b"GET /echo HTTP/1.1\r\nHost: localhost\r\n\r\n");
    assert_eq!(status, 426);
    assert!(
        head.to_ascii_lowercase().contains("upgrade: websocket"),
        "{head}"
    );
    // Pathological token lists stay linear and are answered.
    let commas = format!("Sec-WebSocket-Protocol: {}", ",".repeat(10_000));
    assert_eq!(
        http(&server, request("/echo", &[&commas]).as_bytes()).0,
        101
    );
    server.assert_alive();
}

#[test]
fn cross_origin_handshakes_get_403() {
    let server = Server::start(&[]);
    assert_eq!(
        http(
            &server,
            request("/echo", &["Origin: https://evil.example"]).as_bytes()
        )
        .0,
        403
    );
    assert_eq!(
        http(&server, request("/echo", &["Origin: null"]).as_bytes()).0,
        403
    );
    assert_eq!(
        http(
            &server,
            request("/echo", &["Origin: http://localhost.evil"]).as_bytes()
        )
        .0,
        403
    );
    assert_eq!(
        http(
            &server,
            request("/echo", &["Origin: http://localhost"]).as_bytes()
        )
        .0,
        101
    );
    // `Host: localhost` names port 80 or 443: a page on another port of the same host is
    // another origin.
    assert_eq!(
        http(
            &server,
            request("/echo", &["Origin: http://localhost:8080"]).as_bytes()
        )
        .0,
        403
    );
    let allowed = Server::start(&["--allow-origin", "https://app.example"]);
    assert_eq!(
        http(
            &allowed,
            request("/echo", &["Origin: https://app.example"]).as_bytes()
        )
        .0,
        101
    );
}

#[test]
fn slowloris_is_closed_at_the_handshake_deadline() {
    let server = Server::start(&["--handshake-timeout", "500ms"]);
    let mut tcp = server.connect();
    let started = Instant::now();
    tcp.write_all(b"GET /echo HTTP/1.1\r\n").unwrap();
    // One byte every 100 ms: the deadline is absolute, not reset by each byte.
    let mut closed = false;
    for _ in 0..50 {
        std::thread::sleep(Duration::from_millis(100));
        if tcp.write_all(b"X").is_err() {
            closed = true;
            break;
        }
        tcp.set_read_timeout(Some(Duration::from_millis(1)))
            .unwrap();
        let mut byte = [0u8; 64];
        match tcp.read(&mut byte) {
            Ok(_) => {
                closed = true;
                break;
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock || e.kind() == ErrorKind::TimedOut => {}
            Err(_) => {
                closed = true;
                break;
            }
        }
    }
    assert!(closed, "a trickled handshake was never cut off");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "cut off after {:?}",
        started.elapsed()
    );
    server.assert_alive();
}

#[test]
fn frames_pipelined_after_the_handshake_are_processed() {
    let server = Server::start(&[]);
    let mut tcp = server.connect();
    let mut bytes = request("/echo", &[]).into_bytes();
    bytes.extend(frame(true, 0, 0x1, b"early", true));
    tcp.write_all(&bytes).unwrap();
    assert_eq!(read_head(&mut tcp).0, 101);
    assert_eq!(
        read_frame(&mut tcp),
        Some((OpCode::TEXT, b"early".to_vec()))
    );
}

// ---- C, D, E. Frames, fragmentation, control frames ----

#[test]
fn frame_violations_close_with_their_codes() {
    let server = Server::start(&["--max-message-size", "65536"]);
    let cont = |fin, payload: &[u8]| frame(fin, 0, 0x0, payload, true);
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "RSV1 without extension",
            frame(true, 4, 0x1, b"x", true),
            1002,
        ),
        ("reserved opcode 3", frame(true, 0, 0x3, b"", true), 1002),
        ("reserved opcode 0xB", frame(true, 0, 0xB, b"", true), 1002),
        (
            "unmasked client frame",
            frame(true, 0, 0x1, b"x", false),
            1002,
        ),
        (
            "64-bit length, top bit set",
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
            1002,
        ),
        (
            "ping over 125 bytes",
            frame(true, 0, 0x9, &[0; 126], true),
            1002,
        ),
        ("fragmented ping", frame(false, 0, 0x9, b"", true), 1002),
        ("continuation with no message", cont(true, b"x"), 1002),
        (
            "new message mid-fragments",
            [
                frame(false, 0, 0x1, b"a", true),
                frame(true, 0, 0x1, b"b", true),
            ]
            .concat(),
            1002,
        ),
        (
            "frame over the limit (header only)",
            frame(true, 0, 0x2, &vec![0; 70_000], true)[..14].to_vec(),
            1009,
        ),
        (
            "message over the limit",
            [
                frame(false, 0, 0x2, &vec![0; 40_000], true),
                cont(true, &vec![0; 40_000])[..14].to_vec(),
            ]
            .concat(),
            1009,
        ),
        (
            "invalid UTF-8 split across fragments",
            [
                frame(false, 0, 0x1, b"ok\xF4", true),
                cont(true, b"\x90\x80\x80"),
            ]
            .concat(),
            1007,
        ),
        (
            "invalid UTF-8 in a never-ending message",
            frame(false, 0, 0x1, b"\xC0\xAF", true),
            1007,
        ),
        (
            "one-byte close payload",
            frame(true, 0, 0x8, b"\x03", true),
            1002,
        ),
        (
            "close code 1005",
            frame(true, 0, 0x8, &1005u16.to_be_bytes(), true),
            1002,
        ),
        (
            "close code 999",
            frame(true, 0, 0x8, &999u16.to_be_bytes(), true),
            1002,
        ),
        (
            "close code 5000",
            frame(true, 0, 0x8, &5000u16.to_be_bytes(), true),
            1002,
        ),
        (
            "close reason not UTF-8",
            frame(true, 0, 0x8, b"\x03\xe8\xff", true),
            1007,
        ),
    ];
    for (name, bytes, code) in cases {
        let mut tcp = server.ws("/echo");
        let _ = tcp.write_all(&bytes);
        assert_eq!(read_close_code(&mut tcp), Some(code), "{name}");
        // Any frame after the error is ignored: the server sends nothing more.
        let _ = tcp.write_all(&frame(true, 0, 0x1, b"after", true));
        assert_eq!(
            read_frame(&mut tcp),
            None,
            "{name}: something after the close"
        );
    }
    server.assert_alive();
}

#[test]
fn valid_close_codes_are_echoed() {
    let server = Server::start(&[]);
    for code in [1000u16, 1001, 1003, 1007, 1011, 1014, 3000, 4999] {
        expect_close(
            &server,
            &frame(true, 0, 0x8, &code.to_be_bytes(), true),
            code,
        );
    }
}

#[test]
fn endless_empty_fragments_are_cut_off_with_1008() {
    let server = Server::start(&[]);
    let mut bytes = frame(false, 0, 0x2, b"", true);
    for _ in 0..5000 {
        bytes.extend(frame(false, 0, 0x0, b"", true));
    }
    expect_close(&server, &bytes, 1008);
}

#[test]
fn a_huge_declared_length_reserves_no_memory() {
    // 60 MiB declared under a 64 MiB cap, by 20 connections; only the headers arrive. The
    // oracle is the virtual size, not RSS: a reservation made from the declared length would
    // be mapped (20 × 60 MiB = 1.2 GiB) even though its pages are never touched.
    let server = Server::start(&["--max-message-size", "67108864"]);
    let before = server.virtual_kib();
    let mut held = Vec::new();
    for _ in 0..20 {
        let mut tcp = server.ws("/echo");
        let header = [0x82, 0xFF, 0, 0, 0, 0, 0x03, 0xC0, 0, 0, 1, 2, 3, 4];
        tcp.write_all(&header).unwrap();
        tcp.write_all(&[0u8; 1024]).unwrap();
        held.push(tcp);
    }
    server.assert_alive();
    let grown = server.virtual_kib().saturating_sub(before);
    eprintln!("20 stalled 60 MiB frames: server virtual size +{grown} KiB");
    // Room for the runtime's per-thread malloc arenas (64 MiB of address space each), far
    // below the 1.2 GiB that reserving the declared lengths would map.
    assert!(
        grown < 320 * 1024,
        "20 stalled 60 MiB frames grew the server's address space by {grown} KiB"
    );
}

#[test]
fn a_peer_that_never_reads_cannot_grow_the_server() {
    let server = Server::start(&["--max-message-size", "1048576"]);
    let before = server.rss_kib();
    let mut tcp = server.ws("/echo");
    // 200 echoes of 1 MiB (200 MiB) asked for, none read: the server must stop reading.
    let message = frame(true, 0, 0x2, &vec![7u8; 1 << 20], true);
    tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0;
    for _ in 0..200 {
        if tcp.write_all(&message).is_err() {
            break;
        }
        sent += 1;
    }
    assert!(
        sent < 200,
        "the server kept reading from a peer that never reads"
    );
    server.assert_alive();
    let grown = server.rss_kib().saturating_sub(before);
    eprintln!(
        "non-reading peer: {sent} MiB written before the server stopped reading; RSS +{grown} KiB"
    );
    assert!(
        grown < 24 * 1024,
        "a non-reading peer grew the server by {grown} KiB"
    );
}

#[test]
fn a_ping_flood_from_a_peer_that_never_reads_stays_bounded() {
    let server = Server::start(&[]);
    let before = server.rss_kib();
    let mut tcp = server.ws("/echo");
    let ping = frame(true, 0, 0x9, &[0x55; 125], true);
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let mut sent = 0usize;
    // Up to ~130 MB of pings; the server answers, then stops reading when its pongs back up.
    for _ in 0..1000 {
        if tcp.write_all(&burst).is_err() {
            break;
        }
        sent += burst.len();
    }
    server.assert_alive();
    let grown = server.rss_kib().saturating_sub(before);
    eprintln!("ping flood: {sent} bytes of pings written; RSS +{grown} KiB");
    assert!(
        sent < 1000 * burst.len(),
        "the server kept reading pings while its pongs backed up"
    );
    assert!(
        grown < 16 * 1024,
        "{sent} bytes of pings grew the server by {grown} KiB"
    );
}

#[test]
fn peers_that_vanish_mid_frame_leave_nothing_behind() {
    let server = Server::start(&[]);
    server.assert_alive();
    let before = server.rss_kib();
    for round in 0..5 {
        let mut conns = Vec::new();
        for i in 0..200 {
            let mut tcp = server.ws("/echo");
            // Half a frame: a header promising 1000 bytes and some of them.
            let f = frame(true, 0, 0x2, &[i as u8; 1000], true);
            tcp.write_all(&f[..400]).unwrap();
            conns.push(tcp);
        }
        for tcp in &conns {
            if round % 2 == 0 {
                let _ = tcp.shutdown(Shutdown::Both);
            }
        }
        drop(conns);
    }
    std::thread::sleep(Duration::from_millis(300));
    server.assert_alive();
    let grown = server.rss_kib().saturating_sub(before);
    eprintln!("1000 peers vanished mid-frame: RSS +{grown} KiB");
    assert!(
        grown < 8 * 1024,
        "1000 vanished peers left {grown} KiB behind"
    );
}
