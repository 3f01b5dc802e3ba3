//! The Tokio runtime the server runs on, chosen by the CPUs it may use.
//!
//! With one CPU there is no work to steal and no other worker to wake, so the multi-thread
//! scheduler's bookkeeping (an atomic run queue, waking and parking workers) is all cost.
//! Measured with callgrind on `/echo` pinned to one CPU (`bench/callgrind.sh`), the
//! single-threaded scheduler saved about 210 instructions per 16 B echo and 1,050 per
//! handshake, when it ran on the main thread (see [`block_on`] for why it no longer does, and
//! what that costs). One CPU is common: a container limited to one CPU, or `taskset -c 0`;
//! [`std::thread::available_parallelism`] sees both (affinity and the cgroup quota).

use std::io;
use std::num::NonZero;
use std::pin::Pin;
use std::process::ExitCode;

use tokio::runtime::{Builder, Runtime, RuntimeFlavor};

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

/// The future a runtime runs to its end, the server's or `switchyard connect`'s session: one
/// type, so that the binary holds one copy of Tokio's `block_on`. With two (one per future
/// type), LLVM kept the scheduler's loop (`run_task`, `next_task`) out of line in both: about
/// 40 instructions per 16 B echo (callgrind: 1,962 -> 1,923; 1 KiB and 64 KiB alike).
pub(crate) type Main<'a> = Pin<Box<dyn Future<Output = ExitCode> + 'a>>;

/// Runs the future `main` makes on `runtime` to its end, on a thread of its own (where `main`
/// makes it) when the runtime is the single-threaded one (the multi-thread one runs its tasks
/// on its workers already); fails only if that thread cannot be started.
///
/// Why not on the main thread: glibc gives the main thread its main arena, the heap that grows
/// by `brk` and that the binary pads by 1 MiB at a time (`src/malloc.rs`, for TLS's per-message
/// buffers). permessage-deflate's engines are then carved from the top of that heap, the
/// blocks of connections opened after them land above them, and once freed they cannot be
/// given back: pinned to one CPU, 10,000 idle connections that each exchanged three compressed
/// messages kept 146 KiB of RSS apiece with context takeover (5.8 KiB without), against the
/// deflate targets of 16 (4). Any other thread gets an arena of its own, mapped, where they
/// measured 11.3 (3.0) KiB, as with the multi-thread runtime (`loadgen idle --deflate`), and
/// `wss://` 16 KiB echoes the same CPU per message. The price is glibc's for a process of two
/// threads (locked allocator paths, cancellation points around each system call): 100 more
/// instructions per 16 B echo and 680 more per handshake (callgrind), before the connections'
/// reads and writes bypassed the C library (`switchyard::net`, 92 of those 100 back).
pub(crate) fn block_on<'a>(
    runtime: &Runtime,
    main: impl FnOnce() -> Main<'a> + Send,
) -> io::Result<ExitCode> {
    if runtime.handle().runtime_flavor() != RuntimeFlavor::CurrentThread {
        return Ok(runtime.block_on(main()));
    }
    std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("switchyard".to_owned())
            .spawn_scoped(scope, || runtime.block_on(main()))?;
        // A panic on the thread goes on as it would have on the main thread.
        Ok(thread
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
    })
}
