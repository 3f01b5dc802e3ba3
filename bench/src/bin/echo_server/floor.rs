//! The floor: a plain TCP echo server, no WebSocket at all. Each message costs it one read
//! and one write (more only when the kernel hands a large message over in pieces), which is
//! the least any echo server on this runtime can do: every WebSocket server's CPU per
//! message is reported as a ratio to this one's.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest message the benchmark sends, so one read can take a whole one.
const BUFFER: usize = 64 * 1024;

/// Writes back every byte read, until the peer closes its side.
pub(crate) async fn echo(mut tcp: TcpStream) {
    let mut buf = vec![0u8; BUFFER];
    loop {
        match tcp.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if tcp.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
