//! The handshake's errors, one type per role: [`HandshakeError`] for a request the server
//! refuses (each with its HTTP status), [`WriteError`] for an answer the application asked for
//! that cannot be written, and [`ClientHandshakeError`] for a response the client refuses.

use core::fmt;

use super::http::{StatusCode, put_head};
use crate::write::{BufferTooSmall, Writer};

/// Why a handshake request was refused. Each carries its HTTP status ([`status`](Self::status))
/// and writes its own response ([`write_response`](Self::write_response)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request line passed `max_request_line`. 414.
    RequestLineTooLong,
    /// The head passed `max_header_bytes`. 431.
    HeadTooLarge,
    /// The head has more than `max_headers` fields. 431.
    TooManyHeaders,
    /// Not parseable as an HTTP/1.x request. 400.
    Malformed,
    /// A method other than GET (§4.2.1 item 1). 400.
    MethodNotGet,
    /// HTTP/1.0 (§4.2.1 item 1 requires 1.1 or later). 400.
    HttpVersionTooOld,
    /// No `Host` (§4.2.1 item 2). 400.
    MissingHost,
    /// A field that must appear once appeared twice. 400.
    DuplicateHeader(&'static str),
    /// No `Upgrade` at all: a plain HTTP request to a WebSocket resource. 426, with
    /// `Upgrade: websocket`.
    NotAnUpgrade,
    /// `Upgrade` without the `websocket` token (§4.2.1 item 3). 400.
    UpgradeNotWebSocket,
    /// `Connection` without the `Upgrade` token (§4.2.1 item 4). 400.
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Key` (§4.2.1 item 5). 400.
    MissingKey,
    /// A key that is not base64 of 16 bytes (§4.2.1 item 5). 400.
    InvalidKey,
    /// `Sec-WebSocket-Version` missing or not 13 (§4.2.2 item 4, §4.4). 426, with
    /// `Sec-WebSocket-Version: 13`.
    UnsupportedVersion,
    /// A body (`Content-Length` other than 0, or `Transfer-Encoding`). 400.
    HasBody,
    /// A non-UTF-8 `Host` or `Origin`, or a non-token subprotocol. 400.
    InvalidHeaderValue(&'static str),
    /// More subprotocols, or more protocol or extension field lines, than allowed. 400.
    TooManyListElements(&'static str),
    /// An Origin the policy refuses (§4.2.2 item 1, §10.2). 403.
    ForbiddenOrigin,
    /// The server cannot take the connection (draining, at capacity). 503. Made by shells.
    Unavailable,
}

impl HandshakeError {
    /// The HTTP status this refusal answers with.
    pub const fn status(&self) -> StatusCode {
        match self {
            HandshakeError::RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HandshakeError::HeadTooLarge | HandshakeError::TooManyHeaders => {
                StatusCode::HEADER_FIELDS_TOO_LARGE
            }
            HandshakeError::NotAnUpgrade | HandshakeError::UnsupportedVersion => {
                StatusCode::UPGRADE_REQUIRED
            }
            HandshakeError::ForbiddenOrigin => StatusCode::FORBIDDEN,
            HandshakeError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A one-line explanation, sent as the response body.
    pub const fn message(&self) -> &'static str {
        match self {
            HandshakeError::RequestLineTooLong => "request line too long",
            HandshakeError::HeadTooLarge => "request header too large",
            HandshakeError::TooManyHeaders => "too many header fields",
            HandshakeError::Malformed => "malformed HTTP request",
            HandshakeError::MethodNotGet => "a WebSocket handshake must use GET",
            HandshakeError::HttpVersionTooOld => "a WebSocket handshake needs HTTP/1.1",
            HandshakeError::MissingHost => "missing Host header",
            HandshakeError::DuplicateHeader(_) => "a header that must appear once appeared twice",
            HandshakeError::NotAnUpgrade => {
                "this resource speaks WebSocket: send an Upgrade request"
            }
            HandshakeError::UpgradeNotWebSocket => "Upgrade header does not name websocket",
            HandshakeError::MissingConnectionUpgrade => "Connection header lacks the Upgrade token",
            HandshakeError::MissingKey => "missing Sec-WebSocket-Key",
            HandshakeError::InvalidKey => "Sec-WebSocket-Key is not base64 of 16 bytes",
            HandshakeError::UnsupportedVersion => "only Sec-WebSocket-Version 13 is supported",
            HandshakeError::HasBody => "a WebSocket handshake has no body",
            HandshakeError::InvalidHeaderValue(_) => "invalid header value",
            HandshakeError::TooManyListElements(_) => "too many list elements",
            HandshakeError::ForbiddenOrigin => "origin not allowed",
            HandshakeError::Unavailable => "server unavailable, try again later",
        }
    }

    /// Writes the complete refusal (head and a short text body) into `out`.
    ///
    /// 426 answers carry `Upgrade: websocket` (RFC 9110 §15.5.22: a 426 MUST name the
    /// protocol), the `upgrade` option in `Connection` with it (§7.8: a sender of `Upgrade`
    /// MUST), and for a version we do not speak `Sec-WebSocket-Version: 13` (RFC 6455 §4.4);
    /// every refusal carries `Connection: close`.
    pub fn write_response(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        self.put_response(&mut w);
        w.finish()
    }

    /// The complete refusal as [`write_response`](Self::write_response) writes it, in a
    /// vector of exactly its size.
    #[cfg(feature = "alloc")]
    pub fn response_to_vec(&self) -> alloc::vec::Vec<u8> {
        crate::write::to_vec(|w| self.put_response(w))
    }

    fn put_response(&self, w: &mut Writer<'_>) {
        const TEXT: (&str, &[u8]) = ("Content-Type", b"text/plain; charset=utf-8");
        const UPGRADE: (&str, &[u8]) = ("Upgrade", b"websocket");
        const CLOSE_UPGRADE: (&str, &[u8]) = ("Connection", b"Upgrade, close");
        let body = self.message().as_bytes();
        let headers: &[(&str, &[u8])] = match self {
            HandshakeError::UnsupportedVersion => &[
                CLOSE_UPGRADE,
                TEXT,
                UPGRADE,
                ("Sec-WebSocket-Version", b"13"),
            ],
            HandshakeError::NotAnUpgrade => &[CLOSE_UPGRADE, TEXT, UPGRADE],
            _ => &[
                ("Connection", b"close"),
                TEXT,
                ("X-Content-Type-Options", b"nosniff"),
            ],
        };
        put_head(w, self.status(), headers, Some(body.len() as u64 + 1));
        w.put(body);
        w.put(b"\n");
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::DuplicateHeader(name) => write!(f, "duplicate {name} header"),
            HandshakeError::InvalidHeaderValue(name) => write!(f, "invalid {name} header"),
            HandshakeError::TooManyListElements(name) => write!(f, "too many {name} values"),
            other => f.write_str(other.message()),
        }?;
        write!(f, " (HTTP {})", self.status().as_u16())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

/// The 101 answer could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The buffer is too small.
    BufferTooSmall(BufferTooSmall),
    /// The chosen subprotocol was not offered by the client (§4.2.2 item 5.4).
    UnofferedProtocol,
    /// The extension answer names an extension the client did not offer, or is not a valid
    /// `Sec-WebSocket-Extensions` value (§9.1).
    UnofferedExtension,
    /// An extra header has a non-token name or a value with CR, LF or NUL.
    UnsafeHeader,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BufferTooSmall(e) => e.fmt(f),
            WriteError::UnofferedProtocol => f.write_str("subprotocol not offered by the client"),
            WriteError::UnofferedExtension => {
                f.write_str("extension not offered by the client, or not a valid answer")
            }
            WriteError::UnsafeHeader => f.write_str("header name or value not safe to write"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WriteError {}

/// Why the handshake failed on the client side. Each is distinct, so the caller can say why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientHandshakeError {
    /// A request part holds CR, LF or NUL, a header name or subprotocol is not a token, or the
    /// path does not start with `/`.
    InvalidRequest(&'static str),
    /// The response head passed the status-line, byte or field caps.
    ResponseTooLarge,
    /// Not parseable as an HTTP/1.1 response.
    MalformedResponse,
    /// A status other than 101 (§4.1: the handshake failed).
    UnexpectedStatus(u16),
    /// No `Upgrade: websocket` (§4.1 item 2 of the response checks).
    MissingUpgrade,
    /// No `Connection: Upgrade` (§4.1 item 3).
    MissingConnectionUpgrade,
    /// No `Sec-WebSocket-Accept`, or more than one (§4.1 item 4).
    MissingAccept,
    /// `Sec-WebSocket-Accept` is not the value computed from our key (§4.1 item 4).
    AcceptMismatch,
    /// A subprotocol we did not offer, or more than one (§4.1 item 6).
    UnofferedProtocol,
    /// An extension we did not offer, or an answer to our offer that the extension refuses
    /// (§4.1 item 5, §9.1).
    UnofferedExtension,
    /// A permessage-deflate answer that breaks RFC 7692 §7.1 for our offer.
    DeflateAnswer(crate::deflate::DeflateAnswerError),
}

impl fmt::Display for ClientHandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientHandshakeError::InvalidRequest(what) => write!(f, "invalid request: {what}"),
            ClientHandshakeError::ResponseTooLarge => f.write_str("handshake response too large"),
            ClientHandshakeError::MalformedResponse => f.write_str("malformed handshake response"),
            ClientHandshakeError::UnexpectedStatus(code) => {
                write!(
                    f,
                    "server answered HTTP {code}, not 101 Switching Protocols"
                )
            }
            ClientHandshakeError::MissingUpgrade => {
                f.write_str("response lacks Upgrade: websocket")
            }
            ClientHandshakeError::MissingConnectionUpgrade => {
                f.write_str("response lacks Connection: Upgrade")
            }
            ClientHandshakeError::MissingAccept => {
                f.write_str("response lacks exactly one Sec-WebSocket-Accept")
            }
            ClientHandshakeError::AcceptMismatch => {
                f.write_str("Sec-WebSocket-Accept does not match our key")
            }
            ClientHandshakeError::UnofferedProtocol => {
                f.write_str("server selected a subprotocol we did not offer")
            }
            ClientHandshakeError::UnofferedExtension => {
                f.write_str("server selected an extension we did not offer")
            }
            ClientHandshakeError::DeflateAnswer(error) => {
                write!(f, "invalid permessage-deflate answer: {error}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClientHandshakeError {}
