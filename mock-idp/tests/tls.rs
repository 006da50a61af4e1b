//! HTTPS (a CA made at start, trusted by nobody but the test) and tenants on listeners of
//! their own, over real connections on loopback.

mod common;

use common::{send_json, verify};
use mock_idp::{Flavor, MockIdp, Tenant, TenantSpec};
use serde_json::Value;

/// A client that trusts only `ca_pem` (no built-in roots).
fn trusting(ca_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(ca_pem.as_bytes()).expect("CA PEM"))
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .expect("client")
}

fn plain() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get_json(c: &reqwest::Client, url: &str) -> Value {
    let r = c
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.expect("json")
}

/// Client credentials with the flavor's way of naming the API; returns the access token.
async fn token(c: &reqwest::Client, t: &Tenant) -> String {
    let cl = &t.clients()[0];
    let mut form = vec![
        ("grant_type", "client_credentials".to_string()),
        ("client_id", cl.id.clone()),
        ("client_secret", cl.secret.clone()),
    ];
    match t.flavor() {
        f if f.is_entra() => form.push(("scope", format!("{}/.default", t.audience()))),
        Flavor::Auth0 => form.push(("audience", t.audience().to_string())),
        _ => form.push(("scope", "api.read".into())),
    }
    let r = c
        .post(t.token_url())
        .form(&form)
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), 200);
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Discovery, JWKS and the token endpoint of `t` through `c`; the token verifies.
async fn round_trip(c: &reqwest::Client, t: &Tenant) {
    let disco = get_json(c, &t.discovery_url()).await;
    assert_eq!(disco["jwks_uri"], t.jwks_url().as_str());
    assert!(disco["token_endpoint"]
        .as_str()
        .unwrap()
        .starts_with("https://"));
    let jwks = get_json(c, disco["jwks_uri"].as_str().unwrap()).await;
    let token = token(c, t).await;
    verify(&token, &jwks, t.issuer(), t.audience());
}

#[tokio::test]
async fn https_serves_clients_that_trust_the_ca_and_only_those() {
    let idp = MockIdp::builder()
        .seed(11)
        .tls()
        .tenant(TenantSpec::new("contoso", Flavor::EntraV2).roles(["admin"]))
        .tenant(TenantSpec::new("initech", Flavor::Okta).own_listener())
        .start()
        .await
        .expect("start");
    assert!(idp.uri().starts_with("https://127.0.0.1:"), "{}", idp.uri());
    assert!(idp.attacker().uri().starts_with("https://"));
    let pem_path = idp.ca_pem_path().expect("CA file").to_path_buf();
    assert!(idp.ca_pem().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(std::fs::read_to_string(&pem_path).unwrap(), idp.ca_pem());

    let c = trusting(idp.ca_pem());
    let contoso = idp.tenant("contoso").unwrap();
    assert!(contoso.issuer().starts_with("https://"));
    round_trip(&c, &contoso).await;
    // The own-listener tenant and the attacker host use the same CA.
    let initech = idp.tenant("initech").unwrap();
    assert!(initech.issuer().starts_with("https://") && !initech.issuer().starts_with(idp.uri()));
    round_trip(&c, &initech).await;
    get_json(&c, &idp.attacker().jwks_url()).await;
    // The certificate names `localhost` too.
    let via_name = contoso.jwks_url().replace("127.0.0.1", "localhost");
    get_json(&c, &via_name).await;
    assert_eq!(contoso.traffic().jwks, 2);

    // A client with the usual roots but not this CA refuses the server, as does plain HTTP.
    let err = plain()
        .get(contoso.jwks_url())
        .send()
        .await
        .expect_err("untrusted certificate");
    assert!(err.is_connect(), "{err:?}");
    let http = contoso.jwks_url().replace("https://", "http://");
    assert!(!plain()
        .get(&http)
        .send()
        .await
        .map(|r| r.status().is_success())
        .unwrap_or(false));
    // A client trusting another IdP's CA refuses too (each start makes a fresh CA).
    let other = MockIdp::builder().tls().start().await.unwrap();
    assert_ne!(other.ca_pem(), idp.ca_pem());
    assert!(trusting(other.ca_pem())
        .get(contoso.jwks_url())
        .send()
        .await
        .is_err());
    // The server still answers after failed handshakes.
    get_json(&c, &contoso.jwks_url()).await;

    drop(idp);
    assert!(!pem_path.exists(), "the CA file goes with the IdP");
}

#[tokio::test]
async fn plain_http_has_no_ca() {
    let idp = MockIdp::builder().start().await.unwrap();
    assert!(idp.uri().starts_with("http://"));
    assert_eq!(idp.ca_pem(), "");
    assert!(idp.ca_pem_path().is_none());
}

#[tokio::test]
async fn own_listener_tenants_get_their_own_origin() {
    let idp = MockIdp::builder()
        .seed(11)
        .tenant(TenantSpec::new("shared", Flavor::Generic))
        .tenant(TenantSpec::new("alone", Flavor::Generic).own_listener())
        .tenant(TenantSpec::new("entra-alone", Flavor::EntraV2).own_listener())
        .tenant(TenantSpec::new("entra-main", Flavor::EntraV2))
        .start()
        .await
        .unwrap();
    let c = plain();
    let shared = idp.tenant("shared").unwrap();
    let alone = idp.tenant("alone").unwrap();
    assert!(shared.issuer().starts_with(idp.uri()));
    assert!(alone.issuer().starts_with("http://127.0.0.1:"));
    assert_ne!(alone.base_url(), idp.uri());
    assert!(alone.discovery_url().starts_with(alone.base_url()));
    let disco = get_json(&c, &alone.discovery_url()).await;
    assert_eq!(disco["issuer"], alone.issuer());
    let jwks = get_json(&c, &alone.jwks_url()).await;
    verify(
        &token(&c, &alone).await,
        &jwks,
        alone.issuer(),
        alone.audience(),
    );
    assert_eq!(
        (
            alone.traffic().discovery,
            alone.traffic().jwks,
            alone.traffic().token
        ),
        (1, 1, 1)
    );
    // Its paths exist on its own listener only.
    let on_main = format!("{}{}", idp.uri(), alone.jwks_path());
    assert_eq!(c.get(&on_main).send().await.unwrap().status(), 404);
    // The IdP's journal and admin API see it.
    assert_eq!(idp.journal().entries_for("alone", 0).len(), 3);
    let listed = send_json(c.get(format!("{}/_admin/tenants", idp.uri()))).await;
    assert!(listed
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["slug"] == "alone" && t["issuer"] == alone.issuer()));
    // An own-listener Entra tenant still shares Microsoft's keys with the others.
    let (ea, em) = (
        idp.tenant("entra-alone").unwrap(),
        idp.tenant("entra-main").unwrap(),
    );
    assert_ne!(ea.base_url(), em.base_url());
    assert_eq!(ea.active_key().kid(), em.active_key().kid());
    verify(
        &ea.access_token(),
        &get_json(&c, &ea.jwks_url()).await,
        ea.issuer(),
        ea.audience(),
    );

    // Added while running, and slugs stay unique across listeners.
    let late = idp
        .add_tenant(TenantSpec::new("late", Flavor::Auth0).own_listener())
        .unwrap();
    assert_ne!(late.base_url(), alone.base_url());
    get_json(&c, &late.discovery_url()).await;
    assert!(idp
        .add_tenant(TenantSpec::new("alone", Flavor::Okta))
        .is_err());
    assert!(idp
        .add_tenant(TenantSpec::new("shared", Flavor::Okta).own_listener())
        .is_err());

    // Stopping the IdP stops the own listeners too; `stop` returns once they are closed.
    let url = alone.jwks_url();
    idp.stop().await;
    assert!(c.get(&url).send().await.is_err(), "own listener stopped");
}

/// Sends a GET for `path` on `stream` and reads the whole answer, leaving the connection
/// open (HTTP/1.1 keeps it alive).
async fn get_kept_alive(stream: &mut tokio::net::TcpStream, path: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    loop {
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap();
        assert!(n > 0, "closed before answering");
        answer.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&answer);
        let Some((head, body)) = text.split_once("\r\n\r\n") else {
            continue;
        };
        let length = head.lines().find_map(|l| {
            let l = l.to_ascii_lowercase();
            l.strip_prefix("content-length:")
                .map(|v| v.trim().parse::<usize>().unwrap())
        });
        if body.len() >= length.expect("a Content-Length") {
            return;
        }
    }
}

/// `stop` returns only once every listener is closed and every kept-alive connection has
/// ended, over TLS and plain HTTP alike. The checks right after it are synchronous (a
/// blocking connect, a non-blocking read), so the runtime gets no turn in which a stop that
/// had not finished could finish late.
#[tokio::test]
async fn stop_returns_once_every_listener_is_closed() {
    use std::io::Read;
    let idp = MockIdp::builder()
        .tls()
        .tenant(TenantSpec::new("main", Flavor::Generic))
        .tenant(TenantSpec::new("alone", Flavor::Generic).own_listener())
        .tenant(TenantSpec::new("plain", Flavor::Generic).plain_http())
        .start()
        .await
        .unwrap();
    let c = trusting(idp.ca_pem());
    let urls: Vec<String> = ["main", "alone", "plain"]
        .iter()
        .map(|slug| idp.tenant(slug).unwrap().jwks_url())
        .chain([idp.attacker().jwks_url()])
        .collect();
    // The client keeps a connection to each listener alive.
    for url in &urls {
        get_json(&c, url).await;
    }
    let addrs: Vec<String> = urls
        .iter()
        .map(|u| u.split('/').nth(2).unwrap().to_string())
        .collect();
    let plain = idp.tenant("plain").unwrap();
    let mut kept = tokio::net::TcpStream::connect(&addrs[2]).await.unwrap();
    get_kept_alive(&mut kept, plain.jwks_path()).await;

    idp.stop().await;
    for addr in &addrs {
        assert!(
            std::net::TcpStream::connect(addr).is_err(),
            "{addr} still listens"
        );
    }
    let kept = kept.into_std().unwrap(); // non-blocking, as tokio left it
    match (&kept).read(&mut [0u8; 1]) {
        Ok(0) => {}
        Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {}
        other => panic!("the kept-alive connection is still open: {other:?}"),
    }
    for url in &urls {
        assert!(c.get(url).send().await.is_err(), "{url} still answers");
    }
}

/// A tenant whose documents are served over HTTPS while its JWKS address is plain HTTP.
#[tokio::test]
async fn jwks_over_plain_http_under_tls() {
    let idp = MockIdp::builder().tls().start().await.unwrap();
    let t = idp
        .add_tenant(TenantSpec::new("mixed", Flavor::Generic).jwks_over_plain_http())
        .unwrap();
    let c = trusting(idp.ca_pem());
    let disco = get_json(&c, &t.discovery_url()).await;
    let jwks_uri = disco["jwks_uri"].as_str().unwrap();
    assert!(t.discovery_url().starts_with("https://"));
    assert!(jwks_uri.starts_with("http://"), "{jwks_uri}");
    assert_eq!(jwks_uri, t.jwks_url());
    let jwks = get_json(&plain(), jwks_uri).await;
    verify(&t.access_token(), &jwks, t.issuer(), t.audience());
    assert_eq!(t.traffic().jwks, 1, "counted as the tenant's traffic");
    // Without TLS the option changes nothing.
    let idp = MockIdp::builder().start().await.unwrap();
    let t = idp
        .add_tenant(TenantSpec::new("plain", Flavor::Generic).jwks_over_plain_http())
        .unwrap();
    assert!(t.jwks_url().starts_with(idp.uri()));
}
