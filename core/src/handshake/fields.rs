//! Reading header field values: comma-separated token lists (RFC 9110 §5.6.1), tokens
//! (§5.6.2), and fields that may appear once. Linear, no backtracking, whatever the input.

use super::MAX_LIST_FIELDS;
use super::error::HandshakeError;

/// The field lines of one list-valued header, kept as received: at most
/// [`MAX_LIST_FIELDS`] of them, so the offer needs no allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListFields<'b> {
    values: [&'b [u8]; MAX_LIST_FIELDS],
    len: usize,
}

impl<'b> ListFields<'b> {
    pub(crate) const EMPTY: ListFields<'static> = ListFields {
        values: [&[]; MAX_LIST_FIELDS],
        len: 0,
    };

    /// Adds a field line; `None` when [`MAX_LIST_FIELDS`] are already held.
    pub(crate) fn push(&mut self, value: &'b [u8]) -> Option<()> {
        *self.values.get_mut(self.len)? = value;
        self.len += 1;
        Some(())
    }

    /// The field lines, as received.
    pub(crate) fn lines(&self) -> &[&'b [u8]] {
        &self.values[..self.len]
    }

    /// The list elements of every line, in order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.lines().iter().flat_map(|v| list_elements(v))
    }
}

/// Keeps `value` in `slot` for a header that is not a list and may appear once (`Host`, RFC
/// 9112 §3.2; `Sec-WebSocket-Key`, RFC 6455 §11.3.1; `Sec-WebSocket-Version` and `Origin`):
/// a second line is refused, naming the header, rather than one of the two picked.
pub(crate) fn once<'b>(
    slot: &mut Option<&'b [u8]>,
    value: &'b [u8],
    name: &'static str,
) -> Result<(), HandshakeError> {
    if slot.replace(value).is_some() {
        return Err(HandshakeError::DuplicateHeader(name));
    }
    Ok(())
}

/// The non-empty elements of a comma-separated list, with optional whitespace trimmed.
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(|element| element.trim_ascii())
        .filter(|element| !element.is_empty())
}

/// Whether a comma-separated list holds `token`, compared ASCII case-insensitively. A list of
/// just the token (`Upgrade: websocket`, `Connection: Upgrade`: every browser's) is decided by
/// one comparison before the list is walked.
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    let token = token.as_bytes();
    value.trim_ascii().eq_ignore_ascii_case(token)
        || list_elements(value).any(|element| element.eq_ignore_ascii_case(token))
}

/// The header fields of a head this crate's parser accepted (a request's or a response's):
/// each name as sent and its value with surrounding whitespace removed (RFC 9110 §5.5), in
/// order. It walks the lines, skipping any empty lines before the start line (RFC 9112
/// §2.2, as the parser does) and the start line, and stopping at the blank one; the
/// parse already refused what would make that ambiguous (obsolete line folding, a name that
/// is no token), so it needs no second validation. A line without a colon or a name that is
/// not UTF-8 is skipped rather than trusted, should it be handed another buffer.
pub fn head_fields(head: &[u8]) -> impl Iterator<Item = (&str, &[u8])> {
    let start = head
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(head.len());
    head[start..]
        .split(|&b| b == b'\n')
        .skip(1)
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .take_while(|line| !line.is_empty())
        .filter_map(|line| {
            let colon = line.iter().position(|&b| b == b':')?;
            let name = core::str::from_utf8(&line[..colon]).ok()?;
            Some((name, line[colon + 1..].trim_ascii()))
        })
}

/// Whether `bytes` is an RFC 9110 token: one or more `tchar`.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Whether a value is safe to write into a header: no CR, LF or NUL, which would split the
/// response (compare RUSTSEC-2024-0009).
pub(crate) fn is_safe_value(value: &[u8]) -> bool {
    !value.iter().any(|&b| matches!(b, b'\r' | b'\n' | 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_skip_empty_elements_and_whitespace() {
        let elements: std::vec::Vec<&[u8]> =
            list_elements(b" ,keep-alive, ,\tUpgrade ,,").collect();
        assert_eq!(elements, [&b"keep-alive"[..], b"Upgrade"]);
        assert!(list_contains(b"keep-alive, Upgrade", "upgrade"));
        assert!(!list_contains(b"keep-alive, Upgrades", "upgrade"));
        // A value that is the token alone, in any case, with whitespace around.
        assert!(list_contains(b"UPGRADE", "upgrade"));
        assert!(list_contains(b" Upgrade\t", "upgrade"));
        for other in [&b""[..], b"Upgrade2", b"upgrad", b"up grade", b","] {
            assert!(!list_contains(other, "upgrade"), "{other:?}");
        }
    }

    #[test]
    fn pathological_lists_are_linear() {
        let commas = [b','; 100_000];
        assert_eq!(list_elements(&commas).count(), 0);
    }

    #[test]
    fn tokens_and_safe_values() {
        assert!(is_token(b"chat.v2"));
        assert!(!is_token(b"chat v2") && !is_token(b"") && !is_token(b"a/b"));
        assert!(is_safe_value(b"x y"));
        assert!(!is_safe_value(b"x\r\nSet-Cookie: a") && !is_safe_value(b"a\0"));
    }
}
