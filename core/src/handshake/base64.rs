//! The base64 of the handshake's keys (RFC 4648 §4, the standard alphabet with padding):
//! a 16-byte nonce into a 24-character `Sec-WebSocket-Key` and back, and a 20-byte SHA-1
//! digest into a 28-character `Sec-WebSocket-Accept` (RFC 6455 §4.1, §4.2.2).
//!
//! Fixed sizes known at compile time, so every index is a constant and the loops unroll: the
//! base64 crate's general engine took about 280 instructions per accept key (callgrind),
//! this about a third of that. The crate stays the oracle of the parity tests.

/// The standard alphabet (RFC 4648 Table 1).
const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Each byte's value as a base64 digit, or [`NOT_A_DIGIT`].
const DIGIT_VALUE: [u8; 256] = {
    let mut table = [NOT_A_DIGIT; 256];
    let mut value = 0;
    while value < 64 {
        table[ALPHABET[value] as usize] = value as u8;
        value += 1;
    }
    table
};

/// [`DIGIT_VALUE`] of a byte outside the alphabet (`=` included).
const NOT_A_DIGIT: u8 = 0xff;

/// Whether each byte is a base64 digit: a table of its own, as a key's check folds one per
/// digit (a `bool` is one `and`; a compare with [`NOT_A_DIGIT`] is more).
pub(crate) const IS_DIGIT: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        table[byte] = DIGIT_VALUE[byte] != NOT_A_DIGIT;
        byte += 1;
    }
    table
};

/// `input` in base64, padded: `M` must be `4 × ⌈N / 3⌉` (checked at compile time).
pub(crate) fn encode<const N: usize, const M: usize>(input: &[u8; N]) -> [u8; M] {
    const { assert!(M == N.div_ceil(3) * 4) };
    let digit = |sextet: u32| ALPHABET[(sextet & 63) as usize];
    let mut out = [b'='; M];
    let (groups, rest) = input.as_chunks::<3>();
    let (quads, last) = out.as_chunks_mut::<4>();
    debug_assert!(last.is_empty());
    for (group, quad) in groups.iter().zip(quads.iter_mut()) {
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        *quad = [digit(n >> 18), digit(n >> 12), digit(n >> 6), digit(n)];
    }
    if let Some(quad) = quads.get_mut(groups.len()) {
        // One or two bytes left: two or three digits, then the padding already there.
        let n = rest
            .iter()
            .enumerate()
            .fold(0, |n, (i, &byte)| n | u32::from(byte) << (16 - 8 * i));
        quad[0] = digit(n >> 18);
        quad[1] = digit(n >> 12);
        if rest.len() == 2 {
            quad[2] = digit(n >> 6);
        }
    }
    out
}

/// The 16 bytes a key encodes: `key` must be one [`WebSocketKey::parse`] accepted (21
/// digits, a 22nd with four zero bits, `==`); anything else decodes to some 16 bytes.
///
/// [`WebSocketKey::parse`]: super::accept::WebSocketKey::parse
pub(crate) fn decode_key(key: &[u8; 24]) -> [u8; 16] {
    let value = |byte: u8| u32::from(DIGIT_VALUE[usize::from(byte)] & 63);
    let mut out = [0u8; 16];
    let (quads, _) = key.as_chunks::<4>();
    let (triples, _) = out.as_chunks_mut::<3>();
    for (quad, triple) in quads.iter().zip(triples.iter_mut()) {
        let n = value(quad[0]) << 18 | value(quad[1]) << 12 | value(quad[2]) << 6 | value(quad[3]);
        *triple = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
    }
    // The sixth quad is two digits and `==`: the last byte.
    out[15] = ((value(key[20]) << 2) | (value(key[21]) >> 4)) as u8;
    out
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use proptest::prelude::*;

    use super::*;

    /// RFC 4648 §10's vectors, at every remainder of three.
    #[test]
    fn rfc_4648_vectors() {
        assert_eq!(&encode::<1, 4>(b"f"), b"Zg==");
        assert_eq!(&encode::<2, 4>(b"fo"), b"Zm8=");
        assert_eq!(&encode::<3, 4>(b"foo"), b"Zm9v");
        assert_eq!(&encode::<4, 8>(b"foob"), b"Zm9vYg==");
        assert_eq!(&encode::<5, 8>(b"fooba"), b"Zm9vYmE=");
        assert_eq!(&encode::<6, 8>(b"foobar"), b"Zm9vYmFy");
    }

    proptest! {
        /// A nonce's key and an accept key's digits are the base64 crate's, and a key
        /// decodes to the nonce it encodes.
        #[test]
        fn agrees_with_the_base64_crate(nonce in any::<[u8; 16]>(), digest in any::<[u8; 20]>()) {
            let key = encode::<16, 24>(&nonce);
            prop_assert_eq!(key.to_vec(), STANDARD.encode(nonce).into_bytes());
            prop_assert_eq!(decode_key(&key), nonce);
            let accept = encode::<20, 28>(&digest);
            prop_assert_eq!(accept.to_vec(), STANDARD.encode(digest).into_bytes());
        }
    }
}
