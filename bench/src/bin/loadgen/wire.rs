//! The client's side of the wire: the opening handshake, masked frames built once ahead of
//! time, the exact bytes expected back, and the closing handshake.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use switchyard_core::deflate::{DeflateAgreement, DeflateConfig, PerMessageDeflate};
use switchyard_core::frame::mask::apply_mask;
use switchyard_core::handshake::{ClientHandshake, ClientRequest};
use switchyard_core::{FrameHeader, Limits, OpCode, Parsed};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// How long a server may take to answer anything before the run counts as failed.
pub(crate) const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A small deterministic generator for nonces, mask keys and payloads (none of which needs
/// to be unpredictable here).
pub(crate) fn scramble(seed: u64) -> u64 {
    let mut x = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "server did not answer in time")
}

/// Connects and performs the opening handshake; the core builds the request and checks the
/// 101 (status, headers, `Sec-WebSocket-Accept`).
pub(crate) async fn open(addr: SocketAddr, seed: u64) -> io::Result<TcpStream> {
    Ok(open_offering(addr, seed, None).await?.0)
}

/// [`open`], offering permessage-deflate as `deflate` says (as Chrome does with
/// [`DeflateConfig::CLIENT`]); returns what the server agreed to.
pub(crate) async fn open_offering(
    addr: SocketAddr,
    seed: u64,
    deflate: Option<DeflateConfig>,
) -> io::Result<(TcpStream, Option<DeflateAgreement>)> {
    let mut tcp = connect(addr).await?;
    let agreed = upgrade(&mut tcp, &addr.to_string(), seed, deflate).await?;
    Ok((tcp, agreed))
}

/// Connects and upgrades on `path`; returns the stream, what the server agreed to, and the
/// bytes that came after the 101's head (a route that speaks first, as `/chat` does).
pub(crate) async fn open_at(
    addr: SocketAddr,
    path: &str,
    seed: u64,
    deflate: Option<DeflateConfig>,
) -> io::Result<(TcpStream, Option<DeflateAgreement>, Vec<u8>)> {
    let mut tcp = connect(addr).await?;
    let (agreed, rest) = upgrade_at(&mut tcp, &addr.to_string(), path, seed, deflate).await?;
    Ok((tcp, agreed, rest))
}

/// A TCP connection with `TCP_NODELAY`, as every server under test has it.
pub(crate) async fn connect(addr: SocketAddr) -> io::Result<TcpStream> {
    let tcp = timeout(IO_TIMEOUT, TcpStream::connect(addr))
        .await
        .map_err(|_| timed_out())??;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// The opening handshake on a connected stream (TCP or TLS), for `/echo` at `host`. The echo
/// server speaks first only after we do: nothing may follow the head.
pub(crate) async fn upgrade<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    host: &str,
    seed: u64,
    deflate: Option<DeflateConfig>,
) -> io::Result<Option<DeflateAgreement>> {
    let (agreed, rest) = upgrade_at(io, host, "/echo", seed, deflate).await?;
    if !rest.is_empty() {
        return Err(io::Error::other("unsolicited bytes after 101"));
    }
    Ok(agreed)
}

/// The opening handshake for `path`; returns what the server agreed to and the bytes that
/// came after the 101's head.
pub(crate) async fn upgrade_at<S: AsyncRead + AsyncWrite + Unpin>(
    io: &mut S,
    host: &str,
    path: &str,
    seed: u64,
    deflate: Option<DeflateConfig>,
) -> io::Result<(Option<DeflateAgreement>, Vec<u8>)> {
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&scramble(seed).to_le_bytes());
    nonce[8..].copy_from_slice(&scramble(!seed).to_le_bytes());
    let mut handshake = ClientHandshake::with_extension(
        ClientRequest::new(host, path),
        deflate.map(PerMessageDeflate::new),
        nonce,
        Limits::DEFAULT,
    )
    .map_err(io::Error::other)?;
    let mut request = [0u8; 512];
    let len = handshake
        .write_request(&mut request)
        .map_err(|_| io::Error::other("request too long"))?;
    io.write_all(&request[..len]).await?;
    let mut response = Vec::with_capacity(512);
    loop {
        let n = timeout(IO_TIMEOUT, io.read_buf(&mut response))
            .await
            .map_err(|_| timed_out())??;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "closed during the handshake",
            ));
        }
        match handshake
            .parse_response(&response)
            .map_err(io::Error::other)?
        {
            Parsed::Partial => {}
            Parsed::Complete(_, head_len) => {
                let agreed = handshake.extension().as_ref().and_then(|n| n.agreed());
                response.drain(..head_len);
                return Ok((agreed, response));
            }
        }
    }
}

/// One client frame, masked: what a browser would send.
pub(crate) fn masked_frame(opcode: OpCode, payload: &[u8], key: [u8; 4]) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut head = [0u8; switchyard_core::frame::MAX_HEADER_LEN];
    let len = header.encode(&mut head).expect("a valid header");
    let mut frame = head[..len].to_vec();
    let start = frame.len();
    frame.extend_from_slice(payload);
    apply_mask(&mut frame[start..], key, 0);
    frame
}

/// The server's unmasked frame carrying `payload`: the exact bytes expected back.
pub(crate) fn server_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut head = [0u8; switchyard_core::frame::MAX_HEADER_LEN];
    let len = FrameHeader::new(opcode, payload.len() as u64)
        .encode(&mut head)
        .expect("a valid header");
    let mut frame = head[..len].to_vec();
    frame.extend_from_slice(payload);
    frame
}

/// The closing handshake from the client side: send a 1000 close, read the server's close
/// frame (its code must be 1000 too; nothing else may come first), then its end of stream
/// (over TCP, TLS or an HTTP/2 stream).
pub(crate) async fn close<S: AsyncRead + AsyncWrite + Unpin>(
    mut tcp: S,
    key: [u8; 4],
) -> io::Result<()> {
    // RFC 6455 §7.4.1: 1000, normal closure.
    let code = 1000u16.to_be_bytes();
    tcp.write_all(&masked_frame(OpCode::CLOSE, &code, key))
        .await?;
    let mut buf = Vec::with_capacity(256);
    let reply = timeout(IO_TIMEOUT, async {
        loop {
            if tcp.read_buf(&mut buf).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "EOF before the close frame",
                ));
            }
            let decoded = FrameHeader::decode(&buf).map_err(io::Error::other)?;
            if let Parsed::Complete(header, len) = decoded
                && buf.len() as u64 >= len as u64 + header.payload_len
            {
                return Ok((header, buf[len..].to_vec()));
            }
        }
    })
    .await
    .map_err(|_| timed_out())??;
    let (header, payload) = reply;
    if header.opcode != OpCode::CLOSE || header.mask.is_some() || payload.get(..2) != Some(&code) {
        return Err(io::Error::other(format!(
            "expected an unmasked close 1000, got {header:?} {payload:?}"
        )));
    }
    // RFC 6455 §7.1.1: the server closes the TCP connection first.
    let mut rest = [0u8; 64];
    match timeout(IO_TIMEOUT, tcp.read(&mut rest)).await {
        Ok(Ok(0)) => Ok(()),
        Ok(Ok(_)) => Err(io::Error::other("bytes after the close frame")),
        // A reset, or over TLS a server that closes without close_notify (RFC 8446 §6.1
        // makes it optional once the application protocol has said it is done).
        Ok(Err(e))
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionReset | io::ErrorKind::UnexpectedEof
            ) =>
        {
            Ok(())
        }
        Ok(Err(e)) => Err(e),
        Err(_) => Err(io::Error::other("server kept TCP open after the close")),
    }
}

/// What an idle browser tab does on an open connection: nothing, except answer the server's
/// pings (RFC 6455 §5.5.2, §5.5.3: a pong carries the ping's payload). Returns once the
/// server ends the connection: `Ok` after its close frame or end of stream.
pub(crate) async fn answer_pings(mut tcp: TcpStream, key: [u8; 4]) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    loop {
        if tcp.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        while let Parsed::Complete(header, len) =
            FrameHeader::decode(&buf).map_err(io::Error::other)?
        {
            // RFC 6455 §5.5: a control frame's payload is at most 125 bytes, so an idle
            // connection never buffers more than one such frame.
            if header.payload_len > 125 {
                return Err(io::Error::other("oversized frame on an idle connection"));
            }
            let end = len + header.payload_len as usize;
            if buf.len() < end {
                break;
            }
            match header.opcode {
                OpCode::PING => {
                    tcp.write_all(&masked_frame(OpCode::PONG, &buf[len..end], key))
                        .await?;
                }
                OpCode::CLOSE => return Ok(()),
                other => {
                    return Err(io::Error::other(format!(
                        "unexpected {other:?} frame on an idle connection"
                    )));
                }
            }
            buf.drain(..end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn idle_connection_answers_a_ping_with_its_payload_and_ends_at_close() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tcp.write_all(&server_frame(OpCode::PING, b"hi"))
                .await
                .unwrap();
            // A masked pong of 2 bytes: 2 header bytes, 4 key bytes, the payload.
            let mut pong = [0u8; 8];
            tcp.read_exact(&mut pong).await.unwrap();
            tcp.write_all(&server_frame(OpCode::CLOSE, &1000u16.to_be_bytes()))
                .await
                .unwrap();
            pong
        });
        let key = [1, 2, 3, 4];
        let client = TcpStream::connect(addr).await.unwrap();
        answer_pings(client, key).await.unwrap();
        assert_eq!(
            server.await.unwrap().to_vec(),
            masked_frame(OpCode::PONG, b"hi", key)
        );
    }

    #[tokio::test]
    async fn idle_connection_refuses_a_data_frame() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            tcp.write_all(&server_frame(OpCode::BINARY, b"x"))
                .await
                .unwrap();
            tcp
        });
        let client = TcpStream::connect(addr).await.unwrap();
        assert!(answer_pings(client, [0; 4]).await.is_err());
        drop(server.await.unwrap());
    }
}
