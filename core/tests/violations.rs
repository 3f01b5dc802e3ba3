//! Every protocol violation fails the connection with its exact close code, puts that code on
//! the wire, reports it once, and stays failed.

mod common;

use common::*;
use switchyard_core::connection::{Action, Connection, Event, Initiator};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::{CloseCode, FrameHeader, Limits, OpCode, ProtocolError};

/// A client frame (masked with a fixed key) with full control over every header bit.
fn client_frame(fin: bool, rsv: u8, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], key, 0);
    out
}

fn text_frame(fin: bool, payload: &[u8]) -> Vec<u8> {
    client_frame(fin, 0, 0x1, payload)
}

/// The close code in the close frame at the start of a server's output.
fn close_code_on_wire(out: &[u8]) -> CloseCode {
    let (header, len) = FrameHeader::decode(out).unwrap().complete().unwrap();
    assert_eq!(
        header.opcode,
        OpCode::CLOSE,
        "first frame out is not a close: {out:x?}"
    );
    CloseCode::new(u16::from_be_bytes([out[len], out[len + 1]]))
}

/// Feeds `wire` to a server; asserts the failure, its code on the wire and in the event,
/// that nothing after it is delivered, and that the error is sticky.
fn assert_server_fails(wire: &[u8], limits: Limits, expected: ProtocolError) {
    let mut server = Connection::server(limits);
    let (events, out, error) = feed_split(&mut server, wire, &[]);
    assert_eq!(
        error,
        Some(expected),
        "wire {:x?}",
        &wire[..wire.len().min(32)]
    );
    let code = expected.close_code();
    assert_eq!(close_code_on_wire(&out), code);
    let Some(Event::Closed(info)) = events.last() else {
        panic!("no Closed event: {events:?}")
    };
    assert_eq!(
        (info.code, info.error, info.initiator, info.clean),
        (code, Some(expected), Initiator::Local, false)
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, Event::Closed(_)))
            .count(),
        1
    );
    // Sticky: more input changes nothing, reports the same error, and sends no second close.
    assert_eq!(
        server.receive_data(&text_frame(true, b"after")),
        Err(expected)
    );
    assert!(drain_events(&mut server).is_empty());
    assert!(drain_output(&mut server).is_empty());
    assert_eq!(drain_actions(&mut server), vec![Action::HalfClose]);
    server.receive_eof();
    assert_eq!(drain_actions(&mut server), vec![Action::Close]);
}

fn check(wire: &[u8], expected: ProtocolError) {
    assert_server_fails(wire, Limits::DEFAULT, expected);
}

#[test]
fn rejects_reserved_opcodes() {
    for op in (0x3..=0x7).chain(0xB..=0xF) {
        check(
            &client_frame(true, 0, op, b""),
            ProtocolError::ReservedOpcode(op),
        );
    }
}

#[test]
fn rejects_reserved_bits_without_an_extension() {
    for rsv in 1..=7 {
        check(
            &client_frame(true, rsv, 0x1, b"x"),
            ProtocolError::ReservedBitsSet(rsv),
        );
    }
}

#[test]
fn rejects_64_bit_length_with_top_bit_set() {
    check(
        &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
        ProtocolError::LengthTopBitSet,
    );
    check(&[0x82, 0xFF, 0xFF], ProtocolError::LengthTopBitSet);
}

#[test]
fn rejects_unmasked_client_frame() {
    check(
        &[0x81, 0x02, b'h', b'i'],
        ProtocolError::UnmaskedClientFrame,
    );
}

#[test]
fn rejects_masked_server_frame() {
    let mut client = client(Limits::DEFAULT);
    let (events, out, error) = feed_split(&mut client, &text_frame(true, b"hi"), &[]);
    assert_eq!(error, Some(ProtocolError::MaskedServerFrame));
    assert!(matches!(&events[..], [Event::Closed(info)] if info.code == CloseCode::PROTOCOL_ERROR));
    // The client's close is masked; unmask it to read the code.
    let (header, len) = FrameHeader::decode(&out).unwrap().complete().unwrap();
    let mut payload = out[len..].to_vec();
    apply_mask(&mut payload, header.mask.unwrap(), 0);
    assert_eq!(&payload[..2], &1002u16.to_be_bytes());
}

#[test]
fn rejects_control_frames_over_125_bytes() {
    check(
        &client_frame(true, 0, 0x9, &[0; 126]),
        ProtocolError::ControlFrameTooLong(126),
    );
    check(
        &client_frame(true, 0, 0x8, &[0; 200]),
        ProtocolError::ControlFrameTooLong(126),
    );
}

#[test]
fn rejects_fragmented_control_frames() {
    for op in [0x8, 0x9, 0xA] {
        check(
            &client_frame(false, 0, op, b""),
            ProtocolError::FragmentedControlFrame,
        );
    }
}

#[test]
fn rejects_continuation_with_nothing_to_continue() {
    check(
        &client_frame(true, 0, 0x0, b"x"),
        ProtocolError::UnexpectedContinuation,
    );
}

#[test]
fn rejects_new_message_inside_a_fragmented_one() {
    let wire = [text_frame(false, b"a"), client_frame(true, 0, 0x2, b"b")].concat();
    check(&wire, ProtocolError::ExpectedContinuation);
}

#[test]
fn rejects_invalid_utf8_as_soon_as_it_arrives() {
    // Invalid in the first fragment: refused although the message never finishes.
    check(&text_frame(false, b"ok\xFF"), ProtocolError::InvalidUtf8);
    // Invalid across a fragment boundary: F4 then 90 is above U+10FFFF.
    let wire = [
        text_frame(false, b"a\xF4"),
        client_frame(false, 0, 0x0, b"\x90\x80\x80"),
    ]
    .concat();
    check(&wire, ProtocolError::InvalidUtf8);
    // A character cut off by the end of the message.
    check(&text_frame(true, b"a\xE2\x82"), ProtocolError::InvalidUtf8);
}

#[test]
fn invalid_utf8_fails_mid_frame_before_the_frame_ends() {
    let mut server = Connection::server(Limits::DEFAULT);
    let frame = text_frame(
        true,
        &[b"valid prefix \xC0\xAF".as_slice(), &[b'x'; 100]].concat(),
    );
    // Feed only up to the bad bytes: the frame is far from complete.
    let cut = 2 + 4 + 15;
    assert_eq!(
        server.receive_data(&frame[..cut]),
        Err(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn valid_utf8_split_across_fragments_is_accepted() {
    let euro = "€".as_bytes();
    let wire = [
        text_frame(false, &euro[..1]),
        client_frame(false, 0, 0x0, &euro[1..2]),
        client_frame(true, 0, 0x0, &euro[2..]),
    ]
    .concat();
    let mut server = Connection::server(Limits::DEFAULT);
    let (events, _, error) = feed_split(&mut server, &wire, &[]);
    assert_eq!(error, None);
    assert!(matches!(&events[..], [Event::Message(m)] if m.as_bytes() == euro));
}

#[test]
fn rejects_oversized_frame_from_its_header() {
    let limits = Limits {
        max_frame_size: 100,
        ..Limits::DEFAULT
    };
    // Only the header is sent: the decision needs no payload.
    let header = &client_frame(true, 0, 0x2, &[0; 101])[..8];
    assert_server_fails(
        header,
        limits,
        ProtocolError::FrameTooLarge { len: 101, max: 100 },
    );
}

#[test]
fn rejects_oversized_message_from_the_frame_that_would_pass_the_limit() {
    let limits = Limits {
        max_message_size: 100,
        ..Limits::DEFAULT
    };
    let wire = [
        client_frame(false, 0, 0x2, &[0; 60]),
        client_frame(false, 0, 0x0, &[0; 41])[..8].to_vec(),
    ]
    .concat();
    assert_server_fails(&wire, limits, ProtocolError::MessageTooLarge { max: 100 });
}

#[test]
fn huge_declared_length_reserves_nothing() {
    // 2^62 bytes declared under a limit that would allow it: nothing is reserved up front.
    let limits = Limits {
        max_frame_size: u64::MAX,
        max_message_size: u64::MAX,
        ..Limits::DEFAULT
    };
    let mut server = Connection::server(limits);
    let wire = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9];
    assert_eq!(server.receive_data(&wire), Ok(wire.len()));
    assert!(drain_events(&mut server).is_empty());
    server.receive_eof();
    assert!(
        matches!(&drain_events(&mut server)[..], [Event::Closed(i)] if i.code == CloseCode::ABNORMAL)
    );
}

#[test]
fn rejects_too_many_fragments_counting_empty_ones() {
    let limits = Limits {
        max_fragments: 10,
        ..Limits::DEFAULT
    };
    let mut wire = text_frame(false, b"");
    for _ in 0..10 {
        wire.extend(client_frame(false, 0, 0x0, b""));
    }
    assert_server_fails(&wire, limits, ProtocolError::TooManyFragments { max: 10 });
}

#[test]
fn rejects_bad_close_payloads() {
    check(
        &client_frame(true, 0, 0x8, b"\x03"),
        ProtocolError::CloseFrameTooShort,
    );
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        check(
            &client_frame(true, 0, 0x8, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode(code),
        );
    }
    check(
        &client_frame(true, 0, 0x8, b"\x03\xe8\xff\xfe"),
        ProtocolError::InvalidCloseReason,
    );
}

#[test]
fn messages_before_the_error_are_still_delivered() {
    let wire = [text_frame(true, b"first"), client_frame(true, 0, 0x3, b"")].concat();
    let mut server = Connection::server(Limits::DEFAULT);
    let (events, _, error) = feed_split(&mut server, &wire, &[]);
    assert_eq!(error, Some(ProtocolError::ReservedOpcode(3)));
    assert!(
        matches!(&events[..], [Event::Message(m), Event::Closed(_)] if m.as_bytes() == b"first")
    );
}

#[test]
fn answers_to_messages_before_a_failure_go_out_before_the_close() {
    let mut server = Connection::server(Limits::DEFAULT);
    assert_eq!(
        server.receive_data(
            &[
                text_frame(true, b"echo me"),
                client_frame(true, 0, 0x3, b"")
            ]
            .concat()
        ),
        Err(ProtocolError::ReservedOpcode(3))
    );
    // The application echoes each message as it polls it.
    while let Some(event) = server.poll_event() {
        if let Event::Message(m) = event {
            server.send_binary(m.as_bytes()).unwrap();
        }
    }
    let out = drain_output(&mut server);
    assert_eq!(&out[..9], b"\x82\x07echo me");
    assert_eq!(close_code_on_wire(&out[9..]), CloseCode::PROTOCOL_ERROR);
    assert_eq!(
        server.send_text("now refused"),
        Err(switchyard_core::connection::SendError::Closed)
    );
}

#[test]
fn answers_to_messages_before_the_peers_close_go_out_before_the_echo() {
    let close = client_frame(true, 0, 0x8, b"\x03\xe8");
    let mut server = Connection::server(Limits::DEFAULT);
    server
        .receive_data(&[text_frame(true, b"hi"), close].concat())
        .unwrap();
    while let Some(event) = server.poll_event() {
        if let Event::Message(m) = event {
            server
                .send_text(std::str::from_utf8(m.as_bytes()).unwrap())
                .unwrap();
        }
    }
    let out = drain_output(&mut server);
    assert_eq!(out, b"\x81\x02hi\x88\x02\x03\xe8");
}
