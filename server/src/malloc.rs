//! glibc's malloc, tuned for a server whose connections come and go: allocations of 16 KiB
//! and more are mapped on their own (`mmap`) and unmapped when freed.
//!
//! permessage-deflate's engines (a 128 KiB hash table, a 32 KiB inflate window) live only
//! while a connection is busy; once it is idle they are freed and it keeps its 4 KiB windows.
//! With glibc's default (a threshold that grows to 32 MiB as large blocks are freed), those
//! engines land in the heap among the small blocks of the connections that stay, and the
//! freed space is never given back: 10,000 idle connections that each exchanged a few
//! compressed messages measured 80 KiB of RSS apiece with takeover (35 KiB without) against
//! 16 KiB (8 KiB) with this threshold (`bench/`, `loadgen idle --deflate`).
//!
//! glibc reads the setting only from the environment at start (`GLIBC_TUNABLES`), so the
//! binary sets it and executes itself again, once, before anything else; a
//! `GLIBC_TUNABLES` the operator set is left alone.

/// The tunable, as glibc reads it.
const TUNABLES: &str = "glibc.malloc.mmap_threshold=16384";

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
