//! The receive half of the state machine: frames in, events out.

use bytes::{Bytes, BytesMut};

use super::state::Input;
use super::{Connection, DataKind, Event, Message, Role, Utf8Bytes};
use crate::Parsed;
use crate::close::CloseFrame;
use crate::extension::ExtensionError;
use crate::frame::mask::apply_mask;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode, ProtocolError};
use crate::utf8::Utf8Validator;

/// The frame being read.
#[derive(Debug, Clone, Copy)]
struct Frame {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    /// Payload bytes still to come.
    remaining: u64,
    /// Payload bytes already read: the masking offset.
    offset: usize,
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

/// Decoding state, all of it bounded: a partial header, the frame in progress, the message
/// being assembled (bounded by `max_message_size`), a control payload (125 bytes), and, for
/// an extension's messages only, the current piece of raw payload (one `receive_data` input
/// at most).
pub(super) struct Receiver {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<Frame>,
    message: Option<Assembly>,
    buf: BytesMut,
    /// An extension message's raw payload piece, unmasked here before the stage decodes it.
    raw: BytesMut,
    utf8: Utf8Validator,
    control: [u8; 125],
    control_len: usize,
}

impl Receiver {
    pub(super) fn new() -> Receiver {
        Receiver {
            header: [0; MAX_HEADER_LEN],
            header_len: 0,
            frame: None,
            message: None,
            buf: BytesMut::new(),
            raw: BytesMut::new(),
            utf8: Utf8Validator::new(),
            control: [0; 125],
            control_len: 0,
        }
    }

    /// Drops any partial message: it will never be delivered.
    pub(super) fn discard(&mut self) {
        self.message = None;
        self.frame = None;
        self.buf = BytesMut::new();
        self.raw = BytesMut::new();
        self.utf8 = Utf8Validator::new();
    }

    /// Takes header bytes from `data`: the header and the bytes of `data` it used, or `None`
    /// when all of `data` went into the partial header.
    fn read_header(&mut self, data: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        if self.header_len == 0 {
            return match FrameHeader::decode(data)? {
                Parsed::Complete(header, len) => Ok(Some((header, len))),
                Parsed::Partial => {
                    // Partial means shorter than the header, so it fits.
                    self.header[..data.len()].copy_from_slice(data);
                    self.header_len = data.len();
                    Ok(None)
                }
            };
        }
        let have = self.header_len;
        let take = (MAX_HEADER_LEN - have).min(data.len());
        self.header[have..have + take].copy_from_slice(&data[..take]);
        match FrameHeader::decode(&self.header[..have + take])? {
            Parsed::Complete(header, len) => {
                self.header_len = 0;
                Ok(Some((header, len - have)))
            }
            Parsed::Partial => {
                self.header_len = have + take;
                Ok(None)
            }
        }
    }
}

impl Connection {
    /// Feeds bytes read from the transport, split anywhere, and returns how many it took.
    ///
    /// It takes them all unless [`Limits::max_queued_events`](crate::Limits::max_queued_events)
    /// events wait to be polled: then it stops, and the rest is fed again after polling. Once
    /// receiving has ended (the peer's close, EOF, an abort) bytes are taken and ignored
    /// (§5.5.1: nothing follows a close frame).
    ///
    /// Events go to [`poll_event`](Self::poll_event), answers (pongs, the close reply) to
    /// [`poll_transmit`](Self::poll_transmit). A protocol error fails the connection: its
    /// close frame is owed, an [`Event::Closed`] carries it, and this and every later call
    /// return it. Messages completed before the error in the same bytes are still delivered.
    pub fn receive_data(&mut self, data: &[u8]) -> Result<usize, ProtocolError> {
        if let Some(error) = self.failure {
            return Err(error);
        }
        if !data.is_empty() {
            self.timer.heard();
        }
        let mut rest = data;
        while !rest.is_empty() && self.state.receiving() {
            if self.events.len() >= self.limits.max_queued_events {
                return Ok(data.len() - rest.len());
            }
            let used = match self.rx.frame {
                None => match self.rx.read_header(rest) {
                    Ok(Some((header, used))) => {
                        self.start_frame(header).map_err(|e| self.fail_receive(e))?;
                        used
                    }
                    Ok(None) => rest.len(),
                    Err(e) => return Err(self.fail_receive(e)),
                },
                Some(frame) => {
                    let n = rest
                        .len()
                        .min(usize::try_from(frame.remaining).unwrap_or(usize::MAX));
                    self.frame_payload(frame, &rest[..n])
                        .map_err(|e| self.fail_receive(e))?;
                    n
                }
            };
            rest = &rest[used..];
        }
        Ok(data.len())
    }

    /// The transport reached end of file. Without a close frame first this is an abnormal
    /// closure, reported as 1006 (§7.1.5) and never sent. A partial message is dropped.
    pub fn receive_eof(&mut self) {
        self.transition(Input::Eof);
    }

    fn fail_receive(&mut self, error: ProtocolError) -> ProtocolError {
        self.transition(Input::PeerError(error));
        error
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
            let buffered = self.rx.buf.len() as u64;
            let identity = self.rx.message.is_some_and(|m| m.rsv == 0);
            if identity && buffered.saturating_add(header.payload_len) > limits.max_message_size {
                return Err(ProtocolError::MessageTooLarge {
                    max: limits.max_message_size,
                });
            }
        }
        let frame = Frame {
            opcode: header.opcode,
            fin: header.fin,
            mask: header.mask,
            remaining: header.payload_len,
            offset: 0,
        };
        self.rx.control_len = 0;
        if header.payload_len == 0 {
            self.end_frame(frame)
        } else {
            self.rx.frame = Some(frame);
            Ok(())
        }
    }

    /// Takes the next piece of the current frame's payload: unmasked as it is copied, and
    /// validated at once if it is text.
    fn frame_payload(&mut self, mut frame: Frame, chunk: &[u8]) -> Result<(), ProtocolError> {
        let rx = &mut self.rx;
        if frame.opcode.is_control() {
            let dst = &mut rx.control[rx.control_len..rx.control_len + chunk.len()];
            dst.copy_from_slice(chunk);
            if let Some(key) = frame.mask {
                apply_mask(dst, key, frame.offset);
            }
            rx.control_len += chunk.len();
        } else if let Some(message) = rx.message {
            let start = rx.buf.len();
            if message.rsv == 0 {
                // The identity path: unmasked straight into the message buffer, the only copy.
                rx.buf.extend_from_slice(chunk);
                if let Some(key) = frame.mask {
                    apply_mask(&mut rx.buf[start..], key, frame.offset);
                }
            } else {
                rx.raw.clear();
                rx.raw.extend_from_slice(chunk);
                if let Some(key) = frame.mask {
                    apply_mask(&mut rx.raw, key, frame.offset);
                }
                self.decode_extension(message.rsv, false)?;
            }
            self.check_utf8(message.kind, start)?;
        }
        frame.offset += chunk.len();
        frame.remaining -= chunk.len() as u64;
        if frame.remaining == 0 {
            self.rx.frame = None;
            self.end_frame(frame)
        } else {
            self.rx.frame = Some(frame);
            Ok(())
        }
    }

    /// A frame's payload is complete.
    fn end_frame(&mut self, frame: Frame) -> Result<(), ProtocolError> {
        match frame.opcode {
            OpCode::PING => {
                let (payload, len) = (self.rx.control, self.rx.control_len);
                if !self.state.close_sent() {
                    // RFC 6455 §5.5.2: answer with a pong carrying the same payload.
                    self.queue_pong(&payload[..len]);
                }
                self.events
                    .push_back(Event::Ping(Bytes::copy_from_slice(&payload[..len])));
            }
            OpCode::PONG => {
                let payload = Bytes::copy_from_slice(&self.rx.control[..self.rx.control_len]);
                self.events.push_back(Event::Pong(payload));
            }
            OpCode::CLOSE => {
                let control = self.rx.control;
                let close = CloseFrame::parse(&control[..self.rx.control_len])?;
                self.transition(Input::PeerClose(close.code, close.reason));
            }
            _ if frame.fin => {
                let Some(message) = self.rx.message.take() else {
                    return Ok(());
                };
                if message.rsv != 0 {
                    let start = self.rx.buf.len();
                    self.rx.raw = BytesMut::new();
                    self.decode_extension(message.rsv, true)?;
                    self.check_utf8(message.kind, start)?;
                }
                let payload = self.rx.buf.split().freeze();
                if payload.len() + self.rx.buf.capacity() > self.limits.max_retained_buffer {
                    // The rest of a large allocation would stay pinned by the empty buffer
                    // after the message is dropped: let the next message start afresh.
                    self.rx.buf = BytesMut::new();
                }
                let message = match message.kind {
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
            }
            _ => {}
        }
        Ok(())
    }

    /// The extension stage (§9): decodes the raw piece into the message buffer, bounded by
    /// `max_message_size` as it goes, so what it produces is what the limit applies to.
    fn decode_extension(&mut self, rsv: u8, fin: bool) -> Result<(), ProtocolError> {
        let max = self.limits.max_message_size;
        let limit = usize::try_from(max).unwrap_or(usize::MAX);
        let Some(extension) = self.extension.as_mut() else {
            // Unreachable: RSV bits are accepted only when an extension claims them.
            return Err(ProtocolError::ReservedBitsSet(rsv));
        };
        let decoded = extension.decode(rsv, &self.rx.raw, fin, &mut self.rx.buf, limit);
        match decoded {
            // RFC 6455 §7.4.1: 1009 for a message too big to process, whoever noticed.
            Err(ExtensionError::TooLarge) => Err(ProtocolError::MessageTooLarge { max }),
            Err(_) => Err(ProtocolError::InvalidExtensionData),
            Ok(()) if self.rx.buf.len() > limit => Err(ProtocolError::MessageTooLarge { max }),
            Ok(()) => Ok(()),
        }
    }

    /// RFC 6455 §8.1: invalid UTF-8 fails the connection. Checking each piece of a text
    /// message as it lands (after the extension stage) fails fast, mid-frame and across
    /// fragments.
    fn check_utf8(&mut self, kind: DataKind, start: usize) -> Result<(), ProtocolError> {
        if kind == DataKind::Text && self.rx.utf8.feed(&self.rx.buf[start..]).is_err() {
            return Err(ProtocolError::InvalidUtf8);
        }
        Ok(())
    }
}
