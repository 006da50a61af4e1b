//! JUnit XML, for CI systems that show test results (GitLab, Jenkins, GitHub test reporters).
//!
//! * one `<testsuite>` per RFC section, named by its key (`rfc8725/3.1`), in key order;
//! * one `<testcase>` per case: `name` is the case id, `classname` the section key, with the
//!   properties `level`, `flavor`, `verdict` and `refs`;
//! * `fail` becomes `<failure message="expected …">` whose text is the reasons, what was
//!   observed and the decoded evidence (request and token);
//! * `error` and `untestable` become `<error>` (type `error` / `untestable`), text as above;
//! * `skip` becomes `<skipped>`;
//! * `warn` (a SHOULD or MAY requirement missed) *passes*, since JUnit has no warning state,
//!   with `<system-out>` saying `SHOULD requirement missed: …` (or `MAY …`) and the evidence;
//! * `acceptable` passes, with a one-line `<system-out>` saying an allowed alternative was seen.
//!
//! Times are `0.000` everywhere unless `with_timings` is set, so that two runs with the same
//! seed give the same bytes.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, TestCase, TestCaseStatus, TestSuite};

use crate::report::Report;
use crate::result::{CaseResult, Verdict};

/// The JUnit XML text of `report`.
pub fn render(report: &Report, with_timings: bool) -> String {
    let mut sections: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in &report.cases {
        sections.entry(c.case.section.as_str()).or_default().push(c);
    }
    let time_of = |c: &CaseResult| -> Duration {
        if !with_timings {
            return Duration::ZERO;
        }
        match report.timings.cases_ms.get(&c.case.id) {
            Some(ms) => Duration::from_millis(*ms),
            None => c.duration,
        }
    };
    let mut junit = quick_junit::Report::new(format!("byoid {}", report.run.target));
    for (section, cases) in sections {
        let mut suite = TestSuite::new(section);
        suite.add_property(Property::new("target", report.run.target.as_str()));
        if let Some(first) = cases.first() {
            suite.add_property(Property::new("title", first.case.section_title.as_str()));
        }
        let mut suite_time = Duration::ZERO;
        for c in cases {
            let t = time_of(c);
            suite_time += t;
            suite.add_test_case(test_case(c, t));
        }
        suite.set_time(suite_time);
        junit.add_test_suite(suite);
    }
    junit.set_time(if with_timings {
        Duration::from_millis(report.timings.run_ms)
    } else {
        Duration::ZERO
    });
    match junit.to_string() {
        Ok(s) => s + "\n",
        // Serialising into a String cannot fail on I/O; keep the signature infallible.
        Err(e) => format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- JUnit serialisation failed: {} -->\n<testsuites/>\n", e.to_string().replace("--", "- -")),
    }
}

fn test_case(c: &CaseResult, time: Duration) -> TestCase {
    let status = match c.verdict {
        Verdict::Pass | Verdict::Acceptable | Verdict::Warn => TestCaseStatus::success(),
        Verdict::Fail | Verdict::Error | Verdict::Untestable => {
            let kind = if c.verdict == Verdict::Fail {
                NonSuccessKind::Failure
            } else {
                NonSuccessKind::Error
            };
            let mut s = TestCaseStatus::non_success(kind);
            s.set_message(format!("expected {}", c.expected));
            s.set_type(verdict_name(c.verdict));
            s.set_description(details(c));
            s
        }
        Verdict::Skip | Verdict::NotApplicable => {
            let mut s = TestCaseStatus::skipped();
            let why = if c.reasons.is_empty() {
                "not run".to_string()
            } else {
                c.reasons.join("; ")
            };
            s.set_message(why);
            s
        }
    };
    let mut tc = TestCase::new(c.case.id.as_str(), status);
    tc.set_classname(c.case.section.as_str());
    tc.set_time(time);
    tc.add_property(Property::new("level", c.case.level.to_string()));
    tc.add_property(Property::new("flavor", c.case.flavor.name()));
    tc.add_property(Property::new("verdict", verdict_name(c.verdict)));
    if !c.case.refs.is_empty() {
        tc.add_property(Property::new("refs", c.case.refs.join(", ")));
    }
    match c.verdict {
        Verdict::Warn => {
            let mut out = format!(
                "{} requirement missed: {}\n",
                c.case.level, c.case.requirement
            );
            out.push_str(&details(c));
            tc.set_system_out(out);
        }
        Verdict::Acceptable => {
            let mut out = format!(
                "passed with an outcome the specification also allows (expected {})\n",
                c.expected
            );
            for r in &c.reasons {
                let _ = writeln!(out, "note: {r}");
            }
            tc.set_system_out(out);
        }
        _ => {}
    }
    tc
}

/// The kebab-case verdict name, as in the JSON report.
pub(crate) fn verdict_name(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Acceptable => "acceptable",
        Verdict::Warn => "warn",
        Verdict::Fail => "fail",
        Verdict::Untestable => "untestable",
        Verdict::Skip => "skip",
        Verdict::NotApplicable => "not-applicable",
        Verdict::Error => "error",
    }
}

/// Requirement, expectation, reasons, observation and decoded evidence as plain text.
fn details(c: &CaseResult) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} [{}] {}",
        c.case.title, c.case.level, c.case.requirement
    );
    if !c.case.refs.is_empty() {
        let _ = writeln!(out, "refs: {}", c.case.refs.join(", "));
    }
    let _ = writeln!(out, "expected: {}", c.expected);
    for r in &c.reasons {
        let _ = writeln!(out, "actual: {r}");
    }
    if let Some(o) = &c.observed {
        let _ = writeln!(
            out,
            "observed: {}",
            serde_json::to_string_pretty(o).unwrap_or_default()
        );
    }
    if let Some(ev) = &c.evidence {
        let _ = writeln!(
            out,
            "request: {}",
            serde_json::to_string_pretty(&ev.request).unwrap_or_default()
        );
        let _ = writeln!(
            out,
            "token: {}",
            serde_json::to_string_pretty(&ev.token).unwrap_or_default()
        );
    }
    out
}
