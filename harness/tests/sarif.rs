//! `report.sarif`: a real catalog slice against the reference with a planted defect, rendered
//! as SARIF and validated against the published SARIF 2.1.0 schema, the OASIS one with
//! Errata 01 (vendored in `tests/data/`; its README says where from, and why not the
//! pre-errata draft-07 copy). Then what the log says: failing cases as `error` results under
//! the right rules, none for passing cases, every `ruleIndex` naming its rule, locations at the
//! scenario line, the same bytes twice.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use byoid::report::sarif::{self, rule_id};
use byoid::report::Report;
use byoid::result::Verdict;
use byoid::ScenarioOptions;
use common::{sample, Sample};
use serde_json::{json, Value};

/// The vendored schema.
const SCHEMA: &str = "sarif-schema-2.1.0.json";

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(SCHEMA);
    let text = std::fs::read_to_string(path).expect("the vendored schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    // Draft-04 (from its `$schema`), formats (`uri`, `uri-reference`, `date-time`) checked
    // too, whatever the draft's default.
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{SCHEMA} compiles: {e}"))
}

/// The schema's complaints about `doc`, one line each (empty: valid).
fn schema_errors(doc: &Value) -> Vec<String> {
    validator()
        .iter_errors(doc)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

fn assert_valid(doc: &Value) {
    let errors = schema_errors(doc);
    assert!(errors.is_empty(), "invalid SARIF:\n{}", errors.join("\n"));
}

/// The slice: RFC 8725 section 3.1 (45 cases over six flavors, plus the positive controls)
/// against the reference trusting the token's `alg`.
async fn defect_run() -> Report {
    let opts = ScenarioOptions {
        filters: vec!["rfc8725/3.1".into()],
        ..ScenarioOptions::builtin(vec!["alg-from-header".into()])
    };
    byoid::run_scenarios(&opts)
        .await
        .expect("the run completes")
}

fn results(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["results"].as_array().expect("results")
}

fn rules(doc: &Value) -> &Vec<Value> {
    doc["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules")
}

fn case_id(result: &Value) -> &str {
    result["partialFingerprints"]["caseId/v1"]
        .as_str()
        .expect("a caseId fingerprint")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_defect_run_is_valid_sarif_with_its_failures_as_errors() {
    let report = defect_run().await;
    let fails: BTreeSet<&str> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Fail)
        .map(|c| c.case.id.as_str())
        .collect();
    let passes: BTreeSet<&str> = report
        .cases
        .iter()
        .filter(|c| c.verdict == Verdict::Pass)
        .map(|c| c.case.id.as_str())
        .collect();
    // The slice as the published defect report has it: HS* key confusion fails, the rest
    // passes, nothing else.
    assert!(fails.len() >= 10, "the defect fails cases: {fails:?}");
    assert!(!passes.is_empty());
    assert_eq!(
        fails.len() + passes.len(),
        report.cases.len(),
        "{:?}",
        report.summary
    );

    let text = sarif::render(&report);
    assert_eq!(text, sarif::render(&report), "the same bytes twice");
    let doc: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    assert_valid(&doc);

    assert_eq!(doc["version"], "2.1.0");
    assert_eq!(doc["$schema"], sarif::SCHEMA_URI);
    assert_eq!(doc["runs"].as_array().map(Vec::len), Some(1));
    let driver = &doc["runs"][0]["tool"]["driver"];
    assert_eq!(driver["name"], "byoid");
    assert_eq!(driver["version"], report.run.harness_version.as_str());
    assert_eq!(
        driver["semanticVersion"],
        report.run.harness_version.as_str()
    );
    let props = &doc["runs"][0]["properties"];
    assert_eq!(props["target"], "builtin:reference+alg-from-header");
    assert_eq!(
        props["catalog_hash"],
        byoid::catalog::builtin_hash().as_str()
    );
    assert_eq!(props["seed"], 0);
    assert_eq!(props["tenant_source"], "header");
    assert_eq!(props["summary"]["fail"], fails.len());
    assert_eq!(
        doc["runs"][0]["invocations"][0]["executionSuccessful"],
        true
    );

    // One rule per catalog case with a result: the distinct ids without the flavor, unique.
    let rule_ids: Vec<&str> = rules(&doc)
        .iter()
        .map(|r| r["id"].as_str().expect("a rule id"))
        .collect();
    let distinct: BTreeSet<&str> = rule_ids.iter().copied().collect();
    assert_eq!(distinct.len(), rule_ids.len(), "rule ids are unique");
    let expected_rules: BTreeSet<&str> = report
        .cases
        .iter()
        .filter(|c| sarif::result_level(c.verdict, c.case.level).is_some())
        .map(|c| rule_id(&c.case.id, &c.case.section))
        .collect();
    assert_eq!(distinct, expected_rules);
    assert!(
        rule_ids.len() < report.cases.len(),
        "flavors share a rule: {} rules for {} cases",
        rule_ids.len(),
        report.cases.len()
    );
    for r in rules(&doc) {
        let c = &report
            .cases
            .iter()
            .find(|c| rule_id(&c.case.id, &c.case.section) == r["id"])
            .expect("a case of the rule")
            .case;
        if !c.id.starts_with("control/") {
            assert_eq!(r["shortDescription"]["text"], c.title.as_str());
        }
        assert_eq!(r["fullDescription"]["text"], c.requirement.as_str());
        let level = c.level.to_string().to_lowercase();
        assert_eq!(r["properties"]["level"], level.as_str());
        assert_eq!(r["properties"]["section"], c.section.as_str());
        assert_eq!(r["properties"]["tags"][0], "security");
        assert_eq!(r["properties"]["tags"][1], level.as_str());
    }
    // Exactly the failing cases, as errors, each under its rule, each pointing at the line
    // of its scenario file that defines it.
    let by_case: BTreeMap<&str, &Value> = results(&doc).iter().map(|r| (case_id(r), r)).collect();
    assert_eq!(by_case.len(), results(&doc).len(), "one result per case");
    assert_eq!(by_case.keys().copied().collect::<BTreeSet<_>>(), fails);
    assert!(passes.iter().all(|p| !by_case.contains_key(p)));
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for (id, r) in &by_case {
        let c = report.cases.iter().find(|c| c.case.id == *id).unwrap();
        assert_eq!(r["level"], "error", "{r}");
        assert_eq!(r["ruleId"], rule_id(id, &c.case.section));
        let i = r["ruleIndex"].as_u64().expect("a ruleIndex") as usize;
        assert_eq!(
            rules(&doc)[i]["id"],
            r["ruleId"],
            "ruleIndex {i} names the rule"
        );
        let msg = r["message"]["text"].as_str().unwrap();
        assert!(
            msg.contains("Expected: 401 invalid_token. Observed: 200."),
            "{msg}"
        );
        assert!(msg.contains("got 200"), "{msg}");
        assert!(
            msg.starts_with(&format!(
                "FAIL ({}, {} flavor): ",
                c.case.level, c.case.flavor
            )),
            "{msg}"
        );
        let loc = &r["locations"][0];
        assert_eq!(loc["logicalLocations"][0]["fullyQualifiedName"], *id);
        let uri = loc["physicalLocation"]["artifactLocation"]["uri"]
            .as_str()
            .unwrap();
        assert!(uri.starts_with("scenarios/rfc8725-3.1-"), "{uri}");
        let line = loc["physicalLocation"]["region"]["startLine"]
            .as_u64()
            .expect("a line") as usize;
        let file = std::fs::read_to_string(repo.join(uri)).expect("the scenario file");
        let name = id
            .strip_prefix("rfc8725/3.1/")
            .unwrap()
            .split('/')
            .next()
            .unwrap();
        assert_eq!(
            file.lines().nth(line - 1).map(str::trim),
            Some(format!("id = \"{name}\"").as_str()),
            "{uri}:{line} defines {id}"
        );
    }
    // A case failing on several flavors: one rule, one alert per flavor.
    let spki = by_case
        .values()
        .filter(|r| r["ruleId"] == "rfc8725/3.1/hs256-spki-pem")
        .count();
    assert!(spki > 1, "hs256-spki-pem fails on several flavors: {spki}");

    // write_files writes the same bytes as report.sarif.
    let dir = tempfile::tempdir().expect("a temporary directory");
    report.write_files(dir.path()).expect("written");
    assert_eq!(
        std::fs::read_to_string(dir.path().join("report.sarif")).unwrap(),
        text
    );

    // The validation is not vacuous: a level SARIF does not have is refused, and so is a
    // region line 0.
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["level"] = json!("fatal");
    assert_rejected(&bad, "/runs/0/results/0/level");
    let mut bad = doc.clone();
    bad["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]["startLine"] =
        json!(0);
    assert_rejected(
        &bad,
        "/runs/0/results/0/locations/0/physicalLocation/region/startLine",
    );
}

/// The schema finds `doc` invalid at `path`, and nowhere else.
fn assert_rejected(doc: &Value, path: &str) {
    let errors = schema_errors(doc);
    assert!(!errors.is_empty(), "{path}: accepted");
    assert!(
        errors.iter().all(|e| e.starts_with(&format!("{path}: "))),
        "{path}: {errors:?}"
    );
}

/// Every verdict, through the hand-built sample (a catalog other than the built-in one):
/// the level each gets, no result for pass, acceptable and skip, and still valid SARIF.
#[test]
fn every_verdict_maps_to_its_level() {
    let mut report = sample(Sample::Hostile);
    // Braces in a message are placeholders to SARIF: a target's JSON body must not be one.
    report
        .cases
        .iter_mut()
        .find(|c| c.case.id == "rfc8725/3.1/alg-none/okta")
        .unwrap()
        .reasons
        .push(r#"body {"n":"{0}"}"#.into());
    let text = sarif::render(&report);
    assert_eq!(text, sarif::render(&report));
    let doc: Value = serde_json::from_str(&text).expect("SARIF is JSON");
    assert_valid(&doc);
    let levels: BTreeMap<&str, &str> = results(&doc)
        .iter()
        .map(|r| (case_id(r), r["level"].as_str().unwrap()))
        .collect();
    assert_eq!(
        levels,
        BTreeMap::from([
            ("rfc8725/3.1/alg-none/okta", "error"),
            ("rfc6750/3/realm/okta", "warning"),
            ("rfc9068/4/typ/okta", "note"),
            ("rfc9068/2.2/hang/okta", "error"),
        ])
    );
    for r in results(&doc) {
        // Not the built-in catalog: no file to name but the catalog directory.
        assert_eq!(
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "scenarios/"
        );
        let i = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules(&doc)[i]["id"], r["ruleId"]);
    }
    // Rules for the cases with a result only, with the requirement level as default.
    let with_result = report
        .cases
        .iter()
        .filter(|c| sarif::result_level(c.verdict, c.case.level).is_some())
        .count();
    assert_eq!(rules(&doc).len(), with_result);
    assert!(with_result < report.cases.len());
    let realm = rules(&doc)
        .iter()
        .find(|r| r["id"] == "rfc6750/3/realm")
        .unwrap();
    assert_eq!(realm["defaultConfiguration"]["level"], "warning");
    // What the target answered is carried as it came, as data.
    let fail = results(&doc)
        .iter()
        .find(|r| case_id(r) == "rfc8725/3.1/alg-none/okta")
        .unwrap();
    assert!(fail["message"]["text"]
        .as_str()
        .unwrap()
        .ends_with(&format!(
            "got 200; body {}; {}",
            common::EVIL,
            r#"body {{"n":"{{0}}"}}"#
        )));
    assert_eq!(
        fail["properties"]["reasons"][1], r#"body {"n":"{0}"}"#,
        "property bags keep the text as it is"
    );
}

/// A run that did not go to its end says so in its invocation.
#[test]
fn an_interrupted_run_is_not_a_successful_execution() {
    let mut report = sample(Sample::Plain);
    report.run.interrupted = true;
    report.run.target_exited = Some("exit status: 3\npanicked".into());
    let doc: Value = serde_json::from_str(&sarif::render(&report)).unwrap();
    assert_valid(&doc);
    let inv = &doc["runs"][0]["invocations"][0];
    assert_eq!(inv["executionSuccessful"], false);
    let notes = inv["toolExecutionNotifications"].as_array().unwrap();
    assert_eq!(notes.len(), 2);
    assert!(notes[1]["message"]["text"]
        .as_str()
        .unwrap()
        .contains("exit status: 3"));
}

/// The published reports (`reports/*/report.sarif`, `scripts/regenerate-reports.sh`) are
/// valid SARIF.
#[test]
fn published_reports_are_valid_sarif() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut found = 0;
    for entry in std::fs::read_dir(repo.join("reports")).expect("reports/") {
        let path = entry.expect("an entry").path().join("report.sarif");
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue; // bench/ and the matrix files
        };
        found += 1;
        let doc: Value = serde_json::from_str(&text).expect("SARIF is JSON");
        let errors = schema_errors(&doc);
        assert!(
            errors.is_empty(),
            "{}:\n{}",
            path.display(),
            errors.join("\n")
        );
    }
    assert!(found >= 10, "published report.sarif files: {found}");
}
