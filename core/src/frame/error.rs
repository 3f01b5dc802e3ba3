//! Errors a peer's frame stream can cause. Each one fails the connection with its close code.

use core::fmt;

use crate::close::{CloseCode, CloseFrameError};

/// A peer broke the protocol; the connection fails with [`close_code`](Self::close_code).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// A reserved opcode (§5.2). 1002.
    ReservedOpcode(u8),
    /// An RSV bit no negotiated extension claims, or one set on a continuation or control
    /// frame (§5.2). 1002.
    ReservedBitsSet(u8),
    /// A 64-bit payload length with the most significant bit set (§5.2). 1002.
    LengthTopBitSet,
    /// A control frame with a payload over 125 bytes (§5.5). 1002.
    ControlFrameTooLong(u64),
    /// A control frame without FIN (§5.5). 1002.
    FragmentedControlFrame,
    /// A client frame without a mask (§5.1). 1002.
    UnmaskedClientFrame,
    /// A server frame with a mask (§5.1). 1002.
    MaskedServerFrame,
    /// A continuation frame with no message to continue (§5.4). 1002.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is open (§5.4). 1002.
    ExpectedContinuation,
    /// A frame payload over the frame limit. 1009.
    FrameTooLarge {
        /// The declared payload length.
        len: u64,
        /// The limit.
        max: u64,
    },
    /// A message that would pass the message limit. 1009.
    MessageTooLarge {
        /// The limit.
        max: u64,
    },
    /// A message in more frames than the fragment limit allows. 1008.
    TooManyFragments {
        /// The limit.
        max: u32,
    },
    /// Text that is not UTF-8 (§8.1). 1007.
    InvalidUtf8,
    /// A close payload of exactly one byte (§5.5.1). 1002.
    CloseFrameTooShort,
    /// A close code not allowed on the wire (§7.4). 1002.
    InvalidCloseCode(u16),
    /// A close reason that is not UTF-8 (§5.5.1). 1007.
    InvalidCloseReason,
    /// Message data the negotiated extension could not decode (§9). 1007.
    InvalidExtensionData,
    /// The negotiated extension failed on its own account while decoding (an engine could
    /// not be set up): not the peer's fault, but the message is lost. 1011.
    ExtensionFailed,
}

impl ProtocolError {
    /// The close code this error sends and reports.
    pub const fn close_code(&self) -> CloseCode {
        match self {
            ProtocolError::FrameTooLarge { .. } | ProtocolError::MessageTooLarge { .. } => {
                CloseCode::TOO_BIG
            }
            ProtocolError::TooManyFragments { .. } => CloseCode::POLICY,
            ProtocolError::ExtensionFailed => CloseCode::INTERNAL_ERROR,
            ProtocolError::InvalidUtf8
            | ProtocolError::InvalidCloseReason
            | ProtocolError::InvalidExtensionData => CloseCode::INVALID_PAYLOAD,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }

    /// A short reason for the close frame (well under the 123-byte cap).
    pub const fn reason(&self) -> &'static str {
        match self {
            ProtocolError::ReservedOpcode(_) => "reserved opcode",
            ProtocolError::ReservedBitsSet(_) => "reserved bits set",
            ProtocolError::LengthTopBitSet => "64-bit length with the top bit set",
            ProtocolError::ControlFrameTooLong(_) => "control frame over 125 bytes",
            ProtocolError::FragmentedControlFrame => "fragmented control frame",
            ProtocolError::UnmaskedClientFrame => "client frame not masked",
            ProtocolError::MaskedServerFrame => "server frame masked",
            ProtocolError::UnexpectedContinuation => "continuation with no message",
            ProtocolError::ExpectedContinuation => "new message inside a fragmented message",
            ProtocolError::FrameTooLarge { .. } => "frame too large",
            ProtocolError::MessageTooLarge { .. } => "message too large",
            ProtocolError::TooManyFragments { .. } => "too many fragments",
            ProtocolError::InvalidUtf8 => "invalid UTF-8 in text",
            ProtocolError::CloseFrameTooShort => "one-byte close payload",
            ProtocolError::InvalidCloseCode(_) => "invalid close code",
            ProtocolError::InvalidCloseReason => "close reason not UTF-8",
            ProtocolError::InvalidExtensionData => "extension data does not decode",
            ProtocolError::ExtensionFailed => "extension failed",
        }
    }
}

impl From<CloseFrameError> for ProtocolError {
    fn from(error: CloseFrameError) -> Self {
        match error {
            CloseFrameError::TooShort => ProtocolError::CloseFrameTooShort,
            CloseFrameError::InvalidCode(code) => ProtocolError::InvalidCloseCode(code),
            CloseFrameError::InvalidReason => ProtocolError::InvalidCloseReason,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::ReservedBitsSet(bits) => write!(f, "reserved bits {bits:#05b} set"),
            ProtocolError::ControlFrameTooLong(len) => {
                write!(f, "control frame of {len} bytes (max 125)")
            }
            ProtocolError::FrameTooLarge { len, max } => {
                write!(f, "frame of {len} bytes over the {max}-byte limit")
            }
            ProtocolError::MessageTooLarge { max } => {
                write!(f, "message over the {max}-byte limit")
            }
            ProtocolError::TooManyFragments { max } => {
                write!(f, "message in more than {max} fragments")
            }
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
            other => f.write_str(other.reason()),
        }?;
        write!(f, " (close {})", self.close_code())
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ProtocolError {}
