//! `byoid fuzz`: the clean reference agrees with the oracle; a planted defect is found, shrunk
//! to one mutation, and written as a scenario file that replays it.

use byoid::fuzz::{fuzz, FuzzArgs};
use byoid::result::Verdict;
use byoid::target::TargetSpec;
use byoid::ScenarioOptions;

fn args(out: &std::path::Path, cases: u32) -> FuzzArgs {
    FuzzArgs {
        target: Default::default(),
        cases,
        max_seconds: 60,
        seed: 7,
        out_dir: out.to_path_buf(),
        stop: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_reference_agrees_with_the_oracle() {
    let out = std::env::temp_dir().join(format!("byoid-fuzz-clean-{}", std::process::id()));
    let r = fuzz(TargetSpec::Builtin { defects: vec![] }, &args(&out, 150))
        .await
        .expect("fuzz runs");
    assert!(r.failure.is_none(), "{:?}", r.failure);
    assert_eq!(r.iterations, 150);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_defect_is_found_shrunk_and_replayable() {
    let out = std::env::temp_dir().join(format!("byoid-fuzz-aud-{}", std::process::id()));
    let target = TargetSpec::Builtin {
        defects: vec!["no-audience-check".into()],
    };
    let r = fuzz(target.clone(), &args(&out, 400))
        .await
        .expect("fuzz runs");
    let (plan, path, _) = r.failure.expect("the missing audience check is found");
    // Shrunk: only the audience differs from the genuine token.
    assert!(plan.aud > 0);
    assert_eq!(
        (
            plan.iss,
            plan.exp,
            plan.nbf,
            plan.typ,
            plan.sig,
            plan.client
        ),
        (0, 0, 0, 0, 0, 0),
        "{plan:?}"
    );
    // The written file replays: it fails against the defect and passes against the clean reference.
    let run = |target: TargetSpec| {
        let opts = ScenarioOptions {
            target,
            catalog_dir: Some(path.parent().unwrap().to_path_buf()),
            ..ScenarioOptions::default()
        };
        async move { byoid::run_scenarios(&opts).await.expect("replay runs") }
    };
    // The positive control of the replayed flavor passes in both runs; the finding fails.
    let finding = |r: &byoid::report::Report| -> Vec<Verdict> {
        r.cases
            .iter()
            .filter(|c| !c.is_control())
            .map(|c| c.verdict)
            .collect()
    };
    let bad = run(target).await;
    assert!(
        !finding(&bad).is_empty() && finding(&bad).iter().all(|v| *v == Verdict::Fail),
        "{:?}",
        finding(&bad)
    );
    let good = run(TargetSpec::Builtin { defects: vec![] }).await;
    assert!(good.cases.iter().all(|c| c.verdict == Verdict::Pass));
    let _ = std::fs::remove_dir_all(&out);
}
