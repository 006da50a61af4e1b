//! The key-confusion defects' key material: the tenant's published keys turned into the HMAC
//! secrets that key-confusion exploits sign with (an `HS256` token keyed with the bytes of the
//! server's own public key, in whatever form a confused verifier holds it).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::{AnyRef, BitStringRef, UintRef};
use der::pem::LineEnding;
use der::{Encode, EncodePem};
use jsonwebtoken::DecodingKey;
use spki::{AlgorithmIdentifierRef, ObjectIdentifier, SubjectPublicKeyInfoRef};

use crate::checks::Algorithm;
use crate::defect::{Defect, DefectSet};
use crate::jwks::{Jwk, KeyKind};
use crate::token::ParsedToken;

/// `rsaEncryption` (RFC 8017 appendix A.1), which `pkcs1` names only with its `pkcs8` feature.
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
/// `id-ecPublicKey` (RFC 5480 section 2.1.1).
const EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// `secp256r1`, `secp384r1` and `secp521r1` (RFC 5480 section 2.1.1.1).
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");

/// What PyJWT (up to 2.3.0) and python-jose (up to 3.3.0) refuse as an HMAC secret: any key
/// text containing one of these. The `hmac-key-blocklist` defect keeps the same list.
pub const HMAC_KEY_BLOCKLIST: [&str; 4] = [
    "-----BEGIN PUBLIC KEY-----",
    "-----BEGIN RSA PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----",
    "ssh-rsa",
];

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

/// The encodings of an EC public key (`crv` P-256, P-384 or P-521, `point` uncompressed) that a
/// confused verifier may hold: SPKI PEM with and without the final newline, and SPKI DER.
pub fn ec_public_key_encodings(crv: &str, point: &[u8]) -> Vec<Vec<u8>> {
    let curve = match crv {
        "P-256" => P256,
        "P-384" => P384,
        "P-521" => P521,
        _ => return Vec::new(),
    };
    let encode = || -> der::Result<Vec<Vec<u8>>> {
        let spki = SubjectPublicKeyInfoRef {
            algorithm: AlgorithmIdentifierRef {
                oid: EC_PUBLIC_KEY,
                parameters: Some(AnyRef::from(&curve)),
            },
            subject_public_key: BitStringRef::from_bytes(point)?,
        };
        let pem = spki.to_pem(LineEnding::LF)?;
        Ok(vec![
            pem.as_bytes().to_vec(),
            pem.trim_end().as_bytes().to_vec(),
            spki.to_der()?,
        ])
    };
    encode().unwrap_or_default()
}

/// The OpenSSH public-key line of `k`, without a comment: `ssh-rsa` (RFC 4253 section
/// 6.6) or `ecdsa-sha2-nistp256`/`-384`/`-521` (RFC 5656 section 3.1); `None` for other keys.
pub fn openssh_line(k: &Jwk) -> Option<String> {
    fn string(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    // mpint: the shortest two's complement, so a magnitude with its high bit set gets a zero.
    fn mpint(out: &mut Vec<u8>, magnitude: &[u8]) {
        let start = magnitude
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(magnitude.len());
        let m = &magnitude[start..];
        let pad = m.first().is_some_and(|b| b & 0x80 != 0);
        string(out, &[if pad { &[0u8][..] } else { &[] }, m].concat());
    }
    let mut blob = Vec::new();
    let name = match &k.kind {
        KeyKind::Rsa => {
            let (n, e) = k.key.rsa_components()?;
            string(&mut blob, b"ssh-rsa");
            mpint(&mut blob, e);
            mpint(&mut blob, n);
            "ssh-rsa"
        }
        KeyKind::Ec(crv) => {
            let (name, id) = match crv.as_str() {
                "P-256" => ("ecdsa-sha2-nistp256", "nistp256"),
                "P-384" => ("ecdsa-sha2-nistp384", "nistp384"),
                "P-521" => ("ecdsa-sha2-nistp521", "nistp521"),
                _ => return None,
            };
            string(&mut blob, name.as_bytes());
            string(&mut blob, id.as_bytes());
            string(&mut blob, k.key.ec_point()?);
            name
        }
        KeyKind::Okp(_) => return None,
    };
    Some(format!("{name} {}", STANDARD.encode(blob)))
}

/// The JWK's `x5c[0]` (standard base64 of a DER certificate), read back from its text.
fn x5c_leaf(k: &Jwk) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&k.text).ok()?;
    Some(v.get("x5c")?.get(0)?.as_str()?.to_owned())
}

/// A certificate's base64 as PEM, as jwks-rsa's `certToPEM` writes it: 64-column lines
/// between the `CERTIFICATE` armour, ending in a newline.
pub fn certificate_pem(x5c: &str) -> String {
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in x5c.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem + "-----END CERTIFICATE-----\n"
}

/// The HMAC secrets the enabled key-confusion defects derive from `k`, in no particular order.
pub(crate) fn confused_secrets(k: &Jwk, defects: &DefectSet) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    if defects.contains(Defect::AlgFromHeader) {
        if let Some((n, e)) = k.key.rsa_components() {
            out.extend(rsa_public_key_encodings(n, e));
        }
        if let (KeyKind::Ec(crv), Some(point)) = (&k.kind, k.key.ec_point()) {
            out.extend(ec_public_key_encodings(crv, point));
        }
        out.extend(openssh_line(k).map(String::into_bytes));
        out.push(k.text.as_bytes().to_vec());
        if let Some(leaf) = x5c_leaf(k) {
            out.extend(STANDARD.decode(&leaf).ok());
            out.push(certificate_pem(&leaf).into_bytes());
        }
    }
    if defects.contains(Defect::X5cPemHmacSecret) {
        out.extend(x5c_leaf(k).map(|leaf| certificate_pem(&leaf).into_bytes()));
    }
    if defects.contains(Defect::HmacKeyBlocklist) {
        out.extend(
            openssh_line(k)
                .filter(|line| !HMAC_KEY_BLOCKLIST.iter().any(|m| line.contains(m)))
                .map(String::into_bytes),
        );
    }
    out
}

/// Whether a key-confusion defect is enabled (an HS token then goes to [`hmac_with_public_keys`]).
pub(crate) fn any_enabled(defects: &DefectSet) -> bool {
    [
        Defect::AlgFromHeader,
        Defect::X5cPemHmacSecret,
        Defect::HmacKeyBlocklist,
    ]
    .into_iter()
    .any(|d| defects.contains(d))
}

/// `bytes` (big-endian, leading zeros allowed) as a DER INTEGER. No bytes at all is zero,
/// which DER writes as one zero byte (`UintRef` would write none).
fn uint(bytes: &[u8]) -> der::Result<UintRef<'_>> {
    UintRef::new(if bytes.is_empty() { &[0] } else { bytes })
}

/// Whether `t` verifies as an HMAC (`alg`) keyed with any secret the enabled defects derive
/// from the keys named by `kid` (every key without one).
pub(crate) fn hmac_with_public_keys(
    keys: &[Jwk],
    kid: Option<&str>,
    alg: Algorithm,
    t: &ParsedToken<'_>,
    defects: &DefectSet,
) -> bool {
    keys.iter()
        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
        .flat_map(|k| confused_secrets(k, defects))
        .any(|secret| t.verifies_with(&DecodingKey::from_secret(&secret), alg))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/");

    fn fixture(name: &str) -> String {
        std::fs::read_to_string(format!("{FIX}{name}")).unwrap()
    }

    /// The reference's JWK of a fixture private key, with `extra` members.
    fn jwk(private_pem: &str, alg: Algorithm, extra: serde_json::Value) -> Jwk {
        let pem = fixture(private_pem);
        let key = match alg {
            Algorithm::ES256 => jsonwebtoken::EncodingKey::from_ec_pem(pem.as_bytes()),
            _ => jsonwebtoken::EncodingKey::from_rsa_pem(pem.as_bytes()),
        }
        .unwrap();
        let public = jsonwebtoken::jwk::Jwk::from_encoding_key(&key, alg.jwt().unwrap()).unwrap();
        let mut v = serde_json::to_value(public).unwrap();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        Jwk::parse(&v).unwrap()
    }

    /// The EC, OpenSSH and certificate forms are byte for byte what openssl and ssh-keygen
    /// write for the fixture keys (`ec256.pub.pem` by openssl, `*.pub.ssh` by `ssh-keygen -i
    /// -m PKCS8`, `rsa2-cert.pem` by `openssl x509 -outform PEM`).
    #[test]
    fn encodings_match_openssl_and_ssh_keygen() {
        let ec = jwk("ec256.pem", Algorithm::ES256, serde_json::json!({}));
        let enc = ec_public_key_encodings("P-256", ec.key.ec_point().unwrap());
        let pem = fixture("ec256.pub.pem");
        assert_eq!(enc[0], pem.as_bytes());
        assert_eq!(enc[1], pem.trim_end().as_bytes());
        assert!(
            enc[2].len() == 91 && enc[2][0] == 0x30,
            "SPKI DER of a P-256 key"
        );
        assert!(ec_public_key_encodings("P-192", &[4; 49]).is_empty());
        assert_eq!(
            openssh_line(&ec).unwrap(),
            fixture("ec256.pub.ssh").trim_end()
        );
        let rsa = jwk("rsa1.pem", Algorithm::RS256, serde_json::json!({}));
        assert_eq!(
            openssh_line(&rsa).unwrap(),
            fixture("rsa1.pub.ssh").trim_end()
        );
        assert_eq!(
            certificate_pem(fixture("rsa2-cert.b64").trim()),
            fixture("rsa2-cert.pem")
        );
    }

    /// Each defect derives only its own secrets: `alg-from-header` every form, including the
    /// JWK text and both certificate forms; `x5c-pem-hmac-secret` the certificate PEM;
    /// `hmac-key-blocklist` an OpenSSH line the blocklist lets through (an EC key's, never an
    /// RSA key's `ssh-rsa`).
    #[test]
    fn each_defect_derives_its_own_secrets() {
        let cert = fixture("rsa2-cert.b64").trim().to_string();
        let rsa = jwk(
            "rsa1.pem",
            Algorithm::RS256,
            serde_json::json!({"kid": "k1", "x5c": [cert]}),
        );
        let ec = jwk(
            "ec256.pem",
            Algorithm::ES256,
            serde_json::json!({"kid": "e1"}),
        );
        let of = |k: &Jwk, d: Defect| confused_secrets(k, &DefectSet::from(d));
        let cert_pem = certificate_pem(&cert).into_bytes();
        let cert_der = STANDARD.decode(&cert).unwrap();
        let all = of(&rsa, Defect::AlgFromHeader);
        for secret in [
            rsa.text.as_bytes().to_vec(),
            cert_pem.clone(),
            cert_der,
            openssh_line(&rsa).unwrap().into_bytes(),
        ] {
            assert!(all.contains(&secret));
        }
        assert_eq!(all.len(), 7 + 4);
        assert_eq!(of(&ec, Defect::AlgFromHeader).len(), 3 + 1 + 1);
        assert_eq!(of(&rsa, Defect::X5cPemHmacSecret), vec![cert_pem]);
        assert!(of(&ec, Defect::X5cPemHmacSecret).is_empty());
        assert!(
            of(&rsa, Defect::HmacKeyBlocklist).is_empty(),
            "ssh-rsa is blocklisted"
        );
        assert_eq!(
            of(&ec, Defect::HmacKeyBlocklist),
            vec![fixture("ec256.pub.ssh").trim_end().as_bytes().to_vec()]
        );
        assert!(confused_secrets(&rsa, &DefectSet::new()).is_empty());
    }

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
