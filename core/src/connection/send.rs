//! The application's commands: messages, control frames, closing, failing, aborting; and
//! how frames are queued for the transport.

use bytes::{Bytes, BytesMut};
use core::fmt;

use super::state::{Input, State};
use super::{AbortReason, Connection, DataKind, Message, Sending};
use crate::close::{CloseCode, CloseFrame, truncate_reason};
use crate::frame::mask::apply_mask;
use crate::frame::{FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, OpCode};
use crate::utf8::Utf8Validator;

/// An application command the connection refused. The connection is unchanged, except after
/// [`SendError::MaskUnavailable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// A close frame was already sent, the application has seen the close, or the connection
    /// was aborted: no more messages may be sent (§5.5.1).
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
    /// The mask source had no key: nothing was sent and the connection was aborted, since not
    /// even a close frame can be masked (§10.3: predictable keys must not be used).
    MaskUnavailable,
    /// The extension failed to encode the message (not the peer's fault): nothing was sent,
    /// and the connection was failed with 1011.
    ExtensionFailed,
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
            SendError::MaskUnavailable => {
                f.write_str("no masking key available; the connection was aborted")
            }
            SendError::ExtensionFailed => {
                f.write_str("the extension could not encode the message; the connection failed")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SendError {}

/// The mask source failed; the frame was not queued.
#[derive(Debug)]
pub(super) struct NoMask;

impl Connection {
    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), SendError> {
        self.send_copied(OpCode::TEXT, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), SendError> {
        self.send_copied(OpCode::BINARY, data)
    }

    /// Sends a message taken by value. A server's payload of
    /// [`SEND_BY_REFERENCE_MIN`](Self::SEND_BY_REFERENCE_MIN) bytes or more goes out as it is,
    /// queued by reference behind its frame header, never copied (an echo forwards what it
    /// received); a client masks, and an extension encodes, so they copy.
    #[inline(always)]
    pub fn send_message(&mut self, message: Message) -> Result<(), SendError> {
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::TEXT, text.into_bytes()),
            Message::Binary(data) => (OpCode::BINARY, data),
        };
        let by_reference = self.masks.is_none()
            && self.extension.is_none()
            && payload.len() >= Self::SEND_BY_REFERENCE_MIN;
        if !by_reference {
            return self.send_copied(opcode, &payload);
        }
        self.check_whole_message()?;
        let mut head = [0u8; MAX_HEADER_LEN];
        let Ok(head_len) = FrameHeader::new(opcode, payload.len() as u64).encode(&mut head) else {
            // Unencodable only past 2^63 bytes, which no `Bytes` holds: the copy path refuses
            // it the same way.
            return self.send_copied(opcode, &payload);
        };
        self.out.push_by_reference(&head[..head_len], payload);
        Ok(())
    }

    /// [`send_message`](Self::send_message), handing the frame to `write` at once when
    /// nothing waits ahead of it in the output: `write` (the shell's one write to the
    /// transport) gets the frame as two slices, to be written in that order, and returns how
    /// many of their bytes the transport took. A payload of at most
    /// [`SEND_NOW_MAX`](Self::SEND_NOW_MAX) bytes comes encoded on the stack in the first
    /// slice, the second empty; a server's longer payload comes as it is in the second, behind
    /// its header in the first (a vectored write; a client masks, so its longer messages go
    /// the [`send_message`](Self::send_message) way). Whatever the transport did not take is
    /// queued, in order, as if it had gone through [`send_message`](Self::send_message);
    /// `write` is called at most once, and a shell whose transport writes no two slices at
    /// once may return 0 for a non-empty second one, to have the frame queued whole.
    ///
    /// The usual send (an echo, a chat line) then skips the output queue: no bytes copied
    /// into it, none consumed from it, and no drive of it by the shell.
    #[inline(always)]
    pub fn send_message_with(
        &mut self,
        message: Message,
        write: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<(), SendError> {
        let (opcode, payload) = match &message {
            Message::Text(text) => (OpCode::TEXT, text.as_bytes()),
            Message::Binary(data) => (OpCode::BINARY, &data[..]),
        };
        if payload.len() > Self::SEND_NOW_MAX || !self.can_write_now() {
            return self.send_long_or_queue(message, write);
        }
        let mut frame = [0u8; Self::SEND_NOW_MAX + MAX_HEADER_LEN];
        let Some(len) = self.encode_frame_into(opcode, payload, &mut frame)? else {
            // Not reached (no RSV bits, a length below 126); were it, the queue path would
            // treat the frame as it treats any.
            return self.send_frame(opcode, true, 0, payload);
        };
        let n = write(&frame[..len], &[]).min(len);
        self.note_written(n);
        if n < len {
            self.out.tail().extend_from_slice(&frame[n..len]);
        }
        Ok(())
    }

    /// [`send_message_with`](Self::send_message_with) for a payload past
    /// [`SEND_NOW_MAX`](Self::SEND_NOW_MAX) bytes, or a message that may not skip the queue: a
    /// server's long payload with nothing ahead of it goes to `write` as it is, behind its
    /// header, never copied; anything else (a client masks) goes the
    /// [`send_message`](Self::send_message) way.
    ///
    /// Inlined, as the caller is: out of line, the caller's `write` and what it captures
    /// would live in memory for it, which cost the 16 B echo about 10 instructions
    /// (callgrind).
    #[inline(always)]
    fn send_long_or_queue(
        &mut self,
        message: Message,
        write: impl FnOnce(&[u8], &[u8]) -> usize,
    ) -> Result<(), SendError> {
        if self.masks.is_some() || message.len() <= Self::SEND_NOW_MAX || !self.can_write_now() {
            return self.send_message(message);
        }
        let (opcode, payload) = match message {
            Message::Text(text) => (OpCode::TEXT, text.into_bytes()),
            Message::Binary(data) => (OpCode::BINARY, data),
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let Ok(head_len) = FrameHeader::new(opcode, payload.len() as u64).encode(&mut head) else {
            // Unencodable only past 2^63 bytes, which no `Bytes` holds: the copy path refuses
            // it the same way.
            return self.send_copied(opcode, &payload);
        };
        let len = head_len + payload.len();
        let n = write(&head[..head_len], &payload).min(len);
        self.note_written(n);
        if n < head_len {
            self.queue_rest(&head[n..head_len], payload);
        } else if n < len {
            self.queue_rest(&[], payload.slice(n - head_len..));
        }
        Ok(())
    }

    /// Whether a whole message may skip the output queue: only while no closing has begun
    /// (no transport action can be due) and nothing is queued, outside a fragmented message,
    /// and on the identity path; anything else goes the whole
    /// [`send_message`](Self::send_message) way, checks and errors included.
    #[inline(always)]
    fn can_write_now(&self) -> bool {
        self.state == State::Open
            && !self.wants_write()
            && self.sending.is_none()
            && self.extension.is_none()
    }

    /// Queues a frame's header `head` and `payload` (unmasked, past any extension) as
    /// [`send_message`](Self::send_message) does: by reference from
    /// [`SEND_BY_REFERENCE_MIN`](Self::SEND_BY_REFERENCE_MIN) bytes, below it copied.
    fn queue_rest(&mut self, head: &[u8], payload: Bytes) {
        if payload.len() >= Self::SEND_BY_REFERENCE_MIN {
            self.out.push_by_reference(head, payload);
        } else {
            let tail = self.out.tail();
            tail.extend_from_slice(head);
            tail.extend_from_slice(&payload);
        }
    }

    /// The largest payload [`send_message_with`](Self::send_message_with) encodes on the
    /// stack: with its header, 128 bytes, which the compiler zeroes with a few stores. (At
    /// 256 it calls `memset`, which cost the 16 B echo 35 more instructions, callgrind.)
    pub const SEND_NOW_MAX: usize = 114;

    /// Encodes a whole unfragmented frame into `frame` and returns its length; `None` if its
    /// header does not encode.
    #[inline(always)]
    fn encode_frame_into(
        &mut self,
        opcode: OpCode,
        payload: &[u8],
        frame: &mut [u8; Self::SEND_NOW_MAX + MAX_HEADER_LEN],
    ) -> Result<Option<usize>, SendError> {
        let mask = self.next_mask().map_err(|NoMask| self.mask_unavailable())?;
        let header = FrameHeader {
            mask,
            ..FrameHeader::new(opcode, payload.len() as u64)
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let Ok(head_len) = header.encode(&mut head) else {
            return Ok(None);
        };
        frame[..head_len].copy_from_slice(&head[..head_len]);
        let body = &mut frame[head_len..head_len + payload.len()];
        body.copy_from_slice(payload);
        // RFC 6455 §5.3: a client masks every frame, with a fresh key.
        if let Some(key) = mask {
            apply_mask(body, key, 0);
        }
        Ok(Some(head_len + payload.len()))
    }

    /// Payloads at least this long are sent by reference by
    /// [`send_message`](Self::send_message): below it, a copy costs less than a piece of its
    /// own in the output (one more slice in each vectored write).
    pub const SEND_BY_REFERENCE_MIN: usize = 4096;

    /// Sends a message as it is, past the extension stage: for a payload that is already
    /// compressed (an image, a zip), which permessage-deflate would only spend CPU on. Such a
    /// message never enters the compression window (RFC 7692 §6). Without an extension it is
    /// [`send_text`](Self::send_text) or [`send_binary`](Self::send_binary).
    pub fn send_unencoded(&mut self, kind: DataKind, data: &[u8]) -> Result<(), SendError> {
        if kind == DataKind::Text && core::str::from_utf8(data).is_err() {
            return Err(SendError::InvalidUtf8);
        }
        self.check_whole_message()?;
        self.send_frame(data_opcode(kind), true, 0, data)
    }

    /// A whole message, copied into the output through the extension stage if one was
    /// negotiated: it may encode the payload and mark the frame with its RSV bits (§9).
    ///
    /// Inlined into its callers, the extension's path out of line: the call, its arguments
    /// and its saved registers cost about 25 instructions per 16 B echo (callgrind).
    #[inline(always)]
    fn send_copied(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        self.check_whole_message()?;
        if self.extension.is_none() {
            return self.send_frame(opcode, true, 0, payload);
        }
        self.send_through_extension(opcode, payload)
    }

    /// [`send_copied`](Self::send_copied) with an extension.
    #[inline(never)]
    fn send_through_extension(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), SendError> {
        let Some(extension) = self.extension.as_mut() else {
            return self.send_frame(opcode, true, 0, payload);
        };
        self.timer.extension_used();
        let mut encoded = core::mem::take(&mut self.encoded);
        let result = extension.encode(payload, &mut encoded);
        let rsv_bits = extension.rsv_bits();
        let sent = match result {
            Ok(0) => self.send_frame(opcode, true, 0, payload),
            Ok(rsv) => self.send_frame(opcode, true, rsv & rsv_bits, &encoded),
            Err(_) => Err(self.extension_failed()),
        };
        self.keep_encoded(encoded);
        sent
    }

    /// Keeps the extension's output buffer for the next message, emptied, unless it grew
    /// past [`Limits::max_retained_buffer`](crate::Limits::max_retained_buffer).
    fn keep_encoded(&mut self, mut encoded: BytesMut) {
        encoded.clear();
        if encoded.capacity() <= self.limits.max_retained_buffer {
            self.encoded = encoded;
        }
    }

    /// The extension failed: fail the connection with 1011 (RFC 6455 §7.4.1).
    fn extension_failed(&mut self) -> SendError {
        self.transition(Input::Fail(CloseCode::INTERNAL_ERROR, "extension failed"));
        SendError::ExtensionFailed
    }

    /// Sends one fragment of a message (§5.4); `fin` ends the message. The first fragment
    /// starts the message with `kind`; later ones must name the same kind. Text fragments
    /// must together be UTF-8, which is checked as they go. Control frames may be sent between
    /// fragments. A negotiated extension may encode the message piece by piece
    /// ([`Extension::encode_fragment`](crate::extension::Extension::encode_fragment)).
    pub fn send_fragment(
        &mut self,
        kind: DataKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        let (opcode, mut sending) = match self.sending.take() {
            None => (
                data_opcode(kind),
                Sending {
                    kind,
                    utf8: Utf8Validator::new(),
                    encoded: false,
                },
            ),
            Some(sending) if sending.kind == kind => (OpCode::CONTINUATION, sending),
            Some(other) => {
                self.sending = Some(other);
                return Err(SendError::FragmentKindMismatch);
            }
        };
        if kind == DataKind::Text {
            let utf8 = &mut sending.utf8;
            let checked = utf8
                .feed(data)
                .and_then(|()| if fin { utf8.finish() } else { Ok(()) });
            if checked.is_err() {
                // Refused: the message stays open as it was.
                if opcode == OpCode::CONTINUATION {
                    self.sending = Some(sending);
                }
                return Err(SendError::InvalidUtf8);
            }
        }
        let first = opcode != OpCode::CONTINUATION;
        match self.extension.as_mut() {
            Some(extension) if first || sending.encoded => {
                self.timer.extension_used();
                let mut encoded = core::mem::take(&mut self.encoded);
                let result = extension.encode_fragment(data, first, fin, &mut encoded);
                let rsv_bits = extension.rsv_bits();
                let sent = match result {
                    // The first piece's bits decide for the whole message (§5.2): a later
                    // piece of an encoded message goes out encoded whatever it returns.
                    Ok(0) if first => self.send_frame(opcode, fin, 0, data),
                    Ok(rsv) => {
                        sending.encoded = true;
                        // §5.2 / RFC 7692 §6.1: the bits mark the message on its first frame.
                        let rsv = if first { rsv & rsv_bits } else { 0 };
                        self.send_frame(opcode, fin, rsv, &encoded)
                    }
                    Err(_) => Err(self.extension_failed()),
                };
                self.keep_encoded(encoded);
                sent?;
            }
            _ => self.send_frame(opcode, fin, 0, data)?,
        }
        if !fin {
            self.sending = Some(sending);
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
    /// queued, and keeps delivering the peer's messages until its close frame arrives. `code`
    /// must be sendable, or [`CloseCode::NO_STATUS`] for an empty close frame; `reason` is cut
    /// to 123 bytes on a character boundary.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_close(code)?;
        self.transition(Input::Close(code, reason));
        self.check_not_aborted()
    }

    /// Fails the connection (§7.1.7), for a reason of the application's (a policy violation,
    /// an internal error): queues a close frame with `code`, delivers nothing more after the
    /// events already queued (an [`Event::Closed`](super::Event::Closed) carrying `code`
    /// follows them), and closes the transport once the close frame is written, without
    /// waiting for the peer's.
    pub fn fail(&mut self, code: CloseCode, reason: &str) -> Result<(), SendError> {
        self.check_close(code)?;
        self.transition(Input::Fail(code, reason));
        self.check_not_aborted()
    }

    /// Gives up now: the transport failed, or the application will not wait. Nothing more is
    /// sent or delivered (an [`Event::Closed`](super::Event::Closed) with code 1006 follows the
    /// events already queued, unless the connection had already ended), and
    /// [`Action::Abort`](super::Action::Abort) follows.
    pub fn abort(&mut self) {
        self.transition(Input::Abort(AbortReason::Requested));
    }

    fn check_close(&self, code: CloseCode) -> Result<(), SendError> {
        if !self.is_open() {
            return Err(SendError::Closed);
        }
        if !code.is_sendable() && code != CloseCode::NO_STATUS {
            return Err(SendError::InvalidCloseCode(code));
        }
        Ok(())
    }

    fn check_not_aborted(&self) -> Result<(), SendError> {
        if self.state.end() == Some(super::End::Aborted) {
            return Err(SendError::MaskUnavailable);
        }
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
        self.send_frame(opcode, true, 0, payload)
    }

    /// Queues an application frame; without a mask key, aborts (§10.3, fail closed).
    fn send_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
    ) -> Result<(), SendError> {
        self.encode_frame(opcode, fin, rsv, payload)
            .map_err(|NoMask| self.mask_unavailable())
    }

    /// No mask key for an application frame: the send is refused and the connection aborted
    /// (§10.3, fail closed).
    fn mask_unavailable(&mut self) -> SendError {
        self.transition(Input::Abort(AbortReason::MaskUnavailable));
        SendError::MaskUnavailable
    }

    /// The next frame's mask key: a fresh one on the client side (§5.3), none on the server's.
    #[inline(always)]
    fn next_mask(&mut self) -> Result<Option<[u8; 4]>, NoMask> {
        match self.masks.as_mut() {
            None => Ok(None),
            Some(masks) => masks.next_mask().map(Some).ok_or(NoMask),
        }
    }

    /// Answers a ping (§5.5.2): straight into the output while the replies not yet written
    /// are within `write_buffer_size`, else into the single coalescing slot
    /// (replacing an older, now obsolete pong, which keeps pongs in order).
    pub(super) fn queue_pong(&mut self, payload: &[u8]) {
        if self.pong.is_none() && self.replies <= self.limits.write_buffer_size {
            self.queue_reply(payload);
        } else {
            let mut slot = [0u8; 125];
            slot[..payload.len()].copy_from_slice(payload);
            self.pong = Some((slot, payload.len() as u8));
        }
    }

    /// Queues a pong counted as an automatic reply.
    pub(super) fn queue_reply(&mut self, payload: &[u8]) {
        let before = self.out.len();
        if self.queue_frame(OpCode::PONG, true, payload).is_err() {
            return self.transition(Input::Abort(AbortReason::MaskUnavailable));
        }
        self.replies += self.out.len() - before;
        self.replies_end = self.written + self.out.len() as u64;
    }

    /// Queues our close frame, the owed pong first. False if it could not be masked.
    pub(super) fn queue_close(&mut self, code: CloseCode, reason: &str) -> bool {
        if let Some((payload, len)) = self.pong.take()
            && self
                .queue_frame(OpCode::PONG, true, &payload[..usize::from(len)])
                .is_err()
        {
            return false;
        }
        let mut payload = [0u8; 125];
        let len = CloseFrame {
            code,
            reason: truncate_reason(reason),
        }
        .encode(&mut payload);
        self.queue_frame(OpCode::CLOSE, true, &payload[..len])
            .is_ok()
    }

    /// Queues one frame the connection sends by itself (pings, pongs, close frames).
    pub(super) fn queue_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        payload: &[u8],
    ) -> Result<(), NoMask> {
        self.encode_frame(opcode, fin, 0, payload)
    }

    /// Encodes one frame into the output, masked with a fresh key on the client side.
    fn encode_frame(
        &mut self,
        opcode: OpCode,
        fin: bool,
        rsv: u8,
        payload: &[u8],
    ) -> Result<(), NoMask> {
        let mask = self.next_mask()?;
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: 0,
        };
        let out = self.out.tail();
        out.reserve(MAX_HEADER_LEN + payload.len());
        // A slice is at most isize::MAX bytes and `rsv` has three bits at most (the
        // extension's, masked): the frame always encodes.
        let written = header.write_frame(payload, out);
        debug_assert!(written.is_ok());
        Ok(())
    }
}

fn data_opcode(kind: DataKind) -> OpCode {
    match kind {
        DataKind::Text => OpCode::TEXT,
        DataKind::Binary => OpCode::BINARY,
    }
}
