//! The in-process backend: each room's sequence counter and history in this process's
//! memory, for one node. Publishing assigns the `seq`, stores the message and queues it for
//! the room's subscribers under one lock, so every subscriber sees one order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use switchyard_core::connection::Utf8Bytes;

use super::HubConfig;
use super::delivery::{Delivery, Epoch, Snapshot};
use super::fanout::{Fanout, Registration};
use super::room::RoomName;

/// Operations between two sweeps for expired rooms: often enough that rooms nobody uses go
/// away, rarely enough that the sweep's cost spreads thin.
const SWEEP_EVERY: u32 = 256;

struct History {
    epoch: Epoch,
    seq: u64,
    /// The last `history_len` messages, each with the time it was published.
    entries: VecDeque<(Instant, Arc<Delivery>)>,
    /// The last publish, or the creation: a room silent past the history age expires.
    touched: Instant,
}

impl History {
    fn new(now: Instant) -> History {
        History {
            epoch: Epoch::random(),
            seq: 0,
            entries: VecDeque::new(),
            touched: now,
        }
    }

    fn trim(&mut self, now: Instant, config: &HubConfig) {
        while self.entries.len() > config.history_len {
            self.entries.pop_front();
        }
        while let Some((at, _)) = self.entries.front() {
            if now.duration_since(*at) <= config.history_age {
                break;
            }
            self.entries.pop_front();
        }
    }

    /// The first seq still held (`seq + 1` when none is).
    fn oldest(&self) -> u64 {
        self.entries
            .front()
            .map_or(self.seq + 1, |(_, delivery)| delivery.seq())
    }
}

struct Rooms {
    histories: HashMap<RoomName, History>,
    since_sweep: u32,
}

pub(crate) struct Store {
    rooms: Mutex<Rooms>,
}

impl Store {
    pub(crate) fn new() -> Store {
        Store {
            rooms: Mutex::new(Rooms {
                histories: HashMap::new(),
                since_sweep: 0,
            }),
        }
    }

    pub(crate) fn publish(
        &self,
        fanout: &Fanout,
        config: &HubConfig,
        room: &RoomName,
        text: Utf8Bytes,
    ) -> u64 {
        // The history keeps the text for as long as the history age: a copy of its own, not
        // the view of the connection's read buffer a received message is (which would keep
        // that whole buffer, 16 to 64 KiB, alive per message kept). Made before the lock.
        let text = Utf8Bytes::from(text.as_str());
        let now = Instant::now();
        let mut rooms = self.lock();
        let history = rooms.history(room, now, config);
        history.seq += 1;
        history.touched = now;
        let delivery = Arc::new(Delivery::new(
            room.clone(),
            history.epoch.clone(),
            history.seq,
            text,
        ));
        history.entries.push_back((now, Arc::clone(&delivery)));
        history.trim(now, config);
        let seq = history.seq;
        // Under the store's lock: the next publish to this room waits, so subscribers get
        // the room's messages in `seq` order.
        fanout.deliver(&delivery);
        seq
    }

    /// Registers a subscriber and reads the room's state in one step: no message can fall
    /// between the two.
    pub(crate) fn join(
        &self,
        fanout: &Fanout,
        config: &HubConfig,
        room: &RoomName,
    ) -> (Registration, Snapshot) {
        let now = Instant::now();
        let mut rooms = self.lock();
        let history = rooms.history(room, now, config);
        history.trim(now, config);
        let snapshot = Snapshot {
            epoch: history.epoch.clone(),
            seq: history.seq,
            oldest: history.oldest(),
        };
        (fanout.join(room), snapshot)
    }

    /// Up to `max` messages of `epoch` with `from <= seq <= until`, oldest first.
    pub(crate) fn range(
        &self,
        room: &RoomName,
        epoch: &Epoch,
        from: u64,
        until: u64,
        max: usize,
    ) -> Vec<Arc<Delivery>> {
        let rooms = self.lock();
        let Some(history) = rooms.histories.get(room).filter(|h| h.epoch == *epoch) else {
            return Vec::new();
        };
        let skip = from.saturating_sub(history.oldest());
        history
            .entries
            .iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .map(|(_, delivery)| delivery)
            .take_while(|delivery| delivery.seq() <= until)
            .take(max)
            .cloned()
            .collect()
    }

    fn lock(&self) -> MutexGuard<'_, Rooms> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Rooms {
    /// The room's history: a new one (new epoch, `seq` 0) if it had none or it expired.
    fn history(&mut self, room: &RoomName, now: Instant, config: &HubConfig) -> &mut History {
        self.since_sweep += 1;
        if self.since_sweep >= SWEEP_EVERY {
            self.since_sweep = 0;
            self.histories
                .retain(|_, history| !expired(history, now, config.history_age));
        }
        let history = self
            .histories
            .entry(room.clone())
            .or_insert_with(|| History::new(now));
        if expired(history, now, config.history_age) {
            *history = History::new(now);
        }
        history
    }
}

fn expired(history: &History, now: Instant, age: Duration) -> bool {
    now.duration_since(history.touched) > age
}
