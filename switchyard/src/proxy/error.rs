//! [`ProxyError`]: why a tunnel through a proxy could not be opened.

use std::{fmt, io};

use switchyard_core::handshake::StatusCode;

/// Why the proxy did not open the tunnel; inside
/// [`ConnectError::Proxy`](crate::ConnectError::Proxy).
#[derive(Debug)]
#[non_exhaustive]
pub enum ProxyError {
    /// The proxy itself could not be reached (DNS or TCP).
    Unreachable(io::Error),
    /// The connection to the proxy failed or ended during the negotiation.
    Io(io::Error),
    /// The HTTP proxy wants credentials (407), or refused the ones given (407, or 401 as
    /// tinyproxy answers).
    HttpAuthRequired,
    /// The HTTP proxy answered the `CONNECT` with another status than 2xx (403 for a
    /// port it does not tunnel to, 502 when the target is unreachable...).
    HttpRefused(StatusCode),
    /// The SOCKS5 proxy accepts none of the methods offered (RFC 1928 §3: `X'FF'`):
    /// usually it wants a username and password and the URL has none.
    SocksAuthRequired,
    /// The SOCKS5 proxy refused the username and password (RFC 1929 §2).
    SocksAuthFailed,
    /// The SOCKS5 proxy refused the `CONNECT` with this reply (RFC 1928 §6).
    SocksRefused(SocksReply),
    /// The target's host name is longer than SOCKS5's 255 bytes (RFC 1928 §5).
    HostTooLong,
    /// The answer is not the protocol the proxy URL names (not HTTP, not SOCKS5, a head
    /// above 16 KiB, data before the tunnel opened).
    Malformed,
}

impl fmt::Display for ProxyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyError::Unreachable(e) => write!(f, "cannot reach the proxy: {e}"),
            ProxyError::Io(e) => write!(f, "I/O error talking to the proxy: {e}"),
            ProxyError::HttpAuthRequired => {
                f.write_str("the proxy requires authentication, or refused the credentials")
            }
            ProxyError::HttpRefused(status) => {
                write!(f, "the proxy refused the tunnel: HTTP {}", status.as_u16())
            }
            ProxyError::SocksAuthRequired => f.write_str(
                "the SOCKS5 proxy accepts none of the offered authentication methods \
                 (credentials needed?)",
            ),
            ProxyError::SocksAuthFailed => {
                f.write_str("the SOCKS5 proxy refused the username and password")
            }
            ProxyError::SocksRefused(reply) => {
                write!(f, "the SOCKS5 proxy refused the tunnel: {reply}")
            }
            ProxyError::HostTooLong => f.write_str("host name too long for SOCKS5"),
            ProxyError::Malformed => f.write_str("the proxy's answer is malformed"),
        }
    }
}

impl std::error::Error for ProxyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ProxyError::Unreachable(e) | ProxyError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for ProxyError {
    fn from(e: io::Error) -> Self {
        ProxyError::Io(e)
    }
}

/// A SOCKS5 reply code (RFC 1928 §6, the `REP` field).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SocksReply(u8);

impl SocksReply {
    /// `X'00'`: succeeded.
    pub const SUCCEEDED: SocksReply = SocksReply(0);
    /// `X'01'`: general SOCKS server failure.
    pub const GENERAL_FAILURE: SocksReply = SocksReply(1);
    /// `X'02'`: connection not allowed by ruleset.
    pub const NOT_ALLOWED: SocksReply = SocksReply(2);
    /// `X'03'`: network unreachable.
    pub const NETWORK_UNREACHABLE: SocksReply = SocksReply(3);
    /// `X'04'`: host unreachable.
    pub const HOST_UNREACHABLE: SocksReply = SocksReply(4);
    /// `X'05'`: connection refused.
    pub const CONNECTION_REFUSED: SocksReply = SocksReply(5);
    /// `X'06'`: TTL expired.
    pub const TTL_EXPIRED: SocksReply = SocksReply(6);
    /// `X'07'`: command not supported.
    pub const COMMAND_NOT_SUPPORTED: SocksReply = SocksReply(7);
    /// `X'08'`: address type not supported.
    pub const ADDRESS_TYPE_NOT_SUPPORTED: SocksReply = SocksReply(8);

    /// Wraps a reply byte.
    pub const fn new(code: u8) -> SocksReply {
        SocksReply(code)
    }

    /// The reply byte.
    pub const fn as_u8(self) -> u8 {
        self.0
    }
}

impl fmt::Display for SocksReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self.0 {
            0 => "succeeded",
            1 => "general SOCKS server failure",
            2 => "connection not allowed by ruleset",
            3 => "network unreachable",
            4 => "host unreachable",
            5 => "connection refused",
            6 => "TTL expired",
            7 => "command not supported",
            8 => "address type not supported",
            _ => "unassigned reply code",
        };
        write!(f, "{text} ({})", self.0)
    }
}
