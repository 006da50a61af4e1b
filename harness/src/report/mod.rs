//! One result model, several renderers: the console (h2spec-style), JSON (versioned schema),
//! JUnit XML ([`junit`]), Markdown ([`markdown`]), HTML ([`html`]) and SARIF 2.1.0 ([`sarif`]).
//!
//! # JSON schema `byoid-report/1`
//!
//! ```json
//! {
//!   "schema": "byoid-report/1",
//!   "run": {"target": "builtin:reference", "harness_version": "0.1.0", "catalog_hash": "…",
//!           "seed": 0, "tenant_source": "header"},
//!   "summary": {"total": 312, "pass": 300, "acceptable": 2, "warn": 1, "fail": 0,
//!               "untestable": 0, "skip": 0, "error": 0, "must_failures": 0},
//!   "controls": [{"flavor": "okta", "accepted": true, "detail": "genuine token accepted"}],
//!   "cases": [{"id": "rfc8725/3.1/alg-none/okta", "section": "rfc8725/3.1", "title": "…",
//!              "level": "must", "verdict": "pass", "expected": "401 invalid_token",
//!              "observed": {"outcome": "invalid-token", "status": 401, …},
//!              "evidence": {"request": {…}, "token": {"header": {…}, "claims": {…}}}}],
//!   "timings": {"run_ms": 1234, "cases_ms": {"rfc8725/3.1/alg-none/okta": 3}}
//! }
//! ```
//!
//! Everything but `timings` (and `run.started_at`) is the same for two runs with the same
//! seed, catalog and target: cases are sorted by id (the positive controls, section `control`,
//! first) and times in tokens are relative.

pub mod baseline;
pub mod console;
pub mod diff;
pub mod findings;
pub mod html;
pub mod junit;
pub mod markdown;
pub mod merge;
pub mod sarif;

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::result::{CaseResult, Control, Verdict};

/// The report schema version.
pub const SCHEMA: &str = "byoid-report/1";

/// Run metadata.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The target.
    pub target: String,
    /// The harness version.
    pub harness_version: String,
    /// A hash of the catalog.
    pub catalog_hash: String,
    /// Key seed.
    pub seed: u64,
    /// Tenant source.
    pub tenant_source: String,
    /// The target profile the run used (`--profile`): its file and the capabilities it
    /// declares missing. Absent: the contract's routes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Filters applied.
    pub filters: Vec<String>,
    /// The share of the selected cases this run judged (`--partition K/N`); a merged report
    /// (`byoid report merge`) has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<String>,
    /// Flavors the user deselected (`--skip-flavor`): the target does not serve them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skipped_flavors: Vec<String>,
    /// The launched target exited during the run: its status and the tail of its stderr. The
    /// cases it took down are not run (verdict skip).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_exited: Option<String>,
    /// The run's deadline passed: the cases it cut off are not run (verdict skip).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deadline_passed: bool,
    /// The run was interrupted (SIGINT, SIGTERM): the report holds what was judged before.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

/// Verdict counts.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Summary {
    /// Cases.
    pub total: usize,
    /// Passed.
    pub pass: usize,
    /// Passed with an allowed alternative.
    pub acceptable: usize,
    /// SHOULD/MAY misses.
    pub warn: usize,
    /// MUST misses.
    pub fail: usize,
    /// Not judgeable.
    pub untestable: usize,
    /// Not run.
    pub skip: usize,
    /// Not run: the target's profile says it lacks what the case needs.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_applicable: usize,
    /// Target or harness problems.
    pub error: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Summary {
    /// Counts the verdicts of `cases`.
    pub fn of(cases: &[CaseResult]) -> Summary {
        let mut s = Summary {
            total: cases.len(),
            ..Summary::default()
        };
        for c in cases {
            match c.verdict {
                Verdict::Pass => s.pass += 1,
                Verdict::Acceptable => s.acceptable += 1,
                Verdict::Warn => s.warn += 1,
                Verdict::Fail => s.fail += 1,
                Verdict::Untestable => s.untestable += 1,
                Verdict::Skip => s.skip += 1,
                Verdict::NotApplicable => s.not_applicable += 1,
                Verdict::Error => s.error += 1,
            }
        }
        s
    }

    /// How the run went as a whole, the colour or icon every renderer shows.
    pub fn health(&self) -> Health {
        if self.fail + self.error + self.untestable > 0 {
            Health::Failed
        } else if self.warn > 0 {
            Health::Warned
        } else {
            Health::Clean
        }
    }

    /// `N passed, N acceptable, N warned, N failed, N untestable, N errors, N skipped`, and
    /// `N not applicable` when there are any.
    pub fn counts(&self) -> String {
        let mut s = format!(
            "{} passed, {} acceptable, {} warned, {} failed, {} untestable, {} errors, {} skipped",
            self.pass,
            self.acceptable,
            self.warn,
            self.fail,
            self.untestable,
            self.error,
            self.skip
        );
        if self.not_applicable > 0 {
            s.push_str(&format!(", {} not applicable", self.not_applicable));
        }
        s
    }
}

/// A run's overall state (see [`Summary::health`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    /// A MUST case failed, a case could not run, or a case could not be judged.
    Failed,
    /// Only warnings.
    Warned,
    /// Every case passed (or passed acceptably, or was skipped).
    Clean,
}

/// A whole run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// Always [`SCHEMA`].
    pub schema: Cow<'static, str>,
    /// Run metadata.
    pub run: RunInfo,
    /// Counts.
    pub summary: Summary,
    /// Positive controls.
    pub controls: Vec<Control>,
    /// Case results, sorted by id.
    pub cases: Vec<CaseResult>,
    /// Wall times, kept apart from verdicts (absent from published reports).
    #[serde(default)]
    pub timings: Timings,
}

/// Wall times.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Timings {
    /// When the run started, UTC (RFC 3339).
    pub started_at: String,
    /// The whole run, startup included.
    pub run_ms: u64,
    /// Each case.
    pub cases_ms: BTreeMap<String, u64>,
}

impl Report {
    /// Builds a report; sorts cases by id, the positive controls first.
    pub fn new(
        run: RunInfo,
        controls: Vec<Control>,
        mut cases: Vec<CaseResult>,
        run_ms: u64,
    ) -> Report {
        cases.sort_by(|a, b| (!a.is_control(), &a.case.id).cmp(&(!b.is_control(), &b.case.id)));
        let started = std::time::SystemTime::now() - std::time::Duration::from_millis(run_ms);
        let timings = Timings {
            started_at: rfc3339(started),
            run_ms,
            cases_ms: cases
                .iter()
                .map(|c| (c.case.id.clone(), c.duration.as_millis() as u64))
                .collect(),
        };
        Report {
            schema: Cow::Borrowed(SCHEMA),
            run,
            summary: Summary::of(&cases),
            controls,
            cases,
            timings,
        }
    }

    /// The report of an interrupted run: the cases judged before the signal (the positive
    /// controls among them), with `info.interrupted` set.
    pub fn interrupted(info: RunInfo, cases: Vec<CaseResult>) -> Report {
        let controls = cases
            .iter()
            .filter(|c| c.is_control())
            .map(Control::of)
            .collect();
        Report::new(info, controls, cases, 0)
    }

    /// Writes `report.json`, `junit.xml`, `summary.md`, `report.html` and `report.sarif` into
    /// `dir`; on a failure, the file that could not be written and why.
    pub fn write_files(&self, dir: &Path) -> Result<(), (PathBuf, std::io::Error)> {
        let files = [
            ("report.json", self.to_json()),
            ("junit.xml", junit::render(self, false)),
            ("summary.md", markdown::render(self)),
            ("report.html", html::render(self)),
            ("report.sarif", sarif::render(self)),
        ];
        for (name, text) in files {
            let path = dir.join(name);
            std::fs::write(&path, text).map_err(|e| (path, e))?;
        }
        Ok(())
    }

    /// The JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default() + "\n"
    }

    /// The JSON text without timings: the bytes two runs with the same seed share.
    pub fn verdict_json(&self) -> String {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.remove("timings");
        }
        serde_json::to_string_pretty(&v).unwrap_or_default() + "\n"
    }

    /// One line per case, `VERDICT id`, in report order: what a verdict snapshot (insta)
    /// holds. No times, no ports: the same target gives the same lines.
    ///
    /// ```no_run
    /// # async fn f() -> Result<(), byoid::HarnessError> {
    /// let report = byoid::run_scenarios(&byoid::ScenarioOptions::default()).await?;
    /// assert!(report.verdict_lines().starts_with("PASS control/genuine-token/"));
    /// # Ok(()) }
    /// ```
    pub fn verdict_lines(&self) -> String {
        let mut out = String::new();
        for c in &self.cases {
            out.push_str(&format!("{:<10} {}\n", c.verdict.word(), c.case.id));
        }
        out
    }

    /// Whether the run judged anything: at least one case beyond the positive controls passed,
    /// warned or failed on the target's answer (all skipped, untestable or in error is a run
    /// that judged nothing).
    pub fn judged_anything(&self) -> bool {
        self.cases.iter().any(|c| {
            !c.is_control()
                && matches!(
                    c.verdict,
                    Verdict::Pass | Verdict::Acceptable | Verdict::Warn | Verdict::Fail
                )
        })
    }

    /// MUST-level failures and errors.
    pub fn must_failures(&self) -> usize {
        self.cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Error))
            .count()
    }
}

/// Formats a time as `YYYY-MM-DDTHH:MM:SSZ` (UTC), without a date crate.
pub fn rfc3339(t: std::time::SystemTime) -> String {
    let secs = t
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn rfc3339_formats_known_instants() {
        let t = |s: u64| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s);
        assert_eq!(super::rfc3339(t(0)), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(t(1_795_442_562)), "2026-11-23T14:02:42Z");
        assert_eq!(super::rfc3339(t(951_782_400)), "2000-02-29T00:00:00Z");
    }
}
