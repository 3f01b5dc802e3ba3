//! The WebSocket routes. Each takes an accepted connection, runs until it closes (or the
//! server shuts down), and reports how it ended.

pub(crate) mod chat;
pub(crate) mod echo;
pub(crate) mod inspect;

use switchyard::hub::RoomName;

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_paths_name_rooms() {
        let chat = |name: &str| Some(Route::Chat(RoomName::new(name).unwrap()));
        assert_eq!(Route::at("/chat"), chat("lobby"));
        assert_eq!(Route::at("/chat/Room-1.a_b"), chat("Room-1.a_b"));
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
