//! Futures boxed where they are built.
//!
//! `Box::pin(f(..))` builds the future on the stack, allocates, and copies it, whole, into
//! the allocation: for a connection's phases (the answer's future is about 1 KiB) that was a
//! `memcpy` per box, 50 to 120 instructions each per handshake (callgrind). Allocating first
//! and only then building the future lets the compiler build it in the allocation.

use std::pin::Pin;

/// `Box::pin(make())`, with the value `make` returns built in the box: the allocation comes
/// first (a value built before it, as an argument, would be copied in).
#[inline(always)]
pub(crate) fn boxed<T>(make: impl FnOnce() -> T) -> Pin<Box<T>> {
    let allocation = Box::new_uninit();
    Box::into_pin(Box::write(allocation, make()))
}
