//! Turns the raw lines of `run.sh` and `callgrind.sh` (and criterion's estimates) into
//! `results.md`, and draws `results.svg`.
//!
//! ```text
//! report [--svg FILE] [--criterion DIR] RAW... > results.md
//! ```
//!
//! Every figure is a median over the repeats. Costs are written as ratios to two references,
//! so that below 1 is cheaper: to the floor (the plain TCP echo server, the kernel's share of
//! any echo) and to the cheapest peer in the same cell.
//!
//! An echo run paired with the floor (`loadgen echo --floor-addr`, the `floor_*` fields)
//! measured both in alternating slices of one window: its ratio to the floor is taken run
//! by run, and servers are compared by the medians of those ratios ([`cost`]), since the
//! host's cost mode moves a server and the floor alike. The floor's own figures are then
//! the floor slices of every run in the cell.

mod criterion;
mod svg;
mod tables;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

/// The plain TCP echo server.
const FLOOR: &str = "floor";
/// Our two contestants: the library's minimal echo server and the shipped binary.
const OURS: [&str; 2] = ["switchyard-lib", "switchyard-bin"];
/// Every server in the order tables and the chart show them; a server absent from the raw
/// lines is left out.
const IMPL_ORDER: [&str; 8] = [
    FLOOR,
    "switchyard-lib",
    "switchyard-bin",
    "fastwebsockets",
    "tokio-websockets",
    "tungstenite",
    "sockudo-ws",
    "yawc",
];

/// One raw line: `key=value` fields.
type Run = BTreeMap<String, String>;

fn main() -> ExitCode {
    let mut svg_path = None;
    let mut criterion = None;
    let mut raws = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--svg" => svg_path = args.next().map(PathBuf::from),
            "--criterion" => criterion = args.next().map(PathBuf::from),
            _ => raws.push(arg),
        }
    }
    if raws.is_empty() {
        eprintln!("usage: report [--svg FILE] [--criterion DIR] RAW... > results.md");
        return ExitCode::from(2);
    }
    let mut text = String::new();
    for raw in &raws {
        match std::fs::read_to_string(raw) {
            Ok(t) => text += &t,
            Err(e) => {
                eprintln!("report: {raw}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let results = Results::parse(&text);
    if let Some(path) = svg_path
        && let Err(e) = std::fs::write(&path, svg::chart(&results))
    {
        eprintln!("report: {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    print!("{}", tables::render(&results, criterion.as_deref()));
    ExitCode::SUCCESS
}

/// Every raw line, with the notes (`# ` lines) apart.
struct Results {
    notes: Vec<String>,
    runs: Vec<Run>,
}

impl Results {
    fn parse(text: &str) -> Results {
        let mut notes = Vec::new();
        let mut runs = Vec::new();
        for line in text.lines() {
            if let Some(note) = line.strip_prefix("# ") {
                notes.push(note.to_owned());
            } else if !line.trim().is_empty() {
                let mut run: Run = line
                    .split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
                if let Some(floor) = paired_floor(&mut run) {
                    runs.push(floor);
                }
                runs.push(run);
            }
        }
        Results { notes, runs }
    }

    /// The servers that appear in lines of `kind`, in [`IMPL_ORDER`].
    fn impls(&self, kind: &str) -> Vec<&'static str> {
        IMPL_ORDER
            .into_iter()
            .filter(|i| {
                self.runs
                    .iter()
                    .any(|r| field(r, "kind") == Some(kind) && field(r, "impl") == Some(*i))
            })
            .collect()
    }

    /// The servers that are neither ours nor the floor, among those in lines of `kind`.
    fn peers(&self, kind: &str) -> Vec<&'static str> {
        self.impls(kind)
            .into_iter()
            .filter(|i| *i != FLOOR && !OURS.contains(i))
            .collect()
    }

    /// The echo cells (connections, payload bytes), in the order they ran.
    fn cells(&self) -> Vec<(String, String)> {
        let mut cells: Vec<(String, String)> = Vec::new();
        for r in self
            .runs
            .iter()
            .filter(|r| field(r, "kind") == Some("echo"))
        {
            let key = (
                field(r, "conns").unwrap_or_default().to_owned(),
                field(r, "size").unwrap_or_default().to_owned(),
            );
            if !cells.contains(&key) {
                cells.push(key);
            }
        }
        cells
    }

    /// The medians of one server's lines of one kind whose fields match `filter`.
    fn pick(&self, kind: &str, imp: &str, filter: &[(&str, &str)]) -> Cell {
        summarize(self.runs.iter().filter(|r| {
            field(r, "kind") == Some(kind)
                && field(r, "impl") == Some(imp)
                && filter.iter().all(|(k, v)| field(r, k) == Some(*v))
        }))
    }

    fn echo(&self, (conns, size): &(String, String), imp: &str) -> Cell {
        self.pick("echo", imp, &[("conns", conns), ("size", size)])
    }

    /// The peer with the least [`cost`] per operation of `kind`, and its medians.
    fn cheapest_peer(
        &self,
        kind: &str,
        cell: impl Fn(&str) -> Cell,
    ) -> Option<(&'static str, Cell)> {
        self.peers(kind)
            .into_iter()
            .filter_map(|p| {
                let c = cell(p);
                Some((p, cost(&c)?, c))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(p, _, c)| (p, c))
    }
}

/// For an echo run paired with the floor: records its ratio to the floor (`floor_ratio`,
/// CPU per message over the floor's in the same window) and returns the floor's slices as a
/// run of their own (`impl=floor`, ratio 1).
fn paired_floor(run: &mut Run) -> Option<Run> {
    if field(run, "kind") != Some("echo") || run.contains_key("failed") {
        return None;
    }
    let floor_us = num(run, "floor_cpu_s")? / num(run, "floor_ops")?;
    let us = num(run, "server_cpu_s")? / num(run, "ops")?;
    run.insert("floor_ratio".into(), (us / floor_us).to_string());
    let mut floor = Run::new();
    for key in ["kind", "repeat", "conns", "size"] {
        floor.insert(key.into(), run.get(key)?.clone());
    }
    floor.insert("impl".into(), FLOOR.into());
    floor.insert("ops".into(), run.get("floor_ops")?.clone());
    floor.insert("secs".into(), run.get("floor_secs")?.clone());
    floor.insert("server_cpu_s".into(), run.get("floor_cpu_s")?.clone());
    let ops_per_s = num(run, "floor_ops")? / num(run, "floor_secs")?;
    floor.insert("ops_per_s".into(), ops_per_s.to_string());
    floor.insert("floor_ratio".into(), "1".into());
    Some(floor)
}

/// What servers are compared by in a cell: the median ratio to the floor where the runs
/// were paired with it, else the median CPU µs per operation. Every comparison divides two
/// costs of one kind: a raw file's echo runs are either all paired or none.
fn cost(cell: &Cell) -> Option<f64> {
    cell.floor_ratio.or(cell.server_us)
}

/// `a`'s cost over `b`'s.
fn relative(a: &Cell, b: &Cell) -> Option<f64> {
    ratio(cost(a), cost(b))
}

fn field<'a>(run: &'a Run, key: &str) -> Option<&'a str> {
    run.get(key).map(String::as_str)
}

fn num(run: &Run, key: &str) -> Option<f64> {
    run.get(key)?.parse().ok()
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    })
}

/// Medians of one server in one cell.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    ops_per_s: Option<f64>,
    /// Server CPU microseconds per operation.
    server_us: Option<f64>,
    /// Paired runs: the median of each run's CPU per message over the floor's.
    floor_ratio: Option<f64>,
    /// Load generator CPU microseconds per operation.
    loadgen_us: Option<f64>,
    /// Share of one core the server used during the window.
    server_util: Option<f64>,
    loadgen_util: Option<f64>,
    kib_per_conn: Option<f64>,
    instructions_per_echo: Option<f64>,
    instructions_per_handshake: Option<f64>,
    failed: usize,
    runs: usize,
}

fn summarize<'a>(runs: impl Iterator<Item = &'a Run>) -> Cell {
    let runs: Vec<&Run> = runs.collect();
    let ok: Vec<&&Run> = runs.iter().filter(|r| !r.contains_key("failed")).collect();
    let median_of =
        |f: &dyn Fn(&Run) -> Option<f64>| median(ok.iter().filter_map(|r| f(r)).collect());
    Cell {
        ops_per_s: median_of(&|r| num(r, "ops_per_s")),
        server_us: median_of(&|r| Some(num(r, "server_cpu_s")? * 1e6 / num(r, "ops")?)),
        floor_ratio: median_of(&|r| num(r, "floor_ratio")),
        loadgen_us: median_of(&|r| Some(num(r, "loadgen_cpu_s")? * 1e6 / num(r, "ops")?)),
        server_util: median_of(&|r| Some(num(r, "server_cpu_s")? / num(r, "secs")?)),
        loadgen_util: median_of(&|r| Some(num(r, "loadgen_cpu_s")? / num(r, "secs")?)),
        kib_per_conn: median_of(&|r| num(r, "kib_per_conn")),
        instructions_per_echo: median_of(&|r| num(r, "instructions_per_echo")),
        instructions_per_handshake: median_of(&|r| num(r, "instructions_per_handshake")),
        failed: runs.len() - ok.len(),
        runs: runs.len(),
    }
}

fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn size_label(size: &str) -> String {
    match size.parse::<usize>() {
        Ok(n) if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        Ok(n) => format!("{n} B"),
        Err(_) => size.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str = "# run: test\n\
        kind=echo impl=floor repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.010\n\
        kind=echo impl=floor repeat=2 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.030\n\
        kind=echo impl=floor repeat=3 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.020\n\
        kind=echo impl=switchyard-lib repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.023\n\
        kind=echo impl=switchyard-lib repeat=2 conns=16 size=16 failed=1\n\
        kind=echo impl=fastwebsockets repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.025\n\
        kind=echo impl=yawc repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.022\n";

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(vec![f64::NAN]), None);
    }

    #[test]
    fn cpu_per_message_is_the_median_over_successful_repeats() {
        let results = Results::parse(RAW);
        let cell = ("16".to_owned(), "16".to_owned());
        let floor = results.echo(&cell, FLOOR);
        assert_eq!(floor.server_us.map(|us| (us * 100.0).round()), Some(2000.0));
        let lib = results.echo(&cell, "switchyard-lib");
        assert_eq!((lib.runs, lib.failed), (2, 1));
        assert_eq!(lib.server_us.map(|us| (us * 100.0).round()), Some(2300.0));
    }

    #[test]
    fn cheapest_peer_excludes_ours_and_the_floor() {
        let results = Results::parse(RAW);
        let cell = ("16".to_owned(), "16".to_owned());
        let cheapest = results.cheapest_peer("echo", |p| results.echo(&cell, p));
        assert_eq!(cheapest.map(|c| c.0), Some("yawc"));
        assert_eq!(results.peers("echo"), ["fastwebsockets", "yawc"]);
    }

    /// Paired runs are compared by their ratios to the floor in the same window, not by
    /// CPU medians taken in whatever mode the host was in.
    #[test]
    fn paired_runs_are_compared_by_their_ratio_to_the_floor() {
        // yawc ran while the host was cheap, fastwebsockets and ours while it was dear:
        // by CPU yawc is cheapest; by ratio to the floor beside each, ours is.
        let raw = "kind=echo impl=switchyard-lib repeat=1 conns=16 size=16 ops=1000 secs=1 \
             server_cpu_s=0.0070 floor_ops=1000 floor_secs=1 floor_cpu_s=0.0069\n\
             kind=echo impl=fastwebsockets repeat=1 conns=16 size=16 ops=1000 secs=1 \
             server_cpu_s=0.0072 floor_ops=1000 floor_secs=1 floor_cpu_s=0.0069\n\
             kind=echo impl=yawc repeat=1 conns=16 size=16 ops=1000 secs=1 \
             server_cpu_s=0.0061 floor_ops=1000 floor_secs=1 floor_cpu_s=0.0057\n";
        let results = Results::parse(raw);
        let cell = ("16".to_owned(), "16".to_owned());
        let (peer, c) = results
            .cheapest_peer("echo", |p| results.echo(&cell, p))
            .expect("a cheapest peer");
        assert_eq!(peer, "fastwebsockets");
        assert_eq!(c.floor_ratio.map(|r| (r * 1e4).round()), Some(10435.0));
        // The floor's row: its slices of all three runs, median 6.9 µs.
        let floor = results.echo(&cell, FLOOR);
        assert_eq!(
            (floor.runs, floor.server_us.map(|us| (us * 100.0).round())),
            (3, Some(690.0))
        );
        let lib = results.echo(&cell, "switchyard-lib");
        assert_eq!(
            relative(&lib, &floor).map(|r| (r * 1e4).round()),
            Some(10145.0)
        );
        let md = tables::render(&results, None);
        // 1.0145 ÷ 1.0435: met against the cheapest peer.
        assert!(
            md.contains("| 16 × 16 B | fastwebsockets (7.20) | 0.97×† |"),
            "{md}"
        );
    }

    /// The one-connection cells get more runs (`ONE_CONN_ROUNDS`): the report says how many
    /// each cell's medians are over, the fewest of any server's (a failed run counts).
    #[test]
    fn report_gives_the_runs_behind_each_cell() {
        let line = |conns: u32, repeat: u32| {
            format!(
                "kind=echo impl=switchyard-lib repeat={repeat} conns={conns} size=16 ops=1000 \
                 secs=1 server_cpu_s=0.0070 floor_ops=1000 floor_secs=1 floor_cpu_s=0.0069\n"
            )
        };
        let mut raw: String = (1..=3).map(|r| line(1, r)).collect();
        raw += &line(16, 1);
        let md = tables::render(&Results::parse(&raw), None);
        assert!(
            md.contains(
                "Runs of each server (the medians are over them): 1 × 16 B: 3, 16 × 16 B: 1."
            ),
            "{md}"
        );
        let md = tables::render(&Results::parse(&line(16, 1)), None);
        assert!(md.contains("them): 1 in every cell."), "{md}");
    }

    #[test]
    fn unpaired_runs_have_no_floor_ratio() {
        let results = Results::parse(RAW);
        assert!(results.runs.iter().all(|r| !r.contains_key("floor_ratio")));
        assert_eq!(results.peers("echo"), ["fastwebsockets", "yawc"]);
    }

    #[test]
    fn report_judges_ours_against_the_floor_and_the_cheapest_peer() {
        let md = tables::render(&Results::parse(RAW), None);
        // 23 µs ÷ 20 µs = 1.15: at the floor bound, so met but close enough for callgrind.
        assert!(md.contains("23.00 (1.15×†)"), "{md}");
        // 23 µs ÷ yawc's 22 µs = 1.05: over the peer bound.
        assert!(md.contains("**1.05×†**"), "{md}");
        // A peer's ratio is shown plain, never judged.
        assert!(md.contains("22.00 (1.10×)"), "{md}");
    }

    /// A handshake's CPU within 10 % of the cheapest peer's is decided by instructions
    /// against the peer with the fewest; further off, CPU decides.
    #[test]
    fn handshakes_close_to_the_bound_are_decided_by_instructions() {
        let raw = "kind=handshakes impl=switchyard-lib ops=1000 secs=1 server_cpu_s=0.0105\n\
            kind=handshakes impl=switchyard-bin ops=1000 secs=1 server_cpu_s=0.0120\n\
            kind=handshakes impl=sockudo-ws ops=1000 secs=1 server_cpu_s=0.0100\n\
            kind=handshakes impl=yawc ops=1000 secs=1 server_cpu_s=0.0110\n\
            kind=callgrind_handshake impl=switchyard-lib instructions_per_handshake=900\n\
            kind=callgrind_handshake impl=switchyard-bin instructions_per_handshake=800\n\
            kind=callgrind_handshake impl=sockudo-ws instructions_per_handshake=2000\n\
            kind=callgrind_handshake impl=yawc instructions_per_handshake=1000\n";
        let md = tables::render(&Results::parse(raw), None);
        // 1.05× sockudo-ws's CPU, close: 900 ÷ yawc's 1000 instructions decides.
        assert!(
            md.contains("**1.05×†** CPU, 0.90× instructions: met"),
            "{md}"
        );
        // 1.20×: CPU decides, whatever the instructions say.
        assert!(md.contains("**1.20×**: **not met**"), "{md}");
        assert!(md.contains("| 900 (0.90×†) |"), "{md}");
        let more = raw.replace(
            "switchyard-lib instructions_per_handshake=900",
            "switchyard-lib instructions_per_handshake=1100",
        );
        let md = tables::render(&Results::parse(&more), None);
        assert!(
            md.contains("**1.05×†** CPU, 1.10× instructions: **not met**"),
            "{md}"
        );
    }

    /// An echo cell within 10 % of a bound is decided by instructions per echo at its size
    /// against the peer with the fewest; further off, or with no count at its size, CPU
    /// decides.
    #[test]
    fn echo_cells_close_to_a_bound_are_decided_by_instructions() {
        let raw = format!(
            "{RAW}kind=callgrind impl=switchyard-lib size=16 instructions_per_echo=95\n\
             kind=callgrind impl=fastwebsockets size=16 instructions_per_echo=100\n\
             kind=callgrind impl=yawc size=16 instructions_per_echo=120\n"
        );
        let targets = |raw: &str| {
            let md = tables::render(&Results::parse(raw), None);
            md[md.find("## Targets").expect("a targets table")..].to_owned()
        };
        // 1.05× yawc's CPU, close: 95 ÷ fastwebsockets' 100 instructions decides.
        let md = targets(&raw);
        assert!(
            md.contains("met; worst 16 × 16 B **1.05×†** CPU, 0.95× instructions"),
            "{md}"
        );
        let more = raw.replace(
            "size=16 instructions_per_echo=95",
            "size=16 instructions_per_echo=101",
        );
        let md = targets(&more);
        assert!(
            md.contains(
                "**not met** at 1 of 1 cells: 16 × 16 B **1.05×†** CPU, 1.01× instructions"
            ),
            "{md}"
        );
        // No count at this size: CPU decides.
        let md = targets(RAW);
        assert!(
            md.contains("**not met** at 1 of 1 cells: 16 × 16 B **1.05×†** |"),
            "{md}"
        );
        // Further than 10 % off: CPU decides whatever the instructions say.
        let far = raw.replace(
            "impl=yawc repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.022",
            "impl=yawc repeat=1 conns=16 size=16 ops=1000 secs=1 server_cpu_s=0.020",
        );
        let md = targets(&far);
        assert!(
            md.contains("**not met** at 1 of 1 cells: 16 × 16 B **1.15×** |"),
            "{md}"
        );
    }

    #[test]
    fn chart_draws_one_bar_per_server_in_each_cell() {
        let svg = svg::chart(&Results::parse(RAW));
        assert_eq!(svg.matches("<title>").count(), 4);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
    }
}
