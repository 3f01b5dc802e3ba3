//! Frame opcodes (RFC 6455 §5.2, §11.8).

use core::fmt;

/// A defined frame opcode. Reserved values (0x3–0x7, 0xB–0xF) cannot be represented: the
/// decoder rejects them before anything else (§5.2: "If an unknown opcode is received, the
/// receiving endpoint MUST _Fail the WebSocket Connection_").
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct OpCode(u8);

impl OpCode {
    /// 0x0: continues a fragmented message.
    pub const CONTINUATION: OpCode = OpCode(0x0);
    /// 0x1: the first frame of a text message.
    pub const TEXT: OpCode = OpCode(0x1);
    /// 0x2: the first frame of a binary message.
    pub const BINARY: OpCode = OpCode(0x2);
    /// 0x8: close.
    pub const CLOSE: OpCode = OpCode(0x8);
    /// 0x9: ping.
    pub const PING: OpCode = OpCode(0x9);
    /// 0xA: pong.
    pub const PONG: OpCode = OpCode(0xA);

    /// The opcode for a 4-bit value, or `None` if the value is reserved.
    pub const fn from_u8(value: u8) -> Option<OpCode> {
        match value {
            0x0..=0x2 | 0x8..=0xA => Some(OpCode(value)),
            _ => None,
        }
    }

    /// The 4-bit value.
    pub const fn as_u8(self) -> u8 {
        self.0
    }

    /// Close, ping and pong are control frames (§5.5): the high bit of the opcode is set.
    pub const fn is_control(self) -> bool {
        self.0 & 0x8 != 0
    }

    /// A short lowercase name, for logs and reports.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x0 => "continuation",
            0x1 => "text",
            0x2 => "binary",
            0x8 => "close",
            0x9 => "ping",
            _ => "pong",
        }
    }
}

impl fmt::Debug for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpCode::{}({:#x})", self.name(), self.0)
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_opcodes_have_no_value() {
        for v in (0x3..=0x7).chain(0xB..=0xF).chain([0x10, 0xFF]) {
            assert_eq!(OpCode::from_u8(v), None, "{v:#x}");
        }
        for v in [0x0, 0x1, 0x2, 0x8, 0x9, 0xA] {
            assert_eq!(OpCode::from_u8(v).map(OpCode::as_u8), Some(v));
        }
        assert!(OpCode::PING.is_control() && !OpCode::TEXT.is_control());
    }
}
