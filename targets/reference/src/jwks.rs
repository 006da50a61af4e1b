//! JWK parsing, key/algorithm fit, and the per-tenant key cache with single flight.
//!
//! Cache rules:
//! * discovery and JWKS are loaded lazily on first use and trusted for
//!   `jwks_cache_seconds`; after that the next request refetches them;
//! * an unknown `kid` triggers at most one JWKS refetch per tenant per
//!   `unknown_kid_cooldown`, shared by concurrent requests (a per-tenant
//!   `tokio::sync::Mutex` plus a generation counter: whoever waited while
//!   another request fetched uses that result instead of fetching again);
//! * when a refetch fails, the last known good keys stay in use within their TTL;
//!   past it nothing is trusted (fail closed);
//! * after a failed load no new attempt is made for [`FAILURE_BACKOFF`], so a
//!   dead IdP is not hammered once per request.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::checks::{alg_name, Algorithm};
use crate::clock::Clock;
use crate::defect::{Defect, DefectSet};
use crate::discovery::{fetch_json, fetch_json_with, Discovery, FetchError};
use crate::first_wins_json::parse_first_wins;
use crate::manifest::TenantConfig;
use crate::prepared_key::PreparedKey;

/// Pause after a failed discovery/JWKS load before the next attempt.
pub const FAILURE_BACKOFF: Duration = Duration::from_secs(1);

/// The key type of a JWK, with its curve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    /// `kty: RSA`.
    Rsa,
    /// `kty: EC` with `crv`.
    Ec(String),
    /// `kty: OKP` with `crv`.
    Okp(String),
}

/// One usable public key from a JWKS.
#[derive(Clone)]
pub struct Jwk {
    /// `kid`.
    pub kid: Option<String>,
    /// `kty` and curve.
    pub kind: KeyKind,
    /// `use`.
    pub use_: Option<String>,
    /// `key_ops`.
    pub key_ops: Option<Vec<String>>,
    /// `alg`.
    pub alg: Option<String>,
    /// The verification key, parsed once per algorithm ([`PreparedKey`]).
    pub key: PreparedKey,
    /// The JWK as the JWKS served it, re-serialized compactly (member order kept): the text
    /// the key-confusion defects key an HMAC with, and where they find its `x5c`.
    pub text: Arc<str>,
}

impl std::fmt::Debug for Jwk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kind", &self.kind)
            .field("alg", &self.alg)
            .finish()
    }
}

fn b64(v: &Value, name: &str) -> Option<Vec<u8>> {
    crate::token::decode_b64url(v.get(name)?.as_str()?)
}

impl Jwk {
    /// Parses one JWK; `None` for anything unusable (unknown `kty`, bad
    /// components, RSA under 2048 bits, private members present).
    pub fn parse(v: &Value) -> Option<Jwk> {
        let obj = v.as_object()?;
        // A JWKS that publishes private keys is broken; do not use that key.
        if obj.contains_key("d") {
            return None;
        }
        let opt_str = |k: &str| match obj.get(k) {
            None => Some(None),
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(_) => None,
        };
        let kid = opt_str("kid")?;
        let use_ = opt_str("use")?;
        let alg = opt_str("alg")?;
        let key_ops = match obj.get("key_ops") {
            None => None,
            Some(Value::Array(a)) => Some(
                a.iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<Vec<_>>>()?,
            ),
            Some(_) => return None,
        };
        let (kind, key) = match obj.get("kty")?.as_str()? {
            "RSA" => {
                let n = b64(v, "n")?;
                let e = b64(v, "e")?;
                let n_trim = n
                    .iter()
                    .position(|&b| b != 0)
                    .map_or(&n[n.len()..], |i| &n[i..]);
                if n_trim.len() < 256 || e.is_empty() || e.len() > 8 {
                    return None;
                }
                (KeyKind::Rsa, PreparedKey::rsa(n, e))
            }
            "EC" => {
                let crv = obj.get("crv")?.as_str()?;
                let size = match crv {
                    "P-256" => 32,
                    "P-384" => 48,
                    "P-521" => 66,
                    _ => return None,
                };
                let (x, y) = (b64(v, "x")?, b64(v, "y")?);
                if x.len() != size || y.len() != size {
                    return None;
                }
                (KeyKind::Ec(crv.to_owned()), PreparedKey::ec(&x, &y))
            }
            "OKP" => {
                let crv = obj.get("crv")?.as_str()?;
                let x = b64(v, "x")?;
                if crv != "Ed25519" || x.len() != 32 {
                    return None;
                }
                (KeyKind::Okp(crv.to_owned()), PreparedKey::ed25519(x))
            }
            _ => return None,
        };
        Some(Jwk {
            kid,
            kind,
            use_,
            key_ops,
            alg,
            key,
            text: v.to_string().into(),
        })
    }

    /// Whether this key may verify a token signed with `alg`: right key type and
    /// curve, `use` absent or `sig`, `key_ops` absent or containing `verify`,
    /// `alg` absent or equal.
    pub fn fits(&self, alg: Algorithm) -> bool {
        self.kind_fits(alg)
            && self.use_.as_deref().is_none_or(|u| u == "sig")
            && self
                .key_ops
                .as_ref()
                .is_none_or(|ops| ops.iter().any(|o| o == "verify"))
            && self.alg.as_deref().is_none_or(|a| a == alg_name(alg))
    }

    /// Whether this key's type and curve can verify `alg` at all.
    pub fn kind_fits(&self, alg: Algorithm) -> bool {
        match alg {
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512 => self.kind == KeyKind::Rsa,
            Algorithm::ES256 => matches!(&self.kind, KeyKind::Ec(c) if c == "P-256"),
            Algorithm::ES384 => matches!(&self.kind, KeyKind::Ec(c) if c == "P-384"),
            Algorithm::ES512 => matches!(&self.kind, KeyKind::Ec(c) if c == "P-521"),
            Algorithm::EdDSA => matches!(&self.kind, KeyKind::Okp(c) if c == "Ed25519"),
            _ => false,
        }
    }

    /// Verifies `signature` over `signing_input` with this key (no fit check).
    pub fn verify(&self, signing_input: &str, signature_b64: &str, alg: Algorithm) -> bool {
        // Raw r||s only (RFC 7518 section 3.4): a DER signature has another length.
        let fixed = match alg {
            Algorithm::ES256 | Algorithm::EdDSA => Some(64),
            Algorithm::ES384 => Some(96),
            Algorithm::ES512 => Some(132),
            _ => None,
        };
        // The decoded length of unpadded base64url (a non-canonical text fails
        // to decode in the verify below anyway).
        let decoded_len = signature_b64.len() * 3 / 4;
        if fixed.is_some_and(|n| n != decoded_len) {
            return false;
        }
        self.key.verify(signing_input, signature_b64, alg)
    }
}

/// Parses a JWKS document: `keys` must be an array; unusable members are skipped
/// (one exotic key must not take the whole set down).
pub fn parse_jwks(doc: &Value) -> Option<Vec<Jwk>> {
    Some(
        doc.get("keys")?
            .as_array()?
            .iter()
            .filter_map(Jwk::parse)
            .collect(),
    )
}

/// The `jwks-parsed-strictly` defect's reading: the whole set is refused when it or
/// any key has a member the parser does not list, or a key cannot be used.
fn parse_jwks_strictly(doc: &Value) -> Option<Vec<Jwk>> {
    const SET: [&str; 1] = ["keys"];
    // What RFC 7517 and 7518 define for public keys, and Entra's `issuer`.
    const KEY: [&str; 15] = [
        "kty", "use", "key_ops", "alg", "kid", "x5u", "x5c", "x5t", "x5t#S256", "n", "e", "crv",
        "x", "y", "issuer",
    ];
    let listed = |v: &Value, names: &[&str]| {
        v.as_object()
            .is_some_and(|o| o.keys().all(|k| names.contains(&k.as_str())))
    };
    let keys = doc.get("keys")?.as_array()?;
    if !listed(doc, &SET) || !keys.iter().all(|k| listed(k, &KEY)) {
        return None;
    }
    keys.iter().map(Jwk::parse).collect()
}

/// Settings shared by every tenant's fetches.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// The HTTP client; `None` when it could not be built (every fetch fails closed).
    pub client: Option<reqwest::Client>,
    /// Refuse `http:` URLs.
    pub require_https: bool,
    /// Per-fetch time limit.
    pub timeout: Duration,
    /// How long fetched documents are trusted.
    pub ttl: Duration,
    /// Minimum gap between unknown-`kid` refetches.
    pub cooldown: Duration,
    /// What cache lifetimes, the cooldown and the backoff are measured on.
    pub clock: Clock,
    /// Planted defects.
    pub defects: DefectSet,
}

impl Fetcher {
    /// The longest any one request may wait for keys: discovery, JWKS and a
    /// refetch, each bounded by `timeout`, plus lock waits. Only slow paths arm
    /// it; a cached lookup sets no timer.
    pub fn ceiling(&self) -> Duration {
        self.timeout * 4 + Duration::from_secs(1)
    }

    /// Runs `slow` (a path that waits for the IdP) under [`Fetcher::ceiling`].
    async fn bounded<T>(
        &self,
        slow: impl std::future::Future<Output = Result<T, FetchError>>,
    ) -> Result<T, FetchError> {
        let limit = self.ceiling();
        tokio::time::timeout(limit, slow)
            .await
            .unwrap_or(Err(FetchError::Ceiling(limit)))
    }

    /// Fetches a URL as JSON under the bounds.
    pub async fn json(&self, url: &str) -> Result<Value, FetchError> {
        fetch_json(self.client.as_ref(), url, self.require_https, self.timeout).await
    }

    /// Fetches a JWKS: [`Self::json`], read first-wins with the
    /// `jwks-first-duplicate-wins` defect.
    async fn jwks_json(&self, url: &str) -> Result<Value, FetchError> {
        if !self.defects.contains(Defect::JwksFirstDuplicateWins) {
            return self.json(url).await;
        }
        let (client, https, timeout) = (self.client.as_ref(), self.require_https, self.timeout);
        fetch_json_with(client, url, https, timeout, parse_first_wins).await
    }
}

/// A tenant's discovery document and keys, as of one load.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The discovery document.
    pub discovery: Arc<Discovery>,
    /// The keys, in JWKS order.
    pub keys: Arc<Vec<Jwk>>,
    /// Bumped on every load attempt; lets waiters notice someone else fetched.
    pub generation: u64,
}

#[derive(Debug, Default)]
struct State {
    discovery: Option<(Arc<Discovery>, Instant)>,
    keys: Option<(Arc<Vec<Jwk>>, Instant)>,
    last_kid_refetch: Option<Instant>,
    last_failure: Option<Instant>,
    generation: u64,
    fetch_count: u64,
}

/// One tenant's cached discovery and keys.
#[derive(Debug)]
pub struct TenantKeys {
    tenant: TenantConfig,
    state: Mutex<State>,
    flight: tokio::sync::Mutex<()>,
}

impl TenantKeys {
    /// An empty cache for `tenant`; nothing is fetched until first use.
    pub fn new(tenant: TenantConfig) -> Self {
        TenantKeys {
            tenant,
            state: Mutex::new(State::default()),
            flight: tokio::sync::Mutex::new(()),
        }
    }

    /// How many discovery and JWKS fetches this tenant has made.
    pub fn fetch_count(&self) -> u64 {
        self.lock().fetch_count
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the state inconsistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh(&self, f: &Fetcher, s: &State) -> Option<Snapshot> {
        let never = f.defects.contains(Defect::KeysNeverRefreshed);
        if f.defects.contains(Defect::JwksNotCached) {
            return None;
        }
        let now = f.clock.instant();
        let ok = |t: &Instant| never || now.saturating_duration_since(*t) < f.ttl;
        match (&s.discovery, &s.keys) {
            (Some((d, td)), Some((k, tk))) if ok(td) && ok(tk) => Some(Snapshot {
                discovery: d.clone(),
                keys: k.clone(),
                generation: s.generation,
            }),
            _ => None,
        }
    }

    /// Discovery and keys within their TTL when they are already loaded; never fetches.
    pub fn cached(&self, f: &Fetcher) -> Option<Snapshot> {
        self.fresh(f, &self.lock())
    }

    /// Discovery and keys within their TTL, loading them if needed (single flight).
    pub async fn current(&self, f: &Fetcher) -> Result<Snapshot, FetchError> {
        let seen = {
            let s = self.lock();
            if let Some(snap) = self.fresh(f, &s) {
                return Ok(snap);
            }
            s.generation
        };
        // Boxed: the loading future (a whole HTTP fetch) is large, and only this
        // rare path should carry it; inline it would make every request's future
        // kilobytes bigger (each request moves its future a few times).
        Box::pin(f.bounded(async {
            let _flight = self.flight.lock().await;
            {
                let s = self.lock();
                if let Some(snap) = self.fresh(f, &s) {
                    return Ok(snap);
                }
                // Someone else just tried and failed, or a recent failure: do not pile on.
                if s.generation != seen
                    || s.last_failure.is_some_and(|t| {
                        f.clock.instant().saturating_duration_since(t) < FAILURE_BACKOFF
                    })
                {
                    return Err(FetchError::BackingOff);
                }
            }
            self.load(f, true).await
        }))
        .await
    }

    /// Called when no key has the token's `kid`: refetches the JWKS at most once
    /// per cooldown, shared by concurrent callers. `seen` is the generation the
    /// caller looked at.
    pub async fn refresh_for_unknown_kid(
        &self,
        f: &Fetcher,
        seen: u64,
    ) -> Result<Snapshot, FetchError> {
        if f.defects.contains(Defect::KeysNeverRefreshed) {
            return self.current(f).await;
        }
        if f.defects.contains(Defect::RefetchEveryUnknownKid) {
            return f.bounded(self.load(f, false)).await;
        }
        let loaded = f
            .bounded(async {
                let _flight = self.flight.lock().await;
                let skip = {
                    let s = self.lock();
                    let cooling = s.last_kid_refetch.is_some_and(|t| {
                        f.clock.instant().saturating_duration_since(t) < f.cooldown
                    });
                    s.generation != seen || cooling
                };
                if skip {
                    Err(FetchError::BackingOff)
                } else {
                    self.load(f, false).await
                }
            })
            .await;
        match loaded {
            Ok(s) => Ok(s),
            // Cooling down, someone else fetched, or the refetch failed: the
            // current keys (last known good, within their TTL) are what we have.
            _ => self.current(f).await,
        }
    }

    /// Fetches the JWKS (and discovery when `with_discovery` or none is cached).
    async fn load(&self, f: &Fetcher, with_discovery: bool) -> Result<Snapshot, FetchError> {
        let result = self.fetch(f, with_discovery).await;
        let mut s = self.lock();
        s.generation += 1;
        let now = f.clock.instant();
        match result {
            Ok((discovery, keys, fetches)) => {
                s.fetch_count += fetches;
                if let Some(d) = discovery {
                    s.discovery = Some((d, now));
                }
                s.keys = Some((keys, now));
                if !with_discovery {
                    s.last_kid_refetch = Some(now);
                }
                s.last_failure = None;
                match (&s.discovery, &s.keys) {
                    (Some((d, _)), Some((k, _))) => Ok(Snapshot {
                        discovery: d.clone(),
                        keys: k.clone(),
                        generation: s.generation,
                    }),
                    _ => Err(FetchError::BackingOff),
                }
            }
            Err((e, fetches, jwks_tried)) => {
                s.fetch_count += fetches;
                if jwks_tried && !with_discovery {
                    s.last_kid_refetch = Some(now);
                }
                s.last_failure = Some(now);
                Err(e)
            }
        }
    }

    #[allow(clippy::type_complexity)]
    async fn fetch(
        &self,
        f: &Fetcher,
        with_discovery: bool,
    ) -> Result<(Option<Arc<Discovery>>, Arc<Vec<Jwk>>, u64), (FetchError, u64, bool)> {
        let cached = self.lock().discovery.clone();
        let mut fetches = 0;
        let (discovery, fresh_discovery) = match cached {
            Some((d, t))
                if !with_discovery || f.clock.instant().saturating_duration_since(t) < f.ttl =>
            {
                (d, None)
            }
            _ => {
                fetches += 1;
                let doc = f
                    .json(&self.tenant.metadata_address)
                    .await
                    .map_err(|e| (e, fetches, false))?;
                let d = Arc::new(
                    Discovery::from_document(&doc, &self.tenant, &f.defects)
                        .map_err(|e| (e, fetches, false))?,
                );
                (d.clone(), Some(d))
            }
        };
        fetches += 1;
        let doc = f
            .jwks_json(&discovery.jwks_uri)
            .await
            .map_err(|e| (e, fetches, true))?;
        let strict = f.defects.contains(Defect::JwksParsedStrictly);
        let keys = if strict {
            parse_jwks_strictly(&doc)
        } else {
            parse_jwks(&doc)
        };
        let keys = keys.ok_or_else(|| {
            let e = FetchError::Document {
                url: discovery.jwks_uri.clone(),
                message: "no `keys` array".into(),
            };
            (e, fetches, true)
        })?;
        Ok((fresh_discovery, Arc::new(keys), fetches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ed(extra: Value) -> Value {
        let mut v =
            json!({"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"});
        if let (Some(o), Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    #[test]
    fn fit_rules() {
        let k = Jwk::parse(&ed(json!({}))).unwrap();
        assert!(k.fits(Algorithm::EdDSA));
        assert!(
            !k.fits(Algorithm::RS256) && !k.fits(Algorithm::ES256) && !k.fits(Algorithm::HS256)
        );
        assert!(!Jwk::parse(&ed(json!({"use":"enc"})))
            .unwrap()
            .fits(Algorithm::EdDSA));
        assert!(Jwk::parse(&ed(json!({"use":"sig"})))
            .unwrap()
            .fits(Algorithm::EdDSA));
        assert!(!Jwk::parse(&ed(json!({"key_ops":["encrypt"]})))
            .unwrap()
            .fits(Algorithm::EdDSA));
        assert!(!Jwk::parse(&ed(json!({"alg":"ES256"})))
            .unwrap()
            .fits(Algorithm::EdDSA));
        assert!(Jwk::parse(&ed(json!({"alg":"EdDSA"})))
            .unwrap()
            .fits(Algorithm::EdDSA));
        assert!(
            Jwk::parse(&ed(json!({"d":"xx"}))).is_none(),
            "private key published"
        );
        assert!(Jwk::parse(&ed(json!({"kid": 5}))).is_none());
        assert!(Jwk::parse(&json!({"kty":"oct","k":"AAAA"})).is_none());
        assert!(
            Jwk::parse(&json!({"kty":"RSA","n":"AQAB","e":"AQAB"})).is_none(),
            "tiny RSA"
        );
        let set = parse_jwks(&json!({"keys":[ed(json!({})), {"kty":"weird"}]})).unwrap();
        assert_eq!(set.len(), 1);
        assert!(parse_jwks(&json!({"keys":{}})).is_none());
    }
}
