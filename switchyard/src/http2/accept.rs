//! The server's side: an extended CONNECT judged, answered, and run as a WebSocket.

use bytes::Bytes;
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use http::header::{HeaderName, HeaderValue};
use switchyard_core::connection::Connection;
use switchyard_core::handshake::h2::{self as core_h2, H2ConnectError, PseudoHeaders};
use switchyard_core::handshake::{ExtensionNegotiator, HandshakeError, Offer, WriteError};

use super::H2Stream;
use crate::extensions::{negotiator, with_extension};
use crate::{AcceptError, Answer, Config, WebSocket};

/// The pseudo-header fields of a request as h2 delivered it.
pub fn pseudo_headers(parts: &http::request::Parts) -> PseudoHeaders<'_> {
    PseudoHeaders {
        method: parts.method.as_str(),
        protocol: parts
            .extensions
            .get::<h2::ext::Protocol>()
            .map(h2::ext::Protocol::as_str),
        scheme: parts.uri.scheme_str(),
        path: parts
            .uri
            .path_and_query()
            .map(http::uri::PathAndQuery::as_str),
        authority: parts.uri.authority().map(http::uri::Authority::as_str),
    }
}

/// Accepts a WebSocket on an extended CONNECT, letting `decide` check the valid request (its
/// path, origin, subprotocols) and answer or refuse it, as
/// [`accept_with`](crate::accept_with) does over HTTP/1.1.
///
/// Extensions are negotiated as over HTTP/1.1 (permessage-deflate with the `deflate` feature
/// and [`Config::deflate`] or the answer's). Returns the connection with the 200 response
/// as sent. A request that is not a valid WebSocket request is answered with its status
/// (405, 501, 400, 403, 426...) or, when malformed, reset with PROTOCOL_ERROR, and returned
/// as [`AcceptError::Http2`]. No handshake timeout applies: the request is complete when h2
/// delivers it.
pub fn accept<F>(
    request: http::Request<RecvStream>,
    respond: SendResponse<Bytes>,
    config: &Config,
    decide: F,
) -> Result<(WebSocket<H2Stream>, http::Response<()>), AcceptError>
where
    F: FnOnce(&http::request::Parts, &Offer<'_>) -> Result<Answer, HandshakeError>,
{
    accept_wrapped(request, respond, config, decide, |stream| stream)
}

/// [`accept`], with the connection running on `wrap(stream)`: a wrapper that counts or
/// shows the stream's bytes.
pub fn accept_wrapped<F, W, S>(
    request: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    config: &Config,
    decide: F,
    wrap: W,
) -> Result<(WebSocket<S>, http::Response<()>), AcceptError>
where
    F: FnOnce(&http::request::Parts, &Offer<'_>) -> Result<Answer, HandshakeError>,
    W: FnOnce(H2Stream) -> S,
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let (parts, body) = request.into_parts();
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_bytes()));
    let verdict =
        core_h2::offer(&pseudo_headers(&parts), headers, &config.limits).and_then(|offer| {
            let answer = decide(&parts, &offer)?;
            Ok((offer, answer))
        });
    let (offer, answer) = match verdict {
        Ok(accepted) => accepted,
        Err(error) => {
            refuse(&mut respond, &error);
            return Err(AcceptError::Http2(error));
        }
    };
    #[cfg(feature = "deflate")]
    let config = &Config {
        deflate: answer.deflate.or(config.deflate),
        ..*config
    };
    let mut negotiator = negotiator(config);
    let extensions = match negotiator.accept(offer.offered_extensions()) {
        Ok(extensions) => extensions,
        Err(error) => {
            let error = H2ConnectError::Handshake(error);
            refuse(&mut respond, &error);
            return Err(AcceptError::Http2(error));
        }
    };
    let agreement = offer
        .agree(answer.protocol.as_deref(), extensions)
        .map_err(AcceptError::Answer)?;
    let unsafe_header = |_| AcceptError::Answer(WriteError::UnsafeHeader);
    let mut response = http::Response::new(());
    let fields = response.headers_mut();
    if let Some(protocol) = agreement.protocol() {
        let value = HeaderValue::from_str(protocol).map_err(unsafe_header)?;
        fields.insert("sec-websocket-protocol", value);
    }
    if let Some(extensions) = agreement.extensions() {
        let value = HeaderValue::from_str(extensions).map_err(unsafe_header)?;
        fields.insert("sec-websocket-extensions", value);
    }
    for (name, value) in &answer.headers {
        let name = HeaderName::from_bytes(name.as_bytes());
        let value = HeaderValue::from_str(value);
        let (Ok(name), Ok(value)) = (name, value) else {
            return Err(AcceptError::Answer(WriteError::UnsafeHeader));
        };
        fields.append(name, value);
    }
    let sent = http::Response::from_parts(response.clone().into_parts().0, ());
    // RFC 8441 §5: a 2xx completes the handshake; the stream stays open for the frames.
    let send = respond
        .send_response(response, false)
        .map_err(|e| AcceptError::Io(std::io::Error::other(e)))?;
    let conn = with_extension(
        Box::new(Connection::server(config.limits).with_stream_transport()),
        &negotiator,
    );
    let protocol = answer.protocol.as_deref().map(Box::from);
    let ws = WebSocket::from_parts(
        wrap(H2Stream::new(body, send)),
        conn,
        &[],
        protocol,
        crate::Traffic::default(),
    );
    Ok((ws, sent))
}

/// Answers a request that is not a WebSocket with the error's status and a one-line body,
/// or resets its stream with PROTOCOL_ERROR if it is malformed (RFC 9113 §8.1.1).
pub fn refuse(respond: &mut SendResponse<Bytes>, error: &H2ConnectError) {
    let Some(status) = error.status() else {
        respond.send_reset(Reason::PROTOCOL_ERROR);
        return;
    };
    let mut response = http::Response::new(());
    *response.status_mut() =
        http::StatusCode::from_u16(status.as_u16()).unwrap_or(http::StatusCode::BAD_REQUEST);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let H2ConnectError::Handshake(HandshakeError::UnsupportedVersion) = error {
        // RFC 6455 §4.4, which RFC 8441 §5 keeps: say which version we speak.
        response.headers_mut().insert(
            http::header::SEC_WEBSOCKET_VERSION,
            HeaderValue::from_static("13"),
        );
    }
    if let Ok(mut body) = respond.send_response(response, false) {
        // Failing here means the client reset the stream: nothing more to say.
        let _ = body.send_data(Bytes::from(format!("{error}\n")), true);
    }
}
