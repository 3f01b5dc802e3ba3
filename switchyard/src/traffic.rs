//! [`Traffic`]: the bytes a connection moved over its transport.

/// Bytes read from and written to a connection's transport: frames as they went over the
/// wire (headers, masks, compressed payloads), and the opening handshake's request and
/// response when this library did the handshake ([`accept`](crate::accept),
/// [`connect`](crate::connect)). Bytes an HTTP layer read before handing the stream over
/// ([`PendingUpgrade::read_after`](crate::PendingUpgrade::read_after)'s `already_read`)
/// count as read. Over HTTP/2 the count is the stream's DATA: the frames' own bytes.
///
/// Counted by the connection as it reads and writes (two additions per system call), so
/// a server's access log needs no counting wrapper around the transport.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes read from the transport.
    pub read: u64,
    /// Bytes written to the transport (accepted by it: written, or buffered by a TLS layer).
    pub written: u64,
}

impl Traffic {
    /// A handshake's bytes: `read` of the peer's head (and anything after it), `written` of
    /// ours.
    pub(crate) fn handshake(read: usize, written: usize) -> Traffic {
        Traffic {
            read: read as u64,
            written: written as u64,
        }
    }
}
