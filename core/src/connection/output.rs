//! The bytes waiting for the transport: frames copied into one buffer, and large payloads
//! queued by reference (no copy) between them, always in wire order.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

/// The output queue. Everything in `shared` precedes `tail`: a payload queued by reference
/// first moves what `tail` holds into `shared`, so frames never reorder.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Whole pieces, in order: frozen runs of copied frames and payloads sent by reference.
    shared: VecDeque<Bytes>,
    shared_len: usize,
    /// Frames copied in after the last shared piece.
    tail: BytesMut,
}

impl Output {
    /// Bytes waiting, in total.
    pub(super) fn len(&self) -> usize {
        self.shared_len + self.tail.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer frames are copied into.
    pub(super) fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Queues `payload` by reference, after everything copied so far.
    pub(super) fn push_shared(&mut self, payload: Bytes) {
        if !self.tail.is_empty() {
            let copied = self.tail.split().freeze();
            self.shared_len += copied.len();
            self.shared.push_back(copied);
        }
        self.shared_len += payload.len();
        self.shared.push_back(payload);
    }

    /// The next contiguous piece to write (empty when nothing waits).
    pub(super) fn front(&self) -> &[u8] {
        match self.shared.front() {
            Some(piece) => piece,
            None => &self.tail,
        }
    }

    /// Fills `dst` with the next pieces to write, in order, and returns how many it filled.
    pub(super) fn gather<'a>(&'a self, dst: &mut [&'a [u8]]) -> usize {
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let pieces = self.shared.iter().map(|piece| &piece[..]).chain(tail);
        let mut filled = 0;
        for (slot, piece) in dst.iter_mut().zip(pieces) {
            *slot = piece;
            filled += 1;
        }
        filled
    }

    /// Drops the first `n` bytes (at most all of them), written.
    pub(super) fn consume(&mut self, mut n: usize) {
        while let Some(piece) = self.shared.front_mut() {
            let k = n.min(piece.len());
            piece.advance(k);
            self.shared_len -= k;
            n -= k;
            if !piece.is_empty() {
                return;
            }
            self.shared.pop_front();
        }
        if n >= self.tail.len() {
            // Cleared rather than advanced: the next frame is copied in from the start of the
            // same allocation, where an advanced buffer would have to be reclaimed first.
            self.tail.clear();
        } else {
            self.tail.advance(n);
        }
    }

    /// Once empty, lets go of a copy buffer that grew past `max_retained` bytes (with
    /// `max_retained` 0, of any copy buffer: one advanced to its end reports no capacity yet
    /// keeps its allocation), and of the deque of shared pieces.
    pub(super) fn release_if_drained(&mut self, max_retained: usize) {
        if !self.is_empty() {
            return;
        }
        if max_retained == 0 || self.tail.capacity() > max_retained {
            self.tail = BytesMut::new();
        }
        // The deque of pieces sent by reference is needed only while large payloads wait: an
        // idle connection that once sent one should not keep it.
        if self.shared.capacity() > 0 {
            self.shared = VecDeque::new();
        }
    }

    /// Drops everything, buffers included.
    pub(super) fn clear(&mut self) {
        *self = Output::default();
    }
}
