//! The log line when the log is not a terminal: the same text as `tracing-subscriber`'s
//! default format without colours (`2026-12-02T16:25:23.019072Z  INFO target: message
//! key=value ...`), written with a fraction of its work.
//!
//! Every WebSocket connection logs a line as it closes, so its cost is part of every
//! handshake: the default formatter pads each field of the timestamp through `core::fmt` and
//! paints every part with an empty style, about 6,000 instructions a line (callgrind), a sixth
//! of a handshake's work in the library. This one writes the timestamp's digits directly, and
//! [`Peer`] an IPv4 peer's address (`SocketAddr`'s `Display` writes each octet through
//! `core::fmt`, about 1,200 instructions).
//! On a terminal the default formatter stays, with its colours.
//!
//! The line every WebSocket connection logs as it closes ([`CloseLine`]) is rendered here in
//! one pass and handed to `tracing` as its message: as nine fields, `tracing` visited each
//! through `dyn Visit` and wrote it through `fmt::Write`, about 2,800 instructions a line,
//! for text that is the same every time but for its values.
//!
//! When the log is this plain format in batches, the close line does not go through `tracing`
//! at all ([`log_close!`]): once `tracing::enabled!` says its level and target are logged, it
//! is written straight into the batch, prefix and fields in one pass, with no event built,
//! no field visited through `dyn Visit`, and no line rendered first and copied after. The
//! line then costs about 1,300 instructions rather than 1,700, and the binary's handshake
//! 24,450 rather than 24,850 (`bench/callgrind.sh`'s handshake count).
//!
//! The binary opens no spans, so a line has no span context.

use std::cell::Cell;
use std::fmt::{self, Debug};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use switchyard::switchyard_core::FixedText;
use switchyard::{CloseInfo, Traffic};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use crate::log_batch::Batch;

/// A peer's address as a log field (`peer = %Peer(addr)`): the text `SocketAddr`'s `Display`
/// gives, an IPv4 address's written digit by digit (IPv6 goes to `Display`, with its rules
/// for runs of zeros).
pub(crate) struct Peer(pub(crate) SocketAddr);

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let SocketAddr::V4(v4) = self.0 else {
            return fmt::Display::fmt(&self.0, f);
        };
        let mut text = [0u8; V4_TEXT];
        f.pad(v4_text(v4, &mut text)?)
    }
}

/// The longest IPv4 socket address: `255.255.255.255:65535`.
const V4_TEXT: usize = 21;

/// Writes `v4` as `SocketAddr`'s `Display` does, into `text`.
fn v4_text(v4: std::net::SocketAddrV4, text: &mut [u8; V4_TEXT]) -> Result<&str, fmt::Error> {
    let mut len = 0;
    let mut digits = itoa::Buffer::new();
    let mut put = |part: &[u8], len: &mut usize| {
        text[*len..*len + part.len()].copy_from_slice(part);
        *len += part.len();
    };
    for (i, octet) in v4.ip().octets().into_iter().enumerate() {
        if i > 0 {
            put(b".", &mut len);
        }
        put(digits.format(octet).as_bytes(), &mut len);
    }
    put(b":", &mut len);
    put(digits.format(v4.port()).as_bytes(), &mut len);
    // Digits, dots and a colon: ASCII.
    std::str::from_utf8(&text[..len]).map_err(|_| fmt::Error)
}

/// The line a WebSocket connection logs at `info` as it closes, as its message
/// (`line.with_text(|text| info!(message = text))`): `close`, then `name=value` for the peer, the path, the HTTP version
/// when it is not 1.1, the close code and reason, whether the close was clean, the duration,
/// and the bytes read and written, exactly as `tracing-subscriber` writes the same fields.
pub(crate) struct CloseLine<'a> {
    peer: SocketAddr,
    path: &'a str,
    /// `Some("2")` over HTTP/2.
    http: Option<&'static str>,
    code: u16,
    reason: &'a str,
    clean: bool,
    duration_ms: u64,
    bytes_in: u64,
    bytes_out: u64,
}

impl<'a> CloseLine<'a> {
    /// The line for a connection opened at `started`; without `info` (the connection ended
    /// before a close was seen) it says 1006, no reason, not clean.
    pub(crate) fn new(
        peer: SocketAddr,
        path: &'a str,
        http: Option<&'static str>,
        info: Option<&'a CloseInfo>,
        started: Instant,
        traffic: Traffic,
    ) -> CloseLine<'a> {
        let (code, reason, clean) = info.map_or((1006, "", false), |info| {
            (info.code.as_u16(), info.reason.as_str(), info.clean)
        });
        CloseLine {
            peer,
            path,
            http,
            code,
            reason,
            clean,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            bytes_in: traffic.read,
            bytes_out: traffic.written,
        }
    }

    fn render(&self, out: &mut impl fmt::Write) -> fmt::Result {
        let mut digits = itoa::Buffer::new();
        out.write_str("close peer=")?;
        match self.peer {
            // Piece by piece, as `v4_text` writes it, but with no text to check as UTF-8.
            SocketAddr::V4(v4) => {
                for (i, octet) in v4.ip().octets().into_iter().enumerate() {
                    if i > 0 {
                        out.write_char('.')?;
                    }
                    out.write_str(digits.format(octet))?;
                }
                out.write_char(':')?;
                out.write_str(digits.format(v4.port()))?;
            }
            SocketAddr::V6(_) => write!(out, "{}", self.peer)?,
        }
        out.write_str(" path=")?;
        write_quoted(out, self.path)?;
        if let Some(http) = self.http {
            out.write_str(" http=")?;
            write_quoted(out, http)?;
        }
        out.write_str(" code=")?;
        out.write_str(digits.format(self.code))?;
        out.write_str(" reason=")?;
        write_quoted(out, self.reason)?;
        out.write_str(if self.clean {
            " clean=true"
        } else {
            " clean=false"
        })?;
        for (name, value) in [
            (" duration_ms=", self.duration_ms),
            (" bytes_in=", self.bytes_in),
            (" bytes_out=", self.bytes_out),
        ] {
            out.write_str(name)?;
            out.write_str(digits.format(value))?;
        }
        Ok(())
    }
}

impl CloseLine<'_> {
    /// Calls `log` with the line's text, rendered into a stack buffer (into a `String` when
    /// it is too long for that: a long path or reason). The caller logs it as the event's
    /// message, `info!(message = text)`: given as a `&str`, it reaches the formatter as
    /// one piece, where `info!("{line}")` went through two layers of `core::fmt` to render
    /// it (about 250 instructions a line, callgrind).
    pub(crate) fn with_text<R>(&self, log: impl FnOnce(&str) -> R) -> R {
        let mut line = FixedText::<STACK_TEXT>::new();
        if self.render(&mut line).is_ok() {
            return log(line.as_str());
        }
        let mut long = String::new();
        // Writing to a `String` does not fail.
        let _ = self.render(&mut long);
        log(&long)
    }
}

/// Room for a close line with a short path and reason (about 150 bytes with both empty).
const STACK_TEXT: usize = 256;

/// Where close lines are written without `tracing`'s event: the batch that the plain format
/// writes to, when that is the log. Set once by `main`, before any connection.
static DIRECT: OnceLock<&'static Batch> = OnceLock::new();

/// Close lines are written straight into `batch` from now on: call it only when the log is
/// [`PlainLine`] into that batch, which writes the same text.
pub(crate) fn write_close_lines_to(batch: &'static Batch) {
    let _ = DIRECT.set(batch);
}

/// Logs a [`CloseLine`] at `info` from the calling module, as `info!(message = text)` logs
/// its text: into the batch directly when the log is the plain format in batches
/// ([`write_close_lines_to`]), through `tracing` otherwise (a terminal's coloured format).
/// `tracing::enabled!` first, so the filter (`RUST_LOG`) decides as it would for the event.
macro_rules! log_close {
    ($line:expr) => {
        if tracing::enabled!(tracing::Level::INFO) {
            $line.log(module_path!(), |text| tracing::info!(message = text));
        }
    };
}
pub(crate) use log_close;

impl CloseLine<'_> {
    /// [`log_close!`]'s work once the line is to be logged: `target` is the module it logs
    /// from, and `event` logs the text through `tracing`.
    pub(crate) fn log(&self, target: &str, event: impl FnOnce(&str)) {
        match DIRECT.get() {
            Some(batch) => self.write_to(batch, target),
            None => self.with_text(event),
        }
    }

    /// Appends the whole line to `batch`, as [`PlainLine`] writes it for an `info` event from
    /// `target` whose message is the line's text. A failed write of the batch is dropped, as
    /// [`crate::log_batch::LineWriter`] drops it.
    ///
    /// Out of line: inlined into its caller it left the number formatting out of line
    /// instead, about 120 instructions more per connection (callgrind).
    #[inline(never)]
    fn write_to(&self, batch: &Batch, target: &str) {
        let _ = batch.add_with(false, |pending| {
            let mut out = Appended(pending);
            // Appending to a `Vec` does not fail.
            let _ =
                write_prefix(&mut out, Level::INFO, target).and_then(|()| self.render(&mut out));
            pending.push(b'\n');
        });
    }
}

/// A `Vec<u8>` as `fmt::Write`: text appended as its bytes.
struct Appended<'a>(&'a mut Vec<u8>);

impl fmt::Write for Appended<'_> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        self.0.extend_from_slice(text.as_bytes());
        Ok(())
    }
}

/// The plain format: timestamp, level, target, message, fields.
pub(crate) struct PlainLine;

impl<S, N> FormatEvent<S, N> for PlainLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        write_prefix(&mut writer, *metadata.level(), metadata.target())?;
        let mut fields = Fields {
            writer: &mut writer,
            result: Ok(()),
            first: true,
        };
        event.record(&mut fields);
        fields.result?;
        writer.write_char('\n')
    }
}

/// A line's start, as the default format writes it: the time now, the level, the target.
fn write_prefix(out: &mut impl LineOut, level: Level, target: &str) -> fmt::Result {
    let mut stamp = [0u8; STAMP_LEN];
    write_timestamp(SystemTime::now(), &mut stamp);
    out.write_ascii(&stamp)?;
    out.write_str(level_text(level))?;
    out.write_str(target)?;
    out.write_str(": ")
}

/// Where a line is written: text, and bytes known to be ASCII (the timestamp's digits).
trait LineOut: fmt::Write {
    /// Writes `ascii`, which holds ASCII bytes only.
    fn write_ascii(&mut self, ascii: &[u8]) -> fmt::Result;
}

impl LineOut for Writer<'_> {
    fn write_ascii(&mut self, ascii: &[u8]) -> fmt::Result {
        self.write_str(std::str::from_utf8(ascii).map_err(|_| fmt::Error)?)
    }
}

/// Bytes go into the batch as they are: checking the timestamp's 27 digits and separators
/// as UTF-8 cost each close line about 100 instructions (callgrind).
impl LineOut for Appended<'_> {
    fn write_ascii(&mut self, ascii: &[u8]) -> fmt::Result {
        self.0.extend_from_slice(ascii);
        Ok(())
    }
}

/// The level as the default format shows it: right-aligned to five, a space either side.
fn level_text(level: Level) -> &'static str {
    match level {
        Level::ERROR => " ERROR ",
        Level::WARN => "  WARN ",
        Level::INFO => "  INFO ",
        Level::DEBUG => " DEBUG ",
        Level::TRACE => " TRACE ",
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
const STAMP_LEN: usize = 27;

/// Writes `time` as RFC 3339 UTC with microseconds into `out`.
///
/// Lines come many to a second, so the text up to the fraction is kept per thread with its
/// second and copied when the second is the same: the calendar's arithmetic then runs once a
/// second rather than once a line (about 100 instructions a line, callgrind).
fn write_timestamp(time: SystemTime, out: &mut [u8; STAMP_LEN]) {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let mut put = |at: usize, value: u64| {
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[(value % 100) as usize]);
    };
    let micros = u64::from(since.subsec_micros());
    put(20, micros / 10_000);
    put(22, micros / 100);
    put(24, micros);
    out[26] = b'Z';
    let second = &mut out[..SECOND_TEXT];
    let cached = LAST_SECOND
        .try_with(|last| {
            let (at, text) = last.get();
            (at == secs).then(|| second.copy_from_slice(&text))
        })
        .ok()
        .flatten();
    if cached.is_none() {
        let text = second_text(secs);
        second.copy_from_slice(&text);
        let _ = LAST_SECOND.try_with(|last| last.set((secs, text)));
    }
}

/// `YYYY-MM-DDTHH:MM:SS.`: a timestamp up to its fraction.
const SECOND_TEXT: usize = 20;

thread_local! {
    /// The second [`write_timestamp`] last wrote on this thread, and its text.
    static LAST_SECOND: Cell<(u64, [u8; SECOND_TEXT])> =
        const { Cell::new((u64::MAX, [0; SECOND_TEXT])) };
}

/// The second `secs` after the epoch as text up to its fraction.
fn second_text(secs: u64) -> [u8; SECOND_TEXT] {
    let mut out = *b"0000-00-00T00:00:00.";
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    // Two digits at a time, from a table: half the divisions of one digit at a time.
    let mut put = |at: usize, value: u64| {
        out[at..at + 2].copy_from_slice(&DIGIT_PAIRS[(value % 100) as usize]);
    };
    put(0, year / 100);
    put(2, year);
    put(5, month);
    put(8, day);
    put(11, of_day / 3600);
    put(14, of_day / 60 % 60);
    put(17, of_day % 60);
    out
}

/// `00` to `99`.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut pairs = [[0; 2]; 100];
    let mut i = 0;
    while i < 100 {
        pairs[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    pairs
};

/// Year, month and day of the `days`-th day after 1970-01-01 (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`, for days on or after the epoch).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = era * 400 + year_of_era + u64::from(month <= 2);
    (year, month, day)
}

/// Writes the message, then `name=value` for each other field, a space between items:
/// strings quoted and escaped (`Debug`), everything else as its `Debug` says (`%x` fields
/// are already `Display`).
struct Fields<'a, 'w> {
    writer: &'a mut Writer<'w>,
    result: fmt::Result,
    first: bool,
}

impl Fields<'_, '_> {
    fn field(&mut self, field: &Field, value: &dyn Debug) {
        self.put(field, |writer| write!(writer, "{value:?}"));
    }

    /// Writes the separator, `name=` (nothing for the message), then the value through
    /// `value`. The common values (numbers, plain strings, booleans) are written directly:
    /// `core::fmt`'s machinery costs a few hundred instructions a field, and a connection
    /// logs about a dozen.
    fn put(&mut self, field: &Field, value: impl FnOnce(&mut Writer<'_>) -> fmt::Result) {
        if self.result.is_err() {
            return;
        }
        if !std::mem::take(&mut self.first) {
            self.result = self.writer.write_char(' ');
        }
        if field.name() != "message" {
            let name = field.name();
            let name = name.strip_prefix("r#").unwrap_or(name);
            self.result = self
                .result
                .and_then(|()| self.writer.write_str(name))
                .and_then(|()| self.writer.write_char('='));
        }
        self.result = self.result.and_then(|()| value(self.writer));
    }
}

/// `value` quoted, as `Debug` writes it: directly when nothing in it needs escaping
/// (printable ASCII other than `"` and `\`), else through `Debug`.
fn write_quoted(writer: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let plain = value
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\');
    if !plain {
        return write!(writer, "{value:?}");
    }
    writer.write_char('"')?;
    writer.write_str(value)?;
    writer.write_char('"')
}

/// An error's sources, as the default format lists them: `[first, second]`.
struct Sources<'a>(&'a (dyn std::error::Error + 'static));

impl fmt::Display for Sources<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        let mut source = Some(self.0);
        while let Some(error) = source {
            list.entry(&format_args!("{error}"));
            source = error.source();
        }
        list.finish()
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            // A message given as a string is shown as it is, not quoted.
            self.put(field, |writer| writer.write_str(value));
        } else {
            self.put(field, |writer| write_quoted(writer, value));
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, |writer| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, |writer| {
            writer.write_str(itoa::Buffer::new().format(value))
        });
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, |writer| {
            writer.write_str(if value { "true" } else { "false" })
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.field(field, value);
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        match value.source() {
            Some(source) => self.field(
                field,
                &format_args!("{value} {}.sources={}", field.name(), Sources(source)),
            ),
            None => self.field(field, &format_args!("{value}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;

    /// `Peer` writes what `SocketAddr`'s `Display` writes: IPv4 at the ends of every octet's
    /// and the port's range, IPv6 (handed to `Display`) with and without runs of zeros, and a
    /// width, which `Display` pads to.
    #[test]
    fn peer_is_written_as_socket_addr_displays_it() {
        let mut addrs: Vec<SocketAddr> = [
            "0.0.0.0:0",
            "255.255.255.255:65535",
            "127.0.0.1:8080",
            "10.0.100.9:9",
            "[::1]:443",
            "[2001:db8::ff00:42:8329]:1",
            "[fe80::1%3]:80",
        ]
        .iter()
        .map(|text| text.parse().unwrap())
        .collect();
        let mut seed = 0x9e37_79b9_u32;
        for _ in 0..1000 {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            addrs.push(SocketAddr::from((seed.to_be_bytes(), (seed >> 7) as u16)));
        }
        for addr in addrs {
            assert_eq!(Peer(addr).to_string(), addr.to_string());
            assert_eq!(format!("{:>30}", Peer(addr)), format!("{addr:>30}"));
        }
    }

    #[test]
    fn timestamps_match_rfc_3339_across_the_calendar() {
        for (secs, micros, want) in [
            (0, 0, "1970-01-01T00:00:00.000000Z"),
            (951_782_400, 7, "2000-02-29T00:00:00.000007Z"),
            (1_709_164_799, 999_999, "2024-02-28T23:59:59.999999Z"),
            (1_735_689_599, 500_000, "2024-12-31T23:59:59.500000Z"),
            (1_796_228_723, 19_072, "2026-12-02T16:25:23.019072Z"),
            (4_102_444_800, 1, "2100-01-01T00:00:00.000001Z"),
            // The same second again (the kept text), and one before it.
            (4_102_444_800, 999_999, "2100-01-01T00:00:00.999999Z"),
            (4_102_444_799, 0, "2099-12-31T23:59:59.000000Z"),
            (1_796_228_723, 500_001, "2026-12-02T16:25:23.500001Z"),
        ] {
            let time = UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_micros(micros);
            let mut out = [0u8; STAMP_LEN];
            write_timestamp(time, &mut out);
            assert_eq!(std::str::from_utf8(&out).unwrap(), want);
        }
    }

    /// Collects what a subscriber writes.
    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Collect {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Collect {
        type Writer = Collect;

        fn make_writer(&'a self) -> Collect {
            self.clone()
        }
    }

    /// The line each format writes for the same event, timestamps cut off.
    fn lines(log: impl Fn()) -> (String, String) {
        let ours = Collect::default();
        let default = Collect::default();
        let plain = tracing_subscriber::fmt()
            .with_writer(ours.clone())
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .event_format(PlainLine)
            .finish();
        tracing::subscriber::with_default(plain, &log);
        let stock = tracing_subscriber::fmt()
            .with_writer(default.clone())
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(stock, &log);
        let cut =
            |c: Collect| String::from_utf8(c.0.lock().unwrap()[STAMP_LEN..].to_vec()).unwrap();
        (cut(ours), cut(default))
    }

    /// A close line says what the same nine fields say as `tracing-subscriber`'s default
    /// format writes them: IPv4 and IPv6 peers, HTTP/1.1 and HTTP/2, paths and reasons that
    /// need escaping, a connection without a close, and lines longer than the stack buffer
    /// (written piece by piece).
    #[test]
    fn close_line_writes_what_the_default_format_writes_for_its_fields() {
        let long_path = format!("/chat/{}", "r".repeat(STACK_TEXT));
        let long_reason = "é".repeat(62);
        let peers: [SocketAddr; 3] = [
            "127.0.0.1:47104".parse().unwrap(),
            "255.255.255.255:65535".parse().unwrap(),
            "[2001:db8::1]:443".parse().unwrap(),
        ];
        // Path, HTTP version, code, reason, clean, duration, bytes in and out.
        type Case<'a> = (
            &'a str,
            Option<&'static str>,
            u16,
            &'a str,
            bool,
            u64,
            u64,
            u64,
        );
        let cases: [Case<'_>; 6] = [
            ("/echo", None, 1000, "", true, 0, 8, 133),
            ("/echo", Some("2"), 1001, "bye", false, 12, 0, u64::MAX),
            ("/chat/a\"b", None, 1006, "", false, 3, 9, 10),
            ("/inspect", None, 1002, "line\nbreak \u{7}", true, 1, 2, 3),
            (&long_path, Some("2"), 1000, "", true, 5, 6, 7),
            ("/echo", None, 4000, &long_reason, true, 99, 100, 101),
        ];
        for peer in peers {
            for (path, http, code, reason, clean, duration_ms, bytes_in, bytes_out) in cases {
                let line = CloseLine {
                    peer,
                    path,
                    http,
                    code,
                    reason,
                    clean,
                    duration_ms,
                    bytes_in,
                    bytes_out,
                };
                let (ours, _) = lines(|| line.with_text(|text| tracing::info!(message = text)));
                let (_, fields) = lines(|| match http {
                    None => tracing::info!(peer = %Peer(peer), path, code, reason, clean,
                        duration_ms, bytes_in, bytes_out, "close"),
                    Some(http) => tracing::info!(peer = %Peer(peer), path, http, code, reason,
                        clean, duration_ms, bytes_in, bytes_out, "close"),
                });
                assert_eq!(ours, fields);
            }
        }
    }

    /// A close line written straight into the batch is, but for its timestamp, the line the
    /// plain format writes for the same text logged as an `info` event from the same target.
    #[test]
    fn a_close_line_written_directly_is_the_plain_formats_line() {
        static SINK: Mutex<Vec<u8>> = Mutex::new(Vec::new());
        static BATCH: Batch = Batch::new(|bytes| {
            SINK.lock().unwrap().extend_from_slice(bytes);
            Ok(())
        });
        let peers: [SocketAddr; 2] = [
            "127.0.0.1:47104".parse().unwrap(),
            "[2001:db8::1]:443".parse().unwrap(),
        ];
        let long_path = format!("/chat/{}", "r".repeat(STACK_TEXT));
        for peer in peers {
            for (path, http, reason) in [
                ("/echo", None, ""),
                ("/chat/a\"b", Some("2"), "line\nbreak"),
                (&long_path, None, "bye"),
            ] {
                let line = CloseLine {
                    peer,
                    path,
                    http,
                    code: 1000,
                    reason,
                    clean: true,
                    duration_ms: 12,
                    bytes_in: 8,
                    bytes_out: u64::MAX,
                };
                let (event, _) = lines(|| line.with_text(|text| tracing::info!(message = text)));
                line.write_to(&BATCH, module_path!());
                BATCH.flush().unwrap();
                let written = std::mem::take(&mut *SINK.lock().unwrap());
                let direct = String::from_utf8(written[STAMP_LEN..].to_vec()).unwrap();
                assert_eq!(direct, event);
                let stamp = std::str::from_utf8(&written[..STAMP_LEN]).unwrap();
                assert!(stamp.starts_with("20") && stamp.ends_with('Z'), "{stamp}");
            }
        }
    }

    #[test]
    fn writes_what_the_default_format_writes() {
        let peer: std::net::SocketAddr = "127.0.0.1:47104".parse().unwrap();
        let error = std::io::Error::other("broken \"pipe\"");
        let nested = std::io::Error::other(std::io::Error::other("the cause"));
        let cases: [&dyn Fn(); 7] = [
            &|| {
                tracing::info!(peer = %Peer(peer), path = "/echo", code = 1000u16, reason = "", clean = true,
                    duration_ms = 0u64, bytes_in = 8u64, bytes_out = -133i64, "close")
            },
            &|| tracing::warn!(%error, detail = ?Some("x\ny"), "refused"),
            &|| tracing::error!("cannot serve: {}", 42),
            &|| tracing::info!(r#type = "ping", "message with a raw identifier"),
            &|| tracing::debug!(a = 1u8, b = "two"),
            &|| {
                tracing::info!(
                    max = u64::MAX,
                    min = i64::MIN,
                    zero = 0i64,
                    quote = "say \"hi\"",
                    slash = "a\\b",
                    tab = "a\tb",
                    bell = "\u{7}",
                    accent = "café",
                    empty = "",
                    flag = false,
                    "plain message with \"quotes\""
                )
            },
            &|| {
                tracing::warn!(
                    error = &nested as &(dyn std::error::Error + 'static),
                    "sources"
                )
            },
        ];
        for log in cases {
            let (ours, default) = lines(log);
            assert_eq!(ours, default);
        }
    }
}
