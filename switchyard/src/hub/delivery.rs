//! What a room carries: [`Epoch`], [`Delivery`], and the [`Joined`] a subscriber starts from.

use std::fmt;
use std::sync::Arc;

use switchyard_core::connection::Utf8Bytes;

use super::room::RoomName;

/// The identity of one room history. Sequence numbers are comparable only within one epoch:
/// when a history is lost (a silent room expired, Redis restarted without persistence) the
/// room starts again at `seq` 1 under a new epoch, so a client holding an old position can
/// tell that what it missed is gone rather than mistake new messages for old ones.
///
/// Opaque: compare it, print it, send it back; never parse it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Epoch(Arc<str>);

impl Epoch {
    /// An epoch as a client sent it back. Any text is accepted: one that matches no history
    /// only means nothing can be recovered.
    pub fn new(text: &str) -> Epoch {
        Epoch(Arc::from(text))
    }

    /// A fresh epoch: 64 random bits from the OS, in hex, so that two nodes creating the same
    /// room at once, or one node after a restart, cannot pick the same one.
    pub(crate) fn random() -> Epoch {
        let mut bytes = [0u8; 8];
        // The OS RNG failing is a broken machine; the time still makes a repeat unlikely.
        if getrandom::fill(&mut bytes).is_err() {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes = nanos.to_be_bytes();
        }
        Epoch(Arc::from(
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        ))
    }

    /// The epoch's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Epoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A point in a room's history: the last message a subscriber saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    /// The history it belongs to.
    pub epoch: Epoch,
    /// The last sequence number seen (0: none).
    pub seq: u64,
}

/// One message of a room, as every subscriber on every node receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    room: RoomName,
    epoch: Epoch,
    seq: u64,
    text: Utf8Bytes,
}

impl Delivery {
    pub(crate) fn new(room: RoomName, epoch: Epoch, seq: u64, text: Utf8Bytes) -> Delivery {
        Delivery {
            room,
            epoch,
            seq,
            text,
        }
    }

    /// The room it was published to.
    pub fn room(&self) -> &RoomName {
        &self.room
    }

    /// The history its `seq` belongs to.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// Its place in the room: 1 for the first message of an epoch, one more for each after.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The text as published.
    pub fn text(&self) -> &Utf8Bytes {
        &self.text
    }
}

/// Where a new subscription starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub(crate) epoch: Epoch,
    pub(crate) seq: u64,
    pub(crate) recovered: bool,
}

impl Joined {
    /// The room's current history.
    pub fn epoch(&self) -> &Epoch {
        &self.epoch
    }

    /// The room's latest sequence number when the subscription started (0: no message yet).
    /// Live deliveries start after it.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// True only when a `since` position was given and every message after it is replayed
    /// before the live ones: same epoch, not beyond `seq`, and still in the history. Should
    /// the history drop some of them before the replay reads them (a room busy enough to
    /// trim it meanwhile), the subscription ends with
    /// [`RecvError::Overtaken`](super::RecvError::Overtaken) rather than skip them.
    pub fn recovered(&self) -> bool {
        self.recovered
    }
}

/// A room's state when a subscriber joined it.
pub(crate) struct Snapshot {
    pub(crate) epoch: Epoch,
    pub(crate) seq: u64,
    /// The first seq the history holds (`seq + 1` when it holds none).
    pub(crate) oldest: u64,
}

/// Whether a history reaching back to `oldest` (the first seq it still holds; `latest + 1`
/// when it is empty) under `epoch` can replay everything after `since`.
pub(crate) fn recoverable(since: &Position, epoch: &Epoch, latest: u64, oldest: u64) -> bool {
    since.epoch == *epoch && since.seq <= latest && (since.seq == latest || oldest <= since.seq + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: &str, seq: u64) -> Position {
        Position {
            epoch: Epoch::new(epoch),
            seq,
        }
    }

    #[test]
    fn recovery_needs_the_same_epoch_and_a_history_reaching_back() {
        let e = Epoch::new("e1");
        // History holds 5..=10.
        assert!(recoverable(&at("e1", 4), &e, 10, 5));
        assert!(recoverable(&at("e1", 10), &e, 10, 5));
        assert!(recoverable(&at("e1", 9), &e, 10, 5));
        assert!(!recoverable(&at("e1", 3), &e, 10, 5), "trimmed");
        assert!(!recoverable(&at("e1", 11), &e, 10, 5), "beyond the latest");
        assert!(!recoverable(&at("e2", 10), &e, 10, 5), "another epoch");
        // An empty history: only the latest position is whole.
        assert!(recoverable(&at("e1", 10), &e, 10, 11));
        assert!(!recoverable(&at("e1", 9), &e, 10, 11));
        assert!(recoverable(&at("e1", 0), &e, 0, 1));
    }

    #[test]
    fn random_epochs_differ() {
        let a = Epoch::random();
        assert_eq!(a.as_str().len(), 16);
        assert_ne!(a, Epoch::random());
    }
}
