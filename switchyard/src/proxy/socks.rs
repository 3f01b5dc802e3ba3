//! SOCKS5 (RFC 1928) with username/password authentication (RFC 1929): a method
//! negotiation, perhaps a sub-negotiation, then `CONNECT`.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::{Credentials, ProxyError, SocksReply};

const VERSION: u8 = 5;
const NO_AUTH: u8 = 0;
const USERNAME_PASSWORD: u8 = 2;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
const CONNECT: u8 = 1;
const ATYP_V4: u8 = 1;
const ATYP_NAME: u8 = 3;
const ATYP_V6: u8 = 4;

/// Where the tunnel goes: an address resolved here, or a name the proxy resolves.
pub(super) enum Target<'a> {
    Address(SocketAddr),
    Name(&'a str, u16),
}

/// Negotiates a tunnel to `target` with the SOCKS5 proxy on `stream`.
pub(super) async fn connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    credentials: Option<&Credentials>,
    target: Target<'_>,
) -> Result<(), ProxyError> {
    let request = request(&target)?;
    // RFC 1928 §3: the methods offered; username/password only with credentials.
    let greeting: &[u8] = match credentials {
        Some(_) => &[VERSION, 2, NO_AUTH, USERNAME_PASSWORD],
        None => &[VERSION, 1, NO_AUTH],
    };
    stream.write_all(greeting).await?;
    let mut choice = [0u8; 2];
    stream.read_exact(&mut choice).await?;
    match (choice, credentials) {
        ([VERSION, NO_AUTH], _) => {}
        ([VERSION, USERNAME_PASSWORD], Some(credentials)) => {
            authenticate(stream, credentials).await?;
        }
        ([VERSION, NO_ACCEPTABLE_METHOD], _) => return Err(ProxyError::SocksAuthRequired),
        _ => return Err(ProxyError::Malformed),
    }
    stream.write_all(&request).await?;
    // RFC 1928 §6: VER REP RSV ATYP BND.ADDR BND.PORT. A refusal is read from the first
    // two: the proxy closes the connection after it, and what it sends after REP (often
    // nothing, or an address of no meaning) must not turn the refusal into another error.
    let mut reply = [0u8; 2];
    stream.read_exact(&mut reply).await?;
    if reply[0] != VERSION {
        return Err(ProxyError::Malformed);
    }
    let code = SocksReply::new(reply[1]);
    if code != SocksReply::SUCCEEDED {
        return Err(ProxyError::SocksRefused(code));
    }
    let mut reserved_and_type = [0u8; 2];
    stream.read_exact(&mut reserved_and_type).await?;
    let bound = match reserved_and_type[1] {
        ATYP_V4 => 4,
        ATYP_V6 => 16,
        ATYP_NAME => usize::from(stream.read_u8().await?),
        _ => return Err(ProxyError::Malformed),
    };
    // The bound address and port are of no use to a client: read past them.
    let mut skip = [0u8; 255 + 2];
    stream.read_exact(&mut skip[..bound + 2]).await?;
    Ok(())
}

/// RFC 1929 §2: VER=1 ULEN UNAME PLEN PASSWD, answered VER STATUS (0 is success).
async fn authenticate<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    credentials: &Credentials,
) -> Result<(), ProxyError> {
    let (user, pass) = (credentials.username(), credentials.password());
    // Proxy::parse refuses longer SOCKS credentials; checked again here, never truncated.
    let (Ok(user_len), Ok(pass_len)) = (u8::try_from(user.len()), u8::try_from(pass.len())) else {
        return Err(ProxyError::SocksAuthFailed);
    };
    let mut message = vec![1, user_len];
    message.extend_from_slice(user.as_bytes());
    message.push(pass_len);
    message.extend_from_slice(pass.as_bytes());
    stream.write_all(&message).await?;
    let mut status = [0u8; 2];
    stream.read_exact(&mut status).await?;
    match status {
        [1, 0] => Ok(()),
        [1, _] => Err(ProxyError::SocksAuthFailed),
        _ => Err(ProxyError::Malformed),
    }
}

/// The CONNECT request: VER CMD RSV ATYP DST.ADDR DST.PORT (RFC 1928 §4). A name that is an
/// IP address literal is sent as the address.
fn request(target: &Target<'_>) -> Result<Vec<u8>, ProxyError> {
    let mut request = vec![VERSION, CONNECT, 0];
    let port = match *target {
        Target::Address(address) => {
            push_address(&mut request, address.ip());
            address.port()
        }
        Target::Name(name, port) => {
            match name.parse::<IpAddr>() {
                Ok(address) => push_address(&mut request, address),
                Err(_) => {
                    let len = u8::try_from(name.len()).map_err(|_| ProxyError::HostTooLong)?;
                    request.extend_from_slice(&[ATYP_NAME, len]);
                    request.extend_from_slice(name.as_bytes());
                }
            }
            port
        }
    };
    request.extend_from_slice(&port.to_be_bytes());
    Ok(request)
}

fn push_address(request: &mut Vec<u8>, address: IpAddr) {
    match address {
        IpAddr::V4(v4) => {
            request.push(ATYP_V4);
            request.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => {
            request.push(ATYP_V6);
            request.extend_from_slice(&v6.octets());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Proxy;

    #[test]
    fn encodes_names_and_addresses() {
        assert_eq!(
            request(&Target::Name("ab.c", 443)).unwrap(),
            [5, 1, 0, 3, 4, b'a', b'b', b'.', b'c', 1, 187]
        );
        assert_eq!(
            request(&Target::Name("127.0.0.1", 80)).unwrap(),
            [5, 1, 0, 1, 127, 0, 0, 1, 0, 80]
        );
        let v6 = request(&Target::Address("[::1]:1".parse().unwrap())).unwrap();
        assert_eq!(v6.len(), 4 + 16 + 2);
        assert_eq!(v6[3], ATYP_V6);
        let long = "a".repeat(256);
        assert!(matches!(
            request(&Target::Name(&long, 1)),
            Err(ProxyError::HostTooLong)
        ));
    }

    /// Runs `connect` against a scripted proxy that sends `answer` whole, returning what the
    /// client wrote.
    async fn against(
        credentials: Option<&Credentials>,
        answer: &'static [u8],
    ) -> (Result<(), ProxyError>, Vec<u8>) {
        let (mut client, mut proxy) = tokio::io::duplex(1 << 16);
        proxy.write_all(answer).await.unwrap();
        // The answer ends there: a read past it sees EOF.
        proxy.shutdown().await.unwrap();
        let result = connect(&mut client, credentials, Target::Name("h", 80)).await;
        drop(client);
        let mut written = Vec::new();
        proxy.read_to_end(&mut written).await.unwrap();
        (result, written)
    }

    #[tokio::test]
    async fn negotiates_with_a_password() {
        let proxy = Proxy::parse("socks5h://u:pw@p").unwrap();
        let (result, written) = against(
            proxy.credentials(),
            &[5, 2, 1, 0, 5, 0, 0, 3, 1, b'x', 0, 1],
        )
        .await;
        assert!(result.is_ok());
        assert_eq!(
            written,
            [
                &[5, 2, 0, 2][..],
                &[1, 1, b'u', 2, b'p', b'w'],
                &[5, 1, 0, 3, 1, b'h', 0, 80]
            ]
            .concat()
        );
    }

    #[tokio::test]
    async fn maps_each_refusal() {
        let creds = Proxy::parse("socks5://u:pw@p").unwrap();
        let creds = creds.credentials();
        assert!(matches!(
            against(None, &[5, 0xff]).await.0,
            Err(ProxyError::SocksAuthRequired)
        ));
        assert!(matches!(
            against(creds, &[5, 2, 1, 1]).await.0,
            Err(ProxyError::SocksAuthFailed)
        ));
        // A proxy may not pick a method that was not offered.
        assert!(matches!(
            against(None, &[5, 2]).await.0,
            Err(ProxyError::Malformed)
        ));
        assert!(matches!(
            against(None, &[5, 0, 5, 5, 0, 1, 0, 0, 0, 0, 0, 0]).await.0,
            Err(ProxyError::SocksRefused(SocksReply::CONNECTION_REFUSED))
        ));
        assert!(matches!(
            against(None, &[4, 0]).await.0,
            Err(ProxyError::Malformed)
        ));
        assert!(matches!(
            against(None, &[5, 0, 5, 0, 0, 9]).await.0,
            Err(ProxyError::Malformed)
        ));
        assert!(matches!(
            against(None, &[5, 0, 5, 0]).await.0,
            Err(ProxyError::Io(_))
        ));
        // A refusal cut short after its code, or with an address type of no meaning, is
        // still the refusal.
        assert!(matches!(
            against(None, &[5, 0, 5, 5]).await.0,
            Err(ProxyError::SocksRefused(SocksReply::CONNECTION_REFUSED))
        ));
        assert!(matches!(
            against(None, &[5, 0, 5, 4, 0, 0]).await.0,
            Err(ProxyError::SocksRefused(SocksReply::HOST_UNREACHABLE))
        ));
    }
}
