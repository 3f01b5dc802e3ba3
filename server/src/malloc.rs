//! glibc's malloc, tuned for a server whose connections come and go: allocations of 16 KiB
//! and more that the heap cannot place are mapped on their own (`mmap`) and unmapped when
//! freed, and the heap keeps room enough that the ones made per message fit in it.
//!
//! permessage-deflate's engines (a 128 KiB hash table, a 32 KiB inflate window) live only
//! while a connection is busy; once it is idle they are freed and it keeps its 4 KiB windows.
//! With glibc's default (a threshold that grows to 32 MiB as large blocks are freed), those
//! engines land in the heap among the small blocks of the connections that stay, and the
//! freed space is never given back: 10,000 idle connections that each exchanged a few
//! compressed messages measured 80 KiB of RSS apiece with takeover (35 KiB without) against
//! 16 KiB (8 KiB) with this threshold (`bench/`, `loadgen idle --deflate`).
//!
//! A fixed threshold also stops glibc's own tuning, which left its top padding and trimming at
//! 128 KiB: the heap was trimmed down after every burst, so the 16 KiB and larger buffers made
//! per message (TLS records, 16 KiB messages) found no room in it and were each mapped and
//! unmapped, a system call pair and page faults per message (wss:// echoes of 16 KiB cost
//! 68 µs per message against 14). So the heap grows by 1 MiB at a time and is trimmed only
//! past 4 MiB of free space at its top: a few MiB per process, against per-message mappings.
//! Idle compressed connections measured the same with and without this (13.3 and 4.1 KiB).
//!
//! And each thread's cache of freed small blocks (up to 1,032 bytes, glibc's tcache) keeps up
//! to 256 blocks of a size rather than 7. A connection allocates about a dozen such blocks and
//! frees them when it ends; when many end together (a deploy, a load balancer's health
//! checks, a benchmark's burst) the eighth free of a size and on went past the cache into the
//! arena's bins, and the next connections' blocks came back out of them the slow way (bin
//! searches, and the arena's lock: the runtime's thread is not the main one,
//! `src/runtime.rs`). Measured with callgrind, 200 handshakes after 16
//! (`bench/callgrind.sh`): 22,656 instructions each against 21,396 with 256. The cache is
//! bounded: at most 256 blocks of each of its 64 sizes per thread, 8.5 MiB if every one were
//! full, and it holds only what was freed and not yet reused. RSS per idle connection
//! measured the same (10,000 connections: 2.26 KiB never used, 2.46 after a 1 MiB echo, 11.3
//! and 3.0 compressed with and without takeover).
//!
//! glibc reads the setting only from the environment at start (`GLIBC_TUNABLES`), so the
//! binary sets it and executes itself again, once, before anything else; a
//! `GLIBC_TUNABLES` the operator set is left alone.

/// The tunable, as glibc reads it.
const TUNABLES: &str = "glibc.malloc.mmap_threshold=16384:glibc.malloc.top_pad=1048576:\
                        glibc.malloc.trim_threshold=4194304:glibc.malloc.tcache_count=256";

/// Re-executes the binary with [`TUNABLES`] unless `GLIBC_TUNABLES` is already set; returns
/// only if it is, or if executing fails (the server then runs untuned, and says why).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub(crate) fn tune() -> Option<std::io::Error> {
    use std::os::unix::process::CommandExt;

    if std::env::var_os("GLIBC_TUNABLES").is_some() {
        return None;
    }
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(error) => return Some(error),
    };
    let mut args = std::env::args_os();
    let mut command = std::process::Command::new(exe);
    if let Some(name) = args.next() {
        command.arg0(name);
    }
    // `exec` returns only on failure.
    Some(command.args(args).env("GLIBC_TUNABLES", TUNABLES).exec())
}

/// Other platforms' allocators are left as they are.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub(crate) fn tune() -> Option<std::io::Error> {
    None
}
