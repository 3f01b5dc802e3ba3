//! Any bytes: decoding never panics, never claims more bytes than it has, and a decoded
//! header re-encodes (minimally) to a header that decodes to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use switchyard_core::{FrameHeader, Parsed};

fuzz_target!(|data: &[u8]| {
    match FrameHeader::decode(data) {
        Ok(Parsed::Complete(header, len)) => {
            assert!(len <= data.len() && (2..=14).contains(&len));
            assert!(header.payload_len < 1 << 63, "top bit must be refused");
            if header.opcode.is_control() {
                assert!(header.fin && header.payload_len <= 125);
            }
            let mut out = [0u8; 14];
            let n = header.encode(&mut out).expect("a decoded header encodes");
            assert!(n <= len, "minimal encoding is never longer");
            assert_eq!(
                FrameHeader::decode(&out[..n]),
                Ok(Parsed::Complete(header, n))
            );
        }
        Ok(Parsed::Partial) => assert!(data.len() < 14),
        Err(error) => {
            let code = error.close_code().as_u16();
            assert!(
                code == 1002,
                "header errors are protocol errors, got {code}"
            );
        }
    }
});
