//! `byoid-reference` is the byoid project's built-in BYOID access-token
//! validator: an HTTP service that speaks the target contract
//! (`byoid-target/2`), validates RFC 9068 JWT access tokens from many tenants'
//! identity providers the way the best validators do, and, with
//! [defects](defect::Defect) switched on, becomes each of the harness's
//! known-bad targets. It is a test target and a worked example, not a
//! production gateway: it has no persistence, no metrics and no rate limiting
//! beyond the IdP fetch discipline described below.
//!
//! # Running it
//!
//! ```text
//! byoid-reference --manifest manifest.json --port 8080          # known good
//! byoid-reference --manifest manifest.json --port 8080 --defect none-accepted
//! BYOID_MANIFEST=m.json BYOID_PORT=8080 BYOID_DEFECTS=fail-open,cross-tenant byoid-reference
//! byoid-reference --list-defects
//! ```
//!
//! It binds `127.0.0.1` unless `--listen` says otherwise. A malformed manifest
//! exits with status 2 and a message naming the field.
//!
//! # Using it from Rust
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use byoid_reference::{app, manifest::Manifest, Config};
//!
//! let manifest = Manifest::from_json(r#"{
//!     "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
//!     "tenants": [{"slug": "contoso",
//!                  "metadata_address": "http://127.0.0.1:9/contoso/.well-known/openid-configuration",
//!                  "valid_audiences": ["api://byoid-resource"]}]
//! }"#)?;
//! let mut config = Config::new(manifest);
//! config.defects.insert("none-accepted".parse()?);
//! let router = app(config); // serve it, or drive it with tower's `oneshot`
//! # let _ = router;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let server = tokio::spawn(byoid_reference::serve(listener, Config::new(Manifest::from_json(
//!     r#"{"tenant_source":{"kind":"path"},"tenants":[]}"#)?)));
//! server.abort(); // runs until aborted
//! # Ok(()) }
//! ```
//!
//! [`app`] is the service as an axum [`Router`]; [`serve`] serves it with
//! `axum::serve` (hyper's HTTP/1.1 server). An API request is read by one
//! extractor, [`api_request::ApiRequest`] (the bearer token and the tenant's
//! slug), and refused by one error type, [`AuthError`].
//!
//! # Requests and responses
//!
//! Routes: `GET /healthz` (always unprefixed), `GET|POST /api/whoami` and
//! `GET|POST /api/admin`, prefixed by `/{slug}` when the tenant source is `path`.
//! Responses follow the contract table, produced by one type, [`AuthError`]:
//! 401 `Bearer realm="byoid"` without credentials; 401 `error="invalid_token"`
//! for any bad token (including unknown or disabled tenants and unreachable
//! IdPs: the service fails closed and never answers 5xx for a bad token); 400
//! `error="invalid_request"` for malformed requests; 403
//! `error="insufficient_scope"` when `/api/admin` lacks the `admin` role.
//! `error_description` is always a fixed sentence. Internal error text appears
//! (as a `detail` member of the JSON body) only in debug mode (`--debug`).
//!
//! Token transport (RFC 6750 section 2), see [`bearer`]:
//! * `Authorization: Bearer` with a case-insensitive scheme and one or more
//!   spaces; an empty token is 401 `invalid_token`; other schemes count as no
//!   credentials; two `Authorization` headers are 400.
//! * Form body: accepted on `POST` with `application/x-www-form-urlencoded`
//!   only; a body token on `GET` is 400.
//! * Query `?access_token=`: **refused** with 400 `invalid_request` (RFC 6750
//!   section 2.3 discourages it, RFC 9700 forbids it).
//! * More than one method, or one parameter twice: 400 `invalid_request`.
//!
//! # What is checked
//!
//! * Syntax ([`token`]): compact JWS only, at most 16 KiB, strict unpadded
//!   base64url, UTF-8, JSON objects, no duplicate member names at any depth,
//!   no escape that is a lone surrogate ([`json_object`]).
//! * Header ([`checks`]): `crit` is refused (no extension is understood);
//!   `typ` must be `at+jwt` (any case, with or without `application/`), or
//!   `JWT` unless `require_access_token_type`; `alg` from the allow-list
//!   RS/PS 256/384/512, ES256, ES384, ES512, EdDSA intersected with the discovery
//!   `id_token_signing_alg_values_supported`; never `none` or HMAC. `jku`,
//!   `x5u`, `jwk` and `x5c` are never fetched or trusted; `x5t` is ignored.
//! * Keys ([`jwks`]): selected by `kid` (all keys with that `kid` that fit the
//!   alg are tried); without `kid` only when exactly one JWKS key fits the alg.
//!   A key fits when its type and curve match the alg, `use` is absent or
//!   `sig`, `key_ops` is absent or has `verify`, and `alg` is absent or equal.
//!   ECDSA signatures must be raw `r||s`. Signatures are checked with aws-lc-rs
//!   on a key parsed once per algorithm ([`prepared_key`]), not rebuilt per
//!   token as `jsonwebtoken::crypto::verify` does, with the same verification
//!   algorithms.
//! * Claims: `iss` equal (byte for byte) to the discovery `issuer`, or to one
//!   of `valid_issuers`; `aud` (string or array of strings) containing a
//!   `valid_audiences` entry; `exp` required, a number, `now <= exp + skew`;
//!   `nbf` and `iat` numbers when present, `now + skew >= nbf`,
//!   `iat <= now + skew`; `sub` a non-empty string.
//! * **Required claims** are `iss`, `exp`, `aud` and `sub`. RFC 9068 also lists
//!   `iat`, `jti` and `client_id`, but Entra and Okta tokens lack `client_id`
//!   and some profiles omit `jti`, so those are checked only when present
//!   (`iat`) or when the allow-list needs a client (`client_id`).
//! * **Client id** (when `allowed_client_ids` is non-empty): the first present
//!   of the tenant's `client_id_claims` must be in the list; a `byoid-target/1`
//!   manifest, which has no such field, gets `client_id` (RFC 9068), `azp` (OIDC;
//!   Entra v2, Auth0), `cid` (Okta), `appid` (Entra v1).
//! * `claim_mappings` then copy each source claim under its normalized name,
//!   merging arrays (strings count as one-element arrays, duplicates dropped).
//!   `/api/admin` needs `admin` in the normalized `roles` (array or
//!   space-separated string).
//!
//! # Discovery and key caching
//!
//! Each tenant's discovery document is fetched lazily on first use. Without
//! `valid_issuers`, its `issuer` must be the one the metadata address implies
//! (OIDC Discovery 4.3, RFC 8414 3.3; a trailing slash is tolerated). With
//! `valid_issuers` (Entra "common", whose issuer is a `{tenantid}` template)
//! that check is skipped and the token's `iss` must be exactly in the list.
//! `require_https_metadata` refuses `http:` metadata and `jwks_uri`; `ca_bundle`
//! adds trusted roots. Documents and keys are trusted for `jwks_cache_seconds`.
//! An unknown `kid` causes at most one JWKS refetch per tenant per
//! [`Config::unknown_kid_cooldown`] (default 5 s), shared by concurrent
//! requests; failed refetches keep the last good keys within their TTL; after a
//! failed load the next attempt waits [`jwks::FAILURE_BACKOFF`]. Every fetch is
//! bounded by [`Config::fetch_timeout`] (default 2 s) and 1 MiB, and redirects
//! are not followed.
//!
//! # The verified-token cache
//!
//! Tokens that pass are cached under their exact bytes (a hit needs byte-for-byte
//! equality, so no hash collision can alias two tokens), with the tenant slug,
//! the mapped claims and the serialized `200` body, up to 10 000 entries of
//! tokens no longer than 4 KiB (at most ~40 MiB of keys). The cache is asked
//! before the bearer token's syntax check, which a byte-equal token passed
//! when it was verified. A hit counts only
//! for the same tenant and is rechecked against `exp` (with skew) every time;
//! an entry lives at most `min(exp + skew, jwks_cache_seconds)`. This is safe
//! because every check already passed for this exact byte string and tenant,
//! and the lifetime never exceeds what the key cache would have trusted anyway
//! (a key rotated out does not retroactively invalidate tokens within the key
//! cache TTL in typical validators either).
//!
//! A token is stored on its second successful verification, not its first, and
//! when the cache is full the oldest entry goes ([`token_cache`]): a flood of
//! tokens each seen once costs no insertions and cannot push out the tokens
//! that real clients repeat, and every operation is O(1).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api_request;
pub mod bearer;
pub mod checks;
pub mod clock;
pub mod defect;
pub mod discovery;
mod ecdsa_der;
pub mod error;
pub mod first_wins_json;
pub mod hmac_confusion;
pub mod json_object;
pub mod jwks;
pub mod lenient_forms;
pub mod manifest;
pub mod prepared_key;
pub mod tenant;
pub mod token;
pub mod token_cache;
pub mod validate;
pub mod verified;
mod x5c_key;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use api_request::ApiRequest;
pub use clock::Clock;
pub use defect::{Defect, DefectSet};
pub use error::{AuthError, AuthErrorKind};
pub use manifest::Manifest;
pub use validate::{Validator, Verified};

const APPLICATION_JSON: HeaderValue = HeaderValue::from_static("application/json");
const TEXT_PLAIN: HeaderValue = HeaderValue::from_static("text/plain; charset=utf-8");

/// Largest form body read when looking for an `access_token` parameter.
pub const MAX_FORM_BODY_BYTES: usize = 64 * 1024;

/// Everything the service needs.
#[derive(Debug, Clone)]
pub struct Config {
    /// The contract manifest.
    pub manifest: Manifest,
    /// Planted defects; empty for the known-good target.
    pub defects: DefectSet,
    /// Debug mode: error responses carry internal detail in a `detail` member.
    pub debug: bool,
    /// Limit on each discovery or JWKS fetch (connect plus body). Default 2 s.
    pub fetch_timeout: Duration,
    /// Minimum gap between JWKS refetches caused by unknown `kid`s, per tenant.
    /// Default 5 s: long enough that a flood of random `kid`s costs the IdP one
    /// request per tenant per 5 s, short enough that a real rotation is picked up
    /// by the second request after it.
    pub unknown_kid_cooldown: Duration,
    /// The time the validator runs on ([`Clock::system`] by default; a manual
    /// clock makes cache windows and cooldowns step only when told to).
    pub clock: Clock,
    /// The client to fetch discovery and JWKS with, when several validators of
    /// one process should share its connections; `None` builds one from this
    /// config ([`validate::build_client`]).
    pub http_client: Option<reqwest::Client>,
}

impl Config {
    /// The known-good configuration for `manifest`.
    pub fn new(manifest: Manifest) -> Self {
        Config {
            manifest,
            defects: DefectSet::new(),
            debug: false,
            fetch_timeout: Duration::from_secs(2),
            unknown_kid_cooldown: Duration::from_secs(5),
            clock: Clock::system(),
            http_client: None,
        }
    }
}

/// The two API routes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ApiRoute {
    WhoAmI,
    Admin,
}

/// The whole service as an axum router (drive it with `oneshot` in tests):
/// `GET /healthz`, and `GET|POST /api/whoami` and `/api/admin`, also under
/// `/{slug}` when the tenant source is `path`. Other methods get 405 with
/// `Allow`, other paths 404.
pub fn app(config: Config) -> Router {
    let prefix = match &config.manifest.tenant_source {
        manifest::TenantSource::Path { prefix } => Some(prefix.clone()),
        _ => None,
    };
    let whoami = get(whoami).post(whoami);
    let admin = get(admin).post(admin);
    // Without a slug, a path-source request names no tenant: the contract's 401.
    let mut router = Router::new()
        .route("/healthz", get(health))
        .route("/api/whoami", whoami.clone())
        .route("/api/admin", admin.clone());
    if let Some(prefix) = prefix {
        router = router
            .route(&format!("{prefix}/{{slug}}/api/whoami"), whoami)
            .route(&format!("{prefix}/{{slug}}/api/admin"), admin);
    }
    router.with_state(Arc::new(Validator::new(config)))
}

/// Serves [`app`] on `listener` until the future is dropped or aborted.
pub async fn serve(listener: tokio::net::TcpListener, config: Config) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    let listener = listener.tap_io(|tcp| {
        // Small answers on keep-alive connections: send each at once.
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(config)).await
}

/// Runs a target process as the contract launches it: reads the manifest named by
/// `$BYOID_MANIFEST`, listens on `127.0.0.1:$BYOID_PORT` and serves the router `app` makes of
/// the manifest. A setup error is one line on stderr, prefixed with `name`, and exit code 2;
/// an error while serving, exit code 1.
///
/// ```no_run
/// use byoid_reference::{app, serve_from_env, Config};
///
/// #[tokio::main]
/// async fn main() -> std::process::ExitCode {
///     serve_from_env("my-target", |manifest| app(Config::new(manifest))).await
/// }
/// ```
pub async fn serve_from_env(
    name: &str,
    app: impl FnOnce(Manifest) -> Router,
) -> std::process::ExitCode {
    let env = |var: &str| std::env::var(var).map_err(|_| format!("{var} is not set"));
    let setup = async {
        let path = env("BYOID_MANIFEST")?;
        let port: u16 = env("BYOID_PORT")?
            .parse()
            .map_err(|e| format!("BYOID_PORT: {e}"))?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
        let manifest = Manifest::from_json(&text).map_err(|e| format!("{path}: {e}"))?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
        Ok::<_, String>((listener, manifest))
    };
    match setup.await {
        Ok((listener, manifest)) => match axum::serve(listener, app(manifest)).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{name}: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

async fn health() -> Response {
    ([(header::CONTENT_TYPE, TEXT_PLAIN)], "ok").into_response()
}

async fn whoami(State(v): State<Arc<Validator>>, req: Result<ApiRequest, AuthError>) -> Response {
    respond(&v, ApiRoute::WhoAmI, req).await
}

async fn admin(State(v): State<Arc<Validator>>, req: Result<ApiRequest, AuthError>) -> Response {
    respond(&v, ApiRoute::Admin, req).await
}

/// The contract's answer: `200` with the verified token's body, or the error
/// as the service sends it.
async fn respond(v: &Validator, route: ApiRoute, req: Result<ApiRequest, AuthError>) -> Response {
    let verified = match req {
        Ok(req) => authorize(v, route, req).await,
        Err(e) => Err(e),
    };
    match verified {
        Ok(verified) => (
            [(header::CONTENT_TYPE, APPLICATION_JSON)],
            verified.body.clone(),
        )
            .into_response(),
        Err(e) => refusal(v, e),
    }
}

/// The answer to a refused request, as the contract's table says (RFC 6750 section 3):
/// internal detail only in debug mode, and the validator's challenge defects applied.
pub fn refusal(v: &Validator, e: AuthError) -> Response {
    e.into_sent(v.config.debug, &v.config.defects)
        .into_response()
}

/// The `jws-json-accepted` defect lets a JSON value past the `b64token` check.
fn json_serialization_let_through(v: &Validator, token: &[u8]) -> bool {
    v.config.defects.contains(Defect::JwsJsonAccepted) && token.first() == Some(&b'{')
}

async fn authorize(
    v: &Validator,
    route: ApiRoute,
    req: ApiRequest,
) -> Result<Arc<Verified>, AuthError> {
    let verified = authenticate(v, req).await?;
    let d = &v.config.defects;
    if route == ApiRoute::Admin
        && !d.contains(Defect::AdminRoleNotChecked)
        && !checks::has_role_with(&verified.claims, "admin", d)
    {
        if d.contains(Defect::InsufficientScopeAs401) {
            return Err(AuthError::invalid_token("the admin role is required"));
        }
        return Err(AuthError::insufficient_scope("the admin role is required"));
    }
    Ok(verified)
}

/// Authenticates an API request for an application's own routes: the token it presents,
/// verified for the tenant it names, or the [`AuthError`] to answer with (send it with
/// [`AuthError::into_sent`]). `/api/whoami` is this and nothing else; `/api/admin` adds the
/// role check. `targets/orders-api` puts it in front of routes of its own.
///
/// ```no_run
/// # async fn f(v: &byoid_reference::Validator, req: byoid_reference::api_request::ApiRequest)
/// #     -> axum::response::Response {
/// match byoid_reference::authenticate(v, req).await {
///     Ok(verified) => format!("hello, {}", verified.tenant).into_response(),
///     Err(refused) => byoid_reference::refusal(v, refused),
/// }
/// # }
/// # use axum::response::IntoResponse;
/// ```
pub async fn authenticate(v: &Validator, req: ApiRequest) -> Result<Arc<Verified>, AuthError> {
    let token = req.token.ok_or_else(AuthError::no_credentials)?;
    let resolution = v.resolver.lookup(req.tenant_slug.as_deref());
    // A cache hit needs no syntax check (see `bearer::Bearer`). Every wait for
    // the IdP in the rest is under a hard ceiling (see `jwks::Fetcher`), so no
    // request hangs; the cached path sets no timer at all.
    let verified = match v.cached(resolution, token.as_bytes()) {
        Some(hit) => hit,
        None if json_serialization_let_through(v, token.as_bytes()) => {
            let text = std::str::from_utf8(token.as_bytes())
                .map_err(|_| AuthError::invalid_token("malformed bearer token"))?;
            v.validate_uncached(resolution, text).await?
        }
        None => v.validate_uncached(resolution, token.checked()?).await?,
    };
    Ok(verified)
}
