//! One accepted connection (TCP, or TLS over it): read the request, route it, answer it.
//!
//! The request is read and judged by the core ([`PendingUpgrade`]); a valid upgrade to a
//! WebSocket route is checked against the origin policy and accepted, anything else is
//! answered as plain HTTP (the page, `/healthz`, 404, 405) or refused with the status the
//! core chose (400, 403, 414, 426, 431) or 503 while shutting down.

use std::borrow::Cow;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use switchyard::hub::{RoomName, Subscription};
use switchyard::net::Socket;
use switchyard::{Answer, Config, HandshakeError, PendingUpgrade, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info};

use crate::app::App;
use crate::boxed::boxed;
use crate::http::{self, StatusCode, path_of};
use crate::http2::Http2;
use crate::http2::preface::{self, Rewound};
use crate::log_line::Peer;
use crate::routes::chat::query;
use crate::routes::{Closing, Route, Running, Upgrade, inspect};
use crate::shutdown::Shutdown;
use crate::tap::{ByteTap, lock};
use crate::tapped::Tapped;
use crate::transport::Transport;

/// How a connection starts.
pub(crate) enum Start {
    /// HTTP/1.1 on a plain socket, served as the socket itself: no transport enum to match
    /// on each read and write.
    Plain(Socket),
    /// HTTP/1.1 on this transport (TLS whose ALPN did not pick HTTP/2), with the deadline
    /// its TLS handshake began: the request has to arrive by it too.
    Http1(Transport, tokio::time::Instant),
    /// A plain connection that may open with the HTTP/2 preface (prior knowledge): read as
    /// HTTP/1.1, and served as HTTP/2 if what was read is the preface.
    Sniff(Socket, Http2),
}

/// Serves one connection. `slot` is its place under `--max-connections`, held until it
/// ends.
pub(crate) fn serve(
    start: Start,
    peer: SocketAddr,
    app: Arc<App>,
    shutdown: Shutdown,
    slot: OwnedSemaphorePermit,
) -> Serve<impl Future<Output = Option<Running>> + Send> {
    Serve {
        phase: Phase::Answering(boxed(|| answer(start, peer, app, shutdown))),
        _slot: slot,
    }
}

/// A connection's task: two phases, each in a box of its own size, answering the request,
/// then running the route on the WebSocket it opened. A future's size is that of its largest
/// state, and this task lives as long as the connection: were the handshake's state (the
/// request, the 101 being written) or every route's inline, each open connection would keep
/// room for them. The task is a pointer, a tag and its slot; an idle `/echo` connection is
/// its WebSocket and little else.
///
/// Written out rather than an `async` block: a block's poll keeps the state around its
/// `.await` (its locals, and a result to look at), and polled the route's future in the
/// middle of a frame of its own (saving six registers and restoring them, about 36
/// instructions per 16 B echo, callgrind). Here polling the route is the poll's last step,
/// and the route logs its own end ([`Closing`](crate::routes::Closing)).
pub(crate) struct Serve<A> {
    phase: Phase<A>,
    /// Released as the task ends.
    _slot: OwnedSemaphorePermit,
}

enum Phase<A> {
    /// Reading the request and answering it (a connection that speaks HTTP/2 is served
    /// here to its end).
    Answering(Pin<Box<A>>),
    /// A WebSocket's route, to the connection's end.
    Running(Running),
}

impl<A: Future<Output = Option<Running>>> Future for Serve<A> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if let Phase::Answering(answering) = &mut this.phase {
            match ready!(answering.as_mut().poll(cx)) {
                Some(running) => this.phase = Phase::Running(running),
                None => return Poll::Ready(()),
            }
        }
        match &mut this.phase {
            Phase::Running(running) => running.as_mut().poll(cx),
            Phase::Answering(_) => Poll::Ready(()),
        }
    }
}

/// A byte stream a connection is served over: a socket, or TLS over one.
trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for S {}

/// Reads the request and answers it: plain HTTP, a refusal, or a 101 and the WebSocket it
/// opened (its route, which then runs on its own). A connection that speaks HTTP/2 is
/// served here to its end. An `async move` block rather than an `async fn`: an async fn's
/// future keeps its arguments twice, as passed and as its body's locals
/// (rust-lang/rust#62958), and this future, allocated once per connection, would outgrow the
/// allocator's per-thread cache of small blocks (1 KiB), which costs each handshake about
/// 350 instructions (callgrind). It owns `app`, which the route it opens may share.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn answer(
    start: Start,
    peer: SocketAddr,
    app: Arc<App>,
    shutdown: Shutdown,
) -> impl Future<Output = Option<Running>> {
    async move {
        let app = &app;
        match start {
            Start::Plain(tcp) => {
                answer_http1(read(tcp, None, peer, app).await?, peer, app, shutdown).await
            }
            Start::Http1(tls, deadline) => {
                let pending = read(tls, Some(deadline), peer, app).await?;
                answer_http1(pending, peer, app, shutdown).await
            }
            Start::Sniff(tcp, http2) => {
                let pending = read(tcp, None, peer, app).await?;
                if pending.request().is_err() && preface::opens_http2(pending.received()) {
                    // The preface was read under the handshake's deadline: HTTP/2's own
                    // handshake finishes by it too.
                    let deadline = pending.deadline();
                    let (tcp, first) = pending.into_parts();
                    let rewound = Rewound::new(first, tcp);
                    Box::pin(http2.serve(rewound, peer, shutdown, deadline)).await;
                    return None;
                }
                answer_http1(pending, peer, app, shutdown).await
            }
        }
    }
}

/// Reads a request head from `stream`, by `deadline` if the handshake began before (TLS),
/// else within the handshake timeout; `None` if the client went away or said nothing in time.
/// An `async move` block, for the reason given at [`answer`], and one future to await
/// whichever the deadline.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn read<S: Stream>(
    stream: S,
    deadline: Option<tokio::time::Instant>,
    peer: SocketAddr,
    app: &App,
) -> impl Future<Output = Option<PendingUpgrade<S>>> {
    async move {
        let deadline =
            deadline.unwrap_or_else(|| tokio::time::Instant::now() + app.config.handshake_timeout);
        match PendingUpgrade::read_by(stream, Vec::new(), &app.config, deadline).await {
            Ok(pending) => Some(pending),
            Err(error) => {
                // A slow, silent or vanished client: nothing to answer.
                debug!(peer = %Peer(peer), %error, "no request");
                None
            }
        }
    }
}

/// [`answer`] over HTTP/1.1, once the request head is read.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn answer_http1<S: Stream>(
    pending: PendingUpgrade<S>,
    peer: SocketAddr,
    app: &Arc<App>,
    shutdown: Shutdown,
) -> impl Future<Output = Option<Running>> {
    async move {
        let verdict = if shutdown.is_draining() {
            Verdict::Refuse("-".to_owned(), HandshakeError::Unavailable)
        } else {
            judge(&pending, app)
        };
        // Boxed, as every branch's future: this one then holds only the state of the branch
        // taken.
        match verdict {
            Verdict::Upgrade(route, path) => {
                boxed(|| upgrade(pending, route, peer, path, app, shutdown)).await
            }
            Verdict::Refuse(path, error) => {
                Box::pin(refuse(pending, peer, &path, error)).await;
                None
            }
            Verdict::Plain(method, target) => {
                Box::pin(plain(pending, peer, app, &method, &target)).await;
                None
            }
        }
    }
}

/// What to do with a request.
enum Verdict {
    /// Upgrade to this route (at this path).
    Upgrade(Route, Cow<'static, str>),
    /// Refuse with the error's status (the path, for the log).
    Refuse(String, HandshakeError),
    /// Answer as plain HTTP (method, target).
    Plain(String, String),
}

/// Routes a request: a valid upgrade to a WebSocket route from an allowed origin is upgraded,
/// a request for anything else is plain HTTP, and the rest is refused with the core's status.
fn judge<S>(pending: &PendingUpgrade<S>, app: &App) -> Verdict {
    match pending.request() {
        Ok(request) => {
            let path = request.path();
            match Route::at(path) {
                Some(route) => match request.check_origin(&app.origin_policy()) {
                    Ok(()) => {
                        let path = route.path(path);
                        Verdict::Upgrade(route, path)
                    }
                    Err(error) => Verdict::Refuse(path.to_owned(), error),
                },
                None => Verdict::Plain("GET".to_owned(), request.target().to_owned()),
            }
        }
        // The head is complete and well-formed (the core's one parse says so): a plain HTTP
        // request, or a broken upgrade.
        Err(error) => match pending.head() {
            Some(head) => {
                let path = path_of(head.target());
                if Route::at(path).is_some() {
                    Verdict::Refuse(path.to_owned(), error)
                } else {
                    Verdict::Plain(head.method().to_owned(), head.target().to_owned())
                }
            }
            None => Verdict::Refuse("-".to_owned(), error),
        },
    }
}

/// `--max-connections` reached: answer 503 once the request is in, in the HTTP it speaks
/// (`http2`: a plain connection that may open with the HTTP/2 preface).
pub(crate) async fn refuse_busy(
    transport: Transport,
    http2: bool,
    deadline: tokio::time::Instant,
    peer: SocketAddr,
    app: Arc<App>,
    _slot: OwnedSemaphorePermit,
) {
    let read = PendingUpgrade::read_by(transport, Vec::new(), &app.config, deadline);
    let Ok(pending) = read.await else {
        return;
    };
    if http2 && pending.request().is_err() && preface::opens_http2(pending.received()) {
        let (transport, first) = pending.into_parts();
        crate::http2::refuse_busy(Rewound::new(first, transport), peer, deadline).await;
        return;
    }
    refuse(pending, peer, "-", HandshakeError::Unavailable).await;
}

async fn refuse<S: Stream>(
    pending: PendingUpgrade<S>,
    peer: SocketAddr,
    path: &str,
    error: HandshakeError,
) {
    info!(peer = %Peer(peer), path, status = error.status().as_u16(), %error, "refused");
    let _ = pending.refuse(error).await;
}

/// Accepts the upgrade to `route` and starts it: joins the chat room first (a refusal is
/// answered with its status), or sets the inspector's tap; then writes the 101. Only the
/// inspector's transport is wrapped (in [`Tapped`]): the others read and write the socket
/// itself.
///
/// This future is boxed once per connection, so it is kept within the allocator's per-thread
/// cache of small blocks (1 KiB; a larger block costs each handshake a few hundred
/// instructions more, callgrind): an `async move` block rather than an `async fn` (which
/// keeps its arguments twice), with the chat and inspector routes, whose state is larger, in
/// boxes of their own.
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn upgrade<S: Stream>(
    pending: PendingUpgrade<S>,
    route: Route,
    peer: SocketAddr,
    path: Cow<'static, str>,
    app: &Arc<App>,
    shutdown: Shutdown,
) -> impl Future<Output = Option<Running>> {
    async move {
        match route {
            Route::Echo => {
                let ws = accept(pending, &PLAIN_ANSWER, peer, &path).await?;
                let closing = Closing::opened(peer, path, None);
                Some(Upgrade::Echo.run(ws, app, shutdown, closing))
            }
            Route::Chat(room) => {
                Box::pin(upgrade_chat(pending, room, peer, path, app, shutdown)).await
            }
            Route::Inspect => Box::pin(upgrade_inspect(pending, peer, path, app, shutdown)).await,
        }
    }
}

/// The answer to an upgrade to `/echo` or a chat room: lent, so the upgrade's future holds
/// a pointer rather than an answer of its own across the 101's write.
static PLAIN_ANSWER: Answer = Answer::new();

/// [`upgrade`] to a chat room.
async fn upgrade_chat<S: Stream>(
    mut pending: PendingUpgrade<S>,
    room: RoomName,
    peer: SocketAddr,
    path: Cow<'static, str>,
    app: &Arc<App>,
    shutdown: Shutdown,
) -> Option<Running> {
    // Boxed: joining (a Redis round trip) must not weigh on the 101's write.
    match Box::pin(join(query_of(&pending), &room, app)).await {
        Ok(subscription) => {
            pending.set_limits(app.chat_limits);
            let ws = accept(pending, &PLAIN_ANSWER, peer, &path).await?;
            let closing = Closing::opened(peer, path, None);
            Some(Upgrade::Chat(subscription).run(ws, app, shutdown, closing))
        }
        Err((status, detail)) => {
            info!(peer = %Peer(peer), path = &*path, status = status.as_u16(), detail, "refused");
            let body = format!("{detail}\n");
            let _ = Box::pin(pending.respond(&http::text(status, &body, false))).await;
            None
        }
    }
}

/// [`upgrade`] to the inspector.
async fn upgrade_inspect<S: Stream>(
    pending: PendingUpgrade<S>,
    peer: SocketAddr,
    path: Cow<'static, str>,
    app: &Arc<App>,
    shutdown: Shutdown,
) -> Option<Running> {
    let mut pending = pending.map_stream(Tapped::new);
    let handshake = inspect_handshake(&mut pending, &app.config);
    let mut answer = Answer::default();
    if let Some(mut deflate) = app.config.deflate {
        // RFC 7692 §7.1.1.2: the client resets its compressor after each message, so every
        // frame the inspector shows inflates on its own.
        deflate.client_no_context_takeover = true;
        answer = answer.with_deflate(deflate);
    }
    let ws = accept(pending, &answer, peer, &path).await?;
    let closing = Closing::opened(peer, path, None);
    Some(Upgrade::Inspect(handshake).run(ws, app, shutdown, closing))
}

/// Writes the 101 for `answer`; a failure (the client went away) is logged at debug. An
/// `async move` block, for the reason given at [`upgrade`].
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn accept<'a, S: AsyncRead + AsyncWrite + Unpin + 'a>(
    pending: PendingUpgrade<S>,
    answer: &'a Answer,
    peer: SocketAddr,
    path: &'a str,
) -> impl Future<Output = Option<WebSocket<S>>> + 'a {
    async move {
        match pending.accept(answer).await {
            Ok((ws, _)) => Some(ws),
            Err(error) => {
                debug!(peer = %Peer(peer), path, %error, "handshake failed");
                None
            }
        }
    }
}

/// Joins the chat room before the upgrade, so that what cannot work is answered with a
/// status: 400 for a `since`/`epoch` the server cannot use, 503 while the rooms' backend
/// (Redis) is unreachable.
pub(crate) async fn join(
    query: Option<&str>,
    room: &RoomName,
    app: &App,
) -> Result<Subscription, (StatusCode, &'static str)> {
    let since = query::since(query).map_err(|error| (StatusCode::BAD_REQUEST, error.detail()))?;
    app.hub
        .subscribe(room, since.as_ref())
        .await
        .map_err(|error| {
            debug!(%room, %error, "chat: cannot join");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "chat rooms unavailable: the server cannot reach Redis; retry later",
            )
        })
}

/// The request's query, if it is a valid upgrade.
fn query_of<S>(pending: &PendingUpgrade<S>) -> Option<&str> {
    pending.request().ok().and_then(|request| request.query())
}

/// Sets the inspector's tap on the transport before the 101 is written: it sees the answer
/// as written, and the frames that arrived with the request as well as those after.
fn inspect_handshake<S>(
    pending: &mut PendingUpgrade<Tapped<S>>,
    config: &Config,
) -> inspect::Handshake {
    let head_len = pending.head_len().unwrap_or(0);
    let (head, leftover) = pending.received().split_at(head_len);
    let message_limit = usize::try_from(config.limits.max_message_size).unwrap_or(usize::MAX);
    let tap = Arc::new(Mutex::new(inspect::Tap::new(message_limit)));
    {
        let mut tap = lock(&tap);
        tap.on_read(leftover);
        tap.record_writes();
    }
    let (key, accept) = pending.request().map_or_else(
        |_| (String::new(), String::new()),
        |request| {
            (
                request.key().as_str().to_owned(),
                request.accept_key().as_str().to_owned(),
            )
        },
    );
    let handshake = inspect::Handshake {
        http_version: "HTTP/1.1",
        request: head.to_vec(),
        response: None,
        key,
        accept,
        message_limit,
        tap: Arc::clone(&tap),
    };
    pending.get_mut().set_tap(tap);
    handshake
}

/// A request that is not a WebSocket upgrade.
async fn plain<S: Stream>(
    pending: PendingUpgrade<S>,
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
        // With Redis, the link's state too: the node is healthy (it serves everything else)
        // while the link is down, but an operator should see it.
        let body = match app.hub.link() {
            Some(state) => format!("ok\nredis: {state}\n"),
            None => "ok\n".to_owned(),
        };
        (StatusCode::OK, http::text(StatusCode::OK, &body, head_only))
    } else {
        match app.assets.get(path).await {
            Some(asset) => {
                let head = http::head(StatusCode::OK, asset.content_type, &[], asset.len);
                info!(peer = %Peer(peer), method, path, status = 200, "http");
                // Read as it is sent, a piece at a time, each piece within the handshake
                // timeout: a large file reaches a slow client whole.
                let sent = if head_only {
                    pending.respond(&head).await
                } else {
                    pending.respond_with_body(&head, asset.body).await
                };
                if let Err(error) = sent {
                    debug!(peer = %Peer(peer), %error, "response not delivered");
                }
                return;
            }
            None => (
                StatusCode::NOT_FOUND,
                http::text(StatusCode::NOT_FOUND, "not found\n", head_only),
            ),
        }
    };
    let (status, bytes) = response;
    info!(peer = %Peer(peer), method, path, status = status.as_u16(), "http");
    if let Err(error) = pending.respond(&bytes).await {
        debug!(peer = %Peer(peer), %error, "response not delivered");
    }
}
