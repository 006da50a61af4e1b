//! `byoid bench`: short runs against the built-in reference validator, the baseline gate,
//! and the loopback-only rule.

mod external;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn byoid(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byoid"))
        .args(args)
        .env("CI", "1")
        .output()
        .expect("run byoid")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byoid-bench-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn show(o: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn read_json(p: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn mix<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["mixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("no mix `{name}` in {report:#}"))
}

/// One short run shared by the tests below; returns the JSON path.
fn run_once(dir: &Path) -> PathBuf {
    let json = dir.join("bench.json");
    let o = byoid(&[
        "bench",
        "--duration",
        "1",
        "--connections",
        "4",
        "--pool",
        "64",
        "--mix",
        "genuine=80,bad-signature=20",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    json
}

#[test]
fn bench_drives_the_reference_and_reports_per_mix() {
    let dir = scratch("run");
    let json = run_once(&dir);
    let r = read_json(&json);
    assert_eq!(r["format"], "byoid-bench/1");
    let genuine = mix(&r, "genuine");
    let bad = mix(&r, "bad-signature");
    assert!(genuine["requests"].as_u64().unwrap() > 0, "{genuine:#}");
    assert!(bad["requests"].as_u64().unwrap() > 0, "{bad:#}");
    // Every genuine answer is 200, every bad signature 401, and nothing failed.
    let statuses = |m: &Value| {
        m["statuses"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(statuses(genuine), vec!["200"], "{genuine:#}");
    assert_eq!(statuses(bad), vec!["401"], "{bad:#}");
    assert_eq!(r["total"]["errors"], 0);
    for m in [genuine, bad] {
        let l = &m["latency_us"];
        assert!(l["p50"].as_u64().unwrap() <= l["p99"].as_u64().unwrap());
        assert!(l["p99"].as_u64().unwrap() <= l["max"].as_u64().unwrap());
        assert!(m["rps"].as_f64().unwrap() > 0.0);
        assert!(m["idp"]["jwks_per_1k"].is_number());
    }
    // The 80/20 weights hold (within rounding of the interleaved schedule).
    let (g, b) = (
        genuine["requests"].as_f64().unwrap(),
        bad["requests"].as_f64().unwrap(),
    );
    assert!((g / (g + b) - 0.8).abs() < 0.02, "{g} vs {b}");
    // req/s over time: the intervals cover the run and add up to the answers.
    let interval = r["interval_s"].as_f64().unwrap();
    assert!(interval >= 0.1, "{r:#}");
    for m in [genuine, bad, &r["total"]] {
        let series: Vec<u64> = m["answers_per_interval"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect();
        let elapsed = r["elapsed_s"].as_f64().unwrap();
        assert_eq!(series.len() as f64, (elapsed / interval).ceil(), "{m:#}");
        assert_eq!(series.iter().sum::<u64>(), m["requests"].as_u64().unwrap());
        let curve = m["latency_curve"].as_array().unwrap();
        assert!((2..=61).contains(&curve.len()), "{m:#}");
        let us: Vec<u64> = curve.iter().map(|p| p[1].as_u64().unwrap()).collect();
        assert!(us.windows(2).all(|w| w[0] <= w[1]), "{m:#}");
        assert!(*us.last().unwrap() <= m["latency_us"]["max"].as_u64().unwrap());
        assert_eq!(curve[0][0], 0.0);
    }

    // The HTML page beside the JSON is a function of the JSON alone, and states its figures.
    let page = std::fs::read_to_string(dir.join("bench.html")).unwrap();
    let parsed: byoid::bench::report::BenchReport = serde_json::from_value(r.clone()).unwrap();
    assert_eq!(page, byoid::bench::html::render(&parsed, None));
    for m in [genuine, bad, &r["total"]] {
        for k in ["p50", "p90", "p99", "p99_9", "max"] {
            let us = m["latency_us"][k].as_u64().unwrap();
            let cell = format!("<td class=\"n\">{:.3}</td>", us as f64 / 1000.0);
            assert!(page.contains(&cell), "{k} of {}: {cell}", m["name"]);
        }
    }
    assert!(page.contains("<code>builtin:reference</code>"));
    assert!(!page.contains("http://") && !page.contains("https://"));

    // The baseline gate: a planted regression (a baseline with 10x the throughput) fails ...
    let mut fast = r.clone();
    for m in fast["mixes"].as_array_mut().unwrap() {
        let rps = m["rps"].as_f64().unwrap();
        m["rps"] = (rps * 10.0).into();
    }
    let fast_path = dir.join("fast-baseline.json");
    std::fs::write(&fast_path, fast.to_string()).unwrap();
    let regressed_json = dir.join("regressed.json");
    let args = |base: &Path| -> Output {
        byoid(&[
            "bench",
            "--json",
            regressed_json.to_str().unwrap(),
            "--requests",
            "3000",
            "--connections",
            "4",
            "--pool",
            "32",
            "--mix",
            "genuine=80,bad-signature=20",
            "--baseline",
            base.to_str().unwrap(),
            "--max-regression",
            "50",
        ])
    };
    let o = args(&fast_path);
    assert_eq!(o.status.code(), Some(100), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("REGRESSION"),
        "{}",
        show(&o)
    );
    // The page of a regressed run says so, mix by mix, as the console does.
    let page = std::fs::read_to_string(dir.join("regressed.html")).unwrap();
    assert!(page.contains("id=\"baseline-table\""));
    assert_eq!(
        page.matches("<td class=\"verdict\">REGRESSION: throughput dropped")
            .count(),
        2,
        "both mixes regressed"
    );

    // ... and an unchanged one (lower throughput, higher p99 than anything we will measure) passes.
    let mut slow = r.clone();
    for m in slow["mixes"].as_array_mut().unwrap() {
        m["rps"] = 1.0.into();
        m["latency_us"]["p99"] = 60_000_000u64.into();
    }
    let slow_path = dir.join("slow-baseline.json");
    std::fs::write(&slow_path, slow.to_string()).unwrap();
    let o = args(&slow_path);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn requests_bound_the_run() {
    let dir = scratch("count");
    let json = dir.join("count.json");
    let o = byoid(&[
        "bench",
        "--requests",
        "500",
        "--connections",
        "8",
        "--pool",
        "16",
        "--mix",
        "genuine-repeated,none",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = read_json(&json);
    let total = r["total"]["requests"].as_u64().unwrap() + r["total"]["errors"].as_u64().unwrap();
    assert_eq!(total, 500, "{r:#}");
    assert_eq!(mix(&r, "genuine-repeated")["statuses"]["200"], 250);
    assert_eq!(mix(&r, "none")["statuses"]["401"], 250);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn non_loopback_targets_are_refused() {
    for url in [
        "http://10.1.2.3:8080/",
        "http://example.com/",
        "http://127.0.0.1.nip.io:80/",
    ] {
        let o = byoid(&["bench", "--target-url", url, "--duration", "1"]);
        assert_eq!(o.status.code(), Some(2), "{url}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains("loopback"),
            "{url}: {}",
            show(&o)
        );
    }
}

/// The load generator's lab tools live in `harness/examples/loadgen_lab.rs`, not in the
/// product's command.
#[test]
fn lab_flags_are_not_part_of_bench() {
    for flag in ["--raw-get", "--serve-static"] {
        let o = byoid(&["bench", flag, "--duration", "1"]);
        assert_eq!(o.status.code(), Some(2), "{flag}: {}", show(&o));
    }
}

/// The load mode launches a validator in another language (the Node `jose` adapter) under
/// the same contract, and judges it per mix like the reference.
#[test]
fn bench_drives_the_node_adapter() {
    if !external::external_suite("the load mode against the Node adapter (targets/node-jose)") {
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let server = root.join("targets/node-jose/server.js");
    assert!(
        root.join("targets/node-jose/node_modules/jose").exists(),
        "run `npm ci` in targets/node-jose (scripts/external-suites.sh does)"
    );
    let dir = scratch("node");
    let json = dir.join("node.json");
    let cmd = format!("node {}", server.display());
    let o = byoid(&[
        "bench",
        "--target-cmd",
        &cmd,
        "--requests",
        "600",
        "--connections",
        "4",
        "--pool",
        "16",
        "--mix",
        "genuine=1,expired=1,unknown-tenant=1",
        "--json",
        json.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    let r = read_json(&json);
    assert_eq!(r["total"]["errors"], 0, "{r:#}");
    assert_eq!(r["total"]["requests"], 600, "{r:#}");
    // Every answer has the status its mix calls for; the interleaved schedule splits the
    // 600 requests about evenly.
    for (name, status) in [
        ("genuine", "200"),
        ("expired", "401"),
        ("unknown-tenant", "401"),
    ] {
        let m = mix(&r, name);
        let statuses = m["statuses"].as_object().unwrap();
        assert_eq!(
            statuses.keys().collect::<Vec<_>>(),
            vec![status],
            "{name}: {m:#}"
        );
        let n = statuses[status].as_u64().unwrap();
        assert!((190..=210).contains(&n), "{name}: {n} of 600");
    }
    assert!(mix(&r, "genuine")["rps"].as_f64().unwrap() > 0.0);
    let _ = std::fs::remove_dir_all(&dir);
}
