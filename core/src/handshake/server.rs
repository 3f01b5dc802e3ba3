//! The server side of the HTTP/1.1 encoding (RFC 6455 §4.2): the GET request with
//! `Upgrade`/`Connection`, the key, and the 101 answer.
//!
//! [`RequestParser`] takes the bytes read so far and returns `Partial` until the head is
//! complete. The head is then parsed **once**, into a [`RequestIndex`]: positions in the
//! caller's buffer, with no lifetime, so a shell keeps it beside the bytes and views the
//! request again ([`RequestIndex::head`], [`RequestIndex::request`]) without parsing. A
//! well-formed head that is no valid upgrade still has its [`RequestHead`] (method, target,
//! headers), so a server can answer it as plain HTTP. The negotiation itself is
//! [`negotiate`](super::negotiate)'s; this module adds only what is HTTP/1.1's.

use core::mem::MaybeUninit;

use super::accept::{AcceptKey, WebSocketKey};
use super::error::{HandshakeError, WriteError};
use super::fields::{ListFields, is_name, is_safe_value, is_token, list_contains, once};
use super::head::{HeadOverflow, HeadScanner};
use super::negotiate::{Agreement, Offer, OfferFields, utf8};
use super::origin::OriginPolicy;
use super::{MAX_HEADER_SLOTS, MAX_LIST_FIELDS};
use crate::Parsed;
use crate::limits::Limits;
use crate::utf8::str_of;
use crate::write::Writer;

/// Where a part of the head lies in it, in 32 bits: the index of a head is moved with every
/// pending upgrade, so it is kept small. A part past 4 GiB (which no sane
/// [`Limits::max_header_bytes`] admits) gets a span that lies nowhere: viewing it gives `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    end: u32,
}

impl Span {
    const EMPTY: Span = Span { start: 0, end: 0 };
    const NOWHERE: Span = Span {
        start: u32::MAX,
        end: 0,
    };

    /// The position of `part`, a subslice of `head` (as `httparse` returns them).
    fn of(head: &[u8], part: &[u8]) -> Span {
        let start = part.as_ptr().addr().wrapping_sub(head.as_ptr().addr());
        debug_assert!(start <= head.len() && start + part.len() <= head.len());
        match (
            u32::try_from(start),
            u32::try_from(start.saturating_add(part.len())),
        ) {
            (Ok(start), Ok(end)) => Span { start, end },
            _ => Span::NOWHERE,
        }
    }

    fn get(self, head: &[u8]) -> Option<&[u8]> {
        head.get(self.start as usize..self.end as usize)
    }

    /// The text at this span of `head`, whose UTF-8 text `text` is when it is all UTF-8 (the
    /// usual head: then a slice, with no second check of its bytes).
    fn text<'b>(self, head: &'b [u8], text: Option<&'b str>) -> Option<&'b str> {
        match text {
            Some(text) => text.get(self.start as usize..self.end as usize),
            None => str_of(self.get(head)?),
        }
    }
}

/// The field lines of a list-valued header, as positions.
#[derive(Debug, Clone, Copy)]
struct SpanList {
    spans: [Span; MAX_LIST_FIELDS],
    len: usize,
}

impl SpanList {
    fn of(head: &[u8], lines: &ListFields<'_>) -> SpanList {
        let mut list = SpanList {
            spans: [Span::EMPTY; MAX_LIST_FIELDS],
            len: 0,
        };
        for (slot, line) in list.spans.iter_mut().zip(lines.lines()) {
            *slot = Span::of(head, line);
            list.len += 1;
        }
        list
    }

    /// Pushes the lines at these spans of `head` onto `lines`; `None` if one lies outside it
    /// or `lines` is full.
    fn fill<'b>(&self, head: &'b [u8], lines: &mut ListFields<'b>) -> Option<()> {
        for span in &self.spans[..self.len] {
            lines.push(span.get(head)?)?;
        }
        Some(())
    }
}

/// A parsed request head, as positions in the buffer it was parsed from.
///
/// It has no lifetime, so a shell keeps it beside its buffer and views the request again,
/// without parsing, through [`head`](Self::head) and [`request`](Self::request). Given a
/// different buffer those give `None` or nonsense, never a panic.
#[derive(Debug, Clone, Copy)]
pub struct RequestIndex {
    len: usize,
    method: Span,
    target: Span,
    upgrade: Result<UpgradeIndex, HandshakeError>,
}

/// The validated upgrade fields of a head.
#[derive(Debug, Clone, Copy)]
struct UpgradeIndex {
    host: Span,
    origin: Option<Span>,
    key: WebSocketKey,
    protocols: SpanList,
    extensions: SpanList,
}

impl RequestIndex {
    /// The head's length: bytes after it are the first frames.
    pub const fn head_len(&self) -> usize {
        self.len
    }

    /// Why the head is no valid WebSocket upgrade, if it is not (it may still be a valid
    /// plain HTTP request).
    pub const fn upgrade_error(&self) -> Option<HandshakeError> {
        match self.upgrade {
            Ok(_) => None,
            Err(error) => Some(error),
        }
    }

    /// The head as HTTP: method, target, headers. `None` if `buf` is not the buffer indexed.
    pub fn head<'b>(&self, buf: &'b [u8]) -> Option<RequestHead<'b>> {
        let bytes = buf.get(..self.len)?;
        let text = str_of(bytes);
        Some(RequestHead {
            bytes,
            text,
            method: self.method.text(bytes, text)?,
            target: self.target.text(bytes, text)?,
        })
    }

    /// The validated upgrade, or why the head is not one. `Malformed` if `buf` is not the
    /// buffer indexed.
    pub fn request<'b>(&self, buf: &'b [u8]) -> Result<Request<'b>, HandshakeError> {
        let upgrade = self.upgrade.as_ref().map_err(|error| *error)?;
        let bytes = buf.get(..self.len).ok_or(HandshakeError::Malformed)?;
        // One check of the whole head (a request's is all UTF-8, as a rule) rather than one
        // per field read as text: each check costs about a hundred instructions however
        // short the field (callgrind).
        let text = str_of(bytes);
        self.view(bytes, text, upgrade)
    }

    /// [`request`](Self::request) over the head as text, as [`RequestHead::as_str`] gave it
    /// (a copy the caller kept): its bytes are not checked as UTF-8 again, which is most of
    /// a view's cost. `Malformed` if `head` is not the whole head indexed.
    pub fn request_in<'b>(&self, head: &'b str) -> Result<Request<'b>, HandshakeError> {
        let upgrade = self.upgrade.as_ref().map_err(|error| *error)?;
        if head.len() != self.len {
            return Err(HandshakeError::Malformed);
        }
        self.view(head.as_bytes(), Some(head), upgrade)
    }

    /// The view of the head `bytes` (exactly the head), `text` being them as text if they
    /// are all UTF-8; `Malformed` if a span lies outside them.
    ///
    /// The view (some 400 bytes: the offer holds two lists of slices) is built where it is
    /// returned, and its lists filled there: made in an `Option` and each list returned by
    /// value, it was copied six times more (callgrind: about 300 instructions per request).
    fn view<'b>(
        &self,
        bytes: &'b [u8],
        text: Option<&'b str>,
        upgrade: &UpgradeIndex,
    ) -> Result<Request<'b>, HandshakeError> {
        let text_at = |span: Span| span.text(bytes, text).ok_or(HandshakeError::Malformed);
        let origin = match upgrade.origin {
            Some(span) => Some(text_at(span)?),
            None => None,
        };
        let mut request = Request {
            head: RequestHead {
                bytes,
                text,
                // An upgrade's method is GET (`validate` refuses any other): not read again.
                method: "GET",
                target: text_at(self.target)?,
            },
            offer: Offer::from_parts(text_at(upgrade.host)?, origin),
            key: upgrade.key,
        };
        let (protocols, extensions) = request.offer.lines_mut();
        upgrade
            .protocols
            .fill(bytes, protocols)
            .and_then(|()| upgrade.extensions.fill(bytes, extensions))
            .ok_or(HandshakeError::Malformed)?;
        Ok(request)
    }
}

/// A well-formed HTTP/1.1 request head, WebSocket upgrade or not: what a server routes on.
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'b> {
    bytes: &'b [u8],
    /// `bytes` as text, when they are all UTF-8.
    text: Option<&'b str>,
    method: &'b str,
    target: &'b str,
}

impl<'b> RequestHead<'b> {
    /// The method, e.g. `GET`.
    pub fn method(&self) -> &'b str {
        self.method
    }

    /// The request target as sent: path and query.
    pub fn target(&self) -> &'b str {
        self.target
    }

    /// The path: the target without its query (and, in the absolute form, without its
    /// scheme and authority: [`split_target`](super::http::split_target)).
    pub fn path(&self) -> &'b str {
        super::http::split_target(self.target).0
    }

    /// The query, without its `?`, if the target has one.
    pub fn query(&self) -> Option<&'b str> {
        super::http::split_target(self.target).1
    }

    /// The header fields in order, each name as sent and its value with surrounding
    /// whitespace removed ([`head_fields`](super::head_fields)). The head was validated when
    /// it was parsed; this only walks its lines.
    pub fn headers(&self) -> impl Iterator<Item = (&'b str, &'b [u8])> + 'b {
        super::head_fields(self.bytes)
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn header(&self, name: &str) -> Option<&'b [u8]> {
        self.headers()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// The whole head exactly as received, request line to blank line.
    pub fn as_bytes(&self) -> &'b [u8] {
        self.bytes
    }

    /// The whole head as text, if it is all UTF-8 (a field value may carry other bytes,
    /// RFC 9110 §5.5; the method and target never do).
    pub fn as_str(&self) -> Option<&'b str> {
        self.text
    }
}

/// A validated WebSocket upgrade request, borrowing the caller's buffer.
#[derive(Debug, Clone, Copy)]
pub struct Request<'b> {
    head: RequestHead<'b>,
    offer: Offer<'b>,
    key: WebSocketKey,
}

impl<'b> Request<'b> {
    /// The request as HTTP: target, path, query, headers, bytes.
    pub fn head(&self) -> RequestHead<'b> {
        self.head
    }

    /// What the client offers: Origin, subprotocols, extensions. Negotiate on it.
    pub fn offer(&self) -> &Offer<'b> {
        &self.offer
    }

    /// The path the client asked for, without the query.
    pub fn path(&self) -> &'b str {
        self.head.path()
    }

    /// The query, without its `?`, if the target has one.
    pub fn query(&self) -> Option<&'b str> {
        self.head.query()
    }

    /// The `Host` value.
    pub fn host(&self) -> &'b str {
        self.offer.authority()
    }

    /// The `Origin` value, if the client sent one (browsers always do, §4.1 item 8).
    pub fn origin(&self) -> Option<&'b str> {
        self.offer.origin()
    }

    /// [`Offer::select_protocol`] on this request's offer.
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&'b str> {
        self.offer.select_protocol(supported)
    }

    /// [`Offer::check_origin`] on this request's offer.
    pub fn check_origin<S: AsRef<str>>(
        &self,
        policy: &OriginPolicy<'_, S>,
    ) -> Result<(), HandshakeError> {
        self.offer.check_origin(policy)
    }

    /// The client's key.
    pub fn key(&self) -> &WebSocketKey {
        &self.key
    }

    /// The value a 101 answer must carry in `Sec-WebSocket-Accept`.
    pub fn accept_key(&self) -> AcceptKey {
        self.key.accept_key()
    }

    /// Writes the `101 Switching Protocols` answer into `out` (§4.2.2 item 5), carrying the
    /// agreed subprotocol and extensions. `extra_headers` names must be tokens and their
    /// values free of CR, LF and NUL.
    pub fn write_response(
        &self,
        agreement: &Agreement<'_>,
        extra_headers: &[(&str, &str)],
        out: &mut [u8],
    ) -> Result<usize, WriteError> {
        self.check_answer(agreement, extra_headers)?;
        let mut w = Writer::new(out);
        self.put_response(&self.accept_key(), agreement, extra_headers, &mut w);
        w.finish().map_err(WriteError::BufferTooSmall)
    }

    /// The 101 answer as [`write_response`](Self::write_response) writes it, in a vector of
    /// exactly its size.
    #[cfg(feature = "alloc")]
    pub fn response_to_vec(
        &self,
        agreement: &Agreement<'_>,
        extra_headers: &[(&str, &str)],
    ) -> Result<alloc::vec::Vec<u8>, WriteError> {
        self.check_answer(agreement, extra_headers)?;
        // Hashed once: `to_vec` writes twice (to size the vector, then to fill it).
        let accept = self.accept_key();
        Ok(crate::write::to_vec(|w| {
            self.put_response(&accept, agreement, extra_headers, w);
        }))
    }

    fn check_answer(
        &self,
        agreement: &Agreement<'_>,
        extra_headers: &[(&str, &str)],
    ) -> Result<(), WriteError> {
        // The agreement may come from another request's offer: check it against this one.
        self.offer
            .agree(agreement.protocol(), agreement.extensions())?;
        for (name, value) in extra_headers {
            if !is_token(name.as_bytes()) || !is_safe_value(value.as_bytes()) {
                return Err(WriteError::UnsafeHeader);
            }
        }
        Ok(())
    }

    fn put_response(
        &self,
        accept: &AcceptKey,
        agreement: &Agreement<'_>,
        extra_headers: &[(&str, &str)],
        w: &mut Writer<'_>,
    ) {
        w.put(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n");
        w.header("Sec-WebSocket-Accept", accept.as_bytes());
        if let Some(p) = agreement.protocol() {
            w.header("Sec-WebSocket-Protocol", p.as_bytes());
        }
        if let Some(e) = agreement.extensions() {
            w.header("Sec-WebSocket-Extensions", e.as_bytes());
        }
        for (name, value) in extra_headers {
            w.header(name, value.as_bytes());
        }
        w.put(b"\r\n");
    }
}

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
        Ok(match self.parse_index(buf)? {
            Parsed::Complete(index, len) => Parsed::Complete(index.request(buf)?, len),
            Parsed::Partial => Parsed::Partial,
        })
    }

    /// Like [`parse`](Self::parse), but keeps the outcome as a [`RequestIndex`]. `Err` only
    /// when the head itself is refused (too long, too large, not HTTP/1.x); a well-formed head
    /// that is no valid upgrade is `Complete`, its refusal in
    /// [`RequestIndex::upgrade_error`].
    pub fn parse_index(&mut self, buf: &[u8]) -> Result<Parsed<RequestIndex>, HandshakeError> {
        let head_len = match self.scanner.scan(buf, &self.limits) {
            Ok(Some(len)) => len,
            Ok(None) => return Ok(Parsed::Partial),
            Err(HeadOverflow::FirstLine) => return Err(HandshakeError::RequestLineTooLong),
            Err(HeadOverflow::Bytes) => return Err(HandshakeError::HeadTooLarge),
            Err(HeadOverflow::Fields) => return Err(HandshakeError::TooManyHeaders),
        };
        let head = &buf[..head_len];
        // Left uninitialised: httparse writes each slot it fills (its `parse` treats the slots
        // as uninitialised too), and zeroing 128 of them is 4 KiB of stores per request.
        let mut slots = [const { MaybeUninit::uninit() }; MAX_HEADER_SLOTS];
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(head, &mut slots) {
            Ok(httparse::Status::Complete(_)) => {}
            Err(httparse::Error::TooManyHeaders) => return Err(HandshakeError::TooManyHeaders),
            Ok(httparse::Status::Partial) | Err(_) => return Err(HandshakeError::Malformed),
        }
        let (Some(method), Some(target)) = (req.method, req.path) else {
            return Err(HandshakeError::Malformed);
        };
        let index = RequestIndex {
            len: head_len,
            method: Span::of(head, method.as_bytes()),
            target: Span::of(head, target.as_bytes()),
            upgrade: validate(head, &req, &self.limits),
        };
        Ok(Parsed::Complete(index, head_len))
    }
}

/// Applies RFC 6455 §4.2.1 to a parsed head: the HTTP/1.1 parts here, the rest through
/// [`OfferFields`].
fn validate(
    head: &[u8],
    req: &httparse::Request<'_, '_>,
    limits: &Limits,
) -> Result<UpgradeIndex, HandshakeError> {
    // §4.2.1 item 1: "An HTTP/1.1 or higher GET request".
    if req.method != Some("GET") {
        return Err(HandshakeError::MethodNotGet);
    }
    if req.version != Some(1) {
        return Err(HandshakeError::HttpVersionTooOld);
    }
    let mut host = None;
    let mut key = None;
    let mut upgrade = None;
    let mut connection_upgrade = false;
    let mut fields = OfferFields::new();
    for header in req.headers.iter() {
        let name = header.name;
        let value = header.value;
        let is = |n: &str| is_name(name.as_bytes(), n.as_bytes());
        if fields.field(name, value)? {
            continue;
        }
        if is("host") {
            once(&mut host, value, "Host")?;
        } else if is("upgrade") {
            // Several Upgrade lines are one list (RFC 9110 §5.3); any may name websocket.
            upgrade = Some(upgrade.unwrap_or(false) || list_contains(value, "websocket"));
        } else if is("connection") {
            connection_upgrade |= list_contains(value, "upgrade");
        } else if is("sec-websocket-key") {
            once(&mut key, value, "Sec-WebSocket-Key")?;
        } else if is("content-length") {
            if value.trim_ascii() != b"0" {
                return Err(HandshakeError::HasBody);
            }
        } else if is("transfer-encoding") {
            return Err(HandshakeError::HasBody);
        }
    }
    // §4.2.1 item 2.
    let host = utf8(host.ok_or(HandshakeError::MissingHost)?, "Host")?;
    // §4.2.1 item 3: a plain request gets 426 (RFC 9110 §15.5.22), a different upgrade 400.
    match upgrade {
        None => return Err(HandshakeError::NotAnUpgrade),
        Some(false) => return Err(HandshakeError::UpgradeNotWebSocket),
        Some(true) => {}
    }
    // §4.2.1 item 4.
    if !connection_upgrade {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    // §4.2.1 item 5.
    let key = key.ok_or(HandshakeError::MissingKey)?;
    let key = WebSocketKey::parse(key.trim_ascii()).ok_or(HandshakeError::InvalidKey)?;
    let origin = fields.check(limits)?;
    Ok(UpgradeIndex {
        host: Span::of(head, host.as_bytes()),
        origin: origin.map(|o| Span::of(head, o.as_bytes())),
        key,
        protocols: SpanList::of(head, fields.protocol_lines()),
        extensions: SpanList::of(head, fields.extension_lines()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n\
        Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Protocol: chat\r\nSec-WebSocket-Extensions: x-a\r\n\r\n";

    /// The index of a complete, well-formed head in `buf`.
    fn index_of(buf: &[u8]) -> RequestIndex {
        RequestParser::new(Limits::DEFAULT)
            .parse_index(buf)
            .unwrap()
            .complete()
            .unwrap()
            .0
    }

    /// A span for a part past 4 GiB lies nowhere: viewing it gives `None`, never a panic or
    /// another part of the head.
    #[test]
    fn a_span_that_does_not_fit_views_nothing() {
        let head = b"GET / HTTP/1.1\r\n\r\n";
        let text = core::str::from_utf8(head).ok();
        assert_eq!(Span::NOWHERE.get(head), None);
        assert_eq!(Span::NOWHERE.text(head, text), None);
        assert_eq!(Span::NOWHERE.text(head, None), None);
        assert_eq!(Span::of(head, &head[4..5]).text(head, text), Some("/"));
        assert_eq!(Span::of(head, &head[4..5]).text(head, None), Some("/"));
    }

    /// A field value beyond UTF-8 (RFC 9110 §5.5 obs-text) leaves the head without a text
    /// view, and the target, host and origin are read from its bytes one by one.
    #[test]
    fn a_head_with_bytes_beyond_utf8_is_viewed_field_by_field() {
        let mut buf =
            b"GET /a?b HTTP/1.1\r\nHost: h\r\nOrigin: http://o\r\nX-Name: \xffi\r\n".to_vec();
        buf.extend_from_slice(&REQUEST[REQUEST.iter().position(|&b| b == b'U').unwrap()..]);
        let index = index_of(&buf);
        let request = index.request(&buf).unwrap();
        assert_eq!(request.head().as_str(), None);
        assert_eq!(request.head().target(), "/a?b");
        assert_eq!(request.host(), "h");
        assert_eq!(request.offer().origin(), Some("http://o"));
        let head = index_of(REQUEST).head(REQUEST).unwrap();
        assert_eq!(head.as_str().map(str::as_bytes), Some(REQUEST));
    }

    /// Empty lines before the request line are ignored (RFC 9112 §2.2) by the scanner, the
    /// parser and the field view alike: the request line is neither a field nor measured
    /// from them.
    #[test]
    fn empty_lines_before_the_request_line_are_ignored() {
        let mut buf = b"\r\n\r\nGET /x:y HTTP/1.1\r\n".to_vec();
        buf.extend_from_slice(&REQUEST[REQUEST.iter().position(|&b| b == b'\n').unwrap() + 1..]);
        let index = index_of(&buf);
        let request = index.request(&buf).unwrap();
        assert_eq!(request.head().path(), "/x:y");
        assert_eq!(
            request.head().headers().next(),
            Some(("Host", &b"example.com"[..]))
        );
        let limits = Limits {
            max_request_line: 20,
            ..Limits::DEFAULT
        };
        let long = b"\r\nGET /aaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            RequestParser::new(limits).parse_index(long).map(|_| ()),
            Err(HandshakeError::RequestLineTooLong)
        );
    }

    /// RFC 6455 §4.2.1 item 1: an absolute HTTP URI names the resource too.
    #[test]
    fn an_absolute_target_gives_its_path_and_query() {
        let mut buf = b"GET http://example.com/chat?room=1 HTTP/1.1\r\n".to_vec();
        buf.extend_from_slice(&REQUEST[REQUEST.iter().position(|&b| b == b'\n').unwrap() + 1..]);
        let index = index_of(&buf);
        let request = index.request(&buf).unwrap();
        assert_eq!(request.head().target(), "http://example.com/chat?room=1");
        assert_eq!(request.head().path(), "/chat");
        assert_eq!(request.head().query(), Some("room=1"));
    }

    #[test]
    fn an_index_views_the_request_again_without_parsing_it() {
        let mut buf = REQUEST.to_vec();
        let index = index_of(&buf);
        // Breaking the Upgrade header after the parse changes nothing: a view re-reads the
        // positions found once, it does not parse again.
        let at = buf.windows(9).position(|w| w == b"websocket").unwrap();
        buf[at] = b'W';
        buf[at + 8] = b'x';
        let request = index.request(&buf).unwrap();
        assert_eq!(request.head().path(), "/chat");
        assert_eq!(request.head().query(), Some("room=1"));
        assert_eq!(request.host(), "example.com");
        assert_eq!(request.offer().select_protocol(&["chat"]), Some("chat"));
        assert_eq!(request.head().header("upgrade"), Some(&b"Websockex"[..]));
    }

    /// A view of the head's text, kept apart from the buffer read, is the view of the buffer;
    /// text of another length is refused, never viewed.
    #[test]
    fn an_index_views_a_copy_of_the_head_as_text() {
        let index = index_of(REQUEST);
        let copy = std::string::String::from_utf8(REQUEST.to_vec()).unwrap();
        let (of_text, of_bytes) = (
            index.request_in(&copy).unwrap(),
            index.request(REQUEST).unwrap(),
        );
        assert_eq!(of_text.head().as_str(), Some(copy.as_str()));
        assert_eq!(of_text.head().target(), of_bytes.head().target());
        assert_eq!(of_text.host(), "example.com");
        assert_eq!(of_text.offer().select_protocol(&["chat"]), Some("chat"));
        assert_eq!(of_text.key(), of_bytes.key());
        let names = |r: &Request<'_>| {
            r.offer()
                .offered_extensions()
                .flatten()
                .map(|e| std::string::String::from(e.name()))
                .collect::<std::vec::Vec<_>>()
        };
        assert_eq!(names(&of_text), ["x-a"]);
        assert_eq!(names(&of_text), names(&of_bytes));
        let longer = std::format!("{copy}GET");
        for wrong in [
            &copy[..copy.len() - 1],
            &longer,
            "",
            "GET / HTTP/1.1\r\n\r\n",
        ] {
            assert_eq!(
                index.request_in(wrong).unwrap_err(),
                HandshakeError::Malformed
            );
        }
        let refused = index_of(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            refused
                .request_in("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                .unwrap_err(),
            refused.upgrade_error().unwrap()
        );
    }

    #[test]
    fn an_index_given_another_buffer_never_panics() {
        let index = index_of(REQUEST);
        assert!(index.head(&REQUEST[..10]).is_none());
        assert_eq!(
            index.request(b"short").unwrap_err(),
            HandshakeError::Malformed
        );
        let garbage = [0xFFu8; 400];
        assert!(index.head(&garbage).is_none());
    }

    #[test]
    fn a_plain_request_keeps_its_head_and_its_refusal() {
        let plain = b"POST /healthz?x=1 HTTP/1.1\r\nHost: a\r\nX-Y:  z \r\n\r\n";
        let (index, len) = RequestParser::new(Limits::DEFAULT)
            .parse_index(plain)
            .unwrap()
            .complete()
            .unwrap();
        assert_eq!((len, index.head_len()), (plain.len(), plain.len()));
        assert_eq!(index.upgrade_error(), Some(HandshakeError::MethodNotGet));
        let head = index.head(plain).unwrap();
        assert_eq!((head.method(), head.target()), ("POST", "/healthz?x=1"));
        let headers: std::vec::Vec<_> = head.headers().collect();
        assert_eq!(headers, [("Host", &b"a"[..]), ("X-Y", b"z")]);
    }
}
