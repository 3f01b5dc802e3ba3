//! The extension stage (RFC 6455 §9) with a toy extension that behaves like
//! permessage-deflate where it matters: it claims RSV1, marks a message by its first frame,
//! may produce more output than input, and can meet corrupt data.

mod common;

use bytes::BytesMut;
use common::*;
use switchyard_core::connection::{Connection, Event, Message};
use switchyard_core::extension::{Extension, ExtensionError};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::{FrameHeader, Limits, ProtocolError};

const RSV1: u8 = 0b100;

/// Run-length coding: (count, byte) pairs, count 1..=255. A pair may be split across pieces.
#[derive(Default)]
struct Runs {
    /// A count whose byte has not arrived yet.
    pending: Option<u8>,
}

impl Extension for Runs {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn decode(
        &mut self,
        rsv: u8,
        piece: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError> {
        assert_eq!(rsv, RSV1, "only its own messages reach it");
        for &b in piece {
            match self.pending.take() {
                None if b == 0 => return Err(ExtensionError::InvalidData),
                None => self.pending = Some(b),
                Some(count) => {
                    if out.len() + usize::from(count) > limit {
                        return Err(ExtensionError::TooLarge);
                    }
                    out.extend(std::iter::repeat_n(b, usize::from(count)));
                }
            }
        }
        if fin && self.pending.is_some() {
            return Err(ExtensionError::InvalidData);
        }
        Ok(())
    }

    fn encode(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<u8, ExtensionError> {
        for run in payload.chunk_by(|a, b| a == b) {
            for part in run.chunks(255) {
                out.extend_from_slice(&[part.len() as u8, part[0]]);
            }
        }
        Ok(RSV1)
    }
}

/// A masked frame: `first` is the FIN/RSV/opcode byte.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut wire = vec![first, 0x80 | payload.len() as u8];
    wire.extend_from_slice(&key);
    let start = wire.len();
    wire.extend_from_slice(payload);
    apply_mask(&mut wire[start..], key, 0);
    wire
}

fn server(limits: Limits) -> Connection {
    Connection::server(limits).with_extension(Runs::default())
}

fn failure(wire: &[u8], limits: Limits) -> Option<ProtocolError> {
    feed_split(&mut server(limits), wire, &[]).2
}

#[test]
fn messages_go_through_the_extension_both_ways() {
    let mut client = client(Limits::DEFAULT).with_extension(Runs::default());
    let text = "a".repeat(1000) + "bbb";
    client.send_text(&text).unwrap();
    let wire = drain_output(&mut client);
    let (header, _) = FrameHeader::decode(&wire).unwrap().complete().unwrap();
    assert_eq!(header.rsv, RSV1, "the extension marks the frame");
    assert!(wire.len() < 30, "sent encoded: {} bytes", wire.len());
    let (events, _, error) = feed_split(&mut server(Limits::DEFAULT), &wire, &[]);
    assert_eq!(error, None);
    assert_eq!(events, vec![Event::Message(Message::Text(text.into()))]);
}

#[test]
fn an_extension_message_gives_the_same_events_however_split() {
    // Two fragments, the second a continuation without RSV bits (RFC 7692 §6.1).
    let wire = [frame(0x40 | 0x1, &[3, b'x', 200]), frame(0x80, b"y")].concat();
    let (whole, _, error) = feed_split(&mut server(Limits::DEFAULT), &wire, &[]);
    assert_eq!(error, None);
    let expected = "xxx".to_string() + &"y".repeat(200);
    assert_eq!(whole, vec![Event::Message(Message::Text(expected.into()))]);
    for cut in 0..wire.len() {
        let split = feed_split(&mut server(Limits::DEFAULT), &wire, &[cut]);
        assert_eq!(split.0, whole, "cut at {cut}");
    }
}

#[test]
fn decoded_size_is_bounded_by_the_message_limit_while_decoding() {
    let limits = Limits::DEFAULT.with_max_message_size(1000);
    // Twelve raw bytes that would decode to 1530.
    let bomb = frame(0xC2, &[255, 0, 255, 0, 255, 0, 255, 0, 255, 0, 255, 0]);
    assert_eq!(
        failure(&bomb, limits),
        Some(ProtocolError::MessageTooLarge { max: 1000 })
    );
    assert_eq!(
        ProtocolError::MessageTooLarge { max: 1000 }.close_code(),
        switchyard_core::CloseCode::TOO_BIG
    );
}

#[test]
fn corrupt_extension_data_fails_with_1007() {
    let error = failure(&frame(0xC2, &[0, b'x']), Limits::DEFAULT).unwrap();
    assert_eq!(error, ProtocolError::InvalidExtensionData);
    assert_eq!(
        error.close_code(),
        switchyard_core::CloseCode::INVALID_PAYLOAD
    );
    // A pair cut off by the end of the message is corrupt too.
    assert_eq!(
        failure(&frame(0xC2, &[3]), Limits::DEFAULT),
        Some(ProtocolError::InvalidExtensionData)
    );
}

#[test]
fn text_is_validated_after_the_stage() {
    // Raw bytes that are not UTF-8 (200 = 0xC8) decoding to valid text are accepted...
    let (events, _, error) = feed_split(
        &mut server(Limits::DEFAULT),
        &frame(0xC1, &[200, b'a']),
        &[],
    );
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![Event::Message(Message::Text("a".repeat(200).into()))]
    );
    // ...and valid raw bytes decoding to invalid text fail with 1007.
    assert_eq!(
        failure(&frame(0xC1, &[1, 0xFF]), Limits::DEFAULT),
        Some(ProtocolError::InvalidUtf8)
    );
}

#[test]
fn rsv_bits_the_extension_does_not_claim_fail_with_1002() {
    // RSV2 is not the extension's.
    assert_eq!(
        failure(&frame(0xA2, b"x"), Limits::DEFAULT),
        Some(ProtocolError::ReservedBitsSet(0b010))
    );
    // The extension's bit on a continuation or a control frame.
    let continuation = [frame(0x02, b"x"), frame(0xC0, b"y")].concat();
    assert_eq!(
        failure(&continuation, Limits::DEFAULT),
        Some(ProtocolError::ReservedBitsSet(RSV1))
    );
    assert_eq!(
        failure(&frame(0xC9, b""), Limits::DEFAULT),
        Some(ProtocolError::ReservedBitsSet(RSV1))
    );
    // And RSV1 without the extension.
    let (_, _, error) = feed_split(
        &mut Connection::server(Limits::DEFAULT),
        &frame(0xC2, &[1, 1]),
        &[],
    );
    assert_eq!(error, Some(ProtocolError::ReservedBitsSet(RSV1)));
}

#[test]
fn messages_without_the_extensions_bits_take_the_identity_path() {
    let (events, _, error) =
        feed_split(&mut server(Limits::DEFAULT), &frame(0x82, &[0, 0, 7]), &[]);
    assert_eq!(error, None);
    assert_eq!(
        events,
        vec![Event::Message(Message::Binary(vec![0, 0, 7].into()))]
    );
}

/// Marks each piece of a fragmented message with a `#`, and returns its bits for the first
/// piece only: what a later piece returns does not matter (the first decides for the whole
/// message, §5.2), and its output is what goes out.
struct Tags;

impl Extension for Tags {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn decode(
        &mut self,
        _rsv: u8,
        piece: &[u8],
        _fin: bool,
        out: &mut BytesMut,
        _limit: usize,
    ) -> Result<(), ExtensionError> {
        out.extend_from_slice(piece);
        Ok(())
    }

    fn encode(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<u8, ExtensionError> {
        out.extend_from_slice(payload);
        Ok(RSV1)
    }

    fn encode_fragment(
        &mut self,
        piece: &[u8],
        first: bool,
        _fin: bool,
        out: &mut BytesMut,
    ) -> Result<u8, ExtensionError> {
        out.extend_from_slice(b"#");
        out.extend_from_slice(piece);
        Ok(if first { RSV1 } else { 0 })
    }
}

#[test]
fn every_piece_of_an_encoded_message_goes_out_encoded() {
    use switchyard_core::connection::DataKind;
    let mut server = Connection::server(Limits::DEFAULT).with_extension(Tags);
    server
        .send_fragment(DataKind::Binary, b"ab", false)
        .unwrap();
    server.send_fragment(DataKind::Binary, b"cd", true).unwrap();
    let wire = drain_output(&mut server);
    let (first, len) = FrameHeader::decode(&wire).unwrap().complete().unwrap();
    assert_eq!(first.rsv, RSV1);
    assert_eq!(&wire[len..len + 3], b"#ab");
    let rest = &wire[len + 3..];
    let (second, len) = FrameHeader::decode(rest).unwrap().complete().unwrap();
    assert_eq!(second.rsv, 0, "the bits go on the first frame only");
    assert_eq!(
        &rest[len..],
        b"#cd",
        "the continuation is the extension's output"
    );
}
