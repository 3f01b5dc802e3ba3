//! SIGHUP: reload the TLS certificate and key. The signal's default action kills the process,
//! which is never what an operator reloading means: without TLS it is logged and ignored.

use std::io;
use std::sync::Arc;

use tracing::info;

use crate::tls::Tls;

/// Handles every SIGHUP from now on, for as long as the runtime runs.
pub(crate) fn watch(tls: Option<Arc<Tls>>) -> io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        // Registered here, synchronously: the default action is replaced before this returns.
        let mut hangups = signal(SignalKind::hangup())?;
        tokio::spawn(async move {
            while hangups.recv().await.is_some() {
                match &tls {
                    Some(tls) => tls.reload(),
                    None => info!("SIGHUP ignored: no TLS certificate to reload"),
                }
            }
        });
    }
    #[cfg(not(unix))]
    drop(tls);
    Ok(())
}
