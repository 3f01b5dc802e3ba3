//! Time as an input: keepalive, the pong deadline, the close timeout and read pausing, driven
//! by a fake clock.

mod common;

use std::time::Duration;

use common::*;
use switchyard_core::connection::{
    AbortReason, Action, Connection, Event, Initiator, Instant, MaskSource, SendError,
};
use switchyard_core::{CloseCode, Limits, OpCode};

fn at(secs: u64) -> Instant {
    Instant::from_origin(Duration::from_secs(secs))
}

/// A server whose clock started at 100 s.
fn server() -> Connection {
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(
        server.poll_timeout(),
        None,
        "no deadline before the clock starts"
    );
    server.handle_timeout(at(100));
    server
}

/// The opcodes of the frames in `wire` (unmasked, as a server sends them).
fn opcodes(wire: &[u8]) -> Vec<OpCode> {
    let mut ops = vec![];
    let mut rest = wire;
    while let Some((header, len)) = switchyard_core::FrameHeader::decode(rest)
        .unwrap()
        .complete()
    {
        ops.push(header.opcode);
        rest = &rest[len + header.payload_len as usize..];
    }
    ops
}

#[test]
fn a_keepalive_ping_goes_out_after_the_interval_of_silence() {
    let mut server = server();
    assert_eq!(server.poll_timeout(), Some(at(120)));
    server.handle_timeout(at(119));
    assert!(drain_output(&mut server).is_empty(), "not yet");
    server.handle_timeout(at(120));
    assert_eq!(opcodes(&drain_output(&mut server)), vec![OpCode::PING]);
    assert_eq!(server.poll_timeout(), Some(at(140)), "the pong deadline");
}

#[test]
fn received_bytes_postpone_the_keepalive_ping() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    client.send_text("hi").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(110));
    assert_eq!(server.poll_timeout(), Some(at(130)));
    server.handle_timeout(at(120));
    assert!(
        drain_output(&mut server).is_empty(),
        "silence is counted from 110 s"
    );
}

#[test]
fn an_answered_ping_resets_keepalive() {
    let mut server = server();
    server.handle_timeout(at(120));
    let _ping = drain_output(&mut server);
    let mut client = client(Limits::DEFAULT);
    client.send_pong(b"").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(125));
    // Silence counts from the ping the peer answered: the next goes out an interval after it.
    assert_eq!(server.poll_timeout(), Some(at(140)));
    server.handle_timeout(at(139));
    assert!(drain_output(&mut server).is_empty(), "not yet");
    server.handle_timeout(at(140));
    assert_eq!(opcodes(&drain_output(&mut server)), vec![OpCode::PING]);
    assert!(server.is_open());
}

/// A shell that tells the time only at deadlines (as `switchyard` does): after the ping, the
/// next tick is the pong deadline. A peer that answered in time is not given up, and is
/// pinged again at once, one interval after the last ping (the default interval and timeout
/// are both 20 s), rather than an interval after that tick.
#[test]
fn ticking_only_at_deadlines_pings_an_answering_peer_once_per_interval() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    for round in 0..3u64 {
        let ping_at = 120 + 20 * round;
        assert_eq!(server.poll_timeout(), Some(at(ping_at)), "round {round}");
        server.handle_timeout(at(ping_at));
        assert_eq!(opcodes(&drain_output(&mut server)), vec![OpCode::PING]);
        // The answer arrives; nobody tells the server the time until the pong deadline.
        client.send_pong(b"").unwrap();
        server.receive_data(&drain_output(&mut client)).unwrap();
        assert_eq!(
            server.poll_timeout(),
            Some(at(ping_at + 20)),
            "the pong deadline"
        );
    }
    server.handle_timeout(at(180));
    assert_eq!(opcodes(&drain_output(&mut server)), vec![OpCode::PING]);
    assert!(server.is_open());
}

#[test]
fn silence_after_the_ping_closes_1011_and_aborts() {
    let mut server = server();
    server.handle_timeout(at(120));
    let _ping = drain_output(&mut server);
    server.handle_timeout(at(139));
    assert!(server.is_open());
    server.handle_timeout(at(140));
    assert!(!server.is_open());
    let close = drain_output(&mut server);
    assert_eq!(opcodes(&close), vec![OpCode::CLOSE]);
    assert_eq!(&close[2..4], &1011u16.to_be_bytes());
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
    let events = drain_events(&mut server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.aborted == Some(AbortReason::KeepaliveTimeout)
            && i.code == CloseCode::ABNORMAL && !i.clean && i.initiator == Initiator::Local),
        "{events:?}"
    );
    assert_eq!(server.poll_timeout(), None, "nothing more to time");
}

#[test]
fn keepalive_can_be_turned_off() {
    let limits = Limits {
        keepalive_interval: None,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    server.handle_timeout(at(0));
    assert_eq!(server.poll_timeout(), None);
    server.handle_timeout(at(1_000_000));
    assert!(drain_output(&mut server).is_empty());
}

#[test]
fn the_close_timeout_runs_from_the_next_tick_after_closing_begins() {
    let mut client = client(Limits::DEFAULT);
    client.handle_timeout(at(100));
    client.close(CloseCode::NORMAL, "").unwrap();
    // Closing began after an unknown time since the last tick: ask for the time at once.
    assert_eq!(client.poll_timeout(), Some(at(100)));
    client.handle_timeout(at(150));
    assert_eq!(client.poll_timeout(), Some(at(160)));
    let _close = drain_output(&mut client);
    assert_eq!(
        drain_actions(&mut client),
        vec![],
        "a client waits for the server"
    );
    client.handle_timeout(at(159));
    assert!(drain_events(&mut client).is_empty());
    client.handle_timeout(at(160));
    assert_eq!(drain_actions(&mut client), vec![Action::Abort]);
    let events = drain_events(&mut client);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.aborted == Some(AbortReason::CloseTimeout)
            && i.code == CloseCode::ABNORMAL && i.initiator == Initiator::Local),
        "{events:?}"
    );
}

#[test]
fn the_close_timeout_also_bounds_a_peer_initiated_close() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    client.close(CloseCode::NORMAL, "").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(101));
    assert_eq!(server.poll_timeout(), Some(at(111)));
    let _ = drain_events(&mut server);
    // The client never reads: the close reply stays unwritten, and nothing is done with the
    // transport while it waits.
    assert!(server.wants_write());
    assert_eq!(drain_actions(&mut server), vec![]);
    server.handle_timeout(at(111));
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
    assert_eq!(server.poll_timeout(), None);
}

/// The peer's close is reported before our reply is sent, as the application polls it; if
/// the close timeout gives up before then (the application never polled), the report says
/// so: not clean (our close frame never went), aborted at the close timeout.
#[test]
fn a_peer_close_given_up_before_it_was_polled_is_not_clean() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    client.close(CloseCode::NORMAL, "").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(101));
    server.handle_timeout(at(111));
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
    let events = drain_events(&mut server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if !i.clean
            && i.aborted == Some(AbortReason::CloseTimeout)
            && i.code == CloseCode::NORMAL && i.initiator == Initiator::Peer),
        "{events:?}"
    );
    assert!(
        server.poll_transmit().is_empty(),
        "no reply after the abort"
    );
}

#[test]
fn once_its_close_reply_is_written_the_server_closes_without_waiting_for_eof() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    client.close(CloseCode::NORMAL, "").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(101));
    let _ = drain_events(&mut server);
    assert_eq!(
        drain_actions(&mut server),
        vec![],
        "the reply is not written yet"
    );
    let _echo = drain_output(&mut server);
    assert_eq!(drain_actions(&mut server), vec![Action::Close]);
    assert_eq!(
        server.poll_timeout(),
        Some(at(111)),
        "the close timeout runs until the transport is closed"
    );
    server.transport_closed();
    assert_eq!(
        server.poll_timeout(),
        None,
        "no timer once the transport is closed"
    );
    server.handle_timeout(at(111));
    assert_eq!(
        drain_actions(&mut server),
        vec![],
        "nothing after the close"
    );
}

/// Closing the transport can stall (TLS holds our last bytes for a peer that stopped
/// reading): the close timeout bounds it, and gives the transport up.
#[test]
fn a_close_the_transport_never_carries_out_is_aborted_at_the_close_timeout() {
    let mut server = server();
    let mut client = client(Limits::DEFAULT);
    client.close(CloseCode::NORMAL, "").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(101));
    let events = drain_events(&mut server);
    assert!(matches!(events.last(), Some(Event::Closed(info)) if info.clean));
    let _echo = drain_output(&mut server);
    assert_eq!(drain_actions(&mut server), vec![Action::Close]);
    assert!(!server.wants_read(), "nothing more is read while closing");
    server.handle_timeout(at(110));
    assert_eq!(drain_actions(&mut server), vec![]);
    server.handle_timeout(at(111));
    assert_eq!(drain_actions(&mut server), vec![Action::Abort]);
    assert_eq!(server.poll_timeout(), None);
    assert!(
        drain_events(&mut server).is_empty(),
        "the close was reported once, as it was: {events:?}"
    );
}

#[test]
fn over_a_stream_transport_the_server_waits_for_the_peers_end_after_a_clean_close() {
    let mut server = Connection::server(Limits::DEFAULT).with_stream_transport();
    server.handle_timeout(at(100));
    let mut client = client(Limits::DEFAULT);
    client.close(CloseCode::NORMAL, "").unwrap();
    server.receive_data(&drain_output(&mut client)).unwrap();
    server.handle_timeout(at(101));
    let _ = drain_events(&mut server);
    let _echo = drain_output(&mut server);
    assert_eq!(drain_actions(&mut server), vec![Action::HalfClose]);
    assert_eq!(
        server.poll_timeout(),
        Some(at(111)),
        "bounded by the close timeout"
    );
    server.receive_eof();
    assert_eq!(drain_actions(&mut server), vec![Action::Close]);
}

#[test]
fn a_client_waits_for_the_servers_eof_under_the_close_timeout() {
    let mut client = client(Limits::DEFAULT);
    let mut server = server();
    server.close(CloseCode::NORMAL, "").unwrap();
    client.handle_timeout(at(100));
    client.receive_data(&drain_output(&mut server)).unwrap();
    let _ = drain_events(&mut client);
    let _echo = drain_output(&mut client);
    assert_eq!(
        drain_actions(&mut client),
        vec![],
        "§7.1.1: the server closes first"
    );
    client.handle_timeout(at(101));
    assert_eq!(client.poll_timeout(), Some(at(111)));
    client.handle_timeout(at(111));
    assert_eq!(drain_actions(&mut client), vec![Action::Abort]);
}

#[test]
fn a_ping_flood_pauses_reading_until_the_output_drains() {
    let limits = Limits {
        write_buffer_size: 500,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    let mut flooder = client(Limits::DEFAULT);
    for _ in 0..100 {
        flooder.send_ping(&[7; 100]).unwrap();
    }
    let wire = drain_output(&mut flooder);
    assert!(server.wants_read());
    server.receive_data(&wire).unwrap();
    assert!(!server.wants_read(), "replies backed up past the bound");
    // The output holds the pongs up to the bound plus one coalesced pong, not 100.
    let out = drain_output(&mut server);
    assert!(out.len() <= 500 + 2 * 102, "{} bytes", out.len());
    assert!(server.wants_read(), "drained: reading resumes");
}

#[test]
fn the_applications_own_output_never_pauses_reading() {
    let limits = Limits {
        write_buffer_size: 500,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    server.send_binary(&[0; 10_000]).unwrap();
    assert!(server.wants_read());
}

#[test]
fn open_and_closed_never_hold_together() {
    let mut pair_client = client(Limits::DEFAULT);
    let mut server = Connection::server(Limits::DEFAULT);
    pair_client.close(CloseCode::NORMAL, "").unwrap();
    let mut states = vec![(server.is_open(), server.is_closed())];
    server
        .receive_data(&drain_output(&mut pair_client))
        .unwrap();
    states.push((server.is_open(), server.is_closed()));
    let _ = drain_events(&mut server);
    states.push((server.is_open(), server.is_closed()));
    assert_eq!(
        states,
        vec![(true, false), (true, false), (false, true)],
        "open; closing with the echo owed (answers may still be sent); closed"
    );
}

#[test]
fn the_application_can_fail_the_connection() {
    let mut server = server();
    server.fail(CloseCode::POLICY, "no thanks").unwrap();
    assert!(!server.is_open());
    assert_eq!(server.send_text("late"), Err(SendError::Closed));
    let close = drain_output(&mut server);
    assert_eq!(&close[2..4], &1008u16.to_be_bytes());
    let events = drain_events(&mut server);
    assert!(
        matches!(&events[..], [Event::Closed(i)] if i.code == CloseCode::POLICY && !i.clean
            && i.initiator == Initiator::Local),
        "{events:?}"
    );
    assert_eq!(drain_actions(&mut server), vec![Action::HalfClose]);
}

#[test]
fn a_failing_mask_source_refuses_the_send_and_aborts() {
    /// One key, then none: an RNG that fails after its first fill.
    struct OneKey(bool);
    impl MaskSource for OneKey {
        fn next_mask(&mut self) -> Option<[u8; 4]> {
            std::mem::take(&mut self.0).then_some([1, 2, 3, 4])
        }
    }
    let mut client = Connection::client(Limits::DEFAULT, OneKey(true));
    client.send_text("masked").unwrap();
    assert_eq!(client.send_text("no key"), Err(SendError::MaskUnavailable));
    assert_eq!(drain_actions(&mut client), vec![Action::Abort]);
    assert!(
        client.poll_transmit().is_empty(),
        "not even the first frame goes"
    );
    assert!(matches!(&drain_events(&mut client)[..],
        [Event::Closed(i)] if i.aborted == Some(AbortReason::MaskUnavailable)));
}

/// A shell may write the output piece by piece with room to spare (a frame header, then its
/// payload; a vectored write of too many pieces): that is not the peer's doing, and a peer
/// that stopped reading (its kernel still acknowledging) is still pinged.
#[test]
fn output_written_in_pieces_is_not_hearing_from_the_peer() {
    let mut server = server();
    for t in [105, 110, 115] {
        server.send_binary(&[0; 1000]).unwrap();
        server.consume_transmit(500);
        server.consume_transmit(server.buffered_amount());
        server.handle_timeout(at(t));
    }
    server.handle_timeout(at(120));
    assert_eq!(
        opcodes(&drain_output(&mut server)),
        vec![OpCode::PING],
        "nothing was heard: the keepalive ping is queued"
    );
}

#[test]
fn a_peer_that_drains_a_stalled_output_counts_as_alive() {
    let mut server = server();
    server.send_binary(&[0; 1000]).unwrap();
    // The transport takes half, then is full until the peer reads.
    server.consume_transmit(500);
    server.write_blocked();
    server.handle_timeout(at(120));
    assert!(
        server.buffered_amount() > 500,
        "the keepalive ping is queued"
    );
    server.consume_transmit(100);
    server.handle_timeout(at(130));
    assert_eq!(
        server.poll_timeout(),
        Some(at(140)),
        "heard after the ping at 120 s: pinged again an interval after it"
    );
    server.handle_timeout(at(140));
    assert!(server.is_open(), "not given up at the old pong deadline");
}

/// Replies that are written stop counting, even while the application's own output never
/// empties (a continuous feed to a slow reader): only pongs still waiting pause reading.
#[test]
fn written_replies_do_not_pause_reading_behind_the_applications_output() {
    let limits = Limits {
        write_buffer_size: 1000,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    let mut client = client(limits);
    for round in 0..20 {
        client.send_ping(&[7; 100]).unwrap();
        server.receive_data(&drain_output(&mut client)).unwrap();
        let _ = drain_events(&mut server);
        server.send_binary(&[0; 500]).unwrap();
        // Everything but 250 bytes of the application's message: the pong before it is
        // written, the output never empties.
        server.consume_transmit(server.buffered_amount() - 250);
        assert!(server.wants_read(), "round {round}: reading paused");
    }
}
