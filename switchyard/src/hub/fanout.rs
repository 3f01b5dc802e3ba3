//! The node-local side of every backend: which subscribers each room has here, their bounded
//! queues, the slow-consumer policy, and the room's last delivered `(epoch, seq)`, which puts
//! what arrives from a backend back in order (duplicates dropped, gaps reported).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::{Notify, mpsc};

use super::delivery::{Delivery, Epoch};
use super::room::RoomName;

/// What to do with a subscriber whose queue is full when a message arrives for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum SlowConsumer {
    /// End its subscription ([`RecvError::Lagged`](super::RecvError::Lagged)): it has fallen
    /// too far behind to catch up live, and should reconnect with its last position to
    /// recover from the history. The room never waits for it.
    #[default]
    Disconnect,
    /// Drop the message for it alone: it sees a jump in `seq` where messages were skipped.
    Skip,
}

/// Fired once when a subscriber is cut off for falling behind.
#[derive(Debug, Default)]
pub(crate) struct CutOff {
    fired: AtomicBool,
    notify: Notify,
}

impl CutOff {
    fn fire(&self) {
        self.fired.store(true, Ordering::Release);
        self.notify.notify_waiters();
    }

    pub(crate) fn is_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    pub(crate) async fn wait(&self) {
        loop {
            let notified = self.notify.notified();
            if self.is_fired() {
                return;
            }
            notified.await;
        }
    }
}

struct Member {
    queue: mpsc::Sender<Arc<Delivery>>,
    cut: Arc<CutOff>,
}

#[derive(Default)]
struct LocalRoom {
    /// The last message delivered here; `None` until the first.
    last: Option<(Epoch, u64)>,
    members: HashMap<u64, Member>,
}

/// How a message from the backend fits a room's order here (Redis: pub/sub may repeat what
/// the history filled in, or skip what was published while the link was down).
#[cfg(feature = "redis")]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Fit {
    /// The next one (or the first the room sees here, or seq 1 of a new epoch): deliver it.
    Next,
    /// Already delivered: drop it.
    Stale,
    /// Messages `after + 1 ..` of its epoch are missing before it: fetch them first (from 1
    /// in a new epoch: what was published in it while this node was not listening).
    Gap { after: u64 },
    /// No subscriber here.
    Nobody,
}

/// A subscriber's registration: its queue's receiving end and its cut-off signal.
pub(crate) struct Registration {
    pub(crate) id: u64,
    pub(crate) queue: mpsc::Receiver<Arc<Delivery>>,
    pub(crate) cut: Arc<CutOff>,
}

pub(crate) struct Fanout {
    rooms: Mutex<HashMap<RoomName, LocalRoom>>,
    next_id: AtomicU64,
    queue: usize,
    policy: SlowConsumer,
}

impl Fanout {
    pub(crate) fn new(queue: usize, policy: SlowConsumer) -> Fanout {
        Fanout {
            rooms: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            // A zero-capacity channel panics; one message is the least a queue can hold.
            queue: queue.max(1),
            policy,
        }
    }

    /// Adds a subscriber to `room`: from now on it receives every message delivered here.
    pub(crate) fn join(&self, room: &RoomName) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (queue, rx) = mpsc::channel(self.queue);
        let cut = Arc::new(CutOff::default());
        let member = Member {
            queue,
            cut: Arc::clone(&cut),
        };
        self.lock()
            .entry(room.clone())
            .or_default()
            .members
            .insert(id, member);
        Registration { id, queue: rx, cut }
    }

    /// Removes a subscriber; true if `room` has no subscriber here any more.
    pub(crate) fn leave(&self, room: &RoomName, id: u64) -> bool {
        let mut rooms = self.lock();
        let Some(local) = rooms.get_mut(room) else {
            return true;
        };
        local.members.remove(&id);
        if local.members.is_empty() {
            rooms.remove(room);
            return true;
        }
        false
    }

    #[cfg(feature = "redis")]
    pub(crate) fn has_members(&self, room: &RoomName) -> bool {
        self.lock().contains_key(room)
    }

    #[cfg(feature = "redis")]
    /// The rooms with subscribers here, and the last message each was delivered.
    pub(crate) fn rooms(&self) -> Vec<(RoomName, Option<(Epoch, u64)>)> {
        self.lock()
            .iter()
            .map(|(room, local)| (room.clone(), local.last.clone()))
            .collect()
    }

    #[cfg(feature = "redis")]
    /// A subscriber joined `room` at `(epoch, seq)`, from the history: records that as
    /// delivered if nothing was yet. Returns the room's mark if it is already further on in
    /// that epoch: the messages after `seq` up to it were delivered before the subscriber's
    /// snapshot was seeded, or (another join's snapshot seeded first) passed over as already
    /// delivered, and the subscriber takes them from the history itself. Moving the room's
    /// mark back instead would send them again to every member, through queues that are
    /// bounded.
    pub(crate) fn seed(&self, room: &RoomName, epoch: &Epoch, seq: u64) -> Option<u64> {
        let mut rooms = self.lock();
        let local = rooms.get_mut(room)?;
        match &local.last {
            Some((last_epoch, last)) if last_epoch == epoch && *last > seq => Some(*last),
            Some(_) => None,
            None => {
                local.last = Some((epoch.clone(), seq));
                None
            }
        }
    }

    #[cfg(feature = "redis")]
    pub(crate) fn fit(&self, room: &RoomName, epoch: &Epoch, seq: u64) -> Fit {
        let rooms = self.lock();
        let Some(local) = rooms.get(room) else {
            return Fit::Nobody;
        };
        match &local.last {
            Some((last_epoch, last)) if last_epoch == epoch => {
                if seq <= *last {
                    Fit::Stale
                } else if seq == *last + 1 {
                    Fit::Next
                } else {
                    Fit::Gap { after: *last }
                }
            }
            Some(_) if seq > 1 => Fit::Gap { after: 0 },
            _ => Fit::Next,
        }
    }

    /// Queues `delivery` for every subscriber of its room here, applying the slow-consumer
    /// policy to those whose queue is full. Never waits.
    pub(crate) fn deliver(&self, delivery: &Arc<Delivery>) {
        let mut rooms = self.lock();
        let Some(local) = rooms.get_mut(delivery.room()) else {
            return;
        };
        local.last = Some((delivery.epoch().clone(), delivery.seq()));
        let policy = self.policy;
        local.members.retain(|_, member| {
            match member.queue.try_send(Arc::clone(delivery)) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => match policy {
                    SlowConsumer::Disconnect => {
                        member.cut.fire();
                        false
                    }
                    SlowConsumer::Skip => true,
                },
                // The subscription is being dropped; its `leave` follows.
                Err(mpsc::error::TrySendError::Closed(_)) => true,
            }
        });
    }

    /// Drops every queue: subscriptions end once they have read what is queued.
    pub(crate) fn close_all(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<RoomName, LocalRoom>> {
        self.rooms.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(room: &RoomName, epoch: &str, seq: u64) -> Arc<Delivery> {
        Arc::new(Delivery::new(
            room.clone(),
            Epoch::new(epoch),
            seq,
            format!("m{seq}").into(),
        ))
    }

    #[cfg(feature = "redis")]
    #[test]
    fn puts_backend_messages_in_order() {
        let fanout = Fanout::new(8, SlowConsumer::Disconnect);
        let room = RoomName::new("r").unwrap();
        let e = Epoch::new("e");
        assert_eq!(fanout.fit(&room, &e, 1), Fit::Nobody);
        let _member = fanout.join(&room);
        assert_eq!(
            fanout.fit(&room, &e, 7),
            Fit::Next,
            "the first sets the baseline"
        );
        fanout.deliver(&delivery(&room, "e", 7));
        assert_eq!(fanout.fit(&room, &e, 7), Fit::Stale);
        assert_eq!(fanout.fit(&room, &e, 8), Fit::Next);
        assert_eq!(fanout.fit(&room, &e, 10), Fit::Gap { after: 7 });
        assert_eq!(fanout.fit(&room, &Epoch::new("new"), 1), Fit::Next);
        // A new epoch that started while this node was not listening: from its seq 1.
        assert_eq!(
            fanout.fit(&room, &Epoch::new("new"), 4),
            Fit::Gap { after: 0 }
        );
        // A seed never moves a room's baseline.
        assert_eq!(fanout.seed(&room, &e, 100), None);
        assert_eq!(fanout.fit(&room, &e, 8), Fit::Next);
    }

    /// Two joins whose snapshots (10, then 12) are seeded in the other order: the mark stays
    /// (no member is sent anything twice), and the first joiner is told what it takes from
    /// the history.
    #[cfg(feature = "redis")]
    #[test]
    fn a_seed_behind_the_mark_says_how_far_it_is() {
        let fanout = Fanout::new(8, SlowConsumer::Disconnect);
        let room = RoomName::new("r").unwrap();
        let e = Epoch::new("e");
        let _a = fanout.join(&room);
        let _b = fanout.join(&room);
        assert_eq!(fanout.seed(&room, &e, 12), None);
        assert_eq!(fanout.seed(&room, &e, 10), Some(12));
        assert_eq!(fanout.fit(&room, &e, 13), Fit::Next);
        assert_eq!(fanout.seed(&room, &e, 12), None, "level with the mark");
        assert_eq!(fanout.seed(&room, &Epoch::new("old"), 3), None);
    }

    #[test]
    fn cuts_off_a_full_queue_or_skips_for_it_as_told() {
        let room = RoomName::new("r").unwrap();
        let fanout = Fanout::new(2, SlowConsumer::Disconnect);
        let slow = fanout.join(&room);
        let mut fast = fanout.join(&room);
        for seq in 1..=3 {
            fanout.deliver(&delivery(&room, "e", seq));
            fast.queue.try_recv().unwrap();
        }
        assert!(slow.cut.is_fired());
        assert!(!fast.cut.is_fired());
        // The slow one was removed already: the fast one was the last.
        assert!(fanout.leave(&room, fast.id));

        let fanout = Fanout::new(2, SlowConsumer::Skip);
        let mut slow = fanout.join(&room);
        for seq in 1..=3 {
            fanout.deliver(&delivery(&room, "e", seq));
        }
        assert!(!slow.cut.is_fired());
        assert_eq!(slow.queue.try_recv().unwrap().seq(), 1);
        assert_eq!(slow.queue.try_recv().unwrap().seq(), 2);
        fanout.deliver(&delivery(&room, "e", 4));
        assert_eq!(slow.queue.try_recv().unwrap().seq(), 4, "3 was skipped");
    }
}
