//! The load mode's HTML page: one self-contained file that `byoid bench` writes beside each
//! JSON document (`--json`, `--save-baseline`), with
//!
//! * the latency distribution of each mix and of all of them: an HDR percentile plot
//!   (percentile on the `1/(1-p)` log scale, latency on a log scale), one line per mix, and a
//!   table of p50/p90/p99/p99.9/max;
//! * req/s over time, per interval of the run;
//! * with `--baseline`: the per-mix comparison the console prints (req/s and p99, the change,
//!   the same verdict against `--max-regression`), and the baseline's percentile curves drawn
//!   dashed over this run's (from its `latency_curve`, or through its p50-p99.9 when an older
//!   baseline has no curve).
//!
//! The charts are SVG drawn here, in Rust: no script, no external resource, and a
//! Content-Security-Policy that allows only the page's own stylesheet (by hash), so nothing
//! can run or be fetched even if an escape were missed. Text from the target or the baseline
//! file goes through [`escape`]. The page is a function of the report (and baseline) alone:
//! no clock, no randomness, numbers printed with fixed precision.

use std::fmt::Write;

use serde_json::Value;

use super::report::{compare, verdict, BenchReport, MixReport};
use crate::report::html::{csp_hash, escape, CSS};

/// A baseline to compare with, as `byoid bench --baseline FILE --max-regression PCT` gives it
/// (see [`render`] for an example).
#[derive(Clone, Copy, Debug)]
pub struct Baseline<'a> {
    /// How the page names the baseline (the path given to `--baseline`).
    pub label: &'a str,
    /// The baseline's JSON document (an earlier `--json`/`--save-baseline` file).
    pub doc: &'a Value,
    /// `--max-regression`, in percent.
    pub max_regression: f64,
}

const BENCH_CSS: &str = r#"
figure.chart{margin:.6em 0 1em}figure.chart figcaption{color:#555;margin:.2em 0}
svg.chart{display:block;width:100%;max-width:920px;height:auto;border:1px solid #e1e4e8;background:#fff}
svg.chart text{font:11px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;fill:#333}
svg.chart text.ax-title{font-weight:600;fill:#222}
svg .axis{stroke:#555;stroke-width:1}svg .grid{stroke:#ececec;stroke-width:1}svg .grid.major{stroke:#d6d6d6}
svg .line{fill:none;stroke-width:1.8;stroke-linejoin:round;stroke-linecap:round}
svg .line.base{stroke-dasharray:6 4;stroke-width:1.3}
svg .line.c-all{stroke-width:2.6}
.c0{stroke:#0072b2}.c1{stroke:#e69f00}.c2{stroke:#009e73}.c3{stroke:#d55e00}.c4{stroke:#cc79a7}.c5{stroke:#56b4e9}.c6{stroke:#8c6d1f}.c-all{stroke:#222}.c-err{stroke:#c62828}
ul.legend{list-style:none;padding:0;margin:.3em 0;display:flex;flex-wrap:wrap;gap:.2em 1.4em}
ul.legend li{white-space:nowrap}svg.sw{vertical-align:middle;margin-right:.35em}
table.figures td.n,table.cmp td.n{font-variant-numeric:tabular-nums}
table.cmp td.verdict{white-space:normal;text-align:left;font-weight:600}
"#;

/// The plot area inside the SVG's view box (pixels): left, top, right, bottom.
const W: f64 = 920.0;
const H: f64 = 420.0;
const LEFT: f64 = 78.0;
const TOP: f64 = 14.0;
const RIGHT: f64 = W - 40.0;
const BOTTOM: f64 = H - 50.0;
/// Colour classes for the mixes, in `--mix` order (there are at most seven mixes).
const COLOURS: usize = 7;

/// One line of a chart, in plot coordinates (the axes' own, already on a log scale where the
/// axis is one).
struct Series {
    /// Legend and tooltip text.
    name: String,
    /// CSS colour class (`c0`..`c6`, `c-all`, `c-err`).
    class: &'static str,
    /// `this` (this run) or `baseline` (dashed).
    run: &'static str,
    points: Vec<(f64, f64)>,
}

/// An axis: its range and ticks in plot coordinates, the ticks' labels, and its title.
struct Axis {
    lo: f64,
    hi: f64,
    /// (position, label, major): major ticks are labelled and drawn darker.
    ticks: Vec<(f64, String, bool)>,
    title: String,
}

fn colour_class(i: usize) -> &'static str {
    ["c0", "c1", "c2", "c3", "c4", "c5", "c6"][i % COLOURS]
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// A latency in µs as an axis label: `500 µs`, `2 ms`, `1 s`.
fn duration_label(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        trim(format!("{:.3}", us / 1000.0)) + " ms"
    } else {
        trim(format!("{:.3}", us / 1_000_000.0)) + " s"
    }
}

/// A rate as an axis label: `950`, `12k`, `1.5M`.
fn rate_label(r: f64) -> String {
    if r >= 1_000_000.0 {
        trim(format!("{:.2}", r / 1_000_000.0)) + "M"
    } else if r >= 1000.0 {
        trim(format!("{:.2}", r / 1000.0)) + "k"
    } else {
        trim(format!("{r:.2}"))
    }
}

/// `12.500` → `12.5`, `3.000` → `3`.
fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The percentile at `nines` on the `1/(1-p)` scale as a label: 0 → `0%`, 2 → `99%`.
fn percentile_label(nines: u32) -> String {
    match nines {
        0 => "0%".into(),
        n => format!(
            "{}%",
            trim(format!(
                "{:.*}",
                n as usize,
                100.0 - 100.0 / 10f64.powi(n as i32)
            ))
        ),
    }
}

/// Where a percentile sits on the `1/(1-p)` scale: log10(1/(1-p)) ("nines").
fn nines_of(percentile: f64) -> f64 {
    let rest = (1.0 - percentile / 100.0).max(1e-9);
    -rest.log10()
}

/// The smallest 1-2-5 step that cuts `span` into at most `max_ticks` pieces.
fn nice_step(span: f64, max_ticks: f64) -> f64 {
    if span <= 0.0 {
        return 1.0;
    }
    let raw = span / max_ticks;
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

fn px_x(a: &Axis, v: f64) -> f64 {
    LEFT + (v - a.lo) / (a.hi - a.lo) * (RIGHT - LEFT)
}

fn px_y(a: &Axis, v: f64) -> f64 {
    BOTTOM - (v - a.lo) / (a.hi - a.lo) * (BOTTOM - TOP)
}

/// Draws one chart: grid, axes, ticks and one `<polyline>` per series with at least one
/// point, then its legend.
fn chart(out: &mut String, id: &str, caption: &str, x: &Axis, y: &Axis, series: &[Series]) {
    let _ = writeln!(
        out,
        "<figure class=\"chart\" id=\"{id}\">\n<svg class=\"chart\" viewBox=\"0 0 {W} {H}\" role=\"img\" aria-labelledby=\"{id}-cap\">"
    );
    for (v, label, major) in &x.ticks {
        let px = px_x(x, *v);
        let class = if *major { "grid major" } else { "grid" };
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{px:.1}\" y1=\"{TOP}\" x2=\"{px:.1}\" y2=\"{BOTTOM}\"/>"
        );
        if !label.is_empty() {
            let _ = writeln!(
                out,
                "<text class=\"tick\" x=\"{px:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                BOTTOM + 16.0,
                escape(label)
            );
        }
    }
    for (v, label, major) in &y.ticks {
        let py = px_y(y, *v);
        let class = if *major { "grid major" } else { "grid" };
        let _ = writeln!(
            out,
            "<line class=\"{class}\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{RIGHT}\" y2=\"{py:.1}\"/>"
        );
        if !label.is_empty() {
            let _ = writeln!(
                out,
                "<text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
                LEFT - 6.0,
                py + 4.0,
                escape(label)
            );
        }
    }
    let _ = writeln!(
        out,
        "<polyline class=\"axis\" fill=\"none\" points=\"{LEFT},{TOP} {LEFT},{BOTTOM} {RIGHT},{BOTTOM}\"/>"
    );
    let _ = writeln!(
        out,
        "<text class=\"ax-title\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
        (LEFT + RIGHT) / 2.0,
        H - 10.0,
        escape(&x.title)
    );
    let _ = writeln!(
        out,
        "<text class=\"ax-title\" transform=\"rotate(-90)\" x=\"{:.1}\" y=\"16\" text-anchor=\"middle\">{}</text>",
        -(TOP + BOTTOM) / 2.0,
        escape(&y.title)
    );
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let mut pts = String::new();
        for (i, (vx, vy)) in s.points.iter().enumerate() {
            if i > 0 {
                pts.push(' ');
            }
            let _ = write!(pts, "{:.1},{:.1}", px_x(x, *vx), px_y(y, *vy));
        }
        let base = if s.run == "baseline" { " base" } else { "" };
        let _ = writeln!(
            out,
            "<polyline class=\"line {}{base}\" data-series=\"{}\" data-run=\"{}\" data-points=\"{}\" points=\"{pts}\"><title>{}</title></polyline>",
            s.class,
            escape(&s.name),
            s.run,
            s.points.len(),
            escape(&s.name)
        );
    }
    out.push_str("</svg>\n<ul class=\"legend\">\n");
    for s in series.iter().filter(|s| !s.points.is_empty()) {
        let base = if s.run == "baseline" { " base" } else { "" };
        let _ = writeln!(
            out,
            "<li><svg class=\"sw\" width=\"30\" height=\"10\" aria-hidden=\"true\"><line class=\"line {}{base}\" x1=\"1\" y1=\"5\" x2=\"29\" y2=\"5\"/></svg>{}</li>",
            s.class,
            escape(&s.name)
        );
    }
    let _ = writeln!(
        out,
        "</ul>\n<figcaption id=\"{id}-cap\">{}</figcaption>\n</figure>",
        escape(caption)
    );
}

/// A baseline mix's curve in (percentile, µs): its `latency_curve`, or, in a baseline written
/// before curves were recorded, its p50, p90, p99 and p99.9. The flag says which.
fn baseline_curve(mix: &Value) -> (Vec<(f64, u64)>, bool) {
    let curve: Vec<(f64, u64)> = mix
        .get("latency_curve")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|p| Some((p.get(0)?.as_f64()?, p.get(1)?.as_u64()?)))
                .filter(|(pct, _)| (0.0..100.0).contains(pct))
                .collect()
        })
        .unwrap_or_default();
    if !curve.is_empty() {
        return (curve, true);
    }
    let fixed = [(50.0, "p50"), (90.0, "p90"), (99.0, "p99"), (99.9, "p99_9")]
        .into_iter()
        .filter_map(|(pct, k)| {
            let us = mix.get("latency_us")?.get(k)?.as_u64()?;
            Some((pct, us))
        })
        .collect();
    (fixed, false)
}

/// The baseline document's entry for `name` (`all` is its `total`).
fn baseline_mix<'v>(doc: &'v Value, name: &str) -> Option<&'v Value> {
    if name == "all" {
        return doc.get("total");
    }
    doc.get("mixes")?
        .as_array()?
        .iter()
        .find(|m| m.get("name").and_then(Value::as_str) == Some(name))
}

/// This run's entries in chart order: every mix, then `all`, with its colour class.
fn entries(report: &BenchReport) -> Vec<(&MixReport, &'static str)> {
    report
        .mixes
        .iter()
        .enumerate()
        .map(|(i, m)| (m, colour_class(i)))
        .chain(std::iter::once((&report.total, "c-all")))
        .collect()
}

fn latency_section(out: &mut String, report: &BenchReport, baseline: Option<&Baseline>) {
    out.push_str("<section id=\"latency\">\n<h2>Latency distribution</h2>\n");
    let mut series = Vec::new();
    let mut partial_baselines = Vec::new();
    for (m, class) in entries(report) {
        series.push(Series {
            name: m.name.clone(),
            class,
            run: "this",
            points: m
                .latency_curve
                .iter()
                .map(|&(pct, us)| (nines_of(pct), (us.max(1) as f64).log10()))
                .collect(),
        });
        let Some(b) = baseline.and_then(|b| baseline_mix(b.doc, &m.name)) else {
            continue;
        };
        let (curve, full) = baseline_curve(b);
        if !full && !curve.is_empty() {
            partial_baselines.push(m.name.clone());
        }
        series.push(Series {
            name: format!("{} (baseline)", m.name),
            class,
            run: "baseline",
            points: curve
                .iter()
                .map(|&(pct, us)| (nines_of(pct), (us.max(1) as f64).log10()))
                .collect(),
        });
    }
    let drawn: Vec<&(f64, f64)> = series.iter().flat_map(|s| &s.points).collect();
    if drawn.is_empty() {
        out.push_str("<p class=\"muted\">No answers, so no latency distribution.</p>\n");
    } else {
        let max_nines = drawn.iter().map(|p| p.0).fold(0.0, f64::max);
        // Less a hair, so that float noise just above a whole number of nines adds no empty decade.
        let x_hi = (max_nines - 1e-6).ceil().clamp(2.0, 6.0);
        let y_min = drawn.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let y_max = drawn.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        let y_lo = y_min.floor();
        let y_hi = if y_max.ceil() > y_lo {
            y_max.ceil()
        } else {
            y_lo + 1.0
        };
        let mut x_ticks: Vec<(f64, String, bool)> = (0..=x_hi as u32)
            .map(|n| (n as f64, percentile_label(n), true))
            .collect();
        x_ticks.insert(1, (2f64.log10(), "50%".into(), false));
        let decades = (y_hi - y_lo) as i32;
        let mut y_ticks = Vec::new();
        for d in y_lo as i32..=y_hi as i32 {
            let base = 10f64.powi(d);
            y_ticks.push((d as f64, duration_label(base), true));
            if d < y_hi as i32 {
                for m in [2.0, 5.0] {
                    let label = if decades <= 3 {
                        duration_label(base * m)
                    } else {
                        String::new()
                    };
                    y_ticks.push(((base * m).log10(), label, false));
                }
            }
        }
        let x = Axis {
            lo: 0.0,
            hi: x_hi,
            ticks: x_ticks,
            title: "percentile (log scale of 1/(1-p))".into(),
        };
        let y = Axis {
            lo: y_lo,
            hi: y_hi,
            ticks: y_ticks,
            title: "latency (log scale)".into(),
        };
        let mut caption = String::from(
            "HDR percentile distribution of each mix and of all of them (thick); a line ends \
             where its percentiles reach the maximum.",
        );
        if let Some(b) = baseline {
            let _ = write!(caption, " Dashed: the baseline {}", b.label);
            if partial_baselines.is_empty() {
                caption.push('.');
            } else {
                let _ = write!(
                    caption,
                    "; it holds no percentile curve for {}, so its line goes through p50, p90, \
                     p99 and p99.9 only.",
                    partial_baselines.join(", ")
                );
            }
        }
        chart(out, "latency-chart", &caption, &x, &y, &series);
    }
    figures_table(out, report);
    curve_table(out, report);
    out.push_str("</section>\n");
}

fn figures_table(out: &mut String, report: &BenchReport) {
    out.push_str(
        "<table class=\"figures\" id=\"latency-table\">\n<thead><tr><th>Mix</th><th>Weight</th>\
         <th>Requests</th><th>req/s</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th>\
         <th>p99.9 ms</th><th>max ms</th><th>mean ms</th><th>Errors</th><th>Statuses</th>\
         <th>JWKS / 1k</th></tr></thead>\n<tbody>\n",
    );
    for (m, _) in entries(report) {
        let statuses: Vec<String> = m
            .statuses
            .iter()
            .map(|(c, n)| format!("{}: {n}", escape(c)))
            .collect();
        let mut errors = m.errors.to_string();
        if !m.error_kinds.is_empty() {
            let kinds: Vec<String> = m
                .error_kinds
                .iter()
                .map(|(k, n)| format!("{}: {n}", escape(k)))
                .collect();
            let _ = write!(errors, " ({})", kinds.join(", "));
        }
        let l = &m.latency_us;
        let (row, weight) = if m.name == "all" {
            (" class=\"total\"", String::new())
        } else {
            ("", m.weight.to_string())
        };
        let _ = writeln!(
            out,
            "<tr{row} data-mix=\"{}\"><th>{}</th><td class=\"n\">{weight}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{:.3}</td><td class=\"n\">{errors}</td><td>{}</td><td class=\"n\">{}</td></tr>",
            escape(&m.name),
            escape(&m.name),
            m.requests,
            m.rps,
            ms(l.p50),
            ms(l.p90),
            ms(l.p99),
            ms(l.p99_9),
            ms(l.max),
            l.mean / 1000.0,
            statuses.join(", "),
            m.idp
                .as_ref()
                .map(|i| format!("{:.2}", i.jwks_per_1k))
                .unwrap_or_else(|| "-".into())
        );
    }
    out.push_str("</tbody>\n</table>\n");
}

/// The plotted points as a table, collapsed: the figures behind the lines.
fn curve_table(out: &mut String, report: &BenchReport) {
    let all = entries(report);
    // Percentiles are on one grid; a series stops where it reaches its maximum.
    let mut grid: Vec<f64> = Vec::new();
    for (m, _) in &all {
        for (pct, _) in &m.latency_curve {
            if !grid.iter().any(|g| g.to_bits() == pct.to_bits()) {
                grid.push(*pct);
            }
        }
    }
    if grid.is_empty() {
        return;
    }
    grid.sort_by(f64::total_cmp);
    out.push_str("<details id=\"curve-points\"><summary>The plotted percentiles (ms)</summary>\n<table class=\"figures\">\n<thead><tr><th>Percentile</th>");
    for (m, _) in &all {
        let _ = write!(out, "<th>{}</th>", escape(&m.name));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for pct in grid {
        let _ = write!(out, "<tr><th>{}%</th>", trim(format!("{pct:.6}")));
        for (m, _) in &all {
            match m
                .latency_curve
                .iter()
                .find(|(p, _)| p.to_bits() == pct.to_bits())
            {
                Some((_, us)) => {
                    let _ = write!(out, "<td class=\"n\">{}</td>", ms(*us));
                }
                None => out.push_str("<td></td>"),
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</details>\n");
}

/// Req/s of each interval of `m`: (middle of the interval in seconds, rate). The last interval
/// ends at `elapsed_s` and may be shorter than the others.
fn rates(report: &BenchReport, counts: &[u64]) -> Vec<(f64, f64)> {
    let width = (report.interval_s * 1000.0).round() as u64;
    let elapsed = (report.elapsed_s * 1000.0).round() as u64;
    if width == 0 {
        return Vec::new();
    }
    counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let start = i as u64 * width;
            let w = elapsed.saturating_sub(start).min(width);
            let w = if w == 0 { width } else { w };
            (
                (start as f64 + w as f64 / 2.0) / 1000.0,
                *n as f64 * 1000.0 / w as f64,
            )
        })
        .collect()
}

fn throughput_section(out: &mut String, report: &BenchReport, baseline: Option<&Baseline>) {
    out.push_str("<section id=\"throughput\">\n<h2>Throughput over time</h2>\n");
    let mut series = Vec::new();
    for (m, class) in entries(report) {
        series.push(Series {
            name: m.name.clone(),
            class,
            run: "this",
            points: rates(report, &m.answers_per_interval),
        });
    }
    if !report.total.errors_per_interval.is_empty() {
        series.push(Series {
            name: "failed exchanges".into(),
            class: "c-err",
            run: "this",
            points: rates(report, &report.total.errors_per_interval),
        });
    }
    let end = report.elapsed_s.max(report.interval_s);
    let base_rps = baseline
        .and_then(|b| b.doc.pointer("/total/rps"))
        .and_then(Value::as_f64)
        .filter(|r| r.is_finite() && *r >= 0.0);
    if let Some(r) = base_rps {
        series.push(Series {
            name: "all (baseline, whole-run mean)".into(),
            class: "c-all",
            run: "baseline",
            points: vec![(0.0, r), (end, r)],
        });
    }
    if series
        .iter()
        .all(|s| s.run == "baseline" || s.points.is_empty())
    {
        out.push_str("<p class=\"muted\">This report holds no req/s over time (it was written before byoid recorded it).</p>\n</section>\n");
        return;
    }
    let y_max = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.1)
        .filter(|r| r.is_finite())
        .fold(0.0, f64::max);
    let y_step = nice_step(y_max.max(1.0), 5.0);
    let y_hi = ((y_max / y_step).ceil() * y_step).max(y_step);
    let x_step = nice_step(end, 10.0);
    let mut x_ticks = Vec::new();
    let mut t = 0.0;
    while t <= end + 1e-9 {
        x_ticks.push((t, trim(format!("{t:.3}")), true));
        t += x_step;
    }
    let mut y_ticks = Vec::new();
    let mut r = 0.0;
    while r <= y_hi + 1e-9 {
        y_ticks.push((r, rate_label(r), true));
        r += y_step;
    }
    let x = Axis {
        lo: 0.0,
        hi: end,
        ticks: x_ticks,
        title: "seconds since the start".into(),
    };
    let y = Axis {
        lo: 0.0,
        hi: y_hi,
        ticks: y_ticks,
        title: "answers per second".into(),
    };
    let caption = format!(
        "Answers per second in each {} s interval, by the time each answer completed; the last \
         interval ends with the run.",
        trim(format!("{:.3}", report.interval_s))
    );
    chart(out, "throughput-chart", &caption, &x, &y, &series);
    out.push_str("</section>\n");
}

fn baseline_section(out: &mut String, report: &BenchReport, b: &Baseline) {
    let _ = writeln!(
        out,
        "<section id=\"baseline\">\n<h2>Baseline comparison</h2>\n<p>Against <code>{}</code>, \
         allowing a drop in req/s or a growth in p99 of at most {}%.</p>",
        escape(b.label),
        trim(format!("{:.3}", b.max_regression))
    );
    let (cmp, notes) = match compare(report, b.doc, b.max_regression) {
        Ok(x) => x,
        Err(e) => {
            let _ = writeln!(
                out,
                "<p class=\"warnbox\">The baseline cannot be compared: {}</p>\n</section>",
                escape(&e)
            );
            return;
        }
    };
    let regressed = cmp.iter().filter(|c| !c.regressions.is_empty()).count();
    let (class, word) = if regressed == 0 {
        ("v-pass", "no regression".to_string())
    } else {
        (
            "v-fail",
            format!("{regressed} of {} mixes regressed", cmp.len()),
        )
    };
    let _ = writeln!(
        out,
        "<p><span class=\"badge {class}\" id=\"baseline-verdict\">{}</span></p>",
        escape(&word)
    );
    out.push_str(
        "<table class=\"cmp\" id=\"baseline-table\">\n<thead><tr><th>Mix</th>\
         <th>req/s baseline</th><th>req/s this run</th><th>change</th>\
         <th>p99 ms baseline</th><th>p99 ms this run</th><th>change</th>\
         <th>Verdict</th></tr></thead>\n<tbody>\n",
    );
    let pct = |a: f64, b: f64| {
        if a > 0.0 {
            format!("{:+.1}%", (b - a) / a * 100.0)
        } else {
            "n/a".into()
        }
    };
    for c in &cmp {
        let class = if c.regressions.is_empty() {
            "v-pass"
        } else {
            "v-fail"
        };
        let _ = writeln!(
            out,
            "<tr class=\"{class}\" data-mix=\"{}\"><th>{}</th><td class=\"n\">{:.1}</td>\
             <td class=\"n\">{:.1}</td><td class=\"n\">{}</td><td class=\"n\">{}</td>\
             <td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"verdict\">{}</td></tr>",
            escape(&c.name),
            escape(&c.name),
            c.rps.0,
            c.rps.1,
            pct(c.rps.0, c.rps.1),
            ms(c.p99.0),
            ms(c.p99.1),
            pct(c.p99.0 as f64, c.p99.1 as f64),
            escape(&verdict(c))
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if !notes.is_empty() {
        out.push_str("<ul class=\"notes\">\n");
        for n in &notes {
            let _ = writeln!(out, "<li>{}</li>", escape(n));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

/// The page for `report`, compared with `baseline` when there is one.
///
/// ```
/// use byoid::bench::html::{render, Baseline};
/// use byoid::bench::report::BenchReport;
/// let json = r#"{
///   "format": "byoid-bench/1", "harness_version": "0.1.0", "target": "builtin:reference",
///   "mode": "closed-loop", "connections": 4, "threads": 1, "rate": null, "elapsed_s": 1.0,
///   "pool": 8, "mixes": [],
///   "total": {"name": "all", "weight": 0, "requests": 0, "errors": 0, "rps": 0.0,
///             "latency_us": {"p50": 0, "p90": 0, "p99": 0, "p99_9": 0, "max": 0, "mean": 0.0},
///             "statuses": {}, "error_kinds": {}, "idp": null}
/// }"#;
/// let report: BenchReport = serde_json::from_str(json).unwrap();
/// let page = render(&report, None);
/// assert!(page.starts_with("<!DOCTYPE html>") && page.contains("builtin:reference"));
/// assert_eq!(page, render(&report, None)); // deterministic
///
/// // Compared with an earlier run (here, itself).
/// let doc: serde_json::Value = serde_json::from_str(json).unwrap();
/// let base = Baseline { label: "before.json", doc: &doc, max_regression: 10.0 };
/// assert!(render(&report, Some(&base)).contains("id=\"baseline-table\""));
/// ```
pub fn render(report: &BenchReport, baseline: Option<&Baseline>) -> String {
    let css = format!("{CSS}{BENCH_CSS}");
    let mut out = String::with_capacity(64 * 1024);
    // No script at all: `script-src` falls back to `default-src 'none'`.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src {}; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>byoid load report: {}</title>\n<style>{css}</style>\n</head>\n<body>\n",
        csp_hash(&css),
        escape(&report.target)
    );
    out.push_str("<header>\n<h1>byoid load report</h1>\n<dl class=\"meta\">\n");
    let mode = match report.rate {
        Some(r) => format!(
            "open loop at {} req/s (a request due while its connection was busy is timed from its scheduled send)",
            trim(format!("{r:.3}"))
        ),
        None => "closed loop".into(),
    };
    let mix: Vec<String> = report
        .mixes
        .iter()
        .map(|m| format!("{}={}", m.name, m.weight))
        .collect();
    let meta = [
        ("Target", report.target.clone()),
        ("Harness", report.harness_version.clone()),
        ("Format", report.format.clone()),
        ("Mode", mode),
        ("Mix", mix.join(",")),
        (
            "Connections",
            format!("{} on {} threads", report.connections, report.threads),
        ),
        ("Measured", format!("{:.3} s", report.elapsed_s)),
        ("Token pool", format!("{} per mix", report.pool)),
    ];
    for (k, v) in meta {
        let _ = writeln!(out, "<dt>{}</dt><dd><code>{}</code></dd>", k, escape(&v));
    }
    out.push_str("</dl>\n");
    let t = &report.total;
    let _ = writeln!(
        out,
        "<p id=\"summary\"><span class=\"badge\">{} answers</span><span class=\"badge\">{:.1} req/s</span>\
         <span class=\"badge\">p99 {} ms</span><span class=\"badge{}\">{} failed exchanges</span></p>",
        t.requests,
        t.rps,
        ms(t.latency_us.p99),
        if t.errors > 0 { " v-fail" } else { "" },
        t.errors
    );
    if let Some(idp) = &t.idp {
        let _ = writeln!(
            out,
            "<p>IdP traffic: {} JWKS and {} discovery fetches ({:.2} JWKS per 1,000 answers).</p>",
            idp.jwks, idp.discovery, idp.jwks_per_1k
        );
    }
    out.push_str("</header>\n<main>\n");
    latency_section(&mut out, report, baseline);
    throughput_section(&mut out, report, baseline);
    if let Some(b) = baseline {
        baseline_section(&mut out, report, b);
    }
    out.push_str(
        "</main>\n<footer><p class=\"muted\">Written by <code>byoid bench</code>; the JSON beside \
         this page holds the same figures.</p></footer>\n</body>\n</html>\n",
    );
    out
}

/// Where the page goes for the JSON document at `json`: the same path with `.html` (or `.html`
/// appended when the JSON's own name already ends in `.html`).
///
/// ```
/// use std::path::Path;
/// use byoid::bench::html::page_path;
/// assert_eq!(page_path(Path::new("out/bench.json")), Path::new("out/bench.html"));
/// assert_eq!(page_path(Path::new("x.html")), Path::new("x.html.html"));
/// ```
pub fn page_path(json: &std::path::Path) -> std::path::PathBuf {
    let html = json.with_extension("html");
    if html == json {
        let mut s = json.as_os_str().to_owned();
        s.push(".html");
        s.into()
    } else {
        html
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::{json, Value};

    use super::{render, Baseline};
    use crate::bench::load::{LoadErrorKind, Measurements, MixStats};
    use crate::bench::report::{BenchReport, MixLabel, RunSetup};

    const HOSTILE: &str = "<script>alert('x')</script>&\"<img src=x>";

    /// A 2.35 s run of two mixes with known latencies, req/s over time and a few failures.
    fn sample(target: &str) -> BenchReport {
        let mut genuine = MixStats::empty();
        let mut bad = MixStats::empty();
        for i in 0..20_000u64 {
            let tick = (i * 24 / 20_000) as usize; // 0..=23: every tick of 2.35 s
            genuine.record_answer(200, 300 + i % 700, tick);
            if i % 4 == 0 {
                bad.record_answer(401, 350 + i % 900, tick);
            }
        }
        genuine.record_answer(200, 48_000, 23);
        bad.record_error(LoadErrorKind::Timeout, 5);
        let measured = Measurements {
            mixes: vec![genuine, bad],
            elapsed: Duration::from_millis(2_350),
        };
        let setup = RunSetup {
            target: target.into(),
            connections: 4,
            threads: 1,
            rate: None,
            pool: 16,
        };
        let labels = [
            MixLabel {
                name: "genuine",
                weight: 80,
                idp: Some((2, 2)),
            },
            MixLabel {
                name: "bad-signature",
                weight: 20,
                idp: Some((1, 1)),
            },
        ];
        BenchReport::new(setup, &labels, &measured)
    }

    fn polylines<'a>(page: &'a str, chart: &str) -> Vec<&'a str> {
        let start = page
            .find(&format!("id=\"{chart}\""))
            .unwrap_or_else(|| panic!("no #{chart}"));
        let body = &page[start..start + page[start..].find("</svg>").unwrap()];
        body.split("<polyline class=\"line ").skip(1).collect()
    }

    fn attr<'a>(element: &'a str, name: &str) -> &'a str {
        element
            .split(&format!(" {name}=\""))
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap_or_else(|| panic!("no {name} in {element}"))
    }

    #[test]
    fn the_page_draws_every_mix_and_states_the_figures() {
        let r = sample("builtin:reference");
        let page = render(&r, None);
        // Latency: one line per mix and one for all of them, each with its curve's points.
        let lines = polylines(&page, "latency-chart");
        let names: Vec<&str> = lines.iter().map(|l| attr(l, "data-series")).collect();
        assert_eq!(names, ["genuine", "bad-signature", "all"]);
        for (l, m) in lines.iter().zip(r.mixes.iter().chain([&r.total])) {
            assert!(!m.latency_curve.is_empty());
            assert_eq!(attr(l, "data-points"), m.latency_curve.len().to_string());
            assert_eq!(attr(l, "points").split(' ').count(), m.latency_curve.len());
        }
        // Throughput: one point per interval, and the failures.
        let lines = polylines(&page, "throughput-chart");
        let names: Vec<&str> = lines.iter().map(|l| attr(l, "data-series")).collect();
        assert_eq!(
            names,
            ["genuine", "bad-signature", "all", "failed exchanges"]
        );
        assert_eq!(r.total.answers_per_interval.len(), 24);
        for l in &lines[..3] {
            assert_eq!(attr(l, "data-points"), "24");
        }
        // The figures of the JSON, as the console prints them.
        for m in r.mixes.iter().chain([&r.total]) {
            let l = &m.latency_us;
            let row = page
                .split(&format!("data-mix=\"{}\"", m.name))
                .nth(1)
                .unwrap();
            let row = &row[..row.find("</tr>").unwrap()];
            for us in [l.p50, l.p90, l.p99, l.p99_9, l.max] {
                let cell = format!("<td class=\"n\">{:.3}</td>", us as f64 / 1000.0);
                assert!(row.contains(&cell), "{cell} not in {row}");
            }
            assert!(
                row.contains(&format!("<td class=\"n\">{:.1}</td>", m.rps)),
                "{row}"
            );
            assert!(
                row.contains(&format!("<td class=\"n\">{}</td>", m.requests)),
                "{row}"
            );
        }
        assert!(page.contains("timeout: 1"));
        assert!(!page.contains("id=\"baseline\""));
    }

    #[test]
    fn the_page_is_self_contained_and_escapes_what_the_target_controls() {
        let r = sample(&format!("cmd:{HOSTILE}"));
        let mut doc = serde_json::to_value(&r).unwrap();
        doc["mixes"].as_array_mut().unwrap().push(json!({
            "name": HOSTILE, "rps": 1.0, "latency_us": {"p99": 1}
        }));
        let label = format!("dir/{HOSTILE}.json");
        let b = Baseline {
            label: &label,
            doc: &doc,
            max_regression: 10.0,
        };
        let page = render(&r, Some(&b));
        assert!(
            !page.contains(HOSTILE),
            "raw text from the target or the baseline"
        );
        assert!(page.contains(
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;&quot;&lt;img src=x&gt;"
        ));
        assert_eq!(page.matches("<script").count(), 0, "no script at all");
        let lower = page.to_ascii_lowercase();
        // Escaped text cannot hold a quote, so an attribute would show as ` src="`.
        for needle in [
            "http://", "https://", " src=\"", " href=\"", "url(", "@import",
        ] {
            assert!(!lower.contains(needle), "`{needle}` in the page");
        }
        assert!(page.contains("content=\"default-src 'none'; style-src 'sha256-"));
    }

    #[test]
    fn the_same_json_gives_the_same_page() {
        let r = sample("builtin:reference");
        let json = serde_json::to_string_pretty(&r).unwrap();
        let back: BenchReport = serde_json::from_str(&json).unwrap();
        let doc: Value = serde_json::from_str(&json).unwrap();
        let b = Baseline {
            label: "base.json",
            doc: &doc,
            max_regression: 10.0,
        };
        assert_eq!(render(&r, None), render(&back, None));
        assert_eq!(render(&r, Some(&b)), render(&back, Some(&b)));
        assert_eq!(render(&back, Some(&b)), render(&back, Some(&b)));
    }

    #[test]
    fn the_baseline_is_compared_and_drawn_dashed() {
        let r = sample("builtin:reference");
        let mut doc = serde_json::to_value(&r).unwrap();
        // The baseline was twice as fast on genuine; bad-signature is unchanged.
        let rps = doc["mixes"][0]["rps"].as_f64().unwrap();
        doc["mixes"][0]["rps"] = json!(rps * 2.0);
        let b = Baseline {
            label: "reports/bench/reference.json",
            doc: &doc,
            max_regression: 10.0,
        };
        let page = render(&r, Some(&b));
        let (cmp, _) = crate::bench::report::compare(&r, &doc, 10.0).unwrap();
        assert!(page.contains(
            "<span class=\"badge v-fail\" id=\"baseline-verdict\">1 of 2 mixes regressed</span>"
        ));
        for c in &cmp {
            let row = page
                .split("<tr class=\"v-")
                .skip(1)
                .find(|t| t.contains(&format!("data-mix=\"{}\"><th>", c.name)))
                .unwrap();
            assert!(
                row.contains(&super::escape(&crate::bench::report::verdict(c))),
                "{row}"
            );
        }
        assert!(page.contains("REGRESSION: throughput dropped 50.0% (&gt; 10%)"));
        // The baseline's curves, dashed, beside this run's; its whole-run req/s as a level.
        let lines = polylines(&page, "latency-chart");
        let base: Vec<&str> = lines
            .iter()
            .filter(|l| attr(l, "data-run") == "baseline")
            .map(|l| attr(l, "data-series"))
            .collect();
        assert_eq!(
            base,
            [
                "genuine (baseline)",
                "bad-signature (baseline)",
                "all (baseline)"
            ]
        );
        let lines = polylines(&page, "throughput-chart");
        assert!(lines
            .iter()
            .any(|l| attr(l, "data-run") == "baseline" && attr(l, "data-points") == "2"));
    }

    #[test]
    fn an_old_baseline_without_curves_is_drawn_through_its_percentiles() {
        let r = sample("builtin:reference");
        let mut doc = serde_json::to_value(&r).unwrap();
        for m in doc["mixes"].as_array_mut().unwrap() {
            m.as_object_mut().unwrap().remove("latency_curve");
            m.as_object_mut().unwrap().remove("answers_per_interval");
        }
        doc.as_object_mut().unwrap().remove("interval_s");
        // An old document still reads as a report (the new fields empty) and renders.
        let old: BenchReport = serde_json::from_value(doc.clone()).unwrap();
        assert!(old.mixes[0].latency_curve.is_empty() && old.interval_s == 0.0);
        let page = render(&old, None);
        assert!(page.contains("holds no req/s over time"));
        let b = Baseline {
            label: "old.json",
            doc: &doc,
            max_regression: 10.0,
        };
        let page = render(&r, Some(&b));
        let lines = polylines(&page, "latency-chart");
        let genuine = lines
            .iter()
            .find(|l| attr(l, "data-series") == "genuine (baseline)")
            .unwrap();
        assert_eq!(attr(genuine, "data-points"), "4");
        assert!(page.contains("holds no percentile curve for genuine, bad-signature, so its line goes through p50, p90, p99 and p99.9 only"));
    }
}
