//! The receive half of the state machine: bytes in, frames decoded in place, events out.

use bytes::{Bytes, BytesMut};

use super::state::{Input, State};
use super::{Connection, DataKind, Event, Message, Role, Utf8Bytes};
use crate::Parsed;
use crate::close::CloseFrame;
use crate::extension::ExtensionError;
use crate::frame::mask::apply_mask;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, OpCode, ProtocolError};
use crate::utf8::Utf8Validator;

use super::read_buffer::ReadBuffer;

/// The frame being read.
#[derive(Debug, Clone, Copy)]
pub(super) struct Frame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes not yet decoded.
    pub(super) remaining: u64,
    /// Payload bytes already decoded: the masking offset.
    offset: usize,
    /// Whether decoded payload bytes stay where they are in the read buffer until the frame
    /// ends (control frames, and data frames on the identity path), rather than being
    /// consumed piece by piece (an extension's frames).
    in_place: bool,
}

impl Frame {
    /// Decoded payload bytes held at the front of the read buffer.
    pub(super) fn kept(&self) -> usize {
        if self.in_place { self.offset } else { 0 }
    }
}

/// The data message being assembled.
#[derive(Debug, Clone, Copy)]
struct Assembly {
    kind: DataKind,
    /// Frames so far, bounded by `max_fragments`.
    frames: u32,
    /// The first frame's RSV bits: non-zero sends the payload through the extension stage.
    rsv: u8,
}

/// Decoding state, all of it bounded: the read buffer (raw bytes, and the current frame's
/// payload decoded in place, bounded by `max_frame_size`), the frame in progress, and the
/// message being assembled from fragments or produced by an extension (bounded by
/// `max_message_size`).
pub(super) struct Receiver {
    pub(super) buf: ReadBuffer,
    pub(super) frame: Option<Frame>,
    message: Option<Assembly>,
    /// A fragmented message's payload so far, or an extension's output. A single-frame
    /// message on the identity path never comes here.
    assembled: BytesMut,
    utf8: Utf8Validator,
}

impl Receiver {
    pub(super) fn new() -> Receiver {
        Receiver {
            buf: ReadBuffer::new(),
            frame: None,
            message: None,
            assembled: BytesMut::new(),
            utf8: Utf8Validator::new(),
        }
    }

    /// Drops any partial message and every byte not yet decoded: nothing more will be
    /// delivered. The read buffer's allocation stays, for
    /// [`read_blocked`](Connection::read_blocked) to hand on.
    pub(super) fn discard(&mut self) {
        self.message = None;
        self.frame = None;
        self.buf.clear();
        self.assembled = BytesMut::new();
        self.utf8 = Utf8Validator::new();
    }

    /// Frees the extension's output buffer while no message is in progress: an idle
    /// connection keeps no capacity for the next one.
    pub(super) fn release_assembled(&mut self) {
        if self.message.is_none() {
            self.assembled = BytesMut::new();
        }
    }

    /// Whether a message is half received through the extension stage: its decoder holds
    /// state (a position inside a compressed block, what the message produced so far) that
    /// cannot be rebuilt, so it must not be released until the message ends.
    pub(super) fn extension_message_in_progress(&self) -> bool {
        self.message.is_some_and(|message| message.rsv != 0)
    }

    /// Bytes in the read buffer not decoded yet.
    pub(super) fn undecoded(&self) -> usize {
        let kept = self.frame.map_or(0, |f| f.kept());
        self.buf.len().saturating_sub(kept)
    }
}

impl Connection {
    /// Feeds bytes read from the transport, split anywhere, and returns how many it took: a
    /// convenience that copies them into the read buffer and decodes them as
    /// [`receive_buffer`](Self::receive_buffer) does. A shell that can read into a buffer
    /// should use [`read_buffer`](Self::read_buffer) instead, and save the copy.
    ///
    /// It takes them all unless decoding has stopped with bytes left over because
    /// [`Limits::max_queued_events`](crate::Limits::max_queued_events) events wait: then it
    /// takes none, and the rest is fed again after polling them. Once receiving has ended (the
    /// peer's close, EOF, an abort, a failed write) bytes are taken and ignored (§5.5.1: nothing follows a
    /// close frame).
    ///
    /// Events go to [`poll_event`](Self::poll_event), answers (pongs, the close reply) to
    /// [`poll_transmit`](Self::poll_transmit). A protocol error fails the connection: its
    /// close frame is owed, an [`Event::Closed`] carries it, and this and every later call
    /// return it. Messages completed before the error in the same bytes are still delivered.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<usize, ProtocolError> {
        if let Some(error) = self.failure {
            return Err(error);
        }
        if data.is_empty() {
            return Ok(0);
        }
        if self.decoding_stalled() {
            return Ok(0);
        }
        self.timer.heard();
        if self.state.receiving() {
            self.rx.buf.extend_from_slice(data);
            self.decode().map_err(|e| self.fail_receive(e))?;
            // The copy filled the buffer exactly: nothing in it is worth keeping once drained.
            self.rx.buf.release_if_drained(0);
        }
        Ok(data.len())
    }

    /// Lends the read buffer's free space, for the shell to read the next bytes into (with
    /// `tokio_util::io::poll_read_buf`, for example) and give back with
    /// [`receive_buffer`](Self::receive_buffer). Its capacity is sized for what is awaited:
    /// between frames, 16 KiB, or the last data frame's size if that was larger (at most
    /// 64 KiB and a header), so a connection that carries large frames reads the next one
    /// whole; for a large frame its remaining payload, so the payload lands where the
    /// message will be handed out from, capped at 64 KiB or at what the frame has already
    /// sent, whichever is more (a peer that declares a large frame and sends little of it
    /// gets little room).
    ///
    /// Read only while [`wants_read`](Self::wants_read) holds.
    #[must_use = "give the buffer back with receive_buffer"]
    pub fn read_buffer(&mut self) -> BytesMut {
        self.read_buffer_with(&mut None)
    }

    /// [`read_buffer`](Self::read_buffer), taking `spare` (a buffer
    /// [`receive_buffer_with`](Self::receive_buffer_with) handed out) when a fresh allocation
    /// would be lent and it fits: a shell that keeps one spare per thread reads without
    /// allocating, while its idle connections still hold no buffer.
    #[must_use = "give the buffer back with receive_buffer_with"]
    #[inline(always)]
    pub fn read_buffer_with(&mut self, spare: &mut Option<BytesMut>) -> BytesMut {
        let hint = self.rx.buf.hint(self.rx.frame);
        self.rx.buf.lend(hint, spare)
    }

    /// Takes back a buffer lent by [`read_buffer`](Self::read_buffer) with the bytes read into
    /// it appended, and decodes them in place: a single-frame message comes out as a view of
    /// those bytes, unmasked and validated where they lie, without a copy.
    ///
    /// Give the buffer back empty when the read found nothing (it would block): with nothing
    /// left to decode, the connection then drops its read buffer, so an idle connection holds
    /// none; waiting on a partial frame, it keeps little more than the bytes received. Decoding stops while [`Limits::max_queued_events`](crate::Limits::max_queued_events)
    /// events wait, and resumes as [`poll_event`](Self::poll_event) drains them. Errors are as
    /// for [`receive_data`](Self::receive_data). Another buffer than the one lent is taken
    /// too, at the cost of a copy.
    pub fn receive_buffer(&mut self, filled: BytesMut) -> Result<(), ProtocolError> {
        self.receive_buffer_with(filled, &mut None)
    }

    /// [`receive_buffer`](Self::receive_buffer); a buffer given back empty that was a whole
    /// allocation goes into `spare` if it is free, for the next
    /// [`read_buffer_with`](Self::read_buffer_with) of this or another connection.
    #[inline(always)]
    pub fn receive_buffer_with(
        &mut self,
        filled: BytesMut,
        spare: &mut Option<BytesMut>,
    ) -> Result<(), ProtocolError> {
        if let Some(error) = self.failure {
            return Err(error);
        }
        if filled.is_empty() {
            self.rx.buf.unused(filled, spare);
            self.read_blocked(spare);
            return Ok(());
        }
        self.timer.heard();
        if self.state.receiving() {
            self.rx.buf.give_back(filled);
            self.decode().map_err(|e| self.fail_receive(e))?;
            self.rx
                .buf
                .release_if_drained(self.limits.max_retained_buffer);
        }
        Ok(())
    }

    /// The shell's read would block: the connection is idle until the next bytes, and keeps
    /// no buffer it can do without until then. A drained read buffer goes into `spare` if that
    /// is free (as a lent buffer given back empty does), else it is dropped; a partial frame's
    /// bytes are kept, in an allocation of their own size.
    ///
    /// [`receive_buffer_with`](Self::receive_buffer_with) does this for a buffer given back
    /// empty; a shell calls it itself after a read it lent no buffer for (a read it expected
    /// to block, into a small buffer of its own), and once it reads no more (the connection
    /// has ended: a closed connection keeps its drained buffer for this, so the next
    /// connection's reads take it rather than an allocation of their own).
    #[inline]
    pub fn read_blocked(&mut self, spare: &mut Option<BytesMut>) {
        self.events.release();
        self.rx.buf.park(spare);
        self.rx.buf.shrink_while_waiting();
    }

    /// Whether the read buffer holds nothing and no frame is in progress: every byte read so
    /// far is decoded, up to a frame's end. A read that then did not fill the room it was
    /// lent most likely emptied the transport.
    pub fn between_frames(&self) -> bool {
        self.rx.frame.is_none() && self.rx.buf.is_empty()
    }

    /// The transport reached end of file. Without a close frame first this is an abnormal
    /// closure, reported as 1006 (§7.1.5) and never sent. A partial message is dropped.
    ///
    /// Bytes taken before it are delivered first: if decoding stopped because too many events
    /// waited, the end of file takes effect once the rest is decoded, as the application
    /// polls (a peer's close frame among them ends the connection as a close, not 1006).
    pub fn receive_eof(&mut self) {
        if self.decoding_stalled() {
            self.reading_over = true;
            self.eof_deferred = true;
            return;
        }
        self.transition(Input::Eof);
    }

    /// Decoding stopped with bytes left because too many events wait.
    pub(super) fn decoding_stalled(&self) -> bool {
        // (At least one event, as the limit is at least one: asked first, as it is one
        // compare and usually false.)
        !self.events.is_empty()
            && self.events.len() >= self.limits.max_queued_events
            && self.rx.undecoded() > 0
    }

    /// Decodes what the read buffer holds after events were polled.
    pub(super) fn resume_decoding(&mut self) {
        if self.state.decoding() && self.rx.undecoded() > 0 {
            // An error is reported by the `Closed` event it queues, and by every later receive.
            if self.decode().map_err(|e| self.fail_receive(e)).is_ok() {
                self.rx
                    .buf
                    .release_if_drained(self.limits.max_retained_buffer);
            }
        }
        self.end_drain_if_done();
        if self.eof_deferred && !self.decoding_stalled() {
            self.eof_deferred = false;
            self.transition(Input::Eof);
        }
    }

    fn fail_receive(&mut self, error: ProtocolError) -> ProtocolError {
        self.transition(Input::PeerError(error));
        error
    }

    /// The one parser: decodes frames from the read buffer until it runs out of bytes, too
    /// many events wait, or receiving ends. A frame's header stays in the buffer until it is
    /// whole (at most 14 bytes), then is consumed; its payload is decoded where it lies.
    fn decode(&mut self) -> Result<(), ProtocolError> {
        while self.state.decoding() && self.events.len() < self.limits.max_queued_events {
            match self.rx.frame {
                None => match FrameHeader::decode(&self.rx.buf)? {
                    Parsed::Complete(header, len) => {
                        self.rx.buf.advance(len);
                        self.start_frame(header)?;
                    }
                    Parsed::Partial => return Ok(()),
                },
                Some(frame) => {
                    let available = self.rx.undecoded();
                    if available == 0 {
                        return Ok(());
                    }
                    let n =
                        usize::try_from(frame.remaining).map_or(available, |r| r.min(available));
                    self.frame_payload(frame, n)?;
                }
            }
        }
        Ok(())
    }

    /// Checks a new frame's header against the role, the message in progress and the limits,
    /// all before any of its payload is read.
    fn start_frame(&mut self, header: FrameHeader) -> Result<(), ProtocolError> {
        // RFC 6455 §5.2: RSV bits MUST be 0 unless a negotiated extension defines them, and
        // an extension's bits mark a message by its first frame (RFC 7692 §6.1).
        let claimed = self.extension.as_ref().map_or(0, |e| e.rsv_bits());
        let first = matches!(header.opcode, OpCode::TEXT | OpCode::BINARY);
        if header.rsv & !claimed != 0 || (header.rsv != 0 && !first) {
            return Err(ProtocolError::ReservedBitsSet(header.rsv));
        }
        // RFC 6455 §5.1: a server MUST close on an unmasked frame, a client on a masked one.
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedClientFrame),
            (Role::Client, true) => return Err(ProtocolError::MaskedServerFrame),
            _ => {}
        }
        let limits = &self.limits;
        if header.payload_len > limits.max_frame_size {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                max: limits.max_frame_size,
            });
        }
        let mut in_place = true;
        if !header.opcode.is_control() {
            match (header.opcode, self.rx.message) {
                // RFC 6455 §5.4: a continuation needs a message to continue...
                (OpCode::CONTINUATION, None) => return Err(ProtocolError::UnexpectedContinuation),
                (OpCode::CONTINUATION, Some(mut message)) => {
                    if message.frames >= limits.max_fragments {
                        return Err(ProtocolError::TooManyFragments {
                            max: limits.max_fragments,
                        });
                    }
                    message.frames += 1;
                    self.rx.message = Some(message);
                }
                // ...and a new message must wait for the open one's final fragment.
                (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
                (opcode, None) => {
                    let kind = if opcode == OpCode::TEXT {
                        DataKind::Text
                    } else {
                        DataKind::Binary
                    };
                    self.rx.message = Some(Assembly {
                        kind,
                        frames: 1,
                        rsv: header.rsv,
                    });
                }
            }
            // The identity path's message is its payload, so its size is known from the
            // header; an extension's is checked as the stage produces it.
            let assembled = self.rx.assembled.len() as u64;
            let identity = self.rx.message.is_some_and(|m| m.rsv == 0);
            if identity && assembled.saturating_add(header.payload_len) > limits.max_message_size {
                return Err(ProtocolError::MessageTooLarge {
                    max: limits.max_message_size,
                });
            }
            in_place = identity;
            self.rx.buf.note_data_frame(header.payload_len);
        }
        let frame = Frame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            remaining: header.payload_len,
            offset: 0,
            in_place,
        };
        // A frame whose payload is all here (an empty one, or the usual small message) is
        // decoded now rather than on the decode loop's next turn, which would take the same
        // step with the same bytes.
        match usize::try_from(header.payload_len) {
            Ok(n) if n <= self.rx.buf.len() => self.frame_payload(frame, n),
            _ => {
                self.rx.frame = Some(frame);
                Ok(())
            }
        }
    }

    /// Decodes the next `n` bytes of the current frame's payload where they lie: unmasked in
    /// place, and validated at once if they are text (or, for an extension's message, handed
    /// to the extension stage and consumed).
    ///
    /// Inlined into both callers: for the usual small message the call, its arguments and
    /// its saved registers cost about 20 instructions (callgrind, 16 B echo).
    #[inline(always)]
    fn frame_payload(&mut self, mut frame: Frame, n: usize) -> Result<(), ProtocolError> {
        let kept = frame.kept();
        let piece = &mut self.rx.buf[kept..kept + n];
        // RFC 6455 §5.3: the payload is unmasked with the key, from its running offset.
        if let Some(key) = frame.mask {
            apply_mask(piece, key, frame.offset);
        }
        if let Some(message) = self.rx.message
            && !frame.opcode.is_control()
        {
            if message.rsv == 0 {
                // RFC 6455 §8.1: text is checked as it lands, failing fast mid-frame.
                if message.kind == DataKind::Text && self.rx.utf8.feed(piece).is_err() {
                    return Err(ProtocolError::InvalidUtf8);
                }
            } else {
                let start = self.rx.assembled.len();
                self.decode_extension(message.rsv, n, false)?;
                self.rx.buf.advance(n);
                self.check_utf8(message.kind, start)?;
            }
        }
        frame.offset += n;
        frame.remaining -= n as u64;
        if frame.remaining == 0 {
            self.rx.frame = None;
            self.end_frame(frame)
        } else {
            self.rx.frame = Some(frame);
            Ok(())
        }
    }

    /// A frame's payload is complete; an in-place payload is at the front of the read buffer.
    ///
    /// The usual message, one unfragmented frame on the identity path, is handed out here,
    /// inlined into the decoder; the rest is [`end_other_frame`](Self::end_other_frame)'s,
    /// out of line (the call, its arguments and its saved registers cost about 30
    /// instructions per 16 B echo, callgrind).
    #[inline(always)]
    fn end_frame(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        match self.rx.message {
            Some(message)
                if !frame.opcode.is_control()
                    && frame.fin
                    && message.frames == 1
                    && message.rsv == 0 =>
            {
                // The message is its one frame's payload, already unmasked and validated in
                // place, handed out as a view of the read buffer without a copy.
                let payload = self.rx.buf.split_to(frame.kept()).freeze();
                self.deliver(message.kind, payload)
            }
            _ => self.end_other_frame(frame),
        }
    }

    /// [`end_frame`](Self::end_frame) for a control frame, a fragment, or an extension's
    /// frame.
    #[inline(never)]
    fn end_other_frame(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        let len = frame.kept();
        if frame.opcode.is_control() {
            // Control payloads (at most 125 bytes, §5.5) are copied into a fixed array and
            // leave the read buffer at once.
            let mut control = [0u8; MAX_CONTROL_PAYLOAD as usize];
            let payload = &mut control[..len];
            payload.copy_from_slice(&self.rx.buf[..len]);
            self.rx.buf.advance(len);
            return self.end_control(frame.opcode, payload);
        }
        let Some(message) = self.rx.message else {
            return Ok(());
        };
        let payload = if message.rsv != 0 {
            if !frame.fin {
                return Ok(());
            }
            let start = self.rx.assembled.len();
            self.decode_extension(message.rsv, 0, true)?;
            self.check_utf8(message.kind, start)?;
            self.take_assembled()
        } else {
            // A fragmented message is assembled by copying each fragment's payload.
            self.rx.assembled.extend_from_slice(&self.rx.buf[..len]);
            self.rx.buf.advance(len);
            if !frame.fin {
                return Ok(());
            }
            self.take_assembled()
        };
        self.deliver(message.kind, payload)
    }

    /// A whole data message: it ends the one being assembled, and is queued for the
    /// application.
    #[inline(always)]
    fn deliver(&mut self, kind: DataKind, payload: Bytes) -> Result<(), ProtocolError> {
        self.rx.message = None;
        let message = match kind {
            DataKind::Binary => Message::Binary(payload),
            DataKind::Text => {
                // A character cut off by the end of the message is invalid.
                self.rx
                    .utf8
                    .finish()
                    .map_err(|_| ProtocolError::InvalidUtf8)?;
                Message::Text(Utf8Bytes::from_validated(payload))
            }
        };
        self.events.push_back(Event::Message(message));
        Ok(())
    }

    fn end_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), ProtocolError> {
        match opcode {
            OpCode::PING => {
                // Not once our close frame is queued, nor while draining.
                if self.state == State::Open {
                    // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
                    self.queue_pong(payload);
                }
                self.events
                    .push_back(Event::Ping(Bytes::copy_from_slice(payload)));
            }
            OpCode::PONG => {
                self.events
                    .push_back(Event::Pong(Bytes::copy_from_slice(payload)));
            }
            _ => {
                let close = CloseFrame::parse(payload)?;
                self.transition(Input::PeerClose(close.code, close.reason));
            }
        }
        Ok(())
    }

    /// The assembled message, leaving an empty buffer that keeps its capacity unless it grew
    /// past [`Limits::max_retained_buffer`](crate::Limits::max_retained_buffer).
    fn take_assembled(&mut self) -> Bytes {
        let payload = self.rx.assembled.split().freeze();
        if payload.len() + self.rx.assembled.capacity() > self.limits.max_retained_buffer {
            // The rest of a large allocation would stay pinned by the empty buffer after the
            // message is dropped: let the next message start afresh.
            self.rx.assembled = BytesMut::new();
        }
        payload
    }

    /// The extension stage (§9): decodes the next `n` raw payload bytes, unmasked at the
    /// front of the read buffer, into the assembled message, bounded by `max_message_size`
    /// as it goes, so what it produces is what the limit applies to.
    fn decode_extension(&mut self, rsv: u8, n: usize, fin: bool) -> Result<(), ProtocolError> {
        let max = self.limits.max_message_size;
        let limit = usize::try_from(max).unwrap_or(usize::MAX);
        let Some(extension) = self.extension.as_mut() else {
            // Unreachable: RSV bits are accepted only when an extension claims them.
            return Err(ProtocolError::ReservedBitsSet(rsv));
        };
        let raw = &self.rx.buf[..n];
        let decoded = extension.decode(rsv, raw, fin, &mut self.rx.assembled, limit);
        self.timer.extension_used();
        match decoded {
            // RFC 6455 §7.4.1: 1009 for a message too big to process, whoever noticed.
            Err(ExtensionError::TooLarge) => Err(ProtocolError::MessageTooLarge { max }),
            Err(ExtensionError::Failed) => Err(ProtocolError::ExtensionFailed),
            Err(_) => Err(ProtocolError::InvalidExtensionData),
            Ok(()) if self.rx.assembled.len() > limit => {
                Err(ProtocolError::MessageTooLarge { max })
            }
            Ok(()) => Ok(()),
        }
    }

    /// RFC 6455 §8.1: invalid UTF-8 fails the connection. An extension's output is checked
    /// piece by piece as it is produced.
    fn check_utf8(&mut self, kind: DataKind, start: usize) -> Result<(), ProtocolError> {
        if kind == DataKind::Text && self.rx.utf8.feed(&self.rx.assembled[start..]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }
}
