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
        }
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
