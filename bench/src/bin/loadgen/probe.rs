//! What the load generator reads off the two processes: the counters all connections share,
//! CPU time and resident memory from `/proc`, and the measured window between two readings.

use std::cell::{Cell, RefCell};
use std::io;
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::{Instant, sleep};

/// Linux's `USER_HZ`, the unit of `/proc/*/stat` CPU times, on every architecture.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// What all connections of a run share: the count of completed round trips, the stop flag,
/// and the first failure; and, for a paired run ([`crate::pair`]), whether this group of
/// connections has the turn and how many of its round trips are under way.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) done: Cell<u64>,
    pub(crate) stop: Cell<bool>,
    pub(crate) failures: Cell<u64>,
    pub(crate) first_failure: RefCell<Option<String>>,
    pub(crate) paused: Cell<bool>,
    pub(crate) in_flight: Cell<usize>,
    pub(crate) resume: Notify,
}

impl Shared {
    pub(crate) fn failed(&self, error: io::Error) {
        self.failures.set(self.failures.get() + 1);
        self.first_failure
            .borrow_mut()
            .get_or_insert_with(|| error.to_string());
    }

    /// Waits while the group is paused; false once the run is stopping.
    pub(crate) async fn turn(&self) -> bool {
        while self.paused.get() && !self.stop.get() {
            self.resume.notified().await;
        }
        !self.stop.get()
    }

    /// Gives the group the turn (`true`) or takes it away (round trips under way finish).
    pub(crate) fn set_turn(&self, on: bool) {
        self.paused.set(!on);
        if on {
            self.resume.notify_waiters();
        }
    }

    /// Ends the run: paused connections wake to see it.
    pub(crate) fn stop(&self) {
        self.stop.set(true);
        self.resume.notify_waiters();
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

/// CPU nanoseconds used so far by a process: the sum of its threads' run time, the first
/// field of `/proc/<pid>/task/*/schedstat`. Exact where `/proc/<pid>/stat` counts 10 ms
/// ticks, which a slice of a fraction of a second needs. (The kernel scales `stat`'s
/// `utime + stime` to this same sum, so the two figures agree over a long window.)
pub(crate) fn cpu_nanos(pid: &str) -> io::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        // A thread that ended since the listing has nothing left to count.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split(' ')
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or_else(|| io::Error::other("bad schedstat"))?;
    }
    Ok(total)
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
    shared.stop();
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
