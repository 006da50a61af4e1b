//! Bearer token extraction (RFC 6750 section 2).
//!
//! Decisions, all documented in the crate docs and `--help`:
//!
//! * **Header** (`Authorization: Bearer <token>`, section 2.1): the scheme is
//!   case-insensitive, one or more spaces may separate it from the token
//!   (RFC 7235's `1*SP`), and the token must match ``b64token``. A `Bearer` scheme
//!   with an empty token is answered 401 `invalid_token` (a credential was
//!   offered and it is invalid). Any other scheme (`Basic`, ...) is not a bearer
//!   credential: the request counts as having none. Two `Authorization` headers
//!   are 400 `invalid_request`.
//! * **Form body** (section 2.2): accepted only on `POST` with
//!   `Content-Type: application/x-www-form-urlencoded`; on any other method a
//!   body token is 400 `invalid_request` (section 2.2 forbids `GET`).
//! * **Query** (`?access_token=`, section 2.3): refused with 400
//!   `invalid_request`; RFC 6750 discourages it and RFC 9700 section 2.4 says
//!   it MUST NOT be used.
//! * A token sent by more than one method, or twice by one method, is 400
//!   `invalid_request` (section 2: "MUST NOT use more than one method").

use std::ops::Range;

use axum::http::{header, HeaderMap, HeaderValue, Method};

use crate::defect::{Defect, DefectSet};
use crate::error::AuthError;

/// Whether `s` matches RFC 6750's `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn is_b64token(s: &str) -> bool {
    // Every compact JWS is dot-separated canonical base64url, whose alphabet
    // and the dot are all b64token characters: base64-simd checks that with
    // SIMD (~0.1 instruction a byte). Anything else takes the byte loop
    // below (~2 a byte), which alone decides every other string.
    let bytes = s.as_bytes();
    let mut start = 0;
    let segments_ok = memchr::memchr_iter(b'.', bytes)
        .chain([bytes.len()])
        .all(|end| {
            let ok = base64_simd::URL_SAFE_NO_PAD
                .check(&bytes[start..end])
                .is_ok();
            start = end + 1;
            ok
        });
    if !s.is_empty() && segments_ok {
        return true;
    }
    let body = s.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(is_b64token_byte)
}

fn is_b64token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// Parses one `Authorization` value: `Ok(None)` when it is not a bearer credential.
pub fn parse_authorization(value: &[u8]) -> Result<Option<String>, AuthError> {
    parse_authorization_with(value, &DefectSet::new())
}

/// [`parse_authorization`] with the defects that change scheme matching.
pub fn parse_authorization_with(
    value: &[u8],
    defects: &DefectSet,
) -> Result<Option<String>, AuthError> {
    match authorization_token(value, defects)? {
        Some(range) => check_syntax(&value[range]).map(|t| Some(t.to_owned())),
        None => Ok(None),
    }
}

/// A bearer token as the request carried it.
///
/// A header token's syntax (UTF-8, `b64token`) is checked by [`Bearer::checked`],
/// not on extraction: a token byte for byte equal to one the verified-token
/// cache holds has passed that check already, and a cache hit skips it (it was
/// a third of a hit's work).
///
/// ```
/// use axum::http::{header, HeaderMap, Method};
/// use byoid_reference::bearer::extract;
/// use byoid_reference::DefectSet;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(header::AUTHORIZATION, "Bearer a.b.c".parse().unwrap());
/// let token = extract(&Method::GET, &headers, None, None, &DefectSet::new()).unwrap().unwrap();
/// assert_eq!(token.as_bytes(), b"a.b.c");
/// assert_eq!(token.checked().unwrap(), "a.b.c");
///
/// headers.insert(header::AUTHORIZATION, "Bearer a!b".parse().unwrap());
/// let token = extract(&Method::GET, &headers, None, None, &DefectSet::new()).unwrap().unwrap();
/// assert!(token.checked().is_err()); // `!` is not a b64token character
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Bearer {
    /// From the `Authorization` header: the `token` bytes of its `value` (a
    /// shared handle on the request's bytes, not a copy); syntax not yet checked.
    Header {
        /// The whole `Authorization` value.
        value: HeaderValue,
        /// Where the token lies in it.
        token: Range<usize>,
    },
    /// From the form body (or the query, with a defect), decoded.
    Param(String),
}

impl Bearer {
    /// The token's bytes, as sent.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Bearer::Header { value, token } => &value.as_bytes()[token.clone()],
            Bearer::Param(s) => s.as_bytes(),
        }
    }

    /// The token as text: a header token must be UTF-8 and match `b64token`
    /// (else 401 `invalid_token`).
    pub fn checked(&self) -> Result<&str, AuthError> {
        match self {
            Bearer::Header { .. } => check_syntax(self.as_bytes()),
            Bearer::Param(s) => Ok(s),
        }
    }
}

/// A header token's syntax: UTF-8 and RFC 6750's `b64token`.
fn check_syntax(token: &[u8]) -> Result<&str, AuthError> {
    match simdutf8::basic::from_utf8(token) {
        Ok(t) if is_b64token(t) => Ok(t),
        _ => Err(AuthError::invalid_token("malformed bearer token")),
    }
}

/// Where the token of one `Authorization` value lies in it, its syntax not yet
/// checked (see [`Bearer`]).
fn authorization_token(
    value: &[u8],
    defects: &DefectSet,
) -> Result<Option<Range<usize>>, AuthError> {
    if let Some(token) = defective_authorization_token(value, defects) {
        return token;
    }
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(i) => (&value[..i], &value[i..]),
        None => (value, &value[value.len()..]),
    };
    let scheme_ok = if defects.contains(Defect::SchemeCaseSensitive) {
        scheme == b"Bearer"
    } else {
        scheme.eq_ignore_ascii_case(b"bearer")
    };
    if !scheme_ok {
        return Ok(None);
    }
    let token = if defects.contains(Defect::BearerSplitOnSpace) {
        // The defect: `value.split(' ')[1]`, which throws when there is no space at all.
        let Some(after) = rest.strip_prefix(b" ") else {
            return Err(AuthError::leaked(
                "IndexError: list index out of range".into(),
            ));
        };
        after.split(|&b| b == b' ').next().unwrap_or_default()
    } else {
        // 1*SP between scheme and token.
        rest.iter()
            .position(|&b| b != b' ')
            .map_or(&rest[rest.len()..], |i| &rest[i..])
    };
    if token.is_empty() {
        return Err(AuthError::invalid_token("empty bearer token"));
    }
    let token = match token {
        [b'"', inner @ .., b'"'] if defects.contains(Defect::BearerTokenUnquoted) => inner,
        _ => token,
    };
    // `token` is a subslice of `value`: its offset is where it starts.
    let start = token.as_ptr() as usize - value.as_ptr() as usize;
    Ok(Some(start..start + token.len()))
}

/// Where the defects that parse `Authorization` carelessly find a token; `None` when none
/// of them is planted (or it finds nothing to change), so the careful parse goes on.
fn defective_authorization_token(
    value: &[u8],
    defects: &DefectSet,
) -> Option<Result<Option<Range<usize>>, AuthError>> {
    let found = |start: usize, end: usize| {
        let start = start + value[start..end].iter().take_while(|&&b| b == b' ').count();
        Some(if start >= end {
            Err(AuthError::invalid_token("empty bearer token"))
        } else {
            Ok(Some(start..end))
        })
    };
    let find =
        |needle: &[u8], from: usize| memchr::memmem::find(&value[from..], needle).map(|i| from + i);
    if defects.contains(Defect::AuthorizationCommaSplit) {
        if let Some(comma) = value.iter().position(|&b| b == b',') {
            // The careful parse, of the value's first "list element".
            let end = comma
                - value[..comma]
                    .iter()
                    .rev()
                    .take_while(|&&b| b == b' ')
                    .count();
            return Some(authorization_token(&value[..end], &DefectSet::new()));
        }
    }
    if defects.contains(Defect::SchemeByLength) && value.len() > 7 {
        return found(7, value.len());
    }
    if defects.contains(Defect::BearerSplitOnPrefix) {
        // `split('Bearer ')[1]`: the text between the first `Bearer ` and the next.
        let start = find(b"Bearer ", 0)? + 7;
        let end = find(b"Bearer ", start).unwrap_or(value.len());
        return found(start, end);
    }
    if defects.contains(Defect::BearerPrefixRemoved) && value.starts_with(b"Bearer Bearer ") {
        // `replace('Bearer ', '')` on a doubled prefix leaves the token alone.
        return found(14, value.len());
    }
    None
}

fn form_tokens(encoded: &[u8]) -> Vec<String> {
    form_urlencoded::parse(encoded)
        .filter(|(k, _)| k == "access_token")
        .map(|(_, v)| v.into_owned())
        .collect()
}

/// Finds the bearer token of a request.
///
/// `form_body` is the body when the request declared
/// `application/x-www-form-urlencoded` (else `None`). `Ok(None)` means no
/// bearer credentials at all. A header token is borrowed from `headers`, and
/// its syntax is checked here only when the request also sent a token another
/// way (a malformed header token is then 401, as it would be alone); otherwise
/// [`Bearer::checked`] checks it.
pub fn extract(
    method: &Method,
    headers: &HeaderMap,
    query: Option<&str>,
    form_body: Option<&[u8]>,
    defects: &DefectSet,
) -> Result<Option<Bearer>, AuthError> {
    let mut auth = headers.get_all(header::AUTHORIZATION).into_iter();
    let value = match (auth.next(), auth.next()) {
        (Some(v), Some(_)) if defects.contains(Defect::DuplicateAuthorizationAccepted) => Some(v),
        (Some(_), Some(_)) => {
            return Err(AuthError::invalid_request(
                "more than one Authorization header",
            ))
        }
        (v, _) => v,
    };
    let from_header = match value {
        Some(v) => authorization_token(v.as_bytes(), defects)?.map(|token| Bearer::Header {
            value: v.clone(),
            token,
        }),
        None => None,
    };
    // Most requests carry neither a query nor a form body: no parsing then.
    let from_query = query.map_or_else(Vec::new, |q| form_tokens(q.as_bytes()));
    let from_body = form_body.map(form_tokens).unwrap_or_default();
    if from_query.is_empty() && from_body.is_empty() {
        return Ok(from_header);
    }
    if let Some(h) = &from_header {
        h.checked()?;
    }
    if from_query.len() > 1 || from_body.len() > 1 {
        return Err(AuthError::invalid_request(
            "access_token given more than once",
        ));
    }
    let methods = usize::from(from_header.is_some()) + from_query.len() + from_body.len();
    if methods > 1 {
        if let (Some(h), true) = (
            from_header,
            defects.contains(Defect::MultipleMethodsAccepted),
        ) {
            return Ok(Some(h));
        }
        return Err(AuthError::invalid_request(
            "token sent by more than one method",
        ));
    }
    if let Some(q) = from_query.into_iter().next() {
        if !defects.contains(Defect::QueryTokenAccepted) {
            return Err(AuthError::invalid_request(
                "the access_token query parameter is not supported",
            ));
        }
        return nonempty(q).map(|q| Some(Bearer::Param(q)));
    }
    if let Some(b) = from_body.into_iter().next() {
        if method != Method::POST && !defects.contains(Defect::BodyTokenOnGet) {
            return Err(AuthError::invalid_request(
                "a form-body token requires POST",
            ));
        }
        return nonempty(b).map(|b| Some(Bearer::Param(b)));
    }
    Ok(None)
}

fn nonempty(t: String) -> Result<String, AuthError> {
    if t.is_empty() {
        Err(AuthError::invalid_token("empty bearer token"))
    } else {
        Ok(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn b64token_bytes_are_exactly_rfc6750s_alphabet() {
        for b in 0..=255u8 {
            let want = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(super::is_b64token_byte(b), want, "byte {b:#04x}");
        }
        let long = "aZ09-._~+/".repeat(40);
        assert!(is_b64token(&long) && is_b64token(&format!("{long}==")));
        assert!(!is_b64token(&format!("{long} ")) && !is_b64token(&format!(" {long}")));
        assert!(!is_b64token(&format!("{}!{}", &long[..100], &long[100..])));
        assert!(!is_b64token("") && !is_b64token("==") && !is_b64token("a=b"));
    }
    proptest::proptest! {
        /// The SIMD fast path never changes an answer: the check agrees with
        /// the RFC 6750 grammar, byte by byte, on JWS-like strings.
        #[test]
        fn b64token_fast_path_agrees_with_the_grammar(
            s in "[A-Za-z0-9_-]{0,9}(\\.[A-Za-z0-9_-]{0,9}){0,3}[=~+/ !.\u{e9}]{0,2}[A-Za-z=]{0,2}",
        ) {
            let body = s.trim_end_matches('=');
            let want = !body.is_empty() && body.bytes().all(super::is_b64token_byte);
            proptest::prop_assert_eq!(is_b64token(&s), want, "{:?}", s);
        }
    }

    use crate::error::AuthErrorKind;
    use axum::http::{header, HeaderMap, HeaderValue};

    fn h(values: &[&str]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for v in values {
            m.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        m
    }
    fn get(
        values: &[&str],
        query: Option<&str>,
        body: Option<&str>,
    ) -> Result<Option<String>, AuthErrorKind> {
        extract(
            &Method::GET,
            &h(values),
            query,
            body.map(str::as_bytes),
            &DefectSet::new(),
        )
        .and_then(|t| text(t).transpose())
        .map_err(|e| e.kind())
    }

    /// The token's checked text.
    fn text(t: Option<Bearer>) -> Option<Result<String, AuthError>> {
        t.map(|b| b.checked().map(str::to_owned))
    }

    #[test]
    fn header_forms() {
        assert_eq!(
            get(&["Bearer abc.def-_~+/=="], None, None),
            Ok(Some("abc.def-_~+/==".into()))
        );
        assert_eq!(get(&["bearer abc"], None, None), Ok(Some("abc".into())));
        assert_eq!(get(&["BEARER   abc"], None, None), Ok(Some("abc".into())));
        assert_eq!(
            get(&["Bearer"], None, None),
            Err(AuthErrorKind::InvalidToken)
        );
        assert_eq!(
            get(&["Bearer    "], None, None),
            Err(AuthErrorKind::InvalidToken)
        );
        assert_eq!(
            get(&["Bearer a b"], None, None),
            Err(AuthErrorKind::InvalidToken)
        );
        assert_eq!(
            get(&["Bearer a=b"], None, None),
            Err(AuthErrorKind::InvalidToken)
        );
        assert_eq!(get(&["Basic dXNlcjpwYXNz"], None, None), Ok(None));
        assert_eq!(get(&["Bearerabc"], None, None), Ok(None));
        assert_eq!(get(&[], None, None), Ok(None));
        assert_eq!(
            get(&["Bearer a", "Bearer a"], None, None),
            Err(AuthErrorKind::InvalidRequest)
        );
    }

    #[test]
    fn query_and_body_methods() {
        assert_eq!(
            get(&[], Some("access_token=abc"), None),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(get(&[], Some("other=1"), None), Ok(None));
        assert_eq!(
            get(&["Bearer a!b"], Some("access_token=abc"), None),
            Err(AuthErrorKind::InvalidToken),
            "a malformed header token is refused as such beside another method too"
        );
        assert_eq!(
            get(&["Bearer a"], Some("access_token=abc"), None),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(
            get(&["Bearer a"], None, Some("access_token=abc")),
            Err(AuthErrorKind::InvalidRequest)
        );
        assert_eq!(
            get(&[], None, Some("access_token=abc")),
            Err(AuthErrorKind::InvalidRequest),
            "GET body"
        );
        let none = h(&[]);
        let post = extract(
            &Method::POST,
            &none,
            None,
            Some(b"x=1&access_token=abc"),
            &DefectSet::new(),
        );
        assert_eq!(post.unwrap(), Some(Bearer::Param("abc".into())));
        let post = extract(
            &Method::POST,
            &none,
            None,
            Some(b"access_token=a&access_token=b"),
            &DefectSet::new(),
        );
        assert_eq!(post.unwrap_err().kind(), AuthErrorKind::InvalidRequest);
    }

    #[test]
    fn defects_change_only_their_case() {
        let q = DefectSet::from(Defect::QueryTokenAccepted);
        assert_eq!(
            extract(&Method::GET, &h(&[]), Some("access_token=abc"), None, &q).unwrap(),
            Some(Bearer::Param("abc".into()))
        );
        assert!(extract(
            &Method::GET,
            &h(&["Bearer a"]),
            Some("access_token=abc"),
            None,
            &q
        )
        .is_err());
        let m = DefectSet::from(Defect::MultipleMethodsAccepted);
        assert_eq!(
            extract(
                &Method::GET,
                &h(&["Bearer a"]),
                Some("access_token=b"),
                None,
                &m
            )
            .unwrap()
            .map(|b| b.as_bytes().to_vec()),
            Some(b"a".to_vec())
        );
        assert!(extract(&Method::GET, &h(&[]), Some("access_token=b"), None, &m).is_err());
    }
}
