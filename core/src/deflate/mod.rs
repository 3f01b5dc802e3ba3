//! permessage-deflate (RFC 7692): compression of each message's payload, the one extension
//! browsers offer on every WebSocket.
//!
//! | part | module | needs |
//! |---|---|---|
//! | parameters of one element (§7.1) | [`params`] | nothing |
//! | settings for either role | [`config`] | nothing |
//! | negotiation, both roles (§5, §7) | [`negotiate`] | nothing |
//! | the codec: compress, inflate, windows (§6, §7.2) | `codec` | feature `deflate` |
//!
//! Negotiation is pure and always compiled, so a handshake can decline or agree without the
//! codec; the codec (zlib-rs) is the connection's [`Extension`](crate::extension::Extension)
//! for what was agreed:
//!
//! ```
//! # #[cfg(feature = "deflate")] {
//! use switchyard_core::connection::{Connection, Role};
//! use switchyard_core::deflate::{DeflateCodec, DeflateConfig, PerMessageDeflate};
//! use switchyard_core::handshake::ExtensionOffers;
//! use switchyard_core::Limits;
//!
//! // A server answers Chrome's offer with its 12-bit windows...
//! let mut negotiator = PerMessageDeflate::new(DeflateConfig::SERVER);
//! let answer = negotiator.accept_offers(ExtensionOffers::parse(
//!     "permessage-deflate; client_max_window_bits",
//! ));
//! assert_eq!(
//!     answer,
//!     Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits=12")
//! );
//! // ...and runs the connection through the codec for what was agreed.
//! let agreed = negotiator.agreed().unwrap();
//! let codec = DeflateCodec::new(Role::Server, &agreed, negotiator.config());
//! let conn = Connection::server(Limits::default()).with_extension(codec);
//! # }
//! ```

#[cfg(feature = "deflate")]
mod codec;
pub mod config;
pub mod negotiate;
pub mod params;
#[cfg(feature = "deflate")]
mod window;

#[cfg(feature = "deflate")]
pub use codec::DeflateCodec;
pub use config::DeflateConfig;
pub use negotiate::{DeflateAgreement, DeflateAnswerError, PerMessageDeflate};
pub use params::{DeflateParams, ParamError};
