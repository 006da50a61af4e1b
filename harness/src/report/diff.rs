//! Reading reports back (baselines, matrices) and comparing two runs.
//!
//! Reports are read as [`serde_json::Value`] rather than into the typed model, so that a
//! report written by an older or newer harness with the same schema still loads. [`load`]
//! checks what the comparison and the matrix rely on: the `schema` value, a `cases` array,
//! and a string `id` and a known `verdict` in every case, each id once.
//!
//! Severity, for regressions: pass = acceptable = skip (0) < warn (1) < untestable (2) <
//! fail = error (3). A case whose severity went up is a regression, down an improvement;
//! changes within one level (pass → acceptable, fail → error) are neither.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::Value;

use crate::report::console::printable;
use crate::report::SCHEMA;
use crate::result::Verdict;

/// The verdict a report names `name`, if any (the JSON report's kebab-case names).
///
/// ```
/// use byoid::{report::diff::verdict_named, result::Verdict};
/// assert_eq!(verdict_named("not-applicable"), Some(Verdict::NotApplicable));
/// assert_eq!(verdict_named("PASS"), None);
/// ```
pub fn verdict_named(name: &str) -> Option<Verdict> {
    Verdict::ALL
        .into_iter()
        .find(|v| crate::report::junit::verdict_name(*v) == name)
}

/// Why a report file cannot be used. Every message starts with the file's path.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// The file could not be read (or is not a regular file, or is too large).
    #[error("{}: cannot read the report: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: crate::input::InputError,
    },
    /// The file is empty or ends in the middle of the JSON text.
    #[error("{}: the report is truncated: the JSON ends early at line {line}, column {column}", path.display())]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
    },
    /// The file is not JSON.
    #[error("{}: not a JSON report: {message} at line {line}, column {column}", path.display())]
    NotJson {
        /// The file.
        path: PathBuf,
        /// The parser's message.
        message: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
    },
    /// The `schema` field is missing or not `byoid-report/1`.
    #[error("{}: not a {SCHEMA} report: {found}", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        found: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("{}: invalid report: {what}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the field.
        what: String,
    },
}

/// Reads and checks a JSON report.
pub fn load(path: &Path) -> Result<Value, DiffError> {
    let bytes = crate::input::read(path, crate::input::REPORT_LIMIT).map_err(|source| {
        DiffError::Unreadable {
            path: path.to_path_buf(),
            source,
        }
    })?;
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(DiffError::Truncated {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
        });
    }
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        let (line, column) = (e.line(), e.column());
        match e.classify() {
            serde_json::error::Category::Eof => DiffError::Truncated {
                path: path.to_path_buf(),
                line,
                column,
            },
            _ => {
                let msg = e.to_string();
                // serde_json appends " at line L column C"; we say it our way.
                let message = msg
                    .rsplit_once(" at line ")
                    .map(|(m, _)| m.to_string())
                    .unwrap_or(msg);
                DiffError::NotJson {
                    path: path.to_path_buf(),
                    message,
                    line,
                    column,
                }
            }
        }
    })?;
    validate(&value).map_err(|e| match e {
        Invalid::Schema(found) => DiffError::Schema {
            path: path.to_path_buf(),
            found,
        },
        Invalid::Field(what) => DiffError::Invalid {
            path: path.to_path_buf(),
            what,
        },
    })?;
    Ok(value)
}

enum Invalid {
    Schema(String),
    Field(String),
}

fn validate(v: &Value) -> Result<(), Invalid> {
    let Some(obj) = v.as_object() else {
        return Err(Invalid::Field(format!(
            "the top level is {}, not an object",
            kind(v)
        )));
    };
    match obj.get("schema") {
        Some(Value::String(s)) if s == SCHEMA => {}
        Some(Value::String(s)) => {
            return Err(Invalid::Schema(format!(
                "`schema` is {s:?}, expected {SCHEMA:?}"
            )))
        }
        Some(other) => {
            return Err(Invalid::Schema(format!(
                "`schema` is {}, expected the string {SCHEMA:?}",
                kind(other)
            )))
        }
        None => return Err(Invalid::Schema("no `schema` field".into())),
    }
    let cases = match obj.get("cases") {
        Some(Value::Array(a)) => a,
        Some(other) => {
            return Err(Invalid::Field(format!(
                "`cases` is {}, not an array",
                kind(other)
            )))
        }
        None => return Err(Invalid::Field("missing `cases`".into())),
    };
    let mut seen = std::collections::BTreeSet::new();
    for (i, c) in cases.iter().enumerate() {
        let Some(c) = c.as_object() else {
            return Err(Invalid::Field(format!(
                "`cases[{i}]` is {}, not an object",
                kind(c)
            )));
        };
        let id = match c.get("id") {
            Some(Value::String(s)) => s.as_str(),
            Some(other) => {
                return Err(Invalid::Field(format!(
                    "`cases[{i}].id` is {}, not a string",
                    kind(other)
                )))
            }
            None => return Err(Invalid::Field(format!("`cases[{i}]` has no `id`"))),
        };
        match c.get("verdict") {
            Some(Value::String(s)) if verdict_named(s).is_some() => {}
            Some(Value::String(s)) => {
                let names: Vec<&str> = Verdict::ALL
                    .into_iter()
                    .map(crate::report::junit::verdict_name)
                    .collect();
                return Err(Invalid::Field(format!(
                    "`cases[{i}].verdict` ({id}) is {s:?}, not one of {}",
                    names.join(", ")
                )));
            }
            Some(other) => {
                return Err(Invalid::Field(format!(
                    "`cases[{i}].verdict` ({id}) is {}, not a string",
                    kind(other)
                )))
            }
            None => {
                return Err(Invalid::Field(format!(
                    "`cases[{i}]` ({id}) has no `verdict`"
                )))
            }
        }
        if !seen.insert(id) {
            return Err(Invalid::Field(format!(
                "case id {id:?} appears more than once"
            )));
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The severity of a verdict name ([`Verdict::severity`]); unknown names count as the worst.
pub fn severity(verdict: &str) -> u8 {
    verdict_named(verdict).map_or(3, Verdict::severity)
}

/// A case whose verdict changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Change {
    /// The case id.
    pub id: String,
    /// The verdict before (`None`: the case was not in the earlier report).
    pub before: Option<String>,
    /// The verdict after (`None`: the case is not in the later report).
    pub after: Option<String>,
}

/// How two runs differ. Every list is sorted by case id.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Cases whose severity went up.
    pub regressions: Vec<Change>,
    /// Cases whose severity went down.
    pub improvements: Vec<Change>,
    /// Cases only in the later report.
    pub added: Vec<String>,
    /// Cases only in the earlier report.
    pub removed: Vec<String>,
    /// Whether the later run was filtered on purpose (`--filter`, `--skip-flavor`): only then
    /// are removed cases expected.
    pub later_filtered: bool,
}

impl Diff {
    /// Whether any case got worse, or disappeared from a run that was not filtered (a case
    /// that no longer runs is no longer judged).
    pub fn has_regressions(&self) -> bool {
        !self.regressions.is_empty() || (!self.removed.is_empty() && !self.later_filtered)
    }
}

/// Whether a report's run was filtered or had flavors deselected.
fn filtered(report: &Value) -> bool {
    let non_empty = |key: &str| report["run"][key].as_array().is_some_and(|a| !a.is_empty());
    non_empty("filters") || non_empty("skipped_flavors")
}

/// Case id → verdict, for a report value (cases without a string id are ignored).
pub fn verdicts(report: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(cases) = report.get("cases").and_then(Value::as_array) {
        for c in cases {
            if let Some(id) = c.get("id").and_then(Value::as_str) {
                let v = c.get("verdict").and_then(Value::as_str).unwrap_or("error");
                out.insert(id.to_string(), v.to_string());
            }
        }
    }
    out
}

/// Compares an earlier report with a later one.
pub fn compare(before: &Value, after: &Value) -> Diff {
    let b = verdicts(before);
    let a = verdicts(after);
    let mut diff = Diff {
        later_filtered: filtered(after),
        ..Diff::default()
    };
    for (id, vb) in &b {
        match a.get(id) {
            None => diff.removed.push(id.clone()),
            Some(va) => {
                let change = || Change {
                    id: id.clone(),
                    before: Some(vb.clone()),
                    after: Some(va.clone()),
                };
                match severity(va).cmp(&severity(vb)) {
                    std::cmp::Ordering::Greater => diff.regressions.push(change()),
                    std::cmp::Ordering::Less => diff.improvements.push(change()),
                    std::cmp::Ordering::Equal => {}
                }
            }
        }
    }
    diff.added = a
        .keys()
        .filter(|id| !b.contains_key(*id))
        .cloned()
        .collect();
    diff
}

/// The diff as text, one line a case, in id order.
pub fn render(diff: &Diff) -> String {
    let mut out = String::new();
    let arrow = |c: &Change| {
        format!(
            "{} -> {}",
            c.before.as_deref().unwrap_or("(none)"),
            c.after.as_deref().unwrap_or("(none)")
        )
    };
    let width = diff
        .regressions
        .iter()
        .chain(&diff.improvements)
        .map(|c| c.id.chars().count())
        .max()
        .unwrap_or(0);
    for (title, list) in [
        ("Regressions", &diff.regressions),
        ("Improvements", &diff.improvements),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title} ({}):", list.len());
        for c in list {
            let _ = writeln!(out, "  {:<width$}  {}", printable(&c.id), arrow(c));
        }
        out.push('\n');
    }
    let removed_note = if diff.later_filtered {
        ", expected: the later run was filtered"
    } else {
        ", a regression: the later run was not filtered, so these are no longer judged"
    };
    for (title, note, list) in [
        ("Added", "", &diff.added),
        ("Removed", removed_note, &diff.removed),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(out, "{title} ({}){note}:", list.len());
        for id in list {
            let _ = writeln!(out, "  {}", printable(id));
        }
        out.push('\n');
    }
    if diff.regressions.is_empty()
        && diff.improvements.is_empty()
        && diff.added.is_empty()
        && diff.removed.is_empty()
    {
        out.push_str("No case changed severity; no case added or removed.\n");
    }
    let plural = |n: usize, w: &str| format!("{n} {w}{}", if n == 1 { "" } else { "s" });
    let _ = writeln!(
        out,
        "Diff: {}, {}, {} added, {} removed",
        plural(diff.regressions.len(), "regression"),
        plural(diff.improvements.len(), "improvement"),
        diff.added.len(),
        diff.removed.len()
    );
    out
}
