//! The accept key (RFC 6455 §1.3, §4.2.2 item 5.4).
//!
//! `Sec-WebSocket-Accept = base64(SHA-1(Sec-WebSocket-Key + GUID))`, computed into a fixed
//! buffer with no allocation.

use core::fmt;
use sha1::{Digest, Sha1};

use super::base64::{IS_DIGIT, decode_key, encode};

/// The GUID every endpoint appends to the key (§1.3).
pub const GUID: &[u8; 36] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// A `Sec-WebSocket-Accept` value: base64 of a 20-byte digest is always 28 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// Computes the accept value for a `Sec-WebSocket-Key` as sent (its base64 text, not the
    /// decoded nonce). Validating the key is the handshake's job; this hashes any bytes.
    pub fn from_key(key: &[u8]) -> AcceptKey {
        let mut sha = Sha1::new();
        sha.update(key);
        sha.update(GUID);
        AcceptKey(encode(&sha.finalize().into()))
    }

    /// The value as text.
    pub fn as_str(&self) -> &str {
        // Base64 output is ASCII, so this cannot fail; if it did, an empty string would only
        // hide the bug.
        core::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// The value as bytes.
    pub const fn as_bytes(&self) -> &[u8; 28] {
        &self.0
    }

    /// Compares with a received `Sec-WebSocket-Accept` value.
    pub fn matches(&self, received: &[u8]) -> bool {
        received == self.0
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AcceptKey({})", self.as_str())
    }
}

impl fmt::Display for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A `Sec-WebSocket-Key` value: base64 of a 16-byte nonce is always 24 ASCII bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WebSocketKey([u8; 24]);

impl WebSocketKey {
    /// The key for a nonce. §4.1: the nonce MUST be selected randomly for each connection;
    /// the caller supplies it, since the core has no RNG.
    pub fn from_nonce(nonce: &[u8; 16]) -> WebSocketKey {
        WebSocketKey(encode(nonce))
    }

    /// Checks a received key: §4.2.1 item 5, "a base64-encoded value that, when decoded, is 16
    /// bytes in length". Only the canonical 24-character padded form passes (what a base64
    /// decoder that refuses non-zero trailing bits, RFC 4648 §3.5, decodes to 16 bytes), and
    /// only its alphabet is checked: the nonce itself is never needed to answer.
    pub fn parse(value: &[u8]) -> Option<WebSocketKey> {
        let text: [u8; 24] = value.try_into().ok()?;
        let (digits, padding) = text.split_at(22);
        // 16 bytes are 21 digits and a 22nd holding the last byte's low 2 bits followed by 4
        // zero bits: one of `A`, `Q`, `g`, `w`.
        let canonical = padding == b"=="
            && matches!(digits[21], b'A' | b'Q' | b'g' | b'w')
            && digits
                .iter()
                .fold(true, |ok, &b| ok & IS_DIGIT[usize::from(b)]);
        canonical.then_some(WebSocketKey(text))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        // Only ever built from base64 output or checked base64 text, which is ASCII.
        core::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// The 16-byte nonce the key encodes: what [`from_nonce`](Self::from_nonce) was given.
    pub fn nonce(&self) -> [u8; 16] {
        // `parse` and `from_nonce` guarantee a canonical key.
        decode_key(&self.0)
    }

    /// The accept value a server must answer with.
    pub fn accept_key(&self) -> AcceptKey {
        AcceptKey::from_key(&self.0)
    }
}

impl fmt::Debug for WebSocketKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebSocketKey({})", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rfc_section_1_3_example() {
        let accept = AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert!(accept.matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
        assert!(!accept.matches(b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo"));
    }

    #[test]
    fn key_from_nonce_round_trips() {
        // RFC 6455 §1.3's nonce is the ASCII text "the sample nonce".
        let key = WebSocketKey::from_nonce(b"the sample nonce");
        assert_eq!(key.as_str(), "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(WebSocketKey::parse(key.as_str().as_bytes()), Some(key));
        assert_eq!(key.accept_key().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }

    #[test]
    fn nonce_is_what_the_key_encodes() {
        let key = WebSocketKey::from_nonce(b"the sample nonce");
        assert_eq!(&key.nonce(), b"the sample nonce");
        let parsed = WebSocketKey::parse(b"AAECAwQFBgcICQoLDA0ODw==").unwrap();
        assert_eq!(parsed.nonce(), core::array::from_fn(|i| i as u8));
    }

    #[test]
    fn rejects_keys_that_are_not_16_bytes_of_base64() {
        for bad in [
            &b""[..],
            b"dGhlIHNhbXBsZSBub25jZQ=",   // 23 characters
            b"dGhlIHNhbXBsZSBub25jZQ===", // 25 characters
            b"dGhlIHNhbXBsZSBub25jZ!==",  // bad alphabet
            b"dGhlIHNhbXBsZSBub25jZXg=",  // 17 bytes
            b"dGhlIHNhbXBsZSBub25jZQ  ",
        ] {
            assert_eq!(WebSocketKey::parse(bad), None, "{bad:?}");
        }
    }

    /// `parse` accepts exactly what the base64 crate decodes to 16 bytes, over keys made of
    /// the alphabet, padding and a few bytes outside it, and over valid keys with one byte
    /// changed.
    fn decodes_to_16(text: &[u8]) -> bool {
        let mut nonce = [0u8; 18];
        text.len() == 24 && STANDARD.decode_slice(text, &mut nonce) == Ok(16)
    }

    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .\0\xff";

    proptest! {
        #[test]
        fn parse_agrees_with_a_base64_decoder(
            picks in proptest::collection::vec(0..ALPHABET.len(), 22..=26),
        ) {
            let text: alloc::vec::Vec<u8> = picks.iter().map(|&i| ALPHABET[i]).collect();
            prop_assert_eq!(WebSocketKey::parse(&text).is_some(), decodes_to_16(&text));
        }

        #[test]
        fn parse_agrees_on_valid_keys_changed_in_one_byte(
            nonce in any::<[u8; 16]>(),
            at in 0..24usize,
            byte in any::<u8>(),
        ) {
            let key = WebSocketKey::from_nonce(&nonce);
            prop_assert_eq!(WebSocketKey::parse(key.as_str().as_bytes()), Some(key));
            let mut text: [u8; 24] = key.as_str().as_bytes().try_into().unwrap();
            text[at] = byte;
            prop_assert_eq!(WebSocketKey::parse(&text).is_some(), decodes_to_16(&text));
        }
    }
}
