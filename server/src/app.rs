//! [`App`]: what every connection shares, built once at startup.

use switchyard::{Config, OriginPolicy};

use crate::assets::Assets;
use crate::cli::Args;
use crate::routes::chat::Room;

/// The server's state, shared by every connection.
pub(crate) struct App {
    pub(crate) config: Config,
    /// `--allow-origin` values other than `*`, parsed once.
    origins: Vec<String>,
    /// `--allow-origin '*'`: the origin check is off.
    any_origin: bool,
    pub(crate) assets: Assets,
    pub(crate) room: Room,
}

impl App {
    pub(crate) fn new(args: &Args, assets: Assets) -> App {
        App {
            config: args.config(),
            any_origin: args.allow_origins.iter().any(|o| o == "*"),
            origins: args
                .allow_origins
                .iter()
                .filter(|o| *o != "*")
                .cloned()
                .collect(),
            assets,
            room: Room::new(args.chat_queue as usize),
        }
    }

    /// Which browser pages may open a WebSocket here (RFC 6455 §10.2): this host's own, the
    /// `--allow-origin` list, or any with `--allow-origin '*'`. A view of the lists above,
    /// which costs nothing to make.
    pub(crate) fn origin_policy(&self) -> OriginPolicy<'_, String> {
        OriginPolicy {
            allow_any: self.any_origin,
            ..OriginPolicy::same_host_or(self.origins.as_slice())
        }
    }
}
