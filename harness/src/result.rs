//! The result model: what a run found, case by case. The runner makes these, the judge's
//! observations go into them, and every report renders them.

use std::time::Duration;

use mock_idp::Flavor;
use serde::{Deserialize, Serialize};

use crate::catalog::CaseInfo;
use crate::client::Outgoing;
use crate::judge::Observed;

/// The section of the positive controls: one case per flavor, judged before all others.
pub const CONTROL_SECTION: &str = "control";

/// The verdict of one case (Wycheproof-style valid/invalid/acceptable, plus run problems).
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, serde::Deserialize, Hash,
)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// What the specification asks for.
    Pass,
    /// Another outcome the specification allows.
    Acceptable,
    /// A SHOULD or MAY requirement missed.
    Warn,
    /// A MUST requirement missed.
    Fail,
    /// Could not be judged: the flavor's positive control failed.
    Untestable,
    /// Not run.
    Skip,
    /// Not run: the case needs a capability the target's profile says it lacks.
    NotApplicable,
    /// The target hung, reset the connection or answered garbage, or the case could not be built.
    Error,
}

impl Verdict {
    /// Every verdict, best first: the column order of the reports.
    pub const ALL: [Verdict; 8] = [
        Verdict::Pass,
        Verdict::Acceptable,
        Verdict::Warn,
        Verdict::Fail,
        Verdict::Untestable,
        Verdict::Skip,
        Verdict::NotApplicable,
        Verdict::Error,
    ];

    /// The report columns: every verdict, but "not applicable" only for runs that have it
    /// (a run against the contract never does, and its reports keep their columns).
    ///
    /// ```
    /// use byoid::result::Verdict;
    /// assert_eq!(Verdict::columns(false).count(), 7);
    /// assert!(Verdict::columns(true).any(|v| v == Verdict::NotApplicable));
    /// ```
    pub fn columns(with_not_applicable: bool) -> impl Iterator<Item = Verdict> {
        Verdict::ALL
            .into_iter()
            .filter(move |v| with_not_applicable || *v != Verdict::NotApplicable)
    }

    /// Upper-case word for the console.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Acceptable => "ACCEPT",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
            Verdict::Untestable => "UNTESTABLE",
            Verdict::Skip => "SKIP",
            Verdict::NotApplicable => "N/A",
            Verdict::Error => "ERROR",
        }
    }
    /// How bad, for baselines: higher is worse.
    pub fn severity(self) -> u8 {
        match self {
            Verdict::Pass | Verdict::Acceptable | Verdict::Skip | Verdict::NotApplicable => 0,
            Verdict::Warn => 1,
            Verdict::Untestable => 2,
            Verdict::Fail | Verdict::Error => 3,
        }
    }
}

/// Evidence of the request that decided the verdict.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Evidence {
    /// The request as sent, the token shortened.
    pub request: Outgoing,
    /// The token decoded (times relative to the run's clock).
    pub token: serde_json::Value,
}

/// The result of one case.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CaseResult {
    /// The case: id, section, requirement, level, flavor.
    #[serde(flatten)]
    pub case: CaseInfo,
    /// Verdict.
    pub verdict: Verdict,
    /// What was expected, as text.
    pub expected: String,
    /// What was observed on the deciding request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<Observed>,
    /// Why the verdict is not a pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The deciding request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    /// Wall time (kept out of the verdict bytes by the report writer).
    #[serde(skip)]
    pub duration: Duration,
}

/// The outcome of a flavor's positive control.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Control {
    /// The flavor.
    pub flavor: Flavor,
    /// Whether a genuine token was accepted.
    pub accepted: bool,
    /// What happened.
    pub detail: String,
}

impl Control {
    /// The summary of a positive control's case result.
    pub fn of(result: &CaseResult) -> Control {
        let accepted = result.verdict == Verdict::Pass;
        Control {
            flavor: result.case.flavor,
            accepted,
            detail: if accepted {
                "genuine token accepted".into()
            } else {
                result.reasons.join("; ")
            },
        }
    }
}

/// The id of a flavor's positive control.
///
/// ```
/// assert_eq!(byoid::result::control_id(mock_idp::Flavor::Okta), "control/genuine-token/okta");
/// ```
pub fn control_id(flavor: Flavor) -> String {
    format!("{CONTROL_SECTION}/genuine-token/{flavor}")
}

impl CaseResult {
    /// The result of `case` with `verdict` and `reasons`, nothing observed yet.
    pub fn for_case(case: &crate::catalog::Case, verdict: Verdict, reasons: Vec<String>) -> Self {
        CaseResult {
            case: case.info.clone(),
            verdict,
            expected: crate::judge::expect_text(&case.expect.full()),
            observed: None,
            reasons,
            evidence: None,
            duration: Duration::ZERO,
        }
    }
    /// Whether this is a positive control (section [`CONTROL_SECTION`]), not a catalog case.
    pub fn is_control(&self) -> bool {
        self.case.section == CONTROL_SECTION
    }
}
