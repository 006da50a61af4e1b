//! SARIF 2.1.0, for code-scanning tools (GitHub code scanning, Azure DevOps, SARIF viewers).
//!
//! One `run` whose `tool.driver` is `byoid`:
//!
//! * **rules**: one per catalog case with a result (below), in report order, its id the case id without the flavor suffix
//!   ([`rule_id`]: `rfc8725/3.1/alg-none/okta` is rule `rfc8725/3.1/alg-none`). A case that
//!   fails on six flavors is then one rule with six alerts, which code-scanning tools group
//!   under the requirement, rather than six rules with one alert each. `shortDescription` is
//!   the case title, `fullDescription` the quoted requirement, `help` the requirement with its
//!   references; `properties` carry the level (must/should/may), the section and the tags
//!   (`security` first, then the level and the case's own tags).
//! * **results**: one per case that did not pass, at the level [`result_level`] gives: MUST
//!   failures and errors are `error`, SHOULD misses `warning`, MAY misses and untestable cases
//!   `note`. Passing, acceptable, skipped and not applicable cases give none: a code-scanning tool closes an
//!   alert whose result is gone, which is what a case that passes again should do, and a few
//!   hundred `pass` entries would be noise. Each result names its rule by `ruleId` and
//!   `ruleIndex`, says what was expected, what was observed and why in `message.text`
//!   (`FAIL (MUST, okta flavor): <title>. Expected: … Observed: … Reasons: …`), and
//!   carries the full case id as `partialFingerprints["caseId/v1"]`, so an alert follows the
//!   case from run to run (all flavors of a case share a location; the id tells them apart).
//!   Its `properties` hold the verdict, the flavor and, as in `report.json`, what was
//!   expected and observed, the reasons and the evidence (request and decoded token).
//! * **locations**: code scanning needs a physical location on every result. A case of the
//!   built-in catalog points at its scenario file and the line of its `id`
//!   (`scenarios/rfc8725-3.1-algorithms.toml`, relative to the byoid repository); a positive
//!   control at `docs/target-contract.md` (the contract section it rests on); a case judged
//!   with another catalog (a `--catalog` directory, or another version of the built-in one:
//!   the report's catalog hash tells) at `scenarios/`, as the report does not record files.
//!   The case id is also a logical location. In a validator's own repository these paths
//!   name no file of it; they stay the same from run to run, which is what code scanning
//!   needs to match an alert with its earlier runs.
//! * **invocation**: `executionSuccessful` is false when the run was interrupted, hit its
//!   deadline or lost its target, each with a notification; no times or exit code (the exit
//!   code also depends on gating options the report does not hold).
//! * **properties** of the run: the report's run metadata (target, catalog hash, seed, tenant
//!   source, filters, …) under the names `report.json` uses, and the verdict counts.
//!
//! Message texts double their braces (`{{`, `}}`), as SARIF reserves `{0}` for placeholders;
//! property bags hold the report's text as it is.
//!
//! Deterministic: everything comes from the report but its timings, in report order, so two
//! runs with the same seed give the same bytes.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

use crate::catalog::Level;
use crate::report::junit::verdict_name;
use crate::report::Report;
use crate::result::{CaseResult, Verdict};

/// The `$schema` a SARIF log names (the SchemaStore copy of the OASIS schema).
pub const SCHEMA_URI: &str = "https://json.schemastore.org/sarif-2.1.0.json";

/// Where a result of a positive control points: the contract section a control rests on.
const CONTRACT_FILE: &str = "docs/target-contract.md";

/// The SARIF 2.1.0 text of `report`.
///
/// ```no_run
/// # async fn f() -> Result<(), byoid::HarnessError> {
/// let opts = byoid::ScenarioOptions {
///     filters: vec!["rfc8725/3.1".into()],
///     ..byoid::ScenarioOptions::builtin(vec!["alg-from-header".into()])
/// };
/// let report = byoid::run_scenarios(&opts).await?;
/// let sarif: serde_json::Value =
///     serde_json::from_str(&byoid::report::sarif::render(&report)).expect("JSON");
/// assert_eq!(sarif["version"], "2.1.0");
/// assert!(!sarif["runs"][0]["results"].as_array().expect("results").is_empty());
/// # Ok(())
/// # }
/// ```
pub fn render(report: &Report) -> String {
    // Rules in the order their first case comes in the report (sorted by id: deterministic).
    let mut rules: Vec<(&str, Vec<&CaseResult>)> = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    // Only cases with a result: a rule per passing case would make a clean run's file half a
    // megabyte of rules no alert refers to.
    for c in report
        .cases
        .iter()
        .filter(|c| result_level(c.verdict, c.case.level).is_some())
    {
        let id = rule_id(&c.case.id, &c.case.section);
        let i = *index.entry(id).or_insert_with(|| {
            rules.push((id, Vec::new()));
            rules.len() - 1
        });
        rules[i].1.push(c);
    }
    // Line numbers only when the report was judged by this binary's built-in catalog: another
    // catalog (or another version of it) may define the same id elsewhere.
    let origins = (report.run.catalog_hash == crate::catalog::builtin_hash()).then(builtin_origins);
    let results: Vec<Value> = report
        .cases
        .iter()
        .filter_map(|c| {
            let level = result_level(c.verdict, c.case.level)?;
            let rule = rule_id(&c.case.id, &c.case.section);
            Some(result(c, rule, index[rule], level, origins))
        })
        .collect();
    let mut properties = match serde_json::to_value(&report.run) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    properties.insert(
        "summary".into(),
        serde_json::to_value(&report.summary).unwrap_or_default(),
    );
    let sarif = json!({
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "byoid",
                "fullName": "byoid conformance harness for access-token validators",
                "version": report.run.harness_version,
                "semanticVersion": report.run.harness_version,
                "rules": rules.iter().map(|(id, cases)| rule(id, cases)).collect::<Vec<_>>(),
            }},
            "invocations": [invocation(report)],
            "results": results,
            "properties": properties,
        }],
    });
    serde_json::to_string_pretty(&sarif).unwrap_or_default() + "\n"
}

/// The rule of a case: its id without the flavor suffix that a multi-flavor case gets
/// (`section/name/flavor`), or the whole id when there is none (`section/name`).
///
/// ```
/// use byoid::report::sarif::rule_id;
/// assert_eq!(rule_id("rfc8725/3.1/alg-none/okta", "rfc8725/3.1"), "rfc8725/3.1/alg-none");
/// assert_eq!(rule_id("rfc8725/3.1/hs256-der", "rfc8725/3.1"), "rfc8725/3.1/hs256-der");
/// assert_eq!(rule_id("control/genuine-token/auth0", "control"), "control/genuine-token");
/// ```
pub fn rule_id<'a>(id: &'a str, section: &str) -> &'a str {
    // The name after the section has no `/` (the catalog refuses one), so a `/` after it
    // starts the flavor.
    let rest = id
        .strip_prefix(section)
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or("");
    match rest.rfind('/') {
        Some(i) => &id[..id.len() - rest.len() + i],
        None => id,
    }
}

/// The SARIF `level` of a result with `verdict` on a requirement of `level`, or `None` for a
/// verdict that gives no result.
///
/// | verdict | result |
/// |---|---|
/// | fail (a MUST missed), error (no usable answer) | `error` |
/// | warn: a SHOULD missed / a MAY missed | `warning` / `note` |
/// | untestable (the flavor's positive control failed, itself an `error`) | `note` |
/// | pass, acceptable, skip, not applicable | none |
///
/// Untestable cases stay as notes so that their alerts stay open (a tool closes an alert
/// whose result is gone) without burying the one control failure behind them.
///
/// ```
/// use byoid::catalog::Level;
/// use byoid::report::sarif::result_level;
/// use byoid::result::Verdict;
/// assert_eq!(result_level(Verdict::Fail, Level::Must), Some("error"));
/// assert_eq!(result_level(Verdict::Warn, Level::Should), Some("warning"));
/// assert_eq!(result_level(Verdict::Pass, Level::Must), None);
/// ```
pub fn result_level(verdict: Verdict, level: Level) -> Option<&'static str> {
    // No wildcard: a new verdict must be placed here.
    match verdict {
        Verdict::Fail | Verdict::Error => Some("error"),
        Verdict::Warn => Some(match level {
            Level::Must | Level::Should => "warning",
            Level::May => "note",
        }),
        Verdict::Untestable => Some("note"),
        Verdict::Pass | Verdict::Acceptable | Verdict::Skip | Verdict::NotApplicable => None,
    }
}

/// The `defaultConfiguration.level` of a rule: what a miss of its requirement is.
fn rule_level(level: Level) -> &'static str {
    match level {
        Level::Must => "error",
        Level::Should => "warning",
        Level::May => "note",
    }
}

/// A rule from the cases (one per flavor) that share it.
fn rule(id: &str, cases: &[&CaseResult]) -> Value {
    let first = &cases[0].case;
    // A control's title names its flavor; a title the flavors do not share is the section's.
    let title = if cases.iter().all(|c| c.case.title == first.title) {
        &first.title
    } else {
        &first.section_title
    };
    let mut help = format!("{} requirement: {}\n", first.level, first.requirement);
    if !first.refs.is_empty() {
        let _ = write!(help, "\nReferences: {}.", first.refs.join("; "));
    }
    let _ = write!(
        help,
        "\nSection: {} ({}).",
        first.section, first.section_title
    );
    let mut tags = vec![
        "security".to_string(),
        first.level.to_string().to_lowercase(),
    ];
    for t in &first.tags {
        if !tags.contains(t) {
            tags.push(t.clone());
        }
    }
    json!({
        "id": id,
        "shortDescription": message(title),
        "fullDescription": message(&first.requirement),
        "help": message(&help),
        "defaultConfiguration": {"level": rule_level(first.level)},
        "properties": {
            "level": first.level.to_string().to_lowercase(),
            "section": first.section,
            "section_title": first.section_title,
            "refs": first.refs,
            "tags": tags,
        },
    })
}

/// The result of a case that did not pass.
fn result(
    c: &CaseResult,
    rule: &str,
    rule_index: usize,
    level: &str,
    origins: Option<&HashMap<String, (String, u64)>>,
) -> Value {
    let mut text = format!(
        "{} ({}, {} flavor): {}. Expected: {}. Observed: {}.",
        c.verdict.word(),
        c.case.level,
        c.case.flavor,
        c.case.title,
        c.expected,
        observed_text(c)
    );
    if !c.reasons.is_empty() {
        let _ = write!(text, " Reasons: {}", c.reasons.join("; "));
    }
    let physical = match origins.and_then(|o| o.get(&c.case.id)) {
        Some((file, line)) => json!({
            "artifactLocation": {"uri": file},
            "region": {"startLine": line},
        }),
        None if c.is_control() => json!({"artifactLocation": {"uri": CONTRACT_FILE}}),
        None => json!({"artifactLocation": {
            "uri": "scenarios/",
            "description": message("the catalog directory the case came from (the report does not record its file)"),
        }}),
    };
    let mut properties = Map::new();
    properties.insert("verdict".into(), verdict_name(c.verdict).into());
    properties.insert("flavor".into(), c.case.flavor.name().into());
    properties.insert("expected".into(), c.expected.clone().into());
    if let Some(o) = &c.observed {
        properties.insert(
            "observed".into(),
            serde_json::to_value(o).unwrap_or_default(),
        );
    }
    if !c.reasons.is_empty() {
        properties.insert("reasons".into(), c.reasons.clone().into());
    }
    if let Some(e) = &c.evidence {
        properties.insert(
            "evidence".into(),
            serde_json::to_value(e).unwrap_or_default(),
        );
    }
    json!({
        "ruleId": rule,
        "ruleIndex": rule_index,
        "level": level,
        "message": message(&text),
        "locations": [{
            "physicalLocation": physical,
            "logicalLocations": [{
                "name": c.case.id.strip_prefix(&format!("{}/", c.case.section)).unwrap_or(&c.case.id),
                "fullyQualifiedName": c.case.id,
            }],
        }],
        "partialFingerprints": {"caseId/v1": c.case.id},
        "properties": properties,
    })
}

/// A SARIF message object of plain `text`. SARIF reads `{n}` in a message as a placeholder
/// for an argument, so literal braces are doubled (SARIF 2.1.0 section 3.11.5): a target's
/// JSON body in a reason stays text.
fn message(text: &str) -> Value {
    json!({"text": text.replace('{', "{{").replace('}', "}}")})
}

/// What the deciding request got, in a few words.
fn observed_text(c: &CaseResult) -> String {
    match &c.observed {
        Some(o) => match (&o.failure, o.outcome, o.status) {
            (Some(f), _, _) => format!("no answer ({f})"),
            (None, Some(outcome), _) => outcome.to_string(),
            (None, None, Some(status)) => format!("status {status}"),
            (None, None, None) => "nothing".into(),
        },
        None => "nothing".into(),
    }
}

/// The invocation: whether the run went to its end, and why not.
fn invocation(report: &Report) -> Value {
    let run = &report.run;
    let mut notes = Vec::new();
    if run.interrupted {
        notes.push((
            "error",
            "the run was interrupted (SIGINT or SIGTERM): the report holds the cases judged before"
                .to_string(),
        ));
    }
    if run.deadline_passed {
        notes.push((
            "error",
            "the run's deadline passed: the cases it cut off were not run".to_string(),
        ));
    }
    if let Some(exit) = &run.target_exited {
        notes.push((
            "error",
            format!(
                "the target exited during the run; the cases it took down were not run: {exit}"
            ),
        ));
    }
    let mut inv = Map::new();
    inv.insert("executionSuccessful".into(), notes.is_empty().into());
    if !notes.is_empty() {
        let notes: Vec<Value> = notes
            .into_iter()
            .map(|(level, text)| json!({"level": level, "message": message(&text)}))
            .collect();
        inv.insert("toolExecutionNotifications".into(), notes.into());
    }
    Value::Object(inv)
}

/// The built-in catalog's case ids with the file (`scenarios/…toml`) and line defining each.
fn builtin_origins() -> &'static HashMap<String, (String, u64)> {
    static ORIGINS: OnceLock<HashMap<String, (String, u64)>> = OnceLock::new();
    ORIGINS.get_or_init(|| {
        let cases = crate::catalog::builtin().unwrap_or_default();
        cases
            .into_iter()
            .filter_map(|c| {
                // `origin` is `path:line`.
                let (file, line) = c.origin.rsplit_once(':')?;
                Some((c.info.id, (file.to_string(), line.parse().ok()?)))
            })
            .collect()
    })
}
