//! `orders-api`: a small API with routes of its own, as a team's existing service would have:
//! `GET /health` and `GET /v1/orders/{id}`, the tenant named by whatever the manifest's
//! `tenant_source` says. It has no `/api/whoami`, no admin route, no claim mappings and no
//! form-body tokens. Its token checks are the reference validator's, used as a library
//! ([`byoid_reference::authenticate`]), so every case it can be asked passes; byoid reaches it
//! through `orders.profile.toml`, which maps the contract onto these routes and declares what
//! it lacks (those cases are reported as not applicable).
//!
//! ```text
//! BYOID_MANIFEST=manifest.json BYOID_PORT=8080 orders-api
//! byoid scenarios --profile targets/orders-api/orders.profile.toml \
//!       --target-cmd target/debug/orders-api
//! ```

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use byoid_reference::api_request::ApiRequest;
use byoid_reference::{AuthError, Config, Validator};

/// The one order every tenant has: the profile asks for it, so an accepted token gets 200.
const KNOWN_ORDER: &str = "42";

async fn order(
    State(v): State<Arc<Validator>>,
    Path(id): Path<String>,
    req: Result<ApiRequest, AuthError>,
) -> Response {
    let verified = match req {
        Ok(req) => byoid_reference::authenticate(&v, req).await,
        Err(e) => Err(e),
    };
    let verified = match verified {
        Ok(verified) => verified,
        Err(e) => return byoid_reference::refusal(&v, e),
    };
    if id != KNOWN_ORDER {
        return (
            StatusCode::NOT_FOUND,
            Json(serde_json::json!({"error": "no such order"})),
        )
            .into_response();
    }
    // Like most APIs, it shows its own data, not the token: byoid cannot see claims here.
    let placed_by = verified.claims.value("sub").unwrap_or_default();
    Json(serde_json::json!({
        "order": {"id": id, "item": "a box of tokens", "placed_by": placed_by}
    }))
    .into_response()
}

fn app(config: Config) -> Router {
    Router::new()
        .route("/health", get(|| async { "ok" }))
        .route("/v1/orders/{id}", get(order))
        .with_state(Arc::new(Validator::new(config)))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    byoid_reference::serve_from_env("orders-api", |manifest| app(Config::new(manifest))).await
}
