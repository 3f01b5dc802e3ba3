//! The client side of the HTTP/1.1 encoding (RFC 6455 §4.1): the GET request with
//! `Upgrade`/`Connection` and a key, and the checks of the 101 answer.
//!
//! [`ClientHandshake::new`] takes the request's parts ([`ClientRequest`]) and a caller-supplied
//! random nonce (the core has no RNG), [`write_request`](ClientHandshake::write_request) writes
//! the GET, and [`parse_response`](ClientHandshake::parse_response) validates the server's
//! answer from a growing buffer; bytes after the head are the server's first frames. The
//! subprotocol and extension checks are [`negotiate`](super::negotiate)'s and the
//! [`ExtensionNegotiator`]'s.

use core::mem::MaybeUninit;

use super::MAX_HEADER_SLOTS;
use super::accept::{AcceptKey, WebSocketKey};
use super::error::ClientHandshakeError;
use super::extension::{ExtensionNegotiator, ExtensionOffers, NoExtensions};
use super::fields::{ListFields, is_name, is_safe_value, is_token, list_contains};
use super::head::{HeadOverflow, HeadScanner};
use super::negotiate::{is_extension_list, is_protocol_list, verify_protocol};
use crate::Parsed;
use crate::limits::Limits;
use crate::url::WsUrl;
use crate::write::{BufferTooSmall, Writer};

/// What the client asks for: the parts of its request.
#[derive(Debug, Clone, Copy)]
pub struct ClientRequest<'a> {
    /// The `Host` value: `host[:port]`.
    pub host: &'a str,
    /// The request path, starting with `/`; it may carry a query too.
    pub path: &'a str,
    /// A query to append after `?`, for a path that does not carry it.
    pub query: Option<&'a str>,
    /// An `Origin` to send, if any (browsers always send one; other clients may).
    pub origin: Option<&'a str>,
    /// Subprotocols to offer, most preferred first.
    pub protocols: &'a [&'a str],
    /// More headers (authorization, cookies). Names must be tokens; values free of CR, LF, NUL.
    pub extra_headers: &'a [(&'a str, &'a str)],
}

impl<'a> ClientRequest<'a> {
    /// A request for `path` on `host`, with nothing else.
    pub const fn new(host: &'a str, path: &'a str) -> ClientRequest<'a> {
        ClientRequest {
            host,
            path,
            query: None,
            origin: None,
            protocols: &[],
            extra_headers: &[],
        }
    }

    /// The request a WebSocket URI names (§3): its `Host` value, path and query.
    pub const fn from_url(url: &WsUrl<'a>) -> ClientRequest<'a> {
        ClientRequest {
            query: url.query(),
            ..ClientRequest::new(url.authority(), url.path())
        }
    }
}

/// A validated 101 answer, borrowing the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Response<'b> {
    head: &'b [u8],
    protocol: Option<&'b str>,
    extensions: ListFields<'b>,
}

impl<'b> Response<'b> {
    /// The subprotocol the server selected, always one we offered.
    pub fn protocol(&self) -> Option<&'b str> {
        self.protocol
    }

    /// The extensions the server answered with, which the [`ExtensionNegotiator`] verified.
    pub fn extensions(&self) -> ExtensionOffers<'b> {
        ExtensionOffers::new(self.extensions)
    }

    /// The whole head exactly as received.
    pub fn head(&self) -> &'b [u8] {
        self.head
    }
}

/// One client handshake: the request to send and the answer it expects. `E` negotiates the
/// extensions; [`NoExtensions`] offers none.
#[derive(Debug, Clone)]
pub struct ClientHandshake<'a, E = NoExtensions> {
    request: ClientRequest<'a>,
    extension: E,
    key: WebSocketKey,
    accept: AcceptKey,
    limits: Limits,
    scanner: HeadScanner,
}

impl<'a> ClientHandshake<'a> {
    /// Prepares a handshake with no extension. `nonce` MUST be fresh random bytes for each
    /// connection (§4.1).
    pub fn new(
        request: ClientRequest<'a>,
        nonce: [u8; 16],
        limits: Limits,
    ) -> Result<Self, ClientHandshakeError> {
        ClientHandshake::with_extension(request, NoExtensions, nonce, limits)
    }
}

impl<'a, E: ExtensionNegotiator> ClientHandshake<'a, E> {
    /// Prepares a handshake offering what `extension` offers. `nonce` MUST be fresh random
    /// bytes for each connection (§4.1).
    pub fn with_extension(
        request: ClientRequest<'a>,
        extension: E,
        nonce: [u8; 16],
        limits: Limits,
    ) -> Result<Self, ClientHandshakeError> {
        let invalid = ClientHandshakeError::InvalidRequest;
        let r = &request;
        if r.host.is_empty() || !is_safe_value(r.host.as_bytes()) || r.host.contains(['/', ' ']) {
            return Err(invalid("host"));
        }
        let bad_target = |text: &str| text.bytes().any(|b| b <= b' ' || b == 0x7f || b == b'#');
        if !r.path.starts_with('/') || bad_target(r.path) {
            return Err(invalid("path"));
        }
        if r.query.is_some_and(bad_target) {
            return Err(invalid("query"));
        }
        if r.origin.is_some_and(|o| !is_safe_value(o.as_bytes())) {
            return Err(invalid("origin"));
        }
        if !is_protocol_list(r.protocols) {
            return Err(invalid("subprotocol"));
        }
        if extension
            .offer()
            .is_some_and(|offer| !is_extension_list(offer))
        {
            return Err(invalid("extension offer"));
        }
        if !r
            .extra_headers
            .iter()
            .all(|(n, v)| is_token(n.as_bytes()) && is_safe_value(v.as_bytes()))
        {
            return Err(invalid("extra header"));
        }
        let key = WebSocketKey::from_nonce(&nonce);
        Ok(ClientHandshake {
            request,
            extension,
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

    /// The extension negotiator, holding what was agreed once the answer is verified.
    pub fn extension(&self) -> &E {
        &self.extension
    }

    /// Writes the GET request into `out` (§4.1 items 1–12).
    pub fn write_request(&self, out: &mut [u8]) -> Result<usize, BufferTooSmall> {
        let mut w = Writer::new(out);
        self.put_request(&mut w);
        w.finish()
    }

    /// The GET request as [`write_request`](Self::write_request) writes it, in a vector of
    /// exactly its size.
    #[cfg(feature = "alloc")]
    pub fn request_to_vec(&self) -> alloc::vec::Vec<u8> {
        crate::write::to_vec(|w| self.put_request(w))
    }

    fn put_request(&self, w: &mut Writer<'_>) {
        let r = &self.request;
        w.put(b"GET ");
        w.put(r.path.as_bytes());
        if let Some(query) = r.query {
            w.put(b"?");
            w.put(query.as_bytes());
        }
        w.put(b" HTTP/1.1\r\n");
        w.header("Host", r.host.as_bytes());
        w.put(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
        w.header("Sec-WebSocket-Key", self.key.as_str().as_bytes());
        w.put(b"Sec-WebSocket-Version: 13\r\n");
        if let Some(origin) = r.origin {
            w.header("Origin", origin.as_bytes());
        }
        if let Some((first, rest)) = r.protocols.split_first() {
            w.put(b"Sec-WebSocket-Protocol: ");
            w.put(first.as_bytes());
            for p in rest {
                w.put(b", ");
                w.put(p.as_bytes());
            }
            w.put(b"\r\n");
        }
        if let Some(offer) = self.extension.offer() {
            w.header("Sec-WebSocket-Extensions", offer.as_bytes());
        }
        for (name, value) in r.extra_headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
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
        // Uninitialised, as the server's request parser leaves them.
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADER_SLOTS];
        let mut res = httparse::Response::new(&mut []);
        match httparse::ParserConfig::default()
            .parse_response_with_uninit_headers(&mut res, head, &mut slots)
        {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => {
                return Err(ClientHandshakeError::ResponseTooLarge);
            }
            Ok(httparse::Status::Partial) | Err(_) => {
                return Err(ClientHandshakeError::MalformedResponse);
            }
        }
        let (protocol, extensions) = self.validate(&res)?;
        Ok(Parsed::Complete(
            Response {
                head,
                protocol,
                extensions,
            },
            head_len,
        ))
    }

    fn validate<'b>(
        &mut self,
        res: &httparse::Response<'_, 'b>,
    ) -> Result<(Option<&'b str>, ListFields<'b>), ClientHandshakeError> {
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
        let mut protocols = ListFields::EMPTY;
        let mut extensions = ListFields::EMPTY;
        for header in res.headers.iter() {
            let is = |n: &str| is_name(header.name.as_bytes(), n.as_bytes());
            let value = header.value;
            if is("upgrade") {
                upgrade |= list_contains(value, "websocket");
            } else if is("connection") {
                connection |= list_contains(value, "upgrade");
            } else if is("sec-websocket-accept") {
                accept = Some(value.trim_ascii());
                accept_count += 1;
            } else if is("sec-websocket-protocol") {
                protocols
                    .push(value)
                    .ok_or(ClientHandshakeError::UnofferedProtocol)?;
            } else if is("sec-websocket-extensions") {
                extensions
                    .push(value)
                    .ok_or(ClientHandshakeError::UnofferedExtension)?;
            }
        }
        // §4.1, the response checks: items 2 to 4 are HTTP/1.1's, 5 and 6 negotiation's.
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
        let protocol = verify_protocol(self.request.protocols, &protocols)?;
        self.extension.verify(ExtensionOffers::new(extensions))?;
        Ok((protocol, extensions))
    }
}
