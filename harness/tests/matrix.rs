//! The mutation matrix: the clean reference validator passes every catalog case, every case
//! fails against at least one planted defect, and every defect is caught by at least one case.
//! This is what makes each scenario earn its place.

use std::collections::{BTreeMap, BTreeSet};

mod external;

use byoid::result::Verdict;
use byoid::target::TargetSpec;
use byoid::world::TenantSource;
use byoid::ScenarioOptions;

async fn run(defects: Vec<String>) -> byoid::report::Report {
    byoid::run_scenarios(&ScenarioOptions::builtin(defects))
        .await
        .expect("the run completes")
}

/// The cases only an HTTPS run can judge (`metadata_over_http`), run with `--tls`.
async fn run_tls(defects: Vec<String>, ids: Vec<String>) -> Vec<byoid::result::CaseResult> {
    if ids.is_empty() {
        // No filter would mean the whole catalog.
        return Vec::new();
    }
    let opts = ScenarioOptions {
        tls: true,
        filters: ids,
        ..ScenarioOptions::builtin(defects)
    };
    // The filtered run judges its flavors' positive controls too; those the main run has.
    byoid::run_scenarios(&opts)
        .await
        .expect("the TLS run completes")
        .cases
        .into_iter()
        .filter(|c| !c.is_control())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_earns_its_place_and_every_defect_is_caught() {
    let clean = run(Vec::new()).await;
    // Skipped without --tls, judged by the TLS phase below.
    let tls_only: Vec<String> = clean
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Skip)
        .map(|c| c.id.clone())
        .collect();
    let clean_tls = run_tls(Vec::new(), tls_only.clone()).await;
    let not_passing: Vec<String> = clean
        .cases
        .iter()
        .filter(|c| c.verdict != Verdict::Skip)
        .chain(&clean_tls)
        .filter(|c| !matches!(c.verdict, Verdict::Pass))
        .map(|c| format!("{} ({:?}): {:?}", c.id, c.verdict, c.reasons))
        .collect();
    assert_eq!(
        clean_tls.len(),
        tls_only.len(),
        "the TLS phase runs the skipped cases"
    );
    assert!(
        not_passing.is_empty(),
        "the clean reference must pass every case:\n{}",
        not_passing.join("\n")
    );

    let defects: Vec<&str> = byoid_reference::defect::Defect::all()
        .iter()
        .map(|d| d.name())
        .collect();
    // The positive controls are gates, not scenarios: they earn their place by gating.
    let mut caught_by: BTreeMap<String, BTreeSet<&str>> = clean
        .cases
        .iter()
        .filter(|c| !c.is_control())
        .map(|c| (c.id.clone(), BTreeSet::new()))
        .collect();
    let mut catches: BTreeMap<&str, usize> = BTreeMap::new();
    // One run at a time: the cache-window and cooldown cases judge wall-clock behaviour, and a
    // loaded machine would blur them.
    for pair in defects.chunks(1) {
        let runs = futures_join(pair.iter().map(|d| run(vec![d.to_string()])).collect()).await;
        let tls_runs = futures_join(
            pair.iter()
                .map(|d| run_tls(vec![d.to_string()], tls_only.clone()))
                .collect(),
        )
        .await;
        for ((d, report), tls_report) in pair.iter().zip(runs).zip(tls_runs) {
            let failed: Vec<&str> = report
                .cases
                .iter()
                .chain(&tls_report)
                .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
                .map(|c| c.id.as_str())
                .collect();
            catches.insert(d, failed.len());
            for id in failed {
                if let Some(set) = caught_by.get_mut(id) {
                    set.insert(d);
                }
            }
        }
    }
    let mut matrix = format!("{:<34} cases failed\n", "defect");
    for (d, n) in &catches {
        matrix.push_str(&format!("{d:<34} {n}\n"));
    }
    println!("{matrix}");
    let uncaught_defects: Vec<&&str> = catches
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(d, _)| d)
        .collect();
    let idle_cases: Vec<&String> = caught_by
        .iter()
        .filter(|(_, s)| s.is_empty())
        .map(|(id, _)| id)
        .collect();
    assert!(
        uncaught_defects.is_empty(),
        "defects no case catches: {uncaught_defects:?}"
    );
    assert!(
        idle_cases.is_empty(),
        "cases no defect makes fail ({}): {idle_cases:#?}",
        idle_cases.len()
    );
}

async fn futures_join<F: std::future::Future + Send + 'static>(futs: Vec<F>) -> Vec<F::Output>
where
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("run task"));
    }
    out
}

/// The independent validators (`targets/independent-go`, `targets/independent-python`) were
/// written from `docs/target-contract.md` alone, on other languages' libraries: they are the
/// matrix's further clean targets. Each must pass every MUST case, with no case untestable or
/// in error, under every tenant source and over HTTPS; a failure here is either a bug in the
/// validator or a case claiming more than its quoted sentence, to be settled from the text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn independent_validators_pass_every_must_case() {
    if !external::external_suite("the independent Go and Python validators") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let validators = [
        (
            "independent-go",
            root.join("targets/independent-go/bin/byoid-independent-go"),
            String::new(),
        ),
        (
            "independent-python",
            root.join("targets/independent-python/.venv/bin/python"),
            format!(
                " {}",
                root.join("targets/independent-python/server.py").display()
            ),
        ),
    ];
    let mut problems = Vec::new();
    for (name, program, args) in &validators {
        assert!(
            program.exists(),
            "{} is missing: scripts/external-suites.sh builds it",
            program.display()
        );
        for (source, tls) in [
            (TenantSource::Header("X-Tenant-Slug".into()), false),
            (TenantSource::Path, false),
            (TenantSource::Subdomain, false),
            (TenantSource::Header("X-Tenant-Slug".into()), true),
        ] {
            let opts = ScenarioOptions {
                target: TargetSpec::Command(format!("exec {}{args}", program.display())),
                tenant_source: source.clone(),
                tls,
                ..ScenarioOptions::default()
            };
            let report = byoid::run_scenarios(&opts)
                .await
                .expect("the run completes");
            let run = format!(
                "{name}, tenant source {}{}",
                source.name(),
                if tls { ", --tls" } else { "" }
            );
            assert!(report.judged_anything(), "{run}: nothing judged");
            for c in &report.cases {
                if matches!(
                    c.verdict,
                    Verdict::Fail | Verdict::Error | Verdict::Untestable
                ) {
                    problems.push(format!("{run}: {} {:?}: {:?}", c.id, c.verdict, c.reasons));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
