//! What an endpoint offers or accepts, and how it compresses: one value for both roles, with
//! the RFC's parameter names meaning the same thing on each side (as Python websockets does).

use core::time::Duration;

use super::params::MAX_WINDOW_BITS;

/// permessage-deflate settings for either role.
///
/// The four negotiation fields keep RFC 7692's names (§7.1): `server_*` is the direction the
/// server compresses in, `client_*` the direction the client compresses in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The server resets its compressor after every message (§7.1.1.1). A server sets it on
    /// itself even unasked (useful for broadcasting one compressed payload to many); a client
    /// asks for it in its offer.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after every message (§7.1.1.2). A server demands it
    /// in its answer, so it keeps no receive window between messages; a client announces it
    /// in its offer and does it.
    pub client_no_context_takeover: bool,
    /// The server's compression window, as bits (8–15). A server compresses with at most
    /// this, answering it when below 15 (§7.1.2.1 lets it do so unasked); a client offers it
    /// as a limit when below 15.
    pub server_max_window_bits: u8,
    /// The client's compression window, as bits (8–15). A server answers it when below 15
    /// and the client offered the parameter; a client that did not (Firefox) cannot be held
    /// to it, so the server demands `client_no_context_takeover` instead, and keeps no window
    /// for it. A client offers it with a value when below 15, and without one at 15 ("pick
    /// one", which is what lets a server answer a smaller window).
    pub client_max_window_bits: u8,
    /// The compression level, 1 (fastest) to 9 (smallest); zlib's default is 6.
    pub level: u8,
    /// zlib's `memLevel`, 1–9: the size of the compressor's pending-symbol buffer
    /// (2^(memLevel+6) symbols). Smaller saves memory for a slightly worse ratio.
    pub mem_level: u8,
    /// Messages shorter than this go out uncompressed (RSV1 clear), which never touches the
    /// compression window (§6): deflate's overhead outweighs what it saves on a few bytes.
    pub threshold: usize,
    /// How long a connection may go without compressing or inflating a message before it
    /// frees its compression engines, keeping only the windows a takeover direction needs
    /// (at most 2^bits bytes each); the next message rebuilds the engine and primes it with
    /// its window, which costs a little CPU once. An engine is some 160 KiB; a window 4 KiB
    /// at 12 bits.
    pub release_after: Duration,
}

impl DeflateConfig {
    /// A server's defaults: 12-bit windows both ways with context takeover (Python
    /// websockets' choice: most of the ratio at a fraction of 15 bits' memory), level 6,
    /// memLevel 5, messages under 32 bytes sent as they are, engines freed after 1 s idle.
    pub const SERVER: DeflateConfig = DeflateConfig {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 12,
        client_max_window_bits: 12,
        level: 6,
        mem_level: 5,
        threshold: 32,
        release_after: Duration::from_secs(1),
    };

    /// A client's defaults: the offer is exactly `permessage-deflate; client_max_window_bits`
    /// (what Chrome and Node's ws send, and what lets the server pick both windows);
    /// otherwise as [`SERVER`](Self::SERVER).
    pub const CLIENT: DeflateConfig = DeflateConfig {
        server_max_window_bits: MAX_WINDOW_BITS,
        client_max_window_bits: MAX_WINDOW_BITS,
        ..DeflateConfig::SERVER
    };

    /// Sets both windows, as bits (clamped to 8–15).
    pub const fn with_window_bits(mut self, bits: u8) -> DeflateConfig {
        let bits = clamp_bits(bits);
        self.server_max_window_bits = bits;
        self.client_max_window_bits = bits;
        self
    }

    /// Sets both `*_no_context_takeover` flags.
    pub const fn with_no_context_takeover(mut self, no_takeover: bool) -> DeflateConfig {
        self.server_no_context_takeover = no_takeover;
        self.client_no_context_takeover = no_takeover;
        self
    }

    /// Sets the compression level (clamped to 1–9).
    pub const fn with_level(mut self, level: u8) -> DeflateConfig {
        self.level = if level < 1 {
            1
        } else if level > 9 {
            9
        } else {
            level
        };
        self
    }

    /// Sets the size below which messages go out uncompressed.
    pub const fn with_threshold(mut self, bytes: usize) -> DeflateConfig {
        self.threshold = bytes;
        self
    }
}

pub(super) const fn clamp_bits(bits: u8) -> u8 {
    if bits < super::params::MIN_WINDOW_BITS {
        super::params::MIN_WINDOW_BITS
    } else if bits > MAX_WINDOW_BITS {
        MAX_WINDOW_BITS
    } else {
        bits
    }
}
