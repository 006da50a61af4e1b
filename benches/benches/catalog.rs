//! The whole scenario catalog against the built-in reference validator, startup included.
//!
//! What it measures, and why: one iteration is `byoid::run_scenarios(&ScenarioOptions::default())`,
//! exactly what `byoid scenarios` does with no arguments: build the mock IdPs with one tenant
//! per case, write the manifest, start the in-process reference validator, run the positive
//! controls and every case (32 in flight), judge them and stop everything. This is the number a
//! user waits for locally and in CI; the goal is a mean under 2 s on 2 cores in release.
//!
//! Signing keys are derived once per process and cached (`mock_idp::keys::SigningKey::derive`),
//! so the first run in a process also pays RSA key generation. That "cold" run is timed once,
//! outside criterion, and printed; the criterion figure is the warm run (what every CI job
//! after the first catalog run in a process sees, and the part this project controls).
//!
//! Settings: 10 samples of one run each, 40 s measurement time (override on the command line,
//! e.g. `-- --measurement-time 20`).

use std::time::{Duration, Instant};

use byoid::ScenarioOptions;
use std::hint::black_box;

use criterion::Criterion;

fn main() {
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_secs(3))
        .measurement_time(Duration::from_secs(40))
        .configure_from_args();
    let rt = byoid_benches::runtime();
    let opts = ScenarioOptions::default();

    let started = Instant::now();
    let report = rt
        .block_on(byoid::run_scenarios(&opts))
        .expect("catalog run");
    let cold = started.elapsed();
    let s = &report.summary;
    println!(
        "cold catalog run (key generation included): {cold:.2?}; {} cases: {} pass, {} acceptable, {} warn, {} fail, {} untestable, {} skip, {} error",
        s.total, s.pass, s.acceptable, s.warn, s.fail, s.untestable, s.skip, s.error
    );
    if report.must_failures() > 0 {
        eprintln!(
            "warning: {} MUST failures against the reference validator; timings still reported",
            report.must_failures()
        );
    }

    let mut runs = 0u64;
    let mut wall = Duration::ZERO;
    c.bench_function("catalog/builtin_reference", |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                black_box(
                    rt.block_on(byoid::run_scenarios(&opts))
                        .expect("catalog run"),
                );
            }
            let e = t.elapsed();
            runs += iters;
            wall += e;
            e
        })
    });
    c.final_summary();
    if runs > 0 {
        println!(
            "\ncatalog: {runs} warm runs (warm-up included), mean {:.3} s per run (goal < 2 s on 2 cores)",
            wall.as_secs_f64() / runs as f64
        );
    }
}
