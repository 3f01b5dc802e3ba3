//! `verifyHandshake`: a real request and its response, both checked by the core.
//!
//! The request goes through the server side's [`RequestParser`] (RFC 6455 §4.2.1), exactly as
//! the server parsed it. The response goes through the client side's
//! [`ClientHandshake::parse_response`] (§4.1), built from that request's own key, host, path,
//! origin, subprotocols and permessage-deflate offer, so the answer is judged against what the
//! browser really asked.
//!
//! The browser's first valid permessage-deflate offer becomes the core client's
//! [`DeflateConfig`], so its answer is checked by RFC 7692 §7.1's rules as the core applies them
//! (echoed parameters, windows no larger than offered). One rule cannot be carried over: the
//! core's client always offers `client_max_window_bits`, so an offer without it (Firefox's)
//! is checked as if it had offered it without a value, and an answer that names it anyway
//! (§7.1.2.2 forbids that) is not refused here.

use js_sys::Object;
use switchyard_core::deflate::params::{MAX_WINDOW_BITS, NAME};
use switchyard_core::deflate::{DeflateAgreement, DeflateConfig, DeflateParams, PerMessageDeflate};
use switchyard_core::handshake::{ClientHandshake, ClientRequest, ExtensionOffers, RequestParser};
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
    /// What permessage-deflate's answer agreed, when the server accepted an offer.
    pub(crate) deflate: Option<DeflateAgreement>,
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
        let deflate = self.deflate.map_or(JsValue::NULL, |agreed| {
            let deflate = JsValue::from(Object::new());
            set(
                &deflate,
                "serverNoContextTakeover",
                agreed.server_no_context_takeover,
            );
            set(
                &deflate,
                "clientNoContextTakeover",
                agreed.client_no_context_takeover,
            );
            set(
                &deflate,
                "serverMaxWindowBits",
                agreed.server_max_window_bits,
            );
            set(
                &deflate,
                "clientMaxWindowBits",
                agreed.client_max_window_bits,
            );
            deflate
        });
        set(&object, "deflate", deflate);
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
    let deflate = browser_offer(req.offer().offered_extensions()).map(PerMessageDeflate::new);
    let mut client = ClientHandshake::with_extension(
        client_request,
        deflate,
        req.key().nonce(),
        Limits::default(),
    )
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
        deflate: client
            .extension()
            .as_ref()
            .and_then(PerMessageDeflate::agreed),
        request_head_len,
        response_head_len,
    })
}

/// The browser's first permessage-deflate offer that the core can read (a server skips the
/// others, RFC 7692 §5.1), as the settings with which the core's client makes the same offer.
fn browser_offer(offers: ExtensionOffers<'_>) -> Option<DeflateConfig> {
    let offer = offers
        .flatten()
        .filter(|offer| offer.name().eq_ignore_ascii_case(NAME))
        .find_map(|offer| DeflateParams::parse(&offer).ok())?;
    let mut config = DeflateConfig::CLIENT;
    config.server_no_context_takeover = offer.server_no_context_takeover;
    config.client_no_context_takeover = offer.client_no_context_takeover;
    config.server_max_window_bits = offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS);
    config.client_max_window_bits = offer
        .client_max_window_bits
        .flatten()
        .unwrap_or(MAX_WINDOW_BITS);
    Some(config)
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

    /// The RFC sample with a permessage-deflate offer and answer.
    fn with_deflate(offer: &str, answer: &str) -> (String, String) {
        let request = REQUEST.replace(
            "Sec-WebSocket-Version",
            &format!("Sec-WebSocket-Extensions: {offer}\r\nSec-WebSocket-Version"),
        );
        let response = if answer.is_empty() {
            RESPONSE.to_owned()
        } else {
            RESPONSE.replace(
                "\r\n\r\n",
                &format!("\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n"),
            )
        };
        (request, response)
    }

    #[test]
    fn reads_the_deflate_agreement_of_chrome_and_firefox() {
        let agreed = |offer, answer| {
            let (request, response) = with_deflate(offer, answer);
            check(&request, &response).unwrap().deflate
        };
        let chrome = agreed(
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12; client_max_window_bits=12",
        )
        .unwrap();
        assert_eq!(
            (
                chrome.client_no_context_takeover,
                chrome.server_max_window_bits,
                chrome.client_max_window_bits
            ),
            (true, 12, 12)
        );
        let firefox = agreed(
            "permessage-deflate",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12",
        )
        .unwrap();
        assert_eq!(
            (
                firefox.client_no_context_takeover,
                firefox.server_max_window_bits,
                firefox.client_max_window_bits
            ),
            (true, 12, 15)
        );
        // The first offer the core can read is the one answered (RFC 7692 §5.1).
        let second = agreed(
            "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
        )
        .unwrap();
        assert_eq!(second.server_max_window_bits, 10);
        // Offered and declined: nothing agreed, and nothing wrong.
        assert_eq!(agreed("permessage-deflate", ""), None);
        assert_eq!(check(REQUEST, RESPONSE).unwrap().deflate, None);
    }

    #[test]
    fn refuses_a_deflate_answer_the_browser_did_not_allow() {
        for (offer, answer) in [
            // Nothing offered.
            ("x-unknown", "permessage-deflate"),
            // A window above the offer's (§7.1.2.1), an offered parameter not echoed (§7.1.1.1).
            (
                "permessage-deflate; server_max_window_bits=10",
                "permessage-deflate; server_max_window_bits=12",
            ),
            (
                "permessage-deflate; server_no_context_takeover",
                "permessage-deflate",
            ),
            // A client window without a value (§7.1.2.2), a parameter twice.
            (
                "permessage-deflate; client_max_window_bits",
                "permessage-deflate; client_max_window_bits",
            ),
            (
                "permessage-deflate",
                "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            ),
        ] {
            let (request, response) = with_deflate(offer, answer);
            assert!(
                matches!(
                    check(&request, &response),
                    Err(Failure::Handshake {
                        side: Side::Response,
                        ..
                    })
                ),
                "{offer} / {answer}"
            );
        }
        // No offer at all (the RFC sample).
        let (_, response) = with_deflate("", "permessage-deflate");
        assert!(check(REQUEST, &response).is_err());
    }
}
