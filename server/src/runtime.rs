//! The Tokio runtime the server runs on, chosen by the CPUs it may use.
//!
//! With one CPU there is no work to steal and no other worker to wake, so the multi-thread
//! scheduler's bookkeeping (an atomic run queue, waking and parking workers) is all cost.
//! Measured with callgrind on `/echo` pinned to one CPU (`bench/callgrind.sh`), the
//! single-threaded scheduler saves about 210 instructions per 16 B echo and 1,050 per
//! handshake. Part of that is glibc's: a process with one thread skips the cancellation
//! bookkeeping around each `send` and `recv`. One CPU is common: a container limited to one
//! CPU, or `taskset -c 0`; [`std::thread::available_parallelism`] sees both (affinity and
//! the cgroup quota).

use std::io;
use std::num::NonZero;

use tokio::runtime::{Builder, Runtime};

/// A single-threaded runtime if the process may use one CPU; otherwise the multi-thread
/// runtime, one worker per CPU (or `TOKIO_WORKER_THREADS`).
pub(crate) fn build() -> io::Result<Runtime> {
    builder(cpus()).enable_all().build()
}

/// The CPUs this process may run on (1 if the OS will not say).
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, NonZero::get)
}

fn builder(cpus: usize) -> Builder {
    if cpus == 1 {
        Builder::new_current_thread()
    } else {
        Builder::new_multi_thread()
    }
}
