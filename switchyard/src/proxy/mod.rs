//! Client connections through a proxy (the `proxy` feature): HTTP CONNECT and SOCKS5.
//!
//! A proxy only ever opens a TCP tunnel to the WebSocket server; everything after that —
//! TLS for `wss://`, the opening handshake, the frames — runs inside the tunnel exactly as
//! over a direct connection, so the proxy sees the `CONNECT host:port` target and nothing
//! else. [`Proxy`] is one proxy server, given explicitly; [`ProxyEnv`] is what the
//! environment (`https_proxy`, `http_proxy`, `all_proxy`, `no_proxy`) says, read only when
//! the application asks with [`Proxy::from_env`].

mod env;
mod error;
mod http;
mod socks;
mod url;

use std::fmt;

use tokio::net::TcpStream;

use switchyard_core::url::WsUrl;

pub use env::{EnvError, NoProxy, ProxyEnv};
pub use error::{ProxyError, SocksReply};
pub use url::ProxyUrlError;

/// The protocol spoken to a proxy server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyKind {
    /// `http://`: an HTTP/1.1 `CONNECT` (RFC 9110 §9.3.6), basic auth from the URL.
    HttpConnect,
    /// `socks5://`: SOCKS5 (RFC 1928), the target's name resolved here, the proxy given
    /// an address.
    Socks5,
    /// `socks5h://`: SOCKS5 with the name sent to the proxy, which resolves it (the client
    /// may not see the target's DNS at all).
    Socks5h,
}

/// A username and password for the proxy (HTTP basic auth, or SOCKS5 username/password,
/// RFC 1929). Debug output hides the password.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    password: String,
}

impl Credentials {
    /// The username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The password.
    pub fn password(&self) -> &str {
        &self.password
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<hidden>")
            .finish()
    }
}

/// One proxy server: `http://[user:pass@]host[:port]`, `socks5://…` or `socks5h://…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    kind: ProxyKind,
    host: String,
    port: u16,
    credentials: Option<Credentials>,
}

impl Proxy {
    /// Parses a proxy URL. The scheme is `http` (the default when there is none, as in
    /// curl), `socks5` or `socks5h`; the port defaults to 80 for HTTP and 1080 for SOCKS.
    /// `user:password@` is percent-decoded. A path of `/` is allowed (`http://proxy:3128/`
    /// is common in the environment); any other path is refused.
    pub fn parse(url: &str) -> Result<Proxy, ProxyUrlError> {
        url::parse(url)
    }

    /// Reads the proxy settings of the environment (see [`ProxyEnv`]). Nothing else in the
    /// library looks at the environment.
    pub fn from_env() -> Result<ProxyEnv, EnvError> {
        ProxyEnv::from_vars(|name| std::env::var(name).ok())
    }

    /// What this proxy speaks.
    pub fn kind(&self) -> ProxyKind {
        self.kind
    }

    /// The proxy's host, without IPv6 brackets.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The credentials from the URL, if any.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }
}

/// Which proxy, if any, [`connect_with`](crate::connect_with) goes through.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyChoice {
    /// Straight to the server: the default. The environment is not read.
    #[default]
    Direct,
    /// Always through this proxy, whatever the URL (an explicit choice: `no_proxy` does not
    /// apply).
    Always(Proxy),
    /// The environment's proxy for the URL's scheme, unless `no_proxy` exempts its host.
    /// Boxed: three proxies and the `no_proxy` rules beside the other variants' one.
    Env(Box<ProxyEnv>),
}

impl ProxyChoice {
    /// The proxy to use for `url`, if any.
    pub fn for_url(&self, url: &WsUrl<'_>) -> Option<&Proxy> {
        match self {
            ProxyChoice::Direct => None,
            ProxyChoice::Always(proxy) => Some(proxy),
            ProxyChoice::Env(env) => env.for_url(url),
        }
    }
}

/// Opens a TCP connection to `proxy` and a tunnel through it to `host:port`. The stream
/// returned carries the tunnel: what is written goes to the target.
pub(crate) async fn tunnel(
    proxy: &Proxy,
    host: &str,
    port: u16,
) -> Result<TcpStream, crate::ConnectError> {
    let target = match proxy.kind {
        ProxyKind::HttpConnect => {
            let mut tcp = open(proxy).await?;
            http::connect(&mut tcp, proxy.credentials(), host, port)
                .await
                .map_err(crate::ConnectError::Proxy)?;
            return Ok(tcp);
        }
        ProxyKind::Socks5h => return socks_tunnel(proxy, socks::Target::Name(host, port)).await,
        ProxyKind::Socks5 => host,
    };
    // socks5://: the name is resolved here, the proxy gets an address. Each address in turn,
    // as a direct connection tries them (a dual-stack `localhost` is often ::1 first, where
    // the server may not listen), while the proxy says it could not reach that one.
    let addresses = tokio::net::lookup_host((target, port))
        .await
        .map_err(crate::ConnectError::Connect)?;
    socks_to_any(proxy, addresses, host).await
}

/// A SOCKS5 tunnel to the first of `addresses` the proxy reaches (of `host`'s).
async fn socks_to_any(
    proxy: &Proxy,
    addresses: impl Iterator<Item = std::net::SocketAddr>,
    host: &str,
) -> Result<TcpStream, crate::ConnectError> {
    let mut last = None;
    for address in addresses {
        match socks_tunnel(proxy, socks::Target::Address(address)).await {
            Err(crate::ConnectError::Proxy(ProxyError::SocksRefused(reply)))
                if matches!(
                    reply,
                    SocksReply::CONNECTION_REFUSED
                        | SocksReply::HOST_UNREACHABLE
                        | SocksReply::NETWORK_UNREACHABLE
                ) =>
            {
                last = Some(ProxyError::SocksRefused(reply));
            }
            other => return other,
        }
    }
    Err(match last {
        Some(refused) => crate::ConnectError::Proxy(refused),
        None => crate::ConnectError::Connect(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!("{host} has no address"),
        )),
    })
}

/// A TCP connection to the proxy.
async fn open(proxy: &Proxy) -> Result<TcpStream, crate::ConnectError> {
    let tcp = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|e| crate::ConnectError::Proxy(ProxyError::Unreachable(e)))?;
    tcp.set_nodelay(true)
        .map_err(crate::ConnectError::Connect)?;
    Ok(tcp)
}

/// A SOCKS5 tunnel to `target` on a connection of its own to the proxy.
async fn socks_tunnel(
    proxy: &Proxy,
    target: socks::Target<'_>,
) -> Result<TcpStream, crate::ConnectError> {
    let mut tcp = open(proxy).await?;
    socks::connect(&mut tcp, proxy.credentials(), target)
        .await
        .map_err(crate::ConnectError::Proxy)?;
    Ok(tcp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// socks5:// tries each address of the name in turn while the proxy says it could not
    /// reach one (a dual-stack `localhost`, ::1 first, with the server on 127.0.0.1 only).
    #[tokio::test]
    async fn socks5_tries_the_next_address_the_proxy_could_not_reach() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let proxy = Proxy::parse(&format!("socks5://{}", listener.local_addr().unwrap())).unwrap();
        // Refuses the first tunnel (connection refused), grants the second; notes each
        // address asked for.
        let script = tokio::spawn(async move {
            let mut asked = Vec::new();
            for reply in [5u8, 0] {
                let (mut tcp, _) = listener.accept().await.unwrap();
                let mut greeting = [0u8; 3];
                tcp.read_exact(&mut greeting).await.unwrap();
                tcp.write_all(&[5, 0]).await.unwrap();
                let mut request = [0u8; 10];
                tcp.read_exact(&mut request).await.unwrap();
                asked.push(request[4..8].to_vec());
                tcp.write_all(&[5, reply, 0, 1, 0, 0, 0, 0, 0, 0])
                    .await
                    .unwrap();
                if reply == 0 {
                    tcp.write_all(b"tunnel").await.unwrap();
                }
            }
            asked
        });
        let addresses = [
            "127.0.0.2:80".parse().unwrap(),
            "127.0.0.1:80".parse().unwrap(),
        ];
        let mut tcp = socks_to_any(&proxy, addresses.into_iter(), "localhost")
            .await
            .unwrap();
        let mut data = [0u8; 6];
        tcp.read_exact(&mut data).await.unwrap();
        assert_eq!(&data, b"tunnel");
        assert_eq!(
            script.await.unwrap(),
            [vec![127, 0, 0, 2], vec![127, 0, 0, 1]]
        );
    }
}
