//! A run cut into shares (`--partition K/N`) and merged back (`byoid report merge`) gives the
//! report one unpartitioned run gives, verdict for verdict and byte for byte in every format
//! (timings aside), so a CI matrix can fan a long target list out over runners.

use byoid::partition::Partition;
use byoid::report::merge::{merge, MergeError};
use byoid::report::{html, junit, markdown, sarif, Report};
use byoid::ScenarioOptions;

/// Sections with stateful cases, several flavors and positive controls of their own.
const FILTERS: [&str; 4] = ["rfc8725/3.1", "rfc7519", "oidc-core", "contract"];

async fn run(partition: Option<&str>) -> Report {
    let opts = ScenarioOptions {
        filters: FILTERS.iter().map(|s| s.to_string()).collect(),
        partition: partition.map(|p| p.parse::<Partition>().expect("a partition")),
        ..ScenarioOptions::default()
    };
    byoid::run_scenarios(&opts)
        .await
        .expect("the run completes")
}

/// Every rendering of a report but its timings.
fn renderings(r: &Report) -> [String; 5] {
    [
        r.verdict_json(),
        junit::render(r, false),
        markdown::render(r),
        html::render(r),
        sarif::render(r),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_shares_merged_equal_one_unpartitioned_run() {
    let whole = run(None).await;
    let mut parts = Vec::new();
    for k in 1..=3 {
        let part = run(Some(&format!("{k}/3"))).await;
        assert!(
            !part.cases.iter().all(|c| c.is_control()),
            "share {k}/3 holds cases"
        );
        assert!(
            part.cases.len() < whole.cases.len(),
            "share {k}/3 is a share"
        );
        parts.push(part);
    }
    // Through the JSON files, as `byoid report merge` reads them.
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut loaded = Vec::new();
    for (k, part) in parts.iter().enumerate() {
        let path = dir.path().join(format!("part{k}.json"));
        std::fs::write(&path, part.to_json()).expect("written");
        loaded.push(byoid::report::merge::load(&path).expect("loaded"));
    }
    loaded.reverse(); // the order of the parts does not matter
    let merged = merge(loaded).expect("merged");
    assert_eq!(merged.run.partition, None);
    assert_eq!(merged.summary, whole.summary);
    let formats = [
        "report.json",
        "junit.xml",
        "summary.md",
        "report.html",
        "report.sarif",
    ];
    for ((got, want), name) in renderings(&merged)
        .iter()
        .zip(renderings(&whole).iter())
        .zip(formats)
    {
        if let Some((n, a, b)) = got
            .lines()
            .zip(want.lines())
            .enumerate()
            .find(|(_, (a, b))| a != b)
            .map(|(n, (a, b))| (n + 1, a, b))
        {
            panic!("{name}: merged and unpartitioned differ at line {n}:\n  merged: {a}\n  whole:  {b}");
        }
        assert_eq!(
            got.lines().count(),
            want.lines().count(),
            "{name}: line counts"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_or_repeated_share_is_refused() {
    let one = run(Some("1/2")).await;
    let err = merge(vec![one.clone()]).expect_err("2/2 is missing");
    assert!(
        matches!(&err, MergeError::Mismatch(m) if m.contains("1/2 to 2/2")),
        "{err}"
    );
    let err = merge(vec![one.clone(), one.clone()]).expect_err("1/2 twice");
    assert!(err.to_string().contains("each once"), "{err}");
    let whole = run(None).await;
    let err = merge(vec![whole]).expect_err("not a partition");
    assert!(err.to_string().contains("--partition"), "{err}");
}
