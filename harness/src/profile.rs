//! Target profiles: how byoid talks to a target. The contract's routes (`/healthz`,
//! `/api/whoami`, `/api/admin`) are one profile; a profile file maps the same cases onto an
//! existing API's own routes, and declares the capabilities the API does not have. A case that
//! needs a missing capability is reported as not applicable, with the reason: it neither
//! passes nor fails (contract section 7).
//!
//! ```
//! use byoid::profile::{Capability, TargetProfile};
//! let p = TargetProfile::parse(r#"
//!     profile = "byoid-profile/1"
//!     health = "/health"
//!     lacks = ["claim-mappings", "query-method", "form-body-method"]
//!     [tenant]
//!     source = "header"
//!     header = "X-Org"
//!     [protected]
//!     path = "/v1/orders/42"
//! "#, "orders.toml").unwrap();
//! assert_eq!(p.protected.path, "/v1/orders/42");
//! assert!(p.lacks(Capability::AdminRole));      // no [admin] route
//! assert!(p.lacks(Capability::ClaimMappings));  // declared
//! assert!(!p.lacks(Capability::AgreeHeader));
//! ```

use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

use crate::catalog::{Case, Placement, TokenIn};
use crate::world::TenantSource;

/// The version a profile file names in `profile = "..."`.
pub const PROFILE_VERSION: &str = "byoid-profile/1";

/// What a case may need of a target beyond validating a token on one protected request
/// (contract section 7). A target is assumed to have all of them unless its profile says
/// otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// A route whose JSON answer shows the resolved tenant and the claims after mapping
    /// (the contract's `/api/whoami`); cases that check claims need it.
    IdentityRoute,
    /// A route that needs the `admin` role (the contract's `/api/admin`).
    AdminRole,
    /// Per-tenant `claim_mappings` (contract section 5.7).
    ClaimMappings,
    /// The `access_token` query parameter (RFC 6750 section 2.3), even to refuse it.
    QueryMethod,
    /// The form-encoded body parameter on `POST` (RFC 6750 section 2.2).
    FormBodyMethod,
    /// A tenant's `agree_header` (contract section 2.2).
    AgreeHeader,
    /// A request that names no tenant still reaching the API's token check: under a path
    /// source, the route without its `{tenant}` segment. Most routers answer such a path 404,
    /// which a profile's `accepted` statuses may include.
    TenantlessRoute,
}

impl Capability {
    /// Every capability, in the order the contract lists them.
    pub const ALL: [Capability; 7] = [
        Capability::IdentityRoute,
        Capability::AdminRole,
        Capability::ClaimMappings,
        Capability::QueryMethod,
        Capability::FormBodyMethod,
        Capability::AgreeHeader,
        Capability::TenantlessRoute,
    ];

    /// The name a profile's `lacks` list uses.
    pub fn name(self) -> &'static str {
        match self {
            Capability::IdentityRoute => "identity-route",
            Capability::AdminRole => "admin-role",
            Capability::ClaimMappings => "claim-mappings",
            Capability::QueryMethod => "query-method",
            Capability::FormBodyMethod => "form-body-method",
            Capability::AgreeHeader => "agree-header",
            Capability::TenantlessRoute => "tenantless-route",
        }
    }

    /// What the capability is, for a not-applicable reason.
    fn meaning(self) -> &'static str {
        match self {
            Capability::IdentityRoute => "a route that shows the resolved tenant and claims",
            Capability::AdminRole => "a route that needs the admin role",
            Capability::ClaimMappings => "per-tenant claim mappings",
            Capability::QueryMethod => "the access_token query parameter",
            Capability::FormBodyMethod => "the form-body token on POST",
            Capability::AgreeHeader => "a tenant's agree_header",
            Capability::TenantlessRoute => "a route that a request naming no tenant reaches",
        }
    }

    /// The capabilities `case` needs: derived from its data, so a new case needs no tag.
    pub fn needed_by(case: &Case) -> BTreeSet<Capability> {
        let mut needs = BTreeSet::new();
        let mut expects = std::iter::once(&case.expect)
            .chain(case.steps.iter().filter_map(|s| s.expect.as_ref()));
        if expects.any(|e| e.full().claims.is_some()) {
            needs.insert(Capability::IdentityRoute);
        }
        if case.request.route == "admin" {
            needs.insert(Capability::AdminRole);
        }
        if case.tenant.claim_mappings.is_some() {
            needs.insert(Capability::ClaimMappings);
        }
        match case.request.token_in {
            TokenIn::Query | TokenIn::HeaderAndQuery => {
                needs.insert(Capability::QueryMethod);
            }
            TokenIn::Body | TokenIn::HeaderAndBody => {
                needs.insert(Capability::FormBodyMethod);
            }
            _ => {}
        }
        if case.tenant.agree_header.is_some() {
            needs.insert(Capability::AgreeHeader);
        }
        let placements =
            std::iter::once(case.request.tenant).chain(case.steps.iter().filter_map(|s| s.tenant));
        if placements.into_iter().any(|p| p == Placement::Missing) {
            needs.insert(Capability::TenantlessRoute);
        }
        needs
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Capability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Capability::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = Capability::ALL.iter().map(|c| c.name()).collect();
                format!("unknown capability `{s}` (known: {})", known.join(", "))
            })
    }
}

/// One request byoid sends: method, path (`{tenant}` stands for the slug in path-source
/// profiles) and the statuses that mean the token was accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// `GET`, `POST`, ... (a case that sends a form body uses `POST` whatever this says).
    pub method: String,
    /// The path and query, `{tenant}` for the slug's segment when the path names the tenant.
    pub path: String,
    /// Statuses that mean "accepted" (the contract's 200).
    pub accepted: Vec<u16>,
    /// Where an accepted answer shows the resolved tenant's slug (a JSON pointer, RFC 6901).
    pub tenant: Option<String>,
    /// Where an accepted answer shows the claims after mapping, an object (a JSON pointer).
    pub claims: Option<String>,
}

/// How byoid talks to a target: the contract's routes ([`TargetProfile::contract`]) or an
/// application's own ([`TargetProfile::load`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TargetProfile {
    /// Where it came from: `the contract` or the file's path.
    pub origin: String,
    /// The readiness path (`GET`, any 2xx).
    pub health: String,
    /// Where requests name the tenant.
    pub tenant_source: TenantSource,
    /// The `Host` of a subdomain-source request, `{tenant}` for the slug (the port is added).
    pub host: String,
    /// The request every case sends unless it needs another.
    pub protected: Route,
    /// The route that shows the claims after mapping, if the target has one.
    pub identity: Option<Route>,
    /// The route that needs the admin role, if the target has one.
    pub admin: Option<Route>,
    lacking: BTreeSet<Capability>,
}

/// Why a profile file was refused: the file, the line when known, the field and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct ProfileError {
    /// The file.
    pub file: String,
    /// The 1-based line.
    pub line: Option<usize>,
    /// The field and what is wrong with it.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileProfile {
    profile: toml::Spanned<String>,
    #[serde(default = "default_health")]
    health: toml::Spanned<String>,
    tenant: FileTenant,
    protected: FileRoute,
    #[serde(default)]
    identity: Option<FileRoute>,
    #[serde(default)]
    admin: Option<FileRoute>,
    #[serde(default)]
    lacks: Vec<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileTenant {
    source: toml::Spanned<String>,
    #[serde(default)]
    header: Option<String>,
    #[serde(default)]
    host: Option<toml::Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRoute {
    #[serde(default = "default_method")]
    method: String,
    path: toml::Spanned<String>,
    #[serde(default = "default_accepted")]
    accepted: toml::Spanned<Vec<u16>>,
    #[serde(default)]
    tenant: Option<toml::Spanned<String>>,
    #[serde(default)]
    claims: Option<toml::Spanned<String>>,
}

fn default_health() -> toml::Spanned<String> {
    toml::Spanned::new(0..0, "/healthz".into())
}
fn default_method() -> String {
    "GET".into()
}
fn default_accepted() -> toml::Spanned<Vec<u16>> {
    toml::Spanned::new(0..0, vec![200])
}

impl TargetProfile {
    /// The contract's routes under `source` (contract section 3.2).
    ///
    /// ```
    /// use byoid::{profile::TargetProfile, world::TenantSource};
    /// let p = TargetProfile::contract(&TenantSource::Path("/tenants".into()));
    /// assert_eq!(p.protected.path, "/tenants/{tenant}/api/whoami");
    /// assert_eq!(p.admin.unwrap().path, "/tenants/{tenant}/api/admin");
    /// ```
    pub fn contract(source: &TenantSource) -> TargetProfile {
        let path = |route: &str| match source {
            TenantSource::Path(prefix) => format!("{prefix}/{{tenant}}/api/{route}"),
            _ => format!("/api/{route}"),
        };
        let route = |name: &str| Route {
            method: "GET".into(),
            path: path(name),
            accepted: vec![200],
            tenant: Some("/tenant".into()),
            claims: Some("/claims".into()),
        };
        TargetProfile {
            origin: "the contract".into(),
            health: "/healthz".into(),
            tenant_source: source.clone(),
            host: "{tenant}.localhost".into(),
            protected: route("whoami"),
            identity: Some(route("whoami")),
            admin: Some(route("admin")),
            lacking: BTreeSet::new(),
        }
    }

    /// Reads and checks a profile file.
    pub fn load(path: &Path) -> Result<TargetProfile, ProfileError> {
        let file = path.display().to_string();
        let text = crate::input::read_to_string(path, crate::input::CONFIG_LIMIT).map_err(|e| {
            ProfileError {
                file: file.clone(),
                line: None,
                message: e.to_string(),
            }
        })?;
        TargetProfile::parse(&text, &file)
    }

    /// Parses a profile from `text`; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<TargetProfile, ProfileError> {
        let fail = |span: Option<std::ops::Range<usize>>, message: String| ProfileError {
            file: file.to_string(),
            line: span.map(|s| crate::input::line_of(text, s.start)),
            message,
        };
        let raw: FileProfile = toml::from_str(text).map_err(|e| {
            fail(
                e.span(),
                e.message().trim().to_string() + " (see docs/target-contract.md section 7)",
            )
        })?;
        if raw.profile.get_ref() != PROFILE_VERSION {
            return Err(fail(
                Some(raw.profile.span()),
                format!(
                    "`profile`: `{}` is not a profile version this byoid reads (`{PROFILE_VERSION}`)",
                    raw.profile.get_ref()
                ),
            ));
        }
        // The names and their error are the CLI's (`TenantSource::from_str`); the header's name
        // and the path's prefix come from this file.
        let source_span = Some(raw.tenant.source.span());
        let source = match raw.tenant.source.get_ref().parse::<TenantSource>() {
            Err(e) => return Err(fail(source_span, format!("`tenant.source`: {e}"))),
            Ok(TenantSource::Header(_)) => {
                TenantSource::Header(raw.tenant.header.clone().ok_or_else(|| {
                    fail(
                        source_span,
                        "`tenant.header`: a header source needs the header's name".into(),
                    )
                })?)
            }
            Ok(TenantSource::Path(_)) => {
                let p = raw.protected.path.get_ref();
                let prefix = p
                    .split_once("/{tenant}")
                    .map(|(before, _)| before.to_string());
                TenantSource::Path(prefix.ok_or_else(|| {
                    fail(
                        Some(raw.protected.path.span()),
                        "`protected.path`: a path source needs a `/{tenant}` segment".into(),
                    )
                })?)
            }
            Ok(TenantSource::Subdomain) => TenantSource::Subdomain,
        };
        let host = match &raw.tenant.host {
            Some(h) if !h.get_ref().starts_with("{tenant}.") => {
                return Err(fail(
                    Some(h.span()),
                    "`tenant.host`: the slug is the first label, so it starts with `{tenant}.`"
                        .into(),
                ))
            }
            Some(h) => h.get_ref().clone(),
            None => "{tenant}.localhost".into(),
        };
        let pointer = |p: &toml::Spanned<String>, field: &str| {
            if p.get_ref().is_empty() || p.get_ref().starts_with('/') {
                Ok(p.get_ref().clone())
            } else {
                Err(fail(
                    Some(p.span()),
                    format!(
                        "`{field}`: `{}` is not a JSON pointer (RFC 6901: empty or starting with `/`)",
                        p.get_ref()
                    ),
                ))
            }
        };
        let route = |r: &FileRoute, field: &str| -> Result<Route, ProfileError> {
            let (method, path, accepted) = (&r.method, &r.path, &r.accepted);
            let p = path.get_ref();
            if !p.starts_with('/') || p.chars().any(|c| c.is_ascii_control() || c == ' ') {
                return Err(fail(
                    Some(path.span()),
                    format!("`{field}.path`: `{p}` is not an absolute path without spaces"),
                ));
            }
            let tenant_segments = p.matches("{tenant}").count();
            let wants = usize::from(matches!(source, TenantSource::Path(_)));
            if tenant_segments != wants || (wants == 1 && !p.contains("/{tenant}")) {
                return Err(fail(
                    Some(path.span()),
                    format!(
                        "`{field}.path`: `{p}` must name `{{tenant}}` {} with a {} source",
                        if wants == 1 {
                            "once, as a whole segment,"
                        } else {
                            "nowhere"
                        },
                        source.name()
                    ),
                ));
            }
            if let TenantSource::Path(prefix) = &source {
                if !p.starts_with(&format!("{prefix}/{{tenant}}")) {
                    return Err(fail(
                        Some(path.span()),
                        format!("`{field}.path`: every route needs the same prefix before `{{tenant}}` (`{prefix}`)"),
                    ));
                }
            }
            let codes = accepted.get_ref();
            if codes.is_empty() || codes.iter().any(|c| !(200..300).contains(c) && *c != 404) {
                return Err(fail(
                    Some(accepted.span()),
                    format!("`{field}.accepted`: {codes:?}: accepted statuses are 2xx (or 404 for a resource the caller may not see), at least one"),
                ));
            }
            if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
                return Err(fail(
                    Some(path.span()),
                    format!("`{field}.method`: `{method}` is not an upper-case HTTP method"),
                ));
            }
            Ok(Route {
                method: method.to_string(),
                path: p.clone(),
                accepted: codes.clone(),
                tenant: r
                    .tenant
                    .as_ref()
                    .map(|t| pointer(t, &format!("{field}.tenant")))
                    .transpose()?,
                claims: r
                    .claims
                    .as_ref()
                    .map(|c| pointer(c, &format!("{field}.claims")))
                    .transpose()?,
            })
        };
        let protected = route(&raw.protected, "protected")?;
        let identity = match &raw.identity {
            Some(i) if i.claims.is_none() => {
                return Err(fail(
                    Some(i.path.span()),
                    "`identity.claims`: the identity route needs a pointer to the claims".into(),
                ))
            }
            Some(i) => Some(route(i, "identity")?),
            // A protected request that shows the claims is the identity route too.
            None => protected.claims.is_some().then(|| protected.clone()),
        };
        let admin = match &raw.admin {
            Some(a) => Some(route(a, "admin")?),
            None => None,
        };
        let health = raw.health.get_ref().clone();
        if !health.starts_with('/') {
            return Err(fail(
                Some(raw.health.span()),
                format!("`health`: `{health}` is not an absolute path"),
            ));
        }
        let mut lacking = BTreeSet::new();
        for name in &raw.lacks {
            let cap: Capability = name
                .get_ref()
                .parse()
                .map_err(|e| fail(Some(name.span()), format!("`lacks`: {e}")))?;
            let contradicts = match cap {
                Capability::IdentityRoute => identity.is_some().then_some("[identity]"),
                Capability::AdminRole => admin.is_some().then_some("[admin]"),
                _ => None,
            };
            if let Some(section) = contradicts {
                return Err(fail(
                    Some(name.span()),
                    format!("`lacks`: `{cap}` contradicts the {section} route this file names"),
                ));
            }
            lacking.insert(cap);
        }
        if identity.is_none() {
            lacking.insert(Capability::IdentityRoute);
        }
        if admin.is_none() {
            lacking.insert(Capability::AdminRole);
        }
        Ok(TargetProfile {
            origin: file.to_string(),
            health,
            tenant_source: source,
            host,
            protected,
            identity,
            admin,
            lacking,
        })
    }

    /// `FILE (lacks a, b)`: what a report records of the profile.
    pub fn summary(&self) -> String {
        let lacking: Vec<&str> = self.lacking().map(Capability::name).collect();
        if lacking.is_empty() {
            self.origin.clone()
        } else {
            format!("{} (lacks {})", self.origin, lacking.join(", "))
        }
    }

    /// Whether the target lacks `cap`.
    pub fn lacks(&self, cap: Capability) -> bool {
        self.lacking.contains(&cap)
    }

    /// The capabilities the target lacks.
    pub fn lacking(&self) -> impl Iterator<Item = Capability> + '_ {
        self.lacking.iter().copied()
    }

    /// Why `case` is not applicable to this target, or `None` when it is.
    ///
    /// ```
    /// use byoid::profile::TargetProfile;
    /// use byoid::world::TenantSource;
    /// let contract = TargetProfile::contract(&TenantSource::Subdomain);
    /// let cases = byoid::catalog::builtin().unwrap();
    /// assert!(cases.iter().all(|c| contract.not_applicable(c).is_none()));
    /// ```
    pub fn not_applicable(&self, case: &Case) -> Option<String> {
        let missing: Vec<Capability> = Capability::needed_by(case)
            .into_iter()
            .filter(|c| self.lacks(*c))
            .collect();
        if missing.is_empty() {
            return None;
        }
        let what: Vec<String> = missing
            .iter()
            .map(|c| format!("`{c}` ({})", c.meaning()))
            .collect();
        Some(format!(
            "not applicable: needs {}, which the profile {} says the target lacks",
            what.join(" and "),
            self.origin
        ))
    }

    /// The route a request of a case goes to: the admin route for `admin` cases, the
    /// identity route when the case checks claims, else the protected request.
    pub fn route_for(&self, case_route: &str, checks_claims: bool) -> &Route {
        match (case_route, &self.admin, &self.identity) {
            ("admin", Some(admin), _) => admin,
            (_, _, Some(identity)) if checks_claims => identity,
            _ => &self.protected,
        }
    }
}

impl Route {
    /// How to read an answer from this route (set the request's `slug` on it).
    pub fn reading(&self) -> crate::judge::Reading<'_> {
        crate::judge::Reading {
            accepted: &self.accepted,
            tenant_pointer: self.tenant.as_deref(),
            claims_pointer: self.claims.as_deref(),
            slug: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORDERS: &str = r#"
profile = "byoid-profile/1"
[tenant]
source = "path"
[protected]
path = "/t/{tenant}/v1/orders/42"
accepted = [200, 404]
"#;

    #[test]
    fn a_path_profile_takes_its_prefix_from_the_protected_route() {
        let p = TargetProfile::parse(ORDERS, "p.toml").unwrap();
        assert_eq!(p.tenant_source, TenantSource::Path("/t".into()));
        assert_eq!(p.protected.accepted, vec![200, 404]);
        assert_eq!(p.health, "/healthz");
        assert!(p.lacks(Capability::IdentityRoute) && p.lacks(Capability::AdminRole));
    }

    #[test]
    fn errors_name_the_file_line_and_field() {
        let bad = ORDERS.replace("/t/{tenant}/v1/orders/42", "/v1/orders/42");
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:6: `protected.path`"), "{e}");
        let bad = format!("{ORDERS}lacks = [\"teleport\"]\n");
        // A top-level key after a table belongs to that table: TOML's rule, reported as such.
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:8: "), "{e}");
        let bad = ORDERS.replace("[tenant]", "lacks = [\"teleport\"]\n[tenant]");
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.toml:3: `lacks`: unknown capability `teleport`"),
            "{e}"
        );
        let bad = ORDERS.replace("accepted = [200, 404]", "accepted = [500]");
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:7: `protected.accepted`"), "{e}");
        let bad = ORDERS.replace("source = \"path\"", "source = \"cookie\"");
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("p.toml:4: `tenant.source`: unknown tenant source `cookie`"),
            "{e}"
        );
        let bad = ORDERS.replace("byoid-profile/1", "byoid-profile/9");
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("p.toml:2: `profile`"), "{e}");
    }

    #[test]
    fn a_declared_lack_cannot_contradict_a_route() {
        let bad = ORDERS.replace(
            "[tenant]",
            "lacks = [\"admin-role\"]\n[admin]\npath = \"/t/{tenant}/admin\"\n[tenant]",
        );
        let e = TargetProfile::parse(&bad, "p.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("contradicts the [admin] route"), "{e}");
    }

    #[test]
    fn needs_come_from_the_case_data() {
        let cases = crate::catalog::builtin().unwrap();
        let needing = |cap| {
            cases
                .iter()
                .filter(|c| Capability::needed_by(c).contains(&cap))
                .count()
        };
        for cap in Capability::ALL {
            assert!(needing(cap) > 0, "no case needs {cap}");
        }
        assert!(needing(Capability::AdminRole) < cases.len() / 4);
    }
}
