//! The report renderers: JUnit, Markdown, HTML (single run and matrix) and the run diff.

mod common;

use std::path::PathBuf;

use byoid::report::{diff, html, junit, markdown};
use common::{sample, Sample};
use serde_json::json;

fn attr(e: &quick_xml::events::BytesStart<'_>, name: &str) -> String {
    let a = e
        .try_get_attribute(name)
        .unwrap()
        .unwrap_or_else(|| panic!("no {name} attribute"));
    String::from_utf8(a.value.into_owned()).unwrap()
}

#[test]
fn junit_parses_back_with_one_testcase_per_case() {
    use quick_xml::events::Event;
    let report = sample(Sample::Hostile);
    let xml = junit::render(&report, false);
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut testcases, mut failures, mut errors, mut skipped, mut suites) =
        (0, 0, 0, 0, Vec::new());
    let mut warn_out = false;
    let mut in_warn = false;
    loop {
        match reader
            .read_event()
            .expect("JUnit output is well-formed XML")
        {
            Event::Eof => break,
            Event::Start(e) | Event::Empty(e) => {
                let name = e.name().as_ref().to_vec();
                match name.as_slice() {
                    b"testcase" => {
                        testcases += 1;
                        let n = attr(&e, "name");
                        in_warn = n == "rfc6750/3/realm/okta";
                        let t = attr(&e, "time");
                        assert_eq!(t, "0.000", "times are 0 without with_timings");
                    }
                    b"testsuite" => suites.push(attr(&e, "name")),
                    b"failure" => failures += 1,
                    b"error" => errors += 1,
                    b"skipped" => skipped += 1,
                    _ => {}
                }
            }
            Event::Text(t)
                if in_warn && String::from_utf8_lossy(&t).contains("SHOULD requirement missed") =>
            {
                warn_out = true;
            }
            _ => {}
        }
    }
    assert_eq!(testcases, report.cases.len());
    assert_eq!(failures, report.summary.fail);
    assert_eq!(errors, report.summary.error + report.summary.untestable);
    assert_eq!(skipped, report.summary.skip);
    assert_eq!(
        suites,
        ["rfc6750/3", "rfc8725/3.1", "rfc9068/2.2", "rfc9068/4"]
    );
    assert!(
        warn_out,
        "a warn case carries a system-out naming the missed SHOULD:\n{xml}"
    );
    assert!(xml.contains("expected 401 invalid_token"));
    assert!(!xml.contains("<script>"), "text is XML-escaped");
    // Deterministic without timings; timings show up with them.
    assert_eq!(xml, junit::render(&report, false));
    assert!(junit::render(&report, true).contains("time=\"0.007\""));
}

#[test]
fn markdown_lists_failures_first() {
    let report = sample(Sample::Hostile);
    let md = markdown::render(&report);
    let fail = md
        .find("rfc8725/3.1/alg-none/okta")
        .expect("failure listed");
    let error = md.find("rfc9068/2.2/hang/okta").expect("error listed");
    let warn = md.find("rfc6750/3/realm/okta").expect("warning listed");
    let untestable = md.find("rfc9068/4/typ/okta").expect("untestable listed");
    assert!(fail < warn && error < warn && warn < untestable, "{md}");
    let failures = md.find("## Failures").unwrap();
    assert!(failures < md.find("## Warnings").unwrap());
    assert!(md.contains("| MUST |"), "{md}");
    assert!(md.contains("| RFC 8725 §3.1 ❌ |"), "{md}");
    assert!(md.contains("401 invalid\\_token") || md.contains("`401 invalid_token`"));
    assert!(
        !md.contains("<script>")
            || md
                .lines()
                .all(|l| !l.contains("<script>") || l.contains('`')),
        "{md}"
    );
    assert!(!md.contains("](http"), "no injected links");
    assert!(!md.contains("run_ms") && !md.contains("42 ms"));
    assert_eq!(md, markdown::render(&report));
}

fn assert_self_contained(page: &str) {
    let lower = page.to_ascii_lowercase();
    for attr in [
        "src=\"http://",
        "src=\"https://",
        "href=\"http://",
        "href=\"https://",
        "src='http",
        "href='http",
        "@import",
        "url(",
    ] {
        assert!(
            !lower.contains(attr),
            "external reference {attr} in the page"
        );
    }
    assert!(!page.contains("<script>alert"), "unescaped script");
    assert!(!page.contains("<img"), "unescaped tag");
    assert_eq!(
        page.matches("<script>").count(),
        1,
        "only the page's own script"
    );
    assert!(page.contains("Content-Security-Policy"));
}

#[test]
fn html_is_escaped_and_self_contained() {
    let report = sample(Sample::Hostile);
    let page = html::render(&report);
    assert_self_contained(&page);
    for c in &report.cases {
        assert!(
            page.contains(&html::escape(&c.case.id)),
            "{} missing",
            c.case.id
        );
    }
    assert!(page.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
    assert!(page.contains("<details>") && page.contains("Token (decoded)"));
    assert!(page.contains("class=\"case v-fail\""));
    assert!(page.contains("builtin:reference &lt;b&gt;"));
    assert_eq!(
        html::escape(r#"<a href="x">'&'</a>"#),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    );
    assert_eq!(page, html::render(&report));
}

#[test]
fn matrix_has_both_targets() {
    let a = serde_json::from_str(&sample(Sample::Hostile).to_json()).unwrap();
    let mut b: serde_json::Value =
        serde_json::from_str(&sample(Sample::Hostile).to_json()).unwrap();
    b["cases"][0]["verdict"] = json!("pass");
    b["cases"].as_array_mut().unwrap().push(json!({"id": "rfc8725/3.2/new/okta", "section": "rfc8725/3.2", "verdict": "warn", "level": "should", "tags": ["x\"><script>alert(2)</script>"]}));
    let page = html::render_matrix(&[
        ("reference <v1>".to_string(), a),
        ("node-jose".to_string(), b),
    ]);
    assert_self_contained(&page);
    assert!(page.contains("reference &lt;v1&gt;") && page.contains("node-jose"));
    assert!(page.contains("rfc8725/3.2/new/okta") && page.contains("title=\"not run\""));
    assert!(page.contains("data-differs=\"1\""));
    assert!(page.contains("<option value=\"rfc9068/4\">RFC 9068 §4</option>"));
}

fn verdicts(pairs: &[(&str, &str)]) -> serde_json::Value {
    let cases: Vec<_> = pairs
        .iter()
        .map(|(id, v)| json!({"id": id, "verdict": v}))
        .collect();
    json!({"schema": "byoid-report/1", "cases": cases})
}

#[test]
fn diff_finds_regressions_and_improvements() {
    let before = verdicts(&[
        ("a/1/x", "pass"),
        ("a/1/y", "fail"),
        ("a/1/z", "warn"),
        ("a/2/gone", "pass"),
        ("a/3/same", "fail"),
    ]);
    let after = verdicts(&[
        ("a/1/x", "fail"),
        ("a/1/y", "pass"),
        ("a/1/z", "warn"),
        ("a/3/same", "error"),
        ("a/4/new", "pass"),
    ]);
    let d = diff::compare(&before, &after);
    assert_eq!(
        d.regressions,
        vec![diff::Change {
            id: "a/1/x".into(),
            before: Some("pass".into()),
            after: Some("fail".into())
        }]
    );
    assert_eq!(
        d.improvements,
        vec![diff::Change {
            id: "a/1/y".into(),
            before: Some("fail".into()),
            after: Some("pass".into())
        }]
    );
    assert_eq!(d.added, vec!["a/4/new".to_string()]);
    assert_eq!(d.removed, vec!["a/2/gone".to_string()]);
    assert!(d.has_regressions());
    let text = diff::render(&d);
    assert!(
        text.starts_with("Regressions (1):\n  a/1/x  pass -> fail\n"),
        "{text}"
    );
    assert!(
        text.contains("Improvements (1):")
            && text.contains("Added (1):")
            && text.contains("Removed (1), a regression"),
        "{text}"
    );
    assert!(
        text.ends_with("Diff: 1 regression, 1 improvement, 1 added, 1 removed\n"),
        "{text}"
    );
    let same = diff::compare(&before, &before);
    assert!(!same.has_regressions());
    assert!(diff::render(&same).contains("No case changed"));
    // Warn -> untestable is a regression, skip -> pass is not.
    let d = diff::compare(
        &verdicts(&[("w", "warn"), ("s", "skip")]),
        &verdicts(&[("w", "untestable"), ("s", "pass")]),
    );
    assert_eq!(d.regressions.len(), 1);
    assert!(d.improvements.is_empty());
}

fn temp(name: &str, body: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byoid-report-formats-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p
}

#[test]
fn load_names_the_file_and_the_problem() {
    let good = temp("good-report.json", &sample(Sample::Hostile).to_json());
    let v = diff::load(&good).expect("a written report loads");
    assert_eq!(v["cases"].as_array().unwrap().len(), 7);

    let full = sample(Sample::Hostile).to_json();
    let truncated = temp("truncated-report.json", &full[..full.len() / 2]);
    let e = diff::load(&truncated).unwrap_err().to_string();
    assert!(
        e.contains("truncated-report.json") && e.contains("truncated"),
        "{e}"
    );

    let other = temp("other-schema.json", r#"{"schema":"other"}"#);
    let e = diff::load(&other).unwrap_err().to_string();
    assert!(
        e.contains("other-schema.json") && e.contains("\"other\"") && e.contains("byoid-report/1"),
        "{e}"
    );

    let not_json = temp("not-json.txt", "<html>hello</html>\n");
    let e = diff::load(&not_json).unwrap_err().to_string();
    assert!(
        e.contains("not-json.txt") && e.contains("line 1, column 1"),
        "{e}"
    );

    let no_cases = temp("no-cases.json", r#"{"schema":"byoid-report/1","run":{}}"#);
    let e = diff::load(&no_cases).unwrap_err().to_string();
    assert!(
        e.contains("no-cases.json") && e.contains("missing `cases`"),
        "{e}"
    );

    let bad_verdict = temp(
        "bad-verdict.json",
        r#"{"schema":"byoid-report/1","cases":[{"id":"a","verdict":"great"}]}"#,
    );
    let e = diff::load(&bad_verdict).unwrap_err().to_string();
    assert!(
        e.contains("bad-verdict.json") && e.contains("cases[0].verdict"),
        "{e}"
    );

    let missing = std::env::temp_dir().join("byoid-no-such-report.json");
    let e = diff::load(&missing).unwrap_err().to_string();
    assert!(
        e.contains("byoid-no-such-report.json") && e.contains("cannot read"),
        "{e}"
    );

    let empty = temp("empty.json", "  \n");
    let e = diff::load(&empty).unwrap_err().to_string();
    assert!(e.contains("empty.json") && e.contains("truncated"), "{e}");
    let _ = std::fs::remove_dir_all(good.parent().unwrap());
}
