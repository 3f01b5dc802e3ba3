//! The connection state machine (RFC 6455 §5–§7): one type, driven by hand.
//!
//! # Contract
//!
//! Inputs:
//! - [`read_buffer`](Connection::read_buffer) then
//!   [`receive_buffer`](Connection::receive_buffer): the shell reads from the transport
//!   straight into the connection's read buffer and gives it back, empty when the read found
//!   nothing (the connection then drops the buffer if nothing waits in it).
//! - [`receive_data`](Connection::receive_data): the same for bytes the caller already holds,
//!   in any split, at the cost of a copy. It returns how many it took: none while decoding has
//!   stopped because [`Limits::max_queued_events`] events wait; feed them after polling.
//! - [`receive_eof`](Connection::receive_eof): the transport reached end of file.
//! - `send_*`, [`close`](Connection::close), [`fail`](Connection::fail): what the application
//!   wants to send, or that it ends the connection.
//! - [`abort`](Connection::abort): the transport failed, or the application gives up now.
//! - [`write_failed`](Connection::write_failed): a write failed; what was already read is
//!   still delivered.
//! - [`write_blocked`](Connection::write_blocked): a write found the transport full. Output
//!   taken after that shows the peer reading, which keepalive counts as hearing it (a peer
//!   busy reading a long transfer is not given up for silence); a shell that never calls it
//!   has keepalive measure received bytes alone.
//! - [`handle_timeout`](Connection::handle_timeout): the time, when
//!   [`poll_timeout`](Connection::poll_timeout) says. Received bytes need no tick of their
//!   own: the connection notes that the peer was heard, and the next tick measures silence
//!   from then (a shell may tick after reads too, for keepalive measured to the byte).
//!
//! Outputs, drained by the caller after each input:
//! - [`poll_event`](Connection::poll_event): messages, pings, pongs, then one
//!   [`Event::Closed`], after which nothing else is delivered.
//! - [`poll_transmit`](Connection::poll_transmit) then
//!   [`consume_transmit`](Connection::consume_transmit): bytes to write, in order. A whole
//!   message may skip this queue: [`send_message_with`](Connection::send_message_with) hands
//!   its frame to the caller's write at once when nothing is queued ahead of it (a small one
//!   encoded on the stack; a server's longer one as header and payload, uncopied), and queues
//!   only what that write did not take.
//! - [`poll_action`](Connection::poll_action), after writing: what to do with the transport
//!   ([`Action::HalfClose`], [`Action::Close`], [`Action::Abort`]); the caller reports a
//!   close carried out with [`transport_closed`](Connection::transport_closed).
//! - [`poll_timeout`](Connection::poll_timeout): when to call `handle_timeout` next.
//! - [`wants_read`](Connection::wants_read): false while automatic replies back up (stop
//!   reading until the replies queued are written; the application's own output never
//!   pauses reading) or while events must be polled before the rest of the read buffer is
//!   decoded.
//!
//! # Theory of operation
//!
//! The connection is in one of five states (a private `State` enum), and every change
//! happens in one method, `Connection::transition`:
//!
//! - **Open**: messages flow both ways.
//! - **CloseSent**: the application closed; our close frame is queued and the peer's
//!   messages are still delivered until its close frame arrives.
//! - **Draining**: a write failed, so nothing more is sent or read; the frames already read
//!   are still decoded and delivered as the application polls them (nothing already
//!   accepted is lost), then receiving ends as an abort, with the peer's close frame if it
//!   was among them, or with a protocol error found in them (not clean: our close frame
//!   never follows).
//! - **Ending**: receiving is over — the peer's close frame, a protocol error, the
//!   application's `fail`, EOF, an abort, or the end of a drain. One [`Event::Closed`] is queued behind the events
//!   before it. Our close frame, if still owed (echoing the peer's code, or carrying the
//!   error's), is queued only when the application polls that `Closed`, so an application that
//!   answers each message as it polls it gets its answers on the wire ahead of the close.
//! - **Closed**: the application has polled `Closed`; what remains is writing the output and
//!   ending the transport.
//!
//! [`is_open`](Connection::is_open) (messages may be sent) holds in Open, and in Ending while
//! our close frame has not been sent and the transport has not been told to close (after an
//! EOF it closes once the output is written); [`is_closed`](Connection::is_closed) holds in Closed
//! only, so the two never hold together. A protocol error is returned by every later
//! `receive_data` (sticky).
//!
//! Receiving is staged: frame decoding → the extension stage ([`crate::extension`]) → UTF-8
//! validation → message assembly, all over one read buffer, decoded in place by one parser
//! (both `receive_*` entry points feed it). A header stays in the buffer until it is whole;
//! every limit is checked from it, before its payload is read. On the identity path (no
//! extension bits on the message) payload bytes are unmasked where they lie and text is
//! validated as it lands; a single-frame message is then handed out as a `Bytes` view of the
//! buffer, with no copy at all, and a fragmented one is assembled by copying each fragment
//! once. An extension decodes each raw piece into its own output, bounded by
//! `max_message_size` as it is produced. Control payloads are copied into a fixed 125-byte
//! array. Decoding stops while [`Limits::max_queued_events`] events wait and resumes as
//! [`poll_event`](Connection::poll_event) drains them.
//!
//! Memory: the room lent for a read follows what is awaited (16 KiB for headers and small
//! frames, or the last data frame's size up to 64 KiB, so large frames are read whole; a large
//! frame's remaining payload, but at most 64 KiB, or as much as it has already sent if that is
//! more), so nothing is reserved from a declared length alone. The read buffer
//! is dropped once drained when a read finds nothing (and at once after `receive_data`, which
//! copies into it), and any buffer that grew past [`Limits::max_retained_buffer`] is released
//! once drained, so an idle connection holds no read buffer.
//!
//! Inlining: the calls a shell makes on every read and write ([`read_buffer_with`],
//! [`receive_buffer_with`], [`send_message`], [`send_message_with`], [`poll_transmit`],
//! [`poll_transmit_vectored`], [`consume_transmit`], [`poll_action`], [`poll_timeout`]) are
//! `#[inline(always)]`, and the small helpers under them
//! `#[inline]`. A shell is generic over its stream, and a program with several stream types
//! (the `switchyard` binary has six, its server's and its client's) calls each from
//! several copies of its driver; LLVM then kept them out of line, and the calls and register
//! saves cost the binary about 150 instructions per 16 B echo (callgrind: 2,813 against
//! 2,656), where a program with one stream type already inlined them.
//!
//! [`read_buffer_with`]: Connection::read_buffer_with
//! [`receive_buffer_with`]: Connection::receive_buffer_with
//! [`send_message`]: Connection::send_message
//! [`send_message_with`]: Connection::send_message_with
//! [`poll_transmit`]: Connection::poll_transmit
//! [`poll_transmit_vectored`]: Connection::poll_transmit_vectored
//! [`consume_transmit`]: Connection::consume_transmit
//! [`poll_action`]: Connection::poll_action
//! [`poll_timeout`]: Connection::poll_timeout
//!
//! Time: once closing begins, the close timer bounds it ([`Limits::close_timeout`], then
//! [`Action::Abort`]). While open, silence ([`Limits::keepalive_interval`]) sends a ping, and
//! silence after it ([`Limits::keepalive_timeout`]) fails the connection with 1011 and aborts.
//!
//! The transport: once the output is written, a server closes it as soon as close frames have
//! passed (§7.1.1), while a client waits for the server's EOF; either role half-closes after
//! failing, and closes at the peer's EOF; an abort drops it at once.

mod events;
mod message;
mod output;
mod read_buffer;
mod receive;
mod send;
mod state;
mod timer;

use alloc::boxed::Box;
use bytes::BytesMut;
use core::fmt;

pub use message::{AbortReason, CloseInfo, DataKind, Event, Initiator, Message, Utf8Bytes};
pub use send::SendError;
pub use timer::Instant;

use crate::extension::Extension;
use crate::frame::ProtocolError;
use crate::limits::Limits;
use crate::utf8::Utf8Validator;
use events::EventQueue;
use output::Output;
use receive::Receiver;
use state::{End, Input, Reply, State};
use timer::Timer;

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
    /// The key for the next frame, or `None` if no unpredictable key can be had: the send is
    /// then refused and the connection aborted, since not even a close frame may go out with
    /// a predictable key (fail closed, §10.3).
    fn next_mask(&mut self) -> Option<[u8; 4]>;
}

impl<F: FnMut() -> [u8; 4] + Send> MaskSource for F {
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        Some(self())
    }
}

/// What the transport should do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Action {
    /// Everything is written: shut down the write side (TCP FIN, HTTP/2 END_STREAM), and keep
    /// reading, discarding, until EOF ([`Action::Close`] follows) or the close timeout.
    HalfClose,
    /// Everything is written and nothing more will be read: shut down and close the transport,
    /// then say so with [`Connection::transport_closed`]. Until then the close timeout still
    /// runs, and [`Action::Abort`] follows if it passes first: a transport that cannot finish
    /// (TLS holding our last bytes for a peer that stopped reading) is given up.
    Close,
    /// Give up now (TCP RST, HTTP/2 RST_STREAM): close the transport without waiting for
    /// anything. Bytes still queued are dropped once this is polled; write them only if the
    /// transport takes them at once.
    Abort,
}

/// The fragmented message being sent (§5.4).
#[derive(Debug)]
struct Sending {
    kind: DataKind,
    /// Text fragments must together be UTF-8.
    utf8: Utf8Validator,
    /// Whether the extension encodes this message (its first piece said so).
    encoded: bool,
}

/// What has been asked of the transport so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Open,
    HalfClosed,
    /// [`Action::Close`] was handed out; the shell has not said the transport is closed.
    Closing,
    Finished,
}

/// One WebSocket connection after the handshake. See the [module docs](self).
pub struct Connection {
    role: Role,
    limits: Limits,
    masks: Option<Box<dyn MaskSource>>,
    /// The negotiated extension; `None` is the identity stage.
    extension: Option<Box<dyn Extension>>,
    state: State,
    rx: Receiver,
    events: EventQueue,
    out: Output,
    /// Bytes of automatic replies (pongs) queued since the last of them was written.
    replies: usize,
    /// Bytes written since the connection began, and where in that count the output's last
    /// reply ends: once it is written, no reply waits (while the application's own output
    /// may, which must not count as replies backing up).
    written: u64,
    replies_end: u64,
    /// The transport was full ([`write_blocked`](Connection::write_blocked)) and has taken
    /// nothing since.
    write_stalled: bool,
    /// The pong owed for the latest ping once replies passed `write_buffer_size`: a ping flood
    /// owes one pong (§5.5.3 allows answering only the most recent ping).
    pong: Option<([u8; 125], u8)>,
    /// The outgoing fragmented message.
    sending: Option<Sending>,
    /// The extension's output buffer, reused from message to message.
    encoded: BytesMut,
    /// The protocol error that failed the connection, returned by every later receive.
    failure: Option<ProtocolError>,
    /// The peer's EOF has been received.
    eof: bool,
    /// The peer's EOF came while decoding was stalled with bytes left: it takes effect once
    /// they are decoded ([`receive_eof`](Connection::receive_eof)).
    eof_deferred: bool,
    /// Nothing more is to be read from the transport: its EOF, an abort, or a failed write
    /// (what was read before is still decoded).
    reading_over: bool,
    transport: Transport,
    /// The transport is a stream of a connection that outlives it (HTTP/2, RFC 8441): the
    /// server waits for the peer's end of it even after a clean close.
    stream_transport: bool,
    timer: Timer,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("role", &self.role)
            .field("state", &self.state)
            .field("failure", &self.failure)
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
        let limits = Limits {
            // Decoding stops while this many events wait: none at all would stop it for good.
            max_queued_events: limits.max_queued_events.max(1),
            ..limits
        };
        Connection {
            role,
            limits,
            masks,
            extension: None,
            state: State::Open,
            rx: Receiver::new(),
            events: EventQueue::default(),
            out: Output::default(),
            replies: 0,
            written: 0,
            replies_end: 0,
            write_stalled: false,
            pong: None,
            sending: None,
            encoded: BytesMut::new(),
            failure: None,
            eof: false,
            eof_deferred: false,
            reading_over: false,
            transport: Transport::Open,
            stream_transport: false,
            timer: Timer::new(),
        }
    }

    /// Runs messages through `extension` (negotiated in the handshake): received messages
    /// whose first frame sets its RSV bits are decoded by it before UTF-8 validation and
    /// assembly, and messages sent are offered to it to encode (`send_unencoded` skips it).
    pub fn with_extension(mut self, extension: impl Extension + 'static) -> Connection {
        self.extension = Some(Box::new(extension));
        self
    }

    /// Says the transport is one stream of a connection that outlives it (WebSocket over
    /// HTTP/2, RFC 8441) rather than a connection of its own. After a clean closing handshake
    /// a server then half-closes (END_STREAM) and waits for the peer's end of the stream, as it
    /// does after failing: dropping the stream before that resets it (RST_STREAM, RFC 9113
    /// §8.1), which the peer may report as an error. Over TCP it closes at once.
    pub fn with_stream_transport(mut self) -> Connection {
        self.stream_transport = true;
        self
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Whether messages may still be sent: no close frame sent, not aborted, and
    /// [`Event::Closed`] not yet polled. Between a peer's close (or a failure) and the
    /// application polling the `Closed` event, answers to the messages before it may still be
    /// sent, while the transport stays open (after the peer's EOF, the transport is closed
    /// once the output is written: [`Action::Close`] ends sending). Never true together with
    /// [`is_closed`](Self::is_closed).
    #[inline]
    pub fn is_open(&self) -> bool {
        match self.state {
            State::Open => true,
            State::Ending { end, reply } => {
                end != End::Aborted && reply != Reply::Sent && self.transport == Transport::Open
            }
            State::CloseSent | State::Draining { .. } | State::Closed { .. } => false,
        }
    }

    /// Whether the application has polled [`Event::Closed`]: nothing more will be delivered
    /// and nothing more may be sent.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed { .. })
    }

    /// Events waiting for [`poll_event`](Self::poll_event).
    pub fn pending_events(&self) -> usize {
        self.events.len()
    }

    /// Whether an event waits for [`poll_event`](Self::poll_event): `pending_events() > 0`,
    /// in one compare, for a shell that asks before each poll.
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Bytes queued for the transport and not yet consumed: the shell's backpressure measure.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }

    /// Whether bytes wait for the transport: [`poll_transmit`](Self::poll_transmit) would
    /// return some (queued output, or a coalesced pong that joins it when asked for).
    pub fn wants_write(&self) -> bool {
        !self.out.is_empty() || self.pong.is_some()
    }

    /// Whether the caller should read from the transport: false while automatic replies
    /// (pongs) not yet written exceed [`Limits::write_buffer_size`], until they are written,
    /// so a peer that pings and never reads cannot make us queue without bound; false while decoding has stopped with bytes left because
    /// [`Limits::max_queued_events`] events wait, until they are polled; false too once
    /// nothing more will be read: after EOF, an abort, or a failed write
    /// ([`write_failed`](Self::write_failed)).
    ///
    /// The application's own output never pauses reading: both ends may be writing large
    /// messages at once (an echo), and pausing reads then would deadlock them.
    pub fn wants_read(&self) -> bool {
        !self.reading_over
            && !self.decoding_stalled()
            && matches!(self.transport, Transport::Open | Transport::HalfClosed)
            && self.pong.is_none()
            && self.replies <= self.limits.write_buffer_size
    }

    /// The next event, if any. Polling the last one resumes decoding what the read buffer
    /// still holds, if decoding stopped because too many events waited.
    ///
    /// When the peer's close or a protocol error ends the connection, our close frame is
    /// queued as the application polls the [`Event::Closed`], not before: an application
    /// that answers each message as it polls it (an echo) gets its answers to every message
    /// that arrived before the close onto the wire ahead of the close frame. Nothing already
    /// accepted is lost.
    #[must_use]
    #[inline(always)]
    pub fn poll_event(&mut self) -> Option<Event> {
        // The usual event, a message alone in the queue with the read buffer decoded to its
        // end: taken in place in the caller; anything else goes the whole way.
        if self.rx.undecoded() == 0
            && let Some(message) = self.events.take_lone_message()
        {
            return Some(message);
        }
        self.poll_any_event()
    }

    /// [`poll_event`](Self::poll_event) the whole way: the closing transition, and decoding
    /// resumed once the queue empties. Out of line, so the message path inlined into a
    /// shell stays small (16 B echo on the library: 2,452 -> 2,423 instructions, callgrind).
    fn poll_any_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front()?;
        if matches!(event, Event::Closed(_)) {
            self.transition(Input::ClosedPolled);
        }
        if self.events.is_empty() {
            // Decoding stopped while the queue was full: the rest of the buffer goes now.
            self.resume_decoding();
        }
        Some(event)
    }

    /// The next contiguous bytes to write (empty when nothing waits). Call
    /// [`consume_transmit`](Self::consume_transmit) with how many were written, and again
    /// until it is empty: a payload sent by reference is a piece of its own, so this may be
    /// less than [`buffered_amount`](Self::buffered_amount).
    #[must_use]
    #[inline(always)]
    pub fn poll_transmit(&mut self) -> &[u8] {
        self.flush_pong();
        self.out.front()
    }

    /// The next pieces to write, for one vectored write: fills `dst` in order and returns how
    /// many it filled. Call [`consume_transmit`](Self::consume_transmit) with how many bytes
    /// were written.
    #[must_use]
    #[inline(always)]
    pub fn poll_transmit_vectored<'a>(&'a mut self, dst: &mut [&'a [u8]]) -> usize {
        self.flush_pong();
        self.out.gather(dst)
    }

    /// The coalesced pong joins the output when the caller asks for bytes; it counts as a
    /// reply until written.
    fn flush_pong(&mut self) {
        if let Some((payload, len)) = self.pong.take() {
            self.queue_reply(&payload[..usize::from(len)]);
        }
    }

    /// Marks `n` bytes from [`poll_transmit`](Self::poll_transmit) as written.
    ///
    /// Writing again after the transport was full ([`write_blocked`](Self::write_blocked))
    /// shows the peer is reading, which counts as hearing from it: a peer busy reading a long
    /// transfer is not given up for silence. A write that takes only part of the output does
    /// not (a shell may write piece by piece with room to spare, and a peer that stopped
    /// reading, its kernel still acknowledging, would then never be pinged).
    #[inline(always)]
    pub fn consume_transmit(&mut self, n: usize) {
        let n = n.min(self.out.len());
        self.out.consume(n);
        self.note_written(n);
        if self.out.is_empty() {
            self.out.release_if_drained(self.limits.max_retained_buffer);
        }
    }

    /// `n` bytes reached the transport.
    #[inline(always)]
    fn note_written(&mut self, n: usize) {
        if n > 0 && self.write_stalled {
            self.write_stalled = false;
            self.timer.heard();
        }
        self.written += n as u64;
        if self.written >= self.replies_end {
            self.replies = 0;
        }
    }

    /// The transport took none of the output and will say when it has room (a write returned
    /// `WouldBlock`, or `Pending`): the peer is not reading. Its next write then counts as
    /// hearing from the peer ([`consume_transmit`](Self::consume_transmit)).
    pub fn write_blocked(&mut self) {
        self.write_stalled = true;
    }

    /// What the transport should do now, if anything. Each action is returned once, in the
    /// order [`Action::HalfClose`], then [`Action::Close`] or [`Action::Abort`]; an
    /// [`Action::Abort`] also follows [`Action::Close`] if the close timeout passes before
    /// [`transport_closed`](Self::transport_closed).
    #[must_use]
    #[inline(always)]
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.transport == Transport::Finished {
            return None;
        }
        let end = self.state.end()?;
        if end == End::Aborted {
            self.transport = Transport::Finished;
            self.out.clear();
            self.pong = None;
            return Some(Action::Abort);
        }
        if self.transport == Transport::Closing {
            return None;
        }
        let owed = matches!(
            self.state,
            State::Ending {
                reply: Reply::Owed(..),
                ..
            }
        );
        if !self.out.is_empty() || self.pong.is_some() || owed {
            return None;
        }
        if self.eof {
            self.transport = Transport::Closing;
            return Some(Action::Close);
        }
        // RFC 6455 §7.1.1: the server closes the TCP connection first. After a closing
        // handshake both close frames have passed and the client sends nothing more (§5.5.1),
        // so there is nothing left to read: the server closes at once rather than wait for the
        // client's EOF (which costs it a wake-up and a read per connection), and no unread
        // byte turns its FIN into a reset.
        let server_closes = end == End::Handshake && self.role == Role::Server;
        if server_closes && !self.stream_transport {
            self.transport = Transport::Closing;
            return Some(Action::Close);
        }
        // §7.1.7: failing closes the connection; the peer may still be sending, unaware, and
        // a close with bytes unread would reset the connection and could destroy our close
        // frame in flight: shut the write side down, and read to EOF. A stream transport
        // waits for the peer's end after a clean close too (see `with_stream_transport`).
        if (end == End::Failed || server_closes) && self.transport == Transport::Open {
            self.transport = Transport::HalfClosed;
            return Some(Action::HalfClose);
        }
        None
    }

    /// A write to the transport failed: nothing more can be sent. What is queued is dropped,
    /// and nothing more should be read ([`wants_read`](Self::wants_read) is false), but the
    /// frames already read are still decoded and delivered through
    /// [`poll_event`](Self::poll_event), bounded by
    /// [`Limits::max_queued_events`] as ever: a peer that sent its messages and its close
    /// and went away has all of them delivered, not only those decoded before the write
    /// failed. Then comes an [`Event::Closed`] (1006; the code of the peer's close frame if
    /// it was among them; the code of a protocol error found in them, with its `error`, though
    /// no close frame carries it; never clean; `aborted` is [`AbortReason::WriteFailed`]) and
    /// [`Action::Abort`]. After receiving had already ended, this is [`abort`](Self::abort).
    pub fn write_failed(&mut self) {
        self.transition(Input::WriteFailed);
    }

    fn transport_finished(&self) -> bool {
        self.transport == Transport::Finished
    }

    /// The shell has closed the transport after [`Action::Close`] (everything written and
    /// flushed, the write side shut down): the close timeout, which bounded that too, is
    /// over. Without [`Action::Close`] first, this does nothing.
    pub fn transport_closed(&mut self) {
        if self.transport == Transport::Closing {
            self.transport = Transport::Finished;
        }
    }
}
