//! A synthetic report with one case per verdict, shared by the report tests
//! (`report_formats.rs`, `report_snapshots.rs`).

#![allow(dead_code)]

use std::time::Duration;

use byoid::catalog::{CaseInfo, Level, Outcome};
use byoid::client::Outgoing;
use byoid::judge::{Challenge, Observed};
use byoid::report::{Report, RunInfo};
use byoid::result::{CaseResult, Control, Evidence, Verdict};
use mock_idp::Flavor;
use serde_json::json;

/// Markup, quotes and an image in what a target answered: every renderer must escape it.
pub const EVIL: &str =
    r#"<script>alert("x")</script> 'quoted' "double" & <img src="https://evil.example/x.png">"#;
/// The same without the double quotes (the console snapshot predates them).
const EVIL_PLAIN: &str =
    r#"<script>alert("x")</script> 'quoted' & <img src="https://evil.example/x.png">"#;

/// Which sample: `Hostile` puts markup into every field a page shows (the escaping tests);
/// `Plain` keeps the request and token readable (the console snapshot).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    Plain,
    Hostile,
}

fn case(s: Sample, id: &str, section: &str, level: Level, verdict: Verdict) -> CaseResult {
    let hostile = s == Sample::Hostile;
    let evil = if hostile { EVIL } else { EVIL_PLAIN };
    let bad = !matches!(verdict, Verdict::Pass | Verdict::Acceptable | Verdict::Skip);
    CaseResult {
        case: CaseInfo {
            id: id.to_string(),
            section: section.to_string(),
            section_title: format!("Title of {section}"),
            title: format!("title of {id}"),
            requirement: "the validator MUST reject it".to_string(),
            refs: vec![format!("{section} ¶2")],
            level,
            tags: if hostile {
                vec!["alg".to_string(), "entra".to_string()]
            } else {
                vec!["alg".to_string()]
            },
            flavor: Flavor::Okta,
        },
        verdict,
        expected: "401 invalid_token".to_string(),
        observed: bad.then(|| Observed {
            outcome: Some(Outcome::Ok),
            status: Some(200),
            challenges: vec![Challenge {
                scheme: "Bearer".into(),
                params: vec![("error".into(), evil.into(), true)],
            }],
            body: evil.to_string(),
            failure: None,
        }),
        reasons: if bad {
            vec![format!("got 200; body {evil}")]
        } else {
            Vec::new()
        },
        evidence: Some(if hostile {
            Evidence {
                request: Outgoing {
                    method: "GET".into(),
                    path: "/protected?x=\"</pre><script>alert(1)</script>".into(),
                    headers: vec![
                        ("Authorization".into(), "Bearer eyJ…".into()),
                        ("X-Evil".into(), EVIL.into()),
                    ],
                    body: String::new(),
                },
                token: json!({"header": {"alg": "none", "kid": EVIL}, "claims": {"sub": "</details><script>alert('t')</script>"}}),
            }
        } else {
            Evidence {
                request: Outgoing {
                    method: "GET".into(),
                    path: "/protected".into(),
                    headers: vec![("Authorization".into(), "Bearer eyJ…".into())],
                    body: String::new(),
                },
                token: json!({"header": {"alg": "none"}, "claims": {"sub": "alice"}}),
            }
        }),
        duration: Duration::from_millis(7),
    }
}

/// One case per verdict variant, over four sections; positive controls (with `Plain`, one of
/// them failed).
pub fn sample(s: Sample) -> Report {
    let cases = vec![
        case(
            s,
            "rfc8725/3.1/alg-none/okta",
            "rfc8725/3.1",
            Level::Must,
            Verdict::Fail,
        ),
        case(
            s,
            "rfc8725/3.1/alg-hs256/okta",
            "rfc8725/3.1",
            Level::Must,
            Verdict::Pass,
        ),
        case(
            s,
            "rfc6750/3/realm/okta",
            "rfc6750/3",
            Level::Should,
            Verdict::Warn,
        ),
        case(
            s,
            "rfc6750/3/error-uri/okta",
            "rfc6750/3",
            Level::May,
            Verdict::Acceptable,
        ),
        case(
            s,
            "rfc9068/4/typ/okta",
            "rfc9068/4",
            Level::Must,
            Verdict::Untestable,
        ),
        case(
            s,
            "rfc9068/4/skipped/okta",
            "rfc9068/4",
            Level::Must,
            Verdict::Skip,
        ),
        case(
            s,
            "rfc9068/2.2/hang/okta",
            "rfc9068/2.2",
            Level::Must,
            Verdict::Error,
        ),
    ];
    let info = RunInfo {
        target: if s == Sample::Hostile {
            "builtin:reference <b>".into()
        } else {
            "builtin:reference".into()
        },
        harness_version: "0.1.0".into(),
        catalog_hash: "abc123".into(),
        seed: 0,
        tenant_source: "header".into(),
        profile: None,
        filters: vec![],
        partition: None,
        skipped_flavors: vec![],
        target_exited: None,
        deadline_passed: false,
        interrupted: false,
    };
    let mut controls = vec![Control {
        flavor: Flavor::Okta,
        accepted: true,
        detail: "genuine token accepted".into(),
    }];
    if s == Sample::Plain {
        controls.push(Control {
            flavor: Flavor::Auth0,
            accepted: false,
            detail: "genuine token rejected: 401".into(),
        });
    }
    Report::new(info, controls, cases, 42)
}
