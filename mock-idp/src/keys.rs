//! Signing keys: made once per process (or derived from a seed), shared by every tenant that
//! asks for the same label, and exported in every encoding a forged token may need.
//!
//! RSA generation costs 50-500 ms, so keys are never made per test: [`SigningKey::derive`]
//! caches by `(seed, label, kind)` for the life of the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use rsa::pkcs8::{self, EncodePublicKey, LineEnding};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The kinds of key a mock IdP publishes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum KeyKind {
    /// RSA 2048, for RS256/384/512 and PS256/384/512.
    Rsa,
    /// NIST P-256, for ES256.
    P256,
    /// NIST P-384, for ES384.
    P384,
    /// Ed25519, for EdDSA.
    Ed25519,
    /// NIST P-521, for ES512 (signed with the `p521` crate: jsonwebtoken has no ES512). Last,
    /// so that the other kinds' discriminants, which seed their keys, stay as they were.
    P521,
}

impl KeyKind {
    /// The kind of key an algorithm needs, or `None` for symmetric and `none`.
    pub fn for_alg(alg: &str) -> Option<KeyKind> {
        match alg {
            "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512" => Some(KeyKind::Rsa),
            "ES256" => Some(KeyKind::P256),
            "ES384" => Some(KeyKind::P384),
            "ES512" => Some(KeyKind::P521),
            "EdDSA" => Some(KeyKind::Ed25519),
            _ => None,
        }
    }
}

/// The asymmetric JWS algorithms the mock IdPs can sign with.
pub const ASYMMETRIC_ALGS: &[&str] = &[
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA",
];

/// Maps a JWS `alg` name onto jsonwebtoken's enum.
pub fn jwt_alg(alg: &str) -> Option<Algorithm> {
    Some(match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        "EdDSA" => Algorithm::EdDSA,
        "HS256" => Algorithm::HS256,
        "HS384" => Algorithm::HS384,
        "HS512" => Algorithm::HS512,
        _ => return None,
    })
}

/// A private key with its public half in every encoding the forge needs.
///
/// ```
/// use mock_idp::keys::{KeyKind, SigningKey};
/// let key = SigningKey::derive(7, "doc-example", KeyKind::P256);
/// assert_eq!(key.public_jwk()["kty"], "EC");
/// ```
pub struct SigningKey {
    kind: KeyKind,
    kid: String,
    encoding: EncodingKey,
    jwk: Value,
    spki_der: Vec<u8>,
    spki_pem: String,
    pkcs1_pem: Option<String>,
    modulus: Option<Vec<u8>>,
    /// The private key as PKCS#8 DER (for making the key's certificate).
    pub(crate) pkcs8_der: Vec<u8>,
    /// The self-signed certificate of the key, made on first use.
    certificate: OnceLock<Option<Certificate>>,
}

/// A key's self-signed certificate and its thumbprints.
struct Certificate {
    der: Vec<u8>,
    x5t: String,
    x5t_s256: String,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kind", &self.kind)
            .field("kid", &self.kid)
            .finish()
    }
}

type Cache = Mutex<HashMap<(u64, String, KeyKind), Arc<OnceLock<Arc<SigningKey>>>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

impl SigningKey {
    /// Returns the key for `(seed, label, kind)`, making it on first use.
    ///
    /// The same triple always gives the same key material and `kid`, in this process and in
    /// any other built from the same crate versions. Concurrent callers for one triple wait
    /// for a single generation; different triples generate in parallel.
    pub fn derive(seed: u64, label: &str, kind: KeyKind) -> Arc<SigningKey> {
        let cell = {
            let mut map = cache().lock().unwrap_or_else(|e| e.into_inner());
            map.entry((seed, label.to_string(), kind))
                .or_default()
                .clone()
        };
        cell.get_or_init(|| Arc::new(Self::generate(seed, label, kind)))
            .clone()
    }

    fn generate(seed: u64, label: &str, kind: KeyKind) -> SigningKey {
        let mut h = Sha256::new();
        h.update(seed.to_be_bytes());
        h.update(label.as_bytes());
        h.update([kind as u8]);
        let digest: [u8; 32] = h.finalize().into();
        let mut rng = ChaCha20Rng::from_seed(digest);
        // A kid shaped like a vendor's (base64url of a short hash), stable for the triple.
        let kid = URL_SAFE_NO_PAD.encode(&Sha256::digest(digest)[..12]);
        match kind {
            KeyKind::Rsa => {
                // Seed 0's keys ship with the crate: RSA generation is the costliest thing a
                // run does (about 150 ms a key), and seed 0 is the default.
                let embedded = if seed == 0 { embedded_rsa(label) } else { None };
                let private = embedded.unwrap_or_else(|| {
                    // Generation from a seeded RNG cannot fail for a 2048-bit modulus except on a bug.
                    rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA-2048 generation")
                });
                rsa_key(private, kid)
            }
            KeyKind::P256 => ec_key::<p256::NistP256>(&mut rng, kid, KeyKind::P256, "P-256"),
            KeyKind::P384 => ec_key::<p384::NistP384>(&mut rng, kid, KeyKind::P384, "P-384"),
            KeyKind::P521 => ec_key::<p521::NistP521>(&mut rng, kid, KeyKind::P521, "P-521"),
            KeyKind::Ed25519 => ed25519_key(&mut rng, kid),
        }
    }

    /// The key's kind.
    pub fn kind(&self) -> KeyKind {
        self.kind
    }
    /// P-521 only: an ES512 signature of `message`, raw `r || s` (132 octets, RFC 7518
    /// section 3.4). The nonce comes from a ChaCha20 stream seeded with the key and the
    /// message, so a message always gets the same signature and two messages never share a
    /// nonce. `None` for other kinds.
    pub fn sign_es512(&self, message: &[u8]) -> Option<Vec<u8>> {
        use p521::ecdsa::signature::RandomizedSigner;
        use p521::elliptic_curve::pkcs8::DecodePrivateKey;
        if self.kind != KeyKind::P521 {
            return None;
        }
        let secret = p521::SecretKey::from_pkcs8_der(&self.pkcs8_der).ok()?;
        let signer = p521::ecdsa::SigningKey::from_bytes(&secret.to_bytes()).ok()?;
        let seed: [u8; 32] = Sha256::new()
            .chain_update(&self.pkcs8_der)
            .chain_update(message)
            .finalize()
            .into();
        let mut rng = ChaCha20Rng::from_seed(seed);
        let signature: p521::ecdsa::Signature = signer.try_sign_with_rng(&mut rng, message).ok()?;
        Some(signature.to_bytes().to_vec())
    }
    /// The key id published in the JWKS.
    pub fn kid(&self) -> &str {
        &self.kid
    }
    /// The private key, ready for jsonwebtoken.
    pub fn encoding_key(&self) -> &EncodingKey {
        &self.encoding
    }
    /// The public key as a JWK (`kty`, `kid`, and the key's members; no `use` or `alg`).
    pub fn public_jwk(&self) -> &Value {
        &self.jwk
    }
    /// The public key as DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> &[u8] {
        &self.spki_der
    }
    /// The public key as a PEM `PUBLIC KEY` block, ending in a newline.
    pub fn spki_pem(&self) -> &str {
        &self.spki_pem
    }
    /// RSA only: the public key as a PEM `RSA PUBLIC KEY` (PKCS#1) block.
    pub fn pkcs1_pem(&self) -> Option<&str> {
        self.pkcs1_pem.as_deref()
    }
    /// RSA only: the raw big-endian modulus.
    pub fn modulus(&self) -> Option<&[u8]> {
        self.modulus.as_deref()
    }
    /// The JWK SHA-256 thumbprint (RFC 7638), base64url.
    pub fn thumbprint(&self) -> String {
        let j = &self.jwk;
        let canonical = match self.kind {
            KeyKind::Rsa => json!({"e": j["e"], "kty": "RSA", "n": j["n"]}),
            KeyKind::P256 | KeyKind::P384 | KeyKind::P521 => {
                json!({"crv": j["crv"], "kty": "EC", "x": j["x"], "y": j["y"]})
            }
            KeyKind::Ed25519 => json!({"crv": "Ed25519", "kty": "OKP", "x": j["x"]}),
        };
        URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.to_string().as_bytes()))
    }

    /// A self-signed X.509 certificate (DER) whose public key is this key, as the `x5c`
    /// member of a JWK carries it (base64, not base64url). Made on first use and cached for
    /// the life of the key; `None` only if the certificate could not be made.
    ///
    /// RSA certificates are signed with RSASSA-PKCS1-v1_5 and so are the same bytes in every
    /// process for the same key; ECDSA signatures are randomized, so EC certificates are
    /// stable only within a process.
    ///
    /// ```
    /// use mock_idp::keys::{KeyKind, SigningKey};
    /// let key = SigningKey::derive(7, "doc-example", KeyKind::P256);
    /// let der = key.certificate_der().expect("certificate");
    /// // The certificate holds the key's SubjectPublicKeyInfo.
    /// assert!(der.windows(key.spki_der().len()).any(|w| w == key.spki_der()));
    /// assert_eq!(key.x5t().unwrap().len(), 27); // base64url of a 20-byte SHA-1
    /// ```
    pub fn certificate_der(&self) -> Option<&[u8]> {
        self.certificate().map(|c| c.der.as_slice())
    }
    /// `x5t`: base64url of the SHA-1 digest of [`SigningKey::certificate_der`].
    pub fn x5t(&self) -> Option<&str> {
        self.certificate().map(|c| c.x5t.as_str())
    }
    /// `x5t#S256`: base64url of the SHA-256 digest of [`SigningKey::certificate_der`].
    pub fn x5t_s256(&self) -> Option<&str> {
        self.certificate().map(|c| c.x5t_s256.as_str())
    }
    /// The `x5c` member of a JWK: the certificate in standard base64 (RFC 7517 section 4.7).
    pub fn x5c(&self) -> Option<String> {
        self.certificate_der()
            .map(|der| base64::engine::general_purpose::STANDARD.encode(der))
    }

    fn certificate(&self) -> Option<&Certificate> {
        self.certificate
            .get_or_init(|| self_signed(self.kind, &self.pkcs8_der, &self.kid))
            .as_ref()
    }
}

/// Makes the self-signed certificate of a key from its PKCS#8 DER.
fn self_signed(kind: KeyKind, pkcs8: &[u8], kid: &str) -> Option<Certificate> {
    let alg = match kind {
        KeyKind::Rsa => &rcgen::PKCS_RSA_SHA256,
        KeyKind::P256 => &rcgen::PKCS_ECDSA_P256_SHA256,
        KeyKind::P384 => &rcgen::PKCS_ECDSA_P384_SHA384,
        KeyKind::P521 => &rcgen::PKCS_ECDSA_P521_SHA512,
        KeyKind::Ed25519 => &rcgen::PKCS_ED25519,
    };
    let der = rustls::pki_types::PrivatePkcs8KeyDer::from(pkcs8);
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(&der, alg).ok()?;
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).ok()?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(
        rcgen::DnType::CommonName,
        format!("byoid mock IdP signing key {kid}"),
    );
    // Fixed dates so a key's RSA certificate (and so its x5t) is the same in every run.
    params.not_before = rcgen::date_time_ymd(2020, 1, 1);
    params.not_after = rcgen::date_time_ymd(2045, 1, 1);
    let cert = params.self_signed(&key_pair).ok()?;
    let der = cert.der().to_vec();
    use sha1::Digest as _;
    Some(Certificate {
        x5t: URL_SAFE_NO_PAD.encode(sha1::Sha1::digest(&der)),
        x5t_s256: URL_SAFE_NO_PAD.encode(Sha256::digest(&der)),
        der,
    })
}

/// The labels whose seed-0 RSA keys are embedded (`keys/seed0-rsa.txt`): every ring the
/// harness and the mock IdP use by default, three generations deep.
pub const EMBEDDED_RSA_LABELS: &[&str] = &[
    "entra/0",
    "entra/1",
    "entra/2",
    "entra/duplicate",
    "entra/enc",
    "shared/0",
    "shared/1",
    "shared/duplicate",
    "shared/enc",
    "other/0",
    "other/1",
    "tenant-attacker/0",
    "pool/0",
    "pool/1",
    "pool/2",
    "pool/3",
    "pool/4",
    "pool/5",
    "pool/duplicate",
    "pool/enc",
];

const EMBEDDED_RSA: &str = include_str!("../keys/seed0-rsa.txt");

/// The embedded seed-0 RSA key for `label`: PKCS#1 DER, base64, one `label key` per line.
fn embedded_rsa(label: &str) -> Option<rsa::RsaPrivateKey> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    let line = EMBEDDED_RSA
        .lines()
        .find(|l| l.split(' ').next() == Some(label))?;
    let der = base64::engine::general_purpose::STANDARD
        .decode(line.split(' ').nth(1)?)
        .ok()?;
    rsa::RsaPrivateKey::from_pkcs1_der(&der).ok()
}

/// Generates the seed-0 RSA key of `label` without the embedded table, as PKCS#1 DER:
/// what `keys/seed0-rsa.txt` holds (see the `embed-keys` example).
pub fn generate_seed0_rsa_der(label: &str) -> Vec<u8> {
    use rsa::pkcs1::EncodeRsaPrivateKey;
    let mut h = Sha256::new();
    h.update(0u64.to_be_bytes());
    h.update(label.as_bytes());
    h.update([KeyKind::Rsa as u8]);
    let digest: [u8; 32] = h.finalize().into();
    let mut rng = ChaCha20Rng::from_seed(digest);
    let private = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("RSA-2048 generation");
    private
        .to_pkcs1_der()
        .expect("PKCS#1 encoding")
        .as_bytes()
        .to_vec()
}

fn rsa_key(private: rsa::RsaPrivateKey, kid: String) -> SigningKey {
    use rsa::pkcs1::{EncodeRsaPrivateKey, EncodeRsaPublicKey};
    use rsa::traits::PublicKeyParts;
    let public = private.to_public_key();
    let der = private.to_pkcs1_der().expect("PKCS#1 encoding");
    let pkcs8 = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&private).expect("PKCS#8 encoding");
    let n = public.n().to_bytes_be();
    let e = public.e().to_bytes_be();
    let jwk = json!({"kty": "RSA", "kid": kid, "n": URL_SAFE_NO_PAD.encode(&n), "e": URL_SAFE_NO_PAD.encode(&e)});
    let encoding = EncodingKey::from_rsa_der(der.as_bytes());
    let mut key = SigningKey::assemble(KeyKind::Rsa, kid, jwk, encoding, &public, &pkcs8);
    key.pkcs1_pem = Some(public.to_pkcs1_pem(LineEnding::LF).expect("PKCS#1 PEM"));
    key.modulus = Some(n);
    key
}

fn ec_key<C>(rng: &mut ChaCha20Rng, kid: String, kind: KeyKind, crv: &str) -> SigningKey
where
    C: p256::elliptic_curve::CurveArithmetic + p256::elliptic_curve::point::PointCompression,
    C::AffinePoint: p256::elliptic_curve::sec1::FromEncodedPoint<C>
        + p256::elliptic_curve::sec1::ToEncodedPoint<C>,
    C::FieldBytesSize: p256::elliptic_curve::sec1::ModulusSize,
    C: p256::elliptic_curve::pkcs8::AssociatedOid,
{
    use p256::elliptic_curve::pkcs8::EncodePrivateKey;
    use p256::elliptic_curve::sec1::ToEncodedPoint;
    let secret = p256::elliptic_curve::SecretKey::<C>::random(rng);
    let point = secret.public_key().to_encoded_point(false);
    let x = point.x().expect("uncompressed point").to_vec();
    let y = point.y().expect("uncompressed point").to_vec();
    let pkcs8 = secret.to_pkcs8_der().expect("PKCS#8");
    let jwk = json!({"kty": "EC", "kid": kid, "crv": crv, "x": URL_SAFE_NO_PAD.encode(&x), "y": URL_SAFE_NO_PAD.encode(&y)});
    let encoding = EncodingKey::from_ec_der(pkcs8.as_bytes());
    SigningKey::assemble(kind, kid, jwk, encoding, &secret.public_key(), &pkcs8)
}

fn ed25519_key(rng: &mut ChaCha20Rng, kid: String) -> SigningKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let mut seed = [0u8; 32];
    rng.fill_bytes(&mut seed);
    let secret = ed25519_dalek::SigningKey::from_bytes(&seed);
    let public = secret.verifying_key();
    let pkcs8 = secret.to_pkcs8_der().expect("PKCS#8");
    let jwk = json!({"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": URL_SAFE_NO_PAD.encode(public.as_bytes())});
    let encoding = EncodingKey::from_ed_der(pkcs8.as_bytes());
    SigningKey::assemble(KeyKind::Ed25519, kid, jwk, encoding, &public, &pkcs8)
}

impl SigningKey {
    /// A key of `kind` whose public half is `public`, without the RSA-only encodings. Every
    /// kind's SPKI DER and PEM come from the same encoders (`spki`, and `der`'s PEM writer).
    fn assemble(
        kind: KeyKind,
        kid: String,
        jwk: Value,
        encoding: EncodingKey,
        public: &impl EncodePublicKey,
        pkcs8: &pkcs8::SecretDocument,
    ) -> SigningKey {
        SigningKey {
            kind,
            kid,
            encoding,
            jwk,
            spki_der: public
                .to_public_key_der()
                .expect("SPKI")
                .as_bytes()
                .to_vec(),
            spki_pem: public.to_public_key_pem(LineEnding::LF).expect("SPKI PEM"),
            pkcs1_pem: None,
            modulus: None,
            pkcs8_der: pkcs8.as_bytes().to_vec(),
            certificate: OnceLock::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_seed0_keys_are_the_derived_ones() {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        for label in EMBEDDED_RSA_LABELS {
            assert!(embedded_rsa(label).is_some(), "{label} is embedded");
        }
        // One regeneration proves the table holds what derivation makes (RSA generation is
        // slow, so one label only).
        let embedded = embedded_rsa("pool/0").unwrap().to_pkcs1_der().unwrap();
        assert_eq!(
            embedded.as_bytes(),
            generate_seed0_rsa_der("pool/0").as_slice()
        );
    }

    /// The public key's encodings, which the forge turns into HMAC secrets, keep their
    /// bytes: the Ed25519 PEM spelled out, and a digest over every encoding of each kind.
    #[test]
    fn public_key_encodings_are_pinned() {
        let ed = SigningKey::derive(0, "pool/0", KeyKind::Ed25519);
        let pem = concat!(
            "-----BEGIN PUBLIC KEY-----\n",
            "MCowBQYDK2VwAyEAlYR68MHTmXo8AIAWYsHinaJyTpxkY0lCSfDaAhtpMhU=\n",
            "-----END PUBLIC KEY-----\n",
        );
        assert_eq!(ed.spki_pem(), pem);
        for (kind, digest) in [
            (
                KeyKind::Rsa,
                "b05078d8b0f6002e4a249ca2369379d4fc240a9086b67502d785c8bcb1cd39ad",
            ),
            (
                KeyKind::P256,
                "eeb63ac66eb4a4fdc56ab40412717941b621d78187340177631471870a074a0f",
            ),
            (
                KeyKind::P384,
                "a20a3da0b462ed6958d7c6b545e9e1875c8b7eb10b132795d8b3ad0a84f87acf",
            ),
            (
                KeyKind::Ed25519,
                "d91d626699084c48a0e1194bd4a1ca1472963dc0fed8bdacd170ec4ae5f727f6",
            ),
        ] {
            let key = SigningKey::derive(0, "pool/0", kind);
            let mut h = Sha256::new();
            h.update(key.spki_der());
            h.update(key.spki_pem());
            h.update(key.pkcs1_pem().unwrap_or_default());
            let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex, digest, "{kind:?}");
        }
    }

    #[test]
    fn derive_is_stable_and_cached() {
        let a = SigningKey::derive(1, "t", KeyKind::P256);
        let b = SigningKey::derive(1, "t", KeyKind::P256);
        assert!(Arc::ptr_eq(&a, &b));
        let c = SigningKey::derive(2, "t", KeyKind::P256);
        assert_ne!(a.public_jwk()["x"], c.public_jwk()["x"]);
        assert_ne!(a.kid(), c.kid());
    }

    /// ES512 (no jsonwebtoken support): the signature is raw r || s, verifies with the
    /// public JWK's point, is the same for the same message and differs for another.
    #[test]
    fn p521_signs_es512() {
        use p521::ecdsa::signature::Verifier;
        let key = SigningKey::derive(0, "unit", KeyKind::P521);
        let jwk = key.public_jwk();
        assert_eq!(jwk["crv"], "P-521");
        let coord = |n: &str| URL_SAFE_NO_PAD.decode(jwk[n].as_str().unwrap()).unwrap();
        let (x, y) = (coord("x"), coord("y"));
        assert_eq!((x.len(), y.len()), (66, 66));
        let point = [&[4u8][..], &x, &y].concat();
        let verifier = p521::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
        let sig = key.sign_es512(b"msg").unwrap();
        assert_eq!(sig.len(), 132);
        let parsed = p521::ecdsa::Signature::from_slice(&sig).unwrap();
        assert!(verifier.verify(b"msg", &parsed).is_ok());
        assert!(verifier.verify(b"msG", &parsed).is_err());
        assert_eq!(key.sign_es512(b"msg").unwrap(), sig);
        assert_ne!(key.sign_es512(b"msG").unwrap()[..66], sig[..66]);
        assert!(SigningKey::derive(0, "unit", KeyKind::P256)
            .sign_es512(b"msg")
            .is_none());
        assert!(key.x5c().is_some(), "a self-signed P-521 certificate");
    }

    #[test]
    fn every_kind_signs_and_verifies() {
        for (kind, alg) in [
            (KeyKind::Rsa, Algorithm::RS256),
            (KeyKind::P256, Algorithm::ES256),
            (KeyKind::P384, Algorithm::ES384),
            (KeyKind::Ed25519, Algorithm::EdDSA),
        ] {
            let key = SigningKey::derive(0, "unit", kind);
            let sig = jsonwebtoken::crypto::sign(b"msg", key.encoding_key(), alg).expect("sign");
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk().clone()).expect("jwk");
            let dk = jsonwebtoken::DecodingKey::from_jwk(&jwk).expect("decoding key");
            assert!(jsonwebtoken::crypto::verify(&sig, b"msg", &dk, alg).expect("verify"));
            assert!(!jsonwebtoken::crypto::verify(&sig, b"msG", &dk, alg).expect("verify"));
        }
    }
}
