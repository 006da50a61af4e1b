//! Baselines: compare a run with an accepted report (`--baseline FILE`) and fail on any
//! verdict that got worse; `--update-baseline` accepts the new run instead.
//!
//! A baseline is an ordinary `report.json` without timings (the verdict bytes), so it can be
//! committed and reviewed like any other file.

use std::path::Path;

use crate::report::diff::{self, Diff, DiffError};
use crate::report::Report;

/// What comparing with the baseline found.
#[derive(Debug)]
pub struct BaselineCheck {
    /// The verdict changes.
    pub diff: Diff,
    /// Whether the baseline file was (re)written.
    pub written: bool,
}

impl BaselineCheck {
    /// True when the run must fail: a regression and no update asked for.
    pub fn fails(&self) -> bool {
        !self.written && self.diff.has_regressions()
    }
}

/// Compares `report` with the baseline at `path`; with `update`, writes the report there
/// instead (creating it when missing). Without `update`, a missing baseline is an error.
///
/// ```no_run
/// # fn f(report: &byoid::report::Report) -> Result<(), byoid::report::diff::DiffError> {
/// let check = byoid::report::baseline::check(report, std::path::Path::new("baseline.json"), false)?;
/// assert!(!check.fails());
/// # Ok(()) }
/// ```
pub fn check(report: &Report, path: &Path, update: bool) -> Result<BaselineCheck, DiffError> {
    let current: serde_json::Value =
        serde_json::from_str(&report.verdict_json()).unwrap_or_default();
    let diff = match diff::load(path) {
        Ok(before) => diff::compare(&before, &current),
        Err(e) if !update => return Err(e),
        Err(_) => diff::compare(
            &serde_json::json!({"schema": crate::report::SCHEMA, "cases": []}),
            &current,
        ),
    };
    if update {
        std::fs::write(path, report.verdict_json()).map_err(|source| DiffError::Unreadable {
            path: path.to_path_buf(),
            source: crate::input::InputError::Io(source),
        })?;
    }
    Ok(BaselineCheck {
        diff,
        written: update,
    })
}
