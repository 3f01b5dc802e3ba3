//! Any text as a WebSocket URI: the parser never panics, and every URI it accepts makes a
//! request the client handshake accepts and the server side reads back as the same host,
//! path and query.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_core::handshake::{ClientHandshake, ClientRequest, RequestParser};
use switchyard_core::url::WsUrl;
use switchyard_core::{Limits, Parsed};

fuzz_target!(|text: &str| {
    let Ok(url) = WsUrl::parse(text) else {
        return;
    };
    assert!(!url.host().is_empty());
    assert_ne!(url.port(), 0);
    assert!(url.path().starts_with('/'));
    assert!(text.contains(url.authority()));
    let client = ClientHandshake::new(ClientRequest::from_url(&url), [7; 16], Limits::DEFAULT)
        .expect("a parsed URI makes a valid request");
    let request = client.request_to_vec();
    let limits = Limits {
        max_request_line: usize::MAX,
        max_header_bytes: usize::MAX,
        ..Limits::DEFAULT
    };
    match RequestParser::new(limits).parse(&request) {
        Ok(Parsed::Complete(req, len)) => {
            assert_eq!(len, request.len());
            assert_eq!(req.host(), url.authority());
            assert_eq!(req.path(), url.path());
            assert_eq!(req.query(), url.query());
        }
        other => panic!("the server side refuses our own request: {other:?}"),
    }
});
