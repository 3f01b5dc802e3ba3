//! The WebSocket routes. Each takes an accepted connection, runs until it closes (or the
//! server shuts down), and reports how it ended.

pub(crate) mod chat;
pub(crate) mod echo;
pub(crate) mod inspect;

use std::borrow::Cow;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use switchyard::hub::{RoomName, Subscription};
use switchyard::{CloseInfo, Traffic, WebSocket};
use tokio::io::{AsyncRead, AsyncWrite};

use tracing::debug;

use crate::app::App;
use crate::boxed::boxed;
use crate::log_line::{CloseLine, Peer, log_close};
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

/// A route running on its connection, to its end, when it logs how the connection ended
/// ([`Closing::ended`]). Its output is `()` so that a connection's task polls it as its last
/// step (a tail call): the task adds no layer of its own to each poll (see
/// [`connection::Serve`](crate::connection::Serve)).
pub(crate) type Running = Pin<Box<dyn Future<Output = ()> + Send>>;

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

/// What a WebSocket's closing log line needs beyond how it ended: taken when it opened, and
/// kept by its route.
pub(crate) struct Closing {
    peer: SocketAddr,
    path: Cow<'static, str>,
    /// `Some("2")` over HTTP/2.
    http: Option<&'static str>,
    started: Instant,
}

impl Closing {
    /// A WebSocket opened at `path`: noted at `debug` (the line at `info` is the closing
    /// one, which has the path, the outcome, the duration and the bytes), and timed from now.
    pub(crate) fn opened(
        peer: SocketAddr,
        path: Cow<'static, str>,
        http: Option<&'static str>,
    ) -> Closing {
        debug!(peer = %Peer(peer), path = &*path, http, "open");
        Closing {
            peer,
            path,
            http,
            started: Instant::now(),
        }
    }

    /// The peer, for routes that name it.
    pub(crate) fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Logs the connection's closing line: the route's last step. Out of line, so that the
    /// route's poll keeps none of its state.
    #[inline(never)]
    pub(crate) fn ended(self, ended: &Ended) {
        let line = CloseLine::new(
            self.peer,
            &self.path,
            self.http,
            ended.info.as_ref(),
            self.started,
            ended.traffic,
        );
        log_close!(line);
    }
}

impl Upgrade {
    /// Runs the route on `ws` until the connection ends and `closing` is logged, boxed at the
    /// route's own size: the connection's task keeps a pointer, not room for the largest
    /// route (chat) whatever the route.
    pub(crate) fn run<S>(
        self,
        ws: WebSocket<S>,
        app: &Arc<App>,
        shutdown: Shutdown,
        closing: Closing,
    ) -> Running
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        match self {
            Upgrade::Echo => boxed(|| echo::run(ws, shutdown, closing)),
            Upgrade::Chat(subscription) => {
                let app = Arc::clone(app);
                Box::pin(async move {
                    let peer = closing.peer();
                    let ended =
                        chat::run(ws, subscription, &app.hub, app.chat_rate, peer, shutdown).await;
                    closing.ended(&ended);
                })
            }
            Upgrade::Inspect(handshake) => Box::pin(async move {
                let ended = inspect::run(ws, handshake, shutdown).await;
                closing.ended(&ended);
            }),
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
