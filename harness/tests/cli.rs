//! The `byoid` command line: exit codes, baselines and bad input, as a user meets them.

use std::process::Command;

fn byoid() -> Command {
    Command::new(env!("CARGO_BIN_EXE_byoid"))
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("byoid-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_baseline_regression_fails_the_run_and_an_unchanged_run_passes() {
    let dir = tmp("baseline");
    let base = dir.join("baseline.json");
    let filter = ["--filter", "rfc8725/3.1/alg-none", "--color", "never"];
    let out = byoid()
        .args(["scenarios", "--baseline"])
        .arg(&base)
        .arg("--update-baseline")
        .args(filter)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(base.exists());
    let same = byoid()
        .args(["scenarios", "--baseline"])
        .arg(&base)
        .args(filter)
        .output()
        .unwrap();
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    assert!(String::from_utf8_lossy(&same.stdout).contains("0 regressions"));
    let worse = byoid()
        .args(["scenarios", "--defect", "none-accepted", "--baseline"])
        .arg(&base)
        .args(filter)
        .output()
        .unwrap();
    assert_eq!(worse.status.code(), Some(100));
    assert!(String::from_utf8_lossy(&worse.stderr).contains("regressed"));
    assert!(String::from_utf8_lossy(&worse.stdout).contains("pass -> fail"));
    // `report diff` between the two reports says the same.
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unwritable_report_dir_is_reported_before_the_run() {
    let dir = tmp("unwritable");
    let file = dir.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = byoid()
        .args(["scenarios", "--report-dir"])
        .arg(file.join("sub"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(96));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not writable"));
    // Refused before running the catalog: no case was judged, no summary printed.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        !stdout.contains("PASS") && !stdout.contains("Summary"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn corrupt_reports_get_errors_naming_the_file() {
    let dir = tmp("corrupt");
    let truncated = dir.join("truncated.json");
    std::fs::write(
        &truncated,
        br#"{"schema":"byoid-report/1","cases":[{"id":"a","verd"#,
    )
    .unwrap();
    let other = dir.join("other.json");
    std::fs::write(&other, br#"{"schema":"something-else/3","cases":[]}"#).unwrap();
    for (a, b) in [(&truncated, &other), (&other, &truncated)] {
        let out = byoid()
            .args(["report", "diff"])
            .arg(a)
            .arg(b)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(96));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(a.file_name().unwrap().to_str().unwrap()),
            "{err}"
        );
    }
    let out = byoid()
        .args(["report", "matrix"])
        .arg(&other)
        .arg("-o")
        .arg(dir.join("m.html"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(96));
    assert!(String::from_utf8_lossy(&out.stderr).contains("something-else/3"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_bad_catalog_names_file_line_and_field() {
    let dir = tmp("catalog");
    std::fs::write(
        dir.join("broken.toml"),
        "section = \"x/1\"\ntitle = \"X\"\nlevel = \"must\"\n\n[[case]]\nid = \"a\"\ntitle = \"t\"\nexpect = \"ok\"\ntokn = {}\n",
    )
    .unwrap();
    let out = byoid()
        .args(["scenarios", "--catalog"])
        .arg(&dir)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(96));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken.toml") && err.contains("line 9") && err.contains("tokn"),
        "{err}"
    );
    let out = byoid()
        .args(["scenarios", "--filter", "no/such/case"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn version_names_the_harness_the_contract_and_the_catalog() {
    let out = byoid().arg("--version").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(env!("CARGO_PKG_VERSION"))
            && text.contains(byoid::world::CONTRACT)
            && text.contains(&byoid::catalog::builtin_hash()),
        "{text}"
    );
}

#[test]
fn the_findings_page_explains_every_failure_or_names_what_it_cannot() {
    let dir = tmp("findings");
    let out = byoid()
        .args(["scenarios", "--defect", "none-accepted", "--color", "never"])
        .args(["--filter", "rfc8725/3.1/alg-none", "--report-dir"])
        .arg(dir.join("lib"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(100),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let head = "name = \"lib\"\nversions = \"lib 1.2.3\"\nlanguage = \"Rust\"\n\
                target_cmd = \"lib-server --port 0\"\n";
    let notes = dir.join("library.toml");
    let page = dir.join("FINDINGS.md");
    let findings = |notes_text: &str| {
        std::fs::write(&notes, notes_text).unwrap();
        byoid()
            .args(["report", "findings"])
            .arg(&notes)
            .arg("--reports")
            .arg(&dir)
            .arg("-o")
            .arg(&page)
            .output()
            .unwrap()
    };

    let explained = format!(
        "{head}[[finding]]\ncases = [\"rfc8725/3.1/alg-none\"]\nwhat = \"accepts `alg: none`\"\n\
         why = \"the defect\"\nfix = \"`algorithms = [\\\"RS256\\\"]`\"\n"
    );
    let ok = findings(&explained);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let text = std::fs::read_to_string(&page).unwrap();
    assert!(text.contains("lib 1.2.3"), "{text}");
    assert!(text.contains("accepts `alg: none`"), "{text}");
    assert!(
        text.contains("`byoid scenarios --target-cmd 'lib-server --port 0' --filter rfc8725/3.1/alg-none/okta`"),
        "{text}"
    );

    // A failure nobody explained is refused, naming the notes and the case.
    let bare = findings(head);
    assert_eq!(bare.status.code(), Some(96));
    let err = String::from_utf8_lossy(&bare.stderr);
    assert!(
        err.contains("library.toml") && err.contains("rfc8725/3.1/alg-none/okta (FAIL)"),
        "{err}"
    );

    // A misspelt field names the file and its line.
    let typo = findings(&format!(
        "{head}[[finding]]\ncases = [\"x\"]\nwaht = \"?\"\n"
    ));
    assert_eq!(typo.status.code(), Some(96));
    let err = String::from_utf8_lossy(&typo.stderr);
    assert!(
        err.contains("library.toml") && err.contains("line 7") && err.contains("waht"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
