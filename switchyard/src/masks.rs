//! Masking keys for the client role (RFC 6455 §5.3).

use switchyard_core::connection::MaskSource;

/// Masking keys from the OS RNG (RFC 6455 §5.3, §10.3: unpredictable, a fresh key per frame),
/// fetched 64 keys at a time to keep system calls off the per-frame path.
pub(crate) struct OsMasks {
    pool: [u8; 256],
    used: usize,
    /// A fallback stream, only used if the OS RNG ever fails after the first fill.
    fallback: u64,
}

impl OsMasks {
    pub(crate) fn new() -> OsMasks {
        let mut masks = OsMasks {
            pool: [0; 256],
            used: 256,
            fallback: 0,
        };
        masks.refill();
        masks
    }

    fn refill(&mut self) {
        if getrandom::fill(&mut self.pool).is_err() {
            // The OS RNG does not fail on any supported platform once it has been seeded;
            // should it, keys stay unpredictable to the page scripts §10.3 guards against by
            // stretching the last pool with SplitMix64 rather than repeating it.
            let (chunks, _) = self.pool.as_chunks_mut::<8>();
            for chunk in chunks {
                self.fallback =
                    self.fallback.wrapping_add(0x9E37_79B9_7F4A_7C15) ^ u64::from_ne_bytes(*chunk);
                let mut z = self.fallback;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                *chunk = (z ^ (z >> 31)).to_ne_bytes();
            }
        }
        self.used = 0;
    }
}

impl MaskSource for OsMasks {
    fn next_mask(&mut self) -> [u8; 4] {
        if self.used + 4 > self.pool.len() {
            self.refill();
        }
        let mut key = [0u8; 4];
        key.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        key
    }
}
