//! The token forge: builds any compact serialization, including the ones a JWT library refuses
//! to make (alg `none`, HMAC keyed with a public key, zero ECDSA signatures, duplicate JSON
//! members, non-canonical base64url, JWE-shaped and oversized tokens).
//!
//! Everything here works on bytes: the header and payload are JSON *text* the caller wrote, so
//! duplicate members and odd number forms survive exactly as written.
//!
//! ```
//! use mock_idp::forge::{self, Signature};
//! let token = forge::compact(br#"{"alg":"none"}"#, br#"{"sub":"x","sub":"y"}"#, &Signature::Segment(String::new()));
//! assert_eq!(token, "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4Iiwic3ViIjoieSJ9.");
//! ```

use std::sync::Arc;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use jsonwebtoken::EncodingKey;

use crate::keys::{jwt_alg, KeyKind, SigningKey};

/// base64url without padding, as JWS requires.
pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How the third segment of a compact JWS is made.
#[derive(Clone)]
pub enum Signature {
    /// A genuine signature by `key` under `alg` (whatever the header claims).
    Key {
        /// The private key.
        key: Arc<SigningKey>,
        /// The JWS algorithm actually used.
        alg: String,
    },
    /// An HMAC under `alg` (`HS256`/`HS384`/`HS512`) keyed with these bytes (may be empty).
    Hmac {
        /// `HS256`, `HS384` or `HS512`.
        alg: String,
        /// The HMAC secret.
        secret: Vec<u8>,
    },
    /// These exact signature bytes, base64url-encoded.
    Bytes(Vec<u8>),
    /// This exact text as the third segment (empty for an unsigned token, or junk).
    Segment(String),
}

impl std::fmt::Debug for Signature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Signature::Key { key, alg } => write!(f, "Key({}, {alg})", key.kid()),
            Signature::Hmac { alg, secret } => write!(f, "Hmac({alg}, {} bytes)", secret.len()),
            Signature::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Signature::Segment(s) => write!(f, "Segment({s:?})"),
        }
    }
}

/// Why a signature could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ForgeError {
    /// The algorithm name is not one the forge signs with.
    #[error("unsupported signing algorithm `{0}`")]
    UnsupportedAlg(String),
    /// The key's kind does not fit the algorithm.
    #[error("a {kind:?} key cannot sign `{alg}`")]
    KeyMismatch {
        /// The key's kind.
        kind: KeyKind,
        /// The algorithm asked for.
        alg: String,
    },
    /// The crypto backend refused.
    #[error("signing failed: {0}")]
    Crypto(String),
}

/// Computes the base64url signature segment over `signing_input` (`b64(header).b64(payload)`).
pub fn sign_segment(signing_input: &[u8], sig: &Signature) -> Result<String, ForgeError> {
    match sig {
        Signature::Key { key, alg } if alg == "ES512" => key
            .sign_es512(signing_input)
            .map(|sig| b64(&sig))
            .ok_or_else(|| ForgeError::KeyMismatch {
                kind: key.kind(),
                alg: alg.clone(),
            }),
        Signature::Key { key, alg } => {
            let algorithm = jwt_alg(alg).ok_or_else(|| ForgeError::UnsupportedAlg(alg.clone()))?;
            if KeyKind::for_alg(alg) != Some(key.kind()) {
                return Err(ForgeError::KeyMismatch {
                    kind: key.kind(),
                    alg: alg.clone(),
                });
            }
            jsonwebtoken::crypto::sign(signing_input, key.encoding_key(), algorithm)
                .map_err(|e| ForgeError::Crypto(e.to_string()))
        }
        Signature::Hmac { alg, secret } => {
            let algorithm = match alg.as_str() {
                "HS256" | "HS384" | "HS512" => jwt_alg(alg).expect("HS alg"),
                other => return Err(ForgeError::UnsupportedAlg(other.to_string())),
            };
            jsonwebtoken::crypto::sign(signing_input, &EncodingKey::from_secret(secret), algorithm)
                .map_err(|e| ForgeError::Crypto(e.to_string()))
        }
        Signature::Bytes(b) => Ok(b64(b)),
        Signature::Segment(s) => Ok(s.clone()),
    }
}

/// Builds `b64(header).b64(payload).signature` from JSON text exactly as given.
///
/// Signing errors (a key that does not fit the algorithm) give an empty signature segment
/// rather than a panic; use [`try_compact`] to see them.
pub fn compact(header: &[u8], payload: &[u8], sig: &Signature) -> String {
    try_compact(header, payload, sig)
        .unwrap_or_else(|_| format!("{}.{}.", b64(header), b64(payload)))
}

/// Like [`compact`], reporting a signature that cannot be made.
pub fn try_compact(header: &[u8], payload: &[u8], sig: &Signature) -> Result<String, ForgeError> {
    let input = format!("{}.{}", b64(header), b64(payload));
    let segment = sign_segment(input.as_bytes(), sig)?;
    Ok(format!("{input}.{segment}"))
}

/// Encodings of a public key that a confused validator may use as an HMAC secret
/// (the RFC 8725 section 2.1 algorithm-confusion attack).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublicKeyEncoding {
    /// SubjectPublicKeyInfo PEM with its final newline.
    SpkiPem,
    /// SubjectPublicKeyInfo PEM without the final newline.
    SpkiPemNoNewline,
    /// PKCS#1 `RSA PUBLIC KEY` PEM (RSA only; falls back to SPKI PEM).
    Pkcs1Pem,
    /// SubjectPublicKeyInfo DER.
    Der,
    /// The key's bare public JWK (`kty`, `kid` and the key's members) as compact JSON text.
    JwkJson,
    /// The raw RSA modulus (RSA only; falls back to DER).
    Modulus,
    /// The key's self-signed X.509 certificate as DER: the bytes of the JWK's `x5c[0]`
    /// (falls back to SPKI DER if the certificate could not be made).
    X5cDer,
    /// That certificate as PEM, built from `x5c[0]` as code that feeds JWKS certificates to a
    /// PEM-taking verifier does: 64-column lines, a final newline.
    X5cPem,
    /// The OpenSSH public-key line without a comment: `ssh-rsa AAAA...`,
    /// `ecdsa-sha2-nistp256 AAAA...`, `ssh-ed25519 AAAA...` (RFC 4253 section 6.6, RFC 5656
    /// section 3.1, RFC 8709 section 4).
    OpenSsh,
}

impl PublicKeyEncoding {
    /// Every encoding, for case generation.
    pub const ALL: [PublicKeyEncoding; 9] = [
        PublicKeyEncoding::SpkiPem,
        PublicKeyEncoding::SpkiPemNoNewline,
        PublicKeyEncoding::Pkcs1Pem,
        PublicKeyEncoding::Der,
        PublicKeyEncoding::JwkJson,
        PublicKeyEncoding::Modulus,
        PublicKeyEncoding::X5cDer,
        PublicKeyEncoding::X5cPem,
        PublicKeyEncoding::OpenSsh,
    ];

    /// Parses the kebab-case name used in scenario files.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "spki-pem" => Self::SpkiPem,
            "spki-pem-no-newline" => Self::SpkiPemNoNewline,
            "pkcs1-pem" => Self::Pkcs1Pem,
            "der" => Self::Der,
            "jwk-json" => Self::JwkJson,
            "modulus" => Self::Modulus,
            "x5c-der" => Self::X5cDer,
            "x5c-pem" => Self::X5cPem,
            "openssh" => Self::OpenSsh,
            _ => return None,
        })
    }
}

/// The bytes of `key`'s public half in `encoding`, for use as an HMAC secret.
pub fn public_key_bytes(key: &SigningKey, encoding: PublicKeyEncoding) -> Vec<u8> {
    match encoding {
        PublicKeyEncoding::SpkiPem => key.spki_pem().as_bytes().to_vec(),
        PublicKeyEncoding::SpkiPemNoNewline => key.spki_pem().trim_end().as_bytes().to_vec(),
        PublicKeyEncoding::Pkcs1Pem => key
            .pkcs1_pem()
            .unwrap_or(key.spki_pem())
            .as_bytes()
            .to_vec(),
        PublicKeyEncoding::Der => key.spki_der().to_vec(),
        PublicKeyEncoding::JwkJson => key.public_jwk().to_string().into_bytes(),
        PublicKeyEncoding::Modulus => key.modulus().unwrap_or(key.spki_der()).to_vec(),
        PublicKeyEncoding::X5cDer => key.certificate_der().unwrap_or(key.spki_der()).to_vec(),
        PublicKeyEncoding::X5cPem => match key.x5c() {
            Some(b64) => certificate_pem(&b64).into_bytes(),
            None => key.spki_pem().as_bytes().to_vec(),
        },
        PublicKeyEncoding::OpenSsh => openssh_public_key(key.public_jwk()).into_bytes(),
    }
}

/// A certificate's standard base64 (an `x5c` entry) as PEM: 64-column lines between the
/// `CERTIFICATE` armour, ending in a newline.
///
/// ```
/// assert_eq!(
///     mock_idp::forge::certificate_pem(&"A".repeat(70)),
///     format!("-----BEGIN CERTIFICATE-----\n{}\nAAAAAA\n-----END CERTIFICATE-----\n", "A".repeat(64)),
/// );
/// ```
pub fn certificate_pem(x5c: &str) -> String {
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in x5c.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// The OpenSSH public-key line (no comment) of a public JWK: `ssh-rsa` (RFC 4253 section
/// 6.6), `ecdsa-sha2-nistp256`/`-nistp384`/`-nistp521` (RFC 5656 section 3.1) or `ssh-ed25519` (RFC 8709
/// section 4); empty for any other JWK.
pub fn openssh_public_key(jwk: &serde_json::Value) -> String {
    let field = |name: &str| {
        jwk.get(name)
            .and_then(serde_json::Value::as_str)
            .and_then(|s| URL_SAFE_NO_PAD.decode(s).ok())
            .unwrap_or_default()
    };
    fn string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    // An mpint: big-endian two's complement, shortest form, so a set high bit gets a 0 byte.
    fn mpint(out: &mut Vec<u8>, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let m = &magnitude[start..];
        let mut v = Vec::with_capacity(m.len() + 1);
        if m.first().is_some_and(|b| b & 0x80 != 0) {
            v.push(0);
        }
        v.extend_from_slice(m);
        string(out, &v);
    }
    let kty = jwk.get("kty").and_then(serde_json::Value::as_str);
    let crv = jwk.get("crv").and_then(serde_json::Value::as_str);
    let mut blob = Vec::new();
    let name = match (kty, crv) {
        (Some("RSA"), _) => {
            string(&mut blob, b"ssh-rsa");
            mpint(&mut blob, &field("e"));
            mpint(&mut blob, &field("n"));
            "ssh-rsa"
        }
        (Some("EC"), Some(crv @ ("P-256" | "P-384" | "P-521"))) => {
            let (name, id) = match crv {
                "P-256" => ("ecdsa-sha2-nistp256", "nistp256"),
                "P-384" => ("ecdsa-sha2-nistp384", "nistp384"),
                _ => ("ecdsa-sha2-nistp521", "nistp521"),
            };
            string(&mut blob, name.as_bytes());
            string(&mut blob, id.as_bytes());
            string(&mut blob, &[&[0x04][..], &field("x"), &field("y")].concat());
            name
        }
        (Some("OKP"), Some("Ed25519")) => {
            string(&mut blob, b"ssh-ed25519");
            string(&mut blob, &field("x"));
            "ssh-ed25519"
        }
        _ => return String::new(),
    };
    format!("{name} {}", STANDARD.encode(blob))
}

/// Width in bytes of one ECDSA integer for `alg` (32 for ES256, 48 for ES384, 66 for ES512).
fn ec_width(alg: &str) -> usize {
    match alg {
        "ES384" => 48,
        "ES512" => 66,
        _ => 32,
    }
}

/// An ECDSA signature with r = s = 0 in JWS (raw `r || s`) form: CVE-2022-21449.
pub fn ecdsa_zero(alg: &str) -> Vec<u8> {
    vec![0; 2 * ec_width(alg)]
}

/// An ECDSA signature with r = s = n (the group order), which some verifiers reduce to zero.
pub fn ecdsa_order(alg: &str) -> Vec<u8> {
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973";
    const P521_N: &str = "01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409";
    let n = hex(match alg {
        "ES384" => P384_N,
        "ES512" => P521_N,
        _ => P256_N,
    });
    [n.clone(), n].concat()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Re-encodes a raw `r || s` ECDSA signature as ASN.1 DER (what JWS forbids, RFC 7518 3.4).
pub fn ecdsa_raw_to_der(raw: &[u8]) -> Vec<u8> {
    fn int(bytes: &[u8]) -> Vec<u8> {
        let trimmed: Vec<u8> = {
            let start = bytes
                .iter()
                .position(|&b| b != 0)
                .unwrap_or(bytes.len().saturating_sub(1));
            bytes[start..].to_vec()
        };
        let mut v = trimmed;
        if v.is_empty() {
            v.push(0);
        }
        if v[0] & 0x80 != 0 {
            v.insert(0, 0);
        }
        let mut out = vec![0x02, v.len() as u8];
        out.extend(v);
        out
    }
    let (r, s) = raw.split_at(raw.len() / 2);
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30];
    if body.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(body.len() as u8);
    out.extend(body);
    out
}

/// Ways to damage the signature of a finished token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureDamage {
    /// Flip the lowest bit of the first signature byte.
    FlipBit,
    /// Remove the signature, keeping the final dot.
    Strip,
    /// Remove the signature and the final dot (two segments).
    StripWithDot,
    /// Keep only the first half of the signature bytes.
    Truncate,
}

/// Applies `damage` to the signature of a compact token.
pub fn damage_signature(token: &str, damage: SignatureDamage) -> String {
    let Some((input, sig)) = token.rsplit_once('.') else {
        return token.to_string();
    };
    let bytes = URL_SAFE_NO_PAD.decode(sig).unwrap_or_default();
    match damage {
        SignatureDamage::FlipBit => {
            let mut b = bytes;
            if let Some(first) = b.first_mut() {
                *first ^= 1;
            }
            format!("{input}.{}", b64(&b))
        }
        SignatureDamage::Strip => format!("{input}."),
        SignatureDamage::StripWithDot => input.to_string(),
        SignatureDamage::Truncate => format!("{input}.{}", b64(&bytes[..bytes.len() / 2])),
    }
}

/// Non-canonical base64url spellings of a segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NonCanonical {
    /// `=` padding added.
    Padding,
    /// The standard alphabet (`+` and `/`) instead of the URL-safe one.
    StandardAlphabet,
    /// A space inserted in the middle.
    Whitespace,
}

/// Re-encodes segment `index` (0 header, 1 payload, 2 signature) of `token` non-canonically.
///
/// The signature is left as it was, so a validator that normalizes before verifying accepts
/// the result and one that verifies the received bytes rejects it.
pub fn non_canonical(token: &str, index: usize, how: NonCanonical) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    if let Some(seg) = parts.get_mut(index) {
        let raw = URL_SAFE_NO_PAD.decode(seg.as_bytes()).unwrap_or_default();
        *seg = match how {
            NonCanonical::Padding => base64::engine::general_purpose::URL_SAFE.encode(&raw),
            NonCanonical::StandardAlphabet => {
                STANDARD.encode(&raw).trim_end_matches('=').to_string()
            }
            NonCanonical::Whitespace => {
                let mut s = seg.clone();
                s.insert(s.len() / 2, ' ');
                s
            }
        };
    }
    parts.join(".")
}

/// A JSON object nested `depth` levels deep: `{"a":{"a":...{}}}`.
pub fn nested_json(depth: usize) -> String {
    let mut s = String::with_capacity(depth * 6 + 2);
    for _ in 0..depth {
        s.push_str("{\"a\":");
    }
    s.push_str("{}");
    for _ in 0..depth {
        s.push('}');
    }
    s
}

/// Inserts `"name": value_json` as the last member of the JSON object text `object`,
/// even when a member of that name is already present (duplicates survive).
pub fn append_member(object: &str, name: &str, value_json: &str) -> String {
    let body = object.trim_end();
    let Some(stripped) = body.strip_suffix('}') else {
        return object.to_string();
    };
    let sep = if stripped.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    format!(
        "{stripped}{sep}{}:{value_json}}}",
        serde_json::Value::String(name.to_string())
    )
}

/// The token with `n` segments: extra ones are copies of the payload segment, missing ones
/// are dropped from the end (2, 4 and 6 segments are the classic parser confusions).
pub fn with_segments(token: &str, n: usize) -> String {
    let parts: Vec<&str> = token.split('.').collect();
    let mut out: Vec<&str> = parts.iter().copied().take(n).collect();
    while out.len() < n {
        out.push(parts.get(1).copied().unwrap_or(""));
    }
    out.join(".")
}

/// A JWE-shaped five-part token (RFC 7516 compact form) with a plausible header.
pub fn jwe_shaped(kid: &str) -> String {
    let header = format!(r#"{{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"{kid}"}}"#);
    [
        b64(header.as_bytes()),
        b64(&[7; 256]),
        b64(&[1; 12]),
        b64(b"ciphertext"),
        b64(&[9; 16]),
    ]
    .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_round_trip_shape() {
        let der = ecdsa_raw_to_der(&[[0x80u8; 32], [0x01u8; 32]].concat());
        assert_eq!(der[0], 0x30);
        assert_eq!(der[2], 0x02);
        assert_eq!(der[3], 33, "high bit set needs a leading zero");
    }

    #[test]
    fn append_member_keeps_duplicates() {
        assert_eq!(append_member(r#"{"a":1}"#, "a", "2"), r#"{"a":1,"a":2}"#);
        assert_eq!(append_member("{}", "a", "2"), r#"{"a":2}"#);
    }

    #[test]
    fn damage_changes_only_the_signature() {
        let t = "aaa.bbb.AAECAw";
        assert_eq!(damage_signature(t, SignatureDamage::Strip), "aaa.bbb.");
        assert_eq!(
            damage_signature(t, SignatureDamage::StripWithDot),
            "aaa.bbb"
        );
        assert_eq!(
            damage_signature(t, SignatureDamage::FlipBit),
            "aaa.bbb.AQECAw"
        );
        assert_eq!(
            damage_signature(t, SignatureDamage::Truncate),
            "aaa.bbb.AAE"
        );
    }

    #[test]
    fn non_canonical_forms() {
        let t = format!("{}.x.y", b64(b"{\"alg\":\"RS256\"}?"));
        assert!(non_canonical(&t, 0, NonCanonical::Padding)
            .split('.')
            .next()
            .unwrap()
            .ends_with('='));
        assert!(non_canonical(&t, 0, NonCanonical::Whitespace).contains(' '));
    }

    #[test]
    fn order_signature_is_n_twice() {
        let sig = ecdsa_order("ES256");
        assert_eq!(sig.len(), 64);
        assert_eq!(&sig[..4], &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(ecdsa_order("ES384").len(), 96);
        let p521 = ecdsa_order("ES512");
        assert_eq!((p521.len(), p521[0], p521[66]), (132, 0x01, 0x01));
        assert_eq!(ecdsa_zero("ES512"), vec![0; 132]);
    }
}
