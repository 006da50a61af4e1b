//! The mock IdPs over real HTTP on loopback: every flavor's documents, tokens and quirks,
//! checked with an independent verifier (jsonwebtoken's own JWK decoding).

mod common;

use common::{send_json, verify};
use jsonwebtoken::decode_header;
use mock_idp::{
    Fault, Faults, Flavor, MintOptions, MockIdp, Quirks, RotationStep, TenantSpec, TokenKind,
    TypQuirk,
};
use serde_json::Value;

async fn idp() -> MockIdp {
    let mut b = MockIdp::builder().seed(11);
    for f in Flavor::ALL {
        b = b.tenant(TenantSpec::new(format!("t-{}", f.name()), f).roles(["admin"]));
    }
    b.tenant(TenantSpec::new("other-entra", Flavor::EntraV2))
        .start()
        .await
        .expect("start")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get_json(url: &str) -> Value {
    send_json(client().get(url)).await
}

#[tokio::test]
async fn every_flavor_serves_discovery_jwks_and_verifiable_tokens() {
    let idp = idp().await;
    for f in Flavor::ALL {
        let t = idp.tenant(&format!("t-{}", f.name())).unwrap();
        let disco = get_json(&t.discovery_url()).await;
        let jwks_uri = disco["jwks_uri"].as_str().unwrap().to_string();
        assert_eq!(jwks_uri, t.jwks_url(), "{f}");
        if f == Flavor::EntraCommon {
            assert!(
                disco["issuer"]
                    .as_str()
                    .unwrap()
                    .ends_with("/{tenantid}/v2.0"),
                "template issuer"
            );
        } else {
            assert_eq!(disco["issuer"], t.issuer(), "{f}");
        }
        let jwks = get_json(&jwks_uri).await;
        // Client credentials, client_secret_post, with the flavor's way of naming the API.
        let c = &t.clients()[0];
        let mut form = vec![
            ("grant_type", "client_credentials".to_string()),
            ("client_id", c.id.clone()),
            ("client_secret", c.secret.clone()),
        ];
        match f {
            Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon => {
                form.push(("scope", format!("{}/.default", t.audience())))
            }
            Flavor::Auth0 => form.push(("audience", t.audience().to_string())),
            _ => form.push(("scope", "api.read".into())),
        }
        let resp = client()
            .post(t.token_url())
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{f}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        let token = body["access_token"].as_str().unwrap();
        let claims = verify(token, &jwks, t.issuer(), t.audience());
        let header = decode_header(token).unwrap();
        match f {
            Flavor::EntraV2 | Flavor::EntraCommon => {
                assert_eq!(claims["ver"], "2.0");
                assert_eq!(claims["azp"], c.id.as_str());
                assert_eq!(claims["tid"], t.tenant_key());
                assert_eq!(claims["roles"][0], "admin");
                assert_eq!(header.typ.as_deref(), Some("JWT"));
                let life = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
                assert!((3600..=5400).contains(&life), "60-90 minutes, got {life}");
            }
            Flavor::EntraV1 => {
                assert_eq!(claims["ver"], "1.0");
                assert_eq!(claims["appid"], c.id.as_str());
                assert!(
                    t.issuer().ends_with('/'),
                    "sts style issuer with trailing slash"
                );
                // x5t is the SHA-1 thumbprint of the key's certificate, as in the JWKS.
                let jwk = jwks["keys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|k| Some(k["kid"].as_str().unwrap()) == header.kid.as_deref())
                    .unwrap();
                assert_eq!(header.x5t.as_deref(), jwk["x5t"].as_str());
            }
            Flavor::Okta => {
                assert_eq!(header.typ, None);
                assert_eq!(claims["ver"], 1);
                assert!(claims["jti"].as_str().unwrap().starts_with("AT."));
                assert_eq!(claims["cid"], c.id.as_str());
                assert!(claims["scp"].is_array());
                assert!(claims.get("uid").is_none(), "no uid on app tokens");
                assert_eq!(claims["groups"][0], "admin");
            }
            Flavor::Auth0 => {
                assert_eq!(claims["sub"], format!("{}@clients", c.id));
                assert_eq!(claims["gty"], "client-credentials");
                assert!(claims["scope"].is_string());
                assert!(t.issuer().ends_with('/'));
                assert_eq!(claims[mock_idp::flavor::AUTH0_ROLES_CLAIM][0], "admin");
            }
            Flavor::Generic => {
                assert_eq!(header.typ.as_deref(), Some("at+jwt"));
                for k in [
                    "iss",
                    "exp",
                    "aud",
                    "sub",
                    "client_id",
                    "iat",
                    "jti",
                    "scope",
                ] {
                    assert!(claims.get(k).is_some(), "RFC 9068 claim {k}");
                }
            }
        }
    }
    // The journal counted exactly what we asked for: one discovery, one JWKS, one token each;
    // entra-common counts on the shared document.
    let t = idp.tenant("t-okta").unwrap().traffic();
    assert_eq!((t.discovery, t.jwks, t.token), (1, 1, 1));
    assert_eq!(
        idp.attacker().requests(),
        0,
        "nobody contacted the attacker"
    );
}

#[tokio::test]
async fn entra_tenants_share_keys_and_common_document() {
    let idp = idp().await;
    let a = idp.tenant("t-entra-v2").unwrap();
    let b = idp.tenant("other-entra").unwrap();
    assert_eq!(
        a.jwks(),
        b.jwks(),
        "every Entra tenant publishes the same keys"
    );
    assert_ne!(a.issuer(), b.issuer());
    // A token of tenant b verifies with a's keys: the signature proves nothing about the tenant.
    let jwks = get_json(&a.jwks_url()).await;
    verify(&b.access_token(), &jwks, b.issuer(), b.audience());
    let okta = idp.tenant("t-okta").unwrap();
    assert_ne!(okta.jwks()["keys"][0]["n"], a.jwks()["keys"][0]["n"]);
}

#[tokio::test]
async fn token_endpoint_errors_follow_rfc6749_5_2() {
    let idp = idp().await;
    let t = idp.tenant("t-generic").unwrap();
    let c = t.clients()[0].clone();
    let post = |form: Vec<(&'static str, String)>| {
        let url = t.token_url();
        async move { client().post(url).form(&form).send().await.unwrap() }
    };
    let r = post(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", c.id.clone()),
        ("client_secret", "wrong".into()),
    ])
    .await;
    assert_eq!(r.status(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = post(vec![
        ("grant_type", "password".into()),
        ("client_id", c.id.clone()),
        ("client_secret", c.secret.clone()),
    ])
    .await;
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = post(vec![
        ("grant_type", "client_credentials".into()),
        ("client_id", c.id.clone()),
        ("client_secret", c.secret.clone()),
        ("scope", "root".into()),
    ])
    .await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_scope");
    let r = post(vec![("client_id", c.id.clone())]).await;
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_request");
    // client_secret_basic works, and a wrong secret over Basic gets a challenge.
    let r = client()
        .post(t.token_url())
        .basic_auth(&c.id, Some(&c.secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client()
        .post(t.token_url())
        .basic_auth(&c.id, Some("nope"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers().get("www-authenticate").is_some());
    assert_eq!(t.traffic().token, 6);
}

#[tokio::test]
async fn quirks_change_what_is_served() {
    let idp = idp().await;
    let t = idp.tenant("t-generic").unwrap();
    t.set_quirks(Quirks {
        typ: TypQuirk::Absent,
        omit_kid: true,
        alg: Some("ES256".into()),
        jwks_max_age: Some(120),
        extra_enc_key: true,
        duplicate_kids: true,
        ..Quirks::default()
    });
    let token = t.access_token();
    let header = decode_header(&token).unwrap();
    assert_eq!(header.typ, None);
    assert_eq!(header.kid, None);
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    let resp = client().get(t.jwks_url()).send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=120");
    let jwks: Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    assert!(keys.iter().any(|k| k["use"] == "enc"));
    assert!(keys.iter().any(|k| k["kty"] == "EC" && k["crv"] == "P-256"));
    let kids: Vec<_> = keys.iter().map(|k| k["kid"].clone()).collect();
    assert!(
        kids.iter()
            .enumerate()
            .any(|(i, k)| kids[i + 1..].contains(k)),
        "a duplicate kid"
    );
    let disco = get_json(&t.discovery_url()).await;
    assert!(disco["id_token_signing_alg_values_supported"]
        .as_array()
        .unwrap()
        .contains(&"ES256".into()));

    t.set_quirks(Quirks {
        clock_offset_seconds: -7200,
        lifetime_seconds: Some(60),
        typ: TypQuirk::Value("application/AT+JWT".into()),
        ..Quirks::default()
    });
    let parts = t.parts(&MintOptions::default());
    assert_eq!(parts.header["typ"], "application/AT+JWT");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let exp = parts.claims["exp"].as_i64().unwrap();
    assert!(exp < now - 7000, "clock offset and lifetime applied");
}

#[tokio::test]
async fn faults_change_what_is_served() {
    let idp = idp().await;
    let t = idp.tenant("t-auth0").unwrap();
    let c = client();
    t.set_faults(Faults {
        jwks: Some(Fault::Status { status: 503 }),
        discovery: Some(Fault::MalformedJson),
        ..Faults::default()
    });
    assert_eq!(c.get(t.jwks_url()).send().await.unwrap().status(), 503);
    let text = c
        .get(t.discovery_url())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(serde_json::from_str::<Value>(&text).is_err());
    t.set_faults(Faults {
        jwks: Some(Fault::EmptyKeySet),
        issuer_override: Some("http://evil.example/".into()),
        ..Faults::default()
    });
    assert_eq!(
        get_json(&t.jwks_url()).await["keys"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    assert_eq!(
        get_json(&t.discovery_url()).await["issuer"],
        "http://evil.example/"
    );
    t.set_faults(Faults {
        jwks: Some(Fault::Reset),
        ..Faults::default()
    });
    let r = c.get(t.jwks_url()).send().await;
    assert!(
        r.is_err() || r.unwrap().bytes().await.is_err(),
        "connection dropped mid-answer"
    );
    t.set_faults(Faults {
        jwks: Some(Fault::Delay { ms: 300 }),
        ..Faults::default()
    });
    let quick = reqwest::Client::builder()
        .timeout(std::time::Duration::from_millis(100))
        .build()
        .unwrap();
    assert!(
        quick.get(t.jwks_url()).send().await.is_err(),
        "slower than the client's timeout"
    );
    t.clear_faults();
    assert_eq!(
        get_json(&t.jwks_url()).await["keys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn rotation_moves_keys_through_their_states() {
    let idp = idp().await;
    let t = idp.tenant("t-okta").unwrap();
    let first = t.active_key().kid().to_string();
    let s = t.rotate(RotationStep::PublishNext);
    assert_eq!(s.len(), 2);
    assert_eq!(
        t.jwks()["keys"].as_array().unwrap().len(),
        2,
        "next key published"
    );
    assert_eq!(
        t.active_key().kid(),
        first,
        "still signing with the old key"
    );
    t.rotate(RotationStep::Promote);
    let second = t.active_key().kid().to_string();
    assert_ne!(first, second);
    assert_eq!(
        decode_header(t.access_token()).unwrap().kid.as_deref(),
        Some(second.as_str())
    );
    assert_eq!(
        t.jwks()["keys"].as_array().unwrap().len(),
        2,
        "overlap window"
    );
    let s = t.rotate(RotationStep::RetirePrevious);
    assert!(s.contains(&(first.clone(), mock_idp::KeyStatus::Retired)));
    let served = get_json(&t.jwks_url()).await;
    assert_eq!(served["keys"].as_array().unwrap().len(), 1);
    assert_eq!(served["keys"][0]["kid"], second.as_str());
    assert_eq!(t.previous_key().unwrap().kid(), first);
}

#[tokio::test]
async fn id_tokens_and_user_tokens_are_genuine() {
    let idp = idp().await;
    for f in Flavor::ALL {
        let t = idp.tenant(&format!("t-{}", f.name())).unwrap();
        let at = t.mint(&MintOptions {
            kind: TokenKind::UserAccess,
            ..MintOptions::default()
        });
        let id = t.mint(&MintOptions {
            kind: TokenKind::IdToken {
                nonce: "n1".into(),
                access_token: Some(at.clone()),
            },
            ..MintOptions::default()
        });
        let claims = verify(&id, &t.jwks(), t.issuer(), &t.clients()[0].id);
        assert_eq!(claims["nonce"], "n1");
        assert_eq!(claims["at_hash"], mock_idp::flavor::at_hash(&at, "RS256"));
        let user = verify(&at, &t.jwks(), t.issuer(), t.audience());
        if f == Flavor::Okta {
            assert!(user["uid"].is_string(), "uid only on user tokens");
        }
    }
}

#[tokio::test]
async fn admin_api_steers_tenants_and_answers_400_with_a_reason() {
    let idp = idp().await;
    let c = client();
    let base = format!("{}/_admin/tenants/t-generic", idp.uri());
    let r = c
        .put(format!("{base}/quirks"))
        .header("content-type", "application/json")
        .body(r#"{"typ":"absent","bogus":1}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("bogus"));
    let r = c
        .put(format!("{base}/quirks"))
        .header("content-type", "application/json")
        .body(r#"{"alg":"HS256"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = c
        .put(format!("{base}/quirks"))
        .header("content-type", "application/json")
        .body(r#"{"omit_kid":true}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(idp.tenant("t-generic").unwrap().quirks().omit_kid);
    let r = c
        .put(format!("{base}/faults"))
        .header("content-type", "application/json")
        .body(r#"{"jwks":{"kind":"status","status":404}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        c.get(idp.tenant("t-generic").unwrap().jwks_url())
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let r = send_json(
        c.post(format!("{base}/tokens"))
            .header("content-type", "application/json")
            .body(r#"{"kind":"id_token","nonce":"abc"}"#),
    )
    .await;
    assert_eq!(r["token"].as_str().unwrap().split('.').count(), 3);
    let r = send_json(
        c.post(format!("{base}/rotate"))
            .header("content-type", "application/json")
            .body(r#"{"step":"publish-next"}"#),
    )
    .await;
    assert_eq!(r.as_array().unwrap().len(), 2);
    let r = c
        .post(format!("{}/_admin/tenants", idp.uri()))
        .header("content-type", "application/json")
        .body(r#"{"slug":"late","flavor":"okta"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(idp.tenant("late").is_some());
    let r = c
        .get(format!("{}/_admin/tenants/nope/quirks", idp.uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn attacker_journal_counts_only_when_contacted() {
    let idp = idp().await;
    assert_eq!(idp.attacker().requests(), 0);
    let jwks = get_json(&idp.attacker().jwks_url()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let _ = client()
        .get(format!("{}/x5u.pem", idp.attacker().uri()))
        .send()
        .await
        .unwrap();
    assert_eq!(idp.attacker().requests(), 2);
    assert_eq!(idp.attacker().tenant().traffic().total(), 2);
    assert_eq!(
        idp.journal().total(),
        0,
        "the tenants' listener saw nothing"
    );
}

#[tokio::test]
async fn journal_counts_equal_requests_made() {
    let idp = idp().await;
    let t = idp.tenant("t-entra-v1").unwrap();
    let before = t.traffic();
    for _ in 0..25 {
        client().get(t.jwks_url()).send().await.unwrap();
    }
    for _ in 0..3 {
        client().get(t.discovery_url()).send().await.unwrap();
    }
    let d = t.traffic().since(&before);
    assert_eq!((d.jwks, d.discovery), (25, 3));
    assert_eq!(idp.journal().entries_for("t-entra-v1", 0).len(), 28);
}

/// The admin API cannot be driven cross-site: a loopback `Host` only (DNS rebinding), JSON
/// bodies only (a form or a `text/plain` fetch needs no preflight), and the admin token when
/// one is set.
#[tokio::test]
async fn admin_api_refuses_cross_site_requests() {
    let idp = idp().await;
    let c = client();
    let mint = format!("{}/_admin/tenants/t-okta/tokens", idp.uri());
    let plain = c
        .post(&mint)
        .header("content-type", "text/plain")
        .body(r#"{"kind":"app"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 415);
    assert!(!plain.text().await.unwrap().contains("token\":\"ey"));
    let rebound = c
        .get(format!("{}/_admin/tenants", idp.uri()))
        .header("host", "attacker.example:8089")
        .send()
        .await
        .unwrap();
    assert_eq!(rebound.status(), 403);
    let json = c
        .post(&mint)
        .header("content-type", "application/json")
        .header("host", "localhost")
        .body(r#"{"kind":"app"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), 200);

    let guarded = MockIdp::builder()
        .admin_token("s3cret")
        .tenant(TenantSpec::new("t-okta", Flavor::Okta))
        .start()
        .await
        .unwrap();
    let url = format!("{}/_admin/tenants", guarded.uri());
    assert_eq!(c.get(&url).send().await.unwrap().status(), 401);
    let wrong = c.get(&url).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);
    let right = c.get(&url).bearer_auth("s3cret").send().await.unwrap();
    assert_eq!(right.status(), 200);
}

/// A client that never finishes its request head is disconnected, so half-sent requests cannot
/// pile up in `byoid idp serve`. Tokio's clock is paused: the header timeout passes as soon as
/// the runtime has nothing else to do, so however slow the machine the close is awaited, not
/// raced against a wall-clock bound.
#[tokio::test(start_paused = true)]
async fn a_half_sent_request_is_closed_after_the_header_timeout() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let idp = MockIdp::builder()
        .header_read_timeout(std::time::Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let addr = idp.uri().trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stream
        .write_all(b"GET /t/.well-known/openid-configuration HTTP/1.1\r\nHost: a\r\n")
        .await
        .unwrap();
    let mut rest = Vec::new();
    // The bound is on the paused clock too: it costs no real time and a busy machine cannot
    // reach it; it only turns a server that never closes into a failure instead of a hang.
    let closed = tokio::time::timeout(
        std::time::Duration::from_secs(3600),
        stream.read_to_end(&mut rest),
    )
    .await;
    assert!(closed.is_ok(), "the connection stayed open");
}

#[tokio::test]
async fn discovery_members_can_be_left_out() {
    let idp = idp().await;
    let t = idp.tenant("t-generic").unwrap();
    t.set_faults(Faults {
        discovery_omit: vec!["jwks_uri".into(), "issuer".into()],
        ..Faults::default()
    });
    let metadata = format!("{}{}", t.base_url(), t.oauth_metadata_path().unwrap());
    for url in [t.discovery_url(), metadata] {
        let doc = get_json(&url).await;
        assert!(doc.get("jwks_uri").is_none() && doc.get("issuer").is_none());
        assert!(doc.get("token_endpoint").is_some(), "{doc}");
    }
    // The JWKS itself is still served where it was.
    assert!(get_json(&t.jwks_url()).await["keys"].is_array());
    t.clear_faults();
    assert_eq!(get_json(&t.discovery_url()).await["jwks_uri"], t.jwks_url());
}

#[tokio::test]
async fn a_second_registration_shares_its_directory() {
    let idp = idp().await;
    for parent in ["t-entra-v2", "t-entra-v1", "t-generic", "t-entra-common"] {
        let p = idp.tenant(parent).unwrap();
        let slug = format!("{parent}-billing");
        let r = idp
            .add_tenant(TenantSpec::new(&slug, p.flavor()).same_directory_as(parent))
            .unwrap();
        assert_eq!(r.discovery_url(), p.discovery_url(), "{parent}");
        assert_eq!((r.issuer(), r.tenant_key()), (p.issuer(), p.tenant_key()));
        assert_ne!(r.audience(), p.audience(), "{parent}");
        assert_ne!(r.clients()[0].id, p.clients()[0].id, "{parent}");
        // Its tokens verify with the directory's keys and carry its own audience.
        let token = r.access_token();
        let claims = verify(
            &token,
            &get_json(&p.jwks_url()).await,
            p.issuer(),
            r.audience(),
        );
        assert_eq!(claims["aud"], r.audience(), "{parent}");
        // Faults and traffic are the directory's.
        let before = p.traffic().discovery;
        r.set_faults(Faults {
            discovery: Some(Fault::Status { status: 503 }),
            ..Faults::default()
        });
        let status = client()
            .get(p.discovery_url())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 503, "{parent}");
        assert_eq!(r.traffic().discovery, before + 1, "{parent}");
        r.clear_faults();
    }
    let wrong = TenantSpec::new("x", Flavor::Okta).same_directory_as("t-generic");
    assert!(idp.add_tenant(wrong).is_err(), "flavors differ");
    let none = TenantSpec::new("y", Flavor::Okta).same_directory_as("nobody");
    assert!(idp.add_tenant(none).is_err(), "no such tenant");
}

#[tokio::test]
async fn entra_issuers_of_both_versions() {
    let idp = idp().await;
    let v1 = idp.tenant("t-entra-v1").unwrap();
    let v2 = idp.tenant("t-entra-v2").unwrap();
    assert_eq!(
        v1.entra_issuer(Flavor::EntraV1).as_deref(),
        Some(v1.issuer())
    );
    assert_eq!(
        v2.entra_issuer(Flavor::EntraV2).as_deref(),
        Some(v2.issuer())
    );
    let tid = v1.tenant_key();
    assert_eq!(
        v1.entra_issuer(Flavor::EntraV2).unwrap(),
        format!("{}/{tid}/v2.0", v1.base_url())
    );
    assert!(v1.issuer().ends_with(&format!("/sts/{tid}/")));
    assert_eq!(
        idp.tenant("t-okta").unwrap().entra_issuer(Flavor::EntraV1),
        None
    );
}
