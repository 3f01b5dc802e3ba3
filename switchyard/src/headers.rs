//! [`Headers`]: the header fields of a handshake's request or response, owned, as received.
//!
//! The core validates a handshake head without allocating and keeps only what the protocol
//! needs; the application also wants the rest (cookies, authorization, custom fields). A
//! request's fields come from the core's one parse of its head; a response head is parsed
//! here, after the core accepted it, so its size is already within
//! [`Limits`](switchyard_core::Limits) and its field count within [`MAX_HEADER_SLOTS`].

use std::fmt;
use std::ops::Range;

#[cfg(feature = "client")]
use switchyard_core::handshake::MAX_HEADER_SLOTS;
#[cfg(feature = "server")]
use switchyard_core::handshake::RequestHead;
#[cfg(feature = "client")]
use switchyard_core::handshake::StatusCode;

/// Header fields in the order received, names as sent (compare them case-insensitively,
/// RFC 9110 §5.1), values as bytes (RFC 9110 §5.5 allows bytes beyond ASCII).
///
/// Held as one copy of the head plus where each field lies in it: two allocations per
/// handshake, however many fields.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    head: Box<[u8]>,
    fields: Vec<Field>,
}

/// Where one field's name and value lie in the head.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Field {
    name: Range<usize>,
    value: Range<usize>,
}

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
        self.fields.iter().map(|field| {
            // Names are tokens (RFC 9110 §5.1), which `from_parsed` checked are ASCII.
            let name = std::str::from_utf8(&self.head[field.name.clone()]).unwrap_or_default();
            (name, &self.head[field.value.clone()])
        })
    }

    /// How many fields there are.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
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

    /// Copies `head` and records where each of `fields` (views into it) lies. A field that
    /// does not lie in `head`, or whose name is not ASCII, cannot come from a parse of it and
    /// is left out.
    fn from_fields<'h>(head: &[u8], fields: impl Iterator<Item = (&'h str, &'h [u8])>) -> Headers {
        let start = head.as_ptr() as usize;
        let span = |part: &[u8]| {
            let offset = (part.as_ptr() as usize).checked_sub(start)?;
            let end = offset.checked_add(part.len())?;
            (end <= head.len()).then_some(offset..end)
        };
        let fields = fields
            .filter(|(name, _)| name.is_ascii())
            .filter_map(|(name, value)| {
                Some(Field {
                    name: span(name.as_bytes())?,
                    value: span(value)?,
                })
            })
            .collect();
        Headers {
            head: Box::from(head),
            fields,
        }
    }

    /// The fields of a request head, from the core's one parse of it.
    #[cfg(feature = "server")]
    pub(crate) fn of_request(head: RequestHead<'_>) -> Headers {
        Headers::from_fields(head.as_bytes(), head.headers())
    }

    /// The fields of an HTTP/2 response, as h2 decoded them (names lower-case).
    #[cfg(all(feature = "http2", feature = "client"))]
    pub(crate) fn of_h2(map: &http::HeaderMap) -> Headers {
        let mut head = Vec::new();
        let mut spans = Vec::with_capacity(map.len());
        for (name, value) in map {
            let name_at = head.len();
            head.extend_from_slice(name.as_str().as_bytes());
            let value_at = head.len();
            head.extend_from_slice(value.as_bytes());
            spans.push(Field {
                name: name_at..value_at,
                value: value_at..head.len(),
            });
        }
        Headers {
            head: head.into_boxed_slice(),
            fields: spans,
        }
    }

    /// The status and fields of a complete response head, or `None` if it is not one.
    #[cfg(feature = "client")]
    pub(crate) fn of_response(head: &[u8]) -> Option<(StatusCode, Headers)> {
        let mut slots = [httparse::EMPTY_HEADER; MAX_HEADER_SLOTS];
        let mut response = httparse::Response::new(&mut slots);
        match response.parse(head) {
            Ok(httparse::Status::Complete(len)) => Some((
                StatusCode::new(response.code?),
                Headers::from_fields(
                    &head[..len],
                    response.headers.iter().map(|h| (h.name, h.value)),
                ),
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
}
