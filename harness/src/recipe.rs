//! Turns a case's token recipe into a compact token, with placeholders resolved.
//!
//! Placeholders in string values:
//! * a whole value `{now}`, `{now+3600}`, `{now-skew-5}` becomes a JSON integer; with a
//!   fractional tail (`{now+3600}.5`) a JSON float;
//! * `str:` at the start keeps the value a string (`"str:{now+3600}"` for `exp` as a string);
//! * a whole value `{jwk}` or `{attacker.jwk}` becomes that public JWK as a JSON object;
//!   `{attacker.x5c}` the attacker's certificate chain (one self-signed certificate);
//! * otherwise `{issuer}`, `{audience}`, `{client_id}`, `{tenant_id}`, `{kid}`, `{jwks_url}`,
//!   `{other.issuer}`, `{other.client_id}`, `{other.kid}`, `{attacker.issuer}`,
//!   `{attacker.kid}`, `{attacker.jku}` are replaced inside the text, and `{repeat:N:TEXT}`
//!   by TEXT repeated N times (at most 1 MiB).

use mock_idp::forge::{self, NonCanonical, PublicKeyEncoding, Signature, SignatureDamage};
use mock_idp::{MintOptions, Tenant, TokenKind};
use serde_json::{Map, Value};

use crate::catalog::{Origin, TokenKindSpec};
use crate::catalog::{SignSpec, TokenSpec};

/// Everything placeholders can name.
pub struct Context<'a> {
    /// Unix time of the run's clock.
    pub now: i64,
    /// The manifest's clock skew.
    pub skew: i64,
    /// The case's tenant.
    pub tenant: &'a Tenant,
    /// The "other" tenant (different keys, same flavor), if the case has one.
    pub other: Option<&'a Tenant>,
    /// The sibling tenant (same keys), if the case has one.
    pub sibling: Option<&'a Tenant>,
    /// The attacker's tenant.
    pub attacker: &'a Tenant,
    /// A per-case URL on the attacker host that serves its keys.
    pub attacker_jku: String,
}

/// Why a recipe could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecipeError {
    /// A placeholder names nothing.
    #[error("unknown placeholder `{{{0}}}`")]
    UnknownPlaceholder(String),
    /// The case refers to a tenant it does not have.
    #[error("the case uses `{0}` but has no such tenant")]
    MissingTenant(&'static str),
    /// Anything else.
    #[error("{0}")]
    Invalid(String),
}

impl Context<'_> {
    fn other(&self) -> Result<&Tenant, RecipeError> {
        self.other.ok_or(RecipeError::MissingTenant("other"))
    }

    fn name(&self, name: &str) -> Result<String, RecipeError> {
        Ok(match name {
            "issuer" => self.tenant.issuer().to_string(),
            "audience" => self.tenant.audience().to_string(),
            "client_id" => self.tenant.clients()[0].id.clone(),
            "tenant_id" => self.tenant.tenant_key().to_string(),
            "kid" => self.tenant.active_key().kid().to_string(),
            "jwks_url" => self.tenant.jwks_url(),
            "enc.kid" => self.tenant.enc_key().kid().to_string(),
            "other.issuer" => self.other()?.issuer().to_string(),
            "other.client_id" => self.other()?.clients()[0].id.clone(),
            "other.audience" => self.other()?.audience().to_string(),
            "other.kid" => self.other()?.active_key().kid().to_string(),
            "other.tenant_id" => self.other()?.tenant_key().to_string(),
            "attacker.issuer" => self.attacker.issuer().to_string(),
            "attacker.kid" => self.attacker.active_key().kid().to_string(),
            "attacker.jku" => self.attacker_jku.clone(),
            other => match other
                .strip_prefix("repeat:")
                .and_then(|r| r.split_once(':'))
            {
                // `{repeat:8192:k}`: the text repeated, at most 1 MiB in all.
                Some((n, text)) => match n.parse::<usize>() {
                    Ok(n) if n.saturating_mul(text.len()) <= 1 << 20 => text.repeat(n),
                    _ => return Err(RecipeError::UnknownPlaceholder(other.to_string())),
                },
                None => return Err(RecipeError::UnknownPlaceholder(other.to_string())),
            },
        })
    }

    fn arith(&self, expr: &str) -> Option<i64> {
        let mut total = 0i64;
        let mut sign = 1i64;
        let mut term = String::new();
        let flush = |term: &str, sign: i64, total: &mut i64| -> Option<()> {
            let v = match term {
                "now" => self.now,
                "skew" => self.skew,
                t => t.parse::<i64>().ok()?,
            };
            *total += sign * v;
            Some(())
        };
        for ch in expr.chars() {
            if ch == '+' || ch == '-' {
                flush(term.trim(), sign, &mut total)?;
                term.clear();
                sign = if ch == '+' { 1 } else { -1 };
            } else {
                term.push(ch);
            }
        }
        flush(term.trim(), sign, &mut total)?;
        Some(total)
    }

    /// Resolves one string value.
    pub fn value(&self, s: &str) -> Result<Value, RecipeError> {
        if let Some(rest) = s.strip_prefix("str:") {
            return Ok(Value::String(self.interpolate(rest)?));
        }
        if s == "{jwk}" {
            return Ok(self.tenant.active_key().public_jwk().clone());
        }
        if s == "{attacker.jwk}" {
            return Ok(self.attacker.active_key().public_jwk().clone());
        }
        if s == "{attacker.x5c}" {
            // The attacker's self-signed certificate for its signing key, as a JOSE `x5c`.
            return Ok(Value::Array(
                self.attacker
                    .active_key()
                    .x5c()
                    .map(Value::String)
                    .into_iter()
                    .collect(),
            ));
        }
        if let Some(inner) = s.strip_prefix('{') {
            if let Some((expr, tail)) = inner.split_once('}') {
                if let Some(n) = self.arith(expr) {
                    if tail.is_empty() {
                        return Ok(Value::from(n));
                    }
                    if let Some(frac) = tail.strip_prefix('.') {
                        if let Ok(f) = format!("{n}.{frac}").parse::<f64>() {
                            return Ok(Value::from(f));
                        }
                    }
                }
            }
        }
        Ok(Value::String(self.interpolate(s)?))
    }

    /// Replaces `{name}` inside text; `{now...}` becomes digits.
    pub fn interpolate(&self, s: &str) -> Result<String, RecipeError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let after = &rest[start + 1..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[start..]);
                return Ok(out);
            };
            let name = &after[..end];
            match self.arith(name) {
                Some(n) if name.contains("now") || name.contains("skew") => {
                    out.push_str(&n.to_string())
                }
                _ => out.push_str(&self.name(name)?),
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// Converts a TOML value to JSON, resolving placeholders in strings.
    pub fn json(&self, v: &toml::Value) -> Result<Value, RecipeError> {
        Ok(match v {
            toml::Value::String(s) => self.value(s)?,
            toml::Value::Integer(i) => Value::from(*i),
            toml::Value::Float(f) => Value::from(*f),
            toml::Value::Boolean(b) => Value::Bool(*b),
            toml::Value::Datetime(d) => Value::String(d.to_string()),
            toml::Value::Array(a) => {
                Value::Array(a.iter().map(|x| self.json(x)).collect::<Result<_, _>>()?)
            }
            toml::Value::Table(t) => {
                let mut m = Map::new();
                for (k, x) in t {
                    m.insert(k.clone(), self.json(x)?);
                }
                Value::Object(m)
            }
        })
    }
}

/// The token a recipe describes, with its decoded parts for evidence.
pub struct Built {
    /// The compact token as sent.
    pub token: String,
}

/// Makes the token of `spec` in `ctx`: a genuine token of the origin tenant, its header and
/// claims edited as the recipe says, signed as it says, then damaged or re-encoded.
pub fn build(spec: &TokenSpec, ctx: &Context<'_>) -> Result<Built, RecipeError> {
    if let Some(raw) = &spec.raw {
        return Ok(Built {
            token: ctx.interpolate(raw)?,
        });
    }
    let origin = match spec.from {
        Origin::Own => ctx.tenant,
        Origin::Other => ctx.other()?,
        Origin::Sibling => ctx.sibling.ok_or(RecipeError::MissingTenant("sibling"))?,
        Origin::Attacker => ctx.attacker,
    };
    let kind = match spec.kind {
        TokenKindSpec::Access => TokenKind::AppAccess,
        TokenKindSpec::User => TokenKind::UserAccess,
        TokenKindSpec::IdToken => TokenKind::IdToken {
            nonce: "n-0S6_WzA2Mj".into(),
            access_token: None,
        },
    };
    let genuine = origin.parts(&MintOptions {
        kind,
        issued_at: Some(ctx.now),
        ..MintOptions::default()
    });
    let inner = spec.nested_token.then(|| genuine.compact());
    let mut segments = Segments::edited(spec, ctx, genuine.header, genuine.claims)?;
    if let Some(inner) = inner {
        segments.claims = inner;
    }
    let signature = signature(spec, ctx, origin, &genuine.signature, &segments)?;
    let claims = claims_bytes(&segments.claims, spec)?;
    let token = forge::try_compact(segments.header.as_bytes(), &claims, &signature)
        .map_err(|e| RecipeError::Invalid(e.to_string()))?;
    Ok(Built {
        token: reshaped(token, spec)?,
    })
}

/// The header and claims as the token will carry them, and the header's `alg`.
struct Segments {
    header: String,
    claims: String,
    alg: String,
}

impl Segments {
    /// The genuine header and claims with the recipe's members set, removed and appended (an
    /// appended member can repeat a name), the claims nested or padded when asked.
    fn edited(
        spec: &TokenSpec,
        ctx: &Context<'_>,
        mut header: Map<String, Value>,
        mut claims: Map<String, Value>,
    ) -> Result<Segments, RecipeError> {
        for (k, v) in &spec.header {
            header.insert(k.clone(), ctx.json(v)?);
        }
        for k in &spec.remove_header {
            header.remove(k);
        }
        for (k, v) in &spec.claims {
            claims.insert(k.clone(), ctx.json(v)?);
        }
        for k in &spec.remove_claims {
            claims.remove(k);
        }
        let alg = header
            .get("alg")
            .and_then(Value::as_str)
            .unwrap_or("RS256")
            .to_string();
        let mut header_text = Value::Object(header).to_string();
        for (name, raw) in &spec.append_header {
            header_text = forge::append_member(&header_text, name, &ctx.interpolate(raw)?);
        }
        let mut claims_text = match spec.nested_depth {
            Some(d) => forge::nested_json(d.min(1_000_000)),
            None => Value::Object(claims).to_string(),
        };
        for (name, raw) in &spec.append_claims {
            claims_text = forge::append_member(&claims_text, name, &ctx.interpolate(raw)?);
        }
        if let Some(target) = spec.pad_to {
            // base64 grows 4/3; pad the JSON so the whole token reaches the target length.
            let current = (header_text.len() + claims_text.len()) * 4 / 3 + 350;
            if target > current {
                let pad = "A".repeat((target - current) * 3 / 4);
                claims_text =
                    forge::append_member(&claims_text, "pad", &Value::String(pad).to_string());
            }
        }
        Ok(Segments {
            header: header_text,
            claims: claims_text,
            alg,
        })
    }

    /// The JWS signing input of these segments.
    fn signing_input(&self) -> String {
        format!(
            "{}.{}",
            forge::b64(self.header.as_bytes()),
            forge::b64(self.claims.as_bytes())
        )
    }
}

/// How the recipe signs: `genuine` is the origin tenant's own signature of a genuine token.
fn signature(
    spec: &TokenSpec,
    ctx: &Context<'_>,
    origin: &Tenant,
    genuine: &Signature,
    segments: &Segments,
) -> Result<Signature, RecipeError> {
    let header_alg = &segments.alg;
    // A key signs with the recipe's `sign_alg`, else the header's alg when the key can make
    // it, else the key's own usual alg.
    let key_sig = |key: std::sync::Arc<mock_idp::keys::SigningKey>| {
        let alg = spec.sign_alg.clone().unwrap_or_else(|| header_alg.clone());
        let alg = if mock_idp::keys::KeyKind::for_alg(&alg) == Some(key.kind()) {
            alg
        } else {
            match key.kind() {
                mock_idp::keys::KeyKind::Rsa => "RS256",
                mock_idp::keys::KeyKind::P256 => "ES256",
                mock_idp::keys::KeyKind::P384 => "ES384",
                mock_idp::keys::KeyKind::P521 => "ES512",
                mock_idp::keys::KeyKind::Ed25519 => "EdDSA",
            }
            .to_string()
        };
        Signature::Key { key, alg }
    };
    Ok(match spec.sign {
        SignSpec::Genuine => match genuine {
            Signature::Key { key, .. } => key_sig(key.clone()),
            other => other.clone(),
        },
        SignSpec::Empty => Signature::Segment(String::new()),
        SignSpec::Junk => Signature::Segment("c2lnbmF0dXJlLXRoYXQtaXMtbm90LW9uZQ".into()),
        SignSpec::Hmac => {
            let alg = spec.sign_alg.clone().unwrap_or_else(|| {
                if header_alg.starts_with("HS") {
                    header_alg.clone()
                } else {
                    "HS256".into()
                }
            });
            let secret = match spec.hmac_secret.as_deref().unwrap_or("spki-pem") {
                "empty" => Vec::new(),
                "jwk-json" => published_jwk_text(origin)?.into_bytes(),
                name if name.starts_with("text:") => ctx.interpolate(&name[5..])?.into_bytes(),
                name => {
                    let enc = PublicKeyEncoding::from_name(name).ok_or_else(|| {
                        RecipeError::Invalid(format!("unknown hmac_secret `{name}`"))
                    })?;
                    forge::public_key_bytes(&origin.active_key(), enc)
                }
            };
            Signature::Hmac { alg, secret }
        }
        // The attacker's key of the kind the header's alg needs (an EC key for ES256).
        SignSpec::Attacker => key_sig(match mock_idp::keys::KeyKind::for_alg(header_alg) {
            Some(kind) => ctx.attacker.key(kind),
            None => ctx.attacker.active_key(),
        }),
        SignSpec::OtherTenant => key_sig(ctx.other()?.active_key()),
        SignSpec::EcdsaZero => Signature::Bytes(forge::ecdsa_zero(header_alg)),
        SignSpec::EcdsaOrder => Signature::Bytes(forge::ecdsa_order(header_alg)),
        SignSpec::EcdsaDer => {
            let kind = mock_idp::keys::KeyKind::for_alg(header_alg).ok_or_else(|| {
                RecipeError::Invalid(format!(
                    "ecdsa-der needs an ES alg, header has `{header_alg}`"
                ))
            })?;
            let key = origin.key(kind);
            let seg = forge::sign_segment(
                segments.signing_input().as_bytes(),
                &Signature::Key {
                    key,
                    alg: header_alg.clone(),
                },
            )
            .map_err(|e| RecipeError::Invalid(e.to_string()))?;
            Signature::Bytes(forge::ecdsa_raw_to_der(&base64_decode(&seg)))
        }
        SignSpec::Previous => key_sig(
            origin
                .previous_key()
                .ok_or_else(|| RecipeError::Invalid("no previous key: rotate first".into()))?,
        ),
        SignSpec::EncKey => key_sig(origin.enc_key()),
        SignSpec::Impostor => key_sig(origin.impostor_key()),
    })
}

/// The JSON text of the JWK the tenant's JWKS publishes for its active key, as served (what a
/// verifier that keeps each JWKS member as text holds).
fn published_jwk_text(tenant: &Tenant) -> Result<String, RecipeError> {
    let kid = tenant.active_key().kid().to_string();
    let jwks = tenant.jwks();
    jwks["keys"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|k| k["kid"] == kid.as_str() && k["use"] != "enc")
        .map(Value::to_string)
        .ok_or_else(|| RecipeError::Invalid(format!("the JWKS publishes no key `{kid}`")))
}

/// The signed token with the recipe's `damage` and `non_canonical` encoding applied.
fn reshaped(mut token: String, spec: &TokenSpec) -> Result<String, RecipeError> {
    if let Some(d) = &spec.damage {
        let damage = match d.as_str() {
            "flip-bit" => SignatureDamage::FlipBit,
            "strip" => SignatureDamage::Strip,
            "strip-with-dot" => SignatureDamage::StripWithDot,
            "truncate" => SignatureDamage::Truncate,
            other => return Err(RecipeError::Invalid(format!("unknown damage `{other}`"))),
        };
        token = forge::damage_signature(&token, damage);
    }
    if let Some((segment, how)) = &spec.non_canonical {
        let how = match how.as_str() {
            "padding" => NonCanonical::Padding,
            "standard-alphabet" => NonCanonical::StandardAlphabet,
            "whitespace" => NonCanonical::Whitespace,
            other => {
                return Err(RecipeError::Invalid(format!(
                    "unknown non_canonical form `{other}`"
                )))
            }
        };
        token = forge::non_canonical(&token, *segment, how);
    }
    if let Some(shape) = &spec.shape {
        token = shaped(&token, shape)?;
    }
    Ok(token)
}

/// The claims as the token carries them: UTF-8, or the recipe's `claims_encoding`.
fn claims_bytes(claims: &str, spec: &TokenSpec) -> Result<Vec<u8>, RecipeError> {
    let Some(encoding) = &spec.claims_encoding else {
        return Ok(claims.as_bytes().to_vec());
    };
    if spec.sign != SignSpec::Genuine {
        return Err(RecipeError::Invalid(
            "`claims_encoding` needs a genuine signature".into(),
        ));
    }
    let units = claims.encode_utf16();
    Ok(match encoding.as_str() {
        "utf-16le" => [0xFF, 0xFE]
            .into_iter()
            .chain(units.flat_map(u16::to_le_bytes))
            .collect(),
        "utf-16be" => [0xFE, 0xFF]
            .into_iter()
            .chain(units.flat_map(u16::to_be_bytes))
            .collect(),
        other => {
            return Err(RecipeError::Invalid(format!(
                "unknown claims_encoding `{other}` (known: utf-16le, utf-16be)"
            )))
        }
    })
}

/// The compact token `token` in the outer form `shape` (see [`TokenSpec::shape`]).
fn shaped(token: &str, shape: &str) -> Result<String, RecipeError> {
    let mut parts = token.splitn(3, '.');
    let (h, p, s) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let json = |lead: Option<String>| {
        let mut m = Map::new();
        if let Some(lead) = lead {
            m.insert(lead, Value::String(String::new()));
        }
        m.insert("protected".into(), Value::String(h.into()));
        m.insert("payload".into(), Value::String(p.into()));
        m.insert("signature".into(), Value::String(s.into()));
        Value::Object(m).to_string()
    };
    Ok(match shape {
        "extra-segment" => format!("{token}.e30"),
        "trailing-dot" => format!("{token}."),
        "empty-header" => format!(".{p}.{s}"),
        "empty-payload" => format!("{h}..{s}"),
        "jws-json" => json(None),
        "jws-json-polyglot" => json(Some(format!("{h}.{p}."))),
        other => return Err(RecipeError::Invalid(format!("unknown shape `{other}`"))),
    })
}

fn base64_decode(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap_or_default()
}

/// The decoded header and claims of a token for evidence, with times shown relative to the
/// token's mint time (`now+3600`) so that two runs give the same bytes. Segments that are not
/// canonical base64url are decoded leniently; undecodable ones are shown as text.
pub fn decode_for_evidence(token: &str, now: i64) -> Value {
    // The JWS JSON serialization (and its polyglots): shown as the compact token it holds.
    if let Some(compact) = byoid_reference::token::compact_of_json_serialization(token) {
        let mut shown = decode_for_evidence(&compact, now);
        shown["serialization"] = Value::String("json".into());
        return shown;
    }
    let mut parts = token.split('.');
    let header = segment_evidence(parts.next(), 200, now);
    let claims = segment_evidence(parts.next(), 400, now);
    serde_json::json!({ "header": header, "claims": claims, "segments": token.split('.').count() })
}

/// One segment for evidence: its JSON object with times made relative and long random values
/// cut, a nested compact token decoded in turn, or else its text, truncated. UTF-16 behind a
/// byte order mark is read as such, so that what a case sent is shown, not its bytes.
fn segment_evidence(segment: Option<&str>, limit: usize, now: i64) -> Value {
    let Some(s) = segment else {
        return Value::Null;
    };
    let Some(bytes) = lenient_b64(s) else {
        return Value::String(truncate(s, limit));
    };
    let (text, utf16) = match String::from_utf8(bytes) {
        Ok(t) => (t, false),
        Err(e) => match byoid_reference::token::utf16_with_bom(e.as_bytes()) {
            Some(t) => (t, true),
            None => (String::from_utf8_lossy(e.as_bytes()).into_owned(), false),
        },
    };
    let shown = json_evidence(&text, limit, now);
    if utf16 {
        return serde_json::json!({ "utf-16": shown });
    }
    shown
}

/// A segment's text for evidence (see [`segment_evidence`]).
fn json_evidence(text: &str, limit: usize, now: i64) -> Value {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut m)) => {
            let base = match m.get("iat").and_then(Value::as_i64) {
                Some(iat) if (iat - now).abs() < 5 => iat,
                _ => now,
            };
            for k in ["iat", "nbf", "exp", "auth_time"] {
                if let Some(v) = m.get(k) {
                    let r = relative_time(v, base);
                    m.insert(k.into(), r);
                }
            }
            for k in ["aio", "uti", "rh", "jti", "pad"] {
                if let Some(Value::String(s)) = m.get(k) {
                    if s.len() > 12 {
                        m.insert(
                            k.into(),
                            Value::String(format!("{}…", truncate(s, 8).trim_end_matches('…'))),
                        );
                    }
                }
            }
            Value::Object(m)
        }
        _ if text.matches('.').count() == 2 && text.starts_with("eyJ") => {
            serde_json::json!({ "nested": decode_for_evidence(text, now) })
        }
        _ => Value::String(truncate(text, limit)),
    }
}

/// base64url, also accepting padding, the standard alphabet and whitespace.
fn lenient_b64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let cleaned: String = s
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=')
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cleaned)
        .ok()
}

/// A time claim shown relative to `base` when it is within ten years of it.
fn relative_time(v: &Value, base: i64) -> Value {
    match v {
        Value::Number(n) => {
            let Some(f) = n.as_f64() else {
                return v.clone();
            };
            let d = f - base as f64;
            if d.abs() > 3.2e8 {
                return v.clone();
            }
            let text = if d.fract() == 0.0 {
                format!("{}", d as i64)
            } else {
                format!("{d}")
            };
            Value::String(if d >= 0.0 {
                format!("now+{text}")
            } else {
                format!("now{text}")
            })
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| relative_time(x, base)).collect()),
        Value::String(s) => match s.parse::<i64>() {
            Ok(n) if (n - base).abs() < 320_000_000 => {
                Value::String(format!("\"now{:+}\"", n - base))
            }
            _ => v.clone(),
        },
        other => other.clone(),
    }
}

/// Shortens text to `n` characters with an ellipsis.
pub fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut out: String = s.chars().take(n).collect();
        out.push('…');
        out
    }
}
