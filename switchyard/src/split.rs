//! [`ReadHalf`] and [`WriteHalf`]: one connection used from two tasks.
//!
//! Both halves share the connection behind a mutex that is only held inside a poll, never
//! across an await. The read half writes too (the core's automatic pongs and close reply), so
//! replies go out even while the write half sits idle; see [`crate::wake`] for how both halves
//! are woken. Their methods are [`WebSocket`]'s, from [`crate::surface`].

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::WebSocket;
use crate::driver::Driver;
use crate::surface::{Handle, receive_methods, send_methods, state_methods};
use crate::wake::FanOut;

type Shared<S> = Arc<Mutex<Driver<S>>>;

impl<S> WebSocket<S> {
    /// Splits into a read half and a write half that can be used from different tasks at the
    /// same time. No lock is held across an await. The read half still sends the automatic
    /// pongs and the close reply; keep reading it.
    pub fn split(self) -> (ReadHalf<S>, WriteHalf<S>) {
        let mut driver = self.driver;
        driver.fanout = Some(Arc::new(FanOut::default()));
        let protocol = driver.protocol.clone();
        let shared = Arc::new(Mutex::new(driver));
        (
            ReadHalf {
                shared: Arc::clone(&shared),
                protocol: protocol.clone(),
            },
            WriteHalf { shared, protocol },
        )
    }
}

fn lock<S>(shared: &Shared<S>) -> MutexGuard<'_, Driver<S>> {
    // No code path panics while holding the lock; if one ever did, the state is still
    // consistent between polls, so carry on.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The receiving half of a [`WebSocket`], from [`WebSocket::split`].
///
/// Keep polling it: it reads, and it also sends the automatic pongs and the close reply and
/// runs keepalive and the close timer.
pub struct ReadHalf<S> {
    shared: Shared<S>,
    /// The subprotocol agreed in the handshake.
    protocol: Option<Box<str>>,
}

/// The sending half of a [`WebSocket`], from [`WebSocket::split`].
pub struct WriteHalf<S> {
    shared: Shared<S>,
    /// The subprotocol agreed in the handshake.
    protocol: Option<Box<str>>,
}

impl<S> Handle<S> for ReadHalf<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    fn peek<R>(&self, f: impl FnOnce(&Driver<S>) -> R) -> R {
        f(&lock(&self.shared))
    }

    fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
}

impl<S> Handle<S> for WriteHalf<S> {
    fn with<R>(&mut self, f: impl FnOnce(&mut Driver<S>) -> R) -> R {
        f(&mut lock(&self.shared))
    }

    fn peek<R>(&self, f: impl FnOnce(&Driver<S>) -> R) -> R {
        f(&lock(&self.shared))
    }

    fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// [`ReadHalf::reunite`] was given the write half of another connection.
pub struct ReuniteError<S>(pub ReadHalf<S>, pub WriteHalf<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves come from different connections")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

impl<S> ReadHalf<S> {
    /// Puts the halves back together.
    pub fn reunite(self, write: WriteHalf<S>) -> Result<WebSocket<S>, ReuniteError<S>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        match Arc::try_unwrap(self.shared) {
            Ok(mutex) => {
                let mut driver = mutex.into_inner().unwrap_or_else(PoisonError::into_inner);
                driver.fanout = None;
                Ok(WebSocket { driver })
            }
            // Both halves were the only owners and `write` is dropped.
            Err(shared) => {
                let read = ReadHalf {
                    shared: Arc::clone(&shared),
                    protocol: self.protocol,
                };
                let protocol = read.protocol.clone();
                Err(ReuniteError(read, WriteHalf { shared, protocol }))
            }
        }
    }
}

receive_methods!(ReadHalf);
send_methods!(WriteHalf);
state_methods!(ReadHalf);
state_methods!(WriteHalf);
