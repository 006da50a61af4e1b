//! Markdown for a CI job summary (`$GITHUB_STEP_SUMMARY`): title and target, a totals table
//! by level × verdict, a table by section, then the cases that did not pass (failures and
//! errors first, then warnings, then untestable cases) with their references, expectation
//! and the reasons observed.
//!
//! Deterministic: no timings. Text that comes from the target (reasons, observed values) is
//! put in code spans, and all other text is escaped, so that a hostile answer cannot inject
//! links, images or HTML into the summary.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::catalog::Level;
use crate::report::console::section_name;
use crate::report::{Health, Report};
use crate::result::{CaseResult, Verdict};

/// The Markdown text of `report`.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    let s = &report.summary;
    let icon = match s.health() {
        Health::Failed => "❌",
        Health::Warned => "⚠️",
        Health::Clean => "✅",
    };
    let _ = writeln!(out, "# {icon} byoid conformance report\n");
    let _ = writeln!(out, "* **Target:** {}", code(&report.run.target));
    let _ = writeln!(
        out,
        "* **Harness:** {} · catalog {} · seed {} · tenant source {}",
        text(&report.run.harness_version),
        code(&report.run.catalog_hash),
        report.run.seed,
        code(&report.run.tenant_source)
    );
    if !report.run.filters.is_empty() {
        let f: Vec<String> = report.run.filters.iter().map(|f| code(f)).collect();
        let _ = writeln!(out, "* **Filters:** {}", f.join(", "));
    }
    if !report.run.skipped_flavors.is_empty() {
        let f: Vec<String> = report.run.skipped_flavors.iter().map(|f| code(f)).collect();
        let _ = writeln!(
            out,
            "* **Flavors deselected (`--skip-flavor`):** {}",
            f.join(", ")
        );
    }
    let _ = writeln!(out, "* **Result:** {} cases: {}\n", s.total, s.counts());
    for ctl in report.controls.iter().filter(|c| !c.accepted) {
        let _ = writeln!(
            out,
            "> **Warning:** the positive control for {} failed: {}\n",
            code(ctl.flavor.name()),
            code(&ctl.detail)
        );
    }

    // Totals by level.
    let _ = writeln!(out, "## Totals\n");
    let columns: Vec<Verdict> = Verdict::columns(report.summary.not_applicable > 0).collect();
    let mut header = "| Level |".to_string();
    let mut rule = "|---|".to_string();
    for v in &columns {
        let name = match v {
            Verdict::Pass => "Pass",
            Verdict::Acceptable => "Acceptable",
            Verdict::Warn => "Warn",
            Verdict::Fail => "Fail",
            Verdict::Untestable => "Untestable",
            Verdict::Skip => "Skip",
            Verdict::NotApplicable => "N/A",
            Verdict::Error => "Error",
        };
        let _ = write!(header, " {name} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header} Total |\n{rule}---:|");
    for level in [Level::Must, Level::Should, Level::May] {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.case.level == level)
            .collect();
        let mut row = format!("| {level} |");
        for &v in &columns {
            let _ = write!(
                row,
                " {} |",
                cases.iter().filter(|c| c.verdict == v).count()
            );
        }
        let _ = writeln!(out, "{row} {} |", cases.len());
    }
    let mut row = "| **All** |".to_string();
    for &v in &columns {
        let _ = write!(
            row,
            " **{}** |",
            report.cases.iter().filter(|c| c.verdict == v).count()
        );
    }
    let _ = writeln!(out, "{row} **{}** |\n", report.cases.len());

    // By section.
    let mut sections: BTreeMap<&str, (&str, [usize; 4])> = BTreeMap::new();
    for c in &report.cases {
        let e = sections
            .entry(c.case.section.as_str())
            .or_insert((c.case.section_title.as_str(), [0; 4]));
        let i = match c.verdict {
            Verdict::Pass | Verdict::Acceptable => 0,
            Verdict::Fail | Verdict::Error => 1,
            Verdict::Warn => 2,
            Verdict::Untestable | Verdict::Skip | Verdict::NotApplicable => 3,
        };
        e.1[i] += 1;
    }
    let _ = writeln!(out, "## By section\n");
    let other = if report.summary.not_applicable > 0 {
        "untestable, skipped and not applicable"
    } else {
        "untestable and skipped"
    };
    let _ = writeln!(
        out,
        "Pass counts acceptable outcomes, fail counts errors, other is {other} cases.\n"
    );
    out.push_str(
        "| Section | Title | Pass | Fail | Warn | Other |\n|---|---|---:|---:|---:|---:|\n",
    );
    for (key, (title, n)) in &sections {
        let mark = if n[1] > 0 { " ❌" } else { "" };
        let _ = writeln!(
            out,
            "| {}{mark} | {} | {} | {} | {} | {} |",
            text(&section_name(key)),
            text(title),
            n[0],
            n[1],
            n[2],
            n[3]
        );
    }
    out.push('\n');

    let groups: [(&str, &[Verdict]); 3] = [
        ("Failures", &[Verdict::Fail, Verdict::Error]),
        ("Warnings", &[Verdict::Warn]),
        ("Untestable", &[Verdict::Untestable]),
    ];
    for (name, verdicts) in groups {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| verdicts.contains(&c.verdict))
            .collect();
        if cases.is_empty() {
            continue;
        }
        let _ = writeln!(out, "## {name} ({})\n", cases.len());
        for c in cases {
            let _ = writeln!(out, "### {} {}\n", c.verdict.word(), code(&c.case.id));
            let _ = writeln!(
                out,
                "{} — {} [{}]\n",
                text(&c.case.title),
                text(&c.case.requirement),
                c.case.level
            );
            if !c.case.refs.is_empty() {
                let refs: Vec<String> = c.case.refs.iter().map(|r| text(r)).collect();
                let _ = writeln!(out, "* **Refs:** {}", refs.join(", "));
            }
            let _ = writeln!(out, "* **Flavor:** {}", code(c.case.flavor.name()));
            let _ = writeln!(out, "* **Expected:** {}", code(&c.expected));
            if c.reasons.is_empty() {
                let _ = writeln!(out, "* **Actual:** (no reason recorded)");
            } else {
                let _ = writeln!(out, "* **Actual:**");
                for r in &c.reasons {
                    let _ = writeln!(out, "  * {}", code(r));
                }
            }
            out.push('\n');
        }
    }
    if s.health() == Health::Clean {
        out.push_str("Every case passed.\n");
    }
    out
}

/// Escapes text for Markdown (and the HTML GitHub allows in it): punctuation that starts
/// emphasis, links, code or table cells is backslash-escaped, `<`, `>` and `&` become
/// entities, and line breaks become spaces.
pub fn text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '~' | '!' | '#' | '(' | ')' => {
                out.push('\\');
                out.push(ch);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A code span holding `s` verbatim (line breaks folded to spaces), with a fence longer than
/// any run of backticks in it. Not for table cells (a `|` would split the cell).
pub fn code(s: &str) -> String {
    let body: String = s
        .chars()
        .map(|c| {
            if c == '\n' || c == '\r' || c == '\t' {
                ' '
            } else {
                c
            }
        })
        .filter(|c| !c.is_control())
        .collect();
    if body.is_empty() {
        return "(empty)".to_string();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in body.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if body.starts_with('`')
        || body.ends_with('`')
        || (body.starts_with(' ') && body.ends_with(' '))
    {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{body}{pad}{fence}")
}
