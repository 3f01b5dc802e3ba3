//! `loadgen chat`: the `switchyard` binary's `/chat` rooms under a fixed offered load, on one
//! node or on several sharing a Redis.
//!
//! ```text
//! loadgen chat --addr A[,B...] --subs N --pubs M [--rooms R] [--rate PER_S] [--size BYTES]
//!              [--secs S] [--warmup S] [--server-pid P[,P...]] [--broker-pid P]
//! ```
//!
//! - Members: N subscribers and M publishers. Member `i` of each kind joins node `i % nodes`
//!   and room `(i / nodes) % rooms` (`bench0`, `bench1`...), so with M a multiple of
//!   nodes × rooms every room has members and publishers on every node. A publisher is a
//!   member too: the contract delivers every message to its sender as well.
//! - Everyone joins (`JOIN_CONCURRENCY` handshakes at a time) before anyone speaks, and every
//!   member of a room must be told the same `seq` and `epoch` in `joined`.
//! - Each publisher then sends `--rate` messages a second (open loop, its ticks staggered
//!   against the others'), each a text of `--size` bytes that starts with its id, its own count
//!   and its send time in µs; the rate must stay under the server's `--chat-rate`, or the
//!   server refuses with `rate_limited` and the run fails.
//! - Every member checks every delivery: `seq` one more than the last (no gap, no duplicate),
//!   the room and epoch of its `joined`, and each publisher's messages in the order sent with
//!   none missing. An `error`, a close or any other frame fails the run.
//! - The measured window (after `--warmup`, for `--secs`) counts deliveries, reads the nodes'
//!   CPU time (summed over `--server-pid`) and the broker's (`--broker-pid`, Redis) at its
//!   edges, and keeps the publish → receive latency of each delivery in it (receive time is
//!   when the read that brought it returned). Then publishing stops and every member must
//!   receive every message its room was sent, within `DRAIN_TIMEOUT`.
//!
//! It prints one line of `key=value` fields (`ops` are deliveries) and exits 1 if any check
//! failed.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::str::FromStr;
use std::time::Duration;

use serde_json::Value;
use switchyard_core::{FrameHeader, OpCode, Parsed};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::{Instant, Interval, interval_at, sleep, timeout};

use crate::probe::{Shared, Snapshot, cpu_sum, report};
use crate::wire::{IO_TIMEOUT, masked_frame, open_at, scramble, timed_out};

/// Most handshakes in flight at once while the members join.
const JOIN_CONCURRENCY: usize = 64;
/// How long the members may take, once publishing stops, to receive what is still on its way.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest frame a member accepts: a chat message of the default 64 KiB, as JSON.
const MAX_FRAME: u64 = 256 * 1024;

#[derive(Debug, Clone)]
pub(crate) struct Args {
    nodes: Vec<SocketAddr>,
    subs: usize,
    pubs: usize,
    rooms: usize,
    rate: f64,
    size: usize,
    secs: f64,
    warmup: f64,
    server_pids: Vec<u32>,
    broker_pid: Option<u32>,
}

/// A comma-separated list of at least one value.
fn list<T: FromStr>(text: &str) -> Option<Vec<T>> {
    text.split(',').map(|v| v.parse().ok()).collect()
}

impl Args {
    /// The flags after `chat`; `None` for anything malformed.
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Option<Args> {
        let mut parsed = Args {
            nodes: Vec::new(),
            subs: 0,
            pubs: 1,
            rooms: 1,
            rate: 10.0,
            size: 64,
            secs: 5.0,
            warmup: 1.0,
            server_pids: Vec::new(),
            broker_pid: None,
        };
        while let Some(flag) = args.next() {
            let value = args.next()?;
            match flag.as_str() {
                "--addr" => parsed.nodes = list(&value)?,
                "--subs" => parsed.subs = value.parse().ok()?,
                "--pubs" => parsed.pubs = value.parse().ok().filter(|&n| n > 0)?,
                "--rooms" => parsed.rooms = value.parse().ok().filter(|&n| n > 0)?,
                "--rate" => parsed.rate = value.parse().ok().filter(|&r: &f64| r > 0.0)?,
                "--size" => parsed.size = value.parse().ok()?,
                "--secs" => parsed.secs = value.parse().ok()?,
                "--warmup" => parsed.warmup = value.parse().ok()?,
                "--server-pid" => parsed.server_pids = list(&value)?,
                "--broker-pid" => parsed.broker_pid = Some(value.parse().ok()?),
                _ => return None,
            }
        }
        (!parsed.nodes.is_empty()).then_some(parsed)
    }
}

/// What the whole run shares: the counters of [`Shared`] (`done` counts deliveries, `stop`
/// ends publishing), the send-time clock, and what the checks and the report need.
struct Run {
    shared: Shared,
    /// Send stamps are µs since this instant.
    base: Instant,
    /// Whether deliveries now fall in the measured window.
    measuring: Cell<bool>,
    /// Publish → receive latency in µs of each delivery in the window.
    latencies: RefCell<Vec<u32>>,
    /// Messages written to each room.
    sent: Vec<Cell<u64>>,
    /// Publishers still sending.
    publishing: Cell<usize>,
}

impl Run {
    fn new(rooms: usize, publishers: usize) -> Run {
        Run {
            shared: Shared::default(),
            base: Instant::now(),
            measuring: Cell::new(false),
            latencies: RefCell::new(Vec::new()),
            sent: (0..rooms).map(|_| Cell::new(0)).collect(),
            publishing: Cell::new(publishers),
        }
    }

    fn now_us(&self) -> u64 {
        self.base.elapsed().as_micros() as u64
    }
}

/// What `joined` told a member.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Joined {
    seq: u64,
    epoch: String,
}

/// A publisher's part in a member's task.
struct Publisher {
    id: usize,
    room: usize,
    /// Bytes of each message's text.
    size: usize,
    ticker: Interval,
}

/// One member's checks on what it receives.
struct Receiver {
    room: String,
    epoch: String,
    next_seq: u64,
    /// The last count received from each publisher (by id).
    last_from: Vec<u64>,
    /// Messages received since joining, read by the drain.
    received: Rc<Cell<u64>>,
}

fn invalid(what: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what.into())
}

/// The first complete frame in `buf`: its header and payload range. Anything but an
/// unfragmented, unmasked frame of at most `MAX_FRAME` bytes is an error.
fn frame(buf: &[u8]) -> io::Result<Option<(FrameHeader, std::ops::Range<usize>)>> {
    match FrameHeader::decode(buf).map_err(io::Error::other)? {
        Parsed::Partial => Ok(None),
        Parsed::Complete(header, len) => {
            if !header.fin || header.mask.is_some() || header.payload_len > MAX_FRAME {
                return Err(invalid(format!("unexpected frame {header:?}")));
            }
            let end = len + header.payload_len as usize;
            Ok((buf.len() >= end).then_some((header, len..end)))
        }
    }
}

/// Joins `room` on `node`: upgrades, reads `joined`, and returns the stream with the bytes
/// read after it.
async fn join(node: SocketAddr, room: &str, seed: u64) -> io::Result<(TcpStream, Vec<u8>, Joined)> {
    let (mut tcp, _, mut buf) = open_at(node, &format!("/chat/{room}"), seed, None).await?;
    loop {
        if let Some((header, payload)) = frame(&buf)? {
            if header.opcode != OpCode::TEXT {
                return Err(invalid(format!("expected joined, got {header:?}")));
            }
            let value: Value = serde_json::from_slice(&buf[payload.clone()])?;
            let joined = match (
                &value["type"],
                &value["room"],
                &value["seq"],
                &value["epoch"],
            ) {
                (Value::String(t), Value::String(r), Value::Number(seq), Value::String(epoch))
                    if t == "joined" && r == room =>
                {
                    Joined {
                        seq: seq.as_u64().ok_or_else(|| invalid("seq"))?,
                        epoch: epoch.clone(),
                    }
                }
                _ => return Err(invalid(format!("expected joined, got {value}"))),
            };
            buf.drain(..payload.end);
            return Ok((tcp, buf, joined));
        }
        let n = timeout(IO_TIMEOUT, tcp.read_buf(&mut buf))
            .await
            .map_err(|_| timed_out())??;
        if n == 0 {
            return Err(invalid("closed before joined"));
        }
    }
}

impl Receiver {
    /// Checks one text frame from the server, received at `now_us`, and counts it.
    fn deliver(&mut self, payload: &[u8], now_us: u64, run: &Run) -> io::Result<()> {
        let value: Value = serde_json::from_slice(payload)?;
        if value["type"] != "message" {
            return Err(invalid(format!("expected a message, got {value}")));
        }
        if value["room"] != self.room.as_str() || value["epoch"] != self.epoch.as_str() {
            return Err(invalid(format!(
                "a message of another room or epoch: {value}"
            )));
        }
        if value["seq"].as_u64() != Some(self.next_seq) {
            return Err(invalid(format!(
                "expected seq {}, got {value}",
                self.next_seq
            )));
        }
        self.next_seq += 1;
        let text = value["text"].as_str().unwrap_or_default();
        let mut stamp = text.split(' ').map(str::parse::<u64>);
        let (Some(Ok(from)), Some(Ok(count)), Some(Ok(sent_us))) =
            (stamp.next(), stamp.next(), stamp.next())
        else {
            return Err(invalid(format!("not a benchmark message: {value}")));
        };
        let last = self
            .last_from
            .get_mut(from as usize)
            .ok_or_else(|| invalid(format!("no publisher {from}")))?;
        // One client's messages keep the order it sent them in, none missing.
        if count != *last + 1 {
            return Err(invalid(format!(
                "publisher {from}: expected message {}, got {count}",
                *last + 1
            )));
        }
        *last = count;
        self.received.set(self.received.get() + 1);
        run.shared.done.set(run.shared.done.get() + 1);
        if run.measuring.get() {
            let latency = now_us.saturating_sub(sent_us).min(u64::from(u32::MAX));
            run.latencies.borrow_mut().push(latency as u32);
        }
        Ok(())
    }
}

/// The next tick of a publisher that still publishes; never, for anyone else.
async fn tick(publisher: &mut Option<Publisher>) {
    match publisher {
        Some(p) => {
            p.ticker.tick().await;
        }
        None => std::future::pending().await,
    }
}

/// One member's connection: reads and checks deliveries, answers pings, and, for a
/// publisher, sends on each tick until the run stops publishing.
async fn member(
    run: Rc<Run>,
    mut tcp: TcpStream,
    mut buf: Vec<u8>,
    mut receiver: Receiver,
    mut publisher: Option<Publisher>,
    key: [u8; 4],
) -> io::Result<()> {
    let mut count = 0u64;
    loop {
        tokio::select! {
            read = tcp.read_buf(&mut buf) => {
                if read? == 0 {
                    return Err(invalid("the server closed the connection"));
                }
                let now = run.now_us();
                let mut at = 0;
                let mut pongs = Vec::new();
                while let Some((header, payload)) = frame(&buf[at..])? {
                    let bytes = &buf[at + payload.start..at + payload.end];
                    match header.opcode {
                        OpCode::TEXT => receiver.deliver(bytes, now, &run)?,
                        // RFC 6455 §5.5.3: a pong carries the ping's payload.
                        OpCode::PING => pongs.extend(masked_frame(OpCode::PONG, bytes, key)),
                        OpCode::CLOSE => {
                            return Err(invalid(format!(
                                "closed by the server: {}",
                                String::from_utf8_lossy(bytes.get(2..).unwrap_or_default())
                            )));
                        }
                        other => return Err(invalid(format!("unexpected {other:?} frame"))),
                    }
                    at += payload.end;
                }
                buf.drain(..at);
                buf.reserve(16 * 1024);
                tcp.write_all(&pongs).await?;
            }
            () = tick(&mut publisher) => {
                let Some(&Publisher { id, room, size, .. }) = publisher.as_ref() else { continue };
                if run.shared.stop.get() {
                    publisher = None;
                    run.publishing.set(run.publishing.get() - 1);
                    continue;
                }
                count += 1;
                let mut text = format!("{id} {count} {} ", run.now_us());
                let pad = size.saturating_sub(text.len());
                text.extend(std::iter::repeat_n('x', pad));
                tcp.write_all(&masked_frame(OpCode::TEXT, text.as_bytes(), key)).await?;
                run.sent[room].set(run.sent[room].get() + 1);
            }
        }
    }
}

/// Node and room of member `i` of one kind (subscribers or publishers).
fn place(i: usize, args: &Args) -> (usize, usize) {
    let nodes = args.nodes.len();
    (i % nodes, (i / nodes) % args.rooms)
}

/// The `p`-th percentile of sorted samples (nearest rank).
fn percentile(sorted: &[u32], p: f64) -> u32 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub(crate) async fn run(args: &Args) -> io::Result<String> {
    let run = Rc::new(Run::new(args.rooms, args.pubs));
    // Publishers first, then subscribers: (node, room, publisher id).
    let plan: Vec<(usize, usize, Option<usize>)> = (0..args.pubs)
        .map(|p| {
            let (node, room) = place(p, args);
            (node, room, Some(p))
        })
        .chain((0..args.subs).map(|s| {
            let (node, room) = place(s, args);
            (node, room, None)
        }))
        .collect();

    let gate = Rc::new(Semaphore::new(JOIN_CONCURRENCY));
    let joins: Vec<_> = plan
        .iter()
        .enumerate()
        .map(|(i, &(node, room, _))| {
            let (gate, addr) = (Rc::clone(&gate), args.nodes[node]);
            tokio::task::spawn_local(async move {
                let _permit = gate.acquire().await.map_err(io::Error::other)?;
                join(addr, &format!("bench{room}"), scramble(i as u64 + 1)).await
            })
        })
        .collect();
    let mut joined = Vec::with_capacity(plan.len());
    for join in joins {
        joined.push(join.await.map_err(io::Error::other)??);
    }
    // Nobody has spoken yet: every member of a room starts from the same point.
    let mut start_of: Vec<Option<Joined>> = vec![None; args.rooms];
    for (&(_, room, _), (_, _, j)) in plan.iter().zip(&joined) {
        match &start_of[room] {
            None => start_of[room] = Some(j.clone()),
            Some(first) if first == j => {}
            Some(first) => return Err(invalid(format!("bench{room}: {j:?} after {first:?}"))),
        }
    }

    let period = Duration::from_secs_f64(1.0 / args.rate);
    let first_tick = Instant::now() + Duration::from_millis(50);
    let mut received = Vec::with_capacity(plan.len());
    let mut tasks = Vec::with_capacity(plan.len());
    for (i, (&(_, room, id), (tcp, buf, j))) in plan.iter().zip(joined).enumerate() {
        let count = Rc::new(Cell::new(0u64));
        received.push((room, Rc::clone(&count)));
        let receiver = Receiver {
            room: format!("bench{room}"),
            epoch: j.epoch,
            next_seq: j.seq + 1,
            last_from: vec![0; args.pubs],
            received: count,
        };
        // Publishers' ticks spread evenly over one period.
        let publisher = id.map(|id| Publisher {
            id,
            room,
            size: args.size,
            ticker: interval_at(
                first_tick + period.mul_f64(id as f64 / args.pubs as f64),
                period,
            ),
        });
        let key = (scramble(!(i as u64)) as u32).to_le_bytes();
        let run = Rc::clone(&run);
        tasks.push(tokio::task::spawn_local(async move {
            if let Err(e) = member(Rc::clone(&run), tcp, buf, receiver, publisher, key).await {
                run.shared.failed(e);
            }
        }));
    }

    sleep(Duration::from_secs_f64(args.warmup)).await;
    run.shared.check()?;
    let broker_start = cpu_sum(args.broker_pid.as_slice())?;
    let start = Snapshot::take(&run.shared, &args.server_pids)?;
    run.measuring.set(true);
    sleep(Duration::from_secs_f64(args.secs)).await;
    run.measuring.set(false);
    let end = Snapshot::take(&run.shared, &args.server_pids)?;
    let broker_cpu = cpu_sum(args.broker_pid.as_slice())? - broker_start;
    run.shared.stop.set(true);

    // Every member must receive every message its room was sent.
    let deadline = Instant::now() + DRAIN_TIMEOUT;
    let drained = loop {
        run.shared.check()?;
        if run.publishing.get() == 0
            && received
                .iter()
                .all(|(room, count)| count.get() == run.sent[*room].get())
        {
            break true;
        }
        if Instant::now() > deadline {
            break false;
        }
        sleep(Duration::from_millis(10)).await;
    };
    for task in tasks {
        task.abort();
    }
    run.shared.check()?;
    if !drained {
        let short = received
            .iter()
            .filter(|(room, count)| count.get() != run.sent[*room].get())
            .count();
        return Err(invalid(format!(
            "{short} member(s) missing messages {}s after publishing stopped",
            DRAIN_TIMEOUT.as_secs()
        )));
    }
    let mut latencies = run.latencies.take();
    latencies.sort_unstable();
    let sent: u64 = run.sent.iter().map(Cell::get).sum();
    Ok(format!(
        "nodes={} members={} rooms={} offered_per_s={:.0} sent={sent} {} broker_cpu_s={broker_cpu:.2} \
         p50_us={} p99_us={} max_us={}",
        args.nodes.len(),
        plan.len(),
        args.rooms,
        args.rate * args.pubs as f64,
        report(&start, &end),
        percentile(&latencies, 50.0),
        percentile(&latencies, 99.0),
        latencies.last().copied().unwrap_or(0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receiver(next_seq: u64) -> Receiver {
        Receiver {
            room: "bench0".into(),
            epoch: "e1".into(),
            next_seq,
            last_from: vec![0; 2],
            received: Rc::new(Cell::new(0)),
        }
    }

    fn message(seq: u64, text: &str) -> Vec<u8> {
        format!(r#"{{"type":"message","room":"bench0","epoch":"e1","seq":{seq},"text":"{text}"}}"#)
            .into_bytes()
    }

    #[test]
    fn counts_deliveries_in_order_and_their_latency_in_the_window() {
        let run = Run::new(1, 2);
        let mut member = receiver(5);
        member
            .deliver(&message(5, "1 1 100 xx"), 150, &run)
            .unwrap();
        run.measuring.set(true);
        member
            .deliver(&message(6, "0 1 200 xx"), 450, &run)
            .unwrap();
        member
            .deliver(&message(7, "1 2 300 xx"), 450, &run)
            .unwrap();
        assert_eq!(member.received.get(), 3);
        assert_eq!(run.shared.done.get(), 3);
        assert_eq!(*run.latencies.borrow(), [250, 150]);
    }

    #[test]
    fn refuses_a_seq_gap_a_duplicate_and_a_publisher_out_of_order() {
        let run = Run::new(1, 2);
        let mut member = receiver(5);
        assert!(member.deliver(&message(6, "0 1 0"), 0, &run).is_err());
        let mut member = receiver(5);
        member.deliver(&message(5, "0 1 0"), 0, &run).unwrap();
        assert!(member.deliver(&message(5, "0 2 0"), 0, &run).is_err());
        let mut member = receiver(5);
        assert!(member.deliver(&message(5, "0 2 0"), 0, &run).is_err());
    }

    #[test]
    fn refuses_an_error_another_room_and_a_foreign_text() {
        let run = Run::new(1, 2);
        let error = br#"{"type":"error","reason":"rate_limited","detail":""}"#;
        assert!(receiver(1).deliver(error, 0, &run).is_err());
        let other = br#"{"type":"message","room":"bench1","epoch":"e1","seq":1,"text":"0 1 0"}"#;
        assert!(receiver(1).deliver(other, 0, &run).is_err());
        assert!(receiver(1).deliver(&message(1, "hello"), 0, &run).is_err());
        assert!(receiver(1).deliver(&message(1, "7 1 0"), 0, &run).is_err());
    }

    #[test]
    fn publishers_speak_in_every_room_on_every_node() {
        let args = Args::parse(
            [
                "--addr",
                "127.0.0.1:1,127.0.0.1:2,127.0.0.1:3",
                "--pubs",
                "6",
                "--rooms",
                "2",
            ]
            .map(String::from)
            .into_iter(),
        )
        .unwrap();
        let mut places: Vec<_> = (0..6).map(|p| place(p, &args)).collect();
        places.sort_unstable();
        assert_eq!(places, [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]);
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples: Vec<u32> = (1..=100).collect();
        assert_eq!(percentile(&samples, 50.0), 50);
        assert_eq!(percentile(&samples, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
