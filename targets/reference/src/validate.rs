//! The verification pipeline: tenant → token syntax → header → keys →
//! signature → claims → mappings, plus the verified-token cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::checks::{self, HeaderAlg};
use crate::defect::Defect;
use crate::error::AuthError;
use crate::json_object::{Field, JsonObject};
use crate::jwks::{parse_jwks, Fetcher, Jwk, TenantKeys};
use crate::manifest::TenantConfig;
use crate::tenant::{Resolution, TenantResolver};
use crate::token::{self, ParsedToken};
use crate::token_cache::{now_secs, VerifiedTokenCache};
pub use crate::verified::Verified;
use crate::Config;

/// Entries kept in the verified-token cache.
pub const TOKEN_CACHE_CAPACITY: usize = 10_000;
/// Longer tokens are verified every time, never cached (bounds the cache's memory).
pub const TOKEN_CACHE_MAX_TOKEN_BYTES: usize = 4 * 1024;

/// Everything a request needs; shared behind an `Arc` by the router.
#[derive(Debug)]
pub struct Validator {
    pub(crate) config: Config,
    pub(crate) resolver: TenantResolver,
    /// Looked up on every request: foldhash, not SipHash (slugs come from the manifest).
    tenants: HashMap<String, Arc<TenantKeys>, foldhash::fast::RandomState>,
    fetcher: Fetcher,
    /// Keyed by the exact token: a hit needs byte-for-byte equality, so a fast
    /// non-cryptographic hash of the token's tail is enough to find it.
    cache: VerifiedTokenCache,
}

fn build_client(config: &Config) -> Option<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .timeout(config.fetch_timeout)
        .connect_timeout(config.fetch_timeout)
        // A metadata or key URL that redirects elsewhere is not followed.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("byoid-reference");
    if let Some(path) = &config.manifest.ca_bundle {
        match std::fs::read(path)
            .map_err(|e| e.to_string())
            .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| e.to_string()))
        {
            Ok(certs) => {
                for c in certs {
                    b = b.add_root_certificate(c);
                }
            }
            // Fail closed: HTTPS to the mock IdPs will not verify.
            Err(e) => eprintln!(
                "byoid-reference: cannot load ca_bundle {}: {e}",
                path.display()
            ),
        }
    }
    match b.build() {
        Ok(c) => Some(c),
        Err(e) => {
            eprintln!("byoid-reference: cannot build HTTP client: {e}");
            None
        }
    }
}

impl Validator {
    /// Builds the validator; no network traffic happens here.
    pub fn new(config: Config) -> Self {
        let fetcher = Fetcher {
            client: build_client(&config),
            require_https: config.manifest.require_https_metadata
                && !config.defects.contains(Defect::HttpsMetadataNotEnforced),
            timeout: config.fetch_timeout,
            ttl: Duration::from_secs(config.manifest.jwks_cache_seconds),
            cooldown: config.unknown_kid_cooldown,
            defects: config.defects.clone(),
        };
        let tenants = config
            .manifest
            .tenants
            .iter()
            .map(|t| (t.slug.clone(), Arc::new(TenantKeys::new(t.clone()))))
            .collect();
        Validator {
            resolver: TenantResolver::new(&config.manifest)
                .with_any_channel(config.defects.contains(Defect::TenantFromAnyChannel)),
            tenants,
            fetcher,
            cache: VerifiedTokenCache::new(TOKEN_CACHE_CAPACITY),
            config,
        }
    }

    fn has(&self, d: Defect) -> bool {
        self.config.defects.contains(d)
    }

    /// Validates `token` for the resolved tenant: [`cached`](Self::cached),
    /// else [`validate_uncached`](Self::validate_uncached).
    pub async fn validate(
        &self,
        resolution: Resolution<'_>,
        token: &str,
    ) -> Result<Arc<Verified>, AuthError> {
        if let Some(hit) = self.cached(resolution, token.as_bytes()) {
            return Ok(hit);
        }
        self.validate_uncached(resolution, token).await
    }

    /// The verified-token cache's answer for `token` (its bytes as sent) and
    /// the resolved tenant, when it has one: the token passed every check for
    /// this tenant before, and its life and `exp` still hold. Nothing else is
    /// checked, so a caller may ask before checking the token's syntax.
    pub fn cached(&self, resolution: Resolution<'_>, token: &[u8]) -> Option<Arc<Verified>> {
        let tenant = match resolution {
            Resolution::Found(t) => t,
            Resolution::Disabled(t) if self.has(Defect::DisabledTenantAccepted) => t,
            _ => return None,
        };
        let hash = self.cache_key(token)?;
        let skew = self.config.manifest.clock_skew_seconds as f64;
        if self.has(Defect::TokenCacheIgnoresTenant) {
            self.cache.get_for_any_tenant(hash, token, skew)
        } else {
            self.cache.get(hash, token, &tenant.slug, skew)
        }
    }

    /// Validates `token` for the resolved tenant without asking the cache
    /// (a token that passes is offered to it).
    pub async fn validate_uncached(
        &self,
        resolution: Resolution<'_>,
        token: &str,
    ) -> Result<Arc<Verified>, AuthError> {
        let tenant = match resolution {
            Resolution::Missing => return Err(AuthError::invalid_token("no tenant identified")),
            Resolution::Unknown => return Err(AuthError::invalid_token("unknown tenant")),
            Resolution::Disabled(t) if self.has(Defect::DisabledTenantAccepted) => t,
            Resolution::Disabled(_) => return Err(AuthError::invalid_token("unknown tenant")),
            Resolution::Found(t) => t,
        };
        if token.len() > token::MAX_TOKEN_BYTES {
            return Err(AuthError::invalid_token("token too long"));
        }
        let mut result = self.verify_for(tenant, token).await;
        if result.is_err() && self.has(Defect::CrossTenant) {
            for other in self
                .resolver
                .tenants()
                .iter()
                .filter(|o| o.enabled && o.slug != tenant.slug)
            {
                if let Ok(c) = Box::pin(self.verify_for(other, token)).await {
                    result = Ok(c);
                    break;
                }
            }
        }
        let verified = Verified::new(&tenant.slug, result?);
        if let Some(h) = self.cache_key(token.as_bytes()) {
            self.cache_offer(h, token.as_bytes(), &verified);
        }
        Ok(verified)
    }

    /// The cache hash of `token`; `None` for a token too long to be cached
    /// (it is verified every time, which bounds the cache's memory).
    fn cache_key(&self, token: &[u8]) -> Option<u64> {
        (token.len() <= TOKEN_CACHE_MAX_TOKEN_BYTES).then(|| self.cache.hash(token))
    }

    /// Offers a verified token to the cache, trusted at most until `exp` +
    /// skew and never longer than the key cache trusts its keys.
    fn cache_offer(&self, hash: u64, token: &[u8], verified: &Arc<Verified>) -> bool {
        let exp = match verified.claims.get("exp") {
            Some(Field::Num(n)) => n.as_f64(),
            _ => None,
        };
        let skew = self.config.manifest.clock_skew_seconds as f64;
        let mut ttl = self.config.manifest.jwks_cache_seconds as f64;
        if let Some(exp) = exp {
            ttl = ttl.min(exp + skew - now_secs());
        }
        if ttl.is_nan() || ttl <= 0.0 {
            return false;
        }
        let ttl = Duration::from_secs_f64(ttl.min(86_400.0));
        self.cache.offer(hash, token, verified, ttl, exp)
    }

    /// Every check for one tenant; returns the mapped claims.
    async fn verify_for(
        &self,
        tenant: &TenantConfig,
        token: &str,
    ) -> Result<JsonObject, AuthError> {
        let parsed = match token::parse(token) {
            Ok(p) => p,
            Err(e) if self.has(Defect::LeakExceptionText) => {
                return Err(AuthError::leaked(format!("token parse failed: {e:?}")))
            }
            Err(e) => {
                return Err(AuthError::invalid_token("malformed token").with_detail(e.to_string()))
            }
        };
        if parsed.header.contains_key("crit") && !self.has(Defect::CritIgnored) {
            // No extension is understood, so any `crit` (including `b64`) is refused.
            return Err(AuthError::invalid_token("unsupported crit header"));
        }
        let alg = match parsed.header_str("alg") {
            Ok(Some(a)) => checks::classify_alg(&a).map_err(AuthError::invalid_token)?,
            Ok(None) => return Err(AuthError::invalid_token("missing alg")),
            Err(token::NotAString) => return Err(AuthError::invalid_token("alg is not a string")),
        };
        let typ = match parsed.header_str("typ") {
            Ok(t) => t,
            Err(token::NotAString) if self.has(Defect::TypIgnored) => None,
            Err(token::NotAString) => return Err(AuthError::invalid_token("typ is not a string")),
        };
        checks::check_typ(
            typ.as_deref(),
            tenant.require_access_token_type,
            &self.config.defects,
        )
        .map_err(AuthError::invalid_token)?;
        let kid = parsed
            .header_str("kid")
            .map_err(|token::NotAString| AuthError::invalid_token("kid is not a string"))?;

        let keys = self
            .tenants
            .get(&tenant.slug)
            .ok_or(AuthError::invalid_token("unknown tenant"))?;
        let snapshot = match keys.current(&self.fetcher).await {
            Ok(s) => s,
            Err(_) if self.has(Defect::FailOpen) => {
                // The defect: keys unavailable, so skip the signature and the issuer
                // (unless explicitly configured) and carry on with the claims.
                return self.check_claims(tenant, parsed.claims, tenant.valid_issuers.as_deref());
            }
            Err(e) => {
                return Err(
                    AuthError::invalid_token("signing keys unavailable").with_detail(e.to_string())
                )
            }
        };
        let discovery = snapshot.discovery.clone();
        let expected_iss = match &tenant.valid_issuers {
            Some(list) => list.as_slice(),
            None => std::slice::from_ref(&discovery.issuer),
        };

        match alg {
            HeaderAlg::None if self.has(Defect::NoneAccepted) => {}
            HeaderAlg::None => return Err(AuthError::invalid_token("alg none is not accepted")),
            HeaderAlg::Hmac(a) if self.has(Defect::AlgFromHeader) => {
                if !hmac_with_public_keys(&snapshot.keys, kid.as_deref(), a, &parsed) {
                    return Err(AuthError::invalid_token("invalid signature"));
                }
            }
            HeaderAlg::Hmac(a) if self.has(Defect::BlankHmacSecret) => {
                if !parsed.verifies_with(&DecodingKey::from_secret(b""), a) {
                    return Err(AuthError::invalid_token("invalid signature"));
                }
            }
            HeaderAlg::Hmac(_) => {
                return Err(AuthError::invalid_token("symmetric alg is not accepted"))
            }
            HeaderAlg::Asymmetric(a) => {
                if !self.has(Defect::AlgsNotFromDiscovery)
                    && !snapshot.discovery.allowed_algs.contains(&a)
                {
                    return Err(AuthError::invalid_token("alg not allowed for this issuer"));
                }
                self.verify_signature(keys, snapshot, kid.as_deref(), a, &parsed)
                    .await?;
            }
        }
        self.check_claims(tenant, parsed.claims, Some(expected_iss))
    }

    async fn verify_signature(
        &self,
        keys: &TenantKeys,
        snapshot: crate::jwks::Snapshot,
        kid: Option<&str>,
        alg: Algorithm,
        t: &ParsedToken<'_>,
    ) -> Result<(), AuthError> {
        if self.has(Defect::SignatureNotVerified) {
            return Ok(());
        }
        let fits = |k: &Jwk| {
            if self.has(Defect::KeyUseIgnored) || self.has(Defect::JwkAlgIgnored) {
                let mut k = k.clone();
                if self.has(Defect::KeyUseIgnored) {
                    k.use_ = None;
                    k.key_ops = None;
                }
                if self.has(Defect::JwkAlgIgnored) {
                    k.alg = None;
                }
                k.fits(alg)
            } else {
                k.fits(alg)
            }
        };
        let is_ecdsa = matches!(alg, Algorithm::ES256 | Algorithm::ES384);
        let verifies = |k: &Jwk| {
            if !fits(k) {
                return false;
            }
            if is_ecdsa && (self.has(Defect::PsychicEcdsa) || self.has(Defect::EcdsaDerAccepted)) {
                let Some(signature) = t.signature() else {
                    return false;
                };
                if self.has(Defect::PsychicEcdsa) && signature.iter().all(|b| *b == 0) {
                    return true;
                }
                if self.has(Defect::EcdsaDerAccepted) && signature.first() == Some(&0x30) {
                    if let Some(raw) =
                        der_to_raw(&signature, if alg == Algorithm::ES384 { 48 } else { 32 })
                    {
                        let b64 = base64::Engine::encode(
                            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                            &raw,
                        );
                        return k.verify(t.signing_input, &b64, alg);
                    }
                }
            }
            k.verify(t.signing_input, t.signature_b64, alg)
        };
        // Defects that fetch or trust key material named by the token itself.
        if self.has(Defect::X5uFetched) {
            if let Ok(Some(url)) = t.header_str("x5u") {
                // The defect fetches and then ignores the chain: the request is the harm.
                let _ = Box::pin(self.fetcher.json(&url)).await;
            }
        }
        if self.has(Defect::X5cTrusted) {
            let x5c = t.header.value("x5c");
            let leaf = x5c.as_ref().and_then(|v| v.get(0)).and_then(Value::as_str);
            if leaf
                .and_then(x5c_rsa_key)
                .is_some_and(|key| t.verifies_with(&key, alg))
            {
                return Ok(());
            }
        }
        if self.has(Defect::JkuFollowed) {
            if let Ok(Some(url)) = t.header_str("jku") {
                if let Ok(doc) = Box::pin(self.fetcher.json(&url)).await {
                    let remote = parse_jwks(&doc).unwrap_or_default();
                    if remote
                        .iter()
                        .filter(|k| kid.is_none() || k.kid.as_deref() == kid)
                        .any(verifies)
                    {
                        return Ok(());
                    }
                }
            }
        }
        if self.has(Defect::EmbeddedJwkTrusted) {
            if let Some(k) = t.header.value("jwk").as_ref().and_then(Jwk::parse) {
                if verifies(&k) {
                    return Ok(());
                }
            }
        }
        if self.has(Defect::FirstJwksKeyOnly) {
            return match snapshot.keys.first() {
                Some(k) if verifies(k) => Ok(()),
                _ => Err(AuthError::invalid_token("invalid signature")),
            };
        }
        let Some(kid) = kid else {
            // No kid: only unambiguous when exactly one signing key fits the alg.
            // `x5t` is never used for selection.
            let fitting: Vec<&Jwk> = snapshot.keys.iter().filter(|k| k.fits(alg)).collect();
            return match fitting.as_slice() {
                [k] if k.verify(t.signing_input, t.signature_b64, alg) => Ok(()),
                [_] => Err(AuthError::invalid_token("invalid signature")),
                _ => Err(AuthError::invalid_token(
                    "no kid and more than one candidate key",
                )),
            };
        };
        let mut snapshot = snapshot;
        if !snapshot.keys.iter().any(|k| k.kid.as_deref() == Some(kid)) {
            // Boxed for the same reason as the key load (see `TenantKeys::current`).
            snapshot = Box::pin(keys.refresh_for_unknown_kid(&self.fetcher, snapshot.generation))
                .await
                .map_err(|e| AuthError::invalid_token("unknown kid").with_detail(e.to_string()))?;
        }
        let mut candidates = snapshot
            .keys
            .iter()
            .filter(|k| k.kid.as_deref() == Some(kid))
            .peekable();
        if candidates.peek().is_none() {
            return Err(AuthError::invalid_token("unknown kid"));
        }
        if self.has(Defect::KeyTypeMismatchCrashes)
            && !snapshot
                .keys
                .iter()
                .any(|k| k.kid.as_deref() == Some(kid) && k.kind_fits(alg))
        {
            return Err(AuthError::leaked(format!(
                "InvalidKeyException: key `{kid}` cannot verify {alg:?} (wrong key type)"
            )));
        }
        // Duplicate kids: any candidate that fits and verifies will do.
        if candidates.any(verifies) {
            Ok(())
        } else {
            Err(AuthError::invalid_token("invalid signature"))
        }
    }

    fn check_claims(
        &self,
        tenant: &TenantConfig,
        claims: JsonObject,
        expected_iss: Option<&[String]>,
    ) -> Result<JsonObject, AuthError> {
        let d = &self.config.defects;
        let m = &self.config.manifest;
        // Defects that crash on claim values a careless reader does not expect.
        if self.has(Defect::ExpOverflowCrashes)
            && matches!(claims.get("exp"), Some(Field::Num(n))
                if n.as_f64().is_some_and(|e| e > 253_402_300_799.0))
        {
            return Err(AuthError::leaked(
                "OverflowError: timestamp out of range for platform time_t".into(),
            ));
        }
        if self.has(Defect::MissingIatCrashes) && !claims.contains_key("iat") {
            return Err(AuthError::leaked("KeyError: 'iat'".into()));
        }
        if let Some(iss) = expected_iss {
            checks::check_iss(&claims, iss, d).map_err(AuthError::invalid_token)?;
        }
        checks::check_aud(&claims, &tenant.valid_audiences, d).map_err(AuthError::invalid_token)?;
        checks::check_times(&claims, now_secs(), m.clock_skew_seconds, d)
            .map_err(AuthError::invalid_token)?;
        checks::check_sub(&claims).map_err(AuthError::invalid_token)?;
        if !self.has(Defect::TidUnchecked) {
            checks::check_tid(&claims).map_err(AuthError::invalid_token)?;
        }
        match &tenant.client_id_claims {
            Some(names) => checks::check_client(&claims, names, &tenant.allowed_client_ids, d),
            None => checks::check_client(
                &claims,
                crate::manifest::DEFAULT_CLIENT_ID_CLAIMS,
                &tenant.allowed_client_ids,
                d,
            ),
        }
        .map_err(AuthError::invalid_token)?;
        if tenant.claim_mappings.is_empty() || self.has(Defect::ClaimMappingsIgnored) {
            return Ok(claims);
        }
        let mut mapped = claims.to_map();
        checks::apply_claim_mappings(&mut mapped, &tenant.claim_mappings);
        Ok(JsonObject::from_map(&mapped))
    }

    /// Discovery and JWKS fetches made so far for `slug` (for tests and debugging).
    pub fn fetch_count(&self, slug: &str) -> Option<u64> {
        self.tenants.get(slug).map(|k| k.fetch_count())
    }
}

// ---- the `alg-from-header` defect: public key bytes as an HMAC secret ----

fn der_len(len: usize, out: &mut Vec<u8>) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes
            .iter()
            .position(|&b| b != 0)
            .unwrap_or(bytes.len() - 1);
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    der_len(content.len(), &mut out);
    out.extend_from_slice(content);
    out
}

fn der_uint(bytes: &[u8]) -> Vec<u8> {
    let trimmed = bytes
        .iter()
        .position(|&b| b != 0)
        .map_or(&bytes[bytes.len()..], |i| &bytes[i..]);
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(trimmed);
    der(0x02, &content)
}

fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The encodings of an RSA public key that key-confusion exploits use as the
/// HMAC secret: SPKI PEM (with and without the final newline), PKCS#1 PEM (both),
/// SPKI DER, PKCS#1 DER and the raw modulus.
pub fn rsa_public_key_encodings(n: &[u8], e: &[u8]) -> Vec<Vec<u8>> {
    let mut pkcs1_content = der_uint(n);
    pkcs1_content.extend(der_uint(e));
    let pkcs1 = der(0x30, &pkcs1_content);
    let rsa_oid = [
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(&pkcs1);
    let mut spki_content = der(0x30, &rsa_oid);
    spki_content.extend(der(0x03, &bits));
    let spki = der(0x30, &spki_content);
    let spki_pem = pem("PUBLIC KEY", &spki);
    let pkcs1_pem = pem("RSA PUBLIC KEY", &pkcs1);
    vec![
        spki_pem.clone().into_bytes(),
        spki_pem.trim_end().as_bytes().to_vec(),
        pkcs1_pem.clone().into_bytes(),
        pkcs1_pem.trim_end().as_bytes().to_vec(),
        spki,
        pkcs1,
        n.to_vec(),
    ]
}

fn hmac_with_public_keys(
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

// ---- the `x5c-trusted` defect: the RSA key of the token's own certificate ----

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
fn x5c_rsa_key(cert_b64: &str) -> Option<DecodingKey> {
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

/// Decodes an ASN.1 DER ECDSA signature into raw `r || s` of `width` bytes each
/// (used only by the `ecdsa-der-accepted` defect).
fn der_to_raw(der: &[u8], width: usize) -> Option<Vec<u8>> {
    let body = match der {
        [0x30, 0x81, len, rest @ ..] if *len as usize == rest.len() => rest,
        [0x30, len, rest @ ..] if *len as usize == rest.len() => rest,
        _ => return None,
    };
    let mut out = Vec::with_capacity(2 * width);
    let mut rest = body;
    for _ in 0..2 {
        let [0x02, len, tail @ ..] = rest else {
            return None;
        };
        let len = *len as usize;
        let int = tail.get(..len)?;
        let int = if int.len() > width {
            int.get(int.len() - width..)?
        } else {
            int
        };
        out.extend(std::iter::repeat_n(0u8, width - int.len()));
        out.extend_from_slice(int);
        rest = &tail[len..];
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validator(skew: u64, ttl: u64) -> Validator {
        let m = crate::Manifest::from_json(&format!(
            r#"{{"tenant_source":{{"kind":"path"}},"clock_skew_seconds":{skew},"jwks_cache_seconds":{ttl},"tenants":[]}}"#
        ))
        .unwrap();
        Validator::new(Config::new(m))
    }

    fn claims(exp: Option<f64>) -> Arc<Verified> {
        let mut c = serde_json::Map::new();
        if let Some(exp) = exp {
            c.insert("exp".into(), serde_json::json!(exp));
        }
        Verified::new("a", JsonObject::from_map(&c))
    }

    /// Offers `token` as the validator does after a successful check, twice
    /// (a token is stored on its second verification); returns whether it was stored.
    fn offer_twice(v: &Validator, token: &str, verified: &Arc<Verified>) -> bool {
        let (token, h) = (token.as_bytes(), v.cache.hash(token.as_bytes()));
        v.cache_offer(h, token, verified);
        v.cache_offer(h, token, verified)
    }

    fn hit(v: &Validator, token: &str, slug: &str) -> bool {
        let token = token.as_bytes();
        v.cache.get(v.cache.hash(token), token, slug, 0.0).is_some()
    }

    #[test]
    fn token_cache_lifetime_follows_exp_and_the_key_cache() {
        let v = validator(0, 300);
        assert!(offer_twice(&v, "t1", &claims(Some(now_secs() + 100.0))));
        assert!(hit(&v, "t1", "a"));
        // Already expired: not even stored.
        assert!(!offer_twice(&v, "t3", &claims(Some(now_secs() - 1.0))));
        assert!(!hit(&v, "t3", "a"));
        // Expires within the entry's life: the hit re-checks exp.
        assert!(offer_twice(&v, "t4", &claims(Some(now_secs() + 0.2))));
        std::thread::sleep(Duration::from_millis(300));
        assert!(!hit(&v, "t4", "a"));
        // A zero key-cache TTL disables the token cache.
        let v = validator(0, 0);
        assert!(!offer_twice(&v, "t5", &claims(None)));
        assert!(!hit(&v, "t5", "a"));
    }

    #[test]
    fn tokens_over_the_size_bound_are_never_cached() {
        let v = validator(0, 300);
        assert!(v
            .cache_key("x".repeat(TOKEN_CACHE_MAX_TOKEN_BYTES).as_bytes())
            .is_some());
        assert!(v
            .cache_key("x".repeat(TOKEN_CACHE_MAX_TOKEN_BYTES + 1).as_bytes())
            .is_none());
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

    #[test]
    fn der_encoding_of_small_values() {
        assert_eq!(
            der_uint(&[0x01, 0x00, 0x01]),
            vec![0x02, 0x03, 0x01, 0x00, 0x01]
        );
        assert_eq!(der_uint(&[0x00, 0x80]), vec![0x02, 0x02, 0x00, 0x80]);
        let mut out = Vec::new();
        der_len(300, &mut out);
        assert_eq!(out, vec![0x82, 0x01, 0x2c]);
        let enc = rsa_public_key_encodings(&[0xc0; 256], &[1, 0, 1]);
        assert_eq!(enc.len(), 7);
        let pem = String::from_utf8(enc[0].clone()).unwrap();
        assert!(
            pem.starts_with("-----BEGIN PUBLIC KEY-----\n")
                && pem.ends_with("-----END PUBLIC KEY-----\n")
        );
        assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
    }
}
