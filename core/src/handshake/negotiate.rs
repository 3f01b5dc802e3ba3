//! Negotiation, independent of the transport (RFC 6455 §4.2.1 items 8–10, §4.2.2, §9.1):
//! the version, the Origin policy, the subprotocol and the extensions.
//!
//! The HTTP/1.1 encoding ([`server`](super::server), [`client`](super::client)) carries these
//! in an Upgrade request and a 101; WebSocket over HTTP/2 (RFC 8441: extended CONNECT with
//! `:protocol websocket`, no key, a 200) carries the same fields in its own frames. Both feed
//! the request's fields into [`OfferFields`] and negotiate on the resulting [`Offer`], so the
//! rules are written once. A server's choices become an [`Agreement`], checked against the
//! offer before any encoding writes it.

use super::OriginPolicy;
use super::error::{ClientHandshakeError, HandshakeError, WriteError};
use super::extension::ExtensionOffers;
use super::fields::{ListFields, is_name, is_safe_value, is_token, list_elements, once};
use crate::Limits;

/// The negotiation fields of a request, collected as they are read, whatever the transport.
#[derive(Debug, Clone, Copy)]
pub struct OfferFields<'b> {
    origin: Option<&'b [u8]>,
    version: Option<&'b [u8]>,
    protocols: ListFields<'b>,
    extensions: ListFields<'b>,
}

impl Default for OfferFields<'_> {
    fn default() -> Self {
        OfferFields::new()
    }
}

impl<'b> OfferFields<'b> {
    /// No fields yet.
    pub const fn new() -> OfferFields<'b> {
        OfferFields {
            origin: None,
            version: None,
            protocols: ListFields::EMPTY,
            extensions: ListFields::EMPTY,
        }
    }

    /// Takes one header field if negotiation reads it (`Origin`, `Sec-WebSocket-Version`,
    /// `-Protocol`, `-Extensions`; names ASCII case-insensitive) and returns whether it did.
    /// A second `Origin` or version, or more than [`MAX_LIST_FIELDS`](super::MAX_LIST_FIELDS)
    /// lines of a list, is refused with 400.
    pub fn field(&mut self, name: &str, value: &'b [u8]) -> Result<bool, HandshakeError> {
        let is = |n: &str| is_name(name.as_bytes(), n.as_bytes());
        if is("origin") {
            once(&mut self.origin, value, "Origin")?;
        } else if is("sec-websocket-version") {
            once(&mut self.version, value, "Sec-WebSocket-Version")?;
        } else if is("sec-websocket-protocol") {
            self.protocols
                .push(value)
                .ok_or(HandshakeError::TooManyListElements(
                    "Sec-WebSocket-Protocol",
                ))?;
        } else if is("sec-websocket-extensions") {
            self.extensions
                .push(value)
                .ok_or(HandshakeError::TooManyListElements(
                    "Sec-WebSocket-Extensions",
                ))?;
        } else {
            return Ok(false);
        }
        Ok(true)
    }

    /// Checks the fields and makes the offer. `authority` is where the request was sent (the
    /// HTTP/1.1 `Host`, the HTTP/2 `:authority`), which the same-host Origin check compares.
    pub fn finish(self, authority: &'b str, limits: &Limits) -> Result<Offer<'b>, HandshakeError> {
        let origin = self.check(limits)?;
        Ok(Offer {
            authority,
            origin,
            protocols: self.protocols,
            extensions: self.extensions,
        })
    }

    /// The checks of [`finish`](Self::finish), without making the offer: the `Origin`, as
    /// text. The HTTP/1.1 parser keeps the lines' positions in the head (its index) rather
    /// than an offer, which would be two lists of slices copied twice more (callgrind: about
    /// 150 instructions per handshake).
    pub(crate) fn check(&self, limits: &Limits) -> Result<Option<&'b str>, HandshakeError> {
        // §4.2.1 item 9, §4.4: any version but 13 gets 426 naming the version we speak.
        if self.version.map(<[u8]>::trim_ascii) != Some(b"13") {
            return Err(HandshakeError::UnsupportedVersion);
        }
        let origin = self.origin.map(|o| utf8(o, "Origin")).transpose()?;
        let mut count = 0;
        for protocol in self.protocols.elements() {
            count += 1;
            if count > limits.max_subprotocols {
                return Err(HandshakeError::TooManyListElements(
                    "Sec-WebSocket-Protocol",
                ));
            }
            // §4.1 item 10: each subprotocol is a token.
            if !is_token(protocol) {
                return Err(HandshakeError::InvalidHeaderValue("Sec-WebSocket-Protocol"));
            }
        }
        Ok(origin)
    }

    /// The `Sec-WebSocket-Protocol` lines taken.
    pub(crate) fn protocol_lines(&self) -> &ListFields<'b> {
        &self.protocols
    }

    /// The `Sec-WebSocket-Extensions` lines taken.
    pub(crate) fn extension_lines(&self) -> &ListFields<'b> {
        &self.extensions
    }
}

/// What a client offers, checked: version 13, a UTF-8 Origin if any, token subprotocols.
#[derive(Debug, Clone, Copy)]
pub struct Offer<'b> {
    authority: &'b str,
    origin: Option<&'b str>,
    protocols: ListFields<'b>,
    extensions: ListFields<'b>,
}

impl<'b> Offer<'b> {
    /// An offer from fields checked before (a [`RequestIndex`](super::RequestIndex) view),
    /// its lists empty until filled through [`lines_mut`](Self::lines_mut).
    pub(crate) fn from_parts(authority: &'b str, origin: Option<&'b str>) -> Offer<'b> {
        Offer {
            authority,
            origin,
            protocols: ListFields::EMPTY,
            extensions: ListFields::EMPTY,
        }
    }

    /// The `Sec-WebSocket-Protocol` and `-Extensions` lines, to fill in place.
    pub(crate) fn lines_mut(&mut self) -> (&mut ListFields<'b>, &mut ListFields<'b>) {
        (&mut self.protocols, &mut self.extensions)
    }

    /// Where the request was sent: `Host` or `:authority`.
    pub fn authority(&self) -> &'b str {
        self.authority
    }

    /// The `Origin` value, if the client sent one (browsers always do, §4.1 item 8).
    pub fn origin(&self) -> Option<&'b str> {
        self.origin
    }

    /// The subprotocols offered, in the client's order of preference (§4.1 item 10).
    pub fn offered_protocols(&self) -> impl Iterator<Item = &'b str> + '_ {
        self.protocols
            .elements()
            .filter_map(|p| core::str::from_utf8(p).ok())
    }

    /// The extension offers, in the client's order of preference (§9.1), for an
    /// [`ExtensionNegotiator`](super::ExtensionNegotiator) to choose from.
    pub fn offered_extensions(&self) -> ExtensionOffers<'b> {
        ExtensionOffers::new(self.extensions)
    }

    /// The first of the client's offered subprotocols that `supported` holds: always one the
    /// client offered (§4.2.2 item 5.4).
    pub fn select_protocol(&self, supported: &[&str]) -> Option<&'b str> {
        self.offered_protocols()
            .find(|offered| supported.contains(offered))
    }

    /// Applies an Origin policy (§4.2.2 item 1, §10.2): `Err(ForbiddenOrigin)` (403) if it
    /// refuses.
    pub fn check_origin<S: AsRef<str>>(
        &self,
        policy: &OriginPolicy<'_, S>,
    ) -> Result<(), HandshakeError> {
        if policy.allows(self.origin, self.authority) {
            Ok(())
        } else {
            Err(HandshakeError::ForbiddenOrigin)
        }
    }

    /// The server's choices, checked against this offer: the subprotocol must be one the
    /// client offered (§4.2.2 item 5.4), and the extension answer a valid list naming only
    /// offered extensions (§9.1), safe to write in a header.
    pub fn agree<'a>(
        &self,
        protocol: Option<&'a str>,
        extensions: Option<&'a str>,
    ) -> Result<Agreement<'a>, WriteError> {
        if let Some(p) = protocol
            && !self.offered_protocols().any(|offered| offered == p)
        {
            return Err(WriteError::UnofferedProtocol);
        }
        if let Some(answer) = extensions {
            let mut answered = ExtensionOffers::parse(answer);
            let offered = |name: &str| {
                self.offered_extensions()
                    .flatten()
                    .any(|offer| offer.name().eq_ignore_ascii_case(name))
            };
            if !is_safe_value(answer.as_bytes())
                || !answered.is_valid()
                || !answered.all(|e| e.is_ok_and(|e| offered(e.name())))
            {
                return Err(WriteError::UnofferedExtension);
            }
        }
        Ok(Agreement {
            protocol,
            extensions,
        })
    }
}

/// What the server agreed to, checked against the client's [`Offer`] by [`Offer::agree`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Agreement<'a> {
    protocol: Option<&'a str>,
    extensions: Option<&'a str>,
}

impl<'a> Agreement<'a> {
    /// No subprotocol and no extension: always a valid answer.
    pub const NONE: Agreement<'static> = Agreement {
        protocol: None,
        extensions: None,
    };

    /// The subprotocol selected.
    pub fn protocol(&self) -> Option<&'a str> {
        self.protocol
    }

    /// The `Sec-WebSocket-Extensions` answer.
    pub fn extensions(&self) -> Option<&'a str> {
        self.extensions
    }
}

/// Client side: the server's `Sec-WebSocket-Protocol` answer checked against the offer. §4.1
/// item 6 of the response checks: a subprotocol not offered, or more than one, fails.
pub(crate) fn verify_protocol<'b>(
    offered: &[&str],
    answer: &ListFields<'b>,
) -> Result<Option<&'b str>, ClientHandshakeError> {
    let mut elements = answer.elements();
    let Some(chosen) = elements.next() else {
        return Ok(None);
    };
    if elements.next().is_some() {
        return Err(ClientHandshakeError::UnofferedProtocol);
    }
    offered
        .iter()
        .find(|offered| offered.as_bytes() == chosen)
        .and_then(|_| core::str::from_utf8(chosen).ok())
        .map(Some)
        .ok_or(ClientHandshakeError::UnofferedProtocol)
}

/// Whether `value` is a `Sec-WebSocket-Protocol` list a client may send: tokens only.
pub(crate) fn is_protocol_list(protocols: &[&str]) -> bool {
    protocols.iter().all(|p| is_token(p.as_bytes()))
}

/// Whether an extension offer is safe to write and well-formed (§9.1).
pub(crate) fn is_extension_list(value: &str) -> bool {
    is_safe_value(value.as_bytes())
        && list_elements(value.as_bytes()).next().is_some()
        && ExtensionOffers::parse(value).is_valid()
}

pub(crate) fn utf8<'b>(value: &'b [u8], name: &'static str) -> Result<&'b str, HandshakeError> {
    core::str::from_utf8(value.trim_ascii()).map_err(|_| HandshakeError::InvalidHeaderValue(name))
}
