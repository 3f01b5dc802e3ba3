//! The WebSocket routes. Each takes an accepted connection, runs until it closes (or the
//! server shuts down), and reports how it ended.

pub(crate) mod chat;
pub(crate) mod echo;
pub(crate) mod inspect;

/// A WebSocket route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    Echo,
    Chat,
    Inspect,
}

impl Route {
    /// The route at `path` (query removed), if it is a WebSocket route.
    pub(crate) fn at(path: &str) -> Option<Route> {
        match path {
            "/echo" => Some(Route::Echo),
            "/chat" => Some(Route::Chat),
            "/inspect" => Some(Route::Inspect),
            _ => None,
        }
    }
}
