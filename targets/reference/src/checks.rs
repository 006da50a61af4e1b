//! Header and claim checks (RFC 9068 section 4, RFC 8725, RFC 7519 section 4.1).
//!
//! Each check is a small pure function, returning a fixed description on
//! failure so it can go into `error_description` without leaking anything.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::defect::{Defect, DefectSet};
use crate::json_object::{Field, JsonObject};

/// A failed check: a fixed sentence, safe to send.
pub type CheckResult = Result<(), &'static str>;

/// A JWS algorithm (RFC 7518 section 3.1) the reference knows. jsonwebtoken 11's `Algorithm`
/// has no ES512, so the reference has its own, with the same names; [`Algorithm::jwt`] gives
/// jsonwebtoken's for the checks that go through it (the HMAC of the key-confusion defects).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(clippy::upper_case_acronyms, missing_docs)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    ES512,
    EdDSA,
}

impl Algorithm {
    /// jsonwebtoken's algorithm of the same name; `None` for ES512, which it does not have.
    pub fn jwt(self) -> Option<jsonwebtoken::Algorithm> {
        use jsonwebtoken::Algorithm as J;
        Some(match self {
            Algorithm::HS256 => J::HS256,
            Algorithm::HS384 => J::HS384,
            Algorithm::HS512 => J::HS512,
            Algorithm::RS256 => J::RS256,
            Algorithm::RS384 => J::RS384,
            Algorithm::RS512 => J::RS512,
            Algorithm::PS256 => J::PS256,
            Algorithm::PS384 => J::PS384,
            Algorithm::PS512 => J::PS512,
            Algorithm::ES256 => J::ES256,
            Algorithm::ES384 => J::ES384,
            Algorithm::EdDSA => J::EdDSA,
            Algorithm::ES512 => return None,
        })
    }
}

impl TryFrom<jsonwebtoken::Algorithm> for Algorithm {
    type Error = ();
    fn try_from(a: jsonwebtoken::Algorithm) -> Result<Self, ()> {
        use jsonwebtoken::Algorithm as J;
        Ok(match a {
            J::HS256 => Algorithm::HS256,
            J::HS384 => Algorithm::HS384,
            J::HS512 => Algorithm::HS512,
            J::RS256 => Algorithm::RS256,
            J::RS384 => Algorithm::RS384,
            J::RS512 => Algorithm::RS512,
            J::PS256 => Algorithm::PS256,
            J::PS384 => Algorithm::PS384,
            J::PS512 => Algorithm::PS512,
            J::ES256 => Algorithm::ES256,
            J::ES384 => Algorithm::ES384,
            J::EdDSA => Algorithm::EdDSA,
            _ => return Err(()),
        })
    }
}

/// The asymmetric algorithms this validator can verify; `none` and HMAC never.
pub const ASYMMETRIC_ALGS: &[Algorithm] = &[
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::ES512,
    Algorithm::EdDSA,
];

/// The `alg` header, classified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderAlg {
    /// One of [`ASYMMETRIC_ALGS`].
    Asymmetric(Algorithm),
    /// HS256/384/512: only the `alg-from-header` defect goes further.
    Hmac(Algorithm),
    /// `none` in any casing: only the `none-accepted` defect goes further.
    None,
}

/// Classifies the header `alg` (case-sensitive, as RFC 7518 names are, except `none`
/// which is recognised in any casing so that `NONE` cannot slip past as "unknown").
pub fn classify_alg(alg: &str) -> Result<HeaderAlg, &'static str> {
    if alg.eq_ignore_ascii_case("none") {
        return Ok(HeaderAlg::None);
    }
    match alg {
        "HS256" => return Ok(HeaderAlg::Hmac(Algorithm::HS256)),
        "HS384" => return Ok(HeaderAlg::Hmac(Algorithm::HS384)),
        "HS512" => return Ok(HeaderAlg::Hmac(Algorithm::HS512)),
        _ => {}
    }
    ASYMMETRIC_ALGS
        .iter()
        .copied()
        .find(|a| alg_name(*a) == alg)
        .map(HeaderAlg::Asymmetric)
        .ok_or("unsupported alg")
}

/// The JOSE name of an algorithm.
pub fn alg_name(a: Algorithm) -> &'static str {
    match a {
        Algorithm::HS256 => "HS256",
        Algorithm::HS384 => "HS384",
        Algorithm::HS512 => "HS512",
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::ES512 => "ES512",
        Algorithm::EdDSA => "EdDSA",
    }
}

/// The allow-list: [`ASYMMETRIC_ALGS`] intersected with the discovery document's
/// `id_token_signing_alg_values_supported` when it is a list of strings.
pub fn allowed_algs(discovery_supported: Option<&Value>) -> Vec<Algorithm> {
    match discovery_supported.and_then(Value::as_array) {
        Some(list) => ASYMMETRIC_ALGS
            .iter()
            .copied()
            .filter(|a| list.iter().any(|v| v.as_str() == Some(alg_name(*a))))
            .collect(),
        None => ASYMMETRIC_ALGS.to_vec(),
    }
}

/// What the `header-members-unchecked` defect throws for `header`: it reads `alg` and then
/// `kid` as present strings (`header['alg']`, `header['kid'].startswith(...)`), as code that
/// indexes the decoded header dict does. `None` when both are strings.
pub fn unchecked_header_read(header: &JsonObject) -> Option<String> {
    for name in ["alg", "kid"] {
        let python_type = match header.get(name) {
            None => return Some(format!("KeyError: '{name}'")),
            Some(Field::Str(_)) => continue,
            Some(Field::Num(n)) if n.is_f64() => "float",
            Some(Field::Num(_)) => "int",
            Some(Field::Array(_)) => "list",
            Some(Field::Other(Value::Null)) => "NoneType",
            Some(Field::Other(Value::Bool(_))) => "bool",
            Some(Field::Other(_)) => "dict",
        };
        return Some(format!(
            "AttributeError: '{python_type}' object has no attribute 'startswith'"
        ));
    }
    None
}

/// What the `kid-lookup-unchecked` defect's key lookup makes of a `kid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KidLookup {
    /// An ordinary kid: the JWKS lookup as usual.
    Normal,
    /// The lookup returned this key, which an HS token is verified with.
    Secret(Vec<u8>),
    /// The lookup threw this.
    Throws(&'static str),
}

/// The members every JS object inherits from `Object.prototype`: `keys[kid]` finds them.
const INHERITED_MEMBERS: &[&str] = &[
    "constructor",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
];

/// The `kid-lookup-unchecked` defect's lookups (jwt_tool's kid attacks): a JS object keyed by
/// kid, then `SELECT key FROM keys WHERE kid = '<kid>'` built by concatenation, then a key file
/// `/srv/keys/<kid>`.
pub fn unchecked_kid_lookup(kid: &str) -> KidLookup {
    if INHERITED_MEMBERS.contains(&kid) {
        return KidLookup::Throws(
            "TypeError [ERR_INVALID_ARG_TYPE]: The \"key\" argument must be of type string or an instance of ArrayBuffer, Buffer, TypedArray, DataView, KeyObject, or CryptoKey. Received function Object",
        );
    }
    if kid.contains('\'') {
        // The quote closes the string literal: a UNION makes the query return its own value.
        let lower = kid.to_ascii_lowercase();
        let value = lower
            .find("union select '")
            .map(|i| &kid[i + "union select '".len()..])
            .and_then(|rest| rest.split_once('\''))
            .map(|(value, _)| value);
        return match value {
            Some(v) => KidLookup::Secret(v.as_bytes().to_vec()),
            None => KidLookup::Throws("sqlite3.OperationalError: unrecognized token"),
        };
    }
    if kid.len() > 255 {
        return KidLookup::Throws("OSError: [Errno 36] File name too long");
    }
    if kid.contains('/') {
        let mut path: Vec<&str> = vec!["srv", "keys"];
        for part in kid.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    path.pop();
                }
                p => path.push(p),
            }
        }
        return if path == ["dev", "null"] {
            KidLookup::Secret(Vec::new())
        } else {
            KidLookup::Throws("FileNotFoundError: [Errno 2] No such file or directory")
        };
    }
    KidLookup::Normal
}

/// Whether an ECDSA signature is `r = s = n`, the group order of `alg`'s curve: what the
/// `ecdsa-range-unchecked` defect's arithmetic reduces to the psychic `r = s = 0`.
pub fn ecdsa_scalars_are_the_order(signature: &[u8], alg: Algorithm) -> bool {
    const P256_N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    const P384_N: [u8; 48] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37,
        0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc,
        0xc5, 0x29, 0x73,
    ];
    const P521_N: [u8; 66] = [
        0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xfa, 0x51, 0x86, 0x87, 0x83, 0xbf, 0x2f, 0x96, 0x6b, 0x7f, 0xcc, 0x01,
        0x48, 0xf7, 0x09, 0xa5, 0xd0, 0x3b, 0xb5, 0xc9, 0xb8, 0x89, 0x9c, 0x47, 0xae, 0xbb, 0x6f,
        0xb7, 0x1e, 0x91, 0x38, 0x64, 0x09,
    ];
    let n: &[u8] = match alg {
        Algorithm::ES256 => &P256_N,
        Algorithm::ES384 => &P384_N,
        Algorithm::ES512 => &P521_N,
        _ => return false,
    };
    signature.len() == 2 * n.len() && signature.chunks(n.len()).all(|half| half == n)
}

/// The JOSE `typ` check (RFC 9068 section 4, RFC 8725 section 3.11).
///
/// Media types compare case-insensitively, with or without `application/`.
/// `at+jwt` always passes; `JWT` passes unless `require_at_jwt`; a missing `typ`
/// and everything else (id-token types) fail.
pub fn check_typ(typ: Option<&str>, require_at_jwt: bool, defects: &DefectSet) -> CheckResult {
    if defects.contains(Defect::TypIgnored) {
        return Ok(());
    }
    let Some(typ) = typ else {
        return if defects.contains(Defect::IdTokenAccepted) {
            Ok(())
        } else {
            Err("missing typ")
        };
    };
    if defects.contains(Defect::TypCaseSensitive) {
        return match typ {
            "at+jwt" | "application/at+jwt" => Ok(()),
            "JWT" if !require_at_jwt => Ok(()),
            _ => Err("typ is not an access token type"),
        };
    }
    if typ.eq_ignore_ascii_case("at+jwt") {
        // The common case, without lowering a copy.
        return Ok(());
    }
    let lower = typ.to_ascii_lowercase();
    if defects.contains(Defect::TypMediaPrefixRefused) && lower.starts_with("application/") {
        return Err("typ is not an access token type");
    }
    let media = lower.strip_prefix("application/").unwrap_or(&lower);
    match media {
        "at+jwt" => Ok(()),
        "jwt" if !require_at_jwt => Ok(()),
        // An id token: `JWT` under require_access_token_type, or an id-ish type.
        "jwt" | "id_token" | "id+jwt" | "jwt+id" | "idtoken" | "id-token"
            if defects.contains(Defect::IdTokenAccepted) =>
        {
            Ok(())
        }
        _ if media.contains("id") && defects.contains(Defect::IdTokenAccepted) => Ok(()),
        _ => Err("typ is not an access token type"),
    }
}

/// `iss` must equal one of `expected` exactly: no prefix, case or slash folding.
pub fn check_iss(claims: &JsonObject, expected: &[String], defects: &DefectSet) -> CheckResult {
    if defects.contains(Defect::NoIssuerCheck) {
        return Ok(());
    }
    let Some(Field::Str(iss)) = claims.get("iss") else {
        return Err("missing or non-string iss");
    };
    let ok = if defects.contains(Defect::IssuerPrefixMatch) {
        expected.iter().any(|e| iss.starts_with(e.as_str()))
    } else {
        expected.iter().any(|e| *e == iss)
    };
    if ok {
        Ok(())
    } else {
        Err("unexpected issuer")
    }
}

/// `aud` (string or array of strings) must contain one of `valid`.
pub fn check_aud(claims: &JsonObject, valid: &[String], defects: &DefectSet) -> CheckResult {
    if defects.contains(Defect::NoAudienceCheck) {
        return Ok(());
    }
    let valid = if defects.contains(Defect::FirstAudienceOnly) {
        &valid[..valid.len().min(1)]
    } else {
        valid
    };
    let accepted = |a: &str| valid.iter().any(|v| v == a);
    let ok = match claims.get("aud") {
        Some(Field::Str(s)) => accepted(&s),
        Some(Field::Array(_)) if defects.contains(Defect::AudMustBeString) => {
            return Err("aud is not a string")
        }
        Some(Field::Array(items)) => {
            // Every element must be a string, even after a match.
            let mut any = false;
            for v in &items {
                any |= accepted(v.as_str().ok_or("aud has a non-string element")?);
            }
            any
        }
        Some(_) => return Err("aud is neither a string nor an array"),
        None => return Err("missing aud"),
    };
    if ok {
        Ok(())
    } else {
        Err("audience not accepted")
    }
}

/// The age limit planted by `iat-max-age`.
pub const IAT_MAX_AGE_SECONDS: f64 = 3600.0;

/// Extra skew planted by `day-of-skew`.
pub const DAY_OF_SKEW: u64 = 86_400;

/// `exp` and `iat` (required, numbers) and `nbf` (a number when present), with skew.
///
/// `now` is seconds since the epoch. Expired means `now > exp + skew`; not yet
/// valid means `now + skew < nbf`; `iat` may be at most `skew` in the future.
pub fn check_times(claims: &JsonObject, now: f64, skew: u64, defects: &DefectSet) -> CheckResult {
    let skew = if defects.contains(Defect::NoClockSkew) {
        0.0
    } else {
        skew as f64
    } + if defects.contains(Defect::DayOfSkew) {
        DAY_OF_SKEW as f64
    } else {
        0.0
    };
    match claims.get("exp") {
        Some(Field::Num(n))
            if defects.contains(Defect::ExpMustBeInteger) && n.as_i64().is_none() =>
        {
            return Err("exp is not an integer");
        }
        Some(Field::Num(n)) => {
            let exp = n.as_f64().ok_or("exp is not a number")?;
            if now > exp + skew {
                return Err("token expired");
            }
        }
        Some(_) => return Err("exp is not a number"),
        None if defects.contains(Defect::ExpOptional) => {}
        None => return Err("missing exp"),
    }
    if !defects.contains(Defect::NoNbfCheck) {
        match claims.get("nbf") {
            Some(Field::Num(n)) => {
                let nbf = n.as_f64().ok_or("nbf is not a number")?;
                if now + skew < nbf {
                    return Err("token not yet valid");
                }
            }
            Some(_) => return Err("nbf is not a number"),
            None => {}
        }
    }
    match claims.get("iat") {
        Some(Field::Num(n)) => {
            let iat = n.as_f64().ok_or("iat is not a number")?;
            if iat > now + skew {
                return Err("token issued in the future");
            }
            if defects.contains(Defect::IatMaxAge) && iat < now - IAT_MAX_AGE_SECONDS {
                return Err("token too old");
            }
        }
        Some(_) => return Err("iat is not a number"),
        // RFC 9068 section 2.2 makes `iat` REQUIRED; the contract asks targets to refuse a
        // token without it (SHOULD), as it does for `sub`.
        None => return Err("missing iat"),
    }
    Ok(())
}

/// `sub` is required (RFC 9068 section 2.2) and must be a non-empty string.
pub fn check_sub(claims: &JsonObject) -> CheckResult {
    match claims.get("sub") {
        Some(Field::Str(s)) if !s.is_empty() => Ok(()),
        Some(_) => Err("sub is not a non-empty string"),
        None => Err("missing sub"),
    }
}

/// An Entra `tid` (tenant id) must name the tenant its `iss` names: one of the
/// issuer URL's path segments (`https://sts.windows.net/{tid}/`,
/// `https://login.microsoftonline.com/{tid}/v2.0`). Tokens without `tid`, or
/// without a string `iss` (refused by the issuer check), pass.
pub fn check_tid(claims: &JsonObject) -> CheckResult {
    // `iss` is read only when there is a `tid` (most tokens have none).
    let Some(tid) = claims.get("tid") else {
        return Ok(());
    };
    let Some(Field::Str(iss)) = claims.get("iss") else {
        return Ok(());
    };
    let Field::Str(tid) = tid else {
        return Err("tid is not a string");
    };
    let path = iss.split_once("://").map_or(&*iss, |(_, rest)| rest);
    if !tid.is_empty() && path.split('/').skip(1).any(|seg| seg == tid) {
        Ok(())
    } else {
        Err("tid does not match the issuer's tenant")
    }
}

/// The token's client id: the first of `names` (the tenant's `client_id_claims`, contract
/// section 2.2) that the token carries, if a string.
pub fn client_id<'a, N: AsRef<str>>(
    claims: &'a JsonObject,
    names: &[N],
) -> Result<Option<Cow<'a, str>>, &'static str> {
    for name in names {
        match claims.get(name.as_ref()) {
            Some(Field::Str(s)) => return Ok(Some(s)),
            Some(_) => return Err("client id claim is not a string"),
            None => {}
        }
    }
    Ok(None)
}

/// With a non-empty allow-list, the client id must be in it.
/// `names` are the claims that carry the client id, in order.
pub fn check_client<N: AsRef<str>>(
    claims: &JsonObject,
    names: &[N],
    allowed: &[String],
    defects: &DefectSet,
) -> CheckResult {
    if defects.contains(Defect::ClientAllowListIgnored) {
        return Ok(());
    }
    if allowed.is_empty() {
        return if defects.contains(Defect::EmptyAllowListDeniesAll) {
            Err("client not allowed")
        } else {
            Ok(())
        };
    }
    let allowed = if defects.contains(Defect::FirstClientIdOnly) {
        &allowed[..1]
    } else {
        allowed
    };
    match client_id(claims, names)? {
        Some(id) if allowed.iter().any(|a| *a == id) => Ok(()),
        Some(_) => Err("client not allowed"),
        None => Err("missing client id"),
    }
}

/// Applies `claim_mappings`: each source claim's value appears under the
/// normalized name. When the normalized claim already exists the two are merged
/// into one array (a string counts as a one-element array), duplicates dropped,
/// order kept. The source claim stays.
pub fn apply_claim_mappings(claims: &mut Map<String, Value>, mappings: &BTreeMap<String, String>) {
    for (src, dst) in mappings {
        if src == dst {
            continue;
        }
        let Some(value) = claims.get(src).cloned() else {
            continue;
        };
        let merged = match claims.get(dst) {
            None => value,
            Some(existing) => {
                let mut out: Vec<Value> = Vec::new();
                for v in as_list(existing).into_iter().chain(as_list(&value)) {
                    if !out.contains(&v) {
                        out.push(v);
                    }
                }
                Value::Array(out)
            }
        };
        claims.insert(dst.clone(), merged);
    }
}

fn as_list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        Value::Null => Vec::new(),
        other => vec![other.clone()],
    }
}

/// Whether the normalized `roles` claim (an array of strings, or a string of
/// space-separated roles) contains `role`.
pub fn has_role(claims: &JsonObject, role: &str) -> bool {
    has_role_with(claims, role, &DefectSet::new())
}

/// [`has_role`] with the defects that change role matching.
pub fn has_role_with(claims: &JsonObject, role: &str, defects: &DefectSet) -> bool {
    if defects.contains(Defect::RoleSubstringMatch) {
        let needle = role.to_ascii_lowercase();
        return match claims.get("roles") {
            Some(Field::Array(a)) => a
                .iter()
                .filter_map(Value::as_str)
                .any(|r| r.to_ascii_lowercase().contains(&needle)),
            Some(Field::Str(s)) => s.to_ascii_lowercase().contains(&needle),
            _ => false,
        };
    }
    match claims.get("roles") {
        Some(Field::Array(a)) => a.iter().any(|v| v.as_str() == Some(role)),
        Some(Field::Str(s)) => s.split_whitespace().any(|r| r == role),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> JsonObject {
        match v {
            Value::Object(m) => JsonObject::from_map(&m),
            _ => panic!("not an object"),
        }
    }

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("not an object"),
        }
    }

    #[test]
    fn tid_must_name_the_issuers_tenant() {
        let t = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let v2 = format!("https://login.microsoftonline.com/{t}/v2.0");
        let v1 = format!("https://sts.windows.net/{t}/");
        for iss in [&v2, &v1] {
            assert_eq!(check_tid(&obj(json!({"iss": iss, "tid": t}))), Ok(()));
            assert!(check_tid(&obj(json!({"iss": iss, "tid": "other"}))).is_err());
            assert!(check_tid(&obj(json!({"iss": iss, "tid": ""}))).is_err());
            assert!(check_tid(&obj(json!({"iss": iss, "tid": 1}))).is_err());
        }
        // The host is not a tenant segment, and a substring is not a segment.
        assert!(check_tid(&obj(json!({"iss": v2, "tid": "login.microsoftonline.com"}))).is_err());
        assert!(check_tid(&obj(json!({"iss": v2, "tid": &t[..8]}))).is_err());
        // No tid (Okta, Auth0, generic), or no string iss (the issuer check refuses it): pass.
        assert_eq!(
            check_tid(&obj(json!({"iss": "https://x.okta.com/oauth2/default"}))),
            Ok(())
        );
        assert_eq!(check_tid(&obj(json!({"tid": t}))), Ok(()));
    }
    fn none() -> DefectSet {
        DefectSet::new()
    }

    #[test]
    fn unchecked_header_reads_throw_like_python() {
        let h = |v: Value| unchecked_header_read(&obj(v));
        assert_eq!(h(json!({"alg": "RS256", "kid": "k"})), None);
        assert_eq!(h(json!({"kid": "k"})).unwrap(), "KeyError: 'alg'");
        assert_eq!(h(json!({"alg": "RS256"})).unwrap(), "KeyError: 'kid'");
        for (v, t) in [
            (json!(null), "NoneType"),
            (json!(5), "int"),
            (json!(2.5), "float"),
            (json!(["RS256"]), "list"),
            (json!({}), "dict"),
            (json!(true), "bool"),
        ] {
            let want = format!("AttributeError: '{t}' object has no attribute 'startswith'");
            assert_eq!(h(json!({"alg": v.clone(), "kid": "k"})).unwrap(), want);
            assert_eq!(h(json!({"alg": "RS256", "kid": v})).unwrap(), want);
        }
    }

    #[test]
    fn unchecked_kid_lookups() {
        use KidLookup::*;
        for kid in ["k1", "AbC-_09", "a.b", "x".repeat(255).as_str()] {
            assert_eq!(unchecked_kid_lookup(kid), Normal, "{kid}");
        }
        for kid in ["constructor", "__proto__", "toString", "hasOwnProperty"] {
            assert!(matches!(unchecked_kid_lookup(kid), Throws(t) if t.starts_with("TypeError")));
        }
        assert_eq!(
            unchecked_kid_lookup("x' UNION SELECT 'key';--"),
            Secret(b"key".to_vec())
        );
        assert_eq!(
            unchecked_kid_lookup("' union select 'Ab c'--"),
            Secret(b"Ab c".to_vec())
        );
        assert!(matches!(unchecked_kid_lookup("it's"), Throws(t) if t.contains("sqlite3")));
        assert_eq!(unchecked_kid_lookup("../../dev/null"), Secret(Vec::new()));
        assert_eq!(
            unchecked_kid_lookup("../../../../../dev/null"),
            Secret(Vec::new())
        );
        assert!(
            matches!(unchecked_kid_lookup("../dev/null"), Throws(t) if t.starts_with("FileNotFound"))
        );
        assert!(
            matches!(unchecked_kid_lookup(&"k".repeat(256)), Throws(t) if t.contains("too long"))
        );
    }

    #[test]
    fn ecdsa_order_pairs() {
        let n256 = hex("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551");
        let n384 = hex("ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973");
        let pair = |n: &[u8]| [n, n].concat();
        assert!(ecdsa_scalars_are_the_order(&pair(&n256), Algorithm::ES256));
        assert!(ecdsa_scalars_are_the_order(&pair(&n384), Algorithm::ES384));
        // p521's ORDER, without its leading zero bytes.
        let n521 = hex("01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409");
        assert!(ecdsa_scalars_are_the_order(&pair(&n521), Algorithm::ES512));
        assert!(!ecdsa_scalars_are_the_order(&pair(&n256), Algorithm::ES384));
        assert!(!ecdsa_scalars_are_the_order(&pair(&n256), Algorithm::RS256));
        assert!(!ecdsa_scalars_are_the_order(&[0; 64], Algorithm::ES256));
        let mut r_only = pair(&n256);
        r_only[63] ^= 1;
        assert!(!ecdsa_scalars_are_the_order(&r_only, Algorithm::ES256));
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn typ_rules() {
        for ok in [
            "at+jwt",
            "AT+JWT",
            "application/at+jwt",
            "Application/At+Jwt",
        ] {
            assert_eq!(check_typ(Some(ok), true, &none()), Ok(()), "{ok}");
        }
        for ok in ["JWT", "jwt", "application/jwt"] {
            assert_eq!(check_typ(Some(ok), false, &none()), Ok(()), "{ok}");
            assert!(check_typ(Some(ok), true, &none()).is_err(), "{ok}");
        }
        for bad in [
            "id_token",
            "JWT+id",
            "at+jwt ",
            "application/id_token+jwt",
            "",
            "secevent+jwt",
        ] {
            assert!(check_typ(Some(bad), false, &none()).is_err(), "{bad}");
        }
        assert!(check_typ(None, false, &none()).is_err());
        let cs = DefectSet::from(Defect::TypCaseSensitive);
        assert!(check_typ(Some("AT+JWT"), false, &cs).is_err());
        assert!(check_typ(Some("at+jwt"), false, &cs).is_ok());
        let id = DefectSet::from(Defect::IdTokenAccepted);
        assert!(check_typ(None, true, &id).is_ok());
        assert!(check_typ(Some("id_token"), false, &id).is_ok());
        assert!(check_typ(Some("JWT"), true, &id).is_ok());
        assert!(check_typ(Some("secevent+jwt"), false, &id).is_err());
        assert!(check_typ(Some("anything"), true, &DefectSet::from(Defect::TypIgnored)).is_ok());
    }

    #[test]
    fn alg_classification_and_allow_list() {
        assert_eq!(
            classify_alg("RS256"),
            Ok(HeaderAlg::Asymmetric(Algorithm::RS256))
        );
        assert_eq!(
            classify_alg("EdDSA"),
            Ok(HeaderAlg::Asymmetric(Algorithm::EdDSA))
        );
        for n in ["none", "None", "NONE", "nOnE"] {
            assert_eq!(classify_alg(n), Ok(HeaderAlg::None));
        }
        assert_eq!(classify_alg("HS256"), Ok(HeaderAlg::Hmac(Algorithm::HS256)));
        assert!(classify_alg("rs256").is_err());
        assert_eq!(
            classify_alg("ES512"),
            Ok(HeaderAlg::Asymmetric(Algorithm::ES512))
        );
        assert!(classify_alg("ES521").is_err());
        assert_eq!(allowed_algs(None).len(), 10);
        let list = json!(["RS256", "HS256", "none", "ES256"]);
        assert_eq!(
            allowed_algs(Some(&list)),
            vec![Algorithm::RS256, Algorithm::ES256]
        );
        assert_eq!(
            allowed_algs(Some(&json!("RS256"))).len(),
            10,
            "not a list: ignored"
        );
    }

    #[test]
    fn iss_is_exact() {
        let exp = vec!["https://idp/contoso".to_string()];
        let c = |i: Value| obj(json!({ "iss": i }));
        assert!(check_iss(&c(json!("https://idp/contoso")), &exp, &none()).is_ok());
        for bad in [
            "https://idp/contoso/",
            "https://IDP/contoso",
            "https://idp/contoso-evil",
            "https://idp",
        ] {
            assert!(check_iss(&c(json!(bad)), &exp, &none()).is_err(), "{bad}");
        }
        assert!(check_iss(&c(json!(["https://idp/contoso"])), &exp, &none()).is_err());
        assert!(check_iss(&obj(json!({})), &exp, &none()).is_err());
        let p = DefectSet::from(Defect::IssuerPrefixMatch);
        assert!(check_iss(&c(json!("https://idp/contoso-evil")), &exp, &p).is_ok());
        assert!(check_iss(
            &c(json!("https://other")),
            &exp,
            &DefectSet::from(Defect::NoIssuerCheck)
        )
        .is_ok());
    }

    #[test]
    fn aud_rules() {
        let valid = vec!["api://r".to_string()];
        let c = |a: Value| obj(json!({ "aud": a }));
        assert!(check_aud(&c(json!("api://r")), &valid, &none()).is_ok());
        assert!(check_aud(&c(json!(["x", "api://r"])), &valid, &none()).is_ok());
        assert!(check_aud(&c(json!(["x"])), &valid, &none()).is_err());
        assert!(check_aud(&c(json!([])), &valid, &none()).is_err());
        assert!(check_aud(&c(json!(["api://r", 1])), &valid, &none()).is_err());
        assert!(check_aud(&c(json!(1)), &valid, &none()).is_err());
        assert!(check_aud(&c(json!("API://R")), &valid, &none()).is_err());
        assert!(check_aud(&obj(json!({})), &valid, &none()).is_err());
        let s = DefectSet::from(Defect::AudMustBeString);
        assert!(check_aud(&c(json!(["api://r"])), &valid, &s).is_err());
        assert!(check_aud(&c(json!("api://r")), &valid, &s).is_ok());
        assert!(check_aud(
            &c(json!("x")),
            &valid,
            &DefectSet::from(Defect::NoAudienceCheck)
        )
        .is_ok());
    }

    #[test]
    fn times_with_skew() {
        let now = 1_000_000.0;
        // Every token below has an `iat` unless it names one itself.
        let with_iat = |mut v: Value| {
            if v.get("iat").is_none() {
                v["iat"] = json!(999_000);
            }
            obj(v)
        };
        let t = |v: Value| check_times(&with_iat(v), now, 60, &none());
        assert!(
            check_times(&obj(json!({"exp": 1_000_100})), now, 60, &none()).is_err(),
            "missing iat"
        );
        assert!(t(json!({"exp": 1_000_000})).is_ok());
        assert!(
            t(json!({"exp": 999_940})).is_ok(),
            "exactly at the skew edge"
        );
        assert!(t(json!({"exp": 999_939})).is_err());
        assert!(t(json!({"exp": 999_939.5})).is_err());
        assert!(t(json!({"exp": 1_000_100.5})).is_ok(), "float exp");
        assert!(t(json!({"exp": "1000100"})).is_err());
        assert!(t(json!({})).is_err());
        assert!(t(json!({"exp": 1_000_100, "nbf": 1_000_060})).is_ok());
        assert!(t(json!({"exp": 1_000_100, "nbf": 1_000_061})).is_err());
        assert!(t(json!({"exp": 1_000_100, "nbf": "0"})).is_err());
        assert!(t(json!({"exp": 1_000_100, "iat": 1_000_060})).is_ok());
        assert!(t(json!({"exp": 1_000_100, "iat": 1_000_061})).is_err());
        assert!(t(json!({"exp": 1_000_100, "iat": null})).is_err());
        let d = |v: Value, d: Defect| check_times(&with_iat(v), now, 60, &DefectSet::from(d));
        assert!(d(json!({"exp": 1}), Defect::DayOfSkew).is_err());
        assert!(d(json!({"exp": 999_000}), Defect::DayOfSkew).is_ok());
        assert!(d(json!({}), Defect::ExpOptional).is_ok());
        assert!(d(json!({"exp": "x"}), Defect::ExpOptional).is_err());
        assert!(d(
            json!({"exp": 1_000_100, "nbf": 2_000_000}),
            Defect::NoNbfCheck
        )
        .is_ok());
    }

    #[test]
    fn client_id_mapping_order() {
        let all = crate::manifest::DEFAULT_CLIENT_ID_CLAIMS;
        let c = obj(json!({"azp": "b", "cid": "c", "appid": "d"}));
        assert_eq!(client_id(&c, all), Ok(Some("b".into())));
        assert_eq!(client_id(&c, &["appid", "azp"]), Ok(Some("d".into())));
        assert_eq!(client_id(&c, &["client_id"]), Ok(None));
        assert_eq!(
            client_id(&obj(json!({"client_id": "a", "azp": "b"})), all),
            Ok(Some("a".into()))
        );
        assert_eq!(
            client_id(&obj(json!({"cid": "c"})), all),
            Ok(Some("c".into()))
        );
        assert_eq!(
            client_id(&obj(json!({"appid": "d"})), all),
            Ok(Some("d".into()))
        );
        assert_eq!(client_id(&obj(json!({})), all), Ok(None));
        assert!(client_id(&obj(json!({"client_id": 1})), all).is_err());
        let allowed = vec!["c".to_string()];
        assert!(check_client(&obj(json!({"cid": "c"})), all, &allowed, &none()).is_ok());
        assert!(check_client(&obj(json!({"cid": "c"})), &["azp"], &allowed, &none()).is_err());
        assert!(check_client(&obj(json!({"cid": "x"})), all, &allowed, &none()).is_err());
        assert!(check_client(&obj(json!({})), all, &allowed, &none()).is_err());
        assert!(check_client(&obj(json!({})), all, &[], &none()).is_ok());
        assert!(check_client(
            &obj(json!({"cid": "x"})),
            all,
            &allowed,
            &DefectSet::from(Defect::ClientAllowListIgnored)
        )
        .is_ok());
        assert!(check_sub(&obj(json!({"sub": "x"}))).is_ok());
        assert!(check_sub(&obj(json!({"sub": 1}))).is_err());
        assert!(check_sub(&obj(json!({}))).is_err());
    }

    #[test]
    fn claim_mapping_merges() {
        let m: BTreeMap<String, String> = [("groups".to_string(), "roles".to_string())].into();
        let mut c = map(json!({"groups": ["admin", "x"]}));
        apply_claim_mappings(&mut c, &m);
        assert_eq!(c["roles"], json!(["admin", "x"]));
        assert!(has_role(&JsonObject::from_map(&c), "admin"));
        let mut c = map(json!({"groups": ["admin", "x"], "roles": ["x", "y"]}));
        apply_claim_mappings(&mut c, &m);
        assert_eq!(c["roles"], json!(["x", "y", "admin"]));
        let mut c = map(json!({"groups": "admin", "roles": "reader"}));
        apply_claim_mappings(&mut c, &m);
        assert_eq!(c["roles"], json!(["reader", "admin"]));
        let mut c = map(json!({"roles": ["a"]}));
        apply_claim_mappings(&mut c, &m);
        assert_eq!(c["roles"], json!(["a"]));
        assert!(has_role(&obj(json!({"roles": "reader admin"})), "admin"));
        assert!(!has_role(
            &obj(json!({"roles": ["administrator"]})),
            "admin"
        ));
        assert!(!has_role(
            &obj(json!({"roles": [{"admin": true}]})),
            "admin"
        ));
    }
}
