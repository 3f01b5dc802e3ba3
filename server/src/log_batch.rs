//! Log lines written to stderr in batches when the log is not a terminal, as nginx's
//! `access_log ... buffer= flush=` writes its access log: every WebSocket connection logs a
//! line as it closes, and a `write(2)` for each line was about 4 % of the server CPU of a
//! handshake with the log in a file (pinned runs of `bench/run.sh`'s handshake load, four
//! connections at a time, medians of 5 interleaved: 61.1 µs a handshake with a write per
//! line, 58.5 with batches).
//!
//! A line waits in memory until the first of:
//! - [`DELAY`] passes since the first line of the batch ([`write_batches`], a task on the
//!   runtime that sleeps while nothing waits);
//! - [`FLUSH_BYTES`] wait;
//! - a line at `warn` or `error` comes (it is written at once, after the lines before it);
//! - the process ends ([`Flushed`]), on SIGTERM or SIGINT as on any other exit. A process
//!   killed outright (SIGKILL, an abort) loses what waited, at most a second of lines.
//!
//! Writing at each park of the runtime, when it runs out of work, was measured too: under
//! load the runtime parks between most handshakes, and it saved almost nothing (61.8 µs
//! against 63.2 with a write per line and 58.1 with batches, in other runs).
//! On a terminal each line is written as it comes: someone is reading.

use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;

/// Bytes of log lines that are written at once rather than wait: about a hundred close
/// lines.
pub(crate) const FLUSH_BYTES: usize = 16 * 1024;

/// The longest a line waits to be written.
pub(crate) const DELAY: Duration = Duration::from_secs(1);

/// Lines waiting to be written, and where they go.
pub(crate) struct Batch {
    pending: Mutex<Vec<u8>>,
    /// Told when a line starts a batch: [`write_batches`] waits on it.
    started: Notify,
    out: fn(&[u8]) -> io::Result<()>,
}

/// The process's stderr, batched.
pub(crate) static STDERR: Batch = Batch::new(write_stderr);

fn write_stderr(bytes: &[u8]) -> io::Result<()> {
    io::stderr().lock().write_all(bytes)
}

impl Batch {
    pub(crate) const fn new(out: fn(&[u8]) -> io::Result<()>) -> Batch {
        Batch {
            pending: Mutex::new(Vec::new()),
            started: Notify::const_new(),
            out,
        }
    }

    /// Adds `line`; writes what waits, `line` last, if `now` or if [`FLUSH_BYTES`] wait.
    fn add(&self, line: &[u8], now: bool) -> io::Result<()> {
        self.add_with(now, |pending| pending.extend_from_slice(line))
    }

    /// Adds the line `write` appends to what waits (a whole line, its newline included):
    /// written in place, with no copy of its own. Then as [`add`](Self::add).
    pub(crate) fn add_with(&self, now: bool, write: impl FnOnce(&mut Vec<u8>)) -> io::Result<()> {
        let mut pending = self.lock();
        let first = pending.is_empty();
        write(&mut pending);
        if now || pending.len() >= FLUSH_BYTES {
            return self.write_out(&mut pending);
        }
        drop(pending);
        if first {
            self.started.notify_one();
        }
        Ok(())
    }

    /// Writes every line that waits.
    pub(crate) fn flush(&self) -> io::Result<()> {
        let mut pending = self.lock();
        if pending.is_empty() {
            return Ok(());
        }
        self.write_out(&mut pending)
    }

    fn write_out(&self, pending: &mut Vec<u8>) -> io::Result<()> {
        // Emptied even if the write fails: lines that cannot be written are not kept.
        let written = (self.out)(pending);
        pending.clear();
        written
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A panic while the lock was held left at worst a partial line, still worth writing.
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Writes each batch of `batch` [`DELAY`] after its first line, for as long as the runtime
/// runs; asleep while no line waits. A failed write to stderr has nowhere to be reported:
/// it is dropped (see [`LineWriter`]'s `write`).
pub(crate) async fn write_batches(batch: &'static Batch) {
    loop {
        batch.started.notified().await;
        tokio::time::sleep(DELAY).await;
        let _ = batch.flush();
    }
}

/// Writes the stderr batch when dropped: held by `main` for the life of the process, so the
/// last lines (and those of a panic's unwinding) are written.
pub(crate) struct Flushed;

impl Drop for Flushed {
    fn drop(&mut self) {
        let _ = STDERR.flush();
    }
}

/// A `tracing-subscriber` writer into a [`Batch`]: the formatter writes each line with one
/// `write_all`, which lands whole in the batch.
#[derive(Clone, Copy)]
pub(crate) struct Batched(pub(crate) &'static Batch);

/// One line's writer: `now` for `warn` and `error`.
pub(crate) struct LineWriter {
    batch: &'static Batch,
    now: bool,
}

impl<'a> MakeWriter<'a> for Batched {
    type Writer = LineWriter;

    fn make_writer(&'a self) -> LineWriter {
        LineWriter {
            batch: self.0,
            now: true,
        }
    }

    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> LineWriter {
        LineWriter {
            batch: self.0,
            now: *meta.level() <= Level::WARN,
        }
    }
}

impl Write for LineWriter {
    /// Never fails: a line that cannot be written (stderr is a pipe whose reader is gone) has
    /// nowhere else to go, and an error returned here would reach `tracing-subscriber`, which
    /// reports it with `eprintln!`, which panics when stderr fails: the task that logged
    /// would die of its log.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let _ = self.batch.add(buf, self.now);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use tracing::subscriber::with_default;
    use tracing::{error, info, warn};

    use super::*;

    /// What each test's batch wrote, one entry per write: a test has a batch and a sink of its
    /// own, as tests run in parallel.
    macro_rules! sink {
        ($written:ident, $batch:ident) => {
            static $written: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
            static $batch: Batch = Batch::new(|bytes| {
                $written.lock().unwrap().push(bytes.to_vec());
                Ok(())
            });
        };
    }

    fn subscriber(batch: &'static Batch) -> impl tracing::Subscriber {
        tracing_subscriber::fmt()
            .with_writer(Batched(batch))
            .with_ansi(false)
            .without_time()
            .with_target(false)
            .finish()
    }

    fn texts(written: &Mutex<Vec<Vec<u8>>>) -> Vec<String> {
        written
            .lock()
            .unwrap()
            .iter()
            .map(|bytes| String::from_utf8(bytes.clone()).unwrap())
            .collect()
    }

    /// `info` lines wait for a flush, which writes them together, in order; a flush with
    /// nothing waiting writes nothing.
    #[test]
    fn info_lines_wait_for_a_flush_and_go_out_in_one_write() {
        sink!(WRITTEN, BATCH);
        with_default(subscriber(&BATCH), || {
            info!("one");
            info!("two");
        });
        assert!(texts(&WRITTEN).is_empty(), "written before a flush");
        BATCH.flush().unwrap();
        assert_eq!(texts(&WRITTEN), [" INFO one\n INFO two\n"]);
        BATCH.flush().unwrap();
        assert_eq!(texts(&WRITTEN).len(), 1, "an empty flush wrote");
    }

    /// A `warn` or `error` line is written at once, after the lines that waited before it.
    #[test]
    fn warnings_and_errors_are_written_at_once_after_what_waits() {
        sink!(WRITTEN, BATCH);
        with_default(subscriber(&BATCH), || {
            info!("before");
            warn!("careful");
            error!("broken");
            info!("after");
        });
        assert_eq!(
            texts(&WRITTEN),
            [" INFO before\n WARN careful\n", "ERROR broken\n"]
        );
        BATCH.flush().unwrap();
        assert_eq!(texts(&WRITTEN)[2], " INFO after\n");
    }

    /// Once `FLUSH_BYTES` wait, the line that reaches them is written with them.
    #[test]
    fn a_full_batch_is_written_without_a_flush() {
        sink!(WRITTEN, BATCH);
        let message = "x".repeat(93);
        let line = format!(" INFO {message}\n");
        let below = (FLUSH_BYTES - 1) / line.len();
        with_default(subscriber(&BATCH), || {
            for _ in 0..below {
                info!("{message}");
            }
            assert!(
                texts(&WRITTEN).is_empty(),
                "written before the batch was full"
            );
            info!("{message}");
        });
        assert_eq!(texts(&WRITTEN), [line.repeat(below + 1)]);
    }

    /// A write that fails (stderr's reader is gone) is not the logging code's failure: the
    /// writer says it wrote, the lines are dropped, and later lines are written.
    #[test]
    fn a_failed_write_is_dropped_not_returned() {
        static FAIL: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);
        static WRITTEN: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
        static BATCH: Batch = Batch::new(|bytes| {
            if FAIL.load(std::sync::atomic::Ordering::Relaxed) {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            WRITTEN.lock().unwrap().push(bytes.to_vec());
            Ok(())
        });
        let mut line = Batched(&BATCH).make_writer();
        assert_eq!(line.write(b"lost\n").unwrap(), 5);
        FAIL.store(false, std::sync::atomic::Ordering::Relaxed);
        line.write_all(b"kept\n").unwrap();
        assert_eq!(texts(&WRITTEN), ["kept\n"]);
    }

    /// The task writes a batch `DELAY` after its first line, and not before; a line after
    /// that starts the next batch.
    #[tokio::test(start_paused = true)]
    async fn a_batch_is_written_a_delay_after_its_first_line() {
        sink!(WRITTEN, BATCH);
        let writer = tokio::spawn(write_batches(&BATCH));
        let info = |text: &str| {
            let mut line = Batched(&BATCH).make_writer();
            line.now = false;
            line.write_all(text.as_bytes()).unwrap();
        };
        info("one\n");
        tokio::time::sleep(DELAY / 2).await;
        info("two\n");
        tokio::time::sleep(DELAY / 2 - Duration::from_millis(1)).await;
        assert!(texts(&WRITTEN).is_empty(), "written before the delay");
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(texts(&WRITTEN), ["one\ntwo\n"]);
        info("three\n");
        tokio::time::sleep(DELAY + Duration::from_millis(1)).await;
        assert_eq!(texts(&WRITTEN), ["one\ntwo\n", "three\n"]);
        writer.abort();
    }
}
