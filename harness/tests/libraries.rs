//! The library adapters (`targets/lib-*`): real JWT libraries configured as their own
//! documentation shows, behind only the contract's glue. Their verdicts are findings about the
//! libraries, so this test does not ask them to pass: it holds each to its
//! `expected-failures.toml`, the way a team gates its own validator in CI. A MUST failure not
//! listed, a listed case that now passes, a rejected genuine token, an error or an untestable
//! case fails it; then the list (and the adapter's README) is read again. So does a failed or
//! warned case that the adapter's `library.toml` does not explain.

mod external;
#[path = "support/workspace_bin.rs"]
mod workspace_bin;

use std::path::{Path, PathBuf};

use byoid::report::findings::LibraryNotes;
use byoid::result::Verdict;
use byoid::target::TargetSpec;
use byoid::{ExpectedFailures, ScenarioOptions};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

async fn holds_to_its_list(adapter: &str, program: PathBuf, args: &str) {
    let dir = root().join("targets").join(adapter);
    assert!(
        program.exists(),
        "{} is missing: scripts/external-suites.sh installs it",
        program.display()
    );
    let opts = ScenarioOptions {
        target: TargetSpec::Command(format!("exec {}{args}", program.display())),
        ..ScenarioOptions::default()
    };
    let report = byoid::run_scenarios(&opts)
        .await
        .expect("the run completes");
    assert!(
        report.controls.iter().all(|c| c.accepted),
        "{adapter}: a genuine token was rejected: {:?}",
        report.controls
    );
    let broken: Vec<_> = report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Error | Verdict::Untestable))
        .map(|c| (&c.case.id, &c.reasons))
        .collect();
    assert!(broken.is_empty(), "{adapter}: {broken:?}");
    let list = ExpectedFailures::load(&dir.join("expected-failures.toml")).expect("the list loads");
    let (new, now_pass, stale) = list.compare(&report, false);
    assert!(
        new.is_empty() && now_pass.is_empty() && stale.is_empty(),
        "{adapter}: new failures {new:?}; listed but passing {now_pass:?}; entries matching nothing {stale:?}"
    );
    assert!(
        report.must_failures() > 0,
        "{adapter}: the list is not empty for nothing"
    );
    // The findings page (scripts/regenerate-libraries.sh) explains every failed or warned
    // case from library.toml: a verdict nobody explained fails here, not at publication.
    let notes = LibraryNotes::load(&dir.join("library.toml")).expect("library.toml loads");
    let unexplained = notes.unexplained(&report);
    assert!(
        unexplained.is_empty(),
        "{adapter}: failed or warned cases that no [[finding]] of library.toml explains (or several do): {unexplained:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pyjwt_holds_to_its_expected_failures() {
    if !external::external_suite("the PyJWT adapter (targets/lib-pyjwt)") {
        return;
    }
    let dir = root().join("targets/lib-pyjwt");
    let args = format!(" {}", dir.join("server.py").display());
    holds_to_its_list("lib-pyjwt", dir.join(".venv/bin/python"), &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_jose_holds_to_its_expected_failures() {
    if !external::external_suite("the python-jose adapter (targets/lib-python-jose)") {
        return;
    }
    let dir = root().join("targets/lib-python-jose");
    let args = format!(" {}", dir.join("server.py").display());
    holds_to_its_list("lib-python-jose", dir.join(".venv/bin/python"), &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jsonwebtoken_holds_to_its_expected_failures() {
    if !external::external_suite(
        "the jsonwebtoken + jwks-rsa adapter (targets/lib-node-jsonwebtoken)",
    ) {
        return;
    }
    let dir = root().join("targets/lib-node-jsonwebtoken");
    assert!(
        dir.join("node_modules/jsonwebtoken").exists(),
        "run `npm ci` in targets/lib-node-jsonwebtoken (scripts/external-suites.sh does)"
    );
    let args = format!(" {}", dir.join("server.js").display());
    holds_to_its_list(
        "lib-node-jsonwebtoken",
        PathBuf::from("/usr/bin/env"),
        &format!(" node{args}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn golang_jwt_holds_to_its_expected_failures() {
    if !external::external_suite("the golang-jwt v4 adapter (targets/lib-go-jwt)") {
        return;
    }
    let dir = root().join("targets/lib-go-jwt");
    holds_to_its_list("lib-go-jwt", dir.join("bin/byoid-lib-go-jwt"), "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ruby_jwt_holds_to_its_expected_failures() {
    if !external::external_suite("the ruby-jwt adapter (targets/lib-ruby-jwt)") {
        return;
    }
    let dir = root().join("targets/lib-ruby-jwt");
    assert!(
        Path::new("/usr/share/rubygems-integration/all/gems/jwt-2.5.0").exists(),
        "run targets/lib-ruby-jwt/setup.sh (scripts/external-suites.sh does)"
    );
    let args = format!(" {}", dir.join("server.rb").display());
    holds_to_its_list("lib-ruby-jwt", PathBuf::from("/usr/bin/ruby"), &args).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_jwt_holds_to_its_expected_failures() {
    if !external::external_suite(
        "the express-jwt + jwks-rsa adapter (targets/lib-node-express-jwt)",
    ) {
        return;
    }
    let dir = root().join("targets/lib-node-express-jwt");
    assert!(
        dir.join("node_modules/express-jwt").exists(),
        "run `npm ci` in targets/lib-node-express-jwt (scripts/external-suites.sh does)"
    );
    let args = format!(" {}", dir.join("server.js").display());
    holds_to_its_list(
        "lib-node-express-jwt",
        PathBuf::from("/usr/bin/env"),
        &format!(" node{args}"),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_jsonwebtoken_holds_to_its_expected_failures() {
    // Rust only, so it runs with the README's test command too, not only the external suites.
    let exe = workspace_bin::built(
        "byoid-lib-jsonwebtoken",
        "byoid-lib-jsonwebtoken",
        "targets/lib-rust-jsonwebtoken",
    );
    holds_to_its_list("lib-rust-jsonwebtoken", exe, "").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_authorizer_holds_to_its_expected_failures() {
    if !external::external_suite("the jwt-authorizer adapter (targets/lib-rust-jwt-authorizer)") {
        return;
    }
    // Outside the workspace (axum 0.7, jsonwebtoken 9): its build.sh builds it.
    let dir = root().join("targets/lib-rust-jwt-authorizer");
    let exe = dir.join("target/release/byoid-lib-jwt-authorizer");
    assert!(
        exe.exists(),
        "{} is missing: run targets/lib-rust-jwt-authorizer/build.sh (scripts/external-suites.sh does)",
        exe.display()
    );
    holds_to_its_list("lib-rust-jwt-authorizer", exe, "").await;
}
