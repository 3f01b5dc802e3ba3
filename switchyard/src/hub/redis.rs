//! The Redis backend: one node's link to the Redis that every node shares.
//!
//! Each room has three keys, all expiring together once the room has been silent for the
//! history age: `switchyard:{room}:seq` (the last `seq`), `switchyard:{room}:epoch` and
//! `switchyard:{room}:log` (the history, a Stream whose entry ids are `<seq>-0`). Publishing is
//! one Lua script: INCR, XADD (bounded by MAXLEN, then by age), PEXPIRE and PUBLISH on the
//! channel `switchyard:{room}`. Redis runs scripts one at a time, so a room's messages are
//! numbered and published in one order, and every node's pub/sub connection receives them
//! in that order. A missing epoch key means the history is gone (expired, or Redis
//! restarted without persistence): the script then starts a new epoch at `seq` 1.
//!
//! A background task holds the link: it connects, subscribes to the rooms that have
//! subscribers here, fills from the history whatever was published while it was away, then
//! delivers pub/sub messages until the connection drops, and starts again with backoff.

use std::collections::HashSet;
use std::fmt;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_core::Stream;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::streams::StreamRangeReply;
use redis::{AsyncConnectionConfig, Client, Script};
use switchyard_core::connection::Utf8Bytes;
use tokio::sync::{Notify, mpsc, watch};

use super::delivery::{Delivery, Epoch, Snapshot};
use super::error::HubError;
use super::fanout::Fit;
use super::room::RoomName;
use super::{Backend, HubConfig, Shared};

/// Time to connect, and to wait for any one command's answer: past it the link counts as
/// down, so a Redis that hangs fails publishes visibly instead of holding them.
const TIMEOUT: Duration = Duration::from_secs(3);
/// The first retry after the link drops, doubling up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How often the link checks that Redis still answers on the pub/sub connection: a Redis that
/// hangs, or a network that drops packets without closing the connection, then counts as
/// down within `HEARTBEAT + TIMEOUT`, instead of never.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// Messages read from the history per request when filling a gap.
const FILL_PAGE: usize = 100;

/// Shared by both scripts: the time from Redis (one clock for every node), trimming the
/// history's entries older than the age (`ARGV` age in ms at `age`), and the room's epoch
/// if this Redis process wrote it.
const PRELUDE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function trim(log, age)
  local cutoff = now - age
  while true do
    local first = redis.call('XRANGE', log, '-', '+', 'COUNT', 1)
    if #first == 0 or tonumber(first[1][2][2]) >= cutoff then break end
    redis.call('XDEL', log, first[1][1])
  end
end
-- The room's epoch, unless another Redis process started it (`run` is this one's run id,
-- empty if unknown): a Redis restarted from a snapshot, or a replica that lost the last
-- writes, has the room's seq go back, and would hand out again seqs the nodes already
-- delivered as other messages. A restart cannot say what it lost, so it starts a new
-- history. An epoch with no run recorded (written before runs were) is adopted.
local function current(epoch_key, run_key, run)
  local epoch = redis.call('GET', epoch_key)
  if not epoch or run == '' then return epoch end
  local started = redis.call('GET', run_key)
  if started and started ~= run then return false end
  return epoch
end
";

/// KEYS: seq, epoch, log, run. ARGV: a fresh epoch, the text, the history length, the history
/// age in ms, the channel, the server's run id. Returns `{seq, epoch}`.
const PUBLISH: &str = r"
local age = tonumber(ARGV[4])
local epoch = current(KEYS[2], KEYS[4], ARGV[6])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch)
  redis.call('DEL', KEYS[1], KEYS[3])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[4], ARGV[6]) end
local seq = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[3], 'MAXLEN', ARGV[3], seq .. '-0', 't', now, 'm', ARGV[2])
trim(KEYS[3], age)
redis.call('PEXPIRE', KEYS[1], age)
redis.call('PEXPIRE', KEYS[2], age)
redis.call('PEXPIRE', KEYS[3], age)
redis.call('PEXPIRE', KEYS[4], age)
redis.call('PUBLISH', ARGV[5], seq .. ' ' .. epoch .. ' ' .. ARGV[2])
return {seq, epoch}
";

/// KEYS: seq, epoch, log, run. ARGV: a fresh epoch, the history age in ms, the server's run
/// id. Returns `{epoch, seq, oldest}`, `oldest` being the first seq the history holds
/// (`seq + 1` if none).
const JOIN: &str = r"
local age = tonumber(ARGV[2])
local epoch = current(KEYS[2], KEYS[4], ARGV[3])
if not epoch then
  epoch = ARGV[1]
  redis.call('SET', KEYS[2], epoch, 'PX', age)
  redis.call('DEL', KEYS[1], KEYS[3])
end
if ARGV[3] ~= '' then redis.call('SET', KEYS[4], ARGV[3], 'PX', age) end
trim(KEYS[3], age)
local seq = tonumber(redis.call('GET', KEYS[1]) or '0')
local first = redis.call('XRANGE', KEYS[3], '-', '+', 'COUNT', 1)
local oldest = seq + 1
if #first > 0 then oldest = tonumber(string.match(first[1][1], '^(%d+)')) end
return {epoch, seq, oldest}
";

/// A Redis URL checked for the forms the hub accepts:
/// `redis://[user:password@]host:port[/db]` or `unix:///path`.
#[derive(Clone)]
pub struct RedisUrl {
    client: Client,
    /// For logs: the URL with any password hidden.
    shown: String,
}

/// Why a Redis URL was refused.
#[derive(Debug)]
#[non_exhaustive]
pub enum RedisUrlError {
    /// Neither `redis://` nor `unix://`.
    Scheme,
    /// The `redis` crate cannot make a connection target of it.
    Invalid(redis::RedisError),
}

impl RedisUrl {
    /// Checks `url`. Nothing is connected yet.
    pub fn parse(url: &str) -> Result<RedisUrl, RedisUrlError> {
        let rest = if let Some(rest) = url.strip_prefix("redis://") {
            rest
        } else if let Some(rest) = url.strip_prefix("unix://") {
            rest
        } else {
            return Err(RedisUrlError::Scheme);
        };
        let client = Client::open(url).map_err(RedisUrlError::Invalid)?;
        let shown = match rest.rsplit_once('@') {
            Some((credentials, host)) => {
                let user = credentials.split_once(':').map_or(credentials, |(u, _)| u);
                let scheme = &url[..url.len() - rest.len()];
                format!("{scheme}{user}:***@{host}")
            }
            None => url.to_owned(),
        };
        Ok(RedisUrl { client, shown })
    }
}

impl fmt::Display for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.shown)
    }
}

impl fmt::Debug for RedisUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedisUrl").field(&self.shown).finish()
    }
}

impl fmt::Display for RedisUrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedisUrlError::Scheme => {
                f.write_str("expected redis://[user:password@]host:port[/db] or unix:///path")
            }
            RedisUrlError::Invalid(error) => write!(f, "not a usable Redis URL: {error}"),
        }
    }
}

impl std::error::Error for RedisUrlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RedisUrlError::Scheme => None,
            RedisUrlError::Invalid(error) => Some(error),
        }
    }
}

/// The state of a node's link to Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkState {
    /// Not connected yet since the hub started; retrying with backoff.
    Connecting,
    /// Connected: rooms work.
    Up,
    /// The pub/sub connection was lost; retrying with backoff. Subscriptions stay, and the
    /// gap is filled from the history when the link comes back; new subscriptions fail, and
    /// publishing works only as long as Redis still answers commands.
    Down,
}

impl fmt::Display for LinkState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LinkState::Connecting => "connecting",
            LinkState::Up => "up",
            LinkState::Down => "down",
        })
    }
}

/// The pub/sub side: the subscribe half, and the rooms subscribed on it.
#[derive(Default)]
struct Channels {
    sink: Option<PubSubSink>,
    rooms: HashSet<RoomName>,
}

pub(crate) struct Link {
    url: RedisUrl,
    state: watch::Sender<LinkState>,
    /// The command connection, and the run id of the Redis process it reached (read once
    /// per connection: the scripts compare it with the one that started each room's epoch).
    commands: Mutex<Option<(MultiplexedConnection, Arc<str>)>>,
    channels: tokio::sync::Mutex<Channels>,
    /// Rooms whose last subscriber here left, for the task to unsubscribe.
    emptied: mpsc::UnboundedSender<RoomName>,
    emptied_rx: Mutex<Option<mpsc::UnboundedReceiver<RoomName>>>,
    publish: Script,
    join: Script,
    /// A command found the command connection gone: the task reconnects at once. redis does
    /// not replace a multiplexed connection by itself, and it can die alone (`CLIENT KILL
    /// TYPE normal`, or Redis's idle `timeout`, which spares pub/sub connections), so until
    /// then every publish and join would fail while the link looked up.
    broken: AtomicBool,
    /// Wakes the task when `broken` is set.
    broke: Notify,
}

struct Keys {
    seq: String,
    epoch: String,
    log: String,
    /// The run id of the Redis process that started the epoch.
    run: String,
}

fn keys(room: &RoomName) -> Keys {
    // The braces are a hash tag: a room's keys stay on one Redis Cluster slot.
    Keys {
        seq: format!("switchyard:{{{room}}}:seq"),
        epoch: format!("switchyard:{{{room}}}:epoch"),
        log: format!("switchyard:{{{room}}}:log"),
        run: format!("switchyard:{{{room}}}:run"),
    }
}

fn channel(room: &RoomName) -> String {
    format!("switchyard:{{{room}}}")
}

fn room_of(channel: &str) -> Option<RoomName> {
    let name = channel.strip_prefix("switchyard:{")?.strip_suffix('}')?;
    RoomName::new(name).ok()
}

/// The history age in ms, as the scripts take it (at least 1: 0 would delete at once).
fn age_ms(config: &HubConfig) -> u64 {
    u64::try_from(config.history_age().as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
}

impl Link {
    pub(crate) fn new(url: RedisUrl) -> Link {
        let (emptied, emptied_rx) = mpsc::unbounded_channel();
        Link {
            url,
            state: watch::Sender::new(LinkState::Connecting),
            commands: Mutex::new(None),
            channels: tokio::sync::Mutex::new(Channels::default()),
            emptied,
            emptied_rx: Mutex::new(Some(emptied_rx)),
            publish: Script::new(&format!("{PRELUDE}{PUBLISH}")),
            join: Script::new(&format!("{PRELUDE}{JOIN}")),
            broken: AtomicBool::new(false),
            broke: Notify::new(),
        }
    }

    /// A command's result, as the hub's: an error that says the command connection is gone
    /// has the task reconnect.
    fn checked<T>(&self, result: redis::RedisResult<T>) -> Result<T, HubError> {
        result.map_err(|error| {
            if error.is_unrecoverable_error() || error.is_connection_dropped() {
                self.broken.store(true, Ordering::Relaxed);
                self.broke.notify_waiters();
            }
            HubError::Redis(error)
        })
    }

    pub(crate) fn state(&self) -> LinkState {
        *self.state.borrow()
    }

    pub(crate) fn changes(&self) -> watch::Receiver<LinkState> {
        self.state.subscribe()
    }

    /// A handle on the command connection, or `Unavailable` before the first connection: a
    /// publish fails at once rather than waiting for one.
    fn connection(&self) -> Result<MultiplexedConnection, HubError> {
        Ok(self.commands()?.0)
    }

    /// The command connection and the run id of the Redis process it reaches.
    fn commands(&self) -> Result<(MultiplexedConnection, Arc<str>), HubError> {
        lock(&self.commands).clone().ok_or(HubError::Unavailable)
    }

    pub(crate) async fn publish(
        &self,
        config: &HubConfig,
        room: &RoomName,
        text: Utf8Bytes,
    ) -> Result<u64, HubError> {
        let (mut conn, run) = self.commands()?;
        let keys = keys(room);
        let (seq, _epoch): (u64, String) = self.checked(
            self.publish
                .key(&keys.seq)
                .key(&keys.epoch)
                .key(&keys.log)
                .key(&keys.run)
                .arg(Epoch::random().as_str())
                .arg(text.as_bytes())
                .arg(config.history_len())
                .arg(age_ms(config))
                .arg(channel(room))
                .arg(&*run)
                .invoke_async(&mut conn)
                .await,
        )?;
        Ok(seq)
    }

    /// Makes sure this node receives `room`'s messages, then reads the room's state: what is
    /// published after the read arrives through pub/sub.
    pub(crate) async fn join(
        &self,
        config: &HubConfig,
        room: &RoomName,
    ) -> Result<Snapshot, HubError> {
        if self.state() != LinkState::Up {
            return Err(HubError::Unavailable);
        }
        {
            let mut channels = self.channels.lock().await;
            if !channels.rooms.contains(room) {
                let sink = channels.sink.as_mut().ok_or(HubError::Unavailable)?;
                tokio::time::timeout(TIMEOUT, sink.subscribe(channel(room)))
                    .await
                    .map_err(|_| HubError::Unavailable)??;
                channels.rooms.insert(room.clone());
            }
        }
        self.snapshot(config, room).await
    }

    async fn snapshot(&self, config: &HubConfig, room: &RoomName) -> Result<Snapshot, HubError> {
        let (mut conn, run) = self.commands()?;
        let keys = keys(room);
        let (epoch, seq, oldest): (String, u64, u64) = self.checked(
            self.join
                .key(&keys.seq)
                .key(&keys.epoch)
                .key(&keys.log)
                .key(&keys.run)
                .arg(Epoch::random().as_str())
                .arg(age_ms(config))
                .arg(&*run)
                .invoke_async(&mut conn)
                .await,
        )?;
        Ok(Snapshot {
            epoch: Epoch::new(&epoch),
            seq,
            oldest,
        })
    }

    /// Up to `max` messages of `epoch` with `from <= seq <= until`, oldest first; none if the
    /// room's history is now another epoch.
    pub(crate) async fn range(
        &self,
        room: &RoomName,
        epoch: &Epoch,
        from: u64,
        until: u64,
        max: usize,
    ) -> Result<Vec<Arc<Delivery>>, HubError> {
        let mut conn = self.connection()?;
        let keys = keys(room);
        let (current, reply): (Option<String>, StreamRangeReply) = self.checked(
            redis::pipe()
                .atomic()
                .get(&keys.epoch)
                .xrange_count(&keys.log, format!("{from}-0"), format!("{until}-0"), max)
                .query_async(&mut conn)
                .await,
        )?;
        if current.as_deref() != Some(epoch.as_str()) {
            return Ok(Vec::new());
        }
        Ok(reply
            .ids
            .iter()
            .filter_map(|entry| {
                let seq = entry.id.split_once('-')?.0.parse().ok()?;
                let text = String::from_utf8(entry.get::<Vec<u8>>("m")?).ok()?;
                Some(Arc::new(Delivery::new(
                    room.clone(),
                    epoch.clone(),
                    seq,
                    text.into(),
                )))
            })
            .collect())
    }

    /// Called when the last subscriber of `room` here leaves. While the link is down there
    /// is nothing to unsubscribe: the reconnect subscribes only to rooms with subscribers.
    pub(crate) fn room_emptied(&self, room: &RoomName) {
        if self.state() == LinkState::Up {
            let _ = self.emptied.send(room.clone());
        }
    }

    /// Connects both connections and subscribes to every room with subscribers here.
    async fn connect(&self, shared: &Shared) -> Result<PubSubStream, HubError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        let client = &self.url.client;
        let mut commands = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        // Without `INFO` (an ACL user without `@dangerous`, a Redis-compatible server that
        // has no run id) the run is unknown, and a restart is not told apart.
        let mut info = redis::cmd("INFO");
        info.arg("server");
        let run = match info.query_async::<String>(&mut commands).await {
            Ok(info) => run_id(&info).unwrap_or_else(|| Arc::from("")),
            Err(error) if error.kind() == redis::ErrorKind::Io => return Err(error.into()),
            Err(_) => Arc::from(""),
        };
        let pubsub = tokio::time::timeout(TIMEOUT, client.get_async_pubsub())
            .await
            .map_err(|_| HubError::Unavailable)??;
        let (mut sink, stream) = pubsub.split();
        let mut channels = self.channels.lock().await;
        channels.rooms.clear();
        for (room, _) in shared.fanout.rooms() {
            tokio::time::timeout(TIMEOUT, sink.subscribe(channel(&room)))
                .await
                .map_err(|_| HubError::Unavailable)??;
            channels.rooms.insert(room);
        }
        channels.sink = Some(sink);
        *lock(&self.commands) = Some((commands, run));
        Ok(stream)
    }

    /// Forgets the pub/sub side after it dropped. The command connection stays until the
    /// reconnect replaces it: publishing does not need pub/sub, so a blip there refuses no
    /// message, and if Redis itself is gone each publish fails on its own, visibly.
    async fn disconnect(&self) {
        let mut channels = self.channels.lock().await;
        channels.sink = None;
        channels.rooms.clear();
    }

    /// Whether Redis answers a PING on both connections within the timeout: either can die
    /// alone (see `broken`).
    async fn answers(&self) -> bool {
        let Some(mut sink) = self.channels.lock().await.sink.clone() else {
            return false;
        };
        let ping = tokio::time::timeout(TIMEOUT, sink.ping::<redis::Value>()).await;
        if !matches!(ping, Ok(Ok(_))) {
            return false;
        }
        let Ok(mut conn) = self.connection() else {
            return false;
        };
        let command = redis::cmd("PING");
        let ping = tokio::time::timeout(TIMEOUT, command.query_async::<redis::Value>(&mut conn));
        let ping = ping.await;
        matches!(ping, Ok(Ok(_)))
    }

    async fn unsubscribe_if_empty(&self, shared: &Shared, room: RoomName) {
        let mut channels = self.channels.lock().await;
        if shared.fanout.has_members(&room) || !channels.rooms.remove(&room) {
            return;
        }
        if let Some(sink) = channels.sink.as_mut() {
            // A failure here means the link is going down, which the task sees anyway.
            let _ = tokio::time::timeout(TIMEOUT, sink.unsubscribe(channel(&room))).await;
        }
    }
}

/// The `run_id` field of `INFO server`: a Redis process's own random id, new at each start.
fn run_id(info: &str) -> Option<Arc<str>> {
    let line = info.lines().find_map(|line| line.strip_prefix("run_id:"))?;
    let id = line.trim();
    (!id.is_empty()).then(|| Arc::from(id))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The link's task: connect, catch up, deliver until the connection drops, back off, again.
pub(crate) async fn supervise(shared: Arc<Shared>) {
    let Backend::Redis(link) = &shared.backend else {
        return;
    };
    let Some(mut emptied) = lock(&link.emptied_rx).take() else {
        return;
    };
    let mut backoff = MIN_BACKOFF;
    loop {
        if let Ok(mut stream) = link.connect(&shared).await {
            // What failed on the connections just replaced is no news.
            link.broken.store(false, Ordering::Relaxed);
            backoff = MIN_BACKOFF;
            link.state.send_replace(LinkState::Up);
            // Stale unsubscribe requests from before the reconnect: the subscriptions were
            // just rebuilt from the rooms that have subscribers.
            while emptied.try_recv().is_ok() {}
            catch_up(&shared, link).await;
            listen(&shared, link, &mut stream, &mut emptied).await;
            link.disconnect().await;
            link.state.send_replace(LinkState::Down);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Delivers pub/sub messages (and handles unsubscribe requests) until the connection drops.
async fn listen(
    shared: &Shared,
    link: &Link,
    stream: &mut PubSubStream,
    emptied: &mut mpsc::UnboundedReceiver<RoomName>,
) {
    let mut heartbeat = tokio::time::interval(HEARTBEAT);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        // (Asked before each wait, and the wait made before the flag can be missed: a
        // `Notified` hears `notify_waiters` from its creation on.)
        let broke = link.broke.notified();
        if link.broken.load(Ordering::Relaxed) {
            return;
        }
        tokio::select! {
            () = broke => return,
            message = poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx)) => match message {
                Some(message) => on_message(shared, link, &message).await,
                None => return,
            },
            Some(room) = emptied.recv() => link.unsubscribe_if_empty(shared, room).await,
            _ = heartbeat.tick() => if !link.answers().await {
                return;
            },
        }
    }
}

/// `<seq> <epoch> <text>`, as the publish script writes it.
fn parse_payload(room: RoomName, payload: &[u8]) -> Option<Delivery> {
    let text = std::str::from_utf8(payload).ok()?;
    let (seq, rest) = text.split_once(' ')?;
    let (epoch, text) = rest.split_once(' ')?;
    Some(Delivery::new(
        room,
        Epoch::new(epoch),
        seq.parse().ok()?,
        text.into(),
    ))
}

async fn on_message(shared: &Shared, link: &Link, message: &redis::Msg) {
    let Some(room) = room_of(message.get_channel_name()) else {
        return;
    };
    let Some(delivery) = parse_payload(room, message.get_payload_bytes()) else {
        return;
    };
    let fanout = &shared.fanout;
    match fanout.fit(delivery.room(), delivery.epoch(), delivery.seq()) {
        Fit::Next => fanout.deliver(&Arc::new(delivery)),
        Fit::Gap { after } => {
            fill(
                shared,
                link,
                delivery.room(),
                delivery.epoch(),
                after + 1,
                delivery.seq() - 1,
            )
            .await;
            if matches!(
                fanout.fit(delivery.room(), delivery.epoch(), delivery.seq()),
                Fit::Next | Fit::Gap { .. }
            ) {
                fanout.deliver(&Arc::new(delivery));
            }
        }
        Fit::Stale | Fit::Nobody => {}
    }
}

/// Delivers `from..=until` of `epoch` from the history; what it no longer holds is skipped,
/// and shows as a jump in `seq`.
async fn fill(shared: &Shared, link: &Link, room: &RoomName, epoch: &Epoch, from: u64, until: u64) {
    let mut next = from;
    while next <= until {
        let Ok(page) = link.range(room, epoch, next, until, FILL_PAGE).await else {
            return;
        };
        let Some(last) = page.last() else {
            return;
        };
        next = last.seq() + 1;
        for delivery in &page {
            if matches!(
                shared.fanout.fit(room, epoch, delivery.seq()),
                Fit::Next | Fit::Gap { .. }
            ) {
                shared.fanout.deliver(delivery);
            }
        }
    }
}

/// After a reconnect: for each room with subscribers here, delivers from the history what
/// was published while the link was down, in the epoch it was delivering or from the start
/// of a new one (Redis restarted, or the room's history expired: its members see the new
/// epoch, and every message of it the history holds).
async fn catch_up(shared: &Shared, link: &Link) {
    for (room, last) in shared.fanout.rooms() {
        let Some((epoch, seq)) = last else {
            continue;
        };
        let Ok(now) = link.snapshot(&shared.config, &room).await else {
            return;
        };
        if now.epoch != epoch {
            fill(shared, link, &room, &now.epoch, 1, now.seq).await;
        } else if now.seq > seq {
            fill(shared, link, &room, &epoch, seq + 1, now.seq).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_two_url_forms_and_hides_passwords() {
        let url = RedisUrl::parse("redis://127.0.0.1:6379").unwrap();
        assert_eq!(url.to_string(), "redis://127.0.0.1:6379");
        let url = RedisUrl::parse("redis://me:secret@10.0.0.1:6380/2").unwrap();
        assert_eq!(url.to_string(), "redis://me:***@10.0.0.1:6380/2");
        assert!(!format!("{url:?}").contains("secret"));
        RedisUrl::parse("unix:///run/redis.sock").unwrap();
    }

    #[test]
    fn refuses_other_urls() {
        for url in [
            "",
            "http://x",
            "rediss://x:1",
            "127.0.0.1:6379",
            "redis+unix:///s",
        ] {
            assert!(
                matches!(RedisUrl::parse(url), Err(RedisUrlError::Scheme)),
                "{url}"
            );
        }
        for url in ["redis://", "redis://host:notaport", "redis://h:1/notadb"] {
            assert!(
                matches!(RedisUrl::parse(url), Err(RedisUrlError::Invalid(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn channels_name_their_room() {
        let room = RoomName::new("a.b-c_1").unwrap();
        assert_eq!(room_of(&channel(&room)), Some(room.clone()));
        assert_eq!(room_of("switchyard:{a b}"), None);
        assert_eq!(room_of("other"), None);
        let delivery = parse_payload(room.clone(), "12 ab12 hello world".as_bytes()).unwrap();
        assert_eq!(
            (
                delivery.seq(),
                delivery.epoch().as_str(),
                delivery.text().as_str()
            ),
            (12, "ab12", "hello world")
        );
        assert!(parse_payload(room.clone(), b"x ab hi").is_none());
        assert!(parse_payload(room, b"12").is_none());
    }
}
