//! [`Response`]: what the server answered to the client's opening handshake.

use switchyard_core::handshake::StatusCode;

use crate::Headers;

/// The server's answer to the opening handshake: its status and every header field, with
/// the negotiated subprotocol and extensions picked out.
///
/// [`connect`](crate::connect) returns it beside the connection (a 101: cookies the server
/// set, rate-limit fields...), and [`ConnectError::Refused`](crate::ConnectError::Refused)
/// carries it when the server answered with another status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    status: StatusCode,
    headers: Headers,
    protocol: Option<String>,
    extensions: Vec<String>,
    /// The request and response heads as written and read, over HTTP/1.1.
    heads: Option<Box<Heads>>,
    /// Over HTTP/2, the request's fields as sent, pseudo-header fields first.
    request_fields: Option<Box<[(String, String)]>>,
}

/// What an HTTP/1.1 handshake wrote and read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Heads {
    request: Vec<u8>,
    response: Vec<u8>,
    /// For a refusal, the start of its body: what arrived with the head.
    body: Vec<u8>,
}

impl Response {
    pub(crate) fn new(status: StatusCode, headers: Headers, protocol: Option<&str>) -> Response {
        // RFC 6455 §9.1: the extensions in use are the elements of the response's
        // Sec-WebSocket-Extensions fields, in order.
        let extensions = headers.list("sec-websocket-extensions");
        Response {
            status,
            headers,
            protocol: protocol.map(String::from),
            extensions,
            heads: None,
            request_fields: None,
        }
    }

    /// Keeps the fields of an HTTP/2 extended CONNECT, for [`Response::request_fields`].
    #[cfg(feature = "http2")]
    pub(crate) fn with_request_fields(mut self, fields: Vec<(String, String)>) -> Response {
        self.request_fields = Some(fields.into_boxed_slice());
        self
    }

    /// Over HTTP/2 (RFC 8441), the request's fields as sent: the pseudo-header fields
    /// (`:method`, `:protocol`, `:scheme`, `:authority`, `:path`) first. `None` over
    /// HTTP/1.1, where [`Response::request_head`] has the bytes.
    pub fn request_fields(&self) -> Option<&[(String, String)]> {
        self.request_fields.as_deref()
    }

    /// Keeps the heads of an HTTP/1.1 handshake, for [`Response::request_head`] and
    /// [`Response::head`].
    pub(crate) fn with_heads(mut self, request: &[u8], response: &[u8], body: &[u8]) -> Response {
        self.heads = Some(Box::new(Heads {
            request: request.to_vec(),
            response: response.to_vec(),
            body: body.to_vec(),
        }));
        self
    }

    /// The request head exactly as the client wrote it (HTTP/1.1; `None` over HTTP/2, which
    /// has no heads): for showing the handshake to someone debugging or learning it.
    pub fn request_head(&self) -> Option<&[u8]> {
        self.heads.as_deref().map(|heads| heads.request.as_slice())
    }

    /// This response's head exactly as received, through the blank line (HTTP/1.1; `None`
    /// over HTTP/2).
    pub fn head(&self) -> Option<&[u8]> {
        self.heads.as_deref().map(|heads| heads.response.as_slice())
    }

    /// For a refusal ([`ConnectError::Refused`](crate::ConnectError::Refused)), the start
    /// of its body: the bytes that arrived with the head, up to its `Content-Length`. The
    /// client reads no further (the body is the server's explanation, not the protocol's),
    /// so it may be cut short; empty after a 101.
    pub fn body_start(&self) -> &[u8] {
        self.heads
            .as_deref()
            .map_or(&[], |heads| heads.body.as_slice())
    }

    /// The HTTP status: 101 for an accepted handshake.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Every header field, in the order received.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// The subprotocol the server selected, always one the client offered (RFC 6455 §4.1).
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The extensions the server accepted, each as sent (name and parameters), in order.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }
}
