//! The mutation matrix: the clean reference validator passes every catalog case under every
//! tenant source (header, path, subdomain) and over HTTPS, every case fails against at least
//! one planted defect, and every defect is caught by at least one case. This is what makes each
//! scenario earn its place; a defect that shows only when the tenant comes from the path is
//! caught here too.
//!
//! The same runs feed the verdict snapshots (insta), `snapshots/matrix__<target>.snap`
//! (`reference`, `defect-<name>`): one line per case, sorted by id, `id verdict` when the three
//! tenant sources agree and `id header=… path=… subdomain=…` when they do not. Any verdict that
//! changes, any case added or removed, fails the test; review the change with
//! `cargo insta review` (or rerun with `INSTA_UPDATE=always` and read the diff).
//! `snapshots/matrix__catches.snap` counts the cases each defect makes fail. The built-in
//! target runs each case on an instance of its own with a manual clock, so every verdict is
//! the same on every run, however loaded the machine.

use std::collections::{BTreeMap, BTreeSet};

mod external;

use byoid::report::Report;
use byoid::result::{CaseResult, Verdict};
use byoid::target::TargetSpec;
use byoid::world::TenantSource;
use byoid::ScenarioOptions;

/// The tenant sources every target runs under, in snapshot order. The path run puts a prefix
/// before the slug (`/tenants/<slug>/api/whoami`), so the slug is not the first segment: the
/// same code as an unprefixed path, plus the prefix.
fn sources() -> [TenantSource; 3] {
    [
        TenantSource::Header("X-Tenant-Slug".into()),
        TenantSource::Path("/tenants".into()),
        TenantSource::Subdomain,
    ]
}

async fn run(defects: Vec<String>, source: TenantSource) -> Report {
    let opts = ScenarioOptions {
        tenant_source: source,
        ..ScenarioOptions::builtin(defects)
    };
    byoid::run_scenarios(&opts)
        .await
        .expect("the run completes")
}

/// The cases only an HTTPS run can judge (`metadata_over_http`), run with `--tls`.
async fn run_tls(defects: Vec<String>, ids: Vec<String>) -> Vec<CaseResult> {
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

/// `pass`, `fail`, … as in report.json.
fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// The verdict bytes of one target's runs (one per tenant source, in [`sources`] order): a
/// line per case, sorted by id.
fn verdict_text(runs: &[Report]) -> String {
    let mut by_id: BTreeMap<&str, Vec<Verdict>> = BTreeMap::new();
    for report in runs {
        for c in &report.cases {
            by_id.entry(&c.case.id).or_default().push(c.verdict);
        }
    }
    let first = &runs[0];
    let mut text = format!(
        "# target {}  seed {}  {} cases\n",
        first.run.target,
        first.run.seed,
        by_id.len()
    );
    for (id, verdicts) in by_id {
        if verdicts.iter().all(|v| *v == verdicts[0]) && verdicts.len() == runs.len() {
            text.push_str(&format!("{id} {}\n", verdict_name(verdicts[0])));
        } else {
            let each: Vec<String> = sources()
                .iter()
                .zip(&verdicts)
                .map(|(s, v)| format!("{}={}", s.name(), verdict_name(*v)))
                .collect();
            text.push_str(&format!("{id} {}\n", each.join(" ")));
        }
    }
    text
}

/// Checks one named snapshot and, rather than stopping at the first mismatch, returns its name
/// so every changed snapshot is written (as `.snap.new`) and listed in one run.
fn check_snapshot(name: &str, text: &str) -> Option<String> {
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
    }));
    result.err().map(|_| name.to_string())
}

/// Snapshots of targets that no longer exist (a removed or renamed defect).
fn stale_snapshots(targets: &[String]) -> Vec<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<String>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| {
            f.strip_prefix("matrix__")
                .and_then(|f| f.strip_suffix(".snap"))
                .map(str::to_string)
        })
        .filter(|n| !targets.contains(n))
        .collect()
}

/// Every run of one target: one per tenant source (two at a time, the machine has two
/// cores), and the HTTPS run of the cases only it can judge.
async fn runs_of(defects: Vec<String>, tls_only: Vec<String>) -> (Vec<Report>, Vec<CaseResult>) {
    let mut runs = Vec::new();
    let [header, path, subdomain] = sources();
    let pair = futures_join(vec![
        run(defects.clone(), header),
        run(defects.clone(), path),
    ])
    .await;
    runs.extend(pair);
    let (last, tls) = tokio::join!(run(defects.clone(), subdomain), run_tls(defects, tls_only));
    runs.push(last);
    (runs, tls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_earns_its_place_and_every_defect_is_caught() {
    let defects: Vec<&str> = byoid_reference::defect::Defect::all()
        .iter()
        .map(|d| d.name())
        .collect();
    let mut names = vec!["reference".to_string(), "catches".to_string()];
    names.extend(defects.iter().map(|d| format!("defect-{d}")));
    let stale = stale_snapshots(&names);
    assert!(
        stale.is_empty(),
        "snapshots for targets that no longer exist, delete them: {stale:?}"
    );
    let mut changed = Vec::new();

    // Skipped without --tls (in every source), judged by the TLS runs.
    let (clean, _) = runs_of(Vec::new(), Vec::new()).await;
    let skipped_in = |id: &str| {
        clean
            .iter()
            .filter(|r| {
                r.cases
                    .iter()
                    .any(|c| c.case.id == id && c.verdict == Verdict::Skip)
            })
            .count()
    };
    let tls_only: Vec<String> = clean[0]
        .cases
        .iter()
        .filter(|c| skipped_in(&c.case.id) == clean.len())
        .map(|c| c.case.id.clone())
        .collect();
    // Skipped under some sources only (`request.tenant_sources`): judged by the others.
    let source_bound: Vec<String> = clean[0]
        .cases
        .iter()
        .filter(|c| (1..clean.len()).contains(&skipped_in(&c.case.id)))
        .map(|c| c.case.id.clone())
        .collect();
    let clean_tls = run_tls(Vec::new(), tls_only.clone()).await;
    changed.extend(check_snapshot("reference", &verdict_text(&clean)));
    let mut not_passing: Vec<String> = Vec::new();
    for (source, report) in sources().iter().zip(&clean) {
        not_passing.extend(
            report
                .cases
                .iter()
                .filter(|c| {
                    let skip_ok = c.verdict == Verdict::Skip
                        && (tls_only.contains(&c.case.id) || source_bound.contains(&c.case.id));
                    !(c.verdict == Verdict::Pass || skip_ok)
                })
                .map(|c| {
                    format!(
                        "{} ({}): {:?} {:?}",
                        c.case.id,
                        source.name(),
                        c.verdict,
                        c.reasons
                    )
                }),
        );
    }
    not_passing.extend(
        clean_tls
            .iter()
            .filter(|c| c.verdict != Verdict::Pass)
            .map(|c| format!("{} (--tls): {:?} {:?}", c.case.id, c.verdict, c.reasons)),
    );
    assert_eq!(
        clean_tls.len(),
        tls_only.len(),
        "the TLS phase runs the skipped cases"
    );
    assert!(
        not_passing.is_empty(),
        "the clean reference must pass every case under every tenant source:\n{}",
        not_passing.join("\n")
    );

    // The positive controls are gates, not scenarios: they earn their place by gating.
    let mut caught_by: BTreeMap<String, BTreeSet<&str>> = clean[0]
        .cases
        .iter()
        .filter(|c| !c.is_control())
        .map(|c| (c.case.id.clone(), BTreeSet::new()))
        .collect();
    let mut catches: BTreeMap<&str, usize> = BTreeMap::new();
    for d in &defects {
        let (runs, tls_report) = runs_of(vec![d.to_string()], tls_only.clone()).await;
        changed.extend(check_snapshot(&format!("defect-{d}"), &verdict_text(&runs)));
        let failed: BTreeSet<&str> = runs
            .iter()
            .flat_map(|r| &r.cases)
            .chain(&tls_report)
            .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn | Verdict::Error))
            .map(|c| c.case.id.as_str())
            .collect();
        catches.insert(d, failed.len());
        for id in failed {
            if let Some(set) = caught_by.get_mut(id) {
                set.insert(d);
            }
        }
    }
    // How many cases each defect makes fail (in any tenant source or over HTTPS): a snapshot
    // too, so `scenarios/README.md` can point at a table that cannot drift.
    let mut matrix = format!("{:<34} cases failed\n", "defect");
    for (d, n) in &catches {
        matrix.push_str(&format!("{d:<34} {n}\n"));
    }
    println!("{matrix}");
    changed.extend(check_snapshot("catches", &matrix));
    assert!(
        changed.is_empty(),
        "verdict snapshots changed (see the .snap.new files; `cargo insta review`): {changed:?}"
    );
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
            (TenantSource::Path(String::new()), false),
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
                    problems.push(format!(
                        "{run}: {} {:?}: {:?}",
                        c.case.id, c.verdict, c.reasons
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
