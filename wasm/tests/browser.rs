//! The bindings in real browsers: `wasm-pack test --headless --chrome --firefox wasm`.
//!
//! Each test calls the exported functions and inspects the JavaScript values they return or
//! throw, against the RFC 6455 vectors and against the core itself. On the host this file is
//! empty: everything here needs a JavaScript engine.
#![cfg(target_arch = "wasm32")]

mod common;

use std::collections::HashSet;

use common::*;
use js_sys::Error;
use switchyard_core::{FrameHeader, OpCode};
use switchyard_wasm::{
    accept_key, decode_frame, encode_frame, generate_key, is_valid_key, verify_accept,
    verify_handshake,
};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

// ---- RFC 6455 §1.3 and §4: keys --------------------------------------------------------------

#[wasm_bindgen_test]
fn accept_key_is_the_rfc_section_1_3_example() {
    assert_eq!(accept_key(RFC_KEY), RFC_ACCEPT);
}

#[wasm_bindgen_test]
fn verify_accept_takes_exactly_the_right_value() {
    assert!(verify_accept(RFC_KEY, RFC_ACCEPT));
    for wrong in [
        "",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo",
        "s3pPLMBiTxaQ9kYGzzhZRbK+xOo= ",
        "S3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
    ] {
        assert!(!verify_accept(RFC_KEY, wrong), "{wrong:?}");
    }
    assert!(!verify_accept("dGhlIHNhbXBsZSBub25jZA==", RFC_ACCEPT));
}

#[wasm_bindgen_test]
fn is_valid_key_wants_base64_of_16_bytes() {
    assert!(is_valid_key(RFC_KEY));
    for bad in [
        "",
        "dGhlIHNhbXBsZSBub25jZQ=",
        "dGhlIHNhbXBsZSBub25jZXg=",
        "dGhlIHNhbXBsZSBub25jZ!==",
        " dGhlIHNhbXBsZSBub25jZQ==",
    ] {
        assert!(!is_valid_key(bad), "{bad:?}");
    }
}

#[wasm_bindgen_test]
fn generate_key_makes_fresh_valid_keys() {
    let keys: HashSet<String> = (0..64).map(|_| generate_key().unwrap()).collect();
    assert_eq!(keys.len(), 64, "crypto.getRandomValues repeated itself");
    for key in &keys {
        assert_eq!(key.len(), 24);
        assert!(is_valid_key(key), "{key}");
        assert_eq!(accept_key(key).len(), 28);
    }
}

// ---- RFC 6455 §5.7: frame examples -----------------------------------------------------------

/// One frame and the bytes RFC 6455 §5.7 gives for it.
struct Vector {
    fin: bool,
    opcode: u8,
    mask: Option<[u8; 4]>,
    payload: Vec<u8>,
    wire: Vec<u8>,
}

fn vector(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8], wire: &[u8]) -> Vector {
    Vector {
        fin,
        opcode,
        mask,
        payload: payload.to_vec(),
        wire: wire.to_vec(),
    }
}

fn section_5_7() -> Vec<Vector> {
    let masked_hello = [0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58];
    let big_256 = [&[0x82, 0x7E, 0x01, 0x00][..], &[0xAB; 256]].concat();
    let big_64k = [&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0][..], &[0xCD; 65536]].concat();
    vec![
        // A single-frame unmasked text message, and the same masked.
        vector(true, 0x1, None, b"Hello", b"\x81\x05Hello"),
        vector(
            true,
            0x1,
            Some(RFC_MASK),
            b"Hello",
            &[&[0x81, 0x85][..], &masked_hello].concat(),
        ),
        // A fragmented unmasked text message.
        vector(false, 0x1, None, b"Hel", b"\x01\x03Hel"),
        vector(true, 0x0, None, b"lo", b"\x80\x02lo"),
        // An unmasked ping and a masked pong.
        vector(true, 0x9, None, b"Hello", b"\x89\x05Hello"),
        vector(
            true,
            0xA,
            Some(RFC_MASK),
            b"Hello",
            &[&[0x8a, 0x85][..], &masked_hello].concat(),
        ),
        // 256 bytes and 64 KiB in a single unmasked binary frame.
        vector(true, 0x2, None, &[0xAB; 256], &big_256),
        vector(true, 0x2, None, &[0xCD; 65536], &big_64k),
    ]
}

#[wasm_bindgen_test]
fn encodes_the_rfc_section_5_7_examples() {
    for Vector {
        fin,
        opcode,
        mask,
        payload,
        wire,
    } in section_5_7()
    {
        let mask = mask.map(|m| m.to_vec());
        assert_eq!(
            encode_frame(fin, opcode.into(), mask, &payload).unwrap(),
            wire,
            "opcode {opcode:#x}, {} bytes",
            payload.len()
        );
    }
}

#[wasm_bindgen_test]
fn decodes_the_rfc_section_5_7_examples() {
    for Vector {
        fin,
        opcode,
        mask,
        payload,
        wire,
    } in section_5_7()
    {
        let frame = JsValue::from(decode_frame(&wire).unwrap());
        let header_len = wire.len() - payload.len();
        assert_eq!(flag(&frame, "fin"), fin);
        assert_eq!(num(&frame, "rsv"), 0.0);
        assert_eq!(num(&frame, "opcode"), f64::from(opcode));
        assert_eq!(
            text(&frame, "opcodeName"),
            OpCode::from_u8(opcode).unwrap().name()
        );
        assert_eq!(flag(&frame, "isControl"), opcode >= 0x8);
        assert_eq!(flag(&frame, "masked"), mask.is_some());
        match mask {
            Some(key) => assert_eq!(bytes(&frame, "maskKey"), key),
            None => assert!(get(&frame, "maskKey").is_null()),
        }
        assert_eq!(num(&frame, "payloadLength"), payload.len() as f64);
        assert_eq!(num(&frame, "headerLength"), header_len as f64);
        assert_eq!(num(&frame, "frameLength"), wire.len() as f64);
        assert_eq!(bytes(&frame, "maskedPayload"), wire[header_len..]);
        assert_eq!(bytes(&frame, "payload"), payload);
    }
}

// ---- Round trips against the core ------------------------------------------------------------

#[wasm_bindgen_test]
fn frames_round_trip_and_match_the_core_byte_for_byte() {
    let key = [0xA1, 0x02, 0xF3, 0x4C];
    for len in [0, 1, 5, 125, 126, 127, 1000, 65535, 65536, 70001] {
        let payload: Vec<u8> = (0..len).map(|i| (i * 31 + 7) as u8).collect();
        for opcode in [
            OpCode::CONTINUATION,
            OpCode::TEXT,
            OpCode::BINARY,
            OpCode::CLOSE,
            OpCode::PING,
            OpCode::PONG,
        ] {
            // A close payload must be a valid close body to decode; ping/pong any bytes.
            let payload = match opcode {
                OpCode::CLOSE if len >= 2 => {
                    [&[0x03, 0xE8][..], &[b'x'; 123][..len.min(125) - 2]].concat()
                }
                OpCode::CLOSE => Vec::new(),
                op if op.is_control() => payload[..len.min(125)].to_vec(),
                _ => payload.clone(),
            };
            for fin in [true, false] {
                if opcode.is_control() && !fin {
                    continue;
                }
                for mask in [None, Some(key)] {
                    let what = format!("{opcode:?} fin={fin} mask={mask:?} len={}", payload.len());
                    let wire =
                        encode_frame(fin, opcode.as_u8().into(), mask.map(Vec::from), &payload)
                            .unwrap();
                    assert_eq!(wire, core_frame(fin, opcode, mask, &payload), "{what}");
                    let frame = JsValue::from(decode_frame(&wire).unwrap());
                    assert_eq!(bytes(&frame, "payload"), payload, "{what}");
                    assert_eq!(flag(&frame, "fin"), fin, "{what}");
                    assert_eq!(num(&frame, "opcode"), f64::from(opcode.as_u8()), "{what}");
                    assert_eq!(num(&frame, "frameLength"), wire.len() as f64, "{what}");
                    // The core's own decoder agrees on where the payload starts.
                    let (header, header_len) =
                        FrameHeader::decode(&wire).unwrap().complete().unwrap();
                    assert_eq!(num(&frame, "headerLength"), header_len as f64, "{what}");
                    assert_eq!(header.mask, mask, "{what}");
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn decode_takes_only_the_first_frame() {
    let two = [&b"\x01\x03Hel"[..], b"\x80\x02lo"].concat();
    let frame = JsValue::from(decode_frame(&two).unwrap());
    assert_eq!(bytes(&frame, "payload"), b"Hel");
    assert_eq!(num(&frame, "frameLength"), 5.0);
    let second = JsValue::from(decode_frame(&two[5..]).unwrap());
    assert_eq!(bytes(&second, "payload"), b"lo");
}

#[wasm_bindgen_test]
fn decodes_close_frames_with_code_and_reason() {
    let frame = JsValue::from(decode_frame(b"\x88\x05\x03\xe8bye").unwrap());
    assert_eq!(num(&frame, "closeCode"), 1000.0);
    assert_eq!(text(&frame, "closeReason"), "bye");
    let empty = JsValue::from(decode_frame(b"\x88\x00").unwrap());
    assert_eq!(num(&empty, "closeCode"), 1005.0);
    assert_eq!(text(&empty, "closeReason"), "");
    let text_frame = JsValue::from(decode_frame(b"\x81\x00").unwrap());
    assert!(get(&text_frame, "closeCode").is_undefined());
}

// ---- Every error path ------------------------------------------------------------------------

#[wasm_bindgen_test]
fn short_input_is_incomplete_never_a_protocol_error() {
    let wire = core_frame(true, OpCode::BINARY, Some(RFC_MASK), &[7; 300]);
    for cut in 0..wire.len() {
        let error = thrown(decode_frame(&wire[..cut]), "incomplete");
        assert_eq!(text(&error, "name"), "IncompleteError");
        let message = text(&error, "message");
        assert!(message.starts_with("incomplete frame"), "{message}");
        if cut >= 8 {
            assert!(message.contains("300-byte payload"), "{message}");
            assert!(
                message.contains(&format!("only {} bytes follow", cut - 8)),
                "{message}"
            );
        } else {
            assert!(message.contains("need more bytes"), "{message}");
        }
        assert!(get(&error, "closeCode").is_undefined());
    }
    // A declared length far beyond any buffer is only incomplete, and allocates nothing.
    let huge = [
        0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3,
    ];
    let message = text(&thrown(decode_frame(&huge), "incomplete"), "message");
    assert!(
        message.contains("9223372036854775807-byte payload"),
        "{message}"
    );
}

#[wasm_bindgen_test]
fn protocol_errors_carry_the_close_code_and_reason() {
    let cases: &[(&[u8], u16, &str)] = &[
        (&[0x83, 0x00], 1002, "reserved opcode"),
        (&[0x8F, 0x80], 1002, "reserved opcode"),
        (
            &[0x82, 0x7F, 0x80],
            1002,
            "64-bit length with the top bit set",
        ),
        (&[0x89, 0x7E], 1002, "control frame over 125 bytes"),
        (&[0x09, 0x00], 1002, "fragmented control frame"),
        (&[0x88, 0x01, 0x03], 1002, "one-byte close payload"),
        (&[0x88, 0x02, 0x03, 0xED], 1002, "invalid close code"),
        (&[0x88, 0x02, 0x03, 0xEE], 1002, "invalid close code"),
        (
            &[0x88, 0x03, 0x03, 0xE8, 0xFF],
            1007,
            "close reason not UTF-8",
        ),
        // A masked close frame is unmasked before its payload is judged.
        (
            &[0x88, 0x83, 1, 2, 3, 4, 0x03 ^ 1, 0xE8 ^ 2, 0xFF ^ 3],
            1007,
            "close reason not UTF-8",
        ),
    ];
    for (wire, code, reason) in cases {
        let error = thrown(decode_frame(wire), "protocol");
        assert_eq!(text(&error, "name"), "ProtocolError");
        assert_eq!(num(&error, "closeCode"), f64::from(*code), "{wire:x?}");
        assert_eq!(text(&error, "reason"), *reason, "{wire:x?}");
        let message = text(&error, "message");
        assert!(message.ends_with(&format!("(close {code})")), "{message}");
    }
}

#[wasm_bindgen_test]
fn encode_refuses_what_cannot_be_encoded() {
    for opcode in [0x3, 0x7, 0xB, 0xF] {
        let error = thrown(encode_frame(true, opcode, None, b""), "argument");
        assert_eq!(text(&error, "name"), "ArgumentError");
        assert!(text(&error, "message").contains("reserved"));
    }
    for opcode in [16, 256, u32::MAX] {
        let error = thrown(encode_frame(true, opcode, None, b""), "argument");
        assert!(text(&error, "message").contains("not a 4-bit value"));
    }
    for len in [0, 3, 5, 16] {
        let error = thrown(encode_frame(true, 1, Some(vec![9; len]), b"x"), "argument");
        assert!(text(&error, "message").contains(&format!("not {len}")));
    }
}

#[wasm_bindgen_test]
fn every_two_byte_header_decodes_or_throws_an_error_never_panics() {
    // A masked frame needs its key; give every header four more bytes and a 125-byte payload.
    let mut wire = vec![0u8; 2 + 4 + 125];
    for b0 in 0..=255u8 {
        for b1 in 0..=255u8 {
            wire[0] = b0;
            wire[1] = b1;
            if let Err(error) = decode_frame(&wire) {
                assert!(error.is_instance_of::<Error>());
                let kind = text(&error, "kind");
                assert!(
                    kind == "protocol" || kind == "incomplete",
                    "{b0:#x} {b1:#x}"
                );
            }
        }
    }
}

// ---- The handshake, checked by the core on both sides ----------------------------------------

#[wasm_bindgen_test]
fn verify_handshake_accepts_the_rfc_section_1_2_handshake() {
    let check = JsValue::from(verify_handshake(REQUEST, RESPONSE).unwrap());
    assert_eq!(text(&check, "key"), RFC_KEY);
    assert_eq!(text(&check, "accept"), RFC_ACCEPT);
    assert_eq!(text(&check, "path"), "/chat");
    assert_eq!(text(&check, "host"), "server.example.com");
    assert_eq!(text(&check, "origin"), "http://example.com");
    assert_eq!(text(&check, "protocol"), "chat");
    assert_eq!(num(&check, "requestHeadLength"), REQUEST.len() as f64);
    assert_eq!(num(&check, "responseHeadLength"), RESPONSE.len() as f64);
}

#[wasm_bindgen_test]
fn verify_handshake_says_which_side_is_wrong() {
    let refused = |request: &str, response: &str, side: &str, needle: &str| {
        let error = thrown(verify_handshake(request, response), "handshake");
        assert_eq!(text(&error, "name"), "HandshakeError");
        assert_eq!(text(&error, "side"), side);
        let message = text(&error, "message");
        assert!(message.contains(needle), "{message}");
        error
    };
    let wrong_accept = RESPONSE.replace(RFC_ACCEPT, "AAAALMBiTxaQ9kYGzzhZRbK+xOo=");
    refused(REQUEST, &wrong_accept, "response", "does not match");
    let not_101 = RESPONSE.replace("101 Switching Protocols", "200 OK");
    refused(REQUEST, &not_101, "response", "HTTP 200");
    let unoffered = RESPONSE.replace("Protocol: chat", "Protocol: mqtt");
    refused(REQUEST, &unoffered, "response", "did not offer");
    let no_key = REQUEST.replace("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "");
    let error = refused(&no_key, RESPONSE, "request", "missing Sec-WebSocket-Key");
    assert_eq!(num(&error, "status"), 400.0);
    let old = REQUEST.replace("Version: 13", "Version: 8");
    assert_eq!(
        num(&refused(&old, RESPONSE, "request", "13"), "status"),
        426.0
    );
    assert!(
        get(
            &thrown(verify_handshake(REQUEST, &wrong_accept), "handshake"),
            "status"
        )
        .is_undefined()
    );
}

#[wasm_bindgen_test]
fn verify_handshake_reports_a_cut_head_as_incomplete() {
    let cut_request = &REQUEST[..REQUEST.len() - 2];
    let message = text(
        &thrown(verify_handshake(cut_request, RESPONSE), "incomplete"),
        "message",
    );
    assert!(message.contains("request"), "{message}");
    let cut_response = &RESPONSE[..40];
    let message = text(
        &thrown(verify_handshake(REQUEST, cut_response), "incomplete"),
        "message",
    );
    assert!(message.contains("response"), "{message}");
}
