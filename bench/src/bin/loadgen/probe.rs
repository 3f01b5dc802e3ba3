//! What the load generator reads off the two processes: the counters all connections share,
//! CPU time and resident memory from `/proc`, and the measured window between two readings.

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Duration;

use tokio::time::{Instant, sleep};

/// Linux's `USER_HZ`, the unit of `/proc/*/stat` CPU times, on every architecture.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// What all connections of a run share: the count of completed round trips, the stop flag,
/// and the first failure.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) done: Cell<u64>,
    pub(crate) stop: Cell<bool>,
    pub(crate) failures: Cell<u64>,
    pub(crate) first_failure: RefCell<Option<String>>,
}

impl Shared {
    pub(crate) fn failed(&self, error: io::Error) {
        self.failures.set(self.failures.get() + 1);
        self.first_failure
            .borrow_mut()
            .get_or_insert_with(|| error.to_string());
    }

    pub(crate) fn check(&self) -> io::Result<()> {
        match self.first_failure.borrow().as_ref() {
            None => Ok(()),
            Some(first) => Err(io::Error::other(format!(
                "{} connection(s) failed; first: {first}",
                self.failures.get()
            ))),
        }
    }
}

/// CPU seconds used so far by a process (all its threads), from `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: &str) -> io::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = &stat[stat
        .rfind(')')
        .ok_or_else(|| io::Error::other("bad stat"))?
        + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // Fields 14 and 15 of the whole line (utime, stime) are 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().map_err(io::Error::other)?
        + fields[12].parse::<u64>().map_err(io::Error::other)?;
    Ok(ticks as f64 / CLOCK_TICKS_PER_SEC)
}

/// Resident set size of a process in KiB, from `/proc/<pid>/status`.
pub(crate) fn rss_kib(pid: u32) -> io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| io::Error::other("no VmRSS"))
}

/// One reading of the clock, the work counter, the generator's CPU time and the servers'
/// (summed: several nodes serve one run as one system).
pub(crate) struct Snapshot {
    at: Instant,
    done: u64,
    own_cpu: f64,
    server_cpu: Option<f64>,
}

impl Snapshot {
    pub(crate) fn take(shared: &Shared, server_pids: &[u32]) -> io::Result<Snapshot> {
        let server_cpu = if server_pids.is_empty() {
            None
        } else {
            Some(cpu_sum(server_pids)?)
        };
        Ok(Snapshot {
            at: Instant::now(),
            done: shared.done.get(),
            own_cpu: cpu_seconds("self")?,
            server_cpu,
        })
    }
}

/// CPU seconds used so far by several processes together.
pub(crate) fn cpu_sum(pids: &[u32]) -> io::Result<f64> {
    pids.iter().map(|p| cpu_seconds(&p.to_string())).sum()
}

/// The measured window: warm up, read the counters, run `secs`, read them again, stop.
pub(crate) async fn measure(
    warmup: f64,
    secs: f64,
    server_pids: &[u32],
    shared: &Shared,
) -> io::Result<String> {
    sleep(Duration::from_secs_f64(warmup)).await;
    shared.check()?;
    let start = Snapshot::take(shared, server_pids)?;
    sleep(Duration::from_secs_f64(secs)).await;
    let end = Snapshot::take(shared, server_pids)?;
    shared.stop.set(true);
    Ok(report(&start, &end))
}

/// Operations per second and both processes' CPU time between two snapshots.
pub(crate) fn report(start: &Snapshot, end: &Snapshot) -> String {
    let secs = (end.at - start.at).as_secs_f64();
    let done = end.done - start.done;
    let mut line = format!(
        "ops={done} secs={secs:.3} ops_per_s={:.1} loadgen_cpu_s={:.2}",
        done as f64 / secs,
        end.own_cpu - start.own_cpu,
    );
    if let (Some(a), Some(b)) = (start.server_cpu, end.server_cpu) {
        line += &format!(" server_cpu_s={:.2}", b - a);
    }
    line
}
