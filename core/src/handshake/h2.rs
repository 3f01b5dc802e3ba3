//! WebSocket over HTTP/2 (RFC 8441), the server's side of the request: the pseudo-header
//! fields that make an extended CONNECT a WebSocket, then the same negotiation as over
//! HTTP/1.1 ([`negotiate`](super::negotiate)) on its header fields.
//!
//! What differs from RFC 6455 §4 (RFC 8441 §4–§5): the method is CONNECT with a
//! `:protocol` of `websocket`; `:scheme`, `:path` and `:authority` are all required (§4, the
//! exception to RFC 7540 §8.3, which forbids `:scheme` and `:path` on CONNECT); there is no
//! `Upgrade`, `Connection` or `Sec-WebSocket-Key`, and so no `Sec-WebSocket-Accept`; success
//! is a 200, after which the stream carries RFC 6455 frames, the client's still masked.
//! `Origin`, `Sec-WebSocket-Version`, `-Protocol` and `-Extensions` keep their meaning (§5).

use core::fmt;

use super::HandshakeError;
use super::http::StatusCode;
use super::negotiate::{Offer, OfferFields};
use crate::Limits;

/// The value of `:protocol` that asks for a WebSocket (RFC 8441 §4, §9.1).
pub const PROTOCOL: &str = "websocket";

/// The pseudo-header fields of an HTTP/2 request, as received (`None` if absent).
#[derive(Debug, Clone, Copy, Default)]
pub struct PseudoHeaders<'b> {
    /// `:method`.
    pub method: &'b str,
    /// `:protocol`, present only on an extended CONNECT (RFC 8441 §4).
    pub protocol: Option<&'b str>,
    /// `:scheme`.
    pub scheme: Option<&'b str>,
    /// `:path`: path and query.
    pub path: Option<&'b str>,
    /// `:authority`.
    pub authority: Option<&'b str>,
}

/// Why an HTTP/2 request to a WebSocket route is not a WebSocket: each refusal with its
/// HTTP status, or, for a malformed request, the stream error to reset it with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum H2ConnectError {
    /// A CONNECT without `:protocol`: a tunnel, which a WebSocket route does not offer (405).
    NotExtendedConnect,
    /// An extended CONNECT for another protocol (501, as RFC 9220 §3 also asks).
    UnknownProtocol,
    /// Not a CONNECT at all (a GET): HTTP/2 has no `Upgrade`, so a WebSocket must be asked
    /// for with an extended CONNECT (400; RFC 9113 §8.6 removes 101 and `Upgrade`).
    NotConnect,
    /// An extended CONNECT without `:scheme`, `:path` or `:authority` (named): malformed
    /// (RFC 8441 §4, RFC 9113 §8.1.1), reset with PROTOCOL_ERROR rather than answered.
    MissingPseudoHeader(&'static str),
    /// The negotiation refused it (version, origin, header lists), with its status.
    Handshake(HandshakeError),
}

impl H2ConnectError {
    /// The status to answer with, or `None` for a malformed request, which is reset with
    /// PROTOCOL_ERROR (RFC 9113 §8.1.1).
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            H2ConnectError::NotExtendedConnect => Some(StatusCode::METHOD_NOT_ALLOWED),
            H2ConnectError::UnknownProtocol => Some(StatusCode::NOT_IMPLEMENTED),
            H2ConnectError::NotConnect => Some(StatusCode::BAD_REQUEST),
            H2ConnectError::MissingPseudoHeader(_) => None,
            H2ConnectError::Handshake(e) => Some(e.status()),
        }
    }
}

impl fmt::Display for H2ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            H2ConnectError::NotExtendedConnect => {
                f.write_str("CONNECT without :protocol: only WebSocket is served here")
            }
            H2ConnectError::UnknownProtocol => {
                f.write_str("extended CONNECT for a protocol other than websocket")
            }
            H2ConnectError::NotConnect => f.write_str(
                "a WebSocket over HTTP/2 is opened with an extended CONNECT \
                 (:method CONNECT, :protocol websocket; RFC 8441), not a GET",
            ),
            H2ConnectError::MissingPseudoHeader(name) => {
                write!(f, "extended CONNECT without {name}")
            }
            H2ConnectError::Handshake(e) => fmt::Display::fmt(e, f),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for H2ConnectError {}

impl From<HandshakeError> for H2ConnectError {
    fn from(e: HandshakeError) -> Self {
        H2ConnectError::Handshake(e)
    }
}

/// Judges a request to a WebSocket route by its pseudo-header fields (RFC 8441 §4), and
/// returns its `:authority`, which the same-host Origin check compares with.
pub fn check_connect<'b>(pseudo: &PseudoHeaders<'b>) -> Result<&'b str, H2ConnectError> {
    if pseudo.method != "CONNECT" {
        return Err(H2ConnectError::NotConnect);
    }
    let protocol = pseudo.protocol.ok_or(H2ConnectError::NotExtendedConnect)?;
    if !protocol.eq_ignore_ascii_case(PROTOCOL) {
        return Err(H2ConnectError::UnknownProtocol);
    }
    pseudo
        .scheme
        .ok_or(H2ConnectError::MissingPseudoHeader(":scheme"))?;
    pseudo
        .path
        .ok_or(H2ConnectError::MissingPseudoHeader(":path"))?;
    pseudo
        .authority
        .ok_or(H2ConnectError::MissingPseudoHeader(":authority"))
}

/// The whole server-side check of an extended CONNECT: its pseudo-header fields, then the
/// negotiation fields among `headers` (name, value), which [`Offer`] checks exactly as over
/// HTTP/1.1.
pub fn offer<'b, I>(
    pseudo: &PseudoHeaders<'b>,
    headers: I,
    limits: &Limits,
) -> Result<Offer<'b>, H2ConnectError>
where
    I: IntoIterator<Item = (&'b str, &'b [u8])>,
{
    let authority = check_connect(pseudo)?;
    let mut fields = OfferFields::new();
    for (name, value) in headers {
        fields.field(name, value)?;
    }
    Ok(fields.finish(authority, limits)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONNECT: PseudoHeaders<'static> = PseudoHeaders {
        method: "CONNECT",
        protocol: Some("websocket"),
        scheme: Some("https"),
        path: Some("/chat?room=1"),
        authority: Some("server.example.com"),
    };

    /// RFC 8441 §5.1's example request, fields as HPACK delivers them (lower-case names).
    const EXAMPLE_HEADERS: [(&str, &[u8]); 3] = [
        ("sec-websocket-protocol", b"chat, superchat"),
        ("sec-websocket-extensions", b"permessage-deflate"),
        ("origin", b"http://www.example.com"),
    ];

    #[test]
    fn accepts_the_rfc_8441_example_with_version_13() {
        let headers = EXAMPLE_HEADERS
            .into_iter()
            .chain([("sec-websocket-version", &b"13"[..])]);
        let offer = offer(&CONNECT, headers, &Limits::DEFAULT).unwrap();
        assert_eq!(offer.authority(), "server.example.com");
        assert_eq!(offer.origin(), Some("http://www.example.com"));
        assert_eq!(offer.select_protocol(&["superchat"]), Some("superchat"));
        let agreement = offer.agree(Some("chat"), None).unwrap();
        assert_eq!(agreement.protocol(), Some("chat"));
    }

    #[test]
    fn refuses_each_malformed_or_foreign_request_with_its_outcome() {
        let cases = [
            (
                PseudoHeaders {
                    protocol: None,
                    ..CONNECT
                },
                H2ConnectError::NotExtendedConnect,
                Some(405),
            ),
            (
                PseudoHeaders {
                    protocol: Some("connect-udp"),
                    ..CONNECT
                },
                H2ConnectError::UnknownProtocol,
                Some(501),
            ),
            (
                PseudoHeaders {
                    method: "GET",
                    protocol: None,
                    ..CONNECT
                },
                H2ConnectError::NotConnect,
                Some(400),
            ),
            (
                PseudoHeaders {
                    scheme: None,
                    ..CONNECT
                },
                H2ConnectError::MissingPseudoHeader(":scheme"),
                None,
            ),
            (
                PseudoHeaders {
                    path: None,
                    ..CONNECT
                },
                H2ConnectError::MissingPseudoHeader(":path"),
                None,
            ),
            (
                PseudoHeaders {
                    authority: None,
                    ..CONNECT
                },
                H2ConnectError::MissingPseudoHeader(":authority"),
                None,
            ),
        ];
        for (pseudo, error, status) in cases {
            assert_eq!(check_connect(&pseudo), Err(error));
            assert_eq!(error.status().map(StatusCode::as_u16), status);
        }
    }

    #[test]
    fn the_negotiation_rules_are_those_of_http_1_1() {
        // No version: 426, as over HTTP/1.1 (RFC 8441 §5 keeps Sec-WebSocket-Version).
        let error = offer(&CONNECT, EXAMPLE_HEADERS, &Limits::DEFAULT).unwrap_err();
        assert_eq!(
            error,
            H2ConnectError::Handshake(HandshakeError::UnsupportedVersion)
        );
        assert_eq!(error.status(), Some(StatusCode::UPGRADE_REQUIRED));
        // Two versions: 400.
        let twice = [
            ("sec-websocket-version", &b"13"[..]),
            ("sec-websocket-version", b"13"),
        ];
        let error = offer(&CONNECT, twice, &Limits::DEFAULT).unwrap_err();
        assert_eq!(error.status(), Some(StatusCode::BAD_REQUEST));
        // No key is needed, and none is read.
        let keyless = [("sec-websocket-version", &b"13"[..])];
        assert!(offer(&CONNECT, keyless, &Limits::DEFAULT).is_ok());
    }
}
