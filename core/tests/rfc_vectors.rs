//! RFC 6455 byte vectors, round-tripped both ways and fed split at every boundary.

mod common;

use bytes::Bytes;
use common::*;
use switchyard_core::Limits;
use switchyard_core::connection::{Connection, DataKind, Event, Message};

fn text(s: &str) -> Event {
    Event::Message(Message::Text(s.into()))
}

fn binary(b: Vec<u8>) -> Event {
    Event::Message(Message::Binary(Bytes::from(b)))
}

/// A vector: the wire bytes, who receives them, and the events they must produce.
struct Vector {
    name: &'static str,
    wire: Vec<u8>,
    /// Whether the bytes are client-to-server (masked) or server-to-client.
    masked: bool,
    events: Vec<Event>,
}

fn vectors() -> Vec<Vector> {
    let data256: Vec<u8> = (0..256).map(|i| i as u8).collect();
    let data64k: Vec<u8> = (0..65536).map(|i| (i * 31 % 251) as u8).collect();
    vec![
        // §5.7: a single-frame unmasked text message.
        Vector {
            name: "5.7 unmasked Hello",
            wire: vec![0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            masked: false,
            events: vec![text("Hello")],
        },
        // §5.7: a single-frame masked text message.
        Vector {
            name: "5.7 masked Hello",
            wire: vec![
                0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            masked: true,
            events: vec![text("Hello")],
        },
        // §5.7: a fragmented unmasked text message.
        Vector {
            name: "5.7 fragmented Hel lo",
            wire: vec![0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f],
            masked: false,
            events: vec![text("Hello")],
        },
        // §5.7: unmasked ping.
        Vector {
            name: "5.7 unmasked ping",
            wire: vec![0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
            masked: false,
            events: vec![Event::Ping(Bytes::from_static(b"Hello"))],
        },
        // §5.7: masked pong.
        Vector {
            name: "5.7 masked pong",
            wire: vec![
                0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
            ],
            masked: true,
            events: vec![Event::Pong(Bytes::from_static(b"Hello"))],
        },
        // §5.7: 256 bytes binary, 16-bit length.
        Vector {
            name: "5.7 256-byte binary",
            wire: [&[0x82, 0x7E, 0x01, 0x00][..], &data256].concat(),
            masked: false,
            events: vec![binary(data256.clone())],
        },
        // §5.7: 64 KiB binary, 64-bit length.
        Vector {
            name: "5.7 64KiB binary",
            wire: [&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0][..], &data64k].concat(),
            masked: false,
            events: vec![binary(data64k.clone())],
        },
    ]
}

fn receiver(masked: bool) -> Connection {
    if masked {
        Connection::server(Limits::DEFAULT)
    } else {
        client_with_mask(RFC_MASK)
    }
}

#[test]
fn vectors_decode_to_their_events() {
    for v in vectors() {
        let mut conn = receiver(v.masked);
        let (events, _, error) = feed_split(&mut conn, &v.wire, &[]);
        assert_eq!(error, None, "{}", v.name);
        assert_eq!(events, v.events, "{}", v.name);
    }
}

#[test]
fn vectors_encode_to_their_bytes() {
    for v in vectors() {
        // The sender is the other role: a server sends unmasked, a client masks with 37fa213d.
        let mut sender = if v.masked {
            client_with_mask(RFC_MASK)
        } else {
            Connection::server(Limits::DEFAULT)
        };
        match (&v.events[0], v.name.contains("fragmented")) {
            (Event::Message(Message::Text(_)), true) => {
                sender.send_fragment(DataKind::Text, b"Hel", false).unwrap();
                sender.send_fragment(DataKind::Text, b"lo", true).unwrap();
            }
            (Event::Message(Message::Text(t)), false) => sender.send_text(t.as_str()).unwrap(),
            (Event::Message(Message::Binary(b)), _) => sender.send_binary(b).unwrap(),
            (Event::Ping(p), _) => sender.send_ping(p).unwrap(),
            (Event::Pong(p), _) => sender.send_pong(p).unwrap(),
            (other, _) => panic!("unexpected {other:?}"),
        }
        assert_eq!(drain_output(&mut sender), v.wire, "{}", v.name);
    }
}

#[test]
fn every_split_gives_the_same_events_and_output() {
    for v in vectors().into_iter().filter(|v| v.wire.len() < 1000) {
        let (whole_events, whole_out, _) = feed_split(&mut receiver(v.masked), &v.wire, &[]);
        for a in 0..=v.wire.len() {
            for b in a..=v.wire.len() {
                let (events, out, error) = feed_split(&mut receiver(v.masked), &v.wire, &[a, b]);
                assert_eq!(error, None, "{} cut {a} {b}", v.name);
                assert_eq!(events, whole_events, "{} cut {a} {b}", v.name);
                assert_eq!(out, whole_out, "{} cut {a} {b}", v.name);
            }
        }
    }
}

#[test]
fn one_byte_at_a_time_gives_the_same_events_and_output() {
    for v in vectors() {
        let (whole_events, whole_out, _) = feed_split(&mut receiver(v.masked), &v.wire, &[]);
        let cuts: Vec<usize> = (1..v.wire.len()).collect();
        let (events, out, error) = feed_split(&mut receiver(v.masked), &v.wire, &cuts);
        assert_eq!(error, None, "{}", v.name);
        assert_eq!((events, out), (whole_events, whole_out), "{}", v.name);
    }
}

#[test]
fn reads_into_the_read_buffer_give_the_same_events_and_output() {
    // Read sizes from one byte up, reads that find nothing between them, and one read
    // bigger than any vector.
    let patterns: &[&[usize]] = &[
        &[1],
        &[2],
        &[3],
        &[5, 0],
        &[0, 13, 0, 1],
        &[4096],
        &[1 << 20],
    ];
    for v in vectors() {
        let (whole_events, whole_out, _) = feed_split(&mut receiver(v.masked), &v.wire, &[]);
        for reads in patterns {
            let (events, out, error) = feed_split_reads(&mut receiver(v.masked), &v.wire, reads);
            assert_eq!(error, None, "{} reads {reads:?}", v.name);
            assert_eq!(events, whole_events, "{} reads {reads:?}", v.name);
            assert_eq!(out, whole_out, "{} reads {reads:?}", v.name);
        }
    }
}

#[test]
fn every_first_read_size_gives_the_same_events_through_the_read_buffer() {
    for v in vectors().into_iter().filter(|v| v.wire.len() < 1000) {
        let (whole_events, whole_out, _) = feed_split(&mut receiver(v.masked), &v.wire, &[]);
        for first in 1..=v.wire.len() {
            for then in [1, 2, 7, v.wire.len()] {
                let reads = [first, 0, then];
                let (events, out, error) =
                    feed_split_reads(&mut receiver(v.masked), &v.wire, &reads);
                assert_eq!(error, None, "{} reads {reads:?}", v.name);
                assert_eq!(events, whole_events, "{} reads {reads:?}", v.name);
                assert_eq!(out, whole_out, "{} reads {reads:?}", v.name);
            }
        }
    }
}

#[test]
fn a_ping_is_answered_with_its_payload() {
    let mut client = client_with_mask(RFC_MASK);
    let (events, out, _) = feed_split(
        &mut client,
        &[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f],
        &[],
    );
    assert_eq!(events, vec![Event::Ping(Bytes::from_static(b"Hello"))]);
    // The client answers with the §5.7 masked pong.
    assert_eq!(
        out,
        vec![
            0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58
        ]
    );
}
