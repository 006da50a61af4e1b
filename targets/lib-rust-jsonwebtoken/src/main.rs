//! byoid target adapter: bearer-token validation with the `jsonwebtoken` crate, configured the
//! way its docs show (`examples/auth0.rs`: `decode_header`, `JwkSet::find(kid)`,
//! `DecodingKey::from_jwk`, `Validation::new(header.alg)` with `set_audience`/`set_issuer`,
//! then `decode`), behind an axum middleware (`middleware::from_fn_with_state`).
//!
//! Speaks byoid-target/2 (docs/target-contract.md). Everything about the token itself
//! (signature, algorithm, `exp`/`nbf`, `iss`, `aud`, required claims, the JWK's parsing) is
//! jsonwebtoken's, with its documented defaults. jsonwebtoken fetches nothing, so the glue
//! reads the discovery document and fetches and caches the JWKS; the rest of the glue is the
//! reference target's contract code (manifest, tenant resolution, bearer transport, the RFC
//! 6750 response table, client-id allow-list, claim mappings, admin role), never its token
//! checks. See README.md.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{FromRequest, Request, State};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use byoid_reference::api_request::ApiRequest;
use byoid_reference::checks;
use byoid_reference::discovery::{fetch_json_with, Discovery};
use byoid_reference::json_object::JsonObject;
use byoid_reference::jwks::Fetcher;
use byoid_reference::manifest::{Manifest, TenantConfig, TenantSource, DEFAULT_CLIENT_ID_CLAIMS};
use byoid_reference::tenant::{Resolution, TenantResolver};
use byoid_reference::validate::build_client;
use byoid_reference::verified::Verified;
use byoid_reference::{AuthError, Clock, Config, DefectSet, Validator};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, DecodingKey, Validation};
use serde_json::{Map, Value};

/// Limit of one discovery or JWKS fetch: two in a row stay inside the contract's 5 s.
const FETCH_TIMEOUT: Duration = Duration::from_secs(2);
/// Longest a request waits for its tenant's keys (its own fetches or another request's).
const KEYS_DEADLINE: Duration = Duration::from_millis(4500);
/// Minimum gap between JWKS refetches caused by a `kid` the cached set lacks, per tenant.
const UNKNOWN_KID_COOLDOWN: Duration = Duration::from_secs(5);

/// A tenant's discovery document and key set as of one load.
#[derive(Clone)]
struct Snapshot {
    discovery: Arc<Discovery>,
    jwks: Arc<JwkSet>,
    generation: u64,
}

#[derive(Default)]
struct KeyState {
    discovery: Option<(Arc<Discovery>, Instant)>,
    jwks: Option<(Arc<JwkSet>, Instant)>,
    last_kid_refetch: Option<Instant>,
    /// Bumped by every load attempt, so a request that waited knows someone else fetched.
    generation: u64,
}

/// One tenant's cache: loaded lazily, trusted for `jwks_cache_seconds`, one fetch at a time.
#[derive(Default)]
struct TenantKeys {
    state: Mutex<KeyState>,
    flight: tokio::sync::Mutex<()>,
}

impl TenantKeys {
    fn lock(&self) -> MutexGuard<'_, KeyState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, ttl: Duration) -> Result<Snapshot, u64> {
        let s = self.lock();
        match (&s.discovery, &s.jwks) {
            (Some((d, td)), Some((k, tk))) if td.elapsed() < ttl && tk.elapsed() < ttl => {
                Ok(Snapshot {
                    discovery: d.clone(),
                    jwks: k.clone(),
                    generation: s.generation,
                })
            }
            _ => Err(s.generation),
        }
    }

    /// Discovery and JWKS within the cache window, loading them when needed.
    async fn current(&self, app: &App, tenant: &TenantConfig) -> Result<Snapshot, String> {
        let seen = match self.fresh(app.ttl) {
            Ok(snap) => return Ok(snap),
            Err(generation) => generation,
        };
        let _flight = self.flight.lock().await;
        match self.fresh(app.ttl) {
            Ok(snap) => Ok(snap),
            // Another request's load failed while this one waited: do not pile on.
            Err(generation) if generation != seen => {
                Err("the load this request waited for failed".into())
            }
            Err(_) => self.load(app, tenant, true).await,
        }
    }

    /// A `kid` the cached set lacks: refetch the JWKS, at most once per cooldown.
    async fn refresh_for_unknown_kid(
        &self,
        app: &App,
        tenant: &TenantConfig,
        seen: &Snapshot,
    ) -> Result<Snapshot, String> {
        let _flight = self.flight.lock().await;
        let (cooling, moved) = {
            let s = self.lock();
            let cooling = s
                .last_kid_refetch
                .is_some_and(|t| t.elapsed() < UNKNOWN_KID_COOLDOWN);
            (cooling, s.generation != seen.generation)
        };
        if moved {
            return self.fresh(app.ttl).map_err(|_| "keys expired".into());
        }
        if cooling {
            return Ok(seen.clone());
        }
        self.lock().last_kid_refetch = Some(Instant::now());
        self.load(app, tenant, false).await
    }

    /// Fetches the JWKS, and the discovery document when `with_discovery` or none is cached.
    /// A failure is not cached: the next request tries again.
    async fn load(
        &self,
        app: &App,
        tenant: &TenantConfig,
        with_discovery: bool,
    ) -> Result<Snapshot, String> {
        let cached = self.lock().discovery.clone();
        let result = async {
            let discovery = match cached {
                Some((d, t)) if !with_discovery && t.elapsed() < app.ttl => (d, None),
                _ => {
                    let doc = app
                        .fetcher
                        .json(&tenant.metadata_address)
                        .await
                        .map_err(|e| e.to_string())?;
                    // The document's issuer must be the one its address implies (unless
                    // `valid_issuers` replaces it), as the contract asks.
                    let d = Discovery::from_document(&doc, tenant, &DefectSet::new())
                        .map_err(|e| e.to_string())?;
                    let d = Arc::new(d);
                    (d.clone(), Some(d))
                }
            };
            // jsonwebtoken's own type reads the key set from the bytes as served (no glue
            // parse first): a key or a member it cannot read fails the whole set.
            let mut jwks = None;
            let f = &app.fetcher;
            let parse = |body: &[u8]| {
                jwks = Some(serde_json::from_slice::<JwkSet>(body)?);
                Ok(Value::Null)
            };
            fetch_json_with(
                f.client.as_ref(),
                &discovery.0.jwks_uri,
                f.require_https,
                f.timeout,
                parse,
            )
            .await
            .map_err(|e| e.to_string())?;
            let jwks = jwks.ok_or("no key set")?;
            Ok::<_, String>((discovery, Arc::new(jwks)))
        }
        .await;
        let mut s = self.lock();
        s.generation += 1;
        let ((discovery, fresh_discovery), jwks) = result?;
        let now = Instant::now();
        if let Some(d) = fresh_discovery {
            s.discovery = Some((d, now));
        }
        s.jwks = Some((jwks.clone(), now));
        Ok(Snapshot {
            discovery,
            jwks,
            generation: s.generation,
        })
    }
}

/// Everything a request needs.
struct App {
    /// The reference validator, only for the contract's request reading ([`ApiRequest`]) and
    /// refusals ([`byoid_reference::refusal`]); its token validation is never called.
    reference: Arc<Validator>,
    resolver: TenantResolver,
    fetcher: Fetcher,
    tenants: HashMap<String, TenantKeys>,
    skew: u64,
    ttl: Duration,
    debug: bool,
}

fn invalid(reason: &'static str) -> AuthError {
    AuthError::invalid_token(reason)
}

fn library(e: jsonwebtoken::errors::Error) -> AuthError {
    invalid("rejected by jsonwebtoken").with_detail(format!("jsonwebtoken: {e:?}"))
}

impl App {
    fn new(manifest: Manifest, debug: bool) -> App {
        let mut config = Config::new(manifest);
        config.fetch_timeout = FETCH_TIMEOUT;
        let client = build_client(&config);
        config.http_client = client.clone();
        let m = &config.manifest;
        let ttl = Duration::from_secs(m.jwks_cache_seconds);
        let fetcher = Fetcher {
            client,
            require_https: m.require_https_metadata,
            timeout: FETCH_TIMEOUT,
            ttl,
            cooldown: UNKNOWN_KID_COOLDOWN,
            clock: Clock::system(),
            defects: DefectSet::new(),
        };
        App {
            resolver: TenantResolver::new(m),
            tenants: m
                .tenants
                .iter()
                .map(|t| (t.slug.clone(), TenantKeys::default()))
                .collect(),
            skew: m.clock_skew_seconds,
            ttl,
            fetcher,
            debug,
            reference: Arc::new(Validator::new(config)),
        }
    }

    /// The tenant's key with `kid`, and the discovery document it came with.
    async fn key(
        &self,
        tenant: &TenantConfig,
        kid: &str,
    ) -> Result<(Arc<Discovery>, jsonwebtoken::jwk::Jwk), AuthError> {
        let keys = &self.tenants[&tenant.slug];
        let fetch_failed = |e: String| invalid("keys unavailable").with_detail(e);
        let snap = keys.current(self, tenant).await.map_err(fetch_failed)?;
        if let Some(jwk) = snap.jwks.find(kid) {
            return Ok((snap.discovery.clone(), jwk.clone()));
        }
        let snap = keys
            .refresh_for_unknown_kid(self, tenant, &snap)
            .await
            .map_err(fetch_failed)?;
        let jwk = snap.jwks.find(kid).ok_or_else(|| {
            invalid("no key has the token's kid").with_detail(format!("kid {kid:?}"))
        })?;
        Ok((snap.discovery.clone(), jwk.clone()))
    }

    /// The token of `req`, verified by jsonwebtoken for the tenant the request names.
    async fn verify(&self, req: ApiRequest) -> Result<Arc<Verified>, AuthError> {
        let bearer = req.token.ok_or_else(AuthError::no_credentials)?;
        let tenant = match self.resolver.lookup(req.tenant_slug.as_deref()) {
            Resolution::Found(t) => t,
            Resolution::Missing => return Err(invalid("no tenant identified")),
            Resolution::Unknown | Resolution::Disabled(_) => return Err(invalid("unknown tenant")),
        };
        let token =
            std::str::from_utf8(bearer.as_bytes()).map_err(|_| invalid("token is not UTF-8"))?;

        // examples/auth0.rs: the header for its kid and alg, the JWK with that kid, its key.
        let header = decode_header(token).map_err(library)?;
        let Some(kid) = header.kid.as_deref() else {
            return Err(invalid("token has no kid"));
        };
        let (discovery, jwk) = tokio::time::timeout(KEYS_DEADLINE, self.key(tenant, kid))
            .await
            .map_err(|_| invalid("keys unavailable").with_detail("waited too long for keys"))??;
        let key = DecodingKey::from_jwk(&jwk).map_err(library)?;
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&tenant.valid_audiences);
        match &tenant.valid_issuers {
            Some(issuers) => validation.set_issuer(issuers),
            None => validation.set_issuer(&[&discovery.issuer]),
        }
        validation.leeway = self.skew;
        let data = decode::<Map<String, Value>>(token, &key, &validation).map_err(library)?;

        // The contract's claims glue, after the library accepted the token.
        let mut claims = data.claims;
        let object = JsonObject::from_map(&claims);
        let names: Vec<&str> = match &tenant.client_id_claims {
            Some(names) => names.iter().map(String::as_str).collect(),
            None => DEFAULT_CLIENT_ID_CLAIMS.to_vec(),
        };
        let allowed = &tenant.allowed_client_ids;
        checks::check_client(&object, &names, allowed, &DefectSet::new()).map_err(invalid)?;
        checks::apply_claim_mappings(&mut claims, &tenant.claim_mappings);
        Ok(Verified::new(&tenant.slug, JsonObject::from_map(&claims)))
    }

    fn refuse(&self, e: AuthError) -> Response {
        if self.debug {
            eprintln!("[lib-rust-jsonwebtoken] reject: {e}");
        }
        byoid_reference::refusal(&self.reference, e)
    }
}

/// The authentication middleware (axum's `from_fn_with_state`): verifies the request's token
/// and hands the verified claims to the route as an extension, or answers the refusal.
async fn authenticate(State(app): State<Arc<App>>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    // The route reads no body; the request it gets carries the verified claims instead.
    let mut forwarded = Request::from_parts(parts.clone(), Body::empty());
    let read = ApiRequest::from_request(Request::from_parts(parts, body), &app.reference).await;
    let verified = match read {
        Ok(api) => app.verify(api).await,
        Err(e) => Err(e),
    };
    match verified {
        Ok(verified) => {
            forwarded.extensions_mut().insert(verified);
            next.run(forwarded).await
        }
        Err(e) => app.refuse(e),
    }
}

fn answer(verified: &Verified) -> Response {
    let json = HeaderValue::from_static("application/json");
    ([(header::CONTENT_TYPE, json)], verified.body.clone()).into_response()
}

async fn whoami(Extension(verified): Extension<Arc<Verified>>) -> Response {
    answer(&verified)
}

async fn admin(
    State(app): State<Arc<App>>,
    Extension(verified): Extension<Arc<Verified>>,
) -> Response {
    if checks::has_role(&verified.claims, "admin") {
        answer(&verified)
    } else {
        app.refuse(AuthError::insufficient_scope("the admin role is required"))
    }
}

fn router(app: Arc<App>, source: &TenantSource) -> Router {
    let mut router = Router::new()
        .route("/api/whoami", get(whoami).post(whoami))
        .route("/api/admin", get(admin).post(admin));
    // Without a slug, a path-source request names no tenant: the contract's 401.
    if let TenantSource::Path { prefix } = source {
        router = router
            .route(
                &format!("{prefix}/{{slug}}/api/whoami"),
                get(whoami).post(whoami),
            )
            .route(
                &format!("{prefix}/{{slug}}/api/admin"),
                get(admin).post(admin),
            );
    }
    router
        .route_layer(middleware::from_fn_with_state(app.clone(), authenticate))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(app)
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let debug = std::env::var_os("BYOID_TARGET_DEBUG").is_some_and(|v| v == "1");
    byoid_reference::serve_from_env("byoid-lib-jsonwebtoken", |manifest| {
        let source = manifest.tenant_source.clone();
        router(Arc::new(App::new(manifest, debug)), &source)
    })
    .await
}
