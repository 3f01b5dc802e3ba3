//! The client's side of RFC 8441: WebSockets as extended CONNECT streams, several on one
//! HTTP/2 connection.
//!
//! The server must advertise SETTINGS_ENABLE_CONNECT_PROTOCOL (§3) before a client may send
//! `:protocol`; [`Http2Connection::open`] waits for the server's first SETTINGS (a PING's
//! answer follows them) so that [`Http2Connection::supports_websockets`] is known, and
//! [`connect_with`](crate::connect_with) falls back to HTTP/1.1 when it is not.

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request};
use switchyard_core::connection::Connection;
use switchyard_core::handshake::{
    ClientHandshakeError, ExtensionNegotiator, ExtensionOffers, StatusCode,
};
use switchyard_core::url::WsUrl;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, timeout_at};

use super::H2Stream;
use crate::extensions::{negotiator, with_extension};
use crate::masks::OsMasks;
use crate::{ClientOptions, ClientStream, ConnectError, Headers, Limits, Response, WebSocket};

/// Each stream's receive window (RFC 9113 §6.9.2; h2's default, the protocol's initial 65,535
/// rounded up): at most this much of a WebSocket's input waits unread in the client.
const STREAM_WINDOW: u32 = 64 * 1024;

/// The connection's receive window: sixteen stream windows, so that up to fifteen WebSockets
/// the application has stopped reading leave room for the others on the connection.
const CONNECTION_WINDOW: u32 = 16 * STREAM_WINDOW;

/// Pings the server every `interval` (none without one) once the connection's `PingPong` is
/// handed over, and returns when an answer takes longer than `timeout`.
async fn keep_alive(
    pinger: tokio::sync::oneshot::Receiver<h2::PingPong>,
    interval: Option<std::time::Duration>,
    timeout: std::time::Duration,
) {
    let (Ok(mut ping), Some(interval)) = (pinger.await, interval) else {
        return std::future::pending().await;
    };
    loop {
        tokio::time::sleep(interval).await;
        match tokio::time::timeout(timeout, ping.ping(h2::Ping::opaque())).await {
            Ok(Ok(_)) => {}
            // An error: the connection is failing, and says so to its streams itself.
            Ok(Err(_)) => return std::future::pending().await,
            Err(_) => return,
        }
    }
}

/// The ALPN protocol of HTTP/2 (RFC 9113 §3.2).
#[cfg(feature = "tls")]
pub(crate) const ALPN_H2: &[u8] = b"h2";

/// An HTTP/2 connection to one server, on which WebSockets open as streams.
///
/// Cheap to clone: clones share the connection, which a background task drives until every
/// clone and every WebSocket on it is gone (or the server ends it).
#[derive(Clone, Debug)]
pub struct Http2Connection {
    send: SendRequest<Bytes>,
    scheme: &'static str,
    authority: String,
}

impl Http2Connection {
    /// Opens an HTTP/2 connection to the server of a `wss://` URL (TLS with ALPN `h2`; the
    /// `tls` feature) or a `ws://` URL (cleartext HTTP/2 with prior knowledge, RFC 9113 §3.3:
    /// only for a server known to speak it), through the options' proxy if one applies, as
    /// [`connect_with`](crate::connect_with) goes. Bounded by the handshake timeout. Fails
    /// with [`ConnectError::Http2NotNegotiated`] if a TLS server picks HTTP/1.1.
    pub async fn open(url: &str, options: &ClientOptions) -> Result<Http2Connection, ConnectError> {
        let url = WsUrl::parse(url).map_err(ConnectError::Url)?;
        let deadline = Instant::now() + options.config.handshake_timeout;
        let tcp = timeout_at(deadline, crate::connect::open_tcp(&url, options))
            .await
            .map_err(|_| ConnectError::Timeout)??;
        let limits = &options.config.limits;
        if !url.is_secure() {
            return Http2Connection::handshake(tcp, "http", url.authority(), limits, deadline)
                .await;
        }
        #[cfg(feature = "tls")]
        {
            let config = options
                .tls_roots
                .client_config()
                .map_err(ConnectError::Tls)?;
            let config = crate::tls::offering_h2(&config);
            let tls = crate::connect::tls_connect(config, &url, tcp, deadline).await?;
            if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
                return Err(ConnectError::Http2NotNegotiated);
            }
            Http2Connection::handshake(tls, "https", url.authority(), limits, deadline).await
        }
        #[cfg(not(feature = "tls"))]
        Err(ConnectError::TlsNotBuilt)
    }

    /// The HTTP/2 handshake on a connected stream, then the server's first SETTINGS.
    ///
    /// The connection's receive window is [`CONNECTION_WINDOW`], several streams' windows: a
    /// WebSocket the application does not read holds on to its stream's window, and with
    /// h2's default (one stream window for the whole connection) it would stop every other
    /// WebSocket on the connection. Response heads are bounded as over HTTP/1.1
    /// ([`Limits::max_header_bytes`], h2's default being 16 MiB).
    pub(crate) async fn handshake<T>(
        io: T,
        scheme: &'static str,
        authority: &str,
        limits: &Limits,
        deadline: Instant,
    ) -> Result<Http2Connection, ConnectError>
    where
        T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let max_header_list = u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX);
        let (keepalive, keepalive_timeout) = (limits.keepalive_interval, limits.keepalive_timeout);
        let settle = async {
            let (send, mut connection) = h2::client::Builder::new()
                .initial_window_size(STREAM_WINDOW)
                .initial_connection_window_size(CONNECTION_WINDOW)
                .max_header_list_size(max_header_list)
                .handshake(io)
                .await?;
            let mut ping = connection.ping_pong();
            let (give_ping, pinger) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                // Its error, if any, reaches every stream on it. The connection goes when the
                // server stops answering PINGs: h2 has no timeout of its own, and a server that
                // stopped reading would keep this task, and the socket, for ever (even once
                // every handle is gone, h2 waits to write its GOAWAY).
                tokio::select! {
                    _ = connection => {}
                    () = keep_alive(pinger, keepalive, keepalive_timeout) => {}
                }
            });
            // The server's SETTINGS come first in its preface (RFC 9113 §3.4), so the answer
            // to a PING comes after them.
            if let Some(ping) = ping.as_mut() {
                ping.ping(h2::Ping::opaque()).await?;
            }
            if let Some(ping) = ping {
                let _ = give_ping.send(ping);
            }
            send.ready().await
        };
        let send = timeout_at(deadline, settle)
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(h2_error)?;
        Ok(Http2Connection {
            send,
            scheme,
            authority: authority.to_owned(),
        })
    }

    /// Whether the server advertised extended CONNECT (RFC 8441 §3): without it, no
    /// WebSocket can open here.
    pub fn supports_websockets(&self) -> bool {
        self.send.is_extended_connect_protocol_enabled()
    }

    /// Opens a WebSocket at `target` (path and query) as a new stream, with `options`'
    /// subprotocols, origin and headers, bounded by its handshake timeout. A status other
    /// than 200 is [`ConnectError::Refused`].
    pub async fn websocket(
        &self,
        target: &str,
        options: &ClientOptions,
    ) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
        let deadline = Instant::now() + options.config.handshake_timeout;
        self.websocket_by(target, options, deadline).await
    }

    /// [`websocket`](Self::websocket), within `deadline`: a `connect` that found HTTP/2
    /// keeps the one deadline it started with.
    pub(crate) async fn websocket_by(
        &self,
        target: &str,
        options: &ClientOptions,
        deadline: Instant,
    ) -> Result<(WebSocket<ClientStream>, Response), ConnectError> {
        if !self.supports_websockets() {
            return Err(ConnectError::Http2NotNegotiated);
        }
        // Extensions as over HTTP/1.1 (RFC 8441 §5): permessage-deflate if the config has it.
        let mut negotiator = negotiator(&options.config);
        let request = self.request(target, options, negotiator.offer())?;
        let sent = fields(&request);
        let exchange = async {
            let mut send = self.send.clone().ready().await?;
            let (response, stream) = send.send_request(request, false)?;
            Ok::<_, h2::Error>((response.await?, stream))
        };
        let (response, stream) = timeout_at(deadline, exchange)
            .await
            .map_err(|_| ConnectError::Timeout)?
            .map_err(h2_error)?;
        let (parts, body) = response.into_parts();
        let headers = Headers::of_h2(&parts.headers);
        let status = StatusCode::new(parts.status.as_u16());
        // RFC 8441 §5: any 2xx completes the handshake.
        if !parts.status.is_success() {
            return Err(ConnectError::Refused(Box::new(Response::new(
                status, headers, None,
            ))));
        }
        let protocol = headers.get_str("sec-websocket-protocol").map(str::to_owned);
        if let Some(p) = &protocol
            && !options.protocols.iter().any(|offered| offered == p)
        {
            return Err(ConnectError::Handshake(
                ClientHandshakeError::UnofferedProtocol,
            ));
        }
        let answer = headers.list("sec-websocket-extensions").join(", ");
        negotiator
            .verify(ExtensionOffers::parse(&answer))
            .map_err(ConnectError::Handshake)?;
        let response =
            Response::new(status, headers, protocol.as_deref()).with_request_fields(sent);
        let io = ClientStream::Http2(Box::new(H2Stream::new(body, stream)));
        let conn = with_extension(
            Box::new(Connection::client(options.config.limits, OsMasks::new())),
            &negotiator,
        );
        let ws = WebSocket::from_parts(
            io,
            conn,
            &[],
            protocol.map(Box::from),
            crate::Traffic::default(),
        );
        Ok((ws, response))
    }

    /// The extended CONNECT (RFC 8441 §4, §5): `:protocol websocket`, the version, and
    /// what RFC 6455 negotiates; no key.
    fn request(
        &self,
        target: &str,
        options: &ClientOptions,
        extensions: Option<&str>,
    ) -> Result<Request<()>, ConnectError> {
        let invalid = |what| ConnectError::Handshake(ClientHandshakeError::InvalidRequest(what));
        let uri = format!("{}://{}{target}", self.scheme, self.authority);
        let mut request = Request::builder()
            .method(Method::CONNECT)
            .uri(uri)
            .extension(h2::ext::Protocol::from(super::PROTOCOL))
            .header("sec-websocket-version", "13");
        if !options.protocols.is_empty() {
            request = request.header("sec-websocket-protocol", options.protocols.join(", "));
        }
        if let Some(extensions) = extensions {
            request = request.header("sec-websocket-extensions", extensions);
        }
        if let Some(origin) = &options.origin {
            request = request.header("origin", origin.as_str());
        }
        for (name, value) in &options.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        request
            .body(())
            .map_err(|_| invalid("a header or the target"))
    }
}

/// The request's fields as h2 sends them: pseudo-header fields first (RFC 9113 §8.3).
fn fields(request: &Request<()>) -> Vec<(String, String)> {
    let uri = request.uri();
    let text = |v: Option<String>| v.unwrap_or_default();
    let mut fields = vec![
        (":method".to_owned(), request.method().to_string()),
        (":protocol".to_owned(), super::PROTOCOL.to_owned()),
        (
            ":scheme".to_owned(),
            text(uri.scheme_str().map(str::to_owned)),
        ),
        (
            ":authority".to_owned(),
            text(uri.authority().map(ToString::to_string)),
        ),
        (
            ":path".to_owned(),
            text(uri.path_and_query().map(ToString::to_string)),
        ),
    ];
    fields.extend(request.headers().iter().map(|(name, value)| {
        (
            name.to_string(),
            String::from_utf8_lossy(value.as_bytes()).into_owned(),
        )
    }));
    fields
}

fn h2_error(error: h2::Error) -> ConnectError {
    if error.is_io() {
        ConnectError::Io(
            error
                .into_io()
                .unwrap_or_else(|| std::io::ErrorKind::Other.into()),
        )
    } else {
        ConnectError::Io(std::io::Error::other(error))
    }
}
