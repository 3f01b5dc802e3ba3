//! `receiveMessage`: the frames of one message, exactly as a server received them, through a
//! server-side [`Connection`] of the core, with permessage-deflate (RFC 7692) installed as the
//! server agreed it.
//!
//! This is how the demo shows a compressed message: the bytes go through the very receive path
//! the server runs (frame decoding, unmasking, the [`DeflateCodec`] extension stage, the limit
//! on the inflated size, UTF-8 validation), not through a JavaScript inflater.
//!
//! A fresh connection has no memory of earlier messages, so it can only inflate a message on
//! its own: that is what `client_no_context_takeover` guarantees (RFC 7692 §7.1.1.2: the
//! client empties its compression window after each message). An agreement without it is
//! refused as an argument rather than given a misleading result.

use js_sys::{Object, Uint8Array};
use switchyard_core::Limits;
use switchyard_core::connection::{Connection, Event, Message, Role};
use switchyard_core::deflate::{DeflateAgreement, DeflateCodec, DeflateConfig, PerMessageDeflate};
use switchyard_core::handshake::ExtensionOffers;
use wasm_bindgen::JsValue;

use crate::failure::{Failure, set};

/// The plain JS object `receiveMessage` returns (see `ReceivedMessage` in the TypeScript
/// types).
pub(crate) fn to_js(message: &Message) -> Object {
    let object = JsValue::from(Object::new());
    let (kind, data) = match message {
        Message::Text(text) => {
            set(&object, "text", text.as_str());
            ("text", text.as_bytes())
        }
        Message::Binary(bytes) => ("binary", &bytes[..]),
    };
    set(&object, "kind", kind);
    set(&object, "data", Uint8Array::from(data));
    object.into()
}

/// The extension a server answered with (`Sec-WebSocket-Extensions`, as the server wrote it;
/// Chromium's `WebSocket.extensions` holds the same, Firefox's the extension's name only):
/// `None` for no extension at all.
///
/// The answer is checked by the core's client-side rules (RFC 7692 §7.1) against the widest
/// offer a client makes, `permessage-deflate; client_max_window_bits`, which every valid
/// answer to a browser's offer also answers.
pub(crate) fn agreement(agreed: &str) -> Result<Option<DeflateAgreement>, Failure> {
    if agreed.trim().is_empty() {
        return Ok(None);
    }
    let agreement = PerMessageDeflate::new(DeflateConfig::CLIENT)
        .verify_answer(ExtensionOffers::parse(agreed))
        .map_err(|e| {
            Failure::Argument(format!(
                "{agreed:?} is not a permessage-deflate agreement: {e}"
            ))
        })?;
    match agreement {
        Some(agreement) if !agreement.client_no_context_takeover => {
            Err(Failure::Argument(format!(
                "{agreed:?} lets the client keep its compression window between messages, so a \
                 message may refer back to earlier ones and cannot be inflated on its own: \
                 that needs client_no_context_takeover (RFC 7692 §7.1.1.2)"
            )))
        }
        agreement => Ok(agreement),
    }
}

/// A JavaScript number as a message limit in bytes: whole and at least 0; past what this
/// platform addresses, no limit (`as` saturates).
pub(crate) fn limit(limit: f64) -> Result<usize, Failure> {
    if limit >= 0.0 && limit.fract() == 0.0 || limit == f64::INFINITY {
        return Ok(limit as usize);
    }
    Err(Failure::Argument(format!(
        "the message limit must be a whole number of bytes, at least 0, not {limit}"
    )))
}

/// Feeds `bytes` (client frames: masked, RSV1 on a compressed message's first frame) to a
/// fresh server connection with the extension `agreed` and a `limit` on the message's size
/// (inflated, RFC 6455 §10.4), and returns the first data message it delivers. Control frames
/// before it are taken and skipped. The bytes are decoded as one read, so a protocol error
/// anywhere in them fails the call, as it would fail the connection: give one message.
pub(crate) fn receive(agreed: &str, bytes: &[u8], limit: usize) -> Result<Message, Failure> {
    let mut connection = Connection::server(Limits::default().with_max_message_size(limit as u64));
    if let Some(agreement) = agreement(agreed)? {
        // Our own compression settings do not matter: this connection sends nothing.
        let config = DeflateConfig::SERVER;
        connection =
            connection.with_extension(DeflateCodec::new(Role::Server, &agreement, &config));
    }
    let mut rest = bytes;
    loop {
        // A failure is the core's protocol error, with the close code the server would send.
        let taken = connection.receive_data(rest).map_err(Failure::Protocol)?;
        rest = &rest[taken..];
        let mut polled = false;
        while let Some(event) = connection.poll_event() {
            if let Event::Message(message) = event {
                return Ok(message);
            }
            polled = true;
        }
        // Decoding pauses only while events wait to be polled (`max_queued_events`): with
        // none polled and nothing taken, every byte has been seen.
        if rest.is_empty() || (taken == 0 && !polled) {
            return Err(Failure::Incomplete(format!(
                "incomplete message: the {} bytes given hold no whole data message",
                bytes.len()
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_core::frame::ProtocolError;
    use switchyard_core::{FrameHeader, OpCode};

    /// What `/inspect` answers Chrome's offer with.
    const AGREED: &str = "permessage-deflate; client_no_context_takeover; \
                          server_max_window_bits=12; client_max_window_bits=12";
    const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];
    const RSV1: u8 = 0b100;

    /// A masked client frame, as a browser sends it.
    fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: Some(KEY),
            payload_len: 0,
        };
        let mut out = Vec::new();
        header.write_frame(payload, &mut out).unwrap();
        out
    }

    /// The frames the core's own client sends for `text` under `agreed`, compressed.
    fn client_frames(agreed: &str, text: &str) -> Vec<u8> {
        let agreement = agreement(agreed).unwrap().unwrap();
        let codec = DeflateCodec::new(Role::Client, &agreement, &DeflateConfig::CLIENT);
        let mut client = Connection::client(Limits::default(), || KEY).with_extension(codec);
        client.send_text(text).unwrap();
        let mut wire = Vec::new();
        loop {
            let chunk = client.poll_transmit();
            if chunk.is_empty() {
                break;
            }
            let n = chunk.len();
            wire.extend_from_slice(chunk);
            client.consume_transmit(n);
        }
        wire
    }

    fn text(message: Message) -> String {
        match message {
            Message::Text(text) => text.as_str().to_owned(),
            Message::Binary(bytes) => panic!("binary: {bytes:?}"),
        }
    }

    // RFC 7692 §7.2.3.1: "Hello" compressed, in one frame and in two.
    const HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    #[test]
    fn limits_are_whole_numbers_of_bytes_and_saturate() {
        assert_eq!(limit(1000.0).unwrap(), 1000);
        assert_eq!(limit(0.0).unwrap(), 0);
        assert_eq!(
            limit(4_294_967_296.0).unwrap(),
            usize::try_from(1u64 << 32).unwrap_or(usize::MAX)
        );
        assert_eq!(limit(f64::INFINITY).unwrap(), usize::MAX);
        for bad in [f64::NAN, -1.0, 1.5, f64::NEG_INFINITY] {
            assert!(matches!(limit(bad), Err(Failure::Argument(_))), "{bad}");
        }
    }

    #[test]
    fn inflates_the_rfc_7692_hello_in_one_frame_and_in_two() {
        let one = frame(true, RSV1, OpCode::TEXT, &HELLO);
        assert_eq!(text(receive(AGREED, &one, 1 << 20).unwrap()), "Hello");
        let two = [
            frame(false, RSV1, OpCode::TEXT, &HELLO[..3]),
            frame(true, 0, OpCode::CONTINUATION, &HELLO[3..]),
        ]
        .concat();
        assert_eq!(text(receive(AGREED, &two, 1 << 20).unwrap()), "Hello");
    }

    #[test]
    fn inflates_stored_and_final_blocks() {
        // §7.2.3.3: a block with no compression; §7.2.3.4: a block with BFINAL set.
        let stored = [
            0x00, 0x05, 0x00, 0xfa, 0xff, b'H', b'e', b'l', b'l', b'o', 0x00,
        ];
        let last = [0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00];
        for payload in [&stored[..], &last[..]] {
            let wire = frame(true, RSV1, OpCode::TEXT, payload);
            assert_eq!(text(receive(AGREED, &wire, 1 << 20).unwrap()), "Hello");
        }
    }

    #[test]
    fn inflates_what_the_core_client_compressed_and_skips_control_frames() {
        let json = format!(
            "[{}]",
            vec![r#"{"id":1,"name":"switchyard"}"#; 500].join(",")
        );
        let compressed = client_frames(AGREED, &json);
        assert!(compressed.len() < json.len() / 10, "{}", compressed.len());
        assert_eq!(compressed[0] & 0x40, 0x40, "RSV1 on the first frame");
        let wire = [frame(true, 0, OpCode::PING, b"hi"), compressed].concat();
        assert_eq!(text(receive(AGREED, &wire, 1 << 20).unwrap()), json);
    }

    #[test]
    fn takes_an_uncompressed_message_as_it_is_with_or_without_an_agreement() {
        let wire = frame(true, 0, OpCode::BINARY, &[0xde, 0xad]);
        for agreed in [AGREED, "", " "] {
            let message = receive(agreed, &wire, 1 << 20).unwrap();
            assert_eq!(message, Message::Binary(vec![0xde, 0xad].into()));
        }
    }

    #[test]
    fn fails_as_the_server_would_close() {
        let rsv1 = frame(true, RSV1, OpCode::TEXT, &HELLO);
        // No extension agreed: RSV1 is a reserved bit (RFC 6455 §5.2).
        assert_eq!(
            receive("", &rsv1, 1 << 20),
            Err(Failure::Protocol(ProtocolError::ReservedBitsSet(RSV1)))
        );
        // Corrupt deflate data (a reserved block type): 1007.
        let corrupt = frame(true, RSV1, OpCode::TEXT, &[0xff, 0xff, 0xff]);
        let Err(Failure::Protocol(error)) = receive(AGREED, &corrupt, 1 << 20) else {
            panic!("corrupt data accepted");
        };
        assert_eq!(error.close_code().as_u16(), 1007);
        // Inflated text that is not UTF-8: 1007 as well.
        let latin1 = frame(
            true,
            RSV1,
            OpCode::TEXT,
            &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xe9],
        );
        assert_eq!(
            receive(AGREED, &latin1, 1 << 20),
            Err(Failure::Protocol(ProtocolError::InvalidUtf8))
        );
    }

    #[test]
    fn stops_a_message_that_inflates_past_the_limit() {
        let bomb = client_frames(AGREED, &"a".repeat(1 << 20));
        assert!(bomb.len() < 4096, "{}", bomb.len());
        assert_eq!(
            receive(AGREED, &bomb, 64 * 1024),
            Err(Failure::Protocol(ProtocolError::MessageTooLarge {
                max: 64 * 1024
            }))
        );
        assert_eq!(receive(AGREED, &bomb, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn refuses_an_agreement_it_cannot_inflate_alone() {
        for agreed in [
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
        ] {
            let Err(Failure::Argument(message)) = agreement(agreed) else {
                panic!("{agreed} accepted");
            };
            assert!(message.contains("client_no_context_takeover"), "{message}");
        }
        for agreed in [
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; client_max_window_bits",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=16",
            "permessage-deflate; client_no_context_takeover; level=9",
            "x-webkit-deflate-frame",
            "permessage-deflate; client_no_context_takeover, permessage-deflate",
        ] {
            let Err(Failure::Argument(message)) = agreement(agreed) else {
                panic!("{agreed} accepted");
            };
            assert!(
                message.contains("not a permessage-deflate agreement"),
                "{message}"
            );
        }
        let firefox = "permessage-deflate; client_no_context_takeover; server_max_window_bits=12";
        assert!(
            agreement(firefox)
                .unwrap()
                .unwrap()
                .client_no_context_takeover
        );
    }

    #[test]
    fn reports_bytes_that_end_before_a_message_does_as_incomplete() {
        let two = [
            frame(false, RSV1, OpCode::TEXT, &HELLO[..3]),
            frame(true, 0, OpCode::CONTINUATION, &HELLO[3..]),
        ]
        .concat();
        for cut in 0..two.len() {
            assert!(
                matches!(
                    receive(AGREED, &two[..cut], 1 << 20),
                    Err(Failure::Incomplete(_))
                ),
                "cut {cut}"
            );
        }
        // A close frame ends the connection before any message.
        let close = frame(true, 0, OpCode::CLOSE, &[0x03, 0xe8]);
        assert!(matches!(
            receive(AGREED, &[close, two].concat(), 1 << 20),
            Err(Failure::Incomplete(_))
        ));
    }
}
