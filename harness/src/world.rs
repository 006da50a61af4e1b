//! The world a run happens in: the mock IdPs, one tenant per case (plus the "other" and
//! "sibling" tenants a case names), and the manifest that tells the target about them.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;

use mock_idp::{Faults, Flavor, MockIdp, Quirks, Tenant, TenantSpec as IdpTenantSpec, TypQuirk};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::catalog::{Case, Origin, Placement, SignSpec};

/// How the target finds the tenant in a request (contract section 2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TenantSource {
    /// A request header.
    Header(String),
    /// The path segment after a prefix (`""`: the first segment).
    Path(String),
    /// The first label of the Host header.
    Subdomain,
}

impl std::str::FromStr for TenantSource {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "header" => Ok(TenantSource::Header("X-Tenant-Slug".into())),
            "path" => Ok(TenantSource::Path(String::new())),
            "subdomain" => Ok(TenantSource::Subdomain),
            other => Err(format!(
                "unknown tenant source `{other}` (known: header, path, subdomain)"
            )),
        }
    }
}

impl TenantSource {
    /// The contract's name.
    pub fn name(&self) -> &'static str {
        match self {
            TenantSource::Header(_) => "header",
            TenantSource::Path(_) => "path",
            TenantSource::Subdomain => "subdomain",
        }
    }

    /// The manifest's `tenant_source` (contract section 2.1).
    pub fn manifest_json(&self) -> Value {
        match self {
            TenantSource::Header(h) => json!({"kind": "header", "header": h}),
            TenantSource::Path(prefix) if prefix.is_empty() => json!({"kind": "path"}),
            TenantSource::Path(prefix) => json!({"kind": "path", "prefix": prefix}),
            TenantSource::Subdomain => json!({"kind": "subdomain"}),
        }
    }
}

/// Run-wide settings written into the manifest.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Where requests name the tenant.
    pub tenant_source: TenantSource,
    /// `clock_skew_seconds`.
    pub clock_skew_seconds: i64,
    /// `jwks_cache_seconds`.
    pub jwks_cache_seconds: u64,
    /// Key seed.
    pub seed: u64,
    /// Where the IdPs listen.
    pub idp_listen: SocketAddr,
    /// Serve the IdPs over HTTPS with a CA made at start (the manifest names its PEM).
    pub tls: bool,
    /// The target's own routes (`--profile`); `None`: the contract's, under `tenant_source`.
    /// A profile names its own tenant source, which replaces `tenant_source` in the world.
    pub profile: Option<std::sync::Arc<crate::profile::TargetProfile>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tenant_source: TenantSource::Header("X-Tenant-Slug".into()),
            clock_skew_seconds: 60,
            // Short, so rotation and retirement cases wait little; 100 requests still fit.
            jwks_cache_seconds: 1,
            seed: 0,
            idp_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            tls: false,
            profile: None,
        }
    }
}

/// The tenants of one case.
#[derive(Clone, Debug)]
pub struct CaseTenants {
    /// The case's own tenant.
    pub own: Tenant,
    /// Another tenant of the flavor with its own keys (Entra: the shared keys).
    pub other: Option<Tenant>,
    /// Another tenant sharing the case tenant's keys.
    pub sibling: Option<Tenant>,
}

/// The running mock IdPs and the tenants of every case.
pub struct World {
    /// The IdPs.
    pub idp: MockIdp,
    /// Settings.
    pub settings: Settings,
    /// Tenants by case id.
    pub cases: HashMap<String, CaseTenants>,
    /// The positive-control tenant of each flavor.
    pub controls: BTreeMap<Flavor, Tenant>,
    /// The manifest (contract section 2).
    pub manifest: Value,
    /// How requests reach the target and how its answers read: the settings' profile, or
    /// the contract's routes.
    pub profile: std::sync::Arc<crate::profile::TargetProfile>,
}

/// A slug for a case: stable across runs and filters, and a valid DNS label.
pub fn slug_for(prefix: &str, id: &str) -> String {
    let h = Sha256::digest(id.as_bytes());
    let hex: String = h.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}

fn needs_own_keys(case: &Case) -> bool {
    let key_quirk = |q: &Quirks| q.alg.is_some() || q.duplicate_kids || q.extra_enc_key;
    case.tenant.own_keys
        || case.tenant.quirks.as_ref().is_some_and(key_quirk)
        || case.tenant.faults.is_some()
        || !case.steps.is_empty()
        || case.expect.full().traffic.is_some()
}

fn uses_other(case: &Case) -> bool {
    let tok = |t: &crate::catalog::TokenSpec| {
        t.from == Origin::Other
            || t.sign == SignSpec::OtherTenant
            || t.raw.as_deref().is_some_and(|r| r.contains("{other."))
    };
    tok(&case.token)
        || case.request.tenant == Placement::Other
        || case.request.decoy_tenant == Some(Placement::Other)
        || case.steps.iter().any(|s| s.token.as_ref().is_some_and(tok))
        || case
            .steps
            .iter()
            .any(|s| s.tenant == Some(Placement::Other))
        || case
            .token
            .claims
            .values()
            .any(|v| v.to_string().contains("{other."))
        || case
            .token
            .header
            .values()
            .any(|v| v.to_string().contains("{other."))
}

/// The placeholders of tenant settings (the manifest entry's lists, the faults' issuer):
/// `{issuer}`, `{audience}`, `{client_id}`, `{tenant_id}`, `{issuer.no_slash}` (the issuer
/// without a trailing `/`), and for Entra flavors `{issuer.v1}` and `{issuer.v2}` (the
/// directory's issuer in each token version).
pub fn interpolate(t: &Tenant, s: &str) -> String {
    let mut out = s.to_string();
    if out.contains("{issuer.") {
        let entra = |v: Flavor| t.entra_issuer(v).unwrap_or_else(|| t.issuer().to_string());
        out = out
            .replace("{issuer.no_slash}", t.issuer().trim_end_matches('/'))
            .replace("{issuer.v1}", &entra(Flavor::EntraV1))
            .replace("{issuer.v2}", &entra(Flavor::EntraV2));
    }
    out.replace("{issuer}", t.issuer())
        .replace("{audience}", t.audience())
        .replace("{client_id}", &t.clients()[0].id)
        .replace("{tenant_id}", t.tenant_key())
}

/// `faults` with the placeholders of its `issuer_override` resolved for `t` ([`interpolate`]).
pub fn resolve_faults(t: &Tenant, faults: &Faults) -> Faults {
    Faults {
        issuer_override: faults.issuer_override.as_ref().map(|s| interpolate(t, s)),
        ..faults.clone()
    }
}

fn uses_sibling(case: &Case) -> bool {
    case.token.from == Origin::Sibling
}

/// Harness defaults per flavor: contract v1 rejects a missing `typ`, which genuine Okta
/// tokens lack, so Okta tenants emit `typ: JWT` unless a case asks for the real shape.
pub fn base_quirks(flavor: Flavor) -> Quirks {
    let mut q = Quirks::default();
    if flavor == Flavor::Okta {
        q.typ = TypQuirk::Value("JWT".into());
    }
    q
}

impl World {
    /// Starts the IdPs and creates every tenant the cases need.
    pub async fn build(cases: &[Case], mut settings: Settings) -> Result<World, mock_idp::Error> {
        let mut builder = MockIdp::builder()
            .seed(settings.seed)
            .listen(settings.idp_listen);
        if settings.tls {
            builder = builder.tls();
        }
        let idp = builder.start().await?;
        // One tenant source for the manifest, the requests and the case filters.
        let profile = match &settings.profile {
            Some(p) => {
                settings.tenant_source = p.tenant_source.clone();
                p.clone()
            }
            None => std::sync::Arc::new(crate::profile::TargetProfile::contract(
                &settings.tenant_source,
            )),
        };
        let mut world = World {
            idp,
            profile,
            settings,
            cases: HashMap::new(),
            controls: BTreeMap::new(),
            manifest: Value::Null,
        };
        let mut entries: Vec<Value> = Vec::new();
        // Non-Entra flavors share one ring for controls and plain cases, and one for the
        // "other" tenants: what matters is that "other" keys differ from the case's.
        let shared_ring = |f: Flavor| {
            if f.is_entra() {
                "entra".to_string()
            } else {
                "shared".to_string()
            }
        };
        let mut flavors: Vec<Flavor> = cases.iter().map(|c| c.info.flavor).collect();
        flavors.sort();
        flavors.dedup();
        for f in &flavors {
            let spec = IdpTenantSpec::new(slug_for("ctl", f.name()), *f)
                .key_ring(shared_ring(*f))
                .quirks(base_quirks(*f));
            let t = world.idp.add_tenant(spec)?;
            entries.push(manifest_entry(&t, None));
            world.controls.insert(*f, t);
        }
        for case in cases {
            let own_ring = needs_own_keys(case);
            let ring = if own_ring {
                format!("case-{}", slug_for("", &case.info.id))
            } else {
                shared_ring(case.info.flavor)
            };
            let mut quirks = base_quirks(case.info.flavor);
            if let Some(q) = &case.tenant.quirks {
                quirks = q.clone();
                if case.info.flavor == Flavor::Okta && q.typ == TypQuirk::Flavor {
                    quirks.typ = base_quirks(Flavor::Okta).typ;
                }
            }
            let mut spec = IdpTenantSpec::new(slug_for("t", &case.info.id), case.info.flavor)
                .key_ring(ring.clone());
            if own_ring {
                spec = spec.pooled_keys();
            }
            if case.tenant.metadata_over_http && world.settings.tls {
                spec = spec.plain_http();
            }
            if case.tenant.jwks_over_http && world.settings.tls {
                spec = spec.jwks_over_plain_http();
            }
            let spec = spec.roles(case.tenant.roles.clone()).quirks(quirks.clone());
            let own = world.idp.add_tenant(spec)?;
            if let Some(f) = &case.tenant.faults {
                own.set_faults(resolve_faults(&own, f));
            }
            entries.push(manifest_entry(&own, Some(case)));
            let other = if case.tenant.other_shares_metadata {
                // Another API of the same customer: a second registration of the case
                // tenant's IdP, with the harness defaults for its own audience and client.
                let spec = IdpTenantSpec::new(slug_for("o", &case.info.id), case.info.flavor)
                    .same_directory_as(own.slug())
                    .quirks(base_quirks(case.info.flavor))
                    .roles(case.tenant.roles.clone());
                let t = world.idp.add_tenant(spec)?;
                entries.push(manifest_entry(&t, None));
                Some(t)
            } else if uses_other(case) {
                let ring = if case.info.flavor.is_entra() {
                    ring.clone()
                } else {
                    "other".to_string()
                };
                let spec = IdpTenantSpec::new(slug_for("o", &case.info.id), case.info.flavor)
                    .key_ring(ring)
                    .quirks(base_quirks(case.info.flavor))
                    .roles(case.tenant.roles.clone());
                let t = world.idp.add_tenant(spec)?;
                entries.push(manifest_entry(&t, None));
                Some(t)
            } else {
                None
            };
            let sibling = if uses_sibling(case) {
                let spec = IdpTenantSpec::new(slug_for("s", &case.info.id), case.info.flavor)
                    .key_ring(ring)
                    .quirks(quirks)
                    .roles(case.tenant.roles.clone());
                let t = world.idp.add_tenant(spec)?;
                entries.push(manifest_entry(&t, None));
                Some(t)
            } else {
                None
            };
            world.cases.insert(
                case.info.id.clone(),
                CaseTenants {
                    own,
                    other,
                    sibling,
                },
            );
        }
        // Make every key before the clock starts, two at a time (the machine has two cores).
        let mut keys: Vec<Tenant> = world.cases.values().map(|c| c.own.clone()).collect();
        keys.extend(world.cases.values().filter_map(|c| c.other.clone()));
        keys.push(world.idp.attacker().tenant().clone());
        let handles: Vec<_> = keys
            .chunks(keys.len().div_ceil(2).max(1))
            .map(|chunk| {
                let chunk = chunk.to_vec();
                tokio::task::spawn_blocking(move || chunk.iter().for_each(|t| drop(t.active_key())))
            })
            .collect();
        for h in handles {
            let _ = h.await;
        }
        world.manifest = json!({
            "contract": CONTRACT,
            "tenant_source": world.settings.tenant_source.manifest_json(),
            "clock_skew_seconds": world.settings.clock_skew_seconds,
            "jwks_cache_seconds": world.settings.jwks_cache_seconds,
            "require_https_metadata": world.settings.tls,
            "ca_bundle": world.idp.ca_pem_path().map(|p| p.display().to_string()),
            "tenants": entries,
            // Contract section 2: fields a target does not know are ignored. Every manifest
            // carries one, run-wide and per tenant, so the positive controls check it.
            UNKNOWN_FIELD: {"ignored": true},
        });
        Ok(world)
    }
}

/// The manifest field no contract version defines (section 2: a target MUST ignore it).
pub const UNKNOWN_FIELD: &str = "x_byoid_unknown_field";

impl World {
    /// The manifest cut down to the tenants named by `slugs`: what an instance of the
    /// built-in target that serves one case (or one control) is told.
    pub fn manifest_for(&self, slugs: &[&str]) -> Value {
        // Copies the run-wide fields and only the named tenants: a case is told a few of the
        // run's hundreds, and copying them all for every case would be quadratic.
        let Value::Object(fields) = &self.manifest else {
            return self.manifest.clone();
        };
        let subset = |tenants: &Value| {
            let named = tenants
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["slug"].as_str().is_some_and(|s| slugs.contains(&s)));
            Value::Array(named.cloned().collect())
        };
        Value::Object(
            fields
                .iter()
                .map(|(k, v)| match k.as_str() {
                    "tenants" => (k.clone(), subset(v)),
                    _ => (k.clone(), v.clone()),
                })
                .collect(),
        )
    }
}

impl CaseTenants {
    /// The slugs of the case's tenants.
    pub fn slugs(&self) -> Vec<&str> {
        let mut slugs = vec![self.own.slug()];
        slugs.extend(self.other.iter().chain(&self.sibling).map(Tenant::slug));
        slugs
    }
}

/// The contract version the manifest speaks (`docs/target-contract.md`).
pub const CONTRACT: &str = "byoid-target/2";

/// The manifest entry (contract section 2) of a tenant: the harness defaults, with the
/// case's tenant settings over them when a case is given.
pub fn manifest_entry(t: &Tenant, case: Option<&Case>) -> Value {
    let interp = |s: &String| interpolate(t, s);
    let spec = case.map(|c| c.tenant.clone()).unwrap_or_default();
    let default_issuers = match t.flavor() {
        // The common document's issuer is a template, and Entra v1 issues from another host
        // than its metadata: both need the accepted issuer spelled out.
        Flavor::EntraCommon | Flavor::EntraV1 => json!([t.issuer()]),
        _ => Value::Null,
    };
    let mut mappings = BTreeMap::new();
    if t.roles_claim() != "roles" {
        mappings.insert(t.roles_claim().to_string(), "roles".to_string());
    }
    let mut entry = json!({
        UNKNOWN_FIELD: true,
        "slug": t.slug(),
        "enabled": !spec.disabled,
        "metadata_address": spec
            .oauth_metadata
            .then(|| t.oauth_metadata_url())
            .flatten()
            .unwrap_or_else(|| t.discovery_url()),
        "valid_issuers": spec.valid_issuers.as_ref().map(|v| json!(v.iter().map(interp).collect::<Vec<_>>())).unwrap_or(default_issuers),
        "valid_audiences": spec.valid_audiences.as_ref().map(|v| v.iter().map(interp).collect()).unwrap_or_else(|| vec![t.audience().to_string()]),
        "allowed_client_ids": spec.allowed_client_ids.as_ref().map(|v| v.iter().map(interp).collect()).unwrap_or_else(|| vec![t.clients()[0].id.clone()]),
        "client_id_claims": t.flavor().client_id_claims(),
        "require_access_token_type": spec.require_access_token_type,
        "claim_mappings": spec.claim_mappings.clone().unwrap_or(mappings),
    });
    if let Some(h) = &spec.agree_header {
        entry["agree_header"] = json!(h);
    }
    entry
}
