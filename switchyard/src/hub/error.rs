//! [`HubError`]: why a hub operation failed, and [`RecvError`]: why a subscription ended.

use std::fmt;

/// Why a publish or a subscribe failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum HubError {
    /// The backend cannot be reached now (the Redis link is down and being retried). Nothing
    /// was published; the caller should say so rather than drop the message silently.
    Unavailable,
    /// Redis answered a command with an error, or the connection failed during it.
    #[cfg(feature = "redis")]
    Redis(redis::RedisError),
}

impl fmt::Display for HubError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HubError::Unavailable => f.write_str("the hub's backend is unavailable"),
            #[cfg(feature = "redis")]
            HubError::Redis(error) => write!(f, "redis: {error}"),
        }
    }
}

impl std::error::Error for HubError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HubError::Unavailable => None,
            #[cfg(feature = "redis")]
            HubError::Redis(error) => Some(error),
        }
    }
}

#[cfg(feature = "redis")]
impl From<redis::RedisError> for HubError {
    fn from(error: redis::RedisError) -> Self {
        HubError::Redis(error)
    }
}

/// Why a subscription delivers nothing more.
#[derive(Debug)]
#[non_exhaustive]
pub enum RecvError {
    /// Its queue filled up under [`SlowConsumer::Disconnect`](super::SlowConsumer): it was
    /// cut off so the room would not wait for it.
    Lagged,
    /// The replay could not be read from the backend.
    Replay(HubError),
    /// The room went on faster than the replay was read, and its history dropped messages
    /// the replay had still to hand out (the replay is read a page at a time as it is
    /// consumed): the subscription cannot keep the [`Joined::recovered`] promise, and says
    /// so rather than skip them. Subscribing again from the last message received tells
    /// where the room now stands.
    ///
    /// [`Joined::recovered`]: super::Joined::recovered
    Overtaken,
    /// Every handle to the hub was dropped.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged => f.write_str("the subscriber fell too far behind its room"),
            RecvError::Replay(error) => write!(f, "replaying the history failed: {error}"),
            RecvError::Overtaken => {
                f.write_str("the room's history dropped messages before the replay reached them")
            }
            RecvError::Closed => f.write_str("the hub was dropped"),
        }
    }
}

impl std::error::Error for RecvError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RecvError::Replay(error) => Some(error),
            RecvError::Lagged | RecvError::Overtaken | RecvError::Closed => None,
        }
    }
}
