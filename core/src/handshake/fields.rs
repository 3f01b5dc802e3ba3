//! Reading header field values: comma-separated token lists (RFC 9110 §5.6.1), tokens
//! (§5.6.2), and fields that may appear once. Linear, no backtracking, whatever the input.

use super::MAX_LIST_FIELDS;
use super::error::HandshakeError;

/// The field lines of one list-valued header, kept as received: at most
/// [`MAX_LIST_FIELDS`] of them, so the offer needs no allocation.
///
/// Slots are `Option`s so that an empty list is all zero bytes: every request makes two
/// empty lists per view of it, and a list of empty slices (each a dangling pointer) was
/// copied from a constant with a call to `memcpy`, where zeros are a few stores (callgrind:
/// about 50 instructions a list).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ListFields<'b> {
    values: [Option<&'b [u8]>; MAX_LIST_FIELDS],
    len: usize,
}

impl<'b> ListFields<'b> {
    pub(crate) const EMPTY: ListFields<'static> = ListFields {
        values: [None; MAX_LIST_FIELDS],
        len: 0,
    };

    /// Adds a field line; `None` when [`MAX_LIST_FIELDS`] are already held.
    pub(crate) fn push(&mut self, value: &'b [u8]) -> Option<()> {
        *self.values.get_mut(self.len)? = Some(value);
        self.len += 1;
        Some(())
    }

    /// The field lines, as received.
    pub(crate) fn lines(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.values[..self.len].iter().flatten().copied()
    }

    /// The `index`th field line.
    pub(crate) fn line(&self, index: usize) -> Option<&'b [u8]> {
        self.values[..self.len].get(index).copied().flatten()
    }

    /// The list elements of every line, in order.
    pub(crate) fn elements(&self) -> impl Iterator<Item = &'b [u8]> + '_ {
        self.lines().flat_map(list_elements)
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

/// Whether a comma-separated list holds `token` (one of this crate's: see [`is_name`]),
/// compared ASCII case-insensitively. A list of just the token (`Upgrade: websocket`,
/// `Connection: Upgrade`: every browser's) is decided by one comparison before the list is
/// walked.
pub(crate) fn list_contains(value: &[u8], token: &str) -> bool {
    let token = token.as_bytes();
    is_name(value.trim_ascii(), token)
        || list_elements(value).any(|element| is_name(element, token))
}

/// Whether `bytes` is `name` in any ASCII case (RFC 9110 §5.1: field names, and the tokens
/// this crate looks for in lists, are case-insensitive), where `name` is written in lowercase
/// letters, digits and `-` (every header name and token the handshake looks for).
///
/// Eight bytes at a time: a byte of `bytes` matches a lowercase letter of `name` if it is that
/// letter with bit 5 set (`b | 0x20`), and any other byte of `name` only as itself, so the
/// word compared is `bytes | mask`, where `mask` has 0x20 in the bytes where `name` has a
/// letter (bit 6 set, from `0x40` up: `(name >> 1) & 0x20`). std's `eq_ignore_ascii_case`
/// lowercases both sides a byte at a time: the handshake's dozen comparisons cost about 500
/// instructions that way (callgrind).
#[inline]
pub(crate) fn is_name(bytes: &[u8], name: &[u8]) -> bool {
    debug_assert!(
        name.iter()
            .all(|&b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    );
    let len = name.len();
    if bytes.len() != len {
        return false;
    }
    // Words at 0, 8, 16... and one ending at the last byte (overlapping the one before); a
    // name shorter than a word is compared in two halves-words the same way, or bytewise.
    let folds = |word: fn(&[u8], usize) -> u64, at: usize| {
        let lower = word(name, at);
        word(bytes, at) | ((lower >> 1) & 0x2020_2020_2020_2020) == lower
    };
    match len {
        8.. => (0..len - 8).step_by(8).all(|at| folds(word8, at)) && folds(word8, len - 8),
        4..8 => folds(word4, 0) && folds(word4, len - 4),
        _ => bytes
            .iter()
            .zip(name)
            .all(|(&b, &n)| b | ((n >> 1) & 0x20) == n),
    }
}

/// The eight bytes of `bytes` from `at` as a word (0 past the end, which no caller reads).
fn word8(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<8>)
        .map_or(0, |word| u64::from_le_bytes(*word))
}

/// The four bytes of `bytes` from `at` as a word (0 past the end, which no caller reads).
fn word4(bytes: &[u8], at: usize) -> u64 {
    bytes
        .get(at..)
        .and_then(<[u8]>::first_chunk::<4>)
        .map_or(0, |word| u64::from(u32::from_le_bytes(*word)))
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

    /// Every length (the bytewise, half-word and word paths, and a last word overlapping the
    /// one before), every byte position, and every byte value: `is_name` agrees with std's
    /// case-insensitive comparison for names of lowercase letters, digits and `-`.
    #[test]
    fn names_match_in_any_case_and_nothing_else() {
        let alphabet = b"abcdefghijklmnopqrstuvwxyz0123456789-";
        for len in 0..=40 {
            let name: std::vec::Vec<u8> = (0..len)
                .map(|i| alphabet[(i * 7 + len) % alphabet.len()])
                .collect();
            assert!(is_name(&name, &name));
            assert!(is_name(&name.to_ascii_uppercase(), &name));
            assert!(!is_name(&name[..len.saturating_sub(1)], &name) || len == 0);
            for at in 0..len {
                for byte in 0..=255u8 {
                    let mut other = name.clone();
                    other[at] = byte;
                    assert_eq!(
                        is_name(&other, &name),
                        other.eq_ignore_ascii_case(&name),
                        "{:?} against {:?}",
                        other,
                        name
                    );
                }
            }
        }
        assert!(is_name(b"Sec-WebSocket-Key", b"sec-websocket-key"));
        assert!(!is_name(b"Sec\rWebSocket-Key", b"sec-websocket-key"));
        assert!(!is_name(b"sec\rwebsocket-key", b"sec-websocket-key"));
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
