//! The connection's one timer: keepalive while the connection is open, then the close timer.
//!
//! A single [`Sleep`] serves both, created on first use (so a connection can be built outside
//! a runtime) and moved only when it must fire sooner: silence is measured from the last byte
//! heard, which changes on every read, and re-arming on every read would cost a timer-wheel
//! update each time. Instead the timer fires at the old deadline, sees the newer activity and
//! sleeps again.

use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::time::{Instant, Sleep, sleep_until};

use crate::Config;

/// What came due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Due {
    /// The peer has been silent for the keepalive interval: send a ping.
    Ping,
    /// A ping went unanswered (nothing at all heard) for the keepalive timeout.
    KeepaliveTimeout,
    /// The close timeout ran out.
    Close,
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// No keepalive and no closing yet.
    Off,
    /// Waiting for `interval` of silence.
    Idle,
    /// A ping went out at `since`.
    AwaitingPong { since: Instant },
    /// Closing began; the transport goes at `deadline` whatever happens.
    Closing { deadline: Instant },
    /// Nothing more to time.
    Done,
}

pub(crate) struct Timer {
    sleep: Option<Pin<Box<Sleep>>>,
    state: State,
    last_heard: Instant,
    interval: Duration,
    timeout: Duration,
}

impl Timer {
    pub(crate) fn new(config: &Config) -> Timer {
        let (state, interval) = match config.keepalive_interval {
            Some(interval) => (State::Idle, interval),
            None => (State::Off, Duration::ZERO),
        };
        Timer {
            sleep: None,
            state,
            last_heard: Instant::now(),
            interval,
            timeout: config.keepalive_timeout,
        }
    }

    /// The peer showed it is alive.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// Closing began: keepalive ends and the close timer starts, once.
    pub(crate) fn start_close(&mut self, timeout: Duration) {
        if !self.is_closing() {
            self.state = State::Closing {
                deadline: Instant::now() + timeout,
            };
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        matches!(self.state, State::Closing { .. } | State::Done)
    }

    /// Stops the timer for good.
    pub(crate) fn stop(&mut self) {
        self.state = State::Done;
        self.sleep = None;
    }

    /// Ready with what came due; each deadline is reported once.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Due> {
        loop {
            let deadline = match self.state {
                State::Off | State::Done => return Poll::Pending,
                State::Idle => self.last_heard + self.interval,
                State::AwaitingPong { since } => since + self.timeout,
                State::Closing { deadline } => deadline,
            };
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(sleep_until(deadline)));
            if sleep.deadline() > deadline {
                sleep.as_mut().reset(deadline);
            }
            ready!(sleep.as_mut().poll(cx));
            let now = Instant::now();
            if now < deadline {
                // It fired for an older, earlier deadline.
                sleep.as_mut().reset(deadline);
                continue;
            }
            match self.state {
                State::Idle => {
                    self.state = State::AwaitingPong { since: now };
                    return Poll::Ready(Due::Ping);
                }
                State::AwaitingPong { since } if self.last_heard > since => {
                    self.state = State::Idle;
                }
                State::AwaitingPong { .. } => {
                    self.stop();
                    return Poll::Ready(Due::KeepaliveTimeout);
                }
                State::Closing { .. } => {
                    self.stop();
                    return Poll::Ready(Due::Close);
                }
                State::Off | State::Done => return Poll::Pending,
            }
        }
    }
}
