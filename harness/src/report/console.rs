//! Console output in the manner of h2spec: grouped by RFC section, one line a case, failure
//! details indented, a summary line and a failure recap.

use std::borrow::Cow;
use std::fmt::Write;

use crate::report::{Health, Report};
use crate::result::{CaseResult, Verdict};

/// Whether to use colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Color {
    /// ANSI colours.
    On,
    /// Plain text.
    Off,
}

fn paint(color: Color, code: &str, s: &str) -> String {
    match color {
        Color::On => format!("\x1b[{code}m{s}\x1b[0m"),
        Color::Off => s.to_string(),
    }
}

fn verdict_code(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass | Verdict::Acceptable => "32",
        Verdict::Warn | Verdict::Untestable | Verdict::Skip => "33",
        Verdict::NotApplicable => "36",
        Verdict::Fail | Verdict::Error => "31",
    }
}

/// `text` with every control character but newline and tab escaped (`\u{1b}`), C1 controls
/// included (`\u{9b}` is CSI too): what a target or a file controls never reaches a terminal
/// as escape sequences.
///
/// ```
/// use byoid::report::console::printable;
/// assert_eq!(printable("a\x1b]0;PWNED\x07b"), "a\\u{1b}]0;PWNED\\u{7}b");
/// assert_eq!(printable("\u{9b}31m"), "\\u{9b}31m");
/// assert_eq!(printable("two\nlines\tok"), "two\nlines\tok");
/// ```
pub fn printable(text: &str) -> Cow<'_, str> {
    let escape = |c: char| c.is_control() && c != '\n' && c != '\t';
    if !text.chars().any(escape) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if escape(c) {
                    c.escape_unicode().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// One line for a case: `  PASS rfc8725/3.1/alg-none/okta  alg none is rejected`.
pub fn case_line(c: &CaseResult, color: Color) -> String {
    let word = format!("{:>10}", c.verdict.word());
    let short = c
        .case
        .id
        .strip_prefix(&format!("{}/", c.case.section))
        .unwrap_or(&c.case.id);
    format!(
        "  {} {}  {}",
        paint(color, verdict_code(c.verdict), &word),
        printable(short),
        printable(&c.case.title)
    )
}

fn details(c: &CaseResult, out: &mut String) {
    if matches!(c.verdict, Verdict::Skip | Verdict::NotApplicable) {
        // Why it was not run (it needs `--tls`, or a capability the target lacks).
        for r in &c.reasons {
            let _ = writeln!(out, "                     why: {}", printable(r));
        }
        return;
    }
    if matches!(c.verdict, Verdict::Pass | Verdict::Acceptable) {
        return;
    }
    if c.verdict == Verdict::Untestable && c.reasons.iter().any(|r| r.contains("positive control"))
    {
        // The failed control says why, once, in the recap.
        return;
    }
    let _ = writeln!(
        out,
        "             -> {} [{}]",
        printable(&c.case.requirement),
        c.case.level
    );
    let _ = writeln!(out, "                expected: {}", c.expected);
    for r in &c.reasons {
        let _ = writeln!(out, "                  actual: {}", printable(r));
    }
}

/// The whole report, grouped by section, with the summary.
pub fn render(report: &Report, color: Color) -> String {
    let mut out = String::new();
    let mut section = "";
    for c in &report.cases {
        if c.case.section != section {
            section = &c.case.section;
            let _ = writeln!(
                out,
                "\n{} {}",
                paint(color, "1", &printable(&section_name(&c.case.section))),
                printable(&c.case.section_title)
            );
        }
        let _ = writeln!(out, "{}", case_line(c, color));
        details(c, &mut out);
    }
    out.push('\n');
    out.push_str(&summary(report, color));
    out
}

/// `rfc8725/3.1` → `RFC 8725 §3.1`.
pub fn section_name(s: &str) -> String {
    match s.split_once('/') {
        Some((rfc, sec)) if rfc.starts_with("rfc") => format!("RFC {} §{sec}", &rfc[3..]),
        _ => s.to_string(),
    }
}

/// The summary line and, when anything failed, the recap by section.
pub fn summary(report: &Report, color: Color) -> String {
    let s = &report.summary;
    let mut out = String::new();
    // Cases untestable because their flavor's control failed are not listed one by one: the
    // control is, with a count.
    let control_failed = |c: &CaseResult| {
        report
            .controls
            .iter()
            .any(|ctl| ctl.flavor == c.case.flavor && !ctl.accepted)
    };
    let bad: Vec<&CaseResult> = report
        .cases
        .iter()
        .filter(|c| match c.verdict {
            Verdict::Fail | Verdict::Error | Verdict::Warn => true,
            Verdict::Untestable => !control_failed(c),
            _ => false,
        })
        .collect();
    if !bad.is_empty() {
        let _ = writeln!(out, "Failures:");
        let mut section = "";
        for c in bad {
            if c.case.section != section {
                section = &c.case.section;
                let _ = writeln!(
                    out,
                    "  {} {}",
                    printable(&section_name(&c.case.section)),
                    printable(&c.case.section_title)
                );
            }
            let _ = writeln!(out, "  {}", case_line(c, color));
        }
        out.push('\n');
    }
    for ctl in report.controls.iter().filter(|c| !c.accepted) {
        let untestable = report
            .cases
            .iter()
            .filter(|c| c.case.flavor == ctl.flavor && c.verdict == Verdict::Untestable)
            .count();
        let _ = writeln!(
            out,
            "{} the genuine {} token was rejected ({}): {untestable} {} case(s) untestable",
            paint(color, "31", "error:"),
            ctl.flavor,
            printable(&ctl.detail),
            ctl.flavor,
        );
    }
    if !report.run.skipped_flavors.is_empty() {
        let _ = writeln!(
            out,
            "Flavors deselected (--skip-flavor): {}",
            report.run.skipped_flavors.join(", ")
        );
    }
    let line = format!("Summary: {} cases, {}", s.total, s.counts());
    let code = match s.health() {
        Health::Failed => "31",
        Health::Warned => "33",
        Health::Clean => "32",
    };
    let _ = writeln!(out, "{}", paint(color, code, &line));
    out
}
