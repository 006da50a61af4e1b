//! The `wiremock` feature: a flavor's discovery and JWKS mounted on the user's own
//! `MockServer`, with genuine tokens minted by library call. Run with
//! `cargo test -p mock-idp --features wiremock`.
#![cfg(feature = "wiremock")]

mod common;

use common::verify;
use mock_idp::wiremock_support::{self, mocks, tenant_for};
use mock_idp::{Fault, Faults, Flavor, RotationStep, TenantSpec};
use serde_json::Value;

async fn get(url: &str) -> reqwest::Response {
    reqwest::Client::new().get(url).send().await.expect("send")
}

#[tokio::test]
async fn mounted_tenant_serves_discovery_and_jwks_that_verify_its_tokens() {
    let server = wiremock::MockServer::start().await;
    let tenant = tenant_for(
        &server,
        &TenantSpec::new("contoso", Flavor::EntraV2).roles(["admin"]),
    )
    .unwrap();
    assert!(tenant.issuer().starts_with(&server.uri()));
    let m = mocks(&tenant);
    m.discovery.expect(1).mount(&server).await;
    m.jwks.expect(1).mount(&server).await;

    let disco: Value = get(&format!("{}{}", server.uri(), tenant.discovery_path()))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(disco["issuer"], tenant.issuer());
    let jwks_uri = disco["jwks_uri"].as_str().unwrap();
    assert_eq!(jwks_uri, tenant.jwks_url());
    let jwks: Value = get(jwks_uri).await.json().await.unwrap();
    let claims = verify(
        &tenant.access_token(),
        &jwks,
        tenant.issuer(),
        tenant.audience(),
    );
    assert_eq!(claims["roles"][0], "admin");
    assert_eq!(tenant.traffic().jwks, 1);
    // `.expect(1)` is checked here: exactly one discovery and one JWKS fetch.
    server.verify().await;
}

#[tokio::test]
async fn mounted_mocks_follow_the_live_tenant() {
    let server = wiremock::MockServer::start().await;
    let tenant = wiremock_support::mount(&server, Flavor::Okta, "initech").await;
    assert_eq!(
        tenant.issuer(),
        format!("{}/initech/oauth2/default", server.uri())
    );
    // RFC 8414 metadata is mounted for Okta too.
    assert_eq!(
        get(&format!(
            "{}{}",
            server.uri(),
            tenant.oauth_metadata_path().unwrap()
        ))
        .await
        .status(),
        200
    );
    tenant.rotate(RotationStep::PublishNext);
    let jwks: Value = get(&tenant.jwks_url()).await.json().await.unwrap();
    assert_eq!(
        jwks["keys"].as_array().unwrap().len(),
        2,
        "rotation shows on the next fetch"
    );
    tenant.set_faults(Faults {
        jwks: Some(Fault::Status { status: 503 }),
        ..Faults::default()
    });
    assert_eq!(get(&tenant.jwks_url()).await.status(), 503);
    tenant.clear_faults();
    assert_eq!(get(&tenant.jwks_url()).await.status(), 200);
    // A path the tenant does not serve is wiremock's 404.
    assert_eq!(get(&format!("{}/nope", server.uri())).await.status(), 404);
    // Flavors with the shared Entra `common` document mount that document.
    let common = wiremock_support::mount(&server, Flavor::EntraCommon, "fabrikam").await;
    let disco: Value = get(&common.discovery_url()).await.json().await.unwrap();
    assert!(disco["issuer"]
        .as_str()
        .unwrap()
        .ends_with("/{tenantid}/v2.0"));
    let jwks: Value = get(&common.jwks_url()).await.json().await.unwrap();
    verify(
        &common.access_token(),
        &jwks,
        common.issuer(),
        common.audience(),
    );
}
