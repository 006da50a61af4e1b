//! The lenient readings of a bearer token that some defects take: each turns a
//! token the clean reference refuses for its form into the compact token the
//! defective validator goes on to check.

use serde_json::Value;

use crate::defect::{Defect, DefectSet};
use crate::token::{compact_of_json_serialization, decode_b64url};

/// The compact token a validator with `defects` would check instead of
/// `token`, when one of them reads `token` leniently; `None` otherwise.
///
/// ```
/// use byoid_reference::defect::{Defect, DefectSet};
/// use byoid_reference::lenient_forms::lenient_reading;
///
/// let loose: DefectSet = [Defect::SegmentsSplitLoosely].into_iter().collect();
/// assert_eq!(lenient_reading("h.p.s.x", &loose).as_deref(), Some("h.p.s"));
/// assert_eq!(lenient_reading("h.p.s", &loose), None);
/// assert_eq!(lenient_reading("h.p.s.x", &DefectSet::default()), None);
/// ```
pub fn lenient_reading(token: &str, defects: &DefectSet) -> Option<String> {
    if defects.contains(Defect::JwsJsonAccepted) && token.starts_with('{') {
        return compact_of_json_serialization(token);
    }
    if defects.contains(Defect::SegmentsSplitLoosely) && token.matches('.').count() > 2 {
        // `token.split('.')` and then parts [0], [1] and [2]: the rest is never looked at.
        return Some(token.split('.').take(3).collect::<Vec<_>>().join("."));
    }
    if defects.contains(Defect::NestedJwtUnwrapped) {
        if let Some(inner) = nested_token(token) {
            return Some(inner);
        }
    }
    if defects.contains(Defect::Base64DecodedLeniently) && token.contains(['=', '+', '/']) {
        // A decoder that takes both alphabets and ignores padding, as `atob` or
        // `base64.urlsafe_b64decode(s + "==")` do.
        let canonical = token
            .chars()
            .filter(|c| *c != '=')
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                c => c,
            })
            .collect();
        return Some(canonical);
    }
    None
}

/// The payload of a token whose header says `cty: JWT`, when it is text: the
/// inner token, unwrapped without checking the outer signature.
fn nested_token(token: &str) -> Option<String> {
    let mut parts = token.split('.');
    let (header, payload) = (parts.next()?, parts.next()?);
    let header: Value = serde_json::from_slice(&decode_b64url(header)?).ok()?;
    let cty = header.get("cty").and_then(Value::as_str)?;
    if !cty.eq_ignore_ascii_case("JWT") {
        return None;
    }
    String::from_utf8(decode_b64url(payload)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(d: Defect) -> DefectSet {
        [d].into_iter().collect()
    }

    #[test]
    fn each_defect_reads_only_its_own_form() {
        let json = r#"{"h.p.":"","protected":"h","payload":"p","signature":"s"}"#;
        assert_eq!(
            lenient_reading(json, &with(Defect::JwsJsonAccepted)).as_deref(),
            Some("h.p.s")
        );
        assert_eq!(
            lenient_reading(json, &with(Defect::SegmentsSplitLoosely)).as_deref(),
            None
        );
        assert_eq!(
            lenient_reading("h.p.s.", &with(Defect::SegmentsSplitLoosely)).as_deref(),
            Some("h.p.s")
        );
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let nested = format!(
            "{}.{}.sig",
            b64.encode(r#"{"alg":"none","cty":"jwt"}"#),
            b64.encode("a.b.c")
        );
        assert_eq!(
            lenient_reading(&nested, &with(Defect::NestedJwtUnwrapped)).as_deref(),
            Some("a.b.c")
        );
        assert_eq!(lenient_reading(&nested, &DefectSet::default()), None);
        assert_eq!(
            lenient_reading("h+/=.p.s==", &with(Defect::Base64DecodedLeniently)).as_deref(),
            Some("h-_.p.s")
        );
    }
}
