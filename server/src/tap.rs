//! [`ByteTap`]: something that watches every byte a connection reads and writes.
//!
//! The transport wrapper ([`Tapped`](crate::tapped::Tapped)) shows its bytes to a tap it
//! is given, without knowing what the tap is; the `/inspect` route installs one and keeps its
//! own handle on it, so no route reaches through a connection into its transport.

use std::sync::{Arc, Mutex, PoisonError};

/// Sees a connection's bytes as they pass, in order.
pub(crate) trait ByteTap: Send {
    /// Bytes just read from the peer.
    fn on_read(&mut self, bytes: &[u8]);
    /// Bytes just written to the peer.
    fn on_write(&mut self, bytes: &[u8]);
}

/// A tap shared between the transport that feeds it and the route that reads it.
pub(crate) type SharedTap = Arc<Mutex<dyn ByteTap>>;

/// Locks a tap. No code path panics while holding it; if one ever did, the tap's state is
/// still whole between calls, so carry on.
pub(crate) fn lock<T: ?Sized>(tap: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    tap.lock().unwrap_or_else(PoisonError::into_inner)
}
