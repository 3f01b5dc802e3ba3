//! `verifyHandshake`: a real request and its response, both checked by the core.
//!
//! The request goes through the server side's [`RequestParser`] (RFC 6455 §4.2.1), exactly as
//! the server parsed it. The response goes through the client side's
//! [`ClientHandshake::parse_response`] (§4.1), built from that request's own key, host, path,
//! origin and subprotocols, so the answer is judged against what the browser really asked.

use js_sys::Object;
use switchyard_core::handshake::{ClientHandshake, ClientRequest, RequestParser};
use switchyard_core::{Limits, Parsed};
use wasm_bindgen::JsValue;

use crate::failure::{Failure, Side, set};

/// What the core found in a handshake it accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    pub(crate) key: String,
    pub(crate) accept: String,
    pub(crate) path: String,
    pub(crate) host: String,
    pub(crate) origin: Option<String>,
    pub(crate) protocol: Option<String>,
    pub(crate) request_head_len: usize,
    pub(crate) response_head_len: usize,
}

impl Checked {
    /// The plain JS object `verifyHandshake` returns (see `HandshakeCheck` in the TypeScript
    /// types).
    pub(crate) fn to_js(&self) -> Object {
        let object = JsValue::from(Object::new());
        set(&object, "key", self.key.as_str());
        set(&object, "accept", self.accept.as_str());
        set(&object, "path", self.path.as_str());
        set(&object, "host", self.host.as_str());
        set(
            &object,
            "origin",
            self.origin
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
        );
        set(
            &object,
            "protocol",
            self.protocol
                .as_deref()
                .map_or(JsValue::NULL, JsValue::from_str),
        );
        set(&object, "requestHeadLength", self.request_head_len as f64);
        set(&object, "responseHeadLength", self.response_head_len as f64);
        object.into()
    }
}

/// Checks a raw request head and the raw response head that answered it.
pub(crate) fn check(request: &str, response: &str) -> Result<Checked, Failure> {
    let incomplete = |what: &str| {
        Failure::Incomplete(format!(
            "incomplete {what} head: need more bytes (no blank line ends it yet)"
        ))
    };
    let (req, request_head_len) = match RequestParser::new(Limits::default())
        .parse(request.as_bytes())
        .map_err(|e| Failure::Handshake {
            side: Side::Request,
            message: e.message().to_owned(),
            status: Some(e.status().as_u16()),
        })? {
        Parsed::Complete(req, len) => (req, len),
        Parsed::Partial => return Err(incomplete("request")),
    };
    let refused = |message: String| Failure::Handshake {
        side: Side::Response,
        message,
        status: None,
    };
    // The client side is rebuilt from what the browser sent: its key's own nonce, its target,
    // origin and subprotocols.
    let offered: Vec<&str> = req.offer().offered_protocols().collect();
    let client_request = ClientRequest {
        origin: req.origin(),
        protocols: &offered,
        ..ClientRequest::new(req.host(), req.head().target())
    };
    let mut client = ClientHandshake::new(client_request, req.key().nonce(), Limits::default())
        .map_err(|e| refused(format!("{e}")))?;
    let (res, response_head_len) = match client
        .parse_response(response.as_bytes())
        .map_err(|e| refused(format!("{e}")))?
    {
        Parsed::Complete(res, len) => (res, len),
        Parsed::Partial => return Err(incomplete("response")),
    };
    Ok(Checked {
        key: req.key().as_str().to_owned(),
        accept: req.accept_key().as_str().to_owned(),
        path: req.head().target().to_owned(),
        host: req.host().to_owned(),
        origin: req.origin().map(str::to_owned),
        protocol: res.protocol().map(str::to_owned),
        request_head_len,
        response_head_len,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6455 §1.2's sample handshake (minus the subprotocol).
    const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Version: 13\r\n\r\n";
    const RESPONSE: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

    #[test]
    fn accepts_the_rfc_sample_handshake() {
        let checked = check(REQUEST, RESPONSE).unwrap();
        assert_eq!(checked.key, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(checked.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(checked.origin.as_deref(), Some("http://example.com"));
        assert_eq!(
            (checked.request_head_len, checked.response_head_len),
            (REQUEST.len(), RESPONSE.len())
        );
    }

    #[test]
    fn refuses_a_wrong_accept_on_the_response_side() {
        let wrong = RESPONSE.replace(
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
            "AAAALMBiTxaQ9kYGzzhZRbK+xOo=",
        );
        assert!(matches!(
            check(REQUEST, &wrong),
            Err(Failure::Handshake {
                side: Side::Response,
                status: None,
                ..
            })
        ));
    }

    #[test]
    fn refuses_a_bad_request_with_its_http_status() {
        let post = REQUEST.replacen("GET", "POST", 1);
        assert!(matches!(
            check(&post, RESPONSE),
            Err(Failure::Handshake {
                side: Side::Request,
                status: Some(400),
                ..
            })
        ));
    }
}
