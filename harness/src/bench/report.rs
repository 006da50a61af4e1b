//! Bench results: the JSON document (`byoid-bench/1`), the console table and the baseline
//! comparison.

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
    /// Per mix, in `--mix` order.
    pub mixes: Vec<MixReport>,
    /// Every mix together.
    pub total: MixReport,
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
            mixes,
            total: mix_report("all", weight, &total, elapsed_s, total_idp),
        }
    }

    /// Writes the JSON document to `path`, making its directory if need be.
    pub fn save(&self, path: &std::path::Path) -> std::io::Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(dir);
        }
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        std::fs::write(path, format!("{json}\n"))
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
        errors: s.failed(),
        rps: if elapsed_s > 0.0 {
            round2(requests as f64 / elapsed_s)
        } else {
            0.0
        },
        latency_us: latency,
        statuses,
        error_kinds,
        idp,
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
            if c.regressions.is_empty() {
                "ok".to_string()
            } else {
                format!("REGRESSION: {}", c.regressions.join("; "))
            }
        );
    }
    for m in missing {
        let _ = writeln!(out, "  note: {m}");
    }
    out
}
