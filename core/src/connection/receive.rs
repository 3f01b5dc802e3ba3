//! The receive half of the state machine: frames in, events out.

use bytes::{Bytes, BytesMut};

use super::state::Input;
use super::{Connection, DataKind, Event, Message, Role, Utf8Bytes};
use crate::Parsed;
use crate::close::CloseFrame;
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

/// Decoding state, all of it bounded: a partial header, the frame in progress, the message
/// being assembled (bounded by `max_message_size`), and a control payload (125 bytes).
pub(super) struct Receiver {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    frame: Option<Frame>,
    /// The data message in progress and its frame count.
    message: Option<(DataKind, u32)>,
    buf: BytesMut,
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
        // RFC 6455 §5.2: RSV bits MUST be 0 unless an extension defines them; we negotiate none.
        if header.rsv != 0 {
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
                (OpCode::CONTINUATION, Some((kind, frames))) => {
                    if frames >= limits.max_fragments {
                        return Err(ProtocolError::TooManyFragments {
                            max: limits.max_fragments,
                        });
                    }
                    self.rx.message = Some((kind, frames + 1));
                }
                // ...and a new message must wait for the open one's final fragment.
                (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation),
                (opcode, None) => {
                    let kind = if opcode == OpCode::TEXT {
                        DataKind::Text
                    } else {
                        DataKind::Binary
                    };
                    self.rx.message = Some((kind, 1));
                }
            }
            let buffered = self.rx.buf.len() as u64;
            if buffered.saturating_add(header.payload_len) > limits.max_message_size {
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
        } else {
            let start = rx.buf.len();
            rx.buf.extend_from_slice(chunk);
            let fresh = &mut rx.buf[start..];
            if let Some(key) = frame.mask {
                apply_mask(fresh, key, frame.offset);
            }
            // RFC 6455 §8.1: invalid UTF-8 fails the connection; checking each piece as it
            // lands fails fast, mid-frame and across fragments.
            if matches!(rx.message, Some((DataKind::Text, _))) && rx.utf8.feed(fresh).is_err() {
                return Err(ProtocolError::InvalidUtf8);
            }
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
                let Some((kind, _)) = self.rx.message.take() else {
                    return Ok(());
                };
                let payload = self.rx.buf.split().freeze();
                if payload.len() + self.rx.buf.capacity() > self.limits.max_retained_buffer {
                    // The rest of a large allocation would stay pinned by the empty buffer
                    // after the message is dropped: let the next message start afresh.
                    self.rx.buf = BytesMut::new();
                }
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
            }
            _ => {}
        }
        Ok(())
    }
}
