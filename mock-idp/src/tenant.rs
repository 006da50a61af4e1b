//! Tenants: one issuer each, with its key ring, quirks, faults and traffic counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use crate::error::Error;
use crate::flavor::{self, Flavor, Layout, ShapeInput, TokenKind};
use crate::forge::{self, Signature};
use crate::journal::{Counters, Traffic};
use crate::keys::{KeyKind, SigningKey, ASYMMETRIC_ALGS};

/// What a tenant should look like; pass it to [`crate::MockIdpBuilder::tenant`] or
/// [`crate::MockIdp::add_tenant`].
///
/// ```
/// use mock_idp::{Flavor, TenantSpec};
/// let spec = TenantSpec::new("contoso", Flavor::EntraV2).roles(["admin"]);
/// assert_eq!(spec.slug(), "contoso");
/// ```
#[derive(Clone, Debug)]
#[must_use]
pub struct TenantSpec {
    pub(crate) slug: String,
    pub(crate) flavor: Flavor,
    pub(crate) audience: Option<String>,
    pub(crate) roles: Vec<String>,
    pub(crate) key_ring: Option<String>,
    pub(crate) pooled_keys: bool,
    pub(crate) quirks: Quirks,
    pub(crate) clients: Vec<Client>,
    pub(crate) own_listener: bool,
    pub(crate) plain_http: bool,
    pub(crate) directory_of: Option<String>,
    pub(crate) jwks_plain_http: bool,
    /// Set by [`crate::MockIdp::add_tenant`] for [`TenantSpec::jwks_over_plain_http`]: the
    /// plain-HTTP listener that serves the JWKS.
    pub(crate) jwks_base: Option<String>,
}

impl TenantSpec {
    /// A tenant named `slug` of `flavor`, with the flavor's defaults.
    pub fn new(slug: impl Into<String>, flavor: Flavor) -> Self {
        TenantSpec {
            slug: slug.into(),
            flavor,
            audience: None,
            roles: Vec::new(),
            key_ring: None,
            pooled_keys: false,
            quirks: Quirks::default(),
            clients: Vec::new(),
            own_listener: false,
            plain_http: false,
            directory_of: None,
            jwks_plain_http: false,
            jwks_base: None,
        }
    }
    /// The slug.
    pub fn slug(&self) -> &str {
        &self.slug
    }
    /// Overrides the audience of access tokens.
    pub fn audience(mut self, aud: impl Into<String>) -> Self {
        self.audience = Some(aud.into());
        self
    }
    /// Roles (groups for Okta, a namespaced claim for Auth0) put on app-only access tokens.
    pub fn roles<I: IntoIterator<Item = S>, S: Into<String>>(mut self, roles: I) -> Self {
        self.roles = roles.into_iter().map(Into::into).collect();
        self
    }
    /// Names the key ring. Entra tenants share the ring `entra` by default (as every real
    /// Entra tenant shares Microsoft's keys); other flavors get a ring of their own.
    pub fn key_ring(mut self, name: impl Into<String>) -> Self {
        self.key_ring = Some(name.into());
        self
    }
    /// Draws the ring's key material from a small per-seed pool (six RSA keys) instead of
    /// generating keys for it. Rings stay isolated in state (rotation, statuses); two pooled
    /// rings may hold the same key. Use it for many short-lived tenants: RSA generation costs
    /// far more than anything else a tenant does.
    pub fn pooled_keys(mut self) -> Self {
        self.pooled_keys = true;
        self
    }
    /// Starting quirks.
    pub fn quirks(mut self, quirks: Quirks) -> Self {
        self.quirks = quirks;
        self
    }
    /// Registers an extra client for the token endpoint.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.clients.push(Client {
            id: id.into(),
            secret: secret.into(),
        });
        self
    }
    /// Serves this tenant on a listener of its own (`127.0.0.1:0`, or port 0 on the IP the
    /// [`crate::MockIdp`] listens on), so its issuer and URLs have a host and port no other
    /// tenant shares: for validators that key caches or trust by origin. It shares the IdP's
    /// journal, TLS setting and key rings (so an own-listener Entra tenant still signs with
    /// Microsoft's shared keys); an `entra-common` tenant gets its own `common` document there.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mock_idp::Error> {
    /// use mock_idp::{Flavor, MockIdp, TenantSpec};
    /// let idp = MockIdp::builder()
    ///     .tenant(TenantSpec::new("shared", Flavor::Okta))
    ///     .tenant(TenantSpec::new("alone", Flavor::Okta).own_listener())
    ///     .start()
    ///     .await?;
    /// let alone = idp.tenant("alone").unwrap();
    /// assert!(!alone.issuer().starts_with(idp.uri()));
    /// assert!(idp.tenant("shared").unwrap().issuer().starts_with(idp.uri()));
    /// # Ok(()) }
    /// ```
    pub fn own_listener(mut self) -> Self {
        self.own_listener = true;
        self
    }
    /// Whether [`TenantSpec::own_listener`] was asked for.
    pub fn has_own_listener(&self) -> bool {
        self.own_listener
    }
    /// An own listener (implied) that serves plain `http://` even when the IdP runs
    /// with [`crate::MockIdpBuilder::tls`]: the "metadata over HTTP where HTTPS is
    /// required" case.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mock_idp::Error> {
    /// use mock_idp::{Flavor, MockIdp, TenantSpec};
    /// let idp = MockIdp::builder().tls().start().await?;
    /// let t = idp.add_tenant(TenantSpec::new("plain", Flavor::Generic).plain_http())?;
    /// assert!(t.discovery_url().starts_with("http://"));
    /// assert!(idp.uri().starts_with("https://"));
    /// # Ok(()) }
    /// ```
    pub fn plain_http(mut self) -> Self {
        self.own_listener = true;
        self.plain_http = true;
        self
    }

    /// A second registration in the directory of the tenant `parent` (added before it, on the
    /// same listener, of the same flavor): another API of the same customer. It has the
    /// parent's tenant id, issuer, discovery document, keys, endpoints and traffic counters
    /// (it serves no path of its own; faults set on it are the parent's), and an audience and
    /// client of its own: by default `api://{slug}` (Entra v2: a GUID derived from the slug)
    /// and the flavor's client for its slug. Its tokens are minted by library call; the
    /// parent's token endpoint does not know its client.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mock_idp::Error> {
    /// use mock_idp::{Flavor, MockIdp, TenantSpec};
    /// let idp = MockIdp::builder()
    ///     .tenant(TenantSpec::new("orders", Flavor::EntraV2))
    ///     .tenant(TenantSpec::new("billing", Flavor::EntraV2).same_directory_as("orders"))
    ///     .start()
    ///     .await?;
    /// let (orders, billing) = (idp.tenant("orders").unwrap(), idp.tenant("billing").unwrap());
    /// assert_eq!(billing.discovery_url(), orders.discovery_url());
    /// assert_eq!(billing.issuer(), orders.issuer());
    /// assert_ne!(billing.audience(), orders.audience());
    /// assert_ne!(billing.clients()[0].id, orders.clients()[0].id);
    /// # Ok(()) }
    /// ```
    pub fn same_directory_as(mut self, parent: impl Into<String>) -> Self {
        self.directory_of = Some(parent.into());
        self
    }
    /// With [`crate::MockIdpBuilder::tls`]: the JWKS is also served on a plain `http://`
    /// listener of its own (counted in this tenant's traffic), and the discovery document,
    /// itself served over HTTPS, names that address as `jwks_uri`: the "`jwks_uri` over HTTP
    /// where HTTPS is required" case. Without TLS every address is `http://` already and
    /// nothing changes. Not for `entra-common` tenants or second registrations (their
    /// documents are another tenant's).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), mock_idp::Error> {
    /// use mock_idp::{Flavor, MockIdp, TenantSpec};
    /// let idp = MockIdp::builder().tls().start().await?;
    /// let t = idp.add_tenant(TenantSpec::new("acme", Flavor::Generic).jwks_over_plain_http())?;
    /// assert!(t.discovery_url().starts_with("https://"));
    /// assert!(t.jwks_url().starts_with("http://"));
    /// assert_eq!(t.discovery()["jwks_uri"], t.jwks_url().as_str());
    /// # Ok(()) }
    /// ```
    pub fn jwks_over_plain_http(mut self) -> Self {
        self.jwks_plain_http = true;
        self
    }

    /// An error unless the slug can stand as one segment of a path.
    pub(crate) fn check_slug(&self) -> Result<(), Error> {
        if self.slug.is_empty() || self.slug.contains(['/', '?', '#', ' ']) {
            return Err(Error::InvalidTenant(format!(
                "slug `{}` must be non-empty with no `/`, `?`, `#` or space",
                self.slug
            )));
        }
        Ok(())
    }

    /// The name of the key ring the tenant signs with: the one asked for, else `entra` for
    /// every Entra flavor (Microsoft's keys are shared) and a ring of its own for the others.
    pub(crate) fn ring_name(&self) -> String {
        self.key_ring.clone().unwrap_or_else(|| {
            if self.flavor.is_entra() {
                "entra".to_string()
            } else {
                format!("tenant-{}", self.slug)
            }
        })
    }
}

/// A client registered at a tenant's token endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Client {
    /// `client_id`.
    pub id: String,
    /// `client_secret`.
    pub secret: String,
}

/// The JOSE `typ` a tenant puts on its access tokens.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TypQuirk {
    /// What the flavor's real tokens carry.
    #[default]
    Flavor,
    /// No `typ` member.
    Absent,
    /// This exact value (`JWT`, `at+jwt`, `application/at+jwt`, `AT+JWT`, `id_token`, ...).
    Value(String),
}

/// Per-tenant deviations, changeable while running (library or admin API).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// The `typ` header of access tokens.
    pub typ: TypQuirk,
    /// Omit `kid` from the token header.
    pub omit_kid: bool,
    /// Identify the key by `x5t` only (no `kid`): the header carries the signing key's
    /// certificate thumbprint, and the JWKS publishes `x5c` and `x5t` for every flavor.
    pub x5t_only: bool,
    /// The signing algorithm of genuine tokens (default RS256).
    pub alg: Option<String>,
    /// Seconds added to `iat`, `nbf` and `exp` (an IdP whose clock is off).
    pub clock_offset_seconds: i64,
    /// Token lifetime in seconds (default: the flavor's, 3600-5400).
    pub lifetime_seconds: Option<i64>,
    /// The JWKS also publishes a different key under the active key's `kid`, listed first.
    pub duplicate_kids: bool,
    /// The JWKS also publishes a `use: enc` key.
    pub extra_enc_key: bool,
    /// `Cache-Control: max-age` on the JWKS response.
    pub jwks_max_age: Option<u64>,
    /// Auth0 only: the RFC 9068 access-token profile (`typ: at+jwt`, `client_id`, `jti`).
    pub rfc9068_profile: bool,
    /// Every JWK and the JWK Set carry a member no specification defines
    /// (`x_unknown_member`), as Entra's keys carry `issuer` and `cloud_instance_name`.
    pub jwks_extra_members: bool,
    /// The JWKS also lists, first, keys no validator can use: one of an unknown `kty` and an
    /// RSA key without `n`.
    pub unusable_keys: bool,
    /// A duplicate member in the JWKS text, the impostor's value first and the genuine one
    /// last: `jwk-n` (the active RSA key's `n` twice) or `keys` (`keys` twice, the first
    /// holding only the impostor's key under the active `kid`). See [`Tenant::impostor_key`].
    pub jwks_duplicate: Option<String>,
}

/// A fault injected into one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// Answer with this status and a small JSON error body.
    Status {
        /// The HTTP status.
        status: u16,
    },
    /// Answer correctly after a delay (capped at 60 s).
    Delay {
        /// Milliseconds.
        ms: u64,
    },
    /// Answer 200 with a body that is not JSON.
    MalformedJson,
    /// JWKS only: answer `{"keys":[]}`.
    EmptyKeySet,
    /// Drop the connection without an answer.
    Reset,
}

/// The faults of one tenant.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fault on the discovery (and RFC 8414 metadata) document.
    pub discovery: Option<Fault>,
    /// Fault on the JWKS.
    pub jwks: Option<Fault>,
    /// Fault on the token endpoint.
    pub token: Option<Fault>,
    /// The discovery document claims this `issuer` instead (mix-up, RFC 8414 section 3.3).
    pub issuer_override: Option<String>,
    /// Members left out of the discovery (and RFC 8414 metadata) document, such as
    /// `jwks_uri` or `issuer`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discovery_omit: Vec<String>,
}

/// How many keys pooled rings share.
const KEY_POOL: u64 = 6;

/// Where a key stands in a rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeyStatus {
    /// Published in the JWKS ahead of use.
    Next,
    /// Published and signing.
    Active,
    /// Published after being replaced (the overlap window), no longer signing.
    Previous,
    /// Removed from the JWKS.
    Retired,
}

#[derive(Clone, Debug)]
struct RingKey {
    key: Arc<SigningKey>,
    status: KeyStatus,
}

/// Keys shared by the tenants that name the same ring.
#[derive(Debug)]
pub(crate) struct KeyRing {
    name: String,
    pooled: bool,
    seed: u64,
    keys: RwLock<Vec<RingKey>>,
    generation: AtomicU64,
    pub(crate) version: AtomicU64,
}

impl KeyRing {
    pub(crate) fn new(name: &str, seed: u64, pooled: bool) -> Self {
        let ring = KeyRing {
            name: name.to_string(),
            pooled,
            seed,
            keys: RwLock::new(Vec::new()),
            generation: AtomicU64::new(0),
            version: AtomicU64::new(0),
        };
        ring.active(KeyKind::Rsa);
        ring
    }

    fn make(&self, kind: KeyKind) -> Arc<SigningKey> {
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        if self.pooled {
            // Consecutive generations take consecutive slots, so a rotation always changes key.
            let start: u64 = self
                .name
                .bytes()
                .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(b as u64));
            return SigningKey::derive(
                self.seed,
                &format!("pool/{}", (start + generation) % KEY_POOL),
                kind,
            );
        }
        SigningKey::derive(self.seed, &format!("{}/{generation}", self.name), kind)
    }

    /// The active key of `kind`, made on first use.
    pub(crate) fn active(&self, kind: KeyKind) -> Arc<SigningKey> {
        if let Some(k) = self.find(kind, KeyStatus::Active) {
            return k;
        }
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if let Some(k) = keys
            .iter()
            .find(|k| k.key.kind() == kind && k.status == KeyStatus::Active)
        {
            return k.key.clone();
        }
        let key = self.make(kind);
        keys.push(RingKey {
            key: key.clone(),
            status: KeyStatus::Active,
        });
        self.version.fetch_add(1, Ordering::Relaxed);
        key
    }

    fn find(&self, kind: KeyKind, status: KeyStatus) -> Option<Arc<SigningKey>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .find(|k| k.key.kind() == kind && k.status == status)
            .map(|k| k.key.clone())
    }

    pub(crate) fn rotate(&self, step: RotationStep, kind: KeyKind) -> Vec<(String, KeyStatus)> {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        match step {
            RotationStep::PublishNext => {
                if !keys
                    .iter()
                    .any(|k| k.key.kind() == kind && k.status == KeyStatus::Next)
                {
                    drop(keys);
                    let key = self.make(kind);
                    keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
                    keys.push(RingKey {
                        key,
                        status: KeyStatus::Next,
                    });
                }
            }
            RotationStep::Promote => {
                if keys
                    .iter()
                    .any(|k| k.key.kind() == kind && k.status == KeyStatus::Next)
                {
                    for k in keys.iter_mut().filter(|k| k.key.kind() == kind) {
                        k.status = match k.status {
                            KeyStatus::Active => KeyStatus::Previous,
                            KeyStatus::Next => KeyStatus::Active,
                            other => other,
                        };
                    }
                }
            }
            RotationStep::RetirePrevious => {
                for k in keys
                    .iter_mut()
                    .filter(|k| k.key.kind() == kind && k.status == KeyStatus::Previous)
                {
                    k.status = KeyStatus::Retired;
                }
            }
        }
        self.version.fetch_add(1, Ordering::Relaxed);
        keys.iter()
            .map(|k| (k.key.kid().to_string(), k.status))
            .collect()
    }

    fn published(&self) -> Vec<Arc<SigningKey>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .filter(|k| k.status != KeyStatus::Retired)
            .map(|k| k.key.clone())
            .collect()
    }

    /// Every key with its status, for inspection.
    pub(crate) fn statuses(&self) -> Vec<(String, KeyStatus)> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .map(|k| (k.key.kid().to_string(), k.status))
            .collect()
    }

    /// A previous or retired key of `kind` (for "token signed with a retired key" cases).
    pub(crate) fn non_active(&self, kind: KeyKind) -> Option<Arc<SigningKey>> {
        let keys = self.keys.read().unwrap_or_else(|e| e.into_inner());
        keys.iter()
            .rev()
            .find(|k| {
                k.key.kind() == kind && matches!(k.status, KeyStatus::Previous | KeyStatus::Retired)
            })
            .map(|k| k.key.clone())
    }

    pub(crate) fn seed(&self) -> u64 {
        self.seed
    }
    pub(crate) fn name(&self) -> &str {
        &self.name
    }
    /// The label prefix of keys derived for this ring's extras (duplicate, enc).
    pub(crate) fn label_base(&self) -> &str {
        if self.pooled {
            "pool"
        } else {
            &self.name
        }
    }
}

/// One step of a key rotation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RotationStep {
    /// Publish the next key in the JWKS (not yet signing).
    PublishNext,
    /// Start signing with the next key; the old one stays published (overlap).
    Promote,
    /// Remove the previous key from the JWKS.
    RetirePrevious,
}

/// Options for minting a token by library call.
///
/// ```
/// use mock_idp::{MintOptions, TokenKind};
/// let opts = MintOptions { kind: TokenKind::UserAccess, ..MintOptions::default() };
/// assert!(opts.roles.is_none());
/// ```
#[derive(Clone, Debug)]
pub struct MintOptions {
    /// App, user, or id_token.
    pub kind: TokenKind,
    /// Roles to carry (default: the tenant's).
    pub roles: Option<Vec<String>>,
    /// Scopes to carry (default: the flavor's).
    pub scopes: Vec<String>,
    /// The client the token is for (default: the tenant's first client).
    pub client_id: Option<String>,
    /// Audience (default: the tenant's).
    pub audience: Option<String>,
    /// The Unix time the token is issued at (default: now, on the IdP's clock). A harness that
    /// drives a target on a clock of its own mints on that clock, so `iat` and `nbf` never lie
    /// ahead of the target's time by the second that passed between the two readings.
    pub issued_at: Option<i64>,
}

impl Default for MintOptions {
    fn default() -> Self {
        MintOptions {
            kind: TokenKind::AppAccess,
            roles: None,
            scopes: Vec::new(),
            client_id: None,
            audience: None,
            issued_at: None,
        }
    }
}

/// A genuine token taken apart, for callers that edit it before signing.
#[derive(Clone, Debug)]
pub struct TokenParts {
    /// The JOSE header.
    pub header: Map<String, Value>,
    /// The claims.
    pub claims: Map<String, Value>,
    /// The genuine signer.
    pub signature: Signature,
}

impl TokenParts {
    /// Serializes and signs.
    pub fn compact(&self) -> String {
        let h = Value::Object(self.header.clone()).to_string();
        let c = Value::Object(self.claims.clone()).to_string();
        forge::compact(h.as_bytes(), c.as_bytes(), &self.signature)
    }
}

#[derive(Debug)]
pub(crate) struct TenantInner {
    pub slug: String,
    pub flavor: Flavor,
    pub key: String,
    pub base: String,
    pub layout: Layout,
    pub audience: String,
    pub roles: Vec<String>,
    pub clients: Vec<Client>,
    pub ring: Arc<KeyRing>,
    pub quirks: RwLock<Quirks>,
    pub faults: RwLock<Faults>,
    pub version: AtomicU64,
    pub counters: Arc<Counters>,
    seq: AtomicU64,
    jwks_cache: RwLock<Option<(u64, u64, Bytes)>>,
    /// The tenant whose documents and endpoints serve this one: for `entra-common` tenants
    /// the `common` document they are configured through, for a second registration
    /// ([`TenantSpec::same_directory_as`]) its directory's tenant.
    pub common: Option<Arc<TenantInner>>,
    /// Where the JWKS is served when not on `base` ([`TenantSpec::jwks_over_plain_http`]).
    pub jwks_base: Option<String>,
}

impl TenantInner {
    pub(crate) fn new(
        spec: &TenantSpec,
        base: &str,
        ring: Arc<KeyRing>,
        common: Option<Arc<TenantInner>>,
    ) -> Self {
        let key = if spec.flavor.is_entra() {
            flavor::guid(&format!("tenant/{}", spec.slug))
        } else {
            spec.slug.clone()
        };
        let common_prefix = ring_prefix(ring.name());
        let layout = flavor::layout(spec.flavor, base, &key, &common_prefix);
        let mut clients = vec![default_client(spec.flavor, &spec.slug, ring.seed())];
        clients.extend(spec.clients.iter().cloned());
        TenantInner {
            slug: spec.slug.clone(),
            flavor: spec.flavor,
            key,
            base: base.to_string(),
            layout,
            audience: spec
                .audience
                .clone()
                .unwrap_or_else(|| spec.flavor.default_audience().to_string()),
            roles: spec.roles.clone(),
            clients,
            ring,
            quirks: RwLock::new(spec.quirks.clone()),
            faults: RwLock::new(Faults::default()),
            version: AtomicU64::new(0),
            counters: common
                .as_ref()
                .map(|c| c.counters.clone())
                .unwrap_or_default(),
            seq: AtomicU64::new(0),
            jwks_cache: RwLock::new(None),
            common,
            jwks_base: spec.jwks_base.clone(),
        }
    }

    /// A second registration in `parent`'s directory ([`TenantSpec::same_directory_as`]).
    pub(crate) fn registration(spec: &TenantSpec, parent: &Arc<TenantInner>) -> Self {
        let audience = spec.audience.clone().unwrap_or_else(|| match spec.flavor {
            Flavor::EntraV2 | Flavor::EntraCommon => flavor::guid(&format!("app/{}", spec.slug)),
            _ => format!("api://{}", spec.slug),
        });
        let mut clients = vec![default_client(spec.flavor, &spec.slug, parent.ring.seed())];
        clients.extend(spec.clients.iter().cloned());
        TenantInner {
            slug: spec.slug.clone(),
            flavor: parent.flavor,
            key: parent.key.clone(),
            base: parent.base.clone(),
            layout: parent.layout.clone(),
            audience,
            roles: spec.roles.clone(),
            clients,
            ring: parent.ring.clone(),
            quirks: RwLock::new(spec.quirks.clone()),
            faults: RwLock::new(Faults::default()),
            version: AtomicU64::new(0),
            counters: parent.counters.clone(),
            seq: AtomicU64::new(0),
            jwks_cache: RwLock::new(None),
            common: Some(parent.common.clone().unwrap_or_else(|| parent.clone())),
            jwks_base: parent.jwks_base.clone(),
        }
    }

    /// The JWKS address the discovery document names.
    pub(crate) fn jwks_url(&self) -> String {
        let base = self.jwks_base.as_deref().unwrap_or(&self.base);
        format!("{base}{}", self.layout.jwks)
    }

    /// The `common` pseudo-tenant that serves the multi-tenant document of a ring: an
    /// `entra-common` tenant keyed `common`, with no clients, at the ring's `common` paths.
    pub(crate) fn common_doc(base: &str, ring: Arc<KeyRing>) -> Self {
        let prefix = ring_prefix(ring.name());
        let slug = if prefix.is_empty() {
            "common".to_string()
        } else {
            format!("{}/common", ring.name())
        };
        TenantInner {
            key: "common".into(),
            layout: flavor::common_layout(base, &prefix),
            clients: Vec::new(),
            ..TenantInner::new(
                &TenantSpec::new(slug, Flavor::EntraCommon),
                base,
                ring,
                None,
            )
        }
    }

    pub(crate) fn quirks(&self) -> Quirks {
        self.quirks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub(crate) fn faults(&self) -> Faults {
        self.faults
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub(crate) fn bump_version(&self) {
        self.version.fetch_add(1, Ordering::Relaxed);
    }

    /// The algorithm genuine tokens are signed with now.
    pub(crate) fn alg(&self) -> String {
        self.quirks().alg.unwrap_or_else(|| "RS256".to_string())
    }

    /// The algorithms advertised in discovery: every asymmetric alg the ring can serve.
    pub(crate) fn advertised_algs(&self) -> Vec<String> {
        let alg = self.alg();
        let mut algs = vec!["RS256".to_string()];
        if alg != "RS256" {
            algs.push(alg);
        }
        algs
    }

    pub(crate) fn discovery_json(&self) -> Value {
        let faults = self.faults();
        let issuer = faults
            .issuer_override
            .unwrap_or_else(|| self.layout.issuer.clone());
        let mut doc = flavor::discovery_document(
            self.flavor,
            &self.base,
            &self.layout,
            &issuer,
            &self.advertised_algs(),
        );
        if let Value::Object(members) = &mut doc {
            if self.jwks_base.is_some() {
                members.insert("jwks_uri".into(), json!(self.jwks_url()));
            }
            for name in &faults.discovery_omit {
                members.remove(name);
            }
        }
        doc
    }

    /// The JWKS bytes, rebuilt only when the ring, quirks or faults changed.
    pub(crate) fn jwks_bytes(&self) -> Bytes {
        let ring_v = self.ring.version.load(Ordering::Relaxed);
        let own_v = self.version.load(Ordering::Relaxed);
        if let Some((r, o, b)) = &*self.jwks_cache.read().unwrap_or_else(|e| e.into_inner()) {
            if *r == ring_v && *o == own_v {
                return b.clone();
            }
        }
        let bytes = Bytes::from(self.jwks_text());
        *self.jwks_cache.write().unwrap_or_else(|e| e.into_inner()) =
            Some((ring_v, own_v, bytes.clone()));
        bytes
    }

    /// The JWKS as served: [`Self::jwks_json`], with the `jwks_duplicate` quirk's repeated
    /// member written into the text (no JSON value can hold one).
    fn jwks_text(&self) -> String {
        let doc = self.jwks_json();
        let text = doc.to_string();
        let Some(which) = self.quirks().jwks_duplicate else {
            return text;
        };
        let active = self.ring.active(KeyKind::Rsa);
        let mut impostor = self.jwk_for(&self.impostor_key(), "sig");
        impostor["kid"] = json!(active.kid());
        match which.as_str() {
            "keys" => format!("{{\"keys\":[{impostor}],{}", &text[1..]),
            "jwk-n" => {
                let genuine = self.jwk_for(&active, "sig");
                let (Some(n), Some(fake)) = (genuine["n"].as_str(), impostor["n"].as_str()) else {
                    return text;
                };
                let member = format!("\"n\":\"{n}\"");
                text.replacen(&member, &format!("\"n\":\"{fake}\",{member}"), 1)
            }
            _ => text,
        }
    }

    /// A key no JWKS of this tenant publishes under its own name: the `duplicate_kids` and
    /// `jwks_duplicate` quirks put it first under the active `kid`.
    fn impostor_key(&self) -> Arc<SigningKey> {
        SigningKey::derive(
            self.ring.seed(),
            &format!("{}/duplicate", self.ring.label_base()),
            KeyKind::Rsa,
        )
    }

    pub(crate) fn jwks_json(&self) -> Value {
        let quirks = self.quirks();
        // Make sure the key the tenant signs with is published.
        if let Some(kind) = KeyKind::for_alg(&self.alg()) {
            self.ring.active(kind);
        }
        let mut keys: Vec<Value> = Vec::new();
        let active_rsa = self.ring.active(KeyKind::Rsa);
        if quirks.unusable_keys {
            keys.push(json!({"kty": "XYZ", "use": "sig", "kid": "unusable-kty", "k": "AQAB"}));
            keys.push(json!({"kty": "RSA", "use": "sig", "kid": "unusable-no-n", "e": "AQAB"}));
        }
        if quirks.duplicate_kids {
            // A different key under the active kid, listed first: a validator that takes the
            // first kid match without trying the others rejects genuine tokens.
            let impostor = self.impostor_key();
            let mut jwk = self.jwk_for(&impostor, "sig");
            jwk["kid"] = json!(active_rsa.kid());
            if jwk.get("x5t").is_some() {
                if let Some(x5t) = active_rsa.x5t() {
                    jwk["x5t"] = json!(x5t);
                }
            }
            keys.push(jwk);
        }
        for key in self.ring.published() {
            keys.push(self.jwk_for(&key, "sig"));
        }
        if quirks.extra_enc_key {
            let enc = SigningKey::derive(
                self.ring.seed(),
                &format!("{}/enc", self.ring.label_base()),
                KeyKind::Rsa,
            );
            keys.push(self.jwk_for(&enc, "enc"));
        }
        if quirks.jwks_extra_members {
            for k in &mut keys {
                k["x_unknown_member"] = json!("ignored");
            }
            return json!({ "keys": keys, "x_unknown_member": true });
        }
        json!({ "keys": keys })
    }

    fn jwk_for(&self, key: &SigningKey, usage: &str) -> Value {
        let mut jwk = Map::new();
        let public = key.public_jwk().as_object().cloned().unwrap_or_default();
        jwk.insert("kty".into(), public["kty"].clone());
        jwk.insert("use".into(), json!(usage));
        jwk.insert("kid".into(), json!(key.kid()));
        // Entra and Auth0 publish each key's self-signed certificate and its SHA-1 thumbprint.
        let with_cert =
            self.flavor.is_entra() || self.flavor == Flavor::Auth0 || self.quirks().x5t_only;
        if with_cert {
            if let Some(x5t) = key.x5t() {
                jwk.insert("x5t".into(), json!(x5t));
            }
        }
        for (k, v) in public {
            if k != "kty" && k != "kid" {
                jwk.insert(k, v);
            }
        }
        if with_cert {
            if let Some(x5c) = key.x5c() {
                jwk.insert("x5c".into(), json!([x5c]));
            }
        }
        if matches!(self.flavor, Flavor::Okta | Flavor::Auth0 | Flavor::Generic) && usage == "sig" {
            let alg = self.alg();
            let alg = if KeyKind::for_alg(&alg) == Some(key.kind()) {
                alg
            } else {
                default_alg(key.kind()).to_string()
            };
            jwk.insert("alg".into(), json!(alg));
        }
        if self.flavor.is_entra() {
            jwk.insert(
                "issuer".into(),
                json!(format!("{}/{{tenantid}}/v2.0", self.base)),
            );
        }
        Value::Object(jwk)
    }

    /// The header, claims and signer of a genuine token.
    pub(crate) fn parts(&self, opts: &MintOptions) -> TokenParts {
        let quirks = self.quirks();
        let alg = self.alg();
        let kind = KeyKind::for_alg(&alg).unwrap_or(KeyKind::Rsa);
        let key = self.ring.active(kind);
        let mut header = Map::new();
        let typ = match (&opts.kind, &quirks.typ) {
            (TokenKind::IdToken { .. }, _) => {
                Some("JWT".to_string()).filter(|_| self.flavor != Flavor::Okta)
            }
            (_, TypQuirk::Flavor) => self
                .flavor
                .default_typ(quirks.rfc9068_profile)
                .map(str::to_string),
            (_, TypQuirk::Absent) => None,
            (_, TypQuirk::Value(v)) => Some(v.clone()),
        };
        if self.flavor == Flavor::Okta {
            header.insert("kid".into(), json!(key.kid()));
            header.insert("alg".into(), json!(alg));
            if let Some(t) = typ {
                header.insert("typ".into(), json!(t));
            }
        } else {
            if let Some(t) = typ {
                header.insert("typ".into(), json!(t));
            }
            header.insert("alg".into(), json!(alg));
            if self.flavor.is_entra() {
                if let Some(x5t) = key.x5t() {
                    header.insert("x5t".into(), json!(x5t));
                }
            }
            header.insert("kid".into(), json!(key.kid()));
        }
        if quirks.omit_kid || quirks.x5t_only {
            header.remove("kid");
        }
        if quirks.x5t_only {
            header.insert("x5t".into(), json!(key.x5t().unwrap_or(key.kid())));
        }
        let client_id = opts
            .client_id
            .clone()
            .unwrap_or_else(|| self.clients[0].id.clone());
        let now = opts.issued_at.unwrap_or_else(now_unix) + quirks.clock_offset_seconds;
        let lifetime = quirks.lifetime_seconds.unwrap_or(match self.flavor {
            Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon => 4799,
            _ => 3600,
        });
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let roles = opts.roles.clone().unwrap_or_else(|| self.roles.clone());
        let audience = opts
            .audience
            .clone()
            .unwrap_or_else(|| self.audience.clone());
        let claims = flavor::claims(&ShapeInput {
            flavor: self.flavor,
            kind: &opts.kind,
            issuer: &self.layout.issuer,
            tenant_key: &self.key,
            audience: &audience,
            client_id: &client_id,
            now,
            lifetime,
            seq,
            roles: &roles,
            scopes: &opts.scopes,
            rfc9068_profile: quirks.rfc9068_profile,
            alg: &alg,
        });
        TokenParts {
            header,
            claims,
            signature: Signature::Key { key, alg },
        }
    }
}

fn ring_prefix(ring: &str) -> String {
    if ring == "entra" {
        String::new()
    } else {
        format!("/{ring}")
    }
}

fn default_alg(kind: KeyKind) -> &'static str {
    match kind {
        KeyKind::Rsa => "RS256",
        KeyKind::P256 => "ES256",
        KeyKind::P384 => "ES384",
        KeyKind::P521 => "ES512",
        KeyKind::Ed25519 => "EdDSA",
    }
}

fn default_client(flavor: Flavor, slug: &str, seed: u64) -> Client {
    let id = match flavor {
        Flavor::EntraV2 | Flavor::EntraV1 | Flavor::EntraCommon => {
            flavor::guid(&format!("client/{slug}"))
        }
        Flavor::Okta => format!("0oa{}", flavor::alnum(&format!("client/{slug}"), 17)),
        Flavor::Auth0 => flavor::alnum(&format!("client/{slug}"), 32),
        Flavor::Generic => format!("{slug}-client"),
    };
    Client {
        id,
        secret: flavor::alnum(&format!("secret/{slug}/{seed}"), 40),
    }
}

pub(crate) fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A running tenant. Cheap to clone; changes take effect on the next request.
#[derive(Clone, Debug)]
pub struct Tenant(pub(crate) Arc<TenantInner>);

impl Tenant {
    /// A tenant that no listener of this crate serves: its issuer and URLs start with
    /// `base_url` (for example a wiremock `MockServer`'s `uri()`, no trailing slash), and it
    /// mints genuine tokens, publishes a JWKS and a discovery document by library call
    /// ([`Tenant::jwks`], [`Tenant::discovery`]) for the caller to serve however it likes.
    /// Keys derive from `seed` as a [`crate::MockIdp`] with that seed would derive them.
    ///
    /// ```
    /// use mock_idp::{Flavor, Tenant, TenantSpec};
    /// let t = Tenant::detached("https://idp.test", 0, &TenantSpec::new("acme", Flavor::Auth0)).unwrap();
    /// assert_eq!(t.issuer(), "https://idp.test/acme/");
    /// assert_eq!(t.jwks_url(), "https://idp.test/acme/.well-known/jwks.json");
    /// ```
    pub fn detached(base_url: &str, seed: u64, spec: &TenantSpec) -> Result<Tenant, Error> {
        spec.check_slug()?;
        let base = base_url.trim_end_matches('/');
        // A ring and `common` document of its own: what a fresh listener would give it.
        let ring = Arc::new(KeyRing::new(&spec.ring_name(), seed, spec.pooled_keys));
        let common = (spec.flavor == Flavor::EntraCommon)
            .then(|| Arc::new(TenantInner::common_doc(base, ring.clone())));
        Ok(Tenant(Arc::new(TenantInner::new(spec, base, ring, common))))
    }
    /// The base URL of the listener serving this tenant (`http://127.0.0.1:PORT`, or
    /// `https://…` with TLS), without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.0.base
    }
    /// The path (on [`Tenant::base_url`]) of the discovery document.
    pub fn discovery_path(&self) -> &str {
        &self.0.layout.discovery
    }
    /// The path of the JWKS.
    pub fn jwks_path(&self) -> &str {
        &self.0.layout.jwks
    }
    /// The path of the RFC 8414 metadata document, where the flavor serves one.
    pub fn oauth_metadata_path(&self) -> Option<&str> {
        self.0.layout.oauth_metadata.as_deref()
    }
    /// The slug.
    pub fn slug(&self) -> &str {
        &self.0.slug
    }
    /// The flavor.
    pub fn flavor(&self) -> Flavor {
        self.0.flavor
    }
    /// The Entra tenant id (GUID), or the slug for other flavors.
    pub fn tenant_key(&self) -> &str {
        &self.0.key
    }
    /// `iss` of this tenant's tokens.
    pub fn issuer(&self) -> &str {
        &self.0.layout.issuer
    }
    /// The discovery URL a validator should be configured with (for `entra-common`, the
    /// shared multi-tenant document).
    pub fn discovery_url(&self) -> String {
        format!("{}{}", self.0.base, self.0.layout.discovery)
    }
    /// The RFC 8414 metadata URL, for the flavors that serve one (Okta, generic): the same
    /// document as [`Self::discovery_url`], faults included.
    pub fn oauth_metadata_url(&self) -> Option<String> {
        let path = self.0.layout.oauth_metadata.as_ref()?;
        Some(format!("{}{path}", self.0.base))
    }
    /// The JWKS URL (the one the discovery document names).
    pub fn jwks_url(&self) -> String {
        self.0.jwks_url()
    }
    /// The issuer the Entra directory of this tenant gives tokens of `version`'s shape:
    /// `entra-v1` the `sts.windows.net` form `{base}/sts/{tid}/` (trailing slash),
    /// `entra-v2` and `entra-common` `{base}/{tid}/v2.0`. `None` unless both this tenant's
    /// flavor and `version` are Entra flavors.
    ///
    /// ```
    /// use mock_idp::{Flavor, Tenant, TenantSpec};
    /// let t = Tenant::detached("https://login.test", 0, &TenantSpec::new("c", Flavor::EntraV2)).unwrap();
    /// let tid = t.tenant_key();
    /// assert_eq!(t.entra_issuer(Flavor::EntraV1).unwrap(), format!("https://login.test/sts/{tid}/"));
    /// assert_eq!(t.entra_issuer(Flavor::EntraV2).as_deref(), Some(t.issuer()));
    /// assert_eq!(t.entra_issuer(Flavor::Okta), None);
    /// ```
    pub fn entra_issuer(&self, version: Flavor) -> Option<String> {
        if !self.0.flavor.is_entra() || !version.is_entra() {
            return None;
        }
        let version = match version {
            Flavor::EntraV1 => Flavor::EntraV1,
            _ => Flavor::EntraV2,
        };
        Some(flavor::layout(version, &self.0.base, &self.0.key, "").issuer)
    }
    /// The token endpoint URL.
    pub fn token_url(&self) -> String {
        format!("{}{}", self.0.base, self.0.layout.token)
    }
    /// The audience of access tokens.
    pub fn audience(&self) -> &str {
        &self.0.audience
    }
    /// The registered clients; the first is the default.
    pub fn clients(&self) -> &[Client] {
        &self.0.clients
    }
    /// The claim that carries roles in this flavor's tokens.
    pub fn roles_claim(&self) -> &'static str {
        self.0.flavor.roles_claim()
    }

    /// Mints a genuine token.
    pub fn mint(&self, opts: &MintOptions) -> String {
        self.parts(opts).compact()
    }
    /// A genuine app-only access token with the tenant's roles.
    pub fn access_token(&self) -> String {
        self.mint(&MintOptions::default())
    }
    /// A genuine token taken apart, to edit before signing.
    pub fn parts(&self, opts: &MintOptions) -> TokenParts {
        self.0.parts(opts)
    }

    /// Current quirks.
    pub fn quirks(&self) -> Quirks {
        self.0.quirks()
    }
    /// Replaces the quirks.
    pub fn set_quirks(&self, quirks: Quirks) {
        *self.0.quirks.write().unwrap_or_else(|e| e.into_inner()) = quirks;
        self.0.bump_version();
    }
    /// Changes the quirks in place.
    pub fn update_quirks(&self, f: impl FnOnce(&mut Quirks)) {
        let mut q = self.quirks();
        f(&mut q);
        self.set_quirks(q);
    }
    /// Current faults.
    pub fn faults(&self) -> Faults {
        self.0.faults()
    }
    /// Replaces the faults; for `entra-common` tenants, the faults of the shared document.
    pub fn set_faults(&self, faults: Faults) {
        let target = self.0.common.as_ref().unwrap_or(&self.0);
        *target.faults.write().unwrap_or_else(|e| e.into_inner()) = faults;
        target.bump_version();
    }
    /// Clears every fault.
    pub fn clear_faults(&self) {
        self.set_faults(Faults::default());
    }

    /// Moves the key ring one step through a rotation and returns every key's status.
    /// The ring may be shared (Entra): every tenant on it sees the change.
    pub fn rotate(&self, step: RotationStep) -> Vec<(String, KeyStatus)> {
        let kind = KeyKind::for_alg(&self.0.alg()).unwrap_or(KeyKind::Rsa);
        self.0.ring.rotate(step, kind)
    }
    /// Every key of the ring with its status.
    pub fn key_statuses(&self) -> Vec<(String, KeyStatus)> {
        self.0.ring.statuses()
    }
    /// The key genuine tokens are signed with now.
    pub fn active_key(&self) -> Arc<SigningKey> {
        self.0
            .ring
            .active(KeyKind::for_alg(&self.0.alg()).unwrap_or(KeyKind::Rsa))
    }
    /// The active key of `kind` (made and published on first use).
    pub fn key(&self, kind: KeyKind) -> Arc<SigningKey> {
        self.0.ring.active(kind)
    }
    /// The most recent previous or retired key, if a rotation happened.
    pub fn previous_key(&self) -> Option<Arc<SigningKey>> {
        self.0
            .ring
            .non_active(KeyKind::for_alg(&self.0.alg()).unwrap_or(KeyKind::Rsa))
    }
    /// The impostor RSA key that the `duplicate_kids` and `jwks_duplicate` quirks publish first
    /// under the active `kid` (a genuine token is never signed with it).
    pub fn impostor_key(&self) -> Arc<SigningKey> {
        self.0.impostor_key()
    }
    /// The `use: enc` key the tenant publishes with the `extra_enc_key` quirk.
    pub fn enc_key(&self) -> Arc<SigningKey> {
        SigningKey::derive(
            self.0.ring.seed(),
            &format!("{}/enc", self.0.ring.label_base()),
            KeyKind::Rsa,
        )
    }
    /// The JWKS as served now (faults aside).
    pub fn jwks(&self) -> Value {
        self.0.common.as_ref().unwrap_or(&self.0).jwks_json()
    }
    /// The discovery document as served now (faults aside).
    pub fn discovery(&self) -> Value {
        self.0.common.as_ref().unwrap_or(&self.0).discovery_json()
    }
    /// Requests this tenant's endpoints received so far (for `entra-common`, the shared
    /// document's counts).
    pub fn traffic(&self) -> Traffic {
        self.0.counters.snapshot()
    }
    /// The asymmetric algorithms a tenant can be switched to.
    pub fn supported_algs() -> &'static [&'static str] {
        ASYMMETRIC_ALGS
    }
}
