//! The server's certificate chain and private key, from PEM, into a rustls configuration;
//! and why that failed, in words a person starting the server can act on.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::validity;

/// ALPN (RFC 7301): the protocols offered, most preferred first: HTTP/2 (where WebSockets
/// are extended CONNECT streams, RFC 8441), then HTTP/1.1.
const ALPN: [&[u8]; 2] = [b"h2", b"http/1.1"];
/// ALPN with `--no-http2`.
const ALPN_HTTP1: [&[u8]; 1] = [b"http/1.1"];

/// Why the certificate or key cannot be served.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum LoadError {
    /// A file is missing or cannot be read.
    Read { path: PathBuf, error: io::Error },
    /// The certificate file holds no PEM certificate (or a broken one).
    NoCertificate { path: PathBuf, why: String },
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 or SEC1), or a broken one.
    NoKey { path: PathBuf, why: String },
    /// The private key is not the certificate's.
    Mismatch { cert: PathBuf, key: PathBuf },
    /// rustls refused the pair for another reason (an unsupported key type).
    Rejected(rustls::Error),
    /// `--tls-self-signed`: the certificate could not be made.
    Generate(rcgen::Error),
    /// `--tls-self-signed`: the certificate could not be written for the person to trust.
    Write { path: PathBuf, error: io::Error },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            LoadError::NoCertificate { path, why } => {
                write!(
                    f,
                    "{} holds no usable PEM certificate: {why}",
                    path.display()
                )
            }
            LoadError::NoKey { path, why } => write!(
                f,
                "{} holds no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {why}",
                path.display()
            ),
            LoadError::Mismatch { cert, key } => write!(
                f,
                "the private key in {} does not match the certificate in {}",
                key.display(),
                cert.display()
            ),
            LoadError::Rejected(e) => write!(f, "the certificate or key cannot be used: {e}"),
            LoadError::Generate(e) => write!(f, "cannot make a self-signed certificate: {e}"),
            LoadError::Write { path, error } => write!(
                f,
                "cannot write the self-signed certificate to {}: {error}",
                path.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// A configuration ready to serve, and when its certificate expires (seconds since the
/// epoch; `None` if that could not be read).
pub(super) struct Loaded {
    pub(super) config: Arc<ServerConfig>,
    pub(super) not_after: Option<i64>,
}

/// Reads `cert` (the chain, leaf first) and `key` (PKCS#8, PKCS#1 or SEC1), both PEM.
pub(super) fn from_files(cert: &Path, key: &Path, http2: bool) -> Result<Loaded, LoadError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| LoadError::Read {
            path: path.to_owned(),
            error,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| LoadError::NoCertificate {
            path: cert.to_owned(),
            why: e.to_string(),
        })?;
    if chain.is_empty() {
        return Err(LoadError::NoCertificate {
            path: cert.to_owned(),
            why: pem::Error::NoItemsFound.to_string(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| LoadError::NoKey {
        path: key.to_owned(),
        why: e.to_string(),
    })?;
    let not_after = validity::not_after(&chain[0]);
    let config = config(chain, private_key, http2).map_err(|error| match error {
        rustls::Error::InconsistentKeys(_) => LoadError::Mismatch {
            cert: cert.to_owned(),
            key: key.to_owned(),
        },
        other => LoadError::Rejected(other),
    })?;
    Ok(Loaded { config, not_after })
}

/// The server configuration for a chain and its key: ring, TLS 1.2 and 1.3, no client
/// certificates, the ALPN list (`h2` first unless `http2` is off). rustls checks that the key
/// is the certificate's.
pub(super) fn config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    http2: bool,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    let alpn: &[&[u8]] = if http2 { &ALPN } else { &ALPN_HTTP1 };
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}
