//! Waking both halves of a split connection on one readiness event.
//!
//! After [`split`](crate::WebSocket::split) either half may write (the read half sends the
//! automatic pongs and the close reply, the write half the application's messages) and either
//! may poll the timer, but a transport keeps one write waker and a [`Sleep`] keeps one waker:
//! whichever half registered last would be the only one woken. So shared resources are polled
//! with a [`FanOut`] waker that wakes both halves' latest wakers.
//!
//! [`Sleep`]: tokio::time::Sleep

use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Wake, Waker};

/// Which half is polling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Read = 0,
    Write = 1,
}

/// The latest waker of each half.
#[derive(Debug, Default)]
pub(crate) struct FanOut {
    wakers: Mutex<[Option<Waker>; 2]>,
}

impl FanOut {
    /// The waker to poll a shared resource with on behalf of `side`: it records `waker` as
    /// `side`'s (replacing the one recorded before, which the same task's later poll
    /// supersedes), to be woken by the next event on the resource.
    pub(crate) fn waker_for(self: &Arc<Self>, side: Side, waker: &Waker) -> Waker {
        {
            let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            let slot = &mut wakers[side as usize];
            if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
                *slot = Some(waker.clone());
            }
        }
        Waker::from(Arc::clone(self))
    }
}

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = {
            let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            [wakers[0].take(), wakers[1].take()]
        };
        for waker in taken.into_iter().flatten() {
            waker.wake();
        }
    }
}
