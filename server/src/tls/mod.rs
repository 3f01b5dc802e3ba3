//! TLS on the listener: the certificate and key (PEM files, or made at start by
//! `--tls-self-signed`), the TLS handshake under the handshake timeout, and reloading on
//! SIGHUP.
//!
//! The configuration in use sits behind a lock that each new connection reads once: a reload
//! swaps it for the next connections, and the open ones keep the session they negotiated.

mod load;
mod self_signed;
mod validity;

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::ServerConfig;
use switchyard::net::Socket;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::{info, warn};

pub(crate) use load::LoadError;

/// Where the certificate comes from.
#[derive(Debug)]
pub(crate) enum Source {
    /// `--tls-cert` and `--tls-key`: read again on SIGHUP.
    Files { cert: PathBuf, key: PathBuf },
    /// `--tls-self-signed`: made once at start; its certificate was written here.
    SelfSigned { cert: PathBuf },
}

/// The listener's TLS: what it serves, and how long a client has to finish its handshake.
pub(crate) struct Tls {
    source: Source,
    config: RwLock<Arc<ServerConfig>>,
    settings: Settings,
}

/// How the listener's TLS is set up, beyond the certificate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Settings {
    /// Offer `h2` by ALPN (not with `--no-http2`).
    pub(crate) http2: bool,
}

impl Tls {
    /// Loads `--tls-cert`/`--tls-key`, warning if the certificate has expired.
    pub(crate) fn from_files(
        cert: PathBuf,
        key: PathBuf,
        settings: Settings,
    ) -> Result<Tls, LoadError> {
        let loaded = load::from_files(&cert, &key, settings.http2)?;
        warn_if_expired(&cert, loaded.not_after);
        Ok(Tls {
            source: Source::Files { cert, key },
            config: RwLock::new(loaded.config),
            settings,
        })
    }

    /// Makes a certificate for localhost and 127.0.0.1 and writes it to a file (logged), so
    /// that a browser or client can be told to trust it.
    pub(crate) fn self_signed(settings: Settings) -> Result<Tls, LoadError> {
        let (cert, config) = self_signed::make(settings.http2)?;
        info!(
            cert = %cert.display(),
            "self-signed certificate for localhost and 127.0.0.1: trust this file to connect"
        );
        Ok(Tls {
            source: Source::SelfSigned { cert },
            config: RwLock::new(config),
            settings,
        })
    }

    /// The TLS handshake with a new client, bounded by `deadline` (the handshake timeout from
    /// the accept, which the HTTP handshake after it shares) so that a client that never
    /// finishes cannot hold a connection slot.
    pub(crate) async fn accept(
        &self,
        tcp: Socket,
        deadline: Instant,
    ) -> io::Result<TlsStream<Socket>> {
        let config = Arc::clone(&self.config.read().unwrap_or_else(PoisonError::into_inner));
        let handshake = TlsAcceptor::from(config).accept(tcp);
        tokio::time::timeout_at(deadline, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out"))?
    }

    /// SIGHUP: reads the certificate and key again and serves them to the next connections.
    /// On failure the ones in use stay, and the reason is logged.
    pub(crate) fn reload(&self) {
        match &self.source {
            Source::Files { cert, key } => match load::from_files(cert, key, self.settings.http2) {
                Ok(loaded) => {
                    warn_if_expired(cert, loaded.not_after);
                    *self.config.write().unwrap_or_else(PoisonError::into_inner) = loaded.config;
                    info!(cert = %cert.display(), "SIGHUP: certificate and key reloaded");
                }
                Err(error) => {
                    warn!(%error, "SIGHUP: reload failed; still serving the previous certificate");
                }
            },
            Source::SelfSigned { cert } => {
                info!(cert = %cert.display(), "SIGHUP: a self-signed certificate has nothing to reload");
            }
        }
    }
}

impl Drop for Tls {
    /// The self-signed certificate's file is this process's alone: it goes when the server
    /// stops.
    fn drop(&mut self) {
        if let Source::SelfSigned { cert } = &self.source {
            let _ = std::fs::remove_file(cert);
        }
    }
}

fn warn_if_expired(cert: &std::path::Path, not_after: Option<i64>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match not_after {
        Some(end) if end < now => warn!(
            cert = %cert.display(),
            expired_days_ago = (now - end) / 86_400,
            "the certificate has expired: clients that check it will refuse to connect"
        ),
        Some(_) => {}
        None => warn!(cert = %cert.display(), "cannot read the certificate's expiry date"),
    }
}
