//! Snapshot test (insta) of the console report, not of how long a run took:
//! `snapshots/report_snapshots__console.snap` is the plain console rendering of a small
//! hand-built report that holds every verdict variant. The verdicts of every case against the
//! reference and each planted defect are snapshotted by `matrix.rs`, from the matrix's runs.

mod common;

use byoid::report::console::{self, Color};
use common::{sample, Sample};

#[test]
fn console_rendering_of_every_verdict() {
    let report = sample(Sample::Plain);
    let text = console::render(&report, Color::Off);
    for v in [
        "PASS",
        "ACCEPT",
        "WARN",
        "FAIL",
        "UNTESTABLE",
        "SKIP",
        "ERROR",
    ] {
        assert!(text.contains(v), "{v} missing from:\n{text}");
    }
    assert!(!text.contains("42"), "no timings on the console report");
    let mut settings = insta::Settings::clone_current();
    settings.set_omit_expression(true);
    settings.bind(|| insta::assert_snapshot!("console", text));
    // With colour: the same text once the ANSI codes are stripped.
    let colored = console::render(&report, Color::On);
    assert!(colored.contains("\x1b[31m"));
    let mut stripped = String::new();
    let mut rest = colored.as_str();
    while let Some(i) = rest.find("\x1b[") {
        stripped.push_str(&rest[..i]);
        let after = &rest[i..];
        rest = &after[after.find('m').map(|m| m + 1).unwrap_or(after.len())..];
    }
    stripped.push_str(rest);
    assert_eq!(stripped, text);
}
