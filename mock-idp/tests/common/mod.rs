//! Helpers the mock IdP's integration tests share: an independent check that a token is
//! genuine, and a request's JSON answer.

#![allow(dead_code)]

use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
use serde_json::Value;

/// Verifies `token` with the key of matching `kid` (or `x5t`) in `jwks`, the way an
/// independent library does; returns the claims.
pub fn verify(token: &str, jwks: &Value, issuer: &str, aud: &str) -> Value {
    let header = decode_header(token).expect("header");
    let set: JwkSet = serde_json::from_value(jwks.clone()).expect("jwks");
    let kid = header
        .kid
        .clone()
        .or(header.x5t.clone())
        .expect("kid or x5t");
    let jwk = set.find(&kid).expect("key published");
    let key = DecodingKey::from_jwk(jwk).expect("decoding key");
    let mut v = Validation::new(header.alg);
    v.set_issuer(&[issuer]);
    v.set_audience(&[aud]);
    v.validate_nbf = true;
    decode::<Value>(token, &key, &v)
        .expect("genuine token verifies")
        .claims
}

/// Sends `request` and parses its answer as JSON (whatever the status).
pub async fn send_json(request: reqwest::RequestBuilder) -> Value {
    request
        .send()
        .await
        .expect("send")
        .json()
        .await
        .expect("json")
}
