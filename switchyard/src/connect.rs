//! The client role: `ws://` URLs over TCP, or the handshake over any stream.
//!
//! The core builds the request and validates the answer; this module only supplies what the
//! core may not have: a nonce and masking keys from the OS RNG, a socket, and a deadline.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{Instant, timeout_at};

use switchyard_core::Parsed;
use switchyard_core::connection::Connection;
use switchyard_core::handshake::{
    ClientHandshake, ClientHandshakeError, ClientRequest, StatusCode,
};

use crate::extensions::{negotiator, with_extension};
use switchyard_core::url::WsUrl;

use crate::masks::OsMasks;
use crate::{ClientStream, Config, ConnectError, Headers, Response, WebSocket};

/// What a client asks for beyond the URL.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Limits and timers for the connection.
    pub config: Config,
    /// Subprotocols to offer, most preferred first (`Sec-WebSocket-Protocol`).
    pub protocols: Vec<String>,
    /// An `Origin` header, if the server wants one.
    pub origin: Option<String>,
    /// More request headers (authorization, cookies). Names must be tokens and values free
    /// of CR, LF and NUL, or the handshake fails before anything is sent.
    pub headers: Vec<(String, String)>,
    /// The roots a `wss://` server's certificate is checked against.
    #[cfg(feature = "tls")]
    pub tls_roots: crate::TlsRoots,
    /// For `wss://`: offer HTTP/2 by ALPN and, if the server picks it and advertises
    /// extended CONNECT, open the WebSocket as an HTTP/2 stream (RFC 8441); otherwise
    /// HTTP/1.1. (To open several on one connection, use
    /// [`Http2Connection`](crate::http2::Http2Connection).)
    #[cfg(all(feature = "http2", feature = "tls"))]
    pub http2: bool,
    /// The proxy to go through (the `proxy` feature); direct by default.
    #[cfg(feature = "proxy")]
    pub proxy: crate::proxy::ProxyChoice,
}

impl ClientOptions {
    /// Uses `config` for the connection.
    pub fn with_config(mut self, config: Config) -> ClientOptions {
        self.config = config;
        self
    }

    /// Offers a subprotocol (after those already offered).
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> ClientOptions {
        self.protocols.push(protocol.into());
        self
    }

    /// Sends an `Origin` header.
    pub fn with_origin(mut self, origin: impl Into<String>) -> ClientOptions {
        self.origin = Some(origin.into());
        self
    }

    /// Checks a `wss://` server's certificate against `roots` instead of the platform's.
    #[cfg(feature = "tls")]
    pub fn with_tls_roots(mut self, roots: crate::TlsRoots) -> ClientOptions {
        self.tls_roots = roots;
        self
    }

    /// Prefers HTTP/2 for `wss://` (see [`ClientOptions::http2`]).
    #[cfg(all(feature = "http2", feature = "tls"))]
    pub fn with_http2(mut self) -> ClientOptions {
        self.http2 = true;
        self
    }

    /// Goes through `proxy`: [`ProxyChoice::Always`](crate::proxy::ProxyChoice::Always)
    /// a given proxy, or [`ProxyChoice::Env`](crate::proxy::ProxyChoice::Env) what the
    /// environment says for each URL.
    #[cfg(feature = "proxy")]
    pub fn with_proxy(mut self, proxy: crate::proxy::ProxyChoice) -> ClientOptions {
        self.proxy = proxy;
        self
    }

    /// Adds a request header.
    pub fn with_header(
        mut self,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> ClientOptions {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Connects to a `ws://host[:port]/path` URL over TCP (or, with the `tls` feature, a
/// `wss://` URL over TLS) with the default options, and returns the connection with the
/// server's handshake [`Response`].
pub async fn connect(url: &str) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
    connect_with(url, &ClientOptions::default()).await
}

/// Connects to a `ws://` URL over TCP, or a `wss://` URL over TLS (the `tls` feature; the
/// server's certificate checked against `ClientOptions::tls_roots`). The whole of it, TCP
/// connect, TLS and WebSocket handshakes, is bounded by the handshake timeout. Without the
/// `tls` feature a `wss://` URL fails with [`ConnectError::TlsNotBuilt`].
pub async fn connect_with(
    url: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
    connect_by(
        url,
        options,
        Instant::now() + options.config.handshake_timeout,
    )
    .await
}

/// [`connect_with`] within `deadline`: a retry over HTTP/1.1 after HTTP/2 keeps the first
/// attempt's deadline.
async fn connect_by(
    url: &str,
    options: &ClientOptions,
    deadline: Instant,
) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
    let url = WsUrl::parse(url).map_err(ConnectError::Url)?;
    #[cfg(not(feature = "tls"))]
    if url.is_secure() {
        return Err(ConnectError::TlsNotBuilt);
    }
    #[cfg(feature = "tls")]
    let tls = if url.is_secure() {
        Some(
            options
                .tls_roots
                .client_config()
                .map_err(ConnectError::Tls)?,
        )
    } else {
        None
    };
    let tcp = timeout_at(deadline, open_tcp(&url, options))
        .await
        .map_err(|_| ConnectError::Timeout)??;
    #[cfg(feature = "tls")]
    let stream = match tls {
        Some(config) => {
            #[cfg(feature = "http2")]
            let config = if options.http2 {
                crate::tls::offering_h2(&config)
            } else {
                config
            };
            let tls = tls_connect(config, &url, tcp, deadline).await?;
            #[cfg(feature = "http2")]
            if tls.get_ref().1.alpn_protocol() == Some(crate::http2::client::ALPN_H2) {
                return over_http2(tls, &url, options, deadline).await;
            }
            ClientStream::Tls(Box::new(tls))
        }
        None => ClientStream::Plain(tcp),
    };
    #[cfg(not(feature = "tls"))]
    let stream = ClientStream::Plain(tcp);
    handshake(stream, ClientRequest::from_url(&url), options, deadline).await
}

/// A TCP connection to `url`'s server, or a tunnel to it through the options' proxy, with
/// `TCP_NODELAY` set.
pub(crate) async fn open_tcp(
    url: &WsUrl<'_>,
    options: &ClientOptions,
) -> Result<TcpStream, ConnectError> {
    #[cfg(feature = "proxy")]
    if let Some(proxy) = options.proxy.for_url(url) {
        return crate::proxy::tunnel(proxy, url.host(), url.port()).await;
    }
    #[cfg(not(feature = "proxy"))]
    let _ = options;
    let tcp = TcpStream::connect((url.host(), url.port()))
        .await
        .map_err(ConnectError::Connect)?;
    tcp.set_nodelay(true).map_err(ConnectError::Connect)?;
    Ok(tcp)
}

/// The TLS handshake for `url`'s host, within `deadline`.
#[cfg(feature = "tls")]
pub(crate) async fn tls_connect(
    config: std::sync::Arc<rustls::ClientConfig>,
    url: &WsUrl<'_>,
    tcp: TcpStream,
    deadline: Instant,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ConnectError> {
    timeout_at(deadline, crate::tls::connect(config, url.host(), tcp))
        .await
        .map_err(|_| ConnectError::Timeout)?
        .map_err(|failure| match failure {
            crate::tls::HandshakeFailure::Tls(e) => ConnectError::Tls(e),
            crate::tls::HandshakeFailure::Io(e) => ConnectError::Io(e),
        })
}

/// The server picked HTTP/2: the WebSocket as an extended CONNECT stream if it advertises
/// them (RFC 8441 §3), else HTTP/1.1 on a new connection.
#[cfg(all(feature = "http2", feature = "tls"))]
async fn over_http2(
    tls: tokio_rustls::client::TlsStream<TcpStream>,
    url: &WsUrl<'_>,
    options: &ClientOptions,
    deadline: Instant,
) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
    use crate::http2::Http2Connection;
    let limits = &options.config.limits;
    let connection =
        Http2Connection::handshake(tls, "https", url.authority(), limits, deadline).await?;
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    if connection.supports_websockets() {
        return connection.websocket_by(&target, options, deadline).await;
    }
    drop(connection);
    let http1 = ClientOptions {
        http2: false,
        ..options.clone()
    };
    Box::pin(connect_by(
        &format!("wss://{}{target}", url.authority()),
        &http1,
        deadline,
    ))
    .await
}

/// Performs the client's opening handshake over a stream the caller connected (a TLS stream,
/// a proxy tunnel). `host` is the `Host` header value, `target` the path and query.
pub async fn client_handshake<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    host: &str,
    target: &str,
    options: &ClientOptions,
) -> Result<(WebSocket<S>, Response), ConnectError> {
    let deadline = Instant::now() + options.config.handshake_timeout;
    handshake(stream, ClientRequest::new(host, target), options, deadline).await
}

async fn handshake<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    request: ClientRequest<'_>,
    options: &ClientOptions,
    deadline: Instant,
) -> Result<(WebSocket<S>, Response), ConnectError> {
    let protocols: Vec<&str> = options.protocols.iter().map(String::as_str).collect();
    let headers: Vec<(&str, &str)> = options
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let request = ClientRequest {
        origin: options.origin.as_deref(),
        protocols: &protocols,
        extra_headers: &headers,
        ..request
    };
    let limits = options.config.limits;
    // RFC 6455 §4.1: the nonce MUST be selected randomly for each connection.
    let mut nonce = [0u8; 16];
    getrandom::fill(&mut nonce).map_err(|e| ConnectError::Io(std::io::Error::other(e)))?;
    let mut handshake =
        ClientHandshake::with_extension(request, negotiator(&options.config), nonce, limits)
            .map_err(ConnectError::Handshake)?;
    let out = handshake.request_to_vec();
    let exchange = async {
        stream.write_all(&out).await?;
        stream.flush().await?;
        let mut buf = Vec::with_capacity(1024);
        loop {
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(ConnectError::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            match handshake.parse_response(&buf) {
                Ok(Parsed::Partial) => {
                    // The head is capped by the limits; room for one more read past it.
                    buf.reserve(1024);
                }
                Ok(Parsed::Complete(response, head_len)) => {
                    let response = accepted(response.head(), response.protocol());
                    return Ok((response, buf, head_len));
                }
                Err(error) => return Err(refused(&out, &buf, error)),
            }
        }
    };
    let (response, buf, head_len) = timeout_at(deadline, exchange)
        .await
        .map_err(|_| ConnectError::Timeout)??;
    let response = response.with_heads(&out, &buf[..head_len], &[]);
    let conn = with_extension(
        Box::new(Connection::client(limits, OsMasks::new())),
        handshake.extension(),
    );
    let protocol = response.protocol().map(Box::from);
    let traffic = crate::Traffic::handshake(buf.len(), out.len());
    let ws = WebSocket::from_parts(stream, conn, &buf[head_len..], protocol, traffic);
    Ok((ws, response))
}

/// The [`Response`] of a 101 the core validated.
fn accepted(head: &[u8], protocol: Option<&str>) -> Response {
    // The core parsed this very head, so it is a complete response.
    let (status, headers) =
        Headers::of_response(head).unwrap_or((StatusCode::SWITCHING_PROTOCOLS, Headers::default()));
    Response::new(status, headers, protocol)
}

/// The error for an answer the core refused: a status other than 101 becomes
/// [`ConnectError::Refused`] with the answer's fields, so the caller can read e.g. a
/// `Retry-After` or `WWW-Authenticate`, and the start of its body as it arrived.
fn refused(request: &[u8], buf: &[u8], error: ClientHandshakeError) -> ConnectError {
    if let ClientHandshakeError::UnexpectedStatus(_) = error
        && let Some((status, headers)) = Headers::of_response(buf)
    {
        // The head as the parser measured it (a bare-LF head included, RFC 9112 §2.2).
        let (head, body) = buf.split_at(headers.bytes().len());
        let length = headers
            .get_str("content-length")
            .and_then(|n| n.trim().parse::<usize>().ok())
            .unwrap_or(body.len());
        let body = &body[..body.len().min(length)];
        let response = Response::new(status, headers, None).with_heads(request, head, body);
        return ConnectError::Refused(Box::new(response));
    }
    ConnectError::Handshake(error)
}
