//! The launch contract across languages and the ways a target can misbehave.

mod external;
#[path = "support/workspace_bin.rs"]
mod workspace_bin;

use std::time::Duration;

use byoid::result::Verdict;
use byoid::target::TargetSpec;
use byoid::{HarnessError, ScenarioOptions};

fn opts(target: TargetSpec, filters: &[&str]) -> ScenarioOptions {
    ScenarioOptions {
        target,
        filters: filters.iter().map(|s| s.to_string()).collect(),
        ready_timeout: Duration::from_secs(20),
        ..ScenarioOptions::default()
    }
}

/// The Node adapter (real `jose` from npm, installed by `.ci/run`) is launched, receives the
/// manifest, and is judged: its genuine tokens are accepted and `alg: none` is refused, while
/// jose's missing discovery-issuer check (RFC 8414 section 3.3) shows up as a failure.
#[tokio::test]
async fn node_jose_adapter_speaks_the_contract() {
    if !external::external_suite("the Node adapter (targets/node-jose)") {
        return;
    }
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let server = root.join("targets/node-jose/server.js");
    assert!(
        root.join("targets/node-jose/node_modules/jose").exists(),
        "run `npm ci` in targets/node-jose (scripts/external-suites.sh does)"
    );
    let cmd = format!("node {}", server.display());
    let report = byoid::run_scenarios(&opts(
        TargetSpec::Command(cmd),
        &["rfc8725/3.1", "rfc8725/3.8"],
    ))
    .await
    .expect("run");
    assert!(
        report.controls.iter().all(|c| c.accepted),
        "{:?}",
        report.controls
    );
    let verdict = |id: &str| {
        report
            .cases
            .iter()
            .find(|c| c.case.id == id)
            .map(|c| c.verdict)
    };
    assert_eq!(verdict("rfc8725/3.1/alg-none/okta"), Some(Verdict::Pass));
    assert_eq!(
        verdict("rfc8725/3.8/other-tenant-token/entra-v2"),
        Some(Verdict::Pass)
    );
    assert_eq!(
        verdict("rfc8725/3.8/issuer-mixup/generic"),
        Some(Verdict::Fail)
    );
    assert!(report.cases.iter().all(|c| c.verdict != Verdict::Error));
}

#[tokio::test]
async fn a_target_that_exits_early_is_reported_with_its_stderr() {
    let err = byoid::run_scenarios(&opts(
        TargetSpec::Command("echo 'cannot bind: boom' >&2; exit 3".into()),
        &["rfc8725/3.1/alg-none/okta"],
    ))
    .await
    .expect_err("the run must fail");
    let text = err.to_string();
    assert!(matches!(err, HarnessError::Target(_)), "{text}");
    assert!(
        text.contains("exited before becoming ready") && text.contains("boom"),
        "{text}"
    );
    assert_eq!(err.exit_code(), byoid::exit::TARGET_FAILED);
}

#[tokio::test]
async fn a_target_that_never_becomes_ready_is_reported_in_bounded_time() {
    let mut o = opts(
        TargetSpec::Command("sleep 30".into()),
        &["rfc8725/3.1/alg-none/okta"],
    );
    o.ready_timeout = Duration::from_millis(800);
    let err = byoid::run_scenarios(&o)
        .await
        .expect_err("the run must fail");
    // "never became ready", not "exited before becoming ready": the run gave up after its
    // ready timeout instead of waiting the 30 s until `sleep` exits.
    assert!(err.to_string().contains("never became ready"), "{err}");
}

#[tokio::test]
async fn a_target_answering_garbage_gets_error_verdicts_not_passes() {
    // Answers /healthz, then closes every other connection without a valid HTTP answer.
    let exe = workspace_bin::built("byoid-hostile-target", "hostile-target", "targets/hostile");
    let script = format!("exec '{}' garbage", exe.display());
    let report = byoid::run_scenarios(&opts(
        TargetSpec::Command(script),
        &["rfc8725/3.1/alg-none"],
    ))
    .await
    .expect("run");
    assert!(
        report.controls.iter().all(|c| !c.accepted),
        "garbage is no acceptance"
    );
    // The controls themselves are errors (no valid answer); every case behind them untestable.
    let control = |c: &&byoid::result::CaseResult| c.is_control();
    assert!(
        report
            .cases
            .iter()
            .filter(control)
            .all(|c| c.verdict == Verdict::Error)
            && report
                .cases
                .iter()
                .filter(|c| !control(c))
                .all(|c| c.verdict == Verdict::Untestable),
        "{:?}",
        report.cases.iter().map(|c| c.verdict).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn attached_mode_refuses_non_loopback_targets() {
    let err = byoid::run_scenarios(&opts(
        TargetSpec::Url("http://10.0.0.1:8080".into()),
        &["rfc8725/3.1/alg-none/okta"],
    ))
    .await
    .expect_err("refused");
    assert!(err.to_string().contains("loopback"), "{err}");
}

/// Every tenant source of the contract, and HTTPS metadata with the CA named in the manifest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_sources_and_tls_work_end_to_end() {
    for (source, tls) in [("path", false), ("subdomain", false), ("header", true)] {
        let mut o = opts(
            TargetSpec::Builtin { defects: vec![] },
            &["rfc8725/3.8", "rfc6750/3"],
        );
        o.tenant_source = source.parse().unwrap();
        o.tls = tls;
        let report = byoid::run_scenarios(&o).await.expect("run");
        assert!(
            report.controls.iter().all(|c| c.accepted),
            "{source} tls={tls}: {:?}",
            report.controls
        );
        // A case bound to other tenant sources (`request.tenant_sources`) is skipped here.
        let bound_elsewhere = |c: &&byoid::result::CaseResult| {
            c.verdict == Verdict::Skip && c.reasons.iter().any(|r| r.contains("named by"))
        };
        let bad: Vec<_> = report
            .cases
            .iter()
            .filter(|c| c.verdict != Verdict::Pass && !bound_elsewhere(c))
            .map(|c| (&c.case.id, &c.reasons))
            .collect();
        assert!(bad.is_empty(), "{source} tls={tls}: {bad:?}");
    }
}
