//! The server side of the opening handshake (RFC 6455 §4.2).
//!
//! [`RequestParser`] takes the bytes read so far and returns `Partial` until the head is
//! complete, then a validated [`Request`] and the head's length; bytes after it are frames.
//! The caller checks the Origin with [`Request::check_origin`], picks a subprotocol with
//! [`Request::select_protocol`], and writes the 101 with [`Request::write_response`]. Every
//! refusal is a [`HandshakeError`] with its HTTP status that writes its own response.

use core::fmt;

use super::accept::{AcceptKey, WebSocketKey};
use super::fields::{is_safe_value, is_token, list_contains, list_elements};
use super::head::{HeadOverflow, HeadScanner};
use super::http::{StatusCode, put_head};
use super::origin::OriginPolicy;
use super::{MAX_HEADER_SLOTS, MAX_LIST_FIELDS};
use crate::Parsed;
use crate::limits::Limits;
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
    /// 426 answers carry `Sec-WebSocket-Version: 13` (§4.4) or `Upgrade: websocket`
    /// (RFC 9110 §15.5.22); every refusal carries `Connection: close`.
    pub fn write_response(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let extra: (&str, &[u8]) = match self {
            HandshakeError::UnsupportedVersion => ("Sec-WebSocket-Version", b"13"),
            HandshakeError::NotAnUpgrade => ("Upgrade", b"websocket"),
            _ => ("X-Content-Type-Options", b"nosniff"),
        };
        let body = self.message().as_bytes();
        let headers = [
            ("Connection", &b"close"[..]),
            ("Content-Type", b"text/plain; charset=utf-8"),
            extra,
        ];
        let mut w = Writer::new(out);
        put_head(&mut w, self.status(), &headers, Some(body.len() as u64 + 1));
        w.put(body);
        w.put(b"\n");
        w.finish()
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

/// The field lines of one list-valued header, kept as received.
#[derive(Debug, Clone, Copy)]
struct ListFields<'b> {
    values: [&'b [u8]; MAX_LIST_FIELDS],
    len: usize,
}

impl<'b> ListFields<'b> {
    const EMPTY: ListFields<'static> = ListFields {
        values: [&[]; MAX_LIST_FIELDS],
        len: 0,
    };

    fn push(&mut self, value: &'b [u8], name: &'static str) -> Result<(), HandshakeError> {
        let slot = self
            .values
            .get_mut(self.len)
            .ok_or(HandshakeError::TooManyListElements(name))?;
        *slot = value;
        self.len += 1;
        Ok(())
    }

    fn elements(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.values[..self.len]
            .iter()
            .flat_map(|v| list_elements(v))
    }
}

/// A validated WebSocket upgrade request, borrowing the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'b> {
    head: &'b [u8],
    path: &'b str,
    host: &'b str,
    origin: Option<&'b str>,
    key: WebSocketKey,
    protocols: ListFields<'b>,
    extensions: ListFields<'b>,
}

impl<'b> Request<'b> {
    /// The request target as sent (path and query).
    pub fn path(&self) -> &'b str {
        self.path
    }

    /// The `Host` value.
    pub fn host(&self) -> &'b str {
        self.host
    }

    /// The `Origin` value, if the client sent one (browsers always do, §4.1 item 8).
    pub fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The client's key.
    pub fn key(&self) -> &WebSocketKey {
        &self.key
    }

    /// The value a 101 answer must carry in `Sec-WebSocket-Accept`.
    pub fn accept_key(&self) -> AcceptKey {
        self.key.accept_key()
    }

    /// The whole head exactly as received, request line to blank line.
    pub fn head(&self) -> &'b [u8] {
        self.head
    }

    /// The subprotocols offered, in the client's order of preference (§4.1 item 10).
    pub fn offered_protocols(&self) -> impl Iterator<Item = &'b str> + '_ {
        self.protocols
            .elements()
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The extension offers, each as sent (name and parameters), in order (§9.1). No extension
    /// is negotiated by this crate; the list is for the caller to see.
    pub fn offered_extensions(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.extensions.elements()
    }

    /// The first of the client's offered subprotocols that `supported` holds. The result is
    /// always one the client offered (§4.2.2 item 5.4).
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&'b str> {
        self.offered_protocols()
            .find(|offered| supported.contains(offered))
    }

    /// Applies an Origin policy: `Err(ForbiddenOrigin)` (403) if it refuses.
    pub fn check_origin<S: AsRef<str>>(
        &self,
        policy: &OriginPolicy<'_, S>,
    ) -> Result<(), HandshakeError> {
        if policy.allows(self.origin, self.host) {
            Ok(())
        } else {
            Err(HandshakeError::ForbiddenOrigin)
        }
    }

    /// Writes the `101 Switching Protocols` answer into `out` (§4.2.2 item 5).
    ///
    /// `protocol` must be one the client offered; `extra_headers` names must be tokens and their
    /// values free of CR, LF and NUL.
    pub fn write_response(
        &self,
        protocol: Option<&str>,
        extra_headers: &[(&str, &str)],
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        if let Some(p) = protocol
            && !self.offered_protocols().any(|offered| offered == p)
        {
            return Err(WriteError::UnofferedProtocol);
        }
        for (name, value) in extra_headers {
            if !is_token(name.as_bytes()) || !is_safe_value(value.as_bytes()) {
                return Err(WriteError::UnsafeHeader);
            }
        }
        let accept = self.accept_key();
        let mut w = Writer::new(out);
        w.put(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        w.header("Sec-WebSocket-Accept", accept.as_bytes());
        if let Some(p) = protocol {
            w.header("Sec-WebSocket-Protocol", p.as_bytes());
        }
        for (name, value) in extra_headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
        w.finish().map_err(WriteError::BufferTooSmall)
    }
}

/// The 101 answer could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteError {
    /// The buffer is too small.
    BufferTooSmall(BufferTooSmall),
    /// The chosen subprotocol was not offered by the client.
    UnofferedProtocol,
    /// An extra header has a non-token name or a value with CR, LF or NUL.
    UnsafeHeader,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BufferTooSmall(e) => e.fmt(f),
            WriteError::UnofferedProtocol => f.write_str("subprotocol not offered by the client"),
            WriteError::UnsafeHeader => f.write_str("header name or value not safe to write"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for WriteError {}

/// Parses a handshake request from a buffer that grows as bytes arrive.
#[derive(Debug, Clone, Default)]
pub struct RequestParser {
    limits: Limits,
    scanner: HeadScanner,
}

impl RequestParser {
    /// A parser enforcing `limits`' request-line, header-byte and header-count caps.
    pub fn new(limits: Limits) -> RequestParser {
        RequestParser {
            limits,
            scanner: HeadScanner::default(),
        }
    }

    /// Parses the request in `buf` (all bytes read so far, the same prefix each call).
    ///
    /// `Ok(Parsed::Partial)` until the head is complete; then the validated request and the
    /// head's length. Bytes after it are the first frames.
    pub fn parse<'b>(&mut self, buf: &'b [u8]) -> Result<Parsed<Request<'b>>, HandshakeError> {
        let head_len = match self.scanner.scan(buf, &self.limits) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(Parsed::Partial),
            Err(HeadOverflow::FirstLine) => return Err(HandshakeError::RequestLineTooLong),
            Err(HeadOverflow::Bytes) => return Err(HandshakeError::HeadTooLarge),
            Err(HeadOverflow::Fields) => return Err(HandshakeError::TooManyHeaders),
        };
        let head = &buf[..head_len];
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
        let mut req = httparse::Request::new(&mut slots);
        match req.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
            Ok(httparse::Status::Partial) | Err(_) => return Err(HandshakeError::Malformed),
        }
        let request = validate(head, &req, &self.limits)?;
        Ok(Parsed::Complete(request, head_len))
    }
}

/// Applies RFC 6455 §4.2.1 to a parsed head.
fn validate<'b>(
    head: &'b [u8],
    req: &httparse::Request<'_, 'b>,
    limits: &Limits,
) -> Result<Request<'b>, HandshakeError> {
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if req.method != Some("GET") {
        return Err(HandshakeError::MethodNotGet);
    }
    if req.version != Some(1) {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    let path = req.path.ok_or(HandshakeError::Malformed)?;
    let mut host = None;
    let mut origin = None;
    let mut key = None;
    let mut version = None;
    let mut upgrade = None;
    let mut connection_upgrade = false;
    let mut protocols = ListFields::EMPTY;
    let mut extensions = ListFields::EMPTY;
    for header in req.headers.iter() {
        let name = header.name;
        let value = header.value;
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("host") {
            once(&mut host, value, "Host")?;
        } else if is("upgrade") {
            // Several Upgrade lines are one list (RFC 9110 §5.3); any may name websocket.
            upgrade = Some(upgrade.unwrap_or(false) || list_contains(value, "websocket"));
        } else if is("connection") {
            connection_upgrade |= list_contains(value, "upgrade");
        } else if is("sec-websocket-key") {
            once(&mut key, value, "Sec-WebSocket-Key")?;
        } else if is("sec-websocket-version") {
            once(&mut version, value, "Sec-WebSocket-Version")?;
        } else if is("origin") {
            once(&mut origin, value, "Origin")?;
        } else if is("sec-websocket-protocol") {
            protocols.push(value, "Sec-WebSocket-Protocol")?;
        } else if is("sec-websocket-extensions") {
            extensions.push(value, "Sec-WebSocket-Extensions")?;
        } else if is("content-length") {
            if value.trim_ascii() != b"0" {
                return Err(HandshakeError::HasBody);
            }
        } else if is("transfer-encoding") {
            return Err(HandshakeError::HasBody);
        }
    }
    let host = host.ok_or(HandshakeError::MissingHost)?;
    let host = utf8(host, "Host")?;
    match upgrade {
        None => return Err(HandshakeError::NotAnUpgrade),
        Some(false) => return Err(HandshakeError::UpgradeNotWebSocket),
        Some(true) => {}
    }
    if !connection_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let key = key.ok_or(HandshakeError::MissingKey)?;
    let key = WebSocketKey::parse(key.trim_ascii()).ok_or(HandshakeError::InvalidKey)?;
    // §4.2.2 item 4 and §4.4: any version but 13 gets 426 with the versions we speak.
    if version.map(<[u8]>::trim_ascii) != Some(b"13") {
        return Err(HandshakeError::UnsupportedVersion);
    }
    let origin = origin.map(|o| utf8(o, "Origin")).transpose()?;
    let mut count = 0;
    for protocol in protocols.elements() {
        count += 1;
        if count > limits.max_subprotocols {
            return Err(HandshakeError::TooManyListElements(
                "Sec-WebSocket-Protocol",
            ));
        }
        if !is_token(protocol) {
            return Err(HandshakeError::InvalidHeaderValue("Sec-WebSocket-Protocol"));
        }
    }
    Ok(Request {
        head,
        path,
        host,
        origin,
        key,
        protocols,
        extensions,
    })
}

fn once<'b>(
    slot: &mut Option<&'b [u8]>,
    value: &'b [u8],
    name: &'static str,
) -> Result<(), HandshakeError> {
    if slot.replace(value).is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    Ok(())
}

fn utf8<'b>(value: &'b [u8], name: &'static str) -> Result<&'b str, HandshakeError> {
    core::str::from_utf8(value.trim_ascii()).map_err(|_| HandshakeError::InvalidHeaderValue(name))
}
