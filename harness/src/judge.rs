//! Named verifiers: status, `WWW-Authenticate` (parsed per RFC 7235/6750), body claims,
//! leakage. A verdict comes only from what the target answered.

use serde::Serialize;
use serde_json::Value;

use crate::catalog::{Expect, Outcome};
use crate::client::{Failure, TargetResponse};

/// One challenge of a `WWW-Authenticate` header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Challenge {
    /// The auth scheme as sent.
    pub scheme: String,
    /// Parameters in order: name (lowercased), value, whether it was a quoted-string.
    pub params: Vec<(String, String, bool)>,
}

impl Challenge {
    /// The value of parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _, _)| n == name)
            .map(|(_, v, _)| v.as_str())
    }
}

/// Parses a `WWW-Authenticate` value into challenges (RFC 7235 section 4.1 grammar).
///
/// ```
/// let c = byoid::judge::parse_challenges(r#"Bearer realm="api", error="invalid_token""#).unwrap();
/// assert_eq!(c[0].param("error"), Some("invalid_token"));
/// // Non-ASCII text is kept as sent, not read as Latin-1 and encoded again.
/// let c = byoid::judge::parse_challenges("Bearer error_description=\"caf\u{e9} \u{9b}\"").unwrap();
/// assert_eq!(c[0].param("error_description"), Some("caf\u{e9} \u{9b}"));
/// ```
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, String> {
    let b = value.as_bytes();
    let mut i = 0;
    let mut out: Vec<Challenge> = Vec::new();
    let is_tchar = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&c);
    let skip_ws = |i: &mut usize| {
        while *i < b.len() && (b[*i] == b' ' || b[*i] == b'\t') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        while i < b.len() && b[i] == b',' {
            i += 1;
            skip_ws(&mut i);
        }
        if i >= b.len() {
            break;
        }
        let start = i;
        while i < b.len() && is_tchar(b[i]) {
            i += 1;
        }
        if start == i {
            return Err(format!("unexpected `{}` at byte {i}", b[i] as char));
        }
        let word = &value[start..i];
        // A token followed by `=` is a parameter of the current challenge.
        let mut j = i;
        skip_ws(&mut j);
        if j < b.len() && b[j] == b'=' && !out.is_empty() && !(j + 1 < b.len() && b[j + 1] == b'=')
        {
            i = j + 1;
            skip_ws(&mut i);
            let (val, quoted) = if i < b.len() && b[i] == b'"' {
                i += 1;
                // Bytes, not chars: a multi-byte UTF-8 character stays one character.
                let mut v: Vec<u8> = Vec::new();
                loop {
                    if i >= b.len() {
                        return Err("unterminated quoted-string".into());
                    }
                    match b[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' if i + 1 < b.len() => {
                            v.push(b[i + 1]);
                            i += 2;
                        }
                        c => {
                            v.push(c);
                            i += 1;
                        }
                    }
                }
                (String::from_utf8_lossy(&v).into_owned(), true)
            } else {
                let s = i;
                while i < b.len() && is_tchar(b[i]) {
                    i += 1;
                }
                (value[s..i].to_string(), false)
            };
            if let Some(last) = out.last_mut() {
                last.params.push((word.to_ascii_lowercase(), val, quoted));
            }
            skip_ws(&mut i);
            if i < b.len() && b[i] != b',' {
                return Err(format!("expected `,` at byte {i}"));
            }
        } else {
            out.push(Challenge {
                scheme: word.to_string(),
                params: Vec::new(),
            });
            // token68 form (`Basic abc==`): a run of token68 characters, optional `=`
            // padding, then the end or a comma.
            skip_ws(&mut i);
            let s = i;
            let mut k = i;
            while k < b.len() && (b[k].is_ascii_alphanumeric() || b"-._~+/".contains(&b[k])) {
                k += 1;
            }
            let body_end = k;
            while k < b.len() && b[k] == b'=' {
                k += 1;
            }
            let mut after = k;
            skip_ws(&mut after);
            if body_end > s && (after >= b.len() || b[after] == b',') {
                i = after;
            }
        }
    }
    Ok(out)
}

/// What was observed, in the terms the expectations use.
#[derive(Clone, Debug, Serialize, serde::Deserialize, PartialEq)]
pub struct Observed {
    /// The outcome the answer amounts to, if it is one of the named ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// Status code, when an answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// Parsed `WWW-Authenticate` challenges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub challenges: Vec<Challenge>,
    /// The first bytes of the body.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub body: String,
    /// Why no answer came.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Failure>,
}

/// How a request's answer compares to its expectation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Match {
    /// Exactly what the specification asks for.
    Expected,
    /// An outcome the specification also allows.
    Acceptable,
    /// Neither.
    Wrong,
    /// The target could not answer (hang, reset, garbage).
    NoAnswer,
}

/// Text that betrays an exception or stack trace in a response body.
const LEAK_MARKERS: &[&str] = &[
    "panicked at",
    "Traceback (most recent call last)",
    "Exception",
    "exception",
    "stack backtrace",
    "    at ",
    "RUST_BACKTRACE",
    "Error {",
    "node:internal",
    "File \"/",
];

/// Whether RFC 6750 section 3 allows `ch` in the value of the Bearer parameter `name`:
/// `error`, `error_description` and `scope` are %x20-21 / %x23-5B / %x5D-7E, `error_uri` the
/// same without the space; other parameters are not limited there.
fn rfc6750_allows(name: &str, ch: char) -> bool {
    let visible = matches!(ch, '\x21' | '\x23'..='\x5B' | '\x5D'..='\x7E');
    match name {
        "error" | "error_description" | "scope" => visible || ch == ' ',
        "error_uri" => visible,
        _ => true,
    }
}

/// How to read a target's answers: which statuses mean the token was accepted, and where an
/// accepted answer shows the resolved tenant and the claims (a [`crate::profile::Route`]'s
/// view, with the slug the request named).
#[derive(Clone, Copy, Debug)]
pub struct Reading<'a> {
    /// Statuses that mean "accepted".
    pub accepted: &'a [u16],
    /// JSON pointer to the resolved tenant's slug in an accepted answer.
    pub tenant_pointer: Option<&'a str>,
    /// JSON pointer to the claims object in an accepted answer.
    pub claims_pointer: Option<&'a str>,
    /// The slug the request named (empty: none), which an accepted answer's tenant must be.
    pub slug: &'a str,
}

impl Reading<'static> {
    /// The contract's whoami (section 3.2): 200 with `{"tenant": ..., "claims": {...}}`.
    pub const CONTRACT: Reading<'static> = Reading {
        accepted: &[200],
        tenant_pointer: Some("/tenant"),
        claims_pointer: Some("/claims"),
        slug: "",
    };
}

/// Judges one answer, read as `reading` says. Returns the match and the reasons it is not
/// `Expected`.
///
/// ```
/// use byoid::catalog::{Expect, Outcome};
/// use byoid::judge::{judge, Match, Reading};
/// let refused = byoid::client::TargetResponse {
///     status: 401,
///     headers: vec![("www-authenticate".into(), r#"Bearer error="invalid_token""#.into())],
///     body: Default::default(),
/// };
/// let expect = Expect { outcome: Outcome::InvalidToken, ..Expect::default() };
/// assert_eq!(judge(&expect, Reading::CONTRACT, &Ok(refused)).0, Match::Expected);
/// ```
pub fn judge(
    expect: &Expect,
    reading: Reading<'_>,
    result: &Result<TargetResponse, Failure>,
) -> (Match, Observed, Vec<String>) {
    let answer = match result {
        Ok(a) => a,
        Err(f) => {
            let obs = Observed {
                outcome: None,
                status: None,
                challenges: Vec::new(),
                body: String::new(),
                failure: Some(f.clone()),
            };
            return (Match::NoAnswer, obs, vec![format!("no answer: {f}")]);
        }
    };
    let mut reasons = Vec::new();
    let mut challenges = Vec::new();
    let www = answer.all("www-authenticate");
    for v in &www {
        match parse_challenges(v) {
            Ok(c) => challenges.extend(c),
            Err(e) => reasons.push(format!("WWW-Authenticate `{v}` does not parse: {e}")),
        }
    }
    let bearer: Vec<&Challenge> = challenges
        .iter()
        .filter(|c| c.scheme.eq_ignore_ascii_case("bearer"))
        .collect();
    for c in &bearer {
        let mut names: Vec<&str> = c.params.iter().map(|(n, _, _)| n.as_str()).collect();
        names.sort_unstable();
        if names.windows(2).any(|w| w[0] == w[1]) {
            reasons.push(
                "a Bearer challenge repeats a parameter (RFC 6750 section 3: each at most once)"
                    .into(),
            );
        }
        if c.params.is_empty() && expect.challenge_auth_param {
            reasons.push(
                "a Bearer challenge without any auth-param (RFC 6750 section 3: the scheme MUST be followed by one or more auth-param values)"
                    .into(),
            );
        }
        for (n, value, quoted) in &c.params {
            if ["error", "error_description", "realm", "scope", "error_uri"].contains(&n.as_str())
                && !quoted
            {
                reasons.push(format!("`{n}` is not a quoted-string (RFC 6750 section 3)"));
            }
            if let Some(bad) = value.chars().find(|ch| !rfc6750_allows(n, *ch)) {
                reasons.push(format!(
                    "`{n}` holds {bad:?}, outside the characters RFC 6750 section 3 allows in it"
                ));
            }
        }
    }
    let error = bearer.iter().find_map(|c| c.param("error"));
    let outcome = match (answer.status, error) {
        (s, _) if reading.accepted.contains(&s) => Some(Outcome::Ok),
        (401, Some("invalid_token")) => Some(Outcome::InvalidToken),
        (401, None) if !bearer.is_empty() => Some(Outcome::NoCredentials),
        (400, Some("invalid_request")) => Some(Outcome::InvalidRequest),
        (403, Some("insufficient_scope")) => Some(Outcome::InsufficientScope),
        _ => None,
    };
    let text = answer.text();
    // Mask Unix times before truncating, so a cut cannot leave a partial time unmasked.
    let body = crate::recipe::truncate(&mask_times(&text), 300);
    let refused_ok =
        Outcome::Refused.covers(answer.status) && expect.acceptable.contains(&Outcome::Refused);
    if answer.status >= 500 && !refused_ok {
        reasons.push(format!(
            "answered {} (a target never answers 5xx for a bad token)",
            answer.status
        ));
    }
    if let Some(m) = LEAK_MARKERS.iter().find(|m| text.contains(*m)) {
        reasons.push(format!(
            "the body contains `{}`: exception text leaked",
            m.trim()
        ));
    }
    if outcome == Some(Outcome::Ok) {
        check_identity(expect, reading, &text, &mut reasons);
        for (name, directive) in &expect.headers_when_ok {
            let values = answer.all(name);
            let carried = values
                .iter()
                .flat_map(|v| v.split(','))
                .any(|item| item.trim().eq_ignore_ascii_case(directive));
            if !carried {
                reasons.push(format!(
                    "a 200 answer without `{name}: {directive}` (got `{}`)",
                    values.join(", ")
                ));
            }
        }
    }
    let obs = Observed {
        outcome,
        status: Some(answer.status),
        challenges: challenges.clone(),
        body,
        failure: None,
    };
    let m = match outcome {
        Some(o) if o == expect.outcome && reasons.is_empty() => Match::Expected,
        Some(o) if expect.acceptable.contains(&o) && reasons.is_empty() => Match::Acceptable,
        _ if refused_ok && reasons.is_empty() => Match::Acceptable,
        _ => {
            if outcome != Some(expect.outcome)
                && !outcome.is_some_and(|o| expect.acceptable.contains(&o))
                && !refused_ok
            {
                let got = match (outcome, error) {
                    (Some(o), _) => o.to_string(),
                    (None, Some(e)) => format!("{} with error=\"{e}\"", answer.status),
                    (None, None) if www.is_empty() => {
                        format!("{} without WWW-Authenticate", answer.status)
                    }
                    (None, None) => format!(
                        "{} with WWW-Authenticate `{}`",
                        answer.status,
                        www.join(", ")
                    ),
                };
                reasons.insert(0, format!("expected {}, got {got}", expect_text(expect)));
            }
            Match::Wrong
        }
    };
    (m, obs, reasons)
}

/// "401 invalid_token (or 400 invalid_request)".
pub fn expect_text(e: &Expect) -> String {
    let mut s = e.outcome.to_string();
    if !e.acceptable.is_empty() {
        let alts: Vec<String> = e.acceptable.iter().map(ToString::to_string).collect();
        s.push_str(&format!(" (or {})", alts.join(", ")));
    }
    s
}

/// On an accepted answer: the tenant it shows is the one the request named, and the claims it
/// shows hold what the case expects.
fn check_identity(expect: &Expect, reading: Reading<'_>, body: &str, reasons: &mut Vec<String>) {
    let checks_tenant = reading.tenant_pointer.is_some() && !reading.slug.is_empty();
    if !checks_tenant && expect.claims.is_none() {
        return;
    }
    let Ok(v) = serde_json::from_str::<Value>(body) else {
        reasons.push("the accepted answer's body is not JSON".into());
        return;
    };
    if let (Some(pointer), true) = (reading.tenant_pointer, checks_tenant) {
        match v.pointer(pointer) {
            Some(Value::String(t)) if t == reading.slug => {}
            Some(got) => reasons.push(format!(
                "the answer names the tenant {got} at `{pointer}`, the request named \"{}\"",
                reading.slug
            )),
            None => reasons.push(format!("the answer shows no tenant at `{pointer}`")),
        }
    }
    let Some(want) = &expect.claims else {
        return;
    };
    let Some(claims) = reading.claims_pointer.and_then(|p| v.pointer(p)) else {
        reasons.push(format!(
            "the answer shows no claims at `{}`",
            reading.claims_pointer.unwrap_or("(no pointer)")
        ));
        return;
    };
    for (name, expected) in want {
        let got = &claims[name];
        let expected_json = toml_to_json(expected);
        let ok = match (&expected_json, got) {
            (Value::Array(want), Value::Array(have)) => want.iter().all(|w| have.contains(w)),
            (Value::Array(want), Value::String(s)) => {
                want.len() == 1 && want[0] == Value::String(s.clone())
            }
            (w, h) => w == h,
        };
        if !ok {
            reasons.push(format!(
                "claims.{name}: expected {expected_json}, got {got}"
            ));
        }
    }
}

fn toml_to_json(v: &toml::Value) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// Replaces Unix times (ten-digit numbers) in echoed bodies so reports compare byte for byte.
pub fn mask_times(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let flush = |digits: &mut String, out: &mut String| {
        if digits.len() == 10 {
            out.push_str("<time>");
        } else {
            out.push_str(digits);
        }
        digits.clear();
    };
    for ch in text.chars() {
        if ch.is_ascii_digit() {
            digits.push(ch);
        } else {
            flush(&mut digits, &mut out);
            out.push(ch);
        }
    }
    flush(&mut digits, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bearer_and_basic() {
        let c = parse_challenges(
            r#"Bearer realm="x", error="invalid_token", error_description="bad", Basic realm="y""#,
        )
        .unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].param("error"), Some("invalid_token"));
        assert_eq!(c[1].scheme, "Basic");
        let c = parse_challenges("Bearer").unwrap();
        assert_eq!(c[0].params.len(), 0);
        let c = parse_challenges("Bearer error=invalid_token").unwrap();
        assert_eq!(
            c[0].params[0],
            ("error".into(), "invalid_token".into(), false)
        );
        assert!(parse_challenges("Bearer error=\"x").is_err());
    }

    fn answer(status: u16, www: &str, body: &str) -> Result<TargetResponse, Failure> {
        let mut headers = vec![];
        if !www.is_empty() {
            headers.push(("www-authenticate".to_string(), www.to_string()));
        }
        Ok(TargetResponse {
            status,
            headers,
            body: bytes::Bytes::from(body.to_string()),
        })
    }

    #[test]
    fn challenges_keep_to_rfc6750_syntax() {
        // Only the syntax reasons: the expectation (any) is beside the point here.
        let reasons = |www: &str| {
            let (_, _, r) = judge(&Expect::default(), Reading::CONTRACT, &answer(401, www, ""));
            r.into_iter()
                .filter(|r| !r.starts_with("expected "))
                .collect::<Vec<_>>()
        };
        assert!(reasons(r#"Bearer realm="x""#).is_empty());
        assert!(
            reasons("Bearer").is_empty(),
            "asked for by the cases that name it"
        );
        let named = Expect {
            challenge_auth_param: true,
            ..Expect::default()
        };
        let (_, _, bare) = judge(&named, Reading::CONTRACT, &answer(401, "Bearer", ""));
        assert!(
            bare.iter().any(|r| r.contains("without any auth-param")),
            "{bare:?}"
        );
        let quote = reasons(r#"Bearer error="invalid_token", error_description="kid \"k\"""#);
        assert!(
            quote
                .iter()
                .any(|r| r.contains("`error_description` holds '\"'")),
            "{quote:?}"
        );
        let accent = reasons("Bearer error=\"invalid_token\", error_description=\"caf\u{e9}\"");
        assert!(accent.iter().any(|r| r.contains("'é'")), "{accent:?}");
        assert!(rfc6750_allows("error_uri", '~') && !rfc6750_allows("error_uri", ' '));
        assert!(rfc6750_allows("realm", '"'));
    }

    #[test]
    fn a_200_carries_the_directives_asked_for() {
        let e = Expect {
            headers_when_ok: [("cache-control".to_string(), "private".to_string())].into(),
            ..Expect::default()
        };
        let with = |cc: &str| {
            let mut a = answer(200, "", "{}").unwrap();
            if !cc.is_empty() {
                a.headers.push(("cache-control".into(), cc.into()));
            }
            judge(&e, Reading::CONTRACT, &Ok(a)).0
        };
        assert_eq!(with("no-store, Private"), Match::Expected);
        assert_eq!(with("privateish"), Match::Wrong);
        assert_eq!(with(""), Match::Wrong);
    }

    #[test]
    fn verdicts_follow_the_contract_table() {
        let e = Expect {
            outcome: Outcome::InvalidToken,
            ..Expect::default()
        };
        assert_eq!(
            judge(
                &e,
                Reading::CONTRACT,
                &answer(401, r#"Bearer error="invalid_token""#, "")
            )
            .0,
            Match::Expected
        );
        assert_eq!(
            judge(&e, Reading::CONTRACT, &answer(401, "Bearer", "")).0,
            Match::Wrong,
            "no error param"
        );
        assert_eq!(
            judge(&e, Reading::CONTRACT, &answer(200, "", "{}")).0,
            Match::Wrong
        );
        let (m, _, r) = judge(
            &e,
            Reading::CONTRACT,
            &answer(
                401,
                r#"Bearer error="invalid_token", error="invalid_token""#,
                "",
            ),
        );
        assert_eq!(m, Match::Wrong);
        assert!(r[0].contains("repeats"), "{r:?}");
        let (m, _, r) = judge(
            &e,
            Reading::CONTRACT,
            &answer(500, "", "thread 'main' panicked at src/x.rs"),
        );
        assert_eq!(m, Match::Wrong);
        assert!(r.iter().any(|x| x.contains("5xx")) && r.iter().any(|x| x.contains("leaked")));
        let e2 = Expect {
            outcome: Outcome::InvalidRequest,
            acceptable: vec![Outcome::InvalidToken],
            ..Expect::default()
        };
        assert_eq!(
            judge(
                &e2,
                Reading::CONTRACT,
                &answer(401, r#"Bearer error="invalid_token""#, "")
            )
            .0,
            Match::Acceptable
        );
        assert_eq!(
            judge(&e, Reading::CONTRACT, &Err(Failure::Timeout(10))).0,
            Match::NoAnswer
        );
    }

    #[test]
    fn claims_are_checked_on_200() {
        let mut want = std::collections::BTreeMap::new();
        want.insert(
            "roles".to_string(),
            toml::Value::Array(vec![toml::Value::String("admin".into())]),
        );
        let e = Expect {
            outcome: Outcome::Ok,
            claims: Some(want),
            ..Expect::default()
        };
        assert_eq!(
            judge(
                &e,
                Reading::CONTRACT,
                &answer(200, "", r#"{"claims":{"roles":["x","admin"]}}"#)
            )
            .0,
            Match::Expected
        );
        assert_eq!(
            judge(
                &e,
                Reading::CONTRACT,
                &answer(200, "", r#"{"claims":{"groups":["admin"]}}"#)
            )
            .0,
            Match::Wrong
        );
    }
}
