//! The `x5c-trusted` defect's key material: the RSA public key of the certificate a token
//! carries in its own `x5c` header.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, TagNumber};
use jsonwebtoken::DecodingKey;
use spki::SubjectPublicKeyInfoRef;

/// The RSA public key of a base64 (standard alphabet) X.509 certificate, from its
/// SubjectPublicKeyInfo; `None` for anything else.
pub(crate) fn x5c_rsa_key(cert_b64: &str) -> Option<DecodingKey> {
    let der = STANDARD.decode(cert_b64).ok()?;
    let spki = certificate_spki(&der).ok()?;
    Some(DecodingKey::from_rsa_der(
        spki.subject_public_key.as_bytes()?,
    ))
}

/// The SubjectPublicKeyInfo of the DER X.509 certificate at the start of `der` (RFC 5280
/// section 4.1); the rest of the certificate is skipped unread, as is anything after it.
fn certificate_spki(der: &[u8]) -> der::Result<SubjectPublicKeyInfoRef<'_>> {
    const VERSION: Tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber::N0,
    };
    SliceReader::new(der)?.sequence(|certificate| {
        let spki = certificate.sequence(|tbs| {
            // version (optional), serialNumber, signature, issuer, validity, subject.
            if tbs.peek_tag()? == VERSION {
                AnyRef::decode(tbs)?;
            }
            for _ in 0..5 {
                AnyRef::decode(tbs)?;
            }
            let spki = SubjectPublicKeyInfoRef::decode(tbs)?;
            // The unique identifiers and extensions.
            tbs.read_slice(tbs.remaining_len())?;
            Ok(spki)
        })?;
        // signatureAlgorithm and signatureValue.
        certificate.read_slice(certificate.remaining_len())?;
        Ok(spki)
    })
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
