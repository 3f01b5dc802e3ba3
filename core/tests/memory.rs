//! Memory goes back down: after carrying a large message both ways, a connection holds what an
//! idle one holds, counted by a global allocator (live bytes, an oracle that can fail, unlike
//! RSS). One test in this binary, so no other test allocates meanwhile.

mod common;

use std::alloc::System;

use cap::Cap;
use common::*;
use switchyard_core::Limits;
use switchyard_core::connection::{Connection, Event, Message};

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// A shell's read size: bytes move in pieces of this many.
const CHUNK: usize = 16 * 1024;

/// Moves everything `from` has queued into `to`, `CHUNK` bytes at a time, and returns the
/// events `to` produced.
fn transfer(from: &mut Connection, to: &mut Connection) -> Vec<Event> {
    let mut events = vec![];
    loop {
        let out = from.poll_transmit();
        let n = out.len().min(CHUNK);
        if n == 0 {
            return events;
        }
        let piece = out[..n].to_vec();
        from.consume_transmit(n);
        feed(to, &piece, &mut events).unwrap();
        events.extend(drain_events(to));
    }
}

/// The client sends `payload`, the server echoes it, the client receives it back.
fn echo(client: &mut Connection, server: &mut Connection, payload: &[u8]) {
    client.send_binary(payload).unwrap();
    for event in transfer(client, server) {
        let Event::Message(Message::Binary(message)) = event else {
            panic!("{event:?}")
        };
        server.send_binary(&message).unwrap();
    }
    let back = transfer(server, client);
    assert!(matches!(&back[..], [Event::Message(m)] if m.len() == payload.len()));
}

/// Live bytes held after echoing one 1 MiB message, over those held before it.
fn growth_after_a_large_echo(limits: Limits) -> isize {
    let mut server = Connection::server(limits);
    let mut client = client(limits);
    // Small traffic first, so both sides' small buffers exist before the baseline.
    echo(&mut client, &mut server, &[1; 100]);
    let idle = ALLOCATOR.allocated();
    echo(&mut client, &mut server, &vec![7; 1 << 20]);
    echo(&mut client, &mut server, &[1; 100]);
    let after = ALLOCATOR.allocated();
    drop((client, server));
    after as isize - idle as isize
}

/// A server reads a 64 KiB message into its read buffer, `CHUNK` bytes a read; once the message
/// is dropped and a read finds nothing, it should hold what it held before. Returns the live
/// bytes held while the message sat in the buffer and after, over those held before.
fn read_buffer_growth() -> (isize, isize) {
    let mut server = Connection::server(Limits::DEFAULT);
    let mut client = client(Limits::DEFAULT);
    let read_all = |server: &mut Connection, mut wire: &[u8]| {
        while !wire.is_empty() {
            let mut buf = server.read_buffer();
            let n = wire.len().min(buf.capacity()).min(CHUNK);
            buf.extend_from_slice(&wire[..n]);
            wire = &wire[n..];
            server.receive_buffer(buf).unwrap();
        }
    };
    client.send_binary(&[1; 100]).unwrap();
    read_all(&mut server, &drain_output(&mut client));
    drop(drain_events(&mut server));
    client.send_binary(&vec![7; 64 * 1024]).unwrap();
    let wire = drain_output(&mut client);
    // Nothing was read since the last message: an empty read says so.
    would_block(&mut server);
    let idle = ALLOCATOR.allocated();
    read_all(&mut server, &wire);
    let busy = ALLOCATOR.allocated();
    let events = drain_events(&mut server);
    assert!(matches!(&events[..], [Event::Message(m)] if m.len() == 64 * 1024));
    drop(events);
    would_block(&mut server);
    let after = ALLOCATOR.allocated();
    drop((client, server, wire));
    (
        busy as isize - idle as isize,
        after as isize - idle as isize,
    )
}

/// A read that finds nothing, as a shell makes it: borrow the read buffer, give it back
/// empty.
fn would_block(server: &mut Connection) {
    let lent = server.read_buffer();
    assert!(lent.is_empty());
    server.receive_buffer(lent).unwrap();
}

/// A peer declares a 1 MiB frame, sends `sent` bytes of it and stalls: the live bytes the
/// server holds once a read finds nothing more.
fn stalled_frame_growth(sent: usize) -> isize {
    let mut server = Connection::server(Limits::DEFAULT);
    let mut client = client(Limits::DEFAULT);
    client.send_binary(&vec![3; 1 << 20]).unwrap();
    let wire = drain_output(&mut client);
    let idle = ALLOCATOR.allocated();
    let mut buf = server.read_buffer();
    buf.extend_from_slice(&wire[..sent]);
    server.receive_buffer(buf).unwrap();
    would_block(&mut server);
    let held = ALLOCATOR.allocated();
    drop((client, server, wire));
    held as isize - idle as isize
}

/// A server receives `per_read` small messages per read, `reads` times, polls them, and a read
/// finds nothing: the live bytes it then holds over what it held when new.
fn growth_after_small_messages(per_read: usize, reads: usize) -> isize {
    let mut client = client(Limits::DEFAULT);
    let mut wires = vec![];
    for _ in 0..reads {
        for _ in 0..per_read {
            client.send_binary(&[9; 20]).unwrap();
        }
        wires.push(drain_output(&mut client));
    }
    let mut server = Connection::server(Limits::DEFAULT);
    let fresh = ALLOCATOR.allocated();
    for wire in &wires {
        let mut buf = server.read_buffer();
        buf.extend_from_slice(wire);
        server.receive_buffer(buf).unwrap();
        let events = drain_events(&mut server);
        assert_eq!(events.len(), per_read);
        drop(events);
    }
    would_block(&mut server);
    let after = ALLOCATOR.allocated();
    drop((client, server, wires));
    after as isize - fresh as isize
}

#[test]
fn buffers_are_released_after_a_large_message() {
    // A connection that received messages and went idle holds what a new one holds: nothing
    // of its event queue either, whether one message came per read or several.
    for (per_read, reads) in [(1, 3), (5, 2)] {
        let held = growth_after_small_messages(per_read, reads);
        assert!(
            held <= 0,
            "{held} bytes held after {reads} reads of {per_read} messages"
        );
    }

    // A stalled partial frame costs about what was sent, not a read's worth of room.
    for sent in [1, 100, 2000] {
        let held = stalled_frame_growth(sent);
        assert!(
            held <= (sent + 256) as isize,
            "{held} bytes held for {sent} bytes of a stalled frame"
        );
    }

    // An idle connection holds no read buffer, and the oracle saw the one it used.
    let (busy, after) = read_buffer_growth();
    assert!(
        busy >= 64 * 1024,
        "only {busy} bytes held with a message buffered"
    );
    assert!(after <= 0, "{after} bytes still held once idle");

    let released = growth_after_a_large_echo(Limits::DEFAULT);
    assert!(
        released <= 4096,
        "{released} bytes still held after the burst"
    );
    // The oracle can fail: with release switched off the burst's buffers stay.
    let kept = growth_after_a_large_echo(Limits {
        max_retained_buffer: usize::MAX,
        ..Limits::DEFAULT
    });
    assert!(kept >= 1 << 20, "only {kept} bytes kept without release");
}
