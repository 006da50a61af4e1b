//! The scenario catalog: TOML files in `scenarios/`, one per RFC section, validated strictly.
//!
//! A file holds a section header and `[[case]]` tables. Unknown keys are errors naming the
//! file, line and field; a case that lists several flavors expands into one case per flavor,
//! with the flavor appended to its id (`rfc8725/3.1/alg-none/okta`).
//!
//! See `scenarios/README.md` for the schema with examples.

mod schema;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mock_idp::Flavor;
pub use schema::{
    CaseFile, CaseSpec, Expect, ExpectSpec, FlavorSel, Level, Origin, Outcome, Placement,
    RequestSpec, SignSpec, Step, TenantSpec, TokenIn, TokenKindSpec, TokenSpec, TrafficExpect,
};

/// What a case is about: its id, its place in the catalog and the sentence it enforces. A
/// result carries it as it is ([`crate::result::CaseResult::case`]).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CaseInfo {
    /// Stable id: `section/name[/flavor]`.
    pub id: String,
    /// The RFC section key, e.g. `rfc8725/3.1`.
    pub section: String,
    /// The section's title.
    pub section_title: String,
    /// One-line title.
    pub title: String,
    /// The requirement, quoted or paraphrased.
    pub requirement: String,
    /// References: RFC sections, CVEs.
    pub refs: Vec<String>,
    /// MUST, SHOULD or MAY.
    pub level: Level,
    /// Tags for filtering.
    pub tags: Vec<String>,
    /// The flavor of the case's tenant.
    pub flavor: Flavor,
}

/// A case ready to run: one flavor, one id.
#[derive(Clone, Debug)]
pub struct Case {
    /// What the case is about.
    pub info: CaseInfo,
    /// Tenant settings.
    pub tenant: TenantSpec,
    /// The token to send.
    pub token: TokenSpec,
    /// The request to send it in.
    pub request: RequestSpec,
    /// Steps for stateful cases (empty: one request).
    pub steps: Vec<Step>,
    /// The expectation of the final (or only) request.
    pub expect: ExpectSpec,
    /// Where the case is defined, for messages.
    pub origin: String,
}

impl Case {
    /// Stateful cases change IdP state or wait; they run after the independent ones.
    pub fn is_stateful(&self) -> bool {
        !self.steps.is_empty()
    }
}

/// A catalog error: names the file, the line and the field.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct CatalogError {
    /// The file.
    pub file: PathBuf,
    /// What is wrong, with line and field.
    pub message: String,
}

/// Loads every `*.toml` file under `dir` (sorted by name) and expands the cases.
pub fn load_dir(dir: &Path) -> Result<Vec<Case>, CatalogError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| CatalogError {
            file: dir.to_path_buf(),
            message: format!("cannot read the catalog directory: {e}"),
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for f in files {
        let text = crate::input::read_to_string(&f, crate::input::CONFIG_LIMIT).map_err(|e| {
            CatalogError {
                file: f.clone(),
                message: format!("cannot read: {e}"),
            }
        })?;
        cases.extend(parse_file(&f, &text)?);
    }
    check_unique(&cases)?;
    Ok(cases)
}

/// The catalog compiled into the binary, so `byoid scenarios` works from any directory.
pub fn builtin() -> Result<Vec<Case>, CatalogError> {
    let mut cases = Vec::new();
    for (name, text) in BUILTIN {
        cases.extend(parse_file(Path::new(&format!("scenarios/{name}")), text)?);
    }
    check_unique(&cases)?;
    Ok(cases)
}

/// A hash of the built-in catalog text, recorded in reports.
pub fn builtin_hash() -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for (name, text) in BUILTIN {
        h.update(name.as_bytes());
        h.update(text.as_bytes());
    }
    h.finalize()
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

include!(concat!(env!("OUT_DIR"), "/builtin_catalog.rs"));

fn check_unique(cases: &[Case]) -> Result<(), CatalogError> {
    let mut seen = BTreeSet::new();
    for c in cases {
        if !seen.insert(c.info.id.as_str()) {
            return Err(CatalogError {
                file: PathBuf::from(&c.origin),
                message: format!("duplicate case id `{}`", c.info.id),
            });
        }
    }
    Ok(())
}

/// Parses one catalog file.
pub fn parse_file(path: &Path, text: &str) -> Result<Vec<Case>, CatalogError> {
    let file: CaseFile = toml::from_str(text).map_err(|e| CatalogError {
        file: path.to_path_buf(),
        message: describe_toml_error(text, &e),
    })?;
    let mut out = Vec::new();
    for spec in file.case.iter() {
        let line = spec.id.span().start;
        let line_no = text[..line.min(text.len())].lines().count().max(1);
        let origin = format!("{}:{line_no}", path.display());
        let name = spec.id.get_ref();
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
        {
            return Err(CatalogError {
                file: path.to_path_buf(),
                message: format!("line {line_no}: field `id`: `{name}` must be non-empty ASCII letters, digits, `-`, `_` or `.`"),
            });
        }
        if let Some(s) = spec
            .request
            .tenant_sources
            .iter()
            .find(|s| !matches!(s.as_str(), "header" | "path" | "subdomain"))
        {
            return Err(CatalogError {
                file: path.to_path_buf(),
                message: format!("line {line_no}: case `{name}`: field `request.tenant_sources`: unknown tenant source `{s}` (known: header, path, subdomain)"),
            });
        }
        for (i, step) in spec.steps.iter().enumerate() {
            let sends = step.send || step.repeat.is_some() || step.unknown_kids.is_some();
            let for_sends = step.token.is_some() || step.expect.is_some() || step.tenant.is_some();
            if for_sends && !sends {
                return Err(CatalogError {
                    file: path.to_path_buf(),
                    message: format!("line {line_no}: case `{name}`, step {}: `token`, `expect` and `tenant` describe requests, but the step sends none (add `send = true` or `repeat = N`)", i + 1),
                });
            }
        }
        let flavors: Vec<Flavor> = match &spec.flavors {
            FlavorSel::All => Flavor::ALL.to_vec(),
            FlavorSel::List(list) => list.clone(),
        };
        let multi = flavors.len() > 1 || matches!(spec.flavors, FlavorSel::All);
        for flavor in flavors {
            if spec.tenant.oauth_metadata && !flavor.serves_oauth_metadata() {
                let serving: Vec<&str> = Flavor::ALL
                    .iter()
                    .filter(|f| f.serves_oauth_metadata())
                    .map(|f| f.name())
                    .collect();
                return Err(CatalogError {
                    file: path.to_path_buf(),
                    message: format!("line {line_no}: case `{name}`: field `tenant.oauth_metadata`: the {flavor} flavor serves no RFC 8414 metadata ({} do)", serving.join(" and ")),
                });
            }
            let id = if multi {
                format!("{}/{name}/{flavor}", file.section)
            } else {
                format!("{}/{name}", file.section)
            };
            let info = CaseInfo {
                id,
                section: file.section.clone(),
                section_title: file.title.clone(),
                title: spec.title.clone(),
                requirement: spec
                    .requirement
                    .clone()
                    .unwrap_or_else(|| file.requirement.clone().unwrap_or_default()),
                refs: if spec.refs.is_empty() {
                    file.refs.clone()
                } else {
                    spec.refs.clone()
                },
                level: spec.level.unwrap_or(file.level),
                tags: spec.tags.iter().chain(file.tags.iter()).cloned().collect(),
                flavor,
            };
            out.push(Case {
                info,
                tenant: spec.tenant.clone(),
                token: spec.token.clone(),
                request: spec.request.clone(),
                steps: spec.steps.clone(),
                expect: spec.expect.clone(),
                origin: origin.clone(),
            });
        }
    }
    Ok(out)
}

/// Turns a TOML error into "line N, column M: field `x`: message".
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    let msg = e.message().trim().to_string();
    match e.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.lines().count().max(1) + usize::from(before.ends_with('\n'));
            let line = line.min(text.lines().count().max(1));
            let col = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count() + 1)
                .unwrap_or(1);
            let snippet = text.lines().nth(line - 1).unwrap_or("").trim();
            let field = text
                .get(span.clone())
                .map(|s| s.trim())
                .filter(|s| !s.is_empty() && s.len() < 60);
            let field = field.map(|f| format!(" (at `{f}`)")).unwrap_or_default();
            format!("line {line}, column {col}{field}: {msg}\n    | {snippet}")
        }
        None => msg,
    }
}

/// Whether a case id is `prefix` or lies below it at a `/` boundary: `rfc6750/3` holds
/// `rfc6750/3/no-credentials/okta` but not `rfc6750/30/x`. Filters, expected-failure lists
/// and findings all name cases this way.
///
/// ```
/// use byoid::catalog::id_within;
///
/// assert!(id_within("rfc6750/3/no-credentials/okta", "rfc6750/3"));
/// assert!(id_within("rfc6750/3", "rfc6750/3"));
/// assert!(!id_within("rfc6750/30/x", "rfc6750/3"));
/// ```
pub fn id_within(id: &str, prefix: &str) -> bool {
    id.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Whether `case` matches a `--filter` term: an id prefix at `/` boundaries (`rfc6750`,
/// `rfc6750/3`, `rfc6750/3/no-credentials`), a flavor name, or a tag.
pub fn matches_filter(case: &Case, term: &str) -> bool {
    let term = term.trim_end_matches('/');
    id_within(&case.info.id, term)
        || case.info.tags.iter().any(|t| t == term)
        || case.info.flavor.name() == term
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_names_file_line_and_field() {
        let text = "section = \"x/1\"\ntitle = \"X\"\nlevel = \"must\"\n\n[[case]]\nid = \"a\"\ntitle = \"t\"\nexpect = \"ok\"\nbogus = 1\n";
        let err = parse_file(Path::new("scenarios/x.toml"), text).unwrap_err();
        let s = err.to_string();
        assert!(s.starts_with("scenarios/x.toml: line 9"), "{s}");
        assert!(s.contains("bogus"), "{s}");
    }

    #[test]
    fn a_step_that_describes_requests_but_sends_none_is_an_error() {
        let text = "section = \"s\"\ntitle = \"t\"\nrequirement = \"r\"\nlevel = \"must\"\n\n[[case]]\nid = \"c\"\ntitle = \"t\"\nexpect = \"ok\"\n[[case.steps]]\ntenant = \"other\"\nexpect = \"ok\"\n";
        let e = parse_file(Path::new("x.toml"), text).unwrap_err();
        assert!(
            e.message.contains("line 7: case `c`, step 1") && e.message.contains("send = true"),
            "{}",
            e.message
        );
        let fixed = text.replace("tenant = \"other\"", "tenant = \"other\"\nsend = true");
        assert!(parse_file(Path::new("x.toml"), &fixed).is_ok());
    }

    #[test]
    fn flavors_expand_with_suffix() {
        let text = "section = \"x/1\"\ntitle = \"X\"\nlevel = \"must\"\n[[case]]\nid = \"a\"\ntitle = \"t\"\nflavors = \"all\"\nexpect = \"ok\"\n";
        let cases = parse_file(Path::new("x.toml"), text).unwrap();
        assert_eq!(cases.len(), Flavor::ALL.len());
        assert_eq!(cases[3].info.id, "x/1/a/okta");
        assert!(matches_filter(&cases[3], "x/1"));
        assert!(matches_filter(&cases[3], "okta"));
        assert!(!matches_filter(&cases[3], "x/1/a/ok"));
    }

    #[test]
    fn builtin_catalog_loads_and_is_large() {
        let cases = builtin().expect("the shipped catalog is valid");
        assert!(cases.len() >= 150, "catalog has {} cases", cases.len());
    }
}
