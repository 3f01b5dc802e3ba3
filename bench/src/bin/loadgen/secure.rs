//! `echo --tls CA_FILE [--http2]` (the `tls` feature): the `wss://` cells over TLS with
//! HTTP/1.1, each connection its own TLS session; and the RFC 8441 cells, every WebSocket a
//! stream of one HTTP/2 connection over TLS, as a browser opens them. rustls with the ring
//! provider, as the binary has it, trusting only the benchmark's CA, the server named
//! `localhost`. Once open, a WebSocket carries the same pre-masked frames as over TCP.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use h2::client::SendRequest;
use http::{Method, Request};
use switchyard::http2::H2Stream;
use switchyard::rustls::pki_types::pem::PemObject;
use switchyard::rustls::pki_types::{CertificateDer, ServerName};
use switchyard::rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio::time::{sleep, timeout};
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::wire::{IO_TIMEOUT, connect, timed_out, upgrade};

/// The name the benchmark's certificate is for (SNI and the certificate check).
const SERVER_NAME: &str = "localhost";

/// The connection window of the HTTP/2 client, as browsers set it (Chromium's is 15 MB):
/// with the protocol's initial 64 KiB, 16 streams of 16 KiB messages would wait on one
/// another.
const CONNECTION_WINDOW: u32 = 16 << 20;

/// A client configuration trusting the PEM certificates in `ca_file` only, offering `alpn`.
pub(crate) fn client_config(ca_file: &Path, alpn: &[u8]) -> io::Result<Arc<ClientConfig>> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_file).map_err(io::Error::other)? {
        roots
            .add(cert.map_err(io::Error::other)?)
            .map_err(io::Error::other)?;
    }
    let provider = Arc::new(switchyard::rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    Ok(Arc::new(config))
}

/// TCP, then TLS; fails unless the server chose `alpn`.
async fn tls(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<TlsStream<TcpStream>> {
    let tcp = connect(addr).await?;
    let name = ServerName::try_from(SERVER_NAME).map_err(io::Error::other)?;
    let tls = timeout(
        IO_TIMEOUT,
        TlsConnector::from(Arc::clone(config)).connect(name, tcp),
    )
    .await
    .map_err(|_| timed_out())??;
    if tls.get_ref().1.alpn_protocol() != config.alpn_protocols.first().map(Vec::as_slice) {
        return Err(io::Error::other("the server chose another ALPN protocol"));
    }
    Ok(tls)
}

/// A `wss://` connection over HTTP/1.1: TLS, then the opening handshake.
pub(crate) async fn open_wss(
    addr: SocketAddr,
    seed: u64,
    config: &Arc<ClientConfig>,
) -> io::Result<TlsStream<TcpStream>> {
    let mut tls = tls(addr, config).await?;
    upgrade(&mut tls, SERVER_NAME, seed, None).await?;
    Ok(tls)
}

/// An HTTP/2 connection over TLS (`config` offering `h2`), once the server's SETTINGS have
/// allowed extended CONNECT (RFC 8441 §3). Its task runs until every stream and clone of
/// the handle is gone.
pub(crate) async fn open_http2(
    addr: SocketAddr,
    config: &Arc<ClientConfig>,
) -> io::Result<SendRequest<Bytes>> {
    let tls = tls(addr, config).await?;
    let (send, connection) = h2::client::Builder::new()
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake(tls)
        .await
        .map_err(io::Error::other)?;
    drop(tokio::task::spawn_local(connection));
    let settings = async {
        while !send.is_extended_connect_protocol_enabled() {
            sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    timeout(IO_TIMEOUT, settings)
        .await
        .map_err(|_| io::Error::other("the server did not advertise extended CONNECT"))?;
    Ok(send)
}

/// A WebSocket on a new stream of `send`'s connection: the extended CONNECT for `/echo`
/// (RFC 8441 §4) and its 200; no key, so nothing more to check (§5).
pub(crate) async fn open_stream(send: &SendRequest<Bytes>) -> io::Result<H2Stream> {
    let request = Request::builder()
        .method(Method::CONNECT)
        .uri(format!("https://{SERVER_NAME}/echo"))
        .extension(h2::ext::Protocol::from("websocket"))
        .header("sec-websocket-version", "13")
        .body(())
        .map_err(io::Error::other)?;
    let exchange = async {
        let (response, stream) = send.clone().ready().await?.send_request(request, false)?;
        Ok::<_, h2::Error>((response.await?, stream))
    };
    let (response, stream) = timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| timed_out())?
        .map_err(io::Error::other)?;
    if response.status() != http::StatusCode::OK {
        return Err(io::Error::other(format!(
            "extended CONNECT answered {}",
            response.status()
        )));
    }
    Ok(H2Stream::new(response.into_body(), stream))
}
