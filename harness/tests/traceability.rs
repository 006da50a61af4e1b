//! The traceability table: every normative sentence of the texts the catalog claims (RFC 9068,
//! RFC 6750, RFC 8725, RFC 7515, RFC 7517, RFC 7519, OpenID Connect Discovery 1.0 section 4.3,
//! RFC 8414 section 3.3, the target contract) is listed in
//! `scenarios/traceability/requirements.toml` with the cases that test it, the reason no
//! black-box test of a resource server can check it, or the gap a case would fill.
//!
//! This test fails when a listed case does not exist, when a requirement has neither cases nor a
//! reason nor a gap, when a catalog case is traced by no requirement, when a contract quote is not
//! in `docs/target-contract.md` or a MUST, SHOULD, MAY or REQUIRED of the contract lies outside
//! every quote, and when `scenarios/TRACEABILITY.md` differs from what the data renders to.
//! Regenerate the table with
//! `BYOID_UPDATE_TRACEABILITY=1 cargo test -p byoid --test traceability`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use byoid::catalog::{self, Case, Level};
use serde::Deserialize;

/// The BCP 14 keywords a requirement may carry, and `none` for a rule stated without one.
const KEYWORDS: &[&str] = &[
    "MUST",
    "MUST NOT",
    "REQUIRED",
    "SHALL",
    "SHALL NOT",
    "SHOULD",
    "SHOULD NOT",
    "RECOMMENDED",
    "NOT RECOMMENDED",
    "MAY",
    "OPTIONAL",
    "none",
];

/// The words that make a sentence normative.
const KEYWORD_WORDS: &[&str] = &[
    "MUST",
    "SHALL",
    "SHOULD",
    "MAY",
    "REQUIRED",
    "RECOMMENDED",
    "OPTIONAL",
];

/// The contract's words a quote must cover (OPTIONAL and SHALL do not occur in it).
const CONTRACT_WORDS: &[&str] = &["MUST", "SHOULD", "MAY", "REQUIRED"];

/// The id of the positive controls' sentence, as a case id without its flavor.
const CONTROL: &str = "control/genuine-token";

/// Quotes longer than this are shortened in the table (the data keeps them whole).
const QUOTE_MAX: usize = 300;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    text: Vec<Text>,
    requirement: Vec<Requirement>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Text {
    id: String,
    title: String,
    scope: String,
    url: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Requirement {
    id: String,
    text: String,
    section: String,
    keyword: String,
    quote: String,
    #[serde(default)]
    cases: Vec<String>,
    reason: Option<String>,
    gap: Option<String>,
    note: Option<String>,
}

/// How a requirement is traced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    /// Cases test it.
    Traced,
    /// Cases test part of it; a gap names the rest.
    Partly,
    /// No black-box test of a resource server can check it.
    NotTestable,
    /// No case yet; the gap says which would.
    Gap,
}

impl Requirement {
    fn status(&self) -> Option<Status> {
        match (!self.cases.is_empty(), &self.reason, &self.gap) {
            (true, None, None) => Some(Status::Traced),
            (true, None, Some(_)) => Some(Status::Partly),
            (false, Some(_), None) => Some(Status::NotTestable),
            (false, None, Some(_)) => Some(Status::Gap),
            _ => None,
        }
    }
}

/// A case as the table shows it: its level, and whether it is in `scenarios/pending/`.
#[derive(Clone, Copy, Debug)]
struct Known {
    level: Level,
    pending: bool,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("read {path}: {e}"))
}

fn load_data() -> Data {
    let path = "scenarios/traceability/requirements.toml";
    toml::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A case's id without its flavor suffix: `rfc8725/3.1/alg-none/okta` → `rfc8725/3.1/alg-none`.
fn base_id(case: &Case) -> String {
    let section = &case.info.section;
    let rest = case
        .info
        .id
        .strip_prefix(section.as_str())
        .and_then(|r| r.strip_prefix('/'))
        .unwrap_or(&case.info.id);
    let name = rest.split('/').next().unwrap_or(rest);
    format!("{section}/{name}")
}

/// Every case a requirement may name: the catalog, `pending/`, the positive controls.
fn known_cases() -> BTreeMap<String, Known> {
    let mut known = BTreeMap::new();
    let pending = catalog::load_dir(&root().join("scenarios/pending")).expect("pending/ loads");
    for c in &pending {
        let k = Known {
            level: c.info.level,
            pending: true,
        };
        known.insert(base_id(c), k);
    }
    // The catalog's own files, read as the build script compiles them into the binary: the
    // binary's copy may be another checkout's when worktrees share a target directory.
    let catalog = catalog::load_dir(&root().join("scenarios")).expect("the catalog loads");
    for c in &catalog {
        let k = Known {
            level: c.info.level,
            pending: false,
        };
        known.insert(base_id(c), k);
    }
    let control = Known {
        level: Level::Must,
        pending: false,
    };
    known.insert(CONTROL.to_string(), control);
    known
}

/// The same normalization as `calibration.rs`: whitespace runs and Markdown emphasis do not
/// count when a quote is looked up in the contract.
fn normalize(text: &str) -> String {
    text.replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The runs of ASCII letters of `text`, with their byte offsets.
fn words(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices().chain([(text.len(), ' ')]) {
        match (c.is_ascii_alphabetic(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                out.push((s, &text[s..i]));
                start = None;
            }
            _ => {}
        }
    }
    out
}

/// Whether `quote` carries `keyword` (a word sequence such as `MUST NOT`), or, for `none`, no
/// keyword at all.
fn keyword_fits(keyword: &str, quote: &str) -> bool {
    let quote_words: Vec<&str> = words(quote).into_iter().map(|(_, w)| w).collect();
    if keyword == "none" {
        return !quote_words.iter().any(|w| KEYWORD_WORDS.contains(w));
    }
    let wanted: Vec<&str> = keyword.split(' ').collect();
    quote_words.windows(wanted.len()).any(|w| w == wanted)
}

/// The contract's keywords that lie outside every quote: (offset, context).
fn uncovered_keywords(contract: &str, quotes: &[String]) -> Vec<String> {
    let mut covered = vec![false; contract.len()];
    for quote in quotes {
        for (at, found) in contract.match_indices(quote.as_str()) {
            covered[at..at + found.len()]
                .iter_mut()
                .for_each(|c| *c = true);
        }
    }
    words(contract)
        .into_iter()
        .filter(|(at, w)| CONTRACT_WORDS.contains(w) && !covered[*at])
        .map(|(at, w)| {
            let context: String = contract[..at]
                .chars()
                .rev()
                .take(60)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .chain(contract[at..].chars().take(w.len() + 60))
                .collect();
            format!("{w} in \"...{context}...\"")
        })
        .collect()
}

/// The quote's fragments (split at "..."), normalized, as they must occur in the contract.
fn fragments(quote: &str) -> Vec<String> {
    quote
        .split("...")
        .map(normalize)
        .filter(|f| !f.is_empty())
        .collect()
}

/// Everything wrong with the data, given the cases that exist and the contract's text.
fn problems(data: &Data, known: &BTreeMap<String, Known>, contract: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut text_ids = BTreeSet::new();
    for t in &data.text {
        if !text_ids.insert(t.id.as_str()) {
            out.push(format!("text `{}` is listed twice", t.id));
        }
        if !data.requirement.iter().any(|r| r.text == t.id) {
            out.push(format!("text `{}` has no requirement", t.id));
        }
    }
    let mut ids = BTreeSet::new();
    let mut traced = BTreeSet::new();
    let mut contract_quotes = Vec::new();
    for r in &data.requirement {
        let id = &r.id;
        if !ids.insert(id.as_str()) {
            out.push(format!("{id}: the id is used twice"));
        }
        let id_ok = id.starts_with(&format!("{}-", r.text))
            && id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
        if !id_ok {
            out.push(format!(
                "{id}: an id is `{}-<section>-<word>` in lower case, digits, `-` and `.`",
                r.text
            ));
        }
        if !text_ids.contains(r.text.as_str()) {
            out.push(format!("{id}: unknown text `{}`", r.text));
        }
        if r.section.trim().is_empty() || r.quote.trim().is_empty() {
            out.push(format!("{id}: the section and the quote must not be empty"));
        }
        if !KEYWORDS.contains(&r.keyword.as_str()) {
            out.push(format!("{id}: unknown keyword `{}`", r.keyword));
        } else if !keyword_fits(&r.keyword, &r.quote) {
            out.push(format!(
                "{id}: the quote does not carry its keyword `{}` (or, for `none`, carries one)",
                r.keyword
            ));
        }
        let texts = [&r.reason, &r.gap, &r.note];
        if texts
            .iter()
            .any(|t| t.as_ref().is_some_and(|t| t.trim().is_empty()))
        {
            out.push(format!("{id}: an empty reason, gap or note"));
        }
        if r.status().is_none() {
            out.push(format!(
                "{id}: give `cases` (and a `gap` if they test only part of it), a `reason`, or a `gap`"
            ));
        }
        let mut seen = BTreeSet::new();
        for c in &r.cases {
            if !seen.insert(c.as_str()) {
                out.push(format!("{id}: case `{c}` is listed twice"));
            }
            if !known.contains_key(c) {
                out.push(format!(
                    "{id}: no case `{c}` in the catalog, pending/ or the controls"
                ));
            }
            traced.insert(c.as_str());
        }
        if r.text == "contract" {
            for fragment in fragments(&r.quote) {
                if !contract.contains(&fragment) {
                    out.push(format!(
                        "{id}: \"{fragment}\" is not in docs/target-contract.md"
                    ));
                }
                contract_quotes.push(fragment);
            }
        }
    }
    for c in known.keys() {
        if !traced.contains(c.as_str()) {
            out.push(format!(
                "case `{c}` is traced by no requirement: add it to the `cases` of the sentence it enforces"
            ));
        }
    }
    for k in uncovered_keywords(contract, &contract_quotes) {
        out.push(format!(
            "docs/target-contract.md: {k} is in no requirement's quote"
        ));
    }
    out
}

/// A table cell: no pipes or line breaks of its own.
fn cell(text: &str) -> String {
    normalize(text).replace('|', "\\|")
}

/// The quote as the table shows it: shortened at a word when long, never inside a code span.
fn shown_quote(quote: &str) -> String {
    let q = normalize(quote);
    if q.chars().count() <= QUOTE_MAX {
        return q;
    }
    let limit = q
        .char_indices()
        .nth(QUOTE_MAX - 40)
        .map_or(q.len(), |(i, _)| i);
    let mut cut = q[..limit].rfind(' ').unwrap_or(limit);
    if !q[..cut].matches('`').count().is_multiple_of(2) {
        cut = q[..cut].rfind('`').unwrap_or(cut);
    }
    format!("{} …", q[..cut].trim_end())
}

fn traced_by(r: &Requirement, known: &BTreeMap<String, Known>) -> String {
    let mut parts: Vec<String> = r
        .cases
        .iter()
        .map(|c| {
            let k = known.get(c);
            let level = k.map_or("?".to_string(), |k| k.level.to_string());
            let pending = if k.is_some_and(|k| k.pending) {
                " (pending)"
            } else {
                ""
            };
            format!("`{c}` {level}{pending}")
        })
        .collect();
    if let Some(reason) = &r.reason {
        parts.push(format!("*not testable:* {}", cell(reason)));
    }
    if let Some(gap) = &r.gap {
        parts.push(format!("**gap:** {}", cell(gap)));
    }
    if let Some(note) = &r.note {
        parts.push(format!("*note:* {}", cell(note)));
    }
    parts.join("<br>")
}

#[derive(Default, Clone, Copy)]
struct Counts {
    all: usize,
    traced: usize,
    partly: usize,
    not_testable: usize,
    gaps: usize,
}

impl Counts {
    fn add(&mut self, s: Option<Status>) {
        self.all += 1;
        match s {
            Some(Status::Traced) => self.traced += 1,
            Some(Status::Partly) => self.partly += 1,
            Some(Status::NotTestable) => self.not_testable += 1,
            Some(Status::Gap) | None => self.gaps += 1,
        }
    }

    fn row(&self, name: &str) -> String {
        format!(
            "| {name} | {} | {} | {} | {} | {} |\n",
            self.all, self.traced, self.partly, self.not_testable, self.gaps
        )
    }
}

/// The Markdown table, deterministic: texts in the data's order, sections in the order they
/// first appear, requirements in the data's order.
fn render(data: &Data, known: &BTreeMap<String, Known>) -> String {
    let mut total = Counts::default();
    let mut per_text = Vec::new();
    for t in &data.text {
        let mut c = Counts::default();
        for r in data.requirement.iter().filter(|r| r.text == t.id) {
            c.add(r.status());
            total.add(r.status());
        }
        per_text.push((t, c));
    }
    let mut out = String::new();
    out.push_str("# Traceability: the texts' requirements and the cases that test them\n\n");
    out.push_str(
        "<!-- Generated by harness/tests/traceability.rs: do not edit. Regenerate with\n     \
         BYOID_UPDATE_TRACEABILITY=1 cargo test -p byoid --test traceability -->\n\n",
    );
    out.push_str(
        "This file is generated by `harness/tests/traceability.rs` from \
         [`traceability/requirements.toml`](traceability/requirements.toml) and the catalog; do \
         not edit it. Regenerate it with \
         `BYOID_UPDATE_TRACEABILITY=1 cargo test -p byoid --test traceability`.\n\n",
    );
    out.push_str(
        "Each row is one normative sentence of a text the catalog claims (long quotes are \
         shortened here; the data keeps them whole), its keyword (— for a rule or threat \
         stated without one), and what traces it: the cases that test it, with each case's \
         level (*pending* cases are in `pending/`); or why no black-box test of a resource \
         server can check it; or the **gap**, the case that would test it. A row with cases \
         and a gap is traced only partly.\n\n",
    );
    let _ = writeln!(
        out,
        "**{} requirements: {} traced by cases ({} of them partly), {} not testable from \
         outside, {} gaps. {} catalog cases (positive controls and `pending/` included), each \
         traced by at least one requirement.**\n",
        total.all,
        total.traced + total.partly,
        total.partly,
        total.not_testable,
        total.gaps,
        known.len()
    );
    out.push_str("| text | requirements | by cases | partly | not testable | gaps |\n");
    out.push_str("|---|---:|---:|---:|---:|---:|\n");
    for (t, c) in &per_text {
        out.push_str(&c.row(&t.title));
    }
    out.push_str(&total.row("**total**"));
    for (t, _) in &per_text {
        let _ = write!(
            out,
            "\n## {}\n\nCovered: {}. Text: [{}]({}).\n",
            t.title, t.scope, t.url, t.url
        );
        let reqs: Vec<&Requirement> = data.requirement.iter().filter(|r| r.text == t.id).collect();
        let mut sections: Vec<&str> = Vec::new();
        for r in &reqs {
            if !sections.contains(&r.section.as_str()) {
                sections.push(&r.section);
            }
        }
        for s in sections {
            let heading = if s == "intro" {
                "Introduction".to_string()
            } else {
                format!("Section {s}")
            };
            let _ = write!(
                out,
                "\n### {heading}\n\n| id | keyword | requirement | traced by |\n|---|---|---|---|\n"
            );
            for r in reqs.iter().filter(|r| r.section == s) {
                let keyword = if r.keyword == "none" {
                    "—"
                } else {
                    &r.keyword
                };
                let _ = writeln!(
                    out,
                    "| `{}` | {keyword} | {} | {} |",
                    r.id,
                    cell(&shown_quote(&r.quote)),
                    traced_by(r, known)
                );
            }
        }
    }
    out.push_str("\n## Gaps\n\nEvery gap and partly traced row, in the order above.\n\n");
    out.push_str("| id | keyword | status | the case that would test it |\n|---|---|---|---|\n");
    for r in &data.requirement {
        if let Some(gap) = &r.gap {
            let status = if r.cases.is_empty() { "gap" } else { "partly" };
            let keyword = if r.keyword == "none" {
                "—"
            } else {
                &r.keyword
            };
            let _ = writeln!(out, "| `{}` | {keyword} | {status} | {} |", r.id, cell(gap));
        }
    }
    out
}

#[test]
fn every_requirement_is_traced_and_every_case_traces_one() {
    let data = load_data();
    let known = known_cases();
    let contract = normalize(&read("docs/target-contract.md"));
    let problems = problems(&data, &known, &contract);
    assert!(
        problems.is_empty(),
        "{} problems in scenarios/traceability/requirements.toml:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_table_is_generated_from_the_data() {
    let data = load_data();
    let known = known_cases();
    let text = render(&data, &known);
    let path = root().join("scenarios/TRACEABILITY.md");
    if std::env::var_os("BYOID_UPDATE_TRACEABILITY").is_some_and(|v| v == "1") {
        std::fs::write(&path, &text).expect("write scenarios/TRACEABILITY.md");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != text {
        let line = committed
            .lines()
            .zip(text.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(text.lines().count()))
            + 1;
        panic!(
            "scenarios/TRACEABILITY.md is out of date (first difference at line {line}); \
             regenerate it with BYOID_UPDATE_TRACEABILITY=1 cargo test -p byoid --test traceability"
        );
    }
}

#[test]
fn the_checks_reject_what_they_should() {
    assert!(keyword_fits("MUST NOT", "the JWT MUST NOT be accepted"));
    assert!(!keyword_fits(
        "MUST NOT",
        "the JWT MUST be rejected, NOT accepted"
    ));
    assert!(keyword_fits("REQUIRED", "iss REQUIRED - as defined"));
    assert!(keyword_fits(
        "none",
        "a target must at least never take a key"
    ));
    assert!(!keyword_fits("none", "Use of this member is OPTIONAL."));
    assert!(!keyword_fits("MAY", "a MAYBE"));
    let contract = normalize("A target MUST do x. It SHOULD do y.\n\nIt **MAY** do z.");
    let quotes = vec![normalize("A target MUST do x."), normalize("It MAY do z.")];
    let left = uncovered_keywords(&contract, &quotes);
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(left[0].starts_with("SHOULD"), "{left:?}");
    assert_eq!(
        fragments("`false`: ... MUST NOT be   contacted"),
        vec!["`false`:", "MUST NOT be contacted"]
    );
    let long = format!("`{}` and then {}", "x ".repeat(200), "y ".repeat(100));
    let shown = shown_quote(&long);
    assert!(
        shown.ends_with(" …") && shown.matches('`').count().is_multiple_of(2),
        "{shown}"
    );
    assert_eq!(cell("a | b\nc"), "a \\| b c");
}
