//! `--insecure`: a TLS configuration that accepts any certificate, for trying out a server
//! with a self-made one. Signatures are still checked (the handshake stays TLS); only the
//! question "is this the server named in the URL?" goes unasked, which is why the command
//! says so loudly.

use std::sync::Arc;

use switchyard::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use switchyard::rustls::crypto::WebPkiSupportedAlgorithms;
use switchyard::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use switchyard::rustls::{ClientConfig, DigitallySignedStruct, Error, SignatureScheme};

/// The configuration `TlsRoots::Config` takes: HTTP/1.1 by ALPN, as the library's own.
pub(crate) fn config() -> Arc<ClientConfig> {
    let provider = Arc::new(switchyard::rustls::crypto::ring::default_provider());
    let verifier = AnyCertificate(provider.signature_verification_algorithms);
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// Accepts every certificate chain; checks handshake signatures as usual.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        switchyard::rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        switchyard::rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}
