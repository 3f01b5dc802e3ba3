//! Turns `run.sh`'s raw lines (and criterion's estimates) into the markdown of `results.md`.
//!
//! ```text
//! report RESULTS.RAW [CRITERION-DIR] > results.md
//! ```
//!
//! Every figure is a median over the repeats. Ratios are written so that above 1 means
//! Switchyard is better: messages/s as Switchyard ÷ peer; CPU as peer's CPU per message ÷
//! Switchyard's; memory as peer's bytes per connection ÷ Switchyard's.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const SWITCHYARD: &str = "switchyard";
const IMPL_ORDER: [&str; 4] = [
    SWITCHYARD,
    "fastwebsockets",
    "tokio-websockets",
    "tungstenite",
];
/// The issue's targets: ≥ 1.10× fastwebsockets, ≥ 1.0× every other peer.
const TARGET_VS_FASTWEBSOCKETS: f64 = 1.10;
const IDLE_TARGET_KIB: f64 = 8.0;
const MASK_TARGET: f64 = 0.8;

/// One raw line: `key=value` fields.
type Run = BTreeMap<String, String>;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(raw) = args.next() else {
        eprintln!("usage: report RESULTS.RAW [CRITERION-DIR]");
        return ExitCode::from(2);
    };
    let criterion = args.next().map(PathBuf::from);
    let text = match std::fs::read_to_string(&raw) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("report: {raw}: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", render(&text, criterion.as_deref()));
    ExitCode::SUCCESS
}

fn parse(text: &str) -> (Vec<String>, Vec<Run>) {
    let mut notes = Vec::new();
    let mut runs = Vec::new();
    for line in text.lines() {
        if let Some(note) = line.strip_prefix("# ") {
            notes.push(note.to_owned());
        } else if !line.trim().is_empty() {
            runs.push(
                line.split_whitespace()
                    .filter_map(|kv| kv.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect(),
            );
        }
    }
    (notes, runs)
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

/// Medians of one implementation in one cell.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    ops_per_s: Option<f64>,
    /// Server CPU microseconds per operation.
    server_us: Option<f64>,
    /// Load generator CPU microseconds per operation.
    loadgen_us: Option<f64>,
    /// Share of one core the server used during the window.
    server_util: Option<f64>,
    loadgen_util: Option<f64>,
    kib_per_conn: Option<f64>,
    failed: usize,
    runs: usize,
}

fn summarize<'a>(runs: impl Iterator<Item = &'a Run>) -> Cell {
    let runs: Vec<&Run> = runs.collect();
    let ok: Vec<&&Run> = runs.iter().filter(|r| !r.contains_key("failed")).collect();
    let per_op = |key: &str| {
        median(
            ok.iter()
                .filter_map(|r| Some(num(r, key)? * 1e6 / num(r, "ops")?))
                .collect(),
        )
    };
    let util = |key: &str| {
        median(
            ok.iter()
                .filter_map(|r| Some(num(r, key)? / num(r, "secs")?))
                .collect(),
        )
    };
    Cell {
        ops_per_s: median(ok.iter().filter_map(|r| num(r, "ops_per_s")).collect()),
        server_us: per_op("server_cpu_s"),
        loadgen_us: per_op("loadgen_cpu_s"),
        server_util: util("server_cpu_s"),
        loadgen_util: util("loadgen_cpu_s"),
        kib_per_conn: median(ok.iter().filter_map(|r| num(r, "kib_per_conn")).collect()),
        failed: runs.len() - ok.len(),
        runs: runs.len(),
    }
}

fn fmt_rate(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.1}"),
    }
}

fn fmt_us(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= 100.0 => format!("{v:.0}"),
        Some(v) => format!("{v:.2}"),
    }
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:.0} %", v * 100.0))
}

fn ratio(num: Option<f64>, den: Option<f64>) -> Option<f64> {
    match (num, den) {
        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
        _ => None,
    }
}

fn fmt_ratio(v: Option<f64>, target: f64) -> String {
    match v {
        None => "—".into(),
        Some(v) if v >= target => format!("{v:.2}×"),
        Some(v) => format!("**{v:.2}×**"),
    }
}

fn size_label(size: &str) -> String {
    match size.parse::<usize>() {
        Ok(n) if n >= 1024 && n % 1024 == 0 => format!("{} KiB", n / 1024),
        Ok(n) => format!("{n} B"),
        Err(_) => size.to_owned(),
    }
}

fn target_for(peer: &str) -> f64 {
    if peer == "fastwebsockets" {
        TARGET_VS_FASTWEBSOCKETS
    } else {
        1.0
    }
}

fn render(text: &str, criterion: Option<&Path>) -> String {
    let (notes, runs) = parse(text);
    let impls: Vec<&str> = IMPL_ORDER
        .into_iter()
        .filter(|i| {
            runs.iter()
                .any(|r| r.get("impl").map(String::as_str) == Some(*i))
        })
        .collect();
    let peers: Vec<&str> = impls.iter().copied().filter(|i| *i != SWITCHYARD).collect();
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(o, "# Switchyard load benchmark\n");
    for note in &notes {
        let _ = writeln!(o, "- {note}");
    }
    let _ = writeln!(
        o,
        "\nServers: `bench/src/bin/echo_server.rs` (each library on a single-threaded Tokio \
         runtime, pinned to CPU 0); client: `bench/src/bin/loadgen.rs` (closed loop, every \
         echo checked byte for byte, pinned to CPU 1). Figures are medians over the repeats. \
         Ratios read \"above 1 = Switchyard better\"; a bold ratio misses its target \
         (≥ {TARGET_VS_FASTWEBSOCKETS:.2}× fastwebsockets, ≥ 1.00× the others).\n"
    );

    // Echo cells, in the order they ran.
    let mut cells: Vec<(String, String)> = Vec::new();
    for r in runs
        .iter()
        .filter(|r| r.get("kind").map(String::as_str) == Some("echo"))
    {
        let key = (
            r.get("conns").cloned().unwrap_or_default(),
            r.get("size").cloned().unwrap_or_default(),
        );
        if !cells.contains(&key) {
            cells.push(key);
        }
    }
    let echo = |conns: &str, size: &str, imp: &str| {
        summarize(runs.iter().filter(|r| {
            r.get("kind").map(String::as_str) == Some("echo")
                && r.get("impl").map(String::as_str) == Some(imp)
                && r.get("conns").map(String::as_str) == Some(conns)
                && r.get("size").map(String::as_str) == Some(size)
        }))
    };
    let by_kind = |kind: &str, imp: &str| {
        summarize(runs.iter().filter(|r| {
            r.get("kind").map(String::as_str) == Some(kind)
                && r.get("impl").map(String::as_str) == Some(imp)
        }))
    };

    if !cells.is_empty() {
        let _ = writeln!(o, "## Echo: Switchyard ÷ peer\n");
        let _ = writeln!(
            o,
            "Each peer has two columns: messages/s (Switchyard ÷ peer) and server CPU per \
             message (peer ÷ Switchyard).\n"
        );
        let mut head = String::from("| connections × payload |");
        let mut rule = String::from("|---|");
        for p in &peers {
            let _ = write!(head, " {p} msg/s | {p} CPU/msg |");
            rule += "---:|---:|";
        }
        let _ = writeln!(o, "{head}\n{rule}");
        for (conns, size) in &cells {
            let sy = echo(conns, size, SWITCHYARD);
            let _ = write!(o, "| {conns} × {} |", size_label(size));
            for p in &peers {
                let peer = echo(conns, size, p);
                let t = target_for(p);
                let _ = write!(
                    o,
                    " {} | {} |",
                    fmt_ratio(ratio(sy.ops_per_s, peer.ops_per_s), t),
                    fmt_ratio(ratio(peer.server_us, sy.server_us), t)
                );
            }
            let _ = writeln!(o);
        }

        let _ = writeln!(o, "\n## Echo: absolute figures\n");
        let _ = writeln!(
            o,
            "messages/s, and server CPU µs per message in parentheses.\n"
        );
        let mut head = String::from("| connections × payload |");
        let mut rule = String::from("|---|");
        for i in &impls {
            let _ = write!(head, " {i} |");
            rule += "---:|";
        }
        let _ = writeln!(o, "{head}\n{rule}");
        for (conns, size) in &cells {
            let _ = write!(o, "| {conns} × {} |", size_label(size));
            for i in &impls {
                let c = echo(conns, size, i);
                let failed = if c.failed > 0 {
                    format!(" ({}/{} failed)", c.failed, c.runs)
                } else {
                    String::new()
                };
                let _ = write!(
                    o,
                    " {} ({}){failed} |",
                    fmt_rate(c.ops_per_s),
                    fmt_us(c.server_us)
                );
            }
            let _ = writeln!(o);
        }

        let _ = writeln!(o, "\n## Is the load generator the bottleneck?\n");
        let _ = writeln!(
            o,
            "CPU used during the measured window, as a share of one core, then per message \
             in µs: server / load generator. The server should be near 100 % and the load \
             generator below it.\n"
        );
        let _ = writeln!(o, "{head}\n{rule}");
        for (conns, size) in &cells {
            let _ = write!(o, "| {conns} × {} |", size_label(size));
            for i in &impls {
                let c = echo(conns, size, i);
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

    let handshakes: Vec<(&str, Cell)> = impls
        .iter()
        .map(|i| (*i, by_kind("handshakes", i)))
        .filter(|(_, c)| c.runs > 0)
        .collect();
    if !handshakes.is_empty() {
        let sy = by_kind("handshakes", SWITCHYARD);
        let _ = writeln!(o, "\n## Handshakes (connect, upgrade, close handshake)\n");
        let _ = writeln!(
            o,
            "| server | handshakes/s | server CPU µs each | server / loadgen CPU | Switchyard ÷ peer (rate) | peer ÷ Switchyard (CPU) |\n|---|---:|---:|---:|---:|---:|"
        );
        for (i, c) in &handshakes {
            let (r, cpu) = if *i == SWITCHYARD {
                ("—".into(), "—".into())
            } else {
                (
                    fmt_ratio(ratio(sy.ops_per_s, c.ops_per_s), 1.0),
                    fmt_ratio(ratio(c.server_us, sy.server_us), 1.0),
                )
            };
            let _ = writeln!(
                o,
                "| {i} | {} | {} | {} / {} | {r} | {cpu} |",
                fmt_rate(c.ops_per_s),
                fmt_us(c.server_us),
                fmt_pct(c.server_util),
                fmt_pct(c.loadgen_util)
            );
        }
    }

    let idle: Vec<(&str, Cell)> = impls
        .iter()
        .map(|i| (*i, by_kind("idle", i)))
        .filter(|(_, c)| c.runs > 0)
        .collect();
    if !idle.is_empty() {
        let conns = runs
            .iter()
            .find(|r| r.get("kind").map(String::as_str) == Some("idle"))
            .and_then(|r| r.get("conns"))
            .cloned()
            .unwrap_or_default();
        let sy = by_kind("idle", SWITCHYARD);
        let _ = writeln!(o, "\n## Memory per idle connection ({conns} connections)\n");
        let _ = writeln!(
            o,
            "Server RSS growth ÷ connections, after every handshake completed and a second \
             of rest (user-space memory: kernel socket buffers are not in RSS). Target: \
             ≤ {IDLE_TARGET_KIB} KiB.\n"
        );
        let _ = writeln!(
            o,
            "| server | KiB per connection | peer ÷ Switchyard |\n|---|---:|---:|"
        );
        for (i, c) in &idle {
            let r = if *i == SWITCHYARD {
                "—".into()
            } else {
                fmt_ratio(ratio(c.kib_per_conn, sy.kib_per_conn), 1.0)
            };
            let _ = writeln!(o, "| {i} | {} | {r} |", fmt_us(c.kib_per_conn));
        }
    }

    render_targets(o, &runs, &cells, &peers);
    if let Some(dir) = criterion {
        render_criterion(o, dir);
    }
    out
}

/// One line per target of the issue: met or not, by messages/s and by CPU per message.
fn render_targets(o: &mut String, runs: &[Run], cells: &[(String, String)], peers: &[&str]) {
    let pick = |kind: &str, imp: &str, cell: Option<&(String, String)>| {
        summarize(runs.iter().filter(|r| {
            r.get("kind").map(String::as_str) == Some(kind)
                && r.get("impl").map(String::as_str) == Some(imp)
                && cell.is_none_or(|(c, s)| r.get("conns") == Some(c) && r.get("size") == Some(s))
        }))
    };
    let verdict = |ok: bool| if ok { "met" } else { "**not met**" };
    let _ = writeln!(o, "\n## Targets\n");
    let _ = writeln!(
        o,
        "| target | worst cell, messages/s | worst cell, CPU per message | verdict (rate / CPU) |\n|---|---:|---:|---|"
    );
    for p in peers {
        let t = target_for(p);
        let worst = |f: &dyn Fn(Cell, Cell) -> Option<f64>| {
            cells
                .iter()
                .filter_map(|cell| {
                    let v = f(
                        pick("echo", SWITCHYARD, Some(cell)),
                        pick("echo", p, Some(cell)),
                    )?;
                    Some((v, format!("{} × {}", cell.0, size_label(&cell.1))))
                })
                .min_by(|a, b| a.0.total_cmp(&b.0))
        };
        let rate = worst(&|sy, peer| ratio(sy.ops_per_s, peer.ops_per_s));
        let cpu = worst(&|sy, peer| ratio(peer.server_us, sy.server_us));
        let show = |w: &Option<(f64, String)>| {
            w.as_ref()
                .map_or("—".into(), |(v, cell)| format!("{v:.2}× ({cell})"))
        };
        let ok = |w: &Option<(f64, String)>| w.as_ref().is_some_and(|(v, _)| *v >= t);
        let _ = writeln!(
            o,
            "| echo ≥ {t:.2}× {p} in every cell | {} | {} | {} / {} |",
            show(&rate),
            show(&cpu),
            verdict(ok(&rate)),
            verdict(ok(&cpu))
        );
    }
    let sy = pick("handshakes", SWITCHYARD, None);
    let best = |f: &dyn Fn(&Cell) -> Option<f64>, higher: bool| {
        peers
            .iter()
            .filter_map(|p| Some((f(&pick("handshakes", p, None))?, *p)))
            .max_by(|a, b| {
                if higher {
                    a.0.total_cmp(&b.0)
                } else {
                    b.0.total_cmp(&a.0)
                }
            })
    };
    if let (Some((rate, rp)), Some((cpu, cp))) =
        (best(&|c| c.ops_per_s, true), best(&|c| c.server_us, false))
    {
        let r = sy.ops_per_s.map(|s| s / rate);
        let c = sy.server_us.map(|s| cpu / s);
        let _ = writeln!(
            o,
            "| handshakes/s ≥ 1.00× the best peer | {} (vs {rp}) | {} (vs {cp}) | {} / {} |",
            fmt_ratio(r, 1.0),
            fmt_ratio(c, 1.0),
            verdict(r.is_some_and(|v| v >= 1.0)),
            verdict(c.is_some_and(|v| v >= 1.0))
        );
    }
    if let Some(kib) = pick("idle", SWITCHYARD, None).kib_per_conn {
        let _ = writeln!(
            o,
            "| ≤ {IDLE_TARGET_KIB} KiB per idle connection | {kib:.2} KiB | | {} |",
            verdict(kib <= IDLE_TARGET_KIB)
        );
    }
}

/// The median time per iteration, in nanoseconds, of one criterion benchmark.
fn criterion_ns(dir: &Path, id: &str) -> Option<f64> {
    let json = std::fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    value["median"]["point_estimate"].as_f64()
}

fn gib_per_s(bytes: usize, ns: Option<f64>) -> Option<f64> {
    ns.map(|ns| bytes as f64 / ns * 1e9 / (1u64 << 30) as f64)
}

fn render_criterion(o: &mut String, dir: &Path) {
    if criterion_ns(dir, "accept_key").is_none() {
        return;
    }
    let _ = writeln!(
        o,
        "\n## Core hot paths (criterion, `cargo bench -p switchyard-core --features std --bench core`)\n"
    );
    let _ = writeln!(
        o,
        "memcpy is `copy_from_slice` (the C library's); where masking beats it, the platform's \
         memcpy is slow at that size (see bench/README.md).\n"
    );
    let _ = writeln!(
        o,
        "| size | memcpy GiB/s | apply_mask GiB/s | mask ÷ memcpy (target ≥ {MASK_TARGET}) | byte-loop reference GiB/s |\n|---:|---:|---:|---:|---:|"
    );
    for size in [16usize, 1024, 65536, 1 << 20] {
        let memcpy = criterion_ns(dir, &format!("mask/memcpy/{size}"));
        let mask = criterion_ns(dir, &format!("mask/apply_mask/{size}"));
        let reference = criterion_ns(dir, &format!("mask/reference/{size}"));
        let fraction = ratio(memcpy, mask);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} |",
            size_label(&size.to_string()),
            fmt_us(gib_per_s(size, memcpy)),
            fmt_us(gib_per_s(size, mask)),
            fraction.map_or("—".into(), |f| if f >= MASK_TARGET {
                format!("{f:.2}")
            } else {
                format!("**{f:.2}**")
            }),
            fmt_us(gib_per_s(size, reference)),
        );
    }
    let _ = writeln!(
        o,
        "\n| UTF-8, size | validator GiB/s | in 1000-byte pieces GiB/s | `str::from_utf8` GiB/s |\n|---:|---:|---:|---:|"
    );
    for size in [1024usize, 65536] {
        // The benchmark text is `size` characters, several bytes each: its byte length is
        // what criterion's throughput uses, so recompute it the same way.
        let bytes: usize = "WebSocket — ünïcödé ✓ 😀 "
            .chars()
            .cycle()
            .take(size)
            .map(char::len_utf8)
            .sum();
        let _ = writeln!(
            o,
            "| {} chars | {} | {} | {} |",
            size,
            fmt_us(gib_per_s(
                bytes,
                criterion_ns(dir, &format!("utf8/validator/{size}"))
            )),
            fmt_us(gib_per_s(
                bytes,
                criterion_ns(dir, &format!("utf8/validator_in_1k_pieces/{size}"))
            )),
            fmt_us(gib_per_s(
                bytes,
                criterion_ns(dir, &format!("utf8/std_from_utf8/{size}"))
            )),
        );
    }
    let _ = writeln!(o, "\n| operation | time |\n|---|---:|");
    for (id, what) in [
        (
            "header/decode",
            "frame header decode (masked, 16-bit length)",
        ),
        ("header/encode", "frame header encode"),
        ("accept_key", "Sec-WebSocket-Accept from a key"),
        (
            "receive/binary_16B",
            "receive + poll one 16 B masked binary message",
        ),
        (
            "receive/fragmented_text_64x1KiB",
            "receive + poll 64 KiB of text in 64 fragments",
        ),
    ] {
        let t = criterion_ns(dir, id).map_or("—".into(), |ns| {
            if ns >= 1000.0 {
                format!("{:.2} µs", ns / 1000.0)
            } else {
                format!("{ns:.1} ns")
            }
        });
        let _ = writeln!(o, "| {what} | {t} |");
    }
}
