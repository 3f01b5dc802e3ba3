//! Masking keys for the client role (RFC 6455 §5.3).

use switchyard_core::connection::MaskSource;

/// Masking keys from the OS RNG (RFC 6455 §5.3, §10.3: unpredictable, a fresh key per frame),
/// fetched 64 keys at a time to keep system calls off the per-frame path.
///
/// Fails closed: if the OS RNG fails there is no key (the core then refuses the send and
/// aborts the connection), never a key derived from earlier ones, which an observer of the
/// cleartext keys on a `ws://` connection could predict.
pub(crate) struct OsMasks {
    pool: [u8; 256],
    used: usize,
}

impl OsMasks {
    pub(crate) fn new() -> OsMasks {
        OsMasks {
            pool: [0; 256],
            used: 256,
        }
    }
}

impl MaskSource for OsMasks {
    fn next_mask(&mut self) -> Option<[u8; 4]> {
        if self.used + 4 > self.pool.len() {
            getrandom::fill(&mut self.pool).ok()?;
            self.used = 0;
        }
        let mut key = [0u8; 4];
        key.copy_from_slice(&self.pool[self.used..self.used + 4]);
        self.used += 4;
        Some(key)
    }
}
