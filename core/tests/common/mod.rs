//! Helpers shared by the integration tests (included with `mod common;`).
#![allow(dead_code, unreachable_pub)]

use switchyard_core::Limits;
use switchyard_core::connection::{Action, Connection, Event};

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

pub fn drain_output(conn: &mut Connection) -> Vec<u8> {
    let out = conn.poll_transmit().to_vec();
    conn.consume_transmit(out.len());
    out
}

pub fn drain_actions(conn: &mut Connection) -> Vec<Action> {
    std::iter::from_fn(|| conn.poll_action()).collect()
}

/// Feeds `bytes` in pieces cut at `cuts`; returns events, output and the first error.
pub fn feed_split(
    conn: &mut Connection,
    bytes: &[u8],
    cuts: &[usize],
) -> (Vec<Event>, Vec<u8>, Option<switchyard_core::ProtocolError>) {
    let mut start = 0;
    let mut error = None;
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        if let Err(e) = conn.receive_data(&bytes[start..cut]) {
            error.get_or_insert(e);
        }
        start = cut;
    }
    (drain_events(conn), drain_output(conn), error)
}
