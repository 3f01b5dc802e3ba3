//! Extension negotiation (RFC 6455 §9.1), for both roles, independent of the transport.
//!
//! An [`ExtensionNegotiator`] offers (client), accepts from the client's offers (server) and
//! verifies the server's answer (client); permessage-deflate (RFC 7692) implements it, and
//! what it agrees on configures the connection's per-message codec,
//! [`crate::extension::Extension`], where the alloc feature has one.
//! [`NoExtensions`] is the identity: it offers nothing, accepts nothing, and refuses any
//! answer, since a server MUST NOT answer with an extension the client did not offer.
//! Offers and answers are read as [`ExtensionOffers`]: the elements of every
//! `Sec-WebSocket-Extensions` field line, each a name and its parameters.

use core::fmt;

use super::error::{ClientHandshakeError, HandshakeError};
use super::fields::{ListFields, is_token, list_elements};

/// One extension's negotiation.
pub trait ExtensionNegotiator {
    /// Client: the `Sec-WebSocket-Extensions` value to offer, or `None` to offer nothing.
    /// It must be a valid extension list (§9.1); the handshake refuses to send one that is not.
    fn offer(&self) -> Option<&str>;

    /// Server: picks from the client's offers, which come in the client's order of preference
    /// (§9.1), and returns the `Sec-WebSocket-Extensions` answer, or `None` to use none. An
    /// offer it does not understand is skipped, not refused; `Err` refuses the handshake.
    fn accept(&mut self, offers: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError>;

    /// Client: checks the server's answer (empty when it sent none) against what
    /// [`offer`](Self::offer) offered, and keeps what was agreed.
    fn verify(&mut self, answer: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError>;
}

/// No extension: frames pass through unchanged.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoExtensions;

impl ExtensionNegotiator for NoExtensions {
    fn offer(&self) -> Option<&str> {
        None
    }

    fn accept(&mut self, _offers: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError> {
        Ok(None)
    }

    fn verify(&mut self, mut answer: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError> {
        // §4.1 item 5 of the response checks: an extension not offered fails the connection.
        match answer.next() {
            None => Ok(()),
            Some(_) => Err(ClientHandshakeError::UnofferedExtension),
        }
    }
}

/// An optional negotiator: `None` is [`NoExtensions`], so a shell can build its handshake
/// with or without an extension configured and keep one type.
impl<N: ExtensionNegotiator> ExtensionNegotiator for Option<N> {
    fn offer(&self) -> Option<&str> {
        self.as_ref()?.offer()
    }

    fn accept(&mut self, offers: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError> {
        match self {
            Some(negotiator) => negotiator.accept(offers),
            None => Ok(None),
        }
    }

    fn verify(&mut self, answer: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError> {
        match self {
            Some(negotiator) => negotiator.verify(answer),
            None => NoExtensions.verify(answer),
        }
    }
}

/// A `Sec-WebSocket-Extensions` element that breaks §9.1's grammar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MalformedExtension;

impl fmt::Display for MalformedExtension {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("malformed Sec-WebSocket-Extensions element")
    }
}

#[cfg(feature = "std")]
impl std::error::Error for MalformedExtension {}

/// The elements of `Sec-WebSocket-Extensions` field lines, in order; a malformed element is
/// reported as [`MalformedExtension`] in its place.
#[derive(Debug, Clone)]
pub struct ExtensionOffers<'b> {
    lines: ListFields<'b>,
    line: usize,
    rest: &'b [u8],
}

impl<'b> ExtensionOffers<'b> {
    pub(crate) fn new(lines: ListFields<'b>) -> ExtensionOffers<'b> {
        ExtensionOffers {
            lines,
            line: 0,
            rest: &[],
        }
    }

    /// The elements of one value, as a client offers or a server answers it.
    pub fn parse(value: &'b str) -> ExtensionOffers<'b> {
        let mut lines = ListFields::EMPTY;
        // One line always fits.
        let _ = lines.push(value.as_bytes());
        ExtensionOffers::new(lines)
    }

    /// Whether every element is well-formed.
    pub fn is_valid(&self) -> bool {
        self.clone().all(|element| element.is_ok())
    }
}

impl<'b> Iterator for ExtensionOffers<'b> {
    type Item = Result<ExtensionOffer<'b>, MalformedExtension>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(element) = list_elements(self.rest).next() {
                // Advance past this element: `list_elements` borrows from `rest`, so the
                // element's end is its offset plus its length.
                let end = element.as_ptr().addr() - self.rest.as_ptr().addr() + element.len();
                self.rest = &self.rest[end..];
                return Some(ExtensionOffer::parse(element));
            }
            self.rest = self.lines.line(self.line)?;
            self.line += 1;
        }
    }
}

/// One extension element: `name *( ";" param [ "=" value ] )` (§9.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionOffer<'b> {
    name: &'b str,
    params: &'b [u8],
}

impl<'b> ExtensionOffer<'b> {
    fn parse(element: &'b [u8]) -> Result<ExtensionOffer<'b>, MalformedExtension> {
        let (name, params) = match element.iter().position(|&b| b == b';') {
            Some(i) => (&element[..i], &element[i..]),
            None => (element, &[][..]),
        };
        let name = name.trim_ascii();
        if !is_token(name) {
            return Err(MalformedExtension);
        }
        let offer = ExtensionOffer {
            name: core::str::from_utf8(name).map_err(|_| MalformedExtension)?,
            params,
        };
        for param in offer.param_parts() {
            param_of(param)?;
        }
        Ok(offer)
    }

    /// The extension's name, e.g. `permessage-deflate`.
    pub fn name(&self) -> &'b str {
        self.name
    }

    /// The parameters in order: each name, and its value if it has one (quotes removed).
    pub fn params(&self) -> impl Iterator<Item = (&'b str, Option<&'b str>)> + '_ {
        self.param_parts().filter_map(|param| param_of(param).ok())
    }

    fn param_parts(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.params.split(|&b| b == b';').skip(1)
    }
}

/// `token [ "=" ( token | quoted-string ) ]`. §9.1: a quoted value, once unescaped, MUST be a
/// token; a token needs no escapes, so an escaped one is refused rather than copied.
fn param_of(param: &[u8]) -> Result<(&str, Option<&str>), MalformedExtension> {
    let (name, value) = match param.iter().position(|&b| b == b'=') {
        Some(i) => (&param[..i], Some(&param[i + 1..])),
        None => (param, None),
    };
    let name = name.trim_ascii();
    let value = value.map(|v| {
        let v = v.trim_ascii();
        v.strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(v)
    });
    if !is_token(name) || value.is_some_and(|v| !is_token(v)) {
        return Err(MalformedExtension);
    }
    let text = |bytes| core::str::from_utf8(bytes).map_err(|_| MalformedExtension);
    Ok((text(name)?, value.map(text).transpose()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;
    use std::vec::Vec;

    /// An element's name and parameters, or why it is malformed.
    type Element<'a> = Result<(&'a str, Vec<(&'a str, Option<&'a str>)>), MalformedExtension>;

    fn elements(value: &str) -> Vec<Element<'_>> {
        ExtensionOffers::parse(value)
            .map(|e| e.map(|e| (e.name(), e.params().collect())))
            .collect()
    }

    #[test]
    fn reads_names_and_parameters_in_order() {
        assert_eq!(
            elements("permessage-deflate; client_max_window_bits, x-foo;a=\"1\" ;b"),
            [
                Ok(("permessage-deflate", vec![("client_max_window_bits", None)])),
                Ok(("x-foo", vec![("a", Some("1")), ("b", None)])),
            ]
        );
        assert_eq!(elements(" , "), []);
    }

    #[test]
    fn refuses_what_section_9_1_does_not_allow() {
        for bad in [
            "a b",
            "x; =1",
            "x; a=",
            "x; a=\"b c\"",
            "x; a=\"\\b\"",
            ";a",
            "x;a=1=2",
        ] {
            assert_eq!(elements(bad), [Err(MalformedExtension)], "{bad}");
            assert!(!ExtensionOffers::parse(bad).is_valid());
        }
    }

    #[test]
    fn reads_every_field_line() {
        let mut lines = ListFields::EMPTY;
        lines.push(b"a, b").unwrap();
        lines.push(b"c").unwrap();
        let names: Vec<_> = ExtensionOffers::new(lines)
            .map(|e| e.unwrap().name())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    #[test]
    fn no_extensions_declines_every_offer_and_refuses_any_answer() {
        let mut none = NoExtensions;
        assert_eq!(none.offer(), None);
        assert_eq!(
            none.accept(ExtensionOffers::parse("permessage-deflate")),
            Ok(None)
        );
        assert_eq!(none.verify(ExtensionOffers::parse("")), Ok(()));
        assert_eq!(
            none.verify(ExtensionOffers::parse("permessage-deflate")),
            Err(ClientHandshakeError::UnofferedExtension)
        );
    }
}
