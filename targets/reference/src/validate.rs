//! The verification pipeline: tenant → token syntax → header → keys →
//! signature → claims → mappings, plus the verified-token cache.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::DecodingKey;
use serde_json::Value;

use crate::checks::{self, Algorithm, HeaderAlg, KidLookup};
use crate::defect::Defect;
use crate::ecdsa_der::der_to_raw;
use crate::error::AuthError;
use crate::hmac_confusion::{self, hmac_with_public_keys};
use crate::json_object::{Field, JsonObject};
use crate::jwks::{parse_jwks, Fetcher, Jwk, TenantKeys};
use crate::lenient_forms::lenient_reading;
use crate::manifest::TenantConfig;
use crate::tenant::{Resolution, TenantResolver};
use crate::token::{self, ParsedToken};
use crate::token_cache::VerifiedTokenCache;
pub use crate::verified::Verified;
use crate::x5c_key::x5c_rsa_key;
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
    /// The `config-cached-by-metadata-address` defect's cache: the configuration of the first
    /// tenant that used each metadata address.
    by_address: std::sync::Mutex<HashMap<String, TenantConfig>>,
    fetcher: Fetcher,
    /// Keyed by the exact token: a hit needs byte-for-byte equality, so a fast
    /// non-cryptographic hash of the token's tail is enough to find it.
    cache: VerifiedTokenCache,
}

/// The HTTP client that fetches discovery documents and JWKS for `config`:
/// bounded by its `fetch_timeout`, no redirects, trusting its `ca_bundle`.
/// `None` when it cannot be built (every fetch then fails closed).
pub fn build_client(config: &Config) -> Option<reqwest::Client> {
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
            client: match &config.http_client {
                Some(shared) => Some(shared.clone()),
                None => build_client(&config),
            },
            // Under `jwks-uri-scheme-unchecked` only the metadata address is held to HTTPS
            // (see `verify_for`); the fetcher takes any scheme.
            require_https: config.manifest.require_https_metadata
                && !config.defects.contains(Defect::HttpsMetadataNotEnforced)
                && !config.defects.contains(Defect::JwksUriSchemeUnchecked),
            timeout: config.fetch_timeout,
            ttl: Duration::from_secs(config.manifest.jwks_cache_seconds),
            cooldown: config.unknown_kid_cooldown,
            clock: config.clock.clone(),
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
            by_address: std::sync::Mutex::default(),
            fetcher,
            cache: VerifiedTokenCache::new(TOKEN_CACHE_CAPACITY, config.clock.clone()),
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
        // Some defects check another token than the one sent (see `lenient_forms`).
        let lenient = lenient_reading(token, &self.config.defects);
        let checked = lenient.as_deref().unwrap_or(token);
        let mut result = self.verify_for(tenant, checked).await;
        if result.is_err() && self.has(Defect::CrossTenant) {
            for other in self
                .resolver
                .tenants()
                .iter()
                .filter(|o| o.enabled && o.slug != tenant.slug)
            {
                if let Ok(c) = Box::pin(self.verify_for(other, checked)).await {
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
            ttl = ttl.min(exp + skew - self.config.clock.unix_secs());
        }
        if ttl.is_nan() || ttl <= 0.0 {
            return false;
        }
        let ttl = Duration::from_secs_f64(ttl.min(86_400.0));
        self.cache.offer(hash, token, verified, ttl, exp)
    }

    /// The `config-cached-by-metadata-address` defect: the configuration of the first tenant
    /// that used `tenant`'s metadata address.
    fn first_config_for(&self, tenant: &TenantConfig) -> TenantConfig {
        let mut seen = self.by_address.lock().unwrap_or_else(|p| p.into_inner());
        seen.entry(tenant.metadata_address.clone())
            .or_insert_with(|| tenant.clone())
            .clone()
    }

    /// Every check for one tenant; returns the mapped claims.
    async fn verify_for(
        &self,
        tenant: &TenantConfig,
        token: &str,
    ) -> Result<JsonObject, AuthError> {
        let first_config;
        let tenant = if self.has(Defect::ConfigCachedByMetadataAddress) {
            first_config = self.first_config_for(tenant);
            &first_config
        } else {
            tenant
        };
        let parsed = if self.has(Defect::JsonEncodingSniffed) {
            token::parse_sniffing_encoding(token)
        } else {
            token::parse(token)
        };
        let parsed = match parsed {
            Ok(p) => p,
            Err(e) if self.has(Defect::LeakExceptionText) => {
                return Err(AuthError::leaked(format!("token parse failed: {e:?}")))
            }
            Err(e) => {
                return Err(AuthError::invalid_token("malformed token").with_detail(e.to_string()))
            }
        };
        if self.has(Defect::HeaderMembersUnchecked) {
            if let Some(text) = checks::unchecked_header_read(&parsed.header) {
                return Err(AuthError::leaked(text));
            }
        }
        if self.has(Defect::UnknownHeaderRefused) {
            const LISTED: [&str; 11] = [
                "alg", "typ", "kid", "cty", "crit", "jku", "jwk", "x5u", "x5c", "x5t", "x5t#S256",
            ];
            if parsed
                .header
                .to_map()
                .keys()
                .any(|k| !LISTED.contains(&k.as_str()))
            {
                return Err(AuthError::invalid_token("unknown header parameter"));
            }
        }
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

        if self.has(Defect::JwksUriSchemeUnchecked)
            && self.config.manifest.require_https_metadata
            && !tenant
                .metadata_address
                .get(..8)
                .is_some_and(|p| p.eq_ignore_ascii_case("https://"))
        {
            return Err(AuthError::invalid_token("signing keys unavailable")
                .with_detail("the metadata address is not https"));
        }
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
        // The defect's key store, reached by the kid before the JWKS is consulted.
        let looked_up = match kid.as_deref() {
            Some(k) if self.has(Defect::KidLookupUnchecked) => {
                match checks::unchecked_kid_lookup(k) {
                    KidLookup::Throws(text) => return Err(AuthError::leaked(text.into())),
                    KidLookup::Secret(secret) => Some(secret),
                    KidLookup::Normal => None,
                }
            }
            _ => None,
        };
        let discovery = snapshot.discovery.clone();
        let expected_iss = match &tenant.valid_issuers {
            Some(list) => Some(list.as_slice()),
            // Only under `discovery-issuer-optional`: no issuer, nothing compared.
            None if discovery.issuer.is_empty() => None,
            None => Some(std::slice::from_ref(&discovery.issuer)),
        };

        match alg {
            HeaderAlg::None if self.has(Defect::NoneAccepted) => {}
            HeaderAlg::None => return Err(AuthError::invalid_token("alg none is not accepted")),
            HeaderAlg::Hmac(a) if looked_up.is_some() => {
                let secret = looked_up.unwrap_or_default();
                if !parsed.verifies_with(&DecodingKey::from_secret(&secret), a) {
                    return Err(AuthError::invalid_token("invalid signature"));
                }
            }
            HeaderAlg::Hmac(a) if hmac_confusion::any_enabled(&self.config.defects) => {
                let (keys, defects) = (&snapshot.keys, &self.config.defects);
                if !hmac_with_public_keys(keys, kid.as_deref(), a, &parsed, defects) {
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
        self.check_claims(tenant, parsed.claims, expected_iss)
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
        let is_ecdsa = matches!(alg, Algorithm::ES256 | Algorithm::ES384 | Algorithm::ES512);
        let verifies = |k: &Jwk| {
            if !fits(k) {
                return false;
            }
            if is_ecdsa
                && (self.has(Defect::PsychicEcdsa)
                    || self.has(Defect::EcdsaDerAccepted)
                    || self.has(Defect::EcdsaRangeUnchecked))
            {
                let Some(signature) = t.signature() else {
                    return false;
                };
                if self.has(Defect::PsychicEcdsa) && signature.iter().all(|b| *b == 0) {
                    return true;
                }
                if self.has(Defect::EcdsaRangeUnchecked)
                    && checks::ecdsa_scalars_are_the_order(&signature, alg)
                {
                    return true;
                }
                if self.has(Defect::EcdsaDerAccepted) && signature.first() == Some(&0x30) {
                    let width = match alg {
                        Algorithm::ES384 => 48,
                        Algorithm::ES512 => 66,
                        _ => 32,
                    };
                    if let Some(raw) = der_to_raw(&signature, width) {
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
        if candidates.peek().is_none() && self.has(Defect::KidCacheAcrossTenants) {
            // The defect: one `kid -> key` cache for the whole process.
            let mut elsewhere = self
                .tenants
                .values()
                .filter_map(|t| t.cached(&self.fetcher));
            if elsewhere.any(|s| {
                s.keys
                    .iter()
                    .any(|k| k.kid.as_deref() == Some(kid) && verifies(k))
            }) {
                return Ok(());
            }
        }
        if candidates.peek().is_none() {
            if self.has(Defect::ErrorDescriptionEchoesKid) {
                return Err(
                    AuthError::invalid_token("unknown kid").echoing(format!("unknown kid {kid}"))
                );
            }
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
            let widened = self.widened_issuers(iss, &claims);
            checks::check_iss(&claims, widened.as_deref().unwrap_or(iss), d)
                .map_err(AuthError::invalid_token)?;
        }
        checks::check_aud(&claims, &tenant.valid_audiences, d).map_err(AuthError::invalid_token)?;
        if claims.contains_key("cnf") && !self.has(Defect::CnfIgnored) {
            // Bound to a key the client must prove it holds; `Bearer` carries no proof.
            return Err(AuthError::invalid_token(
                "a sender-constrained token (cnf) cannot be used as a bearer token",
            ));
        }
        checks::check_times(
            &claims,
            self.config.clock.unix_secs(),
            m.clock_skew_seconds,
            d,
        )
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

    /// The accepted issuers as the issuer defects see them: with
    /// `issuer-trailing-slash-ignored` each with and without a trailing slash, with
    /// `issuer-by-tenant-id` also the token's own `iss` when it names the tenant id of one of
    /// them. `None` without those defects.
    fn widened_issuers(&self, expected: &[String], claims: &JsonObject) -> Option<Vec<String>> {
        let slash = self.has(Defect::IssuerTrailingSlashIgnored);
        let by_tid = self.has(Defect::IssuerByTenantId);
        if !slash && !by_tid {
            return None;
        }
        let mut wide = expected.to_vec();
        if slash {
            for e in expected {
                let bare = e.trim_end_matches('/');
                wide.extend([bare.to_owned(), format!("{bare}/")]);
            }
        }
        if let (true, Some(Field::Str(iss))) = (by_tid, claims.get("iss")) {
            let names_tid = guid_segments(&iss).any(|g| {
                expected
                    .iter()
                    .any(|e| guid_segments(e).any(|t| t.eq_ignore_ascii_case(g)))
            });
            if names_tid {
                wide.push(iss.to_string());
            }
        }
        Some(wide)
    }

    /// Discovery and JWKS fetches made so far for `slug` (for tests and debugging).
    pub fn fetch_count(&self, slug: &str) -> Option<u64> {
        self.tenants.get(slug).map(|k| k.fetch_count())
    }
}

/// The path segments of `url` shaped like a GUID (`8-4-4-4-12` hex digits): an Entra
/// issuer's tenant id.
fn guid_segments(url: &str) -> impl Iterator<Item = &str> {
    url.split('/').filter(|seg| {
        let groups: Vec<&str> = seg.split('-').collect();
        groups.len() == 5
            && groups
                .iter()
                .zip([8, 4, 4, 4, 12])
                .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    #[test]
    fn guid_segments_find_entra_tenant_ids() {
        let tid = "72f988bf-86f1-41af-91ab-2d7cd011db47";
        let v1 = format!("https://sts.windows.net/{tid}/");
        let v2 = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert_eq!(guid_segments(&v1).collect::<Vec<_>>(), [tid]);
        assert_eq!(guid_segments(&v2).collect::<Vec<_>>(), [tid]);
        assert_eq!(guid_segments("https://idp/contoso").count(), 0);
        assert_eq!(
            guid_segments("https://idp/72f988bf-86f1-41af-91ab-2d7cd011db4").count(),
            0
        );
    }

    /// A validator on a manual clock (returned too, to be advanced).
    fn validator(skew: u64, ttl: u64) -> (Validator, Clock) {
        let m = crate::Manifest::from_json(&format!(
            r#"{{"tenant_source":{{"kind":"path"}},"clock_skew_seconds":{skew},"jwks_cache_seconds":{ttl},"tenants":[]}}"#
        ))
        .unwrap();
        let mut config = Config::new(m);
        config.clock = Clock::manual(1_700_000_000);
        let clock = config.clock.clone();
        (Validator::new(config), clock)
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
        let (v, clock) = validator(0, 300);
        let now = clock.unix_secs();
        assert!(offer_twice(&v, "t1", &claims(Some(now + 100.0))));
        assert!(hit(&v, "t1", "a"));
        // Already expired: not even stored.
        assert!(!offer_twice(&v, "t3", &claims(Some(now - 1.0))));
        assert!(!hit(&v, "t3", "a"));
        // Expires within the entry's life: the hit re-checks exp.
        assert!(offer_twice(&v, "t4", &claims(Some(now + 0.2))));
        clock.advance(Duration::from_millis(300));
        assert!(!hit(&v, "t4", "a"));
        // A zero key-cache TTL disables the token cache.
        let (v, _) = validator(0, 0);
        assert!(!offer_twice(&v, "t5", &claims(None)));
        assert!(!hit(&v, "t5", "a"));
    }

    #[test]
    fn tokens_over_the_size_bound_are_never_cached() {
        let (v, _) = validator(0, 300);
        assert!(v
            .cache_key("x".repeat(TOKEN_CACHE_MAX_TOKEN_BYTES).as_bytes())
            .is_some());
        assert!(v
            .cache_key("x".repeat(TOKEN_CACHE_MAX_TOKEN_BYTES + 1).as_bytes())
            .is_none());
    }
}
