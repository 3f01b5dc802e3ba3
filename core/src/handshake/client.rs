//! The client side of the opening handshake (RFC 6455 §4.1).
//!
//! [`ClientHandshake::new`] takes the request's parts and a caller-supplied random nonce (the
//! core has no RNG), [`write_request`](ClientHandshake::write_request) writes the GET, and
//! [`parse_response`](ClientHandshake::parse_response) validates the server's answer from a
//! growing buffer; bytes after the head are the server's first frames.

use core::fmt;

use super::MAX_HEADER_SLOTS;
use super::accept::{AcceptKey, WebSocketKey};
use super::fields::{is_safe_value, is_token, list_contains, list_elements};
use super::head::{HeadOverflow, HeadScanner};
use crate::Parsed;
use crate::limits::Limits;
use crate::write::{BufferTooSmall, Writer};

/// What the client asks for.
#[derive(Debug, Clone, Copy)]
pub struct ClientConfig<'a> {
    /// The `Host` value: `host[:port]`.
    pub host: &'a str,
    /// The request target: path and query, starting with `/`.
    pub path: &'a str,
    /// An `Origin` to send, if any (browsers always send one; other clients may).
    pub origin: Option<&'a str>,
    /// Subprotocols to offer, most preferred first.
    pub protocols: &'a [&'a str],
    /// More headers (authorization, cookies). Names must be tokens; values free of CR, LF, NUL.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientConfig<'a> {
    /// A request for `path` on `host`, with nothing else.
    pub const fn new(host: &'a str, path: &'a str) -> ClientConfig<'a> {
        ClientConfig {
            host,
            path,
            origin: None,
            protocols: &[],
            extra_headers: &[],
        }
    }
}

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
    /// An extension we did not offer: we offer none (§4.1 item 5).
    UnofferedExtension,
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
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ClientHandshakeError {}

/// A validated 101 answer, borrowing the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Response<'b> {
    head: &'b [u8],
    protocol: Option<&'b str>,
}

impl<'b> Response<'b> {
    /// The subprotocol the server selected, always one we offered.
    pub fn protocol(&self) -> Option<&'b str> {
        self.protocol
    }

    /// The whole head exactly as received.
    pub fn head(&self) -> &'b [u8] {
        self.head
    }
}

/// One client handshake: the request to send and the answer it expects.
#[derive(Debug, Clone)]
pub struct ClientHandshake<'a> {
    config: ClientConfig<'a>,
    key: WebSocketKey,
    accept: AcceptKey,
    limits: Limits,
    scanner: HeadScanner,
}

impl<'a> ClientHandshake<'a> {
    /// Prepares a handshake. `nonce` MUST be fresh random bytes for each connection (§4.1).
    pub fn new(
        config: ClientConfig<'a>,
        nonce: [u8; 16],
        limits: Limits,
    ) -> Result<Self, ClientHandshakeError> {
        let invalid = ClientHandshakeError::InvalidRequest;
        if config.host.is_empty()
            || !is_safe_value(config.host.as_bytes())
            || config.host.contains(['/', ' '])
        {
            return Err(invalid("host"));
        }
        if !config.path.starts_with('/') || config.path.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(invalid("path"));
        }
        if config.origin.is_some_and(|o| !is_safe_value(o.as_bytes())) {
            return Err(invalid("origin"));
        }
        if !config.protocols.iter().all(|p| is_token(p.as_bytes())) {
            return Err(invalid("subprotocol"));
        }
        if !config
            .extra_headers
            .iter()
            .all(|(n, v)| is_token(n.as_bytes()) && is_safe_value(v.as_bytes()))
        {
            return Err(invalid("extra header"));
        }
        let key = WebSocketKey::from_nonce(&nonce);
        Ok(ClientHandshake {
            config,
            key,
            accept: key.accept_key(),
            limits,
            scanner: HeadScanner::default(),
        })
    }

    /// The `Sec-WebSocket-Key` this handshake sends.
    pub fn key(&self) -> &WebSocketKey {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` it expects back.
    pub fn expected_accept(&self) -> &AcceptKey {
        &self.accept
    }

    /// Writes the GET request into `out` (§4.1 items 1–12).
    pub fn write_request(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let c = &self.config;
        let mut w = Writer::new(out);
        w.put(b"GET ");
        w.put(c.path.as_bytes());
        w.put(b" HTTP/1.1\r\n");
        w.header("Host", c.host.as_bytes());
        w.put(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        w.header("Sec-WebSocket-Key", self.key.as_str().as_bytes());
        w.put(b"Sec-WebSocket-Version: 13\r\n");
        if let Some(origin) = c.origin {
            w.header("Origin", origin.as_bytes());
        }
        if let Some((first, rest)) = c.protocols.split_first() {
            w.put(b"Sec-WebSocket-Protocol: ");
            w.put(first.as_bytes());
            for p in rest {
                w.put(b", ");
                w.put(p.as_bytes());
            }
            w.put(b"\r\n");
        }
        for (name, value) in c.extra_headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
        w.finish()
    }

    /// Parses and validates the answer in `buf` (all bytes read so far, the same prefix each
    /// call). `Partial` until the head is complete; then the response and the head's length.
    pub fn parse_response<'b>(
        &mut self,
        buf: &'b [u8],
    ) -> Result<Parsed<Response<'b>>, ClientHandshakeError> {
        let head_len = match self.scanner.scan(buf, &self.limits) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(Parsed::Partial),
            Err(HeadOverflow::FirstLine | HeadOverflow::Bytes | HeadOverflow::Fields) => {
                return Err(ClientHandshakeError::ResponseTooLarge);
            }
        };
        let head = &buf[..head_len];
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
        let mut res = httparse::Response::new(&mut slots);
        match res.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ClientHandshakeError::ResponseTooLarge);
            }
            Ok(httparse::Status::Partial) | Err(_) => {
                return Err(ClientHandshakeError::MalformedResponse);
            }
        }
        let protocol = self.validate(&res)?;
        Ok(Parsed::Complete(Response { head, protocol }, head_len))
    }

    fn validate<'b>(
        &self,
        res: &httparse::Response<'_, 'b>,
    ) -> Result<Option<&'b str>, ClientHandshakeError> {
        if res.version != Some(1) {
            return Err(ClientHandshakeError::MalformedResponse);
        }
        let code = res.code.ok_or(ClientHandshakeError::MalformedResponse)?;
        if code != 101 {
            return Err(ClientHandshakeError::UnexpectedStatus(code));
        }
        let mut upgrade = false;
        let mut connection = false;
        let mut accept = None;
        let mut accept_count = 0;
        let mut protocol = None;
        for header in res.headers.iter() {
            let is = |n: &str| header.name.eq_ignore_ascii_case(n);
            let value = header.value;
            if is("upgrade") {
                upgrade |= list_contains(value, "websocket");
            } else if is("connection") {
                connection |= list_contains(value, "upgrade");
            } else if is("sec-websocket-accept") {
                accept = Some(value.trim_ascii());
                accept_count += 1;
            } else if is("sec-websocket-protocol") {
                for p in list_elements(value) {
                    if protocol.replace(p).is_some() {
                        return Err(ClientHandshakeError::UnofferedProtocol);
                    }
                }
            } else if is("sec-websocket-extensions") && list_elements(value).next().is_some() {
                return Err(ClientHandshakeError::UnofferedExtension);
            }
        }
        if !upgrade {
            return Err(ClientHandshakeError::MissingUpgrade);
        }
        if !connection {
            return Err(ClientHandshakeError::MissingConnectionUpgrade);
        }
        let accept = match (accept, accept_count) {
            (Some(a), 1) => a,
            _ => return Err(ClientHandshakeError::MissingAccept),
        };
        if !self.accept.matches(accept) {
            return Err(ClientHandshakeError::AcceptMismatch);
        }
        match protocol {
            None => Ok(None),
            Some(p) => self
                .config
                .protocols
                .iter()
                .find(|offered| offered.as_bytes() == p)
                .map(|_| core::str::from_utf8(p).ok())
                .ok_or(ClientHandshakeError::UnofferedProtocol),
        }
    }
}
