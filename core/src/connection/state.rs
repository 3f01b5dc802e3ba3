//! Where a connection is in its life, and every transition between states, in one method.

use alloc::string::String;

use super::{AbortReason, CloseInfo, Connection, Event, Initiator};
use crate::close::CloseCode;
use crate::frame::ProtocolError;

/// The connection's state (RFC 6455 §7). See the module docs' theory of operation.
///
/// `repr(u8)`: a tag byte of its own, so that asking for the state (`is_open`, `receiving`:
/// several times per message) is one compare rather than decoding a niche inside
/// [`Reply::Owed`]'s fields (16 B echo on the library: 26 instructions fewer, callgrind).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum State {
    /// Messages flow both ways.
    Open,
    /// Our close frame is queued (§7.1.2); the peer's messages are still delivered until its
    /// close frame arrives.
    CloseSent,
    /// The transport takes no more bytes (a write failed): nothing more is sent or read, but
    /// what was already read is still decoded and delivered, at the pace the application
    /// polls it, then receiving ends as an abort. `close_sent`: our close frame had been
    /// queued before.
    Draining { close_sent: bool },
    /// Receiving is over: [`Event::Closed`] is queued behind the events before it. `reply` says
    /// whether our close frame is still owed (sent when the application polls that event).
    Ending { end: End, reply: Reply },
    /// The application has polled [`Event::Closed`]; only the output and the transport remain.
    Closed { end: End },
}

/// Why receiving ended, which decides what becomes of the transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum End {
    /// Close frames were exchanged: a server closes TCP first once its output is written, a
    /// client waits for the server's EOF (§7.1.1).
    Handshake,
    /// The connection failed (§7.1.7): the transport closes once our close frame is written.
    Failed,
    /// The peer's EOF came first: the transport closes once the output is written.
    Eof,
    /// Given up: the transport goes now, unwritten bytes with it.
    Aborted,
}

/// Our close frame, relative to the `Ending` state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reply {
    /// Owed: queued when the application polls [`Event::Closed`], so answers to the messages
    /// before the close go out first.
    Owed(CloseCode, &'static str),
    /// Already queued.
    Sent,
    /// Never sent: the transport ended first, or a frame could not be masked.
    Never,
}

/// What moves the connection from one state to another.
#[derive(Debug, Clone, Copy)]
pub(super) enum Input<'a> {
    /// The application closes (§7.1.2). Only while [`Connection::is_open`].
    Close(CloseCode, &'a str),
    /// The application fails the connection (§7.1.7). Only while [`Connection::is_open`].
    Fail(CloseCode, &'a str),
    /// The peer's close frame arrived (§5.5.1).
    PeerClose(CloseCode, &'a str),
    /// The peer broke the protocol (§7.1.7).
    PeerError(ProtocolError),
    /// The transport reached EOF.
    Eof,
    /// Give up now.
    Abort(AbortReason),
    /// A write to the transport failed.
    WriteFailed,
    /// The application polled [`Event::Closed`].
    ClosedPolled,
}

impl State {
    /// Whether our close frame has been queued.
    pub(super) fn close_sent(self) -> bool {
        match self {
            State::Open => false,
            State::CloseSent | State::Closed { .. } => true,
            State::Draining { close_sent } => close_sent,
            State::Ending { reply, .. } => reply == Reply::Sent,
        }
    }

    /// Whether bytes from the transport are still taken in and decoded.
    pub(super) fn receiving(self) -> bool {
        matches!(self, State::Open | State::CloseSent)
    }

    /// Whether frames already read are still decoded and delivered: while receiving, and
    /// while draining after a failed write.
    pub(super) fn decoding(self) -> bool {
        matches!(
            self,
            State::Open | State::CloseSent | State::Draining { .. }
        )
    }

    pub(super) fn end(self) -> Option<End> {
        match self {
            State::Open | State::CloseSent | State::Draining { .. } => None,
            State::Ending { end, .. } | State::Closed { end } => Some(end),
        }
    }
}

impl Connection {
    /// The one place the state changes.
    pub(super) fn transition(&mut self, input: Input<'_>) {
        let state = self.state;
        self.state = match input {
            Input::Close(code, reason) => {
                if !self.queue_close(code, reason) {
                    return self.transition(Input::Abort(AbortReason::MaskUnavailable));
                }
                match state {
                    State::Open => State::CloseSent,
                    State::Ending { end, .. } => State::Ending {
                        end,
                        reply: Reply::Sent,
                    },
                    other => other,
                }
            }
            Input::Fail(code, reason) => {
                if !self.queue_close(code, reason) {
                    return self.transition(Input::Abort(AbortReason::MaskUnavailable));
                }
                match state {
                    State::Open | State::CloseSent => {
                        self.report_closed(code, reason, Initiator::Local, false, None, None);
                        State::Ending {
                            end: End::Failed,
                            reply: Reply::Sent,
                        }
                    }
                    State::Ending { end, .. } => State::Ending {
                        end,
                        reply: Reply::Sent,
                    },
                    other => other,
                }
            }
            Input::PeerClose(code, reason) => {
                if let State::Draining { close_sent } = state {
                    // §7.1.5: the close code is the one received, but our close frame can
                    // never follow: not clean, and the transport goes.
                    let initiator = if close_sent {
                        Initiator::Local
                    } else {
                        Initiator::Peer
                    };
                    let aborted = Some(AbortReason::WriteFailed);
                    self.report_closed(code, reason, initiator, false, None, aborted);
                    State::Ending {
                        end: End::Aborted,
                        reply: Reply::Never,
                    }
                } else {
                    let (initiator, reply) = match state {
                        // §5.5.1: "the endpoint typically echos the status code it received".
                        State::Open => (Initiator::Peer, Reply::Owed(code, "")),
                        _ => (Initiator::Local, Reply::Sent),
                    };
                    self.report_closed(code, reason, initiator, true, None, None);
                    State::Ending {
                        end: End::Handshake,
                        reply,
                    }
                }
            }
            Input::PeerError(error) => {
                self.failure = Some(error);
                let code = error.close_code();
                let draining = matches!(state, State::Draining { .. });
                self.report_closed(
                    code,
                    error.reason(),
                    Initiator::Local,
                    false,
                    Some(error),
                    draining.then_some(AbortReason::WriteFailed),
                );
                match state {
                    // Our close frame can never follow: the transport goes.
                    State::Draining { .. } => State::Ending {
                        end: End::Aborted,
                        reply: Reply::Never,
                    },
                    State::Open => State::Ending {
                        end: End::Failed,
                        reply: Reply::Owed(code, error.reason()),
                    },
                    _ => State::Ending {
                        end: End::Failed,
                        reply: Reply::Sent,
                    },
                }
            }
            Input::Eof => {
                self.eof = true;
                self.reading_over = true;
                match state {
                    State::Open | State::CloseSent => {
                        let initiator = self.abnormal_initiator();
                        self.report_closed(CloseCode::ABNORMAL, "", initiator, false, None, None);
                        let reply = if state == State::Open {
                            Reply::Never
                        } else {
                            Reply::Sent
                        };
                        State::Ending {
                            end: End::Eof,
                            reply,
                        }
                    }
                    // Draining: the bytes already read are still delivered; nothing more comes.
                    other => other,
                }
            }
            Input::Abort(reason) => {
                self.reading_over = true;
                if let State::Ending {
                    reply: Reply::Owed(..),
                    ..
                } = state
                    && let Some(Event::Closed(info)) = self.events.last_mut()
                {
                    // The peer's close is reported, still unpolled, but our reply will never
                    // be sent: the closing handshake did not complete (§7.1.4).
                    info.clean = false;
                    info.aborted.get_or_insert(reason);
                }
                let initiator = self.abnormal_initiator();
                self.report_closed(
                    CloseCode::ABNORMAL,
                    "",
                    initiator,
                    false,
                    None,
                    Some(reason),
                );
                match state {
                    State::Open => State::Ending {
                        end: End::Aborted,
                        reply: Reply::Never,
                    },
                    State::CloseSent | State::Draining { close_sent: true } => State::Ending {
                        end: End::Aborted,
                        reply: Reply::Sent,
                    },
                    State::Draining { close_sent: false } => State::Ending {
                        end: End::Aborted,
                        reply: Reply::Never,
                    },
                    State::Ending { reply, .. } => State::Ending {
                        end: End::Aborted,
                        reply: if reply == Reply::Sent {
                            Reply::Sent
                        } else {
                            Reply::Never
                        },
                    },
                    State::Closed { .. } => State::Closed { end: End::Aborted },
                }
            }
            Input::WriteFailed => {
                // Nothing queued will reach the peer, and nothing more will be queued.
                self.out.clear();
                self.pong = None;
                self.reading_over = true;
                match state {
                    State::Open | State::CloseSent => State::Draining {
                        close_sent: state.close_sent(),
                    },
                    State::Draining { .. } => state,
                    // Nothing more was to be received: as an abort.
                    State::Ending { .. } | State::Closed { .. } => {
                        return self.transition(Input::Abort(AbortReason::WriteFailed));
                    }
                }
            }
            Input::ClosedPolled => match state {
                State::Ending { end, reply } => {
                    if let Reply::Owed(code, reason) = reply
                        && end != End::Aborted
                        && !self.queue_close(code, reason)
                    {
                        return self.transition(Input::Abort(AbortReason::MaskUnavailable));
                    }
                    State::Closed { end }
                }
                other => other,
            },
        };
        if state == State::Open && self.state != State::Open {
            // However closing begins, it is bounded by the close timeout.
            self.timer.start_close();
        }
        if state.decoding() && !self.state.decoding() {
            // Nothing more will be delivered: a partial message never will be.
            self.rx.discard();
        }
        self.end_drain_if_done();
    }

    /// While draining, receiving ends (as an abort) once nothing more will be decoded: the
    /// read buffer is decoded to its end, or to a partial frame with no event left to poll
    /// (decoding resumes only as events are polled).
    pub(super) fn end_drain_if_done(&mut self) {
        if matches!(self.state, State::Draining { .. })
            && (self.events.is_empty() || self.rx.undecoded() == 0)
        {
            self.transition(Input::Abort(AbortReason::WriteFailed));
        }
    }

    /// Who ended a connection that ended without close frames being exchanged.
    fn abnormal_initiator(&self) -> Initiator {
        if self.state.close_sent() {
            Initiator::Local
        } else {
            Initiator::Transport
        }
    }

    /// Queues the one [`Event::Closed`], unless receiving had already ended.
    fn report_closed(
        &mut self,
        code: CloseCode,
        reason: &str,
        initiator: Initiator,
        clean: bool,
        error: Option<ProtocolError>,
        aborted: Option<AbortReason>,
    ) {
        if !self.state.decoding() {
            return;
        }
        self.events.push_back(Event::Closed(CloseInfo {
            code,
            reason: String::from(reason),
            initiator,
            clean,
            error,
            aborted,
        }));
    }
}
