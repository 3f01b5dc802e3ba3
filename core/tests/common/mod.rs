//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use switchyard_core::connection::{Action, Connection, Event};
use switchyard_core::{Limits, ProtocolError};

/// The RFC 6455 §5.7 mask key.
pub const RFC_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client whose every mask key is `key`.
pub fn client_with_mask(key: [u8; 4]) -> Connection {
    Connection::client(Limits::DEFAULT, move || key)
}

/// A client with a deterministic, varying mask sequence.
pub fn client(limits: Limits) -> Connection {
    let mut state = 0x1234_5678u32;
    Connection::client(limits, move || {
        state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
        state.to_be_bytes()
    })
}

pub fn drain_events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Everything queued for the transport, piece by piece, as a shell writes it.
pub fn drain_output(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let piece = conn.poll_transmit();
        if piece.is_empty() {
            return out;
        }
        out.extend_from_slice(piece);
        let n = piece.len();
        conn.consume_transmit(n);
    }
}

pub fn drain_actions(conn: &mut Connection) -> Vec<Action> {
    std::iter::from_fn(|| conn.poll_action()).collect()
}

/// Feeds all of `bytes`, polling events into `events` only when the connection stops taking
/// bytes because too many wait (as a shell would).
pub fn feed(
    conn: &mut Connection,
    mut bytes: &[u8],
    events: &mut Vec<Event>,
) -> Result<(), ProtocolError> {
    while !bytes.is_empty() {
        let taken = conn.receive_data(bytes)?;
        bytes = &bytes[taken..];
        if !bytes.is_empty() {
            assert!(conn.pending_events() > 0, "stopped with nothing to poll");
            events.extend(drain_events(conn));
        }
    }
    Ok(())
}

/// Feeds `bytes` in pieces cut at `cuts`; returns events, output and the first error.
pub fn feed_split(
    conn: &mut Connection,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<Event>, Vec<u8>, Option<ProtocolError>) {
    let mut start = 0;
    let mut error = None;
    let mut events = Vec::new();
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        if let Err(e) = feed(conn, &bytes[start..cut], &mut events) {
            error.get_or_insert(e);
        }
        start = cut;
    }
    events.extend(drain_events(conn));
    (events, drain_output(conn), error)
}

/// Feeds all of `bytes` the way a shell reading a socket does: into the connection's own read
/// buffer ([`Connection::read_buffer`]), each read bringing the next of `reads` bytes in turn
/// (no more than the room lent; 0 is a read that found nothing, given back empty). Polls
/// events into `events` only when the connection stops wanting reads with events waiting.
/// `reads` must hold a non-zero size. Returns the first error.
pub fn feed_reads(
    conn: &mut Connection,
    mut bytes: &[u8],
    reads: &[usize],
    events: &mut Vec<Event>,
) -> Result<(), ProtocolError> {
    assert!(
        reads.iter().any(|&r| r > 0),
        "reads that never bring a byte"
    );
    let mut error = None;
    for &size in reads.iter().cycle() {
        if bytes.is_empty() {
            break;
        }
        if !conn.wants_read() && conn.pending_events() > 0 {
            events.extend(drain_events(conn));
        }
        let mut buf = conn.read_buffer();
        assert!(buf.is_empty() && buf.capacity() > 0, "no room lent");
        let n = size.min(buf.capacity()).min(bytes.len());
        buf.extend_from_slice(&bytes[..n]);
        bytes = &bytes[n..];
        if let Err(e) = conn.receive_buffer(buf) {
            error.get_or_insert(e);
        }
    }
    error.map_or(Ok(()), Err)
}

/// [`feed_reads`], then every event and the output; returns them and the first error.
pub fn feed_split_reads(
    conn: &mut Connection,
    bytes: &[u8],
    reads: &[usize],
) -> (Vec<Event>, Vec<u8>, Option<ProtocolError>) {
    let mut events = Vec::new();
    let error = feed_reads(conn, bytes, reads, &mut events).err();
    events.extend(drain_events(conn));
    (events, drain_output(conn), error)
}
