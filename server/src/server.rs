//! The accept loop, the connection limit and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchyard::hub::LinkState;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tracing::{info, warn};

use crate::app::App;
use crate::assets::Assets;
use crate::cli::Args;
use crate::connection;
use crate::shutdown::{self, Shutdown};

/// Connections past `--max-connections` that may be waiting for their 503 at once; beyond
/// this they are closed at once, so refusing cannot cost more than serving.
const REFUSALS: u32 = 64;

/// Serves until SIGINT or SIGTERM, then drains.
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
    if let Some(url) = &args.redis {
        info!(redis = %url, "chat rooms on redis");
        if let Some(changes) = app.hub.link_changes() {
            tokio::spawn(log_link(url.to_string(), changes));
        }
    }
    // The one line on stdout, for scripts and tests that start the server on port 0.
    println!("switchyard listening on http://{addr}");

    let (trigger, shutdown) = shutdown::channel();
    let limits = Limits {
        slots: Arc::new(Semaphore::new(args.max_connections as usize)),
        max_connections: args.max_connections,
        refusals: Arc::new(Semaphore::new(REFUSALS as usize)),
    };
    let name = accept_until_signal(&listener, &app, &limits, &shutdown).await;
    drop(listener);
    info!(
        signal = name,
        open = limits.open(),
        "shutting down: closing every connection"
    );
    trigger.fire();
    drain(&limits, args.shutdown_timeout).await;
    Ok(())
}

/// Logs each change of the Redis link's state (the hub retries with backoff by itself).
async fn log_link(url: String, mut changes: watch::Receiver<LinkState>) {
    if *changes.borrow_and_update() == LinkState::Connecting {
        info!(redis = %url, "connecting to redis (retrying with backoff until it answers)");
    }
    while changes.changed().await.is_ok() {
        let state = *changes.borrow_and_update();
        match state {
            LinkState::Up => info!(redis = %url, "redis link up"),
            _ => {
                warn!(redis = %url, %state, "redis link lost; retrying with backoff; new chat connections get 503")
            }
        }
    }
}

/// The connection slots: `--max-connections` to serve, [`REFUSALS`] to refuse.
struct Limits {
    slots: Arc<Semaphore>,
    max_connections: u32,
    refusals: Arc<Semaphore>,
}

impl Limits {
    /// Connections being served.
    fn open(&self) -> usize {
        self.max_connections as usize - self.slots.available_permits()
    }
}

/// Accepts connections, each in its own task, until a shutdown signal; returns its name.
async fn accept_until_signal(
    listener: &TcpListener,
    app: &Arc<App>,
    limits: &Limits,
    shutdown: &Shutdown,
) -> &'static str {
    let signal = shutdown::signal();
    tokio::pin!(signal);
    loop {
        tokio::select! {
            name = &mut signal => return name,
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => dispatch(tcp, peer, app, limits, shutdown),
                Err(error) => {
                    // Out of file descriptors, most likely: let some connections end.
                    warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
        }
    }
}

/// Serves a connection if a slot is free, refuses it with 503 if a refusal slot is, and
/// drops it otherwise.
fn dispatch(
    tcp: TcpStream,
    peer: SocketAddr,
    app: &Arc<App>,
    limits: &Limits,
    shutdown: &Shutdown,
) {
    if let Ok(slot) = Arc::clone(&limits.slots).try_acquire_owned() {
        let task = connection::serve(tcp, peer, Arc::clone(app), shutdown.clone(), slot);
        tokio::spawn(task);
    } else if let Ok(slot) = Arc::clone(&limits.refusals).try_acquire_owned() {
        tokio::spawn(connection::refuse_busy(tcp, peer, Arc::clone(app), slot));
    }
}

/// Waits, up to `timeout`, for every connection to end.
async fn drain(limits: &Limits, timeout: Duration) {
    let drained = async {
        let _all = limits.slots.acquire_many(limits.max_connections).await;
        let _refusals = limits.refusals.acquire_many(REFUSALS).await;
    };
    match tokio::time::timeout(timeout, drained).await {
        Ok(()) => info!("every connection closed"),
        Err(_) => warn!(
            open = limits.open(),
            "shutdown deadline passed; exiting anyway"
        ),
    }
}
