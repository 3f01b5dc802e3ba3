//! Masking (RFC 6455 §5.3): `transformed[i] = original[i] XOR key[i mod 4]`.
//!
//! Masking is its own inverse. Both functions take the payload's running `offset`, so a payload
//! that arrives in several reads is unmasked piece by piece with the same result.
//!
//! [`apply_mask`] is the fast path: eight bytes at a time with a mask word, in safe code that
//! the compiler turns into wide vector instructions. [`apply_mask_reference`] is the plain
//! byte loop it must always agree with (see the parity tests).

/// Masks or unmasks `buf` in place; `offset` is the position of `buf[0]` within the payload.
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotated(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let (words, tail) = buf.as_chunks_mut::<8>();
    for chunk in words {
        *chunk = (u64::from_ne_bytes(*chunk) ^ word).to_ne_bytes();
    }
    // The tail starts at a multiple of 8 from `buf[0]`, so the key phase is unchanged.
    for (byte, k) in tail.iter_mut().zip(key.iter().cycle()) {
        *byte ^= k;
    }
}

/// The reference implementation: one byte at a time, straight from §5.3.
pub fn apply_mask_reference(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

/// The key as seen from `offset`: byte `j` of the result masks payload byte `offset + j`.
#[inline]
const fn rotated(key: [u8; 4], offset: usize) -> [u8; 4] {
    let r = offset % 4;
    [key[r], key[(r + 1) % 4], key[(r + 2) % 4], key[(r + 3) % 4]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn rfc_section_5_7_masked_hello() {
        // "Hello" masked with 37 fa 21 3d, from RFC 6455 §5.7.
        let mut payload = *b"\x7f\x9f\x4d\x51\x58";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    #[test]
    fn matches_reference_for_every_length_and_offset() {
        let key = [0xA1, 0x02, 0xF3, 0x4C];
        let data: [u8; 67] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in 0..data.len() {
            for offset in 0..8 {
                let mut fast = data;
                let mut slow = data;
                apply_mask(&mut fast[..len], key, offset);
                apply_mask_reference(&mut slow[..len], key, offset);
                assert_eq!(fast, slow, "len {len} offset {offset}");
            }
        }
    }

    proptest! {
        #[test]
        fn split_masking_equals_whole(data in proptest::collection::vec(any::<u8>(), 0..300),
                                      key in any::<[u8; 4]>(), cut in any::<prop::sample::Index>()) {
            let cut = cut.index(data.len() + 1);
            let mut whole = data.clone();
            apply_mask_reference(&mut whole, key, 0);
            let mut split = data.clone();
            let (a, b) = split.split_at_mut(cut);
            apply_mask(a, key, 0);
            apply_mask(b, key, cut);
            prop_assert_eq!(&whole, &split);
            apply_mask(&mut split, key, 0);
            prop_assert_eq!(split, data);
        }
    }
}
