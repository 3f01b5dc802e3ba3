//! The load generator: raw TCP, frames masked once ahead of time, a closed loop per
//! connection, every echo checked byte for byte. It does as little as it can per message so
//! that the server under test, not the client, is what runs out of CPU.
//!
//! ```text
//! loadgen echo       --addr A --conns N --size BYTES [--text] [--secs S | --messages M]
//!                    [--warmup S] [--server-pid P]
//! loadgen handshakes --addr A [--conns N] [--secs S] [--warmup S] [--server-pid P]
//! loadgen idle       --addr A --conns N [--server-pid P]
//! ```
//!
//! - `echo`: N connections; each sends one message, reads the whole echo, compares it with
//!   what it expects (header and payload), and repeats; for `--secs` after the warm-up, or
//!   exactly `--messages` times per connection (no warm-up: for profilers, which count
//!   instructions rather than time).
//! - `handshakes`: N workers, each in a loop: connect, upgrade, send a close frame, read the
//!   server's close frame and its end of the TCP stream.
//! - `idle`: opens N connections (upgraded), waits a second, and reads the server's RSS.
//!
//! Counting starts after the warm-up; at the start and end of the measured window the
//! generator reads its own CPU time and the server's (`utime + stime` of `/proc/P/stat`),
//! so both CPU figures cover exactly the messages counted. It prints one line of
//! `key=value` fields and exits 1 if any connection failed or any echo differed.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use switchyard_core::frame::mask::apply_mask;
use switchyard_core::handshake::{ClientHandshake, ClientRequest};
use switchyard_core::{FrameHeader, Limits, OpCode, Parsed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::LocalSet;
use tokio::time::{Instant, sleep, timeout};

/// Linux's `USER_HZ`, the unit of `/proc/*/stat` CPU times, on every architecture.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;
/// How long a server may take to answer anything before the run counts as failed.
const IO_TIMEOUT: Duration = Duration::from_secs(10);
/// Most handshakes in flight at once while opening idle connections.
const OPEN_CONCURRENCY: usize = 128;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Echo,
    Handshakes,
    Idle,
}

#[derive(Debug, Clone)]
struct Args {
    mode: Mode,
    addr: SocketAddr,
    conns: usize,
    size: usize,
    text: bool,
    secs: f64,
    messages: Option<u64>,
    warmup: f64,
    server_pid: Option<u32>,
}

fn parse_args() -> Option<Args> {
    let mut args = std::env::args().skip(1);
    let mode = match args.next()?.as_str() {
        "echo" => Mode::Echo,
        "handshakes" => Mode::Handshakes,
        "idle" => Mode::Idle,
        _ => return None,
    };
    let mut parsed = Args {
        mode,
        addr: "127.0.0.1:9000".parse().ok()?,
        conns: if mode == Mode::Handshakes { 4 } else { 1 },
        size: 16,
        text: false,
        secs: 3.0,
        messages: None,
        warmup: 0.5,
        server_pid: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--text" {
            parsed.text = true;
            continue;
        }
        let value = args.next()?;
        match flag.as_str() {
            "--addr" => parsed.addr = value.parse().ok()?,
            "--conns" => parsed.conns = value.parse().ok().filter(|&n| n > 0)?,
            "--size" => parsed.size = value.parse().ok()?,
            "--secs" => parsed.secs = value.parse().ok()?,
            "--messages" => parsed.messages = Some(value.parse().ok()?),
            "--warmup" => parsed.warmup = value.parse().ok()?,
            "--server-pid" => parsed.server_pid = Some(value.parse().ok()?),
            _ => return None,
        }
    }
    Some(parsed)
}

fn main() -> ExitCode {
    let Some(args) = parse_args() else {
        eprintln!(
            "usage: loadgen {{echo|handshakes|idle}} --addr ADDR:PORT [--conns N] [--size BYTES] \
             [--text] [--secs S] [--warmup S] [--server-pid PID]"
        );
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let result = LocalSet::new().block_on(&runtime, async {
        match args.mode {
            Mode::Echo => echo(&args).await,
            Mode::Handshakes => handshakes(&args).await,
            Mode::Idle => idle(&args).await,
        }
    });
    match result {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What all connections of a run share: the count of completed round trips, the stop flag,
/// and the first failure.
#[derive(Default)]
struct Shared {
    done: Cell<u64>,
    stop: Cell<bool>,
    failures: Cell<u64>,
    first_failure: RefCell<Option<String>>,
}

impl Shared {
    fn failed(&self, error: io::Error) {
        self.failures.set(self.failures.get() + 1);
        self.first_failure
            .borrow_mut()
            .get_or_insert_with(|| error.to_string());
    }

    fn check(&self) -> io::Result<()> {
        match self.first_failure.borrow().as_ref() {
            None => Ok(()),
            Some(first) => Err(io::Error::other(format!(
                "{} connection(s) failed; first: {first}",
                self.failures.get()
            ))),
        }
    }
}

/// CPU seconds used so far by a process (all its threads), from `/proc/<pid>/stat`.
fn cpu_seconds(pid: &str) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = &stat[stat
        .rfind(')')
        .ok_or_else(|| io::Error::other("bad stat"))?
        + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().map_err(io::Error::other)?
        + fields[12].parse::<u64>().map_err(io::Error::other)?;
    Ok(ticks as f64 / CLOCK_TICKS_PER_SEC)
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status`.
fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// One reading of the clock, the work counter and both processes' CPU time.
struct Snapshot {
    at: Instant,
    done: u64,
    own_cpu: f64,
    server_cpu: Option<f64>,
}

impl Snapshot {
    fn take(shared: &Shared, server_pid: Option<u32>) -> io::Result<Snapshot> {
        Ok(Snapshot {
            at: Instant::now(),
            done: shared.done.get(),
            own_cpu: cpu_seconds("self")?,
            server_cpu: server_pid
                .map(|p| cpu_seconds(&p.to_string()))
                .transpose()?,
        })
    }
}

/// The measured window: warm up, read the counters, run `secs`, read them again, stop.
async fn measure(args: &Args, shared: &Shared) -> io::Result<String> {
    sleep(Duration::from_secs_f64(args.warmup)).await;
    shared.check()?;
    let start = Snapshot::take(shared, args.server_pid)?;
    sleep(Duration::from_secs_f64(args.secs)).await;
    let end = Snapshot::take(shared, args.server_pid)?;
    shared.stop.set(true);
    Ok(report(&start, &end))
}

/// Operations per second and both processes' CPU time between two snapshots.
fn report(start: &Snapshot, end: &Snapshot) -> String {
    let secs = (end.at - start.at).as_secs_f64();
    let done = end.done - start.done;
    let mut line = format!(
        "ops={done} secs={secs:.3} ops_per_s={:.1} loadgen_cpu_s={:.2}",
        done as f64 / secs,
        end.own_cpu - start.own_cpu,
    );
    if let (Some(a), Some(b)) = (start.server_cpu, end.server_cpu) {
        line += &format!(" server_cpu_s={:.2}", b - a);
    }
    line
}

/// A small deterministic generator for nonces, mask keys and payloads (none of which needs
/// to be unpredictable here).
fn scramble(seed: u64) -> u64 {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "server did not answer in time")
}

/// Connects and performs the opening handshake; the core builds the request and checks the
/// 101 (status, headers, `Sec-WebSocket-Accept`).
async fn open(addr: SocketAddr, seed: u64) -> io::Result<TcpStream> {
    let mut tcp = timeout(IO_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out())??;
    tcp.set_nodelay(true)?;
    let host = addr.to_string();
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&scramble(seed).to_le_bytes());
    nonce[8..].copy_from_slice(&scramble(!seed).to_le_bytes());
    let mut handshake =
        ClientHandshake::new(ClientRequest::new(&host, "/echo"), nonce, Limits::DEFAULT)
            .map_err(io::Error::other)?;
    let mut request = [0u8; 512];
    let len = handshake
        .write_request(&mut request)
        .map_err(|_| io::Error::other("request too long"))?;
    tcp.write_all(&request[..len]).await?;
    let mut response = Vec::with_capacity(512);
    loop {
        let n = timeout(IO_TIMEOUT, tcp.read_buf(&mut response))
            .await
            .map_err(|_| timed_out())??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            ));
        }
        match handshake
            .parse_response(&response)
            .map_err(io::Error::other)?
        {
            Parsed::Partial => {}
            // The server speaks first only after we do: nothing may follow the head.
            Parsed::Complete(_, head_len) if head_len == response.len() => return Ok(tcp),
            Parsed::Complete(..) => return Err(io::Error::other("unsolicited bytes after 101")),
        }
    }
}

/// One client frame, masked: what a browser would send.
fn masked_frame(opcode: OpCode, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; switchyard_core::frame::MAX_HEADER_LEN];
    let len = header.encode(&mut head).expect("a valid header");
    let mut frame = head[..len].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], key, 0);
    frame
}

/// The server's unmasked frame carrying `payload`: the exact bytes expected back.
fn server_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut head = [0u8; switchyard_core::frame::MAX_HEADER_LEN];
    let len = FrameHeader::new(opcode, payload.len() as u64)
        .encode(&mut head)
        .expect("a valid header");
    let mut frame = head[..len].to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// The closing handshake from the client side: send a 1000 close, read the server's close
/// frame (its code must be 1000 too; nothing else may come first), then its end of stream.
async fn close(mut tcp: TcpStream, key: [u8; 4]) -> io::Result<()> {
    // RFC 6455 §7.4.1: 1000, normal closure.
    let code = 1000u16.to_be_bytes();
    tcp.write_all(&masked_frame(OpCode::CLOSE, &code, key))
        .await?;
    let mut buf = Vec::with_capacity(256);
    let reply = timeout(IO_TIMEOUT, async {
        loop {
            if tcp.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF before the close frame",
                ));
            }
            let decoded = FrameHeader::decode(&buf).map_err(io::Error::other)?;
            if let Parsed::Complete(header, len) = decoded
                && buf.len() as u64 >= len as u64 + header.payload_len
            {
                return Ok((header, buf[len..].to_vec()));
            }
        }
    })
    .await
    .map_err(|_| timed_out())??;
    let (header, payload) = reply;
    if header.opcode != OpCode::CLOSE || header.mask.is_some() || payload.get(..2) != Some(&code) {
        return Err(io::Error::other(format!(
            "expected an unmasked close 1000, got {header:?} {payload:?}"
        )));
    }
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    let mut rest = [0u8; 64];
    match timeout(IO_TIMEOUT, tcp.read(&mut rest)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err(io::Error::other("bytes after the close frame")),
        Ok(Err(e)) if e.kind() == io::ErrorKind::ConnectionReset => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("server kept TCP open after the close")),
    }
}

async fn echo(args: &Args) -> io::Result<String> {
    let shared = Rc::new(Shared::default());
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for id in 0..args.conns {
        let seed = scramble(id as u64 + 1);
        let payload: Vec<u8> = if args.text {
            // Text that exercises UTF-8 validation: mostly ASCII with 2-, 3- and 4-byte
            // characters, cut on a character boundary.
            let sample = "switchyard — échos ✓ 😀 ";
            let mut text = String::with_capacity(args.size + 4);
            for c in sample.chars().cycle() {
                if text.len() + c.len_utf8() > args.size {
                    break;
                }
                text.push(c);
            }
            while text.len() < args.size {
                text.push('.');
            }
            text.into_bytes()
        } else {
            (0..args.size)
                .map(|i| scramble(seed ^ i as u64) as u8)
                .collect()
        };
        let opcode = if args.text {
            OpCode::TEXT
        } else {
            OpCode::BINARY
        };
        let key = (scramble(seed) as u32).to_le_bytes();
        let request = masked_frame(opcode, &payload, key);
        let expected = server_frame(opcode, &payload);
        let (tx, rx) = tokio::sync::oneshot::channel();
        ready.push(rx);
        let shared = Rc::clone(&shared);
        let (addr, messages) = (args.addr, args.messages);
        tasks.push(tokio::task::spawn_local(async move {
            let run = async {
                let mut tcp = open(addr, seed).await?;
                let _ = tx.send(());
                let mut reply = vec![0u8; expected.len()];
                let mut left = messages.unwrap_or(u64::MAX);
                while !shared.stop.get() && left > 0 {
                    left -= 1;
                    tcp.write_all(&request).await?;
                    timeout(IO_TIMEOUT, tcp.read_exact(&mut reply))
                        .await
                        .map_err(|_| timed_out())??;
                    if reply != expected {
                        return Err(io::Error::other("echo differs from the message sent"));
                    }
                    shared.done.set(shared.done.get() + 1);
                }
                close(tcp, key).await
            };
            if let Err(e) = run.await {
                shared.failed(e);
            }
        }));
    }
    for rx in ready {
        // A connection that failed to open has recorded why.
        let _ = rx.await;
    }
    let line = if args.messages.is_some() {
        let start = Snapshot::take(&shared, args.server_pid)?;
        for task in tasks {
            let _ = task.await;
        }
        Ok(report(&start, &Snapshot::take(&shared, args.server_pid)?))
    } else {
        let line = measure(args, &shared).await;
        for task in tasks {
            let _ = task.await;
        }
        line
    };
    shared.check()?;
    Ok(format!("conns={} size={} {}", args.conns, args.size, line?))
}

async fn handshakes(args: &Args) -> io::Result<String> {
    let shared = Rc::new(Shared::default());
    let mut tasks = Vec::new();
    for worker in 0..args.conns {
        let shared = Rc::clone(&shared);
        let addr = args.addr;
        tasks.push(tokio::task::spawn_local(async move {
            let mut seed = scramble(worker as u64 + 1);
            while !shared.stop.get() {
                seed = scramble(seed);
                let result = async {
                    let tcp = open(addr, seed).await?;
                    close(tcp, (seed as u32).to_le_bytes()).await
                };
                if let Err(e) = result.await {
                    return shared.failed(e);
                }
                shared.done.set(shared.done.get() + 1);
            }
        }));
    }
    let line = measure(args, &shared).await;
    for task in tasks {
        let _ = task.await;
    }
    shared.check()?;
    Ok(format!("workers={} {}", args.conns, line?))
}

async fn idle(args: &Args) -> io::Result<String> {
    let pid = args
        .server_pid
        .ok_or_else(|| io::Error::other("idle needs --server-pid"))?;
    let before = rss_kib(pid)?;
    let shared = Rc::new(Shared::default());
    let open_conns = Rc::new(RefCell::new(Vec::with_capacity(args.conns)));
    let next = Rc::new(Cell::new(0usize));
    let mut tasks = Vec::new();
    for _ in 0..OPEN_CONCURRENCY.min(args.conns) {
        let (shared, open_conns, next) =
            (Rc::clone(&shared), Rc::clone(&open_conns), Rc::clone(&next));
        let (addr, total) = (args.addr, args.conns);
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let id = next.get();
                if id >= total || shared.first_failure.borrow().is_some() {
                    return;
                }
                next.set(id + 1);
                match open(addr, scramble(id as u64)).await {
                    Ok(tcp) => open_conns.borrow_mut().push(tcp),
                    Err(e) => return shared.failed(e),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    shared.check()?;
    // Let the server finish whatever follows each upgrade.
    sleep(Duration::from_secs(1)).await;
    let after = rss_kib(pid)?;
    let n = open_conns.borrow().len();
    let per_conn = after.saturating_sub(before) as f64 / n as f64;
    Ok(format!(
        "conns={n} rss_before_kib={before} rss_after_kib={after} kib_per_conn={per_conn:.2}"
    ))
}
