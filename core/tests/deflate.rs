//! permessage-deflate (RFC 7692) through the connection: the §7.2.3 examples both ways,
//! split at every byte; the close codes for each violation; takeover, no takeover, BFINAL,
//! empty messages, idle release; and negotiation tables for both roles.

mod common;

use common::*;
use std::time::Duration;
use switchyard_core::Limits;
use switchyard_core::ProtocolError;
use switchyard_core::connection::{Connection, DataKind, Event, Instant, Message, Role};
use switchyard_core::deflate::{
    DeflateAgreement, DeflateAnswerError, DeflateCodec, DeflateConfig, ParamError,
    PerMessageDeflate,
};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::handshake::{ClientHandshakeError, ExtensionOffers};

const TAKEOVER: DeflateAgreement = DeflateAgreement {
    server_no_context_takeover: false,
    client_no_context_takeover: false,
    server_max_window_bits: 15,
    client_max_window_bits: 15,
};

fn config() -> DeflateConfig {
    DeflateConfig::CLIENT.with_threshold(0)
}

/// A client that receives what a server sends, unmasked.
fn receiving_client(agreed: DeflateAgreement) -> Connection {
    client(Limits::DEFAULT).with_extension(DeflateCodec::new(Role::Client, &agreed, &config()))
}

fn server_with(agreed: DeflateAgreement, config: DeflateConfig, limits: Limits) -> Connection {
    Connection::server(limits).with_extension(DeflateCodec::new(Role::Server, &agreed, &config))
}

fn hex(s: &str) -> Vec<u8> {
    s.split_whitespace()
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect()
}

/// A masked frame, as a client sends it.
fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [9, 8, 7, 6];
    let mut wire = vec![first, 0x80 | payload.len() as u8];
    wire.extend_from_slice(&key);
    let start = wire.len();
    wire.extend_from_slice(payload);
    apply_mask(&mut wire[start..], key, 0);
    wire
}

fn text(s: &str) -> Event {
    Event::Message(Message::Text(s.into()))
}

/// Feeds `wire` to a fresh connection made by `make`, whole and cut at every byte; every
/// way must give the same events and no error. Returns them.
fn same_however_split(make: impl Fn() -> Connection, wire: &[u8]) -> Vec<Event> {
    let (whole, _, error) = feed_split(&mut make(), wire, &[]);
    assert_eq!(error, None);
    for cut in 1..wire.len() {
        let (split, _, error) = feed_split(&mut make(), wire, &[cut]);
        assert_eq!(error, None, "cut at {cut}");
        assert_eq!(split, whole, "cut at {cut}");
        let (reads, _, error) = feed_split_reads(&mut make(), wire, &[cut]);
        assert_eq!(error, None, "reads of {cut}");
        assert_eq!(reads, whole, "reads of {cut}");
    }
    whole
}

#[test]
fn rfc_7692_section_7_2_3_examples_decode_however_split() {
    let client = || receiving_client(TAKEOVER);
    // 7.2.3.1: one "Hello", whole and in two fragments (RSV1 on the first only).
    for wire in [
        hex("c1 07 f2 48 cd c9 c9 07 00"),
        hex("41 03 f2 48 cd 80 04 c9 c9 07 00"),
        // 7.2.3.3: a stored block; 7.2.3.4: a final block and its padding.
        hex("c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"),
        hex("c1 08 f3 48 cd c9 c9 07 00 00"),
        // 7.2.3.5: two deflate blocks in one message.
        hex("c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"),
    ] {
        assert_eq!(
            same_however_split(client, &wire),
            [text("Hello")],
            "{wire:02x?}"
        );
    }
    // 7.2.3.2: the second "Hello" refers back into the first (context takeover).
    let two = hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00");
    assert_eq!(
        same_however_split(client, &two),
        [text("Hello"), text("Hello")]
    );
    // 7.2.3.6: an empty message, compressed, is one 0x00 byte; an empty payload with RSV1
    // is accepted too.
    for wire in [hex("c1 01 00"), hex("c1 00")] {
        assert_eq!(same_however_split(client, &wire), [text("")]);
    }
}

#[test]
fn rfc_7692_hello_twice_encodes_to_the_rfc_bytes() {
    let mut server = server_with(TAKEOVER, config(), Limits::DEFAULT);
    server.send_text("Hello").unwrap();
    server.send_text("Hello").unwrap();
    assert_eq!(
        drain_output(&mut server),
        hex("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00")
    );
}

#[test]
fn a_final_block_under_takeover_keeps_the_window() {
    // 7.2.3.4's BFINAL "Hello", then 7.2.3.2's "Hello" that refers back into it.
    let wire = hex("c1 08 f3 48 cd c9 c9 07 00 00 c1 05 f2 00 11 00 00");
    assert_eq!(
        same_however_split(|| receiving_client(TAKEOVER), &wire),
        [text("Hello"), text("Hello")]
    );
}

fn closes_with(wire: &[u8], agreed: Option<DeflateAgreement>, limits: Limits) -> ProtocolError {
    let mut server = Connection::server(limits);
    if let Some(agreed) = agreed {
        server = server.with_extension(DeflateCodec::new(Role::Server, &agreed, &config()));
    }
    let (_, _, error) = feed_split(&mut server, wire, &[]);
    error.expect("the connection fails")
}

#[test]
fn each_violation_closes_with_its_code() {
    let hello = hex("f2 48 cd c9 c9 07 00");
    let on = Some(TAKEOVER);
    // RFC 7692 §6: RSV1 marks a message by its first frame only; on a continuation or a
    // control frame it is a protocol error (1002).
    let cont = [masked(0x41, &hello[..3]), masked(0xc0, &hello[3..])].concat();
    let ping = masked(0xc9, b"");
    for wire in [&cont, &ping] {
        let error = closes_with(wire, on, Limits::DEFAULT);
        assert!(
            matches!(error, ProtocolError::ReservedBitsSet(_)),
            "{error}"
        );
        assert_eq!(error.close_code().as_u16(), 1002);
    }
    // RFC 6455 §5.2: RSV1 without the extension negotiated is 1002 too.
    let error = closes_with(&masked(0xc1, &hello), None, Limits::DEFAULT);
    assert_eq!(error.close_code().as_u16(), 1002);
    // Corrupt compressed data: 1007 (as Node's ws).
    let error = closes_with(
        &masked(0xc1, &[0xff, 0xff, 0xff, 0x00]),
        on,
        Limits::DEFAULT,
    );
    assert_eq!(error, ProtocolError::InvalidExtensionData);
    assert_eq!(error.close_code().as_u16(), 1007);
    // Inflated text that is not UTF-8: 1007, found on the inflated bytes.
    let mut sender = server_with(TAKEOVER, config(), Limits::DEFAULT);
    sender.send_binary(&[0xff; 64]).unwrap();
    let mut wire = drain_output(&mut sender);
    wire[0] = 0xc1; // the same compressed payload, as text
    let error = feed_split(&mut receiving_client(TAKEOVER), &wire, &[]).2;
    assert_eq!(error, Some(ProtocolError::InvalidUtf8));
    // The inflated size counts against the message limit: 1009.
    let mut sender = server_with(TAKEOVER, config(), Limits::DEFAULT);
    sender.send_binary(&[0u8; 100_000]).unwrap();
    let bomb = drain_output(&mut sender);
    assert!(bomb.len() < 200, "{} bytes", bomb.len());
    let mut receiver = client(Limits::DEFAULT.with_max_message_size(50_000))
        .with_extension(DeflateCodec::new(Role::Client, &TAKEOVER, &config()));
    let error = feed_split(&mut receiver, &bomb, &[]).2.unwrap();
    assert_eq!(error, ProtocolError::MessageTooLarge { max: 50_000 });
    assert_eq!(error.close_code().as_u16(), 1009);
}

#[test]
fn messages_exactly_at_the_limit_pass_and_one_byte_more_fails() {
    for (size, ok) in [(50_000, true), (50_001, false)] {
        let mut sender = server_with(TAKEOVER, config(), Limits::DEFAULT);
        sender.send_binary(&vec![7u8; size]).unwrap();
        let wire = drain_output(&mut sender);
        let mut receiver = client(Limits::DEFAULT.with_max_message_size(50_000))
            .with_extension(DeflateCodec::new(Role::Client, &TAKEOVER, &config()));
        let (events, _, error) = feed_split(&mut receiver, &wire, &[]);
        assert_eq!(error.is_none(), ok, "{size}");
        if ok {
            assert_eq!(
                events,
                [Event::Message(Message::Binary(vec![7u8; size].into()))]
            );
        }
    }
}

/// Sends every message from a client to a server over `agreed`, the wire cut into reads of
/// `read` bytes, and returns what the server received.
fn round_trip(
    agreed: DeflateAgreement,
    config: DeflateConfig,
    messages: &[(bool, Vec<u8>)],
    read: usize,
) -> Vec<Event> {
    let mut sender =
        client(Limits::DEFAULT).with_extension(DeflateCodec::new(Role::Client, &agreed, &config));
    let mut receiver = server_with(agreed, config, Limits::DEFAULT);
    let mut events = vec![];
    for (compress, payload) in messages {
        if *compress {
            sender.send_binary(payload).unwrap();
        } else {
            sender.send_unencoded(DataKind::Binary, payload).unwrap();
        }
        let wire = drain_output(&mut sender);
        let (got, _, error) = feed_split_reads(&mut receiver, &wire, &[read]);
        assert_eq!(error, None);
        events.extend(got);
    }
    events
}

fn corpus() -> Vec<(bool, Vec<u8>)> {
    let json = |i: usize| {
        format!(r#"{{"id":{i},"user":"user{}","text":"message number {i} in the room","tags":["a","b"]}}"#, i % 7)
            .into_bytes()
    };
    let mut messages: Vec<(bool, Vec<u8>)> = (0..40).map(|i| (i % 5 != 3, json(i))).collect();
    messages.push((true, Vec::new()));
    messages.push((true, (0..70_000u32).map(|i| (i % 251) as u8).collect()));
    messages.push((false, json(99)));
    messages.push((true, json(100).repeat(50)));
    // Incompressible: the output outgrows the first guess of its size, so it is compressed
    // in more than one round.
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let noise = (0..50_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    messages.push((true, noise));
    messages
}

#[test]
fn every_agreement_round_trips_with_uncompressed_messages_between() {
    let messages = corpus();
    let expected: Vec<Event> = messages
        .iter()
        .map(|(_, p)| Event::Message(Message::Binary(p.clone().into())))
        .collect();
    for bits in [8, 9, 12, 15] {
        for reset in [false, true] {
            let agreed = DeflateAgreement {
                server_no_context_takeover: reset,
                client_no_context_takeover: reset,
                server_max_window_bits: bits,
                client_max_window_bits: bits,
            };
            for level in [1, 6, 9] {
                let config = DeflateConfig::CLIENT.with_level(level).with_threshold(0);
                for read in [7, 1000, 1 << 20] {
                    let got = round_trip(agreed, config, &messages, read);
                    assert!(
                        got == expected,
                        "bits {bits} reset {reset} level {level} read {read}"
                    );
                }
            }
        }
    }
}

#[test]
fn fragments_are_compressed_as_one_message() {
    let mut sender = server_with(TAKEOVER, config(), Limits::DEFAULT);
    let parts = ["{\"a\":", "", "\"hello hello hello hello\"", "}"];
    for (i, part) in parts.iter().enumerate() {
        sender
            .send_fragment(DataKind::Text, part.as_bytes(), i == parts.len() - 1)
            .unwrap();
    }
    sender.send_fragment(DataKind::Text, b"{}", false).unwrap();
    sender.send_fragment(DataKind::Text, b"", true).unwrap();
    let wire = drain_output(&mut sender);
    assert_eq!(wire[0], 0x41, "RSV1 on the first frame");
    let events = same_however_split(|| receiving_client(TAKEOVER), &wire);
    assert_eq!(events, [text(&parts.concat()), text("{}")]);
}

#[test]
fn threshold_and_opt_out_send_as_is() {
    let config = DeflateConfig::CLIENT.with_threshold(100);
    let mut server = server_with(TAKEOVER, config, Limits::DEFAULT);
    server.send_text("short").unwrap();
    server.send_text("").unwrap();
    server
        .send_unencoded(DataKind::Text, "x".repeat(200).as_bytes())
        .unwrap();
    assert_eq!(
        server.send_unencoded(DataKind::Text, &[0xff]),
        Err(switchyard_core::connection::SendError::InvalidUtf8)
    );
    let wire = drain_output(&mut server);
    assert_eq!(&wire[..7], b"\x81\x05short");
    assert_eq!(&wire[7..9], b"\x81\x00");
    assert_eq!(&wire[9..11], b"\x81\x7e");
    // Without takeover, a message that does not shrink goes as it is.
    let reset = DeflateAgreement {
        server_no_context_takeover: true,
        ..TAKEOVER
    };
    let mut server = server_with(
        reset,
        DeflateConfig::CLIENT.with_threshold(0),
        Limits::DEFAULT,
    );
    let mut state = 0x2545_f491_u32;
    let noise: Vec<u8> = (0..300)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state as u8
        })
        .collect();
    server.send_binary(&noise).unwrap();
    let wire = drain_output(&mut server);
    assert_eq!(wire[0], 0x82, "no RSV1");
    assert_eq!(&wire[4..], &noise[..]);
}

#[test]
fn idle_connections_release_their_engines_and_keep_their_windows() {
    let mut config = config();
    config.release_after = Duration::from_secs(1);
    let agreed = DeflateAgreement {
        server_max_window_bits: 12,
        client_max_window_bits: 12,
        ..TAKEOVER
    };
    // No keepalive: the only deadline left is the release.
    let mut limits = Limits::DEFAULT;
    limits.keepalive_interval = None;
    let mut sender =
        client(limits).with_extension(DeflateCodec::new(Role::Client, &agreed, &config));
    let mut receiver = server_with(agreed, config, limits);
    let at = |s: u64| Instant::from_origin(Duration::from_secs(s));
    sender.handle_timeout(at(0));
    receiver.handle_timeout(at(0));
    let messages = corpus();
    for (i, (_, payload)) in messages.iter().enumerate() {
        sender.send_binary(payload).unwrap();
        let wire = drain_output(&mut sender);
        let (events, _, error) = feed_split(&mut receiver, &wire, &[]);
        assert_eq!(error, None, "message {i}");
        assert_eq!(
            events,
            [Event::Message(Message::Binary(payload.clone().into()))]
        );
        // Every other message, both ends go idle past the release time.
        let now = at(2 * i as u64 + 10);
        sender.handle_timeout(now);
        receiver.handle_timeout(now);
        if i % 2 == 0 && !payload.is_empty() {
            for end in [&mut sender, &mut receiver] {
                assert_eq!(
                    end.poll_timeout(),
                    Some(at(2 * i as u64 + 11)),
                    "release due"
                );
                end.handle_timeout(at(2 * i as u64 + 11));
                assert_eq!(
                    end.poll_timeout(),
                    None,
                    "released: nothing more to wait for"
                );
            }
        }
    }
}

/// A pause inside a compressed message longer than the release time does not release the
/// decoder: its state (a position inside a block, the message so far) cannot be rebuilt from
/// the window. RFC 7692 §7.2.3.1's "Hello", cut inside its one frame, then as two fragments.
#[test]
fn a_pause_inside_a_compressed_message_keeps_its_decoder() {
    let at = |s: u64| Instant::from_origin(Duration::from_secs(s));
    for (first, rest) in [
        ("c1 07 f2 48 cd", "c9 c9 07 00"),
        ("41 03 f2 48 cd", "80 04 c9 c9 07 00"),
    ] {
        let mut c = receiving_client(TAKEOVER);
        c.handle_timeout(at(0));
        assert_eq!(c.receive_data(&hex(first)), Ok(hex(first).len()));
        // Only keepalive is due (20 s), no release.
        assert!(c.poll_timeout().is_some_and(|t| t >= at(20)), "{first}");
        c.handle_timeout(at(1));
        c.handle_timeout(at(3));
        assert_eq!(c.receive_data(&hex(rest)), Ok(hex(rest).len()), "{first}");
        assert_eq!(drain_events(&mut c), [text("Hello")], "{first}");
        // The message over, the release is due again.
        assert!(c.poll_timeout().is_some_and(|t| t <= at(5)), "{first}");
    }
}

// ---- Negotiation tables (RFC 7692 §7) ----

fn server_answer(config: DeflateConfig, offer: &str) -> Option<(String, DeflateAgreement)> {
    let mut negotiator = PerMessageDeflate::new(config);
    let answer = negotiator
        .accept_offers(ExtensionOffers::parse(offer))?
        .to_owned();
    Some((answer, negotiator.agreed().unwrap()))
}

#[test]
fn a_server_answers_each_offer_as_section_7_says() {
    let full = DeflateConfig::SERVER.with_window_bits(15);
    let lean = DeflateConfig::SERVER; // 12-bit windows
    let agreed = |snct, cnct, s, c| DeflateAgreement {
        server_no_context_takeover: snct,
        client_no_context_takeover: cnct,
        server_max_window_bits: s,
        client_max_window_bits: c,
    };
    for (config, offer, answer, agreement) in [
        // Chrome, Node ws, Python websockets.
        (
            full,
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate",
            agreed(false, false, 15, 15),
        ),
        (
            lean,
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=12",
            agreed(false, false, 12, 12),
        ),
        // Firefox offers nothing about the client's window: it cannot be held to 12 bits,
        // so it must reset after each message instead.
        (
            lean,
            "permessage-deflate",
            "permessage-deflate; client_no_context_takeover; server_max_window_bits=12",
            agreed(false, true, 12, 15),
        ),
        (
            full,
            "permessage-deflate",
            "permessage-deflate",
            agreed(false, false, 15, 15),
        ),
        // Echoed, same or smaller.
        (
            full,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10",
            agreed(true, false, 10, 15),
        ),
        (
            lean,
            "permessage-deflate; server_max_window_bits=14; client_max_window_bits=9",
            "permessage-deflate; server_max_window_bits=12; client_max_window_bits=9",
            agreed(false, false, 12, 9),
        ),
        // A window of 8 is accepted and echoed (we compress with 9, which fits in it).
        (
            full,
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=8",
            agreed(false, false, 8, 15),
        ),
        // The client's "I will reset" is echoed, and then no receive window is kept.
        (
            full,
            "permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
            agreed(false, true, 15, 15),
        ),
        // A bad offer is declined and the next one taken (Autobahn 13.7's order).
        (
            full,
            "permessage-deflate; x=1, permessage-deflate; server_max_window_bits=16, \
                permessage-deflate; client_no_context_takeover; client_no_context_takeover, \
                x-other, permessage-deflate; server_no_context_takeover",
            "permessage-deflate; server_no_context_takeover",
            agreed(true, false, 15, 15),
        ),
    ] {
        let (got, agreement_got) = server_answer(config, offer).expect(offer);
        assert_eq!(got, answer, "{offer}");
        assert_eq!(agreement_got, agreement, "{offer}");
    }
    // Nothing acceptable: no extension, and no error.
    for offer in [
        "",
        "x-webkit-deflate-frame",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=09",
        "permessage-deflate; a b",
    ] {
        assert_eq!(server_answer(full, offer), None, "{offer}");
    }
    // A server that imposes no takeover on itself says so unasked.
    let (answer, _) = server_answer(
        full.with_no_context_takeover(true),
        "permessage-deflate; client_max_window_bits",
    )
    .unwrap();
    assert_eq!(
        answer,
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    );
}

fn client_verify(
    config: DeflateConfig,
    answer: &str,
) -> Result<Option<DeflateAgreement>, ClientHandshakeError> {
    PerMessageDeflate::new(config).verify_answer(ExtensionOffers::parse(answer))
}

#[test]
fn a_client_offers_exactly_one_element_and_checks_the_answer() {
    use switchyard_core::handshake::ExtensionNegotiator;
    assert_eq!(
        PerMessageDeflate::new(DeflateConfig::CLIENT).offer(),
        Some("permessage-deflate; client_max_window_bits")
    );
    let limited = DeflateConfig::CLIENT
        .with_window_bits(10)
        .with_no_context_takeover(true);
    assert_eq!(
        PerMessageDeflate::new(limited).offer(),
        Some(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=10"
        )
    );
    let ok = |answer: &str| client_verify(DeflateConfig::CLIENT, answer).expect(answer);
    assert_eq!(ok(""), None);
    assert_eq!(ok("permessage-deflate"), Some(TAKEOVER));
    assert_eq!(
        ok(
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=9; client_max_window_bits=9"
        ),
        Some(DeflateAgreement {
            server_no_context_takeover: true,
            client_no_context_takeover: true,
            server_max_window_bits: 9,
            client_max_window_bits: 9
        })
    );
    let bad = |config, answer: &str| client_verify(config, answer).expect_err(answer);
    use DeflateAnswerError::*;
    let cases = [
        (
            DeflateConfig::CLIENT,
            "permessage-deflate; x_unknown",
            DeflateAnswer(Param(ParamError::Unknown)),
        ),
        (
            DeflateConfig::CLIENT,
            "permessage-deflate; client_max_window_bits=9; client_max_window_bits=9",
            DeflateAnswer(Param(ParamError::Duplicate)),
        ),
        (
            DeflateConfig::CLIENT,
            "permessage-deflate; client_max_window_bits",
            DeflateAnswer(WindowWithoutValue),
        ),
        (
            DeflateConfig::CLIENT,
            "permessage-deflate, permessage-deflate",
            DeflateAnswer(Repeated),
        ),
        (
            limited,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",
            DeflateAnswer(AboveOffer("server_max_window_bits")),
        ),
        (
            limited,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=11",
            DeflateAnswer(AboveOffer("client_max_window_bits")),
        ),
        (
            limited,
            "permessage-deflate; server_max_window_bits=10",
            DeflateAnswer(Missing("server_no_context_takeover")),
        ),
        (
            limited,
            "permessage-deflate; server_no_context_takeover",
            DeflateAnswer(Missing("server_max_window_bits")),
        ),
        (
            DeflateConfig::CLIENT,
            "x-other",
            ClientHandshakeError::UnofferedExtension,
        ),
    ];
    use ClientHandshakeError::DeflateAnswer;
    for (config, answer, error) in cases {
        assert_eq!(bad(config, answer), error, "{answer}");
    }
}
