//! The findings page of the library matrix (`byoid report findings`): for every case a
//! library adapter fails or warns, one line saying what the library did, grouped under the
//! library behaviour behind it (why, and the configuration change that fixes it), with the
//! command that reproduces it.
//!
//! What a library did comes from its run's `report.json`; why, and the fix, from the
//! adapter's `library.toml`, which its author wrote after reading the run:
//!
//! ```toml
//! name = "jsonwebtoken"
//! versions = "jsonwebtoken 9.0.3, jwks-rsa 4.1.0"
//! language = "Node"
//! setup = "cd targets/lib-node-jsonwebtoken && npm ci"
//! target_cmd = "node targets/lib-node-jsonwebtoken/server.js"
//!
//! [[finding]]
//! cases = ["rfc9068/4.typ"]
//! what = "accepts a token whatever its `typ` header says"
//! why = "`jwt.verify` has no `typ` option"
//! fix = "none"
//! ```
//!
//! A finding's `cases` entry explains a case when it is the case id or a prefix of it ending
//! at a `/`. Every failed or warned case must be explained by exactly one finding, so the page
//! never shows a verdict nobody read.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::markdown::{code, text};
use super::Report;
use crate::catalog::id_within;
use crate::result::Verdict;

/// An adapter's notes on its library: what it is, how to run it, and its findings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LibraryNotes {
    /// Short name: the report directory and the matrix column.
    pub name: String,
    /// The exact versions in use, e.g. `jsonwebtoken 9.0.3, jwks-rsa 4.1.0`.
    pub versions: String,
    /// The ecosystem, e.g. `Node`.
    pub language: String,
    /// The command that installs the adapter, run from the repository root (may be empty).
    #[serde(default)]
    pub setup: String,
    /// The `--target-cmd` that runs the adapter, from the repository root.
    pub target_cmd: String,
    /// Library behaviours behind failed or warned cases.
    #[serde(default, rename = "finding")]
    pub findings: Vec<Finding>,
}

/// One library behaviour and the cases it fails or warns.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Finding {
    /// Case ids or id prefixes (ending at a `/`) this behaviour explains.
    pub cases: Vec<String>,
    /// What the library did.
    pub what: String,
    /// Why: its documented default, or a pointer into its code.
    pub why: String,
    /// The one-line configuration change that fixes it, checked with a run, or `none`.
    pub fix: String,
}

/// Why the findings page could not be written.
#[derive(Debug, thiserror::Error)]
pub enum FindingsError {
    /// A `library.toml` could not be read or parsed.
    #[error("{}: {message}", path.display())]
    Notes {
        /// The file.
        path: PathBuf,
        /// Where and why.
        message: String,
    },
    /// A failed or warned case that no finding explains, or one that two explain.
    #[error("{}: {message}", path.display())]
    Unexplained {
        /// The `library.toml`.
        path: PathBuf,
        /// Which cases.
        message: String,
    },
}

fn explains(entry: &str, id: &str) -> bool {
    id_within(id, entry) || (entry.ends_with('/') && id.starts_with(entry))
}

impl Finding {
    fn explains(&self, id: &str) -> bool {
        self.cases.iter().any(|e| explains(e, id))
    }
}

impl LibraryNotes {
    /// Reads a `library.toml`; errors name the file, line and field.
    pub fn load(path: &Path) -> Result<Self, FindingsError> {
        let fail = |message: String| FindingsError::Notes {
            path: path.to_path_buf(),
            message,
        };
        let text = crate::input::read_to_string(path, crate::input::CONFIG_LIMIT)
            .map_err(|e| fail(e.to_string()))?;
        let notes: LibraryNotes =
            toml::from_str(&text).map_err(|e| fail(e.to_string().trim().to_string()))?;
        for (i, f) in notes.findings.iter().enumerate() {
            if f.cases.is_empty() {
                return Err(fail(format!("finding {}: `cases` is empty", i + 1)));
            }
        }
        Ok(notes)
    }

    /// The index of the finding that explains a case id, if one does.
    ///
    /// ```
    /// use byoid::report::findings::LibraryNotes;
    ///
    /// let notes: LibraryNotes = toml::from_str(r#"
    ///     name = "x"
    ///     versions = "x 1.0"
    ///     language = "Rust"
    ///     target_cmd = "x"
    ///     [[finding]]
    ///     cases = ["rfc9068/4.typ"]
    ///     what = "ignores typ"
    ///     why = "no option"
    ///     fix = "none"
    /// "#).unwrap();
    /// assert_eq!(notes.explaining("rfc9068/4.typ/typ-foo/okta"), Some(0));
    /// assert_eq!(notes.explaining("rfc9068/4.typx/a"), None);
    /// ```
    pub fn explaining(&self, id: &str) -> Option<usize> {
        self.findings.iter().position(|f| f.explains(id))
    }

    /// The failed or warned cases of `report` that no finding explains, or that more than one
    /// does, each as `id (verdict)`.
    pub fn unexplained(&self, report: &Report) -> Vec<String> {
        noted_cases(report)
            .filter(|c| {
                self.findings
                    .iter()
                    .filter(|f| f.explains(&c.case.id))
                    .count()
                    != 1
            })
            .map(|c| format!("{} ({})", c.case.id, c.verdict.word()))
            .collect()
    }
}

/// The cases a findings page lists: failures and warnings.
fn noted_cases(report: &Report) -> impl Iterator<Item = &crate::result::CaseResult> {
    report
        .cases
        .iter()
        .filter(|c| matches!(c.verdict, Verdict::Fail | Verdict::Warn))
}

/// One library on the page: its notes (and where they came from) and its run.
pub struct LibraryRun {
    /// The `library.toml`.
    pub notes_path: PathBuf,
    /// Its contents.
    pub notes: LibraryNotes,
    /// The adapter's run.
    pub report: Report,
}

/// Renders the findings page (Markdown) for several libraries, in the order given.
///
/// Fails when a failed or warned case is explained by no finding, or by two.
pub fn render(runs: &[LibraryRun]) -> Result<String, FindingsError> {
    for run in runs {
        let missing = run.notes.unexplained(&run.report);
        if !missing.is_empty() {
            return Err(FindingsError::Unexplained {
                path: run.notes_path.clone(),
                message: format!(
                    "{} failed or warned case(s) explained by no [[finding]] or by several: {}",
                    missing.len(),
                    missing.join(", ")
                ),
            });
        }
    }
    let mut out = String::new();
    out.push_str("# Findings: JWT libraries with their documented defaults\n\n");
    out.push_str(
        "Every case a library adapter fails or warns, grouped by the library behaviour behind \
         it. Each adapter configures its library as the library's own documentation shows; \
         its README says what its glue adds. A line's command reproduces that case alone, \
         from the repository root, after the library's setup command (`byoid` is the \
         installed binary, or `cargo run --release --` in a checkout).\n\n",
    );
    if let Some(first) = runs.first() {
        let r = &first.report.run;
        let _ = writeln!(
            out,
            "Harness {}, catalog `{}`, seed {}, tenant source {}.\n",
            r.harness_version, r.catalog_hash, r.seed, r.tenant_source
        );
    }
    out.push_str(
        "| Library | Versions | Language | MUST failures | SHOULD/MAY warnings | Findings |\n",
    );
    out.push_str("|---|---|---|---:|---:|---:|\n");
    for run in runs {
        let n = &run.notes;
        let s = &run.report.summary;
        let used = used_findings(run).len();
        let _ = writeln!(
            out,
            "| [{}](#{}) | {} | {} | {} | {} | {} |",
            text(&n.name),
            anchor(&n.name),
            text(&n.versions),
            text(&n.language),
            run.report.must_failures(),
            s.warn,
            used
        );
    }
    for run in runs {
        render_library(&mut out, run);
    }
    Ok(out)
}

fn used_findings(run: &LibraryRun) -> Vec<usize> {
    let mut used: Vec<usize> = noted_cases(&run.report)
        .filter_map(|c| run.notes.explaining(&c.case.id))
        .collect();
    used.sort_unstable();
    used.dedup();
    used
}

fn anchor(name: &str) -> String {
    name.chars()
        .filter_map(|c| match c {
            'a'..='z' | '0'..='9' | '-' | '_' => Some(c),
            'A'..='Z' => Some(c.to_ascii_lowercase()),
            ' ' => Some('-'),
            _ => None,
        })
        .collect()
}

fn render_library(out: &mut String, run: &LibraryRun) {
    let n = &run.notes;
    let _ = writeln!(out, "\n## {}\n", text(&n.name));
    let _ = writeln!(out, "{} ({}).\n", text(&n.versions), text(&n.language));
    if !n.setup.is_empty() {
        let _ = writeln!(out, "Setup: {}\n", code(&n.setup));
    }
    let controls_failed: Vec<_> = run.report.controls.iter().filter(|c| !c.accepted).collect();
    if controls_failed.is_empty() {
        out.push_str("Genuine tokens of every flavor are accepted.\n");
    } else {
        for c in controls_failed {
            let _ = writeln!(
                out,
                "**Genuine {} tokens are rejected**: {}\n",
                text(&c.flavor.to_string()),
                text(&c.detail)
            );
        }
    }
    for i in used_findings(run) {
        let f = &n.findings[i];
        let cases: Vec<_> = noted_cases(&run.report)
            .filter(|c| n.explaining(&c.case.id) == Some(i))
            .collect();
        let fails = cases.iter().filter(|c| c.verdict == Verdict::Fail).count();
        let warns = cases.len() - fails;
        let mut counts = Vec::new();
        if fails > 0 {
            counts.push(format!("{fails} failed"));
        }
        if warns > 0 {
            counts.push(format!("{warns} warned"));
        }
        let _ = writeln!(
            out,
            "\n### {}: {}\n\n{}: {}\n\n**Why:** {}\n\n**Fix:** {}\n",
            text(&n.name),
            f.what,
            text(&n.versions),
            counts.join(", "),
            f.why,
            f.fix
        );
        out.push_str(
            "| Case | Level | Verdict | What it did | Reproduce |\n|---|---|---|---|---|\n",
        );
        for c in cases {
            let did = if c.reasons.is_empty() {
                c.verdict.word().to_string()
            } else {
                c.reasons.join("; ")
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                c.case.id,
                c.case.level,
                c.verdict.word(),
                text(&did),
                cell_code(&format!(
                    "byoid scenarios --target-cmd '{}' --filter {}",
                    n.target_cmd, c.case.id
                ))
            );
        }
    }
}

/// A code span safe inside a table cell: `|` cannot be escaped within backticks on every
/// renderer, so the command is shown with an HTML entity there instead.
fn cell_code(s: &str) -> String {
    if s.contains('|') || s.contains('`') {
        format!("<code>{}</code>", text(s).replace("\\|", "&#124;"))
    } else {
        format!("`{s}`")
    }
}

#[cfg(test)]
mod tests {
    use super::explains;

    #[test]
    fn an_entry_explains_its_id_and_the_ids_below_it() {
        assert!(explains("rfc9068/4.typ", "rfc9068/4.typ"));
        assert!(explains("rfc9068/4.typ", "rfc9068/4.typ/typ-foo/okta"));
        assert!(explains("rfc9068/4.typ/", "rfc9068/4.typ/typ-foo/okta"));
        assert!(!explains("rfc9068/4.typ", "rfc9068/4.typx/typ-foo"));
        assert!(!explains("rfc9068/4/exp", "rfc9068/4/exp-missing/okta"));
    }
}
