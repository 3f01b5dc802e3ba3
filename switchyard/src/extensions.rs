//! The extensions a handshake negotiates, as [`Config`] says: permessage-deflate when the
//! `deflate` feature is built and [`Config::deflate`] is set, nothing otherwise. One
//! negotiator type for both roles, and one place that turns what it agreed into the
//! connection's codec.

use switchyard_core::connection::Connection;
#[cfg(feature = "deflate")]
use switchyard_core::deflate::{DeflateCodec, PerMessageDeflate};
#[cfg(not(feature = "deflate"))]
use switchyard_core::handshake::NoExtensions;

use crate::Config;

/// The handshake's extension negotiator: `None` negotiates nothing.
#[cfg(feature = "deflate")]
pub(crate) type Negotiator = Option<PerMessageDeflate>;
/// The handshake's extension negotiator: without the `deflate` feature, always `None`.
#[cfg(not(feature = "deflate"))]
pub(crate) type Negotiator = Option<NoExtensions>;

/// The negotiator `config` asks for.
pub(crate) fn negotiator(config: &Config) -> Negotiator {
    #[cfg(feature = "deflate")]
    return config.deflate.map(PerMessageDeflate::new);
    #[cfg(not(feature = "deflate"))]
    {
        let _ = config;
        None
    }
}

/// `conn`, running through the codec for what `negotiator` agreed, if anything. Boxed as the
/// driver keeps it (see [`Driver`](crate::driver::Driver)): without an extension, the box
/// is passed on as it is.
pub(crate) fn with_extension(conn: Box<Connection>, negotiator: &Negotiator) -> Box<Connection> {
    #[cfg(feature = "deflate")]
    if let Some(deflate) = negotiator
        && let Some(agreed) = deflate.agreed()
    {
        let codec = DeflateCodec::new(conn.role(), &agreed, deflate.config());
        return Box::new((*conn).with_extension(codec));
    }
    let _ = negotiator;
    conn
}
