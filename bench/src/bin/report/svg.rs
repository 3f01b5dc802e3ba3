//! `results.svg`: server CPU per echoed message, every server and the floor side by side in
//! each cell. One panel per payload size, each with its own scale (a 64 KiB echo costs
//! several times a 16 B one); in each panel one group of bars per connection count. Plain
//! SVG text, no dependency.

use std::fmt::Write as _;

use crate::{FLOOR, Results, size_label};

const PANEL_WIDTH: f64 = 380.0;
const PANEL_HEIGHT: f64 = 260.0;
const MARGIN_LEFT: f64 = 56.0;
const MARGIN_TOP: f64 = 76.0;
const MARGIN_BOTTOM: f64 = 70.0;
const GAP: f64 = 40.0;
/// One colour per server, in the order of [`crate::IMPL_ORDER`]: the floor grey, ours in
/// strong colours, the peers in lighter ones.
const COLOURS: [&str; 8] = [
    "#9e9e9e", "#d62728", "#ff7f0e", "#1f77b4", "#2ca02c", "#9467bd", "#17becf", "#8c564b",
];

fn colour(imp: &str) -> &'static str {
    crate::IMPL_ORDER
        .iter()
        .position(|i| *i == imp)
        .map_or("#000000", |n| COLOURS[n])
}

/// A round step for the y axis: about four ticks up to `max`.
fn tick_step(max: f64) -> f64 {
    let raw = max / 4.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|step| *step >= raw)
        .unwrap_or(magnitude * 10.0)
}

/// Escapes the five characters XML reserves.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

pub(crate) fn chart(results: &Results) -> String {
    let impls = results.impls("echo");
    let cells = results.cells();
    let mut sizes: Vec<&str> = Vec::new();
    for (_, size) in &cells {
        if !sizes.contains(&size.as_str()) {
            sizes.push(size);
        }
    }
    sizes.sort_by_key(|s| s.parse::<u64>().unwrap_or(u64::MAX));
    let width = MARGIN_LEFT + sizes.len().max(1) as f64 * (PANEL_WIDTH + GAP);
    let height = MARGIN_TOP + PANEL_HEIGHT + MARGIN_BOTTOM;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}" viewBox="0 0 {width:.0} {height:.0}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r##"<rect width="100%" height="100%" fill="#ffffff"/><text x="{MARGIN_LEFT}" y="20" font-size="15" font-weight="bold">Server CPU per echoed message (µs, lower is better; medians)</text>"##
    );
    // The legend, one swatch per server.
    let mut x = MARGIN_LEFT;
    for imp in &impls {
        let _ = writeln!(
            s,
            r#"<rect x="{x:.0}" y="30" width="10" height="10" fill="{}"/><text x="{:.0}" y="39">{}</text>"#,
            colour(imp),
            x + 14.0,
            xml(imp)
        );
        x += 24.0 + 7.0 * imp.len() as f64;
    }
    for (p, size) in sizes.iter().enumerate() {
        let left = MARGIN_LEFT + p as f64 * (PANEL_WIDTH + GAP);
        let bottom = MARGIN_TOP + PANEL_HEIGHT;
        let mut groups: Vec<&(String, String)> = cells.iter().filter(|(_, s)| s == size).collect();
        groups.sort_by_key(|(conns, _)| conns.parse::<u64>().unwrap_or(u64::MAX));
        let values = |cell: &(String, String)| -> Vec<(&str, Option<f64>)> {
            impls
                .iter()
                .map(|i| (*i, results.echo(cell, i).server_us))
                .collect()
        };
        let max = groups
            .iter()
            .flat_map(|cell| values(cell))
            .filter_map(|(_, v)| v)
            .fold(0.0, f64::max);
        let step = tick_step(if max > 0.0 { max } else { 1.0 });
        let top = (max / step).ceil().max(1.0) * step;
        let y = |v: f64| bottom - v / top * PANEL_HEIGHT;
        let _ = writeln!(
            s,
            r#"<text x="{:.0}" y="{:.0}" text-anchor="middle" font-weight="bold">{} messages</text>"#,
            left + PANEL_WIDTH / 2.0,
            MARGIN_TOP - 8.0,
            xml(&size_label(size))
        );
        let mut tick = 0.0;
        while tick <= top + step / 2.0 {
            let _ = writeln!(
                s,
                r##"<line x1="{left:.0}" x2="{:.0}" y1="{yt:.1}" y2="{yt:.1}" stroke="#dddddd"/><text x="{:.0}" y="{:.1}" text-anchor="end">{tick}</text>"##,
                left + PANEL_WIDTH,
                left - 4.0,
                y(tick) + 4.0,
                yt = y(tick)
            );
            tick += step;
        }
        let group_width = PANEL_WIDTH / groups.len().max(1) as f64;
        let bar = (group_width - 16.0) / impls.len().max(1) as f64;
        for (g, cell) in groups.iter().enumerate() {
            let gx = left + g as f64 * group_width + 8.0;
            for (b, (imp, v)) in values(cell).into_iter().enumerate() {
                let Some(v) = v else { continue };
                let _ = writeln!(
                    s,
                    r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{} {}: {v:.2} µs</title></rect>"#,
                    gx + b as f64 * bar,
                    y(v),
                    (bar - 1.0).max(1.0),
                    bottom - y(v),
                    colour(imp),
                    xml(imp),
                    xml(&format!("{} × {}", cell.0, size_label(size)))
                );
            }
            // The floor's level across the whole group, to read every ratio against.
            if let Some(floor) = results.echo(cell, FLOOR).server_us {
                let _ = writeln!(
                    s,
                    r##"<line x1="{gx:.1}" x2="{:.1}" y1="{yf:.1}" y2="{yf:.1}" stroke="#555555" stroke-dasharray="3,2"/>"##,
                    gx + group_width - 16.0,
                    yf = y(floor)
                );
            }
            let _ = writeln!(
                s,
                r#"<text x="{:.0}" y="{:.0}" text-anchor="middle">{} conn.</text>"#,
                gx + (group_width - 16.0) / 2.0,
                bottom + 16.0,
                xml(&cell.0)
            );
        }
        let _ = writeln!(
            s,
            r##"<line x1="{left:.0}" x2="{:.0}" y1="{bottom:.0}" y2="{bottom:.0}" stroke="#000000"/>"##,
            left + PANEL_WIDTH
        );
    }
    let _ = writeln!(
        s,
        r#"<text x="{MARGIN_LEFT}" y="{:.0}">Dashed line: the floor (plain TCP echo) in that cell. {}</text>"#,
        height - 20.0,
        xml(results.notes.first().map_or("", String::as_str))
    );
    s += "</svg>\n";
    s
}
