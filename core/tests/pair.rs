//! A client core and a server core wired together in memory.

mod common;

use bytes::Bytes;
use common::*;
use switchyard_core::connection::{
    AbortReason, Action, Connection, DataKind, Event, Initiator, Message, SendError,
};
use switchyard_core::{CloseCode, Limits};

/// Two connected cores. Pumping moves bytes both ways and collects each side's events,
/// as an application would poll them, until neither side has anything to send.
struct Pair {
    client: Connection,
    server: Connection,
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

impl Pair {
    fn new() -> Pair {
        Pair {
            client: client(Limits::DEFAULT),
            server: Connection::server(Limits::DEFAULT),
            client_events: vec![],
            server_events: vec![],
        }
    }

    /// Delivers pending bytes in both directions, read into each side's read buffer `chunk`
    /// bytes at a time, until quiet.
    fn pump(&mut self, chunk: usize) {
        loop {
            self.client_events.extend(drain_events(&mut self.client));
            self.server_events.extend(drain_events(&mut self.server));
            let c2s = drain_output(&mut self.client);
            let s2c = drain_output(&mut self.server);
            if c2s.is_empty() && s2c.is_empty() {
                break;
            }
            feed_reads(&mut self.server, &c2s, &[chunk], &mut self.server_events)
                .unwrap_or_else(|e| panic!("the server failed: {e}"));
            feed_reads(&mut self.client, &s2c, &[chunk], &mut self.client_events)
                .unwrap_or_else(|e| panic!("the client failed: {e}"));
        }
    }

    fn take_client_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.client_events)
    }

    fn take_server_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.server_events)
    }
}

#[test]
fn messages_flow_both_ways_in_any_chunking() {
    for chunk in [1, 2, 3, 7, 64, 100_000] {
        let mut pair = Pair::new();
        let big: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
        pair.client.send_text("hello, server").unwrap();
        pair.client.send_binary(&big).unwrap();
        pair.client.send_binary(b"").unwrap();
        pair.server.send_text("héllo, client").unwrap();
        pair.pump(chunk);
        assert_eq!(
            pair.take_server_events(),
            vec![
                Event::Message(Message::Text("hello, server".into())),
                Event::Message(Message::Binary(Bytes::from(big.clone()))),
                Event::Message(Message::Binary(Bytes::new())),
            ],
            "chunk {chunk}"
        );
        assert_eq!(
            pair.take_client_events(),
            vec![Event::Message(Message::Text("héllo, client".into()))]
        );
    }
}

#[test]
fn fragmented_sends_reassemble_with_control_frames_between() {
    let mut pair = Pair::new();
    pair.client
        .send_fragment(DataKind::Text, "frag".as_bytes(), false)
        .unwrap();
    pair.client.send_ping(b"between").unwrap();
    let euro = "€".as_bytes();
    pair.client
        .send_fragment(DataKind::Text, &[&b"ment"[..], &euro[..2]].concat(), false)
        .unwrap();
    // An invalid continuation of the open character is refused and changes nothing.
    assert_eq!(
        pair.client.send_fragment(DataKind::Text, b"\xFF", true),
        Err(SendError::InvalidUtf8)
    );
    pair.client
        .send_fragment(DataKind::Text, &euro[2..], true)
        .unwrap();
    pair.pump(5);
    assert_eq!(
        pair.take_server_events(),
        vec![
            Event::Ping(Bytes::from_static(b"between")),
            Event::Message(Message::Text("fragment€".into()))
        ]
    );
    // The server's automatic pong reached the client.
    assert_eq!(
        pair.take_client_events(),
        vec![Event::Pong(Bytes::from_static(b"between"))]
    );
}

#[test]
fn sending_rules_are_enforced() {
    let mut c = client(Limits::DEFAULT);
    c.send_fragment(DataKind::Binary, b"a", false).unwrap();
    assert_eq!(c.send_text("x"), Err(SendError::FragmentInProgress));
    assert_eq!(
        c.send_fragment(DataKind::Text, b"b", true),
        Err(SendError::FragmentKindMismatch)
    );
    assert_eq!(
        c.send_ping(&[0; 126]),
        Err(SendError::ControlPayloadTooLong)
    );
    assert_eq!(
        c.send_fragment(DataKind::Text, b"\xFF", true),
        Err(SendError::FragmentKindMismatch)
    );
    c.send_fragment(DataKind::Binary, b"b", true).unwrap();
    assert_eq!(
        c.send_fragment(DataKind::Text, b"\xFF", true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(
        c.close(CloseCode::ABNORMAL, ""),
        Err(SendError::InvalidCloseCode(CloseCode::ABNORMAL))
    );
    assert_eq!(
        c.close(CloseCode::new(999), ""),
        Err(SendError::InvalidCloseCode(CloseCode::new(999)))
    );
    c.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(c.send_text("late"), Err(SendError::Closed));
    assert_eq!(c.close(CloseCode::NORMAL, ""), Err(SendError::Closed));
}

#[test]
fn client_initiated_close_handshake() {
    let mut pair = Pair::new();
    pair.client
        .close(CloseCode::GOING_AWAY, "tab closed")
        .unwrap();
    assert_eq!(drain_actions(&mut pair.client), vec![]);
    pair.pump(1000);
    // The server echoed the code, reported the close, and closes TCP first (§7.1.1).
    let server_events = pair.take_server_events();
    assert!(matches!(&server_events[..], [Event::Closed(i)]
        if i.code == CloseCode::GOING_AWAY && i.reason == "tab closed" && i.initiator == Initiator::Peer && i.clean));
    assert_eq!(drain_actions(&mut pair.server), vec![Action::Close]);
    let client_events = pair.take_client_events();
    assert!(
        matches!(&client_events[..], [Event::Closed(i)] if i.code == CloseCode::GOING_AWAY && i.initiator == Initiator::Local && i.clean)
    );
    // The client waits for the server's EOF before closing its side.
    assert_eq!(drain_actions(&mut pair.client), vec![]);
    pair.client.receive_eof();
    assert_eq!(drain_actions(&mut pair.client), vec![Action::Close]);
    assert!(
        pair.take_client_events().is_empty(),
        "EOF after a clean close adds no event"
    );
}

#[test]
fn server_initiated_close_handshake() {
    let mut pair = Pair::new();
    pair.server.send_text("last words").unwrap();
    pair.server.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(pair.server.send_text("too late"), Err(SendError::Closed));
    pair.pump(3);
    let client_events = pair.take_client_events();
    assert_eq!(client_events.len(), 2);
    assert!(matches!(&client_events[0], Event::Message(m) if m.as_bytes() == b"last words"));
    assert!(
        matches!(&client_events[1], Event::Closed(i) if i.code == CloseCode::NORMAL && i.initiator == Initiator::Peer)
    );
    assert!(
        matches!(&pair.take_server_events()[..], [Event::Closed(i)] if i.initiator == Initiator::Local && i.clean)
    );
    assert_eq!(drain_actions(&mut pair.server), vec![Action::Close]);
}

#[test]
fn empty_close_is_echoed_empty_and_reported_as_1005() {
    let mut pair = Pair::new();
    pair.client.close(CloseCode::NO_STATUS, "").unwrap();
    pair.pump(1000);
    assert!(
        matches!(&pair.take_server_events()[..], [Event::Closed(i)] if i.code == CloseCode::NO_STATUS)
    );
    assert!(
        matches!(&pair.take_client_events()[..], [Event::Closed(i)] if i.code == CloseCode::NO_STATUS)
    );
}

#[test]
fn eof_without_close_is_abnormal_1006() {
    let mut server = Connection::server(Limits::DEFAULT);
    // Half a frame, then EOF: no message is delivered.
    server.receive_data(&[0x81, 0x85, 1, 2]).unwrap();
    server.receive_eof();
    let events = drain_events(&mut server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.code == CloseCode::ABNORMAL && !i.clean && i.initiator == Initiator::Transport)
    );
    assert!(drain_output(&mut server).is_empty(), "1006 is never sent");
    assert_eq!(drain_actions(&mut server), vec![Action::Close]);
}

/// After the peer's EOF the transport is closed once the output is written; from the moment
/// that close is handed out, nothing more may be sent (it would follow the close).
#[test]
fn nothing_is_sent_once_the_close_after_an_eof_is_handed_out() {
    let mut server = Connection::server(Limits::DEFAULT);
    server.receive_eof();
    assert_eq!(server.poll_action(), Some(Action::Close));
    assert!(!server.is_open());
    assert_eq!(server.send_text("late"), Err(SendError::Closed));
    assert!(server.poll_transmit().is_empty());
}

#[test]
fn data_after_the_peers_close_is_ignored() {
    let mut pair = Pair::new();
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    let close = drain_output(&mut pair.client);
    let mut other = client(Limits::DEFAULT);
    other.send_text("ghost").unwrap();
    let ghost = drain_output(&mut other);
    let wire = [close, ghost].concat();
    assert_eq!(pair.server.receive_data(&wire), Ok(wire.len()));
    let events = drain_events(&mut pair.server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.code == CloseCode::NORMAL && i.clean),
        "only the close, no message: {events:?}"
    );
}

#[test]
fn every_ping_is_answered_in_order() {
    let mut pair = Pair::new();
    for i in 0..10u8 {
        pair.client.send_ping(&[i]).unwrap();
    }
    // All ten pings arrive in one read (Autobahn 2.10): ten pongs, in order.
    pair.server
        .receive_data(&drain_output(&mut pair.client))
        .unwrap();
    let out = drain_output(&mut pair.server);
    let expected: Vec<u8> = (0..10u8).flat_map(|i| [0x8A, 0x01, i]).collect();
    assert_eq!(out, expected);
}

#[test]
fn a_ping_flood_past_the_backlog_owes_one_pong() {
    let limits = Limits {
        write_buffer_size: 1000,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    let mut flooder = client(Limits::DEFAULT);
    for i in 0..1000u16 {
        flooder
            .send_ping(&[&i.to_be_bytes()[..], &[0u8; 98]].concat())
            .unwrap();
    }
    let mut events = Vec::new();
    feed(&mut server, &drain_output(&mut flooder), &mut events).unwrap();
    events.extend(drain_events(&mut server));
    assert_eq!(events.len(), 1000);
    // Pongs of 102 bytes go out until the replies pass 1000 bytes; then only the latest.
    assert!(
        !server.wants_read(),
        "reading pauses until the output drains"
    );
    let out = drain_output(&mut server);
    assert!(server.wants_read(), "drained: reading resumes");
    assert_eq!(out.len(), 10 * 102 + 102);
    assert_eq!(
        &out[out.len() - 102..out.len() - 98],
        &[0x8A, 100, 0x03, 0xE7]
    );
}

#[test]
fn close_in_the_middle_of_a_fragmented_message_drops_it() {
    let mut pair = Pair::new();
    pair.client
        .send_fragment(DataKind::Text, b"partial", false)
        .unwrap();
    pair.pump(1000);
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    pair.server
        .receive_data(&drain_output(&mut pair.client))
        .unwrap();
    assert!(
        matches!(&drain_events(&mut pair.server)[..], [Event::Closed(i)] if i.code == CloseCode::NORMAL)
    );
}

#[test]
fn nothing_is_sent_after_an_abort() {
    let mut server = Connection::server(Limits::DEFAULT);
    server.send_text("queued but never written").unwrap();
    server.abort();
    assert!(!server.is_open());
    assert_eq!(server.send_text("late"), Err(SendError::Closed));
    assert_eq!(server.send_ping(b""), Err(SendError::Closed));
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
    assert_eq!(server.buffered_amount(), 0);
    assert!(server.poll_transmit().is_empty());
    let events = drain_events(&mut server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.code == CloseCode::ABNORMAL
            && i.aborted == Some(AbortReason::Requested) && i.initiator == Initiator::Transport),
        "{events:?}"
    );
}

#[test]
fn failing_after_the_peers_close_sends_one_close_frame() {
    let mut pair = Pair::new();
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    pair.server
        .receive_data(&drain_output(&mut pair.client))
        .unwrap();
    // The echo is still owed: the application fails instead, before polling the close.
    assert!(pair.server.is_open());
    pair.server
        .fail(CloseCode::INTERNAL_ERROR, "crashed")
        .unwrap();
    assert!(!pair.server.is_open());
    let events = drain_events(&mut pair.server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.code == CloseCode::NORMAL && i.clean),
        "the peer's close is what ended it: {events:?}"
    );
    let out = drain_output(&mut pair.server);
    assert_eq!(
        out, b"\x88\x09\x03\xf3crashed",
        "one close frame, the application's"
    );
    assert_eq!(drain_actions(&mut pair.server), vec![Action::Close]);
}

/// The client's frames: `n` text messages ("m0", "m1", ...), then a ping, then `tail`.
fn messages_then(client: &mut Connection, n: usize, tail: impl FnOnce(&mut Connection)) -> Vec<u8> {
    for i in 0..n {
        client.send_text(&format!("m{i}")).unwrap();
    }
    client.send_ping(b"late ping").unwrap();
    tail(client);
    drain_output(client)
}

/// The texts of the messages among `events`.
fn texts(events: &[Event]) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Message(Message::Text(t)) => Some(t.as_str().to_owned()),
            _ => None,
        })
        .collect()
}

/// A peer that sends its messages and its close and goes away makes our next write fail
/// while most of what it sent is read but not yet decoded (decoding waits while 256 events
/// do). Every message it sent is still delivered, then its close (not clean: ours can never
/// follow), and only then is the transport given up; nothing is sent meanwhile, not even the
/// pong its ping asks for.
#[test]
fn a_failed_write_still_delivers_every_frame_already_read() {
    let mut client = client(Limits::DEFAULT);
    let bytes = messages_then(&mut client, 600, |c| {
        c.close(CloseCode::NORMAL, "bye").unwrap()
    });
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(server.receive_data(&bytes), Ok(bytes.len()));
    assert_eq!(server.pending_events(), Limits::DEFAULT.max_queued_events);
    // The application answers the first message; writing it fails.
    assert!(matches!(server.poll_event(), Some(Event::Message(_))));
    server.send_text("answer").unwrap();
    server.write_failed();

    assert_eq!(server.buffered_amount(), 0, "the queued answer is dropped");
    assert!(!server.is_open() && !server.is_closed());
    assert_eq!(server.send_text("late"), Err(SendError::Closed));
    assert!(!server.wants_read(), "nothing more is read");
    assert_eq!(server.poll_action(), None, "not before the drain ends");
    assert_eq!(
        server.poll_timeout(),
        None,
        "the drain goes at the application's pace"
    );
    let events = drain_events(&mut server);
    let expected: Vec<String> = (1..600).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&events), expected);
    assert!(matches!(&events[events.len() - 2], Event::Ping(p) if &p[..] == b"late ping"));
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::NORMAL
            && i.reason == "bye" && !i.clean && i.initiator == Initiator::Peer
            && i.aborted == Some(AbortReason::WriteFailed)),
        "{:?}",
        events.last()
    );
    assert!(server.is_closed());
    assert!(server.poll_transmit().is_empty(), "no pong, no close reply");
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
}

/// An EOF that arrives while decoding waits (256 events undelivered) takes effect after
/// what was read before it: every message, then the peer's close, reported as the close it
/// is (clean once our reply is queued), not as 1006.
#[test]
fn an_eof_waits_for_the_frames_read_before_it() {
    let mut client = client(Limits::DEFAULT);
    let bytes = messages_then(&mut client, 600, |c| {
        c.close(CloseCode::NORMAL, "bye").unwrap()
    });
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(server.receive_data(&bytes), Ok(bytes.len()));
    assert_eq!(server.pending_events(), Limits::DEFAULT.max_queued_events);
    server.receive_eof();
    assert!(!server.wants_read(), "nothing more is read after the EOF");
    let events = drain_events(&mut server);
    let expected: Vec<String> = (0..600).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&events), expected);
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::NORMAL
            && i.reason == "bye" && i.initiator == Initiator::Peer && i.error.is_none()),
        "{:?}",
        events.last()
    );
}

/// Bytes read after the last whole frame (a partial frame) can never complete: once the
/// whole frames before them are delivered, the drain ends as an abort (1006).
#[test]
fn a_drain_ends_at_a_partial_frame() {
    let mut client = client(Limits::DEFAULT);
    let mut bytes = messages_then(&mut client, 300, |_| {});
    client.send_text("never whole").unwrap();
    let partial = drain_output(&mut client);
    bytes.extend_from_slice(&partial[..partial.len() - 1]);
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(server.receive_data(&bytes), Ok(bytes.len()));
    server.write_failed();
    let events = drain_events(&mut server);
    let expected: Vec<String> = (0..300).map(|i| format!("m{i}")).collect();
    assert_eq!(texts(&events), expected);
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::ABNORMAL
            && !i.clean && i.initiator == Initiator::Transport
            && i.aborted == Some(AbortReason::WriteFailed)),
        "{:?}",
        events.last()
    );
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
}

/// After our close, the drain delivers the peer's last messages and its close, and reports
/// the closing as ours.
#[test]
fn a_drain_after_our_close_reports_it_as_ours() {
    let mut client = client(Limits::DEFAULT);
    let bytes = messages_then(&mut client, 300, |c| {
        c.close(CloseCode::GOING_AWAY, "").unwrap()
    });
    let mut server = Connection::server(Limits::DEFAULT);
    server.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.receive_data(&bytes), Ok(bytes.len()));
    server.write_failed();
    let events = drain_events(&mut server);
    assert_eq!(texts(&events).len(), 300);
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::GOING_AWAY
            && !i.clean && i.initiator == Initiator::Local
            && i.aborted == Some(AbortReason::WriteFailed)),
        "{:?}",
        events.last()
    );
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
}

/// A protocol error among the drained bytes ends the drain with that error; no close frame
/// is queued for it.
#[test]
fn a_protocol_error_ends_a_drain() {
    let mut client = client(Limits::DEFAULT);
    let mut bytes = messages_then(&mut client, 300, |_| {});
    // An unmasked frame from a client (§5.1).
    bytes.extend_from_slice(&[0x81, 0x01, b'x']);
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(server.receive_data(&bytes), Ok(bytes.len()));
    server.write_failed();
    let events = drain_events(&mut server);
    assert_eq!(texts(&events).len(), 300);
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::PROTOCOL_ERROR
            && i.error.is_some() && i.aborted == Some(AbortReason::WriteFailed)),
        "{:?}",
        events.last()
    );
    assert!(server.poll_transmit().is_empty());
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
}

/// With nothing left to decode, a failed write ends the connection at once, after the
/// events already queued; once receiving had ended it is an abort.
#[test]
fn a_failed_write_with_nothing_buffered_aborts_at_once() {
    let mut pair = Pair::new();
    pair.client.send_text("one").unwrap();
    pair.server
        .receive_data(&drain_output(&mut pair.client))
        .unwrap();
    pair.server.write_failed();
    let events = drain_events(&mut pair.server);
    assert_eq!(texts(&events), ["one"]);
    assert!(
        matches!(events.last(), Some(Event::Closed(i)) if i.code == CloseCode::ABNORMAL
            && i.aborted == Some(AbortReason::WriteFailed)),
        "{events:?}"
    );
    assert_eq!(drain_actions(&mut pair.server), vec![Action::Abort]);

    let mut pair = Pair::new();
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    pair.pump(1000);
    assert!(matches!(&pair.take_server_events()[..], [Event::Closed(i)] if i.clean));
    pair.server.write_failed();
    assert!(drain_events(&mut pair.server).is_empty(), "one Closed only");
    assert_eq!(drain_actions(&mut pair.server), vec![Action::Abort]);
}
