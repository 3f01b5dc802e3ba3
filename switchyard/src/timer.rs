//! The connection's one timer: a single [`Sleep`] until the instant the core asks for.
//!
//! The policy (keepalive, the pong deadline, the close timeout) is the core's; this only maps
//! its [`Instant`]s onto Tokio's clock. The sleep is created on first use (so a connection can
//! be built outside a runtime) and moved sooner at once, but not later. The driver tells the
//! core the time only when the sleep fires, or at once when the core asks for an instant no
//! later than the last it was told (closing has begun: its timer starts at the next tick);
//! bytes heard since the last tick push the core's keepalive deadline one interval past that
//! tick, and the sleep is re-armed there.
//!
//! Every move of the sleep to an earlier instant re-registers it with Tokio's timer, which
//! wakes the runtime's driver (a write to its event fd) when the instant is earlier than any
//! it planned to wake for; so the sleep is moved only for a deadline that is still ahead.
//!
//! The connection polls its clock before every wait, once per message received; polling a
//! [`Sleep`] registers the waker again each time (and spends the task's cooperative budget).
//! So a sleep known to hold the caller's waker is not polled again until it has elapsed, its
//! deadline moves, or the waker changes. "Known to hold": Tokio's cooperative budget may make
//! a poll return `Pending` without registering anything (the task is woken at once instead),
//! so a poll made without budget left registers nothing here either.

use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use switchyard_core::connection::Instant;
use tokio::task::coop;
use tokio::time::{self, Sleep, sleep_until};

/// Later than any deadline worth waiting for, and within what Tokio's clock can add.
const FAR_FUTURE: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

pub(crate) struct Clock {
    origin: time::Instant,
    /// The latest instant handed out (and so told to the core).
    told: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
    /// The waker the sleep holds, while it is known to hold one.
    registered: Option<Waker>,
    /// The deadline asked for when that waker was registered.
    registered_for: Option<Instant>,
}

impl Clock {
    /// A clock whose origin is now.
    pub(crate) fn new() -> Clock {
        Clock {
            origin: time::Instant::now(),
            told: Instant::default(),
            sleep: None,
            registered: None,
            registered_for: None,
        }
    }

    /// Now, to tell the core.
    pub(crate) fn now(&mut self) -> Instant {
        self.told = self.told.max(Instant::from_origin(self.origin.elapsed()));
        self.told
    }

    /// Whether a [`poll`](Self::poll) with the same deadline and `waker` would find nothing
    /// to do: there is no deadline, or the sleep holds `waker` and has not fired.
    fn is_quiet(&self, waker: &Waker) -> bool {
        match (&self.sleep, &self.registered) {
            (None, _) => true,
            (Some(sleep), Some(registered)) => !sleep.is_elapsed() && registered.will_wake(waker),
            (Some(_), None) => false,
        }
    }

    /// Ready with the time once `deadline` (or an earlier one the sleep still holds) has
    /// passed: the caller then tells the core. Pending without a deadline.
    ///
    /// Inlined into every copy of the driver, as the core's per-read calls are (see the
    /// core's `connection` module, "Inlining"): it runs before every wait.
    #[inline(always)]
    pub(crate) fn poll(
        &mut self,
        deadline: Option<Instant>,
        cx: &mut Context<'_>,
    ) -> Poll<Instant> {
        let Some(deadline) = deadline else {
            self.sleep = None;
            self.registered = None;
            return Poll::Pending;
        };
        // The usual poll, once per message: the deadline the waker was registered for, which
        // the sleep still holds. Nothing to convert or compare on Tokio's clock.
        if self.registered_for == Some(deadline) && self.is_quiet(cx.waker()) {
            return Poll::Pending;
        }
        if deadline <= self.told {
            // Due when the core was last told the time: it wants the time now (closing has
            // begun, and its timer starts at the next tick). Read the clock rather than set
            // the sleep to a past instant, which fires at once and wakes the task, and may
            // wake the runtime's driver too (a system call).
            return Poll::Ready(self.now());
        }
        // A timeout of `Duration::MAX` saturates the core's instant at the end of time (584
        // years), past what Tokio's clock can hold: a century is as good as never.
        let at = self.origin + deadline.since_origin().min(FAR_FUTURE);
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(sleep_until(at)));
        let elapsed = sleep.is_elapsed();
        if sleep.deadline() > at || (elapsed && sleep.deadline() < at) {
            sleep.as_mut().reset(at);
            self.registered = None;
        } else if !elapsed
            && let Some(waker) = &self.registered
            && waker.will_wake(cx.waker())
        {
            return Poll::Pending;
        }
        let budget = coop::has_budget_remaining();
        // Without budget the sleep neither fires nor registers, and a transport that is always
        // ready (a peer flooding us while we wait for its close) spends the budget before
        // every wait: then the clock itself says whether the deadline has passed.
        let fired = if budget {
            sleep.as_mut().poll(cx).is_ready()
        } else {
            time::Instant::now() >= sleep.deadline()
        };
        if !fired {
            self.registered = budget.then(|| cx.waker().clone());
            self.registered_for = Some(deadline);
            return Poll::Pending;
        }
        self.registered = None;
        // The sleep's own deadline has passed, whatever a coarse clock says.
        self.told = self
            .told
            .max(Instant::from_origin(sleep.deadline() - self.origin));
        Poll::Ready(self.now())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A deadline no later than the last instant told is "now": ready at once, without a sleep
    /// set to a past instant (which would fire at once, wake the task, and re-register with
    /// Tokio's timer), and without moving a sleep that stands for a later deadline.
    #[tokio::test]
    async fn a_deadline_already_told_is_ready_without_the_sleep() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut clock = Clock::new();
        let first = clock.now();
        let Poll::Ready(now) = clock.poll(Some(first), &mut cx) else {
            panic!("a told deadline is due");
        };
        assert!(now >= first);
        assert!(
            clock.sleep.is_none(),
            "no sleep for a deadline already told"
        );

        let later = Instant::from_origin(now.since_origin() + Duration::from_secs(3600));
        assert!(clock.poll(Some(later), &mut cx).is_pending());
        let at = clock.origin + later.since_origin();
        assert_eq!(clock.sleep.as_ref().map(|sleep| sleep.deadline()), Some(at));

        assert!(clock.poll(Some(now), &mut cx).is_ready());
        assert_eq!(
            clock.sleep.as_ref().map(|sleep| sleep.deadline()),
            Some(at),
            "the sleep still stands for the later deadline"
        );

        // A deadline still ahead, sooner than the sleep's, moves it.
        let sooner = Instant::from_origin(now.since_origin() + Duration::from_secs(60));
        assert!(clock.poll(Some(sooner), &mut cx).is_pending());
        let at = clock.origin + sooner.since_origin();
        assert_eq!(clock.sleep.as_ref().map(|sleep| sleep.deadline()), Some(at));
    }

    /// A poll without cooperative budget cannot fire the sleep (Tokio checks the budget
    /// first), and a transport that is always ready spends it before every wait: a deadline
    /// that has passed is ready all the same.
    #[tokio::test]
    async fn a_passed_deadline_is_ready_without_budget() {
        let mut clock = Clock::new();
        let deadline = Instant::from_origin(clock.now().since_origin() + Duration::from_millis(20));
        let spend_budget = |cx: &mut Context<'_>| {
            while std::pin::pin!(coop::consume_budget()).poll(cx).is_ready() {}
            assert!(!coop::has_budget_remaining());
        };
        let early = std::future::poll_fn(|cx| {
            spend_budget(cx);
            Poll::Ready(clock.poll(Some(deadline), cx).is_pending())
        })
        .await;
        assert!(early, "not due yet");
        tokio::time::sleep(Duration::from_millis(30)).await;
        let due = std::future::poll_fn(|cx| {
            spend_budget(cx);
            Poll::Ready(clock.poll(Some(deadline), cx))
        })
        .await;
        assert!(
            matches!(due, Poll::Ready(now) if now >= deadline),
            "{due:?}"
        );
    }

    /// The core saturates a deadline of `Duration::MAX` at the end of time; the sleep waits
    /// a century instead of overflowing Tokio's clock.
    #[tokio::test]
    async fn the_end_of_time_is_a_century_away() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut clock = Clock::new();
        let end = Instant::from_origin(Duration::MAX);
        assert!(clock.poll(Some(end), &mut cx).is_pending());
        let at = clock.origin + FAR_FUTURE;
        assert_eq!(clock.sleep.as_ref().map(|sleep| sleep.deadline()), Some(at));
    }
}
