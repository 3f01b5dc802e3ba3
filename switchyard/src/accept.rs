//! The server role: reading a handshake request, answering it, and handing over to the frames.
//!
//! The core parses and validates the request ([`RequestParser`]), writes the 101 answer
//! ([`Request::write_response`]) and every refusal ([`HandshakeError::write_response`]); this
//! module reads and writes those bytes under the handshake timeout. [`accept`] does it all;
//! [`PendingUpgrade`] stops after reading, for a server that also speaks plain HTTP or wants
//! to decide per request.

use std::time::Duration;

use switchyard_core::Parsed;
use switchyard_core::connection::Connection;
use switchyard_core::handshake::{
    HandshakeError, OriginPolicy, Request, RequestParser, WriteError,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::{Instant, timeout_at};

use crate::{Config, Error, WebSocket};

/// After answering as plain HTTP, how long to read and discard what the client still sends.
const LINGER: Duration = Duration::from_secs(1);
/// Most bytes discarded while lingering.
const LINGER_BYTES: usize = 64 * 1024;

/// How to answer a request that is accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Answer {
    /// The subprotocol selected; it must be one the client offered
    /// ([`Request::select_protocol`] picks one).
    pub protocol: Option<String>,
    /// More response headers. Names must be tokens and values free of CR, LF and NUL.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// Selects a subprotocol.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Answer {
        self.protocol = Some(protocol.into());
        self
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Answer {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Accepts a WebSocket connection: reads the request, refuses it with its HTTP status if the
/// core finds it invalid or the `Origin` is not the request's own host
/// ([`OriginPolicy::SAME_HOST`]; requests without `Origin` are accepted), and answers 101.
/// The whole handshake is bounded by [`Config::handshake_timeout`].
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: &Config,
) -> Result<WebSocket<S>, Error> {
    accept_with(stream, config, |request| {
        request.check_origin(&OriginPolicy::SAME_HOST)?;
        Ok(Answer::default())
    })
    .await
}

/// Accepts a WebSocket connection, letting `decide` check each valid request (its origin,
/// path, subprotocols, credentials) and answer it or refuse it with a [`HandshakeError`]
/// (e.g. [`HandshakeError::ForbiddenOrigin`] for 403). `decide` applies no origin policy of
/// its own accord: call [`Request::check_origin`] in it.
pub async fn accept_with<S, F>(stream: S, config: &Config, decide: F) -> Result<WebSocket<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&Request<'_>) -> Result<Answer, HandshakeError>,
{
    let pending = PendingUpgrade::read(stream, config).await?;
    let verdict = pending.request().and_then(|request| decide(&request));
    match verdict {
        Ok(answer) => pending.accept(&answer).await,
        Err(error) => {
            pending.refuse(error).await?;
            Err(Error::Handshake(error))
        }
    }
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
    buf: Vec<u8>,
    head: Result<usize, HandshakeError>,
    config: Config,
    deadline: Instant,
}

impl<S: AsyncRead + AsyncWrite + Unpin> PendingUpgrade<S> {
    /// Reads until the request head is complete or the core refuses it (too large, not an
    /// upgrade...). Fails only if the transport does, ends early ([`std::io::ErrorKind::UnexpectedEof`]), or the
    /// handshake timeout runs out ([`Error::HandshakeTimeout`]).
    pub async fn read(stream: S, config: &Config) -> Result<PendingUpgrade<S>, Error> {
        PendingUpgrade::read_after(stream, Vec::new(), config).await
    }

    /// Like [`read`](Self::read), for a stream whose first bytes an HTTP layer already read:
    /// they are `already_read`, and the rest comes from the stream.
    pub async fn read_after(
        mut stream: S,
        already_read: Vec<u8>,
        config: &Config,
    ) -> Result<PendingUpgrade<S>, Error> {
        let deadline = Instant::now() + config.handshake_timeout;
        let mut parser = RequestParser::new(config.limits);
        let mut buf = already_read;
        let head = loop {
            if !buf.is_empty() {
                match parser.parse(&buf) {
                    Ok(Parsed::Complete(_, len)) => break Ok(len),
                    Ok(Parsed::Partial) => {}
                    Err(error) => break Err(error),
                }
            }
            // The parser refuses a head past `max_header_bytes`, so this stays bounded.
            buf.reserve(2048);
            let read = timeout_at(deadline, stream.read_buf(&mut buf))
                .await
                .map_err(|_| Error::HandshakeTimeout)??;
            if read == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        };
        Ok(PendingUpgrade {
            stream,
            buf,
            head,
            config: *config,
            deadline,
        })
    }

    /// The validated upgrade request, or the core's reason to refuse it. Every error but
    /// `RequestLineTooLong`, `HeadTooLarge` and `TooManyHeaders` comes from a complete head,
    /// which may still be a valid plain HTTP request.
    pub fn request(&self) -> Result<Request<'_>, HandshakeError> {
        self.head?;
        // Parsing again from the start is linear and allocation-free; it is how the request
        // borrows the buffer without this type borrowing itself.
        match RequestParser::new(self.config.limits).parse(&self.buf)? {
            Parsed::Complete(request, _) => Ok(request),
            Parsed::Partial => Err(HandshakeError::Malformed),
        }
    }

    /// The length of the complete request head, if the core found one and accepted it.
    pub fn head_len(&self) -> Option<usize> {
        self.head.ok()
    }

    /// Every byte read: the head, and any bytes after it.
    pub fn received(&self) -> &[u8] {
        &self.buf
    }

    /// The stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream and every byte read from it, to answer as plain HTTP.
    pub fn into_parts(self) -> (S, Vec<u8>) {
        (self.stream, self.buf)
    }

    /// Answers 101 and starts the connection. A request the core refused is refused instead
    /// (its response written) and returned as [`Error::Handshake`]; an `answer` the core
    /// cannot write fails with [`Error::Answer`] before anything is sent.
    pub async fn accept(mut self, answer: &Answer) -> Result<WebSocket<S>, Error> {
        let response = match self.request() {
            Ok(request) => response(&request, answer),
            Err(error) => Err(ResponseError::Refused(error)),
        };
        let response = match response {
            Ok(bytes) => bytes,
            Err(ResponseError::Refused(error)) => {
                // Boxed: the refusal's state need not weigh on every accepted connection.
                Box::pin(self.refuse(error)).await?;
                return Err(Error::Handshake(error));
            }
            Err(ResponseError::Unwritable(error)) => return Err(Error::Answer(error)),
        };
        let write = async {
            self.stream.write_all(&response).await?;
            self.stream.flush().await
        };
        timeout_at(self.deadline, write)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        let head_len = self.head.unwrap_or(0);
        let conn = Connection::server(self.config.limits);
        let protocol = answer.protocol.as_deref().map(Box::from);
        Ok(WebSocket::from_parts(
            self.stream,
            conn,
            &self.buf[head_len..],
            protocol,
        ))
    }

    /// Refuses the request with the core's response for `error` (its status, a one-line
    /// body, `Connection: close`), then closes the connection as [`respond`](Self::respond)
    /// does.
    pub async fn refuse(self, error: HandshakeError) -> Result<(), Error> {
        let mut out = vec![0u8; 512];
        let len = loop {
            match error.write_response(&mut out) {
                Ok(len) => break len,
                // The core says exactly how much room it needs.
                Err(too_small) => out.resize(too_small.needed, 0),
            }
        };
        self.respond(&out[..len]).await
    }

    /// Answers as plain HTTP: writes `response` (a complete response, which should say
    /// `Connection: close`), shuts down the write side, and reads and discards what the client
    /// still sends for up to a second, so closing does not reset the connection and destroy
    /// the response before the client reads it.
    pub async fn respond(mut self, response: &[u8]) -> Result<(), Error> {
        let write = async {
            self.stream.write_all(response).await?;
            self.stream.shutdown().await
        };
        timeout_at(self.deadline.max(Instant::now() + LINGER), write)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        linger(&mut self.stream).await;
        Ok(())
    }
}

enum ResponseError {
    Refused(HandshakeError),
    Unwritable(WriteError),
}

/// The 101 answer's bytes, written by the core.
fn response(request: &Request<'_>, answer: &Answer) -> Result<Vec<u8>, ResponseError> {
    let headers: Vec<(&str, &str)> = answer
        .headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let mut out = vec![0u8; 256];
    loop {
        match request.write_response(answer.protocol.as_deref(), &headers, &mut out) {
            Ok(len) => {
                out.truncate(len);
                return Ok(out);
            }
            Err(WriteError::BufferTooSmall(too_small)) => out.resize(too_small.needed, 0),
            Err(error) => return Err(ResponseError::Unwritable(error)),
        }
    }
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
