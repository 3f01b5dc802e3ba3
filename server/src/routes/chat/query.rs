//! The query of `/chat/{room}?since=N&epoch=E`: where a reconnecting client left off.

use switchyard::hub::{Epoch, Position};

/// The longest epoch a client may send back; ours are 16 characters.
const MAX_EPOCH_LEN: usize = 64;

/// Why a chat query was refused (400 before the upgrade).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum QueryError {
    /// `since` is not a decimal number.
    SinceNotANumber,
    /// `since` without `epoch`, or `epoch` without `since`.
    Incomplete,
    /// `since` or `epoch` given twice.
    Repeated,
    /// An `epoch` longer than any the server makes.
    EpochTooLong,
}

impl QueryError {
    /// The 400 response's body.
    pub(crate) fn detail(self) -> &'static str {
        match self {
            QueryError::SinceNotANumber => "since must be a number (the last seq received)",
            QueryError::Incomplete => "since and epoch go together",
            QueryError::Repeated => "since and epoch may each appear once",
            QueryError::EpochTooLong => "epoch is too long",
        }
    }
}

/// The position in `query`, if any. Other parameters are ignored; nothing is
/// percent-decoded (the server's epochs and numbers never need it).
pub(crate) fn since(query: Option<&str>) -> Result<Option<Position>, QueryError> {
    let mut since = None;
    let mut epoch = None;
    for pair in query.unwrap_or("").split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "since" => &mut since,
            "epoch" => &mut epoch,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(QueryError::Repeated);
        }
    }
    match (since, epoch) {
        (None, None) => Ok(None),
        (Some(since), Some(epoch)) => {
            // Digits only: `parse` would also take a leading `+`.
            if since.is_empty() || !since.bytes().all(|b| b.is_ascii_digit()) {
                return Err(QueryError::SinceNotANumber);
            }
            let seq = since.parse().map_err(|_| QueryError::SinceNotANumber)?;
            if epoch.len() > MAX_EPOCH_LEN {
                return Err(QueryError::EpochTooLong);
            }
            Ok(Some(Position {
                epoch: Epoch::new(epoch),
                seq,
            }))
        }
        _ => Err(QueryError::Incomplete),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_since_and_epoch() {
        assert_eq!(since(None), Ok(None));
        assert_eq!(since(Some("x=1")), Ok(None));
        let position = since(Some("epoch=ab12&x=&since=42")).unwrap().unwrap();
        assert_eq!((position.epoch.as_str(), position.seq), ("ab12", 42));
    }

    #[test]
    fn refuses_what_it_cannot_use() {
        for (query, error) in [
            ("since=x&epoch=e", QueryError::SinceNotANumber),
            ("since=&epoch=e", QueryError::SinceNotANumber),
            ("since=+1&epoch=e", QueryError::SinceNotANumber),
            ("since=-1&epoch=e", QueryError::SinceNotANumber),
            (
                "since=99999999999999999999999&epoch=e",
                QueryError::SinceNotANumber,
            ),
            ("since=abc", QueryError::Incomplete),
            ("since=1", QueryError::Incomplete),
            ("epoch=e", QueryError::Incomplete),
            ("since=1&since=2&epoch=e", QueryError::Repeated),
        ] {
            assert_eq!(since(Some(query)), Err(error), "{query}");
        }
        let long = format!("since=1&epoch={}", "e".repeat(65));
        assert_eq!(since(Some(&long)), Err(QueryError::EpochTooLong));
    }
}
