//! `/inspect`: the demo page's window into the protocol.
//!
//! The first message (text, JSON) is the handshake as the server saw and answered it:
//!
//! ```json
//! {"type": "handshake", "request": "GET /inspect HTTP/1.1\r\n...\r\n\r\n",
//!  "response": "HTTP/1.1 101 Switching Protocols\r\n...\r\n\r\n",
//!  "key": "<Sec-WebSocket-Key>", "accept": "<Sec-WebSocket-Accept>",
//!  "message_limit": 1048576}
//! ```
//!
//! `request` is the head exactly as received, `response` exactly as written to the socket
//! (both as text; bytes that are not UTF-8 would show as U+FFFD). `http_version` is
//! `HTTP/1.1`, or `HTTP/2` for a WebSocket over HTTP/2 (RFC 8441): then `request` lists the
//! pseudo-header and header fields as decoded (HPACK leaves no raw head to show), `response`
//! the answer's `:status: 200`, and `key` and `accept` are empty, since RFC 8441 §4 has no
//! key and so no accept. `message_limit` is the
//! route's largest message, inflated (RFC 6455 §10.4), which the page inflates within too.
//!
//! Then one report per frame received, in order:
//!
//! ```json
//! {"type": "frame", "index": 0, "raw_hex": "8185...", "raw_length": 11, "truncated": false,
//!  "fin": true, "rsv": 0, "rsv1": false, "compressed": false, "opcode": 1,
//!  "opcode_name": "text", "masked": true, "mask_key": "37fa213d", "header_length": 6,
//!  "payload_length": 5, "payload_hex": "48656c6c6f", "payload_text": "Hello", "dropped": 0}
//! ```
//!
//! `raw_hex` holds the frame's bytes as they came off the wire (header, then the payload still
//! masked). `compressed` marks the frames of a message whose first frame set RSV1
//! (permessage-deflate, RFC 7692 §6: RSV1 is on the first frame only): their payload is deflate
//! data, kept whole up to the route's message limit, counted over the message's frames, so the
//! page can inflate it. Any other frame is cut after [`RAW_LIMIT`] bytes. `truncated` says a
//! frame was cut; `raw_length` is the whole frame's length. `payload_hex` is the unmasked part
//! of the payload that `raw_hex` holds, for frames that are not `compressed` (a compressed one
//! may be as large as the message limit: unmask `raw_hex` with `mask_key`, as the page does,
//! rather than have the report carry it twice); `payload_text` is present for uncompressed
//! text frames (and `close_code`/`close_reason` for close frames).
//! Reports are sent as the connection delivers events, so the frames of a fragmented message
//! are reported when the message completes. At most [`MAX_PENDING`] frames wait, and the
//! oldest are dropped while the waiting ones would hold more than the message limit or
//! `MAX_PENDING` cut frames' bytes, whichever is more (a newest frame alone is always kept);
//! `dropped` counts them.
//!
//! The frame boundaries come from the core's incremental [`FrameSplitter`] (the same header
//! codec the connection decodes with) and the unmasking from its [`apply_mask`]; this module
//! only keeps each frame's first bytes and queues the reports.

use std::collections::VecDeque;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use serde_json::json;
use switchyard::switchyard_core::frame::mask::apply_mask;
use switchyard::switchyard_core::frame::split::{FrameSplitter, Piece};
use switchyard::switchyard_core::{CloseFrame, FrameHeader, OpCode};
use switchyard::{CloseCode, Message, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::routes::Ended;
use crate::shutdown::Shutdown;
use crate::tap::{ByteTap, lock};

/// Raw bytes reported per frame of an uncompressed message, header included.
pub(crate) const RAW_LIMIT: usize = 4096;
/// RSV1, which permessage-deflate sets on a compressed message's first frame (RFC 7692 §6).
const RSV1: u8 = 0b100;
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
    /// The route's message limit.
    pub(crate) message_limit: usize,
    /// The tap on the connection's transport.
    pub(crate) tap: Arc<Mutex<Tap>>,
}

/// Sees every byte the connection reads and, until the handshake answer is taken, every byte
/// it writes.
pub(crate) struct Tap {
    /// The answer being written; `None` once taken.
    written: Option<Vec<u8>>,
    recording: bool,
    captures: Captures,
}

impl Tap {
    /// A tap that keeps compressed messages whole up to `message_limit` bytes.
    pub(crate) fn new(message_limit: usize) -> Tap {
        Tap {
            written: None,
            recording: false,
            captures: Captures::new(message_limit),
        }
    }

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
    /// Part of a compressed message (RSV1 on the message's first frame).
    compressed: bool,
    /// Header and payload as received, up to `keep` bytes.
    raw: Vec<u8>,
    keep: usize,
}

/// The received frames not reported yet.
struct Captures {
    splitter: FrameSplitter,
    /// The frame being received.
    current: Option<Captured>,
    done: VecDeque<Captured>,
    /// Bytes held by `done`.
    done_bytes: usize,
    dropped: u64,
    next_index: u64,
    /// The route's message limit: what a compressed message's payload is kept whole up to.
    message_limit: usize,
    /// While the data message being received is compressed, its payload bytes kept so far.
    compressed_kept: Option<usize>,
}

impl Captures {
    fn new(message_limit: usize) -> Captures {
        Captures {
            splitter: FrameSplitter::new(),
            current: None,
            done: VecDeque::new(),
            done_bytes: 0,
            dropped: 0,
            next_index: 0,
            message_limit,
            compressed_kept: None,
        }
    }

    fn feed(&mut self, mut data: &[u8]) {
        // After a protocol error the splitter reports nothing more: the connection is failing
        // and the stream has no frame boundaries left to show.
        while let Some(Ok(piece)) = self.splitter.next(&mut data) {
            match piece {
                Piece::Header(raw) => {
                    let header = *raw.header();
                    let header_len = raw.as_bytes().len();
                    let (compressed, keep) = match self.compressed_kept(&header) {
                        Some(kept) => (true, header_len + self.message_limit.saturating_sub(kept)),
                        None => (false, RAW_LIMIT),
                    };
                    self.current = Some(Captured {
                        index: self.next_index,
                        header,
                        header_len,
                        compressed,
                        raw: raw.as_bytes().to_vec(),
                        keep,
                    });
                    self.next_index += 1;
                }
                Piece::Payload(bytes) => {
                    if let Some(frame) = &mut self.current {
                        let room = frame.keep.saturating_sub(frame.raw.len()).min(bytes.len());
                        frame.raw.extend_from_slice(&bytes[..room]);
                        if let (true, Some(kept)) = (frame.compressed, &mut self.compressed_kept) {
                            *kept += room;
                        }
                    }
                }
                Piece::End => {
                    if let Some(frame) = self.current.take() {
                        self.push(frame);
                    }
                }
            }
        }
    }

    /// For a frame with `header` that carries compressed data, the payload bytes of its
    /// message kept before it; `None` for any other frame. RFC 7692 §6 sets RSV1 on a
    /// compressed message's first frame only, and control frames (never compressed) may come
    /// between its fragments (RFC 6455 §5.4).
    fn compressed_kept(&mut self, header: &FrameHeader) -> Option<usize> {
        if header.opcode.is_control() {
            return None;
        }
        if header.opcode != OpCode::CONTINUATION {
            self.compressed_kept = (header.rsv & RSV1 != 0).then_some(0);
        }
        self.compressed_kept
    }

    /// Queues a whole frame, dropping the oldest while more than [`MAX_PENDING`] frames or
    /// more than the byte budget would wait.
    fn push(&mut self, frame: Captured) {
        let budget = self.message_limit.max(MAX_PENDING * RAW_LIMIT);
        while self.done.len() == MAX_PENDING
            || (!self.done.is_empty() && self.done_bytes + frame.raw.len() > budget)
        {
            if let Some(old) = self.done.pop_front() {
                self.done_bytes -= old.raw.len();
                self.dropped += 1;
            }
        }
        self.done_bytes += frame.raw.len();
        self.done.push_back(frame);
    }

    fn pop(&mut self) -> Option<Captured> {
        let frame = self.done.pop_front()?;
        self.done_bytes -= frame.raw.len();
        Some(frame)
    }
}

/// An `async move` block rather than an `async fn`, for the reason given at
/// [`connection::answer`](crate::connection).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
pub(crate) fn run<S: AsyncRead + AsyncWrite + Unpin>(
    mut ws: WebSocket<S>,
    handshake: Handshake,
    mut shutdown: Shutdown,
) -> impl Future<Output = Ended> {
    async move {
        let written = lock(&handshake.tap).take_written();
        let response = handshake.response.as_ref().unwrap_or(&written);
        let report = json!({
            "type": "handshake",
            "http_version": handshake.http_version,
            "request": String::from_utf8_lossy(&handshake.request),
            "response": String::from_utf8_lossy(response),
            "key": handshake.key,
            "accept": handshake.accept,
            "message_limit": handshake.message_limit,
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
                            ok = ws.send(Message::Text(report.into())).await.is_ok();
                        }
                    }
                    Some(Err(_)) => {}
                    None => break,
                },
            }
        }
        Ended::of(&ws)
    }
}

fn next_report(tap: &Mutex<Tap>) -> Option<String> {
    let (frame, dropped) = {
        let mut tap = lock(tap);
        let frame = tap.captures.pop()?;
        (frame, tap.captures.dropped)
    };
    Some(frame_report(&frame, dropped))
}

/// The report of one frame, as JSON text. A compressed message's frame may be as large as
/// the message limit: its payload is not unmasked into a copy (the page unmasks `raw_hex`
/// with `mask_key`), and its hex is written once, straight into the report's text.
fn frame_report(frame: &Captured, dropped: u64) -> String {
    let header = &frame.header;
    let whole_len = frame.header_len as u64 + header.payload_len;
    let mut report = json!({
        "type": "frame",
        "index": frame.index,
        "raw_length": whole_len,
        "truncated": (frame.raw.len() as u64) < whole_len,
        "fin": header.fin,
        "rsv": header.rsv,
        "rsv1": header.rsv & RSV1 != 0,
        "compressed": frame.compressed,
        "opcode": header.opcode.as_u8(),
        "opcode_name": header.opcode.name(),
        "masked": header.mask.is_some(),
        "mask_key": header.mask.map(|key| hex(&key)),
        "header_length": frame.header_len,
        "payload_length": header.payload_len,
        "dropped": dropped,
    });
    if !frame.compressed {
        // At most RAW_LIMIT bytes.
        let mut payload = frame.raw[frame.header_len..].to_vec();
        if let Some(key) = header.mask {
            apply_mask(&mut payload, key, 0);
        }
        report["payload_hex"] = hex(&payload).into();
        if header.opcode == OpCode::TEXT {
            report["payload_text"] = String::from_utf8_lossy(&payload).into();
        }
        if header.opcode == OpCode::CLOSE
            && let Ok(close) = CloseFrame::parse(&payload)
        {
            report["close_code"] = close.code.as_u16().into();
            report["close_reason"] = close.reason.into();
        }
    }
    let mut text = report.to_string();
    // The object's closing brace, then `raw_hex` (hex digits need no JSON escaping).
    text.pop();
    // `,"raw_hex":"`, the hex, `"}`.
    text.reserve(12 + frame.raw.len() * 2 + 2);
    text.push_str(",\"raw_hex\":\"");
    write_hex(&mut text, &frame.raw);
    text.push_str("\"}");
    text
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    write_hex(&mut out, bytes);
    out
}

fn write_hex(out: &mut String, bytes: &[u8]) {
    for byte in bytes {
        // Writing to a String cannot fail.
        let _ = write!(out, "{byte:02x}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame's report, parsed back (which also checks that it is JSON).
    fn report_of(frame: &Captured, dropped: u64) -> serde_json::Value {
        serde_json::from_str(&frame_report(frame, dropped)).unwrap()
    }

    /// The default message limit.
    const LIMIT: usize = 1 << 20;
    // RFC 7692 §7.2.3.1: "Hello" compressed.
    const DEFLATED_HELLO: [u8; 7] = [0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00];

    /// A masked client frame, header and masked payload, as a browser sends it.
    fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask: Some([1, 2, 3, 4]),
            payload_len: 0,
        };
        let mut out = Vec::new();
        header.write_frame(payload, &mut out).unwrap();
        out
    }

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
            let mut captures = Captures::new(LIMIT);
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
        let mut captures = Captures::new(LIMIT);
        captures.feed(&stream()[..11]);
        let report = report_of(&captures.done[0], 0);
        assert_eq!(report["raw_hex"], "818537fa213d7f9f4d5158");
        assert_eq!(report["mask_key"], "37fa213d");
        assert_eq!(report["payload_text"], "Hello");
        assert_eq!(report["payload_length"], 5);
        assert_eq!(report["truncated"], false);
    }

    #[test]
    fn cuts_long_frames_and_bounds_the_backlog() {
        let mut captures = Captures::new(LIMIT);
        let mut frame = vec![0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 9, 9, 9, 9];
        frame.extend(std::iter::repeat_n(7u8, 65536));
        for _ in 0..MAX_PENDING + 3 {
            captures.feed(&frame);
        }
        assert_eq!(captures.done.len(), MAX_PENDING);
        assert_eq!(captures.dropped, 3);
        let report = report_of(&captures.done[0], captures.dropped);
        assert_eq!(report["truncated"], true);
        assert_eq!(report["raw_length"], 65536 + 14);
        assert_eq!(captures.done[0].raw.len(), RAW_LIMIT);
    }

    #[test]
    fn reports_rsv1_and_keeps_a_compressed_message_whole() {
        let mut captures = Captures::new(LIMIT);
        captures.feed(&frame(true, RSV1, OpCode::TEXT, &DEFLATED_HELLO));
        let report = report_of(&captures.done[0], 0);
        assert_eq!(report["rsv"], 4);
        assert_eq!(report["rsv1"], true);
        assert_eq!(report["compressed"], true);
        // Its payload is in raw_hex alone, masked (key 01020304 in these tests).
        assert!(report.get("payload_hex").is_none());
        assert_eq!(report["mask_key"], "01020304");
        // Deflate data is not text: the page inflates it first.
        assert!(report.get("payload_text").is_none());

        // A compressed payload past RAW_LIMIT stays whole (incompressible data still goes
        // out compressed when the window must see it).
        let big: Vec<u8> = (0..3 * RAW_LIMIT)
            .map(|i| (i * 7 + i / 251) as u8)
            .collect();
        let wire = frame(true, RSV1, OpCode::BINARY, &big);
        for step in [1, 1000, wire.len()] {
            let mut captures = Captures::new(LIMIT);
            for chunk in wire.chunks(step) {
                captures.feed(chunk);
            }
            let report = report_of(&captures.done[0], 0);
            assert_eq!(report["truncated"], false, "step {step}");
            assert_eq!(report["raw_hex"], hex(&wire), "step {step}");
            assert!(report.get("payload_hex").is_none(), "step {step}");
        }
        // The same payload uncompressed is cut.
        let mut captures = Captures::new(LIMIT);
        captures.feed(&frame(true, 0, OpCode::BINARY, &big));
        let report = report_of(&captures.done[0], 0);
        assert_eq!(
            (report["rsv1"].clone(), report["truncated"].clone()),
            (false.into(), true.into())
        );
        assert_eq!(captures.done[0].raw.len(), RAW_LIMIT);
    }

    #[test]
    fn marks_continuations_of_a_compressed_message_but_not_control_frames_between() {
        let mut captures = Captures::new(LIMIT);
        captures.feed(&frame(false, RSV1, OpCode::TEXT, &DEFLATED_HELLO[..3]));
        captures.feed(&frame(true, 0, OpCode::PING, b"ping"));
        captures.feed(&frame(true, 0, OpCode::CONTINUATION, &DEFLATED_HELLO[3..]));
        captures.feed(&frame(true, 0, OpCode::TEXT, b"plain"));
        let reports: Vec<_> = (0..4).map(|i| report_of(&captures.done[i], 0)).collect();
        let flags: Vec<_> = reports
            .iter()
            .map(|r| {
                (
                    r["rsv1"].as_bool().unwrap(),
                    r["compressed"].as_bool().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            flags,
            [(true, true), (false, false), (false, true), (false, false)]
        );
        assert_eq!(reports[3]["payload_text"], "plain");
    }

    #[test]
    fn keeps_a_compressed_message_up_to_the_message_limit_over_its_frames() {
        let limit = 10_000;
        let mut captures = Captures::new(limit);
        let piece = vec![0x55; 6000];
        captures.feed(&frame(false, RSV1, OpCode::BINARY, &piece));
        captures.feed(&frame(true, 0, OpCode::CONTINUATION, &piece));
        let kept: Vec<_> = captures
            .done
            .iter()
            .map(|f| f.raw.len() - f.header_len)
            .collect();
        assert_eq!(kept, [6000, 4000]);
        assert_eq!(report_of(&captures.done[1], 0)["truncated"], true);
        // The next compressed message starts a new allowance.
        captures.feed(&frame(true, RSV1, OpCode::BINARY, &piece));
        assert_eq!(
            captures.done[2].raw.len() - captures.done[2].header_len,
            6000
        );
    }

    #[test]
    fn bounds_the_bytes_waiting_by_dropping_the_oldest_frames() {
        let mut captures = Captures::new(LIMIT);
        let payload = vec![0x55; LIMIT / 3];
        for _ in 0..5 {
            captures.feed(&frame(true, RSV1, OpCode::BINARY, &payload));
        }
        // Three whole frames would pass the limit by their headers: two wait.
        assert_eq!(captures.done.len(), 2);
        assert_eq!(captures.dropped, 3);
        assert!(captures.done_bytes <= LIMIT);
        assert_eq!(
            captures.done_bytes,
            captures.done.iter().map(|f| f.raw.len()).sum::<usize>()
        );
        while captures.pop().is_some() {}
        assert_eq!(captures.done_bytes, 0);
        // A message as large as the limit is kept whole, alone.
        captures.feed(&frame(true, RSV1, OpCode::BINARY, &vec![0x55; LIMIT]));
        assert_eq!(captures.done.len(), 1);
        assert_eq!(report_of(&captures.done[0], 0)["truncated"], false);
    }
}
