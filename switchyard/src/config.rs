//! Everything a connection can be told, with conservative defaults.

use std::time::Duration;

use switchyard_core::Limits;
#[cfg(feature = "deflate")]
use switchyard_core::deflate::DeflateConfig;

/// How a connection behaves: the core's [`Limits`] (sizes, the write-buffer bound and the
/// timers, all enforced by the core) and the handshake timeout (the shell's).
///
/// Start from [`Config::default`] and change what you need, with the `with_*` methods or by
/// assigning fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// What a peer may make us hold and for how long: frame and message sizes, handshake
    /// head size, the write-buffer bound, keepalive and the close timeout.
    pub limits: Limits,
    /// How long the opening handshake may take, from the first read of the request (or the
    /// TCP connect, for a client) to the end of the answer, so a slow or silent peer cannot
    /// hold a slot. Default 10 s.
    pub handshake_timeout: Duration,
    /// permessage-deflate (RFC 7692): `None` (the default) offers and accepts nothing. A
    /// client offers it, a server accepts the first acceptable offer, with these settings
    /// ([`DeflateConfig::CLIENT`] and [`DeflateConfig::SERVER`] are the usual starts).
    #[cfg(feature = "deflate")]
    pub deflate: Option<DeflateConfig>,
}

impl Config {
    /// The defaults: [`Limits::DEFAULT`] (1 MiB messages, a 64 KiB write buffer, a ping after
    /// 20 s of silence answered within 20 s, a 10 s close timeout) and a 10 s handshake
    /// timeout.
    pub const DEFAULT: Config = Config {
        limits: Limits::DEFAULT,
        handshake_timeout: Duration::from_secs(10),
        #[cfg(feature = "deflate")]
        deflate: None,
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

    /// Sets the write-buffer bound ([`Limits::write_buffer_size`]): `send` waits while more
    /// is queued, and reading pauses while automatic replies (pongs) back up past it.
    pub const fn with_write_buffer_size(mut self, bytes: usize) -> Config {
        self.limits.write_buffer_size = bytes;
        self
    }

    /// Pings after `interval` of silence and gives up with
    /// [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout) after `timeout` more;
    /// `None` turns keepalive off. Silence is checked at ticks one interval apart, so the
    /// ping goes out between one and two intervals after the last byte heard (traffic costs
    /// no clock reads); a peer that only answers pings is pinged once per `interval` or per
    /// `timeout`, whichever is longer.
    pub const fn with_keepalive(mut self, interval: Option<Duration>, timeout: Duration) -> Config {
        self.limits.keepalive_interval = interval;
        self.limits.keepalive_timeout = timeout;
        self
    }

    /// Sets the close timeout.
    pub const fn with_close_timeout(mut self, timeout: Duration) -> Config {
        self.limits.close_timeout = timeout;
        self
    }

    /// Negotiates permessage-deflate with `deflate`'s settings.
    #[cfg(feature = "deflate")]
    pub const fn with_deflate(mut self, deflate: DeflateConfig) -> Config {
        self.deflate = Some(deflate);
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
