//! Finding frame boundaries in a byte stream (RFC 6455 §5.2), however the bytes arrive,
//! without buffering payloads.
//!
//! [`FrameSplitter`] carries at most one header ([`MAX_HEADER_LEN`] bytes) between calls and
//! counts the payload bytes still to come; it reports each frame's header as received, its
//! payload bytes as they pass, and its end. It checks only what the header codec checks:
//! role, state and limits are the connection's. A tool that shows frames (the demo's
//! `/inspect`, the wasm `decodeFrame`) uses it instead of a parser of its own.

use super::{FrameHeader, MAX_HEADER_LEN, ProtocolError};
use crate::Parsed;

/// A frame header with the bytes it was decoded from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawHeader {
    header: FrameHeader,
    bytes: [u8; MAX_HEADER_LEN],
    len: usize,
}

impl RawHeader {
    /// The decoded header.
    pub const fn header(&self) -> &FrameHeader {
        &self.header
    }

    /// The header's bytes as received: 2 to 14.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What the splitter found next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// A frame begins.
    Header(RawHeader),
    /// Payload bytes of the current frame, as on the wire (still masked if it is).
    Payload(&'a [u8]),
    /// The current frame is complete.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a header; `have` bytes of it are carried.
    Header { have: usize },
    /// Passing payload bytes; `remaining` are still to come.
    Payload { remaining: u64 },
    /// The frame's last byte has passed; its end is not reported yet.
    End,
    /// A header broke the protocol: the stream no longer has frame boundaries.
    Broken,
}

/// Splits a byte stream into frames, incrementally.
#[derive(Debug, Clone)]
pub struct FrameSplitter {
    carry: [u8; MAX_HEADER_LEN],
    state: State,
}

impl Default for FrameSplitter {
    fn default() -> Self {
        FrameSplitter::new()
    }
}

impl FrameSplitter {
    /// A splitter at the start of a stream.
    pub const fn new() -> FrameSplitter {
        FrameSplitter {
            carry: [0; MAX_HEADER_LEN],
            state: State::Header { have: 0 },
        }
    }

    /// Takes bytes from the front of `input` and reports the next piece. `None` when `input`
    /// is used up and nothing more can be reported without more bytes, and forever after an
    /// error: a header that breaks the protocol leaves no boundaries to find.
    pub fn next<'a>(&mut self, input: &mut &'a [u8]) -> Option<Result<Piece<'a>, ProtocolError>> {
        match self.state {
            State::Header { have } => {
                if input.is_empty() {
                    return None;
                }
                let take = (MAX_HEADER_LEN - have).min(input.len());
                self.carry[have..have + take].copy_from_slice(&input[..take]);
                match FrameHeader::decode(&self.carry[..have + take]) {
                    Ok(Parsed::Complete(header, len)) => {
                        *input = &input[len - have..];
                        self.state = match header.payload_len {
                            0 => State::End,
                            remaining => State::Payload { remaining },
                        };
                        Some(Ok(Piece::Header(RawHeader {
                            header,
                            bytes: self.carry,
                            len,
                        })))
                    }
                    Ok(Parsed::Partial) => {
                        // A whole header is at most `MAX_HEADER_LEN` bytes, so a partial one
                        // took all of `input`.
                        *input = &input[take..];
                        self.state = State::Header { have: have + take };
                        None
                    }
                    Err(error) => {
                        self.state = State::Broken;
                        Some(Err(error))
                    }
                }
            }
            State::Payload { remaining } => {
                if input.is_empty() {
                    return None;
                }
                let n = usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                let (chunk, rest) = input.split_at(n);
                *input = rest;
                self.state = match remaining - n as u64 {
                    0 => State::End,
                    remaining => State::Payload { remaining },
                };
                Some(Ok(Piece::Payload(chunk)))
            }
            State::End => {
                self.state = State::Header { have: 0 };
                Some(Ok(Piece::End))
            }
            State::Broken => None,
        }
    }

    /// Whether a frame has begun and not ended: header bytes carried, or payload to come.
    pub const fn is_mid_frame(&self) -> bool {
        !matches!(self.state, State::Header { have: 0 } | State::Broken)
    }

    /// Payload bytes of the current frame still to come (0 between frames).
    pub const fn remaining(&self) -> u64 {
        match self.state {
            State::Payload { remaining } => remaining,
            _ => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::OpCode;
    use std::vec::Vec;

    /// A frame as a whole-buffer decode sees it: header, header bytes, payload.
    type Whole = (FrameHeader, Vec<u8>, Vec<u8>);

    /// RFC 6455 §5.7: a masked "Hello", an unmasked "Hel" + "lo" fragmented, a 256-byte
    /// binary frame (16-bit length), an empty ping, and a 65536-byte frame (64-bit length).
    fn stream() -> Vec<u8> {
        let mut bytes = std::vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ];
        bytes.extend_from_slice(&[0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f]);
        bytes.extend_from_slice(&[0x82, 0x7E, 0x01, 0x00]);
        bytes.extend(0..=255u8);
        bytes.extend_from_slice(&[0x89, 0x80, 1, 2, 3, 4]);
        bytes.extend_from_slice(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        bytes.extend(core::iter::repeat_n(7u8, 65536));
        bytes
    }

    fn whole_buffer_decode(mut bytes: &[u8]) -> Vec<Whole> {
        let mut frames = Vec::new();
        while let Ok(Parsed::Complete(header, len)) = FrameHeader::decode(bytes) {
            let end = len + header.payload_len as usize;
            frames.push((header, bytes[..len].to_vec(), bytes[len..end].to_vec()));
            bytes = &bytes[end..];
        }
        frames
    }

    fn split<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> Vec<Whole> {
        let mut splitter = FrameSplitter::new();
        let mut frames = Vec::new();
        let mut current: Option<Whole> = None;
        for mut chunk in chunks {
            while let Some(piece) = splitter.next(&mut chunk) {
                match piece.unwrap() {
                    Piece::Header(raw) => {
                        assert!(current.is_none());
                        current = Some((*raw.header(), raw.as_bytes().to_vec(), Vec::new()));
                    }
                    Piece::Payload(bytes) => current.as_mut().unwrap().2.extend_from_slice(bytes),
                    Piece::End => frames.push(current.take().unwrap()),
                }
            }
            assert!(chunk.is_empty(), "a chunk is used up");
        }
        assert!(!splitter.is_mid_frame());
        frames
    }

    #[test]
    fn gives_the_whole_buffer_frames_however_the_bytes_arrive() {
        let bytes = stream();
        let expected = whole_buffer_decode(&bytes);
        assert_eq!(expected.len(), 6);
        assert_eq!(split(core::iter::once(&bytes[..])), expected);
        // Split at every byte boundary of the frames with short headers, and one byte at a
        // time through all of it.
        for cut in 0..=300 {
            let (a, b) = bytes.split_at(cut);
            assert_eq!(split([a, b].into_iter()), expected, "cut at {cut}");
        }
        assert_eq!(split(bytes.chunks(1)), expected);
        for step in [2, 3, 5, 13, 14, 15, 1000] {
            assert_eq!(split(bytes.chunks(step)), expected, "step {step}");
        }
    }

    #[test]
    fn carries_a_header_across_calls() {
        let mut splitter = FrameSplitter::new();
        let mut first: &[u8] = &[0x82, 0x7F, 0, 0];
        assert_eq!(splitter.next(&mut first), None);
        assert!(first.is_empty() && splitter.is_mid_frame());
        let mut rest: &[u8] = &[0, 0, 0, 0, 0, 3, 1, 2];
        let Some(Ok(Piece::Header(raw))) = splitter.next(&mut rest) else {
            panic!("a header");
        };
        assert_eq!(raw.as_bytes(), [0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(raw.header().opcode, OpCode::BINARY);
        assert_eq!(splitter.remaining(), 3);
        assert_eq!(splitter.next(&mut rest), Some(Ok(Piece::Payload(&[1, 2]))));
        assert_eq!(splitter.remaining(), 1);
    }

    #[test]
    fn stops_for_good_at_a_bad_header() {
        let mut splitter = FrameSplitter::new();
        let mut input: &[u8] = &[0x83, 0x00, 0x81, 0x00];
        assert_eq!(
            splitter.next(&mut input),
            Some(Err(ProtocolError::ReservedOpcode(3)))
        );
        assert_eq!(splitter.next(&mut input), None);
        assert!(!splitter.is_mid_frame());
    }

    #[test]
    fn a_huge_declared_length_passes_as_counted_payload() {
        let mut splitter = FrameSplitter::new();
        let mut input: &[u8] = &[
            0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 9,
        ];
        assert!(matches!(
            splitter.next(&mut input),
            Some(Ok(Piece::Header(_)))
        ));
        assert_eq!(splitter.next(&mut input), Some(Ok(Piece::Payload(&[9]))));
        assert_eq!(splitter.remaining(), (1 << 63) - 2);
    }
}
