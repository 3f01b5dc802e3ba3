//! [`RoomName`]: the one spelling of a room that every backend and every node agrees on.

use std::fmt;
use std::sync::Arc;

/// The longest room name, in bytes (every allowed character is one byte).
pub const MAX_ROOM_NAME_LEN: usize = 64;

/// A valid room name: 1 to [`MAX_ROOM_NAME_LEN`] characters of `A-Z a-z 0-9 . _ -`,
/// case-sensitive, and neither `.` nor `..`.
///
/// The alphabet is what a URL path segment, a Redis key and a log line can all carry as is:
/// no percent-decoding, quoting or escaping anywhere, so two nodes can never disagree on which
/// room a name means. `.` and `..` are refused because they mean something else in a path.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoomName(Arc<str>);

/// Why a string is not a [`RoomName`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoomNameError {
    /// The empty string.
    Empty,
    /// Longer than [`MAX_ROOM_NAME_LEN`] bytes.
    TooLong,
    /// A byte outside `A-Z a-z 0-9 . _ -`.
    InvalidCharacter,
    /// `.` or `..`.
    Dots,
}

impl RoomName {
    /// Checks `name` against the rules above.
    pub fn new(name: &str) -> Result<RoomName, RoomNameError> {
        if name.is_empty() {
            return Err(RoomNameError::Empty);
        }
        // Checked before anything is copied: a hostile path costs no allocation.
        if name.len() > MAX_ROOM_NAME_LEN {
            return Err(RoomNameError::TooLong);
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(RoomNameError::InvalidCharacter);
        }
        if name == "." || name == ".." {
            return Err(RoomNameError::Dots);
        }
        Ok(RoomName(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for RoomName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for RoomNameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RoomNameError::Empty => "a room name cannot be empty",
            RoomNameError::TooLong => "a room name has at most 64 characters",
            RoomNameError::InvalidCharacter => "a room name has only A-Z a-z 0-9 . _ -",
            RoomNameError::Dots => "a room name cannot be . or ..",
        })
    }
}

impl std::error::Error for RoomNameError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_alphabet_up_to_64_characters() {
        for name in ["lobby", "A-z_0.9", "...", ".a", "a..b", &"x".repeat(64)] {
            assert_eq!(RoomName::new(name).unwrap().as_str(), name);
        }
        assert_ne!(RoomName::new("Lobby"), RoomName::new("lobby"));
    }

    #[test]
    fn refuses_everything_else() {
        assert_eq!(RoomName::new(""), Err(RoomNameError::Empty));
        assert_eq!(RoomName::new(&"x".repeat(65)), Err(RoomNameError::TooLong));
        assert_eq!(RoomName::new("."), Err(RoomNameError::Dots));
        assert_eq!(RoomName::new(".."), Err(RoomNameError::Dots));
        for name in ["a b", "a/b", "a%41", "a{b}", "é", "a:b", "a\0"] {
            assert_eq!(
                RoomName::new(name),
                Err(RoomNameError::InvalidCharacter),
                "{name:?}"
            );
        }
    }
}
