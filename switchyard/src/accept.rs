//! The server role: reading a handshake request, answering it, and handing over to the frames.
//!
//! The core parses the request once ([`RequestParser::parse_index`]) and validates it, writes
//! the 101 answer ([`response_to_vec`](switchyard_core::handshake::Request::response_to_vec))
//! and every refusal ([`HandshakeError::response_to_vec`]); this
//! module reads and writes those bytes under the handshake timeout. [`accept`] does it all;
//! [`PendingUpgrade`] stops after reading, for a server that also speaks plain HTTP or wants
//! to decide per request.

use std::future::poll_fn;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use switchyard_core::Parsed;
use switchyard_core::connection::Connection;
use switchyard_core::handshake::{
    self, ExtensionNegotiator, HandshakeError, OriginPolicy, RequestHead, RequestIndex,
    RequestParser, WriteError,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::time::{Instant, timeout_at};

use crate::extensions::{Negotiator, negotiator, with_extension};
use crate::{AcceptError, Config, Limits, Request, WebSocket};

/// After answering as plain HTTP, how long to read and discard what the client still sends.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 64 * 1024;
/// How much of a streamed body ([`PendingUpgrade::respond_with_body`]) is read and written at
/// a time: what the server holds of it.
const BODY_PIECE: usize = 16 * 1024;
/// Room on the stack for each read of a request head: most heads, a browser's with its
/// cookies too, arrive whole in one read.
const HEAD_READ: usize = 4096;

/// How to answer a request that is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// The subprotocol selected; it must be one the client offered
    /// ([`Request::select_protocol`] picks one).
    pub protocol: Option<String>,
    /// More response headers. Names must be tokens and values free of CR, LF and NUL.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate settings for this connection, in place of [`Config::deflate`]
    /// (a route whose messages are better inflated one by one, say).
    #[cfg(feature = "deflate")]
    pub deflate: Option<switchyard_core::deflate::DeflateConfig>,
}

impl Answer {
    /// The plain answer, as [`Answer::default`]: no subprotocol, no extra headers, the
    /// config's extensions. A `const fn`, so a server can keep one in a `static` and lend
    /// it to every [`PendingUpgrade::accept`] rather than build one per connection.
    pub const fn new() -> Answer {
        Answer {
            protocol: None,
            headers: Vec::new(),
            #[cfg(feature = "deflate")]
            deflate: None,
        }
    }

    /// Selects a subprotocol.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Answer {
        self.protocol = Some(protocol.into());
        self
    }

    /// Negotiates permessage-deflate with `deflate` for this connection, whatever
    /// [`Config::deflate`] says.
    #[cfg(feature = "deflate")]
    pub fn with_deflate(mut self, deflate: switchyard_core::deflate::DeflateConfig) -> Answer {
        self.deflate = Some(deflate);
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Accepts a WebSocket connection with the default [`Config`]: reads the request, refuses
/// it with its HTTP status if the core finds it invalid, and answers 101. Returns the
/// connection and the [`Request`] it accepted (path, query, headers).
///
/// **Strict by default:** a request whose `Origin` is not its own `Host`
/// ([`OriginPolicy::SAME_HOST`], RFC 6455 §10.2) is refused with 403, so a page on another
/// site cannot open a connection with the user's cookies; requests without `Origin`
/// (non-browser clients) are accepted. Use [`accept_with`] to allow other origins.
pub fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
) -> impl Future<Output = Result<(WebSocket<S>, Request), AcceptError>> {
    accept_with_config(stream, &Config::default())
}

/// [`accept`] with limits and timers from `config`. The whole handshake is bounded by
/// [`Config::handshake_timeout`].
pub fn accept_with_config<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &Config,
) -> impl Future<Output = Result<(WebSocket<S>, Request), AcceptError>> + use<S> {
    accept_with(stream, config, |request| {
        request.check_origin(&OriginPolicy::SAME_HOST)?;
        Ok(Answer::default())
    })
}

/// Accepts a WebSocket connection, letting `decide` check each valid request (its origin,
/// path, subprotocols, credentials) and answer it or refuse it with a [`HandshakeError`]
/// (e.g. [`HandshakeError::ForbiddenOrigin`] for 403). `decide` applies no origin policy of
/// its own accord: call [`Request::check_origin`] in it.
///
/// The handshake runs in a box of its own, freed when it ends: a caller that accepts and
/// then serves the connection in one task (the usual way) has a future as large as its
/// largest state, for as long as the connection lives, and this way that state is a pointer
/// rather than the request and the response being written.
pub fn accept_with<S, F>(
    stream: S,
    config: &Config,
    decide: F,
) -> impl Future<Output = Result<(WebSocket<S>, Request), AcceptError>> + use<S, F>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request) -> Result<Answer, HandshakeError>,
{
    let config = *config;
    // Allocated before the future is made, so it is made in the allocation: `Box::pin` of
    // the future copied it in whole (callgrind: 60 instructions per handshake).
    let allocation = Box::new_uninit();
    Box::into_pin(Box::write(allocation, async move {
        let mut stream = stream;
        let mut buf = Vec::new();
        let deadline = Instant::now() + config.handshake_timeout;
        let parsed = read_head(&mut stream, &mut buf, &config, deadline).await?;
        // One view of the request, decided on and answered before anything is awaited (a
        // `PendingUpgrade` is viewed twice: once to read, then in its copy to answer).
        let (outcome, request) = match parsed.and_then(|index| index.request(&buf)) {
            Ok(view) => {
                let request = Request::from_core(&view);
                let outcome = decide(&request)
                    .map_err(ResponseError::Refused)
                    .and_then(|answer| prepare(&view, &answer, &config));
                (outcome, Some(request))
            }
            Err(error) => (Err(ResponseError::Refused(error)), None),
        };
        let ws = conclude(stream, &buf, deadline, outcome).await?;
        // `conclude` succeeds only with an accepted request.
        let request = request.ok_or(AcceptError::Refused(HandshakeError::Malformed))?;
        Ok((ws, request))
    }))
}

/// A request read from a stream and judged by the core, not answered yet.
///
/// For servers that route before upgrading: read with [`read`](Self::read), look at
/// [`request`](Self::request) (the validated upgrade, or why it is not one) or at the raw
/// [`received`](Self::received) bytes, then [`accept`](Self::accept),
/// [`refuse`](Self::refuse), or take the stream back with [`into_parts`](Self::into_parts)
/// to answer as plain HTTP.
#[derive(Debug)]
pub struct PendingUpgrade<S> {
    stream: S,
    /// On the heap: a server moves a pending upgrade from the read to the routing to the
    /// answer, and each move of the request's index, its copy and the config inline was a
    /// `memcpy` of some hundreds of bytes (callgrind).
    read: Box<Read>,
}

/// What [`PendingUpgrade`] read and found.
#[derive(Debug)]
struct Read {
    buf: Vec<u8>,
    /// The one parse of the head in `buf`: views of it never parse again.
    parsed: Result<RequestIndex, HandshakeError>,
    /// The validated upgrade, copied out once for the application, or why there is none.
    request: Result<Request, HandshakeError>,
    config: Config,
    deadline: Instant,
}

impl<S> PendingUpgrade<S> {
    /// The validated upgrade request, or the core's reason to refuse it. Every error but
    /// `RequestLineTooLong`, `HeadTooLarge` and `TooManyHeaders` comes from a complete head,
    /// which may still be a valid plain HTTP request.
    pub fn request(&self) -> Result<&Request, HandshakeError> {
        self.read.request.as_ref().map_err(|error| *error)
    }

    /// The request as HTTP (method, target, headers), if the head was complete and
    /// well-formed, upgrade or not: what a server answering plain HTTP routes on.
    pub fn head(&self) -> Option<RequestHead<'_>> {
        self.read.parsed.ok()?.head(&self.read.buf)
    }

    /// The length of the complete request head, if the core found a well-formed one.
    pub fn head_len(&self) -> Option<usize> {
        self.read.parsed.ok().map(|index| index.head_len())
    }

    /// When the handshake's time runs out: the answer is written by then. A server that finds
    /// another protocol in what was read (the HTTP/2 preface) bounds that one's handshake by
    /// it too.
    pub fn deadline(&self) -> Instant {
        self.read.deadline
    }

    /// Every byte read: the head, and any bytes after it.
    pub fn received(&self) -> &[u8] {
        &self.read.buf
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The same pending upgrade over `f(stream)`: a server that wraps the stream only for
    /// some routes (to watch or count its bytes, say) does so after routing, and the others
    /// keep the bare stream.
    pub fn map_stream<T>(self, f: impl FnOnce(S) -> T) -> PendingUpgrade<T> {
        PendingUpgrade {
            stream: f(self.stream),
            read: self.read,
        }
    }

    /// The stream and every byte read from it, to answer as plain HTTP.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.read.buf)
    }

    /// Replaces the limits the connection runs under once accepted: a route that takes
    /// smaller messages than the server's default (a chat line, say) then refuses a larger
    /// one with 1009 before buffering it.
    pub fn set_limits(&mut self, limits: Limits) {
        self.read.config.limits = limits;
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> PendingUpgrade<S> {
    /// Reads until the request head is complete or the core refuses it (too large, not an
    /// upgrade...). Fails only if the transport does, ends early
    /// ([`std::io::ErrorKind::UnexpectedEof`]), or the handshake timeout runs out
    /// ([`AcceptError::Timeout`]).
    ///
    /// This, [`read_after`](Self::read_after) and [`read_by`](Self::read_by) return one
    /// future, [`read_by`](Self::read_by)'s, rather than each an `async fn`'s around the next:
    /// every layer kept its arguments twice and the one below (a server that boxes the
    /// handshake's future then allocated 1,120 bytes rather than 850, past glibc's per-thread
    /// cache of small blocks).
    pub fn read(
        stream: S,
        config: &Config,
    ) -> impl Future<Output = Result<PendingUpgrade<S>, AcceptError>> {
        PendingUpgrade::read_after(stream, Vec::new(), config)
    }

    /// Like [`read`](Self::read), for a stream whose first bytes an HTTP layer already read:
    /// they are `already_read`, and the rest comes from the stream. The handshake timeout
    /// runs from this call.
    pub fn read_after(
        stream: S,
        already_read: Vec<u8>,
        config: &Config,
    ) -> impl Future<Output = Result<PendingUpgrade<S>, AcceptError>> {
        let deadline = Instant::now() + config.handshake_timeout;
        PendingUpgrade::read_by(stream, already_read, config, deadline)
    }

    /// Like [`read_after`](Self::read_after), with the handshake ending at `deadline` rather
    /// than [`Config::handshake_timeout`] from now: for a server whose transport has a
    /// handshake of its own first (TLS), bounded by the same deadline, so that a slow client
    /// gets one handshake timeout in all rather than one for each layer. The answer is
    /// written by the same deadline (see [`deadline`](Self::deadline)).
    ///
    /// (An `async move` block rather than an `async fn`, which would keep its arguments twice
    /// in the future, rust-lang/rust#62958.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice"
    )]
    pub fn read_by(
        stream: S,
        already_read: Vec<u8>,
        config: &Config,
        deadline: Instant,
    ) -> impl Future<Output = Result<PendingUpgrade<S>, AcceptError>> {
        async move {
            let mut stream = stream;
            let mut buf = already_read;
            let parsed = read_head(&mut stream, &mut buf, config, deadline).await?;
            // The index and the view (some 200 and 400 bytes) are looked at where they lie:
            // passed through `and_then` and `map`, each was copied (callgrind).
            let request = match &parsed {
                Ok(index) => match &index.request(&buf) {
                    Ok(view) => Ok(Request::from_core(view)),
                    Err(error) => Err(*error),
                },
                Err(error) => Err(*error),
            };
            Ok(PendingUpgrade {
                stream,
                // Allocated before it is built, so it is built in the allocation rather than
                // built and copied in (as `Box::new` does with a value made first).
                read: Box::write(
                    Box::new_uninit(),
                    Read {
                        buf,
                        parsed,
                        request,
                        config: *config,
                        deadline,
                    },
                ),
            })
        }
    }

    /// Answers 101 and starts the connection; returns it with the request it answered. A
    /// request the core refused is refused instead (its response written) and returned as
    /// [`AcceptError::Refused`]; an `answer` the core cannot write fails with
    /// [`AcceptError::Answer`] before anything is sent.
    ///
    /// (An `async move` block rather than an `async fn`, which would keep its arguments twice
    /// in the future, rust-lang/rust#62958.)
    #[expect(
        clippy::manual_async_fn,
        reason = "an async fn keeps its arguments twice"
    )]
    pub fn accept(
        self,
        answer: &Answer,
    ) -> impl Future<Output = Result<(WebSocket<S>, Request), AcceptError>> {
        async move {
            // The answer is worked out where the request lies, in its box, which this future
            // keeps (a pointer) until the request is handed back: moved out, the request, its
            // index and the config were a dozen copies of some hundreds of bytes (callgrind).
            let PendingUpgrade { stream, mut read } = self;
            let outcome = read.answer(answer);
            let ws = conclude(stream, &read.buf, read.deadline, outcome).await?;
            let request = std::mem::replace(&mut read.request, Err(HandshakeError::Malformed));
            // `conclude` succeeds only with an accepted request.
            Ok((ws, request.map_err(AcceptError::Refused)?))
        }
    }

    /// Refuses the request with the core's response for `error` (its status, a one-line
    /// body, `Connection: close`), then closes the connection as [`respond`](Self::respond)
    /// does.
    pub async fn refuse(mut self, error: HandshakeError) -> Result<(), AcceptError> {
        refuse(&mut self.stream, self.read.deadline, error).await
    }

    /// Answers as plain HTTP: writes `response` (a complete response, which should say
    /// `Connection: close`), shuts down the write side, and reads and discards what the client
    /// still sends for up to a second, so closing does not reset the connection and destroy
    /// the response before the client reads it.
    pub async fn respond(mut self, response: &[u8]) -> Result<(), AcceptError> {
        respond(&mut self.stream, self.read.deadline, response).await
    }

    /// Answers as plain HTTP with a body read from `body` (a file): for a body too large to
    /// hold in memory, or to send by the handshake's deadline. `head` (which should say
    /// `Content-Length` and `Connection: close`) is written by that deadline; then the body
    /// goes out a piece at a time, each written within [`Config::handshake_timeout`], so a
    /// client that reads slowly but steadily gets all of it and one that stops reading is cut
    /// off, while the server holds one piece, not the body. Then the connection closes as
    /// [`respond`](Self::respond) closes it. A failure to read `body` is
    /// [`AcceptError::Io`], the response then cut short.
    pub async fn respond_with_body<R: AsyncRead + Unpin>(
        mut self,
        head: &[u8],
        mut body: R,
    ) -> Result<(), AcceptError> {
        let stream = &mut self.stream;
        let step = self.read.config.handshake_timeout;
        let by = self.read.deadline.max(Instant::now() + LINGER);
        timeout_at(by, stream.write_all(head))
            .await
            .map_err(|_| AcceptError::Timeout)??;
        let mut piece = vec![0u8; BODY_PIECE];
        loop {
            let n = body.read(&mut piece).await?;
            if n == 0 {
                break;
            }
            tokio::time::timeout(step, stream.write_all(&piece[..n]))
                .await
                .map_err(|_| AcceptError::Timeout)??;
        }
        tokio::time::timeout(step, stream.shutdown())
            .await
            .map_err(|_| AcceptError::Timeout)??;
        linger(stream).await;
        Ok(())
    }
}

impl Read {
    /// The answer to the request read, worked out under `answer`.
    fn answer(&self, answer: &Answer) -> Result<Accepted, ResponseError> {
        let index = self
            .parsed
            .as_ref()
            .map_err(|e| ResponseError::Refused(*e))?;
        let request = self
            .request
            .as_ref()
            .map_err(|e| ResponseError::Refused(*e))?;
        // Viewed in the application's copy of the head, which is text already (as a rule): no
        // second check of its bytes.
        let view = match request.headers().as_str() {
            Some(head) => index.request_in(head),
            None => index.request(&self.buf),
        };
        match &view {
            Ok(view) => prepare(view, answer, &self.config),
            Err(error) => Err(ResponseError::Refused(*error)),
        }
    }
}

/// Reads into `buf` (which may hold bytes read already) until the core finds a complete
/// request head or refuses it; fails if the transport does, ends early, or `deadline` passes.
async fn read_head<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    config: &Config,
    deadline: Instant,
) -> Result<Result<RequestIndex, HandshakeError>, AcceptError> {
    let mut parser = RequestParser::new(config.limits);
    loop {
        if !buf.is_empty() {
            match parser.parse_index(buf) {
                Ok(Parsed::Complete(index, _)) => return Ok(Ok(index)),
                Ok(Parsed::Partial) => {}
                Err(error) => return Ok(Err(error)),
            }
        }
        // The parser refuses a head past `max_header_bytes`, so this stays bounded.
        let read = timeout_at(deadline, poll_fn(|cx| read_some(stream, cx, buf)))
            .await
            .map_err(|_| AcceptError::Timeout)??;
        if read == 0 {
            return Err(AcceptError::Io(std::io::ErrorKind::UnexpectedEof.into()));
        }
    }
}

/// One read of a head's bytes, appended to `buf`: into a buffer on the stack, then copied
/// into `buf` as many bytes as came. The usual head is a few hundred bytes, so `buf` is one
/// allocation of about its size, which the allocator serves from its per-thread cache of
/// small blocks; reading straight into `buf` needed room reserved first, and 2 KiB (a head
/// with cookies in one read) is past that cache (about 500 instructions per handshake,
/// callgrind). The stack buffer lives within one poll, not in the handshake's future.
fn read_some<S: AsyncRead + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    buf: &mut Vec<u8>,
) -> Poll<std::io::Result<usize>> {
    let mut stack = [MaybeUninit::<u8>::uninit(); HEAD_READ];
    let mut read = ReadBuf::uninit(&mut stack);
    ready!(Pin::new(stream).poll_read(cx, &mut read))?;
    buf.extend_from_slice(read.filled());
    Poll::Ready(Ok(read.filled().len()))
}

/// A request answered, before the answer is written: only what outlives the write. The
/// connection is built before it (its extension from what was agreed), so the limits and
/// the negotiator do not ride along in the future that waits on the write: each move of
/// that future (into its box, across its awaits) copied them, some 630 bytes, a few hundred
/// instructions per handshake (callgrind).
struct Accepted {
    /// The head's length: the bytes read after it are the first frames.
    head_len: usize,
    /// The 101 response's bytes.
    response: Vec<u8>,
    conn: Box<Connection>,
    protocol: Option<Box<str>>,
}

/// Works out the answer to the request `view` (its bytes, and the extension agreed) under
/// `config` and `answer`.
fn prepare(
    view: &handshake::Request<'_>,
    answer: &Answer,
    config: &Config,
) -> Result<Accepted, ResponseError> {
    // Without an offer there is nothing to negotiate, and no negotiator is built (writing
    // permessage-deflate's offer text costs more than the rest of the answer's work).
    let offered = view.offer().offered_extensions().next().is_some();
    let mut negotiator = if offered {
        #[cfg(feature = "deflate")]
        let config = &Config {
            deflate: answer.deflate.or(config.deflate),
            ..*config
        };
        negotiator(config)
    } else {
        None
    };
    let response = response(view, answer, &mut negotiator)?;
    Ok(Accepted {
        head_len: view.head().as_bytes().len(),
        response,
        // Allocated before it is built, as `Read` is.
        conn: with_extension(
            Box::write(Box::new_uninit(), Connection::server(config.limits)),
            &negotiator,
        ),
        protocol: answer.protocol.as_deref().map(Box::from),
    })
}

/// Writes the answer worked out for the request whose head `buf` holds: 101 and the
/// connection (its first frames are the bytes after the head), or the refusal. An `async
/// move` block rather than an `async fn`: an async fn's future keeps its arguments twice,
/// as passed and as its body's locals (rust-lang/rust#62958).
#[expect(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice"
)]
fn conclude<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    buf: &[u8],
    deadline: Instant,
    outcome: Result<Accepted, ResponseError>,
) -> impl Future<Output = Result<WebSocket<S>, AcceptError>> {
    async move {
        let accepted = match outcome {
            Ok(accepted) => accepted,
            Err(ResponseError::Refused(error)) => {
                // Boxed: the refusal's state need not weigh on every accepted connection.
                Box::pin(refuse(&mut stream, deadline, error)).await?;
                return Err(AcceptError::Refused(error));
            }
            Err(ResponseError::Unwritable(error)) => return Err(AcceptError::Answer(error)),
        };
        let write = async {
            stream.write_all(&accepted.response).await?;
            stream.flush().await
        };
        timeout_at(deadline, write)
            .await
            .map_err(|_| AcceptError::Timeout)??;
        let leftover = buf.get(accepted.head_len..).unwrap_or_default();
        let traffic = crate::Traffic::handshake(buf.len(), accepted.response.len());
        Ok(WebSocket::from_parts(
            stream,
            accepted.conn,
            leftover,
            accepted.protocol,
            traffic,
        ))
    }
}

/// [`PendingUpgrade::refuse`] on the parts of one.
async fn refuse<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    deadline: Instant,
    error: HandshakeError,
) -> Result<(), AcceptError> {
    respond(stream, deadline, &error.response_to_vec()).await
}

/// [`PendingUpgrade::respond`] on the parts of one.
async fn respond<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    deadline: Instant,
    response: &[u8],
) -> Result<(), AcceptError> {
    let write = async {
        stream.write_all(response).await?;
        stream.shutdown().await
    };
    timeout_at(deadline.max(Instant::now() + LINGER), write)
        .await
        .map_err(|_| AcceptError::Timeout)??;
    linger(stream).await;
    Ok(())
}

enum ResponseError {
    Refused(HandshakeError),
    Unwritable(WriteError),
}

/// The 101 answer's bytes, written by the core for the request it accepted, with the
/// extension `negotiator` accepted from the request's offers.
fn response(
    request: &handshake::Request<'_>,
    answer: &Answer,
    negotiator: &mut Negotiator,
) -> Result<Vec<u8>, ResponseError> {
    let headers: Vec<(&str, &str)> = answer
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let extensions = negotiator
        .accept(request.offer().offered_extensions())
        .map_err(ResponseError::Refused)?;
    let agreement = request
        .offer()
        .agree(answer.protocol.as_deref(), extensions)
        .map_err(ResponseError::Unwritable)?;
    request
        .response_to_vec(&agreement, &headers)
        .map_err(ResponseError::Unwritable)
}

/// Reads and discards until EOF, [`LINGER_BYTES`] or [`LINGER`], whichever comes first.
async fn linger<S: AsyncRead + Unpin>(stream: &mut S) {
    let discard = async {
        // On the heap: an array here would make every future that can refuse 4 KiB larger.
        let mut sink = vec![0u8; 4096];
        let mut total = 0;
        while total < LINGER_BYTES {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => total += n,
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, discard).await;
}
