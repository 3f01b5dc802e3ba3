//! Any request bytes, split anywhere: the parser never panics, gives the same verdict
//! however the bytes arrive, refuses only with handshake statuses, and a request it accepts
//! can always be answered with a 101 carrying the right accept key; a kept index views the
//! same request the parser returns.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_core::handshake::{AcceptKey, RequestParser};
use switchyard_core::{Limits, Parsed};

fn verdict(data: &[u8], cut: usize) -> Option<Result<usize, u16>> {
    let limits = Limits {
        max_header_bytes: 2048,
        max_request_line: 512,
        max_headers: 32,
        ..Limits::DEFAULT
    };
    let mut parser = RequestParser::new(limits);
    for end in [cut.min(data.len()), data.len()] {
        match parser.parse(&data[..end]) {
            Ok(Parsed::Complete(req, len)) => {
                assert!(len <= end);
                let mut out = [0u8; 1024];
                let agreement = req
                    .offer()
                    .agree(req.offer().offered_protocols().next(), None)
                    .expect("an offered subprotocol is agreeable");
                let n = req
                    .write_response(&agreement, &[], &mut out)
                    .expect("101 fits");
                let accept = AcceptKey::from_key(req.key().as_str().as_bytes());
                let text = std::str::from_utf8(&out[..n]).unwrap();
                assert!(text.contains(accept.as_str()));
                return Some(Ok(len));
            }
            Ok(Parsed::Partial) => {}
            Err(e) => {
                let status = e.status().as_u16();
                assert!(matches!(status, 400 | 414 | 426 | 431), "{status}");
                let mut out = [0u8; 512];
                e.write_response(&mut out).expect("refusal fits");
                return Some(Err(status));
            }
        }
    }
    None
}

/// The one parse: an index views the same request `parse` returns, and any well-formed head
/// keeps its method and target, upgrade or not.
fn index_agrees(data: &[u8]) {
    let limits = Limits::DEFAULT;
    let Ok(Parsed::Complete(index, len)) = RequestParser::new(limits).parse_index(data) else {
        return;
    };
    assert_eq!(index.head_len(), len);
    let head = index.head(data).expect("an index views its own buffer");
    assert!(data.starts_with(head.as_bytes()));
    let direct = RequestParser::new(limits).parse(data);
    match (index.request(data), direct) {
        (Ok(viewed), Ok(Parsed::Complete(parsed, _))) => {
            assert_eq!(viewed.head().target(), parsed.head().target());
            assert_eq!(viewed.key(), parsed.key());
            assert_eq!(viewed.origin(), parsed.origin());
        }
        (Err(viewed), Err(parsed)) => assert_eq!(viewed, parsed),
        (viewed, parsed) => panic!("index {viewed:?} vs parse {parsed:?}"),
    }
}

fuzz_target!(|input: (u16, &[u8])| {
    let (cut, data) = input;
    index_agrees(data);
    let whole = verdict(data, data.len());
    let split = verdict(data, usize::from(cut));
    // A refusal may come earlier from a prefix (an over-long first line), but an accepted
    // request is accepted however it is split.
    if let Some(Ok(len)) = whole {
        assert_eq!(split, Some(Ok(len)));
    }
});
