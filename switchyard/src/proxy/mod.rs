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
    let mut tcp = TcpStream::connect((proxy.host(), proxy.port()))
        .await
        .map_err(|e| crate::ConnectError::Proxy(ProxyError::Unreachable(e)))?;
    tcp.set_nodelay(true)
        .map_err(crate::ConnectError::Connect)?;
    match proxy.kind {
        ProxyKind::HttpConnect => http::connect(&mut tcp, proxy.credentials(), host, port).await,
        ProxyKind::Socks5 => {
            // socks5://: the name is resolved here, the proxy gets an address.
            let address = tokio::net::lookup_host((host, port))
                .await
                .map_err(crate::ConnectError::Connect)?
                .next()
                .ok_or_else(|| {
                    crate::ConnectError::Connect(std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        format!("{host} has no address"),
                    ))
                })?;
            let target = socks::Target::Address(address);
            socks::connect(&mut tcp, proxy.credentials(), target).await
        }
        ProxyKind::Socks5h => {
            let target = socks::Target::Name(host, port);
            socks::connect(&mut tcp, proxy.credentials(), target).await
        }
    }
    .map_err(crate::ConnectError::Proxy)?;
    Ok(tcp)
}
