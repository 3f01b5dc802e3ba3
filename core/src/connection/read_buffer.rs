//! The read buffer: where received bytes land and are decoded in place.
//!
//! The shell borrows its free space ([`Connection::read_buffer`](super::Connection::read_buffer))
//! and gives it back filled; messages leave as views of it. Its size follows what is awaited,
//! never a peer's declared length alone, and a drained buffer is dropped so an idle connection
//! holds none.
//!
//! A message handed out as a view keeps its whole allocation alive until it is dropped, as
//! with any `Bytes` view: an application that holds many small messages for long should copy
//! them out.

use bytes::BytesMut;
use core::ops::{Deref, DerefMut};

use super::receive::Frame;
use crate::frame::MAX_HEADER_LEN;

/// Room lent for a read when a header or a small frame is awaited: the read size shells used
/// with a stack buffer, enough for many small frames or a good part of a larger one per read.
const MIN_READ: usize = 16 * 1024;

/// Most room lent for a large frame's payload beyond what the frame has already sent: a
/// declared length is a promise, not bytes, so the reservation grows only as they arrive.
const READ_AHEAD: usize = 64 * 1024;

/// Largest allocation kept as a spare: what a read with no frame in progress is lent at
/// most, so a connection carrying 64 KiB messages reads each into the buffer the last one
/// left, rather than allocating and freeing 64 KiB per message.
const MAX_SPARE: usize = MAX_FIRST_READ;

/// Whether `buf` can be lent again for a read of `room`: empty, and at most twice `room` (or
/// [`MIN_READ`]), so a buffer a large message lived in serves large reads, not small ones.
/// For a small read (`room` at most [`MIN_READ`]), what is left of it after the messages
/// handed out as views of it will do while that is at least half of [`MIN_READ`];
/// otherwise, and for a large read, it must hold `room` once reclaimed in place, which
/// needs no view of it alive. (Reclaiming checks the allocation's reference count: not
/// worth it for every small read.)
fn reusable(buf: &mut BytesMut, room: usize) -> bool {
    let most = 2 * room.max(MIN_READ);
    if !buf.is_empty() || buf.capacity() > most {
        return false;
    }
    (room <= MIN_READ && buf.capacity() >= MIN_READ / 2)
        || (buf.try_reclaim(room) && buf.capacity() <= most)
}

/// Received bytes: first the current frame's payload decoded so far (when it is decoded in
/// place), then bytes not yet decoded.
pub(super) struct ReadBuffer {
    bytes: BytesMut,
    /// Room for a read with no frame in progress: the last data frame's size (header and
    /// payload) within [`MIN_READ`]..=[`READ_AHEAD`] + a header. A connection that carries
    /// large frames then reads the next one whole into one allocation, instead of growing a
    /// small buffer under its first bytes (a reallocation and a copy per message); one that
    /// carries small frames keeps reading into [`MIN_READ`]. The room is only lent, for the
    /// read: an idle connection still holds no buffer.
    first_read: u32,
}

/// The largest [`ReadBuffer::first_read`]: what a declared large frame is lent anyway.
const MAX_FIRST_READ: usize = READ_AHEAD + MAX_HEADER_LEN;

impl ReadBuffer {
    pub(super) fn new() -> ReadBuffer {
        ReadBuffer {
            bytes: BytesMut::new(),
            first_read: MIN_READ as u32,
        }
    }

    /// A data frame of `payload_len` bytes started: the next frame is likely of its size.
    pub(super) fn note_data_frame(&mut self, payload_len: u64) {
        let room = usize::try_from(payload_len)
            .unwrap_or(usize::MAX)
            .saturating_add(MAX_HEADER_LEN)
            .clamp(MIN_READ, MAX_FIRST_READ);
        // At most MAX_FIRST_READ, 64 KiB and a header: fits.
        self.first_read = room as u32;
    }

    /// How much room the next read should have, given the frame in progress: enough for the
    /// rest of its payload and the next header, but at most [`READ_AHEAD`] or the payload
    /// already kept, whichever is more; and at least what fills the buffer to
    /// [`first_read`](Self::first_read) ([`MIN_READ`] after small frames), so a few bytes of
    /// a small frame or a header never make it grow. Frame sizes are already within
    /// `max_frame_size`, checked from the header.
    pub(super) fn hint(&self, frame: Option<Frame>) -> usize {
        let least = (self.first_read as usize)
            .saturating_sub(self.bytes.len())
            .max(MAX_HEADER_LEN);
        let Some(frame) = frame else {
            return least;
        };
        let kept = frame.kept();
        let buffered = self.bytes.len().saturating_sub(kept) as u64;
        let missing = frame
            .remaining
            .saturating_sub(buffered)
            .saturating_add(MAX_HEADER_LEN as u64);
        usize::try_from(missing)
            .unwrap_or(usize::MAX)
            .min(READ_AHEAD.max(kept))
            .max(least)
    }

    /// Lends the free space after the buffered bytes, as an empty buffer sharing the
    /// allocation: at least `room` bytes, or the free space already there if that is more
    /// than half of it (not worth a new allocation and a copy for one read). With nothing
    /// buffered, a whole allocation of about `room` bytes: the one the last read went into,
    /// once no message handed out from it is alive; else the caller's `spare`; else a new one.
    #[inline(always)]
    pub(super) fn lend(&mut self, room: usize, spare: &mut Option<BytesMut>) -> BytesMut {
        if self.bytes.is_empty() {
            let mut drained = core::mem::take(&mut self.bytes);
            // (A buffer with no room left is asked last: reclaiming it costs a check of its
            // reference count, and it is usually the empty one a would-block read left.)
            if drained.capacity() > 0 && reusable(&mut drained, room) {
                return drained;
            }
            if let Some(mut offered) = spare.take() {
                if reusable(&mut offered, room) {
                    return offered;
                }
                *spare = Some(offered);
            }
            if drained.capacity() == 0 && reusable(&mut drained, room) {
                return drained;
            }
            return BytesMut::with_capacity(room);
        }
        if self.bytes.capacity() - self.bytes.len() <= room / 2 {
            self.bytes.reserve(room);
        }
        let len = self.bytes.len();
        self.bytes.split_off(len)
    }

    /// Takes back a lent buffer that nothing was read into. When it was a whole allocation
    /// (nothing was buffered) and `spare` is free, it becomes the spare, for the caller to
    /// offer to the next read of this or another connection; else it is dropped. Either way
    /// the connection keeps no allocation of it.
    #[inline]
    pub(super) fn unused(&mut self, lent: BytesMut, spare: &mut Option<BytesMut>) {
        if self.bytes.is_empty() && spare.is_none() && lent.capacity() <= MAX_SPARE {
            *spare = Some(lent);
        }
    }

    /// The connection goes idle: a drained buffer becomes `spare` if that is free and the
    /// buffer not too large to keep, for the next read of this or another connection; else
    /// it is dropped (views handed out keep their bytes alive).
    #[inline]
    pub(super) fn park(&mut self, spare: &mut Option<BytesMut>) {
        if !self.bytes.is_empty() {
            return;
        }
        let drained = core::mem::take(&mut self.bytes);
        // A drained handle that shares an allocation may report a capacity of 0 while
        // keeping the allocation alive: it is no use as a spare.
        if spare.is_none() && drained.capacity() > 0 && drained.capacity() <= MAX_SPARE {
            *spare = Some(drained);
        }
    }

    /// Appends a lent buffer after it was read into: without a copy when it is the space
    /// [`lend`](Self::lend) gave, still adjacent.
    #[inline(always)]
    pub(super) fn give_back(&mut self, filled: BytesMut) {
        // The usual case, a whole allocation lent with nothing buffered, without the call
        // `unsplit` is (it takes this case first too).
        if self.bytes.is_empty() {
            self.bytes = filled;
        } else {
            self.bytes.unsplit(filled);
        }
    }

    /// Drops every byte buffered, keeping the allocation: a connection that receives no more
    /// still has it to give to [`park`](Self::park) (and to the next connection's reads)
    /// once its transport is done.
    pub(super) fn clear(&mut self) {
        self.bytes.clear();
    }

    /// Copies `data` in after the buffered bytes.
    pub(super) fn extend_from_slice(&mut self, data: &[u8]) {
        self.bytes.extend_from_slice(data);
    }

    /// Drops the consumed bytes at the front.
    pub(super) fn advance(&mut self, n: usize) {
        bytes::Buf::advance(&mut self.bytes, n);
    }

    /// The first `n` bytes, as their own buffer sharing the allocation.
    pub(super) fn split_to(&mut self, n: usize) -> BytesMut {
        self.bytes.split_to(n)
    }

    /// The read would block. While the buffer waits for the rest of a frame, up to
    /// [`MIN_READ`] bytes of it are copied into an allocation of their own size: a peer that
    /// sends a few bytes of a frame and stalls makes us keep those bytes, not a read's worth
    /// of room, so ten thousand such peers cost what they sent. (A drained or split `BytesMut`
    /// reports only its own view's capacity, not the allocation it keeps alive, so the size
    /// of what is kept cannot be asked; the copy is at most [`MIN_READ`] bytes.) Past that, a
    /// large frame's buffer holds at most [`READ_AHEAD`] more than its payload so far.
    #[inline]
    pub(super) fn shrink_while_waiting(&mut self) {
        let len = self.bytes.len();
        if len > 0 && len <= MIN_READ {
            self.bytes = BytesMut::from(&self.bytes[..]);
        }
    }

    /// Drops the allocation once everything in it is decoded and handed out, if its free
    /// space is more than `retain`; views already handed out keep their bytes alive.
    #[inline]
    pub(super) fn release_if_drained(&mut self, retain: usize) {
        // A drained handle that shares an allocation (it was split) reports a capacity of 0
        // yet keeps the whole allocation alive: it is dropped whatever its capacity says.
        if self.bytes.is_empty() && (self.bytes.capacity() > retain || retain == 0) {
            self.bytes = BytesMut::new();
        }
    }
}

impl Deref for ReadBuffer {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl DerefMut for ReadBuffer {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }
}
