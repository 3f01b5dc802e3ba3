//! The WebSocket routes. Each takes an accepted connection, runs until it closes (or the
//! server shuts down), and reports how it ended.

pub(crate) mod chat;
pub(crate) mod echo;
pub(crate) mod inspect;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::pin::Pin;

use switchyard::hub::{RoomName, Subscription};
use switchyard::{CloseInfo, Traffic, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::app::App;
use crate::boxed::boxed;
use crate::shutdown::Shutdown;

/// A WebSocket route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Echo,
    /// `/chat/{room}`, or `/chat` for the lobby.
    Chat(RoomName),
    Inspect,
}

impl Route {
    /// The route at `path` (query removed), if it is a WebSocket route. A room name is taken
    /// as it appears in the path, never percent-decoded: `%` is not in a room name's
    /// alphabet, so an encoded path is no room (404) rather than a second spelling of one.
    pub(crate) fn at(path: &str) -> Option<Route> {
        match path {
            "/echo" => Some(Route::Echo),
            "/chat" => RoomName::new(chat::LOBBY).ok().map(Route::Chat),
            "/inspect" => Some(Route::Inspect),
            _ => {
                let name = path.strip_prefix("/chat/")?;
                RoomName::new(name).ok().map(Route::Chat)
            }
        }
    }
}

impl Route {
    /// The path a connection to this route was opened at (the one [`Route::at`] found it
    /// at), for its log line: the echo's and the inspector's are their one path, with no
    /// copy per connection; a chat path is kept as sent (`/chat` and `/chat/lobby` are the
    /// same room).
    pub(crate) fn path(&self, at: &str) -> Cow<'static, str> {
        match self {
            Route::Echo => Cow::Borrowed("/echo"),
            Route::Inspect => Cow::Borrowed("/inspect"),
            Route::Chat(_) => Cow::Owned(at.to_owned()),
        }
    }
}

/// A WebSocket route with what it took from the handshake.
pub(crate) enum Upgrade {
    Echo,
    Chat(Subscription),
    Inspect(inspect::Handshake),
}

/// A route running on its connection, until it reports how the connection ended.
pub(crate) type Running<'a> = Pin<Box<dyn Future<Output = Ended> + Send + 'a>>;

/// How a route's connection ended, for the close log line.
pub(crate) struct Ended {
    /// The close, if one was seen.
    pub(crate) info: Option<CloseInfo>,
    /// The bytes it moved, its handshake's included.
    pub(crate) traffic: Traffic,
}

impl Ended {
    /// How the connection `ws` (or either of its halves) ended.
    pub(crate) fn of<S>(ws: &WebSocket<S>) -> Ended {
        Ended {
            info: ws.close_info(),
            traffic: ws.traffic(),
        }
    }
}

impl Upgrade {
    /// Runs the route on `ws`, boxed at the route's own size: the connection's task keeps a
    /// pointer, not room for the largest route (chat) whatever the route.
    pub(crate) fn run<'a, S>(
        self,
        ws: WebSocket<S>,
        app: &'a App,
        peer: SocketAddr,
        shutdown: Shutdown,
    ) -> Running<'a>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'a,
    {
        match self {
            Upgrade::Echo => boxed(|| echo::run(ws, shutdown)),
            Upgrade::Chat(subscription) => Box::pin(chat::run(
                ws,
                subscription,
                &app.hub,
                app.chat_rate,
                peer,
                shutdown,
            )),
            Upgrade::Inspect(handshake) => Box::pin(inspect::run(ws, handshake, shutdown)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_paths_name_rooms() {
        let chat = |name: &str| Some(Route::Chat(RoomName::new(name).unwrap()));
        assert_eq!(Route::at("/chat"), chat("lobby"));
        assert_eq!(Route::at("/chat/Room-1.a_b"), chat("Room-1.a_b"));
        for path in ["/echo", "/inspect", "/chat", "/chat/Room-1.a_b"] {
            assert_eq!(Route::at(path).unwrap().path(path), path);
        }
        for path in [
            "/chat/",
            "/chat/.",
            "/chat/..",
            "/chat/a/b",
            "/chat/a%20b",
            "/chat//a",
            "/chatroom",
            &format!("/chat/{}", "x".repeat(65)),
        ] {
            assert_eq!(Route::at(path), None, "{path}");
        }
    }
}
