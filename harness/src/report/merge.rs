//! Joins the `report.json` files of a partitioned run (`byoid scenarios --partition K/N`, one
//! per CI runner) into the report one unpartitioned run would have written: every case once,
//! every positive control once, the counts recomputed. The parts must come from the same
//! harness, catalog, seed, target and options, and together cover shares 1 to N exactly once.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{Report, RunInfo, Summary, Timings, SCHEMA};
use crate::result::CaseResult;

/// Why parts could not be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// A file could not be read or is not a `byoid-report/1` report.
    #[error("{}: {message}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The parts do not belong to one partitioned run.
    #[error("{0}")]
    Mismatch(String),
}

/// Reads one part.
pub fn load(path: &Path) -> Result<Report, MergeError> {
    let fail = |message: String| MergeError::Load {
        path: path.to_path_buf(),
        message,
    };
    let text = crate::input::read_to_string(path, crate::input::REPORT_LIMIT)
        .map_err(|e| fail(e.to_string()))?;
    let report: Report = serde_json::from_str(&text).map_err(|e| fail(e.to_string()))?;
    if report.schema != SCHEMA {
        return Err(fail(format!("schema `{}`, not `{SCHEMA}`", report.schema)));
    }
    Ok(report)
}

/// Merges the parts of one partitioned run.
///
/// ```
/// use byoid::report::merge::{merge, MergeError};
///
/// // No part, no report.
/// assert!(matches!(merge(Vec::new()), Err(MergeError::Mismatch(_))));
/// ```
pub fn merge(parts: Vec<Report>) -> Result<Report, MergeError> {
    let first = parts
        .first()
        .ok_or_else(|| MergeError::Mismatch("no report to merge".into()))?;
    let run = RunInfo {
        partition: None,
        ..first.run.clone()
    };
    check_shares(&parts)?;
    let mut cases: BTreeMap<String, CaseResult> = BTreeMap::new();
    let mut controls = BTreeMap::new();
    let mut timings = Timings::default();
    for part in &parts {
        let same_run = RunInfo {
            partition: None,
            ..part.run.clone()
        };
        if same_run != run {
            return Err(MergeError::Mismatch(format!(
                "partition {} was run with other settings than partition {} (target, catalog, seed, tenant source, filters or flavors differ)",
                part.run.partition.as_deref().unwrap_or("?"),
                first.run.partition.as_deref().unwrap_or("?"),
            )));
        }
        for c in &part.cases {
            let known = cases.entry(c.case.id.clone()).or_insert_with(|| c.clone());
            // A positive control runs in every part that has cases of its flavor.
            if serde_json::to_value(&*known).ok() != serde_json::to_value(c).ok() {
                return Err(MergeError::Mismatch(format!(
                    "`{}` has different results in two parts",
                    c.case.id
                )));
            }
        }
        for ctl in &part.controls {
            controls.entry(ctl.flavor).or_insert_with(|| ctl.clone());
        }
        if timings.started_at.is_empty() || part.timings.started_at < timings.started_at {
            timings.started_at = part.timings.started_at.clone();
        }
        timings.run_ms = timings.run_ms.max(part.timings.run_ms);
        timings
            .cases_ms
            .extend(part.timings.cases_ms.iter().map(|(k, v)| (k.clone(), *v)));
    }
    let mut cases: Vec<CaseResult> = cases.into_values().collect();
    cases.sort_by(|a, b| (!a.is_control(), &a.case.id).cmp(&(!b.is_control(), &b.case.id)));
    Ok(Report {
        schema: first.schema.clone(),
        summary: Summary::of(&cases),
        run,
        controls: controls.into_values().collect(),
        cases,
        timings,
    })
}

/// The parts must be shares 1/N to N/N, each once.
fn check_shares(parts: &[Report]) -> Result<(), MergeError> {
    let mut shares: Vec<(u32, u32)> = Vec::new();
    for p in parts {
        let share = p
            .run
            .partition
            .as_deref()
            .and_then(|s| s.parse::<crate::partition::Partition>().ok())
            .ok_or_else(|| {
                MergeError::Mismatch(format!(
                    "a report of {} is not a partition (run it with --partition K/N)",
                    p.run.target
                ))
            })?;
        shares.push((share.index(), share.count()));
    }
    let n = shares[0].1;
    shares.sort_unstable();
    let want: Vec<(u32, u32)> = (1..=n).map(|k| (k, n)).collect();
    if shares != want {
        let have: Vec<String> = shares.iter().map(|(k, n)| format!("{k}/{n}")).collect();
        return Err(MergeError::Mismatch(format!(
            "the parts are partitions {}; a merge needs 1/{n} to {n}/{n}, each once",
            have.join(", ")
        )));
    }
    Ok(())
}
