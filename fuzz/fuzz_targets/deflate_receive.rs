//! permessage-deflate's receive path with hostile input: real compressed messages (from our
//! own sender, at a random window, level and takeover) or arbitrary bytes marked compressed,
//! optionally corrupted, cut into arbitrary reads. Invariants:
//! - no panic, whatever the bytes;
//! - a delivered message never passes the message limit (the inflated size is bounded while
//!   inflating: a bomb is stopped);
//! - a failure is the peer's (1002, 1007, 1008 or 1009), never the extension's own (1011);
//! - untouched messages arrive exactly as sent, in order.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

use switchyard_core::connection::{Connection, DataKind, Event, Message, Role};
use switchyard_core::deflate::{DeflateAgreement, DeflateCodec, DeflateConfig};
use switchyard_core::{Limits, ProtocolError};

#[derive(Debug, Arbitrary)]
struct Sent {
    text: bool,
    data: Vec<u8>,
    /// Send these bytes as the compressed payload instead (RSV1 set, one frame).
    raw: Option<Vec<u8>>,
    /// Send it uncompressed (RSV1 clear), outside the window.
    unencoded: bool,
    /// Flip bits of one wire byte: (index, mask).
    corrupt: Option<(u16, u8)>,
}

#[derive(Debug, Arbitrary)]
struct Input {
    bits: u8,
    level: u8,
    reset: bool,
    small_limit: bool,
    reads: Vec<u16>,
    messages: Vec<Sent>,
}

fuzz_target!(|input: Input| {
    let bits = 8 + input.bits % 8;
    let agreed = DeflateAgreement {
        server_no_context_takeover: input.reset,
        client_no_context_takeover: input.reset,
        server_max_window_bits: bits,
        client_max_window_bits: bits,
    };
    let config = DeflateConfig::SERVER
        .with_level(input.level % 10)
        .with_threshold(0);
    let limit = if input.small_limit { 1000 } else { 1 << 20 };
    let limits = Limits::DEFAULT.with_max_message_size(limit);
    let mut sender = Connection::server(Limits::DEFAULT)
        .with_extension(DeflateCodec::new(Role::Server, &agreed, &config));
    let mut receiver = Connection::client(limits, || [1, 2, 3, 4])
        .with_extension(DeflateCodec::new(Role::Client, &agreed, &config));
    let mut expected = Vec::new();
    let mut intact = true;
    let mut wire = Vec::new();
    for sent in input.messages.iter().take(16) {
        let start = wire.len();
        let kind = if sent.text { DataKind::Text } else { DataKind::Binary };
        if let Some(raw) = &sent.raw {
            let raw = &raw[..raw.len().min(4096)];
            wire.push(if sent.text { 0xc1 } else { 0xc2 });
            if raw.len() < 126 {
                wire.push(raw.len() as u8);
            } else {
                wire.push(126);
                wire.extend_from_slice(&(raw.len() as u16).to_be_bytes());
            }
            wire.extend_from_slice(raw);
            intact = false;
        } else {
            let data = &sent.data[..sent.data.len().min(1 << 16)];
            let queued = if sent.unencoded {
                sender.send_unencoded(kind, data)
            } else if sent.text {
                match core::str::from_utf8(data) {
                    Ok(text) => sender.send_text(text),
                    Err(_) => continue,
                }
            } else {
                sender.send_binary(data)
            };
            if queued.is_err() {
                continue;
            }
            loop {
                let out = sender.poll_transmit();
                if out.is_empty() {
                    break;
                }
                wire.extend_from_slice(out);
                let n = out.len();
                sender.consume_transmit(n);
            }
            expected.push(match kind {
                DataKind::Text => Message::Text(String::from_utf8(data.to_vec()).unwrap().into()),
                DataKind::Binary => Message::Binary(data.to_vec().into()),
            });
        }
        if let Some((at, mask)) = sent.corrupt
            && wire.len() > start
            && mask != 0
        {
            let i = start + usize::from(at) % (wire.len() - start);
            wire[i] ^= mask;
            intact = false;
        }
    }
    // Feed the bytes in the given read sizes.
    let mut got = Vec::new();
    let mut error = None;
    let mut rest = &wire[..];
    let mut reads = input.reads.iter().map(|&r| usize::from(r).max(1)).cycle();
    while !rest.is_empty() && error.is_none() {
        let n = if input.reads.is_empty() { rest.len() } else { reads.next().unwrap().min(rest.len()) };
        let mut taken = 0;
        while taken < n {
            match receiver.receive_data(&rest[taken..n]) {
                Ok(k) => taken += k,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
            while let Some(event) = receiver.poll_event() {
                if let Event::Message(m) = event {
                    got.push(m);
                }
            }
        }
        rest = &rest[n..];
    }
    while let Some(event) = receiver.poll_event() {
        if let Event::Message(m) = event {
            got.push(m);
        }
    }
    for m in &got {
        assert!(m.len() as u64 <= limit, "a message of {} bytes passed the {limit}-byte limit", m.len());
    }
    if let Some(error) = error {
        assert_ne!(error, ProtocolError::ExtensionFailed, "the codec failed on its own");
        assert!(
            matches!(error.close_code().as_u16(), 1002 | 1007 | 1008 | 1009),
            "{error}"
        );
    }
    if intact {
        if error.is_none() {
            assert_eq!(got, expected, "intact messages arrive as sent");
        } else {
            // Only the limits can stop intact messages: a long one inflated, or a frame whose
            // compressed payload outgrew the frame limit (incompressible data grows), both 1009.
            assert!(
                matches!(
                    error,
                    Some(ProtocolError::MessageTooLarge { .. } | ProtocolError::FrameTooLarge { .. })
                ),
                "{error:?}"
            );
            assert_eq!(got[..], expected[..got.len()]);
        }
    }
});
