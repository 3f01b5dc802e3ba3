//! The frame layer (RFC 6455 §5.2): opcodes, the header codec, masking, the raw-frame
//! splitter, and the protocol errors a frame stream can carry.

mod error;
mod header;
pub mod mask;
mod opcode;
pub mod split;

pub use error::ProtocolError;
pub use header::{EncodeError, FrameHeader, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN, MAX_PAYLOAD_LEN};
pub use opcode::OpCode;
