//! Self-contained HTML: one file with inline CSS and JavaScript and no external fetch.
//!
//! * [`render`]: one run — summary, a level × verdict table, the positive controls, then a
//!   table per RFC section coloured by verdict, each case expandable (`<details>`) to show the
//!   requirement, expectation, reasons, what was observed, the request (JSON) and the decoded
//!   token; filters by level, verdict and text.
//! * [`render_matrix`]: several runs side by side in the manner of the Autobahn testsuite's
//!   matrix: case ids as rows grouped by section, targets as columns, cells coloured by
//!   verdict; filters by level, section, tag, verdict and text, and "only rows that differ".
//!
//! Every piece of text goes through [`escape`] (evidence holds strings chosen by whoever
//! minted the token or wrote the target's answer), and a Content-Security-Policy with the
//! hashes of the page's own style and script forbids any other script, style, image, frame or
//! connection, so even a missed escape could not run code or fetch anything.
//!
//! Both pages are deterministic: no timings, no dates.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::report::console::section_name;
use crate::report::junit::verdict_name;
use crate::report::Report;
use crate::result::{CaseResult, Verdict};

/// Escapes text for HTML element content and quoted attribute values: `&`, `<`, `>`, `"`
/// and `'` become character references; NUL and other C0 controls but tab, LF and CR are
/// dropped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + s.len() / 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The pages' stylesheet (the load mode's page adds its chart rules to it).
pub(crate) const CSS: &str = r#"
:root{--pass:#2e7d32;--pass-bg:#e8f5e9;--acc:#558b2f;--acc-bg:#f1f8e9;--warn:#a86b00;--warn-bg:#fff8e1;--fail:#c62828;--fail-bg:#ffebee;--unt:#6a1b9a;--unt-bg:#f3e5f5;--skip:#616161;--skip-bg:#f5f5f5;--err:#8e0000;--err-bg:#ffcdd2}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1400px;padding:1em 2em;color:#222}
h1{font-size:1.6em;margin:.2em 0}h2{font-size:1.2em;margin:1.4em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h2 small{font-weight:normal;color:#555}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:#f6f8fa;border:1px solid #e1e4e8;padding:.5em;overflow:auto;max-height:30em;white-space:pre-wrap;word-break:break-all}
table{border-collapse:collapse;margin:.3em 0}th,td{border:1px solid #ddd;padding:.25em .5em;text-align:left;vertical-align:top}
th{background:#fafafa}td.n{text-align:right}
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.5em 0}dl.meta dt{font-weight:600}dl.meta dd{margin:0}
.badge{display:inline-block;padding:.15em .6em;border-radius:1em;margin:.1em .2em;font-weight:600}
.filters{position:sticky;top:0;background:#fff;border-bottom:1px solid #ccc;padding:.5em 0;z-index:2;display:flex;flex-wrap:wrap;gap:.4em 1.2em;align-items:center}
.filters label{white-space:nowrap}
td.verdict,td.cell{font-weight:700;white-space:nowrap;text-align:center}
.v-pass{background:var(--pass-bg)}.v-pass td.verdict,td.cell.v-pass,.badge.v-pass{color:#fff;background:var(--pass)}
.v-acceptable{background:var(--acc-bg)}.v-acceptable td.verdict,td.cell.v-acceptable,.badge.v-acceptable{color:#fff;background:var(--acc)}
.v-warn{background:var(--warn-bg)}.v-warn td.verdict,td.cell.v-warn,.badge.v-warn{color:#fff;background:var(--warn)}
.v-fail{background:var(--fail-bg)}.v-fail td.verdict,td.cell.v-fail,.badge.v-fail{color:#fff;background:var(--fail)}
.v-untestable{background:var(--unt-bg)}.v-untestable td.verdict,td.cell.v-untestable,.badge.v-untestable{color:#fff;background:var(--unt)}
.v-skip{background:var(--skip-bg)}.v-skip td.verdict,td.cell.v-skip,.badge.v-skip{color:#fff;background:var(--skip)}
.v-not-applicable{background:var(--skip-bg)}.v-not-applicable td.verdict,td.cell.v-not-applicable,.badge.v-not-applicable{color:#fff;background:#6b7280}
.v-error{background:var(--err-bg)}.v-error td.verdict,td.cell.v-error,.badge.v-error{color:#fff;background:var(--err)}
td.cell.v-none{color:#999;background:#fff}
details>summary{cursor:pointer}details .ev{margin:.4em 0 .2em 1em}details .ev h4{margin:.6em 0 .2em;font-size:1em}
ul.reasons{margin:.2em 0;padding-left:1.2em}
.warnbox{background:var(--warn-bg);border:1px solid var(--warn);padding:.4em .8em;margin:.5em 0}
table.matrix th.case{font-weight:normal}table.matrix tr.sec-row th{background:#eef;text-align:left}
table.matrix thead th{position:sticky;top:3em;z-index:1}
.muted{color:#777}
"#;

const REPORT_JS: &str = r#"
(function(){
var lv=document.getElementById('f-level'),tx=document.getElementById('f-text'),cnt=document.getElementById('f-count');
var vs=Array.prototype.slice.call(document.querySelectorAll('input.f-verdict'));
var rows=Array.prototype.slice.call(document.querySelectorAll('tr.case'));
var secs=Array.prototype.slice.call(document.querySelectorAll('section.sec'));
function apply(){
 var l=lv.value,t=tx.value.toLowerCase(),on={},shown=0;
 vs.forEach(function(v){on[v.value]=v.checked;});
 rows.forEach(function(r){
  var ok=(!l||r.getAttribute('data-level')===l)&&on[r.getAttribute('data-verdict')]&&(!t||r.textContent.toLowerCase().indexOf(t)>=0);
  r.hidden=!ok;if(ok)shown++;
 });
 secs.forEach(function(s){s.hidden=!s.querySelector('tr.case:not([hidden])');});
 cnt.textContent=shown+' of '+rows.length+' cases shown';
}
[lv,tx].concat(vs).forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
document.getElementById('f-open').addEventListener('click',function(){rows.forEach(function(r){if(!r.hidden){var d=r.querySelector('details');if(d)d.open=true;}});});
document.getElementById('f-close').addEventListener('click',function(){rows.forEach(function(r){var d=r.querySelector('details');if(d)d.open=false;});});
apply();
})();
"#;

const MATRIX_JS: &str = r#"
(function(){
function g(id){return document.getElementById(id);}
var lv=g('f-level'),sc=g('f-section'),tg=g('f-tag'),vd=g('f-verdict'),tx=g('f-text'),df=g('f-differs'),cnt=g('f-count');
var rows=Array.prototype.slice.call(document.querySelectorAll('tr.case'));
var secs=Array.prototype.slice.call(document.querySelectorAll('tbody.sec'));
function apply(){
 var l=lv.value,s=sc.value,t=tg.value,v=vd.value,q=tx.value.toLowerCase(),d=df.checked,shown=0;
 rows.forEach(function(r){
  var ok=(!l||r.getAttribute('data-level')===l)&&(!s||r.getAttribute('data-section')===s)
   &&(!t||(' '+r.getAttribute('data-tags')+' ').indexOf(' '+t+' ')>=0)
   &&(!v||(' '+r.getAttribute('data-verdicts')+' ').indexOf(' '+v+' ')>=0)
   &&(!d||r.getAttribute('data-differs')==='1')
   &&(!q||r.textContent.toLowerCase().indexOf(q)>=0);
  r.hidden=!ok;if(ok)shown++;
 });
 secs.forEach(function(b){var any=b.querySelector('tr.case:not([hidden])');b.hidden=!any;});
 cnt.textContent=shown+' of '+rows.length+' cases shown';
}
[lv,sc,tg,vd,tx,df].forEach(function(e){e.addEventListener('input',apply);e.addEventListener('change',apply);});
apply();
})();
"#;

/// The CSP source expression that allows exactly the inline `<style>` or `<script>` `s`.
pub(crate) fn csp_hash(s: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(s.as_bytes()))
    )
}

fn head(out: &mut String, title: &str, js: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src {}; script-src {}; base-uri 'none'; form-action 'none'\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        csp_hash(CSS),
        csp_hash(js),
        escape(title)
    );
}

fn tail(out: &mut String, js: &str) {
    let _ = write!(out, "<script>{js}</script>\n</body>\n</html>\n");
}

/// Upper-case word for a verdict name (`acceptable` → `ACCEPT`, as on the console).
fn word(verdict: &str) -> String {
    if verdict == "acceptable" {
        "ACCEPT".into()
    } else {
        verdict.to_ascii_uppercase()
    }
}

fn pretty<T: serde::Serialize + ?Sized>(v: &T) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// The HTML page for one run.
pub fn render(report: &Report) -> String {
    let mut out = String::new();
    head(
        &mut out,
        &format!("byoid report: {}", report.run.target),
        REPORT_JS,
    );
    let r = &report.run;
    let _ = writeln!(
        out,
        "<header>\n<h1>byoid conformance report</h1>\n<dl class=\"meta\">"
    );
    let mut meta = vec![
        ("Target", r.target.clone()),
        ("Harness", r.harness_version.clone()),
        ("Catalog", r.catalog_hash.clone()),
        ("Seed", r.seed.to_string()),
        ("Tenant source", r.tenant_source.clone()),
    ];
    if !r.filters.is_empty() {
        meta.push(("Filters", r.filters.join(", ")));
    }
    for (k, v) in meta {
        let _ = writeln!(
            out,
            "<dt>{}</dt><dd><code>{}</code></dd>",
            escape(k),
            escape(&v)
        );
    }
    out.push_str("</dl>\n</header>\n");

    // Summary.
    out.push_str("<section id=\"summary\">\n<h2>Summary</h2>\n<p>");
    let _ = write!(
        out,
        "<span class=\"badge\">{} cases</span>",
        report.summary.total
    );
    for v in Verdict::columns(report.summary.not_applicable > 0) {
        let n = report.cases.iter().filter(|c| c.verdict == v).count();
        let _ = write!(
            out,
            "<span class=\"badge v-{}\">{} {}</span>",
            verdict_name(v),
            n,
            v.word()
        );
    }
    out.push_str("</p>\n<table class=\"levels\">\n<thead><tr><th>Level</th>");
    for v in Verdict::columns(report.summary.not_applicable > 0) {
        let _ = write!(out, "<th>{}</th>", v.word());
    }
    out.push_str("<th>Total</th></tr></thead>\n<tbody>\n");
    for level in [
        crate::catalog::Level::Must,
        crate::catalog::Level::Should,
        crate::catalog::Level::May,
    ] {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.case.level == level)
            .collect();
        let _ = write!(out, "<tr><th>{level}</th>");
        for v in Verdict::columns(report.summary.not_applicable > 0) {
            let n = cases.iter().filter(|c| c.verdict == v).count();
            let class = if n > 0 {
                format!(" v-{}", verdict_name(v))
            } else {
                String::new()
            };
            let _ = write!(out, "<td class=\"n{class}\">{n}</td>");
        }
        let _ = writeln!(out, "<td class=\"n\">{}</td></tr>", cases.len());
    }
    out.push_str("</tbody>\n</table>\n");

    // Controls.
    if !report.controls.is_empty() {
        out.push_str("<h2>Positive controls</h2>\n<table class=\"controls\">\n<thead><tr><th>Flavor</th><th>Genuine token</th><th>Detail</th></tr></thead>\n<tbody>\n");
        for c in &report.controls {
            let (class, what) = if c.accepted {
                ("v-pass", "ACCEPTED")
            } else {
                ("v-untestable", "REJECTED")
            };
            let _ = writeln!(
                out,
                "<tr class=\"{class}\"><td><code>{}</code></td><td class=\"verdict\">{what}</td><td>{}</td></tr>",
                escape(c.flavor.name()),
                escape(&c.detail)
            );
        }
        out.push_str("</tbody>\n</table>\n");
        if !report.run.skipped_flavors.is_empty() {
            let _ = writeln!(
                out,
                "<p>Flavors deselected (<code>--skip-flavor</code>): {}</p>",
                escape(&report.run.skipped_flavors.join(", "))
            );
        }
        for c in report.controls.iter().filter(|c| !c.accepted) {
            let _ = writeln!(
                out,
                "<p class=\"warnbox\">The positive control for <code>{}</code> failed, so its cases are untestable: {}</p>",
                escape(c.flavor.name()),
                escape(&c.detail)
            );
        }
    }
    out.push_str("</section>\n");

    // Filters.
    out.push_str("<div class=\"filters\" id=\"filters\">\n<label>Level <select id=\"f-level\"><option value=\"\">all</option><option value=\"must\">MUST</option><option value=\"should\">SHOULD</option><option value=\"may\">MAY</option></select></label>\n<span>");
    for v in Verdict::columns(report.summary.not_applicable > 0) {
        let _ = write!(
            out,
            "<label><input type=\"checkbox\" class=\"f-verdict\" value=\"{0}\" checked> <span class=\"badge v-{0}\">{1}</span></label> ",
            verdict_name(v),
            v.word()
        );
    }
    out.push_str("</span>\n<label>Text <input type=\"search\" id=\"f-text\" placeholder=\"id, title, reason, evidence…\"></label>\n<button type=\"button\" id=\"f-open\">Expand shown</button> <button type=\"button\" id=\"f-close\">Collapse all</button>\n<span id=\"f-count\" class=\"muted\"></span>\n</div>\n<main>\n");

    // Sections.
    let mut sections: BTreeMap<&str, Vec<&CaseResult>> = BTreeMap::new();
    for c in &report.cases {
        sections.entry(c.case.section.as_str()).or_default().push(c);
    }
    for (key, cases) in sections {
        let title = cases
            .first()
            .map(|c| c.case.section_title.as_str())
            .unwrap_or("");
        let mut tally = String::new();
        for v in Verdict::ALL {
            let n = cases.iter().filter(|c| c.verdict == v).count();
            if n > 0 {
                let _ = write!(
                    tally,
                    " <span class=\"badge v-{}\">{n} {}</span>",
                    verdict_name(v),
                    v.word()
                );
            }
        }
        let _ = writeln!(
            out,
            "<section class=\"sec\" data-section=\"{}\">\n<h2>{} <small>{}</small>{tally}</h2>",
            escape(key),
            escape(&section_name(key)),
            escape(title)
        );
        out.push_str("<table class=\"cases\">\n<thead><tr><th>Verdict</th><th>Case</th><th>Level</th><th>Flavor</th><th>Expected</th></tr></thead>\n<tbody>\n");
        for c in cases {
            case_row(&mut out, c);
        }
        out.push_str("</tbody>\n</table>\n</section>\n");
    }
    out.push_str("</main>\n");
    tail(&mut out, REPORT_JS);
    out
}

fn case_row(out: &mut String, c: &CaseResult) {
    let v = verdict_name(c.verdict);
    let level = c.case.level.to_string();
    let short = c
        .case
        .id
        .strip_prefix(&format!("{}/", c.case.section))
        .unwrap_or(&c.case.id);
    let _ = writeln!(
        out,
        "<tr class=\"case v-{v}\" id=\"{}\" data-level=\"{}\" data-verdict=\"{v}\">",
        escape(&c.case.id),
        escape(&level.to_ascii_lowercase())
    );
    let _ = writeln!(
        out,
        "<td class=\"verdict\">{}</td>",
        escape(c.verdict.word())
    );
    let _ = writeln!(
        out,
        "<td><details><summary><code title=\"{}\">{}</code> {}</summary>\n<div class=\"ev\">",
        escape(&c.case.id),
        escape(short),
        escape(&c.case.title)
    );
    let _ = writeln!(out, "<div>Id: <code>{}</code></div>", escape(&c.case.id));
    let _ = writeln!(
        out,
        "<div>Requirement ({}): {}</div>",
        escape(&level),
        escape(&c.case.requirement)
    );
    if !c.case.refs.is_empty() {
        let refs: Vec<String> = c.case.refs.iter().map(|r| escape(r)).collect();
        let _ = writeln!(out, "<div>Refs: {}</div>", refs.join(", "));
    }
    if !c.case.tags.is_empty() {
        let tags: Vec<String> = c
            .case
            .tags
            .iter()
            .map(|t| format!("<code>{}</code>", escape(t)))
            .collect();
        let _ = writeln!(out, "<div>Tags: {}</div>", tags.join(" "));
    }
    let _ = writeln!(
        out,
        "<div>Expected: <code>{}</code></div>",
        escape(&c.expected)
    );
    if !c.reasons.is_empty() {
        out.push_str("<h4>Reasons</h4>\n<ul class=\"reasons\">\n");
        for r in &c.reasons {
            let _ = writeln!(out, "<li><code>{}</code></li>", escape(r));
        }
        out.push_str("</ul>\n");
    }
    if let Some(o) = &c.observed {
        let _ = writeln!(out, "<h4>Observed</h4>\n<pre>{}</pre>", escape(&pretty(o)));
    }
    if let Some(ev) = &c.evidence {
        let _ = writeln!(
            out,
            "<h4>Request</h4>\n<pre>{}</pre>",
            escape(&pretty(&ev.request))
        );
        let _ = writeln!(
            out,
            "<h4>Token (decoded)</h4>\n<pre>{}</pre>",
            escape(&pretty(&ev.token))
        );
    }
    out.push_str("</div></details></td>\n");
    let _ = writeln!(
        out,
        "<td>{}</td><td><code>{}</code></td><td><code>{}</code></td>\n</tr>",
        escape(&level),
        escape(c.case.flavor.name()),
        escape(&c.expected)
    );
}

struct MatrixRow {
    section_title: String,
    title: String,
    level: String,
    tags: Vec<String>,
}

/// The matrix page for several runs: `(label, parsed report)` pairs, columns in that order.
/// Reports are read defensively (a missing field shows as empty); load them with
/// [`crate::report::diff::load`] to have them checked first.
pub fn render_matrix(reports: &[(String, Value)]) -> String {
    let str_of = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // Per report: id -> case value.
    let mut columns: Vec<BTreeMap<String, &Value>> = Vec::new();
    // section -> id -> row metadata (from the first report that has the case).
    let mut rows: BTreeMap<String, BTreeMap<String, MatrixRow>> = BTreeMap::new();
    let mut all_tags = BTreeSet::new();
    for (_, report) in reports {
        let mut col = BTreeMap::new();
        for c in report
            .get("cases")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
        {
            let Some(id) = c.get("id").and_then(Value::as_str) else {
                continue;
            };
            col.insert(id.to_string(), c);
            let section = match c.get("section").and_then(Value::as_str) {
                Some(s) if !s.is_empty() => s.to_string(),
                _ => id
                    .rsplitn(3, '/')
                    .nth(2)
                    .unwrap_or("(no section)")
                    .to_string(),
            };
            let tags: Vec<String> = c
                .get("tags")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            all_tags.extend(tags.iter().cloned());
            rows.entry(section)
                .or_default()
                .entry(id.to_string())
                .or_insert_with(|| MatrixRow {
                    section_title: str_of(c, "section_title"),
                    title: str_of(c, "title"),
                    level: str_of(c, "level").to_ascii_lowercase(),
                    tags,
                });
        }
        columns.push(col);
    }
    let total_rows: usize = rows.values().map(BTreeMap::len).sum();
    let any_not_applicable = columns.iter().flat_map(|c| c.values()).any(|c| {
        c.get("verdict").and_then(Value::as_str) == Some(verdict_name(Verdict::NotApplicable))
    });

    let mut out = String::new();
    head(&mut out, "byoid conformance matrix", MATRIX_JS);
    let _ = writeln!(
        out,
        "<header>\n<h1>byoid conformance matrix</h1>\n<p>{} cases × {} targets</p>",
        total_rows,
        reports.len()
    );
    out.push_str("<table class=\"targets\">\n<thead><tr><th>Label</th><th>Target</th><th>Harness</th><th>Catalog</th>");
    for v in Verdict::columns(any_not_applicable) {
        let _ = write!(out, "<th>{}</th>", v.word());
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for ((label, report), col) in reports.iter().zip(&columns) {
        let run = report.get("run").cloned().unwrap_or(Value::Null);
        let _ = write!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td><td>{}</td><td><code>{}</code></td>",
            escape(label),
            escape(&str_of(&run, "target")),
            escape(&str_of(&run, "harness_version")),
            escape(&str_of(&run, "catalog_hash"))
        );
        for v in Verdict::columns(any_not_applicable) {
            let name = verdict_name(v);
            let n = col
                .values()
                .filter(|c| c.get("verdict").and_then(Value::as_str) == Some(name))
                .count();
            let class = if n > 0 {
                format!(" v-{name}")
            } else {
                String::new()
            };
            let _ = write!(out, "<td class=\"n{class}\">{n}</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</header>\n");

    // Filters.
    out.push_str("<div class=\"filters\" id=\"filters\">\n<label>Level <select id=\"f-level\"><option value=\"\">all</option><option value=\"must\">MUST</option><option value=\"should\">SHOULD</option><option value=\"may\">MAY</option></select></label>\n");
    out.push_str("<label>Section <select id=\"f-section\"><option value=\"\">all</option>");
    for key in rows.keys() {
        let _ = write!(
            out,
            "<option value=\"{0}\">{1}</option>",
            escape(key),
            escape(&section_name(key))
        );
    }
    out.push_str(
        "</select></label>\n<label>Tag <select id=\"f-tag\"><option value=\"\">all</option>",
    );
    for t in &all_tags {
        let _ = write!(out, "<option value=\"{0}\">{0}</option>", escape(t));
    }
    out.push_str("</select></label>\n<label>Verdict in any column <select id=\"f-verdict\"><option value=\"\">any</option>");
    for v in Verdict::columns(any_not_applicable) {
        let _ = write!(
            out,
            "<option value=\"{}\">{}</option>",
            verdict_name(v),
            v.word()
        );
    }
    out.push_str("</select></label>\n<label><input type=\"checkbox\" id=\"f-differs\"> only rows that differ</label>\n<label>Text <input type=\"search\" id=\"f-text\" placeholder=\"case id or title\"></label>\n<span id=\"f-count\" class=\"muted\"></span>\n</div>\n");

    // The matrix.
    out.push_str("<main>\n<table class=\"matrix\">\n<thead><tr><th>Case</th><th>Level</th>");
    for (label, _) in reports {
        let _ = write!(out, "<th>{}</th>", escape(label));
    }
    out.push_str("</tr></thead>\n");
    let ncols = reports.len() + 2;
    for (section, cases) in &rows {
        let title = cases
            .values()
            .next()
            .map(|r| r.section_title.as_str())
            .unwrap_or("");
        let _ = writeln!(
            out,
            "<tbody class=\"sec\" data-section=\"{0}\">\n<tr class=\"sec-row\"><th colspan=\"{ncols}\">{1} <small>{2}</small></th></tr>",
            escape(section),
            escape(&section_name(section)),
            escape(title)
        );
        for (id, meta) in cases {
            let verdicts: Vec<Option<&str>> = columns
                .iter()
                .map(|col| {
                    col.get(id)
                        .map(|c| c.get("verdict").and_then(Value::as_str).unwrap_or("error"))
                })
                .collect();
            let distinct: BTreeSet<Option<&str>> = verdicts.iter().copied().collect();
            let present: BTreeSet<&str> = verdicts.iter().flatten().copied().collect();
            let _ = write!(
                out,
                "<tr class=\"case\" data-section=\"{}\" data-level=\"{}\" data-tags=\"{}\" data-verdicts=\"{}\" data-differs=\"{}\">",
                escape(section),
                escape(&meta.level),
                escape(&meta.tags.join(" ")),
                escape(&present.into_iter().collect::<Vec<_>>().join(" ")),
                if distinct.len() > 1 { "1" } else { "0" }
            );
            let short = id.strip_prefix(&format!("{section}/")).unwrap_or(id);
            let _ = write!(
                out,
                "<th class=\"case\"><code title=\"{}\">{}</code> <span class=\"muted\">{}</span></th><td>{}</td>",
                escape(id),
                escape(short),
                escape(&meta.title),
                escape(&meta.level.to_ascii_uppercase())
            );
            for (col, verdict) in columns.iter().zip(&verdicts) {
                match verdict {
                    None => out.push_str("<td class=\"cell v-none\" title=\"not run\">—</td>"),
                    Some(v) => {
                        let case = col.get(id).copied().unwrap_or(&Value::Null);
                        let mut tip = format!("{id}: {}", word(v));
                        if let Some(e) = case.get("expected").and_then(Value::as_str) {
                            let _ = write!(tip, "\nexpected: {e}");
                        }
                        for r in case
                            .get("reasons")
                            .and_then(Value::as_array)
                            .map(Vec::as_slice)
                            .unwrap_or(&[])
                        {
                            let _ = write!(
                                tip,
                                "\n{}",
                                r.as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| r.to_string())
                            );
                        }
                        let _ = write!(
                            out,
                            "<td class=\"cell v-{}\" title=\"{}\">{}</td>",
                            escape(v),
                            escape(&tip),
                            escape(&word(v))
                        );
                    }
                }
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n");
    }
    out.push_str("</table>\n</main>\n");
    tail(&mut out, MATRIX_JS);
    out
}
