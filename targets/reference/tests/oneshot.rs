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
