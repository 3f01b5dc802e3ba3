//! The parameters of one `permessage-deflate` element (RFC 7692 §7.1), read strictly: an
//! unknown or repeated parameter or a bad value is an error, which a server answers by
//! declining that offer (§7) and a client by failing the connection (§7.1).

use core::fmt;

use crate::handshake::ExtensionOffer;

/// The extension's registered name (RFC 7692 §7).
pub const NAME: &str = "permessage-deflate";

/// The smallest and largest LZ77 window sizes, as base-2 logarithms (§7.1.2).
pub const MIN_WINDOW_BITS: u8 = 8;
/// See [`MIN_WINDOW_BITS`]; 15 (32 KiB) is also what applies when a window is not limited.
pub const MAX_WINDOW_BITS: u8 = 15;

/// One element's parameters, as written: which were present, and their values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeflateParams {
    /// `server_no_context_takeover` (§7.1.1.1).
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover` (§7.1.1.2).
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (§7.1.2.1): always with a value.
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits[=N]` (§7.1.2.2): `Some(None)` when present without a value,
    /// which only an offer may do.
    pub client_max_window_bits: Option<Option<u8>>,
}

/// Why an element's parameters are not acceptable (§7: the server declines such an offer,
/// the client fails on such an answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParamError {
    /// A parameter RFC 7692 does not define.
    Unknown,
    /// A parameter given twice.
    Duplicate,
    /// A value where none is allowed, none where one is required, or one outside 8–15 (or
    /// written with leading zeros).
    InvalidValue,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ParamError::Unknown => "unknown permessage-deflate parameter",
            ParamError::Duplicate => "repeated permessage-deflate parameter",
            ParamError::InvalidValue => "invalid permessage-deflate parameter value",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ParamError {}

impl DeflateParams {
    /// Reads an element's parameters (its name is the caller's to check). Names are compared
    /// ASCII case-insensitively, as tokens are; a quoted value was already unquoted (§9.1).
    pub fn parse(element: &ExtensionOffer<'_>) -> Result<DeflateParams, ParamError> {
        let mut params = DeflateParams::default();
        for (name, value) in element.params() {
            let is = |known: &str| name.eq_ignore_ascii_case(known);
            if is("server_no_context_takeover") {
                flag(&mut params.server_no_context_takeover, value)?;
            } else if is("client_no_context_takeover") {
                flag(&mut params.client_no_context_takeover, value)?;
            } else if is("server_max_window_bits") {
                // §7.1.2.1: the value is required.
                let bits = value.map(window_bits).ok_or(ParamError::InvalidValue)??;
                once(&mut params.server_max_window_bits, bits)?;
            } else if is("client_max_window_bits") {
                // §7.1.2.2: in an offer the value may be absent.
                let bits = value.map(window_bits).transpose()?;
                once(&mut params.client_max_window_bits, bits)?;
            } else {
                return Err(ParamError::Unknown);
            }
        }
        Ok(params)
    }

    /// Writes the element, name first, parameters in a fixed order.
    pub fn write(&self, out: &mut impl fmt::Write) -> fmt::Result {
        out.write_str(NAME)?;
        if self.server_no_context_takeover {
            out.write_str("; server_no_context_takeover")?;
        }
        if self.client_no_context_takeover {
            out.write_str("; client_no_context_takeover")?;
        }
        if let Some(bits) = self.server_max_window_bits {
            write!(out, "; server_max_window_bits={bits}")?;
        }
        match self.client_max_window_bits {
            Some(Some(bits)) => write!(out, "; client_max_window_bits={bits}")?,
            Some(None) => out.write_str("; client_max_window_bits")?,
            None => {}
        }
        Ok(())
    }
}

fn flag(slot: &mut bool, value: Option<&str>) -> Result<(), ParamError> {
    // §7.1.1: the no_context_takeover parameters have no value.
    if value.is_some() {
        return Err(ParamError::InvalidValue);
    }
    if core::mem::replace(slot, true) {
        return Err(ParamError::Duplicate);
    }
    Ok(())
}

fn once<T>(slot: &mut Option<T>, value: T) -> Result<(), ParamError> {
    if slot.replace(value).is_some() {
        return Err(ParamError::Duplicate);
    }
    Ok(())
}

/// §7.1.2: "a decimal integer value without leading zeroes between 8 to 15, inclusive".
fn window_bits(value: &str) -> Result<u8, ParamError> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Ok(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Ok(10 + d - b'0'),
        _ => Err(ParamError::InvalidValue),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handshake::ExtensionOffers;
    use std::string::String;

    fn parse(value: &str) -> Result<DeflateParams, ParamError> {
        DeflateParams::parse(&ExtensionOffers::parse(value).next().unwrap().unwrap())
    }

    #[test]
    fn reads_every_parameter() {
        assert_eq!(
            parse(
                "permessage-deflate; Server_No_Context_Takeover; client_no_context_takeover; \
                 server_max_window_bits=\"10\"; client_max_window_bits"
            ),
            Ok(DeflateParams {
                server_no_context_takeover: true,
                client_no_context_takeover: true,
                server_max_window_bits: Some(10),
                client_max_window_bits: Some(None),
            })
        );
        assert_eq!(
            parse("permessage-deflate; client_max_window_bits=8"),
            Ok(DeflateParams {
                client_max_window_bits: Some(Some(8)),
                ..DeflateParams::default()
            })
        );
    }

    #[test]
    fn refuses_what_section_7_refuses() {
        use ParamError::*;
        for (value, error) in [
            ("permessage-deflate; x_foo", Unknown),
            (
                "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
                Duplicate,
            ),
            (
                "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
                Duplicate,
            ),
            ("permessage-deflate; server_max_window_bits", InvalidValue),
            ("permessage-deflate; server_max_window_bits=7", InvalidValue),
            (
                "permessage-deflate; server_max_window_bits=16",
                InvalidValue,
            ),
            (
                "permessage-deflate; server_max_window_bits=09",
                InvalidValue,
            ),
            (
                "permessage-deflate; client_max_window_bits=010",
                InvalidValue,
            ),
            ("permessage-deflate; client_max_window_bits=a", InvalidValue),
            (
                "permessage-deflate; server_no_context_takeover=1",
                InvalidValue,
            ),
        ] {
            assert_eq!(parse(value), Err(error), "{value}");
        }
    }

    #[test]
    fn writes_what_it_reads() {
        for value in [
            "permessage-deflate",
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=9; client_max_window_bits=15",
        ] {
            let mut written = String::new();
            parse(value).unwrap().write(&mut written).unwrap();
            assert_eq!(written, value);
        }
    }
}
