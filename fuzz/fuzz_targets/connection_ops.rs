//! Sequences of connection operations on either role, checking the state machine's
//! invariants after every step, not only that nothing panics:
//! - at most one `Closed` event, always the last one delivered;
//! - a protocol error is sticky: every later `receive_data` returns it;
//! - every byte we transmit is a well-formed frame of the right masking direction, control
//!   payloads ≤ 125 bytes, at most one close frame, and no data frame after it;
//! - `buffered_amount` is exactly what `poll_transmit_vectored` gathers, and
//!   `poll_transmit` is its first piece;
//! - `is_open` and `is_closed` never hold together;
//! - a message written at once (`send_message_with`) is written only with no output
//!   waiting, and what the writer took goes on the wire ahead of the rest of its frame;
//! - `receive_data` takes all its bytes unless the event queue is full, which it never
//!   overfills;
//! - `read_buffer` always lends an empty buffer with room, `receive_buffer` takes it back
//!   filled (or empty: a read that found nothing) with the same sticky errors, and the
//!   room lent follows the bytes received, never a declared length: it stays under four
//!   times the bytes received plus a fixed 192 KiB (the 16 KiB small read, the 64 KiB
//!   read-ahead, and the buffer's doubling);
//! - each action is reported at most once, `HalfClose` never after `Close` or `Abort`, and
//!   only once receiving has ended (an `Event::Closed` is queued or polled); nothing is
//!   transmitted after `Abort`.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

use switchyard_core::connection::{Action, Connection, DataKind, Event, Instant, Message};
use switchyard_core::{CloseCode, FrameHeader, Limits, OpCode, Parsed};

#[derive(Debug, Arbitrary)]
enum Op {
    Receive(Vec<u8>),
    /// A read into the connection's own buffer, of these bytes or as many as fit.
    Read(Vec<u8>),
    /// A read that found nothing.
    ReadNothing,
    ReceiveMaskedFrame {
        fin: bool,
        opcode: u8,
        key: [u8; 4],
        payload: Vec<u8>,
    },
    SendText(String),
    SendBinary(Vec<u8>),
    /// A message by value, large enough (with `big`) to be queued by reference.
    SendMessage {
        big: bool,
        data: Vec<u8>,
    },
    /// A message by value handed to a writer that takes `take` bytes of it; `big` pads it
    /// past the size queued by reference.
    SendMessageWith {
        text: bool,
        big: bool,
        data: Vec<u8>,
        take: u16,
    },
    SendFragment {
        text: bool,
        data: Vec<u8>,
        fin: bool,
    },
    Ping(Vec<u8>),
    Close(u16, String),
    Fail(u16, String),
    Eof,
    Abort,
    /// A write to the transport failed.
    WriteFailed,
    /// A write found the transport full.
    WriteBlocked,
    /// The shell says the transport is closed (meaningful only after `Action::Close`).
    TransportClosed,
    /// Tells the time, this many milliseconds after the previous tick.
    Tick(u32),
    Drain(u16),
}

#[derive(Debug, Arbitrary)]
struct Input {
    client: bool,
    small_limits: bool,
    ops: Vec<Op>,
}

/// Parses everything this side has transmitted so far.
struct WireCheck {
    bytes: Vec<u8>,
    pos: usize,
    expect_masked: bool,
    close_seen: bool,
}

impl WireCheck {
    fn feed(&mut self, out: &[u8]) {
        self.bytes.extend_from_slice(out);
        loop {
            let rest = &self.bytes[self.pos..];
            let Ok(Parsed::Complete(h, n)) = FrameHeader::decode(rest) else {
                assert!(
                    FrameHeader::decode(rest).is_ok(),
                    "we sent an invalid header"
                );
                return;
            };
            let total = n + h.payload_len as usize;
            if rest.len() < total {
                return;
            }
            assert_eq!(
                h.mask.is_some(),
                self.expect_masked,
                "wrong masking direction"
            );
            assert_eq!(h.rsv, 0);
            assert!(!self.close_seen, "a frame after our close");
            if h.opcode == OpCode::CLOSE {
                self.close_seen = true;
            }
            self.pos += total;
        }
    }
}

fuzz_target!(|input: Input| {
    let limits = if input.small_limits {
        Limits {
            max_frame_size: 64,
            max_message_size: 100,
            max_fragments: 4,
            write_buffer_size: 300,
            max_queued_events: 3,
            keepalive_interval: Some(Duration::from_millis(50)),
            keepalive_timeout: Duration::from_millis(50),
            close_timeout: Duration::from_millis(100),
            ..Limits::DEFAULT
        }
    } else {
        Limits::DEFAULT
    };
    let mut seed = 7u32;
    let mut conn = if input.client {
        Connection::client(limits, move || {
            seed = seed.wrapping_mul(747_796_405).wrapping_add(1);
            seed.to_le_bytes()
        })
    } else {
        Connection::server(limits)
    };
    let mut wire = WireCheck {
        bytes: Vec::new(),
        pos: 0,
        expect_masked: input.client,
        close_seen: false,
    };
    let mut closed = false;
    let mut sticky = None;
    let mut actions = Vec::new();
    let mut now = Duration::ZERO;
    let mut by_value = 0usize;
    let mut write_failed = false;
    // Bytes given to the connection so far, by either entry point.
    let mut received = 0usize;
    for op in input.ops {
        match op {
            Op::Receive(bytes) => {
                received += bytes.len();
                check_receive(&mut conn, &bytes, &mut sticky);
            }
            Op::Read(bytes) => received += check_read(&mut conn, &bytes, received, &mut sticky),
            Op::ReadNothing => {
                check_read(&mut conn, &[], received, &mut sticky);
            }
            Op::ReceiveMaskedFrame {
                fin,
                opcode,
                key,
                payload,
            } => {
                let mut h = FrameHeader::new(
                    OpCode::from_u8(opcode & 0xF).unwrap_or(OpCode::BINARY),
                    payload.len() as u64,
                );
                h.fin = fin;
                h.mask = (!input.client).then_some(key);
                let mut head = [0u8; 14];
                let n = h.encode(&mut head).unwrap();
                let mut frame = head[..n].to_vec();
                let start = frame.len();
                frame.extend_from_slice(&payload);
                if let Some(k) = h.mask {
                    switchyard_core::frame::mask::apply_mask(&mut frame[start..], k, 0);
                }
                received += frame.len();
                check_receive(&mut conn, &frame, &mut sticky);
            }
            Op::SendText(t) => {
                let _ = conn.send_text(&t);
            }
            Op::SendBinary(b) => {
                let _ = conn.send_binary(&b);
            }
            Op::SendMessage { big, mut data } => {
                if big {
                    data.resize(data.len() + Connection::SEND_BY_REFERENCE_MIN, 0x5a);
                }
                by_value += 1;
                let _ = conn.send_message(Message::Binary(data.into()));
            }
            Op::SendMessageWith {
                text,
                big,
                mut data,
                take,
            } => {
                if big {
                    data.resize(data.len() + Connection::SEND_BY_REFERENCE_MIN, 0x5a);
                }
                let message = if text {
                    Message::Text(String::from_utf8_lossy(&data).into_owned().into())
                } else {
                    Message::Binary(data.into())
                };
                let before = conn.buffered_amount();
                let mut written = 0;
                let sent = conn.send_message_with(message, |head, body| {
                    assert_eq!(before, 0, "written at once with output waiting");
                    written = usize::from(take).min(head.len() + body.len());
                    // What the writer took is on the wire, ahead of anything queued after it.
                    let from_head = written.min(head.len());
                    wire.feed(&head[..from_head]);
                    wire.feed(&body[..written - from_head]);
                    written
                });
                assert!(sent.is_ok() || written == 0, "a refused send wrote");
                by_value += 1;
            }
            Op::SendFragment { text, data, fin } => {
                let _ = conn.send_fragment(
                    if text {
                        DataKind::Text
                    } else {
                        DataKind::Binary
                    },
                    &data,
                    fin,
                );
            }
            Op::Ping(p) => {
                let _ = conn.send_ping(&p);
            }
            Op::Close(code, reason) => {
                let _ = conn.close(CloseCode::new(code), &reason);
            }
            Op::Fail(code, reason) => {
                let _ = conn.fail(CloseCode::new(code), &reason);
            }
            Op::Eof => conn.receive_eof(),
            Op::Abort => conn.abort(),
            Op::WriteFailed => {
                conn.write_failed();
                write_failed = true;
                assert_eq!(conn.buffered_amount(), 0, "output kept after a failed write");
                assert!(!conn.wants_read(), "reading after a failed write");
            }
            Op::WriteBlocked => conn.write_blocked(),
            Op::TransportClosed => {
                conn.transport_closed();
                if actions.last() == Some(&Action::Close) {
                    assert_eq!(conn.poll_timeout(), None, "a timer after the transport closed");
                    assert_eq!(conn.poll_action(), None, "an action after the transport closed");
                }
            }
            Op::Tick(ms) => {
                now += Duration::from_millis(u64::from(ms));
                conn.handle_timeout(Instant::from_origin(now));
                if let Some(deadline) = conn.poll_timeout() {
                    // A deadline already past is only the close timer asking to be armed.
                    assert!(deadline.since_origin() >= now || !conn.is_open());
                }
            }
            Op::Drain(n) => {
                while let Some(event) = conn.poll_event() {
                    assert!(!closed, "an event after Closed");
                    if matches!(event, Event::Closed(_)) {
                        closed = true;
                    }
                }
                let front = conn.poll_transmit().to_vec();
                // Each message by value adds at most three slices (the frames copied before it,
                // its header, its payload).
                let mut pieces = vec![&[][..]; 3 * by_value + 2];
                let room = pieces.len();
                let filled = conn.poll_transmit_vectored(&mut pieces);
                assert!(filled < room, "more pieces than messages by value explain");
                let out = pieces[..filled].concat();
                assert!(out.starts_with(&front), "the front piece comes first");
                assert_eq!(out.len(), conn.buffered_amount());
                let n = usize::from(n).min(out.len());
                assert!(
                    !(actions.contains(&Action::Abort) || write_failed) || out.is_empty(),
                    "output after an abort or a failed write"
                );
                wire.feed(&out[..n]);
                conn.consume_transmit(n);
                while let Some(action) = conn.poll_action() {
                    assert!(!actions.contains(&action), "action {action:?} twice");
                    assert!(
                        action != Action::HalfClose || actions.is_empty(),
                        "half-close after the end"
                    );
                    assert!(
                        closed || conn.pending_events() > 0,
                        "the transport ends only once receiving has ended"
                    );
                    actions.push(action);
                }
            }
        }
        assert!(
            !(conn.is_open() && conn.is_closed()),
            "open and closed at once"
        );
        assert!(conn.pending_events() <= conn.limits().max_queued_events + 1);
        // A drain after a failed write always has something to poll, until its `Closed`.
        assert!(
            !write_failed || closed || conn.pending_events() > 0,
            "a drain with nothing to poll"
        );
    }
});

fn check_receive(
    conn: &mut Connection,
    bytes: &[u8],
    sticky: &mut Option<switchyard_core::ProtocolError>,
) {
    let result = conn.receive_data(bytes);
    if let Some(e) = sticky {
        assert_eq!(result, Err(*e), "error not sticky");
    }
    match result {
        Err(e) => *sticky = Some(e),
        Ok(taken) if taken < bytes.len() => assert!(
            conn.pending_events() >= conn.limits().max_queued_events,
            "stopped early with room for events"
        ),
        Ok(taken) => assert_eq!(taken, bytes.len()),
    }
}

/// One read of `bytes` (as many as fit) into the lent buffer; returns how many were read.
fn check_read(
    conn: &mut Connection,
    bytes: &[u8],
    received: usize,
    sticky: &mut Option<switchyard_core::ProtocolError>,
) -> usize {
    let mut buf = conn.read_buffer();
    assert!(buf.is_empty(), "a lent buffer with bytes in it");
    assert!(buf.capacity() > 0, "no room lent");
    assert!(
        buf.capacity() <= 4 * received + 192 * 1024,
        "{} bytes of room after {received} bytes received",
        buf.capacity()
    );
    let n = bytes.len().min(buf.capacity());
    buf.extend_from_slice(&bytes[..n]);
    let result = conn.receive_buffer(buf);
    if let Some(e) = sticky {
        assert_eq!(result, Err(*e), "error not sticky");
    }
    if let Err(e) = result {
        *sticky = Some(e);
    }
    n
}
