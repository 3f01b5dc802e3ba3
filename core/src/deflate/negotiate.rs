//! permessage-deflate negotiation (RFC 7692 §5, §7) for both roles: pure, no allocation,
//! always compiled. A server takes the first acceptable offer and declines the rest, never
//! refusing the handshake over them; a client offers once and fails on an answer that breaks
//! §7.1's rules.

use core::fmt;

use super::config::{DeflateConfig, clamp_bits};
use super::params::{DeflateParams, MAX_WINDOW_BITS, NAME, ParamError};
use crate::FixedText;
use crate::handshake::{
    ClientHandshakeError, ExtensionNegotiator, ExtensionOffers, HandshakeError,
};

/// What both ends agreed, in the RFC's terms: who resets after each message, and the
/// largest window each direction may use (15 where the answer set no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateAgreement {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The largest window the server compresses with, as bits.
    pub server_max_window_bits: u8,
    /// The largest window the client compresses with, as bits.
    pub client_max_window_bits: u8,
}

/// A server's answer that breaks RFC 7692 §7.1's rules for the offer a client made: the
/// client fails the connection (§7: "_Fail the WebSocket Connection_").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeflateAnswerError {
    /// An unknown or repeated parameter, or a bad value.
    Param(ParamError),
    /// `permessage-deflate` answered more than once (§7: at most one element).
    Repeated,
    /// A window larger than the offer allowed (§7.1.2.1, §7.1.2.2).
    AboveOffer(&'static str),
    /// A parameter the offer required to be echoed is missing (§7.1.1.1, §7.1.2.1).
    Missing(&'static str),
    /// `client_max_window_bits` without a value: only an offer may leave it out (§7.1.2.2).
    WindowWithoutValue,
}

impl fmt::Display for DeflateAnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeflateAnswerError::Param(e) => write!(f, "{e} in the answer"),
            DeflateAnswerError::Repeated => f.write_str("permessage-deflate answered twice"),
            DeflateAnswerError::AboveOffer(name) => write!(f, "{name} above what was offered"),
            DeflateAnswerError::Missing(name) => write!(f, "offered {name} not answered"),
            DeflateAnswerError::WindowWithoutValue => {
                f.write_str("client_max_window_bits answered without a value")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for DeflateAnswerError {}

/// Longest element this module writes: every parameter, two-digit windows.
const ELEMENT_CAPACITY: usize = 128;

/// An element written into a fixed buffer.
#[derive(Clone, Copy)]
struct Element(FixedText<ELEMENT_CAPACITY>);

impl Element {
    fn of(params: &DeflateParams) -> Element {
        let mut element = FixedText::new();
        // Every parameter at once is under 120 bytes: the write cannot run out of room.
        let written = params.write(&mut element);
        debug_assert!(written.is_ok());
        Element(element)
    }

    fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// The permessage-deflate [`ExtensionNegotiator`], for either role: a client offers with
/// [`offer`](ExtensionNegotiator::offer) and checks the answer with
/// [`verify`](ExtensionNegotiator::verify); a server answers with
/// [`accept`](ExtensionNegotiator::accept). Either way [`agreed`](Self::agreed) then holds
/// what the connection's codec is built from.
#[derive(Clone)]
pub struct PerMessageDeflate {
    config: DeflateConfig,
    /// The client's offer, written once.
    offer: Element,
    /// The server's answer to the offer it accepted.
    answer: Element,
    agreed: Option<DeflateAgreement>,
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("config", &self.config)
            .field("agreed", &self.agreed)
            .finish_non_exhaustive()
    }
}

impl PerMessageDeflate {
    /// A negotiator for `config`.
    pub fn new(config: DeflateConfig) -> PerMessageDeflate {
        let offer = Element::of(&offer_params(&config));
        PerMessageDeflate {
            config,
            offer,
            // Written when an offer is accepted, and only then read.
            answer: Element(FixedText::new()),
            agreed: None,
        }
    }

    /// The configuration it negotiates with.
    pub fn config(&self) -> &DeflateConfig {
        &self.config
    }

    /// What was agreed, once accepted (server) or verified (client); `None` when the other
    /// end declined or offered nothing acceptable.
    pub fn agreed(&self) -> Option<DeflateAgreement> {
        self.agreed
    }

    /// Server: the answer to the first acceptable offer in `offers` (the client's order of
    /// preference), or `None`. An offer that is malformed, names another extension, or has
    /// an unknown or repeated parameter or a bad value is declined, and the next one tried
    /// (§7): this is never a reason to refuse the handshake.
    pub fn accept_offers(&mut self, offers: ExtensionOffers<'_>) -> Option<&str> {
        let chosen = offers
            .flatten()
            .filter(|offer| offer.name().eq_ignore_ascii_case(NAME))
            .find_map(|offer| DeflateParams::parse(&offer).ok())?;
        let (answer, agreed) = answer_offer(&self.config, &chosen);
        self.answer = Element::of(&answer);
        self.agreed = Some(agreed);
        Some(self.answer.as_str())
    }

    /// Client: checks the server's answer against our offer (§7.1) and keeps the agreement;
    /// no element means the server declined, and the connection runs uncompressed.
    pub fn verify_answer(
        &mut self,
        mut answer: ExtensionOffers<'_>,
    ) -> Result<Option<DeflateAgreement>, ClientHandshakeError> {
        let Some(element) = answer.next() else {
            self.agreed = None;
            return Ok(None);
        };
        let element = element.map_err(|_| ClientHandshakeError::UnofferedExtension)?;
        if !element.name().eq_ignore_ascii_case(NAME) {
            return Err(ClientHandshakeError::UnofferedExtension);
        }
        if answer.next().is_some() {
            return Err(DeflateAnswerError::Repeated.into());
        }
        let params = DeflateParams::parse(&element).map_err(DeflateAnswerError::Param)?;
        let agreed = check_answer(&self.config, &params)?;
        self.agreed = Some(agreed);
        Ok(Some(agreed))
    }
}

impl From<DeflateAnswerError> for ClientHandshakeError {
    fn from(error: DeflateAnswerError) -> Self {
        ClientHandshakeError::DeflateAnswer(error)
    }
}

impl ExtensionNegotiator for PerMessageDeflate {
    fn offer(&self) -> Option<&str> {
        Some(self.offer.as_str())
    }

    fn accept(&mut self, offers: ExtensionOffers<'_>) -> Result<Option<&str>, HandshakeError> {
        Ok(self.accept_offers(offers))
    }

    fn verify(&mut self, answer: ExtensionOffers<'_>) -> Result<(), ClientHandshakeError> {
        self.verify_answer(answer).map(|_| ())
    }
}

/// The client's offer: exactly `permessage-deflate; client_max_window_bits` with
/// [`DeflateConfig::CLIENT`]; other settings add their parameters.
fn offer_params(config: &DeflateConfig) -> DeflateParams {
    let server_bits = clamp_bits(config.server_max_window_bits);
    let client_bits = clamp_bits(config.client_max_window_bits);
    DeflateParams {
        server_no_context_takeover: config.server_no_context_takeover,
        client_no_context_takeover: config.client_no_context_takeover,
        server_max_window_bits: (server_bits < MAX_WINDOW_BITS).then_some(server_bits),
        // Valueless at 15: "I support the parameter, pick a window" (§7.1.2.2), which
        // Autobahn 13.3–13.6 and servers with small windows rely on.
        client_max_window_bits: Some((client_bits < MAX_WINDOW_BITS).then_some(client_bits)),
    }
}

/// Server: the answer to an acceptable offer, and what it agrees to.
fn answer_offer(
    config: &DeflateConfig,
    offer: &DeflateParams,
) -> (DeflateParams, DeflateAgreement) {
    let server_bits = clamp_bits(config.server_max_window_bits)
        .min(offer.server_max_window_bits.unwrap_or(MAX_WINDOW_BITS));
    let wanted_client_bits = clamp_bits(config.client_max_window_bits);
    // §7.1.1.2: the client's own "I will reset" is echoed, so our receive side keeps no
    // window it would never need (Python websockets does the same).
    let mut client_no_context_takeover =
        config.client_no_context_takeover || offer.client_no_context_takeover;
    let (client_bits, client_answer) = match offer.client_max_window_bits {
        // §7.1.2.2: answered only when offered, with a value no larger than the offer's.
        Some(offered) => {
            let bits = wanted_client_bits.min(offered.unwrap_or(MAX_WINDOW_BITS));
            let answer = (bits < MAX_WINDOW_BITS || offered.is_some()).then_some(Some(bits));
            (bits, answer)
        }
        // The client may use a 32 KiB window and we cannot say otherwise: make it reset
        // after each message instead, so no window outlives a message (uWebSockets' rule).
        None => {
            if wanted_client_bits < MAX_WINDOW_BITS {
                client_no_context_takeover = true;
            }
            (MAX_WINDOW_BITS, None)
        }
    };
    let answer = DeflateParams {
        // §7.1.1.1: echoed when offered; a server may also impose it on itself.
        server_no_context_takeover: offer.server_no_context_takeover
            || config.server_no_context_takeover,
        // §7.1.1.2: a server may always include it.
        client_no_context_takeover,
        // §7.1.2.1: echoed when offered (same or smaller), or sent unasked to limit ourselves.
        server_max_window_bits: (offer.server_max_window_bits.is_some()
            || server_bits < MAX_WINDOW_BITS)
            .then_some(server_bits),
        client_max_window_bits: client_answer,
    };
    let agreed = DeflateAgreement {
        server_no_context_takeover: answer.server_no_context_takeover,
        client_no_context_takeover: answer.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    };
    (answer, agreed)
}

/// Client: §7.1's rules for an answer to our offer (as Python websockets applies them).
fn check_answer(
    config: &DeflateConfig,
    answer: &DeflateParams,
) -> Result<DeflateAgreement, DeflateAnswerError> {
    let offer = offer_params(config);
    if offer.server_no_context_takeover && !answer.server_no_context_takeover {
        return Err(DeflateAnswerError::Missing("server_no_context_takeover"));
    }
    let server_bits = match (offer.server_max_window_bits, answer.server_max_window_bits) {
        (Some(_), None) => return Err(DeflateAnswerError::Missing("server_max_window_bits")),
        (Some(offered), Some(bits)) if bits > offered => {
            return Err(DeflateAnswerError::AboveOffer("server_max_window_bits"));
        }
        (_, bits) => bits.unwrap_or(MAX_WINDOW_BITS),
    };
    let client_bits = match answer.client_max_window_bits {
        None => offer
            .client_max_window_bits
            .flatten()
            .unwrap_or(MAX_WINDOW_BITS),
        Some(None) => return Err(DeflateAnswerError::WindowWithoutValue),
        Some(Some(bits)) => match offer.client_max_window_bits {
            Some(Some(offered)) if bits > offered => {
                return Err(DeflateAnswerError::AboveOffer("client_max_window_bits"));
            }
            _ => bits,
        },
    };
    Ok(DeflateAgreement {
        server_no_context_takeover: answer.server_no_context_takeover,
        client_no_context_takeover: answer.client_no_context_takeover
            || config.client_no_context_takeover,
        server_max_window_bits: server_bits,
        client_max_window_bits: client_bits,
    })
}
