//! The frame header codec (RFC 6455 §5.2).
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```

use super::{OpCode, ProtocolError};
use crate::Parsed;

/// The longest header: 2 bytes, an 8-byte length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload length a frame can declare: §5.2, "the most significant bit MUST be 0".
pub const MAX_PAYLOAD_LEN: u64 = (1 << 63) - 1;

/// Largest control-frame payload (§5.5).
pub const MAX_CONTROL_PAYLOAD: u64 = 125;

/// One frame header, decoded or to be encoded.
///
/// Decoding enforces the rules that hold for every endpoint (reserved opcodes, the length's top
/// bit, control-frame size and fragmentation). Rules that depend on the role or the
/// connection's state (masking direction, RSV without extensions, fragmentation order, limits)
/// are the connection's job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// RSV1, RSV2, RSV3 as the low three bits (RSV1 = 0b100).
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present exactly when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked frame with no RSV bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> FrameHeader {
        FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// The encoded length of this header: 2, 4 or 10 bytes, plus 4 with a mask.
    pub const fn encoded_len(&self) -> usize {
        let len = if self.payload_len < 126 {
            2
        } else if self.payload_len <= 0xFFFF {
            4
        } else {
            10
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Decodes a header from the start of `buf`.
    ///
    /// Returns `Partial` while `buf` is too short, but rejects a bad header as early as its
    /// bytes allow: a reserved opcode or a fragmented or oversized control frame is refused on
    /// the first two bytes, a 64-bit length with its top bit set on its first byte.
    /// Lengths need not be minimal (§5.2's "minimal number of bytes" binds the sender); a
    /// non-minimal length decodes to the same value.
    pub fn decode(buf: &[u8]) -> Result<Parsed<FrameHeader>, ProtocolError> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(Parsed::Partial);
        };
        let fin = b0 & 0x80 != 0;
        let rsv = (b0 >> 4) & 0x7;
        // RFC 6455 §5.2: an unknown opcode MUST fail the connection.
        let opcode = OpCode::from_u8(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        if opcode.is_control() {
            // RFC 6455 §5.5: control frames MUST have a payload of 125 bytes or less and
            // MUST NOT be fragmented.
            if u64::from(len7) > MAX_CONTROL_PAYLOAD {
                return Err(ProtocolError::ControlFrameTooLong(u64::from(len7)));
            }
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
        }
        let (payload_len, ext_len) = match len7 {
            126 => match rest {
                [a, b, ..] => (u64::from(u16::from_be_bytes([*a, *b])), 2),
                _ => return Ok(Parsed::Partial),
            },
            127 => {
                // RFC 6455 §5.2: "the most significant bit MUST be 0".
                if rest.first().is_some_and(|b| b & 0x80 != 0) {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                match rest.first_chunk::<8>() {
                    Some(bytes) => (u64::from_be_bytes(*bytes), 8),
                    None => return Ok(Parsed::Partial),
                }
            }
            n => (u64::from(n), 0),
        };
        let rest = &rest[ext_len..];
        let mask = if masked {
            match rest.first_chunk::<4>() {
                Some(key) => Some(*key),
                None => return Ok(Parsed::Partial),
            }
        } else {
            None
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len,
        };
        Ok(Parsed::Complete(
            header,
            2 + ext_len + if masked { 4 } else { 0 },
        ))
    }

    /// Encodes the header into `out`, using the minimal length form, and returns its length.
    ///
    /// This writes exactly what it is given, so tests can build frames a peer must reject;
    /// only what cannot be encoded at all is refused: `rsv` over three bits or a length with
    /// the top bit set.
    #[inline(always)]
    pub fn encode(&self, out: &mut [u8; MAX_HEADER_LEN]) -> Result<usize, EncodeError> {
        if self.rsv > 0x7 {
            return Err(EncodeError::RsvOutOfRange);
        }
        if self.payload_len > MAX_PAYLOAD_LEN {
            return Err(EncodeError::LengthTooLarge);
        }
        out[0] = (u8::from(self.fin) << 7) | (self.rsv << 4) | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        if self.payload_len < 126 {
            out[1] = mask_bit | self.payload_len as u8;
        } else if let Ok(short) = u16::try_from(self.payload_len) {
            out[1] = mask_bit | 126;
            out[2..4].copy_from_slice(&short.to_be_bytes());
            len = 4;
        } else {
            out[1] = mask_bit | 127;
            out[2..10].copy_from_slice(&self.payload_len.to_be_bytes());
            len = 10;
        }
        if let Some(key) = self.mask {
            out[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        Ok(len)
    }
}

#[cfg(feature = "alloc")]
impl FrameHeader {
    /// Appends a whole frame to `out`: this header, then `payload` masked with the header's
    /// key when it has one (§5.3). The header's `payload_len` is set from `payload`. The one
    /// frame writer: the connection and the wasm bindings both use it.
    pub fn write_frame<O>(mut self, payload: &[u8], out: &mut O) -> Result<(), EncodeError>
    where
        O: bytes::BufMut + AsMut<[u8]>,
    {
        self.payload_len = payload.len() as u64;
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = self.encode(&mut head)?;
        // A server's usual headers by their constant lengths: a copy of a known size is a
        // few moves, one of a length known only at run time a call to `memcpy` (about 15
        // instructions per frame, callgrind).
        match head_len {
            2 => out.put_slice(&head[..2]),
            4 => out.put_slice(&head[..4]),
            _ => out.put_slice(&head[..head_len]),
        }
        let start = out.as_mut().len();
        out.put_slice(payload);
        if let Some(key) = self.mask {
            super::mask::apply_mask(&mut out.as_mut()[start..], key, 0);
        }
        Ok(())
    }
}

/// A header that cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// `rsv` has bits above the low three.
    RsvOutOfRange,
    /// The payload length has its top bit set (§5.2).
    LengthTooLarge,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(bytes: &[u8]) -> (FrameHeader, usize) {
        FrameHeader::decode(bytes).unwrap().complete().unwrap()
    }

    fn encode(header: &FrameHeader) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut out = [0u8; MAX_HEADER_LEN];
        let n = header.encode(&mut out).unwrap();
        (out, n)
    }

    #[test]
    fn decodes_all_three_length_forms() {
        assert_eq!(decode_all(&[0x82, 0x7D]).0.payload_len, 125);
        assert_eq!(
            decode_all(&[0x82, 0x7E, 0x01, 0x00]),
            (FrameHeader::new(OpCode::BINARY, 256), 4)
        );
        let (h, n) = decode_all(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
        assert_eq!((h.payload_len, n), (65536, 10));
    }

    #[test]
    fn encodes_minimal_length_forms() {
        for (len, header_len) in [
            (0, 2),
            (125, 2),
            (126, 4),
            (65535, 4),
            (65536, 10),
            (MAX_PAYLOAD_LEN, 10),
        ] {
            let header = FrameHeader::new(OpCode::BINARY, len);
            let (bytes, n) = encode(&header);
            assert_eq!(n, header_len);
            assert_eq!(n, header.encoded_len());
            assert_eq!(decode_all(&bytes[..n]), (header, n));
        }
    }

    #[test]
    fn accepts_non_minimal_lengths() {
        assert_eq!(decode_all(&[0x81, 0x7E, 0x00, 0x05]).0.payload_len, 5);
        assert_eq!(
            decode_all(&[0x81, 0x7F, 0, 0, 0, 0, 0, 0, 0, 5])
                .0
                .payload_len,
            5
        );
    }

    #[test]
    fn partial_until_the_mask_key_arrives() {
        let full = [0x81, 0xFE, 0x01, 0x00, 1, 2, 3, 4];
        for cut in 0..full.len() {
            assert_eq!(
                FrameHeader::decode(&full[..cut]),
                Ok(Parsed::Partial),
                "cut {cut}"
            );
        }
        let (h, n) = decode_all(&full);
        assert_eq!((h.mask, h.payload_len, n), (Some([1, 2, 3, 4]), 256, 8));
    }

    #[test]
    fn rejects_reserved_opcodes_on_the_first_byte_pair() {
        for op in (0x3..=0x7).chain(0xB..=0xF) {
            assert_eq!(
                FrameHeader::decode(&[0x80 | op, 0x00]),
                Err(ProtocolError::ReservedOpcode(op))
            );
        }
    }

    #[test]
    fn rejects_length_with_top_bit_set_on_its_first_byte() {
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0x80]),
            Err(ProtocolError::LengthTopBitSet)
        );
        assert_eq!(
            FrameHeader::decode(&[0x82, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn rejects_long_or_fragmented_control_frames() {
        assert_eq!(
            FrameHeader::decode(&[0x89, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(126))
        );
        assert_eq!(
            FrameHeader::decode(&[0x88, 0x7F]),
            Err(ProtocolError::ControlFrameTooLong(127))
        );
        assert_eq!(
            FrameHeader::decode(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert!(FrameHeader::decode(&[0x89, 0x7D]).is_ok());
    }

    #[test]
    fn keeps_rsv_bits_for_the_connection_to_judge() {
        assert_eq!(decode_all(&[0xF1, 0x00]).0.rsv, 0b111);
        assert_eq!(decode_all(&[0xC1, 0x00]).0.rsv, 0b100);
    }

    #[test]
    fn refuses_to_encode_the_unencodable() {
        let mut out = [0; MAX_HEADER_LEN];
        let mut header = FrameHeader::new(OpCode::TEXT, 0);
        header.rsv = 8;
        assert_eq!(header.encode(&mut out), Err(EncodeError::RsvOutOfRange));
        assert_eq!(
            FrameHeader::new(OpCode::TEXT, 1 << 63).encode(&mut out),
            Err(EncodeError::LengthTooLarge)
        );
    }
}
