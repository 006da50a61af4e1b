//! The tenants of one listener: which tenant (and which of its endpoints) each path belongs
//! to, the tenants by slug, and the key rings and `common` documents they share. The HTTP
//! side (`server`) looks requests up here; nothing here knows about HTTP.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};

use crate::error::Error;
use crate::flavor::Flavor;
use crate::journal::Endpoint;
use crate::tenant::{KeyRing, Tenant, TenantInner, TenantSpec};

/// What a path of the listener serves.
#[derive(Clone)]
pub(crate) struct Route {
    /// The tenant (or `common` document) the path belongs to.
    pub tenant: Arc<TenantInner>,
    /// Which of its endpoints.
    pub endpoint: Endpoint,
    /// The path and the tenant's name, shared with the journal so recording allocates nothing.
    pub path: Arc<str>,
    pub name: Arc<str>,
}

impl Route {
    fn new(tenant: Arc<TenantInner>, endpoint: Endpoint, path: &str) -> Route {
        let name: Arc<str> = tenant.slug.as_str().into();
        Route {
            tenant,
            endpoint,
            path: path.into(),
            name,
        }
    }
}

/// The tenants served on one listener, found by path (routing is a single hash lookup, so
/// tenants can be added while running and the JWKS path stays cheap under load) and by slug.
pub(crate) struct TenantRegistry {
    /// `http://127.0.0.1:PORT` (or `https://…`) of the listener, no trailing slash.
    pub base: String,
    /// What every key of the listener's rings derives from.
    pub seed: u64,
    routes: RwLock<HashMap<String, Route>>,
    tenants: RwLock<BTreeMap<String, Tenant>>,
    /// Shared with the registries of own-listener tenants, so rings stay one per name.
    rings: Arc<Mutex<HashMap<String, Arc<KeyRing>>>>,
    commons: Mutex<HashMap<String, Arc<TenantInner>>>,
    /// The attacker host counts every request, matched or not, against this tenant.
    catch_all: Option<Arc<TenantInner>>,
}

impl std::fmt::Debug for TenantRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRegistry")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl TenantRegistry {
    /// An empty registry for the listener at `base`, whose keys derive from `seed`.
    pub(crate) fn new(base: String, seed: u64) -> Self {
        TenantRegistry {
            base,
            seed,
            routes: RwLock::default(),
            tenants: RwLock::default(),
            rings: Arc::default(),
            commons: Mutex::default(),
            catch_all: None,
        }
    }

    /// The registry of an own-listener tenant's listener at `base`: it shares this registry's
    /// seed and key rings, and has routes of its own.
    pub(crate) fn sibling(&self, base: String) -> Self {
        TenantRegistry {
            rings: self.rings.clone(),
            ..TenantRegistry::new(base, self.seed)
        }
    }

    /// Lists a tenant served by another listener (an own-listener tenant) under this one's
    /// tenants, so lookups and the admin API find it.
    pub(crate) fn adopt(&self, tenant: &Tenant) -> Result<(), Error> {
        let mut tenants = self.tenants.write().unwrap_or_else(|e| e.into_inner());
        if tenants.contains_key(tenant.slug()) {
            return Err(already_exists(tenant.slug()));
        }
        tenants.insert(tenant.slug().to_string(), tenant.clone());
        Ok(())
    }

    /// An error when a tenant with this slug exists already.
    pub(crate) fn check_unused(&self, slug: &str) -> Result<(), Error> {
        let tenants = self.tenants.read().unwrap_or_else(|e| e.into_inner());
        if tenants.contains_key(slug) {
            return Err(already_exists(slug));
        }
        Ok(())
    }

    /// Counts every request of the listener, matched or not, against `tenant` (the attacker
    /// host).
    pub(crate) fn set_catch_all(&mut self, tenant: &Tenant) {
        self.catch_all = Some(tenant.0.clone());
    }

    /// The tenant set with [`TenantRegistry::set_catch_all`].
    pub(crate) fn catch_all(&self) -> Option<&Arc<TenantInner>> {
        self.catch_all.as_ref()
    }

    fn ring(&self, name: &str, pooled: bool) -> Arc<KeyRing> {
        let mut rings = self.rings.lock().unwrap_or_else(|e| e.into_inner());
        rings
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(KeyRing::new(name, self.seed, pooled)))
            .clone()
    }

    /// Adds a tenant and its routes.
    pub(crate) fn add_tenant(&self, spec: &TenantSpec) -> Result<Tenant, Error> {
        spec.check_slug()?;
        self.check_unused(&spec.slug)?;
        if let Some(parent) = &spec.directory_of {
            return self.add_registration(spec, parent);
        }
        let ring_name = spec.ring_name();
        let ring = self.ring(&ring_name, spec.pooled_keys);
        let mut routes = self.routes.write().unwrap_or_else(|e| e.into_inner());
        let common = if spec.flavor == Flavor::EntraCommon {
            let mut commons = self.commons.lock().unwrap_or_else(|e| e.into_inner());
            let doc = commons
                .entry(ring_name)
                .or_insert_with(|| {
                    let doc = Arc::new(TenantInner::common_doc(&self.base, ring.clone()));
                    routes.insert(
                        doc.layout.discovery.clone(),
                        Route::new(doc.clone(), Endpoint::Discovery, &doc.layout.discovery),
                    );
                    routes.insert(
                        doc.layout.jwks.clone(),
                        Route::new(doc.clone(), Endpoint::Jwks, &doc.layout.jwks),
                    );
                    doc
                })
                .clone();
            Some(doc)
        } else {
            None
        };
        let inner = Arc::new(TenantInner::new(spec, &self.base, ring, common.clone()));
        let mut paths = vec![(inner.layout.token.clone(), Endpoint::Token)];
        if common.is_none() {
            paths.push((inner.layout.discovery.clone(), Endpoint::Discovery));
            paths.push((inner.layout.jwks.clone(), Endpoint::Jwks));
            if let Some(m) = &inner.layout.oauth_metadata {
                paths.push((m.clone(), Endpoint::OauthMetadata));
            }
        }
        if let Some((p, _)) = paths.iter().find(|(p, _)| routes.contains_key(p)) {
            return Err(Error::InvalidTenant(format!(
                "path `{p}` of tenant `{}` is taken",
                spec.slug
            )));
        }
        for (path, endpoint) in paths {
            let route = Route::new(inner.clone(), endpoint, &path);
            routes.insert(path, route);
        }
        let tenant = Tenant(inner);
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.slug.clone(), tenant.clone());
        Ok(tenant)
    }

    /// A second registration in the directory of `parent` (no routes of its own).
    fn add_registration(&self, spec: &TenantSpec, parent: &str) -> Result<Tenant, Error> {
        let invalid = |why: String| Error::InvalidTenant(format!("tenant `{}`: {why}", spec.slug));
        let parent = self
            .tenant(parent)
            .ok_or_else(|| invalid(format!("no tenant `{parent}` on this listener")))?;
        if parent.flavor() != spec.flavor {
            return Err(invalid(format!(
                "a registration in the directory of `{}` must be `{}` too",
                parent.slug(),
                parent.flavor()
            )));
        }
        if spec.own_listener || spec.jwks_plain_http {
            return Err(invalid(
                "a registration in another tenant's directory is served by that tenant".into(),
            ));
        }
        let tenant = Tenant(Arc::new(TenantInner::registration(spec, &parent.0)));
        self.tenants
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(spec.slug.clone(), tenant.clone());
        Ok(tenant)
    }

    /// Serves `tenant`'s JWKS at its path on this listener too (its plain-HTTP JWKS listener).
    pub(crate) fn serve_jwks_of(&self, tenant: &Tenant) {
        let path = &tenant.0.layout.jwks;
        self.routes
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                path.clone(),
                Route::new(tenant.0.clone(), Endpoint::Jwks, path),
            );
    }

    /// What `path` serves, if anything.
    pub(crate) fn route(&self, path: &str) -> Option<Route> {
        self.routes
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// The tenant with this slug.
    pub(crate) fn tenant(&self, slug: &str) -> Option<Tenant> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(slug)
            .cloned()
    }

    /// Every tenant, by slug.
    pub(crate) fn tenants(&self) -> Vec<Tenant> {
        self.tenants
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .cloned()
            .collect()
    }
}

fn already_exists(slug: &str) -> Error {
    Error::InvalidTenant(format!("tenant `{slug}` already exists"))
}
