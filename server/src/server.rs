//! The accept loop, the connection limit and graceful shutdown.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use switchyard::hub::LinkState;
use switchyard::net::{Listener, Socket};
use tokio::sync::{Semaphore, watch};
use tokio::time::Instant;
use tracing::{debug, info, warn};

use crate::app::App;
use crate::assets::Assets;
use crate::cli::Args;
use crate::connection::{self, Start};
use crate::hangup;
use crate::http2::{self, Http2};
use crate::log_batch;
use crate::log_line::Peer;
use crate::shutdown::{self, Shutdown};
use crate::tls::{self, Tls};
use crate::transport::Transport;

/// Connections past `--max-connections` that may be waiting for their 503 at once; beyond
/// this they are closed at once, so refusing cannot cost more than serving.
const REFUSALS: u32 = 64;

/// Serves until SIGINT or SIGTERM, then drains.
pub(crate) async fn run(args: Args) -> io::Result<()> {
    let tls = tls(&args).map_err(io::Error::other)?;
    let assets = Assets::new(args.www.as_deref())?;
    let listener = Listener::bind(args.listen).await?;
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
    tokio::spawn(log_batch::write_batches(&log_batch::STDERR));
    // Before the line below: from then on a signal must not kill the server.
    let mut signals = shutdown::Signals::watch();
    hangup::watch(tls.clone())?;
    // The one line on stdout, for scripts and tests that start the server on port 0.
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("switchyard listening on {scheme}://{addr}");

    let (trigger, shutdown) = shutdown::channel();
    let limits = Limits {
        slots: Arc::new(Semaphore::new(args.max_connections as usize)),
        max_connections: args.max_connections,
        refusals: Arc::new(Semaphore::new(REFUSALS as usize)),
    };
    let serving = Serving {
        http2: (!args.no_http2).then(|| Http2 {
            app: Arc::clone(&app),
            slots: Arc::clone(&limits.slots),
            max_streams: args.h2_max_streams,
        }),
        app,
        tls,
    };
    // The accept loop is a task of its own, stopped by aborting it: it then waits on the
    // listener alone, and each connection costs no poll of the signal's futures (about 450
    // instructions per handshake, callgrind).
    let accepting = tokio::spawn(accept(listener, serving, limits.clone(), shutdown));
    let name = signals.recv().await;
    let first = tokio::time::Instant::now();
    accepting.abort();
    // Once the task is gone, so is the listener: new connections are refused.
    let _ = accepting.await;
    info!(
        signal = name,
        open = limits.open(),
        "shutting down: closing every connection"
    );
    trigger.fire();
    // A second signal (Ctrl-C again) ends the wait: the operator will not wait for the
    // connections that are slow to close. Not one within a second of the first: SIGINT and
    // SIGTERM sent together (a script, a terminal signalling the process group and a wrapper
    // forwarding it) are one request to stop.
    let draining = drain(&limits, args.shutdown_timeout);
    tokio::pin!(draining);
    loop {
        tokio::select! {
            () = &mut draining => break,
            name = signals.recv() => {
                if first.elapsed() < SIGNAL_REPEAT {
                    continue;
                }
                warn!(
                    signal = name,
                    "second signal: exiting without waiting for the open connections"
                );
                break;
            }
        }
    }
    Ok(())
}

/// Signals this soon after the first one are taken as part of it, not as a second.
const SIGNAL_REPEAT: Duration = Duration::from_secs(1);

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

/// The listener's TLS, if `--tls-cert`/`--tls-key` or `--tls-self-signed` ask for it.
fn tls(args: &Args) -> Result<Option<Arc<Tls>>, tls::LoadError> {
    let settings = tls::Settings {
        http2: !args.no_http2,
    };
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Tls::from_files(cert.clone(), key.clone(), settings)?),
        _ if args.tls_self_signed => Some(Tls::self_signed(settings)?),
        _ => None,
    };
    Ok(tls.map(Arc::new))
}

/// What the accept loop hands each connection.
struct Serving {
    app: Arc<App>,
    tls: Option<Arc<Tls>>,
    /// `None` with `--no-http2`.
    http2: Option<Http2>,
}

/// The connection slots: `--max-connections` to serve, [`REFUSALS`] to refuse.
#[derive(Clone)]
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

/// Accepts connections, each in its own task, until the task is aborted.
async fn accept(listener: Listener, serving: Serving, limits: Limits, shutdown: Shutdown) {
    loop {
        match listener.accept().await {
            Ok((tcp, peer)) => dispatch(tcp, peer, &serving, &limits, &shutdown),
            Err(error) => {
                // Out of file descriptors, most likely: let some connections end.
                warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Serves a connection if a slot is free, refuses it with 503 (in the HTTP it speaks) if a
/// refusal slot is, and drops it otherwise. Over TLS, the TLS handshake comes first, in the connection's task and
/// holding its slot; ALPN then says HTTP/2 or HTTP/1.1. On a plain listener with HTTP/2 on,
/// the first bytes say which.
fn dispatch(
    tcp: Socket,
    peer: SocketAddr,
    serving: &Serving,
    limits: &Limits,
    shutdown: &Shutdown,
) {
    let _ = tcp.set_nodelay(true);
    let app = Arc::clone(&serving.app);
    if let Ok(slot) = Arc::clone(&limits.slots).try_acquire_owned() {
        let shutdown = shutdown.clone();
        match (&serving.tls, &serving.http2) {
            // The task is small (a pointer to its phase, a tag and its slot): Tokio moves it
            // by value on the way in, as cheaply as a box's pointer.
            (None, None) => {
                let start = Start::Plain(tcp);
                tokio::spawn(connection::serve(start, peer, app, shutdown, slot));
            }
            (None, Some(http2)) => {
                let start = Start::Sniff(tcp, http2.clone());
                tokio::spawn(connection::serve(start, peer, app, shutdown, slot));
            }
            (Some(tls), http2) => {
                let (tls, http2) = (Arc::clone(tls), http2.clone());
                let deadline = Instant::now() + app.config.handshake_timeout;
                tokio::spawn(async move {
                    let Some(transport) = secure(&tls, tcp, peer, deadline).await else {
                        return;
                    };
                    match http2 {
                        Some(http2) if is_h2(&transport) => {
                            Box::pin(http2.serve(transport, peer, shutdown, deadline)).await;
                            drop(slot);
                        }
                        _ => {
                            let start = Start::Http1(transport, deadline);
                            connection::serve(start, peer, app, shutdown, slot).await;
                        }
                    }
                });
            }
        }
    } else if let Ok(slot) = Arc::clone(&limits.refusals).try_acquire_owned() {
        match (&serving.tls, &serving.http2) {
            (None, http2) => {
                let plain = Transport::Plain(tcp);
                let deadline = Instant::now() + app.config.handshake_timeout;
                let task =
                    connection::refuse_busy(plain, http2.is_some(), deadline, peer, app, slot);
                tokio::spawn(task);
            }
            (Some(tls), _) => {
                let tls = Arc::clone(tls);
                let deadline = Instant::now() + app.config.handshake_timeout;
                tokio::spawn(async move {
                    let Some(transport) = secure(&tls, tcp, peer, deadline).await else {
                        return;
                    };
                    if is_h2(&transport) {
                        http2::refuse_busy(transport, peer, deadline).await;
                    } else {
                        connection::refuse_busy(transport, false, deadline, peer, app, slot).await;
                    }
                });
            }
        }
    }
}

/// Whether ALPN picked HTTP/2 (RFC 7301, RFC 9113 §3.2).
fn is_h2(transport: &Transport) -> bool {
    match transport {
        Transport::Tls(tls) => tls.get_ref().1.alpn_protocol() == Some(b"h2"),
        Transport::Plain(_) => false,
    }
}

/// The TLS handshake, by the handshake's `deadline` (the HTTP handshake after it shares it).
/// A failure is the client's (a refused certificate, a browser's spare connection closed
/// unused): logged at debug.
async fn secure(tls: &Tls, tcp: Socket, peer: SocketAddr, deadline: Instant) -> Option<Transport> {
    match tls.accept(tcp, deadline).await {
        Ok(stream) => Some(Transport::Tls(Box::new(stream))),
        Err(error) => {
            debug!(peer = %Peer(peer), %error, "TLS handshake failed");
            None
        }
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
