//! The opening handshake: every refusal with its exact HTTP status, the client's every
//! distinct error, the transport-neutral negotiation on its own, the extension hook in both
//! roles, and client ↔ server in memory.

use switchyard_core::handshake::{
    Agreement, ClientHandshake, ClientHandshakeError, ClientRequest, ExtensionNegotiator,
    ExtensionOffers, HandshakeError, OfferFields, OriginPolicy, RequestParser, WriteError,
};
use switchyard_core::url::WsUrl;
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
    // RFC 9110 §15.5.22 and §7.8: a 426 names the protocol in `Upgrade`, and a sender of
    // `Upgrade` lists it in `Connection`.
    assert!(text.contains("\r\nUpgrade: websocket\r\n"), "{text}");
    assert!(
        text.contains("\r\nConnection: Upgrade, close\r\n"),
        "{text}"
    );
    let n = HandshakeError::NotAnUpgrade
        .write_response(&mut out)
        .unwrap();
    let text = std::str::from_utf8(&out[..n]).unwrap();
    assert!(text.contains("\r\nUpgrade: websocket\r\n"), "{text}");
    assert!(
        text.contains("\r\nConnection: Upgrade, close\r\n"),
        "{text}"
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

// ---- negotiation, independent of the transport ----

/// The fields an RFC 8441 extended CONNECT carries: no method, key or Upgrade, only what
/// negotiation reads. The shell hands them over exactly as HTTP/1.1 does.
fn offer_of<'b>(
    fields: &[(&str, &'b str)],
) -> Result<switchyard_core::handshake::Offer<'b>, HandshakeError> {
    let mut offer = OfferFields::new();
    for (name, value) in fields {
        offer.field(name, value.as_bytes())?;
    }
    offer.finish("example.com", &Limits::DEFAULT)
}

#[test]
fn negotiation_checks_the_version_origin_and_lists_whatever_the_transport() {
    let version = ("sec-websocket-version", "13");
    /// (what, the fields, the refusal if any).
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, Option<HandshakeError>);
    let cases: Vec<Case<'_>> = vec![
        ("version 13 alone", vec![version], None),
        (
            "padded version",
            vec![("Sec-WebSocket-Version", " 13 ")],
            None,
        ),
        (
            "no version",
            vec![],
            Some(HandshakeError::UnsupportedVersion),
        ),
        (
            "version 8",
            vec![("sec-websocket-version", "8")],
            Some(HandshakeError::UnsupportedVersion),
        ),
        (
            "two versions",
            vec![version, version],
            Some(HandshakeError::DuplicateHeader("Sec-WebSocket-Version")),
        ),
        (
            "two origins",
            vec![version, ("origin", "http://a"), ("Origin", "http://b")],
            Some(HandshakeError::DuplicateHeader("Origin")),
        ),
        (
            "a subprotocol that is no token",
            vec![version, ("sec-websocket-protocol", "a b")],
            Some(HandshakeError::InvalidHeaderValue("Sec-WebSocket-Protocol")),
        ),
        (
            "protocols over several lines",
            vec![
                version,
                ("sec-websocket-protocol", "a"),
                ("sec-websocket-protocol", "b, c"),
            ],
            None,
        ),
        (
            "unrelated fields are not negotiation's",
            vec![version, ("cookie", "x=1"), ("upgrade", "h2c")],
            None,
        ),
    ];
    for (name, fields, expected) in cases {
        assert_eq!(offer_of(&fields).err(), expected, "{name}");
    }
    let nine: Vec<(&str, &str)> = std::iter::once(version)
        .chain((0..9).map(|_| ("sec-websocket-extensions", "x")))
        .collect();
    assert_eq!(
        offer_of(&nine).err(),
        Some(HandshakeError::TooManyListElements(
            "Sec-WebSocket-Extensions"
        ))
    );
    let many = (0..33)
        .map(|i| format!("p{i}"))
        .collect::<Vec<_>>()
        .join(",");
    assert_eq!(
        offer_of(&[version, ("sec-websocket-protocol", &many)]).err(),
        Some(HandshakeError::TooManyListElements(
            "Sec-WebSocket-Protocol"
        ))
    );
}

#[test]
fn subprotocol_selection_only_ever_picks_an_offered_one() {
    let cases: [(&str, &[&str], Option<&str>); 6] = [
        ("chat, superchat", &["superchat", "chat"], Some("chat")),
        ("chat, superchat", &["superchat"], Some("superchat")),
        ("chat", &["other"], None),
        ("chat", &[], None),
        ("", &["chat"], None),
        ("Chat", &["chat"], None),
    ];
    for (offered, supported, expected) in cases {
        let offer = offer_of(&[
            ("sec-websocket-version", "13"),
            ("sec-websocket-protocol", offered),
        ])
        .unwrap();
        assert_eq!(offer.select_protocol(supported), expected, "{offered}");
        if let Some(chosen) = expected {
            assert!(offer.agree(Some(chosen), None).is_ok());
        }
    }
}

#[test]
fn an_agreement_names_only_what_the_client_offered() {
    let offer = offer_of(&[
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat"),
        (
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits, x-other",
        ),
    ])
    .unwrap();
    /// (subprotocol, extension answer, verdict).
    type Case<'a> = (Option<&'a str>, Option<&'a str>, Result<(), WriteError>);
    let cases: [Case<'_>; 8] = [
        (None, None, Ok(())),
        (Some("chat"), None, Ok(())),
        (Some("other"), None, Err(WriteError::UnofferedProtocol)),
        (None, Some("permessage-deflate"), Ok(())),
        (
            None,
            Some("PerMessage-Deflate; server_no_context_takeover"),
            Ok(()),
        ),
        (
            None,
            Some("x-unoffered"),
            Err(WriteError::UnofferedExtension),
        ),
        (
            None,
            Some("permessage-deflate; a b"),
            Err(WriteError::UnofferedExtension),
        ),
        (
            None,
            Some("x-other\r\nSet-Cookie: a=b"),
            Err(WriteError::UnofferedExtension),
        ),
    ];
    for (protocol, extensions, expected) in cases {
        assert_eq!(
            offer.agree(protocol, extensions).map(|_| ()),
            expected,
            "{protocol:?} {extensions:?}"
        );
    }
}

#[test]
fn the_origin_policy_compares_with_the_authority_whatever_the_transport() {
    let offer = |origin| offer_of(&[("sec-websocket-version", "13"), ("origin", origin)]).unwrap();
    assert_eq!(
        offer("https://example.com").check_origin(&OriginPolicy::SAME_HOST),
        Ok(())
    );
    assert_eq!(
        offer("https://evil.example").check_origin(&OriginPolicy::SAME_HOST),
        Err(HandshakeError::ForbiddenOrigin)
    );
    assert_eq!(
        offer("https://evil.example").check_origin(&OriginPolicy::ANY),
        Ok(())
    );
}

/// A stand-in for permessage-deflate: offers one extension with a parameter, accepts it from
/// a client's offers, and verifies a server's answer names it.
#[derive(Debug, Default)]
struct Deflateish {
    agreed: bool,
}

impl ExtensionNegotiator for Deflateish {
    fn offer(&self) -> Option<&str> {
        Some("permessage-deflate; client_max_window_bits")
    }

    fn accept(&mut self, offers: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError> {
        for offer in offers.flatten() {
            if offer.name() == "permessage-deflate"
                && offer
                    .params()
                    .all(|(name, _)| name == "client_max_window_bits")
            {
                self.agreed = true;
                return Ok(Some("permessage-deflate"));
            }
        }
        Ok(None)
    }

    fn verify(&mut self, answer: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError> {
        for element in answer {
            match element {
                Ok(e) if e.name() == "permessage-deflate" && !self.agreed => self.agreed = true,
                _ => return Err(ClientHandshakeError::UnofferedExtension),
            }
        }
        Ok(())
    }
}

#[test]
fn an_extension_is_negotiated_through_the_hook_in_both_roles() {
    let mut client = ClientHandshake::with_extension(
        ClientRequest::new("example.com", "/"),
        Deflateish::default(),
        *b"the sample nonce",
        Limits::DEFAULT,
    )
    .unwrap();
    let request = client.request_to_vec();
    assert!(
        std::str::from_utf8(&request).unwrap().contains(
            "\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
        )
    );
    let (req, _) = parse(&request).unwrap().complete().unwrap();
    let mut server = Deflateish::default();
    let answer = server.accept(req.offer().offered_extensions()).unwrap();
    let agreement = req.offer().agree(None, answer).unwrap();
    let response = req.response_to_vec(&agreement, &[]).unwrap();
    assert!(server.agreed);
    let (res, _) = client
        .parse_response(&response)
        .unwrap()
        .complete()
        .unwrap();
    let answered: Vec<_> = res.extensions().map(|e| e.unwrap().name()).collect();
    assert_eq!(answered, ["permessage-deflate"]);
    assert!(client.extension().agreed);

    // A server that declines answers with nothing, and the client accepts that.
    let mut client = ClientHandshake::with_extension(
        ClientRequest::new("example.com", "/"),
        Deflateish::default(),
        *b"the sample nonce",
        Limits::DEFAULT,
    )
    .unwrap();
    let declined = req.response_to_vec(&Agreement::NONE, &[]).unwrap();
    assert!(
        client
            .parse_response(&declined)
            .unwrap()
            .complete()
            .is_some()
    );
    assert!(!client.extension().agreed);
}

#[test]
fn an_extension_answer_the_hook_refuses_fails_the_client() {
    let ok = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        ACCEPT,
    ];
    for answer in [
        "Sec-WebSocket-Extensions: x-other",
        "Sec-WebSocket-Extensions: permessage-deflate, permessage-deflate",
        "Sec-WebSocket-Extensions: permessage-deflate; a b",
    ] {
        let mut client = ClientHandshake::with_extension(
            ClientRequest::new("server.example.com", "/chat"),
            Deflateish::default(),
            *b"the sample nonce",
            Limits::DEFAULT,
        )
        .unwrap();
        let bytes = response(&[&ok[..], &[answer]].concat());
        assert_eq!(
            client.parse_response(&bytes).err(),
            Some(ClientHandshakeError::UnofferedExtension),
            "{answer}"
        );
    }
}

#[test]
fn a_client_refuses_to_send_a_malformed_extension_offer() {
    struct Broken;
    impl ExtensionNegotiator for Broken {
        fn offer(&self) -> Option<&str> {
            Some("permessage-deflate\r\nX: y")
        }
        fn accept(&mut self, _: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError> {
            Ok(None)
        }
        fn verify(&mut self, _: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError> {
            Ok(())
        }
    }
    assert!(matches!(
        ClientHandshake::with_extension(
            ClientRequest::new("a", "/"),
            Broken,
            [0; 16],
            Limits::DEFAULT
        ),
        Err(ClientHandshakeError::InvalidRequest("extension offer"))
    ));
}

#[test]
fn a_client_request_carries_the_url_query() {
    let url = WsUrl::parse("ws://example.com:8080?room=1").unwrap();
    let client =
        ClientHandshake::new(ClientRequest::from_url(&url), [0; 16], Limits::DEFAULT).unwrap();
    let request = client.request_to_vec();
    let (req, _) = parse(&request).unwrap().complete().unwrap();
    assert_eq!(req.head().target(), "/?room=1");
    assert_eq!(req.host(), "example.com:8080");
    let mut out = [0u8; 512];
    let n = client.write_request(&mut out).unwrap();
    assert_eq!(
        &out[..n],
        &request[..],
        "the vector writer writes the same request"
    );
}

#[test]
fn refusal_vectors_match_the_buffer_writer() {
    let mut out = [0u8; 512];
    for error in [
        HandshakeError::UnsupportedVersion,
        HandshakeError::NotAnUpgrade,
        HandshakeError::ForbiddenOrigin,
        HandshakeError::Unavailable,
    ] {
        let n = error.write_response(&mut out).unwrap();
        assert_eq!(error.response_to_vec(), &out[..n]);
    }
}
