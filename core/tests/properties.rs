//! Property tests: encode/decode round trips, chunking invariance, and arbitrary input never
//! panicking or breaking the connection's invariants.

mod common;

use common::*;
use proptest::prelude::*;
use switchyard_core::connection::{Connection, DataKind, Event};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::handshake::RequestParser;
use switchyard_core::{FrameHeader, Limits, OpCode, Parsed};

fn opcode() -> impl Strategy<Value = OpCode> {
    prop::sample::select(vec![
        OpCode::CONTINUATION,
        OpCode::TEXT,
        OpCode::BINARY,
        OpCode::CLOSE,
        OpCode::PING,
        OpCode::PONG,
    ])
}

fn header() -> impl Strategy<Value = FrameHeader> {
    (
        any::<bool>(),
        0u8..8,
        opcode(),
        any::<Option<[u8; 4]>>(),
        prop_oneof![0u64..126, 126u64..65536, 65536u64..(1 << 63)],
    )
        .prop_map(|(fin, rsv, opcode, mask, len)| {
            let (fin, len) = if opcode.is_control() {
                (true, len % 126)
            } else {
                (fin, len)
            };
            FrameHeader {
                fin,
                rsv,
                opcode,
                mask,
                payload_len: len,
            }
        })
}

/// A masked frame as a client would send it, mostly well-formed (so a server decodes past the
/// first header and explores fragmentation, control frames, close payloads and limits), now
/// and then with RSV bits, a reserved opcode or a fragmented control frame.
fn masked_frame() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop_oneof![8 => Just(0u8), 1 => 1u8..8],
        prop_oneof![12 => opcode().prop_map(OpCode::as_u8), 1 => 0u8..16],
        any::<[u8; 4]>(),
        prop::collection::vec(any::<u8>(), 0..90),
    )
        .prop_map(|(fin, rsv, opcode, key, mut payload)| {
            let first = (u8::from(fin) << 7) | (rsv << 4) | opcode;
            let mut frame = vec![first, 0x80 | payload.len() as u8];
            frame.extend_from_slice(&key);
            apply_mask(&mut payload, key, 0);
            frame.extend_from_slice(&payload);
            frame
        })
}

/// One thing a client application does.
#[derive(Debug, Clone)]
enum Op {
    Text(String),
    Binary(Vec<u8>),
    Fragments(Vec<Vec<u8>>),
    Ping(Vec<u8>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        ".{0,40}".prop_map(Op::Text),
        prop::collection::vec(any::<u8>(), 0..300).prop_map(Op::Binary),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..20), 1..5)
            .prop_map(Op::Fragments),
        prop::collection::vec(any::<u8>(), 0..125).prop_map(Op::Ping),
    ]
}

proptest! {
    #[test]
    fn header_encode_decode_round_trips(h in header()) {
        let mut out = [0u8; 14];
        let n = h.encode(&mut out).unwrap();
        prop_assert_eq!(n, h.encoded_len());
        prop_assert_eq!(FrameHeader::decode(&out[..n]), Ok(Parsed::Complete(h, n)));
        for cut in 0..n {
            prop_assert_eq!(FrameHeader::decode(&out[..cut]), Ok(Parsed::Partial));
        }
    }

    #[test]
    fn client_stream_gives_the_same_events_however_split(ops in prop::collection::vec(op(), 0..8),
                                                         cuts in prop::collection::vec(0usize..4000, 0..10)) {
        let mut client = client(Limits::DEFAULT);
        for op in &ops {
            match op {
                Op::Text(t) => client.send_text(t).unwrap(),
                Op::Binary(b) => client.send_binary(b).unwrap(),
                Op::Fragments(parts) => {
                    for (i, part) in parts.iter().enumerate() {
                        client.send_fragment(DataKind::Binary, part, i + 1 == parts.len()).unwrap();
                    }
                }
                Op::Ping(p) => client.send_ping(p).unwrap(),
            }
        }
        let wire = drain_output(&mut client);
        let mut cuts = cuts;
        cuts.sort_unstable();
        let whole = feed_split(&mut Connection::server(Limits::DEFAULT), &wire, &[]);
        let split = feed_split(&mut Connection::server(Limits::DEFAULT), &wire, &cuts);
        prop_assert_eq!(whole.2, None);
        prop_assert_eq!(&whole.0, &split.0);
        prop_assert_eq!(&whole.1, &split.1);
        let messages = whole.0.iter().filter(|e| matches!(e, Event::Message(_))).count();
        prop_assert_eq!(messages, ops.iter().filter(|o| !matches!(o, Op::Ping(_))).count());
    }

    #[test]
    fn arbitrary_frames_never_break_a_server(frames in prop::collection::vec(masked_frame(), 0..12),
                                             cuts in prop::collection::vec(0usize..1200, 0..6)) {
        let limits = Limits { max_message_size: 256, max_frame_size: 200, max_fragments: 8, ..Limits::DEFAULT };
        check_invariants(Connection::server(limits), &frames.concat(), cuts);
    }

    #[test]
    fn arbitrary_bytes_never_break_a_client(bytes in prop::collection::vec(any::<u8>(), 0..600),
                                            cuts in prop::collection::vec(0usize..600, 0..6)) {
        check_invariants(client(Limits::DEFAULT), &bytes, cuts);
    }

    #[test]
    fn reads_into_the_read_buffer_decode_as_receive_data_does(
        frames in prop::collection::vec(masked_frame(), 0..12),
        reads in prop::collection::vec(prop_oneof![1 => Just(0usize), 4 => 1usize..300], 1..6),
        max_queued_events in 1usize..4,
    ) {
        let limits = Limits {
            max_message_size: 256,
            max_frame_size: 200,
            max_fragments: 8,
            max_queued_events,
            ..Limits::DEFAULT
        };
        let mut reads = reads;
        reads.push(1);
        let wire = frames.concat();
        let mut copying = Connection::server(limits);
        let copied = feed_split(&mut copying, &wire, &[]);
        let mut lending = Connection::server(limits);
        let lent = feed_split_reads(&mut lending, &wire, &reads);
        prop_assert_eq!(&lent.0, &copied.0);
        prop_assert_eq!(&lent.1, &copied.1);
        // An error found as polling resumed decoding is returned by the next receive.
        let sticky = copying.receive_data(&[]).err();
        let buf = lending.read_buffer();
        prop_assert_eq!(lending.receive_buffer(buf).err(), sticky);
        prop_assert_eq!(lent.2.or(sticky), sticky);
    }

    #[test]
    fn arbitrary_requests_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let mut parser = RequestParser::new(Limits { max_header_bytes: 300, ..Limits::DEFAULT });
        for end in [bytes.len() / 2, bytes.len()] {
            match parser.parse(&bytes[..end]) {
                Ok(Parsed::Complete(_, n)) => prop_assert!(n <= end),
                Ok(Parsed::Partial) => prop_assert!(end <= 300),
                Err(e) => {
                    let status = e.status().as_u16();
                    prop_assert!(matches!(status, 400 | 414 | 426 | 431), "{}", status);
                    break;
                }
            }
        }
    }

}

/// Feeds hostile bytes; checks: at most one `Closed`, it is last, an error is sticky, and
/// the output is a sequence of well-formed frames.
fn check_invariants(mut conn: Connection, bytes: &[u8], mut cuts: Vec<usize>) {
    cuts.sort_unstable();
    let (events, out, error) = feed_split(&mut conn, bytes, &cuts);
    let closed = events
        .iter()
        .filter(|e| matches!(e, Event::Closed(_)))
        .count();
    assert!(closed <= 1);
    if closed == 1 {
        assert!(matches!(events.last(), Some(Event::Closed(_))));
    }
    if let Some(e) = error {
        assert_eq!(conn.receive_data(b"\x81\x80\0\0\0\0"), Err(e));
        assert!(matches!(events.last(), Some(Event::Closed(i)) if i.error == Some(e)));
    }
    let mut rest = &out[..];
    while !rest.is_empty() {
        let (h, n) = FrameHeader::decode(rest)
            .expect("our output decodes")
            .complete()
            .expect("whole frames");
        rest = &rest[n + h.payload_len as usize..];
    }
}
