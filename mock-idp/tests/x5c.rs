//! `x5c` and `x5t` on the keys of the flavors that publish them (Entra, Auth0): a real
//! certificate of the key, and its real SHA-1 thumbprint, in the JWKS and Entra headers.

mod common;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use common::send_json;
use jsonwebtoken::decode_header;
use mock_idp::keys::{KeyKind, SigningKey};
use mock_idp::{Flavor, MockIdp, Quirks, TenantSpec};
use sha1::Digest;

#[tokio::test]
async fn entra_and_auth0_keys_carry_their_certificate_and_thumbprint() {
    let mut b = MockIdp::builder().seed(11);
    for f in Flavor::ALL {
        b = b.tenant(TenantSpec::new(f.name(), f));
    }
    let idp = b.start().await.unwrap();
    let client = reqwest::Client::new();
    for f in Flavor::ALL {
        let t = idp.tenant(f.name()).unwrap();
        let jwks = send_json(client.get(t.jwks_url())).await;
        let jwk = &jwks["keys"][0];
        let key = t.active_key();
        assert_eq!(jwk["kid"], key.kid(), "{f}: kid unchanged");
        if !(f.is_entra() || f == Flavor::Auth0) {
            assert!(
                jwk.get("x5c").is_none() && jwk.get("x5t").is_none(),
                "{f}: no certificate"
            );
            continue;
        }
        let x5c = jwk["x5c"].as_array().expect("x5c array");
        assert_eq!(x5c.len(), 1, "{f}: one self-signed certificate");
        let der = STANDARD
            .decode(x5c[0].as_str().unwrap())
            .expect("standard base64 DER");
        assert_eq!(der, key.certificate_der().unwrap());
        // The certificate's SubjectPublicKeyInfo is the JWK's key.
        let spki = key.spki_der();
        assert!(
            der.windows(spki.len()).any(|w| w == spki),
            "{f}: SPKI inside the certificate"
        );
        let n = URL_SAFE_NO_PAD.decode(jwk["n"].as_str().unwrap()).unwrap();
        assert!(
            der.windows(n.len()).any(|w| w == n),
            "{f}: modulus inside the certificate"
        );
        // x5t is the real thumbprint: base64url SHA-1 of the DER.
        let x5t = URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der));
        assert_eq!(jwk["x5t"], x5t.as_str(), "{f}");
        assert_eq!(key.x5t(), Some(x5t.as_str()));
        let header = decode_header(t.access_token()).unwrap();
        if f.is_entra() {
            assert_eq!(
                header.x5t.as_deref(),
                Some(x5t.as_str()),
                "{f}: header x5t matches the JWKS"
            );
            assert_eq!(header.kid.as_deref(), Some(key.kid()));
        } else {
            assert_eq!(header.x5t, None, "Auth0 headers carry kid only");
        }
    }
    // Every Entra tenant shares the keys and so the certificates.
    let (v1, v2) = (
        idp.tenant("entra-v1").unwrap(),
        idp.tenant("entra-v2").unwrap(),
    );
    assert_eq!(v1.jwks()["keys"][0]["x5c"], v2.jwks()["keys"][0]["x5c"]);
}

#[test]
fn certificates_are_cached_and_stable_per_key() {
    let key = SigningKey::derive(11, "x5c-test", KeyKind::Rsa);
    let a = key.certificate_der().unwrap().as_ptr();
    assert_eq!(
        a,
        key.certificate_der().unwrap().as_ptr(),
        "made once per key"
    );
    // RSA PKCS#1 v1.5 signatures and fixed validity dates: the same bytes every run.
    assert_eq!(key.x5t().unwrap().len(), 27);
    assert_eq!(key.x5t_s256().unwrap().len(), 43);
    for kind in [KeyKind::P256, KeyKind::P384, KeyKind::Ed25519] {
        let k = SigningKey::derive(11, "x5c-test", kind);
        let der = k
            .certificate_der()
            .unwrap_or_else(|| panic!("{kind:?} certificate"));
        assert!(
            der.windows(k.spki_der().len()).any(|w| w == k.spki_der()),
            "{kind:?}"
        );
    }
}

#[tokio::test]
async fn x5t_only_identifies_the_key_by_thumbprint_in_every_flavor() {
    let idp = MockIdp::builder()
        .seed(11)
        .tenant(TenantSpec::new("g", Flavor::Generic))
        .start()
        .await
        .unwrap();
    let t = idp.tenant("g").unwrap();
    t.set_quirks(Quirks {
        x5t_only: true,
        ..Quirks::default()
    });
    let header = decode_header(t.access_token()).unwrap();
    assert_eq!(header.kid, None);
    let x5t = t.active_key().x5t().unwrap().to_string();
    assert_eq!(header.x5t.as_deref(), Some(x5t.as_str()));
    assert_eq!(
        t.jwks()["keys"][0]["x5t"],
        x5t.as_str(),
        "published so a validator can match it"
    );
    // The duplicate-kid impostor collides on x5t too.
    let entra = idp
        .add_tenant(TenantSpec::new("e", Flavor::EntraV2))
        .unwrap();
    entra.set_quirks(Quirks {
        duplicate_kids: true,
        ..Quirks::default()
    });
    let keys = entra.jwks()["keys"].as_array().unwrap().clone();
    assert_eq!(keys[0]["kid"], keys[1]["kid"]);
    assert_eq!(keys[0]["x5t"], keys[1]["x5t"]);
    assert_ne!(keys[0]["n"], keys[1]["n"]);
}
