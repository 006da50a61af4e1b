//! Snapshot tests (insta) of what the reports say, not how long they took.
//!
//! * `report_snapshots__<target>.snap` (`reference`, `defect-<name>`): for the clean reference validator and for each planted defect of
//!   `byoid_reference::defect::Defect::all()`, one `id verdict` line per case, sorted by id.
//!   Any verdict that changes, any case added or removed, fails the test (but for the few
//!   timing- or order-dependent cases listed below, shown as `id ~`); review the change
//!   with `cargo insta review` (or rerun with `INSTA_UPDATE=always` and read the diff).
//! * `report_snapshots__console.snap`: the plain console rendering of a small hand-built report that holds every
//!   verdict variant.
//!
//! Snapshots live in `harness/tests/snapshots/`.

mod common;

use byoid::report::console::{self, Color};
use byoid::report::Report;
use byoid::result::Verdict;
use byoid::ScenarioOptions;
use common::{sample, Sample};

/// `pass`, `fail`, … as in report.json.
fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_else(|| format!("{v:?}"))
}

/// Cases (id prefixes) whose verdict two runs with the same seed do not always agree on, for
/// every target: the key-rotation and caching cases count JWKS fetches and wait for cache
/// expiry, so a loaded machine (two debug runs at once) can turn a pass into a warn and back.
/// Their line reads `id ~` and is not compared. Seen on 3 release runs of every target.
const TIMING_DEPENDENT: &[&str] = &[
    "oidc-core/10.1.1/duplicate-kids",
    "oidc-core/10.1.1/jwks-cached/",
    "oidc-core/10.1.1/retired-key-rejected",
    "oidc-core/10.1.1/second-key-of-the-set/",
    "oidc-core/10.1.1/unknown-kid-flood",
];

/// Per defect, more cases whose verdict depends on which other cases ran first: `cross-tenant`
/// tries every other tenant's keys, so it fetches (and caches) other cases' JWKS.
const ORDER_DEPENDENT: &[(&str, &str)] = &[
    ("cross-tenant", "contract/4/recovery"),
    ("cross-tenant", "rfc6750/3/other-tenant-named/"),
    ("no-issuer-check", "rfc9068/4/iss-is-prefix-of-configured/"),
];

fn unstable(target: &str, id: &str) -> bool {
    TIMING_DEPENDENT.iter().any(|p| id.starts_with(p))
        || ORDER_DEPENDENT
            .iter()
            .any(|(d, p)| target.strip_prefix("defect-") == Some(d) && id.starts_with(p))
}

/// The verdict bytes of a run: `id verdict`, one line per case, sorted.
fn verdict_text(name: &str, report: &Report) -> String {
    let mut lines: Vec<String> = report
        .cases
        .iter()
        .map(|c| {
            if unstable(name, &c.id) {
                format!("{} ~", c.id)
            } else {
                format!("{} {}", c.id, verdict_name(c.verdict))
            }
        })
        .collect();
    lines.sort();
    let mut text = format!(
        "# target {}  seed {}  {} cases\n",
        report.run.target,
        report.run.seed,
        lines.len()
    );
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    text
}

async fn run(defects: Vec<String>) -> Report {
    byoid::run_scenarios(&ScenarioOptions::builtin(defects))
        .await
        .expect("the run completes")
}

/// Checks one named snapshot and, rather than stopping at the first mismatch, returns its name
/// so every changed snapshot is written (as `.snap.new`) and listed in one run.
fn check(name: &str, text: &str) -> Option<String> {
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        settings.bind(|| insta::assert_snapshot!(name.to_string(), text));
    }));
    result.err().map(|_| name.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verdicts_of_reference_and_every_defect() {
    let mut targets: Vec<(String, Vec<String>)> = vec![("reference".to_string(), Vec::new())];
    for d in byoid_reference::defect::Defect::all() {
        targets.push((format!("defect-{}", d.name()), vec![d.name().to_string()]));
    }
    // A snapshot left behind by a removed or renamed defect is an error too.
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect::<Vec<String>>()
        })
        .unwrap_or_default()
        .into_iter()
        .filter_map(|f| {
            f.strip_prefix("report_snapshots__")
                .and_then(|f| f.strip_suffix(".snap"))
                .map(str::to_string)
        })
        .filter(|n| n.starts_with("defect-") && !targets.iter().any(|(t, _)| t == n))
        .collect();
    assert!(
        stale.is_empty(),
        "snapshots for defects that no longer exist, delete them: {stale:?}"
    );
    let mut changed = Vec::new();
    // Two runs at a time: the machine has two cores.
    for pair in targets.chunks(2) {
        let handles: Vec<_> = pair
            .iter()
            .map(|(_, defects)| tokio::spawn(run(defects.clone())))
            .collect();
        for ((name, _), handle) in pair.iter().zip(handles) {
            let report = handle.await.expect("run task");
            changed.extend(check(name, &verdict_text(name, &report)));
        }
    }
    assert!(
        changed.is_empty(),
        "verdict snapshots changed (see the .snap.new files; `cargo insta review`): {changed:?}"
    );
}

#[test]
fn console_rendering_of_every_verdict() {
    let report = sample(Sample::Plain);
    let text = console::render(&report, Color::Off);
    for v in [
        "PASS",
        "ACCEPT",
        "WARN",
        "FAIL",
        "UNTESTABLE",
        "SKIP",
        "ERROR",
    ] {
        assert!(text.contains(v), "{v} missing from:\n{text}");
    }
    assert!(!text.contains("42"), "no timings on the console report");
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("console", text));
    // With colour: the same text once the ANSI codes are stripped.
    let colored = console::render(&report, Color::On);
    assert!(colored.contains("\x1b[31m"));
    let mut stripped = String::new();
    let mut rest = colored.as_str();
    while let Some(i) = rest.find("\x1b[") {
        stripped.push_str(&rest[..i]);
        let after = &rest[i..];
        rest = &after[after.find('m').map(|m| m + 1).unwrap_or(after.len())..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, text);
}
