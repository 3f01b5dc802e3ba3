//! The last 2^bits bytes a takeover direction has carried: what the peer's LZ77 window holds
//! (RFC 7692 §7.2.1: with context takeover a message may refer back into earlier ones). An
//! idle connection keeps this instead of a whole engine, and a new engine is primed with it
//! (`set_dictionary`), producing or accepting exactly what the old one would have.

use alloc::vec::Vec;

use crate::extension::ExtensionError;

/// A ring of the most recent bytes, allocated at its full size on first use.
#[derive(Debug)]
pub(super) struct Window {
    bytes: Vec<u8>,
    /// Where the oldest byte is, once the ring is full.
    start: usize,
    capacity: usize,
}

impl Window {
    pub(super) fn new(bits: u8) -> Window {
        Window {
            bytes: Vec::new(),
            start: 0,
            capacity: 1 << bits,
        }
    }

    /// Appends `data`, forgetting what falls out of the window.
    pub(super) fn push(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        if self.bytes.capacity() == 0 {
            self.bytes.reserve_exact(self.capacity);
        }
        let data = &data[data.len().saturating_sub(self.capacity)..];
        if data.len() == self.capacity {
            self.bytes.clear();
            self.bytes.extend_from_slice(data);
            self.start = 0;
            return;
        }
        // Fill the free room first, then overwrite the oldest bytes, wrapping once at most.
        let free = self.capacity - self.bytes.len();
        let (fill, rest) = data.split_at(free.min(data.len()));
        self.bytes.extend_from_slice(fill);
        let first = rest.len().min(self.capacity - self.start);
        self.bytes[self.start..self.start + first].copy_from_slice(&rest[..first]);
        self.bytes[..rest.len() - first].copy_from_slice(&rest[first..]);
        self.start = (self.start + rest.len()) % self.capacity;
    }

    /// The bytes, oldest first.
    pub(super) fn contiguous(&mut self) -> &[u8] {
        self.bytes.rotate_left(self.start);
        self.start = 0;
        &self.bytes
    }

    /// Primes a new engine with what a takeover direction's window holds, if anything:
    /// `set_dictionary` is the engine's, true on success.
    pub(super) fn prime(
        window: Option<&mut Window>,
        set_dictionary: impl FnOnce(&[u8]) -> bool,
    ) -> Result<(), ExtensionError> {
        match window {
            Some(window) if window.len() > 0 => {
                if set_dictionary(window.contiguous()) {
                    Ok(())
                } else {
                    Err(ExtensionError::Failed)
                }
            }
            _ => Ok(()),
        }
    }

    /// Bytes held.
    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec::Vec;

    #[test]
    fn keeps_the_last_bytes_in_order_however_they_arrive() {
        let stream: Vec<u8> = (0..2000u32).map(|i| (i * 7 % 251) as u8).collect();
        for chunk in [1, 3, 255, 256, 257, 700] {
            let mut window = Window::new(8);
            let mut fed = 0;
            for piece in stream.chunks(chunk) {
                window.push(piece);
                fed += piece.len();
                let want = &stream[fed.saturating_sub(256)..fed];
                assert_eq!(window.contiguous(), want, "chunks of {chunk}, after {fed}");
            }
            assert_eq!(window.len(), 256);
        }
    }
}
