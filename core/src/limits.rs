//! Every limit the core enforces, in one place, with conservative defaults.
//!
//! Each limit is checked before the memory it guards is allocated: frame and message sizes are
//! decided from the frame header, header bytes and counts while the request is still arriving.

/// Limits on what a peer may make us hold. All are configurable; the defaults suit a public
/// server (python-websockets' 1 MiB message, header caps between uWebSockets and tungstenite).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest payload of one frame, in bytes. Larger → close 1009, decided from the header.
    pub max_frame_size: u64,
    /// Largest message (all fragments together), in bytes. Larger → close 1009, decided from
    /// each frame's header before its payload is buffered.
    pub max_message_size: u64,
    /// Most frames one message may span, empty ones included. More → close 1008.
    pub max_fragments: u32,
    /// Longest HTTP request line or status line, in bytes (including CRLF). Longer → 414.
    pub max_request_line: usize,
    /// Largest HTTP head (request line, headers, blank line), in bytes. Larger → 431.
    pub max_header_bytes: usize,
    /// Most header fields in the HTTP head. More → 431. Capped at
    /// [`MAX_HEADER_SLOTS`](crate::handshake::MAX_HEADER_SLOTS), the parser's fixed slot count.
    pub max_headers: usize,
    /// Most subprotocols a client may offer. More → 400.
    pub max_subprotocols: usize,
    /// Output bytes waiting for the transport above which automatic pongs coalesce: past it,
    /// a ping flood is owed one pong, for the latest ping (RFC 6455 §5.5.3 allows that), so a
    /// peer that pings without reading cannot grow our output. Below it every ping gets its
    /// own pong, in order.
    pub pong_backlog: usize,
}

impl Limits {
    /// Conservative defaults for a server facing the open internet.
    pub const DEFAULT: Limits = Limits {
        max_frame_size: 1 << 20,
        max_message_size: 1 << 20,
        max_fragments: 1024,
        max_request_line: 8 * 1024,
        max_header_bytes: 16 * 1024,
        max_headers: 64,
        max_subprotocols: 32,
        pong_backlog: 64 * 1024,
    };

    /// The same limits with both the frame and the message cap set to `bytes`.
    pub const fn with_max_message_size(mut self, bytes: u64) -> Limits {
        self.max_message_size = bytes;
        self.max_frame_size = bytes;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}
