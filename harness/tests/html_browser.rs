//! The HTML reports in a real browser: Debian's Chromium, headless, loads the single-run page
//! and the matrix from disk and dumps the DOM after the pages' scripts ran. That checks what a
//! reader sees: every case row with its verdict class, the summary numbers, and the scripts'
//! own output ("N of M cases shown"), which only appears when the Content-Security-Policy
//! hashes let the inline script run.
//!
//! Needs `/usr/bin/chromium`, which `scripts/external-suites.sh` installs before running it with
//! `BYOID_EXTERNAL_SUITES=1`; there a missing browser fails the test rather than skipping it,
//! so a CI machine without one cannot pass quietly. Plain `cargo test` skips it with a note.

mod external;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use byoid::report::{html, Report};
use byoid::result::Verdict;
use byoid::ScenarioOptions;

const CHROMIUM: &str = "/usr/bin/chromium";
const SECTION: &str = "rfc8725/3.1";
/// A defect that makes cases of [`SECTION`] fail.
const DEFECT: &str = "alg-from-header";

async fn run(defects: Vec<String>) -> Report {
    let opts = ScenarioOptions {
        filters: vec![SECTION.into()],
        ..ScenarioOptions::builtin(defects)
    };
    byoid::run_scenarios(&opts)
        .await
        .expect("the run completes")
}

/// Text as Chromium serializes it in element content: only `&`, `<`, `>` escaped.
fn dom_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\u{a0}', "&nbsp;")
}

/// Text as Chromium serializes it in a quoted attribute value: only `&` and `"` escaped.
fn dom_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('\u{a0}', "&nbsp;")
}

fn verdict_name(v: Verdict) -> String {
    serde_json::to_value(v)
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fn require_chromium() {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: this test needs Debian's Chromium. Install it with \
         `apt-get update && apt-get install -y chromium` (scripts/external-suites.sh does)"
    );
}

/// The DOM of `page` after load, as Chromium serializes it.
fn dump_dom(page: &Path, profile: &Path) -> String {
    require_chromium();
    let mut child = Command::new(CHROMIUM)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {CHROMIUM}: {e}"));
    // Read both pipes on threads so a chatty stderr cannot block the browser.
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut s);
        s
    });
    let err = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{CHROMIUM} did not finish loading {} within 120 s",
                page.display()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let dom = out.join().unwrap();
    let log = err.join().unwrap();
    assert!(
        status.success() && dom.contains("</html>"),
        "{CHROMIUM} failed on {} ({status}); stderr:\n{log}",
        page.display()
    );
    dom
}

/// The text of the element with `id`, assuming it holds no markup.
fn text_of(dom: &str, id: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in the page"));
    let start = at + dom[at..].find('>').unwrap() + 1;
    let end = start + dom[start..].find('<').unwrap();
    dom[start..end].to_string()
}

fn check_report_page(dom: &str, report: &Report) {
    let n = report.cases.len();
    assert!(n > 0);
    // The script ran: it fills in the count (and no row is hidden with every filter on).
    assert_eq!(
        text_of(dom, "f-count"),
        format!("{n} of {n} cases shown"),
        "the page's script did not run"
    );
    assert!(
        !dom.contains("hidden=\"\""),
        "rows or sections hidden on load"
    );
    for c in &report.cases {
        let row = format!(
            "<tr class=\"case v-{}\" id=\"{}\"",
            verdict_name(c.verdict),
            dom_attr(&c.case.id)
        );
        assert!(dom.contains(&row), "row `{row}` not in the page");
    }
    assert_eq!(
        dom.matches("<tr class=\"case v-").count(),
        n,
        "one row per case"
    );
    let s = &report.summary;
    assert!(dom.contains(&format!("<span class=\"badge\">{} cases</span>", s.total)));
    for (class, count, word) in [
        ("pass", s.pass, "PASS"),
        ("fail", s.fail, "FAIL"),
        ("error", s.error, "ERROR"),
    ] {
        let badge = format!("<span class=\"badge v-{class}\">{count} {word}</span>");
        assert!(
            dom.contains(&badge),
            "summary badge `{badge}` not in the page"
        );
    }
    assert!(dom.contains(&dom_text(&report.run.target)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_pages_render_in_chromium() {
    if !external::external_suite("the Chromium test of the HTML reports") {
        return;
    }
    require_chromium();
    let (clean, broken) = tokio::join!(run(Vec::new()), run(vec![DEFECT.to_string()]));
    assert!(
        clean.summary.total > 0 && clean.summary.fail == 0,
        "the reference passes {SECTION}"
    );
    assert!(
        broken.summary.fail > 0,
        "`{DEFECT}` must fail some {SECTION} case for this test to mean anything"
    );

    let tmp = tempfile::Builder::new()
        .prefix("byoid-html-browser-")
        .tempdir()
        .unwrap();
    let profile = tmp.path().join("profile");
    let clean_page = tmp.path().join("reference.html");
    let broken_page = tmp.path().join("defect.html");
    let matrix_page = tmp.path().join("matrix.html");
    std::fs::write(&clean_page, html::render(&clean)).unwrap();
    std::fs::write(&broken_page, html::render(&broken)).unwrap();
    let label = format!("defect-{DEFECT}");
    let columns = vec![
        (
            "reference".to_string(),
            serde_json::from_str(&clean.to_json()).unwrap(),
        ),
        (
            label.clone(),
            serde_json::from_str(&broken.to_json()).unwrap(),
        ),
    ];
    std::fs::write(&matrix_page, html::render_matrix(&columns)).unwrap();

    let dom = dump_dom(&clean_page, &profile);
    check_report_page(&dom, &clean);
    assert!(!dom.contains("<tr class=\"case v-fail\""));

    let dom = dump_dom(&broken_page, &profile);
    check_report_page(&dom, &broken);
    assert!(dom.contains("<tr class=\"case v-fail\""));
    // A failure's reasons are in the page (inside its collapsed <details>).
    let failed = broken
        .cases
        .iter()
        .find(|c| c.verdict == Verdict::Fail)
        .unwrap();
    for r in &failed.reasons {
        assert!(
            dom.contains(&dom_text(r)),
            "reason `{r}` of {} not in the page",
            failed.case.id
        );
    }

    let dom = dump_dom(&matrix_page, &profile);
    let rows = clean.cases.len();
    assert_eq!(
        text_of(&dom, "f-count"),
        format!("{rows} of {rows} cases shown"),
        "the matrix script did not run"
    );
    assert!(
        dom.contains(&format!("<p>{rows} cases × 2 targets</p>")),
        "matrix header"
    );
    let head = &dom[dom
        .find("<table class=\"matrix\">")
        .expect("the matrix table")..];
    let head = &head[..head.find("</thead>").unwrap()];
    assert!(
        head.contains("<th>reference</th>") && head.contains(&format!("<th>{label}</th>")),
        "both targets are columns: {head}"
    );
    assert_eq!(
        dom.matches("<tr class=\"case\"").count(),
        rows,
        "one row per case"
    );
    for c in &broken.cases {
        assert!(
            dom.contains(&format!("title=\"{}\"", dom_attr(&c.case.id))),
            "{} has no row",
            c.case.id
        );
    }
    assert!(dom.contains("<td class=\"cell v-fail\""), "a failing cell");
    assert!(dom.contains("<td class=\"cell v-pass\""), "a passing cell");
    assert!(
        dom.contains("data-differs=\"1\""),
        "a row where the targets differ"
    );
}
