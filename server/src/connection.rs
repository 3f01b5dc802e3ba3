//! One accepted TCP connection: read the request, route it, answer it.
//!
//! The request is read and judged by the core ([`PendingUpgrade`]); a valid upgrade to a
//! WebSocket route is checked against the origin policy and accepted, anything else is
//! answered as plain HTTP (the page, `/healthz`, 404, 405) or refused with the status the
//! core chose (400, 403, 414, 426, 431) or 503 while shutting down.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use switchyard::{Answer, CloseInfo, HandshakeError, OriginPolicy, PendingUpgrade};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info};

use crate::http::{self, StatusCode, path_of};
use crate::metered::{Counters, Metered};
use crate::routes::{Route, chat, echo, inspect};
use crate::server::App;
use crate::shutdown::Shutdown;

/// Serves one connection. `_slot` is its place under `--max-connections`, held until it ends.
pub(crate) async fn serve(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    shutdown: Shutdown,
    _slot: OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    let counters = Arc::new(Counters::default());
    let stream = Metered::new(tcp, Arc::clone(&counters));
    let pending = match PendingUpgrade::read(stream, &app.config).await {
        Ok(pending) => pending,
        Err(error) => {
            // A slow, silent or vanished client: nothing to answer.
            debug!(%peer, %error, "no request");
            return;
        }
    };
    if shutdown.is_draining() {
        Box::pin(refuse(pending, peer, "-", HandshakeError::Unavailable)).await;
        return;
    }
    match pending.request() {
        Ok(request) => {
            let target = request.head().target().to_owned();
            let path = path_of(&target);
            match Route::at(path) {
                Some(route) => {
                    let origins = &app.origins;
                    let policy = OriginPolicy {
                        allow_any: app.any_origin,
                        ..OriginPolicy::same_host_or(origins.as_slice())
                    };
                    match request.check_origin(&policy) {
                        Ok(()) => {
                            let upgrade_to = match route {
                                Route::Echo => Upgrade::Echo,
                                Route::Chat => Upgrade::Chat,
                                Route::Inspect => Upgrade::Inspect(inspect::Handshake {
                                    request: request.head().as_bytes().to_vec(),
                                    key: request.key().as_str().to_owned(),
                                    accept: request.accept_key().as_str().to_owned(),
                                }),
                            };
                            let visit = Visit {
                                peer,
                                path,
                                counters: &counters,
                            };
                            // Boxed, as every branch's future: the task then holds only
                            // the state of the branch taken.
                            Box::pin(upgrade(pending, upgrade_to, visit, &app, shutdown)).await;
                        }
                        Err(error) => Box::pin(refuse(pending, peer, path, error)).await,
                    }
                }
                None => Box::pin(plain(pending, peer, &app, "GET", &target)).await,
            }
        }
        Err(error) => match pending
            .head()
            .map(|head| (head.method().to_owned(), head.target().to_owned()))
        {
            // The head is complete and well-formed: a plain HTTP request, or a broken upgrade.
            Some((method, target)) => {
                if Route::at(path_of(&target)).is_some() {
                    Box::pin(refuse(pending, peer, path_of(&target), error)).await;
                } else {
                    Box::pin(plain(pending, peer, &app, &method, &target)).await;
                }
            }
            None => Box::pin(refuse(pending, peer, "-", error)).await,
        },
    }
}

/// `--max-connections` reached: answer 503 once the request is in.
pub(crate) async fn refuse_busy(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Arc<App>,
    _slot: OwnedSemaphorePermit,
) {
    let stream = Metered::new(tcp, Arc::default());
    if let Ok(pending) = PendingUpgrade::read(stream, &app.config).await {
        refuse(pending, peer, "-", HandshakeError::Unavailable).await;
    }
}

async fn refuse(
    pending: PendingUpgrade<Metered>,
    peer: SocketAddr,
    path: &str,
    error: HandshakeError,
) {
    info!(%peer, path, status = error.status().as_u16(), %error, "refused");
    let _ = pending.refuse(error).await;
}

/// A WebSocket route with what it needs from the handshake.
enum Upgrade {
    Echo,
    Chat,
    Inspect(inspect::Handshake),
}

/// Who asked for what, for the log lines.
struct Visit<'a> {
    peer: SocketAddr,
    path: &'a str,
    counters: &'a Counters,
}

async fn upgrade(
    mut pending: PendingUpgrade<Metered>,
    upgrade: Upgrade,
    visit: Visit<'_>,
    app: &App,
    shutdown: Shutdown,
) {
    let Visit { peer, path, .. } = visit;
    if matches!(upgrade, Upgrade::Inspect(_)) {
        // The inspector sees the answer as written, and the frames that arrived with the
        // request as well as those after.
        let leftover = pending
            .head_len()
            .map_or(&[][..], |len| &pending.received()[len..])
            .to_vec();
        let tap = pending.get_mut().tap();
        tap.on_read(&leftover);
        tap.record_writes();
    }
    // Boxed so the handshake's state is freed once the connection runs.
    let ws = match Box::pin(pending.accept(&Answer::default())).await {
        Ok(ws) => ws,
        Err(error) => {
            debug!(%peer, path, %error, "handshake failed");
            return;
        }
    };
    info!(%peer, path, "open");
    let started = Instant::now();
    let info = match upgrade {
        Upgrade::Echo => Box::pin(echo::run(ws, shutdown)).await,
        Upgrade::Chat => Box::pin(chat::run(ws, &app.room, peer, shutdown)).await,
        Upgrade::Inspect(handshake) => Box::pin(inspect::run(ws, handshake, shutdown)).await,
    };
    log_close(&visit, info.as_ref(), started);
}

fn log_close(visit: &Visit<'_>, info: Option<&CloseInfo>, started: Instant) {
    let duration_ms = started.elapsed().as_millis() as u64;
    let (code, reason, clean) = info.map_or((1006, "", false), |info| {
        (info.code.as_u16(), info.reason.as_str(), info.clean)
    });
    info!(
        peer = %visit.peer,
        path = visit.path,
        code,
        reason,
        clean,
        duration_ms,
        bytes_in = visit.counters.read(),
        bytes_out = visit.counters.written(),
        "close"
    );
}

/// A request that is not a WebSocket upgrade.
async fn plain(
    pending: PendingUpgrade<Metered>,
    peer: SocketAddr,
    app: &App,
    method: &str,
    target: &str,
) {
    let path = path_of(target);
    let head_only = method == "HEAD";
    let response = if method != "GET" && !head_only {
        (
            StatusCode::METHOD_NOT_ALLOWED,
            http::response(
                StatusCode::METHOD_NOT_ALLOWED,
                "text/plain; charset=utf-8",
                &[("Allow", b"GET, HEAD")],
                b"only GET and HEAD\n",
                false,
            ),
        )
    } else if path == "/healthz" {
        (
            StatusCode::OK,
            http::text(StatusCode::OK, "ok\n", head_only),
        )
    } else {
        match app.assets.get(path).await {
            Some(asset) => (
                StatusCode::OK,
                http::response(
                    StatusCode::OK,
                    asset.content_type,
                    &[],
                    &asset.body,
                    head_only,
                ),
            ),
            None => (
                StatusCode::NOT_FOUND,
                http::text(StatusCode::NOT_FOUND, "not found\n", head_only),
            ),
        }
    };
    let (status, bytes) = response;
    info!(%peer, method, path, status = status.as_u16(), "http");
    if let Err(error) = pending.respond(&bytes).await {
        debug!(%peer, %error, "response not delivered");
    }
}
