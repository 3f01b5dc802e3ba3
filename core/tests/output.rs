//! The output queue: payloads sent by reference, vectored transmits, and wire order.

mod common;

use bytes::Bytes;
use common::*;
use switchyard_core::connection::{Connection, Event, Message};
use switchyard_core::{CloseCode, Limits};

const BIG: usize = Connection::SEND_BY_REFERENCE_MIN;

/// The wire from sending `payloads` with `send_binary` (always copied).
fn copied(payloads: &[&[u8]]) -> Vec<u8> {
    let mut server = Connection::server(Limits::DEFAULT);
    for p in payloads {
        server.send_binary(p).unwrap();
    }
    drain_output(&mut server)
}

#[test]
fn a_large_payload_sent_by_value_goes_out_uncopied_and_in_order() {
    let big = Bytes::from(vec![9u8; BIG]);
    let mut server = Connection::server(Limits::DEFAULT);
    server.send_binary(b"before").unwrap();
    server.send_message(Message::Binary(big.clone())).unwrap();
    server.send_ping(b"p").unwrap();
    server.send_binary(b"after").unwrap();
    assert_eq!(server.buffered_amount(), 8 + 4 + BIG + 3 + 7);
    // The first piece is the copied frames before it; then its header, part by part.
    assert_eq!(server.poll_transmit(), b"\x82\x06before");
    server.consume_transmit(9);
    assert_eq!(server.poll_transmit(), b"\x7e\x10\x00");
    server.consume_transmit(3);
    // Then the payload itself: the very bytes the application gave.
    assert_eq!(server.poll_transmit().as_ptr(), big.as_ptr());
    let mut expected = copied(&[b"before", &big]);
    expected.extend_from_slice(b"\x89\x01p\x82\x05after");
    let rest = drain_output(&mut server);
    assert_eq!(rest, expected[12..]);
    assert_eq!(server.buffered_amount(), 0);
}

#[test]
fn small_payloads_and_client_payloads_are_copied() {
    let mut server = Connection::server(Limits::DEFAULT);
    server
        .send_message(Message::Binary(Bytes::from(vec![1u8; BIG - 1])))
        .unwrap();
    assert_eq!(
        server.poll_transmit().len(),
        server.buffered_amount(),
        "one piece"
    );
    let mut client = client(Limits::DEFAULT);
    client
        .send_message(Message::Binary(Bytes::from(vec![1u8; BIG])))
        .unwrap();
    assert_eq!(
        client.poll_transmit().len(),
        client.buffered_amount(),
        "masked: one piece"
    );
}

#[test]
fn a_vectored_transmit_gives_every_piece_in_order() {
    let big = Bytes::from(vec![5u8; BIG]);
    let mut server = Connection::server(Limits::DEFAULT);
    server.send_message(Message::Binary(big.clone())).unwrap();
    server.send_text("tail").unwrap();
    let mut slices: [&[u8]; 8] = [&[]; 8];
    let n = server.poll_transmit_vectored(&mut slices);
    assert_eq!(n, 3, "header, payload, then the copied frames after it");
    let joined: Vec<u8> = slices[..n].concat();
    let mut expected = copied(&[&big]);
    expected.extend_from_slice(b"\x81\x04tail");
    assert_eq!(joined, expected);
    // A partial vectored write: consuming crosses piece boundaries.
    server.consume_transmit(4 + BIG + 1);
    assert_eq!(server.poll_transmit(), b"\x04tail");
}

#[test]
fn an_echo_by_value_round_trips_through_a_pair() {
    let mut server = Connection::server(Limits::DEFAULT);
    let mut client = client(Limits::DEFAULT);
    let payload: Vec<u8> = (0..70_000u32).map(|i| i as u8).collect();
    client.send_binary(&payload).unwrap();
    let mut events = vec![];
    feed(&mut server, &drain_output(&mut client), &mut events).unwrap();
    events.extend(drain_events(&mut server));
    let [Event::Message(message)] = <[Event; 1]>::try_from(events).unwrap() else {
        panic!("one message")
    };
    server.send_message(message).unwrap();
    server.close(CloseCode::NORMAL, "").unwrap();
    let mut back = vec![];
    feed(&mut client, &drain_output(&mut server), &mut back).unwrap();
    back.extend(drain_events(&mut client));
    assert_eq!(back[0], Event::Message(Message::Binary(payload.into())));
    assert!(matches!(&back[1], Event::Closed(i) if i.code == CloseCode::NORMAL));
}

#[test]
fn an_abort_drops_pieces_sent_by_reference() {
    let mut server = Connection::server(Limits::DEFAULT);
    server
        .send_message(Message::Binary(Bytes::from(vec![0u8; BIG])))
        .unwrap();
    server.abort();
    let _ = drain_actions(&mut server);
    assert_eq!(server.buffered_amount(), 0);
    assert!(server.poll_transmit().is_empty());
}
