//! The accept loop, the connection limit and graceful shutdown.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tracing::{info, warn};

use crate::app::App;
use crate::assets::Assets;
use crate::cli::Args;
use crate::connection;
use crate::shutdown;

/// Connections past `--max-connections` that may be waiting for their 503 at once; beyond
/// this they are closed at once, so refusing cannot cost more than serving.
const REFUSALS: u32 = 64;

pub(crate) async fn run(args: Args) -> io::Result<()> {
    let assets = Assets::new(args.www.as_deref())?;
    let listener = TcpListener::bind(args.listen).await?;
    let addr = listener.local_addr()?;
    let app = Arc::new(App::new(&args, assets));
    match &args.www {
        Some(dir) => info!(%addr, www = %dir.display(), "listening"),
        None => {
            info!(%addr, files = Assets::embedded_count(), "listening, serving the built-in page")
        }
    }
    // The one line on stdout, for scripts and tests that start the server on port 0.
    println!("switchyard listening on http://{addr}");

    let (trigger, shutdown) = shutdown::channel();
    let slots = Arc::new(Semaphore::new(args.max_connections as usize));
    let refusals = Arc::new(Semaphore::new(REFUSALS as usize));
    let signal = shutdown::signal();
    tokio::pin!(signal);
    let name = loop {
        tokio::select! {
            name = &mut signal => break name,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of file descriptors, most likely: let some connections end.
                        warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                if let Ok(slot) = Arc::clone(&slots).try_acquire_owned() {
                    let task = connection::serve(tcp, peer, Arc::clone(&app), shutdown.clone(), slot);
                    tokio::spawn(task);
                } else if let Ok(slot) = Arc::clone(&refusals).try_acquire_owned() {
                    tokio::spawn(connection::refuse_busy(tcp, peer, Arc::clone(&app), slot));
                } else {
                    drop(tcp);
                }
            }
        }
    };

    drop(listener);
    info!(
        signal = name,
        open = args.max_connections as usize - slots.available_permits(),
        "shutting down: closing every connection"
    );
    trigger.fire();
    let drained = async {
        let _all = slots.acquire_many(args.max_connections).await;
        let _refusals = refusals.acquire_many(REFUSALS).await;
    };
    match tokio::time::timeout(args.shutdown_timeout, drained).await {
        Ok(()) => info!("every connection closed"),
        Err(_) => warn!(
            open = args.max_connections as usize - slots.available_permits(),
            "shutdown deadline passed; exiting anyway"
        ),
    }
    Ok(())
}
