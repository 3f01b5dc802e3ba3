//! The little HTTP the handshake needs: the status codes it answers with, and the response
//! heads of its refusals. Plain web pages are the application's business, not the core's.

use core::fmt;

use crate::write::Writer;

/// An HTTP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 101: the handshake succeeded.
    pub const SWITCHING_PROTOCOLS: StatusCode = StatusCode(101);
    /// 400: a malformed or invalid handshake.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 403: an Origin the policy refuses.
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 414: the request line is too long.
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    /// 426: not an upgrade, or not version 13.
    pub const UPGRADE_REQUIRED: StatusCode = StatusCode(426);
    /// 405: a method the route does not serve (over HTTP/2, a CONNECT without `:protocol`).
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 431: too many or too large header fields.
    pub const HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    /// 501: over HTTP/2, an extended CONNECT for a protocol other than `websocket`.
    pub const NOT_IMPLEMENTED: StatusCode = StatusCode(501);
    /// 503: draining, or at the connection limit.
    pub const SERVICE_UNAVAILABLE: StatusCode = StatusCode(503);

    /// Wraps a numeric code.
    pub const fn new(code: u16) -> StatusCode {
        StatusCode(code)
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The standard reason phrase, or `""` for codes the handshake never writes.
    pub const fn reason(self) -> &'static str {
        match self.0 {
            101 => "Switching Protocols",
            400 => "Bad Request",
            403 => "Forbidden",
            405 => "Method Not Allowed",
            414 => "URI Too Long",
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            501 => "Not Implemented",
            503 => "Service Unavailable",
            _ => "",
        }
    }
}

impl fmt::Display for StatusCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.0, self.reason())
    }
}

/// Writes a response head whose header names and values the caller knows to be safe.
pub(crate) fn put_head(
    w: &mut Writer<'_>,
    status: StatusCode,
    headers: &[(&str, &[u8])],
    content_length: Option<u64>,
) {
    w.put(b"HTTP/1.1 ");
    w.put_decimal(u64::from(status.0));
    w.put(b" ");
    w.put(status.reason().as_bytes());
    w.put(b"\r\n");
    for (name, value) in headers {
        w.header(name, value);
    }
    if let Some(len) = content_length {
        w.put(b"Content-Length: ");
        w.put_decimal(len);
        w.put(b"\r\n");
    }
    w.put(b"\r\n");
}

/// A request target's path and query, the query without its `?` (RFC 9112 §3.2). The origin
/// form (`/chat?room=1`) is split at its `?`. The absolute form
/// (`http://example.com/chat?room=1`), which RFC 6455 §4.2.1 item 1 allows ("an absolute
/// HTTP/HTTPS URI containing the /resource name/") and RFC 9112 §3.2.2 has every server
/// accept, loses its scheme and authority first, and an empty path is `/`.
pub fn split_target(target: &str) -> (&str, Option<&str>) {
    // A byte loop: a target is short, and `split_once('?')` sets up a searcher for a `char`
    // (about 80 instructions per request, callgrind). `?` is ASCII: a boundary to split at.
    let (path, query) = match target.bytes().position(|b| b == b'?') {
        Some(at) => (&target[..at], Some(&target[at + 1..])),
        None => (target, None),
    };
    // The origin form, which browsers send, starts with its path: no scheme to look for
    // (a search for `://` costs about 250 instructions however short the target, callgrind).
    if path.starts_with('/') {
        return (path, query);
    }
    let path = match path.split_once("://") {
        Some((scheme, rest))
            if scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https") =>
        {
            rest.find('/').map_or("/", |slash| &rest[slash..])
        }
        _ => path,
    };
    (path, query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_splits_into_path_and_query_in_either_form() {
        assert_eq!(split_target("/chat?room=1"), ("/chat", Some("room=1")));
        assert_eq!(split_target("/chat"), ("/chat", None));
        assert_eq!(split_target("/a?b?c"), ("/a", Some("b?c")));
        assert_eq!(
            split_target("http://example.com/chat?x"),
            ("/chat", Some("x"))
        );
        assert_eq!(split_target("HTTPS://example.com:8443/a/b"), ("/a/b", None));
        assert_eq!(split_target("http://example.com"), ("/", None));
        assert_eq!(split_target("http://example.com?x"), ("/", Some("x")));
        // Only http and https name a resource; anything else is a path as sent.
        assert_eq!(
            split_target("ftp://example.com/a"),
            ("ftp://example.com/a", None)
        );
        assert_eq!(split_target("/a://b"), ("/a://b", None));
    }
}
