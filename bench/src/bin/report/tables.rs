//! The markdown of `results.md`: CPU per message as ratios to the floor and to the cheapest
//! peer, handshakes, memory per idle connection, callgrind's instructions per echo, and which
//! of issue 10's targets hold.

use std::fmt::Write as _;
use std::path::Path;

use crate::{Cell, FLOOR, OURS, Results, cost, criterion, fmt_us, ratio, relative, size_label};

/// Issue 10 §4: every server's CPU per message at most this multiple of the floor's.
pub(crate) const FLOOR_BOUND: f64 = 1.15;
/// Issue 10 §4: at most the cheapest peer's CPU per message, and per handshake.
const PEER_BOUND: f64 = 1.0;
/// Issue 10 §4: a ratio this close to its bound is decided by callgrind, not CPU time.
const NOISE: f64 = 0.10;
/// Issue 10 §3: memory per idle connection, never used and after one 1 MiB echo.
const IDLE_TARGET_KIB: f64 = 3.0;
const USED_TARGET_KIB: f64 = 8.0;

/// A ratio of one of ours that must stay at or below `bound`: bold when it does not, with a
/// dagger when it lies within [`NOISE`] of the bound (then callgrind decides). A peer's or the
/// floor's ratio is plain: the bounds are for ours.
fn fmt_bounded(imp: &str, v: Option<f64>, bound: f64) -> String {
    match v {
        None => "—".into(),
        Some(v) if !OURS.contains(&imp) => format!("{v:.2}×"),
        Some(v) => {
            let close = (v / bound - 1.0).abs() <= NOISE;
            let text = format!("{v:.2}×{}", if close { "†" } else { "" });
            if v <= bound {
                text
            } else {
                format!("**{text}**")
            }
        }
    }
}

fn fmt_rate(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0} %", v * 100.0))
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "**not met**" }
}

pub(crate) fn render(results: &Results, criterion: Option<&Path>) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "# Switchyard load benchmark\n");
    for note in &results.notes {
        let _ = writeln!(o, "- {note}");
    }
    let _ = writeln!(
        o,
        "\nServers: `floor` is a plain TCP echo server (one read, one write per message); \
         `switchyard-lib` the library's minimal echo server; both and every peer run from \
         `bench/src/bin/echo_server` on a single-threaded Tokio runtime. `switchyard-bin` is \
         the shipped binary (`switchyard --listen`, default flags and logging, the runtime \
         it picks for one CPU: Tokio's single-threaded one), serving `/echo`. Every server is pinned to CPU 0, the load \
         generator (`bench/src/bin/loadgen`, closed loop, every echo checked byte for byte) \
         to CPU 1. Figures are medians over the runs (how many: under the first table). Ratios are costs: below 1 is \
         cheaper. Bold misses its bound (≤ {FLOOR_BOUND:.2}× the floor, ≤ \
         {PEER_BOUND:.2}× the cheapest peer); † marks a ratio within {:.0} % of its bound, \
         which callgrind's instructions per echo decide.\n",
        NOISE * 100.0
    );
    let cells = results.cells();
    if !cells.is_empty() {
        echo_tables(o, results, &cells);
    }
    handshakes(o, results);
    memory(o, results);
    callgrind(o, results);
    targets(o, results, &cells);
    if let Some(dir) = criterion {
        criterion::render(o, dir);
    }
    out
}

fn header(o: &mut String, first: &str, columns: &[&str]) {
    let mut head = format!("| {first} |");
    let mut rule = String::from("|---|");
    for c in columns {
        let _ = write!(head, " {c} |");
        rule += "---:|";
    }
    let _ = writeln!(o, "{head}\n{rule}");
}

fn cell_label((conns, size): &(String, String)) -> String {
    format!("{conns} × {}", size_label(size))
}

/// Whether the echo runs were paired with the floor.
fn paired(results: &Results) -> bool {
    results.runs.iter().any(|r| r.contains_key("floor_ratio"))
}

fn echo_tables(o: &mut String, results: &Results, cells: &[(String, String)]) {
    let impls = results.impls("echo");
    let _ = writeln!(o, "## Echo: server CPU per message\n");
    let _ = writeln!(
        o,
        "µs of server CPU per echoed message, and in parentheses its ratio to the floor's.{}\n",
        if paired(results) {
            " Every run was paired with the floor: the floor and the server took turns of a \
             fraction of a second within one window (`loadgen echo --floor-addr`), so the \
             ratio is taken run by run against the floor at the same moments, and its median \
             is shown (it is not the ratio of the two medians). The floor's column is its \
             share of every run in the cell."
        } else {
            ""
        }
    );
    header(o, "connections × payload", &impls);
    for cell in cells {
        let floor = results.echo(cell, FLOOR);
        let _ = write!(o, "| {} |", cell_label(cell));
        for i in &impls {
            let c = results.echo(cell, i);
            let failed = if c.failed > 0 {
                format!(" ({}/{} failed)", c.failed, c.runs)
            } else {
                String::new()
            };
            let to_floor = if *i == FLOOR {
                String::new()
            } else {
                format!(" ({})", fmt_bounded(i, relative(&c, &floor), FLOOR_BOUND))
            };
            let _ = write!(o, " {}{to_floor}{failed} |", fmt_us(c.server_us));
        }
        let _ = writeln!(o);
    }
    runs_per_cell(o, results, cells, &impls);

    let ours: Vec<&str> = OURS.into_iter().filter(|i| impls.contains(i)).collect();
    if !results.peers("echo").is_empty() && !ours.is_empty() {
        let _ = writeln!(o, "\n## Echo: ours against the cheapest peer\n");
        let _ = writeln!(
            o,
            "The cheapest peer is the one with the least server CPU per message in that \
             cell{}.\n",
            if paired(results) {
                " relative to the floor (the median of its paired ratios, which the ratios \
                 here divide; its µs are shown for scale)"
            } else {
                ""
            }
        );
        let mut columns = vec!["cheapest peer (µs)"];
        columns.extend(ours.iter().copied());
        header(o, "connections × payload", &columns);
        for cell in cells {
            let cheapest = results.cheapest_peer("echo", |p| results.echo(cell, p));
            let _ = write!(
                o,
                "| {} | {} |",
                cell_label(cell),
                cheapest.as_ref().map_or("—".into(), |(p, c)| format!(
                    "{p} ({})",
                    fmt_us(c.server_us)
                ))
            );
            for i in &ours {
                let ours = results.echo(cell, i);
                let to_peer = cheapest.as_ref().and_then(|(_, c)| relative(&ours, c));
                let _ = write!(o, " {} |", fmt_bounded(i, to_peer, PEER_BOUND));
            }
            let _ = writeln!(o);
        }
    }

    let _ = writeln!(o, "\n## Echo: messages per second\n");
    header(o, "connections × payload", &impls);
    for cell in cells {
        let _ = write!(o, "| {} |", cell_label(cell));
        for i in &impls {
            let _ = write!(o, " {} |", fmt_rate(results.echo(cell, i).ops_per_s));
        }
        let _ = writeln!(o);
    }

    let _ = writeln!(o, "\n## Is the load generator the bottleneck?\n");
    let _ = writeln!(
        o,
        "CPU used during the measured window, as a share of one core, then per message in \
         µs: server / load generator. The server should be near 100 % and the load \
         generator below it.\n"
    );
    header(o, "connections × payload", &impls);
    for cell in cells {
        let _ = write!(o, "| {} |", cell_label(cell));
        for i in &impls {
            let c = results.echo(cell, i);
            let _ = write!(
                o,
                " {} / {} ({} / {}) |",
                fmt_pct(c.server_util),
                fmt_pct(c.loadgen_util),
                fmt_us(c.server_us),
                fmt_us(c.loadgen_us)
            );
        }
        let _ = writeln!(o);
    }
}

/// How many runs each median is over, cell by cell (the fewest of any server but the floor,
/// whose figures are its turns in every run): `run.sh` gives the one-connection cells more.
fn runs_per_cell(o: &mut String, results: &Results, cells: &[(String, String)], impls: &[&str]) {
    let runs: Vec<(String, usize)> = cells
        .iter()
        .map(|cell| {
            let fewest = impls
                .iter()
                .filter(|i| **i != FLOOR)
                .map(|i| results.echo(cell, i).runs)
                .min()
                .unwrap_or(0);
            (cell_label(cell), fewest)
        })
        .collect();
    let first = runs.first().map(|(_, n)| *n);
    let text = if runs.iter().all(|(_, n)| Some(*n) == first) {
        format!("{} in every cell", first.unwrap_or(0))
    } else {
        let each: Vec<String> = runs.iter().map(|(c, n)| format!("{c}: {n}")).collect();
        each.join(", ")
    };
    let _ = writeln!(
        o,
        "\nRuns of each server (the medians are over them): {text}."
    );
}

fn handshakes(o: &mut String, results: &Results) {
    let rows: Vec<(&str, Cell)> = results
        .impls("handshakes")
        .into_iter()
        .map(|i| (i, results.pick("handshakes", i, &[])))
        .filter(|(_, c)| c.runs > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let cheapest = results.cheapest_peer("handshakes", |p| results.pick("handshakes", p, &[]));
    let fewest = fewest_handshake_instructions(results);
    let runs = rows.iter().map(|(_, c)| c.runs).min().unwrap_or(0);
    let _ = writeln!(o, "\n## Handshakes (connect, upgrade, close handshake)\n");
    let _ = writeln!(
        o,
        "CPU: medians over {runs} runs of each server (`HANDSHAKE_ROUNDS` rotated rounds per \
         repeat). Instructions: user-space instructions per handshake under callgrind, (216 \
         connections − 16) ÷ 200 (`bench/callgrind.sh`), and their ratio to the peer with the \
         fewest.\n"
    );
    header(
        o,
        "server",
        &[
            "handshakes/s",
            "server CPU µs each",
            "server / loadgen CPU",
            "CPU ÷ cheapest peer's",
            "instructions each",
        ],
    );
    for (i, c) in rows {
        let instructions = results
            .pick("callgrind_handshake", i, &[])
            .instructions_per_handshake;
        let _ = writeln!(
            o,
            "| {i} | {} | {} | {} / {} | {} | {} |",
            fmt_rate(c.ops_per_s),
            fmt_us(c.server_us),
            fmt_pct(c.server_util),
            fmt_pct(c.loadgen_util),
            fmt_bounded(
                i,
                cheapest.as_ref().and_then(|(_, p)| relative(&c, p)),
                PEER_BOUND
            ),
            instructions.map_or("—".into(), |v| format!(
                "{v:.0} ({})",
                fmt_bounded(i, ratio(Some(v), fewest), PEER_BOUND)
            )),
        );
    }
}

/// The fewest instructions per handshake among the peers callgrind counted.
fn fewest_handshake_instructions(results: &Results) -> Option<f64> {
    results
        .peers("callgrind_handshake")
        .into_iter()
        .filter_map(|p| {
            results
                .pick("callgrind_handshake", p, &[])
                .instructions_per_handshake
        })
        .min_by(f64::total_cmp)
}

fn memory(o: &mut String, results: &Results) {
    let idle = |i: &str, used: bool| summarize_idle(results, i, used);
    let rows: Vec<&str> = results
        .impls("idle")
        .into_iter()
        .filter(|i| idle(i, false).runs + idle(i, true).runs > 0)
        .collect();
    if rows.is_empty() {
        return;
    }
    let conns = results
        .runs
        .iter()
        .find(|r| crate::field(r, "kind") == Some("idle"))
        .and_then(|r| crate::field(r, "conns"))
        .unwrap_or_default();
    let _ = writeln!(o, "\n## Memory per idle connection ({conns} connections)\n");
    let _ = writeln!(
        o,
        "Server RSS growth ÷ connections, a second after the last connection was opened \
         (and, in the second column, after each had carried one message of the size shown in \
         the run line and its echo). User-space memory: kernel socket buffers are not in \
         RSS. Targets for ours: ≤ {IDLE_TARGET_KIB} KiB never used, ≤ {USED_TARGET_KIB} KiB \
         after the echo.\n"
    );
    header(o, "server", &["KiB, never used", "KiB, after one echo"]);
    for i in rows {
        let show = |used: bool, target: f64| {
            let kib = idle(i, used).kib_per_conn;
            let figure = match kib {
                Some(v) if OURS.contains(&i) && v > target => format!("**{v:.2}**"),
                _ => fmt_us(kib),
            };
            format!("{figure}{}", idle_caveats(results, i, used))
        };
        let _ = writeln!(
            o,
            "| {i} | {} | {} |",
            show(false, IDLE_TARGET_KIB),
            show(true, USED_TARGET_KIB)
        );
    }
}

/// What qualifies an idle figure: the RSS cap stopped the run early (the figure is then over
/// the connections opened), or the server closed some connections before the reading.
fn idle_caveats(results: &Results, imp: &str, used: bool) -> String {
    let lines: Vec<&crate::Run> = results
        .runs
        .iter()
        .filter(|r| {
            crate::field(r, "kind") == Some("idle")
                && crate::field(r, "impl") == Some(imp)
                && crate::num(r, "echo_bytes").is_some_and(|b| b > 0.0) == used
        })
        .collect();
    let mut caveats = Vec::new();
    if let Some(conns) = lines
        .iter()
        .filter(|r| crate::field(r, "capped") == Some("1"))
        .filter_map(|r| crate::num(r, "conns"))
        .reduce(f64::min)
    {
        caveats.push(format!(
            "RSS cap reached: over the {conns:.0} connections open then"
        ));
    }
    if let Some(closed) = lines
        .iter()
        .filter_map(|r| crate::num(r, "server_closed"))
        .filter(|c| *c > 0.0)
        .reduce(f64::max)
    {
        caveats.push(format!("up to {closed:.0} closed by the server first"));
    }
    if caveats.is_empty() {
        String::new()
    } else {
        format!(" ({})", caveats.join("; "))
    }
}

/// The idle lines of one server: never used (`echo_bytes` absent or 0), or used.
fn summarize_idle(results: &Results, imp: &str, used: bool) -> Cell {
    crate::summarize(results.runs.iter().filter(|r| {
        crate::field(r, "kind") == Some("idle")
            && crate::field(r, "impl") == Some(imp)
            && crate::num(r, "echo_bytes").is_some_and(|b| b > 0.0) == used
    }))
}

fn callgrind(o: &mut String, results: &Results) {
    let mut sizes: Vec<String> = Vec::new();
    for r in results
        .runs
        .iter()
        .filter(|r| crate::field(r, "kind") == Some("callgrind"))
    {
        let size = crate::field(r, "size").unwrap_or_default().to_owned();
        if !sizes.contains(&size) {
            sizes.push(size);
        }
    }
    if sizes.is_empty() {
        return;
    }
    let conns = results
        .runs
        .iter()
        .find(|r| crate::field(r, "kind") == Some("callgrind"))
        .and_then(|r| crate::field(r, "conns"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "\n## Instructions per echo (callgrind, {conns} connections)\n"
    );
    let _ = writeln!(
        o,
        "User-space instructions the server executes per echoed message: (a run of N echoes − \
         a run of none over the same connections) ÷ N, each run counted from after one warm-up \
         echo (`bench/callgrind.sh`). In parentheses: ÷ the cheapest peer measured.\n"
    );
    let labels: Vec<String> = sizes.iter().map(|s| size_label(s)).collect();
    let columns: Vec<&str> = labels.iter().map(String::as_str).collect();
    header(o, "server", &columns);
    let at = |i: &str, size: &str| {
        results
            .pick("callgrind", i, &[("size", size)])
            .instructions_per_echo
    };
    for i in results.impls("callgrind") {
        let _ = write!(o, "| {i} |");
        for size in &sizes {
            let cheapest = fewest_echo_instructions(results, size);
            let v = at(i, size);
            let _ = write!(
                o,
                " {} ({}) |",
                v.map_or("—".into(), |v| format!("{v:.0}")),
                fmt_bounded(i, ratio(v, cheapest), PEER_BOUND)
            );
        }
        let _ = writeln!(o);
    }
}

/// The fewest instructions per echo of `size` among the peers callgrind counted.
fn fewest_echo_instructions(results: &Results, size: &str) -> Option<f64> {
    results
        .peers("callgrind")
        .into_iter()
        .filter_map(|p| {
            results
                .pick("callgrind", p, &[("size", size)])
                .instructions_per_echo
        })
        .min_by(f64::total_cmp)
}

/// One of ours in one echo cell against one bound.
struct Judged {
    cell: String,
    /// CPU per message ÷ the reference (the floor's or the cheapest peer's), by [`cost`].
    cpu: f64,
    /// When `cpu` lies within [`NOISE`] of the bound and callgrind counted this size:
    /// instructions per echo ÷ the fewest of the peers', which then decides (issue 10 §4).
    instructions: Option<f64>,
    met: bool,
}

/// Every cell of `i` against `bound` × `reference`: a CPU ratio beyond [`NOISE`] of the
/// bound decides by itself; one within it is decided by callgrind's instructions per echo at
/// the cell's size against the peer with the fewest (counted over 16 connections, so every
/// cell of a size shares one count), and by CPU only when no count exists for that size.
fn judge_cells(
    results: &Results,
    cells: &[(String, String)],
    i: &str,
    reference: &dyn Fn(&(String, String)) -> Option<f64>,
    bound: f64,
) -> Vec<Judged> {
    cells
        .iter()
        .filter_map(|cell| {
            let cpu = ratio(cost(&results.echo(cell, i)), reference(cell))?;
            let close = (cpu / bound - 1.0).abs() <= NOISE;
            let instructions = close
                .then(|| {
                    let size = cell.1.as_str();
                    let ours = results
                        .pick("callgrind", i, &[("size", size)])
                        .instructions_per_echo;
                    ratio(ours, fewest_echo_instructions(results, size))
                })
                .flatten();
            let met = instructions.map_or(cpu <= bound, |n| n <= PEER_BOUND);
            Some(Judged {
                cell: cell_label(cell),
                cpu,
                instructions,
                met,
            })
        })
        .collect()
}

/// A target over every cell: "met" with the worst CPU ratio, or "not met" with each cell
/// that misses.
fn cells_verdict(i: &str, judged: &[Judged], bound: f64) -> String {
    let one = |j: &Judged| {
        let cpu = fmt_bounded(i, Some(j.cpu), bound);
        match j.instructions {
            Some(n) => format!("{} {cpu} CPU, {n:.2}× instructions", j.cell),
            None => format!("{} {cpu}", j.cell),
        }
    };
    let missed: Vec<String> = judged.iter().filter(|j| !j.met).map(one).collect();
    if judged.is_empty() {
        "—".into()
    } else if missed.is_empty() {
        let worst = judged
            .iter()
            .max_by(|a, b| a.cpu.total_cmp(&b.cpu))
            .map(one)
            .unwrap_or_default();
        format!("{}; worst {worst}", verdict(true))
    } else {
        format!(
            "{} at {} of {} cells: {}",
            verdict(false),
            missed.len(),
            judged.len(),
            missed.join("; ")
        )
    }
}

/// One line per target of issue 10 for each of ours: the verdict over every cell.
fn targets(o: &mut String, results: &Results, cells: &[(String, String)]) {
    let _ = writeln!(o, "\n## Targets (issue 10 §3, §4)\n");
    header(o, "target", &["switchyard-lib", "switchyard-bin"]);
    let floor = |cell: &(String, String)| cost(&results.echo(cell, FLOOR));
    let peer = |cell: &(String, String)| {
        results
            .cheapest_peer("echo", |p| results.echo(cell, p))
            .and_then(|(_, c)| cost(&c))
    };
    let mut row = |name: String, f: &dyn Fn(&str) -> String| {
        let _ = writeln!(o, "| {name} | {} | {} |", f(OURS[0]), f(OURS[1]));
    };
    row(
        format!(
            "CPU per message ≤ {FLOOR_BOUND:.2}× the floor, every cell (within 10 %: \
             instructions decide)"
        ),
        &|i| {
            let judged = judge_cells(results, cells, i, &floor, FLOOR_BOUND);
            cells_verdict(i, &judged, FLOOR_BOUND)
        },
    );
    row(
        "CPU per message ≤ the cheapest peer's, every cell (within 10 %: instructions decide)"
            .into(),
        &|i| {
            let judged = judge_cells(results, cells, i, &peer, PEER_BOUND);
            cells_verdict(i, &judged, PEER_BOUND)
        },
    );
    let cheapest_handshake =
        results.cheapest_peer("handshakes", |p| results.pick("handshakes", p, &[]));
    let fewest = fewest_handshake_instructions(results);
    row(
        "CPU per handshake ≤ the cheapest peer's (within 10 %: instructions decide)".into(),
        &|i| {
            let cpu = cheapest_handshake
                .as_ref()
                .and_then(|(_, p)| relative(&results.pick("handshakes", i, &[]), p));
            let instructions = ratio(
                results
                    .pick("callgrind_handshake", i, &[])
                    .instructions_per_handshake,
                fewest,
            );
            cpu.map_or("—".into(), |v| {
                let close = (v / PEER_BOUND - 1.0).abs() <= NOISE;
                match instructions {
                    Some(n) if close => format!(
                        "{} CPU, {n:.2}× instructions: {}",
                        fmt_bounded(i, Some(v), PEER_BOUND),
                        verdict(n <= PEER_BOUND)
                    ),
                    _ => format!(
                        "{}: {}",
                        fmt_bounded(i, Some(v), PEER_BOUND),
                        verdict(v <= PEER_BOUND)
                    ),
                }
            })
        },
    );
    for (used, target, what) in [
        (false, IDLE_TARGET_KIB, "never used"),
        (true, USED_TARGET_KIB, "after one echo"),
    ] {
        row(
            format!("≤ {target} KiB per idle connection, {what}"),
            &|i| {
                summarize_idle(results, i, used)
                    .kib_per_conn
                    .map_or("—".into(), |v| {
                        format!("{v:.2} KiB: {}", verdict(v <= target))
                    })
            },
        );
    }
}
