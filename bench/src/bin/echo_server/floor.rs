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

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    #[tokio::test]
    async fn echoes_every_byte_then_closes_after_the_peer() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (tcp, _) = listener.accept().await.unwrap();
        let server = tokio::spawn(super::echo(tcp));
        let message: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        client.write_all(&message).await.unwrap();
        client.shutdown().await.unwrap();
        let mut echoed = Vec::new();
        client.read_to_end(&mut echoed).await.unwrap();
        assert_eq!(echoed, message);
        server.await.unwrap();
    }
}
