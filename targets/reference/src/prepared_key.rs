//! A JWK's public key, parsed once for aws-lc-rs, so that each token's
//! signature check is only the check.
//!
//! `jsonwebtoken::crypto::verify` rebuilds the key on every call: it clones
//! the `DecodingKey`, boxes a verifier and hands `(n, e)` to aws-lc, which
//! makes a fresh RSA key and its Montgomery context each time; a key parsed
//! once (`ParsedPublicKey`) keeps that context, so a check is only the check
//! (the `reference` bench has the figure). The verification
//! algorithms are exactly the ones `jsonwebtoken` 11 uses with its aws-lc-rs
//! backend, so the two accept and refuse the same signatures; a test below
//! compares them on every algorithm.
//!
//! ```
//! use byoid_reference::prepared_key::PreparedKey;
//! use byoid_reference::checks::Algorithm;
//!
//! // An Ed25519 key (RFC 8037 appendix A.1) and its signature of "Example of Ed25519 signing".
//! let x = byoid_reference::token::decode_b64url("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo").unwrap();
//! let key = PreparedKey::ed25519(x);
//! let sig = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";
//! let signing_input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
//! assert!(key.verify(signing_input, sig, Algorithm::EdDSA));
//! assert!(!key.verify(signing_input, sig, Algorithm::RS256)); // wrong key type
//! ```

use std::sync::OnceLock;

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};

use crate::checks::Algorithm;

/// The algorithms a prepared key can check, each with a slot of its own.
const ALGS: usize = 10;

/// The public key material, as the JWK gave it.
#[derive(Clone)]
enum Material {
    /// RSA `n` and `e`, big-endian, as decoded (aws-lc refuses leading zeros,
    /// as it does under `jsonwebtoken`).
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// An uncompressed EC point, `0x04 || x || y`.
    Ec(Vec<u8>),
    /// An Ed25519 public key.
    Ed25519(Vec<u8>),
}

/// A public key prepared for signature checks: parsed for an algorithm on its
/// first check with that algorithm, then reused by every later one.
#[derive(Clone)]
pub struct PreparedKey {
    material: Material,
    /// One parsed key per algorithm slot (see [`slot`]); `None` inside when
    /// aws-lc refused the key for that algorithm (every check then fails).
    parsed: [OnceLock<Option<ParsedPublicKey>>; ALGS],
}

impl std::fmt::Debug for PreparedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.material {
            Material::Rsa { .. } => "RSA",
            Material::Ec(_) => "EC",
            Material::Ed25519(_) => "Ed25519",
        };
        f.debug_tuple("PreparedKey").field(&kind).finish()
    }
}

/// How aws-lc-rs checks one algorithm (the algorithms `jsonwebtoken` 11 uses).
#[derive(Clone, Copy)]
enum Check {
    Rsa(&'static sig::RsaParameters),
    Ecdsa(&'static sig::EcdsaVerificationAlgorithm),
    Ed25519,
}

/// The slot of `alg` and how it is checked, or `None` for an algorithm no
/// public key checks.
fn slot(alg: Algorithm) -> Option<(usize, Check)> {
    Some(match alg {
        Algorithm::RS256 => (0, Check::Rsa(&sig::RSA_PKCS1_2048_8192_SHA256)),
        Algorithm::RS384 => (1, Check::Rsa(&sig::RSA_PKCS1_2048_8192_SHA384)),
        Algorithm::RS512 => (2, Check::Rsa(&sig::RSA_PKCS1_2048_8192_SHA512)),
        Algorithm::PS256 => (3, Check::Rsa(&sig::RSA_PSS_2048_8192_SHA256)),
        Algorithm::PS384 => (4, Check::Rsa(&sig::RSA_PSS_2048_8192_SHA384)),
        Algorithm::PS512 => (5, Check::Rsa(&sig::RSA_PSS_2048_8192_SHA512)),
        Algorithm::ES256 => (6, Check::Ecdsa(&sig::ECDSA_P256_SHA256_FIXED)),
        Algorithm::ES384 => (7, Check::Ecdsa(&sig::ECDSA_P384_SHA384_FIXED)),
        Algorithm::EdDSA => (8, Check::Ed25519),
        Algorithm::ES512 => (9, Check::Ecdsa(&sig::ECDSA_P521_SHA512_FIXED)),
        _ => return None,
    })
}

impl PreparedKey {
    fn new(material: Material) -> Self {
        PreparedKey {
            material,
            parsed: Default::default(),
        }
    }

    /// An RSA key from its big-endian modulus and exponent.
    pub fn rsa(n: Vec<u8>, e: Vec<u8>) -> Self {
        Self::new(Material::Rsa { n, e })
    }

    /// An EC key from its affine coordinates (each the curve's size).
    pub fn ec(x: &[u8], y: &[u8]) -> Self {
        let mut point = Vec::with_capacity(1 + x.len() + y.len());
        point.push(0x04);
        point.extend_from_slice(x);
        point.extend_from_slice(y);
        Self::new(Material::Ec(point))
    }

    /// An Ed25519 key from its 32 bytes.
    pub fn ed25519(x: Vec<u8>) -> Self {
        Self::new(Material::Ed25519(x))
    }

    /// The key parsed for `alg`, made on first use; `None` when the key's type
    /// cannot check `alg` or aws-lc refuses it.
    fn parsed(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        let (i, check) = slot(alg)?;
        self.parsed[i]
            .get_or_init(|| match (&self.material, check) {
                (Material::Rsa { n, e }, Check::Rsa(params)) => RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(params)
                    .ok(),
                (Material::Ec(point), Check::Ecdsa(algorithm)) => {
                    ParsedPublicKey::new(algorithm, point).ok()
                }
                (Material::Ed25519(x), Check::Ed25519) => {
                    ParsedPublicKey::new(&sig::ED25519, x).ok()
                }
                _ => None,
            })
            .as_ref()
    }

    /// RSA `n` and `e` as the JWK gave them (for the `alg-from-header`
    /// defect, which keys an HMAC with them); `None` for other key types.
    pub fn rsa_components(&self) -> Option<(&[u8], &[u8])> {
        match &self.material {
            Material::Rsa { n, e } => Some((n, e)),
            _ => None,
        }
    }

    /// An EC key's uncompressed point `0x04 || x || y` (for the key-confusion defects,
    /// which key an HMAC with its encodings); `None` for other key types.
    pub fn ec_point(&self) -> Option<&[u8]> {
        match &self.material {
            Material::Ec(point) => Some(point),
            _ => None,
        }
    }

    /// Whether `signature_b64` (canonical unpadded base64url) is a valid
    /// `alg` signature of `signing_input` under this key.
    pub fn verify(&self, signing_input: &str, signature_b64: &str, alg: Algorithm) -> bool {
        let Some(key) = self.parsed(alg) else {
            return false;
        };
        // Decoded on the stack: no signature of a key up to RSA-8192 is longer
        // than 1,024 bytes, so a longer one cannot verify.
        let mut buf = [0u8; 1024];
        let b64 = base64_simd::URL_SAFE_NO_PAD;
        let signature = match b64.decoded_length(signature_b64.as_bytes()) {
            Ok(n) if n <= buf.len() => b64.decode(
                signature_b64.as_bytes(),
                base64_simd::Out::from_slice(&mut buf),
            ),
            _ => return false,
        };
        let Ok(signature) = signature else {
            return false;
        };
        key.verify_sig(signing_input.as_bytes(), signature).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{crypto, jwk, Algorithm, DecodingKey, EncodingKey};

    use crate::jwks::Jwk;

    const RSA: &[u8] = include_bytes!("../tests/fixtures/rsa1.pem");
    const EC256: &[u8] = include_bytes!("../tests/fixtures/ec256.pem");
    const EC384: &[u8] = include_bytes!("../tests/fixtures/ec384.pem");
    const ED: &[u8] = include_bytes!("../tests/fixtures/ed25519.pem");

    /// The reference's algorithm of jsonwebtoken's.
    fn ours_of(a: Algorithm) -> crate::checks::Algorithm {
        a.try_into().unwrap()
    }

    /// Flips the low bit of the `i`-th character's alphabet value (keeps it base64url).
    fn flip(b64: &str, i: usize) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut s = b64.as_bytes().to_vec();
        let v = A.iter().position(|&c| c == s[i]).unwrap();
        s[i] = A[v ^ 1];
        String::from_utf8(s).unwrap()
    }

    /// The prepared key accepts and refuses exactly what `jsonwebtoken::crypto::verify`
    /// does, for every algorithm, on genuine, damaged and cross-algorithm signatures.
    #[test]
    fn agrees_with_jsonwebtoken_on_every_algorithm() {
        use Algorithm::*;
        let cases: [(&[u8], &[Algorithm]); 4] = [
            (RSA, &[RS256, RS384, RS512, PS256, PS384, PS512]),
            (EC256, &[ES256]),
            (EC384, &[ES384]),
            (ED, &[EdDSA]),
        ];
        let input = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJwcmVwYXJlZCJ9";
        let all = [
            RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, EdDSA,
        ];
        let mut checked = 0;
        for (pem, algs) in cases {
            let encoding = match algs[0] {
                ES256 | ES384 => EncodingKey::from_ec_pem(pem),
                EdDSA => EncodingKey::from_ed_pem(pem),
                _ => EncodingKey::from_rsa_pem(pem),
            }
            .unwrap();
            let public = jwk::Jwk::from_encoding_key(&encoding, algs[0]).unwrap();
            let theirs = DecodingKey::from_jwk(&public).unwrap();
            let ours = Jwk::parse(&serde_json::to_value(&public).unwrap()).unwrap();
            for &signed_with in algs {
                let sig = crypto::sign(input.as_bytes(), &encoding, signed_with).unwrap();
                let last = sig.len() - 1;
                let variants = [
                    sig.clone(),
                    flip(&sig, 0),
                    flip(&sig, last / 2),
                    flip(&sig, last), // trailing bits: non-canonical or a changed byte
                    sig[..last].to_string(),
                    String::new(),
                    format!("{sig}AA"),
                ];
                for (i, s) in variants.iter().enumerate() {
                    for &checked_as in &all {
                        let want = crypto::verify(s, input.as_bytes(), &theirs, checked_as)
                            .unwrap_or(false);
                        let got = ours.key.verify(input, s, ours_of(checked_as));
                        assert_eq!(
                            got, want,
                            "{signed_with:?} signature variant {i} checked as {checked_as:?}"
                        );
                        if i == 0 && checked_as == signed_with {
                            assert!(got, "{signed_with:?}: the genuine signature verifies");
                        }
                        checked += 1;
                    }
                }
                // A different message never verifies.
                assert!(!ours
                    .key
                    .verify(&format!("{input}x"), &sig, ours_of(signed_with)));
            }
        }
        assert_eq!(checked, 9 * 7 * 9);
    }

    /// ES512, which jsonwebtoken does not have: a P-521 JWK verifies an aws-lc signature
    /// (raw r || s), and refuses a damaged one or another algorithm.
    #[test]
    fn es512_verifies() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair, ECDSA_P521_SHA512_FIXED_SIGNING};
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine;
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, &rng).unwrap();
        let pair =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P521_SHA512_FIXED_SIGNING, pkcs8.as_ref()).unwrap();
        let point = pair.public_key().as_ref();
        assert_eq!(point.len(), 133);
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-521",
            "x": URL_SAFE_NO_PAD.encode(&point[1..67]), "y": URL_SAFE_NO_PAD.encode(&point[67..]),
        });
        let ours = Jwk::parse(&jwk).unwrap();
        let es512 = crate::checks::Algorithm::ES512;
        assert!(ours.fits(es512) && !ours.fits(crate::checks::Algorithm::ES256));
        let input = "eyJhbGciOiJFUzUxMiJ9.e30";
        let sig = pair.sign(&rng, input.as_bytes()).unwrap();
        assert_eq!(sig.as_ref().len(), 132);
        let b64 = URL_SAFE_NO_PAD.encode(sig.as_ref());
        assert!(ours.verify(input, &b64, es512));
        assert!(!ours.verify(input, &flip(&b64, 3), es512));
        assert!(!ours.verify(&format!("{input}x"), &b64, es512));
        assert!(!ours.verify(input, &b64, crate::checks::Algorithm::ES384));
        assert!(!ours.verify(input, &URL_SAFE_NO_PAD.encode([0u8; 132]), es512));
    }

    /// A signature longer than any key's is refused without decoding (no panic).
    #[test]
    fn oversized_signatures_are_refused() {
        let encoding = EncodingKey::from_rsa_pem(RSA).unwrap();
        let public = jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        let ours = Jwk::parse(&serde_json::to_value(&public).unwrap()).unwrap();
        let huge = "A".repeat(4000);
        assert!(!ours.key.verify("a.b", &huge, ours_of(Algorithm::RS256)));
    }
}
