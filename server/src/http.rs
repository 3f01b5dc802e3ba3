//! The plain HTTP side: the request line of a request that is not a WebSocket upgrade, and
//! the few responses the server writes itself (200, 404, 405). Response heads are written by
//! the core's [`write_head`]; every refusal of a WebSocket handshake is the core's own
//! ([`HandshakeError::write_response`](switchyard::HandshakeError::write_response)).

use switchyard::switchyard_core::handshake::http::{StatusCode, write_head};

/// Header slots for reading a plain request's method and path; the core has already capped
/// the head's size and field count.
const MAX_HEADERS: usize = 128;

/// The method and request target of a complete request head, if it parses as HTTP/1.x.
pub(crate) fn request_line(head: &[u8]) -> Option<(String, String)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(head) {
        Ok(httparse::Status::Complete(_)) => {
            Some((request.method?.to_owned(), request.path?.to_owned()))
        }
        _ => None,
    }
}

/// The path of a request target: the query removed.
pub(crate) fn path_of(target: &str) -> &str {
    target.split_once('?').map_or(target, |(path, _)| path)
}

/// A complete response; `head_only` for `HEAD` (same headers, no body).
pub(crate) fn response(
    status: StatusCode,
    content_type: &str,
    extra: &[(&str, &[u8])],
    body: &[u8],
    head_only: bool,
) -> Vec<u8> {
    let mut headers: Vec<(&str, &[u8])> = vec![
        ("Content-Type", content_type.as_bytes()),
        ("Cache-Control", b"no-cache"),
        ("X-Content-Type-Options", b"nosniff"),
        ("Connection", b"close"),
    ];
    headers.extend_from_slice(extra);
    let mut out = vec![0u8; 512];
    let len = loop {
        // Every name and value here is a constant or a content type from our own table.
        match write_head(status, &headers, Some(body.len() as u64), &mut out) {
            Ok(Ok(len)) => break len,
            Ok(Err(too_small)) => out.resize(too_small.needed, 0),
            Err(_) => return Vec::new(),
        }
    };
    out.truncate(len);
    if !head_only {
        out.extend_from_slice(body);
    }
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
    fn reads_the_request_line_of_a_plain_request() {
        let head = b"POST /healthz?x=1 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(
            request_line(head),
            Some((String::from("POST"), String::from("/healthz?x=1")))
        );
        assert_eq!(path_of("/healthz?x=1"), "/healthz");
        assert_eq!(request_line(b"\x00\x01 nonsense\r\n\r\n"), None);
    }

    #[test]
    fn writes_length_and_omits_the_body_for_head() {
        let get = text(StatusCode::OK, "ok\n", false);
        assert!(get.starts_with(b"HTTP/1.1 200 OK\r\n"));
        assert!(get.ends_with(b"Content-Length: 3\r\n\r\nok\n"));
        let head = text(StatusCode::OK, "ok\n", true);
        assert!(head.ends_with(b"Content-Length: 3\r\n\r\n"));
    }
}
