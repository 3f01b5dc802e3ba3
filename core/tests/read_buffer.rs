//! The read buffer: the room lent for a read follows what is awaited, never a declared length
//! alone, and decoding goes no faster than events are polled.

mod common;

use common::*;
use switchyard_core::Limits;
use switchyard_core::connection::{Connection, Event, Message};

/// A masked binary frame header declaring `len` payload bytes (key 0: the payload is as is).
fn declared_binary(len: u64) -> Vec<u8> {
    let mut header = vec![0x82, 0x80 | 127];
    header.extend_from_slice(&len.to_be_bytes());
    header.extend_from_slice(&[0; 4]);
    header
}

/// Lends room, fills `data` into it (no more than the room), gives it back.
fn read(conn: &mut Connection, data: &[u8]) -> usize {
    let mut buf = conn.read_buffer();
    let n = data.len().min(buf.capacity());
    buf.extend_from_slice(&data[..n]);
    conn.receive_buffer(buf).unwrap();
    n
}

#[test]
fn a_declared_length_lends_room_only_as_its_bytes_arrive() {
    let mut server = Connection::server(Limits::DEFAULT);
    // 1 MiB declared (the default limit allows it), one byte sent.
    read(&mut server, &[&declared_binary(1 << 20)[..], &[7]].concat());
    let room = server.read_buffer().capacity();
    assert!(
        room <= 64 * 1024 + 16,
        "{room} bytes lent for one byte sent"
    );
    // The room grows with what arrives, until the payload lands whole.
    let payload = vec![7u8; (1 << 20) - 1];
    let mut sent = 0;
    let mut most = 0;
    while sent < payload.len() {
        most = most.max(server.read_buffer().capacity());
        sent += read(&mut server, &payload[sent..]);
        assert!(sent < 1 << 20 || server.pending_events() == 1);
    }
    assert!(most > room, "the room never grew");
    match server.poll_event() {
        Some(Event::Message(Message::Binary(m))) => assert_eq!(m.len(), 1 << 20),
        other => panic!("{other:?}"),
    }
}

#[test]
fn small_frames_get_a_small_read() {
    let mut server = Connection::server(Limits::DEFAULT);
    assert!(server.read_buffer().capacity() <= 16 * 1024);
    read(&mut server, &declared_binary(100)[..8]);
    assert!(server.read_buffer().capacity() <= 16 * 1024);
}

/// Ten one-byte binary messages from a client.
fn ten_messages(limits: Limits) -> Vec<u8> {
    let mut client = client(limits);
    for i in 0..10u8 {
        client.send_binary(&[i]).unwrap();
    }
    drain_output(&mut client)
}

fn assert_ten_in_order(events: &[Event]) {
    let payloads: Vec<u8> = events
        .iter()
        .map(|e| match e {
            Event::Message(Message::Binary(b)) => b[0],
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(payloads, (0..10).collect::<Vec<u8>>());
}

#[test]
fn decoding_stops_at_max_queued_events_and_resumes_as_they_are_polled() {
    let limits = Limits {
        max_queued_events: 4,
        ..Limits::DEFAULT
    };
    let wire = ten_messages(limits);
    let mut server = Connection::server(limits);
    read(&mut server, &wire);
    assert_eq!(server.pending_events(), 4);
    assert!(!server.wants_read(), "reading on with events to poll first");
    let events = drain_events(&mut server);
    assert_ten_in_order(&events);
    assert!(server.wants_read());
}

#[test]
fn receive_data_takes_nothing_while_decoding_waits_for_polling() {
    let limits = Limits {
        max_queued_events: 4,
        ..Limits::DEFAULT
    };
    let wire = ten_messages(limits);
    let mut server = Connection::server(limits);
    assert_eq!(server.receive_data(&wire), Ok(wire.len()));
    assert_eq!(server.pending_events(), 4);
    assert_eq!(server.receive_data(&wire), Ok(0));
    let events = drain_events(&mut server);
    assert_ten_in_order(&events);
    assert_eq!(server.receive_data(&wire[..1]), Ok(1));
}
