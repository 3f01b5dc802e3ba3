//! The load generator: raw TCP, frames masked once ahead of time, a closed loop per
//! connection, every echo checked byte for byte. It does as little as it can per message so
//! that the server under test, not the client, is what runs out of CPU.
//!
//! ```text
//! loadgen echo       --addr A --conns N --size BYTES [--text | --raw] [--secs S | --messages M]
//!                    [--warmup S] [--server-pid P] [--deflate takeover|reset]
//!                    [--tls CA_FILE [--http2]] [--floor-addr F --floor-pid P [--slice S]]
//! loadgen handshakes --addr A [--conns N] [--secs S] [--warmup S] [--server-pid P]
//! loadgen idle       --addr A --conns N [--echo-bytes BYTES] [--rss-cap-kib KIB]
//!                    [--deflate takeover|reset] --server-pid P
//! loadgen chat       --addr A[,B...] --subs N --pubs M [--rooms R] [--rate PER_S] ...
//! ```
//!
//! - `echo`: N connections; each sends one message, reads the whole echo, compares it with
//!   what it expects (header and payload), and repeats; for `--secs` after the warm-up, or
//!   exactly `--messages` times per connection (no warm-up: for profilers, which count
//!   instructions rather than time; `--messages 0` opens and closes the same connections and
//!   sends nothing, the baseline to subtract). With `--raw` there is no WebSocket at all:
//!   no handshake, `--size` bytes sent and the same bytes read back, for the plain TCP floor.
//!   With `--deflate` every connection agrees on permessage-deflate (failing otherwise) and
//!   sends JSON text compressed by the core, each echo inflated and compared by it.
//!   With `--tls` (the `tls` feature) every connection is `wss://` over HTTP/1.1, trusting
//!   the CA in the file; with `--http2` as well, every WebSocket is a stream of one HTTP/2
//!   connection (RFC 8441) ([`secure`]).
//!   With `--floor-addr`, the run is paired ([`pair`]): as many raw connections go to the
//!   floor at that address, and the window is cut into slices in which either the server or
//!   the floor has the turn; the line gives both servers' figures, each over its own slices.
//! - `handshakes`: N workers, each in a loop: connect, upgrade, send a close frame, read the
//!   server's close frame and its end of the TCP stream.
//! - `idle`: opens N connections (upgraded); with `--echo-bytes`, each then carries one
//!   binary message of that size and its echo; after a second of rest it reads the server's
//!   RSS. The connections stay open until then, answering the server's keepalive pings as a
//!   browser would. The server may hold far more per connection than it should (that is
//!   what is measured), so on a shared machine `--rss-cap-kib` stops opening connections
//!   once the server's RSS passes it: the figure per connection is then over the
//!   connections opened, and the line says `capped=1`. Connections the server closed
//!   meanwhile are left out of the count and reported as `server_closed`. With `--deflate`
//!   each connection offers permessage-deflate as Chrome does (`takeover`), or asking both
//!   sides to reset after each message (`reset`), fails unless the server agrees, and carries
//!   `DEFLATE_MESSAGES` JSON messages of about 1 KiB each way, compressed, the echoes
//!   inflated and checked by the core; the RSS is read after `DEFLATE_REST`, so the server's
//!   idle engines have been released (`DeflateConfig::release_after`, 1 s by default).
//! - `chat`: the binary's `/chat` rooms on one node or several, at a fixed offered rate,
//!   every delivery checked, with publish → receive latency; its own flags (`chat.rs`).
//!
//! Counting starts after the warm-up; at the start and end of the measured window the
//! generator reads its own CPU time and the server's (`utime + stime` of `/proc/P/stat`),
//! so both CPU figures cover exactly the messages counted. It prints one line of
//! `key=value` fields and exits 1 if any connection failed or any echo differed.

mod chat;
mod pair;
mod probe;
#[cfg(feature = "tls")]
mod secure;
mod wire;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::rc::Rc;
use std::time::Duration;

use switchyard_core::Limits;
use switchyard_core::OpCode;
use switchyard_core::connection::{Connection, Event, Message, Role};
use switchyard_core::deflate::{DeflateAgreement, DeflateCodec, DeflateConfig};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::LocalSet;
use tokio::time::{sleep, timeout};

use probe::{Shared, Snapshot, measure, report, rss_kib};
use wire::{
    IO_TIMEOUT, answer_pings, close, connect, masked_frame, open, open_offering, scramble,
    server_frame, timed_out,
};

/// Most connections opening, or carrying their one message, at once in `idle`.
const IDLE_CONCURRENCY: usize = 128;
/// Compressed messages each connection carries in `idle --deflate`.
const DEFLATE_MESSAGES: u64 = 3;
/// Rest before reading the RSS in `idle --deflate`: past the server's engine release.
const DEFLATE_REST: Duration = Duration::from_secs(3);
/// How often, in connections opened, `idle` reads the server's RSS against `--rss-cap-kib`.
const RSS_CHECK_EVERY: usize = 32;

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
    raw: bool,
    secs: f64,
    messages: Option<u64>,
    warmup: f64,
    echo_bytes: usize,
    rss_cap_kib: Option<u64>,
    server_pid: Option<u32>,
    deflate: Option<DeflateConfig>,
    /// `--tls`: the CA file to trust.
    tls: Option<PathBuf>,
    http2: bool,
    /// `--floor-addr`, `--floor-pid`: the floor to pair the run with.
    floor: Option<(SocketAddr, u32)>,
    /// `--slice`: about how long one turn of a paired run lasts, in seconds.
    slice: f64,
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
        raw: false,
        secs: 3.0,
        messages: None,
        warmup: 0.5,
        echo_bytes: 0,
        rss_cap_kib: None,
        server_pid: None,
        deflate: None,
        tls: None,
        http2: false,
        floor: None,
        slice: 0.25,
    };
    let (mut floor_addr, mut floor_pid) = (None, None);
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--text" => parsed.text = true,
            "--raw" => parsed.raw = true,
            "--http2" => parsed.http2 = true,
            _ => {
                let value = args.next()?;
                match flag.as_str() {
                    "--addr" => parsed.addr = value.parse().ok()?,
                    "--conns" => parsed.conns = value.parse().ok().filter(|&n| n > 0)?,
                    "--size" => parsed.size = value.parse().ok()?,
                    "--secs" => parsed.secs = value.parse().ok()?,
                    "--messages" => parsed.messages = Some(value.parse().ok()?),
                    "--warmup" => parsed.warmup = value.parse().ok()?,
                    "--echo-bytes" => parsed.echo_bytes = value.parse().ok()?,
                    "--rss-cap-kib" => parsed.rss_cap_kib = Some(value.parse().ok()?),
                    "--server-pid" => parsed.server_pid = Some(value.parse().ok()?),
                    "--tls" => parsed.tls = Some(PathBuf::from(value)),
                    "--floor-addr" => floor_addr = Some(value.parse().ok()?),
                    "--floor-pid" => floor_pid = Some(value.parse().ok()?),
                    "--slice" => parsed.slice = value.parse().ok().filter(|&s: &f64| s > 0.0)?,
                    "--deflate" => {
                        parsed.deflate = Some(match value.as_str() {
                            "takeover" => DeflateConfig::CLIENT,
                            "reset" => DeflateConfig::CLIENT.with_no_context_takeover(true),
                            _ => return None,
                        })
                    }
                    _ => return None,
                }
            }
        }
    }
    parsed.floor = match (floor_addr, floor_pid) {
        (None, None) => None,
        (Some(addr), Some(pid)) => Some((addr, pid)),
        _ => return None,
    };
    // A paired run is a timed echo over plain TCP, with both servers' CPU to read.
    if parsed.floor.is_some()
        && (mode != Mode::Echo
            || parsed.messages.is_some()
            || parsed.server_pid.is_none()
            || parsed.deflate.is_some()
            || parsed.tls.is_some())
    {
        return None;
    }
    // Raw bytes have no opcode, and an empty raw message would never be answered.
    if parsed.raw && (parsed.text || parsed.size == 0) {
        return None;
    }
    // TLS is for `echo` over a WebSocket, HTTP/2 for TLS.
    let secure = parsed.tls.is_some();
    if (secure && (mode != Mode::Echo || parsed.raw || parsed.deflate.is_some()))
        || (parsed.http2 && !secure)
    {
        return None;
    }
    Some(parsed)
}

/// What to run: an echo-server mode, or the chat rooms with flags of their own.
enum Job {
    Server(Args),
    Chat(chat::Args),
}

fn main() -> ExitCode {
    let job = if std::env::args().nth(1).as_deref() == Some("chat") {
        chat::Args::parse(std::env::args().skip(2)).map(Job::Chat)
    } else {
        parse_args().map(Job::Server)
    };
    let Some(job) = job else {
        eprintln!(
            "usage: loadgen {{echo|handshakes|idle}} --addr ADDR:PORT [--conns N] [--size BYTES] \
             [--text | --raw] [--secs S | --messages M] [--warmup S] [--echo-bytes BYTES] \
             [--rss-cap-kib KIB] [--server-pid PID] [--deflate takeover|reset] \
             [--tls CA_FILE [--http2]] [--floor-addr ADDR:PORT --floor-pid PID [--slice S]]\n       \
             loadgen chat --addr ADDR:PORT[,ADDR:PORT...] [--subs N] [--pubs M] [--rooms R] \
             [--rate PER_S] [--size BYTES] [--secs S] [--warmup S] [--server-pid PID[,PID...]] \
             [--broker-pid PID]"
        );
        return ExitCode::from(2);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a Tokio runtime");
    let result = LocalSet::new().block_on(&runtime, async {
        match job {
            Job::Server(args) => match args.mode {
                Mode::Echo => echo(&args).await,
                Mode::Handshakes => handshakes(&args).await,
                Mode::Idle => idle(&args).await,
            },
            Job::Chat(args) => chat::run(&args).await,
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

/// The payload one connection sends, over and over.
fn payload(args: &Args, seed: u64) -> Vec<u8> {
    if args.text {
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
    }
}

/// The plain TCP end of a raw connection: shut down our side, then read the server's end of
/// the stream (nothing else may come).
async fn close_raw(mut tcp: TcpStream) -> io::Result<()> {
    tcp.shutdown().await?;
    let mut rest = [0u8; 64];
    match timeout(IO_TIMEOUT, tcp.read(&mut rest)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err(io::Error::other("bytes after the last echo")),
        Ok(Err(e)) => Err(e),
        Err(_) => Err(timed_out()),
    }
}

/// Sends `text` through `conn` (compressed by its codec), writes it, and reads until the echo
/// is decoded; fails unless it is the same text. Returns the bytes written.
async fn compressed_echo(
    conn: &mut Connection,
    tcp: &mut TcpStream,
    buf: &mut [u8],
    text: &str,
) -> io::Result<u64> {
    conn.send_text(text).map_err(io::Error::other)?;
    let mut written = 0;
    while !conn.poll_transmit().is_empty() {
        let out = conn.poll_transmit().to_vec();
        tcp.write_all(&out).await?;
        conn.consume_transmit(out.len());
        written += out.len() as u64;
    }
    let echoed = loop {
        if let Some(event) = conn.poll_event() {
            break event;
        }
        let n = timeout(IO_TIMEOUT, tcp.read(buf))
            .await
            .map_err(|_| timed_out())??;
        if n == 0 {
            return Err(io::Error::other("closed before the echo"));
        }
        conn.receive_data(&buf[..n]).map_err(io::Error::other)?;
    };
    match echoed {
        Event::Message(Message::Text(echo)) if echo.as_str() == text => Ok(written),
        _ => Err(io::Error::other("echo differs from the message sent")),
    }
}

/// A client connection with the core's codec for what the server agreed.
fn compressing_client(seed: u64, agreed: &DeflateAgreement, config: &DeflateConfig) -> Connection {
    let mut key = seed;
    Connection::client(Limits::DEFAULT, move || {
        key = scramble(key);
        (key as u32).to_be_bytes()
    })
    .with_extension(DeflateCodec::new(Role::Client, agreed, config))
}

/// JSON text of `size` bytes, as a chat or an API sends: what compression is for.
fn json(size: usize, seed: u64) -> String {
    let mut text = String::with_capacity(size + 128);
    let mut i = 0u64;
    while text.len() < size {
        text.push_str(&format!(
            r#"{{"seq":{i},"user":"user{}","room":"lobby","text":"message {i} of the benchmark","ok":true}},"#,
            (seed ^ i) % 113
        ));
        i += 1;
    }
    text.truncate(size);
    text
}

/// `echo --deflate`: each connection agrees on permessage-deflate, then sends `--size` bytes
/// of JSON text compressed by the core and checks each echo inflated by it. The client's
/// codec costs the load generator CPU, not the server: server CPU per message is what counts.
async fn echo_compressed(args: &Args, config: DeflateConfig) -> io::Result<String> {
    let shared = Rc::new(Shared::default());
    // Bytes written and messages sent over the whole run: the compression ratio on the wire.
    let wire = Rc::new(Cell::new((0u64, 0u64)));
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for id in 0..args.conns {
        let seed = scramble(id as u64 + 1);
        let text = json(args.size, seed);
        let wire = Rc::clone(&wire);
        let (tx, rx) = tokio::sync::oneshot::channel();
        ready.push(rx);
        let shared = Rc::clone(&shared);
        let (addr, messages) = (args.addr, args.messages);
        tasks.push(tokio::task::spawn_local(async move {
            let run = async {
                let (mut tcp, agreed) = open_offering(addr, seed, Some(config)).await?;
                let agreed =
                    agreed.ok_or_else(|| io::Error::other("the server declined compression"))?;
                let _ = tx.send(());
                let mut conn = compressing_client(seed, &agreed, &config);
                let mut buf = vec![0u8; 64 * 1024];
                let mut left = messages.unwrap_or(u64::MAX);
                while !shared.stop.get() && left > 0 {
                    left -= 1;
                    let written = compressed_echo(&mut conn, &mut tcp, &mut buf, &text).await?;
                    let (bytes, sent) = wire.get();
                    wire.set((bytes + written, sent + 1));
                    shared.done.set(shared.done.get() + 1);
                }
                close(tcp, (seed as u32).to_le_bytes()).await
            };
            if let Err(e) = run.await {
                shared.failed(e);
            }
        }));
    }
    for rx in ready {
        let _ = rx.await;
    }
    let line = run_to_end(args, &shared, tasks).await;
    shared.check()?;
    let (bytes, sent) = wire.get();
    let ratio = bytes as f64 / (sent.max(1) * args.size as u64) as f64;
    Ok(format!(
        "conns={} size={} wire_ratio={ratio:.4} {}",
        args.conns, args.size, line?
    ))
}

/// How each connection of `echo` reaches the server.
#[derive(Clone)]
enum Link {
    /// `--raw`: plain TCP, no WebSocket.
    Raw,
    /// `ws://`.
    Ws,
    /// `wss://` over HTTP/1.1, each connection its own TLS session.
    #[cfg(feature = "tls")]
    Wss(std::sync::Arc<switchyard::rustls::ClientConfig>),
    /// `wss://` over HTTP/2: every WebSocket a stream of this one connection.
    #[cfg(feature = "tls")]
    Http2(h2::client::SendRequest<bytes::Bytes>),
}

impl Link {
    async fn of(args: &Args) -> io::Result<Link> {
        match &args.tls {
            None if args.raw => Ok(Link::Raw),
            None => Ok(Link::Ws),
            #[cfg(feature = "tls")]
            Some(ca_file) if args.http2 => {
                let config = secure::client_config(ca_file, b"h2")?;
                Ok(Link::Http2(secure::open_http2(args.addr, &config).await?))
            }
            #[cfg(feature = "tls")]
            Some(ca_file) => Ok(Link::Wss(secure::client_config(ca_file, b"http/1.1")?)),
            #[cfg(not(feature = "tls"))]
            Some(_) => Err(io::Error::other("--tls: built without the tls feature")),
        }
    }
}

/// What one connection of `echo` sends and expects back, and how many times (`None`: until
/// the measured window ends).
struct Round {
    request: Vec<u8>,
    expected: Vec<u8>,
    messages: Option<u64>,
}

impl Round {
    /// Says the connection is open (`ready`), then sends and checks the echoes; returns the
    /// stream for the closing handshake.
    async fn run<S: AsyncRead + AsyncWrite + Unpin>(
        &self,
        mut io: S,
        ready: tokio::sync::oneshot::Sender<()>,
        shared: &Shared,
    ) -> io::Result<S> {
        let _ = ready.send(());
        let mut reply = vec![0u8; self.expected.len()];
        let mut left = self.messages.unwrap_or(u64::MAX);
        while left > 0 && shared.turn().await {
            left -= 1;
            shared.in_flight.set(shared.in_flight.get() + 1);
            io.write_all(&self.request).await?;
            timeout(IO_TIMEOUT, io.read_exact(&mut reply))
                .await
                .map_err(|_| timed_out())??;
            if reply != self.expected {
                return Err(io::Error::other("echo differs from the message sent"));
            }
            shared.in_flight.set(shared.in_flight.get() - 1);
            shared.done.set(shared.done.get() + 1);
        }
        Ok(io)
    }
}

async fn echo(args: &Args) -> io::Result<String> {
    if let Some(config) = args.deflate {
        return echo_compressed(args, config).await;
    }
    let link = Link::of(args).await?;
    let shared = Rc::new(Shared::default());
    let (mut tasks, mut ready) = spawn_echoes(args, args.addr, &link, &shared);
    // A paired run: as many raw connections to the floor, waiting for their turn.
    let floor = Rc::new(Shared::default());
    if let Some((addr, _)) = args.floor {
        floor.set_turn(false);
        let (more, also_ready) = spawn_echoes(args, addr, &Link::Raw, &floor);
        tasks.extend(more);
        ready.extend(also_ready);
    }
    for rx in ready {
        // A connection that failed to open has recorded why.
        let _ = rx.await;
    }
    let line = match (args.floor, args.server_pid) {
        (Some((_, floor_pid)), Some(pid)) => {
            let line = pair::measure_paired(
                args.warmup,
                args.secs,
                args.slice,
                pair::Side {
                    shared: &shared,
                    pid,
                },
                pair::Side {
                    shared: &floor,
                    pid: floor_pid,
                },
            )
            .await;
            for task in tasks {
                let _ = task.await;
            }
            floor.check()?;
            line
        }
        _ => run_to_end(args, &shared, tasks).await,
    };
    shared.check()?;
    Ok(format!("conns={} size={} {}", args.conns, args.size, line?))
}

/// Opens `--conns` connections to `addr` over `link`, each a task carrying its echoes
/// (counted in `shared`); returns the tasks and, per connection, word that it is open.
fn spawn_echoes(
    args: &Args,
    addr: SocketAddr,
    link: &Link,
    shared: &Rc<Shared>,
) -> (
    Vec<tokio::task::JoinHandle<()>>,
    Vec<tokio::sync::oneshot::Receiver<()>>,
) {
    let raw = matches!(link, Link::Raw);
    let mut tasks = Vec::new();
    let mut ready = Vec::new();
    for id in 0..args.conns {
        let seed = scramble(id as u64 + 1);
        let payload = payload(args, seed);
        let opcode = if args.text {
            OpCode::TEXT
        } else {
            OpCode::BINARY
        };
        let key = (scramble(seed) as u32).to_le_bytes();
        let (request, expected) = if raw {
            (payload.clone(), payload)
        } else {
            (
                masked_frame(opcode, &payload, key),
                server_frame(opcode, &payload),
            )
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        ready.push(rx);
        let shared = Rc::clone(shared);
        let round = Round {
            request,
            expected,
            messages: args.messages,
        };
        let link = link.clone();
        tasks.push(tokio::task::spawn_local(async move {
            let run = async {
                match link {
                    Link::Raw => {
                        close_raw(round.run(connect(addr).await?, tx, &shared).await?).await
                    }
                    Link::Ws => {
                        close(round.run(open(addr, seed).await?, tx, &shared).await?, key).await
                    }
                    #[cfg(feature = "tls")]
                    Link::Wss(config) => {
                        let tls = secure::open_wss(addr, seed, &config).await?;
                        close(round.run(tls, tx, &shared).await?, key).await
                    }
                    #[cfg(feature = "tls")]
                    Link::Http2(send) => {
                        let stream = secure::open_stream(&send).await?;
                        close(round.run(stream, tx, &shared).await?, key).await
                    }
                }
            };
            if let Err(e) = run.await {
                shared.failed(e);
            }
        }));
    }
    (tasks, ready)
}

/// Lets the open connections of `echo` run: with `--messages`, until each has carried them
/// (measured from when all are open); otherwise for the warm-up and the measured window.
/// Either way each connection ends with the closing handshake.
async fn run_to_end(
    args: &Args,
    shared: &Shared,
    tasks: Vec<tokio::task::JoinHandle<()>>,
) -> io::Result<String> {
    let pids = args.server_pid.as_slice();
    if args.messages.is_some() {
        let start = Snapshot::take(shared, pids)?;
        for task in tasks {
            let _ = task.await;
        }
        return Ok(report(&start, &Snapshot::take(shared, pids)?));
    }
    let line = measure(args.warmup, args.secs, pids, shared).await;
    for task in tasks {
        let _ = task.await;
    }
    line
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
    let line = measure(args.warmup, args.secs, args.server_pid.as_slice(), &shared).await;
    for task in tasks {
        let _ = task.await;
    }
    shared.check()?;
    Ok(format!("workers={} {}", args.conns, line?))
}

/// One connection of `idle`: upgraded and, given a message, carrying it and its echo once.
async fn open_idle(
    addr: SocketAddr,
    seed: u64,
    message: Option<&(Vec<u8>, Vec<u8>)>,
    deflate: Option<DeflateConfig>,
) -> io::Result<TcpStream> {
    if let Some(config) = deflate {
        return open_compressed(addr, seed, config).await;
    }
    let mut tcp = open(addr, seed).await?;
    if let Some((request, expected)) = message {
        tcp.write_all(request).await?;
        let mut reply = vec![0u8; expected.len()];
        timeout(IO_TIMEOUT, tcp.read_exact(&mut reply))
            .await
            .map_err(|_| timed_out())??;
        if reply != *expected {
            return Err(io::Error::other("echo differs from the message sent"));
        }
    }
    Ok(tcp)
}

/// One connection of `idle --deflate`: compression agreed, then `DEFLATE_MESSAGES` JSON
/// messages sent compressed by the core, and their echoes inflated and compared.
async fn open_compressed(
    addr: SocketAddr,
    seed: u64,
    config: DeflateConfig,
) -> io::Result<TcpStream> {
    let (mut tcp, agreed) = open_offering(addr, seed, Some(config)).await?;
    let agreed = agreed.ok_or_else(|| io::Error::other("the server declined compression"))?;
    let mut conn = compressing_client(seed, &agreed, &config);
    let mut buf = vec![0u8; 16 * 1024];
    for i in 0..DEFLATE_MESSAGES {
        let text: String = (0..12)
            .map(|j| {
                format!(
                    r#"{{"seq":{},"user":"u{}","text":"message {j} from {seed}"}},"#,
                    i * 12 + j,
                    seed % 97
                )
            })
            .collect();
        compressed_echo(&mut conn, &mut tcp, &mut buf, &text).await?;
    }
    Ok(tcp)
}

async fn idle(args: &Args) -> io::Result<String> {
    let pid = args
        .server_pid
        .ok_or_else(|| io::Error::other("idle needs --server-pid"))?;
    let before = rss_kib(pid)?;
    // One message, masked once, shared by every connection: the client's memory stays
    // bounded by the connections carrying it at once.
    let message = (args.echo_bytes > 0).then(|| {
        let payload: Vec<u8> = (0..args.echo_bytes)
            .map(|i| scramble(i as u64) as u8)
            .collect();
        Rc::new((
            masked_frame(OpCode::BINARY, &payload, [0x5a, 0x3c, 0xa5, 0xc3]),
            server_frame(OpCode::BINARY, &payload),
        ))
    });
    let shared = Rc::new(Shared::default());
    // Each open connection is a task answering pings; it counts itself out when the server
    // ends it.
    let opened = Rc::new(Cell::new(0usize));
    let server_closed = Rc::new(Cell::new(0usize));
    let next = Rc::new(Cell::new(0usize));
    let mut tasks = Vec::new();
    for _ in 0..IDLE_CONCURRENCY.min(args.conns) {
        let (shared, next) = (Rc::clone(&shared), Rc::clone(&next));
        let (opened, server_closed) = (Rc::clone(&opened), Rc::clone(&server_closed));
        let message = message.clone();
        let (addr, total, cap, deflate) = (args.addr, args.conns, args.rss_cap_kib, args.deflate);
        tasks.push(tokio::task::spawn_local(async move {
            loop {
                let id = next.get();
                if id >= total || shared.stop.get() || shared.first_failure.borrow().is_some() {
                    return;
                }
                if let Some(cap) = cap
                    && id % RSS_CHECK_EVERY == 0
                {
                    match rss_kib(pid) {
                        Ok(rss) if rss > cap => return shared.stop.set(true),
                        Ok(_) => {}
                        Err(e) => return shared.failed(e),
                    }
                }
                next.set(id + 1);
                match open_idle(addr, scramble(id as u64), message.as_deref(), deflate).await {
                    Ok(tcp) => {
                        opened.set(opened.get() + 1);
                        let server_closed = Rc::clone(&server_closed);
                        drop(tokio::task::spawn_local(async move {
                            // Ended by the server or failed: either way no longer idle.
                            let _ = answer_pings(tcp, [0x3c, 0x5a, 0xc3, 0xa5]).await;
                            server_closed.set(server_closed.get() + 1);
                        }));
                    }
                    Err(e) => return shared.failed(e),
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    shared.check()?;
    // Let the server finish whatever follows each upgrade or echo (and, with compression,
    // release its idle engines).
    sleep(if args.deflate.is_some() {
        DEFLATE_REST
    } else {
        Duration::from_secs(1)
    })
    .await;
    let after = rss_kib(pid)?;
    let server_closed = server_closed.get();
    let n = opened.get() - server_closed;
    let per_conn = after.saturating_sub(before) as f64 / n.max(1) as f64;
    Ok(format!(
        "conns={n} echo_bytes={} deflate={} rss_before_kib={before} rss_after_kib={after} \
         kib_per_conn={per_conn:.2} server_closed={server_closed} capped={}",
        args.echo_bytes,
        match args.deflate {
            None => "off",
            Some(c) if c.server_no_context_takeover => "reset",
            Some(_) => "takeover",
        },
        u8::from(shared.stop.get())
    ))
}
