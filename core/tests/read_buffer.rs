//! The read buffer: the room lent for a read follows what is awaited, never a declared length
//! alone, and decoding goes no faster than events are polled.

mod common;

use bytes::BytesMut;
use common::*;
use switchyard_core::connection::{Connection, Event, Message};
use switchyard_core::{CloseCode, Limits};

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

/// Reads `wire` into `conn` as a shell would, one lent buffer at a time; returns how many
/// reads it took and whether the one message came out as a view of a lent buffer.
fn reads_for(conn: &mut Connection, wire: &[u8]) -> (usize, bool) {
    let (mut sent, mut reads, mut lent) = (0, 0, Vec::new());
    while sent < wire.len() {
        let mut buf = conn.read_buffer();
        lent.push(buf.as_ptr() as usize..buf.as_ptr() as usize + buf.capacity());
        let n = (wire.len() - sent).min(buf.capacity());
        buf.extend_from_slice(&wire[sent..sent + n]);
        conn.receive_buffer(buf).unwrap();
        sent += n;
        reads += 1;
    }
    let in_place = match conn.poll_event() {
        Some(Event::Message(Message::Binary(m))) => {
            let start = m.as_ptr() as usize;
            lent.iter()
                .any(|r| r.contains(&start) && start + m.len() <= r.end)
        }
        other => panic!("{other:?}"),
    };
    (reads, in_place)
}

#[test]
fn after_a_large_frame_the_next_is_read_whole_into_one_allocation() {
    let mut server = Connection::server(Limits::DEFAULT);
    let wire = one_message(64 * 1024);
    // The first 64 KiB frame: a 16 KiB read finds its header, then the buffer grows.
    let (reads, _) = reads_for(&mut server, &wire);
    assert!(reads > 1);
    // The next one gets room for all of it at once: no growth, so no copy of what came first.
    let (reads, in_place) = reads_for(&mut server, &wire);
    assert_eq!(reads, 1);
    assert!(
        in_place,
        "the message is not a view of the buffer it was read into"
    );
    // After a small frame, reads are small again.
    reads_for(&mut server, &one_message(16));
    assert!(server.read_buffer().capacity() <= 16 * 1024);
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

/// One binary message from a client, as its frame.
fn one_message(len: usize) -> Vec<u8> {
    let mut client = client(Limits::DEFAULT);
    client.send_binary(&vec![7; len]).unwrap();
    drain_output(&mut client)
}

/// Reads `wire` whole into `conn` through `spare`, returns the start of the allocation read into.
fn read_with(conn: &mut Connection, wire: &[u8], spare: &mut Option<BytesMut>) -> *const u8 {
    let mut buf = conn.read_buffer_with(spare);
    let start = buf.as_ptr();
    buf.extend_from_slice(wire);
    conn.receive_buffer_with(buf, spare).unwrap();
    start
}

/// Two server connections, to share one spare.
fn two_servers() -> (Connection, Connection) {
    (
        Connection::server(Limits::DEFAULT),
        Connection::server(Limits::DEFAULT),
    )
}

/// A read that would block: lent, given back empty.
fn would_block(conn: &mut Connection, spare: &mut Option<BytesMut>) -> *const u8 {
    let buf = conn.read_buffer_with(spare);
    let start = buf.as_ptr();
    conn.receive_buffer_with(buf, spare).unwrap();
    start
}

#[test]
fn a_drained_buffer_becomes_the_spare_and_the_next_read_anywhere_takes_it() {
    let mut spare = None;
    let (mut a, mut b) = two_servers();
    let message = one_message(16);
    let first = read_with(&mut a, &message, &mut spare);
    drop(drain_events(&mut a));
    // The rest of the same allocation is lent again (a small read takes what is left after
    // the message), then handed out as the spare.
    assert_eq!(
        would_block(&mut a, &mut spare),
        first.wrapping_add(message.len())
    );
    assert!(
        spare.is_some(),
        "the drained buffer was freed, not kept as the spare"
    );
    // Another connection's read takes it.
    assert_eq!(
        read_with(&mut b, &message, &mut spare),
        first.wrapping_add(message.len())
    );
    assert!(spare.is_none());
}

/// A connection that will receive no more (the peer's close came, after a message still
/// held) keeps what is left of its read buffer rather than freeing it, and hands it on as
/// the spare once the shell says the reading is over: a server with many short connections
/// reads each one's frames into the last one's buffer, not an allocation of its own.
#[test]
fn a_closed_connection_hands_its_read_buffer_on_as_the_spare() {
    let mut spare = None;
    let (mut a, mut b) = two_servers();
    let mut client = client(Limits::DEFAULT);
    client.send_binary(&[7; 16]).unwrap();
    client.close(CloseCode::NORMAL, "bye").unwrap();
    let wire = drain_output(&mut client);
    let first = read_with(&mut a, &wire, &mut spare);
    let events = drain_events(&mut a);
    assert!(matches!(events.last(), Some(Event::Closed(info)) if info.clean));
    assert!(spare.is_none());
    a.read_blocked(&mut spare);
    assert!(
        spare.is_some(),
        "the closed connection's buffer was freed, not parked"
    );
    // The message handed out as a view of it is still whole.
    assert!(matches!(&events[0], Event::Message(Message::Binary(m)) if m[..] == [7; 16]));
    assert_eq!(
        read_with(&mut b, &one_message(16), &mut spare),
        first.wrapping_add(wire.len())
    );
}

#[test]
fn a_read_that_blocks_without_a_lent_buffer_parks_the_drained_one_as_the_spare() {
    let mut spare = None;
    let (mut a, mut b) = two_servers();
    let message = one_message(16);
    let first = read_with(&mut a, &message, &mut spare);
    assert!(a.between_frames());
    drop(drain_events(&mut a));
    // The shell read into a buffer of its own and found nothing: what is left of the
    // allocation after the message leaves the connection, as the spare.
    a.read_blocked(&mut spare);
    assert!(spare.is_some(), "the drained buffer was freed, not parked");
    assert_eq!(
        read_with(&mut b, &message, &mut spare),
        first.wrapping_add(message.len())
    );
    // With the spare taken, the next drained buffer is dropped rather than kept.
    drop(drain_events(&mut b));
    let mut full = Some(BytesMut::with_capacity(16));
    b.read_blocked(&mut full);
    assert_eq!(full.map(|s| s.capacity()), Some(16));
    assert_eq!(
        a.read_buffer_with(&mut None).capacity(),
        16 * 1024,
        "the connection kept its buffer"
    );
}

#[test]
fn a_read_that_blocks_mid_frame_keeps_the_frame_and_its_bytes() {
    let mut spare = None;
    let mut conn = Connection::server(Limits::DEFAULT);
    let message = one_message(100);
    read_with(&mut conn, &message[..50], &mut spare);
    assert!(!conn.between_frames(), "a frame is half read");
    conn.read_blocked(&mut spare);
    assert!(
        spare.is_none(),
        "a buffer holding part of a frame was parked"
    );
    read_with(&mut conn, &message[50..], &mut spare);
    assert!(conn.between_frames());
    match &drain_events(&mut conn)[..] {
        [Event::Message(Message::Binary(m))] => assert_eq!(&m[..], &[7; 100]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn small_reads_fill_one_allocation_then_reclaim_it_in_place() {
    let mut spare = None;
    let mut conn = Connection::server(Limits::DEFAULT);
    let message = one_message(100);
    let first = read_with(&mut conn, &message, &mut spare);
    drop(drain_events(&mut conn));
    // Each read goes after the last message, in the same allocation, until less than half
    // of it is left; then, no message being alive, the whole of it is lent again.
    let mut starts = vec![first];
    for _ in 0..200 {
        let start = read_with(&mut conn, &message, &mut spare);
        drop(drain_events(&mut conn));
        starts.push(start);
    }
    let wrapped = starts
        .windows(2)
        .position(|w| w[1] == first)
        .expect("the allocation was never reclaimed in place");
    for (i, pair) in starts[..=wrapped].windows(2).enumerate() {
        assert_eq!(
            pair[1],
            pair[0].wrapping_add(message.len()),
            "read {i} did not follow the last message in the same allocation"
        );
    }
    // Reclaimed once at least half of the room was used.
    let used = (wrapped + 1) * message.len();
    assert!(
        (8 * 1024..=16 * 1024).contains(&used),
        "reclaimed after {used} bytes"
    );
}

#[test]
fn the_bytes_a_live_message_uses_are_not_lent_again() {
    let mut spare = None;
    let mut a = Connection::server(Limits::DEFAULT);
    let wire = one_message(16);
    let first = read_with(&mut a, &wire, &mut spare);
    let held = drain_events(&mut a);
    // The next read fills its whole room; the message must not change.
    let mut buf = a.read_buffer_with(&mut spare);
    let start = buf.as_ptr();
    let room = buf.capacity();
    buf.resize(room, 0xff);
    assert!(
        start >= first.wrapping_add(wire.len()) || start.wrapping_add(room) <= first,
        "lent {room} bytes at {start:?}, over the message read at {first:?}"
    );
    match &held[..] {
        [Event::Message(Message::Binary(m))] => assert_eq!(&m[..], &[7; 16]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_large_message_buffer_is_never_kept_as_the_spare() {
    let mut spare = None;
    let mut a = Connection::server(Limits::DEFAULT);
    let wire = one_message(1 << 20);
    let mut sent = 0;
    while a.pending_events() == 0 {
        sent += read(&mut a, &wire[sent..]);
    }
    drop(drain_events(&mut a));
    would_block(&mut a, &mut spare);
    assert!(
        spare
            .as_ref()
            .is_none_or(|s| s.capacity() <= 64 * 1024 + 14),
        "{:?}",
        spare.map(|s| s.capacity())
    );
}

#[test]
fn a_64_kib_message_is_read_into_the_buffer_the_last_one_left() {
    let mut spare = None;
    let (mut a, mut b) = two_servers();
    let wire = one_message(64 * 1024);
    // The first frame of that size teaches the connection to lend room for a whole one.
    let mut sent = 0;
    while a.pending_events() == 0 {
        sent += read(&mut a, &wire[sent..]);
    }
    drop(drain_events(&mut a));
    would_block(&mut a, &mut spare);
    let start = read_with(&mut a, &wire, &mut spare);
    assert_eq!(drain_events(&mut a).len(), 1, "not read whole");
    // Drained and dropped, the message leaves its buffer as the spare...
    would_block(&mut a, &mut spare);
    assert_eq!(spare.as_ref().map(|s| s.as_ptr()), Some(start));
    // ...which the next 64 KiB read takes whole, and a small read leaves alone.
    let small = read_with(&mut b, &one_message(16), &mut spare);
    assert_ne!(small, start);
    assert_eq!(read_with(&mut a, &wire, &mut spare), start);
    assert_eq!(drain_events(&mut a).len(), 1, "not read whole");
}

/// `max_queued_events: 0` cannot mean "decode nothing ever" (every message would wait for a
/// poll that nothing can give it): it counts as one, so messages still come one at a time.
#[test]
fn max_queued_events_zero_counts_as_one() {
    let limits = Limits {
        max_queued_events: 0,
        ..Limits::DEFAULT
    };
    let wire = ten_messages(Limits::DEFAULT);
    let mut server = Connection::server(limits);
    assert_eq!(server.limits().max_queued_events, 1);
    read(&mut server, &wire);
    assert_eq!(server.pending_events(), 1);
    let events = drain_events(&mut server);
    assert_ten_in_order(&events);
    assert!(server.wants_read());
    let mut other = Connection::server(limits);
    assert_eq!(other.receive_data(&wire), Ok(wire.len()));
    assert_ten_in_order(&drain_events(&mut other));
}
