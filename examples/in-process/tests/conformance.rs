//! byoid's catalog against this crate's router, in process: the router is served on an
//! ephemeral loopback port inside the test, and the verdicts are an insta snapshot
//! (`tests/snapshots/`). A change to the validator that changes a verdict fails `cargo test`
//! until the snapshot is reviewed (`cargo insta review`, or `INSTA_UPDATE=always`).

use byoid::target::{InProcessTarget, TargetSpec};
use byoid::ScenarioOptions;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalog_against_the_router() {
    let opts = ScenarioOptions {
        target: TargetSpec::InProcess(InProcessTarget::new(
            "byoid-example-in-process",
            byoid_example_in_process::app,
        )),
        // A few sections keep the test quick; drop the filters to run everything.
        filters: vec!["rfc8725/3.1".into(), "rfc9068/4".into(), "rfc6750/3".into()],
        ..ScenarioOptions::default()
    };
    let report = byoid::run_scenarios(&opts)
        .await
        .expect("the run completes");
    insta::assert_snapshot!("verdicts", report.verdict_lines());
    assert_eq!(report.must_failures(), 0, "{}", report.summary.counts());
    assert!(report.judged_anything());
}
