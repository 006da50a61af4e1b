//! Same inputs, same report bytes (timings aside): two runs of the same cases, on different
//! ports, give the same `report.json` without its `timings`, 200 bodies that echo the issuer
//! included, and a tenant on a listener of its own under `--tls`.

use byoid::ScenarioOptions;

async fn verdict_json(filters: &[&str], tls: bool) -> String {
    let opts = ScenarioOptions {
        filters: filters.iter().map(|f| f.to_string()).collect(),
        tls,
        ..ScenarioOptions::default()
    };
    byoid::run_scenarios(&opts)
        .await
        .expect("the run completes")
        .verdict_json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_runs_give_the_same_bytes() {
    // The positive controls and the `aud` cases answer 200 with the claims, issuer included.
    let filters = ["rfc9068/4/aud-array-containing", "rfc8725/3.1/alg-none"];
    let (a, b) = (
        verdict_json(&filters, false).await,
        verdict_json(&filters, false).await,
    );
    assert!(a.contains("http://{idp}/"), "{a}");
    assert_eq!(a, b);
    let own_listener = ["contract/4/http-metadata-when-https-required"];
    let (a, b) = (
        verdict_json(&own_listener, true).await,
        verdict_json(&own_listener, true).await,
    );
    assert_eq!(a, b);
}
