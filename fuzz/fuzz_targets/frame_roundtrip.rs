//! Any encodable header: encode → decode gives it back, with its exact length, and every
//! prefix is Partial.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use switchyard_core::{FrameHeader, OpCode, Parsed};

#[derive(Debug, Arbitrary)]
struct Input {
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: Option<[u8; 4]>,
    len: u64,
}

fuzz_target!(|input: Input| {
    let Some(opcode) = OpCode::from_u8(input.opcode & 0xF) else {
        return;
    };
    let mut header = FrameHeader {
        fin: input.fin,
        rsv: input.rsv & 7,
        opcode,
        mask: input.mask,
        payload_len: input.len >> 1,
    };
    if opcode.is_control() {
        header.fin = true;
        header.payload_len %= 126;
    }
    let mut out = [0u8; 14];
    let n = header.encode(&mut out).expect("encodable");
    assert_eq!(n, header.encoded_len());
    assert_eq!(
        FrameHeader::decode(&out[..n]),
        Ok(Parsed::Complete(header, n))
    );
    for cut in 0..n {
        assert_eq!(FrameHeader::decode(&out[..cut]), Ok(Parsed::Partial));
    }
});
