//! The `x5c-trusted` defect's key material: the RSA public key of the certificate a token
//! carries in its own `x5c` header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::DecodingKey;

/// One DER element at the start of `der`: (tag, contents, rest).
fn der_element(der: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
}

/// The RSA public key of a base64 (standard alphabet) X.509 certificate, from its
/// SubjectPublicKeyInfo; `None` for anything else.
pub(crate) fn x5c_rsa_key(cert_b64: &str) -> Option<DecodingKey> {
    let der = STANDARD.decode(cert_b64).ok()?;
    let (_, cert, _) = der_element(&der)?;
    let (_, tbs, _) = der_element(cert)?;
    let mut rest = tbs;
    // [0] version (optional), serial, signature alg, issuer, validity, subject, SPKI.
    if rest.first() == Some(&0xa0) {
        rest = der_element(rest)?.2;
    }
    for _ in 0..5 {
        rest = der_element(rest)?.2;
    }
    let (_, spki, _) = der_element(rest)?;
    let (_, bits, _) = der_element(der_element(spki)?.2)?;
    let pkcs1 = bits.strip_prefix(&[0u8])?;
    Some(DecodingKey::from_rsa_der(pkcs1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{crypto, Algorithm, EncodingKey};

    /// A self-signed certificate of `rsa2.pem`'s key, made by openssl (see `tests/http.rs`).
    const CERT: &str = include_str!("../tests/fixtures/rsa2-cert.b64");

    fn signed_by(pem: &str) -> String {
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        crypto::sign(b"input", &key, Algorithm::RS256).unwrap()
    }

    #[test]
    fn the_certificates_key_verifies_what_its_private_key_signed() {
        let key = x5c_rsa_key(CERT.trim()).expect("an RSA certificate");
        let ok = signed_by(include_str!("../tests/fixtures/rsa2.pem"));
        let other = signed_by(include_str!("../tests/fixtures/rsa1.pem"));
        assert!(crypto::verify(&ok, b"input", &key, Algorithm::RS256).unwrap());
        assert!(!crypto::verify(&other, b"input", &key, Algorithm::RS256).unwrap_or(false));
    }

    #[test]
    fn anything_but_a_certificate_gives_no_key() {
        let der = STANDARD.decode(CERT.trim()).unwrap();
        for bad in [
            String::new(),
            "not base64".to_string(),
            STANDARD.encode(&der[..der.len() / 2]),
            STANDARD.encode(&der[..300]),
            STANDARD.encode([0x30, 0x03, 0x02, 0x01, 0x01]),
        ] {
            assert!(x5c_rsa_key(&bad).is_none(), "{bad}");
        }
    }
}
