//! Everything a connection can be told, with conservative defaults.

use std::time::Duration;

use switchyard_core::Limits;

/// How a connection behaves: the core's [`Limits`], the write-buffer bound and the timers.
///
/// Start from [`Config::default`] and change what you need, with the `with_*` methods or by
/// assigning fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// What a peer may make us hold (frame and message sizes, handshake head size), enforced
    /// by the core.
    pub limits: Limits,
    /// Bytes queued for the transport past which `send` waits, so a peer that never reads
    /// makes us hold at most this much plus the message being sent. Automatic replies (pongs)
    /// are bounded by it too: reading pauses once they back up this far. Default 64 KiB.
    pub write_buffer_size: usize,
    /// Send a ping after this long without hearing from the peer. `None` turns keepalive
    /// off. Default 20 s.
    pub keepalive_interval: Option<Duration>,
    /// How long a ping may go unanswered (no byte at all from the peer) before the connection
    /// is given up with [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout).
    /// Default 20 s.
    pub keepalive_timeout: Duration,
    /// How long the closing handshake may take once it starts; then the transport is closed
    /// anyway. Default 10 s.
    pub close_timeout: Duration,
    /// How long the opening handshake may take, from the first read of the request (or the
    /// TCP connect, for a client) to the end of the answer, so a slow or silent peer cannot
    /// hold a slot. Default 10 s.
    pub handshake_timeout: Duration,
}

impl Config {
    /// The defaults: [`Limits::DEFAULT`] (1 MiB messages), a 64 KiB write buffer, a ping after
    /// 20 s of silence answered within 20 s, a 10 s close timeout and a 10 s handshake timeout.
    pub const DEFAULT: Config = Config {
        limits: Limits::DEFAULT,
        write_buffer_size: 64 * 1024,
        keepalive_interval: Some(Duration::from_secs(20)),
        keepalive_timeout: Duration::from_secs(20),
        close_timeout: Duration::from_secs(10),
        handshake_timeout: Duration::from_secs(10),
    };

    /// Replaces the limits.
    pub const fn with_limits(mut self, limits: Limits) -> Config {
        self.limits = limits;
        self
    }

    /// Sets both the frame and the message size limit to `bytes`.
    pub const fn with_max_message_size(mut self, bytes: u64) -> Config {
        self.limits = self.limits.with_max_message_size(bytes);
        self
    }

    /// Sets the write-buffer bound.
    pub const fn with_write_buffer_size(mut self, bytes: usize) -> Config {
        self.write_buffer_size = bytes;
        self
    }

    /// Pings after `interval` of silence and gives up after `timeout` more; `None` turns
    /// keepalive off.
    pub const fn with_keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> Config {
        self.keepalive_interval = interval;
        self.keepalive_timeout = timeout;
        self
    }

    /// Sets the close timeout.
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Config {
        self.close_timeout = timeout;
        self
    }

    /// Sets the handshake timeout.
    pub const fn with_handshake_timeout(mut self, timeout: Duration) -> Config {
        self.handshake_timeout = timeout;
        self
    }
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}
