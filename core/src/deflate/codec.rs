//! The permessage-deflate codec (RFC 7692 §6, §7.2) on zlib-rs: the connection's extension
//! stage for the agreed parameters.
//!
//! Engines are built on first use and freed after [`DeflateConfig::release_after`] without a
//! compressed message ([`Extension::release`]); a takeover direction keeps its window
//! ([`Window`]) and primes the next engine with it, so freeing never changes what goes on
//! the wire. A direction without takeover frees its engine after each message: it holds
//! one only while a message is compressed or inflated.

use alloc::boxed::Box;
use bytes::BytesMut;
use core::time::Duration;
use zlib_rs::{DeflateFlush, InflateFlush, Status};

use super::config::DeflateConfig;
use super::negotiate::DeflateAgreement;
use super::window::Window;
use crate::connection::Role;
use crate::extension::{Extension, ExtensionError};

/// RSV1, "Per-Message Compressed" (§6).
const RSV1: u8 = 0b100;

/// What a sync flush ends with, stripped from each message sent and put back on each
/// message received (§7.2.1, §7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Most inflated bytes produced per step while the message limit is far: bounds the memory
/// one step allocates past what the message holds.
const INFLATE_STEP: usize = 16 * 1024;

/// One connection's permessage-deflate state, for the role it plays.
pub struct DeflateCodec {
    tx: Compressor,
    rx: Decompressor,
    threshold: usize,
    release_after: Duration,
}

impl core::fmt::Debug for DeflateCodec {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DeflateCodec")
            .field("compressing_bits", &self.tx.bits)
            .field("compressor", &self.tx.engine.is_some())
            .field("decompressor", &self.rx.engine.is_some())
            .finish_non_exhaustive()
    }
}

impl DeflateCodec {
    /// The codec for `role` under `agreed`, compressing as `config` says (within the agreed
    /// window). Nothing is allocated until the first compressed message.
    pub fn new(role: Role, agreed: &DeflateAgreement, config: &DeflateConfig) -> DeflateCodec {
        let (local_reset, local_bits, remote_reset, remote_bits) = match role {
            Role::Server => (
                agreed.server_no_context_takeover,
                agreed.server_max_window_bits,
                agreed.client_no_context_takeover,
                agreed.client_max_window_bits,
            ),
            Role::Client => (
                agreed.client_no_context_takeover,
                agreed.client_max_window_bits,
                agreed.server_no_context_takeover,
                agreed.server_max_window_bits,
            ),
        };
        let configured = match role {
            Role::Server => config.server_max_window_bits,
            Role::Client => config.client_max_window_bits,
        };
        // zlib refuses a raw 8-bit window (madler/zlib#171): compress with 9, whose matches
        // reach back at most 512 - 262 = 250 bytes, inside a 256-byte window (zlib PR #291).
        let bits = local_bits.min(configured).clamp(9, 15);
        DeflateCodec {
            tx: Compressor {
                engine: None,
                window: (!local_reset).then(|| Window::new(bits)),
                bits,
                level: i32::from(config.level.clamp(1, 9)),
                mem_level: i32::from(config.mem_level.clamp(1, 9)),
            },
            rx: Decompressor {
                engine: None,
                window: (!remote_reset).then(|| Window::new(remote_bits.clamp(8, 15))),
                ended: false,
            },
            threshold: config.threshold,
            release_after: config.release_after,
        }
    }

    /// Whether the codec holds an engine now (what [`release`](Extension::release) frees).
    pub fn holds_engines(&self) -> bool {
        self.tx.engine.is_some() || self.rx.engine.is_some()
    }
}

impl Extension for DeflateCodec {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn decode(
        &mut self,
        _rsv: u8,
        piece: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError> {
        let start = out.len();
        if !piece.is_empty() {
            self.rx.inflate(piece, out, limit)?;
        }
        if fin {
            // §7.2.2: the tail the sender removed goes back before the message is inflated
            // to its end.
            self.rx.inflate(&TAIL, out, limit)?;
            self.rx.end_message(&out[..]);
        }
        debug_assert!(out.len() >= start);
        Ok(())
    }

    fn encode(&mut self, payload: &[u8], out: &mut BytesMut) -> Result<u8, ExtensionError> {
        // An empty message is never given to the engine (a flush on nothing yields nothing to
        // strip), and a short one is not worth compressing; either goes as it is, outside the
        // window (§6).
        if payload.is_empty() || payload.len() < self.threshold {
            return Ok(0);
        }
        self.tx.compress(payload, true, out)?;
        // Without takeover the window is reset anyway, so a message that did not shrink may
        // go out as it is; with takeover the window already holds it and it must go
        // compressed.
        if self.tx.window.is_none() && out.len() >= payload.len() {
            out.clear();
            return Ok(0);
        }
        Ok(RSV1)
    }

    fn encode_fragment(
        &mut self,
        piece: &[u8],
        first: bool,
        fin: bool,
        out: &mut BytesMut,
    ) -> Result<u8, ExtensionError> {
        // A message sent in pieces is compressed whole (its size is unknown up front):
        // each piece is flushed so it can go out at once, the tail removed at the end only.
        let _ = first;
        if piece.is_empty() && !fin {
            return Ok(RSV1);
        }
        if piece.is_empty() {
            // The receiver appends the tail itself: an empty last frame is a complete end.
            self.tx.end_message();
            return Ok(RSV1);
        }
        self.tx.compress(piece, fin, out)?;
        Ok(RSV1)
    }

    fn release_after(&self) -> Option<Duration> {
        Some(self.release_after)
    }

    fn holds_memory(&self) -> bool {
        self.holds_engines()
    }

    fn release(&mut self) {
        self.tx.engine = None;
        self.rx.engine = None;
    }
}

/// Our sending direction.
struct Compressor {
    engine: Option<Box<zlib_rs::Deflate>>,
    /// With context takeover: what the peer's inflater window holds.
    window: Option<Window>,
    bits: u8,
    level: i32,
    mem_level: i32,
}

impl Compressor {
    fn engine(&mut self) -> Result<&mut zlib_rs::Deflate, ExtensionError> {
        if self.engine.is_none() {
            let config = zlib_rs::DeflateConfig {
                level: self.level,
                window_bits: -i32::from(self.bits),
                mem_level: self.mem_level,
                ..zlib_rs::DeflateConfig::default()
            };
            let mut engine = Box::new(zlib_rs::Deflate::new_with_config(config));
            Window::prime(self.window.as_mut(), |d| engine.set_dictionary(d).is_ok())?;
            self.engine = Some(engine);
        }
        self.engine.as_deref_mut().ok_or(ExtensionError::Failed)
    }

    /// Compresses `input` with a sync flush, appending to `out`; at the end of a message
    /// strips the flush's `00 00 ff ff` (§7.2.1).
    fn compress(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut BytesMut,
    ) -> Result<(), ExtensionError> {
        let engine = self.engine()?;
        let mut rest = input;
        // Deflate's worst case is a little over its input. Room for a quarter of the input
        // comes first: text and JSON shrink far below that, and each round's room is
        // zero-filled before the engine writes into it (reserving the worst case cost more
        // zeroing than compressing a short message). What does not fit goes in the next
        // round, given the rest of the worst case.
        let worst = input.len() + input.len() / 16 + 64;
        let mut room = input.len() / 4 + 64;
        let mut written = 0;
        loop {
            let start = out.len();
            out.resize(start + room, 0);
            let before = engine.total_in();
            let produced_before = engine.total_out();
            let status = engine
                .compress(rest, &mut out[start..], DeflateFlush::SyncFlush)
                .map_err(|_| ExtensionError::Failed)?;
            let took = (engine.total_in() - before) as usize;
            let wrote = (engine.total_out() - produced_before) as usize;
            out.truncate(start + wrote);
            rest = &rest[took..];
            // Done once all input is taken and the flush fit (room was left over).
            if rest.is_empty() && wrote < room {
                break;
            }
            if status == Status::BufError && took == 0 && wrote == 0 {
                return Err(ExtensionError::Failed);
            }
            written += wrote;
            room = worst.saturating_sub(written).max(64);
        }
        if let Some(window) = self.window.as_mut() {
            window.push(input);
        }
        if fin {
            if !out.ends_with(&TAIL) {
                // A sync flush always ends with an empty stored block.
                return Err(ExtensionError::Failed);
            }
            out.truncate(out.len() - TAIL.len());
            self.end_message();
        }
        Ok(())
    }

    /// §7.2.1 with `*_no_context_takeover`: the next message starts with an empty window,
    /// so nothing is worth keeping: the engine is freed, and allocated again only while the
    /// next message is compressed.
    fn end_message(&mut self) {
        if self.window.is_none() {
            self.engine = None;
        }
    }
}

/// The peer's sending direction.
struct Decompressor {
    engine: Option<Box<zlib_rs::Inflate>>,
    /// With context takeover: the peer's compressor's window, as we inflated it.
    window: Option<Window>,
    /// The message's deflate stream ended with a final block (§7.2.3.4): whatever follows in
    /// the message is padding.
    ended: bool,
}

impl Decompressor {
    fn engine(&mut self) -> Result<&mut zlib_rs::Inflate, ExtensionError> {
        if self.engine.is_none() {
            // Inflating takes any window up to 15 bits; the 32 KiB window is allocated by
            // zlib-rs on first use whatever the agreed size.
            let mut engine = Box::new(zlib_rs::Inflate::new(false, 15));
            Window::prime(self.window.as_mut(), |d| engine.set_dictionary(d).is_ok())?;
            self.engine = Some(engine);
        }
        self.engine.as_deref_mut().ok_or(ExtensionError::Failed)
    }

    /// Inflates `input` onto `out`, which never passes `limit + 1` bytes: past `limit` the
    /// message is refused (a bomb stops within one step of the limit, RFC 6455 §10.4).
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError> {
        if self.ended {
            return Ok(());
        }
        let engine = self.engine()?;
        let mut rest = input;
        // Start near what the input suggests, so a short message costs a short buffer.
        let mut step = (input.len().saturating_mul(4)).clamp(256, INFLATE_STEP);
        loop {
            let start = out.len();
            let room = step.min(limit.saturating_add(1).saturating_sub(start));
            if room == 0 {
                return Err(ExtensionError::TooLarge);
            }
            out.resize(start + room, 0);
            let taken_before = engine.total_in();
            let produced_before = engine.total_out();
            let status = engine
                .decompress(rest, &mut out[start..], InflateFlush::SyncFlush)
                .map_err(|_| ExtensionError::InvalidData)?;
            let took = (engine.total_in() - taken_before) as usize;
            let wrote = (engine.total_out() - produced_before) as usize;
            out.truncate(start + wrote);
            rest = &rest[took..];
            if out.len() > limit {
                return Err(ExtensionError::TooLarge);
            }
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(());
            }
            // More output may be pending only if this step's room was filled.
            if rest.is_empty() && wrote < room {
                return Ok(());
            }
            if took == 0 && wrote == 0 {
                // No progress with input left and room to write: zlib wants nothing more
                // from this input, which a valid stream never does.
                return Err(ExtensionError::InvalidData);
            }
            step = INFLATE_STEP;
        }
    }

    /// The message is whole: remember it for the window, and start the next message as the
    /// agreement says.
    fn end_message(&mut self, message: &[u8]) {
        let ended = core::mem::take(&mut self.ended);
        match self.window.as_mut() {
            Some(window) => {
                window.push(message);
                if ended {
                    // A final block ends the deflate stream, not the window (§7.2.3.4): a new
                    // engine primed with the window continues it.
                    self.engine = None;
                }
            }
            // No takeover: the next message inflates with an empty window, from a new engine
            // allocated only while it is inflated.
            None => self.engine = None,
        }
    }
}
