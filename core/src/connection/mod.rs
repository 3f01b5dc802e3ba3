//! The connection state machine (RFC 6455 §5–§7): one type, driven by hand.
//!
//! # Contract
//!
//! Inputs:
//! - [`receive_data`](Connection::receive_data): bytes read from the transport, in any split.
//! - [`receive_eof`](Connection::receive_eof): the transport reached end of file.
//! - `send_*`, [`close`](Connection::close): what the application wants to send.
//! - [`handle_close_timeout`](Connection::handle_close_timeout): the close timer ran out.
//!
//! Outputs, drained by the caller after each input:
//! - [`poll_event`](Connection::poll_event): messages, pings, pongs, then one
//!   [`Event::Closed`], after which nothing else is delivered.
//! - [`poll_transmit`](Connection::poll_transmit) then
//!   [`consume_transmit`](Connection::consume_transmit): bytes to write, in order.
//! - [`poll_action`](Connection::poll_action), after writing: [`Action::StartCloseTimer`]
//!   once closing begins, [`Action::CloseTransport`] once the transport should go.
//!
//! # Theory of operation
//!
//! Receiving is a loop over two states: reading a header (at most 14 bytes, kept in a small
//! array when split across reads) and reading a payload. Payload bytes are unmasked straight
//! into the message buffer as they arrive (the only copy), text is validated as it lands, and
//! every limit is checked from the header, before its payload is buffered. Control frames are
//! collected in a fixed 125-byte array. Nothing is reserved from a declared length.
//!
//! Closing is a few flags: `close_sent`, `close_received`, and `error` (failed). A peer's
//! close or a protocol error ends delivery at once and queues one [`Event::Closed`] behind
//! the events before it; our close frame (the echo of the peer's code, or the error's code)
//! is owed until the application polls that `Closed` event, so answers to earlier messages
//! go out first. A protocol error is returned by every later `receive_data` (sticky). All
//! transitions happen in [`Connection::on_close_frame`], [`Connection::fail`],
//! [`Connection::finish`] and [`Connection::poll_event`].
//!
//! The transport: a server closes TCP first once close frames have passed (§7.1.1), or after
//! failing; a client waits for the server's EOF, bounded by the close timer.

mod message;
mod receive;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use bytes::{Buf, BytesMut};
use core::fmt;

pub use message::{CloseInfo, DataKind, Event, Initiator, Message, Utf8Bytes};

use crate::close::{CloseCode, CloseFrame, truncate_reason};
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode, ProtocolError};
use crate::limits::Limits;
use crate::utf8::Utf8Validator;
use receive::Receiver;

/// Which end of the connection this is. It decides the masking direction (§5.1) and who
/// closes the transport first (§7.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Accepts connections: receives masked frames, sends unmasked ones.
    Server,
    /// Opens connections: sends masked frames, receives unmasked ones.
    Client,
}

/// Where a client's masking keys come from. §5.3 and §10.3: each frame needs a fresh key from
/// a strong source of entropy; the core has no RNG, so the caller provides one. There is
/// deliberately no default.
pub trait MaskSource: Send {
    /// The key for the next frame.
    fn next_mask(&mut self) -> [u8; 4];
}

impl<F: FnMut() -> [u8; 4] + Send> MaskSource for F {
    fn next_mask(&mut self) -> [u8; 4] {
        self()
    }
}

/// What the transport should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Closing has begun: start the close timer, and call
    /// [`handle_close_timeout`](Connection::handle_close_timeout) when it runs out.
    StartCloseTimer,
    /// Everything is written: shut down the write side of the transport, read and discard
    /// until EOF or the close timer, then close it.
    CloseTransport,
}

/// An application command the connection refused. The connection is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent or received, or the connection failed: no more
    /// messages may be sent (§5.5.1).
    Closed,
    /// A control payload over 125 bytes (§5.5).
    ControlPayloadTooLong,
    /// A close code that may not be sent (§7.4).
    InvalidCloseCode(CloseCode),
    /// A whole message while a fragmented one is being sent (§5.4: no interleaving).
    FragmentInProgress,
    /// A fragment of the other kind than the message in progress.
    FragmentKindMismatch,
    /// Text fragments that are not UTF-8.
    InvalidUtf8,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::Closed => f.write_str("the connection is closing or closed"),
            SendError::ControlPayloadTooLong => f.write_str("control payload over 125 bytes"),
            SendError::InvalidCloseCode(code) => write!(f, "close code {code} may not be sent"),
            SendError::FragmentInProgress => f.write_str("a fragmented message is being sent"),
            SendError::FragmentKindMismatch => {
                f.write_str("fragment kind differs from its message")
            }
            SendError::InvalidUtf8 => f.write_str("text fragments are not UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// One WebSocket connection after the handshake. See the [module docs](self).
pub struct Connection {
    role: Role,
    limits: Limits,
    masks: Option<Box<dyn MaskSource>>,
    rx: Receiver,
    events: VecDeque<Event>,
    out: BytesMut,
    /// The pong owed for the latest ping while `out` is over `pong_backlog`: a ping flood
    /// owes one pong (§5.5.3 allows answering only the most recent ping).
    pong: Option<([u8; 125], u8)>,
    /// The kind of the outgoing fragmented message, and its UTF-8 state.
    sending: Option<(DataKind, Utf8Validator)>,
    close_sent: bool,
    close_received: bool,
    error: Option<ProtocolError>,
    /// `Event::Closed` has been queued: nothing more is received.
    finished: bool,
    /// `Event::Closed` has been polled: the application has seen everything before it.
    delivered: bool,
    /// Our close frame, owed but held until the application has polled the events before
    /// the close (see [`Connection::poll_event`]).
    owed_close: Option<(CloseCode, &'static str)>,
    eof: bool,
    timed_out: bool,
    timer_reported: bool,
    transport_reported: bool,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("close_sent", &self.close_sent)
            .field("close_received", &self.close_received)
            .field("error", &self.error)
            .field("finished", &self.finished)
            .field("buffered", &self.out.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// A server-side connection.
    pub fn server(limits: Limits) -> Connection {
        Connection::new(Role::Server, limits, None)
    }

    /// A client-side connection, masking each frame with a key from `masks`.
    pub fn client(limits: Limits, masks: impl MaskSource + 'static) -> Connection {
        Connection::new(Role::Client, limits, Some(Box::new(masks)))
    }

    fn new(role: Role, limits: Limits, masks: Option<Box<dyn MaskSource>>) -> Connection {
        Connection {
            role,
            limits,
            masks,
            rx: Receiver::new(),
            events: VecDeque::new(),
            out: BytesMut::new(),
            pong: None,
            sending: None,
            close_sent: false,
            close_received: false,
            error: None,
            finished: false,
            delivered: false,
            owed_close: None,
            eof: false,
            timed_out: false,
            timer_reported: false,
            transport_reported: false,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether messages may still be sent: no close frame sent, the close timer has not run
    /// out, and [`Event::Closed`] not yet polled. Between a peer's close (or a failure) and the
    /// application polling the `Closed` event, answers to the messages before it may still be
    /// sent.
    pub fn is_open(&self) -> bool {
        !self.close_sent && !self.delivered && !self.timed_out
    }

    /// Whether [`Event::Closed`] has been produced: nothing more will be delivered.
    pub fn is_closed(&self) -> bool {
        self.finished
    }

    /// Bytes queued for the transport and not yet consumed: the shell's backpressure measure.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }

    /// The next event, if any.
    ///
    /// When the peer's close or a protocol error ends the connection, our close frame is
    /// queued as the application polls the [`Event::Closed`], not before: an application
    /// that answers each message as it polls it (an echo) gets its answers to every message
    /// that arrived before the close onto the wire ahead of the close frame. Nothing already
    /// accepted is lost.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if matches!(event, Event::Closed(_)) {
            self.delivered = true;
            if let Some((code, reason)) = self.owed_close.take()
                && !self.close_sent
            {
                self.queue_close(code, reason);
            }
        }
        Some(event)
    }

    /// The bytes to write next (possibly empty). Call
    /// [`consume_transmit`](Self::consume_transmit) with how many were written.
    #[must_use]
    pub fn poll_transmit(&mut self) -> &[u8] {
        if let Some((payload, len)) = self.pong.take() {
            self.queue_frame(OpCode::PONG, true, &payload[..usize::from(len)]);
        }
        &self.out
    }

    /// Marks `n` bytes from [`poll_transmit`](Self::poll_transmit) as written.
    pub fn consume_transmit(&mut self, n: usize) {
        self.out.advance(n.min(self.out.len()));
    }

    /// What the transport should do now, if anything. Each action is returned once.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.close_sent && !self.timer_reported && !self.transport_reported {
            self.timer_reported = true;
            return Some(Action::StartCloseTimer);
        }
        if self.transport_reported {
            return None;
        }
        let drained = self.out.is_empty() && self.pong.is_none() && self.owed_close.is_none();
        let done = self.timed_out
            || (drained
                && (self.eof
                    || self.error.is_some()
                    // RFC 6455 §7.1.1: the server closes the TCP connection first.
                    || (self.role == Role::Server && self.close_sent && self.close_received)));
        if done {
            self.transport_reported = true;
            return Some(Action::CloseTransport);
        }
        None
    }

    /// The close timer ran out: the connection ends abnormally if it had not ended, and the
    /// transport should close without waiting for unsent bytes.
    pub fn handle_close_timeout(&mut self) {
        self.timed_out = true;
        self.out.clear();
        self.pong = None;
        self.owed_close = None;
        let initiator = if self.close_sent {
            Initiator::Local
        } else {
            Initiator::Transport
        };
        self.finish(CloseCode::ABNORMAL, String::new(), initiator, false, None);
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.check_whole_message()?;
        self.queue_frame(OpCode::TEXT, true, text.as_bytes());
        Ok(())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.check_whole_message()?;
        self.queue_frame(OpCode::BINARY, true, data);
        Ok(())
    }

    /// Sends one fragment of a message (§5.4); `fin` ends the message. The first fragment
    /// starts the message with `kind`; later ones must name the same kind. Text fragments
    /// must together be UTF-8, which is checked as they go. Control frames may be sent between
    /// fragments.
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        let (opcode, mut utf8) = match self.sending.take() {
            None => (data_opcode(kind), Utf8Validator::new()),
            Some((k, utf8)) if k == kind => (OpCode::CONTINUATION, utf8),
            Some(other) => {
                self.sending = Some(other);
                return Err(SendError::FragmentKindMismatch);
            }
        };
        if kind == DataKind::Text {
            let checked = utf8
                .feed(data)
                .and_then(|()| if fin { utf8.finish() } else { Ok(()) });
            if checked.is_err() {
                // Refused: the message stays open as it was.
                if opcode == OpCode::CONTINUATION {
                    self.sending = Some((kind, utf8));
                }
                return Err(SendError::InvalidUtf8);
            }
        }
        self.queue_frame(opcode, fin, data);
        if !fin {
            self.sending = Some((kind, utf8));
        }
        Ok(())
    }

    /// Sends a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::PING, payload)
    }

    /// Sends an unsolicited pong (payload at most 125 bytes), e.g. as a heartbeat (§5.5.3).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), SendError> {
        self.send_control(OpCode::PONG, payload)
    }

    /// Starts the closing handshake (§7.1.2): queues a close frame after everything already
    /// queued. `code` must be sendable, or [`CloseCode::NO_STATUS`] for an empty close frame;
    /// `reason` is cut to 123 bytes on a character boundary.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        if !code.is_sendable() && code != CloseCode::NO_STATUS {
            return Err(SendError::InvalidCloseCode(code));
        }
        self.queue_close(code, reason);
        Ok(())
    }

    fn check_whole_message(&self) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        if self.sending.is_some() {
            return Err(SendError::FragmentInProgress);
        }
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        if payload.len() as u64 > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.queue_frame(opcode, true, payload);
        Ok(())
    }

    /// Answers a ping: straight into the output while it is short, else into the single
    /// coalescing slot (replacing an older, now obsolete pong, which keeps pongs in order).
    fn queue_pong(&mut self, payload: &[u8]) {
        if self.pong.is_none() && self.out.len() < self.limits.pong_backlog {
            self.queue_frame(OpCode::PONG, true, payload);
        } else {
            let mut slot = [0u8; 125];
            slot[..payload.len()].copy_from_slice(payload);
            self.pong = Some((slot, payload.len() as u8));
        }
    }

    /// Queues our close frame; closing has begun. The owed pong goes first.
    fn queue_close(&mut self, code: CloseCode, reason: &str) {
        if let Some((payload, len)) = self.pong.take() {
            self.queue_frame(OpCode::PONG, true, &payload[..usize::from(len)]);
        }
        let mut payload = [0u8; 125];
        let len = CloseFrame {
            code,
            reason: truncate_reason(reason),
        }
        .encode(&mut payload);
        self.queue_frame(OpCode::CLOSE, true, &payload[..len]);
        self.close_sent = true;
    }

    /// Encodes one frame into the output, masked with a fresh key on the client side.
    fn queue_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        let mask = self.masks.as_mut().map(|m| m.next_mask());
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode,
            mask,
            payload_len: 0,
        };
        self.out.reserve(MAX_HEADER_LEN + payload.len());
        // A slice is at most isize::MAX bytes and `rsv` is 0: the frame always encodes.
        let written = header.write_frame(payload, &mut self.out);
        debug_assert!(written.is_ok());
    }

    /// A close frame arrived (§5.5.1): answer it, stop delivering, report the close.
    fn on_close_frame(&mut self, code: CloseCode, reason: &str) {
        self.close_received = true;
        let initiator = if self.close_sent {
            Initiator::Local
        } else {
            Initiator::Peer
        };
        if !self.close_sent {
            // §5.5.1: "the endpoint typically echos the status code it received". The
            // echo is owed until the application has polled what came before the close.
            self.owed_close = Some((code, ""));
        }
        self.finish(code, String::from(reason), initiator, true, None);
    }

    /// Fails the connection (§7.1.7): queue a close with the error's code, deliver nothing
    /// more, and keep the error for every later call.
    fn fail(&mut self, error: ProtocolError) -> ProtocolError {
        self.error = Some(error);
        self.rx.discard();
        if !self.close_sent {
            self.owed_close = Some((error.close_code(), error.reason()));
        }
        self.finish(
            error.close_code(),
            String::from(error.reason()),
            Initiator::Local,
            false,
            Some(error),
        );
        error
    }

    /// Queues the one `Event::Closed`.
    fn finish(
        &mut self,
        code: CloseCode,
        reason: String,
        initiator: Initiator,
        clean: bool,
        error: Option<ProtocolError>,
    ) {
        if self.finished {
            return;
        }
        self.finished = true;
        self.rx.discard();
        self.events.push_back(Event::Closed(CloseInfo {
            code,
            reason,
            initiator,
            clean,
            error,
        }));
    }
}

fn data_opcode(kind: DataKind) -> OpCode {
    match kind {
        DataKind::Text => OpCode::TEXT,
        DataKind::Binary => OpCode::BINARY,
    }
}
