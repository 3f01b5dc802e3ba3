//! HTTP CONNECT (RFC 9110 §9.3.6): `CONNECT host:port`, then a 2xx turns the connection
//! into the tunnel.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use switchyard_core::handshake::StatusCode;

use super::{Credentials, ProxyError};

/// The most a proxy's answer head may take: a refusal's head is small.
const MAX_HEAD: usize = 16 * 1024;

/// Asks the proxy on `stream` for a tunnel to `host:port`.
pub(super) async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    credentials: Option<&Credentials>,
    host: &str,
    port: u16,
) -> Result<(), ProxyError> {
    stream
        .write_all(request(credentials, host, port).as_bytes())
        .await?;
    stream.flush().await?;
    // Read one byte at a time: the head ends at its blank line, and a byte past it would
    // belong to the tunnel. The answer is a few hundred bytes, once per connection. A bare
    // LF ends a line too (RFC 9112 §2.2), as the status parse allows.
    let mut head = Vec::with_capacity(256);
    while !(head.ends_with(b"\n\n") || head.ends_with(b"\n\r\n")) {
        if head.len() == MAX_HEAD {
            return Err(ProxyError::Malformed);
        }
        let byte = stream.read_u8().await?;
        head.push(byte);
    }
    match status(&head)? {
        200..=299 => Ok(()),
        // Only the proxy answers a CONNECT, so a 401 is its own refusal too: tinyproxy
        // answers 407 to no credentials but 401 to wrong ones.
        401 | 407 => Err(ProxyError::HttpAuthRequired),
        code => Err(ProxyError::HttpRefused(StatusCode::new(code))),
    }
}

/// The request head. The authority is written `[v6]:port` for an IPv6 host.
fn request(credentials: Option<&Credentials>, host: &str, port: u16) -> String {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let mut request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n");
    if let Some(c) = credentials {
        let token = STANDARD.encode(format!("{}:{}", c.username(), c.password()));
        request.push_str(&format!("Proxy-Authorization: Basic {token}\r\n"));
    }
    request.push_str("\r\n");
    request
}

fn status(head: &[u8]) -> Result<u16, ProxyError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    match response.parse(head) {
        Ok(httparse::Status::Complete(_)) => response.code.ok_or(ProxyError::Malformed),
        _ => Err(ProxyError::Malformed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Proxy;

    #[test]
    fn writes_the_authority_and_basic_auth() {
        let proxy = Proxy::parse("http://Aladdin:open%20sesame@p").unwrap();
        assert_eq!(
            request(proxy.credentials(), "::1", 443),
            "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\
             Proxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n"
        );
        assert_eq!(
            request(None, "example.com", 80),
            "CONNECT example.com:80 HTTP/1.1\r\nHost: example.com:80\r\n\r\n"
        );
    }

    #[tokio::test]
    async fn stops_at_the_head_and_maps_the_status() {
        // The proxy answers, reads the request and hangs up.
        let answer = |bytes: &'static [u8]| async move {
            let (mut client, mut proxy) = tokio::io::duplex(1 << 16);
            tokio::spawn(async move {
                proxy.write_all(bytes).await.unwrap();
                let mut request = [0u8; 64];
                let _ = proxy.read(&mut request).await;
            });
            let result = connect(&mut client, None, "h", 1).await;
            let mut rest = Vec::new();
            if result.is_ok() {
                client.read_to_end(&mut rest).await.unwrap();
            }
            (result, rest)
        };
        let (ok, rest) = answer(b"HTTP/1.1 200 Connection established\r\n\r\nwire").await;
        assert!(ok.is_ok());
        assert_eq!(rest, b"wire");
        // Bare LF line endings (RFC 9112 §2.2).
        let (ok, rest) = answer(b"HTTP/1.0 200 Connection established\n\nwire").await;
        assert!(ok.is_ok());
        assert_eq!(rest, b"wire");
        assert!(matches!(
            answer(b"HTTP/1.1 407 Proxy Authentication Required\r\n\r\n")
                .await
                .0,
            Err(ProxyError::HttpAuthRequired)
        ));
        assert!(matches!(
            answer(b"HTTP/1.0 401 Unauthorized\r\n\r\n").await.0,
            Err(ProxyError::HttpAuthRequired)
        ));
        assert!(matches!(
            answer(b"HTTP/1.0 403 Filtered\r\nX: y\r\n\r\n").await.0,
            Err(ProxyError::HttpRefused(s)) if s.as_u16() == 403
        ));
        assert!(matches!(
            answer(b"SSH-2.0-OpenSSH\r\n\r\n").await.0,
            Err(ProxyError::Malformed)
        ));
        assert!(matches!(
            answer(b"HTTP/1.1 200 OK\r\n").await.0,
            Err(ProxyError::Io(_))
        ));
    }

    #[tokio::test]
    async fn refuses_an_endless_head() {
        let (mut client, mut proxy) = tokio::io::duplex(1 << 16);
        let feeder = tokio::spawn(async move {
            let _ = proxy.write_all(b"HTTP/1.1 200 OK\r\n").await;
            loop {
                if proxy.write_all(b"X-Pad: 0123456789\r\n").await.is_err() {
                    break;
                }
            }
        });
        let result = connect(&mut client, None, "h", 1).await;
        assert!(matches!(result, Err(ProxyError::Malformed)));
        drop(client);
        feeder.await.unwrap();
    }
}
