//! The little HTTP/1.1 the handshake needs to write: status codes and response heads.

use core::fmt;

use super::fields::is_safe_value;
use crate::write::{BufferTooSmall, Writer};

/// An HTTP status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusCode(u16);

impl StatusCode {
    /// 101: the handshake succeeded.
    pub const SWITCHING_PROTOCOLS: StatusCode = StatusCode(101);
    /// 200.
    pub const OK: StatusCode = StatusCode(200);
    /// 400: a malformed or invalid handshake.
    pub const BAD_REQUEST: StatusCode = StatusCode(400);
    /// 403: an Origin the policy refuses.
    pub const FORBIDDEN: StatusCode = StatusCode(403);
    /// 404.
    pub const NOT_FOUND: StatusCode = StatusCode(404);
    /// 405.
    pub const METHOD_NOT_ALLOWED: StatusCode = StatusCode(405);
    /// 414: the request line is too long.
    pub const URI_TOO_LONG: StatusCode = StatusCode(414);
    /// 426: not an upgrade, or not version 13.
    pub const UPGRADE_REQUIRED: StatusCode = StatusCode(426);
    /// 431: too many or too large header fields.
    pub const HEADER_FIELDS_TOO_LARGE: StatusCode = StatusCode(431);
    /// 500.
    pub const INTERNAL_SERVER_ERROR: StatusCode = StatusCode(500);
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

    /// The standard reason phrase, or `""` for codes this crate never writes.
    pub const fn reason(self) -> &'static str {
        match self.0 {
            101 => "Switching Protocols",
            200 => "OK",
            400 => "Bad Request",
            403 => "Forbidden",
            404 => "Not Found",
            405 => "Method Not Allowed",
            414 => "URI Too Long",
            426 => "Upgrade Required",
            431 => "Request Header Fields Too Large",
            500 => "Internal Server Error",
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

/// A header value that cannot be written: it holds CR, LF or NUL, or the name is no token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnsafeHeader;

/// Writes `HTTP/1.1 <status>`, the headers, `Content-Length` when a body length is given, and
/// the blank line. Header names must be tokens and values free of CR, LF and NUL.
pub fn write_head(
    status: StatusCode,
    headers: &[(&str, &[u8])],
    content_length: Option<u64>,
    out: &mut [u8],
) -> Result<Result<usize, BufferTooSmall>, UnsafeHeader> {
    for (name, value) in headers {
        if !super::fields::is_token(name.as_bytes()) || !is_safe_value(value) {
            return Err(UnsafeHeader);
        }
    }
    let mut w = Writer::new(out);
    put_head(&mut w, status, headers, content_length);
    Ok(w.finish())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_head() {
        let mut out = [0u8; 128];
        let n = write_head(
            StatusCode::NOT_FOUND,
            &[("Content-Type", b"text/plain")],
            Some(3),
            &mut out,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            &out[..n],
            b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn refuses_header_injection() {
        let mut out = [0u8; 128];
        assert_eq!(
            write_head(
                StatusCode::OK,
                &[("X", b"a\r\nSet-Cookie: x")],
                None,
                &mut out
            ),
            Err(UnsafeHeader)
        );
        assert_eq!(
            write_head(StatusCode::OK, &[("X Y", b"a")], None, &mut out),
            Err(UnsafeHeader)
        );
    }
}
