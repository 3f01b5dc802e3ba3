//! `wss://` for the client (the `tls` feature): which roots a server's certificate is checked
//! against, the TLS handshake, and what its failures mean.
//!
//! rustls with the ring provider does the work. By default the server's certificate is
//! verified against the platform's roots (on Linux the system store, `SSL_CERT_FILE` and
//! `SSL_CERT_DIR` honoured), loaded once per process; [`TlsRoots`] picks a CA file, the
//! compiled-in Mozilla roots (`webpki-roots` feature) or a whole
//! [`rustls::ClientConfig`] instead. The name checked against the certificate, and sent as
//! SNI (RFC 6066 §3), is the URL's host; an IP address is checked against the certificate's
//! IP addresses and sent without SNI, which may not carry one.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// Where a `wss://` client finds the roots it trusts.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum TlsRoots {
    /// The platform's certificate store (the default), read once per process.
    #[default]
    Platform,
    /// The PEM certificates in this file, and nothing else: for a private CA or a
    /// self-signed server (such as `switchyard --tls-self-signed`'s).
    CaFile(PathBuf),
    /// Mozilla's roots as compiled into the `webpki-roots` crate: for a machine without a
    /// CA store (a scratch container). They age with the crate's version.
    #[cfg(feature = "webpki-roots")]
    WebPki,
    /// A complete rustls configuration, used as is (its ALPN list included: offer
    /// `http/1.1` or nothing, since the handshake that follows is HTTP/1.1).
    Config(Arc<ClientConfig>),
}

/// Why the TLS part of a `wss://` connection failed: the certificate failures a user can act
/// on have their own variants.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate chain leads to no trusted root (a self-signed certificate, a private
    /// CA not in [`TlsRoots`]).
    UntrustedCertificate,
    /// The certificate is valid, but not for the host in the URL.
    NameMismatch {
        /// The host the client asked for.
        host: String,
    },
    /// The certificate has expired (or is not valid yet).
    ExpiredCertificate,
    /// The URL's host cannot be a TLS server name.
    InvalidServerName(String),
    /// The roots could not be loaded: the platform store is empty or unreadable, or the CA
    /// file is missing, unreadable or holds no certificate.
    Roots(io::Error),
    /// Any other failure of the TLS handshake (an alert from the server, a protocol
    /// version or cipher suite in common with none, another certificate problem).
    Handshake(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::UntrustedCertificate => {
                f.write_str("the server's certificate is not signed by a trusted root")
            }
            TlsError::NameMismatch { host } => {
                write!(f, "the server's certificate is not valid for {host}")
            }
            TlsError::ExpiredCertificate => {
                f.write_str("the server's certificate has expired or is not valid yet")
            }
            TlsError::InvalidServerName(host) => {
                write!(f, "{host:?} cannot be a TLS server name")
            }
            TlsError::Roots(e) => write!(f, "cannot load the trusted roots: {e}"),
            TlsError::Handshake(e) => write!(f, "TLS handshake failed: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Roots(e) => Some(e),
            TlsError::Handshake(e) => Some(e),
            _ => None,
        }
    }
}

/// The transport failure of a TLS handshake: a [`TlsError`] when rustls refused, else the
/// I/O error itself.
pub(crate) enum HandshakeFailure {
    Tls(TlsError),
    Io(io::Error),
}

/// The ALPN protocol of the HTTP/1.1 handshake (RFC 7301 §3.1): a server that also speaks h2
/// then knows which one follows.
const HTTP_1_1: &[u8] = b"http/1.1";

impl TlsRoots {
    /// The client configuration for these roots.
    pub(crate) fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        match self {
            TlsRoots::Platform => {
                type Loaded = Result<Arc<ClientConfig>, (io::ErrorKind, String)>;
                static PLATFORM: OnceLock<Loaded> = OnceLock::new();
                PLATFORM
                    .get_or_init(|| {
                        platform_roots()
                            .map(config_with)
                            .map_err(|e| (e.kind(), e.to_string()))
                    })
                    .clone()
                    .map_err(|(kind, why)| TlsError::Roots(io::Error::new(kind, why)))
            }
            TlsRoots::CaFile(path) => ca_file_roots(path)
                .map(config_with)
                .map_err(TlsError::Roots),
            #[cfg(feature = "webpki-roots")]
            TlsRoots::WebPki => Ok(config_with(RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            })),
            TlsRoots::Config(config) => Ok(Arc::clone(config)),
        }
    }
}

/// `config`, offering HTTP/2 before HTTP/1.1 by ALPN.
#[cfg(feature = "http2")]
pub(crate) fn offering_h2(config: &Arc<ClientConfig>) -> Arc<ClientConfig> {
    let mut config = ClientConfig::clone(config);
    config.alpn_protocols = vec![crate::http2::client::ALPN_H2.to_vec(), HTTP_1_1.to_vec()];
    Arc::new(config)
}

fn config_with(roots: RootCertStore) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![HTTP_1_1.to_vec()];
    Arc::new(config)
}

fn platform_roots() -> io::Result<RootCertStore> {
    let found = rustls_native_certs::load_native_certs();
    let mut roots = RootCertStore::empty();
    let (added, _ignored) = roots.add_parsable_certificates(found.certs);
    if added == 0 {
        let why = found.errors.first().map_or_else(
            || "the platform store is empty".to_owned(),
            ToString::to_string,
        );
        return Err(io::Error::new(io::ErrorKind::NotFound, why));
    }
    Ok(roots)
}

fn ca_file_roots(path: &Path) -> io::Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| pem_error(path, e))?;
    for cert in certs {
        roots
            .add(cert.map_err(|e| pem_error(path, e))?)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    }
    if roots.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(roots)
}

fn pem_error(path: &Path, error: rustls::pki_types::pem::Error) -> io::Error {
    match error {
        rustls::pki_types::pem::Error::Io(e) => {
            io::Error::new(e.kind(), format!("{}: {e}", path.display()))
        }
        other => io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {other}", path.display()),
        ),
    }
}

/// The TLS handshake for `host` on `tcp`.
pub(crate) async fn connect(
    config: Arc<ClientConfig>,
    host: &str,
    tcp: TcpStream,
) -> Result<TlsStream<TcpStream>, HandshakeFailure> {
    // A bracketed IPv6 literal in a URL is an address, not a name.
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(bare.to_owned())
        .map_err(|_| HandshakeFailure::Tls(TlsError::InvalidServerName(host.to_owned())))?;
    TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .map_err(|e| classify(e, host))
}

/// Names the certificate failures rustls reports inside the I/O error.
fn classify(error: io::Error, host: &str) -> HandshakeFailure {
    use rustls::CertificateError as C;
    let Some(tls) = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    else {
        return HandshakeFailure::Io(error);
    };
    HandshakeFailure::Tls(match tls {
        rustls::Error::InvalidCertificate(C::UnknownIssuer) => TlsError::UntrustedCertificate,
        rustls::Error::InvalidCertificate(
            C::NotValidForName | C::NotValidForNameContext { .. },
        ) => TlsError::NameMismatch {
            host: host.to_owned(),
        },
        rustls::Error::InvalidCertificate(
            C::Expired | C::ExpiredContext { .. } | C::NotValidYet | C::NotValidYetContext { .. },
        ) => TlsError::ExpiredCertificate,
        other => TlsError::Handshake(other.clone()),
    })
}
