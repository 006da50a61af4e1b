//! The `alg-from-header` defect's key material: the RSA public keys of the tenant's JWKS
//! turned into the HMAC secrets that key-confusion exploits sign with (an `HS256` token
//! keyed with the bytes of the server's own public key).

use der::asn1::{AnyRef, BitStringRef, UintRef};
use der::pem::LineEnding;
use der::{Encode, EncodePem};
use jsonwebtoken::{Algorithm, DecodingKey};
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::jwks::Jwk;
use crate::token::ParsedToken;

/// `rsaEncryption` (RFC 8017 appendix A.1), which `pkcs1` names only with its `pkcs8` feature.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The encodings of an RSA public key that key-confusion exploits use as the
/// HMAC secret: SPKI PEM (with and without the final newline), PKCS#1 PEM (both),
/// SPKI DER, PKCS#1 DER and the raw modulus.
pub fn rsa_public_key_encodings(n: &[u8], e: &[u8]) -> Vec<Vec<u8>> {
    // Only a key past DER's 256 MiB bound fails to encode: the raw modulus is left then.
    let mut out = der_encodings(n, e).unwrap_or_default();
    out.push(n.to_vec());
    out
}

/// The PEM and DER encodings of [`rsa_public_key_encodings`], in its order.
fn der_encodings(n: &[u8], e: &[u8]) -> der::Result<Vec<Vec<u8>>> {
    let key = pkcs1::RsaPublicKey {
        modulus: uint(n)?,
        public_exponent: uint(e)?,
    };
    let pkcs1 = key.to_der()?;
    let spki = SubjectPublicKeyInfoRef {
        algorithm: AlgorithmIdentifierRef {
            oid: RSA_ENCRYPTION,
            parameters: Some(AnyRef::NULL),
        },
        subject_public_key: BitStringRef::from_bytes(&pkcs1)?,
    };
    let spki_pem = spki.to_pem(LineEnding::LF)?;
    let pkcs1_pem = key.to_pem(LineEnding::LF)?;
    Ok(vec![
        spki_pem.as_bytes().to_vec(),
        spki_pem.trim_end().as_bytes().to_vec(),
        pkcs1_pem.as_bytes().to_vec(),
        pkcs1_pem.trim_end().as_bytes().to_vec(),
        spki.to_der()?,
        pkcs1,
    ])
}

/// `bytes` (big-endian, leading zeros allowed) as a DER INTEGER. No bytes at all is zero,
/// which DER writes as one zero byte (`UintRef` would write none).
fn uint(bytes: &[u8]) -> der::Result<UintRef<'_>> {
    UintRef::new(if bytes.is_empty() { &[0] } else { bytes })
}

/// Whether `t` verifies as an HMAC (`alg`) keyed with any encoding of the RSA public keys
/// named by `kid` (every key without one).
pub(crate) fn hmac_with_public_keys(
    keys: &[Jwk],
    kid: Option<&str>,
    alg: Algorithm,
    t: &ParsedToken<'_>,
) -> bool {
    keys.iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .filter_map(|k| k.key.rsa_components())
        .flat_map(|(n, e)| rsa_public_key_encodings(n, e))
        .any(|secret| t.verifies_with(&DecodingKey::from_secret(&secret), alg))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `alg-from-header` secrets for `(n, e)`, one SHA-256 over every candidate's
    /// length and bytes, in hex.
    fn candidates_digest(n: &[u8], e: &[u8]) -> String {
        let mut all = Vec::new();
        for c in rsa_public_key_encodings(n, e) {
            all.extend_from_slice(&(c.len() as u32).to_be_bytes());
            all.extend_from_slice(&c);
        }
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &all);
        digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// `len` bytes of a fixed pattern starting with `first`.
    fn pattern(first: u8, len: usize) -> Vec<u8> {
        let mut v: Vec<u8> = (0..len).map(|i| (i * 167 + 13) as u8).collect();
        if let Some(b) = v.first_mut() {
            *b = first;
        }
        v
    }

    /// Pins the exact candidate bytes, so that a new encoder keeps them: a small key
    /// spelled out, then digests over key sizes either side of DER's length forms, moduli
    /// with a leading zero or a clear high bit, and odd exponents.
    #[test]
    fn hmac_secret_candidates_are_pinned() {
        let enc = rsa_public_key_encodings(&[0x80], &[1, 0, 1]);
        let pkcs1 = [
            0x30, 0x09, 0x02, 0x02, 0x00, 0x80, 0x02, 0x03, 0x01, 0x00, 0x01,
        ];
        let mut spki = vec![
            0x30, 0x1d, 0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01,
            0x01, 0x05, 0x00, 0x03, 0x0c, 0x00,
        ];
        spki.extend_from_slice(&pkcs1);
        assert_eq!(
            enc,
            vec![
                b"-----BEGIN PUBLIC KEY-----\nMB0wDQYJKoZIhvcNAQEBBQADDAAwCQICAIACAwEAAQ==\n-----END PUBLIC KEY-----\n".to_vec(),
                b"-----BEGIN PUBLIC KEY-----\nMB0wDQYJKoZIhvcNAQEBBQADDAAwCQICAIACAwEAAQ==\n-----END PUBLIC KEY-----".to_vec(),
                b"-----BEGIN RSA PUBLIC KEY-----\nMAkCAgCAAgMBAAE=\n-----END RSA PUBLIC KEY-----\n".to_vec(),
                b"-----BEGIN RSA PUBLIC KEY-----\nMAkCAgCAAgMBAAE=\n-----END RSA PUBLIC KEY-----".to_vec(),
                spki,
                pkcs1.to_vec(),
                vec![0x80],
            ]
        );
        let e = [1, 0, 1];
        for (n, e, digest) in [
            (
                pattern(0xc5, 256),
                &e[..],
                "400d3ae7dd2b66a3edfa8112739a974465d223d49047a7bd3432a2e2ab861d9a",
            ),
            (
                pattern(0xc5, 512),
                &e[..],
                "5c38412492f503109c29e34caa828e573063e4895a43d3f4c370c338dee40e48",
            ),
            (
                pattern(0x5a, 128),
                &e[..],
                "24bde76f01129551b0dc83510bfe7a569d819c084a57fe5fabb8bd95a2ee1c23",
            ),
            (
                pattern(0x9f, 100),
                &e[..],
                "928adca55406098244ccc0e9aed98db3056c7656fb2025a70e8224333849fb3c",
            ),
            (
                pattern(0x00, 257),
                &e[..],
                "9ef1e8acb068151db398f863a8bf04920905e142547f82aab2bb0ba9d3abfa0d",
            ),
            (
                pattern(0x00, 1),
                &e[..],
                "89882a506b2e8316acde621ba4bfb44099cd6711b0065b7d578a7bf664e7a150",
            ),
            (
                pattern(0xc5, 256),
                &[0x03][..],
                "a698ce05b0d3371e89a0ee24089b231bfe288c501479577cc3312ebf470c6f9d",
            ),
            (
                pattern(0xc5, 256),
                &[0x00, 0x01, 0x00, 0x01][..],
                "400d3ae7dd2b66a3edfa8112739a974465d223d49047a7bd3432a2e2ab861d9a",
            ),
            (
                pattern(0xc5, 256),
                &[0x80, 0x01][..],
                "3e9ecd65bbc22dd90ac3e3a9b56364170313c19b0e8a7769393a3c8d7cce5635",
            ),
            (
                Vec::new(),
                &e[..],
                "fa66343e30c15208981bc049d8daf42939a13f59ec13fdde19a68131efc2a5e9",
            ),
        ] {
            assert_eq!(
                candidates_digest(&n, e),
                digest,
                "n {} bytes, e {e:?}",
                n.len()
            );
        }
    }
}
