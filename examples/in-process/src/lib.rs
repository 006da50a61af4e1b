//! An example validator crate: [`app`] is its axum [`Router`], built from byoid's manifest
//! (contract section 2) the way a real service builds one from its tenant configuration.
//! `tests/conformance.rs` runs byoid's catalog against it in process, from `cargo test`.
//!
//! ```
//! let manifest = serde_json::json!({
//!     "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
//!     "tenants": []
//! });
//! let router: axum::Router = byoid_example_in_process::app(&manifest);
//! # let _ = router;
//! ```

use axum::Router;
use byoid_reference::{manifest::Manifest, Config};

/// The service: `/healthz`, `/api/whoami` and `/api/admin`, validating tokens of the
/// manifest's tenants. A manifest it cannot read gives a router that answers 503 on every
/// route, so the harness reports a target that never became ready instead of a panic.
pub fn app(manifest: &serde_json::Value) -> Router {
    match Manifest::from_json(&manifest.to_string()) {
        Ok(m) => byoid_reference::app(Config::new(m)),
        Err(e) => {
            let why = format!("cannot read the manifest: {e}");
            Router::new().fallback(move || async move {
                (axum::http::StatusCode::SERVICE_UNAVAILABLE, why.clone())
            })
        }
    }
}
