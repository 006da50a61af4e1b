//! Mount a flavor's discovery document and JWKS onto your own [`wiremock::MockServer`]
//! (feature `wiremock`), and mint genuine tokens for it by library call.
//!
//! The tenant's issuer and URLs are built on [`MockServer::uri`]; the mocks answer from the
//! live tenant, so [`Tenant::rotate`], [`Tenant::set_quirks`] and most [`Tenant::set_faults`]
//! faults show on the next request, and [`Tenant::traffic`] counts what the mocks served.
//! The token endpoint is not mounted: mint tokens with [`Tenant::access_token`] or
//! [`Tenant::mint`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use mock_idp::wiremock_support;
//! use mock_idp::Flavor;
//!
//! let server = wiremock::MockServer::start().await;
//! let tenant = wiremock_support::mount(&server, Flavor::Okta, "initech").await;
//! assert_eq!(tenant.issuer(), format!("{}/initech/oauth2/default", server.uri()));
//! let token = tenant.access_token(); // verifies against the JWKS the server now serves
//! assert_eq!(token.split('.').count(), 3);
//! # }
//! ```
//!
//! To set expectations (`.expect(1)`) or scope the mocks, take them apart with [`mocks`]:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), mock_idp::Error> {
//! use mock_idp::wiremock_support::{mocks, tenant_for};
//! use mock_idp::{Flavor, TenantSpec};
//!
//! let server = wiremock::MockServer::start().await;
//! let tenant = tenant_for(&server, &TenantSpec::new("contoso", Flavor::EntraV2))?;
//! let m = mocks(&tenant);
//! m.discovery.mount(&server).await;
//! m.jwks.expect(0).mount(&server).await; // verified when `server` is dropped
//! # Ok(()) }
//! ```

use std::time::Duration;

use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::journal::Endpoint;
use crate::{Error, Fault, Flavor, Tenant, TenantSpec};

/// The mocks that serve one tenant, not yet mounted: set expectations, names or priorities
/// on them, then mount them (each, or all with [`TenantMocks::mount`]).
pub struct TenantMocks {
    /// `GET` the discovery document (for `entra-common`, the shared `common` document).
    pub discovery: Mock,
    /// `GET` the JWKS.
    pub jwks: Mock,
    /// `GET` the RFC 8414 metadata document, for flavors that serve one (Okta, generic).
    pub oauth_metadata: Option<Mock>,
}

impl std::fmt::Debug for TenantMocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantMocks")
            .field("oauth_metadata", &self.oauth_metadata.is_some())
            .finish_non_exhaustive()
    }
}

impl TenantMocks {
    /// Mounts every mock on `server`.
    pub async fn mount(self, server: &MockServer) {
        self.discovery.mount(server).await;
        self.jwks.mount(server).await;
        if let Some(m) = self.oauth_metadata {
            m.mount(server).await;
        }
    }
}

/// A tenant whose issuer and URLs are on `server` (seed 0 keys), with nothing mounted yet.
/// Use [`Tenant::detached`] for another seed or base URL.
pub fn tenant_for(server: &MockServer, spec: &TenantSpec) -> Result<Tenant, Error> {
    Tenant::detached(&server.uri(), 0, spec)
}

/// The mocks that serve `tenant`'s discovery document, JWKS and (where the flavor has one)
/// RFC 8414 metadata at the tenant's paths. Mount them on the server whose URI the tenant
/// was built on.
pub fn mocks(tenant: &Tenant) -> TenantMocks {
    let mock = |p: &str, endpoint: Endpoint, name: &str| {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(Live {
                tenant: tenant.clone(),
                endpoint,
            })
            .named(format!("mock-idp {} {name}", tenant.slug()))
    };
    TenantMocks {
        discovery: mock(tenant.discovery_path(), Endpoint::Discovery, "discovery"),
        jwks: mock(tenant.jwks_path(), Endpoint::Jwks, "JWKS"),
        oauth_metadata: tenant
            .oauth_metadata_path()
            .map(|p| mock(p, Endpoint::OauthMetadata, "RFC 8414 metadata")),
    }
}

/// Mounts a tenant described by `spec` on `server` and returns it.
pub async fn mount_spec(server: &MockServer, spec: &TenantSpec) -> Result<Tenant, Error> {
    let tenant = tenant_for(server, spec)?;
    mocks(&tenant).mount(server).await;
    Ok(tenant)
}

/// Mounts a tenant of `flavor` named `slug` (the flavor's defaults, no roles) on `server` and
/// returns it.
///
/// # Panics
///
/// If `slug` is not a valid tenant slug (empty, or containing `/`, `?`, `#` or a space); use
/// [`mount_spec`] to get the error instead.
pub async fn mount(server: &MockServer, flavor: Flavor, slug: &str) -> Tenant {
    match mount_spec(server, &TenantSpec::new(slug, flavor)).await {
        Ok(t) => t,
        Err(e) => panic!("mock_idp::wiremock_support::mount: {e}"),
    }
}

/// Answers from the live tenant, so rotation, quirks and faults apply.
struct Live {
    tenant: Tenant,
    endpoint: Endpoint,
}

impl Respond for Live {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let t = &self.tenant;
        // `entra-common` tenants are served through their shared `common` document.
        let served = t.0.common.as_ref().unwrap_or(&t.0);
        served.counters.bump(self.endpoint);
        let faults = served.faults();
        let is_jwks = self.endpoint == Endpoint::Jwks;
        let fault = if is_jwks {
            faults.jwks
        } else {
            faults.discovery
        };
        let mut delay = None;
        match fault {
            Some(Fault::Status { status }) => {
                let body = serde_json::json!({"error": "server_error", "error_description": "injected fault"});
                return ResponseTemplate::new(status)
                    .set_body_raw(body.to_string(), "application/json; charset=utf-8");
            }
            Some(Fault::MalformedJson) => {
                return ResponseTemplate::new(200).set_body_raw(
                    "{\"keys\": [ {\"kty\": \"RSA\", <html>oops",
                    "application/json",
                );
            }
            Some(Fault::EmptyKeySet) if is_jwks => {
                return ResponseTemplate::new(200)
                    .set_body_raw("{\"keys\":[]}", "application/json; charset=utf-8");
            }
            // wiremock cannot drop a connection mid-answer; the nearest it can do is a 502.
            Some(Fault::Reset) => return ResponseTemplate::new(502),
            Some(Fault::Delay { ms }) => delay = Some(Duration::from_millis(ms.min(60_000))),
            Some(Fault::EmptyKeySet) | None => {}
        }
        let mut r = if is_jwks {
            let mut r = ResponseTemplate::new(200)
                .set_body_raw(t.jwks().to_string(), "application/json; charset=utf-8");
            if let Some(age) = served.quirks().jwks_max_age {
                r = r.insert_header("cache-control", format!("public, max-age={age}").as_str());
            }
            r
        } else {
            ResponseTemplate::new(200)
                .set_body_raw(t.discovery().to_string(), "application/json; charset=utf-8")
        };
        if let Some(d) = delay {
            r = r.set_delay(d);
        }
        r
    }
}
