//! Bench results: the JSON document (`byoid-bench/1`), the console table and the baseline
//! comparison. The HTML page of the same figures is [`super::html`].
//!
//! Fields added after the first baselines were published (`interval_s`, and per mix
//! `latency_curve`, `answers_per_interval`, `errors_per_interval`) read as empty from older
//! documents (`#[serde(default)]`), so an old `--baseline` still loads and compares.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::load::{LoadErrorKind, Measurements, MixStats};

/// The JSON format's name.
pub const FORMAT: &str = "byoid-bench/1";

/// A whole bench run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BenchReport {
    /// [`FORMAT`].
    pub format: String,
    /// The harness version.
    pub harness_version: String,
    /// What was driven.
    pub target: String,
    /// `closed-loop` or `open-loop`.
    pub mode: String,
    /// Keep-alive connections.
    pub connections: usize,
    /// Generator threads.
    pub threads: usize,
    /// Open-loop arrival rate (req/s), if any.
    pub rate: Option<f64>,
    /// Measured seconds, from the common start to the last answer.
    pub elapsed_s: f64,
    /// Distinct tokens per mix.
    pub pool: usize,
    /// The width, in seconds, of each bucket of [`MixReport::answers_per_interval`]: 0.1 s,
    /// or a wider 1-2-5 multiple of it so that a run has at most [`MAX_INTERVALS`] buckets
    /// (0 in documents written before the field existed).
    #[serde(default)]
    pub interval_s: f64,
    /// Per mix, in `--mix` order.
    pub mixes: Vec<MixReport>,
    /// Every mix together.
    pub total: MixReport,
}

/// The most buckets of req/s over time in a report.
pub const MAX_INTERVALS: u64 = 300;
/// Points per decade of `1/(1-p)` in [`MixReport::latency_curve`].
pub const CURVE_STEPS_PER_DECADE: u32 = 10;
/// The last point of [`MixReport::latency_curve`] is at most this many nines (99.9999%).
pub const CURVE_MAX_NINES: u32 = 6;

/// The buckets of req/s over time for a run of `elapsed_s` seconds: (bucket width in ms, bucket
/// count). The width is [`load::TICK`](super::load::TICK) times 1, 2, 5, 10, 20, 50... (the
/// first that needs at most [`MAX_INTERVALS`] buckets).
///
/// ```
/// use byoid::bench::report::intervals;
/// assert_eq!(intervals(10.001), (100, 101));
/// assert_eq!(intervals(0.0), (100, 1));
/// assert_eq!(intervals(600.0), (2000, 300));
/// ```
pub fn intervals(elapsed_s: f64) -> (u64, u64) {
    // Integer milliseconds, so that the writer and every reader of a report agree on the count.
    let elapsed_ms = (elapsed_s.max(0.0) * 1000.0).round() as u64;
    let tick_ms = super::load::TICK.as_millis() as u64;
    let mut step = 0u32;
    let width = loop {
        let width = tick_ms * [1, 2, 5][(step % 3) as usize] * 10u64.pow(step / 3);
        if elapsed_ms.div_ceil(width) <= MAX_INTERVALS || step >= 30 {
            break width;
        }
        step += 1;
    };
    (width, elapsed_ms.div_ceil(width).max(1))
}

/// Sums `ticks` (one count per [`load::TICK`](super::load::TICK)) into `n` buckets of
/// `width_ms`; counts past the last bucket (answers that completed after the measured end)
/// go into the last one.
fn coalesce(ticks: &[u64], width_ms: u64, n: u64) -> Vec<u64> {
    let per = (width_ms / super::load::TICK.as_millis() as u64).max(1) as usize;
    let n = n.max(1) as usize;
    let mut out = vec![0u64; n];
    for (i, c) in ticks.iter().enumerate() {
        out[(i / per).min(n - 1)] += c;
    }
    out
}

/// The HDR percentile curve of `h`: `(percentile, µs)` at `1/(1-p)` = 10^(k/10) for k = 0, 1,
/// ... up to the first point where `1/(1-p)` reaches the count of values (every percentile
/// beyond is the maximum) and at most [`CURVE_MAX_NINES`] nines: the points an HDR percentile
/// plot draws, at most 61.
fn latency_curve(h: &hdrhistogram::Histogram<u64>) -> Vec<(f64, u64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let steps = CURVE_STEPS_PER_DECADE as f64;
    let last = ((h.len() as f64).log10() * steps)
        .ceil()
        .clamp(0.0, (CURVE_MAX_NINES * CURVE_STEPS_PER_DECADE) as f64) as u32;
    (0..=last)
        .map(|k| {
            let q = 1.0 - 10f64.powf(-(k as f64) / steps);
            let pct = (q * 100.0 * 1e6).round() / 1e6;
            (pct, h.value_at_quantile(q))
        })
        .collect()
}

/// How a run was set up, as its report states it.
#[derive(Clone, Debug)]
pub struct RunSetup {
    /// What was driven.
    pub target: String,
    /// Keep-alive connections.
    pub connections: usize,
    /// Generator threads.
    pub threads: usize,
    /// Open-loop arrival rate (req/s), if any.
    pub rate: Option<f64>,
    /// Distinct tokens per mix.
    pub pool: usize,
}

/// A mix as its report names it.
#[derive(Clone, Debug)]
pub struct MixLabel<'a> {
    /// Mix name.
    pub name: &'a str,
    /// `--mix` weight.
    pub weight: u32,
    /// (JWKS, discovery) fetches the mix's tenants caused, where mock IdPs ran.
    pub idp: Option<(u64, u64)>,
}

impl BenchReport {
    /// The report of a run: one [`MixReport`] per label (in plan order, beside the measured
    /// mixes of `measured`) and their total, `all`.
    pub fn new(setup: RunSetup, labels: &[MixLabel], measured: &Measurements) -> BenchReport {
        let elapsed_s = measured.elapsed.as_secs_f64();
        let mut mixes = Vec::new();
        let mut total = MixStats::empty();
        let mut total_idp: Option<(u64, u64)> = None;
        for (label, s) in labels.iter().zip(&measured.mixes) {
            if let Some((j, d)) = label.idp {
                let t = total_idp.get_or_insert((0, 0));
                t.0 += j;
                t.1 += d;
            }
            mixes.push(mix_report(
                label.name,
                label.weight,
                s,
                elapsed_s,
                label.idp,
            ));
            total.merge(s);
        }
        let weight = labels.iter().map(|m| m.weight).sum();
        let (interval_ms, _) = intervals(elapsed_s);
        BenchReport {
            format: FORMAT.into(),
            harness_version: env!("CARGO_PKG_VERSION").into(),
            target: setup.target,
            mode: if setup.rate.is_some() {
                "open-loop".into()
            } else {
                "closed-loop".into()
            },
            connections: setup.connections,
            threads: setup.threads,
            rate: setup.rate,
            elapsed_s: (elapsed_s * 1000.0).round() / 1000.0,
            pool: setup.pool,
            interval_s: interval_ms as f64 / 1000.0,
            mixes,
            total: mix_report("all", weight, &total, elapsed_s, total_idp),
        }
    }

    /// Writes the JSON document to `path`, making its directory if need be.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        std::fs::write(path, self.to_json())
    }

    /// The JSON document: indented like `serde_json`'s pretty printer, except that a list of
    /// numbers (or of number pairs) stays on one line, so that the per-interval counts and
    /// the percentile curves take a line each instead of one per number.
    ///
    /// ```
    /// use byoid::bench::report::BenchReport;
    /// let text = r#"{"format": "byoid-bench/1", "harness_version": "0.1.0", "target": "t",
    ///   "mode": "closed-loop", "connections": 1, "threads": 1, "rate": null, "elapsed_s": 0.2,
    ///   "pool": 1, "interval_s": 0.1, "mixes": [],
    ///   "total": {"name": "all", "weight": 0, "requests": 3, "errors": 0, "rps": 15.0,
    ///     "latency_us": {"p50": 9, "p90": 9, "p99": 9, "p99_9": 9, "max": 9, "mean": 9.0},
    ///     "statuses": {"200": 3}, "error_kinds": {}, "idp": null,
    ///     "latency_curve": [[0.0, 9], [20.567, 9]], "answers_per_interval": [2, 1]}}"#;
    /// let r: BenchReport = serde_json::from_str(text).unwrap();
    /// let json = r.to_json();
    /// assert!(json.contains("\"latency_curve\": [[0.0, 9], [20.567, 9]],\n"));
    /// assert!(json.contains("\"answers_per_interval\": [2, 1]\n"));
    /// assert!(json.contains("\"statuses\": {\n      \"200\": 3\n    },"));
    /// ```
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        write_json(&mut out, &serde_json::to_value(self).unwrap_or_default(), 0);
        out.push('\n');
        out
    }

    /// An error when the target answered nothing at all: figures of no answer mean nothing.
    pub fn require_answers(&self) -> Result<(), String> {
        if self.total.requests == 0 {
            return Err(format!(
                "the target gave no answer ({} failed exchanges)",
                self.total.errors
            ));
        }
        Ok(())
    }
}

/// Writes `v` at `indent`: objects and lists of objects one member a line, lists of scalars
/// (or of lists of scalars) on one line.
fn write_json(out: &mut String, v: &Value, indent: usize) {
    let scalar = |v: &Value| !v.is_array() && !v.is_object();
    let flat = |v: &Value| scalar(v) || v.as_array().is_some_and(|a| a.iter().all(scalar));
    let pad = |out: &mut String, n: usize| out.extend(std::iter::repeat_n(' ', n));
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                pad(out, indent + 2);
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                write_json(out, v, indent + 2);
                out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push('}');
        }
        Value::Array(a) if !a.is_empty() && !a.iter().all(flat) => {
            out.push_str("[\n");
            for (i, v) in a.iter().enumerate() {
                pad(out, indent + 2);
                write_json(out, v, indent + 2);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            pad(out, indent);
            out.push(']');
        }
        Value::Array(a) => {
            out.push('[');
            for (i, v) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_json(out, v, indent);
            }
            out.push(']');
        }
        // Scalars, `{}`.
        v => out.push_str(&v.to_string()),
    }
}

/// One mix's results.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct MixReport {
    /// Mix name (`genuine`, `bad-signature`, ...; `all` for the total).
    pub name: String,
    /// `--mix` weight.
    pub weight: u32,
    /// Answers received (any status).
    pub requests: u64,
    /// Exchanges that got no complete answer.
    pub errors: u64,
    /// Answers per second.
    pub rps: f64,
    /// Latency percentiles in microseconds.
    pub latency_us: Latency,
    /// Answers by status code.
    pub statuses: BTreeMap<String, u64>,
    /// Failures by kind (`connect`, `write`, `closed`, `timeout`, `garbage`, `too-large`).
    pub error_kinds: BTreeMap<String, u64>,
    /// IdP traffic caused by the mix's tenants (absent where no mock IdPs ran: the load
    /// generator's lab, `harness/examples/loadgen_lab.rs`).
    pub idp: Option<IdpTraffic>,
    /// The latency distribution as `[percentile, µs]` pairs, percentiles rising on the
    /// `1/(1-p)` log scale (0, 20.6, 36.9, 50, ..., 90, ..., 99, ..., 99.9, ...), ten per
    /// decade, up to the histogram's resolution; empty with no answers.
    #[serde(default)]
    pub latency_curve: Vec<(f64, u64)>,
    /// Answers completed in each interval of [`BenchReport::interval_s`] seconds from the
    /// start (the last interval may be shorter: it ends at `elapsed_s`).
    #[serde(default)]
    pub answers_per_interval: Vec<u64>,
    /// Failed exchanges in each interval, like `answers_per_interval`; empty when nothing
    /// failed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors_per_interval: Vec<u64>,
}

/// Latency percentiles, microseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// Maximum.
    pub max: u64,
    /// Mean.
    pub mean: f64,
}

/// What the IdPs served during the run.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct IdpTraffic {
    /// JWKS fetches.
    pub jwks: u64,
    /// Discovery (and OAuth metadata) fetches.
    pub discovery: u64,
    /// JWKS fetches per 1,000 answers.
    pub jwks_per_1k: f64,
}

/// Builds a mix report from merged measurements.
pub fn mix_report(
    name: &str,
    weight: u32,
    s: &MixStats,
    elapsed_s: f64,
    idp: Option<(u64, u64)>,
) -> MixReport {
    let requests = s.answered();
    let h = &s.hist;
    let latency = if h.is_empty() {
        Latency::default()
    } else {
        Latency {
            p50: h.value_at_quantile(0.50),
            p90: h.value_at_quantile(0.90),
            p99: h.value_at_quantile(0.99),
            p99_9: h.value_at_quantile(0.999),
            max: h.max(),
            mean: (h.mean() * 10.0).round() / 10.0,
        }
    };
    let statuses = s
        .statuses
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| (c.to_string(), *n))
        .collect();
    let error_kinds = LoadErrorKind::ALL
        .iter()
        .zip(s.errors.iter())
        .filter(|(_, n)| **n > 0)
        .map(|(k, n)| (k.to_string(), *n))
        .collect();
    // The measured end, as the report states it (rounded to the millisecond).
    let (width_ms, n) = intervals((elapsed_s * 1000.0).round() / 1000.0);
    let errors = s.failed();
    let idp = idp.map(|(jwks, discovery)| IdpTraffic {
        jwks,
        discovery,
        jwks_per_1k: if requests == 0 {
            0.0
        } else {
            round2(jwks as f64 * 1000.0 / requests as f64)
        },
    });
    MixReport {
        name: name.to_string(),
        weight,
        requests,
        errors,
        rps: if elapsed_s > 0.0 {
            round2(requests as f64 / elapsed_s)
        } else {
            0.0
        },
        latency_us: latency,
        statuses,
        error_kinds,
        idp,
        latency_curve: latency_curve(h),
        answers_per_interval: coalesce(&s.answers_per_tick, width_ms, n),
        errors_per_interval: if errors == 0 {
            Vec::new()
        } else {
            coalesce(&s.errors_per_tick, width_ms, n)
        },
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn ms(us: u64) -> String {
    format!("{:.3}", us as f64 / 1000.0)
}

/// The console table.
pub fn render_table(r: &BenchReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<17} {:>6} {:>10} {:>11} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8}  statuses",
        "mix",
        "weight",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "p99.9 ms",
        "max ms",
        "errors",
        "JWKS/1k"
    );
    for m in r.mixes.iter().chain(std::iter::once(&r.total)) {
        let statuses: Vec<String> = m.statuses.iter().map(|(c, n)| format!("{c}:{n}")).collect();
        let errors: Vec<String> = m
            .error_kinds
            .iter()
            .map(|(k, n)| format!("{k}:{n}"))
            .collect();
        let mut tail = statuses.join(" ");
        if !errors.is_empty() {
            let _ = write!(tail, "  errors {}", errors.join(" "));
        }
        let jwks = m
            .idp
            .as_ref()
            .map(|i| format!("{:.2}", i.jwks_per_1k))
            .unwrap_or_else(|| "-".into());
        let weight = if m.name == "all" {
            String::new()
        } else {
            m.weight.to_string()
        };
        let _ = writeln!(
            out,
            "{:<17} {:>6} {:>10} {:>11.1} {:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>8}  {}",
            m.name,
            weight,
            m.requests,
            m.rps,
            ms(m.latency_us.p50),
            ms(m.latency_us.p90),
            ms(m.latency_us.p99),
            ms(m.latency_us.p99_9),
            ms(m.latency_us.max),
            m.errors,
            jwks,
            tail
        );
    }
    let mode = match r.rate {
        Some(x) => format!("open loop at {x} req/s; a request due while its connection was busy is timed from its scheduled send"),
        None => "closed loop".to_string(),
    };
    let _ = writeln!(
        out,
        "Target: {}  ({:.2} s, {} connections, {} threads, {mode})",
        r.target, r.elapsed_s, r.connections, r.threads
    );
    if let Some(idp) = &r.total.idp {
        let _ = writeln!(
            out,
            "IdP traffic: {} JWKS and {} discovery fetches ({:.2} JWKS per 1,000 requests)",
            idp.jwks, idp.discovery, idp.jwks_per_1k
        );
    }
    out
}

/// One mix compared with the baseline.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Mix name.
    pub name: String,
    /// Baseline and current req/s.
    pub rps: (f64, f64),
    /// Baseline and current p99 (µs).
    pub p99: (u64, u64),
    /// Why it regressed, if it did.
    pub regressions: Vec<String>,
}

/// Compares a run with a baseline JSON document, per mix; `max_pct` is the allowed drop in
/// throughput and growth in p99, in percent. Mixes missing on either side are listed in the
/// second value.
pub fn compare(
    current: &BenchReport,
    baseline: &Value,
    max_pct: f64,
) -> Result<(Vec<Comparison>, Vec<String>), String> {
    let mixes = baseline
        .get("mixes")
        .and_then(Value::as_array)
        .ok_or("the baseline has no `mixes` list (is it a `byoid bench --json` file?)")?;
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for b in mixes {
        let name = b
            .get("name")
            .and_then(Value::as_str)
            .ok_or("a baseline mix has no `name`")?;
        let base_rps = b
            .get("rps")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("baseline mix `{name}` has no `rps`"))?;
        let base_p99 = b
            .pointer("/latency_us/p99")
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("baseline mix `{name}` has no `latency_us.p99`"))?;
        let Some(c) = current.mixes.iter().find(|m| m.name == name) else {
            missing.push(format!("`{name}` is in the baseline but not in this run"));
            continue;
        };
        let mut regressions = Vec::new();
        if base_rps > 0.0 {
            let drop = (base_rps - c.rps) / base_rps * 100.0;
            if drop > max_pct {
                regressions.push(format!("throughput dropped {drop:.1}% (> {max_pct}%)"));
            }
        }
        if base_p99 > 0 {
            let growth = (c.latency_us.p99 as f64 - base_p99 as f64) / base_p99 as f64 * 100.0;
            if growth > max_pct {
                regressions.push(format!("p99 grew {growth:.1}% (> {max_pct}%)"));
            }
        }
        out.push(Comparison {
            name: name.to_string(),
            rps: (base_rps, c.rps),
            p99: (base_p99, c.latency_us.p99),
            regressions,
        });
    }
    for m in &current.mixes {
        if !mixes
            .iter()
            .any(|b| b.get("name").and_then(Value::as_str) == Some(m.name.as_str()))
        {
            missing.push(format!("`{}` is not in the baseline", m.name));
        }
    }
    Ok((out, missing))
}

/// A mix's verdict against the baseline, as the console and the HTML page say it: `ok`, or
/// `REGRESSION: ` and the reasons.
///
/// ```
/// use byoid::bench::report::{verdict, Comparison};
/// let c = Comparison { name: "genuine".into(), rps: (100.0, 80.0), p99: (900, 900),
///                      regressions: vec!["throughput dropped 20.0% (> 10%)".into()] };
/// assert_eq!(verdict(&c), "REGRESSION: throughput dropped 20.0% (> 10%)");
/// ```
pub fn verdict(c: &Comparison) -> String {
    if c.regressions.is_empty() {
        "ok".to_string()
    } else {
        format!("REGRESSION: {}", c.regressions.join("; "))
    }
}

/// The comparison as text.
pub fn render_comparison(cmp: &[Comparison], missing: &[String]) -> String {
    let mut out = String::new();
    for c in cmp {
        let pct = |a: f64, b: f64| {
            if a > 0.0 {
                format!("{:+.1}%", (b - a) / a * 100.0)
            } else {
                "n/a".into()
            }
        };
        let _ = writeln!(
            out,
            "  {:<17} req/s {:>11.1} -> {:>11.1} ({:>7})   p99 {:>8} -> {:>8} ms ({:>7})  {}",
            c.name,
            c.rps.0,
            c.rps.1,
            pct(c.rps.0, c.rps.1),
            ms(c.p99.0),
            ms(c.p99.1),
            pct(c.p99.0 as f64, c.p99.1 as f64),
            verdict(c)
        );
    }
    for m in missing {
        let _ = writeln!(out, "  note: {m}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_coalesce_into_bounded_intervals() {
        assert_eq!(coalesce(&[1, 2, 3, 4, 5], 200, 3), vec![3, 7, 5]);
        // Answers after the measured end count in the last interval.
        assert_eq!(coalesce(&[1, 1, 1, 1], 100, 2), vec![1, 3]);
        assert_eq!(coalesce(&[], 100, 1), vec![0]);
        for secs in [0.05, 1.0, 10.001, 30.0, 59.99, 61.0, 299.9, 600.0, 721.0] {
            let (width, n) = intervals(secs);
            assert!(
                n <= MAX_INTERVALS && n * width >= (secs * 1000.0).round() as u64,
                "{secs}"
            );
        }
    }

    #[test]
    fn the_latency_curve_is_bounded_and_ends_at_the_histograms_resolution() {
        let mut s = MixStats::empty();
        for us in 1..=1000 {
            s.record_answer(200, us, 0);
        }
        let curve = latency_curve(&s.hist);
        // 1,000 values: three decades of ten points, and p = 0.
        assert_eq!(curve.len(), 31);
        assert_eq!(curve[0].0, 0.0);
        assert_eq!(curve[10], (90.0, 900));
        assert_eq!(curve[20], (99.0, 990));
        assert_eq!(curve[30], (99.9, 999));
        assert!(curve
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));
        for _ in 0..2_000_000 {
            s.record_answer(200, 5, 0);
        }
        assert_eq!(latency_curve(&s.hist).len(), 61, "six nines at most");
        assert!(latency_curve(&MixStats::empty().hist).is_empty());
    }

    #[test]
    fn the_document_is_pretty_json_with_number_lists_on_one_line() {
        let mut s = MixStats::empty();
        for us in 1..=500 {
            s.record_answer(if us % 2 == 0 { 200 } else { 401 }, us, (us / 100) as usize);
        }
        s.record_error(LoadErrorKind::Closed, 2);
        let measured = Measurements {
            mixes: vec![s],
            elapsed: std::time::Duration::from_millis(512),
        };
        let setup = RunSetup {
            target: "cmd:\"quoted\" \u{1}".into(),
            connections: 2,
            threads: 1,
            rate: Some(100.5),
            pool: 4,
        };
        let label = MixLabel {
            name: "genuine",
            weight: 1,
            idp: Some((1, 2)),
        };
        let r = BenchReport::new(setup, &[label], &measured);
        let json = r.to_json();
        let value = serde_json::to_value(&r).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), value);
        assert!(
            json.contains("\"answers_per_interval\": [99, 100, 100, 100, 100, 1]"),
            "{json}"
        );
        assert!(
            json.contains("\"errors_per_interval\": [0, 0, 1, 0, 0, 0]"),
            "{json}"
        );
        // Without number lists it is serde_json's pretty printing, byte for byte.
        let mut plain = value.clone();
        let strip = |m: &mut Value| {
            for k in [
                "latency_curve",
                "answers_per_interval",
                "errors_per_interval",
            ] {
                m.as_object_mut().unwrap().remove(k);
            }
        };
        plain["mixes"]
            .as_array_mut()
            .unwrap()
            .iter_mut()
            .for_each(strip);
        strip(&mut plain["total"]);
        let mut out = String::new();
        write_json(&mut out, &plain, 0);
        assert_eq!(out, serde_json::to_string_pretty(&plain).unwrap());
    }

    #[test]
    fn documents_from_before_the_curves_still_load() {
        let old = r#"{"format": "byoid-bench/1", "harness_version": "0.1.0",
            "target": "builtin:reference", "mode": "closed-loop", "connections": 64,
            "threads": 2, "rate": null, "elapsed_s": 10.001, "pool": 256,
            "mixes": [{"name": "genuine", "weight": 70, "requests": 10, "errors": 0,
                "rps": 1.0, "latency_us": {"p50": 1, "p90": 2, "p99": 3, "p99_9": 4,
                "max": 5, "mean": 1.5}, "statuses": {"200": 10}, "error_kinds": {},
                "idp": null}],
            "total": {"name": "all", "weight": 70, "requests": 10, "errors": 0,
                "rps": 1.0, "latency_us": {"p50": 1, "p90": 2, "p99": 3, "p99_9": 4,
                "max": 5, "mean": 1.5}, "statuses": {"200": 10}, "error_kinds": {},
                "idp": null}}"#;
        let r: BenchReport = serde_json::from_str(old).unwrap();
        assert_eq!(r.interval_s, 0.0);
        assert!(r.mixes[0].latency_curve.is_empty() && r.total.answers_per_interval.is_empty());
    }
}
