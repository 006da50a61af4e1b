//! byoid target adapter: bearer-token validation with the `jwt-authorizer` crate, the axum
//! layer its README shows (`JwtAuthorizer::from_jwks_url(..).validation(Validation::new()
//! .iss(..).aud(..).nbf(true).leeway(..)).refresh(..).build()`, then `.layer(auth.into_layer())`
//! on a `Router` whose handlers take `JwtClaims<T>`).
//!
//! Speaks byoid-target/2 (docs/target-contract.md). One authorizer per tenant, built lazily on
//! the tenant's first request, each wrapped around a small router of its own (`/api/whoami`,
//! `/api/admin`); the outer router resolves the tenant and hands the request to that tenant's
//! router. Everything the layer does is the library's: reading the bearer token, JWKS fetching
//! and refreshing, key selection, the jsonwebtoken 9 checks it configures, and its refusals
//! (status and `WWW-Authenticate`). The glue does what the contract needs beyond that: tenant
//! resolution and `agree_header`, reading the discovery document for the `issuer` and the
//! `jwks_uri` (jwt-authorizer reads only `jwks_uri`, and tells nobody the `issuer`), the
//! client-id allow-list, claim mappings and the admin role. See README.md.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use jwt_authorizer::{
    Authorizer, IntoLayer, JwtAuthorizer, JwtClaims, Refresh, RefreshStrategy, Validation,
};
use serde::Deserialize;
use serde_json::{Map, Value};
use tower::ServiceExt;

/// Limit of the glue's discovery fetch.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// The longest a request is left with jwt-authorizer, inside the contract's 5 s: its JWKS
/// fetch has no time limit and cannot be given one (see README.md).
const REQUEST_DEADLINE: Duration = Duration::from_millis(4500);
/// Largest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 1024 * 1024;
/// Client id claims of a `byoid-target/1` manifest, which does not name them per tenant.
const DEFAULT_CLIENT_ID_CLAIMS: &[&str] = &["client_id", "azp", "cid", "appid"];

// ---------------------------------------------------------------------------------------
// Manifest

#[derive(Debug, Deserialize)]
struct Manifest {
    #[serde(default)]
    contract: Option<String>,
    #[serde(default)]
    tenant_source: TenantSource,
    #[serde(default = "default_skew")]
    clock_skew_seconds: u64,
    #[serde(default = "default_cache")]
    jwks_cache_seconds: u64,
    #[serde(default)]
    require_https_metadata: bool,
    #[serde(default)]
    ca_bundle: Option<PathBuf>,
    #[serde(default)]
    tenants: Vec<Tenant>,
}

fn default_skew() -> u64 {
    60
}
fn default_cache() -> u64 {
    600
}
fn default_header() -> String {
    "X-Tenant-Slug".into()
}
fn default_true() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum TenantSource {
    Header {
        #[serde(default = "default_header")]
        header: String,
    },
    Path {
        #[serde(default)]
        prefix: String,
    },
    Subdomain,
}

impl Default for TenantSource {
    fn default() -> Self {
        TenantSource::Header {
            header: default_header(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Tenant {
    slug: String,
    #[serde(default = "default_true")]
    enabled: bool,
    metadata_address: String,
    /// `None`: the discovery document's `issuer`; a list replaces it.
    #[serde(default)]
    valid_issuers: Option<Vec<String>>,
    #[serde(default)]
    valid_audiences: Vec<String>,
    #[serde(default)]
    allowed_client_ids: Vec<String>,
    #[serde(default)]
    client_id_claims: Option<Vec<String>>,
    #[serde(default)]
    claim_mappings: BTreeMap<String, String>,
    #[serde(default)]
    agree_header: Option<String>,
}

// ---------------------------------------------------------------------------------------
// The glue's responses (the layer answers its own refusals)

fn json(status: StatusCode, body: Value, challenge: Option<&'static str>) -> Response {
    let mut resp = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    if let Some(c) = challenge {
        resp.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(c));
    }
    resp
}

fn debug_enabled() -> bool {
    std::env::var_os("BYOID_TARGET_DEBUG").is_some_and(|v| v == "1")
}

fn invalid_token(reason: &str) -> Response {
    if debug_enabled() {
        eprintln!("[lib-rust-jwt-authorizer] reject: {reason}");
    }
    json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error": "invalid_token"}),
        Some(r#"Bearer error="invalid_token""#),
    )
}

// ---------------------------------------------------------------------------------------
// Tenants: each with its authorizer's router, built on first use

struct TenantEntry {
    config: Arc<Tenant>,
    /// The tenant's router behind its authorizer's layer. A failed build leaves it empty, so
    /// the next request builds again.
    service: tokio::sync::OnceCell<Router>,
}

struct App {
    source: TenantSource,
    tenants: HashMap<String, TenantEntry>,
    skew: u64,
    cache: Duration,
    require_https: bool,
    /// The glue's client: bounded, no redirects, trusting `ca_bundle`.
    client: reqwest::Client,
}

/// Whether `metadata` is where `issuer`'s metadata lives (contract 2.2): the OIDC form, the
/// RFC 8414 suffix form, or RFC 8414's own form; a trailing slash on the issuer tolerated.
fn metadata_matches_issuer(metadata: &str, issuer: &str) -> bool {
    let base = issuer.trim_end_matches('/');
    if base.is_empty() {
        return false;
    }
    for suffix in [
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
    ] {
        if metadata.strip_suffix(suffix) == Some(base) {
            return true;
        }
    }
    if let Some(scheme_end) = base.find("://") {
        if let Some(slash) = base[scheme_end + 3..].find('/') {
            let (origin, path) = base.split_at(scheme_end + 3 + slash);
            if metadata == format!("{origin}/.well-known/oauth-authorization-server{path}") {
                return true;
            }
        }
    }
    false
}

impl App {
    fn new(m: Manifest) -> Result<App, String> {
        let mut b = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none());
        if let Some(path) = &m.ca_bundle {
            let pem = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            for c in certs {
                b = b.add_root_certificate(c);
            }
        }
        let client = b.build().map_err(|e| format!("HTTP client: {e}"))?;
        let mut tenants = HashMap::new();
        for t in m.tenants {
            let entry = TenantEntry {
                config: Arc::new(t),
                service: tokio::sync::OnceCell::new(),
            };
            tenants.insert(entry.config.slug.clone(), entry);
        }
        Ok(App {
            source: m.tenant_source,
            tenants,
            skew: m.clock_skew_seconds,
            cache: Duration::from_secs(m.jwks_cache_seconds),
            require_https: m.require_https_metadata,
            client,
        })
    }

    fn allowed_url(&self, url: &str) -> bool {
        let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
        lower.starts_with("https://") || (!self.require_https && lower.starts_with("http://"))
    }

    /// GETs a discovery document, bounded in time and size.
    async fn fetch_json(&self, url: &str) -> Result<Value, String> {
        if !self.allowed_url(url) {
            return Err(format!("refusing to fetch {url}"));
        }
        let mut resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{url}: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!("{url}: status {}", resp.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| format!("{url}: {e}"))? {
            if body.len() + chunk.len() > MAX_DISCOVERY_BYTES {
                return Err(format!("{url}: too large"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("{url}: {e}"))
    }

    /// The tenant's router behind its own authorizer: the discovery document read for the
    /// `issuer` and `jwks_uri`, then the authorizer as the README builds one.
    async fn build(&self, t: &Arc<Tenant>) -> Result<Router, String> {
        let doc = self.fetch_json(&t.metadata_address).await?;
        let text = |name: &str| {
            doc.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| format!("discovery document without {name}"))
        };
        let (issuer, jwks_uri) = (text("issuer")?, text("jwks_uri")?);
        let issuers = match &t.valid_issuers {
            Some(list) => list.clone(),
            None if metadata_matches_issuer(&t.metadata_address, issuer) => vec![issuer.into()],
            None => {
                return Err(format!(
                    "discovery issuer {issuer} does not match its address"
                ))
            }
        };
        if !self.allowed_url(jwks_uri) {
            return Err(format!("refusing jwks_uri {jwks_uri}"));
        }
        let validation = Validation::new()
            .iss(&issuers)
            .aud(&t.valid_audiences)
            .nbf(true)
            .leeway(self.skew);
        let refresh = Refresh {
            strategy: RefreshStrategy::KeyNotFound,
            refresh_interval: self.cache,
            ..Refresh::default()
        };
        let authorizer: Authorizer<Value> = JwtAuthorizer::from_jwks_url(jwks_uri)
            .validation(validation)
            .refresh(refresh)
            .build()
            .await
            .map_err(|e| format!("jwt-authorizer: {e}"))?;
        Ok(Router::new()
            .route("/api/whoami", get(whoami))
            .route("/api/admin", get(admin))
            .layer(authorizer.into_layer())
            .with_state(t.clone()))
    }

    /// The slug the request names through the configured source (the path's, if any).
    fn slug(&self, headers: &HeaderMap, path_slug: Option<String>) -> Option<String> {
        let single = |name: &str| {
            let mut values = headers.get_all(name).iter();
            match (values.next(), values.next()) {
                (Some(v), None) => v.to_str().ok().map(str::trim).map(str::to_owned),
                _ => None,
            }
        };
        match &self.source {
            TenantSource::Path { .. } => path_slug,
            TenantSource::Header { header } => single(header),
            TenantSource::Subdomain => {
                let host = single(header::HOST.as_str())?;
                let name = match host.rsplit_once(':') {
                    Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
                    _ => host.as_str(),
                };
                let (label, rest) = name.split_once('.')?;
                (!label.is_empty() && !rest.is_empty()).then(|| label.to_ascii_lowercase())
            }
        }
        .filter(|s| !s.is_empty())
    }

    fn tenant(&self, slug: &str) -> Option<&TenantEntry> {
        if matches!(self.source, TenantSource::Subdomain) {
            // Host names are case-insensitive.
            self.tenants
                .values()
                .find(|t| t.config.slug.eq_ignore_ascii_case(slug))
        } else {
            self.tenants.get(slug)
        }
    }
}

// ---------------------------------------------------------------------------------------
// Routes

/// The outer routes: resolve the tenant, then hand the request to that tenant's router (its
/// authorizer's layer, then [`whoami`] or [`admin`]), under [`REQUEST_DEADLINE`].
async fn api(
    State(app): State<Arc<App>>,
    path_slug: Option<Path<String>>,
    req: Request,
) -> Response {
    let slug = path_slug.map(|Path(s)| s);
    match tokio::time::timeout(REQUEST_DEADLINE, dispatch(&app, slug, req)).await {
        Ok(resp) => resp,
        Err(_) => invalid_token("no answer from jwt-authorizer within the deadline"),
    }
}

async fn dispatch(app: &App, path_slug: Option<String>, mut req: Request) -> Response {
    let admin_route = req.uri().path().ends_with("/api/admin");
    let slug = app.slug(req.headers(), path_slug);
    let Some(slug) = slug else {
        return invalid_token("no tenant identified");
    };
    let Some(tenant) = app.tenant(&slug).filter(|t| t.config.enabled) else {
        return invalid_token("unknown tenant");
    };
    if let Some(name) = &tenant.config.agree_header {
        let h = req.headers();
        if h.get_all(name.as_str())
            .iter()
            .any(|v| v.as_bytes() != tenant.config.slug.as_bytes())
        {
            return invalid_token("agree_header names another tenant");
        }
    }
    let service = tenant
        .service
        .get_or_try_init(|| app.build(&tenant.config))
        .await;
    let service = match service {
        Ok(s) => s.clone(),
        Err(e) => return invalid_token(&e),
    };
    // The tenant's router serves the unprefixed routes; the query goes along.
    let route = if admin_route {
        "/api/admin"
    } else {
        "/api/whoami"
    };
    let target = match req.uri().query() {
        Some(q) => format!("{route}?{q}"),
        None => route.to_owned(),
    };
    match target.parse() {
        Ok(uri) => *req.uri_mut() = uri,
        Err(_) => return invalid_token("unparsable request target"),
    }
    match service.oneshot(req).await {
        Ok(resp) => resp,
        Err(never) => match never {},
    }
}

/// The contract's claims glue, after the layer accepted the token.
fn answer(t: &Tenant, claims: Value, admin: bool) -> Response {
    let Value::Object(mut claims) = claims else {
        return invalid_token("payload is not a JSON object");
    };
    if !t.allowed_client_ids.is_empty() {
        let names: Vec<&str> = match &t.client_id_claims {
            Some(n) => n.iter().map(String::as_str).collect(),
            None => DEFAULT_CLIENT_ID_CLAIMS.to_vec(),
        };
        let client = names.iter().find_map(|n| claims.get(*n));
        let allowed = client
            .and_then(Value::as_str)
            .is_some_and(|c| t.allowed_client_ids.iter().any(|a| a == c));
        if !allowed {
            return invalid_token("client not allowed");
        }
    }
    apply_claim_mappings(&mut claims, &t.claim_mappings);
    let is_admin = match claims.get("roles") {
        Some(Value::Array(a)) => a.iter().any(|r| r.as_str() == Some("admin")),
        Some(Value::String(s)) => s.split_whitespace().any(|r| r == "admin"),
        _ => false,
    };
    if admin && !is_admin {
        return json(
            StatusCode::FORBIDDEN,
            serde_json::json!({"error": "insufficient_scope"}),
            Some(r#"Bearer error="insufficient_scope""#),
        );
    }
    json(
        StatusCode::OK,
        serde_json::json!({"tenant": t.slug, "claims": claims}),
        None,
    )
}

/// Contract 5.7: each source claim's value also under its normalized name, arrays merged.
fn apply_claim_mappings(claims: &mut Map<String, Value>, mappings: &BTreeMap<String, String>) {
    let as_list = |v: &Value| match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    };
    for (from, to) in mappings {
        if from == to {
            continue;
        }
        let Some(value) = claims.get(from).cloned() else {
            continue;
        };
        let merged = match claims.get(to) {
            None => value,
            Some(existing) => {
                let mut out: Vec<Value> = Vec::new();
                for v in as_list(existing).into_iter().chain(as_list(&value)) {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
        };
        claims.insert(to.clone(), merged);
    }
}

async fn whoami(State(t): State<Arc<Tenant>>, JwtClaims(claims): JwtClaims<Value>) -> Response {
    answer(&t, claims, false)
}

async fn admin(State(t): State<Arc<Tenant>>, JwtClaims(claims): JwtClaims<Value>) -> Response {
    answer(&t, claims, true)
}

fn router(app: Arc<App>) -> Router {
    let mut router = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/api/whoami", get(api))
        .route("/api/admin", get(api));
    // Without a slug, a path-source request names no tenant: the contract's 401.
    if let TenantSource::Path { prefix } = &app.source {
        let prefix = prefix.trim_end_matches('/');
        router = router
            .route(&format!("{prefix}/:slug/api/whoami"), get(api))
            .route(&format!("{prefix}/:slug/api/admin"), get(api));
    }
    router.with_state(app)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let setup = async {
        let path = env("BYOID_MANIFEST")?;
        let port: u16 = env("BYOID_PORT")?
            .parse()
            .map_err(|e| format!("BYOID_PORT: {e}"))?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let manifest: Manifest = serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))?;
        match manifest.contract.as_deref() {
            None | Some("byoid-target/1" | "byoid-target/2") => {}
            Some(other) => return Err(format!("{path}: unsupported contract {other:?}")),
        }
        let app = App::new(manifest)?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        Ok::<_, String>((listener, app))
    };
    let (listener, app) = match setup.await {
        Ok(ready) => ready,
        Err(e) => {
            eprintln!("byoid-lib-jwt-authorizer: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    if debug_enabled() {
        // jwt-authorizer says why it refused a token at `debug` level.
        tracing_subscriber::fmt()
            .with_writer(std::io::stderr)
            .with_env_filter(tracing_subscriber::EnvFilter::new("jwt_authorizer=debug"))
            .init();
    }
    match axum::serve(listener, router(Arc::new(app))).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("byoid-lib-jwt-authorizer: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
