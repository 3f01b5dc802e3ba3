//! The plain HTTP side: the few responses the demo writes itself for its pages (200, 404,
//! 405). Web pages are this binary's business, not the protocol core's: the core writes only
//! handshake answers and refusals
//! ([`HandshakeError::response_to_vec`](switchyard::HandshakeError::response_to_vec)). The
//! method and target of a plain request come from the core's one parse of the head
//! ([`PendingUpgrade::head`](switchyard::PendingUpgrade::head)).

/// A status the plain pages answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusCode {
    code: u16,
    reason: &'static str,
}

impl StatusCode {
    pub(crate) const OK: StatusCode = StatusCode {
        code: 200,
        reason: "OK",
    };
    pub(crate) const BAD_REQUEST: StatusCode = StatusCode {
        code: 400,
        reason: "Bad Request",
    };
    pub(crate) const NOT_FOUND: StatusCode = StatusCode {
        code: 404,
        reason: "Not Found",
    };
    pub(crate) const METHOD_NOT_ALLOWED: StatusCode = StatusCode {
        code: 405,
        reason: "Method Not Allowed",
    };
    pub(crate) const SERVICE_UNAVAILABLE: StatusCode = StatusCode {
        code: 503,
        reason: "Service Unavailable",
    };

    pub(crate) const fn as_u16(self) -> u16 {
        self.code
    }
}

/// The path of a request target: the query removed (and the scheme and authority of the
/// absolute form).
pub(crate) fn path_of(target: &str) -> &str {
    switchyard::switchyard_core::handshake::http::split_target(target).0
}

/// A complete response; `head_only` for `HEAD` (same headers, no body).
pub(crate) fn response(
    status: StatusCode,
    content_type: &str,
    extra: &[(&str, &[u8])],
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let mut out = head(status, content_type, extra, body.len() as u64);
    if !head_only {
        out.extend_from_slice(body);
    }
    out
}

/// A response head, for a body of `content_length` bytes sent after it.
///
/// Every header name and value here is a constant or a content type from the asset table,
/// never request input, so none can split the response.
pub(crate) fn head(
    status: StatusCode,
    content_type: &str,
    extra: &[(&str, &[u8])],
    content_length: u64,
) -> Vec<u8> {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Content-Type", content_type.as_bytes()),
        ("Cache-Control", b"no-cache"),
        ("X-Content-Type-Options", b"nosniff"),
        ("Connection", b"close"),
    ];
    headers.extend_from_slice(extra);
    let mut out = format!("HTTP/1.1 {} {}\r\n", status.code, status.reason).into_bytes();
    for (name, value) in headers {
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("Content-Length: {content_length}\r\n\r\n").as_bytes());
    out
}

pub(crate) fn text(status: StatusCode, body: &str, head_only: bool) -> Vec<u8> {
    response(
        status,
        "text/plain; charset=utf-8",
        &[],
        body.as_bytes(),
        head_only,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_the_query_from_a_target() {
        assert_eq!(path_of("/healthz?x=1"), "/healthz");
        assert_eq!(path_of("/healthz"), "/healthz");
    }

    #[test]
    fn writes_length_and_omits_the_body_for_head() {
        let get = text(StatusCode::OK, "ok\n", false);
        assert!(get.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(get.ends_with(b"Content-Length: 3\r\n\r\nok\n"));
        let head = text(StatusCode::NOT_FOUND, "ok\n", true);
        assert!(head.starts_with(b"HTTP/1.1 404 Not Found\r\n"));
        assert!(head.ends_with(b"Content-Length: 3\r\n\r\n"));
    }
}
