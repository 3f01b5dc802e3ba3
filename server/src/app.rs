//! [`App`]: what every connection shares, built once at startup.

use switchyard::hub::Hub;
use switchyard::{Config, Limits, OriginPolicy};

use crate::assets::Assets;
use crate::cli::Args;
use crate::routes::chat::Rate;

/// The server's state, shared by every connection.
pub(crate) struct App {
    pub(crate) config: Config,
    /// `--allow-origin` values other than `*`, parsed once.
    origins: Vec<String>,
    /// `--allow-origin '*'`: the origin check is off.
    any_origin: bool,
    pub(crate) assets: Assets,
    /// The chat rooms: in this process, or shared with every node on `--redis`.
    pub(crate) hub: Hub,
    /// A chat connection's limits: messages of at most `--chat-max-text` bytes.
    pub(crate) chat_limits: Limits,
    pub(crate) chat_rate: Rate,
}

impl App {
    /// Builds the server's state; with `--redis`, starts the link's task on the current
    /// runtime (it connects in the background: the server starts even if Redis is down).
    pub(crate) fn new(args: &Args, assets: Assets) -> App {
        let config = args.config();
        let hub = match &args.redis {
            Some(url) => Hub::redis(url.clone(), args.hub_config()),
            None => Hub::in_memory(args.hub_config()),
        };
        App {
            config,
            any_origin: args.allow_origins.iter().any(|o| o == "*"),
            origins: args
                .allow_origins
                .iter()
                .filter(|o| *o != "*")
                .cloned()
                .collect(),
            assets,
            hub,
            chat_limits: config
                .limits
                .with_max_message_size(u64::from(args.chat_max_text)),
            chat_rate: Rate {
                per_second: args.chat_rate,
                burst: args.chat_burst,
            },
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
