//! Time as an input: keepalive pings, the pong deadline and the close timeout, decided here
//! from instants the caller supplies; the caller only sleeps until [`Connection::poll_timeout`].

use bytes::BytesMut;
use core::mem;
use core::time::Duration;

use super::state::{Input, State};
use super::{AbortReason, Connection};
use crate::close::CloseCode;
use crate::frame::OpCode;

/// A point on the caller's monotonic clock: the time elapsed since an origin the caller picks
/// once per connection (the core has no clock, §"Time and randomness are inputs").
///
/// Held as nanoseconds in a `u64` (584 years, saturating beyond): the deadline the shell asks
/// for before every wait is then one add and one compare away, where a [`Duration`]'s
/// seconds and nanoseconds take a carry and two compares each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(u64);

impl Instant {
    /// The instant `elapsed` after the caller's origin (the end of time, past 584 years).
    pub const fn from_origin(elapsed: Duration) -> Instant {
        Instant(nanos(elapsed))
    }

    /// The time from the caller's origin to this instant.
    pub const fn since_origin(self) -> Duration {
        Duration::from_nanos(self.0)
    }

    /// `self + duration`, saturating at the end of time.
    fn after(self, duration: Duration) -> Instant {
        Instant(self.0.saturating_add(nanos(duration)))
    }
}

/// `duration` in nanoseconds, saturating at `u64::MAX`.
const fn nanos(duration: Duration) -> u64 {
    let n = duration.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

/// The close timer, which starts when closing begins but is armed only once the connection
/// is next told the time, so a close requested long after the last tick still gets its full
/// timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CloseTimer {
    Off,
    Unarmed,
    At(Instant),
}

/// What the timers know.
#[derive(Debug)]
pub(super) struct Timer {
    /// The latest instant the caller gave; `None` until the first, and no deadline until then.
    now: Option<Instant>,
    /// Bytes arrived since the caller last told the time.
    heard: bool,
    last_heard: Instant,
    /// When the unanswered keepalive ping went out.
    ping_sent: Option<Instant>,
    /// Keepalive's next deadline while the connection is open, from `ping_sent` and
    /// `last_heard` ([`Connection::keepalive_deadline`]): kept, since the shell asks for the
    /// deadline before every wait and these change only when it tells the time.
    keepalive_at: Option<Instant>,
    close: CloseTimer,
    /// A message went through the extension since the caller last told the time.
    extension_used: bool,
    /// When a message last went through the extension, as far as the clock knows.
    extension_last: Instant,
    /// A message went through the extension since its memory was last released. Buffers are
    /// not asked whether they hold memory: a `BytesMut` split or advanced to its end reports
    /// no capacity yet keeps its whole allocation alive.
    release_owed: bool,
}

impl Timer {
    pub(super) fn new() -> Timer {
        Timer {
            now: None,
            heard: false,
            last_heard: Instant::default(),
            ping_sent: None,
            keepalive_at: None,
            close: CloseTimer::Off,
            extension_used: false,
            extension_last: Instant::default(),
            release_owed: false,
        }
    }

    /// A message went through the extension stage.
    pub(super) fn extension_used(&mut self) {
        self.extension_used = true;
        self.release_owed = true;
    }

    /// The peer sent bytes: it is alive.
    pub(super) fn heard(&mut self) {
        self.heard = true;
    }

    /// Closing began: keepalive is over and the close timer starts at the next tick.
    pub(super) fn start_close(&mut self) {
        self.ping_sent = None;
        self.keepalive_at = None;
        if self.close == CloseTimer::Off {
            self.close = CloseTimer::Unarmed;
        }
    }
}

impl Connection {
    /// When the connection next wants [`handle_timeout`](Self::handle_timeout), if ever. An
    /// instant already past means "now". `None` before the first `handle_timeout` (the clock
    /// starts then) and once the transport is finished with (aborted, or closed as
    /// [`transport_closed`](Self::transport_closed) says).
    #[must_use]
    #[inline(always)]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let now = self.timer.now?;
        if self.transport_finished() {
            return None;
        }
        let protocol = if self.state == State::Open {
            self.timer.keepalive_at
        } else if let State::Draining { .. } = self.state {
            // Nothing waits on the peer: the drain goes at the application's pace.
            None
        } else {
            match self.timer.close {
                CloseTimer::At(deadline) => Some(deadline),
                CloseTimer::Off | CloseTimer::Unarmed => Some(now),
            }
        };
        if self.extension.is_none() {
            // No extension stage, no memory of its to free (and no call to find that out).
            return protocol;
        }
        match (protocol, self.release_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// When the extension stage's rebuildable memory (the extension's, and the buffers the
    /// connection keeps for it) is next due to be freed, if any is held: its idle time after
    /// the last message through it. A message since the last tick counts as now, so memory
    /// goes between one and two idle times after the last message. Never while a message is
    /// half received through it: a pause inside one (between fragments, or a frame arriving
    /// slowly) would otherwise drop a decoder whose state no window can rebuild, and the rest
    /// of the message would fail to decode, or decode wrong (the deadline comes once it ends).
    fn release_deadline(&self) -> Option<Instant> {
        let extension = self.extension.as_ref()?;
        let idle = extension.release_after()?;
        if !(self.timer.release_owed || extension.holds_memory())
            || self.rx.extension_message_in_progress()
        {
            return None;
        }
        let last = if self.timer.extension_used {
            self.timer.now?
        } else {
            self.timer.extension_last
        };
        Some(last.after(idle))
    }

    /// Tells the connection the time: call it when [`poll_timeout`](Self::poll_timeout)'s
    /// instant has passed. Silence is measured from the call that follows the last byte heard
    /// (or from our ping, if the peer was heard after it), so a shell that also calls it after
    /// each read measures keepalive to the byte, and one that calls it only at deadlines
    /// (reading no clock per message) pings between one and two intervals after the last byte. `now` must come from one monotonic
    /// clock with one origin per connection; an instant earlier than a previous one counts
    /// as that one.
    ///
    /// This may queue a keepalive ping (after [`Limits::keepalive_interval`] of silence), fail
    /// the connection when the peer stays silent for [`Limits::keepalive_timeout`] after it
    /// (close 1011 is queued for one try, then [`Action::Abort`]), or abort it when
    /// [`Limits::close_timeout`] passes after closing began.
    ///
    /// [`Limits::keepalive_interval`]: crate::Limits::keepalive_interval
    /// [`Limits::keepalive_timeout`]: crate::Limits::keepalive_timeout
    /// [`Limits::close_timeout`]: crate::Limits::close_timeout
    /// [`Action::Abort`]: super::Action::Abort
    pub fn handle_timeout(&mut self, now: Instant) {
        let timer = &mut self.timer;
        let now = match timer.now {
            Some(before) => now.max(before),
            None => {
                // The clock starts: silence is measured from here.
                timer.last_heard = now;
                now
            }
        };
        timer.now = Some(now);
        if mem::take(&mut timer.heard) {
            // The peer was heard since the last tick. With a ping out, silence is measured
            // from that ping, which the peer answered after: a shell that ticks only at
            // deadlines (the next one being the pong deadline) still pings a peer that only
            // answers once per interval (or per keepalive timeout, if that is longer), not
            // once per interval plus the pong deadline.
            timer.last_heard = timer.ping_sent.take().unwrap_or(now);
        }
        if mem::take(&mut timer.extension_used) {
            timer.extension_last = now;
        }
        self.timer.keepalive_at = self.keepalive_deadline();
        if let Some(deadline) = self.release_deadline()
            && now >= deadline
            && let Some(extension) = self.extension.as_mut()
        {
            // The engines go, and with them the buffers the extension stage fills and the
            // output's copy buffer (compressed messages are copied into it).
            extension.release();
            self.encoded = BytesMut::new();
            self.rx.release_assembled();
            self.out.release_if_drained(0);
            self.timer.release_owed = false;
        }
        if self.transport_finished() {
            return;
        }
        if self.state == State::Open {
            self.keepalive(now);
        } else if let State::Draining { .. } = self.state {
            // No timer while draining (see `poll_timeout`).
        } else {
            match self.timer.close {
                CloseTimer::Off | CloseTimer::Unarmed => {
                    self.timer.close = CloseTimer::At(now.after(self.limits.close_timeout));
                }
                CloseTimer::At(deadline) if now >= deadline => {
                    self.transition(Input::Abort(AbortReason::CloseTimeout));
                }
                CloseTimer::At(_) => {}
            }
        }
    }

    /// Keepalive's deadline: the pong's, with a ping out (after
    /// [`Limits::keepalive_timeout`](crate::Limits::keepalive_timeout)), else the next
    /// ping's (after [`Limits::keepalive_interval`](crate::Limits::keepalive_interval) of
    /// silence); none with keepalive off.
    fn keepalive_deadline(&self) -> Option<Instant> {
        match self.timer.ping_sent {
            Some(sent) => Some(sent.after(self.limits.keepalive_timeout)),
            None => self
                .limits
                .keepalive_interval
                .map(|interval| self.timer.last_heard.after(interval)),
        }
    }

    fn keepalive(&mut self, now: Instant) {
        let due = self.timer.keepalive_at.is_some_and(|at| now >= at);
        if !due {
            return;
        }
        if self.timer.ping_sent.is_some() {
            // Not one byte since our ping: say why if the transport still takes bytes, then
            // stop waiting for the peer.
            self.transition(Input::Close(CloseCode::INTERNAL_ERROR, "keepalive timeout"));
            self.transition(Input::Abort(AbortReason::KeepaliveTimeout));
        } else if self.queue_frame(OpCode::PING, true, &[]).is_ok() {
            self.timer.ping_sent = Some(now);
            self.timer.keepalive_at = self.keepalive_deadline();
        } else {
            self.transition(Input::Abort(AbortReason::MaskUnavailable));
        }
    }
}
