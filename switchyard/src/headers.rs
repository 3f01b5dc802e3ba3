//! [`Headers`]: the header fields of a handshake's request or response, owned, as received.
//!
//! The core validates a handshake head without allocating and keeps only what the protocol
//! needs; the application also wants the rest (cookies, authorization, custom fields). A
//! request's fields come from the core's one parse of its head; a response head is parsed
//! here, after the core accepted it, so its size is already within
//! [`Limits`](switchyard_core::Limits) and its field count within [`MAX_HEADER_SLOTS`].

use std::fmt;

#[cfg(feature = "client")]
use switchyard_core::handshake::MAX_HEADER_SLOTS;
#[cfg(feature = "server")]
use switchyard_core::handshake::RequestHead;
#[cfg(feature = "client")]
use switchyard_core::handshake::StatusCode;
use switchyard_core::handshake::head_fields;

/// Header fields in the order received, names as sent (compare them case-insensitively,
/// RFC 9110 §5.1), values as bytes (RFC 9110 §5.5 allows bytes beyond ASCII).
///
/// Held as one copy of the validated head, whose lines are walked when a field is asked
/// for: one allocation per handshake, and nothing spent on fields no one reads.
#[derive(Clone, Default)]
pub struct Headers {
    /// A head the core or `httparse` accepted: start line, field lines, blank line.
    head: Head,
}

/// A head's bytes, kept as text when the core found them all UTF-8 (a request's, as a rule):
/// [`Request`](crate::Request) then reads its target, host and origin as slices of it, with
/// no second check of their bytes (about a hundred instructions each, callgrind).
#[derive(Clone)]
enum Head {
    #[cfg(feature = "server")]
    Text(Box<str>),
    Bytes(Box<[u8]>),
}

impl Default for Head {
    fn default() -> Head {
        Head::Bytes(Box::default())
    }
}

/// Equal when their bytes are, however each is kept.
impl PartialEq for Headers {
    fn eq(&self, other: &Headers) -> bool {
        self.bytes() == other.bytes()
    }
}

impl Eq for Headers {}

impl Headers {
    /// The value of the first field named `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// The value of the first field named `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The values of every field named `name` (case-insensitive), in order: `Set-Cookie`
    /// may appear many times (RFC 6265 §3).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Every field, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[u8])> + '_ {
        head_fields(self.bytes())
    }

    /// The head the fields were read from, as received: up to and including its blank line.
    pub(crate) fn bytes(&self) -> &[u8] {
        match &self.head {
            #[cfg(feature = "server")]
            Head::Text(text) => text.as_bytes(),
            Head::Bytes(bytes) => bytes,
        }
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.iter().next().is_none()
    }

    /// The comma-separated elements of every field named `name` (RFC 9110 §5.6.1), trimmed,
    /// empty ones skipped, non-UTF-8 ones skipped.
    #[cfg(feature = "client")]
    pub(crate) fn list(&self, name: &str) -> Vec<String> {
        self.get_all(name)
            .filter_map(|v| std::str::from_utf8(v).ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .map(String::from)
            .collect()
    }

    /// The whole head, if the core found it all UTF-8 when it was copied.
    #[cfg(feature = "server")]
    pub(crate) fn as_str(&self) -> Option<&str> {
        match &self.head {
            Head::Text(text) => Some(text),
            Head::Bytes(_) => None,
        }
    }

    /// The text at `range` of the head, if it is text on char boundaries:
    /// [`Request`](crate::Request) finds its target, host and origin there.
    #[cfg(feature = "server")]
    pub(crate) fn text(&self, range: std::ops::Range<usize>) -> Option<&str> {
        match &self.head {
            Head::Text(text) => text.get(range),
            Head::Bytes(bytes) => std::str::from_utf8(bytes.get(range)?).ok(),
        }
    }

    /// A request head the core validated, kept as text if the core found it UTF-8.
    #[cfg(feature = "server")]
    pub(crate) fn of_request(head: RequestHead<'_>) -> Headers {
        let head = match head.as_str() {
            Some(text) => Head::Text(Box::from(text)),
            None => Head::Bytes(Box::from(head.as_bytes())),
        };
        Headers { head }
    }

    /// An HTTP/2 response's fields, written out as the field lines of a head (after a start
    /// line of `HTTP/2`: an empty one would be skipped as a blank line before the start line,
    /// RFC 9112 §2.2) so they are read like any other. `http` refused CR, LF and NUL in names
    /// and values, so each field stays one line.
    #[cfg(all(feature = "http2", feature = "client"))]
    pub(crate) fn of_h2(map: &http::HeaderMap) -> Headers {
        let mut head = b"HTTP/2\r\n".to_vec();
        for (name, value) in map {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        Headers {
            head: Head::Bytes(head.into_boxed_slice()),
        }
    }

    /// A response head: its status and fields, `None` unless `head` starts with a whole,
    /// well-formed one.
    #[cfg(feature = "client")]
    pub(crate) fn of_response(head: &[u8]) -> Option<(StatusCode, Headers)> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(head) {
            Ok(httparse::Status::Complete(len)) => Some((
                StatusCode::new(response.code?),
                Headers {
                    head: Head::Bytes(Box::from(&head[..len])),
                },
            )),
            _ => None,
        }
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

#[cfg(all(test, feature = "client"))]
mod tests {
    use super::*;

    #[test]
    fn response_keeps_every_repeated_field_in_order() {
        let head =
            b"HTTP/1.1 403 Forbidden\r\nSet-Cookie: a=1\r\nX-Other: y\r\nset-cookie: b=2\r\n\r\n";
        let (status, headers) = Headers::of_response(head).unwrap();
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(headers.len(), 3);
        let cookies: Vec<&[u8]> = headers.get_all("SET-COOKIE").collect();
        assert_eq!(cookies, [&b"a=1"[..], b"b=2"]);
        assert_eq!(headers.get_str("x-other"), Some("y"));
    }

    #[test]
    fn incomplete_response_head_is_refused() {
        assert!(Headers::of_response(b"HTTP/1.1 200 OK\r\nA: b\r\n").is_none());
    }

    #[test]
    fn list_splits_trims_and_joins_repeated_fields() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nP: x, y\r\nP: ,z\r\n\r\n";
        let (_, headers) = Headers::of_response(head).unwrap();
        assert_eq!(headers.list("p"), ["x", "y", "z"]);
    }

    #[cfg(feature = "http2")]
    #[test]
    fn h2_fields_read_like_a_head_in_order() {
        let mut map = http::HeaderMap::new();
        map.append("set-cookie", http::HeaderValue::from_static("a=1"));
        map.insert(
            "sec-websocket-protocol",
            http::HeaderValue::from_static("chat"),
        );
        map.append("set-cookie", http::HeaderValue::from_static("b=2; Path=/"));
        let headers = Headers::of_h2(&map);
        assert_eq!(headers.len(), 3);
        let cookies: Vec<&[u8]> = headers.get_all("Set-Cookie").collect();
        assert_eq!(cookies, [&b"a=1"[..], b"b=2; Path=/"]);
        assert_eq!(headers.get_str("sec-websocket-protocol"), Some("chat"));
        assert!(Headers::of_h2(&http::HeaderMap::new()).is_empty());
    }
}
