//! Every limit the core enforces, in one place, with conservative defaults.
//!
//! Each size limit is checked before the memory it guards is allocated: frame and message
//! sizes are decided from the frame header, header bytes and counts while the request is still
//! arriving. The time limits are enforced by the connection from the instants its caller gives
//! it (see [`Connection::handle_timeout`](crate::connection::Connection::handle_timeout)).

use core::time::Duration;

/// Limits on what a peer may make us hold, and for how long. All are configurable; the defaults
/// suit a public server (python-websockets' 1 MiB message, header caps between uWebSockets and
/// tungstenite).
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
    /// Output bytes the connection treats as a full write buffer. Automatic replies (pongs)
    /// not yet written may reach it; past it a ping flood is owed one pong, for the latest
    /// ping (RFC 6455 §5.5.3 allows that), and
    /// [`wants_read`](crate::connection::Connection::wants_read) turns false until they are
    /// written, so a peer that pings without reading cannot grow our output. Shells also make
    /// the application's sends wait past it. Default 64 KiB.
    pub write_buffer_size: usize,
    /// Capacity a drained buffer (the message being assembled, the output) may keep. A buffer
    /// that grew past it for a large message is released once empty, so a connection that once
    /// carried a large message goes back to its idle size. Default 64 KiB.
    pub max_retained_buffer: usize,
    /// Events waiting to be polled past which
    /// [`receive_data`](crate::connection::Connection::receive_data) stops taking bytes (and
    /// says how many it took), so one large input cannot queue unboundedly many events.
    /// Default 256; 0 counts as 1 (a connection that may queue no event could decode none).
    pub max_queued_events: usize,
    /// Silence from the peer after which a ping is sent; `None` turns keepalive off.
    /// Default 20 s. Silence is measured from the
    /// [`handle_timeout`](crate::connection::Connection::handle_timeout) call that follows the
    /// last byte heard, or from our ping if the peer was heard after it: a shell that tells
    /// the time only at deadlines (as `switchyard` does) pings between one and two intervals
    /// after the last byte, and a peer that only answers pings once per interval or per
    /// `keepalive_timeout`, whichever is longer.
    pub keepalive_interval: Option<Duration>,
    /// How long after that ping the peer may stay silent (not one byte received, nor any of
    /// our output taken after the transport was full) before the connection is given up:
    /// close 1011 is tried once, then the transport is aborted. Default 20 s.
    pub keepalive_timeout: Duration,
    /// How long closing may take once it begins (our close, the peer's, a failure, EOF);
    /// then the transport is aborted. Default 10 s.
    pub close_timeout: Duration,
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
        write_buffer_size: 64 * 1024,
        max_retained_buffer: 64 * 1024,
        max_queued_events: 256,
        keepalive_interval: Some(Duration::from_secs(20)),
        keepalive_timeout: Duration::from_secs(20),
        close_timeout: Duration::from_secs(10),
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
