//! What the browser test files share: the RFC 6455 examples, and readers of the JavaScript
//! values the bindings return or throw.
#![allow(dead_code)]

use js_sys::{Error, Reflect, Uint8Array};
use switchyard_core::frame::MAX_HEADER_LEN;
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::{FrameHeader, OpCode};
use wasm_bindgen::{JsCast, JsValue};

pub(crate) const RFC_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub(crate) const RFC_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
pub(crate) const RFC_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &JsValue::from_str(key)).expect("Reflect.get on an object")
}

pub(crate) fn num(object: &JsValue, key: &str) -> f64 {
    get(object, key)
        .as_f64()
        .unwrap_or_else(|| panic!("{key} is not a number"))
}

pub(crate) fn flag(object: &JsValue, key: &str) -> bool {
    get(object, key)
        .as_bool()
        .unwrap_or_else(|| panic!("{key} is not a boolean"))
}

pub(crate) fn text(object: &JsValue, key: &str) -> String {
    get(object, key)
        .as_string()
        .unwrap_or_else(|| panic!("{key} is not a string"))
}

pub(crate) fn bytes(object: &JsValue, key: &str) -> Vec<u8> {
    get(object, key)
        .dyn_into::<Uint8Array>()
        .unwrap_or_else(|_| panic!("{key} is not a Uint8Array"))
        .to_vec()
}

/// The thrown value, checked to be a real JS `Error` of the given kind.
pub(crate) fn thrown<T: std::fmt::Debug>(result: Result<T, JsValue>, kind: &str) -> JsValue {
    let error = result.expect_err("expected a thrown error");
    assert!(error.is_instance_of::<Error>(), "not an Error: {error:?}");
    assert_eq!(text(&error, "kind"), kind, "{error:?}");
    assert!(!text(&error, "message").is_empty());
    error
}

/// The frame the core itself makes: its header encoder, then its masking.
pub(crate) fn core_frame(
    fin: bool,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) -> Vec<u8> {
    let header = FrameHeader {
        fin,
        rsv: 0,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; MAX_HEADER_LEN];
    let n = header.encode(&mut head).unwrap();
    let mut out = head[..n].to_vec();
    let mut body = payload.to_vec();
    if let Some(key) = mask {
        apply_mask(&mut body, key, 0);
    }
    out.extend_from_slice(&body);
    out
}

// RFC 6455 §1.2's sample handshake.
pub(crate) const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";
pub(crate) const RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
    Sec-WebSocket-Protocol: chat\r\n\r\n";
