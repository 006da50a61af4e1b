//! The router driven in-process with `tower::ServiceExt::oneshot` (no socket).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use byoid_reference::{app, manifest::Manifest, Config};
use http_body_util::BodyExt;
use tower::ServiceExt;

fn config() -> Config {
    Config::new(
        Manifest::from_json(
            r#"{"tenant_source":{"kind":"header","header":"X-Tenant-Slug"},
                "tenants":[{"slug":"contoso",
                  "metadata_address":"http://127.0.0.1:9/contoso/.well-known/openid-configuration",
                  "valid_audiences":["api://byoid-resource"]}]}"#,
        )
        .unwrap(),
    )
}

async fn call(req: Request<Body>) -> (StatusCode, Option<String>, String) {
    let resp = app(config()).oneshot(req).await.unwrap();
    let status = resp.status();
    let challenge = resp
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, challenge, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn healthz_needs_no_credentials() {
    let (status, challenge, _) = call(Request::get("/healthz").body(Body::empty()).unwrap()).await;
    assert_eq!((status, challenge), (StatusCode::OK, None));
}

#[tokio::test]
async fn no_credentials_is_a_bare_challenge() {
    let (status, challenge, _) =
        call(Request::get("/api/whoami").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="byoid""#));
}

#[tokio::test]
async fn unreachable_idp_fails_closed_without_leaking() {
    let req = Request::get("/api/admin")
        .header("X-Tenant-Slug", "contoso")
        .header(
            "Authorization",
            "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.AAAA",
        )
        .body(Body::empty())
        .unwrap();
    let (status, challenge, body) = call(req).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(challenge.unwrap().contains(r#"error="invalid_token""#));
    assert_eq!(body, r#"{"error":"invalid_token"}"#);
}

#[tokio::test]
async fn oversized_form_body_is_refused_not_crashed() {
    let req = Request::post("/api/whoami")
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(Body::from(vec![b'a'; 200_000]))
        .unwrap();
    let (status, _, _) = call(req).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

/// The `error_description` of a bearer request to `path` on a path-source router.
async fn path_source_description(path: &str) -> String {
    let config = Config::new(
        Manifest::from_json(
            r#"{"tenant_source":{"kind":"path"},
                "tenants":[{"slug":"contoso",
                  "metadata_address":"http://127.0.0.1:9/contoso/.well-known/openid-configuration",
                  "valid_audiences":["api://byoid-resource"]}]}"#,
        )
        .unwrap(),
    );
    let req = Request::get(path)
        .header(
            "Authorization",
            "Bearer eyJhbGciOiJSUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJ4In0.AAAA",
        )
        .body(Body::empty())
        .unwrap();
    let resp = app(config).oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{path}");
    let challenge = resp.headers()["www-authenticate"].to_str().unwrap();
    let (_, description) = challenge.split_once("error_description=").unwrap();
    description.trim_matches('"').to_owned()
}

#[tokio::test]
async fn a_path_slug_is_percent_decoded_once() {
    // `%63` is `c`: the configured tenant, whose IdP is unreachable.
    assert_ne!(
        path_source_description("/%63ontoso/api/whoami").await,
        "unknown tenant"
    );
    // `%2563` decodes to the text `%63`, not to `c` a second time.
    assert_eq!(
        path_source_description("/%2563ontoso/api/whoami").await,
        "unknown tenant"
    );
    // Not UTF-8 once decoded: a slug no tenant has.
    assert_eq!(
        path_source_description("/%FFcontoso/api/whoami").await,
        "unknown tenant"
    );
}
