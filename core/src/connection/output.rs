//! The bytes waiting for the transport: frames copied into one buffer, and large payloads
//! queued by reference (no copy) behind their headers, always in wire order.

use alloc::collections::VecDeque;
use bytes::{Buf, Bytes, BytesMut};

use crate::frame::MAX_HEADER_LEN;

/// Most pieces kept in the deque's allocation once everything is written: a connection that
/// sends large payloads keeps room for a few (a few hundred bytes) rather than allocate and
/// free the deque for each one.
const RETAINED_PIECES: usize = 4;

/// A piece of the output that is not in the copy buffer.
#[derive(Debug)]
enum Piece {
    /// A run of copied frames, frozen when a payload sent by reference was queued after it.
    Copied(Bytes),
    /// A frame whose payload is sent by reference: its header (kept here, so queueing one
    /// touches no buffer), then the payload.
    ByReference {
        head: [u8; MAX_HEADER_LEN],
        /// Header bytes already written.
        start: u8,
        len: u8,
        payload: Bytes,
    },
}

impl Piece {
    fn len(&self) -> usize {
        match self {
            Piece::Copied(bytes) => bytes.len(),
            Piece::ByReference {
                start,
                len,
                payload,
                ..
            } => usize::from(len - start) + payload.len(),
        }
    }

    /// The piece's next one or two slices, in order (an empty one when nothing is left).
    fn slices(&self) -> [&[u8]; 2] {
        match self {
            Piece::Copied(bytes) => [bytes, &[]],
            Piece::ByReference {
                head,
                start,
                len,
                payload,
            } => [&head[usize::from(*start)..usize::from(*len)], payload],
        }
    }

    /// Drops up to `n` bytes from the front; returns how many.
    fn consume(&mut self, n: usize) -> usize {
        match self {
            Piece::Copied(bytes) => {
                let k = n.min(bytes.len());
                bytes.advance(k);
                k
            }
            Piece::ByReference {
                start,
                len,
                payload,
                ..
            } => {
                // At most MAX_HEADER_LEN: fits.
                let from_head = n.min(usize::from(*len - *start));
                *start += from_head as u8;
                let from_payload = (n - from_head).min(payload.len());
                payload.advance(from_payload);
                from_head + from_payload
            }
        }
    }
}

/// The output queue. Everything in `shared` precedes `tail`: a payload queued by reference
/// first moves what `tail` holds into `shared`, so frames never reorder.
#[derive(Debug, Default)]
pub(super) struct Output {
    /// Whole pieces, in order: frozen runs of copied frames and frames sent by reference.
    shared: VecDeque<Piece>,
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

    /// Queues a frame of header `head` (at most [`MAX_HEADER_LEN`] bytes) and `payload`, by
    /// reference, after everything copied so far.
    #[inline(always)]
    pub(super) fn push_by_reference(&mut self, head: &[u8], payload: Bytes) {
        if !self.tail.is_empty() {
            let copied = self.tail.split().freeze();
            self.shared_len += copied.len();
            self.shared.push_back(Piece::Copied(copied));
        }
        let mut inline = [0u8; MAX_HEADER_LEN];
        inline[..head.len()].copy_from_slice(head);
        let piece = Piece::ByReference {
            head: inline,
            start: 0,
            // At most MAX_HEADER_LEN: fits.
            len: head.len() as u8,
            payload,
        };
        self.shared_len += piece.len();
        self.shared.push_back(piece);
    }

    /// The next contiguous bytes to write (empty when nothing waits).
    pub(super) fn front(&self) -> &[u8] {
        let Some(piece) = self.shared.front() else {
            return &self.tail;
        };
        match piece.slices() {
            [first, _] if !first.is_empty() => first,
            [_, second] => second,
        }
    }

    /// Fills `dst` with the next slices to write, in order, and returns how many it filled.
    #[inline(always)]
    pub(super) fn gather<'a>(&'a self, dst: &mut [&'a [u8]]) -> usize {
        if self.shared.is_empty() {
            // The usual case: copied frames only.
            let Some(slot) = dst.first_mut() else {
                return 0;
            };
            *slot = &self.tail;
            return usize::from(!self.tail.is_empty());
        }
        let tail = (!self.tail.is_empty()).then_some(&self.tail[..]);
        let slices = self
            .shared
            .iter()
            .flat_map(Piece::slices)
            .filter(|slice| !slice.is_empty())
            .chain(tail);
        let mut filled = 0;
        for (slot, slice) in dst.iter_mut().zip(slices) {
            *slot = slice;
            filled += 1;
        }
        filled
    }

    /// Drops the first `n` bytes (at most all of them), written.
    #[inline(always)]
    pub(super) fn consume(&mut self, mut n: usize) {
        while let Some(piece) = self.shared.front_mut() {
            let k = piece.consume(n);
            self.shared_len -= k;
            n -= k;
            if piece.len() > 0 {
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
    /// keeps its allocation), and of a deque of pieces grown past [`RETAINED_PIECES`] (with
    /// `max_retained` 0, of any).
    #[inline]
    pub(super) fn release_if_drained(&mut self, max_retained: usize) {
        if !self.is_empty() {
            return;
        }
        if max_retained == 0 || self.tail.capacity() > max_retained {
            self.tail = BytesMut::new();
        }
        if self.shared.capacity() > RETAINED_PIECES || max_retained == 0 {
            self.shared = VecDeque::new();
        }
    }

    /// Drops everything, buffers included.
    pub(super) fn clear(&mut self) {
        *self = Output::default();
    }
}
