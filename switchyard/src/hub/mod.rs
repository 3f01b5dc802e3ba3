//! A publish/subscribe hub for WebSocket applications: rooms, publish, and subscriptions with
//! a bounded queue and an explicit slow-consumer policy, on one of two backends behind the
//! same API.
//!
//! - **In-process** ([`Hub::in_memory`], the `hub` feature, no dependency): one node. Each
//!   room's history lives in this process.
//! - **Redis** ([`Hub::redis`], the `redis` feature): every node sharing one Redis serves
//!   the same rooms. A Lua script assigns each message its room's next `seq` atomically in
//!   Redis, appends it to the room's history (a Redis Stream bounded by count and age) and
//!   publishes it (pub/sub) in one step, so every node receives a room's messages in `seq`
//!   order. Each node puts what it receives back in order (duplicates dropped, gaps filled
//!   from the history), so its subscribers see every `seq` exactly once while nothing fails.
//!
//! ## Delivery, in plain words
//!
//! - One order per room: every subscriber, on every node, sees the room's messages in
//!   increasing `seq` (one more per message), and a publisher's messages keep the order it
//!   published them in.
//! - While nothing fails, every subscriber receives every message once.
//! - After a fault (the Redis link dropped, a subscriber cut off, a room's history expired),
//!   whatever could not be recovered shows as a jump in `seq` or a new [`Epoch`]; a subscriber
//!   that comes back with its last [`Position`] gets everything still in the history first.
//!
//! ## Example
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use switchyard::hub::{Hub, HubConfig, RoomName};
//!
//! let hub = Hub::in_memory(HubConfig::default());
//! let room = RoomName::new("lobby")?;
//! let mut subscription = hub.subscribe(&room, None).await?;
//! let seq = hub.publish(&room, "hello".into()).await?;
//! let delivery = subscription.recv().await?;
//! assert_eq!((delivery.seq(), delivery.text().as_str()), (seq, "hello"));
//! # Ok(()) }
//! ```

mod delivery;
mod error;
mod fanout;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod room;
mod subscription;

use std::sync::{Arc, Weak};
use std::time::Duration;

use switchyard_core::connection::Utf8Bytes;

pub use delivery::{Delivery, Epoch, Joined, Position};
pub use error::{HubError, RecvError};
pub use fanout::SlowConsumer;
#[cfg(feature = "redis")]
pub use redis::{LinkState, RedisUrl, RedisUrlError};
pub use room::{MAX_ROOM_NAME_LEN, RoomName, RoomNameError};
pub use subscription::{CutOffSignal, Subscription};

use subscription::Membership;

use fanout::Fanout;

/// A hub's limits and policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubConfig {
    history_len: usize,
    history_age: Duration,
    queue: usize,
    slow_consumer: SlowConsumer,
}

impl HubConfig {
    /// The last 1,000 messages and at most an hour per room; 64 messages queued per
    /// subscriber; a subscriber whose queue is full is cut off.
    pub const DEFAULT: HubConfig = HubConfig {
        history_len: 1000,
        history_age: Duration::from_secs(3600),
        queue: 64,
        slow_consumer: SlowConsumer::Disconnect,
    };

    /// Keeps at most the last `len` messages of each room, none older than `age`; a room
    /// silent for longer than `age` is forgotten (its next message starts a new epoch).
    pub const fn with_history(mut self, len: usize, age: Duration) -> HubConfig {
        self.history_len = len;
        self.history_age = age;
        self
    }

    /// Live messages a subscriber may have waiting (at least 1).
    pub const fn with_queue(mut self, messages: usize) -> HubConfig {
        self.queue = if messages == 0 { 1 } else { messages };
        self
    }

    /// What happens to a subscriber whose queue is full.
    pub const fn with_slow_consumer(mut self, policy: SlowConsumer) -> HubConfig {
        self.slow_consumer = policy;
        self
    }

    /// Messages kept per room.
    pub const fn history_len(&self) -> usize {
        self.history_len
    }

    /// The age past which a message leaves the history.
    pub const fn history_age(&self) -> Duration {
        self.history_age
    }

    /// Live messages a subscriber may have waiting.
    pub const fn queue(&self) -> usize {
        self.queue
    }
}

impl Default for HubConfig {
    fn default() -> Self {
        HubConfig::DEFAULT
    }
}

enum Backend {
    Memory(memory::Store),
    /// Boxed: the link is large, and a hub has one backend for its whole life.
    #[cfg(feature = "redis")]
    Redis(Box<redis::Link>),
}

/// What a hub's handles, its subscriptions and its background task share.
pub(crate) struct Shared {
    config: HubConfig,
    fanout: Fanout,
    backend: Backend,
}

impl Shared {
    async fn range(
        &self,
        room: &RoomName,
        epoch: &Epoch,
        from: u64,
        until: u64,
        max: usize,
    ) -> Result<Vec<Arc<Delivery>>, HubError> {
        match &self.backend {
            Backend::Memory(store) => Ok(store.range(room, epoch, from, until, max)),
            #[cfg(feature = "redis")]
            Backend::Redis(link) => link.range(room, epoch, from, until, max).await,
        }
    }

    fn leave(&self, room: &RoomName, id: u64) {
        let empty = self.fanout.leave(room, id);
        #[cfg(feature = "redis")]
        if let (true, Backend::Redis(link)) = (empty, &self.backend) {
            link.room_emptied(room);
        }
        #[cfg(not(feature = "redis"))]
        let _ = empty;
    }
}

/// Stops the hub's work when the last [`Hub`] handle goes: the Redis link's task ends, and
/// subscriptions end once they have read what is queued for them.
struct Guard {
    shared: Weak<Shared>,
    #[cfg(feature = "redis")]
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        #[cfg(feature = "redis")]
        if let Some(task) = &self.task {
            task.abort();
        }
        if let Some(shared) = self.shared.upgrade() {
            shared.fanout.close_all();
        }
    }
}

/// A publish/subscribe hub (see the [module docs](self)). Cheap to clone: clones share the
/// rooms.
#[derive(Clone)]
pub struct Hub {
    shared: Arc<Shared>,
    _guard: Arc<Guard>,
}

impl Hub {
    /// A hub for this process alone.
    pub fn in_memory(config: HubConfig) -> Hub {
        let shared = Arc::new(Shared {
            config,
            fanout: Fanout::new(config.queue, config.slow_consumer),
            backend: Backend::Memory(memory::Store::new()),
        });
        let guard = Guard {
            shared: Arc::downgrade(&shared),
            #[cfg(feature = "redis")]
            task: None,
        };
        Hub {
            shared,
            _guard: Arc::new(guard),
        }
    }

    /// A hub shared by every node on the Redis at `url`. Returns at once: a task on the
    /// current Tokio runtime connects, and reconnects with backoff whenever the link drops
    /// (see [`link`](Self::link)). Until it is up, subscribing and publishing fail with
    /// [`HubError::Unavailable`].
    ///
    /// # Panics
    ///
    /// Outside a Tokio runtime.
    #[cfg(feature = "redis")]
    pub fn redis(url: RedisUrl, config: HubConfig) -> Hub {
        let shared = Arc::new(Shared {
            config,
            fanout: Fanout::new(config.queue, config.slow_consumer),
            backend: Backend::Redis(Box::new(redis::Link::new(url))),
        });
        let task = tokio::spawn(redis::supervise(Arc::clone(&shared)));
        let guard = Guard {
            shared: Arc::downgrade(&shared),
            task: Some(task),
        };
        Hub {
            shared,
            _guard: Arc::new(guard),
        }
    }

    /// The hub's limits and policy.
    pub fn config(&self) -> &HubConfig {
        &self.shared.config
    }

    /// The state of the Redis link; `None` for an in-process hub, which has none.
    #[cfg(feature = "redis")]
    pub fn link(&self) -> Option<LinkState> {
        match &self.shared.backend {
            Backend::Memory(_) => None,
            Backend::Redis(link) => Some(link.state()),
        }
    }

    /// Changes of the Redis link's state, for logging; `None` for an in-process hub.
    #[cfg(feature = "redis")]
    pub fn link_changes(&self) -> Option<tokio::sync::watch::Receiver<LinkState>> {
        match &self.shared.backend {
            Backend::Memory(_) => None,
            Backend::Redis(link) => Some(link.changes()),
        }
    }

    /// Publishes `text` to `room`: every subscriber of the room, on every node, receives it,
    /// the publisher's own subscription included. Returns its `seq`.
    pub async fn publish(&self, room: &RoomName, text: Utf8Bytes) -> Result<u64, HubError> {
        let shared = &self.shared;
        match &shared.backend {
            Backend::Memory(store) => Ok(store.publish(&shared.fanout, &shared.config, room, text)),
            #[cfg(feature = "redis")]
            Backend::Redis(link) => link.publish(&shared.config, room, text).await,
        }
    }

    /// Subscribes to `room`. With `since`, the subscription first replays every message after
    /// it, if the history still holds them all ([`Joined::recovered`]); without it, or when
    /// it cannot, only messages after [`Joined::seq`] follow.
    pub async fn subscribe(
        &self,
        room: &RoomName,
        since: Option<&Position>,
    ) -> Result<Subscription, HubError> {
        let shared = &self.shared;
        // `behind`: where the room here already was, past the snapshot, when it was seeded;
        // the messages between are taken from the history by this subscription alone.
        let (membership, snapshot, behind) = match &shared.backend {
            Backend::Memory(store) => {
                let (registration, snapshot) = store.join(&shared.fanout, &shared.config, room);
                let membership = Membership::new(Arc::clone(shared), room.clone(), registration);
                (membership, snapshot, None)
            }
            #[cfg(feature = "redis")]
            Backend::Redis(link) => {
                // Registered before the room's state is read: whatever is published after
                // the read reaches the queue (what came before is the replay).
                let registration = shared.fanout.join(room);
                let membership = Membership::new(Arc::clone(shared), room.clone(), registration);
                let snapshot = link.join(&shared.config, room).await?;
                let behind = shared.fanout.seed(room, &snapshot.epoch, snapshot.seq);
                (membership, snapshot, behind)
            }
        };
        let recovered = since.is_some_and(|since| {
            delivery::recoverable(since, &snapshot.epoch, snapshot.seq, snapshot.oldest)
        });
        let joined = Joined {
            epoch: snapshot.epoch,
            seq: snapshot.seq,
            recovered,
        };
        let replay_after = since.filter(|_| recovered).map(|since| since.seq);
        let subscription = Subscription::new(membership, joined, replay_after, behind);
        Ok(subscription)
    }
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("config", &self.shared.config)
            .finish_non_exhaustive()
    }
}
