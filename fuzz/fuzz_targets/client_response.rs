//! Any response bytes: the client never panics, and accepts only a 101 that carries the
//! accept key for its own nonce.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_core::handshake::{ClientHandshake, ClientRequest};
use switchyard_core::{Limits, Parsed};

fuzz_target!(|data: &[u8]| {
    let config = ClientRequest {
        protocols: &["chat"],
        ..ClientRequest::new("example.com", "/")
    };
    let mut hs = ClientHandshake::new(config, *b"the sample nonce", Limits::DEFAULT).unwrap();
    if let Ok(Parsed::Complete(res, len)) = hs.parse_response(data) {
        assert!(len <= data.len());
        let head = std::str::from_utf8(res.head()).unwrap_or("");
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "accepted without our accept key"
        );
        assert!(matches!(res.protocol(), None | Some("chat")));
    }
});
