//! Every verdict rests on text: each case's requirement quotes the sentence it enforces, a
//! MUST case quotes a MUST-level sentence, and a sentence quoted from the target contract is
//! really in `docs/target-contract.md`. A MUST failure on a correct validator written by
//! someone else is a bug in the catalog; this test keeps the catalog from claiming more than
//! its sources say.

use byoid::catalog::{self, Level};

/// The sources a requirement may quote, as the prefix before `: "`.
fn source_is_known(source: &str) -> bool {
    let numbered = |prefix: &str| source.strip_prefix(prefix).is_some_and(numbered_text);
    if let Some(rest) = source.strip_prefix("RFC ") {
        return rest.split_once(" section ").is_some_and(|(rfc, section)| {
            !rfc.is_empty() && rfc.chars().all(|c| c.is_ascii_digit()) && numbered_text(section)
        });
    }
    numbered("Target contract section ")
        || numbered("OpenID Connect Core 1.0 section ")
        || numbered("OpenID Connect Discovery 1.0 section ")
}

fn numbered_text(n: &str) -> bool {
    !n.is_empty()
        && n.starts_with(|c: char| c.is_ascii_digit())
        && n.chars().all(|c| c.is_ascii_digit() || c == '.')
}

/// `Source: "quote" tail` → (source, quote). The quote ends at the next `"`.
fn split_requirement(req: &str) -> Option<(&str, &str)> {
    let (source, rest) = req.split_once(": \"")?;
    let (quote, _tail) = rest.split_once('"')?;
    Some((source, quote))
}

fn has_must_keyword(quote: &str) -> bool {
    quote
        .split(|c: char| !c.is_ascii_alphabetic())
        .any(|w| matches!(w, "MUST" | "REQUIRED" | "SHALL"))
}

/// Whitespace runs and Markdown emphasis do not count when looking a quote up.
fn normalize(text: &str) -> String {
    text.replace("**", "")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn every_case_quotes_its_source_and_must_cases_quote_a_must() {
    let cases = catalog::builtin().expect("the built-in catalog loads");
    let contract = normalize(include_str!("../../docs/target-contract.md"));
    let mut problems = Vec::new();
    // The positive controls are MUST cases too, made by the runner rather than the catalog.
    let control = byoid::runner::CONTROL_REQUIREMENT;
    match split_requirement(control) {
        Some((_, quote)) if has_must_keyword(quote) && contract.contains(&normalize(quote)) => {}
        _ => problems.push(format!("the positive controls' requirement: {control}")),
    }
    let mut seen = std::collections::BTreeSet::new();
    for c in &cases {
        // One entry per `[[case]]` (its file and line), not per flavor.
        if !seen.insert(c.origin.clone()) {
            continue;
        }
        let Some((source, quote)) = split_requirement(&c.info.requirement) else {
            problems.push(format!(
                "{}: the requirement is not `Source: \"quote\"`",
                c.info.id
            ));
            continue;
        };
        if !source_is_known(source) {
            problems.push(format!("{}: unknown source `{source}`", c.info.id));
        }
        if c.info.level == Level::Must && !has_must_keyword(quote) {
            problems.push(format!(
                "{}: a MUST case quotes no MUST/REQUIRED/SHALL sentence: \"{quote}\"",
                c.info.id
            ));
        }
        if source.starts_with("Target contract") {
            for fragment in quote.split("...").map(normalize) {
                if !fragment.is_empty() && !contract.contains(&fragment) {
                    problems.push(format!(
                        "{}: \"{fragment}\" is not in docs/target-contract.md",
                        c.info.id
                    ));
                }
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn the_checks_reject_what_they_should() {
    assert!(source_is_known("RFC 9068 section 4"));
    assert!(source_is_known("Target contract section 5.3"));
    assert!(source_is_known("OpenID Connect Discovery 1.0 section 4.3"));
    assert!(!source_is_known("RFC section 4"));
    assert!(!source_is_known("Microsoft docs"));
    assert!(has_must_keyword("The resource server MUST validate"));
    assert!(has_must_keyword("iat  REQUIRED - as defined"));
    assert!(!has_must_keyword("The resource server SHOULD respond"));
    assert!(!has_must_keyword("a musty smell"));
    assert_eq!(
        split_requirement(r#"RFC 6750 section 3.1: "SHOULD respond" because"#),
        Some(("RFC 6750 section 3.1", "SHOULD respond"))
    );
    assert_eq!(split_requirement("no quote here"), None);
}
