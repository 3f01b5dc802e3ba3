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

/// What `send_message` queues for `message`, on a fresh connection made by `new`.
fn queued(new: &dyn Fn() -> Connection, message: &Message) -> Vec<u8> {
    let mut conn = new();
    conn.send_message(message.clone()).unwrap();
    drain_output(&mut conn)
}

/// A frame written at once, whatever part of it the transport takes, reaches the wire as the
/// very bytes the output queue would have carried: the rest is queued behind what was taken,
/// for both roles (a client's frame masked alike), at every size the stack path takes and
/// past it. A server's longer payload is handed over as it is, never copied.
#[test]
fn a_message_written_at_once_is_the_queued_frame_at_every_split() {
    let max = Connection::SEND_NOW_MAX;
    let by_reference = Connection::SEND_BY_REFERENCE_MIN;
    let server = || Connection::server(Limits::DEFAULT);
    let client = || client(Limits::DEFAULT);
    for (role, new) in [
        ("server", &server as &dyn Fn() -> Connection),
        ("client", &client),
    ] {
        let sizes = [
            0,
            1,
            16,
            125,
            126,
            max,
            max + 1,
            1024,
            by_reference - 1,
            by_reference,
            70_000,
        ];
        for len in sizes {
            let payload = Bytes::from((0..len).map(|i| i as u8).collect::<Vec<_>>());
            for message in [
                Message::Binary(payload.clone()),
                Message::Text(String::from_utf8(vec![b'a'; len]).unwrap().into()),
            ] {
                let expected = queued(new, &message);
                // Every split of the small frames; of the long ones, the first and last
                // bytes and a stride between.
                let takes: Vec<usize> = (0..=expected.len())
                    .filter(|&t| t < 40 || expected.len() - t < 40 || t % 997 == 0)
                    .collect();
                for take in takes {
                    let mut conn = new();
                    let mut wire = Vec::new();
                    let mut calls = 0;
                    conn.send_message_with(message.clone(), |head, body| {
                        calls += 1;
                        if len > max {
                            assert_eq!(body.as_ptr(), message.as_bytes().as_ptr(), "copied");
                            assert_eq!(body.len(), len);
                        } else {
                            assert!(body.is_empty());
                        }
                        let frame = [head, body].concat();
                        let n = take.min(frame.len());
                        wire.extend_from_slice(&frame[..n]);
                        n
                    })
                    .unwrap();
                    let at_once = len <= max || role == "server";
                    assert_eq!(calls, usize::from(at_once), "{role}, len {len}");
                    assert_eq!(conn.buffered_amount() == 0, wire.len() == expected.len());
                    wire.extend(drain_output(&mut conn));
                    assert_eq!(wire, expected, "{role}, len {len}, {take} taken");
                }
            }
        }
    }
}

/// Nothing overtakes what is already queued: with output waiting (a frame, or a pong owed to
/// the peer), the message joins the queue behind it and the writer is not called.
#[test]
fn a_message_goes_behind_queued_output_without_the_writer() {
    let mut server = Connection::server(Limits::DEFAULT);
    server.send_binary(b"first").unwrap();
    server
        .send_message_with(Message::Binary(Bytes::from_static(b"second")), |_, _| {
            panic!("output was waiting")
        })
        .unwrap();
    assert_eq!(
        drain_output(&mut server),
        copied(&[b"first", b"second"]),
        "in order"
    );

    // A ping answered (the pong queued) before the application's reply goes out first.
    let mut server = Connection::server(Limits::DEFAULT);
    let mut peer = client_with_mask(RFC_MASK);
    peer.send_ping(b"p").unwrap();
    let ping = drain_output(&mut peer);
    server.receive_data(&ping).unwrap();
    server
        .send_message_with(Message::Binary(Bytes::from_static(b"reply")), |_, _| {
            panic!("a pong was waiting")
        })
        .unwrap();
    let mut expected = b"\x8a\x01p".to_vec();
    expected.extend(copied(&[b"reply"]));
    assert_eq!(drain_output(&mut server), expected);
}

/// The checks of `send_message` hold on the way that writes at once: a message while a
/// fragmented one is open, or after closing began, is refused, and nothing is written.
#[test]
fn a_message_written_at_once_is_refused_where_send_message_is() {
    let never = |_: &[u8], _: &[u8]| -> usize { panic!("refused sends write nothing") };
    let message = || Message::Binary(Bytes::from_static(b"m"));
    let mut server = Connection::server(Limits::DEFAULT);
    server
        .send_fragment(
            switchyard_core::connection::DataKind::Binary,
            b"part",
            false,
        )
        .unwrap();
    drain_output(&mut server);
    assert_eq!(
        server.send_message_with(message(), never),
        Err(switchyard_core::connection::SendError::FragmentInProgress)
    );
    let mut server = Connection::server(Limits::DEFAULT);
    server.close(CloseCode::NORMAL, "bye").unwrap();
    drain_output(&mut server);
    assert_eq!(
        server.send_message_with(message(), never),
        Err(switchyard_core::connection::SendError::Closed)
    );
}

/// A client with no mask key for the frame writes nothing and aborts (fail closed, RFC 6455
/// §10.3), as `send_message` does.
#[test]
fn a_client_without_a_mask_key_writes_nothing() {
    struct OneKey(bool);
    impl switchyard_core::connection::MaskSource for OneKey {
        fn next_mask(&mut self) -> Option<[u8; 4]> {
            std::mem::take(&mut self.0).then_some([1, 2, 3, 4])
        }
    }
    let mut client = Connection::client(Limits::DEFAULT, OneKey(true));
    let mut wire = Vec::new();
    client
        .send_message_with(
            Message::Binary(Bytes::from_static(b"masked")),
            |frame, body| {
                assert!(body.is_empty());
                wire.extend_from_slice(frame);
                frame.len()
            },
        )
        .unwrap();
    assert_eq!(wire, b"\x82\x86\x01\x02\x03\x04\x6c\x63\x70\x6f\x64\x66");
    assert_eq!(
        client.send_message_with(Message::Binary(Bytes::from_static(b"no key")), |_, _| {
            panic!("no key, no frame")
        }),
        Err(switchyard_core::connection::SendError::MaskUnavailable)
    );
    assert_eq!(
        drain_actions(&mut client),
        vec![switchyard_core::connection::Action::Abort]
    );
}
