//! orders-api has only its own routes. Through its profile every applicable case passes, and
//! each not-applicable case names a capability the profile declares missing and the case
//! needs; without the profile, byoid cannot judge it at all.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use byoid::profile::{Capability, TargetProfile};
use byoid::result::Verdict;
use byoid::target::TargetSpec;
use byoid::ScenarioOptions;

fn profile() -> TargetProfile {
    TargetProfile::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("orders.profile.toml"))
        .expect("the shipped profile loads")
}

fn orders(profile: Option<TargetProfile>) -> ScenarioOptions {
    ScenarioOptions {
        target: TargetSpec::Command(env!("CARGO_BIN_EXE_orders-api").into()),
        profile: profile.map(Arc::new),
        ..ScenarioOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_applicable_case_passes_through_the_profile() {
    let profile = profile();
    let lacking: BTreeSet<Capability> = profile.lacking().collect();
    assert_eq!(
        lacking,
        BTreeSet::from([
            Capability::IdentityRoute,
            Capability::AdminRole,
            Capability::ClaimMappings,
            Capability::FormBodyMethod
        ])
    );
    let catalog = byoid::catalog::builtin().unwrap();
    let report = byoid::run_scenarios(&orders(Some(profile.clone())))
        .await
        .expect("the run completes");
    assert!(
        report.controls.iter().all(|c| c.accepted),
        "{:?}",
        report.controls
    );
    let mut not_applicable_by = BTreeSet::new();
    for r in report.cases.iter().filter(|c| !c.is_control()) {
        let case = catalog.iter().find(|c| c.info.id == r.case.id).unwrap();
        let missing: BTreeSet<Capability> = Capability::needed_by(case)
            .intersection(&lacking)
            .copied()
            .collect();
        match r.verdict {
            Verdict::NotApplicable => {
                assert!(
                    !missing.is_empty(),
                    "{} is N/A but needs nothing missing",
                    r.case.id
                );
                for cap in &missing {
                    assert!(
                        r.reasons[0].contains(&format!("`{cap}`")),
                        "{}: {:?} does not name {cap}",
                        r.case.id,
                        r.reasons
                    );
                }
                not_applicable_by.extend(missing);
            }
            Verdict::Pass | Verdict::Acceptable => {
                assert!(
                    missing.is_empty(),
                    "{} ran though it needs {missing:?}",
                    r.case.id
                )
            }
            // The HTTPS-only and path/subdomain-only cases, as against the reference.
            Verdict::Skip => assert!(
                r.reasons[0].contains("--tls") || r.reasons[0].contains("tenant is named by"),
                "{}: {:?}",
                r.case.id,
                r.reasons
            ),
            other => panic!("{} is {other:?}: {:?}", r.case.id, r.reasons),
        }
    }
    // Every capability it lacks took some case out, and the run still judged hundreds.
    assert_eq!(not_applicable_by, lacking);
    assert!(report.summary.not_applicable > 0);
    assert!(report.summary.pass > 500, "{:?}", report.summary);
    assert_eq!(report.must_failures(), 0);
    assert!(report.judged_anything());
    assert_eq!(
        report.run.profile.as_deref(),
        Some(profile.summary().as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_its_profile_the_api_cannot_be_judged() {
    // The contract's /healthz does not exist here: the target never becomes ready.
    let mut opts = orders(None);
    opts.ready_timeout = std::time::Duration::from_secs(2);
    opts.filters = vec!["rfc8725/3.1".into()];
    let err = byoid::run_scenarios(&opts).await.expect_err("not ready");
    assert!(err.to_string().contains("/healthz answered 404"), "{err}");
}
