//! The HTML reports in a real browser: Debian's Chromium, headless, loads the single-run page
//! and the matrix from disk and dumps the DOM after the pages' scripts ran. That checks what a
//! reader sees: every case row with its verdict class, the summary numbers, and the scripts'
//! own output ("N of M cases shown"), which only appears when the Content-Security-Policy
//! hashes let the inline script run. Every page must leave the browser's console silent.
//!
//! The load mode's page (`byoid bench`) is opened the same way, after two short runs (one
//! saved as a baseline, one compared with a doctored copy of it): its two SVG charts must hold
//! one line per mix with as many points as the JSON has, its tables the JSON's percentiles and
//! the baseline verdicts; and the console stays silent (Chromium logs there every
//! Content-Security-Policy refusal, which is what any attempt to fetch or run something would
//! cause, and every SVG attribute it cannot parse).
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

/// The DOM of `page` after load, as Chromium serializes it; the page must have written
/// nothing to the console (no script error, no CSP refusal).
fn dump_dom(page: &Path, profile: &Path) -> String {
    let (dom, console) = dump_dom_and_console(page, profile);
    assert!(
        console.is_empty(),
        "{} wrote to the console:\n{}",
        page.display(),
        console.join("\n")
    );
    dom
}

/// The DOM of `page` after load, and what the page wrote to the browser's console (one line a
/// message: script errors, SVG attributes that did not parse, CSP refusals).
fn dump_dom_and_console(page: &Path, profile: &Path) -> (String, Vec<String>) {
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
            // Console messages go to stderr as `...:CONSOLE:...] "message", source: ...`.
            "--enable-logging=stderr",
            "--v=0",
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
    let console = log
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect();
    (dom, console)
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

/// Runs `byoid bench` (a 1 s run of the built-in reference, 4 connections); returns its exit
/// code and output.
fn bench(extra: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_byoid"))
        .args([
            "bench",
            "--duration",
            "1",
            "--connections",
            "4",
            "--pool",
            "32",
            "--mix",
            "genuine=80,bad-signature=20",
        ])
        .args(extra)
        .env("CI", "1")
        .output()
        .expect("run byoid bench");
    (
        o.status.code(),
        format!(
            "stdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        ),
    )
}

/// The `<polyline>` elements of the chart `id` in a serialized DOM: (data-series, data-run,
/// data-points, number of coordinate pairs in `points`).
fn chart_lines(dom: &str, id: &str) -> Vec<(String, String, usize, usize)> {
    let start = dom
        .find(&format!("<figure class=\"chart\" id=\"{id}\">"))
        .unwrap_or_else(|| panic!("no chart #{id}"));
    let body = &dom[start..start + dom[start..].find("</svg>").unwrap()];
    assert!(body.contains("<svg class=\"chart\""), "#{id} has no SVG");
    body.split("<polyline class=\"line ")
        .skip(1)
        .map(|l| {
            let attr = |k: &str| {
                l.split(&format!(" {k}=\""))
                    .nth(1)
                    .and_then(|v| v.split('"').next())
                    .unwrap_or_else(|| panic!("no {k} in {l}"))
                    .to_string()
            };
            let pairs = attr("points")
                .split(' ')
                .filter(|p| {
                    let mut xy = p
                        .split(',')
                        .map(|v| v.parse::<f64>().is_ok_and(f64::is_finite));
                    xy.next() == Some(true) && xy.next() == Some(true) && xy.next().is_none()
                })
                .count();
            (
                attr("data-series"),
                attr("data-run"),
                attr("data-points").parse().unwrap(),
                pairs,
            )
        })
        .collect()
}

/// The JSON's entries in chart order: every mix, then `total` (drawn as `all`).
fn bench_entries(r: &serde_json::Value) -> Vec<&serde_json::Value> {
    r["mixes"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&r["total"]])
        .collect()
}

/// What every bench page must show of its JSON: both charts, one line per entry with the
/// JSON's points, and the percentile table ([`dump_dom`] checked the console stayed silent).
fn check_bench_page(dom: &str, r: &serde_json::Value) {
    assert_eq!(dom.matches("<svg class=\"chart\"").count(), 2, "two charts");
    let latency = chart_lines(dom, "latency-chart");
    let throughput = chart_lines(dom, "throughput-chart");
    for m in bench_entries(r) {
        let name = m["name"].as_str().unwrap();
        let curve = m["latency_curve"].as_array().unwrap().len();
        let intervals = m["answers_per_interval"].as_array().unwrap().len();
        assert!(curve >= 2 && intervals >= 10, "{m:#}");
        let find = |lines: &[(String, String, usize, usize)]| {
            lines
                .iter()
                .find(|l| l.0 == name && l.1 == "this")
                .unwrap_or_else(|| panic!("no line for {name}: {lines:?}"))
                .clone()
        };
        let l = find(&latency);
        assert_eq!((l.2, l.3), (curve, curve), "latency line of {name}");
        let l = find(&throughput);
        assert_eq!((l.2, l.3), (intervals, intervals), "req/s line of {name}");
        // Its percentiles, as the table states them.
        let row = dom
            .split(&format!("data-mix=\"{name}\"><th>{name}</th>"))
            .nth(1)
            .unwrap_or_else(|| panic!("no table row for {name}"));
        let row = &row[..row.find("</tr>").unwrap()];
        for k in ["p50", "p90", "p99", "p99_9", "max"] {
            let cell = format!(
                "<td class=\"n\">{:.3}</td>",
                m["latency_us"][k].as_u64().unwrap() as f64 / 1000.0
            );
            assert!(row.contains(&cell), "{k} of {name}: {cell} not in {row}");
        }
    }
    for head in [
        "<th>p50 ms</th>",
        "<th>p99 ms</th>",
        "<th>p99.9 ms</th>",
        "<th>max ms</th>",
    ] {
        assert!(dom.contains(head), "{head}");
    }
    for tick in ["90%", "99%"] {
        assert!(
            dom.contains(&format!("text-anchor=\"middle\">{tick}</text>")),
            "x tick {tick}"
        );
    }
}

#[test]
fn bench_page_renders_in_chromium() {
    if !external::external_suite("the Chromium test of the load mode's HTML page") {
        return;
    }
    require_chromium();
    let started = Instant::now();
    let tmp = tempfile::Builder::new()
        .prefix("byoid-bench-browser-")
        .tempdir()
        .unwrap();
    let profile = tmp.path().join("profile");
    let base = tmp.path().join("base.json");
    let (code, out) = bench(&["--save-baseline", base.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{out}");
    let base_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&base).unwrap()).unwrap();

    // A doctored copy: genuine was 100x faster (a certain regression); bad-signature was
    // slower than anything this run can be, and has no curve (as in a baseline written before
    // curves were recorded).
    let mut doctored = base_json.clone();
    for m in doctored["mixes"].as_array_mut().unwrap() {
        if m["name"] == "genuine" {
            m["rps"] = (m["rps"].as_f64().unwrap() * 100.0).into();
        } else {
            m["rps"] = 1.0.into();
            m["latency_us"]["p99"] = (m["latency_us"]["p99"].as_u64().unwrap() * 1000).into();
            m.as_object_mut().unwrap().remove("latency_curve");
        }
    }
    let doctored_path = tmp.path().join("doctored.json");
    std::fs::write(&doctored_path, doctored.to_string()).unwrap();
    let run = tmp.path().join("run.json");
    let (code, out) = bench(&[
        "--json",
        run.to_str().unwrap(),
        "--baseline",
        doctored_path.to_str().unwrap(),
        "--max-regression",
        "50",
    ]);
    assert_eq!(code, Some(100), "a planted regression exits 100\n{out}");
    let run_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&run).unwrap()).unwrap();
    let runs_done = started.elapsed();

    // The saved baseline's own page: no comparison.
    let dom = dump_dom(&tmp.path().join("base.html"), &profile);
    check_bench_page(&dom, &base_json);
    assert!(!dom.contains("id=\"baseline\""));

    // The compared run: its figures, the verdicts, and the baseline's curves dashed.
    let dom = dump_dom(&tmp.path().join("run.html"), &profile);
    check_bench_page(&dom, &run_json);
    let table = &dom[dom
        .find("<table class=\"cmp\" id=\"baseline-table\">")
        .expect("the comparison table")..];
    let table = &table[..table.find("</table>").unwrap()];
    // About 99% (this run's req/s against a hundredfold of the first run's).
    assert!(
        table.contains("<tr class=\"v-fail\" data-mix=\"genuine\"><th>genuine</th>")
            && table.contains("<td class=\"verdict\">REGRESSION: throughput dropped 9")
            && table.contains("% (&gt; 50%)</td>"),
        "{table}"
    );
    assert!(
        table.contains("<tr class=\"v-pass\" data-mix=\"bad-signature\"><th>bad-signature</th>")
            && table.contains("<td class=\"verdict\">ok</td>"),
        "{table}"
    );
    assert!(dom.contains("id=\"baseline-verdict\">1 of 2 mixes regressed</span>"));
    let latency = chart_lines(&dom, "latency-chart");
    let dashed = |name: &str| {
        latency
            .iter()
            .find(|l| l.0 == format!("{name} (baseline)") && l.1 == "baseline")
            .unwrap_or_else(|| panic!("no baseline line for {name}: {latency:?}"))
            .2
    };
    let genuine_curve = base_json["mixes"][0]["latency_curve"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(dashed("genuine"), genuine_curve);
    assert_eq!(dashed("bad-signature"), 4, "p50, p90, p99 and p99.9");
    assert_eq!(
        dashed("all"),
        base_json["total"]["latency_curve"]
            .as_array()
            .unwrap()
            .len()
    );
    assert!(dom.contains("holds no percentile curve for bad-signature"));
    let throughput = chart_lines(&dom, "throughput-chart");
    assert!(
        throughput.iter().any(|l| l.1 == "baseline" && l.2 == 2),
        "the baseline's req/s level: {throughput:?}"
    );
    eprintln!(
        "bench page test: two runs in {:.1} s, two pages loaded in {:.1} s",
        runs_done.as_secs_f64(),
        (started.elapsed() - runs_done).as_secs_f64()
    );
}
