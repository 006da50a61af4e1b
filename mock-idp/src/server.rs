//! The HTTP side: one listener serves many tenants, each under its own paths, plus the admin
//! API under `/_admin/`. Routing is a single hash lookup on the path so tenants can be added
//! while running and the JWKS path stays cheap under load.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Value};

use crate::flavor::{Flavor, TokenKind};
use crate::journal::{Endpoint, Journal};
use crate::registry::TenantRegistry;
use crate::tenant::{
    Fault, Faults, MintOptions, Quirks, RotationStep, Tenant, TenantInner, TenantSpec,
};
use crate::tls::TlsListener;

/// The most connections served at once; more wait in the listen backlog.
pub const MAX_CONNECTIONS: usize = 512;
/// How long a client may take to send a request's head before its connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// State shared by the handlers of one listener.
pub(crate) struct Shared {
    /// The tenants this listener serves.
    pub registry: TenantRegistry,
    /// Shared with the listeners of own-listener tenants.
    pub journal: Arc<Journal>,
    /// When set, admin requests must carry `Authorization: Bearer <token>`.
    pub admin_token: Option<String>,
    /// How long a client may take to send a request head.
    pub header_read_timeout: Duration,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base", &self.registry.base)
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The state of a listener serving `registry`, with a journal of `journal_capacity`
    /// entries, no admin token and the default header timeout.
    pub(crate) fn new(registry: TenantRegistry, journal_capacity: usize) -> Self {
        Shared {
            registry,
            journal: Arc::new(Journal::new(journal_capacity)),
            admin_token: None,
            header_read_timeout: HEADER_READ_TIMEOUT,
        }
    }

    /// The state of an own-listener tenant's listener at `base`: it shares this listener's
    /// seed, key rings, journal and admin settings, and has routes of its own.
    pub(crate) fn sibling(&self, base: String) -> Self {
        Shared {
            registry: self.registry.sibling(base),
            journal: self.journal.clone(),
            admin_token: self.admin_token.clone(),
            header_read_timeout: self.header_read_timeout,
        }
    }
}

/// A listener being served. Dropping it aborts the serving; [`Listening::stop`] also waits
/// until the listener is closed.
#[derive(Debug)]
pub(crate) struct Listening {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listening {
    /// Stops serving and returns once the listening socket and every connection it accepted
    /// are closed.
    pub(crate) async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            // A send fails only when the server is gone already, which is what is wanted.
            let _ = stop.send(());
        }
        // The task's end is the news; a panic in it has been reported by the runtime.
        let _ = (&mut self.task).await;
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `shared` on `listener`, over TLS when an acceptor is given.
pub(crate) fn spawn_server(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    acceptor: Option<&tokio_rustls::TlsAcceptor>,
) -> std::io::Result<Listening> {
    let header_timeout = shared.header_read_timeout;
    let router = router(shared);
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let task = match acceptor {
        None => tokio::spawn(serve_bounded(listener, router, header_timeout, stopped)),
        Some(acceptor) => {
            let listener = TlsListener::new(listener, acceptor.clone())?;
            tokio::spawn(serve_bounded(listener, router, header_timeout, stopped))
        }
    };
    Ok(Listening {
        stop: Some(stop),
        task,
    })
}

/// Serves `router` on `listener` with a bounded number of connections, each closed when a
/// request head does not arrive within `header_timeout`: half-sent requests cannot pile up
/// (axum's own `serve` bounds neither). Returns when `stop` fires (or its sender is
/// dropped), after closing the listener and every connection.
async fn serve_bounded<L>(
    mut listener: L,
    router: axum::Router,
    header_timeout: Duration,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) where
    L: axum::serve::Listener,
    L::Io: Send + 'static,
{
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    // Connections live in this set, so that stopping the server ends them too, kept-alive
    // ones included.
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let next = async {
            let slot = slots.clone().acquire_owned().await.ok()?;
            let (io, _) = listener.accept().await;
            Some((slot, io))
        };
        let (slot, io) = tokio::select! {
            _ = &mut stop => break,
            next = next => match next {
                Some(next) => next,
                None => break,
            },
        };
        while connections.try_join_next().is_some() {}
        let service = hyper_util::service::TowerToHyperService::new(router.clone());
        connections.spawn(async move {
            let _slot = slot;
            // A broken connection ends only itself.
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(hyper_util::rt::TokioIo::new(io), service)
                .await;
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// The router of one listener.
pub(crate) fn router(shared: Arc<Shared>) -> axum::Router {
    axum::Router::new().fallback(dispatch).with_state(shared)
}

async fn dispatch(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    // A clone of the URI shares its bytes: no copy of the path on the serving path.
    let uri = req.uri().clone();
    let path = uri.path();
    if let Some(rest) = path.strip_prefix("/_admin/") {
        let rest = rest.to_string();
        return admin(shared, req, &rest).await;
    }
    let Some(route) = shared.registry.route(path) else {
        match shared.registry.catch_all() {
            Some(t) => {
                shared.journal.record(&t.slug, Endpoint::Other, path);
                t.counters.bump(Endpoint::Other);
                // Any `.../jwks` path on the attacker host serves its keys, so each case can
                // give a URL of its own and find its own requests in the journal.
                if path.ends_with("/jwks") || path.ends_with("/jwks.json") {
                    let mut r = Response::new(Body::from(t.jwks_bytes()));
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    return r;
                }
            }
            None => shared.journal.record("unmatched", Endpoint::Other, path),
        }
        return json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"}));
    };
    shared
        .journal
        .record_known(&route.name, route.endpoint, &route.path);
    let tenant = route.tenant;
    tenant.counters.bump(route.endpoint);
    if let Some(t) = shared.registry.catch_all() {
        if !Arc::ptr_eq(t, &tenant) {
            t.counters.bump(Endpoint::Other);
        }
    }
    let faults = tenant.faults();
    match route.endpoint {
        Endpoint::Discovery | Endpoint::OauthMetadata => {
            if let Some(r) = apply_fault(faults.discovery.as_ref(), false).await {
                return r;
            }
            json_response(StatusCode::OK, &tenant.discovery_json())
        }
        Endpoint::Jwks => {
            if let Some(r) = apply_fault(faults.jwks.as_ref(), true).await {
                return r;
            }
            let mut resp = Response::new(Body::from(tenant.jwks_bytes()));
            let headers = resp.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            let max_age = tenant
                .quirks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .jwks_max_age;
            if let Some(age) = max_age {
                if let Ok(v) = HeaderValue::from_str(&format!("public, max-age={age}")) {
                    headers.insert(header::CACHE_CONTROL, v);
                }
            }
            resp
        }
        Endpoint::Token => {
            if let Some(r) = apply_fault(faults.token.as_ref(), false).await {
                return r;
            }
            token_endpoint(&tenant, req).await
        }
        Endpoint::Other => json_response(StatusCode::NOT_FOUND, &json!({"error": "not_found"})),
    }
}

async fn apply_fault(fault: Option<&Fault>, is_jwks: bool) -> Option<Response> {
    match fault? {
        Fault::Status { status } => {
            let status = StatusCode::from_u16(*status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some(json_response(
                status,
                &json!({"error": "server_error", "error_description": "injected fault"}),
            ))
        }
        Fault::Delay { ms } => {
            tokio::time::sleep(Duration::from_millis((*ms).min(60_000))).await;
            None
        }
        Fault::MalformedJson => {
            let mut r = Response::new(Body::from("{\"keys\": [ {\"kty\": \"RSA\", <html>oops"));
            r.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            Some(r)
        }
        Fault::EmptyKeySet if is_jwks => Some(json_response(StatusCode::OK, &json!({"keys": []}))),
        Fault::EmptyKeySet => None,
        Fault::Reset => Some(Response::new(Body::new(FailingBody))),
    }
}

/// A body that fails on first poll: hyper then drops the connection mid-response, which a
/// client sees as a reset.
struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "injected reset",
        ))))
    }
}

pub(crate) fn json_response(status: StatusCode, value: &Value) -> Response {
    let mut r = (status, value.to_string()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json; charset=utf-8"),
    );
    r
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut r = json_response(
        status,
        &json!({"error": error, "error_description": description}),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// OAuth 2.0 client credentials (RFC 6749 section 4.4) with RFC 6749 section 5.2 errors.
async fn token_endpoint(tenant: &TenantInner, req: Request) -> Response {
    if req.method() != Method::POST {
        return oauth_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "the token endpoint accepts POST only",
        );
    }
    let basic = basic_credentials(req.headers());
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "request body too large",
        );
    };
    let form: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let Some(grant) = get("grant_type") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing grant_type",
        );
    };
    let post = get("client_id").zip(get("client_secret"));
    let (id, secret) = match (&basic, post) {
        (Some(_), Some(_)) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "more than one client authentication method",
            );
        }
        (Some((i, s)), None) => (i.clone(), s.clone()),
        (None, Some((i, s))) => (i.to_string(), s.to_string()),
        (None, None) => {
            return oauth_error(
                StatusCode::UNAUTHORIZED,
                "invalid_client",
                "client authentication failed",
            )
        }
    };
    let Some(client) = tenant
        .clients
        .iter()
        .find(|c| c.id == id && c.secret == secret)
    else {
        let mut r = oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        );
        if basic.is_some() {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"token\""),
            );
        }
        return r;
    };
    if grant != "client_credentials" {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "only client_credentials is supported",
        );
    }
    let scope = get("scope").unwrap_or("");
    let audience = tenant.audience.as_str();
    let mut scopes = Vec::new();
    match tenant.flavor {
        Flavor::EntraV2 | Flavor::EntraCommon | Flavor::EntraV1 => {
            let ok = scope.strip_suffix("/.default").is_some_and(|r| {
                r == audience
                    || r == format!("api://{audience}")
                    || r.trim_end_matches('/') == audience.trim_end_matches('/')
            }) || (tenant.flavor == Flavor::EntraV1 && get("resource") == Some(audience));
            if !ok {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    &format!(
                        "the scope must be `{audience}/.default` for the client credentials flow"
                    ),
                );
            }
        }
        Flavor::Auth0 => {
            if get("audience") != Some(audience) {
                return oauth_error(
                    StatusCode::FORBIDDEN,
                    "access_denied",
                    "Service not found for the given audience",
                );
            }
        }
        Flavor::Okta | Flavor::Generic => {
            for s in scope.split(' ').filter(|s| !s.is_empty()) {
                if !["api.read", "api.write"].contains(&s) {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_scope",
                        "one or more scopes are not configured",
                    );
                }
                scopes.push(s.to_string());
            }
        }
    }
    let opts = MintOptions {
        client_id: Some(client.id.clone()),
        scopes,
        ..MintOptions::default()
    };
    let parts = tenant.parts(&opts);
    let expires_in = parts.claims.get("exp").and_then(Value::as_i64).unwrap_or(0)
        - parts.claims.get("iat").and_then(Value::as_i64).unwrap_or(0);
    let mut out =
        json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": parts.compact()});
    if tenant.flavor.is_entra() {
        out["ext_expires_in"] = json!(expires_in);
    }
    let mut r = json_response(StatusCode::OK, &out);
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, rest) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(rest.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    // RFC 6749 section 2.3.1: both parts are form-urlencoded before joining.
    let unescape = |s: &str| {
        serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
            .ok()
            .and_then(|v| v.into_iter().next())
            .map(|(_, v)| v)
            .unwrap_or_else(|| s.to_string())
    };
    Some((unescape(id), unescape(secret)))
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RotateBody {
    step: RotationStep,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    #[serde(default = "default_kind")]
    kind: String,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    roles: Option<Vec<String>>,
    #[serde(default)]
    scopes: Vec<String>,
}

fn default_kind() -> String {
    "app".into()
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AddTenantBody {
    slug: String,
    flavor: Flavor,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    key_ring: Option<String>,
}

/// `POST /_admin/tenants`: the tenant and its first signing key are made on the blocking pool
/// (an RSA key takes a good part of a second of CPU), so discovery and JWKS answers of the
/// other tenants do not wait behind it.
async fn add_tenant(shared: Arc<Shared>, body: &[u8]) -> Result<Value, AdminError> {
    let b: AddTenantBody = parse(body)?;
    let mut spec = TenantSpec::new(b.slug, b.flavor).roles(b.roles);
    if let Some(r) = b.key_ring {
        spec = spec.key_ring(r);
    }
    tokio::task::spawn_blocking(move || {
        let t = shared
            .registry
            .add_tenant(&spec)
            .map_err(AdminError::bad_request)?;
        drop(t.active_key());
        Ok(describe(&t))
    })
    .await
    .unwrap_or_else(|e| {
        Err(AdminError::bad_request(format!(
            "adding the tenant failed: {e}"
        )))
    })
}

/// Why an admin request failed: answered as `{"error": message}` with `status`.
struct AdminError {
    status: StatusCode,
    message: String,
}

impl AdminError {
    fn bad_request(message: impl std::fmt::Display) -> Self {
        AdminError {
            status: StatusCode::BAD_REQUEST,
            message: message.to_string(),
        }
    }
    fn not_found(message: String) -> Self {
        AdminError {
            status: StatusCode::NOT_FOUND,
            message,
        }
    }
    fn into_response(self) -> Response {
        json_response(self.status, &json!({"error": self.message}))
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AdminError> {
    serde_json::from_slice(body)
        .map_err(|e| AdminError::bad_request(format!("invalid JSON body: {e}")))
}

/// Describes a tenant for the admin API and `byoid idp serve`.
pub(crate) fn describe(t: &Tenant) -> Value {
    json!({
        "slug": t.slug(),
        "flavor": t.flavor(),
        "tenant_id": t.tenant_key(),
        "issuer": t.issuer(),
        "discovery_url": t.discovery_url(),
        "jwks_url": t.jwks_url(),
        "token_url": t.token_url(),
        "audience": t.audience(),
        "clients": t.clients(),
    })
}

/// Whether an admin request may be served: its `Host` is a loopback name (a web page that a
/// DNS name rebound to 127.0.0.1 sends its own host name), a body it carries is declared
/// `application/json` (which a cross-site form or `fetch` cannot send without a preflight that
/// nothing here answers), and it carries the admin token when one is set.
fn admin_refusal(shared: &Shared, req: &Request) -> Option<AdminError> {
    let header = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    let host = header(header::HOST);
    let name = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.split(':').next().unwrap_or(""),
    };
    let loopback = name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Some(AdminError {
            status: StatusCode::FORBIDDEN,
            message: format!("the admin API answers only loopback Host names, not `{host}`"),
        });
    }
    if let Some(token) = &shared.admin_token {
        let given = header(header::AUTHORIZATION).strip_prefix("Bearer ");
        if given != Some(token.as_str()) {
            return Some(AdminError {
                status: StatusCode::UNAUTHORIZED,
                message:
                    "the admin API needs `Authorization: Bearer <admin token>` (printed at start)"
                        .into(),
            });
        }
    }
    let writes = matches!(*req.method(), Method::POST | Method::PUT);
    let json = header(header::CONTENT_TYPE)
        .split(';')
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"));
    if writes && !json {
        return Some(AdminError {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            message: "admin requests with a body must be `Content-Type: application/json`".into(),
        });
    }
    None
}

/// The admin API: inspect and steer tenants while running. Answers 400 with a reason.
async fn admin(shared: Arc<Shared>, req: Request, rest: &str) -> Response {
    if let Some(refusal) = admin_refusal(&shared, &req) {
        return refusal.into_response();
    }
    let method = req.method().clone();
    let Ok(body) = axum::body::to_bytes(req.into_body(), 64 * 1024).await else {
        return AdminError::bad_request("body too large").into_response();
    };
    if method == Method::POST && rest == "tenants" {
        return match add_tenant(shared, &body).await {
            Ok(v) => json_response(StatusCode::OK, &v),
            Err(e) => e.into_response(),
        };
    }
    let parts: Vec<&str> = rest.split('/').collect();
    let result: Result<Value, AdminError> = (|| match (method.as_str(), parts.as_slice()) {
        ("GET", ["tenants"]) => Ok(Value::Array(
            shared.registry.tenants().iter().map(describe).collect(),
        )),
        ("GET", ["journal"]) => {
            Ok(serde_json::to_value(shared.journal.recent()).unwrap_or_default())
        }
        (m, ["tenants", slug, what]) => {
            let t = shared
                .registry
                .tenant(slug)
                .ok_or_else(|| AdminError::not_found(format!("no tenant `{slug}`")))?;
            match (m, *what) {
                ("GET", "quirks") => Ok(serde_json::to_value(t.quirks()).unwrap_or_default()),
                ("PUT", "quirks") => {
                    let q: Quirks = parse(&body)?;
                    if let Some(alg) = &q.alg {
                        if !Tenant::supported_algs().contains(&alg.as_str()) {
                            return Err(AdminError::bad_request(format!(
                                "unsupported alg `{alg}` (supported: {})",
                                Tenant::supported_algs().join(", ")
                            )));
                        }
                    }
                    t.set_quirks(q);
                    Ok(serde_json::to_value(t.quirks()).unwrap_or_default())
                }
                ("GET", "faults") => Ok(serde_json::to_value(t.faults()).unwrap_or_default()),
                ("PUT", "faults") => {
                    let f: Faults = parse(&body)?;
                    t.set_faults(f);
                    Ok(serde_json::to_value(t.faults()).unwrap_or_default())
                }
                ("POST", "rotate") => {
                    let b: RotateBody = parse(&body)?;
                    Ok(serde_json::to_value(t.rotate(b.step)).unwrap_or_default())
                }
                ("GET", "keys") => Ok(serde_json::to_value(t.key_statuses()).unwrap_or_default()),
                ("GET", "traffic") => Ok(serde_json::to_value(t.traffic()).unwrap_or_default()),
                ("POST", "tokens") => {
                    let b: MintBody = parse(&body)?;
                    let kind = match b.kind.as_str() {
                        "app" => TokenKind::AppAccess,
                        "user" => TokenKind::UserAccess,
                        "id_token" => TokenKind::IdToken {
                            nonce: b.nonce.unwrap_or_else(|| "n-0S6_WzA2Mj".into()),
                            access_token: None,
                        },
                        other => {
                            return Err(AdminError::bad_request(format!(
                                "unknown token kind `{other}` (known: app, user, id_token)"
                            )))
                        }
                    };
                    let token = t.mint(&MintOptions {
                        kind,
                        roles: b.roles,
                        scopes: b.scopes,
                        ..MintOptions::default()
                    });
                    Ok(json!({"token": token}))
                }
                _ => Err(AdminError::not_found(format!(
                    "no admin route {m} /_admin/{rest}"
                ))),
            }
        }
        _ => Err(AdminError::not_found(format!(
            "no admin route {method} /_admin/{rest}"
        ))),
    })();
    match result {
        Ok(v) => json_response(StatusCode::OK, &v),
        Err(e) => e.into_response(),
    }
}
