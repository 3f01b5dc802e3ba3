//! A `wss://` echo server: [`accept`] over a `tokio_rustls` server stream.
//!
//! The library needs no TLS code of its own to serve: `accept` takes any
//! `AsyncRead + AsyncWrite` stream, so the TLS handshake happens first (bounded here by the
//! same timeout as the WebSocket handshake), then the WebSocket one runs over the decrypted
//! stream.
//!
//! ```text
//! cargo run -p switchyard --features tls --example tls_server -- cert.pem key.pem 127.0.0.1:9443
//! ```

use std::sync::Arc;

use switchyard::rustls::ServerConfig;
use switchyard::rustls::pki_types::pem::PemObject;
use switchyard::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use switchyard::{Config, accept_with_config};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(cert), Some(key)) = (args.next(), args.next()) else {
        return Err("usage: tls_server CERT.pem KEY.pem [ADDR]".into());
    };
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:9443".to_owned());

    let chain = CertificateDer::pem_file_iter(&cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(&key)?;
    let provider = Arc::new(switchyard::rustls::crypto::ring::default_provider());
    let mut tls = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // RFC 7301: the WebSocket handshake that follows is HTTP/1.1.
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));

    let listener = TcpListener::bind(&addr).await?;
    println!("wss echo on wss://{}", listener.local_addr()?);
    let config = Config::default();
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(config.handshake_timeout, acceptor.accept(tcp));
            let Ok(Ok(tls)) = handshake.await else {
                return;
            };
            let Ok((mut ws, _)) = accept_with_config(tls, &config).await else {
                return;
            };
            while let Some(Ok(message)) = ws.recv().await {
                if ws.send(message).await.is_err() {
                    break;
                }
            }
        });
    }
}
