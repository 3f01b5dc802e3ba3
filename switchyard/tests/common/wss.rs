//! What the `wss://` tests share: rustls configurations on the ring provider with rustls'
//! safe default versions (a server presenting a test leaf, a client trusting one test CA),
//! and an echo server over them. A file of its own, included by the test binaries built with
//! TLS (`#[path]`).
#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::Arc;

use switchyard::accept;
use switchyard::rustls::crypto::ring;
use switchyard::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use switchyard::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

use crate::common::certs::{Leaf, TestCa};
use crate::common::listener;

/// A `wss://` echo server on a free loopback port presenting `leaf` (ALPN `http/1.1`),
/// serving until the test ends.
pub async fn tls_echo_server(leaf: &Leaf) -> SocketAddr {
    let acceptor = TlsAcceptor::from(Arc::new(server_config(leaf, &[b"http/1.1"])));
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok((mut ws, _)) = accept(tls).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.recv().await {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

/// A server presenting `leaf`, offering `alpn` in that order.
pub fn server_config(leaf: &Leaf, alpn: &[&[u8]]) -> ServerConfig {
    let mut config = ServerConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(leaf.cert_der.clone())],
            PrivateKeyDer::try_from(leaf.key_der.clone()).unwrap(),
        )
        .unwrap();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    config
}

/// A client trusting `ca` alone, asking for `alpn` in that order.
pub fn client_config(ca: &TestCa, alpn: &[&[u8]]) -> ClientConfig {
    let mut roots = RootCertStore::empty();
    roots.add(CertificateDer::from(ca.issuer_der())).unwrap();
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    config
}
