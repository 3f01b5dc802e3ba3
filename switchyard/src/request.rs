//! [`Request`]: the opening handshake request a server accepted, owned.

use std::ops::Range;

use switchyard_core::handshake::http::split_target;
use switchyard_core::handshake::{self, AcceptKey, HandshakeError, OriginPolicy, WebSocketKey};

use crate::Headers;

/// A valid WebSocket upgrade request, as the core validated it: target, `Host`, `Origin`,
/// the offered subprotocols and extensions, and every header field.
///
/// The application gets it from [`accept`](crate::accept) beside the connection, from
/// [`PendingUpgrade::request`](crate::PendingUpgrade::request) before answering, and in the
/// callback of [`accept_with`](crate::accept_with).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The head, copied once; target, host and origin are found in it.
    headers: Headers,
    target: Range<usize>,
    host: Range<usize>,
    origin: Option<Range<usize>>,
    key: WebSocketKey,
    protocols: Vec<String>,
    extensions: Vec<String>,
}

impl Request {
    /// Copies out what the application may want from a request the core accepted: the head
    /// in one allocation, and the offers (none, in most requests: no allocation).
    pub(crate) fn from_core(request: &handshake::Request<'_>) -> Request {
        let head = request.head();
        let bytes = head.as_bytes();
        Request {
            headers: Headers::of_request(head),
            target: span(bytes, head.target()),
            host: span(bytes, request.host()),
            origin: request.origin().map(|origin| span(bytes, origin)),
            key: *request.key(),
            protocols: request
                .offer()
                .offered_protocols()
                .map(String::from)
                .collect(),
            extensions: request
                .offer()
                .offered_extensions()
                .filter_map(Result::ok)
                .map(|offer| {
                    let mut element = offer.name().to_owned();
                    for (name, value) in offer.params() {
                        element.push_str("; ");
                        element.push_str(name);
                        if let Some(value) = value {
                            element.push('=');
                            element.push_str(value);
                        }
                    }
                    element
                })
                .collect(),
        }
    }

    /// The text at `range` of the head: a span [`span`] took from the core's `&str`, so
    /// always UTF-8 on a char boundary (the empty string otherwise, never a panic).
    fn text(&self, range: &Range<usize>) -> &str {
        self.headers.text(range.clone()).unwrap_or_default()
    }

    /// The request target as sent: path and query.
    pub fn target(&self) -> &str {
        self.text(&self.target)
    }

    /// The path: the target without its query (and, in the absolute form, without its
    /// scheme and authority: [`split_target`]).
    pub fn path(&self) -> &str {
        split_target(self.target()).0
    }

    /// The query, without its `?`, if the target has one.
    pub fn query(&self) -> Option<&str> {
        split_target(self.target()).1
    }

    /// The `Host` value (RFC 6455 §4.2.1 item 2).
    pub fn host(&self) -> &str {
        self.text(&self.host)
    }

    /// The `Origin` value, if the client sent one (browsers always do, RFC 6455 §4.1
    /// item 8).
    pub fn origin(&self) -> Option<&str> {
        self.origin.as_ref().map(|range| self.text(range))
    }

    /// The client's `Sec-WebSocket-Key` (RFC 6455 §4.2.1 item 5).
    pub fn key(&self) -> &WebSocketKey {
        &self.key
    }

    /// The value the 101 answer carries in `Sec-WebSocket-Accept` (RFC 6455 §4.2.2).
    pub fn accept_key(&self) -> AcceptKey {
        self.key.accept_key()
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The subprotocols offered, in the client's order of preference (§4.1 item 10).
    pub fn offered_protocols(&self) -> &[String] {
        &self.protocols
    }

    /// The extension offers in order (§9.1), each as its name and parameters
    /// (`name; param=value`, quotes removed). None is negotiated yet; the list is for the
    /// application to see.
    pub fn offered_extensions(&self) -> &[String] {
        &self.extensions
    }

    /// The first of the client's offered subprotocols that `supported` holds: always one the
    /// client offered (§4.2.2 item 5.4), so an [`Answer`](crate::Answer) may select it.
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&str> {
        self.protocols
            .iter()
            .map(String::as_str)
            .find(|offered| supported.contains(offered))
    }

    /// Applies an Origin policy: [`HandshakeError::ForbiddenOrigin`] (403) if it refuses
    /// (RFC 6455 §10.2).
    pub fn check_origin<S: AsRef<str>>(
        &self,
        policy: &OriginPolicy<'_, S>,
    ) -> Result<(), HandshakeError> {
        if policy.allows(self.origin(), self.host()) {
            Ok(())
        } else {
            Err(HandshakeError::ForbiddenOrigin)
        }
    }
}

/// Where `part`, a slice of `head`, lies in it (empty if it is not one: never, for the
/// core's views of the head it validated).
fn span(head: &[u8], part: &str) -> Range<usize> {
    let offset = (part.as_ptr() as usize).wrapping_sub(head.as_ptr() as usize);
    match offset.checked_add(part.len()) {
        Some(end) if end <= head.len() => offset..end,
        _ => 0..0,
    }
}

#[cfg(test)]
mod tests {
    use switchyard_core::{Limits, Parsed};

    use super::*;

    fn parse(head: &str) -> Request {
        let mut parser = handshake::RequestParser::new(Limits::default());
        match parser.parse(head.as_bytes()) {
            Ok(Parsed::Complete(request, _)) => Request::from_core(&request),
            other => panic!("not a valid request: {other:?}"),
        }
    }

    const HEAD: &str = "GET /room/7?user=ann&x=1 HTTP/1.1\r\nHost: example.com\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat.v2, chat.v1\r\n\
        Cookie: session=abc\r\n\r\n";

    #[test]
    fn splits_target_into_path_and_query() {
        let request = parse(HEAD);
        assert_eq!(request.target(), "/room/7?user=ann&x=1");
        assert_eq!(request.path(), "/room/7");
        assert_eq!(request.query(), Some("user=ann&x=1"));
    }

    #[test]
    fn keeps_every_header_and_the_offers() {
        let request = parse(HEAD);
        assert_eq!(request.headers().get_str("cookie"), Some("session=abc"));
        assert_eq!(request.headers().len(), 8);
        assert_eq!(request.host(), "example.com");
        assert_eq!(request.origin(), Some("http://example.com"));
        assert_eq!(request.offered_protocols(), ["chat.v2", "chat.v1"]);
        assert_eq!(request.select_protocol(&["chat.v1"]), Some("chat.v1"));
    }

    /// A head with a field value beyond UTF-8 is kept as bytes, and its target, host and
    /// origin read the same as from a head kept as text; both compare equal by their bytes.
    #[test]
    fn a_head_with_bytes_beyond_utf8_reads_the_same() {
        let mut bytes = HEAD.as_bytes().to_vec();
        let at = HEAD.find("Cookie").unwrap();
        bytes.splice(at..at, b"X-Name: \xffi\r\n".iter().copied());
        let mut parser = handshake::RequestParser::new(Limits::default());
        let Ok(Parsed::Complete(view, _)) = parser.parse(&bytes) else {
            panic!("not a valid request");
        };
        let (odd, text) = (Request::from_core(&view), parse(HEAD));
        assert_eq!(odd.target(), text.target());
        assert_eq!(odd.host(), text.host());
        assert_eq!(odd.origin(), text.origin());
        assert_eq!(odd.headers().get("x-name"), Some(&b"\xffi"[..]));
        assert_eq!(text.headers(), parse(HEAD).headers());
        assert_ne!(odd.headers(), text.headers());
    }

    #[test]
    fn origin_policy_refuses_a_foreign_origin_with_403() {
        let request = parse(&HEAD.replace("http://example.com", "http://evil.test"));
        assert_eq!(
            request.check_origin(&OriginPolicy::SAME_HOST),
            Err(HandshakeError::ForbiddenOrigin)
        );
        assert_eq!(parse(HEAD).check_origin(&OriginPolicy::SAME_HOST), Ok(()));
    }
}
