//! [`Subscription`]: a subscriber's view of one room: where it joined, the replay of what it
//! missed, then the live messages from its bounded queue.

use std::collections::VecDeque;
use std::sync::Arc;

use super::Shared;
use super::delivery::{Delivery, Epoch, Joined};
use super::error::RecvError;
use super::fanout::{CutOff, Registration};
use super::room::RoomName;

/// Messages read from the history per request: a replay of a long history holds one page at
/// a time, not the whole history, so a thousand clients reconnecting at once cost pages.
const REPLAY_PAGE: usize = 100;

/// What is left of the replay: `next..=until` of `epoch`, read a page at a time.
struct Replay {
    epoch: Epoch,
    next: u64,
    until: u64,
    page: VecDeque<Arc<Delivery>>,
}

/// A subscriber's place in a room's fan-out on this node, left when dropped: a subscription
/// that fails halfway through starting leaves nothing behind.
pub(crate) struct Membership {
    shared: Arc<Shared>,
    room: RoomName,
    registration: Registration,
}

impl Membership {
    pub(crate) fn new(shared: Arc<Shared>, room: RoomName, registration: Registration) -> Self {
        Membership {
            shared,
            room,
            registration,
        }
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.shared.leave(&self.room, self.registration.id);
    }
}

/// A subscription to one room. [`recv`](Self::recv) yields the replay (if the subscription
/// asked for one), then live messages, each exactly once and in `seq` order.
///
/// The replay is read from the history as it is consumed and does not count against the
/// queue; live messages wait in a queue of [`HubConfig::with_queue`](super::HubConfig)
/// messages, and a full queue is handled by the [`SlowConsumer`](super::SlowConsumer)
/// policy. Dropping the subscription leaves the room.
pub struct Subscription {
    membership: Membership,
    joined: Joined,
    replay: Option<Replay>,
    /// The last message handed out; live messages at or before it are not handed out again.
    last: (Epoch, u64),
    /// The replay was overtaken ([`RecvError::Overtaken`]): every later receive says so too,
    /// rather than go on past the gap.
    overtaken: bool,
}

impl Subscription {
    /// Starts at `joined`, after a replay of `since + 1 ..= joined.seq` if `since` is given,
    /// extended to `behind` if the room here was already past `joined.seq` (messages the
    /// queue may not have: see `Fanout::seed`; those it has too are dropped as repeats).
    pub(crate) fn new(
        membership: Membership,
        joined: Joined,
        since: Option<u64>,
        behind: Option<u64>,
    ) -> Self {
        let replay = replay_range(joined.seq, since, behind).map(|(next, until)| Replay {
            epoch: joined.epoch.clone(),
            next,
            until,
            page: VecDeque::new(),
        });
        Subscription {
            membership,
            last: (joined.epoch.clone(), joined.seq),
            joined,
            replay,
            overtaken: false,
        }
    }

    /// Where the subscription joined the room.
    pub fn joined(&self) -> &Joined {
        &self.joined
    }

    /// The room.
    pub fn room(&self) -> &RoomName {
        &self.membership.room
    }

    /// The next message: the replay first, then live ones. Cancel-safe.
    pub async fn recv(&mut self) -> Result<Arc<Delivery>, RecvError> {
        if self.membership.registration.cut.is_fired() {
            return Err(RecvError::Lagged);
        }
        if self.overtaken {
            return Err(RecvError::Overtaken);
        }
        if let Some(delivery) = self.next_replayed().await? {
            // Live messages up to it (the queue may hold some the replay extends over, past
            // `joined.seq`) are repeats. (The replay is in the joined epoch, as `last` is.)
            self.last.1 = self.last.1.max(delivery.seq());
            return Ok(delivery);
        }
        loop {
            let Some(delivery) = self.membership.registration.queue.recv().await else {
                return Err(if self.membership.registration.cut.is_fired() {
                    RecvError::Lagged
                } else {
                    RecvError::Closed
                });
            };
            let (epoch, seq) = &self.last;
            if delivery.epoch() == epoch && delivery.seq() <= *seq {
                continue;
            }
            self.last = (delivery.epoch().clone(), delivery.seq());
            return Ok(delivery);
        }
    }

    /// A handle that resolves when this subscription is cut off for falling behind, so a
    /// task blocked writing to a slow client can stop at once.
    pub fn cut_off(&self) -> CutOffSignal {
        CutOffSignal(Arc::clone(&self.membership.registration.cut))
    }

    async fn next_replayed(&mut self) -> Result<Option<Arc<Delivery>>, RecvError> {
        let Some(replay) = &mut self.replay else {
            return Ok(None);
        };
        if replay.page.is_empty() && replay.next <= replay.until {
            let membership = &self.membership;
            let page = membership
                .shared
                .range(
                    &membership.room,
                    &replay.epoch,
                    replay.next,
                    replay.until,
                    REPLAY_PAGE,
                )
                .await
                .map_err(RecvError::Replay)?;
            // The history held `next` when the subscription started (that decided
            // `recovered`); a page that starts later, or none at all, means the room trimmed
            // it since.
            if page.first().is_none_or(|d| d.seq() != replay.next) {
                self.replay = None;
                self.overtaken = true;
                return Err(RecvError::Overtaken);
            }
            replay.next = page.last().map_or(replay.until + 1, |d| d.seq() + 1);
            replay.page.extend(page);
        }
        match replay.page.pop_front() {
            Some(delivery) => Ok(Some(delivery)),
            None => {
                self.replay = None;
                Ok(None)
            }
        }
    }
}

/// The seqs a subscription that joined at `joined` replays first, if any: after `since` (a
/// recovery) or else after `joined`, up to `joined` or to `behind` if the room here was
/// already further on.
fn replay_range(joined: u64, since: Option<u64>, behind: Option<u64>) -> Option<(u64, u64)> {
    let next = since.map_or(joined, |since| since.min(joined)) + 1;
    let until = behind.map_or(joined, |behind| behind.max(joined));
    (next <= until).then_some((next, until))
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("room", &self.membership.room)
            .field("joined", &self.joined)
            .finish_non_exhaustive()
    }
}

/// Resolves when its subscription is cut off for falling behind
/// ([`SlowConsumer::Disconnect`](super::SlowConsumer::Disconnect)).
#[derive(Debug, Clone)]
pub struct CutOffSignal(Arc<CutOff>);

impl CutOffSignal {
    /// Waits until the subscription is cut off (forever, if it never is).
    pub async fn wait(&self) {
        self.0.wait().await;
    }
}

#[cfg(test)]
mod tests {
    use super::replay_range;

    #[test]
    fn the_replay_covers_the_recovery_and_what_the_room_had_passed() {
        assert_eq!(replay_range(10, None, None), None, "live only");
        assert_eq!(replay_range(10, Some(4), None), Some((5, 10)));
        assert_eq!(replay_range(10, Some(10), None), None);
        // Joined at 10 while the room here was at 12: 11 and 12 from the history.
        assert_eq!(replay_range(10, None, Some(12)), Some((11, 12)));
        assert_eq!(replay_range(10, Some(4), Some(12)), Some((5, 12)));
    }
}
