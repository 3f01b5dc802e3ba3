//! Graceful shutdown: the signal, and the flag every connection watches.

use tokio::sync::watch;
use tracing::error;

/// Raises the flag, once.
pub(crate) struct Trigger(watch::Sender<bool>);

/// A connection's view of the flag.
#[derive(Clone)]
pub(crate) struct Shutdown(watch::Receiver<bool>);

pub(crate) fn channel() -> (Trigger, Shutdown) {
    let (tx, rx) = watch::channel(false);
    (Trigger(tx), Shutdown(rx))
}

impl Trigger {
    pub(crate) fn fire(&self) {
        self.0.send_replace(true);
    }
}

impl Shutdown {
    /// Whether the server is shutting down.
    pub(crate) fn is_draining(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the server is shutting down. Cancel-safe.
    pub(crate) async fn wait(&mut self) {
        // An error means the trigger is gone, which only happens as the server stops.
        let _ = self.0.wait_for(|draining| *draining).await;
    }
}

/// Resolves with the signal's name on SIGINT or SIGTERM.
pub(crate) async fn signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(e) => {
                error!(error = %e, "cannot watch SIGTERM; only SIGINT stops the server");
                ctrl_c().await
            }
        }
    }
    #[cfg(not(unix))]
    {
        ctrl_c().await
    }
}

async fn ctrl_c() -> &'static str {
    if let Err(e) = tokio::signal::ctrl_c().await {
        error!(error = %e, "cannot watch SIGINT");
        std::future::pending::<()>().await;
    }
    "SIGINT"
}
