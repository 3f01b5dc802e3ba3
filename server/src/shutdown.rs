//! Graceful shutdown: the signal, and the flag every connection watches.
//!
//! Every open connection's task watches the flag beside its socket, so the watch is polled
//! once per message: it must cost next to nothing. A `tokio::sync::watch` receiver costs a
//! lock to register a waiter and another to drop it, at each poll (about 700 instructions
//! per echoed message, measured with callgrind: an eighth of the binary's work per small
//! echo). Here a connection registers its task's waker once, and a poll after that is an
//! atomic load and a comparison of wakers; the lock is taken only to register, to change
//! the waker, to leave, and once to wake everyone.

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tracing::error;

/// The flag and the tasks waiting on it.
#[derive(Default)]
struct Flag {
    draining: AtomicBool,
    waiters: Mutex<Waiters>,
}

/// The registered wakers, each in its own slot; a free slot is reused.
#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Flag {
    fn waiters(&self) -> MutexGuard<'_, Waiters> {
        // Nothing panics while holding the lock; were it poisoned, the slots are still whole.
        self.waiters.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_raised(&self) -> bool {
        self.draining.load(Ordering::Acquire)
    }
}

/// Raises the flag, once.
pub(crate) struct Trigger(Arc<Flag>);

/// A connection's view of the flag.
pub(crate) struct Shutdown {
    flag: Arc<Flag>,
    /// Its slot among the waiters and the waker registered there, once it has waited.
    slot: Option<(usize, Waker)>,
}

pub(crate) fn channel() -> (Trigger, Shutdown) {
    let flag = Arc::new(Flag::default());
    (Trigger(Arc::clone(&flag)), Shutdown { flag, slot: None })
}

impl Trigger {
    /// Raises the flag and wakes every waiting task.
    pub(crate) fn fire(&self) {
        // Raised before the wakers are taken: a task registering after this lock sees it.
        self.0.draining.store(true, Ordering::Release);
        let wakers: Vec<Waker> = self.0.waiters().slots.iter().flatten().cloned().collect();
        for waker in wakers {
            waker.wake();
        }
    }
}

impl Clone for Shutdown {
    /// A view of the same flag, registered on its own when it first waits.
    fn clone(&self) -> Shutdown {
        Shutdown {
            flag: Arc::clone(&self.flag),
            slot: None,
        }
    }
}

impl Drop for Shutdown {
    fn drop(&mut self) {
        if let Some((index, _)) = self.slot.take() {
            let mut waiters = self.flag.waiters();
            waiters.slots[index] = None;
            waiters.free.push(index);
        }
    }
}

impl Shutdown {
    /// Whether the server is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        self.flag.is_raised()
    }

    /// Resolves once the server is shutting down. Cancel-safe: the registration outlives
    /// the future, so polling it again after dropping it costs no lock.
    pub(crate) async fn wait(&mut self) {
        poll_fn(|cx| self.poll_wait(cx)).await;
    }

    /// [`wait`](Self::wait) as a poll function, for a loop that polls it beside other work.
    /// Ready once the flag is raised; otherwise keeps `cx`'s waker to wake. The usual poll (a
    /// task that polls again with the waker it registered) is a load and a comparison, inlined
    /// into the route's poll; registering is not.
    #[inline]
    pub(crate) fn poll_wait(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.flag.is_raised() {
            return Poll::Ready(());
        }
        if let Some((_, waker)) = &self.slot
            && waker.will_wake(cx.waker())
        {
            return Poll::Pending;
        }
        self.register(cx.waker())
    }

    /// Keeps `waker` (in place of the one registered, if any) to wake when the flag is raised.
    #[inline(never)]
    fn register(&mut self, waker: &Waker) -> Poll<()> {
        match &mut self.slot {
            Some((index, registered)) => {
                registered.clone_from(waker);
                self.flag.waiters().slots[*index] = Some(registered.clone());
            }
            None => {
                let waker = waker.clone();
                let mut waiters = self.flag.waiters();
                let index = match waiters.free.pop() {
                    Some(index) => {
                        waiters.slots[index] = Some(waker.clone());
                        index
                    }
                    None => {
                        waiters.slots.push(Some(waker.clone()));
                        waiters.slots.len() - 1
                    }
                };
                drop(waiters);
                self.slot = Some((index, waker));
            }
        }
        if self.flag.is_raised() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }

    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.flag.waiters().slots.iter().flatten().count()
    }
}

/// SIGINT and SIGTERM, watched from [`Signals::watch`] on: from then on either starts the
/// drain rather than killing the process. Watched before the server says it listens, so a
/// script that signals it as soon as it reads that line gets the drain (and its log lines,
/// which wait in memory for a second: see `log_batch`).
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Starts watching (within the runtime).
    pub(crate) fn watch() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let watch = |kind: SignalKind, name: &str| match signal(kind) {
                Ok(signal) => Some(signal),
                Err(e) => {
                    error!(error = %e, "cannot watch {name}; only the other signal stops the server");
                    None
                }
            };
            Signals {
                interrupt: watch(SignalKind::interrupt(), "SIGINT"),
                terminate: watch(SignalKind::terminate(), "SIGTERM"),
            }
        }
        #[cfg(not(unix))]
        {
            Signals {}
        }
    }

    /// Resolves with the signal's name on SIGINT or SIGTERM.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            async fn next(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = next(&mut self.interrupt) => "SIGINT",
                () = next(&mut self.terminate) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(e) = tokio::signal::ctrl_c().await {
                error!(error = %e, "cannot watch SIGINT");
                std::future::pending::<()>().await;
            }
            "SIGINT"
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::task::Wake;

    use super::*;

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(shutdown: &mut Shutdown, waker: &Waker) -> Poll<()> {
        pin!(shutdown.wait()).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn registers_once_wakes_the_latest_waker_and_leaves_when_dropped() {
        let (trigger, mut first) = channel();
        let mut second = first.clone();
        let (a, b) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let (waker_a, waker_b) = (Waker::from(Arc::clone(&a)), Waker::from(Arc::clone(&b)));
        assert!(poll(&mut first, &waker_a).is_pending());
        assert!(poll(&mut first, &waker_a).is_pending());
        assert_eq!(
            first.waiting(),
            1,
            "polling again with the same waker registers nothing"
        );
        // The task's waker changed: the new one replaces the old in the same slot.
        assert!(poll(&mut first, &waker_b).is_pending());
        assert_eq!(first.waiting(), 1);
        let third = second.clone();
        assert!(poll(&mut second, &waker_a).is_pending());
        assert_eq!(first.waiting(), 2);
        drop(second);
        assert_eq!(first.waiting(), 1, "a dropped view leaves");
        drop(third);
        assert!(!first.is_draining());
        trigger.fire();
        assert_eq!(b.0.load(Ordering::SeqCst), 1, "the latest waker is woken");
        assert_eq!(
            a.0.load(Ordering::SeqCst),
            0,
            "the replaced and the departed are not"
        );
        assert!(first.is_draining());
        assert!(poll(&mut first, &waker_a).is_ready());
        // A view that never waited sees the flag at once.
        assert!(poll(&mut first.clone(), &waker_a).is_ready());
    }

    #[test]
    fn a_freed_slot_is_reused() {
        let (_trigger, first) = channel();
        let waker = Waker::from(Arc::new(Count::default()));
        let mut views: Vec<Shutdown> = (0..3).map(|_| first.clone()).collect();
        for view in &mut views {
            assert!(poll(view, &waker).is_pending());
        }
        views.remove(1);
        let mut again = first.clone();
        assert!(poll(&mut again, &waker).is_pending());
        assert_eq!(first.flag.waiters().slots.len(), 3);
        assert_eq!(first.waiting(), 3);
    }

    #[tokio::test]
    async fn a_waiting_task_ends_when_the_flag_is_raised() {
        let (trigger, mut shutdown) = channel();
        let task = tokio::spawn(async move { shutdown.wait().await });
        tokio::task::yield_now().await;
        trigger.fire();
        tokio::time::timeout(std::time::Duration::from_secs(5), task)
            .await
            .expect("woken")
            .unwrap();
    }
}
