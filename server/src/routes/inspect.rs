//! `/inspect`: the demo page's window into the protocol.
//!
//! The first message (text, JSON) is the handshake as the server saw and answered it:
//!
//! ```json
//! {"type": "handshake", "request": "GET /inspect HTTP/1.1\r\n...\r\n\r\n",
//!  "response": "HTTP/1.1 101 Switching Protocols\r\n...\r\n\r\n",
//!  "key": "<Sec-WebSocket-Key>", "accept": "<Sec-WebSocket-Accept>"}
//! ```
//!
//! `request` is the head exactly as received, `response` exactly as written to the socket
//! (both as text; bytes that are not UTF-8 would show as U+FFFD). `http_version` is
//! `HTTP/1.1`, or `HTTP/2` for a WebSocket over HTTP/2 (RFC 8441): then `request` lists the
//! pseudo-header and header fields as decoded (HPACK leaves no raw head to show), `response`
//! the answer's `:status: 200`, and `key` and `accept` are empty, since RFC 8441 §4 has no
//! key and so no accept.
//!
//! Then one report per frame received, in order:
//!
//! ```json
//! {"type": "frame", "index": 0, "raw_hex": "8185...", "raw_length": 11, "truncated": false,
//!  "fin": true, "rsv": 0, "opcode": 1, "opcode_name": "text", "masked": true,
//!  "mask_key": "37fa213d", "header_length": 6, "payload_length": 5,
//!  "payload_hex": "48656c6c6f", "payload_text": "Hello", "dropped": 0}
//! ```
//!
//! `raw_hex` holds the frame's bytes as they came off the wire (header, then the payload still
//! masked), cut after [`RAW_LIMIT`] bytes (`truncated` then says so; `raw_length` is the whole
//! frame's length). `payload_hex` is the unmasked part of the payload that `raw_hex` holds;
//! `payload_text` is present for text frames (and `close_code`/`close_reason` for close
//! frames). Reports are sent as the connection delivers events, so the frames of a fragmented
//! message are reported when the message completes; at most [`MAX_PENDING`] wait, and
//! `dropped` counts those lost when more did.
//!
//! The frame boundaries come from the core's incremental [`FrameSplitter`] (the same header
//! codec the connection decodes with) and the unmasking from its [`apply_mask`]; this module
//! only keeps each frame's first bytes and queues the reports.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use switchyard::switchyard_core::frame::mask::apply_mask;
use switchyard::switchyard_core::frame::split::{FrameSplitter, Piece};
use switchyard::switchyard_core::{CloseFrame, FrameHeader, OpCode};
use switchyard::{CloseCode, CloseInfo, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::shutdown::Shutdown;
use crate::tap::{ByteTap, lock};

/// Raw bytes reported per frame, header included.
pub(crate) const RAW_LIMIT: usize = 4096;
/// Frame reports kept while waiting to be sent.
pub(crate) const MAX_PENDING: usize = 64;

/// What the handshake looked like, taken before the connection started.
pub(crate) struct Handshake {
    /// `HTTP/1.1` or `HTTP/2`.
    pub(crate) http_version: &'static str,
    pub(crate) request: Vec<u8>,
    /// The answer, when it was not written on the tapped stream (HTTP/2's HEADERS).
    pub(crate) response: Option<Vec<u8>>,
    pub(crate) key: String,
    pub(crate) accept: String,
    /// The tap on the connection's transport.
    pub(crate) tap: Arc<Mutex<Tap>>,
}

/// Sees every byte the connection reads and, until the handshake answer is taken, every byte
/// it writes.
#[derive(Default)]
pub(crate) struct Tap {
    /// The answer being written; `None` once taken.
    written: Option<Vec<u8>>,
    recording: bool,
    captures: Captures,
}

impl Tap {
    /// Starts recording writes (the 101 answer about to be written).
    pub(crate) fn record_writes(&mut self) {
        self.written = Some(Vec::new());
        self.recording = true;
    }

    /// The bytes written since [`record_writes`](Self::record_writes); stops recording.
    fn take_written(&mut self) -> Vec<u8> {
        self.recording = false;
        self.written.take().unwrap_or_default()
    }
}

impl ByteTap for Tap {
    fn on_write(&mut self, bytes: &[u8]) {
        if let (true, Some(written)) = (self.recording, &mut self.written) {
            written.extend_from_slice(bytes);
        }
    }

    fn on_read(&mut self, bytes: &[u8]) {
        self.captures.feed(bytes);
    }
}

/// One received frame, as much of it as is reported.
struct Captured {
    index: u64,
    header: FrameHeader,
    header_len: usize,
    /// Header and payload as received, up to [`RAW_LIMIT`] bytes.
    raw: Vec<u8>,
}

/// The received frames not reported yet.
#[derive(Default)]
struct Captures {
    splitter: FrameSplitter,
    /// The frame being received.
    current: Option<Captured>,
    done: VecDeque<Captured>,
    dropped: u64,
    next_index: u64,
}

impl Captures {
    fn feed(&mut self, mut data: &[u8]) {
        // After a protocol error the splitter reports nothing more: the connection is failing
        // and the stream has no frame boundaries left to show.
        while let Some(Ok(piece)) = self.splitter.next(&mut data) {
            match piece {
                Piece::Header(raw) => {
                    self.current = Some(Captured {
                        index: self.next_index,
                        header: *raw.header(),
                        header_len: raw.as_bytes().len(),
                        raw: raw.as_bytes().to_vec(),
                    });
                    self.next_index += 1;
                }
                Piece::Payload(bytes) => {
                    if let Some(frame) = &mut self.current {
                        let room = RAW_LIMIT.saturating_sub(frame.raw.len()).min(bytes.len());
                        frame.raw.extend_from_slice(&bytes[..room]);
                    }
                }
                Piece::End => {
                    if let Some(frame) = self.current.take() {
                        if self.done.len() == MAX_PENDING {
                            self.done.pop_front();
                            self.dropped += 1;
                        }
                        self.done.push_back(frame);
                    }
                }
            }
        }
    }
}

pub(crate) async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
    handshake: Handshake,
    mut shutdown: Shutdown,
) -> Option<CloseInfo> {
    let written = lock(&handshake.tap).take_written();
    let response = handshake.response.as_ref().unwrap_or(&written);
    let report = json!({
        "type": "handshake",
        "http_version": handshake.http_version,
        "request": String::from_utf8_lossy(&handshake.request),
        "response": String::from_utf8_lossy(response),
        "key": handshake.key,
        "accept": handshake.accept,
    });
    let mut ok = ws
        .send(Message::Text(report.to_string().into()))
        .await
        .is_ok();
    loop {
        tokio::select! {
            biased;
            () = shutdown.wait() => {
                let _ = ws.close(CloseCode::GOING_AWAY, "server shutting down").await;
                let _ = ws.closed().await;
                break;
            }
            event = ws.recv_event() => match event {
                Some(Ok(_)) => {
                    while ok && let Some(report) = next_report(&handshake.tap) {
                        ok = ws.send(Message::Text(report.to_string().into())).await.is_ok();
                    }
                }
                Some(Err(_)) => {}
                None => break,
            },
        }
    }
    ws.close_info()
}

fn next_report(tap: &Mutex<Tap>) -> Option<Value> {
    let captures = &mut lock(tap).captures;
    let frame = captures.done.pop_front()?;
    Some(frame_report(&frame, captures.dropped))
}

fn frame_report(frame: &Captured, dropped: u64) -> Value {
    let header = &frame.header;
    let mut payload = frame.raw[frame.header_len..].to_vec();
    if let Some(key) = header.mask {
        apply_mask(&mut payload, key, 0);
    }
    let whole_len = frame.header_len as u64 + header.payload_len;
    let mut report = json!({
        "type": "frame",
        "index": frame.index,
        "raw_hex": hex(&frame.raw),
        "raw_length": whole_len,
        "truncated": (frame.raw.len() as u64) < whole_len,
        "fin": header.fin,
        "rsv": header.rsv,
        "opcode": header.opcode.as_u8(),
        "opcode_name": header.opcode.name(),
        "masked": header.mask.is_some(),
        "mask_key": header.mask.map(|key| hex(&key)),
        "header_length": frame.header_len,
        "payload_length": header.payload_len,
        "payload_hex": hex(&payload),
        "dropped": dropped,
    });
    if header.opcode == OpCode::TEXT {
        report["payload_text"] = String::from_utf8_lossy(&payload).into();
    }
    if header.opcode == OpCode::CLOSE
        && let Ok(close) = CloseFrame::parse(&payload)
    {
        report["close_code"] = close.code.as_u16().into();
        report["close_reason"] = close.reason.into();
    }
    report
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §5.7: a masked "Hello", then a 256-byte binary frame and a ping.
    fn stream() -> Vec<u8> {
        let mut bytes = vec![
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        bytes.extend_from_slice(&[0x82, 0xFE, 0x01, 0x00, 0, 0, 0, 0]);
        bytes.extend((0..=255u8).collect::<Vec<_>>());
        bytes.extend_from_slice(&[0x89, 0x80, 1, 2, 3, 4]);
        bytes
    }

    #[test]
    fn splits_frames_however_the_bytes_arrive() {
        let bytes = stream();
        for step in 1..bytes.len() {
            let mut captures = Captures::default();
            for chunk in bytes.chunks(step) {
                captures.feed(chunk);
            }
            let frames: Vec<_> = captures
                .done
                .iter()
                .map(|f| (f.header.opcode, f.raw.len()))
                .collect();
            assert_eq!(
                frames,
                [(OpCode::TEXT, 11), (OpCode::BINARY, 264), (OpCode::PING, 6)],
                "step {step}"
            );
        }
    }

    #[test]
    fn reports_the_rfc_example_decoded() {
        let mut captures = Captures::default();
        captures.feed(&stream()[..11]);
        let report = frame_report(&captures.done[0], 0);
        assert_eq!(report["raw_hex"], "818537fa213d7f9f4d5158");
        assert_eq!(report["mask_key"], "37fa213d");
        assert_eq!(report["payload_text"], "Hello");
        assert_eq!(report["payload_length"], 5);
        assert_eq!(report["truncated"], false);
    }

    #[test]
    fn cuts_long_frames_and_bounds_the_backlog() {
        let mut captures = Captures::default();
        let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9];
        frame.extend(std::iter::repeat_n(7u8, 65536));
        for _ in 0..MAX_PENDING + 3 {
            captures.feed(&frame);
        }
        assert_eq!(captures.done.len(), MAX_PENDING);
        assert_eq!(captures.dropped, 3);
        let report = frame_report(&captures.done[0], captures.dropped);
        assert_eq!(report["truncated"], true);
        assert_eq!(report["raw_length"], 65536 + 14);
        assert_eq!(captures.done[0].raw.len(), RAW_LIMIT);
    }
}
