//! permessage-deflate (RFC 7692) through the bindings in real browsers: `receiveMessage`
//! inflating with the core's codec, and `verifyHandshake` reading an agreement against the
//! browser's offer. On the host this file is empty: everything here needs a JavaScript engine.
#![cfg(target_arch = "wasm32")]

mod common;

use common::*;
use switchyard_core::connection::{Connection, Role};
use switchyard_core::deflate::{DeflateAgreement, DeflateCodec, DeflateConfig};
use switchyard_core::{Limits, OpCode};
use switchyard_wasm::{decode_frame, receive_message, verify_handshake};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

wasm_bindgen_test_configure!(run_in_browser);

/// What `/inspect` answers Chrome's offer with, and Firefox's.
const CHROME_AGREED: &str = "permessage-deflate; client_no_context_takeover; \
                             server_max_window_bits=12; client_max_window_bits=12";
const FIREFOX_AGREED: &str =
    "permessage-deflate; client_no_context_takeover; server_max_window_bits=12";
const RSV1: u8 = 0b100;
// RFC 7692 §7.2.3.1: "Hello" compressed.
const DEFLATED_HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

/// A masked client frame with RSV bits, as a browser sends a compressed message.
fn client_frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut wire = core_frame(fin, opcode, Some(RFC_MASK), payload);
    wire[0] |= rsv << 4;
    wire
}

/// The frames the core's own client sends for `text`, compressed under `CHROME_AGREED`.
fn core_client_text(text: &str) -> Vec<u8> {
    let agreed = DeflateAgreement {
        server_no_context_takeover: false,
        client_no_context_takeover: true,
        server_max_window_bits: 12,
        client_max_window_bits: 12,
    };
    let codec = DeflateCodec::new(Role::Client, &agreed, &DeflateConfig::CLIENT);
    let mut client = Connection::client(Limits::default(), || RFC_MASK).with_extension(codec);
    client.send_text(text).unwrap();
    let mut wire = Vec::new();
    loop {
        let chunk = client.poll_transmit();
        if chunk.is_empty() {
            return wire;
        }
        let n = chunk.len();
        wire.extend_from_slice(chunk);
        client.consume_transmit(n);
    }
}

#[wasm_bindgen_test]
fn receive_message_inflates_what_the_core_client_compressed() {
    let json = format!(
        "[{}]",
        vec![r#"{"id":7,"text":"ünïcödé ✓"}"#; 2000].join(",")
    );
    let wire = core_client_text(&json);
    assert!(
        wire.len() < json.len() / 20,
        "{} bytes compressed",
        wire.len()
    );
    let frame = JsValue::from(decode_frame(&wire).unwrap());
    assert_eq!(num(&frame, "rsv"), f64::from(RSV1));
    let message = JsValue::from(receive_message(CHROME_AGREED, &wire, 1_048_576.0).unwrap());
    assert_eq!(text(&message, "text"), json);
}

#[wasm_bindgen_test]
fn receive_message_inflates_the_rfc_7692_examples() {
    let one = client_frame(true, RSV1, OpCode::TEXT, &DEFLATED_HELLO);
    let two = [
        client_frame(false, RSV1, OpCode::TEXT, &DEFLATED_HELLO[..3]),
        client_frame(true, 0, OpCode::CONTINUATION, &DEFLATED_HELLO[3..]),
    ]
    .concat();
    for agreed in [CHROME_AGREED, FIREFOX_AGREED] {
        for wire in [&one, &two] {
            let message = JsValue::from(receive_message(agreed, wire, 1_048_576.0).unwrap());
            assert_eq!(text(&message, "kind"), "text");
            assert_eq!(text(&message, "text"), "Hello");
            assert_eq!(bytes(&message, "data"), b"Hello");
        }
    }
    // The frame decoder shows the same bytes compressed, with RSV1 set.
    let frame = JsValue::from(decode_frame(&one).unwrap());
    assert_eq!(num(&frame, "rsv"), f64::from(RSV1));
    assert_eq!(bytes(&frame, "payload"), DEFLATED_HELLO);
}

#[wasm_bindgen_test]
fn receive_message_passes_an_uncompressed_binary_message_through() {
    let wire = client_frame(true, 0, OpCode::BINARY, &[0, 0xff, 0x80]);
    let message = JsValue::from(receive_message(CHROME_AGREED, &wire, 1_048_576.0).unwrap());
    assert_eq!(text(&message, "kind"), "binary");
    assert_eq!(bytes(&message, "data"), [0, 0xff, 0x80]);
    assert!(get(&message, "text").is_undefined());
}

#[wasm_bindgen_test]
fn receive_message_throws_the_close_code_a_server_would_send() {
    let cases: [(&str, Vec<u8>, f64, u16, &str); 4] = [
        // RSV1 with nothing agreed is a reserved bit (RFC 6455 §5.2).
        (
            "",
            client_frame(true, RSV1, OpCode::TEXT, &DEFLATED_HELLO),
            1_048_576.0,
            1002,
            "reserved bits set",
        ),
        // A reserved block type: the data does not inflate.
        (
            CHROME_AGREED,
            client_frame(true, RSV1, OpCode::TEXT, &[0xff, 0xff]),
            1_048_576.0,
            1007,
            "extension data does not decode",
        ),
        // 1000 bytes inflated against a limit of 999.
        (
            CHROME_AGREED,
            core_client_text(&"a".repeat(1000)),
            999.0,
            1009,
            "message too large",
        ),
        // Inflated text that is not UTF-8.
        (
            CHROME_AGREED,
            client_frame(
                true,
                RSV1,
                OpCode::TEXT,
                &[0x00, 0x01, 0x00, 0xfe, 0xff, 0xe9],
            ),
            1_048_576.0,
            1007,
            "invalid UTF-8 in text",
        ),
    ];
    for (agreed, wire, limit, code, reason) in cases {
        let error = thrown(receive_message(agreed, &wire, limit), "protocol");
        assert_eq!(num(&error, "closeCode"), f64::from(code), "{reason}");
        assert_eq!(text(&error, "reason"), reason);
    }
    // The same 1000 bytes within a limit of 1000 are whole.
    let wire = core_client_text(&"a".repeat(1000));
    let message = JsValue::from(receive_message(CHROME_AGREED, &wire, 1000.0).unwrap());
    assert_eq!(text(&message, "text"), "a".repeat(1000));
}

#[wasm_bindgen_test]
fn receive_message_refuses_an_agreement_that_keeps_the_client_window() {
    let wire = client_frame(true, RSV1, OpCode::TEXT, &DEFLATED_HELLO);
    let error = thrown(
        receive_message(
            "permessage-deflate; client_max_window_bits=12",
            &wire,
            1_048_576.0,
        ),
        "argument",
    );
    assert_eq!(text(&error, "name"), "ArgumentError");
    assert!(text(&error, "message").contains("client_no_context_takeover"));
    let error = thrown(
        receive_message("permessage-deflate; bogus", &wire, 1_048_576.0),
        "argument",
    );
    assert!(text(&error, "message").contains("not a permessage-deflate agreement"));
}

/// The limit is a JavaScript number: one of 2^32 or more is no limit on wasm32 (it wrapped
/// around to a small one when taken as a `usize`), and one that is not a whole number of
/// bytes is refused.
#[wasm_bindgen_test]
fn receive_message_takes_any_whole_limit_and_refuses_the_rest() {
    let wire = core_client_text(&"a".repeat(1000));
    for limit in [4_294_967_296.0, 4_294_968_296.0, f64::INFINITY] {
        let message = JsValue::from(receive_message(CHROME_AGREED, &wire, limit).unwrap());
        assert_eq!(text(&message, "text"), "a".repeat(1000), "{limit}");
    }
    for limit in [f64::NAN, -1.0, 0.5] {
        thrown(receive_message(CHROME_AGREED, &wire, limit), "argument");
    }
}

#[wasm_bindgen_test]
fn receive_message_reports_a_cut_message_as_incomplete() {
    let wire = client_frame(true, RSV1, OpCode::TEXT, &DEFLATED_HELLO);
    for cut in 0..wire.len() {
        let error = thrown(
            receive_message(CHROME_AGREED, &wire[..cut], 1_048_576.0),
            "incomplete",
        );
        assert!(text(&error, "message").starts_with("incomplete message"));
    }
}

#[wasm_bindgen_test]
fn verify_handshake_reads_the_deflate_agreement_against_the_offer() {
    let offer = |value: &str| {
        REQUEST.replace(
            "Sec-WebSocket-Version",
            &format!("Sec-WebSocket-Extensions: {value}\r\nSec-WebSocket-Version"),
        )
    };
    let answer = |value: &str| {
        RESPONSE.replace(
            "Sec-WebSocket-Protocol",
            &format!("Sec-WebSocket-Extensions: {value}\r\nSec-WebSocket-Protocol"),
        )
    };
    let chrome = offer("permessage-deflate; client_max_window_bits");
    let check = JsValue::from(verify_handshake(&chrome, &answer(CHROME_AGREED)).unwrap());
    let deflate = get(&check, "deflate");
    assert!(flag(&deflate, "clientNoContextTakeover"));
    assert!(!flag(&deflate, "serverNoContextTakeover"));
    assert_eq!(num(&deflate, "serverMaxWindowBits"), 12.0);
    assert_eq!(num(&deflate, "clientMaxWindowBits"), 12.0);
    let firefox = offer("permessage-deflate");
    let check = JsValue::from(verify_handshake(&firefox, &answer(FIREFOX_AGREED)).unwrap());
    assert_eq!(num(&get(&check, "deflate"), "clientMaxWindowBits"), 15.0);
    // Declined, or never offered: no agreement.
    let check = JsValue::from(verify_handshake(&chrome, RESPONSE).unwrap());
    assert!(get(&check, "deflate").is_null());
    // An answer above the offer, or to no offer, is refused on the response side.
    let small = offer("permessage-deflate; server_max_window_bits=10");
    for (request, response) in [
        (small, answer(FIREFOX_AGREED)),
        (REQUEST.to_owned(), answer(FIREFOX_AGREED)),
    ] {
        let error = thrown(verify_handshake(&request, &response), "handshake");
        assert_eq!(text(&error, "side"), "response");
    }
}
