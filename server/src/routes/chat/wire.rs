//! What the server sends on `/chat`: one JSON object per text message, with a `type` first.

use switchyard::hub::{Delivery, Joined, RoomName};

/// Why an `error` was sent: the documented short codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reason {
    /// The hub's backend (Redis) cannot be reached: the message was not sent.
    Unavailable,
    /// Over the publish rate: the message was not sent.
    RateLimited,
}

impl Reason {
    fn code(self) -> &'static str {
        match self {
            Reason::Unavailable => "unavailable",
            Reason::RateLimited => "rate_limited",
        }
    }
}

/// A JSON string literal.
fn string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

pub(crate) fn joined(room: &RoomName, joined: &Joined) -> String {
    format!(
        r#"{{"type":"joined","room":{},"epoch":{},"seq":{},"recovered":{}}}"#,
        string(room.as_str()),
        string(joined.epoch().as_str()),
        joined.seq(),
        joined.recovered()
    )
}

pub(crate) fn message(delivery: &Delivery) -> String {
    format!(
        r#"{{"type":"message","room":{},"epoch":{},"seq":{},"text":{}}}"#,
        string(delivery.room().as_str()),
        string(delivery.epoch().as_str()),
        delivery.seq(),
        string(delivery.text().as_str())
    )
}

pub(crate) fn error(reason: Reason, detail: &str) -> String {
    format!(
        r#"{{"type":"error","reason":"{}","detail":{}}}"#,
        reason.code(),
        string(detail)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    #[test]
    fn errors_are_json_with_their_code() {
        let value: Value =
            serde_json::from_str(&error(Reason::RateLimited, "slow \"down\"")).unwrap();
        assert_eq!(
            value,
            json!({"type": "error", "reason": "rate_limited", "detail": "slow \"down\""})
        );
        assert!(error(Reason::Unavailable, "").contains(r#""reason":"unavailable""#));
    }
}
