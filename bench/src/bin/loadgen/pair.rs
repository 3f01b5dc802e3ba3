//! A paired run: the server under test and the floor (the plain TCP echo server) measured
//! in turns of a fraction of a second each, within one window, on the same CPU.
//!
//! Why: on this kind of host the cost of the same work moves between modes far apart
//! (about 1.23× here) and stays in one for seconds at a time; the floor moves with every
//! server. Two servers measured in separate windows are compared across whatever modes the
//! host was in then, and a median over a handful of windows is decided by how many landed
//! in the cheap one. Measured in alternating slices, a server and the floor share the host's
//! mode: their ratio holds still while both figures move. Comparing servers by that ratio is
//! comparing each with the same reference at the same moments.
//!
//! The slices follow server, floor, floor, server, ... (ABBA), so that a steady drift over
//! the window weighs on both alike. Each slice gives the group its turn, lets it run, takes
//! the turn away, waits for the round trips under way to finish, and reads the server's CPU
//! (exact nanoseconds, [`cpu_nanos`]) at both edges.

use std::io;
use std::time::Duration;

use tokio::time::{Instant, sleep};

use crate::probe::{Shared, cpu_nanos};
use crate::wire::timed_out;

/// One group of connections: to the server under test, or to the floor.
pub(crate) struct Side<'a> {
    pub(crate) shared: &'a Shared,
    pub(crate) pid: u32,
}

/// What the measured slices of one side add up to.
#[derive(Default)]
struct Tally {
    ops: u64,
    secs: f64,
    server_nanos: u64,
    own_nanos: u64,
}

/// The number of measured slices for a window of `secs` cut into slices of about `slice`:
/// a multiple of four (whole ABBA patterns), at least one pattern.
pub(crate) fn slice_count(secs: f64, slice: f64) -> usize {
    ((secs / slice).round() as usize).max(4).next_multiple_of(4)
}

/// Whether measured slice `i` is the server's (ABBA: server, floor, floor, server).
fn servers_turn(i: usize) -> bool {
    matches!(i % 4, 0 | 3)
}

/// Warms both sides up in alternation for `warmup`, then measures `secs` in slices of about
/// `slice`, and stops both. The line gives the server's figures under the usual names and
/// the floor's as `floor_*`.
pub(crate) async fn measure_paired(
    warmup: f64,
    secs: f64,
    slice: f64,
    server: Side<'_>,
    floor: Side<'_>,
) -> io::Result<String> {
    let slices = slice_count(secs, slice);
    let len = Duration::from_secs_f64(secs / slices as f64);
    let result = async {
        let warm = ((warmup / len.as_secs_f64()).ceil() as usize).max(2);
        for i in 0..warm {
            let side = if i % 2 == 0 { &server } else { &floor };
            run_slice(side, len).await?;
        }
        let (mut ours, mut floors) = (Tally::default(), Tally::default());
        for i in 0..slices {
            let (side, tally) = if servers_turn(i) {
                (&server, &mut ours)
            } else {
                (&floor, &mut floors)
            };
            let t = run_slice(side, len).await?;
            tally.ops += t.ops;
            tally.secs += t.secs;
            tally.server_nanos += t.server_nanos;
            tally.own_nanos += t.own_nanos;
        }
        Ok::<_, io::Error>((ours, floors))
    }
    .await;
    server.shared.stop();
    floor.shared.stop();
    let (ours, floors) = result?;
    Ok(format!(
        "ops={} secs={:.3} ops_per_s={:.1} loadgen_cpu_s={:.4} server_cpu_s={:.4} \
         floor_ops={} floor_secs={:.3} floor_cpu_s={:.4} slices={slices}",
        ours.ops,
        ours.secs,
        ours.ops as f64 / ours.secs,
        ours.own_nanos as f64 / 1e9,
        ours.server_nanos as f64 / 1e9,
        floors.ops,
        floors.secs,
        floors.server_nanos as f64 / 1e9,
    ))
}

/// One slice of one side: its turn for `len`, then the round trips under way finished.
async fn run_slice(side: &Side<'_>, len: Duration) -> io::Result<Tally> {
    let pid = side.pid.to_string();
    let (start, done, server, own) = (
        Instant::now(),
        side.shared.done.get(),
        cpu_nanos(&pid)?,
        cpu_nanos("self")?,
    );
    side.shared.set_turn(true);
    sleep(len).await;
    side.shared.set_turn(false);
    let deadline = Instant::now() + crate::wire::IO_TIMEOUT;
    while side.shared.in_flight.get() > 0 {
        side.shared.check()?;
        if Instant::now() > deadline {
            return Err(timed_out());
        }
        sleep(Duration::from_millis(1)).await;
    }
    side.shared.check()?;
    Ok(Tally {
        ops: side.shared.done.get() - done,
        secs: start.elapsed().as_secs_f64(),
        server_nanos: cpu_nanos(&pid)?.saturating_sub(server),
        own_nanos: cpu_nanos("self")?.saturating_sub(own),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_come_in_whole_abba_patterns() {
        assert_eq!(slice_count(2.0, 0.25), 8);
        assert_eq!(slice_count(3.0, 0.25), 12);
        assert_eq!(slice_count(1.0, 0.3), 4);
        assert_eq!(slice_count(0.1, 0.25), 4);
        assert_eq!(slice_count(2.5, 0.25), 12);
        let turns: Vec<bool> = (0..8).map(servers_turn).collect();
        assert_eq!(turns, [true, false, false, true, true, false, false, true]);
    }
}
