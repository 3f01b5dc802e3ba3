//! The core's criterion benches, read from criterion's own estimates.

use std::fmt::Write as _;
use std::path::Path;

use crate::{fmt_us, ratio, size_label};

/// The target for masking: at least this fraction of memcpy's speed.
const MASK_TARGET: f64 = 0.8;

/// The median time per iteration, in nanoseconds, of one criterion benchmark.
fn criterion_ns(dir: &Path, id: &str) -> Option<f64> {
    let json = std::fs::read_to_string(dir.join(id).join("new/estimates.json")).ok()?;
    let value: serde_json::Value = serde_json::from_str(&json).ok()?;
    value["median"]["point_estimate"].as_f64()
}

fn gib_per_s(bytes: usize, ns: Option<f64>) -> Option<f64> {
    ns.map(|ns| bytes as f64 / ns * 1e9 / (1u64 << 30) as f64)
}

pub(crate) fn render(o: &mut String, dir: &Path) {
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
