//! Compact JWS parsing with strict JSON (RFC 7515 section 7.1, RFC 8725 section 3).
//!
//! Nothing here verifies anything; it only refuses what is not a well-formed
//! compact JWS: not exactly three segments, non-canonical base64url, invalid
//! UTF-8, JSON that is not an object, or duplicate member names at any depth.

use std::borrow::Cow;

use crate::json_object::{check_strict, Field, JsonObject};

/// Longest token accepted, in bytes. Real access tokens are 1-4 KiB.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// Why a token is not a well-formed compact JWS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("token longer than {MAX_TOKEN_BYTES} bytes")]
    TooLong,
    /// Five segments: a JWE, never accepted as an access token here.
    #[error("token is a JWE (5 segments)")]
    Jwe,
    /// Not exactly three segments.
    #[error("token has {0} segments, expected 3")]
    Segments(usize),
    /// A segment is not canonical unpadded base64url.
    #[error("{0} segment is not canonical base64url")]
    Base64(&'static str),
    /// A segment is empty where content is required.
    #[error("{0} segment is empty")]
    Empty(&'static str),
    /// A decoded segment is not UTF-8.
    #[error("{0} is not UTF-8")]
    Utf8(&'static str),
    /// A decoded segment is not strict JSON (duplicate members included).
    #[error("{part} is not valid JSON: {message}")]
    Json {
        /// `header` or `claims`.
        part: &'static str,
        /// The scanner's message (what was wrong, and at which byte).
        message: String,
    },
    /// Valid JSON but not an object.
    #[error("{0} is not a JSON object")]
    NotObject(&'static str),
}

/// A header member that should be a string is not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAString;

/// A syntactically valid compact JWS.
#[derive(Debug, Clone)]
pub struct ParsedToken<'a> {
    /// `BASE64URL(header) || '.' || BASE64URL(payload)`.
    pub signing_input: &'a str,
    /// The third segment, still encoded: the prepared-key check decodes it strictly
    /// itself (a non-canonical signature does not verify).
    pub signature_b64: &'a str,
    /// The JOSE header, read in place.
    pub header: JsonObject,
    /// The claims, read in place.
    pub claims: JsonObject,
}

impl ParsedToken<'_> {
    /// Whether the signature verifies with `key` under `alg` (no key-fit checks: the
    /// defects that trust a key from elsewhere use this directly).
    pub fn verifies_with(
        &self,
        key: &jsonwebtoken::DecodingKey,
        alg: crate::checks::Algorithm,
    ) -> bool {
        // jsonwebtoken has no ES512: nothing here verifies it (no defect trusts a P-521 key).
        let Some(alg) = alg.jwt() else {
            return false;
        };
        jsonwebtoken::crypto::verify(self.signature_b64, self.signing_input.as_bytes(), key, alg)
            .unwrap_or(false)
    }

    /// The decoded signature; `None` when it is not canonical base64url.
    pub fn signature(&self) -> Option<Vec<u8>> {
        decode_b64url(self.signature_b64)
    }

    /// A header member as a string; `Err` when present but not a string.
    pub fn header_str(&self, name: &str) -> Result<Option<Cow<'_, str>>, NotAString> {
        match self.header.get(name) {
            None => Ok(None),
            Some(Field::Str(s)) => Ok(Some(s)),
            Some(_) => Err(NotAString),
        }
    }
}

/// Whether `s` is canonical unpadded base64url: alphabet `A-Za-z0-9-_` only, and
/// (checked by the decoder) no impossible length or non-zero trailing bits.
pub fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    // The URL-safe alphabet rejects `+`, `/` and whitespace; the no-pad engine
    // rejects `=` and non-canonical trailing bits.
    base64_simd::URL_SAFE_NO_PAD.decode_to_vec(s).ok()
}

/// Parses a compact JWS. Bounded in time and memory by [`MAX_TOKEN_BYTES`]
/// (checked first) and the JSON scanner's nesting limit (128).
pub fn parse(token: &str) -> Result<ParsedToken<'_>, TokenError> {
    parse_with(token, false)
}

/// [`parse`], reading a header or claims segment that is not UTF-8 as UTF-16
/// when it starts with a byte order mark (the `json-encoding-sniffed` defect:
/// decoders that detect the encoding, as Python's `json.loads(bytes)` does).
pub fn parse_sniffing_encoding(token: &str) -> Result<ParsedToken<'_>, TokenError> {
    parse_with(token, true)
}

fn parse_with(token: &str, sniff: bool) -> Result<ParsedToken<'_>, TokenError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(TokenError::TooLong);
    }
    // SIMD search for the dots: every request pays it, and the common case is
    // exactly two.
    let mut dots = memchr::memchr_iter(b'.', token.as_bytes());
    let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
        return Err(match memchr::memchr_iter(b'.', token.as_bytes()).count() {
            4 => TokenError::Jwe,
            n => TokenError::Segments(n + 1),
        });
    };
    let (h, p, s) = (&token[..d1], &token[d1 + 1..d2], &token[d2 + 1..]);
    if h.is_empty() {
        return Err(TokenError::Empty("header"));
    }
    if p.is_empty() {
        return Err(TokenError::Empty("payload"));
    }
    let header = decode_object(h, "header", sniff)?;
    let claims = decode_object(p, "claims", sniff)?;
    // The signature is decoded only where it is used (the prepared-key check
    // decodes it), not twice. An empty one (`alg: none`) is syntactically fine.
    Ok(ParsedToken {
        signing_input: &token[..h.len() + 1 + p.len()],
        signature_b64: s,
        header,
        claims,
    })
}

/// The compact token `protected.payload.signature` that a flattened JWS JSON serialization
/// (RFC 7515 section 7.2.2) holds; `None` when `text` is no JSON object with the three as
/// strings.
///
/// ```
/// use byoid_reference::token::compact_of_json_serialization;
///
/// let json = r#"{"protected":"h","payload":"p","signature":"s"}"#;
/// assert_eq!(compact_of_json_serialization(json).as_deref(), Some("h.p.s"));
/// assert_eq!(compact_of_json_serialization("h.p.s"), None);
/// ```
pub fn compact_of_json_serialization(text: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(text).ok()?;
    let member = |name: &str| v.get(name).and_then(serde_json::Value::as_str);
    Some(format!(
        "{}.{}.{}",
        member("protected")?,
        member("payload")?,
        member("signature")?
    ))
}

/// UTF-16 text behind a byte order mark, in either byte order.
///
/// ```
/// use byoid_reference::token::utf16_with_bom;
///
/// assert_eq!(utf16_with_bom(&[0xFF, 0xFE, b'{', 0, b'}', 0]).as_deref(), Some("{}"));
/// assert_eq!(utf16_with_bom(b"{}"), None);
/// ```
pub fn utf16_with_bom(bytes: &[u8]) -> Option<String> {
    let (le, rest) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        _ => return None,
    };
    let units: Vec<u16> = rest
        .chunks_exact(2)
        .map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        })
        .collect();
    String::from_utf16(&units).ok()
}

fn decode_object(segment: &str, part: &'static str, sniff: bool) -> Result<JsonObject, TokenError> {
    let bytes = decode_b64url(segment).ok_or(TokenError::Base64(part))?;
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) if sniff => utf16_with_bom(e.as_bytes()).ok_or(TokenError::Utf8(part))?,
        Err(_) => return Err(TokenError::Utf8(part)),
    };
    let json_error = |e: crate::json_object::JsonError| TokenError::Json {
        part,
        message: e.to_string(),
    };
    if !text.trim_start().starts_with('{') {
        // Not an object: say whether it is other JSON or no JSON at all.
        return Err(match check_strict(&text) {
            Ok(_) => TokenError::NotObject(part),
            Err(e) => json_error(e),
        });
    }
    JsonObject::parse(text).map_err(json_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    proptest::proptest! {
        /// The SIMD decoder is exactly as strict as the base64 crate's no-pad
        /// URL-safe engine (the decoder this crate used before).
        #[test]
        fn base64url_agrees_with_the_base64_crate(
            s in "[A-Za-z0-9_\\-]{0,70}[A-Za-z0-9_\\-+/= .]{0,3}",
        ) {
            proptest::prop_assert_eq!(decode_b64url(&s), URL_SAFE_NO_PAD.decode(&s).ok(), "{:?}", s);
        }
    }

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    fn tok(h: &str, c: &str) -> String {
        format!("{}.{}.{}", b64(h), b64(c), b64("sig"))
    }

    #[test]
    fn accepts_a_plain_compact_jws() {
        let t = tok(r#"{"alg":"RS256"}"#, r#"{"sub":"a","n":{"x":[1,2]}}"#);
        let p = parse(&t).unwrap();
        assert_eq!(p.header.get("alg"), Some(Field::Str("RS256".into())));
        assert_eq!(p.signature().unwrap(), b"sig");
        assert_eq!(p.signing_input, &t[..t.rfind('.').unwrap()]);
    }

    #[test]
    fn duplicate_members_rejected_at_any_depth() {
        assert!(check_strict(r#"{"a":1,"a":2}"#).is_err());
        assert!(check_strict(r#"{"a":{"b":1,"b":1}}"#).is_err());
        assert!(check_strict(r#"[{"b":1},{"b":1}]"#).is_ok());
        assert!(check_strict(r#"{"a":1} x"#).is_err());
        let t = tok(r#"{"alg":"RS256","alg":"none"}"#, "{}");
        assert!(matches!(
            parse(&t),
            Err(TokenError::Json { part: "header", .. })
        ));
    }

    #[test]
    fn base64url_is_strict() {
        assert_eq!(decode_b64url("YQ").unwrap(), b"a");
        assert!(decode_b64url("YQ==").is_none(), "padding");
        assert!(decode_b64url("Y Q").is_none(), "whitespace");
        assert!(decode_b64url("+/8").is_none(), "standard alphabet");
        assert!(decode_b64url("YR").is_none(), "non-zero trailing bits");
        assert!(decode_b64url("Y").is_none(), "impossible length");
        assert_eq!(decode_b64url("_-8").unwrap(), [0xff, 0xef]);
    }

    #[test]
    fn shapes_rejected() {
        assert_eq!(parse("a.b").unwrap_err(), TokenError::Segments(2));
        assert_eq!(parse("a.b.c.d.e").unwrap_err(), TokenError::Jwe);
        assert!(matches!(
            parse(&".".repeat(1_000_000)),
            Err(TokenError::TooLong)
        ));
        assert!(matches!(
            parse(&".".repeat(100)),
            Err(TokenError::Segments(101))
        ));
        assert_eq!(
            parse(&tok("[1]", "{}")).unwrap_err(),
            TokenError::NotObject("header")
        );
        assert_eq!(
            parse(&tok("{}", "\"x\"")).unwrap_err(),
            TokenError::NotObject("claims")
        );
        let bad_utf8 = format!("{}.{}.", URL_SAFE_NO_PAD.encode([0xff, 0xfe]), b64("{}"));
        assert_eq!(parse(&bad_utf8).unwrap_err(), TokenError::Utf8("header"));
        let deep = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
        assert!(matches!(
            parse(&tok("{}", &deep)),
            Err(TokenError::TooLong | TokenError::Json { .. })
        ));
        let deep = format!("{{\"a\":{}{}}}", "[".repeat(2000), "]".repeat(2000));
        assert!(matches!(
            parse(&tok("{}", &deep)),
            Err(TokenError::Json { .. })
        ));
        assert_eq!(
            parse(&format!(".{}.", b64("{}"))).unwrap_err(),
            TokenError::Empty("header")
        );
    }
}
