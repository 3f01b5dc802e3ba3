//! # switchyard-wasm
//!
//! `wasm-bindgen` bindings of [`switchyard_core`], so a browser checks the server's handshake
//! and decodes real frames with the very code the server runs. The bindings hold no protocol
//! logic of their own: each function converts its arguments, calls the core, and converts the
//! result.
//!
//! | JavaScript | core |
//! |---|---|
//! | `acceptKey(key)` | [`AcceptKey::from_key`] (RFC 6455 §1.3, §4.2.2) |
//! | `verifyAccept(key, accept)` | [`AcceptKey::matches`] |
//! | `isValidKey(key)` | [`WebSocketKey::parse`] (§4.2.1 item 5) |
//! | `generateKey()` | [`WebSocketKey::from_nonce`] on 16 bytes of `crypto.getRandomValues` (§4.1) |
//! | `verifyHandshake(request, response)` | [`RequestParser`](switchyard_core::handshake::RequestParser), [`ClientHandshake`](switchyard_core::handshake::ClientHandshake) |
//! | `encodeFrame(fin, opcode, maskKey, payload)` | [`FrameHeader::encode`](switchyard_core::FrameHeader::encode), [`apply_mask`](switchyard_core::frame::mask::apply_mask) (§5.2, §5.3) |
//! | `decodeFrame(bytes)` | [`FrameSplitter`](switchyard_core::frame::split::FrameSplitter), [`apply_mask`](switchyard_core::frame::mask::apply_mask), [`CloseFrame::parse`](switchyard_core::CloseFrame::parse) |
//! | `receiveMessage(agreed, bytes, limit)` | a server [`Connection`](switchyard_core::connection::Connection) with [`DeflateCodec`](switchyard_core::deflate::DeflateCodec) (RFC 7692) for the agreement [`PerMessageDeflate`](switchyard_core::deflate::PerMessageDeflate) reads |
//!
//! Failures are thrown as JavaScript `Error`s with a `kind` and, for protocol errors, the
//! `closeCode` and `reason` the core maps them to; nothing panics. Partial input is not a
//! protocol error: it throws with `kind: "incomplete"`.
//!
//! The functions are plain Rust too (this crate builds on any target), but everything that
//! touches a JavaScript value needs a JavaScript host: the tests run in real browsers
//! (`wasm-pack test --headless --chrome --firefox wasm`).
#![forbid(unsafe_code)]

mod failure;
mod frame;
mod handshake;
mod receive;

use js_sys::{Object, Uint8Array};
use switchyard_core::handshake::{AcceptKey, WebSocketKey};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** A frame decoded by `decodeFrame`. */
export interface DecodedFrame {
  /** FIN: the last frame of its message. */
  fin: boolean;
  /** RSV1..RSV3 as three bits (RSV1 = 0b100). */
  rsv: number;
  /** The opcode, 0x0..0xA. */
  opcode: number;
  /** "continuation", "text", "binary", "close", "ping" or "pong". */
  opcodeName: string;
  /** Close, ping and pong are control frames. */
  isControl: boolean;
  /** Whether the MASK bit is set. */
  masked: boolean;
  /** The 4-byte masking key, or null. */
  maskKey: Uint8Array | null;
  /** Payload bytes. */
  payloadLength: number;
  /** Header bytes: 2 to 14. */
  headerLength: number;
  /** Header plus payload: where a following frame starts. */
  frameLength: number;
  /** The payload as on the wire (masked when `masked`). */
  maskedPayload: Uint8Array;
  /** The payload unmasked. */
  payload: Uint8Array;
  /** Close frames only: the status code (1005 when the payload is empty). */
  closeCode?: number;
  /** Close frames only: the reason. */
  closeReason?: string;
}

/** A permessage-deflate agreement: who resets after each message, and each window's bits. */
export interface DeflateAgreement {
  serverNoContextTakeover: boolean;
  clientNoContextTakeover: boolean;
  serverMaxWindowBits: number;
  clientMaxWindowBits: number;
}

/** A data message a server connection of the core delivered (`receiveMessage`). */
export interface ReceivedMessage {
  /** "text" or "binary". */
  kind: "text" | "binary";
  /** The message's payload: inflated, for a compressed message. */
  data: Uint8Array;
  /** Text messages only: the payload, validated as UTF-8 by the core. */
  text?: string;
}

/** What the core found in a handshake it accepted (`verifyHandshake`). */
export interface HandshakeCheck {
  /** The request's Sec-WebSocket-Key. */
  key: string;
  /** The Sec-WebSocket-Accept the core computes for it (the response carried the same). */
  accept: string;
  path: string;
  host: string;
  origin: string | null;
  /** The subprotocol the server chose, if any. */
  protocol: string | null;
  /** What the server's permessage-deflate answer agreed (RFC 7692 §7.1), or null. */
  deflate: DeflateAgreement | null;
  requestHeadLength: number;
  responseHeadLength: number;
}
"#;

#[wasm_bindgen]
extern "C" {
    /// `crypto.getRandomValues`: in windows and workers alike.
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    fn get_random_values(array: &Uint8Array) -> Result<(), JsValue>;
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`, as sent (its base64 text):
/// `base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))`. Hashes any text; use
/// `isValidKey` to check the key itself.
#[wasm_bindgen(js_name = acceptKey)]
pub fn accept_key(key: &str) -> String {
    AcceptKey::from_key(key.as_bytes()).as_str().to_owned()
}

/// Whether `accept` is exactly the `Sec-WebSocket-Accept` value for `key`.
#[wasm_bindgen(js_name = verifyAccept)]
pub fn verify_accept(key: &str, accept: &str) -> bool {
    AcceptKey::from_key(key.as_bytes()).matches(accept.as_bytes())
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: the 24-character base64 of 16 bytes.
#[wasm_bindgen(js_name = isValidKey)]
pub fn is_valid_key(key: &str) -> bool {
    WebSocketKey::parse(key.as_bytes()).is_some()
}

/// A fresh `Sec-WebSocket-Key`: 16 random bytes from `crypto.getRandomValues`, in base64.
#[wasm_bindgen(js_name = generateKey)]
pub fn generate_key() -> Result<String, JsValue> {
    let array = Uint8Array::new_with_length(16);
    get_random_values(&array)?;
    let mut nonce = [0u8; 16];
    array.copy_to(&mut nonce);
    Ok(WebSocketKey::from_nonce(&nonce).as_str().to_owned())
}

/// Checks a raw handshake request head and the raw response head that answered it, with the
/// core's server-side request parser and client-side response validator (which also checks a
/// permessage-deflate answer against the request's offer). Returns a `HandshakeCheck`; throws
/// a `kind: "handshake"` error saying which side is wrong and why.
#[wasm_bindgen(js_name = verifyHandshake, unchecked_return_type = "HandshakeCheck")]
pub fn verify_handshake(request: &str, response: &str) -> Result<Object, JsValue> {
    Ok(handshake::check(request, response)?.to_js())
}

/// Encodes one frame: FIN, opcode (0x0–0x2, 0x8–0xA), an optional 4-byte mask key (`null` or
/// `undefined` for none) and the payload, which is masked when a key is given.
#[wasm_bindgen(js_name = encodeFrame)]
pub fn encode_frame(
    fin: bool,
    opcode: u32,
    #[wasm_bindgen(js_name = maskKey)] mask_key: Option<Vec<u8>>,
    payload: &[u8],
) -> Result<Vec<u8>, JsValue> {
    Ok(frame::encode(fin, opcode, mask_key.as_deref(), payload)?)
}

/// Decodes the first frame of `bytes` and unmasks its payload. Returns a `DecodedFrame`;
/// throws a `kind: "protocol"` error with `closeCode` and `reason` when the bytes break the
/// protocol, and a `kind: "incomplete"` error when the header or payload is cut short.
#[wasm_bindgen(js_name = decodeFrame, unchecked_return_type = "DecodedFrame")]
pub fn decode_frame(bytes: &[u8]) -> Result<Object, JsValue> {
    Ok(frame::decode(bytes)?.to_js())
}

/// Receives one message from `bytes`, the frames a client sent exactly as they arrived
/// (masked; RSV1 on the first frame of a compressed message), with a server connection of the
/// core: `agreed` is the `Sec-WebSocket-Extensions` the server answered, as written in its
/// 101 (empty for none; Firefox's `WebSocket.extensions` holds only the name), `limit` the
/// most bytes the message may hold once inflated (a larger one throws close 1009, as the
/// server would close). A compressed message is
/// inflated by the core's permessage-deflate codec (RFC 7692), which can take a message on its
/// own only when the agreement has `client_no_context_takeover`: any other agreement throws a
/// `kind: "argument"` error. Returns a `ReceivedMessage`; throws `kind: "protocol"` with
/// `closeCode` and `reason` for bytes the server would close the connection over, and
/// `kind: "incomplete"` when the bytes end before a data message does. `limit` is a
/// JavaScript number: a whole number of bytes, at least 0 (a larger one than this platform
/// can address, `Infinity` included, means no limit); anything else throws `kind:
/// "argument"` (taken as a `usize`, a limit of 2^32 or more wrapped around on wasm32, and
/// `undefined` was 0).
#[wasm_bindgen(js_name = receiveMessage, unchecked_return_type = "ReceivedMessage")]
pub fn receive_message(agreed: &str, bytes: &[u8], limit: f64) -> Result<Object, JsValue> {
    let limit = receive::limit(limit)?;
    Ok(receive::to_js(&receive::receive(agreed, bytes, limit)?))
}
