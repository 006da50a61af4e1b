//! Target profiles (contract section 7) against the built-in reference: a profile that maps
//! the contract's own routes judges exactly as the contract does; what a profile declares
//! missing is not applicable, and says so in every report format; the pointers a profile
//! names are really read; bad profiles are refused with file, line and field.

use std::process::Command;
use std::sync::Arc;

use byoid::profile::TargetProfile;
use byoid::result::Verdict;
use byoid::world::TenantSource;
use byoid::ScenarioOptions;

const CONTRACT_AS_PROFILE: &str = r#"
profile = "byoid-profile/1"
[tenant]
source = "path"
[protected]
path = "/orgs/{tenant}/api/whoami"
tenant = "/tenant"
claims = "/claims"
[admin]
path = "/orgs/{tenant}/api/admin"
tenant = "/tenant"
claims = "/claims"
"#;

fn with_profile(text: &str) -> ScenarioOptions {
    ScenarioOptions {
        profile: Some(Arc::new(TargetProfile::parse(text, "test.toml").unwrap())),
        ..ScenarioOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_of_the_contracts_routes_judges_as_the_contract() {
    let by_profile = byoid::run_scenarios(&with_profile(CONTRACT_AS_PROFILE))
        .await
        .unwrap();
    let by_contract = byoid::run_scenarios(&ScenarioOptions {
        tenant_source: TenantSource::Path("/orgs".into()),
        ..ScenarioOptions::default()
    })
    .await
    .unwrap();
    assert_eq!(by_profile.verdict_lines(), by_contract.verdict_lines());
    assert_eq!(by_profile.summary.not_applicable, 0);
    assert_eq!(by_profile.run.tenant_source, "path");
    assert_eq!(by_profile.must_failures(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pointers_and_accepted_statuses_are_read() {
    // The tenant read from the wrong place: every genuine token "resolves" another tenant.
    let wrong_tenant =
        CONTRACT_AS_PROFILE.replacen("tenant = \"/tenant\"", "tenant = \"/claims/sub\"", 1);
    let mut opts = with_profile(&wrong_tenant);
    opts.filters = vec!["rfc8725/3.1".into()];
    let report = byoid::run_scenarios(&opts).await.unwrap();
    assert!(report.controls.iter().all(|c| !c.accepted));
    assert!(
        report.controls[0]
            .detail
            .contains("the answer names the tenant"),
        "{}",
        report.controls[0].detail
    );
    // 200 is not among the accepted statuses: a genuine token reads as refused.
    let accepted_201 = CONTRACT_AS_PROFILE.replacen(
        "path = \"/orgs/{tenant}/api/whoami\"",
        "path = \"/orgs/{tenant}/api/whoami\"\naccepted = [201]",
        1,
    );
    let mut opts = with_profile(&accepted_201);
    opts.filters = vec!["rfc8725/3.1".into()];
    let report = byoid::run_scenarios(&opts).await.unwrap();
    assert!(report.controls.iter().all(|c| !c.accepted));
    // Claims read through the pointer: pointing elsewhere fails the claims cases.
    let wrong_claims = CONTRACT_AS_PROFILE.replace("claims = \"/claims\"", "claims = \"/tenant\"");
    let mut opts = with_profile(&wrong_claims);
    opts.filters = vec!["rfc9068/4/whoami-mapped-name".into()];
    let report = byoid::run_scenarios(&opts).await.unwrap();
    let case = report.cases.iter().find(|c| !c.is_control()).unwrap();
    assert_eq!(case.verdict, Verdict::Fail, "{:?}", case.reasons);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_profile_lacks_is_not_applicable_in_every_report() {
    let text = CONTRACT_AS_PROFILE.replace("[tenant]", "lacks = [\"query-method\"]\n[tenant]");
    let mut opts = with_profile(&text);
    opts.filters = vec!["rfc6750/2".into()];
    let report = byoid::run_scenarios(&opts).await.unwrap();
    let na: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::NotApplicable)
        .collect();
    assert!(!na.is_empty());
    assert_eq!(report.summary.not_applicable, na.len());
    for c in &na {
        assert!(c.case.id.contains("query"), "{}", c.case.id);
        assert!(c.reasons[0].contains("`query-method`"), "{:?}", c.reasons);
    }
    assert_eq!(report.must_failures(), 0);
    let json = report.to_json();
    assert!(json.contains("\"verdict\": \"not-applicable\""));
    assert!(json.contains(&format!("\"not_applicable\": {}", na.len())));
    let junit = byoid::report::junit::render(&report, false);
    assert!(junit.contains("<skipped message=\"not applicable: needs `query-method`"));
    let md = byoid::report::markdown::render(&report);
    assert!(md.contains("| N/A |"), "{md}");
    let html = byoid::report::html::render(&report);
    assert!(html.contains("v-not-applicable"));
    let console = byoid::report::console::render(&report, byoid::report::console::Color::Off);
    assert!(console.contains(&format!("{} not applicable", na.len())));
    // Contract runs keep their columns: no N/A column where nothing can be N/A.
    let plain = byoid::run_scenarios(&ScenarioOptions {
        filters: vec!["rfc6750/2".into()],
        ..ScenarioOptions::default()
    })
    .await
    .unwrap();
    assert!(!byoid::report::markdown::render(&plain).contains("N/A"));
    assert!(!plain.to_json().contains("not_applicable"));
}

fn byoid(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_byoid"))
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn the_cli_refuses_bad_profiles_and_prints_tenants_stably() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "profile = \"byoid-profile/1\"\nlacks = [\"teleport\"]\n[tenant]\nsource = \"subdomain\"\n[protected]\npath = \"/x\"\n",
    )
    .unwrap();
    let out = byoid(&["scenarios", "--profile", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(96));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.toml:2: `lacks`: unknown capability `teleport`"),
        "{err}"
    );
    let good = dir.path().join("good.toml");
    std::fs::write(&good, CONTRACT_AS_PROFILE).unwrap();
    let good = good.to_str().unwrap();
    let out = byoid(&["scenarios", "--profile", good, "--tenant-source", "header"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "--profile names the tenant source"
    );
    let out = byoid(&["scenarios", "--profile", good, "--print-tenants"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a fixed --idp-listen port is needed"
    );
    let print = || {
        byoid(&[
            "scenarios",
            "--profile",
            good,
            "--print-tenants",
            "--idp-listen",
            "127.0.0.1:18231",
            "--filter",
            "rfc6750/3",
        ])
    };
    let (a, b) = (print(), print());
    assert_eq!(
        a.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&a.stderr)
    );
    assert_eq!(a.stdout, b.stdout, "the same options give the same tenants");
    let text = String::from_utf8(a.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("# slug\tmetadata_address\taudience\tclient_id\tnotes")
    );
    let rows: Vec<&str> = lines.collect();
    assert!(rows.len() > 10);
    assert!(rows.iter().all(|r| r
        .split('\t')
        .nth(1)
        .unwrap()
        .starts_with("http://127.0.0.1:18231/")));
    assert!(rows.iter().any(|r| r.ends_with("\tdisabled")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_path_api_that_404s_tenantless_requests_declares_it_and_only_those_cases_are_set_aside() {
    // Most routers answer `/api/whoami` (the route without its tenant segment) 404; an API
    // whose `accepted` includes 404 would otherwise read that as a token accepted.
    let text = CONTRACT_AS_PROFILE.replace("[tenant]", "lacks = [\"tenantless-route\"]\n[tenant]");
    let mut opts = with_profile(&text);
    opts.filters = vec!["rfc6750/3".into()];
    let report = byoid::run_scenarios(&opts).await.unwrap();
    let set_aside: Vec<_> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::NotApplicable)
        .map(|c| (c.case.id.as_str(), c.reasons.join(" ")))
        .collect();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    assert_eq!(set_aside[0].0, "rfc6750/3/missing-tenant");
    assert!(
        set_aside[0].1.contains("`tenantless-route`"),
        "{set_aside:?}"
    );
    assert_eq!(report.must_failures(), 0);
}
