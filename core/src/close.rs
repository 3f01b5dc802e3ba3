//! Close codes and close-frame payloads (RFC 6455 §5.5.1, §7.4).
//!
//! A leaf module: it depends on nothing else in the crate, so the frame layer's errors can
//! name the close codes they map to without a cycle.

use core::fmt;

/// A close status code (RFC 6455 §7.4). A newtype so codes are never bare integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: the peer broke the protocol.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present. Reported locally, never sent (§7.4.1).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection closed without a close frame. Reported locally, never sent (§7.4.1).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (e.g. text that is not UTF-8).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: a message violated the endpoint's policy.
    pub const POLICY: CloseCode = CloseCode(1008);
    /// 1009: a message too big to process.
    pub const TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: an unexpected condition inside the endpoint.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting (IANA registry).
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later (IANA registry).
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway (IANA registry).
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);
    /// 1015: TLS handshake failure. Reported locally, never sent (§7.4.1).
    pub const TLS_HANDSHAKE: CloseCode = CloseCode(1015);

    /// Wraps any value; use [`is_sendable`](Self::is_sendable) before putting it on the wire.
    pub const fn new(code: u16) -> CloseCode {
        CloseCode(code)
    }

    /// The numeric value.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether this code may appear in a close frame on the wire.
    ///
    /// RFC 6455 §7.4.1–§7.4.2: 1000–1003 and 1007–1011 are defined, 1012–1014 are registered
    /// with IANA, 3000–4999 are for libraries and applications. 1004 is reserved, 1005, 1006 and
    /// 1015 must never be sent, 1016–2999 are unassigned, and 0–999 and 5000+ are not used.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A received close payload that breaks §5.5.1 or §7.4; each maps to the code the connection
/// fails with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CloseFrameError {
    /// A payload of exactly one byte: a code is two bytes (§5.5.1). 1002.
    TooShort,
    /// A code not allowed on the wire (§7.4). 1002.
    InvalidCode(u16),
    /// A reason that is not UTF-8 (§5.5.1). 1007.
    InvalidReason,
}

impl CloseFrameError {
    /// The close code this error fails the connection with.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            CloseFrameError::TooShort | CloseFrameError::InvalidCode(_) => {
                CloseCode::PROTOCOL_ERROR
            }
            CloseFrameError::InvalidReason => CloseCode::INVALID_PAYLOAD,
        }
    }
}

impl fmt::Display for CloseFrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseFrameError::TooShort => f.write_str("one-byte close payload"),
            CloseFrameError::InvalidCode(code) => write!(f, "invalid close code {code}"),
            CloseFrameError::InvalidReason => f.write_str("close reason not UTF-8"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for CloseFrameError {}

/// Longest close reason: a control payload is at most 125 bytes (§5.5), two of them the code.
pub const MAX_REASON_LEN: usize = 123;

/// A validated close payload, borrowed from the frame (§5.5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code; [`CloseCode::NO_STATUS`] when the payload was empty.
    pub code: CloseCode,
    /// The UTF-8 reason, possibly empty.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// Parses and validates a received close payload.
    ///
    /// - empty: no status (reported as 1005);
    /// - one byte: 1002, a code is two bytes (§5.5.1);
    /// - a code not allowed on the wire: 1002 (§7.4);
    /// - a reason that is not UTF-8: 1007 (§5.5.1, the body "MAY contain UTF-8-encoded data").
    pub fn parse(payload: &'a [u8]) -> Result<CloseFrame<'a>, CloseFrameError> {
        match payload {
            [] => Ok(CloseFrame {
                code: CloseCode::NO_STATUS,
                reason: "",
            }),
            [_] => Err(CloseFrameError::TooShort),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_sendable() {
                    return Err(CloseFrameError::InvalidCode(code.0));
                }
                let reason =
                    core::str::from_utf8(reason).map_err(|_| CloseFrameError::InvalidReason)?;
                Ok(CloseFrame { code, reason })
            }
        }
    }

    /// Writes the payload (code, then reason cut to [`MAX_REASON_LEN`] on a character
    /// boundary) into `out`, returning its length. A code of [`CloseCode::NO_STATUS`] gives an
    /// empty payload. The code is written as given: check
    /// [`is_sendable`](CloseCode::is_sendable) first.
    pub fn encode(&self, out: &mut [u8; 125]) -> usize {
        if self.code == CloseCode::NO_STATUS {
            return 0;
        }
        out[..2].copy_from_slice(&self.code.0.to_be_bytes());
        let reason = truncate_reason(self.reason);
        out[2..2 + reason.len()].copy_from_slice(reason.as_bytes());
        2 + reason.len()
    }
}

/// Cuts `reason` to at most [`MAX_REASON_LEN`] bytes, on a `char` boundary.
pub fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= MAX_REASON_LEN {
        return reason;
    }
    let mut end = MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sendable_codes_follow_section_7_4() {
        for code in [
            1000, 1001, 1002, 1003, 1007, 1010, 1011, 1012, 1013, 1014, 3000, 4999,
        ] {
            assert!(CloseCode(code).is_sendable(), "{code}");
        }
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_sendable(), "{code}");
        }
    }

    #[test]
    fn parses_code_and_reason() {
        let frame = CloseFrame::parse(b"\x03\xe8bye").unwrap();
        assert_eq!(frame.code, CloseCode::NORMAL);
        assert_eq!(frame.reason, "bye");
        assert_eq!(CloseFrame::parse(b"").unwrap().code, CloseCode::NO_STATUS);
    }

    #[test]
    fn rejects_bad_close_payloads_with_their_codes() {
        let one_byte = CloseFrame::parse(b"\x03").unwrap_err();
        assert_eq!(one_byte.close_code(), CloseCode::PROTOCOL_ERROR);
        let bad_code = CloseFrame::parse(b"\x03\xed").unwrap_err();
        assert_eq!(bad_code, CloseFrameError::InvalidCode(1005));
        assert_eq!(bad_code.close_code(), CloseCode::PROTOCOL_ERROR);
        let bad_reason = CloseFrame::parse(b"\x03\xe8\xff").unwrap_err();
        assert_eq!(bad_reason.close_code(), CloseCode::INVALID_PAYLOAD);
    }

    #[test]
    fn truncates_reason_on_char_boundary() {
        let long = "é".repeat(100); // 200 bytes
        let cut = truncate_reason(&long);
        assert_eq!(cut.len(), 122);
        assert!(long.starts_with(cut));
    }

    #[test]
    fn encodes_code_and_reason() {
        let mut out = [0u8; 125];
        let n = CloseFrame {
            code: CloseCode::GOING_AWAY,
            reason: "bye",
        }
        .encode(&mut out);
        assert_eq!(&out[..n], b"\x03\xe9bye");
    }
}
