//! Every failure of the bindings, and how it reaches JavaScript: always as a real `Error` with a
//! clear message and machine-readable fields, never as a panic.
//!
//! | `kind` | `name` | extra fields | when |
//! |---|---|---|---|
//! | `"protocol"` | `ProtocolError` | `closeCode`, `reason` | the bytes break RFC 6455; the core's close code and reason |
//! | `"incomplete"` | `IncompleteError` | — | not enough bytes yet: not the peer's fault |
//! | `"handshake"` | `HandshakeError` | `side`, `status` (request side) | the core refused a handshake request or response |
//! | `"argument"` | `ArgumentError` | — | the caller asked for something that cannot be encoded, or gave an agreement a message cannot be inflated under |

use js_sys::{Error, Reflect};
use switchyard_core::ProtocolError;
use wasm_bindgen::JsValue;

/// Which half of the opening handshake the core refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// The client's GET request.
    Request,
    /// The server's 101 answer.
    Response,
}

impl Side {
    const fn as_str(self) -> &'static str {
        match self {
            Side::Request => "request",
            Side::Response => "response",
        }
    }
}

/// Why a binding could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Failure {
    /// The peer broke the protocol; carries the close code and reason the core maps it to.
    Protocol(ProtocolError),
    /// The input ends before the item does. A parser's "not yet", reported as an error because
    /// a one-shot JS call has no more bytes to wait for.
    Incomplete(String),
    /// The core refused a handshake. `status` is the HTTP status a server answers a refused
    /// request with; a refused response has none.
    Handshake {
        side: Side,
        message: String,
        status: Option<u16>,
    },
    /// An argument the caller passed cannot be encoded or used (an extension agreement
    /// `receiveMessage` cannot inflate under).
    Argument(String),
}

impl Failure {
    /// The human-readable message of the JS error.
    pub(crate) fn message(&self) -> String {
        match self {
            Failure::Protocol(e) => format!("{e}"),
            Failure::Incomplete(m) | Failure::Argument(m) => m.clone(),
            Failure::Handshake {
                side,
                message,
                status: Some(status),
            } => format!("{} refused ({status}): {message}", side.as_str()),
            Failure::Handshake {
                side,
                message,
                status: None,
            } => format!("{} refused: {message}", side.as_str()),
        }
    }

    const fn kind(&self) -> (&'static str, &'static str) {
        match self {
            Failure::Protocol(_) => ("protocol", "ProtocolError"),
            Failure::Incomplete(_) => ("incomplete", "IncompleteError"),
            Failure::Handshake { .. } => ("handshake", "HandshakeError"),
            Failure::Argument(_) => ("argument", "ArgumentError"),
        }
    }
}

impl From<Failure> for JsValue {
    fn from(failure: Failure) -> JsValue {
        let error = Error::new(&failure.message());
        let (kind, name) = failure.kind();
        error.set_name(name);
        let value = JsValue::from(error);
        set(&value, "kind", kind);
        match &failure {
            Failure::Protocol(e) => {
                set(&value, "closeCode", e.close_code().as_u16());
                set(&value, "reason", e.reason());
            }
            Failure::Handshake { side, status, .. } => {
                set(&value, "side", side.as_str());
                if let Some(status) = status {
                    set(&value, "status", *status);
                }
            }
            Failure::Incomplete(_) | Failure::Argument(_) => {}
        }
        value
    }
}

/// Sets a property on an object the bindings just created.
pub(crate) fn set(target: &JsValue, key: &str, value: impl Into<JsValue>) {
    // `Reflect.set` fails only on frozen objects, proxies and setters that throw; every target
    // here is a fresh ordinary object or `Error`, so there is no failure to report.
    let _ = Reflect::set(target, &JsValue::from_str(key), &value.into());
}
