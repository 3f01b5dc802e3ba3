//! `encodeFrame` and `decodeFrame`: one whole frame to and from bytes, through the core's header
//! codec ([`FrameHeader`]) and frame splitter ([`FrameSplitter`]), masking ([`apply_mask`]) and
//! close-payload parser ([`CloseFrame`]).

use js_sys::{Object, Uint8Array};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::frame::split::{FrameSplitter, Piece};
use switchyard_core::frame::{MAX_HEADER_LEN, MAX_PAYLOAD_LEN};
use switchyard_core::{CloseCode, CloseFrame, FrameHeader, OpCode};
use wasm_bindgen::JsValue;

use crate::failure::{Failure, set};

/// One frame decoded from the start of a buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decoded<'a> {
    pub(crate) header: FrameHeader,
    /// Bytes of the header: 2 to 14.
    pub(crate) header_len: usize,
    /// The payload as it was on the wire (still masked if the frame was).
    pub(crate) wire_payload: &'a [u8],
    /// The payload unmasked.
    pub(crate) payload: Vec<u8>,
    /// For a close frame, its validated code and reason (§5.5.1).
    pub(crate) close: Option<(CloseCode, String)>,
}

impl Decoded<'_> {
    /// Header plus payload: where the next frame would start.
    pub(crate) fn frame_len(&self) -> usize {
        self.header_len + self.wire_payload.len()
    }

    /// The plain JS object `decodeFrame` returns (see `DecodedFrame` in the TypeScript types).
    pub(crate) fn to_js(&self) -> Object {
        let h = &self.header;
        let object = JsValue::from(Object::new());
        set(&object, "fin", h.fin);
        set(&object, "rsv", h.rsv);
        set(&object, "opcode", h.opcode.as_u8());
        set(&object, "opcodeName", h.opcode.name());
        set(&object, "isControl", h.opcode.is_control());
        set(&object, "masked", h.mask.is_some());
        let mask_key = match h.mask {
            Some(key) => JsValue::from(Uint8Array::from(&key[..])),
            None => JsValue::NULL,
        };
        set(&object, "maskKey", mask_key);
        // Exact as a JS number: the payload is all present, so its length is a buffer length.
        set(&object, "payloadLength", self.wire_payload.len() as f64);
        set(&object, "headerLength", self.header_len as f64);
        set(&object, "frameLength", self.frame_len() as f64);
        set(
            &object,
            "maskedPayload",
            Uint8Array::from(self.wire_payload),
        );
        set(&object, "payload", Uint8Array::from(&self.payload[..]));
        if let Some((code, reason)) = &self.close {
            set(&object, "closeCode", code.as_u16());
            set(&object, "closeReason", reason.as_str());
        }
        object.into()
    }
}

/// Decodes the first frame in `bytes`; bytes after it are left alone (see `frame_len`). The
/// boundaries come from the core's [`FrameSplitter`], the parser `/inspect` uses too.
pub(crate) fn decode(bytes: &[u8]) -> Result<Decoded<'_>, Failure> {
    let mut splitter = FrameSplitter::new();
    let mut input = bytes;
    let (header, header_len) = match splitter.next(&mut input) {
        Some(Ok(Piece::Header(raw))) => (*raw.header(), raw.as_bytes().len()),
        Some(Err(error)) => return Err(Failure::Protocol(error)),
        Some(Ok(Piece::Payload(_) | Piece::End)) | None => {
            return Err(Failure::Incomplete(format!(
                "incomplete frame: need more bytes ({} given, not yet a whole header)",
                bytes.len()
            )));
        }
    };
    let mut payload_end = header_len;
    loop {
        match splitter.next(&mut input) {
            Some(Ok(Piece::Payload(chunk))) => payload_end += chunk.len(),
            Some(Ok(Piece::End)) => break,
            Some(Ok(Piece::Header(_)) | Err(_)) | None => {
                return Err(Failure::Incomplete(format!(
                    "incomplete frame: the header declares a {}-byte payload but only {} bytes follow",
                    header.payload_len,
                    bytes.len() - header_len
                )));
            }
        }
    }
    let wire_payload = &bytes[header_len..payload_end];
    let mut payload = wire_payload.to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key, 0);
    }
    let close = if header.opcode == OpCode::CLOSE {
        let frame = CloseFrame::parse(&payload).map_err(|e| Failure::Protocol(e.into()))?;
        Some((frame.code, frame.reason.to_string()))
    } else {
        None
    };
    Ok(Decoded {
        header,
        header_len,
        wire_payload,
        payload,
        close,
    })
}

/// Encodes one frame: FIN, opcode, an optional 4-byte mask key, and the payload, masked with
/// that key when there is one. Writes exactly what it is given (a ping of 200 bytes too), like
/// the core's encoder, so tests can build frames a peer must reject.
pub(crate) fn encode(
    fin: bool,
    opcode: u32,
    mask_key: Option<&[u8]>,
    payload: &[u8],
) -> Result<Vec<u8>, Failure> {
    let opcode = u8::try_from(opcode)
        .ok()
        .filter(|op| *op <= 0xF)
        .ok_or_else(|| Failure::Argument(format!("opcode {opcode} is not a 4-bit value")))?;
    let opcode = OpCode::from_u8(opcode).ok_or_else(|| {
        Failure::Argument(format!(
            "opcode {opcode:#x} is reserved (RFC 6455 §5.2) and cannot be encoded"
        ))
    })?;
    let mask = match mask_key {
        None => None,
        Some(key) => Some(<[u8; 4]>::try_from(key).map_err(|_| {
            Failure::Argument(format!(
                "a mask key is 4 bytes, not {} (RFC 6455 §5.3)",
                key.len()
            ))
        })?),
    };
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: 0,
    };
    let mut out = Vec::with_capacity(MAX_HEADER_LEN + payload.len());
    header.write_frame(payload, &mut out).map_err(|_| {
        Failure::Argument(format!(
            "a payload of {} bytes is over the {MAX_PAYLOAD_LEN}-byte maximum",
            payload.len()
        ))
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::ProtocolError;

    // RFC 6455 §5.7: a single-frame masked text message "Hello".
    const MASKED_HELLO: [u8; 11] = [
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ];

    #[test]
    fn encodes_and_decodes_rfc_section_5_7_masked_hello() {
        let bytes = encode(true, 1, Some(&[0x37, 0xfa, 0x21, 0x3d]), b"Hello").unwrap();
        assert_eq!(bytes, MASKED_HELLO);
        let frame = decode(&bytes).unwrap();
        assert_eq!(frame.payload, b"Hello");
        assert_eq!(frame.wire_payload, &MASKED_HELLO[6..]);
        assert_eq!((frame.header_len, frame.frame_len()), (6, 11));
    }

    #[test]
    fn leaves_bytes_after_the_first_frame() {
        let mut two = MASKED_HELLO.to_vec();
        two.extend_from_slice(&[0x80, 0x02, b'l', b'o']);
        assert_eq!(decode(&two).unwrap().frame_len(), MASKED_HELLO.len());
    }

    #[test]
    fn reports_short_input_as_incomplete_not_as_a_protocol_error() {
        for cut in 0..MASKED_HELLO.len() {
            assert!(
                matches!(decode(&MASKED_HELLO[..cut]), Err(Failure::Incomplete(_))),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn carries_the_core_protocol_error() {
        assert_eq!(
            decode(&[0x83, 0x00]),
            Err(Failure::Protocol(ProtocolError::ReservedOpcode(3)))
        );
        assert_eq!(
            decode(&[0x88, 0x01, 0x03]),
            Err(Failure::Protocol(ProtocolError::CloseFrameTooShort))
        );
    }

    #[test]
    fn refuses_unencodable_arguments() {
        for (opcode, key) in [(3, None), (16, None), (1, Some(&[1u8, 2, 3][..]))] {
            assert!(matches!(
                encode(true, opcode, key, b""),
                Err(Failure::Argument(_))
            ));
        }
    }
}
