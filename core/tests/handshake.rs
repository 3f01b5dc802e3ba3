//! The opening handshake: every refusal with its exact HTTP status, the client's every
//! distinct error, and client ↔ server in memory.

use switchyard_core::handshake::{
    Agreement, ClientHandshake, ClientHandshakeError, ClientRequest, HandshakeError, OriginPolicy,
    RequestParser, WriteError,
};
use switchyard_core::{Limits, Parsed};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn request(lines: &[&str]) -> Vec<u8> {
    let mut out = String::new();
    for line in lines {
        out.push_str(line);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.into_bytes()
}

fn good_lines() -> Vec<String> {
    vec![
        "GET /chat?room=1 HTTP/1.1".into(),
        "Host: server.example.com".into(),
        "Upgrade: websocket".into(),
        "Connection: Upgrade".into(),
        format!("Sec-WebSocket-Key: {KEY}"),
        "Origin: http://server.example.com".into(),
        "Sec-WebSocket-Protocol: chat, superchat".into(),
        "Sec-WebSocket-Version: 13".into(),
    ]
}

fn parse(bytes: &[u8]) -> Result<Parsed<switchyard_core::handshake::Request<'_>>, HandshakeError> {
    RequestParser::new(Limits::DEFAULT).parse(bytes)
}

fn status_of(lines: &[String]) -> u16 {
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = request(&refs);
    match parse(&bytes) {
        Ok(Parsed::Complete(..)) => 101,
        Ok(Parsed::Partial) => 0,
        Err(e) => e.status().as_u16(),
    }
}

fn without(name: &str) -> Vec<String> {
    good_lines()
        .into_iter()
        .filter(|l| {
            !l.to_ascii_lowercase()
                .starts_with(&name.to_ascii_lowercase())
        })
        .collect()
}

fn with(extra: &str) -> Vec<String> {
    let mut lines = good_lines();
    lines.push(extra.into());
    lines
}

fn replace(name: &str, line: &str) -> Vec<String> {
    let mut lines = without(name);
    lines.push(line.into());
    lines
}

#[test]
fn accepts_the_rfc_example_and_answers_it() {
    let lines = good_lines();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let mut bytes = request(&refs);
    let head_len = bytes.len();
    bytes.extend_from_slice(b"\x81\x85early");
    let (req, len) = parse(&bytes).unwrap().complete().unwrap();
    assert_eq!(
        len, head_len,
        "bytes after the head are left for the frame layer"
    );
    assert_eq!(req.head().target(), "/chat?room=1");
    assert_eq!((req.path(), req.query()), ("/chat", Some("room=1")));
    assert_eq!(req.host(), "server.example.com");
    assert_eq!(req.origin(), Some("http://server.example.com"));
    assert_eq!(
        req.offer().offered_protocols().collect::<Vec<_>>(),
        ["chat", "superchat"]
    );
    assert_eq!(req.accept_key().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    assert_eq!(req.head().as_bytes(), &bytes[..head_len]);
    req.check_origin(&OriginPolicy::SAME_HOST).unwrap();
    assert_eq!(req.select_protocol(&["superchat", "chat"]), Some("chat"));
    let mut out = [0u8; 256];
    let chat = req.offer().agree(Some("chat"), None).unwrap();
    let n = req.write_response(&chat, &[], &mut out).unwrap();
    assert_eq!(
        std::str::from_utf8(&out[..n]).unwrap(),
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    assert_eq!(
        req.offer().agree(Some("other"), None),
        Err(WriteError::UnofferedProtocol)
    );
    assert_eq!(
        req.write_response(&Agreement::NONE, &[("X-A", "b\r\nc")], &mut out),
        Err(WriteError::UnsafeHeader)
    );
    assert!(matches!(
        req.write_response(&Agreement::NONE, &[], &mut out[..10]),
        Err(WriteError::BufferTooSmall(_))
    ));
    assert_eq!(
        req.response_to_vec(&chat, &[]).unwrap(),
        &out[..n],
        "the vector writer writes the same answer"
    );
}

#[test]
fn partial_until_the_head_is_complete() {
    let lines = good_lines();
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = request(&refs);
    let mut parser = RequestParser::new(Limits::DEFAULT);
    for end in 0..bytes.len() {
        assert!(
            matches!(parser.parse(&bytes[..end]), Ok(Parsed::Partial)),
            "end {end}"
        );
    }
    assert!(matches!(parser.parse(&bytes), Ok(Parsed::Complete(_, n)) if n == bytes.len()));
}

#[test]
fn tolerant_of_header_case_lists_and_firefox_connection() {
    let lines = replace("Connection", "connection: keep-alive, Upgrade");
    assert_eq!(status_of(&lines), 101);
    let lines = replace("Upgrade", "UPGRADE: WebSocket");
    assert_eq!(status_of(&lines), 101);
    assert_eq!(status_of(&with("Content-Length: 0")), 101);
}

#[test]
fn refusals_have_their_exact_status() {
    let cases: Vec<(&str, Vec<String>, u16)> = vec![
        (
            "POST",
            {
                let mut l = good_lines();
                l[0] = "POST /chat HTTP/1.1".into();
                l
            },
            400,
        ),
        (
            "HTTP/1.0",
            {
                let mut l = good_lines();
                l[0] = "GET /chat HTTP/1.0".into();
                l
            },
            400,
        ),
        (
            "garbage request line",
            {
                let mut l = good_lines();
                l[0] = "HELLO".into();
                l
            },
            400,
        ),
        ("no Host", without("Host"), 400),
        ("two Hosts", with("Host: other"), 400),
        ("no Upgrade", without("Upgrade"), 426),
        ("Upgrade: h2c", replace("Upgrade", "Upgrade: h2c"), 400),
        ("no Connection", without("Connection"), 400),
        (
            "Connection: keep-alive",
            replace("Connection", "Connection: keep-alive"),
            400,
        ),
        ("no key", without("Sec-WebSocket-Key"), 400),
        (
            "empty key",
            replace("Sec-WebSocket-Key", "Sec-WebSocket-Key: "),
            400,
        ),
        (
            "23-char key",
            replace(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=",
            ),
            400,
        ),
        (
            "25-char key",
            replace(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ===",
            ),
            400,
        ),
        (
            "two keys",
            with("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="),
            400,
        ),
        ("no version", without("Sec-WebSocket-Version"), 426),
        (
            "version 8",
            replace("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
            426,
        ),
        ("two versions", with("Sec-WebSocket-Version: 13"), 400),
        ("two origins", with("Origin: http://evil.example"), 400),
        ("a body", with("Content-Length: 5"), 400),
        ("chunked", with("Transfer-Encoding: chunked"), 400),
        (
            "bad subprotocol",
            replace("Sec-WebSocket-Protocol", "Sec-WebSocket-Protocol: a b"),
            400,
        ),
        (
            "33 subprotocols",
            replace(
                "Sec-WebSocket-Protocol",
                &format!(
                    "Sec-WebSocket-Protocol: {}",
                    (0..33)
                        .map(|i| format!("p{i}"))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            400,
        ),
        (
            "9 extension lines",
            {
                let mut l = good_lines();
                l.extend((0..9).map(|_| "Sec-WebSocket-Extensions: x".to_string()));
                l
            },
            400,
        ),
    ];
    for (name, lines, status) in cases {
        assert_eq!(status_of(&lines), status, "{name}");
    }
}

#[test]
fn caps_the_request_line_the_head_and_the_field_count() {
    let long_path = format!("GET /{} HTTP/1.1", "a".repeat(9000));
    let mut lines = good_lines();
    lines[0] = long_path;
    assert_eq!(status_of(&lines), 414);
    assert_eq!(
        status_of(&with(&format!("X-Big: {}", "b".repeat(17_000)))),
        431
    );
    let mut many = good_lines();
    many.extend((0..100).map(|i| format!("X-{i}: y")));
    assert_eq!(status_of(&many), 431);
    // An endless request line is refused before it ends; an endless head too.
    let mut parser = RequestParser::new(Limits::DEFAULT);
    assert_eq!(
        parser.parse(&[b'G'; 8193]).unwrap_err().status().as_u16(),
        414
    );
    let endless = [&b"GET / HTTP/1.1\r\nX: "[..], &[b'a'; 20_000]].concat();
    assert_eq!(
        RequestParser::new(Limits::DEFAULT)
            .parse(&endless)
            .unwrap_err()
            .status()
            .as_u16(),
        431
    );
}

#[test]
fn byte_at_a_time_is_linear() {
    // A 16 KiB head trickled one byte at a time scans each byte once; this would take
    // seconds if each call re-parsed from the start (CVE-2023-43669).
    let head = [&b"GET / HTTP/1.1\r\n"[..], &b"X-Pad: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(60)].concat();
    let mut parser = RequestParser::new(Limits {
        max_headers: 128,
        ..Limits::DEFAULT
    });
    for end in 0..head.len() {
        assert!(matches!(parser.parse(&head[..end]), Ok(Parsed::Partial)));
    }
}

#[test]
fn origin_policy_refuses_with_403() {
    let lines = replace("Origin", "Origin: https://evil.example");
    let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
    let bytes = request(&refs);
    let (req, _) = parse(&bytes).unwrap().complete().unwrap();
    let err = req.check_origin(&OriginPolicy::SAME_HOST).unwrap_err();
    assert_eq!(err, HandshakeError::ForbiddenOrigin);
    assert_eq!(err.status().as_u16(), 403);
    req.check_origin(&OriginPolicy::same_host_or(&["https://evil.example"]))
        .unwrap();
}

#[test]
fn refusals_write_complete_responses() {
    let mut out = [0u8; 512];
    let n = HandshakeError::UnsupportedVersion
        .write_response(&mut out)
        .unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    assert!(
        text.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{text}"
    );
    assert!(text.contains("\r\nSec-WebSocket-Version: 13\r\n"));
    assert!(text.contains("\r\nConnection: close\r\n"));
    let n = HandshakeError::NotAnUpgrade
        .write_response(&mut out)
        .unwrap();
    assert!(
        std::str::from_utf8(&out[..n])
            .unwrap()
            .contains("\r\nUpgrade: websocket\r\n")
    );
    let n = HandshakeError::HeadTooLarge
        .write_response(&mut out)
        .unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 431 Request Header Fields Too Large"));
    assert!(head.contains(&format!("Content-Length: {}", body.len())));
    assert_eq!(HandshakeError::Unavailable.status().as_u16(), 503);
    assert!(
        HandshakeError::MissingKey
            .write_response(&mut out[..20])
            .is_err()
    );
}

// ---- client side ----

fn client_request() -> ClientRequest<'static> {
    ClientRequest {
        protocols: &["chat", "superchat"],
        origin: Some("http://example.com"),
        ..ClientRequest::new("server.example.com", "/chat")
    }
}

fn response(lines: &[&str]) -> Vec<u8> {
    request(lines)
}

const ACCEPT: &str = "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn client_result(lines: &[&str]) -> Result<Option<String>, ClientHandshakeError> {
    let mut hs =
        ClientHandshake::new(client_request(), *b"the sample nonce", Limits::DEFAULT).unwrap();
    let bytes = response(lines);
    match hs.parse_response(&bytes)? {
        Parsed::Complete(r, _) => Ok(r.protocol().map(String::from)),
        Parsed::Partial => panic!("partial"),
    }
}

#[test]
fn client_writes_the_request_and_accepts_a_good_answer() {
    let hs = ClientHandshake::new(client_request(), *b"the sample nonce", Limits::DEFAULT).unwrap();
    let mut out = [0u8; 512];
    let n = hs.write_request(&mut out).unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    assert_eq!(
        text,
        "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\r\n"
    );
    // The server's side accepts it, and the client accepts the server's answer.
    let (req, _) = parse(&out[..n]).unwrap().complete().unwrap();
    let mut answer = [0u8; 512];
    let superchat = req
        .offer()
        .agree(req.select_protocol(&["superchat"]), None)
        .unwrap();
    let m = req.write_response(&superchat, &[], &mut answer).unwrap();
    let mut hs = hs;
    let mut with_frame = answer[..m].to_vec();
    with_frame.extend_from_slice(b"\x81\x00");
    let (res, len) = hs.parse_response(&with_frame).unwrap().complete().unwrap();
    assert_eq!((res.protocol(), len), (Some("superchat"), m));
}

#[test]
fn client_refusals_are_distinct() {
    let ok = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        ACCEPT,
    ];
    assert_eq!(client_result(&ok), Ok(None));
    let cases: Vec<(Vec<&str>, ClientHandshakeError)> = vec![
        (
            vec!["HTTP/1.1 200 OK", "Content-Length: 0"],
            ClientHandshakeError::UnexpectedStatus(200),
        ),
        (
            vec![
                "HTTP/1.1 101 Switching Protocols",
                "Connection: Upgrade",
                ACCEPT,
            ],
            ClientHandshakeError::MissingUpgrade,
        ),
        (
            vec![
                "HTTP/1.1 101 Switching Protocols",
                "Upgrade: websocket",
                ACCEPT,
            ],
            ClientHandshakeError::MissingConnectionUpgrade,
        ),
        (
            vec![
                "HTTP/1.1 101 Switching Protocols",
                "Upgrade: websocket",
                "Connection: Upgrade",
            ],
            ClientHandshakeError::MissingAccept,
        ),
        (
            vec![
                "HTTP/1.1 101 Switching Protocols",
                "Upgrade: websocket",
                "Connection: Upgrade",
                "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ],
            ClientHandshakeError::AcceptMismatch,
        ),
        (
            [&ok[..], &["Sec-WebSocket-Protocol: other"]].concat(),
            ClientHandshakeError::UnofferedProtocol,
        ),
        (
            [&ok[..], &["Sec-WebSocket-Protocol: chat, superchat"]].concat(),
            ClientHandshakeError::UnofferedProtocol,
        ),
        (
            [&ok[..], &["Sec-WebSocket-Extensions: permessage-deflate"]].concat(),
            ClientHandshakeError::UnofferedExtension,
        ),
        (
            vec!["HTTP/1.1 abc"],
            ClientHandshakeError::MalformedResponse,
        ),
    ];
    for (lines, error) in cases {
        assert_eq!(client_result(&lines), Err(error), "{lines:?}");
    }
    assert_eq!(
        client_result(&[&ok[..], &["Sec-WebSocket-Protocol: chat"]].concat()),
        Ok(Some("chat".into()))
    );
    let huge = format!("X: {}", "a".repeat(20_000));
    assert_eq!(
        client_result(&[&ok[..], &[huge.as_str()]].concat()),
        Err(ClientHandshakeError::ResponseTooLarge)
    );
}

#[test]
fn client_refuses_unsafe_request_parts() {
    let nonce = [0u8; 16];
    let bad = [
        ClientRequest::new("host\r\nX: y", "/"),
        ClientRequest::new("host", "no-slash"),
        ClientRequest::new("host", "/a b"),
        ClientRequest {
            protocols: &["a,b"],
            ..ClientRequest::new("host", "/")
        },
        ClientRequest {
            extra_headers: &[("X", "a\nb")],
            ..ClientRequest::new("host", "/")
        },
        ClientRequest {
            origin: Some("http://a\0"),
            ..ClientRequest::new("host", "/")
        },
    ];
    for config in bad {
        assert!(
            matches!(
                ClientHandshake::new(config, nonce, Limits::DEFAULT),
                Err(ClientHandshakeError::InvalidRequest(_))
            ),
            "{config:?}"
        );
    }
}
