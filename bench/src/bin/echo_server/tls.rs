//! The `wss://` servers (the `tls` feature): `switchyard-lib-tls` and `tungstenite-tls`, the
//! `switchyard-lib` and `tungstenite` echo servers behind the same tokio-rustls acceptor.
//! rustls with the ring provider, as the binary has it (rustls' default, aws-lc, would
//! compare two cryptographic libraries rather than two WebSocket servers); ALPN `http/1.1`,
//! the only protocol they serve.

use std::io;
use std::path::Path;
use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::library;

/// The acceptor for the certificate chain and key in these PEM files.
pub(crate) fn acceptor(cert: &Path, key: &Path) -> io::Result<TlsAcceptor> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(io::Error::other)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(io::Error::other)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(io::Error::other)?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(io::Error::other)?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The TLS handshake, then [`library::echo`] on the TLS stream.
pub(crate) async fn switchyard_lib(acceptor: TlsAcceptor, tcp: TcpStream) {
    if let Ok(tls) = acceptor.accept(tcp).await {
        library::echo(tls).await;
    }
}

/// The TLS handshake, `tokio_tungstenite::accept_async` on the TLS stream, then the
/// `Stream`/`Sink` pair, as the plain `tungstenite` peer.
pub(crate) async fn tungstenite(acceptor: TlsAcceptor, tcp: TcpStream) {
    let Ok(tls) = acceptor.accept(tcp).await else {
        return;
    };
    let Ok(mut ws) = tokio_tungstenite::accept_async(tls).await else {
        return;
    };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}
