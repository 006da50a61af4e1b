//! The manifest of the target contract (`byoid-target/2`, section 2; `byoid-target/1`
//! manifests are read too).
//!
//! The structs mirror the contract's JSON exactly. Unknown fields are ignored
//! (forward compatibility); a field of the wrong type is an error that names the
//! field, e.g. ``tenants[0].valid_audiences: invalid type: string "x", expected a
//! sequence at line 5 column 3``.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The contract version this crate implements.
pub const CONTRACT: &str = "byoid-target/2";

/// The earlier version, whose manifests lack `client_id_claims`: still read.
pub const CONTRACT_V1: &str = "byoid-target/1";

/// The client id claims of a tenant whose manifest does not name them (contract section 2.2,
/// the `byoid-target/1` default).
pub const DEFAULT_CLIENT_ID_CLAIMS: &[&str] = &["client_id", "azp", "cid", "appid"];

/// The whole manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The contract version, `byoid-target/2` or `byoid-target/1`. Optional; any other value
    /// is refused.
    #[serde(default)]
    pub contract: Option<String>,
    /// Where the tenant slug is read from.
    pub tenant_source: TenantSource,
    /// Leeway applied to `exp`, `nbf` and `iat`.
    #[serde(default = "default_skew")]
    pub clock_skew_seconds: u64,
    /// How long fetched discovery documents and key sets are trusted.
    #[serde(default = "default_jwks_cache")]
    pub jwks_cache_seconds: u64,
    /// Refuse `http:` metadata and `jwks_uri` addresses.
    #[serde(default)]
    pub require_https_metadata: bool,
    /// A PEM bundle trusted (in addition to the built-in roots) for HTTPS fetches.
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// The tenants.
    pub tenants: Vec<TenantConfig>,
}

fn default_skew() -> u64 {
    60
}
fn default_jwks_cache() -> u64 {
    300
}
fn default_true() -> bool {
    true
}

/// Where the tenant slug of a request comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum TenantSource {
    /// A request header, e.g. `X-Tenant-Slug`.
    Header {
        /// The header name.
        header: String,
    },
    /// The path segment after `prefix`: `/contoso/api/whoami`, or with
    /// `prefix = "/tenants"`, `/tenants/contoso/api/whoami`.
    Path {
        /// A literal path before the slug segment (`""`: none).
        #[serde(default)]
        prefix: String,
    },
    /// The first label of the `Host` header: `contoso.localhost:8080`.
    Subdomain,
}

/// One tenant's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantConfig {
    /// The tenant's identifier in requests.
    pub slug: String,
    /// A disabled tenant is treated exactly like an unknown one.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The OpenID Connect discovery (or RFC 8414) document address.
    pub metadata_address: String,
    /// `None`: exactly the discovery `issuer`. A list overrides it (Entra "common").
    #[serde(default)]
    pub valid_issuers: Option<Vec<String>>,
    /// The token's `aud` must contain one of these.
    pub valid_audiences: Vec<String>,
    /// Empty: no client check. Otherwise the token's client id must be one of these.
    #[serde(default)]
    pub allowed_client_ids: Vec<String>,
    /// The claims carrying the client id, in order; the first the token carries decides.
    /// `None` (a `byoid-target/1` manifest): [`DEFAULT_CLIENT_ID_CLAIMS`].
    #[serde(default)]
    pub client_id_claims: Option<Vec<String>>,
    /// `true`: the JOSE `typ` must be `at+jwt` (RFC 9068 section 4).
    #[serde(default)]
    pub require_access_token_type: bool,
    /// Source claim name to normalized claim name.
    #[serde(default)]
    pub claim_mappings: BTreeMap<String, String>,
    /// A header that, when a request carries it, must name this same tenant
    /// (a gateway's tenant header checked against the path or host).
    #[serde(default)]
    pub agree_header: Option<String>,
}

/// Why a manifest could not be loaded.
#[derive(Debug)]
pub struct ManifestError {
    path: Option<PathBuf>,
    kind: ManifestErrorKind,
}

/// The kinds of [`ManifestError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum ManifestErrorKind {
    /// The file could not be read.
    Io(std::io::Error),
    /// The JSON is malformed or a field has the wrong type.
    Parse {
        /// The offending field, e.g. `tenants[0].valid_audiences` (`.` for the root).
        field: String,
        /// serde's message, with line and column.
        message: String,
    },
    /// The JSON is well formed but a value is unacceptable.
    Invalid {
        /// The offending field.
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ManifestError {
    /// What went wrong.
    pub fn kind(&self) -> &ManifestErrorKind {
        &self.kind
    }
    /// The offending field, when the error is about one.
    pub fn field(&self) -> Option<&str> {
        match &self.kind {
            ManifestErrorKind::Parse { field, .. } | ManifestErrorKind::Invalid { field, .. } => {
                Some(field)
            }
            ManifestErrorKind::Io(_) => None,
        }
    }
    fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        ManifestError {
            path: None,
            kind: ManifestErrorKind::Invalid {
                field: field.into(),
                message: message.into(),
            },
        }
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(path) = &self.path {
            write!(f, "{}: ", path.display())?;
        }
        match &self.kind {
            ManifestErrorKind::Io(e) => write!(f, "cannot read manifest: {e}"),
            ManifestErrorKind::Parse { field, message } => write!(f, "{field}: {message}"),
            ManifestErrorKind::Invalid { field, message } => write!(f, "{field}: {message}"),
        }
    }
}

impl std::error::Error for ManifestError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ManifestErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl Manifest {
    /// Parses and validates a manifest.
    ///
    /// ```
    /// # fn main() -> Result<(), byoid_reference::manifest::ManifestError> {
    /// let m = byoid_reference::manifest::Manifest::from_json(
    ///     r#"{"tenant_source":{"kind":"path"},"tenants":[]}"#,
    /// )?;
    /// assert_eq!(m.clock_skew_seconds, 60);
    /// let err = byoid_reference::manifest::Manifest::from_json(
    ///     r#"{"tenant_source":{"kind":"path"},"tenants":[{"slug":"a",
    ///        "metadata_address":"http://x","valid_audiences":"api"}]}"#,
    /// ).unwrap_err();
    /// assert_eq!(err.field(), Some("tenants[0].valid_audiences"));
    /// # Ok(()) }
    /// ```
    pub fn from_json(text: &str) -> Result<Manifest, ManifestError> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let manifest: Manifest = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = e.path().to_string();
            ManifestError {
                path: None,
                kind: ManifestErrorKind::Parse {
                    field,
                    message: e.into_inner().to_string(),
                },
            }
        })?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Reads and parses a manifest file; errors carry the path.
    pub fn load(path: impl AsRef<Path>) -> Result<Manifest, ManifestError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
            path: Some(path.to_owned()),
            kind: ManifestErrorKind::Io(e),
        })?;
        Manifest::from_json(&text).map_err(|mut e| {
            e.path = Some(path.to_owned());
            e
        })
    }

    /// The tenant with this slug, enabled or not.
    pub fn tenant(&self, slug: &str) -> Option<&TenantConfig> {
        self.tenants.iter().find(|t| t.slug == slug)
    }

    fn validate(&self) -> Result<(), ManifestError> {
        if let Some(c) = &self.contract {
            if c != CONTRACT && c != CONTRACT_V1 {
                return Err(ManifestError::invalid(
                    "contract",
                    format!("unsupported contract `{c}` (hint: this target speaks `{CONTRACT}`)"),
                ));
            }
        }
        if let TenantSource::Header { header } = &self.tenant_source {
            if axum::http::HeaderName::from_bytes(header.as_bytes()).is_err() {
                return Err(ManifestError::invalid(
                    "tenant_source.header",
                    format!("`{header}` is not a valid header name"),
                ));
            }
        }
        if let TenantSource::Path { prefix } = &self.tenant_source {
            let usable = prefix.is_empty()
                || (prefix.starts_with('/')
                    && !prefix.ends_with('/')
                    && !prefix.contains("//")
                    && !prefix.contains(['{', '}', '?', '#', ' ']));
            if !usable {
                return Err(ManifestError::invalid(
                    "tenant_source.prefix",
                    format!("`{prefix}` is not a usable path prefix (empty, or `/` and segments without a trailing `/`)"),
                ));
            }
        }
        for (i, t) in self.tenants.iter().enumerate() {
            if let Some(h) = &t.agree_header {
                if axum::http::HeaderName::from_bytes(h.as_bytes()).is_err() {
                    return Err(ManifestError::invalid(
                        format!("tenants[{i}].agree_header"),
                        format!("`{h}` is not a valid header name"),
                    ));
                }
            }
        }
        let mut seen = BTreeSet::new();
        for (i, t) in self.tenants.iter().enumerate() {
            if t.slug.is_empty() || t.slug.contains(['/', '.', ' ']) {
                return Err(ManifestError::invalid(
                    format!("tenants[{i}].slug"),
                    format!(
                        "`{}` is not a usable slug (empty, or contains `/`, `.` or a space)",
                        t.slug
                    ),
                ));
            }
            if !seen.insert(t.slug.as_str()) {
                return Err(ManifestError::invalid(
                    format!("tenants[{i}].slug"),
                    format!("duplicate slug `{}`", t.slug),
                ));
            }
            if !(t.metadata_address.starts_with("http://")
                || t.metadata_address.starts_with("https://"))
            {
                return Err(ManifestError::invalid(
                    format!("tenants[{i}].metadata_address"),
                    format!("`{}` is not an http(s) URL", t.metadata_address),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"contract":"byoid-target/1","new_field":1,
        "tenant_source":{"kind":"header","header":"X-Tenant-Slug","extra":true},
        "clock_skew_seconds":30,"jwks_cache_seconds":10,"require_https_metadata":true,"ca_bundle":"/tmp/ca.pem",
        "tenants":[{"slug":"contoso","enabled":false,"metadata_address":"https://idp/c/.well-known/openid-configuration",
          "valid_issuers":["https://idp/c"],"valid_audiences":["a"],"allowed_client_ids":["c"],
          "require_access_token_type":true,"claim_mappings":{"groups":"roles"},"unknown":[]}]}"#;

    #[test]
    fn full_manifest_parses_and_ignores_unknown_fields() {
        let m = Manifest::from_json(OK).unwrap();
        assert_eq!(
            m.tenant_source,
            TenantSource::Header {
                header: "X-Tenant-Slug".into()
            }
        );
        assert_eq!((m.clock_skew_seconds, m.jwks_cache_seconds), (30, 10));
        assert!(m.require_https_metadata);
        assert_eq!(m.ca_bundle.as_deref(), Some(Path::new("/tmp/ca.pem")));
        let t = m.tenant("contoso").unwrap();
        assert!(!t.enabled && t.require_access_token_type);
        assert_eq!(
            t.valid_issuers.as_deref(),
            Some(&["https://idp/c".to_string()][..])
        );
        assert_eq!(t.claim_mappings["groups"], "roles");
    }

    #[test]
    fn errors_name_the_field() {
        let e = Manifest::from_json(
            &OK.replace(r#""valid_audiences":["a"]"#, r#""valid_audiences":"a""#),
        )
        .unwrap_err();
        assert_eq!(e.field(), Some("tenants[0].valid_audiences"));
        assert!(
            e.to_string()
                .starts_with("tenants[0].valid_audiences: invalid type: string"),
            "{e}"
        );
        let e = Manifest::from_json(&OK.replace(r#""kind":"header""#, r#""kind":"cookie""#))
            .unwrap_err();
        assert_eq!(e.field(), Some("tenant_source.kind"), "{e}");
        let e = Manifest::from_json(&OK.replace("byoid-target/1", "byoid-target/3")).unwrap_err();
        assert_eq!(e.field(), Some("contract"));
        let v2 = Manifest::from_json(&OK.replace("byoid-target/1", "byoid-target/2")).unwrap();
        assert_eq!(
            v2.tenants[0].client_id_claims, None,
            "absent: the v1 default applies"
        );
        let two = OK.replace(
            r#""tenants":[{"#,
            r#""tenants":[{"slug":"contoso","metadata_address":"http://x","valid_audiences":[]},{"#,
        );
        let e = Manifest::from_json(&two).unwrap_err();
        assert_eq!(e.field(), Some("tenants[1].slug"), "{e}");
        let e = Manifest::from_json("{").unwrap_err();
        assert!(matches!(e.kind(), ManifestErrorKind::Parse { .. }));
        let e = Manifest::load("/nonexistent/manifest.json").unwrap_err();
        assert!(matches!(e.kind(), ManifestErrorKind::Io(_)));
        assert!(e.to_string().contains("/nonexistent/manifest.json"));
    }
}
