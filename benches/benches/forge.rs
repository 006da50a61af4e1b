//! The token forge: one compact token per algorithm, and a genuine token through `Tenant::mint`.
//!
//! What it measures, and why: the harness mints or forges a token for nearly every case (and
//! tests mint thousands), so the per-token cost bounds how fast the catalog can go.
//!
//! * `forge/try_compact/{alg}`: `mock_idp::forge::try_compact` over fixed header and payload
//!   JSON for RS256, RS384, RS512, PS256 (RSA-2048), ES256 (P-256), ES384 (P-384), EdDSA
//!   (Ed25519), HS256 keyed with the RSA public key's SPKI PEM (the algorithm-confusion
//!   forgery) and `alg: none` (no signature: the base64url and formatting floor).
//! * `forge/tenant_mint/generic_rs256`: `Tenant::mint` for a generic RFC 9068 tenant: claims
//!   shaping, JSON serialization and RS256 signing, i.e. what `Tenant::access_token` costs.
//!
//! Keys come from `SigningKey::derive` (cached per process), so no key is generated in the loop.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use mock_idp::forge::{self, PublicKeyEncoding, Signature};
use mock_idp::keys::{KeyKind, SigningKey};
use mock_idp::MintOptions;

const SEED: u64 = 0;

fn payload() -> String {
    serde_json::json!({
        "iss": "http://127.0.0.1:1/bench", "sub": "bench-client", "aud": "https://api.byoid.test/",
        "client_id": "bench-client", "iat": 1_700_000_000, "exp": 1_700_003_600,
        "jti": "6f1c1e8a-0000-4000-8000-000000000000", "scope": "api.read"
    })
    .to_string()
}

fn main() {
    let mut c = Criterion::default().configure_from_args();
    let payload = payload();
    let rsa = SigningKey::derive(SEED, "bench/forge", KeyKind::Rsa);
    let cases: Vec<(&str, Option<KeyKind>, Signature)> = vec![
        (
            "RS256",
            Some(KeyKind::Rsa),
            Signature::Key {
                key: rsa.clone(),
                alg: "RS256".into(),
            },
        ),
        (
            "RS384",
            Some(KeyKind::Rsa),
            Signature::Key {
                key: rsa.clone(),
                alg: "RS384".into(),
            },
        ),
        (
            "RS512",
            Some(KeyKind::Rsa),
            Signature::Key {
                key: rsa.clone(),
                alg: "RS512".into(),
            },
        ),
        (
            "PS256",
            Some(KeyKind::Rsa),
            Signature::Key {
                key: rsa.clone(),
                alg: "PS256".into(),
            },
        ),
        (
            "ES256",
            Some(KeyKind::P256),
            Signature::Key {
                key: SigningKey::derive(SEED, "bench/forge", KeyKind::P256),
                alg: "ES256".into(),
            },
        ),
        (
            "ES384",
            Some(KeyKind::P384),
            Signature::Key {
                key: SigningKey::derive(SEED, "bench/forge", KeyKind::P384),
                alg: "ES384".into(),
            },
        ),
        (
            "EdDSA",
            Some(KeyKind::Ed25519),
            Signature::Key {
                key: SigningKey::derive(SEED, "bench/forge", KeyKind::Ed25519),
                alg: "EdDSA".into(),
            },
        ),
        (
            "HS256-public-key",
            Some(KeyKind::Rsa),
            Signature::Hmac {
                alg: "HS256".into(),
                secret: forge::public_key_bytes(&rsa, PublicKeyEncoding::SpkiPem),
            },
        ),
        ("none", None, Signature::Segment(String::new())),
    ];

    let mut g = c.benchmark_group("forge/try_compact");
    g.throughput(Throughput::Elements(1));
    for (name, kind, sig) in &cases {
        let alg = match *name {
            "HS256-public-key" => "HS256",
            other => other,
        };
        let kid = kind.map(|k| SigningKey::derive(SEED, "bench/forge", k).kid().to_string());
        let header = match kid {
            Some(kid) => format!(r#"{{"typ":"at+jwt","alg":"{alg}","kid":"{kid}"}}"#),
            None => format!(r#"{{"typ":"at+jwt","alg":"{alg}"}}"#),
        };
        // Fail before timing if the forge cannot make this one.
        forge::try_compact(header.as_bytes(), payload.as_bytes(), sig)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        g.bench_function(*name, |b| {
            b.iter(|| {
                forge::try_compact(
                    black_box(header.as_bytes()),
                    black_box(payload.as_bytes()),
                    sig,
                )
                .expect("forge")
            })
        });
    }
    g.finish();

    // A generic tenant needs a running MockIdp; minting itself is synchronous.
    let rt = byoid_benches::runtime();
    let (idp, tenant) = rt.block_on(byoid_benches::generic_idp());
    let opts = MintOptions::default();
    let mut g = c.benchmark_group("forge/tenant_mint");
    g.throughput(Throughput::Elements(1));
    g.bench_function("generic_rs256", |b| {
        b.iter(|| tenant.mint(black_box(&opts)))
    });
    g.finish();
    drop(idp);

    c.final_summary();
}
