//! The TOML schema of catalog files. Every table denies unknown keys.

use std::collections::BTreeMap;
use std::fmt;

use mock_idp::{Faults, Flavor, Quirks, RotationStep};
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// A catalog file: one RFC section.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseFile {
    /// Section key, e.g. `rfc8725/3.1`.
    pub section: String,
    /// Section title, e.g. `Perform algorithm verification`.
    pub title: String,
    /// Default requirement text for the cases.
    #[serde(default)]
    pub requirement: Option<String>,
    /// Default references.
    #[serde(default)]
    pub refs: Vec<String>,
    /// Default level.
    pub level: Level,
    /// Tags added to every case.
    #[serde(default)]
    pub tags: Vec<String>,
    /// The cases.
    #[serde(default)]
    pub case: Vec<CaseSpec>,
}

/// Requirement level (RFC 2119).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// MUST / MUST NOT / REQUIRED.
    Must,
    /// SHOULD / RECOMMENDED.
    Should,
    /// MAY / OPTIONAL.
    May,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// One `[[case]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseSpec {
    /// Stable name within the section.
    pub id: toml::Spanned<String>,
    /// One-line title.
    pub title: String,
    /// The requirement, when it differs from the section's.
    #[serde(default)]
    pub requirement: Option<String>,
    /// References (RFC sections, CVEs).
    #[serde(default)]
    pub refs: Vec<String>,
    /// Level, when it differs from the section's.
    #[serde(default)]
    pub level: Option<Level>,
    /// Tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Flavors to run against: `"all"`, one name, or a list (default `generic`).
    #[serde(default)]
    pub flavors: FlavorSel,
    /// Tenant settings.
    #[serde(default)]
    pub tenant: TenantSpec,
    /// The token.
    #[serde(default)]
    pub token: TokenSpec,
    /// The request.
    #[serde(default)]
    pub request: RequestSpec,
    /// Steps for stateful cases.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// The expectation.
    pub expect: ExpectSpec,
}

/// Which flavors a case runs against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlavorSel {
    /// Every flavor.
    All,
    /// These.
    List(Vec<Flavor>),
}

impl Default for FlavorSel {
    fn default() -> Self {
        FlavorSel::List(vec![Flavor::Generic])
    }
}

impl<'de> Deserialize<'de> for FlavorSel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = FlavorSel;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"all\", a flavor name, or a list of flavor names")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<FlavorSel, E> {
                if s == "all" {
                    return Ok(FlavorSel::All);
                }
                s.parse::<Flavor>()
                    .map(|f| FlavorSel::List(vec![f]))
                    .map_err(E::custom)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FlavorSel, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    v.push(s.parse::<Flavor>().map_err(de::Error::custom)?);
                }
                Ok(FlavorSel::List(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// Settings of the case's own tenant (written into the manifest and the mock IdP).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    /// `enabled` in the manifest (default true).
    #[serde(default)]
    pub disabled: bool,
    /// `require_access_token_type`.
    #[serde(default)]
    pub require_access_token_type: bool,
    /// `allowed_client_ids` (default: the tenant's client). Placeholders allowed.
    #[serde(default)]
    pub allowed_client_ids: Option<Vec<String>>,
    /// `valid_audiences` (default: the tenant's audience). Placeholders allowed.
    #[serde(default)]
    pub valid_audiences: Option<Vec<String>>,
    /// `valid_issuers` (default: the tenant's issuer for Entra v1 and common, else null).
    #[serde(default)]
    pub valid_issuers: Option<Vec<String>>,
    /// `claim_mappings` (default: the flavor's roles claim mapped to `roles`).
    #[serde(default)]
    pub claim_mappings: Option<BTreeMap<String, String>>,
    /// Roles on genuine tokens.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Starting quirks of the tenant at the mock IdP.
    #[serde(default)]
    pub quirks: Option<Quirks>,
    /// Starting faults.
    #[serde(default)]
    pub faults: Option<Faults>,
    /// Give the tenant a key ring of its own (implied by rotation steps and key quirks).
    #[serde(default)]
    pub own_keys: bool,
    /// The tenant's IdP serves plain `http://` (a listener of its own) while the run
    /// serves HTTPS and the manifest requires HTTPS metadata. Only meaningful with
    /// `--tls`: without it the case is skipped.
    #[serde(default)]
    pub metadata_over_http: bool,
    /// The manifest's `metadata_address` is the tenant's RFC 8414 metadata URL
    /// (`.well-known/oauth-authorization-server`) instead of its OpenID discovery URL;
    /// for the flavors that serve one (okta, generic).
    #[serde(default)]
    pub oauth_metadata: bool,
    /// `agree_header` in the manifest: a header that, when present, must name this tenant.
    #[serde(default)]
    pub agree_header: Option<String>,
    /// The tenant's discovery document, served over HTTPS, names a plain `http://`
    /// `jwks_uri` (a listener of its own serving the tenant's keys) while the manifest
    /// requires HTTPS metadata. Only meaningful with `--tls`: without it the case is skipped.
    #[serde(default)]
    pub jwks_over_http: bool,
    /// The case's `other` tenant is a second registration of this tenant's IdP (another API
    /// of the same customer): the same metadata address, issuer and keys, with an audience
    /// and client of its own.
    #[serde(default)]
    pub other_shares_metadata: bool,
}

/// How the token is made.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// `access` (app-only, default), `user`, or `id_token`.
    #[serde(default)]
    pub kind: TokenKindSpec,
    /// Whose genuine token to start from: `self` (default), `other` (another tenant of the
    /// same flavor with its own keys), `sibling` (another tenant sharing this one's keys),
    /// or `attacker`.
    #[serde(default)]
    pub from: Origin,
    /// Header members to set (placeholders allowed).
    #[serde(default)]
    pub header: toml::Table,
    /// Claims to set (placeholders allowed).
    #[serde(default)]
    pub claims: toml::Table,
    /// Header members to remove.
    #[serde(default)]
    pub remove_header: Vec<String>,
    /// Claims to remove.
    #[serde(default)]
    pub remove_claims: Vec<String>,
    /// Raw `[name, json]` members appended to the header JSON (duplicates survive).
    #[serde(default)]
    pub append_header: Vec<(String, String)>,
    /// Raw `[name, json]` members appended to the claims JSON.
    #[serde(default)]
    pub append_claims: Vec<(String, String)>,
    /// How it is signed (default `genuine`).
    #[serde(default)]
    pub sign: SignSpec,
    /// For `sign = "hmac"`: the secret (a public-key encoding name, `jwk-json` for the JWK as
    /// the JWKS publishes it, `text:...` for literal text, or `empty`; default `spki-pem`).
    #[serde(default)]
    pub hmac_secret: Option<String>,
    /// The algorithm actually used to sign (default: the header's `alg`).
    #[serde(default)]
    pub sign_alg: Option<String>,
    /// Damage to the finished signature: `flip-bit`, `strip`, `strip-with-dot`, `truncate`.
    #[serde(default)]
    pub damage: Option<String>,
    /// Non-canonical base64url: `[segment index, "padding" | "standard-alphabet" | "whitespace"]`.
    #[serde(default)]
    pub non_canonical: Option<(usize, String)>,
    /// The finished token's outer form: `extra-segment` (`h.p.s.e30`), `trailing-dot`
    /// (`h.p.s.`), `empty-header` (`.p.s`), `empty-payload` (`h..s`), `jws-json` (the
    /// flattened JWS JSON serialization) or `jws-json-polyglot` (that serialization led by a
    /// member named `h.p.`, CVE-2022-39227).
    #[serde(default)]
    pub shape: Option<String>,
    /// The payload is a genuine compact token of the origin tenant, as RFC 7519 section 5.2
    /// nests one JWT in another (set `cty` in `header` to say so).
    #[serde(default)]
    pub nested_token: bool,
    /// The claims' bytes in another Unicode encoding, with its byte order mark:
    /// `utf-16le` or `utf-16be` (genuine signatures only).
    #[serde(default)]
    pub claims_encoding: Option<String>,
    /// A literal token (placeholders allowed); everything else is ignored.
    #[serde(default)]
    pub raw: Option<String>,
    /// Pad the claims with a `pad` member until the token is at least this long.
    #[serde(default)]
    pub pad_to: Option<usize>,
    /// Replace the claims with an object nested this deep.
    #[serde(default)]
    pub nested_depth: Option<usize>,
    /// Mint the token once and send the same bytes in every request of the case (steps
    /// without a `token` of their own), as a client reusing its token does; by default each
    /// request gets a freshly minted token.
    #[serde(default)]
    pub once: bool,
}

/// The kind of genuine token to start from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenKindSpec {
    /// App-only access token.
    #[default]
    Access,
    /// Delegated access token.
    User,
    /// OpenID Connect id_token.
    IdToken,
}

/// Whose genuine token to start from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Origin {
    /// The case's own tenant.
    #[default]
    #[serde(rename = "self")]
    Own,
    /// Another configured tenant of the same flavor with different keys (Entra: same keys).
    Other,
    /// Another configured tenant of the same flavor sharing this tenant's keys.
    Sibling,
    /// The attacker host's tenant.
    Attacker,
}

/// How the signature segment is made.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SignSpec {
    /// The tenant's active key under its alg (or `sign_alg`).
    #[default]
    Genuine,
    /// No signature at all: the segment is empty.
    Empty,
    /// A junk segment.
    Junk,
    /// HMAC keyed with `hmac_secret`.
    Hmac,
    /// The attacker's key.
    Attacker,
    /// The "other" tenant's key.
    OtherTenant,
    /// ECDSA r = s = 0.
    EcdsaZero,
    /// ECDSA r = s = n.
    EcdsaOrder,
    /// A genuine ECDSA signature re-encoded as DER.
    EcdsaDer,
    /// The tenant's previous (rotated-out) key.
    Previous,
    /// The `use: enc` key the tenant publishes (quirk `extra_enc_key`).
    EncKey,
    /// The impostor key the quirks `duplicate_kids` and `jwks_duplicate` publish first under
    /// the active `kid`.
    Impostor,
}

/// How the request carries the token.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// `whoami` (default) or `admin`.
    #[serde(default = "default_route")]
    pub route: String,
    /// HTTP method (default GET; POST for the form-body method).
    #[serde(default)]
    pub method: Option<String>,
    /// Where the token goes.
    #[serde(default)]
    pub token_in: TokenIn,
    /// The scheme word (default `Bearer`).
    #[serde(default = "default_scheme")]
    pub scheme: String,
    /// What separates scheme and token (default one space).
    #[serde(default = "default_sep")]
    pub separator: String,
    /// A raw `Authorization` value; `{token}` is replaced by the token.
    #[serde(default)]
    pub authorization: Option<String>,
    /// Which tenant the request names.
    #[serde(default)]
    pub tenant: Placement,
    /// A second tenant named through every channel the run's tenant source does not
    /// use: a `Host` subdomain (header and path runs) and an `X-Tenant-Slug` header
    /// (path and subdomain runs). Only the configured channel may decide.
    #[serde(default)]
    pub decoy_tenant: Option<Placement>,
    /// The tenant sources under which the case means something (`header`, `path`,
    /// `subdomain`); in runs with another source it is skipped. Empty: every source.
    #[serde(default)]
    pub tenant_sources: Vec<String>,
    /// Extra headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

impl Default for RequestSpec {
    fn default() -> Self {
        RequestSpec {
            route: default_route(),
            method: None,
            token_in: TokenIn::default(),
            scheme: default_scheme(),
            separator: default_sep(),
            authorization: None,
            tenant: Placement::default(),
            decoy_tenant: None,
            tenant_sources: Vec::new(),
            headers: BTreeMap::new(),
        }
    }
}

fn default_route() -> String {
    "whoami".into()
}
fn default_scheme() -> String {
    "Bearer".into()
}
fn default_sep() -> String {
    " ".into()
}

/// Where the token goes (RFC 6750 section 2).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenIn {
    /// `Authorization` header (section 2.1).
    #[default]
    Header,
    /// `access_token` query parameter (section 2.3).
    Query,
    /// Form-encoded body (section 2.2).
    Body,
    /// Header and query.
    HeaderAndQuery,
    /// Header and body.
    HeaderAndBody,
    /// Two `Authorization` headers.
    TwoHeaders,
    /// No credentials at all.
    None,
}

/// Which tenant the request names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Placement {
    /// The case's own tenant.
    #[default]
    #[serde(rename = "self")]
    Own,
    /// The "other" tenant of the same flavor.
    Other,
    /// A slug no tenant has.
    Unknown,
    /// No tenant identifier at all.
    Missing,
    /// A malformed identifier.
    Malformed,
}

/// One step of a stateful case; exactly one action per step.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Send the case's request (with a freshly made token) once.
    #[serde(default)]
    pub send: bool,
    /// Send it this many times (at most 1000).
    #[serde(default)]
    pub repeat: Option<u32>,
    /// Send this many requests, each with a token whose `kid` nobody published.
    #[serde(default)]
    pub unknown_kids: Option<u32>,
    /// Rotate the tenant's keys.
    #[serde(default)]
    pub rotate: Option<RotationStep>,
    /// Set the tenant's faults.
    #[serde(default)]
    pub faults: Option<Faults>,
    /// Set the tenant's quirks.
    #[serde(default)]
    pub quirks: Option<Quirks>,
    /// Wait this long (at most 10 s).
    #[serde(default)]
    pub wait_ms: Option<u64>,
    /// Wait until the manifest's JWKS cache window has passed (`jwks_cache_seconds` + 300 ms).
    #[serde(default)]
    pub wait_for_cache_expiry: bool,
    /// Token override for this step's requests.
    #[serde(default)]
    pub token: Option<TokenSpec>,
    /// Which tenant this step's requests name (default: the case's `request.tenant`).
    #[serde(default)]
    pub tenant: Option<Placement>,
    /// Expectation for this step's requests (default: the case's).
    #[serde(default)]
    pub expect: Option<ExpectSpec>,
    /// Traffic expectation, counted from the start of the case.
    #[serde(default)]
    pub traffic: Option<TrafficExpect>,
}

/// Expected IdP traffic for the case's tenant.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct TrafficExpect {
    /// At most this many JWKS fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_max: Option<u64>,
    /// At least this many JWKS fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_min: Option<u64>,
    /// At most this many discovery fetches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_max: Option<u64>,
    /// At most this many requests of any kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_max: Option<u64>,
    /// The maxima are per JWKS cache window: a case that ran for three windows may fetch
    /// three times as often. Keeps caching cases exact on a slow or loaded machine.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub per_cache_window: bool,
}

/// A named outcome of one request (RFC 6750 section 3 as the contract's table has it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// 200.
    Ok,
    /// 401 with `Bearer error="invalid_token"`.
    InvalidToken,
    /// 400 with `Bearer error="invalid_request"`.
    InvalidRequest,
    /// 403 with `Bearer error="insufficient_scope"`.
    InsufficientScope,
    /// 401 with a `Bearer` challenge and no `error`.
    NoCredentials,
    /// Any 4xx answer, or 501 (for `acceptable`: a request the contract leaves undefined,
    /// such as a `POST`, may be refused with 400, 404, 405, 501 or another client error).
    Refused,
}

impl Outcome {
    /// Whether `status` counts as [`Outcome::Refused`].
    ///
    /// ```
    /// use byoid::catalog::Outcome;
    /// assert!(Outcome::Refused.covers(405) && Outcome::Refused.covers(501));
    /// assert!(!Outcome::Refused.covers(500) && !Outcome::Refused.covers(200));
    /// ```
    pub fn covers(self, status: u16) -> bool {
        self == Outcome::Refused && ((400..500).contains(&status) || status == 501)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Outcome::Ok => "200",
            Outcome::InvalidToken => "401 invalid_token",
            Outcome::InvalidRequest => "400 invalid_request",
            Outcome::InsufficientScope => "403 insufficient_scope",
            Outcome::NoCredentials => "401 Bearer (no error)",
            Outcome::Refused => "any 4xx or 501",
        })
    }
}

/// An expectation: a bare outcome name, or a table.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum ExpectSpec {
    /// `expect = "invalid-token"`.
    Outcome(Outcome),
    /// `expect = { outcome = "...", acceptable = [...], ... }`.
    Full(Expect),
}

impl ExpectSpec {
    /// The full form.
    pub fn full(&self) -> Expect {
        match self {
            ExpectSpec::Outcome(o) => Expect {
                outcome: *o,
                ..Expect::default()
            },
            ExpectSpec::Full(e) => e.clone(),
        }
    }
}

/// The full form of an expectation.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The outcome the specification asks for.
    pub outcome: Outcome,
    /// Other outcomes the specification allows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub acceptable: Vec<Outcome>,
    /// Normalized claims the 200 body must contain (`claims.<name>` equal, arrays contain).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<BTreeMap<String, toml::Value>>,
    /// IdP traffic of the case's tenant over the whole case.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<TrafficExpect>,
    /// Whether the attacker host may be contacted (default: never).
    #[serde(default)]
    pub attacker_may_be_contacted: bool,
    /// Every Bearer challenge must carry at least one auth-param (RFC 6750 section 3). Only
    /// the cases that name this sentence ask for it, so a bare `Bearer` fails once, not in
    /// every case that sends no credentials.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub challenge_auth_param: bool,
    /// Directives a 200 answer's header must carry, e.g. `{ cache-control = "private" }`
    /// (compared case-insensitively, as one of the header's comma-separated items).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers_when_ok: BTreeMap<String, String>,
}

impl Default for Expect {
    fn default() -> Self {
        Expect {
            outcome: Outcome::Ok,
            acceptable: Vec::new(),
            claims: None,
            traffic: None,
            attacker_may_be_contacted: false,
            challenge_auth_param: false,
            headers_when_ok: BTreeMap::new(),
        }
    }
}
