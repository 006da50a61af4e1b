//! Every forged class decodes to exactly the bytes intended.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use mock_idp::forge::{self, NonCanonical, PublicKeyEncoding, Signature, SignatureDamage};
use mock_idp::keys::{KeyKind, SigningKey};

fn seg(token: &str, i: usize) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).unwrap())
        .unwrap()
}

#[test]
fn header_and_payload_bytes_are_kept_exactly_duplicates_included() {
    let header = br#"{"alg":"RS256","alg":"none","typ":"at+jwt"}"#;
    let payload = br#"{"aud":"a","aud":["b"],"exp":"1700000000","n":1.50}"#;
    let t = forge::compact(header, payload, &Signature::Segment(String::new()));
    assert_eq!(seg(&t, 0), header);
    assert_eq!(seg(&t, 1), payload);
    assert!(t.ends_with('.'), "empty third segment");
    let junk = forge::compact(header, payload, &Signature::Segment("junk".into()));
    assert!(junk.ends_with(".junk"));
}

#[test]
fn genuine_signatures_verify_for_every_asymmetric_alg() {
    for (alg, kind) in [
        ("RS256", KeyKind::Rsa),
        ("RS384", KeyKind::Rsa),
        ("RS512", KeyKind::Rsa),
        ("PS256", KeyKind::Rsa),
        ("ES256", KeyKind::P256),
        ("ES384", KeyKind::P384),
        ("EdDSA", KeyKind::Ed25519),
    ] {
        let key = SigningKey::derive(0, "shared/0", kind);
        let t = forge::try_compact(
            b"{}",
            b"{}",
            &Signature::Key {
                key: key.clone(),
                alg: alg.into(),
            },
        )
        .unwrap();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(key.public_jwk().clone()).unwrap();
        let dk = DecodingKey::from_jwk(&jwk).unwrap();
        let a = mock_idp::keys::jwt_alg(alg).unwrap();
        assert!(
            jsonwebtoken::crypto::verify(sig, input.as_bytes(), &dk, a).unwrap(),
            "{alg}"
        );
    }
    // A key that does not fit the alg is refused, not silently used.
    let rsa = SigningKey::derive(0, "shared/0", KeyKind::Rsa);
    assert!(forge::try_compact(
        b"{}",
        b"{}",
        &Signature::Key {
            key: rsa,
            alg: "ES256".into()
        }
    )
    .is_err());
}

#[test]
fn hmac_with_the_public_key_uses_exactly_each_encoding() {
    let key = SigningKey::derive(0, "shared/0", KeyKind::Rsa);
    let pem = key.spki_pem().to_string();
    assert!(
        pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
            && pem.ends_with("-----END PUBLIC KEY-----\n")
    );
    let cases = [
        (PublicKeyEncoding::SpkiPem, pem.clone().into_bytes()),
        (
            PublicKeyEncoding::SpkiPemNoNewline,
            pem.trim_end().as_bytes().to_vec(),
        ),
        (
            PublicKeyEncoding::Pkcs1Pem,
            key.pkcs1_pem().unwrap().as_bytes().to_vec(),
        ),
        (PublicKeyEncoding::Der, key.spki_der().to_vec()),
        (
            PublicKeyEncoding::JwkJson,
            key.public_jwk().to_string().into_bytes(),
        ),
        (PublicKeyEncoding::Modulus, key.modulus().unwrap().to_vec()),
        (
            PublicKeyEncoding::X5cDer,
            key.certificate_der().unwrap().to_vec(),
        ),
        (
            PublicKeyEncoding::X5cPem,
            forge::certificate_pem(&key.x5c().unwrap()).into_bytes(),
        ),
        (
            PublicKeyEncoding::OpenSsh,
            forge::openssh_public_key(key.public_jwk()).into_bytes(),
        ),
    ];
    for (enc, secret) in cases {
        assert_eq!(forge::public_key_bytes(&key, enc), secret, "{enc:?}");
        let t = forge::try_compact(
            br#"{"alg":"HS256"}"#,
            b"{}",
            &Signature::Hmac {
                alg: "HS256".into(),
                secret: secret.clone(),
            },
        )
        .unwrap();
        let (input, sig) = t.rsplit_once('.').unwrap();
        assert!(
            jsonwebtoken::crypto::verify(
                sig,
                input.as_bytes(),
                &DecodingKey::from_secret(&secret),
                Algorithm::HS256
            )
            .unwrap(),
            "{enc:?}"
        );
    }
    let blank = forge::try_compact(
        b"{}",
        b"{}",
        &Signature::Hmac {
            alg: "HS512".into(),
            secret: vec![],
        },
    )
    .unwrap();
    assert_eq!(seg(&blank, 2).len(), 64, "HS512 over an empty key");
}

#[test]
fn ecdsa_forgeries_have_the_intended_bytes() {
    let zero = forge::compact(b"{}", b"{}", &Signature::Bytes(forge::ecdsa_zero("ES256")));
    assert_eq!(seg(&zero, 2), vec![0u8; 64]);
    assert_eq!(forge::ecdsa_zero("ES384").len(), 96);
    let order = forge::ecdsa_order("ES256");
    assert_eq!(&order[..32], &order[32..], "r = s = n");
    assert_eq!(order[31], 0x51, "P-256 n ends in ...2551");
    // DER: SEQUENCE of two INTEGERs that decode back to r and s.
    let raw: Vec<u8> = (1..=64).collect();
    let der = forge::ecdsa_raw_to_der(&raw);
    assert_eq!(der[0], 0x30);
    assert_eq!(der[1] as usize, der.len() - 2);
    assert_eq!(&der[2..4], &[0x02, 32]);
    assert_eq!(&der[4..36], &raw[..32]);
    assert_eq!(&der[36..38], &[0x02, 32]);
    assert_eq!(&der[38..], &raw[32..]);
}

#[test]
fn damaged_and_reshaped_tokens() {
    let t = forge::compact(
        b"{\"alg\":\"none\"}",
        b"{\"sub\":\"x\"}",
        &Signature::Bytes(vec![1, 2, 3, 4]),
    );
    assert_eq!(
        seg(&forge::damage_signature(&t, SignatureDamage::FlipBit), 2),
        vec![0, 2, 3, 4]
    );
    assert_eq!(
        seg(&forge::damage_signature(&t, SignatureDamage::Truncate), 2),
        vec![1, 2]
    );
    assert!(forge::damage_signature(&t, SignatureDamage::Strip).ends_with('.'));
    assert_eq!(
        forge::damage_signature(&t, SignatureDamage::StripWithDot)
            .split('.')
            .count(),
        2
    );
    for n in [2, 4, 6] {
        assert_eq!(forge::with_segments(&t, n).split('.').count(), n);
    }
    let jwe = forge::jwe_shaped("k1");
    assert_eq!(jwe.split('.').count(), 5);
    assert_eq!(
        seg(&jwe, 0),
        br#"{"alg":"RSA-OAEP-256","enc":"A256GCM","kid":"k1"}"#
    );
    let padded = forge::non_canonical(&t, 1, NonCanonical::Padding);
    assert!(padded.split('.').nth(1).unwrap().ends_with('='));
    let std = forge::non_canonical(
        &forge::compact(b"{}", &[0xfb, 0xff], &Signature::Segment(String::new())),
        1,
        NonCanonical::StandardAlphabet,
    );
    assert_eq!(std.split('.').nth(1).unwrap(), "+/8");
    assert!(forge::non_canonical(&t, 1, NonCanonical::Whitespace)
        .split('.')
        .nth(1)
        .unwrap()
        .contains(' '));
    let deep = forge::nested_json(1000);
    assert_eq!(deep.matches('{').count(), 1001);
    assert!(
        serde_json::from_str::<serde_json::Value>(&deep).is_err(),
        "deeper than serde_json's limit of 128"
    );
}

/// The OpenSSH lines are what `ssh-keygen -i -m PKCS8` makes of the keys' SPKI PEM (checked
/// once by hand; ssh-keygen does not convert Ed25519 PKCS#8, whose line is RFC 8709's form),
/// and a JWK of another kind has none.
#[test]
fn openssh_public_key_lines_are_pinned() {
    let line = |kind| forge::openssh_public_key(SigningKey::derive(0, "pool/0", kind).public_jwk());
    assert_eq!(
        line(KeyKind::P256),
        "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBFw9LIdQJg8bBncHc6HeOueBduOhFeYtZ2hUWVphxrnaZR9sUyki1YBCPjX6DwwE2NP/jnoLg39VJBN98+Mwv1o="
    );
    assert_eq!(
        line(KeyKind::Ed25519),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJWEevDB05l6PACAFmLB4p2ick6cZGNJQknw2gIbaTIV"
    );
    let rsa = line(KeyKind::Rsa);
    assert!(rsa.starts_with("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQClRyVO2WSUQ+3nNjS9jkEu"));
    let digest = <sha2::Sha256 as sha2::Digest>::digest(rsa.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "a95d26cb2242af322f7378ea4a19949a82920181aef1ab80bf9de64b5bcfe907"
    );
    assert_eq!(
        line(KeyKind::P384).split(' ').next(),
        Some("ecdsa-sha2-nistp384")
    );
    assert_eq!(
        forge::openssh_public_key(&serde_json::json!({"kty": "oct"})),
        ""
    );
}
