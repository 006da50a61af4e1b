//! End-to-end tests over real sockets on 127.0.0.1:0: an in-test IdP serving
//! discovery and JWKS, the reference target, and tokens signed with the
//! committed fixture keys.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use byoid_reference::{manifest::Manifest, Config, Defect, DefectSet};
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{json, Value};

const AUD: &str = "api://byoid-resource";
const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIX}{name}")).unwrap()
}

struct Keys {
    rsa1: EncodingKey,
    rsa2: EncodingKey,
    ec256: EncodingKey,
    ed: EncodingKey,
}

fn keys() -> Keys {
    Keys {
        rsa1: EncodingKey::from_rsa_pem(&fixture("rsa1.pem")).unwrap(),
        rsa2: EncodingKey::from_rsa_pem(&fixture("rsa2.pem")).unwrap(),
        ec256: EncodingKey::from_ec_pem(&fixture("ec256.pem")).unwrap(),
        ed: EncodingKey::from_ed_pem(&fixture("ed25519.pem")).unwrap(),
    }
}

fn public_jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Value {
    let mut v = serde_json::to_value(Jwk::from_encoding_key(key, alg).unwrap()).unwrap();
    v["kid"] = json!(kid);
    v["use"] = json!("sig");
    v
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn b64(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

/// Signs `header.claims` with `key` under `alg`, whatever the header says.
fn mint(header: &Value, claims: &Value, key: &EncodingKey, alg: Algorithm) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).unwrap();
    format!("{input}.{sig}")
}

// ---------------------------------------------------------------- the IdP

#[derive(Default)]
struct IdpState {
    base: Mutex<String>,
    jwks: Mutex<Value>,
    attacker_jwks: Mutex<Value>,
    down: AtomicBool,
    discovery_hits: AtomicU64,
    jwks_hits: AtomicU64,
    attacker_hits: AtomicU64,
    /// Per-tenant issuer overrides (for mismatch and template cases).
    issuer_override: Mutex<Vec<(String, String)>>,
}

#[derive(Clone)]
struct Idp {
    state: Arc<IdpState>,
    base: String,
}

impl Idp {
    async fn start(jwks: Value) -> Idp {
        let state = Arc::new(IdpState::default());
        *state.jwks.lock().unwrap() = jwks;
        let app = Router::new()
            .route("/{t}/.well-known/openid-configuration", get(discovery))
            .route("/{t}/jwks", get(jwks_handler))
            .route("/attacker/jwks", get(attacker))
            .with_state(state.clone());
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", l.local_addr().unwrap());
        *state.base.lock().unwrap() = base.clone();
        tokio::spawn(async move { axum::serve(l, app).await });
        Idp { state, base }
    }
    fn issuer(&self, t: &str) -> String {
        format!("{}/{t}", self.base)
    }
    fn jwks_hits(&self) -> u64 {
        self.state.jwks_hits.load(Ordering::SeqCst)
    }
    fn total_hits(&self) -> u64 {
        self.jwks_hits() + self.state.discovery_hits.load(Ordering::SeqCst)
    }
}

async fn discovery(
    State(s): State<Arc<IdpState>>,
    Path(t): Path<String>,
) -> Result<Json<Value>, StatusCode> {
    s.discovery_hits.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    let base = s.base.lock().unwrap().clone();
    let issuer = s
        .issuer_override
        .lock()
        .unwrap()
        .iter()
        .find(|(k, _)| *k == t)
        .map(|(_, v)| v.clone())
        .unwrap_or(format!("{base}/{t}"));
    Ok(Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{base}/{t}/jwks"),
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA", "HS256", "none"],
    })))
}

async fn jwks_handler(State(s): State<Arc<IdpState>>) -> Result<Json<Value>, StatusCode> {
    s.jwks_hits.fetch_add(1, Ordering::SeqCst);
    if s.down.load(Ordering::SeqCst) {
        return Err(StatusCode::SERVICE_UNAVAILABLE);
    }
    Ok(Json(s.jwks.lock().unwrap().clone()))
}

async fn attacker(State(s): State<Arc<IdpState>>) -> Json<Value> {
    s.attacker_hits.fetch_add(1, Ordering::SeqCst);
    Json(s.attacker_jwks.lock().unwrap().clone())
}

// ------------------------------------------------------------- the target

struct Env {
    idp: Idp,
    k: Keys,
    url: String,
    client: reqwest::Client,
    /// The target's clock: manual, advanced by the tests instead of sleeping.
    clock: byoid_reference::Clock,
}

fn manifest_json(idp: &Idp) -> Value {
    let tenant = |slug: &str, enabled: bool, clients: Value| {
        json!({
            "slug": slug, "enabled": enabled,
            "metadata_address": format!("{}/.well-known/openid-configuration", idp.issuer(slug)),
            "valid_issuers": null, "valid_audiences": [AUD],
            "allowed_client_ids": clients, "require_access_token_type": false,
            "claim_mappings": {"groups": "roles"},
        })
    };
    json!({
        "contract": "byoid-target/1",
        "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
        "clock_skew_seconds": 60, "jwks_cache_seconds": 300,
        "require_https_metadata": false, "ca_bundle": null,
        "future_field": {"ignored": true},
        "tenants": [
            tenant("contoso", true, json!(["contoso-daemon"])),
            tenant("fabrikam", true, json!([])),
            tenant("off", false, json!([])),
        ]
    })
}

async fn start_target(manifest: Value, defects: DefectSet, debug: bool) -> String {
    start_target_on(manifest, defects, debug, byoid_reference::Clock::system()).await
}

async fn start_target_on(
    manifest: Value,
    defects: DefectSet,
    debug: bool,
    clock: byoid_reference::Clock,
) -> String {
    let mut config = Config::new(Manifest::from_json(&manifest.to_string()).unwrap());
    config.defects = defects;
    config.debug = debug;
    config.clock = clock;
    config.fetch_timeout = std::time::Duration::from_millis(500);
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    tokio::spawn(byoid_reference::serve(l, config));
    url
}

async fn env_with(defects: &[Defect], edit: impl FnOnce(&mut Value, &Idp)) -> Env {
    let k = keys();
    let jwks = json!({"keys": [
        public_jwk(&k.rsa1, Algorithm::RS256, "k1"),
        public_jwk(&k.ec256, Algorithm::ES256, "e1"),
        public_jwk(&k.ed, Algorithm::EdDSA, "d1"),
    ]});
    let idp = Idp::start(jwks).await;
    *idp.state.attacker_jwks.lock().unwrap() =
        json!({"keys": [public_jwk(&k.rsa2, Algorithm::RS256, "evil")]});
    let mut m = manifest_json(&idp);
    edit(&mut m, &idp);
    // Tokens are minted on the system clock: the manual one starts at its second.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let clock = byoid_reference::Clock::manual(now);
    let url = start_target_on(m, defects.iter().copied().collect(), false, clock.clone()).await;
    Env {
        idp,
        k,
        url,
        client: reqwest::Client::new(),
        clock,
    }
}

async fn env(defects: &[Defect]) -> Env {
    env_with(defects, |_, _| {}).await
}

struct Reply {
    status: u16,
    challenge: Option<String>,
    body: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
    fn error_param(&self) -> Option<String> {
        let c = self.challenge.as_deref()?;
        let i = c.find("error=\"")? + 7;
        Some(c[i..].split('"').next()?.to_owned())
    }
}

async fn send(rb: reqwest::RequestBuilder) -> Reply {
    let r = rb.send().await.unwrap();
    let status = r.status().as_u16();
    let challenge = r
        .headers()
        .get("www-authenticate")
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    Reply {
        status,
        challenge,
        body: r.text().await.unwrap(),
    }
}

impl Env {
    fn claims(&self) -> Value {
        self.claims_for("contoso")
    }
    fn claims_for(&self, t: &str) -> Value {
        json!({
            "iss": self.idp.issuer(t), "aud": AUD, "sub": "user-1", "azp": "contoso-daemon",
            "exp": now() + 600, "iat": now(), "nbf": now() - 5, "jti": "j1", "groups": ["admin"],
        })
    }
    fn header(&self) -> Value {
        json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1"})
    }
    fn token_with(&self, edit: impl FnOnce(&mut Value, &mut Value)) -> String {
        let (mut h, mut c) = (self.header(), self.claims());
        edit(&mut h, &mut c);
        mint(&h, &c, &self.k.rsa1, Algorithm::RS256)
    }
    fn genuine(&self) -> String {
        self.token_with(|_, _| {})
    }
    fn get(&self, path: &str, tenant: &str) -> reqwest::RequestBuilder {
        self.client
            .get(format!("{}{path}", self.url))
            .header("X-Tenant-Slug", tenant)
    }
    async fn whoami(&self, token: &str) -> Reply {
        send(self.get("/api/whoami", "contoso").bearer_auth(token)).await
    }
}

fn assert_invalid_token(r: &Reply) {
    assert_eq!(r.status, 401, "body: {}", r.body);
    assert_eq!(
        r.error_param().as_deref(),
        Some("invalid_token"),
        "{:?}",
        r.challenge
    );
}

// ------------------------------------------------------------- known good

#[tokio::test]
async fn a_cached_token_still_answers_only_for_its_tenant() {
    let e = env(&[]).await;
    let t = e.genuine();
    // Stored by the verified-token cache on its second verification; the third is a hit.
    for _ in 0..3 {
        assert_eq!(e.whoami(&t).await.status, 200);
    }
    let other = send(e.get("/api/whoami", "fabrikam").bearer_auth(&t)).await;
    assert_invalid_token(&other);
    let again = e.whoami(&t).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["tenant"], "contoso");
    assert_eq!(
        again.json()["claims"]["roles"],
        json!(["admin"]),
        "mapped claims on a hit"
    );
}

#[tokio::test]
async fn genuine_tokens_of_every_key_type_are_accepted() {
    let e = env(&[]).await;
    let r = e.whoami(&e.genuine()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = r.json();
    assert_eq!(body["tenant"], "contoso");
    assert_eq!(body["claims"]["roles"], json!(["admin"]));
    assert_eq!(body["claims"]["sub"], "user-1");
    assert!(r.challenge.is_none());
    let es = mint(
        &json!({"alg":"ES256","typ":"at+jwt","kid":"e1"}),
        &e.claims(),
        &e.k.ec256,
        Algorithm::ES256,
    );
    assert_eq!(e.whoami(&es).await.status, 200);
    let ed = mint(
        &json!({"alg":"EdDSA","typ":"JWT","kid":"d1"}),
        &e.claims(),
        &e.k.ed,
        Algorithm::EdDSA,
    );
    assert_eq!(e.whoami(&ed).await.status, 200);
    let r = send(e.get("/api/admin", "contoso").bearer_auth(e.genuine())).await;
    assert_eq!(r.status, 200);
    // Case-insensitive scheme, several spaces.
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", format!("bEaReR   {}", e.genuine())),
    )
    .await;
    assert_eq!(r.status, 200);
    // Form body on POST.
    let r = send(
        e.client
            .post(format!("{}/api/whoami", e.url))
            .header("X-Tenant-Slug", "contoso")
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!("access_token={}", e.genuine())),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn rfc6750_response_table() {
    let e = env(&[]).await;
    let r = send(e.get("/api/whoami", "contoso")).await;
    assert_eq!(
        (r.status, r.challenge.as_deref()),
        (401, Some(r#"Bearer realm="byoid""#))
    );
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", "Basic dTpw"),
    )
    .await;
    assert_eq!((r.status, r.error_param()), (401, None));
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", "Bearer "),
    )
    .await;
    assert_invalid_token(&r);
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", "Bearer a")
            .header("Authorization", "Bearer a"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_param().as_deref()),
        (400, Some("invalid_request"))
    );
    let r = send(
        e.client
            .get(format!("{}/api/whoami?access_token={}", e.url, e.genuine()))
            .header("X-Tenant-Slug", "contoso"),
    )
    .await;
    assert_eq!(
        (r.status, r.error_param().as_deref()),
        (400, Some("invalid_request"))
    );
    let r = send(
        e.get(
            &format!("/api/whoami?access_token={}", e.genuine()),
            "contoso",
        )
        .bearer_auth(e.genuine()),
    )
    .await;
    assert_eq!(r.status, 400);
    let mut c = e.claims();
    c["groups"] = json!(["reader"]);
    let t = mint(&e.header(), &c, &e.k.rsa1, Algorithm::RS256);
    let r = send(e.get("/api/admin", "contoso").bearer_auth(&t)).await;
    assert_eq!(
        (r.status, r.error_param().as_deref()),
        (403, Some("insufficient_scope"))
    );
    let r = send(e.client.get(format!("{}/healthz", e.url))).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn bad_tokens_get_invalid_token_and_no_detail() {
    let e = env(&[]).await;
    let iss = e.idp.issuer("contoso");
    let cases: Vec<(&str, String)> = vec![
        (
            "expired",
            e.token_with(|_, c| c["exp"] = json!(now() - 3600)),
        ),
        (
            "exp string",
            e.token_with(|_, c| c["exp"] = json!((now() + 600).to_string())),
        ),
        (
            "no sub",
            e.token_with(|_, c| {
                c.as_object_mut().unwrap().remove("sub");
            }),
        ),
        (
            "wrong aud",
            e.token_with(|_, c| c["aud"] = json!("api://other")),
        ),
        (
            "aud non-string element",
            e.token_with(|_, c| c["aud"] = json!([AUD, 5])),
        ),
        (
            "iss trailing slash",
            e.token_with(|_, c| c["iss"] = json!(format!("{iss}/"))),
        ),
        (
            "iss case",
            e.token_with(|_, c| c["iss"] = json!(iss.to_uppercase())),
        ),
        (
            "future nbf",
            e.token_with(|_, c| c["nbf"] = json!(now() + 3600)),
        ),
        (
            "future iat",
            e.token_with(|_, c| c["iat"] = json!(now() + 3600)),
        ),
        (
            "wrong client",
            e.token_with(|_, c| c["azp"] = json!("someone-else")),
        ),
        (
            "missing typ",
            e.token_with(|h, _| {
                h.as_object_mut().unwrap().remove("typ");
            }),
        ),
        (
            "id token typ",
            e.token_with(|h, _| h["typ"] = json!("id_token")),
        ),
        ("crit", e.token_with(|h, _| h["crit"] = json!(["b64"]))),
        ("unknown kid", e.token_with(|h, _| h["kid"] = json!("nope"))),
        (
            "kid of another key",
            e.token_with(|h, _| h["kid"] = json!("e1")),
        ),
        (
            "alg mismatch",
            e.token_with(|h, _| h["alg"] = json!("RS384")),
        ),
        (
            "alg PS256 not in discovery list",
            mint(
                &json!({"alg":"PS256","typ":"at+jwt","kid":"k1"}),
                &e.claims(),
                &e.k.rsa1,
                Algorithm::PS256,
            ),
        ),
        (
            "signed by an unknown key",
            mint(&e.header(), &e.claims(), &e.k.rsa2, Algorithm::RS256),
        ),
        (
            "none",
            format!(
                "{}.{}.",
                b64(&json!({"alg":"none","typ":"at+jwt"})),
                b64(&e.claims())
            ),
        ),
        (
            "hs256 with pem",
            mint(
                &json!({"alg":"HS256","typ":"at+jwt","kid":"k1"}),
                &e.claims(),
                &EncodingKey::from_secret(&fixture("rsa1.pub.pem")),
                Algorithm::HS256,
            ),
        ),
        ("jwe", "a.b.c.d.e".to_string()),
        ("garbage", "not-a-jwt".to_string()),
        ("padded", format!("{}=", e.genuine())),
    ];
    for (name, t) in cases {
        let r = e.whoami(&t).await;
        assert_eq!(r.status, 401, "{name}: {}", r.body);
        assert_eq!(r.error_param().as_deref(), Some("invalid_token"), "{name}");
        assert_eq!(
            r.json(),
            json!({"error": "invalid_token"}),
            "{name}: no internal detail"
        );
    }
    // Duplicate member names, made by hand.
    let h = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","typ":"at+jwt","kid":"k1"}"#);
    let c = serde_json::to_string(&e.claims())
        .unwrap()
        .replacen('{', r#"{"sub":"admin","#, 1);
    let input = format!("{h}.{}", URL_SAFE_NO_PAD.encode(c));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), &e.k.rsa1, Algorithm::RS256).unwrap();
    assert_invalid_token(&e.whoami(&format!("{input}.{sig}")).await);
    // ECDSA DER signature instead of raw r||s.
    let es = mint(
        &json!({"alg":"ES256","typ":"at+jwt","kid":"e1"}),
        &e.claims(),
        &e.k.ec256,
        Algorithm::ES256,
    );
    let (input, sig) = es.rsplit_once('.').unwrap();
    let raw = URL_SAFE_NO_PAD.decode(sig).unwrap();
    let int = |b: &[u8]| {
        let mut v = b.to_vec();
        if v[0] & 0x80 != 0 {
            v.insert(0, 0)
        }
        let mut o = vec![2, v.len() as u8];
        o.extend(v);
        o
    };
    let mut seq = int(&raw[..32]);
    seq.extend(int(&raw[32..]));
    let mut der = vec![0x30, seq.len() as u8];
    der.extend(seq);
    assert_invalid_token(
        &e.whoami(&format!("{input}.{}", URL_SAFE_NO_PAD.encode(der)))
            .await,
    );
    // r = s = 0.
    assert_invalid_token(
        &e.whoami(&format!("{input}.{}", URL_SAFE_NO_PAD.encode([0u8; 64])))
            .await,
    );
}

#[tokio::test]
async fn hostile_inputs_are_bounded() {
    let e = env(&[]).await;
    assert_invalid_token(&e.whoami(&"a".repeat(20_000)).await);
    assert_invalid_token(&e.whoami(&".".repeat(15_000)).await);
    let deep = format!("{}{}", "[".repeat(3000), "]".repeat(3000));
    let t = format!("{}.{}.AA", b64(&e.header()), URL_SAFE_NO_PAD.encode(deep));
    assert_invalid_token(&e.whoami(&t).await);
    let t = format!(
        "{}.{}.AA",
        URL_SAFE_NO_PAD.encode([0xc3, 0x28]),
        b64(&e.claims())
    );
    assert_invalid_token(&e.whoami(&t).await);
    // A header far beyond any limit: refused (431 or a closed connection), never a 5xx.
    let r = e
        .get("/api/whoami", "contoso")
        .bearer_auth("a".repeat(1_000_000))
        .send()
        .await;
    if let Ok(r) = r {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    assert_eq!(e.whoami(&e.genuine()).await.status, 200, "still serving");
}

#[tokio::test]
async fn tenants_unknown_disabled_missing_make_no_idp_request() {
    let e = env(&[]).await;
    for tenant in ["nope", "off", "CONTOSO"] {
        assert_invalid_token(&send(e.get("/api/whoami", tenant).bearer_auth(e.genuine())).await);
    }
    let r = send(
        e.client
            .get(format!("{}/api/whoami", e.url))
            .bearer_auth(e.genuine()),
    )
    .await;
    assert_invalid_token(&r);
    assert_eq!(e.idp.total_hits(), 0);
    // A token for another tenant is not valid here.
    let t = mint(
        &e.header(),
        &e.claims_for("fabrikam"),
        &e.k.rsa1,
        Algorithm::RS256,
    );
    assert_invalid_token(&e.whoami(&t).await);
    assert_eq!(
        send(e.get("/api/whoami", "fabrikam").bearer_auth(&t))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn unknown_kid_refetch_is_single_flight_with_cooldown() {
    let e = env(&[]).await;
    assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    assert_eq!(e.idp.jwks_hits(), 1);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let t = e.token_with(|h, _| h["kid"] = json!(format!("random-{i}")));
        let (c, url) = (e.client.clone(), e.url.clone());
        tasks.push(tokio::spawn(async move {
            c.get(format!("{url}/api/whoami"))
                .header("X-Tenant-Slug", "contoso")
                .bearer_auth(t)
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 401);
    }
    assert_eq!(e.idp.jwks_hits(), 2, "one refetch for twenty unknown kids");
}

#[tokio::test]
async fn rotated_key_is_picked_up_by_one_refetch() {
    let e = env(&[]).await;
    assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    e.idp.state.jwks.lock().unwrap()["keys"]
        .as_array_mut()
        .unwrap()
        .push(public_jwk(&e.k.rsa2, Algorithm::RS256, "k2"));
    let t = mint(
        &json!({"alg":"RS256","typ":"at+jwt","kid":"k2"}),
        &e.claims(),
        &e.k.rsa2,
        Algorithm::RS256,
    );
    assert_eq!(e.whoami(&t).await.status, 200);
    assert_eq!(e.idp.jwks_hits(), 2);
}

#[tokio::test]
async fn idp_down_fails_closed_and_last_good_keys_survive() {
    let e = env(&[]).await;
    e.idp.state.down.store(true, Ordering::SeqCst);
    assert_invalid_token(&e.whoami(&e.genuine()).await);
    e.idp.state.down.store(false, Ordering::SeqCst);
    e.clock.advance(byoid_reference::jwks::FAILURE_BACKOFF);
    assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    e.idp.state.down.store(true, Ordering::SeqCst);
    // Unknown kid triggers a refetch that fails: the known keys stay in use.
    assert_invalid_token(&e.whoami(&e.token_with(|h, _| h["kid"] = json!("zz"))).await);
    let fresh = e.token_with(|_, c| c["jti"] = json!("j2"));
    assert_eq!(e.whoami(&fresh).await.status, 200);
}

#[tokio::test]
async fn discovery_issuer_must_match_the_metadata_address() {
    let e = env(&[]).await;
    e.idp
        .state
        .issuer_override
        .lock()
        .unwrap()
        .push(("contoso".into(), "https://evil.example/contoso".into()));
    let t = e.token_with(|_, c| c["iss"] = json!("https://evil.example/contoso"));
    assert_invalid_token(&e.whoami(&t).await);
    assert_invalid_token(&e.whoami(&e.genuine()).await);
}

#[tokio::test]
async fn valid_issuers_cover_the_entra_common_template() {
    let e = env_with(&[], |m, idp| {
        m["tenants"][1]["valid_issuers"] = json!([format!("{}/real-tenant-id/v2.0", idp.base)]);
    })
    .await;
    e.idp.state.issuer_override.lock().unwrap().push((
        "fabrikam".into(),
        format!("{}/{{tenantid}}/v2.0", e.idp.base),
    ));
    let mut c = e.claims();
    c["iss"] = json!(format!("{}/real-tenant-id/v2.0", e.idp.base));
    let ok = mint(&e.header(), &c, &e.k.rsa1, Algorithm::RS256);
    assert_eq!(
        send(e.get("/api/whoami", "fabrikam").bearer_auth(&ok))
            .await
            .status,
        200
    );
    c["iss"] = json!(format!("{}/{{tenantid}}/v2.0", e.idp.base));
    let templ = mint(&e.header(), &c, &e.k.rsa1, Algorithm::RS256);
    assert_invalid_token(&send(e.get("/api/whoami", "fabrikam").bearer_auth(&templ)).await);
    c["iss"] = json!(format!("{}/other-tenant/v2.0", e.idp.base));
    let other = mint(&e.header(), &c, &e.k.rsa1, Algorithm::RS256);
    assert_invalid_token(&send(e.get("/api/whoami", "fabrikam").bearer_auth(&other)).await);
}

#[tokio::test]
async fn require_https_metadata_refuses_http_without_fetching() {
    let e = env_with(&[], |m, _| m["require_https_metadata"] = json!(true)).await;
    assert_invalid_token(&e.whoami(&e.genuine()).await);
    assert_eq!(e.idp.total_hits(), 0);
}

#[tokio::test]
async fn path_and_subdomain_sources() {
    let e = env_with(&[], |m, _| m["tenant_source"] = json!({"kind": "path"})).await;
    let r = send(
        e.client
            .get(format!("{}/contoso/api/whoami", e.url))
            .bearer_auth(e.genuine()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        e.client
            .get(format!("{}/nope/api/whoami", e.url))
            .bearer_auth(e.genuine()),
    )
    .await;
    assert_invalid_token(&r);
    assert_eq!(
        send(e.client.get(format!("{}/healthz", e.url)))
            .await
            .status,
        200
    );
    let e = env_with(&[], |m, _| {
        m["tenant_source"] = json!({"kind": "subdomain"})
    })
    .await;
    let port = e.url.rsplit(':').next().unwrap().to_owned();
    let r = send(
        e.client
            .get(format!("{}/api/whoami", e.url))
            .header("Host", format!("contoso.localhost:{port}"))
            .bearer_auth(e.genuine()),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let r = send(
        e.client
            .get(format!("{}/api/whoami", e.url))
            .bearer_auth(e.genuine()),
    )
    .await;
    assert_invalid_token(&r);
}

#[tokio::test]
async fn debug_mode_adds_detail() {
    let idp = Idp::start(json!({"keys": []})).await;
    let url = start_target(manifest_json(&idp), DefectSet::new(), true).await;
    let r = send(
        reqwest::Client::new()
            .get(format!("{url}/api/whoami"))
            .header("X-Tenant-Slug", "contoso")
            .bearer_auth("a.b.c"),
    )
    .await;
    assert_eq!(r.status, 401);
    assert!(
        r.json()["detail"].as_str().unwrap().contains("base64url"),
        "{}",
        r.body
    );
}

// ---------------------------------------------------------------- defects

/// The clean target answers `bad` with `clean`; the defective one with
/// `defective`; the defective one still accepts a genuine token.
async fn differs(
    d: Defect,
    clean: u16,
    defective: u16,
    bad: impl Fn(&Env) -> reqwest::RequestBuilder,
) {
    let e = env(&[]).await;
    let r = send(bad(&e)).await;
    assert_eq!(r.status, clean, "{d} clean: {}", r.body);
    let e = env(&[d]).await;
    let r = send(bad(&e)).await;
    assert_eq!(r.status, defective, "{d} defective: {}", r.body);
    let r = e.whoami(&e.genuine()).await;
    assert_eq!(
        r.status, 200,
        "{d}: genuine token with the defect: {}",
        r.body
    );
}

fn who(e: &Env, t: String) -> reqwest::RequestBuilder {
    e.get("/api/whoami", "contoso").bearer_auth(t)
}

macro_rules! defect_test {
    ($name:ident, $d:expr, $clean:expr, $bad_status:expr, |$e:ident| $bad:expr) => {
        #[tokio::test]
        async fn $name() {
            differs($d, $clean, $bad_status, |$e: &Env| $bad).await;
        }
    };
}

defect_test!(d_no_issuer_check, Defect::NoIssuerCheck, 401, 200, |e| who(
    e,
    e.token_with(|_, c| c["iss"] = json!("https://evil.example"))
));
defect_test!(
    d_issuer_prefix_match,
    Defect::IssuerPrefixMatch,
    401,
    200,
    |e| who(
        e,
        e.token_with(|_, c| c["iss"] = json!(format!("{}-evil", e.idp.issuer("contoso"))))
    )
);
defect_test!(
    d_no_audience_check,
    Defect::NoAudienceCheck,
    401,
    200,
    |e| who(e, e.token_with(|_, c| c["aud"] = json!("api://other")))
);
defect_test!(d_exp_optional, Defect::ExpOptional, 401, 200, |e| who(
    e,
    e.token_with(|_, c| {
        c.as_object_mut().unwrap().remove("exp");
    })
));
defect_test!(d_day_of_skew, Defect::DayOfSkew, 401, 200, |e| who(
    e,
    e.token_with(|_, c| c["exp"] = json!(now() - 3600))
));
defect_test!(d_alg_from_header, Defect::AlgFromHeader, 401, 200, |e| who(
    e,
    mint(
        &json!({"alg":"HS256","typ":"at+jwt","kid":"k1"}),
        &e.claims(),
        &EncodingKey::from_secret(&fixture("rsa1.pub.pem")),
        Algorithm::HS256
    )
));
defect_test!(d_none_accepted, Defect::NoneAccepted, 401, 200, |e| who(
    e,
    format!(
        "{}.{}.",
        b64(&json!({"alg":"nOnE","typ":"at+jwt"})),
        b64(&e.claims())
    )
));
defect_test!(d_typ_ignored, Defect::TypIgnored, 401, 200, |e| who(
    e,
    e.token_with(|h, _| h["typ"] = json!("secevent+jwt"))
));
defect_test!(
    d_typ_case_sensitive,
    Defect::TypCaseSensitive,
    200,
    401,
    |e| who(e, e.token_with(|h, _| h["typ"] = json!("AT+JWT")))
);
defect_test!(
    d_client_allow_list_ignored,
    Defect::ClientAllowListIgnored,
    401,
    200,
    |e| who(e, e.token_with(|_, c| c["azp"] = json!("intruder")))
);
defect_test!(
    d_disabled_tenant_accepted,
    Defect::DisabledTenantAccepted,
    401,
    200,
    |e| e.get("/api/whoami", "off").bearer_auth(mint(
        &e.header(),
        &e.claims_for("off"),
        &e.k.rsa1,
        Algorithm::RS256
    ))
);
defect_test!(d_cross_tenant, Defect::CrossTenant, 401, 200, |e| who(
    e,
    mint(
        &e.header(),
        &e.claims_for("fabrikam"),
        &e.k.rsa1,
        Algorithm::RS256
    )
));
defect_test!(
    d_first_jwks_key_only,
    Defect::FirstJwksKeyOnly,
    200,
    401,
    |e| who(
        e,
        mint(
            &json!({"alg":"ES256","typ":"at+jwt","kid":"e1"}),
            &e.claims(),
            &e.k.ec256,
            Algorithm::ES256
        )
    )
);
defect_test!(
    d_leak_exception_text,
    Defect::LeakExceptionText,
    401,
    500,
    |e| who(e, "eyJhbGciOiJSUzI1NiJ9.e3.A".into())
);
defect_test!(
    d_claim_mappings_ignored,
    Defect::ClaimMappingsIgnored,
    200,
    403,
    |e| e.get("/api/admin", "contoso").bearer_auth(e.genuine())
);
defect_test!(
    d_aud_must_be_string,
    Defect::AudMustBeString,
    200,
    401,
    |e| who(e, e.token_with(|_, c| c["aud"] = json!(["api://x", AUD])))
);
defect_test!(d_jku_followed, Defect::JkuFollowed, 401, 200, |e| who(
    e,
    mint(
        &json!({"alg":"RS256","typ":"at+jwt","kid":"evil","jku": format!("{}/attacker/jwks", e.idp.base)}),
        &e.claims(),
        &e.k.rsa2,
        Algorithm::RS256
    )
));
defect_test!(d_crit_ignored, Defect::CritIgnored, 401, 200, |e| who(
    e,
    e.token_with(|h, _| {
        h["crit"] = json!(["exp"]);
        h["exp"] = json!(1);
    })
));
defect_test!(
    d_id_token_accepted,
    Defect::IdTokenAccepted,
    401,
    200,
    |e| who(
        e,
        e.token_with(|h, _| {
            h.as_object_mut().unwrap().remove("typ");
        })
    )
);
defect_test!(
    d_query_token_accepted,
    Defect::QueryTokenAccepted,
    400,
    200,
    |e| e.get(
        &format!("/api/whoami?access_token={}", e.genuine()),
        "contoso"
    )
);
defect_test!(
    d_multiple_methods_accepted,
    Defect::MultipleMethodsAccepted,
    400,
    200,
    |e| e
        .get(
            &format!("/api/whoami?access_token={}", e.genuine()),
            "contoso"
        )
        .bearer_auth(e.genuine())
);
defect_test!(d_no_nbf_check, Defect::NoNbfCheck, 401, 200, |e| who(
    e,
    e.token_with(|_, c| c["nbf"] = json!(now() + 3600))
));
defect_test!(
    d_embedded_jwk_trusted,
    Defect::EmbeddedJwkTrusted,
    401,
    200,
    |e| who(
        e,
        mint(
            &json!({"alg":"RS256","typ":"at+jwt","kid":"evil","jwk": public_jwk(&e.k.rsa2, Algorithm::RS256, "evil")}),
            &e.claims(),
            &e.k.rsa2,
            Algorithm::RS256
        )
    )
);

#[tokio::test]
async fn d_leak_exception_text_shows_internal_text_and_nothing_else_changes() {
    let e = env(&[Defect::LeakExceptionText]).await;
    let r = e.whoami("eyJhbGciOiJSUzI1NiJ9.e3.A").await;
    assert_eq!(r.status, 500);
    assert!(r.body.contains("Base64"), "{}", r.body);
    // A well-formed token with a bad signature is still a plain 401.
    assert_invalid_token(
        &e.whoami(&mint(&e.header(), &e.claims(), &e.k.rsa2, Algorithm::RS256))
            .await,
    );
}

#[tokio::test]
async fn d_no_error_param() {
    let bad = |e: &Env| mint(&e.header(), &e.claims(), &e.k.rsa2, Algorithm::RS256);
    let e = env(&[]).await;
    assert_invalid_token(&e.whoami(&bad(&e)).await);
    let e = env(&[Defect::NoErrorParam]).await;
    let r = e.whoami(&bad(&e)).await;
    assert_eq!(
        (r.status, r.challenge.as_deref()),
        (401, Some(r#"Bearer realm="byoid""#))
    );
    assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    // invalid_request is untouched.
    let r = send(e.get(
        &format!("/api/whoami?access_token={}", e.genuine()),
        "contoso",
    ))
    .await;
    assert_eq!(r.error_param().as_deref(), Some("invalid_request"));
}

#[tokio::test]
async fn d_fail_open() {
    for (defects, expected) in [(vec![], 401), (vec![Defect::FailOpen], 200)] {
        let e = env(&defects).await;
        e.idp.state.down.store(true, Ordering::SeqCst);
        let forged = mint(&e.header(), &e.claims(), &e.k.rsa2, Algorithm::RS256);
        assert_eq!(e.whoami(&forged).await.status, expected, "{defects:?}");
        e.idp.state.down.store(false, Ordering::SeqCst);
        e.clock.advance(byoid_reference::jwks::FAILURE_BACKOFF);
        assert_eq!(e.whoami(&e.genuine()).await.status, 200);
        // Keys reachable: the forged token is refused even with the defect.
        let forged = mint(
            &e.header(),
            &e.token_claims_j("x"),
            &e.k.rsa2,
            Algorithm::RS256,
        );
        assert_invalid_token(&e.whoami(&forged).await);
    }
}

impl Env {
    fn token_claims_j(&self, jti: &str) -> Value {
        let mut c = self.claims();
        c["jti"] = json!(jti);
        c
    }
}

#[tokio::test]
async fn d_keys_never_refreshed() {
    for (defects, expected, hits) in [(vec![], 200, 2), (vec![Defect::KeysNeverRefreshed], 401, 1)]
    {
        let e = env(&defects).await;
        assert_eq!(e.whoami(&e.genuine()).await.status, 200);
        e.idp.state.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(public_jwk(&e.k.rsa2, Algorithm::RS256, "k2"));
        let t = mint(
            &json!({"alg":"RS256","typ":"at+jwt","kid":"k2"}),
            &e.claims(),
            &e.k.rsa2,
            Algorithm::RS256,
        );
        assert_eq!(e.whoami(&t).await.status, expected, "{defects:?}");
        assert_eq!(e.idp.jwks_hits(), hits, "{defects:?}");
    }
}

#[tokio::test]
async fn d_refetch_every_unknown_kid() {
    for (defects, hits) in [(vec![], 2), (vec![Defect::RefetchEveryUnknownKid], 6)] {
        let e = env(&defects).await;
        assert_eq!(e.whoami(&e.genuine()).await.status, 200);
        for i in 0..5 {
            assert_invalid_token(
                &e.whoami(&e.token_with(|h, _| h["kid"] = json!(format!("r{i}"))))
                    .await,
            );
        }
        assert_eq!(e.idp.jwks_hits(), hits, "{defects:?}");
    }
}

#[tokio::test]
async fn every_defect_has_a_test() {
    let src = include_str!("http.rs");
    for d in Defect::all() {
        let variant = format!("{d:?}");
        assert!(
            src.contains(&format!("Defect::{variant}")),
            "no test for {d}"
        );
    }
}

#[tokio::test]
async fn d_token_cache_ignores_tenant() {
    for (defects, other_status) in [(vec![], 401), (vec![Defect::TokenCacheIgnoresTenant], 200)] {
        let e = env(&defects).await;
        let t = e.genuine();
        // Verified twice for its own tenant: stored; then sent to another tenant.
        for _ in 0..2 {
            assert_eq!(e.whoami(&t).await.status, 200);
        }
        let other = send(e.get("/api/whoami", "fabrikam").bearer_auth(&t)).await;
        assert_eq!(other.status, other_status, "{defects:?}: {}", other.body);
        // Before the token is cached, the defect changes nothing.
        let fresh = e.token_with(|_, c| c["jti"] = json!("never-sent"));
        let first = send(e.get("/api/whoami", "fabrikam").bearer_auth(&fresh)).await;
        assert_invalid_token(&first);
    }
}

// Defects added with the scenario catalog: each changes exactly the named behaviour.

defect_test!(
    d_signature_not_verified,
    Defect::SignatureNotVerified,
    401,
    200,
    |e| who(
        e,
        mint(&e.header(), &e.claims(), &e.k.rsa2, Algorithm::RS256)
    )
);

fn zero_es256(e: &Env) -> String {
    let h = json!({"alg":"ES256","typ":"at+jwt","kid":"e1"});
    let input = format!("{}.{}", b64(&h), b64(&e.claims()));
    format!(
        "{input}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [0u8; 64])
    )
}

defect_test!(d_psychic_ecdsa, Defect::PsychicEcdsa, 401, 200, |e| who(
    e,
    zero_es256(e)
));

fn der_es256(e: &Env) -> String {
    use base64::Engine;
    let t = mint(
        &json!({"alg":"ES256","typ":"at+jwt","kid":"e1"}),
        &e.claims(),
        &e.k.ec256,
        Algorithm::ES256,
    );
    let (input, sig) = t.rsplit_once('.').unwrap();
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    let int = |b: &[u8]| {
        let mut v: Vec<u8> = b.iter().copied().skip_while(|x| *x == 0).collect();
        if v.first().is_none_or(|x| x & 0x80 != 0) {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    };
    let body = [int(&raw[..32]), int(&raw[32..])].concat();
    let der = [vec![0x30, body.len() as u8], body].concat();
    format!(
        "{input}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(der)
    )
}

defect_test!(
    d_ecdsa_der_accepted,
    Defect::EcdsaDerAccepted,
    401,
    200,
    |e| who(e, der_es256(e))
);

#[tokio::test]
async fn d_key_use_ignored() {
    for (defects, status) in [(vec![], 401), (vec![Defect::KeyUseIgnored], 200)] {
        let e = env(&defects).await;
        // Publish the second RSA key for encryption only; a token signed with it must fail.
        let mut enc = public_jwk(&e.k.rsa2, Algorithm::RS256, "enc1");
        enc["use"] = json!("enc");
        e.idp.state.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(enc);
        let t = mint(
            &json!({"alg":"RS256","typ":"at+jwt","kid":"enc1"}),
            &e.claims(),
            &e.k.rsa2,
            Algorithm::RS256,
        );
        let r = e.whoami(&t).await;
        assert_eq!(r.status, status, "{defects:?}: {}", r.body);
        assert_eq!(
            e.whoami(&e.genuine()).await.status,
            200,
            "genuine still accepted"
        );
    }
}

#[tokio::test]
async fn d_jwks_not_cached() {
    for (defects, hits) in [(vec![], 1), (vec![Defect::JwksNotCached], 5)] {
        let e = env(&defects).await;
        // Distinct tokens so the verified-token cache does not hide the key lookups.
        for i in 0..5 {
            let t = e.token_with(|_, c| c["jti"] = json!(format!("n{i}")));
            assert_eq!(e.whoami(&t).await.status, 200);
        }
        assert_eq!(e.idp.jwks_hits(), hits, "{defects:?}");
    }
}

#[tokio::test]
async fn d_discovery_issuer_unchecked() {
    for (defects, status) in [(vec![], 401), (vec![Defect::DiscoveryIssuerUnchecked], 200)] {
        let e = env(&defects).await;
        let evil = "http://127.0.0.1:1/evil".to_string();
        e.idp
            .state
            .issuer_override
            .lock()
            .unwrap()
            .push(("contoso".into(), evil.clone()));
        let t = e.token_with(|_, c| c["iss"] = json!(evil));
        assert_eq!(e.whoami(&t).await.status, status, "{defects:?}");
    }
}

defect_test!(
    d_scheme_case_sensitive,
    Defect::SchemeCaseSensitive,
    200,
    401,
    |e| e
        .get("/api/whoami", "contoso")
        .header("authorization", format!("bearer {}", e.genuine()))
);
defect_test!(d_no_clock_skew, Defect::NoClockSkew, 200, 401, |e| who(
    e,
    e.token_with(|_, c| c["exp"] = json!(now() - 20))
));
defect_test!(
    d_admin_role_not_checked,
    Defect::AdminRoleNotChecked,
    403,
    200,
    |e| e
        .get("/api/admin", "contoso")
        .bearer_auth(e.token_with(|_, c| c["groups"] = json!(["reader"])))
);
defect_test!(
    d_role_substring_match,
    Defect::RoleSubstringMatch,
    403,
    200,
    |e| e
        .get("/api/admin", "contoso")
        .bearer_auth(e.token_with(|_, c| c["groups"] = json!(["administrator"])))
);
defect_test!(
    d_duplicate_authorization_accepted,
    Defect::DuplicateAuthorizationAccepted,
    400,
    200,
    |e| e
        .get("/api/whoami", "contoso")
        .header("authorization", format!("Bearer {}", e.genuine()))
        .header("authorization", "Bearer second")
);
defect_test!(
    d_insufficient_scope_as_401,
    Defect::InsufficientScopeAs401,
    403,
    401,
    |e| e
        .get("/api/admin", "contoso")
        .bearer_auth(e.token_with(|_, c| c["groups"] = json!(["reader"])))
);
defect_test!(
    d_exp_must_be_integer,
    Defect::ExpMustBeInteger,
    200,
    401,
    |e| who(
        e,
        e.token_with(|_, c| c["exp"] = json!(now() as f64 + 600.5))
    )
);

#[tokio::test]
async fn d_no_challenge_on_401() {
    for (defects, has_challenge) in [(vec![], true), (vec![Defect::NoChallengeOn401], false)] {
        let e = env(&defects).await;
        let r = send(e.get("/api/whoami", "contoso")).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.challenge.is_some(), has_challenge, "{defects:?}");
        assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    }
}

#[tokio::test]
async fn d_first_audience_only() {
    for (defects, status) in [(vec![], 200), (vec![Defect::FirstAudienceOnly], 401)] {
        let e = env_with(&defects, |m, _| {
            m["tenants"][0]["valid_audiences"] = json!(["api://first", AUD])
        })
        .await;
        assert_eq!(e.whoami(&e.genuine()).await.status, status, "{defects:?}");
        let first = e.token_with(|_, c| c["aud"] = json!("api://first"));
        assert_eq!(
            e.whoami(&first).await.status,
            200,
            "the first audience still works"
        );
    }
}

// Defects added with the second round of catalog cases.

defect_test!(
    d_blank_hmac_secret,
    Defect::BlankHmacSecret,
    401,
    200,
    |e| who(
        e,
        mint(
            &json!({"alg":"HS256","typ":"at+jwt","kid":"k1"}),
            &e.claims(),
            &EncodingKey::from_secret(b""),
            Algorithm::HS256
        )
    )
);
defect_test!(
    d_algs_not_from_discovery,
    Defect::AlgsNotFromDiscovery,
    401,
    200,
    |e| {
        // The test IdP advertises RS256, ES256, EdDSA (and the never-allowed HS256, none);
        // k1 publishes no `alg` of its own here, so only the advertised list refuses PS256.
        for k in e.idp.state.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
        {
            k.as_object_mut().unwrap().remove("alg");
        }
        who(
            e,
            mint(
                &json!({"alg":"PS256","typ":"at+jwt","kid":"k1"}),
                &e.claims(),
                &e.k.rsa1,
                Algorithm::PS256,
            ),
        )
    }
);
defect_test!(d_jwk_alg_ignored, Defect::JwkAlgIgnored, 401, 200, |e| {
    // k1 is published for RS512 only; the token is RS256 (advertised) under k1.
    e.idp.state.jwks.lock().unwrap()["keys"][0]["alg"] = json!("RS512");
    who(e, e.genuine())
});
defect_test!(
    d_key_type_mismatch_crashes,
    Defect::KeyTypeMismatchCrashes,
    401,
    500,
    |e| who(e, e.token_with(|h, _| h["kid"] = json!("e1")))
);
defect_test!(d_tid_unchecked, Defect::TidUnchecked, 401, 200, |e| who(
    e,
    e.token_with(|_, c| c["tid"] = json!("fabrikam"))
));
defect_test!(
    d_bearer_token_unquoted,
    Defect::BearerTokenUnquoted,
    401,
    200,
    |e| e
        .get("/api/whoami", "contoso")
        .header("Authorization", format!("Bearer \"{}\"", e.genuine()))
);

#[tokio::test]
async fn tid_naming_the_issuers_tenant_is_accepted() {
    let e = env(&[]).await;
    let t = e.token_with(|_, c| c["tid"] = json!("contoso"));
    assert_eq!(e.whoami(&t).await.status, 200);
    assert_invalid_token(&e.whoami(&e.token_with(|_, c| c["tid"] = json!(7))).await);
}

#[tokio::test]
async fn d_x5u_fetched() {
    for (defects, hits) in [(vec![], 0), (vec![Defect::X5uFetched], 1)] {
        let e = env(&defects).await;
        let t = mint(
            &json!({"alg":"RS256","typ":"at+jwt","kid":"evil",
                    "x5u": format!("{}/attacker/jwks", e.idp.base)}),
            &e.claims(),
            &e.k.rsa2,
            Algorithm::RS256,
        );
        assert_invalid_token(&e.whoami(&t).await);
        assert_eq!(
            e.idp.state.attacker_hits.load(Ordering::SeqCst),
            hits,
            "{defects:?}"
        );
    }
}

#[tokio::test]
async fn d_tenant_from_any_channel() {
    // Header source: fabrikam's token on contoso's header, fabrikam named by the Host subdomain.
    for (defects, expected) in [(vec![], 401), (vec![Defect::TenantFromAnyChannel], 200)] {
        let e = env(&defects).await;
        let foreign = mint(
            &e.header(),
            &e.claims_for("fabrikam"),
            &e.k.rsa1,
            Algorithm::RS256,
        );
        let r = send(
            e.get("/api/whoami", "contoso")
                .header("Host", "fabrikam.api.example")
                .bearer_auth(foreign),
        )
        .await;
        assert_eq!(r.status, expected, "{defects:?}: {}", r.body);
    }
}

defect_test!(d_x5c_trusted, Defect::X5cTrusted, 401, 200, |e| {
    // A self-signed certificate for the attacker's key (fixtures/rsa2-cert.b64, made with
    // `openssl req -x509 -key rsa2.pem -subj /CN=attacker -outform DER | base64 -w0`).
    let cert = String::from_utf8(fixture("rsa2-cert.b64")).unwrap();
    who(
        e,
        mint(
            &json!({"alg":"RS256","typ":"at+jwt","kid":"k1","x5c":[cert.trim()]}),
            &e.claims(),
            &e.k.rsa2,
            Algorithm::RS256,
        ),
    )
});

#[tokio::test]
async fn d_https_metadata_not_enforced() {
    // The test IdP is plain HTTP; the manifest requires HTTPS metadata.
    let require_https = |m: &mut Value, _: &Idp| m["require_https_metadata"] = json!(true);
    for (defects, expected, fetched) in [
        (vec![], 401, false),
        (vec![Defect::HttpsMetadataNotEnforced], 200, true),
    ] {
        let e = env_with(&defects, require_https).await;
        assert_eq!(e.whoami(&e.genuine()).await.status, expected, "{defects:?}");
        assert_eq!(e.idp.total_hits() > 0, fetched, "{defects:?}");
    }
}

// Defects that earned the formerly pending cases their place.

defect_test!(d_iat_max_age, Defect::IatMaxAge, 200, 401, |e| who(
    e,
    e.token_with(|_, c| c["iat"] = json!(now() - 86_400))
));
defect_test!(
    d_empty_allow_list_denies_all,
    Defect::EmptyAllowListDeniesAll,
    200,
    401,
    |e| e.get("/api/whoami", "fabrikam").bearer_auth(mint(
        &e.header(),
        &e.claims_for("fabrikam"),
        &e.k.rsa1,
        Algorithm::RS256
    ))
);
defect_test!(
    d_exp_overflow_crashes,
    Defect::ExpOverflowCrashes,
    200,
    500,
    |e| who(
        e,
        e.token_with(|_, c| c["exp"] = json!(99_999_999_999_999i64))
    )
);
defect_test!(
    d_huge_token_crashes,
    Defect::HugeTokenCrashes,
    401,
    500,
    |e| who(e, "x".repeat(40 * 1024))
);
defect_test!(
    d_missing_iat_crashes,
    Defect::MissingIatCrashes,
    401,
    500,
    |e| who(
        e,
        e.token_with(|_, c| {
            c.as_object_mut().unwrap().remove("iat");
        })
    )
);
defect_test!(
    d_typ_media_prefix_refused,
    Defect::TypMediaPrefixRefused,
    200,
    401,
    |e| who(
        e,
        e.token_with(|h, _| h["typ"] = json!("application/at+jwt"))
    )
);
defect_test!(
    d_bearer_split_on_space,
    Defect::BearerSplitOnSpace,
    200,
    401,
    |e| e
        .get("/api/whoami", "contoso")
        .header("Authorization", format!("Bearer  {}", e.genuine()))
);
/// A request whose `Authorization` value is `value` with the genuine token in place of `{}`.
fn authorized(e: &Env, value: &str) -> reqwest::RequestBuilder {
    e.get("/api/whoami", "contoso")
        .header("Authorization", value.replace("{}", &e.genuine()))
}
defect_test!(d_scheme_by_length, Defect::SchemeByLength, 401, 200, |e| {
    authorized(e, "Digest {}")
});
defect_test!(
    d_bearer_split_on_prefix,
    Defect::BearerSplitOnPrefix,
    401,
    200,
    |e| authorized(e, "XBearer {}")
);
defect_test!(
    d_bearer_prefix_removed,
    Defect::BearerPrefixRemoved,
    401,
    200,
    |e| authorized(e, "Bearer Bearer {}")
);
defect_test!(
    d_authorization_comma_split,
    Defect::AuthorizationCommaSplit,
    401,
    200,
    |e| authorized(e, "Bearer {}, Basic dXNlcjpwYXNz")
);
defect_test!(
    d_small_header_limit,
    Defect::SmallHeaderLimit,
    200,
    431,
    |e| who(e, e.token_with(|_, c| c["pad"] = json!("p".repeat(5000))))
);
defect_test!(d_body_token_on_get, Defect::BodyTokenOnGet, 400, 200, |e| e
    .client
    .get(format!("{}/api/whoami", e.url))
    .header("X-Tenant-Slug", "contoso")
    .header("Content-Type", "application/x-www-form-urlencoded")
    .body(format!("access_token={}", e.genuine())));

#[tokio::test]
async fn d_first_client_id_only() {
    let two_clients = |m: &mut Value, _: &Idp| {
        m["tenants"][0]["allowed_client_ids"] = json!(["someone-else", "contoso-daemon"]);
    };
    for (defects, expected) in [(vec![], 200), (vec![Defect::FirstClientIdOnly], 401)] {
        let e = env_with(&defects, two_clients).await;
        assert_eq!(e.whoami(&e.genuine()).await.status, expected, "{defects:?}");
    }
}

#[tokio::test]
async fn bearer_split_on_space_throws_on_a_bare_scheme() {
    let e = env(&[Defect::BearerSplitOnSpace]).await;
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", "Bearer"),
    )
    .await;
    assert_eq!(r.status, 500, "{}", r.body);
    let e = env(&[]).await;
    let r = send(
        e.get("/api/whoami", "contoso")
            .header("Authorization", "Bearer"),
    )
    .await;
    assert_invalid_token(&r);
}

/// The genuine token's three segments.
fn segments(t: &str) -> (String, String, String) {
    let mut p = t.split('.').map(str::to_owned);
    (p.next().unwrap(), p.next().unwrap(), p.next().unwrap())
}

defect_test!(
    d_segments_split_loosely,
    Defect::SegmentsSplitLoosely,
    401,
    200,
    |e| who(e, format!("{}.e30", e.genuine()))
);
defect_test!(
    d_jws_json_accepted,
    Defect::JwsJsonAccepted,
    401,
    200,
    |e| {
        let (h, p, s) = segments(&e.genuine());
        who(
            e,
            format!(r#"{{"protected":"{h}","payload":"{p}","signature":"{s}"}}"#),
        )
    }
);
defect_test!(
    d_nested_jwt_unwrapped,
    Defect::NestedJwtUnwrapped,
    401,
    200,
    |e| {
        // A genuine token as the payload of an outer layer with a junk signature.
        let outer = json!({"alg": "RS256", "typ": "at+jwt", "kid": "k1", "cty": "JWT"});
        let inner = URL_SAFE_NO_PAD.encode(e.genuine());
        who(e, format!("{}.{inner}.AAAA", b64(&outer)))
    }
);
defect_test!(d_cnf_ignored, Defect::CnfIgnored, 401, 200, |e| who(
    e,
    e.token_with(|_, c| c["cnf"] = json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}))
));

#[tokio::test]
async fn d_kid_cache_across_tenants() {
    // fabrikam's IdP publishes another key under its own kid.
    let k = keys();
    let other_idp =
        Idp::start(json!({"keys": [public_jwk(&k.rsa2, Algorithm::RS256, "k2")]})).await;
    let fabrikam = other_idp.issuer("fabrikam");
    for (defects, expected) in [(vec![], 401), (vec![Defect::KidCacheAcrossTenants], 200)] {
        let address = format!("{fabrikam}/.well-known/openid-configuration");
        let e = env_with(&defects, |m, _| {
            m["tenants"][1]["metadata_address"] = json!(address);
        })
        .await;
        let header = json!({"alg": "RS256", "typ": "at+jwt", "kid": "k2"});
        let mut own = e.claims_for("fabrikam");
        own["iss"] = json!(fabrikam);
        let fabrikams = mint(&header, &own, &e.k.rsa2, Algorithm::RS256);
        let r = send(e.get("/api/whoami", "fabrikam").bearer_auth(fabrikams)).await;
        assert_eq!(r.status, 200, "fabrikam's own token: {}", r.body);
        // contoso's issuer and audience, signed by fabrikam's key under fabrikam's kid.
        let forged = mint(&header, &e.claims(), &e.k.rsa2, Algorithm::RS256);
        let r = e.whoami(&forged).await;
        assert_eq!(r.status, expected, "{defects:?}: {}", r.body);
        assert_eq!(e.whoami(&e.genuine()).await.status, 200);
    }
}

#[tokio::test]
async fn d_path_slug_first_segment() {
    for (defects, expected) in [(vec![], 200), (vec![Defect::PathSlugFirstSegment], 401)] {
        let e = env_with(&defects, |m, _| {
            m["tenant_source"] = json!({"kind": "path", "prefix": "/tenants"});
        })
        .await;
        let url = format!("{}/tenants/contoso/api/whoami", e.url);
        let r = send(e.client.get(url).bearer_auth(e.genuine())).await;
        assert_eq!(r.status, expected, "{defects:?}: {}", r.body);
    }
}

#[tokio::test]
async fn a_path_prefix_that_cannot_be_a_route_is_refused_at_start() {
    for prefix in ["tenants", "/tenants/", "/{x}", "//t"] {
        let mut m = json!({"tenant_source": {"kind": "path", "prefix": prefix}, "tenants": []});
        m["contract"] = json!("byoid-target/2");
        let e = Manifest::from_json(&m.to_string()).unwrap_err();
        assert_eq!(e.field(), Some("tenant_source.prefix"), "{prefix}: {e}");
    }
}

#[tokio::test]
async fn d_agree_header_ignored() {
    for (defects, expected) in [(vec![], 401), (vec![Defect::AgreeHeaderIgnored], 200)] {
        let e = env_with(&defects, |m, _| {
            m["tenants"][0]["agree_header"] = json!("X-Gateway-Tenant");
        })
        .await;
        let agreeing = who(&e, e.genuine()).header("X-Gateway-Tenant", "contoso");
        assert_eq!(send(agreeing).await.status, 200, "{defects:?}");
        let other = who(&e, e.genuine()).header("X-Gateway-Tenant", "fabrikam");
        let r = send(other).await;
        assert_eq!(r.status, expected, "{defects:?}: {}", r.body);
        if expected == 401 {
            assert_invalid_token(&r);
        }
    }
}

// ------------------------------------------- discovery documents, on the mock IdPs

/// The manifest entry of a mock IdP tenant, as byoid writes it.
fn mock_entry(t: &mock_idp::Tenant) -> Value {
    json!({
        "slug": t.slug(),
        "metadata_address": t.discovery_url(),
        "valid_issuers": null,
        "valid_audiences": [t.audience()],
        "allowed_client_ids": [t.clients()[0].id],
        "client_id_claims": t.flavor().client_id_claims(),
    })
}

/// What the reference (with `defects`) answers to `t`'s genuine token, `t` alone in its
/// manifest; HTTPS metadata is required when the IdP serves TLS.
async fn genuine_on_mock(idp: &mock_idp::MockIdp, t: &mock_idp::Tenant, defects: &[Defect]) -> u16 {
    answer_on_mock(idp, t, defects, &t.access_token()).await
}

/// What the reference (with `defects`) answers to `token` for `t`, `t` alone in its manifest.
async fn answer_on_mock(
    idp: &mock_idp::MockIdp,
    t: &mock_idp::Tenant,
    defects: &[Defect],
    token: &str,
) -> u16 {
    let m = json!({
        "contract": "byoid-target/2",
        "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
        "require_https_metadata": idp.uri().starts_with("https://"),
        "ca_bundle": idp.ca_pem_path(),
        "tenants": [mock_entry(t)],
    });
    let url = start_target(m, defects.iter().copied().collect(), false).await;
    let r = send(
        reqwest::Client::new()
            .get(format!("{url}/api/whoami"))
            .header("X-Tenant-Slug", t.slug())
            .bearer_auth(token),
    )
    .await;
    r.status
}

#[tokio::test]
async fn d_jwks_uri_guessed() {
    use mock_idp::{Faults, Flavor, MockIdp, TenantSpec};
    let idp = MockIdp::builder().start().await.unwrap();
    // Auth0 serves its keys at `{issuer}.well-known/jwks.json`: the guess finds them.
    let t = idp
        .add_tenant(TenantSpec::new("acme", Flavor::Auth0))
        .unwrap();
    t.set_faults(Faults {
        discovery_omit: vec!["jwks_uri".into()],
        ..Faults::default()
    });
    assert_eq!(genuine_on_mock(&idp, &t, &[]).await, 401);
    assert_eq!(t.traffic().jwks, 0, "no jwks_uri, nothing fetched");
    assert_eq!(
        genuine_on_mock(&idp, &t, &[Defect::JwksUriGuessed]).await,
        200
    );
    assert_eq!(t.traffic().jwks, 1, "the guessed address");
    t.clear_faults();
    assert_eq!(
        genuine_on_mock(&idp, &t, &[Defect::JwksUriGuessed]).await,
        200
    );
}

#[tokio::test]
async fn d_discovery_issuer_optional() {
    use mock_idp::{Faults, Flavor, MockIdp, TenantSpec};
    let idp = MockIdp::builder().start().await.unwrap();
    let t = idp
        .add_tenant(TenantSpec::new("acme", Flavor::Generic))
        .unwrap();
    t.set_faults(Faults {
        discovery_omit: vec!["issuer".into()],
        ..Faults::default()
    });
    assert_eq!(genuine_on_mock(&idp, &t, &[]).await, 401);
    let defect = [Defect::DiscoveryIssuerOptional];
    assert_eq!(genuine_on_mock(&idp, &t, &defect).await, 200);
    t.clear_faults();
    assert_eq!(genuine_on_mock(&idp, &t, &defect).await, 200);
}

#[tokio::test]
async fn d_jwks_uri_scheme_unchecked() {
    use mock_idp::{Flavor, MockIdp, TenantSpec};
    let idp = MockIdp::builder().tls().start().await.unwrap();
    let mixed = idp
        .add_tenant(TenantSpec::new("mixed", Flavor::Generic).jwks_over_plain_http())
        .unwrap();
    assert!(mixed.jwks_url().starts_with("http://"));
    assert_eq!(genuine_on_mock(&idp, &mixed, &[]).await, 401);
    assert_eq!(
        mixed.traffic().jwks,
        0,
        "the http jwks_uri is never fetched"
    );
    let defect = [Defect::JwksUriSchemeUnchecked];
    assert_eq!(genuine_on_mock(&idp, &mixed, &defect).await, 200);
    assert_eq!(mixed.traffic().jwks, 1);
    // The metadata address itself is still held to HTTPS, and all-HTTPS tenants work.
    let plain = idp
        .add_tenant(TenantSpec::new("plain", Flavor::Generic).plain_http())
        .unwrap();
    assert_eq!(genuine_on_mock(&idp, &plain, &defect).await, 401);
    assert_eq!(plain.traffic().discovery, 0);
    let https = idp
        .add_tenant(TenantSpec::new("https", Flavor::Generic))
        .unwrap();
    assert_eq!(genuine_on_mock(&idp, &https, &defect).await, 200);
}

defect_test!(
    d_issuer_trailing_slash_ignored,
    Defect::IssuerTrailingSlashIgnored,
    401,
    200,
    |e| who(
        e,
        e.token_with(|_, c| c["iss"] = json!(format!("{}/", e.idp.issuer("contoso"))))
    )
);

#[tokio::test]
async fn d_issuer_by_tenant_id() {
    let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    let v1_only = |m: &mut Value, _: &Idp| {
        m["tenants"][0]["valid_issuers"] = json!([format!("https://sts.windows.net/{tid}/")]);
    };
    for (defects, expected) in [(vec![], 401), (vec![Defect::IssuerByTenantId], 200)] {
        let e = env_with(&defects, v1_only).await;
        for iss in [
            format!("https://login.microsoftonline.com/{tid}/v2.0"),
            format!("https://sts.windows.net/{tid}"),
        ] {
            let t = e.token_with(|_, c| c["iss"] = json!(iss));
            assert_eq!(e.whoami(&t).await.status, expected, "{defects:?} {iss}");
        }
        let v1 = e.token_with(|_, c| c["iss"] = json!(format!("https://sts.windows.net/{tid}/")));
        assert_eq!(e.whoami(&v1).await.status, 200, "{defects:?}");
        let other = e.token_with(|_, c| {
            c["iss"] = json!("https://sts.windows.net/00000000-86f1-41af-91ab-2d7cd011db47/")
        });
        assert_invalid_token(&e.whoami(&other).await);
    }
}

#[tokio::test]
async fn d_config_cached_by_metadata_address() {
    // fabrikam is a second API of contoso's IdP: the same metadata address, another audience.
    let shared = |m: &mut Value, _: &Idp| {
        m["tenants"][1]["metadata_address"] = m["tenants"][0]["metadata_address"].clone();
        m["tenants"][1]["valid_audiences"] = json!(["api://fabrikam"]);
    };
    for (defects, bled) in [
        (vec![], false),
        (vec![Defect::ConfigCachedByMetadataAddress], true),
    ] {
        let e = env_with(&defects, shared).await;
        let for_contoso = e.genuine();
        assert_eq!(e.whoami(&for_contoso).await.status, 200, "{defects:?}");
        let on_fabrikam = send(e.get("/api/whoami", "fabrikam").bearer_auth(&for_contoso)).await;
        assert_eq!(on_fabrikam.status == 200, bled, "{defects:?}");
        let own = e.token_with(|_, c| c["aud"] = json!("api://fabrikam"));
        let own = send(e.get("/api/whoami", "fabrikam").bearer_auth(&own)).await;
        assert_eq!(own.status == 200, !bled, "{defects:?}");
    }
}

// Defects added with the third round of catalog cases: key confusion in every encoding, the
// ECDSA range, and `kid`/`alg` as the header really carries them.

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).unwrap()
}

/// An HS256 token under `kid` keyed with `secret`.
fn hs256(e: &Env, kid: &str, secret: &[u8]) -> String {
    mint(
        &json!({"alg":"HS256","typ":"at+jwt","kid":kid}),
        &e.claims(),
        &EncodingKey::from_secret(secret),
        Algorithm::HS256,
    )
}

#[tokio::test]
async fn alg_from_header_tries_every_published_form() {
    for (defects, expected) in [(vec![], 401), (vec![Defect::AlgFromHeader], 200)] {
        let e = env(&defects).await;
        // The JWK's text as the IdP serves it, the OpenSSH lines (by ssh-keygen) and the EC
        // key's SPKI PEM (by openssl).
        let ec_jwk_text = e.idp.state.jwks.lock().unwrap()["keys"][1].to_string();
        for (kid, secret) in [
            ("e1", ec_jwk_text.into_bytes()),
            (
                "k1",
                fixture_text("rsa1.pub.ssh").trim_end().as_bytes().to_vec(),
            ),
            (
                "e1",
                fixture_text("ec256.pub.ssh").trim_end().as_bytes().to_vec(),
            ),
            ("e1", fixture("ec256.pub.pem")),
        ] {
            let r = e.whoami(&hs256(&e, kid, &secret)).await;
            assert_eq!(r.status, expected, "{defects:?} {kid}: {}", r.body);
        }
    }
}

defect_test!(
    d_hmac_key_blocklist,
    Defect::HmacKeyBlocklist,
    401,
    200,
    |e| who(
        e,
        hs256(e, "e1", fixture_text("ec256.pub.ssh").trim_end().as_bytes())
    )
);

#[tokio::test]
async fn hmac_key_blocklist_still_refuses_what_it_lists() {
    let e = env(&[Defect::HmacKeyBlocklist]).await;
    for (kid, secret) in [
        (
            "k1",
            fixture_text("rsa1.pub.ssh").trim_end().as_bytes().to_vec(),
        ),
        ("k1", fixture("rsa1.pub.pem")),
        ("e1", fixture("ec256.pub.pem")),
    ] {
        assert_invalid_token(&e.whoami(&hs256(&e, kid, &secret)).await);
    }
}

defect_test!(
    d_x5c_pem_hmac_secret,
    Defect::X5cPemHmacSecret,
    401,
    200,
    |e| {
        // A key published with its certificate (fixtures/rsa2-cert.b64; rsa2-cert.pem is
        // `openssl x509 -outform PEM` of it, 64-column lines).
        let mut jwk = public_jwk(&e.k.rsa2, Algorithm::RS256, "c1");
        jwk["x5c"] = json!([fixture_text("rsa2-cert.b64").trim()]);
        e.idp.state.jwks.lock().unwrap()["keys"]
            .as_array_mut()
            .unwrap()
            .push(jwk);
        who(e, hs256(e, "c1", &fixture("rsa2-cert.pem")))
    }
);

/// An ES256 signature with r = s = n, the order of P-256.
fn order_es256(e: &Env) -> String {
    let h = json!({"alg":"ES256","typ":"at+jwt","kid":"e1"});
    let n: Vec<u8> = (0..32)
        .map(|i| {
            let hex = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    format!(
        "{}.{}.{}",
        b64(&h),
        b64(&e.claims()),
        URL_SAFE_NO_PAD.encode([n.clone(), n].concat())
    )
}

defect_test!(
    d_ecdsa_range_unchecked,
    Defect::EcdsaRangeUnchecked,
    401,
    200,
    |e| who(e, order_es256(e))
);

#[tokio::test]
async fn ecdsa_range_unchecked_keeps_its_zero_check() {
    let e = env(&[Defect::EcdsaRangeUnchecked]).await;
    assert_invalid_token(&e.whoami(&zero_es256(&e)).await);
}

// Without `kid`, the one RSA key of the test JWKS verifies the token: the clean target
// accepts it; the defect reads `header['kid']` and throws.
defect_test!(
    d_header_members_unchecked,
    Defect::HeaderMembersUnchecked,
    200,
    500,
    |e| who(
        e,
        e.token_with(|h, _| {
            h.as_object_mut().unwrap().remove("kid");
        })
    )
);

#[tokio::test]
async fn header_members_unchecked_throws_on_other_types() {
    for (defects, expected) in [(vec![], 401), (vec![Defect::HeaderMembersUnchecked], 500)] {
        let e = env(&defects).await;
        for (name, v) in [
            ("alg", json!(null)),
            ("alg", json!(["RS256"])),
            ("kid", json!(7)),
        ] {
            let r = e.whoami(&e.token_with(|h, _| h[name] = v.clone())).await;
            assert_eq!(r.status, expected, "{defects:?} {name}: {}", r.body);
        }
    }
}

defect_test!(
    d_kid_lookup_unchecked,
    Defect::KidLookupUnchecked,
    401,
    200,
    |e| who(e, hs256(e, "../../dev/null", b""))
);

#[tokio::test]
async fn kid_lookup_unchecked_sql_and_inherited_members() {
    let long = "k".repeat(8192);
    for (defects, sql, thrown) in [
        (vec![], 401, 401),
        (vec![Defect::KidLookupUnchecked], 200, 500),
    ] {
        let e = env(&defects).await;
        let r = e
            .whoami(&hs256(&e, "x' UNION SELECT 'key';--", b"key"))
            .await;
        assert_eq!(r.status, sql, "{defects:?}: {}", r.body);
        for kid in ["constructor", "__proto__", long.as_str()] {
            let r = e.whoami(&e.token_with(|h, _| h["kid"] = json!(kid))).await;
            assert_eq!(
                r.status,
                thrown,
                "{defects:?} {}: {}",
                &kid[..kid.len().min(20)],
                r.body
            );
        }
    }
}

defect_test!(
    d_base64_decoded_leniently,
    Defect::Base64DecodedLeniently,
    401,
    200,
    |e| {
        // The genuine signature in the standard alphabet with padding.
        let (h, p, s) = segments(&e.genuine());
        let raw = URL_SAFE_NO_PAD.decode(s).unwrap();
        let padded = base64::engine::general_purpose::STANDARD.encode(raw);
        who(e, format!("{h}.{p}.{padded}"))
    }
);
defect_test!(
    d_unknown_header_refused,
    Defect::UnknownHeaderRefused,
    200,
    401,
    |e| who(e, e.token_with(|h, _| h["x-byoid-ext"] = json!("ignored")))
);
defect_test!(
    d_json_encoding_sniffed,
    Defect::JsonEncodingSniffed,
    401,
    200,
    |e| {
        // The claims as UTF-16LE behind a byte order mark, genuinely signed.
        let text = e.claims().to_string();
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        let input = format!("{}.{}", b64(&e.header()), URL_SAFE_NO_PAD.encode(utf16));
        let sig =
            jsonwebtoken::crypto::sign(input.as_bytes(), &e.k.rsa1, Algorithm::RS256).unwrap();
        who(e, format!("{input}.{sig}"))
    }
);

#[tokio::test]
async fn d_jwks_parsed_strictly() {
    for (defects, expected) in [(vec![], 200), (vec![Defect::JwksParsedStrictly], 401)] {
        let e = env(&defects).await;
        e.idp.state.jwks.lock().unwrap()["x_unknown_member"] = json!(true);
        assert_eq!(e.whoami(&e.genuine()).await.status, expected, "{defects:?}");
    }
}

#[tokio::test]
async fn d_jwks_first_duplicate_wins() {
    use mock_idp::forge::{self, Signature};
    use mock_idp::{Flavor, MintOptions, MockIdp, Quirks, TenantSpec};
    let idp = MockIdp::builder().start().await.unwrap();
    let t = idp
        .add_tenant(TenantSpec::new("acme", Flavor::Generic))
        .unwrap();
    t.set_quirks(Quirks {
        jwks_duplicate: Some("keys".into()),
        ..Quirks::default()
    });
    // The tenant's own claims and kid, signed by the impostor the first `keys` lists.
    let parts = t.parts(&MintOptions::default());
    let forged = forge::compact(
        Value::Object(parts.header).to_string().as_bytes(),
        Value::Object(parts.claims).to_string().as_bytes(),
        &Signature::Key {
            key: t.impostor_key(),
            alg: "RS256".into(),
        },
    );
    assert_eq!(
        genuine_on_mock(&idp, &t, &[]).await,
        200,
        "the last `keys` is read"
    );
    assert_eq!(answer_on_mock(&idp, &t, &[], &forged).await, 401);
    let first_wins = [Defect::JwksFirstDuplicateWins];
    assert_eq!(answer_on_mock(&idp, &t, &first_wins, &forged).await, 200);
}

#[tokio::test]
async fn d_bare_bearer_challenge() {
    for (defects, want) in [
        (vec![], r#"Bearer realm="byoid""#),
        (vec![Defect::BareBearerChallenge], "Bearer"),
    ] {
        let e = env(&defects).await;
        let r = send(e.get("/api/whoami", "contoso")).await;
        assert_eq!(r.status, 401);
        assert_eq!(r.challenge.as_deref(), Some(want), "{defects:?}");
    }
}

#[tokio::test]
async fn d_error_description_echoes_kid() {
    for (defects, echoed) in [
        (vec![], false),
        (vec![Defect::ErrorDescriptionEchoesKid], true),
    ] {
        let e = env(&defects).await;
        let r = e
            .whoami(&e.token_with(|h, _| h["kid"] = json!("k\"\\\u{e9}")))
            .await;
        assert_invalid_token(&r);
        let challenge = r.challenge.unwrap_or_default();
        assert_eq!(
            challenge.contains(r#"error_description="unknown kid k\"\\"#),
            echoed,
            "{defects:?}: {challenge}"
        );
    }
}

#[tokio::test]
async fn d_oidc_discovery_only() {
    use mock_idp::{Flavor, MockIdp, TenantSpec};
    let idp = MockIdp::builder().start().await.unwrap();
    let t = idp
        .add_tenant(TenantSpec::new("acme", Flavor::Generic))
        .unwrap();
    // The tenant configured with its RFC 8414 metadata URL instead of its discovery URL.
    let mut entry = mock_entry(&t);
    entry["metadata_address"] = json!(t.oauth_metadata_url().unwrap());
    for (defects, expected) in [(vec![], 200), (vec![Defect::OidcDiscoveryOnly], 401)] {
        let m = json!({
            "contract": "byoid-target/2",
            "tenant_source": {"kind": "header", "header": "X-Tenant-Slug"},
            "tenants": [entry.clone()],
        });
        let url = start_target(m, defects.iter().copied().collect(), false).await;
        let r = send(
            reqwest::Client::new()
                .get(format!("{url}/api/whoami"))
                .header("X-Tenant-Slug", t.slug())
                .bearer_auth(t.access_token()),
        )
        .await;
        assert_eq!(r.status, expected, "{defects:?}: {:?}", r.challenge);
    }
}
