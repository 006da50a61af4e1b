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
use byoid_reference::{manifest::Manifest, AuthError, Config, Validator};

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
    let env = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
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
        Ok::<_, String>((listener, Config::new(manifest)))
    };
    match setup.await {
        Ok((listener, config)) => match axum::serve(listener, app(config)).await {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("orders-api: {e}");
                std::process::ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("orders-api: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
